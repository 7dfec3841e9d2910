//! Ids across restarts and instances (issue 8), against real brokers, read back with kcat:
//! a run continues after the highest ids already in the topics, its refund pool too; a crash
//! loses no id the broker got and repeats none; instances k/n never collide; and what cannot
//! be known (deleted records, nothing found within the bound) stops the run.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::Duration;

use common::{
    Broker, Consumed, KAFKA_2_1, KAFKA_3_9, KAFKA_4, Output, Stream, consume, consume_with, kill, producer, run,
    spawn_until, unique,
};

const LIMIT: Duration = Duration::from_secs(120);

/// Records read back, each with its JSON value.
type Events = Vec<(Consumed, serde_json::Value)>;

/// A pair of fresh topics and the arguments that name them.
struct Topics {
    addr: String,
    tx: String,
    rf: String,
}

impl Topics {
    fn new(broker: &Broker) -> Topics {
        Topics { addr: broker.addr.clone(), tx: unique("tx"), rf: unique("rf") }
    }

    fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<String> {
        let mut all = vec![
            format!("--bootstrap-servers={}", self.addr),
            format!("--topic={}", self.tx),
            format!("--topic-refunds={}", self.rf),
            "--stats-seconds=0".into(),
            "--sleep-seconds=0".into(),
        ];
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    }

    fn produce(&self, extra: &[&str]) -> Output {
        let args = self.args(extra);
        let out = run(producer(&args.iter().map(String::as_str).collect::<Vec<_>>()), LIMIT);
        common::assert_lines_are_whole(&out.stderr);
        out
    }

    /// Writes `lines` to `topic` as another producer would, with kcat and its extra `args`
    /// (`-K:` for `key:value` lines, `-p 1`, `-z lz4`, …).
    fn kcat_write(&self, topic: &str, args: &[&str], lines: &str) {
        let mut kcat = std::process::Command::new("kcat")
            .args(["-b", &self.addr, "-t", topic, "-P"])
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("kcat is installed");
        std::io::Write::write_all(kcat.stdin.as_mut().unwrap(), lines.as_bytes()).unwrap();
        drop(kcat.stdin.take());
        assert!(kcat.wait().unwrap().success(), "kcat {args:?}");
    }

    /// Everything in both topics now, as (sales, refunds) JSON with their records.
    fn read_back(&self) -> (Events, Events) {
        let parse = |records: Vec<Consumed>| {
            records
                .into_iter()
                .map(|r| {
                    let v = serde_json::from_str(&r.value).unwrap_or_else(|e| panic!("{}: {e}", r.value));
                    (r, v)
                })
                .collect()
        };
        // As a sink of a transactional producer reads: committed records only.
        let committed = ["isolation.level=read_committed".to_string()];
        (
            parse(consume_with(&self.addr, &self.tx, 0, &committed)),
            parse(consume_with(&self.addr, &self.rf, 0, &committed)),
        )
    }
}

fn id(v: &serde_json::Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("{field} in {v}"))
}

/// The data contract over everything in the topics, as one stream: ids unique, keys the ids,
/// every refund names an existing sale of the same product, store and customer, for at most
/// what was paid, and no sale is refunded twice. Returns the transaction and refund ids.
fn assert_contract(
    sales: &[(Consumed, serde_json::Value)],
    refunds: &[(Consumed, serde_json::Value)],
) -> (Vec<u64>, Vec<u64>) {
    let mut by_id: HashMap<u64, &serde_json::Value> = HashMap::new();
    for (r, v) in sales {
        let t = id(v, "transaction_id");
        assert_eq!(r.key, t.to_string(), "a sale's key is its id");
        assert!(by_id.insert(t, v).is_none(), "transaction id {t} twice");
    }
    let mut refund_ids = HashSet::new();
    let mut refunded = HashSet::new();
    for (r, v) in refunds {
        let rid = id(v, "refund_id");
        assert!(refund_ids.insert(rid), "refund id {rid} twice");
        let original = id(v, "original_transaction_id");
        assert_eq!(r.key, original.to_string());
        let sale = by_id
            .get(&original)
            .unwrap_or_else(|| panic!("refund {rid} names sale {original}, which is not in the topic"));
        for field in ["product_id", "store_id", "customer_id"] {
            assert_eq!(sale[field], v[field], "refund {rid} {field}");
        }
        assert!(v["refund_amount"].as_f64() <= sale["amount"].as_f64(), "refund {rid} pays back more than was paid");
        assert!(refunded.insert(original), "sale {original} refunded twice (again by refund {rid})");
    }
    let mut t: Vec<u64> = by_id.keys().copied().collect();
    let mut r: Vec<u64> = refund_ids.into_iter().collect();
    t.sort_unstable();
    r.sort_unstable();
    (t, r)
}

