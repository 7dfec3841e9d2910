//! The events' JSON, written straight into a buffer: byte for byte what serde_json writes for
//! them (the tests compare every field kind over its whole range), without its per-event
//! allocations and formatting machinery. This is the hot path of a flat-out run.

use super::event::{Cents, CustomerId, EventTime, Refund, Transaction};

/// An event that writes its contract JSON.
pub trait WriteJson {
    fn write_json(&self, out: &mut Vec<u8>);
}

impl WriteJson for Transaction {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"transaction_id\":");
        uint(out, self.transaction_id);
        text(out, b",\"product_id\":", self.product_id);
        text(out, b",\"store_id\":", self.store_id);
        out.extend_from_slice(b",\"customer_id\":");
        customer(out, self.customer_id);
        out.extend_from_slice(b",\"amount\":");
        cents(out, self.amount);
        out.extend_from_slice(b",\"timestamp\":");
        time(out, self.timestamp);
        out.push(b'}');
    }
}

impl WriteJson for Refund {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"refund_id\":");
        uint(out, self.refund_id);
        out.extend_from_slice(b",\"original_transaction_id\":");
        uint(out, self.original_transaction_id);
        text(out, b",\"product_id\":", self.product_id);
        text(out, b",\"store_id\":", self.store_id);
        out.extend_from_slice(b",\"customer_id\":");
        customer(out, self.customer_id);
        out.extend_from_slice(b",\"refund_amount\":");
        cents(out, self.refund_amount);
        text(out, b",\"reason\":", self.reason);
        out.extend_from_slice(b",\"timestamp\":");
        time(out, self.timestamp);
        out.push(b'}');
    }
}

/// `n` in decimal.
pub fn uint(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// A field and its value, a catalog string: ASCII letters, digits, `-` and `_`, which JSON
/// needs no escapes for (a test checks every one).
fn text(out: &mut Vec<u8>, field: &[u8], value: &str) {
    out.extend_from_slice(field);
    out.push(b'"');
    out.extend_from_slice(value.as_bytes());
    out.push(b'"');
}

fn customer(out: &mut Vec<u8>, c: CustomerId) {
    let n = c.0;
    if n > 9999 {
        out.extend_from_slice(format!("\"CUST-{n:04}\"").as_bytes());
        return;
    }
    let d = |k: u32| b'0' + (n / k % 10) as u8;
    out.extend_from_slice(&[b'"', b'C', b'U', b'S', b'T', b'-', d(1000), d(100), d(10), d(1), b'"']);
}

/// Whole units, or units and one or two decimals without a trailing zero: what the shortest
/// round-trip form of `cents / 100` is for every amount (checked against serde_json).
fn cents(out: &mut Vec<u8>, c: Cents) {
    let (units, frac) = (c.0 / 100, c.0 % 100);
    uint(out, units);
    if frac != 0 {
        out.push(b'.');
        out.push(b'0' + (frac / 10) as u8);
        if frac % 10 != 0 {
            out.push(b'0' + (frac % 10) as u8);
        }
    }
}

/// The last second of year 9999: later instants have no four-digit year.
const MAX_SECONDS: i64 = 253_402_300_799;

/// `"YYYY-MM-DD HH:MM:SS"` (UTC, seconds truncated), by the days-from-civil inverse
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn time(out: &mut Vec<u8>, t: EventTime) {
    let secs = t.0.div_euclid(1000);
    if !(0..=MAX_SECONDS).contains(&secs) {
        // Outside what a simulated clock reaches: the general (slower) form.
        out.push(b'"');
        out.extend_from_slice(t.to_text().as_bytes());
        out.push(b'"');
        return;
    }
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let two = |n: i64| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    let [y1, y2] = two(year / 100);
    let [y3, y4] = two(year % 100);
    let [m1, m2] = two(month);
    let [d1, d2] = two(day);
    let [h1, h2] = two(rem / 3600);
    let [n1, n2] = two(rem / 60 % 60);
    let [s1, s2] = two(rem % 60);
    out.extend_from_slice(&[
        b'"', y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2, b' ', h1, h2, b':', n1, n2, b':', s1, s2, b'"',
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Generator;
    use crate::sim::catalog::{PRODUCTS, REFUND_REASONS, STORES};
    use crate::sim::clock::Clock;

    fn ours(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_amount_is_written_as_serde_json_writes_it() {
        for c in 0..=200_000u64 {
            assert_eq!(ours(|o| cents(o, Cents(c))), serde_json::to_string(&Cents(c)).unwrap(), "{c}");
        }
    }

    #[test]
    fn every_customer_and_numbers_at_the_edges_are_written_as_serde_json_writes_them() {
        for c in 0..=10_001u32 {
            assert_eq!(ours(|o| customer(o, CustomerId(c))), serde_json::to_string(&CustomerId(c)).unwrap());
        }
        for n in [0, 1, 9, 10, 99, 100, 12345, u32::MAX as u64, (1 << 53) - 1, u64::MAX] {
            assert_eq!(ours(|o| uint(o, n)), n.to_string());
        }
    }

    #[test]
    fn times_are_written_as_the_contract_text_across_the_calendar() {
        let mut rng = fastrand::Rng::with_seed(3);
        let edges = [0, 999, 1000, 951_782_400_000, 4_107_542_400_000, MAX_SECONDS * 1000 + 999, -1, -86_400_001];
        let samples = (0..200_000).map(|_| rng.i64(0..=MAX_SECONDS * 1000)).chain(edges).chain([i64::MAX, i64::MIN]);
        for ms in samples {
            let t = EventTime(ms);
            assert_eq!(ours(|o| time(o, t)), serde_json::to_string(&t).unwrap(), "{ms}");
        }
        // Every day of four centuries (leap years by all three rules).
        for day in 0..146_097i64 {
            let t = EventTime(day * 86_400_000 + 45_296_000);
            assert_eq!(ours(|o| time(o, t)), serde_json::to_string(&t).unwrap(), "day {day}");
        }
    }

    #[test]
    fn catalog_strings_need_no_json_escapes() {
        let all = PRODUCTS.iter().map(|p| p.id).chain(STORES.iter().map(|s| s.id)).chain(REFUND_REASONS);
        for s in all {
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{s}");
        }
    }

    #[test]
    fn every_event_is_byte_for_byte_serde_jsons() {
        let mut g = Generator::new(5, Clock::simulated(1_735_689_600_000, 7.3), 0.5);
        let mut out = Vec::new();
        for _ in 0..50_000 {
            let (t, r) = g.next();
            out.clear();
            t.write_json(&mut out);
            assert_eq!(out, serde_json::to_vec(&t).unwrap());
            if let Some(r) = r {
                out.clear();
                r.write_json(&mut out);
                assert_eq!(out, serde_json::to_vec(&r).unwrap());
            }
        }
    }
}
