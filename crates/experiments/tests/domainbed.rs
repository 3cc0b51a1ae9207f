//! DomainBed's protocol on the run driver, a few steps of each of its algorithms on small synthetic domains
//! (what CI runs; the table's runs are in docs/runs/domainbed): each run's folder, its selection scores per
//! epoch, the leave-one-domain-out runs, the three selections and the table beside DomainBed's numbers.

use shift_data::domainbed::Domain;
use shift_experiments::config::ExperimentConfig;
use shift_experiments::domainbed::{self, DataSet, Selection, LEFT_OUT, ORACLE, TRAIN_DOMAIN};
use shift_experiments::Task;
use shift_strategies::MethodName;
use shift_tensor::tch::{Device, Kind, Tensor};
use std::sync::atomic::AtomicBool;

/// Three ColoredMNIST-shaped domains of 40 images: two channels, binary classes.
fn domains() -> Vec<Domain> {
    shift_tensor::seed_everything(0);
    ["+90%", "+80%", "-90%"]
        .iter()
        .map(|n| Domain {
            name: n.to_string(),
            x: Tensor::rand([40, 2, 28, 28], (Kind::Float, Device::Cpu)),
            y: Tensor::randint(2, [40], (Kind::Int64, Device::Cpu)),
        })
        .collect()
}

#[test]
fn every_domainbed_algorithm_runs_a_few_steps_and_the_three_selections_read_its_runs() {
    let task = Task::parse("colored-mnist:-90%").unwrap();
    let methods = [
        "erm", "irm", "vrex", "groupdro", "mixup", "dg-coral", "mmd", "dg-dann", "cdann",
    ];
    let mut cfg = task.defaults(ExperimentConfig {
        task: "colored-mnist:-90%".into(),
        methods: methods.iter().map(|m| m.parse().unwrap()).collect(),
        seeds: vec![0],
        device: "cpu".into(),
        ..Default::default()
    });
    cfg.train.epochs = 2;
    cfg.train.steps_per_epoch = Some(2);
    cfg.train.batch = 8;
    cfg.validate().unwrap();
    let out = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let domains = domains();
    let run = |left_out| {
        domainbed::run_domain(
            out.path(),
            DataSet::ColoredMnist,
            &cfg,
            &domains,
            2,
            left_out,
            Device::Cpu,
            &stop,
            false,
        )
        .unwrap()
        .unwrap()
    };
    let main = run(None);
    let held: Vec<_> = [0, 1].into_iter().flat_map(|v| run(Some(v))).collect();
    assert_eq!((main.len(), held.len()), (9, 18));
    for r in &main {
        assert!(out
            .path()
            .join(format!("colored-mnist-env2/{}/seed0/result.json", r.method))
            .is_file());
        assert_eq!(r.accuracy_per_epoch.len(), 2, "{}", r.method);
        for key in [TRAIN_DOMAIN, ORACLE] {
            let scores = &r.validators_per_epoch[key];
            assert!(
                scores.len() == 2 && scores.iter().all(|s| (0.0..=1.0).contains(s)),
                "{}: {key}",
                r.method
            );
        }
        assert!(!r.validators_per_epoch.contains_key(LEFT_OUT));
        let mine: Vec<_> = held.iter().filter(|h| h.method == r.method).collect();
        assert!(mine.iter().all(|h| h.validators_per_epoch[LEFT_OUT].len() == 2));
        // The oracle is the last epoch's test accuracy; the others one of the epochs'.
        assert_eq!(
            domainbed::select(Selection::Oracle, r, &mine),
            r.accuracy_per_epoch.last().copied()
        );
        for s in [Selection::TrainingDomain, Selection::LeaveOneOut] {
            let v = domainbed::select(s, r, &mine).unwrap();
            assert!(r.accuracy_per_epoch.contains(&v), "{}: {s:?}", r.method);
        }
        assert_eq!(domainbed::select(Selection::LeaveOneOut, r, &[]), None);
    }
    let rows = domainbed::published_rows(DataSet::ColoredMnist, Selection::Oracle, &cfg.methods, &[2]);
    assert_eq!(rows.len(), 9);
    assert_eq!(rows[1], ["irm (DomainBed, published)", "58.5 +- 3.3", "-"]);
}

