//! Passports and the travel permits of Hong Kong, Macao and Taiwan residents. Their numbers carry
//! no check digit and nothing about the holder, so the shape is all there is to check.

use super::document::{DocumentError, Facts};

/// Passports, Chinese or foreign: 5–17 letters and digits, at least one a digit.
///
/// Chinese ordinary passports are `E` + 8 digits, `E` + a letter other than I/O + 7 digits
/// (since 2017) and, on older books, `G` + 8 digits. All of them fit the foreign rule, and a
/// foreign passport may look exactly like them, so the foreign rule is the whole check: a
/// stricter Chinese pattern could not be applied without knowing the issuing state.
pub(super) fn parse_passport(number: &str) -> Result<Facts, DocumentError> {
    if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DocumentError::BadCharacters);
    }
    if !(5..=17).contains(&number.len()) {
        return Err(DocumentError::BadLength {
            expected: "5 to 17",
        });
    }
    if !number.bytes().any(|b| b.is_ascii_digit()) {
        return Err(DocumentError::BadFormat);
    }
    Ok(Facts::default())
}

/// 港澳居民来往内地通行证: `H` (Hong Kong) or `M` (Macao) and 8 digits, or 10 on newer
/// card-style permits.
pub(super) fn parse_hk_macao_permit(number: &str) -> Result<Facts, DocumentError> {
    if !number.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DocumentError::BadCharacters);
    }
    if !matches!(number.len(), 9 | 11) {
        return Err(DocumentError::BadLength {
            expected: "9 or 11",
        });
    }
    let (region, digits) = number.split_at(1);
    if !matches!(region, "H" | "M") || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DocumentError::BadFormat);
    }
    Ok(Facts::default())
}

/// 台湾居民来往大陆通行证: 8 digits, or 10 on older cards.
pub(super) fn parse_taiwan_permit(number: &str) -> Result<Facts, DocumentError> {
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DocumentError::BadCharacters);
    }
    if !matches!(number.len(), 8 | 10) {
        return Err(DocumentError::BadLength {
            expected: "8 or 10",
        });
    }
    Ok(Facts::default())
}

#[cfg(test)]
mod tests {
    use crate::identity::{DocumentError, IdDocument, IdType};
    use chrono::NaiveDate;

    fn parse(id_type: IdType, raw: &str) -> Result<IdDocument, DocumentError> {
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        IdDocument::parse_on(id_type, raw, today)
    }

    #[test]
    fn chinese_and_foreign_passports_are_accepted_without_derivation() {
        for number in [
            "E12345678",         // E + 8 digits
            "EA1234567",         // E + letter + 7 digits
            "G12345678",         // older G + 8 digits
            "533380006",         // United States, 9 digits
            "X1234567",          // 8 characters
            "L898902C3",         // ICAO 9303's specimen
            "12345",             // shortest
            "A1234567890123456", // longest, 17
        ] {
            let doc = parse(IdType::Passport, number).expect(number);
            assert_eq!(doc.number(), number);
            assert_eq!(doc.birth_date(), None);
            assert_eq!(doc.sex(), None);
        }
        let doc = parse(IdType::Passport, " e 1234 5678 ").expect("normalised");
        assert_eq!(doc.number(), "E12345678");
    }

    #[test]
    fn bad_passports_are_refused() {
        let bad_length = Err(DocumentError::BadLength {
            expected: "5 to 17",
        });
        assert_eq!(parse(IdType::Passport, "E123"), bad_length);
        assert_eq!(parse(IdType::Passport, "A12345678901234567"), bad_length);
        assert_eq!(
            parse(IdType::Passport, "E1234-5678"),
            Err(DocumentError::BadCharacters)
        );
        assert_eq!(
            parse(IdType::Passport, "护照12345"),
            Err(DocumentError::BadCharacters)
        );
        assert_eq!(
            parse(IdType::Passport, "ABCDEFGH"),
            Err(DocumentError::BadFormat)
        );
    }

    #[test]
    fn hk_macao_permits() {
        for number in ["H12345678", "M12345678", "H1234567801", "M8765432100"] {
            let doc = parse(IdType::HkMacaoPermit, number).expect(number);
            assert_eq!(doc.birth_date(), None);
        }
        assert_eq!(
            parse(IdType::HkMacaoPermit, "h12345678").map(|d| d.number().to_owned()),
            Ok("H12345678".to_owned())
        );
        let bad_length = Err(DocumentError::BadLength {
            expected: "9 or 11",
        });
        assert_eq!(parse(IdType::HkMacaoPermit, "H1234567"), bad_length);
        assert_eq!(parse(IdType::HkMacaoPermit, "H123456789"), bad_length);
        assert_eq!(
            parse(IdType::HkMacaoPermit, "X12345678"),
            Err(DocumentError::BadFormat)
        );
        assert_eq!(
            parse(IdType::HkMacaoPermit, "HH2345678"),
            Err(DocumentError::BadFormat)
        );
        assert_eq!(
            parse(IdType::HkMacaoPermit, "123456789"),
            Err(DocumentError::BadFormat)
        );
        assert_eq!(
            parse(IdType::HkMacaoPermit, "H1234567/"),
            Err(DocumentError::BadCharacters)
        );
    }

    #[test]
    fn taiwan_permits() {
        for number in ["12345678", "1234567890"] {
            let doc = parse(IdType::TaiwanPermit, number).expect(number);
            assert_eq!(doc.sex(), None);
        }
        let bad_length = Err(DocumentError::BadLength {
            expected: "8 or 10",
        });
        assert_eq!(parse(IdType::TaiwanPermit, "1234567"), bad_length);
        assert_eq!(parse(IdType::TaiwanPermit, "123456789"), bad_length);
        assert_eq!(
            parse(IdType::TaiwanPermit, "T1234567"),
            Err(DocumentError::BadCharacters)
        );
    }
}
