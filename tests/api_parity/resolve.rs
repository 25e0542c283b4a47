//! Turns collected impls into the public API of each checked type: its `pub fn`s with
//! their shapes and its trait impls as normalized text.
//!
//! Which type an impl is for (both sides, so tokio and corio are read alike):
//! - the self type's path is resolved through the file's `use` declarations; a path into
//!   `std`/`core`/`alloc` or another crate is not ours (`impl From<SocketAddr> for
//!   std::os::unix::net::SocketAddr` is recorded on the type named in the trait's generic
//!   arguments instead, as `From<SocketAddr> for std::…::SocketAddr`);
//! - the type is matched by the last path segment; a name that does not say its family
//!   (`ReadHalf`, `OwnedReadHalf`, `ReuniteError`, `SocketAddr`, `UCred`, unlike
//!   `TcpStream`) is attributed by the innermost
//!   `tcp`/`udp`/`unix` segment of the resolved path, else of the file's path (`/tcp/`,
//!   `tcp.rs`, inline `mod tcp`); if that is absent the impl is ignored with a warning;
//! - aliases: `type OwnedReadHalf = Read<Arc<TcpStream>>;` (and `pub use X as Y;`) make
//!   impls for `Read<..>` count for that alias when their generic arguments unify with the
//!   alias's: `impl<P: Deref> AsyncRead for Read<P>` fits every `Read<..>` alias (binding
//!   `P`), `impl<S> Read<Arc<S>>` only the owned one (binding `S = TcpStream`), a concrete
//!   argument must be equal after normalization. Bound parameters are substituted into the
//!   trait's arguments, with associated types projected (`P::Target` of `&T`, `Arc<T>`,
//!   `Rc<T>`, `Box<T>` is `T`, else the `type Target = ..` of a matching impl), so
//!   `AsRef<P::Target> for Read<P>` reads `AsRef<TcpStream>` for `tcp::ReadHalf`. A type
//!   that aliases point to with arguments is only an implementation type: impls on it count
//!   for the aliases, not for a checked type of the same name;
//! - `pub use tokio::net::..::X;` or `type X = tokio::..::X;` makes X tokio's own type:
//!   everything is present.
//!
//! Normalized text of types (trait generic arguments): each path becomes its last segment
//! with its normalized generic arguments (`std::net::TcpStream` and `net::TcpStream` →
//! `TcpStream`), lifetimes are dropped, `Self` becomes the type's name, a path into the
//! `tokio` crate keeps a `tokio::` prefix (tokio's `TcpStream` is not corio's), and a type
//! that is the target of an alias is shown as the alias (`Read<&TcpStream>` → `ReadHalf`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use quote::ToTokens;
use syn::visit::Visit;
use syn::{FnArg, GenericArgument, ImplItem, PathArguments, ReturnType, Type};

use crate::collect::{Collected, Fam, RawImpl, Scope};

/// A checked tokio type: `tokio::net::{fam}::{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TypeKey {
    pub(crate) fam: Fam,
    pub(crate) name: &'static str,
}

impl TypeKey {
    /// `TcpStream`, `UdpSocket`, `UnixStream`...: exported at `tokio::net`'s root, and the
    /// name alone says which type it is (unlike `ReadHalf` or `SocketAddr`).
    pub(crate) fn is_prefixed(&self) -> bool {
        ["Tcp", "Udp", "Unix"]
            .iter()
            .any(|p| self.name.starts_with(p))
    }
}

impl fmt::Display for TypeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_prefixed() {
            f.write_str(self.name)
        } else {
            write!(f, "{}::{}", self.fam.name(), self.name)
        }
    }
}

/// A method's shape: what a caller's code depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) is_async: bool,
    pub(crate) receiver: Option<String>,
    pub(crate) params: usize,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut args: Vec<&str> = self.receiver.iter().map(String::as_str).collect();
        args.extend(std::iter::repeat_n("_", self.params));
        let asyncness = if self.is_async { "async " } else { "" };
        write!(f, "{asyncness}fn({})", args.join(", "))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Api {
    pub(crate) methods: BTreeMap<String, Vec<Shape>>,
    pub(crate) traits: BTreeSet<String>,
    pub(crate) defined: bool,
    pub(crate) from_tokio: bool,
}

