//! `lynxstore import` and `lynxstore export`: Parquet in and out of a
//! stopped data directory, through the engine (WAL, then segments).
//!
//! Import streams each file by row group (`lynx_sql::bulk::parquet_in`),
//! with a progress bar on stderr (bytes, rows, rows/s, ETA) and a summary
//! line on stdout (`--url` posts each file to a running server instead, see
//! `bulk_remote`). Each file is imported on its own and is all-or-nothing
//! against bad data; when a file fails, the files before it stay imported
//! and the command says so. The data directory is locked: a running server
//! must be stopped first.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lynx_sql::bulk::parquet_in::ParquetSource;
use lynx_sql::bulk::{parquet_out, schema_map};
use lynx_sql::{Engine, Output, SqlError};
use lynx_storage::{Database, DatabaseOptions, StorageError};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Parquet files, directories (searched recursively for *.parquet) or glob patterns
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Table to import into
    #[arg(long)]
    pub table: String,
    /// Create the table from the first file's schema when it does not exist
    #[arg(long)]
    pub create: bool,
    /// With --create: the time column [default: the first timestamp column]
    #[arg(long)]
    pub time_column: Option<String>,
    /// With --create: tag columns, comma-separated [default: every string column]
    #[arg(long, value_delimiter = ',')]
    pub tags: Option<Vec<String>>,
    /// Data directory of a stopped server [default: lynx-data]
    #[arg(long, default_value = "lynx-data")]
    pub data_dir: PathBuf,
    /// Import into a running server instead: its HTTP address, e.g. http://127.0.0.1:9201
    #[arg(long, conflicts_with = "data_dir")]
    pub url: Option<String>,
    /// No progress bar
    #[arg(long)]
    pub quiet: bool,
    /// Rows held in memory (sorted runs are a quarter of it)
    #[arg(long, default_value_t = 512 << 20)]
    pub memory_limit_bytes: usize,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Table to export
    #[arg(long)]
    pub table: String,
    /// Parquet file to write (replaced atomically)
    #[arg(long)]
    pub out: PathBuf,
    /// SQL condition selecting the rows, e.g. "time >= '2024-01-01'"
    #[arg(long = "where")]
    pub filter: Option<String>,
    /// Data directory of a stopped server [default: lynx-data]
    #[arg(long, default_value = "lynx-data")]
    pub data_dir: PathBuf,
}

fn open_db(dir: &Path, memory_limit_bytes: usize) -> Result<Database, String> {
    let options = DatabaseOptions {
        max_memtable_bytes: memory_limit_bytes.max(4 << 20),
        ..Default::default()
    };
    Database::open_with(dir, options).map_err(|e| match e {
        StorageError::Locked { .. } => format!(
            "data directory {} is in use by a running server; stop it first \
             (or load through the server: COPY ... FROM STDIN)",
            dir.display()
        ),
        other => other.to_string(),
    })
}

/// A file to import and the Hive-style `key=value` directories above it
/// (below the directory named on the command line).
pub struct InputFile {
    pub path: PathBuf,
    pub partitions: Vec<(String, String)>,
}

fn hive_partitions(root: &Path, file: &Path) -> Vec<(String, String)> {
    let Ok(rel) = file.strip_prefix(root) else {
        return Vec::new();
    };
    let Some(parent) = rel.parent() else {
        return Vec::new();
    };
    parent
        .components()
        .filter_map(|c| {
            let s = c.as_os_str().to_str()?;
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Files named by the arguments: files as given, directories searched
/// recursively for `*.parquet` (with Hive-style partition values from
/// `key=value` directories), anything else as a glob pattern.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<InputFile>, String> {
    let mut files = Vec::new();
    let plain = |path: PathBuf| InputFile {
        path,
        partitions: Vec::new(),
    };
    for input in inputs {
        let path = Path::new(input);
        if path.is_dir() {
            let mut found = Vec::new();
            collect_dir(path, &mut found).map_err(|e| format!("{input}: {e}"))?;
            if found.is_empty() {
                return Err(format!("{input}: no .parquet files in this directory"));
            }
            found.sort();
            files.extend(found.into_iter().map(|f| InputFile {
                partitions: hive_partitions(path, &f),
                path: f,
            }));
        } else if path.exists() {
            files.push(plain(path.to_path_buf()));
        } else {
            let matches = glob::glob(input).map_err(|e| format!("{input}: {e}"))?;
            let mut found: Vec<PathBuf> = matches
                .filter_map(|m| m.ok())
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                return Err(format!("{input}: no such file, and no file matches it"));
            }
            found.sort();
            files.extend(found.into_iter().map(plain));
        }
    }
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_dir(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

fn sql_error(file: &Path, e: SqlError) -> String {
    let m = e.message;
    let name = file.display().to_string();
    if m.contains(&name) {
        m
    } else {
        format!("{name}: {m}")
    }
}

fn progress_bar(quiet: bool, total: u64) -> Result<ProgressBar, String> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {msg} ETA {eta}",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    Ok(bar)
}

fn summary(rows: u64, files: usize, table: &str, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {rows} rows from {files} file(s) into \"{table}\" in {secs:.1} s ({:.0} rows/s)",
        rows as f64 / secs.max(1e-3)
    );
}

/// `import --url`: each file posted to a running server.
fn import_remote(args: &ImportArgs, url: &str) -> Result<(), String> {
    let started = Instant::now();
    let inputs = expand_inputs(&args.inputs)?;
    if inputs.iter().any(|f| !f.partitions.is_empty()) {
        return Err("Hive-style partition directories need a local import (--data-dir)".into());
    }
    let total: u64 = inputs
        .iter()
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .sum();
    let bar = progress_bar(args.quiet, total)?;
    let target = crate::bulk_remote::Target {
        url,
        table: &args.table,
        create: args.create,
        time_column: args.time_column.as_deref(),
        tags: args.tags.as_deref(),
    };
    let mut rows = 0;
    for (i, f) in inputs.iter().enumerate() {
        match crate::bulk_remote::post_file(&target, &f.path, &bar) {
            Ok(n) => {
                rows += n;
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!("{rows} rows, {:.0} rows/s", rows as f64 / secs));
            }
            Err(e) => {
                bar.abandon();
                return Err(if i > 0 {
                    format!("{e} ({i} earlier file(s), {rows} rows, stay imported)")
                } else {
                    e
                });
            }
        }
    }
    bar.finish_and_clear();
    summary(rows, inputs.len(), &args.table, started);
    Ok(())
}

