//! COPY FROM input decoders: text, CSV and PGCOPY binary.
//!
//! Input arrives in arbitrary chunks (CopyData messages or file reads); each
//! decoder keeps the unfinished tail of the input and hands complete rows to
//! a [`RowSink`]. The rules are PostgreSQL 16's (`copyfromparse.c`): text
//! escapes and the `\N` null marker matched before de-escaping, CSV quoting
//! with `""` or a separate escape character, `\.` as an end marker, the
//! 11-byte PGCOPY signature. Input is untrusted: no indexing without bounds.
//!
//! Text and CSV input is cut into blocks of whole records (a quote-aware
//! scan for newlines, the only sequential step) that are parsed into Arrow
//! batches on other threads while more input arrives; the batches are
//! handed to the sink in input order, so rows, errors (the first one by
//! line) and the `\.` end marker behave as with one thread.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use datafusion::arrow::array::RecordBatch;

use super::options::{CopyFormat, CopyOptions};
use super::rows::{
    bad_format, blocking, context_text, Chunk, RowBuilder, RowSink, Span, SpanKind,
    MAX_RECORD_BYTES, SPLIT_ROWS,
};
use crate::error::{Result, SqlError, StatusCode};

/// Text and CSV input is parsed in blocks of whole records of about this size.
const BLOCK_BYTES: usize = 1 << 20;

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
                syntax: Arc::new(TextSyntax {
                    csv: options.format == CopyFormat::Csv,
                    delimiter: options.delimiter,
                    null: options.null.as_bytes().to_vec(),
                    quote: options.quote,
                    escape: options.escape,
                    force_not_null: options.force_not_null.flags(columns),
                    force_null: options.force_null.flags(columns),
                }),
                header_pending: options.header,
                buf: Vec::new(),
                scanned: 0,
                in_quote: false,
                ends: Vec::new(),
                line: 0,
                ended: false,
                in_flight: VecDeque::new(),
                max_in_flight: std::thread::available_parallelism().map_or(1, |n| n.get()),
                block_bytes: BLOCK_BYTES,
                max_record_bytes: MAX_RECORD_BYTES,
                spare: Vec::new(),
                spare_chunks: Vec::new(),
            }),
        }
    }

    pub fn feed(&mut self, data: &[u8], sink: &mut RowSink) -> Result<()> {
        match self {
            Decoder::Text(d) => d.feed(data, sink),
            Decoder::Binary(d) => d.feed(data, sink),
        }
    }

    /// Cuts text and CSV input into blocks of about `bytes` (tests).
    #[cfg(test)]
    pub fn set_block_bytes(&mut self, bytes: usize) {
        if let Decoder::Text(d) = self {
            d.block_bytes = bytes.max(1);
        }
    }

    /// Refuses text and CSV records longer than `bytes` (tests).
    #[cfg(test)]
    pub fn set_max_record_bytes(&mut self, bytes: usize) {
        if let Decoder::Text(d) = self {
            d.max_record_bytes = bytes;
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

/// How text or CSV input is written (the COPY options).
struct TextSyntax {
    csv: bool,
    delimiter: u8,
    null: Vec<u8>,
    quote: u8,
    escape: u8,
    force_not_null: Vec<bool>,
    force_null: Vec<bool>,
}

/// Whole records cut from the input, for one parsing thread.
struct Block {
    data: Vec<u8>,
    /// Records (lines) before this block, header included.
    first_line: u64,
    skip_header: bool,
    /// The end of the input: a final record may lack its newline.
    last: bool,
    /// The newline ending each whole record.
    ends: Vec<usize>,
    /// Where the parsing thread cuts records into fields (reused).
    chunk: Chunk,
}

/// What a parsing thread made of a block.
struct Parsed {
    batches: Vec<RecordBatch>,
    /// The block held the `\.` end marker: later input is ignored.
    ended: bool,
}

/// A parsing thread's result and the block's buffer, for reuse.
type Done = (Result<Parsed>, Block);

pub struct TextDecoder {
    syntax: Arc<TextSyntax>,
    header_pending: bool,
    /// Input not yet handed to a block.
    buf: Vec<u8>,
    /// `buf[..scanned]` has been scanned for record ends; `in_quote` is the
    /// CSV quote state there.
    scanned: usize,
    in_quote: bool,
    /// Where the whole records in `buf` end (their newlines).
    ends: Vec<usize>,
    /// Records handed to blocks so far.
    line: u64,
    ended: bool,
    in_flight: VecDeque<JoinHandle<Done>>,
    max_in_flight: usize,
    block_bytes: usize,
    /// The longest record accepted ([`MAX_RECORD_BYTES`]; lower in tests).
    max_record_bytes: usize,
    /// Buffers of parsed blocks, reused for the next ones: a fresh buffer
    /// grows by copying and faults its pages in (5 % of a CSV COPY's CPU).
    spare: Vec<Vec<u8>>,
    spare_chunks: Vec<Chunk>,
}

impl TextDecoder {
    fn feed(&mut self, data: &[u8], sink: &mut RowSink) -> Result<()> {
        // A block is at most a block's worth of records, one record and
        // one piece: its offsets fit a `Span`.
        for piece in data.chunks(BLOCK_BYTES) {
            if self.ended {
                return Ok(());
            }
            // Room for a whole block and the record it cuts through at once.
            let want = (2 * self.block_bytes.min(BLOCK_BYTES)).max(self.buf.len() + piece.len());
            self.buf.reserve(want - self.buf.len());
            self.buf.extend_from_slice(piece);
            self.scan();
            if self.ends.last().is_some_and(|end| *end >= self.block_bytes) {
                self.dispatch(sink, false);
            }
            let open = self.buf.len() - self.ends.last().map_or(0, |end| end + 1);
            if open > self.max_record_bytes {
                return Err(SqlError::new(
                    StatusCode::InvalidInput,
                    format!(
                        "COPY record at line {} is longer than {} bytes",
                        self.line + self.ends.len() as u64 + 1,
                        self.max_record_bytes
                    ),
                )
                .with_sqlstate("54000"));
            }
            self.collect(sink, false)?;
        }
        Ok(())
    }

    fn finish(&mut self, sink: &mut RowSink) -> Result<()> {
        if !self.ended && !self.buf.is_empty() {
            self.dispatch(sink, true);
        }
        self.collect(sink, true)
    }

    /// Finds the record ends in the input not scanned yet.
    fn scan(&mut self) {
        let syn = &self.syntax;
        let buf = &self.buf;
        let from = self.scanned;
        let rest = buf.get(from..).unwrap_or_default();
        if !syn.csv {
            self.ends
                .extend(memchr::memchr_iter(b'\n', rest).map(|p| from + p));
            self.scanned = buf.len();
            return;
        }
        if syn.escape == syn.quote {
            // Quotes toggle the state ("" toggles twice): a running parity,
            // 64 bytes at a time.
            for (k, block) in words(rest).enumerate() {
                let quotes = byte_mask(&block, syn.quote);
                let newlines = byte_mask(&block, b'\n');
                let mut inside = prefix_xor(quotes);
                if self.in_quote {
                    inside = !inside;
                }
                let mut ends = newlines & !inside;
                while ends != 0 {
                    self.ends
                        .push(from + k * 64 + ends.trailing_zeros() as usize);
                    ends &= ends - 1;
                }
                self.in_quote ^= quotes.count_ones() % 2 == 1;
            }
            self.scanned = buf.len();
            return;
        }
        let mut i = from;
        loop {
            match syn.csv_newline(buf, i, &mut self.in_quote) {
                Ok(at) => {
                    self.ends.push(at);
                    i = at + 1;
                }
                Err(resume) => {
                    self.scanned = resume;
                    return;
                }
            }
        }
    }

    /// Hands the whole records in the buffer (all of it at the end of the
    /// input) to a parsing thread.
    fn dispatch(&mut self, sink: &RowSink, last: bool) {
        let cut = match self.ends.last() {
            _ if last => self.buf.len(),
            Some(end) => end + 1,
            None => return,
        };
        let mut next = self.spare.pop().unwrap_or_default();
        next.clear();
        next.extend_from_slice(self.buf.get(cut..).unwrap_or_default());
        self.buf.truncate(cut);
        let ends = std::mem::take(&mut self.ends);
        let mut block = Block {
            data: std::mem::replace(&mut self.buf, next),
            first_line: self.line,
            skip_header: std::mem::take(&mut self.header_pending),
            last,
            ends,
            chunk: self.spare_chunks.pop().unwrap_or_default(),
        };
        self.line += block.ends.len() as u64;
        self.scanned -= cut.min(self.scanned);
        let syntax = self.syntax.clone();
        let rows = sink.builder();
        self.in_flight.push_back(std::thread::spawn(move || {
            let parsed = syntax.parse_block(rows, &mut block);
            (parsed, block)
        }));
    }

    /// Hands parsed blocks to the sink in input order: those already done,
    /// those over the in-flight limit, or (`all`) every one.
    fn collect(&mut self, sink: &mut RowSink, all: bool) -> Result<()> {
        while let Some(front) = self.in_flight.front() {
            if !all && self.in_flight.len() <= self.max_in_flight && !front.is_finished() {
                break;
            }
            let Some(handle) = self.in_flight.pop_front() else {
                break;
            };
            let (parsed, block) = blocking(|| handle.join()).map_err(|_| {
                SqlError::new(StatusCode::Internal, "COPY: a parsing thread panicked")
            })?;
            if self.spare.len() <= self.max_in_flight {
                self.spare.push(block.data);
                self.spare_chunks.push(block.chunk);
            }
            let parsed = parsed?;
            for batch in parsed.batches {
                sink.push_batch(batch)?;
            }
            if parsed.ended {
                self.ended = true;
                self.in_flight.clear();
                self.buf = Vec::new();
                break;
            }
        }
        Ok(())
    }
}

/// `data` in 64-byte words, the last one padded with zeros.
fn words(data: &[u8]) -> impl Iterator<Item = [u8; 64]> + '_ {
    data.chunks(64)
        .map(|chunk| match <[u8; 64]>::try_from(chunk) {
            Ok(whole) => whole,
            Err(_) => {
                let mut word = [0u8; 64];
                word[..chunk.len()].copy_from_slice(chunk);
                word
            }
        })
}

/// Bit j is set where `block[j] == byte`. Written so that the compiler
/// vectorizes the comparison; each group of 8 bytes (0 or 1 each) is then
/// packed into 8 bits with one multiplication (4x faster than a bit per
/// iteration, measured).
fn byte_mask(block: &[u8; 64], byte: u8) -> u64 {
    let mut eq = [0u8; 64];
    for (e, b) in eq.iter_mut().zip(block) {
        *e = u8::from(*b == byte);
    }
    let mut mask = 0u64;
    for (k, group) in eq.chunks_exact(8).enumerate() {
        let v = u64::from_le_bytes(group.try_into().unwrap_or([0; 8]));
        mask |= (v.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    mask
}

/// Bit j of the result is the parity of bits 0..=j of `x`: which bytes of
/// a 64-byte block lie inside quotes.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// The first position from `from` marked in `specials`, or `end` when
/// there is none before it.
fn next_special(specials: &[u64], from: usize, end: usize) -> usize {
    let mut word = from / 64;
    let Some(first) = specials.get(word) else {
        return end;
    };
    let mut bits = first & (u64::MAX << (from % 64));
    loop {
        if bits != 0 {
            return (word * 64 + bits.trailing_zeros() as usize).min(end);
        }
        word += 1;
        match specials.get(word) {
            Some(next) if word * 64 < end => bits = *next,
            _ => return end,
        }
    }
}

/// Scratch space for splitting one record into fields: their spans (raw
/// ones relative to the record) and the chunk's decoded values.
struct Fields<'c> {
    decoded: &'c mut Vec<u8>,
    spans: &'c mut Vec<Span>,
}

impl TextSyntax {
    /// Parses the records of `block` into batches (on a parsing thread):
    /// records are split into the fields of a [`Chunk`], whose columns are
    /// parsed one at a time every [`SPLIT_ROWS`] records.
    fn parse_block(&self, mut rows: RowBuilder, block: &mut Block) -> Result<Parsed> {
        let data = &block.data;
        // One UTF-8 check per block: fields cut at ASCII delimiters and
        // quotes from valid text are valid (a cut elsewhere fails
        // `str::get` and is checked, and reported, per field).
        let text = std::str::from_utf8(data).ok();
        let chunk = &mut block.chunk;
        chunk.reset(rows.columns().len());
        if self.csv {
            self.mark_specials(data, &mut chunk.specials);
        }
        let mut spans = Vec::new();
        let mut line = block.first_line;
        let mut skip_header = block.skip_header;
        let mut batches = Vec::new();
        let mut start = 0;
        let tail = (block.last && block.ends.last().map_or(0, |e| e + 1) < data.len())
            .then_some(data.len());
        for end in block.ends.iter().copied().chain(tail) {
            let at = start;
            let record = data.get(start..end).unwrap_or_default();
            start = end + 1;
            if self.csv && end == data.len() && self.in_quote_at_end(record) {
                let e = bad_format("unterminated CSV quoted field").with_context(format!(
                    "COPY {}, line {}: {}",
                    rows.table(),
                    line + 1,
                    context_text(record)
                ));
                // Bad values in the records before come first.
                rows.push_chunk(chunk, data, text)?;
                return Err(e);
            }
            let record = record.strip_suffix(b"\r").unwrap_or(record);
            line += 1;
            if record == b"\\." {
                batches.extend(rows.push_chunk(chunk, data, text)?);
                batches.extend(rows.take_batch()?);
                return Ok(Parsed {
                    batches,
                    ended: true,
                });
            }
            if std::mem::take(&mut skip_header) {
                continue;
            }
            if let Err(e) = self.record(
                data,
                (at, at + record.len()),
                line,
                &mut spans,
                chunk,
                &rows,
            ) {
                rows.push_chunk(chunk, data, text)?;
                return Err(e);
            }
            if chunk.rows() == SPLIT_ROWS {
                batches.extend(rows.push_chunk(chunk, data, text)?);
                chunk.clear();
            }
        }
        batches.extend(rows.push_chunk(chunk, data, text)?);
        batches.extend(rows.take_batch()?);
        Ok(Parsed {
            batches,
            ended: false,
        })
    }

    /// The next newline outside quotes in CSV input from `i`, `in_quote`
    /// being the quote state at `i` (updated). Err(where to resume) when
    /// the input ends first.
    fn csv_newline(
        &self,
        buf: &[u8],
        mut i: usize,
        in_quote: &mut bool,
    ) -> std::result::Result<usize, usize> {
        let separate_escape = self.escape != self.quote;
        loop {
            let Some(rest) = buf.get(i..) else {
                return Err(i);
            };
            let next = if separate_escape {
                memchr::memchr3(self.quote, self.escape, b'\n', rest)
            } else {
                memchr::memchr2(self.quote, b'\n', rest)
            };
            let Some((at, c)) = next.and_then(|p| Some((i + p, *rest.get(p)?))) else {
                return Err(buf.len());
            };
            i = at + 1;
            if *in_quote {
                if c == self.escape && separate_escape {
                    match buf.get(at + 1) {
                        Some(&n) if n == self.quote || n == self.escape => {
                            i = at + 2;
                            continue;
                        }
                        // Decided by the next byte: resume here.
                        None => return Err(at),
                        _ => {}
                    }
                }
                if c == self.quote {
                    *in_quote = false;
                }
            } else if c == self.quote {
                *in_quote = true;
            } else if c == b'\n' {
                return Ok(at);
            }
        }
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

    /// Splits one record, which starts at `at` in its block, into the
    /// next row of `chunk`.
    fn record(
        &self,
        data: &[u8],
        (at, end): (usize, usize),
        line: u64,
        spans: &mut Vec<Span>,
        chunk: &mut Chunk,
        rows: &RowBuilder,
    ) -> Result<()> {
        let record = data.get(at..end).unwrap_or_default();
        if self.csv && self.plain_csv_record(data, at, end, chunk) {
            chunk.lines.push(line);
            return Ok(());
        }
        spans.clear();
        let mut fields = Fields {
            decoded: &mut chunk.decoded,
            spans,
        };
        if self.csv {
            self.split_csv(record, &mut fields);
        } else {
            self.split_text(record, &mut fields);
        }
        let expected = rows.columns().len();
        let context = || {
            format!(
                "COPY {}, line {}: {}",
                rows.table(),
                line,
                context_text(record)
            )
        };
        if spans.len() != expected {
            // The record's spans are not pushed: its decoded bytes, if
            // any, are never read.
            let e = match rows.columns().get(spans.len()) {
                Some(missing) => bad_format(format!("missing data for column \"{missing}\"")),
                None => bad_format("extra data after last expected column"),
            };
            return Err(e.with_context(context()));
        }
        for (column, span) in chunk.columns.iter_mut().zip(spans.iter()) {
            column.push(match span.kind() {
                SpanKind::Raw(a, b) => Span::raw(at + a, at + b),
                _ => *span,
            });
        }
        chunk.lines.push(line);
        Ok(())
    }

    /// PostgreSQL text format: delimiter-separated, backslash escapes.
    fn split_text(&self, line: &[u8], fields: &mut Fields) {
        let mut i = 0;
        loop {
            let raw_start = i;
            let rest = line.get(i..).unwrap_or_default();
            let stop = rest
                .iter()
                .position(|&b| b == self.delimiter || b == b'\\')
                .map_or(line.len(), |p| i + p);
            let span = if line.get(stop) == Some(&b'\\') {
                let out_start = fields.decoded.len();
                i = self.unescape_text(line, raw_start, fields);
                Span::decoded(out_start, fields.decoded.len())
            } else {
                i = stop;
                Span::raw(raw_start, stop)
            };
            let raw = line.get(raw_start..i).unwrap_or_default();
            fields.spans.push(if raw == self.null.as_slice() {
                Span::NULL
            } else {
                span
            });
            if line.get(i) == Some(&self.delimiter) {
                i += 1;
            } else {
                return;
            }
        }
    }

    /// De-escapes the text-format field starting at `i` into `decoded`;
    /// returns where the field ends.
    fn unescape_text(&self, line: &[u8], mut i: usize, fields: &mut Fields) -> usize {
        while let Some(&c) = line.get(i) {
            if c == self.delimiter {
                break;
            }
            i += 1;
            if c != b'\\' {
                fields.decoded.push(c);
                continue;
            }
            let Some(&e) = line.get(i) else {
                fields.decoded.push(b'\\');
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
                    fields.decoded.push((v & 0xff) as u8);
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
                    fields.decoded.push(v as u8);
                }
                b'b' => fields.decoded.push(8),
                b'f' => fields.decoded.push(12),
                b'n' => fields.decoded.push(b'\n'),
                b'r' => fields.decoded.push(b'\r'),
                b't' => fields.decoded.push(b'\t'),
                b'v' => fields.decoded.push(11),
                other => fields.decoded.push(other),
            }
        }
        i
    }

    /// CSV: fields may be quoted; quotes inside quoted parts are doubled
    /// (or preceded by ESCAPE); unquoted NULL-string fields are NULL.
    fn split_csv(&self, line: &[u8], fields: &mut Fields) {
        let mut i = 0;
        loop {
            let col = fields.spans.len();
            let raw_start = i;
            let (span, saw_quote) = match self.plain_csv_field(line, i) {
                Some((span, end, quoted)) => {
                    i = end;
                    (span, quoted)
                }
                None => {
                    let out_start = fields.decoded.len();
                    i = self.unquote_csv(line, i, fields);
                    (Span::decoded(out_start, fields.decoded.len()), true)
                }
            };
            let raw = line.get(raw_start..i).unwrap_or_default();
            let value = match span.kind() {
                SpanKind::Raw(a, b) => line.get(a..b),
                SpanKind::Decoded(a, b) => fields.decoded.get(a..b),
                SpanKind::Null => None,
            }
            .unwrap_or_default();
            let force_not_null = self.force_not_null.get(col).copied().unwrap_or(false);
            let force_null = self.force_null.get(col).copied().unwrap_or(false);
            let is_null = (!saw_quote && !force_not_null && raw == self.null.as_slice())
                || (saw_quote && force_null && value == self.null.as_slice());
            fields.spans.push(if is_null { Span::NULL } else { span });
            if line.get(i) == Some(&self.delimiter) {
                i += 1;
            } else {
                return;
            }
        }
    }

    /// Marks the delimiters and quotes of `data`, bit j of word k for byte
    /// 64k + j, for [`next_special`]: one vectorized pass per block
    /// instead of a byte loop per field.
    fn mark_specials(&self, data: &[u8], out: &mut Vec<u64>) {
        out.clear();
        out.extend(
            words(data)
                .map(|block| byte_mask(&block, self.delimiter) | byte_mask(&block, self.quote)),
        );
    }

    /// The common CSV record `data[start..end]`, split straight into the
    /// next row of `chunk` with the help of `specials` (see
    /// [`TextSyntax::mark_specials`]): as many fields as columns, each
    /// unquoted without a quote inside, or wholly quoted without a quote
    /// or escape inside. False, with nothing pushed, for any other record;
    /// `split_csv` takes those.
    fn plain_csv_record(&self, data: &[u8], start: usize, end: usize, chunk: &mut Chunk) -> bool {
        let Chunk {
            columns, specials, ..
        } = chunk;
        let undo = |columns: &mut Vec<Vec<Span>>, pushed: usize| {
            columns.iter_mut().take(pushed).for_each(|c| {
                c.pop();
            });
            false
        };
        let byte = |i: usize| data.get(i).copied();
        let mut i = start;
        let count = columns.len();
        for col in 0..count {
            let (a, b, after, quoted) = if i < end && byte(i) == Some(self.quote) {
                // The next quote closes the field; delimiters may come first.
                let mut close = next_special(specials, i + 1, end);
                while close < end && byte(close) != Some(self.quote) {
                    close = next_special(specials, close + 1, end);
                }
                let inner = data.get(i + 1..close).unwrap_or_default();
                if close >= end || (self.escape != self.quote && inner.contains(&self.escape)) {
                    return undo(columns, col);
                }
                (i + 1, close, close + 1, true)
            } else {
                let stop = next_special(specials, i, end);
                if stop < end && byte(stop) == Some(self.quote) {
                    return undo(columns, col);
                }
                (i, stop, stop, false)
            };
            let value = data.get(a..b).unwrap_or_default();
            let flag = |flags: &[bool]| flags.get(col).copied().unwrap_or(false);
            let is_null = value == self.null.as_slice()
                && if quoted {
                    flag(&self.force_null)
                } else {
                    !flag(&self.force_not_null)
                };
            columns[col].push(if is_null { Span::NULL } else { Span::raw(a, b) });
            let last = col + 1 == count;
            if after == end && last {
                return true;
            }
            if after < end && byte(after) == Some(self.delimiter) && !last {
                i = after + 1;
            } else {
                return undo(columns, col + 1);
            }
        }
        false
    }

    /// The common CSV fields that need no copy: unquoted without a quote
    /// inside, or wholly quoted without a quote or escape inside. Returns
    /// the value's span, where the field ends and whether it was quoted.
    fn plain_csv_field(&self, line: &[u8], i: usize) -> Option<(Span, usize, bool)> {
        let rest = line.get(i..)?;
        if rest.first() != Some(&self.quote) {
            let end =
                // Fields are short: a plain loop beats memchr's setup.
                rest.iter()
                    .position(|&b| b == self.delimiter || b == self.quote)
                    .map_or(line.len(), |p| i + p);
            return (line.get(end) != Some(&self.quote)).then_some((Span::raw(i, end), end, false));
        }
        let close = i + 1 + rest.get(1..)?.iter().position(|&b| b == self.quote)?;
        let after = close + 1;
        let inner = line.get(i + 1..close)?;
        let ends = after == line.len() || line.get(after) == Some(&self.delimiter);
        let escapes = self.escape != self.quote && inner.contains(&self.escape);
        (ends && !escapes).then_some((Span::raw(i + 1, close), after, true))
    }

    /// Removes the quoting of the CSV field starting at `i` into `decoded`;
    /// returns where the field ends.
    fn unquote_csv(&self, line: &[u8], mut i: usize, fields: &mut Fields) -> usize {
        'field: while let Some(&c) = line.get(i) {
            if c == self.delimiter {
                break;
            }
            i += 1;
            if c != self.quote {
                fields.decoded.push(c);
                continue;
            }
            while let Some(&q) = line.get(i) {
                i += 1;
                if q == self.escape {
                    if let Some(&n) = line.get(i) {
                        if n == self.quote || n == self.escape {
                            fields.decoded.push(n);
                            i += 1;
                            continue;
                        }
                    }
                }
                if q == self.quote {
                    continue 'field;
                }
                fields.decoded.push(q);
            }
        }
        i
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

#[cfg(test)]
mod scan_tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn byte_mask_marks_exactly_the_matching_bytes(
            block in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b'\n'), any::<u8>()], 64),
            byte in prop_oneof![Just(b'"'), Just(b'\n'), any::<u8>()],
        ) {
            let block: [u8; 64] = block.try_into().unwrap();
            let want = (0..64).filter(|j| block[*j] == byte).fold(0u64, |m, j| m | 1 << j);
            prop_assert_eq!(super::byte_mask(&block, byte), want);
        }

        /// The CSV fast path splits a record as `split_csv` does, or
        /// leaves it to `split_csv` with nothing pushed; records of plain
        /// fields, as many as columns, it always takes.
        #[test]
        fn plain_records_split_as_split_csv_splits_them(
            random in proptest::collection::vec(prop_oneof![Just(b'"'), Just(b','), Just(b'N'), Just(b'a'), Just(b'\\')], 0..16),
            plain in proptest::collection::vec(("[aN\\\\]{0,3}", any::<bool>()), 1..5),
            use_plain in any::<bool>(),
            columns in 1usize..5,
            force_null in proptest::collection::vec(any::<bool>(), 4),
            force_not_null in proptest::collection::vec(any::<bool>(), 4),
            null_is_n in any::<bool>(),
            backslash_escape in any::<bool>(),
            at in 0usize..140,
        ) {
            let escape = if backslash_escape { b'\\' } else { b'"' };
            let syntax = super::TextSyntax {
                csv: true,
                delimiter: b',',
                null: if null_is_n { b"N".to_vec() } else { Vec::new() },
                quote: b'"',
                escape,
                force_not_null,
                force_null,
            };
            // Plain fields: unquoted, or quoted without a quote (or an
            // escape) inside.
            let plain_fields: Vec<String> = plain.iter().map(|(v, quoted)| {
                if *quoted && !(backslash_escape && v.contains('\\')) { format!("\"{v}\"") } else { v.replace('\\', "a") }
            }).collect();
            let record = if use_plain { plain_fields.join(",").into_bytes() } else { random };
            // The record amid other input: delimiters and quotes before it
            // and after its end, across 64-byte words.
            let mut data: Vec<u8> = (0..at).map(|i| if i % 3 == 0 { b'"' } else { b',' }).collect();
            data.extend_from_slice(&record);
            data.extend_from_slice(b"\n,\"a\",");
            let mut chunk = super::Chunk::default();
            chunk.reset(columns);
            syntax.mark_specials(&data, &mut chunk.specials);
            let fast = syntax.plain_csv_record(&data, at, at + record.len(), &mut chunk);
            if use_plain {
                prop_assert_eq!(fast, plain_fields.len() == columns);
            }
            let (mut decoded, mut spans) = (Vec::new(), Vec::new());
            syntax.split_csv(&record, &mut super::Fields { decoded: &mut decoded, spans: &mut spans });
            let got: Vec<String> = chunk.columns.iter().flat_map(|c| c.iter().map(|s| format!("{s:?}"))).collect();
            let want: Vec<String> = if fast {
                spans.iter().map(|s| match s.kind() {
                    super::SpanKind::Raw(a, b) => format!("{:?}", super::SpanKind::Raw(a + at, b + at)),
                    other => format!("{other:?}"),
                }).collect()
            } else {
                Vec::new()
            };
            prop_assert_eq!(got, want);
        }

        #[test]
        fn prefix_xor_is_the_running_parity(x in any::<u64>()) {
            let want = (0..64).fold(0u64, |m, j| m | ((((x & (u64::MAX >> (63 - j))).count_ones() % 2) as u64) << j));
            prop_assert_eq!(super::prefix_xor(x), want);
        }
    }
}
