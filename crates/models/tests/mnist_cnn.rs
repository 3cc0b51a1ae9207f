//! DomainBed's MNIST ConvNet against its PyTorch statement, `fixtures/mnist_cnn/mnist_cnn.py`.

use shift_models::mnist_cnn::{MnistCnn, FEATURE_DIM};
use shift_models::AdaptNet;
use shift_tensor::tch::{Device, Kind, Tensor};
use std::path::Path;

/// The fixture's `fill`: `centre + scale * sin(0.61 i + 1.3 k)` over the flat index `i`.
fn fill(shape: &[i64], k: usize, scale: f64, centre: f64) -> Tensor {
    let n: i64 = shape.iter().product();
    let i = Tensor::arange(n, (Kind::Double, Device::Cpu));
    ((i * 0.61 + 1.3 * k as f64).sin() * scale + centre)
        .view(shape)
        .to_kind(Kind::Float)
}

fn values(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect()
}

#[test]
fn features_and_logits_match_domainbed_s_network_in_pytorch() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist_cnn/mnist_cnn.json");
    let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let net = MnistCnn::new(Device::Cpu, 2, 2);
    let mut vars: Vec<_> = net.var_store().variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    // conv1..4 and bn0..3 (weight and bias each), and the classifier's.
    assert_eq!(vars.len(), 18);
    for (k, (name, var)) in vars.iter_mut().enumerate() {
        let shape = var.size();
        let value = if name.starts_with("features.bn") {
            fill(&shape, k, 0.3, if name.ends_with("weight") { 1.0 } else { 0.0 })
        } else {
            let fan_in = if shape.len() > 1 {
                shape[1..].iter().product::<i64>()
            } else {
                shape[0]
            };
            fill(&shape, k, 1.0 / (fan_in as f64).sqrt(), 0.0)
        };
        shift_tensor::tch::no_grad(|| var.copy_(&value));
    }
    let x = fill(&[2, 2, 28, 28], 100, 0.5, 0.5);
    let f = net.features(&x, false);
    assert_eq!(f.size(), [2, FEATURE_DIM]);
    let logits = net.classify(&f, false);
    for (got, key) in [(f, "features"), (logits, "logits")] {
        let got = Vec::<f64>::try_from(got.to_kind(Kind::Double).flatten(0, -1)).unwrap();
        let want = values(&fx[key]);
        assert_eq!(got.len(), want.len(), "{key}");
        let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(diff < 1e-4, "{key} differ by {diff}");
    }
    // The two images give different logits: the test would see a network that ignores its input.
    let l = values(&fx["logits"]);
    assert!((l[0] - l[2]).abs() > 1e-3);
}
