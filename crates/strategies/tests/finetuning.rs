//! The fine-tuning regularisers: L2-SP, BSS, LWF, DELTA and Co-Tuning against their PyTorch fixtures
//! (`fixtures/l2-sp/`, `fixtures/bss/`, `fixtures/lwf/`, `fixtures/delta/`, `fixtures/co-tuning/`), to 1e-10 in
//! double precision, and each one's defining behaviour on a small synthetic problem, which goes when its term is
//! weighted 0.

mod common;

use common::{fixture, max_diff, rng_lock, tensor, Quiet};
use shift_data::DigitBatcher;
use shift_models::{mlp::MlpNet, AdaptNet};
use shift_strategies::methods::bss::spectral_shrinkage;
use shift_strategies::methods::co_tuning::{relationship, soft_cross_entropy};
use shift_strategies::methods::delta::{attention_distance, channel_attention, loss_increase};
use shift_strategies::methods::lwf::distillation;
use shift_strategies::methods::{BuildContext, EpochStart, Lambda, StepInputs};
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
    for m in ["l2-sp", "bss", "lwf", "delta", "co-tuning"] {
        let name: MethodName = m.parse().unwrap();
        let d = name.data();
        assert!(
            d.regulariser && d.labelled_target && !d.unlabelled_target && !d.pretext,
            "{m}"
        );
        assert_eq!(d.labelled_whole.is_some(), ["delta", "co-tuning"].contains(&m), "{m}");
    }
}

fn ints(v: &serde_json::Value) -> Tensor {
    let v: Vec<i64> = v.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect();
    Tensor::from_slice(&v)
}

#[test]
fn delta_matches_the_fixture() {
    let fx = fixture("delta");
    let c = fx["channels"].as_i64().unwrap();
    let (f0, w, b, y) = (
        tensor(&fx["start"]),
        tensor(&fx["head_weight"]),
        tensor(&fx["head_bias"]),
        ints(&fx["y"]),
    );
    let increase = loss_increase(&f0, &y, c, |g| g.matmul(&w.tr()) + &b).unwrap();
    let d = max_diff(&increase, &tensor(&fx["increase"]));
    assert!(d < TOL, "the loss increases differ by {d}");
    for case in fx["cases"].as_array().unwrap() {
        let t = case["temperature"].as_f64().unwrap();
        let attention = channel_attention(&increase, t);
        let d = max_diff(&attention, &tensor(&case["attention"]));
        assert!(d < TOL, "T {t}: the attention differs by {d}");
        let f = tensor(&fx["moved"]).set_requires_grad(true);
        let loss = attention_distance(&f, &f0, &attention, c).unwrap();
        let want = case["loss"].as_f64().unwrap();
        assert!((value(&loss) - want).abs() < TOL, "T {t}: {} vs {want}", value(&loss));
        loss.backward();
        let d = max_diff(&f.grad(), &tensor(&case["grad_f"]));
        assert!(d < TOL, "T {t}: the gradient differs by {d}");
    }
}

#[test]
fn co_tuning_matches_the_fixture() {
    let fx = fixture("co-tuning");
    let r = relationship(&tensor(&fx["probabilities"]), &ints(&fx["labels"]), 3).unwrap();
    let d = max_diff(&r, &tensor(&fx["relationship"]));
    assert!(d < TOL, "the relationship differs by {d}");
    let z = tensor(&fx["logits"]).set_requires_grad(true);
    let loss = soft_cross_entropy(&z, &r.index_select(0, &ints(&fx["y"])));
    let want = fx["loss"].as_f64().unwrap();
    assert!((value(&loss) - want).abs() < TOL, "{} vs {want}", value(&loss));
    loss.backward();
    let d = max_diff(&z.grad(), &tensor(&fx["grad_logits"]));
    assert!(d < TOL, "the gradient differs by {d}");
}

