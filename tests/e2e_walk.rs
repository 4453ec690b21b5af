//! End-to-end tree walks (issue 13): a walk's times are exact and stable on every server,
//! LIST-only servers get them from pipelined MDTMs (no round trip per file), directories are
//! listed ahead over spare sessions within `max_conns`, and a server that drops pipelined
//! commands still works through the one-at-a-time fallback. A read during a walk, through a
//! link of 100 ms round trip (`common/delay.rs`), waits at most one listing for a session.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::scripted::{Action, HostileServer, Script};
use common::shell::sh;
use common::*;

/// Files in the tree of [`make_timed_tree`].
const FILES: usize = 12 * 25;

/// 12 directories (two of them nested one level deeper) of 25 files each, with times to the
/// second: recent ones (LIST shows minutes), old ones (LIST shows only the day), and files
/// that differ only in their seconds.
fn make_timed_tree(root: &Path) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for d in 0..12 {
        let dir = match d {
            10 => root.join("d08/inner"),
            11 => root.join("d08/inner/deeper"),
            _ => root.join(format!("d{d:02}")),
        };
        fs::create_dir_all(&dir).unwrap();
        for f in 0..25 {
            let path = dir.join(format!("f{f:02} x.txt"));
            fs::write(&path, vec![b'a'; d * 100 + f]).unwrap();
            let t = match f % 3 {
                0 => now - 3600 - (d * 25 + f) as u64 * 7,
                1 => now - 400 * 86400 - (d * 25 + f) as u64 * 3607,
                _ => now - 120 + f as u64 % 60,
            };
            sh(root, &format!("touch -m -d @{t} '{}'", path.display()));
        }
    }
}

/// `find` with sizes and times, sorted, run in `root`.
fn walk(root: &Path) -> String {
    sh(root, "find . -type f -printf '%s %T@ %p\\n' | sort")
}

/// The same walk through the mount equals the server's disk, twice, and a lookup of one
/// file by name gives the same time as the walk. On LIST-only servers the times come from
/// MDTMs sent pipelined with the listing; MLSD servers need none.
fn walk_times(server: &Server) {
    server.populate(make_timed_tree);
    let want = walk(server.dir());
    assert_eq!(want.lines().count(), FILES);
    let m = mount_for(server, &[]);
    assert_eq!(walk(m.path()), want, "first walk\n{}", m.log());
    assert_eq!(walk(m.path()), want, "second walk\n{}", m.log());
    let stat = |root: &Path| sh(root, "stat -c '%Y %s' 'd08/inner/f02 x.txt'");
    assert_eq!(stat(m.path()), stat(server.dir()));
    let stats = m.stats();
    if server.kind().has_mlsd() {
        assert_eq!(stats["mdtm_refinements"], 0, "{stats:?}");
        assert_eq!(stats["stat_listings"], 0, "{stats:?}");
    } else {
        assert!(stats["mdtm_refinements"] >= FILES as u64, "{stats:?}");
        // vsftpd lists every directory over the control connection.
        assert!(stats["stat_listings"] >= 12, "{stats:?}");
        // All but the first MDTM of each directory went out before the previous reply.
        assert!(
            stats["pipelined_commands"] >= (FILES - 12) as u64,
            "{stats:?}"
        );
    }
    // A fresh mount sees the same times (nothing depends on this mount's cache).
    drop(m);
    let m = mount_for(server, &[]);
    assert_eq!(walk(m.path()), want, "fresh mount\n{}", m.log());
}

for_each_server_kind!(walk_times, walk_times);

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

