//! Events between the generator and the event log: each made into a Kafka record (its JSON
//! written straight into a shared buffer), handed to the producer, and logged once the broker
//! acknowledged it — in the order the events were made, whatever order the answers come in —
//! and counted in the ground truth, if one is kept, in that order too. A record may carry
//! faults (`sim::faults`): its `pos-fault` header says which, and a malformed copy's value is
//! the event's JSON broken.
//!
//! A refund is handed out only once its sale is acknowledged, and never before an earlier
//! refund: with several requests in flight a later request can be written while an earlier
//! batch is not (a crash, a failure), and a refund in the topic must always name a sale that
//! is there.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::kafka::Record;
use crate::report::{EventLog, Kind, Stats};
use crate::sim;
use crate::sim::event::{Refund, Transaction};
use crate::sim::faults::{self, Copy, Made, Marks};
use crate::truth::{Fact, Truth};

/// Room made at a time in the buffer, and the most one event takes.
const CHUNK: usize = 64 * 1024;
const MAX_EVENT_BYTES: usize = 1024;
/// Most used-up chunks kept for reuse once their events are gone (4 MiB).
const SPENT: usize = 64;

/// An event to send.
pub enum Event<'a> {
    Transaction(&'a Transaction),
    Refund(&'a Refund),
}

impl<'a> From<&'a Made> for Event<'a> {
    fn from(made: &'a Made) -> Event<'a> {
        match made {
            Made::Sale(t) => Event::Transaction(t),
            Made::Refund(r) => Event::Refund(r),
        }
    }
}

/// An event handed out and not yet logged.
struct Waiting {
    kind: Kind,
    marks: Marks,
    made: Instant,
    value: Bytes,
    acked: bool,
}

pub struct Outbox {
    /// Records made and not yet handed to the producer, in order.
    queued: Vec<(Record, u64, Instant)>,
    /// Refunds (and their copies) not handed out yet, in order, each with its sale's number
    /// while that sale waits for its acknowledgement.
    held: VecDeque<(Option<u64>, (Record, u64, Instant))>,
    /// The sales not logged yet (id, event number), in the order made; and whether their ids
    /// rise in that order (no fault reordered them), so that a refund finds its sale by
    /// binary search.
    sales: VecDeque<(u64, u64)>,
    in_id_order: bool,
    /// Every event made and not yet logged, in order; the first is number `first`.
    waiting: VecDeque<Waiting>,
    first: u64,
    /// Numbers of events the producer reports acknowledged.
    acked: Vec<u64>,
    /// Keys and values are written here and handed out as slices of it: no allocation per
    /// event, and a chunk of 64 KiB is taken back once all its events are gone.
    buf: BytesMut,
    /// Used-up chunks, oldest first, still holding their memory for reuse.
    spent: VecDeque<BytesMut>,
    json: sim::json::Writer,
    /// The ground truth, and what it needs of each waiting event (kept only with a truth:
    /// `facts[i]` is `waiting[i]`'s).
    truth: Option<Truth>,
    facts: VecDeque<Fact>,
}

impl Outbox {
    /// An outbox that keeps `truth`, if there is one.
    pub fn new(truth: Option<Truth>) -> Outbox {
        Outbox {
            queued: Vec::new(),
            held: VecDeque::new(),
            sales: VecDeque::new(),
            in_id_order: true,
            waiting: VecDeque::new(),
            first: 0,
            acked: Vec::new(),
            buf: BytesMut::with_capacity(CHUNK),
            spent: VecDeque::new(),
            json: sim::json::Writer::default(),
            truth,
            facts: VecDeque::new(),
        }
    }

    /// Makes an event's record: its JSON is the message value; the key is the sale's id as
    /// decimal text (a refund's sale for a refund). `marks`: the faults the record carries.
    /// `made`: when it counts as made (its sale's due time: it may be made a little later),
    /// its latency and delivery timeout count from then.
    pub fn push(&mut self, event: Event<'_>, marks: Marks, made: Instant) {
        if self.buf.capacity() - self.buf.len() < MAX_EVENT_BYTES {
            self.next_chunk();
        }
        let (kind, key_id, timestamp) = match event {
            Event::Transaction(t) => (Kind::Transaction, t.transaction_id, t.timestamp),
            Event::Refund(r) => (Kind::Refund, r.original_transaction_id, r.timestamp),
        };
        if self.truth.is_some() {
            self.facts.push_back(match event {
                Event::Transaction(t) => Fact::sale(t),
                Event::Refund(r) => Fact::refund(r),
            });
        }
        sim::json::uint(&mut self.buf, key_id);
        let key_len = self.buf.len();
        match event {
            Event::Transaction(t) => self.json.transaction(&mut self.buf, t),
            Event::Refund(r) => self.json.refund(&mut self.buf, r),
        }
        if let Copy::Malformed(how) = marks.copy {
            let broken = faults::malform(&self.buf[key_len..], how);
            self.buf.truncate(key_len);
            self.buf.extend_from_slice(&broken);
        }
        let both = self.buf.split().freeze();
        let topic = match kind {
            Kind::Transaction => 0,
            Kind::Refund => 1,
        };
        let (key, value) = (both.slice(..key_len), both.slice(key_len..));
        let number = self.first + self.waiting.len() as u64;
        let sale = match (kind, marks.copy) {
            (Kind::Refund, _) => self.unacked_sale(key_id),
            (Kind::Transaction, Copy::Original) => {
                self.in_id_order &= !marks.reordered && self.sales.back().is_none_or(|(last, _)| *last < key_id);
                self.sales.push_back((key_id, number));
                None
            }
            _ => None,
        };
        self.waiting.push_back(Waiting { kind, marks, made, value: value.clone(), acked: false });
        let header = marks.header();
        let record = (Record { topic, key, value, timestamp_ms: timestamp.0, header }, number, made);
        if kind == Kind::Refund && (sale.is_some() || !self.held.is_empty()) {
            self.held.push_back((sale, record));
        } else {
            self.queued.push(record);
        }
    }

    /// The number of sale `id` while it waits for its acknowledgement.
    fn unacked_sale(&self, id: u64) -> Option<u64> {
        let at = if self.in_id_order {
            self.sales.binary_search_by_key(&id, |(sale, _)| *sale).ok()
        } else {
            self.sales.iter().rposition(|(sale, _)| *sale == id)
        };
        let number = self.sales[at?].1;
        (!self.is_acked(number)).then_some(number)
    }

    /// Whether event `number` is acknowledged (logged and gone counts too).
    fn is_acked(&self, number: u64) -> bool {
        number < self.first || self.waiting.get((number - self.first) as usize).is_some_and(|w| w.acked)
    }

    /// Queues the held refunds whose sale is acknowledged, up to the first whose sale is not.
    fn release(&mut self) {
        while let Some((sale, _)) = self.held.front() {
            if !sale.is_none_or(|n| self.is_acked(n)) {
                break;
            }
            let (_, record) = self.held.pop_front().expect("a front");
            self.queued.push(record);
        }
    }

    /// Retires the current chunk and takes the oldest retired one whose events are all gone
    /// (no allocation), else a new one.
    fn next_chunk(&mut self) {
        let reclaimed = self.spent.front_mut().is_some_and(|oldest| oldest.try_reclaim(CHUNK));
        let reused = if reclaimed { self.spent.pop_front() } else { None };
        let used = std::mem::replace(&mut self.buf, reused.unwrap_or_else(|| BytesMut::with_capacity(CHUNK)));
        self.spent.push_back(used);
        if self.spent.len() > SPENT {
            self.spent.pop_front();
        }
    }

    /// Events made and not yet handed out (refunds waiting for their sale not counted).
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Hands out the queued records with their numbers and when they were made, and the held
    /// refunds whose sale is acknowledged.
    pub fn take(&mut self) -> std::vec::Drain<'_, (Record, u64, Instant)> {
        self.release();
        self.queued.drain(..)
    }

    /// Where the producer reports the numbers of acknowledged events.
    pub fn acked_mut(&mut self) -> &mut Vec<u64> {
        &mut self.acked
    }

    /// Events whose records were aborted (the fault): the truth counts them; each goes again.
    pub fn aborted(&mut self, numbers: &[u64]) {
        let Some(truth) = &mut self.truth else { return };
        for &n in numbers {
            let Some(i) = n.checked_sub(self.first).map(|i| i as usize) else { continue };
            if let (Some(w), Some(fact)) = (self.waiting.get(i), self.facts.get(i)) {
                truth.aborted(fact, w.marks);
            }
        }
    }

    /// Every event made counts as acknowledged (a dry run: nothing is sent).
    pub fn ack_all(&mut self) {
        self.queued.clear();
        self.held.clear();
        self.acked.extend(self.first..self.first + self.waiting.len() as u64);
    }

    /// Counts in `stats` what was acknowledged since the last call, and logs each event
    /// acknowledged once every earlier one was too. With `ending`, logs every event
    /// acknowledged and drops the rest (they never will be): returns how many those were.
    pub fn settle<W: Write>(&mut self, stats: &Stats, log: &mut EventLog<W>, ending: bool) -> (usize, io::Result<()>) {
        let now = Instant::now();
        for n in self.acked.drain(..) {
            let Some(i) = n.checked_sub(self.first).map(|i| i as usize) else { continue };
            if let Some(w) = self.waiting.get_mut(i) {
                w.acked = true;
                // The stats count events: a duplicate or a broken copy is not another sale.
                if w.marks.copy == Copy::Original {
                    stats.acked(w.kind, now.saturating_duration_since(w.made));
                }
            }
        }
        self.release();
        let mut output = Ok(());
        let mut dropped = 0;
        while let Some(w) = self.waiting.front() {
            if !w.acked && !ending {
                break;
            }
            if !w.acked {
                dropped += 1;
            } else {
                if let (Some(truth), Some(fact)) = (&mut self.truth, self.facts.front()) {
                    truth.acked(fact, w.marks);
                }
                if output.is_ok() {
                    output = log.sent(w.kind, w.marks, &w.value);
                }
            }
            self.waiting.pop_front();
            self.facts.pop_front();
            self.first += 1;
        }
        while self.sales.front().is_some_and(|(_, n)| *n < self.first) {
            self.sales.pop_front();
        }
        if ending {
            self.queued.clear();
            self.held.clear();
        }
        (dropped, output)
    }

    /// When the truth file, if one is kept, was last written.
    pub fn truth_written(&self) -> Option<std::time::SystemTime> {
        self.truth.as_ref().and_then(Truth::written)
    }

    /// Rewrites the truth file, if one is kept, when its period is over, or with `last` at
    /// the end of the run.
    pub fn keep_truth(&mut self, last: bool) -> Result<(), String> {
        self.truth.as_mut().map_or(Ok(()), |truth| truth.keep(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Generator;
    use crate::sim::clock::Clock;

    fn numbers(outbox: &mut Outbox) -> Vec<u64> {
        outbox.take().map(|(_, n, _)| n).collect()
    }

    fn ack(outbox: &mut Outbox, done: &[u64]) {
        outbox.acked_mut().extend_from_slice(done);
        let mut log = EventLog::new(Vec::new(), true);
        let (dropped, output) = outbox.settle(&Stats::new(Instant::now()), &mut log, false);
        assert_eq!((dropped, output.is_ok()), (0, true));
    }

    #[test]
    fn a_refund_waits_for_its_sale_and_never_overtakes_an_earlier_refund() {
        let mut g = Generator::new(4, Clock::simulated(1_735_689_600_000, 1.0), 0.0);
        let (old, _) = g.next();
        let (sale, _) = g.next();
        let refund = |id: u64, of: &Transaction| Refund {
            refund_id: id,
            original_transaction_id: of.transaction_id,
            product_id: of.product_id,
            store_id: of.store_id,
            customer_id: of.customer_id,
            refund_amount: of.amount,
            reason: "defective",
            timestamp: of.timestamp,
        };
        let mut outbox = Outbox::new(None);
        outbox.push(Event::Transaction(&old), Marks::default(), Instant::now()); // 0
        assert_eq!(numbers(&mut outbox), [0]);
        ack(&mut outbox, &[0]);
        outbox.push(Event::Transaction(&sale), Marks::default(), Instant::now()); // 1
        outbox.push(Event::Refund(&refund(1, &sale)), Marks::default(), Instant::now()); // 2: its sale waits
        outbox.push(Event::Refund(&refund(2, &old)), Marks::default(), Instant::now()); // 3: its sale is acked, but 2 waits
        assert_eq!(numbers(&mut outbox), [1], "only the sale goes");
        assert_eq!(outbox.queued(), 0);
        ack(&mut outbox, &[1]);
        assert_eq!(numbers(&mut outbox), [2, 3], "the sale is acknowledged: both refunds, in order");
        // A refund of a sale acknowledged and logged long ago goes at once.
        ack(&mut outbox, &[2, 3]);
        outbox.push(Event::Refund(&refund(3, &old)), Marks::default(), Instant::now());
        assert_eq!(numbers(&mut outbox), [4]);
        // A sale sent after a later one (the out-of-order fault) is still found.
        let (held_back, _) = g.next();
        let (next, _) = g.next();
        let reordered = Marks { reordered: true, ..Marks::default() };
        outbox.push(Event::Transaction(&next), Marks::default(), Instant::now()); // 5
        outbox.push(Event::Transaction(&held_back), reordered, Instant::now()); // 6
        outbox.push(Event::Refund(&refund(4, &held_back)), Marks::default(), Instant::now()); // 7
        outbox.push(Event::Refund(&refund(5, &next)), Marks::default(), Instant::now()); // 8
        assert_eq!(numbers(&mut outbox), [5, 6]);
        ack(&mut outbox, &[5]);
        assert_eq!(numbers(&mut outbox), Vec::<u64>::new(), "refund 4 waits for sale 6, refund 5 behind it");
        ack(&mut outbox, &[6]);
        assert_eq!(numbers(&mut outbox), [7, 8]);
    }
}
