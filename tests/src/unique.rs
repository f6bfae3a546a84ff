//! Names no earlier run used: the shared Redis and the mock keep state between runs, so each
//! run's keys, login codes and passports must be its own.

use std::time::{SystemTime, UNIX_EPOCH};

/// `tag-<nanoseconds since the epoch>`.
pub fn unique(tag: &str) -> String {
    format!("{tag}-{}", nanos_since_epoch())
}

/// A passport number (`E` and eight digits) taken from the clock.
pub fn unique_passport() -> String {
    format!("E{:08}", nanos_since_epoch() % 100_000_000)
}

/// The setting that keeps a gateway's keys on the shared Redis under a prefix of its own
/// (`tag-…`): counters there outlive a run.
pub fn own_redis_keys(tag: &str) -> (String, String) {
    ("GUAHAO__REDIS__KEY_PREFIX".to_owned(), unique(tag))
}

fn nanos_since_epoch() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keeps_the_tag_and_adds_the_clock() {
        let (first, second) = (unique("guahao-e2e-pay"), unique("guahao-e2e-pay"));
        let suffix = first.strip_prefix("guahao-e2e-pay-").unwrap();
        assert!(suffix.chars().all(|c| c.is_ascii_digit()), "{first}");
        assert_ne!(first, second);
    }

    #[test]
    fn passports_are_an_e_and_eight_digits() {
        let passport = unique_passport();
        assert_eq!(passport.len(), 9, "{passport}");
        assert!(passport.starts_with('E'));
        assert!(passport[1..].chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn the_redis_prefix_setting_is_unique_per_call() {
        let (name, prefix) = own_redis_keys("guahao-e2e-bk");
        assert_eq!(name, "GUAHAO__REDIS__KEY_PREFIX");
        assert!(prefix.starts_with("guahao-e2e-bk-"), "{prefix}");
        assert_ne!(prefix, own_redis_keys("guahao-e2e-bk").1);
    }
}
