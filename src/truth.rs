//! The ground truth of a run (`PRODUCER_TRUTH_FILE`): what the broker acknowledged — never what
//! was merely made — summed the way a correct sink sums it: totals, per product, per store,
//! per refund reason and per event-time window, with the id ranges, the seed and the start.
//! Money is in exact cents (integers) and as decimal strings. The document is rewritten
//! atomically (a temporary file, then a rename) at every stats period and at the end, so a
//! reader never sees half of one.
//!
//! Schema (`"schema": "pos-producer/truth"`, `"version": 1`), documented in docs/testing-a-streaming-job.md:
//! `final`, `seed`, `start_time`, `instance`, `window_seconds`, `ids`, `totals`, `products`,
//! `stores`, `refund_reasons`, `windows` (start, end, and per product the sales, revenue,
//! refunds and refund amount whose event time falls in `[start, end)`, every record in the
//! topics counted: a duplicate twice), `watermark_seconds`, `windows_kept` (the same as a
//! correct sink keeps them: each event once, none the watermark drops), `dropped_by_watermark`,
//! `faults` (each fault's count and the ids it hit).
//!
//! The watermark, per topic, as a stream processor applies it: in the order sent, an event
//! whose timestamp is at or before the newest timestamp sent before it minus the watermark
//! is dropped. Malformed records are no events: they are counted under `faults` only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::sim::event::{EventTime, Refund, Transaction};
use crate::sim::faults::{Copy, Marks};

pub const VERSION: u32 = 1;

/// What the truth needs of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    Sale { id: u64, product: &'static str, store: &'static str, cents: u64, at_ms: i64 },
    Refund { id: u64, product: &'static str, store: &'static str, cents: u64, reason: &'static str, at_ms: i64 },
}

impl Fact {
    fn at_ms(&self) -> i64 {
        match *self {
            Fact::Sale { at_ms, .. } | Fact::Refund { at_ms, .. } => at_ms,
        }
    }

    /// 0 for a sale, 1 for a refund (their topics).
    fn topic(&self) -> usize {
        usize::from(matches!(self, Fact::Refund { .. }))
    }

    pub fn sale(t: &Transaction) -> Fact {
        Fact::Sale {
            id: t.transaction_id,
            product: t.product_id,
            store: t.store_id,
            cents: t.amount.0,
            at_ms: t.timestamp.0,
        }
    }

    pub fn refund(r: &Refund) -> Fact {
        Fact::Refund {
            id: r.refund_id,
            product: r.product_id,
            store: r.store_id,
            cents: r.refund_amount.0,
            reason: r.reason,
            at_ms: r.timestamp.0,
        }
    }
}

/// Counts and sums of sales and refunds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Sums {
    sales: u64,
    revenue: u64,
    refunds: u64,
    refunded: u64,
}

impl Sums {
    fn add(&mut self, fact: &Fact) {
        match *fact {
            Fact::Sale { cents, .. } => {
                self.sales += 1;
                self.revenue += cents;
            }
            Fact::Refund { cents, .. } => {
                self.refunds += 1;
                self.refunded += cents;
            }
        }
    }

    fn json(&self, out: &mut String) {
        let _ = write!(
            out,
            "{{\"transactions\":{},\"amount_cents\":{},\"amount\":\"{}\",\"refunds\":{},\"refund_amount_cents\":{},\
             \"refund_amount\":\"{}\"}}",
            self.sales,
            self.revenue,
            decimal(self.revenue),
            self.refunds,
            self.refunded,
            decimal(self.refunded)
        );
    }
}

/// The run's facts that do not change.
#[derive(Debug, Clone)]
pub struct Run {
    pub seed: u64,
    /// RFC 3339 time of transaction 1 under simulated time; `None`: the wall clock.
    pub start_time: Option<String>,
    pub instance: String,
    pub window_seconds: u64,
    pub watermark_seconds: u64,
}

/// The ids of the events a fault (or the watermark) hit.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Hits {
    transactions: Vec<u64>,
    refunds: Vec<u64>,
}

impl Hits {
    fn add(&mut self, fact: &Fact) {
        match *fact {
            Fact::Sale { id, .. } => self.transactions.push(id),
            Fact::Refund { id, .. } => self.refunds.push(id),
        }
    }

    fn json(&self, out: &mut String) {
        let list = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let _ = write!(
            out,
            "{{\"count\":{},\"transactions\":[{}],\"refunds\":[{}]}}",
            self.transactions.len() + self.refunds.len(),
            list(&self.transactions),
            list(&self.refunds)
        );
    }
}

/// Window start (Unix ms) → product → sums.
type Windows = BTreeMap<i64, BTreeMap<&'static str, Sums>>;

