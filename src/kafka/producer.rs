//! The producer: keyed records to partitions, record batches per leader, requests pipelined
//! (the bookkeeping is `window`'s; this module does the I/O), acks, idempotence, retries.
//!
//! References: Kafka protocol guide (Produce, InitProducerId, RecordBatch v2); KIP-98
//! (idempotent producer: producer id, epoch and per-partition sequence numbers); the Java
//! producer's `Sender` for which errors are retried (KIP-91 `delivery.timeout.ms`) and how
//! batches in flight are retried in order (KAFKA-5494).

use std::ops::Range;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;

use super::batch::{HeaderBlock, Scratch};
use super::client::Client;
use super::compression::Codec;
use super::connection::{ConnectionError, Pending};
use super::partitioner::partition_for_key;
use super::settings::Acks;
use super::telemetry::{self, NETWORK_EXCEPTION};
use super::txn::Txn;
pub use super::window::Record;
use super::window::{Batch, Next, Outcome, Ready, Tp, Window};
use super::wire::ProduceResponse;
use super::{KafkaError, error_name, is_retriable};
use crate::diag::diag;

mod commit;
mod request;
mod start;

use request::ProduceBody;
use start::codec_supported;

const MESSAGE_TOO_LARGE: i16 = 10;
/// The newest Produce a transactional producer of the classic protocol speaks: v12 means
/// transactions protocol v2 (KIP-890), where partitions join a transaction implicitly.
const PRODUCE_CLASSIC_TXN_MAX: i16 = 11;
/// `transaction.timeout.ms`, the Java client's default: the coordinator aborts a transaction
/// open longer (a producer that hangs or dies mid-transaction).
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
/// While several brokers owe answers and none is arriving, the one owing the oldest is
/// waited for this long at a time before the others are looked at again.
const LOOK_EVERY: Duration = Duration::from_millis(5);
/// Metadata is fetched again after a failure at most this often.
const REFRESH_AFTER_FAILURE: Duration = Duration::from_millis(100);

/// How long `Producer::pump` goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Until at most this many records are still to be written: the rest is on the wire or
    /// acknowledged. Waits for answers only while the windows are too full for that.
    Unsent(usize),
    /// Until every record is acknowledged.
    Acked,
    /// Until every record is acknowledged, or this instant (the next sale is due), whichever
    /// comes first.
    AckedOr(Instant),
}

pub struct Producer {
    client: Client,
    topics: Vec<String>,
    acks: Acks,
    codec: Codec,
    request_timeout_ms: i32,
    delivery_timeout: Duration,
    /// Producer id and epoch when idempotent (KIP-98).
    identity: Option<(i64, i16)>,
    /// Batches waiting, and requests on the wire (`None`: acks=0, no answer comes).
    window: Window<Option<Pending>>,
    metadata_max_age: Duration,
    /// `linger.ms`: how long a record may wait for others to share its request.
    linger: Duration,
    /// The latest reason a record was not acknowledged, for the delivery-timeout error.
    last_failure: Option<String>,
    /// Where a compressed batch is assembled (kept for its capacity).
    scratch: Scratch,
    /// A request's batches are encoded here, one after the other, and written from here into
    /// the request (kept for its capacity).
    encoded: Vec<u8>,
    /// The headers every record of a topic carries, as written (by topic index; none past
    /// the end).
    header_blocks: Vec<HeaderBlock>,
    /// With transactions: the coordinator and the open transaction.
    txn: Option<Txn>,
    /// With transactions: events acknowledged by the broker, not yet committed.
    uncommitted: Vec<u64>,
    /// The fault `PRODUCER_ABORT_PROBABILITY`: every record of the open transaction when it is
    /// to be aborted (to send again in the next one), the events aborted so far (for the
    /// truth), and the headers of the aborted records (`pos-fault: aborted` added).
    doomed_records: Vec<(Tp, Record, u64, Instant)>,
    aborted_events: Vec<u64>,
    aborted_blocks: Vec<HeaderBlock>,
    /// Buffers of each request's bookkeeping, kept for their capacity.
    reused: Reused,
}

