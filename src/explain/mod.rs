//! Long explanations of diagnostic codes, printed by `rune explain CODE`.
//!
//! Each explanation is a markdown file, `codes/<short name>.md`, embedded in the
//! binary (as rustc embeds its error codes), so the prose is edited as prose and
//! reviewed as a file of its own. The match below is the one table from code to
//! file; it is exhaustive on purpose: a new code does not compile until it is
//! explained. Each explanation says what the rule is and why it exists, then shows
//! a bad and a fixed example; the test suite validates both examples of every
//! catalog-level code, so they cannot drift from what rune really reports.

use crate::diagnostic::Code;
use crate::exec::eps::Kind;

/// The long explanation of a code, with a bad and a fixed example.
pub fn explanation(code: Code) -> &'static str {
    match code {
        Code::Unreadable => include_str!("codes/unreadable.md"),
        Code::NoCatalogs => include_str!("codes/no_catalogs.md"),
        Code::DirectoryTooDeep => include_str!("codes/directory_too_deep.md"),
        Code::FileTooLarge => include_str!("codes/file_too_large.md"),
        Code::NotUtf8 => include_str!("codes/not_utf8.md"),
        Code::BinaryFile => include_str!("codes/binary_file.md"),
        Code::EmptyFile => include_str!("codes/empty_file.md"),
        Code::YamlSyntax => include_str!("codes/yaml_syntax.md"),
        Code::JsonSyntax => include_str!("codes/json_syntax.md"),
        Code::MultipleDocuments => include_str!("codes/multiple_documents.md"),
        Code::DuplicateKey => include_str!("codes/duplicate_key.md"),
        Code::AliasLimit => include_str!("codes/alias_limit.md"),
        Code::NestingLimit => include_str!("codes/nesting_limit.md"),
        Code::UnsupportedYaml => include_str!("codes/unsupported_yaml.md"),
        Code::UnknownKey => include_str!("codes/unknown_key.md"),
        Code::MissingField => include_str!("codes/missing_field.md"),
        Code::WrongType => include_str!("codes/wrong_type.md"),
        Code::OutOfRange => include_str!("codes/out_of_range.md"),
        Code::InvalidFormat => include_str!("codes/invalid_format.md"),
        Code::SchemaViolation => include_str!("codes/violation.md"),
        Code::DuplicateModule => include_str!("codes/duplicate_module.md"),
        Code::MissingDependency => include_str!("codes/missing_dependency.md"),
        Code::MissingOptionalDependency => include_str!("codes/missing_optional_dependency.md"),
        Code::DuplicateDependency => include_str!("codes/duplicate_dependency.md"),
        Code::VersionConflict => include_str!("codes/version_conflict.md"),
        Code::InvalidVersionRequirement => include_str!("codes/invalid_version_requirement.md"),
        Code::EventConflict => include_str!("codes/event_conflict.md"),
        Code::UnprovidedEvent => include_str!("codes/unprovided_event.md"),
        Code::DuplicateConsumedEvent => include_str!("codes/duplicate_consumed_event.md"),
        Code::EventCaseMismatch => include_str!("codes/event_case_mismatch.md"),
        Code::DependencyCycle => include_str!("codes/dependency_cycle.md"),
        Code::InvalidName => include_str!("codes/invalid_name.md"),
        Code::InvalidVersion => include_str!("codes/invalid_version.md"),
        Code::DuplicateAction => include_str!("codes/duplicate_action.md"),
        Code::InvalidEmbeddedSchema => include_str!("codes/invalid_embedded_schema.md"),
        Code::ExampleDataMismatch => include_str!("codes/example_data_mismatch.md"),
        Code::ConfigMismatch => include_str!("codes/config_mismatch.md"),
        Code::DuplicatePolicy => include_str!("codes/duplicate_policy.md"),
        Code::UnknownTimeZone => include_str!("codes/unknown_time_zone.md"),
        Code::InertChangeWindow => include_str!("codes/inert_change_window.md"),
        Code::UnknownPolicyAction => include_str!("codes/unknown_policy_action.md"),
        Code::DuplicateWorkflow => include_str!("codes/duplicate_workflow.md"),
        Code::UnknownWorkflowAction => include_str!("codes/unknown_workflow_action.md"),
        Code::InvalidStepReference => include_str!("codes/invalid_step_reference.md"),
        Code::DuplicateStep => include_str!("codes/duplicate_step.md"),
        Code::StepParamsMismatch => include_str!("codes/step_params_mismatch.md"),
        Code::WorkflowCycle => include_str!("codes/workflow_cycle.md"),
        // workflows: validation
        Code::ReferenceTypeMismatch => include_str!("codes/reference_type_mismatch.md"),
        Code::MissingStepParameter => include_str!("codes/missing_step_parameter.md"),
        Code::InvalidWorkflowInputs => include_str!("codes/invalid_workflow_inputs.md"),
        Code::UnknownCompensationAction => include_str!("codes/unknown_compensation_action.md"),
        Code::StepNeverRuns => include_str!("codes/step_never_runs.md"),
        Code::NodeAndNodes => include_str!("codes/node_and_nodes.md"),
        Code::FanOutWithoutPlugin => include_str!("codes/fan_out_without_plugin.md"),
        Code::NodeWithoutPlugin => include_str!("codes/node_without_plugin.md"),
        Code::RequiredParameterFromOptionalInput => {
            include_str!("codes/required_parameter_from_optional_input.md")
        }
        Code::NonUtcTimestamp => include_str!("codes/non_utc_timestamp.md"),
        Code::ProtocolMismatch => include_str!("codes/protocol_mismatch.md"),
        Code::ExpiredRegistration => include_str!("codes/expired_registration.md"),
        Code::InvalidUpdate => include_str!("codes/invalid_update.md"),
        Code::DuplicateRegistrationId => include_str!("codes/duplicate_registration_id.md"),
        Code::IncompleteRegistration => include_str!("codes/incomplete_registration.md"),
        Code::UnknownModule => include_str!("codes/unknown_module.md"),
        Code::UnknownAction => include_str!("codes/unknown_action.md"),
        Code::InvalidParameter => include_str!("codes/invalid_parameter.md"),
        Code::PolicyDenied => include_str!("codes/policy_denied.md"),
        Code::UnrepresentablePath => include_str!("codes/unrepresentable_path.md"),
        Code::UnknownWorkflow => include_str!("codes/unknown_workflow.md"),
        Code::InvalidWorkflowInput => include_str!("codes/invalid_input.md"),
        Code::InvalidInventory => include_str!("codes/invalid_inventory.md"),
        Code::UnknownNode => include_str!("codes/unknown_node.md"),
        Code::InvalidFlags => include_str!("codes/invalid_flags.md"),
        Code::InvalidInstant => include_str!("codes/invalid_instant.md"),
        Code::InvalidParam => include_str!("codes/invalid_param.md"),
        Code::UnusableParamsFile => include_str!("codes/params_file.md"),
        Code::UnusablePlanFile => include_str!("codes/plan_file.md"),
        Code::StalePlan => include_str!("codes/stale_plan.md"),
        Code::UnexpectedPlanDigest => include_str!("codes/unexpected_digest.md"),
        Code::UnwritableOut => include_str!("codes/unwritable_out.md"),
        Code::UnknownCode => include_str!("codes/unknown_code.md"),
        Code::AmbiguousCode => include_str!("codes/ambiguous_code.md"),
        Code::UnwritableStdout => include_str!("codes/unwritable_stdout.md"),
        Code::UnknownSchema => include_str!("codes/unknown_schema.md"),
    }
}

