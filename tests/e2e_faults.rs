//! Fault injection: the server stalls, dies, restarts, limits connections or drops idle
//! sessions under a live mount. Each test states the bound it expects and checks it; none can
//! hang the suite (every wait has a deadline).

mod common;

use std::fs;
use std::io::Read;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::process::{is_mounted, pid_alive, signal, within};
use common::*;

/// Scheduling slack on a loaded two-core machine, over a bound ftpfs promises.
const SLACK: Duration = Duration::from_secs(1);

/// A stopped (SIGSTOP) server: calls fail with ETIMEDOUT or EIO within `timeout` (6 s, plus
/// [`SLACK`]), never hang; once it resumes, the same mount works again.
fn stalled_server(server: &Server) {
    const TIMEOUT: u64 = 6;
    server.populate(|d| {
        fs::create_dir(d.join("a")).unwrap();
        fs::write(d.join("a/x"), b"x\n").unwrap();
        fs::create_dir(d.join("b")).unwrap();
        fs::write(d.join("b/y"), b"y\n").unwrap();
    });
    let m = mount_for(server, &[&format!("timeout={TIMEOUT}"), "dir_cache_ttl=1"]);
    assert_eq!(fs::read(m.join("a/x")).unwrap(), b"x\n");
    server.stop();
    let t = Instant::now();
    let path = m.join("b/y");
    let err = within(Duration::from_secs(3 * TIMEOUT), move || fs::read(path))
        .expect_err("read from a stopped server succeeded");
    let took = t.elapsed();
    assert!(
        matches!(err.raw_os_error(), Some(libc::ETIMEDOUT) | Some(libc::EIO)),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(TIMEOUT) + SLACK,
        "took {took:?} (bound {TIMEOUT} s)\n{}",
        m.log()
    );
    eprintln!("read from a stopped server: {err} after {took:?}");
    server.cont();
    let back = wait_until(Duration::from_secs(2 * TIMEOUT + 5), || {
        fs::read(m.join("b/y")).ok().as_deref() == Some(b"y\n")
    });
    assert!(back, "the mount did not recover after SIGCONT\n{}", m.log());
    assert!(is_mounted(m.path()));
}
for_each_server_kind!(stalled_server, stalled_server);

/// The server is killed in the middle of a 500 MiB read and restarted: the read resumes with
/// REST at the first missing byte and the bytes are exact (bound: 120 s for the whole read).
fn killed_mid_read(server: &mut Server) {
    const SIZE: u64 = 500 << 20;
    let want = server.populate(|d| write_random_file(d.join("big.bin"), SIZE, 77));
    let m = mount_for(server, &[]);
    let progress = Arc::new(AtomicU64::new(0));
    let path = m.join("big.bin");
    let seen = Arc::clone(&progress);
    let reader = std::thread::spawn(move || -> std::io::Result<String> {
        use sha2::{Digest, Sha256};
        let mut f = fs::File::open(path)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            seen.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(format!("{:x}", h.finalize()))
    });
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(60), || progress.load(Ordering::Relaxed)
            > SIZE / 5),
        "the read did not start"
    );
    server.restart();
    let got = within(Duration::from_secs(120), move || reader.join().unwrap())
        .unwrap_or_else(|e| panic!("read failed after a server restart: {e}\n{}", m.log()));
    assert_eq!(got, want, "bytes differ after the resume");
    assert!(t.elapsed() < Duration::from_secs(120));
    // The resume asked for the rest only: a REST past the fifth of the file already read.
    let log = m.log();
    let resumed_at = log
        .lines()
        .filter_map(|l| l.split("> REST ").nth(1))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .max();
    assert!(
        resumed_at.is_some_and(|at| at > SIZE / 5),
        "no REST at the first missing byte (largest REST {resumed_at:?})\n{log}"
    );
    assert!(m.stats()["reconnects"] >= 1, "no reconnect happened?");
}

