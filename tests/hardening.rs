//! Hardening (issue 11): hostile bytes, deadlines, and the honest messages, end to end.
//!
//! Fake brokers here serve only broken or hostile bytes (and the few valid answers needed to
//! reach them, encoded by kafka-protocol); everything that claims Kafka works runs against a
//! real broker from `scripts/kafka-local`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{Broker, KAFKA_4, Stream, consume, kill, producer, run, spawn_until, unique};
use kafka_protocol::messages::{self as kp, ApiKey, BrokerId, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};

const LIMIT: Duration = Duration::from_secs(120);

// ---- a fake broker for hostile bytes ----------------------------------------------------------

/// What the fake answers to one request (api key, version): a body, or silence.
type Answer = fn(i16, i16, u16) -> Option<Vec<u8>>;

/// Serves every connection on a port of its own with `answer`; returns `127.0.0.1:port`.
fn fake_broker(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            std::thread::spawn(move || serve(conn, answer, port));
        }
    });
    format!("127.0.0.1:{port}")
}

fn serve(mut s: TcpStream, answer: Answer, port: u16) {
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut req = vec![0u8; i32::from_be_bytes(len) as usize];
        if s.read_exact(&mut req).is_err() {
            return;
        }
        let api = i16::from_be_bytes([req[0], req[1]]);
        let version = i16::from_be_bytes([req[2], req[3]]);
        let Some(body) = answer(api, version, port) else {
            std::thread::sleep(Duration::from_secs(600));
            return;
        };
        let mut frame = req[4..8].to_vec(); // correlation id
        let key = ApiKey::try_from(api).unwrap();
        if key.response_header_version(version) >= 1 {
            frame.push(0); // no tagged fields
        }
        frame.extend_from_slice(&body);
        let mut out = (frame.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&frame);
        if s.write_all(&out).is_err() {
            return;
        }
    }
}

fn encode(m: &impl Encodable, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

/// A correct ApiVersions answer: Metadata, Produce and the tail reader's ListOffsets and Fetch
/// at versions without flexible headers.
fn api_versions(version: i16) -> Vec<u8> {
    let apis = [
        (ApiKey::Produce, 3, 8),
        (ApiKey::Metadata, 1, 8),
        (ApiKey::ApiVersions, 0, 3),
        (ApiKey::ListOffsets, 1, 4),
        (ApiKey::Fetch, 4, 10),
    ];
    let m = kp::ApiVersionsResponse::default().with_api_keys(
        apis.iter()
            .map(|(k, min, max)| {
                kp::api_versions_response::ApiVersion::default()
                    .with_api_key(*k as i16)
                    .with_min_version(*min)
                    .with_max_version(*max)
            })
            .collect(),
    );
    encode(&m, version)
}

/// A correct Metadata answer: this fake is node 0 and leads partition 0 of every topic asked.
fn metadata(version: i16, port: u16) -> Vec<u8> {
    let broker = kp::metadata_response::MetadataResponseBroker::default()
        .with_node_id(BrokerId(0))
        .with_host(StrBytes::from_static_str("127.0.0.1"))
        .with_port(port as i32);
    let topics = ["transactions", "refunds"]
        .iter()
        .map(|t| {
            kp::metadata_response::MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str(t))))
                .with_partitions(vec![
                    kp::metadata_response::MetadataResponsePartition::default()
                        .with_leader_id(BrokerId(0))
                        .with_replica_nodes(vec![BrokerId(0)])
                        .with_isr_nodes(vec![BrokerId(0)]),
                ])
        })
        .collect();
    encode(
        &kp::MetadataResponse::default().with_brokers(vec![broker]).with_controller_id(BrokerId(0)).with_topics(topics),
        version,
    )
}

/// Error code 0, then the compact array length `ff ff ff ff 0f` (2^32 - 2 items): the bytes
/// that made kafka-protocol 0.18 ask for 137 GB and the process abort (exit 134).
const HOSTILE_API_VERSIONS: [u8; 7] = [0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];

