//! Configuration: environment variables and long flags, checked up front into a `Config`.
//!
//! Every option is an environment variable (the old Python service's names and defaults are
//! kept) and a long flag named after it without the `KAFKA_`/`PRODUCER_` prefix; a flag beats
//! the variable. Everything is parsed and checked before anything is built, and a bad value is
//! reported in one line naming the variable or flag, the value and what is allowed.

mod security;
mod txn;

use std::fmt;
use std::time::Duration;

#[cfg(all(test, feature = "tls"))]
pub use security::Secret;
#[cfg(feature = "tls")]
pub use security::{Crypto, StoreFile, TlsFiles};
#[cfg_attr(not(feature = "tls"), allow(unused_imports))]
pub use security::{Mechanism, Protocol, Sasl, Security};
pub use txn::{Transactions, TxnMode};

/// One option of the command line and environment.
struct Opt {
    flag: &'static str,
    env: &'static str,
    default: &'static str,
    /// A switch may be given bare (`--dry-run`), meaning `true`.
    switch: bool,
    help: &'static str,
}

const fn opt(flag: &'static str, env: &'static str, default: &'static str, help: &'static str) -> Opt {
    Opt { flag, env, default, switch: false, help }
}

const fn switch(flag: &'static str, env: &'static str, default: &'static str, help: &'static str) -> Opt {
    Opt { flag, env, default, switch: true, help }
}

