//! `pg_catalog.pg_attribute` with the declared column types of our tables.
//!
//! datafusion-pg-catalog derives `atttypid` from the Arrow type alone, so a
//! `varchar(20)` column (stored as Utf8) would read as `text` and every
//! `numeric(p,s)` as plain `numeric`. This overlay keeps its rows and OIDs
//! and patches `atttypid` / `atttypmod` of LynxStore tables from the storage
//! catalog, which is what psql's `\d`, JDBC's getColumns and the BI tools
//! read.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{collect, ExecutionPlan};
use lynx_storage::Database;

use crate::information_schema::declared_type;
use crate::names::SCHEMA;

/// The `pg_catalog` schema of datafusion-pg-catalog with `pg_attribute`
/// replaced by [`DeclaredAttributes`].
#[derive(Debug)]
pub struct PgCatalogOverlay {
    inner: Arc<dyn SchemaProvider>,
    db: Arc<Database>,
}

impl PgCatalogOverlay {
    pub fn new(inner: Arc<dyn SchemaProvider>, db: Arc<Database>) -> Self {
        PgCatalogOverlay { inner, db }
    }
}

#[async_trait]
impl SchemaProvider for PgCatalogOverlay {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = self.inner.table(name).await?;
        if !name.eq_ignore_ascii_case("pg_attribute") {
            return Ok(table);
        }
        let Some(inner) = table else {
            return Ok(None);
        };
        Ok(Some(Arc::new(DeclaredAttributes {
            inner,
            catalog: self.inner.clone(),
            db: self.db.clone(),
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// `pg_attribute` rows of the inner catalog, with our declared types.
#[derive(Debug)]
struct DeclaredAttributes {
    inner: Arc<dyn TableProvider>,
    catalog: Arc<dyn SchemaProvider>,
    db: Arc<Database>,
}

/// Reads every row of a catalog table.
async fn read_all(state: &dyn Session, table: &Arc<dyn TableProvider>) -> Result<Vec<RecordBatch>> {
    let plan = table.scan(state, None, &[], None).await?;
    collect(plan, state.task_ctx()).await
}

/// Column `name` of `batch` as i64 values (OID columns are typed loosely).
fn int_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("catalog column {name} missing")))?;
    let ints = cast(col, &DataType::Int64)?;
    Ok(ints.as_primitive::<Int64Type>().iter().collect())
}

fn string_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| DataFusionError::Internal(format!("catalog column {name} missing")))?;
    let strings = cast(col, &DataType::Utf8)?;
    Ok(strings
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect())
}

impl DeclaredAttributes {
    /// Relation OID -> table name, for the relations of our schema.
    async fn our_relations(&self, state: &dyn Session) -> Result<HashMap<i64, String>> {
        let (Some(class), Some(namespace)) = (
            self.catalog.table("pg_class").await?,
            self.catalog.table("pg_namespace").await?,
        ) else {
            return Ok(HashMap::new());
        };
        let mut ours = None;
        for b in read_all(state, &namespace).await? {
            let oids = int_column(&b, "oid")?;
            let names = string_column(&b, "nspname")?;
            for (oid, name) in oids.into_iter().zip(names) {
                if name.as_deref() == Some(SCHEMA) {
                    ours = oid;
                }
            }
        }
        let mut relations = HashMap::new();
        for b in read_all(state, &class).await? {
            let oids = int_column(&b, "oid")?;
            let names = string_column(&b, "relname")?;
            let spaces = int_column(&b, "relnamespace")?;
            for ((oid, name), space) in oids.into_iter().zip(names).zip(spaces) {
                if let (Some(oid), Some(name)) = (oid, name) {
                    if space == ours {
                        relations.insert(oid, name);
                    }
                }
            }
        }
        Ok(relations)
    }

    fn patch(&self, batch: &RecordBatch, relations: &HashMap<i64, String>) -> Result<RecordBatch> {
        let relids = int_column(batch, "attrelid")?;
        let names = string_column(batch, "attname")?;
        let schema = batch.schema();
        let typid_at = schema.index_of("atttypid")?;
        let typmod_at = schema.index_of("atttypmod")?;
        let mut typids: Vec<Option<i32>> = int_column(batch, "atttypid")?
            .into_iter()
            .map(|v| v.map(|v| v as i32))
            .collect();
        let mut typmods: Vec<Option<i32>> = int_column(batch, "atttypmod")?
            .into_iter()
            .map(|v| v.map(|v| v as i32))
            .collect();
        for (row, (relid, name)) in relids.iter().zip(&names).enumerate() {
            let (Some(table), Some(name)) = (relid.and_then(|r| relations.get(&r)), name) else {
                continue;
            };
            let Some(column_type) = self
                .db
                .table_def(table)
                .and_then(|d| d.column(name).map(|c| c.column_type))
            else {
                continue;
            };
            typids[row] = Some(declared_type(column_type).oid() as i32);
            typmods[row] = Some(column_type.pg_typmod());
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[typid_at] = cast(
            &(Arc::new(Int32Array::from(typids)) as ArrayRef),
            columns[typid_at].data_type(),
        )?;
        columns[typmod_at] = cast(
            &(Arc::new(Int32Array::from(typmods)) as ArrayRef),
            columns[typmod_at].data_type(),
        )?;
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

#[async_trait]
impl TableProvider for DeclaredAttributes {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let rows = read_all(state, &self.inner).await?;
        let relations = self.our_relations(state).await?;
        let patched = rows
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| self.patch(b, &relations))
            .collect::<Result<Vec<_>>>()?;
        let exec =
            MemorySourceConfig::try_new_exec(&[patched], self.schema(), projection.cloned())?;
        Ok(exec)
    }
}
