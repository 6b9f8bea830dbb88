//! Resource limits: a module's `resource_requirements` applied to the processes
//! rune starts for it (its module process and the plugins of its actions).
//!
//! A limit must be in place before the child's first instruction, or a child
//! could allocate or burn CPU before it is limited. Setting it between fork and
//! exec needs `pre_exec`, which is `unsafe` (and rune forbids unsafe code), and
//! `prlimit` on the child after spawn leaves a window. So a limited child is
//! started through rune itself: `rune __limits SPEC -- PROGRAM ARGS...` sets its
//! own limits with `setrlimit(2)` (safe through rustix) and `exec`s the program,
//! which keeps the pid, process group and pidfd the supervisor already holds.
//! The cost is one more `exec` per limited child; unlimited children start as
//! before.
//!
//! A limit that stopped a process is told from how it ended: SIGXCPU for CPU time
//! (the soft limit; the hard one, a second later, is SIGKILL), and for memory and
//! open files, a failed process whose stderr says an allocation or an open failed
//! (the kernel tells nothing else: a refused allocation or descriptor is an error
//! return the program reports in its own words).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use rustix::process::{Resource, Rlimit};

use crate::registry::ResourceLimits;

/// The hidden first argument that makes `rune` the launcher of a limited child.
pub const LAUNCHER_ARG: &str = "__limits";

/// The exit code of a launcher that could not set a limit or start the program
/// (as a shell's for a command it cannot run).
const CANNOT_RUN: i32 = 127;

/// SIGXCPU: the CPU time soft limit passed.
const SIGXCPU: i32 = nix::sys::signal::Signal::SIGXCPU as i32;

/// The argument vector that starts `argv` under `limits` through the launcher:
/// None when nothing is limited (the child starts directly), or when rune's own
/// executable cannot be found.
pub(crate) fn launcher_argv(limits: &ResourceLimits, argv: &[String]) -> Option<Vec<OsString>> {
    if limits.is_empty() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    let mut out = vec![
        exe.into_os_string(),
        LAUNCHER_ARG.into(),
        encode(limits).into(),
        "--".into(),
    ];
    out.extend(argv.iter().map(OsString::from));
    Some(out)
}

/// Whether `program` can be found as the launcher will look for it (a path, or a
/// name on the `PATH` of `env`), so a missing program fails to start in rune as
/// it does without limits (`spawn_failed`) instead of in the launcher.
pub(crate) fn startable(
    program: &str,
    env: &super::environment::Environment,
) -> std::io::Result<()> {
    use super::environment::{executable, find_in_path};
    let found = if program.contains('/') {
        executable(std::path::Path::new(program))
    } else {
        env.iter()
            .find(|(k, _)| k == "PATH")
            .is_some_and(|(_, path)| find_in_path(program, path).is_some())
    };
    if found {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{program}: no such executable"),
        ))
    }
}

/// `as=BYTES,cpu=SECONDS,nofile=N`, the limits the launcher reads back.
fn encode(limits: &ResourceLimits) -> String {
    let mut parts = Vec::new();
    if let Some(mb) = limits.memory_mb {
        parts.push(format!("as={}", mb.saturating_mul(1 << 20)));
    }
    if let Some(s) = limits.cpu_seconds {
        parts.push(format!("cpu={s}"));
    }
    if let Some(n) = limits.open_files {
        parts.push(format!("nofile={n}"));
    }
    parts.join(",")
}