#[test]
fn killed_mid_read_pure_ftpd() {
    killed_mid_read(&mut Server::start(
        ServerKind::PureFtpd,
        ServerOptions::default(),
    ));
}

#[test]
fn killed_mid_read_vsftpd() {
    killed_mid_read(&mut Server::start(
        ServerKind::Vsftpd,
        ServerOptions::default(),
    ));
}

/// vsftpd allows 2 sessions per IP; 6 concurrent readers of different files all finish with
/// the right bytes, without errors (bound: 120 s).
#[test]
fn connection_limit_is_respected() {
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::extra(&["max_per_ip=2"]));
    let sums: Vec<String> = server.populate(|d| {
        (0..6)
            .map(|i| write_random_file(d.join(format!("f{i}")), 8 << 20, i))
            .collect()
    });
    let m = mount_for(&server, &["max_conns=6"]);
    let t = Instant::now();
    let readers: Vec<_> = (0..6)
        .map(|i| {
            let p = m.join(format!("f{i}"));
            std::thread::spawn(move || fs::read(p).map(sha256_bytes))
        })
        .collect();
    for (i, r) in readers.into_iter().enumerate() {
        let bound = Duration::from_secs(120).saturating_sub(t.elapsed());
        let got = within(bound, move || r.join().unwrap())
            .unwrap_or_else(|e| panic!("reader {i}: {e}\n{}", m.log()));
        assert_eq!(got, sums[i], "reader {i}");
    }
    assert!(t.elapsed() < Duration::from_secs(120));
    let s = m.stats();
    assert_eq!(
        s["sessions_max"], 2,
        "the pool did not learn the limit: {s:?}"
    );
}

/// A limit reached only because another client held connections does not shrink the pool
/// for good: once that client is gone, a caller that would wait tries one more session after
/// `LIMIT_RETRY` (30 s), and the pool grows again.
#[test]
fn connection_limit_recovers() {
    use std::io::{BufRead, BufReader, Read};
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::extra(&["max_per_ip=2"]));
    let sums: Vec<String> = server.populate(|d| {
        (0..4)
            .map(|i| write_random_file(d.join(format!("f{i}")), 4 << 20, 40 + i))
            .collect()
    });
    // Another client holds one of the two connections vsftpd allows from 127.0.0.1.
    let other = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let mut banner = String::new();
    BufReader::new(&other).read_line(&mut banner).unwrap();
    assert!(banner.starts_with("220"), "{banner}");
    let m = mount_for(&server, &["max_conns=4"]);
    // Every file open at once, each read in turns: more sessions wanted than allowed.
    let read_all = || {
        let mut files: Vec<fs::File> = (0..4)
            .map(|i| fs::File::open(m.join(format!("f{i}"))).unwrap())
            .collect();
        let mut data = vec![Vec::new(); 4];
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let mut progress = false;
            for (f, d) in files.iter_mut().zip(data.iter_mut()) {
                let n = f.read(&mut buf).unwrap();
                d.extend_from_slice(&buf[..n]);
                progress |= n > 0;
            }
            if !progress {
                break;
            }
        }
        for (i, d) in data.iter().enumerate() {
            assert_eq!(sha256_bytes(d), sums[i], "f{i}\n{}", m.log());
        }
    };
    read_all();
    let s = m.stats();
    assert_eq!(
        s["sessions_max"], 1,
        "the pool did not learn the limit: {s:?}"
    );
    drop(other);
    // Waiting out the pool's retry delay is the point of this test.
    std::thread::sleep(ftpfs::remote::pool::LIMIT_RETRY + Duration::from_secs(1));
    read_all();
    let s = m.stats();
    assert!(
        s["sessions_max"] >= 2,
        "the pool did not grow back after the other client left: {s:?}\n{}",
        m.log()
    );
}

