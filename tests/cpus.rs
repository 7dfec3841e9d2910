//! Issue 23: TLS and SCRAM on every CPU an edge host has. graviola, the fast provider, needs
//! AES, PCLMULQDQ, AVX, AVX2, BMI1 and ADX (x86_64) or AES, SHA2 and PMULL (aarch64); elsewhere
//! `KAFKA_SSL_PROVIDER=auto` (the default) picks the portable provider (RustCrypto).
//!
//! - The portable provider on this host, forced: SSL (TLS 1.3 and 1.2-only listeners, RSA and
//!   ECDSA broker certificates), mutual TLS and SASL_SSL with SCRAM-SHA-512 on Kafka 4.4 and 3.9,
//!   2,000 events exactly once each, read back with kcat.
//! - The static x86_64 binary under `qemu-x86_64-static -cpu Westmere` (AES-NI, no AVX: an
//!   Atom-class feature set) and `-cpu Nehalem` (no AES-NI either): `auto` picks the portable
//!   provider (ChaCha20-Poly1305 first without AES-NI), and delivers the same way, every
//!   listener; `graviola` forced there ends in one line with exit 2.
//! - The aarch64 binary under `qemu-aarch64-static`: qemu-user has no aarch64 CPU model without
//!   the crypto extensions (every model it offers, cortex-a53 to max, has them), so the portable
//!   provider is forced there, as a Raspberry Pi 4's `auto` would pick it.
//!
//! The brokers are `scripts/kafka-local --secure` ones of this test process.

mod common;

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{Broker, KAFKA_3_9, KAFKA_4, Output, assert_exactly_once, producer, run, unique};

const LIMIT: Duration = Duration::from_secs(300);
const SECRET: &str = "alice-secret";
const FIXED: [&str; 4] = ["--max-events=2000", "--sleep-seconds=0", "--seed=23", "--start-time=2025-01-01T00:00:00Z"];

fn broker(version: &str) -> &'static Broker {
    static B4: OnceLock<Broker> = OnceLock::new();
    static B39: OnceLock<Broker> = OnceLock::new();
    let cell = if version == KAFKA_4 { &B4 } else { &B39 };
    cell.get_or_init(|| Broker::secure(version))
}

/// The events of the fixed run, as the dry run prints them.
fn want() -> &'static [String] {
    static WANT: OnceLock<Vec<String>> = OnceLock::new();
    WANT.get_or_init(|| {
        let out = run(producer(&[&["--dry-run"][..], &FIXED[..]].concat()), LIMIT);
        let values: Vec<String> = out
            .events()
            .iter()
            .filter_map(|l| l.strip_prefix("[producer] Sent transaction: "))
            .map(String::from)
            .collect();
        assert_eq!(values.len(), 2000);
        values
    })
}

/// A way to a secure listener: its name and the producer's variables.
fn ways(b: &Broker) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let ssl = vec![("KAFKA_SECURITY_PROTOCOL", "SSL".to_string()), ("KAFKA_SSL_CA_LOCATION", b.tls_file("ca.pem"))];
    let mtls = [
        ssl.clone(),
        vec![
            ("KAFKA_SSL_CERTIFICATE_LOCATION", b.tls_file("client.pem")),
            ("KAFKA_SSL_KEY_LOCATION", b.tls_file("client.key")),
        ],
    ]
    .concat();
    let scram = vec![
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL".to_string()),
        ("KAFKA_SSL_CA_LOCATION", b.tls_file("ca.pem")),
        ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".into()),
        ("KAFKA_SASL_USERNAME", "alice".into()),
        ("KAFKA_SASL_PASSWORD", SECRET.into()),
    ];
    // SSL also to a TLS 1.2-only listener, and to an ECDSA broker certificate with TLS 1.3 and 1.2.
    vec![
        ("SSL", ssl.clone()),
        ("TLS12", ssl.clone()),
        ("EC", ssl.clone()),
        ("EC_TLS12", ssl),
        ("MTLS", mtls),
        ("SASL_SSL", scram),
    ]
}

