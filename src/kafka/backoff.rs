//! Capped exponential backoff with jitter, for reconnects and retried requests.

use std::time::{Duration, Instant};

use crate::shutdown::Stop;

/// Why a pause before a retry did not end in the retry.
#[derive(Debug, PartialEq, Eq)]
pub enum NoRetry {
    /// The wait would end after the deadline.
    Expired,
    /// A stop was asked for.
    Stopped,
}

/// Waits `base`, then twice as long each time up to `max`, each wait jittered by ±20 % so that
/// many producers restarted together do not retry in lock step.
#[derive(Debug)]
pub struct Backoff {
    max: Duration,
    next: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { max, next: base, rng: fastrand::Rng::new() }
    }

    #[cfg(test)]
    fn with_rng(base: Duration, max: Duration, rng: fastrand::Rng) -> Backoff {
        Backoff { max, next: base, rng }
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next.mul_f64(0.8 + 0.4 * self.rng.f64());
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Sleeps the next wait before a retry, unless it would end after `deadline` or a stop
    /// interrupts it. `announce` gets the wait first (to log it).
    pub fn pause(&mut self, stop: &Stop, deadline: Instant, announce: impl FnOnce(Duration)) -> Result<(), NoRetry> {
        let wait = self.next_wait();
        let until = Instant::now() + wait;
        if until > deadline {
            return Err(NoRetry::Expired);
        }
        announce(wait);
        if stop.sleep_until(until) { Ok(()) } else { Err(NoRetry::Stopped) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter() {
        let ms = Duration::from_millis;
        let mut b = Backoff::with_rng(ms(100), ms(1000), fastrand::Rng::with_seed(1));
        let nominal = [100, 200, 400, 800, 1000, 1000, 1000];
        for n in nominal {
            let w = b.next_wait().as_secs_f64() * 1000.0;
            assert!(w >= n as f64 * 0.8 && w <= n as f64 * 1.2, "{w} vs {n}");
        }
    }

    #[test]
    fn a_pause_never_outlasts_its_deadline_or_a_stop() {
        let ms = Duration::from_millis;
        let stop = Stop::default();
        let mut b = Backoff::with_rng(ms(10), ms(10), fastrand::Rng::with_seed(2));
        let mut announced = None;
        assert_eq!(b.pause(&stop, Instant::now() + ms(500), |w| announced = Some(w)), Ok(()));
        assert!(announced.is_some());
        assert_eq!(b.pause(&stop, Instant::now(), |_| panic!("not announced")), Err(NoRetry::Expired));
        stop.set();
        assert_eq!(b.pause(&stop, Instant::now() + ms(500), |_| {}), Err(NoRetry::Stopped));
    }
}
