//! Why an operator lifted a suspension: required, because the lift is judged on it later.

use super::SuspensionError;

/// At most this many characters: a sentence or two, not a case file.
pub const LIFT_REASON_MAX_CHARS: usize = 500;

/// A reason with something in it (after trimming) and at most [`LIFT_REASON_MAX_CHARS`]
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiftReason(String);

impl LiftReason {
    pub fn parse(text: &str) -> Result<Self, SuspensionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SuspensionError::ReasonRequired);
        }
        if text.chars().count() > LIFT_REASON_MAX_CHARS {
            return Err(SuspensionError::ReasonTooLong {
                max_chars: LIFT_REASON_MAX_CHARS,
            });
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_required_and_bounded() {
        for blank in ["", "   ", "\n\t"] {
            assert!(
                matches!(
                    LiftReason::parse(blank),
                    Err(SuspensionError::ReasonRequired)
                ),
                "{blank:?}"
            );
        }
        assert_eq!(
            LiftReason::parse("  患者住院，有证明  ").unwrap().as_str(),
            "患者住院，有证明"
        );
        // Characters, not bytes: 500 Chinese characters are 1,500 bytes and still fit.
        assert!(LiftReason::parse(&"证".repeat(LIFT_REASON_MAX_CHARS)).is_ok());
        assert!(matches!(
            LiftReason::parse(&"x".repeat(LIFT_REASON_MAX_CHARS + 1)),
            Err(SuspensionError::ReasonTooLong { max_chars: 500 })
        ));
    }
}
