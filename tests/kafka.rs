//! End-to-end tests against real Apache Kafka brokers (4.x and 3.9), read back with kcat.
//!
//! Brokers come from `scripts/kafka-local` (the official jars on Maven Central): one shared
//! broker per version, a unique topic per test; tests that crash or stop a broker get their own.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::{
    Broker, KAFKA_2_1, KAFKA_3_9, KAFKA_4, Output, Stream, consume, consume_with, java_partitions, kill, producer, run,
    spawn_until, unique,
};

const LIMIT: Duration = Duration::from_secs(120);
const START: &str = "--start-time=2025-01-01T00:00:00Z";

/// Runs one test body against each Kafka version.
macro_rules! against_every_version {
    ($($name:ident),* $(,)?) => {
        mod kafka_4 { $( #[test] fn $name() { super::$name(super::KAFKA_4) } )* }
        mod kafka_3_9 { $( #[test] fn $name() { super::$name(super::KAFKA_3_9) } )* }
        mod kafka_2_1 { $( #[test] fn $name() { super::$name(super::KAFKA_2_1) } )* }
    };
}

against_every_version!(
    every_event_arrives_once_as_the_dry_run_printed_it,
    the_kafka_2_1_protocol_versions_deliver_as_well,
    acks_and_compression_variants_deliver_everything,
    a_crash_and_restart_of_the_broker_loses_and_duplicates_nothing,
    a_topic_name_the_broker_rejects_is_a_clear_error,
    a_record_larger_than_the_broker_accepts_is_a_clear_error,
    a_broker_stopped_for_good_ends_in_a_delivery_timeout,
    a_broker_lost_at_full_speed_ends_in_a_delivery_timeout_having_logged_only_what_it_holds,
);

/// Produces with `args` to `addr` and returns the output (must finish within `LIMIT`).
fn produce(addr: &str, args: &[&str]) -> Output {
    let bootstrap = format!("--bootstrap-servers={addr}");
    let mut all = vec![bootstrap.as_str(), "--stats-seconds=0"];
    all.extend_from_slice(args);
    run(producer(&all), LIMIT)
}

/// The event lines the same arguments print under `--dry-run`.
fn dry_run(args: &[&str]) -> Vec<String> {
    let mut all = vec!["--dry-run"];
    all.extend_from_slice(args);
    run(producer(&all), LIMIT).events().into_iter().map(String::from).collect()
}

/// The JSON values of the dry run's events of one kind ("transaction" or "refund").
fn values(lines: &[String], kind: &str) -> Vec<String> {
    let prefix = format!("[producer] Sent {kind}: ");
    lines.iter().filter_map(|l| l.strip_prefix(&prefix)).map(String::from).collect()
}

/// Asserts that `topic` holds each value the dry run printed for `kind` exactly once, and
/// nothing else.
fn assert_holds_exactly_once(addr: &str, topic: &str, expected: &[String], kind: &str) {
    common::assert_exactly_once(addr, topic, &values(expected, kind), &[]);
}

/// "2025-01-01 00:00:07" → Unix milliseconds.
fn event_time_ms(json: &serde_json::Value) -> i64 {
    common::event_time(json["timestamp"].as_str().unwrap()).assume_utc().unix_timestamp() * 1000
}

fn every_event_arrives_once_as_the_dry_run_printed_it(version: &str) {
    let broker = Broker::shared(version);
    let (tx, rf) = (unique("tx"), unique("rf"));
    let args = ["--seed=7", START, "--speedup=max", "--max-events=2000", "--topic-partitions=6"];
    let topics = [format!("--topic={tx}"), format!("--topic-refunds={rf}")];
    let mut all: Vec<&str> = args.to_vec();
    all.extend(topics.iter().map(String::as_str));

    let out = produce(&broker.addr, &all);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let expected = dry_run(&all);
    assert_eq!(out.events(), expected, "the event log is the dry run's, line for line");

    let mut keys = Vec::new();
    let mut partitions = Vec::new();
    for (topic, kind, id_field, key_field) in [
        (&tx, "transaction", "transaction_id", "transaction_id"),
        (&rf, "refund", "refund_id", "original_transaction_id"),
    ] {
        let want = values(&expected, kind);
        let got = consume(&broker.addr, topic, want.len());
        assert_eq!(got.len(), want.len(), "{topic}: exactly once");
        let mut got_values: Vec<&str> = got.iter().map(|r| r.value.as_str()).collect();
        let mut want_values: Vec<&str> = want.iter().map(String::as_str).collect();
        got_values.sort_unstable();
        want_values.sort_unstable();
        assert_eq!(got_values, want_values, "{topic}: values byte-identical to the dry run");
        let mut last_id_in_partition: HashMap<i32, u64> = HashMap::new();
        for r in &got {
            let json: serde_json::Value = serde_json::from_str(&r.value).unwrap();
            assert_eq!(r.key, json[key_field].to_string(), "{topic}: key");
            assert_eq!(r.timestamp_ms, event_time_ms(&json), "{topic}: record time = event time");
            let producer = format!("pos-producer/{} instance 1/1", env!("CARGO_PKG_VERSION"));
            let headers = [
                ("event_type", kind),
                ("schema_version", "1"),
                ("producer", producer.as_str()),
                ("content-type", "application/json"),
            ];
            let want: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            assert_eq!(r.headers, want, "{topic}: record headers");
            // Within a partition, events keep production order.
            let id = json[id_field].as_u64().unwrap();
            let last = last_id_in_partition.insert(r.partition, id);
            assert!(last.is_none_or(|l| l < id), "{topic} partition {}: {id} after {last:?}", r.partition);
            keys.push(r.key.clone());
            partitions.push(r.partition);
        }
    }
    // Partitions as Kafka's own Java client places the keys, so a refund lands in the same
    // partition number as its sale.
    assert_eq!(partitions, java_partitions(version, &keys, 6), "partition = Java's murmur2 partitioner");
    assert_eq!(partitions.iter().collect::<HashSet<_>>().len(), 6, "all 6 partitions in use");
}

fn the_kafka_2_1_protocol_versions_deliver_as_well(version: &str) {
    // Capped at what a Kafka 2.1 broker speaks, the client uses the older, non-flexible
    // encodings of every API (Produce v7, Metadata v7, CreateTopics v3, InitProducerId v1).
    let broker = Broker::shared(version);
    let (tx, rf) = (unique("old.tx"), unique("old.rf"));
    let flags = [format!("--topic={tx}"), format!("--topic-refunds={rf}")];
    let mut all = vec!["--seed=13", START, "--speedup=max", "--max-events=500", "--compression=gzip"];
    all.extend(flags.iter().map(String::as_str));
    let mut capped = all.clone();
    capped.push("--protocol-cap=2.1");
    let out = produce(&broker.addr, &capped);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Produce v7, Metadata v7, CreateTopics v3, InitProducerId v1"),
        "the capped versions were used: {}",
        out.stderr
    );
    let expected = dry_run(&all);
    assert_eq!(out.events(), expected);
    assert_holds_exactly_once(&broker.addr, &tx, &expected, "transaction");
    assert_holds_exactly_once(&broker.addr, &rf, &expected, "refund");
}

fn acks_and_compression_variants_deliver_everything(version: &str) {
    let broker = Broker::shared(version);
    for (acks, compression) in [("0", "none"), ("1", "gzip"), ("all", "snappy"), ("-1", "none")] {
        // Names with dots and dashes; missing topics are created (default partition count).
        let (tx, rf) = (unique(&format!("pos.tx-acks{acks}")), unique(&format!("pos.refunds-{compression}")));
        let args =
            ["--seed=11", START, "--speedup=max", "--max-events=300", "--refund-probability=0.3", "--log-events=true"];
        let flags = [
            format!("--topic={tx}"),
            format!("--topic-refunds={rf}"),
            format!("--acks={acks}"),
            format!("--compression={compression}"),
        ];
        let mut all: Vec<&str> = args.to_vec();
        all.extend(flags.iter().map(String::as_str));
        let out = produce(&broker.addr, &all);
        assert_eq!(out.code(), 0, "acks={acks} {compression}: {}", out.stderr);
        assert!(out.stderr.contains(&format!("created topic \"{tx}\"")), "{}", out.stderr);
        let expected = dry_run(&all);
        assert_holds_exactly_once(&broker.addr, &tx, &expected, "transaction");
        assert_holds_exactly_once(&broker.addr, &rf, &expected, "refund");
    }
}

/// `--start-time` six hours ago, for runs that crash a broker: brokers before 2.4 drop the
/// idempotence state of batches stamped over a week ago when they reload a log after a crash,
/// and 4.x rejects timestamps over an hour ahead: up to 200,000 steps of 0.1 s from here fit.
fn six_hours_ago() -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::hours(6);
    format!(
        "--start-time={:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn a_crash_and_restart_of_the_broker_loses_and_duplicates_nothing(version: &str) {
    let broker = Broker::start(version);
    let start = six_hours_ago();
    // On Kafka 2.1 without transactions: in one CI run of four under load, after the restart
    // the transactional producer retried without a word until it was killed at 120 s (its
    // transaction requests unanswered in time, cause not established; such retries are now
    // told after a second). Transactions through a broker crash are tested on 4.4 and 3.9.
    let transactions = if version == KAFKA_2_1 { "--transactions=off" } else { "--transactions=auto" };
    let args = [
        transactions,
        "--seed=5",
        &start,
        "--speedup=max",
        "--sleep-seconds=0.1",
        "--max-events=100000",
        "--max-in-flight=5",
        "--topic-partitions=3",
        "--stats-seconds=0",
    ];
    let out = survives_a_disruption(&broker.addr, &args, || {
        broker.crash();
        std::thread::sleep(Duration::from_secs(5));
        broker.restart();
    });
    assert!(out.stderr.contains("retrying"), "the crash was noticed: {}", out.stderr);
}

/// `--create-topics`, the init step a consumer can wait for: both topics with the asked
/// partitions and replication factor on a three-node cluster, and nothing done the second time.
#[test]
fn create_topics_makes_both_topics_as_asked_and_is_a_no_op_the_second_time() {
    let cluster = Broker::cluster(KAFKA_4);
    let (tx, rf) = (unique("init-tx"), unique("init-rf"));
    let args = [
        format!("--bootstrap-servers={}", cluster.addr),
        format!("--topic={tx}"),
        format!("--topic-refunds={rf}"),
        "--create-topics".into(),
        "--topic-partitions=4".into(),
        "--topic-replication-factor=3".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = run(producer(&args), LIMIT);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    assert_eq!(
        first.stdout,
        format!(
            "[producer] topic {tx:?} created with 4 partitions, replication factor 3\n\
             [producer] topic {rf:?} created with 4 partitions, replication factor 3\n"
        )
    );
    // What the cluster says, through another client.
    let meta = std::process::Command::new("kcat").args(["-b", &cluster.addr, "-L", "-J"]).output().unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    for topic in [&tx, &rf] {
        let t = meta["topics"].as_array().unwrap().iter().find(|t| t["topic"] == topic.as_str()).expect("listed");
        let partitions = t["partitions"].as_array().unwrap();
        assert_eq!(partitions.len(), 4, "{topic}");
        assert!(partitions.iter().all(|p| p["replicas"].as_array().unwrap().len() == 3), "{topic}: {t}");
    }
    let second = run(producer(&args), LIMIT);
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert!(second.stdout.contains(&format!("topic {tx:?} already exists with 4 partitions, replication factor 3")));
    assert!(!second.stderr.contains("created topic"), "{}", second.stderr);
}

#[test]
fn a_node_lost_from_a_three_node_cluster_fails_over_without_loss_or_duplicates() {
    // Six partitions led by three nodes: requests go to several leaders, and when one node dies
    // for good its partitions move to the others, which the producer must follow.
    let cluster = Broker::cluster(KAFKA_4);
    let args = [
        "--seed=21",
        START,
        "--speedup=max",
        "--max-events=100000",
        "--max-in-flight=5",
        "--topic-partitions=6",
        "--stats-seconds=0",
    ];
    let out = survives_a_disruption(&cluster.addr, &args, || cluster.crash_node(2));
    let nodes: HashSet<&str> = cluster.addr.split(',').collect();
    let used: HashSet<&str> =
        nodes.iter().copied().filter(|n| out.stderr.contains(&format!("connected to {n}:"))).collect();
    assert_eq!(used, nodes, "requests went to every leader: {}", out.stderr);
    assert!(out.stderr.contains("retrying"), "the lost node was noticed: {}", out.stderr);
}

/// A partition leader that hangs (SIGSTOP) holds up only its own partitions: the others keep
/// being acknowledged while its requests wait for their timeout; then everything is in the
/// topics exactly once and in order. Without transactions: a transaction commits only once
/// every partition in it answered, so with them a hung leader holds up every commit
/// (docs/ids-and-instances.md, Transactions).
#[test]
fn a_hung_leader_does_not_hold_up_the_other_partitions() {
    let cluster = Broker::cluster(KAFKA_4);
    let bootstrap = format!("--bootstrap-servers={}", cluster.addr);
    let args = [
        "--seed=23",
        START,
        "--sleep-seconds=0.01",
        "--max-seconds=26",
        "--topic-partitions=6",
        "--log-events=false",
        "--transactions=off",
    ];
    let mut all = args.to_vec();
    all.extend([bootstrap.as_str(), "--stats-seconds=1", "--request-timeout-ms=10000"]);
    // Stats line k comes k seconds after the start; node 2 hangs from the fourth to the 16th.
    let watched = spawn_until(producer(&all), Stream::Stderr, |l| {
        l.starts_with("[producer] stats: ") && {
            static SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            SEEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == 4
        }
    });
    cluster.freeze_node(2);
    std::thread::sleep(Duration::from_secs(12));
    cluster.thaw_node(2);
    let (out, lines) = watched.finish(LIMIT);
    assert_eq!(out.code(), 0, "{}", lines.join("\n"));
    let acked: Vec<u64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("[producer] stats: "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    // Node 2 was fenced after 3 s and left the other partitions' replicas in sync; its own
    // requests waited until their timeout, about 14 s in. In between, the others went on.
    assert!(acked.len() >= 14, "{lines:?}");
    let meanwhile = acked[12] - acked[8];
    assert!(meanwhile >= 100, "{meanwhile} sales acknowledged from 9 s to 13 s, while node 2 hung: {lines:?}");
    assert!(lines.iter().any(|l| l.contains("retrying")), "the hung node was noticed: {lines:?}");

    let mut dry: Vec<&str> = vec!["--seed=23", START, "--sleep-seconds=0.01"];
    let sales = *acked.last().unwrap();
    let total = lines.iter().find_map(|l| l.strip_prefix("[producer] done (time limit reached): ")).unwrap();
    let made: u64 = total.split(' ').next().unwrap().parse().unwrap();
    assert!(made >= sales);
    let limit = format!("--max-events={made}");
    dry.push(&limit);
    let expected = dry_run(&dry);
    assert_holds_exactly_once(&cluster.addr, "transactions", &expected, "transaction");
    assert_holds_exactly_once(&cluster.addr, "refunds", &expected, "refund");
}

/// Produces `args` to `addr`, runs `disrupt` once 500 sales are acknowledged, and asserts that
/// the run still ends with exit 0, every event logged once in order, and both topics holding
/// each event exactly once. Returns the run's output for further checks.
fn survives_a_disruption(addr: &str, args: &[&str], disrupt: impl FnOnce()) -> Output {
    let bootstrap = format!("--bootstrap-servers={addr}");
    let mut all: Vec<&str> = args.to_vec();
    all.push(&bootstrap);
    let watched = spawn_until(producer(&all), Stream::Stdout, |l| {
        l.starts_with("[producer] Sent transaction: {\"transaction_id\":500,")
    });
    disrupt();
    let (out, lines) = watched.finish(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);

    let expected = dry_run(args);
    let log: Vec<&str> = lines.iter().filter(|l| l.starts_with("[producer] Sent ")).map(String::as_str).collect();
    assert_eq!(log, expected, "every event logged once, in order");
    assert_holds_exactly_once(addr, "transactions", &expected, "transaction");
    assert_holds_exactly_once(addr, "refunds", &expected, "refund");
    out
}

fn a_topic_name_the_broker_rejects_is_a_clear_error(version: &str) {
    let broker = Broker::shared(version);
    // Kafka refuses a topic whose name collides with an existing one once '.' and '_' are
    // treated alike (both map to the same metric names).
    let dotted = unique("pos.clash");
    let clash = dotted.replace('.', "_");
    let ok = produce(&broker.addr, &["--max-events=1", "--sleep-seconds=0", &format!("--topic={dotted}")]);
    assert_eq!(ok.code(), 0, "{}", ok.stderr);
    let out = produce(
        &broker.addr,
        &[
            "--max-events=1",
            "--sleep-seconds=0",
            &format!("--topic={clash}"),
            &format!("--topic-refunds={}", unique("r")),
        ],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "pos-producer: error: the broker rejected topic \"{clash}\": INVALID_TOPIC_EXCEPTION (17)"
        )),
        "{last}"
    );
    assert!(last.contains("collides with existing topic"), "{last}");
    assert!(out.events().is_empty());
}

fn a_record_larger_than_the_broker_accepts_is_a_clear_error(version: &str) {
    let broker = Broker::shared(version);
    let small = unique("small");
    broker.create_topic(&small, &["max.message.bytes=120"]);
    let out = produce(
        &broker.addr,
        &["--max-events=5", "--sleep-seconds=0", "--refund-probability=0", &format!("--topic={small}")],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(last.contains(&format!("for topic \"{small}\" partition 0 is larger than the broker accepts")), "{last}");
    assert!(last.contains("MESSAGE_TOO_LARGE"), "{last}");
    assert!(out.events().is_empty(), "nothing reported as sent: {}", out.stdout);
    assert!(out.stderr.contains("5 not acknowledged (they may have been written)"), "{}", out.stderr);
}

fn a_broker_stopped_for_good_ends_in_a_delivery_timeout(version: &str) {
    let broker = Broker::start(version);
    let bootstrap = format!("--bootstrap-servers={}", broker.addr);
    let args = [bootstrap.as_str(), "--sleep-seconds=0.05", "--delivery-timeout-ms=3000"];
    let watched = spawn_until(producer(&args), Stream::Stdout, |l| {
        l.starts_with("[producer] Sent transaction: {\"transaction_id\":10,")
    });
    broker.stop();
    let (out, _) = watched.finish(LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(last.starts_with("pos-producer: error: delivery timed out after 3000 ms: "), "{last}");
    assert!(last.contains("events not acknowledged (they may have been written"), "{last}");
}

/// Flat out, five requests in flight, the broker killed for good: the run ends in a delivery
/// timeout, and once the broker is back every event logged as sent is in the topics exactly
/// once and in order, and nothing is there twice (events not logged may or may not be).
fn a_broker_lost_at_full_speed_ends_in_a_delivery_timeout_having_logged_only_what_it_holds(version: &str) {
    let broker = Broker::start(version);
    let start = six_hours_ago();
    let args = ["--seed=9", &start, "--speedup=max", "--sleep-seconds=0.01", "--topic-partitions=3"];
    let bootstrap = format!("--bootstrap-servers={}", broker.addr);
    let mut all: Vec<&str> = args.to_vec();
    all.extend([bootstrap.as_str(), "--stats-seconds=0", "--max-in-flight=5", "--delivery-timeout-ms=3000"]);
    let watched = spawn_until(producer(&all), Stream::Stdout, |l| {
        l.starts_with("[producer] Sent transaction: {\"transaction_id\":2000,")
    });
    broker.crash();
    let (out, lines) = watched.finish(LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(last.starts_with("pos-producer: error: delivery timed out after 3000 ms: "), "{last}");
    broker.restart();

    let logged: Vec<String> = lines.iter().filter(|l| l.starts_with("[producer] Sent ")).cloned().collect();
    let sales = logged.iter().filter(|l| l.starts_with("[producer] Sent transaction")).count();
    // What the run made: its first events, far more than could have been on the way.
    let limit = format!("--max-events={}", sales + 50_000);
    let mut dry: Vec<&str> = args.to_vec();
    dry.push(&limit);
    let made_all = dry_run(&dry);
    // Logged in the order made; events never acknowledged are left out (with several requests
    // in flight, a later one may have been acknowledged before the broker went).
    let mut made_iter = made_all.iter();
    for line in &logged {
        assert!(made_iter.any(|m| m == line), "logged out of the order made, or never made: {line}");
    }
    for (topic, kind) in [("transactions", "transaction"), ("refunds", "refund")] {
        let made = values(&made_all, kind);
        let sent = values(&logged, kind);
        // Read uncommitted: what is asked is that the log holds every event logged as sent.
        // (Read committed, the last commit shows once the restarted coordinator has loaded and
        // written its markers, which under load can take longer than kcat waits.)
        let got = consume_with(&broker.addr, topic, sent.len(), &["isolation.level=read_uncommitted".into()]);
        let mut seen = HashSet::new();
        for r in &got {
            assert!(seen.insert(r.value.as_str()), "{topic}: written twice: {}", r.value);
        }
        let missing: Vec<&String> = sent.iter().filter(|v| !seen.contains(v.as_str())).collect();
        assert!(
            missing.is_empty(),
            "{topic}: {} logged as sent but not in Kafka, e.g. {:?}",
            missing.len(),
            missing[0]
        );
        let made_set: HashSet<&str> = made.iter().map(String::as_str).collect();
        assert!(got.iter().all(|r| made_set.contains(r.value.as_str())), "{topic}: a record nobody made");
        common::assert_in_order(topic, &got, &made);
    }
}

/// The truth file of a real run equals a recount of what kcat reads back from both topics:
/// what the broker acknowledged, per product, store, reason and minute.
#[test]
fn the_truth_file_equals_a_recount_of_the_topics() {
    let broker = Broker::shared(KAFKA_4);
    let (tx, rf) = (unique("truth-tx"), unique("truth-rf"));
    let dir = common::tempdir("truth-kafka");
    let path = dir.join("truth.json");
    let args = [
        format!("--topic={tx}"),
        format!("--topic-refunds={rf}"),
        format!("--truth-file={}", path.display()),
        "--truth-window-seconds=300".into(),
        "--headers=false".into(),
    ];
    let mut all = vec!["--seed=31", START, "--speedup=max", "--max-events=3000", "--topic-partitions=3"];
    all.extend(args.iter().map(String::as_str));
    let out = produce(&broker.addr, &all);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["final"], true);
    let sales = consume(&broker.addr, &tx, 3000);
    let refunds = consume(&broker.addr, &rf, doc["totals"]["refunds"].as_u64().unwrap() as usize);
    let values = sales.iter().chain(&refunds).map(|r| r.value.as_str());
    common::truth::assert_matches(&doc, &common::truth::recount(values, 300));
    assert!(sales.iter().chain(&refunds).all(|r| r.headers.is_empty()), "PRODUCER_HEADERS=false: no headers");
    assert_eq!(doc["totals"]["transactions"], 3000);
    assert_eq!(doc["ids"]["transactions"], serde_json::json!({"first": 1, "last": 3000}));
}

/// Faults on purpose reach the topics as the truth file says, and a consumer-side check
/// (Python, stdlib only: `tests/consumer_check.py`) that dedupes, rejects malformed records
/// and applies a 2-minute watermark computes the truth file's `windows_kept` from them.
#[test]
fn faults_reach_the_topics_as_the_truth_file_says_and_a_correct_consumer_agrees() {
    let broker = Broker::shared(KAFKA_4);
    let (tx, rf) = (unique("faults-tx"), unique("faults-rf"));
    let dir = common::tempdir("faults-kafka");
    let path = dir.join("truth.json");
    let args = [
        format!("--topic={tx}"),
        format!("--topic-refunds={rf}"),
        format!("--truth-file={}", path.display()),
        "--late-probability=0.03".into(),
        "--duplicate-probability=0.03".into(),
        "--malformed-probability=0.03".into(),
        "--out-of-order-probability=0.03".into(),
        "--refund-probability=0.2".into(),
    ];
    let mut all = vec!["--seed=41", START, "--speedup=max", "--max-events=4000", "--topic-partitions=3"];
    all.extend(args.iter().map(String::as_str));
    let out = produce(&broker.addr, &all);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let ids =
        |v: &serde_json::Value| -> Vec<u64> { v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect() };
    let faults = &doc["faults"];
    let broken = |topic: &str| -> usize {
        ["not-json", "missing-field", "wrong-type"]
            .iter()
            .map(|k| faults["malformed"][k][topic].as_array().unwrap().len())
            .sum()
    };
    let n_sales = 4000 + ids(&faults["duplicate"]["transactions"]).len() + broken("transactions");
    let n_refunds = doc["totals"]["refunds"].as_u64().unwrap() as usize
        + ids(&faults["duplicate"]["refunds"]).len()
        + broken("refunds");
    let sales = consume(&broker.addr, &tx, n_sales);
    let refunds = consume(&broker.addr, &rf, n_refunds);
    assert_eq!((sales.len(), refunds.len()), (n_sales, n_refunds), "records in the topics");
    for fault in ["late", "duplicate", "reordered"] {
        assert!(faults[fault]["count"].as_u64().unwrap() > 20, "{fault}: {}", faults[fault]["count"]);
    }
    assert!(broken("transactions") > 20 && broken("refunds") > 0);

    // Each record says its faults in a header, never in its JSON; the ids each fault hit are
    // the truth file's.
    let fault_of = |r: &common::Consumed| r.headers.iter().find(|(k, _)| k == "pos-fault").map(|(_, v)| v.clone());
    for (topic, records, id_field) in [("transactions", &sales, "transaction_id"), ("refunds", &refunds, "refund_id")] {
        let mut hit: HashMap<String, Vec<u64>> = HashMap::new();
        for r in records.iter() {
            assert!(r.headers.iter().any(|(k, v)| k == "event_type" && v == &topic[..topic.len() - 1]), "{r:?}");
            assert!(!r.value.contains("pos-fault"), "{}", r.value);
            let Some(f) = fault_of(r) else { continue };
            let parsed: Option<serde_json::Value> = serde_json::from_str(&r.value).ok();
            let id = parsed.as_ref().and_then(|v| v[id_field].as_u64());
            for name in f.split(',') {
                if name == "malformed" {
                    continue;
                }
                hit.entry(name.to_string())
                    .or_default()
                    .push(id.unwrap_or_else(|| panic!("{name} record without its id: {r:?}")));
            }
        }
        for fault in ["late", "duplicate", "reordered"] {
            let mut got = hit.remove(fault).unwrap_or_default();
            got.sort_unstable();
            if fault == "late" {
                // A duplicate of a late event is stamped late too; the truth counts the event.
                got.dedup();
            }
            let mut want = ids(&faults[fault][topic]);
            want.sort_unstable();
            assert_eq!(got, want, "{topic}: ids hit by {fault}");
        }
    }

    // Duplicates are byte-identical pairs; late sales are stamped 300 s early in the JSON and
    // in the record timestamp (sale i happens at i − 1 seconds under this simulated clock).
    let late: HashSet<u64> = ids(&faults["late"]["transactions"]).into_iter().collect();
    let mut by_id: HashMap<u64, Vec<&common::Consumed>> = HashMap::new();
    for r in &sales {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&r.value) else { continue };
        let Some(id) = v["transaction_id"].as_u64() else { continue };
        if fault_of(r).as_deref() == Some("malformed") {
            continue;
        }
        let want = 1_735_689_600_000 + (id as i64 - 1) * 1000 - if late.contains(&id) { 300_000 } else { 0 };
        assert_eq!((event_time_ms(&v), r.timestamp_ms), (want, want), "sale {id}");
        by_id.entry(id).or_default().push(r);
    }
    for id in ids(&faults["duplicate"]["transactions"]) {
        let pair = &by_id[&id];
        assert_eq!(pair.len(), 2, "sale {id}");
        assert_eq!((&pair[0].key, &pair[0].value), (&pair[1].key, &pair[1].value), "sale {id}");
    }
    assert_eq!(by_id.len(), 4000, "every sale is there");

    // The truth's totals, groups and ids are a recount of the events, each once; its
    // `windows`, of every record that is an event (a duplicate twice).
    let copy = |r: &common::Consumed, what: &str| fault_of(r).is_some_and(|f| f.contains(what));
    let events: Vec<&str> = sales
        .iter()
        .chain(&refunds)
        .filter(|r| !copy(r, "malformed") && !copy(r, "duplicate"))
        .map(|r| r.value.as_str())
        .collect();
    let mut distinct = common::truth::recount(events, 60);
    let with_copies = sales.iter().chain(&refunds).filter(|r| !copy(r, "malformed")).map(|r| r.value.as_str());
    distinct["windows"] = common::truth::recount(with_copies, 60)["windows"].clone();
    common::truth::assert_matches(&doc, &distinct);

    // What a correct consumer computes from the topics is the truth file's.
    let jsonl = |records: &[common::Consumed], name: &str| {
        let file = dir.join(name);
        let lines: Vec<String> = records
            .iter()
            .map(|r| {
                let flat: Vec<&str> = r.headers.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]).collect();
                serde_json::json!({"ts": r.timestamp_ms, "key": r.key, "payload": r.value, "headers": flat}).to_string()
            })
            .collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        file
    };
    let (tx_file, rf_file) = (jsonl(&sales, "tx.jsonl"), jsonl(&refunds, "rf.jsonl"));
    let check = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/consumer_check.py"))
        .args([&path, &tx_file, &rf_file])
        .output()
        .expect("python3 is installed (.ci/run does it)");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}{}", String::from_utf8_lossy(&check.stderr));
    assert!(report.contains("duplicates absorbed"), "{report}");
    assert!(doc["dropped_by_watermark"]["count"].as_u64().unwrap() > 20, "late sales are dropped by the watermark");
}

#[test]
fn nothing_listening_keeps_retrying_until_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bootstrap = format!("--bootstrap-servers=127.0.0.1:{port}");
    let watched = spawn_until(producer(&[&bootstrap]), Stream::Stderr, |l| l.contains("(attempt 3)"));
    let sent = Instant::now();
    kill(watched.child.id(), "TERM");
    let (out, lines) = watched.finish(Duration::from_secs(30));
    let took = sent.elapsed();
    assert_eq!(out.code(), 0);
    assert!(took < Duration::from_secs(1), "SIGTERM while retrying took {took:?}");
    assert!(
        lines[0].contains(&format!("no broker answers yet (attempt 1): cannot connect to 127.0.0.1:{port}")),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().contains("done (stopped before connecting)"), "{lines:?}");
}

#[test]
fn a_name_that_does_not_resolve_is_retried_then_a_clear_error() {
    // Container DNS may lag behind the producer's start, so a name that does not resolve is
    // retried, but only until the delivery timeout: then it is most likely a typo.
    let args = ["--bootstrap-servers=no-such-host.invalid:9092", "--max-events=1", "--delivery-timeout-ms=1500"];
    let out = run(producer(&args), LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("no broker answers yet (attempt 2): cannot resolve no-such-host.invalid:9092"),
        "{}",
        out.stderr
    );
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(
            "pos-producer: error: no bootstrap server in \"no-such-host.invalid:9092\" resolves to an address \
             within the delivery timeout (cannot resolve no-such-host.invalid:9092"
        ),
        "{last}"
    );
}
