//! `AdaptNet::feature_twin`: a second feature extractor whose variables mirror the backbone's `features.*` by
//! name and shape (what ADDA copies its source encoder through), and which computes the same features once
//! the values are copied.

use shift_models::{digit::DigitNet, mlp::MlpNet, office::OfficeNet, AdaptNet};
use shift_tensor::tch::{self, Device, Kind, Tensor};
use std::collections::BTreeMap;

fn mirrors(net: &dyn AdaptNet, input: &[i64]) {
    let twin = net.feature_twin(&(net.var_store().root() / "discriminator" / "twin"));
    let vars = net.var_store().variables();
    let shapes = |prefix: &str| -> BTreeMap<String, Vec<i64>> {
        vars.iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|rest| (rest.to_string(), v.size())))
            .collect()
    };
    let (features, twins) = (shapes("features."), shapes("discriminator.twin."));
    assert!(!features.is_empty());
    assert_eq!(features, twins);
    tch::no_grad(|| {
        for rest in features.keys() {
            vars[&format!("discriminator.twin.{rest}")]
                .shallow_clone()
                .copy_(&vars[&format!("features.{rest}")]);
        }
    });
    let x = Tensor::randn(input, (Kind::Float, Device::Cpu));
    let (a, b) = (net.features(&x, false), twin.forward(&x, false));
    assert_eq!(a.size(), b.size());
    assert!(a.equal(&b));
}

#[test]
fn every_backbone_has_a_twin_of_its_features() {
    tch::manual_seed(0);
    mirrors(&DigitNet::new(Device::Cpu), &[2, 3, 32, 32]);
    mirrors(&MlpNet::new(Device::Cpu, 2, &[15, 7], 2), &[4, 2]);
    mirrors(&OfficeNet::new(Device::Cpu, 31), &[2, 3, 64, 64]);
}
