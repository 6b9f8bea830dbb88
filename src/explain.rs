//! Long explanations of diagnostic codes, printed by `rune explain CODE`.
//!
//! The match is exhaustive on purpose: a new code does not compile until it is
//! explained. Each explanation says what the rule is and why it exists, then shows
//! a bad and a fixed example; the test suite validates both examples of every
//! catalog-level code, so they cannot drift from what rune really reports.

use crate::diagnostic::Code;

/// The long explanation of a code, with a bad and a fixed example.
pub fn explanation(code: Code) -> &'static str {
    match code {
        Code::Unreadable => {
            r#"A path given to rune, or found while walking a directory, could not be read:
it does not exist, permissions forbid reading it, or it is not a regular file (a
FIFO, a device or a socket, which could block rune or never end). rune exits with
status 2 (usage or I/O error), because nothing can be said about a catalog it
cannot read.

Bad:

    rune validate catalgs/

Fixed:

    rune validate catalogs/

Check the spelling of the path and that the user running rune can read it.
"#
        }
        Code::NoCatalogs => {
            r#"A directory was given (or ./catalogs was used by default) but holds no file
ending in .yaml, .yml or .json. Hidden files and directories are skipped. This is a
usage error (exit status 2): most often the wrong directory was named.

Bad (a directory of source code, not catalogs):

    rune validate src/

Fixed:

    rune validate catalogs/

Point rune at the directory that holds the catalogs, or pass the files themselves.
"#
        }
        Code::DirectoryTooDeep => {
            r#"A directory given to rune holds directories nested more than 32 levels deep.
rune searches directories recursively for catalogs, but stops at that depth so that a
pathological tree cannot make it walk forever; the directories below are not
searched, and rather than leave their catalogs out silently, rune reports where it
stopped.

Move the catalogs closer to the directory given to rune, or pass the deep directory
itself (`rune validate path/to/deep/catalogs`): the depth counts from each path given.
"#
        }
        Code::FileTooLarge => {
            r#"A catalog file is larger than 64 MiB. rune reads at most that much of a file so
that a wrong path (a log file, a disk image) cannot exhaust memory.

Split the catalog into several files; rune merges every file it is given.
"#
        }
        Code::NotUtf8 => {
            r#"A catalog file is not valid UTF-8. YAML and JSON catalogs are UTF-8 text; the
label points at the first byte that is not.

Re-save the file as UTF-8 (for example `iconv -f LATIN1 -t UTF-8`).
"#
        }
        Code::BinaryFile => {
            r#"A file holds NUL bytes, so it is binary data rather than a YAML or JSON catalog.
This usually means a directory of catalogs also holds an archive or a compiled file
with a .json/.yaml name.

Remove the file from the catalog paths.
"#
        }
        Code::EmptyFile => {
            r#"A catalog file has no YAML document, or only comments, or an explicit null. An
empty file is almost always a mistake (a failed generation step, a truncated copy),
so it is reported instead of silently contributing nothing.

Bad:

    # nothing here yet

Fixed:

    catalog_version: "1"

Give the file content, or delete it.
"#
        }
        Code::YamlSyntax => {
            r#"The file is not well-formed YAML. The label points where the parser gave up,
which can be just after the real mistake. Common causes: an unclosed `[` or `{`, a
tab used for indentation, a `:` inside an unquoted value, inconsistent indentation.
A registration a module sends that cannot be parsed is a JSON-RPC parse error,
EPS -32700; rune uses the same number.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]

Fix the syntax at or just before the labelled position.
"#
        }
        Code::JsonSyntax => {
            r#"A file ending in .json (in any letter case) is not well-formed JSON. Such files
are read as strict JSON (RFC 8259), not as YAML, so that a catalog that loads in rune
also loads in every other tool that reads it: comments, trailing commas, unquoted
keys, single quotes and hex numbers are refused, and the label points at the
offending token. Characters outside the Basic Multilingual Plane may be written as
UTF-16 surrogate pairs (`\ud83d\ude00`, as Python's json.dumps writes them); half a
pair is an error. As for YAML, a registration that cannot be parsed is a JSON-RPC
parse error, EPS -32700.

Bad:

    # file: catalog.json
    {
      "catalog_version": "1",
      "modules": [],
    }

Fixed:

    # file: catalog.json
    {
      "catalog_version": "1",
      "modules": []
    }

Fix the JSON at the labelled token, or rename the file to .yaml to write YAML.
"#
        }
        Code::MultipleDocuments => {
            r#"A catalog file holds exactly one YAML document. A `---` separator starting a
second document is refused, because merging documents silently would hide which one
a module came from.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
    ---
    catalog_version: "1"
    modules:
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Put each document in its own file, or merge them into one document.
"#
        }
        Code::DuplicateKey => {
            r#"A mapping has the same key twice. YAML forbids it, and parsers that accept it
keep one value silently, so which one wins depends on the tool. rune reports both
places and keeps the first. In MRS terms this is a schema validation error (-32200).

Bad:

    catalog_version: "1"
    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Remove one of the two keys.
"#
        }
        Code::AliasLimit => {
            r#"YAML aliases (`*name`) copy the node their anchor (`&name`) marks. Nested aliases
grow exponentially (the "billion laughs" attack: a few lines that expand to billions
of nodes), so rune stops once aliases in one file expand to more than 100,000 nodes,
instead of exhausting memory. Every copy counts: an alias to a collection costs all
the nodes in it (including what aliases inside it expanded to), and a string counts
one more node per 64 bytes, so aliasing a long string many times is stopped too.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          service_metadata:
            a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]
            b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
            c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
            d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
            e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
            f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          service_metadata:
            regions: &regions [eu-west-1, eu-central-1]
            failover_regions: *regions

Write the repeated values out, or alias smaller parts; catalogs rarely need aliases.
"#
        }
        Code::NestingLimit => {
            r#"Collections nested deeper than 128 levels are refused. Real catalogs are shallow;
this depth only comes from generated or malicious input, and refusing it keeps rune's
memory and stack use bounded (the parser would otherwise recurse once per level).

Bad:

    catalog_version: "1"
    modules: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]

