//! Operator accounts and the audit trail against the database of record, on SQLite and
//! PostgreSQL.

use booking_core::catalog::entity::hospital;
use booking_core::clock::SystemClock;
use booking_core::operators::entity::{audit_log, operator};
use booking_core::operators::{Audit, OperatorError, OperatorRole, Operators};
use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, Set, TransactionTrait,
};
use std::sync::Arc;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

async fn databases() -> Vec<(test_support::TestDb, DatabaseConnection)> {
    let mut out = Vec::new();
    for test_db in test_support::each_database().await {
        let db = booking_core::db::connect(&test_db.url).await.unwrap();
        booking_core::db::migrate(&db).await.unwrap();
        out.push((test_db, db));
    }
    out
}

fn operators(db: &DatabaseConnection) -> Operators {
    Operators::new(db.clone(), Arc::new(SystemClock))
}

async fn add_hospital(db: &DatabaseConnection, code: &str) -> Uuid {
    let id = Uuid::now_v7();
    let now = Utc::now();
    hospital::Entity::insert(hospital::ActiveModel {
        id: Set(id),
        code: Set(code.to_owned()),
        name_zh: Set("测试医院".into()),
        name_en: Set("Test Hospital".into()),
        level: Set("3A".into()),
        address_zh: Set("北京".into()),
        address_en: Set("Beijing".into()),
        phone: Set("010-00000000".into()),
        emergency_24h: Set(false),
        intro_zh: Set(String::new()),
        intro_en: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn create_stores_an_argon2id_hash_and_refuses_duplicates() {
    for (test_db, db) in databases().await {
        let ops = operators(&db);
        let hospital = add_hospital(&db, "TESTH").await;
        let created = ops
            .create(
                "front-desk.01",
                PASSWORD,
                OperatorRole::Kiosk,
                Some(hospital),
            )
            .await
            .unwrap();
        assert_eq!(created.username, "front-desk.01");
        assert_eq!(created.role, OperatorRole::Kiosk);
        assert_eq!(created.hospital_id, Some(hospital));
        assert!(created.active);
        assert_eq!(ops.get(created.id).await.unwrap(), created, "{test_db:?}");

        let row = operator::Entity::find_by_id(created.id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.password_hash.starts_with("$argon2id$"),
            "{test_db:?}: a PHC string"
        );
        assert!(!row.password_hash.contains(PASSWORD));
        assert!(
            !format!("{row:?}").contains(&row.password_hash),
            "the hash stays out of Debug"
        );

        let duplicate = ops
            .create(
                "front-desk.01",
                "another password 123",
                OperatorRole::Admin,
                None,
            )
            .await;
        assert!(
            matches!(duplicate, Err(OperatorError::UsernameTaken)),
            "{test_db:?}: {duplicate:?}"
        );

        // Concurrent creations of one name: the unique index lets exactly one through.
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let ops = ops.clone();
                tokio::spawn(async move {
                    ops.create("racer", PASSWORD, OperatorRole::Auditor, None)
                        .await
                })
            })
            .collect();
        let mut created = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => created += 1,
                Err(OperatorError::UsernameTaken) => {}
                Err(e) => panic!("{test_db:?}: {e:?}"),
            }
        }
        assert_eq!(created, 1, "{test_db:?}");
    }
}

#[tokio::test]
async fn create_refuses_bad_usernames_passwords_and_unknown_hospitals() {
    for (test_db, db) in databases().await {
        let ops = operators(&db);
        for bad in ["ab", "Admin", "has space", "张三", &"x".repeat(65)] {
            let result = ops
                .create(bad, PASSWORD, OperatorRole::Operator, None)
                .await;
            assert!(
                matches!(result, Err(OperatorError::InvalidUsername)),
                "{test_db:?} {bad:?}: {result:?}"
            );
        }
        let result = ops
            .create("shorty", "eleven-char", OperatorRole::Operator, None)
            .await;
        assert!(
            matches!(result, Err(OperatorError::PasswordTooShort { min: 12 })),
            "{test_db:?}: {result:?}"
        );
        let result = ops
            .create(
                "nowhere",
                PASSWORD,
                OperatorRole::Operator,
                Some(Uuid::now_v7()),
            )
            .await;
        assert!(
            matches!(result, Err(OperatorError::HospitalNotFound(_))),
            "{test_db:?}: {result:?}"
        );
        let count = operator::Entity::find().all(&db).await.unwrap().len();
        assert_eq!(count, 0, "{test_db:?}: nothing was stored");
    }
}

#[tokio::test]
async fn hospitals_are_named_by_id_or_code() {
    for (test_db, db) in databases().await {
        let ops = operators(&db);
        let hospital = add_hospital(&db, "CODE1").await;
        assert_eq!(
            ops.hospital_id_by_id_or_code("CODE1").await.unwrap(),
            hospital
        );
        assert_eq!(
            ops.hospital_id_by_id_or_code(&hospital.to_string())
                .await
                .unwrap(),
            hospital
        );
        for unknown in ["NOPE", &Uuid::now_v7().to_string()] {
            let result = ops.hospital_id_by_id_or_code(unknown).await;
            assert!(
                matches!(result, Err(OperatorError::HospitalNotFound(_))),
                "{test_db:?} {unknown}: {result:?}"
            );
        }
    }
}

