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
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;

use super::bundle::{self, Bundle};
use super::{NodeFailure, Plugin, Process, Spawned, Transport};
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
            // The ssh client is not the plugin: the node's wrapper sets the
            // plugin's limits there (`ulimit`, docs/remote.md).
            limits: Default::default(),
        }
    }

    fn failure(&self, kind: Kind, message: String, ended: Option<Ended<'_>>) -> NodeFailure {
        let mut data = json!({ "node": self.def.name, "host": self.def.host, "transport": "ssh" });
        if let Some(e) = ended {
            data["ssh_exit_code"] = json!(e.code);
            data["ssh_stderr"] = json!(quoted_stderr(e.stderr));
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
            (Ending::Exited, Some(255)) => Err(self.ssh_failure(Ended::of(&finished))),
            (Ending::Exited, Some(WRAP_REFUSED)) => Err(self.refusal(Ended::of(&finished), "")),
            _ => Err(self.failure(
                Kind::ConnectionLost,
                format!(
                    "shipping the plugin to node `{}` did not finish",
                    self.def.name
                ),
                Some(Ended::of(&finished)),
            )),
        }
    }

    /// ssh itself failed (exit status 255): which failure, from its stderr.
    fn ssh_failure(&self, ended: Ended<'_>) -> NodeFailure {
        let stderr = String::from_utf8_lossy(ended.stderr);
        let node = &self.def.name;
        let (kind, message) = classify(&stderr);
        self.failure(kind, format!("node `{node}`: {message}"), Some(ended))
    }

    /// The wrapper refused (exit status 125, a `rune-wrap:` line): why.
    fn refusal(&self, ended: Ended<'_>, program: &str) -> NodeFailure {
        let word = wrap_word(ended.stderr).unwrap_or_default();
        let node = &self.def.name;
        if word.starts_with("cache-unwritable") {
            let mut f = self.failure(
                Kind::NodeCacheUnwritable,
                format!("node `{node}`: cannot write rune's plugin cache there"),
                Some(ended),
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
                Some(ended),
            );
        }
        if word == "no-tmp" {
            return self.failure(
                Kind::NodeCacheUnwritable,
                format!(
                    "node `{node}`: cannot make a private temporary directory there (TMPDIR, mkfifo)"
                ),
                Some(ended),
            );
        }
        if let Some(limit) = word.strip_prefix("cannot-limit ") {
            let mut f = self.failure(
                Kind::SpawnFailed,
                format!(
                    "node `{node}`: cannot set the limit {} there (ulimit refused it)",
                    crate::escape::untrusted(limit)
                ),
                Some(ended),
            );
            f.data["limit"] = json!(crate::escape::untrusted(limit));
            return f;
        }
        let missing = word.strip_prefix("missing ").unwrap_or(program);
        let mut f = self.failure(
            Kind::RemotePluginMissing,
            format!(
                "node `{node}`: the program `{}` is not installed there",
                crate::escape::untrusted(missing)
            ),
            Some(ended),
        );
        f.data["program"] = json!(crate::escape::untrusted(missing));
        f
    }
}

impl Ssh {
    /// What runs on the node for `spec` (its `ship` files, absolute, or its
    /// `remote_exec` command line there): the bundle to ship, if any, and the
    /// command line the wrapper runs (relative to the bundle when there is one).
    fn command(
        &self,
        spec: &Spec,
        ship: &[PathBuf],
        remote_exec: &[String],
        what: &str,
    ) -> Result<(Option<Arc<Bundle>>, Vec<String>), NodeFailure> {
        if !remote_exec.is_empty() {
            return Ok((None, remote_exec.to_vec()));
        }
        match shippable(spec) {
            Some(program) => {
                let ship: Vec<PathBuf> = ship.iter().map(|s| lexical(s)).collect();
                let bundle = cached_bundle(&program, &ship).map_err(|e| {
                    self.failure(Kind::SpawnFailed, format!("cannot ship {what}: {e}"), None)
                })?;
                let mut args = vec![bundle.program.clone()];
                args.extend(spec.argv.iter().skip(1).cloned());
                Ok((Some(bundle), args))
            }
            // A bare program name: looked up in the node's PATH.
            None => Ok((None, spec.argv.clone())),
        }
    }

    /// The exit status a process the wrapper ran ended with, as rune reads a
    /// local child's: a CPU limit the wrapper saw stop it is SIGXCPU (a shell
    /// can only pass it on as the exit code 128 + SIGXCPU).
    fn own_status(status: ExitStatus, stderr: &[u8]) -> ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        if wrap_word(stderr).as_deref() == Some("cpu-limit") {
            return ExitStatus::from_raw(nix::sys::signal::Signal::SIGXCPU as i32);
        }
        status
    }
}

