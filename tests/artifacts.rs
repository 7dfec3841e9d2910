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
fn the_configuration_page_lists_every_variable_and_flag() {
    let readme = read("docs/configuration.md");
    let help = run(producer(&["--help"]), Duration::from_secs(10)).stdout;
    let mut rows = 0;
    for line in help.lines().filter(|l| l.trim_start().starts_with("--") && l.contains("[default: ")) {
        let mut words = line.split_whitespace();
        let (flag, var) = (words.next().unwrap(), words.next().unwrap());
        if flag.starts_with("--help") || flag.starts_with("--version") {
            continue;
        }
        let row = format!("| `{var}` | `{flag}` |");
        assert!(readme.contains(&row), "docs/configuration.md lacks the row {row}");
        rows += 1;
    }
    assert!(rows >= 20, "only {rows} options found in --help");
}

/// Every Markdown file a reader can open from the README: the README itself, CONTRIBUTING,
/// CHANGELOG and docs/.
fn documents() -> Vec<String> {
    let mut names: Vec<String> = ["README.md", "CONTRIBUTING.md", "CHANGELOG.md"].map(String::from).to_vec();
    for entry in std::fs::read_dir(root().join("docs")).expect("docs/") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            names.push(format!("docs/{name}"));
        }
    }
    names.sort();
    names
}

/// A heading's anchor as GitHub makes it: lower case, spaces to hyphens, punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks).
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// Links within the repository (`](path#anchor)`, `](#anchor)`) lead to a file that exists and
/// a heading it has: the README and docs/ were split, and a moved section must not leave a
/// dead link behind.
#[test]
fn every_link_between_the_documents_leads_somewhere() {
    let mut checked = 0;
    for name in documents() {
        let text = read(&name);
        let dir = std::path::Path::new(&name).parent().unwrap().to_path_buf();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap_or(0)];
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let file = if path.is_empty() { std::path::PathBuf::from(&name) } else { dir.join(path) };
            let full = root().join(&file);
            assert!(full.exists(), "{name}: the link ({target}) leads to {} which does not exist", file.display());
            if !anchor.is_empty() {
                let there = std::fs::read_to_string(&full).unwrap();
                assert!(
                    anchors(&there).iter().any(|a| a == anchor),
                    "{name}: the link ({target}) names a heading {} does not have",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} links found");
}

/// The README is for users (issue "the house"): short, every docs/ page one click away, and the
/// full configuration table one more.
#[test]
fn the_readme_is_short_and_leads_to_every_page_of_the_docs() {
    let readme = read("README.md");
    assert!(readme.len() <= 15_000, "README.md is {} bytes; depth belongs in docs/", readme.len());
    for name in documents().iter().filter(|n| *n != "README.md") {
        assert!(readme.contains(&format!("]({name})")), "README.md does not link {name}");
    }
}

/// `--version`, Cargo.toml, the image's version label and the changelog's newest release say
/// the same version.
#[test]
fn the_version_is_the_same_in_the_binary_the_image_and_the_changelog() {
    let version = run(producer(&["--version"]), Duration::from_secs(10)).stdout;
    let version = version.trim().strip_prefix("pos-producer ").expect("pos-producer VERSION").to_string();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let arg = instructions()
        .into_iter()
        .find_map(|l| l.strip_prefix("ARG VERSION=").map(String::from))
        .expect("Dockerfile: ARG VERSION=");
    assert_eq!(arg, version, "Dockerfile's ARG VERSION");
    let changelog = read("CHANGELOG.md");
    let newest = changelog
        .lines()
        .filter_map(|l| l.strip_prefix("## ["))
        .find(|l| !l.starts_with("Unreleased"))
        .and_then(|l| l.split(']').next())
        .expect("CHANGELOG.md: a release heading ## [X.Y.Z]");
    assert_eq!(newest, version, "CHANGELOG.md's newest release");
}

/// The layers import only downward: the Kafka client owns its settings and knows nothing of
/// the application (only `diag` and `shutdown`), and the simulator imports nothing of the crate.
#[test]
fn the_kafka_client_and_the_simulator_import_only_what_their_layer_may() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    for (layer, allowed) in [("kafka", &["kafka", "diag", "shutdown"][..]), ("sim", &["sim"][..])] {
        let mut files = Vec::new();
        sources(&root().join("src").join(layer), &mut files);
        let mut seen = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for (i, _) in text.match_indices("crate::") {
                let name: String = text[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                assert!(
                    allowed.contains(&name.as_str()),
                    "{} imports crate::{name}{}; src/{layer} may import only {allowed:?}",
                    file.display(),
                    if name.is_empty() { "{…}" } else { "" }
                );
                seen += 1;
            }
        }
        assert!(seen > 0 || layer == "sim", "no crate:: path found under src/{layer}");
    }
}

