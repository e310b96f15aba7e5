//! Where people stand on waiting lists, read many at a time. During an on-sale thousands of
//! buyers poll their position; one query per request would spend a connection and a round trip
//! on each. The lookups waiting at a moment are answered by one query per list instead, each rank
//! read from the departures tree (`db::waitlist`), so the cost per lookup does not grow with the
//! line.

use std::collections::HashMap;

use futures::future::join_all;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::Result;
use super::writer::Item;
use crate::db::{self, waitlist::Standing};

/// Lookups answered per query at most.
const MAX_BATCH: usize = 1000;

type Reply = oneshot::Sender<Result<Standing>>;

/// Handle to the batcher. Cheap to clone.
#[derive(Clone)]
pub struct Standings {
    lookups: mpsc::Sender<(Item, String, Reply)>,
}

impl Standings {
    pub fn start(pool: PgPool) -> Standings {
        let (lookups, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(pool, rx));
        Standings { lookups }
    }

    /// Whether the user exists, and their rank and quantity if they are on the list.
    pub async fn of(&self, list: Item, user_id: String) -> Result<Standing> {
        let (reply, answer) = oneshot::channel();
        self.lookups
            .send((list, user_id, reply))
            .await
            .map_err(|_| anyhow::anyhow!("the standings batcher stopped"))?;
        answer.await.map_err(|_| anyhow::anyhow!("the standings batcher dropped a lookup"))?
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<(Item, String, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut by_list: HashMap<Item, Vec<(String, Reply)>> = HashMap::new();
        for (list, user, reply) in batch.drain(..) {
            by_list.entry(list).or_default().push((user, reply));
        }
        join_all(by_list.into_iter().map(|(list, lookups)| answer(&pool, list, lookups))).await;
    }
}

async fn answer(pool: &PgPool, list: Item, lookups: Vec<(String, Reply)>) {
    let users: Vec<String> = lookups.iter().map(|(u, _)| u.clone()).collect();
    let read = async {
        let mut conn = pool.acquire().await?;
        db::waitlist::standings(&mut conn, &list.0, &list.1, &users).await
    };
    match read.await {
        Ok(standings) => {
            // One person may ask several times in one batch (a refreshing page): each gets it.
            let by_user: HashMap<String, Standing> = standings.into_iter().map(|s| (s.user_id.clone(), s)).collect();
            for (user, reply) in lookups {
                let standing =
                    by_user.get(&user).cloned().ok_or_else(|| anyhow::anyhow!("no standing read for {user}"));
                let _ = reply.send(standing.map_err(Into::into));
            }
        }
        Err(e) => {
            let error = super::Error::from(e);
            for (_, reply) in lookups {
                let _ = reply.send(Err(error.duplicate()));
            }
        }
    }
}
