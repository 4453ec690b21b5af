//! The documentation is generated from, or checked against, the one option table
//! (`ftpfs::cli::Args`), so it cannot drift from the code:
//!
//! - `docs/ftpfs.1` (clap_mangen) and `contrib/completions/{ftpfs.bash,_ftpfs,ftpfs.fish}`
//!   (clap_complete) must be byte-for-byte what the clap definition renders to today;
//! - `docs/CONFIGURATION.md` must document every option, in a section named after its
//!   `help_heading`, groups and options in the order of `--help`, each with its `-o` form and
//!   its default;
//! - README.md's option table must name every long option;
//! - every `-o` list and `--option` in the hand-written docs, the fstab example and the
//!   systemd units must be one that ftpfs accepts.
//!
//! After changing src/cli.rs, regenerate with `UPDATE_DOCS=1 cargo test --test docs`, then
//! update the hand-written docs this test names.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Command, CommandFactory};
use clap_complete::Shell;

const UPDATE_HINT: &str = "run `UPDATE_DOCS=1 cargo test --test docs` to regenerate it";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn command() -> Command {
    let mut cmd = ftpfs::cli::Args::command();
    // Adds --help and --version, as `ftpfs --help` shows them.
    cmd.build();
    cmd
}

fn updating() -> bool {
    let update = std::env::var_os("UPDATE_DOCS").is_some_and(|v| !v.is_empty() && v != "0");
    // Under CI, regenerating would make every check here pass whatever the tree holds.
    assert!(
        !(update && std::env::var_os("CI").is_some()),
        "UPDATE_DOCS is set under CI: the generated docs would not be checked"
    );
    update
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares a generated file with the one in the tree; with UPDATE_DOCS=1, rewrites it.
fn check_generated(rel: &str, generated: &[u8]) {
    let path = root().join(rel);
    let current = std::fs::read(&path).ok();
    if current.as_deref() == Some(generated) {
        return;
    }
    if updating() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, generated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("docs: rewrote {rel}");
        return;
    }
    let why = match current {
        None => "is missing".to_string(),
        Some(old) => {
            let old = String::from_utf8_lossy(&old);
            let new = String::from_utf8_lossy(generated);
            let line = old
                .lines()
                .zip(new.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| old.lines().count().min(new.lines().count()));
            format!(
                "differs from what src/cli.rs generates, from line {}:\n  in the file: {:?}\n  generated:   {:?}",
                line + 1,
                old.lines().nth(line).unwrap_or("<end of file>"),
                new.lines().nth(line).unwrap_or("<end of file>"),
            )
        }
    };
    panic!("{rel} {why}\n{UPDATE_HINT}");
}

// ---------------------------------------------------------------------------------------------
// The man page

