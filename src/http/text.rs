//! Text in requests: bodies and patterned query parameters. poem-openapi's `String` also takes a
//! JSON number or boolean and keeps it as text (`"first_name": 12` became `"12"`), which the spec (`type: string`) does not allow
//! and a client sending it most likely did not mean: `Text` takes a JSON string and nothing else.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type};
use poem_openapi::validation::Validator;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        String::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Ok(Text(text)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.0
    }
}

/// The texts as plain strings.
pub fn plain_all<T: Into<String>>(texts: Vec<T>) -> Vec<String> {
    texts.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_string_is_text() {
        assert_eq!(Text::parse_from_json(Some(Value::String("a".into()))).unwrap(), Text("a".into()));
        for other in [serde_json::json!(12), serde_json::json!(true), serde_json::json!(null), serde_json::json!([])] {
            assert!(Text::parse_from_json(Some(other)).is_err());
        }
    }
}

/// Text with a pattern the OpenAPI document states, checked by a function instead of the regex
/// (poem-openapi's `pattern` validator compiles its regex again for every value it checks).
macro_rules! patterned_text {
    ($(#[$doc:meta])* $name:ident, $check:ident, $pattern:expr, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name(pub String);

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                String::name()
            }

            fn schema_ref() -> MetaSchemaRef {
                let mut schema = MetaSchema::new("string");
                schema.pattern = Some($pattern.to_string());
                MetaSchemaRef::Inline(Box::new(schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }

            fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl ParseFromJSON for $name {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                Text::parse_from_json(value).map(|t| $name(t.0)).map_err(ParseError::propagate)
            }
        }

        impl ToJSON for $name {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(text: $name) -> String {
                text.0
            }
        }

        /// The check of the pattern, as a validator (`custom = "...")`).
        pub struct $check;

        impl std::fmt::Display for $check {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "pattern(\"{}\")", $pattern)
            }
        }

        impl Validator<$name> for $check {
            fn check(&self, value: &$name) -> bool {
                let valid: fn(&str) -> bool = $valid;
                valid(&value.0)
            }
        }
    };
}

/// The pattern of a text that is not blank (see `domain::trim_blank`).
pub const NOT_BLANK: &str = r"[^ \t\n\f\r]";

/// The addresses `domain::normalized_email` takes, at most 254 characters.
pub const EMAIL: &str = concat!(
    r"^[ \t\n\f\r]*",
    r#"[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@",;:<>()\[\]\\]+"#,
    r#"@[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@",;:<>()\[\]\\.]+"#,
    r#"(\.[^\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@",;:<>()\[\]\\.]+)+"#,
    r"[ \t\n\f\r]*$"
);

patterned_text!(
    /// Text that is not blank once ASCII whitespace is trimmed.
    NotBlank,
    NotBlankCheck,
    NOT_BLANK,
    |s| !crate::domain::trim_blank(s).is_empty()
);

patterned_text!(
    /// An email address as the API takes it.
    Email,
    EmailCheck,
    EMAIL,
    |s| s.chars().count() <= 254 && crate::domain::normalized_email(s).is_some()
);

