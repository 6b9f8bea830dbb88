//! Policy decided at the real instant, and saved plans that run exactly what was
//! reviewed: `--at`, `SOURCE_DATE_EPOCH` and `--deterministic` never move an
//! execution; a saved plan is decided again now; an edited, forged or swapped plan
//! runs nothing. Every case runs the real binary on a catalog in a temporary
//! directory whose one plugin records that it ran (and its pid), and asserts that
//! nothing ran when it must not, and that nothing it started is left running.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sha2::Digest;

use crate::support::Output;

/// No case here runs anything slow: a hang fails the test instead of stalling CI.
const DEADLINE: Duration = Duration::from_secs(30);

/// A catalog in a temporary directory: `wipe` (remediation, governed by a change
/// window that is closed now) and `status` (diagnostic, never governed).
struct Catalog {
    dir: tempfile::TempDir,
}

/// The weekday three days from now, and a date on it: a window on that day is
/// closed now (whatever the time of day) and open at `inside()`.
fn window_day() -> (&'static str, jiff::civil::Date) {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let day = today
        .checked_add(jiff::Span::new().days(3))
        .expect("a date three days on");
    let name = match day.weekday() {
        jiff::civil::Weekday::Monday => "mon",
        jiff::civil::Weekday::Tuesday => "tue",
        jiff::civil::Weekday::Wednesday => "wed",
        jiff::civil::Weekday::Thursday => "thu",
        jiff::civil::Weekday::Friday => "fri",
        jiff::civil::Weekday::Saturday => "sat",
        jiff::civil::Weekday::Sunday => "sun",
    };
    (name, day)
}

const PLUGIN: &str = r#"#!/usr/bin/env bash
set -euo pipefail
here="$(dirname "$0")"
echo "$$" >>"$here/pids"
echo ran >>"$here/ran"
jq -c '{message_metadata: .message_metadata,
        payload: {result: "success", output_data: {}},
        observability: .observability, error: null}'
"#;

/// A plugin that appends a line to `plugin.sh` (still a working plugin, but not
/// the one planned), then answers.
const TAMPER: &str = r##"set -euo pipefail
here="$(dirname "$0")"
echo "$$" >>"$here/pids"
echo "# changed by tamper" >>"$here/plugin.sh"
jq -c '{message_metadata: .message_metadata,
        payload: {result: "success", output_data: {}},
        observability: .observability, error: null}'
"##;

