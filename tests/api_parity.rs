//! Public-API parity between `tokio::net` (the exact tokio this workspace resolves) and
//! `corio::net`: corio promises that a tokio program compiles unchanged with `tokio::net`
//! replaced by `corio::net`, so every tokio item below must exist in corio with the same
//! shape.
//!
//! Run: `cargo test --test api_parity -- --nocapture` (prints a table per type; the full
//! missing/mismatched list is also written to `/tmp/parity-missing.txt`). It only reads
//! files: no network, no build of tokio; `cargo metadata --offline` locates the sources.
//!
//! What is checked, for `TcpStream`, `TcpListener`, `TcpSocket`, `UdpSocket`, `UnixStream`,
//! `UnixListener`, `UnixDatagram`, `UnixSocket`, `tcp::{ReadHalf, WriteHalf, OwnedReadHalf,
//! OwnedWriteHalf, ReuniteError}`, `unix::{ReadHalf, WriteHalf, OwnedReadHalf,
//! OwnedWriteHalf, ReuniteError, SocketAddr, UCred}`:
//! - tokio's side is parsed with syn from `src/net/{tcp/*, udp.rs, unix/*}` (list in
//!   [`TOKIO_FILES`]); corio's from every `.rs` file under corio-compat's `src/`;
//! - every `pub fn` / `pub async fn` of the type's inherent impls (deprecated and
//!   `#[doc(hidden)]` ones too: they still compile in tokio programs) must exist in corio
//!   with the same shape: async or not (a fn returning `impl Future` counts as async),
//!   receiver (`self`, `&self`, `&mut self`, typed `self: ..`, none) and parameter count;
//! - every trait impl (and `#[derive]`) for the type must exist in corio, compared by trait
//!   name plus normalized generic arguments (`TryFrom<TcpStream>`, `AsRef<TcpStream>`,
//!   `AsFd`, `AsyncRead`, `Debug`, `Error`, `From<SocketAddr> for std::…::SocketAddr`...);
//! - the type itself must be defined (struct/enum/alias/re-export) in corio.
//!
//! Not checked: `impl Drop` (a type without it allows everything one with it does; corio
//! may drop through a field), extra corio items, and auto traits (`Send`, `Sync`, `Unpin`:
//! not visible in source, `tests/net_send_sync.rs` checks them).
//! Set `API_PARITY_VERBOSE=1` to list every checked item with its status, and
//! `API_PARITY_COMPAT_SRC=/some/compat/src` to check another copy of corio-compat's sources.
//!
//! The rules: cfg filtering (Linux, tokio's `cfg_*!` macros) in `api_parity/cfg.rs`; macro
//! expansion in `api_parity/collect.rs`; attributing impls to types (family by directory,
//! aliases of generic types) and normalizing types in `api_parity/resolve.rs`.

#[path = "api_parity/cfg.rs"]
mod cfg;
#[path = "api_parity/collect.rs"]
mod collect;
#[path = "api_parity/locate.rs"]
mod locate;
#[path = "api_parity/macros.rs"]
mod macros;
#[path = "api_parity/resolve.rs"]
mod resolve;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use collect::{Fam, Walker};
use resolve::{ApiMap, TypeKey};

const fn key(fam: Fam, name: &'static str) -> TypeKey {
    TypeKey { fam, name }
}

/// The tokio types whose API corio must offer, in report order.
const TYPES: &[TypeKey] = &[
    key(Fam::Tcp, "TcpStream"),
    key(Fam::Tcp, "TcpListener"),
    key(Fam::Tcp, "TcpSocket"),
    key(Fam::Tcp, "ReadHalf"),
    key(Fam::Tcp, "WriteHalf"),
    key(Fam::Tcp, "OwnedReadHalf"),
    key(Fam::Tcp, "OwnedWriteHalf"),
    key(Fam::Tcp, "ReuniteError"),
    key(Fam::Udp, "UdpSocket"),
    key(Fam::Unix, "UnixStream"),
    key(Fam::Unix, "UnixListener"),
    key(Fam::Unix, "UnixDatagram"),
    key(Fam::Unix, "UnixSocket"),
    key(Fam::Unix, "ReadHalf"),
    key(Fam::Unix, "WriteHalf"),
    key(Fam::Unix, "OwnedReadHalf"),
    key(Fam::Unix, "OwnedWriteHalf"),
    key(Fam::Unix, "ReuniteError"),
    key(Fam::Unix, "SocketAddr"),
    key(Fam::Unix, "UCred"),
];

