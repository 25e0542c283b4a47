//! Cancel safety of datagram sends and receives, on both backends, as tokio documents it
//! for `UdpSocket` and `UnixDatagram`: `send`/`send_to` raced and lost in `tokio::select!`
//! sent nothing; `recv_from` raced and lost received nothing. 2,000 send races per socket
//! kind, with the receiver falling behind and catching up (so Unix sends pend on a full
//! queue) and receives raced too: every datagram whose send completed is received exactly
//! once, whole, and nothing else arrives.

mod support;

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use corio::net::{UdpSocket, UnixDatagram};
use support::net::socket_path;

/// Races per test.
const RACES: u32 = 2000;
/// Upper bound for a whole test: a hang is a failure, not a stuck CI.
const LIMIT: Duration = Duration::from_secs(30);
/// Bytes per datagram: a 4-byte sequence number, then bytes derived from it.
const LEN: usize = 48;

/// Runs `body`, failing the test after [`LIMIT`].
async fn bounded<F: Future<Output = ()>>(body: F) {
    if tokio::time::timeout(LIMIT, body).await.is_err() {
        panic!("the test did not finish within {LIMIT:?}");
    }
}

/// Datagram `seq`.
fn message(seq: u32) -> [u8; LEN] {
    let mut msg = [0u8; LEN];
    msg[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, byte) in msg[4..].iter_mut().enumerate() {
        *byte = (seq as usize).wrapping_mul(31).wrapping_add(i * 7) as u8;
    }
    msg
}

/// The sequence number of a received datagram, after checking it arrived whole.
fn parse(datagram: &[u8]) -> u32 {
    assert_eq!(datagram.len(), LEN, "a datagram arrives whole");
    let seq = u32::from_be_bytes(datagram[..4].try_into().unwrap());
    assert_eq!(datagram, message(seq), "datagram {seq} arrives intact");
    seq
}

/// What the other branch of a race waits for: an already elapsed sleep, a yield, or a
/// 50 µs sleep, so that both branches win some races.
async fn timer(k: u32) {
    match k % 3 {
        0 => tokio::time::sleep(Duration::ZERO).await,
        1 => tokio::task::yield_now().await,
        _ => tokio::time::sleep(Duration::from_micros(50)).await,
    }
}

/// A sender and a receiver of datagrams.
trait Datagrams {
    /// Sends one datagram (`send` or `send_to`).
    async fn send(&self, msg: &[u8]) -> io::Result<usize>;
    /// Receives one datagram with `recv_from`, checking where it came from.
    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
}

/// Sends between two catch-ups: more than a Unix datagram socket queues by default for
/// a sender that is not its peer's peer (`net.unix.max_dgram_qlen` = 10), so sends
/// between two bound Unix sockets also pend and lose races. (UDP on loopback and a
/// `UnixDatagram::pair` do not pend here: their send buffers are larger.)
const CATCH_UP: u32 = 16;

