//! Directory-listing parser: turns the raw bytes of an FTP `MLSD` reply, or of a `LIST`
//! reply in Unix `ls -l` style or MS-DOS/IIS style, into [`Entry`] values.
//!
//! # What this module owns
//!
//! Splitting a listing into lines and interpreting each line, byte-exactly. Names and
//! link targets are never decoded, trimmed, re-joined or case-folded: every name is a
//! sub-slice of the line it came from, so Latin-1, GBK, UTF-8 and any other bytes pass
//! through unchanged. Column positions are found by tokenising on spaces while keeping
//! byte offsets, never by splitting and re-joining.
//!
//! # What it never does
//!
//! - No I/O, no clock reads (the caller passes `now`), no logging, no global state.
//! - No guessing: a line that does not fit the format becomes a [`ParseError`] and never an
//!   [`Entry`] with made-up fields. The only tolerated defects are a date that is in its place
//!   but is not a real calendar instant (`Apr 31`, `25:99`, `modify=garbage`) and an MLSD
//!   `unix.mode` that is not octal: the entry is kept with `mtime: None` (resp. `mode: None`),
//!   because the name, kind and size are still sound.
//! - It does not check that the transfer was complete: a final line without a line
//!   terminator is parsed like any other, so the session layer must only feed listings whose
//!   transfer ended with a 2xx reply.
//! - It never panics, whatever the input (tested on random bytes and truncated lines).
//!
//! # Invariants of every returned [`Entry`]
//!
//! - `name` is non-empty, is not `.` or `..`, contains no `/` and no NUL byte (lines whose
//!   name breaks this are [`ParseError`]s), and occurs verbatim in the source line.
//! - `link_target` is only ever `Some` for [`EntryKind::Symlink`]; it is non-empty and has no
//!   NUL byte.
//! - `mode`, when present, fits in `0o7777` (permission, setuid, setgid and sticky bits).
//! - `mtime` is UTC: listings carry no time zone, so server-local times are read as UTC.
//! - When `mtime` is `None`, `precision` is [`TimePrecision::Day`] (the weakest claim).
//! - `size` is what the listing says, or 0 when it says nothing (and always 0 for devices).
//!
//! # Format decisions (see the function docs for details)
//!
//! - `MLSD`: the facts end at the first `"; "`; the name is everything after that one space.
//!   A line starting with a space has no facts. Unknown `type` values become
//!   [`EntryKind::File`]. An MLST line received on the control connection carries a leading
//!   continuation space that the caller must strip before calling [`parse_mlsd_line`].
//! - Unix `LIST`: the name is everything after the single space that follows the time/year
//!   column. ` -> ` is split (at its first occurrence) only for `l` entries. Dates without a
//!   year get the current year, or the previous one when that would put them more than one
//!   day after `now`.
//! - DOS/IIS `LIST`: a size column is followed by exactly one space before the name. IIS pads
//!   `<DIR>` so that 10 spaces follow it; up to 10 spaces after `<DIR>` are column padding and
//!   any further spaces belong to the name. A directory name with leading spaces sent by a
//!   server using less padding than IIS loses those spaces (the format cannot express them).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta};

use super::{Entry, EntryKind, TimePrecision};

/// Longest line (without its line terminator) that is parsed; longer lines are
/// [`ParseError`]s. Protects against hostile servers sending unbounded lines.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// How many bytes of an over-long line are kept in its [`ParseError`].
const TOO_LONG_KEPT: usize = 256;

/// Month abbreviations as `ls` prints them, matched case-insensitively after one trailing
/// `.` is dropped: English (what FTP servers that format listings themselves print), then
/// those of servers that run `ls` in another locale (wu-ftpd, embedded devices): German,
/// French, Spanish, Italian, Portuguese, Dutch, Polish and Russian. No abbreviation names two
/// different months. Chinese, Japanese and Korean listings number their months: see
/// [`CJK_MONTH_SUFFIXES`].
const MONTHS: [&[&str]; 12] = [
    &["jan", "janv", "ene", "gen", "sty", "янв"],
    &["feb", "fév", "févr", "fev", "lut", "фев"],
    &["mar", "mär", "mrz", "mars", "mrt", "мар"],
    &["apr", "avr", "avril", "abr", "kwi", "апр"],
    &["may", "mai", "mag", "mei", "maj", "май", "мая"],
    &["jun", "juin", "giu", "cze", "июн"],
    &["jul", "juil", "lug", "lip", "июл"],
    &["aug", "août", "ago", "sie", "авг"],
    &["sep", "sept", "set", "wrz", "сен"],
    &["oct", "okt", "ott", "out", "paź", "окт"],
    &["nov", "lis", "ноя"],
    &["dec", "dez", "déc", "dic", "gru", "дек"],
];