/// The long explanation of a runtime (EPS) failure kind: what it means, what
/// usually causes it and what to do. Files are `eps/<kind>.md`.
pub(crate) fn runtime_explanation(kind: Kind) -> &'static str {
    match kind {
        Kind::SpawnFailed => include_str!("eps/spawn_failed.md"),
        Kind::NotFound => include_str!("eps/not_found.md"),
        Kind::RoutingFailure => include_str!("eps/routing_failure.md"),
        Kind::Crashed => include_str!("eps/crashed.md"),
        Kind::InvalidOutput => include_str!("eps/invalid_output.md"),
        Kind::InvalidMessage => include_str!("eps/invalid_message.md"),
        Kind::OutputTooLarge => include_str!("eps/output_too_large.md"),
        Kind::ProtocolViolation => include_str!("eps/protocol_violation.md"),
        Kind::InvalidParams => include_str!("eps/invalid_params.md"),
        Kind::PluginRejectedInput => include_str!("eps/plugin_rejected_input.md"),
        Kind::InvalidResult => include_str!("eps/invalid_result.md"),
        Kind::DescribeMismatch => include_str!("eps/describe_mismatch.md"),
        Kind::SpiVersionMismatch => include_str!("eps/spi_version_mismatch.md"),
        Kind::PolicyDenied => include_str!("eps/policy_denied.md"),
        Kind::TokenMismatch => include_str!("eps/token_mismatch.md"),
        Kind::ResourceError => include_str!("eps/resource_error.md"),
        Kind::ResourceExhausted => include_str!("eps/resource_exhausted.md"),
        Kind::Timeout => include_str!("eps/timeout.md"),
        Kind::NotReady => include_str!("eps/not_ready.md"),
        Kind::Interrupted => include_str!("eps/interrupted.md"),
        Kind::ConfigurationError => include_str!("eps/configuration_error.md"),
        Kind::Unhandled => include_str!("eps/unhandled.md"),
        Kind::BusinessFailure => include_str!("eps/business_failure.md"),
        Kind::DependencyUnsatisfied => include_str!("eps/dependency_unsatisfied.md"),
        Kind::Unhealthy => include_str!("eps/unhealthy.md"),
        Kind::NodeUnreachable => include_str!("eps/node_unreachable.md"),
        Kind::NodeAuthFailed => include_str!("eps/node_auth_failed.md"),
        Kind::HostKeyChanged => include_str!("eps/host_key_changed.md"),
        Kind::ConnectionLost => include_str!("eps/connection_lost.md"),
        Kind::RemotePluginMissing => include_str!("eps/remote_plugin_missing.md"),
        Kind::NodeCacheUnwritable => include_str!("eps/node_cache_unwritable.md"),
    }
}

