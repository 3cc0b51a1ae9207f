//! DELTA (Li, Xiong, Wang, Rao, Liu, Chen & Huan, ICLR 2019): deep learning transfer using feature maps with
//! attention. Fine-tuning holds the network's feature maps near the pretrained network's on the same inputs,
//! each channel weighted by how much the pretrained network's predictions rely on it:
//!
//! ```text
//! L = CE(C(F(x)), y) + a * sum_b sum_c 0.5 * C * w_c * |FM_c(x_b) - FM0_c(x_b)|^2 / (H W) + b * 0.5 |w_C|^2
//! w = softmax(z / T),   z_c = (d_c - mean(d)) / std(d),
//! d_c = CE(C0(FM0(x) with channel c zeroed), y) - CE(C0(FM0(x)), y)   over the labelled examples
//! ```
//!
//! `FM` is the backbone's feature vector read as its `C x H x W` map ([`AdaptNet::feature_channels`]: the digit
//! net's last convolution, 48 x 5 x 5; a pooled or dense backbone's features are each a channel of one position),
//! `FM0, C0` the network the run starts from, kept frozen under `teacher.`; the sum runs over the batch (not a
//! mean), `std` is the population deviation, and where every `d_c` is the same the attention is uniform. The
//! attention is read before the first step, off every labelled example, with the start's own label predictor
//! (the digits' start already classifies the target's ten classes; TLlib trains a fresh head on the target
//! for it, and zeroes a channel by zeroing its convolution filter), and kept in the checkpoint under
//! `discriminator.delta.attention`. The last term is TLlib's L2 penalty on the label predictor's trainable
//! weights. TLlib regularises four ResNet-50 stages; the digit net has one map. Defaults: TLlib's
//! (`examples/task_adaptation/image_classification/delta.py`, `tllib/regularization/delta.py`: trade-offs 0.01
//! and 0.01, T = 5).

use super::labelled_pass::{keep, kept_state, start_features};
use super::teacher::Teacher;
use super::{
    regularised_terms, BuildContext, Capture, DataNeeds, EpochStart, Lambda, Method, MethodInfo, Param, StepInputs,
    Terms,
};
use crate::error::StrategyError;
use shift_models::{AdaptNet, CLASSIFIER};
use shift_tensor::tch::{no_grad, Tensor};

const TLLIB: &str = "Transfer-Learning-Library, examples/task_adaptation/image_classification/delta.py";
const WHY: &str = "its channel attention is the start network's loss increase with each channel zeroed";

/// The registry entry. TLlib's numbers are ResNet-50 on CUB, Cars and Aircraft: another protocol.
pub static INFO: MethodInfo = MethodInfo {
    name: "delta",
    help: "DELTA: fine-tuning that holds the feature maps near the pretrained ones, channels weighted by attention (Li et al., ICLR 2019)",
    data: DataNeeds::finetuning_reading_all(WHY),
    build: |c| Ok(Box::new(Delta::new(c)?)),
    published: &[],
    params: &[
        Param::non_negative("trade_off_backbone", 0.01, TLLIB),
        Param::non_negative("trade_off_head", 0.01, TLLIB),
        Param::positive(
            "attention_temperature",
            5.0,
            "Transfer-Learning-Library, delta.py calculate_channel_attention (softmax(weight / 5))",
        ),
    ],
};

/// `f` reshaped as `[N, C, H*W]`, or an error where `channels` does not divide the feature length.
fn as_map(f: &Tensor, channels: i64) -> Result<Tensor, StrategyError> {
    let size = f.size();
    if size.len() != 2 || channels < 1 || size[1] % channels != 0 {
        return Err(StrategyError::Other(format!(
            "delta reads the features as {channels} channels of a flattened map; got shape {size:?}"
        )));
    }
    Ok(f.view([size[0], channels, size[1] / channels]))
}

/// `d_c` for every channel: the mean cross-entropy of `classify` on features `f` with channel `c` of their map
/// zeroed, less that on `f` itself (`[C]`, in `f`'s precision).
pub fn loss_increase(
    f: &Tensor,
    y: &Tensor,
    channels: i64,
    classify: impl Fn(&Tensor) -> Tensor,
) -> Result<Tensor, StrategyError> {
    let map = as_map(f, channels)?;
    let k = f.kind();
    let ce = |g: &Tensor| classify(g).log_softmax(-1, k).nll_loss(y);
    let base = ce(f);
    let increases: Vec<Tensor> = (0..channels)
        .map(|c| {
            let keep = Tensor::ones([1, channels, 1], (k, f.device()));
            let _ = keep.narrow(1, c, 1).fill_(0.0);
            ce(&(&map * keep).flatten(1, -1)) - &base
        })
        .collect();
    Ok(Tensor::stack(&increases, 0))
}

