//! Schema verdicts kept between runs (src/schema/verdicts.rs): a catalog file
//! found clean is not checked against the schema again while its bytes are
//! unchanged; nothing else about a command changes. Each test has its own store.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::support::{rune, Output};

/// Every verdict in `store` (`schema-verdicts/<binary>/<file key>`).
fn verdicts(store: &Path) -> Vec<PathBuf> {
    let Ok(binaries) = std::fs::read_dir(store.join("schema-verdicts")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = binaries
        .flatten()
        .flat_map(|b| std::fs::read_dir(b.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// The key a YAML file's verdict is kept under: its format and its bytes.
fn yaml_key(text: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"yaml\0");
    hash.update(text.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn list_actions(catalog: &Path, store: &Path) -> Output {
    rune(["list-actions", "--catalog"])
        .arg_path(catalog)
        .env("RUNE_CACHE_DIR", store.to_str().unwrap())
        .run()
}

fn validate(catalog: &Path, store: &Path) -> Output {
    rune(["validate"])
        .arg_path(catalog)
        .env("RUNE_CACHE_DIR", store.to_str().unwrap())
        .run()
}

/// A one-module catalog, valid on its own.
const VALID: &str = r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: bench
      module_class: Bench
      module_type: plugin_host
      module_version: 1.0.0
      description: One no-op action
    capability_declaration:
      actions:
        - action: noop
          description: Does nothing
          category: diagnostic
          impact: low
          exec: ["./noop.sh"]
    lifecycle:
      runtime: none
"#;

/// The same catalog with one schema error (an impact the schema does not know).
fn broken(valid: &str) -> String {
    let broken = valid.replacen("impact: low", "impact: lowest", 1);
    assert_ne!(broken, valid, "the fixture has an impact");
    broken
}

#[test]
fn a_clean_file_is_remembered_once_and_the_output_does_not_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let catalog = dir.path().join("catalog.yaml");
    let text = VALID.to_string();
    std::fs::write(&catalog, &text).unwrap();

    let first = list_actions(&catalog, &store);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let kept = verdicts(&store);
    assert_eq!(kept.len(), 1, "one verdict per clean file: {kept:?}");
    assert_eq!(
        kept[0].file_name().unwrap().to_str().unwrap(),
        yaml_key(&text),
        "named by the file's format and bytes"
    );
    let mode = std::fs::metadata(&kept[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "verdicts are private: {mode:o}");
    let store_mode = std::fs::metadata(&store).unwrap().permissions().mode();
    assert_eq!(
        store_mode & 0o077,
        0,
        "the store is created 0700: {store_mode:o}"
    );

    let second = list_actions(&catalog, &store);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(
        second.stdout, first.stdout,
        "a remembered verdict changes nothing"
    );
    assert_eq!(second.stderr, first.stderr);
    assert_eq!(verdicts(&store), kept);
}

#[test]
fn a_file_with_schema_errors_is_never_remembered_and_an_edit_is_checked_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let catalog = dir.path().join("catalog.yaml");
    let text = VALID.to_string();
    std::fs::write(&catalog, &text).unwrap();
    assert_eq!(list_actions(&catalog, &store).code, 0);
    assert_eq!(verdicts(&store).len(), 1);

    // The clean file's verdict does not cover the edited bytes.
    std::fs::write(&catalog, broken(&text)).unwrap();
    for _ in 0..2 {
        let out = list_actions(&catalog, &store);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("lowest"), "{}", out.stderr);
        assert_eq!(
            verdicts(&store).len(),
            1,
            "no verdict for a file with errors"
        );
    }
}

#[test]
fn validate_never_reads_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let catalog = dir.path().join("catalog.yaml");
    let text = VALID.to_string();
    std::fs::write(&catalog, &text).unwrap();
    assert_eq!(list_actions(&catalog, &store).code, 0);
    let binary_dir = verdicts(&store)[0].parent().unwrap().to_path_buf();

    // A verdict claiming the broken file clean (as only the store's owner could
    // leave one): `validate` does the full check all the same.
    let bad = broken(&text);
    std::fs::write(binary_dir.join(yaml_key(&bad)), "").unwrap();
    std::fs::write(&catalog, &bad).unwrap();
    let out = validate(&catalog, &store);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("lowest"), "{}", out.stderr);
    let fresh = dir.path().join("fresh");
    let clean = validate(&catalog, &fresh);
    assert_eq!(
        out.stderr, clean.stderr,
        "validate's output is the store's own"
    );
    assert!(verdicts(&fresh).is_empty(), "validate leaves no verdict");
}

#[test]
fn a_store_others_can_write_or_that_is_not_a_directory_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, VALID).unwrap();

    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = list_actions(&catalog, &open);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        verdicts(&open).is_empty(),
        "a world-writable store is not trusted"
    );
    assert!(!open.join("schema-verdicts").exists());

    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = list_actions(&catalog, &file);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");

    // Turned off: an empty RUNE_CACHE_DIR.
    let out = rune(["list-actions", "--catalog"])
        .arg_path(&catalog)
        .env("RUNE_CACHE_DIR", "")
        .env("HOME", dir.path().to_str().unwrap())
        .env_remove("XDG_CACHE_HOME")
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !dir.path().join(".cache").exists(),
        "nothing written when off"
    );
}

#[test]
fn without_rune_cache_dir_the_store_is_under_the_users_cache_directory() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    std::fs::write(&catalog, VALID).unwrap();
    let xdg = dir.path().join("xdg");
    let out = rune(["list-actions", "--catalog"])
        .arg_path(&catalog)
        .env_remove("RUNE_CACHE_DIR")
        .env("XDG_CACHE_HOME", xdg.to_str().unwrap())
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(verdicts(&xdg.join("rune")).len(), 1);

    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let out = rune(["list-actions", "--catalog"])
        .arg_path(&catalog)
        .env_remove("RUNE_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env("HOME", home.to_str().unwrap())
        .run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(verdicts(&home.join(".cache/rune")).len(), 1);
}
