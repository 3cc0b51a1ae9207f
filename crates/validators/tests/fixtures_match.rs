//! Every validator against its formula computed by PyTorch (`tests/fixtures/validators.py`), and the errors for
//! bad input.

use shift_tensor::tch::{Kind, Tensor};
use shift_validators::{Bnm, Entropy, InfoMax, Predictions, Snd, SourceAccuracy, Validator};

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
        source: Some((matrix(&fx["source_logits"]), Tensor::from_slice(&labels))),
    }
}

#[test]
fn every_validator_matches_the_pytorch_fixture() {
    let fx = fixture();
    let p = inputs(&fx);
    let snd = Snd {
        temperature: fx["snd_temperature"].as_f64().unwrap(),
    };
    let validators: [(&dyn Validator, &str); 5] = [
        (&Entropy, "entropy"),
        (&InfoMax, "im"),
        (&Bnm, "bnm"),
        (&snd, "snd"),
        (&SourceAccuracy, "source_accuracy"),
    ];
    for (v, key) in validators {
        assert_eq!(v.name(), key);
        let got = v.score(&p).unwrap();
        let want = fx[key].as_f64().unwrap();
        assert!((got - want).abs() < TOL, "{key}: {got} vs PyTorch {want}");
    }
    // Single precision logits are scored in double precision.
    let single = Predictions::target(p.target_logits.to_kind(Kind::Float));
    let got = Entropy.score(&single).unwrap();
    assert!((got - fx["entropy"].as_f64().unwrap()).abs() < 1e-6, "{got}");
    assert_eq!(shift_validators::all().len(), 5);
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
            target_logits: t(&[[1.0, 2.0]]),
            source: Some((t(&[[1.0, 2.0], [2.0, 1.0]]), Tensor::from_slice(&[0i64]))),
        },
        "1 labels for 2 predictions",
    );
}
