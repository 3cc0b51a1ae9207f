//! Checkpoint names: a network's variables under `model.`, and lookups of named tensors that say which name is
//! missing or misshapen. The optimisers, the metrics and the strategies all read their state through here.

use crate::error::StrategyError;
use shift_models::pretrained::{copy_named, CopyError};
use shift_models::AdaptNet;
use shift_tensor::tch::Tensor;

/// The network's variables under `model.`.
pub fn model_state(net: &dyn AdaptNet) -> Vec<(String, Tensor)> {
    net.var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("model.{n}"), t))
        .collect()
}

/// Copies `model.*` tensors (a checkpoint's network) into the network's variables, checking names and shapes.
pub fn load_model_state(net: &dyn AdaptNet, named: &[(String, Tensor)]) -> Result<(), StrategyError> {
    copy_named(net.var_store(), named, "", |n| format!("model.{n}")).map_err(|e| {
        StrategyError::Checkpoint(match e {
            CopyError::Missing(key) => format!("`{key}` is missing"),
            CopyError::Shape { key, found, expected } => {
                format!("`{key}` has shape {found:?}, expected {expected:?}")
            }
        })
    })?;
    Ok(())
}

/// A named tensor of a checkpoint, or an error naming it.
pub fn get<'a>(named: &'a [(String, Tensor)], key: &str) -> Result<&'a Tensor, StrategyError> {
    named
        .iter()
        .find(|(n, _)| n == key)
        .map(|(_, t)| t)
        .ok_or_else(|| StrategyError::Checkpoint(format!("`{key}` is missing")))
}

/// A named tensor of a checkpoint that must have `shape`, or an error naming it.
pub fn get_shaped<'a>(named: &'a [(String, Tensor)], key: &str, shape: &[i64]) -> Result<&'a Tensor, StrategyError> {
    let t = get(named, key)?;
    if t.size() != shape {
        return Err(StrategyError::Checkpoint(format!(
            "`{key}` has shape {:?}, expected {shape:?}",
            t.size()
        )));
    }
    Ok(t)
}
