//! What the fixture tests share: reading a PyTorch fixture (`fixtures/<method>/<method>_loss.json`),
//! comparing tensors, taking turns at libtorch's generator, and a silent observer.
#![allow(dead_code)] // each test file uses a different part of these helpers

use serde_json::Value;
use shift_tensor::tch::Tensor;

/// The fixture `fixtures/<method>/<method>_loss.json`.
pub fn fixture(method: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/{method}/{method}_loss.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A (nested) JSON array as a double tensor.
pub fn tensor(v: &Value) -> Tensor {
    match v {
        Value::Array(rows) if rows.first().is_some_and(Value::is_array) => {
            Tensor::stack(&rows.iter().map(tensor).collect::<Vec<_>>(), 0)
        }
        Value::Array(xs) => Tensor::from_slice(&xs.iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>()),
        other => panic!("not an array: {other}"),
    }
}

/// The largest absolute difference of two tensors of one shape.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// libtorch's generator is process-wide and tests run on parallel threads: tests that draw from it take turns.
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// An observer that records nothing and never stops a run.
#[derive(Default)]
pub struct Quiet;

impl shift_strategies::Observer for Quiet {
    fn stop_requested(&self) -> bool {
        false
    }
    fn on_epoch(
        &mut self,
        _r: &shift_strategies::EpochRecord,
        _n: shift_strategies::Position,
        _s: &dyn shift_strategies::Strategy,
    ) -> Result<(), shift_strategies::StrategyError> {
        Ok(())
    }
    fn on_interrupt(
        &mut self,
        _n: shift_strategies::Position,
        _s: &dyn shift_strategies::Strategy,
    ) -> Result<(), shift_strategies::StrategyError> {
        Ok(())
    }
}
