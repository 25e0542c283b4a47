//! The workloads, each written as a tokio program would write it with
//! `tokio::fs` (tokio has no positional read, so a random read is `seek` +
//! `read_exact` on a `File` per task). Every function does one timed run and
//! returns the operations and bytes it completed.

use std::io::{self, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::fs::{self, File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::task::JoinSet;

use crate::data::{self, DataSet, BIG_FILE_LEN, SMALL_FILES, SMALL_FILE_LEN};

/// Size of one random read.
const READ_LEN: usize = 4096;
/// Size of one sequential write.
const WRITE_LEN: usize = 1024 * 1024;
/// Writes per sequential-write run (128 MiB).
const WRITES_PER_RUN: usize = 128;
/// Whole-file writes per `fs::write` run.
const FILES_PER_WRITE_RUN: usize = 64;

/// One workload of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// 4 KiB reads at random 4 KiB-aligned offsets of the 256 MiB file, by
    /// `depth` tasks with a `File` each; `direct` opens with `O_DIRECT`.
    RandRead { depth: usize, direct: bool },
    /// The same reads as `spawn_blocking` of a pread into an aligned buffer:
    /// the tokio column of corio's benches/fs.rs (no tokio::fs call, so the
    /// io-uring feature changes nothing here).
    Pread { depth: usize, direct: bool },
    /// 1 MiB `write_all`s to one `File`, then `flush`.
    SeqWrite,
    /// `fs::write` of whole 1 MiB files (open + write + close).
    WholeWrite,
    /// `fs::read` (open + statx + read + close) of each of the 10,000 small
    /// files, by `depth` tasks.
    SmallRead { depth: usize },
    /// `File::open` + `read_to_end` + drop of each small file, one at a time.
    SmallOpenRead,
}

/// What one run completed.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Operations (reads, writes or files).
    pub ops: u64,
    /// Bytes read or written.
    pub bytes: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 13] = [
        Workload::RandRead {
            depth: 1,
            direct: false,
        },
        Workload::RandRead {
            depth: 32,
            direct: false,
        },
        Workload::RandRead {
            depth: 1,
            direct: true,
        },
        Workload::RandRead {
            depth: 32,
            direct: true,
        },
        Workload::Pread {
            depth: 1,
            direct: false,
        },
        Workload::Pread {
            depth: 32,
            direct: false,
        },
        Workload::Pread {
            depth: 1,
            direct: true,
        },
        Workload::Pread {
            depth: 32,
            direct: true,
        },
        Workload::SeqWrite,
        Workload::WholeWrite,
        Workload::SmallRead { depth: 1 },
        Workload::SmallRead { depth: 32 },
        Workload::SmallOpenRead,
    ];

    /// The row label.
    pub fn name(self) -> String {
        match self {
            Workload::RandRead { depth, direct } => {
                let cache = if direct { "O_DIRECT" } else { "page cache" };
                format!("4K random read, QD{depth}, {cache}")
            }
            Workload::Pread { depth, direct } => {
                let cache = if direct { "O_DIRECT" } else { "page cache" };
                format!("4K spawn_blocking pread, QD{depth}, {cache}")
            }
            Workload::SeqWrite => "1M sequential write (File)".into(),
            Workload::WholeWrite => "1M fs::write (open+write+close)".into(),
            Workload::SmallRead { depth } => format!("10k small files fs::read, QD{depth}"),
            Workload::SmallOpenRead => "10k small files open+read+close".into(),
        }
    }

    /// One timed run; `window` bounds the random-read runs.
    pub async fn run(self, data: &Arc<DataSet>, window: Duration) -> io::Result<Run> {
        match self {
            Workload::RandRead { depth, direct } => rand_read(data, depth, direct, window).await,
            Workload::Pread { depth, direct } => pread(data, depth, direct, window).await,
            Workload::SeqWrite => seq_write(data).await,
            Workload::WholeWrite => whole_write(data).await,
            Workload::SmallRead { depth } => small_read(data, depth).await,
            Workload::SmallOpenRead => small_open_read(data).await,
        }
    }
}

async fn rand_read(
    data: &Arc<DataSet>,
    depth: usize,
    direct: bool,
    window: Duration,
) -> io::Result<Run> {
    let mut files = Vec::with_capacity(depth);
    for _ in 0..depth {
        let mut options = OpenOptions::new();
        options.read(true);
        if direct {
            options.custom_flags(libc::O_DIRECT);
        }
        files.push(options.open(data.big_file()).await?);
    }
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = JoinSet::new();
    for (i, file) in files.into_iter().enumerate() {
        tasks.spawn(read_loop(file, i as u64 + 1, deadline));
    }
    let mut ops = 0;
    while let Some(done) = tasks.join_next().await {
        ops += done.map_err(io::Error::other)??;
    }
    Ok(Run {
        ops,
        bytes: ops * READ_LEN as u64,
        elapsed: start.elapsed(),
    })
}

