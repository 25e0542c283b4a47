//! The files `--server file` serves: a temporary directory of generated
//! files with deterministic content (removed when the run ends), or the
//! user's `--root`; and the size of the file a request path names, which
//! every response's body must have.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// The generated files: name and size in bytes.
pub(crate) const GENERATED: [(&str, usize); 4] = [
    ("file-1k", 1024),
    ("file-4k", 4096),
    ("file-64k", 64 * 1024),
    ("file-1m", 1024 * 1024),
];

/// The request path `--server file` loads when `--url` is not given.
pub(crate) const DEFAULT_URL: &str = "/file-64k";

/// The directory the file servers serve.
#[derive(Debug)]
pub(crate) struct Root {
    path: PathBuf,
    /// Created by corio-ab (and removed on drop), not the user's.
    generated: bool,
}

impl Root {
    /// Creates a fresh temporary directory holding [`GENERATED`].
    ///
    /// # Errors
    /// The directory or a file cannot be written.
    pub(crate) fn generate() -> Result<Root, String> {
        let path = std::env::temp_dir().join(format!("corio-ab-files-{}", std::process::id()));
        // A directory left by a killed run of a process with the same pid.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        let root = Root {
            path,
            generated: true,
        };
        for (name, len) in GENERATED {
            let file = root.path.join(name);
            fs::write(&file, content(name, len))
                .map_err(|e| format!("writing {}: {e}", file.display()))?;
        }
        Ok(root)
    }

    /// The user's directory (`--root`), made absolute.
    ///
    /// # Errors
    /// It does not exist or is not a directory.
    pub(crate) fn existing(path: &Path) -> Result<Root, String> {
        let path = fs::canonicalize(path).map_err(|e| format!("--root {}: {e}", path.display()))?;
        if !path.is_dir() {
            return Err(format!("--root {}: not a directory", path.display()));
        }
        Ok(Root {
            path,
            generated: false,
        })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether corio-ab generated it.
    pub(crate) fn is_generated(&self) -> bool {
        self.generated
    }

    /// Size of the regular file `url` names (query string ignored); `None`
    /// if it names no file here, or one this simple mapping cannot resolve
    /// (percent-encoding, `..`).
    pub(crate) fn file_len(&self, url: &str) -> Option<u64> {
        let rel = relative_path(url)?;
        let meta = fs::metadata(self.path.join(rel)).ok()?;
        meta.is_file().then_some(meta.len())
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if self.generated {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The file path below the root that a request path names.
fn relative_path(url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next()?;
    if path.contains('%') {
        return None;
    }
    let rel = PathBuf::from(path.trim_start_matches('/'));
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !rel.as_os_str().is_empty()).then_some(rel)
}

/// The deterministic content of generated file `name`: `len` bytes of a
/// splitmix64 stream seeded by the name, so that two files never match.
pub(crate) fn content(name: &str, len: usize) -> Vec<u8> {
    let mut state = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_have_their_sizes_and_go_away() {
        let root = Root::generate().unwrap();
        let dir = root.path().to_path_buf();
        for (name, len) in GENERATED {
            assert_eq!(root.file_len(&format!("/{name}")), Some(len as u64));
            assert_eq!(fs::read(dir.join(name)).unwrap(), content(name, len));
        }
        assert_eq!(root.file_len("/file-64k?x=1"), Some(65536));
        assert_eq!(root.file_len("/missing"), None);
        assert_eq!(root.file_len("/"), None);
        drop(root);
        assert!(!dir.exists());
    }

    #[test]
    fn only_plain_paths_resolve() {
        assert_eq!(relative_path("/a/b"), Some(PathBuf::from("a/b")));
        assert_eq!(relative_path("/../etc/passwd"), None);
        assert_eq!(relative_path("/a%2e"), None);
        assert_eq!(relative_path("/"), None);
    }

    #[test]
    fn content_is_deterministic_and_distinct() {
        assert_eq!(content("a", 100), content("a", 100));
        assert_ne!(content("a", 100), content("b", 100));
        assert_eq!(content("a", 13).len(), 13);
    }
}
