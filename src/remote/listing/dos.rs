//! LIST lines in the MS-DOS style of IIS and some Windows servers:
//! `MM-DD-YY  HH:MM[AM|PM]  <DIR>|size name`.

use chrono::NaiveDate;

use super::{
    check_name, precision_of, small_number, strip_suffix_ci, to_system_time, Entry, EntryKind,
    ParseError, Span, TimePrecision,
};

/// Number of spaces IIS puts after `<DIR>`: 9 bytes of column padding plus the separator.
const DOS_DIR_PAD: usize = 10;

pub(super) fn parse_dos_line(line: &[u8], toks: &[Span]) -> Result<Option<Entry>, ParseError> {
    let err = |reason| ParseError::new(line, reason);
    let [date, time, column, ..] = toks else {
        return Err(err("truncated DOS line"));
    };
    let (month, day, year) = dos_date(date.of(line)).ok_or_else(|| err("invalid DOS date"))?;
    let (hour, minute) = dos_time(time.of(line)).ok_or_else(|| err("invalid DOS time"))?;

    let rest = &line[column.end..];
    let (kind, size, name) = if column.of(line).eq_ignore_ascii_case(b"<DIR>") {
        let padding = rest.iter().take_while(|&&b| b == b' ').count();
        (EntryKind::Dir, 0, &rest[padding.min(DOS_DIR_PAD)..])
    } else {
        let size = dos_size(column.of(line)).ok_or_else(|| err("invalid DOS size column"))?;
        (EntryKind::File, size, rest.get(1..).unwrap_or_default())
    };
    if name.is_empty() {
        return Err(err("missing name"));
    }
    if !check_name(line, name)? {
        return Ok(None);
    }
    let mtime = NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour?, minute, 0))
        .and_then(to_system_time);
    Ok(Some(Entry {
        name: name.to_vec(),
        kind,
        size,
        mtime,
        precision: precision_of(mtime, TimePrecision::Minute),
        mode: None,
        link_target: None,
    }))
}

/// `MM-DD-YY` or `MM-DD-YYYY` → (month, day, year). Two-digit years: 70-99 → 19xx, else 20xx.
pub(super) fn dos_date(field: &[u8]) -> Option<(u32, u32, i32)> {
    let mut parts = field.split(|&b| b == b'-');
    let (month, day, year) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !matches!(month.len(), 1..=2) || !matches!(day.len(), 1..=2) {
        return None;
    }
    let year = match (year.len(), i32::try_from(small_number(year)?).ok()?) {
        (2, yy @ 70..) => 1900 + yy,
        (2, yy) => 2000 + yy,
        (4, yyyy) => yyyy,
        _ => return None,
    };
    Some((small_number(month)?, small_number(day)?, year))
}

/// `HH:MM` (24 h) or `HH:MMAM` / `HH:MMPM` → (hour 0-23 if it is a real hour, minute).
fn dos_time(field: &[u8]) -> Option<(Option<u32>, u32)> {
    let (clock, pm) = if let Some(c) = strip_suffix_ci(field, b"AM") {
        (c, Some(false))
    } else if let Some(c) = strip_suffix_ci(field, b"PM") {
        (c, Some(true))
    } else {
        (field, None)
    };
    let colon = clock.iter().position(|&b| b == b':')?;
    if !matches!(colon, 1..=2) || clock.len() != colon + 3 {
        return None;
    }
    let hour = small_number(&clock[..colon])?;
    let minute = small_number(&clock[colon + 1..])?;
    let hour = match pm {
        None => Some(hour),
        Some(_) if !(1..=12).contains(&hour) => None,
        Some(false) => Some(hour % 12),
        Some(true) => Some(hour % 12 + 12),
    };
    Some((hour, minute))
}

/// Decimal size, possibly with thousands separators (`1,234`).
fn dos_size(field: &[u8]) -> Option<u64> {
    if !field.first()?.is_ascii_digit() || !field.last()?.is_ascii_digit() {
        return None;
    }
    field
        .iter()
        .filter(|&&b| b != b',')
        .try_fold(0u64, |acc, &b| {
            if b.is_ascii_digit() {
                acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            } else {
                None
            }
        })
}
