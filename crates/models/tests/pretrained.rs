//! Loading torchvision-named ResNet-50 weights into the Office-31 network, and the errors for bad files.

use shift_models::{digit::DigitNet, office::OfficeNet, pretrained::load_into, AdaptNet, DomainDiscriminator, Part};
use shift_tensor::tch::{Device, Kind, Tensor};

const PREFIX: &str = "features.backbone.";

#[test]
fn torchvision_names_load_into_the_backbone_only() {
    shift_tensor::seed_everything(1);
    let a = OfficeNet::new(Device::Cpu, 31);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("resnet50.safetensors");
    let mut named: Vec<(String, Tensor)> = a
        .var_store()
        .variables()
        .into_iter()
        .filter_map(|(n, t)| n.strip_prefix(PREFIX).map(|s| (s.to_string(), t)))
        .collect();
    assert!(
        named.iter().any(|(n, _)| n == "layer4.2.conv3.weight") && named.iter().any(|(n, _)| n == "bn1.running_var")
    );
    named.push((
        "fc.weight".into(),
        Tensor::zeros([1000, 2048], (Kind::Float, Device::Cpu)),
    ));
    Tensor::write_safetensors(&named, &file).unwrap();

    shift_tensor::seed_everything(2);
    let mut b = OfficeNet::new(Device::Cpu, 31);
    let n = load_into(b.var_store_mut(), &file, PREFIX).unwrap();
    assert_eq!(n, named.len() - 1, "every backbone tensor, and not torchvision's fc");
    let (va, vb) = (a.var_store().variables(), b.var_store().variables());
    for (name, t) in &vb {
        let same = t.equal(&va[name]);
        if name.starts_with(PREFIX) {
            assert!(same, "{name} must be loaded");
        } else if Part::of(name).is_some() && name.ends_with("weight") {
            assert!(!same, "{name} is not in the file and keeps its own initialisation");
        }
    }
    let x = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu));
    let fa = a.features(&x, false);
    assert_eq!(fa.size(), vec![2, 256]);
}

#[test]
fn missing_tensors_wrong_shapes_and_unreadable_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = OfficeNet::new(Device::Cpu, 31);
    let partial = dir.path().join("partial.safetensors");
    Tensor::write_safetensors(
        &[("conv1.weight", Tensor::zeros([64, 3, 7, 7], (Kind::Float, Device::Cpu)))],
        &partial,
    )
    .unwrap();
    let e = load_into(net.var_store_mut(), &partial, PREFIX)
        .unwrap_err()
        .to_string();
    assert!(e.contains("partial.safetensors") && e.contains("lacks"), "{e}");
    let wrong = dir.path().join("wrong.safetensors");
    Tensor::write_safetensors(&[("bn1.bias", Tensor::zeros([3], (Kind::Float, Device::Cpu)))], &wrong).unwrap();
    let e = load_into(net.var_store_mut(), &wrong, PREFIX).unwrap_err().to_string();
    assert!(e.contains("wrong.safetensors") && e.contains("shape [3]"), "{e}");
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"nope").unwrap();
    let e = load_into(net.var_store_mut(), &junk, PREFIX).unwrap_err().to_string();
    assert!(e.contains("junk.safetensors") && e.contains("cannot read"), "{e}");
}

#[test]
fn digit_net_shapes_and_parameter_names() {
    let net = DigitNet::new(Device::Cpu);
    let x = Tensor::randn([5, 3, 32, 32], (Kind::Float, Device::Cpu));
    let f = net.features(&x, true);
    assert_eq!(f.size(), vec![5, 1200]);
    assert_eq!(net.classify(&f, true).size(), vec![5, 10]);
    let disc = DomainDiscriminator::new(
        &(net.var_store().root() / "discriminator"),
        net.feature_dim(),
        &net.discriminator_shape(),
    );
    assert_eq!(disc.forward(&f, true).size(), vec![5]);
    let mut names: Vec<String> = net.var_store().variables().into_keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "classifier.0.bias",
            "classifier.0.weight",
            "classifier.2.bias",
            "classifier.2.weight",
            "classifier.4.bias",
            "classifier.4.weight",
            "discriminator.0.bias",
            "discriminator.0.weight",
            "discriminator.2.bias",
            "discriminator.2.weight",
            "features.c1.bias",
            "features.c1.weight",
            "features.c2.bias",
            "features.c2.weight"
        ]
    );
    // PyTorch's default init: uniform within +-1/sqrt(fan_in).
    let w = &net.var_store().variables()["classifier.0.weight"];
    let bound = 1.0 / (1200f64).sqrt();
    assert!(w.abs().max().double_value(&[]) <= bound && w.abs().max().double_value(&[]) > 0.9 * bound);
}

#[test]
fn a_feature_extractor_held_in_eval_mode_keeps_its_batch_norm_statistics() {
    let x = Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu)) * 3.0 + 1.0;
    let stats = |net: &OfficeNet| {
        let v = net.var_store().variables();
        Tensor::cat(
            &[
                &v["features.backbone.bn1.running_mean"],
                &v["features.bottleneck.1.running_mean"],
            ],
            0,
        )
    };
    let mut held = OfficeNet::new(Device::Cpu, 31);
    held.hold_features_in_eval(true);
    let before = stats(&held);
    let _ = held.features(&x, true);
    assert!(
        stats(&held).equal(&before),
        "held: running statistics unchanged by a training forward"
    );
    let free = OfficeNet::new(Device::Cpu, 31);
    let before = stats(&free);
    let _ = free.features(&x, true);
    assert!(
        !stats(&free).equal(&before),
        "not held: batch norm updates its running statistics"
    );
}
