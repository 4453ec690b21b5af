//! End-to-end write path: shell workflows through a real mount of vsftpd, proftpd (with
//! AllowOverwrite, and with its defaults, which refuse APPE and overwriting) and pure-ftpd,
//! each compared byte for byte with the server's directory.

mod common;

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::shell::{assert_no_temp_files, diff_r, make_tree, sh};
use common::*;

fn workflows(server: &Server, opts: &[&str]) {
    let m = mount_for(server, opts);
    let mnt = m.path();
    let srv = server.dir();
    let mode = if opts.contains(&"active") {
        "mode Active"
    } else if opts.contains(&"disable_epsv") {
        "mode Passive"
    } else {
        "mode ExtendedPassive"
    };
    assert!(
        m.log().contains(mode),
        "sessions are not in {mode}\n{}",
        m.log()
    );
    // > and >>
    sh(
        mnt,
        "echo one > log.txt; echo two >> log.txt; echo three >> log.txt",
    );
    assert_eq!(
        fs::read(srv.join("log.txt")).unwrap(),
        b"one\ntwo\nthree\n",
        "{}",
        m.log()
    );
    assert_eq!(fs::read(mnt.join("log.txt")).unwrap(), b"one\ntwo\nthree\n");
    // touch: an empty file exists on the server at once.
    sh(mnt, "touch empty");
    assert_eq!(fs::metadata(srv.join("empty")).unwrap().len(), 0);
    // O_EXCL on an existing name.
    let err = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(mnt.join("log.txt"))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    // cp -r in and out.
    let src = tempfile::tempdir().unwrap();
    make_tree(src.path(), 60);
    sh(mnt, &format!("cp -r '{}' tree", src.path().display()));
    diff_r(src.path(), &srv.join("tree"));
    diff_r(src.path(), &mnt.join("tree"));
    let out = tempfile::tempdir().unwrap();
    sh(mnt, &format!("cp -r tree '{}/back'", out.path().display()));
    diff_r(src.path(), &out.path().join("back"));
    // tar x of a 300-file tree.
    let tsrc = tempfile::tempdir().unwrap();
    make_tree(tsrc.path(), 300);
    let tarball = out.path().join("t.tar");
    sh(tsrc.path(), &format!("tar cf '{}' .", tarball.display()));
    fs::create_dir(mnt.join("untar")).unwrap();
    sh(
        &mnt.join("untar"),
        &format!("tar xf '{}' -m", tarball.display()),
    );
    diff_r(tsrc.path(), &srv.join("untar"));
    // Editor-style save: temp file, fsync, rename over the target.
    fs::write(mnt.join("doc.txt"), b"version 1\n").unwrap();
    {
        let mut f = fs::File::create(mnt.join(".doc.txt.swp")).unwrap();
        f.write_all(b"version 2, longer\n").unwrap();
        f.sync_all().unwrap();
    }
    fs::rename(mnt.join(".doc.txt.swp"), mnt.join("doc.txt")).unwrap();
    assert_eq!(
        fs::read(srv.join("doc.txt")).unwrap(),
        b"version 2, longer\n"
    );
    assert!(!srv.join(".doc.txt.swp").exists());
    assert_eq!(
        fs::read(mnt.join("doc.txt")).unwrap(),
        b"version 2, longer\n"
    );
    // dd conv=notrunc seek=
    fs::write(mnt.join("dd.bin"), vec![b'a'; 10000]).unwrap();
    sh(
        mnt,
        "printf XYZ | dd of=dd.bin bs=1 seek=5000 conv=notrunc status=none",
    );
    let mut want = vec![b'a'; 10000];
    want[5000..5003].copy_from_slice(b"XYZ");
    assert_eq!(fs::read(srv.join("dd.bin")).unwrap(), want);
    // split into the mount.
    let big = out.path().join("big");
    write_random_file(&big, 3_000_000, 5);
    sh(mnt, &format!("split -b 1000000 '{}' part.", big.display()));
    // The server's copies, exactly three parts.
    let joined = sh(
        srv,
        "ls part.* | tr '\\n' ' ' && cat part.* | sha256sum | cut -d' ' -f1",
    );
    assert_eq!(
        joined.trim(),
        format!("part.aa part.ab part.ac {}", sha256_file(&big))
    );
    // truncate, both ways.
    sh(mnt, "truncate -s 3 log.txt && truncate -s 6 log.txt");
    assert_eq!(fs::read(srv.join("log.txt")).unwrap(), b"one\0\0\0");
    // mkdir, rename, rmdir, unlink.
    fs::create_dir(mnt.join("a dir")).unwrap();
    fs::write(mnt.join("a dir/x"), b"x").unwrap();
    assert_eq!(
        fs::remove_dir(mnt.join("a dir"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENOTEMPTY)
    );
    fs::rename(mnt.join("a dir"), mnt.join("b dir")).unwrap();
    assert_eq!(fs::read(mnt.join("b dir/x")).unwrap(), b"x");
    assert_eq!(fs::read(srv.join("b dir/x")).unwrap(), b"x");
    fs::remove_file(mnt.join("b dir/x")).unwrap();
    fs::remove_dir(mnt.join("b dir")).unwrap();
    assert!(!srv.join("b dir").exists());
    assert!(!mnt.join("b dir").exists());
    // rename over an existing file.
    fs::write(mnt.join("r1"), b"first").unwrap();
    fs::write(mnt.join("r2"), b"second").unwrap();
    fs::rename(mnt.join("r1"), mnt.join("r2")).unwrap();
    assert_eq!(fs::read(srv.join("r2")).unwrap(), b"first");
    assert!(!srv.join("r1").exists());
    // O_RDWR with reads and writes interleaved, and O_APPEND.
    {
        let mut f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(mnt.join("dd.bin"))
            .unwrap();
        f.seek(SeekFrom::Start(4998)).unwrap();
        let mut b = [0u8; 5];
        f.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"aaXYZ");
        f.seek(SeekFrom::Start(0)).unwrap();
        f.write_all(b"HEAD").unwrap();
        let mut a = fs::OpenOptions::new()
            .append(true)
            .open(mnt.join("dd.bin"))
            .unwrap();
        a.write_all(b"TAIL").unwrap();
    }
    let got = fs::read(srv.join("dd.bin")).unwrap();
    assert_eq!(&got[..4], b"HEAD");
    assert_eq!(&got[got.len() - 4..], b"TAIL");
    assert_eq!(got.len(), 10004);
    // chown to someone else is refused.
    let err = std::os::unix::fs::chown(mnt.join("doc.txt"), Some(12345), None).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    assert_no_temp_files(srv);
}
// Every server, in passive (EPSV) and in active (EPRT) mode.
for_each_server!(workflows, workflows);

