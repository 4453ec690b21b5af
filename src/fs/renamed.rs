//! Names a server may store under another name.
//!
//! Some servers do not refuse a name they cannot keep; they change it. pure-ftpd turns
//! trailing spaces and control characters of a new name into `_`; Windows servers drop
//! trailing spaces and dots (so `STOR "a "` there would overwrite `a`). A file written under
//! such a name would land where the mount does not show it, or on another file.
//!
//! So before a mount first creates a name of a risky kind (see [`Risk`]), it asks the server
//! with a probe: an empty file under the hidden temporary name of the new one (which ends the
//! same way), a fresh listing to see whether the server kept that name, and a delete of
//! whatever the probe became. If the name was kept, names of that kind are trusted from then
//! on; if not, they fail with `EINVAL` before anything reaches the server. Other names cost
//! nothing extra.

use std::sync::atomic::{AtomicU8, Ordering};

use super::{write, FtpFs};
use crate::error::FsError;
use crate::remote::RemotePath;

/// A kind of name some servers change instead of refusing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    /// Ends with a space (pure-ftpd: `_`; Windows: dropped).
    TrailingSpace,
    /// Ends with a dot (Windows: dropped).
    TrailingDot,
    /// Contains a control character other than CR, LF and NUL, which never reach the
    /// server (pure-ftpd: `_`).
    Control,
}

impl Risk {
    const ALL: [Risk; 3] = [Risk::TrailingSpace, Risk::TrailingDot, Risk::Control];

    /// The risky kind `name` is of, if any (control characters first: they are changed
    /// wherever they are).
    pub fn of(name: &[u8]) -> Option<Risk> {
        if name.iter().any(|&b| b < 0x20 || b == 0x7f) {
            Some(Risk::Control)
        } else if name.ends_with(b" ") {
            Some(Risk::TrailingSpace)
        } else if name.ends_with(b".") {
            Some(Risk::TrailingDot)
        } else {
            None
        }
    }

    fn index(self) -> usize {
        Risk::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Risk::TrailingSpace => "names ending in a space",
            Risk::TrailingDot => "names ending in a dot",
            Risk::Control => "names with control characters",
        }
    }
}

const UNKNOWN: u8 = 0;
const KEPT: u8 = 1;
const CHANGED: u8 = 2;

/// What this mount has learned about each [`Risk`].
#[derive(Default)]
pub struct NameChecks([AtomicU8; 3]);

/// What to do before creating a name.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not risky, or the server is known to keep names of its kind.
    Safe,
    /// Probe the server first.
    Probe(Risk),
    /// The server is known to change names of this kind.
    Refuse(Risk),
}

impl NameChecks {
    pub fn verdict(&self, name: &[u8]) -> Verdict {
        match Risk::of(name) {
            None => Verdict::Safe,
            Some(risk) => match self.0[risk.index()].load(Ordering::Relaxed) {
                KEPT => Verdict::Safe,
                CHANGED => Verdict::Refuse(risk),
                _ => Verdict::Probe(risk),
            },
        }
    }

    /// Remembers what a probe found (the first answer wins).
    pub fn record(&self, risk: Risk, kept: bool) {
        let _ = self.0[risk.index()].compare_exchange(
            UNKNOWN,
            if kept { KEPT } else { CHANGED },
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

impl FtpFs {
    /// Fails with `EINVAL` if the server would store `path` (about to be created, by STOR,
    /// MKD or RNTO) under another name; probes the server the first time a kind of risky
    /// name comes up.
    pub(super) fn check_name_kept(&self, path: &RemotePath) -> Result<(), FsError> {
        let Some((dir, name)) = path.split() else {
            return Ok(());
        };
        let risk = match self.name_checks.verdict(name.as_bytes()) {
            Verdict::Safe => return Ok(()),
            Verdict::Refuse(risk) => return Err(refused(path, risk)),
            Verdict::Probe(risk) => risk,
        };
        let probe = write::temp_path(path)?;
        let (_, probe_name) = probe.split().ok_or(FsError::IsADirectory)?;
        // The probe's name is unique up to the user's part: whatever the server made of it
        // starts with this.
        let stem_len = probe_name.as_bytes().len() - name.as_bytes().len();
        let stem = &probe_name.as_bytes()[..stem_len];
        self.remote.put(&probe, b"", self.cfg.data_timeout)?;
        let listed = self.remote.list(&dir);
        let mut kept = false;
        for entry in listed.iter().flatten() {
            if entry.name == probe_name.as_bytes() {
                kept = true;
            }
            if entry.name.starts_with(stem) {
                let stray = crate::remote::Name::new(&entry.name).map(|n| dir.join(&n));
                if let Err(e) = stray
                    .map_err(FsError::from)
                    .and_then(|p| self.remote.delete(&p).map_err(FsError::from))
                {
                    log::warn!(
                        "could not delete the name probe {} in {dir}: {e}",
                        entry.name.escape_ascii()
                    );
                }
            }
        }
        listed?;
        self.name_checks.record(risk, kept);
        if kept {
            log::debug!("the server keeps {}", risk.describe());
            Ok(())
        } else {
            log::warn!(
                "the server changes {} (a probe in {dir} came back under another name); such names get EINVAL",
                risk.describe()
            );
            Err(refused(path, risk))
        }
    }
}

fn refused(path: &RemotePath, risk: Risk) -> FsError {
    log::debug!("{path}: the server changes {}", risk.describe());
    FsError::InvalidArgument("the server would store this name under another name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risky_kinds() {
        assert_eq!(Risk::of(b"plain.txt"), None);
        assert_eq!(Risk::of(b" leading space"), None);
        assert_eq!(Risk::of(b"inner space.txt"), None);
        assert_eq!(Risk::of(b"trail "), Some(Risk::TrailingSpace));
        assert_eq!(Risk::of(b"README."), Some(Risk::TrailingDot));
        assert_eq!(Risk::of(b"tab\there"), Some(Risk::Control));
        assert_eq!(Risk::of(b"del\x7f"), Some(Risk::Control));
        assert_eq!(Risk::of("实验.doc".as_bytes()), None);
    }

    #[test]
    fn verdicts_follow_what_probes_found() {
        let checks = NameChecks::default();
        assert_eq!(checks.verdict(b"plain"), Verdict::Safe);
        assert_eq!(checks.verdict(b"a "), Verdict::Probe(Risk::TrailingSpace));
        checks.record(Risk::TrailingSpace, true);
        assert_eq!(checks.verdict(b"b "), Verdict::Safe);
        // Other kinds are still unknown; the first answer sticks.
        assert_eq!(checks.verdict(b"b."), Verdict::Probe(Risk::TrailingDot));
        checks.record(Risk::Control, false);
        checks.record(Risk::Control, true);
        assert_eq!(checks.verdict(b"c\td"), Verdict::Refuse(Risk::Control));
    }
}
