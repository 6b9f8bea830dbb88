//! The plan document: the typed contract between `rune plan` and `rune apply`.
//!
//! [`PlanDocument`] is built once from a computed [`Plan`]; every renderer reads it
//! (the human view and the JSON that `--format json` prints and `--out` saves), and
//! `rune apply` deserializes it. It names modules and actions, never registry
//! indices; step ids are assigned here and nowhere else; every path in it is
//! relative to `inputs.catalog_root`. `schemas/plan.schema.json` is generated from
//! these types (a test keeps the file equal to [`schema`]).

use foldhash::{HashMap, HashMapExt};
use std::collections::BTreeMap;
use std::io;

use crate::digest::sha256_hex;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::root::{self, CatalogRoot};
use super::{Clock, Phase, Plan, SHUTDOWN_PHASES, STARTUP_PHASES};
use crate::policy::{Rule, SettingSource};
use crate::registry::{Category, Impact, Module, Registry, Runtime, StepIf};
use crate::source::SourceMap;

/// The plan document's format version.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// A lifecycle and action plan as printed by `rune plan --format json` and saved by
/// `rune plan --out FILE`. Steps are numbered in execution order: startup (wave by
/// wave), then actions, then shutdown (the exact reverse of startup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "rune plan")]
pub struct PlanDocument {
    /// Version of this document format; changes only when a field changes meaning
    /// or is removed.
    #[schemars(extend("const" = 1))]
    #[serde(deserialize_with = "known_format_version")]
    pub format_version: u32,
    /// The instant policy was evaluated at (RFC 3339, UTC).
    pub evaluated_at: Timestamp,
    /// Where the instant came from.
    pub clock: Clock,
    /// What the operator asked for.
    pub request: RequestRecord,
    /// Digests of everything the plan depends on, so `rune apply` can refuse a plan
    /// whose catalog or policy inputs changed.
    pub inputs: Inputs,
    /// Startup waves; modules in one wave do not depend on each other and may start
    /// in parallel. Each module goes through register, initialize, ready.
    #[serde(serialize_with = "crate::pretty_json::par_seq")]
    pub startup: Vec<StartupWave>,
    /// Action steps, run after startup.
    #[serde(serialize_with = "crate::pretty_json::par_seq")]
    pub actions: Vec<ActionStep>,
    /// Shutdown waves: the exact reverse of startup. Each module goes through
    /// drain, shutdown.
    #[serde(serialize_with = "crate::pretty_json::par_seq")]
    pub shutdown: Vec<ShutdownWave>,
    /// The chain of modules that sets the worst-case startup time.
    pub critical_path: CriticalPath,
    /// Counts.
    pub summary: Summary,
    /// For `--workflow`: the workflow, its checked inputs and its step waves. The
    /// steps themselves are `actions`, in wave order, each with its `workflow`
    /// record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowRecord>,
}

/// The workflow a plan runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRecord {
    /// The workflow's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// What it does, from the catalog.
    pub description: String,
    /// The catalog file that declares it, relative to `catalog_root`.
    pub declared_in: String,
    /// The run inputs (`--input`, `--inputs-file`), checked against the workflow's
    /// input schema; keys sorted.
    pub inputs: Map<String, Json>,
    /// The step DAG in waves: a step's wave is one more than the latest wave of
    /// the steps it needs.
    pub waves: Vec<StepWave>,
}

/// One wave of workflow steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepWave {
    /// 1-based wave number.
    #[schemars(range(min = 1))]
    pub wave: u64,
    /// Step ids of the wave, in declaration order.
    #[schemars(length(min = 1))]
    pub steps: Vec<String>,
}

