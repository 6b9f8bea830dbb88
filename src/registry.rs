//! Registry: the typed model of all catalog files, merged.
//!
//! Built from the parsed documents after the schema stage. Building is lenient: a
//! field that is missing or has the wrong type is simply absent here, because the
//! schema stage has already reported it; the checks and the planner then work on
//! whatever could be understood, so one bad field does not hide other problems.
//! Every name keeps its span so later stages can point back at the source.

use foldhash::{HashMap, HashMapExt};

use crate::diagnostic::Diagnostic;
use crate::exec::environment::EnvDecl;
use crate::loader::Loaded;
use crate::source::{FileId, SourceMap, Span, Spanned};
use crate::yaml::{Node, Value};

/// All modules, policy and workflows of a set of catalog files.
#[derive(Debug, Default)]
pub struct Registry {
    /// Modules in file order, then declaration order.
    pub modules: Vec<Module>,
    /// Every `policy` section found (more than one is an error the checks report).
    pub policies: Vec<Policy>,
    /// Workflows in file order, then declaration order.
    pub workflows: Vec<Workflow>,
    /// Values the schema accepts but rune cannot hold (a whole number past `u64`),
    /// found while building; the check stage reports them with the rest.
    pub diagnostics: Vec<Diagnostic>,
}

impl Registry {
    /// The effective policy: the first one declared, or the defaults.
    pub fn policy(&self) -> Option<&Policy> {
        self.policies.first()
    }

    /// Index of modules by name (first declaration wins).
    pub fn module_index(&self) -> HashMap<&str, usize> {
        let mut index = HashMap::with_capacity(self.modules.len());
        for (i, m) in self.modules.iter().enumerate() {
            index.entry(m.name.value.as_str()).or_insert(i);
        }
        index
    }

    /// Every action with the module that provides it, in declaration order.
    pub fn actions(&self) -> impl Iterator<Item = (&Module, &Action)> {
        self.modules
            .iter()
            .flat_map(|m| m.actions.iter().map(move |a| (m, a)))
    }

    /// The action with this name and the module providing it.
    pub fn find_action(&self, name: &str) -> Option<(&Module, &Action)> {
        self.actions().find(|(_, a)| a.name.value == name)
    }
}

/// How a module is run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    /// Part of the rune binary (core modules).
    #[default]
    Builtin,
    /// A child process speaking the module SPI.
    Process,
    /// Registered for routing and ordering only; nothing to run. Also what a
    /// module without a `lifecycle` section is.
    None,
}

impl Runtime {
    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Builtin => "builtin",
            Runtime::Process => "process",
            Runtime::None => "none",
        }
    }
}

/// Whether a dependency must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Criticality {
    /// The dependent cannot start without it.
    Required,
    /// Orders startup when present; ignored when absent.
    Optional,
}

/// Remediation changes things; diagnostics only look.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Changes the system.
    Remediation,
    /// Reads the system.
    Diagnostic,
}

impl Category {
    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Remediation => "remediation",
            Category::Diagnostic => "diagnostic",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "remediation" => Some(Category::Remediation),
            "diagnostic" => Some(Category::Diagnostic),
            _ => None,
        }
    }
}

/// How much an action can break.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// Safe to run any time.
    Low,
    /// Affects one service.
    Medium,
    /// Can take a service down; needs break-glass acknowledgment.
    High,
}

impl Impact {
    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::Low => "low",
            Impact::Medium => "medium",
            Impact::High => "high",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Impact::Low),
            "medium" => Some(Impact::Medium),
            "high" => Some(Impact::High),
            _ => None,
        }
    }
}

/// One module registration.
#[derive(Debug, Clone)]
pub struct Module {
    /// `module_identity.module_name`.
    pub name: Spanned<String>,
    /// `module_identity.module_version` as written.
    pub version: Option<Spanned<String>>,
    /// The version parsed as semver, when it is one.
    pub semver: Option<semver::Version>,
    /// `module_identity.module_class`.
    pub module_class: String,
    /// `module_identity.module_type`.
    pub module_type: String,
    /// `module_identity.description`.
    pub description: String,
    /// The file that declares the module (relative `exec` paths resolve against it).
    pub file: FileId,
    /// The first line of the module entry.
    pub head: Span,
    /// `technical_requirements.dependencies`.
    pub dependencies: Vec<Dependency>,
    /// `capability_declaration.provides_events`.
    pub provides_events: Vec<EventDefinition>,
    /// `capability_declaration.consumes_events`.
    pub consumes_events: Vec<Spanned<String>>,
    /// `capability_declaration.actions`.
    pub actions: Vec<Action>,
    /// `technical_requirements.configuration_schema`.
    pub configuration_schema: Option<Node>,
    /// `lifecycle`, or the defaults for a module that declares none.
    pub lifecycle: Lifecycle,
    /// The limits of `technical_requirements.resource_requirements` that rune
    /// applies to the module's processes and its plugins.
    pub limits: ResourceLimits,
    /// `technical_requirements.health_check_endpoint`, when declared.
    pub health_check: Option<HealthCheck>,
    /// The MRS registration fields the checks read beyond the schema.
    pub registration: Registration,
}

/// How a registration updates the one it names in `previous_registration_id`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpdateMode {
    /// The registration stands alone (a second one of the same name is a duplicate).
    #[default]
    Replace,
    /// Its fields are merged into the earlier registration's, recursively.
    Merge,
    /// As merge, with lists appended to the earlier registration's lists.
    Append,
}

