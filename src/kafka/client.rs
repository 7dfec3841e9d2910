//! The cluster as this producer sees it: bootstrap, brokers, partition leaders, topic creation.
//!
//! References: Kafka protocol guide (Metadata, CreateTopics); KIP-487 (Metadata v4+ lets the
//! client turn auto-creation off); KIP-464 (CreateTopics v4+ takes the broker's defaults as -1).

use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, CreateTopicsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::backoff::{Backoff, NoRetry};
use super::connection::{Connection, ConnectionError, Settings};
use super::fasthash::{FastMap, FastSet};
use super::wire::{CreateTopicsResponse, MetadataResponse};
use super::{KafkaError, error_name, is_retriable};
use crate::diag::diag;
use crate::shutdown::Stop;

const TOPIC_ALREADY_EXISTS: i16 = 36;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub bootstrap_servers: Vec<String>,
    pub connection: Settings,
    /// Replication factor of the topics this client creates (`None`: the broker's default).
    pub replication: Option<i16>,
    /// SASL credentials every connection authenticates with (`None`: no SASL).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub sasl: Option<super::settings::Sasl>,
    /// How long bootstrap names may fail to resolve (or a protocol mismatch is suspected)
    /// before giving up.
    pub resolve_timeout: Duration,
}

/// Which connection a request went over, so a failed one can be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    /// A connection to a bootstrap address, before the broker's node id is known.
    Bootstrap,
    Node(i32),
    /// A second connection to a node, for requests that must not queue behind (or read the
    /// answers of) the produce requests pipelined on its first: the transaction coordinator's.
    Side(i32),
}

pub struct Client {
    config: ClientConfig,
    stop: Stop,
    conns: FastMap<Slot, Connection>,
    /// Node id → `host:port`, from the latest metadata.
    brokers: FastMap<i32, String>,
    /// Topic → leader node id of each partition (index = partition; -1 = none).
    leaders: FastMap<String, Vec<i32>>,
    /// Topics that existed and that the latest metadata says are gone (deleted).
    gone: FastSet<String>,
    /// Topic → replicas of its first partition (its replication factor), as last seen.
    replicas: FastMap<String, usize>,
    /// Topics this client created.
    created: Vec<String>,
    /// When metadata was last fetched.
    refreshed: Option<Instant>,
    controller: i32,
    next_bootstrap: usize,
    /// No connect or request lasts past this (the delivery timeout of the work under way).
    deadline: Option<Instant>,
}

