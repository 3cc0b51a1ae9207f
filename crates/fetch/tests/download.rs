//! Download tests against an HTTP server on 127.0.0.1 (good, corrupted and cut-off files) and a local mirror.

mod common;

use common::{serve, Route};
use shift_fetch::manifest::is_relative_clean;
use shift_fetch::{FetchError, Installer, Manifest, Mirror, Outcome};
use std::collections::HashMap;
use std::path::Path;

fn sha256(bytes: &[u8]) -> String {
    shift_fetch::verify::sha256_reader(bytes).unwrap()
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn manifest_for(sum: &str) -> Manifest {
    let text = format!(
        r#"version = 1
[[artifact]]
name = "blob"
folder = "blob"
about = "test data"
mirror_dir = "blobs"
[[artifact.file]]
path = "data.bin"
sha256 = "{sum}"
"#
    );
    Manifest::parse(&text, Path::new("test-manifest.toml")).unwrap()
}

/// Nothing but finished artifacts (and the resumable-download folder) may sit in the data folder.
fn leftovers(data: &Path) -> Vec<String> {
    std::fs::read_dir(data)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn good_file_over_http_installs_with_marker_and_second_run_is_a_no_op() {
    let body = payload(300_000);
    let routes = HashMap::from([(
        "/blobs/data.bin".to_string(),
        Route {
            body: body.clone(),
            cut_first_at: None,
        },
    )]);
    let server = serve(routes, 4);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_for(&sha256(&body));
    let inst = Installer::new(dir.path(), Some(Mirror::parse(&server.base).unwrap()));
    let out = inst.install(m.get("blob").unwrap()).unwrap();
    assert!(
        matches!(out, Outcome::Installed { ref from } if from.contains("127.0.0.1")),
        "{out:?}"
    );
    assert_eq!(std::fs::read(dir.path().join("blob/data.bin")).unwrap(), body);
    assert!(dir.path().join("blob/.complete").is_file());
    assert_eq!(inst.install(m.get("blob").unwrap()).unwrap(), Outcome::Present);
    assert_eq!(
        server.log.lock().unwrap().len(),
        1,
        "the second run must download nothing"
    );
}

#[test]
fn corrupted_file_is_refused_and_nothing_is_left_behind() {
    let good = payload(50_000);
    let mut bad = good.clone();
    bad[1234] ^= 0xff;
    let routes = HashMap::from([(
        "/blobs/data.bin".to_string(),
        Route {
            body: bad,
            cut_first_at: None,
        },
    )]);
    let server = serve(routes, 2);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_for(&sha256(&good));
    let inst = Installer::new(dir.path(), Some(Mirror::parse(&server.base).unwrap()));
    let err = inst.install(m.get("blob").unwrap()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, FetchError::NoSource { .. }));
    assert!(msg.contains("checksum mismatch") && msg.contains("data.bin"), "{msg}");
    assert!(!dir.path().join("blob").exists());
    let left = leftovers(dir.path());
    assert!(left.iter().all(|n| n == ".downloads"), "left behind: {left:?}");
    assert_eq!(
        leftovers(&dir.path().join(".downloads/blob")),
        Vec::<String>::new(),
        "a wrong .part must go"
    );
}

#[test]
fn cut_off_transfer_is_kept_and_resumed_with_a_range_request() {
    let body = payload(200_000);
    let routes = HashMap::from([(
        "/blobs/data.bin".to_string(),
        Route {
            body: body.clone(),
            cut_first_at: Some(80_000),
        },
    )]);
    let server = serve(routes, 3);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_for(&sha256(&body));
    let inst = Installer::new(dir.path(), Some(Mirror::parse(&server.base).unwrap()));
    let err = inst.install(m.get("blob").unwrap()).unwrap_err().to_string();
    assert!(err.contains("cut off after 80000 of 200000 bytes"), "{err}");
    assert!(!dir.path().join("blob").exists(), "no half artifact");
    let part = dir.path().join(".downloads/blob/data.bin.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 80_000);
    let out = inst.install(m.get("blob").unwrap()).unwrap();
    assert!(matches!(out, Outcome::Installed { .. }));
    assert_eq!(std::fs::read(dir.path().join("blob/data.bin")).unwrap(), body);
    let log = server.log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].1, None);
    assert_eq!(log[1].1.as_deref(), Some("bytes=80000-"));
    assert!(!part.exists());
}

#[test]
fn missing_file_on_the_server_names_the_url() {
    let server = serve(HashMap::new(), 1);
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_for(&sha256(b"x"));
    let inst = Installer::new(dir.path(), Some(Mirror::parse(&server.base).unwrap()));
    let msg = inst.install(m.get("blob").unwrap()).unwrap_err().to_string();
    assert!(msg.contains("/blobs/data.bin") && msg.contains("HTTP 404"), "{msg}");
}

#[test]
fn local_mirror_folder_and_its_errors() {
    let mirror = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(mirror.path().join("blobs")).unwrap();
    let body = payload(1000);
    std::fs::write(mirror.path().join("blobs/data.bin"), &body).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = manifest_for(&sha256(&body));
    let inst = Installer::new(
        dir.path(),
        Some(Mirror::parse(mirror.path().to_str().unwrap()).unwrap()),
    );
    assert!(matches!(
        inst.install(m.get("blob").unwrap()).unwrap(),
        Outcome::Installed { .. }
    ));
    let e = Mirror::parse("/definitely/not/here").unwrap_err().to_string();
    assert!(
        e.contains("/definitely/not/here") && e.contains("does not exist"),
        "{e}"
    );
    // Without a mirror and without canonical URLs there is no source at all.
    let none = Installer::new(dir.path().join("other"), None);
    let e = none.install(m.get("blob").unwrap()).unwrap_err().to_string();
    assert!(e.contains("no mirror given"), "{e}");
}

