//! zstd as an optional last stage over a byte section.
//!
//! Owns the "stream" layout used for the chunk body and for string bytes:
//! `mode u8` (0 raw, 1 zstd), `raw_len u32`, then the raw bytes or
//! `comp_len u32` + a zstd frame. zstd is kept only where it pays (the sizes
//! are compared), and only within a bounded expansion ratio, so a decoder
//! never allocates more than `MAX_ZSTD_RATIO` times the input it was given.
//! Invariant: `read_stream` returns exactly the bytes given to `write_stream`.

use std::borrow::Cow;

use crate::cursor::ByteReader;
use crate::error::{corrupt, CompressionError};

/// Largest decoded section (string bytes, chunk body) this crate will allocate.
pub const MAX_DECODED_BYTES: usize = 1 << 30;
/// Largest accepted ratio of decompressed to compressed bytes.
pub const MAX_ZSTD_RATIO: usize = 4096;
/// Level tried when the caller leaves the choice to us.
const AUTO_LEVEL: i32 = 3;
/// Sections smaller than this are never worth a zstd frame.
const MIN_ZSTD_INPUT: usize = 64;

const MODE_RAW: u8 = 0;
const MODE_ZSTD: u8 = 1;

/// How the last stage may use zstd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZstdPolicy {
    Never,
    /// Level 3, kept only when it saves at least 1/8 of the bytes.
    Auto,
    /// The given level, kept whenever it is smaller.
    Level(i32),
}

fn ratio_ok(raw: usize, comp: usize) -> bool {
    raw <= MAX_DECODED_BYTES && raw <= comp.saturating_mul(MAX_ZSTD_RATIO)
}

pub(crate) fn write_stream(
    raw: &[u8],
    policy: ZstdPolicy,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    let level = match policy {
        ZstdPolicy::Never => None,
        ZstdPolicy::Auto => Some(AUTO_LEVEL),
        ZstdPolicy::Level(l) => Some(l),
    };
    if let Some(level) = level.filter(|_| raw.len() >= MIN_ZSTD_INPUT && probe_pays(raw, policy)) {
        let comp = zstd::bulk::compress(raw, level)?;
        let pays = match policy {
            ZstdPolicy::Auto => comp.len() + 4 < raw.len() - raw.len() / 8,
            _ => comp.len() + 4 < raw.len(),
        };
        if pays && ratio_ok(raw.len(), comp.len()) {
            out.push(MODE_ZSTD);
            out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            out.extend_from_slice(&(comp.len() as u32).to_le_bytes());
            out.extend_from_slice(&comp);
            return Ok(());
        }
    }
    out.push(MODE_RAW);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(raw);
    Ok(())
}

/// In automatic mode, large sections are first probed on a 64 KiB slice from
/// their middle, so incompressible data does not pay for a full zstd pass.
fn probe_pays(raw: &[u8], policy: ZstdPolicy) -> bool {
    const PROBE: usize = 64 * 1024;
    if policy != ZstdPolicy::Auto || raw.len() < 4 * PROBE {
        return true;
    }
    let start = raw.len() / 2 - PROBE / 2;
    let slice = &raw[start..start + PROBE];
    // A looser bar than the final one: the whole section compresses better.
    zstd::bulk::compress(slice, AUTO_LEVEL).is_ok_and(|c| c.len() < PROBE - PROBE / 32)
}

pub(crate) fn read_stream<'a>(r: &mut ByteReader<'a>) -> Result<Cow<'a, [u8]>, CompressionError> {
    let at = r.pos();
    let mode = r.u8("stream mode")?;
    let raw_len = r.u32("stream length")? as usize;
    match mode {
        MODE_RAW => Ok(Cow::Borrowed(r.bytes(raw_len, "raw stream bytes")?)),
        MODE_ZSTD => {
            let comp_len = r.u32("zstd stream length")? as usize;
            let comp = r.bytes(comp_len, "zstd stream bytes")?;
            if !ratio_ok(raw_len, comp_len) {
                return Err(corrupt(at, "zstd stream claims an implausible expansion"));
            }
            let raw = decompress(comp, raw_len)
                .map_err(|_| corrupt(at, "zstd frame does not decompress"))?;
            if raw.len() != raw_len {
                return Err(corrupt(at, "zstd frame has the wrong decompressed length"));
            }
            Ok(Cow::Owned(raw))
        }
        _ => Err(corrupt(at, "unknown stream mode")),
    }
}

/// zstd decompression with one reused context per thread (creating a
/// context costs more than decompressing a small block).
fn decompress(comp: &[u8], raw_len: usize) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CONTEXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        slot.as_mut().expect("set above").decompress(comp, raw_len)
    })
}
