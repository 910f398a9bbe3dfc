//! The real `psql`: queries, files, meta-commands, compared byte for byte.

use crate::harness::Server;

fn setup(server: &Server) {
    server.psql_ok(&[
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION, cores INTEGER)",
        "-c",
        "INSERT INTO cpu VALUES ('2024-01-01 00:00:00+00', 'a', 0.5, 4), ('2024-01-01 00:00:10+00', 'b', 1.25, 8)",
    ]);
}

#[test]
fn psql_queries_and_files_print_like_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    setup(&server);
    let out = server.psql_ok(&[
        "-c",
        "SELECT host, usage, cores, time FROM cpu ORDER BY host",
    ]);
    assert_eq!(
        out,
        " host | usage | cores |          time          \n\
         ------+-------+-------+------------------------\n \
         a    |   0.5 |     4 | 2024-01-01 00:00:00+00\n \
         b    |  1.25 |     8 | 2024-01-01 00:00:10+00\n\
         (2 rows)\n\n"
    );
    let file = dir.path().join("q.sql");
    std::fs::write(
        &file,
        "SELECT date_trunc('hour', time) AS hour, count(*) FROM cpu GROUP BY 1;\n\
         SELECT time_bucket(INTERVAL '5 minutes', time) AS b, max(usage) FROM cpu GROUP BY 1;\n\
         SELECT date_bin(INTERVAL '1 hour', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS b FROM cpu LIMIT 1;\n",
    )
    .unwrap();
    let out = server.psql_ok(&[
        "-A",
        "-t",
        "-v",
        "ON_ERROR_STOP=1",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out,
        "2024-01-01 00:00:00+00|2\n2024-01-01 00:00:00+00|1.25\n2024-01-01 00:00:00+00\n"
    );
}

#[test]
fn psql_meta_commands_describe_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    setup(&server);
    assert_eq!(
        server.psql_ok(&["-A", "-t", "-c", "\\dt"]),
        "public|cpu|table|lynx\n"
    );
    assert_eq!(
        server.psql_ok(&["-c", "\\d cpu"]),
        "                         Table \"public.cpu\"\n \
         Column |           Type           | Collation | Nullable | Default \n\
         --------+--------------------------+-----------+----------+---------\n \
         time   | timestamp with time zone |           | not null | \n \
         host   | text                     |           |          | \n \
         usage  | double precision         |           |          | \n \
         cores  | integer                  |           |          | \n\n"
    );
    server.psql_ok(&[
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "CREATE TABLE hosts (time TIMESTAMP NOT NULL, name VARCHAR(20), region CHARACTER VARYING, \
         price NUMERIC(10,2), qty NUMERIC(12,0), raw BYTEA, ok BOOLEAN, n SMALLINT, big BIGINT, r REAL, d DATE)",
    ]);
    assert_eq!(
        server.psql_ok(&["-A", "-t", "-c", "\\d hosts"]),
        "time|timestamp without time zone||not null|\n\
         name|character varying(20)|||\n\
         region|character varying|||\n\
         price|numeric(10,2)|||\n\
         qty|numeric(12,0)|||\n\
         raw|bytea|||\n\
         ok|boolean|||\n\
         n|smallint|||\n\
         big|bigint|||\n\
         r|real|||\n\
         d|date|||\n"
    );
    let dplus = server.psql_ok(&["-A", "-t", "-c", "\\d+ cpu"]);
    assert!(
        dplus.starts_with("time|timestamp with time zone|"),
        "{dplus}"
    );
    let dbs = server.psql_ok(&["-A", "-t", "-c", "\\l"]);
    assert!(dbs.lines().any(|l| l.starts_with("lynx|")), "{dbs}");
    let schemas = server.psql_ok(&["-A", "-t", "-c", "\\dn"]);
    assert!(
        schemas.lines().any(|l| l.starts_with("public|")),
        "{schemas}"
    );
}

#[test]
fn psql_reports_errors_with_sqlstate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let out = server.psql(&["-v", "VERBOSITY=verbose", "-c", "SELECT * FROM nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("ERROR:  42P01: relation \"nope\" does not exist"),
        "{err}"
    );
}