#[test]
fn manifest_errors_name_the_problem() {
    let origin = Path::new("datasets/manifest.toml");
    let base = r#"version = 1
[[artifact]]
name = "a"
folder = "a"
about = "x"
"#;
    let cases = [
        (format!("{base}[[artifact.file]]\npath = \"f\"\nsha256 = \"abc\"\n"), "is not a sha256"),
        (format!("{base}[[artifact.file]]\npath = \"../f\"\n"), "plain relative path"),
        (format!("{base}[[artifact.archive]]\nurls = [\"u\"]\nextract = \"zip\"\n[[artifact.count]]\ndir = \"d\"\next = \"x\"\nn = 1\n"), "only tar.gz"),
        (base.to_string(), "needs at least one file or count"),
        (base.replace("version = 1", "version = 2"), "version 2 is not supported"),
        (format!("{base}bogus = 1\n"), "unknown field"),
        (
            format!("{base}convert = {{ from = \"w.pth\", to = \"w.safetensors\" }}\n[[artifact.file]]\npath = \"f\"\n"),
            "convert.from `w.pth` is not one of the artifact's files",
        ),
        (
            format!("{base}convert = {{ from = \"f\", to = \"../w\" }}\n[[artifact.file]]\npath = \"f\"\n"),
            "convert.to `../w` must be a new plain relative path",
        ),
    ];
    for (text, expected) in cases {
        let e = Manifest::parse(&text, origin).unwrap_err().to_string();
        assert!(
            e.contains("datasets/manifest.toml") && e.contains(expected),
            "{expected}: {e}"
        );
    }
    let m = manifest_for(&sha256(b""));
    let e = m.get("nope").unwrap_err().to_string();
    assert_eq!(e, "unknown data set `nope` (known: blob)");
    assert!(is_relative_clean("a/b.png") && !is_relative_clean("/etc") && !is_relative_clean("a/../b"));
}

#[test]
fn the_project_manifest_parses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/manifest.toml");
    let m = Manifest::load(&path).unwrap();
    assert_eq!(
        m.names(),
        [
            "mnist",
            "bsds500",
            "mnist-m",
            "mnist-m-rebuilt",
            "office31",
            "resnet50-imagenet",
            "amazon-reviews",
            "fsdd"
        ]
    );
    let fsdd = m.get("fsdd").unwrap();
    assert_eq!(
        (fsdd.files.len(), fsdd.counts[0].n, fsdd.wavs[0].sample_rate),
        (3000, 3000, 8000)
    );
    let weights = m.get("resnet50-imagenet").unwrap();
    let convert = weights.convert.as_ref().unwrap();
    assert_eq!(
        (convert.from.as_str(), convert.to.as_str()),
        ("resnet50-0676ba61.pth", "resnet50.safetensors")
    );
    // torch.hub's own check: the digest starts with the 8 hex digits in the published file name.
    assert!(weights.files[0].sha256.as_deref().unwrap().starts_with("0676ba61"));
    assert_eq!(m.get("bsds500").unwrap().files.len(), 200);
    assert_eq!(m.get("mnist-m").unwrap().rebuild.as_deref(), Some("mnist-m"));
    // Every data set says under which terms it is distributed.
    for name in m.names() {
        let licence = m.get(&name).unwrap().licence.as_deref().unwrap_or_default();
        assert!(licence.len() > 10, "{name} names no licence");
    }
    // The rebuilt train split of `--mnist-m rebuilt` is made here only, with the released set's labels.
    let rebuilt = m.get("mnist-m-rebuilt").unwrap();
    assert!(!rebuilt.has_sources() && m.get("mnist-m").unwrap().has_sources());
    assert_eq!(rebuilt.rebuild.as_deref(), Some("mnist-m"));
    assert_eq!(
        rebuilt.files.iter().map(|f| &f.sha256).collect::<Vec<_>>(),
        m.get("mnist-m")
            .unwrap()
            .files
            .iter()
            .map(|f| &f.sha256)
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_artifact_with_no_source_needs_a_rebuild_recipe_and_installs_as_needing_one() {
    let artifact = |recipe: &str| {
        format!(
            "version = 1\n[[artifact]]\nname = \"made\"\nfolder = \"made\"\nabout = \"x\"\n{recipe}\n\
             [[artifact.count]]\ndir = \".\"\next = \"png\"\nn = 1\n"
        )
    };
    let e = Manifest::parse(&artifact(""), Path::new("m.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("artifact `made`: has no source") && e.contains("no `rebuild` recipe"),
        "{e}"
    );
    let m = Manifest::parse(&artifact("rebuild = \"mnist-m\""), Path::new("m.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outcome = Installer::new(dir.path(), None)
        .install(m.get("made").unwrap())
        .unwrap();
    let Outcome::NeedsRebuild { tried } = outcome else {
        panic!("expected a rebuild, got {outcome:?}")
    };
    assert_eq!(tried, "the manifest lists no source: it is made from other artifacts");
}
