//! Gradient reversal: exact forward, exact reversed gradient, finite differences, agreement with pure tch.

use shift_grl::{backward_with, reverse_reference, self_test, GradientReversal};
use shift_tensor::tch::{Device, Kind, Tensor};

const CPU: Device = Device::Cpu;

#[test]
fn forward_is_bit_identical_for_f32_f64_contiguous_and_not() {
    shift_tensor::seed_everything(1);
    for kind in [Kind::Float, Kind::Double] {
        let base = Tensor::randn([5, 6, 7], (kind, CPU));
        let strided = base.permute([2, 0, 1]);
        let sliced = base.slice(2, 1, 7, 2);
        for x in [&base, &strided, &sliced] {
            let y = GradientReversal.apply(x, 0.5).unwrap();
            assert_eq!(y.size(), x.size());
            assert_eq!(y.kind(), kind);
            assert!(y.equal(x), "forward changed values for {kind:?} {:?}", x.stride());
        }
        assert!(!strided.is_contiguous() && !sliced.is_contiguous());
    }
}

#[test]
fn input_gradient_is_exactly_minus_lambda_times_upstream() {
    shift_tensor::seed_everything(2);
    for lambda in [1.0, 0.46212, 3.5] {
        let x = Tensor::randn([8, 3], (Kind::Float, CPU)).set_requires_grad(true);
        let g = Tensor::randn([8, 3], (Kind::Float, CPU));
        backward_with(&GradientReversal.apply(&x, lambda).unwrap(), &g);
        assert!(x.grad().equal(&(&g * (-lambda))), "lambda {lambda}");
    }
}

#[test]
fn tensor_lambda_reads_the_value_at_backward_time() {
    let x = Tensor::randn([4, 4], (Kind::Float, CPU)).set_requires_grad(true);
    let g = Tensor::randn([4, 4], (Kind::Float, CPU));
    let mut lambda = Tensor::from(0.25f32);
    let y = GradientReversal.apply_scaled(&x, &lambda).unwrap();
    assert!(y.equal(&x));
    // The schedule moves lambda in place after the forward pass; backward must see the new value.
    let _ = lambda.fill_(0.75);
    backward_with(&y, &g);
    assert!(x.grad().equal(&(&g * Tensor::from(-0.75f32))));
}

#[test]
fn lambda_zero_stops_the_gradient() {
    let x = Tensor::randn([10], (Kind::Double, CPU)).set_requires_grad(true);
    GradientReversal
        .apply(&x, 0.0)
        .unwrap()
        .pow_tensor_scalar(2)
        .sum(Kind::Double)
        .backward();
    assert_eq!(x.grad().abs().max().double_value(&[]), 0.0);
}

#[test]
fn agrees_with_the_pure_tch_formulation() {
    shift_tensor::seed_everything(3);
    let x = Tensor::randn([6, 5], (Kind::Double, CPU));
    let g = Tensor::randn([6, 5], (Kind::Double, CPU));
    let a = x.detach().set_requires_grad(true);
    let b = x.detach().set_requires_grad(true);
    let ya = GradientReversal.apply(&a, 0.8).unwrap();
    let yb = reverse_reference(&b, 0.8);
    assert!(ya.equal(&yb));
    backward_with(&ya, &g);
    backward_with(&yb, &g);
    assert!(a.grad().equal(&b.grad()));
}

/// Feature extractor f = tanh(x W1), discriminator d = sigmoid(GRL(f) W2); loss = BCE(d, y).
/// Finite differences see the plain loss (GRL is the identity forward), so the autograd gradient must equal
/// the finite difference for the discriminator's W2 and -lambda times it for the feature extractor's W1.
#[test]
fn finite_differences_show_features_flipped_and_discriminator_unscaled() {
    shift_tensor::seed_everything(4);
    let opts = (Kind::Double, CPU);
    let x = Tensor::randn([5, 4], opts);
    let y = Tensor::from_slice(&[0.0, 1.0, 1.0, 0.0, 1.0]).reshape([5, 1]);
    let w1 = Tensor::randn([4, 3], opts).set_requires_grad(true);
    let w2 = Tensor::randn([3, 1], opts).set_requires_grad(true);
    let lambda = 0.6;
    let loss = |w1: &Tensor, w2: &Tensor, grl: bool| {
        let f = x.matmul(w1).tanh();
        let f = if grl {
            GradientReversal.apply(&f, lambda).unwrap()
        } else {
            f
        };
        f.matmul(w2)
            .binary_cross_entropy_with_logits::<Tensor>(&y, None, None, tch_mean())
    };
    loss(&w1, &w2, true).backward();
    let eps = 1e-6;
    let numeric = |w: &Tensor, which: usize| {
        let flat = w.detach().flatten(0, -1);
        let n = flat.size()[0];
        let grads: Vec<f64> = (0..n)
            .map(|i| {
                let bump = |delta: f64| {
                    let p = flat.copy();
                    let _ = p.get(i).g_add_scalar_(delta);
                    let p = p.reshape(w.size());
                    let (a, b) = if which == 1 { (p, w2.detach()) } else { (w1.detach(), p) };
                    loss(&a, &b, false).double_value(&[])
                };
                (bump(eps) - bump(-eps)) / (2.0 * eps)
            })
            .collect();
        Tensor::from_slice(&grads).reshape(w.size())
    };
    let fd_w1 = numeric(&w1, 1);
    let fd_w2 = numeric(&w2, 2);
    let max_diff = |a: &Tensor, b: &Tensor| (a - b).abs().max().double_value(&[]);
    assert!(
        max_diff(&w2.grad(), &fd_w2) < 1e-8,
        "discriminator gradient must be unscaled"
    );
    assert!(
        max_diff(&w1.grad(), &(&fd_w1 * (-lambda))) < 1e-8,
        "feature gradient must be -lambda x"
    );
    assert!(
        fd_w1.abs().max().double_value(&[]) > 1e-3,
        "the check must not pass on a zero gradient"
    );
}

fn tch_mean() -> shift_tensor::tch::Reduction {
    shift_tensor::tch::Reduction::Mean
}

#[test]
fn self_test_passes_on_cpu() {
    let checks = self_test(CPU);
    assert_eq!(checks.len(), 6);
    for c in checks {
        assert!(c.passed, "{}: {}", c.name, c.detail);
    }
}