/// What follows the month's number in Chinese and Japanese (月) and Korean (월) listings,
/// in each encoding such a server may use: UTF-8, GBK/GB18030, Big5, Shift_JIS, EUC-JP,
/// EUC-KR. (`ls` in those locales prints `10月 23 05:53`.)
const CJK_MONTH_SUFFIXES: [&[u8]; 7] = [
    "月".as_bytes(),
    b"\xd4\xc2",
    b"\xa4\xeb",
    b"\x8c\x8e",
    b"\xb7\xee",
    "월".as_bytes(),
    b"\xbf\xf9",
];

/// What may follow a day's number: a German `23.`, or 日/일 in UTF-8 and GBK.
const DAY_SUFFIXES: [&[u8]; 4] = [b".", "日".as_bytes(), "일".as_bytes(), b"\xc8\xd5"];

/// Which command produced a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingFormat {
    Mlsd,
    List,
}

/// Why a line was not turned into an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The offending line without its line terminator (only the first 256 bytes when the
    /// line was longer than [`MAX_LINE_LEN`]).
    pub line: Vec<u8>,
    pub reason: &'static str,
}

impl ParseError {
    fn new(line: &[u8], reason: &'static str) -> Self {
        ParseError {
            line: line.to_vec(),
            reason,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot parse listing line \"{}\": {}",
            self.line.escape_ascii(),
            self.reason
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses one MLSD/MLST fact line ("type=file;size=12;modify=20240101120000; name").
/// Ok(None) for entries that are not children (type=cdir, type=pdir, and names "." / "..").
///
/// Facts are `key=value;` pairs with case-insensitive keys; they end at the first `"; "` and
/// the name is everything after that single space (it may contain `;`, `=` and spaces,
/// including leading and trailing ones). A line starting with a space has no facts; an empty
/// line is `Ok(None)`. Facts used: `type`, `size`, `modify` (UTC, sub-seconds kept, precision
/// `Exact`) and `unix.mode`; all others (`sizd`, `perm`, `unique`, `unix.owner`, ...) are
/// ignored. Errors: no `"; "` boundary, a fact without `=`, an unparsable `size`, an empty or
/// otherwise invalid name. An unparsable `modify` or `unix.mode` only leaves that field `None`.
pub fn parse_mlsd_line(line: &[u8]) -> Result<Option<Entry>, ParseError> {
    check_len(line)?;
    if line.is_empty() {
        return Ok(None);
    }
    let err = |reason| ParseError::new(line, reason);
    let (facts, name) = split_mlsd(line).ok_or_else(|| err("no \"; \" between facts and name"))?;

    let mut ty = None;
    let mut size = None;
    let mut modify = None;
    let mut unix_mode = None;
    for fact in facts.split(|&b| b == b';').filter(|f| !f.is_empty()) {
        let eq = fact
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| err("MLSD fact without '='"))?;
        let (key, value) = (&fact[..eq], &fact[eq + 1..]);
        if key.eq_ignore_ascii_case(b"type") {
            ty = Some(value);
        } else if key.eq_ignore_ascii_case(b"size") {
            size = Some(value);
        } else if key.eq_ignore_ascii_case(b"modify") {
            modify = Some(value);
        } else if key.eq_ignore_ascii_case(b"unix.mode") {
            unix_mode = Some(value);
        } else if key.is_empty() {
            return Err(err("MLSD fact with an empty name"));
        }
    }

    let (kind, link_target) = match ty.map(mlsd_type) {
        None => (EntryKind::File, None),
        Some(MlsdType::NotChild) => return Ok(None),
        Some(MlsdType::Child(kind, target)) => (kind, target),
    };
    if !check_name(line, name)? {
        return Ok(None);
    }
    let link_target = check_target(line, link_target)?;
    let size = match size {
        None => 0,
        Some(v) => parse_decimal(v).ok_or_else(|| err("invalid MLSD size fact"))?,
    };
    let mtime = modify.and_then(parse_mlsd_time);
    // Devices have no byte size (the LIST parser agrees).
    let size = match kind {
        EntryKind::CharDevice | EntryKind::BlockDevice => 0,
        _ => size,
    };
    Ok(Some(Entry {
        name: name.to_vec(),
        kind,
        size,
        mtime,
        precision: precision_of(mtime, TimePrecision::Exact),
        mode: unix_mode.and_then(parse_octal_mode),
        link_target,
    }))
}

/// How exact an entry's time is: `known` when it has one, else day precision (no time).
fn precision_of(mtime: Option<SystemTime>, known: TimePrecision) -> TimePrecision {
    if mtime.is_some() {
        known
    } else {
        TimePrecision::Day
    }
}

/// Parses one LIST line, Unix or DOS form. `now` is used to infer the year of Unix dates that
/// omit it: the date gets `now`'s year, or the previous year if it would then be more than one
/// day after `now` (or would not exist, e.g. Feb 29). Ok(None) for `total N` lines, blank
/// lines and the entries "." and "..".
///
/// A line whose first column looks like `MM-DD-YY` or `MM-DD-YYYY` is read as DOS/IIS,
/// anything else as Unix `ls -l`. Unix dates with a year get precision `Day` (at 00:00 UTC),
/// dates with a time get `Minute`; DOS dates always get `Minute`. Times are taken as UTC.
pub fn parse_list_line(line: &[u8], now: SystemTime) -> Result<Option<Entry>, ParseError> {
    check_len(line)?;
    if line.iter().all(|&b| b == b' ' || b == b'\t') {
        return Ok(None);
    }
    let toks = tokenize(line);
    let Some(first) = toks.first() else {
        return Ok(None);
    };
    if is_total_line(line, &toks) {
        return Ok(None);
    }
    if first.start != 0 {
        return Err(ParseError::new(line, "LIST line starts with a space"));
    }
    if dos_date(first.of(line)).is_some() {
        parse_dos_line(line, &toks)
    } else {
        parse_unix_line(line, &toks, now)
    }
}

/// Splits raw listing bytes into lines (LF or CRLF; strip exactly one trailing CR), parses each,
/// and returns the entries plus the lines that failed. Never invents an entry for a bad line.
///
/// Lines longer than [`MAX_LINE_LEN`] are reported as errors. Entries keep the listing's order.
pub fn parse_listing(
    data: &[u8],
    format: ListingFormat,
    now: SystemTime,
) -> (Vec<Entry>, Vec<ParseError>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for line in split_lines(data) {
        let parsed = match format {
            ListingFormat::Mlsd => parse_mlsd_line(line),
            ListingFormat::List => parse_list_line(line, now),
        };
        match parsed {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (entries, errors)
}

/// Lines of `data`: split at LF, one trailing CR removed from each. The LF ending the last
/// line does not start another (empty) line; an unterminated last line is still a line.
fn split_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    body.split(|&b| b == b'\n')
        .filter(move |_| !data.is_empty())
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

fn check_len(line: &[u8]) -> Result<(), ParseError> {
    if line.len() > MAX_LINE_LEN {
        Err(ParseError::new(&line[..TOO_LONG_KEPT], "line too long"))
    } else {
        Ok(())
    }
}

/// Checks a name taken from a line. `Ok(false)` for "." and "..", which are not children.
fn check_name(line: &[u8], name: &[u8]) -> Result<bool, ParseError> {
    if name.is_empty() {
        Err(ParseError::new(line, "empty name"))
    } else if name == b"." || name == b".." {
        Ok(false)
    } else if name.contains(&b'/') {
        Err(ParseError::new(line, "name contains '/'"))
    } else if name.contains(&0) {
        Err(ParseError::new(line, "name contains a NUL byte"))
    } else {
        Ok(true)
    }
}

/// An empty target counts as no target; a NUL byte makes the line invalid.
fn check_target(line: &[u8], target: Option<&[u8]>) -> Result<Option<Vec<u8>>, ParseError> {
    match target {
        Some(t) if t.contains(&0) => Err(ParseError::new(line, "link target contains a NUL byte")),
        Some(t) if !t.is_empty() => Ok(Some(t.to_vec())),
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------
// MLSD

/// Splits an MLSD line into (facts, name). Facts keep no trailing `;`.
fn split_mlsd(line: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(name) = line.strip_prefix(b" ") {
        return Some((&[], name));
    }
    let end = line.windows(2).position(|w| w == b"; ")?;
    Some((&line[..end], &line[end + 2..]))
}

enum MlsdType<'a> {
    /// `cdir` / `pdir`: the listed directory itself or its parent.
    NotChild,
    Child(EntryKind, Option<&'a [u8]>),
}

fn mlsd_type(value: &[u8]) -> MlsdType<'_> {
    let child = |kind| MlsdType::Child(kind, None);
    if value.eq_ignore_ascii_case(b"cdir") || value.eq_ignore_ascii_case(b"pdir") {
        MlsdType::NotChild
    } else if value.eq_ignore_ascii_case(b"dir") {
        child(EntryKind::Dir)
    } else if value.eq_ignore_ascii_case(b"link") {
        child(EntryKind::Symlink)
    } else if let Some(os) = strip_prefix_ci(value, b"os.unix=") {
        // `slink:/target` (RFC 3659 example syntax) or `symlink` (its grammar).
        let link = strip_prefix_ci(os, b"symlink").or_else(|| strip_prefix_ci(os, b"slink"));
        match link {
            Some(b"") => child(EntryKind::Symlink),
            Some(rest) if rest.first() == Some(&b':') => {
                MlsdType::Child(EntryKind::Symlink, Some(&rest[1..]))
            }
            _ if strip_prefix_ci(os, b"chr").is_some() => child(EntryKind::CharDevice),
            _ if strip_prefix_ci(os, b"blk").is_some() => child(EntryKind::BlockDevice),
            _ if strip_prefix_ci(os, b"fifo").is_some() => child(EntryKind::Fifo),
            _ if strip_prefix_ci(os, b"sock").is_some() => child(EntryKind::Socket),
            _ => child(EntryKind::File),
        }
    } else {
        // `file`, and unknown types (`unknown`, `OS.win32=...`): best treated as files.
        child(EntryKind::File)
    }
}

/// `YYYYMMDDHHMMSS[.fraction]`, UTC. Fraction digits beyond nanoseconds are dropped.
fn parse_mlsd_time(value: &[u8]) -> Option<SystemTime> {
    let (digits, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], Some(&value[dot + 1..])),
        None => (value, None),
    };
    if digits.len() != 14 {
        return None;
    }
    let year = i32::try_from(small_number(&digits[0..4])?).ok()?;
    let nanos = match fraction {
        None => 0,
        Some(f) if !f.is_empty() && f.iter().all(u8::is_ascii_digit) => f
            .iter()
            .chain(std::iter::repeat(&b'0'))
            .take(9)
            .fold(0, |acc, &d| acc * 10 + u32::from(d - b'0')),
        Some(_) => return None,
    };
    let date = NaiveDate::from_ymd_opt(
        year,
        small_number(&digits[4..6])?,
        small_number(&digits[6..8])?,
    )?;
    let datetime = date.and_hms_nano_opt(
        small_number(&digits[8..10])?,
        small_number(&digits[10..12])?,
        small_number(&digits[12..14])?,
        nanos,
    )?;
    to_system_time(datetime)
}

/// Octal permission bits, e.g. `644`, `0644`, `04755`; a full `st_mode` such as `0100644`
/// is accepted and masked to `0o7777`.
fn parse_octal_mode(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 7 || !value.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let mode = value
        .iter()
        .fold(0u32, |acc, &d| acc * 8 + u32::from(d - b'0'));
    Some(mode & 0o7777)
}

// ---------------------------------------------------------------------------------------
// LIST: shared helpers

/// A space-delimited field of a line, as byte offsets into it.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn of(self, line: &[u8]) -> &[u8] {
        &line[self.start..self.end]
    }
}

/// Fields separated by runs of spaces (only spaces: tabs belong to fields).
fn tokenize(line: &[u8]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        match (b == b' ', start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                spans.push(Span { start: s, end: i });
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push(Span {
            start: s,
            end: line.len(),
        });
    }
    spans
}

/// `total 123` as printed by `ls -l`.
fn is_total_line(line: &[u8], toks: &[Span]) -> bool {
    matches!(toks, [word, count]
        if word.of(line) == b"total" && count.of(line).iter().all(u8::is_ascii_digit))
}

// ---------------------------------------------------------------------------------------
// LIST: Unix `ls -l` style

/// The date columns of a Unix line: month, day, and either a time or a year.
struct UnixDate {
    month: u32,
    day: u32,
    clock: Clock,
}

enum Clock {
    Time { hour: u32, minute: u32 },
    Year(i32),
}

fn parse_unix_line(
    line: &[u8],
    toks: &[Span],
    now: SystemTime,
) -> Result<Option<Entry>, ParseError> {
    let err = |reason| ParseError::new(line, reason);
    let (kind, mode) = parse_perms(toks[0].of(line)).map_err(err)?;
    let (date_idx, date, size) =
        find_date(line, toks, kind).ok_or_else(|| err("no size and date columns"))?;

    // The name is everything after the single space that follows the time/year column.
    let after_date = &line[toks[date_idx + 2].end..];
    let field = match after_date.get(1..) {
        Some(field) if !field.is_empty() => field,
        _ => return Err(err("missing name")),
    };
    let (name, target) = match kind {
        EntryKind::Symlink => match find(field, b" -> ") {
            Some(arrow) => (&field[..arrow], Some(&field[arrow + 4..])),
            None => (field, None),
        },
        _ => (field, None),
    };
    if !check_name(line, name)? {
        return Ok(None);
    }
    let link_target = check_target(line, target)?;

    let (mtime, precision) = match date.clock {
        Clock::Year(year) => (
            NaiveDate::from_ymd_opt(year, date.month, date.day)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .and_then(to_system_time),
            TimePrecision::Day,
        ),
        Clock::Time { hour, minute } => (
            infer_year(date.month, date.day, hour, minute, now).and_then(to_system_time),
            TimePrecision::Minute,
        ),
    };
    Ok(Some(Entry {
        name: name.to_vec(),
        kind,
        size,
        mtime,
        precision: precision_of(mtime, precision),
        mode: Some(mode),
        link_target,
    }))
}

/// Type letter, nine permission characters and an optional ACL/xattr/SELinux marker.
fn parse_perms(field: &[u8]) -> Result<(EntryKind, u32), &'static str> {
    let kind = match field.first() {
        Some(b'-') => EntryKind::File,
        Some(b'd') => EntryKind::Dir,
        Some(b'l') => EntryKind::Symlink,
        Some(b'c') => EntryKind::CharDevice,
        Some(b'b') => EntryKind::BlockDevice,
        Some(b'p') => EntryKind::Fifo,
        Some(b's') => EntryKind::Socket,
        _ => return Err("unknown file type letter"),
    };
    let perms = match field {
        [_, perms @ ..] if perms.len() == 9 => perms,
        [_, perms @ .., b'+' | b'@' | b'.'] if perms.len() == 9 => perms,
        _ => return Err("invalid permission field"),
    };
    let mut mode = 0;
    for (i, &c) in perms.iter().enumerate() {
        // Bit for r/w/x at this position, and the special bit shown in its x slot.
        let bit = 0o400 >> i;
        let special = [0o4000, 0o2000, 0o1000][i / 3];
        mode |= match (i % 3, c) {
            (_, b'-') => 0,
            (0, b'r') | (1, b'w') | (2, b'x') => bit,
            (2, b's') if i != 8 => bit | special,
            (2, b'S') if i != 8 => special,
            (2, b't') if i == 8 => bit | special,
            (2, b'T') if i == 8 => special,
            // Solaris: setgid without group execute means mandatory locking.
            (2, b'l' | b'L') if i == 5 => special,
            _ => return Err("invalid permission field"),
        };
    }
    Ok((kind, mode))
}

