//! The option table: every flag with its variable, default and help, in the order `--help`
//! lists them; the help text; and the names closest to a misspelt flag or variable.

/// One option of the command line and environment.
pub(super) struct Opt {
    pub(super) flag: &'static str,
    pub(super) env: &'static str,
    pub(super) default: &'static str,
    /// A switch may be given bare (`--dry-run`), meaning `true`.
    pub(super) switch: bool,
    help: &'static str,
}

const fn opt(flag: &'static str, env: &'static str, default: &'static str, help: &'static str) -> Opt {
    Opt { flag, env, default, switch: false, help }
}

const fn switch(flag: &'static str, env: &'static str, default: &'static str, help: &'static str) -> Opt {
    Opt { flag, env, default, switch: true, help }
}

/// Every option, in the order `--help` lists them. An empty default means "unset".
pub(super) const OPTIONS: &[Opt] = &[
    opt("bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", "kafka:9092", "comma list of host:port brokers to start from"),
    opt("topic", "KAFKA_TOPIC", "transactions", "topic for transactions"),
    opt("topic-refunds", "KAFKA_TOPIC_REFUNDS", "refunds", "topic for refunds"),
    opt("sleep-seconds", "PRODUCER_SLEEP_SECONDS", "1.0", "seconds between transactions (0 = as fast as possible)"),
    opt(
        "refund-probability",
        "REFUND_PROBABILITY",
        "0.1",
        "chance in [0, 1] that a transaction is followed by a refund",
    ),
    opt("seed", "PRODUCER_SEED", "", "random seed (u64) that makes a run reproducible; unset: random, printed"),
    opt(
        "id-start",
        "PRODUCER_ID_START",
        "resume",
        "first transaction and refund id: `resume` (after the highest in the topics; 1 in a dry run) or N ≥ 1",
    ),
    opt(
        "stores",
        "PRODUCER_STORES",
        "all",
        "the stores this instance sells for: `all`, or a comma list such as STORE-001,STORE-003",
    ),
    opt(
        "instance",
        "PRODUCER_INSTANCE",
        "1/1",
        "this producer is instance k of n (`k/n`): its ids are k, k+n, k+2n, … so instances never collide; \
         `ordinal/n`: k from a StatefulSet pod's name (POD_NAME or HOSTNAME, NAME-0 is 1/n)",
    ),
    opt(
        "start-time",
        "PRODUCER_START_TIME",
        "",
        "simulated time: RFC 3339 start of the clock (transaction 1's time when flat); unset: wall clock",
    ),
    opt("speedup", "PRODUCER_SPEEDUP", "1", "run the simulated clock N times faster than real time, or `max`"),
    opt(
        "rate-profile",
        "PRODUCER_RATE_PROFILE",
        "flat",
        "`flat` (one sale every sleep-seconds) or `retail-day` (random arrivals following store hours, same mean)",
    ),
    opt("max-events", "PRODUCER_MAX_EVENTS", "0", "stop after N transactions and their refunds (0 = no limit)"),
    opt("max-seconds", "PRODUCER_MAX_SECONDS", "0", "stop after S seconds of wall time (0 = no limit)"),
    switch("log-events", "PRODUCER_LOG_EVENTS", "true", "print a `[producer] Sent ...` line per event on stdout"),
    opt("stats-seconds", "PRODUCER_STATS_SECONDS", "10", "seconds between stats lines on stderr (0 = off)"),
    switch("dry-run", "PRODUCER_DRY_RUN", "false", "generate and print events, send nothing"),
    switch(
        "headers",
        "PRODUCER_HEADERS",
        "true",
        "record headers event_type, schema_version, producer and content-type on every record",
    ),
    opt(
        "truth-file",
        "PRODUCER_TRUTH_FILE",
        "",
        "JSON file of what the broker acknowledged (totals, per product, store, reason, window), rewritten each stats period",
    ),
    opt(
        "truth-window-seconds",
        "PRODUCER_TRUTH_WINDOW_SECONDS",
        "60",
        "width of the truth file's event-time windows, in whole seconds (1 to 86400)",
    ),
    opt(
        "truth-watermark-seconds",
        "PRODUCER_TRUTH_WATERMARK_SECONDS",
        "120",
        "the watermark of the truth file's `windows_kept` (what a correct windowed sink keeps), 0 to 86400",
    ),
    opt(
        "metrics-addr",
        "PRODUCER_METRICS_ADDR",
        "",
        "serve /metrics (Prometheus), /healthz and /readyz over HTTP on this ip:port (`:9464`: every address); unset: off",
    ),
    opt(
        "late-probability",
        "PRODUCER_LATE_PROBABILITY",
        "0",
        "fault: chance per event that it is stamped late-seconds in the past (header pos-fault: late)",
    ),
    opt("late-seconds", "PRODUCER_LATE_SECONDS", "300", "how far in the past a late event is stamped"),
    opt(
        "duplicate-probability",
        "PRODUCER_DUPLICATE_PROBABILITY",
        "0",
        "fault: chance per event that the same record is sent again a little later (pos-fault: duplicate)",
    ),
    opt(
        "malformed-probability",
        "PRODUCER_MALFORMED_PROBABILITY",
        "0",
        "fault: chance per event that a broken copy of it follows: not JSON, a field missing or of the wrong type",
    ),
    opt(
        "out-of-order-probability",
        "PRODUCER_OUT_OF_ORDER_PROBABILITY",
        "0",
        "fault: chance per event that it is held back and sent after the next few (pos-fault: reordered)",
    ),
    opt(
        "abort-probability",
        "PRODUCER_ABORT_PROBABILITY",
        "0",
        "fault: chance per transaction that it is aborted and its events sent again in the next (pos-fault: aborted)",
    ),
    switch(
        "create-topics",
        "PRODUCER_CREATE_TOPICS",
        "false",
        "only make sure both topics exist, say what was done, and exit (an init step for consumers)",
    ),
    opt("acks", "KAFKA_ACKS", "all", "acknowledgements: all (or -1), 1 or 0"),
    switch("idempotence", "KAFKA_IDEMPOTENCE", "true", "idempotent producer: retries never duplicate (needs acks=all)"),
    opt(
        "transactions",
        "KAFKA_TRANSACTIONS",
        "auto",
        "`auto` (transactions where the cluster and ACLs allow, else idempotent with a warning), `on` or `off`",
    ),
    opt(
        "transactional-id",
        "KAFKA_TRANSACTIONAL_ID",
        "",
        "transactional id; unset: pos-producer:<transactions topic>:<k>/<n>, the same for every copy of an instance",
    ),
    opt(
        "commit-interval-ms",
        "PRODUCER_COMMIT_INTERVAL_MS",
        "100",
        "with transactions, commit at most this long after a transaction's oldest event, 1 to 60000",
    ),
    opt(
        "delivery-timeout-ms",
        "KAFKA_DELIVERY_TIMEOUT_MS",
        "120000",
        "give up on an event not acknowledged within this time",
    ),
    opt(
        "request-timeout-ms",
        "KAFKA_REQUEST_TIMEOUT_MS",
        "30000",
        "wait this long for one broker response (at most the delivery timeout)",
    ),
    opt(
        "max-in-flight",
        "KAFKA_MAX_IN_FLIGHT",
        "5",
        "produce requests per broker awaiting an answer, 1 to 5 (5 is the most idempotence keeps in order)",
    ),
    opt(
        "linger-ms",
        "KAFKA_LINGER_MS",
        "5",
        "how long a due sale may wait for the next ones to share its request (0: none), 0 to 1000",
    ),
    opt(
        "batch-size",
        "KAFKA_BATCH_SIZE",
        "65536",
        "most bytes of records per partition in one request (a larger record goes alone)",
    ),
    opt(
        "metadata-max-age-ms",
        "KAFKA_METADATA_MAX_AGE_MS",
        "300000",
        "refresh partition metadata at least this often (partitions added to a topic get used)",
    ),
    opt(
        "topic-partitions",
        "KAFKA_TOPIC_PARTITIONS",
        "",
        "partitions of topics this creates; unset: the broker's default",
    ),
    opt(
        "topic-replication-factor",
        "KAFKA_TOPIC_REPLICATION_FACTOR",
        "",
        "replication factor of topics this creates; unset: the broker's default",
    ),
    opt("compression", "KAFKA_COMPRESSION", "none", "record compression: none, gzip, snappy, lz4 or zstd (Kafka 2.1+)"),
    opt("client-id", "KAFKA_CLIENT_ID", "pos-producer", "client id sent to the brokers"),
    opt(
        "protocol-cap",
        "KAFKA_PROTOCOL_CAP",
        "",
        "speak no newer API versions than Kafka 2.1 does (`2.1`); unset: the broker's newest",
    ),
    opt(
        "security-protocol",
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (case-insensitive)",
    ),
    opt(
        "sasl-mechanism",
        "KAFKA_SASL_MECHANISM",
        "",
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; unset: PLAIN with a SASL protocol",
    ),
    opt("sasl-username", "KAFKA_SASL_USERNAME", "", "SASL user name (required with SASL)"),
    opt("sasl-password", "KAFKA_SASL_PASSWORD", "", "SASL password (never printed)"),
    opt(
        "sasl-password-file",
        "KAFKA_SASL_PASSWORD_FILE",
        "",
        "file whose content (trailing newline trimmed) is the SASL password: Docker/Kubernetes secrets",
    ),
    opt(
        "ssl-ca-location",
        "KAFKA_SSL_CA_LOCATION",
        "",
        "PEM file of the CA certificates to trust; unset: the Mozilla roots built in",
    ),
    opt(
        "ssl-certificate-location",
        "KAFKA_SSL_CERTIFICATE_LOCATION",
        "",
        "PEM client certificate (chain), for mutual TLS",
    ),
    opt(
        "ssl-key-location",
        "KAFKA_SSL_KEY_LOCATION",
        "",
        "PEM private key of the client certificate: PKCS#8 (encrypted too), PKCS#1 or SEC1",
    ),
    opt("ssl-key-password", "KAFKA_SSL_KEY_PASSWORD", "", "password of an encrypted key, or of the keystore's key"),
    opt("ssl-key-password-file", "KAFKA_SSL_KEY_PASSWORD_FILE", "", "file holding KAFKA_SSL_KEY_PASSWORD"),
    opt(
        "ssl-keystore-location",
        "KAFKA_SSL_KEYSTORE_LOCATION",
        "",
        "PKCS#12 keystore with the client's key and certificate (instead of the two PEM files)",
    ),
    opt("ssl-keystore-password", "KAFKA_SSL_KEYSTORE_PASSWORD", "", "password of the keystore (never printed)"),
    opt(
        "ssl-keystore-password-file",
        "KAFKA_SSL_KEYSTORE_PASSWORD_FILE",
        "",
        "file holding KAFKA_SSL_KEYSTORE_PASSWORD",
    ),
    opt(
        "ssl-truststore-location",
        "KAFKA_SSL_TRUSTSTORE_LOCATION",
        "",
        "PKCS#12 truststore of the CA certificates to trust (instead of KAFKA_SSL_CA_LOCATION)",
    ),
    opt("ssl-truststore-password", "KAFKA_SSL_TRUSTSTORE_PASSWORD", "", "password of the truststore (never printed)"),
    opt(
        "ssl-truststore-password-file",
        "KAFKA_SSL_TRUSTSTORE_PASSWORD_FILE",
        "",
        "file holding KAFKA_SSL_TRUSTSTORE_PASSWORD",
    ),
    opt(
        "ssl-provider",
        "KAFKA_SSL_PROVIDER",
        "auto",
        "TLS crypto: `auto` (graviola where the CPU has its instructions, else portable), `graviola` or `portable`",
    ),
    opt(
        "ssl-endpoint-identification",
        "KAFKA_SSL_ENDPOINT_IDENTIFICATION",
        "https",
        "`https`: the broker's certificate must name the host connected to; `none`: not checked",
    ),
];

