//! One diagnostic type for every stage.
//!
//! Diagnostics are data (code, severity, message, labelled spans, help), collected
//! from all stages, sorted, and rendered by `report` in the format the user asked
//! for. The [`Code`] of a diagnostic is stable: it is what users grep for, what
//! `rune explain` documents, and what CI annotations carry.

use crate::source::{SourceMap, Span};

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The catalog is invalid.
    Error,
    /// Worth a look; fails only with `--deny-warnings`.
    Warning,
}

impl Severity {
    /// The lower-case name used in machine-readable output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal, $severity:ident, $mrs:expr; )*) => {
        /// Stable identifier of a kind of diagnostic.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable name, e.g. `rune::check::duplicate_module`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// The severity diagnostics of this code have.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }

            /// One line saying what the code means.
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => concat!($($doc),*).trim_ascii(), )* }
            }

            /// The MRS (registration) or EPS error number, where the protocols define one.
            pub fn protocol_code(self) -> Option<i32> {
                match self { $( Code::$variant => $mrs, )* }
            }
        }
    };
}

codes! {
    /// A path given on the command line or found in a directory could not be read.
    Unreadable = "rune::load::unreadable", Error, None;
    /// A directory holds no `*.yaml`, `*.yml` or `*.json` file.
    NoCatalogs = "rune::load::no_catalogs", Error, None;
    /// A directory tree is nested deeper than rune searches.
    DirectoryTooDeep = "rune::load::directory_too_deep", Error, None;
    /// A file is larger than rune reads.
    FileTooLarge = "rune::load::file_too_large", Error, None;
    /// A file is not UTF-8 text.
    NotUtf8 = "rune::load::not_utf8", Error, None;
    /// A file holds binary data (NUL bytes).
    BinaryFile = "rune::load::binary_file", Error, None;
    /// A file has no YAML document, or an empty one.
    EmptyFile = "rune::load::empty_file", Error, None;
    /// YAML syntax error.
    YamlSyntax = "rune::load::yaml_syntax", Error, Some(-32700);
    /// JSON syntax error in a `.json` file.
    JsonSyntax = "rune::load::json_syntax", Error, Some(-32700);
    /// A file holds more than one YAML document.
    MultipleDocuments = "rune::load::multiple_documents", Error, None;
    /// The same key twice in one mapping.
    DuplicateKey = "rune::load::duplicate_key", Error, Some(-32200);
    /// Aliases expand to more nodes than rune accepts (alias bomb).
    AliasLimit = "rune::load::alias_limit", Error, None;
    /// Nesting deeper than rune accepts.
    NestingLimit = "rune::load::nesting_limit", Error, None;
    /// A YAML feature catalogs do not use: complex keys, unknown tags, undefined aliases.
    UnsupportedYaml = "rune::load::unsupported_yaml", Error, Some(-32200);

    /// A key the schema does not define.
    UnknownKey = "rune::schema::unknown_key", Error, Some(-32200);
    /// A required field is missing.
    MissingField = "rune::schema::missing_field", Error, Some(-32201);
    /// A value has the wrong type.
    WrongType = "rune::schema::wrong_type", Error, Some(-32202);
    /// A number or length outside its allowed range.
    OutOfRange = "rune::schema::out_of_range", Error, Some(-32203);
    /// A string that does not have the required format, or a value not in its enumeration.
    InvalidFormat = "rune::schema::invalid_format", Error, Some(-32204);
    /// Any other schema violation.
    SchemaViolation = "rune::schema::violation", Error, Some(-32200);

    /// Two modules with the same name.
    DuplicateModule = "rune::check::duplicate_module", Error, Some(-32205);
    /// A required dependency names a module that is not in the catalog.
    MissingDependency = "rune::check::missing_dependency", Error, Some(-32206);
    /// An optional dependency names a module that is not in the catalog.
    MissingOptionalDependency = "rune::check::missing_optional_dependency", Warning, Some(-32206);
    /// A module lists the same dependency twice.
    DuplicateDependency = "rune::check::duplicate_dependency", Error, Some(-32200);
    /// A dependency's module_version does not satisfy the version_requirement.
    VersionConflict = "rune::check::version_conflict", Error, Some(-32207);
    /// A version_requirement that is not a valid semver requirement.
    InvalidVersionRequirement = "rune::check::invalid_version_requirement", Error, Some(-32204);
    /// Two modules provide the same event type.
    EventConflict = "rune::check::event_conflict", Error, Some(-32208);
    /// A module consumes an event type no module provides.
    UnprovidedEvent = "rune::check::unprovided_event", Warning, None;
    /// A module lists the same consumed event type twice.
    DuplicateConsumedEvent = "rune::check::duplicate_consumed_event", Warning, None;
    /// A module consumes an event type that differs only in case from a provided one.
    EventCaseMismatch = "rune::check::event_case_mismatch", Warning, None;
    /// Modules depend on each other in a cycle.
    DependencyCycle = "rune::check::dependency_cycle", Error, None;
    /// A module, action, workflow or step name with characters rune does not allow.
    InvalidName = "rune::check::invalid_name", Error, Some(-32204);
    /// A module_version that is not a semantic version.
    InvalidVersion = "rune::check::invalid_version", Error, Some(-32204);
    /// Two actions with the same name.
    DuplicateAction = "rune::check::duplicate_action", Error, None;
    /// An embedded schema that is not a valid JSON Schema.
    InvalidEmbeddedSchema = "rune::check::invalid_embedded_schema", Error, Some(-32200);
    /// An event's example_data does not validate against its data_schema.
    ExampleDataMismatch = "rune::check::example_data_mismatch", Error, Some(-32200);
    /// A module's lifecycle.config does not validate against its configuration_schema.
    ConfigMismatch = "rune::check::config_mismatch", Error, Some(-32200);
    /// Two files declare a policy.
    DuplicatePolicy = "rune::check::duplicate_policy", Error, None;
    /// An IANA time zone name that does not exist.
    UnknownTimeZone = "rune::check::unknown_time_zone", Error, Some(-32204);
    /// A change window with an empty `applies_to` list or `days`: it governs nothing or never opens.
    InertChangeWindow = "rune::check::inert_change_window", Warning, None;
    /// A policy override or window names an action that no module provides.
    UnknownPolicyAction = "rune::check::unknown_policy_action", Warning, None;
    /// Two workflows with the same name.
    DuplicateWorkflow = "rune::check::duplicate_workflow", Error, None;
    /// A workflow step names an action no module provides.
    UnknownWorkflowAction = "rune::check::unknown_workflow_action", Error, None;
    /// A workflow step reference (`needs`, `$from`, `when`) that does not resolve.
    InvalidStepReference = "rune::check::invalid_step_reference", Error, None;
    /// Two steps with the same id in one workflow.
    DuplicateStep = "rune::check::duplicate_step", Error, None;
    /// A workflow step's literal params do not match its action's input_schema.
    StepParamsMismatch = "rune::check::step_params_mismatch", Error, Some(-32200);
    /// Workflow steps that need each other in a cycle.
    WorkflowCycle = "rune::check::workflow_cycle", Error, None;
    // workflows: validation
    /// A `$from` reference whose value's declared type is not one the parameter it fills accepts.
    ReferenceTypeMismatch = "rune::check::reference_type_mismatch", Error, None;
    /// A required parameter of a step's or compensation's action that neither a literal nor a reference gives.
    MissingStepParameter = "rune::check::missing_step_parameter", Error, None;
    /// A workflow's `inputs` that is not a valid JSON Schema.
    InvalidWorkflowInputs = "rune::check::invalid_workflow_inputs", Error, None;
    /// A step's `compensate` names an action no module provides.
    UnknownCompensationAction = "rune::check::unknown_compensation_action", Error, None;
    /// A workflow step that names both `node` and `nodes`: one node, or a fan-out, not both.
    NodeAndNodes = "rune::check::node_and_nodes", Error, None;
    /// A step that fans out over nodes runs (or is undone by) an action with no plugin to run there: its module's process serves it here.
    FanOutWithoutPlugin = "rune::check::fan_out_without_plugin", Error, None;
    /// A step sent to another node (`node`) runs an action with no plugin: its module's process serves it where the module runs.
    NodeWithoutPlugin = "rune::check::node_without_plugin", Error, None;
    /// A step that can never run: `if: failure` on a step that needs no step.
    StepNeverRuns = "rune::check::step_never_runs", Warning, None;
    /// A required parameter given only by a run input that the workflow's inputs schema does not require.
    RequiredParameterFromOptionalInput = "rune::check::required_parameter_from_optional_input", Warning, None;

    // MRS as written (registration metadata)
    /// A registration_timestamp that is not in UTC, as MRS requires.
    NonUtcTimestamp = "rune::check::non_utc_timestamp", Error, Some(-32204);
    /// supported_protocols names a protocol version rune does not speak.
    ProtocolMismatch = "rune::check::protocol_mismatch", Error, Some(-32105);
    /// A registration whose expires_at is before the instant the catalog is validated at.
    ExpiredRegistration = "rune::check::expired_registration", Warning, None;
    /// A merge or append registration whose previous_registration_id names no registration it can update.
    InvalidUpdate = "rune::check::invalid_update", Error, None;
    /// Two registrations with the same registration_id.
    DuplicateRegistrationId = "rune::check::duplicate_registration_id", Error, None;
    /// A full MRS registration (it writes registration_metadata) that leaves out fields MRS requires.
    IncompleteRegistration = "rune::check::incomplete_registration", Warning, None;

    /// A plan selector names a module that is not in the catalog.
    UnknownModule = "rune::plan::unknown_module", Error, None;
    /// A plan selector names an action no module provides.
    UnknownAction = "rune::plan::unknown_action", Error, None;
    /// An action parameter that does not satisfy the action's input_schema.
    InvalidParameter = "rune::plan::invalid_parameter", Error, Some(-32602);
    /// Policy denied a planned step.
    PolicyDenied = "rune::plan::policy_denied", Error, Some(-32301);
    /// A catalog file's path is not UTF-8, so a plan cannot name it faithfully.
    UnrepresentablePath = "rune::plan::unrepresentable_path", Error, None;

    // workflows: planning
    /// `--workflow` (or `rune graph --workflow`) names a workflow the catalog does not declare.
    UnknownWorkflow = "rune::plan::unknown_workflow", Error, None;
    /// A workflow run input that does not satisfy the workflow's inputs schema, or
    /// one a step reads that the run does not give.
    InvalidWorkflowInput = "rune::plan::invalid_input", Error, Some(-32200);

    // inventory (remote nodes)
    /// An inventory file rune cannot use: a bad line, a node defined twice, a refused ssh option.
    InvalidInventory = "rune::inventory::invalid_inventory", Error, None;
    /// `--node`, `--nodes` or a step names a node (or group) the inventory does not have.
    UnknownNode = "rune::inventory::unknown_node", Error, None;

    /// Command-line flags that do not fit together, e.g. `--param` without `--action`.
    InvalidFlags = "rune::cli::invalid_flags", Error, None;
    /// `--at` or `SOURCE_DATE_EPOCH` is not an instant rune can plan at.
    InvalidInstant = "rune::cli::invalid_instant", Error, None;
    /// A `--param` that is not `KEY=VALUE`.
    InvalidParam = "rune::cli::invalid_param", Error, None;
    /// A `--params-file` that cannot be read or does not hold a mapping of parameters.
    UnusableParamsFile = "rune::cli::params_file", Error, None;
    /// An `--out` file the plan, or an `--out-dir` directory the man pages, cannot be written to.
    UnwritableOut = "rune::cli::unwritable_out", Error, None;
    /// `rune explain` names no diagnostic code: no name, prefix or protocol number matches.
    UnknownCode = "rune::cli::unknown_code", Error, None;
    /// `rune explain` names a prefix that several diagnostic codes share.
    AmbiguousCode = "rune::cli::ambiguous_code", Error, None;
    /// Standard output could not be written (a closed pipe, a full disk).
    UnwritableStdout = "rune::cli::unwritable_stdout", Error, None;
    /// `rune schema NAME` names no embedded schema.
    UnknownSchema = "rune::cli::unknown_schema", Error, None;
    /// `rune apply PLAN` (or `rune diff`, `rune plan --check`) names a file that is not a plan document rune can read.
    UnusablePlanFile = "rune::apply::plan_file", Error, None;
    /// A saved plan whose catalog files or policy inputs changed since it was made.
    StalePlan = "rune::apply::stale_plan", Error, None;
    /// `rune apply PLAN --expect-digest` names a digest the plan file does not have.
    UnexpectedPlanDigest = "rune::apply::unexpected_digest", Error, None;
}

