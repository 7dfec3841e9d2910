//! End-to-end tests of the built binary without a broker: `--dry-run`, configuration errors,
//! limits and signals.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::{Output, Stream, finish, kill, producer, run, spawn_until};

const LIMIT: Duration = Duration::from_secs(30);

fn dry(args: &[&str]) -> Output {
    let mut all = vec!["--dry-run"];
    all.extend_from_slice(args);
    run(producer(&all), LIMIT)
}

const REPLAY: [&str; 5] =
    ["--seed=42", "--start-time=2025-01-01T00:00:00Z", "--speedup=max", "--max-events=1000", "--stats-seconds=0"];

#[test]
fn dry_run_with_a_seed_and_simulated_time_is_reproducible() {
    let a = dry(&REPLAY);
    assert_eq!(a.code(), 0, "{}", a.stderr);
    let b = dry(&REPLAY);
    assert_eq!(a.stdout, b.stdout, "same seed and simulated time: byte-identical output");

    let lines: Vec<&str> = a.stdout.lines().collect();
    assert!(lines[0].starts_with("[producer] pos-producer ") && lines[0].contains("seed=42"), "{}", lines[0]);
    let transactions: Vec<&str> =
        a.events().into_iter().filter(|l| l.starts_with("[producer] Sent transaction: ")).collect();
    assert_eq!(transactions.len(), 1000);
    // Transaction i is stamped start + (i − 1) × PRODUCER_SLEEP_SECONDS.
    for (i, line) in transactions.iter().enumerate() {
        let json: serde_json::Value = serde_json::from_str(line.split_once(": ").unwrap().1).unwrap();
        assert_eq!(json["transaction_id"], i as u64 + 1);
        let (h, m, s) = (i / 3600, i / 60 % 60, i % 60);
        assert_eq!(json["timestamp"], format!("2025-01-01 {h:02}:{m:02}:{s:02}"), "{line}");
    }
    // Pinned: if this changes, recorded seeds no longer replay the same stream.
    assert_eq!(
        transactions[0],
        r#"[producer] Sent transaction: {"transaction_id":1,"product_id":"KEYBOARD-001","store_id":"STORE-002","customer_id":"CUST-0730","amount":31.94,"timestamp":"2025-01-01 00:00:00"}"#
    );
    assert!(a.stderr.contains("done (event limit reached): 1000 transactions and"), "{}", a.stderr);

    let other = dry(&["--seed=43", "--start-time=2025-01-01T00:00:00Z", "--speedup=max", "--max-events=1000"]);
    assert_ne!(a.events(), other.events(), "another seed, another stream");
}

/// A StatefulSet's pod NAME-2 with `PRODUCER_INSTANCE=ordinal/3` is instance 3/3: the ids of
/// `--instance=3/3`, exactly.
#[test]
fn a_statefulset_pod_takes_its_instance_from_its_ordinal() {
    let mut cmd = producer(&[&["--dry-run", "--instance=ordinal/3"], &REPLAY[..]].concat());
    cmd.env("HOSTNAME", "pos-producer-2");
    let pod = run(cmd, LIMIT);
    assert_eq!(pod.code(), 0, "{}", pod.stderr);
    let explicit = dry(&[&REPLAY[..], &["--instance=3/3"]].concat());
    assert_eq!(pod.stdout, explicit.stdout);
    assert!(pod.stdout.lines().next().unwrap().contains(" instance=3/3 "), "{}", pod.stdout);
}

