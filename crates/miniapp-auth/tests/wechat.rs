//! The WeChat clients against the real miniprogram-mock binary.

mod common;

use common::Mock;
use miniapp_auth::{Secret, WechatClient, WechatError};
use std::sync::Arc;

const APPID: &str = "wxd0000000000dev0";
const SECRET: &str = "dev-only-wechat-app-secret";

fn client(mock: &Mock) -> WechatClient {
    client_with(mock, APPID, SECRET)
}

fn client_with(mock: &Mock, appid: &str, secret: &str) -> WechatClient {
    WechatClient::new(
        &mock.base_url,
        appid,
        Secret::new(secret),
        reqwest::Client::new(),
    )
}

async fn token_fetches(mock: &Mock) -> u64 {
    let answer: serde_json::Value = reqwest::get(mock.url("/mock/wechat/token-fetches"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["count"].as_u64().unwrap()
}

#[tokio::test]
async fn code2session_gives_a_stable_openid_per_code() {
    let mock = Mock::start().await;
    let client = client(&mock);
    let alice = client.code2session("mock-alice").await.unwrap();
    let again = client.code2session("mock-alice").await.unwrap();
    let bob = client.code2session("mock-bob").await.unwrap();
    assert_eq!(alice.openid, again.openid);
    assert_eq!(alice.unionid, again.unionid);
    assert!(alice.unionid.is_some());
    assert_ne!(alice.openid, bob.openid);
    assert_ne!(alice.unionid, bob.unionid);
    // A fresh session key per login, never shown by Debug.
    assert_ne!(alice.session_key.expose(), again.session_key.expose());
    assert_eq!(alice.session_key.expose().len(), 24);
    let shown = format!("{alice:?}");
    assert!(!shown.contains(alice.session_key.expose()), "{shown}");
}

#[tokio::test]
async fn code2session_maps_wechat_errcodes() {
    let mock = Mock::start().await;
    let client = client(&mock);
    let outcome = |code: &'static str| {
        let client = client.clone();
        async move { client.code2session(code).await.unwrap_err() }
    };
    assert!(matches!(outcome("invalid").await, WechatError::InvalidCode));
    assert!(matches!(outcome("").await, WechatError::InvalidCode));
    assert!(matches!(
        outcome("ratelimited").await,
        WechatError::RateLimited
    ));
    assert!(matches!(outcome("risky").await, WechatError::RiskyUser));
    assert!(matches!(outcome("busy").await, WechatError::Busy));
}

#[tokio::test]
async fn a_wrong_secret_or_appid_is_a_configuration_error() {
    let mock = Mock::start().await;
    let wrong_secret = client_with(&mock, APPID, "not-the-secret")
        .code2session("mock-alice")
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_secret, WechatError::Other { errcode: 40125, .. }),
        "{wrong_secret:?}"
    );
    let wrong_appid = client_with(&mock, "wx-other", SECRET)
        .phone_number("phone-13800138000")
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_appid, WechatError::Other { errcode: 40013, .. }),
        "{wrong_appid:?}"
    );
}

#[tokio::test]
async fn transport_errors_do_not_carry_the_secret_in_the_url() {
    let nobody_listens = format!("http://127.0.0.1:{}", common::free_port());
    let client = WechatClient::new(
        nobody_listens,
        APPID,
        Secret::new(SECRET),
        reqwest::Client::new(),
    );
    let error = client.code2session("mock-alice").await.unwrap_err();
    assert!(matches!(error, WechatError::Transport(_)), "{error:?}");
    for text in [format!("{error}"), format!("{error:?}")] {
        assert!(
            !text.contains(SECRET) && !text.contains("mock-alice"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn phone_number_answers_the_verified_number() {
    let mock = Mock::start().await;
    let client = client(&mock);
    let phone = client.phone_number("phone-13800138000").await.unwrap();
    assert_eq!(phone.phone_number, "13800138000");
    assert_eq!(phone.pure_phone_number, "13800138000");
    assert_eq!(phone.country_code, "86");
    let shown = format!("{phone:?}");
    assert!(
        shown.contains("138****8000") && !shown.contains("13800138000"),
        "{shown}"
    );
    for bad in ["phone-123", "bogus", ""] {
        assert!(
            matches!(
                client.phone_number(bad).await,
                Err(WechatError::InvalidCode)
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_access_token_is_fetched_once_and_reused() {
    let mock = Mock::start().await;
    let client = client(&mock);
    let first = client.access_tokens().get().await.unwrap();
    for _ in 0..5 {
        client.phone_number("phone-13800138000").await.unwrap();
    }
    assert_eq!(client.access_tokens().get().await.unwrap(), first);
    assert_eq!(token_fetches(&mock).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_callers_cause_one_token_fetch() {
    let mock = Mock::start().await;
    let client = Arc::new(client(&mock));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = client.clone();
        calls.spawn(async move {
            client
                .phone_number(&format!("phone-139{i:08}"))
                .await
                .map(|p| p.phone_number)
        });
    }
    let mut answered = Vec::new();
    while let Some(result) = calls.join_next().await {
        answered.push(result.unwrap().unwrap());
    }
    assert_eq!(answered.len(), 50);
    assert_eq!(token_fetches(&mock).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_replaced_once_even_under_concurrency() {
    let mock = Mock::start().await;
    let client = Arc::new(client(&mock));
    client.phone_number("phone-13800138000").await.unwrap();
    assert_eq!(token_fetches(&mock).await, 1);

    // WeChat forgets the token (as after another server fetched a new one): 40001 next time.
    let revoked = reqwest::Client::new()
        .post(mock.url("/mock/wechat/revoke-tokens"))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        calls.spawn(async move { client.phone_number("phone-13800138000").await });
    }
    while let Some(result) = calls.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(token_fetches(&mock).await, 2);
}

#[tokio::test]
async fn a_token_refused_again_after_refreshing_is_an_error_not_a_loop() {
    let mock = Mock::start_with(&[("MOCK_WECHAT_TOKEN_EXPIRES_IN", "0")]).await;
    // Every token the mock issues is already expired (42001).
    let error = client(&mock)
        .phone_number("phone-13800138000")
        .await
        .unwrap_err();
    assert!(
        matches!(error, WechatError::Other { errcode: 42001, .. }),
        "{error:?}"
    );
    assert_eq!(token_fetches(&mock).await, 2);
}
