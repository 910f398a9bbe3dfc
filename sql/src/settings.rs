//! Session settings (PostgreSQL GUCs) for SET, SHOW and current_setting().
//!
//! Every setting a driver or BI tool is known to read or write on connect is
//! here with PostgreSQL 16's default. Names are case-insensitive; SHOW reports
//! the canonical spelling. Settings marked `report` are sent to the client as
//! ParameterStatus when they change, as PostgreSQL does.

use std::collections::BTreeMap;

use crate::error::{Result, SqlError, StatusCode};

pub const SERVER_VERSION: &str = "16.4";
pub const SERVER_VERSION_NUM: &str = "160004";

struct Guc {
    name: &'static str,
    default: &'static str,
    report: bool,
    description: &'static str,
}

const fn guc(
    name: &'static str,
    default: &'static str,
    report: bool,
    description: &'static str,
) -> Guc {
    Guc {
        name,
        default,
        report,
        description,
    }
}

const GUCS: &[Guc] = &[
    guc("application_name", "", true, "Sets the application name to be reported in statistics and logs."),
    guc("bytea_output", "hex", false, "Sets the output format for bytea."),
    guc("client_encoding", "UTF8", true, "Sets the client's character set encoding."),
    guc("client_min_messages", "notice", false, "Sets the message levels that are sent to the client."),
    guc("DateStyle", "ISO, MDY", true, "Sets the display format for date and time values."),
    guc("default_transaction_isolation", "read committed", false, "Sets the transaction isolation level of each new transaction."),
    guc("default_transaction_read_only", "off", true, "Sets the default read-only status of new transactions."),
    guc("escape_string_warning", "on", false, "Warn about backslash escapes in ordinary string literals."),
    guc("extra_float_digits", "1", false, "Sets the number of digits displayed for floating-point values."),
    guc("idle_in_transaction_session_timeout", "0", false, "Sets the maximum allowed idle time between queries, when in a transaction."),
    guc("in_hot_standby", "off", true, "Shows whether hot standby is currently active."),
    guc("integer_datetimes", "on", true, "Shows whether datetimes are integer based."),
    guc("IntervalStyle", "postgres", true, "Sets the display format for interval values."),
    guc("is_superuser", "on", true, "Shows whether the current user is a superuser."),
    guc("lc_collate", "C", false, "Shows the collation order locale."),
    guc("lc_ctype", "C", false, "Shows the character classification and case conversion locale."),
    guc("lc_messages", "C", false, "Sets the language in which messages are displayed."),
    guc("lc_monetary", "C", false, "Sets the locale for formatting monetary amounts."),
    guc("lc_numeric", "C", false, "Sets the locale for formatting numbers."),
    guc("lc_time", "C", false, "Sets the locale for formatting date and time values."),
    guc("lock_timeout", "0", false, "Sets the maximum allowed duration of any wait for a lock."),
    guc("max_connections", "100", false, "Sets the maximum number of concurrent connections."),
    guc("max_identifier_length", "63", false, "Shows the maximum identifier length."),
    guc("row_security", "on", false, "Enable row security."),
    guc("search_path", "\"$user\", public", false, "Sets the schema search order for names that are not schema-qualified."),
    guc("server_encoding", "UTF8", true, "Shows the server (database) character set encoding."),
    guc("server_version", SERVER_VERSION, true, "Shows the server version."),
    guc("server_version_num", SERVER_VERSION_NUM, false, "Shows the server version as an integer."),
    guc("session_authorization", "lynx", true, "Sets the session user name."),
    guc("standard_conforming_strings", "on", true, "Causes '...' strings to treat backslashes literally."),
    guc("statement_timeout", "0", false, "Sets the maximum allowed duration of any statement."),
    guc("synchronous_commit", "on", false, "Sets the current transaction's synchronization level."),
    guc("TimeZone", "UTC", true, "Sets the time zone for displaying and interpreting time stamps."),
    guc("timezone_abbreviations", "Default", false, "Selects a file of time zone abbreviations."),
    guc("transaction_isolation", "read committed", false, "Sets the current transaction's isolation level."),
    guc("transaction_read_only", "off", false, "Sets the current transaction's read-only status."),
    guc("work_mem", "4MB", false, "Sets the maximum memory to be used for query workspaces."),
    guc("xmloption", "content", false, "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments."),
];

fn find(name: &str) -> Option<&'static Guc> {
    GUCS.iter().find(|g| g.name.eq_ignore_ascii_case(name))
}