pub struct Truth {
    path: PathBuf,
    run: Run,
    /// How often the file is rewritten, and when next.
    every: Duration,
    due: Instant,
    totals: Sums,
    products: BTreeMap<&'static str, Sums>,
    stores: BTreeMap<&'static str, Sums>,
    reasons: BTreeMap<&'static str, Sums>,
    /// Every record in the topics, and what a correct sink keeps.
    windows: Windows,
    kept: Windows,
    /// Per topic, the newest event time sent (the watermark's base).
    newest: [Option<i64>; 2],
    dropped: Hits,
    late: Hits,
    duplicate: Hits,
    reordered: Hits,
    /// Records of transactions aborted on purpose (each event is sent again).
    aborted: Hits,
    /// Malformed copies by kind.
    malformed: BTreeMap<&'static str, Hits>,
    /// Lowest and highest acknowledged transaction and refund ids.
    sale_ids: Option<(u64, u64)>,
    refund_ids: Option<(u64, u64)>,
    /// When the file was last written.
    written: std::cell::Cell<Option<std::time::SystemTime>>,
}

impl Truth {
    /// A truth kept in `path`, rewritten every `every`; nothing is written yet.
    pub fn new(path: PathBuf, run: Run, every: Duration) -> Truth {
        Truth {
            path,
            run,
            every,
            due: Instant::now() + every,
            totals: Sums::default(),
            products: BTreeMap::new(),
            stores: BTreeMap::new(),
            reasons: BTreeMap::new(),
            windows: BTreeMap::new(),
            kept: BTreeMap::new(),
            newest: [None; 2],
            dropped: Hits::default(),
            late: Hits::default(),
            duplicate: Hits::default(),
            reordered: Hits::default(),
            aborted: Hits::default(),
            malformed: ["missing-field", "not-json", "wrong-type"].into_iter().map(|k| (k, Hits::default())).collect(),
            sale_ids: None,
            written: std::cell::Cell::new(None),
            refund_ids: None,
        }
    }

    /// Counts an acknowledged record, in the order sent: an event (`marks` says with which
    /// faults), a duplicate or a malformed copy of one.
    pub fn acked(&mut self, fact: &Fact, marks: Marks) {
        match marks.copy {
            Copy::Malformed(how) => {
                self.malformed.entry(how.name()).or_default().add(fact);
                return;
            }
            Copy::Duplicate => {
                self.duplicate.add(fact);
                self.add_to_window(fact, false);
                return;
            }
            Copy::Original => {}
        }
        if marks.late {
            self.late.add(fact);
        }
        if marks.reordered {
            self.reordered.add(fact);
        }
        let (product, store) = match *fact {
            Fact::Sale { id, product, store, .. } => {
                widen(&mut self.sale_ids, id);
                (product, store)
            }
            Fact::Refund { id, product, store, reason, .. } => {
                widen(&mut self.refund_ids, id);
                self.reasons.entry(reason).or_default().add(fact);
                (product, store)
            }
        };
        self.totals.add(fact);
        self.products.entry(product).or_default().add(fact);
        self.stores.entry(store).or_default().add(fact);
        let newest = &mut self.newest[fact.topic()];
        let watermark = newest.map(|n| n.saturating_sub(self.run.watermark_seconds as i64 * 1000));
        *newest = Some(newest.map_or(fact.at_ms(), |n| n.max(fact.at_ms())));
        let keep = watermark.is_none_or(|w| fact.at_ms() > w);
        if !keep {
            self.dropped.add(fact);
        }
        self.add_to_window(fact, keep);
    }

    /// Counts a record of a transaction aborted on purpose: in `faults.aborted`, and, as every
    /// record in the topics, in `windows` (a read-uncommitted consumer counts it), never in
    /// `windows_kept` (its event is sent again and counted then).
    pub fn aborted(&mut self, fact: &Fact, marks: Marks) {
        self.aborted.add(fact);
        if !matches!(marks.copy, Copy::Malformed(_)) {
            self.add_to_window(fact, false);
        }
    }

    /// Counts a record in its event-time window; with `kept`, in the kept windows too.
    fn add_to_window(&mut self, fact: &Fact, kept: bool) {
        let product = match *fact {
            Fact::Sale { product, .. } | Fact::Refund { product, .. } => product,
        };
        let width = self.run.window_seconds as i64 * 1000;
        let start = fact.at_ms().div_euclid(width) * width;
        self.windows.entry(start).or_default().entry(product).or_default().add(fact);
        if kept {
            self.kept.entry(start).or_default().entry(product).or_default().add(fact);
        }
    }

