//! The experiment's configuration: serde structs with defaults, filled from a TOML/JSON file and CLI flags,
//! validated (naming the field) and saved into every run folder.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shift_strategies::{MethodName, StepKind, TrainConfig};
use std::path::Path;

/// What `shift experiment dann` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentConfig {
    /// `mnist:mnist-m`, or `office31:A-W` (any of A, D, W).
    pub task: String,
    pub methods: Vec<MethodName>,
    pub seeds: Vec<u64>,
    /// auto, cpu, cuda, cuda:N.
    pub device: String,
    pub deterministic: bool,
    /// Use only the first N labelled source examples (None: all).
    pub source_limit: Option<usize>,
    /// Use only the first N target train examples (None: all).
    pub target_limit: Option<usize>,
    /// Office-31 only: the backbone (resnet50, the default) and its ImageNet weights.
    pub backbone: Option<String>,
    pub pretrained: Option<std::path::PathBuf>,
    /// The train step: eager, or fast (flat optimiser, device-side schedules, CUDA graph on CUDA).
    pub step: StepKind,
    pub train: TrainConfig,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            task: "mnist:mnist-m".into(),
            methods: vec![MethodName::SOURCE_ONLY, MethodName::DANN, MethodName::TARGET_ONLY],
            seeds: vec![0, 1, 2],
            device: "auto".into(),
            deterministic: false,
            source_limit: None,
            target_limit: None,
            backbone: None,
            pretrained: None,
            step: StepKind::Eager,
            train: TrainConfig::default(),
        }
    }
}

/// `--quick`: a few minutes on two CPU cores for three methods and one seed: 5 epochs of 600 steps
/// (3,000 steps, about a third of one pass of the full schedule's 20 epochs x 937 steps).
pub fn quick(mut c: ExperimentConfig) -> ExperimentConfig {
    c.train.epochs = 5;
    c.train.steps_per_epoch = Some(600);
    c
}

/// Reads an experiment configuration from a TOML or (by extension) JSON file; errors name the file.
pub fn load_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--config {}", path.display()))?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(anyhow::Error::from)
    } else {
        toml::from_str(&text).map_err(anyhow::Error::from)
    };
    parsed.with_context(|| format!("--config {}", path.display()))
}

/// Reads an experiment configuration from `--config`: a TOML or JSON file of [`ExperimentConfig`]'s fields, or
/// the config.json a run saved (whose `experiment` holds them), so a run's configuration runs again as it was.
pub fn load_experiment(path: &Path) -> Result<ExperimentConfig> {
    let doc: serde_json::Value = load_file(path)?;
    let is_run = doc.get("experiment").is_some_and(|e| e.is_object()) && doc.get("seed").is_some();
    let fields = if is_run { doc["experiment"].clone() } else { doc };
    serde_json::from_value(fields).with_context(|| format!("--config {}", path.display()))
}

/// The key paths where two configurations differ (`train.lr.lr0`), with both values, leaving out `skip`.
pub fn differences(saved: &serde_json::Value, now: &serde_json::Value, skip: &[&str]) -> Vec<String> {
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, skip: &[&str], out: &mut Vec<String>) {
        if skip.contains(&path) {
            return;
        }
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let null = serde_json::Value::Null;
                    walk(&p, x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), skip, out);
                }
            }
            _ if a != b => out.push(format!("{path} (saved {a}, now {b})")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", saved, now, skip, &mut out);
    out
}

/// A parsed task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    MnistToMnistM,
    Office31 {
        source: shift_data::office31::Domain,
        target: shift_data::office31::Domain,
    },
}

impl Task {
    pub fn parse(s: &str) -> Result<Self> {
        if s == "mnist:mnist-m" || s == "mnist-mnistm" {
            return Ok(Self::MnistToMnistM);
        }
        if let Some(pair) = s.strip_prefix("office31:") {
            if let Some((a, b)) = pair.split_once('-') {
                let (source, target) = (a.parse()?, b.parse()?);
                if source == target {
                    bail!("`task`: `{s}` adapts a domain to itself; pick two different domains");
                }
                return Ok(Self::Office31 { source, target });
            }
        }
        bail!("`task`: unknown task `{s}` (known: mnist:mnist-m, office31:A-W, D-W, W-D, A-D, D-A, W-A)")
    }

    /// Refuses a train step the task has no implementation of: the fast step is the digit net's.
    pub fn check_step(self, step: StepKind) -> Result<()> {
        if step == StepKind::Fast && matches!(self, Self::Office31 { .. }) {
            bail!("`step`: the fast step covers the digit task; Office-31 runs the eager step");
        }
        Ok(())
    }

    /// A name for folders: `mnist-mnistm`, `office31-A-W`.
    pub fn slug(self) -> String {
        match self {
            Self::MnistToMnistM => "mnist-mnistm".into(),
            Self::Office31 { source, target } => format!("office31-{}-{}", source.letter(), target.letter()),
        }
    }
}

impl ExperimentConfig {
    pub fn validate(&self) -> Result<Task> {
        let task = Task::parse(&self.task)?;
        if self.methods.is_empty() {
            bail!("`methods`: give at least one method");
        }
        if self.seeds.is_empty() {
            bail!("`seeds`: give at least one seed");
        }
        if self.source_limit == Some(0) || self.target_limit == Some(0) {
            bail!("`source_limit`/`target_limit`: must be at least 1");
        }
        self.device
            .parse::<shift_tensor::DeviceSpec>()
            .map_err(|e| anyhow::anyhow!("`device`: {e}"))?;
        match task {
            Task::MnistToMnistM => {
                if let Some(b) = &self.backbone {
                    bail!("`backbone`: `{b}` is for Office-31; the digit task trains the paper's digit net");
                }
                if let Some(p) = &self.pretrained {
                    bail!(
                        "`pretrained`: {} is for Office-31's ResNet-50; the digit task starts from random weights",
                        p.display()
                    );
                }
            }
            Task::Office31 { .. } => {
                if let Some(b) = self.backbone.as_ref().filter(|b| *b != "resnet50") {
                    bail!("`backbone`: `{b}` is not supported on Office-31 (resnet50)");
                }
                if self.source_limit.is_some() || self.target_limit.is_some() {
                    bail!(
                        "`source_limit`/`target_limit`: the digit task's; an Office-31 run trains on every image \
                         of both domains"
                    );
                }
            }
        }
        task.check_step(self.step)?;
        if self.step == StepKind::Fast {
            for &m in &self.methods {
                shift_strategies::fast::check_capturable(m)?;
            }
        }
        self.train.validate()?;
        Ok(task)
    }
}
