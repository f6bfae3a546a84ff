//! The development provider: no SMS, the code goes to stderr.
//!
//! Deliberately not through `tracing`: log lines are shipped and kept, and must never hold a
//! code. stderr of a developer's terminal is the one place a code may appear, marked so that
//! nobody mistakes the set-up for a real one. The gateway refuses this provider in
//! production.

use super::{SendError, SmsSender, mask_phone};
use async_trait::async_trait;

/// Prints codes instead of sending them. DEVELOPMENT ONLY.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleSms;

fn console_line(phone: &str, code: &str) -> String {
    format!(
        "DEVELOPMENT ONLY (sms.provider = console, no SMS sent): code for {} is {code}",
        mask_phone(phone)
    )
}

#[async_trait]
impl SmsSender for ConsoleSms {
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), SendError> {
        eprintln!("{}", console_line(phone, code));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_marked_and_masks_the_phone() {
        let line = console_line("13800138000", "048213");
        assert!(line.starts_with("DEVELOPMENT ONLY"), "{line}");
        assert!(
            line.contains("138****8000") && line.contains("048213"),
            "{line}"
        );
        assert!(!line.contains("13800138000"), "{line}");
    }

    #[tokio::test]
    async fn sending_always_succeeds() {
        ConsoleSms.send_code("13800138000", "048213").await.unwrap();
    }
}
