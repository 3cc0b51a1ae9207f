//! SGD exactness, freezing, DANN steps, reproducibility, resume after interruption, and config validation.

mod common;

use common::{max_diff, tensor};
use shift_data::DigitBatcher;
use shift_models::{digit::DigitNet, AdaptNet, Part};
use shift_strategies::{
    backbone_groups, fit, freeze_outside, Adapt, DigitTask, EpochRecord, FitEnd, GroupSpec, MethodName, Observer,
    Optimiser, Position, Strategy, StrategyError, TrainConfig, Update,
};
use shift_tensor::tch::{nn, Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

/// libtorch's generator is process-wide and tests run on parallel threads: tests that draw from it take turns.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn sgd_equals_per_tensor_momentum_sgd_exactly() {
    let _rng = rng_lock();
    let vs = nn::VarStore::new(CPU);
    let w = vs
        .root()
        .sub("features")
        .var("w", &[4, 3], nn::Init::Randn { mean: 0.0, stdev: 1.0 });
    let b = vs.root().sub("classifier").var("b", &[3], nn::Init::Const(0.5));
    let mut sgd = Optimiser::new(
        &vs,
        &[
            GroupSpec {
                part: Part::Features,
                prefix: None,
                lr_mult: 0.1,
            },
            GroupSpec::part(Part::Classifier),
        ],
        Update::sgd(0.9, 1e-3),
    )
    .unwrap();
    let (mut w_ref, mut b_ref) = (w.detach().copy(), b.detach().copy());
    let (mut mw, mut mb) = (w_ref.zeros_like(), b_ref.zeros_like());
    let x = Tensor::randn([5, 4], (Kind::Float, CPU));
    for step in 0..4 {
        let lr = 0.01 / (1.0 + step as f64);
        sgd.zero_grad();
        x.matmul(&w).g_add(&b).tanh().sum(Kind::Float).backward();
        let (gw, gb) = (w.grad().copy(), b.grad().copy());
        sgd.step(lr);
        // PyTorch's SGD: d_p = g + wd * p; buf = momentum * buf + d_p; p -= lr * buf.
        mw = &mw * 0.9 + (&gw + &w_ref * 1e-3);
        mb = &mb * 0.9 + (&gb + &b_ref * 1e-3);
        w_ref = &w_ref + &mw * (-lr * 0.1);
        b_ref = &b_ref + &mb * (-lr);
        assert!(w.equal(&w_ref) && b.equal(&b_ref), "step {step}");
    }
    assert_eq!(sgd.names(), vec!["classifier.b", "features.w"]);
    let e = Optimiser::new(&vs, &[], Update::sgd(1.5, 0.0)).unwrap_err().to_string();
    assert!(e.contains("`momentum`"), "{e}");
}

