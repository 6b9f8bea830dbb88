//! `rune apply`: execute a plan, from the selectors (plan, then run it) or from a
//! plan file saved by `rune plan --out` (exactly what was reviewed, or nothing).
//!
//! Wiring only. Policy is decided at the real instant: `--at` only with
//! `--dry-run`. A saved plan is read strictly (duplicate keys refused, its sha256
//! checked against `--expect-digest`); its catalog files are checked inside
//! `inputs.catalog_root` and against their digests before anything parses them,
//! the plan is computed again from the recorded request and must equal the file
//! (catalog, request and program digests included), and policy is decided again
//! now. Then the program digests are pinned for the spawn-time check and
//! [`crate::exec::apply::execute`] runs the document with the events going to the
//! journal, the progress display and the final report. Exit codes: 0 everything
//! succeeded (or `--dry-run`), 1 invalid catalog, invalid parameters, a denied
//! step, a stale plan or an unexpected digest, 2 usage error or an unusable plan
//! file, 4 something failed while running, 130 interrupted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::catalog::CheckedCatalog;
use crate::cli::{ApplyArgs, OutputFormat, SelectorArgs};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::escape::untrusted;
use crate::exec::apply::{self as executor, Options, Prepared, PreparedAction};
use crate::exec::environment::{self, Environment};
use crate::exec::event::{Fanout, Sink};
use crate::exec::ids::{self, RunIds};
use crate::exec::interrupt::Interrupts;
use crate::exec::journal::{self, Journal};
use crate::exec::lifecycle::{self, Context, ModuleSpec};
use crate::exec::process::{Cancel, Spec};
use crate::exec::redact::{self, Redacting};
use crate::plan;
use crate::plan::document::{Command, PlanDocument};
use crate::plan::root::CatalogRoot;
use crate::registry::Action;
use crate::registry::{Criticality, Registry, ResourceLimits};
use crate::report::diagnostics::Summary;
use crate::report::execution::{self, ReportFormat};
use crate::report::progress::{Progress, ProgressMode};
use crate::report::refusal::{self, usage, Channel, Refusal, Refused};
use crate::report::Printer;
use crate::request::{self, Purpose};
use crate::source::SourceMap;
use crate::ExitStatus;

/// Run `rune apply`.
pub(crate) fn run(
    args: &ApplyArgs,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let channel = Channel {
        json: args.format == OutputFormat::Json,
        color: config.color_stderr,
    };
    let planned = match &args.plan {
        Some(path) => from_plan_file(path, args, config, channel, printer, leftovers),
        None => from_selectors(args, config, channel, printer, leftovers),
    };
    let (doc, root_dir, checked) = match planned {
        Ok(planned) => planned,
        Err(status) => return status,
    };
    if args.dry_run {
        match args.format {
            OutputFormat::Human => printer.out(&crate::report::plan::render_human(&doc)),
            OutputFormat::Json => printer.out_with(|w| doc.write_json(w)),
        }
        leftovers.keep((doc, checked));
        return ExitStatus::Success;
    }
    // Checked again just before each program starts (see `exec::programs`).
    crate::exec::programs::pin(
        doc.inputs
            .programs
            .iter()
            .map(|p| (root_dir.join(&p.file), p.sha256.clone())),
    );
    let needed = needed(&doc, &root_dir, &checked.registry);
    let reads = journal_inputs(args, config, &checked);
    // The run reads the document and `needed` only: the catalog goes now, so the
    // run's memory is not added to the load's.
    drop(checked);
    let status = execute(args, config, &doc, &needed, &reads, printer);
    leftovers.keep((doc, needed));
    status
}

/// What an `apply` is for: a dry run may be moved in time, an execution not.
fn purpose(args: &ApplyArgs) -> Purpose {
    if args.dry_run {
        Purpose::DryRun
    } else {
        Purpose::Execute { command: "apply" }
    }
}

type Planned = (PlanDocument, PathBuf, Box<CheckedCatalog>);

