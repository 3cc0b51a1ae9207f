//! The experiment's configuration: serde structs with defaults, filled from a TOML/JSON file and CLI flags,
//! validated (naming the field) and saved into every run folder.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use shift_strategies::{MethodName, MethodSpec, StepKind, TrainConfig};
use std::collections::BTreeMap;
use std::path::Path;

/// What `shift experiment dann` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentConfig {
    /// `mnist:mnist-m`, or `office31:A-W` (any of A, D, W).
    pub task: String,
    /// The digit task's MNIST-M train split: the released images, or the ones `shift data rebuild-mnist-m`
    /// makes from MNIST + BSDS500 (in `<data>/mnist_m_rebuilt`). The test split is always the released one.
    pub mnist_m: MnistMTrain,
    /// The Amazon reviews' input: the 5,000 raw counts, or their mSDA representation (Chen et al., ICML 2012; 5
    /// layers, 30,000 values), fitted on the source and target training reviews.
    pub features: Features,
    pub methods: Vec<MethodName>,
    pub seeds: Vec<u64>,
    /// auto, cpu, cuda, cuda:N.
    pub device: String,
    pub deterministic: bool,
    /// Use only the first N labelled source examples (None: all).
    pub source_limit: Option<usize>,
    /// Use only the first N target train examples (None: all).
    pub target_limit: Option<usize>,
    /// The backbone: on digits `digit` (unset: the paper's digit net), `digit-bn`, `vada-cnn` or `vada-cnn-in`;
    /// on Office-31 and image folders `resnet50`.
    pub backbone: Option<String>,
    pub pretrained: Option<std::path::PathBuf>,
    /// The train step: eager, or fast (flat optimiser, device-side schedules, CUDA graph on CUDA).
    pub step: StepKind,
    pub train: TrainConfig,
    /// What the validators score after every epoch (label-free model selection).
    pub validation: crate::selection::ValidationConfig,
    /// Methods' hyper-parameters over the registry's defaults, `params.<method>.<key>` (TOML `[params.mcc]
    /// temperature = 2.5`, or `--set params.mcc.temperature=2.5`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, BTreeMap<String, f64>>,
    /// How the `vectors:` task reads its files and sizes its MLP (`--set vectors.hidden=[100,50]`); unset: the
    /// defaults (saved only where set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vectors: Option<VectorsConfig>,
    /// The DomainBed tasks' keys (`--set domainbed.leave_one_out=false`); unset: the defaults (saved only where
    /// set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainbed: Option<DomainBedConfig>,
}

/// The keys of the DomainBed tasks (`colored-mnist:`, `rotated-mnist:`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainBedConfig {
    /// Whether each test domain also gets the runs that leave-one-domain-out selection reads: one per further
    /// training domain held out (D - 1 more runs per method and seed).
    pub leave_one_out: bool,
}

impl Default for DomainBedConfig {
    fn default() -> Self {
        Self { leave_one_out: true }
    }
}

/// The `vectors:` task's keys: the CSV label column, the svmlight index base, and the `mlp` backbone's layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VectorsConfig {
    /// The CSV column that holds each row's class (a target without it is unlabelled).
    pub label_column: String,
    /// Whether svmlight indices start at 0 (default: at 1, as svmlight writes them).
    pub zero_based: bool,
    /// The widths of the `mlp` backbone's hidden layers.
    pub hidden: Vec<i64>,
    /// The non-linearity after each hidden layer.
    pub activation: Activation,
}

impl Default for VectorsConfig {
    fn default() -> Self {
        Self {
            label_column: "label".into(),
            zero_based: false,
            hidden: vec![64],
            activation: Activation::Relu,
        }
    }
}

/// An MLP's non-linearity (`vectors.activation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    #[default]
    Relu,
    Sigmoid,
}

impl From<Activation> for shift_models::mlp::Activation {
    fn from(a: Activation) -> Self {
        match a {
            Activation::Relu => Self::Relu,
            Activation::Sigmoid => Self::Sigmoid,
        }
    }
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            task: "mnist:mnist-m".into(),
            mnist_m: MnistMTrain::Released,
            features: Features::Raw,
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
            validation: Default::default(),
            params: BTreeMap::new(),
            vectors: None,
            domainbed: None,
        }
    }
}

/// Which MNIST-M images the digit task trains on (`--mnist-m`, key `mnist_m`); it tests on the released test set
/// either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MnistMTrain {
    /// The released MNIST-M train images (`<data>/mnist_m`, `cargo xtask download mnist-m`).
    #[default]
    Released,
    /// MNIST-M's train split rebuilt from MNIST + BSDS500 with the paper's recipe (`<data>/mnist_m_rebuilt`,
    /// `cargo xtask download mnist-m-rebuilt`, seed 0).
    Rebuilt,
}

impl MnistMTrain {
    /// The folder under the data folder that holds the train images.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Released => "mnist_m",
            Self::Rebuilt => "mnist_m_rebuilt",
        }
    }

    /// The data manifest's artifact that installs [`folder`](Self::folder).
    pub fn artifact(self) -> &'static str {
        match self {
            Self::Released => "mnist-m",
            Self::Rebuilt => "mnist-m-rebuilt",
        }
    }
}

