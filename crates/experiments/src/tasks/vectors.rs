//! The task `vectors:SOURCE:TARGET[:TARGET_TEST]`: a researcher's own feature vectors (`shift_data::vectors`:
//! CSV with a label column, or svmlight), a labelled source and a target labelled or not, on an MLP (`mlp`,
//! sized by `vectors.hidden` and `vectors.activation`) or the shallow DANN network (`shallow`). The target is
//! tested on its test file, else on its own labels where it has them, else not at all (the validators still
//! score every epoch).

use super::{Entry, Inputs, Outcome, Setting, Task, TaskKind};
use crate::config::ExperimentConfig;
use crate::report::Summary;
use crate::run_folder::RunResult;
use crate::tensor_runs::{self, TensorData};
use anyhow::{bail, Result};
use shift_data::vectors::{self, ReadOptions};
use shift_models::mlp::MlpNet;
use shift_tensor::tch::{Kind, Tensor};
use std::path::PathBuf;

pub static ENTRY: Entry = Entry {
    usage: "vectors:SOURCE_FILE:TARGET_FILE[:TARGET_TEST_FILE] (.csv, .svm)",
    parse,
};

fn parse(s: &str) -> Option<Result<Task>> {
    let files = s.strip_prefix("vectors:")?;
    Some((|| {
        let parts: Vec<&str> = files.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            bail!("`task`: `{s}` names no two or three files; write vectors:SOURCE_FILE:TARGET_FILE[:TARGET_TEST_FILE]");
        }
        if parts[0] == parts[1] {
            bail!("`task`: `{s}` adapts a file to itself; give two different files");
        }
        Ok(Task::new(Vectors {
            source: parts[0].into(),
            target: parts[1].into(),
            test: parts.get(2).map(PathBuf::from),
        }))
    })())
}

/// A source file, a target file and optionally a target test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vectors {
    pub source: PathBuf,
    pub target: PathBuf,
    pub test: Option<PathBuf>,
}

/// The backbones of the task.
const BACKBONES: &[&str] = &["mlp", "shallow"];

/// The shallow network's hidden units (as the Amazon reviews').
const SHALLOW_HIDDEN: i64 = 50;

impl TaskKind for Vectors {
    /// `vectors-<source>-<target>`, the files' stems with every other character than a letter, a digit or `_`
    /// as `_`.
    fn slug(&self) -> String {
        format!(
            "vectors-{}-{}",
            super::slug_part(self.source.file_stem()),
            super::slug_part(self.target.file_stem())
        )
    }

    fn inputs(&self) -> Inputs {
        Inputs::Vectors
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        super::refuse_mnist_m(cfg)?;
        super::refuse_features(cfg)?;
        super::refuse_backbone(cfg, BACKBONES, "feature vectors")?;
        super::refuse_limits(cfg, "a vectors: run trains on every row of its files")?;
        if let Some(p) = &cfg.pretrained {
            bail!("`pretrained`: {} is for Office-31's ResNet-50; the MLP starts from random weights", p.display());
        }
        let v = cfg.vectors.clone().unwrap_or_default();
        if v.hidden.is_empty() || v.hidden.iter().any(|&h| h < 1) {
            bail!("`vectors.hidden`: {:?}: give one width of at least 1 per hidden layer", v.hidden);
        }
        if v.label_column.is_empty() {
            bail!("`vectors.label_column`: name the CSV column that holds the classes");
        }
        Ok(())
    }

    /// A schedule for small tables: 100 epochs of 32 + 32 rows (an epoch is one pass over the source).
    fn defaults(&self, mut cfg: ExperimentConfig) -> ExperimentConfig {
        cfg.backbone.get_or_insert_with(|| "mlp".into());
        cfg.train.epochs = 100;
        cfg.train.batch = 32;
        cfg.train.steps_per_epoch = None;
        cfg
    }

