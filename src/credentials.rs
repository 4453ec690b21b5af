//! Where the FTP user name and password come from.
//!
//! This module owns credential resolution: given the host and the user/password parsed from
//! the URL, it decides which user to log in as and finds the password, so that a password
//! never has to be put on the command line. It reads the password file, the netrc file
//! (parsed here), `FTPFS_PASSWORD`, standard input and the terminal; nothing else in the
//! crate does.
//!
//! The user is the URL's, else the login of the netrc entry for the host, else `anonymous`
//! (password `ftpfs@`, and no password source is consulted). For a named user, the password
//! comes from the first of these that gives one:
//!
//! 1. `password_file=PATH`: the file's first line, without its trailing CR/LF.
//! 2. netrc: `netrc=PATH`, else `~/.netrc`: the first `machine` entry for the host (host names
//!    compared ignoring ASCII case) whose `login` is the user, else such a `default` entry.
//! 3. the `FTPFS_PASSWORD` environment variable (ignored when empty).
//! 4. `password_stdin`: one line read from standard input.
//! 5. the URL's password (the caller warns: see [`URL_PASSWORD_WARNING`]).
//! 6. a prompt on the terminal, echo off, if standard input is a terminal.
//!
//! Otherwise the password is empty ([`Origin::NoPassword`]). A user named `anonymous` or `ftp`
//! is never prompted for and never gets `FTPFS_PASSWORD`; it falls back to `ftpfs@`.
//!
//! Invariants:
//! - The password never appears in `Debug` output, in an error message or in a log line
//!   (this module logs nothing; [`Credentials`]'s `Debug` prints `<redacted>`). Netrc parse
//!   errors give a line number, never a token.
//! - A password file or netrc file that group or others may read or write (mode & 0o077) is
//!   refused with an error, never silently skipped. A missing `~/.netrc` is skipped; a missing
//!   `netrc=PATH` or `password_file=PATH` is an error.
//! - A password is never read from a terminal with echo on: the prompt fails if echo cannot be
//!   turned off, and the terminal's settings are restored however the prompt ends: a read
//!   error, end of input, or SIGINT, SIGTERM, SIGHUP or SIGQUIT (not SIGKILL, of course).
//! - Errors are one line each.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

/// User name sent when neither the URL nor a netrc entry names one.
pub const ANONYMOUS_USER: &str = "anonymous";
/// Password sent for anonymous logins (RFC 1635 asks for something mail-like).
pub const ANONYMOUS_PASSWORD: &str = "ftpfs@";
/// The environment variable holding the password.
pub const PASSWORD_ENV: &str = "FTPFS_PASSWORD";
/// What the caller should log (as a warning) when [`Origin::Url`] supplied the password.
pub const URL_PASSWORD_WARNING: &str = "the password in the URL is visible to other users \
     (ps, /proc); use password_file=PATH, ~/.netrc or FTPFS_PASSWORD instead";

/// Files larger than this are not password or netrc files.
const MAX_FILE_LEN: u64 = 1 << 20;

/// The password sources named by mount options. `FTPFS_PASSWORD`, `~/.netrc` and the terminal
/// need no option.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// `password_file=PATH`
    pub password_file: Option<PathBuf>,
    /// `netrc=PATH`, used instead of `~/.netrc`
    pub netrc: Option<PathBuf>,
    /// `password_stdin`
    pub password_stdin: bool,
}

/// Which source gave the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// No user anywhere, or a user named `anonymous`/`ftp` with no password: `ftpfs@`.
    Anonymous,
    PasswordFile,
    Netrc,
    Environment,
    Stdin,
    /// The URL: the caller should log [`URL_PASSWORD_WARNING`].
    Url,
    Prompt,
    /// A named user and no password anywhere: the password is empty.
    NoPassword,
}

/// The login to send. `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
    pub origin: Origin,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &format_args!("<redacted>"))
            .field("origin", &self.origin)
            .finish()
    }
}

