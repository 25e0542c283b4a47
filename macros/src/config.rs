//! Attribute arguments: `#[corio::main(..)]` and `#[corio::test(..)]` arguments become a
//! [`Config`], and the annotated function's signature is checked.
//!
//! Every error is a [`syn::Error`] spanned on the offending token, so the compiler underlines
//! exactly what is wrong. Errors are collected rather than returned at the first one: the user
//! sees every bad argument in one build.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, Meta, Signature, Token};

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[corio::main]`.
    Main,
    /// `#[corio::test]`.
    Test,
}

impl Kind {
    /// The attribute as the user writes it, for error messages.
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[corio::main]",
            Kind::Test => "#[corio::test]",
        }
    }

    /// The arguments this attribute accepts, for error messages.
    fn expected_args(self) -> &'static str {
        match self {
            Kind::Main => "`workers`, `backend`, `sharded`",
            Kind::Test => "`workers`, `backend`",
        }
    }

    /// The backend strings this attribute accepts, for error messages.
    fn expected_backends(self) -> &'static str {
        match self {
            Kind::Main => r#""auto", "uring" or "epoll""#,
            Kind::Test => r#""auto", "uring", "epoll" or "both""#,
        }
    }
}

/// The backend an attribute asks for (`backend = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `"auto"`: io_uring if the kernel allows it, epoll otherwise.
    Auto,
    /// `"uring"`: io_uring or fail.
    Uring,
    /// `"epoll"`: tokio's epoll reactor.
    Epoll,
    /// `"both"` (tests only): one test per backend.
    Both,
}

/// The parsed arguments of one attribute. `None`/`false` means "not given".
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Config {
    /// `workers = N`, N > 0.
    pub(crate) workers: Option<usize>,
    /// `backend = "..."`.
    pub(crate) backend: Option<Backend>,
    /// `sharded` (main only).
    pub(crate) sharded: bool,
}

impl Config {
    /// Parses the comma-separated arguments of a `kind` attribute.
    pub(crate) fn parse(kind: Kind, args: TokenStream) -> syn::Result<Config> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
        let mut config = Config::default();
        let mut seen = Vec::new();
        let mut errors = Errors::default();
        for meta in &metas {
            errors.check(config.apply(kind, meta, &mut seen));
        }
        errors.finish().map(|()| config)
    }

    /// Applies one argument, rejecting unknown and repeated names.
    fn apply(&mut self, kind: Kind, meta: &Meta, seen: &mut Vec<String>) -> syn::Result<()> {
        let path = meta.path();
        let name = path.to_token_stream().to_string();
        let known = matches!(
            (name.as_str(), kind),
            ("workers" | "backend", _) | ("sharded", Kind::Main)
        );
        if !known {
            let msg = format!(
                "unknown argument `{name}`; {} takes {}",
                kind.attr(),
                kind.expected_args()
            );
            return Err(syn::Error::new_spanned(path, msg));
        }
        if seen.contains(&name) {
            let msg = format!("duplicate argument `{name}`");
            return Err(syn::Error::new_spanned(path, msg));
        }
        seen.push(name.clone());
        match name.as_str() {
            "workers" => self.workers = Some(parse_workers(meta)?),
            "backend" => self.backend = Some(parse_backend(kind, meta)?),
            _ => self.sharded = parse_flag(meta)?,
        }
        Ok(())
    }
}

/// Checks that `sig` can carry a `kind` attribute: an `async fn` without parameters.
pub(crate) fn check_signature(kind: Kind, sig: &Signature) -> syn::Result<()> {
    let mut errors = Errors::default();
    if sig.asyncness.is_none() {
        let msg = format!(
            "{} needs an `async fn`; add the `async` keyword",
            kind.attr()
        );
        errors.push(syn::Error::new_spanned(sig.fn_token, msg));
    }
    if !sig.inputs.is_empty() {
        let msg = format!("{} functions cannot take parameters", kind.attr());
        errors.push(syn::Error::new_spanned(&sig.inputs, msg));
    }
    errors.finish()
}

/// `workers = N` with N an integer literal greater than zero.
fn parse_workers(meta: &Meta) -> syn::Result<usize> {
    let value = value(meta, "workers = 4")?;
    let lit = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(lit), ..
        }) => lit,
        other => {
            let msg = "`workers` must be an integer literal, e.g. `workers = 4`";
            return Err(syn::Error::new_spanned(other, msg));
        }
    };
    match lit.base10_parse::<usize>()? {
        0 => Err(syn::Error::new_spanned(lit, "`workers` must be at least 1")),
        n => Ok(n),
    }
}

/// `backend = "auto" | "uring" | "epoll"`, plus `"both"` on tests.
fn parse_backend(kind: Kind, meta: &Meta) -> syn::Result<Backend> {
    let value = value(meta, r#"backend = "uring""#)?;
    let Expr::Lit(ExprLit {
        lit: Lit::Str(lit), ..
    }) = value
    else {
        let msg = format!(
            "`backend` must be a string literal: {}",
            kind.expected_backends()
        );
        return Err(syn::Error::new_spanned(value, msg));
    };
    match (lit.value().as_str(), kind) {
        ("auto", _) => Ok(Backend::Auto),
        ("uring", _) => Ok(Backend::Uring),
        ("epoll", _) => Ok(Backend::Epoll),
        ("both", Kind::Test) => Ok(Backend::Both),
        ("both", Kind::Main) => {
            let msg = r#"`backend = "both"` is only valid on #[corio::test]; #[corio::main] takes "auto", "uring" or "epoll""#;
            Err(syn::Error::new_spanned(lit, msg))
        }
        (other, _) => {
            let msg = format!(
                "unknown backend {other:?}; expected {}",
                kind.expected_backends()
            );
            Err(syn::Error::new_spanned(lit, msg))
        }
    }
}

/// A bare flag such as `sharded`: any value is an error.
fn parse_flag(meta: &Meta) -> syn::Result<bool> {
    let name = meta.path().to_token_stream().to_string();
    let msg = format!("`{name}` is a flag and takes no value; write `{name}`");
    match meta {
        Meta::Path(_) => Ok(true),
        Meta::NameValue(nv) => Err(syn::Error::new_spanned(&nv.value, msg)),
        Meta::List(list) => Err(syn::Error::new_spanned(&list.tokens, msg)),
    }
}

/// The value of `name = value`; `example` shows the expected form when it is missing.
fn value<'a>(meta: &'a Meta, example: &str) -> syn::Result<&'a Expr> {
    match meta {
        Meta::NameValue(nv) => Ok(&nv.value),
        _ => {
            let name = meta.path().to_token_stream();
            let msg = format!("`{name}` needs a value, e.g. `{example}`");
            Err(syn::Error::new_spanned(meta, msg))
        }
    }
}

/// Collects errors so all of them are reported together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(first) => first.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn check(&mut self, result: syn::Result<()>) {
        if let Err(error) = result {
            self.push(error);
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}
