//! `rune plan`: lifecycle plans, action requests, policy decisions, bad requests.
//!
//! The plans are made for a fixture catalog written into a temporary directory
//! (`catalogs/` there), so the snapshots do not change when the example catalogs
//! do: eight modules up to six levels deep, a `nomad-ops` plugin module with two
//! diagnostic and two remediation actions, and a policy with overrides, two change
//! windows and break glass. Every plan passes `--at` so output is deterministic.

use std::path::Path;

use tempfile::TempDir;

use crate::support::{rune, Output};

/// Modules without actions: lom → event-bus → config-manager → secrets → scheduler.
pub(crate) const CORE: &str = r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: lom
      module_class: Orchestrator
      module_type: core_service
      module_version: 1.0.0
      description: Lifecycle orchestration
    lifecycle:
      runtime: builtin
      timeouts: { initialize_ms: 1000, ready_ms: 2000 }
  - module_identity:
      module_name: event-bus
      module_class: EventBus
      module_type: core_service
      module_version: 1.2.0
      description: Routes RCS messages between modules
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: lom, version_requirement: ">=1.0.0", criticality: required }
    lifecycle:
      runtime: process
      exec: ["bin/event-bus", "--stdio"]
      spi_versions: ["1"]
      timeouts: { initialize_ms: 3000, ready_ms: 5000, drain_ms: 8000, shutdown_ms: 2000 }
  - module_identity:
      module_name: config-manager
      module_class: ConfigService
      module_type: core_service
      module_version: 2.1.0
      description: Serves configuration to other modules
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: lom, version_requirement: ">=1.0.0", criticality: required }
        - { module_name: event-bus, version_requirement: ">=1.0.0", criticality: required }
    lifecycle:
      runtime: process
      exec: ["bin/config-manager", "--stdio"]
      spi_versions: ["1"]
  - module_identity:
      module_name: metrics
      module_class: Metrics
      module_type: support_service
      module_version: 0.4.0
      description: Collects metrics
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: lom, criticality: required }
        - { module_name: event-bus, criticality: optional }
    lifecycle:
      runtime: process
      exec: ["bin/metrics"]
      timeouts: { initialize_ms: 2000, ready_ms: 2000 }
  - module_identity:
      module_name: audit-log
      module_class: AuditLog
      module_type: support_service
      module_version: 1.0.0
      description: Append-only audit trail
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: lom, criticality: required }
    lifecycle:
      runtime: none
  - module_identity:
      module_name: secrets
      module_class: SecretStore
      module_type: core_service
      module_version: 1.0.0
      description: Hands out short-lived credentials
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: config-manager, version_requirement: "^2.0", criticality: required }
    lifecycle:
      runtime: process
      exec: ["bin/secrets"]
      timeouts: { initialize_ms: 4000, ready_ms: 6000 }
  - module_identity:
      module_name: scheduler
      module_class: Scheduler
      module_type: core_service
      module_version: 3.0.0
      description: Places work on nodes
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: config-manager, criticality: required }
        - { module_name: secrets, criticality: required }
        - { module_name: metrics, criticality: optional }
    lifecycle:
      runtime: process
      exec: ["bin/scheduler", "--stdio"]
      timeouts: { initialize_ms: 2000, ready_ms: 3000 }
"#;

/// The plugin module and its actions.
pub(crate) const OPS: &str = r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: nomad-ops
      module_class: NomadOperations
      module_type: plugin_host
      module_version: 1.4.0
      description: Operates Nomad agents
    capability_declaration:
      actions:
        - action: nomad-status
          description: Show the Nomad agent status
          category: diagnostic
          impact: low
          input_schema:
            type: object
            properties:
              node: { type: string, description: Node to query }
            additionalProperties: false
          exec: ["plugins/nomad-status.sh"]
        - action: collect-logs
          description: Collect recent agent logs
          category: diagnostic
          impact: low
          input_schema:
            type: object
            properties:
              node: { type: string, description: Node to collect from }
              lines: { type: integer, minimum: 1, maximum: 10000, description: How many lines }
            required: [node]
            additionalProperties: false
          exec: ["plugins/collect-logs.sh"]
        - action: restart-nomad
          description: Restart the Nomad agent
          category: remediation
          impact: high
          input_schema:
            type: object
            properties:
              node: { type: string, description: Node to restart }
              version: { type: string, description: Agent version to start }
              drain: { type: boolean, description: Drain allocations first }
            required: [node]
            additionalProperties: false
          exec: ["plugins/restart-nomad.sh"]
          timeout_ms: 60000
          retries: { max_attempts: 3, backoff_ms: 500, on: [retryable] }
        - action: drain-node
          description: Drain allocations from a node
          category: remediation
          impact: medium
          input_schema:
            type: object
            properties:
              node: { type: string, description: Node to drain }
              deadline_s: { type: integer, minimum: 0, description: Seconds before forcing }
            required: [node]
          exec: ["plugins/drain-node.sh"]
    technical_requirements:
      supported_protocols: [rcs_v2]
      dependencies:
        - { module_name: scheduler, version_requirement: ">=3.0.0", criticality: required }
        - { module_name: secrets, criticality: required }
    lifecycle:
      runtime: process
      exec: ["bin/nomad-ops", "--stdio"]
