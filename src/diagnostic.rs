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
    /// A dependency's module_version does not satisfy the version_requirement.
    VersionConflict = "rune::check::version_conflict", Error, Some(-32207);
    /// A version_requirement that is not a valid semver requirement.
    InvalidVersionRequirement = "rune::check::invalid_version_requirement", Error, Some(-32204);
    /// Two modules provide the same event type.
    EventConflict = "rune::check::event_conflict", Error, Some(-32208);
    /// A module consumes an event type no module provides.
    UnprovidedEvent = "rune::check::unprovided_event", Warning, None;
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

/// "Did you mean" suggestion: the closest candidate within a small edit distance.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|&(d, c)| d <= (word.len().max(c.len()) / 3).max(2))
        .min()
        .map(|(_, c)| c)
}