#[test]
fn a_hostile_api_versions_answer_is_a_bad_response_not_an_abort() {
    let addr = fake_broker(|api, _, _| (api == ApiKey::ApiVersions as i16).then(|| HOSTILE_API_VERSIONS.to_vec()));
    let args = [&format!("--bootstrap-servers={addr}") as &str];
    let watched = spawn_until(producer(&args), Stream::Stderr, |l| l.contains("no broker answers yet (attempt 2)"));
    kill(watched.child.id(), "TERM");
    let (out, lines) = watched.finish(LIMIT);
    assert_eq!(out.code(), 0, "{lines:?}");
    let bad = lines.iter().find(|l| l.contains("bad response from")).expect("the bad response is named");
    assert!(
        bad.contains(&format!(
            "bad response from {addr}: cannot decode ApiVersions v3 response: array of 4294967294 items"
        )),
        "{bad}"
    );
    assert!(lines.last().unwrap().contains("done (stopped before connecting)"), "{lines:?}");
}

/// ListOffsets: log start 0 when asked first, high watermark 10 when asked next.
fn list_offsets(version: i16) -> Vec<u8> {
    static ASKED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let offset = if ASKED.fetch_add(1, std::sync::atomic::Ordering::SeqCst).is_multiple_of(2) { 0 } else { 10 };
    let partition =
        kp::list_offsets_response::ListOffsetsPartitionResponse::default().with_partition_index(0).with_offset(offset);
    let topic = kp::list_offsets_response::ListOffsetsTopicResponse::default()
        .with_name(TopicName(StrBytes::from_static_str("transactions")))
        .with_partitions(vec![partition]);
    encode(&kp::ListOffsetsResponse::default().with_topics(vec![topic]), version)
}

/// A Fetch answer whose one record batch, checksum and all, claims 2^31 - 1 records: the count
/// kafka-protocol's batch decoder reserves room for before reading one.
fn hostile_fetch(version: i16) -> Vec<u8> {
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 0,
        key: Some(bytes::Bytes::from_static(b"1")),
        value: Some(bytes::Bytes::from_static(b"{}")),
        headers: Default::default(),
    };
    let mut batch = BytesMut::new();
    let options = RecordEncodeOptions { version: 2, compression: Compression::None };
    RecordBatchEncoder::encode(&mut batch, [&record], &options).unwrap();
    batch[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    let partition = kp::fetch_response::PartitionData::default()
        .with_partition_index(0)
        .with_high_watermark(10)
        .with_records(Some(batch.freeze()));
    let topic = kp::fetch_response::FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("transactions")))
        .with_partitions(vec![partition]);
    encode(&kp::FetchResponse::default().with_responses(vec![topic]), version)
}

#[test]
fn a_hostile_fetch_answer_while_resuming_is_a_clear_error_not_an_abort() {
    let addr = fake_broker(|api, version, port| match ApiKey::try_from(api).unwrap() {
        ApiKey::ApiVersions => Some(api_versions(version)),
        ApiKey::Metadata => Some(metadata(version, port)),
        ApiKey::ListOffsets => Some(list_offsets(version)),
        ApiKey::Fetch => Some(hostile_fetch(version)),
        _ => None,
    });
    let bootstrap = format!("--bootstrap-servers={addr}");
    let args = [&bootstrap as &str, "--acks=1", "--idempotence=false", "--max-events=3"];
    let out = run(producer(&args), LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "no banner before the ids are known: {}", out.stdout);
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(
            "pos-producer: error: cannot read the tail of transactions[0] to resume ids: the batch at offset 0 is \
             corrupt: 2147483647 records cannot fit in "
        ),
        "{last}"
    );
    assert!(last.ends_with("set PRODUCER_ID_START=N to choose where ids start"), "{last}");
}

#[test]
fn a_hostile_produce_answer_mid_run_ends_in_a_clear_delivery_timeout() {
    let addr = fake_broker(|api, version, port| match ApiKey::try_from(api).unwrap() {
        ApiKey::ApiVersions => Some(api_versions(version)),
        ApiKey::Metadata => Some(metadata(version, port)),
        // One topic answer claiming 2^31 - 1 partition answers.
        ApiKey::Produce => Some(vec![
            0, 0, 0, 1, 0, 12, b't', b'r', b'a', b'n', b's', b'a', b'c', b't', b'i', b'o', b'n', b's', 0x7f, 0xff,
            0xff, 0xff,
        ]),
        _ => None,
    });
    let bootstrap = format!("--bootstrap-servers={addr}");
    let args = [
        &bootstrap as &str,
        "--id-start=1", // no reading back: the Produce answer is the hostile one here
        "--acks=1",
        "--idempotence=false",
        "--max-events=3",
        "--sleep-seconds=0",
        "--refund-probability=0",
        "--delivery-timeout-ms=2000",
    ];
    let out = run(producer(&args), LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.events().is_empty(), "nothing was acknowledged: {}", out.stdout);
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("pos-producer: error: delivery timed out after 2000 ms: 3 events not acknowledged"),
        "{last}"
    );
    assert!(last.contains("cannot decode Produce v8 response: array of 2147483647 items needs at least"), "{last}");
}

