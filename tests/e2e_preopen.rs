//! Data connections opened ahead (`src/remote/session/preopen.rs`), on real mounts of real
//! servers: transfers use them with the same bytes on every server; one the server closed or
//! refused is replaced without an error reaching the program; `no_preopen` turns them off.
//! Also the other round trips a new transfer may wait for: the login of a new session
//! (`src/remote/session/login.rs`).

mod common;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::scripted::{mlsd_file, reply, HostileServer, Script};
use common::*;

/// Data connections opened ahead that each phase of [`traffic`] used: uploads, whole
/// downloads, ranged downloads, listings (of three new directories).
#[derive(Debug)]
struct Used {
    uploads: u64,
    downloads: u64,
    ranged: u64,
    listing: u64,
}

/// Writes new files, reads others back (whole, and at random offsets), and lists a
/// directory, comparing every byte with the server's; returns the mount's counters and what
/// each phase used.
fn traffic(server: &Server, m: &Mount) -> (std::collections::HashMap<String, u64>, Used) {
    let used = || m.stats()["preopened_used"];
    let big = random_bytes(24 << 20, 7);
    server.populate(|d| {
        fs::create_dir(d.join("sub")).unwrap();
        for i in 0..4 {
            fs::write(d.join(format!("sub/r{i}")), format!("read me {i}\n")).unwrap();
        }
        fs::write(d.join("big.bin"), &big).unwrap();
        for i in 0..3 {
            fs::create_dir(d.join(format!("list{i}"))).unwrap();
            fs::write(d.join(format!("list{i}/x")), b"x").unwrap();
        }
    });
    let start = used();
    for i in 0..4 {
        let data = random_bytes(4096 + i * 100, i as u64);
        fs::write(m.join(format!("w{i}")), &data).unwrap();
        assert_eq!(
            fs::read(server.dir().join(format!("w{i}"))).unwrap(),
            data,
            "w{i}\n{}",
            m.log()
        );
    }
    let uploaded = used();
    for i in 0..4 {
        assert_eq!(
            fs::read(m.join(format!("sub/r{i}"))).unwrap(),
            format!("read me {i}\n").as_bytes(),
            "{}",
            m.log()
        );
    }
    let downloaded = used();
    let mut f = fs::File::open(m.join("big.bin")).unwrap();
    // Each offset is beyond the read stream's reach from the one before (more than its
    // window behind, or more than its skip ahead): every read starts a new download.
    for mib in [20, 2, 14, 7, 22, 0, 17, 5] {
        let offset = (mib << 20) + 12345;
        let mut buf = vec![0u8; 4096];
        f.seek(SeekFrom::Start(offset as u64)).unwrap();
        f.read_exact(&mut buf).unwrap();
        assert!(
            buf == big[offset..offset + 4096],
            "at {offset}\n{}",
            m.log()
        );
    }
    drop(f);
    let ranged = used();
    let before_listing = used();
    for i in 0..3 {
        assert_eq!(dir_names(m.join(format!("list{i}"))), ["x"]);
    }
    let s = m.stats();
    let used = Used {
        uploads: uploaded - start,
        downloads: downloaded - uploaded,
        ranged: ranged - downloaded,
        listing: s["preopened_used"] - before_listing,
    };
    (s, used)
}

/// Uploads, downloads (whole and ranged) and listings go through data connections opened
/// ahead, with the same bytes, on every server. (vsftpd would list over the control
/// connection, with STAT, and use no data connection for listings at all: off here.)
fn transfers_use_preopened_connections(server: &Server) {
    let m = mount_for(server, &["no_stat_listing"]);
    let (s, used) = traffic(server, &m);
    // The first transfer of each session opens its own; the ones after use those opened
    // ahead.
    assert!(
        used.uploads >= 3 && used.downloads >= 3 && used.ranged >= 4 && used.listing >= 1,
        "too few transfers used a data connection opened ahead: {used:?} {s:?}\n{}",
        m.log()
    );
    assert!(s["preopened"] >= s["preopened_used"], "{s:?}");
    assert!(!m.log().contains("ERROR"), "{}", m.log());
}
for_each_server_kind!(
    transfers_use_preopened_connections,
    transfers_use_preopened_connections
);

/// `no_preopen`: the same traffic, the same bytes, and no data connection opened ahead.
fn no_preopen_turns_it_off(server: &Server) {
    let m = mount_for(server, &["no_preopen"]);
    let (s, _) = traffic(server, &m);
    assert_eq!(s["preopened"], 0, "{s:?}");
    assert_eq!(s["preopened_used"], 0, "{s:?}");
}
for_each_server_kind!(no_preopen_turns_it_off, no_preopen_turns_it_off);

