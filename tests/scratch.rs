//! What the `FROM scratch` image promises, without Docker: the static musl binary alone in an
//! empty root (`chroot`), as UID 65532, as PID 1 of a new PID namespace, against a real broker.
//!
//! Needs root (chroot, unshare) and `POS_MUSL_BIN`, the path of the musl release binary, both of
//! which `make test` provides (it builds the binary first).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Broker, KAFKA_4, consume, finish, kill, producer, run, tempdir, unique};

/// The size budgets of the static binary, with TLS (the default build) and plaintext only
/// (`--no-default-features`); docs/benchmarks.md has the measured sizes.
const SIZE_BUDGET: u64 = 4_400_000;
const PLAINTEXT_SIZE_BUDGET: u64 = 1_750_000;
const LIMIT: Duration = Duration::from_secs(60);
const REPLAY: [&str; 5] =
    ["--seed=9", "--start-time=2025-01-01T00:00:00Z", "--speedup=max", "--max-events=500", "--stats-seconds=0"];

fn musl_binary() -> PathBuf {
    let path = std::env::var("POS_MUSL_BIN")
        .expect("POS_MUSL_BIN must name the musl release binary: run `make test`, which builds it first");
    PathBuf::from(path)
}

/// An empty directory holding nothing but the binary, as `/pos-producer`.
fn empty_root() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = tempdir("scratch");
    let bin = root.join("pos-producer");
    std::fs::copy(musl_binary(), &bin).unwrap();
    // As in an image: a root anyone may enter, a binary anyone may run (UID 65532 included).
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let entries: Vec<_> = std::fs::read_dir(&root).unwrap().collect();
    assert_eq!(entries.len(), 1, "nothing but the binary");
    root
}

/// `chroot [--userspec=U:G] ROOT /pos-producer ARGS`.
fn in_chroot(root: &PathBuf, user: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(host_tool("chroot"));
    if let Some(user) = user {
        cmd.arg(format!("--userspec={user}"));
    }
    cmd.arg(root).arg("/pos-producer").args(args).env_clear();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// A host tool's full path: the commands run with an empty environment, PATH included.
fn host_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} not found"))
}

#[test]
fn scratch_binary_is_static_and_within_its_size_budget() {
    let plaintext = std::env::var("POS_MUSL_BIN_PLAINTEXT")
        .expect("POS_MUSL_BIN_PLAINTEXT must name the plaintext-only musl binary: run `make test`");
    for (bin, budget) in [(musl_binary(), SIZE_BUDGET), (PathBuf::from(plaintext), PLAINTEXT_SIZE_BUDGET)] {
        let file = Command::new("file").arg(&bin).output().expect("file(1)");
        let desc = String::from_utf8_lossy(&file.stdout);
        assert!(desc.contains("statically linked") || desc.contains("static-pie linked"), "{desc}");
        assert!(!desc.contains("interpreter"), "no dynamic loader: {desc}");
        let size = std::fs::metadata(&bin).unwrap().len();
        assert!(size <= budget, "{}: {size} bytes > budget {budget}", bin.display());
    }
}

#[test]
fn scratch_runs_alone_in_an_empty_root_and_as_uid_65532() {
    let root = empty_root();
    let version = run(in_chroot(&root, None, &["--version"]), LIMIT);
    assert_eq!(version.code(), 0, "{}", version.stderr);
    assert_eq!(version.stdout, format!("pos-producer {}\n", env!("CARGO_PKG_VERSION")));

    let mut args = vec!["--dry-run"];
    args.extend_from_slice(&REPLAY);
    let host = run(producer(&args), LIMIT);
    for user in [None, Some("65532:65532")] {
        let out = run(in_chroot(&root, user, &args), LIMIT);
        assert_eq!(out.code(), 0, "{user:?}: {}", out.stderr);
        assert_eq!(out.stdout, host.stdout, "{user:?}: the same stream as the host build");
    }
}

