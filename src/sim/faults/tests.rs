use std::collections::HashMap;

use super::*;
use crate::sim::Generator;
use crate::sim::clock::Clock;
use crate::sim::json::Writer;

const N: u64 = 100_000;

fn faults(late: f64, duplicate: f64, malformed: f64, out_of_order: f64) -> Faults {
    Faults { late, late_seconds: 300.0, duplicate, malformed, out_of_order }
}

/// `n` steps of a generator (a sale, maybe a refund) through an injector: what was made,
/// and what is sent, in order.
fn through(f: Faults, n: u64) -> (Vec<Made>, Vec<(Made, Marks)>) {
    let mut g = Generator::new(21, Clock::simulated(1_735_689_600_000, 1.0), 0.3);
    let mut injector = Injector::new(f, 21).expect("faults asked for");
    let (mut made, mut out) = (vec![], vec![]);
    for _ in 0..n {
        let (t, r) = g.next();
        for m in std::iter::once(Made::Sale(t)).chain(r.map(Made::Refund)) {
            made.push(m.clone());
            injector.pass(m, &mut out);
        }
    }
    injector.flush(&mut out);
    (made, out)
}

fn id(m: &Made) -> (bool, u64) {
    match m {
        Made::Sale(t) => (true, t.transaction_id),
        Made::Refund(r) => (false, r.refund_id),
    }
}

fn json(m: &Made) -> Vec<u8> {
    let mut out = Vec::new();
    match m {
        Made::Sale(t) => Writer::default().transaction(&mut out, t),
        Made::Refund(r) => Writer::default().refund(&mut out, r),
    }
    out
}

/// Within 4 σ of a binomial(n, p) count.
fn near(count: usize, n: usize, p: f64, what: &str) {
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    assert!((count as f64 - n as f64 * p).abs() <= 4.0 * sigma, "{what}: {count} of {n}, p = {p}");
}

#[test]
fn no_fault_asked_means_no_injector() {
    assert!(Injector::new(faults(0.0, 0.0, 0.0, 0.0), 1).is_none());
    assert!(Injector::new(faults(0.0, 0.0, 0.0, 0.01), 1).is_some());
}

#[test]
fn each_fault_hits_its_share_of_events_within_four_sigma() {
    let (made, out) = through(faults(0.05, 0.02, 0.01, 0.03), N);
    let n = made.len();
    let originals: Vec<&(Made, Marks)> = out.iter().filter(|(_, m)| m.copy == Copy::Original).collect();
    assert_eq!(originals.len(), n, "every event is sent once as itself");
    let sales = originals.iter().filter(|(m, _)| matches!(m, Made::Sale(_))).count();
    let late_sales = originals.iter().filter(|(m, k)| matches!(m, Made::Sale(_)) && k.late).count();
    near(late_sales, sales, 0.05, "late sales");
    near(originals.iter().filter(|(_, k)| k.reordered).count(), n, 0.03, "reordered");
    near(out.iter().filter(|(_, k)| k.copy == Copy::Duplicate).count(), n, 0.02, "duplicates");
    let broken: Vec<Malformation> = out
        .iter()
        .filter_map(|(_, k)| match k.copy {
            Copy::Malformed(m) => Some(m),
            _ => None,
        })
        .collect();
    near(broken.len(), n, 0.01, "malformed");
    // Everything but the broken copies keeps the contract's fields with their types (the
    // order is the JSON writer's, tested beside it).
    let sale_fields = ["transaction_id", "product_id", "store_id", "customer_id", "amount", "timestamp"];
    let refund_fields = [
        "refund_id",
        "original_transaction_id",
        "product_id",
        "store_id",
        "customer_id",
        "refund_amount",
        "reason",
        "timestamp",
    ];
    for (m, _) in out.iter().filter(|(_, k)| !matches!(k.copy, Copy::Malformed(_))) {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&json(m)).unwrap();
        let mut keys: Vec<&str> = v.keys().map(String::as_str).collect();
        let mut want = if matches!(m, Made::Sale(_)) { sale_fields.to_vec() } else { refund_fields.to_vec() };
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
        let numeric = ["transaction_id", "refund_id", "original_transaction_id", "amount", "refund_amount"];
        assert!(v.iter().all(|(k, x)| x.is_number() == numeric.contains(&k.as_str())), "{v:?}");
    }
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for m in &broken {
        *kinds.entry(m.name()).or_default() += 1;
    }
    for kind in ["not-json", "missing-field", "wrong-type"] {
        near(kinds[kind], broken.len(), 1.0 / 3.0, kind);
    }
}