impl Catalog {
    fn new() -> Catalog {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (day, _) = window_day();
        let catalog = format!(
            r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: ops
      module_class: Ops
      module_type: plugin_host
      module_version: 1.0.0
      description: Operations
    capability_declaration:
      actions:
        - action: wipe
          description: Wipes a cache
          category: remediation
          impact: medium
          exec: ["./plugin.sh"]
        - action: status
          description: Reports status
          category: diagnostic
          impact: low
          input_schema:
            type: object
            properties:
              depth: {{ type: integer, minimum: 1, maximum: 3 }}
            additionalProperties: false
          exec: ["./plugin.sh"]
        - action: tamper
          description: Replaces the plugin while the plan runs
          category: diagnostic
          impact: low
          exec: ["bash", "tamper.sh"]
policy:
  change_windows:
    - name: far-window
      description: Remediation only on one day, never today
      timezone: UTC
      days: [{day}]
      start: "10:00"
      end: "11:00"
      applies_to: {{ categories: [remediation] }}
workflows:
  swap:
    description: The first step replaces the program the second runs
    steps:
      - id: first
        action: tamper
      - id: second
        action: status
        needs: [first]
"#
        );
        std::fs::write(dir.path().join("catalog.yaml"), catalog).unwrap();
        let plugin = dir.path().join("plugin.sh");
        std::fs::write(&plugin, PLUGIN).unwrap();
        make_executable(&plugin);
        // Run by `bash` (an interpreter with the script as its argument): the
        // script is bound by digest like a program.
        std::fs::write(dir.path().join("tamper.sh"), TAMPER).unwrap();
        Catalog { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An instant inside the window.
    fn inside(&self) -> String {
        let (_, day) = window_day();
        format!("{day}T10:30:00Z")
    }

    /// `rune ARGS` in the catalog's directory, bounded by [`DEADLINE`].
    fn rune(&self, args: &[&str]) -> Output {
        self.rune_env(args, &[])
    }

    fn rune_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rune"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("NO_COLOR")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("RUNE_DETERMINISTIC")
            .env("RUNE_PROGRESS", "off")
            .env("RUST_BACKTRACE", "0");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut out = within_deadline(command);
        self.assert_nothing_left();
        out.stderr = unwrapped(&out.stderr);
        out
    }

    /// How many times the plugin ran.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.path("ran"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// Every plugin process the catalog started has exited.
    fn assert_nothing_left(&self) {
        let pids = std::fs::read_to_string(self.path("pids")).unwrap_or_default();
        for pid in pids.split_whitespace() {
            let began = Instant::now();
            loop {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"));
                let alive = stat.as_ref().is_ok_and(|s| {
                    let state = s.rsplit(')').next().unwrap_or("").trim_start();
                    !state.starts_with('Z') && !state.starts_with('X')
                });
                if !alive {
                    break;
                }
                assert!(
                    began.elapsed() < Duration::from_secs(2),
                    "plugin process {pid} is still running after rune exited"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Diagnostics as one line each: the renderer wraps long messages (`│ ` and
/// deep indents continue a line), and the assertions read phrases.
fn unwrapped(stderr: &str) -> String {
    let mut text = String::new();
    for line in stderr.lines() {
        let rest = line.trim_start();
        let continues = rest.starts_with("│ ")
            || (line.starts_with("      ")
                && !rest.starts_with('·')
                && !rest.starts_with('╰')
                && !rest.starts_with('╭'));
        if continues && !text.is_empty() {
            text.pop();
            text.push(' ');
            text.push_str(rest.trim_start_matches("│ ").trim_start());
        } else {
            text.push_str(line);
        }
        text.push('\n');
    }
    text
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Run `command` to the end, killing it (and failing the test) past [`DEADLINE`].
fn within_deadline(mut command: Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rune binary starts");
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let guard = std::thread::spawn(move || {
        if finished.recv_timeout(DEADLINE).is_err() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    });
    let began = Instant::now();
    let out = child.wait_with_output();
    let _ = done.send(());
    guard.join().unwrap();
    let out = out.expect("rune binary finishes");
    assert!(
        began.elapsed() < DEADLINE,
        "rune did not finish within {DEADLINE:?} and was killed"
    );
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn run_and_apply_refuse_at_unless_dry_run() {
    let c = Catalog::new();
    let at = c.inside();
    for args in [
        vec!["run", "wipe", "--catalog", "catalog.yaml", "--at", &at],
        vec![
            "apply",
            "--action",
            "wipe",
            "--catalog",
            "catalog.yaml",
            "--at",
            &at,
        ],
        vec![
            "apply",
            "--action",
            "wipe",
            "--catalog",
            "catalog.yaml",
            "--at",
            &at,
            "--deterministic",
        ],
    ] {
        let out = c.rune(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.snapshot());
        assert!(
            out.stderr.contains("rune::cli::invalid_flags")
                && out.stderr.contains("runs now, so change windows and")
                && out.stderr.contains("add --dry-run"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(c.runs(), 0, "a refused command ran the plugin");
    // A dry run may look at another instant, and says it is allowed then.
    let dry = c.rune(&[
        "run",
        "wipe",
        "--catalog",
        "catalog.yaml",
        "--at",
        &at,
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.snapshot());
    assert!(
        dry.stdout.contains("allowed by change_windows.far-window"),
        "{}",
        dry.stdout
    );
    let dry = c.rune(&[
        "apply",
        "--action",
        "wipe",
        "--catalog",
        "catalog.yaml",
        "--at",
        &at,
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.snapshot());
    assert_eq!(c.runs(), 0, "a dry run ran the plugin");
}

#[test]
fn source_date_epoch_and_deterministic_never_move_an_execution() {
    let c = Catalog::new();
    let inside: jiff::Timestamp = c.inside().parse().unwrap();
    let epoch = inside.as_second().to_string();
    let env = [("SOURCE_DATE_EPOCH", epoch.as_str())];
    // A dry run follows SOURCE_DATE_EPOCH (a build's fixed clock)...
    let dry = c.rune_env(
        &["plan", "--action", "wipe", "--catalog", "catalog.yaml"],
        &env,
    );
    assert_eq!(dry.code, 0, "{}", dry.snapshot());
    assert!(dry.stdout.contains("(SOURCE_DATE_EPOCH)"), "{}", dry.stdout);
    // ...an execution does not, with or without the deterministic setting.
    for args in [
        vec!["run", "wipe", "--catalog", "catalog.yaml"],
        vec![
            "run",
            "wipe",
            "--catalog",
            "catalog.yaml",
            "--deterministic",
        ],
        vec!["apply", "--action", "wipe", "--catalog", "catalog.yaml"],
        vec![
            "apply",
            "--action",
            "wipe",
            "--catalog",
            "catalog.yaml",
            "--deterministic",
        ],
    ] {
        let out = c.rune_env(&args, &env);
        assert_eq!(out.code, 1, "{args:?}: {}", out.snapshot());
        assert!(
            out.stderr.contains("rune::plan::policy_denied")
                && out
                    .stderr
                    .contains("`wipe` denied by change_windows.far-window")
                && out
                    .stderr
                    .contains("an execution is decided at the real instant"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // RUNE_DETERMINISTIC=1 is the deterministic setting too.
    let out = c.rune_env(
        &["run", "wipe", "--catalog", "catalog.yaml"],
        &[("RUNE_DETERMINISTIC", "1")],
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert_eq!(c.runs(), 0, "a denied action ran");
}

#[test]
fn a_plan_saved_inside_the_window_is_refused_outside_it_naming_the_window() {
    let c = Catalog::new();
    let at = c.inside();
    let saved = c.rune(&[
        "plan",
        "--action",
        "wipe",
        "--catalog",
        "catalog.yaml",
        "--at",
        &at,
        "--out",
        "plan.json",
    ]);
    assert_eq!(saved.code, 0, "{}", saved.snapshot());
    let out = c.rune(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::plan::policy_denied")
            && out.stderr.contains(&format!("was allowed at {at}"))
            && out.stderr.contains("policy decided again now")
            && out.stderr.contains("far-window"),
        "{}",
        out.stderr
    );
    let deterministic = c.rune(&["apply", "plan.json", "--deterministic", "--format", "json"]);
    assert_eq!(deterministic.code, 1, "{}", deterministic.snapshot());
    assert_eq!(c.runs(), 0, "a plan denied now ran");
    // A plan whose actions policy allows now runs.
    let saved = c.rune(&[
        "plan",
        "--action",
        "status",
        "--catalog",
        "catalog.yaml",
        "--at",
        &at,
        "--out",
        "status.json",
    ]);
    assert_eq!(saved.code, 0, "{}", saved.snapshot());
    let out = c.rune(&["apply", "status.json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(c.runs(), 1);
}

#[test]
fn a_break_glass_reason_needs_a_visible_character() {
    let c = Catalog::new();
    for reason in ["", "   ", "\t \u{7}", "\u{200B}\u{FEFF}"] {
        for command in [
            vec![
                "plan",
                "--action",
                "wipe",
                "--ack",
                "wipe",
                "--reason",
                reason,
                "--catalog",
                "catalog.yaml",
            ],
            vec![
                "run",
                "wipe",
                "--ack",
                "wipe",
                "--reason",
                reason,
                "--catalog",
                "catalog.yaml",
            ],
            vec![
                "apply",
                "--action",
                "wipe",
                "--ack",
                "wipe",
                "--reason",
                reason,
                "--catalog",
                "catalog.yaml",
            ],
        ] {
            let out = c.rune(&command);
            assert_eq!(out.code, 2, "{reason:?} {command:?}: {}", out.snapshot());
            assert!(
                out.stderr.contains("has no visible character"),
                "{reason:?}: {}",
                out.stderr
            );
        }
    }
    let ok = c.rune(&[
        "plan",
        "--action",
        "status",
        "--ack",
        "status",
        "--reason",
        " INC-7 ",
        "--catalog",
        "catalog.yaml",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.snapshot());
    assert_eq!(c.runs(), 0);
}

/// `rune plan --action status ... --out NAME` at the window's instant; the
/// saved plan as JSON and the digest `plan` printed.
fn saved_status_plan(c: &Catalog, name: &str, extra: &[&str]) -> (Json, String) {
    let mut args = vec![
        "plan",
        "--action",
        "status",
        "--catalog",
        "catalog.yaml",
        "--out",
        name,
    ];
    args.extend_from_slice(extra);
    let out = c.rune(&args);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let bytes = std::fs::read(c.path(name)).unwrap();
    let digest = sha256_hex(&bytes);
    assert_eq!(
        out.stderr,
        format!("plan written to {name} (sha256 {digest})\n")
    );
    (serde_json::from_slice(&bytes).unwrap(), digest)
}

#[test]
fn expect_digest_applies_that_plan_and_no_other() {
    let c = Catalog::new();
    let (_, digest) = saved_status_plan(&c, "plan.json", &[]);
    let (_, other) = saved_status_plan(&c, "other.json", &["-p", "depth=2"]);
    let out = c.rune(&["apply", "other.json", "--expect-digest", &digest]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::unexpected_digest")
            && out
                .stderr
                .contains(&format!("its sha256 is {other}, not {digest}")),
        "{}",
        out.stderr
    );
    assert_eq!(c.runs(), 0);
    for malformed in ["abc", "", &"g".repeat(64)] {
        let out = c.rune(&["apply", "plan.json", "--expect-digest", malformed]);
        assert_eq!(out.code, 2, "{malformed:?}: {}", out.snapshot());
        assert!(
            out.stderr.contains("is not a sha256 digest"),
            "{}",
            out.stderr
        );
    }
    // Without a plan file there is nothing to check the digest of.
    let out = c.rune(&[
        "apply",
        "--action",
        "status",
        "--catalog",
        "catalog.yaml",
        "--expect-digest",
        &digest,
    ]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(c.runs(), 0);
    let upper = format!("sha256:{}", digest.to_uppercase());
    let out = c.rune(&["apply", "plan.json", "--expect-digest", &upper]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(c.runs(), 1);
}

#[test]
fn a_plan_file_with_a_duplicate_key_is_refused() {
    let c = Catalog::new();
    saved_status_plan(&c, "plan.json", &[]);
    let text = std::fs::read_to_string(c.path("plan.json")).unwrap();
    // The second `params` would win in a lenient reader; a reviewer sees the first.
    let twice = text.replacen(
        "\"params\": {}",
        "\"params\": {},\n      \"params\": {\"depth\": 3}",
        1,
    );
    assert_ne!(twice, text, "the plan has a params field");
    std::fs::write(c.path("twice.json"), twice).unwrap();
    let out = c.rune(&["apply", "twice.json"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::plan_file")
            && out.stderr.contains("duplicate key `params` in one object"),
        "{}",
        out.stderr
    );
    assert_eq!(c.runs(), 0);
}

/// `policy_inputs_sha256` as `rune plan` computes it for an action request,
/// so a test can forge a plan whose digests agree with its edits.
fn policy_digest(plan: &Json) -> String {
    let request = &plan["request"];
    let canonical = serde_json::json!({
        "acks": request["acks"],
        "action": request["action"],
        "at": plan["evaluated_at"],
        "params": plan["actions"][0]["params"],
        "reason": request["reason"],
        "targets": request["targets"],
    });
    sha256_hex(serde_json::to_string(&canonical).unwrap().as_bytes())
}

#[test]
fn an_edited_plan_with_recomputed_digests_runs_nothing() {
    let c = Catalog::new();
    let (plan, _) = saved_status_plan(&c, "plan.json", &["-p", "depth=2"]);
    assert_eq!(
        policy_digest(&plan),
        plan["inputs"]["policy_inputs_sha256"],
        "the test computes the digest as rune does"
    );
    // Parameters the schema refuses, the digest recomputed.
    let mut forged = plan.clone();
    forged["actions"][0]["params"]["depth"] = Json::from(99);
    forged["inputs"]["policy_inputs_sha256"] = Json::from(policy_digest(&forged));
    std::fs::write(c.path("params.json"), forged.to_string()).unwrap();
    let out = c.rune(&["apply", "params.json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("depth"), "{}", out.stderr);
    // Another program, every digest untouched.
    let mut forged = plan.clone();
    forged["actions"][0]["command"]["argv"][0] = Json::from("/bin/sh");
    std::fs::write(c.path("program.json"), forged.to_string()).unwrap();
    let out = c.rune(&["apply", "program.json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::stale_plan") && out.stderr.contains("actions[0].command"),
        "{}",
        out.stderr
    );
    assert_eq!(c.runs(), 0, "an edited plan ran");
}

#[test]
fn recorded_catalog_paths_outside_the_root_are_refused_unread() {
    let c = Catalog::new();
    let (plan, _) = saved_status_plan(&c, "plan.json", &[]);
    // A file with content only its owner should see, outside the catalog root.
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.yaml");
    std::fs::write(&secret, "password: hunter2-very-secret\n").unwrap();
    let escape = format!(
        "../{}/secret.yaml",
        outside.path().file_name().unwrap().to_str().unwrap()
    );
    let absolute = secret.to_str().unwrap().to_string();
    for named in [
        escape.as_str(),
        absolute.as_str(),
        "./catalog.yaml",
        "a/../catalog.yaml",
    ] {
        let mut forged = plan.clone();
        forged["inputs"]["files"][0]["file"] = Json::from(named);
        std::fs::write(c.path("forged.json"), forged.to_string()).unwrap();
        let out = c.rune(&["apply", "forged.json"]);
        assert_eq!(out.code, 2, "{named}: {}", out.snapshot());
        assert!(
            out.stderr.contains("outside its catalog root") && out.stderr.contains("not read"),
            "{named}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    }
    // A catalog root moved to another directory holding a file of that name:
    // its bytes are not the ones recorded, so it is refused as changed and never
    // parsed or quoted.
    std::fs::write(
        outside.path().join("catalog.yaml"),
        "password: hunter2-very-secret\n",
    )
    .unwrap();
    let mut forged = plan.clone();
    forged["inputs"]["catalog_root"] = Json::from(outside.path().to_str().unwrap());
    std::fs::write(c.path("moved.json"), forged.to_string()).unwrap();
    let out = c.rune(&["apply", "moved.json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::stale_plan")
            && out.stderr.contains("`catalog.yaml` changed"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert_eq!(c.runs(), 0);
}

#[test]
fn explain_stale_plan_says_what_is_guaranteed_and_what_is_not() {
    let c = Catalog::new();
    let out = c.rune(&["explain", "stale_plan"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    for promise in [
        "Guaranteed",
        "Not guaranteed",
        "--expect-digest",
        "decided again",
    ] {
        assert!(out.stdout.contains(promise), "{promise}: {}", out.stdout);
    }
}

#[test]
fn a_program_changed_after_planning_refuses_the_plan() {
    let c = Catalog::new();
    let (plan, _) = saved_status_plan(&c, "plan.json", &[]);
    let programs: Vec<&str> = plan["inputs"]["programs"]
        .as_array()
        .expect("the plan records its programs")
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(programs, ["plugin.sh"]);
    let mut script = std::fs::read_to_string(c.path("plugin.sh")).unwrap();
    script.push_str("# replaced after review\n");
    std::fs::write(c.path("plugin.sh"), script).unwrap();
    let out = c.rune(&["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::stale_plan")
            && out.stderr.contains("`plugin.sh`")
            && out.stderr.contains("changed since planning"),
        "{}",
        out.stderr
    );
    assert_eq!(c.runs(), 0, "a replaced program ran");
}

#[test]
fn a_program_changed_while_the_plan_runs_is_not_started() {
    let c = Catalog::new();
    let (plan, _) = {
        let out = c.rune(&[
            "plan",
            "--workflow",
            "swap",
            "--catalog",
            "catalog.yaml",
            "--out",
            "swap.json",
        ]);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        let text = std::fs::read_to_string(c.path("swap.json")).unwrap();
        (serde_json::from_str::<Json>(&text).unwrap(), ())
    };
    let programs: Vec<&str> = plan["inputs"]["programs"]
        .as_array()
        .expect("the plan records its programs")
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(programs, ["plugin.sh", "tamper.sh"]);
    let out = c.rune(&["apply", "swap.json", "--format", "json"]);
    assert_eq!(out.code, 4, "{}", out.snapshot());
    // The last line is the report: the second step failed to start, naming why.
    let report: Json = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let second = &report["steps"][1];
    assert_eq!(second["status"], "failed", "{report:#}");
    assert_eq!(
        second["error"]["rune"]["kind"], "spawn_failed",
        "{report:#}"
    );
    let message = second["error"]["error_payload"]["error_data"]["error"]["data"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("plugin.sh` changed since the plan was made"),
        "{message}"
    );
    assert_eq!(
        c.runs(),
        0,
        "the program replaced during the run was started"
    );
}

#[test]
fn a_plan_that_cannot_be_written_whole_is_an_error_and_leaves_no_file() {
    let c = Catalog::new();
    // A 1 KiB file-size limit: the plan (several KiB) fails part way with EFBIG.
    // SIGXFSZ is ignored here and stays ignored across exec, so the write error
    // reaches rune instead of the signal killing it.
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 1; exec "$0" plan --workflow swap --catalog catalog.yaml --out plan.json"#)
        .arg(env!("CARGO_BIN_EXE_rune"))
        .current_dir(c.dir.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .env("RUST_BACKTRACE", "0");
    let out = within_deadline(command);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        unwrapped(&out.stderr).contains("rune::cli::unwritable_out"),
        "{}",
        out.stderr
    );
    let left: Vec<String> = std::fs::read_dir(c.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") || n.starts_with(".rune-"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
