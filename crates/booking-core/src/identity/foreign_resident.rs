//! 外国人永久居留身份证 (the foreigner's permanent-residence card). Two versions are in use:
//!
//! * since December 2023, 18 characters in GB 11643 layout starting with `9` (a first digit no
//!   citizen number has), then the issuing province, a numeric nationality code, the birth
//!   date, a sequence (odd last digit for men, as for citizens) and a MOD 11-2 check character;
//! * the 2004 card (reissued until 2023 and still valid), 15 characters: a three-letter
//!   nationality code, four digits for the issuing office, the birth date as YYMMDD at positions
//!   8–13 and a two-digit sequence. It has no check digit we can verify.

use super::document::{DocumentError, Facts};
use super::resident_id::{decimal, gb11643_facts, gb11643_layout, is_plausible_birth_date};
use chrono::NaiveDate;

pub(super) fn parse(number: &str, today: NaiveDate) -> Result<Facts, DocumentError> {
    if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DocumentError::BadCharacters);
    }
    match number.len() {
        18 => parse_2023(number, today),
        15 => parse_2004(number, today),
        _ => Err(DocumentError::BadLength {
            expected: "15 or 18",
        }),
    }
}

fn parse_2023(number: &str, today: NaiveDate) -> Result<Facts, DocumentError> {
    if !number.starts_with('9') {
        return Err(DocumentError::BadFormat);
    }
    gb11643_facts(gb11643_layout(number)?, today)
}

fn parse_2004(number: &str, today: NaiveDate) -> Result<Facts, DocumentError> {
    let (nationality, digits) = number.as_bytes().split_at(3);
    if !nationality.iter().all(u8::is_ascii_uppercase) || !digits.iter().all(u8::is_ascii_digit) {
        return Err(DocumentError::BadFormat);
    }
    Ok(Facts {
        birth_date: two_digit_year_date(&digits[4..10], today),
        sex: None,
    })
}

/// A YYMMDD birth date: the latest of 20YY and 19YY that is a real date not after today, as a
/// patient is far more likely a child born in 2015 than a 111-year-old born in 1915. No date
/// when neither reading is a real date; the card stays valid because its layout does not let us
/// tell a typing error from an unusual issuing practice.
fn two_digit_year_date(yymmdd: &[u8], today: NaiveDate) -> Option<NaiveDate> {
    let yy = i32::try_from(decimal(&yymmdd[..2])).ok()?;
    let month = decimal(&yymmdd[2..4]);
    let day = decimal(&yymmdd[4..6]);
    [2000 + yy, 1900 + yy]
        .into_iter()
        .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
        .find(|date| is_plausible_birth_date(*date, today))
}

#[cfg(test)]
mod tests {
    use crate::identity::{DocumentError, IdDocument, IdType, Sex};
    use chrono::NaiveDate;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn parse(raw: &str) -> Result<IdDocument, DocumentError> {
        IdDocument::parse_on(IdType::ForeignPermanentResidence, raw, date(2026, 5, 1))
    }

    // 2023 numbers: 9, province 11, nationality 840, birth 19850615, sequence 001/002; check
    // characters from the Python in resident_id.rs's tests (1 and X).

    #[test]
    fn version_2023_derives_birth_date_and_sex() {
        let male = parse("911840198506150011").expect("valid");
        assert_eq!(male.birth_date(), Some(date(1985, 6, 15)));
        assert_eq!(male.sex(), Some(Sex::Male));
        let female = parse("91184019850615002x").expect("valid");
        assert_eq!(female.number(), "91184019850615002X");
        assert_eq!(female.sex(), Some(Sex::Female));
        assert_eq!(female.masked(), "911840********002X");
    }

    #[test]
    fn version_2023_checks() {
        assert_eq!(
            parse("911840198506150012"),
            Err(DocumentError::BadCheckDigit)
        );
        assert_eq!(
            parse("911840198502300012"),
            Err(DocumentError::ImpossibleBirthDate)
        );
        // A citizen's number is not a permanent-residence card.
        assert_eq!(parse("11010519491231002X"), Err(DocumentError::BadFormat));
        assert_eq!(parse("9118401985061500X1"), Err(DocumentError::BadFormat));
        assert_eq!(
            parse("9A1840198506150011"),
            Err(DocumentError::BadCharacters)
        );
    }

    #[test]
    fn version_2004_derives_the_birth_date_when_it_is_real() {
        let doc = parse("USA110085061501").expect("valid");
        assert_eq!(doc.birth_date(), Some(date(1985, 6, 15)));
        assert_eq!(doc.sex(), None);
        assert_eq!(doc.masked(), "US***********01");
        // 10 May 2015: the 2000s reading is in the past, so it wins over 1915.
        let child = parse("gbr310015051001").expect("valid");
        assert_eq!(child.number(), "GBR310015051001");
        assert_eq!(child.birth_date(), Some(date(2015, 5, 10)));
        // 2 May 2026 would be tomorrow, so 1926.
        let elder = parse("FRA440026050201").expect("valid");
        assert_eq!(elder.birth_date(), Some(date(1926, 5, 2)));
        // No 30 February in either century: accepted, no birth date.
        let unknown = parse("DEU110085023001").expect("valid layout");
        assert_eq!(unknown.birth_date(), None);
    }

    #[test]
    fn version_2004_layout_errors() {
        assert_eq!(parse("US1110085061501"), Err(DocumentError::BadFormat));
        assert_eq!(parse("USA11008506150A"), Err(DocumentError::BadFormat));
        assert_eq!(parse("USA-10085061501"), Err(DocumentError::BadCharacters));
        let bad_length = Err(DocumentError::BadLength {
            expected: "15 or 18",
        });
        assert_eq!(parse("USA11008506150"), bad_length);
        assert_eq!(parse("9118401985061500111"), bad_length);
    }
}
