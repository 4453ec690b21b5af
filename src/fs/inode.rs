//! The inode table: remote path ⇄ inode number, with the kernel's lookup counts.
//!
//! Invariants:
//! - inode numbers are handed out monotonically and never given to another path, so a number
//!   the kernel (or a tool like `find`, `tar` or git's index) remembers keeps naming the same
//!   path for the life of the mount;
//! - a path keeps its number for the life of the mount: after the kernel forgets it (lookup
//!   count back to 0) the path stays mapped to it, dormant, and its next lookup gets it
//!   again. Only an unlink, or a rename over it, through this mount ends that (a new file
//!   there is another file, with a new number);
//! - the root inode (1) is pinned and never forgotten;
//! - renames re-key a whole subtree at once, keeping numbers.

use std::collections::HashMap;

use crate::remote::RemotePath;

pub const ROOT_INO: u64 = 1;

struct Node {
    path: RemotePath,
    lookups: u64,
    /// Bumped each time this mount replaces the file's content (an upload), so that handles
    /// opened before can tell that what they read ahead is stale.
    version: u64,
}

pub struct InodeTable {
    by_ino: HashMap<u64, Node>,
    by_path: HashMap<RemotePath, u64>,
    next: u64,
}

impl InodeTable {
    /// A table holding only the root, mapped to `root`.
    pub fn new(root: RemotePath) -> InodeTable {
        let mut t = InodeTable {
            by_ino: HashMap::new(),
            by_path: HashMap::new(),
            next: ROOT_INO + 1,
        };
        t.by_path.insert(root.clone(), ROOT_INO);
        t.by_ino.insert(
            ROOT_INO,
            Node {
                path: root,
                lookups: 1,
                version: 0,
            },
        );
        t
    }

    pub fn path(&self, ino: u64) -> Option<&RemotePath> {
        self.by_ino.get(&ino).map(|n| &n.path)
    }

    /// The path of `ino` if it still names it: not after an unlink, or a rename of another
    /// file over it (the kernel may hold the number a while longer: an open file).
    pub fn linked_path(&self, ino: u64) -> Option<&RemotePath> {
        self.path(ino)
            .filter(|p| self.by_path.get(*p) == Some(&ino))
    }

    /// The content version of `ino` (see `Node::version`); 0 for unknown inodes.
    pub fn version(&self, ino: u64) -> u64 {
        self.by_ino.get(&ino).map_or(0, |n| n.version)
    }

    /// Records that this mount has just replaced the content of `ino`.
    pub fn bump_version(&mut self, ino: u64) {
        if let Some(n) = self.by_ino.get_mut(&ino) {
            n.version += 1;
        }
    }

    /// The number the kernel may know `path` by (held by it, or dormant), without creating one.
    pub fn known(&self, path: &RemotePath) -> Option<u64> {
        self.by_path
            .get(path)
            .copied()
            .filter(|ino| self.by_ino.contains_key(ino))
    }

    /// The number for `path`, creating it if needed, without touching the lookup count
    /// (plain readdir).
    pub fn ino_for(&mut self, path: &RemotePath) -> u64 {
        let ino = match self.by_path.get(path) {
            Some(&ino) if self.by_ino.contains_key(&ino) => return ino,
            // Forgotten by the kernel: the path gets its number back.
            Some(&ino) => ino,
            None => {
                let ino = self.next;
                self.next += 1;
                self.by_path.insert(path.clone(), ino);
                ino
            }
        };
        self.by_ino.insert(
            ino,
            Node {
                path: path.clone(),
                lookups: 0,
                version: 0,
            },
        );
        ino
    }

    /// The number for `path`, with the lookup count raised by one (lookup, create,
    /// readdirplus): the kernel now holds a reference.
    pub fn lookup(&mut self, path: &RemotePath) -> u64 {
        let ino = self.ino_for(path);
        self.add_lookup(ino);
        ino
    }

    pub fn add_lookup(&mut self, ino: u64) {
        if let Some(node) = self.by_ino.get_mut(&ino) {
            node.lookups += 1;
        }
    }

