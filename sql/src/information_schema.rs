//! `information_schema` as PostgreSQL presents it.
//!
//! DataFusion's own information_schema names types the Arrow way (`Utf8`,
//! `Timestamp(µs, "+00:00")`), numbers columns from 0 and lacks `udt_name`;
//! Grafana picks time and value columns by `columns.data_type`, and JDBC /
//! DBeaver / Metabase read `udt_name`, `ordinal_position` and the
//! primary-key views. This schema is built from the storage catalog (with
//! the declared types, e.g. `character varying(20)`) and from the Arrow
//! schemas of the pg_catalog tables.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use lynx_pgtypes::PgType;
use lynx_storage::{ColumnRole, ColumnType, Database};

use crate::functions::OWNER;
use crate::names::{DATABASE, SCHEMA};

pub const INFORMATION_SCHEMA: &str = "information_schema";

const TABLES: [&str; 7] = [
    "schemata",
    "tables",
    "columns",
    "views",
    "table_constraints",
    "key_column_usage",
    "routines",
];

/// The `information_schema` schema of the `lynx` database.
#[derive(Debug)]
pub struct InformationSchema {
    db: Arc<Database>,
    catalog: Weak<dyn CatalogProvider>,
}

impl InformationSchema {
    pub fn new(db: Arc<Database>, catalog: &Arc<dyn CatalogProvider>) -> Self {
        InformationSchema {
            db,
            catalog: Arc::downgrade(catalog),
        }
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(view) = TABLES.iter().find(|t| t.eq_ignore_ascii_case(name)) else {
            return Ok(None);
        };
        Ok(Some(Arc::new(InfoView {
            name: view,
            schema: view_schema(view),
            db: self.db.clone(),
            catalog: self.catalog.clone(),
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        TABLES.iter().any(|t| t.eq_ignore_ascii_case(name))
    }
}

fn text(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}

/// Column layouts of the views, in PostgreSQL's order (a subset of the
/// columns where PostgreSQL's are only meaningful for features we lack).
fn view_schema(view: &str) -> SchemaRef {
    let texts = |names: &[&str]| names.iter().map(|n| text(n)).collect::<Vec<_>>();
    let fields = match view {
        "schemata" => texts(&[
            "catalog_name",
            "schema_name",
            "schema_owner",
            "default_character_set_catalog",
            "default_character_set_schema",
            "default_character_set_name",
            "sql_path",
        ]),
        "tables" => texts(&[
            "table_catalog",
            "table_schema",
            "table_name",
            "table_type",
            "self_referencing_column_name",
            "reference_generation",
            "user_defined_type_catalog",
            "user_defined_type_schema",
            "user_defined_type_name",
            "is_insertable_into",
            "is_typed",
            "commit_action",
        ]),
        "columns" => {
            let mut f = texts(&["table_catalog", "table_schema", "table_name", "column_name"]);
            f.push(int("ordinal_position"));
            f.extend(texts(&["column_default", "is_nullable", "data_type"]));
            f.extend([
                int("character_maximum_length"),
                int("character_octet_length"),
                int("numeric_precision"),
                int("numeric_precision_radix"),
                int("numeric_scale"),
                int("datetime_precision"),
                text("interval_type"),
                int("interval_precision"),
            ]);
            f.extend(texts(&[
                "character_set_catalog",
                "character_set_schema",
                "character_set_name",
                "collation_catalog",
                "collation_schema",
                "collation_name",
                "domain_catalog",
                "domain_schema",
                "domain_name",
                "udt_catalog",
                "udt_schema",
                "udt_name",
                "scope_catalog",
                "scope_schema",
                "scope_name",
            ]));
            f.push(int("maximum_cardinality"));
            f.extend(texts(&[
                "dtd_identifier",
                "is_self_referencing",
                "is_identity",
                "identity_generation",
                "identity_start",
                "identity_increment",
                "identity_maximum",
                "identity_minimum",
                "identity_cycle",
                "is_generated",
                "generation_expression",
                "is_updatable",
            ]));
            f
        }
        "views" => texts(&[
            "table_catalog",
            "table_schema",
            "table_name",
            "view_definition",
            "check_option",
            "is_updatable",
            "is_insertable_into",
            "is_trigger_updatable",
            "is_trigger_deletable",
            "is_trigger_insertable_into",
        ]),
        "table_constraints" => texts(&[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "constraint_type",
            "is_deferrable",
            "initially_deferred",
            "enforced",
            "nulls_distinct",
        ]),
        "key_column_usage" => {
            let mut f = texts(&[
                "constraint_catalog",
                "constraint_schema",
                "constraint_name",
                "table_catalog",
                "table_schema",
                "table_name",
                "column_name",
            ]);
            f.extend([
                int("ordinal_position"),
                int("position_in_unique_constraint"),
            ]);
            f
        }
        _ => texts(&[
            "specific_catalog",
            "specific_schema",
            "specific_name",
            "routine_catalog",
            "routine_schema",
            "routine_name",
            "routine_type",
            "data_type",
        ]),
    };
    Arc::new(Schema::new(fields))
}

/// One view, computed when it is scanned.
#[derive(Debug)]
struct InfoView {
    name: &'static str,
    schema: SchemaRef,
    db: Arc<Database>,
    catalog: Weak<dyn CatalogProvider>,
}

/// A column as information_schema describes it.
struct ColumnInfo {
    schema: String,
    table: String,
    name: String,
    ty: PgType,
    /// `varchar(n)` length or `(precision, scale)` of a numeric.
    length: Option<i32>,
    precision_scale: Option<(i32, i32)>,
    nullable: bool,
}

/// Rows of a view, one `Vec<Option<String>>` or integer per column, built
/// column by column.
#[derive(Default)]
struct Rows {
    columns: Vec<Vec<Cell>>,
}

enum Cell {
    Text(Option<String>),
    Int(Option<i32>),
}

impl Rows {
    fn push(&mut self, row: Vec<Cell>) {
        if self.columns.is_empty() {
            self.columns = row.iter().map(|_| Vec::new()).collect();
        }
        for (col, cell) in self.columns.iter_mut().zip(row) {
            col.push(cell);
        }
    }

    fn into_batch(self, schema: &SchemaRef) -> Result<RecordBatch> {
        let arrays = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let cells = self.columns.get(i).map(Vec::as_slice).unwrap_or(&[]);
                match f.data_type() {
                    DataType::Int32 => Arc::new(
                        cells
                            .iter()
                            .map(|c| match c {
                                Cell::Int(v) => *v,
                                Cell::Text(_) => None,
                            })
                            .collect::<Int32Array>(),
                    ) as ArrayRef,
                    _ => Arc::new(
                        cells
                            .iter()
                            .map(|c| match c {
                                Cell::Text(v) => v.clone(),
                                Cell::Int(v) => v.map(|v| v.to_string()),
                            })
                            .collect::<StringArray>(),
                    ) as ArrayRef,
                }
            })
            .collect::<Vec<_>>();
        let options = datafusion::arrow::array::RecordBatchOptions::new()
            .with_row_count(Some(self.columns.first().map_or(0, Vec::len)));
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &options,
        )?)
    }
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(Some(s.into()))
}

