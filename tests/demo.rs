//! `miniprogram-mock demo` end to end: the real binary walks a patient through both channels
//! against a real gateway and mock, runs again without colliding with its earlier runs, checks
//! in with an operator account (or prints why the gateway will not yet), and fails loudly with
//! the HTTP status and body when the server answers something it did not expect.

use e2e::{Gateway, GatewayOptions, Mock};
use std::process::Output;

/// Long enough for `guahao operator create`; never printed by the demo.
const OPERATOR_PASSWORD: &str = "demo-operator-Pa55word";

/// A gateway on SQLite with the demo catalog, every outside service (SMS included) at `mock`.
async fn gateway_at(mock: &Mock) -> Gateway {
    Gateway::start_with(GatewayOptions {
        extra_env: mock.env_with(vec![
            ("GUAHAO__SMS__PROVIDER".into(), "aliyun".into()),
            (
                "GUAHAO__SMS__ENDPOINT".into(),
                format!("{}/sms/aliyun", mock.base_url),
            ),
        ]),
        ..GatewayOptions::default()
    })
    .await
}

/// Runs `miniprogram-mock demo ARGS` with `env` and waits for it.
async fn run_demo(args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(e2e::binary("miniprogram-mock"))
        .arg("demo")
        .args(args)
        // Only what the test passes: not a password from the environment it runs in.
        .env_remove("DEMO_OPERATOR_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run miniprogram-mock demo")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The stdout of a run that must have succeeded.
fn succeeded(output: &Output) -> String {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(
        output.status.success(),
        "demo failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// The line of step `n` (`[n/10] …`).
fn step_line(stdout: &str, n: usize) -> &str {
    let prefix = format!("[{n}/10] ");
    stdout
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no step {n} in:\n{stdout}"))
}

#[tokio::test]
async fn a_wechat_patient_is_walked_to_confirmation_twice_over() {
    let mock = Mock::start().await;
    let gateway = gateway_at(&mock).await;
    let args = [
        "--gateway",
        &gateway.base_url,
        "--mock",
        &mock.base_url,
        "--channel",
        "wechat",
    ];

    let first = succeeded(&run_demo(&args, &[]).await);
    for (n, expected) in [
        (1, "log in with WeChat"),
        (2, "the mock's outbox shows code "),
        (3, "phone 139****"),
        (4, "with resident ID 110105********"),
        (5, "place(s) left"),
        (6, "pending_payment"),
        (6, "wx.requestPayment package prepay_id="),
        (7, "TRANSACTION.SUCCESS"),
        (8, "confirmed, visit number 1 "),
        (9, "valid until"),
        (10, "not tried (no --operator-username/--operator-password)"),
    ] {
        let line = step_line(&first, n);
        assert!(line.contains(expected), "step {n}: {line}\n{first}");
    }
    assert_eq!(
        first.lines().count(),
        11,
        "a header and ten steps:\n{first}"
    );

    // A second run is a new person: no duplicate patient, SMS cooldown or idempotency replay.
    let second = succeeded(&run_demo(&args, &[]).await);
    assert!(
        step_line(&second, 8).contains("confirmed, visit number 2 "),
        "{second}"
    );
}

#[tokio::test]
async fn an_alipay_patient_is_confirmed_and_checked_in_or_told_why_not() {
    let mock = Mock::start().await;
    let gateway = gateway_at(&mock).await;
    gateway.create_operator("demo-kiosk", "kiosk", None, OPERATOR_PASSWORD);

    let output = run_demo(
        &[
            "--gateway",
            &gateway.base_url,
            "--mock",
            &mock.base_url,
            "--channel",
            "alipay",
            "--operator-username",
            "demo-kiosk",
        ],
        &[("DEMO_OPERATOR_PASSWORD", OPERATOR_PASSWORD)],
    )
    .await;
    let stdout = succeeded(&output);
    assert!(
        step_line(&stdout, 1).contains("log in with Alipay"),
        "{stdout}"
    );
    assert!(
        step_line(&stdout, 6).contains("my.tradePay tradeNO "),
        "{stdout}"
    );
    assert!(step_line(&stdout, 7).contains("TRADE_SUCCESS"), "{stdout}");
    assert!(
        step_line(&stdout, 8).contains("confirmed, visit number 1 "),
        "{stdout}"
    );
    // Whether the gateway lets the patient in depends on the wall clock: on the visit day within
    // the segment's window it does, at any other time it says why not.
    let check_in = step_line(&stdout, 10);
    let checked_in =
        check_in.contains("checked in by demo-kiosk: queue position 1, booking checked_in");
    let told_why_not = check_in
        .contains("refused (as expected outside the visit's check-in window)")
        && [
            "VISIT_CODE_WRONG_DAY",
            "CHECK_IN_TOO_EARLY",
            "CHECK_IN_TOO_LATE",
        ]
        .iter()
        .any(|code| check_in.contains(code));
    assert!(checked_in || told_why_not, "{check_in}");
    assert!(
        !stdout.contains(OPERATOR_PASSWORD) && !text(&output.stderr).contains(OPERATOR_PASSWORD),
        "the password was printed"
    );
}

#[tokio::test]
async fn an_unexpected_answer_fails_with_the_status_and_body() {
    // The mock is no gateway: it answers the login with 404.
    let mock = Mock::start().await;
    let output = run_demo(
        &["--gateway", &mock.base_url, "--mock", &mock.base_url],
        // The report is for people: no backtrace even when one is asked for.
        &[("RUST_BACKTRACE", "1")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    assert!(
        stderr.contains(&format!(
            "step 1/10 (log in with WeChat (wx.login → code2Session)): POST {}/api/v1/auth/wechat/login: HTTP 404 Not Found",
            mock.base_url
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");
}

#[tokio::test]
async fn help_explains_the_walk_and_its_options() {
    let output = run_demo(&["--help"], &[]).await;
    let help = succeeded(&output);
    for expected in [
        "login → SMS → patient → book → pay → confirmed → check-in",
        "--gateway <URL>",
        "--mock <URL>",
        "--channel <CHANNEL>",
        "wechat",
        "alipay",
        "--operator-username <USERNAME>",
        "DEMO_OPERATOR_PASSWORD",
        "guahao operator create",
    ] {
        assert!(
            help.contains(expected),
            "{expected:?} missing from:\n{help}"
        );
    }
}
