//! The tasks `fsdd:SPEAKER` and `fsdd:all`: spoken digits across speakers on the Free Spoken Digit Dataset
//! (Jakobovski et al., v1.0.10), leave one speaker out. The other five speakers' training takes (5-49) are the
//! labelled source, the target speaker's training takes the unlabelled target, its test takes (0-4, 50
//! recordings) the test set; the audio CNN over log-mel frames. No paper reports this protocol, so no published
//! number stands beside it. Its data, runs and table are in [`crate::fsdd`].

use super::{Entry, Inputs, Outcome, Setting, Task, TaskKind};
use crate::config::ExperimentConfig;
use crate::fsdd::{self, Cells};
use crate::report::Finished;
use crate::run_folder::RunResult;
use anyhow::{bail, Result};
use shift_data::fsdd::SPEAKERS;
use shift_strategies::MethodName;

pub static ENTRY: Entry = Entry {
    usage: "fsdd:SPEAKER of george, jackson, lucas, nicolas, theo, yweweler, and fsdd:all",
    parse,
};

fn parse(s: &str) -> Option<Result<Task>> {
    let name = s.strip_prefix("fsdd:")?;
    if name == "all" {
        return Some(Ok(Task::new(Fsdd { target: None })));
    }
    Some(
        shift_data::fsdd::speaker(name)
            .map(|t| Task::new(Fsdd { target: Some(t) }))
            .map_err(|e| anyhow::anyhow!("`task`: {e}")),
    )
}

/// One target speaker (an index into [`SPEAKERS`]), or all six in turn (None).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fsdd {
    pub target: Option<usize>,
}

/// The task's schedule: the audio CNN, 20 epochs of 32 + 32 recordings (each epoch one pass over the labelled
/// source), and 10% of the source held out for the validators; the rest is shift's default (SGD with momentum
/// 0.9, the digit paper's annealed rate and lambda schedule). Applied where no configuration file set one.
fn schedule(mut c: ExperimentConfig) -> ExperimentConfig {
    c.backbone = Some("audio-cnn".into());
    c.train.epochs = 20;
    c.train.batch = 32;
    c.train.steps_per_epoch = None;
    c.validation.source_split = 0.1;
    c
}

impl TaskKind for Fsdd {
    fn slug(&self) -> String {
        self.target.map_or_else(|| "fsdd-all".into(), fsdd::slug)
    }

    fn part(&self, folder: &str) -> Option<Task> {
        let target = (0..SPEAKERS.len()).find(|&t| fsdd::slug(t) == folder)?;
        self.target.is_none().then(|| Task::new(Fsdd { target: Some(target) }))
    }

    fn inputs(&self) -> Inputs {
        Inputs::Audio
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        super::refuse_mnist_m(cfg)?;
        super::refuse_features(cfg)?;
        super::refuse_vectors(cfg)?;
        super::refuse_backbone(cfg, &["audio-cnn"], "the spoken digits")?;
        super::refuse_limits(cfg, "the spoken digits train on every recording of the split")?;
        if cfg.pretrained.is_some() {
            bail!("`pretrained`: the audio CNN starts from random weights");
        }
        Ok(())
    }

    fn defaults(&self, cfg: ExperimentConfig) -> ExperimentConfig {
        schedule(cfg)
    }

    /// 5 epochs of the same.
    fn quick(&self, mut c: ExperimentConfig) -> ExperimentConfig {
        c.train.epochs = 5;
        c
    }

    fn paper_schedule(&self, _cfg: &ExperimentConfig) -> shift_strategies::TrainConfig {
        schedule(ExperimentConfig::default()).train
    }

