//! A response of every kind and version this client reads, encoded by kafka-protocol's own
//! encoder (its `broker` feature, in tests only), with what the decoder must make of it.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{self as kp, BrokerId, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::super::*;

pub(super) fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

pub(super) fn encode(message: &impl Encodable, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap_or_else(|e| panic!("encoding v{version}: {e}"));
    buf.to_vec()
}

pub(super) fn tags(flexible: bool, rng: &mut fastrand::Rng) -> BTreeMap<i32, Bytes> {
    let mut t = BTreeMap::new();
    if flexible && rng.bool() {
        t.insert(1000 + rng.i32(0..10), Bytes::from(vec![7u8; rng.usize(0..5)]));
    }
    t
}

pub(super) fn name(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(1..12);
    (0..n).map(|_| rng.alphanumeric()).collect()
}

/// Asserts what the decoder makes of a sample's bytes.
type Check = Box<dyn Fn(&[u8])>;

/// A response of each kind and version, encoded, with what the decoder must make of it.
pub(super) struct Sample {
    pub(super) api: ApiKey,
    pub(super) version: i16,
    pub(super) bytes: Vec<u8>,
    pub(super) check: Check,
}

pub(super) fn expect<R: Response + PartialEq + fmt::Debug + 'static>(version: i16, bytes: Vec<u8>, want: R) -> Sample {
    Sample {
        api: R::API,
        version,
        bytes,
        check: Box::new(move |b| assert_eq!(decode::<R>(b, version).as_ref(), Ok(&want), "{:?} v{version}", R::API)),
    }
}

pub(super) fn api_versions(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let flex = v >= 3;
    let ranges: Vec<ApiRange> = (0..rng.usize(0..6))
        .map(|_| ApiRange { api_key: rng.i16(0..80), min_version: rng.i16(0..3), max_version: rng.i16(3..15) })
        .collect();
    let mut m = kp::ApiVersionsResponse::default()
        .with_error_code(rng.i16(0..40))
        .with_api_keys(
            ranges
                .iter()
                .map(|r| {
                    kp::api_versions_response::ApiVersion::default()
                        .with_api_key(r.api_key)
                        .with_min_version(r.min_version)
                        .with_max_version(r.max_version)
                        .with_unknown_tagged_fields(tags(flex, rng))
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags(flex, rng));
    if v >= 1 {
        m = m.with_throttle_time_ms(rng.i32(0..100));
    }
    let mut transaction_version = 0;
    if flex && rng.bool() {
        m = m.with_finalized_features_epoch(rng.i64(0..9)).with_supported_features(vec![
            kp::api_versions_response::SupportedFeatureKey::default()
                .with_name(s("metadata.version"))
                .with_min_version(1)
                .with_max_version(27),
        ]);
        transaction_version = rng.i16(0..3);
        let mut feature = |name: &str, level: i16| {
            kp::api_versions_response::FinalizedFeatureKey::default()
                .with_name(s(name))
                .with_max_version_level(level)
                .with_min_version_level(0)
                .with_unknown_tagged_fields(tags(true, rng))
        };
        m = m.with_finalized_features(vec![
            feature("metadata.version", 27),
            feature("transaction.version", transaction_version),
        ]);
    }
    let want = ApiVersionsResponse { error_code: m.error_code, api_keys: ranges, transaction_version };
    expect(v, encode(&m, v), want)
}

pub(super) fn metadata(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
    let flex = v >= 9;
    let brokers: Vec<MetadataBroker> = (0..rng.usize(0..4))
        .map(|i| MetadataBroker { node_id: i as i32, host: name(rng), port: rng.i32(1..65536) })
        .collect();
    let topics: Vec<MetadataTopic> = (0..rng.usize(0..4))
        .map(|_| MetadataTopic {
            error_code: rng.i16(0..4),
            name: Some(name(rng)),
            partitions: (0..rng.usize(0..5 * scale))
                .map(|p| MetadataPartition {
                    error_code: rng.i16(0..2),
                    partition_index: p as i32,
                    leader_id: rng.i32(-1..3),
                    replicas: 2,
                })
                .collect(),
        })
        .collect();
    let mut m = kp::MetadataResponse::default()
        .with_controller_id(BrokerId(rng.i32(-1..3)))
        .with_brokers(
            brokers
                .iter()
                .map(|b| {
                    kp::metadata_response::MetadataResponseBroker::default()
                        .with_node_id(BrokerId(b.node_id))
                        .with_host(s(&b.host))
                        .with_port(b.port)
                        .with_rack(rng.bool().then(|| s("rack-a")))
                        .with_unknown_tagged_fields(tags(flex, rng))
                })
                .collect(),
        )
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    let mut topic = kp::metadata_response::MetadataResponseTopic::default()
                        .with_error_code(t.error_code)
                        .with_name(t.name.as_deref().map(|n| TopicName(s(n))))
                        .with_is_internal(rng.bool())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    let mut part = kp::metadata_response::MetadataResponsePartition::default()
                                        .with_error_code(p.error_code)
                                        .with_partition_index(p.partition_index)
                                        .with_leader_id(BrokerId(p.leader_id))
                                        .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
                                        .with_isr_nodes(vec![BrokerId(1)])
                                        .with_unknown_tagged_fields(tags(flex, rng));
                                    if v >= 5 {
                                        part = part.with_offline_replicas(vec![BrokerId(3)]);
                                    }
                                    if v >= 7 {
                                        part = part.with_leader_epoch(rng.i32(0..9));
                                    }
                                    part
                                })
                                .collect(),
                        )
                        .with_unknown_tagged_fields(tags(flex, rng));
                    if v >= 8 {
                        topic = topic.with_topic_authorized_operations(rng.i32(0..99));
                    }
                    topic
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags(flex, rng));
    if v >= 2 {
        m = m.with_cluster_id(Some(s("cluster-1")));
    }
    if v >= 3 {
        m = m.with_throttle_time_ms(rng.i32(0..99));
    }
    if (8..=10).contains(&v) {
        m = m.with_cluster_authorized_operations(rng.i32(0..99));
    }
    let want = MetadataResponse { brokers, controller_id: m.controller_id.0, topics };
    expect(v, encode(&m, v), want)
}

