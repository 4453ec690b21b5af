//! Unit tests of the session: reply parsing, login errors, FEAT.

use super::batch::parse_mdtm;
use super::*;

#[test]
fn mdtm_reply_times() {
    let t = |s: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
    assert_eq!(parse_mdtm(b"20261207175245"), t(1_796_665_965));
    assert_eq!(parse_mdtm(b"20261207175245.891"), t(1_796_665_965));
    assert_eq!(parse_mdtm(b" 19700101000001 "), t(1));
    assert_eq!(parse_mdtm(b"2026120717524"), None);
    assert_eq!(parse_mdtm(b"202612071752456"), None);
    assert_eq!(parse_mdtm(b"20261307175245"), None);
}

#[test]
fn a_login_refused_for_the_connection_limit_stays_a_connection_limit() {
    let proftpd = RemoteError::from_reply(
        530,
        "Sorry, the maximum number of clients (2) from your host are already connected.".into(),
    );
    let err = login_error("alice", proftpd);
    assert!(err.is_connection_limit(), "{err:?}");
    assert_eq!((err.kind, err.code), (RemoteErrorKind::Auth, Some(530)));

    // A wrong password names the user, and a user called "max" is not a limit.
    let wrong = RemoteError::from_reply(530, "Login incorrect.".into());
    let err = login_error("max", wrong);
    assert_eq!(err.kind, RemoteErrorKind::Auth);
    assert_eq!(
        err.to_string(),
        "login refused for user 'max': 530 Login incorrect."
    );
    assert!(!err.is_connection_limit());

    // Anything but a refusal is left alone.
    let timeout = RemoteError::new(RemoteErrorKind::Timeout, "timed out");
    assert_eq!(login_error("alice", timeout).message, "timed out");
}

#[test]
fn features_from_feat_reply() {
    let mut feat = std::collections::HashMap::new();
    for (k, v) in [
        ("MLST", Some("type*;size*;modify*;")),
        ("SIZE", None),
        ("MDTM", None),
        ("UTF8", None),
        ("EPSV", None),
        ("REST", Some("STREAM")),
        ("TVFS", None),
    ] {
        feat.insert(k.to_string(), v.map(str::to_string));
    }
    let f = Features::from_feat(&feat);
    assert!(f.mlsd && f.size && f.mdtm && f.utf8 && f.epsv && f.rest_stream && f.tvfs);
    assert!(!f.mfmt);
    assert_eq!(
        Features::from_feat(&Default::default()),
        Features::default()
    );
}
