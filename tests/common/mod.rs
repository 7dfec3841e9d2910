//! Helpers for the end-to-end tests: run the built binary with a time bound, start and share
//! real Apache Kafka brokers (scripts/kafka-local), read topics back with kcat.
#![allow(dead_code)]

pub mod truth;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_pos-producer");

/// Kafka versions every Kafka test runs against: the latest 4.x, the 3.9 line, and 2.1, the
/// oldest pos-producer supports (ZooKeeper mode).
pub const KAFKA_4: &str = "4.4.0";
pub const KAFKA_3_9: &str = "3.9.2";
pub const KAFKA_2_1: &str = "2.1.1";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What a finished run printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// The `[producer] Sent ...` lines.
    pub fn events(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.starts_with("[producer] Sent ")).collect()
    }
}

/// The binary with a clean environment (no stray KAFKA_/PRODUCER_ variables of the caller).
pub fn producer(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` to its end, killing it after `limit` (the test then fails on its status).
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    let started = Instant::now();
    let child = cmd.spawn().expect("spawn");
    finish(child, started, limit)
}

/// As `run`, for a program other than pos-producer (its stderr is not held to our messages).
pub fn run_other(mut cmd: Command, limit: Duration) -> Output {
    let started = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    finish_any(&mut child, started, limit)
}

/// Waits for a spawned child (killing it after `limit`) and collects its output.
pub fn finish(mut child: Child, started: Instant, limit: Duration) -> Output {
    let out = finish_any(&mut child, started, limit);
    assert_lines_are_whole(&out.stderr);
    out
}

/// Every stderr line is a whole message: a `[producer] ` diagnostic or the
/// `pos-producer: error: ` line, never the tail of a message broken over lines. Every run in
/// the tests passes through here, so every error path they provoke is checked.
pub fn assert_lines_are_whole(stderr: &str) {
    for line in stderr.lines() {
        assert!(
            line.starts_with("[producer] ") || line.starts_with("pos-producer: error: "),
            "stderr line {line:?} is not a whole message; stderr:\n{stderr}"
        );
    }
}

fn finish_any(child: &mut Child, started: Instant, limit: Duration) -> Output {
    fn reader(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut s);
            }
            s
        })
    }
    let out_reader = reader(child.stdout.take());
    let err_reader = reader(child.stderr.take());
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let status = child.wait().expect("wait");
            let stderr = err_reader.join().unwrap();
            panic!("run exceeded {limit:?} and was killed ({status}); stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap(), elapsed }
}

/// Sends `signal` (e.g. "TERM") to a process.
pub fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{signal} {pid}");
}

/// A single-node broker started by scripts/kafka-local; stopped when dropped.
pub struct Broker {
    pub version: String,
    pub addr: String,
    pub dir: PathBuf,
    owned: bool,
}

impl Broker {
    /// A new broker of its own, for tests that stop or restart it.
    pub fn start(version: &str) -> Broker {
        let dir = tempdir("kafka");
        let addr = kafka_local(&["start", "--version", version, "--dir", dir.to_str().unwrap()]);
        Broker { version: version.to_string(), addr, dir, owned: true }
    }

    /// A broker of its own with secure listeners beside PLAINTEXT (`kafka-local --secure`):
    /// `listener("SSL")` and the others give their addresses, `tls_file("ca.pem")` the files.
    pub fn secure(version: &str) -> Broker {
        let dir = tempdir("kafka-secure");
        let pid = std::process::id().to_string();
        let addr = kafka_local(&[
            "start",
            "--secure",
            "--version",
            version,
            "--dir",
            dir.to_str().unwrap(),
            "--owner-pid",
            &pid,
        ]);
        Broker { version: version.to_string(), addr, dir, owned: true }
    }

    /// The address of a listener of a `secure` broker: SSL, SASL_SSL, SASL_PLAINTEXT or MTLS.
    pub fn listener(&self, name: &str) -> String {
        let listeners = std::fs::read_to_string(self.dir.join("listeners")).expect("a --secure broker");
        listeners
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} listener in {listeners}"))
            .to_string()
    }

    /// A certificate or key file of a `secure` broker (ca.pem, client.pem, client.key, …).
    pub fn tls_file(&self, name: &str) -> String {
        self.dir.join("tls").join(name).to_str().unwrap().to_string()
    }

    /// A new broker of its own on `port` (for a client started before its broker).
    pub fn start_on_port(version: &str, port: u16) -> Broker {
        let dir = tempdir("kafka");
        let port = port.to_string();
        let addr = kafka_local(&["start", "--version", version, "--port", &port, "--dir", dir.to_str().unwrap()]);
        Broker { version: version.to_string(), addr, dir, owned: true }
    }

    /// The broker of `version` shared by the tests of this process: the one `make test` started
    /// (POS_TEST_KAFKA_<version> = host:port), else one started now and stopped at exit.
    pub fn shared(version: &str) -> &'static Broker {
        static B4: OnceLock<Broker> = OnceLock::new();
        static B39: OnceLock<Broker> = OnceLock::new();
        static B21: OnceLock<Broker> = OnceLock::new();
        let cell = match version {
            KAFKA_4 => &B4,
            KAFKA_3_9 => &B39,
            KAFKA_2_1 => &B21,
            other => panic!("no shared broker for Kafka {other}"),
        };
        cell.get_or_init(|| {
            let var = format!("POS_TEST_KAFKA_{}", version.replace('.', "_"));
            if let Ok(addr) = std::env::var(&var) {
                return Broker { version: version.to_string(), addr, dir: PathBuf::new(), owned: false };
            }
            let dir = tempdir("kafka-shared");
            let pid = std::process::id().to_string();
            let addr =
                kafka_local(&["start", "--version", version, "--dir", dir.to_str().unwrap(), "--owner-pid", &pid]);
            Broker { version: version.to_string(), addr, dir, owned: false }
        })
    }

    /// Three KRaft nodes of their own (replication factor 3, min.insync.replicas 2); `addr` is
    /// the comma list of all three.
    pub fn cluster(version: &str) -> Broker {
        let dir = tempdir("kafka-cluster");
        let pid = std::process::id().to_string();
        let addr = kafka_local(&["cluster", "--version", version, "--dir", dir.to_str().unwrap(), "--owner-pid", &pid]);
        Broker { version: version.to_string(), addr, dir, owned: true }
    }

    /// Kills node `n` (1–3) of a cluster at once (SIGKILL), as a crash would.
    pub fn crash_node(&self, n: u32) {
        crash_pid_file(&self.dir.join(format!("node-{n}/broker.pid")));
    }

    /// Freezes node `n` (1–3) of a cluster (SIGSTOP): it holds its connections and answers
    /// nothing, as a hung JVM would, until `thaw_node`.
    pub fn freeze_node(&self, n: u32) {
        kill(self.node_pid(n), "STOP");
    }

    pub fn thaw_node(&self, n: u32) {
        kill(self.node_pid(n), "CONT");
    }

    fn node_pid(&self, n: u32) -> u32 {
        let file = self.dir.join(format!("node-{n}/broker.pid"));
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).trim().parse().unwrap()
    }

    /// Kills the broker process at once (SIGKILL), as a crash would.
    pub fn crash(&self) {
        crash_pid_file(&self.dir.join("broker.pid"));
    }

    /// Starts the broker again on the same port and data.
    pub fn restart(&self) {
        let addr = kafka_local(&["start", "--version", &self.version, "--dir", self.dir.to_str().unwrap(), "--reuse"]);
        assert_eq!(addr, self.addr);
    }

    pub fn stop(&self) {
        kafka_local(&["stop", "--dir", self.dir.to_str().unwrap()]);
    }

    /// Creates `topic` (1 partition) with topic `configs` (`key=value`) through Kafka's own
    /// Java AdminClient, from the broker's jars.
    pub fn create_topic(&self, topic: &str, configs: &[&str]) {
        let mut args = vec!["create", topic];
        args.extend_from_slice(configs);
        self.admin(&args);
    }

    /// The broker's process id (a broker of its own, not a shared one).
    pub fn pid(&self) -> u32 {
        let file = self.dir.join("broker.pid");
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())).trim().parse().unwrap()
    }

    /// Deletes `topic` through Kafka's Java AdminClient.
    pub fn delete_topic(&self, topic: &str) {
        self.admin(&["delete", topic]);
    }

    /// Raises the partition count of `topic` to `count` through Kafka's Java AdminClient.
    pub fn add_partitions(&self, topic: &str, count: u32) {
        self.admin(&["partitions", topic, &count.to_string()]);
    }

    /// Deletes every record of `topic`'s first `partitions` partitions (DeleteRecords up to the
    /// high watermark), as retention would: the offsets stay, the records are gone.
    pub fn delete_records(&self, topic: &str, partitions: u32) {
        self.admin(&["records", topic, &partitions.to_string()]);
    }

    /// Allows `principal` (`User:alice`) only `operations` (`WRITE`, `DESCRIBE`, …) on `topic`
    /// (a broker with ACLs enforced: `Broker::secure`).
    pub fn allow_only(&self, topic: &str, principal: &str, operations: &[&str]) {
        let mut args = vec!["acl", topic, principal];
        args.extend_from_slice(operations);
        self.admin(&args);
    }

    /// Allows `principal` every operation on the transactional ids starting with `prefix`, and
    /// so nobody else (a broker with ACLs enforced: `Broker::secure`).
    pub fn allow_transactional_ids(&self, prefix: &str, principal: &str) {
        self.admin(&["acl-txn", prefix, principal]);
    }

    /// One AdminClient action: `create TOPIC [key=value ...]`, `delete TOPIC`,
    /// `partitions TOPIC COUNT`, `records TOPIC PARTITIONS`, `acl TOPIC PRINCIPAL OPERATION...` or `acl-txn PREFIX PRINCIPAL`.
    fn admin(&self, args: &[&str]) {
        let mut all = vec![self.addr.as_str()];
        all.extend_from_slice(args);
        java(
            &self.version,
            "Admin",
            "import org.apache.kafka.clients.admin.*;\n\
             public class Admin { public static void main(String[] a) throws Exception {\n\
               java.util.Properties p = new java.util.Properties(); p.put(\"bootstrap.servers\", a[0]);\n\
               try (AdminClient admin = AdminClient.create(p)) {\n\
                 if (a[1].equals(\"create\")) {\n\
                   java.util.Map<String, String> configs = new java.util.HashMap<>();\n\
                   for (int i = 3; i < a.length; i++) { String[] kv = a[i].split(\"=\", 2); configs.put(kv[0], kv[1]); }\n\
                   NewTopic t = new NewTopic(a[2], 1, (short) 1).configs(configs);\n\
                   admin.createTopics(java.util.Collections.singleton(t)).all().get();\n\
                 } else if (a[1].equals(\"delete\")) admin.deleteTopics(java.util.Collections.singleton(a[2])).all().get();\n\
                 else if (a[1].equals(\"acl\")) {\n\
                   java.util.List<org.apache.kafka.common.acl.AclBinding> acls = new java.util.ArrayList<>();\n\
                   for (int i = 4; i < a.length; i++) acls.add(new org.apache.kafka.common.acl.AclBinding(\n\
                     new org.apache.kafka.common.resource.ResourcePattern(org.apache.kafka.common.resource.ResourceType.TOPIC, a[2], org.apache.kafka.common.resource.PatternType.LITERAL),\n\
                     new org.apache.kafka.common.acl.AccessControlEntry(a[3], \"*\", org.apache.kafka.common.acl.AclOperation.valueOf(a[i]), org.apache.kafka.common.acl.AclPermissionType.ALLOW)));\n\
                   admin.createAcls(acls).all().get();\n\
                 }\n\
                 else if (a[1].equals(\"acl-txn\")) {\n\
                   admin.createAcls(java.util.Collections.singleton(new org.apache.kafka.common.acl.AclBinding(\n\
                     new org.apache.kafka.common.resource.ResourcePattern(org.apache.kafka.common.resource.ResourceType.TRANSACTIONAL_ID, a[2], org.apache.kafka.common.resource.PatternType.PREFIXED),\n\
                     new org.apache.kafka.common.acl.AccessControlEntry(a[3], \"*\", org.apache.kafka.common.acl.AclOperation.ALL, org.apache.kafka.common.acl.AclPermissionType.ALLOW)))).all().get();\n\
                 }\n\
                 else if (a[1].equals(\"records\")) {\n\
                   java.util.Map<org.apache.kafka.common.TopicPartition, RecordsToDelete> m = new java.util.HashMap<>();\n\
                   for (int i = 0; i < Integer.parseInt(a[3]); i++) m.put(new org.apache.kafka.common.TopicPartition(a[2], i), RecordsToDelete.beforeOffset(-1L));\n\
                   admin.deleteRecords(m).all().get();\n\
                 }\n\
                 else admin.createPartitions(java.util.Collections.singletonMap(a[2],\n\
                   NewPartitions.increaseTo(Integer.parseInt(a[3])))).all().get();\n\
               } } }\n",
            &all,
            "",
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.owned {
            self.stop();
        }
    }
}

/// SIGKILLs the process of a pid file and waits until it is gone, so its port is free.
fn crash_pid_file(file: &Path) {
    let pid = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    kill(pid.trim().parse().unwrap(), "KILL");
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{}", pid.trim())).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kafka_local(args: &[&str]) -> String {
    let out = Command::new(root().join("scripts/kafka-local")).args(args).output().expect("run scripts/kafka-local");
    assert!(
        out.status.success(),
        "scripts/kafka-local {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn tempdir(prefix: &str) -> PathBuf {
    let out = Command::new("mktemp").args(["-d", &format!("/tmp/pos-{prefix}.XXXXXX")]).output().unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A topic name no other test uses.
pub fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// A contract timestamp, "2025-01-01 00:01:30" (UTC), as a date and time.
pub fn event_time(text: &str) -> time::PrimitiveDateTime {
    let format =
        time::format_description::parse_borrowed::<2>("[year]-[month]-[day] [hour]:[minute]:[second]").unwrap();
    time::PrimitiveDateTime::parse(text, &format).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// One record as an independent client (kcat) read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub timestamp_ms: i64,
    pub value: String,
    /// Record headers, in order.
    pub headers: Vec<(String, String)>,
}

/// Reads `topic` from the start with kcat until at least `count` records arrived (or 20 s).
pub fn consume(addr: &str, topic: &str, count: usize) -> Vec<Consumed> {
    consume_with(addr, topic, count, &[])
}

/// `consume` with extra kcat `-X` settings (`security.protocol=SSL`, …).
pub fn consume_with(addr: &str, topic: &str, count: usize, settings: &[String]) -> Vec<Consumed> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut cmd = Command::new("kcat");
        cmd.args(["-b", addr, "-C", "-t", topic, "-e", "-q", "-J", "-X", "check.crcs=true"]);
        for s in settings {
            cmd.args(["-X", s]);
        }
        let out = cmd.output().expect("kcat is installed (apt-get install kcat; .ci/run does it)");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let records: Vec<Consumed> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("kcat -J line {l}: {e}"));
                Consumed {
                    partition: v["partition"].as_i64().unwrap() as i32,
                    offset: v["offset"].as_i64().unwrap(),
                    key: v["key"].as_str().unwrap_or_default().to_string(),
                    timestamp_ms: v["ts"].as_i64().unwrap(),
                    value: v["payload"].as_str().unwrap_or_default().to_string(),
                    headers: headers(&v["headers"]),
                }
            })
            .collect();
        if records.len() >= count || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// kcat -J prints headers as a flat array: key, value, key, value, …
fn headers(v: &serde_json::Value) -> Vec<(String, String)> {
    let Some(flat) = v.as_array() else { return vec![] };
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    flat.chunks(2).map(|kv| (text(&kv[0]), kv.get(1).map(text).unwrap_or_default())).collect()
}

/// Asserts that `topic` (read with kcat and its `settings`) holds each of `want` exactly once,
/// and nothing else.
pub fn assert_exactly_once(addr: &str, topic: &str, want: &[String], settings: &[String]) {
    let got = consume_with(addr, topic, want.len(), settings);
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in &got {
        *counts.entry(r.value.as_str()).or_default() += 1;
    }
    let duplicates: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "{topic}: duplicates {:?}", &duplicates[..duplicates.len().min(3)]);
    let missing: Vec<_> = want.iter().filter(|v| !counts.contains_key(v.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{topic}: {} missing of {} (kcat read {} records), e.g. {:?}",
        missing.len(),
        want.len(),
        got.len(),
        missing.first()
    );
    assert_eq!(got.len(), want.len(), "{topic}: records that the dry run did not print");
    assert_in_order(topic, &got, want);
}

/// Asserts that each partition of `topic` holds its records in the order of `want` (the order
/// they were made): what idempotence keeps through retries with several requests in flight.
pub fn assert_in_order(topic: &str, got: &[Consumed], want: &[String]) {
    let position: std::collections::HashMap<&str, usize> =
        want.iter().enumerate().map(|(i, v)| (v.as_str(), i)).collect();
    let mut by_partition: std::collections::BTreeMap<i32, Vec<&Consumed>> = Default::default();
    for r in got {
        by_partition.entry(r.partition).or_default().push(r);
    }
    for (partition, mut records) in by_partition {
        records.sort_by_key(|r| r.offset);
        let order: Vec<usize> = records.iter().filter_map(|r| position.get(r.value.as_str()).copied()).collect();
        if let Some(w) = order.windows(2).find(|w| w[0] > w[1]) {
            panic!("{topic}[{partition}]: record made {}th comes after the one made {}th", w[1] + 1, w[0] + 1);
        }
    }
}

/// The partition Kafka's own Java client picks for each key: `Utils.toPositive(Utils.murmur2(key))
/// % partitions`, which `DefaultPartitioner` (≤ 3.2) and `BuiltInPartitioner` (3.3+) compute,
/// run from the broker's jars: an independent check of our murmur2.
pub fn java_partitions(version: &str, keys: &[String], partitions: usize) -> Vec<i32> {
    let out = java(
        version,
        "Partition",
        "import org.apache.kafka.common.utils.Utils;\n\
         public class Partition { public static void main(String[] a) throws Exception {\n\
           int n = Integer.parseInt(a[0]);\n\
           java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));\n\
           String k; StringBuilder out = new StringBuilder();\n\
           while ((k = r.readLine()) != null) out.append(Utils.toPositive(Utils.murmur2(k.getBytes(\"UTF-8\"))) % n).append('\\n');\n\
           System.out.print(out); } }\n",
        &[&partitions.to_string()],
        &(keys.join("\n") + "\n"),
    );
    out.lines().map(|l| l.parse().unwrap()).collect()
}

/// Runs a single-file Java program `class` (source `src`) on the jars of Kafka `version`, with
/// `input` on stdin; returns its stdout.
fn java(version: &str, class: &str, src: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let libs = kafka_local(&["fetch", "--version", version]);
    let file = tempdir("java").join(format!("{class}.java"));
    std::fs::write(&file, src).unwrap();
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(format!("{libs}/*"))
        .arg(&file)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "java {class}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Which output stream of a child to watch.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A running child whose stdout or stderr is read line by line on a thread.
pub struct Watched {
    pub child: Child,
    pub started: Instant,
    lines: std::thread::JoinHandle<Vec<String>>,
}

/// Spawns `cmd` and returns once a line of `stream` satisfies `ready` (fails after 60 s).
pub fn spawn_until(mut cmd: Command, stream: Stream, ready: impl Fn(&str) -> bool + Send + 'static) -> Watched {
    use std::io::{BufRead, BufReader};
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let pipe: Box<dyn Read + Send> = match stream {
        Stream::Stdout => Box::new(child.stdout.take().expect("piped stdout")),
        Stream::Stderr => Box::new(child.stderr.take().expect("piped stderr")),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if ready(&line) {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("no ready line within 60 s; read: {:?}", lines.join().unwrap());
    }
    Watched { child, started, lines }
}

impl Watched {
    /// Waits for the end (killing the child after `limit` from its start): the output, with the
    /// watched stream's lines apart.
    pub fn finish(self, limit: Duration) -> (Output, Vec<String>) {
        let out = finish(self.child, self.started, limit);
        (out, self.lines.join().unwrap())
    }
}

/// Reads `count` records of `topic` from the start with Kafka's own console consumer (the Java
/// client of `version`'s jars, checksums checked); returns their values in order.
pub fn console_consume(version: &str, addr: &str, topic: &str, count: usize) -> Vec<String> {
    // The class moved to the tools module in Kafka 3.5.
    let class = if version.starts_with("2.") {
        "kafka.tools.ConsoleConsumer"
    } else {
        "org.apache.kafka.tools.consumer.ConsoleConsumer"
    };
    let count = count.to_string();
    let out = Command::new(root().join("scripts/kafka-local"))
        .args(["tool", "--version", version, class, "--bootstrap-server", addr, "--topic", topic])
        .args(["--from-beginning", "--max-messages", &count, "--timeout-ms", "30000"])
        .stdin(Stdio::null())
        .output()
        .expect("scripts/kafka-local");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    stdout.lines().map(String::from).collect()
}
