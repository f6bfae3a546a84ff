use sea_orm::entity::prelude::*;

/// A refund of a booking's payment. `status`: `pending` (asked of the provider, or to be asked
/// again by the poller), `succeeded`, `failed`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub booking_id: Uuid,
    pub payment_id: Uuid,
    pub out_refund_no: String,
    pub provider_refund_id: Option<String>,
    pub amount_fen: i64,
    pub status: String,
    pub reason: Option<String>,
    pub completed_at: Option<DateTimeUtc>,
    pub polled_at: Option<DateTimeUtc>,
    pub returns_place: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
