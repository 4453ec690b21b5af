//! Logging: where records go and what they look like.
//!
//! - On the terminal (in the foreground, and in the background before the daemon detaches),
//!   records are messages for a person, one line each: `ftpfs: warning: ...` or
//!   `ftpfs: error: ...`, with no timestamp or module path. While the mount is starting, a
//!   message already printed is not printed again, so a failed mount shows at most one line
//!   per distinct problem, and the reason (printed by the caller, [`error_line`]) comes last.
//! - With `--debug`, `--trace-ftp` or `FTPFS_LOG` set, the user asked for a log: env_logger's
//!   full format (`[TIME LEVEL target] message`) on stderr, every record.
//! - Once ftpfs has gone to the background: syslog (and so the journal). Where nothing
//!   listens on `/dev/log` (containers, minimal systems), the daemon appends to `ftpfs.log` in
//!   the cache directory instead, so that what it says about failed uploads and kept spool
//!   files is never lost.
//!
//! The filter comes from `FTPFS_LOG` (env_logger syntax), else `warn`, or `debug` with
//! `--debug`. `--trace-ftp` adds the FTP command trace (target `ftpfs::ftp`, PASS masked).
//!
//! suppaftp logs every control-channel line at trace level, including `PASS`. Its level is
//! therefore capped at debug whatever the filter says, so a password never reaches a log.

use std::collections::HashSet;
use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Set once the process is a daemon: records go to syslog instead of stderr.
static SYSLOG: AtomicBool = AtomicBool::new(false);

/// Set instead of `SYSLOG` when no syslog daemon listens: records go to this file.
static LOG_FILE: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// Set when nobody asked for a log (no `--debug`, `--trace-ftp` or `FTPFS_LOG`): records on
/// stderr are one-line messages for a person (see the module doc).
static CONSOLE: AtomicBool = AtomicBool::new(false);

/// The console lines printed while the mount is starting, so that none is printed twice;
/// `None` once the mount is live (a repeated warning then is news, not noise).
static PRINTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

