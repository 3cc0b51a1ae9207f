//! The fine-tuning regularisers: L2-SP, BSS and LWF against their PyTorch fixtures (`fixtures/l2-sp/`,
//! `fixtures/bss/`, `fixtures/lwf/`), to 1e-10 in double precision, and each one's defining behaviour on a small
//! synthetic problem, which goes when its term is weighted 0.

mod common;

use common::{fixture, max_diff, rng_lock, tensor, Quiet};
use shift_data::DigitBatcher;
use shift_models::{mlp::MlpNet, AdaptNet};
use shift_strategies::methods::bss::spectral_shrinkage;
use shift_strategies::methods::lwf::distillation;
use shift_strategies::methods::{BuildContext, Lambda, StepInputs};
use shift_strategies::{
    backbone_groups, fit, Adapt, DigitTask, FitEnd, MethodName, MethodSpec, Position, Strategy, TrainConfig, Update,
};
use shift_tensor::tch::{no_grad, Device, Kind, Tensor};

const CPU: Device = Device::Cpu;
const TOL: f64 = 1e-10;

fn value(t: &Tensor) -> f64 {
    t.double_value(&[])
}

fn spec(method: &str, set: &[(&str, f64)]) -> MethodSpec {
    let set = set.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    MethodSpec::new(method.parse().unwrap(), &set).unwrap()
}

/// Every variable of `net` set to the fixture's values of that name.
fn set_vars(net: &dyn AdaptNet, values: &serde_json::Value) {
    let vars = net.var_store().variables();
    no_grad(|| {
        for (name, v) in values.as_object().unwrap() {
            let mut var = vars[name].shallow_clone();
            var.copy_(&tensor(v));
        }
    });
}

