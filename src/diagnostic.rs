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

    /// A plan selector names a module that is not in the catalog.
    UnknownModule = "rune::plan::unknown_module", Error, None;
    /// A plan selector names an action no module provides.
    UnknownAction = "rune::plan::unknown_action", Error, None;
    /// An action parameter that does not satisfy the action's input_schema.
    InvalidParameter = "rune::plan::invalid_parameter", Error, Some(-32200);
    /// Policy denied a planned step.
    PolicyDenied = "rune::plan::policy_denied", Error, Some(-32300);
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
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    /// Add a label; the first one added is the primary location.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Set the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
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
}

/// Sort diagnostics into their reporting order: by file name, position, code, message.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic], sources: &SourceMap) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            d.primary_span().map(|s| {
                (
                    sources.get(s.file).name.clone(),
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
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    Suggester::new(candidates).suggest(word, None)
}

/// The largest edit distance at which `a` and `b` are still a plausible typo of each
/// other: one edit per three characters of the shorter name, at least one. Measured
/// on the shorter name so that a short word never matches an unrelated long one,
/// and a two-letter word (`db`) only ever differs by one edit from its suggestion.
fn typo_limit(a_chars: usize, b_chars: usize) -> usize {
    (a_chars.min(b_chars) / 3).max(1)
}

/// Edit-distance work (cells of the distance table) a [`Suggester`] spends on
/// suggestions further than one edit away, across all its queries. Normal catalogs
/// never reach it; a catalog with tens of thousands of misspelt names does, and from
/// then on only one-edit typos (which the index finds at constant cost) are offered.
const SCAN_BUDGET_CELLS: u64 = 20_000_000;

/// Candidate lists shorter than this are scanned whole; longer ones get an index.
const INDEX_FROM: usize = 64;

/// Answers many "did you mean" queries against one set of names at a bounded cost.
///
/// A suggestion is the candidate with the smallest Damerau-Levenshtein (optimal
/// string alignment) distance to the word, ties broken by name, within
/// [`typo_limit`]. Candidates one edit away are found through an index of every
/// name with one character deleted (two strings are at most one edit apart only if
/// deleting at most one character from each makes them equal), so the common typo
/// costs a few hash lookups however large the catalog. Further candidates are found
/// by scanning names of a near length, within [`SCAN_BUDGET_CELLS`] in all, so
/// answering one query per catalog entry stays linear in the catalog's size.
pub struct Suggester<'a> {
    /// Distinct candidates, sorted.
    names: Vec<&'a str>,
    /// Character count of each name.
    chars: Vec<usize>,
    /// Name indices grouped by character count.
    by_len: Vec<Vec<u32>>,
    /// (hash of a name or of a name with one character deleted, name index), sorted;
    /// empty for short lists.
    deletions: Vec<(u64, u32)>,
    /// Table cells left for scans beyond one edit.
    budget: std::cell::Cell<u64>,
}

impl<'a> Suggester<'a> {
    /// Index `candidates` (duplicates are fine).
    pub fn new(candidates: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<&str> = candidates.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        let chars: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
        let mut by_len: Vec<Vec<u32>> = Vec::new();
        for (i, &len) in chars.iter().enumerate() {
            if by_len.len() <= len {
                by_len.resize_with(len + 1, Vec::new);
            }
            by_len[len].push(i as u32);
        }
        let mut deletions = Vec::new();
        if names.len() >= INDEX_FROM {
            for (i, name) in names.iter().enumerate() {
                deletions.extend(one_deletion_hashes(name).map(|h| (h, i as u32)));
            }
            deletions.sort_unstable();
        }
        Suggester {
            names,
            chars,
            by_len,
            deletions,
            budget: std::cell::Cell::new(SCAN_BUDGET_CELLS),
        }
    }

    /// The best suggestion for `word`, never `exclude` (e.g. the module that
    /// depends on a misspelling of its own name) nor `word` itself.
    pub fn suggest(&self, word: &str, exclude: Option<&str>) -> Option<&'a str> {
        let word_chars = word.chars().count();
        let mut best: Option<(usize, &'a str)> = None;
        let consider = |i: usize, best: &mut Option<(usize, &'a str)>| {
            let name = self.names[i];
            if name == word || Some(name) == exclude {
                return;
            }
            let limit = typo_limit(word_chars, self.chars[i]);
            if word_chars.abs_diff(self.chars[i]) > limit {
                return;
            }
            let distance = strsim::osa_distance(word, name);
            if distance <= limit && best.is_none_or(|b| (distance, name) < b) {
                *best = Some((distance, name));
            }
        };
        if self.deletions.is_empty() {
            (0..self.names.len()).for_each(|i| consider(i, &mut best));
            return best.map(|(_, name)| name);
        }
        for hash in one_deletion_hashes(word) {
            let from = self.deletions.partition_point(|&(h, _)| h < hash);
            for &(h, i) in &self.deletions[from..] {
                if h != hash {
                    break;
                }
                consider(i as usize, &mut best);
            }
        }
        if best.is_some() {
            // One edit is as close as a different name gets.
            return best.map(|(_, name)| name);
        }
        // Longer typos: names of a near length, nearest lengths first, while the
        // budget lasts.
        let widest = (word_chars / 3).max(1);
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
                    let cost = (word_chars as u64 + 1) * (self.chars[i as usize] as u64 + 1);
                    let Some(left) = self.budget.get().checked_sub(cost) else {
                        return best.map(|(_, name)| name);
                    };
                    self.budget.set(left);
                    consider(i as usize, &mut best);
                }
            }
        }
        best.map(|(_, name)| name)
    }
}

/// Hashes of `word` and of every string made by deleting one character of it.
fn one_deletion_hashes(word: &str) -> impl Iterator<Item = u64> + '_ {
    use std::hash::Hasher;
    let hash = |parts: [&str; 2]| {
        let mut hasher = std::hash::DefaultHasher::new();
        for part in parts {
            hasher.write(part.as_bytes());
        }
        hasher.finish()
    };
    std::iter::once(hash([word, ""])).chain(
        word.char_indices()
            .map(move |(at, c)| hash([&word[..at], &word[at + c.len_utf8()..]])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashing a string in two pieces equals hashing it whole, which the deletion
    /// index relies on.
    #[test]
    fn deletion_hashes_match_whole_strings() {
        let of = |w: &str| one_deletion_hashes(w).next().unwrap();
        let deletions: Vec<u64> = one_deletion_hashes("abc").skip(1).collect();
        assert_eq!(deletions, [of("bc"), of("ac"), of("ab")]);
    }

    #[test]
    fn suggestions_are_close_typos_only() {
        let names = ["api", "config-manager", "secret-store", "db-proxy"];
        assert_eq!(did_you_mean("config-manger", names), Some("config-manager"));
        assert_eq!(did_you_mean("secert-store", names), Some("secret-store"));
        assert_eq!(did_you_mean("db", names), None);
        assert_eq!(did_you_mean("ap", names), Some("api"));
        assert_eq!(Suggester::new(names).suggest("apii", Some("api")), None);
    }

    /// The index gives the same answers as a scan of every name.
    #[test]
    fn the_index_agrees_with_a_full_scan() {
        let names: Vec<String> = (0..500)
            .map(|i| format!("module-{}", i * 7919 % 10007))
            .collect();
        let small = |w: &str| {
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
        ] {
            assert_eq!(index.suggest(word, None), small(word), "{word}");
        }
    }
}
