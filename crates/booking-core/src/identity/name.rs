//! Patient names as written on their documents, in any script.

use crate::pii::{Mask, mask_name};
use std::fmt;

const MAX_CHARS: usize = 30;

/// A person's name: 1–30 characters after trimming, letters of any script plus the separators
/// names really contain (`·` in transliterated minority and foreign names, `.`, `-`, `'`) and
/// single spaces between words. Digits, control characters and other symbols are refused.
///
/// `Debug` and `Display` print the masked form (`张**`); [`PersonName::as_str`] gives the name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

/// Every variant answers with the one code `NAME_INVALID`; the message says what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {max} characters")]
    TooLong { max: usize },
    #[error(
        "a name holds letters, the separators · . - ' and single spaces between words, and at \
         least one letter"
    )]
    BadCharacters,
}

impl NameError {
    /// Stable code for the gateway's error JSON.
    pub const fn code(&self) -> &'static str {
        "NAME_INVALID"
    }
}

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.chars().count() > MAX_CHARS {
            return Err(NameError::TooLong { max: MAX_CHARS });
        }
        let allowed = |c: char| c.is_alphabetic() || matches!(c, '·' | '.' | '-' | '\'' | ' ');
        if !name.chars().all(allowed)
            || name.contains("  ")
            || !name.chars().any(char::is_alphabetic)
        {
            return Err(NameError::BadCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name in clear, for the patient's own view and the hospital's records.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Mask for PersonName {
    fn masked(&self) -> String {
        mask_name(&self.0)
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PersonName").field(&self.masked()).finish()
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_in_any_script() {
        for raw in [
            "张三丰",
            "李",
            "阿卜杜·热合曼",
            "John Smith",
            "Mary-Jane O'Neil",
            "J. R. R. Tolkien",
            "Éloïse Dupont",
            "Иван Петров",
            "김민준",
            "محمد",
            "たなか",
        ] {
            let name = PersonName::parse(raw).expect(raw);
            assert_eq!(name.as_str(), raw);
        }
        assert_eq!(
            PersonName::parse("  张三  ").map(|n| n.0),
            Ok("张三".to_owned())
        );
        assert!(PersonName::parse(&"名".repeat(30)).is_ok());
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(PersonName::parse(""), Err(NameError::Empty));
        assert_eq!(PersonName::parse(" \t "), Err(NameError::Empty));
        assert_eq!(
            PersonName::parse(&"名".repeat(31)),
            Err(NameError::TooLong { max: 30 })
        );
        for raw in [
            "张三2",
            "John  Smith",
            "John\tSmith",
            "张\u{0}三",
            "Bobby; DROP TABLE",
            "<script>",
            "张三@",
            "---",
            "· .",
        ] {
            assert_eq!(
                PersonName::parse(raw),
                Err(NameError::BadCharacters),
                "{raw:?}"
            );
        }
        assert_eq!(NameError::Empty.code(), "NAME_INVALID");
        assert_eq!(NameError::TooLong { max: 30 }.code(), "NAME_INVALID");
    }

    #[test]
    fn debug_and_display_are_masked() {
        let name = PersonName::parse("张三丰").expect("valid");
        assert_eq!(name.to_string(), "张**");
        assert_eq!(format!("{name:?}"), "PersonName(\"张**\")");
        let latin = PersonName::parse("John Smith").expect("valid");
        assert!(!format!("{latin:?}").contains("Smith"));
    }
}
