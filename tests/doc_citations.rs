//! The docs back their claims with test names in brackets (`[e2e_write: \`server_disk_full\`]`,
//! `[unit tests \`error::tests::errno_table\`]`). This checks every such citation, so that a
//! renamed or deleted test cannot leave a claim citing nothing, and a claim cannot cite
//! something that is not a test.
//!
//! A citation is a `[...]` outside code spans that is not a link and that holds a backticked
//! name, the word "test" or a test file's name. In it:
//! * every backticked token is a cited name: a test (`name`), a test module (`name::*`,
//!   `name` for a module made by `for_each_server*!`/`e2e_matrix!`), tests by prefix
//!   (`name_*`), a test or module by its module path (`fs::inode::tests::name`, the
//!   path's segments in order in the file's module path), or a file of tests
//!   (`src/credentials/tests.rs`). Anything else in backticks (an errno, an option) is an
//!   error: it belongs outside the backticks;
//! * a part that starts with a test file's name and a colon (`e2e_read: ...`) cites tests of
//!   that file only; a part that starts with "unit test" cites tests under `src/` only;
//! * a test file's name alone (`[e2e_write, e2e_fsx]`) cites the whole file;
//! * at least one name or file is cited: "[listing unit tests]" is not a citation.
//!
//! A test is a `fn` right after `#[test]`; a test module is a `#[cfg(test)] mod`, a module
//! made by the test macros, or a source file holding tests.

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
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier at the start of `text` (after spaces and an opening parenthesis).
fn leading_ident(text: &str) -> Option<&str> {
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
    let end = text.find(|c| !is_ident_char(c)).unwrap_or(text.len());
    (end > 0).then(|| &text[..end])
}

/// A test, or a module of tests, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Test {
    /// The file, relative to the repository (`tests/e2e_read.rs`, `src/fs/inode.rs`).
    file: String,
    /// The module path of its file, then the inline test module it is in, if any.
    modules: Vec<String>,
    name: String,
    is_module: bool,
}

/// The module path of a source file: `src/fs/inode.rs` is `fs::inode`, `src/a/mod.rs` is
/// `a`, `tests/e2e_read.rs` is `e2e_read`.
fn module_path(rel: &str) -> Vec<String> {
    let trimmed = rel
        .strip_prefix("src/")
        .or_else(|| rel.strip_prefix("tests/"))
        .unwrap_or(rel)
        .trim_end_matches(".rs");
    let mut segments: Vec<String> = trimmed.split('/').map(str::to_string).collect();
    if segments.last().is_some_and(|s| s == "mod" || s == "lib") {
        segments.pop();
    }
    segments
}

/// Every test and test module in `text` (the contents of `rel`).
fn tests_in(rel: &str, text: &str) -> Vec<Test> {
    let file_modules = module_path(rel);
    // Inline test modules: `#[cfg(test)]` then `mod NAME`, by position.
    let mut inline: Vec<(usize, String)> = Vec::new();
    for (i, _) in text.match_indices("#[cfg(test)]") {
        let rest = text[i + "#[cfg(test)]".len()..].trim_start();
        if let Some(after) = rest.strip_prefix("mod ") {
            if let Some(name) = leading_ident(after) {
                inline.push((i, name.to_string()));
            }
        }
    }
    let mut out: Vec<Test> = inline
        .iter()
        .map(|(_, name)| Test {
            file: rel.to_string(),
            modules: file_modules.clone(),
            name: name.clone(),
            is_module: true,
        })
        .collect();
    let enclosing = |at: usize| {
        let mut modules = file_modules.clone();
        if let Some((_, name)) = inline.iter().rev().find(|(i, _)| *i < at) {
            modules.push(name.clone());
        }
        modules
    };
    for (i, _) in text.match_indices("#[test]") {
        let rest = &text[i..];
        let Some(f) = rest.find("fn ") else { continue };
        if let Some(name) = leading_ident(&rest[f + 3..]) {
            out.push(Test {
                file: rel.to_string(),
                modules: enclosing(i),
                name: name.to_string(),
                is_module: false,
            });
        }
    }
    for keyword in [
        "for_each_server_kind!(",
        "for_each_server!(",
        "e2e_matrix!(",
    ] {
        for (i, _) in text.match_indices(keyword) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| is_ident_char(c) || c == ':') {
                continue; // `$crate::for_each_server!(...)` inside the macros themselves
            }
            if let Some(name) = leading_ident(&text[i + keyword.len()..]) {
                out.push(Test {
                    file: rel.to_string(),
                    modules: file_modules.clone(),
                    name: name.to_string(),
                    is_module: true,
                });
            }
        }
    }
    // A source file holding tests is a module of tests under its own name.
    if out.iter().any(|t| !t.is_module) && rel.starts_with("src/") {
        if let Some((last, parent)) = file_modules.split_last() {
            out.push(Test {
                file: rel.to_string(),
                modules: parent.to_vec(),
                name: last.clone(),
                is_module: true,
            });
        }
    }
    out
}

