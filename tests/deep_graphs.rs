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
use std::time::Duration;

use rune::graph::DependencyGraph;
use rune::plan::{self, PlanError};

use crate::support::plan_request;
use rune::registry::{Criticality, Registry};

/// `n` modules where `c{i}` requires `c{i+1}`; the last requires `c0` when `cycle`.
fn chain_registry(n: usize, cycle: bool) -> Registry {
    Registry::from_dependency_lists((0..n).map(|i| {
        let next =
            (i + 1 < n || cycle).then(|| (format!("c{}", (i + 1) % n), Criticality::Required));
        (format!("c{i}"), next)
    }))
}

#[test]
fn a_200000_module_chain_declared_top_down_checks_and_plans() {
    let n = 200_000;
    let registry = chain_registry(n, false);
    let graph = DependencyGraph::build(&registry);
    assert!(graph.cycles(&registry).is_empty());
    assert!(graph.cycle_diagnostics(&registry).is_empty());

    // `--target c0` pulls in the whole chain.
    let plan = plan::plan(&registry, &graph, plan_request(&["c0"])).expect("a chain plans");
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
    assert_eq!(path.total_ms, n as u128 * u128::from(per_module));
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

    match plan::plan(&registry, &graph, plan_request(&[])) {
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
    let out = crate::support::rune(args)
        .current_dir(dir)
        .stdout(stdout)
        .deadline(deadline())
        .run();
    Run {
        // A death by signal has no exit code.
        code: (out.code >= 0).then_some(out.code),
        stderr: out.stderr,
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
            r#"{{"module_identity":{{"module_name":"c{i}","module_class":"C","module_type":"s","module_version":"1.0.0","description":"d"}},"lifecycle":{{"runtime":"builtin"}},"technical_requirements":{{"supported_protocols":["rcs_v2"],"dependencies":[{deps}]}}}}"#
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
    assert_eq!(
        run.stderr,
        "valid: 1 file, 1 module, 1 action, 1 workflow\n"
    );
}

// Critical-path arithmetic: the largest timeouts a catalog may declare, summed
// along a chain, neither saturate nor drop modules from the chain; a module with
// nothing to run shows what it adds, 0.

/// The largest whole number every JSON reader holds exactly, the schema's bound on
/// every timeout and count.
const MAX_MS: u64 = (1 << 53) - 1;

#[test]
fn the_largest_timeouts_along_a_chain_past_u64_keep_every_module_on_the_path() {
    // 1,100 links of 2 x (2^53 - 1) ms: about 1.98e19, past u64::MAX (1.84e19).
    let n = 1_100;
    let mut registry = chain_registry(n, false);
    for module in &mut registry.modules {
        module.lifecycle.timeouts.initialize_ms = Some(MAX_MS);
        module.lifecycle.timeouts.ready_ms = Some(MAX_MS);
    }
    let graph = DependencyGraph::build(&registry);
    let plan = plan::plan(&registry, &graph, plan_request(&[])).expect("a chain plans");
    let path = &plan.critical_path;
    assert_eq!(path.chain.len(), n, "no module drops out of the chain");
    assert_eq!(path.total_ms, n as u128 * 2 * u128::from(MAX_MS));
    assert!(path.total_ms > u128::from(u64::MAX));
    for (k, link) in path.chain.iter().enumerate() {
        assert_eq!(link.cost_ms, 2 * MAX_MS);
        assert_eq!(
            link.finishes_at_ms,
            (k as u128 + 1) * 2 * u128::from(MAX_MS)
        );
    }
}

fn catalog_with_timeouts(b: &str, c: &str) -> String {
    format!(
        r#"catalog_version: "1"
modules:
  - module_identity: {{module_name: a, module_class: C, module_type: s, module_version: 1.0.0, description: d}}
    lifecycle: {{runtime: builtin, timeouts: {{initialize_ms: 100, ready_ms: 200}}}}
  - module_identity: {{module_name: b, module_class: C, module_type: s, module_version: 1.0.0, description: d}}
    technical_requirements: {{supported_protocols: [rcs_v2], dependencies: [{{module_name: a, criticality: required}}]}}
    lifecycle: {{runtime: builtin, timeouts: {{initialize_ms: {b}, ready_ms: {b}}}}}
  - module_identity: {{module_name: c, module_class: C, module_type: s, module_version: 1.0.0, description: d}}
    technical_requirements: {{supported_protocols: [rcs_v2], dependencies: [{{module_name: b, criticality: required}}]}}
    lifecycle: {{runtime: builtin, timeouts: {{initialize_ms: {c}, ready_ms: {c}}}}}
"#
    )
}

#[test]
fn timeouts_past_2_pow_53_are_refused_where_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let text = catalog_with_timeouts("18446744073709551615", "1e19");
    std::fs::write(dir.path().join("big.yaml"), text).unwrap();
    let run = run(dir.path(), &["validate", "big.yaml", "--format", "json"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&stdout_of(dir.path())).unwrap();
    let found: Vec<(String, u64, u64)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert!(
                d["message"]
                    .as_str()
                    .unwrap()
                    .contains("must be at most 9007199254740991"),
                "{d}"
            );
            (
                d["code"].as_str().unwrap().to_string(),
                d["location"]["line"].as_u64().unwrap(),
                d["location"]["column"].as_u64().unwrap(),
            )
        })
        .collect();
    let out_of_range = |line, column| ("rune::schema::out_of_range".to_string(), line, column);
    assert_eq!(
        found,
        [
            out_of_range(7, 61),
            out_of_range(7, 93),
            out_of_range(10, 61),
            out_of_range(10, 77)
        ]
    );
}

