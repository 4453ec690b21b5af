//! Directory listings over the control connection: `STAT dir`, pipelined.
//!
//! A listing over a data connection costs EPSV, a connect and the listing command: two round
//! trips at best (`session/quick.rs`). `STAT dir` sends the same `ls -l` lines in the reply
//! itself, in one round trip, and many of them can be written at once, so the directories of a
//! tree level cost one round trip together (docs of the WAN measurements, rows 18-19).
//!
//! Used only where it is known to be exact, complete and in step:
//! - **LIST-only servers.** With MLSD (proftpd, pure-ftpd) listings carry exact times and
//!   facts; their STAT does not (proftpd's is quadratic, pure-ftpd's stops silently at 10,000
//!   entries), so it is not used there.
//! - **vsftpd's framing.** A reply must open with `213-Status follows:` and end with
//!   `213 End of status`, the framing of vsftpd, whose STAT lists a directory as `LIST -a`
//!   does, byte for byte (names are neither escaped nor cut). Any other reply turns STAT off
//!   for the mount ([`Capability::refuse`]), and the directory is listed with LIST.
//! - **A directory's own listing.** The reply must hold the directory's `.` line: vsftpd
//!   answers an empty 213 for a missing path and a file's own line for a file. Without it the
//!   directory is listed with LIST, whose reply says what is wrong.
//! - **In step.** A reply ends only at a `213 ` line that follows a CRLF
//!   ([`Shape::Listing`]), so a file name holding a bare LF cannot end it early.
//! - **Lines that fit.** A STAT line goes out only if the server has answered a line as long
//!   (`route.rs`); the other directories are listed with LIST, from inside.
//!
//! The option `no_stat_listing` turns it off.

use super::super::listing::ListingFormat;
use super::super::pipeline::{Capability, Reply, Shape};
use super::super::route::line_len;
use super::Session;
use crate::remote::{Entry, RemoteError, RemotePath};

/// Most directories listed by one STAT batch (look-ahead takes this many at a time).
pub const STAT_BATCH: usize = 16;

const OPENING: &[u8] = b"213-Status follows:\r\n";
const CLOSING: &[u8] = b"213 End of status\r\n";

/// The mount-wide state of STAT listings; `enabled`: not turned off (`no_stat_listing`).
pub fn stat_listing(enabled: bool) -> Capability {
    Capability::named("listing directories over data connections", enabled)
}

impl Session {
    /// Whether directories may be listed with STAT on this session.
    pub fn stat_lists(&self) -> bool {
        self.pipelines() && !self.features.mlsd && self.stat_listing.usable()
    }

    /// Lists `dirs` with STAT, pipelined: one result per directory, `None` for one that
    /// must be listed the ordinary way (see the module doc). The error means the session
    /// failed (drop it).
    pub fn stat_listings(
        &mut self,
        dirs: &[RemotePath],
    ) -> Result<Vec<Option<Vec<Entry>>>, RemoteError> {
        let mut out: Vec<Option<Vec<Entry>>> = vec![None; dirs.len()];
        if !self.stat_lists() {
            return Ok(out);
        }
        let mut lines = Vec::new();
        let mut sent = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let Ok((absolute, _)) = self.wire_names(dir) else {
                continue;
            };
            let line = format!("STAT {absolute}");
            let len = line_len(&line);
            if len <= self.routes.budget() && self.routes.proven(len) {
                lines.push(line);
                sent.push(i);
            }
        }
        if lines.is_empty() {
            return Ok(out);
        }
        let longest = lines.iter().map(|l| line_len(l)).max().unwrap_or(0);
        let batch = self.pipe_lock().batch_shaped(&lines, Shape::Listing);
        let replies = self.heard(longest, batch)?;
        for (i, reply) in sent.into_iter().zip(replies) {
            match listing_body(&reply) {
                Framing::Listing(body) => {
                    self.stat_listing.set_works();
                    out[i] = Some(self.entries_of(&dirs[i], body, ListingFormat::List));
                    crate::stats::add(&crate::stats::STAT_LISTINGS, 1);
                }
                Framing::NotADirectory => {}
                Framing::Unknown => {
                    self.stat_listing.refuse(&format!(
                        "the server's STAT reply is not one known to list a directory completely ({})",
                        String::from_utf8_lossy(reply.text.split(|&b| b == b'\n').next().unwrap_or_default()).trim()
                    ));
                    return Ok(out.into_iter().map(|_| None).collect());
                }
            }
        }
        Ok(out)
    }
}

/// What a STAT reply holds.
#[derive(Debug, PartialEq, Eq)]
enum Framing<'a> {
    /// The `ls -l` lines of a directory.
    Listing(&'a [u8]),
    /// vsftpd's framing, but not a directory's listing (missing, or a file).
    NotADirectory,
    /// Not vsftpd's framing.
    Unknown,
}

fn listing_body(reply: &Reply) -> Framing<'_> {
    let text = reply.text.as_slice();
    if reply.code != 213 {
        // vsftpd answers 213 even for a missing path; a refusal is someone else's framing.
        return Framing::Unknown;
    }
    let Some(body) = text
        .strip_prefix(OPENING)
        .and_then(|t| t.strip_suffix(CLOSING))
    else {
        return Framing::Unknown;
    };
    let own = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .any(|l| l.first() == Some(&b'd') && l.ends_with(b" ."));
    if own {
        Framing::Listing(body)
    } else {
        Framing::NotADirectory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u32, text: &[u8]) -> Reply {
        Reply {
            code,
            text: text.to_vec(),
        }
    }

    #[test]
    fn a_directory_listing_is_its_body() {
        let text = b"213-Status follows:\r\n\
            -rw-r--r--    1 0   0    5 Dec 07 20:34 a b\r\n\
            drwxr-xr-x    2 0   0 4096 Dec 07 20:34 .\r\n\
            drwxr-xr-x    3 0   0 4096 Dec 07 20:34 ..\r\n\
            -rw-r--r--    1 0   0    0 Dec 07 20:34 nl\n213 End of status\r\n\
            213 End of status\r\n";
        let r = reply(213, text);
        let Framing::Listing(body) = listing_body(&r) else {
            panic!("not a listing");
        };
        assert!(body.starts_with(b"-rw-r--r--"));
        assert!(body.ends_with(b"nl\n213 End of status\r\n"));
    }

    #[test]
    fn other_replies_are_not_listings() {
        let missing = reply(213, b"213-Status follows:\r\n213 End of status\r\n");
        assert_eq!(listing_body(&missing), Framing::NotADirectory);
        let file = reply(
            213,
            b"213-Status follows:\r\n-rw-r--r--    1 0  0  5 Dec 07 20:34 f\r\n213 End of status\r\n",
        );
        assert_eq!(listing_body(&file), Framing::NotADirectory);
        // proftpd's framing (indented lines, 212), a refusal, a server status.
        let proftpd = reply(
            212,
            b"212-Status of .:\r\n drwxr-xr-x 2 0 0 4096 Dec 07 20:34 .\r\n212 End of status\r\n",
        );
        assert_eq!(listing_body(&proftpd), Framing::Unknown);
        assert_eq!(
            listing_body(&reply(500, b"500 Unknown command.\r\n")),
            Framing::Unknown
        );
        let status = reply(
            213,
            b"213-STAT\r\ndrwxr-xr-x 2 0 0 4096 Dec 07 20:34 .\r\n213 End.\r\n",
        );
        assert_eq!(listing_body(&status), Framing::Unknown);
    }
}
