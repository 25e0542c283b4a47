#[corio::test(sharded)]
async fn sharded_test() {}

#[corio::test(backend = "kqueue")]
async fn bad_backend() {}

#[corio::test]
fn not_async() {}

fn main() {}
