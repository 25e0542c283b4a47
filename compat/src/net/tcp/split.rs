//! `TcpStream::split` and `into_split`, and tokio's names for the TCP halves; the halves
//! themselves, and this family's side of them, are written once in `net/split.rs`.

use std::net::SocketAddr;

use super::TcpStream;

family_split!(TcpStream, SocketAddr);
