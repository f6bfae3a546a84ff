//! Reading Alipay's times: Beijing time (UTC+8, no daylight saving) written
//! `yyyy-MM-dd HH:mm:ss`, sometimes with milliseconds (`gmt_refund`). Writing them is
//! [`super::client::beijing_timestamp`].

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// `2025-03-01 09:31:05` (Beijing) → `2025-03-01T01:31:05Z`; `None` for anything else.
pub(super) fn parse(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    Some((local - TimeDelta::hours(8)).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alipay::client::beijing_timestamp;

    #[test]
    fn beijing_times_read_as_utc_and_round_trip() {
        let utc = parse("2025-03-02 01:30:00").unwrap();
        assert_eq!(utc.to_rfc3339(), "2025-03-01T17:30:00+00:00");
        assert_eq!(beijing_timestamp(utc), "2025-03-02 01:30:00");
        assert_eq!(
            parse("2025-03-01 09:31:05.123").unwrap().to_rfc3339(),
            "2025-03-01T01:31:05.123+00:00"
        );
    }

    #[test]
    fn other_shapes_are_refused() {
        for text in [
            "",
            "2025-03-01",
            "2025-03-01T09:31:05",
            "2025-03-01 09:31:05Z",
            "2025-02-30 09:31:05",
            "1740792665",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
    }
}
