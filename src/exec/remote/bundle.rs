//! A plugin bundle: the `exec` file and the action's `ship:` files, keeping their
//! layout below their closest common directory, named by content.
//!
//! The manifest is exactly what `sha256sum` prints for the files (`HASH  PATH`
//! per line, sorted by path), and the bundle's digest is the sha256 of the
//! manifest, so the node checks both with `sha256sum` alone. The tar stream is
//! plain ustar, written here (a few headers; no dependency needed).

use std::path::{Component, Path, PathBuf};

/// Largest file shipped (64 MiB): a plugin, not a data set.
const MAX_FILE: u64 = 64 << 20;

/// One bundle, ready to send.
#[derive(Debug)]
pub(crate) struct Bundle {
    /// sha256 of the manifest.
    pub digest: String,
    /// The exec file's path inside the bundle.
    pub program: String,
    /// The ustar stream: the files and `.rune-manifest`.
    pub tar: Vec<u8>,
}

/// Build the bundle of `program` (absolute) and `ship` (absolute) files.
pub(crate) fn build(program: &Path, ship: &[PathBuf]) -> Result<Bundle, String> {
    let mut files: Vec<&Path> = std::iter::once(program)
        .chain(ship.iter().map(PathBuf::as_path))
        .collect();
    files.sort();
    files.dedup();
    let root = common_dir(&files);
    let mut entries = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .map_err(|_| format!("`{}` is outside the bundle", file.display()))?;
        let rel = rel
            .to_str()
            .filter(|r| !r.is_empty() && !r.contains('\n') && !r.starts_with('.'))
            .ok_or_else(|| format!("`{}` cannot be shipped under that name", file.display()))?
            .to_string();
        let meta = std::fs::metadata(file)
            .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
        if !meta.is_file() {
            return Err(format!("`{}` is not a regular file", file.display()));
        }
        let bytes = crate::loader::read_limited(file, MAX_FILE)
            .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?
            .ok_or_else(|| format!("`{}` is larger than {} MiB", file.display(), MAX_FILE >> 20))?;
        use std::os::unix::fs::PermissionsExt;
        let executable = meta.permissions().mode() & 0o111 != 0;
        entries.push((rel, bytes, executable));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut manifest = String::new();
    for (rel, bytes, _) in &entries {
        manifest.push_str(&format!("{}  {rel}\n", crate::digest::sha256_hex(bytes)));
    }
    let digest = crate::digest::sha256_hex(manifest.as_bytes());
    let mut tar = Vec::new();
    for (rel, bytes, executable) in &entries {
        append(
            &mut tar,
            rel,
            bytes,
            if *executable { 0o700 } else { 0o600 },
        )?;
    }
    append(&mut tar, ".rune-manifest", manifest.as_bytes(), 0o600)?;
    tar.extend_from_slice(&[0u8; 1024]);
    let program = program
        .strip_prefix(&root)
        .ok()
        .and_then(Path::to_str)
        .unwrap_or_default()
        .to_string();
    Ok(Bundle {
        digest,
        program,
        tar,
    })
}

/// The deepest directory holding every file.
fn common_dir(files: &[&Path]) -> PathBuf {
    let mut root: Vec<Component<'_>> = files
        .first()
        .and_then(|f| f.parent())
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for file in files.iter().skip(1) {
        let parent: Vec<Component<'_>> = file
            .parent()
            .map(|p| p.components().collect())
            .unwrap_or_default();
        let same = root.iter().zip(&parent).take_while(|(a, b)| a == b).count();
        root.truncate(same);
    }
    root.iter().collect()
}

/// One ustar entry (name split into prefix and name when longer than 100 bytes).
fn append(tar: &mut Vec<u8>, path: &str, bytes: &[u8], mode: u32) -> Result<(), String> {
    let mut header = [0u8; 512];
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        let split = path[..path.len().min(156)]
            .rfind('/')
            .filter(|i| path.len() - i - 1 <= 100)
            .ok_or_else(|| format!("the path `{path}` is too long to ship"))?;
        (&path[..split], &path[split + 1..])
    };
    header[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{value:0width$o}", width = field.len() - 1);
        field[..text.len()].copy_from_slice(text.as_bytes());
    };
    octal(&mut header[100..108], u64::from(mode));
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], bytes.len() as u64);
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());
    tar.extend_from_slice(&header);
    tar.extend_from_slice(bytes);
    let pad = (512 - bytes.len() % 512) % 512;
    tar.extend(std::iter::repeat_n(0u8, pad));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_kept_below_the_common_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("p/lib")).unwrap();
        std::fs::write(dir.path().join("p/noop.sh"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.path().join("p/lib/x.sh"), "x\n").unwrap();
        let b = build(
            &dir.path().join("p/noop.sh"),
            &[dir.path().join("p/lib/x.sh")],
        )
        .unwrap();
        assert_eq!(b.program, "noop.sh");
        assert_eq!(b.digest.len(), 64);
        let again = build(
            &dir.path().join("p/noop.sh"),
            &[dir.path().join("p/lib/x.sh")],
        )
        .unwrap();
        assert_eq!(b.digest, again.digest);
        std::fs::write(dir.path().join("p/lib/x.sh"), "y\n").unwrap();
        let changed = build(
            &dir.path().join("p/noop.sh"),
            &[dir.path().join("p/lib/x.sh")],
        )
        .unwrap();
        assert_ne!(b.digest, changed.digest);
    }
}
