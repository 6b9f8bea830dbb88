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

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Set in the child's environment; without it [`interrupt_child`] does nothing.
const CHILD_ENV: &str = "RUNE_TEST_INTERRUPT_CHILD";

/// The child side: only does anything when run by [`two_signals_stop_then_kill`].
#[test]
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

/// Kills the child test binary (and the plugin's group, by the child's pid) when a
/// failed assertion unwinds, so a failing test leaves nothing running.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_signals_stop_then_kill() {
    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "interrupt::interrupt_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("test binary starts again");
    let mut child = Reap(child);
    let stderr = child.0.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });
    let pid = Pid::from_raw(child.0.id() as i32);

    // Lines arrive on a thread, so a child that never answers fails the test
    // instead of hanging it.
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may have written the test's name on the same line first.
            if let Some(at) = line.find("CHILD ") {
                let _ = tx.send(line[at + "CHILD ".len()..].to_string());
            }
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("the child never said {what}"))
    };

    assert_eq!(next("ready"), "ready");
    kill(pid, Signal::SIGINT).expect("first signal");
    assert_eq!(next("stop"), "stop=true kill=false count=1");

    // The plugin is still running after the first signal: stopping is not killing.
    std::thread::sleep(Duration::from_millis(100));
    assert!(rx.try_recv().is_err(), "the first signal ended the plugin");

    let second = Instant::now();
    kill(pid, Signal::SIGTERM).expect("second signal");
    let ended = next("plugin ended");
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
        next("events"),
        "events {\"event\":\"interrupted\",\"at\":\"2026-01-05T10:00:00Z\",\"count\":1} \
         {\"event\":\"interrupted\",\"at\":\"2026-01-05T10:00:00Z\",\"count\":2}"
    );
    let status = child.0.wait().expect("child exits");
    let stderr = stderr.join().unwrap();
    assert_eq!(status.code(), Some(130), "child: {status:?}\n{stderr}");
    // Progress lines while it ran, then the report: readable, and the same bytes on
    // every run (deterministic ids and clock; the plugin's pid filtered).
    insta::with_settings!({filters => vec![(r"pid \d+", "pid [pid]")]}, {
        insta::assert_snapshot!(stderr);
    });
}
