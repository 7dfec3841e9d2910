//! A small synchronous Kafka producer over `std::net`, with `kafka-protocol` as the wire codec.
//!
//! Layers, bottom up: `connection` (framing, ApiVersions; `dial` connects, `wait` bounds every
//! wait by the request timeout and the work's deadline) → `client` (brokers, metadata, topic
//! creation) → `producer` (partitioning, record batches, requests in flight, acks, idempotence,
//! retries; `txn` for transactions) and `tail` (reading topics back from their end, through
//! `records`). `versions`, `partitioner`, `backoff`, `window` (the requests in flight),
//! `fasthash` (the hash of the maps looked up per request) and `header` (the request header,
//! written by hand) are the pure parts, unit-tested alone.
//!
//! The client owns its settings (`settings`: what to connect to, how to produce, security,
//! transactions, in its own types); the application's `config` builds them. This module
//! imports only `diag`, `shutdown` and external crates.
//!
//! References: <https://kafka.apache.org/protocol>, `shared/design/kafka-client.md`.

pub mod backoff;
pub mod batch;
pub mod client;
pub mod compression;
pub mod connection;
pub mod dial;
pub mod fasthash;
pub mod header;
pub mod partitioner;
pub mod producer;
pub mod records;
#[cfg(feature = "tls")]
pub mod sasl;
#[cfg(feature = "tls")]
pub mod scram;
pub mod settings;
pub mod tail;
pub mod telemetry;
#[cfg(feature = "tls")]
pub mod tls;
pub mod topics;
pub mod transport;
pub mod txn;
pub mod versions;
pub mod wait;
pub mod window;
pub mod wire;

use std::fmt;
use std::time::Duration;

use kafka_protocol::error::ResponseError;

pub use connection::ConnectionError;
pub use producer::{Producer, Record};
pub use settings::Settings;

/// Security prepared from the configuration before anything connects: the TLS files read and
/// checked, the crypto provider picked for this CPU. Its errors are configuration errors (exit 2).
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    #[cfg(feature = "tls")]
    pub tls: Option<tls::Tls>,
    pub sasl: Option<settings::Sasl>,
}

impl Prepared {
    /// The crypto provider TLS uses, if TLS is on (for the banner).
    pub fn crypto(&self) -> Option<&'static str> {
        #[cfg(feature = "tls")]
        {
            self.tls.as_ref().map(tls::Tls::crypto)
        }
        #[cfg(not(feature = "tls"))]
        {
            None
        }
    }
}

/// Prepares `security` for every connection, or says in one line why it cannot be used.
pub fn prepare(security: &settings::Security) -> Result<Prepared, String> {
    if security.protocol == settings::Protocol::Plaintext {
        return Ok(Prepared::default());
    }
    #[cfg(feature = "tls")]
    {
        let tls = security.tls.as_ref().map(tls::Tls::new).transpose()?;
        Ok(Prepared { tls, sasl: security.sasl.clone() })
    }
    #[cfg(not(feature = "tls"))]
    {
        Err(format!(
            "KAFKA_SECURITY_PROTOCOL={} needs TLS or SASL, and this build has neither (built without the `tls` \
             cargo feature): use a default build",
            security.protocol.name()
        ))
    }
}

const INVALID_TIMESTAMP: i16 = 32;
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const UNKNOWN_PRODUCER_ID: i16 = 59;

