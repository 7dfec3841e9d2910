//! Compressed topics, against real brokers (issue 18): topics created with
//! `compression.type` zstd, lz4 or gzip on Kafka 4.4, 3.9 and 2.1 (the broker recompresses every
//! batch), with kcat writing its own `-z` batches into them; a restart resumes after the
//! highest id in them. And pos-producer's own lz4 and zstd batches are read back exactly once
//! by kcat (librdkafka) and by Kafka's Java console consumer.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{
    Broker, KAFKA_2_1, KAFKA_3_9, KAFKA_4, Output, assert_exactly_once, console_consume, producer, run, unique,
};

const LIMIT: Duration = Duration::from_secs(120);

fn produce(addr: &str, tx: &str, rf: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        format!("--bootstrap-servers={addr}"),
        format!("--topic={tx}"),
        format!("--topic-refunds={rf}"),
        "--stats-seconds=0".into(),
        "--sleep-seconds=0".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = run(producer(&args.iter().map(String::as_str).collect::<Vec<_>>()), LIMIT);
    common::assert_lines_are_whole(&out.stderr);
    out
}

/// The transactions a dry run with `args` prints, as (key, JSON value).
fn dry_run(args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["--dry-run", "--refund-probability=0", "--sleep-seconds=0", "--stats-seconds=0"];
    all.extend_from_slice(args);
    let out = run(producer(&all), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    out.events()
        .iter()
        .filter_map(|l| l.strip_prefix("[producer] Sent transaction: "))
        .map(|v| {
            let json: serde_json::Value = serde_json::from_str(v).unwrap();
            (json["transaction_id"].to_string(), v.to_string())
        })
        .collect()
}

/// Writes `records` (key, value) with kcat as another producer would, compressed with `codec`
/// (`-z`), all in one batch (librdkafka compresses a batch only when that saves space, which
/// repetitive JSON does).
fn kcat_write(addr: &str, topic: &str, codec: &str, records: &[(String, String)]) {
    let lines: String = records.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    let mut kcat = std::process::Command::new("kcat")
        .args(["-b", addr, "-t", topic, "-P", "-K\t", "-z", codec, "-X", "linger.ms=200"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat is installed");
    std::io::Write::write_all(kcat.stdin.as_mut().unwrap(), lines.as_bytes()).unwrap();
    drop(kcat.stdin.take());
    assert!(kcat.wait().unwrap().success(), "kcat -z {codec}");
}

fn banner(out: &Output) -> &str {
    out.stdout.lines().next().unwrap_or_else(|| panic!("no banner: {}", out.stderr))
}

/// For each topic codec: a run with `own` compression, 20 later sales written by kcat with
/// the topic's codec, then a restart must start after them, and every id is there once.
fn restarts_resume_on_compressed_topics(version: &str, runs: &[(&str, &str)]) {
    let broker = Broker::shared(version);
    for &(topic_codec, own) in runs {
        let (tx, rf) = (unique("tx"), unique("rf"));
        for t in [&tx, &rf] {
            broker.create_topic(t, &[&format!("compression.type={topic_codec}")]);
        }
        let compression = format!("--compression={own}");
        let first = produce(&broker.addr, &tx, &rf, &["--max-events=300", "--log-events=false", &compression]);
        assert_eq!(first.code(), 0, "{version} {topic_codec}/{own}: {}", first.stderr);
        kcat_write(&broker.addr, &tx, topic_codec, &dry_run(&["--id-start=301", "--max-events=20"]));
        let second = produce(&broker.addr, &tx, &rf, &["--max-events=50", "--log-events=false", &compression]);
        assert_eq!(second.code(), 0, "{version} {topic_codec}/{own}: {}", second.stderr);
        let b = banner(&second);
        assert!(b.contains("; ids from 321 (resumed: last transaction 320 in "), "{version} {topic_codec}/{own}: {b}");
        let ids: Vec<u64> = common::consume(&broker.addr, &tx, 370)
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.value).unwrap();
                v["transaction_id"].as_u64().unwrap()
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=370).collect::<Vec<_>>(), "{version} {topic_codec}/{own}: every id once");
    }
}

#[test]
fn kafka_4_zstd_lz4_gzip_topics_restart() {
    restarts_resume_on_compressed_topics(KAFKA_4, &[("zstd", "lz4"), ("lz4", "zstd"), ("gzip", "none")]);
}

#[test]
fn kafka_3_9_zstd_lz4_gzip_topics_restart() {
    restarts_resume_on_compressed_topics(KAFKA_3_9, &[("zstd", "none"), ("lz4", "snappy"), ("gzip", "zstd")]);
}

#[test]
fn kafka_2_1_zstd_lz4_gzip_topics_restart() {
    restarts_resume_on_compressed_topics(KAFKA_2_1, &[("zstd", "zstd"), ("lz4", "lz4"), ("gzip", "gzip")]);
}

/// Our own lz4 and zstd batches, in topics that keep what the producer sent
/// (`compression.type=producer`, the default), read by librdkafka and by the Java client.
fn own_batches_read_back_exactly_once(version: &str) {
    let broker = Broker::shared(version);
    for codec in ["lz4", "zstd"] {
        let (tx, rf) = (unique("tx"), unique("rf"));
        let args = [
            "--max-events=2000",
            "--refund-probability=0",
            "--seed=18",
            "--start-time=2026-01-01T00:00:00Z",
            "--topic-partitions=1",
        ];
        let compression = format!("--compression={codec}");
        let out = produce(&broker.addr, &tx, &rf, &[&args[..], &[&compression, "--log-events=false"]].concat());
        assert_eq!(out.code(), 0, "{version} {codec}: {}", out.stderr);
        let want: Vec<String> = dry_run(&args).into_iter().map(|(_, v)| v).collect();
        assert_eq!(want.len(), 2000);
        assert_exactly_once(&broker.addr, &tx, &want, &[]);
        let java = console_consume(version, &broker.addr, &tx, want.len());
        assert_eq!(java, want, "{version} {codec}: Kafka's console consumer reads every event once, in order");
    }
}

#[test]
fn kafka_4_own_lz4_and_zstd_batches_read_by_kcat_and_java() {
    own_batches_read_back_exactly_once(KAFKA_4);
}

#[test]
fn kafka_2_1_own_lz4_and_zstd_batches_read_by_kcat_and_java() {
    own_batches_read_back_exactly_once(KAFKA_2_1);
}