#[test]
fn the_largest_valid_timeouts_plan_exactly_with_every_module_on_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let max = MAX_MS.to_string();
    std::fs::write(
        dir.path().join("big.yaml"),
        catalog_with_timeouts(&max, &max),
    )
    .unwrap();
    let args = [
        "plan",
        "big.yaml",
        "--format",
        "json",
        "--at",
        "2026-03-27T10:00:00Z",
    ];
    let run = run(dir.path(), &args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let plan: serde_json::Value = serde_json::from_str(&stdout_of(dir.path())).unwrap();
    let path = &plan["critical_path"];
    assert_eq!(path["total_ms"], 300 + 4 * MAX_MS);
    let chain: Vec<(&str, u64)> = path["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["module"].as_str().unwrap(),
                m["finishes_at_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        [("a", 300), ("b", 300 + 2 * MAX_MS), ("c", 300 + 4 * MAX_MS)]
    );
}

const NOTHING_TO_RUN: &str = r#"catalog_version: "1"
modules:
  - module_identity: {module_name: base, module_class: C, module_type: s, module_version: 1.0.0, description: d}
    lifecycle: {runtime: builtin, timeouts: {initialize_ms: 100, ready_ms: 100}}
  - module_identity: {module_name: reg, module_class: C, module_type: s, module_version: 1.0.0, description: d}
    technical_requirements: {supported_protocols: [rcs_v2], dependencies: [{module_name: base, criticality: required}]}
    lifecycle: {runtime: none, timeouts: {initialize_ms: 90000, ready_ms: 90000}}
  - module_identity: {module_name: app, module_class: C, module_type: s, module_version: 1.0.0, description: d}
    technical_requirements: {supported_protocols: [rcs_v2], dependencies: [{module_name: reg, criticality: required}]}
    lifecycle: {runtime: builtin, timeouts: {initialize_ms: 10, ready_ms: 10}}
"#;

#[test]
fn a_module_with_nothing_to_run_shows_on_the_path_what_it_adds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rt.yaml"), NOTHING_TO_RUN).unwrap();
    let at = ["--at", "2026-03-27T10:00:00Z"];
    let run_human = run(dir.path(), &[&["plan", "rt.yaml"][..], &at].concat());
    assert_eq!(run_human.code, Some(0), "{}", run_human.stderr);
    let human = stdout_of(dir.path());
    let path = &human[human.find("critical path").unwrap()..];
    let rows: Vec<&str> = path.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    assert_eq!(
        rows,
        [
            "  ready by      200 ms  base@1.0.0  initialize 100 + ready 100",
            "  ready by      200 ms  reg@1.0.0   nothing to run",
            "  ready by      220 ms  app@1.0.0   initialize 10 + ready 10",
        ],
        "{human}"
    );

    let run_json = run(
        dir.path(),
        &[&["plan", "rt.yaml", "--format", "json"][..], &at].concat(),
    );
    assert_eq!(run_json.code, Some(0), "{}", run_json.stderr);
    let plan: serde_json::Value = serde_json::from_str(&stdout_of(dir.path())).unwrap();
    let reg = &plan["critical_path"]["modules"][1];
    assert_eq!(
        *reg,
        serde_json::json!({"module": "reg", "initialize_ms": 0, "ready_ms": 0, "finishes_at_ms": 200})
    );
    // Its steps claim no timeout either: nothing is waited for.
    let module = &plan["startup"][1]["modules"][0];
    assert_eq!(module["module"], "reg");
    for step in module["steps"].as_array().unwrap() {
        assert_eq!(step["timeout_ms"], serde_json::Value::Null, "{step}");
        assert_eq!(step["timeout_source"], serde_json::Value::Null, "{step}");
    }
}

#[test]
fn a_path_past_u64_is_planned_with_every_module_and_rows_aligned() {
    // 1,100 modules, each declaring the largest timeouts: the path passes u64::MAX.
    let n = 1_100;
    let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
    for i in 0..n {
        let deps = if i + 1 < n {
            format!(", technical_requirements: {{supported_protocols: [rcs_v2], dependencies: [{{module_name: c{}, criticality: required}}]}}", i + 1)
        } else {
            String::new()
        };
        writeln!(
            text,
            "  - {{module_identity: {{module_name: c{i}, module_class: C, module_type: s, module_version: 1.0.0, description: d}}, lifecycle: {{runtime: builtin, timeouts: {{initialize_ms: {MAX_MS}, ready_ms: {MAX_MS}}}}}{deps}}}"
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("long.yaml"), text).unwrap();
    let at = ["--at", "2026-03-27T10:00:00Z"];
    let total = n as u128 * 2 * u128::from(MAX_MS);

    let human = run(dir.path(), &[&["plan", "long.yaml"][..], &at].concat());
    assert_eq!(human.code, Some(0), "{}", human.stderr);
    let human = stdout_of(dir.path());
    assert!(
        human.contains(&format!("\ncritical path: {total} ms worst-case")),
        "{human}"
    );
    let rows: Vec<&str> = human
        .lines()
        .filter(|l| l.starts_with("  ready by "))
        .collect();
    assert_eq!(rows.len(), n, "no module drops out of the chain");
    let column = |row: &str| row.find(" ms  ").unwrap();
    assert!(rows.iter().all(|r| column(r) == column(rows[0])), "aligned");
    assert!(rows[n - 1].contains(&format!(" {total} ms  c0@1.0.0 ")));

    let json = run(
        dir.path(),
        &[&["plan", "long.yaml", "--format", "json"][..], &at].concat(),
    );
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let plan: serde_json::Value = serde_json::from_str(&stdout_of(dir.path())).unwrap();
    let path = &plan["critical_path"];
    assert_eq!(path["modules"].as_array().unwrap().len(), n);
    // Past u64 the JSON number is the nearest double.
    assert_eq!(path["total_ms"].as_f64(), Some(total as f64));
}
