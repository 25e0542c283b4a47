//! The `Range` header (RFC 9110, 14.2): one range of bytes, or none.

/// A `Range` header, resolved against a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Range {
    /// No usable range (absent, malformed, or several): the whole file.
    Full,
    /// Bytes `start..end`, non-empty, inside the file.
    Part(u64, u64),
    /// A single range that selects nothing.
    Unsatisfiable,
}

impl Range {
    pub(super) fn parse(value: &str, len: u64) -> Range {
        let spec = match value.get(..6) {
            Some(unit) if unit.eq_ignore_ascii_case("bytes=") => value[6..].trim(),
            _ => return Range::Full,
        };
        let Some((first, last)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
            return Range::Full;
        };
        let (first, last) = (first.trim(), last.trim());
        let (start, end) = match (number(first), number(last)) {
            (None, Some(suffix)) if first.is_empty() => (len.saturating_sub(suffix), len),
            (Some(start), None) if last.is_empty() => (start, len),
            (Some(start), Some(last)) if start <= last => (start, len.min(last.saturating_add(1))),
            _ => return Range::Full,
        };
        if start < end {
            Range::Part(start, end)
        } else {
            Range::Unsatisfiable
        }
    }
}

/// Digits only (`u64::from_str` would also take a `+`).
pub(super) fn number(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(Range::parse("bytes=0-9", 100), Range::Part(0, 10));
        assert_eq!(Range::parse("bytes=90-", 100), Range::Part(90, 100));
        assert_eq!(Range::parse("bytes=-5", 100), Range::Part(95, 100));
        assert_eq!(Range::parse("bytes=-500", 100), Range::Part(0, 100));
        assert_eq!(Range::parse("bytes=50-5000", 100), Range::Part(50, 100));
        assert_eq!(Range::parse("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(Range::parse("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(Range::parse("bytes=0-0", 0), Range::Unsatisfiable);
        for ignored in [
            "bytes=0-1,5-6",
            "bytes=5-1",
            "bytes=+1-2",
            "items=0-1",
            "bytes=-",
            "bytes",
        ] {
            assert_eq!(Range::parse(ignored, 100), Range::Full, "{ignored}");
        }
    }
}