impl std::str::FromStr for MnistMTrain {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "released" => Ok(Self::Released),
            "rebuilt" => Ok(Self::Rebuilt),
            _ => bail!("`mnist_m`: unknown MNIST-M train split `{s}` (known: released, rebuilt)"),
        }
    }
}

impl std::fmt::Display for MnistMTrain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Released => "released",
            Self::Rebuilt => "rebuilt",
        })
    }
}

/// The input representation of a vector task (`--features`, key `features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Features {
    /// The data as it is.
    #[default]
    Raw,
    /// Marginalized stacked denoising autoencoders in closed form (`shift_data::msda`).
    Msda,
}

impl std::str::FromStr for Features {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "raw" => Ok(Self::Raw),
            "msda" => Ok(Self::Msda),
            _ => bail!("`features`: unknown representation `{s}` (known: raw, msda)"),
        }
    }
}

/// `--quick`: a first look that shows adaptation, in minutes on two CPU cores: 10 epochs of 600 steps of 32 + 32
/// images (6,000 steps, a third of the full schedule's 20 x 918 steps of 64 + 64, at a quarter of its images).
/// Half as many steps of 64 + 64 (5 x 600) leave DANN 0.00 to 0.07 above source-only over seeds 0, 1, 2.
pub fn quick(mut c: ExperimentConfig) -> ExperimentConfig {
    c.train.epochs = 10;
    c.train.steps_per_epoch = Some(600);
    c.train.batch = 32;
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

/// `value` with `assignments` (`KEY=VALUE`, the key a dotted path such as `train.lr.lr0` or
/// `params.mcc.temperature`) applied in order. A value is read as JSON where it parses (numbers, booleans,
/// arrays, quoted strings), else as a string. Missing tables on the path are created; the result must still be a
/// valid configuration, and errors name the assignment.
pub fn set<T: Serialize + serde::de::DeserializeOwned>(value: &T, assignments: &[String]) -> Result<T> {
    let mut doc = serde_json::to_value(value)?;
    let mut assigned = Vec::new();
    for a in assignments {
        let Some((key, raw)) = a.split_once('=') else {
            bail!("`--set {a}`: give KEY=VALUE (e.g. train.epochs=5)");
        };
        let parts: Vec<String> = key.trim().split('.').map(str::to_string).collect();
        if parts.iter().any(|p| p.is_empty()) {
            bail!("`--set {a}`: `{key}` is not a key path (e.g. params.mcc.temperature)");
        }
        let raw = raw.trim();
        let parsed = serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.into()));
        let mut at = &mut doc;
        for (i, part) in parts.iter().enumerate() {
            if at.is_null() {
                *at = serde_json::Value::Object(Default::default());
            }
            let Some(table) = at.as_object_mut() else {
                bail!("`--set {a}`: `{}` is a value, not a table", parts[..i].join("."));
            };
            at = table.entry(part.clone()).or_insert(serde_json::Value::Null);
        }
        *at = parsed.clone();
        assigned.push((a, parts, parsed));
    }
    let out: T = serde_json::from_value(doc).with_context(|| format!("`--set {}`", assignments.join(" ")))?;
    // A key the configuration does not keep (a misspelt field of a schedule, which serde passes over) is refused.
    let back = serde_json::to_value(&out)?;
    for (a, parts, want) in assigned {
        let got = parts.iter().try_fold(&back, |v, p| v.get(p.as_str()));
        let same = |g: &serde_json::Value| match (g.as_f64(), want.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => *g == want,
        };
        if !got.is_some_and(same) {
            bail!("`--set {a}`: the configuration has no such key, or the value does not apply to it");
        }
    }
    Ok(out)
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

/// Methods' hyper-parameters by method, then key (`params.<method>.<key>`).
pub type Params = BTreeMap<String, BTreeMap<String, f64>>;

/// `method` with the hyper-parameters `params` sets for it over the registry's defaults.
pub fn spec_in(params: &Params, method: MethodName) -> Result<MethodSpec> {
    let none = BTreeMap::new();
    Ok(MethodSpec::new(method, params.get(method.as_str()).unwrap_or(&none))?)
}

/// Every method `params` names is registered and every value it sets meets its rule; errors name the key.
pub fn check_params(params: &Params) -> Result<()> {
    for (method, set) in params {
        let name: MethodName = method.parse().map_err(|e| anyhow::anyhow!("`params.{method}`: {e}"))?;
        MethodSpec::new(name, set)?;
    }
    Ok(())
}

impl ExperimentConfig {
    /// `method` with the hyper-parameters this configuration sets for it (checked by [`validate`]).
    ///
    /// [`validate`]: Self::validate
    pub fn spec(&self, method: MethodName) -> Result<MethodSpec> {
        spec_in(&self.params, method)
    }

