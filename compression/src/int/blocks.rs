//! Integer nodes decoded one block at a time, for callers that use each
//! block's values while they are in L1 (pattern strings stitch their rows a
//! block at a time, instead of decoding every field whole first).
//!
//! Owns no codec: it streams CONSTANT, FOR_BITPACK and LINEAR over those,
//! and says no to the others (the caller decodes those whole). Opening a
//! node also gives an upper bound of its values, from the headers alone.
//! Invariant: the blocks concatenated equal `decode_rows` of the same rows.

use super::bitpack::{mask, unpack_add};
use super::{for_, id, plain, Rows, BLOCK};
use crate::cursor::ByteReader;
use crate::error::CompressionError;

/// The wanted blocks of one node, decoded in order by `next`.
pub(crate) enum Blocks<'a> {
    Constant(u64),
    For {
        /// At the node's next block.
        r: ByteReader<'a>,
        rows: Rows,
        block: usize,
    },
    Linear {
        step: u64,
        /// The grid value of the next row.
        grid: u64,
        residuals: Box<Blocks<'a>>,
    },
}

impl<'a> Blocks<'a> {
    /// Opens the node at `r` for the blocks `rows` and moves `r` past it;
    /// also returns an upper bound of the values. None, with `r` where it
    /// was, for codecs this does not stream and for values it cannot bound
    /// within u64 (negative linear steps, sums that overflow).
    pub(crate) fn open(
        r: &mut ByteReader<'a>,
        rows: Rows,
        depth: u8,
    ) -> Result<Option<(Blocks<'a>, u64)>, CompressionError> {
        let start = r.clone();
        let opened = Self::open_node(r, rows, depth)?;
        if opened.is_none() {
            *r = start;
        }
        Ok(opened)
    }

    fn open_node(
        r: &mut ByteReader<'a>,
        rows: Rows,
        depth: u8,
    ) -> Result<Option<(Blocks<'a>, u64)>, CompressionError> {
        // Too deep is `decode_rows`'s error to give.
        if depth == 0 {
            return Ok(None);
        }
        match r.u8("integer codec id")? {
            id::CONSTANT => {
                let v = plain::read_constant(r)?;
                Ok(Some((Blocks::Constant(v), v)))
            }
            id::FOR_BITPACK => {
                let blocks = r.clone();
                let mut high = Some(0u64);
                for (b, start) in (0..rows.n).step_by(BLOCK).enumerate() {
                    let block = for_::read_block(r, (rows.n - start).min(BLOCK))?;
                    if (rows.first_block..rows.end_block).contains(&b) {
                        let packed = block.base.checked_add(mask(block.width));
                        let exceptions = block.exceptions().map(|(_, v)| v).max();
                        high = high
                            .zip(packed)
                            .map(|(h, p)| h.max(p).max(exceptions.unwrap_or(0)));
                    }
                }
                Ok(high.map(|high| {
                    let at = Blocks::For {
                        r: blocks,
                        rows,
                        block: 0,
                    };
                    (at, high)
                }))
            }
            id::LINEAR => {
                let step = r.u64("linear step")?;
                let Some((residuals, high)) = Self::open_node(r, rows, depth - 1)? else {
                    return Ok(None);
                };
                // Residual + row * step stays below u64::MAX for every row
                // when it does for the last: nothing wraps.
                let last = rows.end().saturating_sub(1) as u64;
                let high = (step as i64 >= 0)
                    .then(|| last.checked_mul(step)?.checked_add(high))
                    .flatten();
                Ok(high.map(|high| {
                    let grid = rows.start() as u64 * step;
                    let residuals = Box::new(residuals);
                    (
                        Blocks::Linear {
                            step,
                            grid,
                            residuals,
                        },
                        high,
                    )
                }))
            }
            _ => Ok(None),
        }
    }

    /// Decodes the next wanted block into `out`, which holds its rows.
    pub(crate) fn next(&mut self, out: &mut [u64]) -> Result<(), CompressionError> {
        match self {
            Blocks::Constant(v) => out.fill(*v),
            Blocks::For { r, rows, block } => loop {
                let start = *block * BLOCK;
                let Some(len) = rows.n.checked_sub(start).filter(|&l| l > 0) else {
                    return Err(r.err("FOR block past the node"));
                };
                let b = for_::read_block(r, len.min(BLOCK))?;
                *block += 1;
                if *block > rows.first_block {
                    debug_assert_eq!(out.len(), len.min(BLOCK));
                    unpack_add(b.packed, b.width, b.base, out);
                    return for_::patch(r, &b, out);
                }
            },
            Blocks::Linear {
                step,
                grid,
                residuals,
            } => {
                residuals.next(out)?;
                // The grid in a local, so the loop vectorizes.
                let (mut g, step) = (*grid, *step);
                for v in out.iter_mut() {
                    *v = v.wrapping_add(g);
                    g = g.wrapping_add(step);
                }
                *grid = g;
            }
        }
        Ok(())
    }
}