/// Where an action step sits in its workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowStep {
    /// The step id from the catalog.
    #[schemars(length(min = 1))]
    pub step: String,
    /// The step's wave.
    #[schemars(range(min = 1))]
    pub wave: u64,
    /// Step ids that must finish first, as declared.
    pub needs: Vec<String>,
    /// Which outcomes of the needed steps let this step run.
    #[serde(rename = "if")]
    pub condition: StepIf,
    /// The value condition, if any.
    pub when: Option<When>,
    /// Whether a failure of this step lets the workflow go on.
    pub continue_on_error: bool,
    /// The node the step runs on (an inventory node, over OpenSSH); left out
    /// for this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The reference the node is read from (`node: { $from: ... }` in the
    /// catalog); `node` holds its value when a run input gave it, and a step's
    /// output or parameters fill it when the step starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_from: Option<String>,
    /// Fan-out (`nodes:` in the catalog): the step runs once on each of these
    /// nodes, each run a step of its own (its own id); left out otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<FanOut>,
    /// The action that undoes this step, if the catalog declares one: a step of
    /// its own (numbered after every workflow step) whose `references` may read
    /// this step's parameters and output.
    pub compensate: Option<Box<ActionStep>>,
}

/// The nodes a fan-out step runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FanOut {
    /// The selector: `all`, a group, a node, or `label=value`.
    #[schemars(length(min = 1))]
    pub selector: String,
    /// The run input the selector was read from (`inputs.NAME`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector_from: Option<String>,
    /// At most this many nodes run at once.
    #[schemars(range(min = 1))]
    pub forks: u64,
    /// Each node the selector named when the plan was made, by name, with the
    /// step id of its run (the first is the step's own id) and of its
    /// compensation's run.
    #[schemars(length(min = 1))]
    pub nodes: Vec<FanOutNode>,
}

/// One node of a fan-out step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FanOutNode {
    /// The node's inventory name.
    #[schemars(length(min = 1))]
    pub node: String,
    /// The step id of the run on this node.
    pub step: u64,
    /// The step id of the compensation's run on this node, when the step has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensate: Option<u64>,
}

/// A step's value condition: run only when the referenced value compares as
/// stated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// `inputs.NAME`, `steps.ID.params.NAME` or `steps.ID.output.FIELD[.FIELD...]`.
    pub from: String,
    /// How the referenced value is compared.
    pub test: WhenTest,
    /// The value compared with.
    pub value: Json,
}

/// How a `when` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WhenTest {
    /// Run when the referenced value equals `value`.
    Equals,
    /// Run when it differs.
    NotEquals,
}

/// A parameter filled in at run time from an earlier step.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// JSON pointer (RFC 6901) into `params`, where the value goes; `params`
    /// holds `null` there until then.
    pub pointer: String,
    /// `steps.ID.params.NAME` or `steps.ID.output.FIELD[.FIELD...]`.
    pub from: String,
}

/// A plan of another format version may mean something else field by field: it is
/// refused when read, not half understood.
fn known_format_version<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<u32, D::Error> {
    let version = u32::deserialize(deserializer)?;
    if version == FORMAT_VERSION {
        Ok(version)
    } else {
        Err(serde::de::Error::custom(format!(
            "plan format_version {version} is not {FORMAT_VERSION}, the version this rune reads"
        )))
    }
}

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestRecord {
    /// `--target` modules, sorted; empty means every module.
    pub targets: Vec<String>,
    /// `--action`, if any.
    pub action: Option<String>,
    /// `--ack` break-glass acknowledgments, as given.
    pub acks: Vec<String>,
    /// `--reason`, if any.
    pub reason: Option<String>,
    /// `--workflow`, if any (its inputs are in the plan's `workflow` record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
}

/// Digests of the catalog files and the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The directory every path in this document is relative to (`/`-separated):
    /// for a plan saved with `--out`, as seen from the directory of the plan file;
    /// printed to stdout, as seen from the working directory. Absolute only when a
    /// catalog path was given as an absolute path.
    pub catalog_root: String,
    /// sha256 of `files` as compact JSON (`[{"file":…,"sha256":…},…]`, in order): the
    /// same for the same catalogs however their path was spelled.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub catalog_sha256: String,
    /// sha256 of the canonical JSON (sorted keys, no spaces) of
    /// {acks, action, at, params, reason, targets}, and for a workflow plan also
    /// its `inputs` and `workflow` name (params then null).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub policy_inputs_sha256: String,
    /// Every catalog file read, sorted by path.
    pub files: Vec<FileDigest>,
    /// Every program file the plan runs (a module or plugin `exec` program given
    /// as a path, or for a program named without a path the script its first
    /// argument names inside the catalog root), sorted by path, relative to
    /// `catalog_root`. `rune apply` refuses the plan when one changed, and checks
    /// each again just before it starts. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub programs: Vec<FileDigest>,
    /// sha256 of the inventory files (`--inventory`) when a step runs on another
    /// node: the plan is stale when they change (left out otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_sha256: Option<String>,
}

