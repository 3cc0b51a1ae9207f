//! ESZSL and DAP against their published formulas in NumPy and scikit-learn (`fixtures/zero_shot.py`).

use shift_tensor::tch::{Kind, Tensor};
use shift_zeroshot::dap::{Dap, DapFit};
use shift_zeroshot::eszsl::Eszsl;

fn fixture() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/zero_shot.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tensor(v: &serde_json::Value, shape: &[i64]) -> Tensor {
    let flat: Vec<f64> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    Tensor::from_slice(&flat).view(shape)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .abs()
        .max()
        .double_value(&[])
}

/// The inputs: features `[N, D]`, labels, all four classes' signatures and the three seen ones'.
fn inputs(fx: &serde_json::Value) -> (Tensor, Tensor, Tensor, Tensor) {
    let (n, d) = (fx["n"].as_i64().unwrap(), fx["d"].as_i64().unwrap());
    let x = tensor(&fx["x"], &[n, d]);
    let y = tensor(&fx["labels"], &[n]).to_kind(Kind::Int64);
    let s = tensor(&fx["signatures"], &[4, 3]);
    let seen = s.narrow(0, 0, 3);
    (x, y, s, seen)
}

#[test]
fn eszsl_s_closed_form_is_the_paper_s() {
    let fx = fixture();
    let (x, y, s, seen) = inputs(&fx);
    let e = Eszsl::fit(
        &x,
        &y,
        &seen,
        fx["gamma"].as_f64().unwrap(),
        fx["lambda"].as_f64().unwrap(),
    )
    .unwrap();
    let d = max_diff(e.weights(), &tensor(&fx["eszsl_v"], &[4, 3]));
    assert!(d < 1e-9, "V: {d}");
    let n = x.size()[0];
    let d = max_diff(&e.scores(&x, &s).unwrap(), &tensor(&fx["eszsl_scores"], &[n, 4]));
    assert!(d < 1e-9, "scores: {d}");
}

#[test]
fn dap_s_lookup_is_the_paper_s_and_its_classifiers_reach_the_logistic_optimum() {
    let fx = fixture();
    let (x, y, s, seen) = inputs(&fx);
    let n = x.size()[0];
    let f = |k: &str, shape: &[i64]| tensor(&fx[k], shape).to_kind(Kind::Float);
    let dap = Dap::from_parts(f("dap_weight", &[4, 3]), f("dap_bias", &[3]), f("dap_prior", &[3])).unwrap();
    let d = max_diff(&dap.scores(&x, &s).unwrap(), &tensor(&fx["dap_scores"], &[n, 4]));
    assert!(d < 1e-4, "scores: {d}");
    // The fit converges to scikit-learn's optimum of the same objective.
    let fit = DapFit {
        l2: fx["l2"].as_f64().unwrap(),
        lr: 0.05,
        iterations: 3000,
    };
    let fitted = Dap::fit(&x, &y, &seen, fit).unwrap();
    let (on, _) = fitted.log_attribute_posteriors(&x);
    let logits = x.to_kind(Kind::Float).matmul(&f("dap_fit_weight", &[4, 3])) + f("dap_fit_bias", &[3]);
    let d = max_diff(&on, &logits.log_sigmoid());
    assert!(d < 1e-3, "log p(a = 1 | x) against scikit-learn's fit: {d}");
}
