//! The command line: clap's raw arguments, and the `-o opt1,opt2=val` form.
//!
//! There is one option table, the [`Args`] struct. `-o` lists are expanded into the same long
//! options before clap sees them (`-o max_conns=2,active` becomes `--max-conns=2 --active`),
//! so every long option works in both forms, as mount(8) and fstab need. Options that
//! mount(8), fstab and systemd pass to every filesystem (`_netdev`, `noauto`, `x-systemd.*`,
//! ...) are accepted and ignored; `nosuid` and `nodev` are always in effect, `suid` and `dev`
//! have no effect, and `noexec`/`exec` are real options.
//!
//! This file only parses. `config.rs` validates and turns [`Args`] into a typed `Config`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use clap::Parser;

/// Mount a remote FTP server as a local directory.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "ftpfs",
    // The package version and the git commit it was built from (build.rs).
    version = env!("FTPFS_VERSION"),
    about = "Mount a remote FTP server as a local directory (FUSE)",
    after_help = "Every long option can also be given inside -o, with '_' or '-': \
                  ftpfs ftp://host/ /mnt -o max_conns=2,dir_cache_ttl=60,active\n\
                  Unmount with: fusermount3 -u MOUNTPOINT (or umount as root).\n\
                  A running mount reports its counters (operations, bytes, FTP commands, \
                  listings, cache hits and misses, live sessions, reconnects): \
                  ftpfs --stats MOUNTPOINT"
)]
pub struct Args {
    /// Server to mount: ftp://[user[:password]@]host[:port][/path]
    pub url: String,

    /// Directory to mount on
    pub mountpoint: PathBuf,

    /// Mount options, comma separated (any long option without the dashes)
    #[arg(short = 'o', value_name = "OPTIONS", help_heading = "Mount")]
    pub options: Vec<String>,

    /// Stay in the foreground instead of going to the background once mounted
    #[arg(short = 'f', long, help_heading = "Mount")]
    pub foreground: bool,

    /// Log debugging information (implies --foreground); FTPFS_LOG=filter refines it
    #[arg(short = 'd', long, help_heading = "Mount")]
    pub debug: bool,

    /// Log every FTP command sent (PASS masked), at debug level under ftpfs::ftp
    #[arg(long, help_heading = "Mount")]
    pub trace_ftp: bool,

    /// Let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root)
    #[arg(long, help_heading = "Mount")]
    pub allow_other: bool,

    /// Let the kernel check permissions against the mode bits shown
    #[arg(long, help_heading = "Mount")]
    pub default_permissions: bool,

    /// Remove the mount even if ftpfs is killed (through fusermount3; implies allow_root)
    #[arg(long, help_heading = "Mount")]
    pub auto_unmount: bool,

    /// As a mount(8) helper: check the arguments but do not mount (`mount -f`)
    #[arg(long, hide = true)]
    pub fake: bool,

    /// Mount read-only: every change fails with EROFS
    #[arg(long = "ro", visible_alias = "read-only", help_heading = "Mount")]
    pub read_only: bool,

    /// Do not let programs on the mount run (MS_NOEXEC; -o exec undoes it). nosuid and nodev
    /// are always on
    #[arg(long, overrides_with = "exec", help_heading = "Mount")]
    pub noexec: bool,

    /// Let programs on the mount run (the default; undoes an earlier noexec)
    #[arg(long, overrides_with = "noexec", hide = true)]
    pub exec: bool,

    /// TLS: explicit (AUTH TLS, the default for ftps://), implicit (TLS from the first byte,
    /// port 990) or none (the default for ftp://)
    #[arg(long, value_name = "MODE", value_parser = ["explicit", "implicit", "none"], help_heading = "Security")]
    pub tls: Option<String>,

    /// Also trust the certificate authorities in this PEM file
    #[arg(long, value_name = "PATH", help_heading = "Security")]
    pub cafile: Option<PathBuf>,

    /// Do not verify the server's certificate (dangerous: anyone in between can read everything)
    #[arg(long, help_heading = "Security")]
    pub no_verify: bool,

    /// TLS versions: auto (1.3, switching to 1.2 for servers that need it), 1.2 or 1.3
    #[arg(long, value_name = "VERSION", default_value = "auto", value_parser = ["auto", "1.2", "1.3"], help_heading = "Security")]
    pub tls_version: String,

    /// Read the password from the first line of this file (must not be readable by others)
    #[arg(long, value_name = "PATH", help_heading = "Security")]
    pub password_file: Option<PathBuf>,

