//! Unit tests of `listing` (kept apart so the module itself stays readable).

use super::*;
use EntryKind::{BlockDevice, CharDevice, Dir, Fifo, File, Socket, Symlink};
use TimePrecision::{Day, Exact, Minute};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/listings/", $name)).as_slice()
    };
}

const PROFTPD_LIST: &[u8] = fixture!("proftpd_list.txt");
const PROFTPD_MLSD: &[u8] = fixture!("proftpd_mlsd.txt");
const PROFTPD_MLSD_SLINK: &[u8] = fixture!("proftpd_mlsd_slink.txt");
const VSFTPD_LIST: &[u8] = fixture!("vsftpd_list.txt");
const PUREFTPD_LIST: &[u8] = fixture!("pureftpd_list.txt");
const PUREFTPD_MLSD: &[u8] = fixture!("pureftpd_mlsd.txt");
const PUREFTPD_MLSD_ANON: &[u8] = fixture!("pureftpd_mlsd_anon.txt");
const IIS_DOS: &[u8] = fixture!("iis_dos.txt");
const DOS_VARIANTS: &[u8] = fixture!("dos_variants.txt");
const SERVU_LIST: &[u8] = fixture!("servu_list.txt");
const SERVU_MLSD: &[u8] = fixture!("serv-u_mlsd.txt");
const TRICKY_UNIX: &[u8] = fixture!("tricky_unix.txt");
const TRICKY_MLSD: &[u8] = fixture!("tricky_mlsd.txt");
const LOCALIZED_UNIX: &[u8] = fixture!("localized_unix.txt");

const ALL_FIXTURES: [&[u8]; 14] = [
    PROFTPD_LIST,
    PROFTPD_MLSD,
    PROFTPD_MLSD_SLINK,
    VSFTPD_LIST,
    PUREFTPD_LIST,
    PUREFTPD_MLSD,
    PUREFTPD_MLSD_ANON,
    IIS_DOS,
    DOS_VARIANTS,
    SERVU_LIST,
    SERVU_MLSD,
    TRICKY_UNIX,
    TRICKY_MLSD,
    LOCALIZED_UNIX,
];

/// Names that are not ASCII: Latin-1 "café.txt", GBK "中文.txt", UTF-8 "实验.doc".
const CAFE: &[u8] = b"caf\xe9.txt";
const GBK: &[u8] = b"\xd6\xd0\xce\xc4.txt";
const UTF8: &[u8] = "实验.doc".as_bytes();

/// The fixtures' "now": 2026-11-23 22:30:00 UTC (when the proftpd captures were taken).
const NOW: i64 = 1_795_473_000;
/// 2026-11-23 19:15 UTC, the hand-written fixtures' "recent" time.
const T1915: i64 = 1_795_461_300;
/// 2016-03-16 00:00 and 10:00 UTC.
const D2016: i64 = 1_458_086_400;
const T2016: i64 = 1_458_122_400;

fn at_ns(secs: i64, nanos: u32) -> Option<SystemTime> {
    let whole = Duration::from_secs(secs.unsigned_abs());
    let base = if secs >= 0 {
        UNIX_EPOCH + whole
    } else {
        UNIX_EPOCH - whole
    };
    Some(base + Duration::from_nanos(nanos.into()))
}

fn at(secs: i64) -> Option<SystemTime> {
    at_ns(secs, 0)
}

fn now_at(secs: i64) -> SystemTime {
    at(secs).expect("test time")
}

/// A plain file entry; refine with the builder methods of [`With`].
fn ent(name: &[u8], size: u64, mtime: Option<SystemTime>, precision: TimePrecision) -> Entry {
    Entry {
        name: name.to_vec(),
        kind: File,
        size,
        mtime,
        precision,
        mode: None,
        link_target: None,
    }
}

trait With {
    fn kind(self, kind: EntryKind) -> Self;
    fn mode(self, mode: u32) -> Self;
    fn target(self, target: &[u8]) -> Self;
}

impl With for Entry {
    fn kind(self, kind: EntryKind) -> Self {
        Entry { kind, ..self }
    }
    fn mode(self, mode: u32) -> Self {
        Entry {
            mode: Some(mode),
            ..self
        }
    }
    fn target(self, target: &[u8]) -> Self {
        Entry {
            link_target: Some(target.to_vec()),
            ..self
        }
    }
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    split_lines(data).collect()
}

fn parse(data: &[u8], format: ListingFormat) -> (Vec<Entry>, Vec<ParseError>) {
    parse_listing(data, format, now_at(NOW))
}

fn parse_ok(data: &[u8], format: ListingFormat) -> Vec<Entry> {
    let (entries, errors) = parse(data, format);
    assert_eq!(errors, vec![], "unexpected errors");
    entries
}

fn assert_entries(actual: &[Entry], expected: &[Entry]) {
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(a, e, "entry {i} ({})", e.name.escape_ascii());
    }
    assert_eq!(actual.len(), expected.len(), "number of entries");
}

