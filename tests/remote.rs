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