/// Plan from the selectors, as `rune plan` would, at the real instant unless
/// this is a dry run.
fn from_selectors(
    args: &ApplyArgs,
    config: &Config,
    channel: Channel,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> Result<Planned, ExitStatus> {
    let select = &args.select;
    let mut problems = request::check_flags(select);
    let instant = request::instant(select, config, purpose(args));
    if let Err(d) = &instant {
        problems.push(d.clone());
    }
    let (at, clock) = match instant {
        Ok(instant) if problems.is_empty() => instant,
        _ => return Err(usage(printer, problems, channel)),
    };
    let paths = config.catalog_paths(&[]);
    let mut checked = super::load_catalog(&paths, channel, config, printer, leftovers)?;
    // Before planning: a workflow step's `node` is checked against it.
    super::run_nodes::install_inventory(&select.inventories, &checked, channel, printer)?;
    let ask = match request::selected(select, (at, clock), &mut checked) {
        Ok(ask) => ask,
        Err((kind, d)) => return Err(request::refuse(printer, &checked, kind, d, channel)),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = CatalogRoot::new(&paths, &cwd);
    let doc = request::document(
        &mut checked,
        ask.request,
        ask.workflow,
        &root,
        purpose(args),
        channel,
        printer,
    )?;
    let mut doc = doc;
    let root_dir = absolute(&cwd.join(&doc.inputs.catalog_root));
    doc.inputs.programs = crate::plan::programs::digests(&doc, &root_dir);
    doc.inputs.inventory_sha256 = crate::exec::remote::inventory_sha256(&doc);
    Ok((doc, root_dir, checked))
}

fn plan_file_error(path: &Path, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::UnusablePlanFile,
        format!(
            "cannot apply `{}`: {}",
            untrusted(&crate::source::display_name(path)),
            untrusted(why)
        ),
    )
    .with_help("save a plan with `rune plan --out FILE`; `rune schema plan` describes the format")
}

/// The selector flags given with a saved plan: it records what to run, and they
/// could not change it.
fn refuse_selectors_with_plan(select: &SelectorArgs) -> Option<Diagnostic> {
    let given: Vec<&str> = [
        select.workflow.as_ref().map(|_| "--workflow"),
        (!select.inputs.is_empty()).then_some("--input"),
        select.inputs_file.as_ref().map(|_| "--inputs-file"),
        (!select.targets.is_empty()).then_some("--target"),
        select.action.as_ref().map(|_| "--action"),
        (!select.params.is_empty()).then_some("--param"),
        select.params_file.as_ref().map(|_| "--params-file"),
        select.at.as_ref().map(|_| "--at"),
        (!select.acks.is_empty()).then_some("--ack"),
        select.reason.as_ref().map(|_| "--reason"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!given.is_empty()).then(|| {
        Diagnostic::new(
            Code::InvalidFlags,
            format!(
                "a saved plan already records what to run; {} cannot change it",
                given.join(", ")
            ),
        )
        .with_help("drop the flags, or plan again with them: `rune plan ... --out FILE`")
    })
}

/// `--expect-digest` as 64 lowercase hex digits (`sha256:` prefix and case
/// accepted, as digests are written in both ways).
fn expected_digest(given: &str) -> Result<String, Diagnostic> {
    let hex = given.trim();
    let hex = hex
        .strip_prefix("sha256:")
        .unwrap_or(hex)
        .to_ascii_lowercase();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(hex);
    }
    Err(Diagnostic::new(
        Code::InvalidFlags,
        format!(
            "--expect-digest {} is not a sha256 digest",
            crate::schema::quote(given)
        ),
    )
    .with_help("pass the 64 hex digits `rune plan --out FILE` printed (or `sha256sum FILE` shows)"))
}

/// Read a saved plan, read its catalogs again, refuse it if anything changed or
/// if policy, decided again now, no longer allows it.
fn from_plan_file(
    path: &Path,
    args: &ApplyArgs,
    config: &Config,
    channel: Channel,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> Result<Planned, ExitStatus> {
    let doc = read_expected(path, args, channel, printer)?;
    // `plan --out` counts the root from where the file really is (a symlinked
    // `--out` from its target), so a plan read through a link counts from there too.
    let real = std::fs::canonicalize(path).ok();
    let plan_dir = match real.as_deref().unwrap_or(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let root_dir = absolute(&plan_dir.join(&doc.inputs.catalog_root));
    let paths = match recorded_catalog_files(&doc, &root_dir) {
        Ok(paths) => paths,
        Err(Unusable::Outside(d)) => return Err(usage(printer, vec![d], channel)),
        Err(Unusable::Stale(stale)) => {
            return Err(refuse_stale(printer, &doc, path, stale, channel))
        }
    };
    let mut checked = super::load_catalog(&paths, channel, config, printer, leftovers)?;
    super::run_nodes::install_inventory(&args.select.inventories, &checked, channel, printer)?;
    let invalid = request::check_recorded_params(&checked, &doc);
    if !invalid.is_empty() {
        let kind = Refused::InvalidRequest;
        return Err(request::refuse(printer, &checked, kind, invalid, channel));
    }
    // First the plan exactly as it was made (at its recorded instant): any
    // difference is a plan edited or a catalog changed since.
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = CatalogRoot::new(std::slice::from_ref(&root_dir), &cwd);
    let mut again = request::document(
        &mut checked,
        request::recorded(&doc, doc.evaluated_at, doc.clock),
        request::recorded_workflow(&doc),
        &root,
        Purpose::DryRun,
        channel,
        printer,
    )?;
    again.inputs.programs = crate::plan::programs::digests(&again, &root_dir);
    again.inputs.inventory_sha256 = crate::exec::remote::inventory_sha256(&again);
    let stale = differences(&doc, again);
    if !stale.is_empty() {
        return Err(refuse_stale(printer, &doc, path, stale, channel));
    }
    if let Purpose::Execute { .. } = purpose(args) {
        decide_again_now(&doc, path, &mut checked, channel, printer)?;
    }
    Ok((doc, root_dir, checked))
}

/// The saved plan at `path`, with no selector flags beside it, and with the
/// sha256 `--expect-digest` names if it names one.
fn read_expected(
    path: &Path,
    args: &ApplyArgs,
    channel: Channel,
    printer: &mut Printer,
) -> Result<PlanDocument, ExitStatus> {
    let mut problems: Vec<Diagnostic> = refuse_selectors_with_plan(&args.select)
        .into_iter()
        .collect();
    let expected = match args.expect_digest.as_deref().map(expected_digest) {
        Some(Err(d)) => {
            problems.push(d);
            None
        }
        Some(Ok(hex)) => Some(hex),
        None => None,
    };
    if !problems.is_empty() {
        return Err(usage(printer, problems, channel));
    }
    let (doc, digest) = match crate::plan::strict::read_plan(path) {
        Ok(read) => read,
        Err(why) => return Err(usage(printer, vec![plan_file_error(path, &why)], channel)),
    };
    if let Some(expected) = expected.filter(|e| *e != digest) {
        let d = Diagnostic::new(
            Code::UnexpectedPlanDigest,
            format!(
                "the plan `{}` is not the plan expected: its sha256 is {digest}, not {expected}",
                untrusted(&crate::source::display_name(path))
            ),
        )
        .with_help("apply the plan that was approved, or approve this one and pass its digest");
        return Err(refuse_plan(printer, d, channel));
    }
    Ok(doc)
}

/// Policy decided again at the real instant for the saved `doc`: a window that
/// has closed since the plan was made, or maintenance mode turned on, refuses it
/// (exit 1), naming the rule.
fn decide_again_now(
    doc: &PlanDocument,
    path: &Path,
    checked: &mut CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<(), ExitStatus> {
    let (now, clock) = request::now();
    let ask = request::recorded(doc, now, clock);
    let planned = match request::compute(checked, ask, request::recorded_workflow(doc)) {
        Ok(planned) => planned,
        Err((kind, d)) => return Err(request::refuse(printer, checked, kind, d, channel)),
    };
    let purpose = Purpose::Execute { command: "apply" };
    let mut denials = request::policy_denials(&planned, checked, purpose);
    if denials.is_empty() {
        return Ok(());
    }
    for d in &mut denials {
        d.message = format!(
            "the plan `{}` was allowed at {}, but policy decided again now ({now}) refuses it: {}",
            untrusted(&crate::source::display_name(path)),
            doc.evaluated_at,
            d.message
        );
    }
    Err(request::refuse(
        printer,
        checked,
        Refused::Denied,
        denials,
        channel,
    ))
}

/// Why a saved plan's catalog files cannot be read.
enum Unusable {
    /// A recorded path leads outside the catalog root: refused unread.
    Outside(Diagnostic),
    /// Files missing or changed since the plan was made.
    Stale(Vec<String>),
}

/// The catalog files a saved plan records, under `root_dir`, each checked
/// against its recorded digest before anything parses it. A plan file is
/// untrusted input: a path that leaves the root (absolute, `..`) is refused
/// without being read, and a file whose bytes are not the ones recorded is
/// reported as changed, never parsed, so no error quotes a file the plan was
/// not made from (`inputs.files` naming a file only root may read, say).
fn recorded_catalog_files(doc: &PlanDocument, root_dir: &Path) -> Result<Vec<PathBuf>, Unusable> {
    let outside: Vec<&str> = doc
        .inputs
        .files
        .iter()
        .map(|f| f.file.as_str())
        .filter(|f| !inside_root(f))
        .collect();
    if let Some(first) = outside.first() {
        return Err(Unusable::Outside(
            Diagnostic::new(
                Code::UnusablePlanFile,
                format!(
                    "the plan names the catalog file `{}` outside its catalog root{}: a plan names its catalog files inside `inputs.catalog_root`, so it was not read",
                    untrusted(first),
                    match outside.len() {
                        1 => String::new(),
                        n => format!(" (and {} more)", n - 1),
                    }
                ),
            )
            .with_help("plan again with `rune plan ... --out FILE`; a plan made by rune never names such a path"),
        ));
    }
    let mut stale = Vec::new();
    let mut paths = Vec::new();
    for f in &doc.inputs.files {
        let file = root_dir.join(&f.file);
        let bytes = match std::fs::metadata(&file) {
            // Too large to be a catalog: the load refuses it by size, unread.
            Ok(meta) if meta.is_file() && meta.len() > crate::loader::MAX_FILE_BYTES => {
                paths.push(file);
                continue;
            }
            Ok(meta) if meta.is_file() => std::fs::read(&file),
            _ => {
                stale.push(format!("`{}` is missing", untrusted(&f.file)));
                continue;
            }
        };
        let Ok(bytes) = bytes else {
            // Unreadable now: the catalog load reports why, naming the file only.
            paths.push(file);
            continue;
        };
        let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
        let digest = crate::digest::sha256_hex(text);
        if digest == f.sha256 {
            paths.push(file);
        } else {
            stale.push(format!("`{}` changed", untrusted(&f.file)));
        }
    }
    if stale.is_empty() {
        Ok(paths)
    } else {
        Err(Unusable::Stale(stale))
    }
}

/// Whether a recorded catalog file stays inside the root: relative, made of
/// plain names only (no `..`, no root, no `.` games).
fn inside_root(file: &str) -> bool {
    let path = Path::new(file);
    !file.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// How `again` (planned now from the same catalogs and request) differs from the
/// saved `doc`, as the reasons a stale plan is refused; empty when equal.
fn differences(doc: &PlanDocument, again: PlanDocument) -> Vec<String> {
    let mut stale = changed_files(&doc.inputs.files, &again.inputs.files, "");
    if stale.is_empty() && again.inputs.catalog_sha256 != doc.inputs.catalog_sha256 {
        stale.push("the catalog digest differs".to_string());
    }
    if again.inputs.policy_inputs_sha256 != doc.inputs.policy_inputs_sha256 {
        stale
            .push("the policy inputs digest differs (the recorded request was edited)".to_string());
    }
    stale.extend(changed_files(
        &doc.inputs.programs,
        &again.inputs.programs,
        "the program ",
    ));
    if again.inputs.inventory_sha256 != doc.inputs.inventory_sha256 {
        stale.push(
            "the inventory digest differs (the nodes its steps run on are not the ones planned for)"
                .to_string(),
        );
    }
    if !stale.is_empty() {
        return stale;
    }
    // The digests bind the catalog, the request and the programs; the steps must
    // be exactly what they plan now. Anything else (an edited command line,
    // timeout, parameter or decision) is a plan that was changed after it was
    // made, and runs nothing: a reviewed plan may not name a program its catalog
    // does not.
    let mut replanned = again;
    replanned.inputs.catalog_root = doc.inputs.catalog_root.clone();
    if replanned != *doc {
        stale.push(edited(doc, &replanned));
    }
    stale
}

/// Each recorded file (`what` says which kind) that changed, is gone or is new.
fn changed_files(
    recorded: &[crate::plan::document::FileDigest],
    now: &[crate::plan::document::FileDigest],
    what: &str,
) -> Vec<String> {
    let before: BTreeMap<&str, &str> = recorded
        .iter()
        .map(|f| (f.file.as_str(), f.sha256.as_str()))
        .collect();
    let after: BTreeMap<&str, &str> = now
        .iter()
        .map(|f| (f.file.as_str(), f.sha256.as_str()))
        .collect();
    let mut stale = Vec::new();
    for (file, digest) in &before {
        match after.get(file) {
            Some(d) if d == digest => {}
            Some(_) => stale.push(format!(
                "{what}`{}` changed since planning",
                untrusted(file)
            )),
            None => stale.push(format!("{what}`{}` is no longer there", untrusted(file))),
        }
    }
    for file in after.keys().filter(|f| !before.contains_key(*f)) {
        stale.push(format!("{what}`{}` is new since planning", untrusted(file)));
    }
    stale
}

/// Where a plan that digests cannot tell apart from a fresh one differs: the
/// sections, and the first field.
fn edited(doc: &PlanDocument, replanned: &PlanDocument) -> String {
    let differs = [
        ("startup", replanned.startup != doc.startup),
        ("actions", replanned.actions != doc.actions),
        ("shutdown", replanned.shutdown != doc.shutdown),
        (
            "critical_path",
            replanned.critical_path != doc.critical_path,
        ),
        ("summary", replanned.summary != doc.summary),
        ("request", replanned.request != doc.request),
        ("inputs", replanned.inputs != doc.inputs),
        ("workflow", replanned.workflow != doc.workflow),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect::<Vec<_>>();
    let at = match (serde_json::to_value(doc), serde_json::to_value(replanned)) {
        (Ok(saved), Ok(fresh)) => first_difference(&saved, &fresh, String::new()),
        _ => None,
    };
    format!(
        "its {} differ from what the catalogs plan now (the plan file was edited{})",
        if differs.is_empty() {
            "contents".to_string()
        } else {
            differs.join(", ")
        },
        match at {
            Some(at) => format!("; first at `{}`", untrusted(&at)),
            None => String::new(),
        }
    )
}

/// The path (`actions[0].workflow.needs`) of the first place `saved` and `fresh`
/// differ (keys in sorted order), for a refusal that says where a plan was edited.
fn first_difference(saved: &Json, fresh: &Json, at: String) -> Option<String> {
    let field = |key: &str| match at.as_str() {
        "" => key.to_string(),
        _ => format!("{at}.{key}"),
    };
    match (saved, fresh) {
        (Json::Object(a), Json::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) if other == value => {}
                    Some(other) => return first_difference(value, other, field(key)),
                    None => return Some(field(key)),
                }
            }
            b.keys().find(|k| !a.contains_key(*k)).map(|k| field(k))
        }
        (Json::Array(a), Json::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    return first_difference(x, y, format!("{at}[{i}]"));
                }
            }
            (a.len() != b.len()).then(|| format!("{at}[{}]", a.len().min(b.len())))
        }
        _ => (saved != fresh).then_some(at),
    }
}

fn refuse_stale(
    printer: &mut Printer,
    doc: &PlanDocument,
    path: &Path,
    stale: Vec<String>,
    channel: Channel,
) -> ExitStatus {
    let d = Diagnostic::new(
        Code::StalePlan,
        format!(
            "the plan `{}` no longer matches its catalogs under `{}`: {}",
            untrusted(&crate::source::display_name(path)),
            untrusted(&doc.inputs.catalog_root),
            stale.join("; ")
        ),
    )
    .with_help("plan again (`rune plan ... --out FILE`), review it, and apply the new plan");
    refuse_plan(printer, d, channel)
}

/// Refuse a saved plan (exit 1) before its catalogs are read.
fn refuse_plan(printer: &mut Printer, d: Diagnostic, channel: Channel) -> ExitStatus {
    let nothing_read = SourceMap::default();
    refusal::report(
        printer,
        Refusal {
            kind: Refused::InvalidRequest,
            diagnostics: vec![d],
            sources: &nothing_read,
            summary: Summary::default(),
        },
        channel,
    )
}

/// `path` made absolute (lexically), so a program path joined to it means the same
/// file from the child's working directory as from rune's.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A command of the document, made runnable from `root`: a relative program with a
/// `/` and the working directory are joined to the catalog root.
/// Its environment is computed from the document's `env`: what was reviewed.
fn spec(command: &Command, root: &Path) -> Spec {
    let mut argv = command.argv.clone();
    if let Some(program) = argv.first_mut() {
        if program.contains('/') && !Path::new(program.as_str()).is_absolute() {
            *program = root.join(program.as_str()).to_string_lossy().into_owned();
        }
    }
    Spec {
        argv,
        working_dir: root.join(&command.working_dir),
        env: environment::compute(&command.env.decl()),
        limits: Default::default(),
    }
}

/// What the run needs of the catalog beyond the document, owned, so the catalog
/// (its files' text, YAML trees, registry and graph) is freed before the run.
struct Needed {
    /// Every module of the plan, by name.
    modules: HashMap<String, ModuleSpec>,
    /// The values module configs mark secret (`lifecycle.secrets`).
    secrets: Vec<String>,
    /// Each action the plan runs, once.
    actions: Vec<Action>,
    /// Each distinct plugin command line, once.
    commands: Vec<Spec>,
    /// For each `doc.actions` step: its action and command (indices above).
    steps: Vec<Option<(usize, Option<usize>)>>,
    /// A workflow's compensation steps: plan step id, action, command.
    compensations: Vec<(u64, usize, Option<usize>)>,
}

impl Needed {
    /// The executor's view: per step, references into the shared actions and
    /// commands (a step holds two pointers, not its own command line).
    fn prepared(&self) -> Prepared<'_> {
        let runnable = |(a, c): (usize, Option<usize>)| PreparedAction {
            action: &self.actions[a],
            command: c.map(|c| &self.commands[c]),
        };
        Prepared {
            modules: self.modules.clone(),
            actions: self.steps.iter().flatten().map(|&s| runnable(s)).collect(),
            compensations: self
                .compensations
                .iter()
                .map(|&(id, a, c)| (id, runnable((a, c))))
                .collect(),
        }
    }
}

