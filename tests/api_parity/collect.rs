//! Walks source files into raw impls, type definitions, aliases and re-exports, after
//! cfg filtering and macro expansion.
//!
//! Macros at item level (and inside impl blocks): a tokio `cfg_*!` macro keeps or drops
//! its body as the cfg table says; a `macro_rules!` macro defined in the walked files is
//! expanded; any other macro's body is parsed as items if it can be (`pin_project! {..}`),
//! else it is skipped with a warning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, ImplItem, Item, UseTree};

use crate::cfg::{CfgEnv, CfgMacros};
use crate::macros::MacroRules;

/// The socket family a file or module belongs to, to tell `tcp::ReadHalf` from
/// `unix::ReadHalf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Fam {
    Tcp,
    Udp,
    Unix,
}

impl Fam {
    /// `tcp`, `tcp.rs`, `udp`, `udp.rs`, `unix`, `unix.rs`.
    pub(crate) fn from_segment(s: &str) -> Option<Fam> {
        match s.strip_suffix(".rs").unwrap_or(s) {
            "tcp" => Some(Fam::Tcp),
            "udp" => Some(Fam::Udp),
            "unix" => Some(Fam::Unix),
            _ => None,
        }
    }

    /// The innermost family among path segments (outermost first).
    pub(crate) fn innermost<'a>(segments: impl DoubleEndedIterator<Item = &'a str>) -> Option<Fam> {
        segments.rev().find_map(Fam::from_segment)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Fam::Tcp => "tcp",
            Fam::Udp => "udp",
            Fam::Unix => "unix",
        }
    }
}

/// Where an item is: its file, family and the `use` declarations in scope.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    pub(crate) file: String,
    pub(crate) fam: Option<Fam>,
    imports: HashMap<String, Vec<String>>,
}

impl Scope {
    /// The path's segments, its first one expanded through the `use` declarations in
    /// scope, leading `crate`/`self`/`super` dropped.
    pub(crate) fn resolve(&self, path: &syn::Path) -> Vec<String> {
        let segs = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if path.leading_colon.is_some() {
            return segs;
        }
        self.resolve_segments(segs)
    }

    fn resolve_segments(&self, mut segs: Vec<String>) -> Vec<String> {
        if let Some(full) = segs.first().and_then(|first| self.imports.get(first)) {
            segs.splice(0..1, full.iter().cloned());
        }
        while segs.len() > 1 && matches!(segs[0].as_str(), "crate" | "self" | "super") {
            segs.remove(0);
        }
        segs
    }
}

#[derive(Debug)]
pub(crate) struct RawImpl {
    pub(crate) item: syn::ItemImpl,
    pub(crate) scope: Rc<Scope>,
}

/// A struct, enum or union definition.
#[derive(Debug)]
pub(crate) struct RawType {
    pub(crate) name: String,
    pub(crate) params: Vec<String>,
    pub(crate) derives: Vec<String>,
    pub(crate) scope: Rc<Scope>,
}

/// `type Name<params> = target;`
#[derive(Debug)]
pub(crate) struct RawAlias {
    pub(crate) name: String,
    pub(crate) params: Vec<String>,
    pub(crate) target: syn::Type,
    pub(crate) scope: Rc<Scope>,
}

/// `pub use path [as name];`
#[derive(Debug)]
pub(crate) struct RawReexport {
    pub(crate) name: String,
    pub(crate) path: Vec<String>,
    pub(crate) scope: Rc<Scope>,
}

#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub(crate) impls: Vec<RawImpl>,
    pub(crate) types: Vec<RawType>,
    pub(crate) aliases: Vec<RawAlias>,
    pub(crate) reexports: Vec<RawReexport>,
    pub(crate) warnings: Vec<String>,
    pub(crate) errors: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Walker<'a> {
    cfg: &'a CfgEnv,
    cfg_macros: &'a CfgMacros,
    rules: HashMap<String, MacroRules>,
    pub(crate) out: Collected,
}

const MAX_DEPTH: usize = 16;

impl<'a> Walker<'a> {
    pub(crate) fn new(cfg: &'a CfgEnv, cfg_macros: &'a CfgMacros) -> Self {
        Walker {
            cfg,
            cfg_macros,
            rules: HashMap::new(),
            out: Collected::default(),
        }
    }

