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

/// The Amazon reviews' schedule, the authors' `experiments_amazon.py` defaults in mini-batches: 50 sigmoid hidden
/// units (the `shallow` backbone), lambda held at 0.1, plain SGD (no momentum, no weight decay) at a constant
/// rate, at most 200 epochs, 10% of the source held out as the early-stopping set (here the held-out split that
/// `source_accuracy` scores, whose pick is the early-stopped epoch), and DANN with lambda on the domain
/// regressor's update as well (`params.dann.lambda_on_discriminator`). The authors step on one review at a time at
/// 0.001 (0.0001 on mSDA features); shift steps on 32 + 32 reviews at 32 times that, the same first-order update
/// per review. Reads `features` (set it first).
pub fn amazon(mut c: ExperimentConfig) -> ExperimentConfig {
    c.backbone = Some("shallow".into());
    c.train.epochs = 200;
    c.train.batch = 32;
    c.train.steps_per_epoch = None;
    // The authors' rate per review: 0.001 on the raw counts, 0.0001 on mSDA's representation.
    let per_review = match c.features {
        Features::Raw => 0.001,
        Features::Msda => 0.0001,
    };
    c.train.lr = shift_strategies::LrSchedule::Constant {
        lr: per_review * c.train.batch as f64,
    };
    c.train.lambda = shift_grl::LambdaSchedule::Constant { value: 0.1 };
    c.train.momentum = 0.0;
    c.train.weight_decay = 0.0;
    c.validation.source_split = 0.1;
    c.validation.select = "source_accuracy".into();
    // DANN as the shallow algorithm steps it: lambda scales the domain regressor's update too.
    c.params
        .entry("dann".into())
        .or_default()
        .insert("lambda_on_discriminator".into(), 1.0);
    c
}

/// `--quick` on the Amazon reviews: 30 epochs of the same schedule, about a minute a pair on two CPU cores.
pub fn amazon_quick(mut c: ExperimentConfig) -> ExperimentConfig {
    c.train.epochs = 30;
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

/// A parsed task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    MnistToMnistM,
    Office31 {
        source: shift_data::office31::Domain,
        target: shift_data::office31::Domain,
    },
    /// A researcher's own two domains as image folders (`shift_data::image_folder`); the target may be unlabelled.
    Folders {
        source: std::path::PathBuf,
        target: std::path::PathBuf,
    },
    /// One pair of the Amazon reviews benchmark (Ganin et al., JMLR 2016, Table 1), on 5,000 count features.
    Amazon {
        source: shift_data::amazon_reviews::Domain,
        target: shift_data::amazon_reviews::Domain,
    },
    /// All twelve Amazon reviews pairs, one table in Table 1's layout.
    AmazonAll,
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
        if s == "amazon:all" {
            return Ok(Self::AmazonAll);
        }
        if let Some(pair) = s.strip_prefix("amazon:") {
            let Some((a, b)) = pair.split_once(':') else {
                bail!("`task`: `{s}` names no two domains; write amazon:SOURCE:TARGET or amazon:all");
            };
            let (source, target) = (
                a.parse().map_err(|e| anyhow::anyhow!("`task`: {e}"))?,
                b.parse().map_err(|e| anyhow::anyhow!("`task`: {e}"))?,
            );
            if source == target {
                bail!("`task`: `{s}` adapts a domain to itself; pick two different domains");
            }
            return Ok(Self::Amazon { source, target });
        }
        if let Some(pair) = s.strip_prefix("folders:") {
            let Some((source, target)) = pair.split_once(':').filter(|(a, b)| !a.is_empty() && !b.is_empty()) else {
                bail!("`task`: `{s}` names no two folders; write folders:SOURCE_DIR:TARGET_DIR");
            };
            if source == target {
                bail!("`task`: `{s}` adapts a folder to itself; give two different folders");
            }
            return Ok(Self::Folders {
                source: source.into(),
                target: target.into(),
            });
        }
        bail!(
            "`task`: unknown task `{s}` (known: mnist:mnist-m, office31:A-W, D-W, W-D, A-D, D-A, W-A, \
             folders:SOURCE_DIR:TARGET_DIR, amazon:SOURCE:TARGET of books, dvd, electronics, kitchen, amazon:all)"
        )
    }

    /// Refuses a train step the task has no implementation of: the fast step is the digit net's.
    pub fn check_step(&self, step: StepKind) -> Result<()> {
        if step == StepKind::Fast && !matches!(self, Self::MnistToMnistM) {
            bail!(
                "`step`: the fast step covers the digit task; Office-31, image folders and the Amazon reviews run \
                 the eager step"
            );
        }
        Ok(())
    }

    /// Whether the task trains Office-31's ResNet-50 on images (Office-31 and image folders).
    pub fn is_image_folders(&self) -> bool {
        matches!(self, Self::Office31 { .. } | Self::Folders { .. })
    }

    /// Whether the task is the Amazon reviews (one pair or all twelve).
    pub fn is_amazon(&self) -> bool {
        matches!(self, Self::Amazon { .. } | Self::AmazonAll)
    }

    /// A name for folders: `mnist-mnistm`, `office31-A-W`, `folders-<source>-<target>` (the folders' own names).
    pub fn slug(&self) -> String {
        match self {
            Self::MnistToMnistM => "mnist-mnistm".into(),
            Self::Office31 { source, target } => format!("office31-{}-{}", source.letter(), target.letter()),
            Self::Folders { source, target } => {
                let name = |p: &std::path::Path| -> String {
                    let n = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    n.chars()
                        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
                        .collect()
                };
                format!("folders-{}-{}", name(source), name(target))
            }
            Self::Amazon { source, target } => format!("amazon-{source}-{target}"),
            Self::AmazonAll => "amazon-all".into(),
        }
    }
}

