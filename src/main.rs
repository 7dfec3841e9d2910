//! pos-producer: simulated point-of-sale transactions and refunds, published as JSON to Kafka.
//!
//! The loop is the old Python service's — generate, send, log, wait — made exact and reliable.
//!
//! Crate map:
//! - [`config`]: environment variables and flags → a checked [`config::Config`] (exit 2 if bad).
//! - [`sim`]: the data contract: catalog, events and their JSON, the seeded generator, the clock,
//!   the `retail-day` arrivals, and the faults injected on purpose.
//! - [`pace`]: the drift-free schedule that says when each transaction is due.
//! - [`kafka`]: a small synchronous Kafka producer (connection → client → producer), and a
//!   reader of the topics' tails; its settings are its own ([`kafka::Settings`]), and it imports
//!   only `diag` and `shutdown`.
//! - [`resume`]: where ids start: after this instance's highest in the topics, read back.
//! - [`outbox`]: events made into records, handed to Kafka, logged in order once acknowledged.
//! - [`truth`]: the ground truth of what was acknowledged, as a JSON file.
//! - [`report`]: event lines and the banner on stdout; stats and the summary on stderr.
//! - [`metrics`]: `PRODUCER_METRICS_ADDR`: `/metrics` for Prometheus, `/healthz`, `/readyz`.
//! - [`probe`]: `--probe URL`, one HTTP GET for healthchecks (the image has no shell or curl).
//! - [`shutdown`]: the stop flag that SIGINT/SIGTERM set and every wait watches.
//! - [`diag`](mod@diag): the `diag!` line on stderr, for every layer (it imports none).
//!
//! Exit codes: 0 done or stopped by a signal, 1 Kafka or output failure, 2 bad configuration
//! (a TLS file that cannot be used, or `KAFKA_SSL_PROVIDER=graviola` on a CPU without its
//! features, included).

// The plaintext-only build (`--no-default-features`) leaves the SASL and TLS parts unused.
#![cfg_attr(not(feature = "tls"), allow(dead_code))]

mod config;
mod diag;
mod kafka;
mod metrics;
mod outbox;
mod pace;
mod probe;
mod report;
mod resume;
mod shutdown;
mod sim;
mod truth;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use config::{Command, Config, IdStart, RateProfile};
use diag::diag;
use kafka::producer::Until;
use kafka::{KafkaError, Producer};
use metrics::{Metrics, Phase, RunInfo};
use outbox::{Event, Outbox};
use pace::Schedule;
use report::stdout::StdoutPipe;
use report::{EventLog, Kind, Stats};
use resume::ResumeError;
use shutdown::Stop;
use sim::Generator;
use sim::clock::{self, Clock};
use sim::event::{Refund, Transaction};
use sim::faults::{Injector, Made, Marks};
use sim::profile::Arrivals;

/// How often the truth file is rewritten when stats lines are off.
const TRUTH_EVERY: Duration = Duration::from_secs(10);

/// Most events queued before they are handed to Kafka, even when the loop runs flat out.
const MAX_QUEUED: usize = 2000;
/// Most events made and not on the wire yet while the loop runs on (answers pending): when
/// the brokers fall behind, batches grow up to this, then the loop waits for answers.
const MAX_UNSENT: usize = MAX_QUEUED;