impl UpdateMode {
    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateMode::Replace => "replace",
            UpdateMode::Merge => "merge",
            UpdateMode::Append => "append",
        }
    }
}

/// The MRS fields of a registration that rune checks beyond its schema: ids,
/// update mode, instants and protocols, with where each was written.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// `registration_metadata.registration_id`.
    pub id: Option<Spanned<String>>,
    /// `registration_metadata.update_mode` (replace when absent).
    pub update_mode: UpdateMode,
    /// Where `update_mode` is written.
    pub update_mode_span: Option<Span>,
    /// `registration_metadata.previous_registration_id`.
    pub previous_id: Option<Spanned<String>>,
    /// `registration_metadata.expires_at`.
    pub expires_at: Option<Spanned<String>>,
    /// `module_identity.registration_timestamp`.
    pub timestamp: Option<Spanned<String>>,
    /// `technical_requirements.supported_protocols`.
    pub protocols: Vec<Spanned<String>>,
    /// The index of the module's entry in its file's `modules` list, for updates
    /// to find the entry again.
    pub entry: usize,
    /// The `registration_metadata` key, when the entry writes one: the entry is
    /// then a registration as MRS defines it, not the catalog's shorthand.
    pub metadata_key: Option<Span>,
    /// The fields MRS requires of every registration that the entry leaves out,
    /// by their paths (`module_identity.registration_timestamp`).
    pub missing: Vec<&'static str>,
}

/// The resource limits a module declares (`technical_requirements.resource_requirements`),
/// applied to its module process and to each plugin of its actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ResourceLimits {
    /// `max_memory_mb`: the address space, in MiB (RLIMIT_AS).
    pub memory_mb: Option<u64>,
    /// `max_cpu_seconds` (rune's): CPU time in seconds (RLIMIT_CPU).
    pub cpu_seconds: Option<u64>,
    /// `max_open_files` (rune's): open file descriptors (RLIMIT_NOFILE).
    pub open_files: Option<u64>,
}

impl ResourceLimits {
    /// Whether no limit is declared.
    pub fn is_empty(&self) -> bool {
        self.memory_mb.is_none() && self.cpu_seconds.is_none() && self.open_files.is_none()
    }
}

/// One entry of `technical_requirements.dependencies`.
#[derive(Debug, Clone)]
pub struct Dependency {
    /// The module depended on.
    pub module_name: Spanned<String>,
    /// The semver requirement as written.
    pub version_requirement: Option<Spanned<String>>,
    /// Required or optional.
    pub criticality: Criticality,
    /// The whole dependency entry.
    pub span: Span,
}

/// One entry of `capability_declaration.provides_events`.
#[derive(Debug, Clone)]
pub struct EventDefinition {
    /// The event type name.
    pub event_type: Spanned<String>,
    /// `data_schema`.
    pub data_schema: Option<Node>,
    /// `example_data`.
    pub example_data: Option<Node>,
}

/// Timeout and retry settings, from policy or an action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSettings {
    /// Milliseconds before a step is stopped.
    pub timeout_ms: Option<u64>,
    /// Retry settings.
    pub retries: Option<Retries>,
}

/// How a failed step is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retries {
    /// Attempts in all, including the first.
    pub max_attempts: u64,
    /// Wait between attempts.
    pub backoff_ms: u64,
    /// Which failures are retried (`retryable`, `timeout`, `any`).
    pub on: Vec<String>,
}

/// One entry of `capability_declaration.actions`.
#[derive(Debug, Clone)]
pub struct Action {
    /// The action name.
    pub name: Spanned<String>,
    /// What it does.
    pub description: String,
    /// Remediation or diagnostic.
    pub category: Category,
    /// Low, medium or high.
    pub impact: Impact,
    /// JSON Schema of the parameters.
    pub input_schema: Option<Node>,
    /// JSON Schema of the result.
    pub output_schema: Option<Node>,
    /// The plugin command line, as written.
    pub exec: Vec<String>,
    /// What the plugin's environment holds beyond the allowlist (`env:`).
    pub env: EnvDecl,
    /// The plugin starts a daemon on purpose: what it leaves running when it
    /// exits by itself is not killed (`leaves_daemon`, default false).
    pub leaves_daemon: bool,
    /// Files shipped with the plugin to a node, as written (`ship:`).
    pub ship: Vec<String>,
    /// The plugin's command line on a node where it is installed (`remote_exec:`).
    pub remote_exec: Vec<String>,
    /// The action's own timeout and retries (policy overrides win).
    pub settings: ExecSettings,
}

/// `lifecycle`: how a module is run.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// builtin, process or none.
    pub runtime: Runtime,
    /// The module's command line, for `process`.
    pub exec: Vec<String>,
    /// What the module process's environment holds beyond the allowlist (`env:`).
    pub env: EnvDecl,
    /// JSON pointers into `config` whose values are secret (`secrets:`), redacted in
    /// the journal and reports.
    pub secrets: Vec<String>,
    /// SPI versions the module speaks.
    pub spi_versions: Vec<String>,
    /// Module-scoped configuration handed over in `initialize`.
    pub config: Option<Node>,
    /// Phase timeouts.
    pub timeouts: Timeouts,
    /// Rollback behaviour.
    pub rollback: Rollback,
    /// Paths the module must confirm it denies before it is ready (`deny_paths`).
    pub deny_paths: Vec<String>,
    /// The node its process runs on (`node`: an inventory node, over OpenSSH).
    pub node: Option<Spanned<String>>,
    /// Files shipped with its program to that node (`ship`).
    pub ship: Vec<String>,
    /// Its command line on that node where it is installed (`remote_exec`).
    pub remote_exec: Vec<String>,
}