pub(crate) type ApiMap = BTreeMap<TypeKey, Api>;

/// A type bound to an impl or alias parameter, with the context it was written in.
#[derive(Debug, Clone)]
struct Bound {
    ty: Type,
    scope: Rc<Scope>,
    subst: Rc<Subst>,
}

type Subst = HashMap<String, Bound>;

/// `type Name<params> = Target<args>;` (or `pub use Target as Name;`, with no args).
#[derive(Debug)]
struct Alias {
    name: String,
    fam: Option<Fam>,
    target: String,
    args: Vec<Type>,
    /// The alias's own type parameters: they fit anything.
    params: HashSet<String>,
    scope: Rc<Scope>,
}

/// The context types are normalized in.
#[derive(Clone)]
struct NormCx<'a> {
    self_name: &'a str,
    subst: Rc<Subst>,
    scope: Rc<Scope>,
}

/// The context of the concrete side of a unification.
struct TgtCx<'a> {
    scope: Rc<Scope>,
    subst: Rc<Subst>,
    wild: &'a HashSet<String>,
}

struct Resolver<'a> {
    keys: &'a [TypeKey],
    externs: &'a BTreeSet<String>,
    impls: &'a [RawImpl],
    aliases: Vec<Alias>,
    rev_alias: HashMap<String, String>,
    warnings: Vec<String>,
}

const MAX_DEPTH: usize = 8;

fn is_std(seg: &str) -> bool {
    matches!(seg, "std" | "core" | "alloc")
}

