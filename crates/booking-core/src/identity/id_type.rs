//! The kinds of document a patient may register with, as the HTTP contract spells them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A document kind; its snake_case text (`resident_id`, …) is contract, in JSON and in the
/// database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// 居民身份证 (GB 11643-1999), also the 港澳台居民居住证 that follow the same standard.
    ResidentId,
    /// 护照, Chinese or foreign.
    Passport,
    /// 港澳居民来往内地通行证 (the "home return permit").
    HkMacaoPermit,
    /// 台湾居民来往大陆通行证.
    TaiwanPermit,
    /// 外国人永久居留身份证, 2004 and 2023 versions.
    ForeignPermanentResidence,
}

impl IdType {
    pub const fn as_str(self) -> &'static str {
        match self {
            IdType::ResidentId => "resident_id",
            IdType::Passport => "passport",
            IdType::HkMacaoPermit => "hk_macao_permit",
            IdType::TaiwanPermit => "taiwan_permit",
            IdType::ForeignPermanentResidence => "foreign_permanent_residence",
        }
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not one of the five document kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown id_type; expected resident_id, passport, hk_macao_permit, taiwan_permit or \
     foreign_permanent_residence"
)]
pub struct UnknownIdType;

impl UnknownIdType {
    /// Stable code for the gateway's error JSON.
    pub const fn code(&self) -> &'static str {
        "ID_TYPE_INVALID"
    }
}

impl FromStr for IdType {
    type Err = UnknownIdType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "resident_id" => Ok(IdType::ResidentId),
            "passport" => Ok(IdType::Passport),
            "hk_macao_permit" => Ok(IdType::HkMacaoPermit),
            "taiwan_permit" => Ok(IdType::TaiwanPermit),
            "foreign_permanent_residence" => Ok(IdType::ForeignPermanentResidence),
            _ => Err(UnknownIdType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [IdType; 5] = [
        IdType::ResidentId,
        IdType::Passport,
        IdType::HkMacaoPermit,
        IdType::TaiwanPermit,
        IdType::ForeignPermanentResidence,
    ];

    #[test]
    fn text_serde_and_from_str_agree() {
        for id_type in ALL {
            let text = id_type.as_str();
            assert_eq!(text.parse::<IdType>(), Ok(id_type));
            assert_eq!(id_type.to_string(), text);
            let json = serde_json::to_string(&id_type).expect("serializes");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<IdType>(&json).expect("deserializes"),
                id_type
            );
        }
    }

    #[test]
    fn unknown_text_is_refused() {
        for text in ["", "ResidentId", "RESIDENT_ID", "id_card", "passport "] {
            assert_eq!(text.parse::<IdType>(), Err(UnknownIdType), "{text:?}");
        }
        assert_eq!(UnknownIdType.code(), "ID_TYPE_INVALID");
    }
}
