//! Model-based test of the namespace around open files: seeded random create (with and
//! without O_TRUNC), write, close, rename, unlink and checkpoint operations on five names,
//! applied both to a real ftpfs mount and to a local directory (the reference: the kernel's
//! own POSIX semantics). At each checkpoint every handle is closed (close errors fail the
//! test), then the mount's names and contents, and the server's, must equal the reference,
//! with no temporary upload left on the server.
//!
//! This is where files created here and not uploaded yet meet renames and unlinks while
//! streams run into their names. `NAMES_SEED` / `NAMES_OPS` override the seed and length.

mod common;

use std::fs;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use common::*;

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const DEFAULT_OPS: usize = 400;

/// The outcome of a syscall as an errno (0 for success), comparable across both trees.
fn errno<T>(r: std::io::Result<T>) -> (Option<T>, i32) {
    match r {
        Ok(v) => (Some(v), 0),
        Err(e) => (None, e.raw_os_error().unwrap_or(-1)),
    }
}

fn names_and_contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|n| {
            let content = fs::read(dir.join(&n)).unwrap();
            (n, content)
        })
        .collect();
    v.sort();
    v
}

struct Run<'a> {
    mnt: &'a Path,
    reference: &'a Path,
    server: &'a Path,
    /// Open pairs: (mount fd, reference fd, name at open).
    handles: Vec<(i32, i32, &'static str)>,
    log: Vec<String>,
}

impl Run<'_> {
    fn fail(&self, what: &str, m: &Mount) -> ! {
        let tail = self.log[self.log.len().saturating_sub(40)..].join("\n");
        panic!("{what}\nlast operations:\n{tail}\nftpfs log:\n{}", m.log());
    }

    fn checkpoint(&mut self, m: &Mount) {
        for (fm, fr, name) in std::mem::take(&mut self.handles) {
            // SAFETY: each descriptor was opened by this test and is closed once, here.
            let closed = unsafe { libc::close(fm) };
            if closed != 0 {
                let e = std::io::Error::last_os_error();
                self.fail(&format!("close of {name} on the mount: {e}"), m);
            }
            // SAFETY: as above.
            drop(unsafe { fs::File::from_raw_fd(fr) });
        }
        let want = names_and_contents(self.reference);
        if names_and_contents(self.mnt) != want {
            self.fail("the mount differs from the reference", m);
        }
        let on_server: Vec<_> = names_and_contents(self.server)
            .into_iter()
            .filter(|(n, _)| !n.starts_with(".~ftpfs-"))
            .collect();
        if on_server != want {
            self.fail("the server differs from the reference", m);
        }
        let temps: Vec<_> = fs::read_dir(self.server)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(".~ftpfs-"))
            .collect();
        if !temps.is_empty() {
            self.fail(&format!("temporary uploads left: {temps:?}"), m);
        }
    }
}

fn model(server: &Server) {
    let seed = env_number("NAMES_SEED").unwrap_or(0x5eed_0000 + server.kind() as u64);
    let ops = env_op_count("NAMES_OPS", DEFAULT_OPS);
    let mut rng = StdRng::seed_from_u64(seed);
    let m = mount_for(server, &[]);
    let reference = tempfile::tempdir().unwrap();
    let mut run = Run {
        mnt: m.path(),
        reference: reference.path(),
        server: server.dir(),
        handles: Vec::new(),
        log: vec![format!(
            "seed {seed:#x}, {ops} operations (NAMES_SEED, NAMES_OPS)"
        )],
    };
    for i in 0..ops {
        let name = NAMES[rng.gen_range(0..NAMES.len())];
        let other = NAMES[rng.gen_range(0..NAMES.len())];
        match rng.gen_range(0..9) {
            0..=2 => {
                let trunc = rng.gen_bool(0.5);
                let open = |dir: &Path| {
                    fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(trunc)
                        .mode(0o644)
                        .open(dir.join(name))
                        .map(|f| f.into_raw_fd())
                };
                let (fm, em) = errno(open(run.mnt));
                let (fr, er) = errno(open(run.reference));
                run.log
                    .push(format!("{i} open {name} trunc={trunc}: {em} {er}"));
                match (fm, fr) {
                    (Some(fm), Some(fr)) => run.handles.push((fm, fr, name)),
                    _ => run.fail(&format!("open {name}: errno {em} vs {er}"), &m),
                }
            }
            3 | 4 if !run.handles.is_empty() => {
                let (fm, fr, at_open) = run.handles[rng.gen_range(0..run.handles.len())];
                let data = vec![rng.gen::<u8>(); rng.gen_range(1..5000)];
                let write = |fd: i32| {
                    // SAFETY: writes from a live buffer to a descriptor this test owns.
                    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
                    if n == data.len() as isize {
                        0
                    } else {
                        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
                    }
                };
                let (em, er) = (write(fm), write(fr));
                run.log.push(format!(
                    "{i} write {} bytes to {at_open}: {em} {er}",
                    data.len()
                ));
                if em != er {
                    run.fail(&format!("write to {at_open}: errno {em} vs {er}"), &m);
                }
            }
            5 if !run.handles.is_empty() => {
                let (fm, fr, at_open) = run.handles.remove(rng.gen_range(0..run.handles.len()));
                // SAFETY: descriptors opened by this test, closed once.
                let closed = unsafe { libc::close(fm) };
                // SAFETY: as above.
                drop(unsafe { fs::File::from_raw_fd(fr) });
                run.log.push(format!("{i} close {at_open}: {closed}"));
                if closed != 0 {
                    let e = std::io::Error::last_os_error();
                    run.fail(&format!("close of {at_open}: {e}"), &m);
                }
            }
            6 => {
                let rename = |dir: &Path| fs::rename(dir.join(name), dir.join(other));
                let ((_, em), (_, er)) = (errno(rename(run.mnt)), errno(rename(run.reference)));
                run.log
                    .push(format!("{i} rename {name} {other}: {em} {er}"));
                if em != er {
                    run.fail(&format!("rename {name} {other}: errno {em} vs {er}"), &m);
                }
            }
            7 => {
                let unlink = |dir: &Path| fs::remove_file(dir.join(name));
                let ((_, em), (_, er)) = (errno(unlink(run.mnt)), errno(unlink(run.reference)));
                run.log.push(format!("{i} unlink {name}: {em} {er}"));
                if em != er {
                    run.fail(&format!("unlink {name}: errno {em} vs {er}"), &m);
                }
            }
            _ => {
                run.log.push(format!("{i} checkpoint"));
                run.checkpoint(&m);
            }
        }
    }
    run.log.push("final checkpoint".into());
    run.checkpoint(&m);
}
for_each_server_kind!(names_model, model);
