//! `boxoffice import DIR` against a real database: a fresh one per test.

use crate::support::catalog_dir::{self as support, Scratch, row_counts, row_errors};
use crate::support::{TestApp, TestDb};
use boxoffice::import::{Counts, ImportError, ImportSummary, import_catalog};
use chrono::{DateTime, Utc};

fn new(n: u64) -> Counts {
    Counts { inserted: n, updated: 0, unchanged: 0 }
}

fn unchanged(n: u64) -> Counts {
    Counts { inserted: 0, updated: 0, unchanged: n }
}

#[tokio::test]
async fn the_fixture_catalog_loads_completely_and_its_books_balance() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let summary = import_catalog(&pool, &support::fixture()).await.unwrap();

    let expected = ImportSummary {
        events: new(10),
        representations: new(18),
        offers: new(15),
        pools: Counts::default(),
        inventory: new(28),
        users: Counts::default(),
    };
    assert_eq!(summary, expected);
    assert_eq!(
        summary.to_string(),
        "events: 10 (10 new, 0 updated, 0 unchanged)\n\
         representations: 18 (18 new, 0 updated, 0 unchanged)\n\
         offers: 15 (15 new, 0 updated, 0 unchanged)\n\
         inventory: 28 (28 new, 0 updated, 0 unchanged)\n\
         users: 0 (0 new, 0 updated, 0 unchanged)"
    );
    assert_eq!(row_counts(&pool).await, [10, 18, 15, 28, 0]);

    let unbalanced: i64 = sqlx::query_scalar(
        "select count(*) from pools
         where held <> 0 or sold <> total_stock - available or total_stock <> available + held + sold",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(unbalanced, 0);
    let inv_003: (String, i32, i32, i32, i32) = sqlx::query_as(
        "select event_id, total_stock, available, held, sold from (select i.*, p.total_stock, p.available, p.held, p.sold from inventory i join pools p on p.id = i.pool_id) inventory
         where offer_id = 'off_001' and representation_id = 'rep_003'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(inv_003, ("ev_001".into(), 500, 123, 0, 377));

    let rep_009: (DateTime<Utc>, DateTime<Utc>) =
        sqlx::query_as("select starts_at, ends_at from representations where id = 'rep_009'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rep_009.0.to_rfc3339(), "2025-11-01T21:00:00+00:00");
    assert_eq!(rep_009.1.to_rfc3339(), "2025-11-02T03:00:00+00:00");

    let off_004: (String, String, String, Option<i64>, String, i32) = sqlx::query_as(
        "select event_id, name, kind, price_minor, currency, max_quantity_per_order
         from offers where id = 'off_004'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(off_004, ("ev_002".into(), "Meet & Greet".into(), "ticket".into(), None, "EUR".into(), 1));

    let ev_002: (String, String, String, Option<f64>, String) = sqlx::query_as(
        "select organization_id, venue_name, venue_address, venue_latitude, timezone
         from events where id = 'ev_002'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let expected = ("BILLY", "Le Zénith", "15 rue de la fiesta", None, "Europe/Paris");
    assert_eq!((ev_002.0.as_str(), ev_002.1.as_str(), ev_002.2.as_str(), ev_002.3, ev_002.4.as_str()), expected);
}

#[tokio::test]
async fn importing_the_same_catalog_twice_changes_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    import_catalog(&pool, &support::fixture()).await.unwrap();
    let touched = "select max(updated_at) from events";
    let before: DateTime<Utc> = sqlx::query_scalar(touched).fetch_one(&pool).await.unwrap();

    let again = import_catalog(&pool, &support::fixture()).await.unwrap();

    let expected = ImportSummary {
        events: unchanged(10),
        representations: unchanged(18),
        offers: unchanged(15),
        pools: Counts::default(),
        inventory: unchanged(28),
        users: Counts::default(),
    };
    assert_eq!(again, expected);
    let after: DateTime<Utc> = sqlx::query_scalar(touched).fetch_one(&pool).await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn changed_rows_are_updated_and_the_books_still_balance() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    import_catalog(&pool, &support::fixture()).await.unwrap();
    let catalog = Scratch::fixture_copy();
    catalog.replace("events.csv", "Classical Evening,", "Classical Night,");
    catalog.replace("inventory.csv", "inv_003,off_001,rep_003,500,123", "inv_003,off_001,rep_003,600,100");

    let summary = import_catalog(&pool, catalog.path()).await.unwrap();

    assert_eq!(summary.events, Counts { inserted: 0, updated: 1, unchanged: 9 });
    assert_eq!(summary.inventory, Counts { inserted: 0, updated: 1, unchanged: 27 });
    assert_eq!(summary.offers, unchanged(15));
    let books: (i32, i32, i32, i32) = sqlx::query_as(
        "select total_stock, available, held, sold from (select i.*, p.total_stock, p.available, p.held, p.sold from inventory i join pools p on p.id = i.pool_id) inventory
         where offer_id = 'off_001' and representation_id = 'rep_003'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(books, (600, 100, 0, 500));
}

#[tokio::test]
async fn bad_rows_are_all_reported_by_file_and_line_and_nothing_is_written() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    catalog.replace("events.csv", "ev_003,Classical Evening,", "ev_003,,");
    catalog.replace("events.csv", "Elegant classical", "\"Elegant\nclassical");
    catalog.replace("events.csv", "music concert,", "music concert\",");
    catalog.replace("events.csv", "Stand-up comedy evening with top comedians,https://example.com/comedy.jpg,BILLY,Paris MK2,7 quai de la Loire,Europe/Paris", "Stand-up,,BILLY,Paris MK2,,Paris time");
    catalog.replace("offers.csv", "VIP Package,ticket,2,", "VIP Package,ticket,0,");
    catalog.replace("inventory.csv", "inv_004,off_002,rep_001,50,2", "inv_004,off_002,rep_001,50,60");
    catalog.append("inventory.csv", "\ninv_029,off_001,rep_001,5");
    catalog.append("inventory.csv", "\ninv_030,off_001,rep_001,5,-1");
    catalog.append("representations.csv", "\nrep_001,ev_001,2025-07-15T20:00:00+02:00,2025-07-15T23:00:00+02:00");

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let expected = [
        "events.csv:4: title is empty",
        // line 4 spans two lines (a quoted line break), so ev_006 is on line 8
        "events.csv:8: timezone `Paris time` is not a time zone name like Europe/Paris",
        "representations.csv:20: rep_001 is already on line 2",
        "offers.csv:3: max_quantity_per_order must be between 1 and 100, not 0",
        "inventory.csv:5: available_stock 60 is more than total_stock 50",
        "inventory.csv:30: 4 fields where the header has 5",
        // a row's own problems come before those found against other rows
        "inventory.csv:31: available_stock must be at least 0, not -1",
        "inventory.csv:31: off_001 for rep_001 is already on line 2",
    ];
    assert_eq!(row_errors(&error), expected);
    assert!(
        error
            .to_string()
            .starts_with("8 problems in the catalog, nothing was imported:\nevents.csv:4: title is empty\n")
    );
    assert_eq!(row_counts(&pool).await, [0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn references_to_unknown_events_offers_and_representations_are_reported() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::with(&[
        ("events.csv", "id,organization_id,title,venue_name,timezone\nev_1,ORG,Jazz,Olympia,UTC"),
        (
            "representations.csv",
            "id,event_id,start_datetime,end_datetime\n\
             rep_1,ev_1,2025-07-15T20:00:00Z,2025-07-15T23:00:00Z\n\
             rep_2,ev_404,2025-07-16T20:00:00Z,2025-07-16T23:00:00Z",
        ),
        ("offers.csv", "offer_id,event_id,name,max_quantity_per_order\noff_1,ev_405,Standard,4"),
        (
            "inventory.csv",
            "offer_id,representation_id,total_stock,available_stock\n\
             off_999,rep_1,10,10\n\
             off_1,rep_999,10,10",
        ),
    ]);

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let expected = [
        "representations.csv:3: event_id ev_404 is neither in events.csv nor in the database",
        "offers.csv:2: event_id ev_405 is neither in events.csv nor in the database",
        "inventory.csv:2: offer_id off_999 is neither in offers.csv nor in the database",
        "inventory.csv:3: representation_id rep_999 is neither in representations.csv nor in the database",
    ];
    assert_eq!(row_errors(&error), expected);
    assert_eq!(row_counts(&pool).await, [0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn rows_may_refer_to_what_an_earlier_import_wrote() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    import_catalog(&pool, &support::fixture()).await.unwrap();
    let catalog = Scratch::with(&[
        (
            "representations.csv",
            "id,event_id,start_datetime,end_datetime\n\
             rep_100,ev_001,2025-07-18T20:00:00+02:00,2025-07-18T23:00:00+02:00",
        ),
        (
            "inventory.csv",
            "offer_id,representation_id,total_stock,available_stock\n\
             off_001,rep_100,500,500",
        ),
    ]);

    let summary = import_catalog(&pool, catalog.path()).await.unwrap();

    assert_eq!(summary.representations, new(1));
    assert_eq!(summary.inventory, new(1));
    assert_eq!(row_counts(&pool).await, [10, 19, 15, 29, 0]);
}

#[tokio::test]
async fn stock_whose_offer_and_representation_are_for_different_events_is_reported() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    catalog.replace("inventory.csv", "inv_007,off_003,rep_004", "inv_007,off_001,rep_004");

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let expected =
        ["inventory.csv:8: offer off_001 is for event ev_001 but representation rep_004 is for event ev_002"];
    assert_eq!(row_errors(&error), expected);
    assert_eq!(row_counts(&pool).await, [0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn a_representation_ending_before_it_starts_or_with_a_bad_date_is_reported() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    catalog.replace("representations.csv", "2025-07-16T23:00:00+02:00", "2025-07-16T19:00:00+02:00");
    catalog.replace("representations.csv", "2025-08-10T19:30:00+02:00", "2025-08-10 19:30");

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let expected = [
        "representations.csv:3: end_datetime 2025-07-16T19:00:00+02:00 is not after start_datetime 2025-07-16T20:00:00+02:00",
        "representations.csv:5: start_datetime `2025-08-10 19:30` is not a date-time like 2025-07-15T20:00:00+02:00",
    ];
    assert_eq!(row_errors(&error), expected);
    assert_eq!(row_counts(&pool).await, [0, 0, 0, 0, 0]);
}

/// One event on sale next year: `off_1` for `rep_1`, with the given inventory row.
fn small_catalog(inventory: &str) -> Scratch {
    Scratch::with(&[
        ("events.csv", "id,organization_id,title,venue_name,timezone\nev_1,BILLY,Jazz,Olympia,Europe/Paris"),
        (
            "representations.csv",
            "id,event_id,start_datetime,end_datetime\nrep_1,ev_1,2027-07-15T20:00:00+02:00,2027-07-15T23:00:00+02:00",
        ),
        ("offers.csv", "offer_id,event_id,name,max_quantity_per_order,price\noff_1,ev_1,Standard,4,10.00"),
        ("inventory.csv", &format!("offer_id,representation_id,total_stock,available_stock\n{inventory}")),
    ])
}

#[tokio::test]
async fn a_reimport_keeps_what_was_held_and_sold_through_the_api() {
    let app = TestApp::new().await;
    let pool = app.db.pool.clone();
    // 10 tickets, 2 of them sold elsewhere before the import
    import_catalog(&pool, small_catalog("off_1,rep_1,10,8").path()).await.unwrap();
    let buyer = app.create_user().await;
    let bought = app.reserve_now(&buyer, "off_1", "rep_1", 3).await;
    app.confirm(bought["id"].as_str().unwrap()).await.expect(poem::http::StatusCode::OK);
    app.reserve_now(&buyer, "off_1", "rep_1", 1).await;
    assert_eq!(app.books("off_1", "rep_1").await, (10, 4, 1, 5));

    // the same file again changes nothing
    let again = import_catalog(&pool, small_catalog("off_1,rep_1,10,8").path()).await.unwrap();
    assert_eq!(again.inventory, unchanged(1));
    assert_eq!(app.books("off_1", "rep_1").await, (10, 4, 1, 5));

    // 20 tickets, 5 sold elsewhere now: our hold and our 3 sales stay
    let more = import_catalog(&pool, small_catalog("off_1,rep_1,20,15").path()).await.unwrap();
    assert_eq!(more.inventory, Counts { inserted: 0, updated: 1, unchanged: 0 });
    assert_eq!(app.books("off_1", "rep_1").await, (20, 11, 1, 8));

    // a total with no room for them is refused, and nothing moves
    let error = import_catalog(&pool, small_catalog("off_1,rep_1,6,1").path()).await.unwrap_err();
    let expected = ["inventory.csv:2: stock of off_1 for rep_1: total_stock 6 leaves no room for 1 units held and 3 \
                     sold through boxoffice besides the 5 sold elsewhere; at least 9 are needed"];
    assert_eq!(row_errors(&error), expected);
    assert_eq!(app.books("off_1", "rep_1").await, (20, 11, 1, 8));
}

#[tokio::test]
async fn csv_values_the_api_refuses_are_refused_by_the_import() {
    let db = TestDb::new().await;
    let long_title = "x".repeat(301);
    let events = format!(
        "id,organization_id,title,venue_name,timezone\n\
         ev_1,ORG,Jazz,Olympia,Mars/Olympus_Mons\n\
         ev_2,ORG,{long_title},Olympia,UTC"
    );
    let catalog = Scratch::with(&[
        ("events.csv", &events),
        ("offers.csv", "offer_id,event_id,name,max_quantity_per_order,price,currency\noff_1,ev_2,Standard,4,1.00,eur"),
        ("users.csv", "id,email\nu_1,ann(at)example.org\nu_2,bob@example..org"),
    ]);

    let error = import_catalog(&db.pool, catalog.path()).await.unwrap_err();

    let expected = [
        "events.csv:2: timezone `Mars/Olympus_Mons` is not a time zone name like Europe/Paris",
        "events.csv:3: title must be at most 300 characters",
        "offers.csv:2: currency `eur` is not a three-letter code in capitals like EUR",
        "users.csv:2: email `ann(at)example.org` is not a valid address",
        "users.csv:3: email `bob@example..org` is not a valid address",
    ];
    assert_eq!(row_errors(&error), expected);
}

#[tokio::test]
async fn values_the_import_refuses_are_refused_by_the_api() {
    use poem::http::StatusCode;
    use serde_json::json;
    let app = TestApp::new().await;
    for email in ["ann(at)example.org", "bob@example..org", "c;d@example.org"] {
        let reply = app.post("/api/users", Some(&app.client), json!({"email": email})).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    }
    let body =
        json!({"organization_id": "ORG", "title": "Jazz", "venue_name": "Olympia", "timezone": "Mars/Olympus_Mons"});
    app.post("/api/events", Some(&app.admin), body)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    let event = app.create_event("ORG", json!({})).await;
    for offer in [
        json!({"name": "A", "price_minor": 100, "currency": "eur"}),
        json!({"name": "A", "price_minor": 1_000_000_000_001_i64}),
    ] {
        let reply = app.post(&format!("/api/events/{event}/offers"), Some(&app.admin), offer).await;
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn a_missing_file_is_an_io_error_and_a_missing_column_a_header_error() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    std::fs::remove_file(catalog.path().join("offers.csv")).unwrap();
    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();
    assert!(matches!(&error, ImportError::Io { path, .. } if path.ends_with("offers.csv")), "{error:?}");

    let catalog = Scratch::fixture_copy();
    catalog.replace("events.csv", ",venue_address,timezone", ",venue_address");
    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();
    assert_eq!(row_errors(&error), ["events.csv:1: missing column: timezone"]);
}

#[tokio::test]
async fn at_most_a_hundred_problems_are_reported() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    let bad_rows: String = (0..150).map(|_| "\ninv_x,off_001,rep_001,-1,-1").collect();
    catalog.append("inventory.csv", &bad_rows);

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    assert_eq!(row_errors(&error).len(), 100);
    assert!(error.to_string().contains("(only the first 100 are listed)"));
}

#[tokio::test]
async fn users_are_imported_with_trimmed_lower_case_emails_and_no_location() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    // another column order, quoting, and a trailing newline
    catalog.write(
        "users.csv",
        "email,last_name,id,first_name\n\
         \"  Alice.Martin@Example.COM \",Martin,usr_1,Alice\n\
         bob@example.org,,usr_2,Bob\n",
    );

    let summary = import_catalog(&pool, catalog.path()).await.unwrap();

    assert_eq!(summary.users, new(2));
    let users: Vec<(String, String, String, String)> =
        sqlx::query_as("select id, email, first_name, last_name from users order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let users: Vec<[&str; 4]> =
        (users.iter()).map(|(id, email, first, last)| [id.as_str(), email, first, last]).collect();
    let alice = ["usr_1", "alice.martin@example.com", "Alice", "Martin"];
    assert_eq!(users, [alice, ["usr_2", "bob@example.org", "Bob", ""]]);
    let located: i64 =
        sqlx::query_scalar("select count(*) from users where latitude is not null or longitude is not null")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(located, 0);

    let again = import_catalog(&pool, catalog.path()).await.unwrap();
    assert_eq!(again.users, unchanged(2));
}

#[tokio::test]
async fn invalid_and_duplicate_users_are_reported() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    catalog.write(
        "users.csv",
        "id,email,first_name,last_name\n\
         usr_1,alice.example.com,Alice,Martin\n\
         usr_2,bob@example.org,Bob,\n\
         usr_2,robert@example.org,Robert,\n\
         usr_3,BOB@example.org ,Bobby,\n\
         ,,,",
    );

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let expected = [
        "users.csv:2: email `alice.example.com` is not a valid address",
        "users.csv:4: usr_2 is already on line 3",
        "users.csv:5: bob@example.org is already on line 3",
        "users.csv:6: id is empty",
        "users.csv:6: email is empty",
    ];
    assert_eq!(row_errors(&error), expected);
    assert_eq!(row_counts(&pool).await, [0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn a_row_the_database_refuses_is_reported_with_its_line_and_nothing_is_written() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    sqlx::query("insert into users (id, email) values ('usr_0', 'alice@example.com')").execute(&pool).await.unwrap();
    let catalog = Scratch::fixture_copy();
    catalog.write(
        "users.csv",
        "id,email,first_name,last_name\nusr_1,bob@example.org,Bob,\nusr_2,Alice@example.com,Alice,",
    );

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let errors = row_errors(&error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("users.csv:3: refused by the database: "), "{errors:?}");
    assert!(errors[0].contains("users_email_unique"), "{errors:?}");
    // the catalog written before the users was rolled back
    assert_eq!(row_counts(&pool).await, [0, 0, 0, 0, 1]);
}

#[tokio::test]
async fn optional_location_price_and_currency_columns_are_imported() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    // other column orders, an unknown column, a trailing newline and CRLF line ends
    let catalog = Scratch::with(&[
        (
            "events.csv",
            "venue_longitude,id,title,organization_id,venue_name,timezone,venue_latitude,legacy\n\
             2.3522,ev_1,Jazz,ORG,Olympia,Europe/Paris,48.8566,x\n\
             ,ev_2,Rock,ORG,Zénith,Europe/Paris,,y\n",
        ),
        (
            "offers.csv",
            "price,offer_id,event_id,name,max_quantity_per_order,currency\r\n\
             45.50,off_1,ev_1,Standard,4,USD\r\n\
             ,off_2,ev_2,Guest list,2,\r\n",
        ),
        (
            "representations.csv",
            "event_id,id,end_datetime,start_datetime\n\
             ev_1,rep_1,2025-07-15T23:00:00+02:00,2025-07-15T20:00:00+02:00",
        ),
        ("inventory.csv", "available_stock,total_stock,representation_id,offer_id\n7,10,rep_1,off_1"),
    ]);

    let summary = import_catalog(&pool, catalog.path()).await.unwrap();

    assert_eq!(summary.events, new(2));
    assert_eq!(summary.offers, new(2));
    let events: Vec<(String, Option<f64>, Option<f64>, String)> =
        sqlx::query_as("select id, venue_latitude, venue_longitude, description from events order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected = vec![
        ("ev_1".to_owned(), Some(48.8566), Some(2.3522), String::new()),
        ("ev_2".to_owned(), None, None, String::new()),
    ];
    assert_eq!(events, expected);
    let offers: Vec<(String, Option<i64>, String, String)> =
        sqlx::query_as("select id, price_minor, currency, kind from offers order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected = vec![
        ("off_1".to_owned(), Some(4550), "USD".to_owned(), "ticket".to_owned()),
        ("off_2".to_owned(), None, "EUR".to_owned(), "ticket".to_owned()),
    ];
    assert_eq!(offers, expected);
    let books: (i32, i32, i32) =
        sqlx::query_as("select total_stock, available, sold from pools").fetch_one(&pool).await.unwrap();
    assert_eq!(books, (10, 7, 3));

    let again = import_catalog(&pool, catalog.path()).await.unwrap();
    assert_eq!((again.events, again.offers), (unchanged(2), unchanged(2)));
}

#[tokio::test]
async fn bad_locations_and_prices_are_reported() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::with(&[
        (
            "events.csv",
            "id,organization_id,title,venue_name,timezone,venue_latitude,venue_longitude\n\
             ev_1,ORG,Jazz,Olympia,UTC,48.8566,\n\
             ev_2,ORG,Rock,Zénith,UTC,91,2.35\n\
             ev_3,ORG,Pop,Olympia,UTC,north,2.35",
        ),
        (
            "offers.csv",
            "offer_id,event_id,name,max_quantity_per_order,price,currency\n\
             off_1,ev_1,Standard,4,45.505,EUR\n\
             off_2,ev_1,VIP,101,0,euro",
        ),
    ]);

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let expected = [
        "events.csv:2: venue_latitude is set but venue_longitude is empty: give both or neither",
        "events.csv:3: venue_latitude must be between -90 and 90, not 91",
        "events.csv:4: venue_latitude `north` is not a number",
        "offers.csv:2: price `45.505` is not an amount like 45.50",
        "offers.csv:3: max_quantity_per_order must be between 1 and 100, not 101",
        "offers.csv:3: price must be more than 0 (leave it empty for an offer without a price)",
        "offers.csv:3: currency `euro` is not a three-letter code in capitals like EUR",
    ];
    assert_eq!(row_errors(&error), expected);
}

#[tokio::test]
async fn a_representation_cannot_move_to_another_event() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    import_catalog(&pool, &support::fixture()).await.unwrap();
    let catalog = Scratch::fixture_copy();
    catalog.replace("representations.csv", "rep_004,ev_002", "rep_004,ev_001");

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    let expected = [
        "representations.csv:5: representation rep_004 belongs to event ev_002 in the database \
         and cannot move to ev_001",
        // its stock is for offers of ev_002, as the files say
        "inventory.csv:8: offer off_003 is for event ev_002 but representation rep_004 is for event ev_001",
        "inventory.csv:10: offer off_004 is for event ev_002 but representation rep_004 is for event ev_001",
    ];
    assert_eq!(row_errors(&error), expected);
}

#[tokio::test]
async fn a_row_with_too_many_fields_is_reported_once_and_not_as_missing_elsewhere() {
    let db = TestDb::new().await;
    let pool = db.pool.clone();
    let catalog = Scratch::fixture_copy();
    // an unquoted comma: ev_004 cannot be read, yet rep_007, rep_008 and its offers refer to it
    catalog.replace("events.csv", "Popular music hits", "Popular music, hits");

    let error = import_catalog(&pool, catalog.path()).await.unwrap_err();

    assert_eq!(row_errors(&error), ["events.csv:5: 9 fields where the header has 8"]);
    assert_eq!(row_counts(&pool).await, [0, 0, 0, 0, 0]);
}