#[test]
fn co_tuning_refuses_a_class_without_examples_and_labels_out_of_range() {
    let p = Tensor::full([4, 3], 1.0 / 3.0, (Kind::Double, CPU));
    let e = relationship(&p, &Tensor::from_slice(&[0i64, 2, 0, 2]), 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no example of class 1"), "{e}");
    let e = relationship(&p, &Tensor::from_slice(&[0i64, 1, 2, 3]), 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("0..=3") && e.contains("outside 0..3"), "{e}");
}

/// Without the labelled examples on the device (a task that streams them), DELTA and Co-Tuning refuse at the
/// schedule's start, each naming itself.
#[test]
fn delta_and_co_tuning_need_the_labelled_examples_whole() {
    for m in ["delta", "co-tuning"] {
        let net = MlpNet::new(CPU, 8, &[32], 2);
        let spec = spec(m, &[]);
        let mut method = spec.name.build(&BuildContext { net: &net, spec: &spec }).unwrap();
        let at = EpochStart {
            epoch: 0,
            step: 0,
            epochs: 1,
            steps_per_epoch: 1,
            target: None,
            labelled: None,
        };
        let e = method.on_epoch_start(&net, &at).unwrap_err().to_string();
        assert!(e.contains(m) && e.contains("streams them from the host"), "{m}: {e}");
    }
}

#[test]
fn co_tuning_refuses_a_classifier_a_second_head_cannot_copy() {
    // The batch-norm digit net's label predictor has batch norm and dropout between its layers.
    let net = shift_models::digit_bn::DigitBnNet::new(CPU);
    let spec = spec("co-tuning", &[]);
    let e = spec
        .name
        .build(&BuildContext { net: &net, spec: &spec })
        .unwrap_err()
        .to_string();
    assert!(e.contains("no counterpart") && e.contains("classifier."), "{e}");
}

/// `sum |F(x) - F0(x)|^2` on the held-out inputs: how far the features have moved from the start's.
fn feature_drift(s: &Adapt<MlpNet>, start: &MlpNet) -> f64 {
    let (_, _, held) = few_labels();
    no_grad(|| {
        value(
            &(s.network().features(&held, false) - start.features(&held, false))
                .square()
                .sum(Kind::Double),
        )
    })
}

/// DELTA's defining behaviour: its attention is read off the start on the labelled examples, and the features
/// of held-out inputs stay much nearer the start's than after plain fine-tuning; weighted 0, no nearer.
#[test]
fn delta_holds_the_feature_maps_near_the_start() {
    let _rng = rng_lock();
    let (plain, start) = fine_tuned("target-only", &[]);
    let (delta, _) = fine_tuned("delta", &[("trade_off_backbone", 1.0), ("trade_off_head", 0.0)]);
    let (off, _) = fine_tuned("delta", &[("trade_off_backbone", 0.0), ("trade_off_head", 0.0)]);
    let (d_plain, d_delta, d_off) = (
        feature_drift(&plain, &start),
        feature_drift(&delta, &start),
        feature_drift(&off, &start),
    );
    eprintln!("feature drift: DELTA {d_delta:.4}, plain {d_plain:.4}");
    assert!(d_delta < 0.5 * d_plain, "DELTA {d_delta} against plain {d_plain}");
    assert!(
        (d_off - d_plain).abs() < 1e-9 * d_plain,
        "weighted 0: {d_off} against plain {d_plain}"
    );
    let (x, y, _) = few_labels();
    let want = no_grad(|| {
        let f = start.features(&x, false);
        channel_attention(&loss_increase(&f, &y, 32, |g| start.classify(g, false)).unwrap(), 5.0)
    });
    let kept = &delta.network().var_store().variables()["discriminator.delta.attention"];
    let d = max_diff(kept, &want);
    assert!(d < 1e-6, "the kept attention differs from the start's by {d}");
    assert!(
        value(&want.max()) > 1.5 * value(&want.min()),
        "the attention is uniform: {want}"
    );
}

/// `KL(p(y_s | y_t = y) || softmax(C_s(F(x))))` on the labelled examples, a mean: how far the source head is
/// from the relationship the run keeps.
fn source_head_gap(s: &Adapt<MlpNet>) -> f64 {
    let (x, y, _) = few_labels();
    let vars = s.network().var_store().variables();
    no_grad(|| {
        let r = vars["discriminator.co_tuning.relationship"].index_select(0, &y);
        let f = s.network().features(&x, false);
        let z = f.matmul(&vars["discriminator.source_head.0.weight"].tr()) + &vars["discriminator.source_head.0.bias"];
        value(&(soft_cross_entropy(&z, &r) - soft_cross_entropy(&r.log(), &r)))
    })
}

/// Co-Tuning's defining behaviour: the relationship is the start's source predictions averaged per class, and
/// the source head ends far nearer it than where it started; weighted 0, the head stays at its start and the
/// network trains exactly as plain fine-tuning.
#[test]
fn co_tuning_trains_the_source_head_towards_the_relationship() {
    let _rng = rng_lock();
    let (plain, start) = fine_tuned("target-only", &[]);
    let (co, _) = fine_tuned("co-tuning", &[]);
    let (off, _) = fine_tuned("co-tuning", &[("trade_off", 0.0)]);
    let (x, y, _) = few_labels();
    let want = no_grad(|| {
        relationship(
            &start
                .classify(&start.features(&x, false), false)
                .softmax(-1, Kind::Float),
            &y,
            2,
        )
    })
    .unwrap();
    let kept = &co.network().var_store().variables()["discriminator.co_tuning.relationship"];
    let d = max_diff(kept, &want);
    assert!(d < 1e-6, "the kept relationship differs from the start's by {d}");
    let (g_co, g_off) = (source_head_gap(&co), source_head_gap(&off));
    eprintln!("source head's KL from the relationship: Co-Tuning {g_co:.4}, at its start {g_off:.4}");
    assert!(
        g_co < 0.5 * g_off,
        "Co-Tuning {g_co} against its head at the start {g_off}"
    );
    let d_plain = distance(plain.network(), &start);
    let d_off = distance(off.network(), &start);
    assert!(
        (d_off - d_plain).abs() < 1e-9 * d_plain,
        "weighted 0: {d_off} against plain {d_plain}"
    );
}