impl Client {
    /// Connects to the first bootstrap server that answers. While none does, retries with capped
    /// backoff, one line per attempt, until a stop: the producer may start before its broker.
    /// Names that do not resolve are retried too (container DNS often lags), and so are ports
    /// that seem to speak another protocol (TLS or not), but only for `config.resolve_timeout`:
    /// then it is most likely a typo or a wrong KAFKA_SECURITY_PROTOCOL.
    pub fn bootstrap(config: ClientConfig, stop: Stop) -> Result<Client, KafkaError> {
        let mut client = Client {
            config,
            stop,
            conns: FastMap::default(),
            brokers: FastMap::default(),
            leaders: FastMap::default(),
            gone: FastSet::default(),
            replicas: FastMap::default(),
            created: Vec::new(),
            refreshed: None,
            controller: -1,
            next_bootstrap: 0,
            deadline: None,
        };
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let mut unresolvable_since: Option<Instant> = None;
        for attempt in 1.. {
            let e = match client.open_bootstrap() {
                Ok(()) => return Ok(client),
                Err(ConnectionError::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
                Err(e) if !e.is_retriable() => return Err(e.into()),
                Err(e) => e,
            };
            let wait = backoff.next_wait();
            // A name that does not resolve, or a port that speaks another protocol, may be a
            // broker still starting; past the delivery timeout it is a mistake in the settings.
            if matches!(e, ConnectionError::Resolve { .. } | ConnectionError::Mismatch { .. }) {
                let since = *unresolvable_since.get_or_insert_with(Instant::now);
                if since.elapsed() + wait > client.config.resolve_timeout {
                    if matches!(e, ConnectionError::Mismatch { .. }) {
                        return Err(KafkaError::Connection(e));
                    }
                    let servers = client.config.bootstrap_servers.join(",");
                    return Err(KafkaError::Unresolvable { servers, last: e });
                }
            } else {
                unresolvable_since = None;
            }
            diag!("no broker answers yet (attempt {attempt}): {e}; retrying in {} ms", wait.as_millis());
            if !client.stop.sleep_until(Instant::now() + wait) {
                return Err(KafkaError::Stopped { unacked: 0 });
            }
        }
        unreachable!("the attempt counter is unbounded")
    }

    /// Tries every bootstrap server once, starting after the last one that worked. The error is
    /// a `Resolve` one only when no server's name resolved.
    fn open_bootstrap(&mut self) -> Result<(), ConnectionError> {
        let servers = self.config.bootstrap_servers.clone();
        let mut last: Option<ConnectionError> = None;
        for i in 0..servers.len() {
            let n = (self.next_bootstrap + i) % servers.len();
            match self.open(&servers[n]) {
                Ok(conn) => {
                    self.next_bootstrap = n;
                    self.conns.insert(Slot::Bootstrap, conn);
                    return Ok(());
                }
                Err(e) if !e.is_retriable() => return Err(e),
                Err(e) => {
                    if last.as_ref().is_none_or(|l| matches!(l, ConnectionError::Resolve { .. })) {
                        last = Some(e);
                    }
                }
            }
        }
        Err(last.expect("bootstrap_servers is never empty"))
    }

    fn open(&self, addr: &str) -> Result<Connection, ConnectionError> {
        #[allow(unused_mut)]
        let mut conn = Connection::open(addr, &self.config.connection, &self.stop, self.deadline)?;
        #[cfg(feature = "tls")]
        if let Some(sasl) = &self.config.sasl {
            let lifetime = super::sasl::authenticate(&mut conn, sasl)?;
            conn.set_session_lifetime(lifetime);
        }
        let v = conn.versions();
        let optional = |v: Option<i16>| v.map_or("-".to_string(), |v| format!("v{v}"));
        diag!(
            "connected to {addr}: Produce v{}, Metadata v{}, CreateTopics {}, InitProducerId {}",
            v.produce,
            v.metadata,
            optional(v.create_topics),
            optional(v.init_producer_id)
        );
        Ok(conn)
    }

    pub fn stop(&self) -> &Stop {
        &self.stop
    }

    /// Cuts every later connect and request short at `deadline` (`None`: each waits its own
    /// timeout), so that the delivery timeout is a deadline and not a sum of timeouts.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The deadline every connect and request is cut at, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether node `node`'s address is known.
    pub fn knows(&self, node: i32) -> bool {
        self.brokers.contains_key(&node)
    }

    /// Learns node `node`'s address from outside the metadata (FindCoordinator's answer).
    pub fn add_broker(&mut self, node: i32, host: &str, port: i32) {
        self.brokers.insert(node, format_addr(host, port));
    }

    /// Opens `slot`'s connection to node `node` unless it is open.
    fn open_slot(&mut self, slot: Slot, node: i32) -> Result<(), ConnectionError> {
        if !self.conns.contains_key(&slot) {
            let addr = self.brokers.get(&node).cloned().ok_or_else(|| ConnectionError::Connect {
                addr: format!("node {node}"),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "broker not in metadata"),
            })?;
            let conn = self.open(&addr)?;
            self.opened(slot, conn);
        }
        Ok(())
    }

    /// Runs `f` on a connection to node `node`, opening it if needed; drops it when `f` fails.
    pub fn with_broker<T>(
        &mut self,
        node: i32,
        f: impl FnOnce(&mut Connection) -> Result<T, ConnectionError>,
    ) -> Result<T, ConnectionError> {
        let slot = Slot::Node(node);
        self.open_slot(slot, node)?;
        self.run(slot, f)
    }

    /// Runs `f` on the open connection to node `node` (to read an answer to a request sent on
    /// it); an error when there is none. Drops the connection when `f` fails.
    pub fn with_open<T>(
        &mut self,
        node: i32,
        f: impl FnOnce(&mut Connection) -> Result<T, ConnectionError>,
    ) -> Result<T, ConnectionError> {
        let slot = Slot::Node(node);
        let Some(conn) = self.conns.get_mut(&slot) else {
            let addr = self.brokers.get(&node).cloned().unwrap_or_else(|| format!("node {node}"));
            let source = std::io::Error::new(std::io::ErrorKind::NotConnected, "the connection was closed");
            return Err(ConnectionError::Io { addr, source });
        };
        let result = f(conn);
        if result.is_err() {
            self.closed(slot);
        }
        result
    }

