//! HTTP dates (RFC 9110, 5.6.7): IMF-fixdate, written and read, from 1970 on.

use super::range::number;

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]; // from 1970-01-01
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the epoch as an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(super) fn http_date(secs: u64) -> String {
    let (days, time) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = WEEKDAYS[(days % 7) as usize];
    let (h, m, s) = (time / 3600, time / 60 % 60, time % 60);
    format!(
        "{weekday}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        MONTHS[month as usize - 1]
    )
}

/// An IMF-fixdate (the only format senders may use, RFC 9110, 5.6.7) from 1970 on, as seconds
/// since the epoch; `None` for anything else, which makes the header ignored.
pub(super) fn parse_http_date(text: &str) -> Option<u64> {
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    let [weekday, day, month, year, time, "GMT"] = fields[..] else {
        return None;
    };
    WEEKDAYS
        .iter()
        .position(|w| weekday.strip_suffix(',') == Some(*w))?;
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let (day, year) = (
        number(day).filter(|d| (1..=31).contains(d))?,
        number(year).filter(|y| *y >= 1970)?,
    );
    let hms: Vec<u64> = time.split(':').map(number).collect::<Option<_>>()?;
    let [h @ 0..=23, m @ 0..=59, s @ 0..=60] = hms[..] else {
        return None;
    };
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

/// (year, month 1..=12, day 1..=31) of day `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days from the epoch on).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

/// The inverse of [`civil_from_days`], for years from 1970 on.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = year - u64::from(month <= 2);
    let (era, yoe) = (year / 400, year % 400);
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        for secs in [0, 784_111_777, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(
                parse_http_date(&http_date(secs)),
                Some(secs),
                "{}",
                http_date(secs)
            );
        }
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 24:49:37 GMT"), None);
    }
}
