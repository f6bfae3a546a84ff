use sea_orm::entity::prelude::*;

/// One provider order per booking. `status`: `created` (order open at the provider), `paid`,
/// `mismatch` (paid, but not the amount or merchant we asked for), `closed`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub booking_id: Uuid,
    pub provider: String,
    pub merchant_id: String,
    pub out_trade_no: String,
    pub provider_order_ref: Option<String>,
    pub provider_txn_id: Option<String>,
    pub amount_fen: i64,
    pub status: String,
    pub paid_at: Option<DateTimeUtc>,
    pub polled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "crate::bookings::entity::booking::Entity",
        from = "Column::BookingId",
        to = "crate::bookings::entity::booking::Column::Id"
    )]
    Booking,
}

impl Related<crate::bookings::entity::booking::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Booking.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
