//! A wrapper that keeps PII out of logs and responses unless someone asks for it by name.

use std::fmt;

/// The form of a value that may be shown to anyone: in a log line, an operator view, a response.
pub trait Mask {
    fn masked(&self) -> String;
}

/// Holds a PII value so that `{:?}`, `{}` and `tracing` fields print only its masked form; the
/// clear value needs an explicit [`Sensitive::expose`], which is easy to find in review.
///
/// `Sensitive` deliberately implements neither `serde::Serialize` nor `Deserialize`: a struct
/// that holds one cannot derive `Serialize`, so it cannot become a JSON response or a structured
/// log field by accident. To send a value, choose `masked()` or `expose()` explicitly.
///
/// ```compile_fail
/// use booking_core::pii::{Mask, Sensitive};
/// #[derive(serde::Serialize)]
/// struct Phone(String);
/// impl Mask for Phone {
///     fn masked(&self) -> String { "138****8000".into() }
/// }
/// fn to_json<T: serde::Serialize>(_: &T) {}
/// to_json(&Sensitive::new(Phone("13800138000".into()))); // Sensitive<_> is not Serialize
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T: Mask> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The clear value. Every call site is a place where PII leaves the wrapper.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: Mask> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Mask> Mask for Sensitive<T> {
    fn masked(&self) -> String {
        self.0.masked()
    }
}

impl<T: Mask> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.masked())
    }
}

impl<T: Mask> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{IdDocument, IdType, MobileNumber};

    #[test]
    fn formatting_shows_only_the_mask() {
        let phone = MobileNumber::parse("13800138000").expect("valid");
        let wrapped = Sensitive::new(phone.clone());
        assert_eq!(format!("{wrapped:?}"), "138****8000");
        assert_eq!(format!("{wrapped}"), "138****8000");
        assert_eq!(format!("{wrapped:#?}"), "138****8000");
        assert_eq!(wrapped.expose(), &phone);
        assert_eq!(wrapped.expose().as_str(), "13800138000");
    }

    #[test]
    fn a_struct_holding_it_debug_prints_the_mask() {
        #[derive(Debug)]
        struct Row {
            document: Sensitive<IdDocument>,
        }
        let document =
            IdDocument::parse(IdType::ResidentId, "11010519491231002X").expect("valid id");
        let row = Row {
            document: document.into(),
        };
        let shown = format!("{row:?}");
        assert!(shown.contains("110105********002X"), "{shown}");
        assert!(!shown.contains("11010519491231002X"), "{shown}");
        assert_eq!(row.document.into_inner().number(), "11010519491231002X");
    }
}
