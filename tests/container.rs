//! The image users build, built and run by a real Docker engine (issue 12).
//!
//! The engine is Debian's dockerd, private to the test run (`scripts/docker-engine`: vfs
//! storage, its own socket, no bridge; containers use the host network). `make test` starts it
//! and passes `POS_TEST_DOCKER_HOST`; without it the tests start one of their own. Docker Hub
//! is unreachable here, so the Dockerfile's builder base is a local image made by
//! `scripts/builder-image` and named with the Dockerfile's `RUST_IMAGE` build argument: every
//! `RUN` and `COPY` of the real Dockerfile runs, smoke test included, for linux/amd64 and
//! linux/arm64 (cross-compiled, as in production).

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Broker, KAFKA_4, consume, root, tempdir, unique};

const BUILDER: &str = "pos-builder:local";

/// The DOCKER_HOST of the engine the tests use.
fn engine() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        if let Ok(host) = std::env::var("POS_TEST_DOCKER_HOST") {
            return host;
        }
        let dir = tempdir("docker");
        let pid = std::process::id().to_string();
        let out = Command::new(root().join("scripts/docker-engine"))
            .args(["start", "--dir", dir.to_str().unwrap(), "--owner-pid", &pid])
            .output()
            .unwrap();
        assert!(out.status.success(), "no Docker engine: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// Runs Debian's docker CLI against the test engine; returns stdout, failing on a non-zero exit.
fn docker(args: &[&str]) -> String {
    let out = docker_cmd(args).output().expect("/usr/bin/docker (apt-get install docker.io)");
    assert!(
        out.status.success(),
        "docker {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn docker_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new("/usr/bin/docker");
    cmd.args(args).env("DOCKER_HOST", engine()).env("DOCKER_BUILDKIT", "1").stdin(Stdio::null());
    cmd
}

/// The image of the whole Dockerfile for `arch` (amd64 or arm64), built once per test run.
fn image(arch: &'static str) -> &'static str {
    static IMAGES: OnceLock<std::sync::Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let images = IMAGES.get_or_init(Default::default);
    let mut images = images.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(tag) = images.get(arch) {
        return tag;
    }
    builder();
    let tag: &'static str = Box::leak(format!("pos-producer:test-{arch}").into_boxed_str());
    let platform = format!("linux/{arch}");
    let base = format!("RUST_IMAGE={BUILDER}");
    let dir = root();
    docker(&[
        "build",
        "--network",
        "none",
        "--platform",
        &platform,
        "--build-arg",
        &base,
        "-t",
        tag,
        dir.to_str().unwrap(),
    ]);
    images.insert(arch, tag);
    tag
}

/// The local stand-in for the builder base, made once per engine.
fn builder() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Command::new(root().join("scripts/builder-image"))
            .arg(BUILDER)
            .env("DOCKER_HOST", engine())
            .output()
            .unwrap();
        assert!(out.status.success(), "scripts/builder-image: {}", String::from_utf8_lossy(&out.stderr));
    });
}

/// The ELF e_machine of the image's binary, read from its header (no emulation needed).
fn binary_machine(tag: &str) -> u16 {
    let id = docker(&["create", tag]).trim().to_string();
    let out = docker_cmd(&["cp", &format!("{id}:/pos-producer"), "-"]).output().unwrap();
    docker(&["rm", &id]);
    assert!(out.status.success(), "docker cp: {}", String::from_utf8_lossy(&out.stderr));
    // `docker cp … -` writes a tar stream: a 512-byte header, then the file.
    let elf = &out.stdout[512..];
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    u16::from_le_bytes([elf[18], elf[19]])
}

#[test]
fn container_images_build_from_the_whole_dockerfile_with_the_binary_of_their_platform() {
    // Regression: `ARG TARGETARCH=amd64` put an x86_64 binary into the arm64 image.
    for (arch, machine) in [("amd64", 0x3e), ("arm64", 0xb7)] {
        let tag = image(arch);
        assert_eq!(binary_machine(tag), machine, "{tag}: ELF e_machine");
        let inspect = docker(&["image", "inspect", "-f", "{{.Architecture}} {{.Config.User}} {{.Size}}", tag]);
        let fields: Vec<&str> = inspect.split_whitespace().collect();
        assert_eq!(fields[..2], [arch, "65532:65532"], "{tag}: {inspect}");
        let size: u64 = fields[2].parse().unwrap();
        // The binary's budget with TLS (tests/scratch.rs), plus the image's few hundred bytes.
        assert!(size < 4_400_000, "{tag} is {size} bytes");
        eprintln!("container: {tag} is {size} bytes as the engine reports it");
        // The label says the binary's version (and so the changelog's: tests/artifacts.rs).
        let label =
            docker(&["image", "inspect", "-f", "{{index .Config.Labels \"org.opencontainers.image.version\"}}", tag]);
        assert_eq!(label.trim(), env!("CARGO_PKG_VERSION"), "{tag}: org.opencontainers.image.version");
    }
}

