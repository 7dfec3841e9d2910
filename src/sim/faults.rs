//! Faults on purpose, for testing the consumers of the stream (each a probability per event,
//! all off by default): an event stamped late, the same record sent again a little later, a
//! broken copy that follows an event, an event held back behind the next few. Which faults a
//! record carries goes in its `pos-fault` header (`late`, `duplicate`, `malformed`,
//! `reordered`, comma-separated when several), never in its JSON.
//!
//! The faults draw from their own random stream: with the same seed the events' contents are
//! the same with or without faults.

use std::collections::VecDeque;

use super::event::{EventTime, Refund, Transaction};

/// Faults injected on purpose: each a probability per event (all 0 by default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    pub late: f64,
    /// How far in the past a late event is stamped.
    pub late_seconds: f64,
    pub duplicate: f64,
    pub malformed: f64,
    pub out_of_order: f64,
}

/// How many of the following events a held-back event or a duplicate waits for, at most; and
/// how many events are held back at once, at most.
pub const FEW: u32 = 3;
/// Stamped times of the most recent sales kept, so that a late refund never goes before its
/// sale (a refund only names one of the last few hundred sales).
const RECENT_SALES: usize = 512;

/// An event as made, to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    Sale(Transaction),
    Refund(Refund),
}

impl Made {
    fn timestamp_mut(&mut self) -> &mut EventTime {
        match self {
            Made::Sale(t) => &mut t.timestamp,
            Made::Refund(r) => &mut r.timestamp,
        }
    }
}

/// How a malformed copy is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Malformation {
    /// Cut in the middle: not JSON at all.
    NotJson,
    /// Valid JSON with one field left out (the `pick`-th, modulo the field count).
    MissingField { pick: u8 },
    /// Valid JSON with one numeric field given as the string `"n/a"` (the `pick`-th numeric).
    WrongType { pick: u8 },
}

impl Malformation {
    /// The kind's name, as the truth file counts it.
    pub fn name(self) -> &'static str {
        match self {
            Malformation::NotJson => "not-json",
            Malformation::MissingField { .. } => "missing-field",
            Malformation::WrongType { .. } => "wrong-type",
        }
    }
}

/// What a record is: the event itself, its second copy, or a broken copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Copy {
    #[default]
    Original,
    Duplicate,
    Malformed(Malformation),
}

/// The faults a record carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// Stamped in the past.
    pub late: bool,
    /// Sent after events made after it.
    pub reordered: bool,
    pub copy: Copy,
}

/// The `pos-fault` header of each combination of faults a record can carry.
static HEADERS: [(&str, &str); 6] = [
    ("pos-fault", "malformed"),
    ("pos-fault", "late,duplicate"),
    ("pos-fault", "duplicate"),
    ("pos-fault", "late,reordered"),
    ("pos-fault", "late"),
    ("pos-fault", "reordered"),
];

impl Marks {
    /// The `pos-fault` header (key and value); `None` for a record without faults. A static
    /// pair, so that a record carries it in one pointer.
    pub fn header(&self) -> Option<&'static (&'static str, &'static str)> {
        let i = match (self.copy, self.late, self.reordered) {
            (Copy::Original, false, false) => return None,
            (Copy::Malformed(_), ..) => 0,
            (Copy::Duplicate, true, _) => 1,
            (Copy::Duplicate, false, _) => 2,
            (Copy::Original, true, true) => 3,
            (Copy::Original, true, false) => 4,
            (Copy::Original, false, true) => 5,
        };
        Some(&HEADERS[i])
    }

    /// The faults, as the header names them.
    pub fn names(&self) -> Option<&'static str> {
        self.header().map(|(_, faults)| *faults)
    }
}

/// A record waiting its turn: a held-back event (with its duplicate and broken copy still to
/// come) or a duplicate.
#[derive(Debug)]
struct Held {
    made: Made,
    marks: Marks,
    /// Goes once this many events were sent (`Injector::sent`).
    due: u64,
    /// For a held-back event: the wait of its duplicate, once it is sent; its broken copy.
    duplicate: Option<u32>,
    malformed: Option<Malformation>,
}

/// Injects the faults into the stream of events.
pub struct Injector {
    faults: Faults,
    late_ms: i64,
    rng: fastrand::Rng,
    sales: VecDeque<(u64, EventTime)>,
    held: VecDeque<Held>,
    /// Events sent so far (each once, duplicates and broken copies not counted).
    sent: u64,
}

impl Injector {
    /// `None` when no fault is asked for.
    pub fn new(faults: Faults, seed: u64) -> Option<Injector> {
        let any = [faults.late, faults.duplicate, faults.malformed, faults.out_of_order].iter().any(|p| *p > 0.0);
        any.then(|| Injector {
            faults,
            late_ms: (faults.late_seconds * 1000.0).round() as i64,
            rng: fastrand::Rng::with_seed(seed ^ 0xFA17_5EED_0000_0002),
            sales: VecDeque::with_capacity(RECENT_SALES),
            held: VecDeque::new(),
            sent: 0,
        })
    }

