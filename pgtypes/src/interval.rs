//! `interval`: Arrow interval/duration values, PostgreSQL's `postgres`
//! IntervalStyle output, and interval text input.
//!
//! PostgreSQL keeps months, days and microseconds apart and never normalises
//! one into another on output; neither may we (`25 hours` is `25:00:00`,
//! not `1 day 01:00:00`). Arrow nanoseconds round toward negative infinity.

use std::fmt::{self, Write};

use arrow::datatypes::TimeUnit;

use crate::datetime::{to_micros, write_fraction, MICROS_PER_DAY};
use crate::error::PgTypeError;

/// PostgreSQL's interval value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PgInterval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl PgInterval {
    /// From Arrow `Interval(MonthDayNano)` parts.
    pub fn from_month_day_nano(months: i32, days: i32, nanos: i64) -> Self {
        PgInterval {
            months,
            days,
            micros: nanos.div_euclid(1_000),
        }
    }

    /// From an Arrow `Duration` (what `timestamp - timestamp` yields):
    /// whole days go to the day field, as PostgreSQL's subtraction does.
    pub fn from_duration(v: i64, unit: TimeUnit) -> Option<Self> {
        let micros = to_micros(v, unit)?;
        Some(PgInterval {
            months: 0,
            days: i32::try_from(micros / MICROS_PER_DAY).ok()?,
            micros: micros % MICROS_PER_DAY,
        })
    }

    /// Nanoseconds for Arrow `Interval(MonthDayNano)`.
    pub fn nanos(&self) -> Option<i64> {
        self.micros.checked_mul(1_000)
    }
}