    /// Walks `files` (under `root`, which the family and the displayed names are relative
    /// to). Files of `mod x;` declarations that cfg disables are left out.
    pub(crate) fn walk_files(&mut self, root: &Path, files: &[PathBuf]) {
        let mut parsed = Vec::new();
        let mut excluded = Vec::new();
        for path in files {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    self.out
                        .errors
                        .push(format!("cannot read {}: {e}", path.display()));
                    continue;
                }
            };
            match syn::parse_file(&text) {
                Ok(file) => {
                    self.prescan(&file.items, path, &mut excluded);
                    parsed.push((path, file));
                }
                Err(e) => self.out.errors.push(format!(
                    "cannot parse {} (line {}): {e}",
                    path.display(),
                    e.span().start().line
                )),
            }
        }
        for (path, file) in parsed {
            if excluded.iter().any(|e: &PathBuf| path.starts_with(e)) {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(path);
            let parts: Vec<&str> = rel.iter().filter_map(|c| c.to_str()).collect();
            let scope = Scope {
                file: rel.display().to_string(),
                fam: Fam::innermost(parts.into_iter()),
                imports: HashMap::new(),
            };
            self.walk_items(file.items, &scope);
        }
    }

    /// Records `macro_rules!` definitions and the files of cfg-disabled `mod x;`.
    fn prescan(&mut self, items: &[Item], file: &Path, excluded: &mut Vec<PathBuf>) {
        for item in items {
            match item {
                Item::Macro(m) if m.mac.path.is_ident("macro_rules") => {
                    if let (Some(name), Some(rules)) =
                        (&m.ident, MacroRules::parse(m.mac.tokens.clone()))
                    {
                        self.rules.insert(name.to_string(), rules);
                    }
                }
                Item::Mod(m) if m.content.is_none() && !self.cfg.attrs_enabled(&m.attrs) => {
                    let parent = file.parent().unwrap_or(Path::new("."));
                    if let Some(p) = path_attr(&m.attrs) {
                        excluded.push(parent.join(p));
                        continue;
                    }
                    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                    let dir = if matches!(stem, "mod" | "lib" | "main") {
                        parent.to_path_buf()
                    } else {
                        parent.join(stem)
                    };
                    excluded.push(dir.join(format!("{}.rs", m.ident)));
                    excluded.push(dir.join(m.ident.to_string()));
                }
                Item::Mod(m) => {
                    if let Some((_, content)) = &m.content {
                        self.prescan(content, file, excluded);
                    }
                }
                _ => {}
            }
        }
    }

    fn walk_items(&mut self, items: Vec<Item>, parent: &Scope) {
        let items = self.flatten(items, parent, 0);
        let mut scope = parent.clone();
        for item in &items {
            if let Item::Use(u) = item {
                let mut pairs = Vec::new();
                use_pairs(&u.tree, &mut Vec::new(), &mut pairs);
                scope.imports.extend(pairs);
            }
        }
        let scope = Rc::new(scope);
        for item in items {
            match item {
                Item::Impl(mut imp) => {
                    let inner = std::mem::take(&mut imp.items);
                    imp.items = self.flatten_impl(inner, &scope, 0);
                    self.out.impls.push(RawImpl {
                        item: imp,
                        scope: scope.clone(),
                    });
                }
                Item::Struct(s) => self.add_type(&s.ident, &s.generics, &s.attrs, &scope),
                Item::Enum(e) => self.add_type(&e.ident, &e.generics, &e.attrs, &scope),
                Item::Union(u) => self.add_type(&u.ident, &u.generics, &u.attrs, &scope),
                Item::Type(t) => self.out.aliases.push(RawAlias {
                    name: t.ident.to_string(),
                    params: type_params(&t.generics),
                    target: *t.ty,
                    scope: scope.clone(),
                }),
                Item::Use(u) if matches!(u.vis, syn::Visibility::Public(_)) => {
                    let mut pairs = Vec::new();
                    use_pairs(&u.tree, &mut Vec::new(), &mut pairs);
                    for (name, path) in pairs {
                        let path = scope.resolve_segments(path);
                        self.out.reexports.push(RawReexport {
                            name,
                            path,
                            scope: scope.clone(),
                        });
                    }
                }
                Item::Mod(m) => {
                    if let Some((_, content)) = m.content {
                        let mut inner = (*scope).clone();
                        if let Some(fam) = Fam::from_segment(&m.ident.to_string()) {
                            inner.fam = Some(fam);
                        }
                        self.walk_items(content, &inner);
                    }
                }
                _ => {}
            }
        }
    }

    fn add_type(
        &mut self,
        ident: &syn::Ident,
        generics: &syn::Generics,
        attrs: &[Attribute],
        scope: &Rc<Scope>,
    ) {
        let mut derives = Vec::new();
        for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
            let _ = attr.parse_nested_meta(|meta| {
                if let Some(last) = meta.path.segments.last() {
                    derives.push(last.ident.to_string());
                }
                Ok(())
            });
        }
        self.out.types.push(RawType {
            name: ident.to_string(),
            params: type_params(generics),
            derives,
            scope: scope.clone(),
        });
    }

    /// The macro's expansion, or `None` if it expands to nothing.
    fn expand(&mut self, mac: &syn::Macro, scope: &Scope, depth: usize) -> Option<TokenStream> {
        let name = mac.path.segments.last()?.ident.to_string();
        if depth > MAX_DEPTH {
            self.warn(scope, format!("{name}!: macro expansion too deep, skipped"));
            return None;
        }
        if let Some(enabled) = self.cfg_macros.enabled(&name, self.cfg) {
            return enabled.then(|| mac.tokens.clone());
        }
        if let Some(rules) = self.rules.get(&name) {
            return match rules.expand(mac.tokens.clone()) {
                Ok(ts) => Some(ts),
                Err(e) => {
                    self.warn(scope, format!("cannot expand {name}!: {e}; skipped"));
                    None
                }
            };
        }
        Some(mac.tokens.clone())
    }

    fn flatten(&mut self, items: Vec<Item>, scope: &Scope, depth: usize) -> Vec<Item> {
        let mut out = Vec::new();
        for item in items {
            if !self.cfg.attrs_enabled(item_attrs(&item)) {
                continue;
            }
            let Item::Macro(m) = item else {
                out.push(item);
                continue;
            };
            if m.mac.path.is_ident("macro_rules") {
                continue;
            }
            let Some(ts) = self.expand(&m.mac, scope, depth) else {
                continue;
            };
            match syn::parse2::<syn::File>(ts) {
                Ok(file) => out.extend(self.flatten(file.items, scope, depth + 1)),
                Err(_) => self.warn(
                    scope,
                    format!("{}! {{..}} is not items; skipped", path_str(&m.mac.path)),
                ),
            }
        }
        out
    }

    fn flatten_impl(&mut self, items: Vec<ImplItem>, scope: &Scope, depth: usize) -> Vec<ImplItem> {
        let mut out = Vec::new();
        for item in items {
            if !self.cfg.attrs_enabled(impl_item_attrs(&item)) {
                continue;
            }
            let ImplItem::Macro(m) = item else {
                out.push(item);
                continue;
            };
            let Some(ts) = self.expand(&m.mac, scope, depth) else {
                continue;
            };
            let parser = |input: ParseStream<'_>| {
                let mut v = Vec::new();
                while !input.is_empty() {
                    v.push(input.parse::<ImplItem>()?);
                }
                Ok(v)
            };
            match parser.parse2(ts) {
                Ok(inner) => out.extend(self.flatten_impl(inner, scope, depth + 1)),
                Err(_) => self.warn(
                    scope,
                    format!(
                        "{}! {{..}} in an impl is not impl items; skipped",
                        path_str(&m.mac.path)
                    ),
                ),
            }
        }
        out
    }

    fn warn(&mut self, scope: &Scope, msg: String) {
        self.out.warnings.push(format!("{}: {msg}", scope.file));
    }
}

