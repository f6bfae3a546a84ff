//! Send limits per phone and per client IP, on fixed-window [`RateCounter`]s.
//!
//! Windows (keys in the counter store): `sms:ip:1h:{ip}`, `sms:phone:{interval}s:{phone}`
//! (`sms:phone:60s:…` with the default interval), `sms:phone:1h:{phone}`,
//! `sms:phone:1d:{phone}`. The limits hold across purposes: they exist to stop SMS bombing
//! and to cap provider cost, and neither cares what the code was for.
//!
//! A refused request still counts. Every window a request reaches is hit before it is judged,
//! so hammering the endpoint never gets a message out sooner; the client shows the cooldown
//! we return, so an honest user does not tap through it. The IP window is judged first and a
//! request refused there never reaches the phone windows, so one abusive address cannot use
//! up a stranger's daily quota by itself.

use crate::verifier::SmsError;
use kv_store::RateCounter;
use serde::Deserialize;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Configurable limits (config section `sms`, same field names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
// No deny_unknown_fields: the gateway may `#[serde(flatten)]` this into its `sms` section.
#[serde(default)]
pub struct SmsLimits {
    /// At most one send per phone in this many seconds; 0 turns the cooldown off.
    pub phone_interval_s: u64,
    /// Sends per phone in a fixed one-hour window.
    pub phone_per_hour: u32,
    /// Sends per phone in a fixed one-day window.
    pub phone_per_day: u32,
    /// Sends per client IP (per /64 for IPv6) in a fixed one-hour window.
    pub ip_per_hour: u32,
}

impl Default for SmsLimits {
    /// The common convention for verification codes, matching Aliyun's default flow control
    /// (1 per minute, 5 per hour, 10 per day for one number).
    fn default() -> Self {
        Self {
            phone_interval_s: 60,
            phone_per_hour: 5,
            phone_per_day: 10,
            ip_per_hour: 50,
        }
    }
}

/// Which limit refused a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitScope {
    PhoneInterval,
    PhoneHour,
    PhoneDay,
    IpHour,
}

impl LimitScope {
    /// Stable name for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitScope::PhoneInterval => "phone_interval",
            LimitScope::PhoneHour => "phone_hour",
            LimitScope::PhoneDay => "phone_day",
            LimitScope::IpHour => "ip_hour",
        }
    }
}

impl std::fmt::Display for LimitScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The counter key for a client address. An IPv6 client is counted per /64, the block one
/// subscriber usually gets whole: per address, a single phone could rotate through 2^64 of
/// them. IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("sms:ip:1h:{v4}"),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            let network = Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0);
            format!("sms:ip:1h:{network}/64")
        }
    }
}

/// Counts one send to `phone` from `ip` and decides whether it may go out. On success returns
/// the cooldown before the next send to that phone is allowed.
pub(crate) async fn admit(
    counters: &dyn RateCounter,
    limits: &SmsLimits,
    phone: &str,
    ip: IpAddr,
) -> Result<Duration, SmsError> {
    let ip_hit = counters.hit(&ip_key(ip), HOUR).await?;
    if ip_hit.count > u64::from(limits.ip_per_hour) {
        return Err(SmsError::RateLimited {
            retry_after: ip_hit.resets_in,
            scope: LimitScope::IpHour,
        });
    }

    let mut windows = Vec::with_capacity(3);
    if limits.phone_interval_s > 0 {
        let window = Duration::from_secs(limits.phone_interval_s);
        let key = format!("sms:phone:{}s:{phone}", limits.phone_interval_s);
        windows.push((LimitScope::PhoneInterval, key, window, 1));
    }
    windows.push((
        LimitScope::PhoneHour,
        format!("sms:phone:1h:{phone}"),
        HOUR,
        u64::from(limits.phone_per_hour),
    ));
    windows.push((
        LimitScope::PhoneDay,
        format!("sms:phone:1d:{phone}"),
        DAY,
        u64::from(limits.phone_per_day),
    ));

    let mut cooldown = Duration::ZERO;
    let mut refused: Option<(Duration, LimitScope)> = None;
    for (scope, key, window, max) in windows {
        let hit = counters.hit(&key, window).await?;
        if scope == LimitScope::PhoneInterval {
            cooldown = hit.resets_in;
        }
        // The longest wait wins: retrying before it would only be refused again.
        if hit.count > max && refused.is_none_or(|(longest, _)| hit.resets_in > longest) {
            refused = Some((hit.resets_in, scope));
        }
    }
    match refused {
        Some((retry_after, scope)) => Err(SmsError::RateLimited { retry_after, scope }),
        None => Ok(cooldown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_keys_group_ipv6_by_slash_64() {
        let key = |s: &str| ip_key(s.parse().unwrap());
        assert_eq!(key("203.0.113.7"), "sms:ip:1h:203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "sms:ip:1h:203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "sms:ip:1h:2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn limits_default_to_the_issue_values_and_read_partial_config() {
        let limits = SmsLimits::default();
        assert_eq!(
            (
                limits.phone_interval_s,
                limits.phone_per_hour,
                limits.phone_per_day,
                limits.ip_per_hour
            ),
            (60, 5, 10, 50)
        );
        let partial: SmsLimits = serde_json::from_str(r#"{"phone_per_day": 3}"#).unwrap();
        assert_eq!(
            partial,
            SmsLimits {
                phone_per_day: 3,
                ..SmsLimits::default()
            }
        );
    }
}
