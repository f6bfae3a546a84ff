//! Who a booking is for: ID documents, mobile numbers and names, parsed once where they enter
//! ("parse, don't validate"). Each type's constructor is the only place its rule is checked, so
//! holding an [`IdDocument`] proves the number passed its checks, and later code never
//! re-validates or forgets to.
//!
//! These values are PII: their `Debug` and `Display` print only the masked form (see
//! [`crate::pii`]); the clear value needs an explicit call (`number()`, `as_str()`), and whoever
//! makes that call stores it encrypted.

mod document;
mod foreign_resident;
mod id_type;
mod mobile;
mod name;
mod permits;
mod resident_id;

pub use document::{DocumentError, IdDocument, Sex};
pub use id_type::{IdType, UnknownIdType};
pub use mobile::{MobileError, MobileNumber};
pub use name::{NameError, PersonName};