/// Errors must be exactly the last `reasons.len()` lines of the fixture, in order.
fn assert_errors(data: &[u8], errors: &[ParseError], reasons: &[&str]) {
    let all = lines(data);
    let bad = &all[all.len() - reasons.len()..];
    let actual: Vec<_> = errors
        .iter()
        .map(|e| (e.line.as_slice(), e.reason))
        .collect();
    let expected: Vec<_> = bad.iter().copied().zip(reasons.iter().copied()).collect();
    assert_eq!(actual, expected);
}

// -------------------------------------------------------------------------------
// The same directory listed by proftpd (captured), vsftpd and pure-ftpd (generated
// with their format strings from the same directory).

/// 2026-11-23 22:21, the minute most files of the captured directory were made.
const T_FILES: i64 = 1_795_472_460;

/// The captured directory as a Unix LIST shows it. `setuid` is dated 2027-01-10 12:00,
/// which servers print differently; `specials` is false for pure-ftpd, which hides them.
fn list_tree(setuid: Entry, specials: bool) -> Vec<Entry> {
    let f = |name: &[u8], size| ent(name, size, at(T_FILES), Minute).mode(0o644);
    let mut v = vec![
        f(b"  leading.txt", 1),
        f(b"a -> b.txt", 1),
        ent(b"big.bin", 1_234_567, at(1_793_693_100), Minute).mode(0o644),
        f(CAFE, 1),
        ent(b"docs", 4096, at(D2016), Day).kind(Dir).mode(0o755),
        f(b"fifo", 0).kind(Fifo),
        ent(b"hello.txt", 6, at(D2016), Day).mode(0o644),
        ent(b"link-to-hello", 9, at(1_737_763_200), Day)
            .kind(Symlink)
            .mode(0o777)
            .target(b"hello.txt"),
        f(b"loop0", 0).kind(BlockDevice),
        f(b"null", 0).kind(CharDevice),
        f(b"semi;colon=eq.txt", 1),
        f(b"setgid-noexec", 1).mode(0o2644),
        setuid,
        f(b"sock", 0).kind(Socket).mode(0o755),
        f(b"spaced link", 16)
            .kind(Symlink)
            .mode(0o777)
            .target(b"/etc/some target"),
        f(b"sticky", 4096).kind(Dir).mode(0o7777),
        f(b"sticky-noexec", 4096).kind(Dir).mode(0o1776),
        ent(b"sub dir", 4096, at(1_781_101_800), Minute)
            .kind(Dir)
            .mode(0o755),
        f(b"trailing.txt ", 1),
        ent(b"two  spaces.txt", 1, at(1_767_225_600), Day).mode(0o644),
        f(GBK, 1),
        f(UTF8, 1),
    ];
    if !specials {
        v.retain(|e| !matches!(e.kind, Fifo | Socket | CharDevice | BlockDevice));
    }
    v
}

/// `setuid` printed as "Jan 10 12:00" (no year, as proftpd and pure-ftpd do for a
/// future file): the standard rule can only place it in 2026 — a documented limit.
fn setuid_without_year() -> Entry {
    ent(b"setuid", 1, at(1_768_046_400), Minute).mode(0o4755)
}

#[test]
fn proftpd_list_real_capture() {
    let entries = parse_ok(PROFTPD_LIST, ListingFormat::List);
    assert_entries(&entries, &list_tree(setuid_without_year(), true));
}

#[test]
fn vsftpd_list() {
    // vsftpd prints future dates with their year, and zero-pads days ("Nov 03").
    let setuid = ent(b"setuid", 1, at(1_799_539_200), Day).mode(0o4755);
    let entries = parse_ok(VSFTPD_LIST, ListingFormat::List);
    assert_entries(&entries, &list_tree(setuid, true));
}

#[test]
fn pureftpd_list() {
    let entries = parse_ok(PUREFTPD_LIST, ListingFormat::List);
    assert_entries(&entries, &list_tree(setuid_without_year(), false));
}

