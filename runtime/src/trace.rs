//! Per-op tracing that costs nothing unless the `trace-ops` feature is on: the macro
//! expands to a `tracing::trace!` event with the feature, and without it to a closure
//! that is never called (so its fields still type-check and count as used).

/// A trace event for one op, CQE or submit; compiled out without `trace-ops`.
#[cfg(feature = "trace-ops")]
macro_rules! trace_op {
    ($($arg:tt)+) => {
        tracing::trace!($($arg)+)
    };
}

/// A trace event for one op, CQE or submit; compiled out without `trace-ops`.
#[cfg(not(feature = "trace-ops"))]
macro_rules! trace_op {
    ($($arg:tt)+) => {
        let _ = || tracing::trace!($($arg)+);
    };
}

pub(crate) use trace_op;
