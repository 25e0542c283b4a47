#[corio::main(backend = "both")]
async fn main() {}
