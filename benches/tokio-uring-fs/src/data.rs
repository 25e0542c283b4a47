//! The data set: one 256 MiB file for the random reads, 10,000 small files,
//! and room for the writes, in a fresh directory removed on drop.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Size of the random-read file.
pub const BIG_FILE_LEN: u64 = 256 * 1024 * 1024;
/// Number of small files.
pub const SMALL_FILES: usize = 10_000;
/// Size of each small file.
pub const SMALL_FILE_LEN: usize = 4096;

/// The directory holding the data set.
#[derive(Debug)]
pub struct DataSet {
    dir: PathBuf,
}

impl DataSet {
    /// Writes the data set under `parent` (fsynced, so that O_DIRECT reads
    /// find it on disk).
    pub fn create(parent: &Path) -> io::Result<DataSet> {
        let dir = parent.join(format!("tokio-uring-fs-data-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("small"))?;
        let set = DataSet { dir };
        set.write_big_file()?;
        for i in 0..SMALL_FILES {
            let content = pattern(i as u64, SMALL_FILE_LEN);
            fs::write(set.small_file(i), content)?;
        }
        Ok(set)
    }

    fn write_big_file(&self) -> io::Result<()> {
        let mut file = fs::File::create(self.big_file())?;
        let chunk = 1024 * 1024;
        for i in 0..BIG_FILE_LEN / chunk as u64 {
            file.write_all(&pattern(i, chunk))?;
        }
        file.sync_all()
    }

    /// The 256 MiB file.
    pub fn big_file(&self) -> PathBuf {
        self.dir.join("big")
    }

    /// Small file number `i`.
    pub fn small_file(&self, i: usize) -> PathBuf {
        self.dir.join("small").join(format!("f{i:05}"))
    }

    /// A file the write workloads may create (number `i`).
    pub fn scratch(&self, i: usize) -> PathBuf {
        self.dir.join(format!("scratch-{i}"))
    }

    /// Reads the big file once so that page-cache reads find it cached.
    pub fn warm_page_cache(&self) -> io::Result<()> {
        io::copy(&mut fs::File::open(self.big_file())?, &mut io::sink()).map(|_| ())
    }
}

impl Drop for DataSet {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `len` deterministic bytes, different for each `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&next(&mut state).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// xorshift64*: the random offsets and the file contents.
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}