#[test]
fn l2_sp_matches_the_fixture() {
    let _rng = rng_lock();
    let fx = fixture("l2-sp");
    let mut net = MlpNet::new(CPU, 3, &[4], 3);
    // The start, exact in single precision; the method copies it; then everything in double.
    set_vars(&net, &fx["start"]);
    let spec = spec(
        "l2-sp",
        &[
            ("alpha", fx["alpha"].as_f64().unwrap()),
            ("beta", fx["beta"].as_f64().unwrap()),
        ],
    );
    let method = spec.name.build(&BuildContext { net: &net, spec: &spec }).unwrap();
    net.var_store_mut().double();
    set_vars(&net, &fx["moved"]);
    let x = tensor(&fx["x"]);
    let y = Tensor::from_slice(
        &fx["y"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect::<Vec<_>>(),
    );
    let batch = StepInputs {
        labelled: (&x, &y),
        target: None,
        domain: None,
        target_index: None,
        domains: 1,
    };
    let terms = method.loss(&net, &batch, Lambda::Host(0.5)).unwrap();
    let want = fx["loss"].as_f64().unwrap();
    assert!(
        (value(&terms.loss) - want).abs() < TOL,
        "{} vs {want}",
        value(&terms.loss)
    );
    let penalty = fx["penalty"].as_f64().unwrap();
    assert!(
        (value(&terms.metrics[3]) - penalty).abs() < 1e-6 * penalty.max(1.0),
        "the reported penalty"
    );
    terms.loss.backward();
    let vars = net.var_store().variables();
    for (name, g) in fx["grad"].as_object().unwrap() {
        let d = max_diff(&vars[name].grad(), &tensor(g));
        assert!(d < TOL, "{name}: the gradient differs by {d}");
    }
}

#[test]
fn bss_matches_the_fixture() {
    let fx = fixture("bss");
    for case in fx["cases"].as_array().unwrap() {
        let k = case["k"].as_i64().unwrap();
        let f = tensor(&fx["f"]).set_requires_grad(true);
        let loss = spectral_shrinkage(&f, k).unwrap();
        let want = case["loss"].as_f64().unwrap();
        assert!((value(&loss) - want).abs() < TOL, "k {k}: {} vs {want}", value(&loss));
        loss.backward();
        let d = max_diff(&f.grad(), &tensor(&case["grad_f"]));
        assert!(d < TOL, "k {k}: the gradient differs by {d}");
    }
    let e = spectral_shrinkage(&Tensor::ones([2, 5], (Kind::Double, CPU)), 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 smallest singular values") && e.contains("[2, 5]"), "{e}");
}

#[test]
fn lwf_distillation_matches_the_fixture() {
    let fx = fixture("lwf");
    let old = tensor(&fx["old"]);
    for case in fx["cases"].as_array().unwrap() {
        let t = case["temperature"].as_f64().unwrap();
        let new = tensor(&fx["new"]).set_requires_grad(true);
        let loss = distillation(&new, &old, t);
        let want = case["loss"].as_f64().unwrap();
        assert!((value(&loss) - want).abs() < TOL, "T {t}: {} vs {want}", value(&loss));
        loss.backward();
        let d = max_diff(&new.grad(), &tensor(&case["grad_new"]));
        assert!(d < TOL, "T {t}: the gradient differs by {d}");
    }
    // Identical outputs: nothing to distil.
    assert!(value(&distillation(&old, &old, 3.0)).abs() < TOL);
}

/// 24 labelled examples of a two-class problem in 8 dimensions (the class in the first), on which an MLP fits
/// every label and moves far from its start; and 256 held-out inputs of the same distribution.
fn few_labels() -> (Tensor, Tensor, Tensor) {
    shift_tensor::tch::manual_seed(21);
    let x = Tensor::randn([24, 8], (Kind::Float, CPU));
    let y = x.narrow(1, 0, 1).squeeze_dim(1).gt(0.0).to_kind(Kind::Int64);
    let held = Tensor::randn([256, 8], (Kind::Float, CPU));
    (x, y, held)
}

/// The net from the seed-5 start after 300 steps of `method` (`set` over its defaults) on the few labels, and
/// the start itself.
fn fine_tuned(method: &str, set: &[(&str, f64)]) -> (Adapt<MlpNet>, MlpNet) {
    let (x, y, _) = few_labels();
    let spec = spec(method, set);
    shift_tensor::seed_everything(5);
    let net = MlpNet::new(CPU, 8, &[32, 32], 2);
    shift_tensor::seed_everything(5);
    let start = MlpNet::new(CPU, 8, &[32, 32], 2);
    let m = spec.name.build(&BuildContext { net: &net, spec: &spec }).unwrap();
    let mut s = Adapt::new(net, m, &backbone_groups(1.0), Update::sgd(0.9, 0.0)).unwrap();
    let task = DigitTask {
        labelled: DigitBatcher::new(x.shallow_clone(), y.shallow_clone()),
        unlabelled: None,
        test: (x, y),
        validation: None,
    };
    let cfg = TrainConfig {
        epochs: 1,
        batch: 24,
        steps_per_epoch: Some(300),
        lr: shift_strategies::LrSchedule::Constant { lr: 0.1 },
        ..Default::default()
    };
    let end = fit(&mut s, &task, &cfg, 5, Position::default(), &mut Quiet).unwrap();
    assert!(matches!(end, FitEnd::Finished { .. }));
    (s, start)
}

/// `sum |w - w0|^2` over the backbone's variables (features and label predictor).
fn distance(a: &dyn AdaptNet, b: &dyn AdaptNet) -> f64 {
    let (va, vb) = (a.var_store().variables(), b.var_store().variables());
    vb.iter()
        .map(|(k, w0)| value(&(&va[k] - w0).square().sum(Kind::Double)))
        .sum()
}

/// L2-SP's defining behaviour: the weights end nearer their start than plain fine-tuning leaves them, and with
/// both weights 0 they end exactly where plain fine-tuning does.
#[test]
fn l2_sp_holds_the_weights_near_their_start() {
    let _rng = rng_lock();
    let (plain, start) = fine_tuned("target-only", &[]);
    let (sp, _) = fine_tuned("l2-sp", &[("alpha", 0.1), ("beta", 0.1)]);
    let (off, _) = fine_tuned("l2-sp", &[("alpha", 0.0), ("beta", 0.0)]);
    let (d_plain, d_sp, d_off) = (
        distance(plain.network(), &start),
        distance(sp.network(), &start),
        distance(off.network(), &start),
    );
    assert!(d_sp < 0.5 * d_plain, "L2-SP {d_sp} against plain {d_plain}");
    assert!(
        (d_off - d_plain).abs() < 1e-9 * d_plain,
        "weighted 0: {d_off} against plain {d_plain}"
    );
}

/// The sum of the 8 smallest squared singular values of the labelled batch's features (24 x 32).
fn smallest_singular_value(s: &Adapt<MlpNet>) -> f64 {
    let (x, _, _) = few_labels();
    no_grad(|| value(&spectral_shrinkage(&s.network().features(&x, false), 8).unwrap()))
}

/// BSS's defining behaviour: the batch features' smallest singular values shrink well below plain fine-tuning's,
/// and with the term weighted 0 it stays where plain fine-tuning leaves it.
#[test]
fn bss_shrinks_the_smallest_singular_values() {
    let _rng = rng_lock();
    let (plain, _) = fine_tuned("target-only", &[]);
    let (bss, _) = fine_tuned("bss", &[("trade_off", 1.0), ("k", 8.0)]);
    let (off, _) = fine_tuned("bss", &[("trade_off", 0.0), ("k", 8.0)]);
    let (s_plain, s_bss, s_off) = (
        smallest_singular_value(&plain),
        smallest_singular_value(&bss),
        smallest_singular_value(&off),
    );
    assert!(s_bss < 0.5 * s_plain, "BSS {s_bss} against plain {s_plain}");
    assert!(
        (s_off - s_plain).abs() < 1e-6 * s_plain,
        "weighted 0: {s_off} against plain {s_plain}"
    );
}

/// The distillation term on held-out inputs: how far the old head on the new features has moved from the start.
fn forgetting(s: &Adapt<MlpNet>, start: &MlpNet) -> f64 {
    let (_, _, held) = few_labels();
    no_grad(|| {
        let old = start.classify(&start.features(&held, false), false);
        // The old head (the start's label predictor) read off the fine-tuned features.
        let new = start.classify(&s.network().features(&held, false), false);
        value(&distillation(&new, &old, 3.0))
    })
}

/// LWF's defining behaviour: the old head's outputs on held-out inputs, read off the fine-tuned features, stay
/// much nearer the old network's than after plain fine-tuning; weighted 0, no nearer.
#[test]
fn lwf_keeps_the_old_heads_outputs() {
    let _rng = rng_lock();
    let (plain, start) = fine_tuned("target-only", &[]);
    let (lwf, _) = fine_tuned("lwf", &[]);
    let (off, _) = fine_tuned("lwf", &[("trade_off", 0.0)]);
    let (f_plain, f_lwf, f_off) = (
        forgetting(&plain, &start),
        forgetting(&lwf, &start),
        forgetting(&off, &start),
    );
    assert!(f_lwf < 0.5 * f_plain, "LWF {f_lwf} against plain {f_plain}");
    assert!(
        (f_off - f_plain).abs() < 1e-6 * f_plain.max(1e-12),
        "weighted 0: {f_off} against plain {f_plain}"
    );
}

#[test]
fn the_regularisers_are_registered_as_such() {
    for m in ["l2-sp", "bss", "lwf"] {
        let name: MethodName = m.parse().unwrap();
        let d = name.data();
        assert!(
            d.regulariser && d.labelled_target && !d.unlabelled_target && !d.pretext,
            "{m}"
        );
    }
}