/// One catalog file and the sha256 of its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// Path relative to `catalog_root`, `/`-separated.
    pub file: String,
    /// sha256 of the file's text (UTF-8, without a byte order mark).
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

/// One startup wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartupWave {
    /// 1-based wave number.
    #[schemars(range(min = 1))]
    pub wave: u64,
    /// Modules of the wave, sorted by name.
    #[schemars(length(min = 1))]
    pub modules: Vec<StartupModule>,
}

/// A module to start and what starting it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartupModule {
    /// The module's name.
    #[schemars(length(min = 1))]
    pub module: String,
    /// The module's version, if the catalog declares one.
    pub version: Option<String>,
    /// How the module runs.
    pub runtime: Runtime,
    /// The resolved command line of a process module (null for builtin and none).
    pub command: Option<Command>,
    /// The node its process runs on (`lifecycle.node`, an inventory node); left
    /// out for this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// How that node is reached (`ssh`); left out for this machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// The catalog file that declares the module, relative to `catalog_root`.
    pub declared_in: String,
    /// The modules of this plan it depends on, so starts after (sorted; left out
    /// when none): the edges that set its wave, recorded so that a change of
    /// startup order can be told from its consequences (`rune diff`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// register, initialize, ready.
    pub steps: Vec<PhaseStep>,
}

/// A command line rune will run, resolved as DESIGN says: a relative program path
/// with a `/` resolves against the directory of the catalog file that declares
/// it; a bare name is looked up on `PATH` when it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Program and arguments; a relative program path is relative to
    /// `catalog_root`. Never run through a shell.
    #[schemars(length(min = 1))]
    pub argv: Vec<String>,
    /// The directory the command runs in: the declaring catalog file's directory,
    /// relative to `catalog_root` (`.` for the root itself).
    pub working_dir: String,
    /// Its environment beyond the allowlist, as the catalog's `env` declares it
    /// (left out when it declares none).
    #[serde(default, skip_serializing_if = "CommandEnv::is_empty")]
    pub env: CommandEnv,
    /// Files shipped with the plugin to a node over ssh (the action's `ship:`),
    /// relative to `catalog_root`; bound by digest like the program (left out
    /// when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ship: Vec<String>,
}

/// What a command's environment holds beyond the allowlist (PATH, HOME, USER,
/// LANG, LC_*, TZ, TMPDIR): the catalog's `env`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandEnv {
    /// Names passed through from rune's environment when set there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass: Vec<String>,
    /// Literal values by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
}

impl CommandEnv {
    /// Whether it declares nothing.
    pub fn is_empty(&self) -> bool {
        self.pass.is_empty() && self.set.is_empty()
    }