/// One session's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<String, String>,
    /// Custom (dotted) settings such as `myapp.tenant`.
    custom: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            values: GUCS
                .iter()
                .map(|g| (g.name.to_string(), g.default.to_string()))
                .collect(),
            custom: BTreeMap::new(),
        }
    }
}

/// What a successful SET changed, for ParameterStatus.
pub struct Changed {
    pub name: &'static str,
    pub value: String,
    pub report: bool,
}

impl Settings {
    /// The canonical name and current value; 42704 for unknown names.
    pub fn get(&self, name: &str) -> Result<(String, String)> {
        if let Some(g) = find(name) {
            let v = self.values.get(g.name).cloned().unwrap_or_default();
            return Ok((g.name.to_string(), v));
        }
        let lower = name.to_ascii_lowercase();
        if let Some(v) = self.custom.get(&lower) {
            return Ok((lower, v.clone()));
        }
        Err(unknown(name))
    }

    pub fn value(&self, name: &str) -> String {
        self.get(name).map(|(_, v)| v).unwrap_or_default()
    }

    /// Sets a value after validating it; `DEFAULT` restores the default.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<Option<Changed>> {
        let Some(g) = find(name) else {
            if name.contains('.') {
                let lower = name.to_ascii_lowercase();
                match value {
                    Some(v) => self.custom.insert(lower, v.to_string()),
                    None => self.custom.remove(&lower),
                };
                return Ok(None);
            }
            return Err(unknown(name));
        };
        if matches!(
            g.name,
            "server_version"
                | "server_version_num"
                | "server_encoding"
                | "integer_datetimes"
                | "max_identifier_length"
                | "in_hot_standby"
                | "lc_collate"
                | "lc_ctype"
                | "is_superuser"
        ) {
            return Err(SqlError::new(
                StatusCode::InvalidParameterValue,
                format!("parameter \"{}\" cannot be changed", g.name),
            )
            .with_sqlstate("55P02"));
        }
        let value = match value {
            None => g.default.to_string(),
            Some(v) => normalize(g.name, v)?,
        };
        self.values.insert(g.name.to_string(), value.clone());
        Ok(Some(Changed {
            name: g.name,
            value,
            report: g.report,
        }))
    }

    /// Rows for `SHOW ALL`: (name, setting, description).
    pub fn all(&self) -> Vec<(String, String, String)> {
        let mut rows: Vec<_> = GUCS
            .iter()
            .map(|g| {
                (
                    g.name.to_string(),
                    self.value(g.name),
                    g.description.to_string(),
                )
            })
            .collect();
        rows.sort_by_key(|r| r.0.to_ascii_lowercase());
        rows
    }

    /// The settings sent as ParameterStatus after startup.
    pub fn reported(&self) -> Vec<(String, String)> {
        GUCS.iter()
            .filter(|g| g.report)
            .map(|g| (g.name.to_string(), self.value(g.name)))
            .collect()
    }

    /// statement_timeout in milliseconds (0 = none).
    pub fn statement_timeout_ms(&self) -> u64 {
        parse_duration_ms(&self.value("statement_timeout")).unwrap_or(0)
    }
}

