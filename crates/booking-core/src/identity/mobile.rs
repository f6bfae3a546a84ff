//! Mainland China mobile numbers, the only kind SMS verification and hospital notices reach.

use crate::pii::{Mask, mask_phone};
use std::fmt;

/// An 11-digit mainland mobile number, `1[3-9]` and nine more digits.
///
/// `Debug` and `Display` print `138****8000`; [`MobileNumber::as_str`] gives the clear number,
/// which is PII to be stored encrypted.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MobileNumber(String);

/// The text is not a mainland mobile number. One error for every reason: the user retypes the
/// whole number anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a mainland China mobile number: expected 11 digits starting with 13 to 19, optionally \
     after +86"
)]
pub struct MobileError;

impl MobileError {
    /// Stable code for the gateway's error JSON.
    pub const fn code(&self) -> &'static str {
        "PHONE_INVALID"
    }
}

impl MobileNumber {
    /// Accepts the number as people write it: with spaces or dashes (`138-0013-8000`) and an
    /// optional country code `+86`, `0086` or `86`, and keeps the 11 national digits.
    pub fn parse(raw: &str) -> Result<Self, MobileError> {
        let compact: String = raw
            .chars()
            .filter(|&c| !c.is_whitespace() && c != '-')
            .collect();
        let national = ["+86", "0086", "86"]
            .iter()
            .find_map(|prefix| compact.strip_prefix(prefix))
            .unwrap_or(&compact);
        let bytes = national.as_bytes();
        let valid = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1]);
        if valid {
            Ok(Self(national.to_owned()))
        } else {
            Err(MobileError)
        }
    }

    /// The 11 digits in clear, for sending an SMS or sealing with the PII cipher.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Mask for MobileNumber {
    fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl fmt::Debug for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MobileNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_national_and_international_forms() {
        for raw in [
            "13800138000",
            "+8613800138000",
            "+86 138 0013 8000",
            "008613800138000",
            "8613800138000",
            "138-0013-8000",
            " 138 0013 8000 ",
        ] {
            let phone = MobileNumber::parse(raw).expect(raw);
            assert_eq!(phone.as_str(), "13800138000", "{raw}");
        }
        for raw in ["13012345678", "19912345678", "16612345678"] {
            assert_eq!(MobileNumber::parse(raw).map(|p| p.0), Ok(raw.to_owned()));
        }
    }

    #[test]
    fn refuses_everything_else() {
        for raw in [
            "",
            "1380013800",   // 10 digits
            "138001380001", // 12 digits
            "23800138000",  // starts with 2
            "12800138000",  // 12x is no mobile prefix
            "10800138000",
            "+85213800138000", // Hong Kong country code
            "+86+8613800138000",
            "1380013800O",            // letter O
            "１３８００１３８０００", // full-width digits
            "(138)00138000",
        ] {
            assert_eq!(MobileNumber::parse(raw), Err(MobileError), "{raw:?}");
        }
        assert_eq!(MobileError.code(), "PHONE_INVALID");
    }

    #[test]
    fn debug_and_display_are_masked() {
        let phone = MobileNumber::parse("+86 138 0013 8000").expect("valid");
        assert_eq!(phone.to_string(), "138****8000");
        assert_eq!(format!("{phone:?}"), "MobileNumber(\"138****8000\")");
        assert!(!format!("{phone:#?}").contains("13800138000"));
        assert_eq!(phone.masked(), "138****8000");
    }
}
