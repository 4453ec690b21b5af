//! Unit tests of `credentials` (kept apart so the module itself stays readable).

use super::*;
use std::collections::HashMap;
use std::fs;

const SECRET: &str = "s3cr3t-Pa55";

/// A scripted environment that records what was asked of it.
#[derive(Default)]
struct FakeEnv {
    vars: HashMap<String, String>,
    home: Option<PathBuf>,
    stdin: Option<String>,
    stdin_fails: bool,
    tty: bool,
    answer: Option<String>,
    stdin_reads: usize,
    prompts: Vec<String>,
}

impl Env for FakeEnv {
    fn var(&self, key: &str) -> Option<String> {
        self.vars.get(key).cloned()
    }
    fn home(&self) -> Option<PathBuf> {
        self.home.clone()
    }
    fn read_stdin_line(&mut self) -> io::Result<String> {
        self.stdin_reads += 1;
        if self.stdin_fails {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(self.stdin.take().unwrap_or_default())
    }
    fn is_tty(&self) -> bool {
        self.tty
    }
    fn prompt(&mut self, text: &str) -> io::Result<String> {
        self.prompts.push(text.to_string());
        Ok(self.answer.take().unwrap_or_default())
    }
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A home directory, optionally with a `.netrc`.
fn home_with(netrc: Option<&str>) -> (tempfile::TempDir, FakeEnv) {
    let dir = tempfile::tempdir().unwrap();
    if let Some(text) = netrc {
        write_mode(&dir.path().join(".netrc"), text, 0o600);
    }
    let env = FakeEnv {
        home: Some(dir.path().to_path_buf()),
        ..FakeEnv::default()
    };
    (dir, env)
}

fn run(
    env: &mut FakeEnv,
    user: Option<&str>,
    url_password: Option<&str>,
    sources: &Sources,
) -> Result<Credentials, String> {
    resolve_with("ftp.example.com", user, url_password, sources, env)
}

fn got(c: &Credentials) -> (&str, &str, Origin) {
    (&c.user, &c.password, c.origin)
}

#[test]
fn precedence_across_all_sources() {
    let (dir, mut env) = home_with(Some(
        "machine ftp.example.com login alice password from-netrc\n",
    ));
    let pw_file = dir.path().join("pw");
    write_mode(&pw_file, "from-file\n", 0o600);
    let all = Sources {
        password_file: Some(pw_file),
        netrc: None,
        password_stdin: true,
    };
    env.vars.insert(PASSWORD_ENV.into(), "from-env".into());
    env.stdin = Some("from-stdin\n".into());
    env.tty = true;
    env.answer = Some("from-prompt\n".into());

    let mut sources = all.clone();
    let c = run(&mut env, Some("alice"), Some("from-url"), &sources).unwrap();
    assert_eq!(got(&c), ("alice", "from-file", Origin::PasswordFile));

    sources.password_file = None;
    let c = run(&mut env, Some("alice"), Some("from-url"), &sources).unwrap();
    assert_eq!(got(&c), ("alice", "from-netrc", Origin::Netrc));

    fs::remove_file(dir.path().join(".netrc")).unwrap();
    let c = run(&mut env, Some("alice"), Some("from-url"), &sources).unwrap();
    assert_eq!(got(&c), ("alice", "from-env", Origin::Environment));

    env.vars.clear();
    let c = run(&mut env, Some("alice"), Some("from-url"), &sources).unwrap();
    assert_eq!(got(&c), ("alice", "from-stdin", Origin::Stdin));

    // Then the prompt on a terminal, for a password nobody gave ...
    sources.password_stdin = false;
    let c = run(&mut env, Some("alice"), None, &sources).unwrap();
    assert_eq!(got(&c), ("alice", "from-prompt", Origin::Prompt));
    assert_eq!(env.prompts, ["Password for alice@ftp.example.com: "]);

    // ... and last the URL's password, which the prompt never asks to replace.
    let c = run(&mut env, Some("alice"), Some("from-url"), &sources).unwrap();
    assert_eq!(got(&c), ("alice", "from-url", Origin::Url));
    env.tty = false;
    let c = run(&mut env, Some("alice"), Some("from-url"), &sources).unwrap();
    assert_eq!(got(&c), ("alice", "from-url", Origin::Url));

    let c = run(&mut env, Some("alice"), None, &sources).unwrap();
    assert_eq!(got(&c), ("alice", "", Origin::NoPassword));
    // Stdin was read once (when it was the winning source), the prompt shown once.
    assert_eq!((env.stdin_reads, env.prompts.len()), (1, 1));
}

#[test]
fn lower_sources_are_not_touched_once_one_gives_a_password() {
    let (_dir, mut env) = home_with(None);
    env.vars.insert(PASSWORD_ENV.into(), "from-env".into());
    env.tty = true;
    let sources = Sources {
        password_stdin: true,
        ..Sources::default()
    };
    let c = run(&mut env, Some("bob"), None, &sources).unwrap();
    assert_eq!(got(&c), ("bob", "from-env", Origin::Environment));
    assert_eq!((env.stdin_reads, env.prompts.len()), (0, 0));
}

#[test]
fn password_file_with_a_user_does_not_read_netrc() {
    // A bad ~/.netrc is not an error when the password file already answers.
    let dir = tempfile::tempdir().unwrap();
    write_mode(
        &dir.path().join(".netrc"),
        "default login x password y\n",
        0o644,
    );
    let pw = dir.path().join("pw");
    write_mode(&pw, "p\n", 0o400);
    let mut env = FakeEnv {
        home: Some(dir.path().to_path_buf()),
        ..FakeEnv::default()
    };
    let sources = Sources {
        password_file: Some(pw),
        ..Sources::default()
    };
    let c = run(&mut env, Some("u"), None, &sources).unwrap();
    assert_eq!(got(&c), ("u", "p", Origin::PasswordFile));
}

#[test]
fn anonymous_when_no_user_anywhere() {
    let (_dir, mut env) = home_with(Some("machine other.example.com login x password y\n"));
    env.vars.insert(PASSWORD_ENV.into(), SECRET.into());
    env.tty = true;
    let c = run(&mut env, None, None, &Sources::default()).unwrap();
    assert_eq!(
        got(&c),
        (ANONYMOUS_USER, ANONYMOUS_PASSWORD, Origin::Anonymous)
    );
    // An empty user in the URL counts as none.
    let c = run(&mut env, Some(""), None, &Sources::default()).unwrap();
    assert_eq!(c.origin, Origin::Anonymous);
    assert!(env.prompts.is_empty());
    // No home at all: still anonymous.
    env.home = None;
    let c = run(&mut env, None, None, &Sources::default()).unwrap();
    assert_eq!(c.origin, Origin::Anonymous);
}

#[test]
fn named_anonymous_user_is_never_prompted_nor_given_the_environment_password() {
    let (_dir, mut env) = home_with(None);
    env.vars.insert(PASSWORD_ENV.into(), SECRET.into());
    env.tty = true;
    for user in ["anonymous", "ftp", "FTP"] {
        let c = run(&mut env, Some(user), None, &Sources::default()).unwrap();
        assert_eq!(got(&c), (user, ANONYMOUS_PASSWORD, Origin::Anonymous));
    }
    assert!(env.prompts.is_empty());
    // An explicit source still applies.
    let c = run(
        &mut env,
        Some("ftp"),
        Some("me@example.org"),
        &Sources::default(),
    )
    .unwrap();
    assert_eq!(got(&c), ("ftp", "me@example.org", Origin::Url));
}

#[test]
fn a_password_source_without_a_user_is_an_error() {
    let (dir, mut env) = home_with(None);
    let pw = dir.path().join("pw");
    write_mode(&pw, SECRET, 0o600);
    let cases = [
        (
            Sources {
                password_file: Some(pw),
                ..Sources::default()
            },
            None,
            "password_file",
        ),
        (
            Sources {
                password_stdin: true,
                ..Sources::default()
            },
            None,
            "password_stdin",
        ),
        (Sources::default(), Some(SECRET), "the URL's password"),
    ];
    for (sources, url_password, name) in cases {
        let err = run(&mut env, None, url_password, &sources).unwrap_err();
        assert!(err.starts_with(name), "{err}");
        assert!(err.contains("no user name"), "{err}");
        assert!(!err.contains(SECRET));
    }
    assert_eq!(env.stdin_reads, 0);
}

#[test]
fn password_file_first_line_without_line_end() {
    let (dir, mut env) = home_with(None);
    let pw = dir.path().join("pw");
    let sources = Sources {
        password_file: Some(pw.clone()),
        ..Sources::default()
    };
    for (text, want) in [
        ("pass word\r\nsecond line\n", "pass word"),
        ("no newline", "no newline"),
        ("trailing spaces  \n", "trailing spaces  "),
        ("\nsecond", ""),
    ] {
        write_mode(&pw, text, 0o600);
        let c = run(&mut env, Some("u"), None, &sources).unwrap();
        assert_eq!(got(&c), ("u", want, Origin::PasswordFile));
    }
    write_mode(&pw, "", 0o600);
    let err = run(&mut env, Some("u"), None, &sources).unwrap_err();
    assert_eq!(err, format!("password file {} is empty", pw.display()));
}

#[test]
fn password_file_missing_or_unreadable_is_an_error() {
    let (dir, mut env) = home_with(None);
    let pw = dir.path().join("missing");
    let sources = Sources {
        password_file: Some(pw.clone()),
        ..Sources::default()
    };
    let err = run(&mut env, Some("u"), None, &sources).unwrap_err();
    assert_eq!(
        err,
        format!("cannot open password file {}: file not found", pw.display())
    );
    let sources = Sources {
        password_file: Some(dir.path().to_path_buf()),
        ..Sources::default()
    };
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let err = run(&mut env, Some("u"), None, &sources).unwrap_err();
    assert!(err.ends_with("is a directory"), "{err}");
}

#[test]
fn password_file_accessible_by_others_is_refused() {
    let (dir, mut env) = home_with(None);
    let pw = dir.path().join("pw");
    let sources = Sources {
        password_file: Some(pw.clone()),
        ..Sources::default()
    };
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o666] {
        write_mode(&pw, SECRET, mode);
        let err = run(&mut env, Some("u"), None, &sources).unwrap_err();
        assert_eq!(
            err,
            format!(
                "password file {} is accessible by other users (mode {mode:04o}); chmod 600 it",
                pw.display()
            )
        );
        assert!(!err.contains(SECRET));
    }
    for mode in [0o600, 0o400, 0o700] {
        write_mode(&pw, SECRET, mode);
        let c = run(&mut env, Some("u"), None, &sources).unwrap();
        assert_eq!(c.password, SECRET);
    }
}

#[test]
fn netrc_accessible_by_others_is_refused() {
    let text = format!("machine ftp.example.com login u password {SECRET}\n");
    // ~/.netrc
    let (dir, mut env) = home_with(None);
    let home_netrc = dir.path().join(".netrc");
    write_mode(&home_netrc, &text, 0o644);
    let err = run(&mut env, Some("u"), None, &Sources::default()).unwrap_err();
    assert_eq!(
        err,
        format!(
            "netrc file {} is accessible by other users (mode 0644); chmod 600 it",
            home_netrc.display()
        )
    );
    // Also when it is consulted only to find the user.
    let err = run(&mut env, None, None, &Sources::default()).unwrap_err();
    assert!(err.contains("accessible by other users"), "{err}");
    // netrc=PATH
    let explicit = dir.path().join("my-netrc");
    write_mode(&explicit, &text, 0o660);
    let sources = Sources {
        netrc: Some(explicit.clone()),
        ..Sources::default()
    };
    let err = run(&mut env, Some("u"), None, &sources).unwrap_err();
    assert!(err.contains("(mode 0660); chmod 600 it"), "{err}");
    assert!(!err.contains(SECRET));
    fs::set_permissions(&explicit, fs::Permissions::from_mode(0o600)).unwrap();
    let c = run(&mut env, Some("u"), None, &sources).unwrap();
    assert_eq!(got(&c), ("u", SECRET, Origin::Netrc));
}

#[test]
fn missing_netrc_explicit_is_an_error_home_is_skipped() {
    let (dir, mut env) = home_with(None);
    let c = run(&mut env, Some("u"), None, &Sources::default()).unwrap();
    assert_eq!(c.origin, Origin::NoPassword);
    let path = dir.path().join("nope");
    let sources = Sources {
        netrc: Some(path.clone()),
        ..Sources::default()
    };
    let err = run(&mut env, Some("u"), None, &sources).unwrap_err();
    assert_eq!(
        err,
        format!("cannot open netrc file {}: file not found", path.display())
    );
}

#[test]
fn explicit_netrc_replaces_home_netrc() {
    let (dir, mut env) = home_with(Some("default login home password from-home\n"));
    let explicit = dir.path().join("n");
    write_mode(
        &explicit,
        "default login other password from-explicit\n",
        0o600,
    );
    let sources = Sources {
        netrc: Some(explicit),
        ..Sources::default()
    };
    let c = run(&mut env, None, None, &sources).unwrap();
    assert_eq!(got(&c), ("other", "from-explicit", Origin::Netrc));
}

fn lookup(text: &str, host: &str, user: Option<&str>) -> Option<(String, Option<String>)> {
    let entries = parse_netrc(text).unwrap();
    select_entry(entries, host, user).map(|e| (e.login.unwrap(), e.password))
}

fn pair(login: &str, password: &str) -> Option<(String, Option<String>)> {
    Some((login.to_string(), Some(password.to_string())))
}

#[test]
fn netrc_machines_default_and_user_matching() {
    let text = "\
machine a.example.com login alice password pa
machine b.example.com
login bob
password pb
machine b.example.com login carol password pc
default login anonymous password me@example.org
";
    assert_eq!(lookup(text, "a.example.com", None), pair("alice", "pa"));
    assert_eq!(lookup(text, "b.example.com", None), pair("bob", "pb"));
    assert_eq!(
        lookup(text, "b.example.com", Some("bob")),
        pair("bob", "pb")
    );
    // The first entry's login differs: keep looking.
    assert_eq!(
        lookup(text, "b.example.com", Some("carol")),
        pair("carol", "pc")
    );
    // No machine entry for the host, or none for the user: the default entry.
    assert_eq!(
        lookup(text, "c.example.com", None),
        pair("anonymous", "me@example.org")
    );
    assert_eq!(
        lookup(text, "a.example.com", Some("anonymous")),
        pair("anonymous", "me@example.org")
    );
    // Neither matches the user.
    assert_eq!(lookup(text, "a.example.com", Some("mallory")), None);
    // Host names are compared exactly but for ASCII case; no suffix matching.
    assert_eq!(lookup(text, "A.Example.COM", None), pair("alice", "pa"));
    assert_eq!(lookup(text, "example.com", Some("alice")), None);
}

#[test]
fn netrc_default_only_when_no_machine_matches() {
    let text = "default login d password pd\nmachine h login m password pm\n";
    assert_eq!(lookup(text, "h", None), pair("m", "pm"));
    assert_eq!(lookup(text, "other", None), pair("d", "pd"));
}

#[test]
fn netrc_entry_without_password_or_login() {
    // A login without a password names the user; the password comes from elsewhere.
    let (_dir, mut env) = home_with(Some("machine ftp.example.com login alice\n"));
    env.vars.insert(PASSWORD_ENV.into(), "from-env".into());
    let c = run(&mut env, None, None, &Sources::default()).unwrap();
    assert_eq!(got(&c), ("alice", "from-env", Origin::Environment));
    // An entry without a login matches no user.
    assert_eq!(lookup("machine h password p\n", "h", None), None);
    assert_eq!(lookup("machine h password p\n", "h", Some("u")), None);
}

#[test]
fn netrc_user_from_entry_when_url_names_none() {
    let (_dir, mut env) = home_with(Some(
        "machine other login x password y\nmachine ftp.example.com login alice password pa\n",
    ));
    let c = run(&mut env, None, None, &Sources::default()).unwrap();
    assert_eq!(got(&c), ("alice", "pa", Origin::Netrc));
    // A URL user that no entry has: the netrc gives nothing.
    let c = run(&mut env, Some("bob"), None, &Sources::default()).unwrap();
    assert_eq!(got(&c), ("bob", "", Origin::NoPassword));
}

#[test]
fn netrc_macdef_is_skipped_up_to_an_empty_line() {
    let text = "\
macdef init
machine evil login alice password macro
cd /pub

machine h login alice password real
macdef other
default login bob password inside-macro
\r
default login carol password pc
";
    assert_eq!(lookup(text, "evil", Some("alice")), None);
    assert_eq!(lookup(text, "h", None), pair("alice", "real"));
    assert_eq!(lookup(text, "x", None), pair("carol", "pc"));
    // A macro running to the end of the file.
    assert_eq!(
        lookup("macdef m\nmachine h login a password b", "h", None),
        None
    );
}

#[test]
fn netrc_comments() {
    let text = "\
# machine h login commented password out
machine h login alice   # not a comment mid-line: ignored tokens
  #password nope
  password pa
";
    assert_eq!(lookup(text, "h", None), pair("alice", "pa"));
    // A password starting with '#' is still a password.
    assert_eq!(
        lookup("machine h login a password #hash\n", "h", None),
        pair("a", "#hash")
    );
}

#[test]
fn netrc_quoted_tokens() {
    let text = r#"machine "h" login "al ice" password "p \"q\" \\ \n\t\r x"
machine h2 login a password """#;
    assert_eq!(
        lookup(text, "h", None),
        pair("al ice", "p \"q\" \\ \n\t\r x")
    );
    assert_eq!(lookup(text, "h2", None), pair("a", ""));
    // A quoted keyword is a plain token, and quotes end a token.
    assert_eq!(
        lookup(
            "machine h login a \"password\" x password \"y\"z\n",
            "h",
            None
        ),
        pair("a", "y")
    );
}

#[test]
fn netrc_keywords_ignore_case_and_whitespace() {
    let text = "MACHINE h\tLogin a\n\n\n   PASSWORD\n p   account acct\r\n";
    assert_eq!(lookup(text, "h", None), pair("a", "p"));
    assert_eq!(
        lookup("port 21 machine h login a password p", "h", None),
        pair("a", "p")
    );
}

#[test]
fn netrc_ipv6_hosts_match_with_or_without_brackets() {
    assert_eq!(
        lookup("machine ::1 login a password p", "[::1]", None),
        pair("a", "p")
    );
    assert_eq!(
        lookup("machine [::1] login a password p", "::1", None),
        pair("a", "p")
    );
}

#[test]
fn netrc_syntax_errors_name_the_line_not_the_token() {
    let text = format!("machine h login a\npassword \"{SECRET}\n");
    let err = parse_netrc(&text).err().unwrap();
    assert_eq!(err, "line 2: quoted token without its closing '\"'");
    let err = parse_netrc(&format!("machine h login a password \"{SECRET}\\"))
        .err()
        .unwrap();
    assert!(err.starts_with("line 1: "), "{err}");
    let err = parse_netrc("machine h login a\npassword").err().unwrap();
    assert_eq!(err, "line 2: 'password' has no value");

    let (_dir, mut env) = home_with(Some(&text));
    let err = run(&mut env, Some("a"), None, &Sources::default()).unwrap_err();
    assert!(err.starts_with("netrc file "), "{err}");
    assert!(err.ends_with(".netrc: line 2: quoted token without its closing '\"'"));
    assert!(!err.contains(SECRET));
}

#[test]
fn stdin_line_without_line_end() {
    let (_dir, mut env) = home_with(None);
    let sources = Sources {
        password_stdin: true,
        ..Sources::default()
    };
    env.stdin = Some("pass word\r\n".into());
    let c = run(&mut env, Some("u"), None, &sources).unwrap();
    assert_eq!(got(&c), ("u", "pass word", Origin::Stdin));
    env.stdin = Some("last line without newline".into());
    let c = run(&mut env, Some("u"), None, &sources).unwrap();
    assert_eq!(c.password, "last line without newline");
    env.stdin = Some("\n".into());
    let c = run(&mut env, Some("u"), None, &sources).unwrap();
    assert_eq!(got(&c), ("u", "", Origin::Stdin));
    // End of input.
    env.stdin = Some(String::new());
    let err = run(&mut env, Some("u"), Some(SECRET), &sources).unwrap_err();
    assert_eq!(
        err,
        "password_stdin: standard input ended before a password line"
    );
    env.stdin_fails = true;
    let err = run(&mut env, Some("u"), None, &sources).unwrap_err();
    assert_eq!(
        err,
        "cannot read the password from standard input: Input/output error"
    );
    // Not read unless asked for.
    env.stdin_fails = false;
    env.stdin = Some("x\n".into());
    let reads = env.stdin_reads;
    run(&mut env, Some("u"), None, &Sources::default()).unwrap();
    assert_eq!(env.stdin_reads, reads);
}

#[test]
fn prompt_only_on_a_tty_for_a_named_user() {
    let (_dir, mut env) = home_with(None);
    env.tty = true;
    env.answer = Some("typed\n".into());
    let c = resolve_with("h", Some("al\x1bice"), None, &Sources::default(), &mut env).unwrap();
    assert_eq!(got(&c), ("al\x1bice", "typed", Origin::Prompt));
    // Control characters in the prompt are escaped.
    assert_eq!(env.prompts, ["Password for al\\u{1b}ice@h: "]);
    // End of input at the prompt.
    let err = run(&mut env, Some("u"), None, &Sources::default()).unwrap_err();
    assert_eq!(
        err,
        "no password entered (end of input at the password prompt)"
    );
    // Not a tty.
    env.tty = false;
    let c = run(&mut env, Some("u"), None, &Sources::default()).unwrap();
    assert_eq!(got(&c), ("u", "", Origin::NoPassword));
    assert_eq!(env.prompts.len(), 2);
}

/// The prompt asks only for a missing password: a URL password (even an empty one,
/// `ftp://user:@host/`) is used on a terminal too, and nothing is asked.
#[test]
fn the_prompt_never_replaces_a_url_password() {
    let (_dir, mut env) = home_with(None);
    env.tty = true;
    env.answer = Some("typed\n".into());
    for given in ["from-url", ""] {
        let c = run(&mut env, Some("u"), Some(given), &Sources::default()).unwrap();
        assert_eq!(got(&c), ("u", given, Origin::Url));
    }
    assert!(env.prompts.is_empty(), "{:?}", env.prompts);
    // Sources above the prompt still come before the URL.
    env.vars.insert(PASSWORD_ENV.into(), "from-env".into());
    let c = run(&mut env, Some("u"), Some("from-url"), &Sources::default()).unwrap();
    assert_eq!(got(&c), ("u", "from-env", Origin::Environment));
}

#[test]
fn empty_environment_password_is_unset() {
    let (_dir, mut env) = home_with(None);
    env.vars.insert(PASSWORD_ENV.into(), String::new());
    let c = run(&mut env, Some("u"), Some("url"), &Sources::default()).unwrap();
    assert_eq!(c.origin, Origin::Url);
}

#[test]
fn debug_never_shows_the_password() {
    let c = Credentials {
        user: "alice".into(),
        password: SECRET.into(),
        origin: Origin::Netrc,
    };
    for text in [format!("{c:?}"), format!("{c:#?}")] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("alice") && text.contains("<redacted>") && text.contains("Netrc"));
    }
    assert_eq!(
        format!("{c:?}"),
        "Credentials { user: \"alice\", password: <redacted>, origin: Netrc }"
    );
    let sources = Sources {
        password_file: Some("/p".into()),
        netrc: None,
        password_stdin: true,
    };
    assert!(!format!("{sources:?}").contains(SECRET));
}

#[test]
fn errors_never_contain_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &[u8], mode: u32| {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let netrc_line = format!("machine ftp.example.com login u password {SECRET}\n");
    let cases: Vec<(Sources, Option<&str>, Option<&str>)> = vec![
        // Readable password file.
        (
            Sources {
                password_file: Some(file("pw644", SECRET.as_bytes(), 0o644)),
                ..Sources::default()
            },
            Some("u"),
            Some(SECRET),
        ),
        // Readable netrc, and an unterminated quoted password.
        (
            Sources {
                netrc: Some(file("n644", netrc_line.as_bytes(), 0o644)),
                ..Sources::default()
            },
            Some("u"),
            Some(SECRET),
        ),
        (
            Sources {
                netrc: Some(file(
                    "nq",
                    format!("machine h password \"{SECRET}").as_bytes(),
                    0o600,
                )),
                ..Sources::default()
            },
            None,
            Some(SECRET),
        ),
        // Not UTF-8.
        (
            Sources {
                password_file: Some(file("bad", b"\xff\xfe s3cr3t-Pa55", 0o600)),
                ..Sources::default()
            },
            Some("u"),
            Some(SECRET),
        ),
        // A password with no user; stdin at end of input.
        (Sources::default(), None, Some(SECRET)),
        (
            Sources {
                password_stdin: true,
                ..Sources::default()
            },
            Some("u"),
            Some(SECRET),
        ),
    ];
    let mut errors = 0;
    for (sources, user, url_password) in cases {
        let mut env = FakeEnv {
            home: Some(dir.path().to_path_buf()),
            stdin: Some(String::new()),
            ..FakeEnv::default()
        };
        if let Err(err) = run(&mut env, user, url_password, &sources) {
            errors += 1;
            assert!(!err.contains(SECRET), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }
    assert_eq!(errors, 6);
}

#[test]
fn read_hidden_refuses_a_non_terminal() {
    let file = tempfile::tempfile().unwrap();
    let mut called = false;
    let result = read_hidden(file.as_raw_fd(), || {
        called = true;
        Ok(String::new())
    });
    assert!(result.is_err());
    assert!(!called);
    assert!(SAVED_TERMIOS.load(Ordering::SeqCst).is_null());
}