/// How to start each module `doc` starts, by name, and the values their configs
/// mark secret.
fn module_specs(
    doc: &PlanDocument,
    root: &Path,
    registry: &Registry,
) -> (HashMap<String, ModuleSpec>, Vec<String>) {
    let by_name: HashMap<&str, usize> = registry
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.value.as_str(), i))
        .collect();
    let mut modules = HashMap::new();
    let mut secrets = Vec::new();
    for m in doc.startup_modules() {
        let Some(&i) = by_name.get(m.module.as_str()) else {
            continue;
        };
        let module = &registry.modules[i];
        let lifecycle = &module.lifecycle;
        modules.insert(
            m.module.clone(),
            ModuleSpec {
                name: m.module.clone(),
                version: m.version.clone(),
                runtime: m.runtime,
                // The module process runs under its declared limits.
                command: m.command.as_ref().map(|c| Spec {
                    limits: module.limits,
                    ..spec(c, root)
                }),
                config: {
                    let config = lifecycle
                        .config
                        .as_ref()
                        .map(|c| c.to_json())
                        .unwrap_or_else(|| Json::Object(Map::new()));
                    secrets.extend(redact::secrets_of(&config, &lifecycle.secrets));
                    config
                },
                spi_versions: lifecycle.spi_versions.clone(),
                describe_timeout: std::time::Duration::from_millis(
                    lifecycle
                        .timeouts
                        .describe_ms
                        .unwrap_or(crate::plan::DEFAULT_DESCRIBE_MS),
                ),
                requires: module
                    .dependencies
                    .iter()
                    .filter(|d| d.criticality == Criticality::Required)
                    .map(|d| d.module_name.value.clone())
                    .collect(),
                rollback: lifecycle.rollback.clone(),
                deny_paths: lifecycle.deny_paths.clone(),
                health_interval: module
                    .health_check
                    .and_then(|h| h.interval_seconds)
                    .map(std::time::Duration::from_secs),
                health_timeout: module.health_check.and_then(|h| h.timeout_ms).map_or(
                    lifecycle::DEFAULT_HEALTH_TIMEOUT,
                    std::time::Duration::from_millis,
                ),
                // Where the plan says it runs, with what the plan pinned to ship.
                node: m.node.clone(),
                ship: m
                    .command
                    .iter()
                    .flat_map(|c| &c.ship)
                    .map(|file| root.join(file))
                    .collect(),
                remote_exec: lifecycle.remote_exec.clone(),
                exit_wait: std::time::Duration::from_millis(
                    lifecycle
                        .timeouts
                        .shutdown_ms
                        .unwrap_or(crate::plan::DEFAULT_SHUTDOWN_MS),
                ),
            },
        );
    }
    (modules, secrets)
}

