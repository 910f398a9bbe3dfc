//! Statements LynxStore executes itself: DDL, SET/SHOW, transaction control.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::sql::sqlparser::ast::{
    AlterTableOperation, Expr, ObjectType, Set, Statement, UnaryOperator, Value,
};
use lynx_storage::{ColumnDef, TableDef};

use crate::ddl;
use crate::error::{Result, SqlError, StatusCode};
use crate::names::object_name;
use crate::session::{text_schema, Notice, Output, Session};

#[derive(Debug, Clone)]
pub enum Utility {
    CreateTable {
        def: TableDef,
        if_not_exists: bool,
    },
    DropTables {
        names: Vec<String>,
        if_exists: bool,
    },
    AddColumns {
        table: String,
        columns: Vec<(ColumnDef, bool)>,
    },
    Set {
        name: String,
        value: Option<String>,
    },
    Show {
        name: String,
    },
    ShowAll,
    Begin(&'static str),
    Commit,
    Rollback,
    /// VACUUM: flush memtables to segments, then merge every partition
    /// that has more than one segment (`Database::compact_all`).
    Vacuum,
    /// Accepted and ignored, answering with this tag.
    NoOp(&'static str),
    Copy(Box<crate::copy::CopyStatement>),
}

fn set_value(values: &[Expr]) -> Result<Option<String>> {
    let mut parts = Vec::new();
    for v in values {
        let s = match v {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                Value::Number(n, _) => n.clone(),
                Value::Boolean(b) => {
                    if *b {
                        "on".into()
                    } else {
                        "off".into()
                    }
                }
                other => other.to_string(),
            },
            Expr::Identifier(i)
                if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default") =>
            {
                return Ok(None)
            }
            Expr::Identifier(i) => i.value.clone(),
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => format!(
                "-{}",
                set_value(std::slice::from_ref(expr))?.unwrap_or_default()
            ),
            other => other.to_string(),
        };
        parts.push(s);
    }
    Ok(Some(parts.join(", ")))
}

fn show_name(variable: &[datafusion::sql::sqlparser::ast::Ident]) -> String {
    let words: Vec<String> = variable
        .iter()
        .map(|i| i.value.to_ascii_lowercase())
        .collect();
    match words.join(" ").as_str() {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "TimeZone".into(),
        other => other.replace(' ', "_"),
    }
}

/// Recognizes utility statements; `None` means "plan it with DataFusion".
pub fn classify(stmt: &Statement, session: &Session) -> Result<Option<Utility>> {
    if let Some(copy) = crate::copy::options::classify(stmt)? {
        // Like PostgreSQL, a missing table or column fails at Parse: drivers
        // (tokio-postgres copy_in) rely on it.
        crate::copy::check_relation(&copy, session)?;
        return Ok(Some(Utility::Copy(Box::new(copy))));
    }
    Ok(Some(match stmt {
        Statement::CreateTable(ct) => {
            if ct.external {
                return Ok(None);
            }
            Utility::CreateTable {
                def: ddl::table_def(ct)?,
                if_not_exists: ct.if_not_exists,
            }
        }
        Statement::Drop {
            object_type: ObjectType::Table,
            if_exists,
            names,
            ..
        } => Utility::DropTables {
            names: names.iter().map(object_name).collect::<Result<_>>()?,
            if_exists: *if_exists,
        },
        Statement::AlterTable(at) => {
            let table = object_name(&at.name)?;
            let mut columns = Vec::new();
            for op in &at.operations {
                match op {
                    AlterTableOperation::AddColumn {
                        if_not_exists,
                        column_def,
                        ..
                    } => columns.push((ddl::added_column(column_def)?, *if_not_exists)),
                    other => {
                        return Err(SqlError::unsupported(format!(
                            "ALTER TABLE {other} is not supported"
                        )))
                    }
                }
            }
            Utility::AddColumns { table, columns }
        }
        Statement::Set(set) => match set {
            Set::SingleAssignment {
                variable, values, ..
            } => Utility::Set {
                name: variable.to_string(),
                value: set_value(values)?,
            },
            Set::SetTimeZone { value, .. } => Utility::Set {
                name: "TimeZone".into(),
                value: set_value(std::slice::from_ref(value))?,
            },
            Set::SetNames { charset_name, .. } => Utility::Set {
                name: "client_encoding".into(),
                value: Some(charset_name.value.clone()),
            },
            Set::SetTransaction { .. } | Set::SetSessionParam(_) | Set::SetRole { .. } => {
                Utility::NoOp("SET")
            }
            other => return Err(SqlError::unsupported(format!("{other} is not supported"))),
        },
        Statement::ShowVariable { variable } => {
            let name = show_name(variable);
            if name == "all" {
                Utility::ShowAll
            } else {
                Utility::Show { name }
            }
        }
        Statement::StartTransaction { begin, .. } => {
            Utility::Begin(if *begin { "BEGIN" } else { "START TRANSACTION" })
        }
        Statement::Commit { .. } => Utility::Commit,
        Statement::Rollback { .. } => Utility::Rollback,
        Statement::Discard { .. } => Utility::NoOp("DISCARD ALL"),
        Statement::Vacuum(_) => Utility::Vacuum,
        Statement::Deallocate { .. } => Utility::NoOp("DEALLOCATE"),
        _ => return Ok(None),
    }))
}

impl Utility {
    pub fn schema(&self, session: &Session) -> Result<SchemaRef> {
        Ok(match self {
            Utility::Show { name } => {
                text_schema(&session.settings.get(name)?.0.to_ascii_lowercase())
            }
            Utility::ShowAll => Arc::new(Schema::new(vec![
                Field::new("name", DataType::Utf8, false),
                Field::new("setting", DataType::Utf8, false),
                Field::new("description", DataType::Utf8, false),
            ])),
            _ => Arc::new(Schema::empty()),
        })
    }
}

fn rows(schema: SchemaRef, columns: Vec<Vec<String>>) -> Result<Output> {
    let arrays = columns
        .into_iter()
        .map(|c| Arc::new(StringArray::from(c)) as _)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays)?;
    let stream = MemoryStream::try_new(vec![batch], schema.clone(), None)?;
    Ok(Output::Rows {
        schema,
        stream: Box::pin(stream),
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SqlError::new(StatusCode::Internal, e.to_string()))
}

pub async fn execute(u: &Utility, session: &mut Session) -> Result<Output> {
    let db = session.engine().db().clone();
    match u.clone() {
        Utility::CreateTable { def, if_not_exists } => {
            let name = def.name.clone();
            let created = blocking(move || db.create_table(def, if_not_exists)).await??;
            if !created {
                session.notify(Notice::Warning(format!(
                    "relation \"{name}\" already exists, skipping"
                )));
            }
            Ok(Output::command("CREATE TABLE"))
        }
        Utility::DropTables { names, if_exists } => {
            for name in names {
                let db = db.clone();
                let n = name.clone();
                let dropped = blocking(move || db.drop_table(&n, if_exists)).await??;
                if !dropped {
                    session.notify(Notice::Warning(format!(
                        "table \"{name}\" does not exist, skipping"
                    )));
                }
            }
            Ok(Output::command("DROP TABLE"))
        }
        Utility::AddColumns { table, columns } => {
            for (col, if_not_exists) in columns {
                let db = db.clone();
                let t = table.clone();
                let name = col.name.clone();
                let added = blocking(move || db.add_column(&t, col, if_not_exists)).await??;
                if !added {
                    session.notify(Notice::Warning(format!(
                        "column \"{name}\" of relation \"{table}\" already exists, skipping"
                    )));
                }
            }
            Ok(Output::command("ALTER TABLE"))
        }
        Utility::Vacuum => {
            blocking(move || {
                db.flush()?;
                db.compact_all()
            })
            .await??;
            Ok(Output::command("VACUUM"))
        }
        Utility::Set { name, value } => {
            if let Some(changed) = session.settings.set(&name, value.as_deref())? {
                if changed.report {
                    session.notify(Notice::ParameterStatus(
                        changed.name.to_string(),
                        changed.value,
                    ));
                }
            }
            Ok(Output::command("SET"))
        }
        Utility::Show { name } => {
            let (canonical, value) = session.settings.get(&name)?;
            rows(
                text_schema(&canonical.to_ascii_lowercase()),
                vec![vec![value]],
            )
        }
        Utility::ShowAll => {
            let all = session.settings.all();
            let schema = u.schema(session)?;
            let (mut n, mut s, mut d) = (vec![], vec![], vec![]);
            for (name, setting, desc) in all {
                n.push(name);
                s.push(setting);
                d.push(desc);
            }
            rows(schema, vec![n, s, d])
        }
        Utility::Begin(tag) => {
            if session.in_transaction {
                session.notify(Notice::Warning(
                    "there is already a transaction in progress".into(),
                ));
            }
            session.in_transaction = true;
            session.wrote_in_transaction = false;
            Ok(Output::command(tag))
        }
        Utility::Commit => {
            if !session.in_transaction {
                session.notify(Notice::Warning(
                    "there is no transaction in progress".into(),
                ));
            }
            session.in_transaction = false;
            Ok(Output::command("COMMIT"))
        }
        Utility::Rollback => {
            if !session.in_transaction {
                session.notify(Notice::Warning(
                    "there is no transaction in progress".into(),
                ));
            } else if session.wrote_in_transaction {
                session.notify(Notice::Warning(
                    "LynxStore commits every statement on its own: writes made since BEGIN were not rolled back".into(),
                ));
            }
            session.in_transaction = false;
            Ok(Output::command("ROLLBACK"))
        }
        Utility::NoOp(tag) => Ok(Output::command(tag)),
        Utility::Copy(copy) => crate::copy::execute(&copy, session).await,
    }
}
