//! End-to-end modification times: `touch -d`, `cp -p`, `tar x` and `rsync -t` keep them on
//! every server (MFMT, or vsftpd's MDTM-write), so a second `rsync -rt` transfers nothing; and
//! where the server cannot set times, explicit times fail with an errno instead of
//! succeeding silently, while the data still reaches the server.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::shell::{diff_r, make_tree, run, sh};
use common::*;

/// touch -d, cp -p, rsync -t keep times, so a second rsync transfers nothing.
fn times(server: &Server) {
    let m = mount_for(server, &[]);
    let mnt = m.path();
    sh(
        mnt,
        "echo hi > t.txt && touch -d '2020-02-03 04:05:06 UTC' t.txt",
    );
    let want = 1_580_702_706;
    assert_eq!(
        fs::metadata(mnt.join("t.txt")).unwrap().mtime(),
        want,
        "{}",
        m.log()
    );
    assert_eq!(
        fs::metadata(server.dir().join("t.txt")).unwrap().mtime(),
        want
    );
    // touch with the current time on a just-written file succeeds.
    sh(mnt, "echo x > now.txt && touch now.txt");
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path(), 40);
    sh(
        src.path(),
        "find . -exec touch -h -d '2019-05-06 07:08:09 UTC' {} +",
    );
    let rsync = |extra: &str| {
        sh(
            mnt,
            &format!(
                "rsync -rt --itemize-changes {extra} '{}/' copy/",
                src.path().display()
            ),
        )
    };
    rsync("");
    diff_r(src.path(), &mnt.join("copy"));
    let second = rsync("");
    let changed: Vec<&str> = second
        .lines()
        .filter(|l| l.starts_with('>') || l.starts_with('<'))
        .collect();
    assert!(
        changed.is_empty(),
        "second rsync transferred files:\n{second}\n{}",
        m.log()
    );
    // tar x keeps them (GNU tar sets them through the open file, before close).
    sh(
        mnt,
        &format!(
            "tar cf - -C '{}' . | tar xf - --no-same-owner -C \"$(mkdir -p tarx && echo tarx)\"",
            src.path().display()
        ),
    );
    diff_r(src.path(), &mnt.join("tarx"));
    for root in [mnt.to_path_buf(), server.dir().to_path_buf()] {
        let times = sh(
            &root,
            "find tarx -type f -printf '%T@\\n' | sort | uniq -c | sed 's/^ *//'",
        );
        assert_eq!(
            times.trim(),
            "40 1557126489.0000000000",
            "file times after tar x in {}\n{}",
            root.display(),
            m.log()
        );
    }
    // cp -p keeps the time too.
    sh(
        mnt,
        &format!(
            "cp -p '{}/d0/sub 0/file 0.txt' cp-p.txt",
            src.path().display()
        ),
    );
    assert_eq!(
        fs::metadata(mnt.join("cp-p.txt")).unwrap().mtime(),
        1_557_126_489
    );
    // chmod goes through SITE CHMOD; vsftpd never lets anonymous users chmod, and ftpfs
    // says so instead of pretending.
    let chmod = fs::set_permissions(mnt.join("t.txt"), fs::Permissions::from_mode(0o600));
    if server.kind() == ServerKind::Vsftpd {
        assert_eq!(chmod.unwrap_err().raw_os_error(), Some(libc::EPERM));
        assert_eq!(
            fs::metadata(server.dir().join("t.txt")).unwrap().mode() & 0o777,
            0o644
        );
    } else {
        chmod.unwrap();
        assert_eq!(
            fs::metadata(server.dir().join("t.txt")).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(mnt.join("t.txt")).unwrap().mode() & 0o777,
            0o600
        );
    }
}
for_each_server_kind!(times, times);

/// The same against proftpd's defaults, which refuse overwriting (the second rsync must
/// still find nothing to do, and cp -p replaces through delete and rename).
#[test]
fn times_proftpd_default_config() {
    times(&Server::start(
        ServerKind::Proftpd,
        ServerOptions::default().without_overwrite(),
    ));
}