/// Reading a directory of 200 subdirectories lists them all ahead, on the one session
/// `max_conns=2` leaves spare, so the walk that follows lists nothing more; the mount never
/// has more than two sessions, and its memory stays small.
fn prefetch_is_bounded(server: &Server) {
    server.populate(|root| {
        for d in 0..200 {
            let dir = root.join(format!("dir{d:03}"));
            fs::create_dir(&dir).unwrap();
            fs::write(dir.join("a"), b"1").unwrap();
            fs::write(dir.join("b"), b"22").unwrap();
        }
        // Whole seconds, as FTP shows them.
        sh(root, "find . -type f -exec touch -m -d @1700000000 {} +");
    });
    let want = walk(server.dir());
    let m = mount_for(server, &["max_conns=2", "dir_cache_ttl=300"]);
    assert_eq!(dir_names(m.path()).len(), 200);
    let ahead = wait_until(Duration::from_secs(60), || {
        m.stats()["prefetched_listings"] >= 200
    });
    let stats = m.stats();
    assert!(ahead, "listed ahead: {stats:?}\n{}", m.log());
    let before = stats["listings"];
    assert_eq!(walk(m.path()), want, "{}", m.log());
    let stats = m.stats();
    assert_eq!(
        stats["listings"], before,
        "the walk listed again: {stats:?}"
    );
    assert!(stats["sessions_peak"] <= 2, "{stats:?}");
    // The documented bound for look-ahead memory (docs/SEMANTICS.md, tree walks).
    let rss = peak_rss_kib(m.pid());
    assert!(rss < 64 * 1024, "peak RSS {rss} KiB");
}

for_each_server_kind!(prefetch_is_bounded, prefetch_is_bounded);

/// `prefetch_dirs=0` lists nothing ahead; `no_pipelining` sends no command ahead of its
/// reply; times stay exact either way.
fn switches_turn_it_off(server: &Server) {
    server.populate(make_timed_tree);
    let want = walk(server.dir());
    let m = mount_for(server, &["prefetch_dirs=0", "no_pipelining"]);
    sh(m.path(), "ls -l d00 > /dev/null");
    assert_eq!(walk(m.path()), want, "{}", m.log());
    let stats = m.stats();
    assert_eq!(stats["prefetched_listings"], 0, "{stats:?}");
    assert_eq!(stats["pipelined_commands"], 0, "{stats:?}");
    assert_eq!(stats["stat_listings"], 0, "{stats:?}");
    drop(m);
    let m = mount_for(server, &["no_stat_listing"]);
    assert_eq!(walk(m.path()), want, "{}", m.log());
    let stats = m.stats();
    assert_eq!(stats["stat_listings"], 0, "{stats:?}");
    assert!(stats["listings"] >= 12, "{stats:?}");
}

for_each_server_kind!(switches_turn_it_off, switches_turn_it_off);

/// A LIST-only server that acts on the first command of each packet and drops the rest (as
/// old Windows servers and some NAT routers do): the mount notices once, with two NOOPs, and
/// then sends one command at a time, with exact times from MDTM.
#[test]
fn a_server_that_drops_pipelined_commands_still_works() {
    let mut script = list_only_script(false);
    script.one_per_packet = true;
    let server = HostileServer::start(script);
    let started = Instant::now();
    let m = Mount::new(&server.url(), &["reply_timeout=20"]);
    let times = sh(m.path(), "stat -c '%Y %n' a b c | sort");
    assert_eq!(
        times.trim(),
        "1704164645 a\n1704251106 b\n1735732799 c",
        "{}",
        m.log()
    );
    // One probe, one short wait: nowhere near the 20 s reply deadline.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let log = server.log.lock().unwrap().clone();
    let dropped = log.iter().filter(|l| l.starts_with("dropped:")).count();
    assert_eq!(dropped, 1, "{log:#?}");
    assert!(m.log().contains("one at a time"), "{}", m.log());
}

/// A LIST-only server that takes pipelined commands but whose STAT is not a listing (here
/// it is not implemented): the first STAT turns STAT listings off for the mount, and every
/// directory is listed with LIST, with exact times.
#[test]
fn a_server_whose_stat_is_not_a_listing_is_listed_with_list() {
    let script = list_only_script(true);
    let server = HostileServer::start(script);
    let m = Mount::new(&server.url(), &[]);
    let times = sh(m.path(), "stat -c '%Y %n' a b c sub/a | sort");
    assert_eq!(
        times.trim(),
        "1704164645 a\n1704164645 sub/a\n1704251106 b\n1735732799 c",
        "{}",
        m.log()
    );
    assert_eq!(fs::read(m.join("b")).unwrap(), b"hello");
    let log = server.log.lock().unwrap().clone();
    let stats_sent = log.iter().filter(|l| l.starts_with("STAT ")).count();
    let lists = log.iter().filter(|l| l.starts_with("LIST")).count();
    // Every session that listed before the refusal was known tried once at most.
    assert!((1..=4).contains(&stats_sent), "{log:#?}");
    assert!(lists >= 2, "{log:#?}");
    assert_eq!(m.stats()["stat_listings"], 0);
    assert!(
        m.log()
            .contains("listing directories over data connections"),
        "{}",
        m.log()
    );
}

