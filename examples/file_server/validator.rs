//! The validators of a file (RFC 9110, 8.8): `ETag` and `Last-Modified`, and the conditional
//! requests that use them (`If-None-Match`, `If-Modified-Since`, `If-Range`).

use std::time::UNIX_EPOCH;

use corio::fs::Metadata;
use hyper::header::{self, HeaderMap, HeaderValue};

use super::http_date::parse_http_date;

/// What identifies one version of a file: its mtime (whole seconds, as HTTP dates have) and
/// an ETag from mtime (with nanoseconds) and size.
#[derive(Debug)]
pub(super) struct Version {
    pub(super) modified: u64,
    pub(super) etag: String,
}

impl Version {
    /// `None` without a usable mtime: then there are no validators, and no 304.
    pub(super) fn of(meta: &Metadata) -> Option<Version> {
        let since_epoch = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        let (secs, nanos) = (since_epoch.as_secs(), since_epoch.subsec_nanos());
        let etag = format!("\"{secs:x}-{nanos:x}-{:x}\"", meta.len());
        Some(Version {
            modified: secs,
            etag,
        })
    }

    /// RFC 9110, 13.2.2: `If-None-Match` (weak comparison) decides if present, else
    /// `If-Modified-Since`.
    pub(super) fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
            let tags = tags.to_str().unwrap_or("");
            let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
            return tags
                .split(',')
                .any(|tag| tag.trim() == "*" || bare(tag) == bare(&self.etag));
        }
        let since = headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| parse_http_date(v.to_str().ok()?));
        since.is_some_and(|since| self.modified <= since)
    }
}

/// `If-Range` absent, or naming this version (strong ETag, or the exact `Last-Modified`).
pub(super) fn if_range_holds(if_range: Option<&HeaderValue>, version: Option<&Version>) -> bool {
    let Some(if_range) = if_range else {
        return true;
    };
    let (Some(version), Ok(if_range)) = (version, if_range.to_str()) else {
        return false;
    };
    if_range == version.etag || parse_http_date(if_range) == Some(version.modified)
}
