//! The events' JSON, written straight into a buffer: byte for byte what serde_json writes for
//! them (the tests compare every field kind over its whole range), without its per-event
//! allocations and formatting machinery. This is the hot path of a flat-out run.

use bytes::BufMut;

use super::event::{Cents, CustomerId, EventTime, Refund, Transaction};

/// Writes events' JSON; remembers the date of the last timestamp, which most events share.
#[derive(Debug, Default)]
pub struct Writer {
    /// Unix day and its `YYYY-MM-DD` of the last timestamp written.
    day: Option<(i64, [u8; 10])>,
}

impl Writer {
    pub fn transaction(&mut self, out: &mut impl BufMut, t: &Transaction) {
        out.put_slice(b"{\"transaction_id\":");
        uint(out, t.transaction_id);
        out.put_slice(b",\"product_id\":\"");
        out.put_slice(t.product_id.as_bytes());
        out.put_slice(b"\",\"store_id\":\"");
        out.put_slice(t.store_id.as_bytes());
        customer(out, t.customer_id);
        out.put_slice(b",\"amount\":");
        cents(out, t.amount);
        self.time(out, t.timestamp);
    }

    pub fn refund(&mut self, out: &mut impl BufMut, r: &Refund) {
        out.put_slice(b"{\"refund_id\":");
        uint(out, r.refund_id);
        out.put_slice(b",\"original_transaction_id\":");
        uint(out, r.original_transaction_id);
        out.put_slice(b",\"product_id\":\"");
        out.put_slice(r.product_id.as_bytes());
        out.put_slice(b"\",\"store_id\":\"");
        out.put_slice(r.store_id.as_bytes());
        customer(out, r.customer_id);
        out.put_slice(b",\"refund_amount\":");
        cents(out, r.refund_amount);
        out.put_slice(b",\"reason\":\"");
        out.put_slice(r.reason.as_bytes());
        out.put_u8(b'"');
        self.time(out, r.timestamp);
    }

    /// The last field and the end of the object: `,"timestamp":"YYYY-MM-DD HH:MM:SS"}` (UTC,
    /// seconds truncated), in one piece.
    fn time(&mut self, out: &mut impl BufMut, t: EventTime) {
        let secs = t.0.div_euclid(1000);
        if !(0..=MAX_SECONDS).contains(&secs) {
            // Outside what a simulated clock reaches: the general (slower) form.
            out.put_slice(b",\"timestamp\":\"");
            out.put_slice(t.to_text().as_bytes());
            out.put_slice(b"\"}");
            return;
        }
        let (day, rem) = (secs / 86_400, secs % 86_400);
        let date = match self.day {
            Some((d, date)) if d == day => date,
            _ => {
                let date = civil(day);
                self.day = Some((day, date));
                date
            }
        };
        let [h1, h2] = pair(rem / 3600);
        let [n1, n2] = pair(rem / 60 % 60);
        let [s1, s2] = pair(rem % 60);
        let mut text = *b",\"timestamp\":\"YYYY-MM-DD HH:MM:SS\"}";
        text[14..24].copy_from_slice(&date);
        text[25..33].copy_from_slice(&[h1, h2, b':', n1, n2, b':', s1, s2]);
        out.put_slice(&text);
    }
}

/// Two decimal digits of `n` (0–99).
fn pair(n: i64) -> [u8; 2] {
    let n = n as usize * 2;
    [DIGIT_PAIRS[n], DIGIT_PAIRS[n + 1]]
}

const DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// `n` in decimal, two digits at a time.
pub fn uint(out: &mut impl BufMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    while n >= 100 {
        let two = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        digits[i..i + 2].copy_from_slice(&DIGIT_PAIRS[two..two + 2]);
    }
    if n >= 10 {
        i -= 2;
        digits[i..i + 2].copy_from_slice(&DIGIT_PAIRS[n as usize * 2..n as usize * 2 + 2]);
    } else {
        i -= 1;
        digits[i] = b'0' + n as u8;
    }
    out.put_slice(&digits[i..]);
}

