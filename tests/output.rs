//! What rune prints and writes, whatever the catalog holds: no crash on long lines,
//! no forged output from control characters, rendering cost linear in the number of
//! diagnostics, writes that respect the filesystem, columns that agree between
//! formats (issue 7, items 1, 3, 4, 5, 6g and 8).

use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::{rune, Output};

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("test file is written");
}

fn running_as_root() -> bool {
    // The owner of a file this process just created is its effective user.
    let dir = TempDir::new().expect("temporary directory");
    let probe = dir.path().join("probe");
    write(&probe, "");
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&probe)
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    false
}

/// `n` modules as minified JSON on one line, the one at `bad` with a bad version.
fn one_line_catalog(n: usize, bad: usize, bad_version: &str) -> String {
    let modules: Vec<String> = (0..n)
        .map(|i| {
            let version = if i == bad { bad_version } else { "1.0.0" };
            format!(
                r#"{{"module_identity":{{"module_name":"m{i}","module_class":"Svc","module_type":"service","module_version":"{version}","description":"d"}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"catalog_version":"1","modules":[{}]}}"#,
        modules.join(",")
    )
}

fn assert_no_panic(out: &Output) {
    assert!(
        !out.stderr.contains("panicked") && out.code != 101,
        "{}",
        out.snapshot()
    );
}

// Regression: a label past column 65,535 of one line made miette's graphical
// handler panic ("Formatting argument out of range", exit 101) in every command.
#[test]
fn a_label_past_column_65535_renders_a_window_of_the_line_in_every_command() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.json");
    let text = one_line_catalog(700, 650, "1.x.0");
    assert!(text.find("1.x.0").unwrap() > 70_000, "the label is far out");
    write(&file, &text);
    for command in ["validate", "plan", "graph", "list-actions"] {
        let out = rune([command, "--color", "never"]).arg_path(&file).run();
        assert_no_panic(&out);
        assert_eq!(out.code, 1, "{command}: {}", out.snapshot());
        assert!(out.stderr.contains("invalid_version"), "{}", out.stderr);
        // The header gives the label's real column; the snippet shows a window.
        let column = text.find("\"1.x.0\"").unwrap() + 1;
        assert!(
            out.stderr.contains(&format!("catalog.json:1:{column}]")),
            "{command}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(" │ …") && out.stderr.contains("\"module_version\":\"1.x.0\""));
        let longest = out.stderr.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(longest < 300, "{command}: a line of {longest} characters");
    }
    let out = rune(["validate", "--color", "never"]).arg_path(&file).run();
    let stderr = out
        .stderr
        .replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(stderr);
}

#[test]
fn a_label_of_any_width_is_cut_with_an_ellipsis() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.json");
    // One version of 100,000 characters, after 70,000 characters of other modules.
    let long_version = format!("1.0.0-{}!", "a".repeat(100_000));
    let huge = format!("1.0.0.{}", "9".repeat(100_000));
    for version in [&long_version, &huge] {
        write(&file, &one_line_catalog(500, 499, version));
        let out = rune(["validate", "--color", "never"]).arg_path(&file).run();
        assert_no_panic(&out);
        assert_eq!(out.code, 1, "{}", out.snapshot());
        let longest = out.stderr.lines().map(|l| l.chars().count()).max().unwrap();
        // The message quotes the version in full; snippet lines stay short.
        let snippet_longest = out
            .stderr
            .lines()
            .filter(|l| l.contains(" │ ") || l.contains(" · "))
            .map(|l| l.chars().count())
            .max()
            .unwrap();
        assert!(snippet_longest < 300, "{snippet_longest} of {longest}");
        assert!(out.stderr.contains("…"), "{}", out.stderr);
    }
}

#[test]
fn a_long_multi_line_label_is_shown_on_its_first_line() {
    // A flow mapping over 5,000 lines that is not a list: one label over all of it.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.yaml");
    let mut text = String::from("catalog_version: \"1\"\nmodules: {\n");
    for i in 0..5_000 {
        text.push_str(&format!("  k{i}: {i},\n"));
    }
    text.push_str("}\n");
    write(&file, &text);
    let out = rune(["validate", "--color", "never"]).arg_path(&file).run();
    assert_no_panic(&out);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.lines().count() < 40,
        "a label over 5,000 lines is not printed line by line:\n{}",
        out.stderr
    );
}