/// The wrapper's arguments for `limits`: address space (KiB), CPU time (s) and
/// open files, each `-` when not limited.
fn limit_args(limits: &crate::registry::ResourceLimits) -> [String; 3] {
    let or_dash = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    [
        or_dash(limits.memory_mb.map(|mb| mb.saturating_mul(1024))),
        or_dash(limits.cpu_seconds),
        or_dash(limits.open_files),
    ]
}

/// How a child of rune ended, as the ssh transport reads it.
#[derive(Clone, Copy)]
struct Ended<'a> {
    code: Option<i32>,
    stderr: &'a [u8],
}

impl<'a> Ended<'a> {
    fn of(finished: &'a Finished) -> Ended<'a> {
        Ended {
            code: finished.code(),
            stderr: &finished.stderr_tail,
        }
    }
}

impl Transport for Ssh {
    fn name(&self) -> &str {
        &self.def.name
    }

    fn kind(&self) -> &'static str {
        "ssh"
    }

    fn run_plugin(
        &self,
        plugin: &Plugin<'_>,
        input: &[u8],
        timeout: Duration,
        cancel: &Cancel,
    ) -> Result<Finished, NodeFailure> {
        let action = plugin.action;
        let ship: Vec<PathBuf> = action
            .ship
            .iter()
            .map(|s| plugin.spec.working_dir.join(s))
            .collect();
        let (bundle, program_args) = self.command(
            plugin.spec,
            &ship,
            &action.remote_exec,
            &format!("the plugin of `{}`", action.name.value),
        )?;
        let grace = process::KILL_GRACE;
        let mut args = vec![
            "once".to_string(),
            seconds(timeout),
            seconds(grace),
            bundle
                .as_ref()
                .map_or_else(|| "-".to_string(), |b| b.digest.clone()),
            if action.leaves_daemon { "1" } else { "0" }.to_string(),
        ];
        args.extend(limit_args(&plugin.spec.limits));
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
                Some(255) => return Err(self.ssh_failure(Ended::of(&finished))),
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
                                Ended::of(&finished),
                                program_args.first().map_or("", String::as_str),
                            ))
                        }
                        (None, _) => return Ok(finished),
                    }
                }
                _ => {
                    let status = Ssh::own_status(finished.status, &finished.stderr_tail);
                    return Ok(Finished { status, ..finished });
                }
            }
        }
    }

    fn spawn_process(
        &self,
        process: &Process<'_>,
        cancel: &Cancel,
    ) -> Result<Spawned, NodeFailure> {
        let (bundle, program_args) = self.command(
            process.spec,
            process.ship,
            process.remote_exec,
            "the module's program",
        )?;
        // A long-running process cannot be started again once it was found not
        // shipped (it may have read its input): the bundle goes first, which
        // costs one round trip on the multiplexed connection when it is there.
        if let Some(bundle) = &bundle {
            self.ship(bundle, cancel)?;
        }
        let mut args = vec![
            "serve".to_string(),
            seconds(process.exit_wait),
            seconds(process::KILL_GRACE),
            bundle
                .as_ref()
                .map_or_else(|| "-".to_string(), |b| b.digest.clone()),
            "0".to_string(),
        ];
        args.extend(limit_args(&process.spec.limits));
        args.extend(program_args.iter().cloned());
        let spec = self.spec(WRAP, "rune-wrap", &args);
        let child = crate::exec::supervisor::Child::spawn(&spec, false, process.out_cap)
            .map_err(|e| self.failure(Kind::SpawnFailed, format!("cannot start ssh: {e}"), None))?;
        let node = Ssh::new(self.def.clone());
        let program = program_args.first().cloned().unwrap_or_default();
        Ok(Spawned {
            child,
            verdict: Box::new(move |status, stderr| {
                let ended = Ended {
                    code: status.code(),
                    stderr,
                };
                match status.code() {
                    Some(255) => Err(node.ssh_failure(ended)),
                    Some(WRAP_REFUSED) if wrap_word(stderr).is_some() => {
                        Err(node.refusal(ended, &program))
                    }
                    _ => Ok(Ssh::own_status(status, stderr)),
                }
            }),
        })
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
    fn limits_go_to_the_wrapper_in_its_units() {
        let limits = crate::registry::ResourceLimits {
            memory_mb: Some(64),
            cpu_seconds: None,
            open_files: Some(16),
        };
        assert_eq!(limit_args(&limits), ["65536", "-", "16"]);
        assert_eq!(limit_args(&Default::default()), ["-", "-", "-"]);
    }

    #[test]
    fn the_wrappers_cpu_limit_word_reads_as_sigxcpu() {
        use std::os::unix::process::ExitStatusExt;
        let exited_152 = ExitStatus::from_raw(152 << 8);
        let read = Ssh::own_status(
            exited_152,
            b"CPU time limit exceeded\nrune-wrap: cpu-limit\n",
        );
        assert_eq!(
            read.signal(),
            Some(nix::sys::signal::Signal::SIGXCPU as i32)
        );
        // Without the wrapper's word, an exit status is what the process said.
        assert_eq!(Ssh::own_status(exited_152, b"").code(), Some(152));
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