impl Code {
    /// Look a code up by its full name or its last segment (`duplicate_module`).
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| {
            let full = c.as_str();
            full == name || full.rsplit("::").next() == Some(name)
        })
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A span with the text that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there (may be empty).
    pub message: String,
}

/// One finding of any stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable identifier.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// The primary label first, then secondary ones (possibly in other files).
    pub labels: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity and no labels yet.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: bounded(message.into()),
            labels: Vec::new(),
            help: None,
        }
    }

    /// Add a label; the first one added is the primary location.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: bounded(message.into()),
        });
        self
    }

    /// Set the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(bounded(help.into()));
        self
    }

    /// The primary location, if any.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Whether this diagnostic means input could not be read at all (exit code 2).
    pub fn is_io(&self) -> bool {
        matches!(self.code, Code::Unreadable | Code::NoCatalogs)
    }

    /// Whether this diagnostic is about the command line rather than a catalog: a
    /// usage error (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self.code,
            Code::InvalidFlags
                | Code::InvalidInstant
                | Code::InvalidParam
                | Code::UnusableParamsFile
                | Code::UnwritableOut
                | Code::UnknownSchema
                | Code::UnknownCode
                | Code::AmbiguousCode
                | Code::UnwritableStdout
                | Code::UnusablePlanFile
                | Code::UnknownModule
                | Code::UnknownAction
        )
    }
}

