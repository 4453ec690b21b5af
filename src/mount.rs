//! Mounting and the process lifecycle: background start, signals, unmount.
//!
//! [`run`] is the whole life of an ftpfs process:
//! 1. without `--foreground`, fork at once (before any thread exists); the parent waits on a
//!    pipe and exits 0 only when the child reports that the mount is live, or prints the
//!    child's one-line error and exits 1;
//! 2. block SIGTERM, SIGINT, SIGHUP and SIGUSR1 so every later thread inherits the mask and
//!    the main thread can `sigwait` for them;
//! 3. open a first FTP session (a wrong host, port or password fails here, within the
//!    connect timeout) and list the mount root;
//! 4. mount with fuser and report success;
//! 5. wait for a signal: SIGTERM/SIGINT/SIGHUP unmount lazily (fuser 0.18 returns EBUSY and
//!    leaves a dead mount when files are open, so ftpfs does the `MNT_DETACH` itself);
//!    SIGUSR1 comes from our own watcher thread when the session ended because someone ran
//!    `umount`.
//!
//! This file and `fuse.rs` are the only ones that import fuser.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fuser::{MountOption, SessionACL};

use crate::config::Config;
use crate::error::FsError;
use crate::fs::FtpFs;
use crate::fuse::FuseAdapter;
use crate::remote::client::Remote;
use crate::remote::pool::Pool;

/// How long to wait for the session to end after a lazy unmount before exiting anyway.
const UNMOUNT_GRACE: Duration = Duration::from_secs(5);
/// How often idle sessions are checked for closing.
const REAP_INTERVAL: Duration = Duration::from_secs(5);

/// Mounts according to `config` and serves until unmounted or signalled. Returns an error
/// message for the user on failure to mount.
pub fn run(config: Config) -> Result<(), String> {
    let mountpoint = config
        .mountpoint
        .canonicalize()
        .map_err(|e| format!("mount point {}: {e}", config.mountpoint.display()))?;
    if !mountpoint.is_dir() {
        return Err(format!(
            "mount point {} is not a directory",
            mountpoint.display()
        ));
    }
    let report = if config.foreground {
        None
    } else {
        Some(daemonize()?)
    };
    serve(&config, &mountpoint, report)
}

/// Forks; the parent waits for the child's report and exits. Returns the child's end of the
/// report pipe.
fn daemonize() -> Result<File, String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array for pipe(2) to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created by pipe2 and are owned by nobody else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: no other thread exists yet (run is called before any is spawned), so fork
    // cannot leave a lock held in the child.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(read_end);
            // SAFETY: setsid has no preconditions; failure only means we already lead a session.
            unsafe { libc::setsid() };
            Ok(File::from(write_end))
        }
        _ => {
            drop(write_end);
            let mut msg = String::new();
            let _ = File::from(read_end).read_to_string(&mut msg);
            match msg.strip_prefix("ok") {
                Some(_) => std::process::exit(0),
                None if msg.is_empty() => {
                    let msg = "the mount process died before the mount was ready";
                    eprintln!("{}", crate::logging::error_line(msg));
                    std::process::exit(1)
                }
                None => {
                    eprintln!("{}", crate::logging::error_line(&msg));
                    std::process::exit(1)
                }
            }
        }
    }
}

/// Sends the background parent its answer, then detaches from the terminal.
/// On failure the child exits here: the parent prints the message, once.
fn report_to_parent(report: Option<File>, result: &Result<(), String>, fallback_log: &Path) {
    let Some(mut pipe) = report else { return };
    let msg = match result {
        Ok(()) => "ok".to_string(),
        Err(e) => e.clone(),
    };
    let _ = pipe.write_all(msg.as_bytes());
    drop(pipe);
    if result.is_err() {
        std::process::exit(1);
    }
    crate::logging::to_background(fallback_log);
    {
        // SAFETY: plain descriptor operations on descriptors this process owns.
        unsafe {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null >= 0 {
                libc::dup2(null, 0);
                libc::dup2(null, 1);
                libc::dup2(null, 2);
                libc::close(null);
            }
            libc::chdir(c"/".as_ptr());
        }
    }
}

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a zeroed sigset_t we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

