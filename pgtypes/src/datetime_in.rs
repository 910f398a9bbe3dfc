//! Date, time and timestamp text input with PostgreSQL's rules.
//!
//! Accepts ISO 8601 (`2024-01-02T03:04:05.5Z`), PostgreSQL's own forms
//! (`2024-01-02 03:04:05+05:30`, `Jan 2 2024 10:00 PST`, `01/02/2024` read
//! in the session DateStyle order), a trailing zone name
//! (`Europe/Paris`), `BC`, and the special words `epoch`, `infinity`,
//! `-infinity`, `now`, `today`, `tomorrow`, `yesterday`, `allballs`.
//! Syntax errors are 22007, fields out of range 22008. Input is untrusted:
//! no indexing, no panics.

use arrow::datatypes::TimeUnit;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use crate::datetime::{units_per_second, unix_days, Infinity, MICROS_PER_DAY};
use crate::datetime_words::{abbreviation_offset, is_weekday, month_number, next_token, Tok};
use crate::error::PgTypeError;
use crate::settings::{parse_offset_seconds, DateOrder, SessionTimeZone};

const NANOS_PER_DAY: i64 = MICROS_PER_DAY * 1_000;

/// A zone written in the input.
#[derive(Clone, Copy, Debug)]
enum ZoneSpec {
    Offset(i32),
    Zone(SessionTimeZone),
}

/// The fields of a date/time literal.
#[derive(Clone, Copy, Debug, Default)]
struct Fields {
    /// Year (as written, before `BC`), month, day.
    date: Option<Ymd>,
    /// Nanoseconds since midnight, up to and including 24:00:00.
    time: Option<i64>,
    zone: Option<ZoneSpec>,
}

/// Fields with the date resolved.
#[derive(Clone, Copy, Debug)]
struct Resolved {
    date: Option<NaiveDate>,
    time: Option<i64>,
    zone: Option<ZoneSpec>,
}

/// Year as written, month and day.
type Ymd = (i32, u32, u32);

/// What the tokens seen so far say.
#[derive(Default)]
struct State<'a> {
    fields: Fields,
    month_word: Option<u32>,
    /// Bare numbers for a month-name date (`Jan 2 2024`).
    nums: [&'a str; 3],
    nnums: usize,
    bc: bool,
    pm: Option<bool>,
}

/// A parsed literal: fields or a special word.
enum Parsed {
    Fields(Resolved),
    Infinity(Infinity),
    Epoch,
    Now,
    /// `today` (0), `tomorrow` (1), `yesterday` (-1).
    Today(i64),
    Allballs,
}

/// Where text input is going: the type name for messages, the session
/// zone and the date order.
pub(crate) struct DatetimeInput<'a> {
    pub type_name: &'static str,
    pub zone: &'a SessionTimeZone,
    pub order: DateOrder,
}

/// The common ISO form `YYYY-MM-DD HH:MM:SS[.fraction][Z|+-HH[:MM]]` (or
/// `T` between date and time), as COPY data and drivers send it, read
/// without the general tokenizer. None for anything else, including
/// values out of range, which the general parser then reads or rejects.
fn iso_timestamp(s: &str) -> Option<Resolved> {
    let b = s.as_bytes();
    let digit = |i: usize| -> Option<u32> {
        let c = *b.get(i)?;
        c.is_ascii_digit().then(|| u32::from(c - b'0'))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-')
        && at(7, b'-')
        && (at(10, b' ') || at(10, b'T'))
        && at(13, b':')
        && at(16, b':'))
    {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let (hour, minute, second) = (two(11)?, two(14)?, two(17)?);
    if year == 0 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, two(5)?, two(8)?)?;
    let mut i = 19;
    let mut nanos = 0i64;
    if at(i, b'.') {
        i += 1;
        let mut scale = 100_000_000;
        while let Some(d) = digit(i) {
            if scale == 0 {
                return None;
            }
            nanos += i64::from(d) * scale;
            scale /= 10;
            i += 1;
        }
        if i == 20 {
            return None;
        }
    }
    let zone = match b.get(i) {
        None => None,
        Some(b'Z') if i + 1 == b.len() => Some(ZoneSpec::Offset(0)),
        Some(b'+' | b'-') => Some(ZoneSpec::Offset(parse_offset_seconds(s.get(i..)?)?)),
        Some(_) => return None,
    };
    let secs = i64::from((hour * 60 + minute) * 60 + second);
    Some(Resolved {
        date: Some(date),
        time: Some(secs * 1_000_000_000 + nanos),
        zone,
    })
}