/// Every test and test module of `src/` and `tests/`.
fn all_tests() -> Vec<Test> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root()).unwrap().display().to_string();
        if rel == "tests/doc_citations.rs" {
            continue; // its made-up examples are no tests
        }
        out.extend(tests_in(&rel, &fs::read_to_string(&file).unwrap()));
    }
    out
}

/// The names of the test files (`e2e_read` for tests/e2e_read.rs).
fn test_files() -> BTreeSet<String> {
    fs::read_dir(root().join("tests"))
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let stem = path.file_stem()?.to_str()?.to_string();
            path.extension().is_some_and(|x| x == "rs").then_some(stem)
        })
        .collect()
}

/// Where the names of one part of a citation must be.
#[derive(Debug, Clone, PartialEq)]
enum Scope {
    Anywhere,
    /// `tests/NAME.rs`.
    TestFile(String),
    /// Under `src/`.
    Unit,
}

impl Scope {
    fn holds(&self, test: &Test) -> bool {
        match self {
            Scope::Anywhere => true,
            Scope::TestFile(stem) => test.file == format!("tests/{stem}.rs"),
            Scope::Unit => test.file.starts_with("src/"),
        }
    }
}

/// What a citation in the docs said.
#[derive(Debug)]
struct Citation {
    doc: String,
    /// The bracket's text, for messages.
    text: String,
    /// `(scope, backticked token)`.
    names: Vec<(Scope, String)>,
    /// Test files cited by name alone.
    files: Vec<String>,
}

/// The text outside code spans with each span replaced by spaces, and the spans (start,
/// contents) in order. Fenced code blocks count as spans.
fn code_spans(text: &str) -> (String, Vec<(usize, String)>) {
    let mut plain = String::with_capacity(text.len());
    let mut spans = Vec::new();
    let mut rest = text;
    let mut at = 0;
    while let Some(open) = rest.find('`') {
        let ticks = rest[open..].chars().take_while(|&c| c == '`').count();
        let fence = &rest[open..open + ticks];
        let Some(close) = rest[open + ticks..].find(fence) else {
            break;
        };
        plain.push_str(&rest[..open]);
        let inner = &rest[open + ticks..open + ticks + close];
        spans.push((at + open, inner.to_string()));
        let span_len = 2 * ticks + close;
        // Same length in bytes, so that positions in `plain` are positions in `text`.
        for c in rest[open..open + span_len].chars() {
            let blank = if c == '\n' { "\n" } else { " " };
            plain.push_str(&blank.repeat(c.len_utf8()));
        }
        at += open + span_len;
        rest = &rest[open + span_len..];
    }
    plain.push_str(rest);
    (plain, spans)
}

