//! Legacy file-name encodings (`-o encoding=gbk` and friends), with encoding_rs.
//!
//! Linux names are bytes, and most servers send UTF-8. Servers that store names in a legacy
//! code page (GBK on many Chinese servers, cp1251, Shift_JIS, Big5, EUC-KR...) would show
//! mojibake. A [`NameCodec`] translates at the protocol boundary: names in listings are
//! decoded from the server's encoding into UTF-8, and paths sent to the server are encoded
//! back.
//!
//! Invariant: every listed name leads back to exactly the server's bytes.
//! - A name is shown decoded only when it round-trips: encoding the decoded text gives back
//!   exactly the bytes the server sent. Otherwise it is shown raw. This catches bytes the
//!   encoding cannot decode, and also sequences its decoder accepts but its encoder cannot
//!   produce (encoding_rs decodes the `gbk` label with the GB18030 decoder, which accepts
//!   4-byte sequences that the GBK encoder refuses).
//! - A raw name that is not valid UTF-8 is sent back as it is, since it cannot be text typed
//!   by a user. A raw name that happens to be valid UTF-8 (a UTF-8 name `实.doc` on a GBK
//!   server, common on mixed-encoding servers) would otherwise be encoded into GBK on the way
//!   back and name a different file, so the codec remembers it: a shared table, keyed by the
//!   local path of the listed directory, holds those names, and [`NameCodec::encode_path`]
//!   sends their raw bytes. Each listing of a directory replaces that directory's entry in
//!   the table, and a new name that is not in it is encoded as usual.
//!
//! A local name that the server's encoding cannot represent is refused (`None`, EILSEQ).
//! The table's lock is a leaf: it is never held across a network call or another lock.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use encoding_rs::Encoding;

use super::{Entry, RemotePath};

/// Raw names that are valid UTF-8, by the local path of the directory they were listed in.
type RawNames = HashMap<Vec<u8>, HashSet<Vec<u8>>>;

/// The server's file-name encoding, and the raw UTF-8 names seen in its listings. Clones
/// share the table, so every session of a mount agrees on it.
#[derive(Clone)]
pub struct NameCodec {
    encoding: &'static Encoding,
    raw_utf8: Arc<Mutex<RawNames>>,
}

impl std::fmt::Debug for NameCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NameCodec({})", self.encoding.name())
    }
}

impl NameCodec {
    /// The codec for an encoding label (`gbk`, `gb18030`, `big5`, `shift_jis`, `euc-kr`,
    /// `cp1251`, `latin1`, ... as the WHATWG Encoding Standard names them). `None` for UTF-8,
    /// which needs no translation.
    pub fn from_label(label: &str) -> Result<Option<NameCodec>, String> {
        let label = match label.to_ascii_lowercase().as_str() {
            "cp1251" => "windows-1251".to_string(),
            "cp1252" => "windows-1252".to_string(),
            "cp936" => "gbk".to_string(),
            "cp950" => "big5".to_string(),
            "sjis" | "cp932" => "shift_jis".to_string(),
            other => other.to_string(),
        };
        let encoding = Encoding::for_label(label.as_bytes())
            .ok_or_else(|| format!("unknown encoding '{label}' (try gbk, gb18030, big5, shift_jis, euc-kr, cp1251, latin1)"))?;
        if encoding == encoding_rs::UTF_8 {
            return Ok(None);
        }
        Ok(Some(NameCodec {
            encoding,
            raw_utf8: Arc::default(),
        }))
    }

    /// Server bytes → local bytes: the decoded UTF-8 text when it encodes back to exactly
    /// `server`, otherwise `server` unchanged (see the module doc).
    pub fn decode(&self, server: &[u8]) -> Vec<u8> {
        self.decode_exact(server).unwrap_or_else(|| server.to_vec())
    }

    /// The decoded text of `server` if it round-trips, `None` if the name must stay raw.
    fn decode_exact(&self, server: &[u8]) -> Option<Vec<u8>> {
        let text = self
            .encoding
            .decode_without_bom_handling_and_without_replacement(server)?;
        let (back, _, unmappable) = self.encoding.encode(&text);
        (!unmappable && back == server).then(|| text.into_owned().into_bytes())
    }

