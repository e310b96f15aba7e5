//! The body of `PUT .../inventory`: a total of the item's own, or the pool it draws from, exactly
//! one (`oneOf` in the document). poem-openapi's derived unions report a bad value without its
//! field; this one hands the body to the object it is, so a refused `total_stock` is still named.

use std::borrow::Cow;

use poem_openapi::Object;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, Type};
use serde_json::Value;

use crate::services::pools::ItemStock;

/// A total of the item's own: a pool of its own, created or resized.
#[derive(Object)]
struct OwnStock {
    /// More than 0, and not below what is held and sold.
    #[oai(validator(minimum(value = "1"), maximum(value = "1000000")))]
    total_stock: i64,
}

/// An existing pool of the same representation to draw from, shared with the other items attached
/// to it.
#[derive(Object)]
struct PoolStock {
    #[oai(validator(min_length = 1, max_length = 100))]
    pool_id: String,
}

/// How an item gets its stock.
pub struct SetInventory(pub ItemStock);

impl Type for SetInventory {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "SetInventory".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |registry| {
            OwnStock::register(registry);
            PoolStock::register(registry);
            MetaSchema {
                description: Some("`{\"total_stock\"}` (a pool of the item's own) or `{\"pool_id\"}`, not both"),
                one_of: vec![OwnStock::schema_ref(), PoolStock::schema_ref()],
                ..MetaSchema::ANY
            }
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for SetInventory {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        let has = |field: &str| value.as_ref().and_then(|v| v.get(field)).is_some_and(|v| !v.is_null());
        match (has("total_stock"), has("pool_id")) {
            (true, true) => Err(ParseError::custom("give either `total_stock` or `pool_id`, not both")),
            (false, true) => PoolStock::parse_from_json(value)
                .map(|p| SetInventory(ItemStock::Pool(p.pool_id)))
                .map_err(ParseError::propagate),
            _ => OwnStock::parse_from_json(value)
                .map(|s| SetInventory(ItemStock::Total(s.total_stock)))
                .map_err(ParseError::propagate),
        }
    }
}
