//! The process' own numbers under the names every Prometheus client library gives them
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`): CPU from `getrusage`,
//! resident memory from `/proc/self/statm` (absent where there is no `/proc`).

/// User and system CPU time of the whole process (every thread), in seconds.
pub fn cpu_seconds() -> f64 {
    // SAFETY: `getrusage` fills the struct it is given and keeps no pointer to it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Resident memory in bytes, if `/proc` says.
pub fn resident_bytes() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: `sysconf` only reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page > 0).then_some(pages * page as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_grows_with_work_and_memory_is_plausible() {
        let before = cpu_seconds();
        let mut x = 0u64;
        let t0 = std::time::Instant::now();
        while t0.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds() > before, "50 ms of work took no CPU time");
        let rss = resident_bytes().expect("Linux has /proc");
        assert!((100_000.0..10e9).contains(&rss), "{rss}");
    }
}