/// Plain PASV, as against servers without EPSV.
#[test]
fn workflows_pasv_only() {
    for kind in [ServerKind::Vsftpd, ServerKind::PureFtpd] {
        workflows(
            &Server::start(kind, ServerOptions::default()),
            &["disable_epsv"],
        );
    }
}

/// proftpd's defaults refuse APPE and overwriting; ftpfs must still replace files.
#[test]
fn workflows_proftpd_default_config() {
    let server = Server::start(
        ServerKind::Proftpd,
        ServerOptions::default().without_overwrite(),
    );
    workflows(&server, &[]);
}

/// Permission bits survive rewrites that replace the file: `sed -i` (a 0600 temporary file,
/// fchmod to the original mode, rename over), and a chmod of a file that is still open,
/// which the upload at close must not undo. vsftpd never lets anonymous users chmod: there
/// chmod fails with EPERM and the rewrites must still work.
fn modes_survive_rewrites(server: &Server) {
    use std::os::unix::fs::OpenOptionsExt;
    let m = mount_for(server, &[]);
    let mnt = m.path();
    let server_mode = |name: &str| fs::metadata(server.dir().join(name)).unwrap().mode() & 0o777;
    let mount_mode = |name: &str| fs::metadata(mnt.join(name)).unwrap().mode() & 0o777;
    let can_chmod = server.kind() != ServerKind::Vsftpd;

    fs::write(mnt.join("s.txt"), "hello\n").unwrap();
    let chmod = fs::set_permissions(mnt.join("s.txt"), fs::Permissions::from_mode(0o640));
    assert_eq!(chmod.is_ok(), can_chmod, "chmod: {chmod:?}\n{}", m.log());
    sh(mnt, "sed -i s/hello/bye/ s.txt");
    assert_eq!(fs::read(server.dir().join("s.txt")).unwrap(), b"bye\n");
    if can_chmod {
        assert_eq!(server_mode("s.txt"), 0o640, "{}", m.log());
        assert_eq!(mount_mode("s.txt"), 0o640);
    }

    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(mnt.join("n.txt"))
        .unwrap();
    f.write_all(b"new file\n").unwrap();
    let fchmod = f.set_permissions(fs::Permissions::from_mode(0o644));
    // (vsftpd: the mount shows an unknown mode as 0644, so this asks for no change.)
    assert!(fchmod.is_ok() || !can_chmod, "fchmod: {fchmod:?}");
    drop(f);
    assert_eq!(fs::read(server.dir().join("n.txt")).unwrap(), b"new file\n");
    if can_chmod {
        assert_eq!(server_mode("n.txt"), 0o644, "{}", m.log());
        assert_eq!(mount_mode("n.txt"), 0o644);
    }
}
for_each_server_kind!(modes_survive_rewrites, modes_survive_rewrites);

