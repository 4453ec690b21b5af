//! Tests of the test harness itself (tests/common), without ftpfs: every server kind starts,
//! serves the files put in `dir()`, accepts uploads that land in `dir()`, speaks FTPS with the
//! throwaway CA, survives stop/cont/restart, and is gone after drop. `curl` is the client.
//! Only the `mount_guard_*` tests at the end run ftpfs, to check the Mount guard itself.
//!
//! If these fail, the end-to-end tests cannot be trusted; fix the harness (or run
//! contrib/deps.sh) first.

mod common;

use std::collections::HashSet;
use std::fs;
use std::time::{Duration, Instant};

use common::curl::{self, Data, Tls};
use common::process::{pid_alive, port_is_free};
use common::{
    sha256_bytes, sha256_file, wait_until, write_random_file, Server, ServerKind, ServerOptions,
};

const UTF8_NAME: &str = "实验.doc";
const SPACE_NAME: &str = "name with  spaces.txt";

/// Creates the sample tree in the server's directory; returns the sha256 of `blob.bin`.
fn populate(server: &Server) -> String {
    server.populate(|dir| {
        fs::write(dir.join("hello.txt"), "hello world\n").unwrap();
        fs::write(dir.join(SPACE_NAME), "spaces\n").unwrap();
        fs::write(dir.join(UTF8_NAME), "实验 contents\n").unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/inner.txt"), "inner\n").unwrap();
        write_random_file(dir.join("blob.bin"), 300_000, 7)
    })
}

/// LIST, RETR and STOR through curl with the given data connection mode and TLS setting.
fn check_transfers(server: &Server, tls: Tls, data: Data) {
    let blob_sha = sha256_file(server.dir().join("blob.bin"));
    let url = server.url();
    let listing = String::from_utf8(curl::curl(server, tls, data, &[&url])).unwrap();
    for name in ["hello.txt", SPACE_NAME, UTF8_NAME, "sub", "blob.bin"] {
        assert!(
            listing.contains(name),
            "{} LIST ({data:?}, {tls:?}) lacks {name:?}:\n{listing}",
            server.kind()
        );
    }
    let blob = curl::curl(server, tls, data, &[&server.url_for("blob.bin")]);
    assert_eq!(
        sha256_bytes(&blob),
        blob_sha,
        "RETR blob.bin ({data:?}, {tls:?})"
    );
    let utf8 = curl::curl(server, tls, data, &[&server.url_for(UTF8_NAME)]);
    assert_eq!(utf8, "实验 contents\n".as_bytes(), "RETR {UTF8_NAME}");
    let spaced = curl::curl(server, tls, data, &[&server.url_for(SPACE_NAME)]);
    assert_eq!(spaced, b"spaces\n", "RETR {SPACE_NAME:?}");

    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("upload.bin");
    let up_sha = write_random_file(&src, 250_001, data as u64 + 100);
    let remote_name = format!("up {data:?} {tls:?} 实验.bin");
    let src_str = src.to_str().unwrap();
    curl::curl(
        server,
        tls,
        data,
        &["-T", src_str, &server.url_for(&remote_name)],
    );
    let landed = server.dir().join(&remote_name);
    assert_eq!(
        sha256_file(&landed),
        up_sha,
        "STOR landed in dir() with other bytes"
    );
    // Overwrite (STOR onto an existing file) works with the default options.
    curl::curl(
        server,
        tls,
        data,
        &["-T", src_str, &server.url_for(&remote_name)],
    );
    assert_eq!(sha256_file(&landed), up_sha);
}

