//! The shallow DANN step (Ganin et al., JMLR 2016, Algorithm 1) against `fixtures/dann/dann_loss.py`: shift's
//! DANN with `lambda_on_discriminator = 1` on `MlpNet::shallow` gives the PyTorch script's loss and the gradients
//! of Algorithm 1's updates in double precision: the domain terms to 1e-10, what passes through the label loss
//! (whose log-softmax tch computes in single precision) to 1e-7.

mod common;

use common::{fixture, max_diff, tensor};
use shift_models::mlp::MlpNet;
use shift_models::AdaptNet;
use shift_strategies::methods::{dann::Dann, domain_labels, BuildContext, Lambda, Method, StepInputs};
use shift_strategies::{MethodName, MethodSpec};
use shift_tensor::tch::{Device, Kind, Tensor};

#[test]
fn the_shallow_dann_step_matches_algorithm_1() {
    let fx = fixture("dann");
    let mut net = MlpNet::shallow(Device::Cpu, 6, 5, 2);
    let mut set = std::collections::BTreeMap::new();
    set.insert("lambda_on_discriminator".to_string(), 1.0);
    let spec = MethodSpec::new(MethodName::DANN, &set).unwrap();
    let dann = Dann::new(&BuildContext { net: &net, spec: &spec }).unwrap();
    net.var_store_mut().double();
    let vars = net.var_store().variables();
    let weights = fx["weights"].as_object().unwrap();
    assert_eq!(
        vars.len(),
        weights.len(),
        "the shallow net and its regressor have six tensors"
    );
    shift_tensor::tch::no_grad(|| {
        for (name, value) in weights {
            let mut v = vars[name].shallow_clone();
            v.copy_(&tensor(value).view_as(&v));
        }
    });
    let xs = tensor(&fx["xs"]);
    let ys = Tensor::from_slice(
        &fx["ys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|y| y.as_i64().unwrap())
            .collect::<Vec<_>>(),
    );
    let xt = tensor(&fx["xt"]);
    let domain = domain_labels(4, 4, Device::Cpu).to_kind(Kind::Double);
    let batch = StepInputs {
        domains: 1,
        labelled: (&xs, &ys),
        target: Some(&xt),
        domain: Some(&domain),
        target_index: None,
    };
    let terms = dann
        .loss(&net, &batch, Lambda::Host(fx["lambda"].as_f64().unwrap()))
        .unwrap();
    let loss = terms.loss.double_value(&[]);
    // The label loss passes through tch's `cross_entropy_for_logits`, whose log-softmax runs in single precision:
    // it and what depends on it agree to float precision; the domain term, all double, to 1e-10.
    assert!((loss - fx["loss"].as_f64().unwrap()).abs() < 1e-7, "loss {loss}");
    assert!((terms.metrics[0].double_value(&[]) - fx["class_loss"].as_f64().unwrap()).abs() < 1e-7);
    assert!((terms.metrics[3].double_value(&[]) - fx["domain_loss"].as_f64().unwrap()).abs() < 1e-10);
    terms.loss.backward();
    for (name, want) in fx["grads"].as_object().unwrap() {
        let got = vars[name].grad();
        let d = max_diff(&got, &tensor(want).view_as(&got));
        // The domain regressor's gradient has no label-loss part.
        let bound = if name.starts_with("discriminator") { 1e-10 } else { 1e-7 };
        assert!(d < bound, "{name}: gradient off by {d}");
    }
}
