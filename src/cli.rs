//! Command-line arguments: clap types only, no I/O.
//!
//! These are the low-level flags as the user typed them. `config` resolves them into
//! the settings the commands use (catalog paths, colour, output format), so that the
//! commands never look at raw arguments and the rules for defaults live in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Declarative lifecycle and workflow engine driven by catalog files.
#[derive(Debug, Parser)]
#[command(name = "rune", version, about, long_about = None, max_term_width = 100)]
pub(crate) struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse a command line. The commands run most often (`run`, `apply`, `plan`,
    /// `validate`) named first are parsed against a tree of that one command:
    /// building clap's whole tree (every command's arguments) is most of what
    /// parsing costs, a third of a millisecond for each `rune run`. Anything that
    /// tree does not accept as it stands (help, a typo, a flag before the command)
    /// is parsed again against the whole tree, so every message, suggestion and
    /// help text is the whole tree's.
    pub(crate) fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
        match Self::parse_one_command(&args) {
            Some(cli) => Ok(cli),
            None => Cli::try_parse_from(args),
        }
    }

    /// `args` parsed against the tree of the one command `args[1]` names, if it
    /// is one of the frequent ones and that tree accepts them.
    fn parse_one_command(args: &[std::ffi::OsString]) -> Option<Cli> {
        use clap::FromArgMatches;
        let one = match args.get(1)?.to_str()? {
            "run" => RunArgs::augment_args(clap::Command::new("run")),
            "apply" => ApplyArgs::augment_args(clap::Command::new("apply")),
            "plan" => PlanArgs::augment_args(clap::Command::new("plan")),
            "validate" => ValidateArgs::augment_args(clap::Command::new("validate")),
            _ => return None,
        };
        let tree = GlobalArgs::augment_args(clap::Command::new("rune"))
            .subcommand_required(true)
            .subcommand(one);
        let matches = tree.try_get_matches_from(args).ok()?;
        Cli::from_arg_matches(&matches).ok()
    }
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Catalog file or directory (repeatable). Default: ./catalogs
    #[arg(long = "catalog", short = 'c', global = true, value_name = "PATH")]
    pub catalogs: Vec<PathBuf>,
}

/// `--color`, taken by the commands that print diagnostics (explain and schema
/// print plain text only, so they do not offer it).
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct ColorArgs {
    /// When to colour diagnostics on stderr.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Output formats of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagnosticFormat {
    /// Readable text with source snippets.
    Human,
    /// One JSON document on stdout.
    Json,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
}

/// Output formats of commands that print a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Readable text.
    Human,
    /// One JSON document on stdout.
    Json,
}

/// Output formats of `plan` and `diff`: `github` reports drift (`--check`,
/// `diff`) as workflow annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    /// Readable text.
    Human,
    /// One JSON document on stdout.
    Json,
    /// GitHub Actions annotations on the catalog lines that caused each drift
    /// (`--check` and `diff` only).
    Github,
}

impl PlanFormat {
    /// The format of the plan itself (drift reports aside).
    pub(crate) fn plan(self) -> OutputFormat {
        match self {
            PlanFormat::Json => OutputFormat::Json,
            PlanFormat::Human | PlanFormat::Github => OutputFormat::Human,
        }
    }
}

/// Graph output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart, for pull requests.
    Mermaid,
    /// JSON nodes and edges.
    Json,
    /// Readable text: modules with their dependencies, or a workflow's steps in waves.
    Text,
}

/// Colour choice for human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Load and check catalogs (default: ./catalogs).
    Validate(ValidateArgs),
    /// Compute the lifecycle and action plan without running anything (dry run).
    Plan(PlanArgs),
    /// Execute a plan: start modules, run actions, shut down in reverse.
    Apply(ApplyArgs),
    /// Compare two saved plans by meaning: exit 0 when they mean the same, 1 on drift.
    Diff(DiffArgs),
    /// Run one action request through validation, policy and mediation.
    Run(RunArgs),
    /// Print the module dependency graph.
    Graph(GraphArgs),
    /// List the actions the catalogs offer.
    ListActions(ListActionsArgs),
    /// List the nodes of the inventory (`--inventory FILE`), with groups and labels.
    ListNodes(ListNodesArgs),
    /// Explain a diagnostic code, with a bad and a fixed example.
    Explain(ExplainArgs),
    /// Print an embedded JSON Schema (default: catalog).
    Schema(SchemaArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command with --out-dir.
    Man(ManArgs),
}

