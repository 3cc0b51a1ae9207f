//! Train metrics accumulated on the device (losses, correct counts, batch sizes) and read once per epoch, so
//! that a step never waits for the device. The transfer term's slots hold a method's discriminator loss and
//! accuracy (`domain_loss`, `domain_acc`), zero for methods without one.

use crate::error::StrategyError;
use shift_tensor::tch::{Device, Kind, Tensor};

/// Means over the steps since the last read.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StepMetrics {
    #[serde(skip)]
    pub steps: usize,
    pub class_loss: f64,
    pub label_acc: f64,
    pub domain_loss: f64,
    pub domain_acc: f64,
}

/// Accumulators: [class loss, label correct, labelled count, domain loss, domain correct, domain count].
const LEN: i64 = 6;

#[derive(Debug)]
pub struct DeviceMetrics {
    acc: Tensor,
    steps: usize,
}

impl DeviceMetrics {
    pub fn new(device: Device) -> Self {
        Self {
            acc: Tensor::zeros([LEN], (Kind::Double, device)),
            steps: 0,
        }
    }

    /// Adds one step's six values (0-dim tensors on the device); in place, so the address stays fixed.
    pub fn add(&mut self, values: &[Tensor]) {
        let _ = self.acc.g_add_(&Tensor::stack(values, 0).to_kind(Kind::Double));
    }

    /// The accumulator tensor (a shallow handle; a step adds to it in place).
    pub fn accumulator(&self) -> Tensor {
        self.acc.shallow_clone()
    }

    pub fn step_done(&mut self) {
        self.steps += 1;
    }

    /// Reads and resets the accumulators (one device sync): means per step and accuracies. A failed read, or a
    /// read after no step, is an error (never a NaN that would look like divergence, nor losses of 0.0).
    pub fn take(&mut self) -> Result<StepMetrics, StrategyError> {
        let v = Vec::<f64>::try_from(&self.acc)
            .map_err(|e| StrategyError::Other(format!("cannot read the train metrics from the device: {e}")))?;
        if v.len() != LEN as usize {
            return Err(StrategyError::Other(format!(
                "the train metrics hold {} values, expected {LEN}",
                v.len()
            )));
        }
        if self.steps == 0 {
            return Err(StrategyError::Other(
                "the train metrics were read after no step: an epoch of no steps has no losses".into(),
            ));
        }
        let _ = self.acc.zero_();
        let steps = std::mem::take(&mut self.steps);
        let per_step = |x: f64| x / steps as f64;
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        Ok(StepMetrics {
            steps,
            class_loss: per_step(v[0]),
            label_acc: ratio(v[1], v[2]),
            domain_loss: per_step(v[3]),
            domain_acc: ratio(v[4], v[5]),
        })
    }

    /// `metrics.acc` and `metrics.steps` for a checkpoint (copies).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        vec![
            ("metrics.acc".into(), self.acc.copy()),
            ("metrics.steps".into(), Tensor::from(self.steps as i64)),
        ]
    }

    /// Restores what [`state`](Self::state) saved.
    pub fn load(&mut self, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
        let acc = crate::state::get(named, "metrics.acc")?;
        shift_tensor::tch::no_grad(|| self.acc.copy_(acc));
        self.steps = crate::state::get(named, "metrics.steps")?.int64_value(&[]) as usize;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_are_per_step_and_a_read_after_no_step_is_an_error() {
        let mut m = DeviceMetrics::new(Device::Cpu);
        let e = m.take().unwrap_err().to_string();
        assert!(e.contains("after no step"), "{e}");
        for (loss, correct) in [(2.0, 3.0), (1.0, 1.0)] {
            let v: Vec<Tensor> = [loss, correct, 4.0, 0.5, 2.0, 8.0]
                .iter()
                .map(|&x| Tensor::from(x))
                .collect();
            m.add(&v);
            m.step_done();
        }
        let got = m.take().unwrap();
        assert_eq!(
            got,
            StepMetrics {
                steps: 2,
                class_loss: 1.5,
                label_acc: 0.5,
                domain_loss: 0.5,
                domain_acc: 0.25,
            }
        );
        // The read resets: the next epoch starts from nothing.
        assert!(m.take().is_err());
    }
}
