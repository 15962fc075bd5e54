//! Sets of BAI2 type codes, as a source lists them (`type_codes`, and any other list of codes a
//! source may have): numbers and ranges, so that "every ACH credit" is not 300 numbers in the
//! settings file.
//!
//! A list is written `[165, "170-179", "195"]`: integers, and strings holding a code or a range
//! `LOW-HIGH` (both included). Type codes have up to three digits, so a set is a bitmap of
//! 1000 bits: membership costs the same for a list of two codes and for `"100-399"`.

use std::fmt;

use serde::Deserialize;

/// The largest type code: BAI2 type codes have up to three digits.
pub const MAX_TYPE_CODE: u32 = 999;

const WORDS: usize = (MAX_TYPE_CODE as usize + 64) / 64;

/// One element of a list of type codes as the settings file writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CodeSpec {
    /// `165`
    Number(i64),
    /// `"165"` or `"170-179"`
    Text(String),
}

/// A set of BAI2 type codes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct TypeCodes {
    bits: [u64; WORDS],
}

impl TypeCodes {
    /// The codes of a list from the settings file; the message says which element is wrong and
    /// what was expected (the caller names the key).
    pub fn parse(list: &[CodeSpec]) -> Result<TypeCodes, String> {
        let mut codes = TypeCodes::default();
        for spec in list {
            let (low, high) = match spec {
                CodeSpec::Number(n) => {
                    let code = u32::try_from(*n)
                        .ok()
                        .filter(|c| *c <= MAX_TYPE_CODE)
                        .ok_or_else(|| {
                            format!("{n} is not a type code; type codes are from 0 to 999")
                        })?;
                    (code, code)
                }
                CodeSpec::Text(text) => parse_range(text)?,
            };
            for code in low..=high {
                codes.insert(code);
            }
        }
        Ok(codes)
    }

    /// A set of the codes given (each at most [`MAX_TYPE_CODE`]; larger ones are left out).
    pub fn of(codes: &[u32]) -> TypeCodes {
        let mut set = TypeCodes::default();
        for &code in codes {
            set.insert(code);
        }
        set
    }

    fn insert(&mut self, code: u32) {
        if code <= MAX_TYPE_CODE {
            self.bits[code as usize / 64] |= 1 << (code % 64);
        }
    }

    pub fn contains(&self, code: u32) -> bool {
        code <= MAX_TYPE_CODE && self.bits[code as usize / 64] & (1 << (code % 64)) != 0
    }

    /// The codes in the set, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..=MAX_TYPE_CODE).filter(|c| self.contains(*c))
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// The codes in the set as ranges, lowest first.
    pub fn ranges(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for code in self.iter() {
            match out.last_mut() {
                Some((_, high)) if *high + 1 == code => *high = code,
                _ => out.push((code, code)),
            }
        }
        out
    }
}

/// `"165"` or `"170-179"` (blanks around the parts allowed).
fn parse_range(text: &str) -> Result<(u32, u32), String> {
    let expected = || {
        format!(
            "{text:?} is not a type code or a range of them; expected a number from 0 to 999 or a range such as \"170-179\""
        )
    };
    let code = |s: &str| -> Option<u32> {
        let s = s.trim();
        if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match text.split_once('-') {
        None => code(text).map(|c| (c, c)).ok_or_else(expected),
        Some((low, high)) => {
            let (low, high) = (
                code(low).ok_or_else(expected)?,
                code(high).ok_or_else(expected)?,
            );
            if low > high {
                return Err(format!(
                    "the range {text:?} goes from {low} down to {high}; write the lower code first"
                ));
            }
            Ok((low, high))
        }
    }
}

impl From<&[u32]> for TypeCodes {
    fn from(codes: &[u32]) -> Self {
        TypeCodes::of(codes)
    }
}

impl<const N: usize> From<&[u32; N]> for TypeCodes {
    fn from(codes: &[u32; N]) -> Self {
        TypeCodes::of(codes)
    }
}

impl From<&TypeCodes> for TypeCodes {
    fn from(codes: &TypeCodes) -> Self {
        codes.clone()
    }
}

impl fmt::Display for TypeCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .ranges()
            .into_iter()
            .map(|(low, high)| {
                if low == high {
                    low.to_string()
                } else {
                    format!("{low}-{high}")
                }
            })
            .collect();
        write!(f, "[{}]", shown.join(", "))
    }
}

// Debug as the ranges: the source's Debug goes into a file's fingerprint, and 16 words of bits
// would say nothing to a person reading a log.
impl fmt::Debug for TypeCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypeCodes{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_list: &str) -> Result<TypeCodes, String> {
        #[derive(Deserialize)]
        struct T {
            codes: Vec<CodeSpec>,
        }
        let t: T = toml::from_str(&format!("codes = {toml_list}")).map_err(|e| e.to_string())?;
        TypeCodes::parse(&t.codes)
    }

    #[test]
    fn numbers_strings_and_ranges() {
        let codes = parse(r#"[165, "170-179", " 195 ", "0"]"#).unwrap();
        for c in [0, 165, 170, 175, 179, 195] {
            assert!(codes.contains(c), "{c}");
        }
        for c in [1, 164, 166, 169, 180, 194, 999, 1000, u32::MAX] {
            assert!(!codes.contains(c), "{c}");
        }
        assert_eq!(codes.to_string(), "[0, 165, 170-179, 195]");
        assert_eq!(format!("{codes:?}"), "TypeCodes[0, 165, 170-179, 195]");
        assert_eq!(
            codes,
            TypeCodes::parse(&[
                CodeSpec::Number(0),
                CodeSpec::Number(165),
                CodeSpec::Text("170-179".into()),
                CodeSpec::Number(195)
            ])
            .unwrap()
        );
        assert!(parse("[]").unwrap().is_empty());
        assert_eq!(parse(r#"["100-399"]"#).unwrap().ranges(), [(100, 399)]);
        assert_eq!(
            TypeCodes::of(&[165, 166, 175]).ranges(),
            [(165, 166), (175, 175)]
        );
    }

    #[test]
    fn wrong_elements_say_what_was_expected() {
        assert_eq!(
            parse("[1000]").unwrap_err(),
            "1000 is not a type code; type codes are from 0 to 999"
        );
        assert_eq!(
            parse("[-1]").unwrap_err(),
            "-1 is not a type code; type codes are from 0 to 999"
        );
        assert_eq!(
            parse(r#"["17x"]"#).unwrap_err(),
            "\"17x\" is not a type code or a range of them; expected a number from 0 to 999 or a range such as \"170-179\""
        );
        assert!(parse(r#"["170-"]"#).is_err());
        assert!(parse(r#"["170-1790"]"#).is_err());
        assert_eq!(
            parse(r#"["179-170"]"#).unwrap_err(),
            "the range \"179-170\" goes from 179 down to 170; write the lower code first"
        );
    }
}
