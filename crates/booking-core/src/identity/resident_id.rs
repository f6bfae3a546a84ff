//! 公民身份号码 (GB 11643-1999), the number on the 居民身份证: a six-digit address code, an
//! eight-digit birth date, a three-digit sequence whose last digit is odd for men and even for
//! women, and an ISO 7064 MOD 11-2 check character (`0`–`9` or `X`). The 2023
//! permanent-residence card reuses this layout, so its parser calls the helpers here.

use super::document::{DocumentError, Facts, Sex};
use chrono::{Datelike, NaiveDate};

/// ISO 7064 MOD 11-2 weights, 2^(17-i) mod 11 for positions 1..=17.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each remainder 0..=10 of the weighted sum.
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";
/// Birth dates before this year are typing errors, not patients.
const EARLIEST_BIRTH_YEAR: i32 = 1900;

pub(super) fn parse(number: &str, today: NaiveDate) -> Result<Facts, DocumentError> {
    let number = gb11643_layout(number)?;
    if !is_province_level_region(decimal(&number[..2])) {
        return Err(DocumentError::UnknownRegion);
    }
    gb11643_facts(number, today)
}

/// 17 digits then a digit or `X`.
pub(super) fn gb11643_layout(number: &str) -> Result<&[u8; 18], DocumentError> {
    let bytes = number.as_bytes();
    if !bytes.iter().all(|&b| b.is_ascii_digit() || b == b'X') {
        return Err(DocumentError::BadCharacters);
    }
    let bytes: &[u8; 18] = bytes
        .try_into()
        .map_err(|_| DocumentError::BadLength { expected: "18" })?;
    if bytes[..17].contains(&b'X') {
        return Err(DocumentError::BadFormat);
    }
    Ok(bytes)
}

/// Checks the birth date and the check character of a number in GB 11643 layout and reads the
/// birth date and sex it encodes.
pub(super) fn gb11643_facts(number: &[u8; 18], today: NaiveDate) -> Result<Facts, DocumentError> {
    let year = decimal(&number[6..10]);
    let month = decimal(&number[10..12]);
    let day = decimal(&number[12..14]);
    let birth_date = i32::try_from(year)
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, month, day))
        .filter(|date| is_plausible_birth_date(*date, today))
        .ok_or(DocumentError::ImpossibleBirthDate)?;
    if check_character(&number[..17]) != number[17] {
        return Err(DocumentError::BadCheckDigit);
    }
    let sex = if (number[16] - b'0') % 2 == 1 {
        Sex::Male
    } else {
        Sex::Female
    };
    Ok(Facts {
        birth_date: Some(birth_date),
        sex: Some(sex),
    })
}

pub(super) fn is_plausible_birth_date(date: NaiveDate, today: NaiveDate) -> bool {
    date.year() >= EARLIEST_BIRTH_YEAR && date <= today
}

/// The value of a run of ASCII digits; callers have checked that they are digits.
pub(super) fn decimal(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0'))
}

fn check_character(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, weight)| u32::from(d - b'0') * weight)
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

/// The province-level rows of GB/T 2260 (2007 edition, kept current by the Ministry of Civil
/// Affairs' yearly 行政区划代码 list; the province level has not changed since Chongqing, 50,
/// in 1997): 11–15 North, 21–23 North-east, 31–37 East, 41–46 South-central, 50–54
/// South-west, 61–65 North-west, 71 Taiwan, 81 Hong Kong, 82 Macao.
///
/// Plus 83, which GB/T 2260 lacks: since 2018 the 港澳台居民居住证 carry a GB 11643 number with
/// address code 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan), and patients enter it
/// as their resident ID.
fn is_province_level_region(code: u32) -> bool {
    matches!(
        code,
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83
    )
}

#[cfg(test)]
mod tests {
    use crate::identity::{DocumentError, IdDocument, IdType, Sex};
    use chrono::NaiveDate;

