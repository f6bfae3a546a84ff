//! A parsed ID document: its kind, its normalised number, and what the number itself tells
//! (birth date and sex, for the kinds that encode them).

use super::{IdType, foreign_resident, permits, resident_id};
use crate::clock::{Clock, SystemClock};
use crate::pii::{Mask, mask_id_number};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub const fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// Why a document number was refused. Messages name the rule, never the number, so they can be
/// logged and returned as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the document number is empty")]
    Empty,
    #[error("the document number must be {expected} characters long")]
    BadLength { expected: &'static str },
    #[error("the document number contains characters this kind of document never uses")]
    BadCharacters,
    #[error("the number does not start with a known province-level region code")]
    UnknownRegion,
    #[error("the birth date in the number is not a real date between 1900 and today")]
    ImpossibleBirthDate,
    #[error("the check digit does not match the rest of the number; it was probably mistyped")]
    BadCheckDigit,
    #[error("the number does not follow the pattern of this kind of document")]
    BadFormat,
}

impl DocumentError {
    /// Stable code for the gateway's error JSON; clients branch on it, so it never changes.
    pub const fn code(&self) -> &'static str {
        match self {
            DocumentError::Empty => "ID_EMPTY",
            DocumentError::BadLength { .. } => "ID_BAD_LENGTH",
            DocumentError::BadCharacters => "ID_BAD_CHARACTERS",
            DocumentError::UnknownRegion => "ID_UNKNOWN_REGION",
            DocumentError::ImpossibleBirthDate => "ID_IMPOSSIBLE_BIRTH_DATE",
            DocumentError::BadCheckDigit => "ID_BAD_CHECK_DIGIT",
            DocumentError::BadFormat => "ID_BAD_FORMAT",
        }
    }
}

/// What a number encodes about its holder, filled in by the per-kind parsers.
#[derive(Debug, Default)]
pub(super) struct Facts {
    pub(super) birth_date: Option<NaiveDate>,
    pub(super) sex: Option<Sex>,
}

/// An ID document whose number passed every check its kind allows.
///
/// `Debug` and `Display` print the masked number only, so a document can sit in a logged struct.
/// It implements no `Serialize`: responses carry [`IdDocument::masked`] explicitly.
#[derive(Clone, PartialEq, Eq)]
pub struct IdDocument {
    id_type: IdType,
    number: String,
    birth_date: Option<NaiveDate>,
    sex: Option<Sex>,
}

impl IdDocument {
    /// Parses a number as typed by a patient, judging birth dates against today in Shanghai.
    pub fn parse(id_type: IdType, raw: &str) -> Result<Self, DocumentError> {
        Self::parse_on(id_type, raw, SystemClock.today_shanghai())
    }

    /// [`IdDocument::parse`] with "today" given, for callers that hold a [`Clock`] and for tests.
    ///
    /// The number is normalised first: whitespace removed, full-width characters (from Chinese
    /// input methods) turned into ASCII, letters upper-cased, so `11010519491231002x` and
    /// `110105 19491231 002X` are the same document and hash alike.
    pub fn parse_on(id_type: IdType, raw: &str, today: NaiveDate) -> Result<Self, DocumentError> {
        let number = normalise(raw);
        if number.is_empty() {
            return Err(DocumentError::Empty);
        }
        let facts = match id_type {
            IdType::ResidentId => resident_id::parse(&number, today)?,
            IdType::Passport => permits::parse_passport(&number)?,
            IdType::HkMacaoPermit => permits::parse_hk_macao_permit(&number)?,
            IdType::TaiwanPermit => permits::parse_taiwan_permit(&number)?,
            IdType::ForeignPermanentResidence => foreign_resident::parse(&number, today)?,
        };
        Ok(Self {
            id_type,
            number,
            birth_date: facts.birth_date,
            sex: facts.sex,
        })
    }

    pub fn id_type(&self) -> IdType {
        self.id_type
    }

