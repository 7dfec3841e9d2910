//! The bounded decoders against an independent encoder (kafka-protocol's, with its `broker`
//! feature, in tests only), then a seeded mutation fuzzer over every response type and version
//! this client reads, with an allocation probe: no input may panic, and none may make the
//! decoder allocate more than a small multiple of its size.
//!
//! `POS_FUZZ_INPUTS` sets the number of mutated inputs (default 100,000, a bounded slice for
//! `make test`; `make fuzz` runs millions in release mode) and `POS_FUZZ_SEED` the seed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{self as kp, BrokerId, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::*;

// ---- allocation probe -------------------------------------------------------------------------

/// Counts the bytes live on the current thread and their peak, so that one decode's
/// allocations can be measured while other tests run on other threads.
struct Probe;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(grow: usize, shrink: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(grow).saturating_sub(shrink);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; only counters move.
unsafe impl GlobalAlloc for Probe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size, layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static PROBE: Probe = Probe;

/// Runs `f` and returns its result with the most bytes it had allocated at once.
pub(crate) fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

// ---- samples from kafka-protocol's encoder ----------------------------------------------------

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn encode(message: &impl Encodable, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap_or_else(|e| panic!("encoding v{version}: {e}"));
    buf.to_vec()
}

fn tags(flexible: bool, rng: &mut fastrand::Rng) -> BTreeMap<i32, Bytes> {
    let mut t = BTreeMap::new();
    if flexible && rng.bool() {
        t.insert(1000 + rng.i32(0..10), Bytes::from(vec![7u8; rng.usize(0..5)]));
    }
    t
}

fn name(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(1..12);
    (0..n).map(|_| rng.alphanumeric()).collect()
}

/// Asserts what the decoder makes of a sample's bytes.
type Check = Box<dyn Fn(&[u8])>;

/// A response of each kind and version, encoded, with what the decoder must make of it.
struct Sample {
    api: ApiKey,
    version: i16,
    bytes: Vec<u8>,
    check: Check,
}

fn expect<R: Response + PartialEq + fmt::Debug + 'static>(version: i16, bytes: Vec<u8>, want: R) -> Sample {
    Sample {
        api: R::API,
        version,
        bytes,
        check: Box::new(move |b| assert_eq!(decode::<R>(b, version).as_ref(), Ok(&want), "{:?} v{version}", R::API)),
    }
}