/// `softmax(z / t)` of the standardised increases `z = (d - mean d) / std d` (population deviation); uniform
/// where every increase is the same.
pub fn channel_attention(increase: &Tensor, t: f64) -> Tensor {
    let k = increase.kind();
    let centred = increase - increase.mean(k);
    let std = centred.square().mean(k).sqrt();
    if std.double_value(&[]) == 0.0 {
        let c = increase.size()[0];
        return Tensor::full([c], 1.0 / c as f64, (k, increase.device()));
    }
    (centred / std / t).softmax(0, k)
}

/// `sum_b sum_c 0.5 * C * w_c * |FM_c - FM0_c|^2 / (H W)`: the attention-weighted feature-map distance of
/// features `f` from the start's `f0` (which carry no gradient), summed over the batch.
pub fn attention_distance(f: &Tensor, f0: &Tensor, attention: &Tensor, channels: i64) -> Result<Tensor, StrategyError> {
    let d = as_map(&(f - f0.detach()), channels)?;
    let hw = d.size()[2] as f64;
    let per_channel = d.square().sum_dim_intlist(2, false, f.kind());
    let weighted = per_channel * attention.to_kind(f.kind()).unsqueeze(0) * (channels as f64 / hw);
    Ok(weighted.sum(f.kind()) * 0.5)
}

/// `0.5 |w|^2` over the trainable variables of `net` under `part.` (in name order), in `like`'s precision.
pub fn half_squared_norm(net: &dyn AdaptNet, part: &str, like: &Tensor) -> Tensor {
    super::trainable_under(net, part).iter().fold(Tensor::zeros([], (like.kind(), like.device())), |acc, (_, v)| {
        acc + v.square().sum(like.kind()) * 0.5
    })
}

#[derive(Debug)]
pub struct Delta {
    start: Teacher,
    /// `w`, `[C]`: uniform until read off the labelled examples at the schedule's start.
    attention: Tensor,
    channels: i64,
    trade_off_backbone: f64,
    trade_off_head: f64,
    temperature: f64,
}

impl Delta {
    /// The start is the network the method is built on (the fine-tuning run loads its checkpoint first).
    pub fn new(ctx: &BuildContext) -> Result<Self, StrategyError> {
        let net = ctx.net;
        let channels = net.feature_channels();
        if channels < 1 || net.feature_dim() % channels != 0 {
            return Err(StrategyError::Other(format!(
                "delta reads the features as a map of {channels} channels, which do not divide their {} values",
                net.feature_dim()
            )));
        }
        Ok(Self {
            start: Teacher::new(net, INFO.name)?,
            attention: kept_state(net, "delta", "attention", &[channels], 1.0 / channels as f64),
            channels,
            trade_off_backbone: ctx.param("trade_off_backbone")?,
            trade_off_head: ctx.param("trade_off_head")?,
            temperature: ctx.param("attention_temperature")?,
        })
    }
}

impl Method for Delta {
    fn info(&self) -> &'static MethodInfo {
        &INFO
    }

    fn capture(&self) -> Capture {
        Capture::Joint
    }

    /// At the schedule's start, the attention from the start network on every labelled example.
    fn on_epoch_start(&mut self, net: &dyn AdaptNet, at: &EpochStart) -> Result<(), StrategyError> {
        if let Some((f, y)) = start_features(net, at, INFO.name, WHY)? {
            let increase = no_grad(|| loss_increase(&f, y, self.channels, |g| net.classify(g, false)))?;
            keep(&self.attention, channel_attention(&increase, self.temperature));
        }
        Ok(())
    }

    /// The transfer loss reported is the unweighted feature-map term.
    fn loss(&self, net: &dyn AdaptNet, batch: &StepInputs, _lambda: Lambda) -> Result<Terms, StrategyError> {
        let (x, y) = batch.labelled;
        let f = net.features(x, true);
        let f0 = self.start.features(x, false);
        let term = attention_distance(&f, &f0, &self.attention, self.channels)?;
        let head = half_squared_norm(net, CLASSIFIER, &f);
        let weighted = &term * self.trade_off_backbone + head * self.trade_off_head;
        Ok(regularised_terms(net, &f, y, &term, weighted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shift_tensor::tch::Kind;

    #[test]
    fn equal_increases_give_uniform_attention_and_a_bad_map_is_refused() {
        let w = channel_attention(&Tensor::from_slice(&[0.5f64, 0.5, 0.5, 0.5]), 5.0);
        assert_eq!(Vec::<f64>::try_from(&w).unwrap(), vec![0.25; 4]);
        let f = Tensor::zeros([2, 10], (Kind::Double, shift_tensor::tch::Device::Cpu));
        let e = attention_distance(&f, &f, &Tensor::ones([3], (Kind::Double, f.device())), 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 channels") && e.contains("[2, 10]"), "{e}");
    }
}
