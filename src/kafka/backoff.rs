//! Capped exponential backoff with jitter, for reconnects and retried requests.

use std::time::Duration;

/// Waits `base`, then twice as long each time up to `max`, each wait jittered by ±20 % so that
/// many producers restarted together do not retry in lock step.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max, next: base, rng: fastrand::Rng::new() }
    }

    #[cfg(test)]
    fn with_rng(base: Duration, max: Duration, rng: fastrand::Rng) -> Backoff {
        Backoff { base, max, next: base, rng }
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next.mul_f64(0.8 + 0.4 * self.rng.f64());
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Back to `base` after a success.
    pub fn reset(&mut self) {
        self.next = self.base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_bounded_jitter_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::with_rng(ms(100), ms(1000), fastrand::Rng::with_seed(1));
        let nominal = [100, 200, 400, 800, 1000, 1000, 1000];
        for n in nominal {
            let w = b.next_wait().as_secs_f64() * 1000.0;
            assert!(w >= n as f64 * 0.8 && w <= n as f64 * 1.2, "{w} vs {n}");
        }
        b.reset();
        let w = b.next_wait();
        assert!(w >= ms(80) && w <= ms(120), "{w:?}");
    }
}
