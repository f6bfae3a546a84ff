//! Operator accounts end to end: `guahao operator create` (password on stdin), operator login
//! over HTTP, tokens that only open their own API, the audit trail and the failed-login limit,
//! on SQLite + in-process stores and on PostgreSQL + Redis.

use e2e::{Api, Gateway, GatewayOptions, Mock, code_of, own_redis_keys, shared_servers};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

const PASSWORD: &str = "kiosk-secret-Pa55word";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `guahao operator create` with `password` on stdin; the new id, or the failure's stderr.
fn create_operator(
    gateway: &Gateway,
    args: &[&str],
    password_input: &str,
) -> Result<String, (i32, String)> {
    let mut full = vec!["operator", "create"];
    full.extend_from_slice(args);
    let output = gateway.command_with_stdin(&full, password_input);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let typed = password_input.trim_end();
    if !typed.is_empty() {
        assert!(
            !stdout.contains(typed) && !stderr.contains(typed),
            "the password was echoed: {stdout} {stderr}"
        );
    }
    if output.status.success() {
        Ok(stdout.trim().to_owned())
    } else {
        Err((output.status.code().unwrap_or(-1), stderr))
    }
}

/// The audit rows, oldest first, as `(action, operator_id, details, ip)`; the id in plain
/// lower-case hex (SQLite keeps UUIDs as blobs, PostgreSQL as `uuid`), as [`hex_id`] gives it.
async fn audit_rows(db: &DatabaseConnection) -> Vec<(String, Option<String>, Value, String)> {
    let backend = db.get_database_backend();
    let operator_hex = match backend {
        DbBackend::Sqlite => {
            "CASE WHEN operator_id IS NULL THEN NULL ELSE lower(hex(operator_id)) END"
        }
        _ => "replace(CAST(operator_id AS TEXT), '-', '')",
    };
    let sql = format!(
        "SELECT action, {operator_hex} AS operator_id, details, ip \
         FROM audit_log ORDER BY created_at, id"
    );
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let details: Option<String> = row.try_get("", "details").unwrap();
            (
                row.try_get("", "action").unwrap(),
                row.try_get("", "operator_id").unwrap(),
                details
                    .map(|d| serde_json::from_str(&d).unwrap())
                    .unwrap_or(Value::Null),
                row.try_get::<Option<String>>("", "ip")
                    .unwrap()
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn hex_id(id: &str) -> String {
    id.replace('-', "").to_lowercase()
}

async fn start(mock: &Mock, database_url: String, redis_url: Option<String>) -> Gateway {
    Gateway::start_with(GatewayOptions {
        database_url: Some(database_url),
        redis_url,
        seed_demo: true,
        extra_env: mock.env_with(vec![own_redis_keys("guahao-e2e-ops")]),
    })
    .await
}

async fn cli_login_tokens_and_audit(gateway: &Gateway, db: &DatabaseConnection) {
    let api = Api::new(gateway);

    // The CLI: a kiosk for the demo hospital named by its code.
    let id = create_operator(
        gateway,
        &[
            "--username",
            "desk-01",
            "--role",
            "kiosk",
            "--hospital",
            "DCFH",
        ],
        &format!("{PASSWORD}\n"),
    )
    .expect("create desk-01");
    assert_eq!(id.len(), 36, "stdout is the new id alone: {id:?}");
    let dcfh = api.hospital_with_code("DCFH").await;

    // An admin for every hospital, its hospital given by id this time for a second kiosk.
    let admin = create_operator(
        gateway,
        &["--username", "chief", "--role", "admin"],
        "another-long-password\r\n",
    )
    .expect("create chief");
    create_operator(
        gateway,
        &[
            "--username",
            "desk-02",
            "--role",
            "kiosk",
            "--hospital",
            &dcfh,
        ],
        &format!("{PASSWORD}\n"),
    )
    .expect("create desk-02 with a hospital id");

    // What the CLI refuses, each with a non-zero exit and a reason on stderr.
    for (args, input, reason) in [
        (
            vec!["--username", "desk-01", "--role", "kiosk"],
            format!("{PASSWORD}\n"),
            "taken",
        ),
        (
            vec!["--username", "desk-03", "--role", "kiosk"],
            "\n".to_owned(),
            "no password",
        ),
        (
            vec!["--username", "desk-03", "--role", "kiosk"],
            String::new(),
            "no password",
        ),
        (
            vec!["--username", "desk-03", "--role", "kiosk"],
            "short-pw\n".to_owned(),
            "at least 12",
        ),
        (
            vec!["--username", "Desk 03", "--role", "kiosk"],
            format!("{PASSWORD}\n"),
            "username",
        ),
        (
            vec![
                "--username",
                "desk-03",
                "--role",
                "kiosk",
                "--hospital",
                "NO-SUCH",
            ],
            format!("{PASSWORD}\n"),
            "NO-SUCH",
        ),
        (
            vec!["--username", "desk-03", "--role", "root"],
            format!("{PASSWORD}\n"),
            "root",
        ),
    ] {
        let (code, stderr) = create_operator(gateway, &args, &input)
            .expect_err(&format!("{args:?} must be refused"));
        assert_ne!(code, 0);
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }

    // Login over HTTP.
    let (status, _, body) = api.ops_login("desk-01", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["operator"]["id"], id.as_str());
    assert_eq!(body["operator"]["username"], "desk-01");
    assert_eq!(body["operator"]["role"], "kiosk");
    assert_eq!(body["operator"]["hospital_id"], dcfh);
    assert_eq!(body["expires_in"], 28800);
    let kiosk = body["token"].as_str().unwrap().to_owned();
    let (status, me) = api.get("/api/v1/ops/me", Some(&kiosk)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me, body["operator"]);
    // Usernames are not case-sensitive at login.
    let (status, _, body) = api.ops_login("Chief", "another-long-password").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["operator"]["role"], &body["operator"]["hospital_id"]),
        (&json!("admin"), &Value::Null)
    );

    // Wrong password and unknown user: one answer.
    for (username, password) in [
        ("desk-01", "not-the-password"),
        ("nobody", PASSWORD),
        ("", ""),
    ] {
        let (status, headers, body) = api.ops_login(username, password).await;
        assert_eq!(
            (status, code_of(&body)),
            (401, "INVALID_CREDENTIALS"),
            "{username}: {body}"
        );
        assert!(headers.contains_key("x-request-id"));
    }

    // Tokens open only their own API.
    let patient = api.login("wechat", "mock-ops-patient").await;
    let (status, body) = api.get("/api/v1/ops/me", Some(&patient)).await;
    assert_eq!(
        (status, code_of(&body)),
        (401, "TOKEN_WRONG_AUDIENCE"),
        "{body}"
    );
    let (status, body) = api.get("/api/v1/patients", Some(&kiosk)).await;
    assert_eq!(
        (status, code_of(&body)),
        (401, "TOKEN_WRONG_AUDIENCE"),
        "{body}"
    );
    let (status, body) = api.get("/api/v1/ops/me", None).await;
    assert_eq!((status, code_of(&body)), (401, "UNAUTHENTICATED"), "{body}");

    // Logout revokes the operator token.
    let (status, _, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/ops/logout",
            Some(&kiosk),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, body) = api.get("/api/v1/ops/me", Some(&kiosk)).await;
    assert_eq!((status, code_of(&body)), (401, "TOKEN_REVOKED"), "{body}");

    // The trail: creations (by the CLI), logins, failures with the username only, the logout.
    let rows = audit_rows(db).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "operator.create",
            "operator.create",
            "operator.create",
            "ops.login",
            "ops.login",
            "ops.login.failed",
            "ops.login.failed",
            "ops.login.failed",
            "ops.logout",
        ],
        "{rows:?}"
    );
    assert_eq!(rows[0].2["username"], "desk-01");
    assert_eq!(rows[0].2["via"], "cli");
    assert_eq!(rows[1].1.as_deref(), None, "the CLI acts as no operator");
    assert_eq!(rows[3].1, Some(hex_id(&id)));
    assert_eq!(rows[4].1, Some(hex_id(&admin)));
    assert_eq!(rows[3].3, "127.0.0.1");
    assert_eq!(rows[5].2, json!({"username": "desk-01"}));
    assert_eq!(rows[6].2, json!({"username": "nobody"}));
    assert_eq!(rows[8].1, Some(hex_id(&id)));
    for row in &rows {
        let details = row.2.to_string();
        for secret in [PASSWORD, "not-the-password", "another-long-password"] {
            assert!(
                !details.contains(secret),
                "a password in the audit: {row:?}"
            );
        }
    }
    let log = gateway.log();
    for secret in [PASSWORD, "not-the-password", "another-long-password"] {
        assert!(!log.contains(secret), "a password in the gateway log");
    }
}

