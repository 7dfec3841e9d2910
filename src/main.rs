//! pos-producer: simulated point-of-sale transactions and refunds, published as JSON to Kafka.
//!
//! The loop is the old Python service's — generate, send, log, wait — made exact and reliable.
//!
//! Crate map:
//! - [`config`]: environment variables and flags → a checked [`config::Config`] (exit 2 if bad).
//! - [`sim`]: the data contract: catalog, events and their JSON, the seeded generator, the clock.
//! - [`pace`]: the drift-free schedule that says when each transaction is due.
//! - [`kafka`]: a small synchronous Kafka producer (connection → client → producer).
//! - [`report`]: event lines and the banner on stdout; stats and the summary on stderr.
//! - [`shutdown`]: the stop flag that SIGINT/SIGTERM set and every wait watches.
//!
//! Exit codes: 0 done or stopped by a signal, 1 Kafka or output failure, 2 bad configuration.

/// A diagnostic line on stderr (never on stdout, which carries the events).
#[macro_export]
macro_rules! diag {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "[producer] {}", format_args!($($arg)*));
    }};
}

mod config;
mod kafka;
mod pace;
mod report;
mod shutdown;
mod sim;

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;

use config::{Command, Config};
use kafka::{KafkaError, Producer, Record};
use pace::Schedule;
use report::{EventLog, Kind, Stats};
use shutdown::Stop;
use sim::Generator;
use sim::clock::{self, Clock};

/// Most events queued before they must be sent, even when the loop runs flat out.
const MAX_QUEUED: usize = 1000;

fn main() -> ExitCode {
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let config = match config::parse(std::env::args().skip(1), env) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => return print_and_exit(&config::help()),
        Ok(Command::Version) => {
            return print_and_exit(&format!("pos-producer {}\n", env!("CARGO_PKG_VERSION")));
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
    match run(&config, &stop) {
        Ok(()) | Err(RunError::Stopped { .. }) => ExitCode::SUCCESS,
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
    let _ = writeln!(io::stderr(), "pos-producer: error: {e}");
}

/// What ends a run early. `Stopped` is a signal (exit 0); the others exit 1.
#[derive(Debug)]
enum RunError {
    Stopped { undelivered: usize },
    Kafka(KafkaError),
    Output(io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Stopped { undelivered } => {
                write!(f, "stopped with {undelivered} events not delivered")
            }
            RunError::Kafka(e) => e.fmt(f),
            RunError::Output(e) => write!(f, "cannot write the event log to stdout: {e}"),
        }
    }
}

fn run(config: &Config, stop: &Stop) -> Result<(), RunError> {
    let seed = config.seed.unwrap_or_else(|| fastrand::u64(..));
    let clock = if config.simulated_time() {
        let start = config.start_time_ms.unwrap_or_else(|| clock::now().0 / 1000 * 1000);
        Clock::simulated(start, config.sleep_seconds)
    } else {
        Clock::Wall
    };
    let mut generator = Generator::new(seed, clock, config.refund_probability);
    let mut log = EventLog::stdout(config.log_events);
    let mut run = Run {
        stats: Stats::new(Instant::now(), config.stats_every),
        queue: Queue::default(),
        stop,
        stdout_closed: false,
    };
    log.banner(config, seed).map_err(RunError::Output)?;

    // Where events go: Kafka, or with `--dry-run` nowhere but the log.
    let mut sink = if config.dry_run {
        None
    } else {
        let topics = vec![config.topic.clone(), config.topic_refunds.clone()];
        match Producer::connect(&config.kafka, topics, stop.clone()) {
            Ok(producer) => Some(producer),
            Err(KafkaError::Stopped { .. }) => {
                run.finish(0, "stopped before connecting");
                return Ok(());
            }
            Err(e) => return Err(RunError::Kafka(e)),
        }
    };

    let end = config.max_duration.map(|d| Instant::now() + d);
    let mut schedule = Schedule::new(Instant::now(), config.interval());
    let mut produced = 0u64;
    let ending = loop {
        if config.max_events.is_some_and(|max| produced >= max) {
            break "event limit reached";
        }
        // Before waiting for the next sale's turn, deliver (and log) what is queued.
        if schedule.ahead(Instant::now()) || run.queue.len() >= MAX_QUEUED {
            run.deliver(&mut sink, &mut log)?;
            if run.stdout_closed {
                break "stdout closed";
            }
        }
        if let Some(ending) = run.wait_until(schedule.due(), end) {
            break ending;
        }
        let (transaction, refund) = generator.next();
        run.queue.push(Kind::Transaction, transaction.transaction_id, transaction.timestamp.0, &transaction);
        if let Some(refund) = refund {
            run.queue.push(Kind::Refund, refund.original_transaction_id, refund.timestamp.0, &refund);
        }
        produced += 1;
        schedule.advance();
    };
    run.deliver(&mut sink, &mut log)?;
    run.finish(0, ending);
    Ok(())
}

/// Events generated but not yet acknowledged, in production order.
#[derive(Default)]
struct Queue {
    records: Vec<Record>,
    kinds: Vec<Kind>,
    since: Option<Instant>,
}

impl Queue {
    /// Queues an event: its JSON is the message value, `key_id` as decimal text the key.
    fn push(&mut self, kind: Kind, key_id: u64, timestamp_ms: i64, event: &impl Serialize) {
        let value = serde_json::to_vec(event).expect("events serialize: plain structs of numbers and strings");
        let topic = match kind {
            Kind::Transaction => 0,
            Kind::Refund => 1,
        };
        self.records.push(Record {
            topic,
            key: Bytes::from(key_id.to_string()),
            value: Bytes::from(value),
            timestamp_ms,
        });
        self.kinds.push(kind);
        self.since.get_or_insert_with(Instant::now);
    }

    fn len(&self) -> usize {
        self.records.len()
    }
}

/// The state of the main loop besides the generator and the schedule.
struct Run<'a> {
    stats: Stats,
    queue: Queue,
    stop: &'a Stop,
    /// The reader of the event lines went away: the run ends.
    stdout_closed: bool,
}