Fixed:

    catalog_version: "1"
    modules: []

Flatten the structure; if a generator produced it, fix the generator.
"#
        }
        Code::UnsupportedYaml => {
            r#"The file uses a YAML feature catalogs do not use: a mapping or sequence as a key,
a custom tag such as `!include`, an alias inside the node its anchor marks (a
recursive structure), a merge key (`<<: *base`), or flow collections nested in
each other so large (hundreds of thousands of items) that the parser would have
to hold all of them at once. Catalogs are plain data so that
every tool reads them the same way (MRS -32200 schema validation error). Merge keys
were dropped in YAML 1.2 and tools disagree on their rules: write the keys out, or
alias whole values (`key: *name`), which every YAML reader copies the same way.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle: !builtin { runtime: builtin }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle: { runtime: builtin }

Remove the tag, complex key or merge key; write the value out.
"#
        }
        Code::UnknownKey => {
            r#"A key that the catalog schema does not define at that place (MRS -32200). The
catalog format is strict: a misspelled key would otherwise be ignored silently, and
the setting the author meant would never apply. The help names the closest key.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle:
          runtime: builtin
          timeout: { ready_ms: 1000 }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle:
          runtime: builtin
          timeouts: { ready_ms: 1000 }

Fix the spelling, or move the key where it belongs; `rune schema` shows the format.
"#
        }
        Code::MissingField => {
            r#"A field the format requires is missing (MRS -32201 required field missing). The
label sits on the key of the mapping that lacks it.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0 }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Add the field.
"#
        }
        Code::WrongType => {
            r#"A value has the wrong type (MRS -32202 type mismatch): a number where a string is
expected, a list where a mapping is expected. The message names the value's full path
(`modules[0].lifecycle.timeouts.ready_ms`) and the value found.

rune reads YAML 1.2, which types an unquoted value by how it looks:

- `module_version: 1.10` is the number 1.1 (a number keeps no trailing zeros) and
  `catalog_version: 1` the number 1: quote text that looks like a number, `"1.10"`.
- Booleans are `true` and `false` only. `yes`, `no`, `on` and `off` (booleans in
  YAML 1.1) are strings, and so is a quoted `"true"`.

The help under the message says which of these happened and what to write.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle: { runtime: builtin, timeouts: { ready_ms: "ten seconds" } }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle: { runtime: builtin, timeouts: { ready_ms: 10000 } }

Write the value with the type the format expects.
"#
        }
        Code::OutOfRange => {
            r#"A number, string length or list length is outside its allowed range (MRS -32203),
for example a negative timeout or an empty exec list.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle: { runtime: builtin, timeouts: { ready_ms: -1 } }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        lifecycle: { runtime: builtin, timeouts: { ready_ms: 1000 } }

Use a value inside the range the message names.
"#
        }
        Code::InvalidFormat => {
            r#"A string does not have its required format, or a value is not one of the allowed
choices (MRS -32204): an unknown `criticality`, a `category` other than remediation or
diagnostic, a malformed UUID or timestamp, an event type not in UPPER_SNAKE_CASE.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, criticality: sometimes }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, criticality: optional }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Use one of the allowed values the message lists.
"#
        }
        Code::SchemaViolation => {
            r#"The catalog breaks a schema rule that has no more specific code (MRS -32200
schema validation error): a list whose entries must be unique repeats one, a
workflow condition has both or neither of `equals` and `not_equals`, a workflow or
override name does not match the name rules.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: plugin, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: diagnostic, impact: low }
    workflows:
      check:
        steps:
          - { id: first, action: nomad-status }
          - { id: second, action: nomad-status, needs: [first, first] }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: plugin, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: diagnostic, impact: low }
    workflows:
      check:
        steps:
          - { id: first, action: nomad-status }
          - { id: second, action: nomad-status, needs: [first] }