    /// Decodes the names (and link targets) of one listing of `dir`, a local path, and
    /// records which of them stay raw while being valid UTF-8, replacing what an earlier
    /// listing of `dir` recorded.
    pub fn decode_listing(&self, dir: &RemotePath, entries: &mut [Entry]) {
        let mut raw = HashSet::new();
        for e in entries.iter_mut() {
            match self.decode_exact(&e.name) {
                Some(text) => e.name = text,
                None if std::str::from_utf8(&e.name).is_ok() => {
                    raw.insert(e.name.clone());
                }
                None => {}
            }
            if let Some(t) = e.link_target.as_mut() {
                *t = self.decode(t);
            }
        }
        let mut table = self.raw_utf8.lock().unwrap_or_else(PoisonError::into_inner);
        if raw.is_empty() {
            table.remove(dir.as_bytes());
        } else {
            table.insert(dir.as_bytes().to_vec(), raw);
        }
    }

    /// Forgets what was recorded about `path` (a local path) and below it: it was deleted or
    /// renamed away, so a new name there is encoded as usual.
    pub fn forget(&self, path: &RemotePath) {
        let Some((dir, name)) = path.split() else {
            return;
        };
        let mut table = self.raw_utf8.lock().unwrap_or_else(PoisonError::into_inner);
        let below = |key: &[u8]| {
            key.strip_prefix(path.as_bytes())
                .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
        };
        table.retain(|key, _| !below(key));
        if let Some(names) = table.get_mut(dir.as_bytes()) {
            names.remove(name.as_bytes());
            if names.is_empty() {
                table.remove(dir.as_bytes());
            }
        }
    }

    /// A local path → the server's bytes for it. Each component listed raw (see
    /// [`NameCodec::decode_listing`]) is sent as those raw bytes; every other component goes
    /// through [`NameCodec::encode`]. `None` if a component cannot be represented.
    pub fn encode_path(&self, path: &RemotePath) -> Option<Vec<u8>> {
        let bytes = path.as_bytes();
        if path.is_root() {
            return Some(bytes.to_vec());
        }
        let table = self.raw_utf8.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::with_capacity(bytes.len());
        let mut start = 1; // just past a '/'
        for component in bytes[1..].split(|&b| b == b'/') {
            let dir: &[u8] = if start == 1 {
                b"/"
            } else {
                &bytes[..start - 1]
            };
            out.push(b'/');
            if table
                .get(dir)
                .is_some_and(|names| names.contains(component))
            {
                out.extend_from_slice(component);
            } else {
                out.extend(self.encode(component)?);
            }
            start += component.len() + 1;
        }
        Some(out)
    }