/// The captured directory as MLSD shows it, sorted by name. proftpd and pure-ftpd both
/// report fifos, sockets and devices as plain files (`type=file` / `type=unknown`).
/// `link` is the symlink entry `link-to-hello`; `spaced` the dangling `spaced link`
/// (proftpd omits it).
fn mlsd_tree(link: Entry, spaced: Option<Entry>) -> Vec<Entry> {
    let t = at(1_795_472_514);
    let f = |name: &[u8], size| ent(name, size, t, Exact).mode(0o644);
    let mut v = vec![
        f(b"  leading.txt", 1),
        f(b"a -> b.txt", 1),
        ent(b"big.bin", 1_234_567, at(1_793_693_109), Exact).mode(0o644),
        f(CAFE, 1),
        ent(b"docs", 0, at(T2016), Exact).kind(Dir).mode(0o755),
        f(b"fifo", 0),
        ent(b"hello.txt", 6, at(T2016), Exact).mode(0o644),
        link,
        f(b"loop0", 0),
        f(b"null", 0),
        f(b"semi;colon=eq.txt", 1),
        f(b"setgid-noexec", 1).mode(0o2644),
        ent(b"setuid", 1, at(1_799_582_400), Exact).mode(0o4755),
        f(b"sock", 0).mode(0o755),
    ];
    v.extend(spaced);
    v.extend([
        f(b"sticky", 0).kind(Dir).mode(0o7777),
        f(b"sticky-noexec", 0).kind(Dir).mode(0o1776),
        ent(b"sub dir", 0, at(1_781_101_845), Exact)
            .kind(Dir)
            .mode(0o755),
        f(b"trailing.txt ", 1),
        ent(b"two  spaces.txt", 1, at(1_767_225_630), Exact).mode(0o644),
        f(GBK, 1),
        f(UTF8, 1),
    ]);
    v
}

fn link_to_hello() -> Entry {
    ent(b"link-to-hello", 9, at(1_737_764_220), Exact)
        .kind(Symlink)
        .mode(0o777)
}

fn spaced_link() -> Entry {
    ent(b"spaced link", 16, at(1_795_472_514), Exact)
        .kind(Symlink)
        .mode(0o777)
}

