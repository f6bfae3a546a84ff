//! A small JSON scanner that finds the top-level members of an object and the exact raw text of
//! each value. It understands strings (with escapes), nesting, numbers and literals well enough to
//! find where every value ends; it does not build values. Errors are short texts for
//! [`super::AlipayError::Malformed`].

use std::borrow::Cow;

/// Deeper nesting is refused, so hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// One `"key": value` of the top-level object.
pub(super) struct Member<'a> {
    /// The key with JSON escapes resolved, so `"a\u005fb"` and `"a_b"` compare equal.
    pub key: Cow<'a, str>,
    /// The value exactly as it appears in the text.
    pub raw_value: &'a str,
}

/// The members of the JSON object that makes up all of `text` (surrounding whitespace allowed),
/// in order. A key that appears twice is an error.
pub(super) fn top_level_members(text: &str) -> Result<Vec<Member<'_>>, String> {
    let mut scanner = Scanner { text, pos: 0 };
    let mut members: Vec<Member<'_>> = Vec::new();
    scanner.skip_whitespace();
    scanner.expect(b'{')?;
    scanner.skip_whitespace();
    if scanner.peek() == Some(b'}') {
        scanner.pos += 1;
    } else {
        loop {
            scanner.skip_whitespace();
            let key = decode_key(scanner.string()?)?;
            scanner.skip_whitespace();
            scanner.expect(b':')?;
            let raw_value = scanner.value(1)?;
            if members.iter().any(|m| m.key == key) {
                return Err(format!("duplicate top-level key {key:?}"));
            }
            members.push(Member { key, raw_value });
            scanner.skip_whitespace();
            match scanner.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(scanner.error("expected , or }")),
            }
        }
    }
    scanner.skip_whitespace();
    if scanner.pos != text.len() {
        return Err(scanner.error("text after the top-level object"));
    }
    Ok(members)
}

fn decode_key(raw: &str) -> Result<Cow<'_, str>, String> {
    if raw.contains('\\') {
        serde_json::from_str::<String>(raw)
            .map(Cow::Owned)
            .map_err(|e| format!("bad key {raw}: {e}"))
    } else {
        Ok(Cow::Borrowed(&raw[1..raw.len() - 1]))
    }
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.next() == Some(byte) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {:?}", char::from(byte))))
        }
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// One value after optional whitespace, as raw text. Every boundary it cuts at is an ASCII
    /// byte, so slicing the `str` there is always on a character boundary.
    fn value(&mut self, depth: usize) -> Result<&'a str, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.skip_whitespace();
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.container(b'}', depth, true)?,
            Some(b'[') => self.container(b']', depth, false)?,
            Some(b'"') => {
                self.string()?;
            }
            Some(b'-' | b'0'..=b'9') => {
                while matches!(
                    self.peek(),
                    Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                ) {
                    self.pos += 1;
                }
            }
            Some(b't') => self.literal("true")?,
            Some(b'f') => self.literal("false")?,
            Some(b'n') => self.literal("null")?,
            _ => return Err(self.error("expected a value")),
        }
        Ok(&self.text[start..self.pos])
    }

    /// An object (`keyed`) or an array, from its opening to its closing bracket.
    fn container(&mut self, close: u8, depth: usize, keyed: bool) -> Result<(), String> {
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if keyed {
                self.skip_whitespace();
                self.string()?;
                self.skip_whitespace();
                self.expect(b':')?;
            }
            self.value(depth + 1)?;
            self.skip_whitespace();
            match self.next() {
                Some(b',') => continue,
                Some(byte) if byte == close => return Ok(()),
                _ => return Err(self.error("expected , or a closing bracket")),
            }
        }
    }

    /// A string including its quotes. A backslash always takes the next byte with it, so an
    /// escaped quote never ends the string; control characters are refused as JSON requires.
    fn string(&mut self) -> Result<&'a str, String> {
        let start = self.pos;
        self.expect(b'"')?;
        loop {
            match self.next() {
                Some(b'"') => return Ok(&self.text[start..self.pos]),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => {
                        for _ in 0..4 {
                            if !self.next().is_some_and(|b| b.is_ascii_hexdigit()) {
                                return Err(self.error("bad \\u escape"));
                            }
                        }
                    }
                    _ => return Err(self.error("bad escape")),
                },
                Some(0x00..=0x1f) => return Err(self.error("control character in string")),
                Some(_) => {}
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("bad literal"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Vec<(String, String)> {
        top_level_members(text)
            .unwrap()
            .into_iter()
            .map(|m| (m.key.into_owned(), m.raw_value.to_owned()))
            .collect()
    }

    #[test]
    fn values_are_cut_exactly_where_they_end() {
        let text = r#" { "a" : { "s": "}\"{\\", "l": [1, -2.5e+3, true, false, null, {"x": "]"}] } ,
            "b":"\u00e9\/é" , "c":[], "d":{}, "e": 0 }  "#;
        assert_eq!(
            members(text),
            [
                (
                    "a".into(),
                    r#"{ "s": "}\"{\\", "l": [1, -2.5e+3, true, false, null, {"x": "]"}] }"#.into()
                ),
                ("b".into(), r#""\u00e9\/é""#.into()),
                ("c".into(), "[]".into()),
                ("d".into(), "{}".into()),
                ("e".into(), "0".into()),
            ]
        );
        assert!(members("{}").is_empty());
    }

    #[test]
    fn escaped_keys_are_compared_decoded() {
        let err = top_level_members(r#"{"a_b":1,"a\u005fb":2}"#)
            .err()
            .unwrap();
        assert!(err.contains("duplicate"), "{err}");
    }

    #[test]
    fn broken_text_is_an_error_not_a_panic() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        for text in [
            "",
            "[]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":"bad \q escape"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"raw\nnewline\"}",
            r#"{"a":tru}"#,
            r#"{"a":1} trailing"#,
            r#"{"a":1}{"b":2}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":1 "b":2}"#,
            r#"{1:2}"#,
            deep.as_str(),
        ] {
            assert!(top_level_members(text).is_err(), "{text:?} was accepted");
        }
    }
}