/// Warnings for environment variables that look like this program's (`PRODUCER_*`, `KAFKA_*`)
/// but are not, with the closest known name: a misspelt variable is otherwise silently ignored.
/// Not an error: the same environment may serve other tools.
pub fn unknown_variables(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let ours = name.starts_with("PRODUCER_") || name.starts_with("KAFKA_");
        if !ours || OPTIONS.iter().any(|o| o.env == name) {
            continue;
        }
        let closest = OPTIONS
            .iter()
            .map(|o| (edit_distance(&name, o.env), o.env))
            .filter(|(d, env)| *d <= 3.max(env.len() / 4))
            .min_by_key(|(d, _)| *d);
        out.push(match closest {
            Some((_, env)) => format!("unknown variable {name} is ignored; did you mean {env}? (see --help)"),
            None => format!("unknown variable {name} is ignored (see --help for the variables pos-producer reads)"),
        });
    }
    out.sort();
    out
}

/// The known flag closest to an unknown one, if any is close enough to be a likely typo.
pub(super) fn suggest(unknown: &str) -> Option<&'static str> {
    OPTIONS
        .iter()
        .map(|o| o.flag)
        .chain(["help", "version"])
        .map(|f| (edit_distance(unknown, f), f))
        .filter(|(d, f)| *d <= 3.max(f.len() / 4) || f.starts_with(unknown) || unknown.starts_with(f))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The `--help` text: every flag with its variable and default.
pub fn help() -> String {
    let mut s = format!(
        "pos-producer {} — simulated point-of-sale transactions and refunds, as JSON, to Kafka\n\n\
         Usage: pos-producer [--flag=value ...]\n\n\
         Every option is a flag and an environment variable; a flag beats the variable.\n\n",
        env!("CARGO_PKG_VERSION")
    );
    for o in OPTIONS {
        let default = if o.default.is_empty() { "unset" } else { o.default };
        s.push_str(&format!("  --{:<22} {:<26} [default: {default}]\n        {}\n", o.flag, o.env, o.help));
    }
    s.push_str("  --help, -h               print this help\n  --version, -V            print the version\n");
    s.push_str("  --probe URL              GET http://host:port/path once: exit 0 on a 200 answer, 1 otherwise\n");
    s.push_str("        (within 2 s): a healthcheck for the image, which has no shell or curl\n");
    s.push_str(
        "\n\
         Exit codes: 0 done (limit reached, or stopped by SIGINT/SIGTERM), 1 Kafka or output failure,\n\
         2 bad configuration.\n",
    );
    s
}
