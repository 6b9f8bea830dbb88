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

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::eps::Kind;
use super::process::{self, Cancel, Finished, Spec};
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

/// A way to run plugins on one node.
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
}

/// The inventory of this command, installed before anything runs.
static INVENTORY: OnceLock<Inventory> = OnceLock::new();

/// Install the inventory this command reaches nodes through (once; later calls
/// are ignored: one command, one inventory).
pub(crate) fn install(inventory: Inventory) {
    let _ = INVENTORY.set(inventory);
}

/// The installed inventory's digest when a step of `doc` runs on another node
/// (what a saved plan records, to be stale when the inventory changes).
pub(crate) fn inventory_sha256(doc: &crate::plan::document::PlanDocument) -> Option<String> {
    let remote = doc.all_actions().any(|a| {
        a.workflow
            .as_ref()
            .is_some_and(|w| w.node.is_some() || w.node_from.is_some() || w.fanout.is_some())
    });
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
