//! Bad input to the zero-shot methods is refused, naming what is wrong.

use shift_tensor::tch::{Device, Kind, Tensor};
use shift_zeroshot::dap::{Dap, DapFit};
use shift_zeroshot::eszsl::Eszsl;

fn inputs() -> (Tensor, Tensor, Tensor) {
    let x = Tensor::randn([6, 4], (Kind::Float, Device::Cpu));
    let y = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]);
    let s = Tensor::from_slice(&[1f32, 0., 0., 1., 1., 1.]).view([3, 2]);
    (x, y, s)
}

#[test]
fn bad_shapes_labels_signatures_and_settings_are_refused_by_name() {
    let (x, y, s) = inputs();
    let dap = |x: &Tensor, y: &Tensor, s: &Tensor, f: DapFit| Dap::fit(x, y, s, f).unwrap_err().to_string();
    let eszsl = |x: &Tensor, y: &Tensor, s: &Tensor, g: f64| Eszsl::fit(x, y, s, g, 1.0).unwrap_err().to_string();
    let d = DapFit::default();
    for (e, says) in [
        (
            dap(&x.view([24]), &y, &s, d),
            "features: want a non-empty [N, D] matrix, got [24]",
        ),
        (
            dap(&x, &y.narrow(0, 0, 5), &s, d),
            "labels: 6 examples but labels of shape [5]",
        ),
        (
            dap(&x, &(&y + 1), &s, d),
            "labels: classes 1..=3, but signatures for 3 classes",
        ),
        (dap(&x, &y, &(&s * 0.5), d), "DAP's attributes are binary"),
        (
            dap(&x, &y, &Tensor::from_slice(&[1f32, 0., 1., 1., 1., 1.]).view([3, 2]), d),
            "attribute 0 is 1 in every seen class",
        ),
        (dap(&x, &y, &s, DapFit { iterations: 0, ..d }), "iterations >= 1"),
        (dap(&x, &y, &s, DapFit { l2: -1.0, ..d }), "want l2 >= 0"),
        (eszsl(&x, &y, &s, 0.0), "eszsl.gamma: must be > 0, got 0"),
        (
            eszsl(&x, &y, &s.view([6]), 1.0),
            "signatures: want a [classes, attributes] matrix, got [6]",
        ),
    ] {
        assert!(e.contains(says), "`{e}` does not say `{says}`");
    }
    let e = Eszsl::fit(&x, &y.to_kind(Kind::Float), &s, 1.0, 1.0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("labels: want class indices (int64), got Float"), "{e}");
    let zeros = |shape: &[i64]| Tensor::zeros(shape, (Kind::Float, Device::Cpu));
    let e = Dap::from_parts(zeros(&[4, 2]), zeros(&[2]), Tensor::from_slice(&[0.5f32, 1.0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("every attribute prior must lie in (0, 1)"), "{e}");
    let e = Dap::from_parts(zeros(&[4, 2]), zeros(&[3]), Tensor::from_slice(&[0.5f32, 0.5]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("want weights [D, A], biases [A] and priors [A], got [4, 2], [3] and [2]"),
        "{e}"
    );
    let fitted = Eszsl::fit(&x, &y, &s, 1.0, 1.0).unwrap();
    let e = fitted.scores(&x.narrow(1, 0, 3), &s).unwrap_err().to_string();
    assert!(
        e.contains("fitted on 4 features and 2 attributes, got features [6, 3]"),
        "{e}"
    );
    let fitted = Dap::fit(&x, &y, &s, d).unwrap();
    let e = fitted.scores(&x, &s.narrow(1, 0, 1)).unwrap_err().to_string();
    assert!(e.contains("got features [6, 4] and signatures [3, 1]"), "{e}");
    let e = fitted.scores(&x, &(&s * 0.5)).unwrap_err().to_string();
    assert!(e.contains("DAP's attributes are binary"), "{e}");
}
