//! sea-orm entities for the catalog tables. The migrations are the source of truth; these mirror
//! them by hand.

pub mod department;
pub mod doctor;
pub mod hospital;
pub mod schedule;
pub mod schedule_segment;
