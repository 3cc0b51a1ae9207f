//! The check on a captured step's first replays, exercised on the CPU with a real step (digit net, flat SGD,
//! paper schedule) standing in for the replay: an exact replay passes, a replay that reads a stale learning rate
//! (the smallest change the schedule makes, at its end) or a stale batch fails, and a failed check leaves the
//! state as the eager step left it.

use shift_models::{digit::DigitNet, AdaptNet};
use shift_strategies::replay_check::{check_replay, step_difference, CEILING, FLOOR};
use shift_strategies::{backbone_groups, FlatSgd, LrSchedule, StrategyError, Update};
use shift_tensor::tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;
/// libtorch's generator is process-wide: tests that draw from it take turns.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// The paper's run: 20 epochs of 937 steps.
const TOTAL: f64 = 18_740.0;

struct Step {
    net: DigitNet,
    opt: FlatSgd,
    lr: Tensor,
    batches: [(Tensor, Tensor); 2],
}

fn setup() -> Step {
    shift_tensor::seed_everything(7);
    let net = DigitNet::new(CPU);
    let opt = FlatSgd::new(net.var_store(), &backbone_groups(1.0), Update::sgd(0.9, 5e-4)).unwrap();
    let batch = || {
        (
            Tensor::randn([16, 3, 32, 32], (Kind::Float, CPU)),
            Tensor::randint(10, [16], (Kind::Int64, CPU)),
        )
    };
    let mut s = Step {
        net,
        opt,
        lr: Tensor::zeros([], (Kind::Float, CPU)),
        batches: [batch(), batch()],
    };
    // Some momentum first, as after warm-up.
    for i in 0..3 {
        s.run(0, 0.01 - 0.001 * i as f64).unwrap();
    }
    s
}

impl Step {
    /// One flat-SGD step on batch `b` with learning rate `lr` (read from the device tensor, as the fast step does).
    fn run(&mut self, b: usize, lr: f64) -> Result<(), StrategyError> {
        let _ = self.lr.fill_(lr);
        self.opt.zero_grad();
        let (x, y) = &self.batches[b];
        let loss = self
            .net
            .classify(&self.net.features(x, true), true)
            .cross_entropy_for_logits(y);
        loss.backward();
        self.opt.step_on_device(&self.lr);
        Ok(())
    }

    fn state(&self) -> Vec<Tensor> {
        Vec::from(self.opt.buffers())
    }
}

fn lr_at(step: f64) -> f64 {
    LrSchedule::default().at(step / TOTAL)
}

#[test]
fn step_difference_is_the_relative_distance_between_two_changes() {
    let t = |v: &[f32]| Tensor::from_slice(v);
    let before = [t(&[1.0, 1.0]), t(&[2.0])];
    let a = [t(&[4.0, 5.0]), t(&[2.0])]; // changes by (3, 4): norm 5; the second tensor unchanged
    let b = [t(&[4.0, 5.5]), t(&[2.0])];
    assert_eq!(step_difference(&before, &a, &a), 0.0);
    assert!((step_difference(&before, &a, &b) - 0.1).abs() < 1e-12);
    let moved = [t(&[4.0, 5.0]), t(&[2.5])];
    assert_eq!(
        step_difference(&before, &a, &moved),
        f64::INFINITY,
        "a change where the eager step made none"
    );
}

#[test]
fn an_exact_replay_passes_and_leaves_its_step() {
    let _rng = rng_lock();
    let s = setup();
    let lr = lr_at(TOTAL - 1.0);
    let mut alone = setup();
    alone.run(1, lr).unwrap();
    let state = s.state();
    let s = std::cell::RefCell::new(s);
    let check = check_replay(&state, || s.borrow_mut().run(1, lr), || s.borrow_mut().run(1, lr)).unwrap();
    assert_eq!(
        (check.difference, check.eager_noise, check.tolerance),
        (0.0, 0.0, FLOOR)
    );
    assert!(check.passed());
    for (got, want) in s.borrow().state().iter().zip(alone.state()) {
        assert!(got.equal(&want), "the state is one step on, as if run once");
    }
}

#[test]
fn a_replay_with_a_stale_learning_rate_or_batch_fails_and_the_eager_step_stands() {
    let _rng = rng_lock();
    // The end of the schedule, where one step changes the learning rate least (3.6e-5 relative).
    let (now, before) = (lr_at(TOTAL - 1.0), lr_at(TOTAL - 2.0));
    assert!(
        ((before - now) / now - 3.6e-5).abs() < 0.2e-5,
        "{}",
        (before - now) / now
    );
    for (what, stale_batch, stale_lr) in [("learning rate", 1, before), ("batch", 0, now)] {
        let mut alone = setup();
        alone.run(1, now).unwrap();
        let s = setup();
        let state = s.state();
        let s = std::cell::RefCell::new(s);
        let check = check_replay(
            &state,
            || s.borrow_mut().run(1, now),
            || s.borrow_mut().run(stale_batch, stale_lr),
        )
        .unwrap();
        assert!(!check.passed(), "stale {what}: {check:?}");
        assert!(
            check.difference > 10.0 * FLOOR && check.tolerance <= CEILING,
            "{what}: {check:?}"
        );
        for (got, want) in s.borrow().state().iter().zip(alone.state()) {
            assert!(got.equal(&want), "stale {what}: the eager step's result stands");
        }
    }
}