fn main() -> ExitCode {
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let config = match config::parse(std::env::args().skip(1), env) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => return print_and_exit(&config::help()),
        Ok(Command::Version) => {
            return print_and_exit(&format!("pos-producer {}\n", env!("CARGO_PKG_VERSION")));
        }
        Ok(Command::Probe(target)) => {
            return match probe::probe(&target) {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    error(&format!("probe of http://{}{}: {failure}", target.authority, target.path));
                    ExitCode::from(1)
                }
            };
        }
        Err(e) => {
            error(&e);
            return ExitCode::from(2);
        }
    };
    let stop = match Stop::on_signals() {
        Ok(stop) => stop,
        Err(e) => {
            error(&format!("cannot install signal handlers: {e}"));
            return ExitCode::from(1);
        }
    };
    let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
    for warning in config.warnings.iter().cloned().chain(config::unknown_variables(names)) {
        diag!("warning: {warning}");
    }
    // TLS files and the CPU are checked before anything starts: a problem is a setting's.
    let security = match kafka::prepare(&config.kafka.security) {
        Ok(security) => security,
        Err(e) => {
            error(&e);
            return ExitCode::from(2);
        }
    };
    if config.create_topics {
        return create_topics(&config, security, stop);
    }
    let stores = match sim::catalog::store_ids(&config.stores) {
        Ok(stores) => stores,
        Err(e) => {
            error(&e);
            return ExitCode::from(2);
        }
    };
    // The seed and the simulated clock's start are fixed here: the truth file names them.
    let seed = config.seed.unwrap_or_else(|| fastrand::u64(..));
    let start_ms =
        config.simulated_time().then(|| config.start_time_ms.unwrap_or_else(|| clock::now().0 / 1000 * 1000));
    let setup = Setup { seed, start_ms, stores };
    // A truth file that cannot be written is a setting's problem: found before anything starts.
    let truth = config.truth_file.as_ref().map(|path| {
        let run = truth::Run {
            seed,
            start_time: start_ms.map(|ms| sim::event::EventTime(ms).to_text()),
            instance: config.instance.to_string(),
            window_seconds: config.truth_window_seconds,
            watermark_seconds: config.truth_watermark_seconds,
        };
        truth::Truth::new(path.clone(), run, config.stats_every.unwrap_or(TRUTH_EVERY))
    });
    if let Some(Err(e)) = truth.as_ref().map(|t| t.write(false)) {
        error(&e);
        return ExitCode::from(2);
    }
    let mut outbox = Outbox::new(truth);
    // The endpoint listens before anything connects: an address that cannot be used is a
    // setting's problem, and probes see "connecting" while the brokers are looked for.
    let stats = Stats::new(Instant::now());
    let metrics = Metrics::new(stats.clone(), config.kafka.delivery_timeout);
    if let Some(addr) = config.metrics_addr {
        match metrics::server::start(addr, metrics.clone()) {
            Ok(local) => diag!("serving /metrics, /healthz and /readyz on http://{local}"),
            Err(e) => {
                error(&format!("PRODUCER_METRICS_ADDR (--metrics-addr) {addr}: cannot listen there: {e}"));
                return ExitCode::from(2);
            }
        }
    }
    match run(&config, security, &stop, &setup, (&stats, &metrics), &mut outbox) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error(&e);
            ExitCode::from(1)
        }
    }
}

/// `--create-topics`: the init step. Each topic's state on stdout, warnings on stderr.
fn create_topics(config: &Config, security: kafka::Prepared, stop: Stop) -> ExitCode {
    let topics = [config.topic.clone(), config.topic_refunds.clone()];
    match kafka::topics::create(&config.kafka, security, &topics, stop) {
        Ok((states, warnings)) => {
            for warning in warnings {
                diag!("warning: {warning}");
            }
            let text: String = states.iter().map(|s| format!("[producer] {s}\n")).collect();
            print_and_exit(&text)
        }
        Err(KafkaError::Stopped { .. }) => ExitCode::SUCCESS,
        Err(e) => {
            error(&e);
            ExitCode::from(1)
        }
    }
}

fn print_and_exit(text: &str) -> ExitCode {
    let _ = io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

fn error(e: &dyn std::fmt::Display) {
    let _ = writeln!(io::stderr(), "pos-producer: error: {}", diag::one_line(&e.to_string()));
}

/// What ends a run with exit 1.
#[derive(Debug)]
enum RunError {
    Kafka(KafkaError),
    Resume(resume::ResumeError),
    Output(io::Error),
    /// The truth file could not be written (the message names it).
    Truth(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Kafka(e) => e.fmt(f),
            RunError::Resume(e) => e.fmt(f),
            RunError::Output(e) => write!(f, "cannot write the event log to stdout: {e}"),
            RunError::Truth(e) => f.write_str(e),
        }
    }
}

/// How the main loop ended, for the summary: why, and how many events were handed to Kafka
/// without an acknowledgement.
struct Ending {
    why: &'static str,
    unacked: usize,
    error: Option<RunError>,
}

impl Ending {
    fn ok(why: &'static str) -> Ending {
        Ending { why, unacked: 0, error: None }
    }
}

/// What is fixed before a run starts: the seed, the simulated clock's start (`None`: the
/// wall clock), the stores sold for.
struct Setup {
    seed: u64,
    start_ms: Option<i64>,
    stores: Vec<&'static str>,
}

