//! Every validator against its formula computed by PyTorch (`tests/fixtures/validators.py`), and the errors for
//! bad input.

use shift_tensor::tch::{Kind, Tensor};
use shift_validators::{
    Bnm, ClassAmi, Dev, Entropy, InfoMax, Predictions, ReverseValidation, Snd, SourceAccuracy, SourceSplit, Validator,
};

const TOL: f64 = 1e-10;

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/validators.json")).unwrap()
}

fn matrix(v: &serde_json::Value) -> Tensor {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    Tensor::from_slice2(&rows)
}

fn inputs(fx: &serde_json::Value) -> Predictions {
    let labels: Vec<i64> = serde_json::from_value(fx["source_labels"].clone()).unwrap();
    Predictions {
        target_logits: matrix(&fx["target_logits"]),
        target_features: Some(matrix(&fx["target_features"])),
        source: Some(SourceSplit {
            logits: matrix(&fx["source_logits"]),
            labels: Tensor::from_slice(&labels),
            features: Some(matrix(&fx["source_split_features"])),
        }),
        source_train_features: Some(matrix(&fx["source_train_features"])),
        shared: Default::default(),
    }
}

#[test]
fn every_validator_matches_the_pytorch_fixture() {
    let fx = fixture();
    let p = inputs(&fx);
    let snd = Snd {
        temperature: fx["snd_temperature"].as_f64().unwrap(),
    };
    let l2 = fx["dev_l2"].as_f64().unwrap();
    let (dev, devn) = (Dev { l2, ..Dev::DEV }, Dev { l2, ..Dev::DEVN });
    // DEV's domain classifier is fitted by Newton's method here and by scikit-learn's Newton-Cholesky solver
    // there, from its own formula of the objective.
    let validators: [(&dyn Validator, &str, f64); 9] = [
        (&Entropy, "entropy", TOL),
        (&InfoMax, "im", TOL),
        (&Bnm, "bnm", TOL),
        (&snd, "snd", TOL),
        (&SourceAccuracy, "source_accuracy", TOL),
        (&dev, "dev", 1e-9),
        (&devn, "devn", 1e-9),
        (&ClassAmi, "class_ami", TOL),
        (&ReverseValidation::default(), "reverse_validation", TOL),
    ];
    for (v, key, tol) in validators {
        assert_eq!(v.name(), key);
        let got = v.score(&p).unwrap();
        let want = fx[key].as_f64().unwrap();
        assert!((got - want).abs() < tol, "{key}: {got} vs the fixture's {want}");
    }
    // Single precision logits are scored in double precision.
    let single = Predictions::target(p.target_logits.to_kind(Kind::Float));
    let got = Entropy.score(&single).unwrap();
    assert!((got - fx["entropy"].as_f64().unwrap()).abs() < 1e-6, "{got}");
    assert_eq!(
        shift_validators::names(),
        [
            "source_accuracy",
            "entropy",
            "im",
            "bnm",
            "snd",
            "dev",
            "devn",
            "class_ami",
            "reverse_validation"
        ]
    );
}

#[test]
fn each_score_ranks_confident_diverse_predictions_above_uniform_ones() {
    let confident = Tensor::from_slice2(&[[8.0f64, 0.0, 0.0], [0.0, 8.0, 0.0], [0.0, 0.0, 8.0], [8.0, 0.0, 0.0]]);
    let uniform = Tensor::zeros([4, 3], (Kind::Double, shift_tensor::tch::Device::Cpu));
    for v in [&Entropy as &dyn Validator, &InfoMax, &Bnm] {
        let (a, b) = (
            v.score(&Predictions::target(confident.shallow_clone())).unwrap(),
            v.score(&Predictions::target(uniform.shallow_clone())).unwrap(),
        );
        assert!(a > b, "{}: {a} vs {b}", v.name());
    }
    // Uniform predictions: every neighbour is as close as every other, SND's entropy is log(N - 1), its maximum.
    let snd = Snd::default().score(&Predictions::target(uniform)).unwrap();
    assert!((snd - 3f64.ln()).abs() < 1e-12, "{snd}");
}

