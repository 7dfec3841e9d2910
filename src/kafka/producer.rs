//! The producer: keyed records to partitions, record batches per leader, acks, idempotence, retries.
//!
//! References: Kafka protocol guide (Produce, InitProducerId, RecordBatch v2); KIP-98
//! (idempotent producer: producer id, epoch and per-partition sequence numbers); the Java
//! producer's `Sender` for which errors are retried (KIP-91 `delivery.timeout.ms`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, InitProducerIdRequest, ProduceRequest};
use kafka_protocol::records::{self, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use super::backoff::{Backoff, NoRetry};
use super::client::{Client, topic_name};
use super::connection::ConnectionError;
use super::partitioner::partition_for_key;
use super::wire::{InitProducerIdResponse, ProduceResponse};
use super::{KafkaError, error_name, is_retriable};
use crate::config::{Acks, Compression, KafkaConfig};
use crate::diag::diag;
use crate::shutdown::Stop;

const MESSAGE_TOO_LARGE: i16 = 10;
/// A record batch's fixed header (RecordBatch v2).
const BATCH_OVERHEAD: usize = 61;
/// A record's own framing in a batch, at most: length, attributes, timestamp and offset
/// deltas, key and value lengths, header count.
const RECORD_OVERHEAD: usize = 21;
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;

/// One message to produce. `topic` indexes the topics given to `Producer::connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: usize,
    pub key: Bytes,
    pub value: Bytes,
    pub timestamp_ms: i64,
}

/// Records of one partition that go to the broker as one record batch.
#[derive(Debug)]
struct Batch {
    topic: usize,
    partition: i32,
    /// Indexes into the records being sent, in order.
    records: Vec<usize>,
    /// Sequence number of the first record (idempotent producer), else unused.
    base_sequence: i32,
    encoded: Option<Bytes>,
}

/// The most bytes `record` adds to an uncompressed batch.
fn record_size(record: &Record) -> usize {
    RECORD_OVERHEAD + record.key.len() + record.value.len()
}

impl Batch {
    /// The most bytes this batch takes uncompressed.
    fn size(&self, records: &[Record]) -> usize {
        BATCH_OVERHEAD + self.records.iter().map(|&i| record_size(&records[i])).sum::<usize>()
    }

    /// Splits a batch the broker found too large into two halves with consecutive sequences.
    fn split(self) -> (Batch, Batch) {
        let mid = self.records.len() / 2;
        let mut first = self.records;
        let second = first.split_off(mid);
        let half = |records: Vec<usize>, base_sequence| Batch {
            topic: self.topic,
            partition: self.partition,
            records,
            base_sequence,
            encoded: None,
        };
        (half(first, self.base_sequence), half(second, self.base_sequence + mid as i32))
    }
}

pub struct Producer {
    client: Client,
    topics: Vec<String>,
    acks: Acks,
    compression: records::Compression,
    request_timeout_ms: i32,
    delivery_timeout: Duration,
    /// Producer id and epoch when idempotent (KIP-98).
    identity: Option<(i64, i16)>,
    /// Next sequence number per (topic, partition).
    sequences: HashMap<(usize, i32), i32>,
    /// Per topic, the largest batch (in `Batch::size` bytes) not known to be too large: a
    /// batch the broker refused as MESSAGE_TOO_LARGE lowers it, and later batches are cut
    /// to fit, so a small `max.message.bytes` costs one split, not one per batch.
    batch_limit: HashMap<usize, usize>,
    metadata_max_age: Duration,
}

impl Producer {
    /// Connects (retrying until a broker answers), makes sure the topics exist, and gets a
    /// producer id when idempotent.
    pub fn connect(
        config: &KafkaConfig,
        security: super::Prepared,
        topics: Vec<String>,
        stop: Stop,
    ) -> Result<Producer, KafkaError> {
        let (client, deadline) = super::topics::ready_client(config, security, &topics, stop)?;
        let mut producer = Producer {
            client,
            topics,
            acks: config.acks,
            compression: match config.compression {
                Compression::None => records::Compression::None,
                Compression::Gzip => records::Compression::Gzip,
                Compression::Snappy => records::Compression::Snappy,
            },
            request_timeout_ms: config.request_timeout.as_millis().min(i32::MAX as u128) as i32,
            delivery_timeout: config.delivery_timeout,
            identity: None,
            sequences: HashMap::new(),
            batch_limit: HashMap::new(),
            metadata_max_age: config.metadata_max_age,
        };
        for warning in super::topics::partition_warnings(&producer.client, &producer.topics, config.topic_partitions) {
            diag!("warning: {warning}");
        }
        if config.idempotence {
            producer.identity = Some(producer.init_producer_id(deadline)?);
        }
        Ok(producer)
    }