fn check_basic(kind: ServerKind) {
    let server = Server::start(kind, ServerOptions::default());
    assert_eq!(server.kind(), kind);
    assert!(server.is_running());
    let url = server.url();
    assert!(
        url.starts_with("ftp://")
            && url.contains(&format!("@127.0.0.1:{}/", server.port()))
            && url.ends_with('/'),
        "{url}"
    );
    populate(&server);
    check_transfers(&server, Tls::No, Data::Passive);
    check_transfers(&server, Tls::No, Data::Pasv);
    check_transfers(&server, Tls::No, Data::Active);
    // NLST sees exactly what is in dir() (uploads included).
    let mut names = curl::names(&server, "");
    names.sort();
    assert_eq!(names, common::dir_names(server.dir()), "NLST vs dir()");
    // Raw commands: SIZE needs binary mode on proftpd, which curl sets for transfers only.
    let replies = curl::quote(
        &server,
        &["TYPE I", &format!("SIZE {}hello.txt", server.remote_dir())],
    );
    assert!(
        replies.iter().any(|l| l == "213 12"),
        "SIZE reply missing: {replies:?}"
    );

    let pid = server.pid();
    assert!(pid_alive(pid));
    let port = server.port();
    drop(server);
    assert!(!pid_alive(pid), "{kind} pid {pid} still alive after drop");
    assert!(
        wait_until(Duration::from_secs(5), || port_is_free(port)),
        "port {port} still in use"
    );
}

#[test]
fn vsftpd_serves_lists_and_stores() {
    check_basic(ServerKind::Vsftpd);
}

#[test]
fn proftpd_serves_lists_and_stores() {
    check_basic(ServerKind::Proftpd);
}

#[test]
fn pure_ftpd_serves_lists_and_stores() {
    check_basic(ServerKind::PureFtpd);
}

fn check_tls(kind: ServerKind) {
    let server = Server::start(kind, ServerOptions::tls());
    assert!(server.ca_pem_path().is_file());
    populate(&server);
    check_transfers(&server, Tls::Required, Data::Passive);
    check_transfers(&server, Tls::Required, Data::Pasv);
    // (No active-mode FTPS check: Debian 12's curl cannot do it; see common::curl::Data.)
    // Plain FTP is still allowed (TLS is optional for clients).
    check_transfers(&server, Tls::No, Data::Passive);
    // A client that does not trust the test CA is refused.
    let out = curl::try_curl(
        &server,
        Tls::No,
        Data::Passive,
        &["--ssl-reqd", &server.url()],
    );
    assert!(
        !out.status.success(),
        "curl without --cacert accepted the test certificate"
    );
}

#[test]
fn vsftpd_tls() {
    check_tls(ServerKind::Vsftpd);
}

#[test]
fn proftpd_tls() {
    check_tls(ServerKind::Proftpd);
}

#[test]
fn pure_ftpd_tls() {
    check_tls(ServerKind::PureFtpd);
}

/// stop() stalls the server (no greeting), cont() resumes it, restart() brings it back on the
/// same port with the same files, kill() ends it.
fn check_faults(kind: ServerKind) {
    let mut server = Server::start(kind, ServerOptions::default());
    populate(&server);
    let port = server.port();

    server.stop();
    let t = Instant::now();
    let out = curl::try_curl(
        &server,
        Tls::No,
        Data::Passive,
        &["--max-time", "1", &server.url()],
    );
    assert!(!out.status.success(), "{kind} answered while stopped");
    assert!(t.elapsed() < Duration::from_secs(5));
    server.cont();
    assert!(curl::list(&server, "").contains("hello.txt"));

    let old_pid = server.pid();
    server.restart();
    assert_ne!(server.pid(), old_pid);
    assert!(
        !pid_alive(old_pid),
        "old {kind} pid {old_pid} survived restart"
    );
    assert_eq!(server.port(), port);
    assert!(curl::list(&server, "").contains("hello.txt"));
    assert_eq!(curl::get(&server, "hello.txt"), b"hello world\n");

    let pid = server.pid();
    server.kill();
    assert!(!pid_alive(pid));
    assert!(!server.is_running());
    let out = curl::try_curl(&server, Tls::No, Data::Passive, &[&server.url()]);
    assert!(!out.status.success(), "{kind} answered after kill()");
    server.restart();
    assert!(curl::list(&server, "").contains("hello.txt"));
    assert!(
        server.log_contents().contains("harness: starting"),
        "{}",
        server.log_contents()
    );
}

#[test]
fn vsftpd_stop_cont_restart_kill() {
    check_faults(ServerKind::Vsftpd);
}

#[test]
fn proftpd_stop_cont_restart_kill() {
    check_faults(ServerKind::Proftpd);
}