/// Longest backtick-quoted part of a message, label or help, in characters, kept
/// whole; a longer one is a value quoted in full, and is cut in the middle.
const MAX_QUOTED_PART_CHARS: usize = 200;
/// Longest message, label or help, in characters, kept whole.
const MAX_TEXT_CHARS: usize = 1000;

/// `text` made short enough to read, whatever the catalog put in it: each long
/// backtick-quoted part keeps its start and end, and then the whole text too.
/// Messages quote values through `schema::quote`, which shortens them more; this
/// is the bound for every message, so that no value, however it got there, makes a
/// megabyte message.
fn bounded(text: String) -> String {
    let long_part = text.split('`').skip(1).step_by(2).any(|part| {
        part.len() > MAX_QUOTED_PART_CHARS && part.chars().count() > MAX_QUOTED_PART_CHARS
    });
    let text = if long_part {
        let mut out = String::new();
        for (i, part) in text.split('`').enumerate() {
            if i > 0 {
                out.push('`');
            }
            // Odd parts are inside backticks.
            if i % 2 == 1 {
                out.push_str(&cut_middle(part, MAX_QUOTED_PART_CHARS));
            } else {
                out.push_str(part);
            }
        }
        out
    } else {
        text
    };
    if text.len() <= MAX_TEXT_CHARS {
        return text;
    }
    cut_middle(&text, MAX_TEXT_CHARS)
}

