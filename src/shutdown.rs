//! The stop flag: SIGINT and SIGTERM flip it, and every wait in the program watches it.
//!
//! A handler is installed for both signals, which also makes them work when the process is
//! PID 1 in a container (where signals without a handler are ignored by the kernel).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a wait looks at the flag: the bound on how late a stop is noticed.
pub const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A flag that SIGINT and SIGTERM set.
    pub fn on_signals() -> std::io::Result<Stop> {
        let stop = Stop::default();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop.0))?;
        }
        Ok(stop)
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Sleeps until `deadline` or until the flag is set; true when the deadline was reached.
    pub fn sleep_until(&self, deadline: Instant) -> bool {
        loop {
            if self.is_set() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            std::thread::sleep((deadline - now).min(POLL));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_ends_at_the_deadline() {
        let stop = Stop::default();
        let t0 = Instant::now();
        assert!(stop.sleep_until(t0 + Duration::from_millis(30)));
        assert!(t0.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn a_set_flag_ends_a_long_sleep() {
        let stop = Stop::default();
        let other = stop.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.set();
        });
        assert!(!stop.sleep_until(Instant::now() + Duration::from_secs(3600)));
        setter.join().unwrap();
    }
}