fn path_str(path: &syn::Path) -> String {
    let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segs.join("::")
}

fn path_attr(attrs: &[Attribute]) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.path().is_ident("path"))
        .and_then(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
}

/// Names of a definition's type and const parameters (lifetimes are not compared).
fn type_params(generics: &syn::Generics) -> Vec<String> {
    generics
        .params
        .iter()
        .filter_map(|p| match p {
            syn::GenericParam::Type(t) => Some(t.ident.to_string()),
            syn::GenericParam::Const(c) => Some(c.ident.to_string()),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect()
}

/// `use a::{b, c::d as e, f::{self}}` → (b, a::b), (e, a::c::d), (f, a::f). Globs are ignored.
fn use_pairs(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_pairs(&p.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(n) if n.ident == "self" => {
            if let Some(last) = prefix.last() {
                out.push((last.clone(), prefix.clone()));
            }
        }
        UseTree::Name(n) => {
            let mut full = prefix.clone();
            full.push(n.ident.to_string());
            out.push((n.ident.to_string(), full));
        }
        UseTree::Rename(r) => {
            let mut full = prefix.clone();
            if r.ident != "self" {
                full.push(r.ident.to_string());
            }
            out.push((r.rename.to_string(), full));
        }
        UseTree::Glob(_) => {}
        UseTree::Group(g) => {
            for t in &g.items {
                use_pairs(t, prefix, out);
            }
        }
    }
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn impl_item_attrs(item: &ImplItem) -> &[Attribute] {
    match item {
        ImplItem::Const(i) => &i.attrs,
        ImplItem::Fn(i) => &i.attrs,
        ImplItem::Type(i) => &i.attrs,
        ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}