struct Logger {
    inner: env_logger::Logger,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.inner.matches(record) {
            return;
        }
        if let Some(file) = LOG_FILE.get() {
            let line = format!(
                "{} {:<5} ftpfs[{}] {}] {}\n",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                record.level(),
                std::process::id(),
                record.target(),
                record.args()
            );
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            let _ = f.write_all(line.as_bytes());
            return;
        }
        if !SYSLOG.load(Ordering::Relaxed) {
            if CONSOLE.load(Ordering::Relaxed) {
                let kind = match record.level() {
                    Level::Error => "error",
                    Level::Warn => "warning",
                    Level::Info => "info",
                    Level::Debug | Level::Trace => "debug",
                };
                return console(kind, &record.args().to_string());
            }
            return self.inner.log(record);
        }
        let priority = match record.level() {
            Level::Error => libc::LOG_ERR,
            Level::Warn => libc::LOG_WARNING,
            Level::Info => libc::LOG_INFO,
            Level::Debug | Level::Trace => libc::LOG_DEBUG,
        };
        let text = format!("{}: {}", record.target(), record.args()).replace('\0', "\\0");
        if let Ok(msg) = CString::new(text) {
            // SAFETY: a constant format string and one NUL-terminated argument.
            unsafe { libc::syslog(priority, c"%s".as_ptr(), msg.as_ptr()) };
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Prints `ftpfs: KIND: MESSAGE` on stderr as one line (line breaks in the message become
/// spaces), unless the same line was printed already while the mount is starting.
fn console(kind: &str, message: &str) {
    let line = format!("ftpfs: {kind}: {}", one_line(message));
    {
        let mut printed = PRINTED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = printed.as_mut() {
            if !set.insert(line.clone()) {
                return;
            }
        }
    }
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn one_line(message: &str) -> String {
    message
        .trim_end()
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The line that says why ftpfs failed: `ftpfs: error: MESSAGE`. The caller prints it on
/// stderr, last.
pub fn error_line(message: &str) -> String {
    format!("ftpfs: error: {}", one_line(message))
}

/// A warning that must reach the user even if the log filter hides warnings: logged, and
/// printed on stderr as `ftpfs: warning: ...` when the filter would drop it.
pub fn warn_always(message: &str) {
    if log::log_enabled!(Level::Warn) {
        log::warn!("{message}");
    } else {
        eprintln!("ftpfs: warning: {}", one_line(message));
    }
}

/// The mount is live: from now on the console prints every message, repeats included.
pub fn started() {
    *PRINTED.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Sets up logging. `debug`, `trace_ftp` or a non-empty `FTPFS_LOG` select the log format on
/// stderr; without them, stderr gets one-line messages (see the module doc).
pub fn init(debug: bool, trace_ftp: bool) {
    let env_filter = std::env::var("FTPFS_LOG").ok().filter(|f| !f.is_empty());
    let console = !debug && !trace_ftp && env_filter.is_none();
    CONSOLE.store(console, Ordering::Relaxed);
    if console {
        *PRINTED.lock().unwrap_or_else(|p| p.into_inner()) = Some(HashSet::new());
    }
    // suppaftp warns about things ftpfs handles (a server's odd reply to a cancelled
    // transfer); by default only its errors are shown. Its TLS wrapper logs an error when it
    // drops a stream whose handshake or connection already failed: ftpfs reports that failure
    // itself, in one line, so by default those are not shown.
    let default = if debug {
        "debug"
    } else {
        "warn,suppaftp=error,suppaftp::sync_ftp::tls=off"
    };
    let mut filter = env_filter.unwrap_or_else(|| default.to_string());
    if trace_ftp {
        filter.push_str(",ftpfs::ftp=debug");
    }
    let inner = env_logger::Builder::new()
        .parse_filters(&filter)
        // Applied last, so it overrides any `suppaftp=trace` or bare `trace` in the filter.
        .filter_module("suppaftp", suppaftp_level(&filter))
        .format_timestamp_millis()
        .build();
    let level = inner.filter();
    if log::set_boxed_logger(Box::new(Logger { inner })).is_ok() {
        log::set_max_level(level);
    }
}

/// From now on, log to syslog with the `ftpfs` tag and our pid (after going to the
/// background, when stderr is gone); without a syslog daemon, append to `fallback`.
pub fn to_background(fallback: &Path) {
    if syslog_listens() {
        // SAFETY: the identifier is a static NUL-terminated string, as openlog requires.
        unsafe { libc::openlog(c"ftpfs".as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        SYSLOG.store(true, Ordering::Relaxed);
        return;
    }
    match open_log_file(fallback) {
        Ok(file) => {
            let _ = LOG_FILE.set(Mutex::new(file));
            log::info!("no syslog daemon listens on /dev/log: logging here");
        }
        // Nowhere to write: syslog(3) at least reaches a daemon started later.
        Err(e) => {
            log::warn!("no syslog and cannot open {}: {e}", fallback.display());
            SYSLOG.store(true, Ordering::Relaxed);
        }
    }
}

/// Whether a syslog daemon accepts messages on /dev/log.
fn syslog_listens() -> bool {
    std::os::unix::net::UnixDatagram::unbound()
        .and_then(|s| s.connect("/dev/log"))
        .is_ok()
}

/// The fallback log, private to its owner like the spool next to it.
fn open_log_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Where the daemon logs when there is no syslog: `ftpfs.log` beside the spool directory.
pub fn fallback_log_path(spool_dir: &Path) -> PathBuf {
    spool_dir.parent().unwrap_or(spool_dir).join("ftpfs.log")
}

/// suppaftp's level: what the filter gives it (its own `suppaftp=` entry, else the bare
/// default level), never more verbose than debug, where PASS would show.
fn suppaftp_level(filter: &str) -> LevelFilter {
    let parts: Vec<&str> = filter.split(',').map(str::trim).collect();
    let own = parts
        .iter()
        .rev()
        .filter_map(|p| p.strip_prefix("suppaftp="))
        .find_map(|l| l.parse().ok());
    let global = parts
        .iter()
        .rev()
        .filter(|p| !p.contains('='))
        .find_map(|l| l.parse().ok());
    own.or(global)
        .unwrap_or(LevelFilter::Error)
        .min(LevelFilter::Debug)
}

#[cfg(test)]
mod tests {
    #[test]
    fn suppaftp_is_capped_below_trace() {
        use log::LevelFilter::*;
        assert_eq!(super::suppaftp_level("trace"), Debug);
        assert_eq!(super::suppaftp_level("suppaftp=trace"), Debug);
        assert_eq!(super::suppaftp_level("warn,ftpfs::ftp=debug"), Warn);
        assert_eq!(super::suppaftp_level("warn,suppaftp=error"), Error);
        assert_eq!(super::suppaftp_level("ftpfs=debug"), Error);
    }
}