"#;

/// The policy: overrides, two change windows, break glass.
pub(crate) const POLICY: &str = r#"catalog_version: "1"
policy:
  defaults: { timeout_ms: 30000, retries: { max_attempts: 1, backoff_ms: 0, on: [retryable] } }
  overrides: { restart-nomad: { timeout_ms: 120000 } }
  maintenance_mode: { enabled: false, reason: planned Nomad upgrade }
  change_windows:
    - name: weekday-business
      timezone: Europe/Berlin
      days: [mon, tue, wed, thu, fri]
      start: "09:00"
      end: "17:00"
      applies_to: { categories: [remediation], impacts: [medium, high] }
    - name: weekend-night
      timezone: America/New_York
      days: [sat]
      start: "22:00"
      end: "04:00"
      applies_to: { categories: [remediation], impacts: [high] }
  break_glass: { impacts: [high], require_reason: true }
"#;

/// A temporary directory holding `catalogs/{core,ops,policy}.yaml`; `policy` replaces
/// the policy file (an empty string leaves it out).
pub(crate) fn fixture_with_policy(policy: &str) -> TempDir {
    let dir = TempDir::new().expect("temporary directory");
    let catalogs = dir.path().join("catalogs");
    std::fs::create_dir(&catalogs).expect("catalogs directory");
    write(&catalogs.join("core.yaml"), CORE);
    write(&catalogs.join("ops.yaml"), OPS);
    if !policy.is_empty() {
        write(&catalogs.join("policy.yaml"), policy);
    }
    dir
}

/// The fixture with its standard policy.
pub(crate) fn fixture() -> TempDir {
    fixture_with_policy(POLICY)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("fixture file is written");
}

/// `rune plan ARGS` in `dir`.
fn plan_in<const N: usize>(dir: &TempDir, args: [&str; N]) -> Output {
    rune(["plan"]).args(args).current_dir(dir.path()).run()
}

/// Only the action section of a human plan, with the exit code and stderr: what
/// policy tests are about, without repeating the whole lifecycle in every snapshot.
fn action_section(out: &Output) -> String {
    let section: String = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("action"))
        .take_while(|l| !l.starts_with("shutdown"))
        .map(|l| format!("{l}\n"))
        .collect();
    let summary = out.stdout.lines().last().unwrap_or_default();
    format!(
        "exit code: {}\n----- action -----\n{section}----- summary -----\n{summary}\n----- stderr -----\n{}",
        out.code, out.stderr
    )
}

const FRIDAY_MORNING: &str = "2026-03-27T10:00:00Z";
const SATURDAY_MORNING: &str = "2026-03-28T10:00:00Z";

#[test]
fn full_plan_starts_in_waves_and_shuts_down_in_reverse() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn full_plan_as_json_matches_the_plan_schema() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--format",
            "json",
            "--action",
            "restart-nomad",
            "-p",
            "node=worker-1",
            "--ack",
            "restart-nomad",
            "--reason",
            "agent wedged",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::root().join("schemas/plan.schema.json"))
            .expect("plan schema is readable"),
    )
    .expect("plan schema is JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("plan schema compiles");
    let plan = out.json();
    let errors: Vec<String> = validator
        .iter_errors(&plan)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn denied_plan_as_json_also_matches_the_plan_schema() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            SATURDAY_MORNING,
            "--format",
            "json",
            "--action",
            "drain-node",
            "-p",
            "node=a",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schemas/plan.schema.json"))
            .expect("plan schema is JSON");
    assert!(jsonschema::is_valid(&schema, &out.json()));
    assert_eq!(out.json()["actions"][0]["decision"]["allowed"], false);
}

