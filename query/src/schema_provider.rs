//! The `public` schema: the engine's tables, listed live.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use lynx_storage::Database;

use crate::LynxTable;

#[derive(Debug)]
pub struct LynxSchema {
    db: Arc<Database>,
}

impl LynxSchema {
    pub fn new(db: Arc<Database>) -> LynxSchema {
        LynxSchema { db }
    }
}

#[async_trait]
impl SchemaProvider for LynxSchema {
    fn table_names(&self) -> Vec<String> {
        self.db.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.db.table_def(name).map(|def| {
            Arc::new(LynxTable::new(
                self.db.clone(),
                name.to_string(),
                def.arrow_schema(),
            )) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.db.table_def(name).is_some()
    }
}