fn unknown(name: &str) -> SqlError {
    SqlError::new(
        StatusCode::UndefinedObject,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

fn invalid(name: &str, value: &str) -> SqlError {
    SqlError::new(
        StatusCode::InvalidParameterValue,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

fn normalize(name: &'static str, value: &str) -> Result<String> {
    match name {
        "TimeZone" => match lynx_pgtypes::SessionTimeZone::parse(value) {
            Some(lynx_pgtypes::SessionTimeZone::Named(tz)) => Ok(tz.name().to_string()),
            Some(lynx_pgtypes::SessionTimeZone::Fixed(_)) => Ok(value.trim().to_string()),
            None => Err(invalid(name, value)),
        },
        "client_encoding" => match value.to_ascii_uppercase().replace(['-', '_'], "").as_str() {
            "UTF8" | "UNICODE" => Ok("UTF8".into()),
            "SQLASCII" => Ok("SQL_ASCII".into()),
            _ => Err(SqlError::new(
                StatusCode::Unsupported,
                format!("conversion between {value} and UTF8 is not supported"),
            )),
        },
        "DateStyle" => {
            let mut fmt = "ISO";
            let mut order = "MDY";
            for part in value.split(',').map(|p| p.trim().to_ascii_uppercase()) {
                match part.as_str() {
                    "ISO" => fmt = "ISO",
                    "MDY" | "US" | "NONEURO" | "NONEUROPEAN" => order = "MDY",
                    "DMY" | "EURO" | "EUROPEAN" => order = "DMY",
                    "YMD" => order = "YMD",
                    "POSTGRES" | "SQL" | "GERMAN" => {
                        return Err(SqlError::unsupported(format!(
                            "DateStyle \"{part}\" is not supported; LynxStore prints dates in ISO style"
                        )))
                    }
                    _ => return Err(invalid(name, value)),
                }
            }
            Ok(format!("{fmt}, {order}"))
        }
        "IntervalStyle" => match value.to_ascii_lowercase().as_str() {
            "postgres" => Ok("postgres".into()),
            _ => Err(SqlError::unsupported(format!(
                "IntervalStyle \"{value}\" is not supported; LynxStore prints intervals in postgres style"
            ))),
        },
        "extra_float_digits" => match value.trim().parse::<i32>() {
            Ok(v) if (-15..=3).contains(&v) => Ok(v.to_string()),
            Ok(v) => Err(SqlError::new(
                StatusCode::InvalidParameterValue,
                format!("{v} is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"),
            )),
            Err(_) => Err(SqlError::new(
                StatusCode::InvalidParameterValue,
                format!("invalid value for parameter \"extra_float_digits\": \"{value}\""),
            )),
        },
        "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => parse_duration_ms(value)
            .map(|ms| if ms == 0 { "0".to_string() } else { format_ms(ms) })
            .ok_or_else(|| invalid(name, value)),
        "bytea_output" => match value.to_ascii_lowercase().as_str() {
            "hex" => Ok("hex".into()),
            _ => Err(SqlError::unsupported("bytea_output other than hex is not supported")),
        },
        "transaction_isolation" | "default_transaction_isolation" => Ok(value.to_ascii_lowercase()),
        "standard_conforming_strings" => match value.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" | "yes" => Ok("on".into()),
            _ => Err(SqlError::unsupported("standard_conforming_strings must be on")),
        },
        _ => Ok(value.to_string()),
    }
}

/// '5000', '5s', '5000ms', '1min', '2h' -> milliseconds.
pub fn parse_duration_ms(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    (n >= 0.0).then(|| (n * mult).round() as u64)
}

fn format_ms(ms: u64) -> String {
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl Settings {
    /// The value-formatting settings of `lynx_pgtypes` for this session:
    /// TimeZone, extra_float_digits and DateStyle (for text input order).
    pub fn format_settings(&self) -> lynx_pgtypes::PgFormatSettings {
        let mut f = lynx_pgtypes::PgFormatSettings::default();
        if let Some(tz) = lynx_pgtypes::SessionTimeZone::parse(&self.value("TimeZone")) {
            f.timezone = tz;
        }
        if let Ok(d) = self.value("extra_float_digits").parse() {
            f.extra_float_digits = d;
        }
        if let Ok(d) = lynx_pgtypes::DateStyle::parse(&self.value("DateStyle")) {
            f.date_style = d;
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_show_canonical_spelling() {
        let mut s = Settings::default();
        assert_eq!(
            s.get("timezone").unwrap(),
            ("TimeZone".into(), "UTC".into())
        );
        s.set("TIMEZONE", Some("Europe/Paris")).unwrap();
        assert_eq!(s.value("TimeZone"), "Europe/Paris");
        assert_eq!(
            s.get("nope").unwrap_err().status,
            StatusCode::UndefinedObject
        );
    }

    #[test]
    fn values_are_validated_and_normalized() {
        let mut s = Settings::default();
        s.set("statement_timeout", Some("5000")).unwrap();
        assert_eq!(s.value("statement_timeout"), "5s");
        assert_eq!(s.statement_timeout_ms(), 5000);
        s.set("DateStyle", Some("iso, dmy")).unwrap();
        assert_eq!(s.value("DateStyle"), "ISO, DMY");
        assert!(s.set("extra_float_digits", Some("9")).is_err());
        assert!(s.set("TimeZone", Some("Mars/Olympus")).is_err());
        s.set("myapp.tenant", Some("x")).unwrap();
        assert_eq!(s.value("myapp.tenant"), "x");
        s.set("DateStyle", None).unwrap();
        assert_eq!(s.value("DateStyle"), "ISO, MDY");
    }
}
