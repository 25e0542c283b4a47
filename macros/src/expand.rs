//! Code generation for `#[corio::main]` and `#[corio::test]`.
//!
//! The user's `async fn` is kept intact as a nested item (`__corio_main` / `__corio_test`)
//! inside a generated sync function of the original name, which builds a runtime and hands
//! that nested fn to `Runtime::block_on_local` (or `block_on_sharded`). Keeping the `async fn`
//! as written, rather than pasting its body into an `async` block, preserves its return type
//! for inference (`?` conversions, `return` statements) and keeps user code away from the
//! generated locals.
//!
//! Generated code only names the facade by absolute paths (`::corio::...`).
//!
//! Without `backend = ".."`, the runtime takes its backend from `CORIO_BACKEND` (`auto`
//! when unset); a backend the attribute names is kept whatever `CORIO_BACKEND` says
//! (`::corio::__private::named_backend`, and for tests `test_runtime` versus
//! `env_test_runtime`).
//!
//! A non-unit return value (e.g. `Result<(), Box<dyn Error>>`) need not be `Send`: it is turned
//! into a `std::process::ExitCode` by `Termination::report` on the worker that produced it
//! (printing `Error: ..` as std does), and that exit code is what the generated fn returns.
//! `sharded` mains returning `Result<(), E>` return the runtime's first error directly, so
//! there `E` must be `Send`.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::{AttrStyle, ItemFn, ReturnType, Type, Visibility};

use crate::config::{self, Backend, Config, Kind};

/// Expands `#[corio::main(args)]` on `item`.
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Main, args, item)
}

/// Expands `#[corio::test(args)]` on `item`.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry(Kind::Test, args, item)
}

/// Parses, checks, then generates; on error still emits a function so IDEs keep working.
fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(error) => return with_error(item, error),
    };
    let config = Config::parse(kind, args);
    if let Err(mut error) = config::check_signature(kind, &func.sig) {
        // The function cannot be wrapped: give it back unchanged, next to the errors.
        if let Err(args_error) = config {
            error.combine(args_error);
        }
        return with_error(item, error);
    }
    match config {
        Ok(config) => generate(kind, &config, &func),
        Err(error) => with_error(generate(kind, &Config::default(), &func), error),
    }
}

fn with_error(mut tokens: TokenStream, error: syn::Error) -> TokenStream {
    tokens.extend(error.into_compile_error());
    tokens
}

