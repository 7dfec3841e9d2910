//! Transactions, the classic protocol (KIP-98): the transactional id fences every earlier
//! producer that used it, and a read-committed consumer sees a transaction's records only once
//! it commits.
//!
//! The steps, each a request to the transaction coordinator of the id (FindCoordinator):
//! InitProducerId with the id (bumps its epoch: an earlier holder's next request fails with
//! PRODUCER_FENCED or INVALID_PRODUCER_EPOCH, and its open transaction is aborted);
//! AddPartitionsToTxn before the first record of a transaction goes to a partition; EndTxn to
//! commit or abort. Sequence numbers go on across transactions under one epoch, as for the
//! idempotent producer.
//!
//! References: Kafka protocol guide (FindCoordinator key type 1, AddPartitionsToTxn, EndTxn);
//! KIP-98 ("Transactional Messaging in Kafka"); KIP-588 (PRODUCER_FENCED); the Java client's
//! `TransactionManager` for which errors are retried.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, ApiKey, EndTxnRequest, FindCoordinatorRequest, InitProducerIdRequest, ProducerId,
    TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::backoff::{Backoff, NoRetry};
use super::client::{Client, topic_name};
use super::connection::{Connection, ConnectionError};
use super::window::Tp;
use super::wire::{AddPartitionsToTxnResponse, EndTxnResponse, FindCoordinatorResponse, InitProducerIdResponse};
use super::{KafkaError, error_name, is_retriable};
use crate::diag::diag;

const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
pub const CONCURRENT_TRANSACTIONS: i16 = 51;
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
pub const PRODUCER_FENCED: i16 = 90;

/// How long `auto` waits for a coordinator before it takes the cluster as one that cannot
/// keep transactions (its transaction state log cannot be created: fewer brokers than
/// `transaction.state.log.replication.factor`).
const AUTO_WAIT: Duration = Duration::from_secs(30);

/// How long CONCURRENT_TRANSACTIONS (the last transaction's markers still being written) is
/// retried without a word.
const TELL_AFTER: Duration = Duration::from_secs(1);

/// Transactions committed and aborted by this process, for the summary line.
static COMMITTED: AtomicU64 = AtomicU64::new(0);
static ABORTED: AtomicU64 = AtomicU64::new(0);

/// (committed, aborted) transactions so far.
pub fn ended() -> (u64, u64) {
    (COMMITTED.load(Ordering::Relaxed), ABORTED.load(Ordering::Relaxed))
}

/// Whether a code says another producer took the transactional id over.
pub fn is_fenced(code: i16) -> bool {
    code == PRODUCER_FENCED || code == INVALID_PRODUCER_EPOCH
}

/// The settings of a transactional producer.
#[derive(Debug, Clone, PartialEq)]
pub struct TxnSettings {
    pub id: String,
    /// Who this producer is, for the line that says it was fenced (`instance 1/3`).
    pub owner: String,
    /// `on`: a cluster or principal that cannot use transactions ends the run; `auto`: the
    /// producer goes on idempotent, with a warning.
    pub required: bool,
    pub commit_interval: Duration,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction open this long.
    pub timeout: Duration,
    /// The fault: chance per transaction that it is aborted on purpose.
    pub abort_probability: f64,
}

/// Why transactions cannot start.
#[derive(Debug)]
pub enum Refused {
    /// The cluster or the principal cannot use them: the reason, in words.
    Unavailable(String),
    /// Anything else (a stop, a connection that cannot be made).
    Kafka(KafkaError),
}

impl From<KafkaError> for Refused {
    fn from(e: KafkaError) -> Refused {
        Refused::Kafka(e)
    }
}

/// A transactional producer's state: its coordinator and its open transaction.
#[derive(Debug)]
pub struct Txn {
    pub settings: TxnSettings,
    coordinator: Option<i32>,
    /// The partitions added to the open transaction.
    added: Vec<Tp>,
    /// When the oldest record of the open transaction was made.
    began: Option<Instant>,
    /// The open transaction is to be aborted (the fault); the next one after an abort never is.
    doomed: bool,
    clean_next: bool,
    rng: fastrand::Rng,
    /// Transactions protocol v2 (KIP-890), where the cluster offers it.
    v2: bool,
    /// The transactional id as every request carries it (made once: a Produce carries it too).
    wire_id: TransactionalId,
}