/// What the run needs of `registry` for `doc`.
fn needed(doc: &PlanDocument, root: &Path, registry: &Registry) -> Needed {
    let (modules, secrets) = module_specs(doc, root, registry);
    let mut actions: Vec<Action> = Vec::new();
    let mut action_of: HashMap<String, usize> = HashMap::new();
    let mut commands: Vec<Spec> = Vec::new();
    let mut command_of: HashMap<(Vec<String>, PathBuf, Environment, ResourceLimits), usize> =
        HashMap::new();
    let mut resolve = |name: &str, command: Option<&Command>| {
        let (m, a) = plan::find_action(registry, name).ok()?;
        // A plugin runs under its module's declared limits.
        let limits = registry.modules[m].limits;
        let a = match action_of.get(name) {
            Some(&a) => a,
            None => {
                actions.push(registry.modules[m].actions[a].clone());
                action_of.insert(name.to_string(), actions.len() - 1);
                actions.len() - 1
            }
        };
        let c = command.map(|c| {
            let Spec {
                argv,
                working_dir,
                env,
                ..
            } = spec(c, root);
            *command_of
                .entry((argv, working_dir, env, limits))
                .or_insert_with_key(|(argv, dir, env, limits)| {
                    commands.push(Spec {
                        argv: argv.clone(),
                        working_dir: dir.clone(),
                        env: env.clone(),
                        limits: *limits,
                    });
                    commands.len() - 1
                })
        });
        Some((a, c))
    };
    let steps = doc
        .actions
        .iter()
        .map(|step| resolve(&step.action, step.command.as_ref()))
        .collect();
    // A workflow's compensations are action steps of their own, inside the
    // steps they undo.
    let compensations = doc
        .actions
        .iter()
        .filter_map(|step| step.workflow.as_ref()?.compensate.as_deref())
        .filter_map(|comp| {
            let (a, c) = resolve(&comp.action, comp.command.as_ref())?;
            Some((comp.id, a, c))
        })
        .collect();
    Needed {
        modules,
        secrets,
        actions,
        commands,
        steps,
        compensations,
    }
}

