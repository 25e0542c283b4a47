//! The smallest corio service: a TCP greeter that says which worker and backend
//! answered, then echoes what it receives.
//!
//! Run:   cargo run --example hello            (CORIO_BACKEND=epoll to compare)
//! Try:   nc 127.0.0.1 7878                    (or set PORT)
//! Shows: "hello from worker 0 on uring (io_uring available; ...)" and an echo of each line.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[corio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "7878".to_owned());
    let listener = corio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "listening on {} with {} workers, backend {}",
        listener.local_addr()?,
        corio::workers(),
        corio::backend()
    );
    loop {
        let (mut stream, peer) = listener.accept().await?;
        // corio::spawn spreads connections over the workers; tokio::spawn would keep
        // them on this one.
        corio::spawn(async move {
            let greeting = format!(
                "hello from worker {} on {}\n",
                corio::worker_id(),
                corio::backend()
            );
            if stream.write_all(greeting.as_bytes()).await.is_err() {
                return;
            }
            let mut buf = vec![0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            println!("{peer} disconnected");
        });
    }
}