/// Builds the API of every key from what was collected; `externs` are the crate's
/// dependencies (paths into them are not the crate's own types). Returns warnings too.
pub(crate) fn build(
    col: &Collected,
    keys: &[TypeKey],
    externs: &BTreeSet<String>,
) -> (ApiMap, Vec<String>) {
    let mut r = Resolver {
        keys,
        externs,
        impls: &col.impls,
        aliases: Vec::new(),
        rev_alias: HashMap::new(),
        warnings: Vec::new(),
    };
    let mut api: ApiMap = keys.iter().map(|k| (*k, Api::default())).collect();
    let mut from_tokio: Vec<(String, Option<Fam>)> = Vec::new();

    for a in &col.aliases {
        let Type::Path(tp) = &a.target else { continue };
        if tp.qself.is_some() {
            continue;
        }
        let segs = a.scope.resolve(&tp.path);
        let family = Fam::innermost(segs.iter().map(String::as_str)).or(a.scope.fam);
        if segs.first().is_some_and(|s| s == "tokio") {
            from_tokio.push((a.name.clone(), family));
            continue;
        }
        if segs.len() > 1 && (is_std(&segs[0]) || externs.contains(&segs[0])) {
            continue;
        }
        r.aliases.push(Alias {
            name: a.name.clone(),
            fam: a.scope.fam,
            target: segs.last().cloned().unwrap_or_default(),
            args: type_args(tp.path.segments.last().map(|s| &s.arguments)),
            params: a.params.iter().cloned().collect(),
            scope: a.scope.clone(),
        });
    }
    for re in &col.reexports {
        if re.path.first().is_some_and(|s| s == "tokio") {
            let fam = Fam::innermost(re.path.iter().map(String::as_str)).or(re.scope.fam);
            from_tokio.push((re.name.clone(), fam));
        } else if re.path.last().is_some_and(|last| *last != re.name) {
            r.aliases.push(Alias {
                name: re.name.clone(),
                fam: re.scope.fam,
                target: re.path.last().cloned().unwrap_or_default(),
                args: Vec::new(),
                params: HashSet::new(),
                scope: re.scope.clone(),
            });
        }
    }
    // Concrete alias targets read as the alias: `Read<&TcpStream>` → `ReadHalf`.
    let mut rev = HashMap::new();
    for a in r.aliases.iter().filter(|a| a.params.is_empty()) {
        let cx = NormCx {
            self_name: "Self",
            subst: Rc::default(),
            scope: a.scope.clone(),
        };
        let args: Vec<String> = a.args.iter().map(|t| r.norm(t, &cx, 0)).collect();
        let text = if args.is_empty() {
            a.target.clone()
        } else {
            format!("{}<{}>", a.target, args.join(", "))
        };
        rev.entry(text).or_insert_with(|| a.name.clone());
    }
    r.rev_alias = rev;

    for (name, fam) in from_tokio {
        if let Some(key) = r.key_for(&name, fam) {
            let entry = api.entry(key).or_default();
            entry.defined = true;
            entry.from_tokio = true;
        }
    }
    for a in &r.aliases {
        if let Some(key) = r.key_for(&a.name, a.fam) {
            api.entry(key).or_default().defined = true;
        }
    }
    for t in &col.types {
        let params: HashSet<String> = t.params.iter().cloned().collect();
        let args: Vec<Type> = t
            .params
            .iter()
            .filter_map(|p| syn::parse_str(p).ok())
            .collect();
        let segs = std::slice::from_ref(&t.name);
        for (key, _) in r.self_targets(segs, &args, &params, &t.scope) {
            let entry = api.entry(key).or_default();
            entry.defined = true;
            entry.traits.extend(t.derives.iter().cloned());
        }
    }

    for imp in &col.impls {
        let item = &imp.item;
        let scope = &imp.scope;
        let Type::Path(self_ty) = &*item.self_ty else {
            continue;
        };
        if self_ty.qself.is_some() {
            continue;
        }
        let params = impl_params(&item.generics);
        let segs = scope.resolve(&self_ty.path);
        let args = type_args(self_ty.path.segments.last().map(|s| &s.arguments));
        match &item.trait_ {
            Some((Some(_), _, _)) => {}
            Some((None, trait_path, _)) if segs.len() > 1 && is_std(&segs[0]) => {
                // `impl From<SocketAddr> for std::os::unix::net::SocketAddr`: a conversion
                // into std, recorded on the checked type among the trait's arguments.
                let last = segs.last().cloned().unwrap_or_default();
                let trait_args = type_args(trait_path.segments.last().map(|s| &s.arguments));
                for arg in trait_args {
                    let Type::Path(tp) = strip_refs(&arg) else {
                        continue;
                    };
                    let arg_segs = scope.resolve(&tp.path);
                    let arg_args = type_args(tp.path.segments.last().map(|s| &s.arguments));
                    for (key, subst) in r.self_targets(&arg_segs, &arg_args, &params, scope) {
                        let cx = NormCx {
                            self_name: key.name,
                            subst: Rc::new(subst),
                            scope: scope.clone(),
                        };
                        let text = format!("{} for std::…::{last}", r.trait_key(trait_path, &cx));
                        api.entry(key).or_default().traits.insert(text);
                    }
                }
            }
            Some((None, trait_path, _)) => {
                for (key, subst) in r.self_targets(&segs, &args, &params, scope) {
                    let cx = NormCx {
                        self_name: key.name,
                        subst: Rc::new(subst),
                        scope: scope.clone(),
                    };
                    let text = r.trait_key(trait_path, &cx);
                    api.entry(key).or_default().traits.insert(text);
                }
            }
            None => {
                let targets = r.self_targets(&segs, &args, &params, scope);
                for f in item.items.iter().filter_map(|i| match i {
                    ImplItem::Fn(f) if matches!(f.vis, syn::Visibility::Public(_)) => Some(f),
                    _ => None,
                }) {
                    let shape = r.shape(&f.sig, scope);
                    for (key, _) in &targets {
                        let methods = &mut api.entry(*key).or_default().methods;
                        let shapes = methods.entry(f.sig.ident.to_string()).or_default();
                        if !shapes.contains(&shape) {
                            shapes.push(shape.clone());
                        }
                    }
                }
            }
        }
    }
    (api, r.warnings)
}

