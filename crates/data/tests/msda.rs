//! mSDA against its published closed form, computed by `fixtures/msda/msda_fixture.py` in NumPy.

use shift_data::msda::Msda;
use shift_tensor::tch::{Kind, Tensor};
use std::path::Path;

fn matrix(v: &serde_json::Value) -> Tensor {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len() as i64, rows[0].len() as i64);
    Tensor::from_slice(&rows.concat()).view([n, d])
}

#[test]
fn each_layer_and_the_stacked_representation_match_the_closed_form() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/msda/msda.json");
    let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let x = matrix(&fx["x"]);
    let layers = fx["weights"].as_array().unwrap();
    let m = Msda::fit(
        &x,
        fx["noise"].as_f64().unwrap(),
        layers.len(),
        fx["eta"].as_f64().unwrap(),
    );
    for (got, want) in m.weights.iter().zip(layers) {
        let diff = (got - matrix(want)).abs().max().double_value(&[]);
        assert!(diff < 1e-10, "W differs by {diff}");
    }
    let r = m.forward(&x);
    assert_eq!(r.kind(), Kind::Double);
    let diff = (r - matrix(&fx["representation"])).abs().max().double_value(&[]);
    assert!(diff < 1e-10, "the representation differs by {diff}");
}
