//! The rows of each catalog file as read (`*Row`: all text, deserialized by header name) and as
//! written (checked and typed, by `TryFrom`). Optional columns are `Option`: absent and empty
//! mean the same. One file per catalog file.

use serde::de::DeserializeOwned;

mod event;
mod inventory;
mod offer;
mod pool;
mod representation;
mod user;

pub(crate) use event::{Event, EventRow};
pub(crate) use inventory::{InventoryRow, Source, Stock};
pub(crate) use offer::{Offer, OfferRow};
pub(crate) use pool::{Pool, PoolRow};
pub(crate) use representation::{Representation, RepresentationRow};
pub(crate) use user::{User, UserRow};

/// The row type of one catalog file.
pub(crate) trait CatalogFile: DeserializeOwned {
    /// The file name, in the catalog directory and in messages.
    const FILE: &'static str;
    /// The columns without which no row of the file makes sense; others are optional.
    const REQUIRED: &'static [&'static str];

    /// What no two rows of the file may share, as it reads in a message.
    fn key(&self) -> String;
}

/// A row and the physical line of its file it starts on (the header is line 1).
#[derive(Debug)]
pub(crate) struct Line<T> {
    pub line: u64,
    pub row: T,
}
