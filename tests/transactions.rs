//! Transactions (issue 21) against real brokers 4.4, 3.9 and 2.1, read back with kcat under
//! both isolation levels: a second copy of an instance fences the first, a read-committed sink
//! sees every id once even across a `kill -9`, and what the summary counts is what the broker
//! holds.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::Duration;

use common::{
    Broker, Consumed, KAFKA_2_1, KAFKA_3_9, KAFKA_4, Output, Stream, consume_with, kill, producer, run, spawn_until,
    unique,
};

const LIMIT: Duration = Duration::from_secs(120);
const COMMITTED: &str = "isolation.level=read_committed";
const UNCOMMITTED: &str = "isolation.level=read_uncommitted";

/// A pair of fresh topics and the arguments that name them.
struct Topics {
    addr: String,
    tx: String,
    rf: String,
}

impl Topics {
    fn new(broker: &Broker) -> Topics {
        Topics { addr: broker.addr.clone(), tx: unique("txn-tx"), rf: unique("txn-rf") }
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut all = vec![
            format!("--bootstrap-servers={}", self.addr),
            format!("--topic={}", self.tx),
            format!("--topic-refunds={}", self.rf),
            "--stats-seconds=0".into(),
        ];
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    }

    fn command(&self, extra: &[&str]) -> std::process::Command {
        let args = self.args(extra);
        let mut cmd = producer(&args.iter().map(String::as_str).collect::<Vec<_>>());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    fn produce(&self, extra: &[&str]) -> Output {
        let out = run(self.command(extra), LIMIT);
        common::assert_lines_are_whole(&out.stderr);
        out
    }

    /// Both topics as a sink with `isolation` reads them: (sales, refunds), each with its JSON.
    fn read(&self, isolation: &str, at_least: usize) -> (Vec<Event>, Vec<Event>) {
        let settings = [isolation.to_string()];
        let parse = |records: Vec<Consumed>| -> Vec<Event> {
            records
                .into_iter()
                .map(|r| {
                    let json = serde_json::from_str(&r.value).unwrap_or_else(|e| panic!("{}: {e}", r.value));
                    (r, json)
                })
                .collect()
        };
        let sales = parse(consume_with(&self.addr, &self.tx, at_least, &settings));
        let refunds = parse(consume_with(&self.addr, &self.rf, 0, &settings));
        (sales, refunds)
    }
}

type Event = (Consumed, serde_json::Value);

fn id(v: &serde_json::Value, field: &str) -> u64 {
    v[field].as_u64().unwrap_or_else(|| panic!("{field} in {v}"))
}

/// A read-committed sink's view: every sale id once and contiguous from 1, every refund id
/// once, every refund naming a sale in the topic, no sale refunded twice. Returns the sale ids.
fn assert_clean(sales: &[Event], refunds: &[Event]) -> Vec<u64> {
    let mut ids: Vec<u64> = sales.iter().map(|(_, v)| id(v, "transaction_id")).collect();
    ids.sort_unstable();
    let distinct: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "a transaction id twice among {} sales", ids.len());
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "sale ids are 1..={} without a gap", ids.len());
    let mut refund_ids = HashSet::new();
    let mut refunded = HashSet::new();
    for (_, v) in refunds {
        assert!(refund_ids.insert(id(v, "refund_id")), "refund id twice: {v}");
        let sale = id(v, "original_transaction_id");
        assert!(distinct.contains(&sale), "a refund of a sale not in the topic: {v}");
        assert!(refunded.insert(sale), "sale {sale} refunded twice");
    }
    ids
}

/// The ids of the events a run logged as sent.
fn logged(lines: &str, kind: &str, field: &str) -> Vec<u64> {
    let prefix = format!("[producer] Sent {kind}: ");
    lines
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .map(|v| id(&v, field))
        .collect()
}

fn last_line(out: &Output) -> &str {
    out.stderr.lines().last().unwrap_or_default()
}

