//! Create→acknowledge latency of events: a fixed-bucket histogram of atomics (no dependency),
//! filled by the main loop and read by the stats thread. Eight buckets per power of two of
//! microseconds: a reported percentile is the upper edge of its bucket, at most 12.5 % above
//! the true value (exact below 8 µs).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets per power of two.
const SUB: u64 = 8;
/// Enough buckets for every `u64` of microseconds.
const BUCKETS: usize = (SUB + (64 - 3) * SUB) as usize;

/// The bucket of a latency of `us` microseconds.
fn bucket(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let power = 63 - u64::from(us.leading_zeros()); // ≥ 3
    let sub = (us >> (power - 3)) & (SUB - 1);
    (SUB + (power - 3) * SUB + sub) as usize
}

/// The largest latency in microseconds that falls into bucket `index`.
fn upper_edge(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB {
        return index;
    }
    let (power, sub) = ((index - SUB) / SUB + 3, (index - SUB) % SUB);
    let lower = (SUB + sub) << (power - 3);
    lower.saturating_add((1 << (power - 3)) - 1)
}

pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(), max: AtomicU64::new(0) }
    }
}

impl Histogram {
    pub fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(us, Ordering::Relaxed);
    }

    /// The percentiles so far.
    pub fn summary(&self) -> Summary {
        self.read(|a| a.load(Ordering::Relaxed))
    }

    /// The percentiles so far, emptying the histogram for the next period.
    pub fn take(&self) -> Summary {
        self.read(|a| a.swap(0, Ordering::Relaxed))
    }

    fn read(&self, get: impl Fn(&AtomicU64) -> u64) -> Summary {
        let counts: Vec<u64> = self.buckets.iter().map(&get).collect();
        let max_us = get(&self.max);
        let count: u64 = counts.iter().sum();
        let percentile = |q: f64| {
            let rank = ((q * count as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    // Never above the largest latency seen.
                    return Duration::from_micros(upper_edge(i).min(max_us));
                }
            }
            Duration::from_micros(max_us)
        };
        Summary { count, p50: percentile(0.50), p99: percentile(0.99), max: Duration::from_micros(max_us) }
    }
}

/// Upper bounds, in seconds, of the latency buckets `/metrics` shows (Prometheus' `le`): from
/// half a millisecond on a local broker to the two minutes of the default delivery timeout.
pub const LE_SECONDS: [f64; 17] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Latencies counted into the buckets of [`LE_SECONDS`] (and one above the last), with their
/// sum: a Prometheus histogram, exact at its bounds.
pub struct Buckets {
    counts: [AtomicU64; LE_SECONDS.len() + 1],
    sum_ns: AtomicU64,
}

impl Default for Buckets {
    fn default() -> Buckets {
        Buckets { counts: std::array::from_fn(|_| AtomicU64::new(0)), sum_ns: AtomicU64::new(0) }
    }
}

impl Buckets {
    pub fn record(&self, latency: Duration) {
        let secs = latency.as_secs_f64();
        let i = LE_SECONDS.iter().position(|le| secs <= *le).unwrap_or(LE_SECONDS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Cumulative counts at each bound of [`LE_SECONDS`], then the count of all (`+Inf`), and
    /// the sum in seconds.
    pub fn cumulative(&self) -> (Vec<u64>, f64) {
        let mut seen = 0;
        let counts = self
            .counts
            .iter()
            .map(|c| {
                seen += c.load(Ordering::Relaxed);
                seen
            })
            .collect();
        (counts, self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9)
    }
}

/// Percentiles of the latencies recorded over some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 0 {
            return f.write_str("latency -");
        }
        write!(f, "latency p50 {}, p99 {}, max {}", Ms(self.p50), Ms(self.p99), Ms(self.max))
    }
}

/// A latency in milliseconds, with the decimals that matter.
struct Ms(Duration);

impl fmt::Display for Ms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_secs_f64() * 1000.0;
        if ms < 10.0 {
            write!(f, "{ms:.2} ms")
        } else if ms < 10_000.0 {
            write!(f, "{ms:.0} ms")
        } else {
            write!(f, "{:.1} s", ms / 1000.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_within_an_eighth() {
        let mut last = 0;
        for us in (0..100_000u64).chain([1 << 40, u64::MAX / 2, u64::MAX]) {
            let b = bucket(us);
            assert!(b >= last && b < BUCKETS, "{us}");
            last = b;
            let edge = upper_edge(b);
            assert!(edge >= us, "{us} above its bucket's edge {edge}");
            assert!(edge - us <= us / 8, "{us}: edge {edge}");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn prometheus_buckets_count_at_and_below_each_bound_and_sum_in_seconds() {
        let b = Buckets::default();
        for us in [100, 500, 501, 1_000, 7_000, 200_000_000] {
            b.record(Duration::from_micros(us));
        }
        let (counts, sum) = b.cumulative();
        assert_eq!(counts.len(), LE_SECONDS.len() + 1);
        // le 0.0005: 100 µs and exactly 500 µs; le 0.001: and 501 µs, 1 ms; le 0.01: and 7 ms.
        assert_eq!(&counts[..5], &[2, 4, 4, 4, 5]);
        assert_eq!(counts[LE_SECONDS.len() - 1], 5, "200 s is above the last bound");
        assert_eq!(counts[LE_SECONDS.len()], 6);
        assert!((sum - 200.009101).abs() < 1e-9, "{sum}");
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let h = Histogram::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!((s.count, s.max), (100, Duration::from_millis(100)));
        let near = |d: Duration, ms: f64| {
            let got = d.as_secs_f64() * 1000.0;
            got >= ms && got <= ms * 1.125
        };
        assert!(near(s.p50, 50.0), "{s:?}");
        assert!(near(s.p99, 99.0), "{s:?}");
        assert_eq!(s.to_string(), format!("latency p50 {}, p99 {}, max 100 ms", Ms(s.p50), Ms(s.p99)));
        // A period's histogram starts empty again; the summary never exceeds the max seen.
        assert_eq!(h.take().count, 100);
        assert_eq!(h.summary().to_string(), "latency -");
        h.record(Duration::from_micros(1500));
        assert_eq!(h.summary().to_string(), "latency p50 1.50 ms, p99 1.50 ms, max 1.50 ms");
    }
}
