use std::error::Error;

// A non-`Send` error type works: the error is reported on the worker.
#[corio::main(workers = 2, backend = "epoll")]
async fn main() -> Result<(), Box<dyn Error>> {
    let n: u32 = "7".parse()?;
    assert_eq!(n, 7);
    Ok(())
}
