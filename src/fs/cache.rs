//! The directory cache: one listing per directory, answering lookup, getattr, readdir and
//! readdirplus for every entry in it until its time-to-live runs out.
//!
//! Entries are [`Listing`]s shared as `Arc`, so callers copy them out of the lock and never
//! hold it across a network call. A directory that the server says does not exist is cached
//! as missing for the (shorter) negative TTL. The cache is bounded by the `lru` crate:
//! the least recently used directories are dropped first.
//!
//! Our own mutations update listings in place (`upsert`, `remove`) so the next `ls` sees
//! them at once, without waiting for the TTL. An invalidated listing answers nothing but is
//! kept, so the next listing of its directory can be compared with it (see `lister.rs`).
//! The time comes from an injected clock, so the TTL tests need no sleeps.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::remote::{Entry, RemotePath};

/// How many directories are kept. A listing of a few thousand entries is a few hundred KiB,
/// so this bounds the cache to a few hundred MiB in the very worst case and far less normally.
const MAX_DIRS: usize = 1024;

/// One directory's entries, in server order (until changed in place), with an index by name.
#[derive(Debug, Clone)]
pub struct Listing {
    entries: Vec<Entry>,
    by_name: HashMap<Vec<u8>, usize>,
}

impl Default for Listing {
    fn default() -> Listing {
        Listing::new(Vec::new())
    }
}

impl Listing {
    pub fn new(mut entries: Vec<Entry>) -> Listing {
        // A server may list a name twice (e.g. a racing upload); the last one wins.
        let mut by_name = HashMap::with_capacity(entries.len());
        let mut keep = vec![true; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            if let Some(old) = by_name.insert(e.name.clone(), i) {
                keep[old] = false;
            }
        }
        if keep.iter().any(|k| !k) {
            let mut i = 0;
            entries.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            by_name = entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.name.clone(), i))
                .collect();
        }
        Listing { entries, by_name }
    }

    pub fn get(&self, name: &[u8]) -> Option<&Entry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Adds or replaces one entry, in place: O(1), so creating many files in one directory
    /// costs no more per file than in a small one.
    fn set(&mut self, entry: Entry) {
        match self.by_name.get(&entry.name) {
            Some(&i) => self.entries[i] = entry,
            None => {
                self.by_name.insert(entry.name.clone(), self.entries.len());
                self.entries.push(entry);
            }
        }
    }

    /// Removes one entry, in place (the last entry takes its slot).
    fn unset(&mut self, name: &[u8]) {
        if let Some(i) = self.by_name.remove(name) {
            self.entries.swap_remove(i);
            if let Some(moved) = self.entries.get(i) {
                self.by_name.insert(moved.name.clone(), i);
            }
        }
    }
}

/// What is known about a directory.
#[derive(Debug, Clone)]
pub enum Cached {
    Present(Arc<Listing>),
    /// The server said it does not exist (or is not a directory).
    Missing,
}

struct Slot {
    value: Cached,
    fetched: Instant,
    /// Invalidated: no longer answers anything, but kept so that the next listing of the
    /// directory can be compared with it ([`DirCache::previous`]).
    stale: bool,
}

/// The time as the cache sees it: [`Instant::now`], or a test's own clock.
pub type Clock = Box<dyn Fn() -> Instant + Send>;

pub struct DirCache {
    lru: LruCache<RemotePath, Slot>,
    ttl: Duration,
    negative_ttl: Duration,
    clock: Clock,
    /// Lookups of a directory's listing (by lookup, getattr, opendir, create...) answered
    /// from a fresh cached listing.
    pub hits: u64,
    /// Lookups that found no fresh listing, so the directory was listed again (each one is
    /// also counted in the `listings` stat).
    pub misses: u64,
}

impl DirCache {
    pub fn new(ttl: Duration, negative_ttl: Duration) -> DirCache {
        DirCache::with_clock(ttl, negative_ttl, Box::new(Instant::now))
    }

    /// A cache that reads the time from `clock` (tests drive it by hand).
    pub fn with_clock(ttl: Duration, negative_ttl: Duration, clock: Clock) -> DirCache {
        DirCache {
            lru: LruCache::new(NonZeroUsize::new(MAX_DIRS).expect("MAX_DIRS is not zero")),
            ttl,
            negative_ttl,
            clock,
            hits: 0,
            misses: 0,
        }
    }

    /// The cached state of `dir`, if still fresh, for a lookup that would otherwise list the
    /// directory: counted as a hit or a miss.
    pub fn get(&mut self, dir: &RemotePath) -> Option<Cached> {
        let fresh = self.fresh(dir);
        if fresh.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        fresh
    }