pub(super) fn create_topics(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let flex = v >= 5;
    let topics: Vec<CreatedTopic> = (0..rng.usize(0..4))
        .map(|_| CreatedTopic {
            name: name(rng),
            error_code: rng.i16(0..45),
            error_message: rng.bool().then(|| "Topic already exists.".to_string()),
        })
        .collect();
    let m = kp::CreateTopicsResponse::default()
        .with_throttle_time_ms(rng.i32(0..99))
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    let mut r = kp::create_topics_response::CreatableTopicResult::default()
                        .with_name(TopicName(s(&t.name)))
                        .with_error_code(t.error_code)
                        .with_error_message(t.error_message.as_deref().map(s))
                        .with_unknown_tagged_fields(tags(flex, rng));
                    if flex {
                        r = r
                            .with_num_partitions(rng.i32(1..9))
                            .with_replication_factor(1)
                            .with_topic_config_error_code(rng.i16(0..3))
                            .with_configs(rng.bool().then(|| {
                                vec![
                                    kp::create_topics_response::CreatableTopicConfigs::default()
                                        .with_name(s("cleanup.policy"))
                                        .with_value(Some(s("delete"))),
                                ]
                            }));
                    }
                    r
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags(flex, rng));
    expect(v, encode(&m, v), CreateTopicsResponse { topics })
}

pub(super) fn init_producer_id(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let want =
        InitProducerIdResponse { error_code: rng.i16(0..3), producer_id: rng.i64(0..), producer_epoch: rng.i16(0..) };
    let m = kp::InitProducerIdResponse::default()
        .with_throttle_time_ms(rng.i32(0..99))
        .with_error_code(want.error_code)
        .with_producer_id(kp::ProducerId(want.producer_id))
        .with_producer_epoch(want.producer_epoch)
        .with_unknown_tagged_fields(tags(v >= 2, rng));
    expect(v, encode(&m, v), want)
}

