//! Buyers.

use super::validation::trim_blank;
use super::{GeoPoint, ValidationErrors, Validator};

/// A buyer as a client front end registers them.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl NewUser {
    /// Trims names, lower-cases the email (it is unique case-insensitively), checks the location.
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut v = Validator::new("body");
        v.check(self.first_name.chars().count() <= 100, "first_name", "must be at most 100 characters");
        v.check(self.last_name.chars().count() <= 100, "last_name", "must be at most 100 characters");
        self.first_name = trim_blank(&self.first_name).to_string();
        self.last_name = trim_blank(&self.last_name).to_string();
        match normalized_email(&self.email) {
            Some(email) => self.email = email,
            None => v.push("email", "must be an email address"),
        }
        if let Some(phone) = &self.phone {
            let ok = phone.len() <= 32 && phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
            v.check(ok, "phone", "must be a phone number (digits, spaces, + - ( ) .), at most 32 characters");
        }
        self.phone = self.phone.map(|p| p.trim().to_string()).filter(|p| !p.is_empty());
        if let Some(at) = GeoPoint::validate_optional(&mut v, "latitude", "longitude", self.latitude, self.longitude) {
            (self.latitude, self.longitude) = (Some(at.latitude), Some(at.longitude));
        }
        v.finish().map(|()| self)
    }
}

/// The address as stored (trimmed, lower-cased: it is unique case-insensitively), if it is one:
/// one `@` with something on each side, a domain of dot-separated labels, no spaces, control
/// characters or characters that need quoting. Deliverability is the mail server's to judge.
/// The API and the importer both go through here.
pub fn normalized_email(raw: &str) -> Option<String> {
    if raw.chars().count() > 254 {
        return None;
    }
    let email = trim_blank(raw).to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "\",;:<>()[]\\".contains(c);
    let plausible = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !email.chars().any(forbidden);
    plausible.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str) -> NewUser {
        NewUser {
            first_name: "A".into(),
            last_name: "B".into(),
            email: email.into(),
            phone: None,
            latitude: None,
            longitude: None,
        }
    }

    #[test]
    fn an_email_is_trimmed_and_lower_cased() {
        assert_eq!(user(" Ada@Example.COM ").validated().unwrap().email, "ada@example.com");
    }

    #[test]
    fn an_address_without_a_domain_is_rejected() {
        assert!(user("ada@").validated().is_err());
        assert!(user("ada").validated().is_err());
        assert!(user("a b@x.org").validated().is_err());
        for bad in ["a(b)@x.org", "a@x..org", "a@@x.org", "a;b@x.org", "a@.x.org"] {
            assert!(user(bad).validated().is_err(), "{bad} was accepted");
        }
    }
}
