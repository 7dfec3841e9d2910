//! Getting a producer ready: connected, the topics there, fenced in (transactions) or given a
//! producer id (idempotence).

use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, InitProducerIdRequest};

use super::{Producer, TRANSACTION_TIMEOUT};
use crate::diag::diag;
use crate::kafka::backoff::{Backoff, NoRetry};
use crate::kafka::batch::{HeaderBlock, Scratch};
use crate::kafka::compression::Codec;
use crate::kafka::connection::ConnectionError;
use crate::kafka::settings::{self, Compression, TxnMode};
use crate::kafka::txn::{Refused, Txn, TxnSettings};
use crate::kafka::window::Window;
use crate::kafka::wire::InitProducerIdResponse;
use crate::kafka::{KafkaError, error_name, is_retriable};
use crate::shutdown::Stop;

impl Producer {
    /// Connects (retrying until a broker answers), makes sure the topics exist, and gets a
    /// producer id when idempotent.
    /// `headers[t]`: the (key, value) headers every record of `topics[t]` carries.
    pub fn connect(
        config: &settings::Settings,
        security: crate::kafka::Prepared,
        topics: Vec<String>,
        headers: &[Vec<(String, String)>],
        stop: Stop,
    ) -> Result<Producer, KafkaError> {
        let (client, deadline) = crate::kafka::topics::ready_client(config, security, &topics, stop)?;
        let mut producer = Producer {
            client,
            topics,
            acks: config.acks,
            codec: match config.compression {
                Compression::None => Codec::None,
                Compression::Gzip => Codec::Gzip,
                Compression::Snappy => Codec::Snappy,
                Compression::Lz4 => Codec::Lz4,
                Compression::Zstd => Codec::Zstd,
            },
            request_timeout_ms: config.request_timeout.as_millis().min(i32::MAX as u128) as i32,
            delivery_timeout: config.delivery_timeout,
            identity: None,
            window: Window::new(config.max_in_flight, config.batch_size),
            metadata_max_age: config.metadata_max_age,
            linger: config.linger,
            last_failure: None,
            scratch: Scratch::default(),
            encoded: Vec::new(),
            header_blocks: Vec::new(),
            txn: None,
            uncommitted: Vec::new(),
            doomed_records: Vec::new(),
            aborted_events: Vec::new(),
            aborted_blocks: Vec::new(),
            reused: Default::default(),
        };
        for (topic, pairs) in headers.iter().enumerate() {
            let block = HeaderBlock::new(pairs);
            producer.window.set_record_extra(topic, block.len());
            producer.header_blocks.push(block);
        }
        if config.transactions.as_ref().is_some_and(|t| t.abort_probability > 0.0) {
            for topic in 0..producer.topics.len() {
                let mut pairs = headers.get(topic).cloned().unwrap_or_default();
                pairs.push(("pos-fault".to_string(), "aborted".to_string()));
                let block = HeaderBlock::new(&pairs);
                producer.window.set_record_extra(topic, block.len());
                producer.aborted_blocks.push(block);
            }
        }
        for warning in
            crate::kafka::topics::partition_warnings(&producer.client, &producer.topics, config.topic_partitions)
        {
            diag!("warning: {warning}");
        }
        let codec = producer.codec;
        producer.client.with_any(|c| codec_supported(codec, c.addr(), c.versions().produce))?;
        // Fence first: an earlier copy of this instance stops, and its open transaction is
        // aborted before the topics are read back.
        if let Some(t) = &config.transactions {
            let settings = TxnSettings {
                id: t.id.clone(),
                owner: t.owner.clone(),
                required: t.mode == TxnMode::On,
                commit_interval: t.commit_interval,
                timeout: TRANSACTION_TIMEOUT,
                abort_probability: t.abort_probability,
            };
            match Txn::start(&mut producer.client, settings, deadline) {
                Ok((txn, identity)) => {
                    diag!(
                        "transactions on: transactional id {}, a commit every {} ms, {}",
                        t.id,
                        t.commit_interval.as_millis(),
                        if txn.v2() { "protocol v2 (KIP-890)" } else { "classic protocol (KIP-98)" }
                    );
                    producer.identity = Some(identity);
                    producer.txn = Some(txn);
                }
                Err(Refused::Unavailable(why)) if t.mode == TxnMode::Auto => {
                    diag!(
                        "warning: transactions are off, the producer is idempotent only (a second copy of {} \
                         would not be fenced{}): {why}",
                        t.owner,
                        if t.abort_probability > 0.0 { ", and no transaction is aborted on purpose" } else { "" }
                    );
                    producer.aborted_blocks.clear();
                    // The wait for a coordinator may have taken the whole delivery timeout: the
                    // producer id is a step of its own.
                    let deadline = Instant::now() + config.delivery_timeout;
                    producer.identity = Some(producer.init_producer_id(deadline)?);
                }
                Err(Refused::Unavailable(why)) => return Err(KafkaError::TransactionsRefused(why)),
                Err(Refused::Kafka(e)) => return Err(e),
            }
        } else if config.idempotence {
            producer.identity = Some(producer.init_producer_id(deadline)?);
        }
        Ok(producer)
    }

    /// InitProducerId without a transactional id: an idempotent, non-transactional producer.
    fn init_producer_id(&mut self, deadline: Instant) -> Result<(i64, i16), KafkaError> {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        self.client.set_deadline(Some(deadline));
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
}

/// Whether a broker speaking Produce `version` takes batches of `codec`: zstd needs v7
/// (KIP-110, Kafka 2.1), and a broker before it would refuse every batch.
pub(super) fn codec_supported(codec: Codec, addr: &str, version: i16) -> Result<(), ConnectionError> {
    if codec == Codec::Zstd && version < 7 {
        return Err(ConnectionError::Unsupported {
            addr: addr.to_string(),
            reason: format!(
                "speaks Produce up to v{version}, and zstd compression needs v7 (Kafka 2.1 or newer): set \
                 KAFKA_COMPRESSION to lz4, snappy, gzip or none"
            ),
        });
    }
    Ok(())
}