#[test]
fn an_id_start_and_an_instance_shift_the_ids_and_nothing_else() {
    let base = dry(&REPLAY);
    assert!(base.stdout.lines().next().unwrap().ends_with("; ids from 1 (dry run: nothing to resume from)"));
    let explicit = dry(&[&REPLAY[..], &["--id-start=1"]].concat());
    assert_eq!(base.events(), explicit.events(), "PRODUCER_ID_START=1 is the old stream");
    let shifted = dry(&[&REPLAY[..], &["--id-start=10", "--instance=2/3"]].concat());
    assert!(
        shifted
            .stdout
            .lines()
            .next()
            .unwrap()
            .ends_with("; ids from 11 (PRODUCER_ID_START; instance 2/3: ids 2, 5, 8, …)"),
        "{}",
        shifted.stdout.lines().next().unwrap()
    );
    let ids = |out: &Output, kind: &str, field: &str| -> Vec<u64> {
        let prefix = format!("[producer] Sent {kind}: ");
        out.events()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(|j| serde_json::from_str::<serde_json::Value>(j).unwrap()[field].as_u64().unwrap())
            .collect()
    };
    let sales = ids(&shifted, "transaction", "transaction_id");
    assert_eq!(sales, (0..1000).map(|i| 11 + 3 * i).collect::<Vec<u64>>());
    let refunds = ids(&shifted, "refund", "refund_id");
    assert_eq!(refunds, (0..refunds.len() as u64).map(|i| 11 + 3 * i).collect::<Vec<u64>>());
    // Everything but the ids is the same stream: same products, amounts and times.
    let strip = |out: &Output| -> Vec<String> {
        out.events()
            .iter()
            .map(|l| l.split_once(",\"product_id\"").map_or(String::new(), |(_, rest)| rest.to_string()))
            .collect()
    };
    assert_eq!(strip(&base), strip(&shifted));
}

#[test]
fn environment_variables_configure_like_flags() {
    let mut cmd = producer(&[]);
    cmd.envs([
        ("PRODUCER_DRY_RUN", "true"),
        ("PRODUCER_SEED", "42"),
        ("PRODUCER_START_TIME", "2025-01-01T00:00:00Z"),
        ("PRODUCER_SPEEDUP", "max"),
        ("PRODUCER_MAX_EVENTS", "1000"),
        ("PRODUCER_STATS_SECONDS", "0"),
    ]);
    let by_env = run(cmd, LIMIT);
    assert_eq!(by_env.code(), 0, "{}", by_env.stderr);
    assert_eq!(by_env.stdout, dry(&REPLAY).stdout);
}

#[test]
fn a_run_without_a_seed_prints_the_seed_that_replays_it() {
    let first = dry(&["--start-time=2025-01-01T00:00:00Z", "--speedup=max", "--max-events=50"]);
    let seed = first.stdout.split("seed=").nth(1).unwrap().split(' ').next().unwrap().to_string();
    let replay =
        dry(&[&format!("--seed={seed}"), "--start-time=2025-01-01T00:00:00Z", "--speedup=max", "--max-events=50"]);
    assert_eq!(first.stdout, replay.stdout);
}

#[test]
fn event_lines_can_be_switched_off() {
    let out = dry(&["--seed=1", "--speedup=max", "--max-events=100", "--log-events=false"]);
    assert_eq!(out.code(), 0);
    assert!(out.events().is_empty());
    assert_eq!(out.stdout.lines().count(), 1, "only the banner: {}", out.stdout);
    assert!(out.stderr.contains("100 transactions"), "{}", out.stderr);
}

