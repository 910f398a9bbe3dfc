//! INSERT into a LynxStore table: DataFusion computes the rows, the sink
//! writes them to the engine as one atomic request.

use std::fmt;
use std::sync::Arc;

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::sink::DataSink;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::TryStreamExt;
use lynx_storage::Database;

pub struct LynxSink {
    db: Arc<Database>,
    table: String,
    schema: SchemaRef,
}

impl LynxSink {
    /// The sink's schema is the table's with every column nullable: NOT NULL
    /// is checked by the engine, which names the column in its error as
    /// PostgreSQL does (DataFusion's own check only gives an index).
    pub fn new(db: Arc<Database>, table: String, schema: SchemaRef) -> LynxSink {
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let schema = Arc::new(arrow::datatypes::Schema::new_with_metadata(
            fields,
            schema.metadata().clone(),
        ));
        LynxSink { db, table, schema }
    }
}

impl fmt::Debug for LynxSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LynxSink({})", self.table)
    }
}

impl DisplayAs for LynxSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LynxSink: table={}", self.table)
    }
}

#[async_trait]
impl DataSink for LynxSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> Result<u64> {
        // All rows of one statement form one request: all or nothing.
        let schema = data.schema();
        let batches: Vec<_> = data.try_collect().await?;
        let batch = concat_batches(&schema, &batches)?;
        let db = self.db.clone();
        let table = self.table.clone();
        let written = tokio::task::spawn_blocking(move || db.write(&table, &batch))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(written as u64)
    }
}
