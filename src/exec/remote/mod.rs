//! Where a plugin runs: a [`Transport`] per node. `localhost` is this machine
//! ([`Local`], a child process of rune); every other node comes from the
//! inventory and is reached through the system's OpenSSH client ([`ssh::Ssh`]).
//!
//! A transport only moves the request and the answer: mediation above it
//! validates, parses, retries and turns failures into EPS envelopes alike for
//! every node. What a transport adds is its own failures ([`NodeFailure`]: the
//! node unreachable, authentication refused, a changed host key, a dropped
//! connection, a plugin missing on the node, a cache it cannot write), each with
//! its own EPS kind.
//!
//! Another transport (AWS SSM, a scheduler's agent) is another implementation of
//! [`Transport`] chosen by the inventory; nothing above this module changes.
//!
//! The inventory of the run is installed once per command ([`install`]), before
//! anything runs: mediation, workflows and the lifecycle already carry a node's
//! name everywhere, so a name is all they need to reach it.

pub(crate) mod bundle;
pub(crate) mod ssh;

use std::process::ExitStatus;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::eps::Kind;
use super::process::{self, Cancel, Finished, Spec};
use super::supervisor;
use crate::inventory::{Inventory, LOCAL_NAMES};

/// One plugin to run on a node.
pub(crate) struct Plugin<'a> {
    /// Its command line on this machine, resolved against its catalog file.
    pub spec: &'a Spec,
    /// The action (its `ship:`, `remote_exec:` and `leaves_daemon`).
    pub action: &'a crate::registry::Action,
}

/// Why a node could not run a plugin: becomes one EPS envelope.
#[derive(Debug, Clone)]
pub(crate) struct NodeFailure {
    /// The EPS kind.
    pub kind: Kind,
    /// What happened, for people.
    pub message: String,
    /// Facts for the envelope's details (an object).
    pub data: Json,
}

/// One long-running process to start on a node (a module process).
pub(crate) struct Process<'a> {
    /// Its command line on this machine, resolved against its catalog file, and
    /// the limits it runs under.
    pub spec: &'a Spec,
    /// Files shipped with it (`lifecycle.ship`), absolute.
    pub ship: &'a [std::path::PathBuf],
    /// Its command line on the node where it is installed (`lifecycle.remote_exec`):
    /// then nothing is shipped.
    pub remote_exec: &'a [String],
    /// How long it may take to exit by itself once its stdin is closed, before
    /// its group is ended (its shutdown timeout).
    pub exit_wait: Duration,
    /// stdout held unread at most (the supervisor's `out_cap`).
    pub out_cap: usize,
}

/// What the end of a process started by [`Transport::spawn_process`] means:
/// the process's own exit status (as the node reports it), or a failure of the
/// node or the connection (ssh's own exit, the wrapper's refusal). Given the
/// exit status of the local child and its stderr.
pub(crate) type Verdict =
    Box<dyn Fn(ExitStatus, &[u8]) -> Result<ExitStatus, NodeFailure> + Send + Sync>;

/// A process started on a node: the local child rune supervises (the process
/// itself, or the connection that carries its stdin and stdout) and how to read
/// its end.
pub(crate) struct Spawned {
    /// The supervised child.
    pub child: supervisor::Child,
    /// How its end is read.
    pub verdict: Verdict,
}

/// A way to run plugins and module processes on one node.
pub(crate) trait Transport: Send + Sync {
    /// The node's name (what plugins see as `context.node`).
    fn name(&self) -> &str;
    /// Run `plugin` there to completion: `input` on its stdin, killed at `timeout`
    /// or when `cancel` is set, nothing left running.
    fn run_plugin(
        &self,
        plugin: &Plugin<'_>,
        input: &[u8],
        timeout: Duration,
        cancel: &Cancel,
    ) -> Result<Finished, NodeFailure>;
    /// Start `process` there with its stdin and stdout connected to rune (a
    /// module speaks the SPI over them); it runs until its stdin is closed or it
    /// is killed, and nothing of it outlives that on the node. `cancel` gives up
    /// what starting it takes (shipping).
    fn spawn_process(&self, process: &Process<'_>, cancel: &Cancel)
        -> Result<Spawned, NodeFailure>;
    /// How it is reached, as the journal names it (`local`, `ssh`).
    fn kind(&self) -> &'static str;
}

/// This machine, as a child process of rune.
pub(crate) struct Local;

impl Transport for Local {
    fn name(&self) -> &str {
        "localhost"
    }

