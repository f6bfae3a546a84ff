//! Migrating from several processes: the PostgreSQL advisory lock is taken and released on one
//! session, so a second pool (another replica, a CLI command) is never left waiting on it.

use std::time::Duration;

#[tokio::test]
async fn a_second_pool_migrates_after_the_first_without_waiting_forever() {
    for test_db in test_support::each_database().await {
        let first = booking_core::db::connect(&test_db.url).await.unwrap();
        booking_core::db::migrate(&first).await.unwrap();
        // The first pool stays open with its idle sessions, like a running gateway.
        for round in 0..3 {
            let second = booking_core::db::connect(&test_db.url).await.unwrap();
            tokio::time::timeout(Duration::from_secs(30), booking_core::db::migrate(&second))
                .await
                .unwrap_or_else(|_| {
                    panic!("{test_db:?}: migration {round} waited on a leaked lock")
                })
                .unwrap();
            second.close().await.unwrap();
        }
        booking_core::db::migrate(&first).await.unwrap();
        first.close().await.unwrap();
    }
}