#[test]
fn target_plans_only_the_target_and_what_it_depends_on() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--target",
            "config-manager",
            "--target",
            "metrics",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!out.stdout.contains("scheduler"), "{}", out.stdout);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn action_plan_starts_the_providing_module_and_its_dependencies_first() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING, "--action", "nomad-status"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // audit-log and metrics are not required by nomad-ops: metrics is only an
    // optional dependency of scheduler, so nothing selects it.
    assert!(!out.stdout.contains("audit-log"), "{}", out.stdout);
    assert!(!out.stdout.contains("metrics"), "{}", out.stdout);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn maintenance_mode_denies_remediation() {
    let dir = fixture_with_policy(&POLICY.replace("enabled: false", "enabled: true"));
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "drain-node",
            "-p",
            "node=worker-1",
        ],
    );
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn maintenance_mode_still_allows_diagnostics() {
    let dir = fixture_with_policy(&POLICY.replace("enabled: false", "enabled: true"));
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "collect-logs",
            "-p",
            "node=worker-1",
            "-p",
            "lines=200",
        ],
    );
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn remediation_inside_its_change_window_is_allowed() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "drain-node",
            "-p",
            "node=worker-1",
        ],
    );
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn remediation_outside_every_change_window_is_denied_with_the_next_opening() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            SATURDAY_MORNING,
            "--action",
            "drain-node",
            "-p",
            "node=worker-1",
        ],
    );
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn window_crossing_midnight_is_open_after_midnight_on_the_next_day() {
    // weekend-night opens Saturday 22:00 in New York and closes Sunday 04:00;
    // Sunday 2026-03-29 03:00 in New York is 07:00Z.
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            "2026-03-29T07:00:00Z",
            "--action",
            "restart-nomad",
            "-p",
            "node=worker-1",
            "--ack",
            "restart-nomad",
            "--reason",
            "agent wedged",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn diagnostics_are_not_governed_by_remediation_windows() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", SATURDAY_MORNING, "--action", "nomad-status"]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(action_section(&out));
}

/// A Sunday-night window in Berlin, 01:30–03:30 local, over both 2026 DST changes.
const DST_POLICY: &str = r#"catalog_version: "1"
policy:
  change_windows:
    - name: sunday-night
      timezone: Europe/Berlin
      days: [sun]
      start: "01:30"
      end: "03:30"
      applies_to: { categories: [remediation], impacts: [high] }
    - name: gap-start
      timezone: Europe/Berlin
      days: [sun]
      start: "02:30"
      end: "04:00"
      applies_to: { impacts: [medium] }
"#;

/// restart-nomad (remediation, high) is governed by `sunday-night` only.
fn dst_restart(at: &str) -> String {
    let dir = fixture_with_policy(DST_POLICY);
    let out = plan_in(
        &dir,
        [
            "--at",
            at,
            "--action",
            "restart-nomad",
            "-p",
            "node=a",
            "--ack",
            "restart-nomad",
            "--reason",
            "r",
        ],
    );
    format!("--at {at}\n{}", action_section(&out))
}

/// drain-node (remediation, medium) is governed by `gap-start` only.
fn dst_drain(at: &str) -> String {
    let dir = fixture_with_policy(DST_POLICY);
    let out = plan_in(&dir, ["--at", at, "--action", "drain-node", "-p", "node=a"]);
    format!("--at {at}\n{}", action_section(&out))
}

#[test]
fn spring_forward_shortens_the_window_to_one_real_hour() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST. The window is 00:30Z–01:30Z.
    let inside = dst_restart("2026-03-29T01:15:00Z");
    assert!(inside.contains("exit code: 0"), "{inside}");
    // 01:45Z is 03:45 CEST: closed, although it is less than two hours after opening.
    let after = dst_restart("2026-03-29T01:45:00Z");
    assert!(after.contains("exit code: 1"), "{after}");
    insta::assert_snapshot!(format!("{inside}\n{after}"));
}

