//! What `PRODUCER_METRICS_ADDR` serves: the run's numbers for Prometheus (`/metrics`), and
//! whether the process is alive (`/healthz`) and ready (`/readyz`).
//!
//! The main loop writes into a [`Metrics`] board (atomics, no lock on the hot path); the
//! endpoint's thread reads the board, the stats' counts and latencies, the Kafka client's
//! telemetry and the process' CPU and memory when it is asked. `exposition` writes the text
//! formats, `server` is the HTTP side, `process` the process' numbers.

pub mod exposition;
pub mod process;
pub mod server;

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::kafka;
use crate::report::{Kind as EventKind, Stats, latency::LE_SECONDS};
use exposition::{Family, Format, Kind};

/// How long past its promise the main loop may be late before `/healthz` says it is stuck.
const LIVENESS_GRACE: Duration = Duration::from_secs(10);

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// Connecting to the brokers, getting a producer id.
    Connecting = 0,
    /// Reading the topics back for where ids start.
    Resuming = 1,
    Producing = 2,
    /// Delivering what is left, then exiting.
    Ending = 3,
}

/// The fault kinds, as the `pos-fault` header names them.
const FAULTS: [&str; 4] = ["late", "duplicate", "malformed", "reordered"];

/// What the run says about itself once ids are known (the labels of `pos_producer_run_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub instance: u64,
    pub instances: u64,
    pub first_id: u64,
    /// Why ids start there, in the banner's words.
    pub ids: String,
}

/// The board the main loop writes and the endpoint reads. Cloning shares it.
#[derive(Clone)]
pub struct Metrics(Arc<Board>);

struct Board {
    stats: Stats,
    started: Instant,
    started_unix: f64,
    delivery_timeout: Duration,
    features: &'static str,
    phase: AtomicU8,
    made: [AtomicU64; 2],
    faults: [AtomicU64; 4],
    lag_ns: AtomicU64,
    /// Milliseconds since `started` (+1, 0: never): by when the main loop promised to be back;
    /// the last acknowledgement; when events started waiting for one.
    back_by_ms: AtomicU64,
    last_ack_ms: AtomicU64,
    waiting_since_ms: AtomicU64,
    /// Unix milliseconds of the truth file's last write (0: none yet).
    truth_written_ms: AtomicU64,
    run: OnceLock<RunInfo>,
}

impl Metrics {
    /// A board for a run counted by `stats`, whose records may wait `delivery_timeout`.
    pub fn new(stats: Stats, delivery_timeout: Duration) -> Metrics {
        let started = stats.started();
        let started_unix = SystemTime::now()
            .checked_sub(started.elapsed())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        Metrics(Arc::new(Board {
            stats,
            started,
            started_unix,
            delivery_timeout,
            features: if cfg!(feature = "tls") { "tls" } else { "plaintext" },
            phase: AtomicU8::new(Phase::Connecting as u8),
            made: Default::default(),
            faults: Default::default(),
            lag_ns: AtomicU64::new(0),
            back_by_ms: AtomicU64::new(0),
            last_ack_ms: AtomicU64::new(0),
            waiting_since_ms: AtomicU64::new(0),
            truth_written_ms: AtomicU64::new(0),
            run: OnceLock::new(),
        }))
    }