/// `text` if it has at most `max` characters, else its start and end around `…`.
fn cut_middle(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let keep = (max - 1) / 2;
    let mut out: String = text.chars().take(keep).collect();
    out.push('…');
    out.extend(text.chars().skip(count - (max - 1 - keep)));
    out
}

/// Sort diagnostics into their reporting order: by file name, position, code, message.
pub(crate) fn sort_diagnostics(diagnostics: &mut [Diagnostic], sources: &SourceMap) {
    diagnostics.sort_by(|a, b| {
        // The name borrowed: a clone here was two allocations per comparison.
        let key = |d: &Diagnostic| {
            d.primary_span().map(|s| {
                (
                    sources.get(s.file).name.as_str(),
                    s.start,
                    std::cmp::Reverse(s.end),
                )
            })
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.code.cmp(&b.code))
            .then_with(|| a.message.cmp(&b.message))
    });
}

/// Sort and deduplicate diagnostics.
pub fn finish(mut diagnostics: Vec<Diagnostic>, sources: &SourceMap) -> Vec<Diagnostic> {
    sort_diagnostics(&mut diagnostics, sources);
    // Two checks can reach the same finding; report it once.
    diagnostics.dedup();
    diagnostics
}

/// "Did you mean" suggestion: the closest candidate within a small edit distance
/// (see [`Suggester`] for the rule).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    Suggester::new(candidates).suggest(word, None)
}

/// Longest word or candidate (in characters) that suggestions are made for. Every
/// name the catalog schema allows is at most 128 characters and time zone names are
/// shorter, so nothing plausible is lost, and no query costs more than a bounded
/// amount however long the misspelt value is.
pub(crate) const MAX_SUGGEST_CHARS: usize = 128;

