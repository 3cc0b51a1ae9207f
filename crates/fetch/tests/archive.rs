//! tar.gz extraction: selection and stripping, refusal of entries that escape, truncated archives; gzip checks;
//! the WAV check of an installed folder.

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

/// A mono 8 kHz 16-bit WAV file of `samples`, with `spec` changed by `edit`.
fn wav_bytes(samples: &[i16], edit: impl FnOnce(&mut hound::WavSpec)) -> Vec<u8> {
    let mut spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    edit(&mut spec);
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

#[test]
fn a_truncated_stereo_or_non_wav_recording_is_refused_by_name_and_nothing_is_installed() {
    let text = r#"version = 1
[[artifact]]
name = "speech"
folder = "speech"
about = "x"
[artifact.mirror_archive]
path = "speech.tar.gz"
extract = "tar.gz"
select = "top/recordings/"
into = "recordings"
[[artifact.count]]
dir = "recordings"
ext = "wav"
n = 2
[[artifact.wav]]
dir = "recordings"
channels = 1
sample_rate = 8000
bits = 16
"#;
    let m = Manifest::parse(text, Path::new("m.toml")).unwrap();
    let good = wav_bytes(&[1, -2, 3, 400], |_| ());
    let full = wav_bytes(&[7; 1000], |_| ());
    let truncated = &full[..full.len() - 100];
    let stereo = wav_bytes(&[1, 2, 3, 4], |s| s.channels = 2);
    for (bad, says) in [
        (truncated, "truncated"),
        (
            &stereo[..],
            "expected 1 channel(s) of 16-bit PCM at 8000 Hz, found 2 channel(s)",
        ),
        (&b"RIFF nonsense"[..], "not a WAV file"),
    ] {
        let mirror = tempfile::tempdir().unwrap();
        let archive = tar_gz(&[("top/recordings/0_a_0.wav", &good), ("top/recordings/1_a_0.wav", bad)]);
        std::fs::write(mirror.path().join("speech.tar.gz"), archive).unwrap();
        let data = tempfile::tempdir().unwrap();
        let inst = Installer::new(data.path(), Some(Mirror::Dir(mirror.path().to_path_buf())));
        let e = inst.install(m.get("speech").unwrap()).unwrap_err().to_string();
        assert!(e.contains("recordings/1_a_0.wav") && e.contains(says), "{e}");
        assert_eq!(
            std::fs::read_dir(data.path()).unwrap().count(),
            0,
            "{says}: staging must be removed"
        );
    }
    let mirror = tempfile::tempdir().unwrap();
    let archive = tar_gz(&[("top/recordings/0_a_0.wav", &good), ("top/recordings/1_a_0.wav", &full)]);
    std::fs::write(mirror.path().join("speech.tar.gz"), archive).unwrap();
    let data = tempfile::tempdir().unwrap();
    let inst = Installer::new(data.path(), Some(Mirror::Dir(mirror.path().to_path_buf())));
    assert!(matches!(
        inst.install(m.get("speech").unwrap()).unwrap(),
        Outcome::Installed { .. }
    ));
    assert_eq!(
        std::fs::read(data.path().join("speech/recordings/0_a_0.wav")).unwrap(),
        good
    );
}