/// Resolves the user and password for `host`, in the order described in the module docs.
///
/// `host` is the server host as in the URL; `url_user`/`url_password` are percent-decoded from
/// the URL (an empty user counts as none). The error is one line, without the password.
pub fn resolve(
    host: &str,
    url_user: Option<&str>,
    url_password: Option<&str>,
    sources: &Sources,
) -> Result<Credentials, String> {
    resolve_with(host, url_user, url_password, sources, &mut RealEnv)
}

/// The process inputs resolution depends on, so tests can replace them.
trait Env {
    /// An environment variable, if set and valid UTF-8.
    fn var(&self, key: &str) -> Option<String>;
    /// The home directory, where `.netrc` lives.
    fn home(&self) -> Option<PathBuf>;
    /// One line from standard input, line terminator included; empty at end of input.
    fn read_stdin_line(&mut self) -> io::Result<String>;
    /// Whether standard input is a terminal.
    fn is_tty(&self) -> bool;
    /// Shows `text` on the terminal and reads one line with echo off, terminator included;
    /// empty at end of input.
    fn prompt(&mut self, text: &str) -> io::Result<String>;
}

fn resolve_with(
    host: &str,
    url_user: Option<&str>,
    url_password: Option<&str>,
    sources: &Sources,
    env: &mut dyn Env,
) -> Result<Credentials, String> {
    let found = |user: &str, password: String, origin| {
        Ok(Credentials {
            user: user.to_string(),
            password,
            origin,
        })
    };

    // The user: the URL's, else the netrc entry's login, else anonymous. `entry` is the netrc
    // entry already looked up, if the user came from it.
    let (user, entry) = match url_user.filter(|u| !u.is_empty()) {
        Some(u) => (u.to_string(), None),
        None => match netrc_entry(host, None, sources, env)? {
            Some(e) => (e.login.clone().unwrap_or_default(), Some(e)),
            None => return anonymous(url_password, sources),
        },
    };
    let is_anonymous =
        user.eq_ignore_ascii_case(ANONYMOUS_USER) || user.eq_ignore_ascii_case("ftp");

    if let Some(path) = &sources.password_file {
        return found(&user, read_password_file(path)?, Origin::PasswordFile);
    }
    let entry = match entry {
        Some(e) => Some(e),
        None => netrc_entry(host, Some(&user), sources, env)?,
    };
    if let Some(password) = entry.and_then(|e| e.password) {
        return found(&user, password, Origin::Netrc);
    }
    if !is_anonymous {
        if let Some(password) = env.var(PASSWORD_ENV).filter(|p| !p.is_empty()) {
            return found(&user, password, Origin::Environment);
        }
    }
    if sources.password_stdin {
        let line = env.read_stdin_line().map_err(|e| {
            format!(
                "cannot read the password from standard input: {}",
                io_text(&e)
            )
        })?;
        if line.is_empty() {
            return Err("password_stdin: standard input ended before a password line".into());
        }
        return found(&user, strip_line_end(line), Origin::Stdin);
    }
    if let Some(password) = url_password {
        return found(&user, password.to_string(), Origin::Url);
    }
    if is_anonymous {
        return found(&user, ANONYMOUS_PASSWORD.to_string(), Origin::Anonymous);
    }
    if env.is_tty() {
        let text = format!("Password for {}@{}: ", printable(&user), printable(host));
        let line = env.prompt(&text).map_err(|e| {
            format!(
                "cannot read the password from the terminal: {}",
                io_text(&e)
            )
        })?;
        if line.is_empty() {
            return Err("no password entered (end of input at the password prompt)".into());
        }
        return found(&user, strip_line_end(line), Origin::Prompt);
    }
    found(&user, String::new(), Origin::NoPassword)
}

/// The anonymous login, or an error if a password source was named for it: a password with no
/// user to go with is a mistake, better reported than ignored.
fn anonymous(url_password: Option<&str>, sources: &Sources) -> Result<Credentials, String> {
    let option = if sources.password_file.is_some() {
        Some("password_file")
    } else if sources.password_stdin {
        Some("password_stdin")
    } else if url_password.is_some() {
        Some("the URL's password")
    } else {
        None
    };
    if let Some(option) = option {
        return Err(format!(
            "{option} is given but no user name: put one in the URL (ftp://USER@host/) \
             or in a netrc login"
        ));
    }
    Ok(Credentials {
        user: ANONYMOUS_USER.to_string(),
        password: ANONYMOUS_PASSWORD.to_string(),
        origin: Origin::Anonymous,
    })
}

