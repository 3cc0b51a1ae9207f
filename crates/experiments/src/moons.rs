//! Figure 2 of Ganin et al. (JMLR 2016) from finished `moons` runs: for NN (source-only) and DANN, the label
//! classifier's boundary, the PCA of the hidden layer, the domain classifier's output and the hidden neurons' lines,
//! drawn as moons.png.

use crate::plot;
use crate::run_folder::{RunFolder, RunResult};
use anyhow::{bail, Context, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use shift_models::mlp::MlpNet;
use shift_models::{AdaptNet, DomainDiscriminator};
use shift_strategies::load_model_state;
use shift_tensor::tch::{Device, Kind, Tensor};
use shift_validators::Logistic;
use std::path::Path;

/// The hidden units of the moons' shallow network (the authors' `experiments_moons.py`).
pub const HIDDEN: i64 = 15;

/// The points the figure draws: source points with their classes, target points.
#[derive(Debug)]
pub struct MoonsPoints {
    pub source: (Tensor, Tensor),
    pub target: Tensor,
}

/// One trained network of a run, and its domain classifier: the run's own (DANN's), or a logistic regression
/// fitted on its hidden layer after training (for a method without one).
struct Trained {
    label: String,
    net: MlpNet,
    domain: Domain,
}

enum Domain {
    Own(DomainDiscriminator),
    Fitted(Logistic),
}

impl Trained {
    /// The run in `dir`, its network as the last epoch left it.
    fn load(dir: &Path, label: &str, points: &MoonsPoints, device: Device) -> Result<Self> {
        let path = dir.join("checkpoint.pt");
        let named = shift_tensor::load_named(&path).with_context(|| format!("{}", path.display()))?;
        let net = MlpNet::shallow(device, 2, HIDDEN, 2);
        let own = named.iter().any(|(k, _)| k.starts_with("model.discriminator."));
        let discriminator = own.then(|| {
            let p = net.var_store().root() / shift_models::DISCRIMINATOR;
            DomainDiscriminator::new(&p, net.feature_dim(), &net.discriminator_shape())
        });
        load_model_state(&net, &named).with_context(|| format!("{}: not a moons network", path.display()))?;
        let domain = match discriminator {
            Some(d) => Domain::Own(d),
            None => {
                let h = |x: &Tensor| net.features(x, false).to_kind(Kind::Double);
                Domain::Fitted(Logistic::fit(
                    &h(&points.source.0),
                    &h(&points.target),
                    crate::a_distance::L2,
                ))
            }
        };
        Ok(Self {
            label: label.into(),
            net,
            domain,
        })
    }

    fn hidden(&self, x: &Tensor) -> Tensor {
        shift_tensor::tch::no_grad(|| self.net.features(x, false))
    }

    /// The predicted class of each row of `x`.
    fn classes(&self, x: &Tensor) -> Vec<i64> {
        let logits = shift_tensor::tch::no_grad(|| self.net.classify(&self.hidden(x), false));
        Vec::<i64>::try_from(logits.argmax(-1, false)).unwrap_or_default()
    }

    /// Whether the domain classifier says "target" for each row of `x`.
    fn says_target(&self, x: &Tensor) -> Vec<bool> {
        let h = self.hidden(x);
        let logit = shift_tensor::tch::no_grad(|| match &self.domain {
            Domain::Own(d) => d.forward(&h, false),
            Domain::Fitted(l) => l.log_odds(&h.to_kind(Kind::Double)),
        });
        Vec::<f64>::try_from(logit.to_kind(Kind::Double))
            .unwrap_or_default()
            .iter()
            .map(|&v| v > 0.0)
            .collect()
    }
}

/// A point of the figure.
type Xy = (f64, f64);

/// Rows of a `[N, 2]` tensor as points.
fn xy(x: &Tensor) -> Vec<(f64, f64)> {
    let v = Vec::<f64>::try_from(x.to_kind(Kind::Double).contiguous().view([-1])).unwrap_or_default();
    v.chunks(2).map(|c| (c[0], c[1])).collect()
}

/// The first two principal components of the rows of `h` (centred), as `[N, 2]`.
fn pca2(h: &Tensor) -> Tensor {
    let h = h.to_kind(Kind::Double);
    let centred = &h - h.mean_dim(0, true, Kind::Double);
    // torch.svd's V: the principal directions are its columns, by decreasing singular value.
    let (_, _, v) = centred.svd(true, true);
    centred.matmul(&v.narrow(1, 0, 2))
}

/// Writes moons.png into `out` from the first seed's run of source-only (NN) and DANN that kept a checkpoint; None
/// (said on stderr) when neither did.
pub fn figure(
    out: &Path,
    slug: &str,
    runs: &[RunResult],
    points: &MoonsPoints,
    device: Device,
) -> Result<Option<std::path::PathBuf>> {
    let mut trained = Vec::new();
    for (method, label) in [("source-only", "NN"), ("dann", "DANN")] {
        let Some(r) = runs.iter().find(|r| r.method == method) else {
            continue;
        };
        let dir = RunFolder::new(out, slug, method, r.seed).dir;
        if !dir.join("checkpoint.pt").is_file() {
            eprintln!(
                "shift: moons.png leaves out {method}: {} holds no checkpoint.pt",
                dir.display()
            );
            continue;
        }
        trained.push(Trained::load(&dir, label, points, device)?);
    }
    if trained.is_empty() {
        eprintln!("shift: no moons.png: neither source-only nor dann ran");
        return Ok(None);
    }
    let path = out.join("moons.png");
    let rows = trained.len() as u32;
    plot::png(&path, (1600, 420 * rows + 40), "the moons figure", |root| {
        draw(root, &trained, points, device)
    })?;
    Ok(Some(path))
}

const SOURCE_0: RGBColor = RGBColor(220, 30, 30);
const SOURCE_1: RGBColor = RGBColor(20, 150, 20);

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    trained: &[Trained],
    points: &MoonsPoints,
    device: Device,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "Inter-twinning moons (Ganin et al., JMLR 2016, Figure 2): source + class 0, - class 1; target black dots",
            ("sans-serif", 22),
        )
        .map_err(err)?;
    let source = xy(&points.source.0);
    let classes = Vec::<i64>::try_from(&points.source.1).map_err(|e| e.to_string())?;
    let target = xy(&points.target);
    // The authors' frame: 1.1 times the source's x range, 1.5 times its y range.
    let span = |k: usize, m: f64| {
        let v = source.iter().map(|p| if k == 0 { p.0 } else { p.1 });
        let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        (m * lo, m * hi)
    };
    let ((x0, x1), (y0, y1)) = (span(0, 1.1), span(1, 1.5));
    let (gx, gy) = (120usize, 80usize);
    let (dx, dy) = ((x1 - x0) / gx as f64, (y1 - y0) / gy as f64);
    let centres: Vec<f64> = (0..gy)
        .flat_map(|j| (0..gx).flat_map(move |i| [x0 + (i as f64 + 0.5) * dx, y0 + (j as f64 + 0.5) * dy]))
        .collect();
    let grid = Tensor::from_slice(&centres)
        .view([-1, 2])
        .to_kind(Kind::Float)
        .to_device(device);
    let areas = root.split_evenly((trained.len(), 4));
    for (t, row) in trained.iter().zip(areas.chunks(4)) {
        let hidden_pca = pca2(&Tensor::cat(&[t.hidden(&points.source.0), t.hidden(&points.target)], 0));
        let ns = source.len() as i64;
        let pca_source = xy(&hidden_pca.narrow(0, 0, ns));
        let pca_target = xy(&hidden_pca.narrow(0, ns, target.len() as i64));
        let label_grid = t.classes(&grid);
        let domain_grid = t.says_target(&grid);
        let domain_name = match t.domain {
            Domain::Own(_) => "its domain regressor",
            Domain::Fitted(_) => "a domain regressor fitted after training",
        };
        let panels: [(String, &[Xy], &[Xy]); 4] = [
            (format!("{}: label classification", t.label), &source, &target),
            (format!("{}: representation PCA", t.label), &pca_source, &pca_target),
            (
                format!("{}: domain classification ({domain_name})", t.label),
                &source,
                &target,
            ),
            (format!("{}: hidden neurons", t.label), &source, &target),
        ];
        for (k, ((title, src, tgt), area)) in panels.iter().zip(row).enumerate() {
            let frame = |pts: &[(f64, f64)], other: &[(f64, f64)]| {
                let all = pts.iter().chain(other);
                let (mut a, mut b, mut c, mut d) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
                for p in all {
                    (a, b, c, d) = (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1));
                }
                let (px, py) = ((b - a).max(1e-6) * 0.05, (d - c).max(1e-6) * 0.05);
                ((a - px, b + px), (c - py, d + py))
            };
            let ((ax0, ax1), (ay0, ay1)) = if k == 1 { frame(src, tgt) } else { ((x0, x1), (y0, y1)) };
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 16))
                .margin(8)
                .build_cartesian_2d(ax0..ax1, ay0..ay1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(0)
                .y_labels(0)
                .draw()
                .map_err(err)?;
            let cell = |idx: usize| {
                let (i, j) = (idx % gx, idx / gx);
                let (cx, cy) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
                [(cx, cy), (cx + dx, cy + dy)]
            };
            if k == 0 {
                chart
                    .draw_series(label_grid.iter().enumerate().map(|(idx, &c)| {
                        let colour = if c == 0 { SOURCE_0.mix(0.25) } else { SOURCE_1.mix(0.25) };
                        Rectangle::new(cell(idx), colour.filled())
                    }))
                    .map_err(err)?;
            }
            if k == 2 {
                chart
                    .draw_series(domain_grid.iter().enumerate().map(|(idx, &target)| {
                        let colour = if target { BLACK.mix(0.2) } else { BLUE.mix(0.2) };
                        Rectangle::new(cell(idx), colour.filled())
                    }))
                    .map_err(err)?;
            }
            if k == 3 {
                let w = Vec::<f64>::try_from(
                    t.net.var_store().variables()["features.0.weight"]
                        .to_kind(Kind::Double)
                        .contiguous()
                        .view([-1]),
                )
                .map_err(|e| e.to_string())?;
                let b = Vec::<f64>::try_from(t.net.var_store().variables()["features.0.bias"].to_kind(Kind::Double))
                    .map_err(|e| e.to_string())?;
                for (n, (w12, bias)) in w.chunks(2).zip(&b).enumerate() {
                    if let Some(line) = clip_line((w12[0], w12[1], *bias), (x0, x1), (y0, y1)) {
                        chart
                            .draw_series(LineSeries::new(line, Palette99::pick(n).stroke_width(2)))
                            .map_err(err)?;
                    }
                }
            }
            chart
                .draw_series(tgt.iter().map(|&p| Circle::new(p, 3, BLACK.filled())))
                .map_err(err)?;
            chart
                .draw_series(src.iter().zip(&classes).map(|(&p, &c)| {
                    let (glyph, colour) = if c == 0 { ("+", SOURCE_0) } else { ("-", SOURCE_1) };
                    Text::new(
                        glyph,
                        p,
                        ("sans-serif", 18)
                            .into_font()
                            .color(&colour)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    )
                }))
                .map_err(err)?;
        }
    }
    root.present().map_err(err)
}

