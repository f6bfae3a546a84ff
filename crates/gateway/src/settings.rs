//! Typed configuration: `config/default.toml`, then `config/{GUAHAO_ENV}.toml` when present, then
//! `GUAHAO__SECTION__KEY` environment variables. Checked once at start, with messages that name
//! the offending key.

use chrono::NaiveTime;
use config::{Config, Environment, File};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Which deployment this is, from `GUAHAO_ENV` (default `development`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployEnv {
    Development,
    Test,
    Sandbox,
    Production,
}

impl DeployEnv {
    pub fn from_env() -> Result<Self, SettingsError> {
        match std::env::var("GUAHAO_ENV").as_deref() {
            Err(_) | Ok("") | Ok("development") => Ok(Self::Development),
            Ok("test") => Ok(Self::Test),
            Ok("sandbox") => Ok(Self::Sandbox),
            Ok("production") => Ok(Self::Production),
            Ok(other) => Err(SettingsError::Invalid {
                key: "GUAHAO_ENV".into(),
                problem: format!("{other:?} is not one of development, test, sandbox, production"),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Sandbox => "sandbox",
            Self::Production => "production",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: String, problem: String },
    #[error(
        "refusing to start in production: `{key}` {problem}. Set it in config/production.toml or \
         GUAHAO__{env_var} (see config/production.example.toml)"
    )]
    DevelopmentValueInProduction {
        key: String,
        env_var: String,
        problem: String,
    },
}

fn invalid(key: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

/// A secret from configuration: printed as `***` by `Debug`, so a settings dump in a log cannot
/// leak it. The clear value needs an explicit `expose()`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip, default = "default_env")]
    pub env: DeployEnv,
    /// The folder holding `config/`; relative paths in the settings are resolved against it.
    #[serde(skip)]
    pub root: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub wechat: WechatSettings,
    pub wechatpay: WechatPaySettings,
    pub alipay: AlipaySettings,
    pub sms: SmsSettings,
    pub booking: BookingSettings,
    pub pii: PiiSettings,
}

fn default_env() -> DeployEnv {
    DeployEnv::Development
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub public_base_url: String,
    pub trusted_proxies: Vec<String>,
    pub max_body_bytes: usize,
    pub shutdown_timeout_s: u64,
    pub workers: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    /// The pool's size (`booking_core::db::DEFAULT_MAX_CONNECTIONS` unless set).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

fn default_max_connections() -> u32 {
    booking_core::db::DEFAULT_MAX_CONNECTIONS
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: Secret,
    pub patient_token_ttl_s: u64,
    pub operator_token_ttl_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSettings {
    pub appid: String,
    pub secret: Secret,
    pub api_base: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatPaySettings {
    pub base_url: String,
    pub mchid: String,
    pub appid: String,
    pub merchant_serial_no: String,
    pub merchant_private_key_path: PathBuf,
    pub apiv3_key: Secret,
    pub platform_public_key_path: PathBuf,
    pub platform_public_key_id: String,
    /// Platform certificates still in use besides the public key: during WeChat Pay's move
    /// from certificates to the public key, and while a certificate is being rotated, answers
    /// and notifications arrive signed under either, told apart by `Wechatpay-Serial`.
    #[serde(default)]
    pub platform_certificates: Vec<PlatformCertificateSettings>,
}

/// One WeChat Pay platform certificate: its serial number and its public key (SPKI PEM, e.g.
/// `openssl x509 -in wechatpay_cert.pem -pubkey -noout`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformCertificateSettings {
    pub serial_no: String,
    pub public_key_path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipaySettings {
    pub gateway_url: String,
    pub app_id: String,
    pub app_private_key_path: PathBuf,
    pub alipay_public_key_path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    Aliyun,
    Tencent,
    Console,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub provider: SmsProvider,
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    pub sign_name: String,
    pub template_id: String,
    pub sdk_app_id: String,
    pub region: String,
    pub phone_interval_s: u64,
    pub phone_per_hour: u32,
    pub phone_per_day: u32,
    pub ip_per_hour: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingSettings {
    pub hold_ttl_s: u64,
    pub booking_window_days: u32,
    pub release_time: String,
    /// How often each replica looks for payments and refunds whose notification never came.
    pub payment_poll_interval_s: u64,
    /// How long a payment or refund waits for its notification before the provider is asked.
    pub payment_poll_after_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiSettings {
    pub encryption_key: Secret,
}

/// Development values that must never reach production, keyed by setting.
const DEVELOPMENT_SECRETS: &[(&str, &str)] = &[
    (
        "auth.jwt_secret",
        "dev-only-jwt-secret-change-me-0123456789abcdef",
    ),
    ("wechat.secret", "dev-only-wechat-app-secret"),
    ("wechatpay.apiv3_key", "dev-only-apiv3-key-0123456789abc"),
    ("sms.access_key_secret", "dev-only-sms-secret"),
    (
        "pii.encryption_key",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    ),
];

/// The committed, world-readable keys of `config/dev-keys/`.
const DEV_KEYS: &[&str] = &[
    include_str!("../../../config/dev-keys/wechatpay_merchant_private.pem"),
    include_str!("../../../config/dev-keys/wechatpay_merchant_public.pem"),
    include_str!("../../../config/dev-keys/wechatpay_platform_private.pem"),
    include_str!("../../../config/dev-keys/wechatpay_platform_public.pem"),
    include_str!("../../../config/dev-keys/wechatpay_platform_cert_private.pem"),
    include_str!("../../../config/dev-keys/wechatpay_platform_cert_public.pem"),
    include_str!("../../../config/dev-keys/alipay_app_private.pem"),
    include_str!("../../../config/dev-keys/alipay_app_public.pem"),
    include_str!("../../../config/dev-keys/alipay_platform_private.pem"),
    include_str!("../../../config/dev-keys/alipay_platform_public.pem"),
];

impl Settings {
    /// Loads and checks the settings. `root` is the folder holding `config/`: `GUAHAO_ROOT` or
    /// the current directory.
    pub fn load() -> Result<Self, SettingsError> {
        let root = std::env::var_os("GUAHAO_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::load_from(&root, DeployEnv::from_env()?)
    }

    pub fn load_from(root: &Path, env: DeployEnv) -> Result<Self, SettingsError> {
        let config_dir = root.join("config");
        let raw = Config::builder()
            .add_source(File::from(config_dir.join("default.toml")))
            .add_source(
                File::from(config_dir.join(format!("{}.toml", env.as_str()))).required(false),
            )
            .add_source(
                Environment::with_prefix("GUAHAO")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("server.trusted_proxies")
                    .try_parsing(true),
            )
            .build()?;
        let mut settings: Settings = raw.try_deserialize()?;
        settings.env = env;
        settings.root = root.to_path_buf();
        settings.check()?;
        Ok(settings)
    }

    /// Resolves a configured path against the project root.
    pub fn path(&self, configured: &Path) -> PathBuf {
        if configured.is_absolute() {
            configured.to_path_buf()
        } else {
            self.root.join(configured)
        }
    }

    pub fn bind_addr(&self) -> SocketAddr {
        self.server
            .bind
            .parse()
            .expect("checked in Settings::check")
    }

    pub fn release_time(&self) -> NaiveTime {
        NaiveTime::parse_from_str(&self.booking.release_time, "%H:%M")
            .expect("checked in Settings::check")
    }

    pub fn trusted_proxies(&self) -> Vec<IpAddr> {
        self.server
            .trusted_proxies
            .iter()
            .map(|p| p.parse().expect("checked in Settings::check"))
            .collect()
    }

    fn check(&self) -> Result<(), SettingsError> {
        self.server.bind.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "server.bind",
                format!(
                    "{:?} is not an address like 127.0.0.1:8080",
                    self.server.bind
                ),
            )
        })?;
        for proxy in &self.server.trusted_proxies {
            proxy.parse::<IpAddr>().map_err(|_| {
                invalid(
                    "server.trusted_proxies",
                    format!("{proxy:?} is not an IP address"),
                )
            })?;
        }
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        let db = &self.database.url;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                "must start with sqlite: or postgres://",
            ));
        }
        // Several comma-separated URLs are the seed nodes of a Redis Cluster.
        let redis = &self.redis.url;
        let redis_url = |url: &str| url.starts_with("redis://") || url.starts_with("rediss://");
        if !(redis.is_empty() || redis.split(',').map(str::trim).all(redis_url)) {
            return Err(invalid(
                "redis.url",
                "must be empty (in-process), one redis:// or rediss:// URL, or a comma-separated list of them (Redis Cluster seed nodes)",
            ));
        }
        let prefix = &self.redis.key_prefix;
        if prefix.is_empty() || prefix.contains(['{', '}', ' ']) {
            return Err(invalid(
                "redis.key_prefix",
                "must be non-empty, without braces or spaces",
            ));
        }
        if self.auth.jwt_secret.expose().len() < 32 {
            return Err(invalid("auth.jwt_secret", "must be at least 32 characters"));
        }
        for (key, ttl) in [
            ("auth.patient_token_ttl_s", self.auth.patient_token_ttl_s),
            ("auth.operator_token_ttl_s", self.auth.operator_token_ttl_s),
        ] {
            if !(60..=7 * 24 * 3600).contains(&ttl) {
                return Err(invalid(key, "must be between 60 and 604800 seconds"));
            }
        }
        if self.wechatpay.apiv3_key.expose().len() != 32 {
            return Err(invalid(
                "wechatpay.apiv3_key",
                "must be exactly 32 bytes (the APIv3 key)",
            ));
        }
        let key = self.pii.encryption_key.expose();
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "pii.encryption_key",
                "must be 64 hex characters (a 256-bit key)",
            ));
        }
        for (key, value) in [
            ("sms.phone_per_hour", self.sms.phone_per_hour),
            ("sms.phone_per_day", self.sms.phone_per_day),
            ("sms.ip_per_hour", self.sms.ip_per_hour),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if !(60..=3600).contains(&self.booking.hold_ttl_s) {
            return Err(invalid(
                "booking.hold_ttl_s",
                "must be between 60 and 3600 seconds",
            ));
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err(invalid(
                "database.max_connections",
                "must be between 1 and 1000",
            ));
        }
        if !(1..=90).contains(&self.booking.booking_window_days) {
            return Err(invalid(
                "booking.booking_window_days",
                "must be between 1 and 90",
            ));
        }
        NaiveTime::parse_from_str(&self.booking.release_time, "%H:%M")
            .map_err(|_| invalid("booking.release_time", "must be a time of day like 08:00"))?;
        for (key, path) in self.key_files() {
            let resolved = self.path(path);
            if !resolved.is_file() {
                return Err(invalid(
                    &key,
                    format!("{} is not a readable file", resolved.display()),
                ));
            }
        }
        if self.env == DeployEnv::Production {
            self.refuse_development_values()?;
        }
        Ok(())
    }

    fn key_files(&self) -> Vec<(String, &Path)> {
        let mut files = vec![
            (
                "wechatpay.merchant_private_key_path".to_owned(),
                self.wechatpay.merchant_private_key_path.as_path(),
            ),
            (
                "wechatpay.platform_public_key_path".to_owned(),
                self.wechatpay.platform_public_key_path.as_path(),
            ),
            (
                "alipay.app_private_key_path".to_owned(),
                self.alipay.app_private_key_path.as_path(),
            ),
            (
                "alipay.alipay_public_key_path".to_owned(),
                self.alipay.alipay_public_key_path.as_path(),
            ),
        ];
        for (i, certificate) in self.wechatpay.platform_certificates.iter().enumerate() {
            files.push((
                format!("wechatpay.platform_certificates[{i}].public_key_path"),
                certificate.public_key_path.as_path(),
            ));
        }
        files
    }

    fn secret(&self, key: &str) -> &str {
        match key {
            "auth.jwt_secret" => self.auth.jwt_secret.expose(),
            "wechat.secret" => self.wechat.secret.expose(),
            "wechatpay.apiv3_key" => self.wechatpay.apiv3_key.expose(),
            "sms.access_key_secret" => self.sms.access_key_secret.expose(),
            "pii.encryption_key" => self.pii.encryption_key.expose(),
            other => unreachable!("no secret named {other}"),
        }
    }

    fn refuse_development_values(&self) -> Result<(), SettingsError> {
        let refuse = |key: &str, problem: &str| SettingsError::DevelopmentValueInProduction {
            key: key.into(),
            env_var: key.replace('.', "__").to_uppercase(),
            problem: problem.into(),
        };
        for (key, dev_value) in DEVELOPMENT_SECRETS {
            if self.secret(key) == *dev_value {
                return Err(refuse(key, "still has its development value"));
            }
        }
        for (key, path) in self.key_files() {
            let content = std::fs::read_to_string(self.path(path)).unwrap_or_default();
            if DEV_KEYS.iter().any(|dev| dev.trim() == content.trim()) {
                return Err(refuse(
                    &key,
                    "points at a development key from config/dev-keys (TEST ONLY)",
                ));
            }
        }
        if self.sms.provider == SmsProvider::Console {
            return Err(refuse(
                "sms.provider",
                "is `console`, which only prints codes to the log",
            ));
        }
        Ok(())
    }
}
