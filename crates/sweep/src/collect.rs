//! `shift sweep collect`: one table over the finished jobs, mean +- std over seeds for each task x setting x
//! method, written (each file whole or not at all) as results.md and results.json in the sweep's folder.

use crate::folder::JobFolder;
use crate::grid::Sweep;
use anyhow::Result;
use serde::Serialize;
use shift_experiments::report::{mean_std, mean_std_cell};
use shift_experiments::run_folder::write_atomic;
use std::fmt::Write;

/// One row: a task, a setting and a method over the seeds that finished.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub task: String,
    pub setting: String,
    pub method: String,
    /// NaN (null) where no seed finished or the target is unlabelled.
    pub target_acc_mean: f64,
    pub target_acc_std: f64,
    /// (seed, last-epoch target accuracy) of the finished seeds.
    pub per_seed: Vec<(u64, f64)>,
    pub seeds_done: usize,
    pub seeds_total: usize,
    pub wall_s_mean: f64,
}

/// The rows of the sweep, in its order (task, setting, method).
pub fn rows(sweep: &Sweep) -> Result<Vec<Row>> {
    let out = std::path::absolute(&sweep.out)?;
    let mut rows: Vec<Row> = Vec::new();
    let mut walls: Vec<Vec<f64>> = Vec::new();
    for job in &sweep.jobs {
        let setting = job.setting_label();
        let at = rows
            .iter()
            .position(|r| r.task == job.task && r.setting == setting && r.method == job.method.as_str());
        let i = at.unwrap_or_else(|| {
            rows.push(Row {
                task: job.task.clone(),
                setting: setting.clone(),
                method: job.method.as_str().into(),
                target_acc_mean: f64::NAN,
                target_acc_std: f64::NAN,
                per_seed: Vec::new(),
                seeds_done: 0,
                seeds_total: 0,
                wall_s_mean: f64::NAN,
            });
            walls.push(Vec::new());
            rows.len() - 1
        });
        rows[i].seeds_total += 1;
        let folder = JobFolder::new(&out, &job.hash);
        if !folder.dir.exists() || !folder.is_done() {
            continue;
        }
        folder.read_job()?;
        let result = folder.result(job)?;
        rows[i].per_seed.push((job.seed, result.target_acc));
        rows[i].seeds_done += 1;
        walls[i].push(result.wall_s);
    }
    for (row, wall) in rows.iter_mut().zip(&walls) {
        if !row.per_seed.is_empty() {
            let accs: Vec<f64> = row.per_seed.iter().map(|p| p.1).collect();
            (row.target_acc_mean, row.target_acc_std) = mean_std(&accs);
            row.wall_s_mean = mean_std(wall).0;
        }
    }
    Ok(rows)
}

/// The Markdown table of `rows`.
pub fn table(sweep: &Sweep, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Sweep {}: target test accuracy (last epoch; mean +- std over the seeds that finished)\n",
        sweep.name
    );
    let _ = writeln!(
        s,
        "| task | setting | method | mean +- std | per seed | seeds done | wall time / run |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for r in rows {
        let acc = if r.per_seed.is_empty() {
            "not run yet".to_string()
        } else if r.target_acc_mean.is_nan() {
            "none (target unlabelled)".to_string()
        } else {
            mean_std_cell(r.target_acc_mean, r.target_acc_std, r.per_seed.len())
        };
        let per_seed: Vec<String> = r.per_seed.iter().map(|(seed, a)| format!("{seed}: {a:.4}")).collect();
        let wall = if r.wall_s_mean.is_nan() {
            String::new()
        } else {
            format!("{:.1} s", r.wall_s_mean)
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {acc} | {} | {} of {} | {wall} |",
            r.task,
            r.setting,
            r.method,
            per_seed.join(", "),
            r.seeds_done,
            r.seeds_total
        );
    }
    s
}