/// tokio's files defining those types, relative to its `src/net` (tokio 1.54 layout).
const TOKIO_FILES: &[&str] = &[
    "tcp/stream.rs",
    "tcp/listener.rs",
    "tcp/socket.rs",
    "tcp/split.rs",
    "tcp/split_owned.rs",
    "udp.rs",
    "unix/stream.rs",
    "unix/listener.rs",
    "unix/datagram/socket.rs",
    "unix/socket.rs",
    "unix/split.rs",
    "unix/split_owned.rs",
    "unix/socketaddr.rs",
    "unix/ucred.rs",
];

const MISSING_FILE: &str = "/tmp/parity-missing.txt";

#[test]
fn tokio_net_api_parity() {
    let ws = locate::load().unwrap_or_else(|e| panic!("cannot locate the sources: {e}"));

    // tokio's side.
    let tokio_net = ws.tokio.src.join("net");
    let tokio_files: Vec<PathBuf> = TOKIO_FILES.iter().map(|f| tokio_net.join(f)).collect();
    let absent: Vec<String> = tokio_files
        .iter()
        .filter(|f| !f.is_file())
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        absent.is_empty(),
        "tokio {}'s layout changed, update TOKIO_FILES: missing {absent:?}",
        ws.tokio.version
    );
    let cfg_macros = cfg::CfgMacros::from_file(&ws.tokio.src.join("macros/cfg.rs"))
        .unwrap_or_else(|e| panic!("tokio's cfg macros: {e}"));
    let tokio_cfg = cfg::CfgEnv::linux(ws.tokio.features.clone());
    let mut walker = Walker::new(&tokio_cfg, &cfg_macros);
    walker.walk_files(&tokio_net, &tokio_files);
    let tokio_col = walker.out;
    assert!(
        tokio_col.errors.is_empty(),
        "reading tokio: {:#?}",
        tokio_col.errors
    );
    let (tokio_api, tokio_warnings) = resolve::build(&tokio_col, TYPES, &ws.tokio.externs);
    for k in TYPES {
        let api = &tokio_api[k];
        assert!(
            api.defined && (!api.methods.is_empty() || !api.traits.is_empty()),
            "tokio {}: found no definition or no item for {k}: has its layout changed?",
            ws.tokio.version
        );
    }

    // corio's side: every file under corio-compat's src (its cfgs evaluated with the
    // features cargo resolves for it; tokio's cfg macros are known there too).
    // `API_PARITY_COMPAT_SRC=dir` checks another copy of compat/src (another branch...).
    let compat_src =
        std::env::var_os("API_PARITY_COMPAT_SRC").map_or(ws.compat.src.clone(), PathBuf::from);
    let compat_cfg = cfg::CfgEnv::linux(ws.compat.features.clone());
    let mut compat_files = Vec::new();
    rs_files(&compat_src, &mut compat_files);
    compat_files.sort();
    assert!(
        !compat_files.is_empty(),
        "no .rs file under {}",
        compat_src.display()
    );
    let mut walker = Walker::new(&compat_cfg, &cfg_macros);
    walker.walk_files(&compat_src, &compat_files);
    let compat_col = walker.out;
    let (corio_api, corio_warnings) = resolve::build(&compat_col, TYPES, &ws.compat.externs);

    let report = compare(&tokio_api, &corio_api);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tokio {} ({}) vs corio::net ({}, {} files)\n",
        ws.tokio.version,
        tokio_net.display(),
        compat_src.display(),
        compat_files.len()
    );
    out.push_str(&report.table);
    if std::env::var_os("API_PARITY_VERBOSE").is_some_and(|v| v != "0") {
        out.push('\n');
        out.push_str(&report.details);
    }
    let warnings: Vec<&String> = tokio_col
        .warnings
        .iter()
        .chain(&tokio_warnings)
        .chain(&compat_col.warnings)
        .chain(&corio_warnings)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !warnings.is_empty() {
        out.push_str("\nwarnings (items these could hide are not checked):\n");
        for w in warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
    let mut problems = compat_col
        .errors
        .iter()
        .map(|e| format!("ERROR     {e}"))
        .collect::<Vec<_>>();
    problems.extend(report.problems);
    if !problems.is_empty() {
        let _ = writeln!(out, "\n{} problem(s):", problems.len());
        for p in &problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    println!("{out}");

    let mut file = format!(
        "# tokio {} net API items missing or mismatched in corio::net; from `cargo test --test api_parity`\n",
        ws.tokio.version
    );
    for p in &problems {
        let _ = writeln!(file, "{p}");
    }
    if problems.is_empty() {
        file.push_str("# none\n");
    }
    if let Err(e) = std::fs::write(MISSING_FILE, file) {
        println!("(cannot write {MISSING_FILE}: {e})");
    }

    assert!(
        problems.is_empty(),
        "corio::net lacks {} tokio::net item(s) (also in {MISSING_FILE}):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[derive(Debug)]
struct Report {
    table: String,
    /// Every checked item with its status.
    details: String,
    problems: Vec<String>,
}

fn compare(tokio: &ApiMap, corio: &ApiMap) -> Report {
    let mut table = format!(
        "{:<22} {:>7} {:>7} {:>7} {:>8} {:>8}\n",
        "type", "methods", "traits", "present", "mismatch", "missing"
    );
    let mut problems = Vec::new();
    let mut details = String::new();
    let mut total = [0usize; 5];
    for k in TYPES {
        let t = &tokio[k];
        let c = corio.get(k);
        let (mut present, mut mismatched, mut missing) = (0, 0, 0);
        let defined = c.is_some_and(|c| c.defined);
        let from_tokio = c.is_some_and(|c| c.from_tokio);
        if !defined {
            problems.push(format!("MISSING   type {k}"));
        }
        let _ = writeln!(details, "{k}:");
        for (name, shapes) in &t.methods {
            let want = &shapes[0];
            let have = c.and_then(|c| c.methods.get(name));
            match have {
                Some(have) if from_tokio || have.contains(want) => {
                    present += 1;
                    let _ = writeln!(details, "  ok        {name}: {want}");
                }
                _ if from_tokio => present += 1,
                Some(have) => {
                    mismatched += 1;
                    let have: Vec<String> = have.iter().map(|s| s.to_string()).collect();
                    let line = format!("{k}::{name}: tokio {want}, corio {}", have.join(" | "));
                    let _ = writeln!(details, "  MISMATCH  {line}");
                    problems.push(format!("MISMATCH  {line}"));
                }
                None => {
                    missing += 1;
                    let _ = writeln!(details, "  MISSING   {name}: {want}");
                    problems.push(format!("MISSING   {k}::{name}: {want}"));
                }
            }
        }
        for tr in t.traits.iter().filter(|t| *t != "Drop") {
            if from_tokio || c.is_some_and(|c| c.traits.contains(tr)) {
                present += 1;
                let _ = writeln!(details, "  ok        impl {tr}");
            } else {
                missing += 1;
                let _ = writeln!(details, "  MISSING   impl {tr}");
                problems.push(format!("MISSING   impl {tr} for {k}"));
            }
        }
        let traits = t.traits.iter().filter(|t| *t != "Drop").count();
        let note = if from_tokio {
            "  (tokio's own type)"
        } else if !defined {
            "  (type missing)"
        } else {
            ""
        };
        let _ = writeln!(
            table,
            "{:<22} {:>7} {:>7} {:>7} {:>8} {:>8}{note}",
            k.to_string(),
            t.methods.len(),
            traits,
            present,
            mismatched,
            missing
        );
        for (i, n) in [t.methods.len(), traits, present, mismatched, missing]
            .into_iter()
            .enumerate()
        {
            total[i] += n;
        }
    }
    let _ = writeln!(
        table,
        "{:<22} {:>7} {:>7} {:>7} {:>8} {:>8}",
        "total", total[0], total[1], total[2], total[3], total[4]
    );
    Report {
        table,
        details,
        problems,
    }
}