/// Every option, in the order `--help` lists them. An empty default means "unset".
const OPTIONS: &[Opt] = &[
    opt("bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", "kafka:9092", "comma list of host:port brokers to start from"),
    opt("topic", "KAFKA_TOPIC", "transactions", "topic for transactions"),
    opt("topic-refunds", "KAFKA_TOPIC_REFUNDS", "refunds", "topic for refunds"),
    opt("sleep-seconds", "PRODUCER_SLEEP_SECONDS", "1.0", "seconds between transactions (0 = as fast as possible)"),
    opt(
        "refund-probability",
        "REFUND_PROBABILITY",
        "0.1",
        "chance in [0, 1] that a transaction is followed by a refund",
    ),
    opt("seed", "PRODUCER_SEED", "", "random seed (u64) that makes a run reproducible; unset: random, printed"),
    opt(
        "id-start",
        "PRODUCER_ID_START",
        "resume",
        "first transaction and refund id: `resume` (after the highest in the topics; 1 in a dry run) or N ≥ 1",
    ),
    opt(
        "stores",
        "PRODUCER_STORES",
        "all",
        "the stores this instance sells for: `all`, or a comma list such as STORE-001,STORE-003",
    ),
    opt(
        "instance",
        "PRODUCER_INSTANCE",
        "1/1",
        "this producer is instance k of n (`k/n`): its ids are k, k+n, k+2n, … so instances never collide",
    ),
    opt(
        "start-time",
        "PRODUCER_START_TIME",
        "",
        "simulated time: RFC 3339 start of the clock (transaction 1's time when flat); unset: wall clock",
    ),
    opt("speedup", "PRODUCER_SPEEDUP", "1", "run the simulated clock N times faster than real time, or `max`"),
    opt(
        "rate-profile",
        "PRODUCER_RATE_PROFILE",
        "flat",
        "`flat` (one sale every sleep-seconds) or `retail-day` (random arrivals following store hours, same mean)",
    ),
    opt("max-events", "PRODUCER_MAX_EVENTS", "0", "stop after N transactions and their refunds (0 = no limit)"),
    opt("max-seconds", "PRODUCER_MAX_SECONDS", "0", "stop after S seconds of wall time (0 = no limit)"),
    switch("log-events", "PRODUCER_LOG_EVENTS", "true", "print a `[producer] Sent ...` line per event on stdout"),
    opt("stats-seconds", "PRODUCER_STATS_SECONDS", "10", "seconds between stats lines on stderr (0 = off)"),
    switch("dry-run", "PRODUCER_DRY_RUN", "false", "generate and print events, send nothing"),
    switch(
        "headers",
        "PRODUCER_HEADERS",
        "true",
        "record headers event_type, schema_version, producer and content-type on every record",
    ),
    opt(
        "truth-file",
        "PRODUCER_TRUTH_FILE",
        "",
        "JSON file of what the broker acknowledged (totals, per product, store, reason, window), rewritten each stats period",
    ),
    opt(
        "truth-window-seconds",
        "PRODUCER_TRUTH_WINDOW_SECONDS",
        "60",
        "width of the truth file's event-time windows, in whole seconds (1 to 86400)",
    ),
    opt(
        "truth-watermark-seconds",
        "PRODUCER_TRUTH_WATERMARK_SECONDS",
        "120",
        "the watermark of the truth file's `windows_kept` (what a correct windowed sink keeps), 0 to 86400",
    ),
    opt(
        "late-probability",
        "PRODUCER_LATE_PROBABILITY",
        "0",
        "fault: chance per event that it is stamped late-seconds in the past (header pos-fault: late)",
    ),
    opt("late-seconds", "PRODUCER_LATE_SECONDS", "300", "how far in the past a late event is stamped"),
    opt(
        "duplicate-probability",
        "PRODUCER_DUPLICATE_PROBABILITY",
        "0",
        "fault: chance per event that the same record is sent again a little later (pos-fault: duplicate)",
    ),
    opt(
        "malformed-probability",
        "PRODUCER_MALFORMED_PROBABILITY",
        "0",
        "fault: chance per event that a broken copy of it follows: not JSON, a field missing or of the wrong type",
    ),
    opt(
        "out-of-order-probability",
        "PRODUCER_OUT_OF_ORDER_PROBABILITY",
        "0",
        "fault: chance per event that it is held back and sent after the next few (pos-fault: reordered)",
    ),
    opt(
        "abort-probability",
        "PRODUCER_ABORT_PROBABILITY",
        "0",
        "fault: chance per transaction that it is aborted and its events sent again in the next (pos-fault: aborted)",
    ),
    switch(
        "create-topics",
        "PRODUCER_CREATE_TOPICS",
        "false",
        "only make sure both topics exist, say what was done, and exit (an init step for consumers)",
    ),
    opt("acks", "KAFKA_ACKS", "all", "acknowledgements: all (or -1), 1 or 0"),
    switch("idempotence", "KAFKA_IDEMPOTENCE", "true", "idempotent producer: retries never duplicate (needs acks=all)"),
    opt(
        "transactions",
        "KAFKA_TRANSACTIONS",
        "auto",
        "`auto` (transactions where the cluster and ACLs allow, else idempotent with a warning), `on` or `off`",
    ),
    opt(
        "transactional-id",
        "KAFKA_TRANSACTIONAL_ID",
        "",
        "transactional id; unset: pos-producer:<transactions topic>:<k>/<n>, the same for every copy of an instance",
    ),
    opt(
        "commit-interval-ms",
        "PRODUCER_COMMIT_INTERVAL_MS",
        "100",
        "with transactions, commit at most this long after a transaction's oldest event, 1 to 60000",
    ),
    opt(
        "delivery-timeout-ms",
        "KAFKA_DELIVERY_TIMEOUT_MS",
        "120000",
        "give up on an event not acknowledged within this time",
    ),
    opt(
        "request-timeout-ms",
        "KAFKA_REQUEST_TIMEOUT_MS",
        "30000",
        "wait this long for one broker response (at most the delivery timeout)",
    ),
    opt(
        "max-in-flight",
        "KAFKA_MAX_IN_FLIGHT",
        "5",
        "produce requests per broker awaiting an answer, 1 to 5 (5 is the most idempotence keeps in order)",
    ),
    opt(
        "linger-ms",
        "KAFKA_LINGER_MS",
        "5",
        "how long a due sale may wait for the next ones to share its request (0: none), 0 to 1000",
    ),
    opt(
        "batch-size",
        "KAFKA_BATCH_SIZE",
        "65536",
        "most bytes of records per partition in one request (a larger record goes alone)",
    ),
    opt(
        "metadata-max-age-ms",
        "KAFKA_METADATA_MAX_AGE_MS",
        "300000",
        "refresh partition metadata at least this often (partitions added to a topic get used)",
    ),
    opt(
        "topic-partitions",
        "KAFKA_TOPIC_PARTITIONS",
        "",
        "partitions of topics this creates; unset: the broker's default",
    ),
    opt(
        "topic-replication-factor",
        "KAFKA_TOPIC_REPLICATION_FACTOR",
        "",
        "replication factor of topics this creates; unset: the broker's default",
    ),
    opt("compression", "KAFKA_COMPRESSION", "none", "record compression: none, gzip, snappy, lz4 or zstd (Kafka 2.1+)"),
    opt("client-id", "KAFKA_CLIENT_ID", "pos-producer", "client id sent to the brokers"),
    opt(
        "protocol-cap",
        "KAFKA_PROTOCOL_CAP",
        "",
        "speak no newer API versions than Kafka 2.1 does (`2.1`); unset: the broker's newest",
    ),
    opt(
        "security-protocol",
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (case-insensitive)",
    ),
    opt(
        "sasl-mechanism",
        "KAFKA_SASL_MECHANISM",
        "",
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; unset: PLAIN with a SASL protocol",
    ),
    opt("sasl-username", "KAFKA_SASL_USERNAME", "", "SASL user name (required with SASL)"),
    opt("sasl-password", "KAFKA_SASL_PASSWORD", "", "SASL password (never printed)"),
    opt(
        "sasl-password-file",
        "KAFKA_SASL_PASSWORD_FILE",
        "",
        "file whose content (trailing newline trimmed) is the SASL password: Docker/Kubernetes secrets",
    ),
    opt(
        "ssl-ca-location",
        "KAFKA_SSL_CA_LOCATION",
        "",
        "PEM file of the CA certificates to trust; unset: the Mozilla roots built in",
    ),
    opt(
        "ssl-certificate-location",
        "KAFKA_SSL_CERTIFICATE_LOCATION",
        "",
        "PEM client certificate (chain), for mutual TLS",
    ),
    opt(
        "ssl-key-location",
        "KAFKA_SSL_KEY_LOCATION",
        "",
        "PEM private key of the client certificate: PKCS#8 (encrypted too), PKCS#1 or SEC1",
    ),
    opt("ssl-key-password", "KAFKA_SSL_KEY_PASSWORD", "", "password of an encrypted key, or of the keystore's key"),
    opt("ssl-key-password-file", "KAFKA_SSL_KEY_PASSWORD_FILE", "", "file holding KAFKA_SSL_KEY_PASSWORD"),
    opt(
        "ssl-keystore-location",
        "KAFKA_SSL_KEYSTORE_LOCATION",
        "",
        "PKCS#12 keystore with the client's key and certificate (instead of the two PEM files)",
    ),
    opt("ssl-keystore-password", "KAFKA_SSL_KEYSTORE_PASSWORD", "", "password of the keystore (never printed)"),
    opt(
        "ssl-keystore-password-file",
        "KAFKA_SSL_KEYSTORE_PASSWORD_FILE",
        "",
        "file holding KAFKA_SSL_KEYSTORE_PASSWORD",
    ),
    opt(
        "ssl-truststore-location",
        "KAFKA_SSL_TRUSTSTORE_LOCATION",
        "",
        "PKCS#12 truststore of the CA certificates to trust (instead of KAFKA_SSL_CA_LOCATION)",
    ),
    opt("ssl-truststore-password", "KAFKA_SSL_TRUSTSTORE_PASSWORD", "", "password of the truststore (never printed)"),
    opt(
        "ssl-truststore-password-file",
        "KAFKA_SSL_TRUSTSTORE_PASSWORD_FILE",
        "",
        "file holding KAFKA_SSL_TRUSTSTORE_PASSWORD",
    ),
    opt(
        "ssl-provider",
        "KAFKA_SSL_PROVIDER",
        "auto",
        "TLS crypto: `auto` (graviola where the CPU has its instructions, else portable), `graviola` or `portable`",
    ),
    opt(
        "ssl-endpoint-identification",
        "KAFKA_SSL_ENDPOINT_IDENTIFICATION",
        "https",
        "`https`: the broker's certificate must name the host connected to; `none`: not checked",
    ),
];

