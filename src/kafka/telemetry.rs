//! What the client did, for whoever watches the process (the summary line, `/metrics`): Produce
//! requests, record batch bytes, records acknowledged, retries by Kafka error, requests in
//! flight and the state of each broker connection.
//!
//! Process-wide counters, as the Java client's metrics are per process: atomics written on the
//! producer's thread and read from any other. The maps behind a mutex change only on a retry or
//! a connection opened or closed, never per record.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static PRODUCE_REQUESTS: AtomicU64 = AtomicU64::new(0);
static BATCH_BYTES: AtomicU64 = AtomicU64::new(0);
static RECORDS_ACKED: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);
/// Kafka error name → batches sent again after it.
static RETRIES: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
/// Node id → (address, connected).
static BROKERS: Mutex<BTreeMap<i32, (String, bool)>> = Mutex::new(BTreeMap::new());

/// The label of a retry after a connection failed or was closed (Kafka's name for it).
pub const NETWORK_EXCEPTION: &str = "NETWORK_EXCEPTION";

/// A copy of everything counted, at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub produce_requests: u64,
    /// Bytes of record batches put into Produce requests (sent again on a retry: counted again).
    pub batch_bytes: u64,
    /// Records the brokers acknowledged (with transactions: committed).
    pub records_acked: u64,
    pub in_flight: u64,
    pub retries: Vec<(String, u64)>,
    /// (node id, address, connected), by node id.
    pub brokers: Vec<(i32, String, bool)>,
}

pub fn snapshot() -> Snapshot {
    Snapshot {
        produce_requests: PRODUCE_REQUESTS.load(Ordering::Relaxed),
        batch_bytes: BATCH_BYTES.load(Ordering::Relaxed),
        records_acked: RECORDS_ACKED.load(Ordering::Relaxed),
        in_flight: IN_FLIGHT.load(Ordering::Relaxed),
        retries: lock(&RETRIES).iter().map(|(k, v)| (k.clone(), *v)).collect(),
        brokers: lock(&BROKERS).iter().map(|(node, (addr, up))| (*node, addr.clone(), *up)).collect(),
    }
}

/// Produce requests sent so far.
pub fn produce_requests() -> u64 {
    PRODUCE_REQUESTS.load(Ordering::Relaxed)
}

pub(crate) fn request_sent(batch_bytes: usize) {
    PRODUCE_REQUESTS.fetch_add(1, Ordering::Relaxed);
    BATCH_BYTES.fetch_add(batch_bytes as u64, Ordering::Relaxed);
}

pub(crate) fn records_acked(records: usize) {
    RECORDS_ACKED.fetch_add(records as u64, Ordering::Relaxed);
}

pub(crate) fn set_in_flight(requests: usize) {
    IN_FLIGHT.store(requests as u64, Ordering::Relaxed);
}

/// `batches` are sent again after `error` (a Kafka error name, or [`NETWORK_EXCEPTION`]).
pub(crate) fn retried(error: &str, batches: usize) {
    if batches > 0 {
        *lock(&RETRIES).entry(error.to_string()).or_default() += batches as u64;
    }
}

/// A batch is sent again after the broker answered Kafka error `code` for it (`None`: the
/// answer did not name its partition).
pub(crate) fn retried_after(code: Option<i16>) {
    let name = code.map_or_else(|| "NO_PARTITION_ANSWER".to_string(), super::error_name);
    // "NOT_LEADER_OR_FOLLOWER (6)" → "NOT_LEADER_OR_FOLLOWER"
    let name = name.split(' ').next().unwrap_or_default();
    retried(name, 1);
}

/// The brokers known now and whether a connection to each is open: `(node, address, open)`.
pub(crate) fn brokers(now: &[(i32, &str, bool)]) {
    let mut brokers = lock(&BROKERS);
    let same = brokers.len() == now.len()
        && now.iter().all(|(node, addr, up)| brokers.get(node).is_some_and(|(a, u)| a == addr && u == up));
    if !same {
        *brokers = now.iter().map(|(node, addr, up)| (*node, (addr.to_string(), *up))).collect();
    }
}

/// A poisoned lock only means a panic elsewhere mid-update of a counter map: the map is
/// still a map.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test for the process-wide state: tests run in parallel threads of one process.
    #[test]
    fn counts_add_up_and_brokers_keep_their_latest_state() {
        let before = snapshot();
        request_sent(100);
        request_sent(50);
        records_acked(7);
        retried_after(Some(6));
        retried_after(Some(6));
        retried(NETWORK_EXCEPTION, 0);
        brokers(&[(1, "127.0.0.1:9092", false), (2, "127.0.0.1:9093", false)]);
        brokers(&[(1, "127.0.0.1:9092", true), (2, "127.0.0.1:9093", false)]);
        set_in_flight(3);
        let after = snapshot();
        assert_eq!(after.produce_requests - before.produce_requests, 2);
        assert_eq!(after.batch_bytes - before.batch_bytes, 150);
        assert_eq!(after.records_acked - before.records_acked, 7);
        assert_eq!(after.in_flight, 3);
        assert!(after.retries.contains(&("NOT_LEADER_OR_FOLLOWER".to_string(), 2)));
        assert!(!after.retries.iter().any(|(e, _)| e == NETWORK_EXCEPTION));
        assert!(after.brokers.contains(&(1, "127.0.0.1:9092".to_string(), true)));
        assert!(after.brokers.contains(&(2, "127.0.0.1:9093".to_string(), false)));
        brokers(&[(1, "127.0.0.1:9092", true)]);
        assert_eq!(snapshot().brokers, vec![(1, "127.0.0.1:9092".to_string(), true)]);
    }
}