impl Command {
    /// The command's `--color` choice (`auto` for commands without colour).
    pub(crate) fn color(&self) -> ColorChoice {
        match self {
            Command::Validate(a) => a.color.color,
            Command::Plan(a) => a.color.color,
            Command::Apply(a) => a.color.color,
            Command::Diff(a) => a.color.color,
            Command::Run(a) => a.color.color,
            Command::Graph(a) => a.color.color,
            Command::ListActions(a) => a.color.color,
            Command::ListNodes(a) => a.color.color,
            Command::Explain(_)
            | Command::Schema(_)
            | Command::Completions(_)
            | Command::Man(_) => ColorChoice::Auto,
        }
    }
}

/// `rune validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Catalog files or directories (searched recursively for *.yaml, *.yml, *.json).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,

    /// Exit with status 1 when there are warnings.
    #[arg(long)]
    pub deny_warnings: bool,

    /// Judge registration expiry (`expires_at`) at this instant (RFC 3339) instead of `SOURCE_DATE_EPOCH` or now.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `rune plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Catalog files or directories.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format (`github` with --check).
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// What to plan: targets, an action and its parameters, the instant, acknowledgments.
    #[command(flatten)]
    pub select: SelectorArgs,

    /// Write the plan as JSON to this file (atomically, through symbolic links), or
    /// to stdout with `-` (the readable plan then goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Exit 0 when there is nothing to do, 2 on error, 1 on denied steps, 3 when steps are planned.
    #[arg(long, conflicts_with = "check")]
    pub detailed_exitcode: bool,

    /// Compare the plan with this saved plan (a golden file) by meaning, not bytes:
    /// exit 0 when nothing drifted, 1 on drift. Without --at or SOURCE_DATE_EPOCH,
    /// policy is evaluated at the golden file's instant.
    #[arg(long, value_name = "GOLDEN", conflicts_with = "out")]
    pub check: Option<PathBuf>,

    /// With --check: write the plan to GOLDEN (created or rewritten) and exit 0.
    #[arg(long, requires = "check")]
    pub update: bool,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// What a plan is made of: the selectors `plan` and `apply` share.
#[derive(Debug, Args)]
pub(crate) struct SelectorArgs {
    /// Plan only this module and what it requires, transitively (repeatable).
    #[arg(long = "target", value_name = "MODULE")]
    pub targets: Vec<String>,

    /// Add an action request to the plan.
    #[arg(long, value_name = "NAME")]
    pub action: Option<String>,

    /// Action parameter `key=value`: text, unless the action's input_schema types it (then JSON) (repeatable).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// Read action parameters from a JSON or YAML file (a mapping).
    #[arg(long, value_name = "FILE")]
    pub params_file: Option<PathBuf>,

    /// Evaluate change windows at this instant (RFC 3339) instead of `SOURCE_DATE_EPOCH` or now (a dry run only: `apply` and `run` decide now).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,

    /// Acknowledge a high-impact action (break glass); needs --reason.
    #[arg(long = "ack", value_name = "ACTION")]
    pub acks: Vec<String>,

    /// Why the acknowledged action must run; recorded in the plan.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Plan a workflow of the catalog: its steps as action requests, in waves.
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,

    /// Workflow input `key=value`: text, unless the workflow's inputs schema types it (then JSON) (repeatable).
    #[arg(long = "input", short = 'i', value_name = "KEY=VALUE")]
    pub inputs: Vec<String>,

    /// Read workflow inputs from a JSON or YAML file (a mapping).
    #[arg(long, value_name = "FILE")]
    pub inputs_file: Option<PathBuf>,

    /// An inventory naming the nodes workflow steps run on: rune's `nodes:` format or an Ansible inventory (repeatable).
    #[arg(long = "inventory", value_name = "FILE")]
    pub inventories: Vec<PathBuf>,
}