/// On vsftpd, directories listed with STAT over the control connection show the same names,
/// sizes and times as LIST over a data connection, byte for byte, even for names that look
/// like a reply's end (a bare LF then `213 End of status`), hold CR, IAC (0xFF) or leading
/// spaces; and the session stays in step (a file read afterwards has its own bytes). On MLSD
/// servers STAT is not used.
fn stat_listings_match_list(server: &Server) {
    let names: [&[u8]; 7] = [
        b" lead",
        b"a b",
        b"x\xffy",
        b"cr\rx",
        b"nl\n213 End of status",
        b"-dash",
        b"\xc3\xbc",
    ];
    server.populate(|root| {
        use std::os::unix::ffi::OsStrExt;
        for d in ["one", "two words"] {
            let dir = root.join(d);
            fs::create_dir(&dir).unwrap();
            for (i, n) in names.iter().enumerate() {
                let p = dir.join(std::ffi::OsStr::from_bytes(n));
                fs::write(&p, vec![b'z'; i + 1]).unwrap();
            }
            fs::write(dir.join("after.txt"), b"after").unwrap();
        }
        sh(root, "find . -type f -exec touch -m -d @1700000003 {} +");
    });
    let list = |opts: &[&str]| {
        let m = mount_for(server, opts);
        let out = sh(m.path(), "find . -mindepth 1 -printf '%s %T@ %p\\n' | sort");
        assert_eq!(
            fs::read(m.join("two words/after.txt")).unwrap(),
            b"after",
            "{}",
            m.log()
        );
        (out, m.stats()["stat_listings"])
    };
    let (by_list, none) = list(&["no_stat_listing"]);
    assert_eq!(none, 0);
    let (by_stat, used) = list(&[]);
    assert_eq!(by_stat, by_list);
    if server.kind().has_mlsd() {
        assert_eq!(used, 0);
    } else {
        assert!(used >= 3, "STAT listings: {used}");
        assert!(by_stat.contains("./one/ lead"), "{by_stat}");
    }
}

for_each_server_kind!(stat_listings_match_list, stat_listings_match_list);

/// Once a directory is listed, `ls -l` of it sends the daemon a handful of requests, not
/// two per file: extended attributes are answered ENOSYS, which the kernel remembers, so
/// `ls -l`'s `security.selinux` and ACL queries stop at the kernel. The counters are still
/// there through `ftpfs --stats`, and `user.ftpfs.refresh` still refreshes.
fn ls_l_sends_no_request_per_file(server: &Server) {
    server.populate(|root| {
        let dir = root.join("many");
        fs::create_dir(&dir).unwrap();
        for i in 0..500 {
            fs::write(dir.join(format!("f{i:03}")), b"x").unwrap();
        }
    });
    let m = mount_for(server, &["dir_cache_ttl=300"]);
    let ls = |m: &Mount| sh(m.path(), "ls -l many | wc -l");
    assert_eq!(ls(&m).trim(), "501");
    let before = m.stats()["operations"];
    assert_eq!(ls(&m).trim(), "501");
    let ops = m.stats()["operations"] - before;
    // opendir, readdirplus pages, releasedir, the stats ioctl: far below one per file.
    assert!(ops < 100, "{ops} requests for ls -l of 500 files");
    let attr = std::process::Command::new("getfattr")
        .args(["-n", "user.x"])
        .arg(m.join("many/f000"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&attr.stderr).contains("Operation not supported"),
        "{attr:?}"
    );
    sh(m.path(), "setfattr -n user.ftpfs.refresh many");
    assert_eq!(m.stats()["refreshes"], 1);
}

for_each_server_kind!(
    ls_l_sends_no_request_per_file,
    ls_l_sends_no_request_per_file
);

