//! How a directory's listing is fetched: from the cache, else from the server once however
//! many callers want it at the same time, with exact times, and ahead of the caller.
//!
//! - **One fetch per directory at a time** ([`Flights`]): a caller that finds a listing of the
//!   same directory already under way waits for it instead of listing again. Look-ahead and
//!   requests share this, so a `find` that reaches a directory being listed ahead waits for
//!   that listing rather than sending its own.
//! - **Exact times in the listing itself**: on LIST-only servers (vsftpd), whose lines give
//!   minutes or days, the files' MDTMs are sent pipelined right after the listing, on the same
//!   session (`Remote::list_many`): a few round trips per directory instead of one per file.
//!   This is done when the server takes pipelined commands ([`FtpFs::eager_times`]); then the
//!   listing's attributes are final, and readdirplus can hand them to the kernel. Times
//!   already learned are remembered per path (`FtpFs::mtimes`) while the listing shows the
//!   same coarse time and size, and not asked again.
//! - **Look-ahead** ([`Prefetcher`]): when a directory is read (opendir), its subdirectories
//!   (up to `prefetch_dirs`) are queued and listed by worker threads on spare sessions only
//!   (`Pool::try_checkout_spare`: never a reader's, never while a request waits for
//!   one). A tree walk then costs about one listing round trip per level. Bounds: at most
//!   [`QUEUE_MAX`] directories queued, one listing in flight per worker (`max_conns - 1`
//!   workers), and results go to the directory cache, which holds at most `cache::MAX_DIRS`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, SystemTime};

use super::cache::{Cached, Listing};
use super::{lock, write, FtpFs, Refined};
use crate::error::FsError;
use crate::remote::client::{Listed, Urgency};
use crate::remote::session::STAT_BATCH;
use crate::remote::{
    Entry, EntryKind, Name, RemoteError, RemoteErrorKind, RemotePath, TimePrecision,
};

/// Most directories waiting to be listed ahead; further ones are not queued.
pub const QUEUE_MAX: usize = 4096;
/// How long a worker waits before asking again for a spare session when there was none.
const NO_SESSION_PAUSE: Duration = Duration::from_millis(10);

/// Listings under way, by directory.
#[derive(Default)]
pub(super) struct Flights {
    map: Mutex<HashMap<RemotePath, Arc<Flight>>>,
}

/// One listing under way; followers wait on it.
#[derive(Default)]
pub(super) struct Flight {
    done: Mutex<bool>,
    ended: Condvar,
}

impl Flight {
    fn wait(&self) {
        let mut done = lock(&self.done);
        while !*done {
            done = self.ended.wait(done).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Who fetches: this caller ([`Turn::Lead`]), or someone already is.
pub(super) enum Turn<'a> {
    Lead(Lead<'a>),
    Follow(Arc<Flight>),
}

/// The right to fetch one directory's listing; dropping it wakes the followers.
pub(super) struct Lead<'a> {
    flights: &'a Flights,
    dir: RemotePath,
    flight: Arc<Flight>,
}

impl Flights {
    fn begin(&self, dir: &RemotePath) -> Turn<'_> {
        let mut map = lock(&self.map);
        if let Some(f) = map.get(dir) {
            return Turn::Follow(Arc::clone(f));
        }
        let flight = Arc::new(Flight::default());
        map.insert(dir.clone(), Arc::clone(&flight));
        Turn::Lead(Lead {
            flights: self,
            dir: dir.clone(),
            flight,
        })
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        lock(&self.flights.map).remove(&self.dir);
        *lock(&self.flight.done) = true;
        self.flight.ended.notify_all();
    }
}

/// The look-ahead queue and its workers.
pub(super) struct Prefetcher {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Subdirectories of one directory queued at most (`prefetch_dirs`; 0: off).
    per_dir: usize,
}

/// Work done ahead of the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Job {
    /// List a directory (a subdirectory of one being read).
    List(RemotePath),
    /// Download a small file (one that follows a small file being read; `ahead.rs`).
    Read(RemotePath),
}

