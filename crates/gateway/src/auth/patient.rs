//! `PatientCaller`: the extractor every patient-only handler names. It yields the caller or a 401
//! with a code that says what was wrong with the token.

use super::tokens::{Audience, Claims, TokenError};
use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

/// The store key marking a token id as revoked.
pub fn revocation_key(jti: Uuid) -> String {
    format!("jwt-revoked:{jti}")
}

/// Revokes a token (patient or operator) until it would have expired anyway, plus a minute so
/// clock skew (the JWT leeway) cannot revive it.
pub async fn revoke(state: &AppState, claims: &Claims) -> Result<(), kv_store::StoreError> {
    let remaining = (claims.exp - state.clock.now().timestamp()).max(1) as u64;
    let ttl = std::time::Duration::from_secs(remaining + 60);
    state
        .stores
        .sets
        .insert_new(&revocation_key(claims.jti), ttl)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct PatientCaller {
    pub user_id: Uuid,
    pub claims: Claims,
}

pub(super) fn bearer(req: &HttpRequest) -> Result<String, TokenError> {
    let value = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(TokenError::Missing)?;
    let text = value.to_str().map_err(|_| TokenError::Invalid)?;
    let (scheme, token) = text.split_once(' ').ok_or(TokenError::Invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(TokenError::Invalid);
    }
    Ok(token.trim().to_owned())
}

impl FromRequest for PatientCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
            let claims = state.tokens.verify(&token?, Audience::Patient)?;
            if state
                .stores
                .sets
                .contains(&revocation_key(claims.jti))
                .await?
            {
                return Err(TokenError::Revoked.into());
            }
            Ok(PatientCaller {
                user_id: claims.sub,
                claims,
            })
        })
    }
}
