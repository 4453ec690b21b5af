//! Logging a session in with its commands written together (`pipeline.rs`), once the mount
//! knows the server takes pipelined commands and what it offers.
//!
//! One command at a time, a login costs a round trip each for USER, PASS, TYPE I, FEAT and
//! (where offered) OPTS UTF8: five at 40 ms is 200 ms before a new session can move a byte,
//! paid again by every session a parallel reader, look-ahead or upload opens. Here USER and
//! PASS go out together, then TYPE I with OPTS UTF8 ON once the login is accepted, and FEAT
//! is not asked again: the server's features are the ones the mount's first session read.
//! Two round trips after the greeting instead of four or five. Nothing is sent ahead of the
//! login's answer but the password, so a server that takes only USER's reply lines as they
//! come (vsftpd reads its control connection a line at a time) sees the same commands in the
//! same order as before. Plain FTP only: FTPS sessions log in as before.

use super::super::ftp::Client;
use super::super::pipeline::{Pipe, Reply};
use super::super::tls::TlsMode;
use super::{login_error, Features, SessionConfig};
use crate::remote::{RemoteError, RemoteErrorKind};

/// Whether a new session whose server's features are known may log in with
/// [`login_together`]: plain FTP, and pipelining known to work.
pub(super) fn can_login_together(cfg: &SessionConfig) -> bool {
    let plain = cfg.tls.as_ref().is_none_or(|t| t.mode == TlsMode::None);
    plain && cfg.pipelining.works()
}

/// Logs in on a freshly greeted connection: USER and PASS together, then TYPE I (and
/// OPTS UTF8 ON where `features` offer UTF-8 and no encoding is set) together. Returns the
/// direct line to the control connection, which the session keeps for later batches.
pub(super) fn login_together(
    ftp: &dyn Client,
    cfg: &SessionConfig,
    features: &Features,
) -> Result<Pipe, RemoteError> {
    let socket = ftp.control_socket().map_err(|e| RemoteError::from_io(&e))?;
    let mut pipe = Pipe::new(socket).map_err(|e| RemoteError::from_io(&e))?;
    // Names and passwords go out as their UTF-8 bytes, as suppaftp sends them.
    let wire = |s: &str| s.bytes().map(char::from).collect::<String>();
    pipe.send(&[
        format!("USER {}", wire(cfg.user.as_str())),
        format!("PASS {}", wire(cfg.password.as_str())),
    ])
    .map_err(|e| login_error(&cfg.user, e))?;
    let user = pipe.reply()?;
    if !matches!(user.code, 331 | 230) {
        // Refused (a connection limit, say): the server may close the connection without
        // answering PASS, so its reply is not waited for; the session is dropped.
        return Err(login_error(&cfg.user, user.error()));
    }
    let pass = pipe.reply()?;
    check_login(&user, &pass).map_err(|e| login_error(&cfg.user, e))?;

    let utf8 = features.utf8 && cfg.codec.is_none();
    let mut lines = vec!["TYPE I".to_string()];
    if utf8 {
        lines.push("OPTS UTF8 ON".to_string());
    }
    pipe.send(&lines)?;
    let type_i = pipe.reply()?;
    if type_i.code != 200 {
        return Err(type_i.error());
    }
    if utf8 {
        // Some servers answer 451 or 501; names are bytes to us either way.
        let opts = pipe.reply()?;
        let err = opts.error();
        if opts.code >= 400 && err.breaks_session() {
            return Err(err);
        }
        if opts.code >= 300 {
            log::debug!("OPTS UTF8 ON refused: {err}");
        }
    }
    Ok(pipe)
}

/// Whether the replies to USER (331 or 230: anything else is refused before PASS's reply
/// is read) and PASS, sent together, mean the login was accepted. USER: 331 (password
/// wanted) or 230 (none needed: PASS then gets 503 or 230, harmless). PASS after a 331:
/// 230, or 202 (not needed).
fn check_login(user: &Reply, pass: &Reply) -> Result<(), RemoteError> {
    match (user.code, pass.code) {
        (331, 230 | 202) | (230, _) => Ok(()),
        (331, _) => Err(pass.error()),
        (332, _) => Err(RemoteError::new(
            RemoteErrorKind::Auth,
            "the server asks for an account (ACCT), which ftpfs does not send",
        )),
        _ => Err(user.error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u32) -> Reply {
        Reply {
            code,
            text: format!("{code} text\r\n").into_bytes(),
        }
    }

    #[test]
    fn login_replies_are_judged_as_one_at_a_time() {
        assert!(check_login(&reply(331), &reply(230)).is_ok());
        assert!(check_login(&reply(331), &reply(202)).is_ok());
        assert!(check_login(&reply(230), &reply(503)).is_ok());
        let refused = check_login(&reply(331), &reply(530)).unwrap_err();
        assert_eq!(refused.code, Some(530));
        assert_eq!(
            check_login(&reply(530), &reply(503)).unwrap_err().code,
            Some(530)
        );
        assert_eq!(
            check_login(&reply(421), &reply(0)).unwrap_err().code,
            Some(421)
        );
        assert_eq!(
            check_login(&reply(332), &reply(503)).unwrap_err().kind,
            RemoteErrorKind::Auth
        );
    }
}
