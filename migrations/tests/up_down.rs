//! The schema migrates up, down and up again on SQLite and PostgreSQL, and the log tables refuse
//! to be rewritten.

use migration::{Migrator, MigratorTrait, TABLES};
use sea_orm_migration::sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    let mut names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .filter(|n| n != "seaql_migrations" && !n.starts_with("sqlite_"))
        .collect();
    names.sort();
    names
}

fn expected_tables() -> Vec<String> {
    let mut names: Vec<String> = TABLES.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_both_backends() {
    for test_db in test_support::each_database().await {
        let db = Database::connect(&test_db.url).await.unwrap();
        Migrator::up(&db, None)
            .await
            .unwrap_or_else(|e| panic!("{test_db:?} up: {e}"));
        assert_eq!(tables(&db).await, expected_tables(), "{test_db:?} after up");

        Migrator::down(&db, None)
            .await
            .unwrap_or_else(|e| panic!("{test_db:?} down: {e}"));
        assert!(
            tables(&db).await.is_empty(),
            "{test_db:?}: tables left after down: {:?}",
            tables(&db).await
        );

        Migrator::up(&db, None)
            .await
            .unwrap_or_else(|e| panic!("{test_db:?} up again: {e}"));
        assert_eq!(
            tables(&db).await,
            expected_tables(),
            "{test_db:?} after second up"
        );
        assert!(
            Migrator::get_pending_migrations(&db)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn audit_log_is_append_only_on_both_backends() {
    for test_db in test_support::each_database().await {
        let db = Database::connect(&test_db.url).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        let backend = db.get_database_backend();
        let id = uuid::Uuid::now_v7();
        let insert = Statement::from_sql_and_values(
            backend,
            match backend {
                DbBackend::Postgres => {
                    "INSERT INTO audit_log (id, action, created_at) VALUES ($1, 'test.insert', now())"
                }
                _ => {
                    "INSERT INTO audit_log (id, action, created_at) VALUES (?, 'test.insert', CURRENT_TIMESTAMP)"
                }
            },
            [id.into()],
        );
        db.execute_raw(insert).await.unwrap();

        let update = db
            .execute_unprepared("UPDATE audit_log SET action = 'rewritten'")
            .await;
        assert!(
            update.is_err(),
            "{test_db:?}: UPDATE of audit_log must fail"
        );
        let delete = db.execute_unprepared("DELETE FROM audit_log").await;
        assert!(
            delete.is_err(),
            "{test_db:?}: DELETE from audit_log must fail"
        );

        let count = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'test.insert'",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(count, 1, "{test_db:?}: the row is untouched");
    }
}