/// Runs `cmd` (the producer, perhaps under qemu) to `listener` with `env`, then checks the
/// topic holds the fixed run exactly once and the banner names `provider`.
fn deliver(b: &Broker, mut cmd: Command, listener: &str, env: &[(&str, String)], provider: &str, case: &str) {
    let topic = unique("cpus");
    cmd.arg(format!("--bootstrap-servers={}", b.listener(listener)))
        .arg(format!("--topic={topic}"))
        .arg(format!("--topic-refunds={topic}-r"))
        .arg("--stats-seconds=0")
        .args(FIXED);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{case}: {}", out.stderr);
    let banner = out.stdout.lines().next().unwrap_or_default();
    assert!(banner.contains(&format!(" ssl_provider={provider} ")), "{case}: {banner}");
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET), "{case}: the password was printed");
    assert_exactly_once(&b.addr, &topic, want(), &[]);
}

fn portable_every_way(version: &str) {
    let b = broker(version);
    for (listener, mut env) in ways(b) {
        env.push(("KAFKA_SSL_PROVIDER", "portable".into()));
        let case = format!("portable provider, {listener} on Kafka {version}");
        deliver(b, producer(&[]), listener, &env, "portable", &case);
    }
}

#[test]
fn kafka_4_the_portable_provider_delivers_every_way_exactly_once() {
    portable_every_way(KAFKA_4);
}

#[test]
fn kafka_3_9_the_portable_provider_delivers_every_way_exactly_once() {
    portable_every_way(KAFKA_3_9);
}

/// The static binary of `var` under `qemu`, with `cpu` (or qemu's default model).
fn emulated(qemu: &str, cpu: Option<&str>, var: &str) -> Command {
    let bin = std::env::var(var).unwrap_or_else(|_| panic!("{var} must name a musl binary: run `make test`"));
    let mut cmd = Command::new(qemu);
    if let Some(cpu) = cpu {
        cmd.args(["-cpu", cpu]);
    }
    cmd.arg(bin).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Westmere has AES-NI and no AVX (Atom, Celeron and Pentium Silver have that set); Nehalem has
/// no AES-NI either, so ChaCha20-Poly1305 leads.
#[test]
fn scratch_x86_64_cpus_without_avx_pick_the_portable_provider_and_deliver() {
    for version in [KAFKA_4, KAFKA_3_9] {
        let b = broker(version);
        for (cpu, provider) in [("Westmere", "portable"), ("Nehalem", "portable-chacha20")] {
            for (listener, env) in ways(b) {
                let case = format!("qemu -cpu {cpu}, {listener} on Kafka {version}");
                let cmd = emulated("qemu-x86_64-static", Some(cpu), "POS_MUSL_BIN");
                deliver(b, cmd, listener, &env, provider, &case);
            }
        }
    }
}

#[test]
fn scratch_graviola_forced_on_a_cpu_without_its_features_is_one_line_and_exit_2() {
    let b = broker(KAFKA_4);
    let mut cmd = emulated("qemu-x86_64-static", Some("Westmere"), "POS_MUSL_BIN");
    cmd.arg(format!("--bootstrap-servers={}", b.listener("SSL"))).arg("--max-events=1");
    cmd.env("KAFKA_SECURITY_PROTOCOL", "SSL").env("KAFKA_SSL_PROVIDER", "graviola");
    let out: Output = run(cmd, LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("pos-producer: error: KAFKA_SSL_PROVIDER=graviola needs CPU features this x86_64 machine lacks: avx, avx2, bmi1, adx ("),
        "{last}"
    );
    assert!(
        last.ends_with("set KAFKA_SSL_PROVIDER=auto (or portable) to use the portable provider, which runs on any CPU")
    );
}

#[test]
fn aarch64_the_portable_provider_delivers_under_qemu() {
    for version in [KAFKA_4, KAFKA_3_9] {
        let b = broker(version);
        for (listener, mut env) in ways(b) {
            env.push(("KAFKA_SSL_PROVIDER", "portable".into()));
            let case = format!("qemu-aarch64, {listener} on Kafka {version}");
            let cmd = emulated("qemu-aarch64-static", None, "POS_MUSL_BIN_AARCH64");
            deliver(b, cmd, listener, &env, "portable", &case);
        }
    }
}
