//! Exact fragments of well-known client queries that DataFusion cannot run,
//! replaced by equivalents that give the same answer in LynxStore.
//!
//! Each entry says why the replacement is exact here. Prefer a general
//! rewrite (see `rewrite.rs`) to a new entry.

use std::borrow::Cow;

const FRAGMENTS: &[(&str, &str)] = &[
    // psql `\d+ TABLE`: storage options of the table and its TOAST table,
    // built with an ARRAY(subquery) constructor. LynxStore tables have no
    // reloptions and no TOAST table, for which PostgreSQL returns ''.
    (
        "pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')",
        "''",
    ),
];

pub fn replace_known_fragments(sql: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(sql);
    for (from, to) in FRAGMENTS {
        if out.contains(from) {
            out = Cow::Owned(out.replace(from, to));
        }
    }
    out
}