/// vsftpd drops sessions idle for 5 s. Without keep-alive ftpfs reconnects transparently;
/// with `keepalive=1` the sessions survive (no new connection).
#[test]
fn idle_timeout_and_keepalive() {
    let server = Server::start(
        ServerKind::Vsftpd,
        ServerOptions::extra(&["idle_session_timeout=5"]),
    );
    server.populate(|d| fs::write(d.join("a"), b"a").unwrap());
    for keepalive in [false, true] {
        let opts: Vec<&str> = if keepalive {
            vec!["keepalive=1", "dir_cache_ttl=1"]
        } else {
            vec!["dir_cache_ttl=1"]
        };
        let m = mount_for(&server, &opts);
        assert_eq!(fs::read(m.join("a")).unwrap(), b"a");
        let before = m.stats()["connects"];
        // Waiting out the server's idle timeout is the point of this test.
        std::thread::sleep(Duration::from_secs(7));
        assert_eq!(
            fs::read(m.join("a")).unwrap(),
            b"a",
            "error after the idle timeout\n{}",
            m.log()
        );
        assert_eq!(dir_names(m.path()), vec!["a".to_string()]);
        let after = m.stats()["connects"];
        if keepalive {
            assert_eq!(
                after,
                before,
                "keep-alive did not keep the sessions\n{}",
                m.log()
            );
        } else {
            assert!(
                after > before,
                "expected a reconnect after the idle timeout"
            );
        }
    }
}

/// `umount` with a file open: either refused (the mount keeps working) or done; never a dead
/// mount. After the file is closed, umount works and ftpfs exits 0.
#[test]
fn umount_with_open_file_leaves_no_dead_mount() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("a"), b"a").unwrap());
    let mut m = mount_for(&server, &[]);
    let mnt = m.path().to_path_buf();
    let f = fs::File::open(m.join("a")).unwrap();
    let out = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .output()
        .unwrap();
    if is_mounted(&mnt) {
        let r = fs::read(mnt.join("a"));
        assert_eq!(
            r.as_deref().ok(),
            Some(&b"a"[..]),
            "the mount is dead after a refused unmount ({:?}; fusermount3: {} {})\n{}",
            r.as_ref().err(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            m.log()
        );
    }
    drop(f);
    if is_mounted(&mnt) {
        let out = Command::new("umount").arg(&mnt).output().unwrap();
        assert!(
            out.status.success(),
            "umount after close: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(wait_until(Duration::from_secs(10), || !is_mounted(&mnt)));
    assert_eq!(
        fs::read_dir(&mnt).unwrap().count(),
        0,
        "not an ordinary empty directory again"
    );
    let status = m
        .wait_exit(Duration::from_secs(10))
        .expect("ftpfs did not exit after the unmount");
    assert!(status.success(), "{status}");
}

/// SIGHUP, like SIGTERM and SIGINT, unmounts lazily, even with a file open, and ftpfs exits
/// 0; the file that was open reads on from what it already had in the kernel, or fails, but
/// the mountpoint is an ordinary directory again.
#[test]
fn sighup_unmounts_and_exits_0() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("a"), b"a").unwrap());
    let mut m = mount_for(&server, &[]);
    let mnt = m.path().to_path_buf();
    let open = fs::File::open(m.join("a")).unwrap();
    m.signal(libc::SIGHUP);
    let status = m
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("ftpfs did not exit after SIGHUP\n{}", m.log()));
    assert!(status.success(), "ftpfs exited with {status}\n{}", m.log());
    assert!(!is_mounted(&mnt), "still mounted after SIGHUP");
    assert_eq!(fs::read_dir(&mnt).unwrap().count(), 0);
    drop(open);
}

