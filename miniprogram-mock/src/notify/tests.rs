use super::*;
use actix_web::{App, HttpRequest, HttpServer, test as actix_test};
use std::time::Instant;

/// A merchant `notify_url`: answers from a script (the last answer repeats) and remembers what
/// it received.
struct Merchant {
    answers: Vec<(u16, &'static str)>,
    received: Mutex<Vec<Received>>,
}

#[derive(Clone, Debug)]
struct Received {
    body: Vec<u8>,
    content_type: Option<String>,
    marker: Option<String>,
}

impl Merchant {
    fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }
}

async fn merchant_answer(
    merchant: web::Data<Merchant>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let index = {
        let mut received = lock(&merchant.received);
        received.push(Received {
            body: body.to_vec(),
            content_type: header("content-type"),
            marker: header("x-test-marker"),
        });
        received.len() - 1
    };
    let (status, text) = merchant.answers[index.min(merchant.answers.len() - 1)];
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(text)
}

/// Starts a merchant on a free port; returns its state and its notify_url.
fn start_merchant(answers: Vec<(u16, &'static str)>) -> (web::Data<Merchant>, String) {
    let merchant = web::Data::new(Merchant {
        answers,
        received: Mutex::new(Vec::new()),
    });
    let shared = merchant.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .default_service(web::to(merchant_answer))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (merchant, format!("http://{addr}/notify"))
}

fn wechat_style(url: &str, body: &str) -> Outgoing {
    Outgoing {
        provider: "wechatpay",
        url: url.to_owned(),
        content_type: "application/json",
        headers: vec![("X-Test-Marker".to_owned(), body.to_owned())],
        sign_each_attempt: None,
        body: body.as_bytes().to_vec(),
        accepted: |status, _| (200..300).contains(&status),
        retry_delays_s: &[15, 15, 30],
    }
}

fn alipay_style(url: &str) -> Outgoing {
    Outgoing {
        provider: "alipay",
        url: url.to_owned(),
        content_type: "application/x-www-form-urlencoded; charset=utf-8",
        headers: Vec::new(),
        sign_each_attempt: None,
        body: b"trade_status=TRADE_SUCCESS".to_vec(),
        accepted: |status, body| (200..300).contains(&status) && body == b"success",
        retry_delays_s: &[240, 600],
    }
}

/// Waits (at most 5 s) until the log satisfies `done`, then returns it.
async fn log_when(
    notifier: &Notifier,
    done: impl Fn(&[DeliveryRecord]) -> bool,
) -> Vec<DeliveryRecord> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = notifier.log();
        if done(&log) || Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn set(notifier: &Notifier, behaviour: Behaviour) {
    *lock(&notifier.behaviour) = behaviour;
}

#[actix_web::test]
async fn retries_on_the_provider_schedule_until_the_merchant_accepts() {
    let (merchant, url) = start_merchant(vec![(500, "FAIL"), (503, ""), (204, "")]);
    let notifier = Notifier::with_time_scale(0.001);

    notifier.dispatch(wechat_style(&url, "{\"id\":\"EV-1\"}"));

    let log = log_when(&notifier, |log| log.iter().any(|r| r.accepted)).await;
    let attempts: Vec<_> = log
        .iter()
        .map(|r| (r.attempt, r.status, r.accepted))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Some(500), false),
            (2, Some(503), false),
            (3, Some(204), true)
        ]
    );
    let received = merchant.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.body == b"{\"id\":\"EV-1\"}"
        && r.content_type.as_deref() == Some("application/json")
        && r.marker.as_deref() == Some("{\"id\":\"EV-1\"}")));
}

#[actix_web::test]
async fn the_providers_acceptance_rule_decides_not_the_status_alone() {
    let (merchant, url) = start_merchant(vec![(200, "fail"), (200, "success")]);
    let notifier = Notifier::with_time_scale(0.001);

    notifier.dispatch(alipay_style(&url));

    let log = log_when(&notifier, |log| log.iter().any(|r| r.accepted)).await;
    let accepted: Vec<_> = log.iter().map(|r| (r.attempt, r.accepted)).collect();
    assert_eq!(accepted, [(1, false), (2, true)]);
    assert_eq!(
        merchant.received()[0].content_type.as_deref(),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
}

#[actix_web::test]
async fn gives_up_when_the_schedule_runs_out() {
    let (merchant, url) = start_merchant(vec![(500, "")]);
    let notifier = Notifier::with_time_scale(0.001);

    notifier.dispatch(wechat_style(&url, "{}"));

    // One first attempt plus one per retry delay, then nothing more.
    let log = log_when(&notifier, |log| log.len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.len(), 4);
    assert_eq!(notifier.log().len(), 4);
    assert_eq!(merchant.received().len(), 4);
    assert!(log.iter().all(|r| !r.accepted && r.status == Some(500)));
}

#[actix_web::test]
async fn an_unreachable_merchant_is_logged_as_a_transport_failure() {
    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/notify", listener.local_addr().unwrap())
    };
    let notifier = Notifier::with_time_scale(0.001);

    notifier.dispatch(wechat_style(&unreachable, "{}"));

    let log = log_when(&notifier, |log| log.len() >= 4).await;
    assert_eq!(log.len(), 4);
    assert!(
        log.iter()
            .all(|r| r.status.is_none() && r.error.is_some() && !r.dropped)
    );
}

