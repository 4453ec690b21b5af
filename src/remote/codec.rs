//! Legacy file-name encodings (`-o encoding=gbk` and friends), with encoding_rs.
//!
//! Linux names are bytes, and most servers send UTF-8. Servers that store names in a legacy
//! code page (GBK on many Chinese servers, cp1251, Shift_JIS, Big5, EUC-KR...) would show
//! mojibake. A [`NameCodec`] translates at the protocol boundary: names in listings are
//! decoded from the server's encoding into UTF-8, and paths sent to the server are encoded
//! back. Names that do not decode cleanly are passed through as raw bytes both ways, so they
//! stay usable; a local name that the server's encoding cannot represent is refused.

use encoding_rs::Encoding;

#[derive(Clone, Copy)]
pub struct NameCodec {
    encoding: &'static Encoding,
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
        Ok(Some(NameCodec { encoding }))
    }

    /// Server bytes → local (UTF-8) bytes; undecodable names are kept as they are.
    pub fn decode(&self, server: &[u8]) -> Vec<u8> {
        match self
            .encoding
            .decode_without_bom_handling_and_without_replacement(server)
        {
            Some(text) => text.into_owned().into_bytes(),
            None => server.to_vec(),
        }
    }

    /// Local bytes → server bytes. Non-UTF-8 local bytes (a name that did not decode) pass
    /// through; `None` if the name has a character the server's encoding cannot represent.
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
