#[corio::main(backend = "epoll", workers = 2, sharded)]
async fn main() -> std::io::Result<()> {
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().map_err(std::io::Error::other)?;
    assert!(addr.ip().is_loopback());
    Ok(())
}
