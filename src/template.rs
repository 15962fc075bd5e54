//! `{placeholder}` templates (the payment `info` and the return `comments`): checked at load
//! so that rendering never fails, then rendered with the blanks an empty value leaves folded.

/// Checks that every `{name}` of a template is one of `allowed`, at load, so that rendering it
/// never fails (the `info` and return `comments` templates).
pub fn check_placeholders(template: &str, allowed: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in {template:?}"))?;
        let name = &after[..close];
        if !allowed.contains(&name) {
            let expected: Vec<String> = allowed.iter().map(|p| format!("{{{p}}}")).collect();
            return Err(format!(
                "unknown placeholder {{{name}}} in {template:?}; expected one of {}",
                expected.join(" ")
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Appends a template checked by [`check_placeholders`] to `out` (which the caller may have
/// started), each `{name}` written by `fill`, then folds the blanks an empty value leaves behind.
pub fn render_template(template: &str, out: &mut String, mut fill: impl FnMut(&str, &mut String)) {
    let start = out.len();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').expect("validated at load");
        fill(&after[..close], out);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    // Most rows have no blank to fold, and are left as they are.
    if !is_folded(&out[start..]) {
        let folded = out[start..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        out.truncate(start);
        out.push_str(&folded);
    }
}

/// Whether folding the blanks of `text` would leave it as it is: single spaces between words.
fn is_folded(text: &str) -> bool {
    let mut after_word = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if c != ' ' || !after_word {
                return false;
            }
            after_word = false;
        } else {
            after_word = true;
        }
    }
    after_word || text.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_folded_only_with_single_spaces_between_words() {
        for folded in ["", "a", "a b", "2026-11-20 bank 1042"] {
            assert!(is_folded(folded), "{folded:?}");
        }
        for loose in [" a", "a ", "a  b", "a\tb", "a\u{a0}b", " "] {
            assert!(!is_folded(loose), "{loose:?}");
        }
    }
}