#[test]
fn bad_input_is_refused_naming_the_validator() {
    let case = |v: &dyn Validator, p: Predictions, want: &str| {
        let err = v.score(&p).unwrap_err().to_string();
        assert!(
            err.contains(&format!("validator {}", v.name())) && err.contains(want),
            "{err}"
        );
    };
    let t = |rows: &[[f64; 2]]| Tensor::from_slice2(rows);
    case(
        &Entropy,
        Predictions::target(Tensor::from_slice(&[1.0f64, 2.0])),
        "N x K",
    );
    case(
        &Entropy,
        Predictions::target(Tensor::zeros([0, 3], (Kind::Double, shift_tensor::tch::Device::Cpu))),
        "at least 1",
    );
    case(&Snd::default(), Predictions::target(t(&[[1.0, 2.0]])), "at least 2");
    case(&InfoMax, Predictions::target(t(&[[f64::NAN, 0.0]])), "NaN");
    case(
        &Snd { temperature: 0.0 },
        Predictions::target(t(&[[1.0, 2.0], [0.0, 1.0]])),
        "temperature",
    );
    case(
        &SourceAccuracy,
        Predictions::target(t(&[[1.0, 2.0]])),
        "no held-out source split",
    );
    case(
        &SourceAccuracy,
        Predictions {
            source: Some(SourceSplit {
                logits: t(&[[1.0, 2.0], [2.0, 1.0]]),
                labels: Tensor::from_slice(&[0i64]),
                features: None,
            }),
            ..Predictions::target(t(&[[1.0, 2.0]]))
        },
        "1 labels for 2 predictions",
    );
    let fx = fixture();
    let full = || inputs(&fx);
    case(
        &Dev::DEV,
        Predictions::target(t(&[[1.0, 2.0]])),
        "no held-out source split",
    );
    case(
        &Dev::DEV,
        Predictions {
            source_train_features: None,
            ..full()
        },
        "source training features: not given",
    );
    case(
        &Dev::DEVN,
        Predictions {
            target_features: Some(Tensor::zeros([3, 5], (Kind::Double, shift_tensor::tch::Device::Cpu))),
            ..full()
        },
        "features of different widths",
    );
    case(&Dev { l2: 0.0, ..Dev::DEV }, full(), "l2 must be positive");
    let mut short = full();
    short.source.as_mut().unwrap().features = Some(matrix(&fx["source_split_features"]).narrow(0, 0, 3));
    case(&Dev::DEV, short, "3 source split features for 8 predictions");
    case(&ReverseValidation { alpha: -1.0 }, full(), "alpha must be positive");
    case(
        &ReverseValidation::default(),
        Predictions {
            target_features: Some(matrix(&fx["target_features"]).narrow(1, 0, 3)),
            ..full()
        },
        "shapes do not match",
    );
    case(
        &ClassAmi,
        Predictions {
            target_features: None,
            ..full()
        },
        "target features: not given",
    );
    case(
        &ClassAmi,
        Predictions {
            target_features: Some(matrix(&fx["target_features"]).narrow(0, 0, 5)),
            ..full()
        },
        "5 target features for 12 predictions",
    );
    case(
        &ClassAmi,
        Predictions {
            target_features: Some(Tensor::from_slice2(&[[f64::INFINITY; 6]; 12])),
            ..full()
        },
        "NaN or infinite",
    );
}

#[test]
fn reverse_validation_grades_pseudo_labels_on_the_source_split() {
    // Target features in two clusters; the source split sits on the same clusters with labels 0 and 1.
    let x = Tensor::from_slice2(&[
        [0.0f64, 0.0],
        [0.2, 0.1],
        [0.1, 0.2],
        [5.0, 5.0],
        [5.2, 5.1],
        [5.1, 5.2],
    ]);
    let xs = Tensor::from_slice2(&[[0.1f64, 0.1], [5.1, 5.1], [0.0, 0.1], [5.0, 5.2]]);
    let labels = Tensor::from_slice(&[0i64, 1, 0, 1]);
    let score = |pseudo: &[[f64; 2]; 6]| {
        ReverseValidation::default()
            .score(&Predictions {
                target_features: Some(x.shallow_clone()),
                source: Some(SourceSplit {
                    logits: Tensor::zeros([4, 2], (Kind::Double, shift_tensor::tch::Device::Cpu)),
                    labels: labels.shallow_clone(),
                    features: Some(xs.shallow_clone()),
                }),
                ..Predictions::target(Tensor::from_slice2(pseudo))
            })
            .unwrap()
    };
    // Pseudo-labels that follow the clusters as the source labels do, against swapped ones.
    let right = [[5.0, 0.0], [5.0, 0.0], [5.0, 0.0], [0.0, 5.0], [0.0, 5.0], [0.0, 5.0]];
    let swapped = [[0.0, 5.0], [0.0, 5.0], [0.0, 5.0], [5.0, 0.0], [5.0, 0.0], [5.0, 0.0]];
    assert_eq!((score(&right), score(&swapped)), (1.0, 0.0));
}

#[test]
fn class_ami_is_one_when_the_predictions_are_the_feature_clusters_and_low_when_they_are_not() {
    // Two tight, far-apart clusters of features.
    let x = Tensor::from_slice2(&[
        [0.0f64, 0.0],
        [0.1, 0.0],
        [0.0, 0.1],
        [10.0, 10.0],
        [10.1, 10.0],
        [10.0, 10.1],
    ]);
    let agree = Tensor::from_slice2(&[
        [5.0f64, 0.0],
        [5.0, 0.0],
        [5.0, 0.0],
        [0.0, 5.0],
        [0.0, 5.0],
        [0.0, 5.0],
    ]);
    let crossed = Tensor::from_slice2(&[
        [5.0f64, 0.0],
        [0.0, 5.0],
        [5.0, 0.0],
        [0.0, 5.0],
        [5.0, 0.0],
        [0.0, 5.0],
    ]);
    let score = |z: &Tensor| {
        ClassAmi
            .score(&Predictions {
                target_features: Some(x.shallow_clone()),
                ..Predictions::target(z.shallow_clone())
            })
            .unwrap()
    };
    assert!((score(&agree) - 1.0).abs() < 1e-12, "{}", score(&agree));
    assert!(score(&crossed) < 0.1, "{}", score(&crossed));
}

#[test]
fn dev_prefers_the_model_with_the_lower_weighted_source_loss() {
    let fx = fixture();
    let mut bad = inputs(&fx);
    // The same features, but the source split's logits point away from each label.
    let split = bad.source.as_mut().unwrap();
    let one_hot = split.labels.one_hot(4).to_kind(Kind::Double);
    split.logits = &one_hot * -5.0;
    let mut right = inputs(&fx);
    right.source.as_mut().unwrap().logits = one_hot * 5.0;
    for v in [Dev::DEV, Dev::DEVN] {
        let (a, b) = (v.score(&right).unwrap(), v.score(&bad).unwrap());
        assert!(a > b + 1.0, "{}: {a} vs {b}", v.name());
    }
}
