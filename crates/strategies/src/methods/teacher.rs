//! A teacher: a whole copy of the backbone that a method learns from, kept under `teacher.` in the backbone's
//! variables (so checkpoints hold it and a resumed run continues with it) and outside every optimiser. It is
//! refreshed by copying the student (DIRT-T's previous model, SHOT's model at an epoch's start) or by an
//! exponential moving average of it (self-ensembling's mean teacher).

use crate::error::StrategyError;
use shift_models::{AdaptNet, Twin, CLASSIFIER, FEATURES};
use shift_tensor::tch::{no_grad, Kind, Tensor};

/// The teacher's variable prefix: no optimiser group selects it, so it is frozen.
pub const TEACHER: &str = "teacher";

#[derive(Debug)]
pub struct Teacher {
    twin: Box<dyn Twin>,
    /// (student variable, teacher variable) for every variable of the backbone.
    pairs: Vec<(Tensor, Tensor)>,
    /// The student variable's name of each pair.
    names: Vec<String>,
}

impl Teacher {
    /// The backbone's twin under `teacher.`, a copy of the student; an error naming `method` where the backbone
    /// has no twin.
    pub fn new(net: &dyn AdaptNet, method: &str) -> Result<Self, StrategyError> {
        let vs = net.var_store();
        let twin = net.twin(&(vs.root() / TEACHER)).ok_or_else(|| StrategyError::Invalid {
            field: "backbone".into(),
            msg: format!("{method} needs a teacher copy of the backbone, which this backbone does not offer"),
        })?;
        let vars = vs.variables();
        let mut pairs = Vec::new();
        let mut names = Vec::new();
        // In name order, so that a sum over the pairs adds in the same order on every run.
        let mut sorted: Vec<(&String, &Tensor)> = vars.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (name, student) in sorted {
            if !(name.starts_with(&format!("{FEATURES}.")) || name.starts_with(&format!("{CLASSIFIER}."))) {
                continue;
            }
            let key = format!("{TEACHER}.{name}");
            let teacher = vars.get(&key).ok_or_else(|| {
                StrategyError::Other(format!(
                    "{method}: the teacher has no `{key}` for the backbone's `{name}`"
                ))
            })?;
            let _ = teacher.set_requires_grad(false);
            pairs.push((student.shallow_clone(), teacher.shallow_clone()));
            names.push(name.clone());
        }
        let teacher = Self { twin, pairs, names };
        teacher.copy_student();
        Ok(teacher)
    }

    /// The teacher becomes a copy of the student (weights and batch-norm statistics).
    pub fn copy_student(&self) {
        no_grad(|| {
            for (s, t) in &self.pairs {
                let mut t = t.shallow_clone();
                t.copy_(s);
            }
        });
    }

    /// `teacher = decay * teacher + (1 - decay) * student` for every floating-point variable (weights and
    /// batch-norm statistics alike).
    pub fn average_student(&self, decay: f64) {
        no_grad(|| {
            for (s, t) in &self.pairs {
                if matches!(t.kind(), Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16) {
                    let mut t = t.shallow_clone();
                    let _ = t.g_mul_scalar_(decay);
                    let _ = t.g_add_(&(s * (1.0 - decay)));
                } else {
                    let mut t = t.shallow_clone();
                    t.copy_(s);
                }
            }
        });
    }

    /// The teacher's logits (no gradient; `train` switches its batch norm, dropout and noise).
    pub fn logits(&self, x: &Tensor, train: bool) -> Tensor {
        no_grad(|| self.twin.logits(x, train))
    }

    /// The teacher's label predictor on features `f` (its weights frozen; the gradient reaches `f`).
    pub fn classify(&self, f: &Tensor, train: bool) -> Tensor {
        self.twin.classify(f, train)
    }

    /// `sum 0.5 |w - w_teacher|^2` over the student's trainable variables under `part.` (`features`,
    /// `classifier`; batch-norm statistics and frozen parts are left out), differentiable in the student.
    pub fn half_squared_distance(&self, part: &str) -> Tensor {
        let prefix = format!("{part}.");
        let mut total: Option<Tensor> = None;
        for ((s, t), name) in self.pairs.iter().zip(&self.names) {
            if !name.starts_with(&prefix) || !s.requires_grad() {
                continue;
            }
            let d = (s - t.detach()).square().sum(s.kind()) * 0.5;
            total = Some(match total {
                Some(acc) => acc + d,
                None => d,
            });
        }
        total.unwrap_or_else(|| match self.pairs.first() {
            Some((s, _)) => Tensor::zeros([], (s.kind(), s.device())),
            None => Tensor::zeros([], (Kind::Float, shift_tensor::tch::Device::Cpu)),
        })
    }

    /// The teacher's features (no gradient).
    pub fn features(&self, x: &Tensor, train: bool) -> Tensor {
        no_grad(|| self.twin.features(x, train))
    }

    /// The teacher's features and logits (no gradient).
    pub fn features_and_logits(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        no_grad(|| {
            let f = self.twin.features(x, train);
            let logits = self.twin.classify(&f, train);
            (f, logits)
        })
    }
}
