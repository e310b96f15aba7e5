//! Text in request bodies. poem-openapi's `String` also takes a JSON number or boolean and keeps
//! it as text (`"first_name": 12` became `"12"`), which the spec (`type: string`) does not allow
//! and a client sending it most likely did not mean: `Text` takes a JSON string and nothing else.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
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
}
