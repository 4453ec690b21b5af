//! Command lines that fit the server, however deep the path: the absolute-or-relative rule,
//! the line limit learned from the server, and the mount-wide record of moved directories
//! that keeps every session's working directory honest.
//!
//! The rule (docs/ARCHITECTURE.md, "Long paths"): a command about a path goes out with the
//! absolute path when its line fits the budget, exactly as it always did (no extra command).
//! Otherwise it goes out relative: the session changes into the parent directory (skipped when
//! it is already there) and sends only the last name. The change of directory itself is
//! planned by [`route`]: an absolute `CWD` to the deepest ancestor whose line fits, then
//! relative `CWD a/b` steps down, or `CDUP`s from the current directory to the common
//! ancestor and steps down from there, whichever takes fewer commands. A line that cannot be
//! made to fit (a name longer than the budget allows) is refused before anything is sent
//! (`NameTooLong`, ENAMETOOLONG).
//!
//! The budget is [`SAFE_LINE`] bytes, lowered when a server shows a smaller limit: [`Routes`]
//! remembers the longest line answered and the shortest one ignored (a reply deadline passed,
//! or a "500 line too long"), so a server that is silent about long lines costs one deadline,
//! not one per operation. A silence is taken for a length limit only when no line as long was
//! answered before and the line is longer than [`MIN_SUSPECT`]; the limit is forgotten when a
//! line as long is answered after all, or after [`LIMIT_MEMORY`], so a one-off stall does not
//! cripple the mount for good.
//!
//! Listings deep down: proftpd 1.3.8 crashes (SIGSEGV in `get_dir_ctxt`, the connection
//! drops) on MLSD in a directory whose path is over about 2 KiB, while LIST works there.
//! [`Routes::mlsd_fits`] learns that the same way: a connection lost on MLSD in a directory
//! deeper than [`MLSD_SUSPECT`] bytes and than any MLSD that worked makes directories that
//! deep be listed with `LIST -a` (whose coarse times are refined with MDTM, as on vsftpd).
//!
//! Working directories are session state. A session trusts the directory it changed into
//! only while no session of the mount has renamed or removed that directory or one above it
//! since ([`Routes::moved`], [`Routes::unmoved_since`]); otherwise it changes into it again.
//!
//! Locks: `learned` and `moves` are leaves, never held across a network call or each other.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::RemotePath;

/// The longest command line sent (bytes on the wire, CRLF included) unless the server showed
/// a smaller limit. proftpd with `CommandBufferSize 512` (a common setting; 1.3.8's default
/// takes about 4 KiB) answers lines of up to 511 bytes and ignores longer ones without a
/// word; vsftpd takes 4,094 and pure-ftpd more. 510 fits every server we know, and keeps an
/// absolute path of up to about 500 bytes a single command.
pub const SAFE_LINE: usize = 510;

/// Lines at most this long are never taken to be too long for the server: a deadline that
/// passes on one is a stall, not a limit (no server limits lines to fewer bytes; a budget this
/// low would refuse names a Linux filesystem allows).
pub const MIN_SUSPECT: usize = 128;

/// How long a learned limit is kept, when nothing contradicts it: a silence that was a
/// one-off stall costs relative commands (or refusals of very long names) for this long at
/// most, and a server that really is silent costs one more deadline after it.
pub const LIMIT_MEMORY: Duration = Duration::from_secs(600);

/// Directories whose path is at most this long are never taken to break MLSD: a connection
/// lost there is the network's or the server's fault, not the depth's.
pub const MLSD_SUSPECT: usize = 1024;

/// Renames and removals remembered for [`Routes::unmoved_since`]; a session whose directory
/// is older than all of them changes into it again.
const MOVES_KEPT: usize = 256;

/// The length of `line` on the wire: one byte per char (the byte-transparent encoding paths
/// are built with; a 0xFF is sent as one byte, see `pipeline.rs`), CRLF added.
pub fn line_len(line: &str) -> usize {
    line.chars().count() + 2
}

