//! Deep dependency graphs and workflows: a valid catalog may chain 100,000 modules
//! (or 150,000 workflow steps) one behind the other, declared top-down so that a
//! depth-first walk from the first one goes the whole way down. Every walk over the
//! graph must keep its own stack: a call per link overflows the thread's stack and
//! the process aborts (exit 134), which a recursive strongly-connected-components
//! search did.
//!
//! The first tests call the library at 200,000 (a test thread has a 2 MiB stack, so
//! recursion fails here long before it would in the binary); the others run the real
//! binary on one large JSON file, under a deadline so that a hang fails too.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rune::graph::DependencyGraph;
use rune::plan::{self, Clock, PlanError, Request};
use rune::registry::{Criticality, Registry};

/// `n` modules where `c{i}` requires `c{i+1}`; the last requires `c0` when `cycle`.
fn chain_registry(n: usize, cycle: bool) -> Registry {
    Registry::from_dependency_lists((0..n).map(|i| {
        let next =
            (i + 1 < n || cycle).then(|| (format!("c{}", (i + 1) % n), Criticality::Required));
        (format!("c{i}"), next)
    }))
}

fn request(targets: &[&str]) -> Request {
    Request {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        action: None,
        params: serde_json::Map::new(),
        at: "2026-01-01T00:00:00Z".parse().expect("valid instant"),
        clock: Clock::Fixed,
        acks: Vec::new(),
        reason: None,
    }
}

#[test]
fn a_200000_module_chain_declared_top_down_checks_and_plans() {
    let n = 200_000;
    let registry = chain_registry(n, false);
    let graph = DependencyGraph::build(&registry);
    assert!(graph.cycles(&registry).is_empty());
    assert!(graph.cycle_diagnostics(&registry).is_empty());

    // `--target c0` pulls in the whole chain.
    let plan = plan::plan(&registry, &graph, request(&["c0"])).expect("a chain plans");
    assert_eq!(plan.startup.len(), n, "one wave per link");
    assert_eq!(
        plan.startup[0],
        [n - 1],
        "the bottom of the chain starts first"
    );
    assert_eq!(plan.startup[n - 1], [0]);
    let path = &plan.critical_path;
    assert_eq!(path.chain.len(), n, "every module is on the critical path");
    let per_module = plan::DEFAULT_INITIALIZE_MS + plan::DEFAULT_READY_MS;
    assert_eq!(path.total_ms, n as u64 * per_module);
    assert_eq!(path.chain[0].module, n - 1);
    assert_eq!(path.chain[n - 1].module, 0);
}

#[test]
fn a_200000_module_cycle_is_one_cycle_through_every_module() {
    let n = 200_000;
    let registry = chain_registry(n, true);
    let graph = DependencyGraph::build(&registry);
    let cycles = graph.cycles(&registry);
    assert_eq!(cycles.len(), 1);
    let cycle = &cycles[0];
    assert_eq!(cycle.len(), n, "the only way round passes every module");
    // It starts at the smallest name and follows the declarations.
    assert_eq!(registry.modules[cycle[0].module].name.value, "c0");
    assert!(cycle.iter().enumerate().all(|(k, r)| r.module == k));

    let diagnostics = graph.cycle_diagnostics(&registry);
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].labels.len(), n);
    assert!(diagnostics[0]
        .message
        .starts_with("dependency cycle: c0 → c1 → c2 → "));
    assert!(diagnostics[0].message.ends_with(" → c199999 → c0"));

    match plan::plan(&registry, &graph, request(&[])) {
        Err(PlanError::Invalid(d)) => assert!(d[0].message.starts_with("cannot order startup")),
        other => panic!(
            "a cycle cannot be planned: {:?}",
            other.map(|p| p.startup.len())
        ),
    }
}

/// A deadline generous enough for the unoptimised binary on a loaded machine; a
/// crash or a hang still fails well inside it.
fn deadline() -> Duration {
    Duration::from_secs(if cfg!(debug_assertions) { 420 } else { 60 })
}

/// What one run produced; stdout went to a file (a plan of 100,000 modules is
/// 150 MB of JSON, no need to hold it twice).
struct Run {
    code: Option<i32>,
    stderr: String,
}

/// Run `rune ARGS` in `dir` with stdout to `dir/stdout`, killing it at the deadline.
fn run(dir: &Path, args: &[&str]) -> Run {
    let stdout = std::fs::File::create(dir.join("stdout")).unwrap();
    let stderr = std::fs::File::create(dir.join("stderr")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rune"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("rune binary starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`rune {}` ran longer than {:?}", args.join(" "), deadline());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code(),
        stderr: std::fs::read_to_string(dir.join("stderr")).unwrap_or_default(),
    }
}

