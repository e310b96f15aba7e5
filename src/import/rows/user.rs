use serde::Deserialize;

use super::CatalogFile;
use crate::domain::NewUser;
use crate::import::fields::Fields;
use crate::import::values;

/// A row of `users.csv`.
#[derive(Debug, Deserialize)]
pub(crate) struct UserRow {
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl CatalogFile for UserRow {
    const FILE: &str = "users.csv";
    const REQUIRED: &[&str] = &["id", "email"];

    fn key(&self) -> String {
        self.id.clone()
    }
}

/// A buyer ready to be written: the value the API would build for the same fields.
#[derive(Debug)]
pub(crate) struct User {
    pub id: String,
    pub user: NewUser,
}

impl TryFrom<&UserRow> for User {
    type Error = Vec<String>;

    fn try_from(row: &UserRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let id = f.id("id", &row.id);
        let email = f.take(values::email(&row.email));
        // the API's own rules on the buyer it would register
        let checked = email.filter(|_| f.is_clean()).map(|email| NewUser {
            first_name: row.first_name.clone().unwrap_or_default(),
            last_name: row.last_name.clone().unwrap_or_default(),
            email,
            phone: None,
            latitude: None,
            longitude: None,
        });
        let user = checked.and_then(|u| f.domain(u.validated()));
        f.finish(|| User { id, user: user.expect("a row without problems has its user") })
    }
}
