//! Verifying a gateway answer. Alipay signs the exact raw text of the `<method>_response` value,
//! from its `{` to the matching `}`, byte for byte as sent (escapes such as `\/` and `\uXXXX`
//! included). So the value is located by scanning the JSON text, never by parsing and
//! re-serializing, and business fields are read only from the verified slice: reading them from
//! a separate parse of the whole body would let a duplicated key outside the signed node forge a
//! result (fzlee/alipay#69).

mod scan;

use super::AlipayError;
use crate::keys::RsaPublicKey;

/// The node Alipay answers `method` in: `alipay.trade.query` → `alipay_trade_query_response`.
pub fn response_node_name(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// Checks `sign` over the raw text of the response node of `method` (or of `error_response`,
/// which Alipay uses for errors raised before the method runs) and returns that exact text.
///
/// Refused: anything that is not one JSON object, a top-level key that appears twice (also when
/// spelled with escapes), both a method node and `error_response`, a node that is not an object
/// (AES-encrypted answers are not used here), a missing or empty `sign`, and a `sign` that does
/// not verify with `alipay_public_key`.
pub fn verify_response<'a>(
    raw_body: &'a str,
    method: &str,
    alipay_public_key: &RsaPublicKey,
) -> Result<&'a str, AlipayError> {
    verified_node(raw_body, method, alipay_public_key).map(|(_, node)| node)
}

/// Which node Alipay answered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Node {
    Method,
    /// `error_response`: the call failed whatever the node says.
    Error,
}

/// [`verify_response`], also telling which node answered.
pub(super) fn verified_node<'a>(
    raw_body: &'a str,
    method: &str,
    alipay_public_key: &RsaPublicKey,
) -> Result<(Node, &'a str), AlipayError> {
    let members = scan::top_level_members(raw_body).map_err(AlipayError::Malformed)?;
    let node_name = response_node_name(method);
    let find = |name: &str| members.iter().find(|m| m.key == name).map(|m| m.raw_value);
    let (kind, node) = match (find(&node_name), find("error_response")) {
        (Some(node), None) => (Node::Method, node),
        (None, Some(node)) => (Node::Error, node),
        (Some(_), Some(_)) => {
            return Err(AlipayError::Malformed(format!(
                "both {node_name} and error_response"
            )));
        }
        (None, None) => {
            return Err(AlipayError::Malformed(format!(
                "neither {node_name} nor error_response"
            )));
        }
    };
    if !node.starts_with('{') {
        return Err(AlipayError::Malformed(format!(
            "{node_name} is not a JSON object"
        )));
    }
    let sign = match find("sign") {
        None | Some("null") => None,
        Some(raw) => Some(
            serde_json::from_str::<String>(raw)
                .map_err(|_| AlipayError::Malformed("sign is not a JSON string".into()))?,
        ),
    };
    let Some(sign) = sign.filter(|s| !s.is_empty()) else {
        return Err(unsigned(node));
    };
    alipay_public_key
        .verify_base64(node.as_bytes(), &sign)
        .map_err(AlipayError::BadSignature)?;
    Ok((kind, node))
}

/// What an unsigned node claims, for the log only.
fn unsigned(node: &str) -> AlipayError {
    let claimed: serde_json::Value = serde_json::from_str(node).unwrap_or_default();
    let field = |name: &str| {
        claimed
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    AlipayError::Unsigned {
        code: field("code"),
        sub_code: field("sub_code"),
    }
}

#[cfg(test)]
mod tests;