/// Two copies of instance 1/1 against the same empty topics, the second started while the
/// first runs: the first is fenced and exits 1 in one line, the second resumes after what the
/// first committed, and a read-committed sink has every id once. The first's events logged as
/// sent are all there (sent means committed).
fn two_copies_the_first_is_fenced(version: &str, how: &[&str]) {
    let broker = Broker::shared(version);
    let t = Topics::new(broker);
    let first = spawn_until(
        t.command(&[how, &["--max-events=100000000", "--topic-partitions=1"]].concat()),
        Stream::Stdout,
        |l| l.contains("{\"transaction_id\":300,"),
    );
    let second = t.produce(&[how, &["--max-events=500", "--topic-partitions=1"]].concat());
    let (first, first_lines) = first.finish(LIMIT);
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert_eq!(first.code(), 1, "{}", first.stderr);
    assert_eq!(
        last_line(&first),
        format!(
            "pos-producer: error: another producer took over instance 1/1 (transactional id \"pos-producer:{}:1/1\"); \
             this one stops",
            t.tx
        )
    );
    let banner = second.stdout.lines().next().unwrap_or_default();
    assert!(banner.contains("(resumed: last transaction "), "{banner}");
    // Kafka 4.x finalizes transaction.version 2: protocol v2 (KIP-890) unless capped.
    let protocol = if version == KAFKA_4 && !how.contains(&"--protocol-cap=2.1") {
        "protocol v2 (KIP-890)"
    } else {
        "classic protocol (KIP-98)"
    };
    let on = format!("transactions on: transactional id pos-producer:{}:1/1, a commit every 100 ms, {protocol}", t.tx);
    assert!(second.stderr.contains(&on), "{}", second.stderr);
    let first_sales = logged(&first_lines.join("\n"), "transaction", "transaction_id");
    let second_sales = logged(&second.stdout, "transaction", "transaction_id");
    assert_eq!(second_sales.len(), 500);
    let (sales, refunds) = t.read(COMMITTED, first_sales.len() + 500);
    let ids = assert_clean(&sales, &refunds);
    let all: HashSet<u64> = ids.iter().copied().collect();
    assert!(first_sales.iter().chain(&second_sales).all(|i| all.contains(i)), "an event logged as sent is missing");
    assert!(first_sales.iter().all(|i| i < &second_sales[0]), "the second copy starts after the first's last");
}

#[test]
fn two_copies_paced_kafka_4() {
    two_copies_the_first_is_fenced(KAFKA_4, &["--sleep-seconds=0.002"]);
}

#[test]
fn two_copies_flat_out_kafka_4() {
    two_copies_the_first_is_fenced(KAFKA_4, &["--sleep-seconds=0"]);
}

#[test]
fn two_copies_paced_kafka_3_9() {
    two_copies_the_first_is_fenced(KAFKA_3_9, &["--sleep-seconds=0.002"]);
}

#[test]
fn two_copies_flat_out_kafka_2_1() {
    two_copies_the_first_is_fenced(KAFKA_2_1, &["--sleep-seconds=0"]);
}

#[test]
fn two_copies_paced_kafka_2_1_protocol_on_kafka_4() {
    two_copies_the_first_is_fenced(KAFKA_4, &["--sleep-seconds=0.002", "--protocol-cap=2.1"]);
}