const NULL: Cell = Cell::Text(None);

fn i(v: Option<i32>) -> Cell {
    Cell::Int(v)
}

fn yes_no(b: bool) -> Cell {
    t(if b { "YES" } else { "NO" })
}

/// `data_type` as PostgreSQL's information_schema spells it.
pub fn sql_type_name(ty: &PgType) -> String {
    match ty.oid() {
        16 => "boolean",
        17 => "bytea",
        18 => "\"char\"",
        19 => "name",
        20 => "bigint",
        21 => "smallint",
        23 => "integer",
        25 => "text",
        26 => "oid",
        114 => "json",
        700 => "real",
        701 => "double precision",
        1042 => "character",
        1043 => "character varying",
        1082 => "date",
        1083 => "time without time zone",
        1114 => "timestamp without time zone",
        1184 => "timestamp with time zone",
        1186 => "interval",
        1700 => "numeric",
        3802 => "jsonb",
        _ if lynx_pgtypes::element_type_of(ty).is_some() => "ARRAY",
        _ => return ty.name().to_string(),
    }
    .to_string()
}

impl ColumnInfo {
    fn row(&self, ordinal: i32) -> Vec<Cell> {
        let oid = self.ty.oid();
        let (precision, radix, scale) = match oid {
            21 => (Some(16), Some(2), Some(0)),
            23 => (Some(32), Some(2), Some(0)),
            20 => (Some(64), Some(2), Some(0)),
            700 => (Some(24), Some(2), None),
            701 => (Some(53), Some(2), None),
            1700 => match self.precision_scale {
                Some((p, s)) => (Some(p), Some(10), Some(s)),
                None => (None, Some(10), None),
            },
            _ => (None, None, None),
        };
        let datetime_precision = match oid {
            1082 => Some(0),
            1083 | 1114 | 1184 | 1186 => Some(6),
            _ => None,
        };
        let octet_length = match oid {
            25 | 1043 | 1042 => Some(self.length.map_or(1_073_741_824, |n| n * 4)),
            _ => None,
        };
        vec![
            t(DATABASE),
            t(&self.schema),
            t(&self.table),
            t(&self.name),
            i(Some(ordinal)),
            NULL,
            yes_no(self.nullable),
            t(sql_type_name(&self.ty)),
            i(self.length),
            i(octet_length),
            i(precision),
            i(radix),
            i(scale),
            i(datetime_precision),
            NULL,
            NULL,
            NULL,
            NULL,
            NULL,
            // Collation: NULL for the default one, as in PostgreSQL.
            NULL,
            NULL,
            NULL,
            NULL,
            NULL,
            NULL,
            t(DATABASE),
            t("pg_catalog"),
            t(self.ty.name()),
            NULL,
            NULL,
            NULL,
            NULL,
            t(ordinal.to_string()),
            t("NO"),
            t("NO"),
            NULL,
            NULL,
            NULL,
            NULL,
            NULL,
            t("NO"),
            t("NEVER"),
            NULL,
            yes_no(self.schema == SCHEMA),
        ]
    }
}

