//! `guahao operator create`: makes an operator account from the command line, which is how the
//! first admin comes to exist. The password is read from standard input (one line), never from
//! an argument, where `ps` and the shell history would keep it.

use crate::settings::Settings;
use crate::startup::open_database;
use anyhow::Context;
use booking_core::clock::SystemClock;
use booking_core::operators::{Audit, OperatorRole, Operators, PASSWORD_MAX_BYTES, Username};
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;
use uuid::Uuid;

pub struct CreateOperator {
    pub username: String,
    pub role: OperatorRole,
    /// The hospital's id or code; `None` for every hospital.
    pub hospital: Option<String>,
}

/// Creates the operator and returns its id. Progress goes to stderr; the caller prints the id.
pub async fn create(settings: &Settings, args: CreateOperator) -> anyhow::Result<Uuid> {
    // Fail on a bad name before anyone types a password.
    Username::parse(&args.username).with_context(|| format!("--username {:?}", args.username))?;
    let password = read_password()?;

    let db = open_database(settings).await?;
    booking_core::db::migrate(&db)
        .await
        .context("applying migrations")?;
    let operators = Operators::new(db.clone(), Arc::new(SystemClock));
    let hospital_id = match &args.hospital {
        Some(id_or_code) => Some(
            operators
                .hospital_id_by_id_or_code(id_or_code)
                .await
                .with_context(|| format!("--hospital {id_or_code:?}"))?,
        ),
        None => None,
    };
    let operator = operators
        .create(&args.username, &password, args.role, hospital_id)
        .await
        .with_context(|| format!("creating operator {:?}", args.username))?;
    Audit::record(
        &db,
        None,
        "operator.create",
        Some("operator"),
        Some(&operator.id.to_string()),
        serde_json::json!({
            "username": operator.username,
            "role": operator.role.as_str(),
            "hospital_id": operator.hospital_id,
            "via": "cli",
        }),
        None,
        None,
    )
    .await
    .context("writing the audit row")?;
    eprintln!(
        "created operator {} with role {}{}",
        operator.username,
        operator.role,
        match operator.hospital_id {
            Some(h) => format!(" for hospital {h}"),
            None => " for every hospital".to_owned(),
        }
    );
    Ok(operator.id)
}

/// From a terminal: asked twice, with echo off. Otherwise: the first line of standard input.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password("Password for the new operator (not shown): ")
            .context("reading the password from the terminal")?;
        let again = rpassword::prompt_password("The same password again: ")
            .context("reading the password from the terminal")?;
        anyhow::ensure!(
            first == again,
            "the two passwords differ; nothing was created"
        );
        anyhow::ensure!(
            !first.is_empty(),
            "the password is empty; nothing was created"
        );
        return Ok(first);
    }
    password_line(stdin.lock())
}

/// The first line, its line ending removed; an empty one is refused. Reads a bounded amount so
/// that a stray file piped in cannot fill memory.
fn password_line(input: impl BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    input
        .take(PASSWORD_MAX_BYTES as u64 * 4)
        .read_line(&mut line)
        .context("reading the password from standard input (one line, UTF-8)")?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    anyhow::ensure!(
        !password.is_empty(),
        "no password on standard input: pipe it in, e.g. \
         `printf '%s\\n' \"$PASSWORD\" | guahao operator create …`"
    );
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::password_line;

    #[test]
    fn the_first_line_is_the_password_without_its_line_ending() {
        for (input, password) in [
            ("correct horse battery\n", "correct horse battery"),
            (
                "correct horse battery\r\nsecond line\n",
                "correct horse battery",
            ),
            ("no newline at all", "no newline at all"),
            ("  spaces are kept  \n", "  spaces are kept  "),
        ] {
            assert_eq!(password_line(input.as_bytes()).unwrap(), password);
        }
    }

    #[test]
    fn an_empty_password_is_refused() {
        for input in ["", "\n", "\r\n"] {
            let error = password_line(input.as_bytes()).unwrap_err();
            assert!(error.to_string().contains("no password"), "{error}");
        }
    }
}
