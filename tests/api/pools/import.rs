//! Pools from a catalog import: `pools.csv`, and `inventory.csv` rows that name a pool.

use boxoffice::import::{Counts, import_catalog};

use crate::support::TestDb;
use crate::support::catalog_dir::{Scratch, row_errors};

const EVENTS: &str = "id,title,organization_id,venue_name,timezone\nev_1,Hamlet,ORG,Globe,Europe/London\n";
const REPS: &str = "id,event_id,start_datetime,end_datetime\n\
                    rep_1,ev_1,2027-07-15T19:00:00+01:00,2027-07-15T22:00:00+01:00\n\
                    rep_2,ev_1,2027-07-16T19:00:00+01:00,2027-07-16T22:00:00+01:00\n";
const OFFERS: &str = "offer_id,event_id,name,type,max_quantity_per_order\n\
                      adult,ev_1,Adult,ticket,6\nchild,ev_1,Child,ticket,6\nbox,ev_1,Box,ticket,2\n";

fn catalog(pools: &str, inventory: &str) -> Scratch {
    Scratch::with(&[
        ("events.csv", EVENTS),
        ("representations.csv", REPS),
        ("offers.csv", OFFERS),
        ("pools.csv", pools),
        ("inventory.csv", inventory),
    ])
}

#[tokio::test]
async fn pools_are_imported_and_items_attached_to_them_and_a_second_import_changes_nothing() {
    let db = TestDb::new().await;
    let files = catalog(
        "id,representation_id,name,total_stock\nstalls_1,rep_1,Stalls,500\n",
        "offer_id,representation_id,total_stock,available_stock,pool_id\n\
         adult,rep_1,,,stalls_1\nchild,rep_1,,,stalls_1\nbox,rep_1,8,6,\n",
    );
    let summary = import_catalog(&db.pool, files.path()).await.unwrap();
    assert_eq!(summary.pools, Counts { inserted: 1, updated: 0, unchanged: 0 });
    assert_eq!(summary.inventory, Counts { inserted: 3, updated: 0, unchanged: 0 });
    assert!(summary.to_string().contains("pools: 1 (1 new, 0 updated, 0 unchanged)"));
    let shared: Vec<(String, String)> =
        sqlx::query_as("select offer_id, pool_id from inventory where representation_id = 'rep_1' order by offer_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(shared[0], ("adult".into(), "stalls_1".into()));
    assert_eq!(shared[2], ("child".into(), "stalls_1".into()));
    assert_ne!(shared[1].1, "stalls_1", "the box has a pool of its own");
    let stalls: (i32, i32) = sqlx::query_as("select total_stock, available from pools where id = 'stalls_1'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stalls, (500, 500));

    let again = import_catalog(&db.pool, files.path()).await.unwrap();
    assert_eq!(again.pools, Counts { inserted: 0, updated: 0, unchanged: 1 });
    assert_eq!(again.inventory, Counts { inserted: 0, updated: 0, unchanged: 3 });

    // a new total for the pool is an update of the pool, not of its items
    files.replace("pools.csv", "Stalls,500", "Stalls,450");
    let resized = import_catalog(&db.pool, files.path()).await.unwrap();
    assert_eq!(resized.pools, Counts { inserted: 0, updated: 1, unchanged: 0 });
    let stalls: (i32, i32) = sqlx::query_as("select total_stock, available from pools where id = 'stalls_1'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stalls, (450, 450));
}

#[tokio::test]
async fn pools_of_other_representations_unknown_pools_and_both_kinds_of_stock_are_refused_by_line() {
    let db = TestDb::new().await;
    let files = catalog(
        "id,representation_id,name,total_stock\nstalls_1,rep_1,Stalls,500\nnowhere,rep_9,Nowhere,5\nempty,rep_1,,0\n",
        "offer_id,representation_id,total_stock,available_stock,pool_id\n\
         adult,rep_2,,,stalls_1\nchild,rep_1,,,missing\nbox,rep_1,8,6,stalls_1\n",
    );
    let error = import_catalog(&db.pool, files.path()).await.unwrap_err();
    assert_eq!(
        row_errors(&error),
        [
            "pools.csv:3: representation_id rep_9 is neither in representations.csv nor in the database",
            "pools.csv:4: name is empty",
            "pools.csv:4: total_stock must be between 1 and 1000000, not 0",
            "inventory.csv:2: pool stalls_1 is of representation rep_1, not rep_2",
            "inventory.csv:3: pool_id missing is neither in pools.csv nor in the database",
            "inventory.csv:4: give total_stock and available_stock, or pool_id with them empty, not both",
        ]
    );
    let pools: i64 = sqlx::query_scalar("select count(*) from pools").fetch_one(&db.pool).await.unwrap();
    assert_eq!(pools, 0, "nothing was imported");
}
