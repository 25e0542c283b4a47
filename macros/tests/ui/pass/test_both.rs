// `#[test]` functions are compiled out of a non-test build: this checks that the attribute
// accepts these forms; `macros/tests/attr.rs` runs them for real.

#[corio::test(backend = "both")]
async fn unit() {}

#[corio::test(backend = "both", workers = 2)]
#[ignore = "slow"]
async fn with_result() -> Result<(), String> {
    Ok(())
}

#[corio::test]
#[should_panic(expected = "boom")]
async fn panics() {
    panic!("boom");
}

fn main() {}