Read the message and `rune schema catalog` for the rule at that place.
"#
        }
        Code::DuplicateModule => {
            r#"Two registrations use the same module_name (MRS -32205 duplicate module name).
Names are unique across all catalog files given to rune, because dependencies, plans
and routing find modules by name. Both places are shown.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.1.0, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
      - module_identity: { module_name: invoicing, module_class: Svc, module_type: service, module_version: 1.1.0, description: Example }

Rename one module, or remove the stale registration.
"#
        }
        Code::MissingDependency => {
            r#"A required dependency names a module that no catalog registers (MRS -32206
dependency not found). The dependent could never become available, so startup would
fail; rune reports it before anything runs.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, criticality: required }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, criticality: required }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Register the module, fix the name (see the did-you-mean hint), or validate the catalog that holds it too.
"#
        }
        Code::MissingOptionalDependency => {
            r#"An optional dependency names a module that is not registered (a warning, MRS
-32206). Optional dependencies order startup only when the module is present, so this
is allowed, but it is often a typo. `--deny-warnings` turns it into a failure.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: metrics, criticality: optional }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: metrics, criticality: optional }
      - module_identity: { module_name: metrics, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Fix the name, register the module, or remove the dependency.
"#
        }
        Code::DuplicateDependency => {
            r#"A module lists the same module twice under technical_requirements.dependencies
(an invalid registration, MRS -32200). The two entries may disagree on the version
requirement or criticality, and nothing says which one counts.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, version_requirement: ">=1.0.0", criticality: required }
            - { module_name: ledger, criticality: optional }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.4.2, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, version_requirement: ">=1.0.0", criticality: required }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.4.2, description: Example }

Keep one entry, with the requirement and criticality you mean.
"#
        }
        Code::VersionConflict => {
            r#"The depended-on module exists, but its module_version does not satisfy the
dependency's version_requirement (MRS -32207 version conflict). Requirements use
semver syntax: `>=2.0.0`, `^1.4`, `>=1.0.0, <2.0.0`.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, version_requirement: ">=2.0.0", criticality: required }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.4.2, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, version_requirement: ">=1.4.0", criticality: required }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.4.2, description: Example }

Two semver rules decide most surprises:

- A bare version is a caret requirement: `1.2.0` means `^1.2.0`, that is >=1.2.0,
  <2.0.0 (for 0.x versions, `0.3.1` means >=0.3.1, <0.4.0).
- Pre-releases: a requirement matches a pre-release version (`2.0.0-rc.1`) only if
  it names a pre-release of the same MAJOR.MINOR.PATCH itself. `>=1.0.0` does not
  match `2.0.0-rc.1`; `>=2.0.0-rc.1` or `>=2.0.0-0` does.