/// Longest allowed wait, so that every duration fits comfortably (one year).
const MAX_SECONDS: f64 = 31_536_000.0;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
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

/// Required acknowledgements of a produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    None,
    Leader,
    All,
}

impl Acks {
    pub fn name(self) -> &'static str {
        match self {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        }
    }

    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Record batch compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    /// Needs Produce v7 (Kafka 2.1+); the producer checks the brokers.
    Zstd,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
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

/// An upper bound on the API versions spoken, named after the Kafka release that introduced
/// them: for a proxy or Kafka-compatible server that mishandles newer versions, and for testing
/// the older encodings against current brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolCap {
    Kafka2_1,
}

/// Everything the Kafka producer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaConfig {
    pub bootstrap_servers: Vec<String>,
    pub acks: Acks,
    pub idempotence: bool,
    pub delivery_timeout: Duration,
    pub request_timeout: Duration,
    pub metadata_max_age: Duration,
    /// Produce requests per broker awaiting an answer (1–5).
    pub max_in_flight: usize,
    /// Most record bytes per partition in one request.
    pub batch_size: usize,
    /// How long a record may wait for others to join its batch (`linger.ms`).
    pub linger: Duration,
    pub topic_partitions: Option<i32>,
    pub topic_replication: Option<i16>,
    pub compression: Compression,
    pub client_id: String,
    pub protocol_cap: Option<ProtocolCap>,
    pub security: Security,
    /// `None`: no transactions (`off`, or idempotence off under `auto`).
    pub transactions: Option<Transactions>,
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
    pub kafka: KafkaConfig,
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
    build(&Sources { raw }).map(|c| Command::Run(Box::new(c)))
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
    let instance = instance(s.get("instance"))?;
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
    let kafka = KafkaConfig {
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
        kafka,
        warnings,
    })
}

/// Warnings for environment variables that look like this program's (`PRODUCER_*`, `KAFKA_*`)
/// but are not, with the closest known name: a misspelt variable is otherwise silently ignored.
/// Not an error: the same environment may serve other tools.
pub fn unknown_variables(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let ours = name.starts_with("PRODUCER_") || name.starts_with("KAFKA_");
        if !ours || OPTIONS.iter().any(|o| o.env == name) {
            continue;
        }
        let closest = OPTIONS
            .iter()
            .map(|o| (edit_distance(&name, o.env), o.env))
            .filter(|(d, env)| *d <= 3.max(env.len() / 4))
            .min_by_key(|(d, _)| *d);
        out.push(match closest {
            Some((_, env)) => format!("unknown variable {name} is ignored; did you mean {env}? (see --help)"),
            None => format!("unknown variable {name} is ignored (see --help for the variables pos-producer reads)"),
        });
    }
    out.sort();
    out
}

/// Parses `raw` with `f` unless it is unset (defaults to nothing and not given).
fn optional<T>(raw: &Raw, f: impl Fn(&Raw) -> Result<T, ConfigError>) -> Result<Option<T>, ConfigError> {
    if raw.is_unset() { Ok(None) } else { f(raw).map(Some) }
}

fn number(raw: &Raw, expected: &str) -> Result<f64, ConfigError> {
    match raw.value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(raw.invalid(expected)),
    }
}

fn seconds(raw: &Raw) -> Result<f64, ConfigError> {
    let expected = "a number of seconds from 0 to 31536000";
    let v = number(raw, expected)?;
    if (0.0..=MAX_SECONDS).contains(&v) { Ok(v) } else { Err(raw.invalid(expected)) }
}

fn probability(raw: &Raw) -> Result<f64, ConfigError> {
    let expected = "a probability from 0 to 1";
    let v = number(raw, expected)?;
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(raw.invalid(expected)) }
}

fn speedup(raw: &Raw) -> Result<Speedup, ConfigError> {
    let expected = "a number > 0 (times real time) or `max`";
    if raw.value == "max" {
        return Ok(Speedup::Max);
    }
    let v = number(raw, expected)?;
    if v > 0.0 && v <= 1e9 { Ok(Speedup::Factor(v)) } else { Err(raw.invalid(expected)) }
}

fn unsigned(raw: &Raw, expected: &str) -> Result<u64, ConfigError> {
    raw.value.trim().parse::<u64>().map_err(|_| raw.invalid(expected))
}

fn millis(raw: &Raw) -> Result<Duration, ConfigError> {
    let expected = "a whole number of milliseconds from 1 to 2147483647";
    match raw.value.trim().parse::<u64>() {
        Ok(ms) if (1..=i32::MAX as u64).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(raw.invalid(expected)),
    }
}

fn bounded(raw: &Raw, low: usize, high: usize, expected: &str) -> Result<usize, ConfigError> {
    match raw.value.trim().parse::<usize>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        _ => Err(raw.invalid(expected)),
    }
}

fn partitions(raw: &Raw) -> Result<i32, ConfigError> {
    match raw.value.trim().parse::<i32>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(raw.invalid("a whole number of partitions from 1 to 100000")),
    }
}

fn id_start(raw: &Raw) -> Result<IdStart, ConfigError> {
    if raw.value.trim().eq_ignore_ascii_case("resume") {
        return Ok(IdStart::Resume);
    }
    match raw.value.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_ID).contains(&n) => Ok(IdStart::From(n)),
        _ => Err(raw.invalid(format!("`resume` or a whole number from 1 to {MAX_ID}"))),
    }
}

/// Ids stay below 2^53 so that every JSON reader (JavaScript, Spark's doubles) reads them exactly.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// Most instances sharing the topics.
const MAX_INSTANCES: u64 = 65_535;