/// Ids of instance k of n: exactly k, k+n, k+2n, … with no gap.
fn assert_contiguous(ids: &[u64], k: u64, n: u64, what: &str) {
    let mine: Vec<u64> = ids.iter().copied().filter(|i| i % n == k % n).collect();
    let want: Vec<u64> = (0..mine.len() as u64).map(|i| k + i * n).collect();
    if mine != want {
        let first_bad = mine.iter().zip(&want).position(|(a, b)| a != b);
        panic!("{what} of instance {k}/{n}: {} ids, first difference at {first_bad:?}", mine.len());
    }
}

fn sent_counts(out: &Output) -> (u64, u64) {
    let line =
        out.stderr.lines().find(|l| l.contains("sent (acknowledged)")).unwrap_or_else(|| panic!("{}", out.stderr));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "transactions").unwrap();
    (words[at - 1].parse().unwrap(), words[at + 2].parse().unwrap())
}

fn banner(out: &Output) -> &str {
    out.stdout.lines().next().unwrap_or_else(|| panic!("no banner: {}", out.stderr))
}

/// 3,000 events, then a second run of 500: ids 3,001… with no gap and no repeat, the union
/// one stream that keeps the contract, refunds of sales from before the restart included.
fn a_restart_continues_after_the_last_ids(version: &str, settings: &[&str]) {
    let broker = Broker::shared(version);
    let t = Topics::new(broker);
    let common = [settings, &["--refund-probability=0.3", "--log-events=false"]].concat();
    let first = t.produce(&[&common[..], &["--max-events=3000"]].concat());
    assert_eq!(first.code(), 0, "{}", first.stderr);
    assert!(banner(&first).ends_with("; ids from 1 (topics empty)"), "{}", banner(&first));
    let (_, first_refunds) = sent_counts(&first);
    let second = t.produce(&[&common[..], &["--max-events=500", "--log-events=true"]].concat());
    assert_eq!(second.code(), 0, "{}", second.stderr);
    let b = banner(&second);
    assert!(b.contains("; ids from 3001 (resumed: last transaction 3000 in "), "{b}");
    assert!(b.contains(&format!("; refund ids from {} (last refund {first_refunds} in ", first_refunds + 1)), "{b}");
    assert!(b.contains(" earlier sales refundable"), "{b}");

    let (sales, refunds) = t.read_back();
    let (tx_ids, rf_ids) = assert_contract(&sales, &refunds);
    assert_eq!(tx_ids, (1..=3500).collect::<Vec<_>>());
    assert_contiguous(&rf_ids, 1, 1, "refund ids");
    // The second run's refunds include sales of the first: the pool was rebuilt.
    let early =
        refunds.iter().filter(|(_, v)| id(v, "refund_id") > first_refunds && id(v, "original_transaction_id") <= 3000);
    assert!(early.count() > 0, "no refund after the restart names a sale from before it");
}

#[test]
fn kafka_4_six_partitions_restart() {
    a_restart_continues_after_the_last_ids(KAFKA_4, &["--topic-partitions=6"]);
}

#[test]
fn kafka_3_9_one_partition_snappy_restart() {
    a_restart_continues_after_the_last_ids(KAFKA_3_9, &["--topic-partitions=1", "--compression=snappy"]);
}

#[test]
fn kafka_2_1_six_partitions_gzip_restart() {
    a_restart_continues_after_the_last_ids(KAFKA_2_1, &["--topic-partitions=6", "--compression=gzip"]);
}

