//! One run's folder `<out>/<task>/<method>/seed<N>/`: config.json (with the git commit), metrics.jsonl,
//! checkpoint.pt (after every epoch and on interruption), result.json once finished.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use shift_strategies::{EpochRecord, Observer, Position, Strategy, StrategyError};
use shift_tensor::tch::Tensor;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What a finished run reports. `target_acc` is the last epoch's; `oracle_best_acc` (the best epoch, chosen
/// with target labels) is shown for comparison with code that reports it, and labelled as an oracle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub method: String,
    pub seed: u64,
    /// NaN (null in JSON) where the target is unlabelled, as are the two below.
    #[serde(deserialize_with = "nan_as_null::one")]
    pub target_acc: f64,
    #[serde(deserialize_with = "nan_as_null::one")]
    pub oracle_best_acc: f64,
    pub epochs: usize,
    pub wall_s: f64,
    pub device: String,
    #[serde(deserialize_with = "nan_as_null::each")]
    pub accuracy_per_epoch: Vec<f64>,
    /// Each validator's score per epoch (none where the run had no validators, and in runs from before them).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "nan_as_null::by_name"
    )]
    pub validators_per_epoch: BTreeMap<String, Vec<f64>>,
    /// Why each NaN of `validators_per_epoch` is one: `epoch E: validator: reason`, in epoch order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validator_errors: Vec<String>,
    /// The proxy A-distance between the final network's features of the MNIST and MNIST-M test samples (digit
    /// runs; see [`crate::analysis`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_a_distance: Option<f64>,
    /// Why a run asked for the fast step ran it eagerly (CPU, a failed capture, a replay that differed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_fallback: Option<String>,
    /// An Office-31 ResNet-50 that started from random weights (no ImageNet weights given or installed): its
    /// numbers are not those of an ImageNet-initialised backbone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub random_init_backbone: bool,
    /// The intra-op threads libtorch trained with on the CPU (`SHIFT_THREADS`, else libtorch's default): a CPU
    /// run reproduces to the last digit only with the same count. A run resumed under another count records the
    /// count that finished it. None on a GPU, and in runs from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_threads: Option<usize>,
}

/// The accuracies of a run on an unlabelled target are NaN, which serde_json writes as null: read null as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer};

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    pub fn each<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    }

    pub fn by_name<'de, D: Deserializer<'de>>(d: D) -> Result<super::BTreeMap<String, Vec<f64>>, D::Error> {
        Ok(super::BTreeMap::<String, Vec<Option<f64>>>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect()))
            .collect())
    }
}

/// A saved run: where it continues, the wall time spent so far, and the strategy's state.
#[derive(Debug)]
pub struct Checkpoint {
    pub next: Position,
    pub seconds: f64,
    pub state: Vec<(String, Tensor)>,
}

/// Where a run continues: the next step, the wall time spent so far and what the finished epochs measured.
#[derive(Debug, Clone, Default)]
pub struct Resumed {
    pub next: Position,
    pub seconds: f64,
    pub history: History,
}

/// What each finished epoch measured: target accuracy (NaN where the target is unlabelled) and each
/// validator's score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub accuracy: Vec<f64>,
    pub validators: BTreeMap<String, Vec<f64>>,
    /// `epoch E: validator: reason` for each score a validator could not give.
    pub validator_errors: Vec<String>,
}

impl History {
    /// Adds an epoch's target accuracy, scores, and the reasons for the scores that could not be given.
    pub fn push(&mut self, target_acc: f64, scores: &BTreeMap<String, f64>, errors: &BTreeMap<String, String>) {
        self.accuracy.push(target_acc);
        for (name, &s) in scores {
            self.validators.entry(name.clone()).or_default().push(s);
        }
        let epoch = self.accuracy.len();
        self.validator_errors
            .extend(errors.iter().map(|(name, why)| format!("epoch {epoch}: {name}: {why}")));
    }

