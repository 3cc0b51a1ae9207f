//! Self-ensembling (French, Mackiewicz & Fisher, ICLR 2018): a mean teacher (an exponential moving average of
//! the student) and a student that must agree with it on differently augmented copies of each target image,
//! where the teacher is confident; a class-balance term keeps the student from collapsing onto few classes:
//!
//! ```text
//! p_i = softmax(student(aug(x_t,i))),  q_i = softmax(teacher(aug'(x_t,i)))     (two independent augmentations)
//! m_i = [max_c q_ic > confidence]
//! L_cons = mean_i m_i mean_c (p_ic - q_ic)^2                                  (the mean over every row)
//! L_bal  = mean_j(m) sum_c BCE(mean_i p_ic, 1/C)
//! L      = CE(student(aug(x_s)), y_s) + lambda w (L_cons + b L_bal)
//! teacher <- decay teacher + (1 - decay) student                              (after every step)
//! ```
//!
//! Student and teacher both run in train mode (as the reference code runs them), source and target as separate
//! batches. The augmentation ([`crate::augment`]) is the reference code's digit augmentation on the device.
//! Defaults are the reference code's (`experiment_domainadapt_meanteacher.py`).

use super::teacher::Teacher;
use super::{
    held_statistics, label_terms, BuildContext, Capture, DataNeeds, Lambda, Method, MethodInfo, Param, StepInputs,
    Terms,
};
use crate::augment::{Augmentation, Intensity};
use crate::error::StrategyError;
use shift_models::AdaptNet;
use shift_tensor::tch::{Kind, Tensor};

const CODE: &str =
    "French et al.'s code (Britefury/self-ensemble-visual-domain-adapt, experiment_domainadapt_meanteacher.py)";

/// The registry entry. No self-ensembling number on MNIST -> MNIST-M is published.
pub static INFO: MethodInfo = MethodInfo {
    name: "self-ensembling",
    help: "self-ensembling: a mean teacher, augmented target consistency where it is confident, class balance (French et al., ICLR 2018)",
    data: DataNeeds {
        images: Some("its consistency loss compares two augmentations of each target image (translation, flip, intensity)"),
        ..DataNeeds::SOURCE_AND_TARGET
    },
    build: |c| Ok(Box::new(SelfEnsembling::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative("unsup_weight", 3.0, CODE),
        Param::fraction("confidence", 0.968_377_22, CODE),
        Param::non_negative("class_balance", 0.005, CODE),
        Param::fraction("teacher_decay", 0.99, CODE),
        Param::non_negative("affine_std", 0.1, CODE),
        Param::non_negative("translate", 2.0, CODE),
        Param::non_negative("noise_std", 0.1, CODE),
        Param::flag(
            "intensity",
            1.0,
            "French et al.'s code, batch_search_exp.sh, MNIST <-> SVHN: --intens_flip --intens_scale_range=0.25:1.5 --intens_offset_range=-0.5:0.5",
        ),
        Param::flag(
            "colour",
            1.0,
            "shift's choice, made before any run: the intensity change drawn per channel, the \"affine plus colour\" \
             augmentation of issue 14, since MNIST is grey and MNIST-M coloured (0: the reference code's one draw \
             for all channels)",
        ),
    ],
};

/// The consistency loss and its confidence mask: `mean_i m_i mean_c (p_ic - q_ic)^2` with
/// `m_i = [max_c q_ic > confidence]`; the teacher's probabilities `q` carry no gradient.
pub fn consistency(student: &Tensor, teacher: &Tensor, confidence: f64) -> (Tensor, Tensor) {
    let k = student.kind();
    let p = student.softmax(1, k);
    let q = teacher.detach().softmax(1, k);
    let mask = q.amax([1i64].as_slice(), false).gt(confidence).to_kind(k);
    let per_row = (&p - &q).square().mean_dim([1i64].as_slice(), false, k);
    ((per_row * &mask).mean(k), mask)
}

/// The class-balance loss: the binary cross-entropy of each class's mean predicted probability against the
/// uniform `1/C`, summed over classes (the reference code's robust BCE, with 1e-6 inside the logarithms).
pub fn class_balance(student: &Tensor) -> Tensor {
    let k = student.kind();
    let c = student.size()[1] as f64;
    let avg = student.softmax(1, k).mean_dim([0i64].as_slice(), false, k);
    let t = 1.0 / c;
    let bce = -((&avg + 1e-6).log() * t + (-&avg + (1.0 + 1e-6)).log() * (1.0 - t));
    bce.sum(k)
}

#[derive(Debug)]
pub struct SelfEnsembling {
    teacher: Teacher,
    augmentation: Augmentation,
    unsup_weight: f64,
    confidence: f64,
    class_balance: f64,
    decay: f64,
}

impl SelfEnsembling {
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let per_channel = ctx.param("colour")? == 1.0;
        let intensity = (ctx.param("intensity")? == 1.0).then_some(Intensity {
            scale: (0.25, 1.5),
            offset: (-0.5, 0.5),
            per_channel,
        });
        Ok(Self {
            teacher: Teacher::new(ctx.net, INFO.name)?,
            augmentation: Augmentation {
                affine_std: ctx.param("affine_std")?,
                translate: ctx.param("translate")?,
                intensity,
                noise_std: ctx.param("noise_std")?,
            },
            unsup_weight: ctx.param("unsup_weight")?,
            confidence: ctx.param("confidence")?,
            class_balance: ctx.param("class_balance")?,
            decay: ctx.param("teacher_decay")?,
        })
    }
}

impl Method for SelfEnsembling {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::No("the teacher's moving average runs between steps")
    }

    /// The metrics report the student-teacher disagreement over every target row (the consistency before the
    /// confidence mask) as the transfer loss, and the confident share of the rows as its accuracy.
    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, lambda: Lambda) -> Result<Terms, StrategyError> {
        let (xs, ys) = batch.labelled;
        let xt = batch.target(self.name())?;
        let aug = &self.augmentation;
        let logits_s = held_statistics(net, || net.classify(&net.features(&aug.apply(xs), true), true));
        let (lc, correct, count) = label_terms(&logits_s, ys);
        let student_t = net.classify(&net.features(&aug.apply(xt), true), true);
        let teacher_t = self.teacher.logits(&aug.apply(xt), true);
        let (cons, mask) = consistency(&student_t, &teacher_t, self.confidence);
        let (disagreement, _) = consistency(&student_t, &teacher_t, 0.0);
        let balance = class_balance(&student_t) * mask.mean(Kind::Float);
        let unsup = (cons + balance * self.class_balance) * self.unsup_weight;
        let rows = Tensor::full([], mask.size()[0] as f64, (Kind::Float, xt.device()));
        Ok(Terms {
            loss: lc.shallow_clone() + lambda.weigh(&unsup),
            metrics: [
                lc.detach(),
                correct,
                count,
                disagreement.detach(),
                mask.sum(Kind::Float),
                rows,
            ],
        })
    }

    fn after_step(&mut self, _net: &dyn AdaptNet) -> Result<(), StrategyError> {
        self.teacher.average_student(self.decay);
        Ok(())
    }
}