    /// 10 epochs of the same.
    fn quick(&self, mut cfg: ExperimentConfig) -> ExperimentConfig {
        cfg.train.epochs = 10;
        cfg
    }

    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let (cfg, device) = (s.cfg, s.device);
        let v = cfg.vectors.clone().unwrap_or_default();
        let opts = ReadOptions {
            label_column: v.label_column.clone(),
            zero_based: v.zero_based,
        };
        let pair = vectors::load(&self.source, &self.target, self.test.as_deref(), &opts)?;
        tensor_runs::check_labelled_target(&cfg.methods, pair.target.labelled)?;
        let on = |x: &Tensor| x.to_kind(Kind::Float).to_device(device);
        let source = (on(&pair.source.x), pair.source.y.to_device(device));
        let target = (on(&pair.target.x), pair.target.y.to_device(device));
        let test = match &pair.test {
            Some(t) => (on(&t.x), t.y.to_device(device)),
            None => (Tensor::zeros([0, pair.width as i64], (Kind::Float, device)), Tensor::zeros([0], (Kind::Int64, device))),
        };
        let data = TensorData::new(&source, target, test, &cfg.validation, device)?;
        eprintln!(
            "shift: vectors {} -> {}: {} features, {} classes ({}); {} labelled source rows ({} held out for the \
             validators), {} target rows ({}), {} test rows",
            self.source.display(),
            self.target.display(),
            pair.width,
            pair.classes.len(),
            pair.classes.join(", "),
            data.train.0.size()[0],
            data.validation.as_ref().map_or(0, |v| v.source_split.0.size()[0]),
            data.target.0.size()[0],
            if pair.target.labelled { "labelled: its labels serve only the test accuracy" } else { "unlabelled" },
            data.test.0.size()[0],
        );
        let (width, classes) = (pair.width as i64, pair.classes.len() as i64);
        let shallow = cfg.backbone.as_deref() == Some("shallow");
        let runs = tensor_runs::run_all(&s.at.out, &self.slug(), cfg, &data, device, s.stop, s.at.resume, || {
            Ok(if shallow {
                MlpNet::shallow(device, width, SHALLOW_HIDDEN, classes)
            } else {
                MlpNet::build(device, width, &v.hidden, classes, v.activation.into())
            })
        })?;
        Ok(runs.map(Outcome::Runs))
    }

    fn notes(&self, _cfg: &ExperimentConfig, runs: &[RunResult], _summaries: &[Summary]) -> Vec<String> {
        let tested = runs.iter().any(|r| !r.target_acc.is_nan());
        let on = match (&self.test, tested) {
            (Some(test), _) => format!("tested on {}", test.display()),
            (None, true) => format!("tested on the target's own labels ({}), never trained on", self.target.display()),
            (None, false) => format!("the target {} is unlabelled: no test accuracy, only the validators", self.target.display()),
        };
        vec![format!("source {} (labelled); {on}", self.source.display())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vectors_task_names_two_or_three_files() {
        let t = Task::parse("vectors:data/source rows.csv:data/target.svm").unwrap();
        assert_eq!((t.slug().as_str(), t.inputs()), ("vectors-source_rows-target", Inputs::Vectors));
        let with_test = Task::parse("vectors:a.csv:b.csv:c.csv").unwrap();
        assert!(format!("{with_test:?}").contains("test: Some(\"c.csv\")"), "{with_test:?}");
        for (bad, says) in [
            ("vectors:a.csv", "names no two or three files"),
            ("vectors:a.csv::c.csv", "names no two or three files"),
            ("vectors:a:b:c:d", "names no two or three files"),
            ("vectors:a.csv:a.csv", "adapts a file to itself"),
        ] {
            let e = Task::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_vectors_keys_are_checked_and_refused_on_other_tasks() {
        let c = |sets: &[&str]| {
            let base = ExperimentConfig {
                task: "vectors:a.csv:b.csv".into(),
                ..Default::default()
            };
            crate::config::set(&base, &sets.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        c(&["vectors.hidden=[100,50]", "vectors.activation=sigmoid", "backbone=\"shallow\""])
            .validate()
            .unwrap();
        // A key set to its default value is kept, as the help's example shows it.
        let same = c(&["vectors.hidden=[64]", "vectors.activation=relu", "vectors.label_column=label"]);
        same.validate().unwrap();
        assert_eq!(same.vectors, Some(crate::config::VectorsConfig::default()));
        for (sets, says) in [
            (&["vectors.hidden=[]"][..], "`vectors.hidden`: []: give one width"),
            (&["vectors.hidden=[0]"], "`vectors.hidden`: [0]"),
            (&["vectors.label_column=\"\""], "`vectors.label_column`: name the CSV column"),
            (&["backbone=\"digit\""], "`backbone`: `digit` is not a backbone of feature vectors (mlp, shallow)"),
            (&["methods=[\"self-ensembling\"]"], "`methods`: self-ensembling needs images"),
            (&["source_limit=5"], "`source_limit`/`target_limit`"),
            (&["task=\"mnist:mnist-m\"", "vectors.hidden=[8]"], "`vectors`: the keys of the vectors: task"),
        ] {
            let e = c(sets).validate().unwrap_err().to_string();
            assert!(e.contains(says), "{sets:?}: {e}");
        }
        let e = format!("{:#}", crate::config::set(&ExperimentConfig::default(), &["vectors.activation=tanh".into()]).unwrap_err());
        assert!(e.contains("unknown variant `tanh`, expected `relu` or `sigmoid`"), "{e}");
    }
}
