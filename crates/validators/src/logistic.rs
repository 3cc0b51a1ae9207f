//! L2-regularised logistic regression fitted to its optimum by Newton's method: the domain classifier of DEV
//! and of the proxy A-distance.

use shift_tensor::tch::{Kind, Tensor};

/// Newton's method stops when no coefficient moves more than this, or after [`MAX_NEWTON_STEPS`].
const NEWTON_TOLERANCE: f64 = 1e-10;
const MAX_NEWTON_STEPS: usize = 100;

/// A fitted classifier of `positive` (1) against `negative` (0) rows: on the features standardised by the
/// pooled mean and (population) standard deviation, the coefficients minimising the mean log-loss plus
/// `l2 / 2 * |w|^2` (the intercept is not penalised). The problem is strictly convex, so the fit has one answer
/// whatever the start.
///
/// ```
/// use shift_tensor::tch::Tensor;
/// let neg = Tensor::from_slice2(&[[0.0f64, 0.1], [0.2, 0.0], [0.1, 0.3]]);
/// let pos = Tensor::from_slice2(&[[3.0f64, 3.1], [2.8, 3.0], [3.2, 2.9]]);
/// let clf = shift_validators::Logistic::fit(&neg, &pos, 1e-2);
/// let odds = Vec::<f64>::try_from(clf.log_odds(&Tensor::from_slice2(&[[0.0f64, 0.0], [3.0, 3.0]]))).unwrap();
/// assert!(odds[0] < 0.0 && odds[1] > 0.0);
/// ```
#[derive(Debug)]
pub struct Logistic {
    mean: Tensor,
    std: Tensor,
    /// The intercept first, then one coefficient per feature.
    beta: Tensor,
}

impl Logistic {
    /// Fits the classifier (inputs are read as doubles; both must have the same width).
    pub fn fit(negative: &Tensor, positive: &Tensor, l2: f64) -> Self {
        let (negative, positive) = (negative.to_kind(Kind::Double), positive.to_kind(Kind::Double));
        let pooled = Tensor::cat(&[&negative, &positive], 0);
        let mean = pooled.mean_dim([0i64].as_slice(), true, Kind::Double);
        let std = pooled.std_dim([0i64].as_slice(), false, true);
        // A constant feature carries nothing: left as it is rather than divided by zero.
        let std = std.where_self(&std.gt(0.0), &std.ones_like());
        let mut model = Self {
            mean,
            std,
            beta: Tensor::zeros([pooled.size()[1] + 1], (Kind::Double, pooled.device())),
        };
        let x = model.design(&pooled);
        let n = x.size()[0] as f64;
        let y = Tensor::cat(
            &[
                Tensor::zeros([negative.size()[0]], (Kind::Double, x.device())),
                Tensor::ones([positive.size()[0]], (Kind::Double, x.device())),
            ],
            0,
        );
        let penalty = Tensor::ones([x.size()[1]], (Kind::Double, x.device())) * l2;
        let _ = penalty.get(0).fill_(0.0);
        // The penalised mean log-loss, `mean(softplus(z) - y z) + l2 / 2 |w|^2`.
        let objective = |beta: &Tensor| {
            let z = x.mv(beta);
            let loss = (z.softplus() - &y * &z).mean(Kind::Double);
            (loss + (&penalty * beta.square()).sum(Kind::Double) / 2.0).double_value(&[])
        };
        for _ in 0..MAX_NEWTON_STEPS {
            let prob = x.mv(&model.beta).sigmoid();
            let grad = x.tr().mv(&(&prob - &y)) / n + &penalty * &model.beta;
            let curvature = &prob * (prob.ones_like() - &prob) / n;
            let hessian = (x.tr() * curvature.unsqueeze(0)).matmul(&x) + penalty.diag(0);
            let mut step = Tensor::linalg_solve(&hessian, &grad.unsqueeze(1), true).squeeze_dim(1);
            // Halve a step that does not lower the objective (a full Newton step can overshoot from far away).
            let before = objective(&model.beta);
            for _ in 0..30 {
                if objective(&(&model.beta - &step)) <= before {
                    break;
                }
                step /= 2.0;
            }
            model.beta -= &step;
            if step.abs().max().double_value(&[]) < NEWTON_TOLERANCE {
                break;
            }
        }
        model
    }

    /// The log-odds of "positive" for each row of `x`.
    pub fn log_odds(&self, x: &Tensor) -> Tensor {
        self.design(&x.to_kind(Kind::Double)).mv(&self.beta)
    }

    /// Standardised rows with a leading column of ones.
    fn design(&self, x: &Tensor) -> Tensor {
        let x = (x - &self.mean) / &self.std;
        Tensor::cat(&[x.ones_like().narrow(1, 0, 1), x], 1)
    }
}