    /// Reads one metrics.jsonl line into the history (null accuracies and scores are NaN).
    fn push_line(&mut self, line: &str) -> Result<()> {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let number = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN);
        let acc = match v.get("target_acc") {
            // An unlabelled target's accuracy: NaN, which JSON writes as null.
            Some(a) if a.is_null() || a.is_number() => number(a),
            _ => anyhow::bail!("metrics.jsonl line without target_acc"),
        };
        let scores: BTreeMap<String, f64> = match v.get("validators").and_then(|s| s.as_object()) {
            Some(s) => s.iter().map(|(k, x)| (k.clone(), number(x))).collect(),
            None => BTreeMap::new(),
        };
        let mut errors = BTreeMap::new();
        for (k, x) in v
            .get("validator_errors")
            .and_then(|s| s.as_object())
            .into_iter()
            .flatten()
        {
            let Some(why) = x.as_str() else {
                anyhow::bail!("metrics.jsonl line: validator_errors.{k} is not a reason (a string): {x}");
            };
            errors.insert(k.clone(), why.to_string());
        }
        self.push(acc, &scores, &errors);
        Ok(())
    }
}

/// The commit this build of shift comes from, recorded in every run's config.json as `git_commit`: the
/// checkout's `HEAD` when the crate was compiled, with `+dirty` where the code (`git_stamp::code_paths`:
/// sources, manifests and build settings, not tests) then differed from it, "unknown" where the build had no
/// git checkout ([`crate::git_stamp`]). It names the binary's code, not the checkout a run starts in, which may have moved on since the build. A
/// resumed run keeps the config.json (and so the commit) of the process that started it.
pub const BUILD_COMMIT: &str = env!("SHIFT_BUILD_COMMIT");

#[derive(Debug, Clone)]
pub struct RunFolder {
    pub dir: PathBuf,
}