/// Finds the first `month day time-or-year` triple (or `day month time-or-year`, as some
/// locales print it) preceded by at least two columns (owner and size at minimum) whose last
/// column is a size (devices: anything, size 0). Returns the first date token's index, the
/// date and the size.
fn find_date(line: &[u8], toks: &[Span], kind: EntryKind) -> Option<(usize, UnixDate, u64)> {
    let is_device = matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice);
    (3..toks.len().saturating_sub(2)).find_map(|i| {
        let (first, second) = (toks[i].of(line), toks[i + 1].of(line));
        let (month, day) = match (parse_month(first), parse_day(second)) {
            (Some(month), Some(day)) => (month, day),
            _ => (parse_month(second)?, parse_day(first)?),
        };
        let clock = parse_clock(toks[i + 2].of(line))?;
        let size = if is_device {
            0
        } else {
            parse_decimal(toks[i - 1].of(line))?
        };
        Some((i, UnixDate { month, day, clock }, size))
    })
}

/// A month: a name from [`MONTHS`], or a number followed by a [`CJK_MONTH_SUFFIXES`] entry.
fn parse_month(field: &[u8]) -> Option<u32> {
    if let Some(number) = CJK_MONTH_SUFFIXES
        .iter()
        .find_map(|suffix| field.strip_suffix(*suffix))
    {
        return small_number(number)
            .filter(|m| (1..=12).contains(m) && number.len() <= 2)
            .filter(|_| number.iter().all(u8::is_ascii_digit));
    }
    let name = std::str::from_utf8(field.strip_suffix(b".").unwrap_or(field)).ok()?;
    if name.is_empty() || name.chars().count() > 5 {
        return None;
    }
    let name = name.to_lowercase();
    let index = MONTHS
        .iter()
        .position(|names| names.contains(&name.as_str()))?;
    u32::try_from(index + 1).ok()
}