#[test]
fn kafka_4_one_partition_gzip_restart_with_the_2_1_protocol() {
    a_restart_continues_after_the_last_ids(
        KAFKA_4,
        &["--topic-partitions=1", "--compression=gzip", "--protocol-cap=2.1"],
    );
}

/// A producer killed mid-run (flat out, several requests in flight) and started again: in
/// Kafka every id at most once, every event logged as sent there, and the second run's ids the
/// next ones after the highest in the topics. (A gap can only be events never acknowledged:
/// a later request may have been written while an earlier batch of another partition was not.)
#[test]
fn a_kill_9_mid_run_then_a_restart_leaves_every_id_once_and_continues_above_them() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    let args = t.args(&["--topic-partitions=6", "--max-events=20000"]);
    let mut cmd = producer(&args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let watched = spawn_until(cmd, Stream::Stdout, |l| l.contains("{\"transaction_id\":5000,"));
    kill(watched.child.id(), "KILL");
    let (_, lines) = watched.finish(LIMIT);
    assert!(lines.len() > 5000, "killed after {} lines", lines.len());
    // The ids of the events a run logged; the kill may cut its very last line short.
    let logged_ids = |lines: &[String], kind: &str, field: &str| -> Vec<u64> {
        let prefix = format!("[producer] Sent {kind}: ");
        let mut ids = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let Some(value) = line.strip_prefix(&prefix) else { continue };
            match serde_json::from_str(value) {
                Ok(json) => ids.push(id(&json, field)),
                Err(e) => assert_eq!(i, lines.len() - 1, "line {i} of {}: {e}: {line}", lines.len()),
            }
        }
        ids
    };
    let first_sales = logged_ids(&lines, "transaction", "transaction_id");
    let first_refunds = logged_ids(&lines, "refund", "refund_id");

    let second = t.produce(&["--topic-partitions=6", "--max-events=3000"]);
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert!(banner(&second).contains("(resumed: last transaction "), "{}", banner(&second));
    let second_lines: Vec<String> = second.stdout.lines().map(String::from).collect();
    let second_sales = logged_ids(&second_lines, "transaction", "transaction_id");
    let second_refunds = logged_ids(&second_lines, "refund", "refund_id");
    let (sales, refunds) = t.read_back();
    // Every refund names a sale in the topic: a refund goes only once its sale is acknowledged.
    let (tx_ids, rf_ids) = assert_contract(&sales, &refunds);
    for (what, all, first, second) in
        [("transaction", &tx_ids, &first_sales, &second_sales), ("refund", &rf_ids, &first_refunds, &second_refunds)]
    {
        let all: HashSet<u64> = all.iter().copied().collect();
        // Everything logged as sent is there; with several requests in flight at the kill,
        // events never acknowledged may be missing, but only those.
        assert!(first.iter().chain(second).all(|i| all.contains(i)), "a {what} logged as sent is missing");
        // The second run's ids are new, contiguous, and above every id of the first run.
        let before: Vec<u64> = all.iter().copied().filter(|i| !second.contains(i)).collect();
        let top = before.iter().max().copied().unwrap_or(0);
        let want: Vec<u64> = (top + 1..top + 1 + second.len() as u64).collect();
        assert_eq!(second, &want, "{what} ids after the restart: the next ones after {top}");
        assert!(first.iter().all(|i| *i <= top), "{what}: the first run's logged ids lie below the restart");
    }
    assert!(tx_ids.len() >= 8000, "{} sales", tx_ids.len());
}

