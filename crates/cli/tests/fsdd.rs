//! `shift experiment dann --task fsdd:...` end to end on a small synthetic Free Spoken Digit folder (six
//! speakers, each digit a tone of its own pitch, takes 0-4 the test split and 5-9 the training split): every
//! method of the registry that needs no image runs on the audio CNN; `fsdd:all` prints a row per method and a
//! column per speaker; bad tasks, methods and folders are refused by name.

mod common;

use common::{dann_on, numbers, run_err, run_ok, shift};
use shift_data::fsdd::SPEAKERS;
use shift_strategies::MethodName;
use std::path::{Path, PathBuf};

/// `data/fsdd/recordings/{digit}_{speaker}_{take}.wav`: a quarter second of a tone at 200 + 150 * digit Hz, its
/// loudness the speaker's, with a little noise; marked installed.
fn fsdd_data(root: &Path) -> PathBuf {
    let data = root.join("data");
    let rec = data.join("fsdd/recordings");
    std::fs::create_dir_all(&rec).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut noise = 12345u32;
    for (s, speaker) in SPEAKERS.iter().enumerate() {
        for digit in 0..10 {
            for take in 0..10 {
                let mut w = hound::WavWriter::create(rec.join(format!("{digit}_{speaker}_{take}.wav")), spec).unwrap();
                let f = 200.0 + 150.0 * digit as f64;
                for i in 0..2000 {
                    noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let n = ((noise >> 16) as f64 / 65536.0 - 0.5) * 0.05;
                    let v = (0.2 + 0.1 * s as f64) * (2.0 * std::f64::consts::PI * f * i as f64 / 8000.0).sin() + n;
                    w.write_sample((v * 32767.0) as i16).unwrap();
                }
                w.finalize().unwrap();
            }
        }
    }
    std::fs::write(data.join("fsdd/.complete"), "{}").unwrap();
    data
}

#[test]
fn every_method_without_images_runs_on_the_audio_cnn_and_fsdd_all_prints_a_column_per_speaker() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fsdd_data(tmp.path());
    let data_flag = data.to_str().unwrap();
    // Every adaptation method: the methods over several source domains run on DomainBed's tasks, the
    // fine-tuning regularisers in `experiment finetune`, the multitask weightings in `experiment multitask`.
    let methods: Vec<&str> = MethodName::all()
        .filter(|m| m.data().images.is_none() && !m.data().domains && !m.data().regulariser && !m.data().tasks)
        .map(|m| m.as_str())
        .collect();
    assert!(methods.contains(&"daae") && methods.len() >= 20, "{methods:?}");
    let out = tmp.path().join("one");
    let run = run_ok(&mut dann_on(
        "fsdd:theo",
        &out,
        &["--data", data_flag, "--methods", &methods.join(","), "--epochs", "2"],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(table.contains("Target test accuracy, fsdd-theo"), "{table}");
    let runs = numbers(&out);
    assert_eq!(runs.len(), methods.len());
    for (method, _, acc, per_epoch) in &runs {
        assert_eq!(per_epoch.len(), 2, "{method}");
        assert!((0.0..=1.0).contains(acc), "{method}: {acc}");
    }

    // Each digit is its own pitch: trained long enough, the network hears it in another speaker's takes.
    let long = tmp.path().join("long");
    run_ok(&mut dann_on(
        "fsdd:theo",
        &long,
        &["--data", data_flag, "--methods", "source-only", "--epochs", "8"],
    ));
    let (_, _, acc, _) = &numbers(&long)[0];
    assert!(*acc >= 0.5, "source-only learns the pitches: {acc}");

    let all = tmp.path().join("all");
    let run = run_ok(&mut dann_on(
        "fsdd:all",
        &all,
        &[
            "--data",
            data_flag,
            "--methods",
            "source-only,dann,target-only",
            "--epochs",
            "1",
        ],
    ));
    let table = String::from_utf8_lossy(&run.stdout);
    for expected in [
        "| method | george | jackson | lucas | nicolas | theo | yweweler | average |",
        "| source-only | ",
        "| dann | ",
        "| target-only | ",
        "Accuracy over all 100 of the target speaker's recordings",
        "no paper reports this protocol",
    ] {
        assert!(table.contains(expected), "missing {expected} in:\n{table}");
    }
    let md = std::fs::read_to_string(all.join("results.md")).unwrap();
    assert!(
        md.contains("| method | george | jackson | lucas | nicolas | theo | yweweler | average |"),
        "{md}"
    );
    assert!(md.contains("Accuracy over all 100"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(all.join("results.json")).unwrap()).unwrap();
    assert_eq!(json["test_accuracy"]["dann"].as_array().unwrap().len(), 6);
    for speaker in SPEAKERS {
        assert!(
            all.join(format!("fsdd-{speaker}/dann/seed0/result.json")).is_file(),
            "{speaker}"
        );
    }
    // The report of the folder gives each target speaker's own table, by name.
    let report = run_ok(shift().args(["report", "results"]).arg(&all));
    let report = String::from_utf8_lossy(&report.stdout);
    for speaker in SPEAKERS {
        let title = format!("Target test accuracy, fsdd-{speaker} (last epoch");
        assert_eq!(report.matches(&title).count(), 1, "{title} in:\n{report}");
    }
    assert!(!report.contains("fsdd-all"), "{report}");
}

#[test]
fn bad_speakers_image_methods_daae_elsewhere_and_a_missing_folder_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    for (task, extra, says) in [
        (
            "fsdd:bob",
            &["--methods", "dann"][..],
            "`task`: FSDD speaker: unknown speaker `bob` (known: george, jackson, lucas, nicolas, theo, yweweler)",
        ),
        (
            "fsdd:theo",
            &["--methods", "dann,self-ensembling"][..],
            "`methods`: self-ensembling needs images (",
        ),
        (
            "moons",
            &["--methods", "daae"][..],
            "`methods`: daae needs a latent sequence over time",
        ),
        (
            "fsdd:theo",
            &["--methods", "dann", "--backbone", "digit"][..],
            "`backbone`: `digit` is not a backbone of the spoken digits (audio-cnn)",
        ),
    ] {
        let e = run_err(&mut dann_on(task, &out, extra));
        assert!(e.contains(says), "{task} {extra:?}: {e}");
    }
    let e = run_err(&mut dann_on(
        "fsdd:theo",
        &out,
        &["--data", tmp.path().to_str().unwrap(), "--methods", "dann"],
    ));
    assert!(e.contains("cargo xtask download fsdd"), "{e}");
    let e = run_err(&mut dann_on("fsdd:theo", &out, &["--methods", "dann,self-ensembling"]));
    assert!(e.contains("fsdd:theo is a task of log-mel spectrograms"), "{e}");
}
