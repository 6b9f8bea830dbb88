//! The OpenSSH transport: the system's `ssh` client, so the operator's
//! ssh_config, agent, keys, jump hosts and known_hosts all hold.
//!
//! Every call is `ssh [-F CONFIG] [-o OPTION]... -o BatchMode=yes -o
//! ControlMaster=auto -o ControlPath=DIR/%C -o ControlPersist=60 [-p PORT] [-l
//! USER] [-i KEY] -T -- HOST sh -c SCRIPT rune-wrap ARGS...`: the remote command is
//! fixed (the wrapper script and rune's own arguments, each single-quoted for the
//! remote login shell); parameters travel only in the JSON request on stdin. The
//! operator's `ssh_options` come before rune's, so theirs win (ssh keeps the
//! first value of an option), except that rune never turns host key checking off
//! and never lets ssh prompt: the inventory refuses those options.
//!
//! On the node, the wrapper ([`WRAP`]) runs the plugin in a process group of its
//! own and kills that group at the timeout, when stdin reaches end of file (rune
//! keeps it open until it has the answer, so end of file means rune or the
//! connection is gone), and when the plugin exits (what it left behind). A
//! shipped plugin is looked for in the node's cache first; when it is missing
//! the wrapper says so without running anything, rune ships the bundle
//! ([`SHIP`]) and runs it again: one connection per run once shipped.
//!
//! ssh's own failures (exit status 255) are told apart by its stderr, which is
//! untrusted: capped and escaped before it is quoted anywhere.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;

use super::bundle::{self, Bundle};
use super::{NodeFailure, Plugin, Transport};
use crate::exec::eps::Kind;
use crate::exec::process::{self, Cancel, Ending, Finished, Spec};
use crate::inventory::NodeDef;

/// The wrapper that runs a plugin on the node.
pub(crate) const WRAP: &str = include_str!("wrap.sh");

/// The script that unpacks a bundle into the node's cache.
pub(crate) const SHIP: &str = include_str!("ship.sh");

/// How long a multiplexing master outlives its last use (seconds).
const CONTROL_PERSIST_S: u32 = 60;

/// Time allowed beyond the plugin's timeout for the connection itself (connect,
/// authenticate, the wrapper's kill sequence).
const CONNECT_ALLOWANCE: Duration = Duration::from_secs(15);

/// How long shipping one bundle may take.
const SHIP_TIMEOUT: Duration = Duration::from_secs(120);

/// At most this much of ssh's stderr is quoted in an error.
const STDERR_QUOTED: usize = 1000;

/// The wrapper's exit status for its own refusals (with a `rune-wrap:` line).
const WRAP_REFUSED: i32 = 125;

/// The wrapper's exit status when the plugin ran past its timeout.
const WRAP_TIMEOUT: i32 = 124;

/// One node reached over ssh.
pub(crate) struct Ssh {
    def: Arc<NodeDef>,
}

impl Ssh {
    /// The transport of `def`.
    pub(crate) fn new(def: Arc<NodeDef>) -> Ssh {
        Ssh { def }
    }

    /// ssh's arguments up to and including the host.
    pub(crate) fn argv(&self) -> Vec<String> {
        let d = &self.def;
        let mut argv = vec!["ssh".to_string()];
        if let Some(config) = &d.ssh_config {
            argv.push("-F".into());
            argv.push(config.to_string_lossy().into_owned());
        }
        for option in &d.ssh_options {
            argv.push("-o".into());
            argv.push(option.clone());
        }
        argv.extend(["-o".into(), "BatchMode=yes".into()]);
        match control_dir() {
            Some(dir) => {
                argv.extend([
                    "-o".into(),
                    "ControlMaster=auto".into(),
                    "-o".into(),
                    format!("ControlPath={}/%C", dir.display()),
                    "-o".into(),
                    format!("ControlPersist={CONTROL_PERSIST_S}"),
                ]);
            }
            // No private directory for the sockets: no multiplexing, rather than
            // sockets another user could reach.
            None => argv.extend([
                "-o".into(),
                "ControlMaster=no".into(),
                "-o".into(),
                "ControlPath=none".into(),
            ]),
        }
        argv.extend([
            "-o".into(),
            "ConnectTimeout=10".into(),
            "-o".into(),
            "ServerAliveInterval=5".into(),
            "-o".into(),
            "ServerAliveCountMax=3".into(),
        ]);
        if let Some(port) = d.port {
            argv.push("-p".into());
            argv.push(port.to_string());
        }
        if let Some(user) = &d.user {
            argv.push("-l".into());
            argv.push(user.clone());
        }
        if let Some(key) = &d.identity_file {
            argv.push("-i".into());
            argv.push(key.to_string_lossy().into_owned());
        }
        argv.push("-T".into());
        argv.push("--".into());
        argv.push(d.host.clone());
        argv
    }