    /// The kernel dropped `n` references. At zero the number is free of the kernel (root
    /// excepted); the path keeps it, dormant, for its next lookup.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT_INO {
            return;
        }
        let Some(node) = self.by_ino.get_mut(&ino) else {
            return;
        };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups == 0 {
            self.by_ino.remove(&ino);
        }
    }

    /// The path no longer exists on the server: unlink it from its number. The kernel may
    /// still hold the number (an open file); it stays valid until forgotten, but no longer
    /// resolves by path.
    pub fn unlink(&mut self, path: &RemotePath) {
        self.by_path.remove(path);
    }

    /// Moves `from` (and everything below it) to `to`, keeping inode numbers. Whatever was at
    /// `to` before is unlinked.
    pub fn rename(&mut self, from: &RemotePath, to: &RemotePath) {
        let moved: Vec<(RemotePath, u64)> = self
            .by_path
            .iter()
            .filter(|(p, _)| p.starts_with(from))
            .map(|(p, &i)| (p.clone(), i))
            .collect();
        let replaced: Vec<RemotePath> = self
            .by_path
            .keys()
            .filter(|p| p.starts_with(to))
            .cloned()
            .collect();
        for p in replaced {
            self.by_path.remove(&p);
        }
        for (old, ino) in moved {
            let new = old.rebase(from, to);
            self.by_path.remove(&old);
            self.by_path.insert(new.clone(), ino);
            if let Some(node) = self.by_ino.get_mut(&ino) {
                node.path = new;
            }
        }
    }

    pub fn count(&self) -> usize {
        self.by_ino.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RemotePath {
        RemotePath::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn numbers_are_stable_and_never_reused() {
        let mut t = InodeTable::new(p("/"));
        let a = t.lookup(&p("/a"));
        assert_eq!(t.lookup(&p("/a")), a);
        assert_eq!(t.path(a), Some(&p("/a")));
        t.forget(a, 1);
        assert_eq!(t.path(a), Some(&p("/a")), "still one reference");
        t.forget(a, 1);
        assert_eq!(t.path(a), None);
        assert_eq!(t.count(), 1, "only the root is live");
        assert_eq!(
            t.lookup(&p("/a")),
            a,
            "a path keeps its number after a forget"
        );
        assert_eq!(t.path(a), Some(&p("/a")));
        t.forget(a, 1);
        t.unlink(&p("/a"));
        let again = t.lookup(&p("/a"));
        assert_ne!(again, a, "a new file after an unlink gets a new number");
        // A forgotten number under a renamed directory follows it.
        let d = t.lookup(&p("/d"));
        let f = t.lookup(&p("/d/f"));
        t.forget(f, 1);
        t.rename(&p("/d"), &p("/e"));
        assert_eq!(t.lookup(&p("/e/f")), f);
        assert_ne!(t.lookup(&p("/d/f")), f);
        assert_eq!(t.path(d), Some(&p("/e")));
        t.forget(ROOT_INO, 100);
        assert_eq!(t.path(ROOT_INO), Some(&p("/")));
    }

    #[test]
    fn content_versions_count_replacements_per_inode() {
        let mut t = InodeTable::new(p("/"));
        let a = t.lookup(&p("/a"));
        let b = t.lookup(&p("/b"));
        assert_eq!(t.version(a), 0);
        t.bump_version(a);
        t.bump_version(a);
        assert_eq!(t.version(a), 2);
        assert_eq!(t.version(b), 0, "other inodes are not affected");
        t.bump_version(999);
        assert_eq!(t.version(999), 0, "unknown inodes have no version");
    }

    #[test]
    fn readdir_numbers_match_later_lookups() {
        let mut t = InodeTable::new(p("/"));
        let r = t.ino_for(&p("/x"));
        assert_eq!(t.lookup(&p("/x")), r);
    }

    #[test]
    fn rename_rekeys_a_subtree() {
        let mut t = InodeTable::new(p("/"));
        let d = t.lookup(&p("/d"));
        let f = t.lookup(&p("/d/f"));
        let other = t.lookup(&p("/e"));
        t.rename(&p("/d"), &p("/e"));
        assert_eq!(t.path(d), Some(&p("/e")));
        assert_eq!(t.path(f), Some(&p("/e/f")));
        assert_eq!(t.lookup(&p("/e/f")), f);
        assert_eq!(
            t.path(other),
            Some(&p("/e")),
            "old target's number stays until forgotten"
        );
        assert_eq!(t.lookup(&p("/e")), d);
    }
}
