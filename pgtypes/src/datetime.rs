//! Dates, times and timestamps: unit conversions and ISO text output.
//!
//! Owns the epoch arithmetic (Arrow counts from 1970-01-01, PostgreSQL from
//! 2000-01-01) and the `DateStyle = ISO` output. `i64::MAX` / `i64::MIN` in
//! any unit (and `i32::MAX` / `i32::MIN` days) mean `infinity` /
//! `-infinity`, as in PostgreSQL; keep them out of arithmetic.

use std::fmt::{self, Write};

use arrow::datatypes::TimeUnit;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::error::PgTypeError;
use crate::settings::SessionTimeZone;

/// Microseconds between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;
/// Days between 1970-01-01 and 2000-01-01.
pub const PG_EPOCH_OFFSET_DAYS: i32 = 10_957;
/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// How many of `unit` make one second.
pub fn units_per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// A timestamp or time value in `unit` as microseconds, rounding
/// nanoseconds toward negative infinity. `None` when it overflows.
pub fn to_micros(v: i64, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => v.checked_mul(1_000_000),
        TimeUnit::Millisecond => v.checked_mul(1_000),
        TimeUnit::Microsecond => Some(v),
        TimeUnit::Nanosecond => Some(v.div_euclid(1_000)),
    }
}

/// Microseconds as a value in `unit`, rounding toward negative infinity
/// for coarser units. `None` when it overflows.
pub fn from_micros(micros: i64, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Second => Some(micros.div_euclid(1_000_000)),
        TimeUnit::Millisecond => Some(micros.div_euclid(1_000)),
        TimeUnit::Microsecond => Some(micros),
        TimeUnit::Nanosecond => micros.checked_mul(1_000),
    }
}

/// A special timestamp value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Infinity {
    Positive,
    Negative,
}

/// Whether an Arrow timestamp value is `infinity` / `-infinity`.
pub fn timestamp_infinity(v: i64) -> Option<Infinity> {
    match v {
        i64::MAX => Some(Infinity::Positive),
        i64::MIN => Some(Infinity::Negative),
        _ => None,
    }
}

/// Whether an Arrow `Date32` value is `infinity` / `-infinity`.
pub fn date_infinity(v: i32) -> Option<Infinity> {
    match v {
        i32::MAX => Some(Infinity::Positive),
        i32::MIN => Some(Infinity::Negative),
        _ => None,
    }
}

fn write_infinity<W: Write>(w: &mut W, inf: Infinity) -> fmt::Result {
    w.write_str(match inf {
        Infinity::Positive => "infinity",
        Infinity::Negative => "-infinity",
    })
}

/// The date of a day count since 1970-01-01.
pub fn date_from_unix_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_CE_DAYS)?)
}

/// The day count since 1970-01-01 of a date.
pub fn unix_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

/// Writes a `Date32` value: `2024-01-02`, `0044-03-15 BC`, `infinity`.
pub fn write_date<W: Write>(w: &mut W, days: i32) -> Result<(), PgTypeError> {
    if let Some(inf) = date_infinity(days) {
        return write_infinity(w, inf).map_err(fmt_error);
    }
    let date = date_from_unix_days(days).ok_or_else(|| PgTypeError::DatetimeOverflow {
        message: "date out of range".to_string(),
    })?;
    let bc = write_ymd(w, date).map_err(fmt_error)?;
    if bc {
        w.write_str(" BC").map_err(fmt_error)?;
    }
    Ok(())
}

/// Writes `YYYY-MM-DD` with the BC year count; returns whether it is BC.
fn write_ymd<W: Write>(w: &mut W, date: NaiveDate) -> Result<bool, fmt::Error> {
    let year = date.year();
    let (shown, bc) = if year <= 0 {
        (1 - year, true)
    } else {
        (year, false)
    };
    write!(w, "{shown:04}-{:02}-{:02}", date.month(), date.day())?;
    Ok(bc)
}

/// Writes `HH:MM:SS` and the fractional seconds without trailing zeros.
pub fn write_hms<W: Write>(w: &mut W, h: u64, m: u32, s: u32, micros: u32) -> fmt::Result {
    write!(w, "{h:02}:{m:02}:{s:02}")?;
    write_fraction(w, micros)
}

