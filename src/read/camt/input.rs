//! The bytes of a camt file as UTF-8: the XML declaration's encoding is honoured by decoding
//! the file as it streams by (ISO-8859-1, ISO-8859-15 and the other single-byte encodings a
//! bank may declare), so that the XML parser only ever sees UTF-8.

use std::io::{self, BufRead, Read};

use encoding_rs::{CoderResult, Decoder, Encoding, UTF_8};

/// The input of the parser: the file itself when it is UTF-8, else the file decoded.
pub(super) enum Input<R: BufRead> {
    Utf8(R),
    Decoded(Decoding<R>),
}

/// The encoding a file declares, read from its first bytes (the XML declaration); `Err` says
/// why the file cannot be read.
pub(super) fn open<R: BufRead>(mut input: R) -> Result<Input<R>, String> {
    let head = input.fill_buf().map_err(|e| format!("cannot read: {e}"))?;
    if head.starts_with(&[0xFE, 0xFF]) || head.starts_with(&[0xFF, 0xFE]) {
        return Err(
            "the file is UTF-16; payimport reads camt files in UTF-8, ISO-8859-1 or ISO-8859-15"
                .into(),
        );
    }
    let encoding = match declared_encoding(head) {
        None => UTF_8,
        Some(label) => match Encoding::for_label(label.as_bytes()) {
            Some(e) if e == UTF_8 => UTF_8,
            Some(e) if e.is_single_byte() => e,
            _ => {
                return Err(format!(
                    "the XML declaration names the encoding {label:?}; payimport reads UTF-8, ISO-8859-1 and ISO-8859-15"
                ));
            }
        },
    };
    Ok(if encoding == UTF_8 {
        Input::Utf8(input)
    } else {
        Input::Decoded(Decoding {
            inner: input,
            decoder: encoding.new_decoder_without_bom_handling(),
            out: Vec::new(),
            pos: 0,
            done: false,
        })
    })
}

/// The `encoding` pseudo-attribute of an XML declaration at the start of `head`.
fn declared_encoding(head: &[u8]) -> Option<String> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let head = &head[..head.len().min(512)];
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start();
    let decl = text.strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].trim().to_string())
}

/// A single-byte encoded file decoded to UTF-8 as it is read.
pub(super) struct Decoding<R> {
    inner: R,
    decoder: Decoder,
    out: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Input<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Input::Utf8(r) => r.fill_buf(),
            Input::Decoded(d) => d.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match self {
            Input::Utf8(r) => r.consume(amt),
            Input::Decoded(d) => d.pos += amt,
        }
    }
}

impl<R: BufRead> Decoding<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.out.len() && !self.done {
            let src = self.inner.fill_buf()?;
            let last = src.is_empty();
            // A single-byte encoding gives at most three UTF-8 bytes per byte.
            self.out.clear();
            self.out.resize(src.len() * 3 + 16, 0);
            self.pos = 0;
            let (result, read, written, _) = self.decoder.decode_to_utf8(src, &mut self.out, last);
            debug_assert_eq!(result, CoderResult::InputEmpty);
            self.out.truncate(written);
            self.inner.consume(read);
            self.done = last;
        }
        Ok(&self.out[self.pos..])
    }
}