    /// The cached state of `dir`, if still fresh, without counting a hit or a miss (for
    /// updates after our own changes, which never list).
    pub fn peek(&mut self, dir: &RemotePath) -> Option<Cached> {
        self.fresh(dir)
    }

    fn fresh(&mut self, dir: &RemotePath) -> Option<Cached> {
        let (ttl, neg) = (self.ttl, self.negative_ttl);
        let now = (self.clock)();
        match self.lru.get(dir) {
            Some(slot) if !slot.stale => {
                let limit = match slot.value {
                    Cached::Present(_) => ttl,
                    Cached::Missing => neg,
                };
                (now.saturating_duration_since(slot.fetched) < limit).then(|| slot.value.clone())
            }
            _ => None,
        }
    }

    /// How long ago the fresh listing of `dir` was fetched (`None`: none is fresh).
    pub fn age(&mut self, dir: &RemotePath) -> Option<Duration> {
        self.fresh(dir)?;
        let now = (self.clock)();
        self.lru
            .peek(dir)
            .map(|slot| now.saturating_duration_since(slot.fetched))
    }

    /// Invalidates the fresh listing of `dir` if it is older than `limit`; returns whether
    /// it did (one check and change under the caller's lock, so that several callers that
    /// find it old re-list it once).
    pub fn expire_if_older(&mut self, dir: &RemotePath, limit: Duration) -> bool {
        match self.age(dir) {
            Some(age) if age >= limit => {
                self.invalidate(dir);
                true
            }
            _ => false,
        }
    }

    /// The last listing of `dir`, fresh, expired or invalidated (to compare a new one with).
    pub fn previous(&self, dir: &RemotePath) -> Option<Arc<Listing>> {
        match self.lru.peek(dir).map(|slot| &slot.value) {
            Some(Cached::Present(l)) => Some(Arc::clone(l)),
            _ => None,
        }
    }

    pub fn insert(&mut self, dir: RemotePath, value: Cached) {
        let fetched = (self.clock)();
        self.lru.put(
            dir,
            Slot {
                value,
                fetched,
                stale: false,
            },
        );
    }

    /// Forgets `dir` so the next access lists it again.
    pub fn invalidate(&mut self, dir: &RemotePath) {
        if let Some(slot) = self.lru.peek_mut(dir) {
            slot.stale = true;
        }
    }

    /// Forgets `dir` and every directory below it.
    pub fn invalidate_tree(&mut self, dir: &RemotePath) {
        for (p, slot) in self.lru.iter_mut() {
            if p.starts_with(dir) {
                slot.stale = true;
            }
        }
    }

    /// Adds or replaces one entry in a cached listing of `dir` (after our own change).
    /// Does nothing if `dir` is not cached.
    pub fn upsert(&mut self, dir: &RemotePath, entry: Entry) {
        if let Some(slot) = self.lru.peek_mut(dir) {
            if let Cached::Present(listing) = &mut slot.value {
                // Copied only while someone still holds the previous version.
                Arc::make_mut(listing).set(entry);
            }
        }
    }

