//! Alipay's money is a yuan string with at most two decimals (`"25.00"`); ours is integer fen.
//! The conversion is done on the digits, never through a float, so every amount round-trips
//! exactly.

/// Why a yuan string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("amount is empty")]
    Empty,
    #[error("amount is negative")]
    Negative,
    #[error("amount has more than two decimals")]
    TooManyDecimals,
    #[error("amount is not a plain decimal number")]
    NotANumber,
    #[error("amount does not fit in i64 fen")]
    Overflow,
}

/// `"12.00"` → `1200`. Accepts digits with an optional `.` and one or two decimals (`"12"`,
/// `"12.5"`, `"0.01"`); refuses signs, exponents, spaces, separators, `"1."`, `".5"` and a third
/// decimal even when it is zero (Alipay never sends one, so it is not Alipay talking).
pub fn yuan_to_fen(yuan: &str) -> Result<i64, AmountError> {
    if yuan.is_empty() {
        return Err(AmountError::Empty);
    }
    if yuan.starts_with('-') {
        return Err(AmountError::Negative);
    }
    let (whole, decimals) = match yuan.split_once('.') {
        Some((whole, decimals)) => (whole, decimals),
        None => (yuan, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(decimals) {
        return Err(AmountError::NotANumber);
    }
    if yuan.ends_with('.') {
        return Err(AmountError::NotANumber);
    }
    if decimals.len() > 2 {
        return Err(AmountError::TooManyDecimals);
    }
    // "5" means 50 fen: pad the decimals to two digits.
    let fen_part = decimals
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(2)
        .fold(0i64, |acc, digit| acc * 10 + i64::from(digit - b'0'));
    whole
        .bytes()
        .try_fold(0i64, |acc, digit| {
            acc.checked_mul(10)?.checked_add(i64::from(digit - b'0'))
        })
        .and_then(|yuan| yuan.checked_mul(100)?.checked_add(fen_part))
        .ok_or(AmountError::Overflow)
}

/// `1200` → `"12.00"`, always two decimals, as Alipay wants `total_amount` and `refund_amount`.
pub fn fen_to_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let magnitude = fen.unsigned_abs();
    format!("{sign}{}.{:02}", magnitude / 100, magnitude % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_strings_convert_exactly() {
        for (yuan, fen) in [
            ("12.00", 1200),
            ("0.01", 1),
            ("0.10", 10),
            ("0.1", 10),
            ("12", 1200),
            ("12.5", 1250),
            ("0", 0),
            ("0.00", 0),
            ("007.05", 705),
            ("100000000.00", 10_000_000_000),
            // A float would give 0.29 * 100 = 28.999999999999996.
            ("0.29", 29),
            ("92233720368547758.07", i64::MAX),
        ] {
            assert_eq!(yuan_to_fen(yuan), Ok(fen), "{yuan}");
        }
    }

    #[test]
    fn junk_is_refused_with_its_reason() {
        for (yuan, error) in [
            ("", AmountError::Empty),
            ("-1.00", AmountError::Negative),
            ("-0.00", AmountError::Negative),
            ("1.001", AmountError::TooManyDecimals),
            ("1.000", AmountError::TooManyDecimals),
            ("+1.00", AmountError::NotANumber),
            ("1.", AmountError::NotANumber),
            (".5", AmountError::NotANumber),
            (".", AmountError::NotANumber),
            ("1,00", AmountError::NotANumber),
            ("1.0.0", AmountError::NotANumber),
            (" 1.00", AmountError::NotANumber),
            ("1.00 ", AmountError::NotANumber),
            ("1e3", AmountError::NotANumber),
            ("NaN", AmountError::NotANumber),
            ("１.00", AmountError::NotANumber),
            ("92233720368547758.08", AmountError::Overflow),
            ("99999999999999999999", AmountError::Overflow),
        ] {
            assert_eq!(yuan_to_fen(yuan), Err(error), "{yuan:?}");
        }
    }

    #[test]
    fn fen_format_with_two_decimals_and_round_trips() {
        for (fen, yuan) in [
            (1200, "12.00"),
            (1, "0.01"),
            (10, "0.10"),
            (0, "0.00"),
            (-5, "-0.05"),
            (i64::MAX, "92233720368547758.07"),
            (i64::MIN, "-92233720368547758.08"),
        ] {
            assert_eq!(fen_to_yuan(fen), yuan);
        }
        for fen in [0, 1, 99, 100, 101, 2500, 10_000_000_000, i64::MAX] {
            assert_eq!(yuan_to_fen(&fen_to_yuan(fen)), Ok(fen));
        }
    }
}