/// Runs the loop, then closes stdout (a stalled reader gets `STOP_GRACE` after a stop) and
/// prints the summary on stderr, whatever ended the run.
fn run(
    config: &Config,
    security: kafka::Prepared,
    stop: &Stop,
    setup: &Setup,
    (stats, metrics): (&Stats, &Metrics),
    outbox: &mut Outbox,
) -> Result<(), RunError> {
    let reporter = config.stats_every.map(|every| stats.report_every(every));
    let mut log = EventLog::stdout(config.log_events, stop.clone());
    let mut ending = produce(config, security, stop, setup, (stats, metrics), &mut log, outbox);
    metrics.phase(Phase::Ending);
    // What was acknowledged, whatever ended the run.
    if let Err(e) = outbox.keep_truth(true) {
        ending.error.get_or_insert(RunError::Truth(e));
    }
    match log.close(kafka::connection::STOP_GRACE) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe && ending.error.is_none() => ending.why = "stdout closed",
        Err(e) if e.kind() == io::ErrorKind::Interrupted && stop.is_set() => {}
        Err(e) => {
            ending.error.get_or_insert(RunError::Output(e));
        }
    }
    drop(reporter);
    let why = if ending.error.is_some() { "failed" } else { ending.why };
    let requests = match kafka::telemetry::produce_requests() {
        0 => String::new(),
        n => format!("; {n} produce requests"),
    };
    let transactions = match kafka::txn::ended() {
        (0, 0) => String::new(),
        (committed, aborted) => format!("; {committed} transactions committed, {aborted} aborted"),
    };
    diag!("{}{requests}{transactions}", stats.summary(ending.unacked, why));
    ending.error.map_or(Ok(()), Err)
}

/// The loop of the old service — generate, send, log, wait — until a limit, a stop or an error.
fn produce(
    config: &Config,
    security: kafka::Prepared,
    stop: &Stop,
    setup: &Setup,
    (stats, metrics): (&Stats, &Metrics),
    log: &mut EventLog<StdoutPipe>,
    outbox: &mut Outbox,
) -> Ending {
    let seed = setup.seed;
    let clock = match setup.start_ms {
        Some(start) => Clock::simulated(start, config.sleep_seconds),
        None => Clock::Wall,
    };
    let injector = Injector::new(config.faults, seed);
    let mut run = Run { stats, metrics, outbox, stop, injector, sending: Vec::new() };

    // Where events go: Kafka, or with `--dry-run` nowhere but the log.
    let crypto = security.crypto();
    let mut sink = if config.dry_run {
        None
    } else {
        let topics = vec![config.topic.clone(), config.topic_refunds.clone()];
        let headers = record_headers(config);
        match Producer::connect(&config.kafka, security, topics, &headers, stop.clone()) {
            Ok(producer) => Some(producer),
            Err(KafkaError::Stopped { .. }) => return Ending::ok("stopped before connecting"),
            Err(e) => return Ending { why: "failed", unacked: 0, error: Some(RunError::Kafka(e)) },
        }
    };
    // Where ids start: after this instance's last ones in the topics, unless told otherwise.
    let ids = match (&mut sink, config.id_start) {
        (Some(producer), IdStart::Resume) => {
            metrics.phase(Phase::Resuming);
            let committed = producer.transactional_id().and(producer.producer_id());
            match resume::from_kafka(producer.client_mut(), config, committed) {
                Ok(ids) => ids,
                Err(ResumeError::Kafka(KafkaError::Stopped { .. })) => return Ending::ok("stopped before producing"),
                Err(e) => return Ending { why: "failed", unacked: 0, error: Some(RunError::Resume(e)) },
            }
        }
        _ => resume::without_kafka(config),
    };

    if let Err(e) = log.banner(config, seed, crypto, &ids.to_string()).and_then(|()| log.flush()) {
        return output_ending(e, stop, 0);
    }
    let (k, n, first_id) = (config.instance.k, config.instance.n, ids.start.transaction_id);
    metrics.run_info(RunInfo { instance: k, instances: n, first_id, ids: ids.why.clone() });
    metrics.phase(Phase::Producing);
    // Under a rate profile sales arrive at random in event time, from the run's start on.
    let arrivals = (config.rate_profile == RateProfile::RetailDay)
        .then(|| Arrivals::retail_day(setup.start_ms.unwrap_or_else(|| clock::now().0), config.sleep_seconds, seed));
    let mut generator = Generator::starting(seed, clock, config.refund_probability, ids.start)
        .selling_for(&setup.stores)
        .arriving(arrivals);

    let end = config.max_duration.map(|d| Instant::now() + d);
    let mut schedule = Schedule::new(Instant::now(), config.interval());
    // Each sale is due at its arrival (a profile), else one interval after the one before.
    let follow = |schedule: &mut Schedule, generator: &Generator| match generator.upcoming_ns() {
        Some(ns) => schedule.advance_to(config.real_time(Duration::from_nanos(ns as u64))),
        None => schedule.advance(),
    };
    if generator.upcoming_ns().is_some() {
        follow(&mut schedule, &generator);
    }
    let mut produced = 0u64;
    // The last wake-up that made together the sales due up to it (due times only grow, so a
    // sale due after it was not gathered, and it needs no clearing).
    let mut gathering: Option<Instant> = None;
    loop {
        // The next sale is made at its due time, or with those due within the linger after it
        // (they would share its request anyway: one wake-up for them all).
        let now = Instant::now();
        let wake = schedule.wake(now, config.kafka.linger, end);
        if wake > schedule.due() {
            gathering = Some(wake);
        }
        // Alive while the loop comes back: by the next sale, or after a delivery's longest wait.
        metrics.back_by(wake.max(now) + config.kafka.delivery_timeout);
        if config.max_events.is_some_and(|max| produced >= max) {
            run.flush();
            return run.deliver(&mut sink, log, Until::Acked).unwrap_or(Ending::ok("event limit reached"));
        }
        // Before waiting for the next sale's turn, deliver (and log) what is queued, waiting
        // for answers until it is due (a slow broker holds up only its own partitions). Behind
        // schedule, send what is queued and go on making events while answers are due.
        let until = if schedule.ahead(now) {
            Some(Until::AckedOr(end.map_or(wake, |end| end.min(wake))))
        } else {
            (run.outbox.queued() >= MAX_QUEUED).then_some(Until::Unsent(MAX_UNSENT))
        };
        if let Some(until) = until
            && let Some(ending) = run.deliver(&mut sink, log, until)
        {
            return ending;
        }
        if let Some(why) = run.wait_until(wake, end) {
            run.flush();
            return run.deliver(&mut sink, log, Until::Acked).unwrap_or(Ending::ok(why));
        }
        // A sale made in a gathering wake-up, or at most a linger late, is stamped and timed
        // from its due time; any other (behind schedule by more, flat out) from now.
        let (due, now) = (schedule.due(), Instant::now());
        let made = schedule.made(now, config.kafka.linger, gathering);
        let (transaction, refund) = generator.late_by(now.saturating_duration_since(made)).next();
        run.send(transaction, refund, made, now.saturating_duration_since(due));
        produced += 1;
        follow(&mut schedule, &generator);
    }
}

