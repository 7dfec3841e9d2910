//! When sales happen in event time under `PRODUCER_RATE_PROFILE=retail-day`: a Poisson process
//! whose rate follows store hours — closed at night, a morning ramp, lunch and evening peaks,
//! weekends busier — scaled so that the mean gap over a week (the mean over its days) is
//! `PRODUCER_SLEEP_SECONDS`. (`flat`, the default, is the old service's metronome: one sale
//! every `PRODUCER_SLEEP_SECONDS`; the clock steps it, nothing here.)
//!
//! Hours are those of the event-time clock, in UTC. The rate is constant within an hour, so
//! arrivals are drawn exactly by inverting the integrated rate: an Exp(1) draw is spent hour
//! by hour (closed hours cost nothing) until it is used up.

/// Relative weight of each hour of the day (UTC, 00–23), documented in docs/testing-a-streaming-job.md.
pub const HOURS: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, // 00–06 closed
    0.3, 0.6, 0.9, 1.1, 1.5, // 07–11 morning ramp
    2.0, 1.8, // 12–13 lunch peak
    1.1, 1.0, 1.2, // 14–16 afternoon
    1.7, 2.1, 1.8, 1.2, // 17–20 evening peak
    0.5, // 21 closing
    0.0, 0.0, // 22–23 closed
];

/// Relative weight of each day, Monday first: weekends are busier.
pub const DAYS: [f64; 7] = [0.9, 0.9, 0.9, 1.0, 1.1, 1.4, 1.2];

const HOUR_S: f64 = 3600.0;

/// The mean of the 168 hour-of-week weights: rates are divided by it so that the week's
/// mean rate is one sale per mean gap.
fn week_mean() -> f64 {
    DAYS.iter().map(|d| HOURS.iter().map(|h| h * d).sum::<f64>()).sum::<f64>() / 168.0
}

/// The weight of the hour that contains Unix second `s` (relative to the week's mean).
#[cfg(test)]
fn weight_at(s: f64) -> f64 {
    table_weight(s) / week_mean()
}

/// The table's weight of the hour that contains Unix second `s`: its hour's times its day's.
fn table_weight(s: f64) -> f64 {
    let hour = (s / HOUR_S).floor() as i64;
    // 1970-01-01 was a Thursday (index 3, Monday first).
    let day = (hour.div_euclid(24) + 3).rem_euclid(7) as usize;
    HOURS[hour.rem_euclid(24) as usize] * DAYS[day]
}

/// Poisson arrivals of the `retail-day` profile, in event time.
#[derive(Debug, Clone)]
pub struct Arrivals {
    rng: fastrand::Rng,
    /// Unix seconds of the run's event-time start (offsets are from here).
    start_s: f64,
    /// Sales per second per unit of table weight: the week's mean rate is one per mean gap.
    per_weight: f64,
    /// The upcoming sale's offset from the start, in seconds.
    next_s: f64,
}

impl Arrivals {
    /// Arrivals from event time `start_ms` on, `mean_gap_s` (> 0) apart over a week on
    /// average, drawn from `seed` (their own stream: the events' contents do not change).
    pub fn retail_day(start_ms: i64, mean_gap_s: f64, seed: u64) -> Arrivals {
        debug_assert!(mean_gap_s > 0.0);
        let mut a = Arrivals {
            rng: fastrand::Rng::with_seed(seed ^ 0x5EED_A771_7A15_0001),
            start_s: start_ms as f64 / 1000.0,
            per_weight: 1.0 / (week_mean() * mean_gap_s),
            next_s: 0.0,
        };
        a.next_s = a.after(0.0);
        a
    }

    /// The upcoming sale's event time, as nanoseconds after the start.
    pub fn next_ns(&self) -> i128 {
        (self.next_s * 1e9).round() as i128
    }

    /// Moves on to the following sale.
    pub fn advance(&mut self) {
        self.next_s = self.after(self.next_s);
    }

    /// The first arrival after offset `t` (seconds).
    fn after(&mut self, mut t: f64) -> f64 {
        // Exp(1) by inversion; 1 − u is in (0, 1], so the log is finite.
        let mut budget = -(1.0 - self.rng.f64()).ln();
        loop {
            let abs = self.start_s + t;
            let hour_end = ((abs / HOUR_S).floor() + 1.0) * HOUR_S;
            let rate = table_weight(abs) * self.per_weight;
            let room = hour_end - abs;
            if rate * room >= budget {
                return t + budget / rate;
            }
            budget -= rate * room;
            t += room;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MONDAY: i64 = 1_735_516_800_000; // 2024-12-30 00:00:00 UTC, a Monday
    const WEEK_S: f64 = 7.0 * 86_400.0;

    fn week(gap: f64, seed: u64) -> Vec<f64> {
        let mut a = Arrivals::retail_day(MONDAY, gap, seed);
        let mut times = vec![];
        while a.next_s < WEEK_S {
            times.push(a.next_s);
            a.advance();
        }
        times
    }

    #[test]
    fn the_weights_average_one_over_a_week() {
        let mean: f64 =
            (0..168).map(|h| weight_at(MONDAY as f64 / 1000.0 + h as f64 * HOUR_S + 1.0)).sum::<f64>() / 168.0;
        assert!((mean - 1.0).abs() < 1e-12, "{mean}");
        assert_eq!(weight_at(MONDAY as f64 / 1000.0), 0.0, "closed at midnight");
        // 2025-01-04 is a Saturday: its noon is busier than Monday's.
        let monday_noon = MONDAY as f64 / 1000.0 + 12.0 * HOUR_S;
        assert!(weight_at(monday_noon + 5.0 * 86_400.0) > weight_at(monday_noon));
    }

    #[test]
    fn a_week_of_arrivals_has_the_asked_mean_gap_within_one_percent() {
        for (gap, seed) in [(1.0, 1), (0.5, 2), (7.3, 3)] {
            let n = week(gap, seed).len() as f64;
            let expect = WEEK_S / gap;
            assert!((n - expect).abs() < expect * 0.01, "gap {gap}: {n} sales in a week, expected {expect}");
        }
    }

    #[test]
    fn every_hour_gets_its_share_and_closed_hours_none() {
        let times = week(0.5, 4);
        let mut per_hour = [0u64; 168];
        for t in &times {
            per_hour[(t / HOUR_S) as usize] += 1;
        }
        for (h, n) in per_hour.iter().enumerate() {
            let expect = weight_at(MONDAY as f64 / 1000.0 + h as f64 * HOUR_S) * HOUR_S / 0.5;
            // Poisson: within 4 σ of its mean (exactly 0 when closed).
            assert!((*n as f64 - expect).abs() <= 4.0 * expect.sqrt(), "hour {h}: {n}, expected {expect:.0}");
        }
    }

    #[test]
    fn gaps_are_random_not_a_metronome() {
        // Within one open hour the gaps are exponential: their spread equals their mean.
        let times = week(0.5, 5);
        let noon: Vec<f64> = times.iter().copied().filter(|t| (12.0 * HOUR_S..13.0 * HOUR_S).contains(t)).collect();
        let gaps: Vec<f64> = noon.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let sd = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((sd / mean - 1.0).abs() < 0.1, "coefficient of variation {}", sd / mean);
        assert!(times.windows(2).all(|w| w[1] > w[0]), "arrivals move forward");
    }

    #[test]
    fn the_same_seed_gives_the_same_arrivals() {
        assert_eq!(week(2.0, 9), week(2.0, 9));
        assert_ne!(week(2.0, 9), week(2.0, 10));
    }
}
