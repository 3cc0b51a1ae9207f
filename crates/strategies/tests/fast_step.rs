//! The capture-ready step computes the same function as the eager one: on the CPU (where it runs eagerly, over
//! the flat optimiser with device-side lr and lambda) losses agree step for step, and checkpoints move between
//! the two.

use shift_data::DigitBatcher;
use shift_grl::LambdaSchedule;
use shift_models::{digit::DigitNet, AdaptNet};
use shift_strategies::methods::BuildContext;
use shift_strategies::{backbone_groups, Adapt, FastAdapt, LrSchedule, MethodName, StepBatch, Strategy, Update};
use shift_tensor::tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn eager(method: MethodName, seed: u64) -> Adapt<DigitNet> {
    shift_tensor::seed_everything(seed);
    Adapt::build(DigitNet::new(CPU), method, &backbone_groups(1.0), Update::sgd(0.9, 0.0)).unwrap()
}

fn fast_or_refusal(method: MethodName, seed: u64) -> Result<FastAdapt<DigitNet>, String> {
    shift_tensor::seed_everything(seed);
    let net = DigitNet::new(CPU);
    let spec = method.into();
    let m = method
        .build(&BuildContext { net: &net, spec: &spec })
        .map_err(|e| e.to_string())?;
    FastAdapt::new(net, m, &backbone_groups(1.0), Update::sgd(0.9, 0.0)).map_err(|e| e.to_string())
}

fn fast(method: MethodName, seed: u64) -> FastAdapt<DigitNet> {
    fast_or_refusal(method, seed).unwrap()
}

struct Data {
    xs: DigitBatcher,
    xt: DigitBatcher,
    order: Tensor,
}

fn data() -> Data {
    shift_tensor::seed_everything(100);
    let xs = Tensor::randn([256, 3, 32, 32], (Kind::Float, CPU));
    let ys = Tensor::randint(10, [256], (Kind::Int64, CPU));
    let xt = &xs * 0.5 + 0.3;
    Data {
        xs: DigitBatcher::new(xs, ys.shallow_clone()),
        xt: DigitBatcher::new(xt, ys),
        order: Tensor::randperm(256, (Kind::Int64, CPU)),
    }
}

/// Runs `steps` steps from step `from` of a 40-step paper schedule; returns (class loss, domain loss) per step.
fn steps(s: &mut dyn Strategy, d: &Data, from: i64, steps: i64) -> Vec<(f64, f64)> {
    let (lr, lambda) = (LrSchedule::default(), LambdaSchedule::default());
    (from..from + steps)
        .map(|i| {
            let p = i as f64 / 40.0;
            let (x, y) = d.xs.batch(&d.order, i % 8, 32);
            let (t, _) = d.xt.batch(&d.order, (i + 3) % 8, 32);
            let batch = StepBatch {
                domains: 1,
                labelled: (&x, &y),
                unlabelled: Some(&t),
                unlabelled_index: None,
            };
            s.train_step(&batch, lr.at(p), lambda.value(p)).unwrap();
            let m = s.take_metrics().unwrap();
            (m.class_loss, m.domain_loss)
        })
        .collect()
}

fn assert_close(method: MethodName, a: &[(f64, f64)], b: &[(f64, f64)]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        for (u, v) in [(x.0, y.0), (x.1, y.1)] {
            assert!(
                (u - v).abs() <= 1e-5 * u.abs().max(v.abs()),
                "{method} step {i}: {u} vs {v}"
            );
        }
    }
}

#[test]
fn fast_and_eager_steps_agree_step_for_step() {
    let _rng = rng_lock();
    let d = data();
    // Every method the fast step captures (on the digit net; daae's sequence backbone is not the fast step's).
    let capturable: Vec<MethodName> = MethodName::all()
        // The fast step runs the digit task, whose one source the methods over several domains do not take, nor its
        // one class per image the multitask weightings.
        .filter(|&m| {
            m.data().sequence.is_none()
                && !m.data().domains
                && !m.data().tasks
                && shift_strategies::fast::check_capturable(m).is_ok()
        })
        .collect();
    assert!(capturable.len() >= 12, "{capturable:?}");
    for method in capturable {
        let (mut a, mut b) = (eager(method, 5), fast(method, 5));
        assert!(b.take_note().unwrap().contains("runs eagerly on Cpu"));
        assert!(!b.is_captured());
        // Each run's steps from the same generator state (MDD's head draws dropout masks).
        shift_tensor::seed_everything(6);
        let la = steps(&mut a, &d, 0, 25);
        shift_tensor::seed_everything(6);
        let lb = steps(&mut b, &d, 0, 25);
        assert_close(method, &la, &lb);
        if !["source-only", "target-only"].contains(&method.as_str()) {
            assert!(la.iter().any(|l| l.1 != 0.0), "{method}: the transfer term is measured");
        }
        // And the weights end the same.
        for (name, t) in a.net.var_store().variables() {
            let other = b.net.var_store().variables().remove(&name).unwrap();
            let diff = (&t - &other).abs().max().double_value(&[]);
            assert!(diff <= 1e-5, "{method}: `{name}` differs by {diff}");
        }
    }
}

