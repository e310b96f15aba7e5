//! Places on Earth and search radii.

use super::{ValidationErrors, Validator};

/// A latitude and longitude in degrees, both within range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

impl GeoPoint {
    /// Checks both coordinates, recording problems against `lat_field` / `lon_field`.
    pub fn validate(v: &mut Validator, lat_field: &str, lon_field: &str, latitude: f64, longitude: f64) -> GeoPoint {
        v.check((-90.0..=90.0).contains(&latitude), lat_field, "latitude must be between -90 and 90");
        v.check((-180.0..=180.0).contains(&longitude), lon_field, "longitude must be between -180 and 180");
        GeoPoint { latitude: snap(latitude), longitude: snap(longitude) }
    }

    /// Both or neither: a location needs its two coordinates.
    pub fn validate_optional(
        v: &mut Validator,
        lat_field: &str,
        lon_field: &str,
        latitude: Option<f64>,
        longitude: Option<f64>,
    ) -> Option<GeoPoint> {
        match (latitude, longitude) {
            (Some(lat), Some(lon)) => Some(Self::validate(v, lat_field, lon_field, lat, lon)),
            (None, None) => None,
            (None, Some(_)) => {
                v.push(lat_field, "latitude and longitude go together");
                None
            }
            (Some(_), None) => {
                v.push(lon_field, "latitude and longitude go together");
                None
            }
        }
    }

    /// Parses the `near=LAT,LON` query form.
    pub fn parse_query(field: &str, raw: &str) -> Result<GeoPoint, ValidationErrors> {
        let mut v = Validator::new("query");
        let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
        let parsed = match parts.as_slice() {
            [lat, lon] => lat.parse::<f64>().ok().zip(lon.parse::<f64>().ok()),
            _ => None,
        };
        let Some((lat, lon)) = parsed.filter(|(a, b)| a.is_finite() && b.is_finite()) else {
            v.push(field, "must be LATITUDE,LONGITUDE in degrees, e.g. 48.87,2.33");
            return Err(v.finish().unwrap_err());
        };
        let point = Self::validate(&mut v, field, field, lat, lon);
        v.finish().map(|()| point)
    }
}

/// Degrees closer to 0 than a micrometre on the ground are 0: PostgreSQL's earthdistance refuses
/// the products of such tiny numbers (a float underflow), and no venue is that precise.
fn snap(degrees: f64) -> f64 {
    if degrees.abs() < 1e-9 { 0.0 } else { degrees }
}

/// A search radius in kilometres: positive and no more than half the Earth's circumference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchRadius(f64);

impl SearchRadius {
    pub const MAX_KM: f64 = 20_000.0;
    /// A metre: below it, distances underflow in PostgreSQL's earthdistance.
    pub const MIN_KM: f64 = 0.001;

    pub fn parse(field: &str, km: f64) -> Result<SearchRadius, ValidationErrors> {
        let mut v = Validator::new("query");
        v.check(
            km.is_finite() && km >= Self::MIN_KM,
            field,
            format!("ensure this value is greater than or equal to {}", Self::MIN_KM),
        );
        v.check(km <= Self::MAX_KM, field, format!("ensure this value is less than or equal to {}", Self::MAX_KM));
        v.finish().map(|()| SearchRadius(km))
    }

    pub fn km(self) -> f64 {
        self.0
    }
}