#[test]
fn stats_lines_go_to_stderr() {
    let out = dry(&["--sleep-seconds=0.02", "--stats-seconds=0.2", "--max-seconds=1"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let stats: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("[producer] stats: ")).collect();
    assert!(stats.len() >= 2, "{}", out.stderr);
    // Each line and the summary carry the create→acknowledge latency percentiles.
    for line in &stats {
        assert!(line.contains(" transactions/s over the last ") && line.contains("; latency p50 "), "{line}");
        assert!(line.contains(" ms, p99 ") && line.contains(" ms, max "), "{line}");
    }
    let summary = out.stderr.lines().last().unwrap();
    assert!(
        summary.starts_with("[producer] done (time limit reached): ") && summary.contains("; latency p50 "),
        "{summary}"
    );
    assert!(!out.stdout.contains("stats:"));
}

#[test]
fn max_seconds_ends_a_long_sleep_on_time() {
    let out = dry(&["--sleep-seconds=60", "--max-seconds=1", "--refund-probability=0"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.events().len(), 1, "the first sale is due at once, the second after 60 s");
    assert!(out.elapsed >= Duration::from_secs(1), "{:?}", out.elapsed);
    assert!(out.elapsed < Duration::from_secs(5), "not the 60 s sleep: {:?}", out.elapsed);
    assert!(out.stderr.contains("done (time limit reached)"), "{}", out.stderr);
}

#[test]
fn sigterm_and_sigint_end_a_long_sleep_within_a_second() {
    for signal in ["TERM", "INT"] {
        let watched = spawn_until(producer(&["--dry-run", "--sleep-seconds=60"]), Stream::Stdout, |l| {
            l.starts_with("[producer] Sent transaction")
        });
        std::thread::sleep(Duration::from_millis(200));
        let sent = Instant::now();
        kill(watched.child.id(), signal);
        let (out, _) = watched.finish(LIMIT);
        let took = sent.elapsed();
        assert_eq!(out.code(), 0, "SIG{signal}");
        assert!(took < Duration::from_secs(1), "SIG{signal} took {took:?}");
        assert!(out.stderr.contains("done (stopped by signal): 1 transactions"), "{}", out.stderr);
    }
}

/// Regression: with stdout a pipe nobody reads, SIGTERM was ignored, the process stuck in a
/// write for as long as the reader slept.
#[test]
fn sigterm_ends_the_run_within_a_second_while_stdout_is_not_read() {
    let mut child = producer(&["--dry-run", "--sleep-seconds=0"]).spawn().unwrap();
    let unread = child.stdout.take().unwrap(); // held open, never read: the pipe fills up
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    kill(child.id(), "TERM");
    let out = finish(child, sent, Duration::from_secs(10));
    let took = sent.elapsed();
    drop(unread);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(took < Duration::from_secs(1), "SIGTERM took {took:?}");
    assert!(out.stderr.contains("done (stopped by signal): "), "{}", out.stderr);
}

#[test]
fn a_misspelt_variable_gets_a_warning_naming_the_right_one() {
    let mut cmd = producer(&["--dry-run", "--max-events=1"]);
    cmd.env("PRODUCER_SLEEP_SECOND", "5").env("KAFKA_BOOTSTRAP_SERVER", "kafka:9092");
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "[producer] warning: unknown variable PRODUCER_SLEEP_SECOND is ignored; did you mean PRODUCER_SLEEP_SECONDS?"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean KAFKA_BOOTSTRAP_SERVERS?"), "{}", out.stderr);
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let mut child = producer(&["--dry-run", "--sleep-seconds=0"]).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    drop(stdout);
    let out = finish(child, Instant::now(), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(out.stderr.contains("done (stdout closed)"), "{}", out.stderr);
}

#[test]
fn bad_input_is_one_line_naming_the_variable_and_exit_2() {
    /// Flags, environment, and what the error line must contain.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (&[], &[("PRODUCER_SLEEP_SECONDS", "abc")], "invalid PRODUCER_SLEEP_SECONDS \"abc\": expected a number"),
        (&[], &[("PRODUCER_SLEEP_SECONDS", "-1")], "invalid PRODUCER_SLEEP_SECONDS \"-1\""),
        (&[], &[("PRODUCER_SLEEP_SECONDS", "NaN")], "invalid PRODUCER_SLEEP_SECONDS \"NaN\""),
        (&[], &[("PRODUCER_SLEEP_SECONDS", "inf")], "invalid PRODUCER_SLEEP_SECONDS \"inf\""),
        (
            &[],
            &[("REFUND_PROBABILITY", "1.5")],
            "invalid REFUND_PROBABILITY \"1.5\": expected a probability from 0 to 1",
        ),
        (&[], &[("KAFKA_TOPIC", "")], "invalid KAFKA_TOPIC \"\""),
        (&[], &[("KAFKA_TOPIC", "bad topic")], "invalid KAFKA_TOPIC \"bad topic\""),
        (&[], &[("KAFKA_TOPIC", "..")], "invalid KAFKA_TOPIC \"..\""),
        (&[], &[("KAFKA_TOPIC_REFUNDS", "transactions")], "need two different topics"),
        (&[], &[("KAFKA_BOOTSTRAP_SERVERS", "kafka")], "invalid KAFKA_BOOTSTRAP_SERVERS \"kafka\""),
        (&[], &[("KAFKA_BOOTSTRAP_SERVERS", "kafka:0")], "invalid KAFKA_BOOTSTRAP_SERVERS \"kafka:0\""),
        (&[], &[("KAFKA_BOOTSTRAP_SERVERS", "kafka:70000")], "invalid KAFKA_BOOTSTRAP_SERVERS \"kafka:70000\""),
        (&[], &[("KAFKA_BOOTSTRAP_SERVERS", "")], "invalid KAFKA_BOOTSTRAP_SERVERS \"\""),
        (&[], &[("PRODUCER_MAX_EVENTS", "-3")], "invalid PRODUCER_MAX_EVENTS \"-3\": expected a whole number"),
        (&[], &[("PRODUCER_SEED", "x")], "invalid PRODUCER_SEED \"x\": expected a whole number"),
        (
            &[],
            &[("PRODUCER_START_TIME", "yesterday")],
            "invalid PRODUCER_START_TIME \"yesterday\": expected an RFC 3339",
        ),
        (&[], &[("PRODUCER_SPEEDUP", "0")], "invalid PRODUCER_SPEEDUP \"0\""),
        (&[], &[("PRODUCER_DRY_RUN", "yes")], "invalid PRODUCER_DRY_RUN \"yes\": expected true, false, 1 or 0"),
        (&["--sleep-secs=1"], &[], "unknown flag --sleep-secs; did you mean --sleep-seconds?"),
        (&["--sleep-seconds=x"], &[("PRODUCER_SLEEP_SECONDS", "2")], "invalid --sleep-seconds \"x\""),
        (
            &[],
            &[("PRODUCER_INSTANCE", "ordinal/3"), ("HOSTNAME", "pos-producer")],
            "invalid PRODUCER_INSTANCE \"ordinal/3\": the ordinal comes from the pod's name, and HOSTNAME",
        ),
        (
            &[],
            &[("PRODUCER_INSTANCE", "ordinal/3"), ("HOSTNAME", "pos-producer-3")],
            "HOSTNAME \"pos-producer-3\" is ordinal 3, and 3 instances take ordinals 0 to 2",
        ),
    ];
    for (args, env, expected) in cases {
        let mut cmd = producer(args);
        cmd.envs(env.iter().copied());
        let out = run(cmd, LIMIT);
        assert_eq!(out.code(), 2, "{args:?} {env:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        assert!(out.stderr.starts_with("pos-producer: error: "), "{}", out.stderr);
        assert!(out.stderr.contains(expected), "{args:?} {env:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "nothing starts: {}", out.stdout);
    }
}

#[test]
fn help_and_version() {
    let help = run(producer(&["--help"]), LIMIT);
    assert_eq!(help.code(), 0);
    for needle in ["KAFKA_BOOTSTRAP_SERVERS", "--refund-probability", "[default: 1.0]", "Exit codes"] {
        assert!(help.stdout.contains(needle), "{needle}");
    }
    let version = run(producer(&["--version"]), LIMIT);
    assert_eq!(version.stdout, format!("pos-producer {}\n", env!("CARGO_PKG_VERSION")));
}

/// The truth file of a dry run (where every event counts as acknowledged) holds exactly what
/// a recount of the printed events gives, and says it is final.
#[test]
fn the_truth_file_of_a_dry_run_equals_a_recount_of_its_events() {
    let dir = common::tempdir("truth");
    let path = dir.join("truth.json");
    let truth = format!("--truth-file={}", path.display());
    let out = dry(&[
        "--seed=3",
        "--start-time=2025-01-01T00:00:00Z",
        "--speedup=max",
        "--max-events=5000",
        "--stats-seconds=0",
        "--truth-window-seconds=60",
        &truth,
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["schema"], "pos-producer/truth");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["final"], true);
    assert_eq!(doc["seed"], 3);
    assert_eq!(doc["start_time"], "2025-01-01 00:00:00");
    assert_eq!(doc["instance"], "1/1");
    assert_eq!(doc["window_seconds"], 60);
    let values: Vec<&str> = out.events().into_iter().map(|l| l.split_once(": ").unwrap().1).collect();
    common::truth::assert_matches(&doc, &common::truth::recount(values, 60));
    // 5,000 sales a second apart fill 84 one-minute windows.
    assert_eq!(doc["windows"].as_array().unwrap().len(), 84);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["truth.json"], "no temporary file left");
}

/// The file is rewritten at every stats period while the run goes on, not only at its end.
#[test]
fn the_truth_file_is_rewritten_while_the_run_goes_on() {
    let dir = common::tempdir("truth-live");
    let path = dir.join("truth.json");
    let truth = format!("--truth-file={}", path.display());
    let args = ["--dry-run", "--sleep-seconds=0.01", "--max-seconds=4", "--stats-seconds=1", &truth];
    let watched =
        spawn_until(producer(&args), Stream::Stderr, |l| l.contains("stats: ") && !l.contains(" 0 transactions"));
    std::thread::sleep(Duration::from_millis(1500));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["final"], false);
    let during = doc["totals"]["transactions"].as_u64().unwrap();
    assert!(during > 0, "{doc}");
    let (out, _) = watched.finish(LIMIT);
    assert_eq!(out.code(), 0);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(doc["final"], true);
    assert_eq!(doc["start_time"], serde_json::Value::Null, "wall clock");
    assert!(doc["totals"]["transactions"].as_u64().unwrap() > during);
}

#[test]
fn a_truth_file_that_cannot_be_written_or_a_bad_window_is_a_setting_error() {
    let out = dry(&["--max-events=1", "--truth-file=/no/such/dir/truth.json"]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.lines().last().unwrap(),
        "pos-producer: error: cannot write PRODUCER_TRUTH_FILE /no/such/dir/truth.json: No such file or directory (os error 2)"
    );
    assert!(out.stdout.is_empty());
    let out = dry(&["--max-events=1", "--truth-window-seconds=0"]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(last.contains("truth-window-seconds") && last.contains("from 1 to 86400"), "{last}");
}

#[test]
fn a_subset_of_stores_gets_every_sale_and_a_bad_list_is_one_line() {
    let out =
        dry(&["--seed=4", "--speedup=max", "--max-events=2000", "--stats-seconds=0", "--stores=store-002,STORE-003"]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout.lines().next().unwrap().contains(" stores=STORE-002,STORE-003"), "{}", out.stdout);
    let mut seen = std::collections::BTreeSet::new();
    for line in out.events() {
        let json: serde_json::Value = serde_json::from_str(line.split_once(": ").unwrap().1).unwrap();
        seen.insert(json["store_id"].as_str().unwrap().to_string());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["STORE-002", "STORE-003"]);
    for (value, line) in [
        (
            "STORE-009",
            "pos-producer: error: invalid PRODUCER_STORES \"STORE-009\": expected stores from STORE-001, STORE-002, STORE-003",
        ),
        (
            "STORE-001,STORE-001",
            "pos-producer: error: invalid --stores \"STORE-001,STORE-001\": expected `all`, or a comma list of different store ids such as STORE-001,STORE-003",
        ),
    ] {
        let out = dry(&["--max-events=1", &format!("--stores={value}")]);
        assert_eq!(out.code(), 2, "{}", out.stderr);
        assert_eq!(out.stderr.lines().last().unwrap(), line);
    }
}

/// `retail-day`: a simulated week of sales follows store hours — none at night, weekends
/// busier, random gaps — with the asked mean gap; the same seed gives the same week.
#[test]
fn the_retail_day_profile_follows_store_hours_in_simulated_time() {
    let args = [
        "--seed=12",
        "--start-time=2025-01-06T00:00:00Z", // a Monday
        "--speedup=max",
        "--rate-profile=retail-day",
        "--sleep-seconds=20",
        "--max-events=30240", // a week's worth at one sale per 20 s
        "--refund-probability=0",
        "--stats-seconds=0",
    ];
    let out = dry(&args);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout.lines().next().unwrap().contains(" rate_profile=retail-day "), "{}", out.stdout);
    let times: Vec<time::PrimitiveDateTime> = out
        .events()
        .into_iter()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line.split_once(": ").unwrap().1).unwrap();
            common::event_time(json["timestamp"].as_str().unwrap())
        })
        .collect();
    assert_eq!(times.len(), 30_240);
    assert!(times.iter().all(|t| (7..22).contains(&t.hour())), "a sale while closed");
    let on = |day: u8| times.iter().filter(|t| t.day() == day).count();
    // Tuesday 7th against Saturday 11th: weights 0.9 and 1.4.
    assert!(on(11) as f64 > on(7) as f64 * 1.3, "Saturday {} against Tuesday {}", on(11), on(7));
    // The week's sales took 7 days, give or take (mean gap 20 s within 1 %).
    let last = times.last().unwrap();
    let span = (*last - times[0]).whole_seconds() as f64 + 7.0 * 3600.0;
    assert!((span / (7.0 * 86_400.0) - 1.0).abs() < 0.02, "a week of sales took {span} s");
    let gaps: std::collections::BTreeSet<i64> = times.windows(2).map(|w| (w[1] - w[0]).whole_seconds()).collect();
    assert!(gaps.len() > 50, "arrivals are random, not a metronome: {} distinct gaps", gaps.len());
    assert_eq!(dry(&args).stdout, out.stdout, "the same seed gives the same week");
}

