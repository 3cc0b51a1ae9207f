//! tar.gz extraction: selection and stripping, refusal of entries that escape, truncated archives; gzip checks.

use flate2::{write::GzEncoder, Compression};
use shift_fetch::extract::extract_tar_gz;
use shift_fetch::{FetchError, Installer, Manifest, Mirror, Outcome};
use std::path::Path;

/// A tar.gz whose entries carry the given raw names (written into the header bytes, so `..` is possible).
fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (name, data) in entries {
        let mut header = tar::Header::new_old();
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn selects_and_strips_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    std::fs::write(
        &archive,
        tar_gz(&[("top/x/1.txt", b"one"), ("top/2.txt", b"two"), ("other/3.txt", b"3")]),
    )
    .unwrap();
    let out = dir.path().join("out");
    assert_eq!(extract_tar_gz(&archive, &out, Some("top/")).unwrap(), 2);
    assert_eq!(std::fs::read(out.join("x/1.txt")).unwrap(), b"one");
    assert_eq!(std::fs::read(out.join("2.txt")).unwrap(), b"two");
    assert!(!out.join("other").exists());
}

#[test]
fn entries_escaping_the_target_are_refused() {
    for evil in ["../evil.txt", "/tmp/evil.txt", "ok/../../evil.txt"] {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil.tar.gz");
        std::fs::write(&archive, tar_gz(&[("fine.txt", b"ok"), (evil, b"gotcha")])).unwrap();
        let err = extract_tar_gz(&archive, &dir.path().join("out"), None).unwrap_err();
        assert!(
            matches!(err, FetchError::UnsafeEntry { ref entry, .. } if entry == evil),
            "{evil}: {err}"
        );
        assert!(err.to_string().contains("evil.tar.gz"));
        assert!(!dir.path().join("evil.txt").exists());
    }
}

#[test]
fn truncated_archive_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("cut.tar.gz");
    let big: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let bytes = tar_gz(&[("big.bin", &big)]);
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let err = extract_tar_gz(&archive, &dir.path().join("out"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut.tar.gz") && err.contains("truncated"), "{err}");
}

#[test]
fn unsafe_archive_in_a_mirror_leaves_nothing_installed() {
    let mirror = tempfile::tempdir().unwrap();
    std::fs::write(
        mirror.path().join("set.tar.gz"),
        tar_gz(&[("set/a.txt", b"a"), ("set/../../x.txt", b"x")]),
    )
    .unwrap();
    let text = r#"version = 1
[[artifact]]
name = "set"
folder = "set"
about = "x"
[artifact.mirror_archive]
path = "set.tar.gz"
extract = "tar.gz"
select = "set/"
[[artifact.count]]
dir = "."
ext = "txt"
n = 1
"#;
    let m = Manifest::parse(text, Path::new("m.toml")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let inst = Installer::new(data.path(), Some(Mirror::Dir(mirror.path().to_path_buf())));
    let e = inst.install(m.get("set").unwrap()).unwrap_err().to_string();
    assert!(e.contains("would land outside"), "{e}");
    assert_eq!(
        std::fs::read_dir(data.path()).unwrap().count(),
        0,
        "staging must be removed"
    );
    // The same archive without the bad entry installs, and the count check runs.
    std::fs::write(mirror.path().join("set.tar.gz"), tar_gz(&[("set/a.txt", b"a")])).unwrap();
    assert!(matches!(
        inst.install(m.get("set").unwrap()).unwrap(),
        Outcome::Installed { .. }
    ));
}

#[test]
fn gzip_content_checksum_and_truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    std::io::Write::write_all(&mut enc, &vec![42u8; 100_000]).unwrap();
    let gz = enc.finish().unwrap();
    let good = dir.path().join("g.gz");
    std::fs::write(&good, &gz).unwrap();
    let expected = shift_fetch::verify::sha256_reader(&vec![42u8; 100_000][..]).unwrap();
    assert_eq!(shift_fetch::verify::gunzip_sha256_file(&good).unwrap(), expected);
    let cut = dir.path().join("cut.gz");
    std::fs::write(&cut, &gz[..gz.len() - 10]).unwrap();
    let e = shift_fetch::verify::gunzip_sha256_file(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.gz") && e.contains("not a valid gzip"), "{e}");
}
