//! The rows of each catalog file as read (`*Row`: all text, deserialized by header name) and as
//! written (checked and typed, by `TryFrom`). Optional columns are `Option`: absent and empty
//! mean the same. One file per catalog file.

mod event;
mod inventory;
mod offer;
mod representation;
mod user;

pub(crate) use event::{Event, EventRow};
pub(crate) use inventory::{InventoryRow, Stock};
pub(crate) use offer::{Offer, OfferRow};
pub(crate) use representation::{Representation, RepresentationRow};
pub(crate) use user::{User, UserRow};
