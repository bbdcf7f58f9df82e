//! A byte-budgeted LRU cache with a time to live, for rendered responses.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

struct Entry {
    value: Vec<u8>,
    expires: Instant,
    tick: u64,
}

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
}

struct Inner {
    entries: HashMap<String, Entry>,
    /// Recency order: the smallest tick is the least recently used key.
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
    stats: CacheStats,
}

/// Thread-safe; an entry costs `key.len() + value.len()` bytes of the budget.
pub struct ResponseCache {
    max_bytes: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

impl ResponseCache {
    pub fn new(max_bytes: usize, ttl: Duration) -> Self {
        ResponseCache {
            max_bytes,
            ttl,
            inner: Mutex::new(Inner { entries: HashMap::new(), order: BTreeMap::new(), tick: 0, bytes: 0, stats: CacheStats::default() }),
        }
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut inner = self.inner.lock();
        let now = Instant::now();
        let expired = match inner.entries.get(key) {
            None => {
                inner.stats.misses += 1;
                return None;
            }
            Some(e) => e.expires <= now,
        };
        if expired {
            inner.remove(key);
            inner.stats.expirations += 1;
            inner.stats.misses += 1;
            return None;
        }
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(key).expect("present");
        let old = std::mem::replace(&mut entry.tick, tick);
        let value = entry.value.clone();
        inner.order.remove(&old);
        inner.order.insert(tick, key.to_string());
        inner.stats.hits += 1;
        Some(value)
    }

    pub fn put(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) {
        let cost = key.len() + value.len();
        let mut inner = self.inner.lock();
        inner.remove(key);
        if cost > self.max_bytes {
            return;
        }
        while inner.bytes + cost > self.max_bytes {
            let Some((_, lru)) = inner.order.pop_first() else { break };
            if let Some(e) = inner.entries.remove(&lru) {
                inner.bytes -= lru.len() + e.value.len();
                inner.stats.evictions += 1;
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.bytes += cost;
        inner.order.insert(tick, key.to_string());
        inner.entries.insert(key.to_string(), Entry { value, expires: Instant::now() + ttl.unwrap_or(self.ttl), tick });
    }

    pub fn invalidate(&self, key: &str) -> bool {
        self.inner.lock().remove(key)
    }

    pub fn invalidate_prefix(&self, prefix: &str) -> usize {
        let mut inner = self.inner.lock();
        let keys: Vec<String> = inner.entries.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
        keys.iter().filter(|k| inner.remove(k)).count()
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.entries.clear();
        inner.order.clear();
        inner.bytes = 0;
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.inner.lock();
        CacheStats { entries: inner.entries.len() as u64, bytes: inner.bytes as u64, max_bytes: self.max_bytes as u64, ..inner.stats }
    }
}

impl Inner {
    fn remove(&mut self, key: &str) -> bool {
        match self.entries.remove(key) {
            Some(e) => {
                self.order.remove(&e.tick);
                self.bytes -= key.len() + e.value.len();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_lru_eviction_within_budget() {
        let cache = ResponseCache::new(30, Duration::from_secs(60));
        cache.put("a", vec![0; 9], None); // 10 bytes
        cache.put("b", vec![0; 9], None);
        assert!(cache.get("a").is_some()); // a is now more recent than b
        cache.put("c", vec![0; 9], None);
        cache.put("d", vec![0; 9], None); // evicts b, the least recently used
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some());
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.evictions, s.entries, s.bytes), (2, 1, 1, 3, 30));
    }

    #[test]
    fn entries_expire() {
        let cache = ResponseCache::new(1000, Duration::from_secs(60));
        cache.put("k", b"v".to_vec(), Some(Duration::ZERO));
        assert!(cache.get("k").is_none());
        assert_eq!(cache.stats().expirations, 1);
    }

    #[test]
    fn oversized_values_are_not_stored_and_prefixes_invalidate() {
        let cache = ResponseCache::new(10, Duration::from_secs(60));
        cache.put("big", vec![0; 100], None);
        assert!(cache.is_empty());
        cache.put("g1:x", b"1".to_vec(), None);
        cache.put("g2:x", b"2".to_vec(), None);
        assert_eq!(cache.invalidate_prefix("g1:"), 1);
        assert!(cache.get("g2:x").is_some());
        assert!(cache.invalidate("g2:x"));
        assert_eq!(cache.stats().bytes, 0);
    }
}
