//! Fuzzes name and path validation (`ftpfs::remote::path`), the only way bytes reach an FTP
//! command line.
//!
//! Checked on arbitrary bytes: an accepted [`Name`] is the input unchanged, non-empty, at most
//! 255 bytes, not `.`/`..`, and has no CR, LF, NUL or `/` (so it can never smuggle a second
//! command); [`RemotePath::parse`] accepts exactly the inputs whose non-empty, non-`.`
//! components are all valid names, and what it returns starts with `/`, has no empty, `.` or
//! `..` component, no CR/LF/NUL, survives `split`/`join` and `rebase`, and its wire form
//! maps back to the same bytes.
#![no_main]

use ftpfs::remote::path::MAX_NAME_LEN;
use ftpfs::remote::{Name, RemotePath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(name) = Name::new(data) {
        check_name(name.as_bytes());
        assert_eq!(name.as_bytes(), data, "a name must not be rewritten");
    }

    let components: Vec<&[u8]> = data
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    let all_valid = components.iter().all(|c| Name::new(c).is_ok());
    match RemotePath::parse(data) {
        Ok(path) => {
            assert!(all_valid, "accepted a path with an invalid component");
            check_path(&path, &components);
        }
        Err(_) => assert!(!all_valid, "refused a path whose components are all valid"),
    }
});

fn check_name(bytes: &[u8]) {
    assert!(!bytes.is_empty());
    assert!(bytes.len() <= MAX_NAME_LEN);
    assert!(bytes != b"." && bytes != b"..");
    for forbidden in [b'\r', b'\n', 0, b'/'] {
        assert!(
            !bytes.contains(&forbidden),
            "name contains {forbidden:#04x}"
        );
    }
}

fn check_path(path: &RemotePath, components: &[&[u8]]) {
    let bytes = path.as_bytes();
    assert_eq!(bytes.first(), Some(&b'/'));
    assert_eq!(path.is_root(), components.is_empty());
    if path.is_root() {
        assert_eq!(bytes, b"/");
    } else {
        let parts: Vec<&[u8]> = bytes[1..].split(|&b| b == b'/').collect();
        assert_eq!(parts, components, "components changed");
        for part in &parts {
            check_name(part);
        }
    }
    for forbidden in [b'\r', b'\n', 0] {
        assert!(!bytes.contains(&forbidden));
    }

    // The wire form maps every char back to the same byte.
    let wire: Vec<u8> = path
        .wire()
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("wire char outside one byte"))
        .collect();
    assert_eq!(wire, bytes);

    // Parsing is idempotent.
    assert_eq!(RemotePath::parse(bytes).as_ref(), Ok(path));

    let root = RemotePath::root();
    assert!(path.starts_with(&root));
    assert!(path.starts_with(path));
    match path.split() {
        None => assert!(path.is_root()),
        Some((parent, name)) => {
            check_name(name.as_bytes());
            assert_eq!(&parent.join(&name), path);
            assert!(path.starts_with(&parent));
            assert!(!parent.starts_with(path));
            // Moving the whole tree below another directory and back.
            let elsewhere = RemotePath::parse(b"/elsewhere").unwrap();
            let moved = path.rebase(&root, &elsewhere);
            assert!(moved.starts_with(&elsewhere));
            assert_eq!(&moved.rebase(&elsewhere, &root), path);
        }
    }
}
