//! Check-in at the hospital: the patient shows a short-lived signed visit code (a QR code), a
//! kiosk or desk scans it, and the booking becomes `checked_in` with a queue position.

mod visit_code;

pub use visit_code::{VisitCode, VisitCodeError, VisitCodeSigner};
