//! Operators lifting no-show suspensions and publishing rule sets, against the database of
//! record on SQLite + in-process inventory and PostgreSQL + Redis inventory, with time on a
//! `ManualClock`.

mod common;

use booking_core::bookings::rule_sets::{RuleSetDraft, RuleSetError, VersionStanding};
use booking_core::bookings::suspensions::SuspensionError;
use booking_core::bookings::{Actor, BookingError};
use booking_core::catalog::entity::hospital;
use booking_core::clock::Clock;
use booking_core::operators::entity::audit_log;
use booking_core::operators::{ActingOperator, OperatorRole};
use booking_core::paging::PageRequest;
use booking_core::rules::RuleScope;
use chrono::{Duration, TimeZone, Utc};
use common::{Session, World};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

/// The demo catalog seeded on Monday 2026-11-23 (Shanghai), the clock at 07:00 that day.
async fn worlds() -> Vec<World> {
    common::worlds("ops-rules-test").await
}

impl World {
    async fn operator(&self, username: &str, hospital_id: Option<Uuid>) -> ActingOperator {
        let role = if hospital_id.is_some() {
            OperatorRole::Operator
        } else {
            OperatorRole::Admin
        };
        let created = self
            .operators
            .create(username, PASSWORD, role, hospital_id)
            .await
            .unwrap();
        ActingOperator {
            operator_id: created.id,
            hospital_id,
            ip: Some("10.0.0.7".into()),
            request_id: Some(format!("req-{username}")),
        }
    }

    /// Books, pays and lets the check-in window close: one no-show, marked at the clock's time.
    async fn miss_a_visit(
        &self,
        who: (Uuid, Uuid),
        session: &Session,
        window_closed_utc: chrono::DateTime<Utc>,
    ) -> Uuid {
        let booking = self.book(who, session).await.unwrap();
        self.service
            .confirm(booking.id, &Actor::Provider("wechatpay"), None)
            .await
            .unwrap()
            .expect("confirmed");
        self.clock.set(window_closed_utc);
        assert_eq!(
            self.service.mark_no_shows().await.unwrap(),
            1,
            "{}",
            self.label
        );
        booking.id
    }

    async fn audit_actions(&self, action: &str) -> Vec<audit_log::Model> {
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(action))
            .order_by_asc(audit_log::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }
}

