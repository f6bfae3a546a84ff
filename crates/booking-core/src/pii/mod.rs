//! Personal information (PII) at rest and on the way out.
//!
//! PIPL counts ID-document numbers as sensitive personal information, and GB/T 35273-2020 §6.3
//! asks for them to be encrypted at rest. So a document number is stored three times, never in
//! clear: sealed by [`PiiCipher::encrypt`] (AES-256-GCM, the column bound in as AAD), as a
//! [`PiiCipher::keyed_hash`] for uniqueness and lookups, and masked for display
//! ([`mask_id_number`], `110101********1234`). In memory the identity types print only their
//! masked form, and [`Sensitive`] does the same for anything that implements [`Mask`].

mod cipher;
mod mask;
mod sensitive;

pub use cipher::{PiiCipher, PiiError};
pub use mask::{mask_id_number, mask_name, mask_phone};
pub use sensitive::{Mask, Sensitive};