/// Phase timeouts in milliseconds; absent ones take the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// `describe_ms`: how long register waits for the `describe` answer.
    pub describe_ms: Option<u64>,
    /// `initialize_ms`.
    pub initialize_ms: Option<u64>,
    /// `ready_ms`.
    pub ready_ms: Option<u64>,
    /// `drain_ms`.
    pub drain_ms: Option<u64>,
    /// `shutdown_ms`.
    pub shutdown_ms: Option<u64>,
}

/// `lifecycle.rollback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// Whether rollback exists.
    pub supported: bool,
    /// What triggers it (`on_failed_ready`, `manual`, `never`).
    pub trigger: Option<String>,
    /// State preserved during rollback.
    pub preserve: Vec<String>,
}

impl Default for Rollback {
    /// A module that says nothing is rolled back, as every module was before
    /// `lifecycle.rollback` was honoured.
    fn default() -> Self {
        Rollback {
            supported: true,
            trigger: None,
            preserve: Vec::new(),
        }
    }
}

impl Rollback {
    /// Why an automatic rollback leaves the module in service, if it does.
    pub fn kept_because(&self) -> Option<String> {
        if !self.supported {
            return Some("lifecycle.rollback.supported is false".to_string());
        }
        match self.trigger.as_deref() {
            Some(trigger @ ("manual" | "never")) => {
                Some(format!("lifecycle.rollback.trigger is {trigger}"))
            }
            _ => None,
        }
    }
}

/// `technical_requirements.health_check_endpoint`: how often and how long rune
/// checks a module process's health while a run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheck {
    /// `check_interval_seconds`; None: checked once after ready only.
    pub interval_seconds: Option<u64>,
    /// `timeout_ms` of each check.
    pub timeout_ms: Option<u64>,
}

/// The `policy` section.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The `policy` key.
    pub span: Span,
    /// `defaults`.
    pub defaults: ExecSettings,
    /// `overrides`, by action name.
    pub overrides: Vec<(Spanned<String>, ExecSettings)>,
    /// `maintenance_mode`.
    pub maintenance: Option<Maintenance>,
    /// `change_windows`.
    pub change_windows: Vec<ChangeWindow>,
    /// `break_glass`.
    pub break_glass: Option<BreakGlass>,
}

/// `policy.maintenance_mode`.
#[derive(Debug, Clone)]
pub struct Maintenance {
    /// Whether maintenance mode is on.
    pub enabled: bool,
    /// Why, shown in decisions.
    pub reason: Option<String>,
    /// Where it is declared.
    pub span: Span,
}

/// One entry of `policy.change_windows`.
#[derive(Debug, Clone)]
pub struct ChangeWindow {
    /// The window's name, used in decisions.
    pub name: Spanned<String>,
    /// IANA time zone name.
    pub timezone: Spanned<String>,
    /// Days the window opens on (`mon`..`sun`); `None` (not written) means every
    /// day, an empty list none.
    pub days: Option<Vec<String>>,
    /// Opening time as (hour, minute).
    pub start: Option<(u8, u8)>,
    /// Closing time as (hour, minute); at or before `start` means the next day.
    pub end: Option<(u8, u8)>,
    /// Categories the window governs; `None` (not written) means all, an empty
    /// list none.
    pub categories: Option<Vec<Category>>,
    /// Impacts the window governs; `None` (not written) means all, an empty list none.
    pub impacts: Option<Vec<Impact>>,
    /// The whole entry.
    pub span: Span,
}

/// `policy.break_glass`.
#[derive(Debug, Clone)]
pub struct BreakGlass {
    /// Impacts that need acknowledgment.
    pub impacts: Vec<Impact>,
    /// Whether the acknowledgment needs a reason.
    pub require_reason: bool,
    /// Where it is declared.
    pub span: Span,
}

/// A named DAG of action steps.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The workflow name (its key under `workflows`).
    pub name: Spanned<String>,
    /// What it does.
    pub description: String,
    /// JSON Schema of the run inputs.
    pub inputs: Option<Node>,
    /// The steps in declaration order.
    pub steps: Vec<Step>,
    /// `forks`: how many nodes of one fan-out step run at once, unless the step says.
    pub forks: Option<u64>,
}

/// One step of a workflow.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step id.
    pub id: Spanned<String>,
    /// The action it runs.
    pub action: Spanned<String>,
    /// Parameters: literals or `{"$from": ...}` references.
    pub params: Option<Node>,
    /// Steps that must finish first.
    pub needs: Vec<Spanned<String>>,
    /// Condition: `{from, equals | not_equals}`.
    pub when: Option<Node>,
    /// Step-level timeout and retries.
    pub settings: ExecSettings,
    /// Node to run on (`--node` equivalent), when written as a name.
    pub node: Option<String>,
    /// Node to run on, when written as a reference (`node: { $from: ... }`):
    /// the reference string.
    pub node_from: Option<Spanned<String>>,
    /// `nodes`: fan out over the nodes a selector names (`all`, a group, a node,
    /// `label=value`), when written as a selector.
    pub nodes: Option<Spanned<String>>,
    /// `nodes: { $from: inputs.NAME }`: the reference the selector is read from.
    pub nodes_from: Option<Spanned<String>>,
    /// `forks`: how many of its nodes run at once.
    pub forks: Option<u64>,
    /// `if`: which outcomes of the needed steps let this step run.
    pub condition: StepIf,
    /// `continue_on_error`: a failure of this step does not stop the workflow.
    pub continue_on_error: bool,
    /// `compensate`: the action that undoes this step.
    pub compensate: Option<Compensation>,
}