fn parse_mlsd_sorted(data: &[u8]) -> Vec<Entry> {
    let mut entries = parse_ok(data, ListingFormat::Mlsd);
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

#[test]
fn proftpd_mlsd_real_capture() {
    let entries = parse_mlsd_sorted(PROFTPD_MLSD);
    assert_entries(&entries, &mlsd_tree(link_to_hello(), None));
}

#[test]
fn proftpd_mlsd_with_useslink_real_capture() {
    let entries = parse_mlsd_sorted(PROFTPD_MLSD_SLINK);
    let link = link_to_hello().target(b"/pub/hello.txt");
    assert_entries(&entries, &mlsd_tree(link, None));
}

#[test]
fn pureftpd_mlsd() {
    // Logged-in users get "type=OS.unix=slink:;" with the target left out.
    let entries = parse_mlsd_sorted(PUREFTPD_MLSD);
    assert_entries(&entries, &mlsd_tree(link_to_hello(), Some(spaced_link())));
}

#[test]
fn pureftpd_mlsd_anonymous() {
    let entries = parse_mlsd_sorted(PUREFTPD_MLSD_ANON);
    let link = link_to_hello().target(b"hello.txt");
    let spaced = spaced_link().target(b"/etc/some target");
    assert_entries(&entries, &mlsd_tree(link, Some(spaced)));
}

// -------------------------------------------------------------------------------
// Hand-written server layouts

#[test]
fn iis_dos() {
    let t = at(T1915);
    let entries = parse_ok(IIS_DOS, ListingFormat::List);
    assert_entries(
        &entries,
        &[
            ent(b"aspnet_client", 0, t, Minute).kind(Dir),
            ent(b"Program Files", 0, t, Minute).kind(Dir),
            // 13 spaces after <DIR>: 10 are IIS padding, 3 belong to the name.
            ent(b"   three leading spaces", 0, t, Minute).kind(Dir),
            ent(b"hello.txt", 6, at(T2016), Minute),
            ent(b"old report.pdf", 1_234_567, at(946_684_740), Minute),
            ent(b"epoch.txt", 0, at(0), Minute),
            ent(b"noon.txt", 718, at(1_781_094_600), Minute),
            ent(b" one leading space.txt", 42, t, Minute),
            ent(b"trailing space.txt ", 42, t, Minute),
            ent(b"a -> b.txt", 42, t, Minute),
            ent(b"semi;colon=eq.txt", 42, t, Minute),
            ent(CAFE, 42, t, Minute),
            ent(GBK, 42, t, Minute),
            ent(UTF8, 42, t, Minute),
            ent(b"leap.iso", 10_737_418_240, at(1_709_168_700), Minute),
        ],
    );
}

#[test]
fn dos_variants() {
    let (entries, errors) = parse(DOS_VARIANTS, ListingFormat::List);
    let t = at(1_438_977_000); // 2015-08-07 19:50
    assert_entries(
        &entries,
        &[
            ent(b"four digit year", 0, t, Minute).kind(Dir),
            ent(b"commas.bin", 1_234_567, t, Minute),
            ent(b"lower-case pm.txt", 718, t, Minute),
            ent(b"single digits", 0, at(1_438_933_800), Minute).kind(Dir),
            ent(b"y2069.txt", 1, at(3_143_059_200), Minute),
            ent(b"yy69.txt", 1, at(3_143_059_200), Minute),
            ent(b"yy70.txt", 1, at(18_835_200), Minute),
            ent(b"narrow-dir", 0, t, Minute).kind(Dir),
            ent(b"feb30.txt", 5, None, Day),
            ent(b"pm13.txt", 5, None, Day),
        ],
    );
    assert_errors(
        DOS_VARIANTS,
        &errors,
        &[
            "truncated DOS line",
            "missing name",
            "invalid DOS time",
            "invalid DOS size column",
            "invalid DOS size column",
            "missing name",
            "name contains '/'",
        ],
    );
}

#[test]
fn servu_list() {
    let t = at(T1915);
    let entries = parse_ok(SERVU_LIST, ListingFormat::List);
    assert_entries(
        &entries,
        &[
            ent(b"Archive", 0, at(D2016), Day).kind(Dir).mode(0o666),
            ent(b"New Folder", 0, t, Minute).kind(Dir).mode(0o666),
            ent(b"report 2026.pdf", 1_234_567, t, Minute).mode(0o666),
            ent(b"hello.txt", 6, at(1_767_600_000), Minute).mode(0o666),
            ent(b"year-end.xlsx", 2048, at(1_767_139_200), Day).mode(0o666),
            ent(CAFE, 12, t, Minute).mode(0o666),
            ent(UTF8, 12, t, Minute).mode(0o666),
            ent(b"disk.img", 10_737_418_240, at(1_795_143_840), Minute).mode(0o666),
        ],
    );
}

#[test]
fn servu_mlsd() {
    let entries = parse_ok(SERVU_MLSD, ListingFormat::Mlsd);
    assert_entries(
        &entries,
        &[
            ent(b"Archive", 0, at(T2016), Exact).kind(Dir),
            ent(b"New Folder", 0, at(T1915), Exact).kind(Dir),
            ent(
                b"report 2026.pdf",
                1_234_567,
                at_ns(T1915 + 12, 345_000_000),
                Exact,
            ),
            ent(b"hello.txt", 6, at(1_767_600_000), Exact),
            ent(CAFE, 12, at_ns(T1915, 999_000_000), Exact),
            ent(UTF8, 12, at_ns(T1915, 500_000_000), Exact),
            ent(b"disk.img", 10_737_418_240, at(1_795_143_845), Exact),
        ],
    );
}

// -------------------------------------------------------------------------------
// Traps

#[test]
fn tricky_unix() {
    let (entries, errors) = parse(TRICKY_UNIX, ListingFormat::List);
    let y16 = |name: &[u8], size| ent(name, size, at(D2016), Day).mode(0o644);
    let recent = |name: &[u8], size| ent(name, size, at(T1915), Minute).mode(0o644);
    let minute = |name: &[u8], secs| ent(name, 1, at(secs), Minute).mode(0o644);
    let no_time = |name: &[u8]| ent(name, 1, None, Day).mode(0o644);
    assert_entries(
        &entries,
        &[
            y16(b"plain.txt", 1234),
            ent(b"recent.txt", 1234, at(1_769_300_220), Minute).mode(0o644),
            minute(b"within-a-day-ahead.txt", 1_795_559_340),
            minute(b"exactly-a-day-ahead.txt", 1_795_559_400),
            minute(b"just-over-a-day-ahead.txt", 1_764_023_460),
            minute(b"dec31.txt", 1_767_225_540),
            // Neither 2026 nor 2025 has a Feb 29.
            no_time(b"feb29-no-leap-year-near.txt"),
            y16(b"lower-case-month.txt", 1),
            y16(b"upper-case-month.txt", 1),
            y16(b"single-space-before-year.txt", 1),
            ent(b"future-year.txt", 1, at(1_799_539_200), Day).mode(0o644),
            y16(b"  two leading spaces.txt", 1),
            y16(b"many     inner     spaces", 1),
            y16(b"two trailing spaces  ", 1),
            y16(b"arrow -> not a link.txt", 1),
            y16(b"link name", 12)
                .kind(Symlink)
                .mode(0o777)
                .target(b"target -> with arrow"),
            y16(b"link-without-target", 12).kind(Symlink).mode(0o777),
            y16(b"Jan 12  2024 name-looks-like-a-date", 1),
            y16(b"owner-is-a-month", 5),
            y16(b"no-group.txt", 1234),
            y16(b"no-link-count.txt", 1234),
            y16(b"numeric-owner.txt", 1234),
            recent(b"spaces-in-owner-and-group", 77),
            recent(b"null", 0).kind(CharDevice).mode(0o666),
            recent(b"loop0", 0).kind(BlockDevice).mode(0o660),
            recent(b"comma-no-space", 0).kind(CharDevice).mode(0o666),
            recent(b"fifo", 0).kind(Fifo),
            recent(b"socket", 0).kind(Socket).mode(0o777),
            recent(b"all-special-exec", 1).mode(0o7755),
            recent(b"all-special-noexec", 1).mode(0o7644),
            recent(b"acl-plus", 1),
            recent(b"xattr-at", 1),
            recent(b"selinux-dot", 1),
            recent(b"mandatory-lock", 1).mode(0o2644),
            recent(b"...", 4096).kind(Dir).mode(0o755),
            minute(b"single-digit-hour", 1_793_696_700),
            minute(b"zero-padded-day", 1_793_696_700),
            recent(b"max-size", u64::MAX),
            recent(CAFE, 1),
            recent(GBK, 1),
            recent(UTF8, 1),
            recent(b"tab\tin name", 1),
            recent(b"cr\rin name", 1),
            no_time(b"april-31"),
            no_time(b"hour-24"),
        ],
    );
    assert_errors(
        TRICKY_UNIX,
        &errors,
        &[
            "unknown file type letter",
            "missing name",
            "missing name",
            "no size and date columns",
            "no size and date columns",
            "no size and date columns",
            "no size and date columns",
            "invalid permission field",
            "invalid permission field",
            "invalid permission field",
            "unknown file type letter",
            "LIST line starts with a space",
            "unknown file type letter",
            "name contains '/'",
            "name contains a NUL byte",
            "empty name",
            "link target contains a NUL byte",
            "no size and date columns",
            "no size and date columns",
            "no size and date columns",
            "invalid permission field",
        ],
    );
}

/// Servers that run `ls` in another locale: numbered months (月/월 in several encodings),
/// day-first dates, and month names of other languages.
#[test]
fn localized_unix() {
    let (entries, errors) = parse(LOCALIZED_UNIX, ListingFormat::List);
    let y16 = |name: &[u8]| ent(name, 1, at(D2016), Day).mode(0o644);
    let oct23 = |name: &[u8]| ent(name, 1, at(1_792_734_780), Minute).mode(0o644);
    assert_entries(
        &entries,
        &[
            ent(UTF8, 25088, at(1_792_734_780), Minute).mode(0o644),
            ent("目录".as_bytes(), 4096, at(D2016), Day)
                .kind(Dir)
                .mode(0o755),
            oct23(GBK),
            y16(b"japanese.txt"),
            y16(b"korean.txt"),
            y16(b"euc-kr.txt"),
            y16(b"german.txt"),
            ent(b"german recent.txt", 1, at(1_792_129_980), Minute).mode(0o644),
            y16(b"french.txt"),
            ent(b"french recent.txt", 1, at(1_792_129_980), Minute).mode(0o644),
            ent(b"spanish.txt", 1, at(1_450_224_000), Day).mode(0o644),
            oct23(b"italian.txt"),
            oct23(b"portuguese.txt"),
            y16(b"dutch.txt"),
            oct23(b"polish.txt"),
            y16(b"russian.txt"),
        ],
    );
    assert_errors(
        LOCALIZED_UNIX,
        &errors,
        &["no size and date columns", "no size and date columns"],
    );
}

#[test]
fn tricky_mlsd() {
    let (entries, errors) = parse(TRICKY_MLSD, ListingFormat::Mlsd);
    let noon = at(1_704_110_400); // 2024-01-01 12:00:00
    let bare = |name: &[u8], size| ent(name, size, None, Day);
    assert_entries(
        &entries,
        &[
            ent(b"plain.txt", 12, noon, Exact),
            ent(
                b"upper-case keys.txt",
                13,
                at_ns(1_704_110_400, 500_000_000),
                Exact,
            )
            .mode(0o755),
            ent(b"name; with; semicolon; and=equals", 3, noon, Exact),
            bare(b"   three leading spaces", 3),
            bare(b"trailing space ", 3),
            bare(b"no facts at all", 0),
            ent(b"slink-odd", 0, noon, Exact)
                .kind(Symlink)
                .target(b"/target/with=equals:and:colons"),
            bare(b"symlink-no-target", 0).kind(Symlink).mode(0o777),
            bare(b"upper-case-slink", 0)
                .kind(Symlink)
                .target(b"Target Case"),
            bare(b"empty-slink-target", 0).kind(Symlink),
            bare(b"plain-link", 0).kind(Symlink),
            bare(b"null", 0).kind(CharDevice).mode(0o666),
            bare(b"loop0", 0).kind(BlockDevice),
            bare(b"fifo", 0).kind(Fifo),
            bare(b"sock", 0).kind(Socket),
            bare(b"door", 0),
            bare(b"unknown-type", 0),
            ent(b"leap-dir", 0, at_ns(1_709_251_199, 123_456_789), Exact).kind(Dir),
            ent(b"before-epoch", 1, at(-1), Exact),
            ent(b"year-zero", 7, at(-62_167_219_200), Exact),
            bare(b"bad-modify-date", 1),
            bare(b"bad-modify", 1),
            bare(b"bad-mode", 1),
            bare(b"max-size", u64::MAX),
            ent(
                b"long-fraction",
                1,
                at_ns(1_704_110_400, 123_456_789),
                Exact,
            ),
            bare(b"empty-facts", 5),
            bare(CAFE, 1),
            bare(GBK, 1),
            bare(UTF8, 1),
            bare(b"owner with space", 2),
            bare(b"cr-at-end\r", 1),
            bare(b"dir-with-size-and-full-mode", 4096)
                .kind(Dir)
                .mode(0o755),
            bare(b"setuid", 1).mode(0o4755),
        ],
    );
    assert_errors(
        TRICKY_MLSD,
        &errors,
        &[
            "no \"; \" between facts and name",
            "invalid MLSD size fact",
            "invalid MLSD size fact",
            "invalid MLSD size fact",
            "MLSD fact without '='",
            "MLSD fact with an empty name",
            "no \"; \" between facts and name",
            "empty name",
            "name contains '/'",
            "no \"; \" between facts and name",
            "name contains a NUL byte",
            "link target contains a NUL byte",
            "invalid MLSD size fact",
            "empty name",
        ],
    );
}

fn list_mtime(date: &str, now: i64) -> Option<SystemTime> {
    let line = format!("-rw-r--r-- 1 ftp ftp 1 {date} x");
    let entry = parse_list_line(line.as_bytes(), now_at(now)).expect("parses");
    entry.expect("an entry").mtime
}

#[test]
fn year_inference_around_new_year() {
    let new_year = 1_798_763_400; // 2027-01-01 00:30
    assert_eq!(list_mtime("Dec 31 23:59", new_year), at(1_798_761_540)); // 2026
    assert_eq!(list_mtime("Jan  1 00:15", new_year), at(1_798_762_500)); // 2027
    assert_eq!(list_mtime("Jan  1 23:59", new_year), at(1_798_847_940)); // 2027
    assert_eq!(list_mtime("Jan  2 00:30", new_year), at(1_798_849_800)); // +1 day: 2027
    assert_eq!(list_mtime("Jan  2 00:31", new_year), at(1_767_313_860)); // beyond: 2026

    let new_years_eve = 1_798_761_000; // 2026-12-31 23:50
    assert_eq!(list_mtime("Dec 31 23:59", new_years_eve), at(1_798_761_540)); // 2026
                                                                              // A file from just after midnight on a server whose clock is ahead lands a year
                                                                              // early: the standard rule never picks next year.
    assert_eq!(list_mtime("Jan  1 00:10", new_years_eve), at(1_767_226_200));
    // 2026
}

#[test]
fn year_inference_for_february_29() {
    let leap_noon = at(1_835_438_400); // 2028-02-29 12:00
    assert_eq!(list_mtime("Feb 29 12:00", 1_835_481_600), leap_noon); // now 2028-03-01
    assert_eq!(list_mtime("Feb 29 12:00", 1_863_129_600), leap_noon); // now 2029-01-15
                                                                      // now 2028-01-15: 2028-02-29 is weeks ahead and 2027-02-29 does not exist.
    assert_eq!(list_mtime("Feb 29 12:00", 1_831_507_200), None);
}

#[test]
fn odd_now_values_do_not_break_parsing() {
    let line = b"-rw-r--r-- 1 ftp ftp 1 Nov 23 19:15 x";
    for now in [
        UNIX_EPOCH - Duration::from_millis(1500),
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(400_000_000_000_000),
    ] {
        let entry = parse_list_line(line, now).expect("parses").expect("entry");
        assert_eq!(entry.name, b"x");
    }
    assert_eq!(
        list_mtime("Nov 23 19:15", -1),
        at(-3_300_300) // 1969-11-23 19:15, "now" being 1969-12-31 23:59:59
    );
}

// -------------------------------------------------------------------------------
// Lines, limits, errors

#[test]
fn splits_lines_on_lf_and_crlf_stripping_one_cr() {
    assert_eq!(lines(b""), Vec::<&[u8]>::new());
    assert_eq!(lines(b"\n"), vec![b"".as_slice()]);
    assert_eq!(lines(b"a\r\nb\nc\r\r\n"), vec![&b"a"[..], b"b", b"c\r"]);
    assert_eq!(lines(b"a\nb"), vec![&b"a"[..], b"b"]);
    assert_eq!(lines(b"a\n\nb\n"), vec![&b"a"[..], b"", b"b"]);

    let data = b"type=file; a\r\n\r\ntype=file; b \r\r\ntype=file; c";
    let (entries, errors) = parse(data, ListingFormat::Mlsd);
    assert_eq!(errors, vec![]);
    let names: Vec<_> = entries.iter().map(|e| e.name.as_slice()).collect();
    assert_eq!(names, vec![&b"a"[..], b"b \r", b"c"]);
}

#[test]
fn blank_total_and_dot_lines_are_not_entries() {
    let now = now_at(NOW);
    for line in [
        &b""[..],
        b"   ",
        b"\t",
        b"total 0",
        b"total 123456",
        b"drwxr-xr-x 2 ftp ftp 4096 Nov 23 19:15 .",
        b"drwxr-xr-x 2 ftp ftp 4096 Nov 23 19:15 ..",
        b"11-23-26  07:15PM       <DIR>          .",
    ] {
        assert_eq!(
            parse_list_line(line, now),
            Ok(None),
            "{}",
            line.escape_ascii()
        );
    }
    for line in [
        &b""[..],
        b"type=cdir;modify=20240101120000; /home/ftp",
        b"type=pdir; ..",
        b"TYPE=CDIR; .",
        b"type=file; .",
        b"type=dir; ..",
    ] {
        assert_eq!(parse_mlsd_line(line), Ok(None), "{}", line.escape_ascii());
    }
}

#[test]
fn names_made_of_spaces_are_kept() {
    let now = now_at(NOW);
    let entry = parse_list_line(b"-rw-r--r-- 1 ftp ftp 1 Nov 23 19:15   ", now);
    assert_eq!(entry.expect("parses").expect("entry").name, b"  ");
    let entry = parse_mlsd_line(b"type=file;size=1;   ");
    assert_eq!(entry.expect("parses").expect("entry").name, b"  ");
}

#[test]
fn over_long_lines_are_errors() {
    let mut long = b"-rw-r--r-- 1 ftp ftp 1 Nov 23 19:15 ".to_vec();
    long.resize(MAX_LINE_LEN, b'n');
    let now = now_at(NOW);
    let at_limit = parse_list_line(&long, now)
        .expect("at the limit")
        .expect("entry");
    assert_eq!(at_limit.name.len(), MAX_LINE_LEN - 36);

    long.push(b'n');
    let err = parse_list_line(&long, now).expect_err("over the limit");
    assert_eq!(err.reason, "line too long");
    assert_eq!(err.line, long[..TOO_LONG_KEPT]);

    let mut mlsd = b"type=file;size=1; ".to_vec();
    mlsd.resize(MAX_LINE_LEN + 1, b'n');
    assert_eq!(
        parse_mlsd_line(&mlsd).expect_err("too long").reason,
        "line too long"
    );

    let mut listing = b"type=file; a\r\n".to_vec();
    listing.extend_from_slice(&mlsd);
    listing.extend_from_slice(b"\r\ntype=file; b\r\n");
    let (entries, errors) = parse(&listing, ListingFormat::Mlsd);
    let names: Vec<_> = entries.iter().map(|e| e.name.as_slice()).collect();
    assert_eq!(names, vec![&b"a"[..], b"b"]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].reason, "line too long");

    // One huge line with no line break at all.
    let (entries, errors) = parse(&vec![b'x'; 3 * MAX_LINE_LEN], ListingFormat::List);
    assert_eq!((entries.len(), errors.len()), (0, 1));
}

