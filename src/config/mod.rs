//! Configuration: environment variables and long flags, checked up front into a `Config`.
//!
//! Every option is an environment variable (the old Python service's names and defaults are
//! kept) and a long flag named after it without the `KAFKA_`/`PRODUCER_` prefix; a flag beats
//! the variable. Everything is parsed and checked before anything is built, and a bad value is
//! reported in one line naming the variable or flag, the value and what is allowed.

mod options;
mod security;
mod txn;
mod values;

use std::fmt;
use std::time::Duration;

use crate::kafka::Settings;
use crate::kafka::settings::{Acks, Compression, ProtocolCap};
use crate::sim::faults::Faults;
use options::{OPTIONS, suggest};
pub use options::{help, unknown_variables};
use values::{
    boolean, bootstrap, bounded, id_start, instance, listen_addr, millis, optional, partitions, probability, rfc3339,
    seconds, speedup, stores, topic_name, unsigned,
};

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
    /// `--probe URL`: one HTTP GET, for healthchecks.
    Probe(crate::probe::Target),
}

/// How the simulated clock relates to real time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speedup {
    Factor(f64),
    Max,
}

/// When sales happen in event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateProfile {
    /// One sale every `PRODUCER_SLEEP_SECONDS` (the old service's metronome).
    Flat,
    /// Poisson arrivals following store hours, the same mean gap over a week.
    RetailDay,
}

/// Where the ids of a run start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStart {
    /// After the highest ids of this instance already in the topics (1 in a dry run).
    Resume,
    /// At this id (rounded up into the instance's ids), whatever the topics hold.
    From(u64),
}

/// Instance `k` of `n` producers sharing the topics: its ids are `k, k+n, k+2n, …`, as MySQL's
/// `auto_increment_offset`/`auto_increment_increment` share one key space between servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub k: u64,
    pub n: u64,
}

impl Instance {
    #[cfg(test)]
    pub const ONLY: Instance = Instance { k: 1, n: 1 };

    /// Whether `id` is one of this instance's ids.
    pub fn owns(self, id: u64) -> bool {
        id > 0 && id % self.n == self.k % self.n
    }

    /// This instance's first id at or after `id` (`None` past `u64::MAX`).
    pub fn first_from(self, id: u64) -> Option<u64> {
        let id = id.max(1);
        let rem = (self.k % self.n + self.n - id % self.n) % self.n;
        id.checked_add(rem)
    }

    /// This instance's next id after `id` (its first when `id` is 0).
    pub fn after(self, id: u64) -> Option<u64> {
        if id == 0 { Some(self.k) } else { self.first_from(id.checked_add(1)?) }
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The checked configuration of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub topic: String,
    pub topic_refunds: String,
    pub sleep_seconds: f64,
    pub refund_probability: f64,
    pub seed: Option<u64>,
    pub id_start: IdStart,
    pub instance: Instance,
    /// The stores sales are made for, as asked (upper case; empty: all). The catalog, a layer
    /// up, checks that they exist.
    pub stores: Vec<String>,
    /// Unix milliseconds of transaction 1 under simulated time.
    pub start_time_ms: Option<i64>,
    pub speedup: Speedup,
    pub rate_profile: RateProfile,
    pub faults: Faults,
    pub max_events: Option<u64>,
    pub max_duration: Option<Duration>,
    pub log_events: bool,
    pub stats_every: Option<Duration>,
    pub dry_run: bool,
    /// Record headers on every record.
    pub headers: bool,
    /// Where the ground truth goes (`None`: nowhere).
    pub truth_file: Option<std::path::PathBuf>,
    pub truth_window_seconds: u64,
    /// The watermark the truth's "kept" windows apply, in seconds.
    pub truth_watermark_seconds: u64,
    /// Only make sure the topics exist, then exit.
    pub create_topics: bool,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (`None`: nowhere).
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub kafka: Settings,
    /// Lines to print at start: settings that were adjusted, variables that were not understood.
    pub warnings: Vec<String>,
}

impl Config {
    /// Whether timestamps come from a simulated clock rather than the wall clock.
    pub fn simulated_time(&self) -> bool {
        self.start_time_ms.is_some() || self.speedup != Speedup::Factor(1.0)
    }

