//! Processes and ports for the test harness: port allocation, signals to a process tree, and
//! what /proc says about processes, sockets and mounts.
//!
//! Port allocation (invariants):
//! * control ports are ephemeral: bind `127.0.0.1:0`, read the port, release it. The kernel hands
//!   these out from `ip_local_port_range` (32768-60999 by default).
//! * passive port ranges are blocks of [`PASV_BLOCK`] ports *below* that range, so an ephemeral
//!   port can never land in one. A block is owned through an exclusive `flock` on
//!   `/tmp/ftpfs-test-ports/<first>.lock`, held as long as the [`PortBlock`] lives. That keeps
//!   blocks distinct between threads and between test processes running at the same time.
//!
//! Nothing here ever signals a process that it did not find below a PID the harness spawned.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Ports in one passive range. Wide, because proftpd 1.3.8 picks a random port of its
/// `PassivePorts` range with SO_REUSEADDR and does not try another when `listen()` then
/// fails: two of its sessions answering EPSV at the same moment with the same port log
/// "unable to listen on ...: Address already in use", and one transfer stalls (seen in the
/// suite with 32 ports and read-ahead's parallel downloads). The wider the range, the rarer.
pub const PASV_BLOCK: u16 = 256;
/// Lowest port of any passive block (well above the privileged and the usual service ports).
const PASV_LOW: u16 = 10_000;
/// Lock files for passive blocks live here (shared by every test process on the machine).
const PORT_LOCK_DIR: &str = "/tmp/ftpfs-test-ports";

/// An ephemeral port on 127.0.0.1 that was free a moment ago. The caller must cope with losing
/// the race for it (the servers then fail to bind and the harness retries with another).
pub fn ephemeral_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// True if nobody has a socket bound to 127.0.0.1:`port` (or the wildcard address) right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A passive port range owned by this process until dropped.
#[derive(Debug)]
pub struct PortBlock {
    pub first: u16,
    pub last: u16,
    _lock: File,
}

impl PortBlock {
    /// Claims a free block. Panics if every block is taken (thousands of servers at once).
    pub fn acquire() -> PortBlock {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        static BASE: OnceLock<usize> = OnceLock::new();
        // A random starting block per process keeps concurrent processes from probing the same
        // blocks in the same order; the lock decides in any case.
        let base = *BASE.get_or_init(rand::random::<usize>);
        let high = ephemeral_low().saturating_sub(1);
        let blocks = usize::from(high.saturating_sub(PASV_LOW) / PASV_BLOCK);
        assert!(
            blocks > 0,
            "no room for passive port blocks between {PASV_LOW} and {high} \
             (see /proc/sys/net/ipv4/ip_local_port_range)"
        );
        fs::create_dir_all(PORT_LOCK_DIR)
            .unwrap_or_else(|e| panic!("cannot create {PORT_LOCK_DIR}: {e}"));
        for _ in 0..blocks {
            let index = base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % blocks;
            let first = PASV_LOW + index as u16 * PASV_BLOCK;
            let last = first + PASV_BLOCK - 1;
            let path = format!("{PORT_LOCK_DIR}/{first}.lock");
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
            // SAFETY: flock on a valid open descriptor; no memory is involved.
            let locked =
                unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
            if locked && (first..=last).all(port_is_free) {
                return PortBlock {
                    first,
                    last,
                    _lock: lock,
                };
            }
        }
        panic!("no free passive port block of {PASV_BLOCK} ports between {PASV_LOW} and {high}");
    }
}

/// First port of the kernel's ephemeral range.
fn ephemeral_low() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32768)
}

/// A point in time to give up at: an [`Instant`], or a [`Duration`] from now.
pub trait Deadline {
    fn deadline(self) -> Instant;
}

impl Deadline for Instant {
    fn deadline(self) -> Instant {
        self
    }
}

impl Deadline for Duration {
    fn deadline(self) -> Instant {
        Instant::now() + self
    }
}

/// Polls `cond` until it returns true (-> true) or `deadline` (an `Instant`, or a `Duration`
/// from now) has passed (-> false). The poll interval grows from 5 ms to 50 ms.
pub fn wait_until(deadline: impl Deadline, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = deadline.deadline();
    let mut pause = Duration::from_millis(5);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Runs `op` (a filesystem call that might hang) on its own thread and returns its result,
/// or fails the test once `bound` has passed: a hung call then costs the test, not the suite
/// (the thread is left behind, blocked in the kernel until the mount goes away).
pub fn within<T: Send + 'static>(bound: Duration, op: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(op());
    });
    match rx.recv_timeout(bound) {
        Ok(v) => v,
        Err(_) => panic!(
            "a filesystem call did not return within {bound:?} (started {:?} ago): ftpfs hangs",
            started.elapsed()
        ),
    }
}

