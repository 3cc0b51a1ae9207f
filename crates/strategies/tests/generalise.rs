//! The domain generalisation methods' defining behaviours, each on a small synthetic multi-domain problem and
//! each against the same method with its term switched off (lambda 0, or its weight 0): IRM and VREx keep to the
//! invariant feature where a spurious one flips in the test domain; GroupDRO weighs up the harder domain; CORAL,
//! MMD, DANN and CDANN bring two shifted domains' features together.

use shift_models::mlp::MlpNet;
use shift_models::AdaptNet;
use shift_strategies::methods::domain_alignment::Distance;
use shift_strategies::methods::EpochStart;
use shift_strategies::synthetic::{ShiftedBlobs, SpuriousDomains};
use shift_strategies::{backbone_groups, Adapt, MethodSpec, StepBatch, Strategy, Update};
use shift_tensor::tch::{Device, Kind, Tensor};
use std::collections::BTreeMap;

const CPU: Device = Device::Cpu;

/// libtorch's generator is global and each test seeds it: the tests of this file take turns.
fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// `method` with `params` trained for `steps` of Adam at `lr` on `domains` (each step `batch` rows of every
/// domain, drawn with replacement) at the run's `lambda`; the trained strategy.
fn train(
    method: &str,
    params: &[(&str, f64)],
    domains: &[(Tensor, Tensor)],
    hidden: &[i64],
    steps: i64,
    lr: f64,
    lambda: f64,
) -> Adapt<MlpNet> {
    shift_tensor::seed_everything(0);
    let set: BTreeMap<String, f64> = params.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    let spec = MethodSpec::new(method.parse().unwrap(), &set)
        .unwrap()
        .with_domains(domains.len() as i64);
    let net = MlpNet::new(CPU, 2, hidden, 2);
    let mut s = Adapt::build(net, spec, &backbone_groups(1.0), Update::adam(0.0)).unwrap();
    s.on_epoch_start(&EpochStart {
        epoch: 0,
        step: 0,
        epochs: 1,
        steps_per_epoch: steps,
        target: None,
        labelled: None,
    })
    .unwrap();
    let batch = 256;
    for _ in 0..steps {
        let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = domains
            .iter()
            .map(|(x, y)| {
                let rows = Tensor::randint(x.size()[0], [batch], (Kind::Int64, CPU));
                (x.index_select(0, &rows), y.index_select(0, &rows))
            })
            .unzip();
        let (x, y) = (Tensor::cat(&xs, 0), Tensor::cat(&ys, 0));
        let b = StepBatch {
            labelled: (&x, &y),
            unlabelled: None,
            unlabelled_index: None,
            domains: domains.len() as i64,
        };
        s.train_step(&b, lr, lambda).unwrap();
    }
    s
}

fn accuracy(s: &Adapt<MlpNet>, (x, y): &(Tensor, Tensor)) -> f64 {
    s.accuracy(x, y).unwrap()
}

/// Training domains where the colour agrees with the label 90% and 80% of the time, a test domain where it does
/// 10% of the time: the invariant feature is worth 75% everywhere.
fn spurious() -> (Vec<(Tensor, Tensor)>, (Tensor, Tensor)) {
    shift_tensor::seed_everything(7);
    let mut d = SpuriousDomains::new(4000, &[0.9, 0.8, 0.1], CPU).domains;
    let test = d.pop().unwrap();
    (d, test)
}

#[test]
fn erm_leans_on_the_spurious_feature_and_irm_and_vrex_do_not() {
    let _rng = rng_lock();
    let (train_domains, test) = spurious();
    let erm = accuracy(&train("erm", &[], &train_domains, &[], 600, 1e-2, 1.0), &test);
    assert!(erm < 0.4, "ERM follows the colour: {erm}");
    for (method, params) in [
        ("irm", [("irm_lambda", 1e3), ("irm_penalty_anneal_iters", 100.0)]),
        ("vrex", [("vrex_lambda", 1e3), ("vrex_penalty_anneal_iters", 100.0)]),
    ] {
        let on = accuracy(&train(method, &params, &train_domains, &[], 600, 1e-2, 1.0), &test);
        let off = accuracy(&train(method, &params, &train_domains, &[], 600, 1e-2, 0.0), &test);
        eprintln!("{method}: test {on:.3} (penalty off {off:.3}, ERM {erm:.3})");
        assert!(on > 0.65, "{method} keeps to the invariant feature: {on}");
        assert!(on > erm + 0.25, "{method} {on} against ERM {erm}");
        assert!(off < 0.4, "{method} without its penalty is ERM: {off}");
    }
}