    /// Waits until the connection to `node` has an answer arriving, or `until` (see
    /// `Connection::wait_readable`); true also when there is no such connection (any more).
    pub fn readable(
        &mut self,
        node: i32,
        pending: &mut super::connection::Pending,
        until: Instant,
    ) -> Result<bool, ConnectionError> {
        match self.conns.get_mut(&Slot::Node(node)) {
            None => Ok(true),
            Some(conn) => {
                let result = conn.wait_readable(pending, until);
                if result.is_err() {
                    self.closed(Slot::Node(node));
                }
                result
            }
        }
    }

    /// Which connection to `node` is open (`Connection::serial`), if one is.
    pub fn connection_serial(&self, node: i32) -> Option<u64> {
        self.conns.get(&Slot::Node(node)).map(Connection::serial)
    }

    /// Whether the connection to `node` must have its answers read before it takes another
    /// request: its session is due for renewal (KIP-368), which needs a quiet connection.
    pub fn must_drain(&self, node: i32) -> bool {
        self.conns.get(&Slot::Node(node)).is_some_and(|c| c.reauth_due() && c.in_flight() > 0)
    }

    /// Runs `f` on the side connection to node `node` (see `Slot::Side`), opening it if needed;
    /// drops it when `f` fails.
    pub fn with_side<T>(
        &mut self,
        node: i32,
        f: impl FnOnce(&mut Connection) -> Result<T, ConnectionError>,
    ) -> Result<T, ConnectionError> {
        let slot = Slot::Side(node);
        self.open_slot(slot, node)?;
        self.run(slot, f)
    }

