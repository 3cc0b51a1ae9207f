//! DomainBed's MNIST data sets: the rotation against torchvision's PIL rotate
//! (`fixtures/domainbed/pil_rotate.py`), the construction against DomainBed's own code in PyTorch
//! (`fixtures/domainbed/construction.py`), and each domain's statistics.

use shift_data::domainbed::pil_rotate;
use std::path::Path;

/// libtorch's generator is global: the tests that seed it take turns.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/domainbed")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn bytes(v: &serde_json::Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect()
}

#[test]
fn rotation_is_pil_s_bilinear_rotate_to_the_byte() {
    let fx = fixture("pil_rotate.json");
    let angles: Vec<f64> = fx["angles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_f64().unwrap())
        .collect();
    for (i, img) in fx["images"].as_array().unwrap().iter().enumerate() {
        let img = bytes(img);
        for (j, &angle) in angles.iter().enumerate() {
            let want = bytes(&fx["rotated"][i][j]);
            let got = pil_rotate(&img, 28, 28, angle);
            let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "image {i}, {angle} degrees: {differ} pixels differ");
        }
    }
}

/// The fixture's stand-in for MNIST, by the same libtorch operations: `n` images from `offset`.
fn stand_in(n: i64, offset: i64) -> shift_data::digits::Digits {
    use shift_tensor::tch::{Device, Kind, Tensor};
    let i = Tensor::arange(n * 28 * 28, (Kind::Double, Device::Cpu)) + offset as f64;
    let v = (((&i * 0.37).sin() * (&i * 0.011).sin() + 1.0) * 127.5)
        .floor()
        .to_kind(Kind::Uint8);
    shift_data::digits::Digits {
        images: Vec::<u8>::try_from(v).unwrap(),
        labels: (0..n).map(|k| ((k + offset) % 10) as u8).collect(),
        height: 28,
        width: 28,
        channels: 1,
    }
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(row) => row.iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>(),
            None => vec![x.as_f64().unwrap()],
        })
        .collect()
}

fn longs(t: &shift_tensor::tch::Tensor) -> Vec<f64> {
    Vec::<i64>::try_from(t).unwrap().into_iter().map(|v| v as f64).collect()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-3, "{what}: off by {worst}");
}

#[test]
fn the_domains_are_domainbed_s_for_the_same_seed() {
    use shift_tensor::tch::Kind;
    let _rng = rng_lock();
    let fx = fixture("construction.json");
    let (train, test) = (stand_in(120, 0), stand_in(30, 7));
    let colored = shift_data::domainbed::colored_mnist(&train, &test, 0).unwrap();
    assert_eq!(
        colored.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["+90%", "+80%", "-90%"]
    );
    for (d, want) in colored.iter().zip(fx["colored"].as_array().unwrap()) {
        assert_eq!(d.x.size(), [50, 2, 28, 28]);
        assert_eq!(longs(&d.y), floats(&want["y"]), "{} labels", d.name);
        let sums = Vec::<f64>::try_from(d.x.sum_dim_intlist(&[2i64, 3][..], false, Kind::Double).view([-1])).unwrap();
        assert_close(&sums, &floats(&want["channel_sums"]), &d.name);
    }
    let rotated = shift_data::domainbed::rotated_mnist(&train, &test, 0).unwrap();
    assert_eq!(rotated.len(), 6);
    for (d, want) in rotated.iter().zip(fx["rotated"].as_array().unwrap()) {
        assert_eq!(d.x.size(), [25, 1, 28, 28]);
        assert_eq!(longs(&d.y), floats(&want["y"]), "{} degrees: classes", d.name);
        let sums = Vec::<f64>::try_from(d.x.sum_dim_intlist(&[1i64, 2, 3][..], false, Kind::Double)).unwrap();
        assert_close(&sums, &floats(&want["sums"]), &d.name);
    }
}

/// MNIST from the mirror in ../shared/datasets (present in CI), or None (said) where it is absent.
fn mirror_mnist() -> Option<shift_data::mnist::Mnist> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/mnist");
    if !folder.join(shift_data::mnist::TRAIN_IMAGES).is_file() {
        assert!(
            std::env::var_os("SHIFT_REQUIRE_MIRROR").is_none(),
            "SHIFT_REQUIRE_MIRROR is set but {} has no MNIST",
            folder.display()
        );
        eprintln!("skipped: no MNIST at {}", folder.display());
        return None;
    }
    Some(shift_data::mnist::Mnist::from_files(&folder).unwrap())
}

