//! What a person (or a CI log) sees while `apply` or `run` executes: a [`Sink`] of
//! execution events.
//!
//! Three shapes, chosen by [`ProgressMode::detect`]:
//!
//! - **live** (stderr is a terminal): an indicatif line at the bottom of the screen
//!   with the stage and wave, the steps running now, steps done of planned and the
//!   elapsed time; failures, retries, skips, state changes and interrupts are
//!   printed above it as they happen, successes only move the counter;
//! - **lines** (stderr is not a terminal, or `RUNE_PROGRESS=lines`): one plain line
//!   on stderr per wave, step end, retry, state change and interrupt, usable by CI
//!   logs and `grep`;
//! - **json** (`--format json`): every event as one JSON line on stdout (the
//!   [`Event`] itself, as the journal writes it), for programs.
//!
//! Everything a plugin, a module or a catalog supplied is escaped
//! (`escape::untrusted`) in the live and plain shapes; colour follows
//! `--color` and `NO_COLOR` as the caller decided. Lines depend only on the events,
//! never on the clock, so the same events give the same bytes.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::execution::{human_duration, kind_word, state_word, step_label, Paint};
use crate::escape::untrusted;
use crate::exec::event::{Event, ModuleState, Outcome, Sink, WorkflowDecision, WorkflowEnd};

/// The environment variable that forces a progress shape (`live`, `lines`, `off`).
pub(crate) const PROGRESS_ENV: &str = "RUNE_PROGRESS";

/// Which shape progress takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Live progress on stderr (a terminal).
    Live,
    /// One plain line per step end and state change on stderr.
    Lines,
    /// One JSON event per line on stdout.
    Json,
    /// Nothing (`rune run --output json`, whose stdout is one document, may want it).
    Off,
}

impl ProgressMode {
    /// `Json` when the command prints JSON; else what `RUNE_PROGRESS` asks for;
    /// else `Live` on a terminal and `Lines` elsewhere.
    pub fn detect(json: bool) -> ProgressMode {
        if json {
            return ProgressMode::Json;
        }
        match std::env::var(PROGRESS_ENV).as_deref().map(str::trim) {
            Ok("lines" | "plain") => ProgressMode::Lines,
            Ok("off" | "none") => ProgressMode::Off,
            Ok("live") => ProgressMode::Live,
            _ if super::stderr_is_terminal() => ProgressMode::Live,
            _ => ProgressMode::Lines,
        }
    }
}

/// Where lines go.
enum Target {
    Stderr,
    Stdout,
    /// In memory, for tests.
    #[cfg(test)]
    Buffer(Vec<u8>),
}

/// What the live line shows.
#[derive(Debug, Default)]
struct Live {
    stage: Option<(String, u64)>,
    /// Running steps by id, as labels.
    running: BTreeMap<u64, String>,
    done: u64,
    /// Signals seen: the prefix keeps saying so as later waves start.
    interrupts: u64,
    command: String,
}

impl Live {
    fn prefix(&self) -> String {
        let mut prefix = match &self.stage {
            Some((stage, wave)) => format!("{} wave {wave}", untrusted(stage)),
            None => format!("rune {}", untrusted(&self.command)),
        };
        match self.interrupts {
            0 => {}
            1 => prefix.push_str(" (winding down; Ctrl-C again to kill)"),
            _ => prefix.push_str(" (killing)"),
        }
        prefix
    }
}

/// The progress sink.
pub struct Progress {
    mode: ProgressMode,
    paint: Paint,
    target: Mutex<Target>,
    live: Mutex<Live>,
    bar: Option<ProgressBar>,
    /// Stdout closed by the reader (`| head`): stop writing, quietly.
    closed: Mutex<bool>,
    failure: Mutex<Option<io::Error>>,
    /// What the events so far said, for the last line.
    seen: Mutex<Seen>,
    /// Lines on their way to stdout or stderr, written by a thread of their own:
    /// a reader that stops reading blocks that thread, never the executor's
    /// workers (whose children's deadlines run meanwhile).
    writer: Mutex<Option<Writer>>,
}