pub fn import(args: ImportArgs) -> Result<(), String> {
    if let Some(url) = args.url.clone() {
        return import_remote(&args, &url);
    }
    let started = Instant::now();
    let inputs = expand_inputs(&args.inputs)?;
    let sources = inputs
        .iter()
        .map(|f| {
            ParquetSource::open(&f.path)
                .map(|s| s.with_partitions(f.partitions.clone()))
                .map_err(|e| sql_error(&f.path, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let files: Vec<PathBuf> = inputs.into_iter().map(|f| f.path).collect();
    let db = Arc::new(open_db(&args.data_dir, args.memory_limit_bytes)?);
    // Background flushes keep the memtables small while rows stream in.
    let maintenance = db.start_maintenance(std::time::Duration::from_secs(1));
    if db.table_def(&args.table).is_none() {
        let Some(first) = sources.first() else {
            return Err("no input files".into());
        };
        if !args.create {
            return Err(format!(
                "table \"{}\" does not exist (pass --create to create it from the file's schema)",
                args.table
            ));
        }
        let def = schema_map::table_from_schema(
            &args.table,
            first.schema(),
            args.time_column.as_deref(),
            args.tags.as_deref(),
        )
        .map_err(|e| sql_error(&files[0], e))?;
        db.create_table(def, false).map_err(|e| e.to_string())?;
    }
    let total_bytes: u64 = sources.iter().map(|s| s.total_bytes()).sum();
    let bar = progress_bar(args.quiet, total_bytes)?;
    let mut rows_total = 0u64;
    let mut base = 0u64;
    for (i, (source, file)) in sources.iter().zip(&files).enumerate() {
        let rows_before = rows_total;
        let result = source.import(&db, &args.table, &mut |p| {
            bar.set_position(base + p.bytes);
            let rows = rows_before + p.rows;
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            let pass = if p.phase == "writing" {
                " (writing)"
            } else {
                ""
            };
            bar.set_message(format!(
                "{rows} rows, {:.0} rows/s{pass}",
                rows as f64 / secs
            ));
        });
        match result {
            Ok(rows) => rows_total += rows,
            Err(e) => {
                bar.abandon();
                let kept = if i > 0 {
                    format!(
                        "; nothing from this file was stored ({i} earlier file(s), {rows_total} rows, stay imported)"
                    )
                } else {
                    "; nothing was stored".into()
                };
                drop(maintenance);
                db.close().map_err(|e| e.to_string())?;
                return Err(format!("{}{kept}", sql_error(file, e)));
            }
        }
        base += source.total_bytes();
    }
    drop(maintenance);
    db.close().map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    summary(rows_total, files.len(), &args.table, started);
    Ok(())
}

pub fn export(args: ExportArgs) -> Result<(), String> {
    let db = Arc::new(open_db(
        &args.data_dir,
        DatabaseOptions::default().max_memtable_bytes,
    )?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let rows = runtime.block_on(async {
        let engine = Engine::new(db.clone()).map_err(|e| e.message)?;
        let mut session = engine.session("lynx", None);
        let table = format!("\"{}\"", args.table.replace('"', "\"\""));
        let sql = match &args.filter {
            Some(w) => format!("SELECT * FROM {table} WHERE {w}"),
            None => format!("SELECT * FROM {table}"),
        };
        let mut stmts = session.parse(&sql).map_err(|e| e.message)?;
        if stmts.len() != 1 {
            return Err("--where must be one condition".to_string());
        }
        let prepared = session
            .prepare(stmts.remove(0), &[])
            .await
            .map_err(|e| e.message)?;
        let Output::Rows { stream, .. } = session
            .execute(&prepared, vec![])
            .await
            .map_err(|e| e.message)?
        else {
            return Err("the export query returned no rows".into());
        };
        parquet_out::write_parquet(&args.out, stream)
            .await
            .map_err(|e| e.message)
    })?;
    db.close().map_err(|e| e.to_string())?;
    println!(
        "exported {rows} rows from \"{}\" to {}",
        args.table,
        args.out.display()
    );
    Ok(())
}