/// Instances 1/3, 2/3 and 3/3 at once, 2/3 killed and restarted midway: every id unique, each
/// instance's ids contiguous in its class, after the init step made the topics.
#[test]
fn three_instances_at_once_never_collide_and_stay_contiguous() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    let init = t.produce(&["--create-topics", "--topic-partitions=3"]);
    assert_eq!(init.code(), 0, "{}", init.stderr);
    let spawn = |k: u64, max: &str| {
        let args = t.args(&["--sleep-seconds=0.002", &format!("--instance={k}/3"), max]);
        let mut cmd = producer(&args.iter().map(String::as_str).collect::<Vec<_>>());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    };
    let one = spawn_until(spawn(1, "--max-events=1500"), Stream::Stdout, |l| l.contains("starting:"));
    let three = spawn_until(spawn(3, "--max-events=1500"), Stream::Stdout, |l| l.contains("starting:"));
    let two = spawn_until(spawn(2, "--max-events=1500"), Stream::Stdout, |l| l.contains("{\"transaction_id\":1202,"));
    kill(two.child.id(), "KILL");
    two.finish(LIMIT);
    let again = spawn_until(spawn(2, "--max-events=600"), Stream::Stdout, |l| l.contains("starting:"));
    for (k, w) in [(1, one), (3, three), (2, again)] {
        let (out, lines) = w.finish(LIMIT);
        assert_eq!(out.code(), 0, "instance {k}/3: {}", out.stderr);
        if k == 2 {
            assert!(lines[0].contains("(resumed: last transaction "), "{}", lines[0]);
            assert!(lines[0].ends_with("instance 2/3: ids 2, 5, 8, …)"), "{}", lines[0]);
        }
    }
    let (sales, refunds) = t.read_back();
    let (tx_ids, rf_ids) = assert_contract(&sales, &refunds);
    for k in 1..=3 {
        assert_contiguous(&tx_ids, k, 3, "transaction ids");
        assert_contiguous(&rf_ids, k, 3, "refund ids");
    }
    assert_eq!(tx_ids.iter().filter(|i| *i % 3 == 1).count(), 1500);
    assert!(tx_ids.iter().filter(|i| *i % 3 == 2).count() >= 1000, "2/3 resumed after its 400+ sales");
    // A refund names a sale of its own instance.
    for (_, v) in &refunds {
        assert_eq!(id(v, "refund_id") % 3, id(v, "original_transaction_id") % 3, "{v}");
    }
}

/// A sale another producer wrote without a key (the id only in its JSON) still counts.
#[test]
fn a_keyless_sale_from_another_producer_counts_by_its_json() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    assert_eq!(t.produce(&["--max-events=10", "--topic-partitions=1", "--log-events=false"]).code(), 0);
    let sale = r#"{"transaction_id":5000,"product_id":"MOUSE-001","store_id":"STORE-001","customer_id":"CUST-0001","amount":20,"timestamp":"2025-01-01 00:00:00"}"#;
    t.kcat_write(&t.tx, &[], &format!("{sale}\n"));
    let out = t.produce(&["--max-events=5"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(banner(&out).contains("ids from 5001 (resumed: last transaction 5000 in "), "{}", banner(&out));
}

/// Faults in the tail (duplicates, broken copies) do not confuse a restart: each sale is
/// offered for refund once, and never refunded twice.
#[test]
fn a_restart_after_a_run_with_faults_offers_each_sale_once() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    let faults = ["--duplicate-probability=0.4", "--malformed-probability=0.4", "--refund-probability=0.2"];
    let first = t.produce(&[&faults[..], &["--max-events=300", "--topic-partitions=1", "--log-events=false"]].concat());
    assert_eq!(first.code(), 0, "{}", first.stderr);
    let second = t.produce(&["--max-events=150", "--refund-probability=1", "--log-events=false"]);
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert!(banner(&second).contains("; ids from 301 (resumed: last transaction 300 in "), "{}", banner(&second));
    let clean = |records: Vec<Consumed>| -> Events {
        let faulty = |r: &Consumed| {
            r.headers.iter().any(|(k, v)| k == "pos-fault" && (v.contains("malformed") || v.contains("duplicate")))
        };
        records
            .into_iter()
            .filter(|r| !faulty(r))
            .map(|r| {
                let v = serde_json::from_str(&r.value).unwrap();
                (r, v)
            })
            .collect()
    };
    let (sales, refunds) = (clean(consume(&t.addr, &t.tx, 0)), clean(consume(&t.addr, &t.rf, 0)));
    let (tx_ids, _) = assert_contract(&sales, &refunds);
    assert_eq!(tx_ids, (1..=450).collect::<Vec<_>>());
}