/// Writes results.md and results.json into the sweep's folder; the table.
pub fn collect(sweep: &Sweep) -> Result<String> {
    let rows = rows(sweep)?;
    let table = table(sweep, &rows);
    let out = &sweep.out;
    std::fs::create_dir_all(out)?;
    let json = serde_json::json!({
        "sweep": sweep.name,
        "file": sweep.file,
        "jobs": sweep.jobs.len(),
        "rows": rows,
    });
    write_atomic(&out.join("results.json"), &serde_json::to_string_pretty(&json)?)?;
    write_atomic(&out.join("results.md"), &table)?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::folder::Done;
    use shift_experiments::run_folder::RunResult;

    #[test]
    fn rows_average_the_finished_seeds_and_count_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "tasks = [\"mnist:mnist-m\"]\nmethods = [\"source-only\", \"dann\"]\nseeds = [0, 1, 2]\n",
        )
        .unwrap();
        let sweep = Sweep::load(&file, Some(&dir.path().join("out"))).unwrap();
        // dann seeds 0 and 1 finished (0.5, 0.7); seed 2 has a folder but no marker; source-only never ran.
        for (job, acc) in sweep.jobs[3..5].iter().zip([0.5, 0.7]) {
            let folder = JobFolder::new(&sweep.out, &job.hash);
            folder.prepare(job).unwrap();
            let run = folder.run_folder(job).unwrap();
            std::fs::create_dir_all(&run.dir).unwrap();
            run.write_result(&RunResult {
                method: "dann".into(),
                seed: job.seed,
                target_acc: acc,
                oracle_best_acc: acc,
                epochs: 20,
                wall_s: 10.0 * acc,
                device: "Cpu".into(),
                accuracy_per_epoch: vec![acc],
                validators_per_epoch: Default::default(),
                validator_errors: Vec::new(),
                proxy_a_distance: None,
                step_fallback: None,
                random_init_backbone: false,
                cpu_threads: Some(2),
            })
            .unwrap();
            folder
                .mark_done(&Done {
                    target_acc: Some(acc),
                    wall_s: 1.0,
                    finished_unix_s: 0,
                })
                .unwrap();
        }
        JobFolder::new(&sweep.out, &sweep.jobs[5].hash)
            .prepare(&sweep.jobs[5])
            .unwrap();
        let rows = rows(&sweep).unwrap();
        assert_eq!(rows.len(), 2);
        let (so, dann) = (&rows[0], &rows[1]);
        assert_eq!(
            (so.method.as_str(), so.seeds_done, so.seeds_total),
            ("source-only", 0, 3)
        );
        assert!(so.target_acc_mean.is_nan());
        assert_eq!((dann.seeds_done, dann.seeds_total), (2, 3));
        assert_eq!(dann.per_seed, vec![(0, 0.5), (1, 0.7)]);
        assert!((dann.target_acc_mean - 0.6).abs() < 1e-12);
        // The sample standard deviation, as the experiment's own table has it.
        assert!((dann.target_acc_std - 0.02f64.sqrt()).abs() < 1e-12);
        assert!((dann.wall_s_mean - 6.0).abs() < 1e-12);
        let table = collect(&sweep).unwrap();
        assert!(
            table.contains(
                "| mnist:mnist-m | defaults | dann | 0.6000 +- 0.1414 | 0: 0.5000, 1: 0.7000 | 2 of 3 | 6.0 s |"
            ),
            "{table}"
        );
        assert!(table.contains("| source-only | not run yet |  | 0 of 3 |"), "{table}");
        assert_eq!(std::fs::read_to_string(sweep.out.join("results.md")).unwrap(), table);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(sweep.out.join("results.json")).unwrap()).unwrap();
        assert_eq!(json["rows"][1]["seeds_done"], 2);
        assert!(json["rows"][0]["target_acc_mean"].is_null());
        assert!(!sweep.out.join("results.tmp").exists());
    }
}
