//! How long a request may wait for its answer: the request timeout, cut at the deadline of the
//! work; a stop seen on the way gives what is under way a short grace; a long wait is reported
//! on stderr as it goes.

use std::io;
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;

use super::connection::{ConnectionError, STOP_GRACE, WAIT_NOTE_EVERY};
use crate::diag::diag;
use crate::shutdown::Stop;

/// When the wait for one request ends, and whether that is sooner than the request timeout.
#[derive(Debug, Clone, Copy)]
pub struct WaitLimit {
    /// When the request went out: a wait reported is counted from here.
    pub from: Instant,
    pub at: Instant,
    /// Whether `at` is the deadline of the work, sooner than the request timeout.
    pub cut: bool,
    /// When the wait is next reported on stderr.
    pub next_note: Instant,
}

/// Socket waits come in slices of at most `POLL`, so that a stop is seen between them. Once a
/// stop is seen, what is under way gets `STOP_GRACE` more, then the wait ends with `Stopped`.
/// A wait longer than `WAIT_NOTE_EVERY` is reported on stderr as it goes.
pub struct Waiter {
    pub limit: WaitLimit,
    api: ApiKey,
    stop_seen: bool,
}

impl Waiter {
    pub fn new(limit: WaitLimit, api: ApiKey) -> Waiter {
        Waiter { limit, api, stop_seen: false }
    }

    /// Whether waiting may go on (a blocking call lasts one slice at most), or why not.
    /// `handshaking`: the TLS handshake is what is still awaited.
    pub fn check(&mut self, stop: &Stop, addr: &str, handshaking: bool) -> Result<(), ConnectionError> {
        let now = Instant::now();
        if !self.stop_seen && stop.is_set() {
            self.stop_seen = true;
            self.limit.at = self.limit.at.min(now + STOP_GRACE);
        }
        if now >= self.limit.at {
            return Err(if self.stop_seen {
                ConnectionError::Stopped
            } else {
                let after = self.limit.at.saturating_duration_since(self.limit.from);
                ConnectionError::Timeout { addr: addr.to_string(), after, cut: self.limit.cut, handshake: handshaking }
            });
        }
        self.limit.note(now, addr, self.api, handshaking);
        Ok(())
    }
}

impl WaitLimit {
    /// The wait of a request sent now: the request timeout, or sooner when the deadline of the
    /// work comes first.
    pub fn new(timeout: Duration, deadline: Option<Instant>) -> WaitLimit {
        let from = Instant::now();
        let own = from + timeout;
        match deadline {
            Some(d) if d < own => WaitLimit { from, at: d, cut: true, next_note: from + WAIT_NOTE_EVERY },
            _ => WaitLimit { from, at: own, cut: false, next_note: from + WAIT_NOTE_EVERY },
        }
    }

    /// Says on stderr what is still awaited (an answer to `api`, or the TLS handshake), when a
    /// note is due.
    pub fn note(&mut self, now: Instant, addr: &str, api: ApiKey, handshaking: bool) {
        if now >= self.next_note && now < self.at {
            let left = self.at.saturating_duration_since(now);
            let what = if handshaking { "finish the TLS handshake".to_string() } else { format!("answer {api:?}") };
            diag!(
                "waiting for broker {addr} to {what} ({} s so far, {} s left) …",
                (now - self.from).as_secs(),
                left.as_secs_f64().ceil() as u64
            );
            while self.next_note <= now {
                self.next_note += WAIT_NOTE_EVERY;
            }
        }
    }
}

/// A timed-out or interrupted socket call: wait some more.
pub fn is_wait(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}