/// The piece of the line `w1 x + w2 y + b = 0` inside the box `xs x ys`; None where it misses the box.
fn clip_line((w1, w2, b): (f64, f64, f64), (x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> Option<Vec<(f64, f64)>> {
    let mut ends: Vec<(f64, f64)> = Vec::new();
    let inside = |p: (f64, f64)| p.0 >= x0 - 1e-9 && p.0 <= x1 + 1e-9 && p.1 >= y0 - 1e-9 && p.1 <= y1 + 1e-9;
    if w2.abs() > 1e-12 {
        for x in [x0, x1] {
            ends.push((x, -(w1 * x + b) / w2));
        }
    }
    if w1.abs() > 1e-12 {
        for y in [y0, y1] {
            ends.push((-(w2 * y + b) / w1, y));
        }
    }
    ends.retain(|&p| inside(p));
    ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    ends.dedup_by(|a, b| (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9);
    (ends.len() >= 2).then(|| vec![ends[0], ends[ends.len() - 1]])
}

/// The figure's points from the task's tensors, on the CPU.
pub fn points(source: &(Tensor, Tensor), target: &Tensor) -> Result<MoonsPoints> {
    if source.0.size().get(1) != Some(&2) {
        bail!("the moons figure draws 2-D points, got {:?}", source.0.size());
    }
    Ok(MoonsPoints {
        source: (source.0.shallow_clone(), source.1.shallow_clone()),
        target: target.shallow_clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_neurons_line_is_cut_to_the_frame_and_a_line_that_misses_it_is_dropped() {
        // y = x through the box [-1, 1]^2: its diagonal.
        assert_eq!(
            clip_line((1.0, -1.0, 0.0), (-1.0, 1.0), (-1.0, 1.0)),
            Some(vec![(-1.0, -1.0), (1.0, 1.0)])
        );
        // y = 10 x: it enters at y = -1 and leaves at y = 1.
        let steep = clip_line((10.0, -1.0, 0.0), (-1.0, 1.0), (-1.0, 1.0)).unwrap();
        assert!(
            (steep[0].0 + 0.1).abs() < 1e-12 && (steep[1].0 - 0.1).abs() < 1e-12,
            "{steep:?}"
        );
        // x = 5 misses the box.
        assert_eq!(clip_line((1.0, 0.0, -5.0), (-1.0, 1.0), (-1.0, 1.0)), None);
    }

    #[test]
    fn pca_keeps_the_direction_of_most_spread_first() {
        let h = Tensor::from_slice(&[-2.0f64, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0]).view([4, 3]);
        let p = pca2(&h);
        let first = Vec::<f64>::try_from(p.select(1, 0).abs()).unwrap();
        let second = Vec::<f64>::try_from(p.select(1, 1).abs()).unwrap();
        let near = |v: &[f64], want: [f64; 4]| v.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9);
        assert!(near(&first, [2.0, 2.0, 0.0, 0.0]), "{first:?}");
        assert!(near(&second, [0.0, 0.0, 1.0, 1.0]), "{second:?}");
    }
}