#[test]
fn a_start_in_the_spring_forward_gap_moves_forward_by_the_gap() {
    // gap-start opens at 02:30, which does not exist on 2026-03-29 (compatible
    // disambiguation): it opens at 03:30 CEST (01:30Z) instead.
    let before = dst_drain("2026-03-29T01:20:00Z");
    assert!(before.contains("exit code: 1"), "{before}");
    let inside = dst_drain("2026-03-29T01:40:00Z");
    assert!(inside.contains("exit code: 0"), "{inside}");
    insta::assert_snapshot!(format!("{before}\n{inside}"));
}

#[test]
fn fall_back_lengthens_the_window_to_three_real_hours() {
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET. The window is 23:30Z–02:30Z.
    let inside = dst_restart("2026-10-25T02:15:00Z");
    assert!(inside.contains("exit code: 0"), "{inside}");
    let after = dst_restart("2026-10-25T02:45:00Z");
    assert!(after.contains("exit code: 1"), "{after}");
    insta::assert_snapshot!(format!("{inside}\n{after}"));
}

#[test]
fn an_ambiguous_start_in_the_fall_back_fold_takes_the_earlier_time() {
    // gap-start opens at 02:30 on 2026-10-25, which happens twice; it opens at the
    // first, 02:30 CEST (00:30Z), and closes at 04:00 CET (03:00Z).
    let inside = dst_drain("2026-10-25T00:45:00Z");
    assert!(inside.contains("exit code: 0"), "{inside}");
    assert!(
        inside.contains("open 2026-10-25 02:30 +02:00 to 2026-10-25 04:00 +01:00"),
        "{inside}"
    );
}

#[test]
fn break_glass_denies_high_impact_without_ack() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "restart-nomad",
            "-p",
            "node=worker-1",
        ],
    );
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn break_glass_with_ack_and_reason_is_allowed_and_recorded() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "restart-nomad",
            "-p",
            "node=worker-1",
            "--ack",
            "restart-nomad",
            "--reason",
            "agent wedged after upgrade",
        ],
    );
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn break_glass_ack_without_reason_is_denied() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "restart-nomad",
            "-p",
            "node=worker-1",
            "--ack",
            "restart-nomad",
        ],
    );
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(action_section(&out));
}

#[test]
fn without_a_policy_high_impact_still_needs_break_glass_and_defaults_apply() {
    let dir = fixture_with_policy("");
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "restart-nomad",
            "-p",
            "node=worker-1",
        ],
    );
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(action_section(&out));
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "drain-node",
            "-p",
            "node=worker-1",
        ],
    );
    assert_eq!(out.code, 0);
    assert!(
        out.stdout.contains("ALLOWED by default_allow"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("timeout   30000 ms (builtin)"),
        "{}",
        out.stdout
    );
}

#[test]
fn string_parameters_stay_strings_and_others_are_json() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--format",
            "json",
            "--action",
            "restart-nomad",
            "-p",
            "node=42",
            "-p",
            "version=1.10",
            "-p",
            "drain=true",
            "--ack",
            "restart-nomad",
            "--reason",
            "r",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        out.json()["actions"][0]["params"],
        serde_json::json!({"drain": true, "node": "42", "version": "1.10"})
    );
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--format",
            "json",
            "--action",
            "collect-logs",
            "-p",
            "node=n",
            "-p",
            "lines=3",
        ],
    );
    assert_eq!(out.json()["actions"][0]["params"]["lines"], 3);
}

#[test]
fn params_file_is_read_and_command_line_params_win() {
    let dir = fixture();
    write(
        &dir.path().join("params.yaml"),
        "node: from-file\nlines: 50\n",
    );
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--format",
            "json",
            "--action",
            "collect-logs",
            "--params-file",
            "params.yaml",
            "-p",
            "node=from-flag",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        out.json()["actions"][0]["params"],
        serde_json::json!({"lines": 50, "node": "from-flag"})
    );
}