pub(super) fn produce(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
    let flex = v >= 9;
    let responses: Vec<ProduceTopic> = (0..rng.usize(0..4))
        .map(|_| ProduceTopic {
            name: name(rng),
            partitions: (0..rng.usize(0..5 * scale))
                .map(|p| ProducePartition {
                    index: p as i32,
                    error_code: rng.i16(0..60),
                    error_message: (v >= 8 && rng.bool()).then(|| "not the leader".to_string()),
                })
                .collect(),
        })
        .collect();
    let mut m = kp::ProduceResponse::default()
        .with_throttle_time_ms(rng.i32(0..99))
        .with_responses(
            responses
                .iter()
                .map(|t| {
                    kp::produce_response::TopicProduceResponse::default()
                        .with_name(TopicName(s(&t.name)))
                        .with_partition_responses(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    let mut part = kp::produce_response::PartitionProduceResponse::default()
                                        .with_index(p.index)
                                        .with_error_code(p.error_code)
                                        .with_base_offset(rng.i64(0..))
                                        .with_log_append_time_ms(-1)
                                        .with_unknown_tagged_fields(tags(flex, rng));
                                    if v >= 5 {
                                        part = part.with_log_start_offset(rng.i64(0..));
                                    }
                                    if v >= 8 {
                                        part = part
                                            .with_error_message(p.error_message.as_deref().map(s))
                                            .with_record_errors(
                                                (0..rng.usize(0..2))
                                                    .map(|i| {
                                                        kp::produce_response::BatchIndexAndErrorMessage::default()
                                                            .with_batch_index(i as i32)
                                                            .with_batch_index_error_message(Some(s("bad record")))
                                                    })
                                                    .collect(),
                                            );
                                    }
                                    if v >= 10 && rng.bool() {
                                        part = part.with_current_leader(
                                            kp::produce_response::LeaderIdAndEpoch::default()
                                                .with_leader_id(BrokerId(2))
                                                .with_leader_epoch(5),
                                        );
                                    }
                                    part
                                })
                                .collect(),
                        )
                        .with_unknown_tagged_fields(tags(flex, rng))
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags(flex, rng));
    if v >= 10 && rng.bool() {
        m = m.with_node_endpoints(vec![
            kp::produce_response::NodeEndpoint::default()
                .with_node_id(BrokerId(2))
                .with_host(s("broker-2"))
                .with_port(9092)
                .with_rack(Some(s("r1"))),
        ]);
    }
    expect(v, encode(&m, v), ProduceResponse { responses })
}

pub(super) fn sasl_handshake(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let mechanisms: Vec<String> = (0..rng.usize(0..4)).map(|_| name(rng)).collect();
    let m = kp::SaslHandshakeResponse::default()
        .with_error_code(rng.i16(0..40))
        .with_mechanisms(mechanisms.iter().map(|n| s(n)).collect());
    let want = SaslHandshakeResponse { error_code: m.error_code, mechanisms };
    expect(v, encode(&m, v), want)
}

