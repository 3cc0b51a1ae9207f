//! The experiment's one-page report, `report.html`: the results table, the validators' ranking and the
//! pictures (accuracy per epoch, the t-SNE figure), in one self-contained file (images embedded as data URIs).

use crate::ranking::{self, FoundRun};
use crate::run_folder::{write_atomic, RunResult};
use crate::table::{escape, Table};
use anyhow::{Context, Result};
use base64::Engine;
use std::fmt::Write;
use std::path::Path;

/// Writes `out/report.html` for the experiment of `task` whose table is `results`: the table, the validator
/// ranking where the runs were scored, `out/accuracy.png` and the t-SNE figure where there is one.
pub fn write(out: &Path, task: &str, results: &Table, runs: &[RunResult], tsne: Option<&Path>) -> Result<()> {
    let mut body = results.html();
    let found: Vec<FoundRun> = runs
        .iter()
        .map(|r| FoundRun {
            task: task.to_string(),
            path: out.join(task).join(&r.method).join(format!("seed{}", r.seed)),
            result: r.clone(),
        })
        .collect();
    // Runs without scores (Office-31, validation off) have no ranking: the page says so.
    match ranking::rank(&found) {
        Ok(rankings) => ranking::tables(&rankings).iter().for_each(|t| body += &t.html()),
        Err(_) => body += "<p class=\"note\">No validator scores in these runs: no validator ranking.</p>\n",
    }
    let accuracy = out.join("accuracy.png");
    body += &figure(&accuracy, "Target test accuracy per epoch, mean over seeds")?;
    if let Some(t) = tsne {
        body += &figure(
            t,
            "t-SNE of the final features of MNIST (blue) and MNIST-M (red) test images; each glyph is the image's class",
        )?;
    }
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>shift: {title}</title>\n\
         <style>\nbody {{ font-family: sans-serif; margin: 2em; max-width: 1700px; }}\n\
         table {{ border-collapse: collapse; margin: 1em 0; }}\n\
         th, td {{ border: 1px solid #bbb; padding: 4px 8px; text-align: left; }}\n\
         th {{ background: #eee; }}\np.note {{ color: #444; font-size: 90%; margin: 0.2em 0; }}\n\
         img {{ max-width: 100%; border: 1px solid #ddd; }}\n</style>\n</head>\n<body>\n<h1>shift: {title}</h1>\n\
         {body}</body>\n</html>\n",
        title = escape(task),
    );
    write_atomic(&out.join("report.html"), &page)
}

/// A PNG embedded as a figure with its caption.
fn figure(png: &Path, caption: &str) -> Result<String> {
    let bytes = std::fs::read(png).with_context(|| format!("cannot read {}", png.display()))?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<figure>\n<img alt=\"{c}\" src=\"data:image/png;base64,{}\">\n<figcaption>{c}</figcaption>\n</figure>",
        base64::engine::general_purpose::STANDARD.encode(bytes),
        c = escape(caption)
    );
    Ok(s)
}
