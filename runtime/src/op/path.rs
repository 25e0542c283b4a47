//! The resources of the path-only ops (`unlinkat`, `mkdirat`, `renameat`, `linkat`,
//! `symlinkat`): the NUL-terminated paths the kernel reads, kept until the CQE. Their
//! result is 0 or `-errno`; no opcode of its own.

use std::ffi::CString;
use std::io;

use crate::driver::op::Completable;
use crate::driver::{Completion, Orphan};
use crate::error::cqe_result;

/// One or two paths an op in flight points at.
#[derive(Debug)]
pub(crate) struct Paths {
    _first: CString,
    _second: Option<CString>,
}

impl Paths {
    /// The resources of a one-path op.
    pub(crate) fn one(path: CString) -> Paths {
        Paths {
            _first: path,
            _second: None,
        }
    }

    /// The resources of a two-path op.
    pub(crate) fn two(first: CString, second: CString) -> Paths {
        Paths {
            _first: first,
            _second: Some(second),
        }
    }
}

impl Orphan for Paths {
    fn discard(&mut self, _: Completion) {}
}

impl Completable for Paths {
    type Output = io::Result<()>;

    fn complete(self, completion: Completion) -> io::Result<()> {
        cqe_result(completion.result).map(drop)
    }
}
