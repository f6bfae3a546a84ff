//! The simulated merchant's trades and Alipay's rules for them: creation (idempotent for the same
//! terms), expiry at `time_expire`, payment, closing and refunds keyed by `out_request_no`. Times
//! are Beijing wall-clock (`NaiveDateTime`), as Alipay writes them; `now` is always passed in.

use chrono::NaiveDateTime;
use payment_adapter::alipay::TradeStatus;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Buyer {
    /// `buyer_id`, `2088…`.
    UserId(String),
    OpenId(String),
}

/// What `alipay.trade.create` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NewTrade {
    pub out_trade_no: String,
    pub total_fen: i64,
    pub subject: String,
    pub buyer: Buyer,
    pub time_expire: Option<NaiveDateTime>,
    pub notify_url: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Refund {
    pub out_request_no: String,
    pub fen: i64,
    pub at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub(super) struct Trade {
    pub trade_no: String,
    pub terms: NewTrade,
    pub status: TradeStatus,
    pub created_at: NaiveDateTime,
    pub paid_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub refunds: Vec<Refund>,
}

impl Trade {
    pub fn refunded_fen(&self) -> i64 {
        self.refunds.iter().map(|r| r.fen).sum()
    }

    pub fn find_refund(&self, out_request_no: &str) -> Option<&Refund> {
        self.refunds
            .iter()
            .find(|r| r.out_request_no == out_request_no)
    }

    /// Alipay closes an unpaid trade at its `time_expire`.
    fn expire(&mut self, now: NaiveDateTime) {
        if let Some(deadline) = self.terms.time_expire
            && self.status == TradeStatus::WaitBuyerPay
            && now >= deadline
        {
            self.status = TradeStatus::TradeClosed;
            self.closed_at = Some(deadline);
        }
    }
}

/// Alipay's refusals, as `40004` `sub_code`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    TradeNotExist,
    /// The same `out_trade_no` created again with other terms.
    ContextInconsistent,
    TradeHasSuccess,
    TradeHasClose,
    /// Closing a paid or closed trade, refunding an unpaid one.
    TradeStatusError,
    /// More refunded than paid.
    RefundAmountExceeded,
    /// The same `out_request_no` again with another amount.
    DiscordantRepeatRequest,
}

impl Refusal {
    pub fn sub_code(self) -> &'static str {
        match self {
            Self::TradeNotExist => "ACQ.TRADE_NOT_EXIST",
            Self::ContextInconsistent => "ACQ.CONTEXT_INCONSISTENT",
            Self::TradeHasSuccess => "ACQ.TRADE_HAS_SUCCESS",
            Self::TradeHasClose => "ACQ.TRADE_HAS_CLOSE",
            Self::TradeStatusError => "ACQ.TRADE_STATUS_ERROR",
            Self::RefundAmountExceeded => "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
            Self::DiscordantRepeatRequest => "ACQ.DISCORDANT_REPEAT_REQUEST",
        }
    }

    pub fn sub_msg(self) -> &'static str {
        match self {
            Self::TradeNotExist => "交易不存在",
            Self::ContextInconsistent => "交易信息被篡改",
            Self::TradeHasSuccess => "交易已被支付",
            Self::TradeHasClose => "交易已经关闭",
            Self::TradeStatusError => "交易状态不合法",
            Self::RefundAmountExceeded => "退款金额超限",
            Self::DiscordantRepeatRequest => "请求信息不一致",
        }
    }
}

/// A refund that Alipay accepted.
pub(super) struct Refunded<'a> {
    pub trade: &'a Trade,
    pub refund: &'a Refund,
    /// False for a repeated `out_request_no`: that money moved before.
    pub fund_change: bool,
    /// This call refunded the last fen, so the trade just closed.
    pub closed_now: bool,
}

#[derive(Default)]
pub(super) struct TradeBook {
    by_out_trade_no: HashMap<String, Trade>,
    out_trade_no_of: HashMap<String, String>,
}

