//! The log-mel front end against torchaudio's `MelSpectrogram`, computed by `fixtures/log_mel/log_mel.py`.

use shift_data::log_mel::LogMel;
use shift_tensor::tch::{Device, Kind, Tensor};
use std::path::Path;

fn tensor(v: &serde_json::Value) -> Tensor {
    fn flat(v: &serde_json::Value, out: &mut Vec<f64>, shape: &mut Vec<i64>, depth: usize) {
        match v {
            serde_json::Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len() as i64);
                }
                for item in items {
                    flat(item, out, shape, depth + 1);
                }
            }
            x => out.push(x.as_f64().unwrap()),
        }
    }
    let (mut out, mut shape) = (Vec::new(), Vec::new());
    flat(v, &mut out, &mut shape, 0);
    Tensor::from_slice(&out).view(shape.as_slice())
}

/// In double precision the front end is torchaudio's to 1e-10 everywhere. In single precision, as runs use it,
/// it is within 2e-5 of that double-precision result in every band holding energy (a log-mel value above -6,
/// mel energy above 2.5e-3), and within 1e-3 in the quiet bands near the 1e-6 floor, where float32 rounding of
/// the power spectrum shows through the log. torchaudio's own float32 result is off its double one by 8.6e-6 and
/// 3.1e-4 there: the same order, float32's.
#[test]
fn the_filterbank_and_the_log_mel_spectrogram_match_torchaudio() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log_mel/log_mel.json");
    let fx: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let front = LogMel::FSDD;
    let fb = (front.filterbank(Kind::Double, Device::Cpu) - tensor(&fx["filterbank"]))
        .abs()
        .max()
        .double_value(&[]);
    assert!(fb < 1e-12, "the filterbank differs by {fb}");
    let waves = tensor(&fx["waves"]);
    let max_diff = |kind: Kind, key: &str, above: f64| {
        let got = front.forward(&waves.to_kind(kind)).unwrap();
        let want = tensor(&fx[key]);
        assert_eq!((got.size(), got.kind()), (want.size(), kind));
        let mask = want.gt(above);
        assert!(
            mask.sum(Kind::Int64).int64_value(&[]) > 1000,
            "too few cells above {above}"
        );
        (got.to_kind(Kind::Double) - &want)
            .abs()
            .masked_select(&mask)
            .max()
            .double_value(&[])
    };
    for (kind, key, above, tolerance) in [
        (Kind::Double, "log_mel_double", f64::NEG_INFINITY, 1e-10),
        (Kind::Float, "log_mel_double", -6.0, 2e-5),
        (Kind::Float, "log_mel_double", f64::NEG_INFINITY, 1e-3),
    ] {
        let diff = max_diff(kind, key, above);
        assert!(
            diff < tolerance,
            "{kind:?}, values above {above}: the log-mel spectrogram differs by {diff}"
        );
    }
}