/// A day of the month: one or two digits, maybe with a [`DAY_SUFFIXES`] entry. Whether the
/// day exists in its month is checked later, by the calendar.
fn parse_day(field: &[u8]) -> Option<u32> {
    let digits = DAY_SUFFIXES
        .iter()
        .find_map(|suffix| field.strip_suffix(*suffix))
        .unwrap_or(field);
    if !(1..=2).contains(&digits.len()) {
        return None;
    }
    small_number(digits)
}

/// `HH:MM` / `H:MM`, or a four-digit year. Values are checked later, by the calendar.
fn parse_clock(field: &[u8]) -> Option<Clock> {
    match field.iter().position(|&b| b == b':') {
        Some(colon @ 1..=2) if field.len() == colon + 3 => Some(Clock::Time {
            hour: small_number(&field[..colon])?,
            minute: small_number(&field[colon + 1..])?,
        }),
        Some(_) => None,
        None if field.len() == 4 => Some(Clock::Year(i32::try_from(small_number(field)?).ok()?)),
        None => None,
    }
}

/// The date for a `Mon DD HH:MM` line: `now`'s year unless that is more than a day after
/// `now` (or does not exist), in which case the previous year.
fn infer_year(
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    now: SystemTime,
) -> Option<NaiveDateTime> {
    let now = from_system_time(now)?;
    let limit = now.checked_add_signed(TimeDelta::days(1)).unwrap_or(now);
    let at = |year| NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, 0);
    match at(now.year()) {
        Some(this_year) if this_year <= limit => Some(this_year),
        _ => at(now.year().checked_sub(1)?),
    }
}

