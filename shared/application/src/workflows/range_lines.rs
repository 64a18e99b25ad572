//! The lines a byte range of a file owns, read as a stream: a range worker reads from just
//! before its start to the end of the line that crosses its end, so every line of the file is read
//! by exactly one range.

use std::io::{BufRead, BufReader, Read};

/// Reads, from a reader positioned at `start - 1` (or at 0 for the first range), exactly the
/// lines whose first byte lies in `start..end`.
pub struct RangeLines<R: Read> {
    inner: BufReader<R>,
    /// Bytes of the file consumed so far, as an absolute offset.
    position: u64,
    end: u64,
    /// Whether the first, partial line has been skipped.
    aligned: bool,
    done: bool,
}

impl<R: Read> RangeLines<R> {
    /// Lines starting in `start..end`, from `inner` positioned at `start.saturating_sub(1)`.
    pub fn new(inner: R, start: u64, end: u64) -> Self {
        Self {
            inner: BufReader::with_capacity(256 * 1024, inner),
            position: start.saturating_sub(1),
            end,
            aligned: start == 0,
            done: start >= end,
        }
    }

    /// Skips through the first newline: the byte before `start` is read too, so a range that
    /// begins exactly at a line start skips only that newline.
    fn align(&mut self) -> std::io::Result<()> {
        let mut skipped = Vec::new();
        let n = self.inner.read_until(b'\n', &mut skipped)?;
        self.position += n as u64;
        self.aligned = true;
        // At the end of the file, or the first whole line starts at or after `end`: nothing is
        // owned.
        self.done = n == 0 || skipped.last() != Some(&b'\n') || self.position >= self.end;
        Ok(())
    }
}

impl<R: Read> Read for RangeLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.aligned {
            self.align()?;
        }
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let available = self.inner.fill_buf()?;
        if available.is_empty() {
            self.done = true;
            return Ok(0);
        }
        // A line starting before `end` is read whole; once a newline is passed at or after
        // `end - 1`, the next line belongs to the next range.
        let mut take = available.len().min(buf.len());
        let owned_until = self.end.saturating_sub(1);
        let first_in_tail = owned_until.saturating_sub(self.position);
        if let Ok(skip) = usize::try_from(first_in_tail) {
            let tail = available.get(skip..take).unwrap_or_default();
            if let Some(nl) = tail.iter().position(|&b| b == b'\n') {
                take = skip + nl + 1;
                self.done = true;
            }
        }
        let (Some(out), Some(from)) = (buf.get_mut(..take), available.get(..take)) else {
            return Ok(0);
        };
        out.copy_from_slice(from);
        self.inner.consume(take);
        self.position += take as u64;
        Ok(take)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::batch_plan::plan_ranges;

    fn read_range(file: &[u8], start: u64, end: u64) -> Vec<u8> {
        let from = usize::try_from(start.saturating_sub(1)).unwrap();
        let mut out = Vec::new();
        RangeLines::new(&file[from..], start, end)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn when_a_file_is_cut_anywhere_should_read_every_line_exactly_once() {
        let file = b"a,b\n1,2\n333,444\n5,6\n\n77,88\n9,10";
        for width in 1..=file.len() as u64 + 1 {
            let mut joined = Vec::new();
            for range in plan_ranges(file.len() as u64, width) {
                let part = read_range(file, range.start, range.end);
                let whole_lines = part.is_empty() || part.ends_with(b"\n") || part.ends_with(b"10");
                assert!(whole_lines, "width {width} {range:?}: {part:?}");
                joined.extend_from_slice(&part);
            }
            assert_eq!(
                String::from_utf8_lossy(&joined),
                String::from_utf8_lossy(file),
                "width {width}"
            );
        }
    }

    #[test]
    fn when_a_range_starts_at_a_line_start_should_own_that_line() {
        let file = b"h\nline1\nline2\n";
        assert_eq!(read_range(file, 2, 8), b"line1\n");
        assert_eq!(read_range(file, 3, 8), b"");
        assert_eq!(read_range(file, 3, 9), b"line2\n");
        assert_eq!(read_range(file, 0, 1), b"h\n");
        assert_eq!(read_range(file, 14, 14), b"");
    }
}
