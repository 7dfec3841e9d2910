//! What the deployment files promise, checked without a Docker engine: the Dockerfile's final
//! stage is an empty image running the binary as non-root, and the image and compose defaults
//! are the binary's own.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{producer, root, run};

fn read(name: &str) -> String {
    std::fs::read_to_string(root().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Variable → default, as `--help` lists them.
fn binary_defaults() -> BTreeMap<String, String> {
    let help = run(producer(&["--help"]), Duration::from_secs(10)).stdout;
    help.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (_flag, var) = (words.next()?, words.next()?);
            let default = l.split("[default: ").nth(1)?.strip_suffix(']')?;
            Some((var.to_string(), default.to_string()))
        })
        .collect()
}

/// The Dockerfile's instructions with continuation lines joined, comments dropped.
fn instructions() -> Vec<String> {
    let text = read("Dockerfile").replace("\\\n", " ");
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

#[test]
fn final_stage_is_scratch_with_the_binary_as_non_root_exec_entrypoint() {
    let lines = instructions();
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    assert_eq!(lines[last_from], "FROM scratch");
    let stage = &lines[last_from..];
    // The builder base is a build argument whose default is the official rust alpine image.
    assert!(lines.iter().any(|l| l.starts_with("ARG RUST_IMAGE=rust:") && l.ends_with("-alpine")), "{lines:?}");
    assert!(lines[..last_from].iter().any(|l| l == "FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS build"));
    assert!(stage.iter().any(|l| l == "USER 65532:65532"), "{stage:?}");
    assert!(stage.iter().any(|l| l == r#"ENTRYPOINT ["/pos-producer"]"#), "exec form: {stage:?}");
    let copies: Vec<_> = stage.iter().filter(|l| l.starts_with("COPY")).collect();
    assert_eq!(copies, [&"COPY --from=build /pos-producer /pos-producer".to_string()], "only the binary");
    assert!(stage.iter().any(|l| l.starts_with("LABEL org.opencontainers.image.title=")));
    // The build stage smoke-tests the binary it built.
    assert!(lines[..last_from].iter().any(|l| l.contains("/pos-producer --version")));
}

/// Regressions of issue 12 that a glibc build machine cannot show by building.
#[test]
fn the_build_stage_works_on_a_musl_builder_and_per_platform() {
    // `linker = "rust-lld"` also linked build scripts on a musl host (rust:alpine), where
    // rust-lld finds no -lc; a target rustflag never reaches host artifacts.
    let cargo_config = read(".cargo/config.toml");
    assert!(!cargo_config.lines().any(|l| l.trim_start().starts_with("linker")), "{cargo_config}");
    for target in ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"] {
        let section = cargo_config.split(&format!("[target.{target}]")).nth(1).expect(target);
        assert!(section.contains(r#""-C", "linker=rust-lld""#), "{target}: {section}");
    }
    let lines = instructions();
    // A default would win over BuildKit's automatic per-platform value.
    assert!(lines.iter().any(|l| l == "ARG TARGETARCH"), "bare ARG TARGETARCH: {lines:?}");
    // No frontend image pulled at build time.
    assert!(!read("Dockerfile").lines().any(|l| l.starts_with("# syntax=")), "no # syntax= line");
}

#[test]
fn image_defaults_are_the_old_services_and_the_binarys() {
    let defaults = binary_defaults();
    let env_line = instructions().into_iter().find(|l| l.starts_with("ENV ")).unwrap();
    let mut image = BTreeMap::new();
    for pair in env_line.trim_start_matches("ENV ").split_whitespace() {
        let (k, v) = pair.split_once('=').unwrap();
        image.insert(k.to_string(), v.to_string());
    }
    let old = [
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"),
        ("KAFKA_TOPIC", "transactions"),
        ("KAFKA_TOPIC_REFUNDS", "refunds"),
        ("PRODUCER_SLEEP_SECONDS", "1.0"),
        ("REFUND_PROBABILITY", "0.1"),
    ];
    for (var, value) in old {
        assert_eq!(image.get(var).map(String::as_str), Some(value), "Dockerfile ENV {var}");
        assert_eq!(defaults.get(var).map(String::as_str), Some(value), "binary default {var}");
    }
}

#[test]
fn compose_runs_kafka_4_and_the_producer_against_it() {
    let compose = read("compose.yaml");
    let service = |name: &str| -> String {
        let start = compose.find(&format!("\n  {name}:\n")).unwrap_or_else(|| panic!("service {name}"));
        let body = &compose[start + name.len() + 5..];
        let end = body.find("\n\n  ").unwrap_or(body.len());
        body[..end].to_string()
    };
    let kafka = service("kafka");
    assert!(kafka.contains("image: apache/kafka:4."), "{kafka}");
    assert!(kafka.contains("KAFKA_PROCESS_ROLES: broker,controller"), "KRaft: {kafka}");
    assert!(kafka.contains("PLAINTEXT://kafka:9092"), "reachable as kafka:9092 in the network");
    assert!(kafka.contains("healthcheck:"));
    assert!(
        kafka.contains("\"127.0.0.1:9094:9094\"") && kafka.contains("HOST://localhost:9094"),
        "and from this host only (no authentication): {kafka}"
    );
    assert!(
        kafka.contains("- kafka-data:/var/lib/kafka/data") && kafka.contains("KAFKA_LOG_DIRS: /var/lib/kafka/data")
    );
    assert!(compose.contains("\nvolumes:\n  kafka-data:"), "a named volume for Kafka's data");
    let producer = service("producer");
    assert!(producer.contains("build: ."), "{producer}");
    assert!(producer.contains("pull_policy: build"), "built, never pulled: {producer}");
    for (var, value) in binary_defaults().iter().filter(|(k, _)| {
        [
            "KAFKA_BOOTSTRAP_SERVERS",
            "KAFKA_TOPIC",
            "KAFKA_TOPIC_REFUNDS",
            "PRODUCER_SLEEP_SECONDS",
            "REFUND_PROBABILITY",
        ]
        .contains(&k.as_str())
    }) {
        let plain = format!("{var}: {value}");
        let quoted = format!("{var}: \"{value}\"");
        assert!(producer.contains(&plain) || producer.contains(&quoted), "{var}={value} in {producer}");
    }
}

#[test]
fn dependencies_are_pure_rust_and_not_the_kafka_crate() {
    // kafka-rust speaks only Produce/Metadata v0, which Kafka 4.0 removed; a `-sys` crate would
    // need a C toolchain and break the static musl build.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--locked", "--offline", "--edges", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(root())
        .output()
        .expect("cargo tree");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"kafka-protocol"), "{tree}");
    assert!(!crates.contains(&"kafka"), "the kafka crate is in the tree");
    let sys: Vec<_> = crates.iter().filter(|c| c.ends_with("-sys")).collect();
    assert!(sys.is_empty(), "C libraries in the tree: {sys:?}");
}

#[test]
fn readme_configuration_table_lists_every_variable_and_flag() {
    let readme = read("README.md");
    let help = run(producer(&["--help"]), Duration::from_secs(10)).stdout;
    let mut rows = 0;
    for line in help.lines().filter(|l| l.trim_start().starts_with("--") && l.contains("[default: ")) {
        let mut words = line.split_whitespace();
        let (flag, var) = (words.next().unwrap(), words.next().unwrap());
        if flag.starts_with("--help") || flag.starts_with("--version") {
            continue;
        }
        let row = format!("| `{var}` | `{flag}` |");
        assert!(readme.contains(&row), "README lacks the row {row}");
        rows += 1;
    }
    assert!(rows >= 20, "only {rows} options found in --help");
}
