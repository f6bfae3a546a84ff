//! Session tokens: HS256 JWTs with the algorithm pinned, `iss`, `aud`, `exp`, `sub` and `jti`
//! all required. Patient and operator tokens carry different audiences, so one can never stand
//! in for the other.

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "guahao";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Patient,
    Operator,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Patient => "guahao-patient",
            Audience::Operator => "guahao-operator",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// `wechat` or `alipay` for patients; the role for operators.
    pub scope: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is malformed or its signature does not verify")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token was issued for another audience")]
    WrongAudience,
    #[error("the token has been revoked")]
    Revoked,
}

pub struct IssuedToken {
    pub token: String,
    pub claims: Claims,
}

pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    patient_ttl_s: i64,
    operator_ttl_s: i64,
}

impl TokenService {
    pub fn new(secret: &str, patient_ttl_s: u64, operator_ttl_s: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            patient_ttl_s: patient_ttl_s as i64,
            operator_ttl_s: operator_ttl_s as i64,
        }
    }

    pub fn issue(
        &self,
        audience: Audience,
        subject: Uuid,
        scope: &str,
        now: DateTime<Utc>,
    ) -> IssuedToken {
        let ttl = match audience {
            Audience::Patient => self.patient_ttl_s,
            Audience::Operator => self.operator_ttl_s,
        };
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: audience.as_str().to_owned(),
            sub: subject,
            iat: now.timestamp(),
            exp: now.timestamp() + ttl,
            jti: Uuid::now_v7(),
            scope: scope.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail");
        IssuedToken { token, claims }
    }

    /// Checks signature (HS256 only, whatever the header says), issuer, audience and expiry.
    pub fn verify(&self, token: &str, audience: Audience) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn service() -> TokenService {
        TokenService::new("test-secret-of-at-least-thirty-two-characters", 7200, 3600)
    }

    #[test]
    fn a_fresh_patient_token_verifies() {
        let s = service();
        let user = Uuid::now_v7();
        let issued = s.issue(Audience::Patient, user, "wechat", Utc::now());
        let claims = s.verify(&issued.token, Audience::Patient).unwrap();
        assert_eq!((claims.sub, claims.scope.as_str()), (user, "wechat"));
        assert_eq!(claims.exp - claims.iat, 7200);
    }

    #[test]
    fn audiences_are_not_interchangeable() {
        let s = service();
        let operator = s.issue(Audience::Operator, Uuid::now_v7(), "admin", Utc::now());
        assert_eq!(
            s.verify(&operator.token, Audience::Patient),
            Err(TokenError::WrongAudience)
        );
        let patient = s.issue(Audience::Patient, Uuid::now_v7(), "wechat", Utc::now());
        assert_eq!(
            s.verify(&patient.token, Audience::Operator),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let s = service();
        let old = s.issue(
            Audience::Patient,
            Uuid::now_v7(),
            "wechat",
            Utc::now() - chrono::Duration::hours(3),
        );
        assert_eq!(
            s.verify(&old.token, Audience::Patient),
            Err(TokenError::Expired)
        );

        let good = s
            .issue(Audience::Patient, Uuid::now_v7(), "wechat", Utc::now())
            .token;
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["sub"] = serde_json::json!(Uuid::now_v7());
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert_eq!(
            s.verify(&parts.join("."), Audience::Patient),
            Err(TokenError::Invalid)
        );

        let other = TokenService::new("another-secret-of-at-least-thirty-two-chars", 7200, 3600);
        assert_eq!(
            other.verify(&good, Audience::Patient),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            s.verify("not.a.jwt", Audience::Patient),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn the_none_algorithm_is_refused() {
        let s = service();
        let good = s
            .issue(Audience::Patient, Uuid::now_v7(), "wechat", Utc::now())
            .token;
        let payload = good.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            s.verify(&format!("{header}.{payload}."), Audience::Patient),
            Err(TokenError::Invalid)
        );
    }
}