Relax the requirement or register a version that satisfies it.
"#
        }
        Code::InvalidVersionRequirement => {
            r#"A version_requirement is not a semver requirement (MRS -32204), so it cannot
be checked against the dependency's version.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, version_requirement: "at least 1.4", criticality: required }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.4.2, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: ledger, version_requirement: ">=1.4.0", criticality: required }
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.4.2, description: Example }

Write a requirement like `>=1.2.0`, `^2.0` or `>=1.0.0, <2.0.0`.
"#
        }
        Code::EventConflict => {
            r#"Two modules provide the same event type (MRS -32208 event type conflict). An event
type has one owner, which defines its data_schema; two owners could publish
incompatible data under one name.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: INVOICE_CREATED, description: An event, schema_version: "1.0", data_schema: { type: object } }
      - module_identity: { module_name: invoicing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: INVOICE_CREATED, description: An event, schema_version: "1.0", data_schema: { type: object } }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: INVOICE_CREATED, description: An event, schema_version: "1.0", data_schema: { type: object } }
      - module_identity: { module_name: invoicing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          consumes_events: [INVOICE_CREATED]

Rename one event type, or let the second module consume the first one's event.
"#
        }
        Code::UnprovidedEvent => {
            r#"A module consumes an event type that no registered module provides (a warning).
The module would wait for events that never come; usually a typo or a missing
catalog.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          consumes_events: [LEDGER_CLOSED]

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          consumes_events: [LEDGER_CLOSED]
      - module_identity: { module_name: ledger, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: LEDGER_CLOSED, description: An event, schema_version: "1.0", data_schema: { type: object } }

Fix the event type name or register the module that provides it.
"#
        }
        Code::DuplicateConsumedEvent => {
            r#"A module lists the same event type twice in consumes_events. An event is
delivered once to each consumer, so the second entry does nothing; it is usually a
copy-and-paste slip where another event type was meant. A warning: it fails
validation only with --deny-warnings.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: audit, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: ORDER_PLACED, description: An order, schema_version: "1.0", data_schema: { type: object } }
          consumes_events: [ORDER_PLACED, ORDER_PLACED]

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: audit, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: ORDER_PLACED, description: An order, schema_version: "1.0", data_schema: { type: object } }
          consumes_events: [ORDER_PLACED]

Remove the repeated entry, or name the event type that was meant.
"#
        }
        Code::EventCaseMismatch => {
            r#"A module consumes an event type that no module provides, but one that differs
only in upper and lower case is provided. Event types are case-sensitive, so the
consumer would never receive it. A warning (like unprovided_event, which this
replaces for near-misses of case): it fails validation only with --deny-warnings.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: audit, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: ORDER_PLACED, description: An order, schema_version: "1.0", data_schema: { type: object } }
          consumes_events: [order_placed]

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: audit, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - { event_type: ORDER_PLACED, description: An order, schema_version: "1.0", data_schema: { type: object } }
          consumes_events: [ORDER_PLACED]

Spell the event type exactly as its provider does.
"#
        }
        Code::DependencyCycle => {
            r#"Modules depend on each other in a cycle, so none of them can start first. The
message names the whole cycle and labels every dependency on it; removing any one of
them breaks the cycle. Optional dependencies count too, since they order startup
when the module is present.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: api, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: auth, criticality: required }
      - module_identity: { module_name: auth, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: api, criticality: required }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: api, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          dependencies:
            - { module_name: auth, criticality: required }
      - module_identity: { module_name: auth, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Remove one of the labelled dependencies; a module that needs a late peer should find it at run time, not at startup.
"#
        }
        Code::InvalidName => {
            r#"A module, dependency or action name uses characters rune does not allow (MRS
-32204). Names use letters, digits, `-`, `_` and `.`, start with a letter or digit,
and are at most 128 characters, so they are safe in file names, URLs and shells.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: "billing service", module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing-service, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Rename it, e.g. replace spaces with `-`.
"#
        }
        Code::InvalidVersion => {
            r#"module_version is not a semantic version MAJOR.MINOR.PATCH (MRS -32204). Dependency
requirements are checked with semver, so every version must be one. Note that
`1.0` is also a YAML number; write `1.0.0`.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: "1.0", description: Example }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }

