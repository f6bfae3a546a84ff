//! What every handler can reach: the domain services, the platform clients and the stores,
//! built once per process and shared by all workers.

use crate::auth::tokens::TokenService;
use crate::payments::PaymentChannels;
use crate::settings::{Settings, SmsProvider};
use anyhow::Context;
use booking_core::accounts::{Accounts, Patients};
use booking_core::bookings::BookingService;
use booking_core::bookings::rule_sets::RuleSets;
use booking_core::bookings::suspensions::Suspensions;
use booking_core::catalog::Catalog;
use booking_core::checkin::VisitCodeSigner;
use booking_core::clock::Clock;
use booking_core::operators::Operators;
use booking_core::payments::{CallbackLog, PaymentService};
use booking_core::pii::PiiCipher;
use kv_store::Stores;
use miniapp_auth::{AlipayLogin, Secret, WechatClient};
use payment_adapter::alipay::AlipayClient;
use sea_orm::DatabaseConnection;
use sms_verify::{
    AliyunConfig, AliyunSms, CodePolicy, CodeStore, ConsoleSms, InMemoryCodeStore, RedisCodeStore,
    SmsLimits, SmsSender, SmsVerifier, TencentConfig, TencentSms,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub stores: Stores,
    pub clock: Arc<dyn Clock>,
    pub catalog: Catalog,
    pub tokens: TokenService,
    pub cipher: Arc<PiiCipher>,
    pub accounts: Accounts,
    pub patients: Patients,
    pub bookings: BookingService,
    pub payments: PaymentService,
    pub payment_channels: PaymentChannels,
    pub callbacks: CallbackLog,
    pub visit_codes: VisitCodeSigner,
    pub operators: Operators,
    pub rule_sets: RuleSets,
    pub suspensions: Suspensions,
    pub wechat: WechatClient,
    pub alipay_login: AlipayLogin,
    pub sms: SmsVerifier,
    pub trusted_proxies: Vec<IpAddr>,
}

/// Outbound calls to platforms must not hang a request: WeChat answers in well under a second.
/// Idle connections are dropped after 4 s, before a server's keep-alive (5 s at the shortest
/// common default) closes them: reusing a connection the server is closing fails the request,
/// and a login code cannot safely be sent twice.
fn platform_http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(8))
        .pool_idle_timeout(Duration::from_secs(4))
        .build()
        .context("building the HTTP client for platform calls")
}

impl AppState {
    pub fn build(
        settings: Arc<Settings>,
        db: DatabaseConnection,
        stores: Stores,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let cipher = Arc::new(
            PiiCipher::from_hex_key(settings.pii.encryption_key.expose())
                .context("pii.encryption_key")?,
        );
        let http = platform_http_client()?;
        let wechat = WechatClient::new(
            settings.wechat.api_base.clone(),
            settings.wechat.appid.clone(),
            Secret::new(settings.wechat.secret.expose()),
            http.clone(),
        );
        let alipay = Arc::new(
            AlipayClient::from_key_files(
                settings.alipay.gateway_url.clone(),
                settings.alipay.app_id.clone(),
                settings.path(&settings.alipay.app_private_key_path),
                settings.path(&settings.alipay.alipay_public_key_path),
                http.clone(),
            )
            .context("alipay.app_private_key_path / alipay.alipay_public_key_path")?,
        );
        let (providers, payment_channels) =
            crate::payments::build(&settings, http, alipay.clone())?;
        let sms = sms_verifier(&settings, &stores, &cipher)?;
        let inventory = booking_core::inventory::inventory_from_config(
            &settings.redis.url,
            &settings.redis.key_prefix,
        )
        .context("setting up the slot inventory")?;
        let bookings = BookingService::new(db.clone(), inventory, clock.clone());
        Ok(Self {
            catalog: Catalog::new(db.clone(), clock.clone()),
            tokens: TokenService::new(
                settings.auth.jwt_secret.expose(),
                settings.auth.patient_token_ttl_s,
                settings.auth.operator_token_ttl_s,
            ),
            accounts: Accounts::new(db.clone()),
            patients: Patients::new(db.clone(), cipher.clone()),
            operators: Operators::new(db.clone(), clock.clone()),
            rule_sets: RuleSets::new(db.clone(), clock.clone()),
            suspensions: Suspensions::new(db.clone(), clock.clone()),
            payments: PaymentService::new(bookings.clone(), providers),
            payment_channels,
            callbacks: CallbackLog::new(db.clone()),
            bookings,
            visit_codes: VisitCodeSigner::new(settings.auth.jwt_secret.expose().as_bytes()),
            wechat,
            alipay_login: AlipayLogin::new(alipay),
            sms,
            trusted_proxies: settings.trusted_proxies(),
            cipher,
            settings,
            db,
            stores,
            clock,
        })
    }
}

fn sms_verifier(
    settings: &Settings,
    stores: &Stores,
    cipher: &PiiCipher,
) -> anyhow::Result<SmsVerifier> {
    let sms = &settings.sms;
    let sender: Arc<dyn SmsSender> = match sms.provider {
        SmsProvider::Aliyun => Arc::new(
            AliyunSms::new(AliyunConfig {
                endpoint: sms.endpoint.clone(),
                access_key_id: sms.access_key_id.clone(),
                access_key_secret: sms.access_key_secret.expose().to_owned(),
                sign_name: sms.sign_name.clone(),
                template_code: sms.template_id.clone(),
            })
            .context("sms.endpoint")?,
        ),
        SmsProvider::Tencent => Arc::new(
            TencentSms::new(TencentConfig {
                endpoint: sms.endpoint.clone(),
                secret_id: sms.access_key_id.clone(),
                secret_key: sms.access_key_secret.expose().to_owned(),
                sdk_app_id: sms.sdk_app_id.clone(),
                sign_name: sms.sign_name.clone(),
                template_id: sms.template_id.clone(),
                region: sms.region.clone(),
            })
            .context("sms.endpoint")?,
        ),
        SmsProvider::Console => Arc::new(ConsoleSms),
    };
    let store: Arc<dyn CodeStore> = if settings.redis.url.trim().is_empty() {
        Arc::new(InMemoryCodeStore::default())
    } else {
        Arc::new(RedisCodeStore::new(
            &settings.redis.url,
            &settings.redis.key_prefix,
        )?)
    };
    let limits = SmsLimits {
        phone_interval_s: sms.phone_interval_s,
        phone_per_hour: sms.phone_per_hour,
        phone_per_day: sms.phone_per_day,
        ip_per_hour: sms.ip_per_hour,
    };
    // The code digests get their own key, derived from the PII key, rather than reusing the
    // AES key under HMAC.
    let hash_key = cipher.keyed_hash("sms-code-hash-key", "v1").into_bytes();
    Ok(SmsVerifier::new(
        store,
        stores.counters.clone(),
        sender,
        limits,
        CodePolicy::default(),
        hash_key,
    ))
}
