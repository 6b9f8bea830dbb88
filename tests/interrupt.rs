//! Ctrl-C through a real process: the first SIGINT or SIGTERM sets stop, the second
//! kill, and a plugin that ignores SIGTERM is killed at once by the second.
//!
//! Installing signal handlers in the test binary itself would swallow the
//! developer's Ctrl-C for every test, so the test runs this test binary again as a
//! child, restricted to [`interrupt_child`], which installs `Interrupts`, starts a
//! real plugin-like process under `run_once` watching the kill flag, and reports
//! each step on stdout. The parent sends the real signals with `kill(2)`.
//! (`rune apply` and `rune run` use the same `Interrupts`; their own Ctrl-C tests
//! live with those commands.)

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Set in the child's environment; without it [`interrupt_child`] does nothing.
const CHILD_ENV: &str = "RUNE_TEST_INTERRUPT_CHILD";

/// The child side: ignored in a normal run (it is no test of its own) and run by
/// [`two_signals_stop_then_kill`] with `--ignored`; the variable guards against a
/// plain `--ignored` run, which would install signal handlers and wait.
#[test]
#[ignore = "the child half of interrupt::two_signals_stop_then_kill, which runs it"]
#[allow(clippy::disallowed_methods)] // the child reports to its parent on stdout, past the capture
fn interrupt_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    use rune::exec::eps::{Eps, Kind, Origin};
    use rune::exec::event::{Collect, Event, Fanout, Outcome, Sink};
    use rune::exec::ids::RunIds;
    use rune::exec::interrupt::Interrupts;
    use rune::exec::process::{run_once, Spec};
    use rune::report::execution::{render_human, Report};
    use rune::report::progress::{Progress, ProgressMode};

    let say = |line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "CHILD {line}");
        let _ = out.flush();
    };
    let interrupts = Interrupts::install().expect("signal handlers install");
    let (stop, kill) = (interrupts.stop(), interrupts.kill());
    let collect = Collect::default();
    // Plain progress lines on stderr, as `rune` shows them without a terminal.
    let progress = Progress::new(ProgressMode::Lines, false);
    let sink = Fanout(vec![&collect, &progress]);
    let ids = RunIds::new(true, "2026-01-05T10:00:00Z".parse().unwrap());
    let watch = ids.stopwatch();
    sink.emit(&Event::RunStarted {
        at: ids.now(),
        command: "run".into(),
        correlation_id: ids.correlation_id.clone(),
        trace_id: ids.trace_id.clone(),
        steps: 1,
        parallelism: 1,
    });
    let span_id = ids.span_id();
    sink.emit(&Event::StepStarted {
        at: ids.now(),
        step: 1,
        module: "fixtures".into(),
        action: Some("sleep-ignoring-term".into()),
        phase: None,
        attempt: 1,
        span_id: span_id.clone(),
    });

    // A plugin that ignores SIGTERM and would sleep for a minute: only the kill flag
    // (SIGKILL to its group) ends it early.
    let plugin = Spec {
        argv: vec![
            "bash".into(),
            "-c".into(),
            "trap '' TERM; echo pid $$ >&2; sleep 60".into(),
        ],
        working_dir: std::env::temp_dir(),
        env: rune::exec::environment::compute(&Default::default()),
        limits: Default::default(),
    };
    let running = std::thread::spawn(move || {
        run_once(
            &plugin,
            b"{}",
            Duration::from_secs(60),
            Duration::from_millis(200),
            &kill,
            false,
        )
    });
    say("ready");

    let waited = Instant::now();
    while !stop.is_set() && waited.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    interrupts.emit_pending(&sink, &ids);
    say(&format!(
        "stop={} kill={} count={}",
        stop.is_set(),
        interrupts.kill().is_set(),
        interrupts.count()
    ));

    let finished = running.join().expect("run_once returns").expect("spawned");
    interrupts.emit_pending(&sink, &ids);
    let stderr = String::from_utf8_lossy(&finished.stderr_tail).into_owned();
    let pid = stderr.trim().trim_start_matches("pid ").to_string();
    say(&format!(
        "plugin ended={:?} signal={:?} kill={} count={} pid={pid}",
        finished.ending,
        finished.signal(),
        interrupts.kill().is_set(),
        interrupts.count()
    ));
    sink.emit(&Event::StepFinished {
        at: ids.now(),
        step: 1,
        module: "fixtures".into(),
        action: Some("sleep-ignoring-term".into()),
        phase: None,
        outcome: Outcome::Failed,
        attempts: 1,
        duration_ms: watch.reported_ms(),
        reason: None,
        output: None,
        stderr: Some(stderr),
        error: Some(Box::new(Eps::new(
            Kind::Interrupted,
            "`sleep-ignoring-term` was interrupted; its process group was killed",
            Origin {
                step: Some(1),
                module: Some("fixtures".into()),
                action: Some("sleep-ignoring-term".into()),
                phase: None,
                correlation_id: ids.correlation_id.clone(),
                trace_id: ids.trace_id.clone(),
                span_id,
                at: ids.now(),
            },
        ))),
    });
    sink.emit(&Event::RunFinished {
        at: ids.now(),
        succeeded: false,
        duration_ms: watch.reported_ms(),
    });
    drop(sink);
    assert!(progress.finish().is_none());
    let events = collect.into_events();
    let interrupts_seen: Vec<String> = events
        .iter()
        .filter(|e| matches!(e, Event::Interrupted { .. }))
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    say(&format!("events {}", interrupts_seen.join(" ")));

    // The final report, built from the same events, decides the exit code.
    let report = Report::from_events(&events);
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{}", render_human(&report, false));
    let _ = err.flush();
    std::process::exit(report.exit_status().code());
}