/// Escapes plain text for roff: backslashes, hyphens (so `-o` stays a minus sign) and a
/// leading control character.
fn roff_escape(text: &str) -> String {
    let s = text.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// A man page section written here, in plain text: paragraphs, tagged items and examples.
enum Block {
    Para(&'static str),
    /// A tagged paragraph: the tag in bold, then the text.
    Item(&'static str, &'static str),
    /// A comment line, then the command, set in a no-fill block.
    Example(&'static str, &'static str),
}

/// The forms of the command line shown in SYNOPSIS (instead of clap_mangen's list of every
/// flag, which drops their values).
const MAN_SYNOPSIS: &str = "ftpfs [OPTIONS] URL MOUNTPOINT [-o OPTIONS]\n\
                            mount -t fuse.ftpfs URL MOUNTPOINT [-o OPTIONS]\n\
                            mount -t ftpfs URL MOUNTPOINT [-o OPTIONS]";

/// Paragraphs added to DESCRIPTION, after the clap `about`.
const MAN_DESCRIPTION: &[&str] = &[
    "ftpfs shows a directory of an FTP or FTPS server as the local directory MOUNTPOINT, \
     through FUSE, so that ordinary programs (ls, cp, rsync, tar, editors) work on the remote \
     files. URL is ftp://[user[:password]@]host[:port][/path], or ftps:// for FTPS; the path \
     and user are percent-decoded.",
    "Reads stream from the server (RETR, with REST for an offset), one transfer per open file, \
     without buffering whole files. A file opened for writing is kept in a local spool file and \
     uploaded when it is closed or synced, to a temporary name that is then renamed over the \
     target: close(2) and fsync(2) report a failed upload, and the data stays in the spool. \
     Directory listings (MLSD, else LIST -a) are cached for dir_cache_ttl seconds. Names are \
     bytes, passed unchanged, unless encoding names the server's character set. Every file belongs to the mounting user \
     unless uid and gid say otherwise.",
    "Every option can also be given inside -o, without the leading dashes and with _ or - \
     between words, as mount(8) and fstab need. A password never needs to be on the command \
     line: see password_file, netrc, FTPFS_PASSWORD and password_stdin. Plain ftp:// sends the \
     password and the data in clear text; ftps:// uses TLS and checks the server's certificate \
     and host name, and never falls back to plain text.",
];

/// Sections that the clap definition has no place for. Keep them to facts that do not
/// depend on an option's details; `hand_written_examples_use_real_options` checks every
/// option named here.
const MAN_EXTRA: &[(&str, &[Block])] = &[
    (
        "MOUNTING WITH MOUNT(8) AND FSTAB",
        &[
            Block::Para(
                "ftpfs can be started by mount(8), from /etc/fstab or from a systemd mount unit. \
                 With the type fuse.ftpfs, mount(8) runs mount.fuse3, which runs ftpfs with the \
                 URL, the mount point and the options; if /sbin/mount.fuse.ftpfs links to ftpfs, \
                 mount(8) runs that directly instead. The type ftpfs needs /sbin/mount.ftpfs \
                 linked to ftpfs. The Debian package and contrib/install.sh make both links; started under those names, ftpfs takes \
                 mount(8)'s helper arguments (-s, -n, -v and -t are ignored, -f checks the \
                 arguments without mounting). Options that mount(8) and systemd pass to every \
                 file system (_netdev, noauto, nofail, user, x-systemd.*, ...) are accepted and \
                 ignored.",
            ),
            Block::Example(
                "# mount by hand",
                "mount -t fuse.ftpfs ftp://ftp.example.org/pub /mnt/ftp -o ro,allow_other",
            ),
            Block::Example(
                "# /etc/fstab",
                "ftps://alice@ftp.example.org/home /mnt/ftp fuse.ftpfs _netdev,noauto,x-systemd.automount,password_file=/etc/ftpfs/alice.pw,allow_other 0 0",
            ),
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            Block::Item(
                "FTPFS_LOG",
                "What to log, in env_logger syntax: a level (error, warn, info, debug, trace) or \
                 filters such as ftpfs=debug,suppaftp=info. The default is warn, or debug with \
                 --debug. The log goes to standard error in the foreground, and to syslog (tag \
                 ftpfs) once ftpfs is in the background. The password is never logged, at any \
                 level.",
            ),
            Block::Item(
                "FTPFS_PASSWORD",
                "The password for the user named in the URL, when no password file or netrc entry \
                 gave one. Never used for the users anonymous and ftp.",
            ),
            Block::Item(
                "XDG_CACHE_HOME, HOME",
                "Where the default cache directory is: $XDG_CACHE_HOME/ftpfs, else \
                 $HOME/.cache/ftpfs, else /var/tmp/ftpfs-UID.",
            ),
        ],
    ),
    (
        "FILES",
        &[
            Block::Item(
                "~/.netrc",
                "Login and password for the URL's host, unless another netrc file is named. Refused \
                 if group or others may read or write it; so is a password file.",
            ),
            Block::Item(
                "~/.cache/ftpfs/spool/",
                "Spool files of files being written (under the cache directory). After a failed \
                 upload the file's content stays here, named TIME-PID-N-NAME, \
                 and the log names it.",
            ),
            Block::Item(
                "/etc/fuse.conf",
                "Needs the line user_allow_other before users other than root may mount with \
                 allow_other.",
            ),
        ],
    ),
    (
        "EXIT STATUS",
        &[
            Block::Para(
                "0 once the mount is live (in the background), or after it was unmounted (in the \
                 foreground). 1 if mounting failed: one line on standard error says why (host, \
                 port, login, path, TLS). 2 for a command line error.",
            ),
        ],
    ),
    (
        "EXAMPLES",
        &[
            Block::Example(
                "# anonymous, read-only",
                "ftpfs ftp://ftp.example.org/pub /mnt/ftp -o ro",
            ),
            Block::Example(
                "# FTPS with a password from a private file",
                "ftpfs ftps://alice@ftp.example.org/home /mnt/ftp -o password_file=$HOME/.ftpfs.pw",
            ),
            Block::Example(
                "# active mode, at most two sessions, in the foreground",
                "ftpfs ftp://10.0.0.5/ /mnt/ftp -f -o active,max_conns=2",
            ),
            Block::Example("# unmount", "fusermount3 -u /mnt/ftp"),
        ],
    ),
    (
        "SEE ALSO",
        &[
            Block::Para(
                "fusermount3(1), mount.fuse3(8), fstab(5), systemd.mount(5), netrc(5). In the \
                 source tree: README.md, docs/CONFIGURATION.md (every option in detail), \
                 docs/TROUBLESHOOTING.md, docs/SEMANTICS.md, docs/SECURITY.md; the Debian \
                 package installs them in /usr/share/doc/ftpfs, with fstab and systemd \
                 examples in /usr/share/doc/ftpfs/examples.",
            ),
        ],
    ),
];

fn render_extra(out: &mut String) {
    for (title, blocks) in MAN_EXTRA {
        writeln!(out, ".SH {title}").unwrap();
        for block in *blocks {
            match block {
                Block::Para(text) => writeln!(out, ".PP\n{}", roff_escape(text)).unwrap(),
                Block::Item(tag, text) => writeln!(
                    out,
                    ".TP\n\\fB{}\\fR\n{}",
                    roff_escape(tag),
                    roff_escape(text)
                )
                .unwrap(),
                Block::Example(comment, cmd) => writeln!(
                    out,
                    ".PP\n.nf\n.RS 4\n{}\n{}\n.RE\n.fi",
                    roff_escape(comment),
                    roff_escape(cmd)
                )
                .unwrap(),
            }
        }
    }
}

/// `\fBtext\fR`, escaped.
fn roff_bold(text: &str) -> String {
    format!("\\fB{}\\fR", roff_escape(text))
}

/// The first line of an option's paragraph as clap_mangen writes it starts with its short
/// and long names, but leaves out its visible aliases and has no idea of `-o`. Returns that
/// prefix and what goes after it: the aliases, then (after the value, before any
/// `[default: ...]`) each `-o` spelling of the long name and of the aliases, with `_` and `-`.
fn man_spellings(arg: &clap::Arg) -> Option<(String, String, String)> {
    let prefix = match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!(
            "{}, {}",
            roff_bold(&format!("-{s}")),
            roff_bold(&format!("--{l}"))
        ),
        (Some(s), None) => roff_bold(&format!("-{s}")),
        (None, Some(l)) => roff_bold(&format!("--{l}")),
        (None, None) => return None,
    };
    let aliases: Vec<&str> = arg.get_visible_aliases().unwrap_or_default();
    let after_names: String = aliases
        .iter()
        .map(|a| format!(", {}", roff_bold(&format!("--{a}"))))
        .collect();
    let value = arg
        .get_num_args()
        .is_some_and(|n| n.takes_values())
        .then(|| {
            arg.get_value_names()
                .and_then(|v| v.first().map(|s| s.to_string()))
        })
        .flatten();
    let mut dash_o = String::new();
    for name in arg.get_long().into_iter().chain(aliases.iter().copied()) {
        let mut forms = vec![name.replace('-', "_")];
        if !forms.contains(&name.to_string()) {
            forms.push(name.to_string());
        }
        for form in forms {
            match &value {
                Some(v) => write!(
                    dash_o,
                    ", {}\\fI{}\\fR",
                    roff_bold(&format!("-o {form}=")),
                    roff_escape(v)
                ),
                None => write!(dash_o, ", {}", roff_bold(&format!("-o {form}"))),
            }
            .unwrap();
        }
    }
    Some((prefix, after_names, dash_o))
}

/// Adds every spelling [`man_spellings`] finds to the paragraph tags of clap_mangen's options
/// section (`--help` and `--version` excepted: they are not mount options).
fn add_spellings(options: &str, cmd: &Command) -> String {
    let args: Vec<(String, String, String)> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter(|a| {
            !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
        })
        .filter_map(man_spellings)
        .collect();
    let mut out = String::new();
    let mut tag = false;
    for line in options.lines() {
        let mut line = line.to_string();
        if tag {
            let found = args.iter().find(|(prefix, ..)| {
                line.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
            });
            if let Some((prefix, aliases, dash_o)) = found {
                let rest = &line[prefix.len()..];
                let (value, default) =
                    rest.split_at(rest.find(" [default: ").unwrap_or(rest.len()));
                line = format!("{prefix}{aliases}{value}{dash_o}{default}");
            }
        }
        tag = line == ".TP";
        writeln!(out, "{line}").unwrap();
    }
    out
}

fn man_page() -> Vec<u8> {
    // The page names the release, not the commit that `--version` adds: the file is checked
    // in, and would otherwise change with every commit.
    let cmd = command().version(env!("CARGO_PKG_VERSION"));
    let headings: Vec<String> = groups(&cmd).into_iter().map(|(h, _)| h).collect();
    let after_help = cmd.get_after_help().map(|h| h.to_string());
    let options = cmd.clone();
    let man = clap_mangen::Man::new(cmd.override_usage(MAN_SYNOPSIS)).manual("ftpfs manual");
    let section = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
        let mut buf = Vec::new();
        f(&mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    };
    let mut out = String::new();
    out.push_str(&section(&|w| man.render_title(w)));
    out.push_str(&section(&|w| man.render_name_section(w)));
    out.push_str(&section(&|w| man.render_synopsis_section(w)));
    out.push_str(&section(&|w| man.render_description_section(w)));
    for para in MAN_DESCRIPTION {
        writeln!(out, ".PP\n{}", roff_escape(para)).unwrap();
    }
    // One section per help heading, named "MOUNT OPTIONS" rather than just "MOUNT".
    let rendered = add_spellings(&section(&|w| man.render_options_section(w)), &options);
    for line in rendered.lines() {
        match line.strip_prefix(".SH ") {
            Some(h) if headings.iter().any(|g| g.to_uppercase() == h) => {
                writeln!(out, ".SH {h} OPTIONS").unwrap()
            }
            _ => writeln!(out, "{line}").unwrap(),
        }
    }
    // after_help (the -o form, how to unmount), one paragraph per line.
    if let Some(text) = after_help {
        out.push_str(".SH NOTES\n");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            writeln!(out, ".PP\n{}", roff_escape(line)).unwrap();
        }
    }
    render_extra(&mut out);
    out.push_str(&section(&|w| man.render_version_section(w)));
    // Each rendered piece starts with the same two-line preamble; keep the first.
    let preamble = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let body = out.replace(preamble, "");
    let head = if out.starts_with(preamble) {
        preamble
    } else {
        ""
    };
    format!("{head}{body}").into_bytes()
}