    /// The normalised number in clear. It is sensitive personal information: store it only
    /// encrypted ([`crate::pii::PiiCipher::encrypt`]) with its keyed hash beside it, and show
    /// [`IdDocument::masked`] instead.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The birth date the number encodes: resident IDs and permanent-residence cards have one,
    /// passports and travel permits do not.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.birth_date
    }

    /// The sex the number encodes (resident IDs and the 2023 permanent-residence card).
    pub fn sex(&self) -> Option<Sex> {
        self.sex
    }

    /// The number as it may be shown anywhere: `110101********1234`.
    pub fn masked(&self) -> String {
        mask_id_number(&self.number)
    }
}

impl Mask for IdDocument {
    fn masked(&self) -> String {
        IdDocument::masked(self)
    }
}

impl fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdDocument")
            .field("id_type", &self.id_type)
            .field("number", &self.masked())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Removes whitespace (also the ideographic space U+3000), maps full-width forms U+FF01–U+FF5E to
/// their ASCII twins and upper-cases ASCII letters. Only ASCII is upper-cased: Unicode case
/// mapping would turn `ı` or `ſ` into `I` or `S` and let them through.
fn normalise(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).expect("date")
    }

    #[test]
    fn normalises_case_spaces_and_full_width_input() {
        assert_eq!(normalise(" 110105 19491231 002x\t"), "11010519491231002X");
        assert_eq!(normalise("１１０１０５　ｅ"), "110105E");
        assert_eq!(normalise("ſı"), "ſı");
    }

    #[test]
    fn empty_after_normalising_is_empty() {
        for raw in ["", "   ", "\u{3000}"] {
            assert_eq!(
                IdDocument::parse_on(IdType::Passport, raw, today()),
                Err(DocumentError::Empty)
            );
        }
    }

    #[test]
    fn debug_and_display_never_show_the_number() {
        let cases = [
            (IdType::ResidentId, "11010519491231002X"),
            (IdType::Passport, "E12345678"),
            (IdType::HkMacaoPermit, "H1234567890"),
            (IdType::TaiwanPermit, "12345678"),
            (IdType::ForeignPermanentResidence, "911840198506150011"),
            (IdType::ForeignPermanentResidence, "USA110085061501"),
        ];
        for (id_type, number) in cases {
            let doc = IdDocument::parse_on(id_type, number, today()).expect(number);
            for shown in [
                format!("{doc:?}"),
                format!("{doc:#?}"),
                format!("{doc}"),
                format!("{:?}", Some(&doc)),
            ] {
                assert!(!shown.contains(number), "{shown}");
                assert!(shown.contains(&doc.masked()), "{shown}");
            }
            assert_eq!(doc.number(), number);
            assert_eq!(doc.id_type(), id_type);
        }
    }

    #[test]
    fn masked_forms() {
        let doc =
            IdDocument::parse_on(IdType::ResidentId, "11010519491231002x", today()).expect("valid");
        assert_eq!(doc.masked(), "110105********002X");
        assert_eq!(Mask::masked(&doc), "110105********002X");
        let passport = IdDocument::parse_on(IdType::Passport, "e12345678", today()).expect("valid");
        assert_eq!(passport.masked(), "E1*****78");
    }

    #[test]
    fn error_codes_are_stable() {
        let codes = [
            (DocumentError::Empty, "ID_EMPTY"),
            (DocumentError::BadLength { expected: "18" }, "ID_BAD_LENGTH"),
            (DocumentError::BadCharacters, "ID_BAD_CHARACTERS"),
            (DocumentError::UnknownRegion, "ID_UNKNOWN_REGION"),
            (
                DocumentError::ImpossibleBirthDate,
                "ID_IMPOSSIBLE_BIRTH_DATE",
            ),
            (DocumentError::BadCheckDigit, "ID_BAD_CHECK_DIGIT"),
            (DocumentError::BadFormat, "ID_BAD_FORMAT"),
        ];
        for (error, code) in codes {
            assert_eq!(error.code(), code);
        }
        assert_eq!(
            DocumentError::BadLength { expected: "18" }.to_string(),
            "the document number must be 18 characters long"
        );
    }

    #[test]
    fn sex_text() {
        assert_eq!(Sex::Male.as_str(), "male");
        assert_eq!(Sex::Female.as_str(), "female");
        assert_eq!(
            serde_json::to_string(&Sex::Female).expect("serializes"),
            "\"female\""
        );
    }
}
