//! Event time: the wall clock, or a simulated clock that advances one step per transaction.

use std::time::{SystemTime, UNIX_EPOCH};

use super::event::EventTime;

/// Where event timestamps come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    /// The machine's UTC clock.
    Wall,
    /// Transaction `i` (1-based) happens at `start + (i − 1) × step`, whatever the real pace.
    Simulated { start_ns: i128, step_ns: i128 },
}

impl Clock {
    /// A simulated clock from a start in Unix milliseconds and a step in seconds (≥ 0).
    pub fn simulated(start_ms: i64, step_seconds: f64) -> Clock {
        Clock::Simulated { start_ns: i128::from(start_ms) * 1_000_000, step_ns: (step_seconds * 1e9).round() as i128 }
    }

    /// The time of transaction number `n` (1-based).
    pub fn transaction_time(&self, n: u64) -> EventTime {
        match *self {
            Clock::Wall => now(),
            Clock::Simulated { step_ns, .. } => self.at_offset(i128::from(n.saturating_sub(1)) * step_ns),
        }
    }

    /// The time `offset_ns` after the simulated start; the wall clock's now.
    pub fn at_offset(&self, offset_ns: i128) -> EventTime {
        match *self {
            Clock::Wall => now(),
            Clock::Simulated { start_ns, .. } => {
                EventTime(i64::try_from((start_ns + offset_ns).div_euclid(1_000_000)).unwrap_or(i64::MAX))
            }
        }
    }

    /// The current time right after transaction `latest` happened at `latest_time`: the wall
    /// clock (never earlier than that sale, should the clock step back), or the simulated now.
    pub fn time_after(&self, latest_time: EventTime) -> EventTime {
        match self {
            Clock::Wall => now().max(latest_time),
            Clock::Simulated { .. } => latest_time,
        }
    }
}

/// The wall clock in Unix milliseconds.
pub fn now() -> EventTime {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    EventTime(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_transaction_i_is_start_plus_i_minus_one_steps() {
        let c = Clock::simulated(1_735_689_600_000, 1.0);
        assert_eq!(c.transaction_time(1), EventTime(1_735_689_600_000));
        assert_eq!(c.transaction_time(2), EventTime(1_735_689_601_000));
        assert_eq!(c.transaction_time(86_401).to_text(), "2025-01-02 00:00:00");
        let half = Clock::simulated(0, 0.25);
        assert_eq!(half.transaction_time(5), EventTime(1000));
        let none = Clock::simulated(7, 0.0);
        assert_eq!(none.transaction_time(1000), EventTime(7));
    }

    #[test]
    fn refund_time_is_never_before_its_sale() {
        let future = EventTime(now().0 + 3_600_000);
        assert_eq!(Clock::Wall.time_after(future), future);
        let c = Clock::simulated(0, 1.0);
        assert_eq!(c.time_after(EventTime(5000)), EventTime(5000));
    }
}
