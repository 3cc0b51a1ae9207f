//! The whole experiment's time estimate: steps done over all its runs against the steps it holds, timed from its
//! first steps on this machine, shown in every run's progress line and said once when first known.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Steps timed before the first estimate is said.
const TIMED_STEPS: i64 = 100;

#[derive(Debug)]
struct Progress {
    total: i64,
    done: i64,
    /// When the first step counted here ran, and how many had been skipped (finished earlier) by then.
    timing: Option<(Instant, i64)>,
    /// The `--quick` form's steps, to say how long it would take (None when this is the quick form).
    quick: Option<i64>,
    said: bool,
}

static PROGRESS: Mutex<Option<Progress>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Progress) -> T) -> Option<T> {
    let mut guard = PROGRESS.lock().unwrap_or_else(|e| e.into_inner());
    guard.as_mut().map(f)
}

/// Starts the estimate of an experiment of `total` steps (and `quick` steps in its quick form).
pub fn begin(total: i64, quick: Option<i64>) {
    let mut guard = PROGRESS.lock().unwrap_or_else(|e| e.into_inner());
    *guard = Some(Progress {
        total,
        done: 0,
        timing: None,
        quick,
        said: false,
    });
}

/// Counts `n` steps that need no time now (a run finished earlier, or the part before a resume).
pub fn skip(n: i64) {
    with(|p| p.done += n);
}

/// "2 h 31 min", "8 min", "40 s".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600 + 30) / 60),
    }
}

/// Counts one step; returns the time left (once enough steps are timed) and, the first time it is known, the
/// sentence to say.
pub fn step() -> Option<(String, Option<String>)> {
    with(|p| {
        p.done += 1;
        let (t0, skipped) = *p.timing.get_or_insert((Instant::now(), p.done - 1));
        let timed = p.done - skipped;
        if timed < TIMED_STEPS {
            return None;
        }
        let per_step = t0.elapsed().as_secs_f64() / timed as f64;
        let left = human(Duration::from_secs_f64(per_step * (p.total - p.done).max(0) as f64));
        let first = (!p.said).then(|| {
            p.said = true;
            let whole = human(Duration::from_secs_f64(per_step * (p.total - skipped) as f64));
            let quick = p.quick.map_or(String::new(), |q| {
                format!(
                    "; --quick takes about {}",
                    human(Duration::from_secs_f64(per_step * q as f64))
                )
            });
            format!("about {whole} on this machine at the rate of its first steps{quick}")
        });
        Some((left, first))
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_a_person_would_say_them() {
        assert_eq!(human(Duration::from_secs(40)), "40 s");
        assert_eq!(human(Duration::from_secs(8 * 60 + 10)), "8 min");
        assert_eq!(human(Duration::from_secs(2 * 3600 + 31 * 60)), "2 h 31 min");
    }

    #[test]
    fn the_estimate_counts_skipped_steps_as_done_and_speaks_once() {
        begin(1000, Some(300));
        skip(400);
        for _ in 0..TIMED_STEPS - 1 {
            assert!(step().is_none());
        }
        let (left, first) = step().unwrap();
        assert!(first.unwrap().contains("--quick takes about"));
        assert!(!left.is_empty());
        assert!(step().unwrap().1.is_none(), "said once");
        assert_eq!(with(|p| p.done), Some(400 + TIMED_STEPS + 1));
    }
}
