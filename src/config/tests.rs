use super::*;
use crate::kafka::settings::{Crypto, Mechanism, Protocol};

fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match parse(args.iter().map(|s| s.to_string()), lookup)? {
        Command::Run(c) => Ok(*c),
        other => panic!("expected a run, got {other:?}"),
    }
}

fn err(args: &[&str], env: &[(&str, &str)]) -> String {
    run(args, env).expect_err("should be rejected").to_string()
}

#[test]
fn security_settings_parse_like_the_kafka_client_properties() {
    let c = run(&[], &[]).unwrap();
    assert_eq!((c.kafka.security.protocol, c.kafka.security.sasl.is_none()), (Protocol::Plaintext, true));
    let sasl =
        [("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"), ("KAFKA_SASL_USERNAME", "alice"), ("KAFKA_SASL_PASSWORD", "pw")];
    let c = run(&[], &sasl).unwrap();
    assert_eq!(c.kafka.security.protocol, Protocol::SaslSsl);
    let s = c.kafka.security.sasl.unwrap();
    assert_eq!((s.mechanism, s.username.as_str(), s.password.expose()), (Mechanism::Plain, "alice", "pw"));
    assert_eq!(format!("{:?} {}", s.password, s.password), "*** ***", "never shown");
    let t = c.kafka.security.tls.unwrap();
    assert_eq!((t.ca.is_none(), t.verify_hostname), (true, true), "built-in roots, names checked");
    let c = run(&["--sasl-mechanism=scram-sha-512"], &sasl).unwrap();
    assert_eq!(c.kafka.security.sasl.unwrap().mechanism, Mechanism::ScramSha512);
}