    /// Take the login from this netrc file instead of ~/.netrc (must not be readable by others)
    #[arg(long, value_name = "PATH", help_heading = "Security")]
    pub netrc: Option<PathBuf>,

    /// Read the password from the first line of standard input (as sshfs; for pam_mount)
    #[arg(long, help_heading = "Security")]
    pub password_stdin: bool,

    /// The server's file-name encoding when it is not UTF-8: gbk, gb18030, big5, shift_jis,
    /// euc-kr, cp1251, latin1, ... (names are translated to and from UTF-8)
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub encoding: Option<String>,

    /// Use active mode (PORT/EPRT): the server connects back to this machine for data
    #[arg(long, help_heading = "Connection")]
    pub active: bool,

    /// Use PASV only, never EPSV
    #[arg(long, help_heading = "Connection")]
    pub disable_epsv: bool,

    /// Connect to the address in the server's PASV reply instead of the control connection's peer
    #[arg(long, help_heading = "Connection")]
    pub use_pasv_address: bool,

    /// Most FTP sessions open at once
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        help_heading = "Connection"
    )]
    pub max_conns: usize,

    /// Seconds to wait for a TCP connection (control, data, active-mode accept)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        help_heading = "Connection"
    )]
    pub connect_timeout: u64,

    /// Longest a filesystem call waits on the server, retries included; a stalled server
    /// gives ETIMEDOUT or EIO within this bound
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60,
        help_heading = "Connection"
    )]
    pub timeout: u64,

    /// Seconds to wait for each reply on the control connection [default: timeout/2]
    #[arg(long, value_name = "SECONDS", help_heading = "Connection")]
    pub reply_timeout: Option<u64>,

    /// Seconds a data connection may stall before the transfer fails [default: timeout/2]
    #[arg(long, value_name = "SECONDS", help_heading = "Connection")]
    pub data_timeout: Option<u64>,

    /// Send NOOP on idle sessions every SECONDS so the server does not drop them
    #[arg(long, value_name = "SECONDS", help_heading = "Connection")]
    pub keepalive: Option<u64>,

    /// Send FTP commands one at a time, never several before their replies (pipelining is
    /// otherwise used where the server handles it: batches of MDTM on LIST-only servers)
    #[arg(long, help_heading = "Connection")]
    pub no_pipelining: bool,

    /// List directories over data connections only, never with STAT over the control
    /// connection (otherwise used on LIST-only servers whose STAT lists completely: vsftpd)
    #[arg(long, help_heading = "Connection")]
    pub no_stat_listing: bool,
    /// Do not keep a data connection opened ahead on idle sessions (by default one is opened
    /// behind each transfer, so the next costs about one round trip)
    #[arg(long, help_heading = "Connection")]
    pub no_preopen: bool,

    /// Mount at once and connect on first use (the server may be down at mount time)
    #[arg(long, help_heading = "Connection")]
    pub delay_connect: bool,

    /// Seconds an unused session stays open (servers drop idle clients; vsftpd after 300)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 60,
        help_heading = "Connection"
    )]
    pub idle_timeout: u64,

    /// Seconds a directory listing is trusted before the server is asked again
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 20,
        help_heading = "Cache"
    )]
    pub dir_cache_ttl: u64,

    /// Seconds a name missing from a listing is believed missing; an older listing is
    /// fetched again before a name is reported missing (at most dir_cache_ttl)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 1,
        help_heading = "Cache"
    )]
    pub negative_ttl: u64,

    /// Don't refine LIST's minute-precision times with MDTM
    #[arg(long, help_heading = "Cache")]
    pub no_mdtm: bool,

    /// When a directory is read, list up to N of its subdirectories ahead, over idle
    /// sessions (0: never list ahead)
    #[arg(long, value_name = "N", default_value_t = 256, help_heading = "Cache")]
    pub prefetch_dirs: usize,

    /// Directory for spool files of files being written [default: ~/.cache/ftpfs]
    #[arg(long, value_name = "PATH", help_heading = "Cache")]
    pub cache_dir: Option<PathBuf>,

    /// Most MiB that spool files may use together; writes beyond fail with ENOSPC
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 10240,
        help_heading = "Cache"
    )]
    pub cache_max_mb: u64,

    /// Owner of every file (default: the mounting user)
    #[arg(long, value_name = "UID", help_heading = "Permissions")]
    pub uid: Option<u32>,

    /// Group of every file (default: the mounting user's group)
    #[arg(long, value_name = "GID", help_heading = "Permissions")]
    pub gid: Option<u32>,

    /// Show permissions as 0777/0666 minus this octal mask instead of the server's bits
    #[arg(long, value_name = "OCTAL", value_parser = parse_octal, help_heading = "Permissions")]
    pub umask: Option<u32>,
}