/// Adam against torch.optim.Adam (the fixture's script beside its JSON): five steps, two groups at 1x and 0.1x,
/// weight decay, a changing learning rate, with PyTorch's betas and with ADDA's (0.5, 0.999); the optimiser is
/// rebuilt from its saved state after two steps, so the per-parameter step counts (Adam's bias correction) must
/// survive a checkpoint.
#[test]
fn adam_matches_torch_optim_adam_across_a_checkpoint() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/adam/adam_update.json");
    let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let runs = [
        ("steps", Update::adam(1e-3)),
        ("steps_beta1_0.5", Update::adam_with_betas((0.5, 0.999), 1e-3)),
    ];
    for (key, update) in runs {
        let mut vs = nn::VarStore::new(CPU);
        let mut w = vs.root().sub("features").var("w", &[4, 3], nn::Init::Const(0.0));
        let mut b = vs.root().sub("classifier").var("b", &[3], nn::Init::Const(0.0));
        vs.double();
        shift_tensor::tch::no_grad(|| {
            w.copy_(&tensor(&fx["w"]));
            b.copy_(&tensor(&fx["b"]));
        });
        let groups = [
            GroupSpec {
                part: Part::Features,
                prefix: None,
                lr_mult: 0.1,
            },
            GroupSpec::part(Part::Classifier),
        ];
        let x = tensor(&fx["x"]);
        let mut opt = Optimiser::new(&vs, &groups, update).unwrap();
        let steps = fx[key].as_array().unwrap();
        assert_eq!(steps.len(), 5, "{key}");
        for (step, want) in steps.iter().enumerate() {
            if step == 2 {
                let saved: Vec<(String, Tensor)> =
                    opt.state("opt.").iter().map(|(n, t)| (n.clone(), t.copy())).collect();
                assert!(saved
                    .iter()
                    .any(|(n, v)| n == "opt.features.w.step" && v.int64_value(&[]) == 2));
                opt = Optimiser::new(&vs, &groups, update).unwrap();
                opt.load_state("opt.", &saved).unwrap();
            }
            opt.zero_grad();
            x.matmul(&w).g_add(&b).tanh().sum(Kind::Double).backward();
            opt.step(want["lr"].as_f64().unwrap());
            let dw = max_diff(&w, &tensor(&want["w"]));
            let db = max_diff(&b, &tensor(&want["b"]));
            assert!(
                dw < 1e-12 && db < 1e-12,
                "{key} step {step}: w differs by {dw}, b by {db}"
            );
        }
        // A checkpoint without Adam's moments (an SGD run's) is refused, naming what is missing.
        let sgd = Optimiser::new(&vs, &groups, Update::sgd(0.9, 0.0)).unwrap();
        let e = opt.load_state("opt.", &sgd.state("opt.")).unwrap_err().to_string();
        assert!(e.contains("opt.classifier.b.exp_avg_sq"), "{e}");
    }
    // The betas are checked, naming the one out of range.
    for (betas, field) in [((1.0, 0.999), "`beta1`"), ((0.5, -0.1), "`beta2`")] {
        let vs = nn::VarStore::new(CPU);
        let e = Optimiser::new(&vs, &[], Update::adam_with_betas(betas, 0.0))
            .unwrap_err()
            .to_string();
        assert!(e.contains(field) && e.contains("[0, 1)"), "{e}");
    }
}

fn synthetic_task(n: i64, seed: u64) -> DigitTask {
    synthetic_shaped(&[n, 3, 32, 32], seed)
}

/// `shape[0]` random inputs of the rest of `shape` with random labels of ten classes.
fn synthetic_shaped(shape: &[i64], seed: u64) -> DigitTask {
    shift_tensor::seed_everything(seed);
    let xs = Tensor::randn(shape, (Kind::Float, CPU));
    let ys = Tensor::randint(10, [shape[0]], (Kind::Int64, CPU));
    // The "target": the same digits shifted and scaled.
    let xt = &xs * 0.5 + 0.3;
    DigitTask {
        labelled: DigitBatcher::new(xs, ys.shallow_clone()),
        unlabelled: Some(DigitBatcher::new(xt.shallow_clone(), ys.shallow_clone())),
        test: (xt, ys),
        validation: None,
    }
}

/// `n` random 28 x 28 images with random classes of two tasks (`[n, 2]`), for the multitask weightings.
fn synthetic_tasks(n: i64, seed: u64) -> DigitTask {
    shift_tensor::seed_everything(seed);
    let xs = Tensor::randn([n, 1, 28, 28], (Kind::Float, CPU));
    let ys = Tensor::randint(10, [n, 2], (Kind::Int64, CPU));
    DigitTask {
        labelled: DigitBatcher::new(xs.shallow_clone(), ys.shallow_clone()),
        unlabelled: None,
        test: (xs, ys),
        validation: None,
    }
}

fn strategy(method: MethodName) -> Adapt<DigitNet> {
    Adapt::build(DigitNet::new(CPU), method, &backbone_groups(1.0), Update::sgd(0.9, 0.0)).unwrap()
}

/// A method that needs a latent sequence (daae) trains the audio CNN on 40 bands over 16 frames; the others the
/// digit network on images. Both tasks are 128 examples, the target the source scaled and shifted.
fn any_strategy(method: MethodName) -> Box<dyn Strategy> {
    let groups = backbone_groups(1.0);
    let update = Update::sgd(0.9, 0.0);
    if method.data().sequence.is_some() {
        let net = shift_models::audio_cnn::AudioCnn::new(CPU, 10);
        Box::new(Adapt::build(net, method, &groups, update).unwrap())
    } else if method.data().tasks {
        let net = shift_models::multi_lenet::MultiLeNet::new(CPU, 2);
        Box::new(Adapt::build(net, method, &groups, update).unwrap())
    } else {
        Box::new(strategy(method))
    }
}

