//! What the run tells: the banner and event lines on stdout, stats and the summary on stderr.

use std::fmt;
use std::io::{self, BufWriter, Stdout, Write};
use std::time::{Duration, Instant};

use crate::config::{Config, Speedup};

/// The two kinds of event, each with its topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Transaction,
    Refund,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Transaction => "transaction",
            Kind::Refund => "refund",
        }
    }
}

/// Event lines, exactly as the old service printed them: `[producer] Sent transaction: <json>`.
pub struct EventLog<W: Write> {
    out: W,
    enabled: bool,
}

impl EventLog<BufWriter<Stdout>> {
    pub fn stdout(enabled: bool) -> Self {
        EventLog { out: BufWriter::with_capacity(64 * 1024, io::stdout()), enabled }
    }
}

impl<W: Write> EventLog<W> {
    #[cfg(test)]
    pub fn new(out: W, enabled: bool) -> Self {
        EventLog { out, enabled }
    }

    pub fn banner(&mut self, config: &Config, seed: u64) -> io::Result<()> {
        writeln!(self.out, "[producer] {}", Banner { config, seed })?;
        self.out.flush()
    }

    /// One acknowledged event; `json` is the message value, byte for byte.
    pub fn sent(&mut self, kind: Kind, json: &[u8]) -> io::Result<()> {
        if self.enabled {
            write!(self.out, "[producer] Sent {}: ", kind.name())?;
            self.out.write_all(json)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out
    }
}

/// The start banner: the effective configuration and the seed that replays the run.
struct Banner<'a> {
    config: &'a Config,
    seed: u64,
}

impl fmt::Display for Banner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.config;
        let k = &c.kafka;
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "none".into());
        let clock = match c.start_time_ms {
            Some(ms) => format!("simulated from {}", crate::sim::event::EventTime(ms).to_text()),
            None if c.simulated_time() => "simulated from now".into(),
            None => "wall".into(),
        };
        let speedup = match c.speedup {
            Speedup::Max => "max".to_string(),
            Speedup::Factor(x) => x.to_string(),
        };
        write!(
            f,
            "pos-producer {} starting: bootstrap_servers={} topic={} topic_refunds={} sleep_seconds={} \
             refund_probability={} seed={} clock={clock} speedup={speedup} max_events={} max_seconds={} \
             acks={} idempotence={} compression={} client_id={} protocol_cap={} dry_run={}",
            env!("CARGO_PKG_VERSION"),
            k.bootstrap_servers.join(","),
            c.topic,
            c.topic_refunds,
            c.sleep_seconds,
            c.refund_probability,
            self.seed,
            or_none(c.max_events.map(|n| n.to_string())),
            or_none(c.max_duration.map(|d| d.as_secs_f64().to_string())),
            k.acks.name(),
            k.idempotence,
            k.compression.name(),
            k.client_id,
            if k.protocol_cap.is_some() { "2.1" } else { "none" },
            c.dry_run,
        )
    }
}

/// Counts of acknowledged events, and the periodic stats line.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    every: Option<Duration>,
    next_report: Option<Instant>,
    pub transactions: u64,
    pub refunds: u64,
    at_last_report: (Instant, u64),
}

impl Stats {
    pub fn new(started: Instant, every: Option<Duration>) -> Stats {
        Stats {
            started,
            every,
            next_report: every.map(|e| started + e),
            transactions: 0,
            refunds: 0,
            at_last_report: (started, 0),
        }
    }

    pub fn count(&mut self, kind: Kind) {
        match kind {
            Kind::Transaction => self.transactions += 1,
            Kind::Refund => self.refunds += 1,
        }
    }

    /// When the next stats line is due, if stats are on.
    pub fn next_report(&self) -> Option<Instant> {
        self.next_report
    }

    /// The stats line, if one is due at `now`.
    pub fn report(&mut self, now: Instant) -> Option<String> {
        let (due, every) = (self.next_report?, self.every?);
        if now < due {
            return None;
        }
        let (since, before) = self.at_last_report;
        let period = now.duration_since(since).as_secs_f64().max(1e-9);
        let rate = (self.transactions - before) as f64 / period;
        self.at_last_report = (now, self.transactions);
        self.next_report = Some(now + every);
        Some(format!(
            "stats: {} transactions, {} refunds sent; {rate:.1} transactions/s over the last {period:.1} s",
            self.transactions, self.refunds
        ))
    }

    /// The closing line.
    pub fn summary(&self, undelivered: usize, ending: &str) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        format!(
            "done ({ending}): {} transactions and {} refunds sent in {secs:.1} s ({:.1} transactions/s); {undelivered} not delivered",
            self.transactions,
            self.refunds,
            self.transactions as f64 / secs.max(1e-9)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_are_the_old_services() {
        let mut log = EventLog::new(Vec::new(), true);
        log.sent(Kind::Transaction, br#"{"transaction_id":1}"#).unwrap();
        log.sent(Kind::Refund, br#"{"refund_id":1}"#).unwrap();
        let text = String::from_utf8(log.into_inner()).unwrap();
        assert_eq!(
            text,
            "[producer] Sent transaction: {\"transaction_id\":1}\n[producer] Sent refund: {\"refund_id\":1}\n"
        );
    }

    #[test]
    fn event_lines_can_be_turned_off() {
        let mut log = EventLog::new(Vec::new(), false);
        log.sent(Kind::Transaction, b"{}").unwrap();
        assert!(log.into_inner().is_empty());
    }

    #[test]
    fn stats_are_due_every_period_with_the_rate_over_it() {
        let t0 = Instant::now();
        let mut s = Stats::new(t0, Some(Duration::from_secs(10)));
        assert_eq!(s.report(t0 + Duration::from_secs(5)), None);
        for _ in 0..100 {
            s.count(Kind::Transaction);
        }
        s.count(Kind::Refund);
        let line = s.report(t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(line, "stats: 100 transactions, 1 refunds sent; 10.0 transactions/s over the last 10.0 s");
        assert_eq!(s.next_report(), Some(t0 + Duration::from_secs(20)));
        assert_eq!(Stats::new(t0, None).report(t0 + Duration::from_secs(99)), None);
    }
}