/// The two inputs the `listing` fuzz target saved when it found MLSD devices keeping their
/// `size` fact (`type=OS.unix=chr-1/3;...;size=5; trailing space`, and a type value that only
/// starts with `OS.unix=chr`), byte for byte: devices come out with size 0, every other line
/// as before, and neither input panics in either format.
#[test]
fn fuzz_crash_inputs_give_devices_no_size() {
    let first = include_bytes!("../../../tests/fixtures/fuzz/listing-crash-2d5c7433").as_slice();
    let second = include_bytes!("../../../tests/fixtures/fuzz/listing-crash-f5e3fe36").as_slice();
    let noon = at(1_704_110_400); // 2024-01-01 12:00:00
    let bare = |name: &[u8], size| ent(name, size, None, Day);
    let cases: [(&[u8], Vec<Entry>, Vec<&str>); 2] = [
        (
            first,
            vec![
                bare(b"trailing space ", 0).kind(CharDevice),
                bare(b"no factss;modify=20240101120000; colons;moslink-odd", 0),
                bare(b"nu and=equals", 0),
                bare(b"   t", 3),
            ],
            vec![
                "no \"; \" between facts and name",
                "MLSD fact without '='",
                "no \"; \" between facts and name",
                "no \"; \" between facts and name",
            ],
        ),
        (
            second,
            vec![
                bare(b"trailing space ", 3),
                bare(b"no facts at all", 0),
                ent(b"slink-odd", 0, noon, Exact)
                    .kind(Symlink)
                    .target(b"/target/with=equals:and:colons"),
                bare(b"symlink-no-target", 0).kind(Symlink).mode(0o777),
                bare(b"upper-case-slink", 0)
                    .kind(Symlink)
                    .target(b"Target Case"),
                bare(b"empty-slink-target", 0).kind(Symlink),
                bare(b"plain-link", 0).kind(Symlink),
                ent(b"plain.txt", 0, noon, Exact).kind(CharDevice),
                ent(
                    b"upper-case keys.txt",
                    13,
                    at_ns(1_704_110_400, 500_000_000),
                    Exact,
                )
                .mode(0o755),
                bare(b"null", 0).mode(0o666),
                bare(b"loop0", 0).kind(BlockDevice),
                bare(b"fifo", 0).kind(Fifo),
                ent(b"Archive", 0, at(T2016), Exact).kind(Dir),
                ent(b"New Folder", 0, at(T1915), Exact).kind(Dir),
            ],
            vec![
                "MLSD fact without '='",
                "MLSD fact without '='",
                "no \"; \" between facts and name",
            ],
        ),
    ];
    for (data, expected, reasons) in cases {
        let (entries, errors) = parse(data, ListingFormat::Mlsd);
        assert_entries(&entries, &expected);
        let got: Vec<&str> = errors.iter().map(|e| e.reason).collect();
        assert_eq!(got, reasons);
        // Not LIST output: every line is an error, none an entry.
        let (entries, errors) = parse(data, ListingFormat::List);
        assert_eq!(entries, vec![]);
        assert_eq!(errors.len(), lines(data).len());
    }
}