// Regression: rendering cost diagnostics x file size (20,000 unknown keys: 76 s).
// At 5,000 keys on one JSON line the old renderer scanned 5,000 x 150 KB per format.
#[test]
fn many_diagnostics_on_one_line_render_in_linear_time() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.json");
    let keys: Vec<String> = (0..5_000)
        .map(|i| format!(r#""unknown_key_{i:05}":{i}"#))
        .collect();
    write(
        &file,
        &format!(
            r#"{{"catalog_version":"1","modules":[],{}}}"#,
            keys.join(",")
        ),
    );
    for format in ["human", "json", "github", "sarif"] {
        // Generous for a debug build on a busy machine; the old renderer took
        // minutes here. Past it the run is killed and the test fails.
        let out = rune(["validate", "--color", "never", "--format", format])
            .arg_path(&file)
            .deadline(Duration::from_secs(30))
            .run();
        assert_eq!(out.code, 1, "{format}");
        let text = if format == "human" {
            &out.stderr
        } else {
            &out.stdout
        };
        let reported = match format {
            "json" => out.json()["diagnostics"].as_array().unwrap().len(),
            "sarif" => out.json()["runs"][0]["results"].as_array().unwrap().len(),
            "github" => text.lines().filter(|l| l.starts_with("::error ")).count(),
            _ => text.matches("rune::schema::unknown_key").count(),
        };
        assert_eq!(reported, 5_000, "{format}");
    }
}

#[test]
fn a_cycle_through_many_modules_shows_a_few_snippets_and_counts_the_rest() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.yaml");
    let n = 2_000;
    let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - module_identity: {{ module_name: m{i}, module_class: Svc, module_type: service, module_version: 1.0.0, description: d }}\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n      dependencies:\n        - {{ module_name: m{}, criticality: required }}\n",
            (i + 1) % n
        ));
    }
    write(&file, &text);
    let human = rune(["validate", "--color", "never"]).arg_path(&file).run();
    assert_eq!(human.code, 1, "{}", human.snapshot());
    assert_eq!(human.stderr.matches("depends on `").count(), 12);
    assert!(
        human
            .stderr
            .contains("note: 1988 more locations not shown; `--format json` lists every one"),
        "{}",
        human.stderr
    );
    let json = rune(["validate", "--format", "json"]).arg_path(&file).run();
    let cycle = &json.json()["diagnostics"][0];
    assert_eq!(cycle["labels"].as_array().unwrap().len(), n);
}

/// A valid catalog whose strings carry terminal controls and bidi overrides.
const HOSTILE: &str = r#"catalog_version: "1"
modules:
  - module_identity: { module_name: web, module_class: Svc, module_type: service, module_version: 1.0.0, description: "Web" }
    capability_declaration:
      actions:
        - action: restart-web
          description: "innocent\e[2K\rFAKE: all good"
          category: remediation
          impact: high
          exec: ["plugins/restart.sh", "--note=\e]0;title\a", "\u202eevil"]
          input_schema:
            type: object
            properties:
              node: { type: string, description: "Node\r\nFAKE: ok", enum: [a, b], default: a }
    lifecycle:
      runtime: process
      exec: ["bin/web", "\x9b2J"]
"#;

fn hostile() -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::create_dir(dir.path().join("catalogs")).unwrap();
    write(&dir.path().join("catalogs/web.yaml"), HOSTILE);
    dir
}

/// No byte of `text` is a control character other than a line break, and no bidi
/// control survives.
fn assert_clean(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(bad.is_empty(), "{what} prints {bad:?}:\n{text}");
}

