//! Decoding an `application/x-www-form-urlencoded` notification body exactly once (pitfall 2:
//! a second decode breaks any value that contains `%`). Values that need no decoding stay
//! borrowed from the body; the decoded bytes of the others are reused as their `String`.

use super::AlipayNotifyError;
use std::borrow::Cow;

/// One `key=value` with its `%` escapes resolved, before the charset is known.
type RawPair<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// The decoded parameters, sorted by key, each key once.
pub(super) struct Form<'a> {
    params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Form<'a> {
    /// Refuses bad `%` escapes, text that is not UTF-8, a `charset` other than UTF-8 (we create
    /// every order with `charset=utf-8`; a GBK body would need GBK decoding to verify), an empty
    /// key and a key given twice (which of the two was signed would be a guess).
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, AlipayNotifyError> {
        let raw: Vec<RawPair<'a>> = body
            .split(|&b| b == b'&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(at) => (&pair[..at], &pair[at + 1..]),
                    None => (pair, &pair[pair.len()..]),
                };
                Ok((percent_decode(key)?, percent_decode(value)?))
            })
            .collect::<Result<_, AlipayNotifyError>>()?;
        if let Some((_, charset)) = raw.iter().find(|(key, _)| key.as_ref() == b"charset")
            && !is_utf8_label(charset)
        {
            return Err(AlipayNotifyError::UnsupportedCharset(clip_lossy(charset)));
        }
        let mut params = raw
            .into_iter()
            .map(|(key, value)| Ok((utf8(key)?, utf8(value)?)))
            .collect::<Result<Vec<_>, AlipayNotifyError>>()?;
        if params.iter().any(|(key, _)| key.is_empty()) {
            return Err(AlipayNotifyError::MalformedBody("empty parameter name"));
        }
        params.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = params.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(AlipayNotifyError::DuplicateField(super::clip(&pair[0].0)));
        }
        Ok(Self { params })
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.params
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .filter(|&at| !self.params[at].1.is_empty())
    }

    /// A non-empty value; empty values are not signed, so they count as absent.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.position(key).map(|at| self.params[at].1.as_ref())
    }

    /// Moves a non-empty value out (the parameter then reads as absent).
    pub(super) fn take(&mut self, key: &str) -> Option<Cow<'a, str>> {
        self.position(key)
            .map(|at| std::mem::take(&mut self.params[at].1))
    }

    /// What Alipay signs in a payment notification: everything but `sign` and `sign_type`.
    pub(super) fn signed_params(&self) -> Vec<(&str, &str)> {
        self.params
            .iter()
            .filter(|(key, _)| key != "sign" && key != "sign_type")
            .map(|(key, value)| (key.as_ref(), value.as_ref()))
            .collect()
    }
}

/// `+` is a space and `%XX` a byte; anything else after `%` is an error.
fn percent_decode(text: &[u8]) -> Result<Cow<'_, [u8]>, AlipayNotifyError> {
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(text));
    }
    let mut decoded = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        decoded.push(match byte {
            b'+' => b' ',
            b'%' => {
                let (hex, tail) = rest
                    .split_first_chunk::<2>()
                    .ok_or(AlipayNotifyError::MalformedBody("truncated % escape"))?;
                rest = tail;
                hex_value(hex[0])
                    .zip(hex_value(hex[1]))
                    .map(|(high, low)| high << 4 | low)
                    .ok_or(AlipayNotifyError::MalformedBody("bad % escape"))?
            }
            other => other,
        });
    }
    Ok(Cow::Owned(decoded))
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

fn utf8(bytes: Cow<'_, [u8]>) -> Result<Cow<'_, str>, AlipayNotifyError> {
    let not_utf8 = || AlipayNotifyError::MalformedBody("not UTF-8");
    match bytes {
        Cow::Borrowed(bytes) => std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|_| not_utf8()),
        Cow::Owned(bytes) => String::from_utf8(bytes)
            .map(Cow::Owned)
            .map_err(|_| not_utf8()),
    }
}

fn is_utf8_label(charset: &[u8]) -> bool {
    charset.eq_ignore_ascii_case(b"utf-8") || charset.eq_ignore_ascii_case(b"utf8")
}

fn clip_lossy(bytes: &[u8]) -> String {
    super::clip(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &str) -> Vec<(String, String)> {
        Form::parse(body.as_bytes())
            .unwrap()
            .params
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn decodes_once_sorts_and_borrows_what_needs_no_decoding() {
        let body = "b=x%2By+z&a=%E6%8C%82%E5%8F%B7&c=100%25&d=&e&&passback=a%253Db";
        assert_eq!(
            pairs(body),
            [
                ("a", "挂号"),
                ("b", "x+y z"),
                ("c", "100%"),
                ("d", ""),
                ("e", ""),
                // Decoded once: `%25` → `%`, and the `3D` after it stays text.
                ("passback", "a%3Db"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let form = Form::parse(body.as_bytes()).unwrap();
        assert!(matches!(form.params[0].0, Cow::Borrowed(_)));
        assert!(matches!(form.params[0].1, Cow::Owned(_)));
    }

    #[test]
    fn empty_values_read_as_absent_and_take_moves_the_value_out() {
        let mut form = Form::parse(b"a=1&d=").unwrap();
        assert_eq!(form.get("d"), None);
        assert_eq!(form.get("zz"), None);
        assert_eq!(form.take("a").as_deref(), Some("1"));
        assert_eq!(form.get("a"), None);
    }

    #[test]
    fn sign_and_sign_type_are_not_signed() {
        let form = Form::parse(b"sign=s&sign_type=RSA2&b=2&a=1").unwrap();
        assert_eq!(form.signed_params(), [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn refusals() {
        for (body, reason) in [
            (&b"a=%zz"[..], "malformed_body"),
            (b"a=%e", "malformed_body"),
            (b"a=%", "malformed_body"),
            (b"a=%FF%FE", "malformed_body"),
            (b"a=\xff", "malformed_body"),
            (b"=1", "malformed_body"),
            (b"a=1&b=2&a=3", "duplicate_field"),
            // The same key once plain and once escaped.
            (
                b"trade_status=WAIT_BUYER_PAY&trade%5Fstatus=TRADE_SUCCESS",
                "duplicate_field",
            ),
            (b"charset=GBK&subject=%B9%D2", "unsupported_charset"),
        ] {
            match Form::parse(body) {
                Err(error) => assert_eq!(error.reason(), reason, "{body:?}"),
                Ok(_) => panic!("{body:?} accepted"),
            }
        }
        for charset in ["utf-8", "UTF-8", "utf8"] {
            assert!(Form::parse(format!("charset={charset}").as_bytes()).is_ok());
        }
    }
}