/// Without keep-alive, ftpfs closes (with QUIT) the sessions that stayed idle for
/// `idle_timeout`, long before the server would (vsftpd: 300 s): none is left open, by its
/// own count, by its sockets and by the server's log.
#[test]
fn idle_sessions_are_closed_after_idle_timeout() {
    const IDLE: u64 = 2;
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("a"), b"a").unwrap());
    let m = mount_for(&server, &[&format!("idle_timeout={IDLE}")]);
    assert_eq!(fs::read(m.join("a")).unwrap(), b"a");
    let quits = || {
        server_log(&server)
            .lines()
            .filter(|l| l.contains("] FTP command: ") && l.contains("\"QUIT\""))
            .count()
    };
    let probe_quits = quits(); // the harness's start-up probe
                               // The pool closes idle sessions when it next looks at them; give it the timeout twice
                               // over, plus slack for a loaded machine.
    let closed = wait_until(Duration::from_secs(2 * IDLE + 10), || {
        m.stats()["sessions_live"] == 0 && control_connections(m.pid(), server.port()) == 0
    });
    assert!(
        closed,
        "sessions still open after idle_timeout: {:?}\n{}",
        m.stats(),
        m.log()
    );
    assert!(
        quits() > probe_quits,
        "ftpfs closed no session with QUIT:\n{}",
        server_log(&server)
    );
    // The mount still works: a new session is opened.
    assert_eq!(fs::read(m.join("a")).unwrap(), b"a");
}

/// After a read timed out, further reads on that open file fail at once with the same error
/// for 2 s (the kernel retries a failed read immediately), without a command to the server;
/// after that, reads try the server again.
#[test]
fn reads_fail_at_once_after_a_read_timed_out() {
    use std::os::unix::fs::FileExt;
    const TIMEOUT: Duration = Duration::from_secs(4);
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("a"), vec![5u8; 100_000]).unwrap());
    let m = mount_for(
        &server,
        &[
            &format!("timeout={}", TIMEOUT.as_secs()),
            "dir_cache_ttl=600",
        ],
    );
    let f = std::sync::Arc::new(fs::File::open(m.join("a")).unwrap());
    server.stop();
    let first = {
        let f = std::sync::Arc::clone(&f);
        within(3 * TIMEOUT, move || f.read_at(&mut [0u8; 4096], 0))
    };
    let failed_at = Instant::now();
    let err = first.expect_err("read from a stopped server succeeded");
    assert_eq!(
        err.raw_os_error(),
        Some(libc::ETIMEDOUT),
        "{err}\n{}",
        m.log()
    );
    let before = m.stats();
    let again = {
        let f = std::sync::Arc::clone(&f);
        within(3 * TIMEOUT, move || f.read_at(&mut [0u8; 4096], 0))
    };
    let after = m.stats();
    assert!(
        failed_at.elapsed() < Duration::from_secs(2),
        "the test took {:?} to read again: too late to see the 2 s rule",
        failed_at.elapsed()
    );
    let err = again.expect_err("the second read succeeded on a stopped server");
    assert_eq!(err.raw_os_error(), Some(libc::ETIMEDOUT), "{err}");
    assert_eq!(
        (after["ftp_commands"], after["downloads"]),
        (before["ftp_commands"], before["downloads"]),
        "the second read went to the server\n{}",
        m.log()
    );
    // Past the 2 s, with the server back, the same handle reads again.
    server.cont();
    let back = wait_until(Duration::from_secs(30), || {
        f.read_at(&mut [0u8; 4096], 0).is_ok_and(|n| n == 4096)
    });
    assert!(back, "the handle never read again\n{}", m.log());
    assert!(failed_at.elapsed() >= Duration::from_secs(2));
}

/// `auto_unmount`: killing ftpfs with SIGKILL still removes the mount (bound: 30 s; it is
/// fusermount3, not ftpfs, that acts here, and on a loaded machine it can be slow).
#[test]
fn auto_unmount_after_kill() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("a"), b"a").unwrap());
    let m = mount_for(&server, &["auto_unmount"]);
    assert_eq!(fs::read(m.join("a")).unwrap(), b"a");
    signal(m.pid(), libc::SIGKILL);
    let gone = wait_until(Duration::from_secs(30), || !is_mounted(m.path()));
    assert!(gone, "the mount outlived its killed daemon\n{}", m.log());
}

