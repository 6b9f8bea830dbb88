//! Remote nodes over OpenSSH, against a real sshd (tests/support/sshd.rs): the
//! inventory, `rune run --node`, shipping, fan-out and every failure of a node.

use std::process::Command;
use std::time::Duration;

use crate::support::sshd::Sshd;
use crate::support::{output_within, rune};

/// The harness's own check: the aliases reach sshd with the throwaway keys, and
/// the failing aliases fail.
#[test]
fn the_test_sshd_accepts_its_aliases_and_refuses_the_bad_ones() {
    let Some(sshd) = Sshd::start(2) else { return };
    let ssh = |alias: &str| {
        let mut c = Command::new("ssh");
        c.arg("-F")
            .arg(sshd.ssh_config())
            .args(["-o", "BatchMode=yes", alias, "echo", "hello"]);
        output_within(c, Duration::from_secs(30)).expect("run ssh")
    };
    for alias in ["n1", "n2"] {
        let out = ssh(alias);
        assert_eq!(out.code, 0, "{alias}: {}\n{}", out.stderr, sshd.log());
        assert_eq!(out.stdout, "hello\n");
    }
    for alias in ["closed", "badkey", "changed"] {
        let out = ssh(alias);
        assert_eq!(out.code, 255, "{alias} should fail: {out:?}");
    }
    let _ = rune(["--version"]);
}

const CATALOG: &str = "tests/fixtures/remote/catalog.yaml";

/// `rune run` against the fixture catalog and the test sshd's inventory, with
/// the multiplexing sockets in the server's own directory.
fn run_on(sshd: &Sshd, args: &[&str]) -> crate::support::Rune {
    rune(["run"])
        .args(args)
        .args(["--catalog", CATALOG, "--inventory"])
        .arg_path(sshd.inventory())
        .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
        .deadline(Duration::from_secs(60))
}

#[test]
fn a_plugin_runs_on_one_node_and_prints_what_it_prints_for_localhost() {
    let Some(sshd) = Sshd::start(2) else { return };
    let out = run_on(&sshd, &["whoami", "--node", "n1", "--json"]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    let doc = out.json();
    assert_eq!(doc["node"], "n1");
    assert_eq!(doc["outcome"], "succeeded");
    assert_eq!(doc["payload"]["result"], "success");
    assert_eq!(doc["payload"]["output_data"]["node"], "n1");
    // It ran from the node's cache, not from the repository.
    let dir = doc["payload"]["output_data"]["dir"].as_str().unwrap();
    assert!(
        dir.starts_with(sshd.remote_cache().to_str().unwrap()),
        "{dir}"
    );
    let local = run_on(&sshd, &["whoami", "--json"]).run();
    assert_eq!(local.code, 0, "{}", local.snapshot());
    let local = local.json();
    // The same document for localhost, but for where it ran.
    let keys = |d: &serde_json::Value| d.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&doc), keys(&local));
}

fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn fan_out_prints_one_json_line_per_node_then_a_summary() {
    let Some(sshd) = Sshd::start(4) else { return };
    let out = run_on(
        &sshd,
        &["whoami", "--nodes", "all", "--forks", "3", "--json"],
    )
    .run();
    // `all` is every node of the inventory, the failing aliases too: exit 4.
    assert_eq!(out.code, 4, "{}\n{}", out.snapshot(), sshd.log());
    let docs = json_lines(&out.stdout);
    let mut nodes: Vec<&str> = docs.iter().map(|d| d["node"].as_str().unwrap()).collect();
    nodes.sort_unstable();
    assert_eq!(
        nodes,
        ["badkey", "changed", "closed", "n1", "n2", "n3", "n4"]
    );
    for doc in &docs {
        let node = doc["node"].as_str().unwrap();
        if node.starts_with('n') {
            assert_eq!(doc["outcome"], "succeeded", "{doc:#}");
            assert_eq!(doc["payload"]["output_data"]["node"], node);
        } else {
            assert_eq!(doc["outcome"], "failed", "{doc:#}");
        }
        // Policy decided once, recorded per node.
        assert_eq!(doc["decision"]["rule"], docs[0]["decision"]["rule"]);
        assert_eq!(doc["correlation_id"], docs[0]["correlation_id"]);
    }
    assert!(
        out.stderr
            .contains("7 nodes: 4 succeeded, 3 failed, 0 interrupted"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("node_unreachable: closed"),
        "{}",
        out.stderr
    );
    // A plugin that answers at once leaves nothing behind either (the wrapper's
    // watchers included).
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn a_label_or_a_group_selects_nodes_and_any_failure_exits_4() {
    let Some(sshd) = Sshd::start(4) else { return };
    let journal = sshd.dir().join("journal.jsonl");
    let out = run_on(&sshd, &["whoami", "--nodes", "role=web", "--json"])
        .args(["--journal"])
        .arg_path(&journal)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // The journal names the node of every step: each step's events follow its
    // node_assigned line, by step id.
    let events = json_lines(&std::fs::read_to_string(&journal).unwrap());
    let mut assigned: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e["event"] == "node_assigned")
        .map(|e| {
            (
                e["step"].as_u64().unwrap(),
                e["node"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assigned.sort();
    assert_eq!(assigned, [(1, "n1".to_string()), (2, "n3".to_string())]);
    for e in &events {
        if let Some(step) = e["step"].as_u64() {
            assert!(assigned.iter().any(|(s, _)| *s == step), "{e}");
        }
    }
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "run_started")
            .count(),
        1
    );
    let mut nodes: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|d| d["node"].as_str().unwrap().to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["n1", "n3"]);
    let out = run_on(&sshd, &["whoami", "--node", "n2", "--node", "closed"]).run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    assert!(
        out.stdout
            .contains("`whoami` succeeded (module fleet, node n2"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("2 nodes: 1 succeeded, 1 failed"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_node_is_a_usage_error_with_did_you_mean() {
    let Some(sshd) = Sshd::start(1) else { return };
    let out = run_on(&sshd, &["whoami", "--node", "closd"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("no node `closd` in the inventory"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `closed`?"),
        "{}",
        out.stderr
    );
    let out = run_on(&sshd, &["whoami", "--nodes", "rol=web"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("no node has the label `rol=web`"),
        "{}",
        out.stderr
    );
    // Without an inventory, only this machine.
    let out = rune(["run", "whoami", "--catalog", CATALOG, "--node", "n1"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stderr.contains("--inventory FILE"), "{}", out.stderr);
}

/// The bundle directories in the node's cache (each a symlink to its unpacked
/// directory once complete).
fn shipped(sshd: &Sshd) -> Vec<String> {
    let dir = sshd.remote_cache().join("rune/ship");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_plugin_is_shipped_once_per_content_and_again_when_it_changes() {
    let Some(sshd) = Sshd::start(4) else { return };
    // A copy of the fixture, so the test can change the plugin's library.
    let copy = tempfile::tempdir().unwrap();
    let plugins = copy.path().join("plugins");
    std::fs::create_dir_all(plugins.join("lib")).unwrap();
    for f in [
        "catalog.yaml",
        "plugins/whoami.sh",
        "plugins/hang.sh",
        "plugins/lib/answer.sh",
    ] {
        std::fs::copy(
            crate::support::root().join("tests/fixtures/remote").join(f),
            copy.path().join(f),
        )
        .unwrap();
    }
    let catalog = copy.path().join("catalog.yaml");
    let run = |args: &[&str]| {
        rune(["run"])
            .args(args)
            .args(["--catalog"])
            .arg_path(&catalog)
            .args(["--inventory"])
            .arg_path(sshd.inventory())
            .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
            .run()
    };
    assert!(shipped(&sshd).is_empty());
    // Four nodes at once ship the same content to one cache: one bundle.
    let out = run(&["whoami", "--nodes", "n1,n2", "--json"]);
    assert_eq!(
        out.code,
        2,
        "a selector is one group, node or label: {}",
        out.snapshot()
    );
    let out = run(&[
        "whoami", "--node", "n1", "--node", "n2", "--node", "n3", "--node", "n4", "--json",
    ]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let first = shipped(&sshd);
    assert_eq!(first.len(), 1, "{first:?}");
    let bundle = sshd.remote_cache().join("rune/ship").join(&first[0]);
    assert!(bundle.join(".rune-complete").is_file());
    assert!(bundle.join("whoami.sh").is_file() && bundle.join("lib/answer.sh").is_file());
    let unpacked = std::fs::read_link(&bundle).unwrap();
    // Run again: nothing is shipped (the same unpacked directory).
    let out = run(&["whoami", "--node", "n1"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(shipped(&sshd), first);
    assert_eq!(std::fs::read_link(&bundle).unwrap(), unpacked);
    // A changed library is a new bundle.
    let lib = plugins.join("lib/answer.sh");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("{text}# changed\n")).unwrap();
    let out = run(&["whoami", "--node", "n1", "--json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let second = shipped(&sshd);
    assert_eq!(second.len(), 2, "{second:?}");
    let dir = out.json()["payload"]["output_data"]["dir"]
        .as_str()
        .unwrap()
        .to_string();
    let new = second.iter().find(|n| **n != first[0]).unwrap();
    assert!(
        dir.ends_with(new.as_str()),
        "{dir} runs the new bundle {new}"
    );
}

#[test]
fn each_node_failure_is_its_own_eps_error() {
    let Some(sshd) = Sshd::start(1) else { return };
    let cases = [
        ("closed", -32405, "node_unreachable", true),
        ("badkey", -32300, "node_auth_failed", false),
        ("changed", -32302, "host_key_changed", false),
    ];
    for (node, code, kind, retry) in cases {
        let out = run_on(&sshd, &["whoami", "--node", node, "--json"]).run();
        assert_eq!(out.code, 4, "{node}: {}", out.snapshot());
        let doc = out.json();
        assert_eq!(doc["error"]["code"], code, "{node}: {doc:#}");
        let eps = &doc["eps"]["error_payload"];
        assert_eq!(eps["error_data"]["error"]["code"], code);
        assert_eq!(eps["error_context"]["retry_recommended"], retry, "{node}");
        assert!(eps["error_context"]["recovery_actions"]
            .as_array()
            .is_some_and(|a| !a.is_empty()));
        assert_eq!(doc["eps"]["routing"]["routing_tags"][1], kind, "{node}");
        assert_eq!(doc["error"]["details"]["ssh_exit_code"], 255);
    }
    let out = run_on(&sshd, &["installed", "--node", "n1", "--json"]).run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["error"]["code"], -32100, "{doc:#}");
    assert_eq!(
        doc["error"]["details"]["program"],
        "/opt/rune/plugins/rune-test-not-installed"
    );
    // The node's cache cannot be made: its parent is a file.
    std::fs::remove_dir_all(sshd.remote_cache()).unwrap();
    std::fs::write(sshd.remote_cache(), "not a directory").unwrap();
    let out = run_on(&sshd, &["whoami", "--node", "n1", "--json"]).run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["error"]["code"], -32403, "{doc:#}");
    assert_eq!(
        doc["eps"]["routing"]["routing_tags"][1],
        "node_cache_unwritable"
    );
    assert_eq!(
        doc["eps"]["error_payload"]["error_context"]["retry_recommended"],
        false
    );
}

#[test]
fn a_remote_plugin_past_its_timeout_leaves_nothing_on_the_node() {
    let Some(sshd) = Sshd::start(1) else { return };
    let out = run_on(&sshd, &["hang", "--node", "n1", "--json"]).run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["error"]["code"], -32401, "{doc:#}");
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn a_dropped_connection_fails_the_node_and_the_wrapper_cleans_up() {
    let Some(sshd) = Sshd::start(1) else { return };
    let mut running = run_on(&sshd, &["hang-long", "--node", "n1", "--json"]).spawn();
    // The plugin runs on the node: find its wrapper, whose parent is sshd's
    // session process for this connection, and kill that.
    let mut session = None;
    running.wait_for("the plugin to start on the node", || {
        session = sshd
            .node_processes()
            .iter()
            .find(|(_, cmd)| cmd.contains("hang.sh"))
            .and_then(|_| {
                sshd.node_processes()
                    .iter()
                    .find(|(_, cmd)| cmd.starts_with("sh -c # rune-wrap"))
                    .and_then(|(pid, _)| parent_of(*pid))
            });
        session.is_some()
    });
    let session = session.unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(session),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let out = running.wait();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["error"]["code"], -32101, "{doc:#}");
    assert_eq!(doc["eps"]["routing"]["routing_tags"][1], "connection_lost");
    assert_eq!(
        doc["eps"]["error_payload"]["error_context"]["retry_recommended"],
        true
    );
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn ctrl_c_stops_every_node_and_leaves_nothing_on_them() {
    let Some(sshd) = Sshd::start(3) else { return };
    let mut running = run_on(
        &sshd,
        &["hang-long", "--nodes", "role=web", "--node", "n2", "--json"],
    )
    .spawn();
    running.wait_for("the plugin to start on three nodes", || {
        sshd.node_processes()
            .iter()
            .filter(|(_, c)| c.contains("hang.sh"))
            .count()
            == 3
    });
    running.signal(nix::sys::signal::Signal::SIGINT);
    let out = running.wait();
    assert_eq!(out.code, 130, "{}", out.snapshot());
    let docs = json_lines(&out.stdout);
    assert_eq!(docs.len(), 3, "{}", out.stdout);
    assert!(
        docs.iter().all(|d| d["outcome"] == "interrupted"),
        "{}",
        out.stdout
    );
    sshd.assert_node_clean(Duration::from_secs(10));
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn list_nodes_shows_the_inventory_and_reads_ansible_inventories() {
    let Some(sshd) = Sshd::start(2) else { return };
    let out = rune(["list-nodes", "--format", "json", "--inventory"])
        .arg_path(sshd.inventory())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let names: Vec<&str> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["badkey", "changed", "closed", "n1", "n2"]);
    assert_eq!(doc["nodes"][3]["labels"]["role"], "web");
    assert_eq!(doc["inventory_digest"].as_str().unwrap().len(), 64);
    // The same nodes as an Ansible INI inventory: a plugin runs through it.
    let ini = sshd.dir().join("hosts");
    std::fs::write(
        &ini,
        format!(
            "[web]\nweb1 ansible_host=127.0.0.1 ansible_port={port} ansible_user=root ansible_ssh_private_key_file={key} tier=front\n\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n",
            port = sshd.port,
            key = sshd.dir().join("client_key").display()
        ),
    )
    .unwrap();
    let out = rune(["list-nodes", "--inventory"]).arg_path(&ini).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout.contains("web1  root@127.0.0.1:"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("tier=front"), "{}", out.stdout);
    let bad = sshd.dir().join("bad.ini");
    std::fs::write(&bad, "[web\nh1 ansible_port=99999\nh2 nonsense\n").unwrap();
    let out = rune(["list-nodes", "--inventory"]).arg_path(&bad).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("bad.ini:1"), "located: {}", out.stderr);
    assert!(
        out.stderr.contains("is a port from 1 to 65535"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("`nonsense` is not `key=value`"),
        "{}",
        out.stderr
    );
}

/// A plugin written the way RUNE's own are (bash sourcing its BPCS library from
/// `lib/`) runs on a node unmodified: its library is shipped beside it.
#[test]
fn a_rune_style_plugin_runs_remotely_with_its_shipped_library() {
    let Some(sshd) = Sshd::start(1) else { return };
    let mut jq = Command::new("jq");
    jq.arg("--version");
    if !crate::support::succeeds(jq) {
        crate::support::skip("jq is not installed (the fixture plugin's library uses it)");
        return;
    }
    let out = run_on(
        &sshd,
        &["noop", "--node", "n1", "--param", "mode=advanced", "--json"],
    )
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(doc["payload"]["result"], "success", "{doc:#}");
    assert_eq!(doc["payload"]["output_data"]["context"]["node"], "n1");
    let out = run_on(
        &sshd,
        &["noop", "--node", "n1", "--param", "fail=true", "--json"],
    )
    .run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    assert_eq!(out.json()["outcome"], "failed");
}

/// A saved plan binds the files an action ships as it binds its program.
#[test]
fn a_plan_pins_the_files_an_action_ships() {
    let out = rune([
        "plan",
        "--catalog",
        CATALOG,
        "--action",
        "whoami",
        "--format",
        "json",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let files: Vec<&str> = doc["inputs"]["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["plugins/lib/answer.sh", "plugins/whoami.sh"]);
}

/// A workflow whose steps run on two nodes (and one here), through `rune apply`.
#[test]
fn a_workflow_runs_its_steps_on_the_nodes_they_name() {
    let Some(sshd) = Sshd::start(2) else { return };
    let apply = |extra: &[&str]| {
        rune([
            "apply",
            "--catalog",
            CATALOG,
            "--workflow",
            "across",
            "--format",
            "json",
        ])
        .args(extra)
        .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
    };
    // Without the inventory the plan is refused, naming the node.
    let out = apply(&[]).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stdout
            .contains("step `first` runs on node `n1`: no node `n1` in the inventory"),
        "{}",
        out.stdout
    );
    let inventory = sshd.inventory();
    let out = apply(&["--inventory", inventory.to_str().unwrap()]).run();
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    // Progress events, one per line, then the report.
    let report = json_lines(&out.stdout).pop().unwrap();
    assert_eq!(report["status"], "succeeded", "{report:#}");
    let text = report.to_string();
    // Each step's output names the node it ran on.
    for node in [r#""node":"n1""#, r#""node":"n2""#, r#""node":"localhost""#] {
        assert!(text.contains(node), "{node} in {report:#}");
    }
    // The plan records each step's node.
    let out = rune([
        "plan",
        "--catalog",
        CATALOG,
        "--workflow",
        "across",
        "--format",
        "json",
        "--inventory",
    ])
    .arg_path(&inventory)
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let plan = out.json();
    let nodes: Vec<serde_json::Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["workflow"]["node"].clone())
        .collect();
    assert_eq!(
        nodes,
        [
            serde_json::json!("n1"),
            serde_json::json!("n2"),
            serde_json::Value::Null
        ]
    );
    // The readable plan names the node and the transport of each remote step.
    let human = rune([
        "plan",
        "--catalog",
        CATALOG,
        "--workflow",
        "across",
        "--inventory",
    ])
    .arg_path(&inventory)
    .run();
    assert_eq!(human.code, 0, "{}", human.snapshot());
    assert!(
        human.stdout.contains("node      n1 (over ssh)"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("node      n2 (over ssh)"),
        "{}",
        human.stdout
    );
}

/// A saved plan with a step on a node records the inventory's digest: applied
/// with the same inventory it runs, with a changed one it is stale.
#[test]
fn a_saved_plan_is_stale_when_its_inventory_changes() {
    let Some(sshd) = Sshd::start(2) else { return };
    let inventory = sshd.inventory();
    let plan_file = sshd.dir().join("plan.json");
    let out = rune([
        "plan",
        "--catalog",
        CATALOG,
        "--workflow",
        "across",
        "--inventory",
    ])
    .arg_path(&inventory)
    .args(["--out"])
    .arg_path(&plan_file)
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    assert_eq!(
        saved["inputs"]["inventory_sha256"].as_str().unwrap().len(),
        64
    );
    let apply = || {
        rune(["apply"])
            .arg_path(&plan_file)
            .args(["--inventory"])
            .arg_path(&inventory)
            .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
            .run()
    };
    let out = apply();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // Another node behind the same name: the plan no longer says where it runs.
    let text = std::fs::read_to_string(&inventory).unwrap();
    std::fs::write(&inventory, text.replacen("host: n2", "host: n1", 1)).unwrap();
    let out = apply();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::apply::stale_plan"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the inventory digest differs"),
        "{}",
        out.stderr
    );
}

/// An Ansible YAML inventory: groups, children, vars, ranges and the connection
/// variables, read as Ansible reads them.
#[test]
fn an_ansible_yaml_inventory_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.yaml");
    std::fs::write(
        &file,
        "all:\n  vars:\n    env: prod\n  children:\n    web:\n      hosts:\n        web[1:2]:\n          ansible_user: ops\n    db:\n      hosts:\n        db1:\n          ansible_host: 10.0.0.9\n          ansible_port: 2222\n          ansible_ssh_private_key_file: keys/db\n      vars:\n        role: db\n",
    )
    .unwrap();
    let out = rune(["list-nodes", "--format", "json", "--inventory"])
        .arg_path(&file)
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let doc = out.json();
    let nodes = doc["nodes"].as_array().unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db1", "web1", "web2"]);
    assert_eq!(nodes[0]["host"], "10.0.0.9");
    assert_eq!(nodes[0]["port"], 2222);
    assert_eq!(
        nodes[0]["identity_file"],
        dir.path().join("keys/db").to_str().unwrap()
    );
    assert_eq!(
        nodes[0]["labels"],
        serde_json::json!({"env": "prod", "role": "db"})
    );
    assert_eq!(nodes[1]["user"], "ops");
    assert_eq!(
        doc["groups"]["all"],
        serde_json::json!(["db1", "web1", "web2"])
    );
    // A group selects its members, children included.
    let out = rune([
        "list-nodes",
        "--format",
        "json",
        "--nodes",
        "web",
        "--inventory",
    ])
    .arg_path(&file)
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["nodes"].as_array().unwrap().len(), 2);
}

/// `rune apply` of a workflow of the fixture catalog with the test sshd's
/// inventory and a journal; returns the output and the journal's events.
fn apply_workflow(
    sshd: &Sshd,
    workflow: &str,
    target: &str,
    journal: &str,
) -> (crate::support::Output, Vec<serde_json::Value>) {
    let journal = sshd.dir().join(journal);
    let out = rune([
        "apply",
        "--catalog",
        CATALOG,
        "--workflow",
        workflow,
        "--format",
        "json",
        "--input",
        &format!("target={target}"),
        "--inventory",
    ])
    .arg_path(sshd.inventory())
    .args(["--journal"])
    .arg_path(&journal)
    .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
    .deadline(Duration::from_secs(60))
    .run();
    let events = std::fs::read_to_string(&journal)
        .map(|j| json_lines(&j))
        .unwrap_or_default();
    (out, events)
}

/// The (step, node) of every node_assigned event of a journal.
fn assigned(events: &[serde_json::Value]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter(|e| e["event"] == "node_assigned")
        .map(|e| {
            (
                e["step"].as_u64().unwrap(),
                e["node"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_step_runs_on_the_node_a_run_input_names() {
    let Some(sshd) = Sshd::start(2) else { return };
    // Two runs of one workflow, two nodes: each step's output says where it ran.
    for (run, node) in ["n1", "n2"].into_iter().enumerate() {
        let (out, events) = apply_workflow(&sshd, "on-input", node, &format!("j{run}.jsonl"));
        assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
        let report = json_lines(&out.stdout).pop().unwrap();
        assert_eq!(report["status"], "succeeded", "{report:#}");
        assert_eq!(report["steps"][0]["output"]["node"], node, "{report:#}");
        assert_eq!(assigned(&events), [(1, node.to_string())]);
    }
    // The plan shows the reference and the node it resolved to.
    let plan = |format: &[&str]| {
        rune([
            "plan",
            "--catalog",
            CATALOG,
            "--workflow",
            "on-input",
            "--input",
            "target=n2",
            "--inventory",
        ])
        .arg_path(sshd.inventory())
        .args(format)
        .run()
    };
    let out = plan(&["--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let place = &out.json()["actions"][0]["workflow"];
    assert_eq!(place["node"], "n2", "{place:#}");
    assert_eq!(place["node_from"], "inputs.target", "{place:#}");
    let out = plan(&[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stdout
            .contains("node      n2 (over ssh), from inputs.target"),
        "{}",
        out.stdout
    );
    // `localhost` from the input runs here, with no node_assigned.
    let (out, events) = apply_workflow(&sshd, "on-input", "localhost", "local.jsonl");
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let report = json_lines(&out.stdout).pop().unwrap();
    assert_eq!(report["steps"][0]["output"]["node"], "localhost");
    assert!(assigned(&events).is_empty(), "{events:?}");
}

#[test]
fn an_unknown_node_from_a_run_input_is_refused_at_plan_time_with_did_you_mean() {
    let Some(sshd) = Sshd::start(2) else { return };
    let (out, events) = apply_workflow(&sshd, "on-input", "closd", "j.jsonl");
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stdout.contains(
            "step `there` runs on node `closd` (read from `inputs.target`): no node `closd` in the inventory"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("did you mean `closed`?"),
        "{}",
        out.stdout
    );
    // Nothing ran.
    assert!(assigned(&events).is_empty(), "{events:?}");
    assert!(shipped(&sshd).is_empty());
}

#[test]
fn a_step_runs_on_the_node_an_earlier_local_step_answered() {
    let Some(sshd) = Sshd::start(2) else { return };
    let (out, events) = apply_workflow(&sshd, "on-output", "n2", "j.jsonl");
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    let report = json_lines(&out.stdout).pop().unwrap();
    assert_eq!(report["status"], "succeeded", "{report:#}");
    // `choose` ran here; `there` on the node it answered.
    assert_eq!(report["steps"][0]["output"]["target"], "n2");
    assert_eq!(report["steps"][1]["output"]["node"], "n2", "{report:#}");
    assert_eq!(assigned(&events), [(2, "n2".to_string())]);
    // The plan cannot know the node: it shows the reference.
    let out = rune([
        "plan",
        "--catalog",
        CATALOG,
        "--workflow",
        "on-output",
        "--input",
        "target=n2",
        "--format",
        "json",
        "--inventory",
    ])
    .arg_path(sshd.inventory())
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let place = &out.json()["actions"][1]["workflow"];
    assert_eq!(place["node_from"], "steps.choose.output.target");
    assert!(place.get("node").is_none(), "{place:#}");
}

#[test]
fn an_unknown_node_from_an_earlier_step_is_a_routing_failure() {
    let Some(sshd) = Sshd::start(2) else { return };
    let (out, events) = apply_workflow(&sshd, "on-output", "n3", "j.jsonl");
    assert_eq!(out.code, 4, "{}", out.snapshot());
    let report = json_lines(&out.stdout).pop().unwrap();
    let step = &report["steps"][1];
    assert_eq!(step["status"], "failed", "{report:#}");
    assert_eq!(step["attempts"], 0);
    let error = step["error"].to_string();
    assert!(error.contains("routing_failure"), "{error}");
    assert!(
        error.contains(
            "`steps.choose.output.target` names node `n3`: no node `n3` in the inventory"
        ),
        "{error}"
    );
    assert!(
        error.contains("rune list-nodes --inventory FILE"),
        "{error}"
    );
    assert!(assigned(&events).is_empty(), "{events:?}");
    assert!(shipped(&sshd).is_empty());
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn validate_refuses_a_node_reference_that_cannot_read_a_string() {
    let out = rune([
        "validate",
        "--catalog",
        "tests/fixtures/remote_invalid/catalog.yaml",
        "--format",
        "json",
    ])
    .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let found: Vec<(String, String)> = out.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or_default().to_string(),
                d["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected = [
        ("reference_type_mismatch", "step `first` in workflow `numbered` runs on the node `inputs.port` names, an integer, but a node is named by a string"),
        ("reference_type_mismatch", "step `second` in workflow `numbered` runs on the node `steps.first.output.hosts` names, an integer, but a node is named by a string"),
        ("invalid_step_reference", "step `third` reads the output of `second` but does not need it"),
        ("reference_type_mismatch", "step `third` in workflow `numbered` runs on the node `steps.second.output.hosts` names, an integer, but a node is named by a string"),
        ("reference_type_mismatch", "step `fourth` in workflow `numbered` runs on the node `steps.first.output` names, an object, but a node is named by a string"),
    ];
    assert_eq!(found.len(), expected.len(), "{}", out.stdout);
    for ((code, message), (want_code, want)) in found.iter().zip(expected) {
        assert!(code.ends_with(want_code), "{code} for {message}");
        assert_eq!(message, want);
    }
}

/// The test sshd's inventory as a catalog file: `nodes:` beside `catalog_version`.
fn nodes_catalog(sshd: &Sshd, extra: &str) -> std::path::PathBuf {
    let inventory = std::fs::read_to_string(sshd.inventory()).unwrap();
    let path = sshd.dir().join("nodes.yaml");
    std::fs::write(
        &path,
        format!("catalog_version: \"1\"\n{inventory}groups:\n  pair: [n1, n2]\n{extra}"),
    )
    .unwrap();
    path
}

#[test]
fn nodes_in_a_catalog_file_are_the_inventory_without_inventory_files() {
    let Some(sshd) = Sshd::start(2) else { return };
    let nodes = nodes_catalog(&sshd, "");
    let run = |args: &[&str]| {
        rune(["run"])
            .args(args)
            .args(["--catalog", CATALOG, "--catalog"])
            .arg_path(&nodes)
            .env("XDG_RUNTIME_DIR", sshd.runtime_dir().to_str().unwrap())
            .deadline(Duration::from_secs(60))
            .run()
    };
    let out = run(&["whoami", "--nodes", "pair", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.snapshot(), sshd.log());
    let mut ran: Vec<String> = json_lines(&out.stdout)
        .iter()
        .map(|d| {
            d["payload"]["output_data"]["node"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ran.sort();
    assert_eq!(ran, ["n1", "n2"]);

    // `validate` accepts the catalog, and `list-nodes` shows its nodes.
    let valid = rune(["validate", CATALOG]).arg_path(&nodes).run();
    assert_eq!(valid.code, 0, "{}", valid.stderr);
    let listed = rune(["list-nodes", "--format", "json", "--catalog"])
        .arg_path(&nodes)
        .run();
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let text = listed.stdout;
    assert!(
        text.contains("\"n1\"") && text.contains("\"pair\""),
        "{text}"
    );

    // A node the catalog and an inventory file both define is refused, located.
    let twice = rune([
        "run",
        "whoami",
        "--node",
        "n1",
        "--catalog",
        CATALOG,
        "--catalog",
    ])
    .arg_path(&nodes)
    .args(["--inventory"])
    .arg_path(sshd.inventory())
    .run();
    assert_eq!(twice.code, 1, "{}", twice.stderr);
    assert!(twice.stderr.contains("n1"), "{}", twice.stderr);
    assert!(twice.stderr.contains("nodes.yaml"), "{}", twice.stderr);
    sshd.assert_node_clean(Duration::from_secs(10));
}

#[test]
fn a_bad_node_in_a_catalog_file_is_a_located_validation_error() {
    let Some(sshd) = Sshd::start(1) else { return };
    let nodes = nodes_catalog(&sshd, "");
    let text = std::fs::read_to_string(&nodes).unwrap().replacen(
        "    host: n1\n",
        "    host: n1\n    prot: 22\n",
        1,
    );
    std::fs::write(&nodes, text).unwrap();
    let out = rune(["validate", CATALOG]).arg_path(&nodes).run();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("prot"), "{}", out.stderr);
    assert!(out.stderr.contains("port"), "did you mean: {}", out.stderr);
    assert!(
        out.stderr.contains("nodes.yaml:"),
        "located: {}",
        out.stderr
    );
}
