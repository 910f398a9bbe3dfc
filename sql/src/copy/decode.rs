//! COPY FROM input decoders: text, CSV and PGCOPY binary.
//!
//! Input arrives in arbitrary chunks (CopyData messages or file reads); each
//! decoder keeps the unfinished tail of the input and hands complete rows to
//! a [`RowSink`]. The rules are PostgreSQL 16's (`copyfromparse.c`): text
//! escapes and the `\N` null marker matched before de-escaping, CSV quoting
//! with `""` or a separate escape character, `\.` as an end marker, the
//! 11-byte PGCOPY signature. Input is untrusted: no indexing without bounds.

use super::options::{CopyFormat, CopyOptions};
use super::rows::{bad_format, context_text, RowSink};
use crate::error::Result;

/// Decodes one COPY FROM input stream.
pub enum Decoder {
    Text(TextDecoder),
    Binary(BinaryDecoder),
}

impl Decoder {
    pub fn new(options: &CopyOptions, columns: &[String]) -> Decoder {
        match options.format {
            CopyFormat::Binary => Decoder::Binary(BinaryDecoder {
                buf: Vec::new(),
                header_done: false,
                ended: false,
                tuples: 0,
            }),
            _ => Decoder::Text(TextDecoder {
                csv: options.format == CopyFormat::Csv,
                delimiter: options.delimiter,
                null: options.null.as_bytes().to_vec(),
                quote: options.quote,
                escape: options.escape,
                force_not_null: options.force_not_null.flags(columns),
                force_null: options.force_null.flags(columns),
                header_pending: options.header,
                buf: Vec::new(),
                line: 0,
                ended: false,
                decoded: Vec::new(),
                ranges: Vec::new(),
            }),
        }
    }

    pub fn feed(&mut self, data: &[u8], sink: &mut RowSink) -> Result<()> {
        match self {
            Decoder::Text(d) => d.feed(data, sink),
            Decoder::Binary(d) => d.feed(data, sink),
        }
    }

    /// The input is complete: decode what is left.
    pub fn finish(&mut self, sink: &mut RowSink) -> Result<()> {
        match self {
            Decoder::Text(d) => d.finish(sink),
            Decoder::Binary(d) => d.finish(),
        }
    }
}

pub struct TextDecoder {
    csv: bool,
    delimiter: u8,
    null: Vec<u8>,
    quote: u8,
    escape: u8,
    force_not_null: Vec<bool>,
    force_null: Vec<bool>,
    header_pending: bool,
    /// Input not yet consumed.
    buf: Vec<u8>,
    line: u64,
    ended: bool,
    decoded: Vec<u8>,
    ranges: Vec<Option<(usize, usize)>>,
}