/// `delay_connect`: mounts while the server is down, works once it is up.
#[test]
fn delay_connect_mounts_without_the_server() {
    let mut server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    server.populate(|d| fs::write(d.join("later"), b"later\n").unwrap());
    server.kill();
    let m = mount_for(&server, &["delay_connect", "timeout=4"]);
    // Opening lists nothing; the first readdir does, and fails.
    let err = fs::read_dir(m.path())
        .and_then(|d| d.collect::<Result<Vec<_>, _>>())
        .map(|_| ())
        .expect_err("listed a dead server");
    assert!(
        matches!(err.raw_os_error(), Some(libc::EIO) | Some(libc::ETIMEDOUT)),
        "{err}"
    );
    server.restart();
    let ok = wait_until(Duration::from_secs(20), || {
        fs::read(m.join("later")).ok().as_deref() == Some(b"later\n")
    });
    assert!(ok, "no recovery once the server came up\n{}", m.log());
    assert!(pid_alive(m.pid()));
}

/// Commands ftpfs logged with `-o trace_ftp` (one `> ` line each) in `log`.
fn traced_commands(log: &str) -> u64 {
    log.lines().filter(|l| l.contains("ftpfs::ftp] > ")).count() as u64
}

/// Commands the server received: the `FTP command:` lines of vsftpd's protocol log
/// (`log_ftp_protocol=YES` in contrib/servers/vsftpd.conf), an oracle for the `ftp_commands`
/// counter that does not depend on ftpfs.
fn server_commands(server: &Server) -> u64 {
    server_log(server)
        .lines()
        .filter(|l| l.contains("] FTP command: "))
        .count() as u64
}

fn server_log(server: &Server) -> String {
    fs::read_to_string(server.state_dir().join("vsftpd.log")).unwrap_or_default()
}

/// ftpfs's TCP connections to `port` (its control connections to the server), read from
/// its file descriptors and /proc/PID/net/tcp.
fn control_connections(pid: u32, port: u16) -> u64 {
    let sockets: std::collections::HashSet<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let tcp = fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap();
    tcp.lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let remote_port = f[2].rsplit(':').next().unwrap();
            u16::from_str_radix(remote_port, 16).unwrap() == port && sockets.contains(f[9])
        })
        .count() as u64
}

/// Commands in vsftpd's log before ftpfs connects: the harness's start-up probe reads the
/// banner and sends one QUIT. Waits until it is logged, so that it can be subtracted.
fn probe_commands(server: &Server) -> u64 {
    let logged = wait_until(Duration::from_secs(10), || server_commands(server) == 1);
    assert!(
        logged,
        "no probe QUIT in vsftpd's log:\n{}",
        server_log(server)
    );
    1
}

/// The stats once ftpfs is quiet and the server has logged every command ftpfs sent (vsftpd
/// logs a command as it reads it, so the log may trail ftpfs's counter by a moment), besides
/// the `probe` commands logged before ftpfs started. Panics if the two counts do not meet
/// within 10 s.
fn settled_stats(m: &Mount, server: &Server, probe: u64) -> std::collections::HashMap<String, u64> {
    let mut stats = m.stats();
    let met = wait_until(Duration::from_secs(10), || {
        stats = m.stats();
        server_commands(server) - probe == stats["ftp_commands"]
    });
    assert!(
        met,
        "ftp_commands {} but the server logged {} commands:\n{}\n----- ftpfs log -----\n{}",
        stats["ftp_commands"],
        server_commands(server),
        server_log(server),
        m.log()
    );
    stats
}

