//! `OperatorCaller`: the extractor every operator-API handler names. It yields the caller or a
//! 401 saying what was wrong with the token; `require` then turns a missing role into a 403.
//!
//! Besides the token's signature, audience, expiry and revocation, every request looks the
//! operator up: a deactivated account, or one whose role changed since the token was issued,
//! is refused at once instead of when the token expires (operator tokens live for a shift).

use super::patient::{bearer, revocation_key};
use super::tokens::{Audience, Claims, TokenError};
use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use booking_core::operators::{OperatorError, OperatorRole};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct OperatorCaller {
    pub operator_id: Uuid,
    pub username: String,
    pub role: OperatorRole,
    /// `None`: the operator works for every hospital.
    pub hospital_id: Option<Uuid>,
    pub claims: Claims,
}

impl OperatorCaller {
    /// 403 `FORBIDDEN_ROLE` unless the caller's role covers `required` (see `OperatorRole`).
    pub fn require(&self, required: OperatorRole) -> Result<(), ApiError> {
        if self.role.at_least(required) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN_ROLE",
                format!("当前角色（{}）无权执行此操作", self.role),
                format!("Your role ({}) may not do this", self.role),
            ))
        }
    }
}

impl FromRequest for OperatorCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
            let claims = state.tokens.verify(&token?, Audience::Operator)?;
            let role: OperatorRole = claims.scope.parse().map_err(|_| TokenError::Invalid)?;
            if state
                .stores
                .sets
                .contains(&revocation_key(claims.jti))
                .await?
            {
                return Err(TokenError::Revoked.into());
            }
            let operator = match state.operators.get(claims.sub).await {
                Ok(operator) => operator,
                Err(OperatorError::NotFound(_)) => return Err(TokenError::Invalid.into()),
                Err(e) => return Err(e.into()),
            };
            if !operator.active || operator.role != role {
                return Err(TokenError::Revoked.into());
            }
            Ok(OperatorCaller {
                operator_id: operator.id,
                username: operator.username,
                role,
                hospital_id: operator.hospital_id,
                claims,
            })
        })
    }
}
