//! A JSON body that may be absent: the waiting-list join takes its parameters in the query (as the
//! existing service does) or in a body, and confirming a hold needs no body. poem-openapi's `Json`
//! is always required, so this extractor documents an optional body and accepts an empty one
//! (or `null`).

use poem::{Request, RequestBody};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::ParseFromJSON;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType { content_type: "application/json; charset=utf-8", schema: T::schema_ref() }],
            required: false,
        })
    }

    async fn from_request(
        _request: &'a Request,
        body: &mut RequestBody,
        _options: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bytes = body.take()?.into_bytes().await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        let invalid = |reason: String| ParseRequestPayloadError { reason };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if value.is_null() {
            return Ok(OptionalJson(None));
        }
        let parsed = T::parse_from_json(Some(value)).map_err(|e| invalid(e.into_message()))?;
        Ok(OptionalJson(Some(parsed)))
    }
}
