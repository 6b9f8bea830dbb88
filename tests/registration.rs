//! The MRS contract: a complete registration, as a module reports it about itself at
//! run time (every section, JSON form), is a valid catalog module entry.

use crate::support::rune;

const COMPLETE_REGISTRATION: &str = r#"{
  "module_identity": {
    "module_name": "config-manager",
    "module_class": "ConfigService",
    "module_type": "core_service",
    "module_version": "2.1.0",
    "description": "Serves configuration to other modules",
    "registration_timestamp": "2026-11-23T10:15:00Z"
  },
  "capability_declaration": {
    "provides_events": [
      {
        "event_type": "CONFIG_UPDATED",
        "description": "A configuration key changed",
        "data_schema": { "type": "object", "required": ["key"], "properties": { "key": { "type": "string" } } },
        "schema_version": "1.0",
        "example_data": { "key": "nomad.region" },
        "backward_compatible": true
      }
    ],
    "consumes_events": ["MODULE_STATE_CHANGED"],
    "service_metadata": { "owner": "platform-team", "tier": 1 }
  },
  "technical_requirements": {
    "supported_protocols": ["rcs_v2"],
    "dependencies": [
      { "module_name": "lom", "version_requirement": ">=1.0.0", "criticality": "required" }
    ],
    "resource_requirements": {
      "min_memory_mb": 64, "max_memory_mb": 512, "cpu_cores": 1,
      "disk_space_mb": 100, "network_bandwidth_mbps": 10, "instance_count": 1
    },
    "health_check_endpoint": {
      "event_type": "CONFIG_HEALTH", "expected_response": "CONFIG_OK",
      "timeout_ms": 2000, "check_interval_seconds": 30
    },
    "configuration_schema": { "type": "object" }
  },
  "registration_metadata": {
    "registration_id": "7f3c2a4e-9b1d-4c6e-8f2a-1d3b5c7e9f01",
    "registration_version": "1.0",
    "update_mode": "replace",
    "expires_at": "2027-11-23T10:15:00Z",
    "registration_source": "config-manager@node-07",
    "previous_registration_id": "0b9d8c7a-6e5f-4a3b-9c2d-1e0f9a8b7c6d",
    "orchestrator_acknowledgment_required": false
  }
}"#;

const LOM: &str = r#"{"module_identity": {"module_name": "lom", "module_class": "LifecycleOrchestrator",
  "module_type": "core_service", "module_version": "1.4.0", "description": "Orchestrator"},
  "capability_declaration": {"provides_events": [{"event_type": "MODULE_STATE_CHANGED",
  "description": "state change", "data_schema": {"type": "object"}, "schema_version": "1.0"}]}}"#;

#[test]
fn a_complete_mrs_registration_in_json_is_a_valid_module_entry() {
    let dir = tempfile::tempdir().unwrap();
    let catalog =
        format!(r#"{{"catalog_version": "1", "modules": [{COMPLETE_REGISTRATION}, {LOM}]}}"#);
    std::fs::write(dir.path().join("registered.json"), catalog).unwrap();
    let out = rune(["validate", "--format", "json"])
        .arg_path(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let report = out.json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["summary"]["modules"], 2);
    assert_eq!(report["diagnostics"], serde_json::json!([]));
}

#[test]
fn a_registration_missing_an_mrs_required_field_reports_mrs_code_32201() {
    let dir = tempfile::tempdir().unwrap();
    let broken = COMPLETE_REGISTRATION.replace(r#""update_mode": "replace","#, "");
    let catalog = format!(r#"{{"catalog_version": "1", "modules": [{broken}, {LOM}]}}"#);
    std::fs::write(dir.path().join("registered.json"), catalog).unwrap();
    let out = rune(["validate", "--format", "json"])
        .arg_path(dir.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let diagnostics = out.json()["diagnostics"].clone();
    assert_eq!(diagnostics.as_array().unwrap().len(), 1, "{diagnostics:#}");
    assert_eq!(diagnostics[0]["code"], "rune::schema::missing_field");
    assert_eq!(diagnostics[0]["protocol_code"], -32201);
    assert!(
        diagnostics[0]["message"]
            .as_str()
            .unwrap()
            .contains("update_mode"),
        "{diagnostics:#}"
    );
    assert_eq!(
        diagnostics[0]["location"]["file"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next(),
        Some("registered.json")
    );
}

#[test]
fn the_bundled_example_catalogs_validate_without_any_diagnostic() {
    let out = rune([
        "validate",
        "catalogs",
        "--format",
        "json",
        "--deny-warnings",
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let report = out.json();
    assert_eq!(report["diagnostics"], serde_json::json!([]));
    assert!(report["summary"]["modules"].as_u64().unwrap() >= 10);
}