#[test]
fn scratch_delivers_to_a_real_broker_from_an_empty_root_as_uid_65532() {
    let broker = Broker::shared(KAFKA_4);
    let root = empty_root();
    let (tx, rf) = (unique("scratch-tx"), unique("scratch-rf"));
    let flags =
        [format!("--bootstrap-servers={}", broker.addr), format!("--topic={tx}"), format!("--topic-refunds={rf}")];
    let mut args: Vec<&str> = REPLAY.to_vec();
    args.extend(flags.iter().map(String::as_str));
    let out = run(in_chroot(&root, Some("65532:65532"), &args), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let got = consume(&broker.addr, &tx, 500);
    let mut ids: Vec<u64> = got
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.value).unwrap()["transaction_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=500).collect::<Vec<u64>>(), "500 events, each once");
}

/// What a `FROM scratch` user of a managed cluster does: SASL_SSL with SCRAM and the CA file
/// mounted into the image. The root holds the binary, the CA file and an /etc/hosts naming
/// localhost (which Docker bind-mounts into every container; the broker advertises localhost).
#[test]
fn scratch_delivers_over_sasl_ssl_from_an_empty_root_with_a_mounted_ca() {
    let broker = Broker::secure(KAFKA_4);
    let root = empty_root();
    std::fs::copy(broker.tls_file("ca.pem"), root.join("ca.pem")).unwrap();
    std::fs::create_dir(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    let (tx, rf) = (unique("scratch-tls-tx"), unique("scratch-tls-rf"));
    let flags = [
        format!("--bootstrap-servers={}", broker.listener("SASL_SSL")),
        format!("--topic={tx}"),
        format!("--topic-refunds={rf}"),
    ];
    let mut args: Vec<&str> = REPLAY.to_vec();
    args.extend(flags.iter().map(String::as_str));
    let mut cmd = in_chroot(&root, Some("65532:65532"), &args);
    cmd.env("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        .env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
        .env("KAFKA_SASL_USERNAME", "alice")
        .env("KAFKA_SASL_PASSWORD", "alice-secret")
        .env("KAFKA_SSL_CA_LOCATION", "/ca.pem");
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // Read over the PLAINTEXT listener: Debian's kcat cannot do SCRAM against Kafka 4.
    let got = consume(&broker.addr, &tx, 500);
    assert_eq!(got.len(), 500, "500 events over SASL_SSL");
}

#[test]
fn scratch_sigterm_ends_it_as_pid_1_within_a_second() {
    let root = empty_root();
    // unshare forks; its child execs chroot, which execs the binary: PID 1 of the namespace.
    let mut cmd = Command::new(host_tool("unshare"));
    cmd.args(["--pid", "--fork"]).arg(host_tool("chroot")).arg(&root).args([
        "/pos-producer",
        "--dry-run",
        "--sleep-seconds=60",
    ]);
    cmd.env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn().expect("unshare");
    let pid = wait_for_namespace_init(child.id());
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    kill(pid, "TERM");
    let out = finish(child, started, LIMIT);
    let took = sent.elapsed();
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(out.stderr.contains("done (stopped by signal)"), "{}", out.stderr);
}

/// The host pid of the binary running as PID 1 under `unshare` (pid `parent`).
fn wait_for_namespace_init(parent: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next().and_then(|p| p.parse::<u32>().ok()) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            if exe.ends_with("pos-producer") {
                let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap_or("");
                assert!(nspid.split_whitespace().last() == Some("1"), "not PID 1 in its namespace: {nspid}");
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the binary did not start under unshare");
}

#[test]
fn aarch64_build_runs_under_qemu_and_streams_the_same_events() {
    let bin = std::env::var("POS_MUSL_BIN_AARCH64")
        .expect("POS_MUSL_BIN_AARCH64 must name the aarch64 musl binary: run `make test`, which builds it first");
    let file = Command::new("file").arg(&bin).output().expect("file(1)");
    let desc = String::from_utf8_lossy(&file.stdout);
    assert!(desc.contains("ARM aarch64") && desc.contains("statically linked"), "{desc}");
    let mut args = vec!["--dry-run"];
    args.extend_from_slice(&REPLAY);
    let mut cmd = Command::new(host_tool("qemu-aarch64-static"));
    cmd.arg(&bin).args(&args).env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let arm = run(cmd, LIMIT);
    assert_eq!(arm.code(), 0, "{}", arm.stderr);
    assert_eq!(arm.stdout, run(producer(&args), LIMIT).stdout, "the same stream as the host build");
}