impl Run<'_> {
    /// Sends the queue and logs each event the broker acknowledged, in production order. Any
    /// failure, a stop included, ends the run: the summary says how many were not delivered.
    fn deliver(
        &mut self,
        sink: &mut Option<Producer>,
        log: &mut EventLog<io::BufWriter<io::Stdout>>,
    ) -> Result<(), RunError> {
        let Some(since) = self.queue.since.take() else {
            return Ok(());
        };
        let mut acked = vec![false; self.queue.len()];
        let result = match sink {
            None => {
                acked.fill(true);
                Ok(())
            }
            Some(producer) => producer.send(&self.queue.records, since, &mut acked),
        };
        let mut output = Ok(());
        for (i, _) in acked.iter().enumerate().filter(|(_, ok)| **ok) {
            let kind = self.queue.kinds[i];
            self.stats.count(kind);
            if output.is_ok() {
                output = log.sent(kind, &self.queue.records[i].value);
            }
        }
        let output = output.and_then(|()| log.flush());
        let undelivered = acked.iter().filter(|ok| !**ok).count();
        self.queue.records.clear();
        self.queue.kinds.clear();
        match result {
            Ok(()) => self.output_result(output),
            Err(KafkaError::Stopped { .. }) => {
                self.finish(undelivered, "stopped by signal");
                Err(RunError::Stopped { undelivered })
            }
            Err(e) => {
                self.finish(undelivered, "failed");
                Err(RunError::Kafka(e))
            }
        }
    }

    /// A reader that went away (`| head`) ends the run quietly, like other Unix tools; any
    /// other output error is fatal.
    fn output_result(&mut self, output: io::Result<()>) -> Result<(), RunError> {
        match output {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.stdout_closed = true;
                Ok(())
            }
            other => other.map_err(RunError::Output),
        }
    }

    /// Waits for `due`, printing stats lines meanwhile. `Some(reason)` when the run must end
    /// instead: a signal, or the time limit `end`.
    fn wait_until(&mut self, due: Instant, end: Option<Instant>) -> Option<&'static str> {
        loop {
            let until = [Some(due), end, self.stats.next_report()].into_iter().flatten().min().expect("due is some");
            let reached = self.stop.sleep_until(until);
            let now = Instant::now();
            if let Some(line) = self.stats.report(now) {
                diag!("{line}");
            }
            if !reached {
                return Some("stopped by signal");
            }
            if end.is_some_and(|end| now >= end) {
                return Some("time limit reached");
            }
            if now >= due {
                return None;
            }
        }
    }

    /// The summary line on stderr.
    fn finish(&self, undelivered: usize, ending: &str) {
        diag!("{}", self.stats.summary(undelivered, ending));
    }
}