/// Waits for `child` to exit, up to `timeout`. Returns its status if it exited (and was reaped).
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

/// Sends `sig` to one process. Errors (e.g. it is already gone) are ignored.
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; pid is a positive process id.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    match proc_stat(pid) {
        Some((state, _)) => state != 'Z' && state != 'X',
        None => false,
    }
}

/// (state, ppid) of a process from /proc/PID/stat.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain anything; fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// `pid` and all its living descendants (children first found by a /proc scan), pid first.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some((state, ppid)) = proc_stat(p) {
                if state != 'Z' {
                    children.entry(ppid).or_default().push(p);
                }
            }
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        if let Some(kids) = children.get(&tree[i]) {
            tree.extend(kids);
        }
        i += 1;
    }
    tree
}

/// Sends `sig` to `pid` and every descendant. The root is stopped first so it cannot fork new
/// children between the scan and the signal; it is continued afterwards unless `sig` stops it.
pub fn signal_tree(pid: u32, sig: libc::c_int) {
    signal(pid, libc::SIGSTOP);
    let tree = process_tree(pid);
    for &p in tree.iter().rev() {
        signal(p, sig);
    }
    if sig != libc::SIGSTOP && sig != libc::SIGKILL {
        signal(pid, libc::SIGCONT);
        if sig == libc::SIGTERM {
            // Descendants that were stopped by an earlier stop() must run to act on SIGTERM.
            for &p in &tree {
                signal(p, libc::SIGCONT);
            }
        }
    }
}

/// Ends a spawned process tree: SIGTERM to all, wait up to `grace`, then SIGKILL to whatever is
/// left; reaps `child`. Safe to call on a child that has already exited.
pub fn terminate_tree(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let pid = child.id();
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let tree = process_tree(pid);
    signal_tree(pid, libc::SIGTERM);
    let mut status = wait_child(child, grace);
    if status.is_none() {
        signal_tree(pid, libc::SIGKILL);
        status = child.wait().ok();
    }
    // Sessions forked by the daemon may outlive their master; make sure they are gone too.
    let stragglers: Vec<u32> = tree
        .into_iter()
        .filter(|&p| p != pid && pid_alive(p))
        .collect();
    for &p in &stragglers {
        signal(p, libc::SIGKILL);
    }
    status
}

/// True if a socket listening on 127.0.0.1:`port` (or 0.0.0.0:`port`) is held open by `pid`.
pub fn listener_owned_by(pid: u32, port: u16) -> bool {
    let Ok(tcp) = fs::read_to_string("/proc/net/tcp") else {
        return true; // cannot tell; assume it is ours
    };
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    let inodes: Vec<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            (f.len() > 9 && wanted.iter().any(|w| w == f[1]) && f[3] == "0A")
                .then(|| f[9].to_string())
        })
        .collect();
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .map(|target| {
                let t = target.to_string_lossy();
                inodes.iter().any(|i| t == format!("socket:[{i}]"))
            })
            .unwrap_or(false)
    })
}

/// True if `path` is a mount point according to /proc/self/mountinfo.
pub fn is_mounted(path: &Path) -> bool {
    mount_fstype(path).is_some()
}

/// The filesystem type of the mount at exactly `path` (the topmost one), if any.
pub fn mount_fstype(path: &Path) -> Option<String> {
    let info = fs::read("/proc/self/mountinfo").ok()?;
    let wanted = path.as_os_str().as_bytes();
    let mut found = None;
    for line in info.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if fields.len() < 5 || unescape_mountinfo(fields[4]) != wanted {
            continue;
        }
        // Optional fields end with "-", followed by the filesystem type.
        let fstype = fields
            .iter()
            .position(|f| *f == b"-")
            .and_then(|i| fields.get(i + 1))
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default();
        found = Some(fstype);
    }
    found
}

/// Undoes mountinfo's octal escapes (`\040` for a space, etc.).
fn unescape_mountinfo(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && i + 3 < field.len()
            && field[i + 1..i + 4]
                .iter()
                .all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (field[i + 1] - b'0') * 64 + (field[i + 2] - b'0') * 8 + (field[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

/// Runs a command, returning stdout; panics with the command and its stderr if it fails.
pub fn run_checked(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

/// The last `max_lines` lines of a text, for panic messages.
pub fn tail(text: &str, max_lines: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("[... {start} earlier lines omitted ...]\n"));
    }
    for l in &lines[start..] {
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Reads a file as text for logs; a missing file gives an empty string.
pub fn read_lossy(path: &Path) -> String {
    match fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}
