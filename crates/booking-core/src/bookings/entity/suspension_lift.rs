use sea_orm::entity::prelude::*;

/// An operator lifting a no-show suspension. Append-only: triggers refuse UPDATE and DELETE.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "suspension_lifts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub identity_hash: String,
    /// The no-show the lifted suspension follows.
    pub no_show_booking_id: Uuid,
    /// When the lifted suspension would have ended.
    pub suspended_until: DateTimeUtc,
    /// Every no-show of the identity up to this instant is covered by the lift.
    pub covers_through: DateTimeUtc,
    pub operator_id: Uuid,
    pub reason: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