#[test]
fn a_bootstrap_host_that_never_answers_is_named_while_waiting() {
    let addr = fake_broker(|_, _, _| None);
    let args = [&format!("--bootstrap-servers={addr}") as &str];
    let waiting = format!("waiting for broker {addr} to answer ApiVersions (3 s so far");
    let watched = spawn_until(producer(&args), Stream::Stderr, move |l| l.contains(&waiting));
    let named_after = watched.started.elapsed();
    kill(watched.child.id(), "TERM");
    let (out, lines) = watched.finish(LIMIT);
    assert_eq!(out.code(), 0, "{lines:?}");
    assert!(named_after < Duration::from_secs(10), "{named_after:?}");
}

/// A server that accepts TCP but never finishes the TLS handshake: the wait names the
/// handshake, not a request (it used to say "to answer ApiVersions"), and so does the error.
#[test]
fn a_tls_handshake_that_never_finishes_is_named_as_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    let args = [&format!("--bootstrap-servers={addr}") as &str, "--security-protocol=SSL"];
    let waiting = format!("waiting for broker {addr} to finish the TLS handshake (3 s so far");
    let watched = spawn_until(producer(&args), Stream::Stderr, move |l| l.contains(&waiting));
    kill(watched.child.id(), "TERM");
    let (out, lines) = watched.finish(LIMIT);
    assert_eq!(out.code(), 0, "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("to answer ApiVersions")), "{lines:?}");
}

// ---- real brokers -----------------------------------------------------------------------------

/// Regression: with one broker SIGSTOPped and a 5 s delivery timeout, exit 1 came 60 s later
/// (a whole request timeout for the produce, another for metadata), silently.
#[test]
fn a_stopped_broker_ends_the_run_at_the_delivery_deadline_with_progress_lines() {
    let broker = Broker::start(KAFKA_4);
    let bootstrap = format!("--bootstrap-servers={}", broker.addr);
    let args = [bootstrap.as_str(), "--sleep-seconds=0.05", "--delivery-timeout-ms=5000", "--stats-seconds=1"];
    let watched = spawn_until(producer(&args), Stream::Stdout, |l| {
        l.starts_with("[producer] Sent transaction: {\"transaction_id\":10,")
    });
    kill(broker.pid(), "STOP");
    let stopped = Instant::now();
    let mut child = watched.child;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(stopped.elapsed() < Duration::from_secs(30), "still running 30 s after the broker stopped");
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = stopped.elapsed();
    kill(broker.pid(), "CONT");
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    common::assert_lines_are_whole(&stderr);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(took <= Duration::from_secs(7), "exit {took:?} after the broker stopped; stderr:\n{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("pos-producer: error: delivery timed out after 5000 ms: "), "{last}");
    // What is waited for is a produce, or with transactions (the default) maybe the request
    // that adds its partitions or commits.
    let waiting = ["Produce", "AddPartitionsToTxn", "EndTxn"]
        .iter()
        .any(|api| stderr.contains(&format!("waiting for broker {} to answer {api} (3 s so far", broker.addr)));
    assert!(waiting, "{stderr}");
    // Stats lines go on while the loop waits (one a second; the stall lasts about 5 s).
    let stalled = stderr.lines().filter(|l| l.contains("stats: ") && l.contains(" 0.0 transactions/s")).count();
    assert!(stalled >= 3, "{stalled} stats lines during the stall:\n{stderr}");
}

/// Regression: every too-large batch was split as if the broker had failed (backoff, metadata
/// refresh) and every new batch started again from 1,000 events: 98 transactions/s, then a
/// delivery timeout on a healthy broker.
#[test]
fn a_small_max_message_bytes_is_learned_and_everything_arrives_once() {
    let broker = Broker::shared(KAFKA_4);
    let (sales, refunds) = (unique("small-batches"), unique("small-batches-refunds"));
    broker.create_topic(&sales, &["max.message.bytes=20000"]);
    let topics = [format!("--topic={sales}"), format!("--topic-refunds={refunds}")];
    let bootstrap = format!("--bootstrap-servers={}", broker.addr);
    let args = [
        bootstrap.as_str(),
        &topics[0],
        &topics[1],
        "--max-events=20000",
        "--sleep-seconds=0",
        "--refund-probability=0",
        "--delivery-timeout-ms=5000",
        "--seed=3",
        "--stats-seconds=0",
    ];
    let out = run(producer(&args), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.events().len(), 20_000);
    let learned = out.stderr.lines().filter(|l| l.contains("batches are cut to")).count();
    assert!((1..=8).contains(&learned), "the limit is learned in a few steps, not per batch:\n{}", out.stderr);
    let records = consume(&broker.addr, &sales, 20_000);
    let mut keys: Vec<u64> = records.iter().map(|r| r.key.parse().unwrap()).collect();
    keys.sort_unstable();
    assert_eq!(keys, (1..=20_000).collect::<Vec<u64>>(), "every transaction exactly once");
}

#[test]
fn topics_with_other_partition_counts_get_a_warning() {
    let broker = Broker::shared(KAFKA_4);
    let (sales, refunds) = (unique("mismatch"), unique("mismatch-refunds"));
    broker.create_topic(&sales, &[]); // 1 partition
    let topics = [format!("--topic={sales}"), format!("--topic-refunds={refunds}")];
    let bootstrap = format!("--bootstrap-servers={}", broker.addr);
    let args =
        [bootstrap.as_str(), &topics[0], &topics[1], "--max-events=5", "--sleep-seconds=0", "--topic-partitions=3"];
    let out = run(producer(&args), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "warning: topic {sales:?} exists with 1 partitions, not the 3 of KAFKA_TOPIC_PARTITIONS"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("warning: topic {sales:?} has 1 partitions but {refunds:?} has 3")),
        "{}",
        out.stderr
    );
    let same = unique("mismatch-none");
    broker.create_topic(&same, &[]);
    let out =
        run(producer(&[bootstrap.as_str(), &topics[0], &format!("--topic-refunds={same}"), "--max-events=1"]), LIMIT);
    assert!(!out.stderr.contains("warning: topic"), "same counts, no warning:\n{}", out.stderr);
}