    /// The document (`last`: the run ended; nothing will be added).
    pub fn document(&self, last: bool) -> String {
        let mut out = String::with_capacity(4096);
        let run = &self.run;
        let _ = write!(out, "{{\"schema\":\"pos-producer/truth\",\"version\":{VERSION},\"final\":{last},");
        let _ = write!(out, "\"seed\":{},\"start_time\":", run.seed);
        match &run.start_time {
            Some(t) => {
                let _ = write!(out, "\"{t}\",");
            }
            None => out.push_str("null,"),
        }
        let _ = write!(out, "\"instance\":\"{}\",\"window_seconds\":{},", run.instance, run.window_seconds);
        out.push_str("\"ids\":{\"transactions\":");
        range(&mut out, self.sale_ids);
        out.push_str(",\"refunds\":");
        range(&mut out, self.refund_ids);
        out.push_str("},\"totals\":");
        self.totals.json(&mut out);
        for (name, map) in [("products", &self.products), ("stores", &self.stores), ("refund_reasons", &self.reasons)] {
            let _ = write!(out, ",\"{name}\":{{");
            for (i, (key, sums)) in map.iter().enumerate() {
                let _ = write!(out, "{}\"{key}\":", if i > 0 { "," } else { "" });
                sums.json(&mut out);
            }
            out.push('}');
        }
        let width = run.window_seconds as i64 * 1000;
        out.push_str(",\"windows\":");
        windows(&mut out, &self.windows, width);
        let _ = write!(out, ",\"watermark_seconds\":{},\"windows_kept\":", run.watermark_seconds);
        windows(&mut out, &self.kept, width);
        out.push_str(",\"dropped_by_watermark\":");
        self.dropped.json(&mut out);
        out.push_str(",\"faults\":{");
        let faults = [
            ("late", &self.late),
            ("duplicate", &self.duplicate),
            ("reordered", &self.reordered),
            ("aborted", &self.aborted),
        ];
        for (name, hits) in faults {
            let _ = write!(out, "\"{name}\":");
            hits.json(&mut out);
            out.push(',');
        }
        let broken: usize = self.malformed.values().map(|h| h.transactions.len() + h.refunds.len()).sum();
        let _ = write!(out, "\"malformed\":{{\"count\":{broken}");
        for (kind, hits) in &self.malformed {
            let _ = write!(out, ",\"{kind}\":");
            hits.json(&mut out);
        }
        out.push_str("}}}\n");
        out
    }

    /// Writes the document: to a temporary file beside the target, then renamed over it. The
    /// error names the file.
    pub fn write(&self, last: bool) -> Result<(), String> {
        write_atomically(&self.path, self.document(last).as_bytes())
            .map_err(|e| format!("cannot write PRODUCER_TRUTH_FILE {}: {e}", self.path.display()))?;
        self.written.set(Some(std::time::SystemTime::now()));
        Ok(())
    }

    /// When the file was last written.
    pub fn written(&self) -> Option<std::time::SystemTime> {
        self.written.get()
    }

    /// Rewrites the file when its period is over, or with `last` at the end of the run.
    pub fn keep(&mut self, last: bool) -> Result<(), String> {
        let now = Instant::now();
        if !last && now < self.due {
            return Ok(());
        }
        self.due = now + self.every;
        self.write(last)
    }
}

/// Windows as a JSON array: start, end, and the sums per product.
fn windows(out: &mut String, windows: &Windows, width: i64) {
    out.push('[');
    for (i, (start, products)) in windows.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"start\":\"{}\",\"end\":\"{}\",\"products\":{{",
            if i > 0 { "," } else { "" },
            EventTime(*start).to_text(),
            EventTime(start + width).to_text()
        );
        for (j, (product, sums)) in products.iter().enumerate() {
            let _ = write!(out, "{}\"{product}\":", if j > 0 { "," } else { "" });
            sums.json(out);
        }
        out.push_str("}}");
    }
    out.push(']');
}

fn widen(range: &mut Option<(u64, u64)>, id: u64) {
    *range = Some(match *range {
        None => (id, id),
        Some((low, high)) => (low.min(id), high.max(id)),
    });
}

fn range(out: &mut String, range: Option<(u64, u64)>) {
    match range {
        None => out.push_str("null"),
        Some((first, last)) => {
            let _ = write!(out, "{{\"first\":{first},\"last\":{last}}}");
        }
    }
}

/// Cents as a decimal string with two decimals: 123456 → "1234.56".
pub fn decimal(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().map_or_else(|| "truth".into(), |n| n.to_string_lossy().into_owned());
    let temp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::File::create(&temp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_data()
    });
    match result.and_then(|()| std::fs::rename(&temp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;
