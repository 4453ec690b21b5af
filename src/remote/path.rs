//! Names and remote paths: the only way a string reaches the FTP control channel.
//!
//! A [`Name`] is one path component as raw bytes; a [`RemotePath`] is an absolute path on the
//! server made of names. Both are built and validated here and nowhere else, so every byte that
//! ends up in a command line has been checked: CR, LF and NUL are refused (they would let a
//! file name smuggle a second FTP command), as are `/`, `.` and `..` inside a name.
//!
//! Invariants: a `RemotePath` always starts with `/`, never ends with `/` unless it is the root,
//! and never contains an empty, `.` or `..` component.

use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    /// `.` or `..`.
    Dot,
    /// Contains `/`.
    Slash,
    /// Contains CR, LF or NUL, which would break the FTP command line.
    ControlChar,
    /// Longer than [`MAX_NAME_LEN`].
    TooLong,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "empty name",
            NameError::Dot => "'.' or '..' is not a file name",
            NameError::Slash => "name contains '/'",
            NameError::ControlChar => "name contains CR, LF or NUL",
            NameError::TooLong => "name too long",
        })
    }
}

/// Longest accepted name in bytes (Linux's NAME_MAX).
pub const MAX_NAME_LEN: usize = 255;

/// One validated path component, raw bytes as on the server.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Vec<u8>);

impl Name {
    /// Validates `bytes` as a single path component.
    pub fn new(bytes: &[u8]) -> Result<Name, NameError> {
        if bytes.is_empty() {
            return Err(NameError::Empty);
        }
        if bytes == b"." || bytes == b".." {
            return Err(NameError::Dot);
        }
        if bytes.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        if bytes.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(NameError::ControlChar);
        }
        if bytes.contains(&b'/') {
            return Err(NameError::Slash);
        }
        Ok(Name(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

/// An absolute, normalised path on the server.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemotePath(Vec<u8>);

impl RemotePath {
    /// The server's root, `/`.
    pub fn root() -> RemotePath {
        RemotePath(b"/".to_vec())
    }

    /// Parses a user-supplied path (from the mount URL): components separated by `/`,
    /// empty and `.` components dropped. `..` and control characters are refused.
    pub fn parse(bytes: &[u8]) -> Result<RemotePath, NameError> {
        let mut path = RemotePath::root();
        for part in bytes.split(|&b| b == b'/') {
            if part.is_empty() || part == b"." {
                continue;
            }
            path = path.join(&Name::new(part)?);
        }
        Ok(path)
    }

    pub fn is_root(&self) -> bool {
        self.0 == b"/"
    }

    /// This path with `name` appended.
    pub fn join(&self, name: &Name) -> RemotePath {
        let mut bytes = self.0.clone();
        if !self.is_root() {
            bytes.push(b'/');
        }
        bytes.extend_from_slice(name.as_bytes());
        RemotePath(bytes)
    }

    /// The parent directory and the last component; `None` for the root.
    pub fn split(&self) -> Option<(RemotePath, Name)> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.iter().rposition(|&b| b == b'/')?;
        let parent = if cut == 0 {
            b"/".to_vec()
        } else {
            self.0[..cut].to_vec()
        };
        Some((RemotePath(parent), Name(self.0[cut + 1..].to_vec())))
    }

    /// The names from the root down, in order (none for the root).
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.0[1..]
            .split(|&b| b == b'/')
            .filter(|part| !part.is_empty())
    }

    /// How many names the path has (0 for the root).
    pub fn depth(&self) -> usize {
        self.names().count()
    }

    /// The ancestor of this path with `depth` names (the path itself when `depth` is its own
    /// depth or more; the root for 0).
    pub fn ancestor(&self, depth: usize) -> RemotePath {
        let mut path = RemotePath::root();
        for part in self.names().take(depth) {
            path = path.join(&Name(part.to_vec()));
        }
        path
    }

    /// How many leading names `self` and `other` share: the depth of their deepest common
    /// ancestor.
    pub fn common_depth(&self, other: &RemotePath) -> usize {
        self.names()
            .zip(other.names())
            .take_while(|(a, b)| a == b)
            .count()
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &RemotePath) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.get(other.0.len()) == Some(&b'/'))
    }

    /// `self` with the prefix `from` replaced by `to`; `self` must start with `from`.
    pub fn rebase(&self, from: &RemotePath, to: &RemotePath) -> RemotePath {
        debug_assert!(self.starts_with(from));
        if self == from {
            return to.clone();
        }
        let rest = if from.is_root() {
            &self.0[1..]
        } else {
            &self.0[from.0.len() + 1..]
        };
        let mut path = to.clone();
        for part in rest.split(|&b| b == b'/') {
            path = path.join(&Name(part.to_vec()));
        }
        path
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The path as suppaftp expects it: each byte mapped to the char of the same value, which
    /// the session's byte-transparent encoding maps back to the same byte on the wire.
    pub fn wire(&self) -> String {
        self.0.iter().map(|&b| char::from(b)).collect()
    }
}