    /// One target speaker's runs; or the six in turn (each in its own folder, as `fsdd:SPEAKER` runs it), then
    /// the table over them (target test accuracy), and the accuracy over all 500 of each target speaker's
    /// recordings (labelled as such: 450 of them are the unlabelled target it adapted to), written as results.md
    /// and results.json beside them.
    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let (cfg, at) = (s.cfg, s.at);
        let (spectrograms, times) = fsdd::load(&at.data, s.device)?;
        eprintln!(
            "shift: fsdd: {} recordings decoded in {:.2}s, log-mel spectrograms {:?} on {:?} in {:.2}s",
            spectrograms.speakers.len(),
            times.decode,
            spectrograms.x.size(),
            s.device,
            times.front_end
        );
        if let Some(target) = self.target {
            let split = fsdd::split(&spectrograms, target)?;
            let runs = fsdd::run_speaker(at, cfg, &split, target, s.device, s.stop)?;
            return Ok(runs.map(Outcome::Runs));
        }
        let started = std::time::Instant::now();
        let speakers: Vec<usize> = (0..SPEAKERS.len()).collect();
        let mut test: Cells = cfg.methods.iter().map(|&m| (m, Vec::new())).collect();
        let mut all: Cells = test.clone();
        let mut every_run: Vec<RunResult> = Vec::new();
        // Recordings per speaker in all, and in its training takes (500 and 450 in the dataset).
        let mut counts = (Vec::new(), Vec::new());
        for &target in &speakers {
            let split = fsdd::split(&spectrograms, target)?;
            counts.0.push(split.all.1.size()[0]);
            counts.1.push(split.target.1.size()[0]);
            let Some(runs) = fsdd::run_speaker(at, cfg, &split, target, s.device, s.stop)? else {
                return Ok(None);
            };
            for (i, &method) in cfg.methods.iter().enumerate() {
                let mine: Vec<&RunResult> = runs.iter().filter(|r| r.method == method.as_str()).collect();
                test[i].1.push(mine.iter().map(|r| r.target_acc).collect());
                let mut on_all = Vec::new();
                for &seed in &cfg.seeds {
                    let dir = crate::run_folder::RunFolder::new(&at.out, &fsdd::slug(target), method.as_str(), seed).dir;
                    on_all.push(fsdd::accuracy_on(&dir, &split.all, s.device)?);
                }
                all[i].1.push(on_all);
            }
            every_run.extend(runs);
        }
        let mut table = fsdd::table(
            "Target test accuracy, spoken digits, leave one speaker out (the speaker's 50 test takes; mean +- std over seeds)",
            &speakers,
            &test,
        );
        // "all 500 ... (450 of them ...)" where every speaker has as many, as in the dataset.
        let same = |v: &[i64]| v.iter().all(|&n| n == v[0]).then(|| v[0].to_string());
        let count = |v: &[i64], what: &str| same(v).map_or(what.to_string(), |n| format!("{what} {n}"));
        let over_all = fsdd::table(
            &format!(
                "Accuracy over {} of the target speaker's recordings ({} of them the unlabelled target adapted to)",
                count(&counts.0, "all"),
                same(&counts.1).unwrap_or_else(|| "its training takes".into())
            ),
            &speakers,
            &all,
        );
        table.notes = notes(cfg);
        let markdown = format!("{}\n{}", table.markdown(), over_all.markdown());
        let json = serde_json::json!({
            "config": cfg,
            "speakers": SPEAKERS,
            "test_accuracy": cells_json(&test),
            "all_accuracy": cells_json(&all),
            "runs": every_run,
        });
        Ok(Some(Outcome::Reported(Finished::write(
            &at.out,
            markdown,
            &json,
            "results.md, results.json; each target speaker's runs in fsdd-<speaker>/",
            started,
        )?)))
    }

    fn notes(&self, cfg: &ExperimentConfig, _runs: &[RunResult], _summaries: &[crate::report::Summary]) -> Vec<String> {
        notes(cfg)
    }
}

fn notes(cfg: &ExperimentConfig) -> Vec<String> {
    let mut notes = vec![
        "fsdd: the last epoch's network; one test recording is 0.02 of a speaker's accuracy; no paper reports this \
         protocol (none published)"
            .to_string(),
    ];
    if cfg.methods.contains(&MethodName::TARGET_ONLY) {
        notes.push("target-only trains on the target speaker's labelled training takes: the upper bound".into());
    }
    notes
}

fn cells_json(cells: &Cells) -> serde_json::Value {
    cells
        .iter()
        .map(|(m, per)| (m.to_string(), serde_json::json!(per)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsdd_names_a_speaker_or_all_and_refuses_other_keys_by_name() {
        let t = Task::parse("fsdd:theo").unwrap();
        assert_eq!((t.slug().as_str(), t.inputs()), ("fsdd-theo", Inputs::Audio));
        assert_eq!(Task::parse("fsdd:all").unwrap().slug(), "fsdd-all");
        let e = Task::parse("fsdd:bob").unwrap_err().to_string();
        assert_eq!(
            e,
            "`task`: FSDD speaker: unknown speaker `bob` (known: george, jackson, lucas, nicolas, theo, yweweler)"
        );
        let c = t.defaults(ExperimentConfig {
            task: "fsdd:theo".into(),
            ..Default::default()
        });
        c.validate().unwrap();
        assert_eq!((c.backbone.as_deref(), c.train.epochs), (Some("audio-cnn"), 20));
        for (key, says) in [
            ("backbone=\"digit\"", "`backbone`: `digit` is not a backbone of the spoken digits (audio-cnn)"),
            ("source_limit=10", "`source_limit`/`target_limit`"),
            ("mnist_m=\"rebuilt\"", "`mnist_m`"),
            ("features=\"msda\"", "`features`"),
        ] {
            let e = crate::config::set(&c, &[key.to_string()]).unwrap().validate().unwrap_err().to_string();
            assert!(e.starts_with(says), "{key}: {e}");
        }
    }
}