/// The last segment of a code's name (`dependency_cycle`): what `rune explain`
/// accepts and what its explanation file is called.
pub(crate) fn short_name(code: Code) -> &'static str {
    code.as_str().rsplit("::").next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Every code has exactly one file, named after it, and the table embeds that
    /// file (not a neighbour's); no file in the folder is left without a code.
    #[test]
    fn one_markdown_file_per_code_and_none_orphaned() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/explain/codes");
        let mut files = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("md"),
                "{} is not an explanation",
                path.display()
            );
            files.insert(path.file_stem().unwrap().to_str().unwrap().to_string());
        }
        let mut names = BTreeSet::new();
        for &code in Code::ALL {
            let name = short_name(code);
            assert!(
                names.insert(name.to_string()),
                "two codes are called {name}"
            );
            let text = std::fs::read_to_string(dir.join(format!("{name}.md")))
                .unwrap_or_else(|e| panic!("{code} has no codes/{name}.md: {e}"));
            assert_eq!(explanation(code), text, "{code} embeds another file");
        }
        let orphans: Vec<_> = files.difference(&names).collect();
        assert!(orphans.is_empty(), "explanations of no code: {orphans:?}");
    }

    /// Every runtime kind has its file, named after it, and no file is left over.
    #[test]
    fn one_markdown_file_per_runtime_kind_and_none_orphaned() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/explain/eps");
        let files: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                path.file_stem().unwrap().to_str().unwrap().to_string()
            })
            .collect();
        let mut names = BTreeSet::new();
        for kind in crate::exec::eps::ALL_KINDS {
            names.insert(kind.name().to_string());
            let text = std::fs::read_to_string(dir.join(format!("{}.md", kind.name())))
                .unwrap_or_else(|e| panic!("{kind:?} has no eps/{}.md: {e}", kind.name()));
            assert_eq!(
                runtime_explanation(kind),
                text,
                "{kind:?} embeds another file"
            );
            assert!(text.contains("What to do"), "{kind:?} says what to do");
        }
        assert_eq!(files, names);
    }
}
