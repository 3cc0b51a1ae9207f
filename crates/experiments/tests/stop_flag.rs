//! The process's stop flag: installed once, shared by every run and job of the process, set by SIGTERM (a test
//! of its own, so that no other test's handler holds the signal).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn every_caller_gets_the_one_flag_and_sigterm_sets_it() {
    let first = shift_experiments::session::stop_on_ctrl_c().unwrap();
    let second = shift_experiments::session::stop_on_ctrl_c().unwrap();
    assert!(
        Arc::ptr_eq(&first, &second),
        "a second run or job must see the same flag"
    );
    assert!(!second.load(Ordering::SeqCst));
    // SAFETY: kill(2) on this process's own pid; the handler above turns SIGTERM into the flag.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
    let start = Instant::now();
    while !second.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        second.load(Ordering::SeqCst),
        "SIGTERM must set the flag every caller holds"
    );
}