/// What the server showed of its line limit.
#[derive(Debug, Default)]
struct Learned {
    /// The longest line it answered.
    answered: usize,
    /// The shortest line it ignored, and when.
    ignored: Option<(usize, Instant)>,
    /// The longest directory path MLSD worked in.
    mlsd_worked: usize,
    /// The shortest directory path MLSD lost the connection in.
    mlsd_broke: Option<usize>,
}

/// Directories renamed or removed through this mount, numbered.
#[derive(Debug, Default)]
struct Moves {
    generation: u64,
    recent: VecDeque<(u64, RemotePath)>,
}

/// Shared by every session of a mount (in `SessionConfig`).
#[derive(Debug, Default)]
pub struct Routes {
    learned: Mutex<Learned>,
    moves: Mutex<Moves>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Routes {
    pub fn new() -> Routes {
        Routes::default()
    }

    /// The longest line to send now (bytes, CRLF included).
    pub fn budget(&self) -> usize {
        let mut learned = lock(&self.learned);
        match learned.ignored {
            Some((len, at)) if at.elapsed() < LIMIT_MEMORY => (len - 1).min(SAFE_LINE),
            Some((len, _)) => {
                log::info!("trying command lines of {len} bytes again");
                learned.ignored = None;
                SAFE_LINE
            }
            None => SAFE_LINE,
        }
    }

    /// The server answered a line of `len` bytes.
    pub fn answered(&self, len: usize) {
        let mut learned = lock(&self.learned);
        learned.answered = learned.answered.max(len);
        if learned.ignored.is_some_and(|(ignored, _)| len >= ignored) {
            log::info!("the server answered a command line of {len} bytes after all");
            learned.ignored = None;
        }
    }

    /// No reply came for a line of `len` bytes within the deadline. Returns whether that is
    /// taken for the server's line limit (and remembered): only when the line is longer than
    /// [`MIN_SUSPECT`] and than any line answered so far.
    /// Whether a line of `len` bytes is known to be taken: no longer than one the server has
    /// answered (or than any server's limit). A line that is not may be dropped silently,
    /// which would put the replies of commands pipelined after it out of step.
    pub fn proven(&self, len: usize) -> bool {
        len <= lock(&self.learned).answered.max(MIN_SUSPECT)
    }

    pub fn silent(&self, len: usize) -> bool {
        self.too_long(len, "did not answer")
    }

    /// The server refused a line of `len` bytes as too long ("500 Input line too long").
    /// Returns whether that was learned, as for [`Routes::silent`].
    pub fn refused(&self, len: usize) -> bool {
        self.too_long(len, "refused")
    }

    fn too_long(&self, len: usize, what: &str) -> bool {
        let mut learned = lock(&self.learned);
        if len <= MIN_SUSPECT || len <= learned.answered {
            return false;
        }
        let shortest = learned.ignored.map_or(len, |(ignored, _)| ignored.min(len));
        learned.ignored = Some((shortest, Instant::now()));
        log::warn!(
            "the server {what} a command line of {len} bytes (it answered up to {}): \
             sending at most {} bytes per line from now on, longer paths relative to a \
             working directory",
            learned.answered,
            (shortest - 1).min(SAFE_LINE)
        );
        true
    }

    /// Whether a directory whose path is `len` bytes may be listed with MLSD.
    pub fn mlsd_fits(&self, len: usize) -> bool {
        lock(&self.learned)
            .mlsd_broke
            .is_none_or(|broke| len < broke)
    }

    /// MLSD worked in a directory whose path is `len` bytes.
    pub fn mlsd_worked(&self, len: usize) {
        let mut learned = lock(&self.learned);
        learned.mlsd_worked = learned.mlsd_worked.max(len);
    }

    /// The connection was lost on MLSD in a directory whose path is `len` bytes. Returns
    /// whether directories that deep are listed with LIST from now on.
    pub fn mlsd_broke(&self, len: usize) -> bool {
        let mut learned = lock(&self.learned);
        if len <= MLSD_SUSPECT || len <= learned.mlsd_worked {
            return false;
        }
        let shortest = learned.mlsd_broke.map_or(len, |b| b.min(len));
        learned.mlsd_broke = Some(shortest);
        log::warn!(
            "the server dropped the connection on MLSD in a directory {len} bytes deep (it \
             listed {} bytes deep): directories {shortest} bytes deep or more are listed \
             with LIST from now on",
            learned.mlsd_worked
        );
        true
    }

    /// The current number of [`Routes::moved`] calls: taken before changing directory.
    pub fn generation(&self) -> u64 {
        lock(&self.moves).generation
    }

    /// `paths` were renamed away, renamed over or removed (a directory, or maybe one).
    pub fn moved(&self, paths: &[&RemotePath]) {
        let mut moves = lock(&self.moves);
        moves.generation += 1;
        let generation = moves.generation;
        for path in paths {
            moves.recent.push_back((generation, (*path).clone()));
        }
        // Whole generations only, so that a kept generation is complete.
        while moves.recent.len() > MOVES_KEPT {
            let oldest = moves.recent.front().map(|(g, _)| *g);
            while moves.recent.front().map(|(g, _)| *g) == oldest {
                moves.recent.pop_front();
            }
        }
    }

    /// Whether `dir`, entered at `generation`, is known to be where it was: nothing at or
    /// above it has moved since (as far as this mount can tell).
    pub fn unmoved_since(&self, dir: &RemotePath, generation: u64) -> bool {
        let moves = lock(&self.moves);
        if moves.generation == generation {
            return true;
        }
        let complete = moves
            .recent
            .front()
            .is_some_and(|(oldest, _)| *oldest <= generation + 1);
        complete
            && !moves
                .recent
                .iter()
                .any(|(g, path)| *g > generation && dir.starts_with(path))
    }
}

/// One command on the way from one working directory to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `CWD arg`, absolute or relative to where the session is; the session is then at the
    /// target's ancestor of `depth` names.
    Cwd { arg: String, depth: usize },
    /// `CDUP`: to the parent of where the session is.
    Up,
}

