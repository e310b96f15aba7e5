use serde::Deserialize;

use crate::import::fields::Fields;
use crate::import::read::CatalogFile;
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

/// A user ready to be written.
#[derive(Debug)]
pub(crate) struct User {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

impl TryFrom<&UserRow> for User {
    type Error = Vec<String>;

    fn try_from(row: &UserRow) -> Result<Self, Self::Error> {
        let mut f = Fields::default();
        let id = f.required("id", &row.id);
        let email = f.take(values::email(&row.email));
        f.finish(|| User {
            id,
            email: email.unwrap_or_default(),
            first_name: row.first_name.clone().unwrap_or_default(),
            last_name: row.last_name.clone().unwrap_or_default(),
        })
    }
}
