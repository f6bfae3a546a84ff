//! Structured logs: JSON lines in production (for the log pipeline), readable text elsewhere.
//! Every line inside a request carries its `request_id` through the request span.

use crate::settings::DeployEnv;
use tracing_subscriber::EnvFilter;

const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,actix_server=warn";

pub fn init(env: DeployEnv) {
    init_with(
        env,
        std::io::stdout,
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
    );
}

/// For commands whose stdout is their result (`guahao operator create` prints an id).
pub fn init_to_stderr(env: DeployEnv) {
    init_with(
        env,
        std::io::stderr,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
}

fn init_with<W>(env: DeployEnv, writer: W, ansi: bool)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        .with_ansi(ansi);
    // try_init: tests may have installed a subscriber already.
    let _ = if env == DeployEnv::Production {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
