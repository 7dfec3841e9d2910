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

/// Whether an answer is awaited inside a blocking read of the socket (one system call and one
/// wake-up when it comes) rather than a poll followed by a read (two calls), and for how long.
///
/// The kernel counts a socket's read timeout in whole ticks of its timer (1/HZ) and may end it
/// up to a tick early, so the read gets the whole ticks that fit in the wait, at least two and
/// at most `POLL`'s worth; the rest of the wait, and any wait too short for two ticks, is a
/// poll's, which is precise. A read that runs out means the answers come slower than the waits
/// last (a distant broker): then the next `POLL_AFTER_RUNNING_OUT` waits are polls, so that a
/// slow answer does not cost a wake-up more each time.
#[derive(Debug, Clone)]
pub struct ReadWait {
    tick: Option<Duration>,
    polls_left: u32,
}

/// How many waits are polls after a read ran out.
const POLL_AFTER_RUNNING_OUT: u32 = 16;

impl ReadWait {
    /// `tick`: the kernel's timer tick (`shutdown::kernel_tick`); `None`: every wait polls.
    pub fn new(tick: Option<Duration>) -> ReadWait {
        ReadWait { tick, polls_left: 0 }
    }

    /// The read timeout for a wait of `wait`, or `None` to poll.
    pub fn slice(&mut self, wait: Duration) -> Option<Duration> {
        let tick = self.tick.filter(|t| !t.is_zero())?;
        if self.polls_left > 0 {
            self.polls_left -= 1;
            return None;
        }
        let ticks = wait.min(crate::shutdown::POLL).as_nanos() / tick.as_nanos();
        (ticks >= 2).then(|| tick * ticks as u32)
    }

    /// The read ran out (or a signal interrupted it) before an answer came.
    pub fn ran_out(&mut self) {
        self.polls_left = POLL_AFTER_RUNNING_OUT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_read_gets_the_whole_ticks_within_the_wait() {
        let mut w = ReadWait::new(Some(4 * MS));
        assert_eq!(w.slice(9 * MS + MS / 2), Some(8 * MS));
        assert_eq!(w.slice(8 * MS), Some(8 * MS));
        assert_eq!(w.slice(12 * MS - Duration::from_nanos(1)), Some(8 * MS));
        // Capped at POLL (50 ms): twelve ticks of 4 ms.
        assert_eq!(w.slice(Duration::from_secs(1)), Some(48 * MS));
        // HZ 300: a tick of 3,333,333 ns.
        let mut w = ReadWait::new(Some(Duration::from_nanos(3_333_333)));
        assert_eq!(w.slice(10 * MS), Some(Duration::from_nanos(9_999_999)));
    }

    #[test]
    fn a_wait_shorter_than_two_ticks_polls() {
        let mut w = ReadWait::new(Some(4 * MS));
        assert_eq!(w.slice(8 * MS - Duration::from_nanos(1)), None);
        assert_eq!(w.slice(Duration::ZERO), None);
        let mut w = ReadWait::new(Some(MS));
        assert_eq!(w.slice(MS * 3 / 2), None);
        assert_eq!(w.slice(2 * MS), Some(2 * MS));
    }

    #[test]
    fn without_a_known_tick_every_wait_polls() {
        let mut w = ReadWait::new(None);
        assert_eq!(w.slice(Duration::from_secs(1)), None);
    }

    #[test]
    fn after_a_read_runs_out_the_next_waits_poll() {
        let mut w = ReadWait::new(Some(4 * MS));
        w.ran_out();
        for _ in 0..POLL_AFTER_RUNNING_OUT {
            assert_eq!(w.slice(20 * MS), None);
        }
        assert_eq!(w.slice(20 * MS), Some(20 * MS));
    }
}
