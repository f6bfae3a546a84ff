//! miniprogram-mock: a simulator of everything outside guahao — the WeChat and Alipay platform
//! APIs (`wechat`, `alipay`), both payment providers (`wechatpay`, `alipay`) with the notification
//! dispatcher (`notify`), the SMS providers (`sms`), and a mini-program client (`demo`).

mod alipay;
mod demo;
mod dev_keys;
mod notify;
mod sms;
mod wechat;
mod wechatpay;

use actix_web::{App, HttpResponse, HttpServer, get, web};
use clap::{Parser, Subcommand};

/// Simulator of the WeChat / Alipay platforms, payment providers and SMS gateways for guahao.
#[derive(Parser)]
#[command(name = "miniprogram-mock", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulated outside world (the default). Binds MOCK_BIND, default 127.0.0.1:8090.
    Serve,
    // Its help text is the doc comment of `DemoArgs`.
    Demo(demo::DemoArgs),
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok", "service": "miniprogram-mock"}))
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt().with_target(false).init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let bind = std::env::var("MOCK_BIND").unwrap_or_else(|_| "127.0.0.1:8090".into());
            // Built once, outside the per-worker factory, so all workers share one simulation.
            let wechat = web::Data::new(wechat::State::from_env()?);
            let alipay = web::Data::new(alipay::State::from_env()?);
            let sms = web::Data::new(sms::State::from_env()?);
            let notifier = web::Data::new(notify::Notifier::from_env());
            let wechatpay = web::Data::new(wechatpay::State::from_env()?);
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(notifier.clone())
                    .service(healthz)
                    .configure(|cfg| {
                        notify::configure(cfg, &notifier);
                        wechat::configure(cfg, &wechat);
                        wechatpay::configure(cfg, &wechatpay);
                        alipay::configure(cfg, &alipay);
                        sms::configure(cfg, &sms);
                    })
            })
            .workers(1)
            // Like the providers' front ends (and nginx's default), not actix's 5 s.
            .keep_alive(std::time::Duration::from_secs(75))
            .bind(&bind)?;
            for addr in server.addrs() {
                tracing::info!(%addr, "miniprogram-mock listening");
            }
            server.run().await?;
        }
        Command::Demo(args) => demo::run(args).await,
    }
    Ok(())
}
