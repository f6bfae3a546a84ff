use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub patient_id: Uuid,
    pub identity_hash: String,
    pub schedule_id: Uuid,
    pub segment_id: Uuid,
    pub channel: String,
    pub status: String,
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub hold_expires_at: DateTimeUtc,
    pub visit_number: Option<i32>,
    pub rule_version: Option<String>,
    pub idempotency_key: Option<String>,
    pub confirmed_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
    pub checked_in_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "crate::catalog::entity::schedule::Entity",
        from = "Column::ScheduleId",
        to = "crate::catalog::entity::schedule::Column::Id"
    )]
    Schedule,
}

impl Related<crate::catalog::entity::schedule::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Schedule.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
