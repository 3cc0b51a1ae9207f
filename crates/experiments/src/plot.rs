//! Line charts of target accuracy, drawn with plotters as SVG: per epoch for the adaptation experiment, against
//! the labelled images per class for fine-tuning. One chart type, one style.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

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
        let mut out = String::new();
        self.draw(SVGBackend::with_string(&mut out, (640, 400)).into_drawing_area())
            .map_err(|e| anyhow!("drawing the chart `{}`: {e}", self.title))?;
        Ok(out)
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

    #[test]
    fn a_single_epoch_gets_a_unit_wide_axis() {
        let c = chart(XAxis::Numbers, vec![line("dann", &[(1.0, 0.7)])]);
        assert_eq!(c.x_range(), (0.5, 1.5));
        c.svg().unwrap();
    }
}