    /// The digit task's backbone: `backbone` (unset: the paper's digit net), or an error naming the key.
    pub fn digit_backbone(&self) -> Result<shift_models::DigitBackbone> {
        match &self.backbone {
            None => Ok(Default::default()),
            Some(b) => b
                .parse()
                .map_err(|e| anyhow::anyhow!("`backbone`: {e}; resnet50 is for Office-31 and image folders")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_one(a: &str) -> Result<ExperimentConfig> {
        set(&ExperimentConfig::default(), &[a.to_string()])
    }

    #[test]
    fn set_assigns_by_key_path_and_reads_values_as_json() {
        let c = set(
            &ExperimentConfig::default(),
            &[
                "train.epochs=3".into(),
                "train.lr.lr0=0.02".into(),
                "seeds=[4,5]".into(),
                "task = office31:A-W".into(),
                "deterministic=true".into(),
                "params.cdan.x=1.5".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.train.epochs, 3);
        assert_eq!(c.seeds, [4, 5]);
        assert_eq!(c.task, "office31:A-W");
        assert!(c.deterministic);
        let shift_strategies::LrSchedule::Paper { lr0, .. } = c.train.lr else {
            panic!("the paper's schedule stays")
        };
        assert_eq!(lr0, 0.02);
        assert_eq!(c.params["cdan"]["x"], 1.5);
        // An enum's variant by its tag, the other fields in the same command.
        let fixed = set(
            &c,
            &["train.lambda.kind=constant".into(), "train.lambda.value=1".into()],
        )
        .unwrap();
        assert_eq!(fixed.train.lambda, shift_grl::LambdaSchedule::Constant { value: 1.0 });
        // cdan has no `x`: validation names the key.
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("params.cdan.x"), "{e}");
    }

    #[test]
    fn set_refuses_what_is_not_an_assignment_or_not_a_key() {
        for (a, says) in [
            ("train.epochs", "give KEY=VALUE"),
            ("train..epochs=3", "not a key path"),
            ("train.epochs.x=3", "`train.epochs` is a value, not a table"),
            ("train.epoch=3", "unknown field `epoch`"),
            ("train.epochs=many", "--set train.epochs=many"),
            ("train.lr.lr_0=0.05", "has no such key"),
            (
                "train.optimiser=adamw",
                "unknown variant `adamw`, expected `sgd` or `adam`",
            ),
        ] {
            let e = format!("{:#}", set_one(a).unwrap_err());
            assert!(e.contains(says), "{a}: {e}");
        }
    }

    #[test]
    fn the_mnist_m_train_split_is_a_key_of_the_digit_task_only() {
        assert_eq!(ExperimentConfig::default().mnist_m, MnistMTrain::Released);
        let rebuilt = set_one("mnist_m=rebuilt").unwrap();
        assert_eq!(rebuilt.mnist_m, MnistMTrain::Rebuilt);
        assert_eq!(
            (rebuilt.mnist_m.folder(), rebuilt.mnist_m.artifact()),
            ("mnist_m_rebuilt", "mnist-m-rebuilt")
        );
        rebuilt.validate().unwrap();
        // Saved in config.json by name, and read back the same.
        let json = serde_json::to_value(&rebuilt).unwrap();
        assert_eq!(json["mnist_m"], "rebuilt");
        assert_eq!(serde_json::from_value::<ExperimentConfig>(json).unwrap(), rebuilt);
        let e = format!("{:#}", set_one("mnist_m=fresh").unwrap_err());
        assert!(
            e.contains("unknown variant `fresh`, expected `released` or `rebuilt`"),
            "{e}"
        );
        let e = "fresh".parse::<MnistMTrain>().unwrap_err().to_string();
        assert_eq!(
            e,
            "`mnist_m`: unknown MNIST-M train split `fresh` (known: released, rebuilt)"
        );
        let office = set(&rebuilt, &["task=office31:A-W".into()]).unwrap();
        let e = office.validate().unwrap_err().to_string();
        assert!(
            e.contains("`mnist_m`") && e.contains("office31:A-W has no MNIST-M"),
            "{e}"
        );
    }

    #[test]
    fn adam_is_set_by_key_and_refused_by_the_fast_step() {
        let c = set_one("train.optimiser=adam").unwrap();
        assert_eq!(c.train.update().kind, shift_strategies::OptimiserKind::Adam);
        c.validate().unwrap();
        let fast = set(&c, &["step=fast".into()]).unwrap();
        let e = fast.validate().unwrap_err().to_string();
        assert!(
            e.contains("`train.optimiser`: the fast step runs SGD only, got `adam`"),
            "{e}"
        );
    }

    #[test]
    fn params_of_unknown_methods_are_refused_and_no_params_leave_the_saved_config_as_it_was() {
        let e = set_one("params.nope.x=1").unwrap().validate().unwrap_err().to_string();
        assert!(e.contains("params.nope") && e.contains("unknown method"), "{e}");
        let json = serde_json::to_value(ExperimentConfig::default()).unwrap();
        assert!(json.get("params").is_none(), "{json}");
    }
}