/// A step's outcome condition (`if`) on the steps it needs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StepIf {
    /// Every needed step succeeded (the default).
    #[default]
    Success,
    /// Some needed step failed, directly or through steps skipped because of it.
    Failure,
    /// Every needed step finished, whatever its outcome.
    Always,
}

impl StepIf {
    /// The catalog spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StepIf::Success => "success",
            StepIf::Failure => "failure",
            StepIf::Always => "always",
        }
    }
}

/// The action that undoes a step (`compensate`).
#[derive(Debug, Clone)]
pub struct Compensation {
    /// The action to run.
    pub action: Spanned<String>,
    /// Parameters: literals or `{"$from": ...}` references.
    pub params: Option<Node>,
    /// Timeout and retries overrides.
    pub settings: ExecSettings,
    /// The `compensate` mapping.
    pub span: Span,
}

fn str_field(node: &Node, key: &str) -> Option<Spanned<String>> {
    node.get(key).and_then(Node::as_spanned_str)
}

fn string_of(node: &Node, key: &str) -> String {
    node.get(key)
        .and_then(Node::as_str)
        .unwrap_or_default()
        .to_string()
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.map(|n| {
        n.as_seq()
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect()
    })
    .unwrap_or_default()
}

fn spanned_strings(node: Option<&Node>) -> Vec<Spanned<String>> {
    node.map(|n| n.as_seq().iter().filter_map(Node::as_spanned_str).collect())
        .unwrap_or_default()
}

/// The whole number at `key` of `node`, however it is written: YAML and JSON allow
/// `1e3`, `200.0` or `1.0e2` for an integer, and the schema accepts them as integers
/// (JSON Schema: a number with no fractional part), so they are read as the
/// integers they are. A fraction, a negative number or one past the schema's
/// `maximum` (2^53 - 1 for every count and timeout, so any JSON reader holds it
/// exactly) is left to the schema's diagnostic.
fn whole(node: Option<&Node>, key: &str) -> Option<u64> {
    let value = node?.get(key)?;
    let Value::Number(number) = &value.value else {
        return None;
    };
    if let Some(n) = number.as_u64() {
        return Some(n);
    }
    let float = number.as_f64()?;
    // 2^64 is exactly representable; every whole float below it fits a u64.
    const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
    (float.fract() == 0.0 && (0.0..TWO_TO_64).contains(&float)).then_some(float as u64)
}