#[test]
fn params_file_that_is_not_a_mapping_is_a_usage_error() {
    let dir = fixture();
    write(&dir.path().join("params.json"), "[1, 2]");
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "collect-logs",
            "--params-file",
            "params.json",
        ],
    );
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn parameter_failing_the_input_schema_is_located_and_explained() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "collect-logs",
            "-p",
            "nod=worker-1",
            "-p",
            "lines=0",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn unknown_target_is_a_usage_error_with_a_suggestion() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING, "--target", "schedular"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn unknown_action_is_a_usage_error_with_a_suggestion() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING, "--action", "restart-nomd"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn invalid_at_is_a_usage_error() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", "2026-03-27 10:00"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn local_time_without_offset_is_rejected_as_at() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", "2026-03-27T10:00:00"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("offset"), "{}", out.stderr);
}

#[test]
fn malformed_param_is_a_usage_error() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "collect-logs",
            "--param",
            "node",
        ],
    );
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn param_without_action_is_a_usage_error() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING, "--param", "node=a"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("needs --action"), "{}", out.stderr);
}

#[test]
fn ack_for_another_action_is_a_usage_error() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--action",
            "nomad-status",
            "--ack",
            "restart-nomad",
            "--reason",
            "r",
        ],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--ack nomad-status"), "{}", out.stderr);
}

#[test]
fn invalid_catalog_is_refused_with_the_validate_report() {
    let dir = fixture();
    let broken = CORE.replace(
        "module_name: lom, version_requirement",
        "module_name: lomm, version_requirement",
    );
    write(&dir.path().join("catalogs/core.yaml"), &broken);
    let plan = plan_in(&dir, ["--at", FRIDAY_MORNING]);
    let validate = rune(["validate"]).current_dir(dir.path()).run();
    assert_eq!(plan.code, 1);
    assert!(plan.stdout.is_empty());
    assert_eq!(plan.stderr, validate.stderr);
}

#[test]
fn detailed_exitcode_is_3_when_steps_are_planned() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING, "--detailed-exitcode"]);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    // 3 is also a failed run's code elsewhere: here it is a whole plan, no error.
    assert!(out.stdout.contains("\nplan: "), "{}", out.stdout);
    assert!(!out.stderr.contains("rune::"), "{}", out.stderr);
}

#[test]
fn detailed_exitcode_is_0_when_there_is_nothing_to_do() {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("catalogs")).unwrap();
    write(
        &dir.path().join("catalogs/empty.yaml"),
        "catalog_version: \"1\"\nmodules: []\n",
    );
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING, "--detailed-exitcode"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

#[test]
fn detailed_exitcode_is_1_when_a_step_is_denied() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--detailed-exitcode",
            "--action",
            "restart-nomad",
            "-p",
            "node=a",
        ],
    );
    // Denied by policy, not refused for its parameters (also exit 1).
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("rune::plan::policy_denied")
            && out.stderr.contains("`restart-nomad` denied by break_glass"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stdout.contains("1 action denied by policy"),
        "{}",
        out.stdout
    );
}