impl DatetimeInput<'_> {
    fn syntax(&self, s: &str) -> PgTypeError {
        PgTypeError::invalid_datetime(self.type_name, s)
    }

    /// Parses a timestamp into `unit` since 1970-01-01 UTC. With
    /// `with_zone`, a wall clock without offset is read in the session zone;
    /// without it, any offset in the input is ignored (as for `timestamp`).
    pub fn timestamp(&self, s: &str, unit: TimeUnit, with_zone: bool) -> Result<i64, PgTypeError> {
        if let Some(fields) = iso_timestamp(s) {
            return self.resolve_timestamp(s, fields, unit, with_zone);
        }
        self.timestamp_general(s, unit, with_zone)
    }

    /// [`Self::timestamp`] through the general tokenizer.
    fn timestamp_general(
        &self,
        s: &str,
        unit: TimeUnit,
        with_zone: bool,
    ) -> Result<i64, PgTypeError> {
        let fields = match self.parse(s)? {
            Parsed::Infinity(Infinity::Positive) => return Ok(i64::MAX),
            Parsed::Infinity(Infinity::Negative) => return Ok(i64::MIN),
            Parsed::Epoch => return Ok(0),
            Parsed::Now => {
                let now = chrono::Utc::now().timestamp_micros();
                return crate::datetime::from_micros(now, unit)
                    .ok_or_else(PgTypeError::timestamp_out_of_range);
            }
            Parsed::Today(delta) => Resolved {
                date: Some(self.today(delta)?),
                time: Some(0),
                zone: None,
            },
            Parsed::Allballs => return Err(self.syntax(s)),
            Parsed::Fields(f) => f,
        };
        self.resolve_timestamp(s, fields, unit, with_zone)
    }

    /// The timestamp that `fields` (parsed from `s`) name, in `unit`.
    fn resolve_timestamp(
        &self,
        s: &str,
        fields: Resolved,
        unit: TimeUnit,
        with_zone: bool,
    ) -> Result<i64, PgTypeError> {
        let date = fields.date.ok_or_else(|| self.syntax(s))?;
        if date < first_julian_day() {
            return Err(PgTypeError::DatetimeOverflow {
                message: format!("timestamp out of range: \"{s}\""),
            });
        }
        let tod = fields.time.unwrap_or(0);
        let per_sec = units_per_second(unit);
        let unit_nanos = 1_000_000_000 / per_sec;
        // A time of day (at most 24:00:00 in nanoseconds) fits in i64.
        let tod_units = (tod + unit_nanos / 2) / unit_nanos;
        let per_sec = i128::from(per_sec);
        let local = i128::from(unix_days(date)) * 86_400 * per_sec + i128::from(tod_units);
        // The wall clock is only needed to look an offset up in a zone.
        let naive = || {
            date.and_time(NaiveTime::MIN)
                .checked_add_signed(chrono::Duration::nanoseconds(tod))
                .ok_or_else(PgTypeError::timestamp_out_of_range)
        };
        let offset = match (with_zone, fields.zone) {
            (false, _) => 0,
            (true, Some(ZoneSpec::Offset(o))) => o,
            (true, Some(ZoneSpec::Zone(z))) => z.offset_for_local(&naive()?),
            (true, None) => self.zone.offset_for_local(&naive()?),
        };
        let utc = local - i128::from(offset) * per_sec;
        match i64::try_from(utc) {
            Ok(v) if v != i64::MAX && v != i64::MIN => Ok(v),
            _ => Err(PgTypeError::timestamp_out_of_range()),
        }
    }

    /// Parses a date into days since 1970-01-01.
    pub fn date(&self, s: &str) -> Result<i32, PgTypeError> {
        let date = match self.parse(s)? {
            Parsed::Infinity(Infinity::Positive) => return Ok(i32::MAX),
            Parsed::Infinity(Infinity::Negative) => return Ok(i32::MIN),
            Parsed::Epoch => return Ok(0),
            Parsed::Now => self.today(0)?,
            Parsed::Today(delta) => self.today(delta)?,
            Parsed::Allballs => return Err(self.syntax(s)),
            Parsed::Fields(f) => f.date.ok_or_else(|| self.syntax(s))?,
        };
        if date < first_julian_day() {
            return Err(PgTypeError::DatetimeOverflow {
                message: format!("date out of range: \"{s}\""),
            });
        }
        Ok(unix_days(date))
    }

    /// Parses a time of day into `unit` since midnight.
    pub fn time(&self, s: &str, unit: TimeUnit) -> Result<i64, PgTypeError> {
        let nanos = match self.parse(s)? {
            Parsed::Allballs => 0,
            Parsed::Fields(Resolved { time: Some(t), .. }) => t,
            _ => return Err(self.syntax(s)),
        };
        let unit_nanos = 1_000_000_000 / units_per_second(unit);
        Ok((nanos + unit_nanos / 2) / unit_nanos)
    }

    fn today(&self, delta: i64) -> Result<NaiveDate, PgTypeError> {
        let now = chrono::Utc::now().naive_utc();
        let off = self.zone.offset_at_utc(&now);
        let local: NaiveDateTime = now + chrono::Duration::seconds(i64::from(off));
        local
            .date()
            .checked_add_signed(chrono::Duration::days(delta))
            .ok_or_else(PgTypeError::timestamp_out_of_range)
    }

    fn parse(&self, s: &str) -> Result<Parsed, PgTypeError> {
        let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
        match t.to_ascii_lowercase().as_str() {
            "infinity" | "+infinity" => return Ok(Parsed::Infinity(Infinity::Positive)),
            "-infinity" => return Ok(Parsed::Infinity(Infinity::Negative)),
            "epoch" => return Ok(Parsed::Epoch),
            "now" => return Ok(Parsed::Now),
            "today" => return Ok(Parsed::Today(0)),
            "tomorrow" => return Ok(Parsed::Today(1)),
            "yesterday" => return Ok(Parsed::Today(-1)),
            "allballs" => return Ok(Parsed::Allballs),
            _ => {}
        }
        let mut st = State::default();
        let mut rest = t;
        while let Some((tok, tail)) = next_token(rest) {
            rest = tail;
            self.token(s, tok, &mut st)?;
        }
        self.finish(s, st).map(Parsed::Fields)
    }

    /// Folds one token into the parse state.
    fn token<'a>(&self, s: &str, tok: Tok<'a>, st: &mut State<'a>) -> Result<(), PgTypeError> {
        let f = &mut st.fields;
        match tok {
            Tok::Date(d, sep) if f.date.is_none() => f.date = Some(self.date_token(s, d, sep)?),
            Tok::Time(d) if f.time.is_none() => f.time = Some(self.time_token(s, d)?),
            Tok::Date(..) | Tok::Time(_) => return Err(self.syntax(s)),
            Tok::Offset(o) => {
                let secs = parse_offset_seconds(o).ok_or_else(|| self.syntax(s))?;
                f.zone = Some(ZoneSpec::Offset(secs));
            }
            Tok::Num(n) if n.len() == 8 && f.date.is_none() && st.month_word.is_none() => {
                let y = n.get(..4).unwrap_or("");
                let m = n.get(4..6).unwrap_or("");
                let d = n.get(6..).unwrap_or("");
                f.date = Some(self.ymd(s, y, m, d)?);
            }
            // ISO 8601 basic time after a date: `20240102T030405`.
            Tok::Num(n) if n.len() == 6 && f.date.is_some() && f.time.is_none() => {
                let (h, rest) = n.split_at(2);
                let (m, sec) = rest.split_at(2);
                f.time = Some(self.time_token(s, &format!("{h}:{m}:{sec}"))?);
            }
            Tok::Num(n) => {
                let slot = st.nums.get_mut(st.nnums).ok_or_else(|| self.syntax(s))?;
                *slot = n;
                st.nnums += 1;
            }
            Tok::Word(w) => {
                let lower = w.to_ascii_lowercase();
                if let Some(m) = month_number(&lower) {
                    st.month_word = Some(m);
                } else if is_weekday(&lower) || lower == "t" || lower == "ad" {
                } else if lower == "bc" {
                    st.bc = true;
                } else if lower == "am" || lower == "pm" {
                    st.pm = Some(lower == "pm");
                } else if let Some(off) = abbreviation_offset(&lower) {
                    f.zone = Some(ZoneSpec::Offset(off));
                } else if let Some(zone) = SessionTimeZone::parse(w) {
                    f.zone = Some(ZoneSpec::Zone(zone));
                } else {
                    return Err(self.syntax(s));
                }
            }
        }
        Ok(())
    }

    /// Resolves a month-name date, `BC` and `AM`/`PM` once all tokens are in.
    fn finish(&self, s: &str, st: State<'_>) -> Result<Resolved, PgTypeError> {
        let mut f = st.fields;
        if let Some(m) = st.month_word {
            if f.date.is_some() || st.nnums != 2 {
                return Err(self.syntax(s));
            }
            let [a, b, _] = st.nums;
            let (y, d) = if a.len() >= 3 { (a, b) } else { (b, a) };
            f.date = Some(self.ymd_num(s, y, m, d)?);
        } else if st.nnums != 0 {
            return Err(self.syntax(s));
        }
        let date = match f.date {
            Some((year, month, day)) => {
                let year = if st.bc { 1 - year } else { year };
                Some(
                    NaiveDate::from_ymd_opt(year, month, day)
                        .ok_or_else(|| PgTypeError::field_overflow(s))?,
                )
            }
            None => None,
        };
        if let (Some(pm), Some(time)) = (st.pm, f.time.as_mut()) {
            const HOUR: i64 = 3_600_000_000_000;
            let hour = *time / HOUR;
            if !(1..=12).contains(&hour) {
                return Err(PgTypeError::field_overflow(s));
            }
            if pm && hour < 12 {
                *time += 12 * HOUR;
            } else if !pm && hour == 12 {
                *time -= 12 * HOUR;
            }
        }
        Ok(Resolved {
            date,
            time: f.time,
            zone: f.zone,
        })
    }

    /// `2024-01-02`, `01/02/2024` (DateStyle order), `02-Jan-2024`.
    fn date_token(&self, s: &str, d: &str, sep: u8) -> Result<Ymd, PgTypeError> {
        let mut parts = d.split(char::from(sep));
        let (Some(p0), Some(p1), Some(p2), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(self.syntax(s));
        };
        let month_of = |p: &str| month_number(&p.to_ascii_lowercase());
        if let Some(m) = month_of(p1) {
            let (y, d) = if p0.len() >= 3 { (p0, p2) } else { (p2, p0) };
            return self.ymd_num(s, y, m, d);
        }
        if let Some(m) = month_of(p0) {
            return self.ymd_num(s, p2, m, p1);
        }
        if p0.len() >= 3 {
            return self.ymd(s, p0, p1, p2);
        }
        match self.order {
            DateOrder::Mdy => self.ymd(s, p2, p0, p1),
            DateOrder::Dmy => self.ymd(s, p2, p1, p0),
            DateOrder::Ymd => self.ymd(s, p0, p1, p2),
        }
    }

    fn ymd(&self, s: &str, y: &str, m: &str, d: &str) -> Result<Ymd, PgTypeError> {
        let m = digits(m).ok_or_else(|| self.syntax(s))?;
        let m = u32::try_from(m).map_err(|_| PgTypeError::field_overflow(s))?;
        self.ymd_num(s, y, m, d)
    }

    fn ymd_num(&self, s: &str, y: &str, m: u32, d: &str) -> Result<Ymd, PgTypeError> {
        let year = digits(y).ok_or_else(|| self.syntax(s))?;
        let day = digits(d).ok_or_else(|| self.syntax(s))?;
        let mut year = i32::try_from(year).map_err(|_| PgTypeError::field_overflow(s))?;
        if y.len() <= 2 {
            year += if year < 70 { 2000 } else { 1900 };
        }
        let day = u32::try_from(day).map_err(|_| PgTypeError::field_overflow(s))?;
        if year == 0 || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
            return Err(PgTypeError::field_overflow(s));
        }
        Ok((year, m, day))
    }

    /// `HH:MM`, `HH:MM:SS`, `HH:MM:SS.ffffff` -> nanoseconds since midnight.
    fn time_token(&self, s: &str, t: &str) -> Result<i64, PgTypeError> {
        let mut parts = t.split(':');
        let h = parts
            .next()
            .and_then(digits)
            .ok_or_else(|| self.syntax(s))?;
        let m = parts
            .next()
            .and_then(digits)
            .ok_or_else(|| self.syntax(s))?;
        let (sec, nanos) = match parts.next() {
            None => (0, 0),
            Some(p) => {
                let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
                let sec = digits(whole).ok_or_else(|| self.syntax(s))?;
                (sec, fraction_nanos(frac).ok_or_else(|| self.syntax(s))?)
            }
        };
        if parts.next().is_some() {
            return Err(self.syntax(s));
        }
        let total = h
            .checked_mul(3600)
            .and_then(|v| v.checked_add(m * 60 + sec))
            .and_then(|v| v.checked_mul(1_000_000_000))
            .and_then(|v| v.checked_add(nanos));
        let in_range = m < 60 && sec <= 60 && h <= 24;
        match total {
            Some(n) if in_range && n <= NANOS_PER_DAY => Ok(n),
            _ => Err(PgTypeError::field_overflow(s)),
        }
    }
}

