//! Issue 19: linger (`KAFKA_LINGER_MS`, default 5 ms). Paced at 2,000 sales a second against a
//! real Kafka 4.4 broker, the sales share requests with a 5 ms linger; with 0 each goes alone
//! (as before linger existed) when it is made on time; either way every event arrives exactly
//! once and in order. The summary line counts the Produce requests (`; N produce requests`).

mod common;

use std::time::Duration;

use common::{Broker, KAFKA_4, assert_exactly_once, producer, run, run_other, unique};

const LIMIT: Duration = Duration::from_secs(120);

/// The arguments of a fixed paced run: `sales` transactions, one every `sleep` seconds.
fn fixed(sales: u32, sleep: &str) -> Vec<String> {
    let start = "--start-time=2025-01-01T00:00:00Z";
    vec![format!("--max-events={sales}"), format!("--sleep-seconds={sleep}"), "--seed=19".into(), start.into()]
}

/// Transactions made by the `fixed` run, as the dry run prints them.
fn want(fixed: &[String]) -> Vec<String> {
    let mut all = vec!["--dry-run"];
    all.extend(fixed.iter().map(String::as_str));
    let out = run(producer(&all), LIMIT);
    out.events().iter().filter_map(|l| l.strip_prefix("[producer] Sent transaction: ")).map(String::from).collect()
}

