//! `read_parquet('file.parquet')`: SQL over a Parquet file without
//! importing it, joinable with stored tables.
//!
//! The path goes through the same confinement as `COPY ... 'file'`
//! (`files::resolve_read`: only inside `import_dir`, no `..`, symlinks
//! resolved first); without `import_dir` the function is refused (42501).
//! The schema is read from the file footer when the query is planned, and
//! DataFusion's Parquet reader scans it (projection and row-group pruning
//! included).

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, DataFusionError, Result, ScalarValue};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::Expr;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;

use super::files::resolve_read;

#[derive(Debug)]
pub struct ReadParquet {
    pub dir: Option<PathBuf>,
}

impl TableFunctionImpl for ReadParquet {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let [Expr::Literal(ScalarValue::Utf8(Some(path)) | ScalarValue::Utf8View(Some(path)), _)] =
            args.exprs()
        else {
            return plan_err!("read_parquet takes one argument: a file name as a string literal");
        };
        let file = resolve_read(self.dir.as_deref(), path)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let opened = std::fs::File::open(&file).map_err(|e| {
            DataFusionError::Execution(format!("could not open file \"{path}\": {e}"))
        })?;
        let metadata = ArrowReaderMetadata::load(&opened, Default::default()).map_err(|e| {
            DataFusionError::Execution(format!("\"{path}\" is not a readable Parquet file: {e}"))
        })?;
        let url = ListingTableUrl::parse(file.to_string_lossy())?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension("");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(metadata.schema().clone());
        Ok(Arc::new(ListingTable::try_new(config)?))
    }
}
