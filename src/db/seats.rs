use sqlx::PgConnection;

/// Labels among `labels` that the representation already has.
pub async fn existing_labels(
    conn: &mut PgConnection,
    representation_id: &str,
    labels: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select label from seats where representation_id = $1 and label = any($2) order by label")
        .bind(representation_id)
        .bind(labels)
        .fetch_all(conn)
        .await
}

/// Inserts every label in one statement; the unique constraint is the judge when two requests race.
pub async fn insert_many(
    conn: &mut PgConnection,
    representation_id: &str,
    offer_id: &str,
    labels: &[String],
) -> sqlx::Result<Vec<(uuid::Uuid, String)>> {
    sqlx::query_as(
        "insert into seats (representation_id, offer_id, label)
         select $1, $2, label from unnest($3::text[]) as label
         returning id, label",
    )
    .bind(representation_id)
    .bind(offer_id)
    .bind(labels)
    .fetch_all(conn)
    .await
}

/// Labels among `labels` that exist in the representation under this offer.
pub async fn existing_labels_of_offer(
    conn: &mut PgConnection,
    representation_id: &str,
    offer_id: &str,
    labels: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select label from seats where representation_id = $1 and offer_id = $2 and label = any($3)")
        .bind(representation_id)
        .bind(offer_id)
        .bind(labels)
        .fetch_all(conn)
        .await
}
