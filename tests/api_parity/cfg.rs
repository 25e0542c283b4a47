//! `#[cfg(..)]` evaluation for the Linux target, and the table of tokio's `cfg_*!` macros.
//!
//! Skip rules (an item is kept iff every `#[cfg]` on it, and on every enclosing item or
//! `cfg_*!` macro, evaluates to true here):
//! - `unix` is set; every other bare flag is unset: `windows`, `tokio_unstable`,
//!   `tokio_taskdump`, `docsrs`, `doc`, `loom`, `test`, `miri`, ... So `#[cfg(windows)]`,
//!   `cfg(not(unix))` and `tokio_unstable`-only items are skipped, and `cfg(any(all(doc,
//!   docsrs), unix))` (tokio's `cfg_unix!`) is kept.
//! - `target_os = "linux"`, `target_family = "unix"`, `target_vendor = "unknown"`;
//!   `target_arch`, `target_env`, `target_pointer_width`, `target_endian` are the host's.
//!   So `cfg(any(target_os = "android", target_os = "linux"))` is kept, and
//!   `target_os = "wasi"`, `not(target_os = "linux")`, `target_os = "freebsd"` are skipped.
//! - `feature = "x"` is set iff cargo resolved feature `x` for that package in this
//!   workspace (`cargo metadata`; for tokio that is `full` through the dev-dependencies).
//! - any other `key = "value"` is unset; `cfg_attr` is ignored (tokio uses it for docs only).
//! - tokio's `cfg_*! { .. }` macros are read from tokio's own `src/macros/cfg.rs`: each one
//!   stands for the `#[cfg(..)]` attributes it puts on its items.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, ExprLit, Lit, Meta, Token};

/// The configuration items are evaluated against.
#[derive(Debug, Clone)]
pub(crate) struct CfgEnv {
    features: BTreeSet<String>,
}

impl CfgEnv {
    /// Linux on the host's architecture, with these cargo features enabled.
    pub(crate) fn linux(features: BTreeSet<String>) -> Self {
        CfgEnv { features }
    }

    /// Whether every `#[cfg(..)]` among `attrs` holds.
    pub(crate) fn attrs_enabled(&self, attrs: &[Attribute]) -> bool {
        attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .all(|a| match a.parse_args::<Meta>() {
                Ok(meta) => self.eval(&meta),
                // Unparsable predicate: keep the item (a false "missing" beats a silent skip).
                Err(_) => true,
            })
    }

    /// Evaluates one cfg predicate.
    pub(crate) fn eval(&self, meta: &Meta) -> bool {
        match meta {
            Meta::Path(path) => path.get_ident().is_some_and(|id| id == "unix"),
            Meta::NameValue(nv) => {
                let Some(key) = nv.path.get_ident() else {
                    return false;
                };
                let Expr::Lit(ExprLit {
                    lit: Lit::Str(value),
                    ..
                }) = &nv.value
                else {
                    return false;
                };
                self.key_value(&key.to_string(), &value.value())
            }
            Meta::List(list) => {
                let Ok(nested) =
                    list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                else {
                    return true;
                };
                let op = list.path.get_ident().map(|id| id.to_string());
                match op.as_deref() {
                    Some("any") => nested.iter().any(|m| self.eval(m)),
                    Some("all") => nested.iter().all(|m| self.eval(m)),
                    Some("not") => !nested.iter().all(|m| self.eval(m)),
                    _ => false,
                }
            }
        }
    }

    fn key_value(&self, key: &str, value: &str) -> bool {
        match key {
            "feature" => self.features.contains(value),
            "target_os" => value == "linux",
            "target_family" => value == "unix",
            "target_vendor" => value == "unknown",
            "target_arch" => value == std::env::consts::ARCH,
            "target_env" => value == host_env(),
            "target_pointer_width" => value == (usize::BITS).to_string(),
            "target_endian" => {
                value
                    == if cfg!(target_endian = "little") {
                        "little"
                    } else {
                        "big"
                    }
            }
            _ => false,
        }
    }
}

fn host_env() -> &'static str {
    if cfg!(target_env = "musl") {
        "musl"
    } else {
        "gnu"
    }
}

/// tokio's `macro_rules! cfg_xxx { ($($item:item)*) => { $( #[cfg(P)].. $item )* } }`,
/// as name → the predicates `P` it applies.
#[derive(Debug, Default)]
pub(crate) struct CfgMacros(HashMap<String, Vec<Meta>>);

impl CfgMacros {
    /// Reads the table from tokio's `src/macros/cfg.rs`.
    pub(crate) fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file =
            syn::parse_file(&text).map_err(|e| format!("cannot parse {}: {e}", path.display()))?;
        let mut table = HashMap::new();
        for item in file.items {
            let syn::Item::Macro(m) = item else { continue };
            let (true, Some(name)) = (m.mac.path.is_ident("macro_rules"), m.ident) else {
                continue;
            };
            // The first arm's transcriber: `(matcher) => { body }`.
            let Some(body) = m.mac.tokens.into_iter().find_map(|tt| match tt {
                TokenTree::Group(g) if g.delimiter() == Delimiter::Brace => Some(g.stream()),
                _ => None,
            }) else {
                continue;
            };
            let mut preds = Vec::new();
            cfg_attrs_in(body, &mut preds);
            if !preds.is_empty() {
                table.insert(name.to_string(), preds);
            }
        }
        if table.is_empty() {
            return Err(format!("no cfg_*! macro found in {}", path.display()));
        }
        Ok(CfgMacros(table))
    }

    /// `Some(enabled)` for a known cfg macro, `None` for any other macro.
    pub(crate) fn enabled(&self, name: &str, env: &CfgEnv) -> Option<bool> {
        self.0
            .get(name)
            .map(|preds| preds.iter().all(|p| env.eval(p)))
    }
}

/// Collects the predicates of the `#[cfg(..)]` attributes in `ts` (not inside attributes).
fn cfg_attrs_in(ts: TokenStream, out: &mut Vec<Meta>) {
    let tokens: Vec<TokenTree> = ts.into_iter().collect();
    for (i, tt) in tokens.iter().enumerate() {
        match tt {
            TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
                let after_hash =
                    i > 0 && matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '#');
                if after_hash {
                    if let Ok(Meta::List(list)) = syn::parse2::<Meta>(g.stream()) {
                        if list.path.is_ident("cfg") {
                            if let Ok(pred) = syn::parse2::<Meta>(list.tokens) {
                                out.push(pred);
                            }
                        }
                    }
                } else {
                    cfg_attrs_in(g.stream(), out);
                }
            }
            TokenTree::Group(g) => cfg_attrs_in(g.stream(), out),
            _ => {}
        }
    }
}