/// Three instances and a second copy of 2/3: only 2/3's first copy is fenced; the others run
/// to their end, and every id is once in the read-committed topics.
#[test]
fn three_instances_and_a_duplicate_only_the_twin_is_fenced() {
    let broker = Broker::shared(KAFKA_4);
    let t = Topics::new(broker);
    assert_eq!(t.produce(&["--create-topics", "--topic-partitions=3"]).code(), 0);
    let spawn = |k: u64, max: &str, ready: &'static str| {
        let instance = format!("--instance={k}/3");
        spawn_until(t.command(&["--sleep-seconds=0.002", &instance, max]), Stream::Stdout, move |l| l.contains(ready))
    };
    let one = spawn(1, "--max-events=1200", "starting:");
    let three = spawn(3, "--max-events=1200", "starting:");
    let two = spawn(2, "--max-events=100000", "{\"transaction_id\":602,");
    let twin = spawn(2, "--max-events=600", "starting:");
    let (two, _) = two.finish(LIMIT);
    assert_eq!(two.code(), 1, "{}", two.stderr);
    assert!(last_line(&two).contains("another producer took over instance 2/3"), "{}", two.stderr);
    for (k, w) in [(1, one), (3, three), (2, twin)] {
        let (out, _) = w.finish(LIMIT);
        assert_eq!(out.code(), 0, "instance {k}/3: {}", out.stderr);
        assert!(!out.stderr.contains("took over"), "{}", out.stderr);
    }
    let (sales, refunds) = t.read(COMMITTED, 3000);
    let mut per_instance: HashMap<u64, Vec<u64>> = HashMap::new();
    for (_, v) in &sales {
        let i = id(v, "transaction_id");
        per_instance.entry((i - 1) % 3 + 1).or_default().push(i);
    }
    for (k, ids) in &mut per_instance {
        ids.sort_unstable();
        let want: Vec<u64> = (0..ids.len() as u64).map(|j| k + 3 * j).collect();
        assert_eq!(ids, &want, "instance {k}/3: its ids once each, without a gap");
    }
    assert_eq!(per_instance[&1].len(), 1200);
    assert_eq!(per_instance[&3].len(), 1200);
    assert!(per_instance[&2].len() >= 600 + 200, "2/3: {} sales", per_instance[&2].len());
    for (_, v) in &refunds {
        assert_eq!(id(v, "refund_id") % 3, id(v, "original_transaction_id") % 3, "{v}");
    }
}

/// A producer killed mid-run (flat out, several requests in flight, a transaction open) and
/// started again: a read-committed sink has no gap and no record of the killed run's open
/// transaction; a read-uncommitted one sees those records too, with ids the restart used again.
fn a_kill_9_then_a_restart(version: &str) {
    let broker = Broker::shared(version);
    let t = Topics::new(broker);
    // Event lines off (a burst of them at each commit would hold the loop up): the stats line
    // counts what is committed. The kill comes 300 ms after the first commit, in the next
    // transaction.
    let args = [
        "--sleep-seconds=0",
        "--topic-partitions=6",
        "--max-events=100000000",
        "--commit-interval-ms=1000",
        "--log-events=false",
        "--stats-seconds=0.1",
    ];
    let first = spawn_until(t.command(&args), Stream::Stderr, |l| {
        l.starts_with("[producer] stats: ") && !l.contains("stats: 0 ")
    });
    std::thread::sleep(Duration::from_millis(300));
    kill(first.child.id(), "KILL");
    let (_, first_lines) = first.finish(LIMIT);
    let committed_before: usize = first_lines
        .iter()
        .filter_map(|l| l.strip_prefix("[producer] stats: "))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .max()
        .unwrap();
    assert!(committed_before > 0);
    let second = t.produce(&["--sleep-seconds=0", "--topic-partitions=6", "--max-events=3000"]);
    assert_eq!(second.code(), 0, "{}", second.stderr);
    let banner = second.stdout.lines().next().unwrap_or_default();
    assert!(banner.contains("(resumed: last transaction "), "{banner}");
    let (sales, refunds) = t.read(COMMITTED, committed_before + 3000);
    let ids = assert_clean(&sales, &refunds);
    // A commit after the last stats line is there too.
    assert!(ids.len() >= committed_before + 3000, "the killed run's committed sales, then the restart's");
    let (all_sales, _) = t.read(UNCOMMITTED, ids.len() + 1);
    let aborted = all_sales.len() - sales.len();
    assert!(aborted > 0, "the killed run's open transaction is in the log, aborted");
    let mut seen = HashSet::new();
    let twice = all_sales.iter().filter(|(_, v)| !seen.insert(id(v, "transaction_id"))).count();
    // The aborted ids follow the last committed one, as do the restart's 3,000.
    assert_eq!(twice, aborted.min(3000), "read uncommitted: the aborted sales' ids were used again by the restart");
}