#[test]
fn a_topic_deleted_mid_run_is_named_as_gone() {
    let broker = Broker::shared(KAFKA_4);
    let (sales, refunds) = (unique("deleted"), unique("deleted-refunds"));
    let topics = [format!("--topic={sales}"), format!("--topic-refunds={refunds}")];
    let bootstrap = format!("--bootstrap-servers={}", broker.addr);
    let args = [bootstrap.as_str(), &topics[0], &topics[1], "--sleep-seconds=0.05", "--delivery-timeout-ms=4000"];
    let watched = spawn_until(producer(&args), Stream::Stdout, |l| {
        l.starts_with("[producer] Sent transaction: {\"transaction_id\":5,")
    });
    broker.delete_topic(&sales);
    let (out, _) = watched.finish(LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("topic {sales:?} no longer exists (deleted?)")), "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(last.starts_with("pos-producer: error: delivery timed out"), "{last}");
}

#[test]
fn partitions_added_mid_run_are_used_after_the_metadata_max_age() {
    let broker = Broker::shared(KAFKA_4);
    let (sales, refunds) = (unique("grown"), unique("grown-refunds"));
    broker.create_topic(&sales, &[]);
    let topics = [format!("--topic={sales}"), format!("--topic-refunds={refunds}")];
    let bootstrap = format!("--bootstrap-servers={}", broker.addr);
    let args = [
        bootstrap.as_str(),
        &topics[0],
        &topics[1],
        "--sleep-seconds=0.02",
        "--max-seconds=15",
        "--metadata-max-age-ms=1000",
        "--stats-seconds=0",
    ];
    let watched = spawn_until(producer(&args), Stream::Stdout, |l| {
        l.starts_with("[producer] Sent transaction: {\"transaction_id\":5,")
    });
    broker.add_partitions(&sales, 4);
    let (out, lines) = watched.finish(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("topic {sales:?} now has 4 partitions (had 1)")), "{}", out.stderr);
    let sent = lines.iter().filter(|l| l.starts_with("[producer] Sent transaction: ")).count();
    let records = consume(&broker.addr, &sales, sent);
    assert_eq!(records.len(), sent);
    let used: std::collections::BTreeSet<i32> = records.iter().map(|r| r.partition).collect();
    assert_eq!(used.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3], "the new partitions get records");
}