impl TextDecoder {
    fn feed(&mut self, data: &[u8], sink: &mut RowSink) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        let buf = std::mem::take(&mut self.buf);
        let mut start = 0;
        let result = loop {
            let Some(end) = self.record_end(&buf, start) else {
                break Ok(());
            };
            let record = &buf[start..end];
            start = end + 1;
            if let Err(e) = self.record(record, sink) {
                break Err(e);
            }
            if self.ended {
                break Ok(());
            }
        };
        self.buf = buf;
        self.buf.drain(..start.min(self.buf.len()));
        result
    }

    fn finish(&mut self, sink: &mut RowSink) -> Result<()> {
        if self.ended || self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        if self.csv && self.in_quote_at_end(&buf) {
            self.line += 1;
            return Err(
                bad_format("unterminated CSV quoted field").with_context(format!(
                    "COPY {}, line {}: {}",
                    sink.table(),
                    self.line,
                    context_text(&buf)
                )),
            );
        }
        self.record(&buf, sink)
    }

    /// Index of the newline ending the record that starts at `start`.
    fn record_end(&self, buf: &[u8], start: usize) -> Option<usize> {
        if !self.csv {
            return buf
                .get(start..)?
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| start + p);
        }
        let mut in_quote = false;
        let mut i = start;
        while let Some(&c) = buf.get(i) {
            if in_quote {
                if c == self.escape && self.escape != self.quote {
                    match buf.get(i + 1) {
                        Some(&n) if n == self.quote || n == self.escape => {
                            i += 2;
                            continue;
                        }
                        None => return None,
                        _ => {}
                    }
                }
                if c == self.quote {
                    in_quote = false;
                }
            } else if c == self.quote {
                in_quote = true;
            } else if c == b'\n' {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    fn in_quote_at_end(&self, buf: &[u8]) -> bool {
        let mut in_quote = false;
        let mut i = 0;
        while let Some(&c) = buf.get(i) {
            if in_quote && c == self.escape && self.escape != self.quote {
                if let Some(&n) = buf.get(i + 1) {
                    if n == self.quote || n == self.escape {
                        i += 2;
                        continue;
                    }
                }
            }
            if c == self.quote {
                in_quote = !in_quote;
            }
            i += 1;
        }
        in_quote
    }

    fn record(&mut self, record: &[u8], sink: &mut RowSink) -> Result<()> {
        let record = record.strip_suffix(b"\r").unwrap_or(record);
        self.line += 1;
        if record == b"\\." {
            self.ended = true;
            return Ok(());
        }
        if self.header_pending {
            self.header_pending = false;
            return Ok(());
        }
        self.decoded.clear();
        self.ranges.clear();
        if self.csv {
            self.split_csv(record);
        } else {
            self.split_text(record);
        }
        let expected = sink.columns().len();
        let context = || {
            format!(
                "COPY {}, line {}: {}",
                sink.table(),
                self.line,
                context_text(record)
            )
        };
        if self.ranges.len() > expected {
            return Err(bad_format("extra data after last expected column").with_context(context()));
        }
        if self.ranges.len() < expected {
            let missing = &sink.columns()[self.ranges.len()];
            return Err(bad_format(format!("missing data for column \"{missing}\""))
                .with_context(context()));
        }
        let decoded = &self.decoded;
        let fields: Vec<Option<&[u8]>> = self
            .ranges
            .iter()
            .map(|r| r.and_then(|(a, b)| decoded.get(a..b)))
            .collect();
        sink.push_text(&fields, self.line)
    }

    /// PostgreSQL text format: delimiter-separated, backslash escapes.
    fn split_text(&mut self, line: &[u8]) {
        let mut i = 0;
        loop {
            let raw_start = i;
            let out_start = self.decoded.len();
            while let Some(&c) = line.get(i) {
                if c == self.delimiter {
                    break;
                }
                i += 1;
                if c != b'\\' {
                    self.decoded.push(c);
                    continue;
                }
                let Some(&e) = line.get(i) else {
                    self.decoded.push(b'\\');
                    break;
                };
                i += 1;
                match e {
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match line.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        self.decoded.push((v & 0xff) as u8);
                    }
                    b'x' if line.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                        let mut v = 0u32;
                        for _ in 0..2 {
                            match line.get(i).and_then(|d| (*d as char).to_digit(16)) {
                                Some(d) => {
                                    v = v * 16 + d;
                                    i += 1;
                                }
                                None => break,
                            }
                        }
                        self.decoded.push(v as u8);
                    }
                    b'b' => self.decoded.push(8),
                    b'f' => self.decoded.push(12),
                    b'n' => self.decoded.push(b'\n'),
                    b'r' => self.decoded.push(b'\r'),
                    b't' => self.decoded.push(b'\t'),
                    b'v' => self.decoded.push(11),
                    other => self.decoded.push(other),
                }
            }
            let raw = line.get(raw_start..i).unwrap_or_default();
            if raw == self.null.as_slice() {
                self.decoded.truncate(out_start);
                self.ranges.push(None);
            } else {
                self.ranges.push(Some((out_start, self.decoded.len())));
            }
            if line.get(i) == Some(&self.delimiter) {
                i += 1;
            } else {
                return;
            }
        }
    }

    /// CSV: fields may be quoted; quotes inside quoted parts are doubled
    /// (or preceded by ESCAPE); unquoted NULL-string fields are NULL.
    fn split_csv(&mut self, line: &[u8]) {
        let mut i = 0;
        loop {
            let col = self.ranges.len();
            let raw_start = i;
            let out_start = self.decoded.len();
            let mut saw_quote = false;
            'field: while let Some(&c) = line.get(i) {
                if c == self.delimiter {
                    break;
                }
                i += 1;
                if c != self.quote {
                    self.decoded.push(c);
                    continue;
                }
                saw_quote = true;
                while let Some(&q) = line.get(i) {
                    i += 1;
                    if q == self.escape {
                        if let Some(&n) = line.get(i) {
                            if n == self.quote || n == self.escape {
                                self.decoded.push(n);
                                i += 1;
                                continue;
                            }
                        }
                    }
                    if q == self.quote {
                        continue 'field;
                    }
                    self.decoded.push(q);
                }
            }
            let raw = line.get(raw_start..i).unwrap_or_default();
            let value = self.decoded.get(out_start..).unwrap_or_default();
            let force_not_null = self.force_not_null.get(col).copied().unwrap_or(false);
            let force_null = self.force_null.get(col).copied().unwrap_or(false);
            let is_null = (!saw_quote && !force_not_null && raw == self.null.as_slice())
                || (saw_quote && force_null && value == self.null.as_slice());
            if is_null {
                self.decoded.truncate(out_start);
                self.ranges.push(None);
            } else {
                self.ranges.push(Some((out_start, self.decoded.len())));
            }
            if line.get(i) == Some(&self.delimiter) {
                i += 1;
            } else {
                return;
            }
        }
    }
}

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