#[test]
fn a_kill_9_then_a_restart_kafka_4() {
    a_kill_9_then_a_restart(KAFKA_4);
}

#[test]
fn a_kill_9_then_a_restart_kafka_2_1() {
    a_kill_9_then_a_restart(KAFKA_2_1);
}

/// The summary's count of committed and aborted transactions is the number of markers in the
/// log: without refunds every transaction holds sales, and each marker takes one offset of the
/// one partition, where kcat (read uncommitted) shows the gaps. Off, there are none.
#[test]
fn the_summary_counts_the_markers_the_broker_holds_and_off_means_none() {
    let broker = Broker::shared(KAFKA_4);
    for (mode, abort) in [("auto", "0"), ("auto", "0.5"), ("off", "0")] {
        let t = Topics::new(broker);
        let out = t.produce(&[
            "--sleep-seconds=0.002",
            "--max-events=400",
            "--refund-probability=0",
            "--topic-partitions=1",
            &format!("--transactions={mode}"),
            &format!("--abort-probability={abort}"),
        ]);
        assert_eq!(out.code(), 0, "{}", out.stderr);
        let summary = last_line(&out);
        let (committed, _) = t.read(COMMITTED, 400);
        assert_eq!(committed.len(), 400);
        let (sales, _) = t.read(UNCOMMITTED, 400);
        let offsets: Vec<i64> = sales.iter().map(|(r, _)| r.offset).collect();
        let gaps = offsets.windows(2).filter(|w| w[1] != w[0] + 1).count() as u64 + 1;
        if mode == "auto" {
            assert!(out.stderr.contains("transactions on: transactional id pos-producer:"), "{}", out.stderr);
            let counts = summary
                .split("; ")
                .find_map(|part| part.strip_suffix(" aborted"))
                .and_then(|part| part.split_once(" transactions committed, "))
                .unwrap_or_else(|| panic!("{summary}"));
            let (n, m): (u64, u64) = (counts.0.parse().unwrap(), counts.1.parse().unwrap());
            assert!(n >= 5, "400 sales at 500/s commit every 100 ms: {n}");
            if abort == "0" {
                assert_eq!(m, 0);
                assert_eq!(sales.len(), 400);
            } else {
                assert!(m >= 1, "{summary}");
                let aborted = sales
                    .iter()
                    .filter(|(r, _)| r.headers.iter().any(|h| h == &("pos-fault".into(), "aborted".into())));
                assert_eq!(aborted.count(), sales.len() - 400, "every record beyond the 400 is an aborted copy");
            }
            // The last marker follows the last record: one more than the gaps between them.
            assert_eq!(gaps, n + m, "transaction markers in the log against the summary: {summary}");
        } else {
            assert!(!out.stderr.contains("transactions on"), "{}", out.stderr);
            assert!(!summary.contains("transactions committed"), "{summary}");
            assert_eq!(offsets, (0..400).collect::<Vec<i64>>(), "no marker without transactions");
        }
    }
}