/// The catalog of [`chain_registry`] as one JSON file.
fn write_chain_catalog(path: &Path, n: usize, cycle: bool) {
    let mut text = String::from(r#"{"catalog_version":"1","modules":["#);
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        let deps = if i + 1 < n || cycle {
            format!(
                r#"{{"module_name":"c{}","criticality":"required"}}"#,
                (i + 1) % n
            )
        } else {
            String::new()
        };
        write!(
            text,
            r#"{{"module_identity":{{"module_name":"c{i}","module_class":"C","module_type":"s","module_version":"1.0.0","description":"d"}},"lifecycle":{{"runtime":"builtin"}},"technical_requirements":{{"supported_protocols":["x"],"dependencies":[{deps}]}}}}"#
        )
        .unwrap();
    }
    text.push_str("]}");
    std::fs::write(path, text).unwrap();
}

const MODULES: usize = 100_000;

fn chain_dir(cycle: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_chain_catalog(&dir.path().join("chain.json"), MODULES, cycle);
    dir
}

fn stdout_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("stdout")).unwrap()
}

#[test]
fn validate_accepts_a_100000_module_chain_declared_top_down() {
    let dir = chain_dir(false);
    let run = run(dir.path(), &["validate", "chain.json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The verdict goes to stderr, like every diagnostic.
    assert_eq!(run.stderr, "valid: 1 file, 100000 modules, 0 actions\n");
}

#[test]
fn plan_orders_a_100000_module_chain_declared_top_down() {
    let dir = chain_dir(false);
    let args = ["plan", "chain.json", "--format", "json"];
    let run = run(
        dir.path(),
        &[&args[..], &["--at", "2026-03-27T10:00:00Z"]].concat(),
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&stdout_of(dir.path())).unwrap();
    assert_eq!(plan["summary"]["modules"], MODULES);
    assert_eq!(plan["summary"]["waves"], MODULES);
    assert_eq!(plan["startup"][0]["modules"][0]["module"], "c99999");
    let path = &plan["critical_path"];
    assert_eq!(path["modules"].as_array().unwrap().len(), MODULES);
    assert_eq!(path["total_ms"], MODULES as u64 * 15_000);
}

#[test]
fn graph_draws_a_100000_module_chain_declared_top_down() {
    let dir = chain_dir(false);
    let run = run(dir.path(), &["graph", "chain.json", "--format", "json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let graph: serde_json::Value = serde_json::from_str(&stdout_of(dir.path())).unwrap();
    assert_eq!(graph["nodes"].as_array().unwrap().len(), MODULES);
    assert_eq!(graph["edges"].as_array().unwrap().len(), MODULES - 1);
}

#[test]
fn validate_reports_a_100000_module_cycle_once() {
    let dir = chain_dir(true);
    let run = run(dir.path(), &["validate", "chain.json", "--format", "json"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout_of(dir.path())).unwrap();
    let diagnostics = report["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0]["code"], "rune::check::dependency_cycle");
    assert_eq!(diagnostics[0]["labels"].as_array().unwrap().len(), MODULES);
}

/// One module with one action and a workflow of `n` steps where `s{i}` needs
/// `s{i+1}` (and the last needs `s0` when `cycle`).
fn write_needs_catalog(path: &Path, n: usize, cycle: bool) {
    let mut text = String::from(
        r#"{"catalog_version":"1","modules":[{"module_identity":{"module_name":"m","module_class":"C","module_type":"s","module_version":"1.0.0","description":"d"},"capability_declaration":{"actions":[{"action":"a","description":"d","category":"diagnostic","impact":"low"}]},"lifecycle":{"runtime":"builtin"}}],"workflows":{"w":{"steps":["#,
    );
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        let needs = if i + 1 < n || cycle {
            format!(r#""s{}""#, (i + 1) % n)
        } else {
            String::new()
        };
        write!(text, r#"{{"id":"s{i}","action":"a","needs":[{needs}]}}"#).unwrap();
    }
    text.push_str("]}}}");
    std::fs::write(path, text).unwrap();
}

#[test]
fn validate_accepts_a_150000_step_needs_chain_declared_top_down() {
    let dir = tempfile::tempdir().unwrap();
    write_needs_catalog(&dir.path().join("steps.json"), 150_000, false);
    let run = run(dir.path(), &["validate", "steps.json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stderr, "valid: 1 file, 1 module, 1 action\n");
}