    /// When, in real time after the start, event time `offset` after the start is due.
    pub fn real_time(&self, offset: Duration) -> Duration {
        match self.speedup {
            Speedup::Max => Duration::ZERO,
            Speedup::Factor(f) => offset.div_f64(f),
        }
    }

    /// The real time between two transactions.
    pub fn interval(&self) -> Duration {
        self.real_time(Duration::from_secs_f64(self.sleep_seconds))
    }
}

/// A configuration error: one line, naming the variable or flag, the value and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Invalid { name: String, value: String, expected: String },
    UnknownFlag { flag: String, suggestion: Option<&'static str> },
    MissingValue { flag: String },
    UnexpectedArgument(String),
    Conflict(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid { name, value, expected } => {
                write!(f, "invalid {name} {value:?}: expected {expected}")
            }
            ConfigError::UnknownFlag { flag, suggestion: Some(s) } => {
                write!(f, "unknown flag {flag}; did you mean --{s}? (see --help)")
            }
            ConfigError::UnknownFlag { flag, suggestion: None } => {
                write!(f, "unknown flag {flag} (see --help)")
            }
            ConfigError::MissingValue { flag } => {
                write!(f, "flag {flag} needs a value (see --help)")
            }
            ConfigError::UnexpectedArgument(a) => {
                write!(f, "unexpected argument {a:?}: options are --name=value flags (see --help)")
            }
            ConfigError::Conflict(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A value and where it came from, so errors can name the variable or the flag.
struct Raw {
    name: String,
    value: String,
    /// Given by a flag or variable, not defaulted.
    explicit: bool,
}

impl Raw {
    fn invalid(&self, expected: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { name: self.name.clone(), value: self.value.clone(), expected: expected.into() }
    }

    fn is_unset(&self) -> bool {
        !self.explicit && self.value.is_empty()
    }
}

/// The raw values of every option: flags over variables over defaults.
struct Sources {
    raw: Vec<Raw>,
    /// The pod's name for `PRODUCER_INSTANCE=ordinal/n`: the variable that gave it, and its value.
    pod: Option<(String, String)>,
}

impl Sources {
    fn get(&self, flag: &str) -> &Raw {
        let i = OPTIONS.iter().position(|o| o.flag == flag).expect("flag is in OPTIONS");
        &self.raw[i]
    }
}

/// Parses the command line (without the program name) and the environment.
pub fn parse<I, E>(args: I, env: E) -> Result<Command, ConfigError>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut flags: Vec<Option<String>> = vec![None; OPTIONS.len()];
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            _ => {}
        }
        if let Some(inline) = arg.strip_prefix("--probe").filter(|r| r.is_empty() || r.starts_with('=')) {
            let url = match inline.strip_prefix('=') {
                Some(url) => url.to_string(),
                None => args.next().ok_or(ConfigError::MissingValue { flag: arg.clone() })?,
            };
            return crate::probe::parse(&url).map(Command::Probe).ok_or_else(|| ConfigError::Invalid {
                name: "--probe".into(),
                value: url,
                expected: "an http://host:port/path URL (plain HTTP, a port, no spaces)".into(),
            });
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(ConfigError::UnexpectedArgument(arg));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(i) = OPTIONS.iter().position(|o| o.flag == name) else {
            return Err(ConfigError::UnknownFlag { flag: format!("--{name}"), suggestion: suggest(name) });
        };
        let value = match (inline, OPTIONS[i].switch) {
            (Some(v), _) => v,
            (None, true) => "true".to_string(),
            (None, false) => args.next().ok_or(ConfigError::MissingValue { flag: arg.clone() })?,
        };
        flags[i] = Some(value);
    }

    let raw = OPTIONS
        .iter()
        .zip(flags)
        .map(|(o, flag)| match (flag, env(o.env)) {
            (Some(value), _) => Raw { name: format!("--{}", o.flag), value, explicit: true },
            (None, Some(value)) => Raw { name: o.env.to_string(), value, explicit: true },
            (None, None) => Raw { name: o.env.to_string(), value: o.default.to_string(), explicit: false },
        })
        .collect();
    let pod = ["POD_NAME", "HOSTNAME"]
        .into_iter()
        .find_map(|var| env(var).filter(|v| !v.is_empty()).map(|v| (var.to_string(), v)));
    build(&Sources { raw, pod }).map(|c| Command::Run(Box::new(c)))
}

fn build(s: &Sources) -> Result<Config, ConfigError> {
    let topic = topic_name(s.get("topic"))?;
    let topic_refunds = topic_name(s.get("topic-refunds"))?;
    if topic == topic_refunds {
        return Err(ConfigError::Conflict(format!(
            "KAFKA_TOPIC and KAFKA_TOPIC_REFUNDS are both {topic:?}: transactions and refunds need two different topics"
        )));
    }
    let sleep_seconds = seconds(s.get("sleep-seconds"))?;
    let refund_probability = probability(s.get("refund-probability"))?;
    let seed = optional(s.get("seed"), |r| unsigned(r, "a whole number from 0 to 18446744073709551615"))?;
    let id_start = id_start(s.get("id-start"))?;
    let instance = instance(s.get("instance"), s.pod.as_ref().map(|(var, name)| (var.as_str(), name.as_str())))?;
    let stores = stores(s.get("stores"))?;
    let start_time_ms = optional(s.get("start-time"), rfc3339)?;
    let speedup = speedup(s.get("speedup"))?;
    let rate_profile_raw = s.get("rate-profile");
    let rate_profile = match rate_profile_raw.value.as_str() {
        "flat" => RateProfile::Flat,
        "retail-day" => RateProfile::RetailDay,
        _ => return Err(rate_profile_raw.invalid("`flat` or `retail-day`")),
    };
    if rate_profile == RateProfile::RetailDay && sleep_seconds == 0.0 {
        return Err(ConfigError::Conflict(
            "PRODUCER_RATE_PROFILE=retail-day needs PRODUCER_SLEEP_SECONDS > 0 (the mean gap between sales); \
             run it faster with PRODUCER_SPEEDUP"
                .into(),
        ));
    }
    let faults = Faults {
        late: probability(s.get("late-probability"))?,
        late_seconds: seconds(s.get("late-seconds"))?,
        duplicate: probability(s.get("duplicate-probability"))?,
        malformed: probability(s.get("malformed-probability"))?,
        out_of_order: probability(s.get("out-of-order-probability"))?,
    };
    let max_events = unsigned(s.get("max-events"), "a whole number ≥ 0 (0 = no limit)")?;
    let max_seconds = seconds(s.get("max-seconds"))?;
    let log_events = boolean(s.get("log-events"))?;
    let stats_seconds = seconds(s.get("stats-seconds"))?;
    let dry_run = boolean(s.get("dry-run"))?;
    let headers = boolean(s.get("headers"))?;
    let truth_file = optional(s.get("truth-file"), |r| Ok(std::path::PathBuf::from(&r.value)))?;
    let truth_window_seconds =
        bounded(s.get("truth-window-seconds"), 1, 86_400, "a whole number of seconds from 1 to 86400")? as u64;
    let truth_watermark_seconds =
        bounded(s.get("truth-watermark-seconds"), 0, 86_400, "a whole number of seconds from 0 to 86400")? as u64;
    let create_topics = boolean(s.get("create-topics"))?;
    let metrics_addr = optional(s.get("metrics-addr"), listen_addr)?;
    if dry_run && create_topics {
        return Err(ConfigError::Conflict(
            "PRODUCER_DRY_RUN and PRODUCER_CREATE_TOPICS exclude each other: a dry run has no Kafka".into(),
        ));
    }

    let acks_raw = s.get("acks");
    let acks = match acks_raw.value.as_str() {
        "all" | "-1" => Acks::All,
        "1" => Acks::Leader,
        "0" => Acks::None,
        _ => return Err(acks_raw.invalid("all, -1, 1 or 0")),
    };
    // As the Java producer since Kafka 3.2: idempotence is the default, silently off when acks
    // are weaker unless it was asked for explicitly, in which case the conflict is an error.
    let idem_raw = s.get("idempotence");
    let mut idempotence = boolean(idem_raw)?;
    if idempotence && acks != Acks::All {
        if idem_raw.explicit {
            return Err(ConfigError::Conflict(format!(
                "{}=true needs acks=all, but {} is {:?}; set {}=false to use weaker acks",
                idem_raw.name, acks_raw.name, acks_raw.value, idem_raw.name
            )));
        }
        idempotence = false;
    }
    let compression_raw = s.get("compression");
    let compression = match compression_raw.value.as_str() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        _ => return Err(compression_raw.invalid("none, gzip, snappy, lz4 or zstd")),
    };
    let client_raw = s.get("client-id");
    if client_raw.value.is_empty() || !client_raw.value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(client_raw.invalid("a non-empty id of printable ASCII characters without spaces"));
    }
    let mut warnings = Vec::new();
    let (delivery_raw, request_raw) = (s.get("delivery-timeout-ms"), s.get("request-timeout-ms"));
    let delivery_timeout = millis(delivery_raw)?;
    let mut request_timeout = millis(request_raw)?;
    if request_timeout > delivery_timeout {
        // Every wait is cut at the delivery deadline anyway; the broker is told the same.
        warnings.push(format!(
            "{} {} is longer than {} {}: requests wait at most {} ms",
            request_raw.name,
            request_timeout.as_millis(),
            delivery_raw.name,
            delivery_timeout.as_millis(),
            delivery_timeout.as_millis()
        ));
        request_timeout = delivery_timeout;
    }
    let kafka = Settings {
        bootstrap_servers: bootstrap(s.get("bootstrap-servers"))?,
        acks,
        idempotence,
        delivery_timeout,
        request_timeout,
        metadata_max_age: millis(s.get("metadata-max-age-ms"))?,
        max_in_flight: bounded(s.get("max-in-flight"), 1, 5, "a whole number of requests from 1 to 5")?,
        batch_size: bounded(s.get("batch-size"), 1, 1 << 30, "a whole number of bytes from 1 to 1073741824")?,
        linger: Duration::from_millis(bounded(
            s.get("linger-ms"),
            0,
            1000,
            "a whole number of milliseconds from 0 to 1000",
        )? as u64),
        topic_partitions: optional(s.get("topic-partitions"), partitions)?,
        topic_replication: optional(s.get("topic-replication-factor"), |r| match r.value.trim().parse::<i16>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(r.invalid("a whole number of replicas from 1 to 32767")),
        })?,
        compression,
        client_id: client_raw.value.clone(),
        protocol_cap: optional(s.get("protocol-cap"), |r| match r.value.as_str() {
            "2.1" => Ok(ProtocolCap::Kafka2_1),
            _ => Err(r.invalid("`2.1` (the only cap known), or unset")),
        })?,
        security: security::parse(s)?,
        transactions: txn::parse(s, idempotence, &topic, instance)?,
    };

    Ok(Config {
        topic,
        topic_refunds,
        sleep_seconds,
        refund_probability,
        seed,
        id_start,
        instance,
        stores,
        start_time_ms,
        speedup,
        rate_profile,
        faults,
        max_events: (max_events > 0).then_some(max_events),
        max_duration: (max_seconds > 0.0).then(|| Duration::from_secs_f64(max_seconds)),
        log_events,
        stats_every: (stats_seconds > 0.0).then(|| Duration::from_secs_f64(stats_seconds)),
        dry_run,
        headers,
        truth_file,
        truth_window_seconds,
        truth_watermark_seconds,
        create_topics,
        metrics_addr,
        kafka,
        warnings,
    })
}

#[cfg(test)]
mod tests;