#[test]
fn pure_ftpd_stop_cont_restart_kill() {
    check_faults(ServerKind::PureFtpd);
}

/// Many servers at once (as parallel tests do) get distinct control ports and passive ranges.
#[test]
fn concurrent_servers_do_not_collide() {
    let servers: Vec<Server> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..9)
            .map(|i| {
                s.spawn(move || Server::start(ServerKind::ALL[i % 3], ServerOptions::default()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ports: HashSet<u16> = servers.iter().map(Server::port).collect();
    assert_eq!(ports.len(), servers.len());
    let mut ranges: Vec<(u16, u16)> = servers.iter().map(Server::pasv_range).collect();
    ranges.sort();
    for w in ranges.windows(2) {
        assert!(w[0].1 < w[1].0, "passive ranges overlap: {ranges:?}");
    }
    for (i, server) in servers.iter().enumerate() {
        server.populate(|dir| fs::write(dir.join("id.txt"), format!("{i}\n")).unwrap());
    }
    for (i, server) in servers.iter().enumerate() {
        assert_eq!(curl::get(server, "id.txt"), format!("{i}\n").as_bytes());
    }
}

/// Without AllowOverwrite, proftpd refuses to replace a file (later tests rely on this).
#[test]
fn proftpd_without_allow_overwrite_refuses_overwrite() {
    let opts = ServerOptions::default().without_overwrite();
    let server = Server::start(ServerKind::Proftpd, opts);
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("a.txt");
    fs::write(&src, "one\n").unwrap();
    curl::put(&server, &src, "a.txt");
    let out = curl::try_curl(
        &server,
        Tls::No,
        Data::Passive,
        &["-T", src.to_str().unwrap(), &server.url_for("a.txt")],
    );
    assert!(
        !out.status.success(),
        "proftpd overwrote a file without AllowOverwrite"
    );
}

/// `extra` lines reach the config: vsftpd's max_per_ip=1 refuses a second session while a
/// first one is open, and the banner is the configured one.
#[test]
fn vsftpd_extra_config_lines_apply() {
    use std::io::{BufRead, BufReader};
    let server = Server::start(
        ServerKind::Vsftpd,
        ServerOptions::extra(&["max_per_ip=1", "ftpd_banner=extra-applied"]),
    );
    let greeting = |stream: &std::net::TcpStream| {
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line
    };
    let first = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let banner = greeting(&first);
    assert!(banner.starts_with("220 extra-applied"), "{banner:?}");
    let second = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let refusal = greeting(&second);
    assert!(
        refusal.starts_with("421"),
        "a second session was not refused: {refusal:?}"
    );
    drop((first, second));
}

/// Custom credentials (with characters that need percent-encoding) work in url().
#[test]
fn custom_credentials_are_encoded() {
    for kind in [ServerKind::Proftpd, ServerKind::PureFtpd] {
        let opts = ServerOptions {
            user: "bob".into(),
            password: "p@ss:w/rd%".into(),
            ..Default::default()
        };
        let server = Server::start(kind, opts);
        assert!(
            server.url().contains("bob:p%40ss%3Aw%2Frd%25@"),
            "{}",
            server.url()
        );
        server.populate(|dir| fs::write(dir.join("x"), "x").unwrap());
        assert_eq!(curl::get(&server, "x"), b"x", "{kind}");
    }
}

/// The data-mode matrix macro expands to six tests; each checks the mode it was given.
fn matrix_body(server: &Server, mode_opts: &[&str]) {
    populate(server);
    let data = match mode_opts {
        [] => Data::Passive,
        ["active"] => Data::Active,
        other => panic!("unexpected mode options {other:?}"),
    };
    check_transfers(server, Tls::No, data);
}

for_each_server!(matrix_macro, matrix_body);

/// Deterministic: the same seed gives the same bytes, whichever way they are made, and
/// another seed other bytes. (How fast is the bench's business, not this test's.)
#[test]
fn random_files_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let sha = write_random_file(dir.path().join("big"), 64 << 20, 42);
    assert_eq!(sha, sha256_file(dir.path().join("big")));
    assert_eq!(sha256_bytes(common::random_bytes(1000, 42)), {
        write_random_file(dir.path().join("small"), 1000, 42)
    });
    assert_ne!(common::random_bytes(64, 1), common::random_bytes(64, 2));
}

// ----- The Mount guard (needs a working ftpfs binary) ----------------------------------------

/// Mount shows the server's files, and drop leaves neither a mount nor a process behind.
#[test]
fn mount_guard_mounts_and_cleans_up() {
    let server = Server::start(ServerKind::Proftpd, ServerOptions::default());
    populate(&server);
    let mount = common::mount_for(&server, &[]);
    let path = mount.path().to_path_buf();
    assert!(common::process::is_mounted(&path));
    assert!(
        mount.fstype().unwrap_or_default().starts_with("fuse"),
        "{:?}",
        mount.fstype()
    );
    assert_eq!(common::dir_names(&path), common::dir_names(server.dir()));
    common::assert_same_file(mount.join("blob.bin"), server.dir().join("blob.bin"));
    let pid = mount.pid();
    drop(mount);
    assert!(
        !common::process::is_mounted(&path),
        "{} still mounted",
        path.display()
    );
    assert!(!pid_alive(pid), "ftpfs pid {pid} survived drop");
    assert!(!path.exists(), "mountpoint tempdir was not removed");
}

/// A plain `umount` makes ftpfs exit by itself; `unmount()` returns that status.
#[test]
fn mount_guard_unmount_returns_exit_status() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    let mount = common::Mount::new(&server.url(), &["active"]);
    let path = mount.path().to_path_buf();
    let status = mount.unmount();
    assert!(status.success(), "ftpfs exited with {status} after umount");
    assert!(!common::process::is_mounted(&path));
}

/// try_new reports a failed mount as an error that includes ftpfs's own message.
#[test]
fn mount_guard_try_new_reports_failure() {
    let port = common::process::ephemeral_port(); // nobody listens there
    let err = match common::Mount::try_new(&format!("ftp://127.0.0.1:{port}/"), &[]) {
        Ok(m) => panic!("mounting a closed port succeeded at {}", m.path().display()),
        Err(e) => e,
    };
    assert!(err.contains("exited with"), "{err}");
    assert!(
        err.contains(&port.to_string()),
        "ftpfs's message is missing: {err}"
    );
}

/// A server left stopped (SIGSTOP) by a test is still torn down promptly by drop.
#[test]
fn drop_while_stopped_ends_the_server() {
    for kind in ServerKind::ALL {
        let server = Server::start(kind, ServerOptions::default());
        server.stop();
        let pid = server.pid();
        let t = Instant::now();
        drop(server);
        assert!(
            !pid_alive(pid),
            "{kind} pid {pid} survived drop while stopped"
        );
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{kind}: drop took {:?}",
            t.elapsed()
        );
    }
}

