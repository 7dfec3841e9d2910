//! The in-flight window: which record batches are waiting, which are on the wire to which
//! broker, and what an answer or a lost connection does to them. Pure bookkeeping, no I/O:
//! the producer sends and receives, this decides.
//!
//! Rules (KIP-98 and the Java client's `Sender`/`RecordAccumulator`):
//! - A partition's batches carry consecutive sequence numbers, fixed when the records are
//!   added: a batch sent again keeps its sequences, which is what lets the broker drop a
//!   duplicate.
//! - Up to `max_in_flight` requests per broker connection are unanswered at once (the broker
//!   remembers the last five batches per partition for deduplication, hence at most 5). A
//!   connection answers in order, and a partition's batches in flight all went to one broker,
//!   so the broker sees them in sequence order.
//! - When a batch fails, the batches sent after it fail too (their sequence no longer follows
//!   what the broker has: OUT_OF_ORDER_SEQUENCE_NUMBER) or succeed (the failed one was written
//!   after all). The partition then sends nothing until every batch in flight is answered or
//!   lost, and starts again at its first unacknowledged batch, in order, with the original
//!   sequences.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::fasthash::FastMap;

/// A record batch's fixed header (RecordBatch v2).
pub const BATCH_OVERHEAD: usize = 61;
/// A record's own framing in a batch, at most: length, attributes, timestamp and offset
/// deltas, key and value lengths, header count.
const RECORD_OVERHEAD: usize = 21;
/// First wait before a failed partition is sent again, doubled per failure up to the cap.
const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// One message to produce. `topic` indexes the producer's topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: usize,
    pub key: Bytes,
    pub value: Bytes,
    pub timestamp_ms: i64,
    /// A header of this record alone (key, value), after those every record of its topic
    /// carries. A reference, so that a record without one stays small.
    pub header: Option<&'static (&'static str, &'static str)>,
}

/// The most bytes `record` adds to an uncompressed batch.
pub fn record_size(record: &Record) -> usize {
    let header = record.header.map_or(0, |(k, v)| 10 + k.len() + v.len());
    RECORD_OVERHEAD + record.key.len() + record.value.len() + header
}

/// A topic (index) and partition.
pub type Tp = (usize, i32);

/// Records of one partition that go to the broker as one record batch.
#[derive(Debug)]
pub struct Batch {
    pub tp: Tp,
    /// Sequence number of the first record (idempotent producer), else unused.
    pub base_sequence: i32,
    pub records: Vec<Record>,
    /// The caller's number of each record, handed back when it is acknowledged.
    pub events: Vec<u64>,
    /// When the first record was made: the delivery timeout counts from here.
    pub since: Instant,
    /// Whether it went out at least once: then it never changes (the broker may hold it, and
    /// knows a duplicate only by its first and last sequence), and is encoded again for a
    /// resend, byte for byte the same, rather than kept encoded while in flight.
    sent: bool,
    /// `Batch::size` so far.
    bytes: usize,
    /// Bytes each record takes beyond `record_size`: its headers.
    extra: usize,
    in_flight: bool,
}

impl Batch {
    /// The most bytes this batch takes uncompressed.
    pub fn size(&self) -> usize {
        self.bytes
    }

    /// Splits a batch the broker found too large into two halves with consecutive sequences.
    fn split(self) -> (Batch, Batch) {
        let mid = self.records.len() / 2;
        let (mut records, mut events) = (self.records, self.events);
        let (records2, events2) = (records.split_off(mid), events.split_off(mid));
        let extra = self.extra;
        let half = |records: Vec<Record>, events, base_sequence| Batch {
            tp: self.tp,
            base_sequence,
            bytes: BATCH_OVERHEAD + records.iter().map(|r| record_size(r) + extra).sum::<usize>(),
            extra,
            records,
            events,
            since: self.since,
            sent: false,
            in_flight: false,
        };
        (
            half(records, events, self.base_sequence),
            half(records2, events2, self.base_sequence.wrapping_add(mid as i32)),
        )
    }
}

