//! The payment row of each newly opened order. On PostgreSQL the rows waiting are inserted
//! together (group commit): at a release-time rush every winner's order ends with one, and one
//! statement and one commit for all those waiting cost about what one costs alone.

use super::entity::payment;
use super::service::{PaymentError, PaymentService};
use crate::group_commit::{GroupCommit, big_ints, instants, texts, uuids};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, Statement};
use tokio::sync::oneshot;

/// At most this many rows per statement (some 200 bytes each). Chosen to keep a statement within
/// the socket's first send buffer while sqlx 0.9.0 left Nagle's algorithm on; with `TCP_NODELAY`
/// (sqlx 0.9.1) a larger statement no longer waits, and this is only a bound.
const MAX_BATCH: usize = 32;

pub(super) struct Job {
    row: payment::Model,
    reply: oneshot::Sender<Result<(), DbErr>>,
}

pub(super) type OrderRowQueue = GroupCommit<Job>;

pub(super) fn order_row_queue() -> OrderRowQueue {
    GroupCommit::new(MAX_BATCH)
}

impl PaymentService {
    /// Inserts `row`, a new order's payment row, and returns once it is committed.
    pub(super) async fn record_order(&self, row: payment::Model) -> Result<(), PaymentError> {
        if self.bookings.db.get_database_backend() != DbBackend::Postgres {
            payment::ActiveModel::from(row)
                .insert(&self.bookings.db)
                .await?;
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        let service = self.clone();
        self.order_rows.submit(Job { row, reply }, move |batch| {
            let service = service.clone();
            async move { service.insert_order_rows(batch).await }
        });
        Ok(answer
            .await
            .map_err(|_| DbErr::Custom("the payment row's batch was dropped".into()))??)
    }

    async fn insert_order_rows(&self, jobs: Vec<Job>) {
        let rows: Vec<&payment::Model> = jobs.iter().map(|job| &job.row).collect();
        let inserted = self.insert_together(&rows).await;
        if inserted.is_ok() {
            for job in jobs {
                let _ = job.reply.send(Ok(()));
            }
            return;
        }
        // One bad row must not fail the others: each on its own, with its own answer.
        for job in jobs {
            let result = payment::ActiveModel::from(job.row)
                .insert(&self.bookings.db)
                .await
                .map(drop);
            let _ = job.reply.send(result);
        }
    }

    async fn insert_together(&self, rows: &[&payment::Model]) -> Result<(), DbErr> {
        let values = vec![
            uuids(rows.iter().map(|r| r.id)),
            uuids(rows.iter().map(|r| r.booking_id)),
            texts(rows.iter().map(|r| r.provider.clone())),
            texts(rows.iter().map(|r| r.merchant_id.clone())),
            texts(rows.iter().map(|r| r.out_trade_no.clone())),
            texts(rows.iter().map(|r| r.provider_order_ref.clone())),
            big_ints(rows.iter().map(|r| r.amount_fen)),
            texts(rows.iter().map(|r| r.status.clone())),
            instants(rows.iter().map(|r| r.created_at)),
        ];
        self.bookings
            .db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO payments (id, booking_id, provider, merchant_id, out_trade_no, \
                 provider_order_ref, amount_fen, status, created_at, updated_at) \
                 SELECT v.*, v.created_at FROM unnest($1::uuid[], $2::uuid[], $3::text[], \
                 $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[], \
                 $9::timestamptz[]) AS v(id, booking_id, provider, merchant_id, out_trade_no, \
                 provider_order_ref, amount_fen, status, created_at)",
                values,
            ))
            .await
            .map(drop)
    }
}
