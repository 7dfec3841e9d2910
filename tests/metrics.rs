//! `PRODUCER_METRICS_ADDR` against real brokers: what `/metrics` says agrees with the run's
//! summary and with the topics as kcat reads them, passes `promtool check metrics`, and is
//! scraped by a real Prometheus server; `/readyz` follows a frozen broker; hostile clients
//! change neither the pace nor the delivery.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Broker, KAFKA_4, consume, kill, producer, root, run, unique};

/// Prometheus' server and promtool (scripts/prometheus builds them once, from their module).
fn prometheus_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(dir) = std::env::var("POS_PROMETHEUS_DIR") {
            return dir;
        }
        let out = Command::new(root().join("scripts/prometheus")).stderr(Stdio::inherit()).output().unwrap();
        assert!(out.status.success(), "scripts/prometheus failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A run against `broker` writing `topic` (refunds to `topic-r`) and serving its metrics on a
/// free port, with `args` added; its endpoint's address and when it started.
fn spawn_serving(broker: &Broker, topic: &str, args: &[&str]) -> (Child, SocketAddr, Instant) {
    let port = free_port();
    let mut all = vec![
        format!("--bootstrap-servers={}", broker.addr),
        format!("--topic={topic}"),
        format!("--topic-refunds={topic}-r"),
        "--stats-seconds=0".to_string(),
        format!("--metrics-addr=127.0.0.1:{port}"),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let child = producer(&all.iter().map(String::as_str).collect::<Vec<_>>()).spawn().unwrap();
    (child, format!("127.0.0.1:{port}").parse().unwrap(), Instant::now())
}

/// One GET: (status, body); `None` when the connection failed or closed without an answer.
fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: test\r\n{accept}\r\n").as_bytes()).ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// The value of the sample `series` (name and labels exactly as written) in a text scrape.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

/// Polls `path` until `want(status, body)` or `limit`; the last answer.
fn wait_for(addr: SocketAddr, path: &str, limit: Duration, want: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let deadline = Instant::now() + limit;
    loop {
        let got = get(addr, path, None).unwrap_or((0, String::new()));
        if want(got.0, &got.1) || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The number after `before` in `line`.
fn number_after(line: &str, before: &str) -> u64 {
    let rest = line.split(before).nth(1).unwrap_or_else(|| panic!("no {before:?} in {line}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

fn summary(stderr: &str) -> &str {
    stderr.lines().find(|l| l.contains("] done (")).unwrap_or_else(|| panic!("no summary in\n{stderr}"))
}

/// Sends SIGCONT to a frozen broker when dropped, so that a failed test still stops it.
struct Thaw(u32);

impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0.to_string()]).status();
    }
}

#[test]
fn a_scrape_agrees_with_the_summary_the_topics_and_promtool() {
    let broker = Broker::shared(KAFKA_4);
    let topic = unique("metrics");
    let refunds = format!("{topic}-r");
    let (child, addr, started) = spawn_serving(
        broker,
        &topic,
        &["--sleep-seconds=1.2", "--refund-probability=0.5", "--late-probability=0.3", "--malformed-probability=0.3"],
    );
    let ready = wait_for(addr, "/readyz", Duration::from_secs(60), |s, _| s == 200);
    assert_eq!(ready.0, 200, "{ready:?}");
    // A scrape between two sales, once every event made is acknowledged: then a stop makes
    // nothing more, and the summary must say what the scrape said.
    let (mut last_made, mut text) = (0.0, String::new());
    while Instant::now() < started + Duration::from_secs(60) {
        let (_, body) = get(addr, "/metrics", None).expect("a scrape");
        let made = sample(&body, "pos_producer_events_made_total{type=\"transaction\"}");
        if made > last_made && made >= 4.0 {
            std::thread::sleep(Duration::from_millis(500));
            text = get(addr, "/metrics", None).expect("a scrape").1;
            break;
        }
        last_made = made;
        std::thread::sleep(Duration::from_millis(50));
    }
    let open_metrics = get(addr, "/metrics", Some("application/openmetrics-text; version=1.0.0")).unwrap().1;
    kill(child.id(), "TERM");
    let out = common::finish(child, started, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(!text.is_empty(), "no scrape between two sales");

    // The counters, against the summary.
    let done = summary(&out.stderr);
    let (transactions, refunds_sent) = (number_after(done, "): "), number_after(done, " transactions and "));
    let sent_t = sample(&text, "pos_producer_events_sent_total{type=\"transaction\"}");
    let sent_r = sample(&text, "pos_producer_events_sent_total{type=\"refund\"}");
    assert_eq!((sent_t as u64, sent_r as u64), (transactions, refunds_sent), "scrape\n{text}\nsummary {done}");
    assert_eq!(sample(&text, "pos_producer_events_made_total{type=\"transaction\"}"), sent_t);
    assert_eq!(sample(&text, "pos_producer_events_unacknowledged{type=\"transaction\"}"), 0.0);
    let requests = done.split(" produce requests").next().and_then(|s| s.rsplit(' ').next()).unwrap();
    assert_eq!(sample(&text, "pos_producer_produce_requests_total").to_string(), requests, "{done}");

    // The histogram adds up: cumulative buckets, +Inf = count = events acknowledged.
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("pos_producer_event_latency_seconds_bucket{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert!(buckets.len() > 10 && buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(buckets.last().copied(), Some(sent_t + sent_r));
    assert_eq!(sample(&text, "pos_producer_event_latency_seconds_count"), sent_t + sent_r);
    assert!(sample(&text, "pos_producer_event_latency_seconds_sum") > 0.0);

    // The topics, as kcat reads them: every record acknowledged, the faults as counted.
    let records = sample(&text, "pos_producer_records_written_total") as usize;
    let mut got = consume(&broker.addr, &topic, 0);
    got.extend(consume(&broker.addr, &refunds, 0));
    assert_eq!(got.len(), records, "records in the topics against records_written_total");
    let faulty = |fault: &str| {
        got.iter()
            .filter(|r| r.headers.iter().any(|(k, v)| k == "pos-fault" && v.split(',').any(|f| f == fault)))
            .count()
    };
    for fault in ["late", "malformed"] {
        let counted = sample(&text, &format!("pos_producer_faults_injected_total{{fault=\"{fault}\"}}")) as usize;
        assert_eq!(faulty(fault), counted, "{fault} records against the counter");
    }
    assert_eq!(got.len() - faulty("malformed"), transactions as usize + refunds_sent as usize);
    assert_eq!(sample(&text, &format!("pos_producer_broker_connected{{node=\"1\",address=\"{}\"}}", broker.addr)), 1.0);
    assert!(text.contains("\npos_producer_run_info{instance=\"1\",instances=\"1\",first_id=\"1\","), "{text}");
    assert_eq!(sample(&text, "pos_producer_ready"), 1.0);

    // promtool lints the classic text; OpenMetrics has its families and its end.
    let mut promtool = Command::new(format!("{}/promtool", prometheus_dir()))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let lint = promtool.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&lint.stdout), String::from_utf8_lossy(&lint.stderr));
    assert!(lint.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
    assert!(open_metrics.contains("\n# TYPE pos_producer_events_sent counter\n"), "{open_metrics}");
    assert!(open_metrics.contains("\n# TYPE pos_producer_run info\n"));
    assert!(open_metrics.ends_with("\n# EOF\n"));
}

#[test]
fn readyz_is_503_while_the_broker_is_frozen_and_200_once_it_answers_again() {
    let broker = Broker::start(KAFKA_4);
    let topic = unique("readyz");
    let (child, addr, started) =
        spawn_serving(&broker, &topic, &["--sleep-seconds=0.2", "--delivery-timeout-ms=16000", "--log-events=false"]);
    assert_eq!(wait_for(addr, "/readyz", Duration::from_secs(60), |s, _| s == 200).0, 200);

    // Timed from before the signal: the `kill` command may take a while to run on a busy host.
    let frozen = Instant::now();
    kill(broker.pid(), "STOP");
    let thaw = Thaw(broker.pid());
    let (status, why) = wait_for(addr, "/readyz", Duration::from_secs(30), |s, _| s == 503);
    assert_eq!(status, 503, "{why}");
    assert!(
        why.starts_with("not ready: no acknowledgement for ") && why.contains("half the delivery timeout is 8 s"),
        "{why}"
    );
    // The producer counts from the last acknowledgement or the first event left waiting, up to
    // a sale (0.2 s) before the freeze, more when a busy host slowed the broker: a second is
    // left for it (a 503 at the first event left waiting would come within a sale).
    let after = frozen.elapsed();
    assert!(after >= Duration::from_secs(7), "503 {after:?} after the freeze, before half the delivery timeout: {why}");
    // Alive all the while, and /metrics still answers with what waits.
    assert_eq!(get(addr, "/healthz", None).map(|a| a.0), Some(200));
    let text = get(addr, "/metrics", None).unwrap().1;
    assert!(sample(&text, "pos_producer_events_unacknowledged{type=\"transaction\"}") > 0.0);
    assert_eq!(sample(&text, "pos_producer_ready"), 0.0);

    drop(thaw);
    let (status, why) = wait_for(addr, "/readyz", Duration::from_secs(30), |s, _| s == 200);
    assert_eq!(status, 200, "{why}");
    kill(child.id(), "TERM");
    let out = common::finish(child, started, Duration::from_secs(30));
    // A SIGTERM may find events in flight (the summary then counts them): exit 0 is the promise.
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn hostile_clients_change_neither_the_pace_nor_the_delivery() {
    let broker = Broker::shared(KAFKA_4);
    let topic = unique("hostile");
    let (child, addr, started) = spawn_serving(
        broker,
        &topic,
        &["--sleep-seconds=0.01", "--max-events=1500", "--refund-probability=0", "--log-events=false"],
    );
    assert_eq!(wait_for(addr, "/readyz", Duration::from_secs(60), |s, _| s == 200).0, 200);

    // Each hostile connection must be closed by the server: read to the end within a bound.
    fn closed_within(mut s: TcpStream, limit: Duration) -> bool {
        s.set_read_timeout(Some(limit)).unwrap();
        let mut sink = Vec::new();
        match s.read_to_end(&mut sink) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
    let limit = Duration::from_secs(8);
    let mut attacks = Vec::new();
    // 100 idle connections.
    attacks.push(std::thread::spawn(move || {
        let idle: Vec<TcpStream> = (0..100).filter_map(|_| TcpStream::connect(addr).ok()).collect();
        let n = idle.len();
        (n == 100 && idle.into_iter().all(|s| closed_within(s, limit)), "100 idle connections")
    }));
    // Garbage (TLS hellos, random bytes), each on a connection of its own, all at once.
    for i in 0..10u8 {
        attacks.push(std::thread::spawn(move || {
            let Ok(mut s) = TcpStream::connect(addr) else { return (false, "garbage: connect") };
            let garbage: Vec<u8> = (0..4000u32).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i)).collect();
            let _ =
                s.write_all(if i % 2 == 0 { &garbage[..] } else { b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" });
            (closed_within(s, limit), "garbage")
        }));
    }
    // A 1 MB header.
    attacks.push(std::thread::spawn(move || {
        let Ok(mut s) = TcpStream::connect(addr) else { return (false, "1 MB header: connect") };
        let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
        big.resize(1 << 20, b'a');
        let _ = s.write_all(&big);
        (closed_within(s, limit), "a 1 MB header")
    }));
    // Slowloris: a header byte every 300 ms.
    attacks.push(std::thread::spawn(move || {
        let slow: Vec<TcpStream> = (0..3).filter_map(|_| TcpStream::connect(addr).ok()).collect();
        let t0 = Instant::now();
        for i in 0..40 {
            for mut s in &slow {
                let _ = s.write_all(if i == 0 { b"GET /metrics HTTP/1.1\r\n" } else { b"X" });
            }
            std::thread::sleep(Duration::from_millis(300));
            if t0.elapsed() > Duration::from_secs(6) {
                break;
            }
        }
        (slow.len() == 3 && slow.into_iter().all(|s| closed_within(s, limit)), "slowloris")
    }));
    // Meanwhile a scraper: how late each sale was made.
    let mut lags = Vec::new();
    let scrape_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < scrape_until {
        if let Some((200, text)) = get(addr, "/metrics", None) {
            lags.push(sample(&text, "pos_producer_schedule_lag_seconds"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for attack in attacks {
        let (ok, what) = attack.join().unwrap();
        assert!(ok, "{what}: a connection was not closed by the server");
    }
    // No request thread is stuck: the endpoint serves again.
    let health = wait_for(addr, "/healthz", Duration::from_secs(5), |s, _| s == 200);
    assert_eq!(health.0, 200, "{health:?}");
    let out = common::finish(child, started, Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(summary(&out.stderr).contains("done (event limit reached): 1500 transactions"), "{}", out.stderr);
    let got = consume(&broker.addr, &topic, 1500);
    let distinct: std::collections::HashSet<&str> = got.iter().map(|r| r.value.as_str()).collect();
    assert_eq!((got.len(), distinct.len()), (1500, 1500));
    assert!(!lags.is_empty(), "no scrape got through");
    assert!(lags.iter().all(|lag| *lag < 0.5), "a sale was made late under attack: lags {lags:?}");
}

#[test]
fn a_prometheus_server_scrapes_it() {
    let broker = Broker::shared(KAFKA_4);
    let topic = unique("prometheus");
    let (child, addr, started) =
        spawn_serving(broker, &topic, &["--sleep-seconds=0.05", "--max-seconds=40", "--log-events=false"]);
    let (port, web) = (addr.port(), free_port());
    let dir = common::tempdir("prometheus");
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: pos\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
        ),
    )
    .unwrap();
    let mut server = Command::new(format!("{}/prometheus", prometheus_dir()))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let api: SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    let query = |q: &str| -> Option<serde_json::Value> {
        let (_, body) = get(api, &format!("/api/v1/query?query={q}"), None)?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"].as_array().filter(|r| !r.is_empty()).map(|r| r[0]["value"][1].clone())
    };
    let value = |q: &str| query(q).and_then(|v| v.as_str().and_then(|s| s.parse::<f64>().ok()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = None;
    while Instant::now() < deadline {
        sent = value("pos_producer_events_sent_total%7Btype%3D%22transaction%22%7D").filter(|v| *v > 0.0);
        if sent.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let targets = get(api, "/api/v1/targets", None).map(|a| a.1).unwrap_or_default();
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    assert!(sent.is_some(), "Prometheus stored no pos_producer_events_sent_total; targets {targets}\nlog {log}");
    assert_eq!(value("up%7Bjob%3D%22pos%22%7D"), Some(1.0), "{targets}");
    assert!(targets.contains("\"health\":\"up\"") && targets.contains("\"lastError\":\"\""), "{targets}");
    assert!(value("pos_producer_event_latency_seconds_count").is_some_and(|c| c > 0.0));
    assert!(value("pos_producer_build_info").is_some(), "the info metric");
    let _ = server.kill();
    let _ = server.wait();
    kill(child.id(), "TERM");
    let out = common::finish(child, started, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn an_address_that_cannot_be_used_is_one_line_and_exit_2() {
    let mut cmd = producer(&["--dry-run"]);
    cmd.env("PRODUCER_METRICS_ADDR", "9464");
    let out = run(cmd, Duration::from_secs(10));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("PRODUCER_METRICS_ADDR") && out.stderr.contains("\"9464\""), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = run(producer(&["--dry-run", &format!("--metrics-addr={addr}")]), Duration::from_secs(10));
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let line = out.stderr.lines().find(|l| l.contains("error")).unwrap_or_default();
    let want = format!("pos-producer: error: PRODUCER_METRICS_ADDR (--metrics-addr) {addr}: cannot listen there: ");
    assert!(line.starts_with(&want), "{}", out.stderr);
}