/// Writes `.ffffff` without trailing zeros, nothing for zero.
pub fn write_fraction<W: Write>(w: &mut W, micros: u32) -> fmt::Result {
    if micros == 0 {
        return Ok(());
    }
    let mut digits = micros;
    let mut width = 6;
    while digits.is_multiple_of(10) {
        digits /= 10;
        width -= 1;
    }
    write!(w, ".{digits:0width$}")
}

/// Writes a UTC offset as PostgreSQL does: `+00`, `+05:30`, `-08`, `+00:09:21`.
pub fn write_offset<W: Write>(w: &mut W, secs_east: i32) -> fmt::Result {
    let sign = if secs_east < 0 { '-' } else { '+' };
    let a = secs_east.unsigned_abs();
    let (h, m, s) = (a / 3600, (a / 60) % 60, a % 60);
    write!(w, "{sign}{h:02}")?;
    if m != 0 || s != 0 {
        write!(w, ":{m:02}")?;
    }
    if s != 0 {
        write!(w, ":{s:02}")?;
    }
    Ok(())
}

/// Writes a timestamp given in microseconds since 1970-01-01: the wall clock
/// itself when `zone` is `None` (`timestamp`), else the wall clock and offset
/// in `zone` (`timestamptz`).
pub fn write_timestamp<W: Write>(
    w: &mut W,
    v: i64,
    unit: TimeUnit,
    zone: Option<&SessionTimeZone>,
) -> Result<(), PgTypeError> {
    if let Some(inf) = timestamp_infinity(v) {
        return write_infinity(w, inf).map_err(fmt_error);
    }
    let micros = to_micros(v, unit).ok_or_else(PgTypeError::timestamp_out_of_range)?;
    let utc = DateTime::from_timestamp_micros(micros)
        .ok_or_else(PgTypeError::timestamp_out_of_range)?
        .naive_utc();
    let (local, offset) = match zone {
        None => (utc, None),
        Some(zone) => {
            let off = zone.offset_at_utc(&utc);
            let local = utc
                .checked_add_signed(chrono::Duration::seconds(i64::from(off)))
                .ok_or_else(PgTypeError::timestamp_out_of_range)?;
            (local, Some(off))
        }
    };
    write_naive(w, &local, offset).map_err(fmt_error)
}

fn write_naive<W: Write>(w: &mut W, dt: &NaiveDateTime, offset: Option<i32>) -> fmt::Result {
    let bc = write_ymd(w, dt.date())?;
    w.write_char(' ')?;
    let micros = dt.nanosecond() / 1_000;
    write_hms(w, u64::from(dt.hour()), dt.minute(), dt.second(), micros)?;
    if let Some(off) = offset {
        write_offset(w, off)?;
    }
    if bc {
        w.write_str(" BC")?;
    }
    Ok(())
}

/// Writes a `time` value given in `unit` since midnight: `13:45:00.25`.
pub fn write_time<W: Write>(w: &mut W, v: i64, unit: TimeUnit) -> Result<(), PgTypeError> {
    let micros = to_micros(v, unit).ok_or_else(|| PgTypeError::DatetimeOverflow {
        message: "time out of range".to_string(),
    })?;
    if !(0..=MICROS_PER_DAY).contains(&micros) {
        return Err(PgTypeError::DatetimeOverflow {
            message: "time out of range".to_string(),
        });
    }
    let secs = micros / 1_000_000;
    write_hms(
        w,
        (secs / 3600) as u64,
        ((secs / 60) % 60) as u32,
        (secs % 60) as u32,
        (micros % 1_000_000) as u32,
    )
    .map_err(fmt_error)
}

