//! Per-request context: the request id (taken from a sane incoming `X-Request-Id` or made up) and
//! the language chosen from `Accept-Language`. Both live in a task-local for the request's
//! lifetime, so errors rendered deep inside a handler still carry them.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use booking_core::catalog::Language;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub language: Language,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The current request's context, or a neutral one outside any request.
pub fn current() -> RequestContext {
    CONTEXT
        .try_with(Clone::clone)
        .unwrap_or_else(|_| RequestContext {
            request_id: String::new(),
            language: Language::default(),
        })
}

/// Accepts an upstream id only if it is short and plain, so it cannot inject into logs.
fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    sane.then(|| value.to_owned())
}

/// Picks Chinese or English from `Accept-Language`, honouring q-values; Chinese by default.
pub fn negotiate_language(accept_language: Option<&str>) -> Language {
    let Some(header) = accept_language else {
        return Language::default();
    };
    let mut best: Option<(f32, Language)> = None;
    for part in header.split(',') {
        let mut pieces = part.trim().split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = pieces
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let language = if tag == "en" || tag.starts_with("en-") {
            Language::En
        } else if tag == "zh" || tag.starts_with("zh-") {
            Language::Zh
        } else {
            continue;
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, language));
        }
    }
    best.map(|(_, language)| language).unwrap_or_default()
}

/// Outermost middleware: assigns the context, opens the request's tracing span, logs the outcome
/// and stamps `X-Request-Id` and `Content-Language` on the response.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let language = negotiate_language(
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.path(),
    );
    let context = RequestContext {
        request_id: request_id.clone(),
        language,
    };
    let started = Instant::now();
    let result = CONTEXT
        .scope(context, next.call(req))
        .instrument(span.clone())
        .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut response = result?;
    let status = response.status().as_u16();
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, elapsed_ms, "request failed");
        } else {
            tracing::info!(status, elapsed_ms, "request done");
        }
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(language.tag()),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_negotiation() {
        assert_eq!(negotiate_language(None), Language::Zh);
        assert_eq!(negotiate_language(Some("en-US,en;q=0.9")), Language::En);
        assert_eq!(
            negotiate_language(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Language::Zh
        );
        assert_eq!(negotiate_language(Some("fr-FR, en;q=0.5")), Language::En);
        assert_eq!(
            negotiate_language(Some("en;q=0.3, zh-TW;q=0.7")),
            Language::Zh
        );
        assert_eq!(negotiate_language(Some("en;q=0")), Language::Zh);
        assert_eq!(negotiate_language(Some("de")), Language::Zh);
    }
}
