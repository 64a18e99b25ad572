//! Helpers shared by the parsers' tests.

use std::io::{self, Read};

/// A header, then one line of `len` digits produced as it is read (never held whole); `at`
/// counts the bytes read, so tests can check how far a parser read before refusing the line.
pub(crate) struct LongLine {
    header: &'static [u8],
    len: usize,
    /// Bytes read so far.
    pub(crate) at: usize,
}

impl LongLine {
    /// `header` (its own lines), then a line of `len` digits and a line break.
    pub(crate) fn new(header: &'static [u8], len: usize) -> Self {
        Self { header, len, at: 0 }
    }
}

impl Read for LongLine {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let total = self.header.len() + self.len + 1;
        let n = buf.len().min(total - self.at);
        for (i, byte) in buf.iter_mut().take(n).enumerate() {
            let at = self.at + i;
            *byte = match self.header.get(at) {
                Some(&b) => b,
                None if at == total - 1 => b'\n',
                None => b'7',
            };
        }
        self.at += n;
        Ok(n)
    }
}
