//! Typed reads of a verified response node. A field that is there but wrong makes the whole
//! answer [`AlipayError::Malformed`]: acting on half an answer about money is worse than retrying.

use super::TradeStatus;
use crate::alipay::amount::yuan_to_fen;
use crate::alipay::{AlipayError, beijing_time};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub(super) struct Fields<'a> {
    method: &'static str,
    node: &'a Value,
}

impl<'a> Fields<'a> {
    pub(super) fn new(method: &'static str, node: &'a Value) -> Self {
        Self { method, node }
    }

    fn malformed(&self, name: &str, why: &str) -> AlipayError {
        AlipayError::Malformed(format!("{} {name}: {why}", self.method))
    }

    /// A string field; empty counts as absent, as Alipay leaves empties out of what it signs.
    pub(super) fn optional(&self, name: &str) -> Option<&'a str> {
        self.node
            .get(name)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    }

    pub(super) fn required(&self, name: &str) -> Result<&'a str, AlipayError> {
        self.optional(name)
            .ok_or_else(|| self.malformed(name, "missing"))
    }

    /// The answer must be about what we asked for, when it says what it is about.
    pub(super) fn expect_echo(&self, name: &str, sent: &str) -> Result<(), AlipayError> {
        match self.optional(name) {
            Some(echoed) if echoed != sent => Err(self.malformed(name, "answers another request")),
            _ => Ok(()),
        }
    }

    pub(super) fn amount(&self, name: &str) -> Result<Option<i64>, AlipayError> {
        self.optional(name)
            .map(|yuan| yuan_to_fen(yuan).map_err(|e| self.malformed(name, &e.to_string())))
            .transpose()
    }

    pub(super) fn required_amount(&self, name: &str) -> Result<i64, AlipayError> {
        self.amount(name)?
            .ok_or_else(|| self.malformed(name, "missing"))
    }

    pub(super) fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, AlipayError> {
        self.optional(name)
            .map(|text| beijing_time::parse(text).ok_or_else(|| self.malformed(name, "bad time")))
            .transpose()
    }

    /// `Y` / `N`.
    pub(super) fn flag(&self, name: &str) -> Result<Option<bool>, AlipayError> {
        match self.optional(name) {
            None => Ok(None),
            Some("Y") => Ok(Some(true)),
            Some("N") => Ok(Some(false)),
            Some(_) => Err(self.malformed(name, "neither Y nor N")),
        }
    }

    pub(super) fn trade_status(&self, name: &str) -> Result<TradeStatus, AlipayError> {
        TradeStatus::from_alipay(self.required(name)?)
            .ok_or_else(|| self.malformed(name, "unknown trade status"))
    }
}