impl RunFolder {
    pub fn new(out: &Path, task: &str, method: &str, seed: u64) -> Self {
        Self {
            dir: out.join(task).join(method).join(format!("seed{seed}")),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.file("checkpoint.pt")
    }

    /// Starts over: clears the folder and writes config.json.
    pub fn start(&self, config: &serde_json::Value) -> Result<()> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).with_context(|| format!("cannot clear {}", self.dir.display()))?;
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&self.file("config.json"), &serde_json::to_string_pretty(config)?)
    }

    /// The finished run's result: None when there is no result.json yet; an error naming the file when it is
    /// there but cannot be read or parsed (never taken for "not run yet").
    pub fn result(&self) -> Result<Option<RunResult>> {
        let path = self.file("result.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        serde_json::from_str(&text)
            .map(Some)
            .with_context(|| format!("{} is not a run result (delete it to run again)", path.display()))
    }

    pub fn write_result(&self, r: &RunResult) -> Result<()> {
        write_atomic(&self.file("result.json"), &serde_json::to_string_pretty(r)?)
    }

    /// With `--resume`, refuses a run folder whose saved experiment configuration differs from `now` (the
    /// `experiment` of its config.json, and the run's method's resolved `hyper_parameters`), naming the key
    /// paths that differ. Which methods and seeds a command lists does not matter: they choose the runs, not how
    /// one runs; nor do the hyper-parameters set for other methods (`params`). A folder without config.json
    /// passes; one saved before hyper-parameters were recorded counts as having none, and a configuration key
    /// added since (`train.optimiser`) counts as its default. A config.json whose `experiment` does not read as
    /// a configuration is refused, naming the file.
    pub fn check_same_config(&self, now: &serde_json::Value) -> Result<()> {
        let path = self.file("config.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let saved: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not a run configuration", path.display()))?;
        // Which validator's pick the table shows does not change how a run trains.
        let skip = ["methods", "seeds", "params", "validation.select"];
        // A key added since the folder was saved reads as its default (the value every earlier run had).
        // A saved configuration that no longer reads is refused, never compared raw.
        let experiment = serde_json::from_value::<crate::config::ExperimentConfig>(saved["experiment"].clone())
            .with_context(|| {
                format!(
                    "`--resume`: {}: its `experiment` is not a configuration this build reads; run without \
                     --resume to start over",
                    path.display()
                )
            })?;
        let experiment = serde_json::to_value(experiment)?;
        let mut diff = crate::config::differences(&experiment, &now["experiment"], &skip);
        let none = serde_json::json!({});
        let hyper = |v: &serde_json::Value| {
            v.get("hyper_parameters")
                .filter(|h| !h.is_null())
                .unwrap_or(&none)
                .clone()
        };
        let prefix = |d: String| format!("hyper_parameters.{d}");
        diff.extend(
            crate::config::differences(&hyper(&saved), &hyper(now), &[])
                .into_iter()
                .map(prefix),
        );
        if diff.is_empty() {
            return Ok(());
        }
        anyhow::bail!(
            "`--resume`: {} was run with another configuration: {}; resume with the same settings, or run \
             without --resume to start over",
            self.dir.display(),
            diff.join(", ")
        )
    }

    /// With `--resume`, the result of this run when it finished earlier (said on stderr), after checking that it
    /// ran with the same configuration as `cfg`; None when it has to run (or run on).
    pub fn finished_earlier(
        &self,
        cfg: &crate::config::ExperimentConfig,
        hyper_parameters: &serde_json::Value,
        resume: bool,
        label: &str,
    ) -> Result<Option<RunResult>> {
        if !resume {
            return Ok(None);
        }
        self.check_same_config(&serde_json::json!({ "experiment": cfg, "hyper_parameters": hyper_parameters }))?;
        let done = self.result()?;
        if done.is_some() {
            eprintln!("shift: {label}: finished earlier, reusing {}", self.dir.display());
        }
        Ok(done)
    }

    /// The saved state and where to continue, with the wall time spent so far.
    pub fn load_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let path = self.checkpoint();
        if !path.exists() {
            return Ok(None);
        }
        let named = shift_tensor::load_named(&path)?;
        let get = |k: &str| {
            named
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, t)| t.shallow_clone())
                .with_context(|| format!("{}: `{k}` missing", path.display()))
        };
        let epoch = get("position.epoch")?.int64_value(&[]) as usize;
        let step = get("position.step")?.int64_value(&[]);
        let seconds = get("position.seconds")?.double_value(&[]);
        Ok(Some(Checkpoint {
            next: Position { epoch, step },
            seconds,
            state: named,
        }))
    }

    /// Where a run starts: with `resume` and a checkpoint, the strategy's state is loaded from it and the run
    /// continues where it stopped (metrics.jsonl trimmed to the finished epochs); otherwise the folder starts
    /// afresh with `config` (plus the git commit) in config.json.
    pub fn resume_or_start(
        &self,
        strategy: &mut dyn Strategy,
        resume: bool,
        config: serde_json::Value,
    ) -> Result<Resumed> {
        match if resume { self.load_checkpoint()? } else { None } {
            Some(Checkpoint { next, seconds, state }) => {
                strategy
                    .load_state(&state)
                    .with_context(|| self.checkpoint().display().to_string())?;
                let history = self.keep_metrics(next.epoch)?;
                eprintln!(
                    "shift: resuming {} at epoch {} step {}",
                    self.dir.display(),
                    next.epoch + 1,
                    next.step
                );
                Ok(Resumed { next, seconds, history })
            }
            None => {
                let mut config = config;
                config["git_commit"] = serde_json::Value::String(BUILD_COMMIT.into());
                self.start(&config)?;
                Ok(Resumed {
                    next: Position::default(),
                    seconds: 0.0,
                    history: History::default(),
                })
            }
        }
    }

    /// The per-epoch records already written (kept up to `epochs` lines on resume).
    pub fn keep_metrics(&self, epochs: usize) -> Result<History> {
        let path = self.file("metrics.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let lines: Vec<&str> = text.lines().take(epochs).collect();
        write_atomic(&path, &lines.iter().map(|l| format!("{l}\n")).collect::<String>())?;
        let mut history = History::default();
        for l in lines {
            history.push_line(l).with_context(|| path.display().to_string())?;
        }
        Ok(history)
    }
}

/// Writes `text` to `path` through a temporary file and a rename: a reader never sees half a file.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Progress bar, metrics.jsonl and checkpoints for one run.
#[derive(Debug)]
pub struct RunObserver<'a> {
    pub folder: &'a RunFolder,
    pub bar: ProgressBar,
    pub stop: &'a AtomicBool,
    pub started: Instant,
    pub seconds_before: f64,
    pub history: History,
    pub epochs: usize,
    label: String,
    /// A pause after every step, from `SHIFT_TEST_STEP_DELAY_MS` (the interrupt test uses it to make sure a
    /// signal lands mid-run); none by default.
    step_delay: Option<std::time::Duration>,
}