    /// The declaration the executor computes a child's environment from.
    pub fn decl(&self) -> crate::exec::environment::EnvDecl {
        crate::exec::environment::EnvDecl {
            pass: self.pass.clone(),
            set: self
                .set
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

impl From<&crate::exec::environment::EnvDecl> for CommandEnv {
    fn from(decl: &crate::exec::environment::EnvDecl) -> Self {
        CommandEnv {
            pass: decl.pass.clone(),
            set: decl.set.iter().cloned().collect(),
        }
    }
}

/// One lifecycle phase of one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseStep {
    /// Step number, 1-based, unique in the plan, in execution order.
    #[schemars(range(min = 1))]
    pub id: u64,
    /// The phase.
    pub phase: Phase,
    /// null for register, which has no timeout of its own, and for every phase of a
    /// module with nothing to run (runtime none).
    pub timeout_ms: Option<u64>,
    /// Where the timeout came from; null when there is none.
    pub timeout_source: Option<TimeoutSource>,
}

/// Where a phase timeout came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutSource {
    /// The module's `lifecycle.timeouts`.
    Lifecycle,
    /// rune's default for the phase.
    Default,
}

/// One action request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionStep {
    /// Step number, 1-based, unique in the plan, in execution order.
    #[schemars(range(min = 1))]
    pub id: u64,
    /// The action's name.
    #[schemars(length(min = 1))]
    pub action: String,
    /// The providing module.
    #[schemars(length(min = 1))]
    pub module: String,
    /// What the action does, from the catalog.
    pub description: String,
    /// Whether the action changes things or only looks.
    pub category: Category,
    /// How much the action can break.
    pub impact: Impact,
    /// The plugin's resolved command line (null when the catalog declares no exec).
    pub command: Option<Command>,
    /// The catalog file that declares the action, relative to `catalog_root`.
    pub declared_in: String,
    /// The `ready` step of the providing module: the action runs after it. For a
    /// module with nothing to run (no steps of its own), the last startup step
    /// before it, or 0 when none precedes it.
    pub after_step: u64,
    /// Parameters, validated against the action's input_schema; keys sorted.
    pub params: Map<String, Json>,
    /// The timeout in force and where it came from.
    pub timeout_ms: Setting<u64>,
    /// The retry policy in force.
    pub retries: RetriesSetting,
    /// The policy decision.
    pub decision: Decision,
    /// The break-glass acknowledgment (`--ack`, `--reason`) given for this action.
    pub acknowledgment: Option<Acknowledgment>,
    /// Parameters still to be filled when the step runs, sorted by pointer
    /// (workflow steps only: run inputs are filled in by the plan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// For a workflow plan: the step's place in the workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowStep>,
}

/// A resolved setting and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setting<T> {
    /// The value in force.
    pub value: T,
    /// Where it came from.
    pub source: SettingSource,
}

/// Retries in force for an action step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetriesSetting {
    /// Attempts in all, including the first.
    pub max_attempts: u64,
    /// Wait between attempts.
    pub backoff_ms: u64,
    /// Which failures are retried (`retryable`, `timeout`, `any`).
    pub on: Vec<String>,
    /// Where the retry policy came from.
    pub source: SettingSource,
}

/// The policy decision: the first rule that denies, else the change window the
/// action is inside, else the last rule that allowed it (break_glass,
/// maintenance_mode), else `default_allow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Whether the action may run.
    pub allowed: bool,
    /// The deciding rule.
    pub rule: Rule,
    /// Why.
    pub reason: String,
    /// Every rule that applied, in evaluation order.
    pub checks: Vec<Check>,
}

/// One rule's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The rule.
    pub rule: Rule,
    /// Whether the rule lets the action run.
    pub allowed: bool,
    /// Why, in one sentence.
    pub reason: String,
}

/// A recorded `--ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgment {
    /// The acknowledged action.
    pub action: String,
    /// `--reason`, when given.
    pub reason: Option<String>,
}

/// One shutdown wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownWave {
    /// 1-based wave number.
    #[schemars(range(min = 1))]
    pub wave: u64,
    /// Modules of the wave, in reverse startup order.
    #[schemars(length(min = 1))]
    pub modules: Vec<ShutdownModule>,
}

/// A module to stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownModule {
    /// The module's name (its command and file are in its startup entry).
    #[schemars(length(min = 1))]
    pub module: String,
    /// drain, shutdown.
    pub steps: Vec<PhaseStep>,
}

/// The longest startup chain: initialize_ms + ready_ms per module (defaults 5000 +
/// 10000; 0 for a module with nothing to run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CriticalPath {
    /// Worst-case time until every module is ready.
    pub total_ms: u128,
    /// The chain in startup order.
    pub modules: Vec<CriticalLink>,
}

/// One module on the critical path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CriticalLink {
    /// The module's name.
    #[schemars(length(min = 1))]
    pub module: String,
    /// The initialize timeout counted.
    pub initialize_ms: u64,
    /// The ready timeout counted.
    pub ready_ms: u64,
    /// Latest time the module is ready, from the start of the plan.
    pub finishes_at_ms: u128,
}

/// Counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Modules started.
    pub modules: u64,
    /// Startup waves.
    pub waves: u64,
    /// Steps in all.
    pub steps: u64,
    /// Action steps.
    pub actions: u64,
    /// Action steps denied by policy; a plan with denied steps is not applied.
    pub denied: u64,
}

/// The JSON Schema of the plan document, as `schemas/plan.schema.json` holds it.
pub fn schema() -> String {
    // The serialize contract: the schema says what rune writes, so a field written
    // as null is required, not optional.
    let mut settings = schemars::generate::SchemaSettings::draft2020_12().for_serialize();
    // Doc comments wrap at 100 columns; a description is one paragraph.
    settings
        .transforms
        .push(Box::new(schemars::transform::RecursiveTransform(
            |schema: &mut schemars::Schema| {
                if let Some(Json::String(text)) = schema.get_mut("description") {
                    *text = text.replace('\n', " ");
                }
            },
        )));
    let schema = settings
        .into_generator()
        .into_root_schema_for::<PlanDocument>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The fields `policy_inputs_sha256` digests, in sorted order so the serialisation
/// is canonical.
#[derive(Serialize)]
struct PolicyInputs<'a> {
    acks: Vec<&'a str>,
    action: Option<&'a str>,
    at: String,
    /// Workflow plans only: absent, the digest of every other plan is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    inputs: Option<&'a Map<String, Json>>,
    params: Option<&'a Map<String, Json>>,
    reason: Option<&'a str>,
    targets: Vec<&'a str>,
    /// Workflow plans only, like `inputs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow: Option<&'a str>,
}

/// Hands out step ids in execution order.
struct StepIds(u64);