/// Faults in a dry run: each faulty line says its faults, the truth file counts them with the
/// ids they hit, and a run without faults is the same stream.
#[test]
fn faults_are_marked_on_their_lines_and_counted_in_the_truth_file() {
    let dir = common::tempdir("faults-dry");
    let truth = dir.join("truth.json");
    let truth_arg = format!("--truth-file={}", truth.display());
    let mut args = REPLAY.to_vec();
    let faults = [
        "--late-probability=0.05",
        "--duplicate-probability=0.05",
        "--malformed-probability=0.05",
        "--out-of-order-probability=0.05",
    ];
    args.extend(faults);
    args.push(&truth_arg);
    let out = dry(&args);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout.lines().next().unwrap().contains(" faults=late:0.05@300s,duplicate:0.05,"), "{}", out.stdout);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    let count = |label: &str| out.stdout.lines().filter(|l| l.contains(label)).count() as u64;
    assert_eq!(count(" (malformed "), doc["faults"]["malformed"]["count"].as_u64().unwrap());
    assert_eq!(count("duplicate): "), doc["faults"]["duplicate"]["count"].as_u64().unwrap());
    assert_eq!(count("reordered): "), doc["faults"]["reordered"]["count"].as_u64().unwrap());
    // "late" lines: late events and late duplicates.
    let late_originals = out.stdout.lines().filter(|l| l.contains(" (late") && !l.contains("duplicate")).count();
    assert_eq!(late_originals as u64, doc["faults"]["late"]["count"].as_u64().unwrap());
    assert!(doc["faults"]["malformed"]["count"].as_u64().unwrap() > 20);
    assert_eq!(doc["totals"]["transactions"], 1000, "each sale once, broken copies not at all");
    let refunds = doc["totals"]["refunds"].as_u64().unwrap();
    let summary = format!("done (event limit reached): 1000 transactions and {refunds} refunds sent");
    assert!(out.stderr.contains(&summary), "the summary counts events, not copies: {}", out.stderr);
    // The faults draw from their own stream: the events themselves are those of a run without.
    let plain = dry(&REPLAY);
    let events = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| l.starts_with("[producer] Sent ") && !l.contains("(malformed"))
            .map(|l| l.split_once(": ").unwrap().1.to_string())
            .collect()
    };
    let late: std::collections::BTreeSet<String> = out
        .stdout
        .lines()
        .filter(|l| l.contains("(late"))
        .map(|l| {
            let id = serde_json::from_str::<serde_json::Value>(l.split_once(": ").unwrap().1).unwrap();
            id.get("transaction_id").map_or(format!("r{}", id["refund_id"]), |t| format!("t{t}"))
        })
        .collect();
    let key = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v.get("transaction_id").map_or(format!("r{}", v["refund_id"]), |t| format!("t{t}"))
    };
    let without_late = |set: std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
        set.into_iter().filter(|j| !late.contains(&key(j))).collect()
    };
    assert_eq!(without_late(events(&out.stdout)), without_late(events(&plain.stdout)));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `retail-day` paced in real time (a speedup, not `max`): no sale goes out before its time.