    /// The cluster connection, for reading the topics back before producing.
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// InitProducerId without a transactional id: an idempotent, non-transactional producer.
    fn init_producer_id(&mut self, deadline: Instant) -> Result<(i64, i16), KafkaError> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        loop {
            let result = self.client.with_any(|c| {
                let version = c.versions().init_producer_id.ok_or_else(|| ConnectionError::Unsupported {
                    addr: c.addr().to_string(),
                    reason: "does not support InitProducerId; set KAFKA_IDEMPOTENCE=false".into(),
                })?;
                let request =
                    InitProducerIdRequest::default().with_transactional_id(None).with_transaction_timeout_ms(60_000);
                c.call::<_, InitProducerIdResponse>(ApiKey::InitProducerId, version, &request)
            });
            let last = match result {
                Ok(r) if r.error_code == 0 => return Ok((r.producer_id, r.producer_epoch)),
                Ok(r) if is_retriable(r.error_code) => error_name(r.error_code),
                Ok(r) => {
                    return Err(KafkaError::Broker {
                        what: "InitProducerId".into(),
                        code: r.error_code,
                        message: None,
                    });
                }
                Err(e) if e.is_retriable() => e.to_string(),
                Err(e) => return Err(e.into()),
            };
            match backoff.pause(self.client.stop(), deadline, |_| {}) {
                Ok(()) => {}
                Err(NoRetry::Expired) => return Err(KafkaError::NotReady { what: "producer id", last }),
                Err(NoRetry::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
            }
        }
    }

    /// Sends `records` and waits until every one is acknowledged (with acks=0: written), setting
    /// `acked[i]` as record `i` is. Retriable failures are retried, with the same sequence
    /// numbers, until `queued_at + delivery timeout`; then, or on an error no retry can fix,
    /// returns the error with the records not acknowledged left `false`.
    pub fn send(&mut self, records: &[Record], queued_at: Instant, acked: &mut [bool]) -> Result<(), KafkaError> {
        let deadline = queued_at + self.delivery_timeout;
        self.client.set_deadline(Some(deadline));
        // Metadata goes stale without errors too: partitions added to a topic (the Java
        // client's metadata.max.age.ms). A failed refresh is retried with the next failure.
        if self.client.metadata_age().is_none_or(|age| age >= self.metadata_max_age) {
            match self.client.refresh(&self.topics) {
                Err(ConnectionError::Stopped) => return Err(KafkaError::Stopped { unacked: acked.len() }),
                Err(e) => diag!("periodic metadata refresh failed: {e}"),
                Ok(_) => {}
            }
        }
        let mut queues = self.plan(records)?;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let unacked = |acked: &[bool]| acked.iter().filter(|a| !**a).count();
        loop {
            if queues.iter().all(VecDeque::is_empty) {
                return Ok(());
            }
            let mut failure = match self.send_round(records, &mut queues, acked) {
                Ok(None) => {
                    backoff.reset();
                    continue;
                }
                Ok(Some(failure)) => failure,
                Err(KafkaError::Stopped { .. }) => {
                    return Err(KafkaError::Stopped { unacked: unacked(acked) });
                }
                Err(e) => return Err(e),
            };
            // Something was not delivered: learn where the partitions are now, wait, retry.
            match self.client.refresh(&self.topics) {
                Ok(_) => {}
                Err(ConnectionError::Stopped) => return Err(KafkaError::Stopped { unacked: unacked(acked) }),
                Err(e) => failure = format!("{failure}; metadata: {e}"),
            }
            let announce = |wait: Duration| {
                let left = deadline.saturating_duration_since(Instant::now());
                diag!(
                    "produce not acknowledged: {failure}; retrying in {} ms ({} s left of the delivery timeout)",
                    wait.as_millis(),
                    left.as_secs()
                );
            };
            match backoff.pause(self.client.stop(), deadline, announce) {
                Ok(()) => {}
                Err(NoRetry::Expired) => {
                    return Err(KafkaError::DeliveryTimeout {
                        after: self.delivery_timeout,
                        unacked: unacked(acked),
                        last: failure,
                    });
                }
                Err(NoRetry::Stopped) => return Err(KafkaError::Stopped { unacked: unacked(acked) }),
            }
        }
    }