pub(super) fn sasl_authenticate(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let auth_bytes: Vec<u8> = (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect();
    let mut m = kp::SaslAuthenticateResponse::default()
        .with_error_code(rng.i16(0..60))
        .with_error_message(rng.bool().then(|| s("Authentication failed")))
        .with_auth_bytes(Bytes::from(auth_bytes.clone()))
        .with_unknown_tagged_fields(tags(v >= 2, rng));
    if v >= 1 {
        m = m.with_session_lifetime_ms(rng.i64(0..100_000));
    }
    let want = SaslAuthenticateResponse {
        error_code: m.error_code,
        error_message: m.error_message.as_ref().map(|e| e.to_string()),
        auth_bytes,
        session_lifetime_ms: m.session_lifetime_ms,
    };
    expect(v, encode(&m, v), want)
}

pub(super) fn list_offsets(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
    let flex = v >= 6;
    let topics: Vec<OffsetsTopic> = (0..rng.usize(0..3))
        .map(|_| OffsetsTopic {
            name: name(rng),
            partitions: (0..rng.usize(0..4 * scale))
                .map(|p| OffsetsPartition { index: p as i32, error_code: rng.i16(0..80), offset: rng.i64(-1..) })
                .collect(),
        })
        .collect();
    let mut m = kp::ListOffsetsResponse::default()
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    kp::list_offsets_response::ListOffsetsTopicResponse::default()
                        .with_name(TopicName(s(&t.name)))
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    let mut part = kp::list_offsets_response::ListOffsetsPartitionResponse::default()
                                        .with_partition_index(p.index)
                                        .with_error_code(p.error_code)
                                        .with_timestamp(rng.i64(-1..))
                                        .with_offset(p.offset)
                                        .with_unknown_tagged_fields(tags(flex, rng));
                                    if v >= 4 {
                                        part = part.with_leader_epoch(rng.i32(0..9));
                                    }
                                    part
                                })
                                .collect(),
                        )
                        .with_unknown_tagged_fields(tags(flex, rng))
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags(flex, rng));
    if v >= 2 {
        m = m.with_throttle_time_ms(rng.i32(0..99));
    }
    expect(v, encode(&m, v), ListOffsetsResponse { topics })
}

pub(super) fn fetch(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
    let flex = v >= 12;
    let error_code = if v >= 7 { rng.i16(0..3) } else { 0 };
    let responses: Vec<FetchTopic> = (0..rng.usize(0..3))
        .map(|_| FetchTopic {
            name: name(rng),
            partitions: (0..rng.usize(0..3 * scale))
                .map(|p| FetchPartition {
                    index: p as i32,
                    error_code: rng.i16(0..80),
                    high_watermark: rng.i64(0..),
                    aborted: (0..rng.usize(0..3)).map(|_| (rng.i64(0..), rng.i64(0..))).collect(),
                    records: (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect(),
                })
                .collect(),
        })
        .collect();
    let mut m = kp::FetchResponse::default()
        .with_throttle_time_ms(rng.i32(0..99))
        .with_responses(
            responses
                .iter()
                .map(|t| {
                    kp::fetch_response::FetchableTopicResponse::default()
                        .with_topic(TopicName(s(&t.name)))
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    let mut part = kp::fetch_response::PartitionData::default()
                                        .with_partition_index(p.index)
                                        .with_error_code(p.error_code)
                                        .with_high_watermark(p.high_watermark)
                                        .with_last_stable_offset(rng.i64(0..))
                                        .with_aborted_transactions((!p.aborted.is_empty() || rng.bool()).then(|| {
                                            p.aborted
                                                .iter()
                                                .map(|&(id, first)| {
                                                    kp::fetch_response::AbortedTransaction::default()
                                                        .with_producer_id(kp::ProducerId(id))
                                                        .with_first_offset(first)
                                                        .with_unknown_tagged_fields(tags(flex, rng))
                                                })
                                                .collect()
                                        }))
                                        .with_records(
                                            (rng.bool() || !p.records.is_empty())
                                                .then(|| Bytes::from(p.records.clone())),
                                        )
                                        .with_unknown_tagged_fields(tags(flex, rng));
                                    if v >= 5 {
                                        part = part.with_log_start_offset(rng.i64(0..));
                                    }
                                    if v >= 11 {
                                        part = part.with_preferred_read_replica(BrokerId(rng.i32(-1..3)));
                                    }
                                    if v >= 12 && rng.bool() {
                                        part = part.with_current_leader(
                                            kp::fetch_response::LeaderIdAndEpoch::default()
                                                .with_leader_id(BrokerId(2))
                                                .with_leader_epoch(4),
                                        );
                                    }
                                    part
                                })
                                .collect(),
                        )
                        .with_unknown_tagged_fields(tags(flex, rng))
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags(flex, rng));
    if v >= 7 {
        m = m.with_error_code(error_code).with_session_id(rng.i32(0..9));
    }
    expect(v, encode(&m, v), FetchResponse { error_code, responses })
}

