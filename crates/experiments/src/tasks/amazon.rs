//! The tasks `amazon:SOURCE:TARGET` and `amazon:all`: the Amazon reviews of Ganin et al. (JMLR 2016, Section 5.1,
//! Table 1) on the paper's shallow network, with the authors' schedule, Table 1's numbers beside each pair, and
//! `amazon:all` printed in Table 1's layout. Its data, runs and table are in [`crate::amazon`].

use super::{Entry, Inputs, Outcome, Setting, Task, TaskKind};
use crate::anchors::Anchors;
use crate::report::Finished;
use crate::config::{ExperimentConfig, Features};
use crate::run_folder::RunResult;
use crate::amazon;
use anyhow::{bail, Result};
use shift_data::amazon_reviews::Domain;
use shift_strategies::methods::{Protocol, Published};
use shift_strategies::{MethodName, TrainConfig};
use std::sync::OnceLock;

pub static ENTRY: Entry = Entry {
    usage: "amazon:SOURCE:TARGET of books, dvd, electronics, kitchen, and amazon:all",
    parse,
};

fn parse(s: &str) -> Option<Result<Task>> {
    let pair = s.strip_prefix("amazon:")?;
    if pair == "all" {
        return Some(Ok(Task::new(Amazon { pair: None })));
    }
    Some((|| {
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
        Ok(Task::new(Amazon {
            pair: Some((source, target)),
        }))
    })())
}

/// One pair of the Amazon reviews (`amazon:SOURCE:TARGET`), on 5,000 count features (or their mSDA
/// representation); or all twelve (`amazon:all`, None), one table in Table 1's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amazon {
    pub pair: Option<(Domain, Domain)>,
}

/// The Amazon reviews' keys: the shallow network from random weights, on every review; no MNIST-M.
fn validate(cfg: &ExperimentConfig) -> Result<()> {
    super::refuse_backbone(cfg, &["shallow"], "the Amazon reviews")?;
    if cfg.pretrained.is_some() || cfg.source_limit.is_some() || cfg.target_limit.is_some() {
        bail!(
            "`pretrained`/`source_limit`/`target_limit`: not settings of the Amazon reviews, which train the \
             shallow network from random weights on every review"
        );
    }
    super::refuse_vectors(cfg)?;
    super::refuse_mnist_m(cfg)
}

/// The Amazon reviews' schedule, the authors' `experiments_amazon.py` defaults in mini-batches: 50 sigmoid hidden
/// units (the `shallow` backbone), lambda held at 0.1, plain SGD (no momentum, no weight decay) at a constant
/// rate, at most 200 epochs, 10% of the source held out as the early-stopping set (here the held-out split that
/// `source_accuracy` scores, whose pick is the early-stopped epoch), and DANN with lambda on the domain
/// regressor's update as well (`params.dann.lambda_on_discriminator`). The authors step on one review at a time at
/// 0.001 (0.0001 on mSDA features); shift steps on 32 + 32 reviews at 32 times that, the same first-order update
/// per review. Reads `features` (set it first).
pub fn schedule(c: ExperimentConfig) -> ExperimentConfig {
    // The authors' rate per review: 0.001 on the raw counts, 0.0001 on mSDA's representation.
    let per_review = match c.features {
        Features::Raw => 0.001,
        Features::Msda => 0.0001,
    };
    let batch = 32;
    super::shallow_schedule(c, 200, batch, per_review * batch as f64, 0.1)
}

/// `--quick` on the Amazon reviews: 30 epochs of the same schedule, about a minute a pair on two CPU cores.
fn quick(mut c: ExperimentConfig) -> ExperimentConfig {
    c.train.epochs = 30;
    c
}

/// The schedule of Table 1's numbers, on `cfg`'s features.
fn paper_schedule(cfg: &ExperimentConfig) -> TrainConfig {
    schedule(ExperimentConfig {
        features: cfg.features,
        ..Default::default()
    })
    .train
}

/// The folder name of the pair `source -> target`: `amazon-books-dvd`.
pub fn slug(source: Domain, target: Domain) -> String {
    format!("amazon-{source}-{target}")
}

impl TaskKind for Amazon {
    fn slug(&self) -> String {
        self.pair.map_or_else(|| "amazon-all".into(), |(s, t)| slug(s, t))
    }

    fn part(&self, folder: &str) -> Option<Task> {
        let pair = Domain::pairs().into_iter().find(|&(s, t)| slug(s, t) == folder)?;
        self.pair
            .is_none()
            .then(|| Task::new(Amazon { pair: Some(pair) }))
    }

    fn inputs(&self) -> Inputs {
        Inputs::Vectors
    }

    fn validate(&self, cfg: &ExperimentConfig) -> Result<()> {
        validate(cfg)
    }

    fn defaults(&self, cfg: ExperimentConfig) -> ExperimentConfig {
        schedule(cfg)
    }

    fn quick(&self, cfg: ExperimentConfig) -> ExperimentConfig {
        quick(cfg)
    }

    fn paper_schedule(&self, cfg: &ExperimentConfig) -> TrainConfig {
        paper_schedule(cfg)
    }

    /// Table 1's numbers for a pair; none for `amazon:all` (its table sets them beside each pair).
    fn anchors(&self, method: MethodName, features: Features) -> Anchors {
        Anchors {
            published: self.pair.and_then(|pair| published(method, pair, features)),
            elsewhere: None,
        }
    }