fn read_password_file(path: &Path) -> Result<String, String> {
    let what = "password file";
    match read_private(path, what)? {
        Some(text) if text.is_empty() => Err(format!("{what} {} is empty", path.display())),
        Some(text) => Ok(strip_line_end(
            text.split_inclusive('\n')
                .next()
                .unwrap_or_default()
                .to_string(),
        )),
        None => Err(format!(
            "cannot open {what} {}: file not found",
            path.display()
        )),
    }
}

/// The netrc entry for `host` and `user` (any login when `user` is `None`): from `netrc=PATH`
/// if given, else from `~/.netrc` if it exists.
fn netrc_entry(
    host: &str,
    user: Option<&str>,
    sources: &Sources,
    env: &dyn Env,
) -> Result<Option<NetrcEntry>, String> {
    let what = "netrc file";
    let (path, text) = match &sources.netrc {
        Some(path) => match read_private(path, what)? {
            Some(text) => (path.clone(), text),
            None => {
                return Err(format!(
                    "cannot open {what} {}: file not found",
                    path.display()
                ))
            }
        },
        None => {
            let Some(path) = env.home().map(|h| h.join(".netrc")) else {
                return Ok(None);
            };
            match read_private(&path, what)? {
                Some(text) => (path, text),
                None => return Ok(None),
            }
        }
    };
    let entries = parse_netrc(&text).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    Ok(select_entry(entries, host, user))
}

/// Reads a file only its owner may access; `None` if it does not exist. The mode is checked on
/// the open file, so it is the file that is read.
fn read_private(path: &Path, what: &str) -> Result<Option<String>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot open {what} {}: {}",
                path.display(),
                io_text(&e)
            ))
        }
    };
    let read_err = |e: io::Error| format!("cannot read {what} {}: {}", path.display(), io_text(&e));
    let meta = file.metadata().map_err(read_err)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{what} {} is accessible by other users (mode {mode:04o}); chmod 600 it",
            path.display()
        ));
    }
    if meta.is_dir() {
        return Err(format!("{what} {} is a directory", path.display()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(format!("{what} {} is larger than 1 MiB", path.display()));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| format!("{what} {} is not valid UTF-8", path.display()))
}

/// One `machine` or `default` entry. No `Debug`: it holds a password.
#[derive(Clone, Default, PartialEq, Eq)]
struct NetrcEntry {
    /// `None` for `default`.
    machine: Option<String>,
    login: Option<String>,
    password: Option<String>,
}

/// The first `machine` entry for `host` whose login is `user` (or has a login, when `user` is
/// `None`); failing that, the first such `default` entry.
fn select_entry(entries: Vec<NetrcEntry>, host: &str, user: Option<&str>) -> Option<NetrcEntry> {
    let login_ok = |e: &NetrcEntry| match (user, e.login.as_deref()) {
        (Some(u), Some(l)) => u == l,
        (None, Some(_)) => true,
        (_, None) => false,
    };
    let host = trim_brackets(host);
    let machine_ok = |e: &NetrcEntry| {
        e.machine
            .as_deref()
            .is_some_and(|m| trim_brackets(m).eq_ignore_ascii_case(host))
    };
    let pos = entries
        .iter()
        .position(|e| machine_ok(e) && login_ok(e))
        .or_else(|| {
            entries
                .iter()
                .position(|e| e.machine.is_none() && login_ok(e))
        })?;
    entries.into_iter().nth(pos)
}

/// `[::1]` as in a URL and `::1` as in a netrc file are the same host.
fn trim_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Machine,
    Login,
    Password,
    Account,
    Macdef,
}

impl Keyword {
    fn name(self) -> &'static str {
        match self {
            Keyword::Machine => "machine",
            Keyword::Login => "login",
            Keyword::Password => "password",
            Keyword::Account => "account",
            Keyword::Macdef => "macdef",
        }
    }
}