/// The headers of every record, for the transactions topic and the refunds topic (none with
/// `PRODUCER_HEADERS=false`): what the event is, its schema, who made it, its content type.
fn record_headers(config: &Config) -> Vec<Vec<(String, String)>> {
    if !config.headers {
        return vec![];
    }
    let producer = format!("pos-producer/{} instance {}", env!("CARGO_PKG_VERSION"), config.instance);
    [Kind::Transaction, Kind::Refund]
        .iter()
        .map(|kind| {
            vec![
                ("event_type".to_string(), kind.name().to_string()),
                ("schema_version".to_string(), "1".to_string()),
                ("producer".to_string(), producer.clone()),
                ("content-type".to_string(), "application/json".to_string()),
            ]
        })
        .collect()
}

/// An output error as an ending: a reader that went away (`| head`) ends the run quietly, like
/// other Unix tools; a stop while stdout was stalled is a stop; anything else is fatal.
fn output_ending(e: io::Error, stop: &Stop, unacked: usize) -> Ending {
    match e.kind() {
        io::ErrorKind::BrokenPipe => Ending { why: "stdout closed", unacked, error: None },
        io::ErrorKind::Interrupted if stop.is_set() => Ending { why: "stopped by signal", unacked, error: None },
        _ => Ending { why: "failed", unacked, error: Some(RunError::Output(e)) },
    }
}

/// The state of the main loop besides the generator and the schedule.
struct Run<'a> {
    stats: &'a Stats,
    metrics: &'a Metrics,
    outbox: &'a mut Outbox,
    stop: &'a Stop,
    /// The faults asked for (`None`: none), and what they let go at each step.
    injector: Option<Injector>,
    sending: Vec<(Made, Marks)>,
}