fn task_for(method: MethodName) -> DigitTask {
    if method.data().tasks {
        return synthetic_tasks(128, 100);
    }
    match method.data().sequence {
        Some(_) => synthetic_shaped(&[128, 40, 16], 100),
        None => synthetic_task(128, 100),
    }
}

fn method(name: &str) -> MethodName {
    name.parse().unwrap()
}

fn tiny_config() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch: 16,
        steps_per_epoch: Some(6),
        ..Default::default()
    }
}

/// Records epochs; optionally asks to stop after a given number of steps and keeps the state it was given.
#[derive(Default)]
struct Recorder {
    stop_after: Option<usize>,
    steps: usize,
    records: Vec<EpochRecord>,
    saved: Option<(Position, Vec<(String, Tensor)>)>,
}

impl Observer for Recorder {
    fn on_step(&mut self, _at: Position, _steps: i64) {
        self.steps += 1;
    }
    fn stop_requested(&self) -> bool {
        self.stop_after.is_some_and(|n| self.steps >= n)
    }
    fn on_epoch(&mut self, r: &EpochRecord, _next: Position, _s: &dyn Strategy) -> Result<(), StrategyError> {
        self.records.push(r.clone());
        Ok(())
    }
    fn on_interrupt(&mut self, next: Position, s: &dyn Strategy) -> Result<(), StrategyError> {
        let state = s.state().into_iter().map(|(n, t)| (n, t.copy())).collect();
        self.saved = Some((next, state));
        Ok(())
    }
}

fn run(method: MethodName, seed: u64) -> Vec<EpochRecord> {
    let task = task_for(method);
    shift_tensor::seed_everything(seed);
    let mut s = any_strategy(method);
    let mut rec = Recorder::default();
    let end = fit(s.as_mut(), &task, &tiny_config(), seed, Position::default(), &mut rec).unwrap();
    assert!(matches!(end, FitEnd::Finished { .. }));
    rec.records
}

#[test]
fn every_method_trains_and_the_same_seed_gives_identical_numbers() {
    let _rng = rng_lock();
    for method in MethodName::all() {
        let a = run(method, 3);
        let b = run(method, 3);
        assert_eq!(a.len(), 2);
        assert_eq!(a, b, "{method}: same seed must reproduce exactly");
        assert!(
            a.iter().all(|r| r.train.class_loss.is_finite() && r.train.steps == 6),
            "{method}"
        );
        // A transfer term is reported where a method has one (BNM's is a negated norm, below 0). A method over
        // several domains runs here on the one source as one domain, where its term may vanish (VREx's
        // variance of one risk, ERM's none): its terms are proved on domains in tests/generalise.rs.
        // A multitask weighting's term is a weight (single-task's the task trained, 0 here): proved in
        // tests/multitask.rs.
        if !method.data().domains && !method.data().tasks {
            let adapts = !["source-only", "target-only"].contains(&method.as_str());
            assert_eq!(a[1].train.domain_loss != 0.0, adapts, "{method}: {:?}", a[1]);
        }
    }
    assert_ne!(
        run(MethodName::DANN, 3),
        run(MethodName::DANN, 4),
        "another seed, other numbers"
    );
}

/// The target here is the source scaled and shifted: a discriminator that learns separates the two, one that
/// does not (a discriminator whose updates were dropped, or one scored on the wrong labels) stays near half.
#[test]
fn the_alternating_discriminator_learns_to_tell_the_domains_apart() {
    let _rng = rng_lock();
    let task = synthetic_task(128, 100);
    shift_tensor::seed_everything(5);
    let mut s = strategy(method("dann-alt"));
    let cfg = TrainConfig {
        epochs: 2,
        batch: 16,
        steps_per_epoch: Some(40),
        lr: shift_strategies::LrSchedule::Constant { lr: 0.02 },
        // No reversal weight: the features do not fight back, so only the discriminator's own updates count.
        lambda: shift_grl::LambdaSchedule::Constant { value: 0.0 },
        ..Default::default()
    };
    let mut rec = Recorder::default();
    fit(&mut s, &task, &cfg, 5, Position::default(), &mut rec).unwrap();
    let last = rec.records.last().unwrap().train;
    assert!(last.domain_acc > 0.9, "domain accuracy {:?}", last);
    assert!(last.domain_loss < 0.5, "domain loss {:?}", last);
}

