//! Keyset paging shared by every list: a page of items and an opaque cursor to the next one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use uuid::Uuid;

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

/// The position after which the next page starts. Encoded as URL-safe base64 so clients treat it
/// as opaque and we may change its content later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    After(Uuid),
    AfterDated(NaiveDate, Uuid),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the cursor is not one this server issued")]
pub struct BadCursor;

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = match self {
            Cursor::After(id) => format!("i:{id}"),
            Cursor::AfterDated(date, id) => format!("d:{date}:{id}"),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(text: &str) -> Result<Self, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        let raw = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let parse_id = |s: &str| Uuid::parse_str(s).map_err(|_| BadCursor);
        match raw.split_once(':') {
            Some(("i", id)) => Ok(Cursor::After(parse_id(id)?)),
            Some(("d", rest)) => {
                let (date, id) = rest.split_once(':').ok_or(BadCursor)?;
                let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| BadCursor)?;
                Ok(Cursor::AfterDated(date, parse_id(id)?))
            }
            _ => Err(BadCursor),
        }
    }
}

/// A validated page request: `limit` in `1..=MAX_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let id = Uuid::now_v7();
        for cursor in [
            Cursor::After(id),
            Cursor::AfterDated(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(), id),
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        }
    }

    #[test]
    fn foreign_cursors_are_refused() {
        for text in [
            "",
            "!!",
            "aGVsbG8",
            &URL_SAFE_NO_PAD.encode("i:not-a-uuid"),
            &URL_SAFE_NO_PAD.encode("d:2026-13-01:x"),
        ] {
            assert_eq!(Cursor::decode(text), Err(BadCursor), "{text}");
        }
    }
}
