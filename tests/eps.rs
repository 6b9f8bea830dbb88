//! EPS as RUNE's EPS document defines it: envelopes of that shape validate against
//! `rune schema eps` (envelopes written here after the structure of the document's
//! examples, and every envelope rune writes in a report or a journal), codes mean
//! what RUNE's table says, and a fingerprint is the same for the same failure.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};

use rune::exec::eps::{code_title, Kind, ALL_KINDS};

use crate::support::{root, rune};

const PLUGINS: &str = "tests/fixtures/plugins/catalog.yaml";

/// The validator of `rune schema eps`, as the binary prints it.
fn eps_validator() -> jsonschema::Validator {
    let out = rune(["schema", "eps"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let schema: Json = serde_json::from_str(&out.stdout).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn assert_valid(validator: &jsonschema::Validator, envelope: &Json, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(envelope)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{envelope:#}");
}

/// Every EPS envelope anywhere in `value` (an object with `error_payload`).
fn envelopes(value: &Json, found: &mut Vec<Json>) {
    match value {
        Json::Object(map) => {
            if map.contains_key("error_payload") && map.contains_key("message_metadata") {
                found.push(value.clone());
            }
            for v in map.values() {
                envelopes(v, found);
            }
        }
        Json::Array(items) => items.iter().for_each(|v| envelopes(v, found)),
        _ => {}
    }
}

/// The envelopes of a JSON report and of every line of a journal.
fn envelopes_of(report: &str, journal: &Path) -> Vec<Json> {
    let mut found = Vec::new();
    // `apply --format json` streams its events before the final document.
    for doc in serde_json::Deserializer::from_str(report).into_iter::<Json>() {
        envelopes(&doc.expect("the report is JSON"), &mut found);
    }
    let text = std::fs::read_to_string(journal).expect("the journal was written");
    for line in text.lines() {
        let event: Json = serde_json::from_str(line).expect("a journal line is JSON");
        envelopes(&event, &mut found);
    }
    found
}

/// An envelope with the four sections RUNE's EPS document gives, in the shape of
/// its examples: `code` and `class` as given, the rest filled the way the
/// document's field tables describe.
fn example(code: i64, class: &str, severity: &str, impact: &str, health: &str) -> Json {
    json!({
        "message_metadata": {
            "version": "1.0",
            "message_id": "3f0c7a52-9d1e-4b8a-a2c4-5e6f7a8b9c0d",
            "correlation_id": "order-intake-7",
            "parent_message_id": "3f0c7a52-9d1e-4b8a-a2c4-5e6f7a8b9c0c",
            "created_at": "2025-03-02T08:15:30.250Z",
            "priority": severity
        },
        "routing": {
            "event_type": "EPS_ERROR_RESPONSE",
            "event_category": "error_handling",
            "source_module": "Mediator",
            "target_module": "ErrorHandler_Core",
            "original_source_module": "OrderIntake",
            "routing_tags": [class, "example"]
        },
        "error_payload": {
            "schema_version": "1.0",
            "content_type": "application/json",
            "size_bytes": 402,
            "error_data": {
                "jsonrpc": "2.0",
                "error": {
                    "code": code,
                    "message": "Example failure",
                    "data": {
                        "field": "payload.data.quantity",
                        "reason": "quantity must be positive",
                        "timestamp": "2025-03-02T08:15:30.250Z",
                        "validation_errors": ["quantity is -3"],
                        "original_value": -3,
                        "expected_format": "an integer above zero"
                    }
                },
                "id": "3f0c7a52-9d1e-4b8a-a2c4-5e6f7a8b9c0c"
            },
            "error_context": {
                "error_classification": class,
                "severity": severity,
                "recoverable": true,
                "retry_recommended": false,
                "escalation_required": severity == "high" || severity == "critical",
                "recovery_actions": ["send a positive quantity"],
                "related_errors": [],
                "system_impact": impact,
                "module_health_impact": health
            }
        },
        "observability": {
            "trace_id": "order-trace-7",
            "span_id": "quantity-check",
            "error_fingerprint": "order_quantity_negative_001"
        }
    })
}

#[test]
fn envelopes_shaped_like_runes_eps_examples_validate() {
    let validator = eps_validator();
    // The complete example's shape: invalid params, with every optional field.
    assert_valid(
        &validator,
        &example(
            -32602,
            "validation_error",
            "medium",
            "single_request",
            "none",
        ),
        "invalid params",
    );
    // Schema validation failed, with tags of its own.
    assert_valid(
        &validator,
        &example(
            -32200,
            "validation_error",
            "medium",
            "single_request",
            "none",
        ),
        "schema validation",
    );
    // Module not found: communication, escalated, several modules degraded.
    assert_valid(
        &validator,
        &example(
            -32100,
            "communication_error",
            "high",
            "multiple_modules",
            "degraded",
        ),
        "module not found",
    );
    // A critical system error: the whole system.
    assert_valid(
        &validator,
        &example(
            -32400,
            "system_error",
            "critical",
            "system_wide",
            "critical",
        ),
        "resource exhausted",
    );
    // The minimal message: no target, no related errors, "unknown" ids, a null
    // JSON-RPC id, a parse error classified as a protocol error.
    let mut minimal = example(-32700, "protocol_error", "medium", "single_request", "none");
    minimal["routing"]
        .as_object_mut()
        .unwrap()
        .remove("target_module");
    minimal["error_payload"]["error_context"]
        .as_object_mut()
        .unwrap()
        .remove("related_errors");
    minimal["message_metadata"]["correlation_id"] = json!("unknown");
    minimal["message_metadata"]["parent_message_id"] = json!("unknown");
    minimal["error_payload"]["error_data"]["id"] = Json::Null;
    minimal["error_payload"]["error_data"]["error"]["data"] =
        json!({"reason": "not JSON", "timestamp": "2025-03-02T08:15:30.250Z"});
    assert_valid(&validator, &minimal, "minimal");
}

#[test]
fn envelopes_not_of_runes_shape_are_refused() {
    let validator = eps_validator();
    // rune's envelope before it spoke RUNE's EPS.
    let old = json!({
        "jsonrpc": "2.0",
        "error": {"code": -32401, "message": "slow"},
        "error_context": {"kind": "timeout", "error_classification": "system"},
        "origin": {"step": 1}
    });
    assert!(!validator.is_valid(&old));
    let mut wrong_class = example(-32602, "validation", "medium", "single_request", "none");
    assert!(!validator.is_valid(&wrong_class));
    wrong_class["error_payload"]["error_context"]["error_classification"] =
        json!("validation_error");
    assert!(validator.is_valid(&wrong_class));
    for (pointer, bad) in [
        ("/error_payload/error_context/system_impact", json!("step")),
        (
            "/error_payload/error_context/module_health_impact",
            json!("sick"),
        ),
        ("/message_metadata/priority", json!("urgent")),
        ("/routing/event_type", json!("ERROR")),
        ("/error_payload/error_data/jsonrpc", json!("1.0")),
    ] {
        let mut envelope = example(
            -32602,
            "validation_error",
            "medium",
            "single_request",
            "none",
        );
        *envelope.pointer_mut(pointer).unwrap() = bad;
        assert!(!validator.is_valid(&envelope), "{pointer}");
    }
    let mut no_fingerprint = example(
        -32602,
        "validation_error",
        "medium",
        "single_request",
        "none",
    );
    no_fingerprint["observability"]
        .as_object_mut()
        .unwrap()
        .remove("error_fingerprint");
    assert!(!validator.is_valid(&no_fingerprint));
}

/// RUNE's code table (docs/eps.md of UglyEgg/RUNE, "Standard Error Codes"): each
/// number with its message.
const RUNE_CODES: &[(i32, &str)] = &[
    (-32700, "Parse error"),
    (-32600, "Invalid Request"),
    (-32601, "Method not found"),
    (-32602, "Invalid params"),
    (-32603, "Internal error"),
    (-32100, "Module not found"),
    (-32101, "Module unavailable"),
    (-32102, "Routing failure"),
    (-32103, "Message too large"),
    (-32104, "Rate limit exceeded"),
    (-32105, "Protocol version mismatch"),
    (-32200, "Schema validation failed"),
    (-32201, "Required field missing"),
    (-32202, "Field type mismatch"),
    (-32203, "Field value out of range"),
    (-32204, "Invalid field format"),
    (-32205, "Checksum validation failed"),
    (-32300, "Authentication failed"),
    (-32301, "Authorization denied"),
    (-32302, "Signature verification failed"),
    (-32303, "Encryption error"),
    (-32304, "Access level insufficient"),
    (-32305, "Token expired"),
    (-32400, "Resource exhausted"),
    (-32401, "Timeout exceeded"),
    (-32402, "Service unavailable"),
    (-32403, "Configuration error"),
    (-32404, "Database error"),
    (-32405, "Network error"),
    (-32500, "Business rule violation"),
    (-32501, "Workflow state invalid"),
    (-32502, "Data consistency error"),
    (-32503, "Dependency unsatisfied"),
    (-32504, "Operation not permitted"),
    (-32505, "Quota exceeded"),
];

/// RUNE's classification of a code (its classifier, and its table naming -32602
/// a validation error in the complete example).
fn rune_class(code: i32) -> &'static str {
    match code {
        -32602 => "validation_error",
        -32700 | -32600 | -32601 | -32603 | -32099..=-32000 => "protocol_error",
        -32199..=-32100 => "communication_error",
        -32299..=-32200 => "validation_error",
        -32399..=-32300 => "security_error",
        -32499..=-32400 => "system_error",
        -32599..=-32500 => "business_error",
        _ => "unknown_error",
    }
}

fn rune_severity(code: i32) -> &'static str {
    match rune_class(code) {
        "communication_error" | "security_error" => "high",
        "system_error" => "critical",
        _ => "medium",
    }
}

#[test]
fn every_code_means_what_runes_table_says() {
    let mut own = BTreeSet::new();
    for kind in ALL_KINDS {
        let code = kind.code();
        let title = code_title(code).expect("every code has a title");
        if (-32099..=-32000).contains(&code) {
            // rune's own range: one kind per number, never a RUNE meaning.
            assert!(
                own.insert(code),
                "{code} is used by two of rune's own kinds"
            );
            assert!(RUNE_CODES.iter().all(|(n, _)| *n != code));
        } else {
            let meaning = RUNE_CODES
                .iter()
                .find(|(n, _)| *n == code)
                .unwrap_or_else(|| panic!("{kind:?}: {code} is not in RUNE's table"));
            assert_eq!(title, meaning.1, "{kind:?}");
        }
        assert_eq!(
            serde_json::to_value(kind.classification()).unwrap(),
            rune_class(code),
            "{kind:?}"
        );
        assert_eq!(
            serde_json::to_value(kind.severity()).unwrap(),
            rune_severity(code),
            "{kind:?}"
        );
    }
    // The failures the issue names, by RUNE's numbers.
    for (kind, code) in [
        (Kind::InvalidOutput, -32700),
        (Kind::InvalidParams, -32602),
        (Kind::Crashed, -32101),
        (Kind::SpiVersionMismatch, -32105),
        (Kind::Timeout, -32401),
        (Kind::ConfigurationError, -32403),
        (Kind::PolicyDenied, -32301),
        (Kind::DependencyUnsatisfied, -32503),
        (Kind::OutputTooLarge, -32103),
        (Kind::BusinessFailure, -32500),
    ] {
        assert_eq!(kind.code(), code, "{kind:?}");
    }
}

/// A catalog of one plugin that exits with the code its `exit` parameter says,
/// after writing what its `write` parameter says.
fn exit_catalog(dir: &Path) -> PathBuf {
    let plugin = dir.join("exit.sh");
    std::fs::write(
        &plugin,
        "#!/usr/bin/env bash\n\
         input=$(cat)\n\
         code=$(printf '%s' \"$input\" | grep -o '\"exit\": *\"\\?[0-9]*' | tr -dc 0-9)\n\
         echo '{\"payload\":null,\"error\":{\"code\":'\"$code\"',\"message\":\"asked to\"}}'\n\
         exit \"$code\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let catalog = dir.join("catalog.yaml");
    std::fs::write(
        &catalog,
        r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: exits
      module_class: Fixture
      module_type: plugin_host
      module_version: 1.0.0
      description: A plugin that exits as asked
    capability_declaration:
      actions:
        - action: exit
          description: Exits with the code asked for
          category: diagnostic
          impact: low
          input_schema:
            type: object
            properties:
              exit: { type: [string, integer], pattern: "^[0-9]+$" }
            required: [exit]
            additionalProperties: false
          exec: ["./exit.sh"]
    lifecycle:
      runtime: none
"#,
    )
    .unwrap();
    catalog
}

#[test]
fn plugin_exit_codes_get_runes_codes() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = exit_catalog(dir.path());
    for (exit, kind, code) in [
        ("1", "plugin_rejected_input", -32602),
        ("2", "resource_error", -32503),
        ("3", "business_failure", -32500),
        ("4", "configuration_error", -32403),
        ("100", "unhandled", -32603),
    ] {
        let out = rune(["run", "exit", "--deterministic", "--output", "json"])
            .args(["--catalog"])
            .arg_path(&catalog)
            .args(["--param", &format!("exit={exit}")])
            .run();
        assert_eq!(out.code, 4, "exit {exit}: {}", out.snapshot());
        let error = &out.json()["eps"];
        assert_eq!(error["rune"]["kind"], kind, "exit {exit}: {error:#}");
        assert_eq!(
            error["error_payload"]["error_data"]["error"]["code"], code,
            "exit {exit}"
        );
    }
    // Parameters that break the input_schema are refused before anything runs,
    // with JSON-RPC's number for invalid params.
    let out = rune(["run", "exit", "--deterministic", "--output", "json"])
        .args(["--catalog"])
        .arg_path(&catalog)
        .args(["--param", "exit=x"])
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let doc = out.json();
    assert_eq!(
        doc["diagnostics"][0]["code"],
        "rune::plan::invalid_parameter"
    );
    assert_eq!(doc["diagnostics"][0]["protocol_code"], -32602, "{doc:#}");
}

#[test]
fn every_envelope_rune_writes_validates_against_its_schema() {
    let validator = eps_validator();
    let dir = tempfile::tempdir().unwrap();
    let mut kinds = BTreeSet::new();
    let mut count = 0;
    // Plugins that fail every way the fixtures know, through `rune run`.
    for action in [
        "crash",
        "hang",
        "garbage",
        "two-objects",
        "non-utf8",
        "error-exit0",
        "silent-fail",
        "bad-result",
        "escape",
        "missing",
        "flaky",
    ] {
        let journal = dir.path().join(format!("{action}.jsonl"));
        let out = rune(["run", action, "--catalog", PLUGINS, "--output", "json"])
            .args(["--journal"])
            .arg_path(&journal)
            .run();
        for envelope in envelopes_of(&out.stdout, &journal) {
            assert_valid(&validator, &envelope, action);
            kinds.insert(envelope["rune"]["kind"].as_str().unwrap().to_string());
            count += 1;
        }
    }
    // Modules that fail at each lifecycle phase, through `rune apply`.
    let faults = root().join("tests/fixtures/modules/catalogs/faults.yaml");
    let journal = dir.path().join("apply.jsonl");
    let mut apply = rune(["apply", "--deterministic", "--format", "json", "--catalog"])
        .arg_path(&faults)
        .args(["--journal"])
        .arg_path(&journal);
    for target in [
        "wrong-token",
        "missing-exec",
        "no-common-spi",
        "wrong-name",
        "garbage",
        "never-ready",
        "crash-at-ready",
        "hang-at-initialize",
    ] {
        apply = apply.args(["--target", target]);
    }
    let out = apply.run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    for envelope in envelopes_of(&out.stdout, &journal) {
        assert_valid(&validator, &envelope, "apply");
        kinds.insert(envelope["rune"]["kind"].as_str().unwrap().to_string());
        count += 1;
    }
    // A module that crashes at ready, and the modules that need it.
    let rollback = root().join("tests/fixtures/modules/catalogs/rollback-crash.yaml");
    let journal = dir.path().join("rollback.jsonl");
    let out = rune(["apply", "--deterministic", "--format", "json", "--catalog"])
        .arg_path(&rollback)
        .args(["--parallelism", "1", "--target", "after", "--journal"])
        .arg_path(&journal)
        .run();
    assert_eq!(out.code, 4, "{}", out.snapshot());
    for envelope in envelopes_of(&out.stdout, &journal) {
        assert_valid(&validator, &envelope, "rollback");
        kinds.insert(envelope["rune"]["kind"].as_str().unwrap().to_string());
        count += 1;
    }
    assert!(count >= 20, "only {count} envelopes");
    for kind in [
        "crashed",
        "timeout",
        "invalid_output",
        "business_failure",
        "invalid_result",
        "spawn_failed",
        "token_mismatch",
        "spi_version_mismatch",
        "describe_mismatch",
        "not_ready",
        "dependency_unsatisfied",
        "resource_error",
    ] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
}

#[test]
fn the_same_failure_has_the_same_fingerprint_in_every_run() {
    let run = || {
        let out = rune(["run", "hang", "--catalog", PLUGINS, "--output", "json"]).run();
        assert_eq!(out.code, 4, "{}", out.snapshot());
        out.json()["eps"].clone()
    };
    let (a, b) = (run(), run());
    assert_eq!(
        a["observability"]["error_fingerprint"],
        b["observability"]["error_fingerprint"]
    );
    assert!(a["observability"]["error_fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("timeout_"));
    // Ids differ between runs; the fingerprint does not depend on them.
    assert_ne!(
        a["message_metadata"]["message_id"],
        b["message_metadata"]["message_id"]
    );
    assert_ne!(
        a["message_metadata"]["correlation_id"],
        b["message_metadata"]["correlation_id"]
    );
    // A different failure of the same plugin host has another fingerprint.
    let other = rune(["run", "crash", "--catalog", PLUGINS, "--output", "json"]).run();
    assert_ne!(
        other.json()["eps"]["observability"]["error_fingerprint"],
        a["observability"]["error_fingerprint"]
    );
    // The request that failed is named by its id.
    assert_eq!(
        a["error_payload"]["error_data"]["id"],
        a["message_metadata"]["parent_message_id"]
    );
    assert!(a["error_payload"]["error_data"]["id"].is_string());
}
