//! `shift sweep` end to end on small real data sets: a grid run by the local launcher (folders, markers, skips,
//! refusals, status, collect), and the same grid as a job array on a real one-node Slurm, one task cancelled
//! mid-run and resubmitted.

mod common;

use common::{digits_data, run_err, run_ok, shift};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A grid of 2 methods x 2 seeds on the digit task, `epochs` x `steps` steps each.
fn grid(dir: &Path, epochs: usize, steps: usize) -> PathBuf {
    let file = dir.join("grid.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"tiny\"\ntasks = [\"mnist:mnist-m\"]\nmethods = [\"source-only\", \"dann\"]\nseeds = [0, 1]\n\
             [base]\ndevice = \"cpu\"\n\"train.epochs\" = {epochs}\n\"train.steps_per_epoch\" = {steps}\n\
             \"train.batch\" = 16\n"
        ),
    )
    .unwrap();
    file
}

fn sweep(args: &[&str], file: &Path, out: &Path, data: &Path) -> std::process::Command {
    let mut c = shift();
    c.arg("sweep").args(args).arg(file).arg("--out").arg(out);
    if ["launch", "resubmit"].contains(&args[0]) {
        c.arg("--data").arg(data);
    }
    c
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// The job folders of a sweep's folder (named by 16 hex digits), sorted.
fn job_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().len() == 16 && p.join("job.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// (job hash, [target accuracy, accuracy per epoch, losses per epoch]) of every job folder's run.
fn results_by_job(out: &Path) -> Vec<(String, serde_json::Value)> {
    job_dirs(out)
        .into_iter()
        .map(|d| {
            let run = run_dir(&d);
            let r = read_json(&run.join("result.json"));
            // The losses of every epoch too: any change of a step shows in them.
            let losses: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
                .unwrap()
                .lines()
                .map(|l| {
                    let m: serde_json::Value = serde_json::from_str(l).unwrap();
                    serde_json::json!([m["class_loss"], m["domain_loss"]])
                })
                .collect();
            let name = d.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::json!([r["target_acc"], r["accuracy_per_epoch"], losses]),
            )
        })
        .collect()
}

/// The experiment's run folder inside a job folder.
fn run_dir(job_dir: &Path) -> PathBuf {
    let job = read_json(&job_dir.join("job.json"));
    job_dir
        .join("mnist-mnistm")
        .join(job["method"].as_str().unwrap())
        .join(format!("seed{}", job["seed"]))
}

fn attempts(job: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(job.join("attempts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_local_sweep_runs_each_job_once_in_its_hash_folder_and_collects_one_table() {
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 128, 32);
    let file = grid(tmp.path(), 2, 4);
    let out = tmp.path().join("out");
    let printed = run_ok(&mut sweep(&["launch", "--jobs", "2"], &file, &out, &data));
    assert!(
        String::from_utf8_lossy(&printed.stdout).contains("sweep tiny: 4 jobs finished"),
        "{}",
        String::from_utf8_lossy(&printed.stdout)
    );
    let jobs = job_dirs(&out);
    assert_eq!(jobs.len(), 4);
    for j in &jobs {
        for f in ["job.json", "done", "log", "attempts.jsonl", "results.md"] {
            assert!(j.join(f).is_file(), "{}: {f}", j.display());
        }
        assert_eq!(attempts(j).len(), 1, "{}", j.display());
        assert_eq!(attempts(j)[0]["resumed"], false);
        let done = read_json(&j.join("done"));
        assert!(done["target_acc"].as_f64().is_some_and(|a| (0.0..=1.0).contains(&a)));
    }
    let results = results_by_job(&out);
    // A second launch runs nothing.
    let again = run_ok(&mut sweep(&["launch", "--jobs", "2"], &file, &out, &data));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing to launch (4 done, 0 running or queued)"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    assert!(jobs.iter().all(|j| attempts(j).len() == 1));
    let status = String::from_utf8_lossy(&run_ok(&mut sweep(&["status"], &file, &out, &data)).stdout).into_owned();
    assert!(
        status.contains("4 done, 0 running, 0 queued, 0 failed, 0 not launched"),
        "{status}"
    );
    let table = String::from_utf8_lossy(&run_ok(&mut sweep(&["collect"], &file, &out, &data)).stdout).into_owned();
    let collected = read_json(&out.join("results.json"));
    let rows = collected["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(
            (row["seeds_done"].as_u64(), row["seeds_total"].as_u64()),
            (Some(2), Some(2))
        );
        let method = row["method"].as_str().unwrap();
        assert!(
            table.contains(&format!("| mnist:mnist-m | defaults | {method} |")),
            "{table}"
        );
        // The row's seeds are the runs' own numbers.
        for (seed, acc) in row["per_seed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].clone(), p[1].clone()))
        {
            let run = results.iter().find(|(hash, _)| {
                let job = read_json(&out.join(hash).join("job.json"));
                job["method"] == method && job["seed"] == seed
            });
            assert_eq!(run.unwrap().1[0], acc);
        }
    }
    assert!(
        table.starts_with(std::fs::read_to_string(out.join("results.md")).unwrap().trim()),
        "{table}"
    );

    // A job whose lock another process holds is left to it: nothing runs, no attempt is recorded.
    let launch = out.join("launches").join("000");
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(jobs[0].join("lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::remove_file(jobs[0].join("done")).unwrap();
    let listed = std::fs::read_to_string(launch.join("jobs.txt")).unwrap();
    let index = listed.lines().position(|l| Path::new(l) == jobs[0]).unwrap();
    let busy = run_ok(
        shift()
            .args(["sweep", "job", "--jobs"])
            .arg(launch.join("jobs.txt"))
            .args(["--index", &index.to_string(), "--data"])
            .arg(&data),
    );
    assert!(String::from_utf8_lossy(&busy.stderr).contains("another process runs it"));
    assert_eq!(attempts(&jobs[0]).len(), 1);
    let status = String::from_utf8_lossy(&run_ok(&mut sweep(&["status"], &file, &out, &data)).stdout).into_owned();
    assert!(status.contains("3 done, 1 running"), "{status}");
    drop(lock);
    // Without the marker the job counts as stopped; a relaunch continues it from its last checkpoint, which is
    // the end: the numbers are the same.
    run_ok(&mut sweep(&["resubmit"], &file, &out, &data));
    assert_eq!(attempts(&jobs[0]).len(), 2);
    assert_eq!(attempts(&jobs[0])[1]["resumed"], true);
    assert_eq!(results_by_job(&out), results);

    // A job folder edited after it was written is refused, naming it.
    let edited = std::fs::read_to_string(jobs[1].join("job.json"))
        .unwrap()
        .replace("\"batch\": 16", "\"batch\": 17");
    std::fs::write(jobs[1].join("job.json"), edited).unwrap();
    let err = run_err(&mut sweep(&["launch"], &file, &out, &data));
    assert!(
        err.contains(&jobs[1].display().to_string()) && err.contains("not to the folder's name"),
        "{err}"
    );
}

#[test]
fn bad_launches_are_refused_and_failures_are_reported_with_their_log() {
    let tmp = tempfile::tempdir().unwrap();
    let file = grid(tmp.path(), 1, 2);
    let out = tmp.path().join("out");
    let data = tmp.path().join("no-data-here");
    let err = run_err(&mut sweep(&["launch", "--jobs", "0"], &file, &out, &data));
    assert!(err.contains("--jobs 0"), "{err}");
    let err = run_err(&mut sweep(
        &["launch", "--launcher", "slurm", "--time", "soon"],
        &file,
        &out,
        &data,
    ));
    assert!(
        err.contains("--launcher slurm") && err.contains("`time = \"soon\"`"),
        "{err}"
    );
    // No data: every job stops, and status shows why.
    let failed = shift()
        .arg("sweep")
        .args(["launch", "--jobs", "2"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stdout).contains("stopped: line"));
    let status = String::from_utf8_lossy(&run_ok(&mut sweep(&["status"], &file, &out, &data)).stdout).into_owned();
    assert!(status.contains("0 done, 0 running, 0 queued, 4 failed"), "{status}");
    assert!(
        status.contains("no-data-here"),
        "the log's end names the missing folder: {status}"
    );
    assert!(job_dirs(&out).iter().all(|j| !j.join("done").exists()));
    // A dry run writes the array script and the jobs file and submits nothing.
    let dry = run_ok(&mut sweep(
        &[
            "launch",
            "--launcher",
            "slurm",
            "--dry-run",
            "--partition",
            "gpu",
            "--gpus-per-task",
            "1",
        ],
        &file,
        &out,
        &data,
    ));
    let printed = String::from_utf8_lossy(&dry.stdout);
    for want in [
        "#SBATCH --array=0-3\n",
        "#SBATCH --partition=gpu\n",
        "#SBATCH --gpus-per-task=1\n",
        "sweep job --jobs",
    ] {
        assert!(printed.contains(want), "{want} in {printed}");
    }
    assert!(!out.join("launches").join("001").join("slurm_job_id").exists());
}

/// Seconds to wait for a Slurm array before the test gives up.
const SLURM_WAIT: Duration = Duration::from_secs(600);

fn squeue_has(job_id: &str) -> bool {
    let out = std::process::Command::new("squeue")
        .args(["-h", "-r", "-o", "%F"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == job_id)
}

fn wait_for(job_id: &str) {
    let start = Instant::now();
    while squeue_has(job_id) {
        assert!(
            start.elapsed() < SLURM_WAIT,
            "Slurm job {job_id} still queued after {SLURM_WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn submitted_id(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let after = text
        .split("submitted Slurm job ")
        .nth(1)
        .unwrap_or_else(|| panic!("no job id in {text}"));
    after.split_whitespace().next().unwrap().to_string()
}

#[test]
fn a_slurm_array_runs_the_sweep_and_a_cancelled_task_resumes_to_the_same_numbers() {
    if let Err(why) = shift_sweep::slurm::available() {
        assert!(
            std::env::var_os("SHIFT_REQUIRE_SLURM").is_none(),
            "SHIFT_REQUIRE_SLURM is set but Slurm is not reachable: {why}"
        );
        eprintln!("skipped: no Slurm here ({why}); scripts/slurm_local.sh starts a one-node cluster");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = digits_data(&tmp.path().join("data"), 256, 32);
    let file = grid(tmp.path(), 6, 40);
    // The uninterrupted reference: the same grid, two local processes of one thread each, as the array's tasks.
    let reference = tmp.path().join("reference");
    run_ok(&mut sweep(&["launch", "--jobs", "2"], &file, &reference, &data));
    let want = results_by_job(&reference);
    assert_eq!(want.len(), 4);

    let out = tmp.path().join("slurm");
    let slurm_flags = ["--launcher", "slurm", "--cpus-per-task", "1", "--time", "00:10:00"];
    let submitted = run_ok(&mut sweep(
        &[&["launch"][..], &slurm_flags].concat(),
        &file,
        &out,
        &data,
    ));
    let job_id = submitted_id(&submitted.stdout);
    // Cancel one task once it has a checkpoint (an epoch done) and no marker: mid-run.
    let jobs = job_dirs(&out);
    let start = Instant::now();
    let victim = loop {
        let mid = jobs
            .iter()
            .position(|j| run_dir(j).join("checkpoint.pt").is_file() && !j.join("done").exists());
        if let Some(i) = mid {
            break i;
        }
        assert!(
            start.elapsed() < SLURM_WAIT && squeue_has(&job_id),
            "no task was caught mid-run"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let listed = std::fs::read_to_string(out.join("launches/000/jobs.txt")).unwrap();
    let index = listed.lines().position(|l| Path::new(l) == jobs[victim]).unwrap();
    let cancel = std::process::Command::new("scancel")
        .arg(format!("{job_id}_{index}"))
        .status()
        .unwrap();
    assert!(cancel.success());
    wait_for(&job_id);
    assert!(!jobs[victim].join("done").exists(), "the cancelled task left no marker");
    let status = String::from_utf8_lossy(&run_ok(&mut sweep(&["status"], &file, &out, &data)).stdout).into_owned();
    assert!(status.contains("3 done, 0 running, 0 queued, 1 failed"), "{status}");

    let again = run_ok(&mut sweep(
        &[&["resubmit"][..], &slurm_flags].concat(),
        &file,
        &out,
        &data,
    ));
    assert!(String::from_utf8_lossy(&again.stdout).contains("(1 array tasks;"));
    wait_for(&submitted_id(&again.stdout));
    for (i, j) in jobs.iter().enumerate() {
        let tries = attempts(j);
        assert!(j.join("done").is_file(), "{}", j.display());
        assert!(tries.iter().all(|a| a["slurm_task"].is_string()));
        if i == victim {
            assert_eq!(tries.len(), 2, "{}", j.display());
            assert_eq!(
                tries[1]["resumed"], true,
                "the resubmitted task continued from the checkpoint"
            );
        } else {
            assert_eq!(tries.len(), 1, "{} ran twice", j.display());
        }
        // No epoch ran twice: one metrics line per epoch.
        let run = run_dir(j);
        assert_eq!(
            std::fs::read_to_string(run.join("metrics.jsonl"))
                .unwrap()
                .lines()
                .count(),
            6
        );
    }
    assert_eq!(
        results_by_job(&out),
        want,
        "the cancelled and resubmitted sweep equals the uninterrupted one"
    );
}
