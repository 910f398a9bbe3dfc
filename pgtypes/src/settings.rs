//! Session settings that change how values are written and read as text.
//!
//! Owns `TimeZone`, `extra_float_digits`, `DateStyle`, `IntervalStyle` and
//! `bytea_output` as PostgreSQL defines them. Binary formats never depend on
//! these settings; keep it that way (clients rely on it).

use std::fmt;
use std::str::FromStr;

use chrono::{FixedOffset, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::error::PgTypeError;

/// Session settings that change text output and input.
#[derive(Clone, Debug, PartialEq)]
pub struct PgFormatSettings {
    pub timezone: SessionTimeZone,
    pub extra_float_digits: i32,
    pub date_style: DateStyle,
    pub interval_style: IntervalStyle,
    pub bytea_output: ByteaOutput,
}

impl Default for PgFormatSettings {
    fn default() -> Self {
        PgFormatSettings {
            timezone: SessionTimeZone::Named(Tz::UTC),
            extra_float_digits: 1,
            date_style: DateStyle::default(),
            interval_style: IntervalStyle::Postgres,
            bytea_output: ByteaOutput::Hex,
        }
    }
}

impl PgFormatSettings {
    /// Parses a `TimeZone` setting: an IANA name (case-insensitive), `UTC`,
    /// `GMT`, `Z`, a number of hours east (`5`, `-3.5`, `+05`) or a POSIX
    /// offset where positive is *west* (`'+02:00'`, `UTC+2`: two hours
    /// behind UTC), exactly as PostgreSQL reads them.
    pub fn parse_timezone(s: &str) -> Result<SessionTimeZone, PgTypeError> {
        SessionTimeZone::parse(s).ok_or_else(|| PgTypeError::InvalidParameter {
            message: format!("invalid value for parameter \"TimeZone\": \"{s}\""),
        })
    }
}

/// The session `TimeZone`: a named zone with rules, or a fixed offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionTimeZone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl SessionTimeZone {
    /// The zone for a `TimeZone` setting, or `None` when it names no zone.
    ///
    /// As in PostgreSQL, a plain number is hours east of UTC (`5`, `-3.5`),
    /// while an offset written with a sign or a zone abbreviation is a POSIX
    /// specification where positive means *west*: `'+02:00'` and `'UTC+2'`
    /// are two hours behind UTC (shown as `-02`).
    pub fn parse(s: &str) -> Option<SessionTimeZone> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        if matches!(upper.as_str(), "UTC" | "GMT" | "Z" | "ZULU" | "UCT") {
            return Some(SessionTimeZone::Named(Tz::UTC));
        }
        if let Some(tz) = Tz::from_str(t).ok().or_else(|| {
            chrono_tz::TZ_VARIANTS
                .iter()
                .find(|tz| tz.name().eq_ignore_ascii_case(t))
                .copied()
        }) {
            return Some(SessionTimeZone::Named(tz));
        }
        if let Ok(hours) = t.parse::<f64>() {
            let secs = (hours * 3600.0).round();
            if secs.abs() < 168.0 * 3600.0 {
                return FixedOffset::east_opt(secs as i32).map(SessionTimeZone::Fixed);
            }
            return None;
        }
        posix_offset_west(t)
            .and_then(|west| FixedOffset::east_opt(-west))
            .map(SessionTimeZone::Fixed)
    }

    /// Seconds east of UTC in force at the UTC instant `utc`.
    pub fn offset_at_utc(&self, utc: &NaiveDateTime) -> i32 {
        match self {
            SessionTimeZone::Named(tz) => tz.offset_from_utc_datetime(utc).fix().local_minus_utc(),
            SessionTimeZone::Fixed(off) => off.local_minus_utc(),
        }
    }

    /// Seconds east of UTC for the wall-clock time `local`, with PostgreSQL's
    /// rules: a time skipped by a forward jump takes the offset before the
    /// jump; an ambiguous time takes the offset after a backward jump.
    pub fn offset_for_local(&self, local: &NaiveDateTime) -> i32 {
        match self {
            SessionTimeZone::Fixed(off) => off.local_minus_utc(),
            SessionTimeZone::Named(tz) => match tz.offset_from_local_datetime(local) {
                chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
                chrono::LocalResult::Ambiguous(a, b) => {
                    a.fix().local_minus_utc().min(b.fix().local_minus_utc())
                }
                chrono::LocalResult::None => {
                    let before = *local - chrono::Duration::hours(24);
                    tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
                }
            },
        }
    }
}

/// A named zone prints its name; a fixed offset prints as the POSIX
/// specification that [`SessionTimeZone::parse`] reads back (`-02:00` for
/// two hours east).
impl fmt::Display for SessionTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionTimeZone::Named(tz) => f.write_str(tz.name()),
            SessionTimeZone::Fixed(off) => {
                // Always with minutes, so that it is not read as plain hours.
                let west = -off.local_minus_utc();
                let sign = if west < 0 { '-' } else { '+' };
                let a = west.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", a / 3600, (a / 60) % 60)?;
                if a % 60 != 0 {
                    write!(f, ":{:02}", a % 60)?;
                }
                Ok(())
            }
        }
    }
}

