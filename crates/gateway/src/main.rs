use anyhow::Context;
use booking_core::catalog::ReleasePolicy;
use booking_core::clock::{Clock, SystemClock};
use booking_core::operators::{OperatorRole, UnknownRole};
use clap::{Parser, Subcommand};
use gateway::operator_cli::CreateOperator;
use gateway::settings::Settings;
use gateway::startup::{Application, open_database};

/// guahao: outpatient appointment booking behind WeChat and Alipay mini-programs.
///
/// Configuration: config/default.toml, then config/$GUAHAO_ENV.toml, then GUAHAO__SECTION__KEY
/// environment variables (e.g. GUAHAO__DATABASE__URL). GUAHAO_ROOT names the folder holding
/// config/ (default: the current directory).
#[derive(Parser)]
#[command(name = "guahao", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Rebuild the Redis slot inventory from the database: report every schedule whose counts or
    /// holds drifted, and repair it. Safe while the gateway runs.
    Reconcile,
    /// Load a data set into the database.
    Seed {
        /// The fictional demo hospitals, departments, doctors and a week of schedules.
        /// Idempotent: running it again adds only what is missing.
        #[arg(long)]
        demo: bool,
    },
    /// Manage operator accounts (hospital staff, kiosks, auditors).
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator. The password is read from standard input: the first line, at least
    /// 12 characters (from a terminal it is asked for twice, without echo). Prints the new
    /// operator's id on stdout.
    ///
    /// Example: printf '%s\n' "$PASSWORD" | guahao operator create --username desk-01 --role kiosk --hospital DCFH
    Create {
        /// 3–64 characters of a-z, 0-9, '.', '_' and '-'.
        #[arg(long)]
        username: String,
        /// admin: everything; operator: check-in, logs and booking actions; auditor: read-only
        /// logs; kiosk: check-in only.
        #[arg(long, value_parser = parse_role)]
        role: OperatorRole,
        /// The one hospital this operator works for, by id or code; omit for every hospital.
        #[arg(long)]
        hospital: Option<String>,
    },
}

fn parse_role(text: &str) -> Result<OperatorRole, String> {
    text.parse().map_err(|e: UnknownRole| e.to_string())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    if matches!(cli.command, Some(Command::Operator { .. })) {
        // Its stdout is the new id alone, for scripts.
        gateway::telemetry::init_to_stderr(settings.env);
    } else {
        gateway::telemetry::init(settings.env);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "guahao listening");
            app.run_until_stopped().await?;
            tracing::info!("guahao stopped");
        }
        Command::Reconcile => {
            let db = open_database(&settings).await?;
            booking_core::db::migrate(&db)
                .await
                .context("applying migrations")?;
            gateway::reconcile::run(&settings, db).await?;
        }
        Command::Migrate => {
            let db = open_database(&settings).await?;
            booking_core::db::migrate(&db)
                .await
                .context("applying migrations")?;
            println!("migrations applied");
        }
        Command::Seed { demo } => {
            anyhow::ensure!(
                demo,
                "only the demo data set exists: run `guahao seed --demo`"
            );
            let db = open_database(&settings).await?;
            booking_core::db::migrate(&db)
                .await
                .context("applying migrations")?;
            let policy = ReleasePolicy {
                window_days: settings.booking.booking_window_days,
                release_time: settings.release_time(),
            };
            println!("seeding the demo catalog…");
            let report =
                booking_core::catalog::seed_demo(&db, SystemClock.today_shanghai(), policy).await?;
            println!("demo seed done: {report}");
        }
        Command::Operator {
            command:
                OperatorCommand::Create {
                    username,
                    role,
                    hospital,
                },
        } => {
            let args = CreateOperator {
                username,
                role,
                hospital,
            };
            let id = gateway::operator_cli::create(&settings, args).await?;
            println!("{id}");
        }
    }
    Ok(())
}
