//! Loading pretrained weights by name: torchvision ResNet-50 files (safetensors, or tch's `.ot`) into
//! `features.backbone.`, and shift checkpoints into any part.

use shift_tensor::tch::{nn, Tensor};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PretrainedError {
    #[error("{path}: cannot read weights: {msg}")]
    Read { path: PathBuf, msg: String },
    #[error("{path}: tensor `{name}` has shape {found:?}, the model expects {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    #[error("{path}: the model needs `{name}`, which the file lacks")]
    Missing { path: PathBuf, name: String },
}

/// Reads named tensors from a `.safetensors` file or a tch/libtorch `.ot`/`.pt` archive of named tensors.
pub fn read_named(path: &Path) -> Result<Vec<(String, Tensor)>, PretrainedError> {
    let err = |msg: String| PretrainedError::Read {
        path: path.to_path_buf(),
        msg,
    };
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    let named = if path.extension().is_some_and(|e| e == "safetensors") {
        Tensor::read_safetensors(path)
    } else {
        Tensor::load_multi(path)
    };
    named.map_err(|e| err(e.to_string()))
}

/// Copies tensors named `<source name>` into the variables named `<prefix><source name>` for every variable
/// under `prefix` (e.g. `features.backbone.` for a torchvision ResNet-50 file, whose `fc.*` is ignored).
/// Batch-norm running statistics are buffers in tch's VarStore too, so they load the same way.
/// Returns how many variables were set.
pub fn load_into(vs: &mut nn::VarStore, path: &Path, prefix: &str) -> Result<usize, PretrainedError> {
    let named = read_named(path)?;
    let by_name: std::collections::HashMap<&str, &Tensor> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut set = 0;
    let mut vars = vs.variables();
    let mut names: Vec<String> = vars.keys().filter(|n| n.starts_with(prefix)).cloned().collect();
    names.sort();
    for name in names {
        let short = &name[prefix.len()..];
        let Some(src) = by_name.get(short) else {
            return Err(PretrainedError::Missing {
                path: path.to_path_buf(),
                name: short.to_string(),
            });
        };
        let dst = vars.get_mut(&name).expect("listed above");
        if src.size() != dst.size() {
            return Err(PretrainedError::Shape {
                path: path.to_path_buf(),
                name: short.to_string(),
                found: src.size(),
                expected: dst.size(),
            });
        }
        shift_tensor::tch::no_grad(|| dst.copy_(src));
        set += 1;
    }
    Ok(set)
}