    /// The ssh command line running `script` on the node with `args`.
    fn spec(&self, script: &str, name: &str, args: &[String]) -> Spec {
        let mut argv = self.argv();
        argv.push(remote_command(script, name, args));
        let mut env = crate::exec::environment::compute(&Default::default());
        // The operator's agent and display-less askpass settings: ssh needs them to
        // use their keys; nothing else of rune's environment reaches ssh.
        for name in ["SSH_AUTH_SOCK"] {
            if let Some(value) = std::env::var_os(name) {
                env.push((OsString::from(name), value));
            }
        }
        env.sort();
        Spec {
            argv,
            working_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            env,
            // The ssh client is not the plugin: resource limits are not applied on
            // the node (docs/remote.md).
            limits: Default::default(),
        }
    }

    fn failure(&self, kind: Kind, message: String, finished: Option<&Finished>) -> NodeFailure {
        let mut data = json!({ "node": self.def.name, "host": self.def.host, "transport": "ssh" });
        if let Some(f) = finished {
            data["ssh_exit_code"] = json!(f.code());
            data["ssh_stderr"] = json!(quoted_stderr(&f.stderr_tail));
        }
        NodeFailure {
            kind,
            message,
            data,
        }
    }

    /// Ship `bundle` to the node's cache (a no-op there when it is already).
    fn ship(&self, bundle: &Bundle, cancel: &Cancel) -> Result<(), NodeFailure> {
        let spec = self.spec(SHIP, "rune-ship", std::slice::from_ref(&bundle.digest));
        let finished = process::run_once(
            &spec,
            &bundle.tar,
            SHIP_TIMEOUT,
            process::KILL_GRACE,
            cancel,
            true,
        )
        .map_err(|e| self.failure(Kind::SpawnFailed, format!("cannot start ssh: {e}"), None))?;
        match (finished.ending, finished.code()) {
            (Ending::Exited, Some(0)) => Ok(()),
            (Ending::Exited, Some(255)) => Err(self.ssh_failure(&finished)),
            (Ending::Exited, Some(WRAP_REFUSED)) => Err(self.refusal(&finished, "")),
            _ => Err(self.failure(
                Kind::ConnectionLost,
                format!(
                    "shipping the plugin to node `{}` did not finish",
                    self.def.name
                ),
                Some(&finished),
            )),
        }
    }

    /// ssh itself failed (exit status 255): which failure, from its stderr.
    fn ssh_failure(&self, finished: &Finished) -> NodeFailure {
        let stderr = String::from_utf8_lossy(&finished.stderr_tail);
        let node = &self.def.name;
        let (kind, message) = classify(&stderr);
        self.failure(kind, format!("node `{node}`: {message}"), Some(finished))
    }

    /// The wrapper refused (exit status 125, a `rune-wrap:` line): why.
    fn refusal(&self, finished: &Finished, program: &str) -> NodeFailure {
        let word = wrap_word(&finished.stderr_tail).unwrap_or_default();
        let node = &self.def.name;
        if word.starts_with("cache-unwritable") {
            let mut f = self.failure(
                Kind::NodeCacheUnwritable,
                format!("node `{node}`: cannot write rune's plugin cache there"),
                Some(finished),
            );
            f.data["cache"] = json!(crate::escape::untrusted(
                word.trim_start_matches("cache-unwritable").trim()
            ));
            return f;
        }
        if word == "digest-mismatch" {
            return self.failure(
                Kind::NodeCacheUnwritable,
                format!(
                    "node `{node}`: the shipped plugin did not arrive intact (digest mismatch)"
                ),
                Some(finished),
            );
        }
        let missing = word.strip_prefix("missing ").unwrap_or(program);
        let mut f = self.failure(
            Kind::RemotePluginMissing,
            format!(
                "node `{node}`: the plugin `{}` is not installed there",
                crate::escape::untrusted(missing)
            ),
            Some(finished),
        );
        f.data["program"] = json!(crate::escape::untrusted(missing));
        f
    }
}

