//! Deterministic mode reproduces, to the bit, weights hashed on another machine (the fixture), and records its
//! CPU pins and what deterministic mode does not promise (warn_only) in every run's config.json.

mod common;

use common::{digits_data, run_ok, shift};
use std::path::Path;

#[test]
fn deterministic_weights_match_the_fixture_from_another_machine() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deterministic_weights.sha256");
    let want = std::fs::read_to_string(&fixture).unwrap();
    // Whatever the caller's environment says, the fingerprint pins the CPU paths itself.
    let out = run_ok(
        shift()
            .args(["info", "--fingerprint"])
            .env("ATEN_CPU_CAPABILITY", "avx2"),
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        said.trim(),
        format!("weights sha256 {}", want.trim()),
        "see {}",
        fixture.display()
    );
}

#[test]
fn a_deterministic_run_records_its_cpu_pins() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 64, 16);
    let out = tmp.path().join("out");
    let mut c = shift();
    c.args([
        "experiment",
        "dann",
        "--device",
        "cpu",
        "--methods",
        "source-only",
        "--seeds",
        "0",
    ])
    .args([
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch",
        "16",
        "--deterministic",
        "--data",
    ])
    .arg(&data)
    .arg("--out")
    .arg(&out);
    let said = run_ok(&mut c);
    let said = String::from_utf8_lossy(&said.stderr);
    assert!(
        said.contains("deterministic mode:") && said.contains("warn_only"),
        "{said}"
    );
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("mnist-mnistm/source-only/seed0/config.json")).unwrap())
            .unwrap();
    let pins = &cfg["cpu_pins"];
    assert_eq!(pins["ATEN_CPU_CAPABILITY"], "default", "{cfg}");
    assert_eq!(pins["MKL_CBWR"], "COMPATIBLE");
    assert_eq!(pins["ONEDNN_MAX_CPU_ISA"], "SSE41");
    assert_eq!(pins["intra_op_threads"], "2");
    assert_eq!(cfg["experiment"]["deterministic"], true);
    let mode = cfg["deterministic_algorithms"].as_str().unwrap_or_default();
    assert!(mode.contains("warn_only") && mode.contains("may still vary"), "{cfg}");
}