impl InfoView {
    /// Every column of every table: ours with their declared types, the
    /// pg_catalog tables from their Arrow schemas.
    async fn columns(&self) -> Result<Vec<Vec<ColumnInfo>>> {
        let mut tables = Vec::new();
        for name in sorted(self.db.table_names()) {
            let Some(def) = self.db.table_def(&name) else {
                continue;
            };
            tables.push(
                def.columns
                    .iter()
                    .map(|c| ColumnInfo {
                        schema: SCHEMA.into(),
                        table: name.clone(),
                        name: c.name.clone(),
                        ty: declared_type(c.column_type),
                        length: match c.column_type {
                            ColumnType::Varchar(n) => n.map(|n| n as i32),
                            _ => None,
                        },
                        precision_scale: match c.column_type {
                            ColumnType::Numeric { precision, scale } => {
                                Some((precision as i32, scale as i32))
                            }
                            _ => None,
                        },
                        nullable: c.nullable,
                    })
                    .collect(),
            );
        }
        let Some(pg_catalog) = self.catalog.upgrade().and_then(|c| c.schema("pg_catalog")) else {
            return Ok(tables);
        };
        for name in sorted(pg_catalog.table_names()) {
            let Some(provider) = pg_catalog.table(&name).await? else {
                continue;
            };
            tables.push(
                provider
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| ColumnInfo {
                        schema: "pg_catalog".into(),
                        table: name.clone(),
                        name: f.name().clone(),
                        ty: lynx_pgtypes::pg_type_of_field(f).unwrap_or(PgType::TEXT),
                        length: None,
                        precision_scale: None,
                        nullable: f.is_nullable(),
                    })
                    .collect(),
            );
        }
        Ok(tables)
    }

    async fn rows(&self) -> Result<Rows> {
        let mut rows = Rows::default();
        match self.name {
            "schemata" => {
                for schema in [INFORMATION_SCHEMA, "pg_catalog", SCHEMA] {
                    rows.push(vec![
                        t(DATABASE),
                        t(schema),
                        t(OWNER),
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                    ]);
                }
            }
            "tables" => {
                for table in self.columns().await? {
                    let Some(first) = table.first() else { continue };
                    let ours = first.schema == SCHEMA;
                    rows.push(vec![
                        t(DATABASE),
                        t(&first.schema),
                        t(&first.table),
                        t("BASE TABLE"),
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        yes_no(ours),
                        t("NO"),
                        NULL,
                    ]);
                }
            }
            "columns" => {
                for table in self.columns().await? {
                    for (n, c) in table.iter().enumerate() {
                        rows.push(c.row(n as i32 + 1));
                    }
                }
            }
            "table_constraints" | "key_column_usage" => {
                for name in sorted(self.db.table_names()) {
                    let Some(def) = self.db.table_def(&name) else {
                        continue;
                    };
                    if !def.options.primary_key {
                        continue;
                    }
                    let constraint = format!("{name}_pkey");
                    let head = || vec![t(DATABASE), t(SCHEMA), t(&constraint)];
                    if self.name == "table_constraints" {
                        let mut row = head();
                        row.extend([
                            t(DATABASE),
                            t(SCHEMA),
                            t(&name),
                            t("PRIMARY KEY"),
                            t("NO"),
                            t("NO"),
                            t("YES"),
                            NULL,
                        ]);
                        rows.push(row);
                        continue;
                    }
                    let keys = def
                        .columns
                        .iter()
                        .filter(|c| c.role != ColumnRole::Field)
                        .enumerate();
                    for (k, c) in keys {
                        let mut row = head();
                        row.extend([
                            t(DATABASE),
                            t(SCHEMA),
                            t(&name),
                            t(&c.name),
                            i(Some(k as i32 + 1)),
                            NULL,
                        ]);
                        rows.push(row);
                    }
                }
            }
            // No views or routines are stored.
            _ => {}
        }
        Ok(rows)
    }
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// The PostgreSQL type of a stored column: its declared `pg.type` name
/// (what results are described as), else the type of its Arrow layout.
pub fn declared_type(ty: ColumnType) -> PgType {
    ty.pg_type_name()
        .and_then(lynx_pgtypes::type_by_name)
        .or_else(|| lynx_pgtypes::pg_type_of(&ty.to_arrow()).ok())
        .unwrap_or(PgType::TEXT)
}

#[async_trait]
impl TableProvider for InfoView {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.rows().await?.into_batch(&self.schema)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}