/// What `pump` fills and empties again for every request: kept from call to call, so that a
/// request allocates nothing for its bookkeeping once they have grown.
#[derive(Default)]
struct Reused {
    /// The brokers owing answers (`Window::leaders_waiting`).
    waiting: Vec<i32>,
    /// The partitions that may send (`Window::sendable`).
    ready: Ready,
    /// One request's batches: where each is in `Producer::encoded`.
    data: Vec<(Tp, Range<usize>)>,
    /// The last Produce answer, decoded into the memory of the one before.
    answer: ProduceResponse,
}

impl Producer {
    /// The cluster connection, for reading the topics back before producing.
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The producer id, when idempotent or transactional.
    pub fn producer_id(&self) -> Option<i64> {
        self.identity.map(|(id, _)| id)
    }

    /// The transactional id, when transactions are on (then "acknowledged" means committed,
    /// and the topics are read back read-committed).
    pub fn transactional_id(&self) -> Option<&str> {
        self.txn.as_ref().map(|t| t.settings.id.as_str())
    }

    /// Adds a record to its partition's batch: it goes out with a later `pump`. `event` is the
    /// caller's number for it, given back when it is acknowledged; `made` starts its delivery
    /// timeout.
    pub fn submit(&mut self, record: Record, event: u64, made: Instant) -> Result<(), KafkaError> {
        let topic = &self.topics[record.topic];
        let partitions = self.client.leaders(topic).len();
        if partitions == 0 {
            return Err(KafkaError::NotReady { what: "topic metadata", last: topic.clone() });
        }
        let tp = (record.topic, partition_for_key(&record.key, partitions) as i32);
        if self.txn.as_ref().is_some_and(Txn::doomed) {
            self.doomed_records.push((tp, record.clone(), event, made));
        }
        self.window.push(tp, record, event, made);
        Ok(())
    }

    /// Sends batches, up to the in-flight limit per broker, and reads answers, until `until`.
    /// The numbers of acknowledged records (with acks=0: written) go to `acked`, in the order
    /// of the answers. Retriable failures are retried, with the same sequence numbers, until
    /// the delivery timeout of the oldest record runs out; then, or on an error no retry can
    /// fix, returns the error.
    /// With transactions, an event counts as acknowledged once its transaction committed.
    pub fn pump(&mut self, until: Until, acked: &mut Vec<u64>) -> Result<(), KafkaError> {
        // Events from `committed` on in `acked` are the broker's acknowledgements of this call
        // not committed yet: they wait in `uncommitted` for the commit.
        let (entered, mut committed) = (acked.len(), acked.len());
        let mut result = self.pump_until(until, acked, &mut committed);
        if matches!(result, Err(KafkaError::Stopped { .. })) && self.window.is_empty() {
            // A stop with every request answered: what was written is committed (each
            // request gets the stop's grace).
            if let Err(e) = self.commit(acked, &mut committed) {
                result = Err(e);
            }
        }
        if self.txn.is_some() {
            self.uncommitted.extend(acked.drain(committed..));
        }
        telemetry::records_acked(acked.len() - entered);
        telemetry::set_in_flight(self.window.in_flight());
        result.map_err(|e| match e {
            KafkaError::Stopped { .. } => {
                KafkaError::Stopped { unacked: self.window.unacked() + self.uncommitted.len() }
            }
            e => e,
        })
    }

