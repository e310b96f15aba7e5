//! Parsing single values that have rules of their own. No I/O: each function returns the value
//! or a reason a person can act on.

/// An amount in major units (`45.50`, `45.5`, `45`) as minor units (`4550`).
pub(crate) fn price_minor(value: &str) -> Result<i64, String> {
    let (units, cents) = value.split_once('.').unwrap_or((value, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(units) || !digits(cents) || cents.len() > 2 {
        return Err(format!("price `{value}` is not an amount like 45.50"));
    }
    let cents = if cents.len() == 1 { format!("{cents}0") } else { cents.to_owned() };
    let minor = units
        .parse::<i64>()
        .ok()
        .and_then(|u| u.checked_mul(100)?.checked_add(cents.parse().ok()?))
        .ok_or_else(|| format!("price `{value}` is too large"))?;
    if minor == 0 {
        return Err("price must be more than 0 (leave it empty for an offer without a price)".into());
    }
    if minor > crate::domain::MAX_PRICE_MINOR {
        return Err(format!("price `{value}` is too large: at most {}.00", crate::domain::MAX_PRICE_MINOR / 100));
    }
    Ok(minor)
}

/// A currency code as the API takes it: three capital letters.
pub(crate) fn currency(value: &str) -> Result<String, String> {
    if crate::domain::is_currency_code(value) {
        Ok(value.to_owned())
    } else {
        Err(format!("currency `{value}` is not a three-letter code in capitals like EUR"))
    }
}

/// A plausible IANA time zone name (`Europe/Paris`, `UTC`): a light check, the database keeps
/// whatever passes it.
pub(crate) fn timezone(value: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+');
    let plausible = !value.is_empty() && value.chars().all(allowed) && !value.starts_with('/') && !value.ends_with('/');
    if plausible {
        Ok(value.to_owned())
    } else {
        Err(format!("timezone `{value}` is not a time zone name like Europe/Paris"))
    }
}

/// An email address as the API takes it, trimmed and lower-cased as the database stores it.
pub(crate) fn email(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("email is empty".to_owned());
    }
    crate::domain::normalized_email(value).ok_or_else(|| format!("email `{value}` is not a valid address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_in_major_units_become_minor_units() {
        assert_eq!(price_minor("45.50"), Ok(4550));
        assert_eq!(price_minor("45.5"), Ok(4550));
        assert_eq!(price_minor("45"), Ok(4500));
        assert_eq!(price_minor("0.07"), Ok(7));
        for bad in ["", "-1", "1.234", "1,50", ".5", "5.", "0", "0.00", "€5", "1e3"] {
            assert!(price_minor(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn emails_are_normalised_and_nonsense_is_refused() {
        assert_eq!(email("  Alice@Example.COM ").as_deref(), Ok("alice@example.com"));
        for bad in ["", "alice", "@example.com", "alice@", "alice@example", "a b@example.com"] {
            assert!(email(bad).is_err(), "{bad} was accepted");
        }
        assert!(email("alice@@example.com").is_err());
        assert!(email("alice@example..com").is_err());
    }

    #[test]
    fn timezones_are_checked_lightly() {
        assert!(timezone("Europe/Paris").is_ok());
        assert!(timezone("America/Port-au-Prince").is_ok());
        assert!(timezone("Etc/GMT+2").is_ok());
        for bad in ["", "Europe/ Paris", "Paris time", "/Europe", "Europe/"] {
            assert!(timezone(bad).is_err(), "{bad} was accepted");
        }
    }
}