fn impl_params(generics: &syn::Generics) -> HashSet<String> {
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

fn strip_group(ty: &Type) -> &Type {
    match ty {
        Type::Paren(p) => strip_group(&p.elem),
        Type::Group(g) => strip_group(&g.elem),
        other => other,
    }
}

fn strip_refs(ty: &Type) -> &Type {
    match strip_group(ty) {
        Type::Reference(r) => strip_refs(&r.elem),
        other => other,
    }
}

/// `T` when the type is the bare path `T`.
fn bare_ident(ty: &Type) -> Option<String> {
    match strip_group(ty) {
        Type::Path(tp) if tp.qself.is_none() => tp.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

/// The type arguments of a path segment (lifetimes dropped).
fn type_args(args: Option<&PathArguments>) -> Vec<Type> {
    match args {
        Some(PathArguments::AngleBracketed(a)) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl Resolver<'_> {
    /// The checked type called `name` in family `fam` (or the only one of that name).
    fn key_for(&self, name: &str, fam: Option<Fam>) -> Option<TypeKey> {
        let mut cands = self.keys.iter().filter(|k| k.name == name);
        match fam {
            Some(fam) => cands.find(|k| k.fam == fam).copied(),
            // Only `TcpStream`-like names say their family themselves.
            None => cands.find(|k| k.is_prefixed()).copied(),
        }
    }

    /// The checked types an impl for `segs<args>` counts for, with the bindings of the
    /// impl's parameters that the matching alias implies.
    fn self_targets(
        &mut self,
        segs: &[String],
        args: &[Type],
        params: &HashSet<String>,
        scope: &Rc<Scope>,
    ) -> Vec<(TypeKey, Subst)> {
        let Some(name) = segs.last() else {
            return Vec::new();
        };
        if segs.len() > 1 && (is_std(&segs[0]) || self.externs.contains(&segs[0])) {
            return Vec::new();
        }
        let path_fam = Fam::innermost(segs[..segs.len() - 1].iter().map(String::as_str));
        let fam = path_fam.or(scope.fam);
        let mut out: Vec<(TypeKey, Subst)> = Vec::new();
        let implementation_type = self
            .aliases
            .iter()
            .any(|a| a.target == *name && !a.args.is_empty());
        if !implementation_type {
            let ambiguous = fam.is_none()
                && self
                    .keys
                    .iter()
                    .any(|k| k.name == *name && !k.is_prefixed());
            if ambiguous {
                self.warnings.push(format!(
                    "{}: `{name}` is outside tcp/ and unix/, cannot tell tcp's from unix's; ignored",
                    scope.file
                ));
            } else if let Some(key) = self.key_for(name, fam) {
                out.push((key, Subst::new()));
            }
        }
        let mut pending: Vec<(String, Option<Fam>, Subst, usize)> = Vec::new();
        for alias in self.aliases.iter().filter(|a| a.target == *name) {
            let mut subst = Subst::new();
            let tcx = TgtCx {
                scope: alias.scope.clone(),
                subst: Rc::default(),
                wild: &alias.params,
            };
            let fits = alias.args.is_empty()
                || (args.len() == alias.args.len()
                    && args
                        .iter()
                        .zip(&alias.args)
                        .all(|(p, t)| self.unify(p, scope, params, &mut subst, t, &tcx, 0)));
            if fits {
                pending.push((alias.name.clone(), alias.fam.or(fam), subst, 0));
            }
        }
        // Follow aliases of aliases (`pub use ReadHalf as X;`, `type X = ReadHalf;`).
        while let Some((alias_name, alias_fam, subst, depth)) = pending.pop() {
            if let Some(key) = self.key_for(&alias_name, alias_fam) {
                if !out.iter().any(|(k, _)| *k == key) {
                    out.push((key, subst.clone()));
                }
            }
            if depth < 4 {
                for b in self
                    .aliases
                    .iter()
                    .filter(|b| b.target == alias_name && b.args.is_empty())
                {
                    pending.push((
                        b.name.clone(),
                        b.fam.or(alias_fam),
                        subst.clone(),
                        depth + 1,
                    ));
                }
            }
        }
        out
    }

    /// Matches `pat` (where `params` may stand for anything, and get bound in `subst`)
    /// against the concrete `tgt`.
    #[allow(clippy::too_many_arguments)]
    fn unify(
        &self,
        pat: &Type,
        pscope: &Rc<Scope>,
        params: &HashSet<String>,
        subst: &mut Subst,
        tgt: &Type,
        tcx: &TgtCx<'_>,
        depth: usize,
    ) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let (pat, tgt) = (strip_group(pat), strip_group(tgt));
        if let Some(id) = bare_ident(tgt) {
            if tcx.wild.contains(&id) {
                return true;
            }
            if let Some(b) = tcx.subst.get(&id) {
                let none = HashSet::new();
                let inner = TgtCx {
                    scope: b.scope.clone(),
                    subst: b.subst.clone(),
                    wild: &none,
                };
                return self.unify(pat, pscope, params, subst, &b.ty, &inner, depth + 1);
            }
        }
        if let Some(p) = bare_ident(pat).filter(|p| params.contains(p)) {
            let bound = Bound {
                ty: tgt.clone(),
                scope: tcx.scope.clone(),
                subst: tcx.subst.clone(),
            };
            if let Some(prev) = subst.get(&p) {
                return self.norm_bound(prev, "Self", depth)
                    == self.norm_bound(&bound, "Self", depth);
            }
            subst.insert(p, bound);
            return true;
        }
        let sub = |a: &Type, b: &Type, subst: &mut Subst| {
            self.unify(a, pscope, params, subst, b, tcx, depth + 1)
        };
        match (pat, tgt) {
            (Type::Path(a), Type::Path(b)) if a.qself.is_none() && b.qself.is_none() => {
                if pscope.resolve(&a.path).last() != tcx.scope.resolve(&b.path).last() {
                    return false;
                }
                let aa = type_args(a.path.segments.last().map(|s| &s.arguments));
                let ba = type_args(b.path.segments.last().map(|s| &s.arguments));
                aa.len() == ba.len() && aa.iter().zip(&ba).all(|(x, y)| sub(x, y, subst))
            }
            (Type::Reference(a), Type::Reference(b)) => {
                a.mutability.is_some() == b.mutability.is_some() && sub(&a.elem, &b.elem, subst)
            }
            (Type::Slice(a), Type::Slice(b)) => sub(&a.elem, &b.elem, subst),
            (Type::Array(a), Type::Array(b)) => sub(&a.elem, &b.elem, subst),
            (Type::Tuple(a), Type::Tuple(b)) => {
                a.elems.len() == b.elems.len()
                    && a.elems.iter().zip(&b.elems).all(|(x, y)| sub(x, y, subst))
            }
            _ => {
                let pcx = NormCx {
                    self_name: "Self",
                    subst: Rc::new(subst.clone()),
                    scope: pscope.clone(),
                };
                let tcx = NormCx {
                    self_name: "Self",
                    subst: tcx.subst.clone(),
                    scope: tcx.scope.clone(),
                };
                self.norm(pat, &pcx, depth + 1) == self.norm(tgt, &tcx, depth + 1)
            }
        }
    }

    /// `B::assoc` for a bound type `B`: `Target` of `&T`, `Arc<T>`, `Rc<T>`, `Box<T>` is
    /// `T`; otherwise the `type assoc = ..;` of an impl (of `trait_name`, if given) whose
    /// self type matches `B`.
    fn project(
        &self,
        b: &Bound,
        trait_name: Option<&str>,
        assoc: &str,
        depth: usize,
    ) -> Option<Bound> {
        if depth > MAX_DEPTH {
            return None;
        }
        let ty = strip_group(&b.ty);
        if let Some(inner) = bare_ident(ty).and_then(|id| b.subst.get(&id)) {
            return self.project(inner, trait_name, assoc, depth + 1);
        }
        let with = |ty: &Type| Bound {
            ty: ty.clone(),
            scope: b.scope.clone(),
            subst: b.subst.clone(),
        };
        if assoc == "Target" {
            match ty {
                Type::Reference(r) => return Some(with(&r.elem)),
                Type::Path(p) if p.qself.is_none() => {
                    let last = p.path.segments.last()?;
                    if matches!(last.ident.to_string().as_str(), "Arc" | "Rc" | "Box") {
                        if let Some(arg) = type_args(Some(&last.arguments)).first() {
                            return Some(with(arg));
                        }
                    }
                }
                _ => {}
            }
        }
        for imp in self.impls {
            if let Some(want) = trait_name {
                let is_trait = imp
                    .item
                    .trait_
                    .as_ref()
                    .and_then(|(_, p, _)| p.segments.last());
                if is_trait.is_none_or(|s| s.ident != want) {
                    continue;
                }
            }
            let Some(assoc_ty) = imp.item.items.iter().find_map(|i| match i {
                ImplItem::Type(t) if t.ident == assoc => Some(&t.ty),
                _ => None,
            }) else {
                continue;
            };
            let params = impl_params(&imp.item.generics);
            let mut subst = Subst::new();
            let none = HashSet::new();
            let tcx = TgtCx {
                scope: b.scope.clone(),
                subst: b.subst.clone(),
                wild: &none,
            };
            if self.unify(
                &imp.item.self_ty,
                &imp.scope,
                &params,
                &mut subst,
                ty,
                &tcx,
                depth + 1,
            ) {
                return Some(Bound {
                    ty: assoc_ty.clone(),
                    scope: imp.scope.clone(),
                    subst: Rc::new(subst),
                });
            }
        }
        None
    }

    fn trait_key(&self, path: &syn::Path, cx: &NormCx<'_>) -> String {
        let Some(last) = path.segments.last() else {
            return String::new();
        };
        let name = cx
            .scope
            .resolve(path)
            .pop()
            .unwrap_or_else(|| last.ident.to_string());
        let args = self.norm_args(&last.arguments, cx, 0);
        if args.is_empty() {
            name
        } else {
            format!("{name}<{}>", args.join(", "))
        }
    }

    fn norm_args(&self, args: &PathArguments, cx: &NormCx<'_>, depth: usize) -> Vec<String> {
        match args {
            PathArguments::AngleBracketed(a) => a
                .args
                .iter()
                .filter_map(|g| match g {
                    GenericArgument::Type(t) => Some(self.norm(t, cx, depth + 1)),
                    GenericArgument::AssocType(a) => {
                        Some(format!("{} = {}", a.ident, self.norm(&a.ty, cx, depth + 1)))
                    }
                    GenericArgument::Const(e) => Some(e.to_token_stream().to_string()),
                    _ => None,
                })
                .collect(),
            PathArguments::Parenthesized(p) => {
                let inputs: Vec<String> = p
                    .inputs
                    .iter()
                    .map(|t| self.norm(t, cx, depth + 1))
                    .collect();
                vec![format!("({})", inputs.join(", "))]
            }
            PathArguments::None => Vec::new(),
        }
    }

    fn norm_bound(&self, b: &Bound, self_name: &str, depth: usize) -> String {
        let cx = NormCx {
            self_name,
            subst: b.subst.clone(),
            scope: b.scope.clone(),
        };
        self.norm(&b.ty, &cx, depth + 1)
    }

    /// The normalized text of a type (see the module docs).
    fn norm(&self, ty: &Type, cx: &NormCx<'_>, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return ty.to_token_stream().to_string().replace(' ', "");
        }
        match ty {
            Type::Path(tp) => {
                let path = &tp.path;
                let Some(last) = path.segments.last() else {
                    return String::new();
                };
                let assoc = last.ident.to_string();
                if let Some(q) = &tp.qself {
                    // `<P as Trait>::Assoc`
                    let trait_name = path
                        .segments
                        .iter()
                        .nth_back(1)
                        .map(|s| s.ident.to_string());
                    let base = Bound {
                        ty: (*q.ty).clone(),
                        scope: cx.scope.clone(),
                        subst: cx.subst.clone(),
                    };
                    return match self.project(&base, trait_name.as_deref(), &assoc, depth + 1) {
                        Some(p) => self.norm_bound(&p, cx.self_name, depth),
                        None => format!("{}::{assoc}", self.norm(&q.ty, cx, depth + 1)),
                    };
                }
                let first = path.segments[0].ident.to_string();
                if path.segments.len() == 1 {
                    if first == "Self" {
                        return cx.self_name.to_string();
                    }
                    if let Some(b) = cx.subst.get(&first) {
                        return self.norm_bound(b, cx.self_name, depth);
                    }
                }
                if path.segments.len() == 2 && path.leading_colon.is_none() {
                    // `P::Target` for a bound parameter `P`.
                    if let Some(b) = cx.subst.get(&first) {
                        return match self.project(b, None, &assoc, depth + 1) {
                            Some(p) => self.norm_bound(&p, cx.self_name, depth),
                            None => format!("{}::{assoc}", self.norm_bound(b, cx.self_name, depth)),
                        };
                    }
                }
                let segs = cx.scope.resolve(path);
                let name = segs.last().cloned().unwrap_or(assoc);
                let args = self.norm_args(&last.arguments, cx, depth);
                let text = if args.is_empty() {
                    name
                } else {
                    format!("{name}<{}>", args.join(", "))
                };
                if let Some(alias) = self.rev_alias.get(&text) {
                    return alias.clone();
                }
                if segs.len() > 1 && segs[0] == "tokio" {
                    return format!("tokio::{text}");
                }
                text
            }
            Type::Reference(r) => {
                let m = if r.mutability.is_some() { "mut " } else { "" };
                format!("&{m}{}", self.norm(&r.elem, cx, depth + 1))
            }
            Type::Slice(s) => format!("[{}]", self.norm(&s.elem, cx, depth + 1)),
            Type::Array(a) => format!(
                "[{}; {}]",
                self.norm(&a.elem, cx, depth + 1),
                a.len.to_token_stream()
            ),
            Type::Tuple(t) => {
                let elems: Vec<String> = t
                    .elems
                    .iter()
                    .map(|e| self.norm(e, cx, depth + 1))
                    .collect();
                format!("({})", elems.join(", "))
            }
            Type::Paren(p) => self.norm(&p.elem, cx, depth + 1),
            Type::Group(g) => self.norm(&g.elem, cx, depth + 1),
            Type::Ptr(p) => {
                let m = if p.mutability.is_some() {
                    "mut"
                } else {
                    "const"
                };
                format!("*{m} {}", self.norm(&p.elem, cx, depth + 1))
            }
            Type::TraitObject(t) => format!("dyn {}", self.norm_bounds(t.bounds.iter(), cx)),
            Type::ImplTrait(t) => format!("impl {}", self.norm_bounds(t.bounds.iter(), cx)),
            other => other.to_token_stream().to_string().replace(' ', ""),
        }
    }

    fn norm_bounds<'b>(
        &self,
        bounds: impl Iterator<Item = &'b syn::TypeParamBound>,
        cx: &NormCx<'_>,
    ) -> String {
        let parts: Vec<String> = bounds
            .filter_map(|b| match b {
                syn::TypeParamBound::Trait(t) => Some(self.trait_key(&t.path, cx)),
                _ => None,
            })
            .collect();
        parts.join(" + ")
    }

    fn shape(&self, sig: &syn::Signature, scope: &Rc<Scope>) -> Shape {
        let mut receiver = None;
        let mut params = 0;
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) if r.colon_token.is_some() => {
                    let cx = NormCx {
                        self_name: "Self",
                        subst: Rc::default(),
                        scope: scope.clone(),
                    };
                    receiver = Some(format!("self: {}", self.norm(&r.ty, &cx, 0)));
                }
                FnArg::Receiver(r) => {
                    receiver = Some(
                        match (&r.reference, &r.mutability) {
                            (Some(_), Some(_)) => "&mut self",
                            (Some(_), None) => "&self",
                            (None, _) => "self",
                        }
                        .to_string(),
                    );
                }
                FnArg::Typed(_) => params += 1,
            }
        }
        Shape {
            is_async: sig.asyncness.is_some() || returns_future(&sig.output),
            receiver,
            params,
        }
    }
}

/// `fn f(..) -> impl Future<Output = ..>` is called like an `async fn`.
fn returns_future(output: &ReturnType) -> bool {
    struct FindImplFuture(bool);
    impl<'ast> Visit<'ast> for FindImplFuture {
        fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
            self.0 |= t.bounds.iter().any(|b| match b {
                syn::TypeParamBound::Trait(t) => t
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "Future" || s.ident == "IntoFuture"),
                _ => false,
            });
        }
    }
    let ReturnType::Type(_, ty) = output else {
        return false;
    };
    let Type::ImplTrait(_) = &**ty else {
        return false;
    };
    let mut finder = FindImplFuture(false);
    finder.visit_type(ty);
    finder.0
}