/// Every citation in `text` (the contents of `doc`).
fn citations_in(doc: &str, text: &str, stems: &BTreeSet<String>) -> Vec<Citation> {
    let (plain, spans) = code_spans(text);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = plain[from..].find('[').map(|i| from + i) {
        let Some(close) = plain[open + 1..].find([']', '[']).map(|i| open + 1 + i) else {
            break;
        };
        from = close;
        if plain.as_bytes()[close] != b']' || plain[close + 1..].starts_with('(') {
            continue; // not closed here, or a link's text
        }
        let inside: Vec<&(usize, String)> = spans
            .iter()
            .filter(|(i, _)| *i > open && *i < close)
            .collect();
        let words = &plain[open + 1..close];
        let first_word = leading_ident(words).unwrap_or_default();
        let is_citation =
            !inside.is_empty() || words.contains("test") || stems.contains(first_word);
        if !is_citation {
            continue;
        }
        // Parts separated by `;`, each with its scope.
        let mut names = Vec::new();
        let mut files = Vec::new();
        let mut part_start = open + 1;
        for part_end in plain[open + 1..close]
            .match_indices(';')
            .map(|(i, _)| open + 1 + i)
            .chain([close])
        {
            let part = &plain[part_start..part_end];
            let lead = part.trim_start();
            let word = leading_ident(lead).unwrap_or_default();
            let scope = if stems.contains(word) && lead[word.len()..].starts_with(':') {
                Scope::TestFile(word.to_string())
            } else if lead.starts_with("unit test") {
                Scope::Unit
            } else {
                Scope::Anywhere
            };
            // Test files named alone: `e2e_write, e2e_fsx`.
            let bare = part.split(',').map(str::trim);
            files.extend(bare.filter(|w| stems.contains(*w)).map(str::to_string));
            for (_, token) in spans
                .iter()
                .filter(|(i, _)| *i >= part_start && *i < part_end)
            {
                names.push((scope.clone(), token.clone()));
            }
            part_start = part_end + 1;
        }
        out.push(Citation {
            doc: doc.to_string(),
            text: text[open..=close]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            names,
            files,
        });
    }
    out
}

/// Every citation in README.md and docs/*.md.
fn citations() -> Vec<Citation> {
    let mut docs = vec![root().join("README.md")];
    for entry in fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let stems = test_files();
    let mut out = Vec::new();
    for doc in docs {
        let text = fs::read_to_string(&doc).unwrap();
        let rel = doc.strip_prefix(root()).unwrap().display().to_string();
        out.extend(citations_in(&rel, &text, &stems));
    }
    out
}

/// Whether `needle` appears in `hay` in order (not necessarily next to each other).
fn subsequence(needle: &[&str], hay: &[String]) -> bool {
    let mut hay = hay.iter();
    needle.iter().all(|n| hay.any(|h| h == n))
}

/// Why `cited` (a backticked token in `scope`) names no test, or `None` if it names one.
fn problem(cited: &str, scope: &Scope, tests: &[Test]) -> Option<String> {
    if cited.contains('/') {
        let ok = cited.ends_with(".rs") && tests.iter().any(|t| t.file == cited && scope.holds(t));
        return (!ok).then(|| "no file of tests by that path".to_string());
    }
    let shape_ok = !cited.is_empty()
        && cited.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':' || c == '*'
        });
    if !shape_ok {
        return Some("not a test name (take it out of the backticks)".to_string());
    }
    let segments: Vec<&str> = cited.split("::").collect();
    let (path, last, module_only) = match segments.as_slice() {
        [path @ .., module, "*"] => (path, *module, true),
        [path @ .., last] => (path, *last, false),
        [] => return Some("empty".to_string()),
    };
    let found = tests.iter().any(|t| {
        let name_ok = match last.strip_suffix('*') {
            Some(prefix) => t.name.starts_with(prefix),
            None => t.name == last,
        };
        name_ok && (t.is_module || !module_only) && subsequence(path, &t.modules) && scope.holds(t)
    });
    (!found).then(|| match scope {
        Scope::Anywhere => "no such test".to_string(),
        Scope::TestFile(stem) => format!("no such test in tests/{stem}.rs"),
        Scope::Unit => "no such unit test under src/".to_string(),
    })
}

