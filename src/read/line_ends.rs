//! Line ends (docs/loanpro.md): LF, CRLF and CR alone all end a line, in every format. Every bank
//! file is read through [`LineEnds`], which hands its reader LF only, so no reader has to
//! know the three.

use std::io::{BufRead, Read};

/// A reader that turns CRLF and a lone CR into LF, streaming (a CRLF split across two reads
/// of the input is still one line end).
pub struct LineEnds<R> {
    input: R,
    /// The translated bytes not consumed yet, from `at`.
    out: Vec<u8>,
    at: usize,
    /// The last byte read was a CR (already given as LF): an LF right after it is its pair.
    after_cr: bool,
}

impl<R: BufRead> LineEnds<R> {
    pub fn new(input: R) -> Self {
        LineEnds {
            input,
            out: Vec::new(),
            at: 0,
            after_cr: false,
        }
    }
}

impl<R: BufRead> BufRead for LineEnds<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        // A chunk may translate to nothing (the LF of a CRLF alone): read on until it does not.
        while self.at == self.out.len() {
            let chunk = self.input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            self.out.clear();
            self.at = 0;
            for &b in chunk {
                let pair = std::mem::replace(&mut self.after_cr, b == b'\r');
                match b {
                    b'\n' if pair => {}
                    b'\r' => self.out.push(b'\n'),
                    _ => self.out.push(b),
                }
            }
            let n = chunk.len();
            self.input.consume(n);
        }
        Ok(&self.out[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.out.len());
    }
}

impl<R: BufRead> Read for LineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The input read through [`LineEnds`] in reads of `size` bytes at most.
    fn through(input: &[u8], size: usize) -> Vec<u8> {
        let mut reader = LineEnds::new(std::io::BufReader::with_capacity(size, input));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn lf_crlf_and_cr_alone_are_each_one_line_end() {
        let input = b"a\nb\r\nc\rd\r\r\ne\r";
        for size in 1..=input.len() {
            assert_eq!(
                through(input, size),
                b"a\nb\nc\nd\n\ne\n",
                "reads of {size}"
            );
        }
        assert_eq!(through(b"", 4), b"");
        assert_eq!(through(b"\r\n", 1), b"\n");
        assert_eq!(through(b"\n\n\r\r", 3), b"\n\n\n\n");
    }

    #[test]
    fn lines_read_the_same_whatever_the_line_ends() {
        for text in ["01,x/\n02,y/\n", "01,x/\r\n02,y/\r\n", "01,x/\r02,y/\r"] {
            let lines: Vec<String> = LineEnds::new(text.as_bytes())
                .lines()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(lines, ["01,x/", "02,y/"], "{text:?}");
        }
    }
}