#[test]
fn man_page_is_generated_from_the_cli() {
    check_generated("docs/ftpfs.1", &man_page());
}

// ---------------------------------------------------------------------------------------------
// Shell completions

#[test]
fn completions_are_generated_from_the_cli() {
    for (shell, rel) in [
        (Shell::Bash, "contrib/completions/ftpfs.bash"),
        (Shell::Zsh, "contrib/completions/_ftpfs"),
        (Shell::Fish, "contrib/completions/ftpfs.fish"),
    ] {
        let mut cmd = command();
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, "ftpfs", &mut buf);
        check_generated(rel, &buf);
    }
}

// ---------------------------------------------------------------------------------------------
// The option table, as --help groups it

/// One option of the clap command.
#[derive(Debug)]
struct Opt {
    /// `--max-conns`, or `-o` for an option with only a short form.
    key: String,
    /// The `-o` spelling of the long name (`max_conns`), if it has one.
    dash_o: Option<String>,
    /// The value's name (`N`), for options that take one.
    value: Option<String>,
    /// clap's default value, for options that take a value.
    default: Option<String>,
}

/// The options grouped by help heading, groups and options in the order of `--help`.
/// Positionals, --help and --version are left out.
fn groups(cmd: &Command) -> Vec<(String, Vec<Opt>)> {
    let mut groups: Vec<(String, Vec<Opt>)> = Vec::new();
    let args = cmd.get_arguments().filter(|a| {
        !a.is_positional()
            && !a.is_hide_set()
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    });
    // --help prints the options without a heading first, under "Options".
    let mut args: Vec<_> = args.collect();
    args.sort_by_key(|a| a.get_help_heading().is_some());
    for arg in args {
        let heading = arg.get_help_heading().unwrap_or("Options").to_string();
        let key = match (arg.get_long(), arg.get_short()) {
            (Some(l), _) => format!("--{l}"),
            (None, Some(s)) => format!("-{s}"),
            (None, None) => continue,
        };
        let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
        let opt = Opt {
            key,
            dash_o: arg.get_long().map(|l| l.replace('-', "_")),
            value: takes_value
                .then(|| {
                    arg.get_value_names()
                        .and_then(|v| v.first().map(|s| s.to_string()))
                })
                .flatten(),
            default: if takes_value {
                arg.get_default_values()
                    .first()
                    .map(|v| v.to_string_lossy().into_owned())
            } else {
                None
            },
        };
        match groups.iter_mut().find(|(h, _)| *h == heading) {
            Some((_, opts)) => opts.push(opt),
            None => groups.push((heading, vec![opt])),
        }
    }
    groups
}