/// Random 4 KiB reads until `deadline`; the number done.
async fn read_loop(mut file: File, seed: u64, deadline: Instant) -> io::Result<u64> {
    let mut buf = vec![0u8; READ_LEN];
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let blocks = BIG_FILE_LEN / READ_LEN as u64;
    let mut ops = 0;
    while Instant::now() < deadline {
        let offset = data::next(&mut rng) % blocks * READ_LEN as u64;
        file.seek(SeekFrom::Start(offset)).await?;
        file.read_exact(&mut buf).await?;
        ops += 1;
    }
    Ok(ops)
}

async fn pread(
    data: &Arc<DataSet>,
    depth: usize,
    direct: bool,
    window: Duration,
) -> io::Result<Run> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if direct {
        options.custom_flags(libc::O_DIRECT);
    }
    let file = Arc::new(options.open(data.big_file())?);
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = JoinSet::new();
    for i in 0..depth {
        tasks.spawn(pread_loop(file.clone(), i as u64 + 1, deadline));
    }
    let mut ops = 0;
    while let Some(done) = tasks.join_next().await {
        ops += done.map_err(io::Error::other)??;
    }
    Ok(Run {
        ops,
        bytes: ops * READ_LEN as u64,
        elapsed: start.elapsed(),
    })
}

/// Random 4 KiB preads on the blocking pool until `deadline`.
async fn pread_loop(file: Arc<std::fs::File>, seed: u64, deadline: Instant) -> io::Result<u64> {
    // Twice the size, so that a 4096-aligned 4 KiB window fits (O_DIRECT).
    let mut buf = vec![0u8; 2 * READ_LEN];
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let blocks = BIG_FILE_LEN / READ_LEN as u64;
    let mut ops = 0;
    while Instant::now() < deadline {
        let offset = data::next(&mut rng) % blocks * READ_LEN as u64;
        let file = file.clone();
        let (res, back) = tokio::task::spawn_blocking(move || {
            let at = buf.as_ptr().align_offset(READ_LEN);
            let res = file.read_exact_at(&mut buf[at..at + READ_LEN], offset);
            (res, buf)
        })
        .await
        .map_err(io::Error::other)?;
        res?;
        buf = back;
        ops += 1;
    }
    Ok(ops)
}

async fn seq_write(data: &Arc<DataSet>) -> io::Result<Run> {
    let chunk = data::pattern(7, WRITE_LEN);
    let mut file = File::create(data.scratch(0)).await?;
    let start = Instant::now();
    for _ in 0..WRITES_PER_RUN {
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    let elapsed = start.elapsed();
    Ok(Run {
        ops: WRITES_PER_RUN as u64,
        bytes: (WRITES_PER_RUN * WRITE_LEN) as u64,
        elapsed,
    })
}

async fn whole_write(data: &Arc<DataSet>) -> io::Result<Run> {
    let chunk = data::pattern(8, WRITE_LEN);
    let start = Instant::now();
    for i in 0..FILES_PER_WRITE_RUN {
        fs::write(data.scratch(i + 1), &chunk).await?;
    }
    Ok(Run {
        ops: FILES_PER_WRITE_RUN as u64,
        bytes: (FILES_PER_WRITE_RUN * WRITE_LEN) as u64,
        elapsed: start.elapsed(),
    })
}

async fn small_read(data: &Arc<DataSet>, depth: usize) -> io::Result<Run> {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for first in 0..depth {
        let paths: Vec<PathBuf> = (first..SMALL_FILES)
            .step_by(depth)
            .map(|i| data.small_file(i))
            .collect();
        tasks.spawn(async move {
            for path in paths {
                check_len(fs::read(&path).await?.len())?;
            }
            io::Result::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(io::Error::other)??;
    }
    Ok(small_files_run(start))
}

async fn small_open_read(data: &Arc<DataSet>) -> io::Result<Run> {
    let start = Instant::now();
    let mut buf = Vec::with_capacity(SMALL_FILE_LEN * 2);
    for i in 0..SMALL_FILES {
        buf.clear();
        let mut file = File::open(data.small_file(i)).await?;
        check_len(file.read_to_end(&mut buf).await?)?;
    }
    Ok(small_files_run(start))
}

fn small_files_run(start: Instant) -> Run {
    Run {
        ops: SMALL_FILES as u64,
        bytes: (SMALL_FILES * SMALL_FILE_LEN) as u64,
        elapsed: start.elapsed(),
    }
}

fn check_len(len: usize) -> io::Result<()> {
    match len {
        SMALL_FILE_LEN => Ok(()),
        n => Err(io::Error::other(format!(
            "read {n} bytes of a {SMALL_FILE_LEN}-byte file"
        ))),
    }
}
