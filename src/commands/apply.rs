//! `rune apply`: execute a plan, from the selectors (plan, then run it) or from a
//! plan file saved by `rune plan --out` (exactly what was reviewed, or nothing).
//!
//! Wiring only. A saved plan is read as the typed [`PlanDocument`]; its catalogs
//! are read again from `inputs.catalog_root` (relative to the plan file), planned
//! again from the recorded request, and the plan is refused when a digest differs,
//! naming each changed or missing file. Then [`crate::exec::apply::execute`] runs
//! the document with the events going to the journal, the progress display and the
//! final report. Exit codes: 0 everything succeeded (or `--dry-run`), 1 invalid
//! catalog, invalid parameters, a denied step or a stale plan, 2 usage error or an
//! unreadable plan file, 4 something failed while running, 130 interrupted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use crate::catalog::{self, CheckedCatalog};
use crate::cli::{ApplyArgs, OutputFormat, SelectorArgs};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::escape::untrusted;
use crate::exec::apply::{self as executor, Options, Prepared, PreparedAction};
use crate::exec::event::{Fanout, Sink};
use crate::exec::ids::{self, RunIds};
use crate::exec::interrupt::Interrupts;
use crate::exec::journal::Journal;
use crate::exec::lifecycle::{self, Context, ModuleSpec};
use crate::exec::process::{Cancel, Spec};
use crate::plan::document::{Command, PlanDocument};
use crate::plan::root::CatalogRoot;
use crate::plan::{self, PlanError, Request};
use crate::registry::Action;
use crate::registry::{Criticality, Registry};
use crate::report::diagnostics::Summary;
use crate::report::execution::{self, ReportFormat};
use crate::report::progress::{Progress, ProgressMode};
use crate::report::refusal::{self, Channel, Refusal, Refused};
use crate::report::Printer;
use crate::request::WorkflowInputs;
use crate::source::SourceMap;
use crate::ExitStatus;

/// The largest plan file read (a plan of 100,000 modules is about 120 MB).
const PLAN_FILE_LIMIT: u64 = 512 << 20;

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
        Some(path) => from_plan_file(path, &args.select, channel, printer),
        None => from_selectors(args, config, channel, printer),
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
    warn_if_policy_is_not_now(args, &doc, printer);
    let needed = needed(&doc, &root_dir, &checked.registry);
    // The run reads the document and `needed` only: the catalog goes now, so the
    // run's memory is not added to the load's.
    drop(checked);
    let status = execute(args, config, &doc, &needed, printer);
    leftovers.keep((doc, needed));
    status
}

/// Change windows and maintenance mode decided for the plan's instant: `--at`,
/// `SOURCE_DATE_EPOCH`, or when a saved plan was made. The actions run now, so an
/// instant more than a few minutes away is said before anything runs (not under
/// the deterministic setting, whose golden reports fix the instant on purpose).
fn warn_if_policy_is_not_now(args: &ApplyArgs, doc: &PlanDocument, printer: &mut Printer) {
    const SLACK_SECONDS: i64 = 300;
    if args.exec.deterministic || ids::deterministic_from_env() {
        return;
    }
    let apart = jiff::Timestamp::now().as_second() - doc.evaluated_at.as_second();
    if apart.abs() <= SLACK_SECONDS {
        return;
    }
    let source = match (doc.clock, &args.plan) {
        (plan::Clock::Fixed, _) => "`--at`",
        (plan::Clock::SourceDateEpoch, _) => "`SOURCE_DATE_EPOCH`",
        (plan::Clock::Now, Some(_)) => "when the plan was made",
        (plan::Clock::Now, None) => return,
    };
    let (amount, direction) = (
        apart.unsigned_abs(),
        if apart > 0 { "ago" } else { "from now" },
    );
    let span = match amount {
        s if s < 7_200 => format!("{} minutes", s / 60),
        s if s < 172_800 => format!("{} hours", s / 3_600),
        s => format!("{} days", s / 86_400),
    };
    printer.err(&format!(
        "warning: policy (change windows, maintenance mode) was evaluated at {} ({source}), \
         {span} {direction}; the actions run now\n",
        doc.evaluated_at
    ));
}

