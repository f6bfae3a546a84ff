//! Users and patients against the database of record, on SQLite and PostgreSQL.

use booking_core::accounts::{
    Accounts, Channel, MAX_PATIENTS_PER_ACCOUNT, NewPatient, PatientError, Patients,
    PlatformIdentity, StoredPhone,
};
use booking_core::identity::{IdDocument, IdType, MobileNumber, PersonName};
use booking_core::pii::PiiCipher;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::sync::Arc;

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

async fn databases() -> Vec<(test_support::TestDb, DatabaseConnection)> {
    let mut out = Vec::new();
    for test_db in test_support::each_database().await {
        let db = booking_core::db::connect(&test_db.url).await.unwrap();
        booking_core::db::migrate(&db).await.unwrap();
        out.push((test_db, db));
    }
    out
}

fn identity(openid: &str) -> PlatformIdentity<'_> {
    PlatformIdentity {
        channel: Channel::Wechat,
        platform_user_id: openid,
        unionid: None,
        session_key_enc: Some(vec![1, 2, 3]),
    }
}

fn passport(number: &str) -> NewPatient {
    NewPatient {
        name: PersonName::parse("Test Person").unwrap(),
        document: IdDocument::parse(IdType::Passport, number).unwrap(),
        phone: None,
    }
}

#[tokio::test]
async fn concurrent_first_logins_make_one_user() {
    for (test_db, db) in databases().await {
        let accounts = Accounts::new(db.clone());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let accounts = accounts.clone();
                tokio::spawn(async move {
                    accounts
                        .record_login(identity("o-same-openid"), Utc::now())
                        .await
                        .unwrap()
                        .id
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{test_db:?}: one user for one openid");
        let other = accounts
            .record_login(identity("o-another"), Utc::now())
            .await
            .unwrap();
        assert_ne!(other.id, ids[0]);
    }
}

#[tokio::test]
async fn phone_binding_stores_only_ciphertext_hash_and_mask() {
    for (test_db, db) in databases().await {
        let accounts = Accounts::new(db.clone());
        let cipher = PiiCipher::from_hex_key(KEY).unwrap();
        let user = accounts
            .record_login(identity("o-phone"), Utc::now())
            .await
            .unwrap();
        let phone = MobileNumber::parse("+86 138-0013-8000").unwrap();
        let stored = StoredPhone {
            ciphertext: cipher.encrypt(phone.as_str().as_bytes(), b"users.phone"),
            hash: cipher.keyed_hash("phone", phone.as_str()),
            masked: phone.to_string(),
        };
        let user = accounts
            .bind_phone(user.id, stored, Utc::now())
            .await
            .unwrap();
        assert_eq!(
            user.phone_masked.as_deref(),
            Some("138****8000"),
            "{test_db:?}"
        );
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT phone_enc, phone_hash FROM users WHERE phone_masked IS NOT NULL",
            ))
            .await
            .unwrap()
            .unwrap();
        let ciphertext: Vec<u8> = row.try_get("", "phone_enc").unwrap();
        assert!(
            !ciphertext.windows(11).any(|w| w == b"13800138000"),
            "{test_db:?}: no clear phone at rest"
        );
        assert_eq!(
            cipher.decrypt(&ciphertext, b"users.phone").unwrap(),
            b"13800138000"
        );
    }
}

