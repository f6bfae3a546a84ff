use sea_orm::entity::prelude::*;

/// Every notification a provider posted, valid or not, exactly as received.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "callback_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub provider: String,
    pub merchant: Option<String>,
    pub received_at: DateTimeUtc,
    pub request_id: Option<String>,
    pub headers: String,
    pub raw_body: Vec<u8>,
    pub verified: bool,
    pub outcome: String,
    pub reason: Option<String>,
    pub booking_id: Option<Uuid>,
    pub out_trade_no: Option<String>,
    pub provider_txn_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
