//! Runtime checks of the gradient reversal layer on one device (what `shift info --self-test` runs).

use crate::{reversal::reverse_reference, reversal::GradientReversal};
use shift_tensor::tch::{Device, Kind, Tensor};

/// One named check and its outcome.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

fn check(name: &'static str, result: Result<String, String>) -> Check {
    match result {
        Ok(detail) => Check {
            name,
            passed: true,
            detail,
        },
        Err(detail) => Check {
            name,
            passed: false,
            detail,
        },
    }
}

/// Back-propagates the upstream gradient `g` into `y` (d sum(y * g) / dy == g exactly).
pub fn backward_with(y: &Tensor, g: &Tensor) {
    (y * g).sum(y.kind()).backward();
}

/// Runs every check on `device` and returns them all (it does not stop at the first failure).
pub fn self_test(device: Device) -> Vec<Check> {
    let grl = GradientReversal;
    let forward_bits = |kind: Kind, transposed: bool| -> Result<String, String> {
        let mut x = Tensor::randn([7, 5], (kind, device));
        if transposed {
            x = x.tr();
        }
        let y = grl.apply(&x, 0.7).map_err(|e| e.to_string())?;
        if y.size() == x.size() && y.equal(&x) {
            Ok(format!(
                "{kind:?}{} bit-identical",
                if transposed { " non-contiguous" } else { "" }
            ))
        } else {
            Err("forward output differs from input".into())
        }
    };
    let grad_exact = || -> Result<String, String> {
        let lambda = 0.37;
        let x = Tensor::randn([6, 4], (Kind::Float, device)).set_requires_grad(true);
        let g = Tensor::randn([6, 4], (Kind::Float, device));
        let y = grl.apply(&x, lambda).map_err(|e| e.to_string())?;
        backward_with(&y, &g);
        let expected = &g * (-lambda);
        if x.grad().equal(&expected) {
            Ok("input gradient == -lambda * upstream, exactly".into())
        } else {
            Err(format!(
                "max difference {}",
                (x.grad() - expected).abs().max().double_value(&[])
            ))
        }
    };
    let lambda_zero = || -> Result<String, String> {
        let x = Tensor::randn([3, 3], (Kind::Float, device)).set_requires_grad(true);
        grl.apply(&x, 0.0)
            .map_err(|e| e.to_string())?
            .sum(Kind::Float)
            .backward();
        let max = x.grad().abs().max().double_value(&[]);
        if max == 0.0 {
            Ok("lambda = 0 stops the gradient".into())
        } else {
            Err(format!("gradient {max} leaked through lambda = 0"))
        }
    };
    let matches_reference = || -> Result<String, String> {
        let x = Tensor::randn([4, 8], (Kind::Double, device));
        let g = Tensor::randn([4, 8], (Kind::Double, device));
        let a = x.detach().set_requires_grad(true);
        let b = x.detach().set_requires_grad(true);
        backward_with(&grl.apply(&a, 0.9).map_err(|e| e.to_string())?, &g);
        backward_with(&reverse_reference(&b, 0.9), &g);
        if a.grad().equal(&b.grad()) {
            Ok("gradient equals the pure-tch formulation".into())
        } else {
            Err("gradient differs from the pure-tch formulation".into())
        }
    };
    vec![
        check("forward f32", forward_bits(Kind::Float, false)),
        check("forward f64", forward_bits(Kind::Double, false)),
        check("forward non-contiguous", forward_bits(Kind::Float, true)),
        check("backward exact", grad_exact()),
        check("lambda zero", lambda_zero()),
        check("pure-tch agreement", matches_reference()),
    ]
}