/// From 06:00, two real seconds at 3,600× are two simulated hours, the first of them closed:
/// the sales are those of 07:00–08:00 (paced as a metronome, they would run hours ahead).
#[test]
fn the_retail_day_profile_is_paced_by_its_arrivals() {
    let out = dry(&[
        "--seed=5",
        "--start-time=2025-01-06T06:00:00Z",
        "--speedup=3600",
        "--rate-profile=retail-day",
        "--sleep-seconds=2",
        "--max-seconds=2",
        "--refund-probability=0",
        "--stats-seconds=0",
    ]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let stamps: Vec<String> = out
        .events()
        .into_iter()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line.split_once(": ").unwrap().1).unwrap();
            json["timestamp"].as_str().unwrap().to_string()
        })
        .collect();
    let last = stamps.last().expect("sales in two seconds");
    assert!(last.as_str() < "2025-01-06 08:00:01", "a sale went out before its time: {last}");
    assert!(stamps[0].as_str() >= "2025-01-06 07:00:00", "a sale while closed: {}", stamps[0]);
    // 07:00–08:00 has weight 0.3 × 0.9 (a Monday) of the week's mean (a gap of 2 s): about 600.
    assert!((100..2_000).contains(&stamps.len()), "{} sales", stamps.len());
}

/// A one-connection HTTP-ish server: reads the request, answers `reply` (nothing at all when
/// `None`, holding the connection open for 5 s), and gives the request back.
fn one_answer(reply: Option<&'static [u8]>) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 512];
        while !request.ends_with(b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        match reply {
            Some(bytes) => conn.write_all(bytes).unwrap(),
            None => std::thread::sleep(Duration::from_secs(5)),
        }
        String::from_utf8_lossy(&request).into_owned()
    });
    (addr, handle)
}