/// An explicit start is today's behaviour: ids from that number, whatever the topics hold.
#[test]
fn an_explicit_id_start_ignores_the_topics() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    assert_eq!(t.produce(&["--max-events=50", "--log-events=false"]).code(), 0);
    let out = t.produce(&["--max-events=5", "--id-start=1", "--refund-probability=0"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(banner(&out).ends_with("; ids from 1 (PRODUCER_ID_START)"), "{}", banner(&out));
    assert!(out.events()[0].contains("{\"transaction_id\":1,"), "{:?}", out.events());
}

/// Regression (issue 18): an lz4 batch another producer wrote into the tail stopped every
/// restart ("is lz4-compressed, and pos-producer reads only uncompressed, gzip and snappy
/// batches"). Now it is read: its record (key 77, as the resume reads sales by key) is the
/// last sale in the topic, and the ids go on after it.
#[test]
fn an_lz4_batch_in_the_tail_is_read_and_the_run_continues() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    assert_eq!(t.produce(&["--max-events=20", "--topic-partitions=1"]).code(), 0);
    // kcat compresses only when it saves space: a long, repetitive value.
    let value = format!("77:{}\n", "x".repeat(4000));
    t.kcat_write(&t.tx, &["-K:", "-z", "lz4"], &value);
    let out = t.produce(&["--max-events=5"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // At offset 20 or later: the first run's transaction markers take offsets too.
    let want = format!("; ids from 78 (resumed: last transaction 77 in {}[0] at offset ", t.tx);
    assert!(banner(&out).contains(&want), "{}", banner(&out));
}

/// Records deleted (as retention does) while the offsets say they existed: exit 1 with what
/// to set, then an explicit start works.
fn deleted_records_stop_the_run(version: &str) {
    let broker = Broker::shared(version);
    let t = Topics::new(broker);
    assert_eq!(t.produce(&["--max-events=300", "--topic-partitions=2", "--log-events=false"]).code(), 0);
    broker.delete_records(&t.tx, 2);
    broker.delete_records(&t.rf, 2);
    let out = t.produce(&["--max-events=5"]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let error = out.stderr.lines().last().unwrap();
    assert!(
        error.starts_with("pos-producer: error: cannot tell where the transaction ids of instance 1/1 end: "),
        "{error}"
    );
    assert!(
        error.contains(&format!("{}[0]: offsets 0–", t.tx)) && error.contains("were deleted (retention?)"),
        "{error}"
    );
    assert!(error.contains("set PRODUCER_ID_START=N above the highest id ever used"), "{error}");
    let out = t.produce(&["--max-events=5", "--id-start=1001"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn kafka_4_deleted_records_stop_the_run() {
    deleted_records_stop_the_run(KAFKA_4);
}

#[test]
fn kafka_2_1_deleted_records_stop_the_run() {
    deleted_records_stop_the_run(KAFKA_2_1);
}

/// Instance 2/2 joining a partition whose last 4 MiB are all instance 1/2's: the bound is hit,
/// nothing of 2/2 is known, so the run stops and says so, with a safe start to set.
#[test]
fn a_tail_longer_than_the_bound_without_our_ids_stops_the_run() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    let first = t.produce(&["--instance=1/2", "--max-events=40000", "--topic-partitions=1", "--log-events=false"]);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    let out = t.produce(&["--instance=2/2", "--max-events=5"]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let error = out.stderr.lines().last().unwrap();
    assert!(error.contains(&format!("{}[0]: its last 4", t.tx)) && error.contains("hold none"), "{error}");
    assert!(
        error.contains("(the highest transaction id read is 79999; if instance 2/2 never ran before, 80000 is safe)"),
        "{error}"
    );
}

/// One partition whose last 4 MiB hold none of this instance's ids, while another has some:
/// its newest ids may still be behind the bound there, so the run stops rather than guess.
#[test]
fn a_partition_beyond_the_bound_stops_the_run_even_when_others_give_ids() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    let first = t.produce(&["--instance=2/2", "--max-events=300", "--topic-partitions=2", "--log-events=false"]);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    // 5 MiB of instance 1/2's ids (odd) from another producer, into partition 1 only.
    let block: String = (0..30_000).map(|i| format!("{}:{}\n", 1_000_001 + 2 * i, "y".repeat(170))).collect();
    t.kcat_write(&t.tx, &["-K:", "-p", "1", "-z", "none"], &block);
    let out = t.produce(&["--instance=2/2", "--max-events=5"]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    let error = out.stderr.lines().last().unwrap();
    assert!(
        error.starts_with(&format!(
            "pos-producer: error: cannot tell where the transaction ids of instance 2/2 end: {}[1]: its last 4",
            t.tx
        )),
        "{error}"
    );
    assert!(error.contains(&format!("the highest transaction id read is {}", 1_000_001 + 2 * 29_999)), "{error}");
    // Instance 1/2, whose ids are in that block, resumes after it.
    let out = t.produce(&["--instance=1/2", "--max-events=5"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(banner(&out).contains(&format!("ids from {} (resumed:", 1_000_001 + 2 * 30_000)), "{}", banner(&out));
}

/// A partition that gave some of this instance's ids but ran into the bound before its last
/// 100 sales: ids continue after the highest, but no earlier sale is offered for refund (its
/// refunds could not all be known), so none can be refunded twice.
#[test]
fn sales_not_all_read_back_leave_the_refund_pool_empty() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    let first = t.produce(&["--instance=2/2", "--max-events=300", "--topic-partitions=2", "--log-events=false"]);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    // 5 MiB of instance 1/2's ids into partition 1, then one more id of 2/2 after them.
    let mut block: String = (0..30_000).map(|i| format!("{}:{}\n", 1_000_001 + 2 * i, "y".repeat(170))).collect();
    block.push_str("1000000:{}\n");
    t.kcat_write(&t.tx, &["-K:", "-p", "1", "-z", "none"], &block);
    let out = t.produce(&["--instance=2/2", "--max-events=50", "--refund-probability=1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("warning: no earlier sale is offered for refund: "), "{}", out.stderr);
    let b = banner(&out);
    assert!(
        b.contains("ids from 1000002 (resumed: last transaction 1000000 in ")
            && b.contains("; 0 earlier sales refundable"),
        "{b}"
    );
    for line in out.events().iter().filter(|l| l.contains("Sent refund")) {
        let v: serde_json::Value = serde_json::from_str(line.split_once(": ").unwrap().1).unwrap();
        assert!(id(&v, "original_transaction_id") >= 1_000_002, "{line}");
    }
}

/// A refunds partition that gave some of this instance's refunds but ran into the bound before
/// one older than its earlier sales: the sales whose refunds land there are not offered for
/// refund (one of them may already have been), the others still are.
#[test]
fn sales_whose_refunds_partition_was_not_read_far_enough_are_not_refunded_again() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    let first = t.produce(&[
        "--instance=2/2",
        "--max-events=300",
        "--topic-partitions=2",
        "--refund-probability=0.3",
        "--log-events=false",
    ]);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    // 5 MiB of instance 1/2's refunds into refunds partition 1, then one refund of 2/2.
    let mut block: String = (0..30_000)
        .map(|i| {
            format!(
                "{0}:{{\"refund_id\":{0},\"original_transaction_id\":{0},\"pad\":\"{1}\"}}\n",
                1_000_001 + 2 * i,
                "y".repeat(150)
            )
        })
        .collect();
    block.push_str("2:{\"refund_id\":1000000,\"original_transaction_id\":2}\n");
    t.kcat_write(&t.rf, &["-K:", "-p", "1", "-z", "none"], &block);
    let out = t.produce(&["--instance=2/2", "--max-events=50", "--refund-probability=1", "--log-events=false"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("earlier sales are not offered for refund: their partitions of"), "{}", out.stderr);
    assert!(banner(&out).contains("refund ids from 1000002 (last refund 1000000 in "), "{}", banner(&out));
    // No refund of this run names an earlier sale whose refunds go to partition 1.
    let (_, refunds) = t.read_back();
    let again: Vec<_> = refunds
        .iter()
        .filter(|(r, v)| id(v, "refund_id") >= 1_000_002 && id(v, "original_transaction_id") <= 600 && r.partition == 1)
        .collect();
    assert!(again.is_empty(), "refunds of earlier sales in the unread partition: {again:?}");
    let earlier =
        refunds.iter().filter(|(_, v)| id(v, "refund_id") >= 1_000_002 && id(v, "original_transaction_id") <= 600);
    assert!(earlier.count() > 0, "earlier sales of partition 0 are still refundable");
}