/// A query parameter with a pattern the OpenAPI document states, checked by a function that
/// agrees with it (see [`patterned_text!`]); any other value is refused with `$problem` (422), so
/// the document's pattern is exactly what is taken.
macro_rules! patterned_param {
    ($(#[$doc:meta])* $name:ident, $pattern:expr, $valid:expr, $problem:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub String);

        impl Type for $name {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                String::name()
            }

            fn schema_ref() -> MetaSchemaRef {
                let mut schema = MetaSchema::new("string");
                schema.pattern = Some($pattern.to_string());
                MetaSchemaRef::Inline(Box::new(schema))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }

            fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl ParseFromParameter for $name {
            fn parse_from_parameter(value: &str) -> ParseResult<Self> {
                let valid: fn(&str) -> bool = $valid;
                if valid(value) { Ok($name(value.to_string())) } else { Err(ParseError::from($problem)) }
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// `LATITUDE,LONGITUDE` in degrees, each within range, as decimal numbers (or below 10 with a
/// negative exponent): `^LATITUDE,LONGITUDE$` with the two patterns of the tests below.
pub const NEAR: &str = r"^-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?|[0-9](\.[0-9]+)?[eE]-[0-9]+),-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?|[0-9](\.[0-9]+)?[eE]-[0-9]+)$";

/// Seconds, 0 to 30, as `wait` takes them: a decimal number, `s` after it or not.
pub const WAIT: &str = r"^(30(\.0+)?|[12]?[0-9](\.[0-9]+)?)s?$";

/// Digits, at least one.
fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// An unsigned decimal without leading zeros (`7`, `12.5`) of at most `max` (a whole number).
fn decimal_at_most(s: &str, max: u32) -> bool {
    let (whole, fraction) = s.split_once('.').map_or((s, None), |(w, f)| (w, Some(f)));
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) || (whole.len() > 1 && whole.starts_with('0')) {
        return false;
    }
    match whole.parse::<u32>() {
        Ok(n) if n < max => true,
        Ok(n) if n == max => fraction.is_none_or(|f| f.bytes().all(|b| b == b'0')),
        _ => false,
    }
}

/// A coordinate of at most `max` degrees either way: a latitude of [`NEAR`] with 90, its longitude
/// with 180.
fn coordinate(s: &str, max: u32) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    match s.split_once(['e', 'E']) {
        // below 10 whatever the exponent: one digit before the point, a negative exponent
        Some((mantissa, exponent)) => {
            let (whole, fraction) = mantissa.split_once('.').map_or((mantissa, None), |(w, f)| (w, Some(f)));
            whole.len() == 1
                && digits(whole)
                && fraction.is_none_or(digits)
                && exponent.strip_prefix('-').is_some_and(digits)
        }
        None => decimal_at_most(s, max),
    }
}

patterned_param!(
    /// `near`: `LATITUDE,LONGITUDE` in degrees ([`NEAR`]).
    Near,
    NEAR,
    |s| s.split_once(',').is_some_and(|(lat, lon)| coordinate(lat, 90) && coordinate(lon, 180)),
    "must be LATITUDE,LONGITUDE in degrees, latitude -90 to 90 and longitude -180 to 180, e.g. 48.87,2.33"
);

patterned_param!(
    /// `wait`: seconds, 0 to 30 ([`WAIT`]).
    WaitSeconds,
    WAIT,
    |s| decimal_at_most(s.strip_suffix('s').unwrap_or(s), 30),
    "seconds to wait, from 0 to 30 (e.g. 5 or 5s)"
);

#[cfg(test)]
mod pattern_tests {
    use super::*;

    /// The spec's patterns and the code's checks agree on every sample.
    #[test]
    fn patterns_say_what_the_checks_do() {
        let not_blank = regex::Regex::new(NOT_BLANK).unwrap();
        for s in ["", " ", "\t\n\r\u{c}", "a", " a ", "\u{b}", "\u{a0}", "\u{1c}", "é"] {
            assert_eq!(not_blank.is_match(s), NotBlankCheck.check(&NotBlank(s.into())), "{s:?}");
        }
        let email = regex::Regex::new(EMAIL).unwrap();
        let samples = [
            "a@b.co",
            " a@b.co\t",
            "A@B.CO",
            "a@b",
            "a@@b.co",
            "a b@c.de",
            "a(b)@c.de",
            "a@b..co",
            "a@.b.co",
            "a@b.co.",
            "\u{a0}a@b.co",
            "a\u{85}@b.co",
            "a@b\u{3000}.co",
            "é@ü.de",
            "a;b@c.de",
            "\"a\"@b.co",
            "@b.co",
            "a@b.c\u{1c}",
            "a@b.c\u{b}",
        ];
        for s in samples {
            assert_eq!(email.is_match(s), EmailCheck.check(&Email(s.into())), "{s:?}");
        }
    }

    /// A latitude (`-90` to `90`) as `near` takes it: a decimal number, or a tiny one in exponent form.
    const LATITUDE: &str = r"-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?|[0-9](\.[0-9]+)?[eE]-[0-9]+)";
    /// A longitude (`-180` to `180`), the same way.
    const LONGITUDE: &str = r"-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?|[0-9](\.[0-9]+)?[eE]-[0-9]+)";

    /// The query parameters' patterns and checks agree on every sample.
    #[test]
    fn query_patterns_say_what_the_checks_do() {
        assert_eq!(NEAR, format!("^{LATITUDE},{LONGITUDE}$"));
        let near = regex::Regex::new(NEAR).unwrap();
        let samples = [
            "48.87,2.33",
            "-48.87,-2.33",
            "0,0",
            "90,180",
            "-90,-180",
            "90.000,180.0",
            "90.01,0",
            "0,180.5",
            "91,0",
            "0,181",
            "89.999,179.999",
            "0,5e-324",
            "5E-3,1e-1",
            "10e-1,0",
            "0,1e5",
            "0,1e+5",
            "0,1e-",
            "048,2",
            "00,0",
            "0.,0",
            ".5,0",
            "0,.5",
            "+1,2",
            "1, 2",
            " 1,2",
            "1,2,3",
            "1",
            "",
            ",",
            "a,b",
            "1,2\n",
            "-,1",
            "--1,2",
            "0,-0",
            "1.5e-3,2",
            "100,0",
            "9,99",
            "0,199",
            "0,179",
            "NaN,0",
            "inf,0",
            "٣,0",
        ];
        for s in samples {
            let parsed = Near::parse_from_parameter(s);
            assert_eq!(near.is_match(s), parsed.is_ok(), "{s:?}");
            if parsed.is_ok() {
                let point = crate::domain::GeoPoint::parse_query("near", s);
                assert!(point.is_ok(), "{s:?} matches the pattern, so the search takes it");
            }
        }
        let wait = regex::Regex::new(WAIT).unwrap();
        let samples = [
            "0", "5", "5s", "2.5", "2.5s", "29.99", "30", "30.0s", "30.01", "31", "05", "5ss", "s", "", "-1", "1e1",
            " 5", "5 ", "10", "10s", "forever", "3.", ".3",
        ];
        for s in samples {
            assert_eq!(wait.is_match(s), WaitSeconds::parse_from_parameter(s).is_ok(), "{s:?}");
        }
    }
}