// ---------------------------------------------------------------------------------------
// Small byte helpers and time conversion

/// Non-empty run of ASCII digits as u64 (no sign, no spaces), None on overflow.
fn parse_decimal(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    field.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Short run of digits (at most 9, so no overflow) as u32.
fn small_number(field: &[u8]) -> Option<u32> {
    if field.len() > 9 {
        return None;
    }
    u32::try_from(parse_decimal(field)?).ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn strip_prefix_ci<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

fn strip_suffix_ci<'a>(value: &'a [u8], suffix: &[u8]) -> Option<&'a [u8]> {
    let split = value.len().checked_sub(suffix.len())?;
    value[split..]
        .eq_ignore_ascii_case(suffix)
        .then(|| &value[..split])
}

/// A UTC calendar instant as a SystemTime (None if out of SystemTime's range).
fn to_system_time(datetime: NaiveDateTime) -> Option<SystemTime> {
    let utc = datetime.and_utc();
    let secs = Duration::from_secs(utc.timestamp().unsigned_abs());
    let base = if utc.timestamp() >= 0 {
        UNIX_EPOCH.checked_add(secs)?
    } else {
        UNIX_EPOCH.checked_sub(secs)?
    };
    base.checked_add(Duration::from_nanos(u64::from(
        utc.timestamp_subsec_nanos(),
    )))
}

/// A SystemTime as a UTC calendar instant (None if out of chrono's range).
fn from_system_time(time: SystemTime) -> Option<NaiveDateTime> {
    let utc = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => {
            DateTime::from_timestamp(i64::try_from(after.as_secs()).ok()?, after.subsec_nanos())
        }
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).ok()?;
            match before.subsec_nanos() {
                0 => DateTime::from_timestamp(-secs, 0),
                nanos => DateTime::from_timestamp(-secs - 1, 1_000_000_000 - nanos),
            }
        }
    }?;
    Some(utc.naive_utc())
}

mod dos;
use dos::{dos_date, parse_dos_line};

#[cfg(test)]
mod tests;
