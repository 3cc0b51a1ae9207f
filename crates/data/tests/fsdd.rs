//! The Free Spoken Digit Dataset from the mirror in ../shared/datasets (present in CI): installed through the
//! manifest (its sha256s, count and WAV check), loaded, and counted by speaker, digit and split; then a recording
//! cut short in the installed folder is refused by name.

use shift_data::fsdd::{self, SPEAKERS};
use shift_data::log_mel::LogMel;
use shift_fetch::{Installer, Manifest, Mirror, Outcome};
use shift_tensor::tch::Tensor;
use std::path::Path;

#[test]
fn the_mirrors_recordings_install_load_and_split_as_published() {
    let mirror = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if !mirror.join("fsdd-v1.0.10.tar.gz").is_file() {
        assert!(
            std::env::var_os("SHIFT_REQUIRE_MIRROR").is_none(),
            "SHIFT_REQUIRE_MIRROR is set but {} has no fsdd-v1.0.10.tar.gz",
            mirror.display()
        );
        eprintln!("skipped: no data mirror at {}", mirror.display());
        return;
    }
    let manifest = Manifest::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/manifest.toml")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let installer = Installer::new(data.path(), Some(Mirror::Dir(mirror)));
    let out = installer.install(manifest.get("fsdd").unwrap()).unwrap();
    assert!(matches!(out, Outcome::Installed { .. }), "{out:?}");
    let folder = data.path().join("fsdd");
    let all = fsdd::load(&folder).unwrap();
    assert_eq!(all.len(), 3000);
    for (speaker, name) in SPEAKERS.iter().enumerate() {
        for digit in 0..10u8 {
            let takes: Vec<u32> = all
                .iter()
                .filter(|r| r.speaker == speaker && r.digit == digit)
                .map(|r| r.index)
                .collect();
            assert_eq!(takes, (0..50).collect::<Vec<_>>(), "{name} says {digit}");
        }
    }
    assert_eq!(all.iter().filter(|r| r.is_test()).count(), 300);
    assert!(all.iter().all(|r| r.samples.len() == fsdd::SAMPLES));
    let first = &all[0];
    assert_eq!((first.digit, first.speaker, first.index), (0, 0, 0));
    let waves: Vec<f32> = all[..4].iter().flat_map(|r| r.samples.iter().copied()).collect();
    let x = LogMel::FSDD
        .forward(&Tensor::from_slice(&waves).view([4, 8000]))
        .unwrap();
    assert_eq!(x.size(), [4, 40, 101]);
    assert!(x.isfinite().all().int64_value(&[]) == 1);

    // A recording cut short after the install is refused when loaded, by name.
    let victim = folder.join("recordings/3_theo_7.wav");
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    let e = fsdd::load(&folder).unwrap_err().to_string();
    assert!(e.contains("3_theo_7.wav") && e.contains("truncated"), "{e}");
}
