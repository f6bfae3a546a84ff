//! The yardstick: `openssl speed -seconds N rsa2048`, one process on one core, measured in the
//! same run as our own loops so that a busy machine slows both alike.

use anyhow::{Context, bail};

/// openssl's RSA-2048 rates.
#[derive(Debug, Clone, PartialEq)]
pub struct OpensslSpeed {
    pub sign_per_s: f64,
    pub verify_per_s: f64,
    /// `openssl version`, e.g. `OpenSSL 3.0.19 27 Jan 2026`.
    pub version: String,
    pub command: String,
}

pub async fn rsa2048(seconds: u64) -> anyhow::Result<OpensslSpeed> {
    let args = [
        "speed".to_owned(),
        "-seconds".to_owned(),
        seconds.to_string(),
        "rsa2048".to_owned(),
    ];
    let output = tokio::process::Command::new("openssl")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("running `openssl speed` (is openssl installed?)")?;
    if !output.status.success() {
        bail!(
            "openssl speed failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let (sign_per_s, verify_per_s) = parse_rates(&text)
        .with_context(|| format!("no `rsa 2048 bits` line with sign/s and verify/s in:\n{text}"))?;
    let version = tokio::process::Command::new("openssl")
        .arg("version")
        .output()
        .await
        .ok()
        // `OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)`: the first half says it.
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            let program = text.split(" (Library").next().unwrap_or_default();
            program.trim().to_owned()
        })
        .unwrap_or_default();
    Ok(OpensslSpeed {
        sign_per_s,
        verify_per_s,
        version,
        command: format!("openssl {}", args.join(" ")),
    })
}

/// sign/s and verify/s of the RSA-2048 line. Columns are matched to the header by name: OpenSSL
/// 3.0 prints `sign verify sign/s verify/s`, 3.2 and later add encrypt/decrypt columns.
fn parse_rates(text: &str) -> Option<(f64, f64)> {
    let mut header: Option<Vec<&str>> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.contains(&"sign/s") && words.contains(&"verify/s") {
            header = Some(words);
        } else if let (Some(names), ["rsa", "2048", "bits", values @ ..]) =
            (&header, words.as_slice())
        {
            if values.len() != names.len() {
                continue;
            }
            let column = |name: &str| {
                let at = names.iter().position(|n| *n == name)?;
                values[at].parse::<f64>().ok()
            };
            return Some((column("sign/s")?, column("verify/s")?));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What OpenSSL 3.0.19 printed on the bench machine.
    const OPENSSL_3_0: &str = "version: 3.0.19\n\
        options: bn(64,64)\n\
        CPUINFO: OPENSSL_ia32cap=0xfffa3203078bffff:0x405fc6f1bf07ab\n                  \
        sign    verify    sign/s verify/s\n\
        rsa 2048 bits 0.000250s 0.000017s   3994.0  60154.0\n";

    /// The layout of OpenSSL 3.2 and later, with the encrypt and decrypt columns.
    const OPENSSL_3_2: &str = "                   sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s\n\
        rsa   2048 bits 0.000543s 0.000016s 0.000017s 0.000551s   1841.1  63322.7  59506.6   1815.5\n";

    #[test]
    fn rates_are_read_from_either_layout() {
        assert_eq!(parse_rates(OPENSSL_3_0), Some((3994.0, 60154.0)));
        assert_eq!(parse_rates(OPENSSL_3_2), Some((1841.1, 63322.7)));
    }

    #[test]
    fn output_without_the_table_gives_nothing() {
        assert_eq!(parse_rates("Doing 2048 bits private rsa's for 1s\n"), None);
        assert_eq!(parse_rates("rsa 2048 bits 0.1s 0.2s 3.0 4.0\n"), None);
    }
}