#[derive(Debug, Default)]
struct Partition {
    /// Unacknowledged batches in sequence order; those in flight come first (except while
    /// rewinding, when a failed one may precede some still in flight).
    batches: VecDeque<Batch>,
    next_sequence: i32,
    in_flight: usize,
    /// The broker the batches in flight went to.
    leader: i32,
    /// A batch failed: wait until nothing is in flight, then resend from the first batch.
    rewind: bool,
    /// No send before this (backoff after a failure).
    retry_at: Option<Instant>,
    failures: u32,
    /// Records in the last batch made: the next one starts with room for as many (when
    /// behind, batches are full and alike; growing each from empty costs allocations).
    last_len: usize,
    /// The emptied buffers of the last batch acknowledged, for the next batch (paced, each
    /// sale's batch is acknowledged before the next is made: no allocation per batch).
    spare: Option<(Vec<Record>, Vec<u64>)>,
}

impl Partition {
    /// Splits batch `i` in two halves, in its place.
    fn split(&mut self, i: usize) {
        let (first, second) = self.batches.remove(i).expect("a batch at i").split();
        self.batches.insert(i, second);
        self.batches.insert(i, first);
    }
}

/// A request on the wire: the caller's token for its answer, and the batches it carries.
#[derive(Debug)]
pub struct Request<P> {
    pub token: P,
    pub batches: Vec<(Tp, i32)>,
    /// Send order over all connections, so the oldest answer can be waited for first.
    serial: u64,
}

/// The partitions that may send now, grouped by leader (ascending), each leader's in
/// partition order: what [`Window::sendable`] finds. Kept by the caller from call to call, so
/// that finding them allocates nothing once the buffers have grown.
#[derive(Debug, Default)]
pub struct Ready {
    /// (leader, partition), in the order found.
    pairs: Vec<(i32, Tp)>,
    /// Each leader, ascending, with how many partitions it has in `tps`.
    runs: Vec<(i32, usize)>,
    /// The partitions, leader after leader, each leader's in the order found.
    tps: Vec<Tp>,
}

impl Ready {
    fn clear(&mut self) {
        self.pairs.clear();
        self.runs.clear();
        self.tps.clear();
    }

    fn group(&mut self) {
        // Few leaders: each found once, put in its place (an insertion), then its partitions
        // gathered in the order found. No standard sort: they weigh kilobytes of code.
        for &(leader, _) in &self.pairs {
            if let Err(at) = self.runs.binary_search_by_key(&leader, |(l, _)| *l) {
                self.runs.insert(at, (leader, 0));
            }
        }
        for (leader, count) in &mut self.runs {
            let before = self.tps.len();
            self.tps.extend(self.pairs.iter().filter(|(l, _)| l == leader).map(|(_, tp)| *tp));
            *count = self.tps.len() - before;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Every partition, leader after leader.
    pub fn tps(&self) -> &[Tp] {
        &self.tps
    }

    /// Each leader with its partitions.
    pub fn by_leader(&self) -> impl Iterator<Item = (i32, &[Tp])> {
        let mut start = 0;
        self.runs.iter().map(move |&(leader, count)| {
            start += count;
            (leader, &self.tps[start - count..start])
        })
    }

    /// `leader`'s partitions, if any may go.
    #[cfg(test)]
    pub fn get(&self, leader: i32) -> Option<&[Tp]> {
        self.by_leader().find(|(l, _)| *l == leader).map(|(_, tps)| tps)
    }
}

/// What an answer says about one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written (a duplicate of a written batch counts: KIP-98).
    Written,
    /// Not written, and a retry may succeed.
    Retriable,
    /// OUT_OF_ORDER_SEQUENCE_NUMBER: retriable only after an earlier batch failed.
    OutOfOrder,
    /// MESSAGE_TOO_LARGE: split it (when it has more than one record) and resend at once.
    TooLarge,
}

/// What the caller must do after an outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing for the caller to do (a batch refused after an earlier failure goes again
    /// with the rewind).
    Fine,
    /// Retry after refreshing metadata: the partition waits its backoff.
    Retry,
    /// A sequence the broker did not expect although nothing before it failed: the broker
    /// lost this producer's state; retrying could duplicate.
    Fatal,
    /// The batch is too large and is one record: nothing can be done.
    RecordTooLarge { bytes: usize },
    /// Split in two; the new per-topic limit is given when it went down.
    Split { records: usize, bytes: usize, limit: Option<usize> },
}

