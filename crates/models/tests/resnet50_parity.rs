//! Parity with torchvision: a state_dict that torchvision wrote with `torch.save`, converted by the script behind
//! `cargo xtask download resnet50-imagenet` / `convert-weights`, loads into shift's ResNet-50 (tch's, under
//! torchvision's parameter names) and gives the same features and logits for the same input.
//!
//! The reference comes from the `.venv`'s PyTorch, torchvision and safetensors (`cargo xtask test` installs them
//! and sets `SHIFT_PYTHON`), or from the Python named by `SHIFT_PYTHON`.

use shift_models::{office::OfficeNet, pretrained};
use shift_tensor::tch::{Device, Tensor};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SHIFT_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `cargo xtask test` (it installs torch, torchvision and safetensors) or set SHIFT_PYTHON",
        venv.display()
    );
    venv
}

fn run_python(args: &[&Path]) -> std::process::Output {
    let out = Command::new(python()).args(args).output().expect("running python");
    assert!(
        out.status.success(),
        "{:?} failed (torchvision and safetensors come with `cargo xtask test`):\n{}",
        args[0],
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn get<'a>(named: &'a [(String, Tensor)], key: &str) -> &'a Tensor {
    &named
        .iter()
        .find(|(n, _)| n == key)
        .unwrap_or_else(|| panic!("`{key}` is missing"))
        .1
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn resnet50_matches_torchvision_on_the_same_weights_and_input() {
    let dir = tempfile::tempdir().unwrap();
    let reference_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/torchvision_resnet50.py");
    run_python(&[&reference_script, dir.path()]);
    let pth = dir.path().join("weights.pth");
    let converted = dir.path().join("weights.safetensors");
    let convert_script = root().join("xtask/python/state_dict_to_safetensors.py");
    let out = run_python(&[&convert_script, &pth, &converted]);
    // 320 tensors: 265 backbone variables, 53 `num_batches_tracked` counters, fc weight and bias; 25,557,032
    // parameters + 53,120 running statistics + 53 counters.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("320 tensors, 25,610,205 values"), "{stdout}");

    let mut net = OfficeNet::new(Device::Cpu, 31);
    let set = pretrained::load_into(net.var_store_mut(), &converted, "features.backbone.").unwrap();
    // 53 convolutions (1 tensor each) + 53 batch norms (weight, bias, running mean, running variance).
    assert_eq!(set, 265);

    let reference = pretrained::read_named(&dir.path().join("reference.safetensors")).unwrap();
    let x = get(&reference, "input");
    let features = shift_tensor::tch::no_grad(|| net.backbone_features(x, false));
    let d_features = max_abs_diff(&features, get(&reference, "features"));
    assert!(d_features < 1e-4, "features differ by {d_features}");

    // fc is not part of shift's backbone; apply torchvision's from the same file.
    let named = pretrained::read_named(&converted).unwrap();
    let logits = features.linear(get(&named, "fc.weight"), Some(get(&named, "fc.bias")));
    let d_logits = max_abs_diff(&logits, get(&reference, "logits"));
    assert!(d_logits < 1e-4, "logits differ by {d_logits}");
    eprintln!("max abs difference: features {d_features:.2e}, logits {d_logits:.2e}");
    // Not vacuous: the logits vary across images and classes.
    assert!(logits.std(true).double_value(&[]) > 1e-3);
}

#[test]
fn the_converter_refuses_what_is_not_a_state_dict_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let convert_script = root().join("xtask/python/state_dict_to_safetensors.py");
    let cases = [
        (
            "import torch; torch.save([torch.zeros(2)], P)",
            "holds a list, not a state_dict",
        ),
        (
            "import torch; torch.save({'state_dict': {'w': torch.zeros(2)}}, P)",
            "entry `state_dict` is a dict, not a tensor (a nested dict: save the state_dict itself)",
        ),
        ("open(P, 'wb').write(b'not a pickle')", "not a readable torch.save file"),
    ];
    for (i, (make, expected)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("bad{i}.pth"));
        let code = format!("P = r'{}'\n{make}", p.display());
        let made = Command::new(python()).args(["-c", &code]).status().unwrap();
        assert!(made.success());
        let out_file = dir.path().join(format!("bad{i}.safetensors"));
        let out = Command::new(python())
            .arg(&convert_script)
            .arg(&p)
            .arg(&out_file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with(&format!("{}: {expected}", p.display())), "{stderr}");
        // Nothing half-written is left behind.
        assert!(!out_file.exists() && !dir.path().join(format!("bad{i}.safetensors.tmp")).exists());
    }
}

#[test]
fn a_pickle_or_a_file_for_another_network_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pth = dir.path().join("w.pth");
    std::fs::write(&pth, b"PK").unwrap();
    let e = pretrained::read_named(&pth).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}: cannot read weights: a Python pickle (torch.save) is not read directly; convert it with `cargo xtask convert-weights",
            pth.display()
        )),
        "{e}"
    );

    let small = dir.path().join("small.safetensors");
    Tensor::write_safetensors(
        &[(
            "conv1.weight",
            Tensor::zeros([64, 3, 7, 7], shift_tensor::tch::kind::FLOAT_CPU),
        )],
        &small,
    )
    .unwrap();
    let mut net = OfficeNet::new(Device::Cpu, 31);
    let e = pretrained::load_into(net.var_store_mut(), &small, "features.backbone.").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: the model needs `bn1.bias`, which the file lacks", small.display())
    );
}