/// Parses netrc text: whitespace-separated tokens, keywords case-insensitive; `machine NAME`
/// and `default` start entries holding `login`, `password` and `account` (ignored);
/// `macdef NAME` is skipped with the lines after it up to an empty line; a line whose first
/// token starts with `#` is a comment; `"..."` quotes a token, with `\"`, `\\`, `\n`, `\r`,
/// `\t` escapes. Unknown tokens are ignored, as curl does. Errors name a line, never a token.
fn parse_netrc(text: &str) -> Result<Vec<NetrcEntry>, String> {
    let mut entries: Vec<NetrcEntry> = Vec::new();
    let mut pending: Option<(Keyword, usize)> = None;
    let mut in_macdef = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if in_macdef {
            in_macdef = !line.is_empty();
            continue;
        }
        let tokens = tokenize(line).map_err(|e| format!("line {number}: {e}"))?;
        if tokens
            .first()
            .is_some_and(|t| !t.quoted && t.text.starts_with('#'))
        {
            continue;
        }
        for token in tokens {
            if let Some((keyword, _)) = pending.take() {
                let value = Some(token.text);
                match (keyword, entries.last_mut()) {
                    (Keyword::Machine, _) => entries.push(NetrcEntry {
                        machine: value,
                        ..NetrcEntry::default()
                    }),
                    (Keyword::Login, Some(e)) => e.login = value,
                    (Keyword::Password, Some(e)) => e.password = value,
                    (Keyword::Macdef, _) => {
                        // The macro's body starts on the next line.
                        in_macdef = true;
                        break;
                    }
                    // `account`, or a value before any entry.
                    _ => {}
                }
                continue;
            }
            if token.quoted {
                continue;
            }
            let keyword = match token.text.to_ascii_lowercase().as_str() {
                "machine" => Keyword::Machine,
                "login" => Keyword::Login,
                "password" => Keyword::Password,
                "account" => Keyword::Account,
                "macdef" => Keyword::Macdef,
                "default" => {
                    entries.push(NetrcEntry::default());
                    continue;
                }
                _ => continue,
            };
            pending = Some((keyword, number));
        }
    }
    match pending {
        Some((keyword, number)) if keyword != Keyword::Macdef => {
            Err(format!("line {number}: '{}' has no value", keyword.name()))
        }
        _ => Ok(entries),
    }
}

struct Token {
    text: String,
    quoted: bool,
}

fn tokenize(line: &str) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            return Ok(tokens);
        };
        let mut text = String::new();
        let quoted = first == '"';
        if quoted {
            loop {
                match chars.next() {
                    None => return Err("quoted token without its closing '\"'"),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        None => return Err("quoted token without its closing '\"'"),
                        Some('n') => text.push('\n'),
                        Some('r') => text.push('\r'),
                        Some('t') => text.push('\t'),
                        Some(c) => text.push(c),
                    },
                    Some(c) => text.push(c),
                }
            }
        } else {
            text.push(first);
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                text.push(c);
            }
        }
        tokens.push(Token { text, quoted });
    }
}

/// `line` without its trailing CR/LF characters.
fn strip_line_end(mut line: String) -> String {
    let len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(len);
    line
}

/// `s` with control characters escaped, for showing on a terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// An I/O error's text without the "(os error N)" suffix.
fn io_text(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The process's real environment, standard input and terminal.
struct RealEnv;

impl Env for RealEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }

    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    }

    fn read_stdin_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    }

    fn is_tty(&self) -> bool {
        // SAFETY: isatty only inspects the descriptor.
        unsafe { libc::isatty(libc::STDIN_FILENO) == 1 }
    }

    fn prompt(&mut self, text: &str) -> io::Result<String> {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
        {
            Ok(tty) => {
                (&tty).write_all(text.as_bytes())?;
                let line = read_hidden(tty.as_raw_fd(), || {
                    let mut line = String::new();
                    BufReader::new(&tty).read_line(&mut line)?;
                    Ok(line)
                });
                // The user's Enter was not echoed.
                let _ = (&tty).write_all(b"\n");
                line
            }
            Err(_) => {
                let mut stderr = io::stderr().lock();
                stderr.write_all(text.as_bytes())?;
                stderr.flush()?;
                let line = read_hidden(libc::STDIN_FILENO, || self.read_stdin_line());
                let _ = stderr.write_all(b"\n");
                line
            }
        }
    }
}

