//! Module processes on nodes over OpenSSH, against a real sshd
//! (tests/support/sshd.rs), and resource limits on nodes: a module with
//! `lifecycle.node` goes through its lifecycle there and answers an action over
//! the SPI on ssh's stdin and stdout; a connection cut mid-run is a crash of that
//! module with the rollback a local crash gets; a plugin past its limits on a
//! node is `resource_exhausted`; an unknown module node is a located error.

use std::path::Path;
use std::time::Duration;

use serde_json::Value as Json;

use crate::support::sshd::Sshd;
use crate::support::{alive, rune};

const CATALOG: &str = "tests/fixtures/remote_modules/catalog.yaml";

/// `rune COMMAND` against the fixture catalog and the test sshd's inventory, with
/// the multiplexing sockets in the server's own directory and the local module
/// processes recording their pids in `pids`.
fn rune_on(sshd: &Sshd, pids: &Path, args: &[&str]) -> crate::support::Rune {
    rune(args)
        .args(["--catalog", CATALOG, "--inventory"])
        .arg_path(sshd.inventory())
        .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
        .env("RUNE_TEST_PIDS", pids.to_str().unwrap())
        .deadline(Duration::from_secs(90))
}

/// The JSON lines of an `apply --format json` run: progress events, then the report.
fn json_lines(stdout: &str) -> Vec<Json> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Every process the local module processes recorded (spi-module.sh writes
/// NAME.ROLE.PID into RUNE_TEST_PIDS) is gone.
fn assert_local_clean(pids: &Path) {
    let recorded: Vec<i32> = std::fs::read_dir(pids)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.rsplit('.').next()?.parse().ok())
        .collect();
    let began = std::time::Instant::now();
    loop {
        let left: Vec<i32> = recorded.iter().copied().filter(|&p| alive(p)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "local processes left: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The report of an `apply --format json` run (its last line).
fn report(stdout: &str) -> Json {
    json_lines(stdout).pop().expect("a report line")
}

/// The journal's `node_assigned` events: (step, node, transport).
fn assigned(journal: &Path) -> Vec<(u64, String, String)> {
    std::fs::read_to_string(journal)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .filter(|e| e["event"] == "node_assigned")
        .map(|e| {
            (
                e["step"].as_u64().unwrap(),
                e["node"].as_str().unwrap().to_string(),
                e["transport"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_module_on_a_node_goes_through_its_lifecycle_and_answers_an_action() {
    let Some(sshd) = Sshd::start(1) else { return };
    let pids = tempfile::tempdir().unwrap();
    let journal = sshd.dir().join("journal.jsonl");
    let out = rune_on(
        &sshd,
        pids.path(),
        &[
            "apply",
            "--target",
            "far",
            "--action",
            "echo",
            "-p",
            "msg=hi",
            "--format",
            "json",
            &format!("--journal={}", journal.display()),
        ],
    )
    .run();
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    let report = report(&out.stdout);
    assert_eq!(report["status"], "succeeded", "{report:#}");
    // The action was answered by the module process on n1, over the SPI.
    let text = report.to_string();
    assert!(text.contains(r#""msg":"hi""#), "{report:#}");
    // Every phase of `far` (register, initialize, ready, drain, shutdown) and its
    // action ran on n1, over ssh; nothing of `base` did.
    let events = assigned(&journal);
    assert_eq!(events.len(), 6, "{events:?}");
    assert!(
        events.iter().all(|(_, n, t)| n == "n1" && t == "ssh"),
        "{events:?}"
    );
    // Its program was shipped to the node's cache.
    let shipped = std::fs::read_dir(sshd.remote_cache().join("rune/ship"))
        .unwrap()
        .flatten()
        .any(|e| e.path().join("spi-module.sh").is_file());
    assert!(shipped, "the module's program is in the node's cache");
    sshd.assert_node_clean(Duration::from_secs(10));
    assert_local_clean(pids.path());

    // The plan shows where it runs and how, and a saved one records the
    // inventory's digest.
    let plan = rune_on(
        &sshd,
        pids.path(),
        &["plan", "--target", "far", "--format", "json"],
    )
    .run();
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let doc = plan.json();
    let far = doc["startup"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["modules"].as_array().unwrap())
        .find(|m| m["module"] == "far")
        .unwrap()
        .clone();
    assert_eq!(far["node"], "n1", "{far:#}");
    assert_eq!(far["transport"], "ssh", "{far:#}");
    assert_eq!(
        doc["inputs"]["inventory_sha256"].as_str().unwrap().len(),
        64,
        "{:#}",
        doc["inputs"]
    );
    let human = rune_on(&sshd, pids.path(), &["plan", "--target", "far"]).run();
    assert_eq!(human.code, 0, "{}", human.snapshot());
    assert!(
        human
            .stdout
            .contains("spi-module.sh ok far 1.0.0 on node n1 (over ssh)"),
        "{}",
        human.stdout
    );
}

#[test]
fn a_connection_cut_mid_run_is_a_crash_with_rollback_and_nothing_left() {
    let Some(sshd) = Sshd::start(1) else { return };
    let pids = tempfile::tempdir().unwrap();
    let mut running = rune_on(
        &sshd,
        pids.path(),
        &["apply", "--target", "after-hang", "--format", "json"],
    )
    .spawn();
    // far-hang hangs at ready on n1: find its wrapper, whose parent is sshd's
    // session process for this connection, and kill that.
    let mut session = None;
    running.wait_for("far-hang to hang at ready on the node", || {
        let on_node = sshd.node_processes();
        session = on_node
            .iter()
            .any(|(_, cmd)| cmd.starts_with("sleep 600"))
            .then(|| {
                on_node
                    .iter()
                    .find(|(_, cmd)| cmd.starts_with("sh -c # rune-wrap"))
                    .and_then(|(pid, _)| parent_of(*pid))
            })
            .flatten();
        session.is_some()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(session.unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = running.wait();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let report = report(&out.stdout);
    let text = report.to_string();
    // far-hang failed at ready: its connection was lost (-32101, as a crash),
    // naming its node.
    let failed: Vec<&Json> = report["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("{report:#}"))
        .iter()
        .filter(|s| s["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{report:#}");
    let error = &failed[0]["error"];
    assert_eq!(failed[0]["module"], "far-hang", "{report:#}");
    assert_eq!(failed[0]["phase"], "ready", "{report:#}");
    let data = &error["error_payload"]["error_data"]["error"];
    assert_eq!(data["code"], -32101, "{error:#}");
    assert_eq!(data["data"]["node"], "n1", "{error:#}");
    assert_eq!(data["data"]["connection_lost"], true, "{error:#}");
    assert_eq!(
        error["error_payload"]["error_context"]["system_impact"], "module",
        "{error:#}"
    );
    // What a local crash gets: after-hang is skipped, base is rolled back.
    assert!(text.contains("rolled back"), "{report:#}");
    let skipped: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "skipped")
        .filter_map(|s| s["module"].as_str())
        .collect();
    assert!(skipped.contains(&"after-hang"), "{report:#}");
    // Nothing is left, on the node or here.
    sshd.assert_node_clean(Duration::from_secs(15));
    assert_local_clean(pids.path());
}

#[test]
fn a_module_program_missing_on_its_node_fails_register_with_its_own_error() {
    let Some(sshd) = Sshd::start(1) else { return };
    let pids = tempfile::tempdir().unwrap();
    let out = rune_on(
        &sshd,
        pids.path(),
        &["apply", "--target", "far-missing", "--format", "json"],
    )
    .run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let report = report(&out.stdout);
    let register = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["module"] == "far-missing" && s["phase"] == "register")
        .unwrap_or_else(|| panic!("{report:#}"))
        .clone();
    assert_eq!(register["status"], "failed", "{register:#}");
    let error = &register["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32100, "{register:#}");
    assert_eq!(
        error["data"]["program"], "/opt/rune/modules/rune-test-not-installed",
        "{register:#}"
    );
    // Nothing was shipped for it: it is installed there (or not at all).
    assert!(!sshd.remote_cache().join("rune/ship").exists());
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn limits_on_a_node_stop_a_plugin_that_exceeds_them() {
    let Some(sshd) = Sshd::start(1) else { return };
    let pids = tempfile::tempdir().unwrap();
    let run = |action: &str| {
        rune_on(
            &sshd,
            pids.path(),
            &["run", action, "--node", "n1", "--json"],
        )
        .run()
    };
    let fits = run("fits");
    assert_eq!(fits.code, 0, "{}\n{}", fits.snapshot(), sshd.log());
    for (action, limit) in [
        ("burn-cpu", "max_cpu_seconds"),
        ("hog-memory", "max_memory_mb"),
        ("open-files", "max_open_files"),
    ] {
        let out = run(action);
        assert_eq!(out.code, 4, "{action}: {}", out.snapshot());
        let doc = out.json();
        assert_eq!(doc["error"]["code"], -32400, "{action}: {doc:#}");
        assert_eq!(
            doc["eps"]["error_payload"]["error_data"]["error"]["data"]["limit"], limit,
            "{action}: {doc:#}"
        );
        assert_eq!(doc["node"], "n1", "{action}: {doc:#}");
    }
    // A module process on a node runs under its module's limits too.
    let out = rune_on(
        &sshd,
        pids.path(),
        &["apply", "--action", "spin", "--format", "json"],
    )
    .run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let report = report(&out.stdout);
    let spin = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "spin")
        .unwrap_or_else(|| panic!("{report:#}"));
    let error = &spin["error"]["error_payload"]["error_data"]["error"];
    assert_eq!(error["code"], -32400, "{spin:#}");
    assert_eq!(error["data"]["limit"], "max_cpu_seconds", "{spin:#}");
    assert_eq!(error["data"]["node"], "n1", "{spin:#}");
    sshd.assert_node_clean(Duration::from_secs(10));
}

/// The fixture catalog with far's node replaced by `node`, written into `dir`
/// (its programs named by absolute paths, so they resolve from there).
fn with_far_on(dir: &Path, node: &str) -> std::path::PathBuf {
    let fixtures = crate::support::root().join("tests/fixtures");
    let text = std::fs::read_to_string(CATALOG)
        .unwrap()
        .replace(
            "node: n1\n      exec: [\"../modules/spi-module.sh\", \"ok\"",
            &format!("node: {node}\n      exec: [\"../modules/spi-module.sh\", \"ok\""),
        )
        .replace("../modules/", &format!("{}/modules/", fixtures.display()))
        .replace("../limits/", &format!("{}/limits/", fixtures.display()));
    let catalog = dir.join(format!("far-on-{node}.yaml"));
    std::fs::write(&catalog, text).unwrap();
    catalog
}

#[test]
fn an_unknown_module_node_is_a_located_error_with_did_you_mean() {
    let Some(sshd) = Sshd::start(1) else { return };
    let dir = tempfile::tempdir().unwrap();
    let catalog = with_far_on(dir.path(), "closd");
    let out = rune(["plan", "--target", "far", "--catalog"])
        .arg_path(&catalog)
        .args(["--inventory"])
        .arg_path(sshd.inventory())
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("module `far` runs on node `closd`: no node `closd` in the inventory"),
        "{all}"
    );
    assert!(all.contains("did you mean `closed`?"), "{all}");
    // Located: the file and the line of `node:`.
    let line = std::fs::read_to_string(&catalog)
        .unwrap()
        .lines()
        .position(|l| l.contains("node: closd"))
        .unwrap()
        + 1;
    assert!(all.contains(&format!("far-on-closd.yaml:{line}:")), "{all}");
}

#[test]
fn a_module_moved_to_another_node_is_plan_drift() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.yaml");
    std::fs::write(&inventory, "nodes:\n  n1: { host: a }\n  n2: { host: b }\n").unwrap();
    let plan = |node: &str| {
        let catalog = with_far_on(dir.path(), node);
        let out_file = dir.path().join(format!("{node}.json"));
        let out = rune(["plan", "--target", "far", "--catalog"])
            .arg_path(&catalog)
            .args(["--inventory"])
            .arg_path(&inventory)
            .args(["--out"])
            .arg_path(&out_file)
            .run();
        assert_eq!(out.code, 0, "{}", out.snapshot());
        out_file
    };
    let (a, b) = (plan("n1"), plan("n2"));
    let out = rune(["diff"]).arg_path(&a).arg_path(&b).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stdout.contains("module `far`: node `n1` → `n2`"),
        "{}",
        out.stdout
    );
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}