fn parse_octal(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("'{s}' is not an octal mode like 022"))
}

/// Options that mount(8), fstab and systemd pass to every filesystem; ftpfs ignores them
/// (or, for `nosuid` and `nodev`, always applies them).
const IGNORED: &[&str] = &[
    "_netdev",
    "nofail",
    "noauto",
    "auto",
    "user",
    "users",
    "nouser",
    "defaults",
    "rw",
    // ftpfs always mounts nosuid,nodev (see mount.rs); `exec` and `noexec` are options.
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "atime",
    "noatime",
    "relatime",
    "strictatime",
    "nodiratime",
    "async",
    "sync",
];

fn ignored(opt: &str) -> bool {
    IGNORED.contains(&opt)
        || opt.starts_with("x-systemd.")
        || opt.starts_with("x-")
        || opt.starts_with("comment=")
}

/// Rewrites `-o a,b=c` (and `-oa,b`) into `--a --b=c`, dropping options mount(8) passes to
/// every filesystem. Arguments that are not valid UTF-8 pass through untouched.
pub fn expand_mount_options(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let list = if arg.as_bytes() == b"-o" {
            match args.next() {
                Some(v) => v,
                None => {
                    out.push(arg);
                    break;
                }
            }
        } else if arg.as_bytes().starts_with(b"-o") && arg.len() > 2 {
            OsString::from_vec(arg.as_bytes()[2..].to_vec())
        } else {
            out.push(arg);
            continue;
        };
        let Some(list) = list.to_str() else {
            out.push(OsString::from("-o"));
            out.push(list);
            continue;
        };
        for opt in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            if ignored(opt) {
                continue;
            }
            let (key, value) = match opt.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (opt, None),
            };
            let key = key.replace('_', "-");
            out.push(OsString::from(match value {
                Some(v) => format!("--{key}={v}"),
                None => format!("--{key}"),
            }));
        }
    }
    out
}

/// Parses the process arguments (program name first).
/// A usage error as one line, `ftpfs: error: ... (see ftpfs --help)`: clap's own message,
/// without its usage block and hints, which span several lines.
pub fn usage_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("invalid arguments").trim();
    let mut first = first.strip_prefix("error: ").unwrap_or(first).to_string();
    if let Some(head) = first.strip_suffix(':') {
        // "the following required arguments were not provided:" and the indented list.
        let items: Vec<&str> = lines
            .take_while(|l| l.starts_with("  "))
            .map(str::trim)
            .collect();
        first = format!("{head}: {}", items.join(", "));
    }
    format!("ftpfs: error: {first} (see ftpfs --help)")
}

/// `ftpfs --stats MOUNTPOINT`: the mount point whose counters to print (`stats.rs`), when
/// those are all the arguments. Not a mount option, so it is not among clap's.
pub fn stats_request(args: &[OsString]) -> Option<PathBuf> {
    match args {
        [_, flag, mountpoint] if flag == "--stats" => Some(PathBuf::from(mountpoint)),
        _ => None,
    }
}

pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Args, clap::Error> {
    let args: Vec<OsString> = args.into_iter().collect();
    Args::try_parse_from(expand_mount_options(mount_helper_args(args)))
}

/// Whether the program was started as a mount(8) helper (`mount.ftpfs`, `mount.fuse.ftpfs`).
pub fn is_mount_helper(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .is_some_and(|n| n.as_bytes().starts_with(b"mount."))
}

