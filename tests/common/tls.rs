//! Throwaway TLS material for FTPS test servers: a private CA and a leaf certificate for
//! `DNS:localhost, IP:127.0.0.1` (or other names, see [`DEFAULT_CERT_NAMES`]), made with the `openssl` command line in a server's state
//! directory, plus SHA-512 crypt password hashes for the virtual users.
//!
//! Clients trust the CA (`ca.pem`), never the leaf itself. Keys are RSA 2048 because that is what
//! all three servers accept in their "RSA certificate" settings.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::process::run_checked;

/// Paths of the generated files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The CA certificate clients must trust.
    pub ca_pem: PathBuf,
    /// The server's leaf certificate (PEM).
    pub cert_pem: PathBuf,
    /// The server's private key (PEM, unencrypted).
    pub key_pem: PathBuf,
}

/// The names a server certificate carries unless a test asks for others (an OpenSSL
/// `subjectAltName` value).
pub const DEFAULT_CERT_NAMES: &str = "DNS:localhost,IP:127.0.0.1";

/// Generates a CA and a leaf for `names` (a `subjectAltName` value such as
/// [`DEFAULT_CERT_NAMES`]) into `dir` (created if needed).
pub fn generate(dir: &Path, names: &str) -> TlsFiles {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let openssl = |args: &[&str]| {
        run_checked(
            Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .stdin(Stdio::null()),
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=ftpfs test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .expect("write ext.cnf");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "30",
        "-extfile",
        "ext.cnf",
    ]);
    TlsFiles {
        ca_pem: dir.join("ca.pem"),
        cert_pem: dir.join("server.pem"),
        key_pem: dir.join("server.key"),
    }
}

/// A SHA-512 crypt(3) hash (`$6$...`) of `password`, as `openssl passwd -6` makes it. Cached per
/// password: both proftpd's AuthUserFile and pure-ftpd's PureDB accept it, and it verifies in
/// milliseconds (pure-pw's default argon2id takes about 3 s per login).
pub fn crypt_sha512(password: &str) -> String {
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(h) = cache.lock().unwrap().get(password) {
        return h.clone();
    }
    let mut child = Command::new("openssl")
        .args(["passwd", "-6", "-salt", "ftpfstst", "-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run openssl (run contrib/deps.sh): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .expect("write to openssl");
    let out = child.wait_with_output().expect("openssl passwd");
    assert!(
        out.status.success(),
        "openssl passwd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        hash.starts_with("$6$"),
        "unexpected hash from openssl passwd -6: {hash}"
    );
    cache
        .lock()
        .unwrap()
        .insert(password.to_string(), hash.clone());
    hash
}
