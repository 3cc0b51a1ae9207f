//! Attention pooling against PyTorch's `nn.MultiheadAttention`, computed by
//! `fixtures/attention_pool/attention_pool.py`.

use shift_models::attention_pool::AttentionPool;
use shift_tensor::tch::{nn, Device, Kind, Tensor};
use std::path::Path;

fn tensor(v: &serde_json::Value) -> Tensor {
    fn flat(v: &serde_json::Value, out: &mut Vec<f64>, shape: &mut Vec<i64>, depth: usize) {
        match v {
            serde_json::Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len() as i64);
                }
                items.iter().for_each(|item| flat(item, out, shape, depth + 1));
            }
            x => out.push(x.as_f64().unwrap()),
        }
    }
    let (mut out, mut shape) = (Vec::new(), Vec::new());
    flat(v, &mut out, &mut shape, 0);
    Tensor::from_slice(&out).view(shape.as_slice()).to_kind(Kind::Float)
}

#[test]
fn pooled_vectors_and_attention_weights_match_pytorch() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attention_pool/attention_pool.json");
    let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let pool = AttentionPool::new(&(vs.root() / "pool"), 8, fx["heads"].as_i64().unwrap());
    let mut vars = vs.variables();
    assert_eq!(vars.len(), 5);
    for (name, value) in fx["params"].as_object().unwrap() {
        let var = vars
            .get_mut(&format!("pool.{name}"))
            .unwrap_or_else(|| panic!("no variable pool.{name}"));
        shift_tensor::tch::no_grad(|| var.copy_(&tensor(value)));
    }
    let (weights, pooled) = pool.forward_with_weights(&tensor(&fx["x"]));
    for (got, key) in [(weights, "weights"), (pooled, "pooled")] {
        let want = tensor(&fx[key]);
        assert_eq!(got.size(), want.size(), "{key}");
        let diff = (got - want).abs().max().double_value(&[]);
        assert!(diff < 1e-5, "{key} differ by {diff}");
    }
}
