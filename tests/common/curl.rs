//! An independent FTP client for cross-checks: thin wrappers around the `curl` command line, so a
//! test can confirm what the server really holds without going through ftpfs.
//!
//! Every call has a time limit ([`CURL_MAX_TIME`]) and panics with curl's stderr on failure
//! unless it is a `try_` variant. With a TLS server, pass [`Tls::Required`] to use explicit FTPS
//! verified against the server's test CA.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::server::Server;

/// Upper bound for one curl invocation, in seconds.
pub const CURL_MAX_TIME: u32 = 120;

/// Whether to use explicit FTPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain FTP.
    No,
    /// `--ssl-reqd --cacert <server's CA>`: fails unless the whole session is TLS.
    Required,
}

/// Data connection mode for curl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data {
    /// EPSV, falling back to PASV (curl's default).
    Passive,
    /// PASV only (`--disable-epsv`).
    Pasv,
    /// Active mode, PORT/EPRT to 127.0.0.1 (`-P 127.0.0.1`). Not with TLS: Debian 12's curl
    /// 7.88.1 never starts TLS on an active data connection and hangs (curl issue #10666,
    /// fixed in curl 8.0).
    Active,
}

/// Runs `curl -sS --max-time N <common args for server> <args>`; returns the raw output.
pub fn try_curl(server: &Server, tls: Tls, data: Data, args: &[&str]) -> Output {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", &CURL_MAX_TIME.to_string()]);
    if tls == Tls::Required {
        // TLS 1.2: with TLS 1.3, vsftpd fails about one STOR in three with "426 Failure
        // reading network stream" (seen with curl 7.88.1 / OpenSSL 3.0); 1.2 never did.
        cmd.args(["--tls-max", "1.2", "--ssl-reqd", "--cacert"])
            .arg(server.ca_pem_path());
    }
    assert!(
        !(tls == Tls::Required && data == Data::Active),
        "curl 7.88 cannot do active-mode FTPS (curl issue #10666)"
    );
    match data {
        Data::Passive => {}
        Data::Pasv => {
            cmd.arg("--disable-epsv");
        }
        Data::Active => {
            cmd.args(["-P", "127.0.0.1"]);
        }
    }
    cmd.args(args).stdin(Stdio::null());
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run curl (run contrib/deps.sh): {e}"))
}

/// Like [`try_curl`] but panics (with curl's stderr and the server log) unless curl succeeds;
/// returns stdout.
pub fn curl(server: &Server, tls: Tls, data: Data, args: &[&str]) -> Vec<u8> {
    let out = try_curl(server, tls, data, args);
    if !out.status.success() {
        panic!(
            "curl {args:?} against {} failed ({}): {}",
            server.kind(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

/// The LIST output for directory `rel_dir` (relative to `server.url()`, "" for it).
pub fn list(server: &Server, rel_dir: &str) -> String {
    let mut url = server.url_for(rel_dir);
    if !url.ends_with('/') {
        url.push('/');
    }
    String::from_utf8_lossy(&curl(server, Tls::No, Data::Passive, &[&url])).into_owned()
}

/// The NLST (names only) output for directory `rel_dir`, one name per entry, without `.` and
/// `..` (pure-ftpd lists them in NLST, the others do not).
pub fn names(server: &Server, rel_dir: &str) -> Vec<String> {
    let mut url = server.url_for(rel_dir);
    if !url.ends_with('/') {
        url.push('/');
    }
    let out = curl(server, Tls::No, Data::Passive, &["--list-only", &url]);
    String::from_utf8_lossy(&out)
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| !l.is_empty() && l != "." && l != "..")
        .collect()
}

/// RETR of `rel` (relative to `server.url()`).
pub fn get(server: &Server, rel: &str) -> Vec<u8> {
    curl(server, Tls::No, Data::Passive, &[&server.url_for(rel)])
}

/// STOR of the local file `local` as `rel` (relative to `server.url()`).
pub fn put(server: &Server, local: &Path, rel: &str) {
    let local = local.to_str().expect("UTF-8 local path");
    curl(
        server,
        Tls::No,
        Data::Passive,
        &["-T", local, &server.url_for(rel)],
    );
}

/// Sends raw commands after login (`-Q`), e.g. `["MDTM /pub/a"]`, and returns every reply line
/// the server sent in the session (`"213 20240101000000"`, ...). Panics if curl fails (a
/// command answered with 4xx/5xx makes it fail).
pub fn quote(server: &Server, commands: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = vec!["-v"];
    for c in commands {
        args.push("-Q");
        args.push(c);
    }
    let url = server.base_url() + "/";
    args.push("--list-only"); // some transfer must follow; NLST of / is harmless
    args.push(&url);
    let out = try_curl(server, Tls::No, Data::Passive, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "curl -Q {commands:?} against {} failed ({}):\n{stderr}",
        server.kind(),
        out.status
    );
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("< "))
        .map(|l| l.trim_end().to_string())
        .collect()
}
