//! Values that must not leak through `Debug`, `Display` or logs.

use std::fmt;

/// A secret string (app secret, token, key). `Debug` prints a mask; the clear text needs
/// [`Secret::expose`], which is easy to find in review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A phone number as it may be shown or logged: `13800138000` → `138****8000`. Anything too
/// short to keep both ends is masked whole.
pub fn mask_phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("dev-only-wechat-app-secret");
        assert!(!format!("{secret:?}").contains("dev-only"));
        assert_eq!(secret.expose(), "dev-only-wechat-app-secret");
    }

    #[test]
    fn phones_keep_only_both_ends() {
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("+8613800138000"), "+86*******8000");
        assert_eq!(mask_phone("12345"), "*****");
    }
}