    pub fn phase(&self, phase: Phase) {
        self.0.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub fn run_info(&self, info: RunInfo) {
        let _ = self.0.run.set(info);
    }

    /// An event made (not its copies), `lag` after its sale was due.
    pub fn made(&self, kind: EventKind, lag: Duration) {
        if self.unacknowledged() == 0 {
            self.0.waiting_since_ms.store(self.ms(Instant::now()), Ordering::Relaxed);
        }
        self.0.made[kind as usize].fetch_add(1, Ordering::Relaxed);
        if kind == EventKind::Transaction {
            self.0.lag_ns.store(u64::try_from(lag.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    /// A record with faults injected, as its `pos-fault` header names them
    /// (`late,duplicate`): one more of each.
    pub fn faults(&self, names: &str) {
        for name in names.split(',') {
            if let Some(i) = FAULTS.iter().position(|f| *f == name) {
                self.0.faults[i].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Acknowledgements arrived (the stats counted them).
    pub fn acked(&self, now: Instant) {
        self.0.last_ack_ms.store(self.ms(now), Ordering::Relaxed);
    }

    /// The main loop promises to be back by `at` (it is alive until then, and a grace after).
    pub fn back_by(&self, at: Instant) {
        self.0.back_by_ms.store(self.ms(at), Ordering::Relaxed);
    }

    pub fn truth_written(&self, at: SystemTime) {
        let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        self.0.truth_written_ms.store(ms, Ordering::Relaxed);
    }

    /// Events made and not acknowledged yet.
    fn unacknowledged(&self) -> u64 {
        let made: u64 = self.0.made.iter().map(|m| m.load(Ordering::Relaxed)).sum();
        made.saturating_sub(self.0.stats.transactions() + self.0.stats.refunds())
    }

    fn ms(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.0.started).as_millis() as u64 + 1
    }

    fn since(&self, ms: u64, now: Instant) -> Option<Duration> {
        (ms > 0).then(|| now.saturating_duration_since(self.0.started + Duration::from_millis(ms - 1)))
    }

    fn current_phase(&self) -> Phase {
        match self.0.phase.load(Ordering::Relaxed) {
            0 => Phase::Connecting,
            1 => Phase::Resuming,
            2 => Phase::Producing,
            _ => Phase::Ending,
        }
    }

    /// `/healthz`: whether the process loop is alive, and one line of why.
    pub fn liveness(&self, now: Instant) -> (bool, String) {
        match self.current_phase() {
            Phase::Connecting => (true, "alive: connecting to the brokers".into()),
            Phase::Resuming => (true, "alive: reading the topics back for where ids start".into()),
            phase => {
                let back_by = self.0.back_by_ms.load(Ordering::Relaxed);
                let late = self.since(back_by, now).unwrap_or_default();
                if back_by > 0 && late > LIVENESS_GRACE {
                    (false, format!("the main loop is {} s overdue: it is stuck", late.as_secs()))
                } else if phase == Phase::Ending {
                    (true, "alive: ending".into())
                } else {
                    (true, "alive: producing".into())
                }
            }
        }
    }

    /// `/readyz`: whether the run is connected and producing with acknowledgements coming,
    /// and one line of why.
    pub fn readiness(&self, now: Instant) -> (bool, String) {
        match self.current_phase() {
            Phase::Connecting => return (false, "not ready: connecting to the brokers".into()),
            Phase::Resuming => return (false, "not ready: reading the topics back for where ids start".into()),
            Phase::Ending => return (false, "not ready: the run is ending".into()),
            Phase::Producing => {}
        }
        let waiting = self.unacknowledged();
        if waiting == 0 {
            return (true, "ready: producing, every event acknowledged".into());
        }
        let since_ack = self.since(self.0.last_ack_ms.load(Ordering::Relaxed), now);
        let since_wait = self.since(self.0.waiting_since_ms.load(Ordering::Relaxed), now);
        let stalled = match (since_ack, since_wait) {
            (Some(a), Some(w)) => a.min(w),
            (a, w) => a.or(w).unwrap_or_default(),
        };
        let half = self.0.delivery_timeout / 2;
        if stalled > half {
            (
                false,
                format!(
                    "not ready: no acknowledgement for {} s with {waiting} events waiting (half the delivery timeout is {} s)",
                    stalled.as_secs(),
                    half.as_secs()
                ),
            )
        } else {
            (true, format!("ready: producing, {waiting} events waiting for an acknowledgement"))
        }
    }

    /// Every metric, in `format`.
    pub fn render(&self, format: Format) -> String {
        exposition::render(&self.families(Instant::now()), format)
    }

    fn families(&self, now: Instant) -> Vec<Family> {
        let b = &self.0;
        let kinds = [(EventKind::Transaction, "transaction"), (EventKind::Refund, "refund")];
        let made = |k: EventKind| b.made[k as usize].load(Ordering::Relaxed) as f64;
        let sent = |k: EventKind| match k {
            EventKind::Transaction => b.stats.transactions(),
            EventKind::Refund => b.stats.refunds(),
        } as f64;
        let by_type = |f: Family, value: &dyn Fn(EventKind) -> f64| {
            kinds.iter().fold(f, |f, (k, name)| f.sample(&[("type", name)], value(*k)))
        };
        let kafka = kafka::telemetry::snapshot();
        let (committed, aborted) = kafka::txn::ended();
        let (cumulative, sum) = b.stats.latency_buckets();
        let mut families = vec![
            by_type(
                Family::new(
                    "pos_producer_events_made",
                    Kind::Counter,
                    "Events made (sales and refunds; not their faulty copies).",
                ),
                &made,
            ),
            by_type(
                Family::new(
                    "pos_producer_events_sent",
                    Kind::Counter,
                    "Events the brokers acknowledged (with transactions: committed).",
                ),
                &sent,
            ),
            by_type(
                Family::new(
                    "pos_producer_events_unacknowledged",
                    Kind::Gauge,
                    "Events made and not acknowledged yet (queued or in flight).",
                ),
                &|k| (made(k) - sent(k)).max(0.0),
            ),
            Family::new(
                "pos_producer_event_latency_seconds",
                Kind::Histogram,
                "Time from an event being made to its acknowledgement.",
            )
            .histogram(&LE_SECONDS, cumulative, sum),
            Family::new(
                "pos_producer_schedule_lag_seconds",
                Kind::Gauge,
                "How late the latest sale was made after it was due.",
            )
            .sample(&[], b.lag_ns.load(Ordering::Relaxed) as f64 / 1e9),
            Family::new(
                "pos_producer_records_written",
                Kind::Counter,
                "Records the brokers acknowledged, copies made by faults included.",
            )
            .sample(&[], kafka.records_acked as f64),
            Family::new(
                "pos_producer_record_batch_bytes",
                Kind::Counter,
                "Bytes of record batches written into Produce requests (again on a retry).",
            )
            .sample(&[], kafka.batch_bytes as f64),
            Family::new("pos_producer_produce_requests", Kind::Counter, "Produce requests sent.")
                .sample(&[], kafka.produce_requests as f64),
            Family::new(
                "pos_producer_produce_requests_in_flight",
                Kind::Gauge,
                "Produce requests sent and not answered yet.",
            )
            .sample(&[], kafka.in_flight as f64),
        ];
        let mut retries = Family::new(
            "pos_producer_produce_retries",
            Kind::Counter,
            "Record batches sent again, by the Kafka error that made them.",
        );
        for (error, n) in &kafka.retries {
            retries = retries.sample(&[("error", error)], *n as f64);
        }
        families.push(retries);
        let mut faults =
            Family::new("pos_producer_faults_injected", Kind::Counter, "Faults injected on purpose, by kind.");
        for (i, name) in FAULTS.iter().enumerate() {
            faults = faults.sample(&[("fault", name)], b.faults[i].load(Ordering::Relaxed) as f64);
        }
        families.push(faults);
        families.push(
            Family::new(
                "pos_producer_kafka_transactions",
                Kind::Counter,
                "Kafka transactions ended, by outcome (0 without transactions).",
            )
            .sample(&[("outcome", "committed")], committed as f64)
            .sample(&[("outcome", "aborted")], aborted as f64),
        );
        let mut brokers = Family::new(
            "pos_producer_broker_connected",
            Kind::Gauge,
            "1 while a connection to the broker is open, 0 when not.",
        );
        for (node, addr, up) in &kafka.brokers {
            brokers = brokers.sample(&[("node", &node.to_string()), ("address", addr)], if *up { 1.0 } else { 0.0 });
        }
        families.push(brokers);
        let truth = b.truth_written_ms.load(Ordering::Relaxed);
        if truth > 0 {
            families.push(
                Family::new(
                    "pos_producer_truth_file_last_write_timestamp_seconds",
                    Kind::Gauge,
                    "When the truth file was last written (Unix time).",
                )
                .sample(&[], truth as f64 / 1000.0),
            );
        }
        families.push(
            Family::new("pos_producer_ready", Kind::Gauge, "1 when /readyz answers 200.")
                .sample(&[], if self.readiness(now).0 { 1.0 } else { 0.0 }),
        );
        families.push(
            Family::new("pos_producer_build", Kind::Info, "The build: version and features.")
                .sample(&[("version", env!("CARGO_PKG_VERSION")), ("features", b.features)], 1.0),
        );
        if let Some(run) = b.run.get() {
            families.push(
                Family::new("pos_producer_run", Kind::Info, "This instance (k of n) and where its ids started.")
                    .sample(
                        &[
                            ("instance", &run.instance.to_string()),
                            ("instances", &run.instances.to_string()),
                            ("first_id", &run.first_id.to_string()),
                            ("ids", &run.ids),
                        ],
                        1.0,
                    ),
            );
        }
        families.push(
            Family::new("process_cpu_seconds", Kind::Counter, "User and system CPU time spent, in seconds.")
                .sample(&[], process::cpu_seconds()),
        );
        if let Some(rss) = process::resident_bytes() {
            families.push(
                Family::new("process_resident_memory_bytes", Kind::Gauge, "Resident memory size in bytes.")
                    .sample(&[], rss),
            );
        }
        families.push(
            Family::new(
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since the Unix epoch, in seconds.",
            )
            .sample(&[], b.started_unix),
        );
        families
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(timeout_s: u64) -> (Metrics, Stats, Instant) {
        let t0 = Instant::now();
        let stats = Stats::new(t0);
        (Metrics::new(stats.clone(), Duration::from_secs(timeout_s)), stats, t0)
    }

    #[test]
    fn ready_only_while_producing_with_acknowledgements_coming() {
        let (m, stats, t0) = board(60);
        assert!(!m.readiness(t0).0, "connecting");
        m.phase(Phase::Resuming);
        assert!(m.readiness(t0).1.contains("reading the topics back"));
        m.phase(Phase::Producing);
        assert_eq!(m.readiness(t0), (true, "ready: producing, every event acknowledged".into()));
        m.made(EventKind::Transaction, Duration::ZERO);
        m.made(EventKind::Refund, Duration::ZERO);
        assert!(m.readiness(Instant::now() + Duration::from_secs(29)).0, "29 s is within half of 60");
        let (ready, why) = m.readiness(Instant::now() + Duration::from_secs(31));
        assert!(!ready);
        assert_eq!(
            why,
            "not ready: no acknowledgement for 31 s with 2 events waiting (half the delivery timeout is 30 s)"
        );
        // One acknowledgement that arrives restarts the clock; all of them make it ready.
        stats.acked(EventKind::Transaction, Duration::from_millis(1));
        m.acked(Instant::now() + Duration::from_secs(31));
        assert!(m.readiness(Instant::now() + Duration::from_secs(32)).0);
        stats.acked(EventKind::Refund, Duration::from_millis(1));
        assert!(m.readiness(Instant::now() + Duration::from_secs(3600)).0, "nothing waits");
        m.phase(Phase::Ending);
        assert!(!m.readiness(Instant::now()).0);
    }

    #[test]
    fn alive_until_the_loop_is_overdue_past_the_grace() {
        let (m, _, t0) = board(60);
        assert!(m.liveness(t0 + Duration::from_secs(3600)).0, "connecting retries for as long as it takes");
        m.phase(Phase::Producing);
        m.back_by(t0 + Duration::from_secs(5));
        assert!(m.liveness(t0 + Duration::from_secs(15)).0);
        let (alive, why) = m.liveness(t0 + Duration::from_secs(16));
        assert!(!alive);
        assert_eq!(why, "the main loop is 11 s overdue: it is stuck");
    }

    #[test]
    fn the_families_carry_the_counts_and_the_run() {
        let (m, stats, _) = board(60);
        m.made(EventKind::Transaction, Duration::from_millis(250));
        m.made(EventKind::Transaction, Duration::from_millis(250));
        m.faults("malformed");
        stats.acked(EventKind::Transaction, Duration::from_millis(2));
        m.run_info(RunInfo { instance: 2, instances: 3, first_id: 5, ids: "topics \"empty\"".into() });
        let text = m.render(Format::Text);
        for line in [
            "pos_producer_events_made_total{type=\"transaction\"} 2",
            "pos_producer_events_sent_total{type=\"transaction\"} 1",
            "pos_producer_events_unacknowledged{type=\"transaction\"} 1",
            "pos_producer_event_latency_seconds_bucket{le=\"0.0025\"} 1",
            "pos_producer_event_latency_seconds_count 1",
            "pos_producer_schedule_lag_seconds 0.25",
            "pos_producer_faults_injected_total{fault=\"malformed\"} 1",
            "pos_producer_run_info{instance=\"2\",instances=\"3\",first_id=\"5\",ids=\"topics \\\"empty\\\"\"} 1",
            "pos_producer_ready 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(text.contains("\nprocess_cpu_seconds_total "));
        assert!(m.render(Format::OpenMetrics).ends_with("# EOF\n"));
    }
}
