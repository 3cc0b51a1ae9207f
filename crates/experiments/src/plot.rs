//! Charts drawn with plotters, as PNG (text in the embedded DejaVu Sans) and SVG: line charts of target accuracy
//! (per epoch for the adaptation experiment, against the labelled images per class for fine-tuning), and the
//! t-SNE scatter of source and target features, one panel per run.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// Registers the embedded font as plotters' "sans-serif" (once per process): PNG text needs a font, and an
/// embedded one draws the same on every machine.
fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "the embedded DejaVu Sans font did not load".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Draws `draw` into a PNG of `size` pixels at `path` (written through a temporary file and a rename).
pub(crate) fn png<F>(path: &Path, size: (u32, u32), what: &str, draw: F) -> Result<()>
where
    F: FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
{
    register_font()?;
    let tmp = path.with_extension("tmp.png");
    draw(BitMapBackend::new(&tmp, size).into_drawing_area())
        .map_err(|e| anyhow!("drawing {what} into {}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

/// One line: its legend name and its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How the x axis is labelled.
#[derive(Debug, Clone, PartialEq)]
pub enum XAxis {
    /// Numbers (epochs): the axis spans the points' x values.
    Numbers,
    /// One name per position 0, 1, 2, ... (the k values of fine-tuning, `all` among them).
    Named(Vec<String>),
}

/// A chart of accuracies in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_axis: XAxis,
    pub series: Vec<Series>,
}

/// The lines' colours, in order (matplotlib's first six).
const COLOURS: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
];

impl LineChart {
    /// The x range: the points' span (at least one unit wide), or the named positions with a margin.
    fn x_range(&self) -> (f64, f64) {
        match &self.x_axis {
            XAxis::Named(names) => (-0.25, names.len().max(2) as f64 - 0.75),
            XAxis::Numbers => {
                let xs = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
                let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
                if !lo.is_finite() {
                    (0.0, 1.0)
                } else if hi - lo < 1.0 {
                    (lo - 0.5, lo + 0.5)
                } else {
                    (lo, hi)
                }
            }
        }
    }

    /// The chart as an SVG document (640 x 400).
    pub fn svg(&self) -> Result<String> {
        // Text is measured with the registered font, for SVG as for PNG.
        register_font()?;
        let mut out = String::new();
        self.draw(SVGBackend::with_string(&mut out, (640, 400)).into_drawing_area())
            .map_err(|e| anyhow!("drawing the chart `{}`: {e}", self.title))?;
        Ok(out)
    }

    /// The chart as a PNG at `path` (1280 x 800).
    pub fn png(&self, path: &Path) -> Result<()> {
        png(path, (1280, 800), &format!("the chart `{}`", self.title), |root| {
            self.draw(root)
        })
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let (x0, x1) = self.x_range();
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, 0.0..1.0)
            .map_err(err)?;
        let names = match &self.x_axis {
            XAxis::Named(n) => Some(n),
            XAxis::Numbers => None,
        };
        // Only whole positions are labelled: epochs are counted, named positions are indices.
        let x_format = |x: &f64| {
            let whole = (x - x.round()).abs() < 1e-9 && x.round() >= 0.0;
            match names {
                Some(n) if whole => n.get(x.round() as usize).cloned().unwrap_or_default(),
                None if whole => format!("{}", x.round()),
                _ => String::new(),
            }
        };
        let x_ticks = names.map_or(((x1 - x0).round() as usize + 1).clamp(2, 11), |n| n.len().max(2));
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_labels(x_ticks)
            .x_label_formatter(&x_format)
            .y_labels(6)
            .draw()
            .map_err(err)?;
        for (i, s) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), colour.stroke_width(2)))
                .map_err(err)?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)
    }
}

/// One point of a scatter: where it is, its group (drawn as its colour: source, target) and its class (drawn as
/// its glyph: the digit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub group: usize,
    pub class: u8,
}

/// Panels of labelled points side by side, one legend of groups: the t-SNE figure of Ganin et al., JMLR 2016
/// (Figure 4), one panel per run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    pub title: String,
    /// The groups' names, by group index (colours in `COLOURS` order).
    pub groups: Vec<String>,
    /// (panel title, its points).
    pub panels: Vec<(String, Vec<Point>)>,
}

impl Scatter {
    /// The scatter as a PNG at `path`: panels of 800 x 800 pixels in one row.
    pub fn png(&self, path: &Path) -> Result<()> {
        if self.panels.is_empty() {
            return Err(anyhow!("the scatter `{}` has no panels", self.title));
        }
        let w = 800 * self.panels.len() as u32;
        png(path, (w, 860), &format!("the scatter `{}`", self.title), |root| {
            self.draw(root)
        })
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let legend = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| format!("{g} ({})", COLOUR_NAMES[i % COLOURS.len()]))
            .collect::<Vec<_>>()
            .join(", ");
        let root = root
            .titled(
                &format!("{}: colour = {legend}; glyph = class", self.title),
                ("sans-serif", 22),
            )
            .map_err(err)?;
        let areas = root.split_evenly((1, self.panels.len()));
        for ((title, points), area) in self.panels.iter().zip(areas) {
            let span = |f: fn(&Point) -> f64| {
                let (lo, hi) = points
                    .iter()
                    .map(f)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
                if lo.is_finite() && hi > lo {
                    let pad = (hi - lo) * 0.03;
                    (lo - pad, hi + pad)
                } else {
                    (-1.0, 1.0)
                }
            };
            let ((x0, x1), (y0, y1)) = (span(|p| p.x), span(|p| p.y));
            let mut chart = ChartBuilder::on(&area)
                .caption(title, ("sans-serif", 20))
                .margin(10)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(0)
                .y_labels(0)
                .draw()
                .map_err(err)?;
            chart
                .draw_series(points.iter().map(|p| {
                    let colour = COLOURS[p.group % COLOURS.len()];
                    Text::new(
                        p.class.to_string(),
                        (p.x, p.y),
                        ("sans-serif", 11).into_font().color(&colour),
                    )
                }))
                .map_err(err)?;
        }
        root.present().map_err(err)
    }
}