/// The delay proxy (`common/delay.rs`) carries control and passive data connections (EPSV
/// and PASV) byte for byte, each through its own forwarding port, and costs round trips: a
/// curl download (handshake and greeting, USER, PASS, PWD, EPSV or PASV, TYPE, SIZE, RETR and
/// its data connection) takes at least seven of them.
#[test]
fn the_delay_proxy_delays_control_and_data() {
    let server = Server::start(ServerKind::PureFtpd, ServerOptions::default());
    let bytes = common::random_bytes(200_000, 5);
    server.populate(|dir| fs::write(dir.join("f.bin"), &bytes).unwrap());
    let rtt = Duration::from_millis(100);
    let proxy = common::delay::DelayProxy::start(server.port(), rtt);
    let url = format!("{}f.bin", proxy.url(&server));
    for (i, data) in [Data::Passive, Data::Pasv].into_iter().enumerate() {
        let started = Instant::now();
        let got = curl::curl(&server, Tls::No, data, &[url.as_str()]);
        let took = started.elapsed();
        assert!(got == bytes, "{data:?}: wrong bytes through the proxy");
        assert_eq!(proxy.data_connections(), i + 1, "{data:?}");
        assert!(
            took >= rtt * 7 && took < Duration::from_secs(10),
            "{data:?}: {took:?}"
        );
    }
}