    // Check characters below were computed with this Python, independent of the Rust code:
    //   W = [7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]
    //   def check(body): return "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).expect("date")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn parse(raw: &str) -> Result<IdDocument, DocumentError> {
        IdDocument::parse_on(IdType::ResidentId, raw, today())
    }

    #[test]
    fn textbook_example_parses_with_birth_date_and_sex() {
        // GB 11643's own example; 17th digit 2 is even, so female.
        let doc = parse("11010519491231002X").expect("valid");
        assert_eq!(doc.number(), "11010519491231002X");
        assert_eq!(doc.birth_date(), Some(date(1949, 12, 31)));
        assert_eq!(doc.sex(), Some(Sex::Female));
    }

    #[test]
    fn other_valid_numbers() {
        let cases = [
            ("440305200001011235", date(2000, 1, 1), Sex::Male),
            ("310115198808084569", date(1988, 8, 8), Sex::Female),
            ("510108197707070079", date(1977, 7, 7), Sex::Male),
            ("110105189912310015", date(1899, 12, 31), Sex::Male),
        ];
        for (number, birth, sex) in &cases[..3] {
            let doc = parse(number).expect(number);
            assert_eq!(doc.birth_date(), Some(*birth), "{number}");
            assert_eq!(doc.sex(), Some(*sex), "{number}");
        }
        // Valid check digit, but born before 1900.
        assert_eq!(parse(cases[3].0), Err(DocumentError::ImpossibleBirthDate));
    }

    #[test]
    fn lower_case_x_and_spaces_are_normalised() {
        let doc = parse(" 110105 19491231 002x ").expect("valid");
        assert_eq!(doc.number(), "11010519491231002X");
    }

    #[test]
    fn wrong_check_digit_is_refused() {
        assert_eq!(
            parse("110105194912310021"),
            Err(DocumentError::BadCheckDigit)
        );
        assert_eq!(
            parse("440305200001011234"),
            Err(DocumentError::BadCheckDigit)
        );
        // Adjacent digits swapped (still a real date): the weights catch transpositions.
        for swapped in [
            "11010519491213002X",
            "11010519491231020X",
            "11001519491231002X",
        ] {
            assert_eq!(
                parse(swapped),
                Err(DocumentError::BadCheckDigit),
                "{swapped}"
            );
        }
    }

    #[test]
    fn impossible_and_future_birth_dates_are_refused() {
        // 1999-02-30 does not exist (the check digit is right).
        assert_eq!(
            parse("110105199902300015"),
            Err(DocumentError::ImpossibleBirthDate)
        );
        // 2026-05-02 is tomorrow (the check digit is right).
        assert_eq!(
            parse("110105202605020011"),
            Err(DocumentError::ImpossibleBirthDate)
        );
        let doc = IdDocument::parse_on(IdType::ResidentId, "110105202605020011", date(2026, 5, 2))
            .expect("born today");
        assert_eq!(doc.birth_date(), Some(date(2026, 5, 2)));
    }

    #[test]
    fn unknown_region_is_refused() {
        // 99 is no province (the check digit is right).
        assert_eq!(
            parse("99010519800101001X"),
            Err(DocumentError::UnknownRegion)
        );
        for region in [
            "00", "10", "16", "20", "24", "30", "38", "40", "47", "55", "60", "66", "70", "72",
            "80", "84", "91",
        ] {
            let number = format!("{region}010519491231002X");
            assert_eq!(
                parse(&number),
                Err(DocumentError::UnknownRegion),
                "{region}"
            );
        }
    }

    #[test]
    fn every_listed_region_is_accepted() {
        let regions = (11..=15)
            .chain(21..=23)
            .chain(31..=37)
            .chain(41..=46)
            .chain(50..=54)
            .chain(61..=65)
            .chain([71, 81, 82, 83]);
        for region in regions {
            // Recompute the check character for each prefix with the same weights.
            let body = format!("{region}010519491231002");
            let sum: u32 = body
                .bytes()
                .zip(super::WEIGHTS)
                .map(|(d, w)| u32::from(d - b'0') * w)
                .sum();
            let check = char::from(super::CHECK_CHARACTERS[(sum % 11) as usize]);
            let number = format!("{body}{check}");
            assert!(parse(&number).is_ok(), "{number}");
        }
    }

    #[test]
    fn layout_errors() {
        assert_eq!(
            parse("1101051949123100"),
            Err(DocumentError::BadLength { expected: "18" })
        );
        assert_eq!(
            parse("11010519491231002X1"),
            Err(DocumentError::BadLength { expected: "18" })
        );
        assert_eq!(
            parse("11010519491231002Y"),
            Err(DocumentError::BadCharacters)
        );
        assert_eq!(
            parse("1101051949-231002X"),
            Err(DocumentError::BadCharacters)
        );
        assert_eq!(parse("1101051949123100X2"), Err(DocumentError::BadFormat));
        assert_eq!(
            parse("11010519491231002X").map(|d| d.masked()),
            Ok("110105********002X".to_owned())
        );
    }
}