/// `PRODUCER_ABORT_PROBABILITY`: transactions aborted on purpose, their events sent again in
/// the next. Read committed, the topics are the stream without the fault and a correct
/// consumer computes the truth's kept windows; read uncommitted, they hold in addition exactly
/// the aborted records the truth names, each with `pos-fault: aborted`, which the consumer
/// check leaves out.
fn aborted_transactions(version: &str, extra: &[&str]) {
    let broker = Broker::shared(version);
    let t = Topics::new(broker);
    let dir = common::tempdir("aborted");
    let truth = dir.join("truth.json");
    let mut args = extra.to_vec();
    let truth_arg = format!("--truth-file={}", truth.display());
    args.push(&truth_arg);
    args.extend([
        // Simulated time (whole seconds, as the consumer check compares record timestamps
        // with the JSON's) at 2,000 sales a second: about 250 transactions of 20 ms.
        "--start-time=2025-01-01T00:00:00Z",
        "--speedup=2000",
        "--max-events=10000",
        "--commit-interval-ms=20",
        "--abort-probability=0.05",
        "--refund-probability=0.2",
        "--topic-partitions=3",
        "--log-events=false",
    ]);
    let out = t.produce(&args);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    let named = |topic: &str| -> Vec<u64> {
        let mut ids: Vec<u64> =
            doc["faults"]["aborted"][topic].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    let aborted_count = doc["faults"]["aborted"]["count"].as_u64().unwrap() as usize;
    assert!(aborted_count > 0 && !named("transactions").is_empty(), "{}", doc["faults"]["aborted"]);

    let (sales, refunds) = t.read(COMMITTED, 10000);
    assert_eq!(assert_clean(&sales, &refunds).len(), 10000);
    let is_aborted = |r: &Consumed| r.headers.iter().any(|(k, v)| k == "pos-fault" && v == "aborted");
    assert!(!sales.iter().chain(&refunds).any(|(r, _)| is_aborted(r)), "read committed: no aborted record");
    let (all_sales, all_refunds) = t.read(UNCOMMITTED, 10000 + named("transactions").len());
    for (topic, committed, all, field) in
        [("transactions", &sales, &all_sales, "transaction_id"), ("refunds", &refunds, &all_refunds, "refund_id")]
    {
        let mut got: Vec<u64> = all.iter().filter(|(r, _)| is_aborted(r)).map(|(_, v)| id(v, field)).collect();
        got.sort_unstable();
        assert_eq!(got, named(topic), "{topic}: the aborted records are those the truth names");
        let mut rest: Vec<&str> = all.iter().filter(|(r, _)| !is_aborted(r)).map(|(r, _)| r.value.as_str()).collect();
        let mut want: Vec<&str> = committed.iter().map(|(r, _)| r.value.as_str()).collect();
        rest.sort_unstable();
        want.sort_unstable();
        assert!(rest == want, "{topic}: read uncommitted without the aborted records is read committed");
    }

    // The consumer check, under both isolation levels.
    let jsonl = |records: &[Event], name: &str| {
        let file = dir.join(name);
        let lines: Vec<String> = records
            .iter()
            .map(|(r, _)| {
                let flat: Vec<&str> = r.headers.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]).collect();
                serde_json::json!({"ts": r.timestamp_ms, "key": r.key, "payload": r.value, "headers": flat}).to_string()
            })
            .collect();
        std::fs::write(&file, lines.join("\n")).unwrap();
        file
    };
    for (level, tx, rf) in [("read_committed", &sales, &refunds), ("read_uncommitted", &all_sales, &all_refunds)] {
        let (tx_file, rf_file) = (jsonl(tx, &format!("tx-{level}.jsonl")), jsonl(rf, &format!("rf-{level}.jsonl")));
        let check = std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/consumer_check.py"))
            .args([truth.as_os_str(), tx_file.as_os_str(), rf_file.as_os_str(), level.as_ref()])
            .output()
            .expect("python3 is installed (.ci/run does it)");
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(check.status.success(), "{level}: {report}{}", String::from_utf8_lossy(&check.stderr));
        let left_out = if level == "read_committed" { 0 } else { named("transactions").len() };
        assert!(report.contains(&format!("{left_out} records of aborted transactions left out")), "{level}: {report}");
    }
}

#[test]
fn aborted_transactions_kafka_4_protocol_v2() {
    aborted_transactions(KAFKA_4, &[]);
}

#[test]
fn aborted_transactions_kafka_3_9_classic_protocol() {
    aborted_transactions(KAFKA_3_9, &[]);
}

