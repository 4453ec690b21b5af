//! fsx-style model-based test of the write path: thousands of seeded random operations
//! (writes at random offsets, sparse writes past EOF, ftruncate and truncate(2) to smaller
//! and larger sizes, reads, O_APPEND writes through a second handle, close/reopen with and
//! without O_TRUNC or O_DIRECT, fsync/fdatasync, MAP_SHARED writes, reads through an extra
//! read-only handle, stat) are applied both to three files in a real ftpfs mount and to an
//! in-memory model of each file. Every read is compared with the model; after every close
//! and fsync the server's own copy is compared too, byte for byte; once a file has no handle
//! left, no temporary upload of it may remain on the server.
//!
//! The operations are a pure function of the seed. (Whether a read reaches ftpfs or is
//! answered from the kernel's page cache is up to the kernel, so ftpfs's internal path can
//! differ slightly between runs of the same seed.)
//!
//! Environment:
//! * `FSX_SEED`: the seed (decimal or `0x` hex) instead of each test's fixed default;
//! * `FSX_OPS`: operations per server (default [`DEFAULT_OPS`]).
//!
//! A failure panics with the seed, the index of the failing operation, the last operations
//! (overall and on the failing file), what ftpfs logged about that file and the tail of its
//! log; the whole operation log is saved under the temp dir. Rerun with the
//! `FSX_SEED`/`FSX_OPS` it prints.

mod common;

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::*;

/// Files never grow beyond this.
const MAX_LEN: usize = 2 << 20;
/// Largest single write.
const MAX_WRITE: usize = 200 << 10;
/// Largest write through a shared mapping.
const MAX_MMAP_WRITE: usize = 16 << 10;
/// Operations per server unless `FSX_OPS` says otherwise.
const DEFAULT_OPS: usize = 3000;
/// How many of the last operations a failure report shows.
const REPORT_OPS: usize = 30;
/// How many lines of ftpfs's log a failure report shows.
const REPORT_LOG_LINES: usize = 80;

/// The files under test (the last one has a space in its name).
const NAMES: [&str; 3] = ["fsx-0.bin", "fsx-1.bin", "fsx 2.dat"];

/// The operations, with their relative weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Write,
    SeqWrite,
    Burst,
    Sparse,
    Truncate,
    Read,
    Append,
    CloseReopen,
    Fsync,
    Mmap,
    ReadOther,
    WriteOther,
    Stat,
}

const OPS: [(Op, u32); 13] = [
    (Op::Write, 20),
    (Op::SeqWrite, 7),
    (Op::Burst, 3),
    (Op::Sparse, 5),
    (Op::Truncate, 7),
    (Op::Read, 18),
    (Op::Append, 7),
    (Op::CloseReopen, 5),
    (Op::Fsync, 5),
    (Op::Mmap, 6),
    (Op::ReadOther, 5),
    (Op::WriteOther, 5),
    (Op::Stat, 5),
];

/// One file under test: its handles and its model.
struct FileState {
    name: String,
    /// The file in the mount.
    mnt: PathBuf,
    /// The server's own copy.
    srv: PathBuf,
    /// The main read-write handle (closed only inside a close/reopen operation).
    main: Option<File>,
    /// A write-only O_APPEND handle, opened on demand.
    append: Option<File>,
    /// A write-only handle for writes at offsets (direct I/O in ftpfs), opened on demand.
    wo: Option<File>,
    /// A second, read-only handle, opened on demand while `main` is open; it may stay open
    /// across a close and reopen of `main`.
    ro: Option<File>,
    model: Vec<u8>,
}

struct Fsx<'a> {
    server: &'a Server,
    m: &'a Mount,
    label: &'static str,
    seed: u64,
    ops: usize,
    rng: StdRng,
    files: Vec<FileState>,
    /// Every operation done, for failure reports.
    log: Vec<String>,
    /// Index of the operation in progress.
    op: usize,
    /// The file it works on.
    cur_file: usize,
    page: usize,
    counts: Vec<(Op, usize)>,
}

