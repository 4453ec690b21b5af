//! The validated configuration: everything the library needs, typed, built from the raw
//! command-line [`Args`].
//!
//! Validation happens here, once: the URL is parsed (scheme, credentials, host, port, path,
//! percent-decoding), numbers are range-checked, and defaults that depend on the environment
//! (the mounting user's uid/gid) are filled in. Nothing past this point sees clap.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::cli::Args;
use crate::credentials;
use crate::fs::attr::Ownership;
use crate::fs::FsConfig;
use crate::remote::codec::NameCodec;
use crate::remote::pipeline::Pipelining;
use crate::remote::session::stat_listing;
use crate::remote::session::{DataMode, SessionConfig};
use crate::remote::tls::{TlsContext, TlsMode, TlsSettings, TlsVersions};
use crate::remote::RemotePath;

pub use crate::credentials::{ANONYMOUS_PASSWORD, ANONYMOUS_USER};

/// How long "no such directory" is remembered, at most. Short, so that a directory created
/// by another client shows up quickly.

#[derive(Debug, Clone)]
pub struct Config {
    pub session: SessionConfig,
    pub fs: FsConfig,
    pub mountpoint: PathBuf,
    /// The URL without password, shown as the mount's source.
    pub source: String,
    pub foreground: bool,
    pub debug: bool,
    pub max_conns: usize,
    pub idle_timeout: Duration,
    /// How long a caller may wait for a free session.
    pub pool_wait: Duration,
    /// The bound on one filesystem call's waiting, retries included (`timeout`).
    pub timeout: Duration,
    /// NOOP idle sessions this often (`keepalive`).
    pub keepalive: Option<Duration>,
    /// Mount without connecting first (`delay_connect`).
    pub delay_connect: bool,
    /// Let fusermount3 remove the mount if ftpfs dies (`auto_unmount`).
    pub auto_unmount: bool,
    pub allow_other: bool,
    pub default_permissions: bool,
    /// Programs on the mount may not run (`noexec`: MS_NOEXEC).
    pub noexec: bool,
    /// Certificate verification is off (warned about at mount time).
    pub no_verify: bool,
}

/// The parts of a mount URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub host: String,
    /// The port, when the URL names one.
    pub port: Option<u16>,
    /// `ftps://`.
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub path: RemotePath,
}

impl ServerUrl {
    /// Parses `ftp://[user[:password]@]host[:port][/path]`, percent-decoding each part.
    pub fn parse(text: &str) -> Result<ServerUrl, String> {
        let url = url::Url::parse(text).map_err(|e| format!("invalid URL '{text}': {e}"))?;
        let secure = match url.scheme() {
            "ftp" => false,
            "ftps" => true,
            other => {
                return Err(format!(
                    "unsupported URL scheme '{other}': use ftp:// or ftps://"
                ))
            }
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => return Err(format!("no host in URL '{text}'")),
        };
        let decode = |s: &str| percent_decode_str(s).decode_utf8().map(|c| c.into_owned());
        let user = match url.username() {
            "" => None,
            u => Some(decode(u).map_err(|_| "user name is not valid UTF-8".to_string())?),
        };
        let password = match url.password() {
            None => None,
            Some(p) => Some(decode(p).map_err(|_| "password is not valid UTF-8".to_string())?),
        };
        let raw_path: Vec<u8> = percent_decode_str(url.path()).collect();
        let path = RemotePath::parse(&raw_path).map_err(|e| format!("bad path in URL: {e}"))?;
        Ok(ServerUrl {
            host,
            port: url.port(),
            user,
            password,
            path,
            secure,
        })
    }

    /// The URL as shown in `mount` output and logs: never with the password.
    pub fn display(&self) -> String {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.secure { "ftps" } else { "ftp" };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{scheme}://{user}{host}{port}{}", self.path)
    }
}

/// `$XDG_CACHE_HOME/ftpfs`, else `~/.cache/ftpfs`, else `/var/tmp/ftpfs-UID`.
fn default_cache_dir() -> PathBuf {
    let from_env = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = from_env("XDG_CACHE_HOME") {
        return dir.join("ftpfs");
    }
    if let Some(home) = from_env("HOME") {
        return home.join(".cache").join("ftpfs");
    }
    // SAFETY: getuid has no preconditions.
    PathBuf::from(format!("/var/tmp/ftpfs-{}", unsafe { libc::getuid() }))
}

