//! Classification of FTP failures into a small set of kinds the filesystem can act on.
//!
//! suppaftp reports failures as `FtpError`: socket errors, TLS errors, malformed replies and
//! unexpected reply codes. [`RemoteError::from_ftp`] turns each into a [`RemoteErrorKind`], and
//! decides whether the control connection is still usable ([`RemoteError::breaks_session`]).
//! The reply text of a 550 is inspected to tell "not found" from "permission denied" and
//! friends, because servers use 550 for all of them.

use std::fmt;
use std::io;

use suppaftp::FtpError;

/// What went wrong, as far as the filesystem cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteErrorKind {
    /// 550 (or 450) saying the file or directory does not exist.
    NotFound,
    /// 550/553 saying permission denied, or a read-only area.
    PermissionDenied,
    /// 550/553/521 saying the target already exists.
    Exists,
    /// 550 on RMD saying the directory is not empty.
    NotEmpty,
    /// 550 saying the target is (or is not) a directory where the other was needed.
    NotADirectory,
    IsADirectory,
    /// 530: login refused or not logged in.
    Auth,
    /// 452 / 552: storage full.
    NoSpace,
    /// 452 / 552 saying a quota is exceeded (pure-ftpd: "552 Quota exceeded").
    Quota,
    /// 550/553 saying the server refuses the file name.
    BadName,
    /// The name cannot be written in the server's encoding (`-o encoding`).
    Unencodable,
    /// The path is too long: the command line would not fit what the server takes (refused
    /// before sending, see `route.rs`), or the server says so ("File name too long", "500
    /// Input line too long").
    NameTooLong,
    /// 500/502/504: command not implemented or parameter not supported.
    NotSupported,
    /// 421/425/426/450/451: transient failure; the operation may succeed if retried.
    Transient,
    /// A socket or reply deadline expired.
    Timeout,
    /// The connection failed or was closed.
    Connection,
    /// The TLS layer failed (handshake, certificate).
    Tls,
    /// The server refused a TLS 1.3 data connection that did not reuse the control
    /// connection's session (vsftpd 522, proftpd 425): switch to TLS 1.2 and retry.
    TlsReuse,
    /// The server's reply could not be understood, or was too long.
    Protocol,
    /// Any other reply code.
    Other,
}

/// One failed FTP operation: the kind plus the server's reply (or the local cause) as text.
#[derive(Debug, Clone)]
pub struct RemoteError {
    pub kind: RemoteErrorKind,
    /// The reply code, when the server sent one.
    pub code: Option<u32>,
    pub message: String,
}

impl RemoteError {
    pub fn new(kind: RemoteErrorKind, message: impl Into<String>) -> RemoteError {
        RemoteError {
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Classifies an `io::Error` from one of our sockets.
    pub fn from_io(err: &io::Error) -> RemoteError {
        let kind = match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => RemoteErrorKind::Timeout,
            io::ErrorKind::InvalidData => RemoteErrorKind::Protocol,
            _ => RemoteErrorKind::Connection,
        };
        let message = match kind {
            RemoteErrorKind::Timeout => "timed out waiting for the server".to_string(),
            _ => err.to_string(),
        };
        RemoteError::new(kind, message)
    }

    /// Classifies a suppaftp error.
    pub fn from_ftp(err: FtpError) -> RemoteError {
        match err {
            FtpError::ConnectionError(io) => RemoteError::from_io(&io),
            FtpError::SecureError(msg) => RemoteError::new(RemoteErrorKind::Tls, msg),
            FtpError::UnexpectedResponse(resp) => {
                let text = String::from_utf8_lossy(&resp.body).trim().to_string();
                // suppaftp reports codes it does not know (522, 534...) as 0; the reply text
                // still starts with them.
                let code = match resp.status.code() {
                    0 => text.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0),
                    c => c,
                };
                let text = text
                    .strip_prefix(&code.to_string())
                    .map_or(text.clone(), |t| {
                        t.trim_start_matches(['-', ' ']).to_string()
                    });
                RemoteError::from_reply(code, text)
            }
            FtpError::BadResponse => {
                RemoteError::new(RemoteErrorKind::Protocol, "malformed reply from server")
            }
            FtpError::InvalidAddress(e) => RemoteError::new(
                RemoteErrorKind::Protocol,
                format!("bad address in passive reply: {e}"),
            ),
            FtpError::DataConnectionAlreadyOpen => RemoteError::new(
                RemoteErrorKind::Protocol,
                "internal: data connection already open",
            ),
        }
    }

    /// Classifies a reply by code and text.
    pub fn from_reply(code: u32, text: String) -> RemoteError {
        let kind = classify_reply(code, &text);
        RemoteError {
            kind,
            code: Some(code),
            message: text,
        }
    }