/// What `rune apply` read, which its journal must not be: every catalog file, the
/// plan being applied, the params and inputs files.
fn journal_inputs(args: &ApplyArgs, config: &Config, checked: &CheckedCatalog) -> journal::Inputs {
    let mut files: Vec<(String, PathBuf)> = checked
        .sources
        .files()
        .map(|(_, f)| ("a catalog file".to_string(), f.path.clone()))
        .collect();
    let named = [
        ("the plan being applied", &args.plan),
        ("the --params-file", &args.select.params_file),
        ("the --inputs-file", &args.select.inputs_file),
    ];
    for (what, path) in named {
        if let Some(path) = path {
            files.push((what.to_string(), path.clone()));
        }
    }
    journal::Inputs {
        catalog_paths: config.catalog_paths(&[]),
        files,
    }
}

/// The journal `--journal` names, opened and checked against what the run reads;
/// the usage error's exit status when it cannot be.
fn open_journal(
    args: &ApplyArgs,
    config: &Config,
    reads: &journal::Inputs,
    printer: &mut Printer,
) -> Result<Option<Journal>, ExitStatus> {
    let json = args.format == OutputFormat::Json;
    match &args.exec.journal {
        Some(path) => match Journal::open_checked(path, reads) {
            Ok(journal) => Ok(Some(journal)),
            Err(e) => {
                let d = Diagnostic::new(
                    Code::InvalidFlags,
                    format!(
                        "cannot open the journal `{}`: {e}",
                        untrusted(&crate::source::display_name(path))
                    ),
                )
                .with_help("name a regular file in a directory that exists; it is appended to");
                let channel = Channel {
                    json,
                    color: config.color_stderr,
                };
                Err(usage(printer, vec![d], channel))
            }
        },
        None => Ok(None),
    }
}

