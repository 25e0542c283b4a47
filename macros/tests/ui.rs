//! Compile-time behaviour of `#[corio::main]` and `#[corio::test]`: valid uses build (and
//! the `main`s run), invalid ones fail with the messages checked into `ui/fail/*.stderr`.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p corio-macros --test ui`
//! and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
