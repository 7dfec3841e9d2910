//! Events between the generator and the event log: each made into a Kafka record (its JSON
//! written straight into a shared buffer), handed to the producer, and logged once the broker
//! acknowledged it — in the order the events were made, whatever order the answers come in —
//! and counted in the ground truth, if one is kept, in that order too. A record may carry
//! faults (`sim::faults`): its `pos-fault` header says which, and a malformed copy's value is
//! the event's JSON broken.

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
    /// Where a malformed copy is made before it joins the buffer.
    broken: Vec<u8>,
}

impl Outbox {
    /// An outbox that keeps `truth`, if there is one.
    pub fn new(truth: Option<Truth>) -> Outbox {
        Outbox {
            queued: Vec::new(),
            waiting: VecDeque::new(),
            first: 0,
            acked: Vec::new(),
            buf: BytesMut::with_capacity(CHUNK),
            spent: VecDeque::new(),
            json: sim::json::Writer::default(),
            truth,
            facts: VecDeque::new(),
            broken: Vec::new(),
        }
    }

    /// Makes an event's record: its JSON is the message value; the key is the sale's id as
    /// decimal text (a refund's sale for a refund). `marks`: the faults the record carries.
    pub fn push(&mut self, event: Event<'_>, marks: Marks) {
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
            self.broken.clear();
            self.broken.extend_from_slice(&faults::malform(&self.buf[key_len..], how));
            self.buf.truncate(key_len);
            self.buf.extend_from_slice(&self.broken);
        }
        let both = self.buf.split().freeze();
        let topic = match kind {
            Kind::Transaction => 0,
            Kind::Refund => 1,
        };
        let (key, value) = (both.slice(..key_len), both.slice(key_len..));
        let made = Instant::now();
        let number = self.first + self.waiting.len() as u64;
        self.waiting.push_back(Waiting { kind, marks, made, value: value.clone(), acked: false });
        let header = marks.header();
        self.queued.push((Record { topic, key, value, timestamp_ms: timestamp.0, header }, number, made));
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

    /// Events made and not yet handed out.
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Hands out the queued records with their numbers and when they were made.
    pub fn take(&mut self) -> std::vec::Drain<'_, (Record, u64, Instant)> {
        self.queued.drain(..)
    }

    /// Where the producer reports the numbers of acknowledged events.
    pub fn acked_mut(&mut self) -> &mut Vec<u64> {
        &mut self.acked
    }

    /// Every event made counts as acknowledged (a dry run: nothing is sent).
    pub fn ack_all(&mut self) {
        self.queued.clear();
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
        if ending {
            self.queued.clear();
        }
        (dropped, output)
    }

    /// Rewrites the truth file, if one is kept, when its period is over, or with `last` at
    /// the end of the run.
    pub fn keep_truth(&mut self, last: bool) -> Result<(), String> {
        self.truth.as_mut().map_or(Ok(()), |truth| truth.keep(last))
    }
}