    fn pump_until(&mut self, until: Until, acked: &mut Vec<u64>, committed: &mut usize) -> Result<(), KafkaError> {
        // Batches linger only while the caller waits for the next sale: at the end, at a stop
        // and when behind schedule (batches fill up anyway) everything goes at once.
        self.window.hold(match until {
            Until::AckedOr(next) => Some((self.linger, next)),
            Until::Acked | Until::Unsent(_) => None,
        });
        // Metadata goes stale without errors too: partitions added to a topic (the Java
        // client's metadata.max.age.ms). A failed refresh is retried with the next failure.
        if self.client.metadata_age().is_none_or(|age| age >= self.metadata_max_age) {
            match self.client.refresh(&self.topics) {
                Err(ConnectionError::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
                Err(e) => diag!("periodic metadata refresh failed: {e}"),
                Ok(_) => {}
            }
        }
        loop {
            // A transaction commits once every request of it is answered, and its interval
            // (from its oldest record) is over, or the run ends, or no sale is due before the
            // interval would be over (paced: nothing could join it, waiting adds only latency).
            let commit_due = self.txn.as_ref().and_then(Txn::commit_due);
            let commit_now = |due: Instant| match until {
                Until::Acked => true,
                Until::AckedOr(by) => by >= due || Instant::now() >= due,
                Until::Unsent(_) => Instant::now() >= due,
            };
            if self.window.is_empty() && commit_due.is_some_and(commit_now) {
                self.commit(acked, committed)?;
            }
            let Some(oldest) = self.window.oldest() else { return Ok(()) };
            let deadline = oldest + self.delivery_timeout;
            let now = Instant::now();
            // A commit that is due waits for nothing else: the batches go now, and the loop
            // runs until they are answered, past the next sale's turn if need be.
            let committing = commit_due.is_some_and(|due| now >= due);
            if committing {
                self.window.hold(None);
            }
            if now >= deadline {
                return Err(KafkaError::DeliveryTimeout {
                    after: self.delivery_timeout,
                    unacked: self.window.unacked(),
                    last: self.last_failure.clone().unwrap_or_else(|| "no answer yet".into()),
                });
            }
            self.client.set_deadline(Some(deadline));
            self.forget_closed(now);
            self.send_ready(now, acked)?;
            let done = match until {
                Until::Unsent(most) => self.window.unsent() <= most,
                Until::Acked | Until::AckedOr(_) => self.window.is_empty(),
            };
            if done && !committing && !(until == Until::Acked && self.txn.as_ref().is_some_and(Txn::is_open)) {
                return Ok(());
            }
            if self.window.is_empty() {
                continue; // to commit
            }
            // Wait: for an answer, else for a partition's backoff to end; never past `by`.
            let by = match until {
                Until::AckedOr(by) if !committing => Some(by),
                _ => None,
            };
            // A lingering batch goes when its linger ends: no wait lasts past that.
            let linger_ends = self.window.linger_ends();
            let wake = match (by, linger_ends) {
                (Some(by), Some(l)) => Some(by.min(l)),
                (by, l) => by.or(l),
            };
            let mut waiting = std::mem::take(&mut self.reused.waiting);
            self.window.leaders_waiting(&mut waiting);
            if !waiting.is_empty() {
                let answer = self.await_answer(&waiting, wake, acked);
                self.reused.waiting = waiting;
                answer?;
            } else {
                self.reused.waiting = waiting;
                let next = self.window.next_retry().unwrap_or(now + REFRESH_AFTER_FAILURE).min(deadline);
                if !self.client.stop().sleep_until(wake.map_or(next, |w| w.min(next))) {
                    return Err(KafkaError::Stopped { unacked: 0 });
                }
            }
            if by.is_some_and(|by| Instant::now() >= by) {
                return Ok(());
            }
        }
    }

    /// Reads one answer from the brokers in `waiting` (the one owing the oldest first): the
    /// first whose answer is arriving, so that a slow broker does not hold up the others'
    /// answers; at the latest the oldest one's when it is due (a timeout). Waits no later
    /// than `by`, reading nothing then.
    fn await_answer(&mut self, waiting: &[i32], by: Option<Instant>, acked: &mut Vec<u64>) -> Result<(), KafkaError> {
        let oldest = waiting[0];
        if waiting.len() == 1 && by.is_none() {
            return self.read_answer(oldest, acked);
        }
        let now = Instant::now();
        if waiting.len() > 1 {
            for &leader in waiting {
                match self.arriving(leader, now) {
                    Some(false) => {}
                    Some(true) => return self.read_answer(leader, acked),
                    None => return Ok(()),
                }
            }
        }
        let due = self.window.next_answer(oldest).and_then(Option::as_ref).map_or(now, Pending::due);
        let mut until = due;
        if waiting.len() > 1 {
            until = until.min(now + LOOK_EVERY);
        }
        if let Some(by) = by {
            until = until.min(by);
        }
        match self.arriving(oldest, until) {
            Some(true) => self.read_answer(oldest, acked),
            Some(false) if Instant::now() >= due => self.read_answer(oldest, acked),
            _ => Ok(()),
        }
    }

    /// Whether `leader`'s answer is arriving, waiting until `until`; `None` when its
    /// connection failed meanwhile (its requests are then lost).
    fn arriving(&mut self, leader: i32, until: Instant) -> Option<bool> {
        let pending = self.window.next_answer_mut(leader).and_then(Option::as_mut)?;
        match self.client.readable(leader, pending, until) {
            Ok(arriving) => Some(arriving),
            Err(e) => {
                telemetry::retried(NETWORK_EXCEPTION, self.window.lost(leader, Instant::now()));
                self.failed(e.to_string());
                None
            }
        }
    }

    /// Requests on a connection that was closed meanwhile (a metadata refresh drops the
    /// connection to a broker that moved) will never be answered: they are lost.
    fn forget_closed(&mut self, now: Instant) {
        let mut waiting = std::mem::take(&mut self.reused.waiting);
        self.window.leaders_waiting(&mut waiting);
        for &leader in &waiting {
            let open = self.client.connection_serial(leader);
            let stale = self.window.next_answer(leader).is_some_and(|p| p.as_ref().map(Pending::connection) != open);
            let lost = if stale { self.window.lost(leader, now) } else { 0 };
            telemetry::retried(NETWORK_EXCEPTION, lost);
            if lost > 0 {
                self.failed(format!("the connection to node {leader} was closed with requests unanswered"));
            }
        }
        self.reused.waiting = waiting;
    }

    /// Sends every partition's next batch that may go now, one request per leader.
    fn send_ready(&mut self, now: Instant, acked: &mut Vec<u64>) -> Result<(), KafkaError> {
        let mut leaderless = Vec::new();
        let client = &self.client;
        let topics = &self.topics;
        // Taken out while requests go (and put back at the end: an early return only loses
        // their capacity).
        let mut ready = std::mem::take(&mut self.reused.ready);
        let mut data = std::mem::take(&mut self.reused.data);
        self.window.sendable(
            now,
            |(t, p)| client.leaders(&topics[t]).get(p as usize).copied().unwrap_or(-1),
            |leader| client.must_drain(leader),
            &mut leaderless,
            &mut ready,
        );
        if let Some(&(t, p)) = leaderless.first() {
            let topic = &self.topics[t];
            let failure = if self.client.is_gone(topic) {
                format!("topic {topic:?} no longer exists (deleted?)")
            } else {
                format!("{topic} partition {p} has no leader")
            };
            leaderless.iter().for_each(|tp| self.window.delay(*tp, now));
            self.failed(failure);
        }
        // A transaction's partitions join it before its records go (KIP-98).
        if let (Some(txn), Some(identity)) = (&mut self.txn, self.identity)
            && !ready.is_empty()
        {
            let all = ready.tps().to_vec();
            let oldest = self.window.oldest().unwrap_or(now);
            let opening = !txn.is_open();
            match txn.add(&mut self.client, &self.topics, identity, &all, (oldest, oldest + self.delivery_timeout)) {
                Ok(Ok(())) if opening && txn.doomed() => self.doomed_records = self.window.pending_records(),
                Ok(Ok(())) => {}
                Ok(Err(why)) => {
                    // As a produce that failed: the partitions wait, metadata is refreshed.
                    all.iter().for_each(|tp| self.window.delay(*tp, now));
                    self.failed(why);
                    return Ok(());
                }
                Err(KafkaError::NotReady { last, .. }) => return Err(self.timed_out(last)),
                Err(e) => return Err(e),
            }
        }
        let transactional = self.txn.is_some();
        let classic = self.txn.as_ref().is_some_and(|t| !t.v2());
        let doomed = self.txn.as_ref().is_some_and(Txn::doomed);
        for (leader, tps) in ready.by_leader() {
            data.clear();
            // Room for the whole request at once: the memory of the last one, when it fits.
            let mut total = 0;
            for &tp in tps {
                total += self.window.next_batch(tp).map_or(0, |b| b.size());
            }
            self.encoded.clear();
            self.encoded.reserve(total);
            for &tp in tps {
                let batch = self.window.next_batch(tp).expect("a sendable partition has a batch");
                data.push((
                    tp,
                    encode(
                        self.identity,
                        transactional,
                        self.codec,
                        batch,
                        if doomed { &self.aborted_blocks } else { &self.header_blocks }.get(tp.0),
                        &mut self.scratch,
                        &mut self.encoded,
                    ),
                ));
            }
            telemetry::request_sent(data.iter().map(|(_, b)| b.len()).sum());
            let request = ProduceBody {
                transactional_id: self.txn.as_ref().map(|t| t.settings.id.as_str()),
                acks: self.acks.wire(),
                timeout_ms: self.request_timeout_ms,
                topics: &self.topics,
                data: &data,
                encoded: &self.encoded,
            };
            let acks = self.acks;
            let codec = self.codec;
            let result = self.client.with_broker(leader, |c| {
                let mut version = c.versions().produce;
                if classic {
                    version = version.min(PRODUCE_CLASSIC_TXN_MAX);
                }
                codec_supported(codec, c.addr(), version)?;
                let write = |buf: &mut Vec<u8>| {
                    request.write(buf, version);
                    Ok(())
                };
                if acks == Acks::None {
                    c.send_only_with(ApiKey::Produce, version, write).map(|()| None)
                } else {
                    c.start_with(ApiKey::Produce, version, write).map(Some)
                }
            });
            match result {
                Ok(pending) => {
                    let answered = pending.is_none();
                    self.window.sent(leader, pending, tps);
                    if answered {
                        // acks=0: written is all the broker will ever say.
                        let request = self.window.answered(leader).expect("just sent");
                        for (tp, sequence) in request.batches {
                            self.window.outcome(tp, sequence, Outcome::Written, now, acked);
                        }
                    }
                }
                Err(ConnectionError::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
                Err(e) if e.is_retriable() => {
                    self.window.attempted(tps);
                    telemetry::retried(NETWORK_EXCEPTION, self.window.lost(leader, now));
                    tps.iter().for_each(|tp| self.window.delay(*tp, now));
                    self.failed(e.to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
        data.clear();
        (self.reused.ready, self.reused.data) = (ready, data);
        Ok(())
    }

    /// Reads the answer to `leader`'s oldest request and applies it.
    fn read_answer(&mut self, leader: i32, acked: &mut Vec<u64>) -> Result<(), KafkaError> {
        let token = self.window.next_answer(leader).and_then(Option::as_ref).expect("a request awaits its answer");
        let mut response = std::mem::take(&mut self.reused.answer);
        let result = self.client.with_open(leader, |c| c.finish_into(token, &mut response));
        let now = Instant::now();
        match result {
            Ok(()) => {
                let request = self.window.answered(leader).expect("its answer was read");
                let applied = self.apply(&response, &request.batches, now, acked);
                self.reused.answer = response;
                applied
            }
            Err(ConnectionError::Stopped) => Err(KafkaError::Stopped { unacked: 0 }),
            Err(e) if e.is_retriable() => {
                telemetry::retried(NETWORK_EXCEPTION, self.window.lost(leader, now));
                self.failed(e.to_string());
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Applies a produce response to the batches its request carried.
    fn apply(
        &mut self,
        response: &ProduceResponse,
        batches: &[(Tp, i32)],
        now: Instant,
        acked: &mut Vec<u64>,
    ) -> Result<(), KafkaError> {
        let mut failure = None;
        let mut fatal = None;
        for &(tp, sequence) in batches {
            let topic = &self.topics[tp.0];
            let answer = response
                .responses
                .iter()
                .filter(|t| t.name == *topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.index == tp.1);
            let (outcome, code) = match answer.map(|a| a.error_code) {
                None => (Outcome::Retriable, None),
                // A duplicate means an earlier attempt was written: that is a success (KIP-98).
                Some(0 | DUPLICATE_SEQUENCE_NUMBER) => (Outcome::Written, None),
                Some(MESSAGE_TOO_LARGE) => (Outcome::TooLarge, Some(MESSAGE_TOO_LARGE)),
                Some(OUT_OF_ORDER_SEQUENCE_NUMBER) => (Outcome::OutOfOrder, Some(OUT_OF_ORDER_SEQUENCE_NUMBER)),
                Some(code) if retriable_for_produce(code, self.txn.is_some()) => (Outcome::Retriable, Some(code)),
                Some(code) if super::txn::is_fenced(code) && self.txn.is_some() => {
                    fatal = self.txn.as_ref().map(Txn::fenced);
                    continue;
                }
                Some(code) => {
                    // Keep going: other partitions of this answer may have been written.
                    fatal.get_or_insert(KafkaError::Broker {
                        what: format!("producing to {topic} partition {}", tp.1),
                        code,
                        message: answer.and_then(|a| a.error_message.clone()),
                    });
                    continue;
                }
            };
            match self.window.outcome(tp, sequence, outcome, now, acked) {
                Next::Fine => {}
                Next::Retry => {
                    telemetry::retried_after(code);
                    failure.get_or_insert(match code {
                        Some(code) => format!("{topic} partition {}: {}", tp.1, error_name(code)),
                        None => format!("no answer for {topic} partition {}", tp.1),
                    });
                }
                Next::Fatal => {
                    fatal.get_or_insert(KafkaError::Broker {
                        what: format!("producing to {topic} partition {}", tp.1),
                        code: OUT_OF_ORDER_SEQUENCE_NUMBER,
                        message: answer.and_then(|a| a.error_message.clone()),
                    });
                }
                Next::RecordTooLarge { bytes } => {
                    fatal.get_or_insert(KafkaError::RecordTooLarge { topic: topic.clone(), partition: tp.1, bytes });
                }
                Next::Split { records, bytes, limit } => {
                    // Not a failure of the broker: split at once, without backoff or refresh.
                    if let Some(limit) = limit {
                        diag!(
                            "{topic}: a batch of {records} records ({bytes} bytes) was too large for the broker \
                             (MESSAGE_TOO_LARGE); batches are cut to {limit} bytes from now on"
                        );
                    }
                }
            }
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        if let Some(failure) = failure {
            self.failed(failure);
        }
        Ok(())
    }

    /// The delivery timeout ran out while a transaction request was retried.
    fn timed_out(&self, last: String) -> KafkaError {
        KafkaError::DeliveryTimeout {
            after: self.delivery_timeout,
            unacked: self.window.unacked() + self.uncommitted.len(),
            last,
        }
    }

    /// Something was not delivered: learn where the partitions are now (at most every
    /// `REFRESH_AFTER_FAILURE`), and say so with when it is tried again.
    fn failed(&mut self, mut failure: String) {
        if self.client.metadata_age().is_none_or(|age| age >= REFRESH_AFTER_FAILURE)
            && let Err(e) = self.client.refresh(&self.topics)
        {
            failure = format!("{failure}; metadata: {e}");
        }
        let now = Instant::now();
        let wait = self.window.next_retry().map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        let left =
            self.window.oldest().map_or(Duration::ZERO, |o| (o + self.delivery_timeout).saturating_duration_since(now));
        diag!(
            "produce not acknowledged: {failure}; retrying in {} ms ({} s left of the delivery timeout)",
            wait.as_millis(),
            left.as_secs()
        );
        self.last_failure = Some(failure);
    }
}

/// Whether a produce may be retried after `code`: what a retry may cure, and for a
/// transactional producer CONCURRENT_TRANSACTIONS too — under protocol v2 a Produce adds its
/// partition to the transaction, and gets that while the last transaction's markers are still
/// being written (the Java client retries it; it ended the run after a node was lost).
fn retriable_for_produce(code: i16, transactional: bool) -> bool {
    is_retriable(code) || (transactional && code == super::txn::CONCURRENT_TRANSACTIONS)
}

/// Appends one batch as a RecordBatch v2 to `buf` and returns where it is, record `i` at
/// offset delta `i` and sequence `base_sequence + i` (non-idempotent: base sequence −1, as the
/// protocol asks). `scratch` and `buf` are reused from batch to batch: no allocation per batch.
fn encode(
    identity: Option<(i64, i16)>,
    transactional: bool,
    codec: Codec,
    batch: &Batch,
    header_block: Option<&HeaderBlock>,
    scratch: &mut Scratch,
    buf: &mut Vec<u8>,
) -> Range<usize> {
    let identity = identity.map(|(id, epoch)| (id, epoch, batch.base_sequence));
    let none = HeaderBlock::default();
    let start = buf.len();
    super::batch::write(buf, &batch.records, identity, transactional, header_block.unwrap_or(&none), codec, scratch);
    start..buf.len()
}

#[cfg(test)]
mod tests;
