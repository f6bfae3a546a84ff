//! The first PEM block of a text, or the whole text as bare base64 (how the Alipay console shows
//! keys). Text before `-----BEGIN` (OpenSSL "Bag Attributes", comments) is ignored.

use super::KeyError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub(super) struct Block {
    /// `None` for bare base64.
    pub label: Option<String>,
    pub der: Vec<u8>,
}

pub(super) fn decode(text: &str) -> Result<Block, KeyError> {
    let (label, body) = match text.find("-----BEGIN ") {
        Some(start) => {
            let after = &text[start + "-----BEGIN ".len()..];
            let end_of_label = after
                .find("-----")
                .ok_or(KeyError::Encoding("unterminated BEGIN line"))?;
            let label = &after[..end_of_label];
            let body = &after[end_of_label + "-----".len()..];
            let footer = format!("-----END {label}-----");
            let end = body
                .find(&footer)
                .ok_or(KeyError::Encoding("no matching END line"))?;
            (Some(label.to_owned()), &body[..end])
        }
        None => (None, text),
    };
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if base64.is_empty() {
        return Err(KeyError::Encoding("empty key"));
    }
    let der = STANDARD
        .decode(base64)
        .map_err(|_| KeyError::Encoding("invalid base64"))?;
    Ok(Block { label, der })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labelled_blocks_and_bare_base64() {
        let block =
            decode("junk\n-----BEGIN PUBLIC KEY-----\nAAEC\nAw==\n-----END PUBLIC KEY-----\n")
                .unwrap();
        assert_eq!(block.label.as_deref(), Some("PUBLIC KEY"));
        assert_eq!(block.der, [0, 1, 2, 3]);
        let bare = decode("  AAECAw==\n").unwrap();
        assert_eq!(bare.label, None);
        assert_eq!(bare.der, [0, 1, 2, 3]);
    }

    #[test]
    fn refuses_broken_text() {
        for text in [
            "",
            "   \n",
            "-----BEGIN PUBLIC KEY-----\nAAEC\n",
            "-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PRIVATE KEY-----",
            "-----BEGIN PUBLIC KEY",
            "not*base64",
        ] {
            assert!(
                matches!(decode(text), Err(KeyError::Encoding(_))),
                "{text:?}"
            );
        }
    }
}