    /// Local bytes → server bytes, without regard to raw names. Non-UTF-8 local bytes (a
    /// name that did not decode) pass through; `None` if the name has a character the
    /// server's encoding cannot represent.
    pub fn encode(&self, local: &[u8]) -> Option<Vec<u8>> {
        let Ok(text) = std::str::from_utf8(local) else {
            return Some(local.to_vec());
        };
        let (bytes, _, unmappable) = self.encoding.encode(text);
        (!unmappable).then(|| bytes.into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_names_round_trip() {
        let gbk = NameCodec::from_label("gbk").unwrap().unwrap();
        let server = b"\xca\xb5\xd1\xe9.doc";
        assert_eq!(gbk.decode(server), "实验.doc".as_bytes());
        assert_eq!(gbk.encode("实验.doc".as_bytes()).unwrap(), server);
        assert_eq!(
            gbk.encode("/dir/实验.doc".as_bytes()).unwrap(),
            b"/dir/\xca\xb5\xd1\xe9.doc"
        );
        // Not valid GBK: shown raw, sent back raw.
        assert_eq!(gbk.decode(b"\xff\xfe"), b"\xff\xfe");
        assert_eq!(gbk.encode(b"\xff\xfe").unwrap(), b"\xff\xfe");
        // A character GBK cannot encode.
        assert!(gbk.encode("😀".as_bytes()).is_none());
    }

    fn entry(name: &[u8]) -> Entry {
        Entry {
            name: name.to_vec(),
            kind: super::super::EntryKind::File,
            size: 0,
            mtime: None,
            precision: super::super::TimePrecision::Exact,
            mode: None,
            link_target: None,
        }
    }

    fn path(p: &str) -> RemotePath {
        RemotePath::parse(p.as_bytes()).unwrap()
    }

    /// A UTF-8 name on a GBK server (odd length, so it is not valid GBK) is listed raw, and
    /// its path is sent back as those raw bytes, not re-encoded into GBK.
    #[test]
    fn raw_utf8_name_is_sent_back_raw() {
        let gbk = NameCodec::from_label("gbk").unwrap().unwrap();
        let utf8 = "实.doc".as_bytes();
        let mut entries = [entry(utf8), entry(b"\xca\xb5\xd1\xe9.doc")];
        gbk.decode_listing(&path("/dir"), &mut entries);
        assert_eq!(entries[0].name, utf8);
        assert_eq!(entries[1].name, "实验.doc".as_bytes());
        let mut want = b"/dir/".to_vec();
        want.extend_from_slice(utf8);
        assert_eq!(gbk.encode_path(&path("/dir/实.doc")).unwrap(), want);
        // A GBK name beside it, and the same name in another directory, are encoded.
        assert_eq!(
            gbk.encode_path(&path("/dir/实验.doc")).unwrap(),
            b"/dir/\xca\xb5\xd1\xe9.doc"
        );
        assert_eq!(
            gbk.encode_path(&path("/other/实.doc")).unwrap(),
            b"/other/\xca\xb5.doc"
        );
        // Below a raw directory name, the raw component is kept and the rest encoded.
        want.extend_from_slice(b"/\xca\xb5.doc");
        assert_eq!(gbk.encode_path(&path("/dir/实.doc/实.doc")).unwrap(), want);
        // A new listing without the name, or its removal, makes it an ordinary name again.
        gbk.forget(&path("/dir/实.doc"));
        assert_eq!(
            gbk.encode_path(&path("/dir/实.doc")).unwrap(),
            b"/dir/\xca\xb5.doc"
        );
        gbk.decode_listing(&path("/"), &mut [entry(utf8)]);
        let mut want = b"/".to_vec();
        want.extend_from_slice(utf8);
        assert_eq!(gbk.encode_path(&path("/实.doc")).unwrap(), want);
        gbk.decode_listing(&path("/"), &mut []);
        assert_eq!(gbk.encode_path(&path("/实.doc")).unwrap(), b"/\xca\xb5.doc");
        assert_eq!(gbk.encode_path(&RemotePath::root()).unwrap(), b"/");
    }

    /// encoding_rs decodes `gbk` with the GB18030 decoder, which accepts 4-byte sequences the
    /// GBK encoder cannot produce: such a name stays raw, so it can be used.
    #[test]
    fn gb18030_only_sequence_stays_raw_under_gbk() {
        let gbk = NameCodec::from_label("gbk").unwrap().unwrap();
        let server = b"\x81\x30\x81\x30.txt"; // U+0080 in GB18030's four-byte form
        assert_eq!(gbk.decode(server), server);
        let mut entries = [entry(server)];
        gbk.decode_listing(&path("/d"), &mut entries);
        assert_eq!(entries[0].name, server);
        let local = RemotePath::root()
            .join(&super::super::Name::new(b"d").unwrap())
            .join(&super::super::Name::new(server).unwrap());
        assert_eq!(gbk.encode_path(&local).unwrap(), b"/d/\x81\x30\x81\x30.txt");
        // gb18030 itself decodes it.
        let gb18030 = NameCodec::from_label("gb18030").unwrap().unwrap();
        assert_eq!(gb18030.decode(server), "\u{80}.txt".as_bytes());
    }

    #[test]
    fn labels() {
        assert!(NameCodec::from_label("utf-8").unwrap().is_none());
        for l in [
            "gbk",
            "gb18030",
            "big5",
            "shift_jis",
            "sjis",
            "euc-kr",
            "cp1251",
            "latin1",
            "koi8-r",
        ] {
            assert!(NameCodec::from_label(l).unwrap().is_some(), "{l}");
        }
        assert!(NameCodec::from_label("klingon").is_err());
        let cp1251 = NameCodec::from_label("cp1251").unwrap().unwrap();
        assert_eq!(
            cp1251.decode(b"\xcf\xf0\xe8\xe2\xe5\xf2"),
            "Привет".as_bytes()
        );
    }
}
