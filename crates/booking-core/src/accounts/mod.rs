//! Accounts: the mini-program identities that log in (users) and the people they book for
//! (patients, 就诊人). Clear phone and document numbers never reach this module's storage: callers
//! hand over ciphertext, a keyed hash and a masked form.

pub mod entity;
mod patients;

pub use patients::{
    MAX_PATIENTS_PER_ACCOUNT, NewPatient, Patient, PatientError, Patients, document_hash,
};

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, Set,
};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

/// The mini-program platform a user came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Wechat,
    Alipay,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Wechat => "wechat",
            Channel::Alipay => "alipay",
        }
    }
}

impl FromStr for Channel {
    type Err = AccountError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "wechat" => Ok(Channel::Wechat),
            "alipay" => Ok(Channel::Alipay),
            other => Err(AccountError::Corrupted(format!(
                "unknown channel {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub channel: Channel,
    /// `138****8000` once a phone is bound.
    pub phone_masked: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<user::Model> for User {
    type Error = AccountError;
    fn try_from(m: user::Model) -> Result<Self, AccountError> {
        Ok(Self {
            id: m.id,
            channel: m.channel.parse()?,
            phone_masked: m.phone_masked,
            created_at: m.created_at,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user {0} does not exist")]
    UserNotFound(Uuid),
    #[error("corrupted account row: {0}")]
    Corrupted(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// What a platform login tells us about the user.
#[derive(Debug, Clone)]
pub struct PlatformIdentity<'a> {
    pub channel: Channel,
    /// WeChat openid, or Alipay open_id / user_id.
    pub platform_user_id: &'a str,
    pub unionid: Option<&'a str>,
    /// The WeChat session_key, already encrypted by the caller.
    pub session_key_enc: Option<Vec<u8>>,
}

/// A phone number ready for storage: ciphertext, keyed hash and masked form.
#[derive(Debug, Clone)]
pub struct StoredPhone {
    pub ciphertext: Vec<u8>,
    pub hash: String,
    pub masked: String,
}

#[derive(Debug, Clone)]
pub struct Accounts {
    db: DatabaseConnection,
}

impl Accounts {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Finds or creates the user behind a platform identity and records the login. Two first
    /// logins racing for one identity end with one user: the insert yields to the unique index.
    pub async fn record_login(
        &self,
        identity: PlatformIdentity<'_>,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        let insert = user::ActiveModel {
            id: Set(Uuid::now_v7()),
            channel: Set(identity.channel.as_str().to_owned()),
            platform_user_id: Set(identity.platform_user_id.to_owned()),
            unionid: Set(identity.unionid.map(str::to_owned)),
            session_key_enc: Set(identity.session_key_enc.clone()),
            phone_enc: Set(None),
            phone_hash: Set(None),
            phone_masked: Set(None),
            last_login_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
        };
        user::Entity::insert(insert)
            .on_conflict_do_nothing_on([user::Column::Channel, user::Column::PlatformUserId])
            .exec_without_returning(&self.db)
            .await?;
        let existing = user::Entity::find()
            .filter(user::Column::Channel.eq(identity.channel.as_str()))
            .filter(user::Column::PlatformUserId.eq(identity.platform_user_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                AccountError::Corrupted("user vanished right after its insert".into())
            })?;
        let mut update = existing.into_active_model();
        update.last_login_at = Set(Some(now));
        update.updated_at = Set(now);
        if identity.session_key_enc.is_some() {
            update.session_key_enc = Set(identity.session_key_enc);
        }
        if let Some(unionid) = identity.unionid {
            update.unionid = Set(Some(unionid.to_owned()));
        }
        update.update(&self.db).await?.try_into()
    }

    pub async fn user(&self, id: Uuid) -> Result<User, AccountError> {
        user::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(AccountError::UserNotFound(id))?
            .try_into()
    }

    /// Binds a verified phone number to the user, replacing any earlier one.
    pub async fn bind_phone(
        &self,
        user_id: Uuid,
        phone: StoredPhone,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        let mut update = user::Entity::find_by_id(user_id)
            .one(&self.db)
            .await?
            .ok_or(AccountError::UserNotFound(user_id))?
            .into_active_model();
        update.phone_enc = Set(Some(phone.ciphertext));
        update.phone_hash = Set(Some(phone.hash));
        update.phone_masked = Set(Some(phone.masked));
        update.updated_at = Set(now);
        update.update(&self.db).await?.try_into()
    }
}