/// The `CHILD` lines the child wrote so far (libtest may have written the test's
/// name on the same line first).
fn child_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| Some(line[line.find("CHILD ")? + "CHILD ".len()..].to_string()))
        .collect()
}

#[test]
fn two_signals_stop_then_kill() {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            "interrupt::interrupt_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null());
    // Its own process group, killed with the plugin's when an assertion fails.
    let mut child = crate::support::spawn_within(command, Duration::from_secs(60));
    let pid = Pid::from_raw(child.pid());
    let mut said = 0;
    let mut next = |child: &mut crate::support::Running, what: &str| {
        child.wait_for_stdout(what, |out| child_lines(out).len() > said);
        said += 1;
        child_lines(&child.stdout_so_far())[said - 1].clone()
    };

    assert_eq!(next(&mut child, "ready"), "ready");
    kill(pid, Signal::SIGINT).expect("first signal");
    assert_eq!(next(&mut child, "stop"), "stop=true kill=false count=1");

    // The plugin is still running after the first signal: stopping is not killing.
    // (Nothing to wait for: this looks for an event that must not come.)
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        child_lines(&child.stdout_so_far()),
        ["ready", "stop=true kill=false count=1"],
        "the first signal ended the plugin"
    );

    let second = Instant::now();
    kill(pid, Signal::SIGTERM).expect("second signal");
    let ended = next(&mut child, "plugin ended");
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "the second signal took {:?} to end a plugin that ignores SIGTERM",
        second.elapsed()
    );
    let (head, plugin_pid) = ended.rsplit_once(" pid=").expect("pid reported");
    assert_eq!(
        head,
        "plugin ended=Cancelled signal=Some(9) kill=true count=2"
    );
    // Nothing left behind: the plugin's process group is gone.
    let plugin_pid: i32 = plugin_pid.parse().expect("the plugin printed its pid");
    assert!(
        nix::sys::signal::killpg(Pid::from_raw(plugin_pid), None).is_err(),
        "the plugin's process group is still alive"
    );

    assert_eq!(
        next(&mut child, "events"),
        "events {\"event\":\"interrupted\",\"at\":\"2026-01-05T10:00:00Z\",\"count\":1} \
         {\"event\":\"interrupted\",\"at\":\"2026-01-05T10:00:00Z\",\"count\":2}"
    );
    let (status, _, stderr) = child.wait_raw();
    assert_eq!(status.code(), Some(130), "child: {status:?}\n{stderr}");
    // Progress lines while it ran, then the report: readable, and the same bytes on
    // every run (deterministic ids and clock; the plugin's pid filtered).
    insta::with_settings!({filters => vec![(r"pid \d+", "pid [pid]")]}, {
        insta::assert_snapshot!(stderr);
    });
}
