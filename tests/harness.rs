//! The test harness itself (tests/support/mod.rs), so that its guarantees can fail
//! too: a program that hangs fails the test at its deadline with its process group
//! killed, and one that exits leaving a process on its output fails the test and
//! that process is killed.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{alive, spawn_within, wait_until};

/// `sh -c SCRIPT PIDFILE`: the script writes the pid of what it leaves to `$0`.
fn sh(script: &str, pidfile: &Path) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script).arg(pidfile);
    command
}

/// The pid the script wrote, once it wrote it.
fn pid_in(pidfile: &Path) -> Option<i32> {
    std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
}

/// The message of the panic `run` ended with; fails if it did not panic.
fn panic_message(run: impl FnOnce()) -> String {
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .expect_err("the harness lets this pass");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn a_hang_fails_at_the_deadline_and_its_process_group_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut child = spawn_within(
        sh("sleep 600 & echo $! > \"$0\"; wait", &pidfile),
        Duration::from_secs(3),
    );
    child.wait_for("the pid of the sleep", || pid_in(&pidfile).is_some());
    let sleep = pid_in(&pidfile).unwrap();
    let message = panic_message(move || {
        child.wait();
    });
    assert!(message.contains("ran past its deadline"), "{message}");
    assert!(message.contains("process group was killed"), "{message}");
    wait_until("the sleep to be killed", Duration::from_secs(5), || {
        !alive(sleep)
    });
}

#[test]
fn a_process_left_on_the_output_fails_the_test_and_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    // sh exits at once; the sleep it started keeps sh's stdout open.
    let child = spawn_within(
        sh("sleep 600 & echo $! > \"$0\"", &pidfile),
        Duration::from_secs(60),
    );
    let message = panic_message(move || {
        child.wait();
    });
    assert!(message.contains("stayed open"), "{message}");
    let sleep = pid_in(&pidfile).expect("sh wrote the sleep's pid before exiting");
    wait_until("the sleep to be killed", Duration::from_secs(5), || {
        !alive(sleep)
    });
}
