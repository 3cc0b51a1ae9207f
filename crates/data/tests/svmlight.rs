//! The svmlight reader against scikit-learn's (`fixtures/svmlight/svmlight_fixture.py`), and on the Amazon reviews
//! files of the DANN paper where the data mirror is beside the checkout.

use shift_data::svmlight::{read, SvmlightSpec};
use std::path::Path;

fn binary(width: usize) -> SvmlightSpec {
    SvmlightSpec {
        width,
        zero_based: true,
        labels: vec![-1.0, 1.0],
    }
}

#[test]
fn the_reader_gives_scikit_learns_dense_matrix_and_labels() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/svmlight");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(here.join("expected.json")).unwrap()).unwrap();
    let width = expected["width"].as_u64().unwrap() as usize;
    let s = read(&here.join("sample.svmlight"), &binary(width)).unwrap();
    let dense: Vec<f32> = expected["dense"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32))
        .collect();
    assert_eq!(s.dense(), dense);
    let classes: Vec<i64> = expected["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| i64::from(v.as_f64().unwrap() > 0.0))
        .collect();
    assert_eq!(s.classes, classes);
    let (x, y) = s.to_tensors(shift_tensor::tch::Device::Cpu);
    assert_eq!((x.size(), y.size()), (vec![5, 6], vec![5]));
    assert_eq!(x.double_value(&[4, 1]), 12.0);
}

#[test]
fn the_amazon_reviews_files_read_as_published() {
    let mirror = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/amazon_reviews");
    if !mirror.is_dir() {
        assert!(
            std::env::var_os("SHIFT_REQUIRE_MIRROR").is_none(),
            "SHIFT_REQUIRE_MIRROR is set but {} is absent",
            mirror.display()
        );
        eprintln!("skipped: no data mirror at {}", mirror.display());
        return;
    }
    for (domain, test) in [("books", 4465), ("dvd", 3586), ("electronics", 5681), ("kitchen", 5945)] {
        let train = read(&mirror.join(format!("{domain}_train.svmlight")), &binary(5000)).unwrap();
        assert_eq!(train.len(), 2000, "{domain}");
        assert_eq!(
            train.classes.iter().sum::<i64>(),
            1000,
            "{domain}: 1,000 positive reviews"
        );
        let t = read(&mirror.join(format!("{domain}_test.svmlight")), &binary(5000)).unwrap();
        assert_eq!(t.len(), test, "{domain}");
    }
    let books = read(&mirror.join("books_train.svmlight"), &binary(5000)).unwrap();
    assert_eq!(&books.rows[0][..2], &[(0, 6.0), (1, 8.0)]);
    assert_eq!(books.classes[0], 1);
}
