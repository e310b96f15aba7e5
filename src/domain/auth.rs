//! Who is calling, and what they may do.

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    /// Everything, including the admin endpoints.
    Admin,
    /// Manage the catalog of one organization's events.
    Organizer,
    /// A trusted front end acting for buyers.
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Organizer => "organizer",
            Role::Client => "client",
        }
    }

    /// A role as an operator types it.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "organizer" => Some(Role::Organizer),
            "client" => Some(Role::Client),
            _ => None,
        }
    }
}

/// A request quota: `requests` per `window_secs` seconds (GCRA: a burst of `requests` at once,
/// then one more every `window_secs / requests` seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub requests: u32,
    pub window_secs: u32,
}

impl std::str::FromStr for RatePolicy {
    type Err = String;

    /// `N/S` (N requests per S seconds), `N/m` (per minute) or `N` (per minute).
    fn from_str(s: &str) -> Result<RatePolicy, String> {
        let bad = || format!("'{s}' is not a rate: N (per minute), N/m, or N/S for N requests per S seconds");
        let (n, w) = s.trim().split_once('/').unwrap_or((s.trim(), "m"));
        let requests: u32 = n.trim().parse().map_err(|_| bad())?;
        let window_secs: u32 = match w.trim() {
            "m" => 60,
            "s" => 1,
            "h" => 3600,
            secs => secs.trim_end_matches('s').parse().map_err(|_| bad())?,
        };
        if requests == 0 || window_secs == 0 || window_secs > 86_400 {
            return Err(bad());
        }
        Ok(RatePolicy { requests, window_secs })
    }
}

impl std::fmt::Display for RatePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.requests, self.window_secs)
    }
}

/// The caller behind a valid API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub key_id: uuid::Uuid,
    pub role: Role,
    /// The key's own quota, if it was given one.
    pub rate: Option<RatePolicy>,
    /// The organization an organizer key is limited to, or a client key (then it acts only for
    /// the buyers of that organization's events).
    pub organization_id: Option<String>,
}

impl Principal {
    /// Admins manage every organization; organizers only their own.
    pub fn may_manage(&self, organization_id: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Organizer => self.organization_id.as_deref() == Some(organization_id),
            Role::Client => false,
        }
    }

    /// Admins and clients act for buyers.
    pub fn may_act_for_buyers(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Client)
    }

    /// Admins and clients without an organization act for the buyers of any event; a client of an
    /// organization only for those of its events.
    pub fn may_act_for_buyers_of(&self, organization_id: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Client => self.organization_id.as_deref().is_none_or(|own| own == organization_id),
            Role::Organizer => false,
        }
    }

    /// The organization a client key is limited to: what it reads of a buyer is filtered to it.
    pub fn buyer_scope(&self) -> Option<&str> {
        match self.role {
            Role::Client => self.organization_id.as_deref(),
            Role::Admin | Role::Organizer => None,
        }
    }

    pub fn may_edit_catalog(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Organizer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(role: Role, org: Option<&str>) -> Principal {
        Principal { key_id: uuid::Uuid::nil(), role, rate: None, organization_id: org.map(str::to_string) }
    }

    #[test]
    fn an_organizer_manages_only_its_own_organization() {
        let organizer = key(Role::Organizer, Some("BILLY"));
        assert!(organizer.may_manage("BILLY"));
        assert!(!organizer.may_manage("OTHER"));
        assert!(key(Role::Admin, None).may_manage("OTHER"));
        assert!(!key(Role::Client, None).may_manage("BILLY"));
    }

    #[test]
    fn a_client_of_an_organization_acts_only_for_its_events_buyers() {
        let shop = key(Role::Client, Some("BILLY"));
        assert!(shop.may_act_for_buyers_of("BILLY"));
        assert!(!shop.may_act_for_buyers_of("OTHER"));
        assert!(key(Role::Client, None).may_act_for_buyers_of("OTHER"));
        assert!(!key(Role::Organizer, Some("BILLY")).may_act_for_buyers_of("BILLY"));
        assert_eq!(shop.buyer_scope(), Some("BILLY"));
        assert_eq!(key(Role::Admin, None).buyer_scope(), None);
    }
}