/// A POSIX zone without daylight rule: an optional abbreviation (`UTC`,
/// `<+03>`) and an offset `[+-]hh[:mm[:ss]]` in seconds *west* of UTC.
fn posix_offset_west(s: &str) -> Option<i32> {
    let rest = if let Some(r) = s.strip_prefix('<') {
        r.split_once('>')?.1
    } else {
        s.trim_start_matches(|c: char| c.is_ascii_alphabetic())
    };
    let named = rest.len() != s.len();
    if named && s.len() - rest.len() < 3 && !s.starts_with('<') {
        return None;
    }
    let signed = match rest.as_bytes().first()? {
        b'+' | b'-' => rest.to_string(),
        b'0'..=b'9' if named => format!("+{rest}"),
        _ => return None,
    };
    parse_offset_seconds(&signed).filter(|_| !signed.contains(|c: char| c.is_ascii_alphabetic()))
}

/// Parses `+HH`, `+HH:MM`, `+HH:MM:SS`, `+HHMM` (sign required) into seconds east.
pub(crate) fn parse_offset_seconds(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, s.get(1..)?),
        b'-' => (-1, s.get(1..)?),
        _ => return None,
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let mut parts = rest.split(':');
    let first = parts.next()?;
    let (h, m0) = if first.len() == 4 && !rest.contains(':') {
        (
            first.get(..2)?.parse::<i32>().ok()?,
            first.get(2..)?.parse::<i32>().ok()?,
        )
    } else if first.len() <= 2 {
        (first.parse::<i32>().ok()?, 0)
    } else {
        return None;
    };
    let m = match parts.next() {
        Some(p) if p.len() == 2 => p.parse::<i32>().ok()?,
        Some(_) => return None,
        None => m0,
    };
    let sec = match parts.next() {
        Some(p) if p.len() == 2 => p.parse::<i32>().ok()?,
        Some(_) => return None,
        None => 0,
    };
    if parts.next().is_some() || h > 15 || m > 59 || sec > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

/// `DateStyle`: output format (only ISO is implemented) and field order for
/// ambiguous input such as `01/02/2024`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DateStyle {
    pub order: DateOrder,
}

/// Field order for reading ambiguous dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DateOrder {
    #[default]
    Mdy,
    Dmy,
    Ymd,
}

impl DateStyle {
    /// Parses a `DateStyle` setting such as `ISO, MDY` or `ISO, DMY`.
    pub fn parse(s: &str) -> Result<DateStyle, PgTypeError> {
        let mut style = DateStyle::default();
        for part in s.split(',') {
            match part.trim().to_ascii_uppercase().as_str() {
                "ISO" | "" => {}
                "MDY" | "US" | "NONEURO" | "NONEUROPEAN" => style.order = DateOrder::Mdy,
                "DMY" | "EURO" | "EUROPEAN" => style.order = DateOrder::Dmy,
                "YMD" => style.order = DateOrder::Ymd,
                _ => {
                    return Err(PgTypeError::InvalidParameter {
                        message: format!("invalid value for parameter \"DateStyle\": \"{s}\""),
                    })
                }
            }
        }
        Ok(style)
    }
}

impl fmt::Display for DateStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let order = match self.order {
            DateOrder::Mdy => "MDY",
            DateOrder::Dmy => "DMY",
            DateOrder::Ymd => "YMD",
        };
        write!(f, "ISO, {order}")
    }
}

/// `IntervalStyle`: only the default `postgres` style is implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IntervalStyle {
    #[default]
    Postgres,
}

impl IntervalStyle {
    /// Parses an `IntervalStyle` setting; only `postgres` is supported.
    pub fn parse(s: &str) -> Result<IntervalStyle, PgTypeError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "postgres" => Ok(IntervalStyle::Postgres),
            "postgres_verbose" | "sql_standard" | "iso_8601" => Err(PgTypeError::Unsupported {
                what: format!("IntervalStyle \"{s}\""),
            }),
            _ => Err(PgTypeError::InvalidParameter {
                message: format!("invalid value for parameter \"IntervalStyle\": \"{s}\""),
            }),
        }
    }
}

impl fmt::Display for IntervalStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("postgres")
    }
}

/// `bytea_output`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ByteaOutput {
    #[default]
    Hex,
    Escape,
}

impl ByteaOutput {
    /// Parses a `bytea_output` setting (`hex` or `escape`).
    pub fn parse(s: &str) -> Result<ByteaOutput, PgTypeError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hex" => Ok(ByteaOutput::Hex),
            "escape" => Ok(ByteaOutput::Escape),
            _ => Err(PgTypeError::InvalidParameter {
                message: format!("invalid value for parameter \"bytea_output\": \"{s}\""),
            }),
        }
    }
}

impl fmt::Display for ByteaOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ByteaOutput::Hex => "hex",
            ByteaOutput::Escape => "escape",
        })
    }
}
