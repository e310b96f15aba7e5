//! The in-process caches of what the hot path reads on every request (API keys, an item's catalog
//! facts, a queue's settings) without a database round trip each time. They are `moka` caches:
//! concurrent without one global lock, and bounded by evicting the entries least worth keeping
//! (a full cache stays full, it never empties itself). Entries are at most `ttl` stale, which each
//! user of it states.

use std::hash::Hash;
use std::time::Duration;

/// A cache whose entries live for a fixed time; cloning it gives another handle to the same one.
pub type TtlCache<K, V> = moka::sync::Cache<K, V>;

/// A cache of at most `capacity` entries, each forgotten `ttl` after it was stored.
pub fn ttl_cache<K, V>(ttl: Duration, capacity: u64) -> TtlCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::sync::Cache::builder().time_to_live(ttl).max_capacity(capacity).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_past_its_capacity_keeps_as_many_entries_as_it_may() {
        let cache = ttl_cache(Duration::from_secs(3600), 10);
        for key in 0..25 {
            cache.insert(key, key);
        }
        cache.run_pending_tasks();
        assert_eq!(cache.entry_count(), 10);
    }

    #[test]
    fn an_entry_is_read_back_until_it_is_stale() {
        let cache = ttl_cache(Duration::from_secs(3600), 10);
        cache.insert("a", 1);
        assert_eq!(cache.get(&"a"), Some(1));
        assert_eq!(cache.get(&"b"), None);
    }
}
