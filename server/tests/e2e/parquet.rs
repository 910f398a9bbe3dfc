//! Parquet in and out: files written by pyarrow (generated here) with every
//! type imported by `lynxstore import` and by `COPY ... FROM 'f' (FORMAT
//! parquet)` with exact values; export and re-import; bad files.

use std::path::Path;
use std::process::{Command, Output};

use crate::harness::Server;

/// Writes Parquet files with pyarrow (`scripts/test.sh` installs it).
fn pyarrow(dir: &Path, script: &str) {
    python(
        dir,
        &format!(
            "import datetime, decimal, sys\nimport pyarrow as pa, pyarrow.parquet as pq\nD = sys.argv[1]\n{script}"
        ),
    );
}

const ALL_TYPES: &str = r#"
utc = datetime.timezone.utc
t = pa.table({
    'time': pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=utc), datetime.datetime(2024, 1, 3, tzinfo=utc)], pa.timestamp('us', tz='UTC')),
    'ts_s': pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None], pa.timestamp('s')),
    'ts_ms': pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=utc), None], pa.timestamp('ms', tz='Europe/Paris')),
    'ts_ns': pa.array([1704164645123456000, None], pa.timestamp('ns')),
    'ts_ns_tz': pa.array([1704164645123456000, None], pa.timestamp('ns', tz='+05:30')),
    'd': pa.array([datetime.date(2024, 2, 29), None], pa.date32()),
    'i8': pa.array([-128, None], pa.int8()),
    'i16': pa.array([-32768, None], pa.int16()),
    'i32': pa.array([-2147483648, None], pa.int32()),
    'i64': pa.array([-9223372036854775808, None], pa.int64()),
    'u8': pa.array([255, None], pa.uint8()),
    'u16': pa.array([65535, None], pa.uint16()),
    'u32': pa.array([4294967295, None], pa.uint32()),
    'u64': pa.array([18446744073709551615, None], pa.uint64()),
    'f32': pa.array([1.5, None], pa.float32()),
    'f64': pa.array([0.1, None], pa.float64()),
    's': pa.array(['hello, "world"', None], pa.string()),
    'dict': pa.array(['host-a', None]).dictionary_encode(),
    'b': pa.array([True, None], pa.bool_()),
    'dec': pa.array([decimal.Decimal('-1234567.891'), None], pa.decimal128(10, 3)),
    'bin': pa.array([b'\xde\xad', None], pa.binary()),
})
pq.write_table(t, D + '/all.parquet', row_group_size=1)
"#;

/// `all.parquet` as COPY text prints it after `import --create`.
const ALL_TYPES_TEXT: &str = "2024-01-02 03:04:05.123456+00\t2024-01-02 03:04:05\t2024-01-02 03:04:05.123+00\t2024-01-02 03:04:05.123456\t2024-01-02 03:04:05.123456+00\t2024-02-29\t-128\t-32768\t-2147483648\t-9223372036854775808\t255\t65535\t4294967295\t18446744073709551615\t1.5\t0.1\thello, \"world\"\thost-a\tt\t-1234567.891\t\\\\xdead\n\
    2024-01-03 00:00:00+00\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n";

fn lynx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lynxstore"))
        .args(args)
        .output()
        .expect("run lynxstore")
}