#[tokio::test]
async fn authenticate_answers_one_error_for_every_kind_of_failure() {
    for (test_db, db) in databases().await {
        let ops = operators(&db);
        let created = ops
            .create("auditor-1", PASSWORD, OperatorRole::Auditor, None)
            .await
            .unwrap();
        assert_eq!(created.last_login_at, None);

        let ok = ops.authenticate("auditor-1", PASSWORD).await.unwrap();
        assert_eq!((ok.id, ok.role), (created.id, OperatorRole::Auditor));
        assert!(ok.last_login_at.is_some(), "{test_db:?}");
        assert!(
            ops.get(created.id).await.unwrap().last_login_at.is_some(),
            "{test_db:?}: the login time is stored"
        );
        // Usernames are matched case-insensitively.
        assert!(ops.authenticate(" Auditor-1 ", PASSWORD).await.is_ok());

        for (username, password) in [
            ("auditor-1", "correct horse battery stapl"),
            ("auditor-1", ""),
            ("nobody-here", PASSWORD),
            ("not a valid name", PASSWORD),
        ] {
            let result = ops.authenticate(username, password).await;
            assert!(
                matches!(result, Err(OperatorError::InvalidCredentials)),
                "{test_db:?} {username}: {result:?}"
            );
        }

        ops.set_active(created.id, false).await.unwrap();
        let result = ops.authenticate("auditor-1", PASSWORD).await;
        assert!(
            matches!(result, Err(OperatorError::InvalidCredentials)),
            "{test_db:?}: a deactivated account cannot log in: {result:?}"
        );
        ops.set_active(created.id, true).await.unwrap();
        assert!(ops.authenticate("auditor-1", PASSWORD).await.is_ok());
        assert!(matches!(
            ops.set_active(Uuid::now_v7(), false).await,
            Err(OperatorError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn audit_rows_are_appended_and_never_rewritten() {
    for (test_db, db) in databases().await {
        let ops = operators(&db);
        let operator = ops
            .create("admin-1", PASSWORD, OperatorRole::Admin, None)
            .await
            .unwrap();
        let first = Audit::record(
            &db,
            Some(operator.id),
            "ops.login",
            Some("operator"),
            Some(&operator.id.to_string()),
            serde_json::json!({"username": "admin-1"}),
            Some("127.0.0.1"),
            Some("req-1"),
        )
        .await
        .unwrap();
        // Inside a transaction too, with nothing but the action.
        let txn = db.begin().await.unwrap();
        let second = Audit::record(
            &txn,
            None,
            "ops.login.failed",
            None,
            None,
            serde_json::Value::Null,
            None,
            None,
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();

        let rows = audit_log::Entity::find()
            .order_by_asc(audit_log::Column::Id)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "{test_db:?}");
        assert_eq!(rows[0].id, first);
        assert_eq!(rows[0].operator_id, Some(operator.id));
        assert_eq!(rows[0].action, "ops.login");
        assert_eq!(rows[0].target_type.as_deref(), Some("operator"));
        assert_eq!(rows[0].target_id, Some(operator.id.to_string()));
        let details: serde_json::Value =
            serde_json::from_str(rows[0].details.as_deref().unwrap()).unwrap();
        assert_eq!(details["username"], "admin-1");
        assert_eq!(rows[0].ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(rows[0].request_id.as_deref(), Some("req-1"));
        assert_eq!(rows[1].id, second);
        assert_eq!(
            (rows[1].operator_id, rows[1].details.as_ref()),
            (None, None)
        );

        for sql in [
            "UPDATE audit_log SET action = 'rewritten'",
            "DELETE FROM audit_log",
        ] {
            let result = db.execute_unprepared(sql).await;
            let error = result.expect_err(&format!("{test_db:?}: {sql} must be refused"));
            assert!(
                error.to_string().contains("append-only"),
                "{test_db:?}: {error}"
            );
        }
        let after = audit_log::Entity::find().all(&db).await.unwrap();
        assert_eq!(after.len(), 2, "{test_db:?}");
        assert!(after.iter().all(|r| r.action != "rewritten"));
    }
}

#[tokio::test]
async fn an_unknown_username_costs_a_hash_like_a_wrong_password() {
    for (test_db, db) in databases().await {
        let ops = operators(&db);
        ops.create("timed-1", PASSWORD, OperatorRole::Operator, None)
            .await
            .unwrap();
        // The fastest of several tries: load on the machine only ever adds time, so the
        // minimum is each path's own cost.
        async fn fastest(ops: &Operators, username: &str) -> std::time::Duration {
            let mut fastest = std::time::Duration::MAX;
            for _ in 0..5 {
                let started = std::time::Instant::now();
                let result = ops.authenticate(username, "wrong password here").await;
                fastest = fastest.min(started.elapsed());
                assert!(matches!(result, Err(OperatorError::InvalidCredentials)));
            }
            fastest
        }
        let wrong_password = fastest(&ops, "timed-1").await;
        let unknown_user = fastest(&ops, "timed-nobody").await;
        // Loose bounds: without the dummy verification an unknown name answers a hundred times
        // faster (one indexed lookup against one Argon2id run), far outside a factor of ten.
        assert!(
            unknown_user * 10 > wrong_password && wrong_password * 10 > unknown_user,
            "{test_db:?}: unknown {unknown_user:?} vs wrong password {wrong_password:?}"
        );
    }
}
