//! Number formatting shared by the table and the chart.

/// `1234567.8` → `1,234,568`.
pub(crate) fn group_thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// As [`group_thousands`], keeping the sign: `-1234.4` → `-1,234`.
pub(crate) fn signed_thousands(v: f64) -> String {
    match v.round() < 0.0 {
        true => format!("-{}", group_thousands(-v)),
        false => group_thousands(v),
    }
}

/// A latency in microseconds with a fitting unit: `48.2µs`, `1.52ms`, `2.10s`.
pub(crate) fn latency(us: f64) -> String {
    match us {
        u if u < 100.0 => format!("{u:.1}µs"),
        u if u < 1_000.0 => format!("{u:.0}µs"),
        u if u < 10_000.0 => format!("{:.2}ms", u / 1e3),
        u if u < 1_000_000.0 => format!("{:.1}ms", u / 1e3),
        u => format!("{:.2}s", u / 1e6),
    }
}

/// A value with three significant digits: `0.0123`, `1.23`, `12.3`, `123`.
pub(crate) fn sig3(v: f64) -> String {
    match v.abs() {
        0.0 => "0".to_string(),
        a if a < 1.0 => format!("{v:.3}"),
        a if a < 10.0 => format!("{v:.2}"),
        a if a < 100.0 => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    }
}

/// A fraction as a whole percentage: `0.712` → `71%` (never `-0%`).
pub(crate) fn percent(fraction: f64) -> String {
    let p = (fraction * 100.0).round();
    format!("{:.0}%", if p == 0.0 { 0.0 } else { p })
}

/// KiB as MiB: `5.1 MiB`.
pub(crate) fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0.4), "0");
        assert_eq!(group_thousands(999.0), "999");
        assert_eq!(group_thousands(1234567.8), "1,234,568");
        assert_eq!(signed_thousands(-1234.4), "-1,234");
        assert_eq!(signed_thousands(-0.4), "0");
        assert_eq!(signed_thousands(4390.0), "4,390");
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(0.712), "71%");
        assert_eq!(percent(-0.0004), "0%");
        assert_eq!(percent(1.1), "110%");
        assert_eq!(percent(-0.25), "-25%");
    }

    #[test]
    fn latencies() {
        assert_eq!(latency(48.24), "48.2µs");
        assert_eq!(latency(480.0), "480µs");
        assert_eq!(latency(1520.0), "1.52ms");
        assert_eq!(latency(15_200.0), "15.2ms");
        assert_eq!(latency(2_100_000.0), "2.10s");
    }

    #[test]
    fn significant_digits() {
        assert_eq!(sig3(0.01234), "0.012");
        assert_eq!(sig3(1.234), "1.23");
        assert_eq!(sig3(12.34), "12.3");
        assert_eq!(sig3(1234.0), "1234");
    }
}