#[tokio::test]
async fn patients_limit_duplicates_ownership_and_removal() {
    for (test_db, db) in databases().await {
        let accounts = Accounts::new(db.clone());
        let patients = Patients::new(db.clone(), Arc::new(PiiCipher::from_hex_key(KEY).unwrap()));
        let alice = accounts
            .record_login(identity("o-alice"), Utc::now())
            .await
            .unwrap();
        let bob = accounts
            .record_login(identity("o-bob"), Utc::now())
            .await
            .unwrap();

        let resident = NewPatient {
            name: PersonName::parse("张三").unwrap(),
            document: IdDocument::parse(IdType::ResidentId, "11010519491231002x").unwrap(),
            phone: Some(MobileNumber::parse("13900139000").unwrap()),
        };
        let first = patients.add(alice.id, resident, Utc::now()).await.unwrap();
        assert_eq!(first.id_number_masked, "110105********002X", "{test_db:?}");
        assert_eq!(first.phone_masked.as_deref(), Some("139****9000"));
        let duplicate = NewPatient {
            name: PersonName::parse("张三").unwrap(),
            document: IdDocument::parse(IdType::ResidentId, "11010519491231002X").unwrap(),
            phone: None,
        };
        assert!(
            matches!(
                patients.add(alice.id, duplicate, Utc::now()).await,
                Err(PatientError::DuplicateDocument)
            ),
            "{test_db:?}"
        );

        // The same document may be someone else's patient too (a family member on two phones).
        let on_bob = NewPatient {
            name: PersonName::parse("张三").unwrap(),
            document: IdDocument::parse(IdType::ResidentId, "11010519491231002X").unwrap(),
            phone: None,
        };
        patients.add(bob.id, on_bob, Utc::now()).await.unwrap();

        for n in ["E10000001", "E10000002", "E10000003", "E10000004"] {
            patients
                .add(alice.id, passport(n), Utc::now())
                .await
                .unwrap();
        }
        assert!(
            matches!(
                patients
                    .add(alice.id, passport("E10000005"), Utc::now())
                    .await,
                Err(PatientError::TooMany {
                    max: MAX_PATIENTS_PER_ACCOUNT
                })
            ),
            "{test_db:?}"
        );
        assert_eq!(patients.list(alice.id).await.unwrap().len(), 5);

        assert!(
            matches!(
                patients.remove(bob.id, first.id, Utc::now()).await,
                Err(PatientError::NotFound)
            ),
            "{test_db:?}: not bob's"
        );
        assert!(matches!(
            patients.get(bob.id, first.id).await,
            Err(PatientError::NotFound)
        ));
        patients
            .remove(alice.id, first.id, Utc::now())
            .await
            .unwrap();
        assert!(matches!(
            patients.remove(alice.id, first.id, Utc::now()).await,
            Err(PatientError::NotFound)
        ));
        assert_eq!(patients.list(alice.id).await.unwrap().len(), 4);
        // A removed document may be added again.
        let again = NewPatient {
            name: PersonName::parse("张三").unwrap(),
            document: IdDocument::parse(IdType::ResidentId, "11010519491231002X").unwrap(),
            phone: None,
        };
        patients.add(alice.id, again, Utc::now()).await.unwrap();
    }
}

#[tokio::test]
async fn concurrent_additions_cannot_pass_the_limit() {
    for (test_db, db) in databases().await {
        let accounts = Accounts::new(db.clone());
        let patients = Patients::new(db.clone(), Arc::new(PiiCipher::from_hex_key(KEY).unwrap()));
        let carol = accounts
            .record_login(identity("o-carol"), Utc::now())
            .await
            .unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let patients = patients.clone();
                tokio::spawn(async move {
                    patients
                        .add(carol.id, passport(&format!("E2000{i:04}")), Utc::now())
                        .await
                })
            })
            .collect();
        let mut added = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => added += 1,
                Err(PatientError::TooMany { .. }) => {}
                Err(other) => panic!("{test_db:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(added, MAX_PATIENTS_PER_ACCOUNT, "{test_db:?}");
        assert_eq!(
            patients.list(carol.id).await.unwrap().len() as u64,
            MAX_PATIENTS_PER_ACCOUNT
        );
    }
}

#[tokio::test]
async fn a_patient_with_an_active_booking_cannot_be_removed() {
    for (test_db, db) in databases().await {
        let accounts = Accounts::new(db.clone());
        let patients = Patients::new(db.clone(), Arc::new(PiiCipher::from_hex_key(KEY).unwrap()));
        let dave = accounts
            .record_login(identity("o-dave"), Utc::now())
            .await
            .unwrap();
        let patient = patients
            .add(dave.id, passport("E30000001"), Utc::now())
            .await
            .unwrap();
        booking_core::catalog::seed_demo(
            &db,
            Utc::now().date_naive(),
            booking_core::catalog::ReleasePolicy {
                window_days: 7,
                release_time: chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            },
        )
        .await
        .unwrap();
        let backend = db.get_database_backend();
        let p = |n: usize| {
            if backend == sea_orm::DbBackend::Postgres {
                format!("${n}")
            } else {
                "?".to_owned()
            }
        };
        let sql = format!(
            "INSERT INTO bookings (id, user_id, patient_id, identity_hash, schedule_id, segment_id, channel, status, out_trade_no, amount_fen, hold_expires_at, created_at, updated_at) \
             SELECT {}, {}, {}, 'h', s.schedule_id, s.id, 'wechat', 'confirmed', 'T0000000000000000000000000000001', 5000, {}, {}, {} FROM schedule_segments s LIMIT 1",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6)
        );
        let now = Utc::now();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                uuid::Uuid::now_v7().into(),
                dave.id.into(),
                patient.id.into(),
                now.into(),
                now.into(),
                now.into(),
            ],
        ))
        .await
        .unwrap();
        assert!(
            matches!(
                patients.remove(dave.id, patient.id, now).await,
                Err(PatientError::HasActiveBookings)
            ),
            "{test_db:?}"
        );
        assert_eq!(
            patients.list(dave.id).await.unwrap().len(),
            1,
            "{test_db:?}: nothing half-written"
        );
    }
}