/// vsftpd with `mdtm_write=NO` cannot set times. `cp -p` stores the data and fails (its
/// close, when the server's inability is not known yet; its futimens once it is);
/// `touch -d` fails with EOPNOTSUPP; `touch` with the current time succeeds.
#[test]
fn times_the_server_cannot_set() {
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::extra(&["mdtm_write=NO"]));
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "first\n").unwrap();
    fs::write(src.path().join("b.txt"), "second\n").unwrap();
    sh(src.path(), "touch -d '2019-05-06 07:08:09 UTC' a.txt b.txt");
    let m = mount_for(&server, &[]);
    let mnt = m.path();
    let cp_p = |name: &str| {
        let out = run(
            mnt,
            &format!("cp -p '{}' {name}", src.path().join(name).display()),
        );
        assert!(
            !out.status.success(),
            "cp -p {name} succeeded on a server that cannot set times\n{}",
            m.log()
        );
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            fs::read(server.dir().join(name)).unwrap(),
            fs::read(src.path().join(name)).unwrap(),
            "cp -p {name}: the data did not reach the server"
        );
        assert_ne!(
            fs::metadata(server.dir().join(name)).unwrap().mtime(),
            1_557_126_489
        );
        stderr
    };
    // Not known yet: the time is applied after the upload, and close() reports the refusal.
    let first = cp_p("a.txt");
    assert!(
        first.contains("Operation not supported") || first.contains("Operation not permitted"),
        "{first}"
    );
    // Known now: futimens itself fails.
    let second = cp_p("b.txt");
    assert!(second.contains("Operation not supported"), "{second}");
    let touch = run(mnt, "touch -d '2020-02-03 04:05:06 UTC' a.txt");
    assert!(!touch.status.success(), "touch -d succeeded");
    assert!(
        String::from_utf8_lossy(&touch.stderr).contains("Operation not supported"),
        "{}",
        String::from_utf8_lossy(&touch.stderr)
    );
    sh(mnt, "touch a.txt && echo more >> b.txt && touch b.txt");
    assert_eq!(
        fs::read(server.dir().join("b.txt")).unwrap(),
        b"second\nmore\n"
    );
}

/// `--no-mdtm`: a LIST-only server's day-precision time is shown as listed, and no `MDTM` is
/// sent for it; without the option the same lookup asks `MDTM` once and shows the exact time.
#[test]
fn no_mdtm_keeps_the_listing_time() {
    // 2021-03-04 05:06:07 UTC: old enough for LIST to show the day only.
    const T: i64 = 1_614_834_367;
    let server = Server::start(ServerKind::Vsftpd, ServerOptions::default());
    server.populate(|d| {
        fs::write(d.join("old.txt"), b"old\n").unwrap();
        let f = fs::File::options()
            .write(true)
            .open(d.join("old.txt"))
            .unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(T as u64);
        f.set_modified(t).unwrap();
    });
    let mdtm_commands = || {
        fs::read_to_string(server.state_dir().join("vsftpd.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("FTP command: ") && l.contains("\"MDTM "))
            .count()
    };

    let m = Mount::try_with_args(&server.url(), &["--no-mdtm"]).unwrap_or_else(|e| panic!("{e}"));
    let listed = fs::metadata(m.join("old.txt")).unwrap().mtime();
    assert_ne!(listed, T, "the exact time without MDTM?\n{}", m.log());
    assert!(
        (T - 86_400..=T).contains(&listed),
        "not the listed day: {listed}\n{}",
        m.log()
    );
    assert_eq!(m.stats()["mdtm_refinements"], 0);
    assert_eq!(mdtm_commands(), 0, "MDTM was sent with --no-mdtm");
    drop(m);

    let m = mount_for(&server, &[]);
    assert_eq!(
        fs::metadata(m.join("old.txt")).unwrap().mtime(),
        T,
        "{}",
        m.log()
    );
    assert_eq!(m.stats()["mdtm_refinements"], 1);
    assert!(mdtm_commands() >= 1, "the exact time came without MDTM?");
}
