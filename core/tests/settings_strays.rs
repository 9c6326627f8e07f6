//! The settings contract holds: no `POSTAGRAM_*` name is spelled in Rust code outside
//! `core/src/settings/` (only comments may mention one), and every `POSTAGRAM_*` name any
//! tracked file mentions — code, scripts, Dockerfiles, charts, docs — is one the contract
//! defines, so a renamed or removed setting cannot live on in a README or a manifest.

use std::path::{Path, PathBuf};
use std::process::Command;

use postagram_core::settings::env;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ has a parent")
        .to_path_buf()
}

/// Every file git tracks or would track (untracked but not ignored), as text when it is.
fn tracked_text_files() -> Vec<(String, String)> {
    let root = repo_root();
    let out = Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .current_dir(&root)
        .output()
        .expect("git must be installed to check the settings contract");
    assert!(
        out.status.success(),
        "git ls-files failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<(String, String)> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let rel = String::from_utf8_lossy(p).into_owned();
            let text = std::fs::read_to_string(root.join(&rel)).ok()?;
            Some((rel, text))
        })
        .collect();
    assert!(
        files.len() > 50,
        "only {} files found under {}",
        files.len(),
        root.display()
    );
    files
}

/// `POSTAGRAM_` followed by at least one upper-case letter, digit or underscore.
fn names_in(line: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("POSTAGRAM_") {
        let tail = &rest[i..];
        let len = tail
            .char_indices()
            .skip("POSTAGRAM_".len())
            .find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_'))
            .map(|(j, _)| j)
            .unwrap_or(tail.len());
        let name = tail[..len].trim_end_matches('_');
        if name.len() > "POSTAGRAM".len() {
            names.push(name);
        }
        rest = &tail[len.max(1)..];
    }
    names
}

#[test]
fn rust_code_spells_no_setting_name_outside_the_contract() {
    let mut strays = Vec::new();
    for (path, text) in tracked_text_files() {
        if !path.ends_with(".rs")
            || path.starts_with("core/src/settings/")
            || path == "core/tests/settings_strays.rs"
        {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            if !names_in(line).is_empty() {
                strays.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        strays.is_empty(),
        "use the constants of postagram_core::settings::env instead of spelling these names:\n{}",
        strays.join("\n")
    );
}

#[test]
fn every_mentioned_setting_exists_in_the_contract() {
    let mut unknown = Vec::new();
    for (path, text) in tracked_text_files() {
        if path == "core/tests/settings_strays.rs" {
            continue; // its own scanner test uses made-up names
        }
        for (n, line) in text.lines().enumerate() {
            for name in names_in(line) {
                if !env::ALL.contains(&name) {
                    unknown.push(format!("{path}:{}: {name}", n + 1));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "names no binary reads (add them to core/src/settings/env.rs or fix the text):\n{}",
        unknown.join("\n")
    );
}

#[test]
fn the_scanner_finds_names() {
    assert_eq!(
        names_in("a POSTAGRAM_ADDR=1 and `POSTAGRAM_MAX_LABELS`"),
        ["POSTAGRAM_ADDR", "POSTAGRAM_MAX_LABELS"]
    );
    assert!(names_in("POSTAGRAM_* variables").is_empty());
    assert_eq!(names_in("POSTAGRAM_X_"), ["POSTAGRAM_X"]);
}