#[test]
fn cited_tests_exist() {
    let tests = all_tests();
    let cited = citations();
    assert!(
        cited.len() > 40,
        "found only {} citations: is the parser broken?",
        cited.len()
    );
    let mut problems = Vec::new();
    for c in &cited {
        if c.names.is_empty() && c.files.is_empty() {
            problems.push(format!("{}: {}: cites no test by name", c.doc, c.text));
        }
        for (scope, name) in &c.names {
            if let Some(why) = problem(name, scope, &tests) {
                problems.push(format!("{}: {}: `{name}`: {why}", c.doc, c.text));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "citations in the docs that name no test:\n{}",
        problems.join("\n")
    );
}

/// The parser and the matcher on made-up text, so that a broken checker cannot pass by
/// finding nothing.
#[test]
fn citation_parser_finds_names() {
    let tests = tests_in(
        "src/error.rs",
        "fn helper() {}\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn errno_table() {}\n}\n",
    )
    .into_iter()
    .chain(tests_in(
        "tests/e2e_x.rs",
        "fn body(s: &Server) {}\nfor_each_server_kind!(stalled_server, body);\n\
         #[test]\n#[ignore]\nfn server_disk_full_vsftpd() {}\nfn not_a_test() {}\n",
    ))
    .collect::<Vec<_>>();
    let ok = |name: &str, scope: Scope| problem(name, &scope, &tests).is_none();
    assert!(ok("error::tests::errno_table", Scope::Unit));
    assert!(ok("errno_table", Scope::Anywhere));
    assert!(ok("error", Scope::Anywhere), "a source file of tests");
    assert!(ok("stalled_server::*", Scope::TestFile("e2e_x".into())));
    assert!(ok("stalled_server", Scope::Anywhere));
    assert!(ok("server_disk_*", Scope::Anywhere));
    assert!(ok("server_disk_full_vsftpd", Scope::Anywhere));
    assert!(!ok("server_disk_empty", Scope::Anywhere));
    assert!(!ok("not_a_test", Scope::Anywhere), "a fn that is no test");
    assert!(!ok("helper", Scope::Anywhere));
    assert!(
        !ok("errno_table", Scope::TestFile("e2e_x".into())),
        "wrong file"
    );
    assert!(!ok("stalled_server", Scope::Unit));
    assert!(
        !ok("reply::tests::errno_table", Scope::Anywhere),
        "wrong module"
    );
    assert!(
        !ok("server_disk_full_vsftpd::*", Scope::Anywhere),
        "not a module"
    );
    assert!(!ok("EACCES", Scope::Anywhere));
    assert!(!ok("max_per_ip=2", Scope::Anywhere));

    let stems: BTreeSet<String> = ["e2e_x".to_string()].into();
    let doc = "A claim. [e2e_x: `stalled_server::*` (bound 6 s); unit test `errno_table`]\n\
               A link [`x`](y.md), code `[not] a citation`, a note [sic].\n\
               [listing unit tests] [e2e_x] [e2e_x: see `EACCES`] [`errno_table`]";
    let found = citations_in("doc.md", doc, &stems);
    let texts: Vec<&str> = found.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert_eq!(
        found[0].names,
        vec![
            (
                Scope::TestFile("e2e_x".into()),
                "stalled_server::*".to_string()
            ),
            (Scope::Unit, "errno_table".to_string()),
        ]
    );
    assert!(
        found[1].names.is_empty() && found[1].files.is_empty(),
        "vague"
    );
    assert_eq!(found[2].files, vec!["e2e_x".to_string()]);
    assert_eq!(
        problem(&found[3].names[0].1, &found[3].names[0].0, &tests),
        Some("not a test name (take it out of the backticks)".to_string())
    );
    assert_eq!(
        found[4].names,
        vec![(Scope::Anywhere, "errno_table".to_string())],
        "a name right after the bracket"
    );
}