/// The terminal settings to put back if a signal ends the process during a prompt, and the
/// descriptor they belong to. Null/-1 outside a prompt.
static SAVED_TERMIOS: AtomicPtr<libc::termios> = AtomicPtr::new(std::ptr::null_mut());
static SAVED_FD: AtomicI32 = AtomicI32::new(-1);

const PROMPT_SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn restore_and_die(sig: libc::c_int) {
    let saved = SAVED_TERMIOS.load(Ordering::SeqCst);
    if !saved.is_null() {
        let fd = SAVED_FD.load(Ordering::SeqCst);
        // SAFETY: tcsetattr, write, signal and raise are async-signal-safe; `saved` points to
        // a termios that outlives the prompt (it is unpublished before being freed).
        unsafe {
            libc::tcsetattr(fd, libc::TCSANOW, saved);
            libc::write(fd, b"\n".as_ptr().cast(), 1);
        }
    }
    // SAFETY: as above. The signal is blocked while this handler runs, so it is delivered,
    // with the default action, when the handler returns.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Puts the terminal settings and signal handlers back when the prompt ends, however it ends.
struct EchoGuard {
    fd: RawFd,
    saved: Box<libc::termios>,
    old_actions: Vec<(libc::c_int, libc::sigaction)>,
}

impl Drop for EchoGuard {
    fn drop(&mut self) {
        // SAFETY: `saved` is a termios filled in by tcgetattr; the old actions came from
        // sigaction.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &*self.saved);
            SAVED_TERMIOS.store(std::ptr::null_mut(), Ordering::SeqCst);
            SAVED_FD.store(-1, Ordering::SeqCst);
            for (sig, old) in &self.old_actions {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
    }
}

/// Runs `read` with echo turned off on terminal `fd`. Fails, without calling `read`, if `fd` is
/// not a terminal whose echo could be turned off.
fn read_hidden(fd: RawFd, read: impl FnOnce() -> io::Result<String>) -> io::Result<String> {
    // SAFETY: termios is plain data; tcgetattr fills it in or fails.
    let mut saved: Box<libc::termios> = Box::new(unsafe { std::mem::zeroed() });
    if unsafe { libc::tcgetattr(fd, &mut *saved) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut hidden = *saved;
    hidden.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL);
    hidden.c_lflag |= libc::ICANON;

    let mut guard = EchoGuard {
        fd,
        saved,
        old_actions: Vec::new(),
    };
    SAVED_FD.store(fd, Ordering::SeqCst);
    SAVED_TERMIOS.store(&mut *guard.saved, Ordering::SeqCst);
    for sig in PROMPT_SIGNALS {
        // SAFETY: a zeroed sigaction with an empty mask and a plain handler is valid; the
        // handler only makes async-signal-safe calls.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = restore_and_die as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, &action, &mut old) == 0 {
                guard.old_actions.push((sig, old));
            }
        }
    }
    // SAFETY: `hidden` is a valid termios derived from the terminal's own.
    if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &hidden) } != 0 {
        return Err(io::Error::last_os_error());
    }
    read()
}

#[cfg(test)]
mod tests {
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

        sources.password_stdin = false;
        let c = run(&mut env, Some("alice"), Some("from-url"), &sources).unwrap();
        assert_eq!(got(&c), ("alice", "from-url", Origin::Url));

        let c = run(&mut env, Some("alice"), None, &sources).unwrap();
        assert_eq!(got(&c), ("alice", "from-prompt", Origin::Prompt));
        assert_eq!(env.prompts, ["Password for alice@ftp.example.com: "]);

        env.tty = false;
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
            assert!(
                text.contains("alice") && text.contains("<redacted>") && text.contains("Netrc")
            );
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
}
