use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::NewUser;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut PgConnection, id: &str, u: &NewUser) -> sqlx::Result<UserRow> {
    sqlx::query_as(
        "insert into users (id, first_name, last_name, email, phone, latitude, longitude)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, first_name, last_name, email, phone, latitude, longitude, created_at",
    )
    .bind(id)
    .bind(&u.first_name)
    .bind(&u.last_name)
    .bind(&u.email)
    .bind(&u.phone)
    .bind(u.latitude)
    .bind(u.longitude)
    .fetch_one(conn)
    .await
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(
        "select id, first_name, last_name, email, phone, latitude, longitude, created_at
         from users where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}