/// 4714-11-24 BC, the first day PostgreSQL dates and timestamps can hold.
fn first_julian_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(-4713, 11, 24).unwrap_or(NaiveDate::MIN)
}

/// ASCII digits as a number; `None` for anything else or overflow.
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Fraction digits (after the point) as nanoseconds, rounded.
fn fraction_nanos(frac: &str) -> Option<i64> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0i64;
    for i in 0..9 {
        let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
        nanos = nanos * 10 + d;
    }
    if frac.as_bytes().get(9).is_some_and(|b| *b >= b'5') {
        nanos += 1;
    }
    Some(nanos)
}

#[cfg(test)]
mod iso_fast_path {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The ISO fast path reads exactly what the general parser reads,
        /// and leaves everything it cannot read to it.
        #[test]
        fn agrees_with_the_general_parser(
            year in 0u32..10_000, month in 0u32..14, day in 0u32..33,
            hour in 0u32..26, minute in 0u32..61, second in 0u32..61,
            fraction in proptest::option::of("[0-9]{0,11}"),
            sep in prop_oneof![Just(' '), Just('T')],
            zone in prop_oneof![Just(""), Just("Z"), Just("+05:30"), Just("-08"), Just("+0530"),
                                Just("+16"), Just("-03:00:00"), Just(" UTC"), Just("+5")],
            zone_name in prop_oneof![Just("UTC"), Just("Europe/Paris"), Just("America/New_York")],
            with_zone in any::<bool>(),
        ) {
            let frac = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            let s = format!("{year:04}-{month:02}-{day:02}{sep}{hour:02}:{minute:02}:{second:02}{frac}{zone}");
            let tz = SessionTimeZone::parse(zone_name).unwrap();
            let input = DatetimeInput { type_name: "timestamp", zone: &tz, order: DateOrder::default() };
            let general = input.timestamp_general(&s, TimeUnit::Microsecond, with_zone);
            match iso_timestamp(&s) {
                Some(_) => prop_assert_eq!(
                    input.timestamp(&s, TimeUnit::Microsecond, with_zone).ok(), general.ok(), "{}", s),
                None => {
                    let plain = year > 0 && hour < 24 && minute < 60 && second < 60
                        && frac.len() != 1 && frac.len() <= 10
                        && ["", "Z", "+05:30", "-08", "+0530", "-03:00:00", "+5"].contains(&zone);
                    if plain {
                        // Only an impossible date may fall through.
                        prop_assert!(NaiveDate::from_ymd_opt(year as i32, month, day).is_none(), "{}", s);
                    }
                }
            }
        }
    }
}