/// What ends a Kafka run. Each variant carries what a user needs to act on it.
#[derive(Debug)]
pub enum KafkaError {
    /// A connection failed in a way a retry cannot fix (bad response, unsupported broker).
    Connection(ConnectionError),
    /// None of the bootstrap servers resolves to an address.
    Unresolvable { servers: String, last: ConnectionError },
    /// The broker refused a topic (bad name, no authorization, bad partition count, ...).
    TopicRejected { topic: String, code: i16, message: Option<String> },
    /// The broker answered a request with an error no retry can fix.
    Broker { what: String, code: i16, message: Option<String> },
    /// One record is larger than the broker accepts for its topic.
    RecordTooLarge { topic: String, partition: i32, bytes: usize },
    /// Events were still unacknowledged when the delivery timeout ran out.
    DeliveryTimeout { after: Duration, unacked: usize, last: String },
    /// Start-up could not finish within the delivery timeout (`what`: e.g. "topics").
    NotReady { what: &'static str, last: String },
    /// A topic's tail holds a batch this client cannot read (an old format, corrupt).
    Unreadable { topic: String, partition: i32, reason: String },
    /// A stop was asked for; `unacked` events were abandoned without an acknowledgement.
    Stopped { unacked: usize },
    /// Another producer registered this producer's transactional id (KIP-98 fencing).
    Fenced { owner: String, transactional_id: String },
    /// Transactions were required and cannot be used (the reason, in words).
    TransactionsRefused(String),
}

impl fmt::Display for KafkaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KafkaError::Connection(e) => e.fmt(f),
            KafkaError::Unresolvable { servers, last } => {
                write!(
                    f,
                    "no bootstrap server in {servers:?} resolves to an address within the delivery timeout ({last})"
                )
            }
            KafkaError::TopicRejected { topic, code, message } => {
                write!(f, "the broker rejected topic {topic:?}: {}{}", error_name(*code), detail(message))
            }
            KafkaError::Broker { what, code, message } => {
                write!(f, "{what} failed: {}{}", error_name(*code), detail(message))?;
                if *code == UNKNOWN_PRODUCER_ID || *code == OUT_OF_ORDER_SEQUENCE_NUMBER {
                    // Retrying under a new producer id could write an event twice: stop instead.
                    f.write_str(
                        "; the broker lost this idempotent producer's state (Kafka before 2.4 does so for batches \
                         stamped more than transactional.id.expiration.ms ago when it reloads a log), so a retry \
                         could duplicate events; restart pos-producer to continue",
                    )?;
                }
                if *code == INVALID_TIMESTAMP {
                    // Kafka 4.0 rejects timestamps over an hour ahead of the broker's clock by default.
                    f.write_str(
                        "; event times must lie within the topic's message.timestamp.before/after.max.ms of the \
                         broker's clock: set PRODUCER_START_TIME earlier or lower PRODUCER_SPEEDUP",
                    )?;
                }
                Ok(())
            }
            KafkaError::RecordTooLarge { topic, partition, bytes } => write!(
                f,
                "a record batch of {bytes} bytes for topic {topic:?} partition {partition} is larger than \
                 the broker accepts (MESSAGE_TOO_LARGE; see the topic's max.message.bytes)"
            ),
            KafkaError::DeliveryTimeout { after, unacked, last } => write!(
                f,
                "delivery timed out after {} ms: {unacked} events not acknowledged (they may have been written; \
                 last error: {last})",
                after.as_millis()
            ),
            KafkaError::NotReady { what, last } => {
                write!(f, "{what} not ready within the delivery timeout (last: {last})")
            }
            KafkaError::Unreadable { topic, partition, reason } => write!(
                f,
                "cannot read the tail of {topic}[{partition}] to resume ids: {reason}; set PRODUCER_ID_START=N \
                 to choose where ids start"
            ),
            KafkaError::Stopped { unacked } => {
                write!(f, "stopped with {unacked} events not acknowledged")
            }
            KafkaError::Fenced { owner, transactional_id } => {
                write!(f, "another producer took over {owner} (transactional id {transactional_id:?}); this one stops")
            }
            KafkaError::TransactionsRefused(why) => {
                write!(f, "KAFKA_TRANSACTIONS=on, but transactions cannot be used: {why}")
            }
        }
    }
}

impl std::error::Error for KafkaError {}

impl From<ConnectionError> for KafkaError {
    fn from(e: ConnectionError) -> KafkaError {
        match e {
            ConnectionError::Stopped => KafkaError::Stopped { unacked: 0 },
            e => KafkaError::Connection(e),
        }
    }
}

fn detail(message: &Option<String>) -> String {
    match message.as_deref() {
        Some(m) if !m.is_empty() => format!(" ({m})"),
        _ => String::new(),
    }
}

/// Kafka's own name for an error code, e.g. `UNKNOWN_TOPIC_OR_PARTITION (3)`.
pub fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE (0)".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE ({c})"),
        Some(e) => {
            let mut name = String::new();
            for (i, ch) in e.to_string().chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    name.push('_');
                }
                name.push(ch.to_ascii_uppercase());
            }
            format!("{name} ({code})")
        }
    }
}

/// Whether a retry may cure a broker error code.
pub fn is_retriable(code: i16) -> bool {
    ResponseError::try_from_code(code).is_some_and(|e| e.is_retriable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_kafkas() {
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION (3)");
        assert_eq!(error_name(10), "MESSAGE_TOO_LARGE (10)");
        assert_eq!(error_name(17), "INVALID_TOPIC_EXCEPTION (17)");
        assert_eq!(error_name(999), "UNKNOWN_ERROR_CODE (999)");
    }

    #[test]
    fn retriable_codes_follow_the_java_client() {
        for code in [2, 3, 5, 6, 7, 13, 19, 20, 56] {
            assert!(is_retriable(code), "{code}");
        }
        for code in [0, 10, 17, 29, 45, 87, 999] {
            assert!(!is_retriable(code), "{code}");
        }
    }
}
