//! Symbolic link targets, contained to the mount (like sshfs `transform_symlinks` and
//! `contain_symlinks`).
//!
//! A server's link target is a path in the *server's* namespace. Shown as is, an absolute
//! target such as `/etc/passwd` would point into the client's own `/etc`, and a relative one
//! with enough `..` would climb out of the mount point: a hostile server could steer local
//! programs to local files. [`contain`] rewrites every target into a relative path that
//! resolves inside the mount:
//! - an absolute target under the mounted directory becomes the relative path to it;
//! - an absolute target outside it is re-rooted at the mount root (`/x/y` → `<root>/x/y`);
//! - a relative target that stays inside the mount is kept byte for byte;
//! - a relative target that climbs above the mount root is clamped at the root.
//!
//! Invariant: following the result from the link's directory never leaves the mount.

/// Splits a path into its components, dropping empty ones and `.`.
fn parts(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect()
}

/// The target to show for a link in directory `link_dir` (a path relative to the mount root,
/// as components) whose server-side target is `target`; `root` is the mounted directory on
/// the server.
pub fn contain(root: &[u8], link_dir: &[&[u8]], target: &[u8]) -> Vec<u8> {
    let (start, rest): (Vec<&[u8]>, Vec<&[u8]>) = if target.starts_with(b"/") {
        let root_parts = parts(root);
        let t = parts(target);
        if t.len() >= root_parts.len() && t[..root_parts.len()] == root_parts[..] {
            (Vec::new(), t[root_parts.len()..].to_vec())
        } else {
            (Vec::new(), t)
        }
    } else {
        (link_dir.to_vec(), parts(target))
    };
    // Resolve lexically, clamping at the mount root.
    let mut resolved = start;
    let mut clamped = false;
    for part in rest {
        if part == b".." {
            if resolved.pop().is_none() {
                clamped = true;
            }
        } else {
            resolved.push(part);
        }
    }
    if !target.starts_with(b"/") && !clamped {
        return target.to_vec();
    }
    // Relative path from `link_dir` to `resolved`.
    let common = link_dir
        .iter()
        .zip(&resolved)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out: Vec<&[u8]> = vec![b".."; link_dir.len() - common];
    out.extend(&resolved[common..]);
    if out.is_empty() {
        return b".".to_vec();
    }
    out.join(&b'/')
}

#[cfg(test)]
mod tests {
    use super::contain;

    fn c(root: &str, dir: &str, target: &str) -> String {
        let dir: Vec<&[u8]> = dir
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::as_bytes)
            .collect();
        String::from_utf8(contain(root.as_bytes(), &dir, target.as_bytes())).unwrap()
    }

    #[test]
    fn absolute_targets_become_relative_inside_the_mount() {
        assert_eq!(c("/", "", "/etc/passwd"), "etc/passwd");
        assert_eq!(c("/", "a/b", "/etc/passwd"), "../../etc/passwd");
        assert_eq!(c("/srv/ftp", "a", "/srv/ftp/a/x"), "x");
        assert_eq!(c("/srv/ftp", "a", "/srv/ftp/b/x"), "../b/x");
        assert_eq!(c("/srv/ftp", "a", "/etc/shadow"), "../etc/shadow");
        assert_eq!(c("/srv/ftp", "", "/srv/ftp"), ".");
    }

    #[test]
    fn relative_targets_stay_unless_they_climb_out() {
        assert_eq!(c("/", "a", "b c/./d"), "b c/./d");
        assert_eq!(c("/", "a/b", "../x"), "../x");
        assert_eq!(c("/", "a", "../../../../etc/passwd"), "../etc/passwd");
        assert_eq!(c("/", "", "../x"), "x");
    }
}