    fn run_plugin(
        &self,
        plugin: &Plugin<'_>,
        input: &[u8],
        timeout: Duration,
        cancel: &Cancel,
    ) -> Result<Finished, NodeFailure> {
        process::run_once(
            plugin.spec,
            input,
            timeout,
            process::KILL_GRACE,
            cancel,
            plugin.action.leaves_daemon,
        )
        .map_err(|e| NodeFailure {
            kind: Kind::SpawnFailed,
            message: format!(
                "cannot start the plugin of `{}`: {e}",
                plugin.action.name.value
            ),
            data: json!({
                "program": plugin.spec.argv.first().cloned().unwrap_or_default(),
                "working_dir": plugin.spec.working_dir.to_string_lossy(),
            }),
        })
    }

    fn spawn_process(
        &self,
        process: &Process<'_>,
        _cancel: &Cancel,
    ) -> Result<Spawned, NodeFailure> {
        let spec = process.spec;
        match supervisor::Child::spawn(spec, false, process.out_cap) {
            Ok(child) => Ok(Spawned {
                child,
                verdict: Box::new(|status, _| Ok(status)),
            }),
            Err(e) => Err(NodeFailure {
                kind: Kind::SpawnFailed,
                message: format!(
                    "cannot start `{}`: {e}",
                    crate::escape::untrusted(spec.argv.first().map_or("", String::as_str))
                ),
                data: json!({
                    "argv": spec.argv,
                    "working_dir": spec.working_dir.to_string_lossy(),
                }),
            }),
        }
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}

/// The inventory of this command, installed before anything runs.
static INVENTORY: OnceLock<Inventory> = OnceLock::new();

/// Install the inventory this command reaches nodes through (once; later calls
/// are ignored: one command, one inventory).
pub(crate) fn install(inventory: Inventory) {
    let _ = INVENTORY.set(inventory);
}

/// The installed inventory's digest when a step or a module of `doc` runs on
/// another node (what a saved plan records, to be stale when the inventory
/// changes).
pub(crate) fn inventory_sha256(doc: &crate::plan::document::PlanDocument) -> Option<String> {
    let remote = doc.all_actions().any(|a| {
        a.workflow
            .as_ref()
            .is_some_and(|w| w.node.is_some() || w.node_from.is_some() || w.fanout.is_some())
    }) || doc.startup_modules().any(|m| m.node.is_some());
    remote.then(|| {
        INVENTORY
            .get()
            .map(|i| i.digest.clone())
            .unwrap_or_default()
    })
}

/// Whether `name` means this machine.
pub(crate) fn is_local(name: &str) -> bool {
    LOCAL_NAMES.contains(&name)
}

/// Whether node `name` can be reached: this machine, or a node of the installed
/// inventory; else the diagnostic (with the closest name the inventory has).
pub(crate) fn check_node(name: &str) -> Result<(), crate::diagnostic::Diagnostic> {
    if is_local(name) {
        return Ok(());
    }
    let empty = Inventory::default();
    let inventory = INVENTORY.get().unwrap_or(&empty);
    inventory.node(name).map(|_| ())
}

/// The names of the nodes `selector` names in the installed inventory, sorted;
/// problems are said of `subject` (a workflow step's `nodes`).
pub(crate) fn select(
    selector: &str,
    subject: &str,
) -> Result<Vec<String>, crate::diagnostic::Diagnostic> {
    let empty = Inventory::default();
    let inventory = INVENTORY.get().unwrap_or(&empty);
    let found = inventory.select_as(selector, subject)?;
    Ok(found.iter().map(|n| n.name.clone()).collect())
}

/// The transport of node `name`.
pub(crate) fn transport(name: &str) -> Result<Arc<dyn Transport>, NodeFailure> {
    if is_local(name) {
        return Ok(Arc::new(Local));
    }
    let found = INVENTORY.get().and_then(|i| i.nodes.get(name));
    match found {
        Some(def) => Ok(Arc::new(ssh::Ssh::new(def.clone()))),
        None => Err(NodeFailure {
            kind: Kind::SpawnFailed,
            message: format!(
                "no node `{}` in the inventory",
                crate::escape::untrusted(name)
            ),
            data: json!({ "node": name }),
        }),
    }
}
