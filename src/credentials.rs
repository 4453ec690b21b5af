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
//! comes from the first of these that gives one, in the order issue 4 lists them:
//!
//! 1. `password_file=PATH`: the file's first line, without its trailing CR/LF.
//! 2. netrc: `netrc=PATH`, else `~/.netrc`: the first `machine` entry for the host (host names
//!    compared ignoring ASCII case) whose `login` is the user, else such a `default` entry.
//! 3. the `FTPFS_PASSWORD` environment variable (ignored when empty).
//! 4. `password_stdin`: one line read from standard input.
//! 5. a prompt on the terminal, echo off, if standard input is a terminal and the password is
//!    missing: the URL carries none.
//! 6. the URL's password (the caller warns: see [`URL_PASSWORD_WARNING`]).
//!
//! The prompt asks for a password nobody gave; a password in the URL is one the user gave, so
//! the two never compete and their order only says which is the last resort. (Prompting
//! although the URL has a password would ask again for what the user typed, and throw it
//! away; the warning about the URL password is the nudge towards the better sources.)
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
    /// The terminal, asked because no source gave a password.
    Prompt,
    /// The URL: the caller should log [`URL_PASSWORD_WARNING`].
    Url,
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

/// [`resolve`] without reading standard input or asking on the terminal, for `mount -f`,
/// which only checks and must neither consume input nor wait for a person. The errors are
/// those of [`resolve`], but `password_stdin` gives a placeholder password and a missing
/// password is not prompted for. Password and netrc files are read, so a missing one is
/// reported.
pub fn resolve_without_input(
    host: &str,
    url_user: Option<&str>,
    url_password: Option<&str>,
    sources: &Sources,
) -> Result<Credentials, String> {
    resolve_with(host, url_user, url_password, sources, &mut NoInput)
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
    // The prompt only asks for a password that is missing (see the module docs).
    if env.is_tty() && !is_anonymous && url_password.is_none() {
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
    if let Some(password) = url_password {
        return found(&user, password.to_string(), Origin::Url);
    }
    if is_anonymous {
        return found(&user, ANONYMOUS_PASSWORD.to_string(), Origin::Anonymous);
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

/// The real environment, with standard input and the terminal left alone
/// ([`resolve_without_input`]).
struct NoInput;

impl Env for NoInput {
    fn var(&self, key: &str) -> Option<String> {
        RealEnv.var(key)
    }

    fn home(&self) -> Option<PathBuf> {
        RealEnv.home()
    }

    fn read_stdin_line(&mut self) -> io::Result<String> {
        // Stands for the line the real mount will read.
        Ok("(not read)\n".to_string())
    }

    fn is_tty(&self) -> bool {
        false
    }

    fn prompt(&mut self, _text: &str) -> io::Result<String> {
        Err(io::Error::other("no prompt when only checking"))
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
mod tests;
