//! `UnixStream::split` and `into_split`, and tokio's names for the Unix halves; the halves
//! themselves, and this family's side of them, are written once in `net/split.rs`.

use super::{SocketAddr, UnixStream};

family_split!(UnixStream, SocketAddr);