impl Txn {
    /// Finds the coordinator and registers the transactional id (InitProducerId), which fences
    /// every earlier holder and aborts its open transaction. Returns the producer id and epoch.
    pub fn start(client: &mut Client, settings: TxnSettings, deadline: Instant) -> Result<(Txn, (i64, i16)), Refused> {
        let id = settings.id.clone();
        let mut v2 = false;
        let unsupported = client.with_any(|c| {
            let v = c.versions();
            v2 = v.txn_v2;
            let missing = [
                ("FindCoordinator v1+", v.find_coordinator.is_none()),
                ("InitProducerId", v.init_producer_id.is_none()),
                ("AddPartitionsToTxn", v.add_partitions_to_txn.is_none()),
                ("EndTxn", v.end_txn.is_none()),
            ];
            Ok(missing
                .iter()
                .find(|(_, gone)| *gone)
                .map(|(api, _)| format!("broker {} does not support {api}", c.addr())))
        });
        match unsupported {
            Ok(Some(why)) => return Err(Refused::Unavailable(why)),
            Ok(None) => {}
            Err(e) => return Err(Refused::Kafka(e.into())),
        }
        let mut txn = Txn {
            settings,
            coordinator: None,
            added: Vec::new(),
            began: None,
            doomed: false,
            clean_next: false,
            rng: fastrand::Rng::new(),
            v2,
            wire_id: TransactionalId(StrBytes::from_string(id.clone())),
        };
        // Under `auto`, a coordinator that never comes means a cluster without a transaction
        // state log: give up sooner than the delivery timeout.
        let waiting = Instant::now();
        let patience = if txn.settings.required { deadline } else { deadline.min(waiting + AUTO_WAIT) };
        let timeout_ms = txn.settings.timeout.as_millis().min(i32::MAX as u128) as i32;
        let request = InitProducerIdRequest::default()
            .with_transactional_id(Some(txn.wire_id.clone()))
            .with_transaction_timeout_ms(timeout_ms);
        let mut identity = (-1, -1);
        let result = txn.coordinated(client, patience, "InitProducerId", &mut |c| {
            let version = c.versions().init_producer_id.expect("checked above");
            let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, version, &request)?;
            identity = (r.producer_id, r.producer_epoch);
            Ok(r.error_code)
        });
        match result {
            Ok(()) => Ok((txn, identity)),
            Err(KafkaError::Broker { code: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, .. }) => {
                Err(Refused::Unavailable(format!(
                    "the principal may not use transactional id {id:?} (TRANSACTIONAL_ID_AUTHORIZATION_FAILED): grant \
                     it Write and Describe (kafka-acls --add --allow-principal User:NAME --operation Write \
                     --operation Describe --transactional-id {id})"
                )))
            }
            Err(KafkaError::NotReady { last, .. }) => {
                let waited = if txn.settings.required {
                    "the delivery timeout".to_string()
                } else {
                    format!("{} s", patience.saturating_duration_since(waiting).as_secs_f64().round())
                };
                Err(Refused::Unavailable(format!(
                    "no transaction coordinator within {waited} (last: {last}); the cluster may have fewer \
                     brokers than its transaction.state.log.replication.factor"
                )))
            }
            Err(e) => Err(Refused::Kafka(e)),
        }
    }

    /// Whether the open transaction is to be aborted (the fault).
    pub fn doomed(&self) -> bool {
        self.doomed
    }

    /// Whether a transaction is open (it took records).
    pub fn is_open(&self) -> bool {
        self.began.is_some()
    }

    /// When the oldest record of the open transaction was made.
    pub fn began(&self) -> Option<Instant> {
        self.began
    }

    /// When the open transaction is due to commit.
    pub fn commit_due(&self) -> Option<Instant> {
        self.began.map(|b| b + self.settings.commit_interval)
    }

    /// The partitions of `tps` not yet in the open transaction are added to it (and it opens,
    /// its oldest record made at `oldest`).
    /// A coordinator that moves, loads or still writes the last transaction's markers is
    /// waited for until `deadline` (then `NotReady`); a partition the broker refuses for now
    /// (UNKNOWN_TOPIC_OR_PARTITION: a topic deleted or not yet known) is `Ok(Err(why))`, for
    /// the producer to retry as it retries a produce.
    pub fn add(
        &mut self,
        client: &mut Client,
        topics: &[String],
        identity: (i64, i16),
        tps: &[Tp],
        (oldest, deadline): (Instant, Instant),
    ) -> Result<Result<(), String>, KafkaError> {
        let new: Vec<Tp> = tps.iter().copied().filter(|tp| !self.added.contains(tp)).collect();
        if new.is_empty() {
            return Ok(Ok(()));
        }
        if self.v2 {
            // Protocol v2: a transactional Produce v12 adds its partitions itself.
            self.open(oldest);
            self.added.extend(new);
            return Ok(Ok(()));
        }
        let mut request = AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(self.wire_id.clone())
            .with_v3_and_below_producer_id(ProducerId(identity.0))
            .with_v3_and_below_producer_epoch(identity.1);
        for (t, ps) in group(&new) {
            request
                .v3_and_below_topics
                .push(AddPartitionsToTxnTopic::default().with_name(topic_name(&topics[t])).with_partitions(ps));
        }
        let mut refused = None;
        self.coordinated(client, deadline, "AddPartitionsToTxn", &mut |c| {
            let version = c.versions().add_partitions_to_txn.expect("checked at start");
            let r: AddPartitionsToTxnResponse = c.call(ApiKey::AddPartitionsToTxn, version, &request)?;
            // The first error stands for all (the others are OPERATION_NOT_ATTEMPTED, 55). A
            // partition's own trouble goes back to the producer.
            let mut errors = r.results.iter().filter(|(_, _, code)| *code != 0 && *code != 55);
            Ok(match errors.next() {
                None => 0,
                Some(&(ref topic, p, code)) if !is_coordinators(code) && is_retriable(code) => {
                    refused = Some(format!("{topic} partition {p}: {}", error_name(code)));
                    0
                }
                Some(&(_, _, code)) => code,
            })
        })?;
        if let Some(why) = refused {
            return Ok(Err(why));
        }
        self.open(oldest);
        self.added.extend(new);
        Ok(Ok(()))
    }

    /// The transaction opens (if not open yet) with its oldest record made at `oldest`: its
    /// commit is due one interval after that. Whether it is to be aborted is drawn now.
    fn open(&mut self, oldest: Instant) {
        if self.began.is_none() {
            self.began = Some(oldest);
            let p = self.settings.abort_probability;
            self.doomed = !std::mem::take(&mut self.clean_next) && p > 0.0 && self.rng.f64() < p;
        }
    }

    /// Whether transactions protocol v2 (KIP-890) is spoken: no AddPartitionsToTxn, Produce
    /// v12, and a new epoch after every EndTxn (sequences start again at 0).
    pub fn v2(&self) -> bool {
        self.v2
    }

    /// Ends the open transaction: commits it, or aborts it. Every request of it must have been
    /// answered. Protocol v2 gives the producer id and epoch the next transaction uses.
    pub fn end(
        &mut self,
        client: &mut Client,
        identity: (i64, i16),
        commit: bool,
        deadline: Instant,
    ) -> Result<Option<(i64, i16)>, KafkaError> {
        if !self.is_open() {
            return Ok(None);
        }
        let v2 = self.v2;
        let mut next = None;
        let request = EndTxnRequest::default()
            .with_transactional_id(self.wire_id.clone())
            .with_producer_id(ProducerId(identity.0))
            .with_producer_epoch(identity.1)
            .with_committed(commit);
        self.coordinated(client, deadline, if commit { "committing" } else { "aborting" }, &mut |c| {
            let version = if v2 { 5 } else { c.versions().end_txn.expect("checked at start") };
            let r: EndTxnResponse = c.call(ApiKey::EndTxn, version, &request)?;
            next = r.next;
            Ok(r.error_code)
        })?;
        self.added.clear();
        self.began = None;
        self.doomed = false;
        self.clean_next = !commit;
        if commit {
            COMMITTED.fetch_add(1, Ordering::Relaxed);
        } else {
            ABORTED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(next)
    }

    /// The error a fenced producer ends with.
    pub fn fenced(&self) -> KafkaError {
        KafkaError::Fenced { owner: self.settings.owner.clone(), transactional_id: self.settings.id.clone() }
    }

    /// Runs `f` on the coordinator (found first if needed) until it answers 0 (the error code
    /// of its answer), an error no retry cures, or `deadline`. A moved or missing coordinator is
    /// looked up again. The client's own deadline is cut to `deadline` meanwhile and given back
    /// after. (Not generic: one copy of this loop in the binary.)
    fn coordinated(
        &mut self,
        client: &mut Client,
        deadline: Instant,
        what: &str,
        f: &mut dyn FnMut(&mut Connection) -> Result<i16, ConnectionError>,
    ) -> Result<(), KafkaError> {
        let before = client.deadline();
        client.set_deadline(Some(deadline));
        let result = self.coordinated_until(client, deadline, what, f);
        client.set_deadline(before);
        result
    }

    fn coordinated_until(
        &mut self,
        client: &mut Client,
        deadline: Instant,
        what: &str,
        f: &mut dyn FnMut(&mut Connection) -> Result<i16, ConnectionError>,
    ) -> Result<(), KafkaError> {
        // CONCURRENT_TRANSACTIONS lasts while the last transaction's markers are written: a
        // few milliseconds. Java retries it after 20 ms.
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(500));
        let started = Instant::now();
        loop {
            let last = match self.coordinator(client) {
                Err(Found::Retry(last)) => last,
                Err(Found::Fatal(e)) => return Err(e),
                Ok(node) => match client.with_side(node, &mut *f) {
                    Ok(0) => return Ok(()),
                    Ok(code) if is_fenced(code) => return Err(self.fenced()),
                    Ok(code @ (NOT_COORDINATOR | COORDINATOR_NOT_AVAILABLE)) => {
                        self.coordinator = None;
                        format!("{what}: {}", error_name(code))
                    }
                    Ok(code @ (COORDINATOR_LOAD_IN_PROGRESS | CONCURRENT_TRANSACTIONS)) => {
                        format!("{what}: {}", error_name(code))
                    }
                    Ok(code) if is_retriable(code) => format!("{what}: {}", error_name(code)),
                    Ok(code) => {
                        return Err(KafkaError::Broker {
                            what: format!("{what} (transactional id {:?})", self.settings.id),
                            code,
                            message: None,
                        });
                    }
                    Err(ConnectionError::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
                    Err(e) if e.is_retriable() => {
                        self.coordinator = None;
                        format!("{what} not answered: {e}")
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            // A commit's markers being written is routine for a moment; anything else, or that
            // for longer than a second, is told.
            let routine = last.ends_with(&error_name(CONCURRENT_TRANSACTIONS)) && started.elapsed() < TELL_AFTER;
            let announce = |wait: Duration| {
                if !routine {
                    let left = deadline.saturating_duration_since(Instant::now()).as_secs();
                    diag!("{last}; retrying in {} ms ({left} s left of the delivery timeout)", wait.as_millis());
                }
            };
            match backoff.pause(client.stop(), deadline, announce) {
                Ok(()) => {}
                Err(NoRetry::Expired) => {
                    return Err(KafkaError::NotReady { what: "the transaction coordinator", last });
                }
                Err(NoRetry::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
            }
        }
    }

    /// The coordinator's node id, asked of any broker when not known.
    fn coordinator(&mut self, client: &mut Client) -> Result<i32, Found> {
        if let Some(node) = self.coordinator {
            return Ok(node);
        }
        let key = StrBytes::from_string(self.settings.id.clone());
        let request = FindCoordinatorRequest::default().with_key(key).with_key_type(1);
        let answer = client.with_any(|c| {
            let version = c.versions().find_coordinator.expect("checked at start");
            c.call::<_, FindCoordinatorResponse>(ApiKey::FindCoordinator, version, &request)
        });
        match answer {
            Ok(r) if r.error_code == 0 && r.node_id >= 0 => {
                if !client.knows(r.node_id) {
                    // A broker the metadata did not list yet (it joined since).
                    client.add_broker(r.node_id, &r.host, r.port);
                }
                self.coordinator = Some(r.node_id);
                Ok(r.node_id)
            }
            Ok(r) if r.error_code == TRANSACTIONAL_ID_AUTHORIZATION_FAILED => Err(Found::Fatal(KafkaError::Broker {
                what: "FindCoordinator".into(),
                code: r.error_code,
                message: r.error_message,
            })),
            Ok(r) if r.error_code == 0 || is_retriable(r.error_code) => {
                Err(Found::Retry(format!("FindCoordinator: {}", error_name(r.error_code))))
            }
            Ok(r) => Err(Found::Fatal(KafkaError::Broker {
                what: format!("FindCoordinator (transactional id {:?})", self.settings.id),
                code: r.error_code,
                message: r.error_message,
            })),
            Err(ConnectionError::Stopped) => Err(Found::Fatal(KafkaError::Stopped { unacked: 0 })),
            Err(e) if e.is_retriable() => Err(Found::Retry(format!("FindCoordinator not answered: {e}"))),
            Err(e) => Err(Found::Fatal(e.into())),
        }
    }
}

enum Found {
    Retry(String),
    Fatal(KafkaError),
}

/// Whether a code is about the coordinator rather than a partition: retried in place.
fn is_coordinators(code: i16) -> bool {
    matches!(code, COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR | CONCURRENT_TRANSACTIONS)
}

/// `tps` grouped by topic, in order of first appearance.
fn group(tps: &[Tp]) -> Vec<(usize, Vec<i32>)> {
    let mut out: Vec<(usize, Vec<i32>)> = Vec::new();
    for &(t, p) in tps {
        match out.iter_mut().find(|(topic, _)| *topic == t) {
            Some((_, ps)) => ps.push(p),
            None => out.push((t, vec![p])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_added_grouped_by_topic() {
        assert_eq!(group(&[(0, 1), (1, 0), (0, 3)]), vec![(0, vec![1, 3]), (1, vec![0])]);
        assert!(group(&[]).is_empty());
    }

    #[test]
    fn both_fencing_codes_fence() {
        assert!(is_fenced(PRODUCER_FENCED) && is_fenced(INVALID_PRODUCER_EPOCH));
        assert!(!is_fenced(CONCURRENT_TRANSACTIONS) && !is_fenced(0));
    }
}