impl Transport for Ssh {
    fn name(&self) -> &str {
        &self.def.name
    }

    fn run_plugin(
        &self,
        plugin: &Plugin<'_>,
        input: &[u8],
        timeout: Duration,
        cancel: &Cancel,
    ) -> Result<Finished, NodeFailure> {
        let action = plugin.action;
        let (bundle, program_args): (Option<Arc<Bundle>>, Vec<String>) =
            if action.remote_exec.is_empty() {
                match shippable(plugin.spec) {
                    Some(program) => {
                        let ship: Vec<PathBuf> = action
                            .ship
                            .iter()
                            .map(|s| lexical(&plugin.spec.working_dir.join(s)))
                            .collect();
                        let bundle = cached_bundle(&program, &ship).map_err(|e| {
                            self.failure(
                                Kind::SpawnFailed,
                                format!("cannot ship the plugin of `{}`: {e}", action.name.value),
                                None,
                            )
                        })?;
                        let mut args = vec![bundle.program.clone()];
                        args.extend(plugin.spec.argv.iter().skip(1).cloned());
                        (Some(bundle), args)
                    }
                    // A bare program name: looked up in the node's PATH.
                    None => (None, plugin.spec.argv.clone()),
                }
            } else {
                (None, action.remote_exec.clone())
            };
        let grace = process::KILL_GRACE;
        let mut args = vec![
            seconds(timeout),
            seconds(grace),
            bundle
                .as_ref()
                .map_or_else(|| "-".to_string(), |b| b.digest.clone()),
            if action.leaves_daemon { "1" } else { "0" }.to_string(),
        ];
        args.extend(program_args.iter().cloned());
        let spec = self.spec(WRAP, "rune-wrap", &args);
        let mut shipped = false;
        loop {
            let finished = process::run_once_held(
                &spec,
                input,
                timeout + grace + CONNECT_ALLOWANCE,
                grace,
                cancel,
            )
            .map_err(|e| self.failure(Kind::SpawnFailed, format!("cannot start ssh: {e}"), None))?;
            if finished.ending != Ending::Exited {
                return Ok(finished);
            }
            match finished.code() {
                Some(255) => return Err(self.ssh_failure(&finished)),
                Some(WRAP_TIMEOUT)
                    if wrap_word(&finished.stderr_tail).as_deref() == Some("timeout") =>
                {
                    return Ok(Finished {
                        ending: Ending::TimedOut,
                        ..finished
                    })
                }
                Some(WRAP_REFUSED) => {
                    match (wrap_word(&finished.stderr_tail).as_deref(), &bundle) {
                        (Some("not-shipped"), Some(bundle)) if !shipped => {
                            self.ship(bundle, cancel)?;
                            shipped = true;
                        }
                        (Some(_), _) => {
                            return Err(self.refusal(
                                &finished,
                                program_args.first().map_or("", String::as_str),
                            ))
                        }
                        (None, _) => return Ok(finished),
                    }
                }
                _ => return Ok(finished),
            }
        }
    }
}

/// The program of `spec` when it is a file rune can ship (a path, not a name
/// looked up in PATH).
fn shippable(spec: &Spec) -> Option<PathBuf> {
    let program = spec.argv.first()?;
    program
        .contains('/')
        .then(|| lexical(&spec.working_dir.join(program)))
}

/// `path` with `.` and `..` folded (for the bundle's layout only: the files are
/// read through the folded path, as the plugin's own `..` would reach them).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Bundles built in this process, by their files: built (read, hashed) once.
fn cached_bundle(program: &Path, ship: &[PathBuf]) -> Result<Arc<Bundle>, String> {
    static BUNDLES: OnceLock<Mutex<HashMap<Vec<PathBuf>, Arc<Bundle>>>> = OnceLock::new();
    let key: Vec<PathBuf> = std::iter::once(program.to_path_buf())
        .chain(ship.iter().cloned())
        .collect();
    let cache = BUNDLES.get_or_init(Default::default);
    if let Some(found) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(found.clone());
    }
    // A saved plan pins shipped files as it pins programs.
    for file in std::iter::once(program).chain(ship.iter().map(PathBuf::as_path)) {
        crate::exec::programs::check_file(file).map_err(|e| e.to_string())?;
    }
    let built = Arc::new(bundle::build(program, ship)?);
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, built.clone());
    Ok(built)
}

