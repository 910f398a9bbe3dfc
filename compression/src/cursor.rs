//! Bounds-checked little-endian reading of untrusted chunk bytes.
//!
//! Owns the only way decoders look at bytes: every read checks the remaining
//! length first and reports `Corrupt` with the offset, so no decoder indexes
//! raw input directly.

use crate::error::{corrupt, CompressionError};

/// A read position inside an untrusted byte slice.
#[derive(Clone)]
pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        ByteReader { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back to an earlier position (to re-read a node by another path).
    pub(crate) fn rewind(&mut self, pos: usize) {
        self.pos = pos.min(self.pos);
    }

    /// The next byte without consuming it (None at the end).
    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn err(&self, what: &'static str) -> CompressionError {
        corrupt(self.pos, what)
    }

    pub(crate) fn bytes(
        &mut self,
        n: usize,
        what: &'static str,
    ) -> Result<&'a [u8], CompressionError> {
        if n > self.remaining() {
            return Err(self.err(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CompressionError> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, CompressionError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, CompressionError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, CompressionError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, CompressionError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn i128(&mut self, what: &'static str) -> Result<i128, CompressionError> {
        Ok(i128::from_le_bytes(self.array(what)?))
    }

    /// Reads a u32 count and checks it against `max` (a bound known from context).
    pub(crate) fn count(
        &mut self,
        max: usize,
        what: &'static str,
    ) -> Result<usize, CompressionError> {
        let at = self.pos;
        let n = self.u32(what)? as usize;
        if n > max {
            return Err(corrupt(at, what));
        }
        Ok(n)
    }

    pub(crate) fn expect_end(&self, what: &'static str) -> Result<(), CompressionError> {
        if self.remaining() != 0 {
            return Err(self.err(what));
        }
        Ok(())
    }
}