    /// Classifies a reply again with the command's paths (as sent) left out of its text:
    /// servers echo paths, and a missing file called `exists.txt` must not look like one that
    /// exists.
    pub fn about(mut self, paths: &[&str]) -> RemoteError {
        if let Some(code) = self.code {
            let mut text = self.message.clone();
            for path in paths.iter().filter(|p| !p.is_empty()) {
                text = if path.contains('/') {
                    text.replace(path, "\u{1}")
                } else {
                    strip_name(&text, path)
                };
            }
            if text != self.message && self.kind != RemoteErrorKind::TlsReuse {
                self.kind = classify_reply(code, &text);
            }
        }
        self
    }

    /// Whether the control connection must be thrown away after this error. A reply error
    /// leaves the session in sync; socket, TLS and protocol errors, and 421, do not.
    pub fn breaks_session(&self) -> bool {
        matches!(
            self.kind,
            RemoteErrorKind::Timeout
                | RemoteErrorKind::Connection
                | RemoteErrorKind::Tls
                | RemoteErrorKind::TlsReuse
                | RemoteErrorKind::Protocol
        ) || self.code == Some(421)
    }

    /// Whether the server refused a session for its connection limit: 421 (at the greeting:
    /// vsftpd "There are too many connections from your internet address", pure-ftpd "Too
    /// many connections (2) from this IP"), or 530 saying "too many", "max..." or "limit"
    /// (at login: proftpd "Sorry, the maximum number of clients (2) from your host are
    /// already connected"). The pool lowers its size on it instead of failing the caller.
    pub fn is_connection_limit(&self) -> bool {
        let text = self.message.to_ascii_lowercase();
        let says = ["too many", "max", "limit"]
            .iter()
            .any(|w| text.contains(w));
        match self.code {
            Some(421) => true,
            Some(530) => says,
            _ => false,
        }
    }