impl fmt::Debug for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Display for RemotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_control_characters_are_refused() {
        assert_eq!(Name::new(b"a\r\nDELE x"), Err(NameError::ControlChar));
        assert_eq!(Name::new(b"a\nb"), Err(NameError::ControlChar));
        assert_eq!(Name::new(b"a\0b"), Err(NameError::ControlChar));
        assert_eq!(Name::new(b"a/b"), Err(NameError::Slash));
        assert_eq!(Name::new(b".."), Err(NameError::Dot));
        assert_eq!(Name::new(b""), Err(NameError::Empty));
        assert_eq!(Name::new(&[b'x'; 256]), Err(NameError::TooLong));
        assert!(Name::new(" leading  spaces ".as_bytes()).is_ok());
        assert!(Name::new("实验.doc".as_bytes()).is_ok());
        assert!(Name::new(b"caf\xe9").is_ok());
    }

    #[test]
    fn join_split_and_rebase() {
        let root = RemotePath::root();
        let a = root.join(&Name::new(b"a").unwrap());
        let ab = a.join(&Name::new(b"b c").unwrap());
        assert_eq!(a.as_bytes(), b"/a");
        assert_eq!(ab.as_bytes(), b"/a/b c");
        let (parent, name) = ab.split().unwrap();
        assert_eq!(parent, a);
        assert_eq!(name.as_bytes(), b"b c");
        assert_eq!(a.split().unwrap().0, root);
        assert!(root.split().is_none());
        assert!(ab.starts_with(&a));
        assert!(!RemotePath::parse(b"/ab").unwrap().starts_with(&a));
        let z = RemotePath::parse(b"/z").unwrap();
        assert_eq!(ab.rebase(&a, &z).as_bytes(), b"/z/b c");
        assert_eq!(ab.rebase(&root, &z).as_bytes(), b"/z/a/b c");
    }

    #[test]
    fn names_depth_and_ancestors() {
        let root = RemotePath::root();
        let abc = RemotePath::parse(b"/a/b c/d").unwrap();
        assert_eq!(root.depth(), 0);
        assert_eq!(root.names().count(), 0);
        assert_eq!(abc.names().collect::<Vec<_>>(), [&b"a"[..], b"b c", b"d"]);
        assert_eq!(abc.depth(), 3);
        assert_eq!(abc.ancestor(0), root);
        assert_eq!(abc.ancestor(2).as_bytes(), b"/a/b c");
        assert_eq!(abc.ancestor(9), abc);
        let other = RemotePath::parse(b"/a/b c/e/f").unwrap();
        assert_eq!(abc.common_depth(&other), 2);
        assert_eq!(abc.common_depth(&abc), 3);
        assert_eq!(abc.common_depth(&RemotePath::parse(b"/ab").unwrap()), 0);
        assert_eq!(root.common_depth(&abc), 0);
    }

    #[test]
    fn parse_normalises_and_refuses_dotdot() {
        assert_eq!(RemotePath::parse(b"//x/./y/").unwrap().as_bytes(), b"/x/y");
        assert_eq!(RemotePath::parse(b"").unwrap(), RemotePath::root());
        assert!(RemotePath::parse(b"/x/../y").is_err());
    }

    #[test]
    fn wire_form_maps_bytes_to_chars() {
        let p = RemotePath::parse(b"/caf\xe9").unwrap();
        let wire = p.wire();
        let back: Vec<u8> = wire.chars().map(|c| c as u32 as u8).collect();
        assert_eq!(back, b"/caf\xe9");
    }
}
