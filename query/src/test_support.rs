//! Helpers shared by the query crate's property tests.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, TimestampMicrosecondArray};
use arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use lynx_storage::{ColumnDef, ColumnRole, ColumnType, Database, TableDef};

/// 2024-01-01 00:00 UTC in microseconds.
pub(crate) const BASE_MICROS: i64 = 1_704_067_200_000_000;

/// Table `t` partitioned by hour: `time`, text tag `host` (nullable when
/// `nullable_host`), float field `v`; loaded with `writes` (see [`load`])
/// and registered in a new context with `partitions` target partitions.
pub(crate) fn host_table<R>(
    db: &Arc<Database>,
    primary_key: bool,
    nullable_host: bool,
    partitions: usize,
    writes: &[(Vec<R>, bool)],
    batch: impl Fn(&TableDef, &[R]) -> RecordBatch,
) -> SessionContext {
    let host = ColumnDef {
        nullable: nullable_host,
        ..column("host", ColumnType::Text, ColumnRole::Tag)
    };
    let def = TableDef {
        name: "t".into(),
        columns: vec![
            column("time", ColumnType::TimestampTz, ColumnRole::Time),
            host,
            column("v", ColumnType::Float64, ColumnRole::Field),
        ],
        options: lynx_storage::TableOptions {
            partition_micros: 3_600_000_000,
            primary_key,
            ..lynx_storage::TableOptions::default()
        },
    };
    load(db, &def, writes, batch);
    let config = datafusion::prelude::SessionConfig::new().with_target_partitions(partitions);
    let ctx = SessionContext::new_with_config(config);
    let table = crate::LynxTable::new(db.clone(), "t".into(), def.arrow_schema());
    ctx.register_table("t", Arc::new(table)).unwrap();
    ctx
}

/// A batch of `host_table` rows (minute, host, v), with the host text and
/// the value each row's numbers stand for.
pub(crate) fn host_batch(
    def: &TableDef,
    rows: &[(i64, u8, i16)],
    host: impl Fn(u8) -> Option<String>,
    value: impl Fn(i16) -> Option<f64>,
) -> RecordBatch {
    RecordBatch::try_new(
        def.arrow_schema(),
        vec![
            minutes(rows.iter().map(|r| r.0)),
            Arc::new(arrow::array::StringArray::from_iter(
                rows.iter().map(|r| host(r.1)),
            )),
            Arc::new(arrow::array::Float64Array::from_iter(
                rows.iter().map(|r| value(r.2)),
            )),
        ],
    )
    .unwrap()
}

/// A column definition; fields are nullable, time and tags are not.
pub(crate) fn column(name: &str, column_type: ColumnType, role: ColumnRole) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        column_type,
        nullable: role == ColumnRole::Field,
        role,
    }
}

/// A `timestamptz` column of whole minutes after [`BASE_MICROS`].
pub(crate) fn minutes(minutes: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from_iter_values(minutes.map(|m| BASE_MICROS + m * 60_000_000))
            .with_timezone("+00:00"),
    )
}

/// The physical plan text and the pretty-printed result of `sql`.
pub(crate) async fn run(ctx: &SessionContext, sql: &str) -> (String, String) {
    let df = ctx.sql(sql).await.unwrap();
    let plan = datafusion::physical_plan::displayable(
        df.clone().create_physical_plan().await.unwrap().as_ref(),
    )
    .indent(false)
    .to_string();
    let rows = pretty_format_batches(&df.collect().await.unwrap())
        .unwrap()
        .to_string();
    (plan, rows)
}

/// Creates table `def` and writes each group of rows as one request,
/// flushing after the groups marked `true`, so scans mix sorted segments
/// and unsorted memtable batches.
pub(crate) fn load<R>(
    db: &Database,
    def: &TableDef,
    writes: &[(Vec<R>, bool)],
    batch: impl Fn(&TableDef, &[R]) -> RecordBatch,
) {
    db.create_table(def.clone(), false).unwrap();
    for (rows, flush) in writes {
        if !rows.is_empty() {
            db.write(&def.name, &batch(def, rows)).unwrap();
        }
        if *flush {
            db.flush().unwrap();
        }
    }
}
