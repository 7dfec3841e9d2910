//! The pacing schedule: transaction k is due at start + k × interval on a monotonic clock.
//!
//! The old service slept a fixed time after each send, so time spent working accumulated as
//! drift. Here the due times are fixed up front; a late loop catches up without sleeping.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    interval_ns: u128,
    /// When the next transaction is due, in ns after `start`: `k × interval` for the k-th
    /// (0-based), unless a rate profile set it.
    next_ns: u128,
    /// A rate profile sets the due times (random gaps: the next one is not known ahead).
    profiled: bool,
}

impl Schedule {
    pub fn new(start: Instant, interval: Duration) -> Schedule {
        Schedule { start, interval_ns: interval.as_nanos(), next_ns: 0, profiled: false }
    }

    /// When the next transaction is due.
    pub fn due(&self) -> Instant {
        let ns = self.next_ns;
        let offset = Duration::new((ns / 1_000_000_000) as u64, (ns % 1_000_000_000) as u32);
        self.start.checked_add(offset).unwrap_or(self.start + Duration::from_secs(31_536_000 * 100))
    }

    /// Whether the next transaction is not yet due at `now`, i.e. the loop would wait.
    pub fn ahead(&self, now: Instant) -> bool {
        self.due() > now
    }

    /// Moves on to the following transaction.
    pub fn advance(&mut self) {
        self.next_ns = self.next_ns.saturating_add(self.interval_ns);
    }

    /// When to wake for the next transaction, at `now`, given the producer's `linger`: at its
    /// due time, or, when several come due within a linger (`interval` < `linger`) and it is
    /// not due yet, a linger later, to make it and those due meanwhile in one wake-up. They
    /// would wait for that linger in one request anyway; each is stamped and timed from its
    /// own due time (`Generator::late_by`, the outbox's `made`), so nothing about the events
    /// changes but the wake-ups they cost. `until`: the run's time limit, before which every
    /// due transaction is made. Under a rate profile (random gaps) always the due time.
    pub fn wake(&self, now: Instant, linger: Duration, until: Option<Instant>) -> Instant {
        let due = self.due();
        let gather = !self.profiled && self.interval_ns > 0 && self.interval_ns < linger.as_nanos() && due > now;
        match due.checked_add(linger) {
            Some(later) if gather && until.is_none_or(|end| later <= end) => later,
            _ => due,
        }
    }

    /// When the next transaction, made at `now`, counts as made: the time it is stamped with
    /// on the wall clock and timed from (latency, delivery timeout). Its due time when it was
    /// gathered (due by `gathered`, the wake-up that makes together the sales due up to it)
    /// or when it is made at most a linger late (a brief stall of the host: a sale waits that
    /// long for company in its request anyway), so the records' times follow the schedule
    /// through a hiccup; else now: behind schedule by more than that, or flat out (without a
    /// pace the due time never moves). Never after `now`.
    pub fn made(&self, now: Instant, linger: Duration, gathered: Option<Instant>) -> Instant {
        let due = self.due();
        let paced = self.interval_ns > 0 || self.profiled;
        let hiccup = paced && due.checked_add(linger).is_some_and(|within| now <= within);
        if gathered.is_some_and(|until| due <= until) || hiccup { due.min(now) } else { now }
    }

    /// Puts the next transaction at `offset` after the start (a rate profile's arrival).
    pub fn advance_to(&mut self, offset: Duration) {
        self.next_ns = offset.as_nanos();
        self.profiled = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_faster_than_the_linger_are_made_together_a_linger_after_the_first_is_due() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let fast = Schedule::new(t0, Duration::from_micros(500));
        // Not due yet: wake a linger after it is due, and make those due by then with it.
        assert_eq!(fast.wake(t0 - ms(1), ms(5), None), t0 + ms(5));
        // Due already (behind schedule): at once.
        assert_eq!(fast.wake(t0, ms(5), None), t0);
        // No linger, or sales slower than it, or the time limit before the linger ends: at
        // its due time.
        assert_eq!(fast.wake(t0 - ms(1), Duration::ZERO, None), t0);
        assert_eq!(Schedule::new(t0, ms(10)).wake(t0 - ms(1), ms(5), None), t0);
        assert_eq!(Schedule::new(t0, ms(5)).wake(t0 - ms(1), ms(5), None), t0);
        assert_eq!(fast.wake(t0 - ms(1), ms(5), Some(t0 + ms(4))), t0);
        assert_eq!(fast.wake(t0 - ms(1), ms(5), Some(t0 + ms(5))), t0 + ms(5));
        // Flat out (no interval): never waits.
        assert_eq!(Schedule::new(t0, Duration::ZERO).wake(t0 - ms(1), ms(5), None), t0);
        // A rate profile's gaps are random: each sale at its time.
        let mut profiled = Schedule::new(t0, Duration::from_micros(500));
        profiled.advance_to(ms(1));
        assert_eq!(profiled.wake(t0, ms(5), None), t0 + ms(1));
    }

