//! The words of date/time literals: splitting text into tokens, month and
//! weekday names, and the time zone abbreviations PostgreSQL knows by
//! default (`PST`, `CET`, ...).
//!
//! Tokens borrow from the input; nothing here allocates or indexes blindly.

/// One token of a date/time literal.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tok<'a> {
    Num(&'a str),
    Date(&'a str, u8),
    Time(&'a str),
    Offset(&'a str),
    Word(&'a str),
}

/// Splits the next token off `s`.
pub(crate) fn next_token(s: &str) -> Option<(Tok<'_>, &str)> {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
    let bytes = s.as_bytes();
    let first = *bytes.first()?;
    let end_of = |pred: &dyn Fn(usize, u8) -> bool| {
        bytes
            .iter()
            .enumerate()
            .skip(1)
            .find(|(i, b)| !pred(*i, **b))
            .map_or(bytes.len(), |(i, _)| i)
    };
    let split = |end: usize| (s.get(..end).unwrap_or(""), s.get(end..).unwrap_or(""));
    if first.is_ascii_digit() {
        let run = end_of(&|_, b| b.is_ascii_digit());
        match bytes.get(run) {
            Some(b':') => {
                let end = end_of(&|_, b| b.is_ascii_digit() || b == b':' || b == b'.');
                let (tok, rest) = split(end);
                Some((Tok::Time(tok), rest))
            }
            Some(&sep @ (b'-' | b'/' | b'.')) => {
                let end = end_of(&|i, b| {
                    let prev = bytes.get(i.wrapping_sub(1)).copied().unwrap_or(0);
                    b.is_ascii_digit()
                        || b == sep
                        || (b.is_ascii_alphabetic() && (prev == sep || prev.is_ascii_alphabetic()))
                });
                let (tok, rest) = split(end);
                Some((Tok::Date(tok, sep), rest))
            }
            _ => {
                let (tok, rest) = split(run);
                Some((Tok::Num(tok), rest))
            }
        }
    } else if first == b'+' || first == b'-' {
        let end = end_of(&|_, b| b.is_ascii_digit() || b == b':');
        let (tok, rest) = split(end);
        Some((Tok::Offset(tok), rest))
    } else if first.is_ascii_alphabetic() {
        let end = end_of(&|i, b| {
            let slash_before = bytes.get(..i).is_some_and(|p| p.contains(&b'/'));
            b.is_ascii_alphabetic()
                || b == b'/'
                || b == b'_'
                || (slash_before && (b.is_ascii_digit() || b == b'-' || b == b'+'))
        });
        let (tok, rest) = split(end);
        Some((Tok::Word(tok), rest))
    } else {
        // An unexpected character: a one-byte word that nothing accepts.
        let end = s.char_indices().nth(1).map_or(s.len(), |(i, _)| i);
        let (tok, rest) = split(end);
        Some((Tok::Word(tok), rest))
    }
}

pub(crate) fn month_number(lower: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if lower == "sept" {
        return Some(9);
    }
    MONTHS.iter().zip(1u32..).find_map(|(name, n)| {
        let ok =
            lower.len() >= 3 && name.starts_with(lower) && (lower.len() == 3 || lower == *name);
        ok.then_some(n)
    })
}

pub(crate) fn is_weekday(lower: &str) -> bool {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    DAYS.iter()
        .any(|d| lower.len() >= 3 && d.starts_with(lower) && (lower.len() == 3 || lower == *d))
}

/// A few of PostgreSQL's default time zone abbreviations (seconds east).
pub(crate) fn abbreviation_offset(lower: &str) -> Option<i32> {
    Some(match lower {
        "z" | "zulu" | "utc" | "gmt" | "ut" | "wet" => 0,
        "est" => -5 * 3600,
        "edt" | "ast" => -4 * 3600,
        "cst" => -6 * 3600,
        "cdt" => -5 * 3600,
        "mst" => -7 * 3600,
        "mdt" => -6 * 3600,
        "pst" => -8 * 3600,
        "pdt" => -7 * 3600,
        "akdt" => -8 * 3600,
        "akst" => -9 * 3600,
        "hst" => -10 * 3600,
        "cet" | "bst" | "west" => 3600,
        "cest" | "eet" | "ist" => 2 * 3600,
        "eest" | "msk" => 3 * 3600,
        "jst" | "kst" => 9 * 3600,
        "aest" => 10 * 3600,
        "aedt" => 11 * 3600,
        "acst" => 9 * 3600 + 1800,
        "awst" | "hkt" | "sgt" => 8 * 3600,
        "nzst" => 12 * 3600,
        "nzdt" => 13 * 3600,
        _ => return None,
    })
}