/// The commands that take a session from `cwd` (its working directory, when known) into
/// `target`, whose names are `wire` as sent (one per name of `target`), with no line longer
/// than `budget`: the fewer of (a) an absolute CWD to the deepest ancestor of `target` whose
/// line fits, then relative steps down, and (b) CDUPs from `cwd` up to the common ancestor,
/// then relative steps down; (a) on a tie. `None` when a name alone does not fit in a line.
pub fn route(
    cwd: Option<&RemotePath>,
    target: &RemotePath,
    wire: &[String],
    budget: usize,
) -> Option<Vec<Step>> {
    debug_assert_eq!(wire.len(), target.depth());
    let absolute = (0..=wire.len()).rev().find_map(|k| {
        let arg = format!("/{}", wire[..k].join("/"));
        (line_len(&format!("CWD {arg}")) <= budget).then_some((arg, k))
    });
    let from_root = absolute.and_then(|(arg, k)| {
        let mut steps = vec![Step::Cwd { arg, depth: k }];
        steps.extend(down(wire, k, budget)?);
        Some(steps)
    });
    let from_cwd = cwd.and_then(|cwd| {
        let common = cwd.common_depth(target);
        let mut steps = vec![Step::Up; cwd.depth() - common];
        steps.extend(down(wire, common, budget)?);
        Some(steps)
    });
    match (from_root, from_cwd) {
        (Some(a), Some(b)) if b.len() < a.len() => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// Relative `CWD`s from the ancestor of `from` names down to the end of `wire`, each taking
/// as many names as fit in `budget`. `None` when one name alone does not fit.
fn down(wire: &[String], from: usize, budget: usize) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut at = from;
    while at < wire.len() {
        let mut end = at;
        while end < wire.len() && line_len(&format!("CWD {}", wire[at..=end].join("/"))) <= budget {
            end += 1;
        }
        if end == at {
            return None;
        }
        steps.push(Step::Cwd {
            arg: wire[at..end].join("/"),
            depth: end,
        });
        at = end;
    }
    Some(steps)
}

#[cfg(test)]
mod tests;