#[actix_web::test]
async fn dropped_notifications_are_never_sent() {
    let (merchant, url) = start_merchant(vec![(200, "")]);
    let notifier = Notifier::with_time_scale(0.001);
    set(
        &notifier,
        Behaviour {
            drop: 2,
            ..Behaviour::default()
        },
    );

    for body in ["lost-1", "lost-2", "delivered"] {
        notifier.dispatch(wechat_style(&url, body));
    }

    let log = log_when(&notifier, |log| log.iter().any(|r| r.accepted)).await;
    let outcomes: Vec<_> = log.iter().map(|r| (r.attempt, r.dropped)).collect();
    assert_eq!(outcomes, [(0, true), (0, true), (1, false)]);
    let received = merchant.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, b"delivered");
    assert_eq!(lock(&notifier.behaviour).drop, 0);
}

#[actix_web::test]
async fn copies_send_each_notification_several_times() {
    let (merchant, url) = start_merchant(vec![(200, "")]);
    let notifier = Notifier::with_time_scale(0.001);
    set(
        &notifier,
        Behaviour {
            copies: Some(3),
            ..Behaviour::default()
        },
    );

    notifier.dispatch(wechat_style(&url, "dup"));

    let log = log_when(&notifier, |log| log.len() >= 3).await;
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|r| r.attempt == 1 && r.accepted));
    assert_eq!(merchant.received().len(), 3);
}

#[actix_web::test]
async fn delay_postpones_the_first_attempt() {
    let (merchant, url) = start_merchant(vec![(200, "")]);
    let notifier = Notifier::with_time_scale(0.001);
    set(
        &notifier,
        Behaviour {
            delay_ms: 300,
            ..Behaviour::default()
        },
    );
    let started = Instant::now();

    notifier.dispatch(wechat_style(&url, "late"));

    log_when(&notifier, |log| !log.is_empty()).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(merchant.received().len(), 1);
}

#[actix_web::test]
async fn held_notifications_wait_for_release_and_arrive_newest_first() {
    let (merchant, url) = start_merchant(vec![(200, "")]);
    let notifier = Notifier::with_time_scale(0.001);
    set(
        &notifier,
        Behaviour {
            hold: true,
            ..Behaviour::default()
        },
    );

    for body in ["first", "second", "third"] {
        notifier.dispatch(wechat_style(&url, body));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(merchant.received().is_empty());
    assert!(notifier.log().is_empty());

    assert_eq!(notifier.release(), 3);

    log_when(&notifier, |log| log.len() >= 3).await;
    let order: Vec<_> = merchant.received().into_iter().map(|r| r.body).collect();
    assert_eq!(order, [&b"third"[..], b"second", b"first"]);
    assert_eq!(notifier.release(), 0);
}

#[actix_web::test]
async fn the_test_hooks_set_behaviour_release_and_show_the_log() {
    let (_merchant, url) = start_merchant(vec![(200, "")]);
    let notifier = web::Data::new(Notifier::with_time_scale(0.001));
    let app = actix_test::init_service(App::new().configure(|cfg| configure(cfg, &notifier))).await;

    let set_hold = actix_test::TestRequest::post()
        .uri("/mock/notifications/behaviour")
        .set_json(serde_json::json!({"hold": true, "copies": 2}))
        .to_request();
    assert_eq!(actix_test::call_service(&app, set_hold).await.status(), 204);
    assert_eq!(
        *lock(&notifier.behaviour),
        Behaviour {
            copies: Some(2),
            hold: true,
            ..Behaviour::default()
        }
    );

    let unknown_knob = actix_test::TestRequest::post()
        .uri("/mock/notifications/behaviour")
        .set_json(serde_json::json!({"reorder": true}))
        .to_request();
    assert_eq!(
        actix_test::call_service(&app, unknown_knob).await.status(),
        400
    );

    notifier.dispatch(wechat_style(&url, "held"));
    let release = actix_test::TestRequest::post()
        .uri("/mock/notifications/release")
        .to_request();
    let released: serde_json::Value = actix_test::call_and_read_body_json(&app, release).await;
    assert_eq!(released, serde_json::json!({"released": 1}));

    log_when(&notifier, |log| log.len() >= 2).await;
    let shown: serde_json::Value = actix_test::call_and_read_body_json(
        &app,
        actix_test::TestRequest::get()
            .uri("/mock/notifications")
            .to_request(),
    )
    .await;
    let items = shown["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["provider"], "wechatpay");
    assert_eq!(items[0]["url"], url.as_str());
    assert_eq!(items[0]["attempt"], 1);
    assert_eq!(items[0]["status"], 200);
    assert_eq!(items[0]["accepted"], true);
    assert!(items[0]["time"].as_str().unwrap().ends_with('Z'));

    let reset = actix_test::TestRequest::post()
        .uri("/mock/notifications/behaviour")
        .set_json(serde_json::json!({}))
        .to_request();
    assert_eq!(actix_test::call_service(&app, reset).await.status(), 204);
    assert_eq!(*lock(&notifier.behaviour), Behaviour::default());
}