    /// Groups records into per-partition queues of batches, assigning sequence numbers once
    /// (a retry resends the same sequences, which is what makes it idempotent).
    fn plan(&mut self, records: &[Record]) -> Result<Vec<VecDeque<Batch>>, KafkaError> {
        let mut by_partition: HashMap<(usize, i32), usize> = HashMap::new();
        let mut queues: Vec<VecDeque<Batch>> = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let partitions = self.client.leaders(&self.topics[r.topic]).len();
            if partitions == 0 {
                return Err(KafkaError::NotReady { what: "topic metadata", last: self.topics[r.topic].clone() });
            }
            let partition = partition_for_key(&r.key, partitions) as i32;
            let q = *by_partition.entry((r.topic, partition)).or_insert_with(|| {
                queues.push(VecDeque::new());
                queues.len() - 1
            });
            // Sequences wrap from i32::MAX to 0 as in the Java client; a batch cannot span the
            // wrap, so sequence 0 after the first batch of a partition starts a new one.
            let sequence = self.sequences.entry((r.topic, partition)).or_insert(0);
            let seq = *sequence;
            let limit = self.batch_limit.get(&r.topic).copied().unwrap_or(usize::MAX);
            let full = queues[q].back().is_some_and(|b| b.size(records) + record_size(r) > limit);
            if queues[q].is_empty() || seq == 0 || full {
                queues[q].push_back(Batch {
                    topic: r.topic,
                    partition,
                    records: vec![],
                    base_sequence: seq,
                    encoded: None,
                });
            }
            queues[q].back_mut().expect("pushed above").records.push(i);
            *sequence = if seq == i32::MAX { 0 } else { seq + 1 };
        }
        Ok(queues)
    }

    /// Sends the head batch of every partition, one request per leader. Returns the first
    /// retriable failure, if any, after handling every response.
    fn send_round(
        &mut self,
        records: &[Record],
        queues: &mut [VecDeque<Batch>],
        acked: &mut [bool],
    ) -> Result<Option<String>, KafkaError> {
        let mut by_leader: HashMap<i32, Vec<usize>> = HashMap::new();
        let mut failure = None;
        for (q, queue) in queues.iter_mut().enumerate() {
            self.fit_head(records, queue);
            let Some(batch) = queue.front_mut() else {
                continue;
            };
            let leader =
                self.client.leaders(&self.topics[batch.topic]).get(batch.partition as usize).copied().unwrap_or(-1);
            if leader < 0 {
                let topic = &self.topics[batch.topic];
                failure.get_or_insert(if self.client.is_gone(topic) {
                    format!("topic {topic:?} no longer exists (deleted?)")
                } else {
                    format!("{topic} partition {} has no leader", batch.partition)
                });
                continue;
            }
            if batch.encoded.is_none() {
                batch.encoded = Some(self.encode(records, batch)?);
            }
            by_leader.entry(leader).or_default().push(q);
        }
        let mut leaders: Vec<_> = by_leader.into_iter().collect();
        leaders.sort_unstable();
        for (leader, qs) in leaders {
            let request = self.request(queues, &qs);
            let acks = self.acks;
            let result = self.client.with_broker(leader, |c| {
                let version = c.versions().produce;
                if acks == Acks::None {
                    c.send_only(ApiKey::Produce, version, &request).map(|()| None)
                } else {
                    c.call::<_, ProduceResponse>(ApiKey::Produce, version, &request).map(Some)
                }
            });
            match result {
                Ok(None) => {
                    for &q in &qs {
                        let batch = queues[q].pop_front().expect("head was sent");
                        batch.records.iter().for_each(|&i| acked[i] = true);
                    }
                }
                Ok(Some(response)) => {
                    if let Some(f) = self.handle_response(&response, records, queues, &qs, acked)? {
                        failure.get_or_insert(f);
                    }
                }
                Err(ConnectionError::Stopped) => {
                    return Err(KafkaError::Stopped { unacked: 0 });
                }
                Err(e) if e.is_retriable() => {
                    failure.get_or_insert(e.to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(failure)
    }

    /// Splits the head batch until it fits the topic's learned limit (batches planned before
    /// the limit was learned), so that it is not sent only to be refused.
    fn fit_head(&self, records: &[Record], queue: &mut VecDeque<Batch>) {
        while let Some(head) = queue.front() {
            let limit = self.batch_limit.get(&head.topic).copied().unwrap_or(usize::MAX);
            if head.encoded.is_some() || head.records.len() < 2 || head.size(records) <= limit {
                return;
            }
            let (first, second) = queue.pop_front().expect("head exists").split();
            queue.push_front(second);
            queue.push_front(first);
        }
    }

    fn request(&self, queues: &[VecDeque<Batch>], qs: &[usize]) -> ProduceRequest {
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for &q in qs {
            let batch = queues[q].front().expect("queue has a head");
            let name = &self.topics[batch.topic];
            let data = PartitionProduceData::default().with_index(batch.partition).with_records(batch.encoded.clone());
            match topics.iter_mut().find(|t| t.name.0.as_str() == name) {
                Some(t) => t.partition_data.push(data),
                None => {
                    topics.push(TopicProduceData::default().with_name(topic_name(name)).with_partition_data(vec![data]))
                }
            }
        }
        ProduceRequest::default()
            .with_transactional_id(None)
            .with_acks(self.acks.wire())
            .with_timeout_ms(self.request_timeout_ms)
            .with_topic_data(topics)
    }

    /// Applies a produce response to the head batches it answers. Returns a retriable failure.
    fn handle_response(
        &mut self,
        response: &ProduceResponse,
        records: &[Record],
        queues: &mut [VecDeque<Batch>],
        qs: &[usize],
        acked: &mut [bool],
    ) -> Result<Option<String>, KafkaError> {
        let mut failure = None;
        let mut fatal = None;
        for &q in qs {
            let batch = queues[q].front().expect("queue has a head");
            let topic = self.topics[batch.topic].clone();
            let answer = response
                .responses
                .iter()
                .filter(|t| t.name == topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.index == batch.partition);
            let Some(answer) = answer else {
                failure.get_or_insert(format!("no answer for {topic} partition {}", batch.partition));
                continue;
            };
            match answer.error_code {
                // A duplicate means an earlier attempt was written: that is a success (KIP-98).
                0 | DUPLICATE_SEQUENCE_NUMBER => {
                    let batch = queues[q].pop_front().expect("head exists");
                    batch.records.iter().for_each(|&i| acked[i] = true);
                }
                // Not a failure of the broker: split at once, without backoff or metadata refresh,
                // and cut later batches of the topic below this size.
                MESSAGE_TOO_LARGE if batch.records.len() > 1 => {
                    let batch = queues[q].pop_front().expect("head exists");
                    // A batch within the limit was refused: the limit becomes three quarters of
                    // its size, so a few refusals reach a size that fits, most of the way to the
                    // largest. (A larger batch was planned before the limit; it only splits.)
                    let too_large = batch.size(records);
                    let limit = self.batch_limit.entry(batch.topic).or_insert(usize::MAX);
                    if too_large <= *limit {
                        *limit = too_large / 4 * 3;
                        diag!(
                            "{topic}: a batch of {} records ({too_large} bytes) was too large for the broker \
                             (MESSAGE_TOO_LARGE); batches are cut to {} bytes from now on",
                            batch.records.len(),
                            *limit
                        );
                    }
                    let (first, second) = batch.split();
                    queues[q].push_front(second);
                    queues[q].push_front(first);
                }
                MESSAGE_TOO_LARGE => {
                    fatal.get_or_insert(KafkaError::RecordTooLarge {
                        topic: topic.clone(),
                        partition: batch.partition,
                        bytes: batch.encoded.as_ref().map_or(0, Bytes::len),
                    });
                }
                code if is_retriable(code) => {
                    failure.get_or_insert(format!("{topic} partition {}: {}", batch.partition, error_name(code)));
                }
                code => {
                    // Keep going: later partitions of this response may have been written.
                    fatal.get_or_insert(KafkaError::Broker {
                        what: format!("producing to {topic} partition {}", batch.partition),
                        code,
                        message: answer.error_message.clone(),
                    });
                }
            }
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(failure),
        }
    }

    /// Encodes one batch as a RecordBatch v2. Record `i` gets offset delta `i`; the encoder
    /// starts a new batch whenever `offset − sequence` changes, so sequences move with offsets
    /// (non-idempotent: base sequence −1, as the protocol asks).
    fn encode(&self, records: &[Record], batch: &Batch) -> Result<Bytes, KafkaError> {
        let (producer_id, producer_epoch) =
            self.identity.unwrap_or((records::NO_PRODUCER_ID, records::NO_PRODUCER_EPOCH));
        let base = if self.identity.is_some() { batch.base_sequence } else { records::NO_SEQUENCE };
        let wire: Vec<records::Record> = batch
            .records
            .iter()
            .enumerate()
            .map(|(delta, &i)| records::Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: records::NO_PARTITION_LEADER_EPOCH,
                producer_id,
                producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: delta as i64,
                sequence: base.wrapping_add(delta as i32),
                timestamp: records[i].timestamp_ms,
                key: Some(records[i].key.clone()),
                value: Some(records[i].value.clone()),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: self.compression };
        RecordBatchEncoder::encode(&mut buf, &wire, &options).map_err(|e| KafkaError::Broker {
            what: format!("encoding a record batch for {}", self.topics[batch.topic]),
            code: -1,
            message: Some(e.to_string()),
        })?;
        Ok(buf.freeze())
    }
}