    #[test]
    fn a_sale_counts_from_its_due_time_when_gathered_or_at_most_a_linger_late() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let paced = Schedule::new(t0, Duration::from_micros(500));
        // A stall of the host of up to a linger: still its due time.
        assert_eq!(paced.made(t0 + ms(4), ms(5), None), t0);
        assert_eq!(paced.made(t0 + ms(5), ms(5), None), t0);
        // Later than that: behind schedule, from now.
        assert_eq!(paced.made(t0 + ms(6), ms(5), None), t0 + ms(6));
        // Gathered in a wake-up that makes those due by it: its due time, however late.
        assert_eq!(paced.made(t0 + ms(9), ms(5), Some(t0 + ms(1))), t0);
        assert_eq!(paced.made(t0 + ms(9), ms(5), Some(t0 - ms(1))), t0 + ms(9));
        // Without a linger, a late sale is made now.
        assert_eq!(paced.made(t0 + ms(1), Duration::ZERO, None), t0 + ms(1));
        // Flat out, the due time never moves: always now.
        let flat = Schedule::new(t0, Duration::ZERO);
        assert_eq!(flat.made(t0 + ms(1), ms(5), None), t0 + ms(1));
        // A rate profile's sale a little late: its due time.
        let mut profiled = Schedule::new(t0, Duration::ZERO);
        profiled.advance_to(ms(10));
        assert_eq!(profiled.made(t0 + ms(12), ms(5), None), t0 + ms(10));
        // Never after now (woken early, by a stop).
        assert_eq!(paced.made(t0 - ms(1), ms(5), None), t0 - ms(1));
    }

    #[test]
    fn due_times_are_fixed_multiples_of_the_interval() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Duration::from_millis(250));
        let mut dues = vec![];
        for _ in 0..5 {
            dues.push(s.due() - t0);
            s.advance();
        }
        let ms: Vec<u128> = dues.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 250, 500, 750, 1000]);
    }

    #[test]
    fn work_time_never_accumulates_as_drift() {
        // However late the loop ran, transaction 1000 is still due exactly at 1000 intervals.
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Duration::from_millis(10));
        for _ in 0..1000 {
            s.advance();
        }
        assert_eq!(s.due() - t0, Duration::from_secs(10));
    }

    #[test]
    fn a_late_loop_catches_up_without_waiting() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Duration::from_secs(1));
        s.advance();
        // Five seconds late: transactions 1..=5 are all due now, the sixth is not.
        let now = t0 + Duration::from_secs(5);
        let mut caught_up = 0;
        while !s.ahead(now) {
            s.advance();
            caught_up += 1;
        }
        assert_eq!(caught_up, 5);
        assert!(s.ahead(now));
    }

    #[test]
    fn a_profile_puts_each_transaction_at_its_own_offset() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Duration::from_secs(1));
        s.advance_to(Duration::from_millis(2_500));
        assert_eq!(s.due() - t0, Duration::from_millis(2_500));
        assert!(s.ahead(t0 + Duration::from_secs(2)) && !s.ahead(t0 + Duration::from_secs(3)));
        s.advance_to(Duration::from_millis(2_600));
        assert_eq!(s.due() - t0, Duration::from_millis(2_600));
    }

    #[test]
    fn zero_interval_is_always_due() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Duration::ZERO);
        for _ in 0..10 {
            assert!(!s.ahead(t0));
            s.advance();
        }
    }

    #[test]
    fn fractional_intervals_stay_exact() {
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, Duration::from_secs_f64(1.0 / 3.0));
        for _ in 0..3_000 {
            s.advance();
        }
        let off = (s.due() - t0).as_secs_f64();
        assert!((off - 1000.0).abs() < 1e-5, "{off}");
    }
}