/// Races every send, and every receive, against [`timer`], then drains; checks that the
/// datagrams received are exactly those whose send completed, each once.
///
/// After every [`CATCH_UP`] sends the receiver catches up, each `recv_from` raced too, and
/// then races one more `recv_from` with nothing queued: that one is polled, loses, and is
/// dropped, and must not take the next datagram with it.
async fn race(sockets: &impl Datagrams, sends_can_pend: bool) {
    let mut sent = BTreeSet::new();
    let mut received = Vec::new();
    let (mut sends_lost, mut recvs_lost) = (0u32, 0u32);
    let mut buf = [0u8; 2 * LEN];
    for seq in 0..RACES {
        let msg = message(seq);
        tokio::select! {
            result = sockets.send(&msg) => {
                assert_eq!(result.expect("send"), LEN, "datagram {seq} is sent whole");
                sent.insert(seq);
            }
            () = timer(seq) => sends_lost += 1,
        }
        if seq % CATCH_UP != CATCH_UP - 1 {
            continue;
        }
        let mut tries = 0;
        while received.len() < sent.len() && tries < 100 {
            tries += 1;
            tokio::select! {
                result = sockets.recv(&mut buf) => {
                    received.push(parse(&buf[..result.expect("recv_from")]));
                }
                () = timer(seq + tries) => recvs_lost += 1,
            }
        }
        tokio::select! {
            result = sockets.recv(&mut buf) => {
                received.push(parse(&buf[..result.expect("recv_from")]));
            }
            () = tokio::time::sleep(Duration::from_micros(200)) => recvs_lost += 1,
        }
    }
    // Whatever is still queued, then nothing more for 300 ms.
    while let Ok(result) =
        tokio::time::timeout(Duration::from_millis(300), sockets.recv(&mut buf)).await
    {
        received.push(parse(&buf[..result.expect("recv_from")]));
    }
    eprintln!(
        "{} sent, {sends_lost} sends lost their race, {} received, {recvs_lost} receives \
         lost their race",
        sent.len(),
        received.len()
    );
    let mut unique = BTreeSet::new();
    let duplicates: Vec<u32> = received
        .iter()
        .copied()
        .filter(|&seq| !unique.insert(seq))
        .collect();
    assert!(
        duplicates.is_empty(),
        "datagrams received twice: {duplicates:?}"
    );
    let extra: Vec<u32> = unique.difference(&sent).copied().collect();
    assert!(
        extra.is_empty(),
        "{} datagrams whose send lost its race (so was cancelled) arrived anyway, e.g. {:?}",
        extra.len(),
        &extra[..extra.len().min(10)]
    );
    let missing: Vec<u32> = sent.difference(&unique).copied().collect();
    assert!(
        missing.is_empty(),
        "{} datagrams whose send completed never arrived (a receive that lost its race took \
         them?), e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(!sent.is_empty(), "some sends completed");
    assert!(
        recvs_lost >= RACES / CATCH_UP,
        "every receive raced with nothing queued lost: only {recvs_lost} lost"
    );
    let queue_limit = std::fs::read_to_string("/proc/sys/net/unix/max_dgram_qlen")
        .ok()
        .and_then(|limit| limit.trim().parse::<u32>().ok());
    if sends_can_pend && queue_limit.is_some_and(|limit| limit + 2 < CATCH_UP) {
        assert!(
            sends_lost > 0,
            "sends to a full Unix datagram queue pend and lose their race"
        );
    }
}

/// UDP, `send_to` an address.
struct UdpSendTo {
    tx: UdpSocket,
    rx: UdpSocket,
}

impl Datagrams for UdpSendTo {
    async fn send(&self, msg: &[u8]) -> io::Result<usize> {
        self.tx.send_to(msg, self.rx.local_addr()?).await
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, from) = self.rx.recv_from(buf).await?;
        assert_eq!(from, self.tx.local_addr()?, "sender address");
        Ok(n)
    }
}

/// UDP, `send` on a connected socket.
struct UdpConnected(UdpSendTo);

impl Datagrams for UdpConnected {
    async fn send(&self, msg: &[u8]) -> io::Result<usize> {
        self.0.tx.send(msg).await
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf).await
    }
}

async fn udp_pair() -> UdpSendTo {
    UdpSendTo {
        tx: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        rx: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    }
}

#[corio::test(backend = "both")]
async fn udp_send_to_and_recv_from_races() {
    bounded(async {
        race(&udp_pair().await, false).await;
    })
    .await;
}

#[corio::test(backend = "both")]
async fn udp_connected_send_and_recv_from_races() {
    bounded(async {
        let pair = udp_pair().await;
        pair.tx
            .connect(pair.rx.local_addr().unwrap())
            .await
            .unwrap();
        race(&UdpConnected(pair), false).await;
    })
    .await;
}

/// Unix datagrams between two bound paths, `send_to` the receiver's path.
struct UnixSendTo {
    tx: UnixDatagram,
    rx: UnixDatagram,
    tx_path: PathBuf,
    rx_path: PathBuf,
}

impl Datagrams for UnixSendTo {
    async fn send(&self, msg: &[u8]) -> io::Result<usize> {
        self.tx.send_to(msg, &self.rx_path).await
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, from) = self.rx.recv_from(buf).await?;
        assert_eq!(
            from.as_pathname(),
            Some(self.tx_path.as_path()),
            "sender path"
        );
        Ok(n)
    }
}

impl Drop for UnixSendTo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tx_path);
        let _ = std::fs::remove_file(&self.rx_path);
    }
}

/// `UnixDatagram::pair`: `send` on one end, `recv_from` on the other.
struct UnixPair {
    tx: UnixDatagram,
    rx: UnixDatagram,
}

impl Datagrams for UnixPair {
    async fn send(&self, msg: &[u8]) -> io::Result<usize> {
        self.tx.send(msg).await
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, from) = self.rx.recv_from(buf).await?;
        assert!(from.is_unnamed(), "a pair's sender is unnamed");
        Ok(n)
    }
}

#[corio::test(backend = "both")]
async fn unix_send_to_and_recv_from_races() {
    bounded(async {
        let (tx_path, rx_path) = (socket_path("udp-cancel-tx"), socket_path("udp-cancel-rx"));
        let sockets = UnixSendTo {
            tx: UnixDatagram::bind(&tx_path).unwrap(),
            rx: UnixDatagram::bind(&rx_path).unwrap(),
            tx_path,
            rx_path,
        };
        race(&sockets, true).await;
    })
    .await;
}

#[corio::test(backend = "both")]
async fn unix_pair_send_and_recv_from_races() {
    bounded(async {
        let (tx, rx) = UnixDatagram::pair().unwrap();
        race(&UnixPair { tx, rx }, false).await;
    })
    .await;
}
