//! Timestamps for the sale window. A few lines of calendar arithmetic instead
//! of a date crate keep the Lambda binaries lean.

use super::{ConfigError, Keys};
use serde_json::Value;
use std::fmt;

/// An instant written as RFC 3339 (`2026-12-01T10:00:00+09:00`), keeping the
/// offset it was written in so messages show the organizer's own local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    unix: i64,
    offset_minutes: i16,
}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; fractional seconds are dropped.
    pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
        if b.len() < 20 || separators.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't') {
            return None;
        }
        let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
        let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
        let valid = (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour < 24
            && minute < 60
            && second <= 60;
        if !valid {
            return None;
        }
        let mut rest = &b[19..];
        if let [b'.', fraction @ ..] = rest {
            let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &fraction[n..];
        }
        let offset_minutes = offset(rest)?;
        let local = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
        Some(Timestamp { unix: local - i64::from(offset_minutes) * 60, offset_minutes })
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub fn unix(&self) -> i64 {
        self.unix
    }
}

/// `n` ASCII digits at `at`, as a number.
fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    b.get(at..at + n)?.iter().try_fold(0, |acc, c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
}

/// `Z`, or `±HH:MM`, and nothing after it.
fn offset(b: &[u8]) -> Option<i16> {
    match b {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(b, 1, 2)?, digits(b, 4, 2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i16::try_from(hours * 60 + minutes).ok()?;
            Some(if *sign == b'-' { -total } else { total })
        }
        _ => None,
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let (era, yoe) = (y.div_euclid(400), y.rem_euclid(400));
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`] (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

impl fmt::Display for Timestamp {
    /// `2026-12-01 10:00 (UTC+09:00)`, in the offset it was written in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix + i64::from(self.offset_minutes) * 60;
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        let minutes = local.rem_euclid(86_400) / 60;
        write!(f, "{year:04}-{month:02}-{day:02} {:02}:{:02} (UTC", minutes / 60, minutes % 60)?;
        if self.offset_minutes != 0 {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let off = self.offset_minutes.unsigned_abs();
            write!(f, "{sign}{:02}:{:02}", off / 60, off % 60)?;
        }
        f.write_str(")")
    }
}

/// When a ticket can be bought: from `opens_at` (inclusive) until `closes_at`
/// (exclusive); an absent bound does not limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaleWindow {
    opens_at: Option<Timestamp>,
    closes_at: Option<Timestamp>,
}

/// Why a ticket cannot be bought right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaleClosed {
    #[error("ticket sales open at {0}")]
    NotYetOpen(Timestamp),
    #[error("ticket sales closed at {0}")]
    Over(Timestamp),
}

impl SaleWindow {
    pub fn opens_at(&self) -> Option<Timestamp> {
        self.opens_at
    }
    pub fn closes_at(&self) -> Option<Timestamp> {
        self.closes_at
    }
    pub fn check(&self, now_unix: i64) -> Result<(), SaleClosed> {
        match (self.opens_at, self.closes_at) {
            (Some(opens), _) if now_unix < opens.unix => Err(SaleClosed::NotYetOpen(opens)),
            (_, Some(closes)) if now_unix >= closes.unix => Err(SaleClosed::Over(closes)),
            _ => Ok(()),
        }
    }

    /// Reads `sale_opens_at` / `sale_closes_at` from `keys`; a bound left out
    /// is taken from `fallback` (the global window, for a ticket). `at` turns
    /// a key into its full path for errors.
    pub(crate) fn from_keys(
        keys: &Keys<'_>,
        at: impl Fn(&str) -> String,
        fallback: SaleWindow,
    ) -> Result<SaleWindow, ConfigError> {
        let opens = timestamp(&at("sale_opens_at"), keys.get("sale_opens_at"))?;
        let closes = timestamp(&at("sale_closes_at"), keys.get("sale_closes_at"))?;
        let window = SaleWindow { opens_at: opens.or(fallback.opens_at), closes_at: closes.or(fallback.closes_at) };
        let (Some(opens_at), Some(closes_at)) = (window.opens_at, window.closes_at) else {
            return Ok(window);
        };
        if opens_at.unix < closes_at.unix {
            return Ok(window);
        }
        // Blame the bound these keys set (the closing one if both).
        if closes.is_some() || opens.is_none() {
            Err(ConfigError::invalid(at("sale_closes_at"), format!("must be after the sale opens ({opens_at})")))
        } else {
            Err(ConfigError::invalid(at("sale_opens_at"), format!("must be before the sale closes ({closes_at})")))
        }
    }
}

fn timestamp(key: &str, value: Option<&Value>) -> Result<Option<Timestamp>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let text = value.as_str().map(str::trim).unwrap_or_default();
    Timestamp::parse_rfc3339(text).map(Some).ok_or_else(|| {
        let problem = "must be an RFC 3339 timestamp with an offset, e.g. \"2026-12-01T10:00:00+09:00\"";
        ConfigError::invalid(key, problem)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(s: &str) -> i64 {
        Timestamp::parse_rfc3339(s).unwrap_or_else(|| panic!("{s}")).unix()
    }

    #[test]
    fn known_instants() {
        assert_eq!(unix("1970-01-01T00:00:00Z"), 0);
        assert_eq!(unix("2000-02-29T12:00:00+09:00"), 951_793_200);
        assert_eq!(unix("2000-02-29T03:00:00.123456z"), 951_793_200);
        assert_eq!(unix("1969-12-31T23:59:59Z"), -1);
        assert_eq!(unix("2038-01-19T03:14:08Z"), 1 << 31);
        assert_eq!(unix("2026-12-01T10:00:00+09:00"), 1_796_086_800);
        assert_eq!(unix("2026-11-30T20:00:00-05:00"), 1_796_086_800);
        assert_eq!(unix("2016-12-31T23:59:60Z"), 1_483_228_800);
    }

    #[test]
    fn displays_in_its_own_offset() {
        let shown = |s: &str| Timestamp::parse_rfc3339(s).unwrap().to_string();
        assert_eq!(shown("2026-12-01T10:00:00+09:00"), "2026-12-01 10:00 (UTC+09:00)");
        assert_eq!(shown("2026-12-01T01:00:59Z"), "2026-12-01 01:00 (UTC)");
        assert_eq!(shown("2026-12-01T01:00:00+00:00"), "2026-12-01 01:00 (UTC)");
        assert_eq!(shown("2024-03-01T00:30:00-05:30"), "2024-03-01 00:30 (UTC-05:30)");
        assert_eq!(shown("1969-12-31T23:59:59Z"), "1969-12-31 23:59 (UTC)");
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01T10:00:00",
            "2026-12-01 10:00:00Z",
            "2026-12-01T10:00Z",
            "2026-13-01T10:00:00Z",
            "2026-00-01T10:00:00Z",
            "2026-02-29T10:00:00Z",
            "1900-02-29T10:00:00Z",
            "2026-04-31T10:00:00Z",
            "2026-12-01T24:00:00Z",
            "2026-12-01T10:60:00Z",
            "2026-12-01T10:00:61Z",
            "2026-12-01T10:00:00.Z",
            "2026-12-01T10:00:00+24:00",
            "2026-12-01T10:00:00+0900",
            "2026-12-01T10:00:00+09:00 ",
            "+026-12-01T10:00:00Z",
            "2026-12-01T10:00:00Zulu",
            "２０２６-12-01T10:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T10:00:00Z").is_some());
    }

    #[test]
    fn window_bounds() {
        let at = |s: &str| Timestamp::parse_rfc3339(s);
        let window = SaleWindow { opens_at: at("1970-01-01T00:00:10Z"), closes_at: at("1970-01-01T00:00:20Z") };
        assert_eq!(window.check(9), Err(SaleClosed::NotYetOpen(window.opens_at().unwrap())));
        assert_eq!(window.check(10), Ok(()));
        assert_eq!(window.check(19), Ok(()));
        assert_eq!(window.check(20), Err(SaleClosed::Over(window.closes_at().unwrap())));
        assert_eq!(SaleWindow::default().check(i64::MIN), Ok(()));
        assert_eq!(
            SaleClosed::Over(window.closes_at().unwrap()).to_string(),
            "ticket sales closed at 1970-01-01 00:00 (UTC)"
        );
    }
}
