//! A real OpenSSH server for the remote-node tests: `sshd -D -e` on 127.0.0.x on a
//! free high port, as the current user, with a throwaway host key, client key,
//! authorized_keys, known_hosts and an ssh_config naming aliases of it, all in a
//! temporary directory. Dropping it kills sshd (and with it every session and
//! multiplexing master connected to it).
//!
//! Each alias `nK` is 127.0.0.K, so each has its own multiplexed connection
//! (ssh's ControlPath `%C` hashes the address). Three more aliases fail on
//! purpose: `closed` (a port nothing listens on), `badkey` (a key the server does
//! not accept) and `changed` (known_hosts holds another host key).

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd and the client files that reach it.
pub(crate) struct Sshd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    /// The port it listens on (on every 127.0.0.K address).
    pub port: u16,
    /// How many `nK` aliases the ssh_config names.
    pub aliases: usize,
}

/// Where sshd is, or why the test cannot run.
fn sshd_binary() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// A TCP port free on 127.0.0.1 now (the kernel's choice; sshd binds it next).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "rune-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

fn public_key(path: &Path) -> String {
    let text = std::fs::read_to_string(path.with_extension("pub")).expect("read a public key");
    // `TYPE BASE64 COMMENT`: known_hosts wants the first two.
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Sshd {
    /// Start sshd with `aliases` node aliases, or None (said loudly) when this
    /// machine has no sshd. CI installs it (`.ci/run`), so there it always runs.
    pub(crate) fn start(aliases: usize) -> Option<Sshd> {
        let Some(binary) = sshd_binary() else {
            eprintln_loud("sshd is not installed (apt-get install openssh-server); the remote-node tests did not run");
            return None;
        };
        // OpenSSH refuses to start without its privilege separation directory,
        // even as an unprivileged user.
        if !Path::new("/run/sshd").is_dir() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let dir = tempfile::Builder::new()
            .prefix("rune-sshd-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        keygen(&d.join("other_key"));
        keygen(&d.join("other_host_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("copy key");
        std::fs::create_dir_all(d.join("remote-cache")).expect("cache dir");
        let user = whoami();
        for _attempt in 0..5 {
            let port = free_port();
            write_configs(d, port, aliases, &user);
            let mut child = Command::new(&binary)
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(d.join("sshd.log")).expect("sshd log"))
                .spawn()
                .expect("start sshd");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Some(Sshd {
                        child: Some(child),
                        dir,
                        port,
                        aliases,
                    });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("sshd did not listen within 10 s:\n{}", {
                        std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!(
            "sshd would not start:\n{}",
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
    }

    /// The temporary directory holding every file.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The ssh_config naming the aliases (`ssh -F`).
    pub(crate) fn ssh_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// The per-user cache directory on the "node" (sshd sets XDG_CACHE_HOME to it).
    pub(crate) fn remote_cache(&self) -> PathBuf {
        self.dir.path().join("remote-cache")
    }

    /// A directory to give rune as XDG_RUNTIME_DIR, so its multiplexing sockets
    /// live (and die) with this server.
    pub(crate) fn runtime_dir(&self) -> PathBuf {
        let path = self.dir.path().join("run");
        std::fs::create_dir_all(&path).expect("runtime dir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        path
    }

    /// A rune inventory file naming `n1..nK` (and the failing aliases), each with
    /// this server's ssh_config, and labels `role=web` on odd, `role=db` on even.
    pub(crate) fn inventory(&self) -> PathBuf {
        let config = self.ssh_config();
        let mut text = String::from("nodes:\n");
        for k in 1..=self.aliases {
            let role = if k % 2 == 1 { "web" } else { "db" };
            text.push_str(&format!(
                "  n{k}:\n    host: n{k}\n    ssh_config: {}\n    labels: {{ role: {role} }}\n",
                config.display()
            ));
        }
        for bad in ["closed", "badkey", "changed"] {
            text.push_str(&format!(
                "  {bad}:\n    host: {bad}\n    ssh_config: {}\n",
                config.display()
            ));
        }
        let path = self.dir.path().join("inventory.yaml");
        std::fs::write(&path, text).expect("write inventory");
        path
    }

    /// The pid of sshd itself (its session children are below it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// sshd's log so far, for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Its sessions are in their own process groups: end what is left of them
        // (they lose their connection anyway).
    }
}

fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let out = Command::new("id").arg("-un").output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "root".to_string())
}

fn write_configs(d: &Path, port: u16, aliases: usize, user: &str) {
    let mut sshd = String::new();
    for k in 1..=aliases.max(1) {
        sshd.push_str(&format!("ListenAddress 127.0.0.{k}:{port}\n"));
    }
    sshd.push_str(&format!(
        "HostKey {host}\n\
         AuthorizedKeysFile {keys}\n\
         PidFile none\n\
         StrictModes no\n\
         UsePAM no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\n\
         MaxStartups 200:30:400\n\
         MaxSessions 200\n\
         LogLevel ERROR\n\
         SetEnv XDG_CACHE_HOME={cache}\n",
        host = d.join("host_key").display(),
        keys = d.join("authorized_keys").display(),
        cache = d.join("remote-cache").display(),
    ));
    std::fs::write(d.join("sshd_config"), sshd).expect("write sshd_config");

    let host_key = public_key(&d.join("host_key"));
    let other_host_key = public_key(&d.join("other_host_key"));
    let mut known = String::new();
    for k in 1..=aliases.max(1) {
        known.push_str(&format!("[127.0.0.{k}]:{port} {host_key}\n"));
    }
    std::fs::write(d.join("known_hosts"), known).expect("write known_hosts");
    std::fs::write(
        d.join("known_hosts_changed"),
        format!("[127.0.0.1]:{port} {other_host_key}\n"),
    )
    .expect("write known_hosts_changed");

    let common = format!(
        "  User {user}\n  IdentitiesOnly yes\n  StrictHostKeyChecking yes\n  \
         ConnectTimeout 5\n  LogLevel ERROR\n"
    );
    let mut config = String::new();
    for k in 1..=aliases {
        config.push_str(&format!(
            "Host n{k}\n  HostName 127.0.0.{k}\n  Port {port}\n  IdentityFile {key}\n  \
             UserKnownHostsFile {known}\n{common}",
            key = d.join("client_key").display(),
            known = d.join("known_hosts").display(),
        ));
    }
    config.push_str(&format!(
        "Host closed\n  HostName 127.0.0.1\n  Port {closed}\n  IdentityFile {key}\n  \
         UserKnownHostsFile {known}\n{common}",
        closed = free_port(),
        key = d.join("client_key").display(),
        known = d.join("known_hosts").display(),
    ));
    config.push_str(&format!(
        "Host badkey\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {key}\n  \
         UserKnownHostsFile {known}\n{common}",
        key = d.join("other_key").display(),
        known = d.join("known_hosts").display(),
    ));
    config.push_str(&format!(
        "Host changed\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {key}\n  \
         UserKnownHostsFile {known}\n{common}",
        key = d.join("client_key").display(),
        known = d.join("known_hosts_changed").display(),
    ));
    std::fs::write(d.join("ssh_config"), config).expect("write ssh_config");
}

/// Said past the harness's capture, so a skipped remote test shows in every run.
#[allow(clippy::disallowed_methods)]
fn eprintln_loud(message: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!! SKIPPED {test}: {message} !!!!!\n"
    );
}

impl Sshd {
    /// The processes running on the "node" for this server's sessions: every one
    /// has sshd's `XDG_CACHE_HOME` for this server in its environment (zombies
    /// run nothing and are left out).
    pub(crate) fn node_processes(&self) -> Vec<(i32, String)> {
        let marker = format!("XDG_CACHE_HOME={}", self.remote_cache().display());
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return found;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if !environ.split(|&b| b == 0).any(|e| e == marker.as_bytes()) {
                continue;
            }
            if !crate::support::alive(pid) {
                continue;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let shown = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((pid, shown.chars().take(160).collect()));
        }
        found
    }

    /// Wait until nothing runs on the node for this server (or fail, listing it).
    pub(crate) fn assert_node_clean(&self, within: Duration) {
        let began = Instant::now();
        loop {
            let left = self.node_processes();
            // sshd's own session processes carry no such variable: what is
            // listed is the wrapper, its watchers and the plugin.
            if left.is_empty() {
                return;
            }
            assert!(
                began.elapsed() < within,
                "processes left on the node after {within:?}: {left:#?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
