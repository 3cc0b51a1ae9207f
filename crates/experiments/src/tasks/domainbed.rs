//! The tasks `colored-mnist:DOMAIN` and `rotated-mnist:DOMAIN` (or `:all`, or the bare name: every test domain
//! in turn): domain generalisation as DomainBed measures it (Gulrajani & Lopez-Paz, ICLR 2021), on its
//! ColoredMNIST (`+90%`, `+80%`, `-90%`) and RotatedMNIST (`0` to `75` degrees). Each test domain's runs train on
//! the other domains and never see the test domain; DomainBed's MNIST ConvNet, its defaults
//! (`hparams_registry.py`: Adam at 1e-3, no weight decay, 64 examples per domain per step; `train.py` with
//! `datasets.py`: 5,000 steps, a checkpoint every 100); its three model-selection methods side by side. The data
//! and runs are in [`crate::domainbed`].

use super::{Entry, Outcome, Setting, Task, TaskKind};
use crate::config::ExperimentConfig;
use crate::domainbed::{self, Cells, DataSet, Selection};
use crate::report::Finished;
use crate::run_folder::RunResult;
use anyhow::{bail, Result};
use shift_strategies::TrainConfig;

pub static ENTRY: Entry = Entry {
    usage: "colored-mnist:DOMAIN of +90%, +80%, -90%, rotated-mnist:DOMAIN of 0, 15, 30, 45, 60, 75, or either with :all",
    parse,
};

fn parse(s: &str) -> Option<Result<Task>> {
    let (set, rest) = [DataSet::ColoredMnist, DataSet::RotatedMnist].into_iter().find_map(|set| {
        let rest = s.strip_prefix(set.name())?;
        (rest.is_empty() || rest.starts_with(':')).then(|| (set, rest.trim_start_matches(':')))
    })?;
    if rest.is_empty() || rest == "all" {
        return Some(Ok(Task::new(DomainBed { set, test: None })));
    }
    let names = set.domains();
    Some(match names.iter().position(|d| d == rest) {
        Some(test) => Ok(Task::new(DomainBed { set, test: Some(test) })),
        None => Err(anyhow::anyhow!(
            "`task`: {} has no domain `{rest}` (its domains: {}, or all)",
            set.name(),
            names.join(", ")
        )),
    })
}

/// One of DomainBed's MNIST data sets, tested on one domain or on each in turn (None).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainBed {
    pub set: DataSet,
    pub test: Option<usize>,
}

/// DomainBed's defaults for its MNIST data sets, applied where no configuration file set a schedule: the MNIST
/// ConvNet; Adam at a constant 1e-3 without weight decay (`hparams_registry.py`: lr, weight_decay); 64 examples
/// of each training domain per step (batch_size); 5,000 steps (`N_STEPS`) in 50 epochs of 100 (`CHECKPOINT_FREQ`:
/// an epoch is a checkpoint); lambda held at 1 (DANN's `lambda`; the other methods weigh their own terms); 20%
/// of each domain held out (`holdout_fraction`).
fn schedule(mut c: ExperimentConfig) -> ExperimentConfig {
    c.backbone = Some("mnist-cnn".into());
    c.train = TrainConfig {
        epochs: 50,
        batch: 64,
        steps_per_epoch: Some(100),
        lr: shift_strategies::LrSchedule::Constant { lr: 1e-3 },
        lambda: shift_grl::LambdaSchedule::Constant { value: 1.0 },
        optimiser: shift_strategies::OptimiserKind::Adam,
        momentum: 0.0,
        weight_decay: 0.0,
    };
    c.validation.source_split = 0.2;
    c
}

impl DomainBed {
    /// The test domains this task runs.
    fn tests(&self) -> Vec<usize> {
        self.test.map_or_else(|| (0..self.set.domains().len()).collect(), |t| vec![t])
    }
}

impl TaskKind for DomainBed {
    fn slug(&self) -> String {
        match self.test {
            Some(t) => domainbed::slug(self.set, t, None),
            None => format!("{}-all", self.set.name()),
        }
    }