fn api_versions(rng: &mut fastrand::Rng, v: i16) -> Sample {
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

fn metadata(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
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

fn create_topics(rng: &mut fastrand::Rng, v: i16) -> Sample {
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

fn init_producer_id(rng: &mut fastrand::Rng, v: i16) -> Sample {
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

fn produce(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
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

fn sasl_handshake(rng: &mut fastrand::Rng, v: i16) -> Sample {
    let mechanisms: Vec<String> = (0..rng.usize(0..4)).map(|_| name(rng)).collect();
    let m = kp::SaslHandshakeResponse::default()
        .with_error_code(rng.i16(0..40))
        .with_mechanisms(mechanisms.iter().map(|n| s(n)).collect());
    let want = SaslHandshakeResponse { error_code: m.error_code, mechanisms };
    expect(v, encode(&m, v), want)
}

fn sasl_authenticate(rng: &mut fastrand::Rng, v: i16) -> Sample {
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

fn list_offsets(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
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

fn fetch(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
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

fn find_coordinator(rng: &mut fastrand::Rng, v: i16) -> Sample {
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

fn add_partitions_to_txn(rng: &mut fastrand::Rng, v: i16, scale: usize) -> Sample {
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

fn end_txn(rng: &mut fastrand::Rng, v: i16) -> Sample {
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
fn all_samples(rng: &mut fastrand::Rng) -> Vec<Sample> {
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

#[test]
fn every_response_kafka_protocol_encodes_is_read_back_at_every_version() {
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..50 {
        for sample in all_samples(&mut rng) {
            (sample.check)(&sample.bytes);
        }
    }
}

// ---- hostile inputs ---------------------------------------------------------------------------

fn decode_any(api: ApiKey, version: i16, body: &[u8]) -> std::result::Result<(), WireError> {
    match api {
        ApiKey::ApiVersions => decode::<ApiVersionsResponse>(body, version).map(drop),
        ApiKey::Metadata => decode::<MetadataResponse>(body, version).map(drop),
        ApiKey::CreateTopics => decode::<CreateTopicsResponse>(body, version).map(drop),
        ApiKey::InitProducerId => decode::<InitProducerIdResponse>(body, version).map(drop),
        ApiKey::Produce => decode::<ProduceResponse>(body, version).map(drop),
        ApiKey::SaslHandshake => decode::<SaslHandshakeResponse>(body, version).map(drop),
        ApiKey::SaslAuthenticate => decode::<SaslAuthenticateResponse>(body, version).map(drop),
        ApiKey::ListOffsets => decode::<ListOffsetsResponse>(body, version).map(drop),
        ApiKey::Fetch => decode::<FetchResponse>(body, version).map(drop),
        ApiKey::FindCoordinator => decode::<FindCoordinatorResponse>(body, version).map(drop),
        ApiKey::AddPartitionsToTxn => decode::<AddPartitionsToTxnResponse>(body, version).map(drop),
        ApiKey::EndTxn => decode::<EndTxnResponse>(body, version).map(drop),
        other => panic!("no decoder for {other:?}"),
    }
}

#[test]
fn a_huge_compact_array_count_is_an_error_not_an_allocation() {
    // Regression (issue 11): error 0, then compact array length `ff ff ff ff 0f` (2^32 - 2
    // items) made kafka-protocol 0.18 reserve 137 GB, and the allocator abort the process.
    let body = [0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let (result, peak) = peak_of(|| decode::<ApiVersionsResponse>(&body, 3));
    let err = result.unwrap_err();
    assert!(err.what.contains("array of 4294967294 items needs at least"), "{err}");
    assert!(peak < 1024, "{peak} bytes allocated");
    // The same count in a Produce response (v9+, mid-run) and a plain int32 one (v3).
    assert!(decode::<ProduceResponse>(&[0xff, 0xff, 0xff, 0xff, 0x0f], 9).is_err());
    assert!(decode::<ProduceResponse>(&[0x7f, 0xff, 0xff, 0xff], 3).is_err());
    // Tagged fields claiming more entries than bytes.
    assert!(
        decode::<InitProducerIdResponse>(&[0; 16].iter().copied().chain([0xff, 0x0f]).collect::<Vec<_>>(), 2).is_err()
    );
}

#[test]
fn the_codec_alone_reserves_by_the_wire_count() {
    // Why these decoders exist: kafka-protocol 0.18 reserves `count` items before reading
    // one. A count of 2^20 in 7 bytes makes it reserve tens of MB (2^32 aborts the process).
    // If this starts failing, the codec bounds its arrays now and wire.rs could be retired.
    use kafka_protocol::protocol::Decodable;
    let body = Bytes::from_static(&[0, 0, 0x81, 0x80, 0x40, 0, 0]);
    let (result, peak) = peak_of(|| kp::ApiVersionsResponse::decode(&mut body.clone(), 3).map(drop));
    assert!(result.is_err());
    assert!(peak > 1 << 20, "kafka-protocol reserved only {peak} bytes");
    let (result, peak) = peak_of(|| decode::<ApiVersionsResponse>(&body, 3));
    assert!(result.is_err());
    assert!(peak < 1024, "{peak}");
}

#[test]
fn varints_longer_than_five_bytes_or_32_bits_are_refused() {
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(r.uvarint().unwrap_err().what.contains("longer than 5 bytes"));
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
    assert!(r.uvarint().unwrap_err().what.contains("larger than 32 bits"));
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(r.uvarint(), Ok(u32::MAX));
}

#[test]
fn leftover_bytes_and_bad_utf8_are_errors() {
    let err = decode::<InitProducerIdResponse>(&[0; 17], 0).unwrap_err();
    assert_eq!(err.to_string(), "1 bytes left over at byte 16");
    let body = [0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0xc3, 0x28, 0, 0, 0, 0];
    let err = decode::<MetadataResponse>(&body, 1).unwrap_err();
    assert!(err.what.contains("not UTF-8"), "{err}");
}

/// One mutation of a valid response: the kinds of damage a corrupting proxy or a hostile
/// peer produces, aimed at length and count fields as much as at random bytes.
fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
    let at = |rng: &mut fastrand::Rng, len: usize| rng.usize(0..len.max(1));
    match rng.u8(0..8) {
        0 if !input.is_empty() => {
            let i = at(rng, input.len());
            input[i] ^= 1 << rng.u8(0..8);
        }
        1 if !input.is_empty() => {
            let i = at(rng, input.len());
            input[i] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff][rng.usize(0..6)];
        }
        2 => {
            let i = rng.usize(0..=input.len());
            input.splice(i..i, [0xff, 0xff, 0xff, 0xff, 0x0f]);
        }
        3 if input.len() >= 4 => {
            let i = rng.usize(0..=input.len() - 4);
            let v = [i32::MAX, -1, -2, i32::MIN, 0x00ff_ffff][rng.usize(0..5)];
            input[i..i + 4].copy_from_slice(&v.to_be_bytes());
        }
        4 => input.truncate(at(rng, input.len())),
        5 if !input.is_empty() => {
            let i = at(rng, input.len());
            let j = (i + rng.usize(1..16)).min(input.len());
            let copy: Vec<u8> = input[i..j].to_vec();
            input.splice(i..i, copy);
        }
        6 if input.len() >= 2 => {
            let i = rng.usize(0..input.len() - 1);
            input[i..i + 2].copy_from_slice(&[0x7f, 0xff]);
        }
        _ => {
            let i = rng.usize(0..=input.len());
            let junk: Vec<u8> = (0..rng.usize(1..8)).map(|_| rng.u8(..)).collect();
            input.splice(i..i, junk);
        }
    }
}

#[test]
fn fuzz_mutated_responses_never_panic_or_allocate_beyond_a_small_multiple_of_their_size() {
    let inputs: u64 = std::env::var("POS_FUZZ_INPUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let seed: u64 = std::env::var("POS_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(11);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut corpus = all_samples(&mut rng);
    let (mut decoded, mut refused, mut worst) = (0u64, 0u64, 0f64);
    for n in 0..inputs {
        if n % 1000 == 0 {
            corpus = all_samples(&mut rng);
        }
        let sample = &corpus[rng.usize(0..corpus.len())];
        let mut input = sample.bytes.clone();
        for _ in 0..rng.usize(1..4) {
            mutate(&mut rng, &mut input);
        }
        let (result, peak) = peak_of(|| decode_any(sample.api, sample.version, &input));
        // Our structs are at most ~4x the wire bytes they come from (a String or a Vec for a
        // few bytes of name or count); 16x plus a constant leaves room and still catches any
        // allocation sized by a count rather than by the bytes.
        let bound = 16 * input.len() + 4096;
        assert!(
            peak <= bound,
            "{:?} v{} input {n} (seed {seed}) allocated {peak} bytes for {} input bytes: {input:02x?}",
            sample.api,
            sample.version,
            input.len()
        );
        if input.len() >= 1024 {
            worst = worst.max(peak as f64 / input.len() as f64);
        }
        match result {
            Ok(()) => decoded += 1,
            Err(_) => refused += 1,
        }
    }
    eprintln!(
        "fuzz: {inputs} mutated responses (seed {seed}): {decoded} decoded, {refused} refused, \
         no panic; peak allocation at most {worst:.1}x the size of inputs of 1 KiB or more"
    );
    assert_eq!(decoded + refused, inputs);
}