/// The mount shows as fuse.ftpfs with the URL (no password) as its source, and the stats
/// attribute counts a known workload exactly: `ftp_commands` equals the commands the server
/// logged and the lines `-o trace_ftp` showed, cache hits and misses follow the lookups the
/// workload makes, the byte counters its sizes, and `sessions_live` equals ftpfs's open
/// control connections.
#[test]
fn fstype_source_and_stats() {
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| {
        fs::write(d.join("f"), vec![7u8; 100_000]).unwrap();
        fs::create_dir_all(d.join("d/e")).unwrap();
        for name in ["a", "b", "c"] {
            fs::write(d.join("d/e").join(name), name).unwrap();
        }
    });
    // A TTL far longer than the test, so neither the kernel's nor ftpfs's caches expire in
    // the middle of a counted step.
    let probe = probe_commands(&server);
    let m = mount_for(&server, &["trace_ftp", "dir_cache_ttl=600"]);
    assert_eq!(m.fstype().as_deref(), Some("fuse.ftpfs"));
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.contains(m.path().to_str().unwrap()))
        .unwrap();
    // The source: the URL without the password, its path normalised (`/pub/` → `/pub`).
    assert_eq!(
        line.split(' ').next(),
        Some(format!("ftp://anonymous@127.0.0.1:{}/pub", server.port()).as_str()),
        "{line}"
    );

    // The mount listed its root (a miss); nothing else yet. Every command so far is in the
    // server's log and in the trace, login included.
    let start = settled_stats(&m, &server, probe);
    assert_eq!(
        (start["cache_misses"], start["listings"]),
        (1, 1),
        "{start:?}"
    );
    assert_eq!(traced_commands(&m.log()), start["ftp_commands"]);
    assert_eq!(
        start["sessions_live"],
        control_connections(m.pid(), server.port())
    );

    // Stat three files and a missing name in a directory two levels down, never listed:
    // the kernel looks up `d` (root listing: a miss, as the mount does not keep its own
    // check's listing, then a hit for d's attributes), `e` (listing of d: miss), `a`
    // (listing of e: miss), then `b`, `c` and `nope` (listing of e: three hits; it is
    // younger than negative_ttl). Nothing else.
    for name in ["a", "b", "c"] {
        assert_eq!(fs::metadata(m.join("d/e").join(name)).unwrap().len(), 1);
    }
    assert_eq!(
        fs::metadata(m.join("d/e/nope")).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    let stat = settled_stats(&m, &server, probe);
    assert_eq!(stat["cache_hits"] - start["cache_hits"], 4, "{stat:?}");
    assert_eq!(stat["cache_misses"] - start["cache_misses"], 3, "{stat:?}");
    assert_eq!(stat["listings"] - start["listings"], 3, "{stat:?}");

    // Read one file and write another: bytes exact, one upload.
    assert_eq!(fs::read(m.join("f")).unwrap(), vec![7u8; 100_000]);
    fs::write(m.join("g"), vec![1u8; 5000]).unwrap();
    let after = settled_stats(&m, &server, probe);
    assert_eq!(
        after["bytes_read"] - stat["bytes_read"],
        100_000,
        "{after:?}"
    );
    assert_eq!(after["bytes_written"] - stat["bytes_written"], 5000);
    assert_eq!(after["bytes_uploaded"] - stat["bytes_uploaded"], 5000);
    assert_eq!(after["uploads"] - stat["uploads"], 1);
    assert!(after["operations"] > stat["operations"]);
    assert_eq!(fs::read(server.dir().join("g")).unwrap(), vec![1u8; 5000]);

    // Sessions opened side by side are not reconnects: nothing was lost here.
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let path = m.join("f");
            std::thread::spawn(move || fs::read(path).unwrap().len())
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), 100_000);
    }
    let end = settled_stats(&m, &server, probe);
    assert!(end["connects"] >= 1, "{end:?}");
    assert_eq!(end["reconnects"], 0, "{end:?}");
    // The whole workload: every command counted is one the server received and one line of
    // the trace.
    assert_eq!(
        traced_commands(&m.log()),
        end["ftp_commands"],
        "{}",
        m.log()
    );
    assert_eq!(
        end["sessions_live"],
        control_connections(m.pid(), server.port()),
        "{end:?}"
    );
}
