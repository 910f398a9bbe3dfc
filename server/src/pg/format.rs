//! Session settings -> the value-formatting settings of `lynx_pgtypes`.

use lynx_pgtypes::PgFormatSettings;
use lynx_sql::settings::Settings;

pub fn format_settings(s: &Settings) -> PgFormatSettings {
    let mut f = s.format_settings();
    // Output has always used PostgreSQL's default DateStyle here.
    f.date_style = PgFormatSettings::default().date_style;
    f
}
