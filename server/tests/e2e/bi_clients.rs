//! The catalog queries BI tools send (see ../shared/research/bi-clients.md),
//! verbatim, with the answers PostgreSQL gives.

use tokio_postgres::SimpleQueryMessage;

use crate::harness::Server;

async fn rows(c: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| r.iter().map(|v| Some(v.to_string())).collect())
        .collect()
}

const SEARCH_PATH: &str =
    "SELECT CASE WHEN trim(s[i]) = '\"$user\"' THEN user ELSE trim(s[i]) END \
    FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1), \
    array_upper(string_to_array(current_setting('search_path'),','),1)) as i, \
    string_to_array(current_setting('search_path'),',') s";

#[tokio::test]
async fn grafana_discovers_tables_and_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, host VARCHAR(32), usage DOUBLE PRECISION, \
         cores INTEGER, price NUMERIC(10,2), up BOOLEAN);
         INSERT INTO cpu VALUES ('2024-01-01 00:01:00+00', 'a', 1.0, 4, 1.50, true), \
         ('2024-01-01 00:04:00+00', 'a', 3.0, 4, 2.50, true), ('2024-01-01 00:06:00+00', 'b', 5.0, 8, NULL, false)",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(
            &c,
            "SELECT current_setting('server_version_num')::int/100 as version"
        )
        .await,
        strings(&[&["1600"]])
    );
    assert!(rows(
        &c,
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    )
    .await
    .is_empty());
    assert_eq!(
        rows(&c, "SELECT schema_name AS \"name\" FROM information_schema.schemata WHERE schema_name NOT IN ('information_schema','pg_catalog','pg_toast','_timescaledb_cache','_timescaledb_catalog','_timescaledb_internal','_timescaledb_config','timescaledb_information','timescaledb_experimental') ORDER BY schema_name").await,
        strings(&[&["public"]])
    );
    let tables = format!(
        "SELECT CASE WHEN quote_ident(table_schema) IN ({SEARCH_PATH}) THEN quote_ident(table_name) \
         ELSE quote_ident(table_schema) || '.' || quote_ident(table_name) END AS \"table\" \
         FROM information_schema.tables WHERE quote_ident(table_schema) NOT IN ('information_schema','pg_catalog',\
         '_timescaledb_cache','_timescaledb_catalog','_timescaledb_internal','_timescaledb_config',\
         'timescaledb_information','timescaledb_experimental') \
         ORDER BY CASE WHEN quote_ident(table_schema) IN ({SEARCH_PATH}) THEN 0 ELSE 1 END, 1"
    );
    // PostgreSQL answers `cpu`; the schema-qualified name is what
    // datafusion-pg-catalog's rewrite of this query yields, and Grafana
    // uses it as is in the column query below and in generated SQL.
    assert_eq!(rows(&c, &tables).await, strings(&[&["public.cpu"]]));
    let columns = "SELECT quote_ident(column_name) AS \"column\", data_type AS \"type\" \
        FROM information_schema.columns WHERE CASE WHEN array_length(parse_ident('public.cpu'),1) = 2 \
        THEN quote_ident(table_schema) = (parse_ident('public.cpu'))[1] \
        AND quote_ident(table_name) = (parse_ident('public.cpu'))[2] \
        ELSE quote_ident(table_name) = 'public.cpu' END";
    assert_eq!(
        rows(&c, columns).await,
        strings(&[
            &["time", "timestamp with time zone"],
            &["host", "character varying"],
            &["usage", "double precision"],
            &["cores", "integer"],
            &["price", "numeric"],
            &["up", "boolean"],
        ])
    );
    // What the $__timeGroup / $__timeFilter macros expand to.
    assert_eq!(
        rows(
            &c,
            "SELECT floor(extract(epoch from time)/300)*300 AS \"time\", avg(usage) AS \"usage\" \
             FROM cpu WHERE time BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T01:00:00Z' \
             GROUP BY 1 ORDER BY 1"
        )
        .await,
        strings(&[&["1704067200", "2"], &["1704067500", "5"]])
    );
    assert_eq!(
        rows(&c, "SELECT user, current_user").await,
        strings(&[&["lynx", "lynx"]])
    );
}

#[tokio::test]
async fn information_schema_describes_columns_and_keys_like_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let c = server.client().await;
    c.batch_execute(
        "CREATE TABLE readings (time TIMESTAMP NOT NULL, sensor TEXT, code VARCHAR(8), \
         value REAL, n BIGINT, PRIMARY KEY (sensor, time))",
    )
    .await
    .unwrap();
    let cols = rows(
        &c,
        "SELECT column_name, ordinal_position, is_nullable, data_type, character_maximum_length, \
         numeric_precision, numeric_scale, datetime_precision, udt_name \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'readings' \
         ORDER BY ordinal_position",
    )
    .await;
    let row = |v: [Option<&str>; 9]| v.iter().map(|s| s.map(str::to_string)).collect::<Vec<_>>();
    assert_eq!(
        cols,
        vec![
            row([
                Some("time"),
                Some("1"),
                Some("NO"),
                Some("timestamp without time zone"),
                None,
                None,
                None,
                Some("6"),
                Some("timestamp")
            ]),
            row([
                Some("sensor"),
                Some("2"),
                Some("NO"),
                Some("text"),
                None,
                None,
                None,
                None,
                Some("text")
            ]),
            row([
                Some("code"),
                Some("3"),
                Some("YES"),
                Some("character varying"),
                Some("8"),
                None,
                None,
                None,
                Some("varchar")
            ]),
            row([
                Some("value"),
                Some("4"),
                Some("YES"),
                Some("real"),
                None,
                Some("24"),
                None,
                None,
                Some("float4")
            ]),
            row([
                Some("n"),
                Some("5"),
                Some("YES"),
                Some("bigint"),
                None,
                Some("64"),
                Some("0"),
                None,
                Some("int8")
            ]),
        ]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT tc.constraint_name, kcu.column_name, kcu.ordinal_position \
             FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu \
               ON tc.constraint_name = kcu.constraint_name AND tc.table_name = kcu.table_name \
             WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_name = 'readings' \
             ORDER BY kcu.ordinal_position"
        )
        .await,
        // The key is what rows are de-duplicated on: the time column and
        // every tag (text columns are tags unless `WITH (tags = ...)`).
        strings(&[
            &["readings_pkey", "time", "1"],
            &["readings_pkey", "sensor", "2"],
            &["readings_pkey", "code", "3"]
        ])
    );
    assert_eq!(
        rows(
            &c,
            "SELECT table_type, is_insertable_into FROM information_schema.tables \
             WHERE table_schema = 'public'"
        )
        .await,
        strings(&[&["BASE TABLE", "YES"]])
    );
    assert!(rows(&c, "SELECT * FROM information_schema.views")
        .await
        .is_empty());
}