/// The server's idle timer (2 s here) closes the sessions and their data connections opened
/// ahead while the mount is idle: the next download, upload and listing notice it before
/// sending anything and go on new sessions, with no error. pure-ftpd's idle timer counts in
/// minutes (`-I`), so it is not among these servers.
fn server_timeout_is_noticed(kind: ServerKind, extra: &str) {
    let server = Server::start(kind, ServerOptions::extra(&[extra]));
    server.populate(|d| {
        for i in 0..3 {
            fs::create_dir(d.join(format!("d{i}"))).unwrap();
            fs::write(d.join(format!("d{i}/f")), format!("file {i}\n")).unwrap();
        }
    });
    let m = mount_for(&server, &[]);
    assert_eq!(fs::read(m.join("d0/f")).unwrap(), b"file 0\n");
    fs::write(m.join("up0"), b"up 0\n").unwrap();
    let before = m.stats();
    assert!(before["preopened"] >= 1, "{before:?}\n{}", m.log());
    // Letting the server's idle timer (2 s) run out is the point of this test.
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(
        fs::read(m.join("d1/f")).unwrap(),
        b"file 1\n",
        "{}",
        m.log()
    );
    fs::write(m.join("up1"), b"up 1\n").unwrap();
    assert_eq!(fs::read(server.dir().join("up1")).unwrap(), b"up 1\n");
    assert_eq!(dir_names(m.join("d2")), ["f"]);
    let after = m.stats();
    assert!(
        after["preopened_stale"] > before["preopened_stale"],
        "the closed data connections were not noticed: {after:?}\n{}",
        m.log()
    );
    assert!(after["connects"] > before["connects"], "{after:?}");
    assert!(!m.log().contains("ERROR"), "{}", m.log());
}

#[test]
fn vsftpd_idle_timeout_is_noticed() {
    server_timeout_is_noticed(ServerKind::Vsftpd, "idle_session_timeout=2");
}

#[test]
fn proftpd_idle_timeout_is_noticed() {
    server_timeout_is_noticed(ServerKind::Proftpd, "TimeoutIdle 2");
}

/// A server that no longer has the data connection opened ahead refuses the transfer
/// command on it (425): the download is started again at once with a fresh EPSV, and the
/// program reads the right bytes with no error.
#[test]
fn a_refused_preopened_connection_is_replaced() {
    let retrs = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&retrs);
    // The mount lists the root first, and opens a data connection ahead behind that
    // listing: the RETR goes on it, and is refused as if the server had dropped it.
    let script = Script::mlsd(&["type=file;size=5;modify=20240101120000; a.txt"])
        .file("/a.txt", b"hello".to_vec())
        .hook(move |cmd| match cmd.verb.as_str() {
            "RETR" if r.fetch_add(1, Ordering::SeqCst) == 0 => {
                reply("425 Can't open data connection.")
            }
            _ => None,
        });
    let server = HostileServer::start(script);
    let m = Mount::new(&server.url(), &[]);
    assert_eq!(
        fs::read(m.join("a.txt")).unwrap(),
        b"hello",
        "{}\n{}",
        m.log(),
        server.commands()
    );
    let s = m.stats();
    assert_eq!(retrs.load(Ordering::SeqCst), 2, "{}", server.commands());
    assert!(s["preopened_stale"] >= 1, "{s:?}\n{}", server.commands());
}

/// Sessions after the mount's first log in with USER and PASS written together and do not
/// ask FEAT again (the first session's answer stands for the server), so a new session waits
/// two round trips after the greeting instead of four or five; three files read at once, each
/// holding a session, get their own bytes. A server that drops what follows a command in the
/// same packet gets the one-at-a-time login, FEAT included, on every session.
#[test]
fn later_sessions_log_in_with_their_commands_together() {
    use std::os::unix::fs::FileExt;
    const SIZE: usize = 4 << 20;
    for one_per_packet in [false, true] {
        let data: Vec<Vec<u8>> = (0..3).map(|i| random_bytes(SIZE, 40 + i)).collect();
        let lines: Vec<String> = (0..3).map(|i| mlsd_file(&format!("f{i}"), SIZE)).collect();
        let mut script = Script::mlsd(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        for (i, d) in data.iter().enumerate() {
            script = script.file(&format!("/f{i}"), d.clone());
        }
        script.one_per_packet = one_per_packet;
        let server = HostileServer::start(script);
        let m = Mount::new(&server.url(), &["max_conns=3"]);
        // Each file's read stream keeps its transfer, and so its session, while it is open.
        let files: Vec<fs::File> = (0..3)
            .map(|i| fs::File::open(m.join(format!("f{i}"))).unwrap())
            .collect();
        for (f, d) in files.iter().zip(&data) {
            let mut buf = vec![0; 4096];
            f.read_exact_at(&mut buf, 0).unwrap();
            assert!(buf == d[..4096], "first bytes differ\n{}", m.log());
        }
        let log = server.commands();
        let count = |verb: &str| {
            log.lines()
                .filter(|l| l.split(' ').next() == Some(verb))
                .count()
        };
        assert!(count("USER") >= 3, "{log}");
        assert_eq!(count("PASS"), count("USER"), "{log}");
        let feats = if one_per_packet { count("USER") } else { 1 };
        assert_eq!(
            count("FEAT"),
            feats,
            "one_per_packet {one_per_packet}: {log}"
        );
        for (i, d) in data.iter().enumerate() {
            assert!(
                fs::read(m.join(format!("f{i}"))).unwrap() == *d,
                "f{i} differs\n{}",
                m.log()
            );
        }
        drop(files);
    }
}