fn usage(printer: &mut Printer, diagnostics: Vec<Diagnostic>, channel: Channel) -> ExitStatus {
    let nothing_read = SourceMap::default();
    refusal::report(
        printer,
        Refusal {
            kind: Refused::Usage,
            diagnostics,
            sources: &nothing_read,
            summary: Summary::default(),
        },
        channel,
    )
}

type Planned = (PlanDocument, PathBuf, Box<CheckedCatalog>);

/// Plan from the selectors, as `rune plan` would.
fn from_selectors(
    args: &ApplyArgs,
    config: &Config,
    channel: Channel,
    printer: &mut Printer,
) -> Result<Planned, ExitStatus> {
    let select = &args.select;
    let mut problems = crate::request::check_flags(select);
    let instant = crate::request::instant(select, config);
    if let Err(d) = &instant {
        problems.push(d.clone());
    }
    let (at, clock) = match instant {
        Ok(instant) if problems.is_empty() => instant,
        _ => return Err(usage(printer, problems, channel)),
    };
    let paths = config.catalog_paths(&[]);
    let mut checked = match catalog::load_valid(&paths) {
        Ok(checked) => Box::new(checked),
        Err(checked) => return Err(super::refuse_catalog(&checked, channel, printer)),
    };
    super::show_warnings(&checked, config, printer);
    let params = match &select.action {
        Some(name) => match crate::request::action_params(select, name, &mut checked) {
            Ok(params) => params,
            Err((kind, d)) => {
                return Err(crate::request::refuse(printer, &checked, kind, d, channel))
            }
        },
        None => Map::new(),
    };
    let request = Request {
        targets: select.targets.clone(),
        action: select.action.clone(),
        params,
        at,
        clock,
        acks: select.acks.clone(),
        reason: select.reason.clone(),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = CatalogRoot::new(&paths, &cwd);
    let doc = match &select.workflow {
        Some(name) => crate::request::workflow_document(
            &mut checked,
            request,
            name,
            WorkflowInputs::Flags(select),
            &root,
            channel,
            printer,
        )?,
        None => build(&checked, request, &root, channel, printer)?,
    };
    let root_dir = absolute(&cwd.join(&doc.inputs.catalog_root));
    Ok((doc, root_dir, checked))
}

/// Plan `request` on `checked`; a denied step refuses the whole plan.
fn build(
    checked: &CheckedCatalog,
    request: Request,
    root: &CatalogRoot,
    channel: Channel,
    printer: &mut Printer,
) -> Result<PlanDocument, ExitStatus> {
    let refuse =
        |printer: &mut Printer, kind, d| crate::request::refuse(printer, checked, kind, d, channel);
    let plan = match plan::plan(&checked.registry, &checked.graph, request) {
        Ok(plan) => plan,
        Err(PlanError::Usage(d)) => return Err(refuse(printer, Refused::Usage, d)),
        Err(PlanError::Invalid(d)) => return Err(refuse(printer, Refused::InvalidRequest, d)),
    };
    let denials = crate::request::policy_denials(&plan, checked);
    if !denials.is_empty() {
        return Err(refuse(printer, Refused::Denied, denials));
    }
    Ok(PlanDocument::new(
        plan,
        &checked.registry,
        &checked.sources,
        root,
    ))
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

/// Read a saved plan, read its catalogs again and refuse it if anything changed.
fn from_plan_file(
    path: &Path,
    select: &SelectorArgs,
    channel: Channel,
    printer: &mut Printer,
) -> Result<Planned, ExitStatus> {
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
    if !given.is_empty() {
        let d = Diagnostic::new(
            Code::InvalidFlags,
            format!(
                "a saved plan already records what to run; {} cannot change it",
                given.join(", ")
            ),
        )
        .with_help("drop the flags, or plan again with them: `rune plan ... --out FILE`");
        return Err(usage(printer, vec![d], channel));
    }
    let doc = match read_plan(path) {
        Ok(doc) => doc,
        Err(why) => return Err(usage(printer, vec![plan_file_error(path, &why)], channel)),
    };
    // `plan --out` counts the root from where the file really is (a symlinked
    // `--out` from its target), so a plan read through a link counts from there too.
    let real = std::fs::canonicalize(path).ok();
    let plan_dir = match real.as_deref().unwrap_or(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let root_dir = absolute(&plan_dir.join(&doc.inputs.catalog_root));
    // Every recorded file must still be there; one that is not is named, not
    // reported as an I/O error of the catalog.
    let mut stale = Vec::new();
    let mut paths = Vec::new();
    for f in &doc.inputs.files {
        let file = root_dir.join(&f.file);
        if file.is_file() {
            paths.push(file);
        } else {
            stale.push(format!("`{}` is missing", untrusted(&f.file)));
        }
    }
    if !stale.is_empty() {
        return Err(refuse_stale(printer, &doc, path, stale, channel));
    }
    let mut checked = match catalog::load_valid(&paths) {
        Ok(checked) => Box::new(checked),
        Err(checked) => return Err(super::refuse_catalog(&checked, channel, printer)),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = CatalogRoot::new(std::slice::from_ref(&root_dir), &cwd);
    let request = Request {
        targets: doc.request.targets.clone(),
        action: doc.request.action.clone(),
        params: doc
            .actions
            .first()
            .map(|a| a.params.clone())
            .unwrap_or_default(),
        at: doc.evaluated_at,
        clock: doc.clock,
        acks: doc.request.acks.clone(),
        reason: doc.request.reason.clone(),
    };
    // Parameters were validated when the plan was made; an action that changed
    // since shows as a changed file.
    let again = match (&doc.request.workflow, &doc.workflow) {
        // A workflow plan is planned again from its recorded name and inputs
        // (checked again against the workflow's inputs schema).
        (Some(name), Some(workflow)) => crate::request::workflow_document(
            &mut checked,
            request,
            name,
            WorkflowInputs::Recorded(&workflow.inputs),
            &root,
            channel,
            printer,
        )?,
        _ => build(&checked, request, &root, channel, printer)?,
    };
    let before: BTreeMap<&str, &str> = doc
        .inputs
        .files
        .iter()
        .map(|f| (f.file.as_str(), f.sha256.as_str()))
        .collect();
    let now: BTreeMap<&str, &str> = again
        .inputs
        .files
        .iter()
        .map(|f| (f.file.as_str(), f.sha256.as_str()))
        .collect();
    for (file, digest) in &before {
        match now.get(file) {
            Some(d) if d == digest => {}
            Some(_) => stale.push(format!("`{}` changed", untrusted(file))),
            None => stale.push(format!("`{}` is no longer read", untrusted(file))),
        }
    }
    for file in now.keys().filter(|f| !before.contains_key(*f)) {
        stale.push(format!("`{}` is new", untrusted(file)));
    }
    if stale.is_empty() && again.inputs.catalog_sha256 != doc.inputs.catalog_sha256 {
        stale.push("the catalog digest differs".to_string());
    }
    if again.inputs.policy_inputs_sha256 != doc.inputs.policy_inputs_sha256 {
        stale
            .push("the policy inputs digest differs (the recorded request was edited)".to_string());
    }
    if stale.is_empty() {
        // The digests bind the catalog and the request; the steps must be exactly
        // what they plan now. Anything else (an edited command line, timeout,
        // parameter or decision) is a plan that was changed after it was made, and
        // runs nothing: a reviewed plan may not name a program its catalog does not.
        let mut replanned = again;
        replanned.inputs.catalog_root = doc.inputs.catalog_root.clone();
        if replanned != doc {
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
            let at = match (serde_json::to_value(&doc), serde_json::to_value(&replanned)) {
                (Ok(saved), Ok(fresh)) => first_difference(&saved, &fresh, String::new()),
                _ => None,
            };
            stale.push(format!(
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
            ));
        }
    }
    if !stale.is_empty() {
        return Err(refuse_stale(printer, &doc, path, stale, channel));
    }
    Ok((doc, root_dir, checked))
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

fn read_plan(path: &Path) -> Result<PlanDocument, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > PLAN_FILE_LIMIT {
        return Err(format!(
            "the file is {} bytes, more than the {PLAN_FILE_LIMIT} a plan may have",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    // An editor may save a byte-order mark; catalogs accept one too.
    let json = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    serde_json::from_slice(json).map_err(|e| format!("not a plan document: {e}"))
}

/// `path` made absolute (lexically), so a program path joined to it means the same
/// file from the child's working directory as from rune's.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A command of the document, made runnable from `root`: a relative program with a
/// `/` and the working directory are joined to the catalog root.
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
    }
}

/// What the run needs of the catalog beyond the document, owned, so the catalog
/// (its files' text, YAML trees, registry and graph) is freed before the run.
struct Needed {
    /// Every module of the plan, by name.
    modules: HashMap<String, ModuleSpec>,
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

/// What the run needs of `registry` for `doc`.
fn needed(doc: &PlanDocument, root: &Path, registry: &Registry) -> Needed {
    let by_name: HashMap<&str, usize> = registry
        .modules
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.value.as_str(), i))
        .collect();
    let mut modules = HashMap::new();
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
                command: m.command.as_ref().map(|c| spec(c, root)),
                config: lifecycle
                    .config
                    .as_ref()
                    .map(|c| c.to_json())
                    .unwrap_or_else(|| Json::Object(Map::new())),
                spi_versions: lifecycle.spi_versions.clone(),
                requires: module
                    .dependencies
                    .iter()
                    .filter(|d| d.criticality == Criticality::Required)
                    .map(|d| d.module_name.value.clone())
                    .collect(),
            },
        );
    }
    let mut actions: Vec<Action> = Vec::new();
    let mut action_of: HashMap<String, usize> = HashMap::new();
    let mut commands: Vec<Spec> = Vec::new();
    let mut command_of: HashMap<(Vec<String>, PathBuf), usize> = HashMap::new();
    let mut resolve = |name: &str, command: Option<&Command>| {
        let a = match action_of.get(name) {
            Some(&a) => a,
            None => {
                let (m, a) = plan::find_action(registry, name).ok()?;
                actions.push(registry.modules[m].actions[a].clone());
                action_of.insert(name.to_string(), actions.len() - 1);
                actions.len() - 1
            }
        };
        let c = command.map(|c| {
            let Spec { argv, working_dir } = spec(c, root);
            *command_of
                .entry((argv, working_dir))
                .or_insert_with_key(|(argv, dir)| {
                    commands.push(Spec {
                        argv: argv.clone(),
                        working_dir: dir.clone(),
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
        actions,
        commands,
        steps,
        compensations,
    }
}

fn execute(
    args: &ApplyArgs,
    config: &Config,
    doc: &PlanDocument,
    needed: &Needed,
    printer: &mut Printer,
) -> ExitStatus {
    let json = args.format == OutputFormat::Json;
    let journal = match &args.exec.journal {
        Some(path) => match Journal::open(path) {
            Ok(journal) => Some(journal),
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
                return usage(printer, vec![d], channel);
            }
        },
        None => None,
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
    let undoes = doc
        .actions
        .iter()
        .filter_map(|step| Some((step.workflow.as_ref()?.compensate.as_ref()?.id, step.id)))
        .collect();
    let collect = execution::ReportSink::for_plan(undoes);
    let mut sinks: Vec<&dyn Sink> = vec![&collect, &progress];
    if let Some(journal) = &journal {
        sinks.push(journal);
    }
    let sink = Fanout(sinks);
    let ctx = Context {
        ids: &run_ids,
        sink: &sink,
        token: &token,
        stop,
        kill,
        spans: &spans,
        interrupts: interrupts.as_ref(),
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
    let report = collect.finish();
    let format = match mode {
        ProgressMode::Json => ReportFormat::JsonLine,
        _ if json => ReportFormat::JsonDocument,
        _ => ReportFormat::Human {
            color: execution::stdout_color(args.color.color),
        },
    };
    let status = execution::print(printer, &report, format);
    if let Some(e) = journal.as_ref().and_then(Journal::take_failure) {
        // The run's own exit code stands (as for `rune run`): turning a 4 or a
        // 130 into 2 would hide how the run went.
        printer.err(&format!(
            "warning: the journal `{}` is incomplete: a write failed, and nothing was journaled after it: {e}\n",
            untrusted(&crate::source::display_name(
                journal.as_ref().map_or(Path::new(""), |j| j.path())
            ))
        ));
    }
    drop(progress_failed);
    status
}