pub struct Window<P> {
    parts: BTreeMap<Tp, Partition>,
    conns: FastMap<i32, VecDeque<Request<P>>>,
    max_in_flight: usize,
    batch_bytes: usize,
    /// Per topic, the largest batch (in `Batch::size` bytes) not known to be too large: a
    /// batch refused as MESSAGE_TOO_LARGE lowers it, so a small `max.message.bytes` costs one
    /// split, not one per batch.
    limits: FastMap<usize, usize>,
    serial: u64,
    unacked: usize,
    rng: fastrand::Rng,
    /// Per topic, the bytes each record takes beyond `record_size` (its headers).
    extra: Vec<usize>,
    /// While set, a batch waits for more records until its oldest is this old (`linger.ms`),
    /// unless it is full or nothing can join it before then (see [`Window::hold`]).
    hold: Option<Hold>,
}

/// Lingering, as the caller allows it now.
#[derive(Debug, Clone, Copy)]
struct Hold {
    linger: Duration,
    /// No record is made before this (the next sale is due then): a batch whose linger ends
    /// sooner waits for nothing and goes at once.
    next_record: Instant,
}

impl<P> Window<P> {
    pub fn new(max_in_flight: usize, batch_bytes: usize) -> Window<P> {
        Window {
            parts: BTreeMap::new(),
            conns: FastMap::default(),
            max_in_flight: max_in_flight.max(1),
            batch_bytes,
            limits: FastMap::default(),
            serial: 0,
            unacked: 0,
            rng: fastrand::Rng::new(),
            extra: Vec::new(),
            hold: None,
        }
    }

    /// Lets batches linger up to `linger` for records made from `next_record` on; `None`:
    /// every batch may go at once (the run ends, a stop, or the producer is behind).
    pub fn hold(&mut self, hold: Option<(Duration, Instant)>) {
        self.hold =
            hold.filter(|(linger, _)| !linger.is_zero()).map(|(linger, next_record)| Hold { linger, next_record });
    }

    /// When the batches held back for their linger may go (the oldest one's linger ends), if
    /// any are held.
    pub fn linger_ends(&self) -> Option<Instant> {
        let hold = self.hold?;
        self.parts
            .values()
            .filter_map(|p| p.batches.iter().find(|b| !b.in_flight))
            .filter(|b| !b.sent && hold.next_record < b.since + hold.linger)
            .map(|b| b.since + hold.linger)
            .min()
    }

    /// Counts `bytes` more for every record of `topic` (the headers the producer adds).
    pub fn set_record_extra(&mut self, topic: usize, bytes: usize) {
        if self.extra.len() <= topic {
            self.extra.resize(topic + 1, 0);
        }
        self.extra[topic] = bytes;
    }

    /// Adds a record to its partition's last batch while that one is unsent and has room,
    /// else to a new batch; gives it the partition's next sequence number.
    pub fn push(&mut self, tp: Tp, record: Record, event: u64, made: Instant) {
        let limit = self.batch_bytes.min(self.limits.get(&tp.0).copied().unwrap_or(usize::MAX));
        let part = self.parts.entry(tp).or_default();
        let seq = part.next_sequence;
        let extra = self.extra.get(tp.0).copied().unwrap_or(0);
        let size = record_size(&record) + extra;
        // Sequences wrap from i32::MAX to 0 as in the Java client; a batch cannot span the
        // wrap, so sequence 0 starts a new one.
        let joins = part.batches.back().is_some_and(|b| !b.sent && seq != 0 && b.bytes + size <= limit);
        if !joins {
            if let Some(last) = part.batches.back() {
                part.last_len = last.records.len();
            }
            let (mut records, mut events) = part.spare.take().unwrap_or_default();
            records.reserve(part.last_len);
            events.reserve(part.last_len);
            part.batches.push_back(Batch {
                tp,
                base_sequence: seq,
                records,
                events,
                since: made,
                sent: false,
                bytes: BATCH_OVERHEAD,
                extra,
                in_flight: false,
            });
        }
        let batch = part.batches.back_mut().expect("pushed above");
        batch.bytes += size;
        batch.records.push(record);
        batch.events.push(event);
        part.next_sequence = if seq == i32::MAX { 0 } else { seq + 1 };
        self.unacked += 1;
    }