/// The largest edit distance at which `a` and `b` are still a plausible typo of each
/// other: one edit per three characters of the shorter name, at least one, and none
/// when the shorter has one or two characters (`x` is no typo of `b`, `db` none of
/// `ab`: with so few letters every edit is a different name). Measured on the
/// shorter name so that a short word never matches an unrelated long one.
fn typo_limit(a_chars: usize, b_chars: usize) -> usize {
    match a_chars.min(b_chars) {
        0..=2 => 0,
        shorter => (shorter / 3).max(1),
    }
}

/// Edit-distance work (cells of the distance table) a [`Suggester`] spends on
/// suggestions further than one edit away, across all its queries. Normal catalogs
/// never reach it; a catalog with tens of thousands of misspelt names does, and from
/// then on only case and one-edit typos (which the indexes find at a cost linear in
/// the word) are offered.
const SCAN_BUDGET_CELLS: u64 = 20_000_000;

/// Character comparisons a [`Suggester`] spends confirming what its indexes found,
/// across all its queries. An index hit is usually a real match; only names built to
/// share deletions (or hash collisions) make many hits per query, and this bounds
/// what they cost.
const PROBE_BUDGET_CHARS: u64 = 50_000_000;

/// Answers many "did you mean" queries against one set of names at a bounded cost.
///
/// The suggestion is, in order of preference: a candidate that differs only in case
/// (`API` for `api`); else the closest candidate by Damerau-Levenshtein (optimal
/// string alignment) distance within [`typo_limit`], ties broken by name. Words and
/// candidates longer than [`MAX_SUGGEST_CHARS`] get none.
///
/// Case variants are found through an index of the lower-cased names, one-edit typos
/// through an index of every name with one character deleted (two strings are at most
/// one edit apart only if deleting at most one character from each makes them
/// equal); both are hashes computed in time linear in the name, and each hit is
/// confirmed in linear time within [`PROBE_BUDGET_CHARS`]. Further candidates are
/// found by scanning names of a near length, charged against [`SCAN_BUDGET_CELLS`]
/// before each comparison, so answering one query per catalog entry stays linear in
/// the catalog's size.
pub(crate) struct Suggester<'a> {
    /// Distinct candidates of at most [`MAX_SUGGEST_CHARS`] characters, sorted.
    names: Vec<&'a str>,
    /// Character count of each name.
    chars: Vec<usize>,
    /// Name indices grouped by character count.
    by_len: Vec<Vec<u32>>,
    /// (hash of a name's lower-case form, name index), sorted.
    folded: Vec<(u64, u32)>,
    /// (hash of a name or of a name with one character deleted, name index), sorted.
    deletions: Vec<(u64, u32)>,
    /// Table cells left for scans beyond one edit.
    scan_budget: std::cell::Cell<u64>,
    /// Character comparisons left for confirming index hits.
    probe_budget: std::cell::Cell<u64>,
}

impl<'a> Suggester<'a> {
    /// Index `candidates` (duplicates are fine).
    pub(crate) fn new(candidates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<&str> = candidates
            .into_iter()
            .filter(|n| char_count_within(n, MAX_SUGGEST_CHARS).is_some())
            .collect();
        names.sort_unstable();
        names.dedup();
        let chars: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
        let mut by_len: Vec<Vec<u32>> = vec![Vec::new(); MAX_SUGGEST_CHARS + 1];
        let mut folded = Vec::with_capacity(names.len());
        let mut deletions = Vec::new();
        let mut hashes = Vec::new();
        for (i, name) in names.iter().enumerate() {
            by_len[chars[i]].push(i as u32);
            folded.push((folded_hash(name), i as u32));
            one_deletion_hashes(name, &mut hashes);
            deletions.extend(hashes.iter().map(|&h| (h, i as u32)));
        }
        folded.sort_unstable();
        deletions.sort_unstable();
        Suggester {
            names,
            chars,
            by_len,
            folded,
            deletions,
            scan_budget: std::cell::Cell::new(SCAN_BUDGET_CELLS),
            probe_budget: std::cell::Cell::new(PROBE_BUDGET_CHARS),
        }
    }

    /// The best suggestion for `word`, never `exclude` (e.g. the module that
    /// depends on a misspelling of its own name) nor `word` itself.
    pub(crate) fn suggest(&self, word: &str, exclude: Option<&str>) -> Option<&'a str> {
        let word_chars = char_count_within(word, MAX_SUGGEST_CHARS)?;
        let allowed = |i: usize| self.names[i] != word && Some(self.names[i]) != exclude;

