//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::task::{Context, Poll};

/// Polls `fut` once with a waker that does nothing, then drops it: `Some` with its output
/// when that one poll finished it (an op started and abandoned, or a call that must be
/// ready at once).
pub(crate) fn poll_once_and_drop<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

/// The CPUs the calling thread may run on, from `/proc/thread-self/status`.
pub(crate) fn thread_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/thread-self/status").expect("read status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list");
    parse_cpu_list(line.trim())
}

/// Parses a kernel CPU list such as `0-2,5`.
pub(crate) fn parse_cpu_list(list: &str) -> Vec<usize> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()),
            None => cpus.push(part.parse().unwrap()),
        }
    }
    cpus
}

/// Open file descriptors of this process.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

pub(crate) mod child;
pub(crate) mod hello_service;
pub(crate) mod http;
pub(crate) mod net;
pub(crate) mod peer;
pub(crate) mod proc;
pub(crate) mod wire;