#[test]
fn interrupted_and_resumed_run_equals_the_uninterrupted_one() {
    let _rng = rng_lock();
    // Every method: their state (optimisers, fixed maps, DAAN's factor and its epoch's sums) resumes exactly.
    for method in MethodName::all() {
        let whole = run(method, 9);
        let task = task_for(method);
        shift_tensor::seed_everything(9);
        let mut first = any_strategy(method);
        let mut rec = Recorder {
            stop_after: Some(8),
            ..Default::default()
        };
        let end = fit(first.as_mut(), &task, &tiny_config(), 9, Position::default(), &mut rec).unwrap();
        assert_eq!(
            end,
            FitEnd::Interrupted {
                next: Position { epoch: 1, step: 2 }
            }
        );
        let (next, state) = rec.saved.take().unwrap();
        // A fresh process: new network, state loaded from the "checkpoint".
        shift_tensor::seed_everything(12345);
        let mut resumed = any_strategy(method);
        resumed.load_state(&state).unwrap();
        let mut rec2 = Recorder::default();
        fit(resumed.as_mut(), &task, &tiny_config(), 9, next, &mut rec2).unwrap();
        let combined: Vec<_> = rec.records.into_iter().chain(rec2.records).collect();
        assert_eq!(combined, whole, "{method}");
    }
}

#[test]
fn frozen_parts_stay_bit_identical_and_have_no_optimiser_state() {
    let _rng = rng_lock();
    let task = synthetic_task(64, 1);
    let net = DigitNet::new(CPU);
    let keep = [GroupSpec::part(Part::Classifier)];
    let frozen = freeze_outside(net.var_store(), &keep);
    assert!(frozen.contains(&"features.c1.weight".to_string()) && !frozen.iter().any(|n| n.starts_with("classifier")));
    let before: Vec<(String, Tensor)> = net
        .var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.copy()))
        .collect();
    let mut s = Adapt::build(net, MethodName::SOURCE_ONLY, &keep, Update::sgd(0.9, 0.0)).unwrap();
    let names = s.optimiser_names();
    assert_eq!(names.len(), 1);
    assert!(names[0].1.iter().all(|n| n.starts_with("classifier.")), "{names:?}");
    assert!(s.state().iter().all(|(n, _)| !n.starts_with("opt.main.features")));
    fit(
        &mut s,
        &task,
        &TrainConfig {
            epochs: 1,
            batch: 16,
            ..Default::default()
        },
        0,
        Position::default(),
        &mut Recorder::default(),
    )
    .unwrap();
    let after = s.net.var_store().variables();
    let mut changed = 0;
    for (name, old) in before {
        let same = after[&name].equal(&old);
        if name.starts_with("classifier.") {
            changed += usize::from(!same);
        } else {
            assert!(same, "{name} is frozen but changed");
        }
    }
    assert!(changed > 0, "the trained part must change");
}

