//! ClassAMI: how well k-means clusters of the target features agree with the model's predicted classes
//! (Musgrave, Belongie & Lim, 2022, after the cluster-based selection of Loghmani et al.'s ABAS).

use crate::{features, logits, Predictions, Validator, ValidatorError};
use shift_tensor::tch::{Kind, Tensor};

/// k-means on the target features with k = the number of classes, started from the centroid of each predicted
/// class (a class that no prediction uses starts at the origin) and run by Lloyd's iterations until no
/// assignment changes; the score is the adjusted mutual information (arithmetic normalisation, as
/// scikit-learn's default) between the clusters and the predicted classes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassAmi;

/// Lloyd's iterations stop here even if assignments still change.
const MAX_LLOYD_STEPS: usize = 300;

impl Validator for ClassAmi {
    fn name(&self) -> &'static str {
        "class_ami"
    }

    fn score(&self, p: &Predictions) -> Result<f64, ValidatorError> {
        let z = logits(self.name(), &p.target_logits, 2)?;
        let x = features(self.name(), "target features", p.target_features.as_ref(), 2)?;
        if x.size()[0] != z.size()[0] {
            return Err(ValidatorError::Input {
                validator: self.name(),
                what: format!("{} target features for {} predictions", x.size()[0], z.size()[0]),
            });
        }
        let k = z.size()[1];
        let predicted = z.argmax(1, false);
        let clusters = k_means(&x, &predicted, k);
        let as_vec = |t: &Tensor| {
            Vec::<i64>::try_from(t).map_err(|e| ValidatorError::Input {
                validator: "class_ami",
                what: format!("cannot read the labels: {e}"),
            })
        };
        adjusted_mutual_information(&as_vec(&predicted)?, &as_vec(&clusters)?)
    }
}

/// Each row's cluster after Lloyd's iterations from the centroids of `labels` (in 0..k).
fn k_means(x: &Tensor, labels: &Tensor, k: i64) -> Tensor {
    let centroids = |assign: &Tensor, previous: Option<&Tensor>| {
        let one_hot = assign.one_hot(k).to_kind(Kind::Double);
        let counts = one_hot.sum_dim_intlist([0i64].as_slice(), false, Kind::Double);
        let sums = one_hot.tr().matmul(x);
        let means = sums / counts.clamp_min(1.0).unsqueeze(1);
        // An empty cluster keeps its centroid (at the start: the origin).
        match previous {
            Some(prev) => means.where_self(&counts.gt(0.0).unsqueeze(1), prev),
            None => means,
        }
    };
    let mut c = centroids(labels, None);
    let mut assign = labels.shallow_clone();
    for step in 0..MAX_LLOYD_STEPS {
        // Squared distances up to the per-row constant |x|^2.
        let d = c
            .square()
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Double)
            .unsqueeze(0)
            - x.matmul(&c.tr()) * 2.0;
        let next = d.argmin(1, false);
        if step > 0 && next.equal(&assign) {
            break;
        }
        assign = next;
        c = centroids(&assign, Some(&c));
    }
    assign
}

/// Adjusted mutual information of two labellings of the same items, `(MI - E[MI]) / (mean(H(a), H(b)) -
/// E[MI])` (Vinh, Epps & Bailey, JMLR 2010), with the expectation under the hypergeometric model of random
/// labellings with the same cluster sizes. 1 when both put every item in one cluster, as scikit-learn's
/// `adjusted_mutual_info_score` does.
///
/// ```
/// use shift_validators::adjusted_mutual_information as ami;
/// assert!((ami(&[0, 0, 1, 1], &[5, 5, 7, 7]).unwrap() - 1.0).abs() < 1e-12); // the same partition, renamed
/// assert!(ami(&[0, 0, 1, 1], &[0, 1, 0, 1]).unwrap() < 0.0); // worse than chance
/// assert!(ami(&[0, 1], &[0]).is_err());
/// ```
pub fn adjusted_mutual_information(a: &[i64], b: &[i64]) -> Result<f64, ValidatorError> {
    if a.len() != b.len() {
        return Err(ValidatorError::Input {
            validator: "class_ami",
            what: format!("labellings of different lengths: {} and {}", a.len(), b.len()),
        });
    }
    let index = |v: &[i64]| {
        let mut ids: Vec<i64> = v.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let of: Vec<usize> = v.iter().map(|x| ids.binary_search(x).expect("present")).collect();
        (ids.len(), of)
    };
    let ((ra, ia), (rb, ib)) = (index(a), index(b));
    // scikit-learn's limit case: neither labelling splits the items (or there are none).
    if (ra == 1 && rb == 1) || a.is_empty() {
        return Ok(1.0);
    }
    let n = a.len();
    let mut table = vec![vec![0usize; rb]; ra];
    for (&i, &j) in ia.iter().zip(&ib) {
        table[i][j] += 1;
    }
    let rows: Vec<usize> = table.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<usize> = (0..rb).map(|j| table.iter().map(|r| r[j]).sum()).collect();
    let nf = n as f64;
    let entropy = |sizes: &[usize]| -> f64 {
        sizes
            .iter()
            .filter(|&&s| s > 0)
            .map(|&s| {
                let p = s as f64 / nf;
                -p * p.ln()
            })
            .sum()
    };
    let mut mi = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, &nij) in row.iter().enumerate() {
            if nij > 0 {
                let nij = nij as f64;
                mi += nij / nf * (nf * nij / (rows[i] as f64 * cols[j] as f64)).ln();
            }
        }
    }
    // ln k! for k in 0..=n.
    let mut ln_fact = vec![0.0f64; n + 1];
    for k in 1..=n {
        ln_fact[k] = ln_fact[k - 1] + (k as f64).ln();
    }
    let mut expected = 0.0;
    for &ai in &rows {
        for &bj in &cols {
            let lo = (ai + bj).saturating_sub(n).max(1);
            for nij in lo..=ai.min(bj) {
                let log_p = ln_fact[ai] + ln_fact[bj] + ln_fact[n - ai] + ln_fact[n - bj]
                    - ln_fact[n]
                    - ln_fact[nij]
                    - ln_fact[ai - nij]
                    - ln_fact[bj - nij]
                    - ln_fact[n + nij - ai - bj];
                let nij = nij as f64;
                expected += nij / nf * (nf * nij / (ai as f64 * bj as f64)).ln() * log_p.exp();
            }
        }
    }
    // Rounding can leave the mutual information a hair below 0 (scikit-learn clips it too).
    let mi = mi.max(0.0);
    let normaliser = (entropy(&rows) + entropy(&cols)) / 2.0;
    let denominator = normaliser - expected;
    let denominator = if denominator < 0.0 {
        denominator.min(-f64::EPSILON)
    } else {
        denominator.max(f64::EPSILON)
    };
    Ok((mi - expected) / denominator)
}
