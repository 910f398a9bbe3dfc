//! Session settings -> the value-formatting settings of `lynx_pgtypes`.

use lynx_pgtypes::{PgFormatSettings, SessionTimeZone};
use lynx_sql::settings::Settings;

pub fn format_settings(s: &Settings) -> PgFormatSettings {
    let mut f = PgFormatSettings::default();
    if let Some(tz) = SessionTimeZone::parse(&s.value("TimeZone")) {
        f.timezone = tz;
    }
    if let Ok(d) = s.value("extra_float_digits").parse() {
        f.extra_float_digits = d;
    }
    f
}
