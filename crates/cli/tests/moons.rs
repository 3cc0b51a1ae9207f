//! `shift experiment dann --task moons` end to end: NN and DANN train on the inter-twinning moons and the report
//! writes moons.png (Figure 2's panels for each).

mod common;

use common::{dann_on, numbers, run_ok};

#[test]
fn nn_and_dann_train_on_the_moons_and_draw_figure_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("moons");
    let run = run_ok(&mut dann_on(
        "moons",
        &out,
        &["--methods", "source-only,dann", "--epochs", "3"],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    for expected in [
        "moons",
        "| source-only |",
        "| dann |",
        "rotated by 35 degrees",
        "report.html, moons.png)",
    ] {
        assert!(table.contains(expected), "missing {expected} in:\n{table}");
    }
    let runs = numbers(&out);
    assert_eq!(runs.len(), 2);
    for (method, _, acc, per_epoch) in &runs {
        assert_eq!(per_epoch.len(), 3, "{method}");
        // Three epochs of one point a step already classify most of the rotated moons (chance is 0.5).
        assert!(*acc > 0.7, "{method}: {acc}");
    }
    // A PNG of two rows of four panels (1600 x 880 pixels).
    let png = std::fs::read(out.join("moons.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1600, 880));
    // NN alone: one row.
    let nn = tmp.path().join("nn");
    run_ok(&mut dann_on(
        "moons",
        &nn,
        &["--methods", "source-only", "--epochs", "1"],
    ));
    let png = std::fs::read(nn.join("moons.png")).unwrap();
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 460);
}