    /// Every record not yet acknowledged, with its partition, its number and when its batch's
    /// first record was made; each partition's in order (to send again after an abort).
    pub fn pending_records(&self) -> Vec<(Tp, Record, u64, Instant)> {
        let mut out = Vec::with_capacity(self.unacked);
        for part in self.parts.values() {
            for b in &part.batches {
                for (r, &e) in b.records.iter().zip(&b.events) {
                    out.push((b.tp, r.clone(), e, b.since));
                }
            }
        }
        out
    }

    /// Every partition's sequence starts again at 0 (a new producer epoch); only while no
    /// record waits.
    pub fn reset_sequences(&mut self) {
        debug_assert!(self.is_empty(), "sequences restart only with nothing in the window");
        for part in self.parts.values_mut() {
            part.next_sequence = 0;
        }
    }

    /// Records not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.unacked
    }

    pub fn is_empty(&self) -> bool {
        self.unacked == 0
    }

    /// Records not on the wire yet.
    pub fn unsent(&self) -> usize {
        self.parts.values().flat_map(|p| p.batches.iter()).filter(|b| !b.in_flight).map(|b| b.records.len()).sum()
    }

    /// The brokers with requests awaiting their answers, the one waiting longest first, into
    /// `out` (the caller's, kept from call to call: this runs several times per request).
    pub fn leaders_waiting(&self, out: &mut Vec<i32>) {
        out.clear();
        out.extend(self.conns.iter().filter(|(_, q)| !q.is_empty()).map(|(l, _)| *l));
        // Few brokers: an insertion sort (the standard sorts weigh kilobytes of code).
        let serial = |l: &i32| self.conns.get(l).and_then(VecDeque::front).map_or(0, |r| r.serial);
        for i in 1..out.len() {
            let mut j = i;
            while j > 0 && serial(&out[j - 1]) > serial(&out[j]) {
                out.swap(j - 1, j);
                j -= 1;
            }
        }
    }

    /// Holds `tp` back for its backoff (no leader, or its send failed).
    pub fn delay(&mut self, tp: Tp, now: Instant) {
        if let Some(part) = self.parts.get_mut(&tp) {
            Self::back_off(part, now, &mut self.rng);
        }
    }

    /// When the oldest unacknowledged record was made.
    pub fn oldest(&self) -> Option<Instant> {
        self.parts.values().filter_map(|p| p.batches.front().map(|b| b.since)).min()
    }

    /// The earliest time a partition that waits out a backoff may send again.
    pub fn next_retry(&self) -> Option<Instant> {
        self.parts.values().filter(|p| p.batches.iter().any(|b| !b.in_flight)).filter_map(|p| p.retry_at).min()
    }

    /// The partitions that may send their next batch now, grouped by leader (`leader_of`;
    /// negative: none known, reported in `leaderless`). A partition waits while its backoff
    /// runs, while it rewinds with batches still in flight, while earlier batches are in
    /// flight to another broker (the old leader), and while its leader's window is full or
    /// `blocked` (a connection that must be drained first).
    pub fn sendable(
        &mut self,
        now: Instant,
        leader_of: impl Fn(Tp) -> i32,
        blocked: impl Fn(i32) -> bool,
        leaderless: &mut Vec<Tp>,
        out: &mut Ready,
    ) {
        out.clear();
        // Lingering holds every partition's batch or none: once one may go, all go together
        // (one request per broker). A batch of one partition can hold a record made after
        // another partition's lingering one (it joined an older batch); sending it alone would
        // put the later record in Kafka first, and a crash then leaves a hole in the ids.
        let held = self.hold.is_some_and(|hold| {
            !self.parts.values().any(|part| {
                let Some(next) = part.batches.iter().position(|b| !b.in_flight) else { return false };
                let b = &part.batches[next];
                let full = next + 1 < part.batches.len() || b.bytes >= self.batch_bytes;
                let due = b.since + hold.linger;
                full || b.sent || now >= due || hold.next_record >= due
            })
        });
        for (&tp, part) in &mut self.parts {
            match part.retry_at {
                Some(at) if at > now => continue,
                Some(_) => part.retry_at = None,
                None => {}
            }
            if part.rewind {
                if part.in_flight > 0 {
                    continue;
                }
                part.rewind = false;
            }
            // Lingering: batches go once one of them is full (another one follows it), was
            // sent before, is as old as the linger, or when nothing can join it in time.
            if held || !part.batches.iter().any(|b| !b.in_flight) {
                continue;
            }
            let leader = leader_of(tp);
            if leader < 0 {
                leaderless.push(tp);
                continue;
            }
            if part.in_flight > 0 && part.leader != leader {
                continue;
            }
            let queued = self.conns.get(&leader).map_or(0, VecDeque::len);
            if queued >= self.max_in_flight || blocked(leader) {
                continue;
            }
            out.pairs.push((leader, tp));
        }
        out.group();
    }

    /// The next batch of `tp` to send: the first not in flight. Split first when it exceeds
    /// the topic's learned limit (it was made before the limit was learned).
    pub fn next_batch(&mut self, tp: Tp) -> Option<&mut Batch> {
        let limit = self.limits.get(&tp.0).copied().unwrap_or(usize::MAX);
        let part = self.parts.get_mut(&tp)?;
        let i = part.batches.iter().position(|b| !b.in_flight)?;
        while !part.batches[i].sent && part.batches[i].records.len() > 1 && part.batches[i].bytes > limit {
            part.split(i);
        }
        part.batches.get_mut(i)
    }

    /// Marks the next batch of each of `tps` as sent to `leader` in one request.
    pub fn sent(&mut self, leader: i32, token: P, tps: &[Tp]) {
        let mut batches = Vec::with_capacity(tps.len());
        for tp in tps {
            let part = self.parts.get_mut(tp).expect("a partition with a batch to send");
            let batch = part.batches.iter_mut().find(|b| !b.in_flight).expect("a batch to send");
            batch.in_flight = true;
            batch.sent = true;
            part.in_flight += 1;
            part.leader = leader;
            batches.push((*tp, batch.base_sequence));
        }
        self.serial += 1;
        self.conns.entry(leader).or_default().push_back(Request { token, batches, serial: self.serial });
    }

    /// The next batch of each of `tps` may have reached the broker although sending failed:
    /// it stays as it is from now on.
    pub fn attempted(&mut self, tps: &[Tp]) {
        for tp in tps {
            if let Some(batch) = self.parts.get_mut(tp).and_then(|p| p.batches.iter_mut().find(|b| !b.in_flight)) {
                batch.sent = true;
            }
        }
    }

    /// The token of `leader`'s oldest request: the answer the connection gives next.
    pub fn next_answer(&self, leader: i32) -> Option<&P> {
        self.conns.get(&leader)?.front().map(|r| &r.token)
    }

    /// `next_answer`, to note how long it has been waited for.
    pub fn next_answer_mut(&mut self, leader: i32) -> Option<&mut P> {
        self.conns.get_mut(&leader)?.front_mut().map(|r| &mut r.token)
    }

    /// Removes `leader`'s oldest request: its answer was read. Apply `outcome` to its batches.
    pub fn answered(&mut self, leader: i32) -> Option<Request<P>> {
        self.conns.get_mut(&leader)?.pop_front()
    }

    /// Applies what the broker said about one batch of an answered request. Acknowledged
    /// records' numbers go to `acked`.
    pub fn outcome(
        &mut self,
        tp: Tp,
        base_sequence: i32,
        outcome: Outcome,
        now: Instant,
        acked: &mut Vec<u64>,
    ) -> Next {
        let Some(part) = self.parts.get_mut(&tp) else { return Next::Fine };
        let Some(i) = part.batches.iter().position(|b| b.in_flight && b.base_sequence == base_sequence) else {
            return Next::Fine;
        };
        part.in_flight -= 1;
        match outcome {
            Outcome::Written => {
                let Batch { mut records, mut events, .. } = part.batches.remove(i).expect("index found above");
                self.unacked -= events.len();
                acked.extend_from_slice(&events);
                records.clear();
                events.clear();
                part.spare = Some((records, events));
                part.failures = 0;
                if part.batches.is_empty() {
                    part.retry_at = None;
                }
                Next::Fine
            }
            Outcome::OutOfOrder if !part.rewind => {
                part.batches[i].in_flight = false;
                Next::Fatal
            }
            // Refused because an earlier batch was: it goes again with the rewind, after the
            // backoff that batch's failure set (none for a split).
            Outcome::OutOfOrder => {
                part.batches[i].in_flight = false;
                Next::Fine
            }
            Outcome::Retriable => {
                part.batches[i].in_flight = false;
                Self::back_off(part, now, &mut self.rng);
                Next::Retry
            }
            Outcome::TooLarge => {
                part.batches[i].in_flight = false;
                part.rewind = true;
                let too_large = part.batches[i].bytes;
                let records = part.batches[i].records.len();
                if records < 2 {
                    return Next::RecordTooLarge { bytes: too_large };
                }
                // A batch within the limit was refused: the limit becomes three quarters of its
                // size, so a few refusals reach a size that fits, most of the way to the largest.
                let limit = self.limits.entry(tp.0).or_insert(usize::MAX);
                let lowered = (too_large <= *limit).then(|| {
                    *limit = too_large / 4 * 3;
                    *limit
                });
                part.split(i);
                Next::Split { records, bytes: too_large, limit: lowered }
            }
        }
    }

    /// Requests sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.conns.values().map(|requests| requests.len()).sum()
    }

    /// Every request on `leader`'s connection is lost (the connection failed or was closed):
    /// their batches are unsent again, their partitions rewind after a backoff. Returns how
    /// many requests were lost.
    pub fn lost(&mut self, leader: i32, now: Instant) -> usize {
        let requests = self.conns.remove(&leader).unwrap_or_default();
        for request in &requests {
            for (tp, base_sequence) in &request.batches {
                let Some(part) = self.parts.get_mut(tp) else { continue };
                if let Some(b) = part.batches.iter_mut().find(|b| b.in_flight && b.base_sequence == *base_sequence) {
                    b.in_flight = false;
                    part.in_flight -= 1;
                    Self::back_off(part, now, &mut self.rng);
                }
            }
        }
        requests.len()
    }

    /// A partition that failed: rewinds, and waits 100 ms, doubled per failure in a row up to
    /// 1 s, each ±20 % so that partitions and producers do not retry in lock step.
    fn back_off(part: &mut Partition, now: Instant, rng: &mut fastrand::Rng) {
        part.rewind = true;
        if part.retry_at.is_some_and(|at| at > now) {
            return; // already waiting for this round of failures
        }
        let nominal = (RETRY_BASE * 2u32.saturating_pow(part.failures.min(8))).min(RETRY_MAX);
        part.failures += 1;
        part.retry_at = Some(now + nominal.mul_f64(0.8 + 0.4 * rng.f64()));
    }

    /// Every unacknowledged record's number (for a final count or report).
    #[cfg(test)]
    fn pending(&self) -> Vec<u64> {
        let mut all: Vec<u64> = self.pending_records().into_iter().map(|(_, _, event, _)| event).collect();
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests;