    /// Takes the next event made; appends to `out`, in order, the records to send now.
    pub fn pass(&mut self, mut made: Made, out: &mut Vec<(Made, Marks)>) {
        let mut marks = Marks::default();
        if self.draw(self.faults.late) {
            marks.late = self.stamp_late(&mut made);
        }
        if let Made::Sale(t) = &made {
            if self.sales.len() == RECENT_SALES {
                self.sales.pop_front();
            }
            self.sales.push_back((t.transaction_id, t.timestamp));
        }
        let duplicate = self.draw(self.faults.duplicate).then(|| self.rng.u32(1..=FEW));
        let malformed = self.draw(self.faults.malformed).then(|| self.malformation());
        // At most `FEW` events are held at once, so that some always go and let them go.
        let holding = self.held.iter().filter(|h| h.marks.copy == Copy::Original).count();
        if self.draw(self.faults.out_of_order) && holding < FEW as usize {
            marks.reordered = true;
            let due = self.sent + u64::from(self.rng.u32(1..=FEW));
            self.held.push_back(Held { made, marks, due, duplicate, malformed });
        } else {
            self.send(made, marks, duplicate, malformed, out);
        }
        // What waited for this event (and for those it lets go) goes now, in order.
        while let Some(i) = self.held.iter().position(|h| h.due <= self.sent) {
            let h = self.held.remove(i).expect("index below len");
            self.send(h.made, h.marks, h.duplicate, h.malformed, out);
        }
    }

    /// Everything still held, in order (the run ends).
    pub fn flush(&mut self, out: &mut Vec<(Made, Marks)>) {
        while let Some(h) = self.held.pop_front() {
            self.send(h.made, h.marks, h.duplicate, h.malformed, out);
        }
    }

    /// Sends a record now; for an event, its broken copy right after it, and its duplicate
    /// once `duplicate` more events were sent.
    fn send(
        &mut self,
        made: Made,
        marks: Marks,
        duplicate: Option<u32>,
        malformed: Option<Malformation>,
        out: &mut Vec<(Made, Marks)>,
    ) {
        let broken =
            malformed.map(|m| (made.clone(), Marks { copy: Copy::Malformed(m), late: false, reordered: false }));
        let again = duplicate.map(|after| (made.clone(), after));
        out.push((made, marks));
        if marks.copy == Copy::Original {
            self.sent += 1;
        }
        out.extend(broken);
        if let Some((made, after)) = again {
            let copy = Marks { copy: Copy::Duplicate, reordered: false, ..marks };
            let due = self.sent + u64::from(after);
            self.held.push_back(Held { made, marks: copy, due, duplicate: None, malformed: None });
        }
    }

    fn draw(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.f64() < p
    }

    fn malformation(&mut self) -> Malformation {
        let pick = self.rng.u8(..);
        match self.rng.u8(..3) {
            0 => Malformation::NotJson,
            1 => Malformation::MissingField { pick },
            _ => Malformation::WrongType { pick },
        }
    }

    /// Stamps an event `late_ms` earlier; a refund never before its sale (nor at all when its
    /// sale is not among the recent ones). Whether the stamp moved.
    fn stamp_late(&mut self, made: &mut Made) -> bool {
        let floor = match made {
            Made::Sale(_) => EventTime(i64::MIN),
            Made::Refund(r) => match self.sales.iter().rev().find(|(id, _)| *id == r.original_transaction_id) {
                Some((_, at)) => *at,
                None => return false,
            },
        };
        let at = made.timestamp_mut();
        let stamped = EventTime(at.0.saturating_sub(self.late_ms)).max(floor);
        let moved = stamped < *at;
        *at = stamped;
        moved
    }
}

/// A broken copy of an event's JSON (`{"k":v,…}`, flat, no `,"` inside a value).
pub fn malform(json: &[u8], how: Malformation) -> Vec<u8> {
    let inner = &json[1..json.len() - 1];
    let mut fields: Vec<&[u8]> = Vec::with_capacity(8);
    let mut from = 0;
    for i in 0..inner.len().saturating_sub(1) {
        if inner[i] == b',' && inner[i + 1] == b'"' {
            fields.push(&inner[from..i]);
            from = i + 1;
        }
    }
    fields.push(&inner[from..]);
    let join = |fields: &[Vec<u8>]| {
        let mut out = vec![b'{'];
        out.extend_from_slice(&fields.join(&b","[..]));
        out.push(b'}');
        out
    };
    let mut owned: Vec<Vec<u8>> = fields.iter().map(|f| f.to_vec()).collect();
    match how {
        Malformation::NotJson => json[..json.len() / 2].to_vec(),
        Malformation::MissingField { pick } => {
            owned.remove(usize::from(pick) % owned.len());
            join(&owned)
        }
        Malformation::WrongType { pick } => {
            let numeric: Vec<usize> = (0..owned.len()).filter(|i| !owned[*i].ends_with(b"\"")).collect();
            let i = numeric[usize::from(pick) % numeric.len()];
            let colon = owned[i].iter().position(|b| *b == b':').expect("a field has a colon");
            owned[i].truncate(colon + 1);
            owned[i].extend_from_slice(b"\"n/a\"");
            join(&owned)
        }
    }
}

#[cfg(test)]
mod tests;