fn secs(n: u64, what: &str) -> Result<Duration, String> {
    if n == 0 {
        return Err(format!("{what} must be at least 1 second"));
    }
    Ok(Duration::from_secs(n))
}

/// Whether building a [`Config`] may read standard input or prompt for a password.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    /// Mounting: resolve the password for real.
    Read,
    /// `mount -f`: only check (see [`credentials::resolve_without_input`]).
    Leave,
}

impl Config {
    /// Validates `args` into the configuration of a mount (password sources are read; no
    /// network is used).
    pub fn from_args(args: Args) -> Result<Config, String> {
        Config::build(args, Input::Read)
    }

    /// Validates `args` as [`Config::from_args`] does, for `mount -f`: the same errors, but
    /// standard input is not read and nobody is asked for a password.
    pub fn check(args: Args) -> Result<(), String> {
        Config::build(args, Input::Leave).map(|_| ())
    }

    fn build(args: Args, input: Input) -> Result<Config, String> {
        let url = ServerUrl::parse(&args.url)?;
        if args.max_conns == 0 || args.max_conns > 64 {
            return Err("max_conns must be between 1 and 64".into());
        }
        if args.active && args.disable_epsv {
            return Err("active and disable_epsv cannot be combined".into());
        }
        let data_mode = if args.active {
            DataMode::Active
        } else if args.disable_epsv {
            DataMode::Passive
        } else {
            DataMode::ExtendedPassive
        };
        let connect_timeout = secs(args.connect_timeout, "connect_timeout")?;
        let timeout = secs(args.timeout, "timeout")?;
        if args.timeout < 2 {
            return Err("timeout must be at least 2 seconds".into());
        }
        // Each attempt may use half the budget; retries start only in the first half, so a
        // call never waits much longer than `timeout` (see SEMANTICS.md, failures).
        let half = (args.timeout / 2).max(1);
        let reply_timeout = secs(args.reply_timeout.unwrap_or(half), "reply_timeout")?;
        let data_timeout = secs(args.data_timeout.unwrap_or(half), "data_timeout")?;
        let connect_timeout = connect_timeout.min(timeout);
        let keepalive = args.keepalive.map(|k| secs(k, "keepalive")).transpose()?;
        let sources = credentials::Sources {
            password_file: args.password_file.clone(),
            netrc: args.netrc.clone(),
            password_stdin: args.password_stdin,
        };
        let creds = match input {
            Input::Read => credentials::resolve(
                &url.host,
                url.user.as_deref(),
                url.password.as_deref(),
                &sources,
            )?,
            Input::Leave => credentials::resolve_without_input(
                &url.host,
                url.user.as_deref(),
                url.password.as_deref(),
                &sources,
            )?,
        };
        if creds.origin == credentials::Origin::Url {
            log::warn!("{}", credentials::URL_PASSWORD_WARNING);
        }
        let (user, password) = (creds.user, creds.password);
        let dir_ttl = Duration::from_secs(args.dir_cache_ttl);
        let tls_mode = match (args.tls.as_deref(), url.secure) {
            (Some("explicit"), _) | (None, true) => TlsMode::Explicit,
            (Some("implicit"), _) => TlsMode::Implicit,
            (Some("none"), true) => return Err("ftps:// and tls=none contradict each other".into()),
            _ => TlsMode::None,
        };
        if tls_mode == TlsMode::None && (args.cafile.is_some() || args.no_verify) {
            return Err("cafile and no_verify need TLS (ftps:// or -o tls=explicit)".into());
        }
        let tls = match tls_mode {
            TlsMode::None => None,
            mode => {
                let settings = TlsSettings {
                    mode,
                    cafile: args.cafile.clone(),
                    no_verify: args.no_verify,
                    versions: match args.tls_version.as_str() {
                        "1.2" => TlsVersions::Tls12,
                        "1.3" => TlsVersions::Tls13,
                        _ => TlsVersions::Auto,
                    },
                };
                Some(Arc::new(TlsContext::new(&settings, &url.host)?))
            }
        };
        // SAFETY: getuid/getgid cannot fail and have no preconditions.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        let mountpoint = args.mountpoint.clone();
        Ok(Config {
            session: SessionConfig {
                host: url.host.clone(),
                port: url.port.unwrap_or(if tls_mode == TlsMode::Implicit {
                    990
                } else {
                    21
                }),
                user,
                password,
                data_mode,
                use_pasv_address: args.use_pasv_address,
                connect_timeout,
                reply_timeout,
                data_timeout,
                tls,
                codec: match args.encoding.as_deref() {
                    Some(label) => NameCodec::from_label(label)?,
                    None => None,
                },
                pipelining: Arc::new(Pipelining::new(!args.no_pipelining)),
                stat_listing: Arc::new(stat_listing(!args.no_stat_listing)),
                preopen: !args.no_preopen,
                routes: Arc::default(),
            },
            fs: FsConfig {
                root: url.path.clone(),
                dir_ttl,
                negative_ttl: Duration::from_secs(args.negative_ttl).min(dir_ttl),
                owner: Ownership {
                    uid: args.uid.unwrap_or(uid),
                    gid: args.gid.unwrap_or(gid),
                    umask: args.umask,
                },
                data_timeout,
                refine_mtime: !args.no_mdtm,
                prefetch_dirs: args.prefetch_dirs,
                spool_dir: args
                    .cache_dir
                    .clone()
                    .unwrap_or_else(default_cache_dir)
                    .join("spool"),
                spool_max: args.cache_max_mb.saturating_mul(1024 * 1024),
                read_only: args.read_only,
            },
            mountpoint,
            source: url.display(),
            foreground: args.foreground || args.debug,
            debug: args.debug,
            max_conns: args.max_conns,
            idle_timeout: secs(args.idle_timeout, "idle_timeout")?,
            pool_wait: timeout / 2,
            timeout,
            keepalive,
            delay_connect: args.delay_connect,
            auto_unmount: args.auto_unmount,
            allow_other: args.allow_other,
            default_permissions: args.default_permissions,
            noexec: args.noexec,
            no_verify: args.no_verify,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_decoded() {
        let u = ServerUrl::parse("ftp://us%40er:p%3Ass@example.org:2121/a%20b/%E5%AE%9E").unwrap();
        assert_eq!(u.host, "example.org");
        assert_eq!(u.port, Some(2121));
        assert_eq!(u.user.as_deref(), Some("us@er"));
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert_eq!(u.path.as_bytes(), "/a b/实".as_bytes());
        assert_eq!(u.display(), "ftp://us@er@example.org:2121/a b/实");
        assert!(ServerUrl::parse("ftps://h/").unwrap().secure);
        assert!(!u.display().contains("p:ss"));
        let d = ServerUrl::parse("ftp://127.0.0.1").unwrap();
        assert_eq!((d.port, d.user, d.path), (None, None, RemotePath::root()));
        assert_eq!(ServerUrl::parse("ftp://[::1]:21/").unwrap().host, "::1");
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(ServerUrl::parse("http://h/").is_err());
        assert!(ServerUrl::parse("ftp://").is_err());
        assert!(ServerUrl::parse("not a url").is_err());
        assert!(
            ServerUrl::parse("ftp://h/a%0D%0ADELE%20x").is_err(),
            "CR/LF in the path"
        );
    }

    #[test]
    fn config_from_args() {
        let args = crate::cli::parse(
            [
                "ftpfs",
                "ftp://h/x",
                "/mnt",
                "-o",
                "active,uid=7,max_conns=3",
            ]
            .map(Into::into),
        )
        .unwrap();
        let c = Config::from_args(args).unwrap();
        assert_eq!(c.session.data_mode, DataMode::Active);
        assert_eq!(c.session.user, ANONYMOUS_USER);
        assert_eq!(c.fs.owner.uid, 7);
        assert_eq!(c.max_conns, 3);
        assert_eq!(c.fs.root.as_bytes(), b"/x");
        assert_eq!(c.session.port, 21);
        assert!(c.session.tls.is_none());
        let implicit = crate::cli::parse(
            [
                "ftpfs",
                "ftps://localhost/",
                "/m",
                "-o",
                "tls=implicit,tls_version=1.2",
            ]
            .map(Into::into),
        )
        .unwrap();
        let c = Config::from_args(implicit).unwrap();
        assert_eq!(c.session.port, 990);
        assert_eq!(
            c.session.tls.as_ref().map(|t| t.mode),
            Some(TlsMode::Implicit)
        );
        let plain_no_verify =
            crate::cli::parse(["ftpfs", "ftp://h/", "/m", "-o", "no_verify"].map(Into::into))
                .unwrap();
        assert!(
            Config::from_args(plain_no_verify).is_err(),
            "no_verify without TLS"
        );
        let zero =
            crate::cli::parse(["ftpfs", "ftp://h/", "/m", "-o", "max_conns=0"].map(Into::into));
        assert!(Config::from_args(zero.unwrap()).is_err());
    }
}
