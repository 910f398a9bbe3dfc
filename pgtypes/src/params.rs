//! Bind parameters: decoding client-sent values into DataFusion scalars.
//!
//! Owns the choice between the client's declared type (which fixes the
//! binary layout) and the planner's inferred type (which the scalar must
//! have). Parameter bytes are untrusted.

use arrow::datatypes::DataType;
use datafusion_common::ScalarValue;
use pgwire::api::results::FieldFormat;
use pgwire::api::Type;

use crate::binary_in::decode_binary;
use crate::error::{utf8, PgTypeError};
use crate::oid::{arrow_type_of, pg_type_of};
use crate::settings::PgFormatSettings;
use crate::text_in::parse_text;

/// Decodes a Bind parameter (text or binary format) of PostgreSQL type `ty`
/// into a scalar of Arrow type `target` (DataFusion's inferred type, or
/// [`arrow_type_of`]`(ty)` when unknown). `None` bytes are SQL NULL.
pub fn decode_param(
    bytes: Option<&[u8]>,
    ty: &Type,
    format: FieldFormat,
    target: &DataType,
    settings: &PgFormatSettings,
) -> Result<ScalarValue, PgTypeError> {
    let Some(bytes) = bytes else {
        return ScalarValue::try_from(target).map_err(|_| PgTypeError::unsupported_arrow(target));
    };
    match format {
        FieldFormat::Text => {
            let s = utf8(bytes)?;
            match parse_text(s, target, settings) {
                Ok(v) => Ok(v),
                Err(first) => {
                    // The client's type may read text the target cannot (a
                    // float8 parameter compared with an integer column).
                    let Some(natural) = arrow_type_of(ty).filter(|n| n != target) else {
                        return Err(first);
                    };
                    parse_text(s, &natural, settings)
                        .ok()
                        .and_then(|v| v.cast_to(target).ok())
                        .ok_or(first)
                }
            }
        }
        FieldFormat::Binary => {
            // An unspecified type: the target's own layout.
            let ty = if ty.oid() == 0 || *ty == Type::UNKNOWN {
                pg_type_of(target)?
            } else {
                ty.clone()
            };
            decode_binary(bytes, &ty, target)
        }
    }
}
