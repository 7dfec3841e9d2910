//! The Kafka client's settings: everything it needs to connect, produce and commit, in its own
//! types. The application's configuration (`config`) builds them from the environment and the
//! flags; nothing here knows where a value came from, except the setting's name that a file or
//! a secret carries for its error messages.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// An upper bound on the API versions spoken, named after the Kafka release that introduced
/// them: for a proxy or Kafka-compatible server that mishandles newer versions, and for testing
/// the older encodings against current brokers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolCap {
    Kafka2_1,
}

/// Everything the Kafka producer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
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

/// `KAFKA_TRANSACTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnMode {
    /// Transactions where the cluster and the principal's ACLs allow them, else the idempotent
    /// producer with one warning.
    Auto,
    /// Transactions or exit 1.
    On,
}

/// Transactions asked for (`auto` or `on`).
#[derive(Debug, Clone, PartialEq)]
pub struct Transactions {
    pub mode: TxnMode,
    pub id: String,
    /// Who this producer is, for the line that says it was fenced: `instance 1/3`.
    pub owner: String,
    pub commit_interval: Duration,
    /// The fault `PRODUCER_ABORT_PROBABILITY`: chance per transaction that it is aborted.
    pub abort_probability: f64,
}

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Plaintext => "PLAINTEXT",
            Protocol::Ssl => "SSL",
            Protocol::SaslPlaintext => "SASL_PLAINTEXT",
            Protocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn tls(self) -> bool {
        matches!(self, Protocol::Ssl | Protocol::SaslSsl)
    }

    pub fn sasl(self) -> bool {
        matches!(self, Protocol::SaslPlaintext | Protocol::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// A password: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The password itself, for the authentication exchange only.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(password: String) -> Secret {
        Secret(password)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// SASL credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: Secret,
}

/// The TLS files, each with the variable or flag that named it (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CAs to trust, as PEM (`ca`) or a PKCS#12 truststore; neither: the Mozilla roots.
    pub ca: Option<(String, PathBuf)>,
    pub truststore: Option<StoreFile>,
    /// The client's certificate and key (mutual TLS), as PEM files or a PKCS#12 keystore.
    pub certificate: Option<(String, PathBuf)>,
    pub key: Option<(String, PathBuf)>,
    pub keystore: Option<StoreFile>,
    /// The password of an encrypted PEM key, or of the keystore's key when it has its own.
    pub key_password: Option<(String, Secret)>,
    /// Check that the broker's certificate names the host connected to.
    pub verify_hostname: bool,
    /// Which crypto provider TLS uses.
    pub crypto: Crypto,
}

/// `KAFKA_SSL_PROVIDER`: the crypto under TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crypto {
    /// graviola where this CPU has the instructions it needs, else the portable provider.
    Auto,
    Graviola,
    Portable,
}

/// A PKCS#12 store: the setting that named it, its path, its password and that password's
/// setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFile {
    pub name: String,
    pub path: PathBuf,
    pub password: Option<(String, Secret)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    pub protocol: Protocol,
    pub sasl: Option<Sasl>,
    pub tls: Option<TlsFiles>,
}