#[test]
fn each_selection_picks_the_epoch_its_scores_say() {
    let run = |acc: Vec<f64>, train: Vec<f64>, left: Option<Vec<f64>>| {
        let mut v = serde_json::json!({
            "method": "erm", "seed": 0, "target_acc": acc[acc.len() - 1], "oracle_best_acc": 0.0, "epochs": acc.len(),
            "wall_s": 1.0, "device": "Cpu", "accuracy_per_epoch": acc,
            "validators_per_epoch": { TRAIN_DOMAIN: train },
        });
        if let Some(l) = left {
            v["validators_per_epoch"][LEFT_OUT] = serde_json::json!(l);
        }
        serde_json::from_value::<shift_experiments::run_folder::RunResult>(v).unwrap()
    };
    let main = run(vec![0.1, 0.5, 0.3], vec![0.9, 0.7, 0.8], None);
    let a = run(vec![0.0; 3], vec![0.0; 3], Some(vec![0.2, 0.6, 0.4]));
    let b = run(vec![0.0; 3], vec![0.0; 3], Some(vec![0.2, 0.5, 0.1]));
    assert_eq!(domainbed::select(Selection::TrainingDomain, &main, &[]), Some(0.1));
    assert_eq!(domainbed::select(Selection::LeaveOneOut, &main, &[&a, &b]), Some(0.5));
    assert_eq!(domainbed::select(Selection::Oracle, &main, &[]), Some(0.3));
    // A leave-one-out run of another length is not read.
    let short = run(vec![0.0; 2], vec![0.0; 2], Some(vec![0.9, 0.9]));
    assert_eq!(domainbed::select(Selection::LeaveOneOut, &main, &[&a, &short]), None);
}

#[test]
fn the_domainbed_tasks_parse_their_domains_and_refuse_other_methods_and_keys_by_name() {
    assert_eq!(Task::parse("colored-mnist").unwrap().slug(), "colored-mnist-all");
    assert_eq!(Task::parse("rotated-mnist:all").unwrap().slug(), "rotated-mnist-all");
    assert_eq!(Task::parse("rotated-mnist:45").unwrap().slug(), "rotated-mnist-env3");
    assert_eq!(
        Task::parse("colored-mnist:50%").unwrap_err().to_string(),
        "`task`: colored-mnist has no domain `50%` (its domains: +90%, +80%, -90%, or all)"
    );
    let base = |task: &str, methods: &[&str]| {
        let t = Task::parse(task).unwrap();
        t.defaults(ExperimentConfig {
            task: task.into(),
            methods: methods.iter().map(|m| m.parse::<MethodName>().unwrap()).collect(),
            ..Default::default()
        })
    };
    base("colored-mnist:+90%", &["erm", "irm"]).validate().unwrap();
    for (task, methods, says) in [
        (
            "colored-mnist",
            &["erm", "dann"][..],
            "`methods`: dann adapts a labelled source to a target; colored-mnist trains on several source domains",
        ),
        ("colored-mnist", &["coral"][..], "`methods`: coral adapts"),
        (
            "mnist:mnist-m",
            &["irm"][..],
            "`methods`: irm trains on several source domains told apart",
        ),
        (
            "mnist:mnist-m",
            &["dann", "simclr"][..],
            "`methods`: simclr is self-supervised pretraining: it reads no label and trains no label predictor",
        ),
        (
            "colored-mnist",
            &["rotation"][..],
            "`methods`: rotation is self-supervised pretraining",
        ),
        (
            "mnist:mnist-m",
            &["source-only", "l2-sp"][..],
            "`methods`: l2-sp is a fine-tuning regulariser",
        ),
    ] {
        let e = base(task, methods).validate().unwrap_err().to_string();
        assert!(e.starts_with(says), "{task} {methods:?}: {e}");
    }
    let e = base("colored-mnist", &["coral"]).validate().unwrap_err().to_string();
    assert!(e.contains("domains and never sees its test domain"), "{e}");
    assert!(
        e.ends_with("DomainBed's CORAL over the training domains is `dg-coral`"),
        "{e}"
    );
    let c = base("colored-mnist", &["erm"]);
    for (key, says) in [
        (
            "backbone=\"digit\"",
            "`backbone`: `digit` is not a backbone of DomainBed's MNIST data sets (mnist-cnn)",
        ),
        (
            "validation.source_split=0.0",
            "`validation.source_split`: DomainBed's tasks hold out",
        ),
        ("source_limit=10", "`source_limit`/`target_limit`"),
    ] {
        let e = shift_experiments::config::set(&c, &[key.to_string()])
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(says), "{key}: {e}");
    }
    let mut digits = base("mnist:mnist-m", &["dann"]);
    digits.domainbed = Some(Default::default());
    let e = digits.validate().unwrap_err().to_string();
    assert!(e.starts_with("`domainbed`: the keys of the DomainBed tasks"), "{e}");
}
