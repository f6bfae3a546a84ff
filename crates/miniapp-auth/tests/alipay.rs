//! The Alipay login through the real gateway client against the real miniprogram-mock binary:
//! our RSA2 request signature checked by the mock, the mock's answer verified by us.

mod common;

use common::{Mock, workspace_root};
use miniapp_auth::{AlipayLogin, AlipayLoginError};
use payment_adapter::alipay::{AlipayClient, AlipayError};
use std::sync::Arc;

const APP_ID: &str = "2021000000000000";

fn dev_key(name: &str) -> std::path::PathBuf {
    workspace_root().join("config/dev-keys").join(name)
}

fn client_with_keys(mock: &Mock, app_id: &str, private: &str, alipay_public: &str) -> AlipayClient {
    AlipayClient::from_key_files(
        mock.url("/gateway.do"),
        app_id,
        dev_key(private),
        dev_key(alipay_public),
        reqwest::Client::new(),
    )
    .unwrap()
}

/// As configured in `config/default.toml`.
fn client(mock: &Mock) -> AlipayClient {
    client_with_keys(
        mock,
        APP_ID,
        "alipay_app_private.pem",
        "alipay_platform_public.pem",
    )
}

fn login(mock: &Mock) -> AlipayLogin {
    AlipayLogin::new(Arc::new(client(mock)))
}

fn assert_refused(error: &AlipayError, expected_code: &str, expected_sub_code: &str) {
    match error {
        AlipayError::Business { code, sub_code, .. } => {
            assert_eq!(code, expected_code, "{error:?}");
            assert_eq!(sub_code.as_deref(), Some(expected_sub_code), "{error:?}");
        }
        other => panic!("expected a business refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn oauth_token_gives_user_id_and_open_id_stable_per_code() {
    let mock = Mock::start().await;
    let client = client(&mock);
    let alice = client.oauth_token("mock-alice").await.unwrap();
    let again = client.oauth_token("mock-alice").await.unwrap();
    let bob = client.oauth_token("mock-bob").await.unwrap();

    let user_id = alice.user_id.as_deref().unwrap();
    assert!(
        user_id.starts_with("2088") && user_id.len() == 16,
        "{user_id}"
    );
    assert!(user_id.bytes().all(|b| b.is_ascii_digit()));
    assert!(alice.open_id.is_some());
    assert_eq!(
        (&alice.user_id, &alice.open_id),
        (&again.user_id, &again.open_id)
    );
    assert_ne!(alice.user_id, bob.user_id);
    assert_ne!(alice.open_id, bob.open_id);
    assert_eq!(alice.expires_in, 1_296_000);
    assert!(!format!("{alice:?}").contains(&alice.access_token));
}

#[tokio::test]
async fn an_app_in_open_id_mode_gets_only_the_open_id() {
    let mock = Mock::start().await;
    let user = login(&mock).login("openid-only-alice").await.unwrap();
    assert_eq!(user.user_id, None);
    assert!(user.open_id.is_some_and(|id| id.starts_with('0')));
}

#[tokio::test]
async fn an_invalid_code_is_a_signed_business_refusal() {
    let mock = Mock::start().await;
    let error = client(&mock).oauth_token("invalid").await.unwrap_err();
    assert_refused(&error, "40002", "isv.code-invalid");
    assert!(matches!(
        login(&mock).login("invalid").await,
        Err(AlipayLoginError::InvalidCode)
    ));
    assert!(matches!(
        login(&mock).login("").await,
        Err(AlipayLoginError::InvalidCode)
    ));
}

#[tokio::test]
async fn a_request_signed_with_the_wrong_private_key_is_refused_by_the_gateway() {
    let mock = Mock::start().await;
    let wrong_key = client_with_keys(
        &mock,
        APP_ID,
        "alipay_platform_private.pem",
        "alipay_platform_public.pem",
    );
    let error = wrong_key.oauth_token("mock-alice").await.unwrap_err();
    assert_refused(&error, "40002", "isv.invalid-signature");
    assert!(matches!(
        AlipayLogin::new(Arc::new(wrong_key))
            .login("mock-alice")
            .await,
        Err(AlipayLoginError::Gateway(AlipayError::Business { .. }))
    ));
}

#[tokio::test]
async fn an_answer_signed_with_another_key_fails_our_verification() {
    let mock = Mock::start().await;
    // Pitfall #1: the app's own public key configured where Alipay's belongs. The mock signs
    // with the platform key, so every answer is, for this client, signed with the wrong key.
    let wrong_alipay_key = client_with_keys(
        &mock,
        APP_ID,
        "alipay_app_private.pem",
        "alipay_app_public.pem",
    );
    let error = wrong_alipay_key
        .oauth_token("mock-alice")
        .await
        .unwrap_err();
    assert!(matches!(error, AlipayError::BadSignature(_)), "{error:?}");
}

#[tokio::test]
async fn the_gateway_checks_the_app_id_and_the_method() {
    let mock = Mock::start_with(&[("MOCK_ALIPAY_APP_ID", "2021000000000001")]).await;
    let error = client(&mock).oauth_token("mock-alice").await.unwrap_err();
    assert_refused(&error, "40002", "isv.invalid-app-id");

    let mock = Mock::start().await;
    let error = client(&mock)
        .call(
            "alipay.no.such.method",
            Some(serde_json::json!({"out_trade_no": "x"})),
            &[],
        )
        .await
        .unwrap_err();
    assert_refused(&error, "40002", "isv.invalid-method");
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_transport_error() {
    let nobody_listens = format!("http://127.0.0.1:{}/gateway.do", common::free_port());
    let client = AlipayClient::from_key_files(
        nobody_listens,
        APP_ID,
        dev_key("alipay_app_private.pem"),
        dev_key("alipay_platform_public.pem"),
        reqwest::Client::new(),
    )
    .unwrap();
    assert!(matches!(
        client.oauth_token("mock-alice").await,
        Err(AlipayError::Transport(_))
    ));
}