impl TradeBook {
    /// Creates the trade under `trade_no`, or returns the existing one when the same
    /// `out_trade_no` comes again with the same terms.
    pub fn create(
        &mut self,
        new: NewTrade,
        trade_no: String,
        now: NaiveDateTime,
    ) -> Result<&Trade, Refusal> {
        if self.by_out_trade_no.contains_key(&new.out_trade_no) {
            let existing = self.find_mut(&new.out_trade_no, now)?;
            return match existing.status {
                TradeStatus::TradeSuccess | TradeStatus::TradeFinished => {
                    Err(Refusal::TradeHasSuccess)
                }
                TradeStatus::TradeClosed => Err(Refusal::TradeHasClose),
                TradeStatus::WaitBuyerPay if existing.terms == new => Ok(existing),
                TradeStatus::WaitBuyerPay => Err(Refusal::ContextInconsistent),
            };
        }
        self.out_trade_no_of
            .insert(trade_no.clone(), new.out_trade_no.clone());
        let trade = Trade {
            trade_no,
            status: TradeStatus::WaitBuyerPay,
            created_at: now,
            paid_at: None,
            closed_at: None,
            refunds: Vec::new(),
            terms: new,
        };
        let out_trade_no = trade.terms.out_trade_no.clone();
        Ok(self.by_out_trade_no.entry(out_trade_no).or_insert(trade))
    }

    /// By `out_trade_no`, with expiry applied.
    pub fn find_mut(
        &mut self,
        out_trade_no: &str,
        now: NaiveDateTime,
    ) -> Result<&mut Trade, Refusal> {
        let trade = self
            .by_out_trade_no
            .get_mut(out_trade_no)
            .ok_or(Refusal::TradeNotExist)?;
        trade.expire(now);
        Ok(trade)
    }

    /// By Alipay's `trade_no`, with expiry applied.
    pub fn find_by_trade_no_mut(
        &mut self,
        trade_no: &str,
        now: NaiveDateTime,
    ) -> Result<&mut Trade, Refusal> {
        let out_trade_no = self
            .out_trade_no_of
            .get(trade_no)
            .ok_or(Refusal::TradeNotExist)?
            .clone();
        self.find_mut(&out_trade_no, now)
    }

    /// The buyer pays (the `/mock/alipay/pay` hook): only an open trade can be paid.
    pub fn pay(&mut self, trade_no: &str, now: NaiveDateTime) -> Result<&Trade, Refusal> {
        let trade = self.find_by_trade_no_mut(trade_no, now)?;
        match trade.status {
            TradeStatus::WaitBuyerPay => {
                trade.status = TradeStatus::TradeSuccess;
                trade.paid_at = Some(now);
                Ok(trade)
            }
            TradeStatus::TradeClosed => Err(Refusal::TradeHasClose),
            TradeStatus::TradeSuccess | TradeStatus::TradeFinished => Err(Refusal::TradeHasSuccess),
        }
    }

    pub fn close(&mut self, out_trade_no: &str, now: NaiveDateTime) -> Result<&Trade, Refusal> {
        let trade = self.find_mut(out_trade_no, now)?;
        if trade.status != TradeStatus::WaitBuyerPay {
            return Err(Refusal::TradeStatusError);
        }
        trade.status = TradeStatus::TradeClosed;
        trade.closed_at = Some(now);
        Ok(trade)
    }

