//! What the HTML page does so that it shows what a value holds and nothing else (docs/loanpro.md):
//! invisible characters made visible, and a Content-Security-Policy that allows no script and
//! no network load.

use std::borrow::Cow;

/// The page's Content-Security-Policy (a `meta` tag): its inline style only; no script, no
/// font, image, frame, form or connection anywhere, so a value that slipped through could
/// neither run nor call home.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// Whether a character is invisible when shown: a format character (Unicode category Cf: the
/// bidirectional controls U+202A–U+202E and U+2066–U+2069 that turn `...\u{202e}gpj.csv` into
/// "...vsc.jpg", zero-width characters, the BOM, tags, ...) or a control character other than
/// tab and line ends.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{890}'
        | '\u{891}' | '\u{8e2}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

/// `text` with each invisible character written out as `\u` and its hex code (`\u202e`), so
/// a reader sees it is there and what it is.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(invisible) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if invisible(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_other_invisible_characters_are_shown() {
        assert_eq!(visible("bank\u{202e}gpj.csv"), "bank\\u202egpj.csv");
        for c in [
            '\u{202a}', '\u{202d}', '\u{2066}', '\u{2069}', '\u{200b}', '\u{feff}',
        ] {
            assert!(!visible(&format!("a{c}b")).contains(c), "{:x}", c as u32);
        }
        assert_eq!(visible("\u{7}x\u{e0041}"), "\\u0007x\\ue0041");
        // What a person sees as it is stays as it is, and is not copied.
        let plain = "Café 1 234,50 €\tok\nnext — «ligne» 日本";
        assert!(matches!(visible(plain), Cow::Borrowed(p) if p == plain));
    }
}
