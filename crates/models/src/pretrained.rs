//! Loading pretrained weights by name: torchvision ResNet-50 files (converted to safetensors, or tch's `.ot`) into
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

/// Reads named tensors from a `.safetensors` file or a tch/libtorch `.ot`/`.pt` archive of named tensors (what
/// shift's checkpoints are). A Python pickle (`.pth`, `.bin`) is refused with the command that converts it.
pub fn read_named(path: &Path) -> Result<Vec<(String, Tensor)>, PretrainedError> {
    let err = |msg: String| PretrainedError::Read {
        path: path.to_path_buf(),
        msg,
    };
    if !path.is_file() {
        return Err(err("no such file".into()));
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => Tensor::read_safetensors(path).map_err(|e| err(e.to_string())),
        Some("pth" | "bin") => Err(err(format!(
            "a Python pickle (torch.save) is not read directly; convert it with `cargo xtask convert-weights {} \
             OUT.safetensors` (`cargo xtask download resnet50-imagenet` does this for the ImageNet weights)",
            path.display()
        ))),
        _ => Tensor::load_multi(path).map_err(|e| err(e.to_string())),
    }
}

/// Why a named tensor could not be copied into a model variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyError {
    /// The source has no tensor under this key.
    Missing(String),
    Shape {
        key: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
}

/// Copies into every variable whose name starts with `prefix` the source tensor named `key(variable name)`,
/// in name order, checking shapes. Batch-norm running statistics are VarStore variables too. Returns how many
/// variables were set. The one routine behind pretrained weights, checkpoints and fine-tuning starts.
pub fn copy_named(
    vs: &nn::VarStore,
    named: &[(String, Tensor)],
    prefix: &str,
    key: impl Fn(&str) -> String,
) -> Result<usize, CopyError> {
    let by_name: std::collections::HashMap<&str, &Tensor> = named.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut vars: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, dst) in &mut vars {
        let key = key(name);
        let src = by_name
            .get(key.as_str())
            .ok_or_else(|| CopyError::Missing(key.clone()))?;
        if src.size() != dst.size() {
            return Err(CopyError::Shape {
                key,
                found: src.size(),
                expected: dst.size(),
            });
        }
        shift_tensor::tch::no_grad(|| dst.copy_(src));
    }
    Ok(vars.len())
}

/// Copies tensors named `<source name>` into the variables named `<prefix><source name>` for every variable
/// under `prefix` (e.g. `features.backbone.` for a torchvision ResNet-50 file, whose `fc.*` is ignored).
/// Returns how many variables were set.
pub fn load_into(vs: &mut nn::VarStore, path: &Path, prefix: &str) -> Result<usize, PretrainedError> {
    let named = read_named(path)?;
    copy_named(vs, &named, prefix, |n| n[prefix.len()..].to_string()).map_err(|e| match e {
        CopyError::Missing(name) => PretrainedError::Missing {
            path: path.to_path_buf(),
            name,
        },
        CopyError::Shape { key, found, expected } => PretrainedError::Shape {
            path: path.to_path_buf(),
            name: key,
            found,
            expected,
        },
    })
}
