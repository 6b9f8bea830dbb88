//! RCS (issue 18, item 8): each action execution request is an RCS message from
//! the orchestrator (LOM) to the module that provides the action, journaled, with
//! `rune schema rcs`; the BPCS request a plugin gets, and a module's SPI
//! `execute`, are derived from it.

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::support::{root, rune};

/// The journal lines of `rune ARGS... --journal J`, with its exit code.
fn journaled(args: &[&str]) -> (i32, Vec<Json>) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let out = rune(args.iter().copied())
        .args(["--journal", journal.to_str().unwrap()])
        .run();
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.code, lines)
}

fn messages<'a>(lines: &'a [Json], protocol: &str, direction: &str) -> Vec<&'a Json> {
    lines
        .iter()
        .filter(|l| {
            l["event"] == "message" && l["protocol"] == protocol && l["direction"] == direction
        })
        .map(|l| &l["message"])
        .collect()
}

fn jq_missing() -> bool {
    let present = std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        crate::support::skip("jq is not installed (the fixtures use it)");
    }
    !present
}

/// The RCS fields RUNE's rcs.md marks required, and the schema rune prints.
fn check_rcs(rcs: &Json) {
    for (section, field) in [
        ("message_metadata", "version"),
        ("message_metadata", "message_id"),
        ("message_metadata", "created_at"),
        ("routing", "event_type"),
        ("routing", "source_module"),
        ("payload", "schema_version"),
        ("payload", "content_type"),
        ("payload", "size_bytes"),
        ("payload", "data"),
    ] {
        assert!(
            !rcs[section][field].is_null(),
            "{section}.{field} missing: {rcs:#}"
        );
    }
    let schema: Json = serde_json::from_str(&rune(["schema", "rcs"]).run().stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(rcs).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{rcs:#}");
    // size_bytes and checksum are of payload.data as the message writes it.
    let bytes = serde_json::to_vec(&rcs["payload"]["data"]).unwrap();
    assert_eq!(rcs["payload"]["size_bytes"], bytes.len());
    let sum: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(rcs["payload"]["checksum"], sum);
}

#[test]
fn a_plugin_request_is_an_rcs_message_and_each_attempt_derives_from_it() {
    if jq_missing() {
        return;
    }
    let (code, lines) = journaled(&[
        "run",
        "flaky",
        "--catalog",
        "tests/fixtures/plugins/catalog.yaml",
        "--deterministic",
    ]);
    assert_eq!(code, 0, "{lines:#?}");
    let rcs = messages(&lines, "rcs", "request");
    assert_eq!(rcs.len(), 1, "one RCS request per action request");
    let rcs = rcs[0];
    check_rcs(rcs);
    assert_eq!(rcs["routing"]["event_type"], "ACTION_EXECUTE_REQUEST");
    assert_eq!(rcs["routing"]["source_module"], "LOM");
    assert_eq!(rcs["routing"]["target_module"], "faulty");
    assert_eq!(rcs["quality_of_service"]["max_retries"], 2);
    assert_eq!(rcs["quality_of_service"]["retry_delay_ms"], 20);
    assert_eq!(
        rcs["quality_of_service"]["retry_on"],
        serde_json::json!(["retryable"])
    );
    assert!(rcs["routing"]["timeout_ms"].as_u64().unwrap() > 0);
    // Three attempts, each a BPCS request whose parent is the RCS message.
    let bpcs = messages(&lines, "bpcs", "request");
    assert_eq!(bpcs.len(), 3);
    for (n, request) in bpcs.iter().enumerate() {
        let meta = &request["message_metadata"];
        assert_eq!(
            meta["parent_message_id"],
            rcs["message_metadata"]["message_id"]
        );
        assert_eq!(
            meta["correlation_id"],
            rcs["message_metadata"]["correlation_id"]
        );
        assert_eq!(request["observability"], rcs["observability"]);
        assert_eq!(
            request["payload"]["input_parameters"],
            rcs["payload"]["data"]["input_parameters"]
        );
        let mut context = rcs["payload"]["data"]["context"].clone();
        context["attempt"] = (n + 1).into();
        assert_eq!(request["payload"]["context"], context);
    }
    // The RCS request is journaled before the first attempt.
    let first = |p: &str| lines.iter().position(|l| l["protocol"] == p).unwrap();
    assert!(first("rcs") < first("bpcs"));
}

#[test]
fn a_module_execute_carries_the_rcs_requests_parameters_and_context() {
    if jq_missing() {
        return;
    }
    let (code, lines) = journaled(&[
        "apply",
        "--catalog",
        "tests/fixtures/module_exec/catalog.yaml",
        "--action",
        "mexec",
        "--param",
        "n=5",
        "--deterministic",
    ]);
    assert_eq!(code, 0, "{lines:#?}");
    let rcs = messages(&lines, "rcs", "request");
    assert_eq!(rcs.len(), 1);
    check_rcs(rcs[0]);
    assert_eq!(rcs[0]["routing"]["target_module"], "exec-mod");
    let execute = messages(&lines, "spi", "request")
        .into_iter()
        .find(|m| m["method"] == "execute")
        .expect("an execute call");
    assert_eq!(
        execute["params"]["input_parameters"],
        rcs[0]["payload"]["data"]["input_parameters"]
    );
    assert_eq!(
        execute["params"]["context"],
        rcs[0]["payload"]["data"]["context"]
    );
}

#[test]
fn rune_schema_rcs_is_the_file_generated_from_the_type() {
    let text = rune::exec::bpcs::rcs_schema();
    let path = root().join("schemas/rcs.schema.json");
    if std::env::var_os("RUNE_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let out = rune(["schema", "rcs"]).run();
    assert_eq!(out.code, 0);
    assert_eq!(out.stdout, text);
}

#[test]
fn the_apply_report_keeps_the_plugins_bpcs_response() {
    if jq_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let out = rune([
        "apply",
        "--catalog",
        "tests/fixtures/plugins/catalog.yaml",
        "--action",
        "ok",
        "--format",
        "json",
        "--journal",
        journal.to_str().unwrap(),
    ])
    .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let report: Json = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["action"] == "ok")
        .unwrap();
    let response = &step["plugin_response"];
    // ok.sh echoes the request's metadata and observability, as BPCS asks.
    assert_eq!(response["payload"]["result"], "success", "{step:#}");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rcs = messages(&lines, "rcs", "request");
    assert_eq!(
        response["message_metadata"]["parent_message_id"],
        rcs[0]["message_metadata"]["message_id"]
    );
    assert_eq!(response["observability"]["trace_id"], report["trace_id"]);
    // The same response as the journal's.
    assert_eq!(*response, *messages(&lines, "bpcs", "response")[0]);
}