#[test]
fn container_runs_the_binary_as_uid_65532_without_capabilities() {
    let tag = image("amd64");
    assert_eq!(
        docker(&["run", "--rm", "--network", "host", tag, "--version"]).trim(),
        format!("pos-producer {}", env!("CARGO_PKG_VERSION"))
    );
    let dry = docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        tag,
        "--dry-run",
        "--seed=1",
        "--max-events=3",
        "--stats-seconds=0",
    ]);
    assert_eq!(dry.lines().filter(|l| l.starts_with("[producer] Sent transaction: ")).count(), 3, "{dry}");

    let id = docker(&["run", "-d", "--network", "host", tag, "--dry-run", "--sleep-seconds=60"]).trim().to_string();
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", &id]).trim().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.split_whitespace().collect::<Vec<_>>())
    };
    assert_eq!(field("Uid").unwrap(), ["65532"; 4], "{status}");
    assert_eq!(field("Gid").unwrap(), ["65532"; 4], "{status}");
    for caps in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(field(caps).unwrap(), ["0000000000000000"], "{caps}: {status}");
    }
    docker(&["rm", "-f", &id]);
}

#[test]
fn container_started_before_its_broker_retries_delivers_once_and_stops_cleanly() {
    let tag = image("amd64");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (sales, refunds) = (unique("container"), unique("container-refunds"));
    // compose's healthcheck: the binary probes its own /readyz inside the image (no shell).
    let probe = |id: &str| {
        let url = format!("http://127.0.0.1:{metrics}/readyz");
        docker_cmd(&["exec", id, "/pos-producer", "--probe", &url]).output().unwrap()
    };
    let env = [
        format!("KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{port}"),
        format!("KAFKA_TOPIC={sales}"),
        format!("KAFKA_TOPIC_REFUNDS={refunds}"),
        "PRODUCER_SLEEP_SECONDS=0.1".to_string(),
        "REFUND_PROBABILITY=0.3".to_string(),
        format!("PRODUCER_METRICS_ADDR=127.0.0.1:{metrics}"),
    ];
    let mut args = vec!["run", "-d", "--network", "host"];
    for e in &env {
        args.extend(["-e", e]);
    }
    args.push(tag);
    let id = docker(&args).trim().to_string();
    std::thread::sleep(Duration::from_secs(10));
    let unready = probe(&id);
    assert_eq!(unready.status.code(), Some(1), "not ready while no broker answers: {unready:?}");
    assert!(String::from_utf8_lossy(&unready.stderr).contains("503"), "{unready:?}");
    let broker = Broker::start_on_port(KAFKA_4, port);

    let deadline = Instant::now() + Duration::from_secs(60);
    while docker_logs(&id).0.matches("[producer] Sent transaction: ").count() < 20 {
        assert!(Instant::now() < deadline, "no events within 60 s of the broker: {:?}", docker_logs(&id));
        std::thread::sleep(Duration::from_millis(500));
    }
    let ready = probe(&id);
    assert_eq!(ready.status.code(), Some(0), "ready once events are acknowledged: {ready:?}");
    let t0 = Instant::now();
    docker(&["stop", "-t", "10", &id]);
    let took = t0.elapsed();
    let code = docker(&["inspect", "-f", "{{.State.ExitCode}}", &id]);
    let (stdout, stderr) = docker_logs(&id);
    docker(&["rm", &id]);
    common::assert_lines_are_whole(&stderr);
    assert_eq!(code.trim(), "0", "{stderr}");
    assert!(took < Duration::from_secs(1), "docker stop took {took:?}");
    assert!(stderr.contains("no broker answers yet (attempt 1)"), "it retried: {stderr}");
    assert!(stderr.lines().last().unwrap().contains("done (stopped by signal)"), "{stderr}");

    // What it reported as sent is in Kafka exactly once, and nothing else is.
    for (kind, topic) in [("transaction", &sales), ("refund", &refunds)] {
        let prefix = format!("[producer] Sent {kind}: ");
        let mut sent: Vec<String> = stdout.lines().filter_map(|l| l.strip_prefix(&prefix)).map(String::from).collect();
        let mut stored: Vec<String> = consume(&broker.addr, topic, sent.len()).into_iter().map(|r| r.value).collect();
        sent.sort();
        stored.sort();
        assert!(!sent.is_empty() || kind == "refund");
        assert_eq!(stored, sent, "{topic}");
    }
}

/// The container's stdout and stderr so far.
fn docker_logs(id: &str) -> (String, String) {
    let out = docker_cmd(&["logs", id]).output().unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}
