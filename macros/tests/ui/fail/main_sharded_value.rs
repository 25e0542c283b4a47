#[corio::main(sharded = true)]
async fn main() {}