#[test]
fn group_dro_weighs_up_the_domain_with_the_higher_risk() {
    let _rng = rng_lock();
    // The colour settles domain 0 (it agrees 100% of the time) and says nothing in domain 1: its risk stays
    // higher.
    shift_tensor::seed_everything(5);
    let domains = SpuriousDomains::new(4000, &[1.0, 0.5], CPU).domains;
    let q = |eta: f64| {
        let s = train("groupdro", &[("groupdro_eta", eta)], &domains, &[], 300, 1e-2, 1.0);
        let q = s.net.var_store().variables()["discriminator.groupdro.q"].shallow_clone();
        (q.double_value(&[0]), q.double_value(&[1]))
    };
    let (easy, hard) = q(1.0);
    assert!(hard > 0.9 && (easy + hard - 1.0).abs() < 1e-5, "q = ({easy}, {hard})");
    // With eta 0 the weights stay uniform: ERM.
    assert_eq!(q(0.0), (0.5, 0.5));
}

/// The MMD between the features of two domains' rows (the first 1,000 of each) under `s`'s network.
fn feature_gap(s: &Adapt<MlpNet>, domains: &[(Tensor, Tensor)]) -> f64 {
    let f: Vec<Tensor> = domains
        .iter()
        .map(|(x, _)| s.net.features(&x.narrow(0, 0, 1000), false))
        .collect();
    Distance::Mmd.pairwise(&f).double_value(&[])
}

#[test]
fn coral_mmd_dann_and_cdann_bring_the_domains_features_together() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(3);
    let blobs = ShiftedBlobs::new(4000, 2.0, CPU);
    let domains = [blobs.source, blobs.target];
    // The matching penalties close most of the gap; the adversarial game, stepped in turn, less of it.
    for (method, factor) in [("dg-coral", 0.5), ("mmd", 0.5), ("dg-dann", 0.7), ("cdann", 0.7)] {
        let on = train(method, &[], &domains, &[8], 400, 1e-2, 1.0);
        let off = train(method, &[], &domains, &[8], 400, 1e-2, 0.0);
        let (gap_on, gap_off) = (feature_gap(&on, &domains), feature_gap(&off, &domains));
        eprintln!("{method}: feature MMD {gap_on:.4} (term off {gap_off:.4})");
        assert!(
            gap_on < factor * gap_off,
            "{method}: {gap_on} against {gap_off} with the term off"
        );
        // The classes are still told apart in both domains.
        for d in &domains {
            assert!(accuracy(&on, d) > 0.85, "{method}: accuracy {}", accuracy(&on, d));
        }
    }
}

#[test]
fn mixup_predicts_the_mixed_labels_between_domains() {
    let _rng = rng_lock();
    shift_tensor::seed_everything(4);
    let blobs = ShiftedBlobs::new(4000, 2.0, CPU);
    let domains = [blobs.source, blobs.target];
    // Midpoints of a class-0 row of the first domain and a class-1 row of the second: their label is half each.
    let pick = |(x, y): &(Tensor, Tensor), class: i64| {
        x.index_select(0, &y.eq(class).nonzero().squeeze_dim(1))
            .narrow(0, 0, 1000)
    };
    let mid = (pick(&domains[0], 0) + pick(&domains[1], 1)) * 0.5;
    let confidence = |alpha: f64| {
        let s = train("mixup", &[("mixup_alpha", alpha)], &domains, &[16], 400, 1e-2, 1.0);
        let p = s
            .net
            .classify(&s.net.features(&mid, false), false)
            .softmax(-1, Kind::Float);
        let c = p.max_dim(1, false).0.mean(Kind::Float).double_value(&[]);
        (c, accuracy(&s, &domains[0]))
    };
    let (mixed, acc) = confidence(1.0);
    // alpha near 0 draws weights near 0 or 1: barely mixed, as ERM.
    let (unmixed, _) = confidence(0.01);
    eprintln!("mixup: midpoint confidence {mixed:.3} (alpha 0.01: {unmixed:.3}), accuracy {acc:.3}");
    assert!(mixed < 0.75 && mixed < unmixed - 0.1, "{mixed} against {unmixed}");
    assert!(acc > 0.85, "{acc}");
}