pub(crate) fn fmt_error(_: fmt::Error) -> PgTypeError {
    PgTypeError::internal("formatting into the output buffer failed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use chrono_tz::Tz;

    fn ts(v: i64, unit: TimeUnit, zone: Option<&SessionTimeZone>) -> String {
        let mut s = String::new();
        write_timestamp(&mut s, v, unit, zone).unwrap();
        s
    }

    const UTC: SessionTimeZone = SessionTimeZone::Named(Tz::UTC);

    #[test]
    fn timestamps_print_like_postgres() {
        // 2024-01-02 03:04:05 UTC
        let base = 1_704_164_645i64;
        let us = TimeUnit::Microsecond;
        assert_eq!(
            ts(base, TimeUnit::Second, Some(&UTC)),
            "2024-01-02 03:04:05+00"
        );
        assert_eq!(
            ts(base * 1_000_000 + 500_000, us, Some(&UTC)),
            "2024-01-02 03:04:05.5+00"
        );
        assert_eq!(
            ts(base * 1_000_000 + 123_456, us, None),
            "2024-01-02 03:04:05.123456"
        );
        assert_eq!(
            ts(
                base * 1_000_000_000 + 123_456_789,
                TimeUnit::Nanosecond,
                None
            ),
            "2024-01-02 03:04:05.123456"
        );
        assert_eq!(
            ts(base * 1000 + 10, TimeUnit::Millisecond, None),
            "2024-01-02 03:04:05.01"
        );
        let kolkata = SessionTimeZone::Named(Tz::Asia__Kolkata);
        assert_eq!(
            ts(base, TimeUnit::Second, Some(&kolkata)),
            "2024-01-02 08:34:05+05:30"
        );
        let la = SessionTimeZone::Named(Tz::America__Los_Angeles);
        assert_eq!(
            ts(base, TimeUnit::Second, Some(&la)),
            "2024-01-01 19:04:05-08"
        );
        let summer = 1_719_800_000i64; // 2024-07-01 02:13:20 UTC
        assert_eq!(
            ts(summer, TimeUnit::Second, Some(&la)),
            "2024-06-30 19:13:20-07"
        );
        let fixed = SessionTimeZone::Fixed(FixedOffset::east_opt(2 * 3600).unwrap());
        assert_eq!(
            ts(base, TimeUnit::Second, Some(&fixed)),
            "2024-01-02 05:04:05+02"
        );
        let paris = SessionTimeZone::Named(Tz::Europe__Paris);
        // 1900-01-01 00:00:00 UTC, Paris used LMT +00:09:21.
        assert_eq!(
            ts(-2_208_988_800, TimeUnit::Second, Some(&paris)),
            "1900-01-01 00:09:21+00:09:21"
        );
        assert_eq!(ts(i64::MAX, us, Some(&UTC)), "infinity");
        assert_eq!(ts(i64::MIN, us, None), "-infinity");
        // 0044-03-15 BC is astronomical year -43.
        let ides = NaiveDate::from_ymd_opt(-43, 3, 15).unwrap();
        let secs = i64::from(unix_days(ides)) * 86_400;
        assert_eq!(ts(secs, TimeUnit::Second, None), "0044-03-15 00:00:00 BC");
        assert_eq!(
            ts(secs, TimeUnit::Second, Some(&UTC)),
            "0044-03-15 00:00:00+00 BC"
        );
        assert_eq!(ts(-1, us, None), "1969-12-31 23:59:59.999999");
        assert_eq!(
            ts(-1, TimeUnit::Nanosecond, None),
            "1969-12-31 23:59:59.999999"
        );
    }

    #[test]
    fn dates_and_times_print_like_postgres() {
        let mut s = String::new();
        write_date(&mut s, 19724).unwrap();
        assert_eq!(s, "2024-01-02");
        s.clear();
        write_date(&mut s, i32::MAX).unwrap();
        assert_eq!(s, "infinity");
        s.clear();
        let d = NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
        write_date(&mut s, unix_days(d)).unwrap();
        assert_eq!(s, "0001-01-01 BC");
        s.clear();
        write_time(&mut s, 49_500_250_000, TimeUnit::Microsecond).unwrap();
        assert_eq!(s, "13:45:00.25");
        s.clear();
        write_time(&mut s, MICROS_PER_DAY, TimeUnit::Microsecond).unwrap();
        assert_eq!(s, "24:00:00");
        s.clear();
        write_offset(&mut s, -(8 * 3600 + 30 * 60)).unwrap();
        assert_eq!(s, "-08:30");
    }
}