pub struct BinaryDecoder {
    buf: Vec<u8>,
    header_done: bool,
    ended: bool,
    tuples: u64,
}

fn i16_at(b: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl BinaryDecoder {
    fn feed(&mut self, data: &[u8], sink: &mut RowSink) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        let buf = std::mem::take(&mut self.buf);
        let mut pos = 0;
        let result = self.decode(&buf, &mut pos, sink);
        self.buf = buf;
        self.buf.drain(..pos.min(self.buf.len()));
        result
    }

    /// Decodes complete pieces from `buf[*pos..]`, advancing `pos`.
    fn decode(&mut self, buf: &[u8], pos: &mut usize, sink: &mut RowSink) -> Result<()> {
        if !self.header_done {
            if buf.len() < SIGNATURE.len() {
                if !SIGNATURE.starts_with(buf) {
                    return Err(bad_format("COPY file signature not recognized"));
                }
                return Ok(());
            }
            if !buf.starts_with(SIGNATURE) {
                return Err(bad_format("COPY file signature not recognized"));
            }
            let (Some(flags), Some(ext)) = (i32_at(buf, 11), i32_at(buf, 15)) else {
                return Ok(());
            };
            if flags & (1 << 16) != 0 {
                return Err(bad_format("invalid COPY file header (WITH OIDS)"));
            }
            if flags & !0xffff & !(1 << 16) != 0 {
                return Err(bad_format(
                    "unrecognized critical flags in COPY file header",
                ));
            }
            let Ok(ext) = usize::try_from(ext) else {
                return Err(bad_format("invalid COPY file header (wrong length)"));
            };
            if buf.len() < 19 + ext {
                return Ok(());
            }
            *pos = 19 + ext;
            self.header_done = true;
        }
        let ncols = sink.columns().len();
        let mut ranges: Vec<Option<(usize, usize)>> = Vec::with_capacity(ncols);
        loop {
            let mut at = *pos;
            let Some(count) = i16_at(buf, at) else {
                return Ok(());
            };
            at += 2;
            if count == -1 {
                self.ended = true;
                *pos = buf.len();
                return Ok(());
            }
            let line = self.tuples + 1;
            if usize::try_from(count).ok() != Some(ncols) {
                return Err(
                    bad_format(format!("row field count is {count}, expected {ncols}"))
                        .with_context(format!("COPY {}, line {line}", sink.table())),
                );
            }
            ranges.clear();
            for _ in 0..ncols {
                let Some(len) = i32_at(buf, at) else {
                    return Ok(());
                };
                at += 4;
                if len == -1 {
                    ranges.push(None);
                    continue;
                }
                let Ok(len) = usize::try_from(len) else {
                    return Err(bad_format("invalid field size")
                        .with_context(format!("COPY {}, line {line}", sink.table())));
                };
                if buf.len() < at + len {
                    return Ok(());
                }
                ranges.push(Some((at, at + len)));
                at += len;
            }
            let fields: Vec<Option<&[u8]>> = ranges
                .iter()
                .map(|r| r.and_then(|(a, b)| buf.get(a..b)))
                .collect();
            sink.push_binary(&fields, line)?;
            self.tuples += 1;
            *pos = at;
        }
    }

    fn finish(&mut self) -> Result<()> {
        if !self.header_done {
            return Err(bad_format("COPY file signature not recognized"));
        }
        if !self.ended && !self.buf.is_empty() {
            return Err(bad_format("unexpected EOF in COPY data"));
        }
        Ok(())
    }
}