/// The colours' names, for legends drawn as text.
const COLOUR_NAMES: [&str; 6] = ["blue", "red", "green", "purple", "orange", "brown"];

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(x_axis: XAxis, series: Vec<Series>) -> LineChart {
        LineChart {
            title: "t".into(),
            x_label: "epoch".into(),
            y_label: "target accuracy".into(),
            x_axis,
            series,
        }
    }

    fn line(name: &str, points: &[(f64, f64)]) -> Series {
        Series {
            name: name.into(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn each_series_is_one_line_with_its_legend() {
        let svg = chart(
            XAxis::Numbers,
            vec![
                line("source-only", &[(1.0, 0.5), (2.0, 0.55), (3.0, 0.6)]),
                line("dann", &[(1.0, 0.6), (2.0, 0.7), (3.0, 0.75)]),
            ],
        )
        .svg()
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        // Each series: its line (width 2) and its legend mark (width 3), in its own colour.
        for (colour, name) in [("#1F77B4", "source-only"), ("#D62728", "dann")] {
            let strokes = |w: u32| {
                svg.matches(&format!("stroke=\"{colour}\" stroke-width=\"{w}\""))
                    .count()
            };
            assert_eq!((strokes(2), strokes(3)), (1, 1), "{name}");
            assert!(svg.contains(&format!(">\n{name}\n<")), "{name}'s legend");
        }
        for label in ["epoch", "target accuracy", "1", "2", "3"] {
            assert!(svg.contains(&format!(">\n{label}\n<")), "{label}");
        }
        assert!(!svg.contains(">\n1.5\n<"), "epochs are whole");
    }

    #[test]
    fn named_positions_label_the_x_axis() {
        let names: Vec<String> = ["1", "5", "all"].iter().map(|s| s.to_string()).collect();
        let c = chart(
            XAxis::Named(names),
            vec![line("head", &[(0.0, 0.2), (1.0, 0.4), (2.0, 0.9)])],
        );
        assert_eq!(c.x_range(), (-0.25, 2.25));
        let svg = c.svg().unwrap();
        for k in ["1", "5", "all"] {
            assert!(svg.contains(&format!(">\n{k}\n<")), "position `{k}` is labelled");
        }
    }

    /// Decodes a PNG written by the charts: its size, and how many pixels are far from white and of each
    /// colour of `colours` (within a small distance).
    fn pixels(path: &Path, colours: &[RGBColor]) -> ((u32, u32), usize, Vec<usize>) {
        let img = image::open(path).unwrap().to_rgb8();
        let mut inked = 0;
        let mut each = vec![0; colours.len()];
        for p in img.pixels() {
            let [r, g, b] = p.0;
            if (r as u32 + g as u32 + b as u32) < 600 {
                inked += 1;
            }
            for (i, c) in colours.iter().enumerate() {
                let d = (r as i32 - c.0 as i32).abs() + (g as i32 - c.1 as i32).abs() + (b as i32 - c.2 as i32).abs();
                if d < 30 {
                    each[i] += 1;
                }
            }
        }
        (img.dimensions(), inked, each)
    }

    #[test]
    fn a_line_chart_is_written_as_a_png_with_its_lines_in_their_colours() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accuracy.png");
        chart(
            XAxis::Numbers,
            vec![
                line("source-only", &[(1.0, 0.5), (2.0, 0.6)]),
                line("dann", &[(1.0, 0.6), (2.0, 0.8)]),
            ],
        )
        .png(&path)
        .unwrap();
        let (size, inked, each) = pixels(&path, &COLOURS[..3]);
        assert_eq!(size, (1280, 800));
        assert!(inked > 1000, "text, axes and lines are drawn: {inked} dark pixels");
        assert!(each[0] > 100 && each[1] > 100, "both lines in their colours: {each:?}");
        assert_eq!(each[2], 0, "no third series: {each:?}");
        assert!(!dir.path().join("accuracy.tmp.png").exists());
    }

    #[test]
    fn a_scatter_draws_each_group_in_its_colour_one_panel_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tsne.png");
        let cloud = |group: usize, at: f64| {
            (0..40)
                .map(|i| Point {
                    x: at + (i % 7) as f64,
                    y: (i / 7) as f64,
                    group,
                    class: (i % 10) as u8,
                })
                .collect::<Vec<_>>()
        };
        let s = Scatter {
            title: "t-SNE".into(),
            groups: vec!["MNIST".into(), "MNIST-M".into()],
            panels: vec![
                ("source-only".into(), [cloud(0, 0.0), cloud(1, 20.0)].concat()),
                ("dann".into(), cloud(0, 0.0)),
            ],
        };
        s.png(&path).unwrap();
        let (size, _, each) = pixels(&path, &COLOURS[..3]);
        assert_eq!(size, (1600, 860));
        assert!(each[0] > 10 && each[1] > 10 && each[2] == 0, "{each:?}");
        let e = Scatter { panels: vec![], ..s }.png(&path).unwrap_err().to_string();
        assert!(e.contains("no panels"), "{e}");
    }

    #[test]
    fn a_single_epoch_gets_a_unit_wide_axis() {
        let c = chart(XAxis::Numbers, vec![line("dann", &[(1.0, 0.7)])]);
        assert_eq!(c.x_range(), (0.5, 1.5));
        c.svg().unwrap();
    }
}