/// `sh -c 'SCRIPT' NAME 'ARG'...`, quoted for the node's login shell.
fn remote_command(script: &str, name: &str, args: &[String]) -> String {
    let mut command = format!("sh -c {} {}", quote(script), quote(name));
    for arg in args {
        command.push(' ');
        command.push_str(&quote(arg));
    }
    command
}

/// Single-quoted for a POSIX shell: nothing inside is special but `'` itself.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A duration in seconds as `sleep` reads it (`1.500`).
fn seconds(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

/// The word after the last `rune-wrap: ` line of stderr.
fn wrap_word(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("rune-wrap: "))
        .map(|w| w.trim().to_string())
}

/// The end of ssh's stderr, capped. Raw (lossily decoded) like a plugin's stderr: JSON
/// escapes it in documents, src/report/ where people read it.
fn quoted_stderr(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    let start = text.len().saturating_sub(STDERR_QUOTED);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    text[start..].to_string()
}

/// Which failure ssh's stderr describes (exit status 255), and a message.
fn classify(stderr: &str) -> (Kind, &'static str) {
    let has = |needles: &[&str]| needles.iter().any(|n| stderr.contains(n));
    if has(&[
        "REMOTE HOST IDENTIFICATION HAS CHANGED",
        "Host key verification failed",
        "host key for",
        "No matching host key",
    ]) {
        (
            Kind::HostKeyChanged,
            "the host key does not match known_hosts (host key verification failed)",
        )
    } else if has(&[
        "Permission denied",
        "Too many authentication failures",
        "Authentication failed",
    ]) {
        (Kind::NodeAuthFailed, "authentication refused")
    } else if has(&[
        "Connection refused",
        "No route to host",
        "Could not resolve hostname",
        "Network is unreachable",
        "Connection timed out",
        "Name or service not known",
        "Temporary failure in name resolution",
        "Operation timed out",
    ]) {
        (
            Kind::NodeUnreachable,
            "unreachable (the connection could not be made)",
        )
    } else {
        (
            Kind::ConnectionLost,
            "the connection was lost before the plugin answered",
        )
    }
}

/// The per-user directory for multiplexing sockets: `$XDG_RUNTIME_DIR/rune-ssh`,
/// else `/tmp/rune-ssh-UID`; created 0700 and used only when it is a real
/// directory owned by this user and closed to others.
fn control_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let uid = rustix::process::getuid().as_raw();
        let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            Some(run) => PathBuf::from(run).join("rune-ssh"),
            None => PathBuf::from(format!("/tmp/rune-ssh-{uid}")),
        };
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        let usable = meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0;
        if usable {
            // The masters ssh forks outlive the client rune ran, on purpose.
            crate::exec::supervisor::spare_titled(format!("ssh: {}/", dir.display()));
            crate::exec::supervisor::spare_titled(format!("ControlPath={}/%C", dir.display()));
        }
        usable.then_some(dir)
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_command_quotes_every_argument() {
        let cmd = remote_command(
            "echo 'x'",
            "rune-wrap",
            &["a b".into(), "it's".into(), "$(reboot)".into()],
        );
        assert_eq!(
            cmd,
            r#"sh -c 'echo '\''x'\''' 'rune-wrap' 'a b' 'it'\''s' '$(reboot)'"#
        );
    }

    #[test]
    fn ssh_failures_are_told_apart() {
        assert_eq!(
            classify("ssh: connect to host 127.0.0.1 port 1: Connection refused").0,
            Kind::NodeUnreachable
        );
        assert_eq!(
            classify("root@127.0.0.1: Permission denied (publickey).").0,
            Kind::NodeAuthFailed
        );
        assert_eq!(classify("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.").0, Kind::HostKeyChanged);
        assert_eq!(
            classify("Connection to 127.0.0.1 closed by remote host.").0,
            Kind::ConnectionLost
        );
    }

    #[test]
    fn the_wrapper_word_is_its_last_line() {
        assert_eq!(
            wrap_word(b"plugin noise\nrune-wrap: not-shipped\n").as_deref(),
            Some("not-shipped")
        );
        assert_eq!(wrap_word(b"nothing"), None);
    }
}