#[test]
fn checkpoints_move_between_the_eager_and_the_fast_step() {
    let _rng = rng_lock();
    let d = data();
    let mut a = eager(MethodName::DANN, 9);
    let _ = steps(&mut a, &d, 0, 10);
    let saved: Vec<(String, Tensor)> = a.state().into_iter().map(|(n, t)| (n, t.copy())).collect();
    let rest_eager = steps(&mut a, &d, 10, 10);
    let mut b = fast(MethodName::DANN, 1234);
    b.load_state(&saved).unwrap();
    let rest_fast = steps(&mut b, &d, 10, 10);
    assert_close(MethodName::DANN, &rest_eager, &rest_fast);
    // The fast step's state loads back into the eager one.
    let mut c = eager(MethodName::DANN, 77);
    c.load_state(&b.state()).unwrap();
    for (name, t) in b.net.var_store().variables() {
        assert!(
            t.equal(&c.net.var_store().variables().remove(&name).unwrap()),
            "`{name}`"
        );
    }
}

#[test]
fn dann_alt_and_a_missing_target_batch_are_refused() {
    let _rng = rng_lock();
    let e = fast_or_refusal("dann-alt".parse().unwrap(), 0).unwrap_err();
    assert!(
        e.contains("`step`") && e.contains("dann-alt cannot be captured") && e.contains("two optimisers"),
        "{e}"
    );
    let mut s = fast(MethodName::DANN, 0);
    let (x, y) = (
        Tensor::zeros([4, 3, 32, 32], (Kind::Float, CPU)),
        Tensor::zeros([4], (Kind::Int64, CPU)),
    );
    let e = s
        .train_step(
            &StepBatch {
                domains: 1,
                labelled: (&x, &y),
                unlabelled: None,
                unlabelled_index: None,
            },
            0.01,
            0.1,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("dann needs a target batch"), "{e}");
}

/// Records epochs; may stop after a number of steps, keeping the state it was given.
#[derive(Default)]
struct Recorder {
    stop_after: Option<usize>,
    steps: usize,
    records: Vec<shift_strategies::EpochRecord>,
    saved: Option<(shift_strategies::Position, Vec<(String, Tensor)>)>,
}

impl shift_strategies::Observer for Recorder {
    fn on_step(&mut self, _at: shift_strategies::Position, _steps: i64) {
        self.steps += 1;
    }
    fn stop_requested(&self) -> bool {
        self.stop_after.is_some_and(|n| self.steps >= n)
    }
    fn on_epoch(
        &mut self,
        r: &shift_strategies::EpochRecord,
        _next: shift_strategies::Position,
        _s: &dyn Strategy,
    ) -> Result<(), shift_strategies::StrategyError> {
        self.records.push(r.clone());
        Ok(())
    }
    fn on_interrupt(
        &mut self,
        next: shift_strategies::Position,
        s: &dyn Strategy,
    ) -> Result<(), shift_strategies::StrategyError> {
        self.saved = Some((next, s.state().into_iter().map(|(n, t)| (n, t.copy())).collect()));
        Ok(())
    }
}

fn task() -> shift_strategies::DigitTask {
    let d = data();
    shift_strategies::DigitTask {
        test: (d.xt.x.shallow_clone(), d.xt.y.shallow_clone()),
        validation: None,
        labelled: d.xs,
        unlabelled: Some(d.xt),
    }
}

fn config() -> shift_strategies::TrainConfig {
    shift_strategies::TrainConfig {
        epochs: 3,
        batch: 16,
        steps_per_epoch: Some(5),
        ..Default::default()
    }
}

fn losses(records: &[shift_strategies::EpochRecord]) -> Vec<(f64, f64)> {
    records
        .iter()
        .map(|r| (r.train.class_loss, r.train.domain_loss))
        .collect()
}

#[test]
fn through_the_epoch_loop_the_fast_step_gathers_its_own_batches_and_matches_eager() {
    let _rng = rng_lock();
    let task = task();
    let run = |s: &mut dyn Strategy| {
        let mut rec = Recorder::default();
        shift_strategies::fit(s, &task, &config(), 4, shift_strategies::Position::default(), &mut rec).unwrap();
        rec.records
    };
    let (a, b) = (
        run(&mut eager(MethodName::DANN, 4)),
        run(&mut fast(MethodName::DANN, 4)),
    );
    assert_eq!(a.len(), 3);
    assert_close(MethodName::DANN, &losses(&a), &losses(&b));
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.target_acc - y.target_acc).abs() < 1e-6,
            "{} vs {}",
            x.target_acc,
            y.target_acc
        );
    }
}

#[test]
fn a_fast_run_stopped_mid_epoch_resumes_to_the_same_numbers() {
    let _rng = rng_lock();
    let task = task();
    let mut whole = Recorder::default();
    shift_strategies::fit(
        &mut fast(MethodName::DANN, 6),
        &task,
        &config(),
        6,
        Default::default(),
        &mut whole,
    )
    .unwrap();
    let mut cut = Recorder {
        stop_after: Some(7),
        ..Default::default()
    };
    shift_strategies::fit(
        &mut fast(MethodName::DANN, 6),
        &task,
        &config(),
        6,
        Default::default(),
        &mut cut,
    )
    .unwrap();
    let (next, state) = cut.saved.take().unwrap();
    assert_eq!((next.epoch, next.step), (1, 2));
    let mut resumed = fast(MethodName::DANN, 99);
    resumed.load_state(&state).unwrap();
    let mut rest = Recorder::default();
    shift_strategies::fit(&mut resumed, &task, &config(), 6, next, &mut rest).unwrap();
    let mut joined = cut.records.clone();
    joined.extend(rest.records);
    assert_eq!(losses(&joined), losses(&whole.records));
}

#[test]
fn the_capture_self_test_says_why_a_cpu_has_no_graph() {
    let _rng = rng_lock();
    let e = shift_strategies::fast::capture_self_test(CPU).unwrap_err();
    assert_eq!(e, "CUDA graphs need a CUDA device; the fast step runs eagerly on Cpu");
}