/// A name holding byte 0xFF (Telnet's IAC) is read, and timed to the second, like any other:
/// pipelined commands send it as the byte it is, as suppaftp's own do.
fn a_name_with_byte_ff_is_read_and_timed(server: &Server) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::OsStr::from_bytes(b"x\xffy.txt");
    server.populate(|root| {
        fs::write(root.join(name), b"ff\n").unwrap();
        fs::write(root.join("plain.txt"), b"plain\n").unwrap();
        sh(root, "touch -m -d @1600000007 *.txt");
    });
    let m = mount_for(server, &[]);
    let time = |root: &Path| {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(root.join(name)).unwrap().mtime()
    };
    assert_eq!(time(m.path()), 1_600_000_007, "{}", m.log());
    assert_eq!(fs::read(m.join(name)).unwrap(), b"ff\n", "{}", m.log());
    assert_eq!(time(m.path()), time(server.dir()));
}

for_each_server_kind!(
    a_name_with_byte_ff_is_read_and_timed,
    a_name_with_byte_ff_is_read_and_timed
);

/// A scripted LIST-only server (no MLSD) whose root holds [`FALLBACK_FILES`] ("hello"
/// each), and with `sub`, a directory `sub` holding `a`; MDTM gives each name its time.
fn list_only_script(sub: bool) -> Script {
    let line = |name: &str| {
        format!("-rw-r--r--    1 ftp      ftp             5 Jan 01 12:00 {name}\r\n").into_bytes()
    };
    let mut listing: Vec<u8> = FALLBACK_FILES.iter().flat_map(|(n, _)| line(n)).collect();
    let mut script = Script::mlsd(&[]);
    if sub {
        listing
            .extend_from_slice(b"drwxr-xr-x    2 ftp      ftp          4096 Jan 01 12:00 sub\r\n");
        script = script.listing("/sub", line("a"));
    }
    let mut script = script
        .listing("/", listing)
        .hook(|c| match c.verb.as_str() {
            "MDTM" => FALLBACK_FILES
                .iter()
                .find(|(name, _)| c.arg.rsplit('/').next() == Some(*name))
                .map(|(_, t)| Action::Reply(format!("213 {t}\r\n").into_bytes())),
            _ => None,
        });
    script.feat = vec!["SIZE", "MDTM", "EPSV", "REST STREAM"];
    for (name, _) in FALLBACK_FILES {
        script = script.file(&format!("/{name}"), b"hello".to_vec());
    }
    script
}

/// Files of the scripted LIST-only server, and the times its MDTM gives them.
const FALLBACK_FILES: [(&str, &str); 3] = [
    ("a", "20240102030405"),
    ("b", "20240103030506"),
    ("c", "20250101115959"),
];

/// A read that starts while directories are being listed ahead is not queued behind them:
/// look-ahead takes no session while a request waits, so the file is read while the walk
/// is still under way.
fn a_read_during_a_walk_goes_first(server: &Server) {
    let data = random_bytes(300_000, 7);
    server.populate(|root| {
        for d in 0..300 {
            fs::create_dir(root.join(format!("dir{d:03}"))).unwrap();
        }
        fs::write(root.join("f.bin"), &data).unwrap();
    });
    let m = mount_for(server, &["max_conns=3", "dir_cache_ttl=300"]);
    assert_eq!(dir_names(m.path()).len(), 301);
    assert!(fs::read(m.join("f.bin")).unwrap() == data);
    let stats = m.stats();
    assert!(
        stats["prefetched_listings"] < 300,
        "the read waited for the whole walk: {stats:?}"
    );
    assert!(stats["sessions_peak"] <= 3, "{stats:?}");
    eprintln!(
        "listed ahead when the read ended: {}",
        stats["prefetched_listings"]
    );
}

for_each_server_kind!(
    a_read_during_a_walk_goes_first,
    a_read_during_a_walk_goes_first
);

/// Round trip of the link in [`a_read_during_a_walk_waits_at_most_one_command`].
const WALK_RTT: Duration = Duration::from_millis(100);

/// Time of `op`, which must succeed.
fn timed(op: impl FnOnce()) -> Duration {
    let started = Instant::now();
    op();
    started.elapsed()
}

