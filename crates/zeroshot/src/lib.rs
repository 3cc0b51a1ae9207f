//! Zero-shot learning: classes that no training example shows, recognised from a description of each class by
//! attributes alone. The two classic routes, on features of a network trained on the seen classes:
//! [`dap`] predicts the attributes and looks the class up (Lampert, Nickisch & Harmeling, CVPR 2009), [`eszsl`]
//! maps features and attributes into one space in closed form (Romera-Paredes & Torr, ICML 2015). [`attributes`]
//! holds the digits' seven-segment codes and the seen/unseen splits, [`metrics`] the per-class accuracies and the
//! generalised zero-shot harmonic mean (Xian, Lampert, Schiele & Akata, TPAMI 2018).

pub mod attributes;
pub mod dap;
pub mod eszsl;
pub mod metrics;

/// What can go wrong: bad shapes or settings (named), or a libtorch error.
#[derive(Debug, thiserror::Error)]
pub enum ZeroShotError {
    #[error("{what}: {msg}")]
    Invalid { what: String, msg: String },
    #[error(transparent)]
    Torch(#[from] shift_tensor::tch::TchError),
}

impl ZeroShotError {
    pub(crate) fn invalid(what: impl Into<String>, msg: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            msg: msg.into(),
        }
    }
}

/// The features `x` (`[N, D]`), class indices `y` (`[N]`) and class signatures `s` (`[C, A]`) a fit reads, checked
/// against each other: `(N, D, C, A)`.
pub(crate) fn check_fit(
    x: &shift_tensor::tch::Tensor,
    y: &shift_tensor::tch::Tensor,
    s: &shift_tensor::tch::Tensor,
) -> Result<(i64, i64, i64, i64), ZeroShotError> {
    let (xs, ys, ss) = (x.size(), y.size(), s.size());
    if xs.len() != 2 || xs[0] == 0 {
        return Err(ZeroShotError::invalid(
            "features",
            format!("want a non-empty [N, D] matrix, got {xs:?}"),
        ));
    }
    if y.kind() != shift_tensor::tch::Kind::Int64 {
        return Err(ZeroShotError::invalid(
            "labels",
            format!("want class indices (int64), got {:?}", y.kind()),
        ));
    }
    if ys != [xs[0]] {
        return Err(ZeroShotError::invalid(
            "labels",
            format!("{} examples but labels of shape {ys:?}", xs[0]),
        ));
    }
    if ss.len() != 2 || ss[0] == 0 || ss[1] == 0 {
        return Err(ZeroShotError::invalid(
            "signatures",
            format!("want a [classes, attributes] matrix, got {ss:?}"),
        ));
    }
    let (lo, hi) = (y.min().int64_value(&[]), y.max().int64_value(&[]));
    if lo < 0 || hi >= ss[0] {
        return Err(ZeroShotError::invalid(
            "labels",
            format!("classes {lo}..={hi}, but signatures for {} classes", ss[0]),
        ));
    }
    Ok((xs[0], xs[1], ss[0], ss[1]))
}