#[test]
fn late_events_are_stamped_late_and_refunds_never_before_their_sale() {
    let (made, out) = through(faults(0.2, 0.0, 0.0, 0.0), 20_000);
    let before: HashMap<(bool, u64), EventTime> = made
        .iter()
        .map(|m| {
            (
                id(m),
                match m {
                    Made::Sale(t) => t.timestamp,
                    Made::Refund(r) => r.timestamp,
                },
            )
        })
        .collect();
    let mut sale_stamps = HashMap::new();
    let mut late_refunds = 0;
    for (m, marks) in &out {
        match m {
            Made::Sale(t) => {
                let true_time = before[&id(m)];
                let want = if marks.late { EventTime(true_time.0 - 300_000) } else { true_time };
                assert_eq!(t.timestamp, want, "{t:?}");
                sale_stamps.insert(t.transaction_id, t.timestamp);
            }
            Made::Refund(r) => {
                assert!(r.timestamp >= sale_stamps[&r.original_transaction_id], "{r:?} before its sale");
                assert_eq!(marks.late, r.timestamp < before[&id(m)], "{r:?}");
                late_refunds += usize::from(marks.late);
            }
        }
    }
    assert!(late_refunds > 100, "refunds are made late too ({late_refunds})");
}

#[test]
fn held_events_and_duplicates_come_a_few_events_later_and_duplicates_are_identical() {
    let (made, out) = through(faults(0.0, 0.1, 0.0, 0.1), 20_000);
    let position: HashMap<(bool, u64), usize> = made.iter().enumerate().map(|(i, m)| (id(m), i)).collect();
    let mut sent_at = HashMap::new();
    let mut originals_sent = 0usize;
    let mut newest_sent: Option<usize> = None;
    for (m, marks) in &out {
        match marks.copy {
            Copy::Original => {
                let made_at = position[&id(m)];
                if marks.reordered {
                    // Held behind 1 to FEW events made after it.
                    assert!(newest_sent.is_some_and(|n| n > made_at), "{m:?} was not held");
                    assert!(originals_sent <= made_at + FEW as usize, "{m:?} held too long");
                } else {
                    assert_eq!(&made[made_at], m, "unchanged");
                }
                newest_sent = newest_sent.max(Some(made_at));
                sent_at.insert(id(m), originals_sent);
                originals_sent += 1;
            }
            Copy::Duplicate => {
                let first = sent_at[&id(m)];
                assert!(originals_sent > first && originals_sent <= first + 4 * FEW as usize, "{m:?}");
                assert_eq!(json(m), json(&made[position[&id(m)]]), "a duplicate is byte for byte its event");
            }
            Copy::Malformed(_) => unreachable!(),
        }
    }
    assert_eq!(originals_sent, made.len());
}

#[test]
fn malformed_copies_are_really_malformed() {
    let (_, out) = through(faults(0.0, 0.0, 0.5, 0.0), 4_000);
    let mut seen = HashMap::new();
    for (m, marks) in &out {
        let Copy::Malformed(how) = marks.copy else { continue };
        let text = malform(&json(m), how);
        *seen.entry(how.name()).or_insert(0) += 1;
        let parsed: Result<serde_json::Map<String, serde_json::Value>, _> = serde_json::from_slice(&text);
        let fields = if matches!(m, Made::Sale(_)) { 6 } else { 8 };
        match how {
            Malformation::NotJson => assert!(parsed.is_err(), "{}", String::from_utf8_lossy(&text)),
            Malformation::MissingField { .. } => assert_eq!(parsed.unwrap().len(), fields - 1),
            Malformation::WrongType { .. } => {
                let map = parsed.unwrap();
                assert_eq!(map.len(), fields);
                let strings = map.values().filter(|v| v.as_str() == Some("n/a")).count();
                assert_eq!(strings, 1, "{map:?}");
                let (key, _) = map.iter().find(|(_, v)| v.as_str() == Some("n/a")).unwrap();
                let numeric = ["transaction_id", "amount", "refund_id", "original_transaction_id", "refund_amount"];
                assert!(numeric.contains(&key.as_str()), "{key}");
            }
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn the_header_names_every_fault_a_record_carries() {
    let m = |late, reordered, copy| Marks { late, reordered, copy };
    assert_eq!(m(false, false, Copy::Original).names(), None);
    assert_eq!(m(true, true, Copy::Original).names(), Some("late,reordered"));
    assert_eq!(m(false, true, Copy::Original).names(), Some("reordered"));
    assert_eq!(m(true, false, Copy::Duplicate).names(), Some("late,duplicate"));
    assert_eq!(m(true, false, Copy::Malformed(Malformation::NotJson)).names(), Some("malformed"));
}

#[test]
fn every_event_held_back_still_flows_a_few_at_a_time() {
    // With p = 1 no more than FEW events wait at once: the others go, and let them go.
    let mut g = Generator::new(2, Clock::simulated(1_735_689_600_000, 1.0), 0.0);
    let mut injector = Injector::new(faults(0.0, 0.0, 0.0, 1.0), 2).unwrap();
    let mut out = vec![];
    for i in 1..=10_000u64 {
        injector.pass(Made::Sale(g.next().0), &mut out);
        assert!(out.len() as u64 + u64::from(FEW) >= i, "{} of {i} sent", out.len());
    }
    let reordered = out.iter().filter(|(_, k)| k.reordered).count();
    assert!(reordered > 5_000, "{reordered}");
}