#[test]
fn wrong_format_yields_errors_not_entries() {
    for data in [PROFTPD_MLSD, PUREFTPD_MLSD, TRICKY_MLSD] {
        let (entries, errors) = parse(data, ListingFormat::List);
        assert_eq!(entries, vec![]);
        assert!(!errors.is_empty());
    }
    for data in [PROFTPD_LIST, VSFTPD_LIST, IIS_DOS, SERVU_LIST] {
        let (entries, errors) = parse(data, ListingFormat::Mlsd);
        assert_eq!(entries, vec![]);
        assert!(!errors.is_empty());
    }
}

#[test]
fn parse_error_display_escapes_the_line() {
    let err = parse_list_line(b"zap \xe9\x00 line", now_at(NOW)).expect_err("garbage");
    assert_eq!(
        err.to_string(),
        "cannot parse listing line \"zap \\xe9\\x00 line\": unknown file type letter"
    );
}

// -------------------------------------------------------------------------------
// Robustness: no panics, and every entry keeps the invariants.

fn check_invariants(line: &[u8], entry: &Entry) {
    let name = entry.name.as_slice();
    assert!(!name.is_empty() && name != b"." && name != b"..");
    assert!(!name.contains(&b'/') && !name.contains(&0));
    assert!(
        line.windows(name.len()).any(|w| w == name),
        "name not taken verbatim from {}",
        line.escape_ascii()
    );
    if let Some(target) = &entry.link_target {
        assert_eq!(entry.kind, Symlink);
        assert!(!target.is_empty() && !target.contains(&0));
    }
    assert!(entry.mode.is_none_or(|m| m <= 0o7777));
    assert!(entry.mtime.is_some() || entry.precision == Day);
}