fn generate(kind: Kind, config: &Config, func: &ItemFn) -> TokenStream {
    match (kind, config.backend) {
        (Kind::Main, _) => main_fn(config, func),
        (Kind::Test, Some(Backend::Both)) => {
            let name = func.sig.ident.unraw();
            let uring = Ident::new(&format!("uring_{name}"), name.span());
            let epoll = Ident::new(&format!("epoll_{name}"), name.span());
            let uring = test_fn(func, &uring, Some(Backend::Uring), config.workers);
            let epoll = test_fn(func, &epoll, Some(Backend::Epoll), config.workers);
            quote! { #uring #epoll }
        }
        (Kind::Test, backend) => test_fn(func, &func.sig.ident, backend, config.workers),
    }
}

/// `fn main() { async fn __corio_main() {..} <build runtime>; <run> }`.
fn main_fn(config: &Config, func: &ItemFn) -> TokenStream {
    let attrs = outer_attrs(func);
    let vis = &func.vis;
    let name = &func.sig.ident;
    let body = nested_fn(func, "__corio_main");
    let runtime = build_runtime(config);
    let (ret, run) = match (config.sharded, returns_unit(func)) {
        (false, true) => (quote!(), quote!(runtime.block_on_local(__corio_main))),
        (false, false) => (exit_code(), report(quote!(__corio_main))),
        (true, true) => (
            quote!(),
            quote! {
                match runtime.block_on_sharded(|| async {
                    __corio_main().await;
                    ::core::result::Result::Ok::<(), ::core::convert::Infallible>(())
                }) {
                    ::core::result::Result::Ok(()) => {}
                    ::core::result::Result::Err(never) => match never {},
                }
            },
        ),
        (true, false) => {
            let ret = &func.sig.output;
            (quote!(#ret), quote!(runtime.block_on_sharded(__corio_main)))
        }
    };
    quote! {
        #(#attrs)*
        #vis fn #name() #ret {
            #body
            let runtime = #runtime;
            #run
        }
    }
}

/// `#[test] fn name() { async fn __corio_test() {..} <test runtime or skip>; <run> }`.
/// `backend` is the one named by the attribute; `None` leaves it to `CORIO_BACKEND`.
fn test_fn(
    func: &ItemFn,
    name: &Ident,
    backend: Option<Backend>,
    workers: Option<usize>,
) -> TokenStream {
    let attrs = outer_attrs(func);
    let vis = &func.vis;
    let body = nested_fn(func, "__corio_test");
    let workers = match workers {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    };
    let runtime = match backend {
        Some(backend) => {
            let backend = backend_path(backend);
            quote!(::corio::__private::test_runtime(#backend, #workers))
        }
        None => quote!(::corio::__private::env_test_runtime(#workers)),
    };
    let skip = skip(func);
    let (ret, run) = if returns_unit(func) {
        (quote!(), quote!(runtime.block_on_local(__corio_test)))
    } else {
        (exit_code(), report(quote!(__corio_test)))
    };
    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() #ret {
            #body
            let ::core::option::Option::Some(runtime) = #runtime else {
                // io_uring is unavailable; `test_runtime` already said why.
                #skip
            };
            #run
        }
    }
}

/// What a test does when its runtime is unavailable: pass. A `#[should_panic]` test passes
/// by panicking, with its expected message if it has one.
fn skip(func: &ItemFn) -> TokenStream {
    let Some(attr) = func
        .attrs
        .iter()
        .find(|a| a.path().is_ident("should_panic"))
    else {
        return if returns_unit(func) {
            quote!(return;)
        } else {
            quote!(return ::std::process::ExitCode::SUCCESS;)
        };
    };
    let expected = should_panic_expected(attr).unwrap_or_default();
    quote!(::std::panic!("corio: test skipped, io_uring is unavailable {}", #expected))
}

/// The `expected` string of `#[should_panic = ".."]` or `#[should_panic(expected = "..")]`.
fn should_panic_expected(attr: &syn::Attribute) -> Option<String> {
    let lit = match &attr.meta {
        syn::Meta::NameValue(nv) => nv.value.clone(),
        syn::Meta::List(list) => list.parse_args::<syn::MetaNameValue>().ok()?.value,
        syn::Meta::Path(_) => return None,
    };
    match lit {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// `::corio::Builder::new()` plus the knobs that were given, then `build()`. A named
/// backend is pinned, so that `CORIO_BACKEND` does not override it.
fn build_runtime(config: &Config) -> TokenStream {
    let mut builder = quote!(::corio::Builder::new());
    if let Some(n) = config.workers {
        builder = quote!(#builder.workers(#n));
    }
    if config.sharded {
        builder = quote!(#builder.sharded(true));
    }
    if let Some(backend) = config.backend {
        let backend = backend_path(backend);
        builder = quote!(::corio::__private::named_backend(#builder, #backend));
    }
    quote! {
        match #builder.build() {
            ::core::result::Result::Ok(runtime) => runtime,
            ::core::result::Result::Err(err) => {
                ::std::panic!("corio: failed to start the runtime: {}", err)
            }
        }
    }
}

/// Runs `body` on worker 0 and reports its output there as a `Send` exit code.
fn report(body: TokenStream) -> TokenStream {
    quote! {
        runtime.block_on_local(|| async {
            ::std::process::Termination::report(#body().await)
        })
    }
}

fn exit_code() -> TokenStream {
    quote!(-> ::std::process::ExitCode)
}

fn backend_path(backend: Backend) -> TokenStream {
    match backend {
        Backend::Auto => quote!(::corio::Backend::Auto),
        Backend::Uring => quote!(::corio::Backend::Uring),
        Backend::Epoll => quote!(::corio::Backend::Epoll),
        Backend::Both => unreachable!("`both` is split into one test per backend"),
    }
}

/// The user's fn, private and renamed, with its inner attributes (`#![..]`) kept in its body.
fn nested_fn(func: &ItemFn, name: &str) -> ItemFn {
    let mut nested = func.clone();
    nested
        .attrs
        .retain(|attr| matches!(attr.style, AttrStyle::Inner(_)));
    // The user wrote `async fn` because the attribute requires it, even without an `.await`.
    nested
        .attrs
        .push(syn::parse_quote!(#[allow(clippy::unused_async)]));
    nested.vis = Visibility::Inherited;
    nested.sig.ident = Ident::new(name, func.sig.ident.span());
    nested
}

/// Attributes written outside the fn (`#[ignore]`, docs, lints); they go on each generated fn.
fn outer_attrs(func: &ItemFn) -> impl Iterator<Item = &syn::Attribute> {
    func.attrs
        .iter()
        .filter(|attr| matches!(attr.style, AttrStyle::Outer))
}

fn returns_unit(func: &ItemFn) -> bool {
    match &func.sig.output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()),
    }
}

#[cfg(test)]
mod tests;
