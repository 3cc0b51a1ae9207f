//! The flat-buffer optimiser equals per-tensor momentum SGD exactly, keeps the VarStore usable, and refuses bad
//! checkpoints.

use shift_models::Part;
use shift_strategies::{FlatSgd, GroupSpec, Optimiser, Update};
use shift_tensor::tch::{nn, Device, Kind, Tensor};

/// libtorch's generator is process-wide and tests run on parallel threads: tests that draw from it take turns.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// Two variables in `features` (lr x0.1), two in `classifier`, one in `discriminator` (not optimised).
fn store(seed: i64) -> nn::VarStore {
    shift_tensor::tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let f = vs.root().sub("features");
    let c = vs.root().sub("classifier");
    let _ = f.var("w", &[4, 3], nn::Init::Randn { mean: 0.0, stdev: 1.0 });
    let _ = f.var("a", &[3], nn::Init::Randn { mean: 0.0, stdev: 1.0 });
    let _ = c.var("v", &[3, 2], nn::Init::Randn { mean: 0.0, stdev: 1.0 });
    let _ = c.var("b", &[2], nn::Init::Const(0.5));
    let _ = vs.root().sub("discriminator").var("d", &[2], nn::Init::Const(1.0));
    vs
}

fn groups() -> Vec<GroupSpec> {
    vec![
        GroupSpec {
            part: Part::Features,
            prefix: None,
            lr_mult: 0.1,
        },
        GroupSpec::part(Part::Classifier),
    ]
}

fn var(vs: &nn::VarStore, name: &str) -> Tensor {
    vs.variables().remove(name).unwrap()
}

fn loss(vs: &nn::VarStore, x: &Tensor) -> Tensor {
    let h = (x.matmul(&var(vs, "features.w")) + var(vs, "features.a")).tanh();
    (h.matmul(&var(vs, "classifier.v")) + var(vs, "classifier.b") * var(vs, "discriminator.d"))
        .pow_tensor_scalar(2)
        .sum(Kind::Float)
}

#[test]
fn flat_sgd_equals_per_tensor_sgd_exactly_step_for_step() {
    let _rng = rng_lock();
    let (per_tensor, flat) = (store(7), store(7));
    let mut sgd = Optimiser::new(&per_tensor, &groups(), Update::sgd(0.9, 1e-3)).unwrap();
    let mut fsgd = FlatSgd::new(&flat, &groups(), Update::sgd(0.9, 1e-3)).unwrap();
    assert_eq!(
        fsgd.names(),
        ["features.a", "features.w", "classifier.b", "classifier.v"]
    );
    assert_eq!(fsgd.len(), 3 + 12 + 2 + 6);
    let x = Tensor::randn([5, 4], (Kind::Float, Device::Cpu));
    for step in 0..6 {
        let lr = 0.01 / (1.0 + step as f64).powf(0.75);
        sgd.zero_grad();
        fsgd.zero_grad();
        loss(&per_tensor, &x).backward();
        loss(&flat, &x).backward();
        sgd.step(lr);
        fsgd.step(lr);
        for (name, t) in per_tensor.variables() {
            assert!(t.equal(&var(&flat, &name)), "step {step}: `{name}` differs");
        }
    }
    // The discriminator is outside the groups: untouched, and it still got its gradient the usual way.
    assert!(var(&flat, "discriminator.d").equal(&Tensor::from_slice(&[1f32, 1.0])));
    assert!(var(&flat, "discriminator.d").grad().defined());
    // Same momentum state under the same names.
    let (a, b) = (sgd.state("opt."), fsgd.state("opt."));
    assert_eq!(a.len(), b.len());
    for (name, t) in &a {
        let other = &b.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(t.equal(other), "momentum `{name}` differs");
    }
}

#[test]
fn the_device_learning_rate_gives_the_same_update_where_multipliers_are_one() {
    let _rng = rng_lock();
    let (host, device) = (store(3), store(3));
    let all = [GroupSpec::part(Part::Features), GroupSpec::part(Part::Classifier)];
    let mut a = FlatSgd::new(&host, &all, Update::sgd(0.9, 0.0)).unwrap();
    let mut b = FlatSgd::new(&device, &all, Update::sgd(0.9, 0.0)).unwrap();
    let mut lr_t = Tensor::zeros([], (Kind::Float, Device::Cpu));
    let x = Tensor::randn([5, 4], (Kind::Float, Device::Cpu));
    for step in 0..5 {
        let lr = 0.01 / (1.0 + 0.3 * step as f64);
        let _ = lr_t.fill_(lr);
        for (vs, opt) in [(&host, &mut a), (&device, &mut b)] {
            opt.zero_grad();
            loss(vs, &x).backward();
        }
        a.step(lr);
        b.step_on_device(&lr_t);
        for (name, t) in host.variables() {
            assert!(t.equal(&var(&device, &name)), "step {step}: `{name}` differs");
        }
    }
}

#[test]
fn gradients_are_views_into_one_buffer_and_zeroing_keeps_them() {
    let _rng = rng_lock();
    let vs = store(1);
    let mut opt = FlatSgd::new(&vs, &groups(), Update::sgd(0.9, 0.0)).unwrap();
    let x = Tensor::randn([5, 4], (Kind::Float, Device::Cpu));
    loss(&vs, &x).backward();
    let g1 = var(&vs, "classifier.v").grad().copy();
    opt.zero_grad();
    assert_eq!(
        var(&vs, "classifier.v").grad().abs().sum(Kind::Float).double_value(&[]),
        0.0
    );
    // Accumulates into the same (zeroed) memory: the same gradient again, not twice it.
    loss(&vs, &x).backward();
    assert!(var(&vs, "classifier.v").grad().equal(&g1));
}

#[test]
fn bad_settings_and_checkpoints_are_refused_naming_the_field() {
    let _rng = rng_lock();
    let vs = store(2);
    let e = FlatSgd::new(&vs, &groups(), Update::sgd(1.0, 0.0))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`momentum`") && e.contains("must be in [0, 1), got 1"),
        "{e}"
    );
    let e = FlatSgd::new(&vs, &groups(), Update::sgd(0.9, -1.0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`weight_decay`"), "{e}");
    let e = FlatSgd::new(&vs, &groups(), Update::adam(0.0)).unwrap_err().to_string();
    assert!(
        e.contains("`train.optimiser`") && e.contains("the fast step runs SGD only, got `adam`"),
        "{e}"
    );
    let mut opt = FlatSgd::new(&vs, &groups(), Update::sgd(0.9, 0.0)).unwrap();
    let e = opt.load_state("opt.", &[]).unwrap_err().to_string();
    assert!(e.contains("`opt.features.a` is missing"), "{e}");
    let mut bad = opt.state("opt.");
    bad[0].1 = Tensor::zeros([7], (Kind::Float, Device::Cpu));
    let e = opt.load_state("opt.", &bad).unwrap_err().to_string();
    assert!(e.contains("`opt.features.a` has shape [7], expected [3]"), "{e}");
}
