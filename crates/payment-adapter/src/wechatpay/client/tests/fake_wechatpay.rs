//! A one-request WeChat Pay on a loopback port: it records the request and answers with a
//! scripted status and body, signed (or not) the way the test asks.

use crate::keys::RsaPrivateKey;
use crate::wechatpay::response_message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const PUB_KEY_ID: &str = "PUB_KEY_ID_0000000000000000000000000000DEV1";

pub fn dev_key_path(name: &str) -> String {
    format!(
        "{}/../../config/dev-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// How the fake signs its answer.
#[derive(Clone, Copy)]
pub enum Signing {
    /// With the platform key, as WeChat Pay.
    Platform,
    /// With another key under the platform key's id: a forgery.
    Forged,
    /// No signature headers at all.
    Unsigned,
}

pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

pub struct FakeWechatPay {
    pub url: String,
    served: JoinHandle<Request>,
}

impl FakeWechatPay {
    pub async fn answering(status: u16, body: &str, signing: Signing) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let body = body.to_owned();
        let served = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = read_request(&mut stream).await;
            let mut head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nrequest-id: 08F4A6B00610\r\n",
                body.len()
            );
            if let Some(signer) = match signing {
                Signing::Platform => Some("wechatpay_platform_private.pem"),
                Signing::Forged => Some("wechatpay_merchant_private.pem"),
                Signing::Unsigned => None,
            } {
                let timestamp = chrono::Utc::now().timestamp().to_string();
                let nonce = "A1B2C3D4E5F60718293A4B5C6D7E8F90";
                let signature = RsaPrivateKey::from_file(dev_key_path(signer))
                    .unwrap()
                    .sign_base64(&response_message(&timestamp, nonce, body.as_bytes()))
                    .unwrap();
                head.push_str(&format!(
                    "wechatpay-timestamp: {timestamp}\r\nwechatpay-nonce: {nonce}\r\nwechatpay-signature: {signature}\r\nwechatpay-serial: {PUB_KEY_ID}\r\nwechatpay-signature-type: WECHATPAY2-SHA256-RSA2048\r\n"
                ));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.write_all(body.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            request
        });
        Self { url, served }
    }

    /// Accepts a connection and never answers.
    pub async fn silent() -> (String, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let (_stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        });
        (url, held)
    }

    pub async fn request(self) -> Request {
        self.served.await.unwrap()
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Request {
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
    let mut lines = head.lines();
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let target = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = buffer.split_off(head_end);
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "client closed before the end of the body");
        body.extend_from_slice(&chunk[..read]);
    }
    Request {
        method,
        target,
        headers,
        body,
    }
}