/// A broker's listeners get their ports from `kafka-local ports`; asked one at a time, the kernel
/// once gave two listeners of one node the same port and the broker refused to format (CI); a
/// port drawn from the ephemeral range can be taken by a client's outgoing connection, and two
/// runs side by side could draw the same one.
#[test]
fn the_local_brokers_ports_are_distinct_and_avoid_the_ones_taken() {
    let dir = std::env::temp_dir().join(format!("pos-ports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ports = |registry: &str, taken: &[String]| -> Vec<String> {
        let out = std::process::Command::new(root().join("scripts/kafka-local"))
            .arg("ports")
            .arg("400")
            .args(taken)
            .env("KAFKA_LOCAL_PORTS", dir.join(registry))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let ports: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
        assert!(ports.iter().all(|p| p.parse::<u16>().is_ok()), "not all ports: {ports:?}");
        assert_eq!(ports.len(), 400);
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), 400, "a port was handed out twice");
        ports
    };
    let repeated = |a: &[String], b: &[String]| b.iter().filter(|p| a.contains(p)).cloned().collect::<Vec<_>>();
    // Below the ephemeral range, where no outgoing connection takes a source port.
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let ephemeral: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    let first = ports("a", &[]);
    assert!(first.iter().all(|p| p.parse::<u16>().unwrap() < ephemeral), "{first:?} (ephemeral from {ephemeral})");
    // Taken ones are never handed out (a registry of its own: only "taken" can keep them out).
    let second = ports("b", &first);
    assert!(repeated(&first, &second).is_empty(), "ports given as taken were handed out");
    // Nor, for an hour, one handed out before, by this run or one beside it (the same registry).
    let third = ports("a", &[]);
    assert!(repeated(&first, &third).is_empty(), "ports handed out before were handed out again");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `make bench`'s paced rows measure about 0.1 s of CPU per run: GNU time's hundredths made that
/// a 10 % step, so `scripts/rusage` reports microseconds, and the command's exit status.
#[test]
fn the_bench_measures_cpu_in_microseconds_and_keeps_the_exit_status() {
    let out = std::env::temp_dir().join(format!("pos-rusage-{}", std::process::id()));
    // Some CPU (a busy loop of about 30 ms), a sleep, and a status of its own.
    let status = std::process::Command::new(root().join("scripts/rusage"))
        .arg(&out)
        .args(["python3", "-c", "import time, sys\nt = time.process_time()\nwhile time.process_time() - t < 0.03: pass\ntime.sleep(0.2)\nsys.exit(3)"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let line = std::fs::read_to_string(&out).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.len(), 5, "elapsed user system rss switches: {line:?}");
    let (elapsed, user, system): (f64, f64, f64) =
        (fields[0].parse().unwrap(), fields[1].parse().unwrap(), fields[2].parse().unwrap());
    assert!(elapsed >= 0.2, "{line:?}");
    assert!(user + system >= 0.03, "{line:?}");
    assert_eq!(fields[1].split('.').nth(1).map(str::len), Some(6), "microseconds: {line:?}");
    assert!(fields[3].parse::<u64>().unwrap() > 0 && fields[4].parse::<u64>().is_ok(), "{line:?}");
    // Killed by a signal: 128 + its number, as a shell says.
    let killed = std::process::Command::new(root().join("scripts/rusage"))
        .arg(&out)
        .args(["sh", "-c", "kill -TERM $$"])
        .status()
        .unwrap();
    assert_eq!(killed.code(), Some(128 + 15));
    let _ = std::fs::remove_file(&out);
}
