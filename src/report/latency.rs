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