/// Reads up to `len` bytes at `off`, looping over short reads until EOF.
fn read_full_at(f: &File, off: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        match f.read_at(&mut buf[got..], off + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// close(2) with its result (dropping a `File` ignores it, and close is where ftpfs uploads).
fn close_checked(f: File) -> io::Result<()> {
    let fd = f.into_raw_fd();
    // SAFETY: `fd` was just released from the `File`, so it is closed exactly once.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// truncate(2).
fn truncate_path(path: &Path, len: usize) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes()).expect("no NUL in the path");
    // SAFETY: a valid NUL-terminated path.
    if unsafe { libc::truncate(c.as_ptr(), len as libc::off_t) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn hex_window(data: &[u8], at: usize) -> String {
    let start = at.saturating_sub(8);
    let end = (at + 8).min(data.len());
    if start >= end {
        return "<none>".into();
    }
    data[start..end]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Describes how `got` differs from `want` (both starting at file offset `base`), or `None`.
fn difference(got: &[u8], want: &[u8], base: usize) -> Option<String> {
    if got == want {
        return None;
    }
    let first = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    // The extent of the first differing run, to tell a page from a byte from a shift.
    let mut last = first;
    while last < got.len().min(want.len()) && got[last] != want[last] {
        last += 1;
    }
    let zeros = got
        .get(first..last)
        .is_some_and(|r| r.iter().all(|&b| b == 0));
    Some(format!(
        "got {} bytes (sha256 {}), expected {} bytes (sha256 {}); first difference at file \
         offset {} (differing run {}..{} {}); bytes from offset {}: got [{}] expected [{}]",
        got.len(),
        sha256_bytes(got),
        want.len(),
        sha256_bytes(want),
        base + first,
        base + first,
        base + last,
        if zeros && last > first {
            "is zeros in what was read"
        } else {
            ""
        },
        (base + first).saturating_sub(8),
        hex_window(got, first),
        hex_window(want, first),
    ))
}

impl<'a> Fsx<'a> {
    fn new(
        server: &'a Server,
        m: &'a Mount,
        label: &'static str,
        seed: u64,
        rng: StdRng,
    ) -> Fsx<'a> {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        Fsx {
            server,
            m,
            label,
            seed,
            ops: env_op_count("FSX_OPS", DEFAULT_OPS),
            rng,
            files: Vec::new(),
            log: Vec::new(),
            op: 0,
            cur_file: usize::MAX,
            page,
            counts: OPS.iter().map(|&(op, _)| (op, 0)).collect(),
        }
    }

    fn note(&mut self, i: usize, what: String) {
        let line = format!("#{:<5} {}: {}", self.op, self.files[i].name, what);
        self.log.push(line);
    }

    fn fail(&self, msg: impl std::fmt::Display) -> ! {
        let start = self.log.len().saturating_sub(REPORT_OPS);
        let mut models = String::new();
        for f in &self.files {
            models.push_str(&format!(
                "  {}: model {} bytes (sha256 {}), main {}, append {}, second {}\n",
                f.name,
                f.model.len(),
                sha256_bytes(&f.model),
                if f.main.is_some() { "open" } else { "closed" },
                if f.append.is_some() { "open" } else { "closed" },
                if f.ro.is_some() { "open" } else { "closed" },
            ));
        }
        // The history of the file the failing operation was on, which may go back further,
        // and what ftpfs logged about it (its name is in every command and temporary name).
        let ftpfs_log = self.m.log();
        let mut file_ops = String::new();
        let mut file_log = String::new();
        if let Some(f) = self.files.get(self.cur_file) {
            let about: Vec<&str> = ftpfs_log.lines().filter(|l| l.contains(&f.name)).collect();
            let from = about.len().saturating_sub(REPORT_LOG_LINES);
            file_log = format!(
                "----- ftpfs log lines that mention {} (last {}) -----\n{}\n",
                f.name,
                about.len() - from,
                about[from..].join("\n")
            );
            let tag = format!(" {}: ", f.name);
            let mine: Vec<&String> = self.log.iter().filter(|l| l.contains(&tag)).collect();
            let from = mine.len().saturating_sub(REPORT_OPS);
            file_ops = format!(
                "----- last {} operations on {} -----\n{}\n",
                mine.len() - from,
                f.name,
                mine[from..]
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        // The whole operation log, for a closer look.
        let full = std::env::temp_dir().join(format!(
            "fsx-{}-{:#x}.ops",
            self.label.replace("::", "-"),
            self.seed
        ));
        let saved = match fs::write(&full, self.log.join("\n") + "\n") {
            Ok(()) => format!("the whole operation log is in {}", full.display()),
            Err(e) => format!(
                "could not save the operation log to {}: {e}",
                full.display()
            ),
        };
        panic!(
            "fsx failure on {label} (seed {seed:#x}, op #{op} of {ops}): {msg}\n\
             reproduce: FSX_SEED={seed:#x} FSX_OPS={ops} cargo test --release --test e2e_fsx {label}\n\
             {saved}\n\
             files:\n{models}\
             ----- last {n} operations -----\n{ops_log}\n\
             {file_ops}\
             {file_log}\
             ----- ftpfs log (last {REPORT_LOG_LINES} lines) -----\n{log}\
             ----- server log (last {REPORT_LOG_LINES} lines) -----\n{srv_log}",
            label = self.label,
            seed = self.seed,
            op = self.op,
            ops = self.ops,
            n = self.log.len() - start,
            ops_log = self.log[start..].join("\n"),
            log = common::process::tail(&ftpfs_log, REPORT_LOG_LINES),
            srv_log = common::process::tail(&self.server.log_contents(), REPORT_LOG_LINES),
        );
    }

    fn check<T>(&self, r: io::Result<T>, what: impl FnOnce() -> String) -> T {
        match r {
            Ok(v) => v,
            Err(e) => self.fail(format!(
                "{} failed: {e} (errno {:?})",
                what(),
                e.raw_os_error()
            )),
        }
    }

    fn compare(&self, what: &str, got: &[u8], want: &[u8], base: usize) {
        if let Some(d) = difference(got, want, base) {
            self.fail(format!("{what}: content differs from the model: {d}"));
        }
    }

    // ----- random choices -----

    /// A size from 1 byte to `MAX_WRITE`, mostly small.
    fn pick_size(&mut self) -> usize {
        match self.rng.gen_range(0..100) {
            0..=39 => self.rng.gen_range(1..=512),
            40..=49 => self.page * self.rng.gen_range(1..=8),
            50..=74 => self.rng.gen_range(1..=16 << 10),
            75..=89 => self.rng.gen_range(16 << 10..=64 << 10),
            _ => self.rng.gen_range(64 << 10..=MAX_WRITE),
        }
    }

    /// An offset in `[0, len]`, often near a page boundary or near the end.
    fn pick_offset(&mut self, len: usize) -> usize {
        match self.rng.gen_range(0..100) {
            0..=59 => self.rng.gen_range(0..=len),
            60..=79 => {
                let pages = len / self.page;
                let base = self.rng.gen_range(0..=pages) * self.page;
                let delta: i64 = self.rng.gen_range(-3..=3);
                (base as i64 + delta).clamp(0, len as i64) as usize
            }
            _ => len.saturating_sub(self.rng.gen_range(0..=600)),
        }
    }

    fn random_data(&mut self, len: usize) -> Vec<u8> {
        let mut data = vec![0u8; len];
        self.rng.fill(&mut data[..]);
        data
    }

    // ----- the model -----

    fn model_write(&mut self, i: usize, off: usize, data: &[u8]) {
        let model = &mut self.files[i].model;
        let end = off + data.len();
        if model.len() < end {
            model.resize(end, 0);
        }
        model[off..end].copy_from_slice(data);
    }

    // ----- checks against the model -----

    /// The server's copy equals the model (after a close or fsync uploaded it).
    fn verify_server(&self, i: usize, why: &str) {
        let f = &self.files[i];
        let got = self.check(fs::read(&f.srv), || {
            format!("reading the server's copy {} ({why})", f.srv.display())
        });
        self.compare(
            &format!("server copy of {} {why}", f.name),
            &got,
            &f.model,
            0,
        );
    }

    /// The whole file read through the mount, its size, and the server's copy all equal the
    /// model; no temporary upload of this file is left on the server.
    fn verify_full(&self, i: usize, why: &str) {
        let f = &self.files[i];
        let size = self
            .check(fs::metadata(&f.mnt), || format!("stat {} ({why})", f.name))
            .len();
        if size != f.model.len() as u64 {
            self.fail(format!(
                "{} {why}: st_size is {size}, the model has {} bytes",
                f.name,
                f.model.len()
            ));
        }
        let got = self.check(fs::read(&f.mnt), || format!("reading {} ({why})", f.name));
        self.compare(
            &format!("{} read through the mount {why}", f.name),
            &got,
            &f.model,
            0,
        );
        self.verify_server(i, why);
        if f.main.is_none() && f.append.is_none() && f.wo.is_none() && f.ro.is_none() {
            let temps = self.temp_files(Some(&f.name));
            if !temps.is_empty() {
                self.fail(format!(
                    "{} {why}, with all its handles closed: temporary uploads (never renamed or deleted) left on the server: {temps:?}",
                    f.name
                ));
            }
        }
    }

    /// Temporary upload names on the server (for `name` only, if given).
    fn temp_files(&self, name: Option<&str>) -> Vec<String> {
        dir_names(self.server.dir())
            .into_iter()
            .filter(|n| n.starts_with(".~ftpfs-"))
            .filter(|n| name.is_none_or(|name| n.ends_with(&format!("-{name}"))))
            .collect()
    }

    // ----- operations -----

    fn main(&self, i: usize) -> &File {
        self.files[i].main.as_ref().expect("main handle is open")
    }

    fn do_write(&mut self, i: usize, off: usize, len: usize, kind: &str) {
        let len = len.min(MAX_LEN - off);
        if len == 0 {
            return self.do_truncate(i);
        }
        let data = self.random_data(len);
        let old = self.files[i].model.len();
        self.note(i, format!("{kind} off={off} len={len} (size {old})"));
        let r = self.main(i).write_all_at(&data, off as u64);
        self.check(r, || format!("pwrite off={off} len={len}"));
        self.model_write(i, off, &data);
    }

    fn op_write(&mut self, i: usize) {
        let len = self.files[i].model.len();
        let off = self.pick_offset(len).min(MAX_LEN - 1);
        let size = self.pick_size();
        self.do_write(i, off, size, "write");
    }

    fn op_seq_write(&mut self, i: usize) {
        let off = self.files[i].model.len().min(MAX_LEN - 1);
        let size = self.pick_size();
        self.do_write(i, off, size, "seqwrite");
    }

    /// Several writes in order from the end (from 0 after an O_TRUNC: the streaming path).
    fn op_burst(&mut self, i: usize) {
        let n = self.rng.gen_range(2..=8);
        for _ in 0..n {
            let off = self.files[i].model.len();
            if off >= MAX_LEN {
                break;
            }
            let size = self.pick_size();
            self.do_write(i, off, size, "burst");
        }
    }

    /// A write that starts beyond the end, leaving a hole.
    fn op_sparse(&mut self, i: usize) {
        let len = self.files[i].model.len();
        if len + 2 >= MAX_LEN {
            return self.do_truncate(i);
        }
        let gap = match self.rng.gen_range(0..3) {
            0 => self.rng.gen_range(1..=self.page),
            1 => self.rng.gen_range(1..=64 << 10),
            _ => self.rng.gen_range(1..=512 << 10),
        };
        let off = (len + gap).min(MAX_LEN - 1);
        let size = self.pick_size();
        self.do_write(i, off, size, "sparse-write");
    }

    fn op_truncate(&mut self, i: usize) {
        self.do_truncate(i);
    }

    /// A new size for a truncate: smaller, larger, page-aligned, or (often: it is how files
    /// get rewritten in place, and it re-enters the streaming path) zero.
    fn pick_new_size(&mut self, len: usize) -> usize {
        match self.rng.gen_range(0..100) {
            0..=29 => self.rng.gen_range(0..=len),
            30..=49 => 0,
            50..=59 => (self.rng.gen_range(0..=len / self.page + 1) * self.page).min(MAX_LEN),
            _ => self.rng.gen_range(len..=(len + (512 << 10)).min(MAX_LEN)),
        }
    }

    /// ftruncate on the main handle, or now and then truncate(2) on the path.
    fn do_truncate(&mut self, i: usize) {
        let len = self.files[i].model.len();
        let new = self.pick_new_size(len);
        if self.rng.gen_bool(0.25) {
            self.note(i, format!("truncate(path) {len} -> {new}"));
            let r = truncate_path(&self.files[i].mnt, new);
            self.check(r, || format!("truncate(path) to {new}"));
        } else {
            self.note(i, format!("ftruncate {len} -> {new}"));
            let r = self.main(i).set_len(new as u64);
            self.check(r, || format!("ftruncate to {new}"));
        }
        self.files[i].model.resize(new, 0);
    }

    fn op_read(&mut self, i: usize) {
        let len = self.files[i].model.len();
        let off = if self.rng.gen_ratio(1, 10) {
            len + self.rng.gen_range(0..=8192)
        } else {
            self.pick_offset(len)
        };
        let size = self.pick_size();
        self.note(i, format!("read off={off} len={size} (size {len})"));
        let got = read_full_at(self.main(i), off as u64, size);
        let got = self.check(got, || format!("pread off={off} len={size}"));
        let model = &self.files[i].model;
        let want = &model[off.min(len)..(off + size).min(len)];
        self.compare("pread through the main handle", &got, want, off);
    }

    /// A write through a second handle opened O_APPEND; sometimes closed right after.
    fn op_append(&mut self, i: usize) {
        let len = self.files[i].model.len();
        if len >= MAX_LEN {
            return self.do_truncate(i);
        }
        let size = self.pick_size().min(MAX_LEN - len);
        if self.files[i].append.is_none() {
            self.note(i, "open O_WRONLY|O_APPEND".into());
            let path = self.files[i].mnt.clone();
            let r = OpenOptions::new().append(true).open(&path);
            let f = self.check(r, || "open O_APPEND".into());
            self.files[i].append = Some(f);
        }
        let data = self.random_data(size);
        self.note(i, format!("append len={size} (size {len})"));
        let r = self.files[i].append.as_ref().unwrap().write_all(&data);
        self.check(r, || format!("append write len={size}"));
        self.files[i].model.extend_from_slice(&data);
        if self.rng.gen_bool(0.5) {
            self.close_append(i);
            self.verify_server(i, "after closing the O_APPEND handle");
        }
    }

    /// A write at an offset through a second, write-only handle (which ftpfs opens with
    /// direct I/O, bypassing the page cache the other handles read through); sometimes
    /// closed right after.
    fn op_write_other(&mut self, i: usize) {
        if self.files[i].wo.is_none() {
            self.note(i, "open O_WRONLY (second handle)".into());
            let path = self.files[i].mnt.clone();
            let r = OpenOptions::new().write(true).open(&path);
            let f = self.check(r, || "open O_WRONLY".into());
            self.files[i].wo = Some(f);
        }
        let len = self.files[i].model.len();
        let off = self.pick_offset(len).min(MAX_LEN - 1);
        let size = self.pick_size().min(MAX_LEN - off);
        let data = self.random_data(size);
        self.note(
            i,
            format!("write (write-only handle) off={off} len={size} (size {len})"),
        );
        let r = self.files[i]
            .wo
            .as_ref()
            .unwrap()
            .write_all_at(&data, off as u64);
        self.check(r, || {
            format!("pwrite (write-only handle) off={off} len={size}")
        });
        self.model_write(i, off, &data);
        if self.rng.gen_bool(0.4) {
            self.close_wo(i);
            self.verify_server(i, "after closing the write-only handle");
        }
    }

    fn close_wo(&mut self, i: usize) {
        if let Some(f) = self.files[i].wo.take() {
            self.note(i, "close write-only handle".into());
            let r = close_checked(f);
            self.check(r, || "close of the write-only handle".into());
        }
    }

    fn close_append(&mut self, i: usize) {
        if let Some(f) = self.files[i].append.take() {
            self.note(i, "close O_APPEND handle".into());
            let r = close_checked(f);
            self.check(r, || "close of the O_APPEND handle".into());
        }
    }

    fn close_main(&mut self, i: usize) {
        if let Some(f) = self.files[i].main.take() {
            self.note(i, "close main handle".into());
            let r = close_checked(f);
            self.check(r, || "close of the main handle".into());
        }
    }

    /// Opens the main handle; with `direct`, O_DIRECT (reads and writes bypass the kernel's
    /// page cache and reach ftpfs as they are).
    fn open_main(&mut self, i: usize, truncate: bool, direct: bool) {
        self.note(
            i,
            format!(
                "open O_RDWR{}{}",
                if truncate { "|O_TRUNC" } else { "" },
                if direct { "|O_DIRECT" } else { "" }
            ),
        );
        let path = self.files[i].mnt.clone();
        let r = OpenOptions::new()
            .read(true)
            .write(true)
            .truncate(truncate)
            .custom_flags(if direct { libc::O_DIRECT } else { 0 })
            .open(&path);
        let f = self.check(r, || format!("open (truncate={truncate})"));
        self.files[i].main = Some(f);
        if truncate {
            self.files[i].model.clear();
        }
    }

    /// Closes the file (and usually its other handles), checks everything, maybe changes
    /// it while closed, and opens it again, sometimes with O_TRUNC.
    fn op_close_reopen(&mut self, i: usize) {
        if self.rng.gen_bool(0.7) {
            self.close_append(i);
        }
        if self.rng.gen_bool(0.7) {
            self.close_wo(i);
        }
        if self.rng.gen_bool(0.7) {
            self.close_ro(i);
        }
        self.close_main(i);
        if self.files[i].append.is_none()
            && self.files[i].wo.is_none()
            && self.files[i].ro.is_none()
        {
            self.verify_full(i, "after close");
            match self.rng.gen_range(0..100) {
                0..=19 => {
                    // truncate(2) on a file nobody has open.
                    let len = self.files[i].model.len();
                    let new = self.pick_new_size(len);
                    self.note(i, format!("truncate(path) {len} -> {new} while closed"));
                    let r = truncate_path(&self.files[i].mnt, new);
                    self.check(r, || format!("truncate(path) to {new}"));
                    self.files[i].model.resize(new, 0);
                    self.verify_full(i, "after truncate(path)");
                }
                20..=34 => {
                    // Rewrite the whole file in one go (creat + sequential writes + close).
                    let size = self.pick_size() * self.rng.gen_range(1..=4);
                    let data = self.random_data(size.min(MAX_LEN));
                    self.note(
                        i,
                        format!("rewrite whole file (fs::write) len={}", data.len()),
                    );
                    let path = self.files[i].mnt.clone();
                    let r = fs::write(&path, &data);
                    self.check(r, || "fs::write of the whole file".into());
                    self.files[i].model = data;
                    self.verify_full(i, "after rewriting it whole");
                }
                _ => {}
            }
        } else {
            self.verify_server(
                i,
                "after closing the main handle (other handles still open)",
            );
        }
        let truncate = self.rng.gen_bool(0.35);
        let direct = self.rng.gen_bool(0.2);
        self.open_main(i, truncate, direct);
    }

    fn op_fsync(&mut self, i: usize) {
        let data_only = self.rng.gen_bool(0.3);
        self.note(i, if data_only { "fdatasync" } else { "fsync" }.into());
        let r = if data_only {
            self.main(i).sync_data()
        } else {
            self.main(i).sync_all()
        };
        self.check(r, || "fsync".into());
        self.verify_server(i, "after fsync");
    }

    /// MAP_SHARED, compare the mapped bytes, write a small range, msync, munmap.
    fn op_mmap(&mut self, i: usize) {
        let len = self.files[i].model.len();
        if len == 0 {
            return self.op_write(i);
        }
        let off = self.rng.gen_range(0..len);
        let wlen = self.rng.gen_range(1..=MAX_MMAP_WRITE.min(len - off));
        let map_off = off / self.page * self.page;
        let map_len = off + wlen - map_off;
        let data = self.random_data(wlen);
        self.note(
            i,
            format!("mmap write off={off} len={wlen} (map {map_off}+{map_len}, size {len})"),
        );
        let fd = self.main(i).as_raw_fd();
        // SAFETY: maps `map_len` bytes of the file, all within its size (`off + wlen <= len`).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                map_off as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            self.fail(format!("mmap: {}", io::Error::last_os_error()));
        }
        // SAFETY: `p` maps `map_len` readable and writable bytes until munmap below.
        let mapped = unsafe { std::slice::from_raw_parts_mut(p as *mut u8, map_len) };
        if let Some(d) = difference(mapped, &self.files[i].model[map_off..off + wlen], map_off) {
            // SAFETY: unmapping what was mapped above.
            unsafe { libc::munmap(p, map_len) };
            self.fail(format!(
                "mapped bytes before the mmap write differ from the model: {d}"
            ));
        }
        mapped[off - map_off..].copy_from_slice(&data);
        // SAFETY: `p` is the mapping above.
        let rc = unsafe { libc::msync(p, map_len, libc::MS_SYNC) };
        let err = io::Error::last_os_error();
        // SAFETY: `p` is the mapping above; `mapped` is not used after this.
        unsafe { libc::munmap(p, map_len) };
        if rc != 0 {
            self.fail(format!("msync: {err}"));
        }
        self.model_write(i, off, &data);
    }

    /// Opens a second, read-only handle and reads through it.
    fn op_read_other(&mut self, i: usize) {
        if self.files[i].ro.is_none() {
            let direct = self.rng.gen_bool(0.5);
            let what = if direct {
                "O_RDONLY|O_DIRECT"
            } else {
                "O_RDONLY"
            };
            self.note(i, format!("open {what} (second handle)"));
            let path = self.files[i].mnt.clone();
            let r = OpenOptions::new()
                .read(true)
                .custom_flags(if direct { libc::O_DIRECT } else { 0 })
                .open(&path);
            let f = self.check(r, || format!("open {what}"));
            self.files[i].ro = Some(f);
        }
        let n = self.rng.gen_range(1..=4);
        for _ in 0..n {
            let len = self.files[i].model.len();
            let off = self.pick_offset(len);
            let size = self.pick_size();
            self.note(
                i,
                format!("read (second handle) off={off} len={size} (size {len})"),
            );
            let got = read_full_at(self.files[i].ro.as_ref().unwrap(), off as u64, size);
            let got = self.check(got, || {
                format!("pread (second handle) off={off} len={size}")
            });
            let model = &self.files[i].model;
            let want = &model[off.min(len)..(off + size).min(len)];
            self.compare("pread through a second read-only handle", &got, want, off);
        }
        // Sometimes it stays open, and sees later changes (and the main handle's close).
        if self.rng.gen_bool(0.6) {
            self.close_ro(i);
        }
    }

    fn close_ro(&mut self, i: usize) {
        if let Some(f) = self.files[i].ro.take() {
            self.note(i, "close second handle".into());
            let r = close_checked(f);
            self.check(r, || "close of the read-only handle".into());
        }
    }

    fn op_stat(&mut self, i: usize) {
        let len = self.files[i].model.len() as u64;
        self.note(i, format!("stat (size {len})"));
        let fst = self.check(self.main(i).metadata(), || "fstat".into()).len();
        let st = self
            .check(fs::metadata(&self.files[i].mnt), || "stat".into())
            .len();
        if fst != len || st != len {
            self.fail(format!(
                "st_size: fstat says {fst}, stat says {st}, the model has {len} bytes"
            ));
        }
    }

    // ----- the run -----

    /// Opens the three files: `fsx-0.bin` and `fsx 2.dat` were put on the server before the
    /// mount with `pre` as content; `fsx-1.bin` is created through the mount.
    fn setup(&mut self, pre: [Vec<u8>; 2]) {
        let [pre0, pre2] = pre;
        for (name, model) in [(NAMES[0], pre0), (NAMES[1], Vec::new()), (NAMES[2], pre2)] {
            self.files.push(FileState {
                name: name.to_string(),
                mnt: self.m.join(name),
                srv: self.server.dir().join(name),
                main: None,
                append: None,
                wo: None,
                ro: None,
                model,
            });
        }
        for i in 0..self.files.len() {
            self.cur_file = i;
            self.note(
                i,
                format!(
                    "initial size {}; open O_RDWR|O_CREAT",
                    self.files[i].model.len()
                ),
            );
            let path = self.files[i].mnt.clone();
            let r = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path);
            let f = self.check(r, || "initial open (O_CREAT)".into());
            self.files[i].main = Some(f);
        }
    }

    fn pick_op(&mut self) -> Op {
        let total: u32 = OPS.iter().map(|&(_, w)| w).sum();
        let mut x = self.rng.gen_range(0..total);
        for &(op, w) in &OPS {
            if x < w {
                return op;
            }
            x -= w;
        }
        unreachable!()
    }

    fn run(&mut self, pre: [Vec<u8>; 2]) {
        self.setup(pre);
        for op in 0..self.ops {
            self.op = op;
            let i = self.rng.gen_range(0..self.files.len());
            self.cur_file = i;
            let kind = self.pick_op();
            self.counts.iter_mut().find(|(k, _)| *k == kind).unwrap().1 += 1;
            match kind {
                Op::Write => self.op_write(i),
                Op::SeqWrite => self.op_seq_write(i),
                Op::Burst => self.op_burst(i),
                Op::Sparse => self.op_sparse(i),
                Op::Truncate => self.op_truncate(i),
                Op::Read => self.op_read(i),
                Op::Append => self.op_append(i),
                Op::CloseReopen => self.op_close_reopen(i),
                Op::Fsync => self.op_fsync(i),
                Op::Mmap => self.op_mmap(i),
                Op::ReadOther => self.op_read_other(i),
                Op::WriteOther => self.op_write_other(i),
                Op::Stat => self.op_stat(i),
            }
        }
        self.op = self.ops;
        for i in 0..self.files.len() {
            self.cur_file = i;
            self.close_append(i);
            self.close_wo(i);
            self.close_ro(i);
            self.close_main(i);
            self.verify_full(i, "at the end");
        }
        self.cur_file = usize::MAX;
        let temps = self.temp_files(None);
        if !temps.is_empty() {
            self.fail(format!(
                "temporary uploads left on the server at the end: {temps:?}"
            ));
        }
        let mut want: Vec<String> = self.files.iter().map(|f| f.name.clone()).collect();
        want.sort();
        let shown = dir_names(self.m.path());
        if shown != want {
            self.fail(format!("the mount lists {shown:?}, expected {want:?}"));
        }
        let on_server = dir_names(self.server.dir());
        if on_server != want {
            self.fail(format!("the server has {on_server:?}, expected {want:?}"));
        }
    }
}

fn run_fsx(server: &Server) {
    let (label, default_seed) = match (server.kind(), server.options().proftpd_allow_overwrite) {
        (ServerKind::Vsftpd, _) => ("fsx::vsftpd", 0xF5C0_0001),
        (ServerKind::Proftpd, true) => ("fsx::proftpd", 0xF5C0_0002),
        (ServerKind::Proftpd, false) => ("fsx_proftpd_no_overwrite", 0xF5C0_0004),
        (ServerKind::PureFtpd, _) => ("fsx::pure_ftpd", 0xF5C0_0003),
    };
    let seed = env_number("FSX_SEED").unwrap_or(default_seed);
    let mut rng = StdRng::seed_from_u64(seed);
    // The pre-existing files must be on the server before the mount lists the directory.
    let mut pre0 = vec![0u8; rng.gen_range(1..=1 << 20)];
    rng.fill(&mut pre0[..]);
    let mut pre2 = vec![0u8; 64 << 10];
    rng.fill(&mut pre2[..]);
    server.populate(|dir: &Path| {
        fs::write(dir.join(NAMES[0]), &pre0).unwrap();
        fs::write(dir.join(NAMES[2]), &pre2).unwrap();
    });
    let m = mount_for(server, &[]);
    let started = Instant::now();
    let mut fsx = Fsx::new(server, &m, label, seed, rng);
    fsx.run([pre0, pre2]);
    let elapsed = started.elapsed();
    let counts = fsx
        .counts
        .iter()
        .map(|(k, n)| format!("{k:?}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    println!(
        "fsx {label}: seed {seed:#x}, {} ops in {elapsed:.1?} ({counts})",
        fsx.ops
    );
    drop(fsx);
    let status = m.unmount();
    assert!(
        status.success(),
        "ftpfs exited with {status} after the fsx run"
    );
}

for_each_server_kind!(fsx, run_fsx);

/// proftpd with its defaults: it refuses to overwrite files (and APPE, REST+STOR), so every
/// upload must replace the target another way.
#[test]
fn fsx_proftpd_no_overwrite() {
    let server = Server::start(
        ServerKind::Proftpd,
        ServerOptions::default().without_overwrite(),
    );
    run_fsx(&server);
}
