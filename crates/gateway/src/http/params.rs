//! Query parameters arrive as text and are parsed one by one, so a bad one is answered with 400
//! `INVALID_PARAMETER` naming it, rather than a generic deserialization failure.

use super::error::ApiError;
use booking_core::paging::{Cursor, MAX_LIMIT, PageRequest};
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

pub fn uuid(name: &'static str, value: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    value
        .map(|v| {
            Uuid::parse_str(v)
                .map_err(|_| ApiError::invalid_parameter(name, "应为 UUID", "expected a UUID"))
        })
        .transpose()
}

pub fn date(name: &'static str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                ApiError::invalid_parameter(
                    name,
                    "应为 YYYY-MM-DD 格式的日期",
                    "expected a date as YYYY-MM-DD",
                )
            })
        })
        .transpose()
}

/// `limit` and `cursor`, shared by every list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let limit = match &self.limit {
            None => PageRequest::default().limit,
            Some(text) => match text.parse::<u64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid_parameter(
                        "limit",
                        &format!("应为 1 到 {MAX_LIMIT} 之间的整数"),
                        &format!("expected an integer from 1 to {MAX_LIMIT}"),
                    ));
                }
            },
        };
        let after = self
            .cursor
            .as_deref()
            .map(|c| {
                Cursor::decode(c).map_err(|_| {
                    ApiError::invalid_parameter(
                        "cursor",
                        "无法识别",
                        "not a cursor this server issued",
                    )
                })
            })
            .transpose()?;
        Ok(PageRequest { limit, after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_outside_range_names_the_parameter() {
        for bad in ["0", "101", "-1", "ten"] {
            let params = PageParams {
                limit: Some(bad.into()),
                cursor: None,
            };
            assert_eq!(
                params.parse().unwrap_err().parameter(),
                Some("limit"),
                "{bad}"
            );
        }
        let ok = PageParams {
            limit: Some("100".into()),
            cursor: None,
        }
        .parse()
        .unwrap();
        assert_eq!(ok.limit, 100);
    }

    #[test]
    fn dates_and_ids_name_the_parameter() {
        assert_eq!(
            date("date_from", Some("2026-02-30"))
                .unwrap_err()
                .parameter(),
            Some("date_from")
        );
        assert_eq!(
            uuid("doctor_id", Some("42")).unwrap_err().parameter(),
            Some("doctor_id")
        );
        assert!(date("date_from", None).unwrap().is_none());
    }
}
