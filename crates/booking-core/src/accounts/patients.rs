//! The people an account books for (就诊人), at most five per account. Document and phone
//! numbers are encrypted here, before anything reaches the database, with a keyed hash for
//! duplicate detection and quota keying.

use super::entity::patient;
use crate::identity::{IdDocument, IdType, MobileNumber, PersonName, Sex};
use crate::pii::PiiCipher;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use std::sync::Arc;
use uuid::Uuid;

pub const MAX_PATIENTS_PER_ACCOUNT: u64 = 5;

/// AAD contexts: a ciphertext only decrypts in the column it was written for.
const ID_NUMBER_CONTEXT: &[u8] = b"patients.id_number";
const PHONE_CONTEXT: &[u8] = b"patients.phone";
/// Keyed-hash domain of document numbers: the same document hashes alike in every account, so
/// quotas can follow the real-name identity.
pub const DOCUMENT_HASH_DOMAIN: &str = "id_document";

/// The keyed hash that identifies a real-name document: its type and number, so a passport and a
/// permit that happen to share digits stay different people.
pub fn document_hash(cipher: &PiiCipher, document: &IdDocument) -> String {
    cipher.keyed_hash(
        DOCUMENT_HASH_DOMAIN,
        &format!("{}:{}", document.id_type().as_str(), document.number()),
    )
}

#[derive(Debug)]
pub struct NewPatient {
    pub name: PersonName,
    pub document: IdDocument,
    pub phone: Option<MobileNumber>,
}

/// A patient as shown to the account that owns it: numbers masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: Uuid,
    pub name: String,
    pub id_type: IdType,
    pub id_number_masked: String,
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    pub phone_masked: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum PatientError {
    #[error("an account may have at most {max} patients")]
    TooMany { max: u64 },
    #[error("this document is already registered on this account")]
    DuplicateDocument,
    #[error("no such patient")]
    NotFound,
    #[error("the patient has pending or confirmed bookings")]
    HasActiveBookings,
    #[error("corrupted patient row: {0}")]
    Corrupted(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl TryFrom<patient::Model> for Patient {
    type Error = PatientError;
    fn try_from(m: patient::Model) -> Result<Self, PatientError> {
        let id_type = m
            .id_type
            .parse()
            .map_err(|_| PatientError::Corrupted(format!("id_type {:?}", m.id_type)))?;
        let sex = match m.sex.as_deref() {
            None => None,
            Some("male") => Some(Sex::Male),
            Some("female") => Some(Sex::Female),
            Some(other) => return Err(PatientError::Corrupted(format!("sex {other:?}"))),
        };
        Ok(Self {
            id: m.id,
            name: m.name,
            id_type,
            id_number_masked: m.id_number_masked,
            birth_date: m.birth_date,
            sex,
            phone_masked: m.phone_masked,
            created_at: m.created_at,
        })
    }
}

#[derive(Clone)]
pub struct Patients {
    db: DatabaseConnection,
    cipher: Arc<PiiCipher>,
}

impl std::fmt::Debug for Patients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patients").finish_non_exhaustive()
    }
}

impl Patients {
    pub fn new(db: DatabaseConnection, cipher: Arc<PiiCipher>) -> Self {
        Self { db, cipher }
    }

    /// Adds a patient to the account. The account's row is updated first so that concurrent
    /// additions to one account queue behind each other and the limit of five holds.
    pub async fn add(
        &self,
        user_id: Uuid,
        new: NewPatient,
        now: DateTime<Utc>,
    ) -> Result<Patient, PatientError> {
        let id = Uuid::now_v7();
        let document_hash = document_hash(&self.cipher, &new.document);
        let txn = self.db.begin().await?;
        let touch = Query::update()
            .table(Alias::new("users"))
            .value(Alias::new("updated_at"), now)
            .and_where(Expr::col(Alias::new("id")).eq(user_id))
            .to_owned();
        txn.execute(&touch).await?;

        let live = patient::Entity::find()
            .filter(patient::Column::UserId.eq(user_id))
            .filter(patient::Column::DeletedAt.is_null());
        if live
            .clone()
            .filter(patient::Column::IdNumberHash.eq(&document_hash))
            .count(&txn)
            .await?
            > 0
        {
            return Err(PatientError::DuplicateDocument);
        }
        if live.count(&txn).await? >= MAX_PATIENTS_PER_ACCOUNT {
            return Err(PatientError::TooMany {
                max: MAX_PATIENTS_PER_ACCOUNT,
            });
        }
        let row = patient::ActiveModel {
            id: Set(id),
            user_id: Set(user_id),
            name: Set(new.name.as_str().to_owned()),
            id_type: Set(new.document.id_type().as_str().to_owned()),
            id_number_enc: Set(self
                .cipher
                .encrypt(new.document.number().as_bytes(), ID_NUMBER_CONTEXT)),
            id_number_hash: Set(document_hash),
            id_number_masked: Set(new.document.masked()),
            birth_date: Set(new.document.birth_date()),
            sex: Set(new.document.sex().map(|s| s.as_str().to_owned())),
            phone_enc: Set(new
                .phone
                .as_ref()
                .map(|p| self.cipher.encrypt(p.as_str().as_bytes(), PHONE_CONTEXT))),
            phone_masked: Set(new.phone.as_ref().map(|p| p.to_string())),
            deleted_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        row.try_into()
    }

    /// The account's live patients, oldest first.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<Patient>, PatientError> {
        patient::Entity::find()
            .filter(patient::Column::UserId.eq(user_id))
            .filter(patient::Column::DeletedAt.is_null())
            .order_by_asc(patient::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Patient::try_from)
            .collect()
    }

    /// One live patient of this account; another account's patient is simply not found.
    pub async fn get(&self, user_id: Uuid, patient_id: Uuid) -> Result<Patient, PatientError> {
        self.owned(user_id, patient_id).await?.try_into()
    }

    async fn owned(&self, user_id: Uuid, patient_id: Uuid) -> Result<patient::Model, PatientError> {
        patient::Entity::find_by_id(patient_id)
            .filter(patient::Column::UserId.eq(user_id))
            .filter(patient::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or(PatientError::NotFound)
    }

    /// Soft-deletes the patient unless a booking for them is still pending or confirmed.
    pub async fn remove(
        &self,
        user_id: Uuid,
        patient_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), PatientError> {
        let txn = self.db.begin().await?;
        let row = patient::Entity::find_by_id(patient_id)
            .filter(patient::Column::UserId.eq(user_id))
            .filter(patient::Column::DeletedAt.is_null())
            .one(&txn)
            .await?
            .ok_or(PatientError::NotFound)?;
        let active = Query::select()
            .expr_as(Expr::col(Alias::new("id")).count(), Alias::new("n"))
            .from(Alias::new("bookings"))
            .and_where(Expr::col(Alias::new("patient_id")).eq(patient_id))
            .and_where(Expr::col(Alias::new("status")).is_in(["pending_payment", "confirmed"]))
            .to_owned();
        let active: i64 = txn
            .query_one(&active)
            .await?
            .map(|r| r.try_get("", "n"))
            .transpose()?
            .unwrap_or(0);
        if active > 0 {
            return Err(PatientError::HasActiveBookings);
        }
        let mut update = row.into_active_model();
        update.deleted_at = Set(Some(now));
        update.updated_at = Set(now);
        update.update(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
