//! Operators: the hospital staff, kiosks and auditors who use the operator API and console, and
//! the audit trail of what they do.
//!
//! Passwords are stored only as Argon2id hashes (see `credentials`). Logging in answers the same
//! error, after about the same time, whether the username is unknown, the password wrong or the
//! account deactivated, so the login form cannot be used to find out which usernames exist.

mod acting;
mod audit;
mod credentials;
pub mod entity;
mod role;

pub use acting::ActingOperator;
pub use audit::Audit;
pub use credentials::{
    NewPassword, PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS, USERNAME_MAX, USERNAME_MIN, Username,
    hash_password, verify_password,
};
pub use role::{Capability, OperatorRole, UnknownRole};

use crate::catalog::entity::hospital;
use crate::clock::Clock;
use chrono::{DateTime, Utc};
use entity::operator;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, SqlErr};
use std::sync::Arc;
use tokio::sync::Semaphore;
use uuid::Uuid;

/// An operator account as the rest of the system sees it: never with its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: Uuid,
    pub username: String,
    pub role: OperatorRole,
    /// `None`: works for every hospital.
    pub hospital_id: Option<Uuid>,
    pub active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<operator::Model> for Operator {
    type Error = OperatorError;
    fn try_from(m: operator::Model) -> Result<Self, OperatorError> {
        let role = m
            .role
            .parse()
            .map_err(|e: UnknownRole| OperatorError::Corrupted(e.to_string()))?;
        Ok(Self {
            id: m.id,
            username: m.username,
            role,
            hospital_id: m.hospital_id,
            active: m.active,
            last_login_at: m.last_login_at,
            created_at: m.created_at,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("a username is {USERNAME_MIN}–{USERNAME_MAX} characters of a-z, 0-9, '.', '_' and '-'")]
    InvalidUsername,
    #[error("a password needs at least {min} characters")]
    PasswordTooShort { min: usize },
    #[error("a password may be at most {max_bytes} bytes long")]
    PasswordTooLong { max_bytes: usize },
    #[error("the username is taken")]
    UsernameTaken,
    /// The hospital id or code given.
    #[error("no hospital {0:?}")]
    HospitalNotFound(String),
    /// Unknown username, wrong password or deactivated account: deliberately one error.
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("operator {0} does not exist")]
    NotFound(Uuid),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("corrupted operator row: {0}")]
    Corrupted(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

#[derive(Clone)]
pub struct Operators {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    /// Argon2 takes 19 MiB and a core for tens of milliseconds per hash. A burst of logins waits
    /// here for a permit instead of piling up blocking threads and memory.
    hashing: Arc<Semaphore>,
}

impl std::fmt::Debug for Operators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operators").finish_non_exhaustive()
    }
}

impl Operators {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // In the background: the first call of a process otherwise hashes twice, which would
        // make the first unknown username measurably slower than a wrong password.
        std::thread::spawn(credentials::prepare_dummy_hash);
        Self {
            db,
            clock,
            hashing: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Runs password hashing or verification on a blocking thread, at most one per core.
    async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, OperatorError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| OperatorError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| OperatorError::Hashing(e.to_string()))
    }

    /// Creates an active operator. The username must be new, the password at least twelve
    /// characters, and the hospital, when given, must exist.
    pub async fn create(
        &self,
        username: &str,
        password: &str,
        role: OperatorRole,
        hospital_id: Option<Uuid>,
    ) -> Result<Operator, OperatorError> {
        let username = Username::parse(username)?;
        let password = NewPassword::parse(password)?;
        if let Some(id) = hospital_id
            && hospital::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .is_none()
        {
            return Err(OperatorError::HospitalNotFound(id.to_string()));
        }
        // Not the guard (the unique index is), but it spares hashing for an obvious duplicate.
        if self.find_by_username(username.as_str()).await?.is_some() {
            return Err(OperatorError::UsernameTaken);
        }
        let password_hash = self
            .hash_work(move || hash_password(password.expose()))
            .await??;
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let insert = operator::ActiveModel {
            id: Set(id),
            username: Set(username.as_str().to_owned()),
            password_hash: Set(password_hash),
            role: Set(role.as_str().to_owned()),
            hospital_id: Set(hospital_id),
            active: Set(true),
            last_login_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match operator::Entity::insert(insert)
            .exec_without_returning(&self.db)
            .await
        {
            // Read back: the database keeps its own precision of the timestamps.
            Ok(_) => self.get(id).await,
            Err(e) => Err(match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => OperatorError::UsernameTaken,
                // The hospital was removed between the check and the insert.
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => OperatorError::HospitalNotFound(
                    hospital_id.map(|h| h.to_string()).unwrap_or_default(),
                ),
                _ => OperatorError::Database(e),
            }),
        }
    }

    /// The active operator with this username and password, or `InvalidCredentials`. The
    /// username is matched case-insensitively (usernames are stored in lower case). An unknown
    /// username is verified against a dummy hash so that it takes as long as a wrong password.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Operator, OperatorError> {
        let username = username.trim().to_ascii_lowercase();
        let row = match Username::parse(&username) {
            Ok(name) => self.find_by_username(name.as_str()).await?,
            Err(_) => None,
        };
        let password = password.to_owned();
        let Some(row) = row else {
            self.hash_work(move || credentials::verify_dummy(&password))
                .await?;
            return Err(OperatorError::InvalidCredentials);
        };
        let stored = row.password_hash.clone();
        let matches = self
            .hash_work(move || verify_password(&password, &stored))
            .await??;
        // Checked after the verification, so a deactivated account answers in the same time.
        if !matches || !row.active {
            return Err(OperatorError::InvalidCredentials);
        }
        let now = self.clock.now();
        operator::Entity::update_many()
            .col_expr(operator::Column::LastLoginAt, Expr::value(now))
            .filter(operator::Column::Id.eq(row.id))
            .exec(&self.db)
            .await?;
        let mut operator = Operator::try_from(row)?;
        operator.last_login_at = Some(now);
        Ok(operator)
    }

    pub async fn get(&self, id: Uuid) -> Result<Operator, OperatorError> {
        operator::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(OperatorError::NotFound(id))?
            .try_into()
    }

    /// Deactivates (or reactivates) an account. A deactivated operator cannot log in, and the
    /// tokens it already holds stop working at their next use.
    pub async fn set_active(&self, id: Uuid, active: bool) -> Result<Operator, OperatorError> {
        let result = operator::Entity::update_many()
            .col_expr(operator::Column::Active, Expr::value(active))
            .col_expr(operator::Column::UpdatedAt, Expr::value(self.clock.now()))
            .filter(operator::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(OperatorError::NotFound(id));
        }
        self.get(id).await
    }

    /// The hospital an operator is to work for, named by its id or by its code (`DCFH`).
    pub async fn hospital_id_by_id_or_code(&self, id_or_code: &str) -> Result<Uuid, OperatorError> {
        let text = id_or_code.trim();
        let found = match Uuid::parse_str(text) {
            Ok(id) => hospital::Entity::find_by_id(id).one(&self.db).await?,
            Err(_) => {
                hospital::Entity::find()
                    .filter(hospital::Column::Code.eq(text))
                    .one(&self.db)
                    .await?
            }
        };
        found
            .map(|h| h.id)
            .ok_or_else(|| OperatorError::HospitalNotFound(text.to_owned()))
    }

    async fn find_by_username(&self, username: &str) -> Result<Option<operator::Model>, DbErr> {
        operator::Entity::find()
            .filter(operator::Column::Username.eq(username))
            .one(&self.db)
            .await
    }
}