#[test]
fn bad_security_settings_are_one_line_each_and_never_show_the_password() {
    let sasl = [("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"), ("KAFKA_SASL_USERNAME", "alice")];
    assert_eq!(
        err(&["--security-protocol=TLS"], &[]),
        "invalid --security-protocol \"TLS\": expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    );
    assert!(err(&[], &sasl).contains("needs a password: set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"));
    assert!(err(&[], &[("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")]).contains("set KAFKA_SASL_USERNAME"));
    let e = err(&["--sasl-mechanism=GSSAPI", "--sasl-password=hunter2"], &sasl);
    assert_eq!(e, "invalid --sasl-mechanism \"GSSAPI\": expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
    let both = err(&["--sasl-password=hunter2", "--sasl-password-file=/etc/hostname"], &sasl);
    assert!(both.contains("are both set") && !both.contains("hunter2"), "{both}");
    let missing = err(&["--sasl-password-file=/nonexistent"], &sasl);
    assert!(
        missing.starts_with("invalid --sasl-password-file \"/nonexistent\": expected a readable file"),
        "{missing}"
    );
    let unused = err(&["--sasl-username=alice"], &[]);
    assert!(unused.contains("--sasl-username set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"), "{unused}");
    let tls = [("KAFKA_SECURITY_PROTOCOL", "SSL")];
    assert!(err(&["--ssl-certificate-location=/etc/hostname"], &tls).contains("go together"));
    assert!(err(&["--ssl-ca-location=/nonexistent.pem"], &tls).contains("expected a readable PEM file"));
    assert!(err(&["--ssl-endpoint-identification=yes"], &tls).contains("`https` (check the broker's name) or `none`"));
}

#[test]
fn stores_and_key_passwords_parse_like_the_java_client_settings() {
    let tls = [("KAFKA_SECURITY_PROTOCOL", "SSL")];
    let dir = std::env::temp_dir().join(format!("pos-config-stores-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pw_file = dir.join("pw");
    std::fs::write(&pw_file, "from-a-file\r\n").unwrap();
    let pw_arg = format!("--ssl-keystore-password-file={}", pw_file.display());
    let c = run(
        &["--ssl-keystore-location=/etc/hostname", &pw_arg, "--ssl-truststore-location=/etc/hostname"],
        &[("KAFKA_SSL_TRUSTSTORE_PASSWORD", "trust-pw"), ("KAFKA_SSL_KEY_PASSWORD", "key-pw"), tls[0]],
    )
    .unwrap();
    let t = c.kafka.security.tls.unwrap();
    let debug = format!("{t:?}");
    assert!(["from-a-file", "trust-pw", "key-pw"].iter().all(|p| !debug.contains(p)), "{debug}");
    let (ks, ts) = (t.keystore.unwrap(), t.truststore.unwrap());
    assert_eq!(ks.name, "--ssl-keystore-location");
    let (name, secret) = ks.password.unwrap();
    assert_eq!((name.as_str(), secret.expose()), ("--ssl-keystore-password-file", "from-a-file"));
    assert_eq!(ts.password.unwrap().1.expose(), "trust-pw");
    assert_eq!(t.key_password.unwrap().1.expose(), "key-pw");
    std::fs::remove_dir_all(&dir).unwrap();

    let e = err(&["--ssl-ca-location=/etc/hostname", "--ssl-truststore-location=/etc/hostname"], &tls);
    assert!(e.contains("--ssl-ca-location and --ssl-truststore-location are both set: give the CAs to trust"), "{e}");
    let e = err(
        &["--ssl-certificate-location=/etc/hostname", "--ssl-key-location=/etc/hostname"],
        &[tls[0], ("KAFKA_SSL_KEYSTORE_LOCATION", "/etc/hostname")],
    );
    assert!(e.contains("and KAFKA_SSL_KEYSTORE_LOCATION are both set: give the client's certificate and key"), "{e}");
    let e = err(&["--ssl-keystore-password=hunter2"], &tls);
    assert!(e.contains("--ssl-keystore-password is set, but KAFKA_SSL_KEYSTORE_LOCATION is not"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let e = err(&["--ssl-truststore-password=a", "--ssl-truststore-password-file=/etc/hostname"], &tls);
    assert!(e.contains("are both set: give the password one way"), "{e}");
    let e = err(&["--ssl-key-password=hunter2"], &tls);
    assert!(e.contains("--ssl-key-password is set, but there is no key to open"), "{e}");
    let e = err(&["--ssl-keystore-location=/nonexistent.p12"], &tls);
    assert!(e.contains("expected a readable PKCS#12 file"), "{e}");
    let c = run(&["--ssl-provider=Portable"], &tls).unwrap();
    assert_eq!(c.kafka.security.tls.unwrap().crypto, Crypto::Portable);
    assert_eq!(run(&[], &tls).unwrap().kafka.security.tls.unwrap().crypto, Crypto::Auto);
    let e = err(&["--ssl-provider=ring"], &tls);
    assert_eq!(e, "invalid --ssl-provider \"ring\": expected auto, graviola or portable");
    let e = err(&["--ssl-truststore-location=/etc/hostname"], &[]);
    assert!(e.contains("--ssl-truststore-location set, but KAFKA_SECURITY_PROTOCOL is PLAINTEXT"), "{e}");
}

#[test]
fn in_flight_batch_size_stores_and_truth_settings_have_defaults_and_bounds() {
    let c = run(&[], &[]).unwrap();
    assert_eq!((c.kafka.max_in_flight, c.kafka.batch_size), (5, 65_536));
    assert_eq!(c.kafka.linger, Duration::from_millis(5), "Java 4.x's and librdkafka's default");
    assert_eq!(run(&["--linger-ms=0"], &[]).unwrap().kafka.linger, Duration::ZERO);
    assert!(err(&["--linger-ms=1001"], &[]).contains("a whole number of milliseconds from 0 to 1000"));
    assert_eq!((c.headers, c.truth_file.as_ref(), c.truth_window_seconds), (true, None, 60));
    assert!(c.stores.is_empty(), "all stores");
    let c = run(&["--max-in-flight=1", "--batch-size=1", "--stores=store-003, STORE-001"], &[]).unwrap();
    assert_eq!((c.kafka.max_in_flight, c.kafka.batch_size), (1, 1));
    assert_eq!(c.stores, ["STORE-003", "STORE-001"]);
    let c = run(&[], &[("KAFKA_MAX_IN_FLIGHT", "3"), ("PRODUCER_HEADERS", "false")]).unwrap();
    assert_eq!((c.kafka.max_in_flight, c.headers), (3, false));
    assert_eq!(
        err(&["--max-in-flight=6"], &[]),
        "invalid --max-in-flight \"6\": expected a whole number of requests from 1 to 5"
    );
    assert_eq!(
        err(&[], &[("KAFKA_BATCH_SIZE", "0")]),
        "invalid KAFKA_BATCH_SIZE \"0\": expected a whole number of bytes from 1 to 1073741824"
    );
    assert!(err(&["--stores=STORE-001,"], &[]).contains("a comma list of different store ids"));
    assert!(err(&["--truth-window-seconds=86401"], &[]).contains("from 1 to 86400"));
}

#[test]
fn rate_profile_and_faults_have_defaults_and_bounds() {
    let c = run(&[], &[]).unwrap();
    assert_eq!(c.rate_profile, RateProfile::Flat);
    assert_eq!(c.faults, Faults { late: 0.0, late_seconds: 300.0, duplicate: 0.0, malformed: 0.0, out_of_order: 0.0 });
    assert_eq!(c.truth_watermark_seconds, 120);
    let c = run(
        &["--rate-profile=retail-day", "--late-probability=0.1", "--late-seconds=90"],
        &[
            ("PRODUCER_DUPLICATE_PROBABILITY", "0.2"),
            ("PRODUCER_MALFORMED_PROBABILITY", "0.3"),
            ("PRODUCER_OUT_OF_ORDER_PROBABILITY", "1"),
            ("PRODUCER_TRUTH_WATERMARK_SECONDS", "0"),
        ],
    )
    .unwrap();
    assert_eq!(c.rate_profile, RateProfile::RetailDay);
    assert_eq!(c.faults, Faults { late: 0.1, late_seconds: 90.0, duplicate: 0.2, malformed: 0.3, out_of_order: 1.0 });
    assert_eq!(c.truth_watermark_seconds, 0);
    assert_eq!(
        err(&["--rate-profile=weekly"], &[]),
        "invalid --rate-profile \"weekly\": expected `flat` or `retail-day`"
    );
    assert!(err(&["--rate-profile=retail-day", "--sleep-seconds=0"], &[]).contains("needs PRODUCER_SLEEP_SECONDS > 0"));
    assert_eq!(
        err(&[], &[("PRODUCER_MALFORMED_PROBABILITY", "1.5")]),
        "invalid PRODUCER_MALFORMED_PROBABILITY \"1.5\": expected a probability from 0 to 1"
    );
    assert!(err(&["--late-seconds=-1"], &[]).contains("--late-seconds"));
    assert!(err(&["--truth-watermark-seconds=86401"], &[]).contains("from 0 to 86400"));
}

#[test]
fn create_topics_takes_a_replication_factor_and_excludes_a_dry_run() {
    let c = run(&["--create-topics", "--topic-replication-factor=3"], &[]).unwrap();
    assert!(c.create_topics);
    assert_eq!(c.kafka.topic_replication, Some(3));
    assert_eq!(run(&[], &[]).unwrap().kafka.topic_replication, None);
    assert!(err(&["--topic-replication-factor=0"], &[]).contains("a whole number of replicas from 1"));
    assert!(err(&["--create-topics", "--dry-run"], &[]).contains("exclude each other"));
}

#[test]
fn the_password_file_loses_its_trailing_newline_only() {
    let dir = std::env::temp_dir().join(format!("pos-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("password");
    std::fs::write(&file, " two words \n").unwrap();
    let env = [
        ("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
        ("KAFKA_SASL_USERNAME", "alice"),
        ("KAFKA_SASL_PASSWORD_FILE", file.to_str().unwrap()),
    ];
    let c = run(&[], &env).unwrap();
    assert_eq!(c.kafka.security.sasl.unwrap().password.expose(), " two words ");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_request_timeout_longer_than_the_delivery_timeout_is_cut_to_it_with_a_warning() {
    let c = run(&[], &[("KAFKA_DELIVERY_TIMEOUT_MS", "5000")]).unwrap();
    assert_eq!(c.kafka.request_timeout, Duration::from_millis(5000));
    assert_eq!(
        c.warnings,
        ["KAFKA_REQUEST_TIMEOUT_MS 30000 is longer than KAFKA_DELIVERY_TIMEOUT_MS 5000: requests wait at most 5000 ms"]
    );
    let c = run(&["--request-timeout-ms=2000"], &[("KAFKA_DELIVERY_TIMEOUT_MS", "5000")]).unwrap();
    assert_eq!(c.kafka.request_timeout, Duration::from_millis(2000));
    assert!(c.warnings.is_empty());
    assert!(run(&[], &[]).unwrap().warnings.is_empty());
}

#[test]
fn misspelt_variables_get_a_warning_with_the_closest_name() {
    let names = ["PRODUCER_SLEEP_SECOND", "KAFKA_BOOTSTRAP_SERVER", "PRODUCER_SEED", "HOME", "KAFKA_HEAP_OPTS"];
    assert_eq!(
        unknown_variables(names.iter().map(|s| s.to_string())),
        [
            "unknown variable KAFKA_BOOTSTRAP_SERVER is ignored; did you mean KAFKA_BOOTSTRAP_SERVERS? (see --help)",
            "unknown variable KAFKA_HEAP_OPTS is ignored (see --help for the variables pos-producer reads)",
            "unknown variable PRODUCER_SLEEP_SECOND is ignored; did you mean PRODUCER_SLEEP_SECONDS? (see --help)",
        ]
    );
}

#[test]
fn defaults_are_the_old_services() {
    let c = run(&[], &[]).unwrap();
    assert_eq!(c.kafka.bootstrap_servers, ["kafka:9092"]);
    assert_eq!((c.topic.as_str(), c.topic_refunds.as_str()), ("transactions", "refunds"));
    assert_eq!(c.sleep_seconds, 1.0);
    assert_eq!(c.refund_probability, 0.1);
    assert_eq!(c.interval(), Duration::from_secs(1));
    assert!(!c.simulated_time() && c.log_events && !c.dry_run);
    assert_eq!(c.stats_every, Some(Duration::from_secs(10)));
    assert_eq!((c.max_events, c.max_duration, c.seed), (None, None, None));
    assert_eq!((c.kafka.acks, c.kafka.idempotence), (Acks::All, true));
    assert_eq!(c.kafka.delivery_timeout, Duration::from_secs(120));
    assert_eq!((c.kafka.compression, c.kafka.client_id.as_str()), (Compression::None, "pos-producer"));
}

#[test]
fn id_start_and_instance_parse_and_bad_values_are_refused() {
    let c = run(&[], &[]).unwrap();
    assert_eq!((c.id_start, c.instance), (IdStart::Resume, Instance::ONLY));
    let c = run(&["--id-start=5001", "--instance", "2/3"], &[]).unwrap();
    assert_eq!((c.id_start, c.instance), (IdStart::From(5001), Instance { k: 2, n: 3 }));
    let c = run(&[], &[("PRODUCER_ID_START", "RESUME"), ("PRODUCER_INSTANCE", "3/3")]).unwrap();
    assert_eq!((c.id_start, c.instance), (IdStart::Resume, Instance { k: 3, n: 3 }));
    for bad in ["0/3", "4/3", "x", "1/0", "1", "-1/3", "1/3/5", ""] {
        let e = err(&[], &[("PRODUCER_INSTANCE", bad)]);
        assert!(e.starts_with(&format!("invalid PRODUCER_INSTANCE {bad:?}: expected k/n")), "{e}");
    }
    for bad in ["0", "-5", "next", "1.5", "9007199254740992"] {
        let e = err(&[&format!("--id-start={bad}")], &[]);
        assert!(e.starts_with(&format!("invalid --id-start {bad:?}: expected `resume` or")), "{e}");
    }
}

/// Kubernetes: a StatefulSet names its pods NAME-0 … NAME-(r−1), and `ordinal/n` makes pod
/// NAME-N instance N+1 of n, so one manifest serves every replica.
#[test]
fn ordinal_takes_the_instance_from_a_statefulset_pods_name() {
    let ordinal = |pod: &[(&str, &str)]| {
        let mut env = vec![("PRODUCER_INSTANCE", "ordinal/3")];
        env.extend_from_slice(pod);
        run(&[], &env)
    };
    assert_eq!(ordinal(&[("HOSTNAME", "pos-producer-0")]).unwrap().instance, Instance { k: 1, n: 3 });
    assert_eq!(ordinal(&[("HOSTNAME", "pos-producer-2")]).unwrap().instance, Instance { k: 3, n: 3 });
    // POD_NAME (the downward API) wins over HOSTNAME; the default transactional id follows k.
    let c = ordinal(&[("POD_NAME", "pos-1"), ("HOSTNAME", "node-7")]).unwrap();
    assert_eq!(c.instance, Instance { k: 2, n: 3 });
    assert_eq!(c.kafka.transactions.unwrap().id, "pos-producer:transactions:2/3");
    let c = run(&["--instance=ordinal/1"], &[("HOSTNAME", "edge-store-0")]).unwrap();
    assert_eq!(c.instance, Instance { k: 1, n: 1 });
    assert_eq!(
        ordinal(&[("HOSTNAME", "pos-producer")]).unwrap_err().to_string(),
        "invalid PRODUCER_INSTANCE \"ordinal/3\": the ordinal comes from the pod's name, and HOSTNAME \
         \"pos-producer\" does not end in -N (a StatefulSet names its pods NAME-0, NAME-1, …)"
    );
    for name in ["pos-producer-x", "pos-producer-", "pos-producer-+1", "pos-producer-1a", "0"] {
        let e = ordinal(&[("HOSTNAME", name)]).unwrap_err().to_string();
        assert!(e.contains("does not end in -N"), "{name}: {e}");
    }
    assert_eq!(
        ordinal(&[("POD_NAME", "pos-producer-3")]).unwrap_err().to_string(),
        "invalid PRODUCER_INSTANCE \"ordinal/3\": POD_NAME \"pos-producer-3\" is ordinal 3, and 3 instances take \
         ordinals 0 to 2: scale the StatefulSet to at most 3 replicas, or raise n"
    );
    assert_eq!(
        err(&["--instance=ordinal/3"], &[("HOSTNAME", "")]),
        "invalid --instance \"ordinal/3\": ordinal/n needs the pod's name in POD_NAME or HOSTNAME, and neither is set"
    );
    for bad in ["ordinal/0", "ordinal/x", "ordinal", "ordinal/65536"] {
        let e = err(&[], &[("PRODUCER_INSTANCE", bad), ("HOSTNAME", "p-0")]);
        assert!(e.starts_with(&format!("invalid PRODUCER_INSTANCE {bad:?}: expected k/n")), "{e}");
    }
}

#[test]
fn an_instance_owns_every_nth_id() {
    let i = Instance { k: 2, n: 3 };
    assert_eq!((1..=9).filter(|id| i.owns(*id)).collect::<Vec<_>>(), [2, 5, 8]);
    assert_eq!((i.first_from(1), i.first_from(5), i.first_from(6)), (Some(2), Some(5), Some(8)));
    assert_eq!((i.after(0), i.after(2), i.after(4)), (Some(2), Some(5), Some(5)));
    let last = Instance { k: 3, n: 3 };
    assert_eq!(
        (last.owns(3), last.owns(6), last.owns(0), last.after(0), last.after(3)),
        (true, true, false, Some(3), Some(6))
    );
    assert_eq!(
        (Instance::ONLY.after(0), Instance::ONLY.after(41), Instance::ONLY.first_from(7)),
        (Some(1), Some(42), Some(7))
    );
    assert_eq!(Instance { k: 2, n: 2 }.first_from(u64::MAX), None);
}

#[test]
fn flags_beat_variables_in_both_forms() {
    let env = [("KAFKA_TOPIC", "from-env"), ("PRODUCER_SLEEP_SECONDS", "5")];
    let c = run(&["--topic=from-flag", "--sleep-seconds", "0.5", "--dry-run"], &env).unwrap();
    assert_eq!(c.topic, "from-flag");
    assert_eq!(c.sleep_seconds, 0.5);
    assert!(c.dry_run);
    let c = run(&[], &env).unwrap();
    assert_eq!((c.topic.as_str(), c.sleep_seconds), ("from-env", 5.0));
}

#[test]
fn new_options_parse() {
    let env = [
        ("PRODUCER_SEED", "42"),
        ("PRODUCER_START_TIME", "2025-01-01T00:00:00Z"),
        ("PRODUCER_SPEEDUP", "max"),
        ("PRODUCER_MAX_EVENTS", "86400"),
        ("PRODUCER_MAX_SECONDS", "2.5"),
        ("PRODUCER_LOG_EVENTS", "false"),
        ("PRODUCER_STATS_SECONDS", "0"),
        ("KAFKA_ACKS", "1"),
        ("KAFKA_COMPRESSION", "snappy"),
        ("KAFKA_TOPIC_PARTITIONS", "6"),
        ("KAFKA_BOOTSTRAP_SERVERS", "a:1, b:2,[::1]:9092"),
    ];
    let c = run(&[], &env).unwrap();
    assert_eq!(c.seed, Some(42));
    assert_eq!(c.start_time_ms, Some(1_735_689_600_000));
    assert_eq!(c.speedup, Speedup::Max);
    assert_eq!(c.interval(), Duration::ZERO);
    assert!(c.simulated_time());
    assert_eq!(c.max_events, Some(86_400));
    assert_eq!(c.max_duration, Some(Duration::from_millis(2500)));
    assert!(!c.log_events);
    assert_eq!(c.stats_every, None);
    assert_eq!(c.kafka.acks, Acks::Leader);
    assert!(!c.kafka.idempotence, "idempotence quietly off with acks=1 unless asked for");
    assert_eq!(c.kafka.compression, Compression::Snappy);
    assert_eq!(c.kafka.topic_partitions, Some(6));
    assert_eq!(c.kafka.bootstrap_servers, ["a:1", "b:2", "[::1]:9092"]);
    let c = run(&["--speedup=4", "--sleep-seconds=2"], &[]).unwrap();
    assert_eq!(c.interval(), Duration::from_millis(500));
    assert!(c.simulated_time(), "a speedup needs a simulated clock");
}

#[test]
fn bad_numbers_name_the_variable_the_value_and_what_is_allowed() {
    for bad in ["abc", "-1", "NaN", "inf", "-inf", "", "1e99"] {
        assert_eq!(
            err(&[], &[("PRODUCER_SLEEP_SECONDS", bad)]),
            format!("invalid PRODUCER_SLEEP_SECONDS {bad:?}: expected a number of seconds from 0 to 31536000")
        );
    }
    for bad in ["1.5", "-0.1", "NaN", "x"] {
        assert_eq!(
            err(&[], &[("REFUND_PROBABILITY", bad)]),
            format!("invalid REFUND_PROBABILITY {bad:?}: expected a probability from 0 to 1")
        );
    }
    assert_eq!(
        err(&["--refund-probability=2"], &[]),
        "invalid --refund-probability \"2\": expected a probability from 0 to 1"
    );
    for (var, bad) in [
        ("PRODUCER_MAX_EVENTS", "-5"),
        ("PRODUCER_MAX_EVENTS", "1.5"),
        ("PRODUCER_SEED", "-1"),
        ("PRODUCER_SEED", "seed"),
        ("PRODUCER_SEED", "18446744073709551616"),
    ] {
        assert!(err(&[], &[(var, bad)]).starts_with(&format!("invalid {var} {bad:?}: expected a whole number")));
    }
    for bad in ["0", "-2", "fast", "NaN"] {
        assert!(err(&[], &[("PRODUCER_SPEEDUP", bad)]).contains("expected a number > 0 (times real time) or `max`"));
    }
    for bad in ["0", "-1", "1.5", "3000000000"] {
        assert!(err(&[], &[("KAFKA_DELIVERY_TIMEOUT_MS", bad)]).contains("milliseconds"));
    }
    assert!(err(&[], &[("KAFKA_TOPIC_PARTITIONS", "0")]).contains("partitions"));
}

#[test]
fn bad_topics_are_rejected() {
    for bad in ["", ".", "..", "has space", "slash/no", "ü", &"x".repeat(250)] {
        let msg = err(&[], &[("KAFKA_TOPIC", bad)]);
        assert!(msg.starts_with("invalid KAFKA_TOPIC"), "{msg}");
        assert!(msg.contains("[a-zA-Z0-9._-]"), "{msg}");
    }
    assert!(run(&[], &[("KAFKA_TOPIC", &"x".repeat(249))]).is_ok());
    assert!(run(&["--topic=pos.tx-v1_a"], &[]).is_ok());
    assert!(err(&["--topic-refunds=a", "--topic=a"], &[]).contains("need two different topics"));
}

#[test]
fn bad_bootstrap_entries_are_rejected() {
    for bad in ["kafka", "kafka:", "kafka:0", "kafka:65536", ":9092", "a:1,", "a:1,,b:2", "", "k:x"] {
        let msg = err(&[], &[("KAFKA_BOOTSTRAP_SERVERS", bad)]);
        assert!(msg.starts_with(&format!("invalid KAFKA_BOOTSTRAP_SERVERS {bad:?}: expected a comma list")), "{msg}");
    }
}

#[test]
fn bad_times_booleans_and_enums() {
    assert_eq!(
        err(&[], &[("PRODUCER_START_TIME", "2025-01-01 00:00:00")]),
        "invalid PRODUCER_START_TIME \"2025-01-01 00:00:00\": expected an RFC 3339 time such as 2025-01-01T00:00:00Z"
    );
    for bad in ["yes", "TRUEISH", "2", ""] {
        assert_eq!(
            err(&[], &[("PRODUCER_DRY_RUN", bad)]),
            format!("invalid PRODUCER_DRY_RUN {bad:?}: expected true, false, 1 or 0")
        );
    }
    assert!(run(&["--dry-run=TRUE"], &[]).unwrap().dry_run);
    assert!(!run(&["--dry-run=0"], &[]).unwrap().dry_run);
    assert!(err(&[], &[("KAFKA_ACKS", "2")]).contains("expected all, -1, 1 or 0"));
    assert!(err(&[], &[("KAFKA_COMPRESSION", "brotli")]).contains("expected none, gzip, snappy, lz4 or zstd"));
    assert!(err(&[], &[("KAFKA_CLIENT_ID", "a b")]).contains("KAFKA_CLIENT_ID"));
    assert_eq!(
        err(&[], &[("KAFKA_PROTOCOL_CAP", "0.8")]),
        "invalid KAFKA_PROTOCOL_CAP \"0.8\": expected `2.1` (the only cap known), or unset"
    );
    assert_eq!(run(&["--protocol-cap=2.1"], &[]).unwrap().kafka.protocol_cap, Some(ProtocolCap::Kafka2_1));
    assert_eq!(run(&[], &[]).unwrap().kafka.protocol_cap, None);
}

#[test]
fn idempotence_asked_for_with_weak_acks_is_a_conflict() {
    let msg = err(&[], &[("KAFKA_IDEMPOTENCE", "true"), ("KAFKA_ACKS", "0")]);
    assert_eq!(
        msg,
        "KAFKA_IDEMPOTENCE=true needs acks=all, but KAFKA_ACKS is \"0\"; set KAFKA_IDEMPOTENCE=false to use weaker acks"
    );
    let c = run(&[], &[("KAFKA_IDEMPOTENCE", "false"), ("KAFKA_ACKS", "0")]).unwrap();
    assert_eq!((c.kafka.acks, c.kafka.idempotence), (Acks::None, false));
}

#[test]
fn unknown_flags_suggest_the_closest() {
    assert_eq!(
        err(&["--sleep-second=1"], &[]),
        "unknown flag --sleep-second; did you mean --sleep-seconds? (see --help)"
    );
    assert_eq!(err(&["--dryrun"], &[]), "unknown flag --dryrun; did you mean --dry-run? (see --help)");
    assert_eq!(err(&["--zzzzzzzzzzzzzzzzzzzzzz"], &[]), "unknown flag --zzzzzzzzzzzzzzzzzzzzzz (see --help)");
    assert_eq!(err(&["--topic"], &[]), "flag --topic needs a value (see --help)");
    assert!(err(&["stray"], &[]).starts_with("unexpected argument \"stray\""));
}

#[test]
fn help_lists_every_flag_variable_and_default() {
    let h = help();
    for o in OPTIONS {
        assert!(h.contains(&format!("--{}", o.flag)) && h.contains(o.env), "{}", o.flag);
    }
    assert!(h.contains("[default: kafka:9092]") && h.contains("[default: 0.1]"));
    let none = |_: &str| None;
    assert!(matches!(parse(["--help".to_string()], none), Ok(Command::Help)));
    assert!(matches!(parse(["-V".to_string()], none), Ok(Command::Version)));
}