fn refusal_code(result: Result<booking_core::bookings::Booking, BookingError>) -> String {
    match result {
        Err(BookingError::Refused(refusal)) => refusal.code.to_owned(),
        other => panic!("expected a rule refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_lift_is_honoured_and_does_not_cover_the_next_no_show() {
    for w in worlds().await {
        // Monday 08:00: book today's 10:00 visit, pay, miss it.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        let today = w.sessions(0, 2).await;
        let thursday = w.sessions(3, 0).await;
        let friday = w.sessions(4, 0).await;
        let erin = w.patient(1).await;
        let admin = w.operator("ops-chief", None).await;
        let first_missed = w
            .miss_a_visit(
                erin,
                &today[0],
                Utc.with_ymd_and_hms(2026, 11, 23, 2, 30, 1).unwrap(),
            )
            .await;
        let first_at = w.clock.now();

        let seen = w.suspensions.of_patient(erin.1, &admin).await.unwrap();
        let suspension = seen.standing.suspension.clone().expect("suspended");
        assert_eq!(
            suspension.until,
            first_at + Duration::days(30),
            "{}",
            w.label
        );
        assert_eq!(suspension.follows, first_missed);
        assert_eq!(seen.standing.no_shows.len(), 1);
        assert_eq!(seen.standing.no_shows[0].nth_in_year, 1);
        assert_eq!(
            seen.standing.no_shows[0].no_show.rule_version.as_deref(),
            Some("default:v1")
        );
        assert_eq!(
            refusal_code(w.book(erin, &thursday[0]).await),
            "BOOKING_SUSPENDED"
        );

        // A reason is required; a patient without no-shows has nothing to lift.
        for blank in ["", "   "] {
            assert!(
                matches!(
                    w.suspensions.lift(erin.1, blank, &admin).await,
                    Err(SuspensionError::ReasonRequired)
                ),
                "{}: {blank:?}",
                w.label
            );
        }
        let frank = w.patient(2).await;
        assert!(matches!(
            w.suspensions.lift(frank.1, "no reason to", &admin).await,
            Err(SuspensionError::NotSuspended)
        ));
        assert!(w.audit_actions("suspension.lift").await.is_empty());

        // Lifted: booking works again, and the same suspension cannot be lifted twice.
        let lift = w
            .suspensions
            .lift(
                erin.1,
                "  Hospitalised that day; certificate seen.  ",
                &admin,
            )
            .await
            .unwrap();
        assert_eq!(lift.no_show_booking_id, first_missed);
        assert_eq!(lift.suspended_until, first_at + Duration::days(30));
        assert_eq!(lift.reason, "Hospitalised that day; certificate seen.");
        assert_eq!(lift.operator_id, admin.operator_id);
        let audited = w.audit_actions("suspension.lift").await;
        assert_eq!(audited.len(), 1, "{}", w.label);
        assert_eq!(audited[0].operator_id, Some(admin.operator_id));
        assert_eq!(
            audited[0].target_id.as_deref(),
            Some(erin.1.to_string().as_str())
        );
        assert_eq!(audited[0].request_id.as_deref(), Some("req-ops-chief"));
        let details: serde_json::Value =
            serde_json::from_str(audited[0].details.as_deref().unwrap()).unwrap();
        assert_eq!(
            details["reason"],
            "Hospitalised that day; certificate seen."
        );
        assert_eq!(details["no_show_booking_id"], first_missed.to_string());
        assert!(matches!(
            w.suspensions.lift(erin.1, "again", &admin).await,
            Err(SuspensionError::NotSuspended)
        ));
        let seen = w.suspensions.of_patient(erin.1, &admin).await.unwrap();
        assert_eq!(seen.standing.suspension, None, "{}", w.label);
        assert!(seen.standing.no_shows[0].lifted);
        assert_eq!(seen.lifts, vec![lift.clone()]);
        // A lift is history: the database refuses to rewrite it.
        for rewrite in [
            "UPDATE suspension_lifts SET reason = 'rewritten'",
            "DELETE FROM suspension_lifts",
        ] {
            assert!(
                w.db.execute_unprepared(rewrite).await.is_err(),
                "{}: {rewrite}",
                w.label
            );
        }

        // Thursday's visit is missed too: the second no-show of the year, 60 days, not lifted.
        w.miss_a_visit(
            erin,
            &thursday[0],
            Utc.with_ymd_and_hms(2026, 11, 26, 0, 30, 1).unwrap(),
        )
        .await;
        let second_at = w.clock.now();
        match w.book(erin, &friday[0]).await {
            Err(BookingError::Refused(refusal)) => {
                assert_eq!(refusal.code, "BOOKING_SUSPENDED", "{}", w.label);
                assert_eq!(refusal.available_at, Some(second_at + Duration::days(60)));
            }
            other => panic!("{}: {other:?}", w.label),
        }
        let seen = w.suspensions.of_patient(erin.1, &admin).await.unwrap();
        let ranks: Vec<_> = seen
            .standing
            .no_shows
            .iter()
            .map(|n| (n.nth_in_year, n.lifted))
            .collect();
        assert_eq!(ranks, vec![(2, false), (1, true)], "{}", w.label);
        assert_eq!(
            seen.standing.suspension.map(|s| s.until),
            Some(second_at + Duration::days(60))
        );
    }
}

#[tokio::test]
async fn hospital_operators_see_and_lift_only_their_own() {
    for w in worlds().await {
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        let today = w.sessions(0, 2).await;
        let own_hospital = today[0].0.hospital_id;
        let theirs = w
            .sessions(3, 0)
            .await
            .into_iter()
            .find(|s| s.0.hospital_id != own_hospital)
            .expect("a Thursday morning at another hospital");
        let other_hospital = theirs.0.hospital_id;
        let third_hospital = hospital::Entity::find()
            .filter(hospital::Column::Id.is_not_in([own_hospital, other_hospital]))
            .one(&w.db)
            .await
            .unwrap()
            .unwrap()
            .id;

        // Grace books Thursday at the other hospital, then misses today's visit at her own.
        let grace = w.patient(3).await;
        w.book(grace, &theirs).await.unwrap();
        w.miss_a_visit(
            grace,
            &today[0],
            Utc.with_ymd_and_hms(2026, 11, 23, 2, 30, 1).unwrap(),
        )
        .await;
        let stranger = w.operator("desk-third", Some(third_hospital)).await;
        let outsider = w.operator("desk-other", Some(other_hospital)).await;
        let insider = w.operator("desk-own", Some(own_hospital)).await;

        // A hospital where she never booked does not see her at all.
        assert!(matches!(
            w.suspensions.of_patient(grace.1, &stranger).await,
            Err(SuspensionError::PatientNotFound)
        ));
        assert!(matches!(
            w.suspensions
                .lift(grace.1, "not mine to forgive", &stranger)
                .await,
            Err(SuspensionError::PatientNotFound)
        ));
        assert!(matches!(
            w.suspensions.of_patient(Uuid::now_v7(), &insider).await,
            Err(SuspensionError::PatientNotFound)
        ));
        // The other hospital sees her, but the visit was missed elsewhere: not its to forgive.
        let seen = w.suspensions.of_patient(grace.1, &outsider).await.unwrap();
        assert!(seen.standing.suspension.is_some(), "{}", w.label);
        assert!(matches!(
            w.suspensions
                .lift(grace.1, "not mine to forgive", &outsider)
                .await,
            Err(SuspensionError::OutsideHospital)
        ));
        w.suspensions
            .lift(grace.1, "Ward confirmed the emergency admission", &insider)
            .await
            .unwrap();
        let seen = w.suspensions.of_patient(grace.1, &outsider).await.unwrap();
        assert_eq!(seen.standing.suspension, None, "{}", w.label);
    }
}

#[tokio::test]
async fn publishing_appends_a_version_that_applies_from_its_instant() {
    for w in worlds().await {
        // Monday 09:00.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
        let now = w.clock.now();
        let session = w.sessions(3, 0).await.remove(0);
        let hospital_id = session.0.hospital_id;
        let admin = w.operator("rules-admin", None).await;
        let scope = RuleScope::Hospital(hospital_id);
        let draft = |effective_from, rules| RuleSetDraft {
            scope,
            effective_from,
            rules,
        };

        // Refusals: the past, nonsense rules, a scope that does not exist, another hospital.
        assert!(matches!(
            w.rule_sets
                .publish(draft(now - Duration::seconds(1), json!({})), &admin)
                .await,
            Err(RuleSetError::EffectiveFromInPast { .. })
        ));
        for bad in [
            json!({"hold_minutes": 0}),
            json!({"hold_minute": 15}),
            json!({"release_time": "8am"}),
            json!([1, 2]),
        ] {
            assert!(
                matches!(
                    w.rule_sets.publish(draft(now, bad.clone()), &admin).await,
                    Err(RuleSetError::InvalidRules(_))
                ),
                "{}: {bad}",
                w.label
            );
        }
        let nowhere = RuleSetDraft {
            scope: RuleScope::Doctor(Uuid::now_v7()),
            effective_from: now,
            rules: json!({}),
        };
        assert!(matches!(
            w.rule_sets.publish(nowhere, &admin).await,
            Err(RuleSetError::ScopeNotFound(_))
        ));
        let other_hospital = hospital::Entity::find()
            .filter(hospital::Column::Id.ne(hospital_id))
            .one(&w.db)
            .await
            .unwrap()
            .unwrap()
            .id;
        let outsider = w.operator("rules-outsider", Some(other_hospital)).await;
        assert!(matches!(
            w.rule_sets.publish(draft(now, json!({})), &outsider).await,
            Err(RuleSetError::OutsideHospital)
        ));
        assert!(w.audit_actions("rules.publish").await.is_empty());

        // v1 from 10:00 holds places for 15 minutes.
        let ten = now + Duration::hours(1);
        let v1 = w
            .rule_sets
            .publish(draft(ten, json!({"hold_minutes": 15})), &admin)
            .await
            .unwrap();
        assert_eq!(v1.version_label, format!("hospital:{hospital_id}:v1"));
        assert_eq!(v1.standing, VersionStanding::Scheduled);
        assert_eq!(v1.version.rules.hold_minutes, 15);
        assert_eq!(
            v1.version.rules.booking_window_days, 7,
            "the rest are defaults"
        );
        assert_eq!(v1.created_by, Some(admin.operator_id.to_string()));

        // Before 10:00 the defaults apply; from 10:00, v1. The earlier booking keeps its version.
        let (early, late) = (w.patient(10).await, w.patient(11).await);
        let before = w.book(early, &session).await.unwrap();
        assert_eq!(
            before.rule_version.as_deref(),
            Some("default:v1"),
            "{}",
            w.label
        );
        assert_eq!(before.hold_expires_at, now + Duration::minutes(10));
        w.clock.set(ten);
        let under_v1 = w.book(late, &session).await.unwrap();
        assert_eq!(
            under_v1.rule_version,
            Some(v1.version_label.clone()),
            "{}",
            w.label
        );
        assert_eq!(under_v1.hold_expires_at, ten + Duration::minutes(15));
        let before_again = w.service.get(early.0, before.id).await.unwrap();
        assert_eq!(before_again.rule_version.as_deref(), Some("default:v1"));

        // v2 is appended, v1 untouched; the list is newest first with where each stands.
        let v2 = w
            .rule_sets
            .publish(
                draft(ten + Duration::days(1), json!({"hold_minutes": 20})),
                &admin,
            )
            .await
            .unwrap();
        assert_eq!(v2.version_label, format!("hospital:{hospital_id}:v2"));
        let listed = w
            .rule_sets
            .list(hospital_id, &admin, PageRequest::default())
            .await
            .unwrap();
        let summary: Vec<_> = listed
            .items
            .iter()
            .map(|p| {
                (
                    p.version_label.clone(),
                    p.standing,
                    p.version.rules.hold_minutes,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (v2.version_label.clone(), VersionStanding::Scheduled, 20),
                (v1.version_label.clone(), VersionStanding::InForce, 15),
            ],
            "{}",
            w.label
        );
        assert_eq!(listed.next_cursor, None);
        assert!(matches!(
            w.rule_sets
                .list(hospital_id, &outsider, PageRequest::default())
                .await,
            Err(RuleSetError::OutsideHospital)
        ));
        let audited = w.audit_actions("rules.publish").await;
        let targets: Vec<_> = audited
            .iter()
            .map(|a| a.target_id.clone().unwrap())
            .collect();
        assert_eq!(
            targets,
            vec![v1.version_label.clone(), v2.version_label.clone()]
        );

        // Published versions are history: the database refuses to rewrite them.
        assert!(
            w.db.execute_unprepared("UPDATE booking_rules SET version = 9")
                .await
                .is_err(),
            "{}",
            w.label
        );
        assert!(
            w.db.execute_unprepared("DELETE FROM booking_rules")
                .await
                .is_err()
        );
    }
}

/// The quota facts come from one read of the unfinished bookings of the identity or of the
/// account: a booking made for the same person through another account counts against the
/// person, a booking for another patient of the account counts against the account.
#[tokio::test]
async fn quotas_count_the_person_across_accounts_and_the_account_across_its_patients() {
    for w in worlds().await {
        // Monday 09:00; visits on Thursday in three departments.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
        let three: Vec<Session> = w
            .sessions_in_distinct_departments(3, 0, 50)
            .await
            .into_iter()
            .take(3)
            .collect();
        assert_eq!(three.len(), 3, "three departments with a Thursday morning");
        // Two unfinished bookings per account in these hospitals, from now on.
        let admin = w.operator("quota-admin", None).await;
        let hospitals: std::collections::BTreeSet<Uuid> =
            three.iter().map(|s| s.0.hospital_id).collect();
        for hospital_id in hospitals {
            w.rule_sets
                .publish(
                    RuleSetDraft {
                        scope: RuleScope::Hospital(hospital_id),
                        effective_from: w.clock.now(),
                        rules: json!({"active_per_account": 2}),
                    },
                    &admin,
                )
                .await
                .unwrap();
        }
        // Grace is one person on two accounts: her own (with her son) and her daughter's.
        let grace = w.patient(31).await;
        let daughter_account = w.patient(32).await.0;
        let grace_by_daughter = w.patient_of(daughter_account, 31).await;
        let son = w.patient_of(grace.0, 33).await;

        w.book(grace_by_daughter, &three[0]).await.unwrap();
        w.book(grace, &three[1]).await.unwrap();
        assert_eq!(
            refusal_code(w.book(grace, &three[2]).await),
            "QUOTA_VISIT_DAY",
            "{}: two visits that day, one booked through the daughter's account",
            w.label
        );
        w.book(son, &three[2]).await.unwrap();
        assert_eq!(
            refusal_code(w.book(son, &three[0]).await),
            "ACCOUNT_ACTIVE_LIMIT",
            "{}: the account holds Grace's booking and her son's",
            w.label
        );
    }
}

/// The marker reads every visit that may have been missed at once: each is judged by the rule
/// set over its own schedule, and visits of later days are left alone.
#[tokio::test]
async fn the_no_show_marker_judges_each_visit_by_its_own_rules() {
    for w in worlds().await {
        // Monday 08:00 (Shanghai): today's 10:00 visits in two departments, one tomorrow.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap());
        let today = w.sessions_with_capacity(0, 2, 50).await;
        let strict = today[0].clone();
        let lenient = today
            .iter()
            .find(|s| s.0.department_id != strict.0.department_id)
            .expect("a 10:00 visit today in another department")
            .clone();
        let tomorrow = w.sessions_with_capacity(1, 0, 50).await.remove(0);
        let admin = w.operator("no-show-admin", None).await;
        w.rule_sets
            .publish(
                RuleSetDraft {
                    scope: RuleScope::Department(lenient.0.department_id),
                    effective_from: w.clock.now(),
                    rules: json!({"check_in_close_minutes_after": 90}),
                },
                &admin,
            )
            .await
            .unwrap();
        let mut visits = Vec::new();
        for (n, session) in [(41, &strict), (42, &lenient), (43, &tomorrow)] {
            let booking = w.book(w.patient(n).await, session).await.unwrap();
            w.service
                .confirm(booking.id, &Actor::Provider("wechatpay"), None)
                .await
                .unwrap()
                .expect("confirmed");
            visits.push(booking.id);
        }
        let db = &w.db;
        let status = move |id: Uuid| async move {
            booking_core::bookings::entity::booking::Entity::find_by_id(id)
                .one(db)
                .await
                .unwrap()
                .unwrap()
                .status
        };

        // 10:30:01: the default window (30 minutes after the start) has closed.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 2, 30, 1).unwrap());
        assert_eq!(w.service.mark_no_shows().await.unwrap(), 1, "{}", w.label);
        assert_eq!(status(visits[0]).await, "no_show", "{}", w.label);
        assert_eq!(
            status(visits[1]).await,
            "confirmed",
            "{}: 90 minutes there",
            w.label
        );
        // 11:30:01: the lenient department's window has closed too; tomorrow's visit waits.
        w.clock
            .set(Utc.with_ymd_and_hms(2026, 11, 23, 3, 30, 1).unwrap());
        assert_eq!(w.service.mark_no_shows().await.unwrap(), 1, "{}", w.label);
        assert_eq!(status(visits[1]).await, "no_show", "{}", w.label);
        assert_eq!(status(visits[2]).await, "confirmed", "{}", w.label);
    }
}