/// The end of the store id before it and the customer field: `","customer_id":"CUST-0042"`.
/// (Catalog strings are ASCII letters, digits, `-` and `_`, which JSON needs no escapes for;
/// a test checks every one.)
fn customer(out: &mut impl BufMut, c: CustomerId) {
    let n = c.0;
    if n > 9999 {
        out.put_slice(format!("\",\"customer_id\":\"CUST-{n:04}\"").as_bytes());
        return;
    }
    let ([a, b], [c, d]) = (pair(i64::from(n / 100)), pair(i64::from(n % 100)));
    let mut text = *b"\",\"customer_id\":\"CUST-0000\"";
    text[22..26].copy_from_slice(&[a, b, c, d]);
    out.put_slice(&text);
}

/// Whole units, or units and one or two decimals without a trailing zero: what the shortest
/// round-trip form of `cents / 100` is for every amount (checked against serde_json).
fn cents(out: &mut impl BufMut, c: Cents) {
    let (units, frac) = (c.0 / 100, c.0 % 100);
    uint(out, units);
    if frac != 0 {
        let [d1, d2] = pair(frac as i64);
        if d2 == b'0' { out.put_slice(&[b'.', d1]) } else { out.put_slice(&[b'.', d1, d2]) }
    }
}

/// The last second of year 9999: later instants have no four-digit year.
const MAX_SECONDS: i64 = 253_402_300_799;

/// `YYYY-MM-DD` of a Unix day (0 ..= the last day of year 9999), by the days-from-civil
/// inverse (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn civil(days: i64) -> [u8; 10] {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let ([y1, y2], [y3, y4]) = (pair(year / 100), pair(year % 100));
    let ([m1, m2], [d1, d2]) = (pair(month), pair(day));
    [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Generator;
    use crate::sim::catalog::{PRODUCTS, REFUND_REASONS, STORES};
    use crate::sim::clock::Clock;

    fn ours(f: impl FnOnce(&mut Vec<u8>)) -> String {
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
            assert_eq!(
                ours(|o| customer(o, CustomerId(c))),
                format!("\",\"customer_id\":{}", serde_json::to_string(&CustomerId(c)).unwrap())
            );
        }
        for n in (0..100_000).chain([u32::MAX as u64, (1 << 53) - 1, u64::MAX - 1, u64::MAX]) {
            assert_eq!(ours(|o| uint(o, n)), n.to_string());
        }
    }

    #[test]
    fn times_are_written_as_the_contract_text_across_the_calendar() {
        let mut rng = fastrand::Rng::with_seed(3);
        let edges = [0, 999, 1000, 951_782_400_000, 4_107_542_400_000, MAX_SECONDS * 1000 + 999, -1, -86_400_001];
        let samples = (0..200_000).map(|_| rng.i64(0..=MAX_SECONDS * 1000)).chain(edges).chain([i64::MAX, i64::MIN]);
        let mut w = Writer::default();
        for ms in samples {
            let t = EventTime(ms);
            assert_eq!(
                ours(|o| w.time(o, t)),
                format!(",\"timestamp\":{}}}", serde_json::to_string(&t).unwrap()),
                "{ms}"
            );
        }
        // Every day of four centuries (leap years by all three rules), and each second of one
        // day after another day was cached.
        for day in 0..146_097i64 {
            let t = EventTime(day * 86_400_000 + 45_296_000);
            assert_eq!(
                ours(|o| w.time(o, t)),
                format!(",\"timestamp\":{}}}", serde_json::to_string(&t).unwrap()),
                "day {day}"
            );
        }
        for second in 0..86_400i64 {
            let t = EventTime(1_735_689_600_000 + second * 1000 + 999);
            assert_eq!(
                ours(|o| w.time(o, t)),
                format!(",\"timestamp\":{}}}", serde_json::to_string(&t).unwrap()),
                "second {second}"
            );
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
        let (mut w, mut out) = (Writer::default(), Vec::new());
        for _ in 0..50_000 {
            let (t, r) = g.next();
            out.clear();
            w.transaction(&mut out, &t);
            assert_eq!(out, serde_json::to_vec(&t).unwrap());
            if let Some(r) = r {
                out.clear();
                w.refund(&mut out, &r);
                assert_eq!(out, serde_json::to_vec(&r).unwrap());
            }
        }
    }
}