    /// Runs `f` on any connection with no request awaiting its answer: an open one, else a
    /// known broker (a side connection where its first is busy), else a bootstrap server.
    pub fn with_any<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> Result<T, ConnectionError>,
    ) -> Result<T, ConnectionError> {
        let idle = self.conns.iter().find(|(_, c)| c.in_flight() == 0).map(|(slot, _)| *slot);
        let slot = match idle {
            Some(slot) => slot,
            None => {
                let mut nodes: Vec<i32> = self.brokers.keys().copied().collect();
                nodes.sort_unstable();
                let mut opened = None;
                for node in nodes {
                    let slot =
                        if self.conns.contains_key(&Slot::Node(node)) { Slot::Side(node) } else { Slot::Node(node) };
                    if self.conns.contains_key(&slot) {
                        continue;
                    }
                    if let Ok(conn) = self.open(&self.brokers[&node]) {
                        self.opened(slot, conn);
                        opened = Some(slot);
                        break;
                    }
                    if self.stop.is_set() {
                        return Err(ConnectionError::Stopped);
                    }
                }
                match opened {
                    Some(slot) => slot,
                    None => {
                        self.open_bootstrap()?;
                        Slot::Bootstrap
                    }
                }
            }
        };
        self.run(slot, f)
    }

    fn run<T>(
        &mut self,
        slot: Slot,
        f: impl FnOnce(&mut Connection) -> Result<T, ConnectionError>,
    ) -> Result<T, ConnectionError> {
        let conn = self.conns.get_mut(&slot).expect("slot was just filled");
        conn.set_deadline(self.deadline);
        // KIP-368: the broker closes a connection whose session expired; renew it first.
        #[cfg(feature = "tls")]
        if conn.reauth_due()
            && conn.in_flight() == 0
            && let Some(sasl) = &self.config.sasl
        {
            match super::sasl::authenticate(conn, sasl) {
                Ok(lifetime) => conn.set_session_lifetime(lifetime),
                Err(e) => {
                    self.closed(slot);
                    return Err(e);
                }
            }
        }
        let result = f(conn);
        if result.is_err() {
            self.closed(slot);
        }
        result
    }

    /// Keeps `conn` as `slot`'s connection.
    fn opened(&mut self, slot: Slot, conn: Connection) {
        self.conns.insert(slot, conn);
        self.publish_brokers();
    }

    /// Drops `slot`'s connection (it failed).
    fn closed(&mut self, slot: Slot) {
        self.conns.remove(&slot);
        self.publish_brokers();
    }

    /// Tells the telemetry which brokers are known and which have a connection open.
    fn publish_brokers(&self) {
        let open = |n: i32| self.conns.contains_key(&Slot::Node(n)) || self.conns.contains_key(&Slot::Side(n));
        let now: Vec<(i32, &str, bool)> = self.brokers.iter().map(|(n, a)| (*n, a.as_str(), open(*n))).collect();
        super::telemetry::brokers(&now);
    }

    /// Fetches metadata for `topics` (never creating them) and records brokers and leaders.
    pub fn refresh(&mut self, topics: &[String]) -> Result<MetadataResponse, ConnectionError> {
        let response: MetadataResponse = self.with_any(|c| {
            let version = c.versions().metadata;
            let request = MetadataRequest::default()
                .with_topics(Some(
                    topics.iter().map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t)))).collect(),
                ))
                .with_allow_auto_topic_creation(false);
            c.call(ApiKey::Metadata, version, &request)
        })?;
        let brokers: FastMap<i32, String> =
            response.brokers.iter().map(|b| (b.node_id, format_addr(&b.host, b.port))).collect();
        // A connection to a broker that left the cluster or moved is of no further use.
        self.conns.retain(|slot, _| match slot {
            Slot::Node(n) | Slot::Side(n) => brokers.get(n) == self.brokers.get(n),
            Slot::Bootstrap => true,
        });
        self.brokers = brokers;
        self.publish_brokers();
        self.controller = response.controller_id;
        self.refreshed = Some(Instant::now());
        for t in &response.topics {
            let Some(name) = &t.name else { continue };
            if t.error_code == UNKNOWN_TOPIC_OR_PARTITION && self.leaders.contains_key(name) {
                if self.gone.insert(name.clone()) {
                    diag!(
                        "topic {name:?} no longer exists (deleted?); its events wait for it until the delivery timeout"
                    );
                }
            } else {
                self.gone.remove(name);
            }
            if t.error_code != 0 {
                // Leaderless for now, but the partition count (which keys map onto) stays.
                if let Some(leaders) = self.leaders.get_mut(name.as_str()) {
                    leaders.fill(-1);
                }
                continue;
            }
            let mut leaders = vec![-1; t.partitions.len()];
            for p in &t.partitions {
                if let Some(slot) = usize::try_from(p.partition_index).ok().and_then(|i| leaders.get_mut(i)) {
                    *slot = if p.error_code == 0 { p.leader_id } else { -1 };
                }
            }
            if let Some(before) = self.leaders.get(name).map(Vec::len).filter(|n| *n != leaders.len()) {
                diag!("topic {name:?} now has {} partitions (had {before})", leaders.len());
            }
            self.leaders.insert(name.clone(), leaders);
            if let Some(first) = t.partitions.iter().min_by_key(|p| p.partition_index) {
                self.replicas.insert(name.clone(), first.replicas);
            }
        }
        Ok(response)
    }

    /// Leader node id of each partition of `topic`, as last seen (empty when unknown).
    pub fn leaders(&self, topic: &str) -> &[i32] {
        self.leaders.get(topic).map_or(&[], Vec::as_slice)
    }

    /// The replication factor of `topic`, as last seen.
    pub fn replication_factor(&self, topic: &str) -> Option<usize> {
        self.replicas.get(topic).copied()
    }

    /// Whether this client created `topic`.
    pub fn created(&self, topic: &str) -> bool {
        self.created.iter().any(|t| t == topic)
    }

    /// Whether `topic` existed and the latest metadata says it does not any more.
    pub fn is_gone(&self, topic: &str) -> bool {
        self.gone.contains(topic)
    }

    /// How long ago metadata was last fetched (`None`: never).
    pub fn metadata_age(&self) -> Option<Duration> {
        self.refreshed.map(|at| at.elapsed())
    }

    /// Makes sure every topic exists and every partition has a leader, creating missing topics
    /// with `partitions` (or the broker's default) whether or not the broker auto-creates.
    pub fn ensure_topics(
        &mut self,
        topics: &[String],
        partitions: Option<i32>,
        deadline: Instant,
    ) -> Result<(), KafkaError> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        loop {
            let waiting = match self.refresh(topics) {
                Err(e) if e.is_retriable() => e.to_string(),
                Err(e) => return Err(e.into()),
                Ok(meta) => {
                    let mut missing = Vec::new();
                    let mut waiting = None;
                    for t in &meta.topics {
                        let name = t.name.clone().unwrap_or_default();
                        match t.error_code {
                            0 if !t.partitions.is_empty() && self.leaders(&name).iter().all(|l| *l >= 0) => {}
                            0 => waiting = Some(format!("topic {name:?} has partitions without a leader")),
                            UNKNOWN_TOPIC_OR_PARTITION => missing.push(name),
                            code if is_retriable(code) => {
                                waiting = Some(format!("topic {name:?}: {}", error_name(code)))
                            }
                            code => {
                                return Err(KafkaError::TopicRejected { topic: name, code, message: None });
                            }
                        }
                    }
                    if !missing.is_empty() {
                        match self.create_topics(&missing, partitions) {
                            Ok(None) => waiting = Some(format!("created {}", missing.join(", "))),
                            Ok(Some(retry)) => waiting = Some(retry),
                            Err(KafkaError::Connection(e)) if e.is_retriable() => waiting = Some(e.to_string()),
                            Err(e) => return Err(e),
                        }
                    }
                    match waiting {
                        None => return Ok(()),
                        Some(w) => w,
                    }
                }
            };
            match backoff.pause(&self.stop, deadline, |_| {}) {
                Ok(()) => {}
                Err(NoRetry::Expired) => return Err(KafkaError::NotReady { what: "topics", last: waiting }),
                Err(NoRetry::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
            }
        }
    }

    /// CreateTopics for `names`; an existing topic (a race with another creator) is fine.
    /// `Ok(Some(reason))`: a retriable refusal, try again later.
    fn create_topics(&mut self, names: &[String], partitions: Option<i32>) -> Result<Option<String>, KafkaError> {
        let timeout_ms = self.config.connection.timeout.as_millis().min(i32::MAX as u128) as i32;
        let broker_count = self.brokers.len().max(1);
        let asked_replication = self.config.replication;
        let call = |c: &mut Connection| {
            let version = c.versions().create_topics.ok_or_else(|| ConnectionError::Unsupported {
                addr: c.addr().to_string(),
                reason: "does not support CreateTopics v2+; create the topics by hand".into(),
            })?;
            // Before v4 (Kafka < 2.4) the broker's defaults cannot be asked for with -1.
            let (default_partitions, default_replication) =
                if version >= 4 { (-1, -1) } else { (1, broker_count.min(3) as i16) };
            let replication = asked_replication.unwrap_or(default_replication);
            let request = CreateTopicsRequest::default().with_timeout_ms(timeout_ms).with_topics(
                names
                    .iter()
                    .map(|n| {
                        CreatableTopic::default()
                            .with_name(topic_name(n))
                            .with_num_partitions(partitions.unwrap_or(default_partitions))
                            .with_replication_factor(replication)
                    })
                    .collect(),
            );
            c.call::<_, CreateTopicsResponse>(ApiKey::CreateTopics, version, &request)
        };
        // Old (ZooKeeper) clusters take CreateTopics only at the controller; KRaft forwards.
        let response = if self.brokers.contains_key(&self.controller) {
            self.with_broker(self.controller, call)?
        } else {
            self.with_any(call)?
        };
        for t in response.topics {
            match t.error_code {
                0 => {
                    diag!("created topic {:?}", t.name);
                    self.created.push(t.name);
                }
                // Another client created it meanwhile.
                TOPIC_ALREADY_EXISTS => {}
                code if is_retriable(code) => {
                    return Ok(Some(format!("creating {:?}: {}", t.name, error_name(code))));
                }
                code => {
                    return Err(KafkaError::TopicRejected { topic: t.name, code, message: t.error_message });
                }
            }
        }
        Ok(None)
    }
}

/// `host:port`, with brackets around an IPv6 address so that it resolves.
fn format_addr(host: &str, port: i32) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}