Use MAJOR.MINOR.PATCH, e.g. `1.0.0` or `2.1.0-rc.1`.
"#
        }
        Code::DuplicateAction => {
            r#"Two actions share a name. `rune run ACTION` and workflows find actions by name
across the whole catalog, so a name must be unique even between modules.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: nomad-ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: restart, description: An action, category: remediation, impact: low }
      - module_identity: { module_name: consul-ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: restart, description: An action, category: remediation, impact: low }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: nomad-ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: restart-nomad, description: An action, category: remediation, impact: low }
      - module_identity: { module_name: consul-ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: restart-consul, description: An action, category: remediation, impact: low }

Rename one of them, e.g. prefix the name with what it acts on.
"#
        }
        Code::InvalidEmbeddedSchema => {
            r#"An embedded schema (input_schema, output_schema, data_schema or
configuration_schema) is not a valid JSON Schema 2020-12, or cannot be compiled (an
invalid regular expression, a `$ref` to another document). Such a schema would reject
or accept data unpredictably at run time (MRS -32200 schema validation error).

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - action: flush-cache
              description: Flush a cache
              category: remediation
              impact: low
              input_schema: { type: object, properties: { cache: { type: strnig } } }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - action: flush-cache
              description: Flush a cache
              category: remediation
              impact: low
              input_schema: { type: object, properties: { cache: { type: string } } }