/// A principal that may not use the transactional id (an ACL on the id for someone else):
/// `auto` warns once, naming the ACL to grant, and runs idempotent; `on` exits 1 saying so.
#[test]
fn a_principal_without_the_transactional_id_acl_auto_warns_on_exits_1() {
    let b = Broker::secure(KAFKA_4);
    b.allow_transactional_ids("pos-producer", "User:bob");
    let t = Topics { addr: b.listener("SASL_PLAINTEXT"), tx: unique("acl-txn-tx"), rf: unique("acl-txn-rf") };
    let sasl = [
        ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ("KAFKA_SASL_MECHANISM", "PLAIN"),
        ("KAFKA_SASL_USERNAME", "alice"),
        ("KAFKA_SASL_PASSWORD", "alice-secret"),
    ];
    let id = format!("pos-producer:{}:1/1", t.tx);
    for mode in ["auto", "on"] {
        let mut cmd = t.command(&["--sleep-seconds=0", "--max-events=200", &format!("--transactions={mode}")]);
        cmd.envs(sasl);
        let out = run(cmd, LIMIT);
        let grant = format!(
            "the principal may not use transactional id {id:?} (TRANSACTIONAL_ID_AUTHORIZATION_FAILED): grant it \
             Write and Describe (kafka-acls --add --allow-principal User:NAME --operation Write --operation Describe \
             --transactional-id {id})"
        );
        if mode == "auto" {
            assert_eq!(out.code(), 0, "{}", out.stderr);
            let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("transactions are off")).collect();
            assert_eq!(warnings.len(), 1, "{}", out.stderr);
            assert!(warnings[0].ends_with(&grant), "{}", warnings[0]);
            assert!(!out.stderr.contains("transactions on"), "{}", out.stderr);
            assert_eq!(logged(&out.stdout, "transaction", "transaction_id").len(), 200);
        } else {
            assert_eq!(out.code(), 1, "{}", out.stderr);
            assert_eq!(
                last_line(&out),
                format!("pos-producer: error: KAFKA_TRANSACTIONS=on, but transactions cannot be used: {grant}")
            );
        }
        assert!(!out.stdout.contains("alice-secret") && !out.stderr.contains("alice-secret"));
    }
}

/// A cluster that cannot keep transactions: one broker, and a transaction state log asking for
/// three replicas (`transaction.state.log.replication.factor=3`, Kafka's default; the test
/// brokers set 1). `auto` waits 30 s (or the delivery timeout, when shorter) for a coordinator,
/// warns once naming the setting, and runs idempotent; `on` exits 1 saying the same.
#[test]
fn a_cluster_without_a_transaction_state_log_auto_warns_and_runs_on_exits_1() {
    let broker = Broker::start(KAFKA_4);
    broker.stop();
    let config = broker.dir.join("server.properties");
    let text = std::fs::read_to_string(&config).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("transaction.state.log.replication.factor=") {
                "transaction.state.log.replication.factor=3"
            } else {
                l
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(text.contains("transaction.state.log.replication.factor=3"), "{text}");
    std::fs::write(&config, text).unwrap();
    broker.restart();
    let t = Topics::new(&broker);
    let out = t.produce(&["--sleep-seconds=0", "--max-events=100"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("transactions are off")).collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("no transaction coordinator within 30 s (last: FindCoordinator: ")
            && warnings[0]
                .ends_with("the cluster may have fewer brokers than its transaction.state.log.replication.factor"),
        "{}",
        warnings[0]
    );
    assert_eq!(logged(&out.stdout, "transaction", "transaction_id").len(), 100);
    // A delivery timeout shorter than auto's 30 s: the wait for a coordinator takes all of it,
    // and the idempotent producer id still gets a delivery timeout of its own (it once got the
    // expired rest, and in CI every InitProducerId was cut at 0 ms until the run failed).
    let out = t.produce(&["--sleep-seconds=0", "--max-events=100", "--delivery-timeout-ms=8000"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("transactions are off")).collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(warnings[0].contains("no transaction coordinator within 8 s (last: "), "{}", warnings[0]);
    assert_eq!(logged(&out.stdout, "transaction", "transaction_id").len(), 100);
    let out = t.produce(&["--sleep-seconds=0", "--max-events=100", "--transactions=on", "--delivery-timeout-ms=5000"]);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(
        last_line(&out).starts_with(
            "pos-producer: error: KAFKA_TRANSACTIONS=on, but transactions cannot be used: no transaction coordinator \
             within the delivery timeout"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stdout.lines().all(|l| !l.contains("Sent ")), "nothing sent: {}", out.stdout);
}
