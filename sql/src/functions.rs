//! PostgreSQL functions that depend on the server or the session:
//! version(), current_setting(), set_config(), pg_backend_pid(),
//! session_user / current_user.
//!
//! Session-bound functions are registered on the per-statement state clone,
//! capturing that session's values, so sessions never see each other's.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    create_udf, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    SimpleScalarUDF, TypeSignature, Volatility,
};

use crate::settings::{Settings, SERVER_VERSION};

pub fn version_string() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (LynxStore {}) on {}-unknown-linux-gnu, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

fn constant_udf(name: &str, value: ScalarValue) -> ScalarUDF {
    let dt = value.data_type();
    create_udf(
        name,
        vec![],
        dt,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
    )
}

/// The role that owns every object (the bootstrap user).
pub const OWNER: &str = "lynx";

/// Functions that are the same for every session. Registered after the
/// pg_catalog setup, so these replace its versions.
pub fn register_static(ctx: &SessionContext) {
    register_format_type(ctx);
    ctx.register_udf(constant_udf(
        "version",
        ScalarValue::Utf8(Some(version_string())),
    ));
    let owner = |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        Ok(match args.first() {
            Some(ColumnarValue::Array(a)) => {
                ColumnarValue::Array(Arc::new(StringArray::from(vec![OWNER; a.len()])) as ArrayRef)
            }
            _ => ColumnarValue::Scalar(ScalarValue::Utf8(Some(OWNER.into()))),
        })
    };
    ctx.register_udf(create_udf(
        "pg_get_userbyid",
        vec![DataType::Int32],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(owner),
    ));
    // Comments: LynxStore stores none, so every description is NULL.
    for name in ["col_description", "obj_description", "shobj_description"] {
        let null = |_: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))
        };
        let sig = Signature::any(2, Volatility::Stable);
        let udf = SimpleScalarUDF::new_with_signature(name, sig, DataType::Utf8, Arc::new(null));
        ctx.register_udf(ScalarUDF::new_from_impl(udf));
    }
    // Every database is UTF8 (PostgreSQL's name for encoding 6).
    let encoding = |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        Ok(match args.first() {
            Some(ColumnarValue::Array(a)) => {
                ColumnarValue::Array(Arc::new(StringArray::from(vec!["UTF8"; a.len()])) as ArrayRef)
            }
            _ => ColumnarValue::Scalar(ScalarValue::Utf8(Some("UTF8".into()))),
        })
    };
    ctx.register_udf(create_udf(
        "pg_encoding_to_char",
        vec![DataType::Int32],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(encoding),
    ));
}

/// `format_type(oid, typmod)`: datafusion-pg-catalog's, except that a
/// numeric with scale 0 keeps its scale (`numeric(12,0)`, as PostgreSQL).
#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatType {
    inner: ScalarUDF,
}

impl ScalarUDFImpl for FormatType {
    fn name(&self) -> &str {
        "format_type"
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let rows = args.number_rows;
        let inputs = ColumnarValue::values_to_arrays(&args.args)?;
        let out = self.inner.invoke_with_args(args)?.into_array(rows)?;
        let (Some(oids), Some(mods), Some(names)) = (
            inputs.first().map(|a| cast(a, &DataType::Int64)),
            inputs.get(1).map(|a| cast(a, &DataType::Int64)),
            out.as_string_opt::<i32>(),
        ) else {
            return Ok(ColumnarValue::Array(out));
        };
        let (oids, mods) = (oids?, mods?);
        let (oids, mods) = (
            oids.as_primitive::<Int64Type>(),
            mods.as_primitive::<Int64Type>(),
        );
        let fixed: StringArray = (0..names.len())
            .map(|i| {
                let name = names.is_valid(i).then(|| names.value(i).to_string());
                match (oids.is_valid(i) && mods.is_valid(i)).then(|| (oids.value(i), mods.value(i)))
                {
                    Some((1700, m)) if m >= 4 && (m - 4) & 0x7ff == 0 => {
                        Some(format!("numeric({},0)", ((m - 4) >> 16) & 0xffff))
                    }
                    _ => name,
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(fixed)))
    }
}

/// Replaces `format_type` of the pg_catalog setup with [`FormatType`].
pub fn register_format_type(ctx: &SessionContext) {
    if let Ok(inner) = ctx.udf("format_type") {
        let inner = inner.as_ref().clone();
        ctx.register_udf(ScalarUDF::new_from_impl(FormatType { inner }));
    }
}

/// Functions bound to one session's values.
pub fn register_session(state: &mut SessionState, settings: &Settings, user: &str, pid: i32) {
    let user_value = ScalarValue::Utf8(Some(user.to_string()));
    for name in ["session_user", "current_user", "current_role", "user"] {
        let _ = state.register_udf(Arc::new(constant_udf(name, user_value.clone())));
    }
    let _ = state.register_udf(Arc::new(constant_udf(
        "pg_backend_pid",
        ScalarValue::Int32(Some(pid)),
    )));
    let settings = Arc::new(settings.clone());
    let current = {
        let settings = settings.clone();
        move |args: &[ColumnarValue]| lookup_settings(&settings, args)
    };
    let signature = Signature::one_of(
        vec![
            TypeSignature::Exact(vec![DataType::Utf8]),
            TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
        ],
        Volatility::Stable,
    );
    let udf = SimpleScalarUDF::new_with_signature(
        "current_setting",
        signature,
        DataType::Utf8,
        Arc::new(current),
    );
    let _ = state.register_udf(Arc::new(ScalarUDF::new_from_impl(udf)));
}

fn lookup_settings(
    settings: &Settings,
    args: &[ColumnarValue],
) -> datafusion::error::Result<ColumnarValue> {
    let missing_ok = match args.get(1) {
        Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(b)))) => *b,
        _ => false,
    };
    let lookup = |name: &str| -> datafusion::error::Result<Option<String>> {
        match settings.get(name) {
            Ok((_, v)) => Ok(Some(v)),
            Err(_) if missing_ok => Ok(None),
            Err(e) => Err(DataFusionError::External(Box::new(e))),
        }
    };
    match args.first() {
        Some(ColumnarValue::Scalar(s)) => {
            let name = match s {
                ScalarValue::Utf8(Some(n))
                | ScalarValue::LargeUtf8(Some(n))
                | ScalarValue::Utf8View(Some(n)) => n.clone(),
                _ => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            };
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(lookup(&name)?)))
        }
        Some(ColumnarValue::Array(a)) => {
            let names = a.as_string::<i32>();
            let values = names
                .iter()
                .map(|n| n.map(lookup).transpose().map(Option::flatten))
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            Ok(ColumnarValue::Array(
                Arc::new(StringArray::from(values)) as ArrayRef
            ))
        }
        None => Err(DataFusionError::Plan(
            "current_setting needs an argument".into(),
        )),
    }
}
