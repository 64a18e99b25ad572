//! A reader that delivers at most a set number of bytes past a mark, so a CSV record (or the
//! header) longer than its limit fails once about that many bytes are read, instead of being
//! buffered whole: the CSV reader's own buffers grow with the record.

use std::io::{self, Read};

/// Wraps a reader; [`ByteLimit::allow`] sets how far past a stream offset it may read.
pub(crate) struct ByteLimit<R> {
    inner: R,
    /// Bytes delivered so far.
    delivered: u64,
    /// Offset past which nothing is delivered.
    until: u64,
    /// Whether a read was refused at `until`.
    hit: bool,
}

impl<R> ByteLimit<R> {
    /// A reader that delivers nothing until [`ByteLimit::allow`] is called.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            delivered: 0,
            until: 0,
            hit: false,
        }
    }

    /// Allows reading up to `limit` bytes past the stream offset `start`.
    pub(crate) fn allow(&mut self, start: u64, limit: usize) {
        self.until = start.saturating_add(limit as u64);
        self.hit = false;
    }

    /// Whether the last refusal was this limit (not an error of the inner reader).
    pub(crate) fn hit(&self) -> bool {
        self.hit
    }
}

impl<R: Read> Read for ByteLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = usize::try_from(self.until.saturating_sub(self.delivered)).unwrap_or(usize::MAX);
        if room == 0 && !buf.is_empty() {
            self.hit = true;
            return Err(io::Error::other("byte limit reached"));
        }
        let take = buf.len().min(room);
        let n = self.inner.read(buf.get_mut(..take).unwrap_or_default())?;
        self.delivered += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_reading_past_the_allowance_should_refuse_and_say_so() {
        let mut limited = ByteLimit::new(&b"abcdefghij"[..]);
        limited.allow(0, 4);
        let mut out = Vec::new();
        let err = limited.read_to_end(&mut out).unwrap_err();
        assert_eq!(out, b"abcd");
        assert_eq!(err.to_string(), "byte limit reached");
        assert!(limited.hit());
        limited.allow(4, 100);
        assert!(!limited.hit());
        out.clear();
        limited.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"efghij");
    }
}