/// Started as a mount(8) helper, the calling convention is
/// `mount.ftpfs SOURCE DIR [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]`: `-s` (sloppy), `-n` (no
/// mtab), `-v` and `-t` are dropped; `-f` (fake) is kept as `--fake`. Other callers' arguments
/// pass through unchanged.
fn mount_helper_args(args: Vec<OsString>) -> Vec<OsString> {
    if !args.first().is_some_and(|a| is_mount_helper(a)) {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    out.extend(it.next());
    while let Some(arg) = it.next() {
        match arg.as_bytes() {
            b"-s" | b"-n" | b"-v" | b"-sn" | b"-ns" => {}
            b"-t" => {
                it.next();
            }
            b"-f" => out.push(OsString::from("--fake")),
            _ => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn stats_request_is_the_whole_command_line() {
        assert_eq!(
            stats_request(&os(&["ftpfs", "--stats", "/mnt"])),
            Some(PathBuf::from("/mnt"))
        );
        assert_eq!(stats_request(&os(&["ftpfs", "--stats"])), None);
        assert_eq!(stats_request(&os(&["ftpfs", "ftp://h/", "/mnt"])), None);
        assert!(parse(os(&["ftpfs", "--stats", "/mnt", "-o", "ro"])).is_err());
    }

    #[test]
    fn dash_o_and_long_options_are_the_same_table() {
        let a = parse(os(&[
            "ftpfs",
            "ftp://h/",
            "/mnt",
            "-o",
            "max_conns=2,active,dir_cache_ttl=5",
        ]))
        .unwrap();
        let b = parse(os(&[
            "ftpfs",
            "--max-conns",
            "2",
            "--active",
            "--dir-cache-ttl=5",
            "ftp://h/",
            "/mnt",
        ]))
        .unwrap();
        assert_eq!(a, b);
        assert_eq!((a.max_conns, a.active, a.dir_cache_ttl), (2, true, 5));
    }

    #[test]
    fn mount_helper_options_are_ignored() {
        let a = parse(os(&[
            "ftpfs",
            "ftp://h/",
            "/mnt",
            "-o",
            "rw,_netdev,noauto,x-systemd.automount,nofail,user,noatime,allow_other,umask=022",
        ]))
        .unwrap();
        assert!(a.allow_other);
        assert_eq!(a.umask, Some(0o22));
        let ro = parse(os(&["ftpfs", "ftp://h/", "/mnt", "-o", "ro,auto"])).unwrap();
        assert!(ro.read_only);
        // What `defaults` and `user` stand for: dev, suid and exec are accepted, nosuid and
        // nodev are what ftpfs does anyway.
        let d = parse(os(&[
            "ftpfs",
            "ftp://h/",
            "/mnt",
            "-o",
            "rw,suid,dev,exec,nosuid,nodev,auto,nouser,async",
        ]))
        .unwrap();
        assert!(d.exec && !d.noexec);
        let d = Args { exec: false, ..d };
        assert_eq!(d, parse(os(&["ftpfs", "ftp://h/", "/mnt"])).unwrap());
    }

    /// `noexec` is honoured, and the last of `exec`/`noexec` wins, as in mount(8).
    #[test]
    fn noexec_and_exec() {
        let noexec = |opts: &str| {
            parse(os(&["ftpfs", "ftp://h/", "/mnt", "-o", opts]))
                .unwrap()
                .noexec
        };
        assert!(noexec("noexec"));
        assert!(noexec("nosuid,nodev,noexec,_netdev"));
        assert!(noexec("exec,noexec"));
        assert!(!noexec("noexec,exec"));
        assert!(!noexec("exec"));
        let separate = parse(os(&[
            "ftpfs", "ftp://h/", "/mnt", "-o", "noexec", "-o", "exec",
        ]))
        .unwrap();
        assert!(!separate.noexec);
    }

    #[test]
    fn mount_helper_calling_convention() {
        let a = parse(os(&[
            "/sbin/mount.ftpfs",
            "ftp://h/",
            "/mnt",
            "-n",
            "-s",
            "-o",
            "rw,active",
            "-t",
            "ftpfs",
        ]))
        .unwrap();
        assert!(a.active && !a.fake);
        let fake = parse(os(&["mount.fuse.ftpfs", "ftp://h/", "/mnt", "-f"])).unwrap();
        assert!(fake.fake);
        // Only helpers get that treatment: for ftpfs itself -f is --foreground.
        assert!(
            parse(os(&["ftpfs", "ftp://h/", "/mnt", "-f"]))
                .unwrap()
                .foreground
        );
    }

    #[test]
    fn unknown_and_bad_options_are_errors() {
        assert!(parse(os(&["ftpfs", "ftp://h/", "/mnt", "-o", "bogus"])).is_err());
        assert!(parse(os(&["ftpfs", "ftp://h/", "/mnt", "-o", "max_conns=x"])).is_err());
        assert!(parse(os(&["ftpfs", "ftp://h/", "/mnt", "-o", "umask=9"])).is_err());
        assert!(parse(os(&["ftpfs", "ftp://h/"])).is_err());
    }

    #[test]
    fn attached_dash_o_and_defaults() {
        let a = parse(os(&["ftpfs", "-oactive", "-f", "ftp://h/", "/mnt"])).unwrap();
        assert!(a.active && a.foreground);
        let d = parse(os(&["ftpfs", "ftp://h/", "/mnt"])).unwrap();
        assert_eq!(
            (d.max_conns, d.dir_cache_ttl, d.connect_timeout),
            (4, 20, 10)
        );
    }
}
