//! The task `folders:SRC:TGT`: a researcher's own two domains as image folders (`shift_data::image_folder`), one
//! folder per class in the source, the target labelled the same way or unlabelled (then its runs report no
//! accuracy), on the image-folder runs of [`crate::office`].

use super::{Entry, Outcome, Setting, Task, TaskKind};
use crate::config::ExperimentConfig;
use crate::office::{self, Loaded, OfficePair};
use crate::report::Summary;
use crate::run_folder::RunResult;
use anyhow::{bail, Context, Result};
use shift_data::image_folder::{check_same_classes, list_image_folder};
use std::path::PathBuf;

pub static ENTRY: Entry = Entry {
    usage: "folders:SOURCE_DIR:TARGET_DIR",
    parse,
};

fn parse(s: &str) -> Option<Result<Task>> {
    let pair = s.strip_prefix("folders:")?;
    Some((|| {
        let Some((source, target)) = pair.split_once(':').filter(|(a, b)| !a.is_empty() && !b.is_empty()) else {
            bail!("`task`: `{s}` names no two folders; write folders:SOURCE_DIR:TARGET_DIR");
        };
        if source == target {
            bail!("`task`: `{s}` adapts a folder to itself; give two different folders");
        }
        Ok(Task::new(Folders {
            source: source.into(),
            target: target.into(),
        }))
    })())
}

/// Two image folders: the source labelled by its class folders, the target labelled or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    pub source: PathBuf,
    pub target: PathBuf,
}

impl TaskKind for Folders {
    /// `folders-<source>-<target>`, the folders' own names with every other character than a letter, a digit or
    /// `_` as `_`.
    fn slug(&self) -> String {
        format!(
            "folders-{}-{}",
            super::slug_part(self.source.file_name()),
            super::slug_part(self.target.file_name())
        )
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        super::refuse_mnist_m(cfg)?;
        super::refuse_features(cfg)?;
        super::refuse_vectors(cfg)?;
        super::refuse_backbone(cfg, &["resnet50"], "image folders")?;
        super::refuse_limits(cfg, "an image-folder run trains on every image of both folders")
    }

    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let (source, target) = (&self.source, &self.target);
        let src = list_image_folder(source).context("the source folder (task folders:SRC:TGT)")?;
        if !src.is_labelled() {
            bail!(
                "`task`: the source folder {} has no class folders; the source must be labelled",
                source.display()
            );
        }
        let tgt = list_image_folder(target).context("the target folder (task folders:SRC:TGT)")?;
        check_same_classes(&src, &tgt)?;
        eprintln!(
            "shift: folders {} -> {}: {} classes, {} source, {} target images ({})",
            source.display(),
            target.display(),
            src.classes.len(),
            src.list.len(),
            tgt.list.len(),
            if tgt.is_labelled() {
                "labelled: its labels serve only the test accuracy"
            } else {
                "unlabelled: no test accuracy"
            }
        );
        let loaded = Loaded {
            classes: src.classes.len(),
            target_labelled: tgt.is_labelled(),
            pair: OfficePair::from_lists(src.list, tgt.list, s.cfg.train.batch as usize)?,
        };
        Ok(office::run(loaded, &self.slug(), s)?.map(Outcome::Runs))
    }

    fn notes(&self, _cfg: &ExperimentConfig, runs: &[RunResult], _summaries: &[Summary]) -> Vec<String> {
        let labelled = runs.iter().any(|r| !r.target_acc.is_nan());
        vec![format!(
            "source {} (labelled); target {} ({})",
            self.source.display(),
            self.target.display(),
            if labelled {
                "labelled: its labels served only the test accuracy"
            } else {
                "unlabelled: no test accuracy"
            }
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folders_task_names_two_different_folders_and_its_slug_their_names() {
        let t = Task::parse("folders:/data/my photos:/data/sketches").unwrap();
        assert_eq!(t.slug(), "folders-my_photos-sketches");
        assert_eq!(
            format!("{t:?}"),
            format!(
                "{:?}",
                Folders {
                    source: "/data/my photos".into(),
                    target: "/data/sketches".into()
                }
            )
        );
        for bad in ["folders:a", "folders::b", "folders:a:"] {
            let e = Task::parse(bad).unwrap_err().to_string();
            assert!(e.contains("folders:SOURCE_DIR:TARGET_DIR"), "{bad}: {e}");
        }
        let e = Task::parse("folders:a:a").unwrap_err().to_string();
        assert!(e.contains("adapts a folder to itself"), "{e}");
        let c = ExperimentConfig {
            task: "folders:a:b".into(),
            backbone: Some("digit".into()),
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(e, "`backbone`: `digit` is not a backbone of image folders (resnet50)");
    }
}