/// Settings of commands that execute (`apply`, `run`).
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Append every request, response, state change and error to this file as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Fixed ids, timestamps and zero durations, for golden files (also RUNE_DETERMINISTIC=1).
    #[arg(long)]
    pub deterministic: bool,
}

/// `rune apply`.
#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// A plan saved by `rune plan --out`; without one, plan from the selectors and run that.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,

    /// What to run (ignored parts are refused when a saved plan is given).
    #[command(flatten)]
    pub select: SelectorArgs,

    /// Print the plan and run nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply the saved PLAN only if its sha256 is this one (as `rune plan --out` prints it).
    #[arg(long, value_name = "SHA256", requires = "plan")]
    pub expect_digest: Option<String>,

    /// Run at most this many steps at once (default: the number of cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub parallelism: Option<u64>,

    /// When a module fails to start, go on with everything that does not need it
    /// (default: stop and shut down what was started, in reverse). Either way every
    /// module is shut down before rune exits.
    #[arg(long)]
    pub no_rollback: bool,

    /// Output format of the final report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// Journal and determinism.
    #[command(flatten)]
    pub exec: ExecArgs,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `rune diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The first plan (the golden file, the older plan).
    #[arg(value_name = "A")]
    pub before: PathBuf,

    /// The second plan.
    #[arg(value_name = "B")]
    pub after: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// Output styles of `rune run`: rune's readable view, and RUNE's two spellings of
/// the JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RunOutput {
    /// Readable text (rune's own; `--format human`).
    Human,
    /// The JSON document on one line (RUNE's `--output json`; also `--json`).
    Json,
    /// The JSON document, indented (RUNE's `--output pretty`).
    Pretty,
}

/// RUNE's `--output` of `list-actions`: the JSON document either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RuneOutput {
    /// On one line.
    Json,
    /// Indented.
    Pretty,
}

/// `rune run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The action to run.
    #[arg(value_name = "ACTION")]
    pub action: String,

    /// Action parameter `key=value`: text, unless the action's input_schema types it (then JSON) (repeatable).
    #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// Read action parameters from a JSON or YAML file (a mapping).
    #[arg(long, value_name = "FILE")]
    pub params_file: Option<PathBuf>,

    /// Where to run: `localhost` (the default, no ssh) or a node of the inventory (repeatable).
    #[arg(long = "node", value_name = "NAME")]
    pub nodes_named: Vec<String>,

    /// Run on the nodes a selector names: `all`, a group, a node, or `label=value`.
    #[arg(long = "nodes", value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// How many nodes run at once.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub forks: u32,

    /// An inventory: rune's `nodes:` format or an Ansible inventory (INI or YAML) (repeatable).
    #[arg(long = "inventory", short = 'i', value_name = "FILE")]
    pub inventories: Vec<PathBuf>,

    /// Validate and decide policy, print what would run, run nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Acknowledge a high-impact action (break glass); needs --reason.
    #[arg(long = "ack", value_name = "ACTION")]
    pub acks: Vec<String>,

    /// Why the acknowledged action must run; recorded in the journal.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Evaluate change windows at this instant (RFC 3339) instead of `SOURCE_DATE_EPOCH` or now (a dry run only: `apply` and `run` decide now).
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,

    /// Output style: rune's readable view, or the JSON document on one line or
    /// indented (RUNE's spellings).
    #[arg(long, alias = "format", value_enum, default_value_t = RunOutput::Human)]
    pub output: RunOutput,

    /// The same as `--output json` (RUNE's spelling).
    #[arg(long)]
    pub json: bool,

    /// Journal and determinism.
    #[command(flatten)]
    pub exec: ExecArgs,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `rune graph`.
#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// Catalog files or directories.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Draw this workflow's step DAG instead of the module graph.
    #[arg(long, value_name = "NAME")]
    pub workflow: Option<String>,

    /// Graph format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `rune list-actions`.
#[derive(Debug, Args)]
pub(crate) struct ListActionsArgs {
    /// Catalog files or directories.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// RUNE's spelling: the JSON document on one line (`json`) or indented (`pretty`).
    #[arg(long, value_enum, conflicts_with = "format")]
    pub output: Option<RuneOutput>,