fn serve(config: &Config, mountpoint: &Path, report: Option<File>) -> Result<(), String> {
    let set = signal_set();
    // SAFETY: blocks the signals in this (so far only) thread; threads spawned later
    // inherit the mask, so only `sigwait` below receives them.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };

    let started = start(config, mountpoint);
    let started_ok = started.as_ref().map(|_| ()).map_err(Clone::clone);
    let fallback_log = crate::logging::fallback_log_path(&config.fs.spool_dir);
    report_to_parent(report, &started_ok, &fallback_log);
    let (session, fs) = started?;
    crate::logging::started();
    log::info!("mounted {} on {}", config.source, mountpoint.display());

    // Watch for the session ending (external umount) and wake the main thread.
    std::thread::Builder::new()
        .name("ftpfs-session-watch".into())
        .spawn(move || {
            if let Err(e) = session.join() {
                log::warn!("FUSE session ended with an error: {e}");
            }
            // SAFETY: sends a signal to our own process.
            unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;

    let pool = Arc::clone(fs.remote().pool());
    let keepalive = config.keepalive;
    let every = keepalive.map_or(REAP_INTERVAL, |k| {
        (k / 2).clamp(Duration::from_millis(500), REAP_INTERVAL)
    });
    std::thread::Builder::new()
        .name("ftpfs-reaper".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            match keepalive {
                Some(k) => pool.keepalive(k),
                None => pool.reap_idle(),
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;

    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is initialised and `sig` is a valid out-pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        if sig == libc::SIGUSR1 {
            log::info!("unmounted");
        } else {
            log::info!("signal {sig}: unmounting {}", mountpoint.display());
            lazy_unmount(mountpoint);
            wait_for_session_end(&set);
        }
        // Programs that still hold files open keep a detached mount alive, and an aborted
        // connection never releases them: their unsaved changes go up now rather than being
        // lost with this process.
        let failed = fs.sync_all();
        if failed > 0 {
            log::error!("{failed} open file(s) could not be uploaded before exiting; their content is kept in the spool files named above");
        }
        return Ok(());
    }
}

/// Connects, checks the root, and mounts.
fn start(
    config: &Config,
    mountpoint: &Path,
) -> Result<(fuser::BackgroundSession, Arc<FtpFs>), String> {
    if let Some(tls) = &config.session.tls {
        if config.no_verify {
            // Loud on purpose: this is the one setting that makes FTPS as weak as FTP.
            crate::logging::warn_always(
                "certificate verification is OFF (-o no_verify): anyone between you and the \
                 server can read and change your files and your password",
            );
        }
        log::info!("FTPS ({:?}) to {}", tls.mode, tls.domain);
    } else if config.session.user != crate::config::ANONYMOUS_USER
        && !config.session.password.is_empty()
    {
        log::warn!("the password for {} goes over the network in clear text; use ftps:// if the server supports it", config.session.user);
    }
    let pool = Pool::new(
        config.session.clone(),
        config.max_conns,
        config.idle_timeout,
        config.pool_wait,
    );
    let remote = Remote::new(pool, config.timeout);
    let server = crate::remote::ftp::host_port(&config.session.host, config.session.port);
    let fs = if config.delay_connect {
        Arc::new(FtpFs::new(remote, None, config.fs.clone()))
    } else {
        let features = remote.probe().map_err(|e| {
            let msg = e.to_string();
            if msg.contains(&server) {
                msg
            } else {
                format!("{server}: {msg}")
            }
        })?;
        let fs = Arc::new(FtpFs::new(remote, Some(features), config.fs.clone()));
        fs.check_root().map_err(|e| match e {
            FsError::NotFound => format!("{}: no such directory on the server", config.source),
            e => format!("{}: {e}", config.source),
        })?;
        fs
    };
    fs.start_prefetch();

    let mut cfg = fuser::Config::default();
    cfg.mount_options = vec![
        MountOption::FSName(config.source.clone()),
        MountOption::Subtype("ftpfs".into()),
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    if config.fs.read_only {
        cfg.mount_options.push(MountOption::RO);
    }
    if config.noexec {
        cfg.mount_options.push(MountOption::NoExec);
    }
    if config.default_permissions {
        cfg.mount_options.push(MountOption::DefaultPermissions);
    }
    if config.allow_other {
        cfg.acl = SessionACL::All;
    }
    if config.auto_unmount {
        // fusermount3 then watches us and unmounts if we die; it needs allow_root at least.
        cfg.mount_options.push(MountOption::AutoUnmount);
        if cfg.acl == SessionACL::Owner {
            cfg.acl = SessionACL::RootAndOwner;
        }
    }
    // One thread per session plus two, so that metadata calls are served while every
    // session is busy with a transfer, plus the threads whose chunks a sequential writer
    // may have queued behind its stream (see fs/write/order.rs).
    cfg.n_threads = Some(config.max_conns + 2 + crate::fs::write::AHEAD as usize);
    cfg.clone_fd = true;
    let (adapter, invalidator) = FuseAdapter::new(Arc::clone(&fs));
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let session = if root && !config.auto_unmount {
        // fuser's own mount(2) path drops the subtype ("fuse" in /proc/mounts); mount as
        // "fuse.ftpfs" ourselves and hand fuser the descriptor.
        mount_direct(config, mountpoint)
            .and_then(|fd| fuser::Session::from_fd(adapter, fd, cfg.acl, cfg.clone()))
            .and_then(fuser::Session::spawn)
    } else {
        fuser::spawn_mount(adapter, mountpoint, &cfg)
    };
    let session = session.map_err(|e| format!("cannot mount on {}: {e}", mountpoint.display()))?;
    invalidator.start(session.notifier());
    raise_read_ahead(mountpoint);
    Ok((session, fs))
}

/// Kernel read-ahead for the mount, in KiB. The default (128) caps FUSE reads at 128 KiB;
/// 1 MiB requests cut the per-request overhead of sequential reads noticeably.
const READ_AHEAD_KB: u32 = 1024;

/// Sets the mount's read-ahead through sysfs (root only; best effort).
fn raise_read_ahead(mountpoint: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::metadata(mountpoint) else {
        return;
    };
    let dev = md.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let knob = format!("/sys/class/bdi/{major}:{minor}/read_ahead_kb");
    if let Err(e) = std::fs::write(&knob, READ_AHEAD_KB.to_string()) {
        log::debug!("cannot set {knob}: {e}");
    }
}

/// Opens /dev/fuse and mounts it on `mountpoint` with type `fuse.ftpfs` and the URL (without
/// password) as the source, as libfuse does. Root only.
fn mount_direct(config: &Config, mountpoint: &Path) -> std::io::Result<OwnedFd> {
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")?;
    let fd = OwnedFd::from(dev);
    // SAFETY: geteuid/getegid have no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut data = format!(
        "fd={},rootmode=40000,user_id={uid},group_id={gid}",
        fd.as_raw_fd()
    );
    if config.default_permissions {
        data.push_str(",default_permissions");
    }
    if config.allow_other {
        data.push_str(",allow_other");
    }
    let mut flags = libc::MS_NOSUID | libc::MS_NODEV;
    if config.fs.read_only {
        flags |= libc::MS_RDONLY;
    }
    if config.noexec {
        flags |= libc::MS_NOEXEC;
    }
    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let source = cstr(config.source.as_bytes())?;
    let target = cstr(mountpoint.as_os_str().as_bytes())?;
    let fstype = cstr(b"fuse.ftpfs")?;
    let data = cstr(data.as_bytes())?;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// Detaches the mount even with files open; the session then ends on its own.
fn lazy_unmount(mountpoint: &Path) {
    let Ok(c) = CString::new(mountpoint.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
        return;
    }
    // Not root: ask the setuid helper.
    let status = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(mountpoint)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        log::warn!("could not unmount {}: {status:?}", mountpoint.display());
    }
}

/// Waits (bounded) for the watcher's SIGUSR1 telling that the session ended.
fn wait_for_session_end(set: &libc::sigset_t) {
    let timeout = libc::timespec {
        tv_sec: UNMOUNT_GRACE.as_secs() as libc::time_t,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: `set` and `timeout` are valid for the call; no siginfo is requested.
        let sig = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &timeout) };
        if sig == libc::SIGUSR1 || sig < 0 {
            return;
        }
    }
}