#[derive(Default)]
struct Queue {
    dirs: VecDeque<Job>,
    queued: HashSet<Job>,
    /// Workers running (none until [`FtpFs::start_prefetch`]).
    workers: usize,
}

impl Prefetcher {
    pub(super) fn new(per_dir: usize) -> Prefetcher {
        Prefetcher {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            per_dir,
        }
    }

    pub(super) fn push(&self, dirs: impl IntoIterator<Item = Job>) {
        let mut q = lock(&self.queue);
        if q.workers == 0 {
            return;
        }
        let mut added = false;
        for dir in dirs {
            if q.dirs.len() >= QUEUE_MAX {
                break;
            }
            if q.queued.insert(dir.clone()) {
                q.dirs.push_back(dir);
                added = true;
            }
        }
        if added {
            self.ready.notify_all();
        }
    }

    fn pop(&self) -> Job {
        let mut q = lock(&self.queue);
        loop {
            if let Some(dir) = q.dirs.pop_front() {
                q.queued.remove(&dir);
                return dir;
            }
            q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Puts back a job no session was spare for, first in line.
    fn retry_later(&self, dir: Job) {
        let mut q = lock(&self.queue);
        if q.queued.insert(dir.clone()) {
            q.dirs.push_front(dir);
        }
    }

    /// Takes up to `max` more directories to list, oldest first.
    fn take_lists(&self, max: usize) -> Vec<RemotePath> {
        let mut q = lock(&self.queue);
        let mut taken = Vec::new();
        let mut i = 0;
        while taken.len() < max && i < q.dirs.len() {
            if matches!(q.dirs[i], Job::List(_)) {
                let job = q.dirs.remove(i).expect("in range");
                q.queued.remove(&job);
                if let Job::List(dir) = job {
                    taken.push(dir);
                }
            } else {
                i += 1;
            }
        }
        taken
    }

    /// Workers running (at least one, for dividing work).
    fn workers(&self) -> usize {
        lock(&self.queue).workers.max(1)
    }

    /// Directories queued now (for tests and the stats).
    pub(super) fn queued(&self) -> usize {
        lock(&self.queue).dirs.len()
    }
}

impl FtpFs {
    /// The listing of `dir`, from the cache, from a fetch under way, or from the server.
    pub(super) fn listing(&self, dir: &RemotePath) -> Result<Arc<Listing>, FsError> {
        loop {
            if let Some(cached) = lock(&self.cache).get(dir) {
                return from_cache(cached);
            }
            match self.flights.begin(dir) {
                Turn::Follow(flight) => flight.wait(),
                Turn::Lead(_lead) => {
                    // A fetch may have ended between the cache check and now.
                    if let Some(cached) = lock(&self.cache).peek(dir) {
                        return from_cache(cached);
                    }
                    // A request always gets a session (or an error): never `None`.
                    return self.fetch_listing(dir, Urgency::User)?.ok_or_else(|| {
                        FsError::Local("internal: a listing found no session".into())
                    });
                }
            }
        }
    }

    /// Lists `dir` on the server and caches the result (`None`: look-ahead found no spare
    /// session). Only the holder of the directory's [`Lead`] calls this.
    fn fetch_listing(
        &self,
        dir: &RemotePath,
        urgency: Urgency,
    ) -> Result<Option<Arc<Listing>>, FsError> {
        let fetched = self.fetch_listings(std::slice::from_ref(dir), urgency)?;
        fetched
            .map(|mut one| one.pop().expect("one result per directory"))
            .transpose()
    }

    /// Lists `dirs` on the server, on one session (together where the server lists over the
    /// control connection), and caches each result. `None`: look-ahead found no spare
    /// session. The caller holds every directory's [`Lead`].
    #[allow(clippy::type_complexity)]
    fn fetch_listings(
        &self,
        dirs: &[RemotePath],
        urgency: Urgency,
    ) -> Result<Option<Vec<Result<Arc<Listing>, FsError>>>, FsError> {
        let eager = self.eager_times();
        let refine = |dir: &RemotePath, e: &Entry| {
            eager
                && coarse_file(e)
                && Name::new(&e.name).is_ok_and(|n| self.known_mtime(&dir.join(&n), e).is_none())
        };
        let results = match self.remote.list_many(dirs, urgency, &refine) {
            Ok(None) => return Ok(None),
            Ok(Some(results)) => results,
            // One directory's error is its own (missing: remembered as such).
            Err(e) if dirs.len() == 1 => vec![Err(e)],
            Err(e) => return Err(e.into()),
        };
        let stored = dirs
            .iter()
            .zip(results)
            .map(|(dir, listed)| self.store_listing(dir, listed, urgency))
            .collect();
        Ok(Some(stored))
    }

    /// Caches what listing `dir` gave, with its exact times, and tells the kernel what
    /// changed since the previous listing.
    fn store_listing(
        &self,
        dir: &RemotePath,
        listed: Result<Listed, RemoteError>,
        urgency: Urgency,
    ) -> Result<Arc<Listing>, FsError> {
        let listed = match listed {
            Ok(listed) => listed,
            Err(e) if e.kind == RemoteErrorKind::NotFound => {
                crate::stats::add(&crate::stats::LISTINGS, 1);
                lock(&self.cache).insert(dir.clone(), Cached::Missing);
                return Err(FsError::NotFound);
            }
            Err(e) => return Err(e.into()),
        };
        crate::stats::add(&crate::stats::LISTINGS, 1);
        if urgency == Urgency::Spare {
            crate::stats::add(&crate::stats::PREFETCHED_LISTINGS, 1);
        }
        let eager = self.eager_times();
        let mut entries = listed.entries;
        for (i, exact) in listed.exact {
            let e = &entries[i];
            if let Ok(name) = Name::new(&e.name) {
                let r = Refined {
                    coarse: e.mtime,
                    size: e.size,
                    exact,
                };
                lock(&self.mtimes).put(dir.join(&name), r);
            }
            set_exact(&mut entries[i], exact);
        }
        if eager {
            for e in entries.iter_mut().filter(|e| coarse_file(e)) {
                let known = Name::new(&e.name)
                    .ok()
                    .and_then(|n| self.known_mtime(&dir.join(&n), e));
                if let Some(exact) = known {
                    set_exact(e, exact);
                }
            }
        }
        // Our own uploads in progress are not shown.
        entries.retain(|e| !write::is_temp_name(&e.name));
        self.contain_links(dir, &mut entries);
        self.add_pending(dir, &mut entries);
        let listing = Arc::new(Listing::new(entries));
        let previous = {
            let mut cache = lock(&self.cache);
            let previous = cache.previous(dir);
            cache.insert(dir.clone(), Cached::Present(Arc::clone(&listing)));
            previous
        };
        if let Some(previous) = previous {
            self.compare_listings(dir, &previous, &listing);
        }
        Ok(listing)
    }

    /// The exact time learned earlier for `path`, if its listing still shows the same coarse
    /// time and size.
    pub(super) fn known_mtime(&self, path: &RemotePath, entry: &Entry) -> Option<SystemTime> {
        lock(&self.mtimes)
            .get(path)
            .filter(|r| r.coarse == entry.mtime && r.size == entry.size)
            .map(|r| r.exact)
    }

    /// Whether listings get their exact times when they are fetched: on servers whose
    /// listings give coarse times (no MLSD), when MDTM is offered and wanted, and commands
    /// can be pipelined. Decided once (readdirplus depends on it, see
    /// [`FtpFs::listings_are_final`]); if pipelining fails later, the MDTMs go one by one.
    pub(super) fn eager_times(&self) -> bool {
        *self.eager.get_or_init(|| {
            let f = self.features();
            self.cfg.refine_mtime && f.mdtm && !f.mlsd && self.remote.pipelines()
        })
    }

    /// Queues the subdirectories of `dir` (just read) to be listed ahead.
    pub(super) fn prefetch_children(&self, dir: &RemotePath, listing: &Listing) {
        if self.prefetch.per_dir == 0 {
            return;
        }
        let mut cache = lock(&self.cache);
        let dirs: Vec<Job> = listing
            .entries()
            .iter()
            .filter(|e| e.kind == EntryKind::Dir)
            .filter_map(|e| Name::new(&e.name).ok())
            .map(|n| dir.join(&n))
            .filter(|p| cache.peek(p).is_none())
            .take(self.prefetch.per_dir)
            .map(Job::List)
            .collect();
        drop(cache);
        self.prefetch.push(dirs);
    }

    /// Starts the look-ahead workers: one per session but the one always left for
    /// requests. Nothing is listed ahead before this (tests that drive [`FtpFs`] directly
    /// may leave it off).
    pub fn start_prefetch(self: &Arc<Self>) {
        let workers = self.remote.pool().max_sessions().saturating_sub(1);
        if self.prefetch.per_dir == 0 || workers == 0 {
            return;
        }
        lock(&self.prefetch.queue).workers = workers;
        for i in 0..workers {
            let fs = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name(format!("ftpfs-ahead-{i}"))
                .spawn(move || prefetch_worker(fs));
            if let Err(e) = spawned {
                log::warn!("cannot start a look-ahead thread: {e}");
            }
        }
    }

    /// Directories waiting to be listed ahead.
    pub fn prefetch_queued(&self) -> usize {
        self.prefetch.queued()
    }
}

fn prefetch_worker(fs: Weak<FtpFs>) {
    loop {
        let Some(prefetch) = fs.upgrade().map(|fs| Arc::clone(&fs.prefetch)) else {
            return;
        };
        let job = prefetch.pop();
        let Some(fs) = fs.upgrade() else {
            return;
        };
        let undone = match job {
            Job::List(dir) => {
                let mut dirs = vec![dir];
                if fs.remote.lists_together() {
                    // A share of what is queued, so that every worker gets some.
                    let share = prefetch
                        .queued()
                        .div_ceil(prefetch.workers())
                        .min(STAT_BATCH);
                    dirs.extend(prefetch.take_lists(share.saturating_sub(1)));
                }
                fs.list_ahead(dirs)
                    .into_iter()
                    .map(Job::List)
                    .collect::<Vec<_>>()
            }
            Job::Read(path) => match fs.read_ahead(&path) {
                true => Vec::new(),
                false => vec![Job::Read(path)],
            },
        };
        if !undone.is_empty() {
            for job in undone.into_iter().rev() {
                prefetch.retry_later(job);
            }
            drop(fs);
            std::thread::sleep(NO_SESSION_PAUSE);
        }
    }
}

impl FtpFs {
    /// Lists `dirs` ahead (from [`Job::List`]s), on one spare session; returns those no
    /// session was spare for.
    fn list_ahead(&self, dirs: Vec<RemotePath>) -> Vec<RemotePath> {
        let mut leads = Vec::with_capacity(dirs.len());
        let mut todo = Vec::with_capacity(dirs.len());
        for dir in dirs {
            if lock(&self.cache).peek(&dir).is_some() {
                continue;
            }
            // A directory someone is listing already is done by them.
            if let Turn::Lead(lead) = self.flights.begin(&dir) {
                leads.push(lead);
                todo.push(dir);
            }
        }
        if todo.is_empty() {
            return todo;
        }
        match self.fetch_listings(&todo, Urgency::Spare) {
            Ok(None) => todo,
            Ok(Some(results)) => {
                for (dir, r) in todo.iter().zip(results) {
                    match r {
                        Ok(_) | Err(FsError::NotFound) => {}
                        Err(e) => log::debug!("listing {dir} ahead: {e}"),
                    }
                }
                Vec::new()
            }
            Err(e) => {
                log::debug!("listing {} directories ahead: {e}", todo.len());
                Vec::new()
            }
        }
    }
}

fn from_cache(cached: Cached) -> Result<Arc<Listing>, FsError> {
    match cached {
        Cached::Present(l) => Ok(l),
        Cached::Missing => Err(FsError::NotFound),
    }
}

/// A file whose listed time is coarser than a second.
fn coarse_file(e: &Entry) -> bool {
    e.kind == EntryKind::File && e.precision < TimePrecision::Exact
}

fn set_exact(e: &mut Entry, exact: SystemTime) {
    e.mtime = Some(exact);
    e.precision = TimePrecision::Exact;
}
