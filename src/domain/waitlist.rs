//! The states of a waiting-list entry.

/// ```text
/// waiting --(stock frees up, the entry fits)--> offered --(hold confirmed)--> converted
///    \--(leave)--> left                            \--(offer lapses)--> expired
///                                                  \--(leave / release)--> declined
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum EntryStatus {
    Waiting,
    Offered,
    Converted,
    Expired,
    Declined,
    Left,
}

impl EntryStatus {
    /// The name the API and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Offered => "offered",
            Self::Converted => "converted",
            Self::Expired => "expired",
            Self::Declined => "declined",
            Self::Left => "left",
        }
    }
}
