//! Fuzzes the classification of FTP replies (`ftpfs::remote::reply`).
//!
//! Input layout: the first two bytes are a little-endian reply code (taken modulo 1000, so
//! every three-digit code is reachable and the interesting ones often hit); the rest is the
//! reply text. The text goes to `classify_reply` and `RemoteError::from_reply` (lossily
//! decoded, as ftpfs does) and, raw, as the body of a suppaftp `UnexpectedResponse` through
//! `RemoteError::from_ftp`, the path every server reply error takes. Checked: nothing panics,
//! the kind is a pure function of code and text, `Display` works, the errno is one of the
//! errnos docs/SEMANTICS.md lists, and the session rules hold (421 breaks the session,
//! 530 is `Auth`, whatever breaks a session is retryable).
#![no_main]

use ftpfs::error::{FsError, SERVER_ERRNOS};
use ftpfs::remote::reply::classify_reply;
use ftpfs::remote::{RemoteError, RemoteErrorKind};
use libfuzzer_sys::fuzz_target;
use suppaftp::types::Response;
use suppaftp::{FtpError, Status};

fuzz_target!(|data: &[u8]| {
    let Some((head, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let code = u32::from(u16::from_le_bytes(*head)) % 1000;
    let text = String::from_utf8_lossy(body).into_owned();

    let kind = classify_reply(code, &text);
    assert_eq!(kind, classify_reply(code, &text), "not deterministic");
    let err = RemoteError::from_reply(code, text.clone());
    assert_eq!(err.kind, kind);
    assert_eq!(err.code, Some(code));
    assert_eq!(err.message, text);
    check(&err);
    if !(400..600).contains(&code) && code != 332 {
        assert_eq!(kind, RemoteErrorKind::Other, "{code} is not an error code");
    }
    if code == 421 {
        assert!(err.breaks_session());
    }
    if code == 530 {
        assert_eq!(kind, RemoteErrorKind::Auth);
    }

    // The same bytes as a whole reply that suppaftp did not expect.
    let resp = Response {
        status: Status::from(code),
        body: body.to_vec(),
    };
    let err = RemoteError::from_ftp(FtpError::UnexpectedResponse(resp));
    check(&err);
    assert!(
        matches!(err.code, Some(c) if c < 1000),
        "code {:?}",
        err.code
    );
});

fn check(err: &RemoteError) {
    let _ = err.to_string();
    if err.breaks_session() {
        assert!(err.is_retryable());
    }
    let errno = FsError::from(err.clone()).errno();
    assert!(SERVER_ERRNOS.contains(&errno), "errno {errno} for {err:?}");
}
