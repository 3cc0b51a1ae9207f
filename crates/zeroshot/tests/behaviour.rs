//! What makes each method zero-shot: trained on seven digits' examples, it recognises the other three from their
//! seven-segment codes alone, and only through those codes (give the unseen classes each other's codes and it
//! names each one as the class whose code it was given).

use shift_tensor::tch::{Device, Kind, Tensor};
use shift_zeroshot::attributes::{signatures, Split};
use shift_zeroshot::dap::{Dap, DapFit};
use shift_zeroshot::eszsl::Eszsl;
use shift_zeroshot::metrics::{per_class_accuracy, predict};

/// Examples whose features are their class's code through a fixed random map, plus noise: `n` per class of
/// `classes`, features `[n * classes, 32]` and the digit of each.
fn examples(classes: &[usize], n: i64) -> (Tensor, Tensor) {
    let map = Tensor::randn([7, 32], (Kind::Float, Device::Cpu));
    let y = Tensor::from_slice(&classes.iter().map(|&c| c as i64).collect::<Vec<_>>())
        .repeat_interleave_self_int(n, 0, None);
    let codes = signatures(Device::Cpu).index_select(0, &y);
    let x = codes.matmul(&map) + Tensor::randn([y.size()[0], 32], (Kind::Float, Device::Cpu)) * 0.3;
    (x, y)
}

/// The rows of the ten codes for `classes`.
fn codes_of(classes: &[usize]) -> Tensor {
    let rows = Tensor::from_slice(&classes.iter().map(|&c| c as i64).collect::<Vec<_>>());
    signatures(Device::Cpu).index_select(0, &rows)
}

/// The unseen classes' per-class accuracy of `method` trained on the seen classes' examples, scoring the unseen
/// examples against `codes` (one row per unseen class).
fn unseen_accuracy(method: &str, split: &Split, codes: &Tensor) -> f64 {
    shift_tensor::seed_everything(3);
    let all: Vec<usize> = (0..10).collect();
    let (x, y) = examples(&all, 200);
    let mask_of = |classes: &[usize]| {
        let mut m = y.eq(-1);
        for &c in classes {
            m = m.logical_or(&y.eq(c as i64));
        }
        m
    };
    let (seen_mask, unseen_mask) = (mask_of(&split.seen), mask_of(&split.unseen));
    let (xs, ys) = (x.index(&[Some(&seen_mask)]), y.index(&[Some(&seen_mask)]));
    // Labels as rows of the seen classes' codes.
    let lookup = Tensor::full([10], -1, (Kind::Int64, Device::Cpu));
    for (i, &c) in split.seen.iter().enumerate() {
        let _ = lookup.get(c as i64).fill_(i as i64);
    }
    let rows = lookup.index_select(0, &ys);
    let (xu, yu) = (x.index(&[Some(&unseen_mask)]), y.index(&[Some(&unseen_mask)]));
    let seen_codes = codes_of(&split.seen);
    let scores = match method {
        "eszsl" => Eszsl::fit(&xs, &rows, &seen_codes, 1.0, 1.0)
            .unwrap()
            .scores(&xu, codes)
            .unwrap(),
        _ => Dap::fit(&xs, &rows, &seen_codes, DapFit::default())
            .unwrap()
            .scores(&xu, codes)
            .unwrap(),
    };
    per_class_accuracy(&predict(&scores, &split.unseen).unwrap(), &yu, &split.unseen).unwrap()
}

#[test]
fn both_methods_recognise_unseen_digits_from_their_codes_and_only_through_them() {
    let split = Split::with_unseen(&[0, 4, 7]).unwrap();
    let right = codes_of(&split.unseen);
    // Each unseen class given the next one's code.
    let swapped = codes_of(&[4, 7, 0]);
    for method in ["eszsl", "dap"] {
        let with_codes = unseen_accuracy(method, &split, &right);
        let swapped_codes = unseen_accuracy(method, &split, &swapped);
        assert!(
            with_codes > 0.9,
            "{method}: {with_codes} on unseen classes with their codes"
        );
        assert!(swapped_codes < 0.1, "{method}: {swapped_codes} with the codes swapped");
    }
}