fn mean(t: &shift_tensor::tch::Tensor) -> f64 {
    t.to_kind(shift_tensor::tch::Kind::Double)
        .mean(shift_tensor::tch::Kind::Double)
        .double_value(&[])
}

#[test]
fn colored_mnist_s_classes_are_balanced_and_its_colour_agrees_with_the_label_at_each_domain_s_rate() {
    let Some(mnist) = mirror_mnist() else { return };
    let _rng = rng_lock();
    let domains = shift_data::domainbed::colored_mnist(&mnist.train, &mnist.test, 0).unwrap();
    let sizes: Vec<i64> = domains.iter().map(|d| d.y.size()[0]).collect();
    assert_eq!(sizes, [23_334, 23_333, 23_333]);
    for (d, agree) in domains.iter().zip([0.9, 0.8, 0.1]) {
        // Exactly one channel lit per image: its colour.
        let lit =
            d.x.sum_dim_intlist(&[2i64, 3][..], false, shift_tensor::tch::Kind::Float)
                .gt(0.0);
        assert_eq!(
            lit.sum_dim_intlist(1, false, shift_tensor::tch::Kind::Int64)
                .eq(1)
                .all()
                .int64_value(&[]),
            1
        );
        let colour = lit.select(1, 1).to_kind(shift_tensor::tch::Kind::Int64);
        let agreement = mean(&colour.eq_tensor(&d.y));
        assert!(
            (agreement - agree).abs() < 0.01,
            "{}: colour agrees {agreement}",
            d.name
        );
        assert!((mean(&d.y) - 0.5).abs() < 0.01, "{}: class 1 {}", d.name, mean(&d.y));
        let (lo, hi) = (d.x.min().double_value(&[]), d.x.max().double_value(&[]));
        assert!(lo == 0.0 && hi == 1.0, "{}: values in [{lo}, {hi}]", d.name);
    }
}

#[test]
fn rotated_mnist_s_domains_are_the_digits_turned_by_their_angles() {
    use shift_tensor::tch::{Kind, Tensor};
    let Some(mnist) = mirror_mnist() else { return };
    let _rng = rng_lock();
    let domains = shift_data::domainbed::rotated_mnist(&mnist.train, &mnist.test, 0).unwrap();
    let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["0", "15", "30", "45", "60", "75"]);
    // Each domain's mean digit, turned back by its angle, is domain 0's mean digit; unturned it is not.
    let mean_image = |x: &Tensor| -> Vec<u8> {
        let m = x.mean_dim(0, false, Kind::Float).view([-1]) * 255.0;
        Vec::<f32>::try_from(m)
            .unwrap()
            .into_iter()
            .map(|v| v.round() as u8)
            .collect()
    };
    let corr = |a: &[u8], b: &[u8]| {
        let (a, b) = (
            Tensor::from_slice(a).to_kind(Kind::Double),
            Tensor::from_slice(b).to_kind(Kind::Double),
        );
        let (a, b) = (&a - a.mean(Kind::Double), &b - b.mean(Kind::Double));
        ((&a * &b).sum(Kind::Double) / (a.square().sum(Kind::Double) * b.square().sum(Kind::Double)).sqrt())
            .double_value(&[])
    };
    let sizes: Vec<i64> = domains.iter().map(|d| d.y.size()[0]).collect();
    assert_eq!(sizes, [11_667, 11_667, 11_667, 11_667, 11_666, 11_666]);
    let upright = mean_image(&domains[0].x);
    for d in &domains[1..] {
        let counts = d.y.bincount::<Tensor>(None, 10).to_kind(Kind::Double) / d.y.size()[0] as f64;
        assert!(
            counts.min().double_value(&[]) > 0.08 && counts.max().double_value(&[]) < 0.12,
            "{}",
            d.name
        );
        let angle: f64 = d.name.parse().unwrap();
        let turned = mean_image(&d.x);
        let back = shift_data::domainbed::pil_rotate(&turned, 28, 28, -angle);
        let (aligned, unaligned) = (corr(&back, &upright), corr(&turned, &upright));
        assert!(
            aligned > 0.97 && aligned > unaligned + 0.01,
            "{} degrees: {aligned} against {unaligned}",
            d.name
        );
    }
}
