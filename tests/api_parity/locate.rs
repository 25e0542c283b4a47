//! Finds tokio's and corio-compat's sources with `cargo metadata` (offline).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One package's sources and what cfg evaluation needs about it.
#[derive(Debug)]
pub(crate) struct Package {
    pub(crate) version: String,
    pub(crate) src: PathBuf,
    /// Features cargo resolved for it in this workspace.
    pub(crate) features: BTreeSet<String>,
    /// Its dependencies' crate names (`socket2`, `tokio`...).
    pub(crate) externs: BTreeSet<String>,
}

#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) tokio: Package,
    pub(crate) compat: Package,
}

const COMPAT: &str = "corio-compat";

pub(crate) fn load() -> Result<Workspace, String> {
    let meta = metadata()?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no `packages`")?;
    let nodes = meta["resolve"]["nodes"]
        .as_array()
        .ok_or("cargo metadata: no `resolve.nodes`")?;
    let by_id = |id: &str| packages.iter().find(|p| p["id"] == id);
    let compat = packages
        .iter()
        .find(|p| p["name"] == COMPAT)
        .ok_or_else(|| format!("cargo metadata: no package `{COMPAT}` in this workspace"))?;
    let compat_id = compat["id"].as_str().unwrap_or_default();
    // The tokio that corio-compat itself depends on, else the only tokio in the graph.
    let tokio_id = nodes
        .iter()
        .find(|n| n["id"] == compat_id)
        .and_then(|n| n["deps"].as_array())
        .and_then(|deps| deps.iter().find(|d| d["name"] == "tokio"))
        .and_then(|d| d["pkg"].as_str())
        .map(str::to_string)
        .or_else(|| {
            let tokios: Vec<&Value> = packages.iter().filter(|p| p["name"] == "tokio").collect();
            match tokios.as_slice() {
                [one] => one["id"].as_str().map(str::to_string),
                _ => None,
            }
        })
        .ok_or("cargo metadata: cannot find the `tokio` package this workspace resolves")?;
    let tokio = by_id(&tokio_id).ok_or_else(|| format!("cargo metadata: no package {tokio_id}"))?;
    let package = |p: &Value| -> Result<Package, String> {
        let manifest = p["manifest_path"]
            .as_str()
            .ok_or("cargo metadata: no manifest_path")?;
        let src = Path::new(manifest)
            .parent()
            .unwrap_or(Path::new("/"))
            .join("src");
        if !src.is_dir() {
            return Err(format!(
                "{}: no such directory (package {})",
                src.display(),
                p["id"]
            ));
        }
        let features = nodes
            .iter()
            .find(|n| n["id"] == p["id"])
            .and_then(|n| n["features"].as_array())
            .map(|f| {
                f.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let externs = p["dependencies"]
            .as_array()
            .map(|deps| {
                deps.iter()
                    .filter_map(|d| d["rename"].as_str().or(d["name"].as_str()))
                    .map(|n| n.replace('-', "_"))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Package {
            version: p["version"].as_str().unwrap_or("?").to_string(),
            src,
            features,
            externs,
        })
    };
    Ok(Workspace {
        tokio: package(tokio)?,
        compat: package(compat)?,
    })
}

/// `cargo metadata --offline`, for the host platform first (needs fewer packages on disk).
fn metadata() -> Result<Value, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let env = if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    };
    let host = format!("{}-unknown-linux-{env}", std::env::consts::ARCH);
    let mut errors = Vec::new();
    for filter in [Some(host.as_str()), None] {
        let mut cmd = Command::new(&cargo);
        cmd.args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(&manifest);
        if let Some(triple) = filter {
            cmd.args(["--filter-platform", triple]);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
        if out.status.success() {
            return serde_json::from_slice(&out.stdout)
                .map_err(|e| format!("cargo metadata: invalid JSON: {e}"));
        }
        errors.push(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Err(format!(
        "`cargo metadata --offline` failed (run `cargo fetch` once to fill the registry cache):\n{}",
        errors.join("\n")
    ))
}
