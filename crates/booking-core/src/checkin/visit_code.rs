//! Visit codes: `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`, payload being
//! `{booking id, visit date, expiry}`. Short-lived so a screenshot is of little use, bound to the
//! visit date, and single use through the booking's status (a checked-in booking cannot check in
//! again).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use ring::hmac;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitCode {
    #[serde(rename = "b")]
    pub booking_id: Uuid,
    #[serde(rename = "d")]
    pub visit_date: NaiveDate,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VisitCodeError {
    #[error("not a visit code")]
    Malformed,
    #[error("the visit code's signature does not verify")]
    BadSignature,
    #[error("the visit code has expired")]
    Expired,
}

pub struct VisitCodeSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for VisitCodeSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitCodeSigner { .. }")
    }
}

impl VisitCodeSigner {
    /// `secret` is a server secret; the signing key is derived from it under its own label so
    /// it differs from every other use of that secret.
    pub fn new(secret: &[u8]) -> Self {
        let derive = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let key = hmac::sign(&derive, b"guahao visit code v1");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.as_ref()),
        }
    }

    pub fn issue(
        &self,
        booking_id: Uuid,
        visit_date: NaiveDate,
        expires_at: DateTime<Utc>,
    ) -> String {
        let payload = serde_json::to_vec(&VisitCode {
            booking_id,
            visit_date,
            expires_at: expires_at.timestamp(),
        })
        .expect("a visit code serializes");
        let tag = hmac::sign(&self.key, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// Checks the signature (in constant time, by ring) before reading anything, then expiry.
    pub fn verify(&self, code: &str, now: DateTime<Utc>) -> Result<VisitCode, VisitCodeError> {
        let (payload, tag) = code
            .trim()
            .split_once('.')
            .ok_or(VisitCodeError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VisitCodeError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| VisitCodeError::Malformed)?;
        hmac::verify(&self.key, &payload, &tag).map_err(|_| VisitCodeError::BadSignature)?;
        let claims: VisitCode =
            serde_json::from_slice(&payload).map_err(|_| VisitCodeError::Malformed)?;
        if now.timestamp() >= claims.expires_at {
            return Err(VisitCodeError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, h, m, 0).unwrap()
    }

    #[test]
    fn a_fresh_code_verifies_and_carries_its_booking() {
        let signer = VisitCodeSigner::new(b"server secret");
        let id = Uuid::now_v7();
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let code = signer.issue(id, date, at(1, 5));
        let claims = signer.verify(&code, at(1, 0)).unwrap();
        assert_eq!((claims.booking_id, claims.visit_date), (id, date));
    }

    #[test]
    fn expired_tampered_foreign_and_garbage_codes_are_refused() {
        let signer = VisitCodeSigner::new(b"server secret");
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let code = signer.issue(Uuid::now_v7(), date, at(1, 5));
        assert_eq!(signer.verify(&code, at(1, 5)), Err(VisitCodeError::Expired));

        let (payload, tag) = code.split_once('.').unwrap();
        let mut forged: VisitCode =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        forged.visit_date = date.succ_opt().unwrap();
        let forged = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap())
        );
        assert_eq!(
            signer.verify(&forged, at(1, 0)),
            Err(VisitCodeError::BadSignature)
        );

        let other = VisitCodeSigner::new(b"another secret");
        assert_eq!(
            other.verify(&code, at(1, 0)),
            Err(VisitCodeError::BadSignature)
        );
        for garbage in ["", "abc", "a.b", "!!.!!"] {
            assert!(
                matches!(
                    signer.verify(garbage, at(1, 0)),
                    Err(VisitCodeError::Malformed | VisitCodeError::BadSignature)
                ),
                "{garbage}"
            );
        }
    }

    #[test]
    fn known_answer() {
        // The tag is HMAC-SHA256 under a key derived as HMAC-SHA256(secret, label); computed
        // independently with Python:
        //   k = hmac.new(b"k", b"guahao visit code v1", sha256).digest()
        //   hmac.new(k, b'{"b":"00000000-0000-0000-0000-000000000000","d":"2026-11-25","e":1800000000}', sha256).hexdigest()
        let signer = VisitCodeSigner::new(b"k");
        let code = signer.issue(
            Uuid::nil(),
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        );
        let tag = URL_SAFE_NO_PAD
            .decode(code.split_once('.').unwrap().1)
            .unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, EXPECTED_TAG_HEX);
    }

    const EXPECTED_TAG_HEX: &str =
        "5844e7dbd8ebcaf04c4ef20e6377507d68b942d7d2696700eedba3dac3721def";
}
