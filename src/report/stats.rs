//! Counts of acknowledged events, the periodic stats line and the closing summary.
//!
//! The stats line comes from a thread of its own, so that it keeps coming while the main loop
//! waits on a silent broker or a blocked stdout: a monitor sees "0 transactions/s", not silence.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Kind;
use super::latency::{Buckets, Histogram, Summary};
use crate::diag::diag;

/// Events the broker acknowledged and their latencies, shared with the stats thread.
#[derive(Default)]
struct Counts {
    transactions: AtomicU64,
    refunds: AtomicU64,
    /// Since the last stats line.
    period: Histogram,
    /// Since the start.
    total: Histogram,
    /// Since the start, in the buckets `/metrics` shows.
    buckets: Buckets,
}

/// A handle: clones count into the same numbers (the metrics endpoint reads them).
#[derive(Clone)]
pub struct Stats {
    started: Instant,
    counts: Arc<Counts>,
}

impl Stats {
    pub fn new(started: Instant) -> Stats {
        Stats { started, counts: Arc::default() }
    }

    /// One event acknowledged, `latency` after it was made.
    pub fn acked(&self, kind: Kind, latency: Duration) {
        let counter = match kind {
            Kind::Transaction => &self.counts.transactions,
            Kind::Refund => &self.counts.refunds,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.counts.period.record(latency);
        self.counts.total.record(latency);
        self.counts.buckets.record(latency);
    }

    /// The create→acknowledge latencies since the start: cumulative bucket counts and their
    /// sum (see `Buckets::cumulative`).
    pub fn latency_buckets(&self) -> (Vec<u64>, f64) {
        self.counts.buckets.cumulative()
    }

    /// When the counting started.
    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn transactions(&self) -> u64 {
        self.counts.transactions.load(Ordering::Relaxed)
    }

    pub fn refunds(&self) -> u64 {
        self.counts.refunds.load(Ordering::Relaxed)
    }

    /// Starts the thread that prints a stats line every `every`; it ends when the returned
    /// handle is dropped.
    pub fn report_every(&self, every: Duration) -> Reporter {
        let (done, wait) = mpsc::channel::<()>();
        let counts = Arc::clone(&self.counts);
        let mut ticker = Ticker::new(self.started, every);
        let thread = std::thread::spawn(move || {
            loop {
                let timeout = ticker.due.saturating_duration_since(Instant::now());
                match wait.recv_timeout(timeout) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let (t, r) = (counts.transactions.load(Ordering::Relaxed), counts.refunds.load(Ordering::Relaxed));
                if let Some(line) = ticker.line(Instant::now(), t, r, || counts.period.take()) {
                    diag!("{line}");
                }
            }
        });
        Reporter { done: Some(done), thread: Some(thread) }
    }

    /// The closing line. `unacknowledged`: events handed to Kafka without an acknowledgement
    /// (they may or may not have been written).
    pub fn summary(&self, unacknowledged: usize, ending: &str) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let (transactions, refunds) = (self.transactions(), self.refunds());
        let mut line = format!(
            "done ({ending}): {transactions} transactions and {refunds} refunds sent (acknowledged) in {secs:.1} s \
             ({:.1} transactions/s)",
            transactions as f64 / secs.max(1e-9)
        );
        let latency = self.counts.total.summary();
        if latency.count > 0 {
            line.push_str(&format!("; {latency}"));
        }
        if unacknowledged > 0 {
            line.push_str(&format!("; {unacknowledged} not acknowledged (they may have been written)"));
        }
        line
    }
}

/// The stats thread; dropping this ends it.
pub struct Reporter {
    done: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// When the next stats line is due, and the rate since the last one.
#[derive(Debug)]
struct Ticker {
    every: Duration,
    due: Instant,
    last: (Instant, u64),
}

impl Ticker {
    fn new(started: Instant, every: Duration) -> Ticker {
        Ticker { every, due: started + every, last: (started, 0) }
    }

    /// The stats line, if one is due at `now`, given the counts then and the latencies of the
    /// period (taken only when the line is due).
    fn line(
        &mut self,
        now: Instant,
        transactions: u64,
        refunds: u64,
        latency: impl FnOnce() -> Summary,
    ) -> Option<String> {
        if now < self.due {
            return None;
        }
        let (since, before) = self.last;
        let period = now.duration_since(since).as_secs_f64().max(1e-9);
        let rate = transactions.saturating_sub(before) as f64 / period;
        self.last = (now, transactions);
        self.due = now + self.every;
        Some(format!(
            "stats: {transactions} transactions, {refunds} refunds sent; {rate:.1} transactions/s over the last \
             {period:.1} s; {}",
            latency()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_due_every_period_with_the_rate_over_it() {
        let t0 = Instant::now();
        let mut t = Ticker::new(t0, Duration::from_secs(10));
        let h = Histogram::default();
        assert_eq!(t.line(t0 + Duration::from_secs(5), 0, 0, || h.take()), None);
        h.record(Duration::from_micros(2500));
        let line = t.line(t0 + Duration::from_secs(10), 100, 1, || h.take()).unwrap();
        assert_eq!(
            line,
            "stats: 100 transactions, 1 refunds sent; 10.0 transactions/s over the last 10.0 s; \
             latency p50 2.50 ms, p99 2.50 ms, max 2.50 ms"
        );
        assert_eq!(t.due, t0 + Duration::from_secs(20));
        let quiet = t.line(t0 + Duration::from_secs(20), 100, 1, || h.take()).unwrap();
        assert!(quiet.ends_with("; 0.0 transactions/s over the last 10.0 s; latency -"), "{quiet}");
    }

    #[test]
    fn the_summary_says_acknowledged_and_names_what_was_not() {
        let s = Stats::new(Instant::now());
        assert!(!s.summary(0, "stopped by signal").contains("latency"), "no latency without an event");
        s.acked(Kind::Transaction, Duration::from_millis(3));
        s.acked(Kind::Refund, Duration::from_millis(3));
        let line = s.summary(0, "event limit reached");
        assert!(
            line.starts_with("done (event limit reached): 1 transactions and 1 refunds sent (acknowledged) in "),
            "{line}"
        );
        assert!(line.ends_with("; latency p50 3.00 ms, p99 3.00 ms, max 3.00 ms"), "{line}");
        assert!(!line.contains("not acknowledged"), "{line}");
        let line = s.summary(7, "stopped by signal");
        assert!(line.ends_with("; 7 not acknowledged (they may have been written)"), "{line}");
    }

    #[test]
    fn the_reporter_thread_prints_and_ends_when_dropped() {
        let s = Stats::new(Instant::now());
        let reporter = s.report_every(Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(30));
        let t0 = Instant::now();
        drop(reporter);
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
}