/// Option-looking words in `text`: `--name` (up to `=`, space or punctuation) and `-x`.
fn option_tokens(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' && (i == 0 || !word(b[i - 1])) {
            let start = i;
            let mut j = i + 1;
            if j < b.len() && b[j] == b'-' {
                j += 1;
            }
            let name_start = j;
            if !b.get(j).is_some_and(|c| c.is_ascii_alphabetic()) {
                i = j;
                continue;
            }
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                j += 1;
            }
            let long = name_start - start == 2;
            let name_len = j - name_start;
            if (long && name_len > 0) || (!long && name_len == 1) {
                out.push(text[start..j].to_string());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn all_keys(cmd: &Command) -> Vec<String> {
    let mut keys = Vec::new();
    for arg in cmd.get_arguments() {
        if let Some(s) = arg.get_short() {
            keys.push(format!("-{s}"));
        }
        if let Some(l) = arg.get_long() {
            keys.push(format!("--{l}"));
        }
        for a in arg.get_visible_aliases().unwrap_or_default() {
            keys.push(format!("--{a}"));
        }
    }
    keys
}

/// A Markdown heading outside code blocks: level, text, and line index.
struct Heading {
    level: usize,
    text: String,
    line: usize,
}

/// The lines of a Markdown file with their index, and whether each is inside a fenced code
/// block; the fence lines themselves are left out.
fn markdown_lines(md: &str) -> impl Iterator<Item = (usize, &str, bool)> {
    let mut fenced = false;
    md.lines().enumerate().filter_map(move |(i, line)| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return None;
        }
        Some((i, line, fenced))
    })
}

