//! Where people stand on waiting lists, read many at a time. During an on-sale thousands of
//! buyers poll their position; one query per request would spend a connection and a round trip
//! on each. The lookups waiting at a moment are answered by one query per list instead (a
//! [`Batcher`]), each rank read from the departures tree (`db::waitlist`), so the cost per lookup
//! does not grow with the line.

use std::collections::HashMap;

use futures::future::join_all;
use sqlx::PgPool;

use super::Result;
use super::batch::{Batch, Batcher, Call, Tasks, each_caller};
use super::items::Item;
use crate::db::{self, waitlist::Standing};

/// One lookup: a user on a list.
pub struct Lookup {
    pub list: Item,
    pub user_id: String,
}

/// Handle to the batcher. Cheap to clone.
#[derive(Clone)]
pub struct Standings {
    batcher: Batcher<Call<Lookup, Standing>>,
}

impl Standings {
    pub fn start(pool: PgPool, tasks: &Tasks) -> Standings {
        Standings { batcher: Batcher::start("standings", Read { pool }, tasks) }
    }

    /// Whether the user exists, and their rank and quantity if they are on the list.
    pub async fn of(&self, list: Item, user_id: String) -> Result<Standing> {
        self.batcher.ask(Lookup { list, user_id }).await
    }
}

/// A batch of lookups: one query per list.
struct Read {
    pool: PgPool,
}

impl Batch for Read {
    type Request = Call<Lookup, Standing>;

    async fn run(&self, lookups: Vec<Self::Request>) {
        let mut by_list: HashMap<Item, Vec<Self::Request>> = HashMap::new();
        for lookup in lookups {
            by_list.entry(lookup.input.list.clone()).or_default().push(lookup);
        }
        join_all(by_list.into_iter().map(|(list, lookups)| answer(&self.pool, list, lookups))).await;
    }
}

async fn answer(pool: &PgPool, list: Item, lookups: Vec<Call<Lookup, Standing>>) {
    let users: Vec<String> = lookups.iter().map(|l| l.input.user_id.clone()).collect();
    let read = async {
        let mut conn = pool.acquire().await?;
        db::waitlist::standings(&mut conn, &list.offer_id, &list.representation_id, &users).await
    };
    match read.await {
        Ok(standings) => {
            // One person may ask several times in one batch (a refreshing page): each gets it.
            let by_user: HashMap<String, Standing> = standings.into_iter().map(|s| (s.user_id.clone(), s)).collect();
            for lookup in lookups {
                let user = &lookup.input.user_id;
                let standing = by_user.get(user).cloned().ok_or_else(|| anyhow::anyhow!("no standing read for {user}"));
                lookup.reply.send(standing.map_err(Into::into));
            }
        }
        Err(e) => {
            let errors = each_caller("standings", e.into(), lookups.len());
            for (lookup, error) in lookups.into_iter().zip(errors) {
                lookup.reply.send(Err(error));
            }
        }
    }
}
