//! The two topics: made sure to exist before producing, and on their own as an init step
//! (`--create-topics`) that lets a consumer start before the first event.

use std::time::Instant;

use super::client::{Client, ClientConfig};
use super::connection::Settings;
use super::settings;
use super::{KafkaError, Prepared};
use crate::shutdown::Stop;

/// A client connected to the cluster, with every topic existing and led, and the start-up
/// deadline (the delivery timeout from the first broker's answer) that it keeps for what
/// follows the topics (the producer id).
pub fn ready_client(
    config: &settings::Settings,
    security: Prepared,
    topics: &[String],
    stop: Stop,
) -> Result<(Client, Instant), KafkaError> {
    let client_config = ClientConfig {
        bootstrap_servers: config.bootstrap_servers.clone(),
        connection: Settings {
            client_id: config.client_id.clone(),
            timeout: config.request_timeout,
            protocol_cap: config.protocol_cap,
            #[cfg(feature = "tls")]
            tls: security.tls,
        },
        replication: config.topic_replication,
        sasl: security.sasl,
        resolve_timeout: config.delivery_timeout,
    };
    let mut client = Client::bootstrap(client_config, stop)?;
    let deadline = Instant::now() + config.delivery_timeout;
    client.set_deadline(Some(deadline));
    client.ensure_topics(topics, config.topic_partitions, deadline)?;
    Ok((client, deadline))
}

/// What `--create-topics` found or did for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicState {
    pub name: String,
    pub created: bool,
    pub partitions: usize,
    pub replication: Option<usize>,
}

impl std::fmt::Display for TopicState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.created { "created" } else { "already exists" };
        write!(f, "topic {:?} {what} with {} partitions", self.name, self.partitions)?;
        match self.replication {
            Some(r) => write!(f, ", replication factor {r}"),
            None => Ok(()),
        }
    }
}

/// Makes sure every topic exists (creating the missing ones with KAFKA_TOPIC_PARTITIONS and
/// KAFKA_TOPIC_REPLICATION_FACTOR), and says what each is now, with any partition warnings.
pub fn create(
    config: &settings::Settings,
    security: Prepared,
    topics: &[String],
    stop: Stop,
) -> Result<(Vec<TopicState>, Vec<String>), KafkaError> {
    let (client, _) = ready_client(config, security, topics, stop)?;
    let states = topics
        .iter()
        .map(|t| TopicState {
            name: t.clone(),
            created: client.created(t),
            partitions: client.leaders(t).len(),
            replication: client.replication_factor(t),
        })
        .collect();
    Ok((states, partition_warnings(&client, topics, config.topic_partitions)))
}

/// Refunds are keyed by their sale's id so that both land in the same partition number of their
/// topics; that holds only when both topics have as many partitions. Also: topics that exist
/// with another count than the one asked for (which applies only to topics created here).
pub fn partition_warnings(client: &Client, topics: &[String], asked: Option<i32>) -> Vec<String> {
    let counts: Vec<usize> = topics.iter().map(|t| client.leaders(t).len()).collect();
    let mut out = Vec::new();
    if let Some(asked) = asked {
        for (topic, &n) in topics.iter().zip(&counts) {
            if n != asked as usize {
                out.push(format!(
                    "topic {topic:?} exists with {n} partitions, not the {asked} of KAFKA_TOPIC_PARTITIONS \
                     (which applies only to topics pos-producer creates)"
                ));
            }
        }
    }
    if let [sales, refunds] = counts[..]
        && sales != refunds
    {
        out.push(format!(
            "topic {:?} has {sales} partitions but {:?} has {refunds}: a refund will often land in another \
             partition number than its sale, so consumers that join them per partition miss pairs",
            topics[0], topics[1]
        ));
    }
    out
}
