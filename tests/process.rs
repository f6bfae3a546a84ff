//! The binaries as an operator meets them: `--help`, configuration errors that name the key,
//! production refusing development secrets, graceful shutdown on SIGTERM.

use e2e::{Gateway, Mock, binary, workspace_root};
use std::process::Command;
use std::time::Duration;

fn guahao(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    Command::new(binary("guahao"))
        .args(args)
        .env("GUAHAO_ROOT", workspace_root())
        .envs(env.iter().copied())
        .output()
        .expect("run guahao")
}

#[test]
fn every_binary_has_help() {
    let out = guahao(&[], &["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "migrate", "seed"] {
        assert!(
            text.contains(command),
            "guahao --help lists {command}: {text}"
        );
    }
    let out = guahao(&[], &["seed", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--demo"));
    let out = Command::new(binary("miniprogram-mock"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("serve"));
}

#[test]
fn a_bad_setting_is_named_at_start() {
    let out = guahao(&[("GUAHAO__SERVER__BIND", "not-an-address")], &["migrate"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("server.bind"), "{stderr}");

    let out = guahao(
        &[("GUAHAO__BOOKING__HOLD_TTL_S", "ten minutes")],
        &["migrate"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hold_ttl_s"));

    let out = guahao(&[("GUAHAO__DATABASE__MAX_CONNECTIONS", "0")], &["migrate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.max_connections"));

    let out = guahao(&[("GUAHAO_ENV", "staging")], &["migrate"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("GUAHAO_ENV"));
}

#[test]
fn production_refuses_development_secrets_and_keys() {
    let out = guahao(&[("GUAHAO_ENV", "production")], &["migrate"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to start in production") && stderr.contains("auth.jwt_secret"),
        "{stderr}"
    );

    let secrets = [
        ("GUAHAO_ENV", "production"),
        (
            "GUAHAO__AUTH__JWT_SECRET",
            "a-real-secret-of-at-least-thirty-two-chars",
        ),
        ("GUAHAO__WECHAT__SECRET", "real-wechat-secret"),
        (
            "GUAHAO__WECHATPAY__APIV3_KEY",
            "abcdefghijklmnopqrstuvwxyz012345",
        ),
        ("GUAHAO__SMS__ACCESS_KEY_SECRET", "real-sms-secret"),
        (
            "GUAHAO__PII__ENCRYPTION_KEY",
            "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
        ),
        ("GUAHAO__SMS__PROVIDER", "aliyun"),
    ];
    let out = guahao(&secrets, &["migrate"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("development key")
            && stderr.contains("wechatpay.merchant_private_key_path"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_stops_the_gateway_gracefully() {
    let mut gateway = Gateway::start().await;
    let status = gateway.terminate(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit status {status:?}; log:\n{}",
        gateway.log()
    );
    assert!(gateway.log().contains("guahao stopped"));
}

#[tokio::test]
async fn the_mock_serves_its_health_endpoint() {
    let mock = Mock::start().await;
    let body: serde_json::Value = reqwest::get(format!("{}/healthz", mock.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["service"], "miniprogram-mock");
}
