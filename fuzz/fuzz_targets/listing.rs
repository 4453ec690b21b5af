//! Fuzzes the directory-listing parser (`ftpfs::remote::listing`) with arbitrary bytes.
//!
//! Every input is parsed as a whole listing in both formats (MLSD and LIST) and line by line,
//! and every entry that comes out is checked against the invariants the module documents:
//! a non-empty name that is not `.`/`..`, has no `/` and no NUL byte and occurs verbatim in
//! its line; a link target only on symlinks, non-empty and without NUL; a mode within
//! `0o7777`; precision `Day` when there is no time; no size on devices. `parse_listing` must
//! also agree with parsing its lines one at a time, and never return more than one result per
//! line.
//!
//! The first four bytes also give a second "now" (any second between 1970 and 2106) for the
//! LIST parser's year inference, which the fixed "now" alone would not explore.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ftpfs::remote::listing::{
    parse_list_line, parse_listing, parse_mlsd_line, ListingFormat, ParseError, MAX_LINE_LEN,
};
use ftpfs::remote::{Entry, EntryKind, TimePrecision};
use libfuzzer_sys::fuzz_target;

/// 2026-11-23 22:30:00 UTC, the "now" of the unit tests' fixtures.
const NOW: u64 = 1_795_473_000;

fuzz_target!(|data: &[u8]| {
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    whole_listing(data, ListingFormat::Mlsd, now);
    whole_listing(data, ListingFormat::List, now);
    if let Some((head, rest)) = data.split_first_chunk::<4>() {
        let other_now = UNIX_EPOCH + Duration::from_secs(u64::from(u32::from_le_bytes(*head)));
        for line in lines(rest) {
            if let Ok(Some(entry)) = parse_list_line(line, other_now) {
                check_entry(&entry, line);
            }
        }
    }
});

/// Parses `data` as one listing and checks it against a line-by-line parse.
fn whole_listing(data: &[u8], format: ListingFormat, now: SystemTime) {
    let (entries, errors) = parse_listing(data, format, now);
    let mut expected_entries = Vec::new();
    let mut expected_errors = Vec::new();
    let mut line_count = 0;
    for line in lines(data) {
        line_count += 1;
        let parsed = match format {
            ListingFormat::Mlsd => parse_mlsd_line(line),
            ListingFormat::List => parse_list_line(line, now),
        };
        match parsed {
            Ok(Some(entry)) => {
                check_entry(&entry, line);
                expected_entries.push(entry);
            }
            Ok(None) => assert!(line.len() <= MAX_LINE_LEN),
            Err(e) => {
                check_error(&e, line);
                expected_errors.push(e);
            }
        }
    }
    assert!(entries.len() + errors.len() <= line_count);
    assert_eq!(
        entries, expected_entries,
        "parse_listing disagrees with its lines"
    );
    assert_eq!(
        errors, expected_errors,
        "parse_listing disagrees with its lines"
    );
}

/// The lines of a listing as `parse_listing` documents them: split at LF, one trailing CR
/// removed; the LF that ends the last line does not start another; no lines at all for
/// empty input.
fn lines(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return Vec::new();
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn check_entry(entry: &Entry, line: &[u8]) {
    let name = entry.name.as_slice();
    assert!(!name.is_empty(), "empty name from {line:?}");
    assert!(name != b"." && name != b"..", "dot entry from {line:?}");
    assert!(!name.contains(&b'/'), "name with '/' from {line:?}");
    assert!(!name.contains(&0), "name with NUL from {line:?}");
    assert!(
        !name.contains(&b'\n'),
        "name with LF from a single line {line:?}"
    );
    assert!(
        contains(line, name),
        "name not verbatim in its line {line:?}"
    );
    assert!(line.len() <= MAX_LINE_LEN, "entry from an over-long line");
    if let Some(target) = &entry.link_target {
        assert_eq!(
            entry.kind,
            EntryKind::Symlink,
            "target on a non-link {line:?}"
        );
        assert!(!target.is_empty(), "empty link target from {line:?}");
        assert!(!target.contains(&0), "link target with NUL from {line:?}");
    }
    if let Some(mode) = entry.mode {
        assert!(mode <= 0o7777, "mode {mode:o} from {line:?}");
    }
    if entry.mtime.is_none() {
        assert_eq!(
            entry.precision,
            TimePrecision::Day,
            "precision without time"
        );
    }
    if matches!(entry.kind, EntryKind::CharDevice | EntryKind::BlockDevice) {
        assert_eq!(entry.size, 0, "device with a size from {line:?}");
    }
}

fn check_error(err: &ParseError, line: &[u8]) {
    if line.len() > MAX_LINE_LEN {
        assert!(err.line.len() <= 256, "over-long line kept whole");
        assert!(line.starts_with(&err.line));
    } else {
        assert_eq!(err.line, line, "error does not carry its line");
    }
    assert!(!err.reason.is_empty());
    let _ = err.to_string();
}