/// Runs the fixed paced run of `sales` transactions, one every `sleep` seconds, with `linger`:
/// (events sent, Produce requests), after checking the topic holds every transaction once, in
/// order.
fn paced(linger: &str, sales: u32, sleep: &str) -> (u64, u64) {
    let fixed = fixed(sales, sleep);
    let want = want(&fixed);
    assert_eq!(want.len(), sales as usize);
    let b = Broker::shared(KAFKA_4);
    let topic = unique("linger");
    let args = [
        format!("--bootstrap-servers={}", b.addr),
        format!("--topic={topic}"),
        format!("--topic-refunds={topic}-r"),
        format!("--linger-ms={linger}"),
        "--stats-seconds=0".into(),
    ];
    let all: Vec<&str> = args.iter().chain(&fixed).map(String::as_str).collect();
    let out = run(producer(&all), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let done = out.stderr.lines().find_map(|l| l.strip_prefix("[producer] done (event limit reached): ")).unwrap();
    let number = |after: &str| -> u64 {
        let (before, _) = done.split_once(after).unwrap_or_else(|| panic!("{after:?} in {done}"));
        before.rsplit([' ', ';']).next().unwrap().parse().unwrap()
    };
    let events = number(" transactions and") + number(" refunds sent");
    let requests = number(" produce requests");
    assert_exactly_once(&b.addr, &topic, &want, &[]);
    (events, requests)
}

#[test]
fn at_2000_a_second_a_5_ms_linger_shares_requests() {
    let (events, requests) = paced("5", 4000, "0.0005");
    // About ten sales are due in 5 ms: at least three to a request on average, whatever the load.
    assert!(requests * 3 <= events, "linger 5 ms: {events} events in {requests} requests");
}

/// With no linger, a sale made on time goes alone. Behind schedule it goes with the sales
/// queued meanwhile (at 2,000/s a third of them share requests on an idle host, most under
/// load), so this runs at 400/s: sales 2.5 ms apart, which a stall of the host rarely
/// overtakes. Here about three in four events go alone; a 5 ms linger would put two or
/// three sales in a request (a third of the events' count in requests, as measured).
#[test]
fn at_400_a_second_no_linger_sends_each_sale_alone() {
    let (events, requests) = paced("0", 800, "0.0025");
    assert!(requests * 2 >= events, "linger 0: {events} events in {requests} requests");
}

/// A run of sales without refunds, stats or event lines to `topic` on `b`, with `args` added;
/// it must end with exit 0.
fn run_quietly(b: &Broker, topic: &str, args: &[&str]) {
    let mut all = vec![
        format!("--bootstrap-servers={}", b.addr),
        format!("--topic={topic}"),
        format!("--topic-refunds={topic}-r"),
        "--refund-probability=0".into(),
        "--stats-seconds=0".into(),
        "--log-events=false".into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let out = run(producer(&all.iter().map(String::as_str).collect::<Vec<_>>()), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

/// With a linger, the sales due within it are made in one wake-up, a linger after the first is
/// due: each is still stamped with its own due time, so on the wall clock the records' times
/// follow the schedule (one every 0.5 ms here), not the wake-ups (a bunch every 5 ms, which
/// would put half the records 2 ms or more after their due times). A stall of the host longer
/// than the linger leaves the sales made after it stamped when they are made (`Schedule::made`
/// has the rule, unit-tested): later than due, never earlier, and few on a working machine.
#[test]
fn sales_made_together_are_stamped_with_their_own_due_times() {
    let (b, topic) = (Broker::shared(KAFKA_4), unique("linger-stamps"));
    run_quietly(b, &topic, &["--sleep-seconds=0.0005", "--max-events=2000"]);
    let records = common::consume(&b.addr, &topic, 2000);
    assert_eq!(records.len(), 2000);
    let mut stamps: Vec<(u64, i64)> = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.value).unwrap();
            (v["transaction_id"].as_u64().unwrap(), r.timestamp_ms)
        })
        .collect();
    stamps.sort_unstable();
    // In half milliseconds, a record's time less its place in the schedule: on time, the same
    // for every record (give or take one for the rounding of times to milliseconds).
    let first_id = stamps[0].0;
    let drift: Vec<(u64, i64)> = stamps.iter().map(|&(id, ms)| (id, 2 * ms - (id - first_id) as i64)).collect();
    let mut sorted: Vec<i64> = drift.iter().map(|&(_, d)| d).collect();
    sorted.sort_unstable();
    let schedule = sorted[sorted.len() / 2];
    let early: Vec<_> = drift.iter().filter(|&&(_, d)| d < schedule - 2).collect();
    let late: Vec<_> = drift.iter().filter(|&&(_, d)| d > schedule + 2).collect();
    let ms_off = |v: &[&(u64, i64)]| -> Vec<(u64, f64)> {
        v.iter().take(20).map(|&&(id, d)| (id, (d - schedule) as f64 / 2.0)).collect()
    };
    assert!(early.is_empty(), "records stamped before their due times (id, ms off): {:?}", ms_off(&early));
    assert!(
        late.len() * 10 <= stamps.len(),
        "{} of {} records stamped away from their due times (id, ms off): {:?}",
        late.len(),
        stamps.len(),
        ms_off(&late)
    );
}

/// Flat out (no pace) and behind schedule, a sale is stamped and timed from when it is made,
/// not from a due time long past: a run longer than its delivery timeout delivers, and its
/// records' times span the run.
#[test]
fn flat_out_sales_are_stamped_and_timed_when_they_are_made() {
    let (b, topic) = (Broker::shared(KAFKA_4), unique("linger-flat"));
    run_quietly(
        b,
        &topic,
        &["--topic-partitions=1", "--sleep-seconds=0", "--max-seconds=3", "--delivery-timeout-ms=1500"],
    );
    // The record times near an offset (the log ends with a transaction marker, not a record).
    let stamps = |offset: &str| -> Vec<i64> {
        let out = std::process::Command::new("kcat")
            .args(["-b", &b.addr, "-C", "-t", &topic, "-o", offset, "-c", "5", "-e", "-q", "-f", "%T\n"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect()
    };
    let first = *stamps("beginning").iter().min().expect("records at the start");
    let last = *stamps("-10").iter().max().expect("records at the end");
    assert!(last - first >= 1500, "3 s of sales stamped within {} ms", last - first);
}

/// `make bench`'s floor row (`examples/paced_floor.rs`): against a real broker it makes one
/// round trip per due time, and a bad argument is one line naming it and exit 2.
#[test]
fn the_bench_floor_makes_one_round_trip_per_due_time() {
    // `make test` builds it (`cargo test` builds examples only as test harnesses); alone, the
    // test builds it in a target directory of its own (this one is locked while tests run).
    let floor = std::env::var_os("POS_PACED_FLOOR").map(std::path::PathBuf::from).unwrap_or_else(|| {
        let dir = common::root().join("target/paced-floor");
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "--locked", "--example", "paced_floor", "--target-dir"])
            .arg(&dir)
            .current_dir(common::root())
            .status()
            .unwrap();
        assert!(built.success(), "cargo build --example paced_floor failed");
        dir.join("debug/examples/paced_floor")
    });
    let b = Broker::shared(KAFKA_4);
    let floor_run = |args: [&str; 3]| {
        let mut cmd = std::process::Command::new(&floor);
        cmd.args(args);
        run_other(cmd, LIMIT)
    };
    let out = floor_run([b.addr.as_str(), "50", "0.4"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "20", "round trips at 50/s for 0.4 s");
    let out = floor_run([b.addr.as_str(), "fast", "1"]);
    assert_eq!(out.code(), 2);
    assert_eq!(out.stderr.trim(), "paced_floor: RATE fast: expected a number from 0.001 to 1000000");
}