/// Writes an interval in the `postgres` IntervalStyle:
/// `1 year 2 mons 3 days 04:05:06.5`, `-1 days +02:00:00`, `00:00:00`.
pub fn write_interval<W: Write>(w: &mut W, iv: PgInterval) -> fmt::Result {
    let years = iv.months / 12;
    let mons = iv.months % 12;
    let mut is_zero = true;
    let mut is_before = false;
    for (value, unit) in [
        (i64::from(years), "year"),
        (i64::from(mons), "mon"),
        (i64::from(iv.days), "day"),
    ] {
        if value == 0 {
            continue;
        }
        let space = if is_zero { "" } else { " " };
        let plus = if is_before && value > 0 { "+" } else { "" };
        let plural = if value != 1 { "s" } else { "" };
        write!(w, "{space}{plus}{value} {unit}{plural}")?;
        is_before = value < 0;
        is_zero = false;
    }
    let t = iv.micros;
    if is_zero || t != 0 {
        let minus = t < 0;
        let a = t.unsigned_abs();
        let secs = a / 1_000_000;
        let space = if is_zero { "" } else { " " };
        let sign = if minus {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        write!(
            w,
            "{space}{sign}{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )?;
        write_fraction(w, (a % 1_000_000) as u32)?;
    }
    Ok(())
}

/// Parses interval text: `1 day`, `2 hours 3 minutes`, `01:02:03`,
/// `1 mon`, `-1 days +02:00:00`, `1.5 years`, `@ 1 day ago`, ISO `P1DT2H`.
pub fn parse_interval(s: &str) -> Result<PgInterval, PgTypeError> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let syntax = || PgTypeError::invalid_datetime("interval", s);
    let mut acc = Accumulator::default();
    if let Some(iso) = t.strip_prefix(['P', 'p']) {
        parse_iso(iso, &mut acc).ok_or_else(syntax)?;
        return acc.finish(s);
    }
    let t = t.strip_prefix('@').unwrap_or(t);
    let words: Vec<&str> = t.split_ascii_whitespace().collect();
    if words.is_empty() {
        return Err(syntax());
    }
    let mut i = 0;
    let mut ago = false;
    while let Some(word) = words.get(i) {
        i += 1;
        if word.eq_ignore_ascii_case("ago") {
            if words.get(i).is_some() {
                return Err(syntax());
            }
            ago = true;
            continue;
        }
        if word.contains(':') {
            acc.add_time(word).ok_or_else(syntax)?;
            continue;
        }
        if let Some(months) = year_month(word) {
            acc.months += months;
            continue;
        }
        // A number, possibly glued to its unit (`10min`).
        let split = word
            .char_indices()
            .find(|(_, c)| c.is_ascii_alphabetic())
            .map_or(word.len(), |(i, _)| i);
        let (num, glued) = (
            word.get(..split).unwrap_or(""),
            word.get(split..).unwrap_or(""),
        );
        let value = Number::parse(num).ok_or_else(syntax)?;
        let unit = if !glued.is_empty() {
            glued
        } else {
            match words.get(i) {
                Some(next)
                    if next.bytes().all(|b| b.is_ascii_alphabetic())
                        && !next.eq_ignore_ascii_case("ago") =>
                {
                    i += 1;
                    next
                }
                Some(next) if next.contains(':') => "day",
                _ => "second",
            }
        };
        acc.add(value, &unit.to_ascii_lowercase())
            .ok_or_else(syntax)?;
    }
    if ago {
        acc.months = -acc.months;
        acc.days = -acc.days;
        acc.micros = -acc.micros;
    }
    acc.finish(s)
}

/// A signed decimal number split into whole and fractional parts.
#[derive(Clone, Copy, Debug)]
struct Number {
    whole: i64,
    frac: f64,
}

impl Number {
    fn parse(s: &str) -> Option<Number> {
        let (neg, body) = match s.as_bytes().first()? {
            b'-' => (true, s.get(1..)?),
            b'+' => (false, s.get(1..)?),
            _ => (false, s),
        };
        let (w, f) = body.split_once('.').unwrap_or((body, ""));
        if (w.is_empty() && f.is_empty())
            || !w.bytes().all(|b| b.is_ascii_digit())
            || !f.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = if w.is_empty() { 0 } else { w.parse().ok()? };
        let frac: f64 = if f.is_empty() {
            0.0
        } else {
            format!("0.{f}").parse().ok()?
        };
        let sign = if neg { -1 } else { 1 };
        Some(Number {
            whole: whole * sign,
            frac: frac * sign as f64,
        })
    }
}

/// Fields summed in wide integers, checked at the end.
#[derive(Default)]
struct Accumulator {
    months: i128,
    days: i128,
    micros: i128,
}

impl Accumulator {
    fn add(&mut self, n: Number, unit: &str) -> Option<()> {
        let whole = i128::from(n.whole);
        let micros_of = |per: f64| (n.frac * per).round() as i128;
        match unit {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => {
                self.micros += whole + n.frac.round() as i128
            }
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => {
                self.micros += whole * 1_000 + micros_of(1e3)
            }
            "second" | "seconds" | "s" | "sec" | "secs" => {
                self.micros += whole * 1_000_000 + micros_of(1e6)
            }
            "minute" | "minutes" | "m" | "min" | "mins" => {
                self.micros += whole * 60_000_000 + micros_of(6e7)
            }
            "hour" | "hours" | "h" | "hr" | "hrs" => {
                self.micros += whole * 3_600_000_000 + micros_of(3.6e9)
            }
            "day" | "days" | "d" => {
                self.days += whole;
                self.micros += micros_of(8.64e10);
            }
            "week" | "weeks" | "w" => {
                self.days += whole * 7;
                self.fract_days(n.frac * 7.0);
            }
            "month" | "months" | "mon" | "mons" => {
                self.months += whole;
                self.fract_days(n.frac * 30.0);
            }
            "year" | "years" | "y" | "yr" | "yrs" => self.years(n, 1),
            "decade" | "decades" | "dec" | "decs" => self.years(n, 10),
            "century" | "centuries" | "c" | "cent" => self.years(n, 100),
            "millennium" | "millennia" | "mil" | "mils" | "millenniums" => self.years(n, 1000),
            _ => return None,
        }
        Some(())
    }

    fn years(&mut self, n: Number, scale: i128) {
        self.months +=
            i128::from(n.whole) * 12 * scale + (n.frac * 12.0 * scale as f64).round() as i128;
    }

    fn fract_days(&mut self, days: f64) {
        let whole = days.trunc();
        self.days += whole as i128;
        self.micros += ((days - whole) * 8.64e10).round() as i128;
    }

    /// `[+-]HH:MM[:SS[.ffffff]]`.
    fn add_time(&mut self, t: &str) -> Option<()> {
        let (neg, body) = match t.as_bytes().first()? {
            b'-' => (true, t.get(1..)?),
            b'+' => (false, t.get(1..)?),
            _ => (false, t),
        };
        let mut parts = body.split(':');
        let h: i128 = parse_digits(parts.next()?)?;
        let m: i128 = parse_digits(parts.next()?)?;
        let secs = match parts.next() {
            Some(p) => Number::parse(p).filter(|n| n.whole >= 0 && !p.starts_with(['-', '+']))?,
            None => Number {
                whole: 0,
                frac: 0.0,
            },
        };
        if parts.next().is_some() || m > 59 || secs.whole > 59 {
            return None;
        }
        let micros = (h * 3600 + m * 60 + i128::from(secs.whole)) * 1_000_000
            + (secs.frac * 1e6).round() as i128;
        self.micros += if neg { -micros } else { micros };
        Some(())
    }

    fn finish(self, s: &str) -> Result<PgInterval, PgTypeError> {
        let overflow = || PgTypeError::DatetimeOverflow {
            message: format!("interval field value out of range: \"{s}\""),
        };
        Ok(PgInterval {
            months: i32::try_from(self.months).map_err(|_| overflow())?,
            days: i32::try_from(self.days).map_err(|_| overflow())?,
            micros: i64::try_from(self.micros).map_err(|_| overflow())?,
        })
    }
}

/// SQL-standard `[+-]Y-M` (`1-2` is one year two months; the sign covers both).
fn year_month(word: &str) -> Option<i128> {
    let (negative, body) = match word.as_bytes().first()? {
        b'-' => (true, word.get(1..)?),
        b'+' => (false, word.get(1..)?),
        _ => (false, word),
    };
    let (y, m) = body.split_once('-')?;
    let months = parse_digits(y)? * 12 + parse_digits(m)?;
    Some(if negative { -months } else { months })
}

fn parse_digits(s: &str) -> Option<i128> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// ISO 8601 `P1Y2M3W4DT5H6M7.5S` (after the `P`).
fn parse_iso(s: &str, acc: &mut Accumulator) -> Option<()> {
    if s.is_empty() {
        return None;
    }
    let mut in_time = false;
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(['T', 't']) {
            if in_time {
                return None;
            }
            in_time = true;
            rest = r;
            continue;
        }
        let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let num = Number::parse(rest.get(..end)?)?;
        let designator = rest.get(end..=end)?.to_ascii_uppercase();
        rest = rest.get(end + 1..)?;
        let unit = match (in_time, designator.as_str()) {
            (false, "Y") => "year",
            (false, "M") => "month",
            (false, "W") => "week",
            (false, "D") => "day",
            (true, "H") => "hour",
            (true, "M") => "minute",
            (true, "S") => "second",
            _ => return None,
        };
        acc.add(num, unit)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(months: i32, days: i32, micros: i64) -> String {
        let mut s = String::new();
        write_interval(
            &mut s,
            PgInterval {
                months,
                days,
                micros,
            },
        )
        .unwrap();
        s
    }

    #[test]
    fn intervals_print_like_postgres() {
        assert_eq!(out(0, 1, 7_384_000_000), "1 day 02:03:04");
        assert_eq!(out(3, 0, 0), "3 mons");
        assert_eq!(out(14, 0, 0), "1 year 2 mons");
        assert_eq!(out(0, 0, -1_000_000), "-00:00:01");
        assert_eq!(out(0, 0, 500_000), "00:00:00.5");
        assert_eq!(out(0, 0, 0), "00:00:00");
        assert_eq!(out(0, -1, 7_200_000_000), "-1 days +02:00:00");
        assert_eq!(out(-12, 0, 0), "-1 years");
        assert_eq!(out(0, 2, 0), "2 days");
        assert_eq!(out(-1, 3, 0), "-1 mons +3 days");
        assert_eq!(out(0, 0, 90_000_000_000), "25:00:00");
        assert_eq!(
            out(25, 1, -61_000_001),
            "2 years 1 mon 1 day -00:01:01.000001"
        );
    }

    fn parse(s: &str) -> (i32, i32, i64) {
        let iv = parse_interval(s).unwrap();
        (iv.months, iv.days, iv.micros)
    }

    #[test]
    fn intervals_parse_like_postgres() {
        assert_eq!(parse("1 day"), (0, 1, 0));
        assert_eq!(parse("2 hours 3 minutes"), (0, 0, 7_380_000_000));
        assert_eq!(parse("01:02:03"), (0, 0, 3_723_000_000));
        assert_eq!(parse("1 mon"), (1, 0, 0));
        assert_eq!(parse("P1DT2H"), (0, 1, 7_200_000_000));
        assert_eq!(parse("P1Y2M3W"), (14, 21, 0));
        assert_eq!(parse("PT1.5S"), (0, 0, 1_500_000));
        assert_eq!(parse("-1 day +02:00:00"), (0, -1, 7_200_000_000));
        assert_eq!(parse("-1 days -02:00:00"), (0, -1, -7_200_000_000));
        assert_eq!(parse("1.5 days"), (0, 1, 43_200_000_000));
        assert_eq!(parse("1.5 months"), (1, 15, 0));
        assert_eq!(parse("1.5 years"), (18, 0, 0));
        assert_eq!(parse("@ 1 day 2 hours ago"), (0, -1, -7_200_000_000));
        assert_eq!(parse("5"), (0, 0, 5_000_000));
        assert_eq!(parse("1 2:00:00"), (0, 1, 7_200_000_000));
        assert_eq!(parse("10min"), (0, 0, 600_000_000));
        assert_eq!(
            parse("1 year 2 mons 3 days 04:05:06.5"),
            (14, 3, 14_706_500_000)
        );
        assert_eq!(parse("-00:00:01"), (0, 0, -1_000_000));
        assert_eq!(parse("1-2"), (14, 0, 0));
        assert_eq!(parse("-1-2"), (-14, 0, 0));
        let e = parse_interval("abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type interval: \"abc\""
        );
        assert_eq!(e.sqlstate(), "22007");
        assert!(parse_interval("1 fortnight").is_err());
        assert!(parse_interval("1-").is_err());
    }

    /// Inputs and outputs of PostgreSQL's `interval` regression test under
    /// `IntervalStyle = postgres`.
    #[test]
    fn postgres_regression_intervals() {
        let cases = [
            ("+1 -1:00:00", "1 day -01:00:00"),
            ("-1 +1:00:00", "-1 days +01:00:00"),
            (
                "+1-2 -3 +4:05:06.789",
                "1 year 2 mons -3 days +04:05:06.789",
            ),
            (
                "-1-2 +3 -4:05:06.789",
                "-1 years -2 mons +3 days -04:05:06.789",
            ),
            ("-23 hours 45 min 12.34 sec", "-22:14:47.66"),
            ("-1 day 23 hours 45 min 12.34 sec", "-1 days +23:45:12.34"),
            (
                "-1 year 2 months 1 day 23 hours 45 min 12.34 sec",
                "-10 mons +1 day 23:45:12.34",
            ),
            (
                "-1 year 2 months 1 day 23 hours 45 min +12.34 sec",
                "-10 mons +1 day 23:45:12.34",
            ),
            ("1 day -1 hours", "1 day -01:00:00"),
            ("-1 days +1 hours", "-1 days +01:00:00"),
            ("-1 mon -1 hour", "-1 mons -01:00:00"),
            ("-1 mon -1 day", "-1 mons -1 days"),
            ("1 year -1 mon", "11 mons"),
            ("1 mon 00:00:00", "1 mon"),
        ];
        for (input, want) in cases {
            let mut s = String::new();
            write_interval(&mut s, parse_interval(input).unwrap()).unwrap();
            assert_eq!(s, want, "{input}");
        }
        assert!(parse_interval("").is_err());
    }
}
