//! The real Aliyun and Tencent clients against the real `miniprogram-mock` binary, which
//! checks their signatures the way the providers do and keeps what it accepted in an outbox.
//!
//! The binary must be built first: `cargo build -p miniprogram-mock` (`make test` builds every
//! binary before testing).

use kv_store::Stores;
use sms_verify::{
    AliyunConfig, AliyunSms, CodePolicy, InMemoryCodeStore, Purpose, SendError, SmsLimits,
    SmsSender, SmsVerifier, TencentConfig, TencentSms,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `target/<profile>/miniprogram-mock`, beside this test's `target/<profile>/deps/`.
fn mock_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join("miniprogram-mock");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p miniprogram-mock` (make test does)",
        path.display()
    );
    path
}

/// A running `miniprogram-mock serve` on a free port, stopped when dropped.
struct Mock {
    base_url: String,
    child: Child,
    http: reqwest::Client,
}

impl Mock {
    async fn start() -> Self {
        let port = test_support::free_port();
        let child = Command::new(mock_binary())
            .arg("serve")
            .env("MOCK_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start miniprogram-mock");
        let mock = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = mock.http.get(format!("{}/healthz", mock.base_url)).send();
            if health.await.is_ok_and(|r| r.status().is_success()) {
                return mock;
            }
            assert!(Instant::now() < deadline, "the mock did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Codes in the outbox for `phone`, oldest first.
    async fn codes(&self, phone: &str) -> Vec<(String, String)> {
        let body: serde_json::Value = self
            .http
            .get(format!("{}/mock/sms/outbox?phone={phone}", self.base_url))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|m| {
                (
                    m["provider"].as_str().unwrap().to_owned(),
                    m["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn aliyun(&self, secret: &str) -> AliyunSms {
        AliyunSms::new(AliyunConfig {
            endpoint: format!("{}/sms/aliyun", self.base_url),
            access_key_id: "dev-access-key-id".into(),
            access_key_secret: secret.into(),
            sign_name: "示例医院".into(),
            template_code: "SMS_123456789".into(),
        })
        .unwrap()
    }

    fn tencent(&self, secret: &str) -> TencentSms {
        TencentSms::new(TencentConfig {
            endpoint: format!("{}/sms/tencent", self.base_url),
            secret_id: "dev-access-key-id".into(),
            secret_key: secret.into(),
            sdk_app_id: "1400000000".into(),
            sign_name: "示例医院".into(),
            template_id: "1234567".into(),
            region: "ap-guangzhou".into(),
        })
        .unwrap()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SECRET: &str = "dev-only-sms-secret";

#[tokio::test]
async fn aliyun_delivers_and_a_wrong_secret_is_refused() {
    let mock = Mock::start().await;
    mock.aliyun(SECRET)
        .send_code("13800138001", "048213")
        .await
        .unwrap();
    mock.aliyun(SECRET)
        .send_code("13800138001", "000917")
        .await
        .unwrap();
    assert_eq!(
        mock.codes("13800138001").await,
        [
            ("aliyun".to_owned(), "048213".to_owned()),
            ("aliyun".to_owned(), "000917".to_owned())
        ]
    );

    match mock
        .aliyun("wrong-secret")
        .send_code("13800138002", "123456")
        .await
    {
        Err(SendError::Rejected { code, .. }) => assert_eq!(code, "SignatureDoesNotMatch"),
        other => panic!("expected SignatureDoesNotMatch, got {other:?}"),
    }
    assert!(mock.codes("13800138002").await.is_empty());
}

#[tokio::test]
async fn tencent_delivers_and_a_wrong_secret_is_refused() {
    let mock = Mock::start().await;
    mock.tencent(SECRET)
        .send_code("13800138003", "731904")
        .await
        .unwrap();
    assert_eq!(
        mock.codes("13800138003").await,
        [("tencent".to_owned(), "731904".to_owned())]
    );

    match mock
        .tencent("wrong-secret")
        .send_code("13800138004", "123456")
        .await
    {
        Err(SendError::Rejected { code, .. }) => assert_eq!(code, "AuthFailure.SignatureFailure"),
        other => panic!("expected AuthFailure.SignatureFailure, got {other:?}"),
    }
    assert!(mock.codes("13800138004").await.is_empty());
}

#[tokio::test]
async fn an_unreachable_provider_is_a_transport_error() {
    let port = test_support::free_port();
    let sms = AliyunSms::new(AliyunConfig {
        endpoint: format!("http://127.0.0.1:{port}/sms/aliyun"),
        access_key_id: "dev-access-key-id".into(),
        access_key_secret: SECRET.into(),
        sign_name: "示例医院".into(),
        template_code: "SMS_123456789".into(),
    })
    .unwrap();
    match sms.send_code("13800138005", "123456").await {
        Err(SendError::Transport(message)) => {
            assert!(!message.contains("123456"), "no code in errors: {message}")
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
}

/// The whole path a patient takes: send through each provider, read the SMS, verify.
#[tokio::test]
async fn a_code_sent_through_the_mock_verifies() {
    let mock = Mock::start().await;
    let senders: [(&str, Arc<dyn SmsSender>); 2] = [
        ("13800138006", Arc::new(mock.aliyun(SECRET))),
        ("13800138007", Arc::new(mock.tencent(SECRET))),
    ];
    for (phone, sender) in senders {
        let verifier = SmsVerifier::new(
            Arc::new(InMemoryCodeStore::default()),
            Stores::in_process().counters,
            sender,
            SmsLimits::default(),
            CodePolicy::default(),
            b"providers test key".to_vec(),
        );
        verifier
            .send(Purpose::BindPhone, phone, "127.0.0.1".parse().unwrap())
            .await
            .unwrap();
        let codes = mock.codes(phone).await;
        let (_, code) = codes.last().expect("a message");
        verifier
            .verify(Purpose::BindPhone, phone, code)
            .await
            .unwrap();
    }
}