async fn failed_logins_are_limited(gateway: &Gateway, db: &DatabaseConnection) {
    let api = Api::new(gateway);
    let before = audit_rows(db).await.len();
    create_operator(
        gateway,
        &["--username", "auditor-9", "--role", "auditor"],
        &format!("{PASSWORD}\n"),
    )
    .expect("create auditor-9");
    create_operator(
        gateway,
        &["--username", "auditor-8", "--role", "auditor"],
        &format!("{PASSWORD}\n"),
    )
    .expect("create auditor-8");

    for attempt in 1..=10 {
        let (status, _, body) = api.ops_login("auditor-9", "wrong-password").await;
        assert_eq!(
            (status, code_of(&body)),
            (401, "INVALID_CREDENTIALS"),
            "attempt {attempt}: {body}"
        );
    }
    // Locked for this username from this IP, even with the right password.
    for password in ["wrong-password", PASSWORD] {
        let (status, headers, body) = api.ops_login("AUDITOR-9", password).await;
        assert_eq!(
            (status, code_of(&body)),
            (429, "LOGIN_RATE_LIMITED"),
            "{body}"
        );
        let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry_after), "{retry_after}");
    }
    // Another account from the same address is not affected.
    let (status, _, body) = api.ops_login("auditor-8", PASSWORD).await;
    assert_eq!(status, 200, "{body}");

    let rows = audit_rows(db).await.split_off(before);
    let count = |action: &str| rows.iter().filter(|r| r.0 == action).count();
    assert_eq!(
        count("ops.login.failed"),
        10,
        "refused attempts are not audited"
    );
    assert_eq!(count("ops.login.locked"), 1);
    assert_eq!(count("ops.login"), 1);
}