fn execute(
    args: &ApplyArgs,
    config: &Config,
    doc: &PlanDocument,
    needed: &Needed,
    reads: &journal::Inputs,
    printer: &mut Printer,
) -> ExitStatus {
    let json = args.format == OutputFormat::Json;
    let journal = match open_journal(args, config, reads, printer) {
        Ok(journal) => journal,
        Err(status) => return status,
    };
    let deterministic = args.exec.deterministic || ids::deterministic_from_env();
    // Timestamps read the plan's instant, unless that is the wall clock: then a
    // fixed one, so the same run gives the same bytes.
    let fixed_now = match doc.clock {
        plan::Clock::Now => jiff::Timestamp::UNIX_EPOCH,
        _ => doc.evaluated_at,
    };
    let run_ids = RunIds::new(deterministic, fixed_now);
    let token = lifecycle::token(deterministic);
    let spans = executor::spans(doc, &run_ids);
    let interrupts = Interrupts::install().ok();
    let (stop, kill) = match &interrupts {
        Some(i) => (i.stop(), i.kill()),
        None => (Cancel::new(), Cancel::new()),
    };
    let mode = ProgressMode::detect(json);
    let progress = Progress::new(mode, config.color_stderr);
    // Compensations find the step they undo by id, not by a name kept per step.
    // Each node of a fan-out has its own run of the step and of its compensation.
    let undoes = doc
        .actions
        .iter()
        .flat_map(|step| {
            let runs = crate::exec::workflow::planned_runs(step, false);
            let undo = crate::exec::workflow::planned_runs(step, true);
            undo.into_iter()
                .zip(runs)
                .map(|((comp, _), (run, _))| (comp, run))
        })
        .collect();
    let collect = execution::ReportSink::for_plan(undoes);
    let mut sinks: Vec<&dyn Sink> = vec![&collect, &progress];
    if let Some(journal) = &journal {
        sinks.push(journal);
    }
    let fanout = Fanout(sinks);
    let secrets = needed.secrets.iter().cloned().chain([token.clone()]);
    let sink = Redacting::new(secrets.collect(), &fanout);
    let nodes: HashMap<String, String> = needed
        .modules
        .values()
        .filter_map(|m| Some((m.name.clone(), m.node.clone()?)))
        .collect();
    let ctx = Context {
        ids: &run_ids,
        sink: &sink,
        token: &token,
        stop,
        kill,
        spans: &spans,
        interrupts: interrupts.as_ref(),
        nodes: &nodes,
    };
    let prepared = needed.prepared();
    let parallelism = args.parallelism.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let options = Options {
        parallelism,
        rollback: !args.no_rollback,
    };
    // Ctrl-C is reported as it happens, even while every worker waits on a child.
    std::thread::scope(|scope| {
        let relay = interrupts.as_ref().map(|i| i.relay(scope, &sink, &run_ids));
        executor::execute(doc, &prepared, &options, &ctx);
        drop(relay);
    });
    drop(interrupts);
    let progress_failed = progress.finish();
    drop(sink);
    drop(fanout);
    let report = collect.finish();
    let status = print_final(printer, &report, mode, args, journal.as_ref());
    drop(progress_failed);
    status
}

/// Print the final report in the format the progress mode and `--format` call
/// for, and say whether the journal is whole; the run's exit code.
fn print_final(
    printer: &mut Printer,
    report: &execution::Report,
    mode: ProgressMode,
    args: &ApplyArgs,
    journal: Option<&Journal>,
) -> ExitStatus {
    let format = match mode {
        ProgressMode::Json => ReportFormat::JsonLine,
        _ if args.format == OutputFormat::Json => ReportFormat::JsonDocument,
        _ => ReportFormat::Human {
            color: execution::stdout_color(args.color.color),
        },
    };
    let status = execution::print(printer, report, format);
    if let Some(e) = journal.and_then(Journal::take_failure) {
        // The run's own exit code stands (as for `rune run`): turning a 4 or a
        // 130 into 2 would hide how the run went.
        printer.err(&format!(
            "warning: the journal `{}` is incomplete: a write failed, and nothing was journaled after it: {e}\n",
            untrusted(&crate::source::display_name(
                journal.map_or(Path::new(""), |j| j.path())
            ))
        ));
    }
    status
}