fn headings(md: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    for (i, line, fenced) in markdown_lines(md) {
        if fenced {
            continue;
        }
        let level = line.bytes().take_while(|&c| c == b'#').count();
        if level > 0 && line[level..].starts_with(' ') {
            out.push(Heading {
                level,
                text: line[level..].trim().to_string(),
                line: i,
            });
        }
    }
    out
}

#[test]
fn configuration_md_documents_every_option() {
    let cmd = command();
    let groups = groups(&cmd);
    let known = all_keys(&cmd);
    let md = read("docs/CONFIGURATION.md");
    let lines: Vec<&str> = md.lines().collect();
    let hs = headings(&md);
    let mut problems = Vec::new();

    let Some(start) = hs.iter().position(|h| h.level == 2 && h.text == "Options") else {
        panic!("docs/CONFIGURATION.md has no '## Options' section");
    };
    let end = hs[start + 1..]
        .iter()
        .position(|h| h.level <= 2)
        .map_or(hs.len(), |p| start + 1 + p);
    let section = &hs[start + 1..end];

    // Groups: the level-3 headings, which must be --help's headings in its order.
    let doc_groups: Vec<&str> = section
        .iter()
        .filter(|h| h.level == 3)
        .map(|h| h.text.as_str())
        .collect();
    let cli_groups: Vec<&str> = groups.iter().map(|(h, _)| h.as_str()).collect();
    if doc_groups != cli_groups {
        problems.push(format!(
            "the '### ' groups under '## Options' are {doc_groups:?}; --help has {cli_groups:?}"
        ));
    }

    // Options: level-4 headings naming the option, under the right group, in --help order.
    let mut group = String::new();
    let mut documented: Vec<(String, String, usize)> = Vec::new(); // (group, key, heading idx)
    for (idx, h) in section.iter().enumerate() {
        match h.level {
            3 => group = h.text.clone(),
            4 => {
                for token in option_tokens(&h.text) {
                    if !known.contains(&token) {
                        problems.push(format!(
                            "heading '{}' names {token}, which ftpfs does not have",
                            h.text
                        ));
                    }
                    documented.push((group.clone(), token, idx));
                }
            }
            _ => {}
        }
    }
    for (heading, opts) in &groups {
        let mut last = None;
        for opt in opts {
            let Some((group, _, idx)) = documented.iter().find(|(_, k, _)| *k == opt.key) else {
                problems.push(format!(
                    "{} is not documented: add a '#### `{}{}`' heading under '### {heading}'",
                    opt.key,
                    opt.key,
                    opt.value
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default()
                ));
                continue;
            };
            if group != heading {
                problems.push(format!(
                    "{} is documented under '### {group}'; --help has it under '{heading}'",
                    opt.key
                ));
                continue;
            }
            if last.is_some_and(|l| *idx < l) {
                problems.push(format!(
                    "{} is out of order within '### {heading}' (--help order: {})",
                    opt.key,
                    opts.iter()
                        .map(|o| o.key.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            last = Some(*idx);

            // The option's text: from its heading to the next heading.
            let from = section[*idx].line + 1;
            let to = section.get(idx + 1).map_or(lines.len(), |h| h.line);
            let body = lines[from..to].join("\n");
            if let Some(o) = &opt.dash_o {
                if !body.contains(&format!("`-o {o}")) {
                    problems.push(format!("{}: its `-o {o}` form is not shown", opt.key));
                }
            }
            if let Some(d) = &opt.default {
                if !body.contains(&format!("Default: `{d}`")) {
                    problems.push(format!(
                        "{}: the default is {d} (write \"Default: `{d}`\")",
                        opt.key
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "docs/CONFIGURATION.md is out of step with src/cli.rs:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn readme_option_table_lists_every_option() {
    let cmd = command();
    let known = all_keys(&cmd);
    let readme = read("README.md");
    let hs = headings(&readme);
    let lines: Vec<&str> = readme.lines().collect();
    let Some(i) = hs.iter().position(|h| h.text == "Options") else {
        panic!("README.md has no 'Options' heading");
    };
    let from = hs[i].line + 1;
    let to = hs.get(i + 1).map_or(lines.len(), |h| h.line);
    let table: Vec<&str> = lines[from..to]
        .iter()
        .copied()
        .filter(|l| l.trim_start().starts_with('|'))
        .collect();
    assert!(
        !table.is_empty(),
        "README.md has no table under its Options heading"
    );
    let tokens: Vec<String> = table.iter().flat_map(|l| option_tokens(l)).collect();
    let mut problems = Vec::new();
    for (heading, opts) in groups(&cmd) {
        for opt in opts.iter().filter(|o| o.key.starts_with("--")) {
            if !tokens.contains(&opt.key) {
                problems.push(format!("{} ({heading}) is missing", opt.key));
            }
        }
    }
    for t in tokens.iter().filter(|t| !known.contains(t)) {
        problems.push(format!("{t} is in the table but ftpfs has no such option"));
    }
    assert!(
        problems.is_empty(),
        "README.md's option table is out of step with src/cli.rs:\n  - {}",
        problems.join("\n  - ")
    );
}

// ---------------------------------------------------------------------------------------------
// Options named in hand-written docs and examples must exist

/// Whether `-o opt` is accepted: a known option (whatever its value) or one of the mount(8)
/// options that ftpfs ignores.
fn accepted_mount_option(opt: &str) -> bool {
    let args = ["ftpfs", "-o", opt, "ftp://h/", "/mnt"].map(Into::into);
    match ftpfs::cli::parse(args) {
        Ok(_) => true,
        Err(e) => e.kind() != clap::error::ErrorKind::UnknownArgument,
    }
}

/// Problems with the `-o` lists and `--options` in a piece of code (a code span, a line of a
/// code block, an fstab line...).
fn check_code(code: &str, known: &[String], origin: &str, problems: &mut Vec<String>) {
    let words: Vec<&str> = code.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let list = if *w == "-o" {
            words.get(i + 1).copied()
        } else {
            w.strip_prefix("Options=")
        };
        let list = list.filter(|l| l.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
        if let Some(list) = list {
            for opt in list.trim_matches(|c| c == '"' || c == '\'').split(',') {
                let key = opt.split('=').next().unwrap_or_default();
                // Placeholders such as OPTIONS or opt1 are not options.
                let placeholder = key.is_empty()
                    || key.chars().all(|c| !c.is_ascii_lowercase())
                    || key.starts_with("opt");
                if !placeholder && !accepted_mount_option(opt) {
                    problems.push(format!("{origin}: `-o {opt}` is not an ftpfs option"));
                }
            }
        }
    }
    // Long options in ftpfs command lines, and code spans that are just an option.
    let code = code.trim_start();
    if code.starts_with("--") || code.starts_with("ftpfs ") {
        for t in option_tokens(code)
            .into_iter()
            .filter(|t| t.starts_with("--"))
        {
            if !known.contains(&t) {
                problems.push(format!("{origin}: {t} is not an ftpfs option"));
            }
        }
    }
}

/// Code spans and code-block lines of a Markdown file.
fn code_of_markdown(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line, fenced) in markdown_lines(md) {
        if fenced {
            out.push((i + 1, line.to_string()));
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let Some(span) = parts.next() {
            out.push((i + 1, span.to_string()));
            parts.next();
        }
    }
    out
}

#[test]
fn hand_written_examples_use_real_options() {
    let cmd = command();
    let mut known = all_keys(&cmd);
    // `ftpfs --stats MOUNTPOINT` is a command of its own, not a mount option
    // (`cli::stats_request`).
    known.push("--stats".into());
    let mut problems = Vec::new();
    for rel in [
        "docs/CONFIGURATION.md",
        "docs/TROUBLESHOOTING.md",
        "contrib/systemd/README.md",
    ] {
        for (line, code) in code_of_markdown(&read(rel)) {
            check_code(&code, &known, &format!("{rel}:{line}"), &mut problems);
        }
    }
    // fstab: the fourth field of every line that is not a comment.
    let fstab = read("contrib/fstab.example");
    for (i, line) in fstab.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if line.trim_start().starts_with('#') || fields.len() < 4 {
            continue;
        }
        let origin = format!("contrib/fstab.example:{}", i + 1);
        check_code(&format!("-o {}", fields[3]), &known, &origin, &mut problems);
    }
    // systemd units: their Options= lines.
    let dir = root().join("contrib/systemd");
    let mut units: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mount"))
        .collect();
    units.sort();
    assert!(!units.is_empty(), "no .mount unit in contrib/systemd");
    for unit in &units {
        let text = std::fs::read_to_string(unit).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("Options=") {
                let origin = format!("{}:{}", rel_name(unit), i + 1);
                check_code(line, &known, &origin, &mut problems);
            }
        }
    }
    // The man page's own text: -o lists, --options and option_names in the prose.
    let mut man_texts: Vec<(&str, &str)> = MAN_DESCRIPTION
        .iter()
        .map(|t| ("DESCRIPTION", *t))
        .collect();
    for (title, blocks) in MAN_EXTRA {
        for block in *blocks {
            let (Block::Para(t) | Block::Item(_, t) | Block::Example(_, t)) = block;
            man_texts.push((title, t));
        }
    }
    for (title, text) in man_texts {
        let origin = format!("man page, {title}");
        check_code(text, &known, &origin, &mut problems);
        for t in option_tokens(text)
            .into_iter()
            .filter(|t| t.starts_with("--"))
        {
            if !known.contains(&t) {
                problems.push(format!("{origin}: {t} is not an ftpfs option"));
            }
        }
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let snake = word.contains('_')
                && !word.starts_with('_')
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if snake && !NOT_OPTIONS.contains(&word) && !accepted_mount_option(word) {
                problems.push(format!("{origin}: {word} is not an ftpfs option"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "options in the docs that ftpfs does not accept:\n  - {}",
        problems.join("\n  - ")
    );
}

/// snake_case words in the man page's prose that are not ftpfs options.
const NOT_OPTIONS: &[&str] = &["user_allow_other", "env_logger"];

fn rel_name(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn option_tokens_are_found() {
    assert_eq!(
        option_tokens("#### `-f`, `--foreground` and --max-conns=4, not a-b or x--y"),
        ["-f", "--foreground", "--max-conns"]
    );
    assert_eq!(option_tokens("`-o OPTIONS`"), ["-o"]);
    assert!(accepted_mount_option("max_conns=N"));
    assert!(accepted_mount_option("_netdev"));
    assert!(accepted_mount_option("x-systemd.automount"));
    assert!(!accepted_mount_option("no_such_option"));
}

// ---------------------------------------------------------------------------------------------
// --help and the man page name the same spellings

/// The option spellings `ftpfs --help` shows: the names at the start of each option line,
/// and the `[alias: ...]`/`[aliases: ...]` clap adds after the help text.
fn help_spellings(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        // Option lines are indented by 2 (or 6, long only); wrapped help text by far more,
        // the text after the options (after_help) not at all.
        if trimmed.starts_with('-') && (2..=6).contains(&(line.len() - trimmed.len())) {
            let names = trimmed.split("  ").next().unwrap_or_default();
            out.extend(option_tokens(names));
        }
    }
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for marker in ["[alias: ", "[aliases: "] {
        for part in flat.split(marker).skip(1) {
            out.extend(option_tokens(part.split(']').next().unwrap_or_default()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A roff line as text: `\-` is `-`, font changes are dropped.
fn roff_text(line: &str) -> String {
    let mut s = line.replace("\\-", "-").replace("\\e", "\\");
    for font in ["\\fB", "\\fI", "\\fR", "\\fP"] {
        s = s.replace(font, "");
    }
    s
}

/// The paragraph tags of a man page (the line after each `.TP`), as text.
fn man_tags(man: &str) -> Vec<String> {
    let lines: Vec<&str> = man.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0] == ".TP")
        .map(|w| roff_text(w[1]))
        .collect()
}

/// Every spelling of every option that `ftpfs --help` prints (short, long, alias) is in a
/// paragraph tag of docs/ftpfs.1, and the tags name no option that --help does not; every
/// long option and alias also has its `-o` spellings there (`_` and `-`), and each of those is
/// one the parser accepts.
#[test]
fn man_page_and_help_name_the_same_spellings() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ftpfs"))
        .arg("--help")
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = help_spellings(&String::from_utf8_lossy(&out.stdout));
    assert!(help.contains(&"--read-only".to_string()), "{help:?}");
    let man = read("docs/ftpfs.1");
    let tags = man_tags(&man);
    let mut in_man: Vec<String> = Vec::new();
    let mut dash_o: Vec<String> = Vec::new();
    for tag in &tags {
        // `-o NAME` spellings, then the rest (`-o <OPTIONS>` is the -o option itself).
        let words: Vec<&str> = tag.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let mut i = 0;
        while i < words.len() {
            if words[i] == "-o" && words.get(i + 1).is_some_and(|w| !w.starts_with('<')) {
                dash_o.push(words[i + 1].to_string());
                i += 2;
                continue;
            }
            in_man.extend(option_tokens(words[i]));
            i += 1;
        }
    }
    let mut problems = Vec::new();
    for s in &help {
        if !in_man.contains(s) {
            problems.push(format!("--help shows {s}; the man page does not"));
        }
        if s.starts_with("--") && !matches!(s.as_str(), "--help" | "--version") {
            let name = &s[2..];
            for form in [name.replace('-', "_"), name.to_string()] {
                if !dash_o
                    .iter()
                    .any(|o| o.split('=').next() == Some(form.as_str()))
                {
                    problems.push(format!("the man page does not show -o {form} (for {s})"));
                }
            }
        }
    }
    for s in &in_man {
        if !help.contains(s) {
            problems.push(format!("the man page names {s}; --help does not"));
        }
    }
    for o in &dash_o {
        let name = o.split('=').next().unwrap_or_default();
        if !help.contains(&format!("--{}", name.replace('_', "-"))) {
            problems.push(format!(
                "the man page shows -o {o}, which --help does not have"
            ));
        }
        if !accepted_mount_option(o) {
            problems.push(format!("the man page shows -o {o}, which ftpfs refuses"));
        }
    }
    assert!(
        problems.is_empty(),
        "--help and docs/ftpfs.1 disagree ({UPDATE_HINT}):\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn help_spellings_are_found() {
    let help = "Options:\n  -h, --help     Print help\n      --ro       Read-only; see\n                 --foo and -x [alias:\n                 --read-only]\n  -o <OPTIONS>   Mount options\n\nAfter: getfattr\n-n x\n";
    assert_eq!(
        help_spellings(help),
        ["--help", "--read-only", "--ro", "-h", "-o"]
    );
}

/// `UPDATE_DOCS=1` rewrites the generated files instead of checking them: under CI that
/// would let any drift pass, so it fails there (this test runs whether or not a file differs).
#[test]
fn update_docs_is_refused_under_ci() {
    let _ = updating();
}