impl<'a> RunObserver<'a> {
    pub fn new(
        folder: &'a RunFolder,
        stop: &'a AtomicBool,
        label: String,
        epochs: usize,
        seconds_before: f64,
        history: History,
    ) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{prefix:32} {bar:25} {pos:>5}/{len:5} {per_sec:>10} {msg}")
                .expect("valid template"),
        );
        Self {
            folder,
            bar,
            stop,
            started: Instant::now(),
            seconds_before,
            history,
            epochs,
            label,
            step_delay: std::env::var("SHIFT_TEST_STEP_DELAY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(std::time::Duration::from_millis),
        }
    }

    pub fn seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }

    fn save(&self, next: Position, strategy: &dyn Strategy) -> Result<(), StrategyError> {
        let mut named = strategy.state();
        named.push(("position.epoch".into(), Tensor::from(next.epoch as i64)));
        named.push(("position.step".into(), Tensor::from(next.step)));
        named.push(("position.seconds".into(), Tensor::from(self.seconds())));
        shift_tensor::save_named(&self.folder.checkpoint(), &named).map_err(StrategyError::from)
    }
}

impl RunObserver<'_> {
    /// An epoch's line, above the progress bar where there is one.
    fn print(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Observer for RunObserver<'_> {
    fn on_step(&mut self, at: Position, steps: i64) {
        if self.bar.length() != Some(steps as u64) {
            self.bar.set_length(steps as u64);
        }
        self.bar
            .set_prefix(format!("{} epoch {}/{}", self.label, at.epoch + 1, self.epochs));
        self.bar.set_position(at.step as u64 + 1);
        if let Some((left, first)) = crate::estimate::step() {
            if let Some(said) = first {
                let line = format!("shift: this experiment takes {said}");
                if self.bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    self.bar.println(line);
                }
            }
            self.bar.set_message(format!("~{left} left in all"));
        }
        if let Some(d) = self.step_delay {
            std::thread::sleep(d);
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn on_epoch(&mut self, r: &EpochRecord, next: Position, strategy: &dyn Strategy) -> Result<(), StrategyError> {
        let io = |e: std::io::Error| StrategyError::Other(format!("{}: {e}", self.folder.dir.display()));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.folder.dir.join("metrics.jsonl"))
            .map_err(io)?;
        let line = serde_json::to_string(r).map_err(|e| StrategyError::Other(e.to_string()))?;
        writeln!(f, "{line}").map_err(io)?;
        self.history.push(r.target_acc, &r.validators, &r.validator_errors);
        self.save(next, strategy)?;
        // A pretext method's line is its own loss and accuracy (it trains no label predictor); others show the
        // domain metrics where there is a discriminator in training.
        if strategy.method().data().pretext {
            let line = format!(
                "  {} epoch {:>3}: pretext loss {:.3} pretext acc {:.3} lr {:.5} ({:.1}s)",
                self.label, r.epoch, r.train.domain_loss, r.train.domain_acc, r.lr, r.seconds
            );
            self.print(line);
            return Ok(());
        }
        // A multitask weighting's line: its tasks' mean loss and accuracy, its own term (a task weight, the share
        // of conflicting gradients), and the mean of the tasks' test accuracies.
        if strategy.method().data().tasks {
            let line =
                format!(
                "  {} epoch {:>3}: task loss {:.3} task acc {:.3} term {:.3} lr {:.5} -> test acc (tasks' mean) {:.4} \
                 ({:.1}s)",
                self.label, r.epoch, r.train.class_loss, r.train.label_acc, r.train.domain_loss, r.lr, r.target_acc,
                r.seconds
            );
            self.print(line);
            return Ok(());
        }
        let domain = if r.train.domain_loss > 0.0 {
            format!(
                " dom loss {:.3} dom acc {:.3} lambda {:.2}",
                r.train.domain_loss, r.train.domain_acc, r.lambda
            )
        } else {
            String::new()
        };
        let target = if r.target_acc.is_nan() {
            "none (target unlabelled)".to_string()
        } else {
            format!("{:.4}", r.target_acc)
        };
        let msg = format!(
            "loss {:.3} label acc {:.3}{domain} lr {:.5} -> target acc {target}",
            r.train.class_loss, r.train.label_acc, r.lr
        );
        let line = format!("  {} epoch {:>3}: {msg} ({:.1}s)", self.label, r.epoch, r.seconds);
        self.print(line);
        Ok(())
    }

    fn on_interrupt(&mut self, next: Position, strategy: &dyn Strategy) -> Result<(), StrategyError> {
        self.save(next, strategy)?;
        self.bar.abandon_with_message("interrupted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExperimentConfig;

    fn folder_with(config: &str) -> (tempfile::TempDir, RunFolder) {
        let tmp = tempfile::tempdir().unwrap();
        let f = RunFolder::new(tmp.path(), "mnist-mnistm", "dann", 0);
        std::fs::create_dir_all(&f.dir).unwrap();
        std::fs::write(f.file("config.json"), config).unwrap();
        (tmp, f)
    }

    fn now(cfg: &ExperimentConfig) -> serde_json::Value {
        serde_json::json!({ "experiment": cfg, "hyper_parameters": {} })
    }

    /// A validator's NaN keeps its reason through metrics.jsonl, as `--resume` reads it back.
    #[test]
    fn the_history_keeps_why_a_validator_could_not_score() {
        let mut h = History::default();
        let scores = BTreeMap::from([("im".to_string(), 0.5), ("snd".to_string(), f64::NAN)]);
        let errors = BTreeMap::from([("snd".to_string(), "non-finite logits".to_string())]);
        h.push(
            0.7,
            &BTreeMap::from([("im".to_string(), 0.4), ("snd".to_string(), 0.1)]),
            &BTreeMap::new(),
        );
        h.push(0.8, &scores, &errors);
        assert_eq!(h.validator_errors, ["epoch 2: snd: non-finite logits"]);
        let mut back = History::default();
        back.push_line(r#"{"target_acc": 0.7, "validators": {"im": 0.4, "snd": 0.1}}"#)
            .unwrap();
        back.push_line(
            r#"{"target_acc": 0.8, "validators": {"im": 0.5, "snd": null}, "validator_errors": {"snd": "non-finite logits"}}"#,
        )
        .unwrap();
        assert_eq!(back.validator_errors, h.validator_errors);
        assert!(back.validators["snd"][1].is_nan());
        let e = back
            .push_line(r#"{"target_acc": 0.8, "validators": {"snd": null}, "validator_errors": {"snd": 3}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("validator_errors.snd is not a reason"), "{e}");
    }

    #[test]
    fn resume_compares_the_saved_configuration_and_refuses_one_that_does_not_read() {
        let cfg = ExperimentConfig::default();
        let saved = serde_json::to_string(&now(&cfg)).unwrap();
        let (_tmp, f) = folder_with(&saved);
        f.check_same_config(&now(&cfg)).unwrap();
        let mut other = cfg.clone();
        other.train.epochs = 3;
        let e = f.check_same_config(&now(&other)).unwrap_err().to_string();
        assert!(e.contains("was run with another configuration: train.epochs"), "{e}");
        // An `experiment` this build cannot read (a key of the wrong type) is refused by file, not compared raw.
        let mut broken: serde_json::Value = serde_json::from_str(&saved).unwrap();
        broken["experiment"]["train"]["epochs"] = serde_json::json!("twenty");
        let (_tmp2, g) = folder_with(&broken.to_string());
        let e = format!("{:#}", g.check_same_config(&now(&cfg)).unwrap_err());
        assert!(
            e.contains(&g.file("config.json").display().to_string())
                && e.contains("not a configuration this build reads"),
            "{e}"
        );
        let (_tmp3, h) = folder_with("{ not json");
        let e = format!("{:#}", h.check_same_config(&now(&cfg)).unwrap_err());
        assert!(e.contains("is not a run configuration"), "{e}");
    }
}
