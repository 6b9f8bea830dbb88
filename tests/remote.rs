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