impl ExperimentConfig {
    /// `method` with the hyper-parameters this configuration sets for it (checked by [`validate`]).
    ///
    /// [`validate`]: Self::validate
    pub fn spec(&self, method: MethodName) -> Result<MethodSpec> {
        let none = BTreeMap::new();
        Ok(MethodSpec::new(
            method,
            self.params.get(method.as_str()).unwrap_or(&none),
        )?)
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
        match &task {
            Task::MnistToMnistM => {
                self.digit_backbone()?;
                if let Some(p) = &self.pretrained {
                    bail!(
                        "`pretrained`: {} is for Office-31's ResNet-50; the digit task starts from random weights",
                        p.display()
                    );
                }
            }
            Task::Amazon { .. } | Task::AmazonAll => {
                if let Some(b) = self.backbone.as_ref().filter(|b| *b != "shallow") {
                    bail!("`backbone`: `{b}` is not a backbone of the Amazon reviews (shallow)");
                }
                if self.pretrained.is_some() || self.source_limit.is_some() || self.target_limit.is_some() {
                    bail!(
                        "`pretrained`/`source_limit`/`target_limit`: not settings of the Amazon reviews, which \
                         train the shallow network from random weights on every review"
                    );
                }
                if self.mnist_m != MnistMTrain::Released {
                    bail!(
                        "`mnist_m`: `{}` chooses the digit task's MNIST-M train split; {} has no MNIST-M",
                        self.mnist_m,
                        self.task
                    );
                }
            }
            Task::Office31 { .. } | Task::Folders { .. } => {
                if self.mnist_m != MnistMTrain::Released {
                    bail!(
                        "`mnist_m`: `{}` chooses the digit task's MNIST-M train split; {} has no MNIST-M",
                        self.mnist_m,
                        self.task
                    );
                }
                if let Some(b) = self.backbone.as_ref().filter(|b| *b != "resnet50") {
                    bail!("`backbone`: `{b}` is not supported on image folders (resnet50)");
                }
                if self.source_limit.is_some() || self.target_limit.is_some() {
                    bail!(
                        "`source_limit`/`target_limit`: the digit task's; an Office-31 run trains on every image \
                         of both domains"
                    );
                }
            }
        }
        for (method, set) in &self.params {
            let name: MethodName = method.parse().map_err(|e| anyhow::anyhow!("`params.{method}`: {e}"))?;
            MethodSpec::new(name, set)?;
        }
        if task.is_amazon() {
            if let Some((m, why)) = self.methods.iter().find_map(|m| m.data().images.map(|why| (m, why))) {
                bail!(
                    "`methods`: {m} needs images ({why}); {} is a task of feature vectors",
                    self.task
                );
            }
        }
        if self.features != Features::Raw && !task.is_amazon() {
            bail!(
                "`features`: msda is a representation of the Amazon reviews' counts; {} runs on its raw input",
                self.task
            );
        }
        task.check_step(self.step)?;
        if self.step == StepKind::Fast {
            if self.train.optimiser != shift_strategies::OptimiserKind::Sgd {
                bail!(
                    "`train.optimiser`: the fast step runs SGD only, got `{}` (use `--step eager`)",
                    self.train.optimiser
                );
            }
            for &m in &self.methods {
                shift_strategies::fast::check_capturable(m)?;
            }
        }
        self.train.validate()?;
        self.validation.validate()?;
        Ok(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folders_task_names_two_different_folders_and_its_slug_their_names() {
        let t = Task::parse("folders:/data/my photos:/data/sketches").unwrap();
        assert_eq!(
            t,
            Task::Folders {
                source: "/data/my photos".into(),
                target: "/data/sketches".into()
            }
        );
        assert_eq!(t.slug(), "folders-my_photos-sketches");
        assert!(t.check_step(StepKind::Fast).is_err());
        for bad in ["folders:a", "folders::b", "folders:a:"] {
            let e = Task::parse(bad).unwrap_err().to_string();
            assert!(e.contains("folders:SOURCE_DIR:TARGET_DIR"), "{bad}: {e}");
        }
        let e = Task::parse("folders:a:a").unwrap_err().to_string();
        assert!(e.contains("adapts a folder to itself"), "{e}");
    }

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
    fn amazon_tasks_name_two_domains_or_all_and_take_the_authors_schedule() {
        use shift_data::amazon_reviews::Domain;
        let t = Task::parse("amazon:dvd:kitchen").unwrap();
        assert_eq!(
            t,
            Task::Amazon {
                source: Domain::Dvd,
                target: Domain::Kitchen
            }
        );
        assert_eq!(
            (t.slug().as_str(), t.is_amazon(), t.is_image_folders()),
            ("amazon-dvd-kitchen", true, false)
        );
        assert_eq!(Task::parse("amazon:all").unwrap().slug(), "amazon-all");
        let c = amazon(ExperimentConfig {
            task: "amazon:all".into(),
            ..Default::default()
        });
        c.validate().unwrap();
        assert_eq!(c.train.lr, shift_strategies::LrSchedule::Constant { lr: 0.032 });
        assert_eq!(c.params["dann"]["lambda_on_discriminator"], 1.0);
        let msda = amazon(ExperimentConfig {
            task: "amazon:all".into(),
            features: Features::Msda,
            ..Default::default()
        });
        assert_eq!(msda.train.lr, shift_strategies::LrSchedule::Constant { lr: 0.0032 });
        let e = "pca".parse::<Features>().unwrap_err().to_string();
        assert_eq!(e, "`features`: unknown representation `pca` (known: raw, msda)");
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