/// A program that writes more files at once than the mount has sessions: streamed uploads
/// hold a session each until their file is closed, so they must leave one for the rest (the
/// other files keep local copies). Before, the third file's first write waited for a session
/// the program itself held, and failed with ETIMEDOUT.
fn more_open_writers_than_sessions(server: &Server) {
    const FILES: usize = 8;
    const ROUNDS: usize = 20;
    const CHUNK: usize = 64 * 1024;
    let m = mount_for(server, &["max_conns=2"]);
    let mut files: Vec<fs::File> = (0..FILES)
        .map(|i| fs::File::create(m.join(format!("w{i}.bin"))).unwrap())
        .collect();
    for _ in 0..ROUNDS {
        for (i, f) in files.iter_mut().enumerate() {
            f.write_all(&[i as u8; CHUNK])
                .unwrap_or_else(|e| panic!("write w{i}.bin: {e}\n{}", m.log()));
        }
    }
    // Listing the directory needs a session too.
    let mut names: Vec<String> = fs::read_dir(m.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let want: Vec<String> = (0..FILES).map(|i| format!("w{i}.bin")).collect();
    assert_eq!(names, want);
    // Closing in reverse order: the spooled files upload while the streams still hold theirs.
    while let Some(f) = files.pop() {
        f.sync_all()
            .unwrap_or_else(|e| panic!("fsync w{}.bin: {e}\n{}", files.len(), m.log()));
    }
    for i in 0..FILES {
        let got = fs::read(server.dir().join(format!("w{i}.bin"))).unwrap();
        assert_eq!(got.len(), ROUNDS * CHUNK, "w{i}.bin");
        assert!(got.iter().all(|&b| b == i as u8), "w{i}.bin content");
    }
    assert_no_temp_files(server.dir());
}
for_each_server_kind!(
    more_open_writers_than_sessions,
    more_open_writers_than_sessions
);

/// Names some servers would store under another name (pure-ftpd turns trailing spaces and
/// control characters into `_`): where the server keeps them they work like any other; where
/// it would change them, creating, mkdir and rename fail with EINVAL and nothing lands on the
/// server under a name the mount does not show. Before, pure-ftpd got `trail_` plus hidden
/// temporary files holding the data, and close() failed.
fn names_the_server_would_change(server: &Server) {
    let m = mount_for(server, &[]);
    let mnt = m.path();
    let changes = server.kind() == ServerKind::PureFtpd;
    let write = |name: &str| -> Result<(), i32> {
        let mut f = fs::File::create(mnt.join(name)).map_err(|e| e.raw_os_error().unwrap())?;
        f.write_all(name.as_bytes()).unwrap();
        f.sync_all().map_err(|e| e.raw_os_error().unwrap())
    };
    fs::write(mnt.join("plain"), "plain").unwrap();
    let mut want = vec!["plain".to_string(), "dot.".to_string()];
    for name in ["trail ", "two  ", "tab\there"] {
        let got = write(name);
        if changes {
            assert_eq!(got, Err(libc::EINVAL), "{name:?}\n{}", m.log());
        } else {
            got.unwrap_or_else(|e| panic!("{name:?}: errno {e}\n{}", m.log()));
            want.push(name.to_string());
        }
    }
    write("dot.").unwrap();
    let mkdir = fs::create_dir(mnt.join("dir "));
    let rename = fs::rename(mnt.join("plain"), mnt.join("renamed "));
    if changes {
        assert_eq!(mkdir.unwrap_err().raw_os_error(), Some(libc::EINVAL));
        assert_eq!(rename.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    } else {
        mkdir.unwrap();
        rename.unwrap();
        want.push("dir ".to_string());
        want.retain(|n| n != "plain");
        want.push("renamed ".to_string());
    }
    // The server has exactly these names (no `_` variants, no temporary files), and the
    // mount shows the same.
    want.sort();
    let names = |dir: &Path| {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(server.dir()), want, "{}", m.log());
    assert_eq!(names(mnt), want);
    for name in &want {
        let content = match name.as_str() {
            "dir " => continue,
            "plain" | "renamed " => "plain",
            written => written,
        };
        assert_eq!(
            fs::read_to_string(server.dir().join(name)).unwrap(),
            content
        );
    }
}
for_each_server_kind!(names_the_server_would_change, names_the_server_would_change);

/// Servers echo the path in their error replies; a name must not decide the errno. Before,
/// unlinking `exists.txt` that another client had deleted gave EEXIST (proftpd: "550
/// /exists.txt: No such file or directory"), and rmdir of a vanished `not empty`, ENOTEMPTY.
fn echoed_names_do_not_change_errors(server: &Server) {
    let m = mount_for(server, &["dir_cache_ttl=3600"]);
    let mnt = m.path();
    fs::write(mnt.join("exists.txt"), "x").unwrap();
    fs::create_dir(mnt.join("not empty")).unwrap();
    // Another client removes both; this mount's listing still has them.
    fs::remove_file(server.dir().join("exists.txt")).unwrap();
    fs::remove_dir(server.dir().join("not empty")).unwrap();
    let unlink = fs::remove_file(mnt.join("exists.txt")).unwrap_err();
    assert_eq!(
        unlink.raw_os_error(),
        Some(libc::ENOENT),
        "unlink: {unlink}\n{}",
        m.log()
    );
    let rmdir = fs::remove_dir(mnt.join("not empty")).unwrap_err();
    assert_eq!(
        rmdir.raw_os_error(),
        Some(libc::ENOENT),
        "rmdir: {rmdir}\n{}",
        m.log()
    );
}
for_each_server_kind!(
    echoed_names_do_not_change_errors,
    echoed_names_do_not_change_errors
);

/// A file created through the mount reaches the server with its first upload, under its own
/// name (nothing there to protect): a new small file costs a few commands. Until then the
/// mount shows it (also after its listing expired), and what is done to it meanwhile (chmod,
/// rename, unlink, rmdir of its directory) behaves as on a local disk.
fn files_created_here(server: &Server) {
    use std::os::unix::fs::OpenOptionsExt;
    let m = mount_for(server, &["dir_cache_ttl=1"]);
    let mnt = m.path();
    let can_chmod = server.kind() != ServerKind::Vsftpd;
    let stats = || m.stats();

    // One new small file: EPSV (none if a data connection was opened ahead), STOR, then
    // MDTM with the EPSV that opens the next one ahead. No SIZE: the listing just made is
    // trusted for the name's absence (`negative_ttl`). `ftp_commands` counts every command line sent. The root is
    // listed first (a fresh mount keeps no listing), so that listing is not counted.
    assert!(dir_names(mnt).is_empty());
    let before = stats();
    fs::write(mnt.join("small.txt"), b"small\n").unwrap();
    let after = stats();
    assert_eq!(
        fs::read(server.dir().join("small.txt")).unwrap(),
        b"small\n"
    );
    let commands = after["ftp_commands"] - before["ftp_commands"];
    assert!(
        commands <= 5,
        "{commands} FTP commands for one small file\n{}",
        m.log()
    );

    // `dd` opens its output, then closes a duplicate descriptor before it writes: that close
    // stores the empty file at once (SIZE, NOOP, EPSV, STOR, MDTM). The content then goes
    // to the file's own name after deleting that empty file (DELE, EPSV, STOR, MDTM), not
    // through a temporary name and RNFR/RNTO (EPSV, STOR, RNFR, RNTO, MDTM).
    let data = random_bytes(3 << 20, 31);
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("dd.bin"), &data).unwrap();
    let before = stats();
    sh(
        src.path(),
        &format!(
            "dd if=dd.bin of={} bs=1M status=none",
            mnt.join("dd.bin").display()
        ),
    );
    let after = stats();
    assert!(
        fs::read(server.dir().join("dd.bin")).unwrap() == data,
        "{}",
        m.log()
    );
    let commands = after["ftp_commands"] - before["ftp_commands"];
    assert!(
        commands <= 9,
        "{commands} FTP commands for dd of a new file\n{}",
        m.log()
    );

    // Open and not written yet: shown, also by a fresh listing after the TTL.
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(mnt.join("open.txt"))
        .unwrap();
    let listed = stats()["listings"];
    let relisted = wait_until(Duration::from_secs(10), || {
        let names = dir_names(mnt);
        assert!(
            names.contains(&"open.txt".to_string()),
            "{names:?}\n{}",
            m.log()
        );
        m.stats()["listings"] > listed
    });
    assert!(relisted, "the listing never expired\n{}", m.log());
    assert!(dir_names(mnt).contains(&"open.txt".to_string()));
    assert_eq!(fs::metadata(mnt.join("open.txt")).unwrap().len(), 0);
    drop(f);
    assert_eq!(fs::read(server.dir().join("open.txt")).unwrap(), b"");
    if can_chmod {
        let mode = fs::metadata(server.dir().join("open.txt")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", m.log());
    }

    // Renamed while open, then written: stored under the new name only.
    let mut f = fs::File::create(mnt.join("first.txt")).unwrap();
    fs::rename(mnt.join("first.txt"), mnt.join("second.txt")).unwrap();
    f.write_all(b"renamed while open\n").unwrap();
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(
        fs::read(server.dir().join("second.txt")).unwrap(),
        b"renamed while open\n"
    );
    assert!(!server.dir().join("first.txt").exists());

    // Renamed over a file the server has, while open: replaces it.
    server.populate(|d| fs::write(d.join("target.txt"), b"old\n").unwrap());
    let mut f = fs::File::create(mnt.join("new.txt")).unwrap();
    f.write_all(b"new\n").unwrap();
    assert!(wait_until(Duration::from_secs(10), || mnt
        .join("target.txt")
        .exists()));
    fs::rename(mnt.join("new.txt"), mnt.join("target.txt")).unwrap();
    drop(f);
    assert_eq!(fs::read(server.dir().join("target.txt")).unwrap(), b"new\n");
    assert!(!server.dir().join("new.txt").exists());

    // Unlinked while open (a temporary file): never reaches the server, neither at its
    // close nor later (the next file's upload is the only one the counter shows).
    let uploads = m.stats()["uploads"];
    let mut f = fs::File::create(mnt.join("scratch.tmp")).unwrap();
    fs::remove_file(mnt.join("scratch.tmp")).unwrap();
    f.write_all(b"scratch").unwrap();
    drop(f);
    assert_eq!(
        m.stats()["uploads"],
        uploads,
        "uploaded at close\n{}",
        m.log()
    );
    assert!(!server.dir().join("scratch.tmp").exists());
    assert!(!mnt.join("scratch.tmp").exists());

    // A directory whose only file is still on its way is not empty.
    fs::create_dir(mnt.join("d")).unwrap();
    let f = fs::File::create(mnt.join("d/inside.txt")).unwrap();
    let rmdir = fs::remove_dir(mnt.join("d")).unwrap_err();
    assert_eq!(rmdir.raw_os_error(), Some(libc::ENOTEMPTY));
    drop(f);
    assert!(server.dir().join("d/inside.txt").exists());
    assert_eq!(
        m.stats()["uploads"],
        uploads + 1,
        "uploads other than d/inside.txt's\n{}",
        m.log()
    );

    assert_no_temp_files(server.dir());
}
for_each_server_kind!(files_created_here, files_created_here);

/// A directory renamed while files in it are being written: the uploads (one replacing a
/// file through a temporary name, one of a new file under its own name) moved with it on the
/// server, and still end up in place. Before, the rename over the target failed for a missing
/// source, and the fallback deleted the target: the old content was lost and the new one
/// stayed under a hidden name.
fn directory_renamed_during_uploads(server: &Server) {
    server.populate(|d| {
        fs::create_dir(d.join("d1")).unwrap();
        fs::write(d.join("d1/old.txt"), b"old content\n").unwrap();
    });
    let m = mount_for(server, &[]);
    let mut replaced = fs::File::create(m.join("d1/old.txt")).unwrap();
    let mut created = fs::File::create(m.join("d1/new.txt")).unwrap();
    replaced.write_all(b"first half, ").unwrap();
    created.write_all(b"new: first half, ").unwrap();
    fs::rename(m.join("d1"), m.join("d2")).unwrap();
    replaced.write_all(b"second half\n").unwrap();
    created.write_all(b"second half\n").unwrap();
    replaced
        .sync_all()
        .unwrap_or_else(|e| panic!("fsync old.txt: {e}\n{}", m.log()));
    created
        .sync_all()
        .unwrap_or_else(|e| panic!("fsync new.txt: {e}\n{}", m.log()));
    drop((replaced, created));
    assert_eq!(
        fs::read(server.dir().join("d2/old.txt")).unwrap(),
        b"first half, second half\n"
    );
    assert_eq!(
        fs::read(server.dir().join("d2/new.txt")).unwrap(),
        b"new: first half, second half\n"
    );
    assert_eq!(
        dir_names(server.dir().join("d2")),
        vec!["new.txt", "old.txt"]
    );
    assert!(!server.dir().join("d1").exists());
    assert_no_temp_files(server.dir());
}
for_each_server_kind!(
    directory_renamed_during_uploads,
    directory_renamed_during_uploads
);

/// Renames while files are open, found by a random namespace model (create, write, rename,
/// unlink, close on five names, compared with a local directory): a file changed in place
/// fetches the rest of its old content from its new name; a new file streamed under its own
/// name, then renamed, keeps its data when a new file takes the old name and is unlinked.
fn renames_of_open_files(server: &Server) {
    use std::os::unix::fs::FileExt;
    server.populate(|d| fs::write(d.join("c"), b"0123456789").unwrap());
    let m = mount_for(server, &[]);
    // Changed in place (the spool still owes bytes 4..10 of the old content), then renamed.
    let f = fs::OpenOptions::new()
        .write(true)
        .open(m.join("c"))
        .unwrap();
    f.write_all_at(b"ab", 2).unwrap();
    fs::rename(m.join("c"), m.join("a")).unwrap();
    f.sync_all()
        .unwrap_or_else(|e| panic!("fsync a: {e}\n{}", m.log()));
    drop(f);
    assert_eq!(fs::read(server.dir().join("a")).unwrap(), b"01ab456789");
    // A new file, streamed, renamed while open; its old name is reused and unlinked.
    let mut e = fs::File::create(m.join("e")).unwrap();
    e.write_all(b"first ").unwrap();
    fs::rename(m.join("e"), m.join("b")).unwrap();
    let reused = fs::File::create(m.join("e")).unwrap();
    e.write_all(b"second\n").unwrap();
    fs::remove_file(m.join("e")).unwrap();
    drop(reused);
    e.sync_all()
        .unwrap_or_else(|err| panic!("fsync b: {err}\n{}", m.log()));
    drop(e);
    assert_eq!(fs::read(server.dir().join("b")).unwrap(), b"first second\n");
    assert_eq!(dir_names(server.dir()), vec!["a", "b"]);
    assert_eq!(fs::read(m.join("b")).unwrap(), b"first second\n");
}
for_each_server_kind!(renames_of_open_files, renames_of_open_files);

/// Writes through a shared mmap reach the server.
fn mmap_write(server: &Server) {
    let m = mount_for(server, &[]);
    let path = m.join("mapped.bin");
    fs::write(&path, vec![0u8; 8192]).unwrap();
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: maps 8192 bytes of a file of that size, writes inside, unmaps.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        std::ptr::copy_nonoverlapping(b"mapped!".as_ptr(), (p as *mut u8).add(4000), 7);
        assert_eq!(libc::msync(p, 8192, libc::MS_SYNC), 0);
        libc::munmap(p, 8192);
    }
    drop(f);
    let got = fs::read(server.dir().join("mapped.bin")).unwrap();
    assert_eq!(&got[4000..4007], b"mapped!");
    assert_eq!(got.len(), 8192);
}
for_each_server_kind!(mmap_write, mmap_write);

/// A reader opened before a writer sees the writer's bytes, like on a local disk: write-only
/// handles bypass the page cache (direct I/O), so this checks that the reader's cached pages
/// and read-ahead are dropped, during the write, after its upload, and while a file grows
/// (`tail -f` on a file being copied in).
fn reader_sees_writes(server: &Server) {
    use std::os::unix::fs::FileExt;
    let m = mount_for(server, &[]);
    let path = m.join("shared.txt");
    fs::write(&path, b"hello world, old content\n").unwrap();
    let reader = fs::File::open(&path).unwrap();
    let read_all = |r: &fs::File| {
        let mut buf = vec![0u8; 4096];
        let n = r.read_at(&mut buf, 0).unwrap();
        buf.truncate(n);
        buf
    };
    assert_eq!(read_all(&reader), b"hello world, old content\n");

    let writer = fs::OpenOptions::new().write(true).open(&path).unwrap();
    writer.write_all_at(b"HELLO", 0).unwrap();
    // The kernel's cached page is dropped just after the write returns.
    let expected = b"HELLO world, old content\n";
    let seen = wait_until(Duration::from_secs(5), || read_all(&reader) == expected);
    assert!(
        seen,
        "the reader still sees {:?}\n{}",
        String::from_utf8_lossy(&read_all(&reader)),
        m.log()
    );
    drop(writer);
    assert_eq!(read_all(&reader), expected, "after the upload");
    assert_eq!(fs::read(server.dir().join("shared.txt")).unwrap(), expected);

    let mut appender = fs::OpenOptions::new().append(true).open(&path).unwrap();
    appender.write_all(b"appended\n").unwrap();
    drop(appender);
    let expected = b"HELLO world, old content\nappended\n";
    assert_eq!(read_all(&reader), expected, "after an append");
    assert_eq!(reader.metadata().unwrap().len(), expected.len() as u64);

    // A file that grows under a reader: every byte the reader gets is a written one.
    let growing = m.join("growing.bin");
    let data = random_bytes(3 << 20, 21);
    let mut w = fs::File::create(&growing).unwrap();
    let r = fs::File::open(&growing).unwrap();
    let mut got = Vec::new();
    for chunk in data.chunks(300_000) {
        w.write_all(chunk).unwrap();
        let want = got.len() + chunk.len();
        let mut buf = vec![0u8; want - got.len()];
        let caught_up = wait_until(Duration::from_secs(5), || {
            r.read_at(&mut buf, got.len() as u64).unwrap() == buf.len()
        });
        assert!(caught_up, "the reader does not see the new end at {want}");
        got.extend_from_slice(&buf);
        assert!(
            got == data[..want],
            "the reader got other bytes than written, below {want}"
        );
    }
    drop(w);
    assert_eq!(
        sha256_file(server.dir().join("growing.bin")),
        sha256_bytes(&data)
    );
}
for_each_server_kind!(reader_sees_writes, reader_sees_writes);

/// Children that inherit a descriptor being written close it when they exit or exec, and the
/// kernel reports each such close as a flush of the file. Only the owner's close uploads: a
/// file written while its writer starts processes goes up once, complete, instead of once
/// per child (the pattern of `make > /mnt/log` or a script's redirected output).
fn inherited_descriptors(server: &Server) {
    let m = mount_for(server, &[]);
    let data = random_bytes(3 << 20, 31);
    let before = m.stats()["uploads"];
    let mut f = fs::File::create(m.join("inherited.bin")).unwrap();
    for chunk in data.chunks(1 << 20) {
        f.write_all(chunk).unwrap();
        // Rust opens files close-on-exec: `true` closes its inherited copy at exec.
        for _ in 0..3 {
            assert!(Command::new("true").status().unwrap().success());
        }
    }
    assert_eq!(
        m.stats()["uploads"],
        before,
        "the children's closes uploaded\n{}",
        m.log()
    );
    drop(f);
    assert_eq!(m.stats()["uploads"], before + 1, "{}", m.log());
    assert_eq!(
        sha256_file(server.dir().join("inherited.bin")),
        sha256_bytes(&data)
    );
    // A child that writes after the owner has closed, and closes last: the release of the
    // last descriptor uploads what it wrote.
    let shared = fs::File::create(m.join("child.txt")).unwrap();
    let mut child = Command::new("sh")
        .args(["-c", "sleep 0.3; echo from the child"])
        .stdout(shared.try_clone().unwrap())
        .spawn()
        .unwrap();
    drop(shared);
    assert!(child.wait().unwrap().success());
    let done = wait_until(Duration::from_secs(10), || {
        fs::read(server.dir().join("child.txt")).ok().as_deref() == Some(b"from the child\n")
    });
    assert!(
        done,
        "the child's write never reached the server\n{}",
        m.log()
    );
    // truncate(2) by path while a child still holds a descriptor: the new size is on the
    // server when truncate returns, as for a file nobody has open.
    let mut held = fs::File::create(m.join("held.bin")).unwrap();
    held.write_all(&data[..100_000]).unwrap();
    let mut child = Command::new("sleep")
        .arg("30")
        .stdout(held.try_clone().unwrap())
        .spawn()
        .unwrap();
    drop(held);
    let c_path = std::ffi::CString::new(m.join("held.bin").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::truncate(c_path.as_ptr(), 1000) }, 0);
    let on_server = fs::read(server.dir().join("held.bin")).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        on_server == data[..1000],
        "{} bytes on the server after truncate(2) to 1000\n{}",
        on_server.len(),
        m.log()
    );
}
for_each_server_kind!(inherited_descriptors, inherited_descriptors);

