//! What the run tells: the banner and event lines on stdout, stats and the summary on stderr.
//!
//! - [`stdout`]: stdout through a writer thread, so that a stalled reader cannot hold a stop.
//! - [`stats`]: acknowledged counts, the stats line (from a thread of its own), the summary.
//! - [`latency`]: the create→acknowledge latency histogram behind their percentiles.

pub mod latency;
pub mod stats;
pub mod stdout;

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use crate::config::{Config, Speedup};
use crate::shutdown::Stop;
use crate::sim::faults::{Copy, Marks};
pub use stats::Stats;
use stdout::StdoutPipe;

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

impl EventLog<StdoutPipe> {
    pub fn stdout(enabled: bool, stop: Stop) -> Self {
        EventLog { out: StdoutPipe::start(stop), enabled }
    }

    /// Writes out everything logged; after a stop, gives a stalled reader `grace` at most.
    pub fn close(&mut self, grace: Duration) -> io::Result<()> {
        self.out.close(grace)
    }
}

impl<W: Write> EventLog<W> {
    #[cfg(test)]
    pub fn new(out: W, enabled: bool) -> Self {
        EventLog { out, enabled }
    }

    /// The banner, then where ids start and why (`ids`); `crypto`: the TLS provider in use.
    pub fn banner(&mut self, config: &Config, seed: u64, crypto: Option<&str>, ids: &str) -> io::Result<()> {
        writeln!(self.out, "[producer] {}; {ids}", Banner { config, seed, crypto })?;
        self.out.flush()
    }

    /// One acknowledged event; `json` is the message value, byte for byte. A record with
    /// faults says which: `Sent transaction (late,duplicate): …`, `Sent refund (malformed
    /// not-json): …`.
    pub fn sent(&mut self, kind: Kind, marks: Marks, json: &[u8]) -> io::Result<()> {
        if self.enabled {
            match (marks.names(), marks.copy) {
                (None, _) => write!(self.out, "[producer] Sent {}: ", kind.name())?,
                (Some(_), Copy::Malformed(how)) => {
                    write!(self.out, "[producer] Sent {} (malformed {}): ", kind.name(), how.name())?
                }
                (Some(faults), _) => write!(self.out, "[producer] Sent {} ({faults}): ", kind.name())?,
            }
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
    crypto: Option<&'a str>,
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
             refund_probability={} seed={} clock={clock} speedup={speedup} rate_profile={} max_events={} max_seconds={} \
             acks={} idempotence={} compression={} client_id={} protocol_cap={} security_protocol={}{} dry_run={} \
             instance={} id_start={} stores={}{}",
            env!("CARGO_PKG_VERSION"),
            k.bootstrap_servers.join(","),
            c.topic,
            c.topic_refunds,
            c.sleep_seconds,
            c.refund_probability,
            self.seed,
            match c.rate_profile {
                crate::config::RateProfile::Flat => "flat",
                crate::config::RateProfile::RetailDay => "retail-day",
            },
            or_none(c.max_events.map(|n| n.to_string())),
            or_none(c.max_duration.map(|d| d.as_secs_f64().to_string())),
            k.acks.name(),
            k.idempotence,
            k.compression.name(),
            k.client_id,
            if k.protocol_cap.is_some() { "2.1" } else { "none" },
            k.security.protocol.name(),
            SecurityDetails(&k.security, self.crypto),
            c.dry_run,
            c.instance,
            match c.id_start {
                crate::config::IdStart::Resume => "resume".to_string(),
                crate::config::IdStart::From(id) => id.to_string(),
            },
            if c.stores.is_empty() { "all".to_string() } else { c.stores.join(",") },
            FaultDetails(&c.faults),
        )
    }
}

/// The faults asked for, if any: ` faults=late:0.1@300s,duplicate:0.01`.
struct FaultDetails<'a>(&'a crate::sim::faults::Faults);

impl fmt::Display for FaultDetails<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        let late = format!("@{}s", x.late_seconds);
        let all = [
            ("late", x.late, late.as_str()),
            ("duplicate", x.duplicate, ""),
            ("malformed", x.malformed, ""),
            ("reordered", x.out_of_order, ""),
        ];
        let asked: Vec<String> =
            all.iter().filter(|(_, p, _)| *p > 0.0).map(|(name, p, more)| format!("{name}:{p}{more}")).collect();
        if asked.is_empty() { Ok(()) } else { write!(f, " faults={}", asked.join(",")) }
    }
}

/// The security settings of the banner; the password only as `***`.
struct SecurityDetails<'a>(&'a crate::kafka::settings::Security, Option<&'a str>);

impl fmt::Display for SecurityDetails<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(sasl) = &self.0.sasl {
            write!(
                f,
                " sasl_mechanism={} sasl_username={} sasl_password={}",
                sasl.mechanism.name(),
                sasl.username,
                sasl.password
            )?;
        }
        if let Some(tls) = &self.0.tls {
            let path = |p: &Option<(String, std::path::PathBuf)>| {
                p.as_ref().map_or("none".to_string(), |(_, path)| path.display().to_string())
            };
            write!(
                f,
                " ssl_ca_location={} ssl_certificate_location={} ssl_endpoint_identification={}",
                if tls.ca.is_some() { path(&tls.ca) } else { "built-in".into() },
                path(&tls.certificate),
                if tls.verify_hostname { "https" } else { "none" }
            )?;
            if let Some(crypto) = self.1 {
                write!(f, " ssl_provider={crypto}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_are_the_old_services() {
        let mut log = EventLog::new(Vec::new(), true);
        log.sent(Kind::Transaction, Marks::default(), br#"{"transaction_id":1}"#).unwrap();
        log.sent(Kind::Refund, Marks::default(), br#"{"refund_id":1}"#).unwrap();
        let text = String::from_utf8(log.into_inner()).unwrap();
        assert_eq!(
            text,
            "[producer] Sent transaction: {\"transaction_id\":1}\n[producer] Sent refund: {\"refund_id\":1}\n"
        );
    }

    #[test]
    fn event_lines_can_be_turned_off() {
        let mut log = EventLog::new(Vec::new(), false);
        log.sent(Kind::Transaction, Marks::default(), b"{}").unwrap();
        assert!(log.into_inner().is_empty());
    }

    #[test]
    fn a_record_with_faults_says_which() {
        use crate::sim::faults::Malformation;
        let mut log = EventLog::new(Vec::new(), true);
        let late_copy = Marks { late: true, reordered: false, copy: Copy::Duplicate };
        log.sent(Kind::Transaction, late_copy, b"{}").unwrap();
        let broken = Marks { copy: Copy::Malformed(Malformation::MissingField { pick: 1 }), ..Marks::default() };
        log.sent(Kind::Refund, broken, b"{\"refund_id\":1}").unwrap();
        let text = String::from_utf8(log.into_inner()).unwrap();
        assert_eq!(
            text,
            "[producer] Sent transaction (late,duplicate): {}\n[producer] Sent refund (malformed missing-field): {\"refund_id\":1}\n"
        );
    }
}
