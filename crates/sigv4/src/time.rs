//! The SigV4 timestamp (`YYYYMMDD'T'HHMMSS'Z'`, always UTC): conversion from and to
//! [`SystemTime`] without a calendar crate and without reading the clock.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A whole-second UTC instant, as SigV4 writes it (`20150830T123600Z`).
///
/// Invariant: the instant is at or after the Unix epoch and before year 10000, so it always
/// formats to exactly 16 characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    /// Seconds since the Unix epoch.
    secs: u64,
}

/// Seconds in a day.
const DAY: u64 = 86_400;
/// 10000-01-01T00:00:00Z, the first instant that no longer fits in four year digits.
const YEAR_10000: u64 = 253_402_300_800;

impl AmzDate {
    /// The instant `time`, truncated to whole seconds. Instants before 1970 or after 9999
    /// are clamped into range (no real request carries them).
    pub fn from_system_time(time: SystemTime) -> Self {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .min(YEAR_10000 - 1);
        AmzDate { secs }
    }

    /// The instant as a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.secs)
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(self) -> u64 {
        self.secs
    }

    /// Parses the basic ISO 8601 form SigV4 uses: `YYYYMMDDTHHMMSSZ`.
    /// Returns `None` for anything else, including impossible dates (`20150230T...`).
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<u64> {
            let part = &b[range];
            if !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(
                part.iter()
                    .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')),
            )
        };
        let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (hour, min, sec) = (num(9..11)?, num(11..13)?, num(13..15)?);
        if year < 1970
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(AmzDate {
            secs: days * DAY + hour * 3600 + min * 60 + sec,
        })
    }

    /// The `YYYYMMDD` date part, used in the credential scope.
    pub fn date_stamp(self) -> String {
        let (y, m, d) = civil_from_days(self.secs / DAY);
        format!("{y:04}{m:02}{d:02}")
    }

    /// Absolute difference between two instants.
    pub fn abs_diff(self, other: AmzDate) -> Duration {
        Duration::from_secs(self.secs.abs_diff(other.secs))
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.secs / DAY);
        let rem = self.secs % DAY;
        write!(
            f,
            "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60
        )
    }
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year >= 1970).
/// Howard Hinnant's `days_from_civil`, restricted to non-negative results.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    // 719_468 is the day number of 1970-01-01 counted from 0000-03-01.
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_test_suite_instant() {
        // 2015-08-30T12:36:00Z
        let t = AmzDate::from_system_time(UNIX_EPOCH + Duration::from_secs(1_440_938_160));
        assert_eq!(t.to_string(), "20150830T123600Z");
        assert_eq!(t.date_stamp(), "20150830");
    }

    #[test]
    fn parse_is_the_inverse_of_display() {
        for secs in [
            0u64,
            951_782_400,
            1_440_938_160,
            1_709_210_096,
            4_102_444_799,
        ] {
            let t = AmzDate::from_system_time(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(AmzDate::parse(&t.to_string()), Some(t), "{t}");
        }
        // Leap day.
        assert_eq!(
            AmzDate::parse("20000229T000000Z").map(|t| t.unix_seconds()),
            Some(951_782_400)
        );
    }

    #[test]
    fn parse_rejects_malformed_and_impossible_dates() {
        for bad in [
            "",
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20150230T123600Z",
            "20150830T246000Z",
            "1969123T235959ZZ",
            "2015083aT123600Z",
        ] {
            assert_eq!(AmzDate::parse(bad), None, "{bad}");
        }
    }
}