    /// A pair's runs; or every pair of Table 1 in turn (each in its own folder, as `amazon:SOURCE:TARGET` runs
    /// it), then one table in Table 1's layout, written as results.md and results.json beside them.
    fn run(&self, s: &Setting) -> Result<Option<Outcome>> {
        let (cfg, at) = (s.cfg, s.at);
        if let Some(pair) = self.pair {
            let runs = amazon::run_pair(&at.data, &at.out, cfg, pair, s.device, s.stop, at.resume)?;
            return Ok(runs.map(Outcome::Runs));
        }
        let started = std::time::Instant::now();
        let mut pairs = Vec::new();
        for pair in Domain::pairs() {
            let Some(runs) = amazon::run_pair(&at.data, &at.out, cfg, pair, s.device, s.stop, at.resume)? else {
                return Ok(None);
            };
            pairs.push((pair, runs));
        }
        let comparable = super::off_schedule(cfg)?.is_empty();
        let table = amazon::table_1(&cfg.methods, &pairs, &cfg.validation.select, comparable, cfg.features);
        let runs: Vec<&RunResult> = pairs.iter().flat_map(|(_, r)| r).collect();
        let json = serde_json::json!({
            "config": cfg,
            "pairs": pairs.iter().map(|((s, t), runs)| serde_json::json!({
                "source": s.name(), "target": t.name(), "runs": runs,
            })).collect::<Vec<_>>(),
            "runs": runs.len(),
        });
        Ok(Some(Outcome::Reported(Finished::write(
            &at.out,
            table.markdown(),
            &json,
            "results.md, results.json; each pair's runs in amazon-<source>-<target>/",
            started,
        )?)))
    }
}

/// Table 1 of Ganin et al. (JMLR 2016) as [`Published`] numbers, for the methods it reports ([`amazon::paper`]).
fn published(method: MethodName, pair: (Domain, Domain), features: Features) -> Option<&'static Published> {
    type Row = (MethodName, (Domain, Domain), Features, Published);
    static TABLE: OnceLock<Vec<Row>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut rows = Vec::new();
        for f in [Features::Raw, Features::Msda] {
            for p in Domain::pairs() {
                for m in [MethodName::DANN, MethodName::SOURCE_ONLY] {
                    if let Some(accuracy) = amazon::paper(m.as_str(), p, f) {
                        let published = Published {
                            task: "amazon",
                            accuracy,
                            source: "Ganin et al., JMLR 2016, Table 1",
                            protocol: Protocol::Paper,
                        };
                        rows.push((m, p, f, published));
                    }
                }
            }
        }
        rows
    });
    table
        .iter()
        .find(|(m, p, f, _)| *m == method && *p == pair && *f == features)
        .map(|(_, _, _, published)| published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_tasks_name_two_domains_or_all_and_take_the_authors_schedule() {
        let t = Task::parse("amazon:dvd:kitchen").unwrap();
        assert_eq!(
            (t.slug().as_str(), t.inputs()),
            ("amazon-dvd-kitchen", Inputs::Vectors)
        );
        assert_eq!(Task::parse("amazon:all").unwrap().slug(), "amazon-all");
        for (bad, says) in [
            ("amazon:books", "names no two domains"),
            ("amazon:books:books", "adapts a domain to itself"),
            ("amazon:books:toys", "`task`: Amazon reviews domain: unknown domain `toys` (known: books, dvd"),
        ] {
            let e = Task::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let c = schedule(ExperimentConfig {
            task: "amazon:all".into(),
            ..Default::default()
        });
        c.validate().unwrap();
        assert_eq!(c.train.lr, shift_strategies::LrSchedule::Constant { lr: 0.032 });
        assert_eq!(c.params["dann"]["lambda_on_discriminator"], 1.0);
        let msda = schedule(ExperimentConfig {
            task: "amazon:all".into(),
            features: Features::Msda,
            ..Default::default()
        });
        assert_eq!(msda.train.lr, shift_strategies::LrSchedule::Constant { lr: 0.0032 });
        let e = "pca".parse::<Features>().unwrap_err().to_string();
        assert_eq!(e, "`features`: unknown representation `pca` (known: raw, msda)");
        for (key, says) in [
            ("backbone=\"digit\"", "`backbone`: `digit` is not a backbone of the Amazon reviews (shallow)"),
            ("source_limit=10", "`pretrained`/`source_limit`/`target_limit`"),
            ("mnist_m=rebuilt", "`mnist_m`"),
        ] {
            let e = crate::config::set(&c, &[key.to_string()]).unwrap().validate().unwrap_err().to_string();
            assert!(e.contains(says), "{key}: {e}");
        }
    }

    #[test]
    fn an_amazon_pair_gets_table_1s_dann_and_nn_for_its_features() {
        let pair = Task::parse("amazon:books:dvd").unwrap();
        let cell = |m: MethodName, f| pair.anchors(m, f).published.map(|p| p.accuracy);
        assert_eq!(cell(MethodName::DANN, Features::Raw), Some(0.784));
        assert_eq!(cell(MethodName::SOURCE_ONLY, Features::Raw), Some(0.790));
        assert_eq!(cell(MethodName::DANN, Features::Msda), Some(0.829));
        assert_eq!(cell("cdan".parse().unwrap(), Features::Raw), None);
        let all = Task::parse("amazon:all").unwrap();
        assert_eq!(all.anchors(MethodName::DANN, Features::Raw), Anchors::default());
        let p = pair.anchors(MethodName::DANN, Features::Raw).published.unwrap();
        assert_eq!(p.source, "Ganin et al., JMLR 2016, Table 1");
    }
}
