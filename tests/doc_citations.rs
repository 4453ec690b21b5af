//! The docs back their claims with test names in brackets (`[e2e_write: \`server_disk_full\`]`,
//! `[unit tests \`error::tests::errno_table\`]`). This checks that every test named that way
//! exists, so a renamed or deleted test cannot leave a claim citing nothing.
//!
//! A cited name is a backticked snake_case identifier inside `[...]` (optionally a
//! `module::path`, whose last segment is checked); `name_*` and `name::*` stand for every test
//! that starts with `name_` or lives in module `name`. Names are looked up among the `fn`s,
//! `mod`s and `for_each_server*!`/`e2e_matrix!` modules of `src/` and `tests/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

/// The identifier at the start of `text` (after spaces and an opening parenthesis).
fn leading_ident(text: &str) -> Option<&str> {
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    let end = text.find(|c| !is_ident_char(c)).unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// Every name a test can be cited by: functions, modules, and the modules the test macros
/// define.
fn defined_names() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for keyword in [
            "fn ",
            "mod ",
            "for_each_server_kind!(",
            "for_each_server!(",
            "e2e_matrix!(",
        ] {
            for (i, _) in text.match_indices(keyword) {
                let before = text[..i].chars().next_back();
                if before.is_some_and(is_ident_char) {
                    continue;
                }
                if let Some(name) = leading_ident(&text[i + keyword.len()..]) {
                    names.insert(name.to_string());
                }
            }
        }
    }
    names
}

/// `(file, cited name)` for every test name cited in brackets in the docs.
fn citations() -> Vec<(String, String)> {
    let mut docs = vec![root().join("README.md")];
    for entry in fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let mut out = Vec::new();
    for doc in docs {
        let text = fs::read_to_string(&doc).unwrap();
        let rel = doc.strip_prefix(root()).unwrap().display().to_string();
        let mut rest = text.as_str();
        while let Some(open) = rest.find('[') {
            let Some(len) = rest[open + 1..].find([']', '[']) else {
                break;
            };
            let inside = &rest[open + 1..open + 1 + len];
            for (k, quoted) in inside.split('`').enumerate() {
                let candidate = k % 2 == 1
                    && quoted.contains('_')
                    && quoted
                        .chars()
                        .all(|c| is_ident_char(c) || c == ':' || c == '*');
                if candidate {
                    out.push((rel.clone(), quoted.to_string()));
                }
            }
            rest = &rest[open + 1 + len..];
        }
    }
    out
}

/// Whether `cited` names something in `names`.
fn exists(cited: &str, names: &BTreeSet<String>) -> bool {
    let segments: Vec<&str> = cited.split("::").filter(|s| !s.is_empty()).collect();
    let last = match segments.as_slice() {
        [.., module, "*"] => module,
        [.., last] => last,
        [] => return true,
    };
    match last.strip_suffix('*') {
        Some(prefix) => names.iter().any(|n| n.starts_with(prefix)),
        None => names.contains(*last),
    }
}

#[test]
fn cited_tests_exist() {
    let names = defined_names();
    let cited = citations();
    assert!(
        cited.len() > 30,
        "found only {} citations: is the parser broken?",
        cited.len()
    );
    let missing: Vec<String> = cited
        .iter()
        .filter(|(_, name)| !exists(name, &names))
        .map(|(doc, name)| format!("{doc}: `{name}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "the docs cite tests that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn citation_parser_finds_names() {
    let names: BTreeSet<String> = ["errno_table", "server_disk_full", "stalled_server"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(exists("error::tests::errno_table", &names));
    assert!(exists("stalled_server::*", &names));
    assert!(exists("server_disk_*", &names));
    assert!(!exists("server_disk_empty", &names));
    assert!(!exists("random_offsets", &names));
}
