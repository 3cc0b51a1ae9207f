//! The experiment's report: a table (method, mean +- std of target accuracy over seeds, the published number
//! with its source, wall time), written as results.md and results.json, and a plot of target accuracy per epoch
//! (SVG).

use super::run_folder::{write_atomic, RunResult};
use anyhow::{Context, Result};
use serde::Serialize;
use shift_strategies::methods::Published;
use shift_strategies::MethodName;
use std::fmt::Write;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub method: String,
    pub runs: usize,
    pub target_acc_mean: f64,
    pub target_acc_std: f64,
    pub oracle_best_acc_mean: f64,
    /// The published number and its source, where one exists under this protocol.
    pub published: Option<Published>,
    pub wall_s_mean: f64,
}

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, std)
}

pub fn summarise(
    methods: &[MethodName],
    runs: &[RunResult],
    published: impl Fn(MethodName) -> Option<&'static Published>,
) -> Vec<Summary> {
    methods
        .iter()
        .filter_map(|&m| {
            let rs: Vec<&RunResult> = runs.iter().filter(|r| r.method == m.as_str()).collect();
            if rs.is_empty() {
                return None;
            }
            let (mean, std) = mean_std(&rs.iter().map(|r| r.target_acc).collect::<Vec<_>>());
            let (oracle, _) = mean_std(&rs.iter().map(|r| r.oracle_best_acc).collect::<Vec<_>>());
            let (wall, _) = mean_std(&rs.iter().map(|r| r.wall_s).collect::<Vec<_>>());
            Some(Summary {
                method: m.as_str().into(),
                runs: rs.len(),
                target_acc_mean: mean,
                target_acc_std: std,
                oracle_best_acc_mean: oracle,
                published: published(m).copied(),
                wall_s_mean: wall,
            })
        })
        .collect()
}

pub fn table(task: &str, summaries: &[Summary]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Target test accuracy, {task} (last epoch; mean +- std over seeds)\n");
    let _ = writeln!(
        s,
        "| method | target acc | published | runs | wall time / run | oracle best epoch* |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    for r in summaries {
        let paper = r.published.map_or("none published".to_string(), |p| {
            format!("{:.4} ({})", p.accuracy, p.source)
        });
        let _ = writeln!(
            s,
            "| {} | {:.4} +- {:.4} | {} | {} | {:.1} s | {:.4} |",
            r.method, r.target_acc_mean, r.target_acc_std, paper, r.runs, r.wall_s_mean, r.oracle_best_acc_mean
        );
    }
    let _ = writeln!(s, "\n*oracle: the best epoch chosen with target test labels; shown only for comparison with code that reports it.");
    s
}

/// Lines under the table: runs whose fast step ran eagerly (one line per reason), runs whose backbone started from random weights.
pub fn run_notes(runs: &[RunResult]) -> String {
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for r in runs {
        if let Some(why) = &r.step_fallback {
            let run = format!("{} seed {}", r.method, r.seed);
            match lines.iter_mut().find(|(w, _)| w == why) {
                Some((_, rs)) => rs.push(run),
                None => lines.push((why.clone(), vec![run])),
            }
        }
    }
    let mut out: String = lines
        .iter()
        .map(|(why, rs)| format!("fast step ran eagerly ({}): {why}\n", rs.join(", ")))
        .collect();
    let random: Vec<String> = runs
        .iter()
        .filter(|r| r.random_init_backbone)
        .map(|r| format!("{} seed {}", r.method, r.seed))
        .collect();
    if !random.is_empty() {
        out += &format!(
            "RANDOM-INIT BACKBONE ({}): the ResNet-50 started from random weights, not ImageNet's\n",
            random.join(", ")
        );
    }
    out
}

/// Writes results.md, results.json and accuracy.svg into `out`.
pub fn write(
    out: &Path,
    task: &str,
    config: &serde_json::Value,
    runs: &[RunResult],
    summaries: &[Summary],
    table: &str,
) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_atomic(&out.join("results.md"), table)?;
    let json = serde_json::json!({ "task": task, "config": config, "runs": runs, "summary": summaries });
    write_atomic(&out.join("results.json"), &serde_json::to_string_pretty(&json)?)?;
    write_atomic(&out.join("accuracy.svg"), &plot(task, runs, summaries))?;
    Ok(())
}

/// Target accuracy per epoch, mean over seeds, one line per method.
pub fn plot(task: &str, runs: &[RunResult], summaries: &[Summary]) -> String {
    const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
    let (w, h, left, right, top, bottom) = (640.0, 400.0, 60.0, 160.0, 40.0, 50.0);
    let series: Vec<(String, Vec<f64>)> = summaries
        .iter()
        .map(|s| {
            let rs: Vec<&RunResult> = runs.iter().filter(|r| r.method == s.method).collect();
            let epochs = rs.iter().map(|r| r.accuracy_per_epoch.len()).min().unwrap_or(0);
            let means = (0..epochs)
                .map(|e| rs.iter().map(|r| r.accuracy_per_epoch[e]).sum::<f64>() / rs.len() as f64)
                .collect();
            (s.method.clone(), means)
        })
        .collect();
    let epochs = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let x = |e: usize| left + (w - left - right) * e as f64 / (epochs - 1) as f64;
    let y = |a: f64| top + (h - top - bottom) * (1.0 - a);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{task}: target test accuracy per epoch (mean over seeds)</text>
"#,
        w / 2.0
    );
    for t in 0..=5 {
        let a = t as f64 / 5.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{a:.1}</text>"##,
            w - right,
            left - 6.0,
            y(a) + 4.0,
            yy = y(a)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
        (left + w - right) / 2.0,
        h - 12.0
    );
    for e in [0, epochs / 2, epochs - 1] {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x(e),
            h - bottom + 16.0,
            e + 1
        );
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts
            .iter()
            .enumerate()
            .map(|(e, a)| format!("{:.1},{:.1}", x(e), y(*a)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let ly = top + 20.0 * i as f64 + 10.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="3"/><text x="{}" y="{}">{name}</text>"#,
            w - right + 10.0,
            w - right + 30.0,
            w - right + 36.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}