    /// Only actions of this module.
    #[arg(long, value_name = "NAME")]
    pub module: Option<String>,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `rune list-nodes`.
#[derive(Debug, Args)]
pub(crate) struct ListNodesArgs {
    /// An inventory: rune's `nodes:` format or an Ansible inventory (INI or YAML) (repeatable).
    #[arg(long = "inventory", short = 'i', value_name = "FILE")]
    pub inventories: Vec<PathBuf>,

    /// Only the nodes a selector names: `all`, a group, a node, or `label=value`.
    #[arg(long = "nodes", value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// Colour.
    #[command(flatten)]
    pub color: ColorArgs,
}

/// `rune explain`.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// A diagnostic code, e.g. `rune::check::duplicate_module`, `duplicate_module`, a
    /// unique prefix, or a protocol number such as `-32205`. Without one, every code
    /// is listed.
    #[arg(value_name = "CODE", allow_negative_numbers = true)]
    pub code: Option<String>,
}

/// `rune schema`.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// Schema name: `catalog`, `plan`, `bpcs-request`, `bpcs-response`,
    /// `spi-request`, `spi-response`, `eps`, `rcs` or `journal`.
    #[arg(value_name = "NAME", default_value = "catalog")]
    pub name: String,
}

/// `rune completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `rune man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Write `rune.1` and one `rune-COMMAND.1` per command into this directory
    /// (which must exist) instead of printing `rune.1`.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The one-command tree parses what it accepts exactly as the whole tree does,
    /// and leaves everything else to it.
    #[test]
    fn a_frequent_command_parses_as_the_whole_tree_parses_it() {
        let lines: &[&[&str]] = &[
            &["run", "noop"],
            &[
                "run",
                "noop",
                "--catalog",
                "a.yaml",
                "-c",
                "b",
                "-p",
                "k=v",
                "--param",
                "x=1",
            ],
            &[
                "run",
                "wipe",
                "--ack",
                "wipe",
                "--reason",
                "why",
                "--dry-run",
                "--at",
                "2026-01-01T00:00:00Z",
            ],
            &[
                "run", "noop", "--output", "pretty", "--json", "--color", "never", "--nodes",
                "all", "--forks", "3",
            ],
            &[
                "run", "noop", "--format", "json", "--node", "a", "--node", "b", "-i", "inv.yaml",
            ],
            &["run", "noop", "--journal", "j.jsonl", "--deterministic"],
            &["apply", "--workflow", "bench", "--parallelism", "2"],
            &["apply", "plan.json", "--format", "json", "--dry-run"],
            &["plan", "--format", "json", "--out", "p.json"],
            &["plan", "--workflow", "w", "--input", "a=b"],
            &[
                "validate",
                "catalogs",
                "--format",
                "sarif",
                "--deny-warnings",
            ],
            &["validate"],
            // Not accepted by the one-command tree, or not frequent: the whole tree's.
            &["run"],
            &["run", "--help"],
            &["run", "noop", "--catalg", "x"],
            &["run", "noop", "--forks", "0"],
            &["--catalog", "x", "run", "noop"],
            &["graph", "--format", "json"],
            &["validate", "--format", "yaml"],
            &["plan", "--version"],
            &["--version"],
            &[],
        ];
        for (i, line) in lines.iter().enumerate() {
            let args: Vec<std::ffi::OsString> = std::iter::once("rune")
                .chain(line.iter().copied())
                .map(Into::into)
                .collect();
            // The first twelve take the fast path.
            assert_eq!(Cli::parse_one_command(&args).is_some(), i < 12, "{line:?}");
            let fast = Cli::parse_args(args.clone()).map(|c| format!("{c:?}"));
            let whole = Cli::try_parse_from(args).map(|c| format!("{c:?}"));
            match (fast, whole) {
                (Ok(fast), Ok(whole)) => assert_eq!(fast, whole, "{line:?}"),
                (Err(fast), Err(whole)) => {
                    assert_eq!(fast.to_string(), whole.to_string(), "{line:?}")
                }
                (fast, whole) => panic!("{line:?}: {fast:?} against {whole:?}"),
            }
        }
    }
}