#[test]
fn out_writes_the_json_plan_with_input_digests() {
    let dir = fixture();
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING, "--out", "plan.json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let saved = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    // The digest printed is the file's: what `apply --expect-digest` checks.
    use sha2::Digest;
    let sha256: String = sha2::Sha256::digest(saved.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        out.stderr,
        format!("plan written to plan.json (sha256 {sha256})\n")
    );
    let json = plan_in(&dir, ["--at", FRIDAY_MORNING, "--format", "json"]);
    assert_eq!(saved, json.stdout);
    let plan: serde_json::Value = serde_json::from_str(&saved).unwrap();
    let files: Vec<&str> = plan["inputs"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        // Relative to the catalog root, recorded once.
        ["core.yaml", "ops.yaml", "policy.yaml"]
    );
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn out_refuses_to_save_a_plan_with_denied_steps() {
    let dir = fixture();
    let out = plan_in(
        &dir,
        [
            "--at",
            FRIDAY_MORNING,
            "--out",
            "plan.json",
            "--action",
            "restart-nomad",
            "-p",
            "node=a",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(!dir.path().join("plan.json").exists());
    assert!(out.stderr.contains("not written"), "{}", out.stderr);
}

#[test]
fn policy_inputs_digest_changes_with_the_instant_but_catalog_digest_does_not() {
    let dir = fixture();
    let a = plan_in(&dir, ["--at", FRIDAY_MORNING, "--format", "json"]).json();
    let b = plan_in(&dir, ["--at", SATURDAY_MORNING, "--format", "json"]).json();
    assert_eq!(a["inputs"]["catalog_sha256"], b["inputs"]["catalog_sha256"]);
    assert_ne!(
        a["inputs"]["policy_inputs_sha256"],
        b["inputs"]["policy_inputs_sha256"]
    );
}

#[test]
fn same_inputs_give_byte_identical_plans() {
    let dir = fixture();
    let args = [
        "--at",
        FRIDAY_MORNING,
        "--action",
        "drain-node",
        "-p",
        "node=a",
        "-p",
        "deadline_s=30",
    ];
    let first = plan_in(&dir, args);
    for _ in 0..3 {
        assert_eq!(plan_in(&dir, args).stdout, first.stdout);
    }
    let json = [
        "--format",
        "json",
        "--at",
        FRIDAY_MORNING,
        "--action",
        "drain-node",
        "-p",
        "node=a",
    ];
    assert_eq!(plan_in(&dir, json).stdout, plan_in(&dir, json).stdout);
}

#[test]
fn without_at_the_plan_records_the_current_time() {
    let dir = fixture();
    let out = plan_in(&dir, ["--format", "json"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.json()["clock"], "now");
}

#[test]
fn catalog_with_a_cycle_is_refused_with_the_cycle_reported() {
    let dir = fixture();
    let cyclic = CORE.replace(
        "module_name: lom\n      module_class: Orchestrator\n      module_type: core_service\n      module_version: 1.0.0\n      description: Lifecycle orchestration\n",
        "module_name: lom\n      module_class: Orchestrator\n      module_type: core_service\n      module_version: 1.0.0\n      description: Lifecycle orchestration\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n      dependencies:\n        - { module_name: secrets, criticality: required }\n",
    );
    assert_ne!(cyclic, CORE);
    write(&dir.path().join("catalogs/core.yaml"), &cyclic);
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("rune::check::dependency_cycle"),
        "{}",
        out.stderr
    );
}

#[test]
fn unknown_time_zone_in_a_change_window_is_refused() {
    let dir = fixture_with_policy(&POLICY.replace("America/New_York", "America/New_Yrok"));
    let out = plan_in(&dir, ["--at", FRIDAY_MORNING]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("rune::check::unknown_time_zone"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("America/New_York"), "{}", out.stderr);
}

#[test]
fn source_date_epoch_fixes_the_instant_when_at_is_not_given() {
    // The reproducible-builds convention: golden plans in CI without a flag.
    let dir = fixture();
    let run = |epoch: &str, extra: &[&str]| {
        rune(["plan", "--format", "json"])
            .args(extra)
            .env("SOURCE_DATE_EPOCH", epoch)
            .current_dir(dir.path())
            .run()
    };
    let first = run("1774605600", &[]);
    assert_eq!(first.code, 0, "{}", first.snapshot());
    let plan = first.json();
    assert_eq!(plan["evaluated_at"], "2026-03-27T10:00:00Z");
    assert_eq!(plan["clock"], "source_date_epoch");
    assert_eq!(
        run("1774605600", &[]).stdout,
        first.stdout,
        "byte-identical"
    );
    // --at wins over the environment.
    let at = run("1774605600", &["--at", "2026-01-05T10:00:00Z"]);
    assert_eq!(at.json()["evaluated_at"], "2026-01-05T10:00:00Z");
    assert_eq!(at.json()["clock"], "fixed");
    let human = rune(["plan"])
        .env("SOURCE_DATE_EPOCH", "1774605600")
        .current_dir(dir.path())
        .run();
    assert!(
        human
            .stdout
            .contains("evaluated at 2026-03-27T10:00:00Z (SOURCE_DATE_EPOCH)"),
        "{}",
        human.stdout
    );
}

#[test]
fn a_malformed_source_date_epoch_is_a_usage_error() {
    let dir = fixture();
    for (epoch, why) in [
        ("yesterday", "not a whole number of seconds"),
        ("-5", "not a whole number of seconds"),
        ("", "not a whole number of seconds"),
        ("99999999999999", "out of range"),
    ] {
        let out = rune(["plan"])
            .env("SOURCE_DATE_EPOCH", epoch)
            .current_dir(dir.path())
            .run();
        assert_eq!(out.code, 2, "{epoch:?}: {}", out.snapshot());
        assert!(out.stderr.contains(why), "{epoch:?}: {}", out.stderr);
        assert!(out.stdout.is_empty());
    }
}