/// The thread that writes progress lines, and its queue.
struct Writer {
    queue: std::sync::mpsc::Sender<String>,
    /// Ends with the first write that failed, if one did.
    thread: std::thread::JoinHandle<Option<io::Error>>,
}

/// What earlier events said that the run's last line depends on.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    /// A Ctrl-C (or SIGTERM) came.
    interrupted: bool,
    /// A step failed other than by being interrupted (a step the second Ctrl-C
    /// killed is the interrupt, not a failure of its own).
    failed: bool,
}

impl Seen {
    fn note(&mut self, event: &Event) {
        match event {
            Event::Interrupted { .. } => self.interrupted = true,
            Event::StepFinished {
                outcome: Outcome::Failed,
                error,
                ..
            } => {
                self.failed |= error
                    .as_ref()
                    .is_none_or(|e| e.kind() != crate::exec::eps::Kind::Interrupted);
            }
            _ => {}
        }
    }
}

impl Progress {
    /// Progress of this shape; `color` as `report::use_color` decided for stderr.
    pub fn new(mode: ProgressMode, color: bool) -> Progress {
        let target = match mode {
            ProgressMode::Json => Target::Stdout,
            _ => Target::Stderr,
        };
        Progress::with_target(mode, color, target)
    }

    fn with_target(mode: ProgressMode, color: bool, target: Target) -> Progress {
        let bar = (mode == ProgressMode::Live).then(|| {
            let draw = match target {
                Target::Stderr => ProgressDrawTarget::stderr(),
                _ => ProgressDrawTarget::hidden(),
            };
            let bar = ProgressBar::with_draw_target(Some(0), draw);
            let style = ProgressStyle::with_template(
                "{spinner} {prefix} [{elapsed_precise}] {pos}/{len} steps  {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            mode,
            paint: Paint(color && mode != ProgressMode::Json),
            target: Mutex::new(target),
            live: Mutex::new(Live::default()),
            bar,
            closed: Mutex::new(false),
            failure: Mutex::new(None),
            seen: Mutex::new(Seen::default()),
            writer: Mutex::new(None),
        }
    }

    /// Clear the live line (before the final report is printed) and hand back the
    /// first failure to write stdout, if any (a closed pipe is not one).
    pub fn finish(&self) -> Option<io::Error> {
        self.drain();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        lock(&self.failure).take()
    }

    /// Wait until every queued line is written (execution is over: blocking is
    /// harmless now, and the final report must come after the progress).
    fn drain(&self) {
        let writer = lock(&self.writer).take();
        if let Some(Writer { queue, thread }) = writer {
            drop(queue);
            if let Ok(Some(e)) = thread.join() {
                *lock(&self.closed) = true;
                if e.kind() != io::ErrorKind::BrokenPipe {
                    lock(&self.failure).get_or_insert(e);
                }
            }
        }
    }

    /// Queue `text` for the writer thread (started on first use); false when no
    /// thread could be started, and the caller writes it itself.
    fn queue(&self, text: &str) -> bool {
        let mut writer = lock(&self.writer);
        if writer.is_none() {
            let (queue, lines) = std::sync::mpsc::channel::<String>();
            let stdout = matches!(&*lock(&self.target), Target::Stdout);
            let spawned = std::thread::Builder::new()
                .name("rune-progress".to_string())
                .spawn(move || {
                    for line in lines {
                        let result = if stdout {
                            let mut out = io::stdout().lock();
                            out.write_all(line.as_bytes()).and_then(|()| out.flush())
                        } else {
                            write_stderr(&line);
                            Ok(())
                        };
                        // A closed stdout (`| head`) ends the writing.
                        if let Err(e) = result {
                            return Some(e);
                        }
                    }
                    None
                });
            match spawned {
                Ok(thread) => *writer = Some(Writer { queue, thread }),
                Err(_) => return false,
            }
        }
        writer
            .as_ref()
            .is_some_and(|w| w.queue.send(text.to_string()).is_ok())
    }

    fn write(&self, text: &str) {
        match &self.bar {
            // Above the live line, which indicatif redraws below it.
            Some(bar) => bar.suspend(|| self.write_target(text)),
            None if !matches!(&*lock(&self.target), Target::Stdout | Target::Stderr) => {
                self.write_target(text);
            }
            None => {
                if !self.queue(text) {
                    self.write_target(text);
                }
            }
        }
    }

    fn write_target(&self, text: &str) {
        let mut closed = lock(&self.closed);
        if *closed {
            return;
        }
        let result = match &mut *lock(&self.target) {
            Target::Stderr => {
                write_stderr(text);
                Ok(())
            }
            Target::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            #[cfg(test)]
            Target::Buffer(buffer) => {
                buffer.extend_from_slice(text.as_bytes());
                Ok(())
            }
        };
        if let Err(e) = result {
            *closed = true;
            if e.kind() != io::ErrorKind::BrokenPipe {
                lock(&self.failure).get_or_insert(e);
            }
        }
    }

    /// Update the live line from one event.
    fn update_live(&self, bar: &ProgressBar, event: &Event) {
        let mut live = lock(&self.live);
        match event {
            Event::RunStarted { command, steps, .. } => {
                bar.set_length(*steps);
                live.command = command.clone();
            }
            Event::WaveStarted { stage, wave, .. } => {
                live.stage = Some((stage.clone(), *wave));
            }
            Event::StepStarted {
                step,
                module,
                action,
                phase,
                ..
            } => {
                let label = step_label(module, action.as_deref(), phase.as_deref());
                live.running.insert(*step, label);
            }
            Event::StepFinished { step, .. } => {
                live.running.remove(step);
                live.done += 1;
                bar.set_position(live.done);
            }
            Event::Interrupted { count, .. } => live.interrupts = live.interrupts.max(*count),
            _ => return,
        }
        bar.set_prefix(live.prefix());
        bar.set_message(live_message(&live.running));
    }
}

impl Drop for Progress {
    /// A caller that returns early without [`Progress::finish`] must not leave a
    /// half-drawn live line behind the next prompt.
    fn drop(&mut self) {
        self.drain();
        if let Some(bar) = &self.bar {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }
}

/// The live line's message: what runs now, shortest first to fit.
fn live_message(running: &BTreeMap<u64, String>) -> String {
    match running.len() {
        0 => String::new(),
        1..=4 => format!(
            "running {}",
            running.values().cloned().collect::<Vec<_>>().join(", ")
        ),
        n => format!(
            "running {} and {} more",
            running
                .values()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            n - 3
        ),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

impl Sink for Progress {
    fn emit(&self, event: &Event) {
        let seen = {
            let mut seen = lock(&self.seen);
            seen.note(event);
            *seen
        };
        match self.mode {
            ProgressMode::Off => {}
            ProgressMode::Json => {
                if let Ok(mut line) = serde_json::to_string(event) {
                    line.push('\n');
                    self.write(&line);
                }
            }
            ProgressMode::Lines => {
                if let Some(line) = progress_line(event, self.paint, seen) {
                    self.write(&(line + "\n"));
                }
            }
            ProgressMode::Live => {
                if let Some(bar) = &self.bar {
                    self.update_live(bar, event);
                }
                // Successes only move the counter; what needs attention stays on screen.
                let notable = match event {
                    Event::StepFinished { outcome, .. } => *outcome != Outcome::Succeeded,
                    Event::StateChanged { to, .. } => {
                        matches!(to, ModuleState::Degraded | ModuleState::Unavailable)
                    }
                    Event::WaveStarted { .. } | Event::RunFinished { .. } => false,
                    // The live line shows what runs; only failures and
                    // compensations stay on screen.
                    Event::WorkflowStep { decision, .. } => !matches!(
                        decision,
                        WorkflowDecision::Started
                            | WorkflowDecision::Succeeded
                            | WorkflowDecision::Skipped
                            | WorkflowDecision::CompensationSkipped
                    ),
                    _ => true,
                };
                if notable {
                    if let Some(line) = progress_line(event, self.paint, seen) {
                        self.write(&(line + "\n"));
                    }
                }
            }
        }
    }
}

/// The plain line for one event, or `None` for events a person need not see as
/// they happen (step starts, protocol messages: the journal has those).
pub(crate) fn progress_line(event: &Event, paint: Paint, seen: Seen) -> Option<String> {
    Some(match event {
        // Which node a step runs on is in the journal and the report.
        Event::NodeAssigned { .. } => return None,
        Event::Acknowledged { action, reason, .. } => format!(
            "   break glass: `{}` acknowledged{}",
            untrusted(action),
            reason
                .as_deref()
                .map(|r| format!(": {}", untrusted(r)))
                .unwrap_or_default()
        ),
        Event::RunStarted {
            command,
            correlation_id,
            steps,
            parallelism,
            ..
        } => format!(
            "rune {}: {}, at most {parallelism} at once (correlation {})",
            untrusted(command),
            super::plural(*steps as usize, "step"),
            untrusted(correlation_id)
        ),
        Event::WaveStarted {
            stage,
            wave,
            members,
            ..
        } => {
            let names: Vec<String> = members.iter().map(|m| untrusted(m).into_owned()).collect();
            format!(
                "{} {} wave {wave}: {}",
                paint.bold("=="),
                untrusted(stage),
                names.join(", ")
            )
        }
        Event::StepStarted { .. } | Event::Message { .. } => return None,
        Event::StateChanged { .. } => module_line(event, paint)?,
        Event::Retrying { .. } => retry_line(event, paint)?,
        Event::StepFinished { .. } => step_finished_line(event, paint)?,
        Event::WorkflowStep { .. } => workflow_step_line(event, paint)?,
        Event::WorkflowFinished { .. } => workflow_finished_line(event, paint)?,
        Event::Interrupted { count: 1, .. } => format!(
            "{} scheduling nothing new; winding down what started (Ctrl-C again to kill it)",
            paint.yellow("interrupted:")
        ),
        Event::Interrupted { .. } => format!(
            "{} killing what is still running",
            paint.red("interrupted again:")
        ),
        Event::RunFinished {
            succeeded,
            duration_ms,
            ..
        } => format!(
            "{} {} in {}",
            paint.bold("=="),
            // An interrupted run does not succeed, failure or not: say which.
            match (*succeeded, seen.interrupted, seen.failed) {
                (true, ..) => paint.green("finished"),
                (false, true, false) => paint.yellow("interrupted"),
                (false, true, true) => paint.red("interrupted, with failures"),
                (false, false, _) => paint.red("finished with failures"),
            },
            human_duration(*duration_ms)
        ),
    })
}

/// A module's state change, its new state coloured by how bad it is.
fn module_line(event: &Event, paint: Paint) -> Option<String> {
    let Event::StateChanged {
        module,
        from,
        to,
        reason,
        ..
    } = event
    else {
        return None;
    };
    let to_word = match to {
        ModuleState::Degraded => paint.yellow(state_word(*to)),
        ModuleState::Unavailable => paint.red(state_word(*to)),
        _ => state_word(*to).to_string(),
    };
    let mut line = format!(
        "   {}: {} → {to_word}",
        untrusted(module),
        state_word(*from)
    );
    if let Some(reason) = reason {
        line.push_str(&format!(" ({})", untrusted(reason)));
    }
    Some(line)
}

/// A failed attempt that is retried, with its error.
fn retry_line(event: &Event, paint: Paint) -> Option<String> {
    let Event::Retrying {
        step,
        attempt,
        backoff_ms,
        error,
        ..
    } = event
    else {
        return None;
    };
    let label = origin_label(error);
    Some(format!(
        "   step {step} {label}: attempt {attempt} {} ({} {}: {}); retrying in {}",
        paint.yellow("failed"),
        error.code(),
        kind_word(error),
        untrusted(error.reason()),
        human_duration(*backoff_ms)
    ))
}

/// How a step ended, with the error it failed with.
fn step_finished_line(event: &Event, paint: Paint) -> Option<String> {
    let Event::StepFinished {
        step,
        module,
        action,
        phase,
        outcome,
        attempts,
        duration_ms,
        reason,
        error,
        ..
    } = event
    else {
        return None;
    };
    let label = step_label(module, action.as_deref(), phase.as_deref());
    Some(match outcome {
        Outcome::Succeeded => {
            let tries = if *attempts > 1 {
                format!(" on attempt {attempts}")
            } else {
                String::new()
            };
            format!(
                "   step {step} {label}: {}{tries} in {}",
                paint.green("succeeded"),
                human_duration(*duration_ms)
            )
        }
        Outcome::Skipped => format!(
            "   step {step} {label}: {}{}",
            paint.yellow("skipped"),
            reason
                .as_ref()
                .map(|r| format!(" ({})", untrusted(r)))
                .unwrap_or_default()
        ),
        Outcome::Failed => {
            let mut line = if *attempts == 0 {
                // Refused before any process started (a reference that
                // could not be filled): there is no attempt to count.
                format!(
                    "   step {step} {label}: {} before it started",
                    paint.red("failed")
                )
            } else {
                format!(
                    "   step {step} {label}: {} after {} in {}",
                    paint.red("failed"),
                    super::plural(*attempts as usize, "attempt"),
                    human_duration(*duration_ms)
                )
            };
            if let Some(error) = error {
                line.push_str(&format!(
                    ": {} {}: {}",
                    error.code(),
                    kind_word(error),
                    untrusted(error.reason())
                ));
            }
            line
        }
    })
}

/// A workflow decision a person needs to see (`None` for the rest).
fn workflow_step_line(event: &Event, paint: Paint) -> Option<String> {
    let Event::WorkflowStep {
        step,
        id,
        decision,
        node,
        ..
    } = event
    else {
        return None;
    };
    let id = untrusted(id);
    // Each run of a step on another machine names it as it starts.
    let on = node
        .as_ref()
        .map(|n| format!(" on {}", untrusted(n)))
        .unwrap_or_default();
    Some(match decision {
        WorkflowDecision::FailedContinued => format!(
            "   step {step} `{id}`: {} (continue_on_error: the workflow goes on)",
            paint.yellow("failed")
        ),
        WorkflowDecision::Interrupted => format!(
            "   step {step} `{id}`: {} (killed by the second Ctrl-C)",
            paint.yellow("interrupted")
        ),
        WorkflowDecision::Failed => format!(
            "   step {step} `{id}`: {} (the workflow stops: no new step unless it handles failure)",
            paint.red("failed")
        ),
        WorkflowDecision::CompensationStarted => {
            format!("   step {step}: compensating `{id}`{on}")
        }
        WorkflowDecision::Compensated => {
            format!("   step {step}: `{id}` {}", paint.green("compensated"))
        }
        WorkflowDecision::CompensationFailed => format!(
            "   step {step}: the compensation of `{id}` {}",
            paint.red("failed")
        ),
        // Names the plan step the workflow step runs as; its outcome
        // follows on the step's own line.
        WorkflowDecision::Started => format!("   step {step} `{id}`: started{on}"),
        WorkflowDecision::Skipped
        | WorkflowDecision::CompensationSkipped
        | WorkflowDecision::Succeeded => return None,
    })
}

/// How the workflow ended.
fn workflow_finished_line(event: &Event, paint: Paint) -> Option<String> {
    let Event::WorkflowFinished {
        name,
        stopped_by,
        ended,
        ..
    } = event
    else {
        return None;
    };
    Some(match (stopped_by, ended) {
        // Ctrl-C after a failure stopped it: both explain how it ended.
        (Some(step), WorkflowEnd::Interrupted) => format!(
            "{} workflow `{}` {} after step `{}` failed, then {}: no new step or compensation was started",
            paint.bold("=="),
            untrusted(name),
            paint.red("stopped"),
            untrusted(step),
            paint.red("interrupted")
        ),
        (None, WorkflowEnd::Interrupted) => format!(
            "{} workflow `{}` {}: no new step was started",
            paint.bold("=="),
            untrusted(name),
            paint.red("interrupted")
        ),
        (_, WorkflowEnd::NotStarted) => format!(
            "{} workflow `{}` {}: a module it needs did not start",
            paint.bold("=="),
            untrusted(name),
            paint.red("did not run")
        ),
        (Some(step), _) => format!(
            "{} workflow `{}` {} after step `{}` failed",
            paint.bold("=="),
            untrusted(name),
            paint.red("stopped"),
            untrusted(step)
        ),
        (None, _) => format!(
            "{} workflow `{}` ran to its end",
            paint.bold("=="),
            untrusted(name)
        ),
    })
}

/// `module: action` or `module phase` from an EPS origin.
fn origin_label(error: &crate::exec::eps::Eps) -> String {
    let (module, action, phase) = error.place();
    step_label(module.unwrap_or("?"), action, phase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::execution::tests::{failed_apply, interrupted_run};

    fn rendered(mode: ProgressMode, color: bool, events: &[Event]) -> String {
        let progress = Progress::with_target(mode, color, Target::Buffer(Vec::new()));
        for event in events {
            progress.emit(event);
        }
        assert!(progress.finish().is_none());
        let target = std::mem::replace(&mut *lock(&progress.target), Target::Stderr);
        match target {
            Target::Buffer(bytes) => String::from_utf8(bytes).unwrap(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn plain_lines_of_a_failed_apply() {
        insta::assert_snapshot!(rendered(ProgressMode::Lines, false, &failed_apply()));
    }

    #[test]
    fn plain_lines_of_an_interrupted_run() {
        insta::assert_snapshot!(rendered(ProgressMode::Lines, false, &interrupted_run()));
    }

    #[test]
    fn json_lines_are_the_events_themselves() {
        let events = failed_apply();
        let text = rendered(ProgressMode::Json, true, &events);
        let parsed: Vec<Event> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is one event"))
            .collect();
        assert_eq!(parsed, events);
        // No colour, and the hostile stderr stays JSON-escaped.
        assert!(!text.contains('\u{1b}'));
        assert!(text.contains("\\u001b[2K\\rREADY"));
    }

    #[test]
    fn the_same_events_give_the_same_bytes() {
        let events = failed_apply();
        assert_eq!(
            rendered(ProgressMode::Lines, true, &events),
            rendered(ProgressMode::Lines, true, &events)
        );
    }

    #[test]
    fn hostile_text_is_escaped_in_lines() {
        let text = rendered(ProgressMode::Lines, false, &failed_apply());
        assert!(!text.contains('\u{1b}'));
        assert!(!text.contains('\r'));
    }

    #[test]
    fn off_prints_nothing() {
        assert_eq!(rendered(ProgressMode::Off, true, &failed_apply()), "");
    }

    #[test]
    fn live_progress_keeps_only_what_needs_attention_on_screen() {
        let progress = Progress::with_target(ProgressMode::Live, false, Target::Buffer(Vec::new()));
        let events = failed_apply();
        // Mid-run: the first wave's lmm ready is running.
        for event in &events[..events.len() / 3] {
            progress.emit(event);
        }
        let bar = progress.bar.as_ref().unwrap();
        assert_eq!(bar.prefix(), "startup wave 1");
        assert_eq!(bar.length(), Some(14));
        for event in &events[events.len() / 3..] {
            progress.emit(event);
        }
        assert_eq!(bar.position(), 14);
        assert_eq!(bar.prefix(), "shutdown wave 1");
        progress.emit(&Event::Interrupted {
            at: "2026-01-05T10:00:00Z".parse().unwrap(),
            count: 1,
        });
        assert_eq!(
            bar.prefix(),
            "shutdown wave 1 (winding down; Ctrl-C again to kill)"
        );
        assert!(progress.finish().is_none());
        let target = std::mem::replace(&mut *lock(&progress.target), Target::Stderr);
        let Target::Buffer(bytes) = target else {
            unreachable!()
        };
        insta::assert_snapshot!(String::from_utf8(bytes).unwrap());
    }

    #[test]
    fn the_live_line_names_what_runs() {
        let mut running = BTreeMap::new();
        assert_eq!(live_message(&running), "");
        for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            running.insert(i as u64, format!("{name} ready"));
        }
        assert_eq!(
            live_message(&running),
            "running a ready, b ready, c ready and 2 more"
        );
    }
}