/// `--probe URL` (the image's healthcheck: no shell, no curl): exit 0 on 200, 1 on any other
/// answer, on silence (within its 2 s) and on a refused connection, each with one line; 2 for a
/// URL it cannot probe.
#[test]
fn the_probe_exits_0_on_200_and_1_otherwise_with_one_line() {
    let (addr, server) = one_answer(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"));
    let out = run(producer(&["--probe", &format!("http://{addr}/readyz")]), LIMIT);
    assert_eq!((out.code(), out.stdout.as_str(), out.stderr.as_str()), (0, "", ""));
    let request = server.join().unwrap();
    assert!(request.starts_with(&format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\n")), "{request}");
    let cases: [(Option<&'static [u8]>, &str); 3] = [
        (
            Some(b"HTTP/1.1 503 Service Unavailable\r\n\r\nno broker answered\n"),
            "answered \"HTTP/1.1 503 Service Unavailable\"",
        ),
        (Some(b"SSH-2.0-OpenSSH_9.2\r\n"), "the answer is not HTTP"),
        (None, "no answer within 2 s"),
    ];
    for (reply, says) in cases {
        let (addr, _server) = one_answer(reply);
        let url = format!("http://{addr}/readyz");
        let out = run(producer(&[&format!("--probe={url}")]), LIMIT);
        assert_eq!(out.code(), 1, "{says}: {}", out.stderr);
        assert_eq!(out.stderr, format!("pos-producer: error: probe of {url}: {says}\n"));
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = run(producer(&["--probe", &format!("http://{closed}/healthz")]), LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(": cannot connect: "), "{}", out.stderr);
    let out = run(producer(&["--probe=https://127.0.0.1:9464/readyz"]), LIMIT);
    assert_eq!(out.code(), 2);
    assert_eq!(
        out.stderr,
        "pos-producer: error: invalid --probe \"https://127.0.0.1:9464/readyz\": expected an http://host:port/path URL \
         (plain HTTP, a port, no spaces)\n"
    );
}