    /// Whether an idempotent operation that failed this way is worth retrying on a fresh
    /// session.
    pub fn is_retryable(&self) -> bool {
        self.breaks_session() || self.kind == RemoteErrorKind::Transient
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) if !self.message.starts_with(&code.to_string()) => {
                write!(f, "{code} {}", self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RemoteError {}

/// `text` with the echoes of a bare `name` (a command sent relative to the working
/// directory) taken out: only where it stands as a path, before a colon ("x: No such file")
/// or after one ("Prohibited file name: x"), so that a file called `exists` leaves the words
/// of "550 exists: File exists" alone.
fn strip_name(text: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in text.match_indices(name) {
        if at < last {
            continue;
        }
        let before = &text[..at];
        let after = &text[at + name.len()..];
        let opens = before.is_empty() || before.ends_with([' ', '"', '\'', '/', '(']);
        let colon_after = after.starts_with(':');
        let colon_before = before.ends_with(": ") || before.ends_with(":\"");
        let closes = after.is_empty() || after.starts_with([' ', '"', '\'', ')', '.', ',']);
        if (opens && colon_after) || (colon_before && closes) {
            out.push_str(&text[last..at]);
            out.push('\u{1}');
            last = at + name.len();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Maps a reply code and its text to a kind. 550 and 553 are split by their text, because
/// servers use one code for several conditions.
pub fn classify_reply(code: u32, text: &str) -> RemoteErrorKind {
    let lower = text.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    match code {
        530 | 332 => RemoteErrorKind::Auth,
        452 | 552 if has(&["quota"]) => RemoteErrorKind::Quota,
        452 | 552 => RemoteErrorKind::NoSpace,
        // vsftpd: "500 Input line too long."
        500 | 501 if has(&["too long"]) => RemoteErrorKind::NameTooLong,
        500 | 501 | 502 | 504 => RemoteErrorKind::NotSupported,
        421 | 425 | 426 | 451 => RemoteErrorKind::Transient,
        // vsftpd: "522 SSL connection failed: session reuse required".
        522 => RemoteErrorKind::TlsReuse,
        450 | 550 | 553 | 521 => {
            if has(&["not empty"]) {
                RemoteErrorKind::NotEmpty
            } else if has(&["name too long", "path too long"]) {
                // The server's own ENAMETOOLONG (proftpd: "550 ...: File name too long").
                RemoteErrorKind::NameTooLong
            } else if has(&[
                "file name",
                "filename",
                "invalid name",
                "illegal name",
                "bad name",
            ]) && code != 450
            {
                // pure-ftpd: "553 Prohibited file name: ..."; "553 File name not allowed".
                RemoteErrorKind::BadName
            } else if has(&[
                "permission denied",
                "access denied",
                "not allowed",
                "forbidden",
                "read-only",
                "read only",
            ]) {
                RemoteErrorKind::PermissionDenied
            } else if has(&["exists"]) {
                RemoteErrorKind::Exists
            } else if has(&["not a directory"]) {
                RemoteErrorKind::NotADirectory
            } else if has(&["is a directory"]) {
                RemoteErrorKind::IsADirectory
            } else if code == 553 {
                // vsftpd: "553 Could not create file." for any refused STOR/MKD.
                RemoteErrorKind::PermissionDenied
            } else if code == 450
                && !has(&["no such", "not found", "doesn't exist", "does not exist"])
            {
                RemoteErrorKind::Transient
            } else {
                RemoteErrorKind::NotFound
            }
        }
        _ => RemoteErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RemoteErrorKind::*;

    #[test]
    fn replies_from_real_servers_are_classified() {
        let cases: &[(u32, &str, RemoteErrorKind)] = &[
            (550, "Failed to open file.", NotFound), // vsftpd RETR of a missing file
            (550, "/nope: No such file or directory", NotFound), // proftpd
            (550, "Can't open nope: No such file or directory", NotFound), // pure-ftpd
            (550, "/x: Permission denied", PermissionDenied),
            (553, "Could not create file.", PermissionDenied), // vsftpd
            (553, "Prohibited file name: /back\\slash", BadName), // pure-ftpd
            (553, "File name not allowed", BadName),
            (550, "Filename invalid", BadName),
            (550, "Create directory operation failed.", NotFound),
            (550, "/d: Directory not empty", NotEmpty),
            (550, "/d: File exists", Exists),
            (550, "/f: Not a directory", NotADirectory),
            (530, "Login incorrect.", Auth),
            (452, "Insufficient storage space", NoSpace),
            (552, "Quota exceeded", Quota),
            (552, "Quota exceeded: [q.bin] won't be saved", Quota),
            (
                552,
                "Requested file action aborted: exceeded storage allocation",
                NoSpace,
            ),
            (421, "Timeout.", Transient),
            (426, "Failure writing network stream.", Transient),
            (500, "Unknown command.", NotSupported),
            (502, "Command not implemented", NotSupported),
            (450, "Temporarily busy", Transient),
            (450, "No such file", NotFound),
            (331, "Please specify the password.", Other),
            (550, "/a/b: File name too long", NameTooLong), // proftpd, ENAMETOOLONG
            (553, "Path too long", NameTooLong),
            (500, "Input line too long.", NameTooLong), // vsftpd, then it hangs up
            (500, "'XYZ': command not understood", NotSupported),
        ];
        for (code, text, kind) in cases {
            assert_eq!(classify_reply(*code, text), *kind, "{code} {text}");
        }
    }

    #[test]
    fn echoed_paths_do_not_classify_replies() {
        let missing = |path: &str, text: &str| {
            RemoteError::from_reply(550, text.into())
                .about(&[path])
                .kind
        };
        assert_eq!(
            missing("/exists.txt", "/exists.txt: No such file or directory"),
            NotFound
        );
        assert_eq!(
            missing(
                "/not empty",
                "Can't open /not empty: No such file or directory"
            ),
            NotFound
        );
        assert_eq!(
            missing("/my filename", "/my filename: Permission denied"),
            PermissionDenied
        );
        // Names sent relative to the working directory are echoed bare.
        assert_eq!(
            missing("exists", "exists: No such file or directory"),
            NotFound
        );
        assert_eq!(missing("exists", "exists: File exists"), Exists);
        assert_eq!(
            missing("empty", "Can't remove empty: Directory not empty"),
            NotEmpty
        );
        assert_eq!(missing("not", "Can't open not: No such file"), NotFound);
        assert_eq!(
            RemoteError::from_reply(553, "Prohibited file name: a\\b".into())
                .about(&["a\\b"])
                .kind,
            BadName
        );
        // The server's own words still count.
        assert_eq!(missing("/d", "/d: Directory not empty"), NotEmpty);
        assert_eq!(
            RemoteError::from_reply(553, "Prohibited file name: /a\\b".into())
                .about(&["/a\\b"])
                .kind,
            BadName
        );
    }

    #[test]
    fn connection_limit_refusals_are_told_from_other_refusals() {
        let limit =
            |code, text: &str| RemoteError::from_reply(code, text.into()).is_connection_limit();
        // vsftpd max_per_ip / max_clients, pure-ftpd -c / -C: at the greeting.
        assert!(limit(
            421,
            "There are too many connections from your internet address."
        ));
        assert!(limit(421, "Too many connections (2) from this IP"));
        // Any 421 when connecting: the server sends us away.
        assert!(limit(421, "Timeout."));
        // proftpd MaxClientsPerHost / MaxClients: at login.
        assert!(limit(
            530,
            "Sorry, the maximum number of clients (2) from your host are already connected."
        ));
        assert!(limit(530, "Too many users - please try again later"));
        assert!(limit(530, "Connection limit reached"));
        // Ordinary refusals.
        assert!(!limit(530, "Login incorrect."));
        assert!(!limit(530, "Permission denied"));
        assert!(!limit(550, "too many files"));
        assert!(!limit(452, "maximum storage reached"));
        // Not a server reply at all.
        assert!(
            !RemoteError::new(RemoteErrorKind::Connection, "too many open files")
                .is_connection_limit()
        );
    }

    #[test]
    fn session_breaking_errors() {
        let timeout = RemoteError::from_io(&io::Error::from(io::ErrorKind::WouldBlock));
        assert_eq!(timeout.kind, Timeout);
        assert!(timeout.breaks_session());
        assert!(RemoteError::from_reply(421, "bye".into()).breaks_session());
        assert!(!RemoteError::from_reply(550, "No such file".into()).breaks_session());
        assert!(RemoteError::from_reply(426, "aborted".into()).is_retryable());
    }
}