fn lynx_ok(args: &[&str]) -> String {
    let out = lynx(args);
    assert!(
        out.status.success(),
        "lynxstore {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lynx_err(args: &[&str]) -> String {
    let out = lynx(args);
    assert!(!out.status.success(), "lynxstore {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

fn copy_text(server: &Server, table: &str) -> String {
    server.psql_ok(&[
        "-c",
        &format!("COPY (SELECT * FROM {table} ORDER BY time) TO STDOUT"),
    ])
}

#[test]
fn pyarrow_files_import_with_exact_values_and_round_trip_through_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pyarrow(d, ALL_TYPES);
    let data = d.join("data");
    let data_s = data.to_str().unwrap();
    let all = d.join("all.parquet");

    let out = lynx_ok(&[
        "import",
        all.to_str().unwrap(),
        "--table",
        "all_types",
        "--create",
        "--data-dir",
        data_s,
        "--quiet",
    ]);
    assert!(
        out.starts_with("imported 2 rows from 1 file(s) into \"all_types\""),
        "{out}"
    );
    let out = lynx_ok(&[
        "export",
        "--table",
        "all_types",
        "--out",
        d.join("export.parquet").to_str().unwrap(),
        "--data-dir",
        data_s,
    ]);
    assert_eq!(
        out,
        format!(
            "exported 2 rows from \"all_types\" to {}\n",
            d.join("export.parquet").display()
        )
    );
    // Re-import the export into a new table, and a directory (all files in it).
    std::fs::create_dir(d.join("dir")).unwrap();
    std::fs::copy(d.join("export.parquet"), d.join("dir/a.parquet")).unwrap();
    std::fs::copy(d.join("export.parquet"), d.join("dir/b.parquet")).unwrap();
    lynx_ok(&[
        "import",
        d.join("export.parquet").to_str().unwrap(),
        "--table",
        "again",
        "--create",
        "--data-dir",
        data_s,
    ]);
    let glob = format!("{}/dir/*.parquet", d.display());
    let out = lynx_ok(&[
        "import",
        &glob,
        "--table",
        "twice",
        "--create",
        "--data-dir",
        data_s,
    ]);
    assert!(out.starts_with("imported 4 rows from 2 file(s)"), "{out}");

    let server = Server::start_with(&data, &["--import-dir", d.to_str().unwrap()]);
    assert_eq!(copy_text(&server, "all_types"), ALL_TYPES_TEXT);
    assert_eq!(copy_text(&server, "again"), ALL_TYPES_TEXT);
    assert_eq!(
        server.psql_ok(&[
            "-A",
            "-t",
            "-c",
            "SELECT count(*), count(DISTINCT time) FROM twice"
        ]),
        "4|2\n"
    );
    // COPY FROM the pyarrow file into a table made with SQL, COPY TO a
    // Parquet file and back into another one.
    let ddl = "(time TIMESTAMPTZ NOT NULL, ts_s TIMESTAMP, ts_ms TIMESTAMPTZ, ts_ns TIMESTAMP, \
        ts_ns_tz TIMESTAMPTZ, d DATE, i8 SMALLINT, i16 SMALLINT, i32 INTEGER, i64 BIGINT, \
        u8 SMALLINT, u16 INTEGER, u32 BIGINT, u64 NUMERIC(20,0), f32 REAL, \
        f64 DOUBLE PRECISION, s TEXT, dict TEXT, b BOOLEAN, dec NUMERIC(10,3), bin BYTEA)";
    let out = server.psql_ok(&[
        "-c",
        &format!("CREATE TABLE all2 {ddl}"),
        "-c",
        &format!("CREATE TABLE all3 {ddl}"),
        "-c",
        "COPY all2 FROM 'all.parquet' (FORMAT parquet)",
        "-c",
        "COPY all2 TO 'copy_out.parquet' (FORMAT parquet)",
        "-c",
        "COPY all3 FROM 'copy_out.parquet' (FORMAT parquet)",
    ]);
    assert_eq!(out, "CREATE TABLE\nCREATE TABLE\nCOPY 2\nCOPY 2\nCOPY 2\n");
    assert_eq!(copy_text(&server, "all2"), ALL_TYPES_TEXT);
    assert_eq!(copy_text(&server, "all3"), ALL_TYPES_TEXT);
}

#[test]
fn parquet_into_an_existing_table_converts_types_and_rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    pyarrow(
        d,
        r#"
utc = datetime.timezone.utc
t0 = datetime.datetime(2024, 1, 1, tzinfo=utc)
good = pa.table({
    'time': pa.array([t0, t0 + datetime.timedelta(seconds=10)], pa.timestamp('ns', tz='UTC')),
    'host': pa.array(['a', 'b']).dictionary_encode(),
    'usage': pa.array([0.5, None], pa.float32()),
    'cores': pa.array([4, 8], pa.uint8()),
})
pq.write_table(good, D + '/good.parquet')
# Two row groups; the second has a NULL time: nothing may be stored.
bad_null = pa.table({'time': pa.array([t0, None], pa.timestamp('us', tz='UTC')), 'host': ['a', 'b']})
pq.write_table(bad_null, D + '/null_time.parquet', row_group_size=1)
# A u64 that does not fit the BIGINT column, in the second row group.
big = pa.table({'time': pa.array([t0, t0], pa.timestamp('us', tz='UTC')), 'big': pa.array([1, 2**63], pa.uint64())})
pq.write_table(big, D + '/overflow.parquet', row_group_size=1)
wrong = pa.table({'time': pa.array([t0], pa.timestamp('us', tz='UTC')), 'usage': ['high']})
pq.write_table(wrong, D + '/wrong_type.parquet')
extra = pa.table({'time': pa.array([t0], pa.timestamp('us', tz='UTC')), 'nope': [1]})
pq.write_table(extra, D + '/extra.parquet')
open(D + '/not.parquet', 'w').write('time,host\n2024-01-01,a\n')
hive = pa.table({'time': pa.array([t0, t0 + datetime.timedelta(seconds=5)], pa.timestamp('us', tz='UTC')), 'host': ['a', 'b'], 'usage': [1.0, 2.0]})
pq.write_to_dataset(hive, D + '/hive', partition_cols=['host'])
data = open(D + '/good.parquet', 'rb').read()
open(D + '/truncated.parquet', 'wb').write(data[: len(data) // 2])
"#,
    );
    let data = d.join("data");
    let data_s = data.to_str().unwrap();
    {
        let server = Server::start(&data);
        server.psql_ok(&[
            "-c",
            "CREATE TABLE cpu (time TIMESTAMPTZ NOT NULL, host TEXT, usage DOUBLE PRECISION, cores INTEGER, big BIGINT)",
        ]);
    }
    let f = |name: &str| d.join(name).to_str().unwrap().to_string();
    let import = |name: &str| {
        vec![
            "import".to_string(),
            f(name),
            "--table".into(),
            "cpu".into(),
            "--data-dir".into(),
            data_s.to_string(),
            "--quiet".into(),
        ]
    };
    let run_err = |name: &str| {
        let args = import(name);
        lynx_err(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let e = run_err("not.parquet");
    assert!(
        e.contains(&f("not.parquet")) && e.contains("is not a valid Parquet file"),
        "{e}"
    );
    let e = run_err("truncated.parquet");
    assert!(
        e.contains(&f("truncated.parquet")) && e.contains("is not a valid Parquet file"),
        "{e}"
    );
    let e = run_err("null_time.parquet");
    assert!(
        e.contains("row group 1")
            && e.contains("null value in column \"time\"")
            && e.contains("nothing was stored"),
        "{e}"
    );
    let e = run_err("overflow.parquet");
    assert!(
        e.contains("row group 1") && e.contains(&f("overflow.parquet")),
        "{e}"
    );
    let e = run_err("wrong_type.parquet");
    assert!(
        e.contains("column \"usage\" is double precision in table \"cpu\" but Utf8 in file"),
        "{e}"
    );
    let e = run_err("extra.parquet");
    assert!(
        e.contains("column \"nope\"") && e.contains("does not exist in table \"cpu\""),
        "{e}"
    );
    let e = lynx_err(&[
        "import",
        &f("good.parquet"),
        "--table",
        "nope",
        "--data-dir",
        data_s,
    ]);
    assert!(e.contains("pass --create"), "{e}");
    // A later bad file leaves the earlier good file imported, and says so.
    let e = lynx_err(&[
        "import",
        &f("good.parquet"),
        &f("null_time.parquet"),
        "--table",
        "cpu",
        "--data-dir",
        data_s,
        "--quiet",
    ]);
    assert!(
        e.contains("1 earlier file(s), 2 rows, stay imported"),
        "{e}"
    );
    // A Hive-style partitioned directory: host=a/..., host=b/...
    let out = lynx_ok(&[
        "import",
        &f("hive"),
        "--table",
        "hive",
        "--create",
        "--data-dir",
        data_s,
        "--quiet",
    ]);
    assert!(out.starts_with("imported 2 rows from 2 file(s)"), "{out}");

    let server = Server::start_with(&data, &["--import-dir", d.to_str().unwrap()]);
    assert_eq!(
        server.psql_ok(&[
            "-c",
            "COPY (SELECT time, host, usage, cores, big FROM cpu ORDER BY time) TO STDOUT"
        ]),
        "2024-01-01 00:00:00+00\ta\t0.5\t4\t\\N\n2024-01-01 00:00:10+00\tb\t\\N\t8\t\\N\n"
    );
    assert_eq!(
        server.psql_ok(&[
            "-c",
            "COPY (SELECT time, host, usage FROM hive ORDER BY time) TO STDOUT"
        ]),
        "2024-01-01 00:00:00+00\ta\t1\n2024-01-01 00:00:05+00\tb\t2\n"
    );
    // The same through COPY: bad files change nothing.
    for (file, code) in [
        ("null_time.parquet", "23502"),
        ("truncated.parquet", "22P04"),
        ("wrong_type.parquet", "42804"),
    ] {
        let out = server.psql(&[
            "-v",
            "VERBOSITY=verbose",
            "-c",
            &format!("COPY cpu FROM '{file}' (FORMAT parquet)"),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("ERROR:  {code}")),
            "{file}: {stderr}"
        );
    }
    assert_eq!(
        server.psql_ok(&["-c", "COPY cpu FROM 'good.parquet' (FORMAT parquet)"]),
        "COPY 2\n"
    );
    assert_eq!(
        server.psql_ok(&["-A", "-t", "-c", "SELECT count(*) FROM cpu"]),
        "4\n"
    );

    // POST /v1/import/parquet on the running server.
    let post = |path: &str, file: &str| {
        let body = std::fs::read(d.join(file)).unwrap();
        let (status, _, resp) = crate::http::request(server.http_port, "POST", path, &[], &body);
        (status, String::from_utf8(resp).unwrap())
    };
    assert_eq!(
        post("/v1/import/parquet?table=cpu", "good.parquet"),
        (200, r#"{"rows":2,"table":"cpu"}"#.to_string())
    );
    let (status, body) = post("/v1/import/parquet?table=cpu", "truncated.parquet");
    assert_eq!(status, 400);
    assert!(
        body.contains("\"22P04\"") && body.contains("request body is not a valid Parquet file"),
        "{body}"
    );
    let (status, body) = post("/v1/import/parquet?table=cpu", "null_time.parquet");
    assert_eq!(status, 400, "{body}");
    let (status, body) = post("/v1/import/parquet?table=fresh", "good.parquet");
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        post(
            "/v1/import/parquet?table=fresh&create=true&tags=host",
            "good.parquet"
        ),
        (200, r#"{"rows":2,"table":"fresh"}"#.to_string())
    );
    assert_eq!(
        server.psql_ok(&[
            "-A",
            "-t",
            "-c",
            "SELECT (SELECT count(*) FROM cpu), (SELECT count(*) FROM fresh)"
        ]),
        "6|2\n"
    );
    // lynxstore import --url: the CLI against the running server.
    let url = format!("http://127.0.0.1:{}", server.http_port);
    let out = lynx_ok(&[
        "import",
        &f("good.parquet"),
        "--table",
        "cpu",
        "--url",
        &url,
        "--quiet",
    ]);
    assert!(
        out.starts_with("imported 2 rows from 1 file(s) into \"cpu\""),
        "{out}"
    );
    let e = lynx_err(&[
        "import",
        &f("null_time.parquet"),
        "--table",
        "cpu",
        "--url",
        &url,
    ]);
    assert!(
        e.contains("SQLSTATE 23502") && e.contains("nothing from this file was stored"),
        "{e}"
    );
    assert_eq!(
        server.psql_ok(&["-A", "-t", "-c", "SELECT count(*) FROM cpu"]),
        "8\n"
    );
}

/// Runs a Python script with `sys.argv[1]` = `dir` (pyarrow and duckdb are
/// installed by `scripts/test.sh`).
fn python(dir: &Path, script: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every DuckDB type we store, one row with values and one with NULLs,
/// one row per row group, in every compression DuckDB writes.
const DUCKDB_FILES: &str = r#"
import duckdb, sys
D = sys.argv[1]
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
q = """
SELECT * FROM (VALUES
 (TIMESTAMPTZ '2024-01-02 03:04:05.123456+00', TIMESTAMP '2024-01-02 03:04:05.5', TIMESTAMP_S '2024-01-02 03:04:05',
  TIMESTAMP_MS '2024-01-02 03:04:05.123', TIMESTAMP_NS '2024-01-02 03:04:05.123456000', DATE '2024-02-29',
  (-128)::TINYINT, (-32768)::SMALLINT, (-2147483648)::INTEGER, (-9223372036854775808)::BIGINT, 255::UTINYINT,
  65535::USMALLINT, 4294967295::UINTEGER, 18446744073709551615::UBIGINT, 1.5::FLOAT, 0.1::DOUBLE,
  'hello, "world"'::VARCHAR, true, (-1234567.891)::DECIMAL(10,3), 12345678901234567890.123456789::DECIMAL(38,9),
  '\\xDE\\xAD'::BLOB, 'host-a'::ENUM('host-a','host-b')),
 (TIMESTAMPTZ '2024-01-03 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
) t(time, ts, ts_s, ts_ms, ts_ns, d, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, s, b, dec, dec38, bin, e)
"""
for codec in ['snappy', 'zstd', 'gzip', 'lz4', 'brotli', 'uncompressed']:
    con.execute(f"COPY ({q}) TO '{D}/duck_{codec}.parquet' (FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE 1)")
con.execute(f"COPY (SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00' AS time, [1, 2] AS xs) TO '{D}/duck_list.parquet' (FORMAT parquet)")
"#;

const DUCKDB_TEXT: &str = "2024-01-02 03:04:05.123456+00\t2024-01-02 03:04:05.5\t2024-01-02 03:04:05\t2024-01-02 03:04:05.123\t2024-01-02 03:04:05.123456\t2024-02-29\t-128\t-32768\t-2147483648\t-9223372036854775808\t255\t65535\t4294967295\t18446744073709551615\t1.5\t0.1\thello, \"world\"\tt\t-1234567.891\t12345678901234567890.123456789\t\\\\xdead\thost-a\n\
    2024-01-03 00:00:00+00\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n";

/// Two row groups of `time, s, f64`; the second is damaged in a data
/// page (page checksums on) or in a page header (no checksums).
const CORRUPT_FILES: &str = r#"
import datetime, sys
import pyarrow as pa, pyarrow.parquet as pq
D = sys.argv[1]
utc = datetime.timezone.utc
t0 = datetime.datetime(2024, 1, 1, tzinfo=utc)
t = pa.table({'time': pa.array([t0, t0 + datetime.timedelta(seconds=1)], pa.timestamp('us', tz='UTC')),
              's': ['a', 'b'], 'f64': [1.0, 2.0]})
for name, checksum in [('bad_page', True), ('bad_header', False)]:
    path = f'{D}/{name}.parquet'
    pq.write_table(t, path, row_group_size=1, compression='none', write_page_checksum=checksum,
                   use_dictionary=False)
    col = pq.ParquetFile(path).metadata.row_group(1).column(2)
    data = bytearray(open(path, 'rb').read())
    start = col.data_page_offset
    if checksum:
        # The last bytes of the chunk are the page's values.
        end = start + col.total_compressed_size
        data[end - 4:end] = b'\xff\xfe\xfd\xfc'
    else:
        data[start:start + 8] = b'\xff' * 8
    open(path, 'wb').write(bytes(data))
"#;

#[test]
fn duckdb_files_in_every_compression_and_corrupt_pages() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    python(d, DUCKDB_FILES);
    python(d, CORRUPT_FILES);
    let data = d.join("data");
    let data_s = data.to_str().unwrap();
    let f = |name: &str| d.join(name).to_str().unwrap().to_string();
    for codec in ["snappy", "zstd", "gzip", "lz4", "brotli", "uncompressed"] {
        let out = lynx_ok(&[
            "import",
            &f(&format!("duck_{codec}.parquet")),
            "--table",
            &format!("duck_{codec}"),
            "--create",
            "--data-dir",
            data_s,
            "--quiet",
        ]);
        assert!(
            out.starts_with("imported 2 rows from 1 file(s)"),
            "{codec}: {out}"
        );
    }
    let e = lynx_err(&[
        "import",
        &f("duck_list.parquet"),
        "--table",
        "lists",
        "--create",
        "--data-dir",
        data_s,
    ]);
    assert!(
        e.contains("column \"xs\"") && e.contains("List"),
        "a type we cannot store: {e}"
    );
    lynx_ok(&[
        "import",
        &f("duck_snappy.parquet"),
        "--table",
        "target",
        "--create",
        "--data-dir",
        data_s,
        "--quiet",
    ]);
    for (file, says) in [
        ("bad_page.parquet", "checksum"),
        ("bad_header.parquet", "row group 1"),
    ] {
        let e = lynx_err(&[
            "import",
            &f(file),
            "--table",
            "target",
            "--data-dir",
            data_s,
            "--quiet",
        ]);
        assert!(
            e.contains(&f(file)) && e.contains(says) && e.contains("nothing was stored"),
            "{file}: {e}"
        );
    }

    let server = Server::start_with(&data, &["--import-dir", d.to_str().unwrap()]);
    for codec in ["snappy", "zstd", "gzip", "lz4", "brotli", "uncompressed"] {
        assert_eq!(
            copy_text(&server, &format!("duck_{codec}")),
            DUCKDB_TEXT,
            "{codec}"
        );
    }
    // The damaged files added nothing to `target`, through COPY neither.
    for file in ["bad_page.parquet", "bad_header.parquet"] {
        let out = server.psql(&[
            "-v",
            "VERBOSITY=verbose",
            "-c",
            &format!("COPY target FROM '{file}' (FORMAT parquet)"),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("ERROR:  22P04"), "{file}: {stderr}");
    }
    assert_eq!(copy_text(&server, "target"), DUCKDB_TEXT);
    // SQL straight over a DuckDB file.
    assert_eq!(
        server.psql_ok(&[
            "-A",
            "-t",
            "-c",
            "SELECT count(*), max(u64) FROM read_parquet('duck_zstd.parquet')"
        ]),
        "2|18446744073709551615\n"
    );
}