/// `env:` of an action or a lifecycle: `pass` names and `set` literal values.
fn env_decl(node: Option<&Node>) -> EnvDecl {
    let Some(node) = node else {
        return EnvDecl::default();
    };
    EnvDecl {
        pass: strings(node.get("pass")),
        set: node
            .get("set")
            .map(|set| {
                set.as_map()
                    .iter()
                    .filter_map(|e| Some((e.key.value.to_string(), e.value.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn settings(node: &Node) -> ExecSettings {
    let retries = node.get("retries");
    ExecSettings {
        timeout_ms: whole(Some(node), "timeout_ms"),
        retries: retries.map(|r| Retries {
            max_attempts: whole(Some(r), "max_attempts").unwrap_or(1),
            backoff_ms: whole(Some(r), "backoff_ms").unwrap_or(0),
            on: strings(r.get("on")),
        }),
    }
}

/// `node` unless it is YAML/JSON `null`: an optional MRS field sent as `null` is
/// the same as one left out.
fn unless_null(node: Option<Node>) -> Option<Node> {
    node.filter(|n| !matches!(n.value, Value::Null))
}

fn parse_hhmm(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some((h, m))
}

fn build_registration(node: &Node, entry: usize) -> Registration {
    let metadata = node.get("registration_metadata");
    let field = |key: &str| metadata.and_then(|m| str_field(m, key));
    let mode = metadata.and_then(|m| m.get("update_mode"));
    Registration {
        id: field("registration_id"),
        update_mode: match mode.and_then(Node::as_str) {
            Some("merge") => UpdateMode::Merge,
            Some("append") => UpdateMode::Append,
            _ => UpdateMode::Replace,
        },
        update_mode_span: mode.map(|m| m.span),
        previous_id: field("previous_registration_id"),
        expires_at: field("expires_at"),
        timestamp: node
            .get("module_identity")
            .and_then(|i| str_field(i, "registration_timestamp")),
        protocols: spanned_strings(
            node.get("technical_requirements")
                .and_then(|r| r.get("supported_protocols")),
        ),
        entry,
        metadata_key: node.entry("registration_metadata").map(|e| e.key.span),
        missing: missing_mrs_fields(node),
    }
}

/// The fields MRS requires of every registration that `node` leaves out, beyond
/// those the schema requires wherever their section is written.
fn missing_mrs_fields(node: &Node) -> Vec<&'static str> {
    let present = |section: &str, field: &str| {
        node.get(section)
            .and_then(|s| s.get(field))
            .is_some_and(|v| !matches!(v.value, Value::Null))
    };
    [
        (
            "module_identity",
            "registration_timestamp",
            "module_identity.registration_timestamp",
        ),
        (
            "capability_declaration",
            "provides_events",
            "capability_declaration.provides_events",
        ),
        (
            "capability_declaration",
            "consumes_events",
            "capability_declaration.consumes_events",
        ),
        (
            "technical_requirements",
            "supported_protocols",
            "technical_requirements.supported_protocols",
        ),
    ]
    .into_iter()
    .filter(|(section, field, _)| !present(section, field))
    .map(|(_, _, path)| path)
    .collect()
}

fn build_module(node: &mut Node, file: FileId, text: &str, entry: usize) -> Option<Module> {
    // Embedded schemas and data are moved out of the document rather than cloned:
    // the document is not needed after this stage, and these are most of its bulk.
    let mut taken_events: Vec<(Option<Node>, Option<Node>)> = Vec::new();
    if let Some(events) = node
        .get_mut("capability_declaration")
        .and_then(|c| c.get_mut("provides_events"))
    {
        for ev in events.as_seq_mut() {
            taken_events.push((ev.take("data_schema"), unless_null(ev.take("example_data"))));
        }
    }
    let mut taken_actions: Vec<(Option<Node>, Option<Node>)> = Vec::new();
    if let Some(actions) = node
        .get_mut("capability_declaration")
        .and_then(|c| c.get_mut("actions"))
    {
        for a in actions.as_seq_mut() {
            taken_actions.push((a.take("input_schema"), a.take("output_schema")));
        }
    }
    let configuration_schema = unless_null(
        node.get_mut("technical_requirements")
            .and_then(|r| r.take("configuration_schema")),
    );
    let config = node.get_mut("lifecycle").and_then(|l| l.take("config"));
    let node = &*node;
    let registration = build_registration(node, entry);
    let identity = node.get("module_identity")?;
    let name = str_field(identity, "module_name")?;
    let version = str_field(identity, "module_version");
    let semver = version
        .as_ref()
        .and_then(|v| semver::Version::parse(&v.value).ok());
    let caps = node.get("capability_declaration");
    let reqs = node.get("technical_requirements");
    let dependencies = reqs
        .and_then(|r| r.get("dependencies"))
        .map(|d| {
            d.as_seq()
                .iter()
                .filter_map(|dep| {
                    Some(Dependency {
                        module_name: str_field(dep, "module_name")?,
                        version_requirement: str_field(dep, "version_requirement"),
                        criticality: match dep.get("criticality").and_then(Node::as_str) {
                            Some("optional") => Criticality::Optional,
                            _ => Criticality::Required,
                        },
                        span: dep.span,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let provides_events = caps
        .and_then(|c| c.get("provides_events"))
        .map(|e| {
            e.as_seq()
                .iter()
                .zip(taken_events)
                .filter_map(|(ev, (data_schema, example_data))| {
                    Some(EventDefinition {
                        event_type: str_field(ev, "event_type")?,
                        data_schema,
                        example_data,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let actions = caps
        .and_then(|c| c.get("actions"))
        .map(|a| {
            a.as_seq()
                .iter()
                .zip(taken_actions)
                .filter_map(|(a, (input, output))| build_action(a, input, output))
                .collect()
        })
        .unwrap_or_default();
    let lifecycle = match node.get("lifecycle") {
        Some(l) => build_lifecycle(l, config),
        // Without a lifecycle a module is registered only: there is nothing to run.
        None => Lifecycle {
            runtime: Runtime::None,
            ..Lifecycle::default()
        },
    };
    let resources = reqs.and_then(|r| r.get("resource_requirements"));
    let limit = |key: &str| whole(resources, key).filter(|&n| n > 0);
    let limits = ResourceLimits {
        memory_mb: limit("max_memory_mb"),
        cpu_seconds: limit("max_cpu_seconds"),
        open_files: limit("max_open_files"),
    };
    let health = reqs.and_then(|r| r.get("health_check_endpoint"));
    let health_check = health
        .filter(|h| !matches!(h.value, Value::Null))
        .map(|h| HealthCheck {
            interval_seconds: whole(Some(h), "check_interval_seconds").filter(|&n| n > 0),
            timeout_ms: whole(Some(h), "timeout_ms").filter(|&n| n > 0),
        });
    Some(Module {
        name,
        version,
        semver,
        module_class: string_of(identity, "module_class"),
        module_type: string_of(identity, "module_type"),
        description: string_of(identity, "description"),
        file,
        head: crate::location::head_span(node, text),
        dependencies,
        provides_events,
        consumes_events: spanned_strings(caps.and_then(|c| c.get("consumes_events"))),
        actions,
        configuration_schema,
        lifecycle,
        limits,
        health_check,
        registration,
    })
}

fn build_action(
    node: &Node,
    input_schema: Option<Node>,
    output_schema: Option<Node>,
) -> Option<Action> {
    Some(Action {
        name: str_field(node, "action")?,
        description: string_of(node, "description"),
        category: node
            .get("category")
            .and_then(Node::as_str)
            .and_then(Category::parse)
            .unwrap_or(Category::Remediation),
        impact: node
            .get("impact")
            .and_then(Node::as_str)
            .and_then(Impact::parse)
            .unwrap_or(Impact::High),
        input_schema,
        output_schema,
        exec: strings(node.get("exec")),
        env: env_decl(node.get("env")),
        leaves_daemon: node
            .get("leaves_daemon")
            .and_then(Node::as_bool)
            .unwrap_or(false),
        ship: strings(node.get("ship")),
        remote_exec: strings(node.get("remote_exec")),
        settings: settings(node),
    })
}

fn build_lifecycle(node: &Node, config: Option<Node>) -> Lifecycle {
    let timeouts = node.get("timeouts");
    let t = |k: &str| whole(timeouts, k);
    let rollback = node.get("rollback");
    Lifecycle {
        runtime: match node.get("runtime").and_then(Node::as_str) {
            Some("process") => Runtime::Process,
            Some("none") => Runtime::None,
            _ => Runtime::Builtin,
        },
        exec: strings(node.get("exec")),
        env: env_decl(node.get("env")),
        secrets: strings(node.get("secrets")),
        spi_versions: strings(node.get("spi_versions")),
        config,
        timeouts: Timeouts {
            describe_ms: t("describe_ms"),
            initialize_ms: t("initialize_ms"),
            ready_ms: t("ready_ms"),
            drain_ms: t("drain_ms"),
            shutdown_ms: t("shutdown_ms"),
        },
        rollback: Rollback {
            supported: rollback
                .and_then(|r| r.get("supported"))
                .and_then(Node::as_bool)
                .unwrap_or(true),
            trigger: rollback
                .and_then(|r| r.get("trigger"))
                .and_then(Node::as_str)
                .map(str::to_string),
            preserve: strings(rollback.and_then(|r| r.get("preserve"))),
        },
        deny_paths: strings(node.get("deny_paths")),
        node: str_field(node, "node"),
        ship: strings(node.get("ship")),
        remote_exec: strings(node.get("remote_exec")),
    }
}

fn build_policy(key_span: Span, node: &Node) -> Policy {
    let maintenance = node.get("maintenance_mode").map(|m| Maintenance {
        enabled: m.get("enabled").and_then(Node::as_bool).unwrap_or(false),
        reason: m.get("reason").and_then(Node::as_str).map(str::to_string),
        span: m.span,
    });
    let change_windows = node
        .get("change_windows")
        .map(|w| {
            w.as_seq()
                .iter()
                .filter_map(|win| {
                    let applies = win.get("applies_to");
                    Some(ChangeWindow {
                        name: str_field(win, "name")?,
                        timezone: str_field(win, "timezone")?,
                        days: win.get("days").map(|d| strings(Some(d))),
                        start: win.get("start").and_then(Node::as_str).and_then(parse_hhmm),
                        end: win.get("end").and_then(Node::as_str).and_then(parse_hhmm),
                        categories: applies.and_then(|a| a.get("categories")).map(|list| {
                            strings(Some(list))
                                .iter()
                                .filter_map(|c| Category::parse(c))
                                .collect()
                        }),
                        impacts: applies.and_then(|a| a.get("impacts")).map(|list| {
                            strings(Some(list))
                                .iter()
                                .filter_map(|c| Impact::parse(c))
                                .collect()
                        }),
                        span: win.span,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let break_glass = node.get("break_glass").map(|b| BreakGlass {
        impacts: match b.get("impacts") {
            Some(list) => strings(Some(list))
                .iter()
                .filter_map(|i| Impact::parse(i))
                .collect(),
            None => vec![Impact::High],
        },
        require_reason: b
            .get("require_reason")
            .and_then(Node::as_bool)
            .unwrap_or(true),
        span: b.span,
    });
    Policy {
        span: key_span,
        defaults: node.get("defaults").map(settings).unwrap_or_default(),
        overrides: node
            .get("overrides")
            .map(|o| {
                o.as_map()
                    .iter()
                    .map(|e| {
                        (
                            Spanned::new(e.key.value.to_string(), e.key.span),
                            settings(&e.value),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        maintenance,
        change_windows,
        break_glass,
    }
}

fn build_workflow(key: &Spanned<String>, node: &Node) -> Workflow {
    let steps = node
        .get("steps")
        .map(|s| {
            s.as_seq()
                .iter()
                .filter_map(|step| {
                    Some(Step {
                        id: str_field(step, "id")?,
                        action: str_field(step, "action")?,
                        params: step.get("params").cloned(),
                        needs: spanned_strings(step.get("needs")),
                        when: step.get("when").cloned(),
                        settings: settings(step),
                        node: step.get("node").and_then(Node::as_str).map(str::to_string),
                        node_from: step
                            .get("node")
                            .and_then(|n| n.get("$from"))
                            .and_then(Node::as_spanned_str),
                        nodes: str_field(step, "nodes"),
                        nodes_from: step
                            .get("nodes")
                            .and_then(|n| n.get("$from"))
                            .and_then(Node::as_spanned_str),
                        forks: step.get("forks").and_then(Node::as_u64),
                        condition: match step.get("if").and_then(Node::as_str) {
                            Some("failure") => StepIf::Failure,
                            Some("always") => StepIf::Always,
                            _ => StepIf::Success,
                        },
                        continue_on_error: matches!(
                            step.get("continue_on_error").map(|n| &n.value),
                            Some(Value::Bool(true))
                        ),
                        compensate: step.get("compensate").and_then(|c| {
                            Some(Compensation {
                                action: str_field(c, "action")?,
                                params: c.get("params").cloned(),
                                settings: settings(c),
                                span: c.span,
                            })
                        }),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Workflow {
        name: key.clone(),
        description: string_of(node, "description"),
        inputs: node.get("inputs").cloned(),
        steps,
        forks: node.get("forks").and_then(Node::as_u64),
    }
}

/// Build the registry from every document that parsed.
///
/// Embedded schemas and data are moved out of the documents (they are not needed
/// after this stage), so the registry does not double the memory of the catalog.
pub fn build(loaded: &mut Loaded) -> Registry {
    let sources = &loaded.sources;
    concat(
        loaded
            .files
            .iter_mut()
            .map(|file| match &mut file.document {
                Some(doc) => build_file(file.id, doc, &sources.get(file.id).text),
                None => Registry::default(),
            }),
    )
}

/// The part of the registry one file declares: what [`build`] makes of that file
/// alone, so files can be built as they are parsed and their trees freed at once;
/// [`concat`] joins the parts. Embedded schemas and data are moved out of
/// `document`, as in [`build`].
pub(crate) fn build_file(file: FileId, document: &mut Node, text: &str) -> Registry {
    let mut registry = Registry::default();
    if !matches!(document.value, Value::Map(_)) {
        return registry;
    }
    if let Some(modules) = document.get_mut("modules") {
        registry.modules.extend(
            modules
                .as_seq_mut()
                .iter_mut()
                .enumerate()
                .filter_map(|(i, m)| build_module(m, file, text, i)),
        );
    }
    if let Some(entry) = document.entry("policy") {
        if matches!(entry.value.value, Value::Map(_)) {
            registry
                .policies
                .push(build_policy(entry.key.span, &entry.value));
        }
    }
    if let Some(workflows) = document.get("workflows") {
        for e in workflows.as_map() {
            registry.workflows.push(build_workflow(
                &Spanned::new(e.key.value.to_string(), e.key.span),
                &e.value,
            ));
        }
    }
    registry
}

/// The registry of several files from their parts, in the order given (file
/// order, for the registry's order to be the declaration order).
pub fn concat(parts: impl IntoIterator<Item = Registry>) -> Registry {
    let parts: Vec<Registry> = parts.into_iter().collect();
    // Sized once, so the modules are not copied again and again as the list grows.
    let mut registry = Registry {
        modules: Vec::with_capacity(parts.iter().map(|p| p.modules.len()).sum()),
        policies: Vec::new(),
        workflows: Vec::with_capacity(parts.iter().map(|p| p.workflows.len()).sum()),
        diagnostics: Vec::new(),
    };
    for part in parts {
        registry.modules.extend(part.modules);
        registry.policies.extend(part.policies);
        registry.workflows.extend(part.workflows);
        registry.diagnostics.extend(part.diagnostics);
    }
    registry
}

/// Apply the MRS updates among the registrations: a registration that names an
/// earlier one in `previous_registration_id` is folded into it by its
/// `update_mode` (replace: it takes the earlier one's place; merge: its fields
/// deep-merged into the earlier ones, a list replacing a list; append: the same,
/// with lists appended), and only the result stays in the registry, where the earlier
/// registration was. Each update must name exactly one registration of the same
/// module that no other update names, so the result is one chain per module and
/// does not depend on the order of the files; an update that does not is reported
/// and left out. The documents were freed after the registry was built, so the
/// files that hold updates and the registrations they update are parsed again:
/// updates are rare, and keeping every tree for them would double the memory of
/// every catalog.
pub(crate) fn apply_updates(registry: &mut Registry, sources: &SourceMap) -> Vec<Diagnostic> {
    let modules = &registry.modules;
    if modules.iter().all(|m| m.registration.previous_id.is_none()) {
        return Vec::new();
    }
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, m) in modules.iter().enumerate() {
        if let Some(id) = &m.registration.id {
            by_id.entry(id.value.as_str()).or_default().push(i);
        }
    }
    // A replace naming a registration the catalog has replaces it; naming one it
    // has not (a registration of an earlier run) it stands alone. A merge or
    // append needs the registration it changes.
    let updates: Vec<usize> = (0..modules.len())
        .filter(|&i| {
            let r = &modules[i].registration;
            r.previous_id.as_ref().is_some_and(|p| {
                r.update_mode != UpdateMode::Replace || by_id.contains_key(p.value.as_str())
            })
        })
        .collect();
    if updates.is_empty() {
        return Vec::new();
    }
    let is_update = |i: usize| updates.binary_search(&i).is_ok();
    let mut diagnostics = Vec::new();
    // The registration each update updates, when its link is sound on its own.
    let mut parent: HashMap<usize, usize> = HashMap::new();
    for &u in &updates {
        let module = &modules[u];
        let previous = module
            .registration
            .previous_id
            .as_ref()
            .expect("updates name one");
        let targets = by_id
            .get(previous.value.as_str())
            .map_or(&[][..], Vec::as_slice);
        match targets {
            [] => diagnostics.push(invalid_update(
                module,
                format!(
                    "module `{}` updates registration `{}`, which no registration in the catalog has",
                    module.name.value, previous.value
                ),
                known_ids(modules, &module.name.value, u),
            )),
            [t] if *t == u => diagnostics.push(invalid_update(
                module,
                format!("module `{}`'s registration names itself as the one it updates", module.name.value),
                "name the registration_id of the earlier registration".to_string(),
            )),
            [t] if modules[*t].name.value != module.name.value => diagnostics.push(
                invalid_update(
                    module,
                    format!(
                        "module `{}` updates registration `{}`, which is module `{}`'s",
                        module.name.value, previous.value, modules[*t].name.value
                    ),
                    "an update changes a registration of the same module; check the id".to_string(),
                )
                .with_label(modules[*t].name.span, "registration of the other module"),
            ),
            [t] => {
                parent.insert(u, *t);
            }
            _ => diagnostics.push(invalid_update(
                module,
                format!(
                    "module `{}` updates registration `{}`, which {} registrations have",
                    module.name.value,
                    previous.value,
                    targets.len()
                ),
                "registration ids are unique; give each registration its own".to_string(),
            )),
        }
    }
    // Two updates of one registration: which applies first would be a guess.
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for &u in &updates {
        if let Some(&t) = parent.get(&u) {
            children.entry(t).or_default().push(u);
        }
    }
    for kids in children.values().filter(|k| k.len() > 1) {
        for &u in kids {
            let others = kids.iter().filter(|&&o| o != u);
            let mut d = invalid_update(
                &modules[u],
                format!(
                    "{} registrations update the same registration of module `{}`",
                    kids.len(),
                    modules[u].name.value
                ),
                "chain the updates: let each later one name the one before it".to_string(),
            );
            for &o in others {
                let span = modules[o]
                    .registration
                    .previous_id
                    .as_ref()
                    .map_or(modules[o].name.span, |p| p.span);
                d = d.with_label(span, "also updates it");
            }
            diagnostics.push(d);
            parent.remove(&u);
        }
    }
    // An update applies when its chain of sound links ends at a registration that
    // updates nothing; a chain that loops or ends at an unsound update does not.
    let mut roots: HashMap<usize, usize> = HashMap::new();
    for &u in &updates {
        let Some(&first) = parent.get(&u) else {
            continue;
        };
        let (mut at, mut steps) = (first, 0);
        let root = loop {
            if !is_update(at) {
                break Some(at);
            }
            match parent.get(&at) {
                Some(&next) if steps <= updates.len() => {
                    at = next;
                    steps += 1;
                }
                _ => break None,
            }
        };
        match root {
            Some(root) => {
                roots.insert(u, root);
            }
            None => diagnostics.push(invalid_update(
                &modules[u],
                format!(
                    "module `{}` updates a registration that is itself an update that cannot be applied",
                    modules[u].name.value
                ),
                "fix the registration it names, or break the cycle of updates".to_string(),
            )),
        }
    }
    // Each root with its updates in chain order, roots in registry order.
    let mut chains: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut root_list: Vec<usize> = roots.values().copied().collect();
    root_list.sort_unstable();
    root_list.dedup();
    for root in root_list {
        let mut chain = Vec::new();
        let mut at = root;
        while let Some(kids) = children.get(&at) {
            let [next] = kids.as_slice() else { break };
            chain.push(*next);
            at = *next;
        }
        chains.push((root, chain));
    }
    let mut parsed: HashMap<FileId, Option<Node>> = HashMap::new();
    let mut entry_of = |file: FileId, entry: usize| -> Option<Node> {
        let document = parsed.entry(file).or_insert_with(|| {
            let source = sources.get(file);
            crate::loader::parse_text(file, &source.path, &source.text).document
        });
        document
            .as_ref()?
            .get("modules")?
            .as_seq()
            .get(entry)
            .cloned()
    };
    let mut merged: Vec<(usize, Module)> = Vec::new();
    for (root, chain) in &chains {
        let base = &modules[*root];
        let Some(mut node) = entry_of(base.file, base.registration.entry) else {
            continue;
        };
        for &u in chain {
            let update = &modules[u];
            if let Some(later) = entry_of(update.file, update.registration.entry) {
                match update.registration.update_mode {
                    UpdateMode::Replace => node = later,
                    mode => deep_merge(&mut node, later, mode == UpdateMode::Append),
                }
            }
        }
        let text = &sources.get(base.file).text;
        if let Some(module) = build_module(&mut node, base.file, text, base.registration.entry) {
            merged.push((*root, module));
        }
    }
    for (root, module) in merged {
        registry.modules[root] = module;
    }
    // Every update is gone now: applied to its root, or reported above.
    let mut index = 0;
    registry.modules.retain(|_| {
        let keep = updates.binary_search(&index).is_err();
        index += 1;
        keep
    });
    diagnostics
}

fn invalid_update(module: &Module, message: String, help: String) -> Diagnostic {
    let previous = module
        .registration
        .previous_id
        .as_ref()
        .expect("updates name one");
    let mode = module.registration.update_mode.as_str();
    Diagnostic::new(crate::diagnostic::Code::InvalidUpdate, message)
        .with_label(
            previous.span,
            format!("the registration this {mode} updates"),
        )
        .with_help(help)
}

/// A hint naming the registration ids the module has elsewhere in the catalog.
fn known_ids(modules: &[Module], name: &str, except: usize) -> String {
    let ids: Vec<String> = modules
        .iter()
        .enumerate()
        .filter(|(i, m)| *i != except && m.name.value == name)
        .filter_map(|(_, m)| {
            m.registration
                .id
                .as_ref()
                .map(|id| format!("`{}`", id.value))
        })
        .collect();
    if ids.is_empty() {
        format!("no other registration of `{name}` has a registration_id; give the earlier one a registration_id and name it here")
    } else {
        format!(
            "registrations of `{name}` in the catalog: {}",
            ids.join(", ")
        )
    }
}

/// Fold a later registration into an earlier one: mappings merge key by key, a
/// `null` leaves the earlier value (MRS: null means left out), lists are appended
/// when `append`, and any other value replaces the earlier one.
fn deep_merge(base: &mut Node, later: Node, append: bool) {
    match (&mut base.value, later.value) {
        (_, Value::Null) => {}
        (Value::Map(entries), Value::Map(new)) => {
            for entry in new {
                match entries.iter_mut().find(|e| e.key.value == entry.key.value) {
                    Some(existing) => deep_merge(&mut existing.value, entry.value, append),
                    None => entries.push(entry),
                }
            }
        }
        (Value::Seq(items), Value::Seq(new)) if append => items.extend(new),
        (_, value) => {
            *base = Node {
                span: later.span,
                value,
            }
        }
    }
}
