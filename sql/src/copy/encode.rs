//! COPY TO output encoders: text, CSV and PGCOPY binary.
//!
//! One output message per row, as PostgreSQL sends them: the binary header
//! travels with the first row and the trailer on its own, which is what
//! `tokio_postgres::binary_copy::BinaryCopyOutStream` expects. Values are
//! written by `lynx_pgtypes`, so text is byte-for-byte PostgreSQL 16's.

use bytes::{BufMut, Bytes, BytesMut};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use lynx_pgtypes::PgFormatSettings;
use lynx_pgtypes::PgType as Type;

use super::options::{CopyFormat, CopyOptions};
use crate::error::{Result, SqlError};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

pub struct Encoder {
    format: CopyFormat,
    delimiter: u8,
    null: String,
    quote: u8,
    escape: u8,
    header: bool,
    force_quote: Vec<bool>,
    names: Vec<String>,
    types: Vec<Type>,
    settings: PgFormatSettings,
    /// The binary signature or CSV/text header is still to be sent.
    preamble_pending: bool,
    scratch: String,
}

impl Encoder {
    pub fn new(options: &CopyOptions, schema: &Schema, settings: PgFormatSettings) -> Result<Self> {
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let types = schema
            .fields()
            .iter()
            .map(|f| lynx_pgtypes::pg_type_of_field(f).map_err(|e| SqlError::from_pgtype(&e)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoder {
            format: options.format,
            delimiter: options.delimiter,
            null: options.null.clone(),
            quote: options.quote,
            escape: options.escape,
            header: options.header,
            force_quote: options.force_quote.flags(&names),
            names,
            types,
            settings,
            preamble_pending: true,
            scratch: String::new(),
        })
    }

    /// The wire format code: 1 for binary, 0 otherwise.
    pub fn format_code(&self) -> i8 {
        i8::from(self.format == CopyFormat::Binary)
    }

    pub fn columns(&self) -> usize {
        self.names.len()
    }

    /// Encodes every row of `batch`, one `Bytes` per row.
    pub fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(batch.num_rows() + 1);
        let mut buf = BytesMut::new();
        for row in 0..batch.num_rows() {
            self.preamble(&mut buf, &mut out);
            match self.format {
                CopyFormat::Binary => self.binary_row(batch, row, &mut buf)?,
                _ => self.text_row(batch, row, &mut buf)?,
            }
            out.push(buf.split().freeze());
        }
        Ok(out)
    }

    /// What follows the last row: the binary trailer (with the header when
    /// there were no rows), or a pending CSV header.
    pub fn finish(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut buf = BytesMut::new();
        self.preamble(&mut buf, &mut out);
        if self.format == CopyFormat::Binary {
            buf.put_i16(-1);
        }
        if !buf.is_empty() {
            out.push(buf.freeze());
        }
        out
    }

    /// Writes the binary signature (into `buf`, travelling with the next
    /// row) or the header line (its own message), once.
    fn preamble(&mut self, buf: &mut BytesMut, out: &mut Vec<Bytes>) {
        if !self.preamble_pending {
            return;
        }
        self.preamble_pending = false;
        match self.format {
            CopyFormat::Binary => {
                buf.put_slice(SIGNATURE);
                buf.put_i32(0);
                buf.put_i32(0);
            }
            _ if self.header => {
                for (i, name) in self.names.clone().iter().enumerate() {
                    if i > 0 {
                        buf.put_u8(self.delimiter);
                    }
                    if self.format == CopyFormat::Csv {
                        self.csv_value(name, false, buf);
                    } else {
                        self.text_value(name, buf);
                    }
                }
                buf.put_u8(b'\n');
                // PostgreSQL sends the header line as its own message.
                out.push(buf.split().freeze());
            }
            _ => {}
        }
    }

    fn text_row(&mut self, batch: &RecordBatch, row: usize, buf: &mut BytesMut) -> Result<()> {
        let single = batch.num_columns() == 1;
        for (col, array) in batch.columns().iter().enumerate() {
            if col > 0 {
                buf.put_u8(self.delimiter);
            }
            let mut s = std::mem::take(&mut self.scratch);
            s.clear();
            let ty = &self.types[col];
            let is_null =
                lynx_pgtypes::write_text_as(array.as_ref(), row, ty, &self.settings, &mut s)
                    .map_err(|e| SqlError::from_pgtype(&e))?;
            if is_null {
                buf.put_slice(self.null.as_bytes());
            } else if self.format == CopyFormat::Csv {
                let force = self.force_quote.get(col).copied().unwrap_or(false);
                self.csv_value(&s, force || (single && s == "\\."), buf);
            } else {
                self.text_value(&s, buf);
            }
            self.scratch = s;
        }
        buf.put_u8(b'\n');
        Ok(())
    }

    fn text_value(&self, s: &str, buf: &mut BytesMut) {
        for &b in s.as_bytes() {
            match b {
                b'\\' => buf.put_slice(b"\\\\"),
                b'\n' => buf.put_slice(b"\\n"),
                b'\r' => buf.put_slice(b"\\r"),
                b'\t' => buf.put_slice(b"\\t"),
                8 => buf.put_slice(b"\\b"),
                12 => buf.put_slice(b"\\f"),
                11 => buf.put_slice(b"\\v"),
                b if b == self.delimiter => {
                    buf.put_u8(b'\\');
                    buf.put_u8(b);
                }
                b => buf.put_u8(b),
            }
        }
    }

    fn csv_value(&self, s: &str, force: bool, buf: &mut BytesMut) {
        let bytes = s.as_bytes();
        let quote = force
            || s == self.null
            || bytes
                .iter()
                .any(|&b| b == self.delimiter || b == self.quote || b == b'\n' || b == b'\r');
        if !quote {
            buf.put_slice(bytes);
            return;
        }
        buf.put_u8(self.quote);
        for &b in bytes {
            if b == self.quote || b == self.escape {
                buf.put_u8(self.escape);
            }
            buf.put_u8(b);
        }
        buf.put_u8(self.quote);
    }

    fn binary_row(&self, batch: &RecordBatch, row: usize, buf: &mut BytesMut) -> Result<()> {
        buf.put_i16(batch.num_columns() as i16);
        for (col, array) in batch.columns().iter().enumerate() {
            let len_at = buf.len();
            buf.put_i32(0);
            let is_null = lynx_pgtypes::write_binary(array.as_ref(), row, &self.types[col], buf)
                .map_err(|e| SqlError::from_pgtype(&e))?;
            if is_null {
                buf[len_at..len_at + 4].copy_from_slice(&(-1i32).to_be_bytes());
            } else {
                let len = (buf.len() - len_at - 4) as i32;
                buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
        Ok(())
    }
}