        // A difference in case only: the likeliest slip of all.
        let lower = |s: &'a str| s.chars().flat_map(char::to_lowercase);
        for i in hits(&self.folded, folded_hash(word)) {
            if !self.charge_probe(word_chars.max(self.chars[i])) {
                return None;
            }
            if allowed(i) && lower(self.names[i]).eq(word.chars().flat_map(char::to_lowercase)) {
                // Hits come in name order: the first is the smallest name.
                return Some(self.names[i]);
            }
        }
        if word_chars <= 2 {
            // Too short for any edit to be a plausible typo (see `typo_limit`).
            return None;
        }

        // One edit: through the deletion index.
        let mut hashes = Vec::new();
        one_deletion_hashes(word, &mut hashes);
        hashes.sort_unstable();
        hashes.dedup();
        let mut best: Option<&'a str> = None;
        for &hash in &hashes {
            for i in hits(&self.deletions, hash) {
                let name = self.names[i];
                if best.is_some_and(|b| b <= name) || !allowed(i) {
                    continue;
                }
                if !self.charge_probe(word_chars.max(self.chars[i])) {
                    return best;
                }
                if typo_limit(word_chars, self.chars[i]) >= 1
                    && one_edit_apart(word, word_chars, name, self.chars[i])
                {
                    best = Some(name);
                }
            }
        }
        if best.is_some() {
            // One edit is as close as a different name gets.
            return best;
        }

        // Longer typos: names of a near length, nearest lengths first, while the
        // budget lasts. No candidate is further from the word's length than the
        // limit for the word itself.
        let mut best: Option<(usize, &'a str)> = None;
        let widest = typo_limit(word_chars, word_chars);
        for spread in 0..=widest {
            let lengths = if spread == 0 {
                [Some(word_chars), None]
            } else {
                [word_chars.checked_sub(spread), Some(word_chars + spread)]
            };
            for bucket in lengths
                .into_iter()
                .flatten()
                .filter_map(|l| self.by_len.get(l))
            {
                for &i in bucket {
                    let i = i as usize;
                    let limit = typo_limit(word_chars, self.chars[i]);
                    if limit < 2 || word_chars.abs_diff(self.chars[i]) > limit || !allowed(i) {
                        continue;
                    }
                    // Charged before the work, so one query never overruns.
                    let cost = (word_chars as u64 + 1) * (self.chars[i] as u64 + 1);
                    let Some(left) = self.scan_budget.get().checked_sub(cost) else {
                        return best.map(|(_, name)| name);
                    };
                    self.scan_budget.set(left);
                    let name = self.names[i];
                    let distance = strsim::osa_distance(word, name);
                    if distance <= limit && best.is_none_or(|b| (distance, name) < b) {
                        best = Some((distance, name));
                    }
                }
            }
        }
        best.map(|(_, name)| name)
    }

    /// Take `chars` comparisons from the probe budget; false once it is spent.
    fn charge_probe(&self, chars: usize) -> bool {
        match self.probe_budget.get().checked_sub(chars as u64 + 1) {
            Some(left) => {
                self.probe_budget.set(left);
                true
            }
            None => false,
        }
    }
}

/// The number of characters in `s`, if it is at most `max`; looks at no more than
/// `max` characters (plus the byte length) so an overlong value costs nothing.
fn char_count_within(s: &str, max: usize) -> Option<usize> {
    if s.len() > max * 4 {
        return None;
    }
    let count = s.chars().count();
    (count <= max).then_some(count)
}

/// Name indices stored under `hash` in a sorted `(hash, index)` list, in index order.
fn hits(index: &[(u64, u32)], hash: u64) -> impl Iterator<Item = usize> + '_ {
    let from = index.partition_point(|&(h, _)| h < hash);
    index[from..]
        .iter()
        .take_while(move |&&(h, _)| h == hash)
        .map(|&(_, i)| i as usize)
}

