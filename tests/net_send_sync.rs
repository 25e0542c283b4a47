//! Compile-time checks that `corio::net` types (and the futures of their async methods)
//! are `Send`, `Sync` and `Unpin` like tokio's, so code that moves them into
//! `tokio::spawn` compiles unchanged; plus that code, run on both backends.

use corio::net::{tcp, unix, TcpListener, TcpSocket, TcpStream, UdpSocket};
use corio::net::{UnixDatagram, UnixListener, UnixStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};

fn send_sync_unpin<T: Send + Sync + Unpin>() {}
fn send<T: Send>(_: &T) {}

/// Never called: it compiles only if the assertions hold.
#[allow(dead_code)]
const _: () = {
    fn types() {
        send_sync_unpin::<TcpStream>();
        send_sync_unpin::<TcpListener>();
        send_sync_unpin::<TcpSocket>();
        send_sync_unpin::<UdpSocket>();
        send_sync_unpin::<UnixStream>();
        send_sync_unpin::<UnixListener>();
        send_sync_unpin::<UnixDatagram>();
        send_sync_unpin::<tcp::OwnedReadHalf>();
        send_sync_unpin::<tcp::OwnedWriteHalf>();
        send_sync_unpin::<tcp::ReadHalf<'static>>();
        send_sync_unpin::<tcp::WriteHalf<'static>>();
        send_sync_unpin::<tcp::ReuniteError>();
        send_sync_unpin::<unix::OwnedReadHalf>();
        send_sync_unpin::<unix::OwnedWriteHalf>();
        send_sync_unpin::<unix::SocketAddr>();
    }

    fn futures(stream: &mut TcpStream, listener: &TcpListener, udp: &UdpSocket) {
        send(&TcpStream::connect("127.0.0.1:1"));
        send(&TcpListener::bind("127.0.0.1:0"));
        send(&listener.accept());
        send(&stream.readable());
        send(&stream.ready(Interest::READABLE));
        send(&stream.read_owned(Vec::new()));
        send(&stream.write_all_owned(Vec::new()));
        send(&stream.read(&mut []));
        send(&stream.write_all(&[]));
        send(&udp.recv_from(&mut []));
        send(&udp.send_to(&[], "127.0.0.1:1"));
        send(&UnixStream::connect("/nonexistent"));
        send(&TcpSocket::new_v4().map(|s| s.connect("127.0.0.1:1".parse().unwrap())));
    }
};

#[corio::test(backend = "both")]
async fn streams_move_into_tokio_spawn() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"moved").await.unwrap();
    });
    let client = TcpStream::connect(addr).await.unwrap();
    let got = tokio::spawn(async move {
        let mut client = client;
        let mut buf = Vec::new();
        client.read_to_end(&mut buf).await.unwrap();
        buf
    });
    server.await.unwrap();
    assert_eq!(got.await.unwrap(), b"moved");
}