impl StepIds {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

fn phase_steps(module: &Module, phases: &[Phase], ids: &mut StepIds) -> Vec<PhaseStep> {
    // A module with nothing to run is registered and nothing more: no steps, and
    // (see `startup_cost`) no time on the critical path.
    if module.lifecycle.runtime == Runtime::None {
        return Vec::new();
    }
    phases
        .iter()
        .map(|&phase| {
            let timeout = phase.timeout(module);
            PhaseStep {
                id: ids.next(),
                phase,
                timeout_ms: timeout.map(|(ms, _)| ms),
                timeout_source: timeout.map(|(_, declared)| {
                    if declared {
                        TimeoutSource::Lifecycle
                    } else {
                        TimeoutSource::Default
                    }
                }),
            }
        })
        .collect()
}

/// Resolve `exec` as written in `declared_in` (a path relative to the root).
fn command(
    exec: &[String],
    declared_in: &str,
    env: &crate::exec::environment::EnvDecl,
) -> Option<Command> {
    let (program, args) = exec.split_first()?;
    let dir = declared_in
        .rsplit_once('/')
        .map_or(".", |(dir, _)| dir)
        .to_string();
    let program = if program.contains('/') && !std::path::Path::new(program).is_absolute() {
        let resolved = root::join(&dir, program);
        // `./tool` in the root's own directory normalises to `tool`, which names a
        // program on PATH: a path keeps a `/` so it stays a path.
        if resolved.contains('/') {
            resolved
        } else {
            format!("./{resolved}")
        }
    } else {
        program.clone()
    };
    Some(Command {
        argv: std::iter::once(program)
            .chain(args.iter().cloned())
            .collect(),
        working_dir: dir,
        env: env.into(),
        ship: Vec::new(),
    })
}

impl PlanDocument {
    /// Build the document of `plan`, every path relative to `root`.
    /// It takes the plan: each action step's parameters, decision and references
    /// move into the document instead of being copied, so a workflow of thousands
    /// of steps is not held twice while the document is built.
    pub fn new(
        mut plan: Plan,
        registry: &Registry,
        sources: &SourceMap,
        root: &CatalogRoot,
    ) -> Self {
        let module = |m: usize| &registry.modules[m];
        let declared_in: Vec<String> = sources
            .files()
            .map(|(_, f)| root.relative(&f.path))
            .collect();
        let file_of = |m: &Module| declared_in[m.file.0 as usize].clone();
        let request = &plan.request;

        // Digested on every core: at 100,000 modules this is 47 MB of text.
        let texts: Vec<_> = sources.files().collect();
        let mut files: Vec<FileDigest> =
            crate::parallel::map_indexed(&texts, 2, |_, (id, f)| FileDigest {
                file: declared_in[id.0 as usize].clone(),
                sha256: sha256_hex(f.text.as_bytes()),
            });
        files.sort();
        // JSON, not `name digest` lines: a file name may hold a newline and a fake
        // digest, and JSON strings cannot be forged that way.
        let listing = serde_json::to_vec(&files).unwrap_or_default();
        let mut targets: Vec<&str> = plan
            .targets
            .iter()
            .map(|&m| module(m).name.value.as_str())
            .collect();
        targets.sort_unstable();
        let mut acks: Vec<&str> = request.acks.iter().map(String::as_str).collect();
        acks.sort_unstable();
        acks.dedup();
        let mut requested_targets: Vec<&str> = request.targets.iter().map(String::as_str).collect();
        requested_targets.sort_unstable();
        requested_targets.dedup();
        let workflow = plan
            .workflow
            .as_ref()
            .map(|w| (&registry.workflows[w.workflow], w));
        let policy_inputs = PolicyInputs {
            acks,
            action: request.action.as_deref(),
            at: request.at.to_string(),
            inputs: workflow.map(|(_, w)| &w.inputs),
            // A workflow's parameters follow from the catalog and its inputs.
            params: match workflow {
                Some(_) => None,
                None => plan.actions.first().map(|a| &a.params),
            },
            reason: request.reason.as_deref(),
            targets: requested_targets,
            workflow: workflow.map(|(w, _)| w.name.value.as_str()),
        };
        let inputs = Inputs {
            catalog_root: root.display(),
            catalog_sha256: sha256_hex(&listing),
            policy_inputs_sha256: sha256_hex(
                &serde_json::to_vec(&policy_inputs).unwrap_or_default(),
            ),
            files,
            programs: Vec::new(),
            inventory_sha256: None,
        };

        // Which modules the plan starts, by registry index: a dependency outside the
        // plan orders nothing.
        let mut planned_module = vec![false; registry.modules.len()];
        for &m in plan.startup.iter().flatten() {
            planned_module[m] = true;
        }
        let index = registry.module_index();
        let depends_on = |module: &Module| -> Vec<String> {
            let mut names: Vec<String> = module
                .dependencies
                .iter()
                .filter(|d| {
                    index
                        .get(d.module_name.value.as_str())
                        .is_some_and(|&i| planned_module[i])
                })
                .map(|d| d.module_name.value.clone())
                .collect();
            names.sort_unstable();
            names.dedup();
            names
        };
        let mut ids = StepIds(0);
        let mut ready_step = HashMap::new();
        let startup: Vec<StartupWave> = plan
            .startup
            .iter()
            .enumerate()
            .map(|(w, wave)| StartupWave {
                wave: w as u64 + 1,
                modules: wave
                    .iter()
                    .map(|&m| {
                        let module = module(m);
                        let declared_in = file_of(module);
                        let steps = phase_steps(module, &STARTUP_PHASES, &mut ids);
                        ready_step.insert(m, ids.0);
                        let lifecycle = &module.lifecycle;
                        let node = lifecycle
                            .node
                            .as_ref()
                            .map(|n| n.value.clone())
                            .filter(|n| {
                                lifecycle.runtime == Runtime::Process
                                    && !crate::exec::remote::is_local(n)
                            });
                        StartupModule {
                            module: module.name.value.clone(),
                            version: module.version.as_ref().map(|v| v.value.clone()),
                            runtime: lifecycle.runtime,
                            command: match lifecycle.runtime {
                                Runtime::Process => {
                                    command(&lifecycle.exec, &declared_in, &lifecycle.env).map(
                                        |mut c| {
                                            // What goes to the node with the program,
                                            // pinned like it (installed there: nothing).
                                            if node.is_some() && lifecycle.remote_exec.is_empty() {
                                                c.ship = lifecycle
                                                    .ship
                                                    .iter()
                                                    .map(|file| root::join(&c.working_dir, file))
                                                    .collect();
                                            }
                                            c
                                        },
                                    )
                                }
                                Runtime::Builtin | Runtime::None => None,
                            },
                            transport: node.as_ref().map(|_| "ssh".to_string()),
                            node,
                            declared_in,
                            depends_on: depends_on(module),
                            steps,
                        }
                    })
                    .collect(),
            })
            .collect();

        // Counted before the steps move into the document.
        let (action_count, denied) = (plan.action_count() as u64, plan.denied() as u64);
        let planned = std::mem::take(&mut plan.actions);
        let convert = |step: super::ActionStep, id: u64, after_step: u64| {
            let provider = module(step.module);
            let action = &provider.actions[step.action];
            let declared_in = file_of(provider);
            let d = step.decision;
            let r = step.settings.retries;
            ActionStep {
                id,
                action: action.name.value.clone(),
                module: provider.name.value.clone(),
                description: action.description.clone(),
                category: action.category,
                impact: action.impact,
                command: command(&action.exec, &declared_in, &action.env).map(|mut c| {
                    c.ship = action
                        .ship
                        .iter()
                        .map(|file| root::join(&c.working_dir, file))
                        .collect();
                    c
                }),
                declared_in,
                after_step,
                params: step.params,
                timeout_ms: Setting {
                    value: step.settings.timeout_ms.value,
                    source: step.settings.timeout_ms.source,
                },
                retries: RetriesSetting {
                    max_attempts: r.value.max_attempts,
                    backoff_ms: r.value.backoff_ms,
                    on: r.value.on,
                    source: r.source,
                },
                decision: Decision {
                    allowed: d.allowed,
                    rule: d.rule,
                    reason: d.reason,
                    checks: d
                        .checks
                        .into_iter()
                        .map(|c| Check {
                            rule: c.rule,
                            allowed: c.allowed,
                            reason: c.reason,
                        })
                        .collect(),
                },
                acknowledgment: step.acknowledgment.map(|a| Acknowledgment {
                    action: a.action,
                    reason: a.reason,
                }),
                references: step.references,
                workflow: None,
            }
        };
        let mut compensations = Vec::with_capacity(planned.len());
        let mut actions: Vec<ActionStep> = planned
            .into_iter()
            .map(|mut step| {
                // The planner starts every provider before its actions.
                let after = ready_step.get(&step.module).copied().unwrap_or(0);
                let place = step.place.take();
                let mut doc_step = convert(step, ids.next(), after);
                if let (Some((spec, _)), Some(place)) = (workflow, place) {
                    // Each node of a fan-out runs as a step of its own: the
                    // first takes the step's id, the others the ids after it.
                    let fanout = place.fanout.map(|f| FanOut {
                        nodes: f
                            .nodes
                            .into_iter()
                            .enumerate()
                            .map(|(k, node)| FanOutNode {
                                node,
                                step: if k == 0 { doc_step.id } else { ids.next() },
                                compensate: None,
                            })
                            .collect(),
                        selector: f.selector,
                        selector_from: f.selector_from,
                        forks: f.forks,
                    });
                    let declared = &spec.steps[place.step];
                    doc_step.workflow = Some(WorkflowStep {
                        step: declared.id.value.clone(),
                        wave: place.wave,
                        needs: declared.needs.iter().map(|n| n.value.clone()).collect(),
                        condition: declared.condition,
                        when: place.when,
                        continue_on_error: declared.continue_on_error,
                        node: place.node,
                        node_from: place.node_from,
                        fanout,
                        compensate: None,
                    });
                    compensations.push(place.compensate);
                } else {
                    compensations.push(None);
                }
                doc_step
            })
            .collect();
        // Compensations are numbered after every workflow step, in the steps'
        // order; each runs after the step it undoes.
        for (doc_step, compensation) in actions.iter_mut().zip(compensations) {
            if let (Some(c), Some(record)) = (compensation, doc_step.workflow.as_mut()) {
                let comp = convert(*c, ids.next(), doc_step.id);
                // A fan-out's compensation runs on each node that succeeded: one
                // id per node, the first the compensation's own.
                if let Some(fanout) = record.fanout.as_mut() {
                    for (k, node) in fanout.nodes.iter_mut().enumerate() {
                        node.compensate = Some(if k == 0 { comp.id } else { ids.next() });
                    }
                }
                record.compensate = Some(Box::new(comp));
            }
        }

        let shutdown: Vec<ShutdownWave> = plan
            .shutdown()
            .enumerate()
            .map(|(w, wave)| ShutdownWave {
                wave: w as u64 + 1,
                modules: wave
                    .map(|m| ShutdownModule {
                        module: module(m).name.value.clone(),
                        steps: phase_steps(module(m), &SHUTDOWN_PHASES, &mut ids),
                    })
                    .collect(),
            })
            .collect();

        let cp = &plan.critical_path;
        let critical_path = CriticalPath {
            total_ms: cp.total_ms,
            modules: cp
                .chain
                .iter()
                .map(|link| {
                    let m = module(link.module);
                    // 0 for a module with nothing to run: what the path counts.
                    let counted = |p: Phase| p.timeout(m).map_or(0, |t| t.0);
                    CriticalLink {
                        module: m.name.value.clone(),
                        initialize_ms: counted(Phase::Initialize),
                        ready_ms: counted(Phase::Ready),
                        finishes_at_ms: link.finishes_at_ms,
                    }
                })
                .collect(),
        };

        PlanDocument {
            format_version: FORMAT_VERSION,
            evaluated_at: request.at,
            clock: request.clock,
            request: RequestRecord {
                targets: targets.iter().map(|t| t.to_string()).collect(),
                action: request.action.clone(),
                acks: request.acks.clone(),
                reason: request.reason.clone(),
                workflow: workflow.map(|(w, _)| w.name.value.clone()),
            },
            inputs,
            startup,
            actions,
            shutdown,
            critical_path,
            summary: Summary {
                modules: plan.module_count() as u64,
                waves: plan.startup.len() as u64,
                steps: ids.0,
                actions: action_count,
                denied,
            },
            workflow: workflow.map(|(spec, w)| WorkflowRecord {
                name: spec.name.value.clone(),
                description: spec.description.clone(),
                declared_in: declared_in
                    .get(spec.name.span.file.0 as usize)
                    .cloned()
                    .unwrap_or_default(),
                inputs: w.inputs.clone(),
                waves: w
                    .waves
                    .iter()
                    .enumerate()
                    .map(|(i, wave)| StepWave {
                        wave: i as u64 + 1,
                        steps: wave
                            .iter()
                            .map(|&s| spec.steps[s].id.value.clone())
                            .collect(),
                    })
                    .collect(),
            }),
        }
    }

    /// Every startup module, in execution order.
    pub fn startup_modules(&self) -> impl Iterator<Item = &StartupModule> {
        self.startup.iter().flat_map(|w| w.modules.iter())
    }

    /// Every action step and workflow compensation, in step order (compensations
    /// right after the steps they undo, not in id order).
    pub fn all_actions(&self) -> impl Iterator<Item = &ActionStep> {
        self.actions.iter().flat_map(|a| {
            std::iter::once(a).chain(a.workflow.as_ref().and_then(|w| w.compensate.as_deref()))
        })
    }

    /// Action steps (and compensations) policy denied.
    pub fn denied(&self) -> usize {
        self.all_actions().filter(|a| !a.decision.allowed).count()
    }

    /// Write the document as pretty JSON followed by a newline.
    /// `out` should be buffered: the serializer writes a token at a time.
    pub fn write_json(&self, mut out: impl io::Write) -> io::Result<()> {
        crate::pretty_json::write(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// The document as pretty JSON followed by a newline.
    pub fn to_json(&self) -> String {
        let mut bytes = Vec::new();
        // Writing to a Vec cannot fail, and every field serialises.
        let _ = self.write_json(&mut bytes);
        String::from_utf8(bytes).unwrap_or_default()
    }
}