fn instance(raw: &Raw) -> Result<Instance, ConfigError> {
    let parsed =
        raw.value.trim().split_once('/').and_then(|(k, n)| Some((k.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
    match parsed {
        Some((k, n)) if (1..=MAX_INSTANCES).contains(&n) && (1..=n).contains(&k) => Ok(Instance { k, n }),
        _ => Err(raw.invalid(format!(
            "k/n: this instance's number k from 1 to n, of n from 1 to {MAX_INSTANCES} instances (e.g. 2/3)"
        ))),
    }
}

fn stores(raw: &Raw) -> Result<Vec<String>, ConfigError> {
    if raw.value.trim().eq_ignore_ascii_case("all") {
        return Ok(Vec::new());
    }
    let asked: Vec<String> = raw.value.split(',').map(|s| s.trim().to_ascii_uppercase()).collect();
    let mut unique = asked.clone();
    unique.sort_unstable();
    unique.dedup();
    if asked.iter().any(String::is_empty) || unique.len() != asked.len() {
        return Err(raw.invalid("`all`, or a comma list of different store ids such as STORE-001,STORE-003"));
    }
    Ok(asked)
}

fn boolean(raw: &Raw) -> Result<bool, ConfigError> {
    match raw.value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(raw.invalid("true, false, 1 or 0")),
    }
}

fn rfc3339(raw: &Raw) -> Result<i64, ConfigError> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(raw.value.trim(), &Rfc3339)
        .map_err(|_| raw.invalid("an RFC 3339 time such as 2025-01-01T00:00:00Z"))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| raw.invalid("an RFC 3339 time from 1970 on"))
}

/// Kafka's own rule for topic names (`org.apache.kafka.common.internals.Topic.validate`).
fn topic_name(raw: &Raw) -> Result<String, ConfigError> {
    let v = &raw.value;
    let legal = v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if v.is_empty() || v.len() > 249 || v == "." || v == ".." || !legal {
        return Err(raw.invalid("a topic name of 1 to 249 characters from [a-zA-Z0-9._-], not `.` or `..`"));
    }
    Ok(v.clone())
}

/// A comma list of `host:port`; IPv6 hosts in brackets (`[::1]:9092`).
fn bootstrap(raw: &Raw) -> Result<Vec<String>, ConfigError> {
    let expected = "a comma list of host:port with ports from 1 to 65535, e.g. kafka:9092";
    let mut servers = Vec::new();
    for entry in raw.value.split(',').map(str::trim) {
        let (host, port) = entry.rsplit_once(':').ok_or_else(|| raw.invalid(expected))?;
        let host_ok =
            !host.is_empty() && !host.contains(char::is_whitespace) && (host.starts_with('[') == host.ends_with(']'));
        match port.parse::<u16>() {
            Ok(p) if p > 0 && host_ok => servers.push(entry.to_string()),
            _ => return Err(raw.invalid(expected)),
        }
    }
    Ok(servers)
}

/// The known flag closest to an unknown one, if any is close enough to be a likely typo.
fn suggest(unknown: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|o| o.flag)
        .chain(["help", "version"])
        .map(|f| (edit_distance(unknown, f), f))
        .filter(|(d, f)| *d <= 3.max(f.len() / 4) || f.starts_with(unknown) || unknown.starts_with(f))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The `--help` text: every flag with its variable and default.