#[test]
fn the_head_policy_on_the_resnet_keeps_weights_and_batch_norm_statistics_bit_identical() {
    use shift_models::office::OfficeNet;
    use shift_strategies::finetune::Policy;
    let _rng = rng_lock();
    shift_tensor::seed_everything(3);
    let mut net = OfficeNet::new(CPU, 31);
    let groups = Policy::Head.groups();
    freeze_outside(net.var_store(), &groups);
    net.hold_features_in_eval(!Policy::Head.trains_features());
    let snapshot = |net: &OfficeNet| -> Vec<(String, Tensor)> {
        let mut v: Vec<_> = net
            .var_store()
            .variables()
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let before = snapshot(&net);
    assert!(before
        .iter()
        .any(|(n, _)| n == "features.backbone.layer4.2.bn3.running_var"));
    let mut s = Adapt::build(net, MethodName::TARGET_ONLY, &groups, Update::sgd(0.9, 5e-4)).unwrap();
    let names = s.optimiser_names();
    assert!(names[0].1.iter().all(|n| n.starts_with("classifier.")), "{names:?}");
    for _ in 0..3 {
        let x = Tensor::randn([4, 3, 64, 64], (Kind::Float, CPU));
        let y = Tensor::from_slice(&[0i64, 5, 17, 30]);
        let batch = shift_strategies::StepBatch {
            domains: 1,
            labelled: (&x, &y),
            unlabelled: None,
            unlabelled_index: None,
        };
        s.train_step(&batch, 0.01, 0.0).unwrap();
    }
    let mut changed = 0;
    for ((name, old), (_, new)) in before.iter().zip(snapshot(&s.net)) {
        if name.starts_with("classifier.") {
            changed += usize::from(!new.equal(old));
        } else {
            assert!(
                new.equal(old),
                "{name} belongs to the frozen feature extractor but changed"
            );
        }
    }
    assert_eq!(changed, 2, "the head's weight and bias train");
}

#[test]
fn invalid_settings_are_refused_naming_the_field() {
    let _rng = rng_lock();
    let cases: [(TrainConfig, &str); 5] = [
        (
            TrainConfig {
                batch: 0,
                ..Default::default()
            },
            "`train.batch`",
        ),
        (
            TrainConfig {
                epochs: 0,
                ..Default::default()
            },
            "`train.epochs`",
        ),
        (
            TrainConfig {
                lr: shift_strategies::LrSchedule::Paper {
                    lr0: -0.01,
                    alpha: 10.0,
                    beta: 0.75,
                },
                ..Default::default()
            },
            "`train.lr.lr0`",
        ),
        (
            TrainConfig {
                momentum: 1.0,
                ..Default::default()
            },
            "`train.momentum`",
        ),
        (
            TrainConfig {
                lambda: shift_grl::LambdaSchedule::Constant { value: -1.0 },
                ..Default::default()
            },
            "`train.lambda`",
        ),
    ];
    for (cfg, field) in cases {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
    let e = "dab".parse::<MethodName>().unwrap_err().to_string();
    assert!(e.contains("`methods`") && e.contains("unknown method `dab`"), "{e}");
    let task = synthetic_task(8, 0);
    let e = fit(
        &mut strategy(MethodName::SOURCE_ONLY),
        &task,
        &TrainConfig {
            batch: 16,
            ..Default::default()
        },
        0,
        Position::default(),
        &mut Recorder::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("larger than the 8 labelled examples"), "{e}");
}

#[test]
fn a_diverging_run_stops_with_a_clear_message() {
    let _rng = rng_lock();
    let task = synthetic_task(64, 2);
    let mut s = strategy(MethodName::SOURCE_ONLY);
    let cfg = TrainConfig {
        epochs: 1,
        batch: 16,
        lr: shift_strategies::LrSchedule::Constant { lr: 1e30 },
        ..Default::default()
    };
    let e = fit(&mut s, &task, &cfg, 0, Position::default(), &mut Recorder::default()).unwrap_err();
    assert!(matches!(e, StrategyError::NonFinite { epoch: 1, .. }), "{e}");
    assert!(e.to_string().contains("last good checkpoint is kept"));
}

#[test]
fn balanced_subsets_take_k_per_class_and_depend_on_the_seed() {
    use shift_strategies::finetune::{balanced_subset, Policy};
    let labels: Vec<u8> = (0..200).map(|i| (i % 10) as u8).collect();
    let a = balanced_subset(&labels, 10, Some(3), 1);
    assert_eq!(a.len(), 30);
    for c in 0..10u8 {
        assert_eq!(a.iter().filter(|&&i| labels[i] == c).count(), 3);
    }
    assert_eq!(a, balanced_subset(&labels, 10, Some(3), 1));
    assert_ne!(a, balanced_subset(&labels, 10, Some(3), 2));
    assert_eq!(balanced_subset(&labels, 10, None, 1).len(), 200);
    assert_eq!(
        balanced_subset(&labels, 10, Some(50), 1).len(),
        200,
        "a class with fewer gives all it has"
    );
    assert_eq!(Policy::Head.groups().len(), 1);
    assert_eq!("discriminative".parse::<Policy>().unwrap().groups()[0].lr_mult, 0.1);
}