// Regression: `description: "innocent\e[2K\rFAKE: all good"` rewrote the line a
// reviewer reads in `plan` and `list-actions`.
#[test]
fn control_characters_from_the_catalog_are_escaped_in_plan_and_list_actions() {
    let dir = hostile();
    let plan = rune([
        "plan",
        "--at",
        "2026-03-27T10:00:00Z",
        "--action",
        "restart-web",
        "-p",
        "node=a",
        "--ack",
        "restart-web",
        "--reason",
        "wedged\u{1b}[2K\rFAKE",
    ])
    .current_dir(dir.path())
    .run();
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert_clean("plan", &plan.stdout);
    assert_clean("plan stderr", &plan.stderr);
    assert!(plan
        .stdout
        .contains(r"does      innocent\e[2K\rFAKE: all good"));
    assert!(plan
        .stdout
        .contains(r"command   plugins/restart.sh '--note=\e]0;title\u{7}' '\u{202e}evil'"));
    assert!(plan.stdout.contains(r"process: bin/web '\u{9b}2J'"));
    assert!(plan
        .stdout
        .contains(r#"--ack restart-web --reason "wedged\e[2K\rFAKE""#));

    let list = rune(["list-actions"]).current_dir(dir.path()).run();
    assert_eq!(list.code, 0, "{}", list.snapshot());
    assert_clean("list-actions", &list.stdout);
    insta::assert_snapshot!(list.stdout);

    // JSON stays exact.
    let json = rune(["list-actions", "--format", "json"])
        .current_dir(dir.path())
        .run();
    let action = &json.json()["actions"][0];
    assert_eq!(action["description"], "innocent\u{1b}[2K\rFAKE: all good");
    assert_eq!(action["command"][2], "\u{202e}evil");
    let plan_json = rune([
        "plan",
        "--format",
        "json",
        "--at",
        "2026-03-27T10:00:00Z",
        "--action",
        "restart-web",
        "-p",
        "node=a",
        "--ack",
        "restart-web",
        "--reason",
        "wedged\u{1b}[2K\rFAKE",
    ])
    .current_dir(dir.path())
    .run();
    assert_eq!(
        plan_json.json()["request"]["reason"],
        "wedged\u{1b}[2K\rFAKE"
    );
}

#[test]
fn parameter_values_are_escaped_in_the_human_plan() {
    let dir = hostile();
    let out = rune([
        "plan",
        "--action",
        "restart-web",
        "-p",
        "node=a\u{9b}2J\u{202e}",
        "--ack",
        "restart-web",
        "--reason",
        "r",
    ])
    .current_dir(dir.path())
    .run();
    // The value fails the enum; whatever the verdict, nothing raw reaches the terminal.
    assert_clean("plan stdout", &out.stdout);
    assert_clean("plan stderr", &out.stderr);
    assert!(
        out.stderr.contains(r"\u{9b}2J\u{202e}"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn control_characters_in_diagnostics_are_escaped_in_human_and_github_formats() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.yaml");
    write(
        &file,
        "catalog_version: \"1\"\nmodules: []\n\"evil\\e[2K\\rFAKE: valid\": 1\n\"\\u202eright\": 2\n",
    );
    let human = rune(["validate", "--color", "never"]).arg_path(&file).run();
    assert_eq!(human.code, 1);
    assert_clean("validate", &human.stderr);
    assert!(
        human
            .stderr
            .contains(r"unknown key `evil\e[2K\rFAKE: valid`"),
        "{}",
        human.stderr
    );
    assert!(human.stderr.contains(r"\u{202e}right"), "{}", human.stderr);
    let github = rune(["validate", "--format", "github"])
        .arg_path(&file)
        .run();
    assert_clean("github", &github.stdout);
    assert!(github.stdout.contains(r"evil\e[2K\rFAKE: valid"));
    // A message is prose for people in every format, so JSON carries the same
    // escaped quote (data fields, like list-actions descriptions, stay exact).
    let json = rune(["validate", "--format", "json"]).arg_path(&file).run();
    assert!(json.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains(r"evil\e[2K\rFAKE: valid")));
}

#[test]
fn raw_control_characters_in_a_snippet_line_are_escaped() {
    // A raw ESC is not valid YAML: the syntax error shows the line, escaped.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.yaml");
    write(
        &file,
        "catalog_version: \"1\"\nmodules: []\nx: \"a\u{1b}[2Kb\u{202e}\"\n",
    );
    let out = rune(["validate", "--color", "never"]).arg_path(&file).run();
    assert_ne!(out.code, 0);
    assert_clean("validate", &out.stderr);
}

/// `rune plan --format json --out PATH` in the plan fixture.
/// What a `plan --format json` run that refused `--out` reported: its JSON
/// diagnostics report on stdout (no plan), with the `unwritable_out` code.
fn refused_out(out: &Output) -> String {
    let report = out.json();
    assert_eq!(
        report["diagnostics"][0]["code"], "rune::cli::unwritable_out",
        "{report:#}"
    );
    assert!(report.get("steps").is_none(), "refused before planning");
    out.stdout.clone()
}

fn plan_out(dir: &TempDir, path: &Path) -> Output {
    plan_out_command(dir, path).run()
}

fn plan_out_command(dir: &TempDir, path: &Path) -> crate::support::Rune {
    rune([
        "plan",
        "--format",
        "json",
        "--at",
        "2026-03-27T10:00:00Z",
        "--out",
    ])
    .arg_path(path)
    .current_dir(dir.path())
}

#[test]
#[cfg(unix)]
fn out_writes_through_a_symlink_to_its_target() {
    let dir = crate::plan::fixture();
    let target = dir.path().join("plans/plan.json");
    std::fs::create_dir(dir.path().join("plans")).unwrap();
    write(&target, "old");
    let link = dir.path().join("current.json");
    std::os::unix::fs::symlink("plans/plan.json", &link).unwrap();
    let out = plan_out(&dir, &link);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    // The saved plan finds its catalogs from the file the link names, not the link.
    assert_eq!(written["inputs"]["catalog_root"], "../catalogs");
    let mut printed = out.json();
    printed["inputs"]["catalog_root"] = written["inputs"]["catalog_root"].clone();
    assert_eq!(written, printed);
    // A dangling link creates its target.
    let dangling = dir.path().join("next.json");
    std::os::unix::fs::symlink("plans/next-target.json", &dangling).unwrap();
    let out = plan_out(&dir, &dangling);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(dir.path().join("plans/next-target.json").is_file());
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
#[cfg(unix)]
fn out_keeps_the_permissions_of_the_file_it_replaces() {
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::plan::fixture();
    let target = dir.path().join("plan.json");
    write(&target, "old");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = plan_out(&dir, &target);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
#[cfg(unix)]
fn out_refuses_a_fifo_a_directory_and_a_device() {
    let dir = crate::plan::fixture();
    let fifo = dir.path().join("fifo");
    let mut mkfifo = std::process::Command::new("mkfifo");
    mkfifo.arg(&fifo);
    let made = crate::support::succeeds(mkfifo);
    let mut cases = vec![(dir.path().join("catalogs"), "is a directory")];
    if made {
        cases.push((fifo.clone(), "is a FIFO"));
    } else {
        eprintln!("skipped the FIFO case: mkfifo is not available");
    }
    // As root a rename over a device succeeds and replaces the node (the original
    // bug, with /dev/full); rune must refuse before trying, whoever runs it. As root
    // the test makes its own node, so a regression cannot replace /dev/null.
    let device = if running_as_root() {
        let node = dir.path().join("null");
        let mut mknod = std::process::Command::new("mknod");
        mknod.args([node.as_os_str(), "c".as_ref(), "1".as_ref(), "3".as_ref()]);
        let made = crate::support::succeeds(mknod);
        made.then_some(node)
    } else {
        Some(Path::new("/dev/null").to_path_buf())
    };
    match &device {
        Some(node) => cases.push((node.clone(), "is a device")),
        None => eprintln!("skipped the device case: running as root and mknod failed"),
    }
    for (path, kind) in cases {
        let out = plan_out(&dir, &path);
        assert_eq!(out.code, 2, "{}", out.snapshot());
        let report = refused_out(&out);
        assert!(
            report.contains(kind) && report.contains("not a regular file"),
            "{report}"
        );
    }
    if made {
        let meta = std::fs::symlink_metadata(&fifo).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(meta.file_type().is_fifo(), "the FIFO is left alone");
    }
    if let Some(node) = device {
        use std::os::unix::fs::FileTypeExt;
        let meta = std::fs::symlink_metadata(node).unwrap();
        assert!(
            meta.file_type().is_char_device(),
            "the device node is left alone"
        );
    }
}

#[test]
fn out_dash_writes_the_plan_document_to_stdout() {
    let dir = crate::plan::fixture();
    let out = rune(["plan", "--at", "2026-03-27T10:00:00Z", "--out", "-"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let json = rune(["plan", "--format", "json", "--at", "2026-03-27T10:00:00Z"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.stdout, json.stdout, "stdout is the plan document");
    assert!(
        out.stderr.contains("startup:"),
        "the readable plan moves to stderr"
    );
    assert!(!dir.path().join("-").exists());
}

#[test]
#[cfg(target_os = "linux")]
fn a_failed_write_to_stdout_exits_2_with_a_message() {
    let dir = crate::plan::fixture();
    for args in [
        vec!["plan", "--format", "json"],
        vec!["validate", "--format", "json"],
        vec!["list-actions"],
        vec!["graph"],
        vec!["explain"],
        vec!["schema"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = crate::support::rune(&args)
            .current_dir(dir.path())
            .stdout(full)
            .run();
        let stderr = &out.stderr;
        assert_eq!(out.code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("rune::cli::unwritable_stdout")
                && stderr.contains("cannot write to stdout"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
#[cfg(unix)]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    // A pipe whose reader takes 16 bytes and closes it: made here, its read end
    // dropped by the test, its write end rune's stdout.
    let (reader, writer) = nix::unistd::pipe().unwrap();
    let mut reader = std::fs::File::from(reader);
    let child = crate::support::rune(["explain"]).stdout(writer).spawn();
    let mut first = [0u8; 16];
    reader.read_exact(&mut first).unwrap();
    drop(reader);
    let out = child.wait();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
}

const WARNING_ONLY: &str = "catalog_version: \"1\"\nmodules:\n  - module_identity: { module_name: api, module_class: Svc, module_type: service, module_version: 1.0.0, description: Example }\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n      dependencies:\n        - { module_name: cache, criticality: optional }\n";

// Regression: `validate --deny-warnings --format json` exited 1 but said valid.
#[test]
fn deny_warnings_makes_every_format_say_invalid() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.yaml");
    write(&file, WARNING_ONLY);
    let json = rune(["validate", "--format", "json"]).arg_path(&file).run();
    assert_eq!(json.code, 0);
    assert_eq!(json.json()["valid"], true);
    assert_eq!(json.json()["summary"]["warnings"], 1);
    let denied = rune(["validate", "--format", "json", "--deny-warnings"])
        .arg_path(&file)
        .run();
    assert_eq!(denied.code, 1);
    assert_eq!(denied.json()["valid"], false);
    let human = rune(["validate", "--color", "never", "--deny-warnings"])
        .arg_path(&file)
        .run();
    assert_eq!(human.code, 1);
    let last = human.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        "invalid: 0 errors, 1 warning in 1 file, 1 module, 0 actions (warnings denied by --deny-warnings)"
    );
}

// Regression: after a byte order mark and on non-ASCII lines, the human header
// counted bytes (1:21) while JSON counted the mark as a character (19).
#[test]
fn columns_agree_in_every_format_after_a_bom_and_on_non_ascii_lines() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("catalog.yaml");
    write(
        &file,
        "\u{feff}catalog_version: 1\nmodules:\n  - module_identity: { module_name: \"é\", bogus: 1 }\n",
    );
    let human = rune(["validate", "--color", "never"]).arg_path(&file).run();
    let json = rune(["validate", "--format", "json"]).arg_path(&file).run();
    let sarif = rune(["validate", "--format", "sarif"])
        .arg_path(&file)
        .run();
    let github = rune(["validate", "--format", "github"])
        .arg_path(&file)
        .run();
    let diagnostics = json.json()["diagnostics"].as_array().unwrap().clone();
    let results = sarif.json()["runs"][0]["results"]
        .as_array()
        .unwrap()
        .clone();
    let line3 = "  - module_identity: { module_name: \"é\", bogus: 1 }";
    let bogus = line3[..line3.find("bogus").unwrap()].chars().count() + 1;
    let expected = [
        ("rune::schema::invalid_format", 1, 18),
        ("rune::schema::unknown_key", 3, bogus),
    ];
    for (code, line, column) in expected {
        let d = diagnostics
            .iter()
            .find(|d| d["code"] == code)
            .unwrap_or_else(|| panic!("{code} in {diagnostics:?}"));
        assert_eq!(d["location"]["line"], line, "{d}");
        assert_eq!(d["location"]["column"], column, "{d}");
        assert!(
            human
                .stderr
                .contains(&format!("catalog.yaml:{line}:{column}]")),
            "{}",
            human.stderr
        );
        assert!(results.iter().any(|r| {
            let region = &r["locations"][0]["physicalLocation"]["region"];
            r["ruleId"] == code && region["startLine"] == line && region["startColumn"] == column
        }));
        assert!(github
            .stdout
            .contains(&format!("line={line},col={column},")));
    }
}

#[test]
fn sarif_artifact_uris_are_percent_encoded() {
    let dir = TempDir::new().unwrap();
    let sub = dir.path().join("my dir #1 100%");
    std::fs::create_dir(&sub).unwrap();
    write(&sub.join("café.yaml"), "catalog_version: 1\nmodules: []\n");
    let out = rune(["validate", "--format", "sarif", "my dir #1 100%/café.yaml"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let uri = &out.json()["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        ["artifactLocation"]["uri"];
    assert_eq!(uri, "my%20dir%20%231%20100%25/caf%C3%A9.yaml");
}

#[test]
fn list_actions_takes_catalog_paths_like_the_other_commands() {
    let dir = hostile();
    let out = rune(["list-actions", "--format", "json", "catalogs/web.yaml"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let parameter = &out.json()["actions"][0]["parameters"][0];
    assert_eq!(parameter["enum"], serde_json::json!(["a", "b"]));
    assert_eq!(parameter["default"], "a");
    let missing = rune(["list-actions", "no/such/catalog.yaml"])
        .current_dir(dir.path())
        .run();
    assert_eq!(missing.code, 2, "{}", missing.snapshot());
}

#[test]
fn color_is_offered_only_by_commands_that_colour() {
    for command in ["validate", "plan", "graph", "list-actions"] {
        let out = rune([command, "--help"]).run();
        assert!(out.stdout.contains("--color"), "{command}");
    }
    for command in ["explain", "schema"] {
        let out = rune([command, "--color", "never"]).run();
        assert_eq!(out.code, 2, "{command}: {}", out.snapshot());
    }
    // And where it is offered, it works: forced colour puts escapes in diagnostics.
    let out = rune([
        "validate",
        "--color",
        "always",
        "tests/fixtures/invalid/unknown_key.yaml",
    ])
    .run();
    assert!(out.stderr.contains('\u{1b}'));
}

#[test]
#[cfg(unix)]
fn out_into_a_directory_without_write_permission_exits_2() {
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::plan::fixture();
    // As root, which may write into a read-only directory, rune runs as `nobody`:
    // others may enter and read the fixture.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let Some(plan) = plan_out_command(&dir, &locked.join("plan.json")).unprivileged() else {
        crate::support::skip("running as root without `setpriv` to drop privileges");
        return;
    };
    let out = plan.run();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    // With --format json the refusal is the diagnostics report on stdout. (This
    // case used to be skipped as root, which CI runs as, and looked at stderr.)
    let report = refused_out(&out);
    assert!(
        report.contains("cannot write the plan to") && report.contains("ermission denied"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_dir(&locked).unwrap().count(),
        0,
        "no temporary file left"
    );
}

#[test]
fn out_refuses_to_replace_or_pollute_the_catalog_it_reads() {
    // Regression: `--out catalogs/core.yaml` replaced an input catalog, and a plan
    // saved among the catalogs broke the next run with a score of unknown keys.
    let dir = crate::plan::fixture();
    let core = dir.path().join("catalogs/core.yaml");
    let before = std::fs::read(&core).unwrap();
    for (path, why) in [
        (
            "catalogs/core.yaml",
            "lies in the catalog directory `catalogs`",
        ),
        (
            "catalogs/plan.JSON",
            "lies in the catalog directory `catalogs`",
        ),
    ] {
        let out = plan_out(&dir, Path::new(path));
        assert_eq!(out.code, 2, "{}", out.snapshot());
        let report = refused_out(&out);
        assert!(report.contains(why), "{report}");
        assert!(report.contains("write the plan outside the catalog paths"));
    }
    assert_eq!(
        std::fs::read(&core).unwrap(),
        before,
        "the catalog is intact"
    );
    assert!(!dir.path().join("catalogs/plan.JSON").exists());
    // A catalog file named directly is refused as such.
    let out = rune(["plan", "--at", "2026-03-27T10:00:00Z", "--catalog"])
        .arg_path(&core)
        .args(["--out"])
        .arg_path(&core)
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.contains("is a catalog file this plan reads"),
        "{}",
        out.stderr
    );
    // Hidden files and other extensions are never read back as catalogs.
    for path in ["catalogs/.plan.json", "catalogs/plan.txt"] {
        let out = plan_out(&dir, Path::new(path));
        assert_eq!(out.code, 0, "{path}: {}", out.snapshot());
    }
    let out = rune(["validate", "--format", "json"])
        .current_dir(dir.path())
        .run();
    assert_eq!(
        out.code,
        0,
        "the catalogs still validate: {}",
        out.snapshot()
    );
}

#[test]
fn out_into_a_missing_directory_is_refused_before_planning() {
    let dir = crate::plan::fixture();
    let out = plan_out(&dir, Path::new("nowhere/plan.json"));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    let report = refused_out(&out);
    assert!(
        report.contains("the directory `nowhere` does not exist"),
        "{report}"
    );
    assert!(
        !report.contains(".rune-") && !out.stderr.contains(".rune-"),
        "no temporary path leaks: {report}"
    );
}

#[test]
#[cfg(unix)]
fn a_new_plan_file_gets_the_mode_a_shell_redirect_would_give() {
    // Regression: new plan files were created 0600 (a temporary file's mode), so a
    // CI step running as another user could not read the artifact.
    use std::os::unix::fs::PermissionsExt;
    let dir = crate::plan::fixture();
    for (umask, mode) in [("022", 0o644), ("002", 0o664), ("077", 0o600)] {
        let name = format!("plan-{umask}.json");
        let mut sh = std::process::Command::new("sh");
        sh.arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" plan --at 2026-03-27T10:00:00Z --out {name}"
            ))
            .arg(env!("CARGO_BIN_EXE_rune"))
            .current_dir(dir.path())
            .env_remove("SOURCE_DATE_EPOCH");
        let out = crate::support::output_within(sh, crate::support::DEADLINE).unwrap();
        assert_eq!(out.code, 0, "{}", out.snapshot());
        let got = std::fs::metadata(dir.path().join(&name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(got & 0o777, mode, "umask {umask}");
    }
}

#[test]
fn problems_in_a_file_with_carriage_return_line_breaks_are_on_their_own_lines() {
    // Regression: YAML reads a lone CR as a line break, but rune's line index did
    // not, so every problem of an old Mac file was reported on line 1.
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("cr.yaml");
    write(
        &file,
        "catalog_version: \"1\"\rmodules:\r  - module_identity: {module_name: a, module_class: C, module_type: s, module_version: 1.0.0, description: d}\r    bogus: 1\r",
    );
    let out = rune(["validate", "--format", "json"]).arg_path(&file).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let location = &out.json()["diagnostics"][0]["location"];
    assert_eq!(
        (location["line"].as_u64(), location["column"].as_u64()),
        (Some(4), Some(5))
    );
    let human = rune(["validate", "--color", "never"]).arg_path(&file).run();
    assert!(human.stderr.contains("cr.yaml:4:5]"), "{}", human.stderr);
    assert!(
        human.stderr.contains(" 4 │     bogus: 1\n"),
        "{}",
        human.stderr
    );
}