Fix the schema at the labelled place; schemas must be self-contained.
"#
        }
        Code::ExampleDataMismatch => {
            r#"An event's example_data does not validate against its own data_schema. Examples
are documentation and test data for consumers; a wrong one misleads them (MRS -32200
schema validation error). Both the failing value and the schema rule are labelled.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - event_type: INVOICE_CREATED
              description: An invoice was created
              schema_version: "1.0"
              data_schema: { type: object, properties: { amount_cents: { type: integer, minimum: 0 } } }
              example_data: { amount_cents: -5 }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: billing, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          provides_events:
            - event_type: INVOICE_CREATED
              description: An invoice was created
              schema_version: "1.0"
              data_schema: { type: object, properties: { amount_cents: { type: integer, minimum: 0 } } }
              example_data: { amount_cents: 1250 }

Fix the example, or the schema if the example shows data that is really valid.
"#
        }
        Code::ConfigMismatch => {
            r#"A module's lifecycle.config does not validate against its
technical_requirements.configuration_schema. The config is handed to the module in
`initialize`; a module must never receive configuration it declared invalid (MRS
-32200 schema validation error).

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: gateway, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          configuration_schema: { type: object, properties: { max_connections: { type: integer } } }
        lifecycle: { runtime: builtin, config: { max_connections: many } }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: gateway, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        technical_requirements:
          supported_protocols: [rcs_v2]
          configuration_schema: { type: object, properties: { max_connections: { type: integer } } }
        lifecycle: { runtime: builtin, config: { max_connections: 2048 } }

Fix the config value, or the schema.
"#
        }
        Code::DuplicatePolicy => {
            r#"More than one catalog file has a `policy` section. Policy decides what may run
when; keeping it in one place means one review decides it. Merging several would
make the result depend on file order, which is too subtle to rely on.

Bad:

    # file: base.yaml
    catalog_version: "1"
    policy:
      maintenance_mode: { enabled: false }
    # file: freeze.yaml
    catalog_version: "1"
    policy:
      maintenance_mode: { enabled: true, reason: year-end freeze }

Fixed:

    # file: base.yaml
    catalog_version: "1"
    policy:
      maintenance_mode: { enabled: true, reason: year-end freeze }

Merge the policy sections into one file.
"#
        }
        Code::UnknownTimeZone => {
            r#"A change window names a time zone that is not in the IANA database that rune
carries. Windows are evaluated in their zone, including daylight-saving changes, so
the zone must be exact (MRS -32204 invalid format).

Bad:

    catalog_version: "1"
    policy:
      change_windows:
        - { name: office-hours, timezone: Europe/Berln, start: "09:00", end: "17:00" }

Fixed:

    catalog_version: "1"
    policy:
      change_windows:
        - { name: office-hours, timezone: Europe/Berlin, start: "09:00", end: "17:00" }

Use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`.
"#
        }
        Code::InertChangeWindow => {
            r#"A change window whose `applies_to.categories`, `applies_to.impacts` or `days` is
written as an empty list. In a policy, a list left out means all and a list written
empty means none, so the window governs no action (empty `applies_to` list) or never
opens (empty `days`, which denies every action it governs). Either is almost always
a mistake, so it is a warning: it fails validation only with --deny-warnings.

Bad:

    catalog_version: "1"
    policy:
      change_windows:
        - { name: weekdays, timezone: UTC, start: "08:00", end: "18:00", applies_to: { categories: [], impacts: [high] } }

Fixed:

    catalog_version: "1"
    policy:
      change_windows:
        - { name: weekdays, timezone: UTC, start: "08:00", end: "18:00", applies_to: { impacts: [high] } }

Leave the list out to mean every category, impact or day, or list the ones meant.
"#
        }
        Code::UnknownPolicyAction => {
            r#"A policy override names an action no module provides (a warning). The override
has no effect; usually the action was renamed or misspelled.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: restart-nomad, description: An action, category: remediation, impact: low }
    policy:
      overrides:
        restart-nomd: { timeout_ms: 120000 }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: restart-nomad, description: An action, category: remediation, impact: low }
    policy:
      overrides:
        restart-nomad: { timeout_ms: 120000 }

Fix the action name or remove the override.
"#
        }
        Code::DuplicateWorkflow => {
            r#"Two catalog files declare a workflow with the same name. Workflows are run by
name, so names are unique across files. (Within one file, the same key twice is a
`rune::load::duplicate_key`.)

Bad:

    # file: ops.yaml
    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: plugin, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: diagnostic, impact: low }
    workflows:
      check:
        steps:
          - { id: status, action: nomad-status }
    # file: team.yaml
    catalog_version: "1"
    workflows:
      check:
        steps:
          - { id: status, action: nomad-status }

Fixed:

    # file: ops.yaml
    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: plugin, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: diagnostic, impact: low }
    workflows:
      check:
        steps:
          - { id: status, action: nomad-status }
    # file: team.yaml
    catalog_version: "1"
    workflows:
      team-check:
        steps:
          - { id: status, action: nomad-status }

Rename one of them.
"#
        }
        Code::UnknownWorkflowAction => {
            r#"A workflow step runs an action that no module provides, so the workflow could
never run.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: status, action: nomad-stats }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: status, action: nomad-status }

Fix the action name (see the did-you-mean hint).
"#
        }
        Code::InvalidStepReference => {
            r#"A workflow reference does not resolve: `needs` names a step that does not exist,
a `$from`/`when` reference names an unknown step or undeclared input (or the workflow
declares no `inputs` at all), or a step reads the output of a step it does not
(transitively) need — which could still be running.

References have exactly two forms: `inputs.NAME`, and `steps.ID.output.FIELD` (more
`.FIELD`s reach into the output). `steps.ID.FIELD` without `.output.` is refused. A
reference is a mapping whose only key is `$from`: `{ $from: inputs.node, extra: 1 }`
is refused rather than passed on as a literal object.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: first, action: nomad-status }
          - { id: second, action: nomad-status, needs: [frist], params: { node: { $from: steps.first.output.node } } }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: first, action: nomad-status }
          - { id: second, action: nomad-status, needs: [first], params: { node: { $from: steps.first.output.node } } }

Fix the step id, declare the input, or add the step to `needs`.
"#
        }
        Code::DuplicateStep => {
            r#"Two steps in one workflow have the same id; `needs` and `$from` could not tell
them apart.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: status, action: nomad-status }
          - { id: status, action: nomad-status }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: status, action: nomad-status }
          - { id: status-again, action: nomad-status }

Give each step its own id.
"#
        }
        Code::StepParamsMismatch => {
            r#"A workflow step's params do not match the input_schema of the action it runs
(MRS -32200): a required parameter is missing, a key is not a parameter, or a literal
value has the wrong type or fails another rule. Literal values are checked when the
catalog is validated, so the workflow does not fail halfway through a run. A value
written as a reference (`{ $from: inputs.NAME }` or `{ $from:
steps.ID.output.FIELD }`) is only known at run time: its key counts as given, its
value is not checked here.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - action: collect-logs
              description: Collect logs
              category: diagnostic
              impact: low
              input_schema:
                type: object
                required: [node]
                properties: { node: { type: string }, lines: { type: integer } }
                additionalProperties: false
    workflows:
      logs:
        steps:
          - { id: collect, action: collect-logs, params: { lines: many, service: nomad } }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - action: collect-logs
              description: Collect logs
              category: diagnostic
              impact: low
              input_schema:
                type: object
                required: [node]
                properties: { node: { type: string }, lines: { type: integer } }
                additionalProperties: false
    workflows:
      logs:
        inputs: { type: object, properties: { node: { type: string } } }
        steps:
          - { id: collect, action: collect-logs, params: { node: { $from: inputs.node }, lines: 500 } }

Give every required parameter (a literal or a reference), drop keys the schema does
not declare, and write literals of the declared types.
"#
        }
        Code::WorkflowCycle => {
            r#"Steps of a workflow need each other in a cycle, so none can run first.

Bad:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: a, action: nomad-status, needs: [b] }
          - { id: b, action: nomad-status, needs: [a] }

Fixed:

    catalog_version: "1"
    modules:
      - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }
        capability_declaration:
          actions:
            - { action: nomad-status, description: An action, category: remediation, impact: low }
    workflows:
      check:
        steps:
          - { id: a, action: nomad-status }
          - { id: b, action: nomad-status, needs: [a] }

Remove one of the labelled `needs`.
"#
        }
        Code::UnknownModule => {
            r#"`rune plan --target MODULE` names a module that is not in the catalog. This is a
usage error (exit status 2); the help names the closest module.

Bad:

    rune plan --target config-manger

Fixed:

    rune plan --target config-manager

Check the name with `rune graph` or fix the spelling.
"#
        }
        Code::UnknownAction => {
            r#"`rune plan --action NAME` (or `rune run NAME`) names an action no module provides.
This is a usage error (exit status 2); the help names the closest action.

Bad:

    rune plan --action nomad-stats -p node=worker-3

Fixed:

    rune plan --action nomad-status -p node=worker-3

`rune list-actions` shows every action.
"#
        }
        Code::InvalidParameter => {
            r#"An action parameter does not satisfy the action's input_schema (MRS -32200): a
missing required parameter, an unknown one, a wrong type or a value out of range.
Parameters are checked at plan time, so a bad request fails the dry run before
anything runs, and a plugin never sees input its schema does not allow.

Bad:

    rune plan --action nomad-status -p nod=worker-3

Fixed:

    rune plan --action nomad-status -p node=worker-3

`rune list-actions --module M` shows each action's parameters.
"#
        }
        Code::PolicyDenied => {
            r#"Policy denied a planned step (EPS -32300, security): maintenance mode denies
remediation, a change window governs the action and the instant is outside it, or a
high-impact action lacks a break-glass acknowledgment. The plan names the rule that
decided. Exit status 1. Policy lives in the catalog and is owned by rune, never by
plugins, so a denial is the same in a dry run and in `rune apply`.

Bad (high impact, no acknowledgment):

    rune plan --at 2026-03-26T09:00:00Z --action restart-nomad -p node=worker-3

Fixed:

    rune plan --at 2026-03-26T09:00:00Z --action restart-nomad -p node=worker-3 --ack restart-nomad --reason "agent wedged"

Wait for the window (`--at TIME` shows a plan at another instant), end maintenance,
or acknowledge a high-impact action explicitly with `--ack` and `--reason`.
"#
        }
        Code::InvalidFlags => include_str!("explain/codes/invalid_flags.md"),
        Code::InvalidInstant => include_str!("explain/codes/invalid_instant.md"),
        Code::InvalidParam => include_str!("explain/codes/invalid_param.md"),
        Code::UnusableParamsFile => include_str!("explain/codes/params_file.md"),
        Code::UnwritableOut => include_str!("explain/codes/unwritable_out.md"),
        Code::UnknownSchema => include_str!("explain/codes/unknown_schema.md"),
    }
}
