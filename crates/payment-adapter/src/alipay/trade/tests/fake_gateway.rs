//! A one-request HTTP server standing in for `gateway.do`: it records what the client sent and
//! answers a fixed body, so each trade call is tested over real HTTP without the mock binary.

use crate::alipay::{AlipayClient, response_node_name};
use crate::keys::{RsaPrivateKey, RsaPublicKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub(super) fn dev_key_path(name: &str) -> String {
    format!(
        "{}/../../config/dev-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A client of `gateway_url` with the dev keys, as `config/default.toml` sets it up.
pub(super) fn client(gateway_url: &str) -> AlipayClient {
    AlipayClient::from_key_files(
        gateway_url,
        "2021000000000000",
        dev_key_path("alipay_app_private.pem"),
        dev_key_path("alipay_platform_public.pem"),
        reqwest::Client::new(),
    )
    .unwrap()
}

/// The body Alipay answers `method` with: the node, and `sign` over its exact text.
pub(super) fn signed_answer(method: &str, node: &str) -> String {
    let key = RsaPrivateKey::from_file(dev_key_path("alipay_platform_private.pem")).unwrap();
    let sign = key.sign_base64(node.as_bytes()).unwrap();
    format!(
        r#"{{"{}":{node},"sign":"{sign}"}}"#,
        response_node_name(method)
    )
}

/// What the client sent.
pub(super) struct Request {
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
}

impl Request {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn in_query(&self, name: &str) -> bool {
        self.query.iter().any(|(key, _)| key == name)
    }

    pub fn biz_content(&self) -> serde_json::Value {
        serde_json::from_str(self.param("biz_content").expect("biz_content")).unwrap()
    }

    /// Checks `sign` the way the gateway does, with the app's public key.
    pub fn assert_signed_by_the_app(&self) {
        let params: Vec<(&str, &str)> = self
            .query
            .iter()
            .chain(&self.form)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let key = RsaPublicKey::from_file(dev_key_path("alipay_app_public.pem")).unwrap();
        crate::alipay::verify_params(&params, self.param("sign").expect("sign"), &key).unwrap();
    }
}

pub(super) struct FakeGateway {
    pub url: String,
    served: JoinHandle<Request>,
}

impl FakeGateway {
    /// Serves one request with `answer` as the HTTP 200 body.
    pub async fn answering(answer: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/gateway.do", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let (head, body) = read_request(&mut stream).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json;charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            stream.write_all(response.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            let target = head.split(' ').nth(1).expect("request target");
            let query = target.split_once('?').map_or("", |(_, query)| query);
            Request {
                query: form_pairs(query.as_bytes()),
                form: form_pairs(&body),
            }
        });
        Self { url, served }
    }

    pub async fn request(self) -> Request {
        self.served.await.unwrap()
    }
}

/// The request line and headers as text, and the body by `content-length`.
async fn read_request(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut buffer = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "client closed before the end of the headers");
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| value.trim().parse().unwrap());
    let mut body = buffer.split_off(head_end);
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "client closed before the end of the body");
        body.extend_from_slice(&chunk[..read]);
    }
    (head, body)
}

fn form_pairs(encoded: &[u8]) -> Vec<(String, String)> {
    let mut url = reqwest::Url::parse("http://decode.invalid/").unwrap();
    url.set_query(Some(std::str::from_utf8(encoded).unwrap()));
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