#[tokio::test]
async fn operators_on_sqlite_with_in_process_stores() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/guahao.db?mode=rwc", dir.path().display());
    let mock = Mock::start().await;
    let gateway = start(&mock, url.clone(), None).await;
    let db = Database::connect(&url).await.unwrap();
    cli_login_tokens_and_audit(&gateway, &db).await;
    failed_logins_are_limited(&gateway, &db).await;
}

#[tokio::test]
async fn operators_on_postgresql_with_redis() {
    let Some((database, redis_url)) = shared_servers().await else {
        return;
    };
    let mock = Mock::start().await;
    let gateway = start(&mock, database.url.clone(), Some(redis_url)).await;
    let db = Database::connect(&database.url).await.unwrap();
    cli_login_tokens_and_audit(&gateway, &db).await;
    failed_logins_are_limited(&gateway, &db).await;
}

#[test]
fn operator_create_help_explains_the_password_on_stdin() {
    // `--help` needs no configuration and no database.
    let output = e2e::run_guahao(&[], &["operator", "create", "--help"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let help = text(&output.stdout);
    for expected in [
        "--username",
        "--role",
        "--hospital",
        "standard input",
        "admin",
        "kiosk",
    ] {
        assert!(help.contains(expected), "{expected} missing from:\n{help}");
    }
}