pub fn help() -> String {
    let mut s = format!(
        "pos-producer {} — simulated point-of-sale transactions and refunds, as JSON, to Kafka\n\n\
         Usage: pos-producer [--flag=value ...]\n\n\
         Every option is a flag and an environment variable; a flag beats the variable.\n\n",
        env!("CARGO_PKG_VERSION")
    );
    for o in OPTIONS {
        let default = if o.default.is_empty() { "unset" } else { o.default };
        s.push_str(&format!("  --{:<22} {:<26} [default: {default}]\n        {}\n", o.flag, o.env, o.help));
    }
    s.push_str(
        "  --help, -h               print this help\n  --version, -V            print the version\n\n\
         Exit codes: 0 done (limit reached, or stopped by SIGINT/SIGTERM), 1 Kafka or output failure,\n\
         2 bad configuration.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match parse(args.iter().map(|s| s.to_string()), lookup)? {
            Command::Run(c) => Ok(*c),
            other => panic!("expected a run, got {other:?}"),
        }
    }

    fn err(args: &[&str], env: &[(&str, &str)]) -> String {
        run(args, env).expect_err("should be rejected").to_string()
    }

    #[test]
    fn security_settings_parse_like_the_kafka_client_properties() {
        let c = run(&[], &[]).unwrap();
        assert_eq!((c.kafka.security.protocol, c.kafka.security.sasl.is_none()), (Protocol::Plaintext, true));
        let sasl =
            [("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"), ("KAFKA_SASL_USERNAME", "alice"), ("KAFKA_SASL_PASSWORD", "pw")];
        let c = run(&[], &sasl).unwrap();
        assert_eq!(c.kafka.security.protocol, Protocol::SaslSsl);
        let s = c.kafka.security.sasl.unwrap();
        assert_eq!((s.mechanism, s.username.as_str(), s.password.expose()), (Mechanism::Plain, "alice", "pw"));
        assert_eq!(format!("{:?} {}", s.password, s.password), "*** ***", "never shown");
        let t = c.kafka.security.tls.unwrap();
        assert_eq!((t.ca.is_none(), t.verify_hostname), (true, true), "built-in roots, names checked");
        let c = run(&["--sasl-mechanism=scram-sha-512"], &sasl).unwrap();
        assert_eq!(c.kafka.security.sasl.unwrap().mechanism, Mechanism::ScramSha512);
    }

    #[test]
    fn bad_security_settings_are_one_line_each_and_never_show_the_password() {
        let sasl = [("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"), ("KAFKA_SASL_USERNAME", "alice")];
        assert_eq!(
            err(&["--security-protocol=TLS"], &[]),
            "invalid --security-protocol \"TLS\": expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
        );
        assert!(err(&[], &sasl).contains("needs a password: set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"));
        assert!(err(&[], &[("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")]).contains("set KAFKA_SASL_USERNAME"));
        let e = err(&["--sasl-mechanism=GSSAPI", "--sasl-password=hunter2"], &sasl);
        assert_eq!(e, "invalid --sasl-mechanism \"GSSAPI\": expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
        let both = err(&["--sasl-password=hunter2", "--sasl-password-file=/etc/hostname"], &sasl);
        assert!(both.contains("are both set") && !both.contains("hunter2"), "{both}");
        let missing = err(&["--sasl-password-file=/nonexistent"], &sasl);
        assert!(
            missing.starts_with("invalid --sasl-password-file \"/nonexistent\": expected a readable file"),
            "{missing}"
        );
        let unused = err(&["--sasl-username=alice"], &[]);
        assert!(unused.contains("--sasl-username set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"), "{unused}");
        let tls = [("KAFKA_SECURITY_PROTOCOL", "SSL")];
        assert!(err(&["--ssl-certificate-location=/etc/hostname"], &tls).contains("go together"));
        assert!(err(&["--ssl-ca-location=/nonexistent.pem"], &tls).contains("expected a readable PEM file"));
        assert!(
            err(&["--ssl-endpoint-identification=yes"], &tls).contains("`https` (check the broker's name) or `none`")
        );
    }

    #[test]
    fn stores_and_key_passwords_parse_like_the_java_client_settings() {
        let tls = [("KAFKA_SECURITY_PROTOCOL", "SSL")];
        let dir = std::env::temp_dir().join(format!("pos-config-stores-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw_file = dir.join("pw");
        std::fs::write(&pw_file, "from-a-file\r\n").unwrap();
        let pw_arg = format!("--ssl-keystore-password-file={}", pw_file.display());
        let c = run(
            &["--ssl-keystore-location=/etc/hostname", &pw_arg, "--ssl-truststore-location=/etc/hostname"],
            &[("KAFKA_SSL_TRUSTSTORE_PASSWORD", "trust-pw"), ("KAFKA_SSL_KEY_PASSWORD", "key-pw"), tls[0]],
        )
        .unwrap();
        let t = c.kafka.security.tls.unwrap();
        let debug = format!("{t:?}");
        assert!(["from-a-file", "trust-pw", "key-pw"].iter().all(|p| !debug.contains(p)), "{debug}");
        let (ks, ts) = (t.keystore.unwrap(), t.truststore.unwrap());
        assert_eq!(ks.name, "--ssl-keystore-location");
        let (name, secret) = ks.password.unwrap();
        assert_eq!((name.as_str(), secret.expose()), ("--ssl-keystore-password-file", "from-a-file"));
        assert_eq!(ts.password.unwrap().1.expose(), "trust-pw");
        assert_eq!(t.key_password.unwrap().1.expose(), "key-pw");
        std::fs::remove_dir_all(&dir).unwrap();

        let e = err(&["--ssl-ca-location=/etc/hostname", "--ssl-truststore-location=/etc/hostname"], &tls);
        assert!(
            e.contains("--ssl-ca-location and --ssl-truststore-location are both set: give the CAs to trust"),
            "{e}"
        );
        let e = err(
            &["--ssl-certificate-location=/etc/hostname", "--ssl-key-location=/etc/hostname"],
            &[tls[0], ("KAFKA_SSL_KEYSTORE_LOCATION", "/etc/hostname")],
        );
        assert!(
            e.contains("and KAFKA_SSL_KEYSTORE_LOCATION are both set: give the client's certificate and key"),
            "{e}"
        );
        let e = err(&["--ssl-keystore-password=hunter2"], &tls);
        assert!(e.contains("--ssl-keystore-password is set, but KAFKA_SSL_KEYSTORE_LOCATION is not"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = err(&["--ssl-truststore-password=a", "--ssl-truststore-password-file=/etc/hostname"], &tls);
        assert!(e.contains("are both set: give the password one way"), "{e}");
        let e = err(&["--ssl-key-password=hunter2"], &tls);
        assert!(e.contains("--ssl-key-password is set, but there is no key to open"), "{e}");
        let e = err(&["--ssl-keystore-location=/nonexistent.p12"], &tls);
        assert!(e.contains("expected a readable PKCS#12 file"), "{e}");
        let c = run(&["--ssl-provider=Portable"], &tls).unwrap();
        assert_eq!(c.kafka.security.tls.unwrap().crypto, super::security::Crypto::Portable);
        assert_eq!(run(&[], &tls).unwrap().kafka.security.tls.unwrap().crypto, super::security::Crypto::Auto);
        let e = err(&["--ssl-provider=ring"], &tls);
        assert_eq!(e, "invalid --ssl-provider \"ring\": expected auto, graviola or portable");
        let e = err(&["--ssl-truststore-location=/etc/hostname"], &[]);
        assert!(e.contains("--ssl-truststore-location set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"), "{e}");
    }

    #[test]
    fn in_flight_batch_size_stores_and_truth_settings_have_defaults_and_bounds() {
        let c = run(&[], &[]).unwrap();
        assert_eq!((c.kafka.max_in_flight, c.kafka.batch_size), (5, 65_536));
        assert_eq!(c.kafka.linger, Duration::from_millis(5), "Java 4.x's and librdkafka's default");
        assert_eq!(run(&["--linger-ms=0"], &[]).unwrap().kafka.linger, Duration::ZERO);
        assert!(err(&["--linger-ms=1001"], &[]).contains("a whole number of milliseconds from 0 to 1000"));
        assert_eq!((c.headers, c.truth_file.as_ref(), c.truth_window_seconds), (true, None, 60));
        assert!(c.stores.is_empty(), "all stores");
        let c = run(&["--max-in-flight=1", "--batch-size=1", "--stores=store-003, STORE-001"], &[]).unwrap();
        assert_eq!((c.kafka.max_in_flight, c.kafka.batch_size), (1, 1));
        assert_eq!(c.stores, ["STORE-003", "STORE-001"]);
        let c = run(&[], &[("KAFKA_MAX_IN_FLIGHT", "3"), ("PRODUCER_HEADERS", "false")]).unwrap();
        assert_eq!((c.kafka.max_in_flight, c.headers), (3, false));
        assert_eq!(
            err(&["--max-in-flight=6"], &[]),
            "invalid --max-in-flight \"6\": expected a whole number of requests from 1 to 5"
        );
        assert_eq!(
            err(&[], &[("KAFKA_BATCH_SIZE", "0")]),
            "invalid KAFKA_BATCH_SIZE \"0\": expected a whole number of bytes from 1 to 1073741824"
        );
        assert!(err(&["--stores=STORE-001,"], &[]).contains("a comma list of different store ids"));
        assert!(err(&["--truth-window-seconds=86401"], &[]).contains("from 1 to 86400"));
    }

    #[test]
    fn rate_profile_and_faults_have_defaults_and_bounds() {
        let c = run(&[], &[]).unwrap();
        assert_eq!(c.rate_profile, RateProfile::Flat);
        assert_eq!(
            c.faults,
            Faults { late: 0.0, late_seconds: 300.0, duplicate: 0.0, malformed: 0.0, out_of_order: 0.0 }
        );
        assert_eq!(c.truth_watermark_seconds, 120);
        let c = run(
            &["--rate-profile=retail-day", "--late-probability=0.1", "--late-seconds=90"],
            &[
                ("PRODUCER_DUPLICATE_PROBABILITY", "0.2"),
                ("PRODUCER_MALFORMED_PROBABILITY", "0.3"),
                ("PRODUCER_OUT_OF_ORDER_PROBABILITY", "1"),
                ("PRODUCER_TRUTH_WATERMARK_SECONDS", "0"),
            ],
        )
        .unwrap();
        assert_eq!(c.rate_profile, RateProfile::RetailDay);
        assert_eq!(
            c.faults,
            Faults { late: 0.1, late_seconds: 90.0, duplicate: 0.2, malformed: 0.3, out_of_order: 1.0 }
        );
        assert_eq!(c.truth_watermark_seconds, 0);
        assert_eq!(
            err(&["--rate-profile=weekly"], &[]),
            "invalid --rate-profile \"weekly\": expected `flat` or `retail-day`"
        );
        assert!(
            err(&["--rate-profile=retail-day", "--sleep-seconds=0"], &[]).contains("needs PRODUCER_SLEEP_SECONDS > 0")
        );
        assert_eq!(
            err(&[], &[("PRODUCER_MALFORMED_PROBABILITY", "1.5")]),
            "invalid PRODUCER_MALFORMED_PROBABILITY \"1.5\": expected a probability from 0 to 1"
        );
        assert!(err(&["--late-seconds=-1"], &[]).contains("--late-seconds"));
        assert!(err(&["--truth-watermark-seconds=86401"], &[]).contains("from 0 to 86400"));
    }

    #[test]
    fn create_topics_takes_a_replication_factor_and_excludes_a_dry_run() {
        let c = run(&["--create-topics", "--topic-replication-factor=3"], &[]).unwrap();
        assert!(c.create_topics);
        assert_eq!(c.kafka.topic_replication, Some(3));
        assert_eq!(run(&[], &[]).unwrap().kafka.topic_replication, None);
        assert!(err(&["--topic-replication-factor=0"], &[]).contains("a whole number of replicas from 1"));
        assert!(err(&["--create-topics", "--dry-run"], &[]).contains("exclude each other"));
    }

    #[test]
    fn the_password_file_loses_its_trailing_newline_only() {
        let dir = std::env::temp_dir().join(format!("pos-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("password");
        std::fs::write(&file, " two words \n").unwrap();
        let env = [
            ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            ("KAFKA_SASL_USERNAME", "alice"),
            ("KAFKA_SASL_PASSWORD_FILE", file.to_str().unwrap()),
        ];
        let c = run(&[], &env).unwrap();
        assert_eq!(c.kafka.security.sasl.unwrap().password.expose(), " two words ");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_request_timeout_longer_than_the_delivery_timeout_is_cut_to_it_with_a_warning() {
        let c = run(&[], &[("KAFKA_DELIVERY_TIMEOUT_MS", "5000")]).unwrap();
        assert_eq!(c.kafka.request_timeout, Duration::from_millis(5000));
        assert_eq!(
            c.warnings,
            [
                "KAFKA_REQUEST_TIMEOUT_MS 30000 is longer than KAFKA_DELIVERY_TIMEOUT_MS 5000: requests wait at most 5000 ms"
            ]
        );
        let c = run(&["--request-timeout-ms=2000"], &[("KAFKA_DELIVERY_TIMEOUT_MS", "5000")]).unwrap();
        assert_eq!(c.kafka.request_timeout, Duration::from_millis(2000));
        assert!(c.warnings.is_empty());
        assert!(run(&[], &[]).unwrap().warnings.is_empty());
    }

    #[test]
    fn misspelt_variables_get_a_warning_with_the_closest_name() {
        let names = ["PRODUCER_SLEEP_SECOND", "KAFKA_BOOTSTRAP_SERVER", "PRODUCER_SEED", "HOME", "KAFKA_HEAP_OPTS"];
        assert_eq!(
            unknown_variables(names.iter().map(|s| s.to_string())),
            [
                "unknown variable KAFKA_BOOTSTRAP_SERVER is ignored; did you mean KAFKA_BOOTSTRAP_SERVERS? (see --help)",
                "unknown variable KAFKA_HEAP_OPTS is ignored (see --help for the variables pos-producer reads)",
                "unknown variable PRODUCER_SLEEP_SECOND is ignored; did you mean PRODUCER_SLEEP_SECONDS? (see --help)",
            ]
        );
    }

    #[test]
    fn defaults_are_the_old_services() {
        let c = run(&[], &[]).unwrap();
        assert_eq!(c.kafka.bootstrap_servers, ["kafka:9092"]);
        assert_eq!((c.topic.as_str(), c.topic_refunds.as_str()), ("transactions", "refunds"));
        assert_eq!(c.sleep_seconds, 1.0);
        assert_eq!(c.refund_probability, 0.1);
        assert_eq!(c.interval(), Duration::from_secs(1));
        assert!(!c.simulated_time() && c.log_events && !c.dry_run);
        assert_eq!(c.stats_every, Some(Duration::from_secs(10)));
        assert_eq!((c.max_events, c.max_duration, c.seed), (None, None, None));
        assert_eq!((c.kafka.acks, c.kafka.idempotence), (Acks::All, true));
        assert_eq!(c.kafka.delivery_timeout, Duration::from_secs(120));
        assert_eq!((c.kafka.compression, c.kafka.client_id.as_str()), (Compression::None, "pos-producer"));
    }

    #[test]
    fn id_start_and_instance_parse_and_bad_values_are_refused() {
        let c = run(&[], &[]).unwrap();
        assert_eq!((c.id_start, c.instance), (IdStart::Resume, Instance::ONLY));
        let c = run(&["--id-start=5001", "--instance", "2/3"], &[]).unwrap();
        assert_eq!((c.id_start, c.instance), (IdStart::From(5001), Instance { k: 2, n: 3 }));
        let c = run(&[], &[("PRODUCER_ID_START", "RESUME"), ("PRODUCER_INSTANCE", "3/3")]).unwrap();
        assert_eq!((c.id_start, c.instance), (IdStart::Resume, Instance { k: 3, n: 3 }));
        for bad in ["0/3", "4/3", "x", "1/0", "1", "-1/3", "1/3/5", ""] {
            let e = err(&[], &[("PRODUCER_INSTANCE", bad)]);
            assert!(e.starts_with(&format!("invalid PRODUCER_INSTANCE {bad:?}: expected k/n")), "{e}");
        }
        for bad in ["0", "-5", "next", "1.5", "9007199254740992"] {
            let e = err(&[&format!("--id-start={bad}")], &[]);
            assert!(e.starts_with(&format!("invalid --id-start {bad:?}: expected `resume` or")), "{e}");
        }
    }

    #[test]
    fn an_instance_owns_every_nth_id() {
        let i = Instance { k: 2, n: 3 };
        assert_eq!((1..=9).filter(|id| i.owns(*id)).collect::<Vec<_>>(), [2, 5, 8]);
        assert_eq!((i.first_from(1), i.first_from(5), i.first_from(6)), (Some(2), Some(5), Some(8)));
        assert_eq!((i.after(0), i.after(2), i.after(4)), (Some(2), Some(5), Some(5)));
        let last = Instance { k: 3, n: 3 };
        assert_eq!(
            (last.owns(3), last.owns(6), last.owns(0), last.after(0), last.after(3)),
            (true, true, false, Some(3), Some(6))
        );
        assert_eq!(
            (Instance::ONLY.after(0), Instance::ONLY.after(41), Instance::ONLY.first_from(7)),
            (Some(1), Some(42), Some(7))
        );
        assert_eq!(Instance { k: 2, n: 2 }.first_from(u64::MAX), None);
    }

    #[test]
    fn flags_beat_variables_in_both_forms() {
        let env = [("KAFKA_TOPIC", "from-env"), ("PRODUCER_SLEEP_SECONDS", "5")];
        let c = run(&["--topic=from-flag", "--sleep-seconds", "0.5", "--dry-run"], &env).unwrap();
        assert_eq!(c.topic, "from-flag");
        assert_eq!(c.sleep_seconds, 0.5);
        assert!(c.dry_run);
        let c = run(&[], &env).unwrap();
        assert_eq!((c.topic.as_str(), c.sleep_seconds), ("from-env", 5.0));
    }

    #[test]
    fn new_options_parse() {
        let env = [
            ("PRODUCER_SEED", "42"),
            ("PRODUCER_START_TIME", "2025-01-01T00:00:00Z"),
            ("PRODUCER_SPEEDUP", "max"),
            ("PRODUCER_MAX_EVENTS", "86400"),
            ("PRODUCER_MAX_SECONDS", "2.5"),
            ("PRODUCER_LOG_EVENTS", "false"),
            ("PRODUCER_STATS_SECONDS", "0"),
            ("KAFKA_ACKS", "1"),
            ("KAFKA_COMPRESSION", "snappy"),
            ("KAFKA_TOPIC_PARTITIONS", "6"),
            ("KAFKA_BOOTSTRAP_SERVERS", "a:1, b:2,[::1]:9092"),
        ];
        let c = run(&[], &env).unwrap();
        assert_eq!(c.seed, Some(42));
        assert_eq!(c.start_time_ms, Some(1_735_689_600_000));
        assert_eq!(c.speedup, Speedup::Max);
        assert_eq!(c.interval(), Duration::ZERO);
        assert!(c.simulated_time());
        assert_eq!(c.max_events, Some(86_400));
        assert_eq!(c.max_duration, Some(Duration::from_millis(2500)));
        assert!(!c.log_events);
        assert_eq!(c.stats_every, None);
        assert_eq!(c.kafka.acks, Acks::Leader);
        assert!(!c.kafka.idempotence, "idempotence quietly off with acks=1 unless asked for");
        assert_eq!(c.kafka.compression, Compression::Snappy);
        assert_eq!(c.kafka.topic_partitions, Some(6));
        assert_eq!(c.kafka.bootstrap_servers, ["a:1", "b:2", "[::1]:9092"]);
        let c = run(&["--speedup=4", "--sleep-seconds=2"], &[]).unwrap();
        assert_eq!(c.interval(), Duration::from_millis(500));
        assert!(c.simulated_time(), "a speedup needs a simulated clock");
    }

    #[test]
    fn bad_numbers_name_the_variable_the_value_and_what_is_allowed() {
        for bad in ["abc", "-1", "NaN", "inf", "-inf", "", "1e99"] {
            assert_eq!(
                err(&[], &[("PRODUCER_SLEEP_SECONDS", bad)]),
                format!("invalid PRODUCER_SLEEP_SECONDS {bad:?}: expected a number of seconds from 0 to 31536000")
            );
        }
        for bad in ["1.5", "-0.1", "NaN", "x"] {
            assert_eq!(
                err(&[], &[("REFUND_PROBABILITY", bad)]),
                format!("invalid REFUND_PROBABILITY {bad:?}: expected a probability from 0 to 1")
            );
        }
        assert_eq!(
            err(&["--refund-probability=2"], &[]),
            "invalid --refund-probability \"2\": expected a probability from 0 to 1"
        );
        for (var, bad) in [
            ("PRODUCER_MAX_EVENTS", "-5"),
            ("PRODUCER_MAX_EVENTS", "1.5"),
            ("PRODUCER_SEED", "-1"),
            ("PRODUCER_SEED", "seed"),
            ("PRODUCER_SEED", "18446744073709551616"),
        ] {
            assert!(err(&[], &[(var, bad)]).starts_with(&format!("invalid {var} {bad:?}: expected a whole number")));
        }
        for bad in ["0", "-2", "fast", "NaN"] {
            assert!(
                err(&[], &[("PRODUCER_SPEEDUP", bad)]).contains("expected a number > 0 (times real time) or `max`")
            );
        }
        for bad in ["0", "-1", "1.5", "3000000000"] {
            assert!(err(&[], &[("KAFKA_DELIVERY_TIMEOUT_MS", bad)]).contains("milliseconds"));
        }
        assert!(err(&[], &[("KAFKA_TOPIC_PARTITIONS", "0")]).contains("partitions"));
    }

    #[test]
    fn bad_topics_are_rejected() {
        for bad in ["", ".", "..", "has space", "slash/no", "ü", &"x".repeat(250)] {
            let msg = err(&[], &[("KAFKA_TOPIC", bad)]);
            assert!(msg.starts_with("invalid KAFKA_TOPIC"), "{msg}");
            assert!(msg.contains("[a-zA-Z0-9._-]"), "{msg}");
        }
        assert!(run(&[], &[("KAFKA_TOPIC", &"x".repeat(249))]).is_ok());
        assert!(run(&["--topic=pos.tx-v1_a"], &[]).is_ok());
        assert!(err(&["--topic-refunds=a", "--topic=a"], &[]).contains("need two different topics"));
    }

    #[test]
    fn bad_bootstrap_entries_are_rejected() {
        for bad in ["kafka", "kafka:", "kafka:0", "kafka:65536", ":9092", "a:1,", "a:1,,b:2", "", "k:x"] {
            let msg = err(&[], &[("KAFKA_BOOTSTRAP_SERVERS", bad)]);
            assert!(
                msg.starts_with(&format!("invalid KAFKA_BOOTSTRAP_SERVERS {bad:?}: expected a comma list")),
                "{msg}"
            );
        }
    }

    #[test]
    fn bad_times_booleans_and_enums() {
        assert_eq!(
            err(&[], &[("PRODUCER_START_TIME", "2025-01-01 00:00:00")]),
            "invalid PRODUCER_START_TIME \"2025-01-01 00:00:00\": expected an RFC 3339 time such as 2025-01-01T00:00:00Z"
        );
        for bad in ["yes", "TRUEISH", "2", ""] {
            assert_eq!(
                err(&[], &[("PRODUCER_DRY_RUN", bad)]),
                format!("invalid PRODUCER_DRY_RUN {bad:?}: expected true, false, 1 or 0")
            );
        }
        assert!(run(&["--dry-run=TRUE"], &[]).unwrap().dry_run);
        assert!(!run(&["--dry-run=0"], &[]).unwrap().dry_run);
        assert!(err(&[], &[("KAFKA_ACKS", "2")]).contains("expected all, -1, 1 or 0"));
        assert!(err(&[], &[("KAFKA_COMPRESSION", "brotli")]).contains("expected none, gzip, snappy, lz4 or zstd"));
        assert!(err(&[], &[("KAFKA_CLIENT_ID", "a b")]).contains("KAFKA_CLIENT_ID"));
        assert_eq!(
            err(&[], &[("KAFKA_PROTOCOL_CAP", "0.8")]),
            "invalid KAFKA_PROTOCOL_CAP \"0.8\": expected `2.1` (the only cap known), or unset"
        );
        assert_eq!(run(&["--protocol-cap=2.1"], &[]).unwrap().kafka.protocol_cap, Some(ProtocolCap::Kafka2_1));
        assert_eq!(run(&[], &[]).unwrap().kafka.protocol_cap, None);
    }

    #[test]
    fn idempotence_asked_for_with_weak_acks_is_a_conflict() {
        let msg = err(&[], &[("KAFKA_IDEMPOTENCE", "true"), ("KAFKA_ACKS", "0")]);
        assert_eq!(
            msg,
            "KAFKA_IDEMPOTENCE=true needs acks=all, but KAFKA_ACKS is \"0\"; set KAFKA_IDEMPOTENCE=false to use weaker acks"
        );
        let c = run(&[], &[("KAFKA_IDEMPOTENCE", "false"), ("KAFKA_ACKS", "0")]).unwrap();
        assert_eq!((c.kafka.acks, c.kafka.idempotence), (Acks::None, false));
    }

    #[test]
    fn unknown_flags_suggest_the_closest() {
        assert_eq!(
            err(&["--sleep-second=1"], &[]),
            "unknown flag --sleep-second; did you mean --sleep-seconds? (see --help)"
        );
        assert_eq!(err(&["--dryrun"], &[]), "unknown flag --dryrun; did you mean --dry-run? (see --help)");
        assert_eq!(err(&["--zzzzzzzzzzzzzzzzzzzzzz"], &[]), "unknown flag --zzzzzzzzzzzzzzzzzzzzzz (see --help)");
        assert_eq!(err(&["--topic"], &[]), "flag --topic needs a value (see --help)");
        assert!(err(&["stray"], &[]).starts_with("unexpected argument \"stray\""));
    }

    #[test]
    fn help_lists_every_flag_variable_and_default() {
        let h = help();
        for o in OPTIONS {
            assert!(h.contains(&format!("--{}", o.flag)) && h.contains(o.env), "{}", o.flag);
        }
        assert!(h.contains("[default: kafka:9092]") && h.contains("[default: 0.1]"));
        let none = |_: &str| None;
        assert!(matches!(parse(["--help".to_string()], none), Ok(Command::Help)));
        assert!(matches!(parse(["-V".to_string()], none), Ok(Command::Version)));
    }
}