impl Run<'_> {
    /// Queues a sale and its refund, if any, with the faults asked for. `made`: when they
    /// count as made (latency, delivery timeout); `lag`: how late after its due time the sale
    /// is made.
    fn send(&mut self, transaction: Transaction, refund: Option<Refund>, made: Instant, lag: Duration) {
        self.metrics.made(Kind::Transaction, lag);
        if refund.is_some() {
            self.metrics.made(Kind::Refund, lag);
        }
        let Some(injector) = &mut self.injector else {
            self.outbox.push(Event::Transaction(&transaction), Marks::default(), made);
            if let Some(refund) = &refund {
                self.outbox.push(Event::Refund(refund), Marks::default(), made);
            }
            return;
        };
        injector.pass(Made::Sale(transaction), &mut self.sending);
        if let Some(refund) = refund {
            injector.pass(Made::Refund(refund), &mut self.sending);
        }
        self.queue_sending(made);
    }

    /// Queues what the faults still hold back (the run ends).
    fn flush(&mut self) {
        if let Some(injector) = &mut self.injector {
            injector.flush(&mut self.sending);
            self.queue_sending(Instant::now());
        }
    }

    /// Queues what the faults let go, in order, as made at `made`.
    fn queue_sending(&mut self, made: Instant) {
        for (event, marks) in self.sending.drain(..) {
            if let Some(names) = marks.names() {
                self.metrics.faults(names);
            }
            self.outbox.push((&event).into(), marks, made);
        }
    }

    /// Hands the queued events to Kafka and sends until `until`; logs each event the broker
    /// acknowledged, in production order. `Some(ending)` when the run must end: a Kafka
    /// failure, a stop, or stdout gone. A refund held for its sale goes as soon as the sale is
    /// acknowledged: while `until` asks for acknowledgements, this goes on with those.
    fn deliver(&mut self, sink: &mut Option<Producer>, log: &mut EventLog<StdoutPipe>, until: Until) -> Option<Ending> {
        for pass in 0.. {
            if let Some(ending) = self.deliver_once(sink, log, until) {
                return Some(ending);
            }
            // Flat out, the refunds released by this pass's answers go now too, once: the
            // events behind them wait to be logged until they are acknowledged.
            let again = match until {
                Until::Acked => true,
                Until::AckedOr(at) => Instant::now() < at,
                Until::Unsent(_) => pass == 0,
            };
            if !again || self.outbox.queued() == 0 {
                return None;
            }
        }
        None
    }

    /// One round of `deliver`: hand over, send until `until`, log.
    fn deliver_once(
        &mut self,
        sink: &mut Option<Producer>,
        log: &mut EventLog<StdoutPipe>,
        until: Until,
    ) -> Option<Ending> {
        let result = match sink {
            None => {
                self.outbox.ack_all();
                Ok(())
            }
            Some(producer) => {
                let mut result = Ok(());
                for (record, number, made) in self.outbox.take() {
                    if let Err(e) = producer.submit(record, number, made) {
                        result = Err(e);
                        break;
                    }
                }
                let result = result.and_then(|()| producer.pump(until, self.outbox.acked_mut()));
                self.outbox.aborted(&producer.take_aborted());
                result
            }
        };
        let before = self.stats.transactions() + self.stats.refunds();
        let (unacked, output) = self.outbox.settle(self.stats, log, result.is_err());
        if self.stats.transactions() + self.stats.refunds() > before {
            self.metrics.acked(Instant::now());
        }
        let output = output.and_then(|()| log.flush());
        if result.is_ok()
            && let Err(e) = self.outbox.keep_truth(false)
        {
            return Some(Ending { why: "failed", unacked, error: Some(RunError::Truth(e)) });
        }
        if let Some(at) = self.outbox.truth_written() {
            self.metrics.truth_written(at);
        }
        match result {
            Ok(()) => output.err().map(|e| output_ending(e, self.stop, 0)),
            Err(KafkaError::Stopped { .. }) => Some(Ending { why: "stopped by signal", unacked, error: None }),
            Err(e) => Some(Ending { why: "failed", unacked, error: Some(RunError::Kafka(e)) }),
        }
    }

    /// Waits for `due`. `Some(reason)` when the run must end instead: a signal, or the time
    /// limit `end`.
    fn wait_until(&mut self, due: Instant, end: Option<Instant>) -> Option<&'static str> {
        let until = end.map_or(due, |end| end.min(due));
        if !self.stop.sleep_until(until) {
            return Some("stopped by signal");
        }
        if end.is_some_and(|end| Instant::now() >= end) {
            return Some("time limit reached");
        }
        None
    }
}