fn parse_both_ways(line: &[u8], now: SystemTime) {
    if let Ok(Some(entry)) = parse_list_line(line, now) {
        check_invariants(line, &entry);
    }
    if let Ok(Some(entry)) = parse_mlsd_line(line) {
        check_invariants(line, &entry);
    }
}

/// xorshift64: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn never_panics_on_truncated_or_mutated_fixture_lines() {
    let now = now_at(NOW);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let interesting = b" ;=:.,-/<>0123456789\x00\r\xe9\xffAMPMtypesizemodify";
    for data in ALL_FIXTURES {
        for line in lines(data) {
            for end in 0..=line.len() {
                parse_both_ways(&line[..end], now);
                parse_both_ways(&line[end..], now);
            }
            for _ in 0..16 {
                let mut mutated = line.to_vec();
                for _ in 0..=rng.below(3) {
                    if mutated.is_empty() {
                        break;
                    }
                    let pos = rng.below(mutated.len());
                    mutated[pos] = interesting[rng.below(interesting.len())];
                }
                parse_both_ways(&mutated, now);
            }
        }
        let _ = parse_listing(data, ListingFormat::List, now);
        let _ = parse_listing(data, ListingFormat::Mlsd, now);
    }
}

#[test]
fn never_panics_on_random_bytes() {
    let now = now_at(NOW);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let pieces: [&[u8]; 16] = [
        b" ",
        b"  ",
        b";",
        b"=",
        b"; ",
        b"-rw-r--r--",
        b"lrwxrwxrwx",
        b"crw-rw-rw-",
        b"Nov",
        b"23",
        b"19:15",
        b"2016",
        b"08-07-15",
        b"07:50PM",
        b"<DIR>",
        b" -> ",
    ];
    let mut data = Vec::new();
    for _ in 0..4000 {
        let mut line = Vec::new();
        for _ in 0..rng.below(16) {
            if rng.below(3) == 0 {
                line.push((rng.next() & 0xff) as u8);
            } else {
                line.extend_from_slice(pieces[rng.below(pieces.len())]);
            }
        }
        parse_both_ways(&line, now);
        data.extend_from_slice(&line);
        data.extend_from_slice(if rng.below(2) == 0 { b"\r\n" } else { b"\n" });
    }
    let _ = parse_listing(&data, ListingFormat::List, now);
    let _ = parse_listing(&data, ListingFormat::Mlsd, now);
}
