//! The limit on failed operator logins: 10 per username and client IP in a 15-minute window.
//! Past it, every attempt from that IP for that username (right password or not) answers 429
//! `LOGIN_RATE_LIMITED` with `Retry-After` until the window closes. Keyed by username *and* IP,
//! so that someone guessing at an account from one address cannot lock its owner out from the
//! hospital's own network.
//!
//! The counters only count (`RateCounter::hit`), so a lock mark in the expiring set, written by
//! the failure that reaches the limit and living as long as the window, tells later attempts to
//! stop before any password is checked. Both live in the shared stores, so the limit holds
//! across gateway replicas.

use crate::http::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use booking_core::operators::Username;
use kv_store::{StoreError, Stores, WindowCount};
use std::net::IpAddr;
use std::time::Duration;

pub const FAILURES_ALLOWED: u64 = 10;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

pub struct LoginLimit<'a> {
    stores: &'a Stores,
    failures_key: String,
    lock_key: String,
}

impl<'a> LoginLimit<'a> {
    pub fn new(stores: &'a Stores, username: &str, ip: IpAddr) -> Self {
        // Usernames are matched case-insensitively, so they are counted that way too. Anything
        // that cannot be a username shares one bucket per IP: no caller text reaches a key.
        let normalized = username.trim().to_ascii_lowercase();
        let name = match Username::parse(&normalized) {
            Ok(name) => name.as_str().to_owned(),
            Err(_) => "~invalid".to_owned(),
        };
        Self {
            stores,
            failures_key: format!("ops-login-failures:{ip}/{name}"),
            lock_key: format!("ops-login-locked:{ip}/{name}"),
        }
    }

    /// 429 when this username and IP have used up their failures.
    pub async fn check(&self) -> Result<(), ApiError> {
        if !self.stores.sets.contains(&self.lock_key).await? {
            return Ok(());
        }
        // Counting the refused attempt does not lengthen the window; it tells how long is left.
        let window = self.stores.counters.hit(&self.failures_key, WINDOW).await?;
        if window.count <= FAILURES_ALLOWED {
            // The lock mark outlived its window by a moment: a new window has begun.
            return Ok(());
        }
        Err(limited(window))
    }

    /// Counts a failed login. True when this failure used up the allowance (the caller audits
    /// the lock once, not every refused attempt after it).
    pub async fn record_failure(&self) -> Result<bool, StoreError> {
        let window = self.stores.counters.hit(&self.failures_key, WINDOW).await?;
        if window.count < FAILURES_ALLOWED {
            return Ok(false);
        }
        self.stores
            .sets
            .insert_new(&self.lock_key, window.resets_in)
            .await
    }
}

fn limited(window: WindowCount) -> ApiError {
    let seconds = window.resets_in.as_secs_f64().ceil().max(1.0) as u64;
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "LOGIN_RATE_LIMITED",
        format!("登录失败次数过多，请 {seconds} 秒后再试"),
        format!("Too many failed logins; try again in {seconds} s"),
    )
    .with_header(RETRY_AFTER, seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn the_eleventh_attempt_after_ten_failures_is_refused_with_retry_after() {
        let stores = Stores::in_process();
        let limit = LoginLimit::new(&stores, "desk-1", ip("192.0.2.1"));
        for n in 1..=FAILURES_ALLOWED {
            limit.check().await.expect("still allowed");
            assert_eq!(limit.record_failure().await.unwrap(), n == FAILURES_ALLOWED);
        }
        let error = limit.check().await.expect_err("locked");
        assert_eq!(
            (error.status, error.code),
            (StatusCode::TOO_MANY_REQUESTS, "LOGIN_RATE_LIMITED")
        );
        let retry_after: u64 = actix_web::ResponseError::error_response(&error)
            .headers()
            .get(RETRY_AFTER)
            .expect("Retry-After")
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=WINDOW.as_secs()).contains(&retry_after),
            "{retry_after}"
        );

        // The same name in other case is the same account; another IP or name is not limited.
        assert!(
            LoginLimit::new(&stores, " DESK-1", ip("192.0.2.1"))
                .check()
                .await
                .is_err()
        );
        assert!(
            LoginLimit::new(&stores, "desk-1", ip("192.0.2.2"))
                .check()
                .await
                .is_ok()
        );
        assert!(
            LoginLimit::new(&stores, "desk-2", ip("192.0.2.1"))
                .check()
                .await
                .is_ok()
        );
    }
}