pub(super) fn find_coordinator(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let want = FindCoordinatorResponse {
        error_code: rng.i16(0..20),
        error_message: rng.bool().then(|| name(rng)),
        node_id: rng.i32(-1..5),
        host: name(rng),
        port: rng.i32(0..65536),
    };
    let m = kp::FindCoordinatorResponse::default()
        .with_throttle_time_ms(rng.i32(0..99))
        .with_error_code(want.error_code)
        .with_error_message(want.error_message.as_deref().map(s))
        .with_node_id(BrokerId(want.node_id))
        .with_host(s(&want.host))
        .with_port(want.port)
        .with_unknown_tagged_fields(tags(v >= 3, rng));
    expect(v, encode(&m, v), want)
}

pub(super) fn add_partitions_to_txn(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
    let flex = v >= 3;
    let topics: Vec<(String, Vec<(i32, i16)>)> = (0..rng.usize(0..3))
        .map(|_| (name(rng), (0..rng.usize(0..3 * scale)).map(|p| (p as i32, rng.i16(0..60))).collect()))
        .collect();
    let results = topics.iter().flat_map(|(t, ps)| ps.iter().map(move |&(p, code)| (t.clone(), p, code))).collect();
    let m = kp::AddPartitionsToTxnResponse::default()
        .with_throttle_time_ms(rng.i32(0..99))
        .with_results_by_topic_v3_and_below(
            topics
                .iter()
                .map(|(t, ps)| {
                    kp::add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default()
                        .with_name(TopicName(s(t)))
                        .with_results_by_partition(
                            ps.iter()
                                .map(|&(p, code)| {
                                    kp::add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default()
                                        .with_partition_index(p)
                                        .with_partition_error_code(code)
                                        .with_unknown_tagged_fields(tags(flex, rng))
                                })
                                .collect(),
                        )
                        .with_unknown_tagged_fields(tags(flex, rng))
                })
                .collect(),
        )
        .with_unknown_tagged_fields(tags(flex, rng));
    expect(v, encode(&m, v), AddPartitionsToTxnResponse { results })
}

pub(super) fn end_txn(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let want = EndTxnResponse { error_code: rng.i16(0..60), next: (v >= 5).then(|| (rng.i64(0..), rng.i16(0..))) };
    let mut m = kp::EndTxnResponse::default()
        .with_throttle_time_ms(rng.i32(0..99))
        .with_error_code(want.error_code)
        .with_unknown_tagged_fields(tags(v >= 3, rng));
    if let Some((id, epoch)) = want.next {
        m = m.with_producer_id(kp::ProducerId(id)).with_producer_epoch(epoch);
    }
    expect(v, encode(&m, v), want)
}

/// Samples of every response type at every version this client reads.
pub(super) fn all_samples(rng: &mut fastrand::Rng) -> Vec<Sample> {
    let mut out = Vec::new();
    for v in 0..=3 {
        out.push(api_versions(rng, v));
    }
    for v in 1..=12 {
        out.push(metadata(rng, v, 1));
        out.push(metadata(rng, v, 100));
    }
    for v in 2..=7 {
        out.push(create_topics(rng, v));
    }
    for v in 0..=5 {
        out.push(init_producer_id(rng, v));
    }
    for v in 3..=12 {
        out.push(produce(rng, v, 1));
        out.push(produce(rng, v, 50));
    }
    for v in 0..=1 {
        out.push(sasl_handshake(rng, v));
    }
    for v in 0..=2 {
        out.push(sasl_authenticate(rng, v));
    }
    for v in 1..=7 {
        out.push(list_offsets(rng, v, 1));
        out.push(list_offsets(rng, v, 30));
    }
    for v in 4..=12 {
        out.push(fetch(rng, v, 1));
        out.push(fetch(rng, v, 20));
    }
    for v in 1..=3 {
        out.push(find_coordinator(rng, v));
    }
    for v in 0..=3 {
        out.push(add_partitions_to_txn(rng, v, 1));
        out.push(add_partitions_to_txn(rng, v, 30));
    }
    for v in 0..=5 {
        out.push(end_txn(rng, v));
    }
    out
}