/// Whether `a` and `b` (which differ) are one substitution, insertion, deletion or
/// transposition of neighbours apart, in time linear in their length.
fn one_edit_apart(a: &str, a_chars: usize, b: &str, b_chars: usize) -> bool {
    // A common prefix is the same bytes in both, so it ends at the same offset.
    let prefix = a
        .char_indices()
        .zip(b.chars())
        .find(|&((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((at, _), _)| at);
    let (a, b) = (&a[prefix..], &b[prefix..]);
    match a_chars.cmp(&b_chars) {
        std::cmp::Ordering::Equal => {
            let (mut x, mut y) = (a.chars(), b.chars());
            let (x0, x1, y0, y1) = (x.next(), x.next(), y.next(), y.next());
            rest(a) == rest(b) || (x1.is_some() && x0 == y1 && x1 == y0 && x.as_str() == y.as_str())
        }
        std::cmp::Ordering::Greater => a_chars == b_chars + 1 && rest(a) == b,
        std::cmp::Ordering::Less => b_chars == a_chars + 1 && a == rest(b),
    }
}

/// `s` without its first character.
fn rest(s: &str) -> &str {
    let mut chars = s.chars();
    chars.next();
    chars.as_str()
}

/// Polynomial hashing modulo the Mersenne prime 2^61 - 1: a string's hash, and the
/// hash of the string with any one character deleted, each in constant time from
/// prefix and suffix sums. Collisions only cost a confirming comparison.
mod poly {
    const MODULUS: u64 = (1 << 61) - 1;
    /// An arbitrary fixed base, so that hashes (and suggestions) are deterministic.
    pub(super) const BASE: u64 = 0x5DEE_CE66_D1CE_4E5B % MODULUS;

    pub(super) fn mul(a: u64, b: u64) -> u64 {
        let product = u128::from(a) * u128::from(b);
        // 2^61 is 1 modulo the modulus: fold the high bits onto the low ones.
        let folded = (product & u128::from(MODULUS)) + (product >> 61);
        folded as u64 % MODULUS
    }

    pub(super) fn add(a: u64, b: u64) -> u64 {
        (a + b) % MODULUS
    }

    /// `c`'s digit: never zero, so leading characters count.
    pub(super) fn digit(c: char) -> u64 {
        u64::from(c) + 1
    }

    /// The hash of a sequence of characters.
    pub(super) fn hash(chars: impl Iterator<Item = char>) -> u64 {
        chars.fold(0, |h, c| add(mul(h, BASE), digit(c)))
    }
}

/// The hash of `word` lower-cased.
fn folded_hash(word: &str) -> u64 {
    poly::hash(word.chars().flat_map(char::to_lowercase))
}

/// Into `out`: the hash of `word` and of every string made by deleting one of its
/// characters (equal to [`poly::hash`] of that string), in time linear in `word`.
fn one_deletion_hashes(word: &str, out: &mut Vec<u64>) {
    use poly::{add, mul, BASE as B};
    out.clear();
    let digits: Vec<u64> = word.chars().map(poly::digit).collect();
    let n = digits.len();
    // prefix[i]: hash of the first i characters; suffix[i]: the last n - i
    // characters weighted by their place in the whole word; power[k] = B^k.
    let mut prefix = vec![0; n + 1];
    let mut power = vec![1; n + 1];
    for i in 0..n {
        prefix[i + 1] = add(mul(prefix[i], B), digits[i]);
        power[i + 1] = mul(power[i], B);
    }
    let mut suffix = vec![0; n + 1];
    for i in (0..n).rev() {
        suffix[i] = add(mul(digits[i], power[n - 1 - i]), suffix[i + 1]);
    }
    out.push(prefix[n]);
    // Deleting character i shifts the characters before it down one place.
    out.extend((0..n).map(|i| add(mul(prefix[i], power[n - 1 - i]), suffix[i + 1])));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deletion hashes equal the hashes of the deleted strings, which the index
    /// relies on.
    #[test]
    fn deletion_hashes_match_whole_strings() {
        let of = |w: &str| poly::hash(w.chars());
        let mut hashes = Vec::new();
        one_deletion_hashes("abcé", &mut hashes);
        assert_eq!(
            hashes,
            [of("abcé"), of("bcé"), of("acé"), of("abé"), of("abc")]
        );
        one_deletion_hashes("", &mut hashes);
        assert_eq!(hashes, [of("")]);
    }

    #[test]
    fn one_edit_apart_is_exactly_one_edit() {
        let one = |a: &str, b: &str| one_edit_apart(a, a.chars().count(), b, b.chars().count());
        for (a, b) in [
            ("abc", "abd"),
            ("abc", "acb"),
            ("abc", "abcd"),
            ("abc", "ab"),
            ("é", "e"),
            ("xabc", "abc"),
        ] {
            assert!(one(a, b), "{a} {b}");
            assert_eq!(strsim::osa_distance(a, b), 1);
        }
        for (a, b) in [
            ("abcd", "bcda"),
            ("abc", "cba"),
            ("abc", "a"),
            ("abcd", "abdc1"),
            ("ab", "ba1"),
        ] {
            assert!(!one(a, b), "{a} {b}");
        }
    }

    #[test]
    fn long_values_in_messages_are_cut_in_the_middle() {
        let long = format!("{}{}", "a".repeat(1_000_000), "z");
        let d = Diagnostic::new(Code::InvalidVersion, format!("version `{long}` is bad"))
            .with_help(format!("no `{long}`: {long}"));
        assert!(d.message.starts_with("version `aaaa"), "{}", d.message);
        assert!(d.message.chars().count() < 300, "{}", d.message);
        assert!(d.message.ends_with("az` is bad"), "{}", d.message);
        assert_eq!(
            d.message.chars().count(),
            "version `` is bad".len() + MAX_QUOTED_PART_CHARS
        );
        assert!(d.help.unwrap().chars().count() <= MAX_TEXT_CHARS);
        let short = "`modules[1].capability_declaration.actions[0].category` must be `x`";
        assert_eq!(Diagnostic::new(Code::InvalidFormat, short).message, short);
    }

    #[test]
    fn suggestions_are_close_typos_only() {
        let names = ["api", "config-manager", "secret-store", "db-proxy", "b"];
        assert_eq!(did_you_mean("config-manger", names), Some("config-manager"));
        assert_eq!(did_you_mean("secert-store", names), Some("secret-store"));
        assert_eq!(did_you_mean("db", names), None);
        assert_eq!(did_you_mean("ap", names), None);
        assert_eq!(did_you_mean("x", names), None);
        assert_eq!(did_you_mean("a", names), None);
        assert_eq!(did_you_mean("API", names), Some("api"));
        assert_eq!(did_you_mean("B", names), Some("b"));
        assert_eq!(did_you_mean("apj", names), Some("api"));
        assert_eq!(Suggester::new(names).suggest("apii", Some("api")), None);
    }

    /// A case-only difference beats a closer edit.
    #[test]
    fn case_comes_first() {
        let names = ["Europe/Berlin", "europe/berlim"];
        assert_eq!(did_you_mean("europe/berlin", names), Some("Europe/Berlin"));
    }

    #[test]
    fn long_words_and_candidates_get_no_suggestion() {
        let long = "a".repeat(MAX_SUGGEST_CHARS + 1);
        let longer = format!("{long}b");
        assert_eq!(did_you_mean(&longer, [long.as_str()]), None);
        assert_eq!(did_you_mean(&long[1..], [long.as_str()]), None);
        let fits = "a".repeat(MAX_SUGGEST_CHARS);
        assert_eq!(
            did_you_mean(&fits[1..], [fits.as_str()]),
            Some(fits.as_str())
        );
    }

    /// The indexes give the same answers as a scan of every name.
    #[test]
    fn the_index_agrees_with_a_full_scan() {
        let mut names: Vec<String> = (0..500)
            .map(|i| format!("module-{}", i * 7919 % 10007))
            .collect();
        names.push("Module-77".into());
        let small = |w: &str| {
            if let Some(n) = names
                .iter()
                .filter(|n| *n != w && n.to_lowercase() == w.to_lowercase())
                .min()
            {
                return Some(n.as_str());
            }
            let mut best: Option<(usize, &str)> = None;
            for n in &names {
                let limit = typo_limit(w.chars().count(), n.chars().count());
                let d = strsim::osa_distance(w, n);
                if n != w && d <= limit && best.is_none_or(|b| (d, n.as_str()) < b) {
                    best = Some((d, n));
                }
            }
            best.map(|(_, n)| n)
        };
        let index = Suggester::new(names.iter().map(String::as_str));
        for word in [
            "module-12",
            "modlue-7919",
            "mdule-5",
            "module-99999",
            "xyz",
            "modul-1234",
            "MODULE-77",
            "module-77",
            "mo",
        ] {
            assert_eq!(index.suggest(word, None), small(word), "{word}");
        }
    }
}