    /// Refunds `fen` under `out_request_no`. The same request again with the same amount is
    /// answered without moving money (`fund_change` false), as Alipay does.
    pub fn refund(
        &mut self,
        out_trade_no: &str,
        out_request_no: &str,
        fen: i64,
        now: NaiveDateTime,
    ) -> Result<Refunded<'_>, Refusal> {
        let trade = self.find_mut(out_trade_no, now)?;
        let earlier = trade
            .refunds
            .iter()
            .position(|r| r.out_request_no == out_request_no);
        let (index, fund_change) = match earlier {
            Some(index) if trade.refunds[index].fen != fen => {
                return Err(Refusal::DiscordantRepeatRequest);
            }
            Some(index) => (index, false),
            None => {
                // Unpaid, closed, or (never here) finished.
                if trade.status != TradeStatus::TradeSuccess {
                    return Err(Refusal::TradeStatusError);
                }
                if trade.refunded_fen() + fen > trade.terms.total_fen {
                    return Err(Refusal::RefundAmountExceeded);
                }
                trade.refunds.push(Refund {
                    out_request_no: out_request_no.to_owned(),
                    fen,
                    at: now,
                });
                (trade.refunds.len() - 1, true)
            }
        };
        let closed_now = fund_change && trade.refunded_fen() == trade.terms.total_fen;
        if closed_now {
            trade.status = TradeStatus::TradeClosed;
            trade.closed_at = Some(now);
        }
        let trade: &Trade = trade;
        Ok(Refunded {
            refund: &trade.refunds[index],
            trade,
            fund_change,
            closed_now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn new_trade() -> NewTrade {
        NewTrade {
            out_trade_no: "T1".into(),
            total_fen: 2500,
            subject: "挂号费".into(),
            buyer: Buyer::OpenId("0abc".into()),
            time_expire: Some(at("2025-03-01 09:45:00")),
            notify_url: Some("http://127.0.0.1:1/notify".into()),
        }
    }

    const NOW: &str = "2025-03-01 09:30:00";

    fn paid_book() -> TradeBook {
        let mut book = TradeBook::default();
        book.create(new_trade(), "2025030122001000000000000001".into(), at(NOW))
            .unwrap();
        book.pay("2025030122001000000000000001", at(NOW)).unwrap();
        book
    }

    #[test]
    fn creating_again_is_idempotent_for_the_same_terms_only() {
        let mut book = TradeBook::default();
        let first = book
            .create(new_trade(), "A".into(), at(NOW))
            .unwrap()
            .trade_no
            .clone();
        let again = book.create(new_trade(), "B".into(), at(NOW)).unwrap();
        assert_eq!((first.as_str(), again.trade_no.as_str()), ("A", "A"));
        let other_amount = NewTrade {
            total_fen: 2600,
            ..new_trade()
        };
        assert_eq!(
            book.create(other_amount, "C".into(), at(NOW)).err(),
            Some(Refusal::ContextInconsistent)
        );
        book.pay("A", at(NOW)).unwrap();
        assert_eq!(
            book.create(new_trade(), "D".into(), at(NOW)).err(),
            Some(Refusal::TradeHasSuccess)
        );
    }

    #[test]
    fn an_unpaid_trade_closes_at_time_expire() {
        let mut book = TradeBook::default();
        book.create(new_trade(), "A".into(), at(NOW)).unwrap();
        let later = at("2025-03-01 09:45:00");
        assert_eq!(
            book.find_mut("T1", later).unwrap().status,
            TradeStatus::TradeClosed
        );
        assert_eq!(book.pay("A", later).err(), Some(Refusal::TradeHasClose));
        assert_eq!(
            book.create(new_trade(), "B".into(), later).err(),
            Some(Refusal::TradeHasClose)
        );
    }

    #[test]
    fn close_only_an_open_trade() {
        let mut book = TradeBook::default();
        assert_eq!(
            book.close("T1", at(NOW)).err(),
            Some(Refusal::TradeNotExist)
        );
        book.create(new_trade(), "A".into(), at(NOW)).unwrap();
        assert_eq!(
            book.close("T1", at(NOW)).unwrap().status,
            TradeStatus::TradeClosed
        );
        assert_eq!(
            book.close("T1", at(NOW)).err(),
            Some(Refusal::TradeStatusError)
        );
        assert_eq!(
            paid_book().close("T1", at(NOW)).err(),
            Some(Refusal::TradeStatusError)
        );
    }

    #[test]
    fn refunds_move_money_once_per_request_and_never_more_than_paid() {
        let mut book = paid_book();
        assert_eq!(
            book.refund("T1", "R1", 2501, at(NOW)).err(),
            Some(Refusal::RefundAmountExceeded)
        );
        let partial = book.refund("T1", "R1", 1000, at(NOW)).unwrap();
        assert!(partial.fund_change && !partial.closed_now);
        assert_eq!(partial.trade.status, TradeStatus::TradeSuccess);
        let repeated = book.refund("T1", "R1", 1000, at(NOW)).unwrap();
        assert!(!repeated.fund_change);
        assert_eq!(repeated.trade.refunded_fen(), 1000);
        assert_eq!(
            book.refund("T1", "R1", 500, at(NOW)).err(),
            Some(Refusal::DiscordantRepeatRequest)
        );
        assert_eq!(
            book.refund("T1", "R2", 1501, at(NOW)).err(),
            Some(Refusal::RefundAmountExceeded)
        );
        let rest = book.refund("T1", "R2", 1500, at(NOW)).unwrap();
        assert!(rest.fund_change && rest.closed_now);
        assert_eq!(rest.trade.status, TradeStatus::TradeClosed);
        // A repeat of a refund on the now closed trade is still answered.
        assert!(!book.refund("T1", "R2", 1500, at(NOW)).unwrap().fund_change);
        assert_eq!(
            book.refund("T1", "R3", 1, at(NOW)).err(),
            Some(Refusal::TradeStatusError)
        );
    }

    #[test]
    fn an_unpaid_trade_cannot_be_refunded() {
        let mut book = TradeBook::default();
        book.create(new_trade(), "A".into(), at(NOW)).unwrap();
        assert_eq!(
            book.refund("T1", "R1", 100, at(NOW)).err(),
            Some(Refusal::TradeStatusError)
        );
        assert_eq!(
            book.refund("T9", "R1", 100, at(NOW)).err(),
            Some(Refusal::TradeNotExist)
        );
    }
}
