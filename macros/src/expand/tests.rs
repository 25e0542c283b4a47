//! Unit tests of the expansion: arguments to `Config` and errors, and the shape of the
//! generated code, asserted on its token string.

use super::*;

fn expand_main(args: TokenStream, item: TokenStream) -> String {
    main(args, item).to_string()
}

fn expand_test(args: TokenStream, item: TokenStream) -> String {
    test(args, item).to_string()
}

fn main_error(args: TokenStream) -> String {
    let out = expand_main(
        args,
        quote!(
            async fn main() {}
        ),
    );
    assert!(out.contains("compile_error"), "{out}");
    // The function is still emitted, with the default config.
    assert!(out.contains("fn main ()"), "{out}");
    out
}

#[test]
fn main_with_args_builds_the_runtime() {
    let out = expand_main(
        quote!(workers = 2, backend = "epoll"),
        quote!(
            async fn main() {}
        ),
    );
    assert!(out.contains("fn main ()"), "{out}");
    assert!(out.contains("async fn __corio_main ()"), "{out}");
    assert!(
        out.contains(
            ":: corio :: __private :: named_backend (:: corio :: Builder :: new () . workers (2usize) , :: corio :: Backend :: Epoll) . build ()"
        ),
        "{out}"
    );
    assert!(
        out.contains("runtime . block_on_local (__corio_main)"),
        "{out}"
    );
    assert!(!out.contains("sharded"), "{out}");
}

#[test]
fn main_without_args_sets_no_knobs() {
    let out = expand_main(
        quote!(),
        quote!(
            async fn main() {}
        ),
    );
    assert!(
        out.contains(":: corio :: Builder :: new () . build ()"),
        "{out}"
    );
}

#[test]
fn main_returning_a_value_reports_it() {
    let out = expand_main(
        quote!(),
        quote!(
            async fn main() -> Result<(), Box<dyn Error>> {
                Ok(())
            }
        ),
    );
    assert!(
        out.contains("fn main () -> :: std :: process :: ExitCode"),
        "{out}"
    );
    assert!(
        out.contains("Termination :: report (__corio_main () . await)"),
        "{out}"
    );
}

#[test]
fn sharded_main() {
    let out = expand_main(
        quote!(sharded),
        quote!(
            async fn main() {}
        ),
    );
    assert!(out.contains(". sharded (true)"), "{out}");
    assert!(out.contains("block_on_sharded"), "{out}");
    assert!(out.contains("Infallible"), "{out}");

    let out = expand_main(
        quote!(sharded),
        quote!(
            async fn main() -> io::Result<()> {
                Ok(())
            }
        ),
    );
    assert!(out.contains("fn main () -> io :: Result < () >"), "{out}");
    assert!(
        out.contains("runtime . block_on_sharded (__corio_main)"),
        "{out}"
    );
}

#[test]
fn argument_errors_name_the_problem() {
    let cases = [
        (quote!(workers = 0), "`workers` must be at least 1"),
        (
            quote!(workers = "4"),
            "`workers` must be an integer literal",
        ),
        (quote!(workers), "`workers` needs a value"),
        (
            quote!(backend = "io_uring"),
            "unknown backend \\\"io_uring\\\"",
        ),
        (
            quote!(backend = uring),
            "`backend` must be a string literal",
        ),
        (quote!(backend = "both"), "only valid on #[corio::test]"),
        (
            quote!(sharded = true),
            "`sharded` is a flag and takes no value",
        ),
        (quote!(threads = 4), "unknown argument `threads`"),
        (
            quote!(workers = 2, workers = 3),
            "duplicate argument `workers`",
        ),
    ];
    for (args, msg) in cases {
        let out = main_error(args);
        assert!(out.contains(msg), "expected {msg:?} in {out}");
    }
}

#[test]
fn all_argument_errors_are_reported() {
    let out = main_error(quote!(workers = 0, backend = "x"));
    assert!(out.contains("at least 1"), "{out}");
    assert!(out.contains("unknown backend"), "{out}");
}

#[test]
fn sharded_is_not_a_test_argument() {
    let out = expand_test(
        quote!(sharded),
        quote!(
            async fn t() {}
        ),
    );
    assert!(out.contains("unknown argument `sharded`"), "{out}");
}

#[test]
fn bad_signature_keeps_the_original_function() {
    let out = expand_main(
        quote!(),
        quote!(
            fn main() {}
        ),
    );
    assert!(out.contains("needs an `async fn`"), "{out}");
    assert!(out.starts_with("fn main () { }"), "{out}");

    let out = expand_test(
        quote!(),
        quote!(
            async fn t(x: u8) {}
        ),
    );
    assert!(out.contains("cannot take parameters"), "{out}");
}

#[test]
fn test_without_backend_takes_it_from_the_env_and_is_one_function() {
    let out = expand_test(
        quote!(),
        quote!(
            async fn simple() {}
        ),
    );
    assert!(
        out.contains(
            ":: corio :: __private :: env_test_runtime (:: core :: option :: Option :: None)"
        ),
        "{out}"
    );
    assert!(!out.contains("Backend ::"), "{out}");
    assert_eq!(out.matches("prelude :: v1 :: test").count(), 1, "{out}");
    assert!(out.contains("fn simple ()"), "{out}");
}

#[test]
fn test_with_a_named_backend_keeps_it() {
    let out = expand_test(
        quote!(backend = "auto"),
        quote!(
            async fn simple() {}
        ),
    );
    assert!(
        out.contains(
            ":: corio :: __private :: test_runtime (:: corio :: Backend :: Auto , :: core :: option :: Option :: None)"
        ),
        "{out}"
    );
    assert!(!out.contains("env_test_runtime"), "{out}");
}

#[test]
fn both_expands_to_one_test_per_backend() {
    let out = expand_test(
        quote!(backend = "both", workers = 2),
        quote!(
            #[ignore]
            async fn echo() {}
        ),
    );
    assert_eq!(out.matches("prelude :: v1 :: test").count(), 2, "{out}");
    assert_eq!(out.matches("# [ignore]").count(), 2, "{out}");
    assert!(out.contains("fn uring_echo ()"), "{out}");
    assert!(out.contains("fn epoll_echo ()"), "{out}");
    assert!(
        out.contains("Backend :: Uring , :: core :: option :: Option :: Some (2usize)"),
        "{out}"
    );
    assert!(
        out.contains("Backend :: Epoll , :: core :: option :: Option :: Some (2usize)"),
        "{out}"
    );
    assert!(!out.contains("fn echo ()"), "{out}");
}

#[test]
fn test_returning_result_skips_with_success() {
    let out = expand_test(
        quote!(backend = "uring"),
        quote!(
            async fn t() -> Result<(), String> {
                Ok(())
            }
        ),
    );
    assert!(
        out.contains("fn t () -> :: std :: process :: ExitCode"),
        "{out}"
    );
    assert!(
        out.contains("return :: std :: process :: ExitCode :: SUCCESS"),
        "{out}"
    );
}

#[test]
fn should_panic_test_skips_by_panicking_as_expected() {
    let out = expand_test(
        quote!(backend = "both"),
        quote!(
            #[should_panic(expected = "boom")]
            async fn t() {
                panic!("boom")
            }
        ),
    );
    assert!(
        out.contains("test skipped, io_uring is unavailable {}\" , \"boom\""),
        "{out}"
    );
}
