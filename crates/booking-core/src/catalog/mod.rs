//! Hospitals, departments, doctors and schedules as patients browse them, bilingual throughout.

mod demo_seed;
pub mod entity;
mod types;

pub use demo_seed::{ReleasePolicy, SeedReport, seed_demo};
pub use types::*;

use crate::bookings::rule_sets::{StoredRulesError, candidates_for};
use crate::clock::Clock;
use crate::paging::{Cursor, Page, PageRequest};
use crate::rules;
use chrono::NaiveDate;
use entity::{department, doctor, hospital, schedule, schedule_segment};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Longest date range one schedule query may ask for.
pub const MAX_SCHEDULE_RANGE_DAYS: i64 = 31;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("hospital {0} does not exist")]
    HospitalNotFound(Uuid),
    #[error("department {0} does not exist")]
    DepartmentNotFound(Uuid),
    #[error("doctor {0} does not exist")]
    DoctorNotFound(Uuid),
    #[error("the cursor does not belong to this list")]
    CursorMismatch,
    #[error("corrupted catalog row: {0}")]
    CorruptedRow(#[from] UnknownValue),
    #[error(transparent)]
    CorruptedRules(StoredRulesError),
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// What a schedule search asks for, checked on construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleQuery {
    pub hospital_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub doctor_id: Option<Uuid>,
    pub date_from: NaiveDate,
    pub date_to: NaiveDate,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleQueryError {
    #[error("name a hospital_id, department_id or doctor_id")]
    NoFilter,
    #[error("date_to is before date_from")]
    RangeReversed,
    #[error("a query may span at most {MAX_SCHEDULE_RANGE_DAYS} days")]
    RangeTooLong,
}

impl ScheduleQuery {
    /// `date_from` defaults to `today`, `date_to` to a week after `date_from`.
    pub fn new(
        hospital_id: Option<Uuid>,
        department_id: Option<Uuid>,
        doctor_id: Option<Uuid>,
        date_from: Option<NaiveDate>,
        date_to: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<Self, ScheduleQueryError> {
        if hospital_id.is_none() && department_id.is_none() && doctor_id.is_none() {
            return Err(ScheduleQueryError::NoFilter);
        }
        let date_from = date_from.unwrap_or(today);
        let date_to = date_to.unwrap_or(date_from + chrono::Days::new(7));
        if date_to < date_from {
            return Err(ScheduleQueryError::RangeReversed);
        }
        if (date_to - date_from).num_days() >= MAX_SCHEDULE_RANGE_DAYS {
            return Err(ScheduleQueryError::RangeTooLong);
        }
        Ok(Self {
            hospital_id,
            department_id,
            doctor_id,
            date_from,
            date_to,
        })
    }
}

/// Read side of the catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl Catalog {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    pub async fn hospitals(&self, page: PageRequest) -> Result<Page<Hospital>, CatalogError> {
        let mut select = hospital::Entity::find().order_by_asc(hospital::Column::Id);
        if let Some(after) = page.after {
            select = select.filter(hospital::Column::Id.gt(plain_cursor(after)?));
        }
        let rows = select.limit(page.limit + 1).all(&self.db).await?;
        Ok(paginate(rows, page.limit, |h| Cursor::After(h.id)).try_map(Hospital::try_from)?)
    }

    pub async fn hospital(&self, id: Uuid) -> Result<Hospital, CatalogError> {
        hospital::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(CatalogError::HospitalNotFound(id))?
            .try_into()
            .map_err(CatalogError::from)
    }

    pub async fn departments(
        &self,
        hospital_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Department>, CatalogError> {
        self.hospital(hospital_id).await?;
        let mut select = department::Entity::find()
            .filter(department::Column::HospitalId.eq(hospital_id))
            .order_by_asc(department::Column::Id);
        if let Some(after) = page.after {
            select = select.filter(department::Column::Id.gt(plain_cursor(after)?));
        }
        let rows = select.limit(page.limit + 1).all(&self.db).await?;
        Ok(paginate(rows, page.limit, |d| Cursor::After(d.id)).try_map(Department::try_from)?)
    }

    pub async fn department(&self, id: Uuid) -> Result<Department, CatalogError> {
        department::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(CatalogError::DepartmentNotFound(id))?
            .try_into()
            .map_err(CatalogError::from)
    }

    pub async fn doctors(
        &self,
        department_id: Uuid,
        page: PageRequest,
    ) -> Result<Page<Doctor>, CatalogError> {
        self.department(department_id).await?;
        let mut select = doctor::Entity::find()
            .filter(doctor::Column::DepartmentId.eq(department_id))
            .filter(doctor::Column::Active.eq(true))
            .order_by_asc(doctor::Column::Id);
        if let Some(after) = page.after {
            select = select.filter(doctor::Column::Id.gt(plain_cursor(after)?));
        }
        let rows = select.limit(page.limit + 1).all(&self.db).await?;
        Ok(paginate(rows, page.limit, |d| Cursor::After(d.id)).try_map(Doctor::try_from)?)
    }

    async fn ensure_doctor(&self, id: Uuid) -> Result<(), CatalogError> {
        doctor::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or(CatalogError::DoctorNotFound(id))?;
        Ok(())
    }

    /// Schedules in date order, each with its time segments and live remaining places.
    pub async fn schedules(
        &self,
        query: &ScheduleQuery,
        page: PageRequest,
    ) -> Result<Page<Schedule>, CatalogError> {
        if let Some(id) = query.hospital_id {
            self.hospital(id).await?;
        }
        if let Some(id) = query.department_id {
            self.department(id).await?;
        }
        if let Some(id) = query.doctor_id {
            self.ensure_doctor(id).await?;
        }
        let mut select = schedule::Entity::find()
            .filter(schedule::Column::VisitDate.between(query.date_from, query.date_to))
            .order_by_asc(schedule::Column::VisitDate)
            .order_by_asc(schedule::Column::Id);
        if let Some(id) = query.hospital_id {
            select = select.filter(schedule::Column::HospitalId.eq(id));
        }
        if let Some(id) = query.department_id {
            select = select.filter(schedule::Column::DepartmentId.eq(id));
        }
        if let Some(id) = query.doctor_id {
            select = select.filter(schedule::Column::DoctorId.eq(id));
        }
        match page.after {
            None => {}
            Some(Cursor::AfterDated(date, id)) => {
                select = select.filter(
                    Condition::any()
                        .add(schedule::Column::VisitDate.gt(date))
                        .add(
                            Condition::all()
                                .add(schedule::Column::VisitDate.eq(date))
                                .add(schedule::Column::Id.gt(id)),
                        ),
                );
            }
            Some(Cursor::After(_)) => return Err(CatalogError::CursorMismatch),
        }
        let rows = select.limit(page.limit + 1).all(&self.db).await?;
        let page = paginate(rows, page.limit, |s| Cursor::AfterDated(s.visit_date, s.id));

        let ids: Vec<Uuid> = page.items.iter().map(|s| s.id).collect();
        let mut segments: HashMap<Uuid, Vec<schedule_segment::Model>> = HashMap::new();
        for segment in schedule_segment::Entity::find()
            .filter(schedule_segment::Column::ScheduleId.is_in(ids))
            .order_by_asc(schedule_segment::Column::StartTime)
            .all(&self.db)
            .await?
        {
            segments
                .entry(segment.schedule_id)
                .or_default()
                .push(segment);
        }
        let now = self.clock.now();
        let candidates = candidates_for(&self.db, &page.items)
            .await
            .map_err(|e| match e {
                StoredRulesError::Database(e) => CatalogError::Database(e),
                corrupted => CatalogError::CorruptedRules(corrupted),
            })?;
        Ok(page.try_map(|row| {
            let segs = segments.remove(&row.id).unwrap_or_default();
            let resolved = rules::resolve(
                &candidates,
                row.hospital_id,
                row.department_id,
                row.doctor_id,
                now,
            );
            Schedule::from_rows(row, segs, &resolved.rules, now)
        })?)
    }
}

fn plain_cursor(cursor: Cursor) -> Result<Uuid, CatalogError> {
    match cursor {
        Cursor::After(id) => Ok(id),
        Cursor::AfterDated(..) => Err(CatalogError::CursorMismatch),
    }
}

/// Rows were fetched with `limit + 1`: the extra row only tells whether another page exists.
fn paginate<T>(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> Cursor) -> Page<T> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|last| cursor_of(last).encode())
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}