    /// Removes one entry from a cached listing of `dir` (after our own change).
    pub fn remove(&mut self, dir: &RemotePath, name: &[u8]) {
        if let Some(slot) = self.lru.peek_mut(dir) {
            if let Cached::Present(listing) = &mut slot.value {
                Arc::make_mut(listing).unset(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::{EntryKind, TimePrecision};

    fn e(name: &str, size: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            kind: EntryKind::File,
            size,
            mtime: None,
            precision: TimePrecision::Exact,
            mode: None,
            link_target: None,
        }
    }

    fn p(s: &str) -> RemotePath {
        RemotePath::parse(s.as_bytes()).unwrap()
    }

    /// A clock the test moves by hand.
    fn manual_clock() -> (Arc<std::sync::Mutex<Instant>>, Clock) {
        let now = Arc::new(std::sync::Mutex::new(Instant::now()));
        let read = Arc::clone(&now);
        (now, Box::new(move || *read.lock().unwrap()))
    }

    #[test]
    fn listings_expire_after_their_ttl() {
        let (now, clock) = manual_clock();
        let advance = |d: Duration| *now.lock().unwrap() += d;
        let mut c = DirCache::with_clock(Duration::from_secs(20), Duration::from_secs(2), clock);
        c.insert(
            p("/d"),
            Cached::Present(Arc::new(Listing::new(vec![e("a", 1)]))),
        );
        c.insert(p("/gone"), Cached::Missing);
        assert!(matches!(c.get(&p("/d")), Some(Cached::Present(l)) if l.get(b"a").is_some()));
        assert!(matches!(c.get(&p("/gone")), Some(Cached::Missing)));
        advance(Duration::from_millis(1999));
        assert!(matches!(c.get(&p("/gone")), Some(Cached::Missing)));
        assert_eq!(c.age(&p("/d")), Some(Duration::from_millis(1999)));
        advance(Duration::from_millis(1));
        assert!(
            c.get(&p("/gone")).is_none(),
            "negative entries expire first"
        );
        assert!(c.get(&p("/d")).is_some());
        advance(Duration::from_secs(18) - Duration::from_nanos(1));
        assert!(c.get(&p("/d")).is_some(), "fresh until the last moment");
        advance(Duration::from_nanos(1));
        assert!(c.get(&p("/d")).is_none());
        assert_eq!(c.age(&p("/d")), None);
        assert_eq!((c.hits, c.misses), (5, 2));
        // An expired listing is still there to compare the next one with.
        assert!(c.previous(&p("/d")).is_some_and(|l| l.get(b"a").is_some()));
        assert!(c.previous(&p("/gone")).is_none());
    }

    #[test]
    fn old_listings_are_expired_once() {
        let (now, clock) = manual_clock();
        let mut c = DirCache::with_clock(Duration::from_secs(20), Duration::from_secs(1), clock);
        c.insert(p("/d"), Cached::Present(Default::default()));
        assert!(!c.expire_if_older(&p("/d"), Duration::from_secs(1)));
        *now.lock().unwrap() += Duration::from_secs(1);
        assert!(c.expire_if_older(&p("/d"), Duration::from_secs(1)));
        assert!(
            !c.expire_if_older(&p("/d"), Duration::from_secs(1)),
            "already expired"
        );
        assert!(c.peek(&p("/d")).is_none());
        c.insert(p("/d"), Cached::Present(Default::default()));
        c.invalidate_tree(&p("/"));
        assert!(c.peek(&p("/d")).is_none());
    }

    #[test]
    fn own_changes_update_the_listing() {
        let mut c = DirCache::new(Duration::from_secs(60), Duration::from_secs(1));
        c.insert(
            p("/d"),
            Cached::Present(Arc::new(Listing::new(vec![e("a", 1), e("b", 2)]))),
        );
        c.upsert(&p("/d"), e("a", 10));
        c.upsert(&p("/d"), e("c", 3));
        let Some(Cached::Present(l)) = c.get(&p("/d")) else {
            panic!("listing missing")
        };
        let names: Vec<&[u8]> = l.entries().iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(
            names,
            vec![b"a".as_slice(), b"b", b"c"],
            "order kept, new names last"
        );
        c.remove(&p("/d"), b"b");
        let Some(Cached::Present(l)) = c.get(&p("/d")) else {
            panic!("listing missing")
        };
        let names: Vec<&[u8]> = l.entries().iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, vec![b"a".as_slice(), b"c"]);
        assert_eq!(l.get(b"a").map(|e| e.size), Some(10));
        c.invalidate_tree(&p("/"));
        assert!(c.get(&p("/d")).is_none());
    }

    /// In-place changes keep the name index right, and leave a version someone still holds
    /// (an open directory's snapshot) untouched.
    #[test]
    fn in_place_changes_keep_the_index_and_held_versions() {
        let mut c = DirCache::new(Duration::from_secs(60), Duration::from_secs(1));
        let names: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
        c.insert(
            p("/d"),
            Cached::Present(Arc::new(Listing::new(
                names.iter().map(|n| e(n, 1)).collect(),
            ))),
        );
        let Some(Cached::Present(held)) = c.get(&p("/d")) else {
            panic!("listing missing")
        };
        for (i, n) in names.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
            c.remove(&p("/d"), n.as_bytes());
            c.upsert(&p("/d"), e(&format!("new{i}"), 2));
        }
        let Some(Cached::Present(l)) = c.get(&p("/d")) else {
            panic!("listing missing")
        };
        assert_eq!(l.entries().len(), 1000);
        for (i, n) in names.iter().enumerate() {
            let gone = i % 3 == 0;
            assert_eq!(l.get(n.as_bytes()).is_none(), gone, "{n}");
            assert_eq!(l.get(format!("new{i}").as_bytes()).is_some(), gone);
        }
        for entry in l.entries() {
            assert_eq!(l.get(&entry.name).map(|x| &x.name), Some(&entry.name));
        }
        assert_eq!(held.entries().len(), 1000);
        assert!(held.get(b"f0").is_some() && held.get(b"new0").is_none());
    }

    #[test]
    fn duplicate_names_keep_the_last() {
        let l = Listing::new(vec![e("a", 1), e("b", 2), e("a", 3)]);
        assert_eq!(l.entries().len(), 2);
        assert_eq!(l.get(b"a").map(|e| e.size), Some(3));
    }
}