/// `cp` over an existing file (open with O_TRUNC, write, close) is one upload: the truncation
/// reaches open, not a separate handle-less setattr that would be uploaded as an empty file
/// first.
fn overwrite_uploads_once(server: &Server) {
    let m = mount_for(server, &[]);
    fs::write(m.join("over.bin"), random_bytes(50_000, 51)).unwrap();
    let src = tempfile::tempdir().unwrap();
    let data = random_bytes(70_000, 52);
    fs::write(src.path().join("new.bin"), &data).unwrap();
    let before = m.stats()["uploads"];
    sh(
        m.path(),
        &format!("cp '{}' over.bin", src.path().join("new.bin").display()),
    );
    assert_eq!(m.stats()["uploads"], before + 1, "{}", m.log());
    assert_eq!(fs::read(server.dir().join("over.bin")).unwrap(), data);
}
for_each_server_kind!(overwrite_uploads_once, overwrite_uploads_once);

/// A name this mount's cached listing does not know may exist on the server all the same,
/// created by another client meanwhile. Creating it through the mount must not store an
/// empty file over theirs: `>>` appends to their content, and O_EXCL fails with EEXIST.
fn create_over_another_clients_file(server: &Server) {
    // The other client's files appear right after the mount's listing: with the default
    // `negative_ttl` that listing would be trusted for their absence for a second.
    let m = mount_for(server, &["dir_cache_ttl=3600", "negative_ttl=0"]);
    assert!(dir_names(m.path()).is_empty());
    server.populate(|d| {
        fs::write(d.join("theirs.txt"), b"theirs\n").unwrap();
        fs::write(d.join("excl.txt"), b"keep\n").unwrap();
    });
    sh(m.path(), "echo mine >> theirs.txt");
    assert_eq!(
        fs::read(server.dir().join("theirs.txt")).unwrap(),
        b"theirs\nmine\n",
        "{}",
        m.log()
    );
    let err = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(m.join("excl.txt"))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");
    assert_eq!(fs::read(server.dir().join("excl.txt")).unwrap(), b"keep\n");
    // rename(2) with RENAME_NOREPLACE onto such a name fails with EEXIST too.
    fs::write(m.join("mine.txt"), b"mine\n").unwrap();
    server.populate(|d| fs::write(d.join("target.txt"), b"their target\n").unwrap());
    let c = |p: std::path::PathBuf| {
        std::ffi::CString::new(p.into_os_string().into_encoded_bytes()).unwrap()
    };
    let (from, to) = (c(m.join("mine.txt")), c(m.join("target.txt")));
    // SAFETY: valid NUL-terminated paths; AT_FDCWD with absolute paths.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    assert_eq!(r, -1, "RENAME_NOREPLACE replaced another client's file");
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EEXIST)
    );
    assert_eq!(
        fs::read(server.dir().join("target.txt")).unwrap(),
        b"their target\n"
    );
}
for_each_server_kind!(
    create_over_another_clients_file,
    create_over_another_clients_file
);
