//! The request path, checked and percent-decoded into segments that are safe to join to the
//! served root: nothing here can name a path outside it (symlinks are `service.rs`'s concern).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A request path, checked and percent-decoded: segments that are safe to join to the root.
#[derive(Debug)]
pub(super) struct Target {
    /// Decoded, none empty, `.` or `..`, none holding `/`, `\` or NUL.
    pub(super) segments: Vec<Vec<u8>>,
    /// The path ends with `/` (or is `/`).
    pub(super) slash: bool,
}

impl Target {
    /// `None` for anything that could step outside the root, or is not a plain path.
    pub(super) fn parse(path: &str) -> Option<Target> {
        let rest = path.strip_prefix('/')?;
        let slash = rest.is_empty() || rest.ends_with('/');
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = Vec::new();
        for segment in rest.split('/').filter(|_| !rest.is_empty()) {
            let segment = percent_decode(segment)?;
            let special = segment.is_empty() || segment == b"." || segment == b"..";
            if special || segment.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
                return None;
            }
            segments.push(segment);
        }
        Some(Target { segments, slash })
    }

    pub(super) fn under(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        path.extend(self.segments.iter().map(|s| OsStr::from_bytes(s)));
        path
    }

    /// The decoded path of a directory, for its index page: `/a/b/`.
    pub(super) fn shown(&self) -> String {
        let mut shown = String::from("/");
        for segment in &self.segments {
            shown.push_str(&String::from_utf8_lossy(segment));
            shown.push('/');
        }
        shown
    }
}

/// `None` if a `%` is not followed by two hex digits.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes = text.bytes();
    let mut decoded = Vec::with_capacity(text.len());
    while let Some(byte) = bytes.next() {
        if byte != b'%' {
            decoded.push(byte);
            continue;
        }
        let hex = |b: Option<u8>| char::from(b?).to_digit(16);
        let (high, low) = (hex(bytes.next())?, hex(bytes.next())?);
        decoded.push((high * 16 + low) as u8);
    }
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_refuse_traversal() {
        for bad in [
            "",
            "x",
            "//etc",
            "/..",
            "/a/../b",
            "/%2e%2e/x",
            "/a%2fb",
            "/%00",
            "/a%5cb",
            "/./a",
            "/%zz",
            "/a//",
        ] {
            assert!(Target::parse(bad).is_none(), "{bad}");
        }
        let target = Target::parse("/a%20b/c/").expect("a plain path");
        assert_eq!(target.segments, [b"a b".to_vec(), b"c".to_vec()]);
        assert!(target.slash);
        assert_eq!(target.shown(), "/a b/c/");
    }
}