/// Issue 13: "A user's read that starts during a walk gets a session within one command's
/// time." Through a link of [`WALK_RTT`] on the control and data connections
/// (`common/delay.rs`), with `max_conns=3`: reading the root queues its 250 subdirectories
/// for look-ahead, which lists them on the spare sessions for many seconds. Each file read
/// while it does (300 KB: more than is read ahead across files, so each read is its own
/// transfer) takes at most what the same read takes on the idle mount, plus one listing
/// (the longest command look-ahead runs: EPSV, MLSD or LIST, a data connection, 226),
/// plus one round trip of slack for a loaded machine. A read that waited for a session to
/// log in (greeting, USER, PASS, TYPE, FEAT, OPTS: four round trips or more), or for a
/// second listing, would exceed it.
fn a_read_during_a_walk_waits_at_most_one_command(server: &Server) {
    // vsftpd lists 16 of them per round trip (STAT), so the walk must be long enough to
    // outlast four reads; at most `prefetch_dirs` (256) are queued.
    const DIRS: usize = 250;
    const READS: usize = 4;
    let file = |i: usize| random_bytes(300_000, 100 + i as u64);
    server.populate(|root| {
        for d in 0..DIRS {
            let dir = root.join(format!("dir{d:03}"));
            fs::create_dir(&dir).unwrap();
            fs::write(dir.join("x"), b"x").unwrap();
        }
        fs::create_dir(root.join("probe")).unwrap();
        fs::write(root.join("probe/x"), b"x").unwrap();
        for i in 0..READS {
            fs::write(root.join(format!("idle{i}.bin")), file(i)).unwrap();
            fs::write(root.join(format!("busy{i}.bin")), file(i)).unwrap();
        }
        sh(
            root,
            "touch -m -d @1600000000 idle*.bin busy*.bin dir*/x probe/x",
        );
    });
    let proxy = delay::DelayProxy::start(server.port(), WALK_RTT);
    let m = Mount::new(&proxy.url(server), &["max_conns=3", "dir_cache_ttl=300"]);
    // The root's listing (a lookup: nothing is queued for look-ahead yet).
    assert!(m.join("idle0.bin").is_file());
    // One listing, the command look-ahead runs, on the idle mount.
    let listing = timed(|| assert_eq!(dir_names(m.join("probe")), ["x"]));
    let idle: Vec<Duration> = (0..READS)
        .map(|i| timed(|| assert!(fs::read(m.join(format!("idle{i}.bin"))).unwrap() == file(i))))
        .collect();
    let idle_max = *idle.iter().max().unwrap();
    let bound = idle_max + listing + WALK_RTT;
    // The walk: reading the root queues every subdirectory for look-ahead.
    assert_eq!(dir_names(m.path()).len(), DIRS + 1 + 2 * READS);
    assert!(
        wait_until(Duration::from_secs(10), || m.stats()["prefetched_listings"]
            >= 3),
        "look-ahead did not start: {:?}",
        m.stats()
    );
    let mut busy = Vec::new();
    for i in 0..READS {
        // Each read starts while directories still wait to be listed ahead.
        let stats = m.stats();
        assert!(
            stats["prefetch_queued"] > 0,
            "the walk ended before read {i}: {stats:?}"
        );
        let took = timed(|| assert!(fs::read(m.join(format!("busy{i}.bin"))).unwrap() == file(i)));
        busy.push(took);
    }
    let stats = m.stats();
    eprintln!(
        "{}: one listing {listing:?}; reads idle {idle:?}, during the walk {busy:?}; bound {bound:?}; {stats:?}",
        server.kind().name()
    );
    assert!(stats["sessions_peak"] <= 3, "{stats:?}");
    for (i, took) in busy.iter().enumerate() {
        assert!(
            *took <= bound,
            "read {i} during the walk took {took:?}, more than the idle read ({idle_max:?}) + one listing ({listing:?}) + {:?}: reads idle {idle:?}, during the walk {busy:?}\n{stats:?}",
            WALK_RTT
        );
    }
}

for_each_server_kind!(
    a_read_during_a_walk_waits_at_most_one_command,
    a_read_during_a_walk_waits_at_most_one_command
);