/// Run as the launcher when `args` ask for it (`rune __limits SPEC -- PROGRAM...`):
/// set the limits and exec the program. Returns only when it could not: the exit
/// code to end with. None when `args` are not a launcher's.
pub fn launch_if_asked(args: &[OsString]) -> Option<i32> {
    if args.get(1).map(OsString::as_os_str) != Some(LAUNCHER_ARG.as_ref()) {
        return None;
    }
    let fail = |what: String| {
        // The child's stderr is the supervisor's pipe: the reason lands in the
        // step's stderr tail.
        crate::report::Printer::new().err(&format!("rune: {what}\n"));
        Some(CANNOT_RUN)
    };
    let (Some(spec), Some(sep), Some(program)) = (args.get(2), args.get(3), args.get(4)) else {
        return fail("the launcher needs SPEC -- PROGRAM".into());
    };
    if sep != "--" {
        return fail("the launcher needs SPEC -- PROGRAM".into());
    }
    for part in spec.to_string_lossy().split(',').filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return fail(format!("bad limit `{part}`"));
        };
        let Ok(value) = value.parse::<u64>() else {
            return fail(format!("bad limit `{part}`"));
        };
        let (resource, soft, hard) = match name {
            "as" => (Resource::As, value, value),
            // The soft limit sends SIGXCPU (told apart as the CPU limit); the hard
            // one, a second later, kills a process that ignores it.
            "cpu" => {
                // SIGXCPU dumps core by default: a process rune's limit stopped
                // must not leave a core file in its working directory (the
                // catalog's).
                let core = rustix::process::getrlimit(Resource::Core);
                let no_core = Rlimit {
                    current: Some(0),
                    maximum: core.maximum,
                };
                if let Err(e) = rustix::process::setrlimit(Resource::Core, no_core) {
                    return fail(format!("cannot set the limit core=0: {e}"));
                }
                (Resource::Cpu, value, value.saturating_add(1))
            }
            "nofile" => (Resource::Nofile, value, value),
            _ => return fail(format!("bad limit `{part}`")),
        };
        if let Err(e) = set(resource, soft, hard) {
            return fail(format!("cannot set the limit {part}: {e}"));
        }
    }
    let err = std::process::Command::new(program).args(&args[5..]).exec();
    fail(format!("cannot start {}: {err}", program.to_string_lossy()))
}

/// Lower `resource` to `soft`/`hard`, never above the hard limit rune already has
/// (an unprivileged process cannot raise it).
fn set(resource: Resource, soft: u64, hard: u64) -> rustix::io::Result<()> {
    let current = rustix::process::getrlimit(resource);
    let cap = |v: u64| current.maximum.map_or(v, |m| v.min(m));
    rustix::process::setrlimit(
        resource,
        Rlimit {
            current: Some(cap(soft)),
            maximum: Some(cap(hard)),
        },
    )
}

/// Which declared limit stopped a process that ended with `code`/`signal` and
/// wrote `stderr`, and how to say it: `(limit name, sentence)`.
pub(crate) fn limit_hit(
    limits: &ResourceLimits,
    code: Option<i32>,
    signal: Option<i32>,
    stderr: &[u8],
) -> Option<(&'static str, String)> {
    if let (Some(seconds), Some(SIGXCPU)) = (limits.cpu_seconds, signal) {
        return Some((
            "max_cpu_seconds",
            format!("its CPU time limit of {seconds} s (max_cpu_seconds, RLIMIT_CPU)"),
        ));
    }
    if code == Some(0) {
        return None;
    }
    let text = String::from_utf8_lossy(stderr).to_ascii_lowercase();
    if let Some(mb) = limits.memory_mb {
        const SAID: [&str; 6] = [
            "cannot allocate",
            "out of memory",
            "memoryerror",
            "bad_alloc",
            "memory allocation of",
            "memory exhausted",
        ];
        if SAID.iter().any(|s| text.contains(s)) {
            return Some((
                "max_memory_mb",
                format!("its memory limit of {mb} MiB (max_memory_mb, RLIMIT_AS)"),
            ));
        }
    }
    if let Some(n) = limits.open_files {
        if text.contains("too many open files") {
            return Some((
                "max_open_files",
                format!("its open files limit of {n} (max_open_files, RLIMIT_NOFILE)"),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_limited_starts_directly() {
        assert!(launcher_argv(&ResourceLimits::default(), &["x".into()]).is_none());
    }

    #[test]
    fn the_launcher_spec_names_each_limit() {
        let limits = ResourceLimits {
            memory_mb: Some(64),
            cpu_seconds: Some(2),
            open_files: Some(32),
        };
        assert_eq!(encode(&limits), "as=67108864,cpu=2,nofile=32");
    }

    #[test]
    fn a_limit_is_named_only_when_declared_and_evident() {
        let cpu = ResourceLimits {
            cpu_seconds: Some(1),
            ..ResourceLimits::default()
        };
        assert_eq!(
            limit_hit(&cpu, None, Some(SIGXCPU), b"").unwrap().0,
            "max_cpu_seconds"
        );
        assert!(limit_hit(&ResourceLimits::default(), None, Some(SIGXCPU), b"").is_none());
        let mem = ResourceLimits {
            memory_mb: Some(64),
            ..ResourceLimits::default()
        };
        let said = b"bash: xrealloc: cannot allocate 62562304 bytes";
        assert_eq!(
            limit_hit(&mem, Some(2), None, said).unwrap().0,
            "max_memory_mb"
        );
        assert!(limit_hit(&mem, Some(0), None, said).is_none());
        assert!(limit_hit(&mem, Some(2), None, b"disk full").is_none());
    }
}