    fn domains(&self) -> bool {
        true
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        super::refuse_mnist_m(cfg)?;
        super::refuse_features(cfg)?;
        super::refuse_vectors(cfg)?;
        super::refuse_backbone(cfg, &["mnist-cnn"], "DomainBed's MNIST data sets")?;
        super::refuse_limits(cfg, "DomainBed's runs train on every example of their training domains")?;
        if cfg.pretrained.is_some() {
            bail!("`pretrained`: DomainBed's MNIST ConvNet starts from random weights");
        }
        if !(cfg.validation.source_split > 0.0 && cfg.validation.source_split < 1.0) {
            bail!(
                "`validation.source_split`: DomainBed's tasks hold out that share of every domain (its \
                 holdout_fraction, 0.2); it must be in (0, 1), got {}",
                cfg.validation.source_split
            );
        }
        Ok(())
    }

    fn defaults(&self, cfg: ExperimentConfig) -> ExperimentConfig {
        schedule(cfg)
    }

    /// 2 epochs of 5 steps: a look at every method in a minute.
    fn quick(&self, mut c: ExperimentConfig) -> ExperimentConfig {
        c.train.epochs = 2;
        c.train.steps_per_epoch = Some(5);
        c
    }

    fn paper_schedule(&self, _cfg: &ExperimentConfig) -> TrainConfig {
        schedule(ExperimentConfig::default()).train
    }

    /// Each test domain's runs (with its leave-one-domain-out runs, unless `domainbed.leave_one_out` is false),
    /// then DomainBed's table under each selection method, written as results.md and results.json.
    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let (cfg, at) = (s.cfg, s.at);
        let started = std::time::Instant::now();
        let domains = self.set.load(&at.data)?;
        let names = self.set.domains();
        let leave_one_out = cfg.domainbed.as_ref().is_none_or(|d| d.leave_one_out);
        let mut every_run: Vec<RunResult> = Vec::new();
        // Per selection, per method, per test domain: a value per seed.
        let mut cells: Vec<Cells> =
            Selection::ALL.iter().map(|_| cfg.methods.iter().map(|m| (m.to_string(), Vec::new())).collect()).collect();
        for test in self.tests() {
            let run = |left_out| {
                domainbed::run_domain(&at.out, self.set, cfg, &domains, test, left_out, s.device, s.stop, at.resume)
            };
            let Some(runs) = run(None)? else { return Ok(None) };
            let mut held = Vec::new();
            if leave_one_out {
                for v in (0..names.len()).filter(|&v| v != test) {
                    let Some(r) = run(Some(v))? else { return Ok(None) };
                    held.extend(r);
                }
            }
            for (k, &selection) in Selection::ALL.iter().enumerate() {
                for (i, &method) in cfg.methods.iter().enumerate() {
                    let mut values = Vec::new();
                    for r in runs.iter().filter(|r| r.method == method.as_str()) {
                        let mine: Vec<&RunResult> =
                            held.iter().filter(|h| h.method == r.method && h.seed == r.seed).collect();
                        values.extend(domainbed::select(selection, r, &mine));
                    }
                    cells[k][i].1.push(values);
                }
            }
            every_run.extend(runs);
            every_run.extend(held);
        }
        let columns: Vec<String> = self.tests().iter().map(|&t| names[t].clone()).collect();
        let mut markdown = String::new();
        for (k, selection) in Selection::ALL.iter().enumerate() {
            let mut table = domainbed::table(
                &format!(
                    "{}, {}: test-domain accuracy (%), mean +- std over seeds",
                    self.set.name(),
                    selection.title()
                ),
                &columns,
                &cells[k],
            );
            table.rows.extend(domainbed::published_rows(self.set, *selection, &cfg.methods, &self.tests()));
            table.notes = domainbed::notes(cfg, *selection, leave_one_out);
            markdown.push_str(&table.markdown());
            markdown.push('\n');
        }
        let json = serde_json::json!({
            "config": cfg,
            "domains": names,
            "test_domains": columns,
            "selections": selections_json(&cells),
            "runs": every_run,
        });
        Ok(Some(Outcome::Reported(Finished::write(
            &at.out,
            markdown,
            &json,
            format!("results.md, results.json; each test domain's runs in {}-env<i>[-val<j>]/", self.set.name()),
            started,
        )?)))
    }
}

/// Per selection method, per method, per test domain, the values per seed.
fn selections_json(cells: &[Cells]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (selection, c) in Selection::ALL.iter().zip(cells) {
        let per: serde_json::Map<String, serde_json::Value> =
            c.iter().map(|(m, v)| (m.clone(), serde_json::json!(v))).collect();
        out.insert(selection.title().to_string(), per.into());
    }
    out.into()
}
