use super::*;
use crate::sim::faults::Malformation;

fn run(window_seconds: u64) -> Run {
    Run {
        seed: 7,
        start_time: Some("2025-01-01 00:00:00".into()),
        instance: "1/1".into(),
        window_seconds,
        watermark_seconds: 120,
    }
}

const EVERY: std::time::Duration = std::time::Duration::from_secs(10);

const T0: i64 = 1_735_689_600_000; // 2025-01-01 00:00:00 UTC

fn sale(id: u64, product: &'static str, cents: u64, at_s: i64) -> Fact {
    Fact::Sale { id, product, store: "STORE-001", cents, at_ms: T0 + at_s * 1000 }
}

fn refund(id: u64, product: &'static str, cents: u64, at_s: i64) -> Fact {
    Fact::Refund { id, product, store: "STORE-002", cents, reason: "defective", at_ms: T0 + at_s * 1000 }
}

fn parse(truth: &Truth, last: bool) -> serde_json::Value {
    serde_json::from_str(&truth.document(last)).expect("the document is JSON")
}

#[test]
fn cents_are_exact_decimal_strings() {
    assert_eq!(decimal(0), "0.00");
    assert_eq!(decimal(5), "0.05");
    assert_eq!(decimal(123_456), "1234.56");
    assert_eq!(decimal(u64::MAX), "184467440737095516.15");
}

#[test]
fn totals_groups_and_id_ranges_sum_what_was_acknowledged() {
    let mut t = Truth::new("unused".into(), run(60), EVERY);
    let empty = parse(&t, false);
    assert_eq!(empty["ids"]["transactions"], serde_json::Value::Null);
    assert_eq!(empty["totals"]["transactions"], 0);
    assert_eq!(empty["windows"], serde_json::json!([]));
    for fact in [sale(3, "LAPTOP-001", 129_999, 0), sale(1, "MOUSE-001", 2_501, 5), refund(1, "MOUSE-001", 2_501, 6)] {
        t.acked(&fact, Marks::default());
    }
    let doc = parse(&t, true);
    assert_eq!(doc["schema"], "pos-producer/truth");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["final"], true);
    assert_eq!(doc["seed"], 7);
    assert_eq!(doc["ids"]["transactions"], serde_json::json!({"first": 1, "last": 3}));
    assert_eq!(doc["ids"]["refunds"], serde_json::json!({"first": 1, "last": 1}));
    let totals = &doc["totals"];
    assert_eq!(totals["transactions"], 2);
    assert_eq!(totals["amount_cents"], 132_500);
    assert_eq!(totals["amount"], "1325.00");
    assert_eq!(totals["refunds"], 1);
    assert_eq!(totals["refund_amount"], "25.01");
    assert_eq!(doc["products"]["MOUSE-001"]["transactions"], 1);
    assert_eq!(doc["products"]["MOUSE-001"]["refund_amount_cents"], 2_501);
    assert_eq!(doc["stores"]["STORE-001"]["transactions"], 2);
    assert_eq!(doc["stores"]["STORE-002"]["refunds"], 1);
    assert_eq!(doc["refund_reasons"]["defective"]["refunds"], 1);
    let none = serde_json::json!({"count": 0, "transactions": [], "refunds": []});
    for fault in ["late", "duplicate", "reordered"] {
        assert_eq!(doc["faults"][fault], none, "{fault}");
    }
    assert_eq!(doc["faults"]["malformed"]["count"], 0);
    assert_eq!(doc["dropped_by_watermark"], none);
    assert_eq!(doc["windows_kept"], doc["windows"], "without faults a correct sink keeps everything");
}

#[test]
fn faults_are_counted_with_their_ids_and_the_kept_windows_are_a_correct_sinks() {
    let mut t = Truth::new("unused".into(), run(60), EVERY);
    let marks = |late, reordered, copy| Marks { late, reordered, copy };
    let plain = Marks::default();
    t.acked(&sale(1, "LAPTOP-001", 100, 200), plain);
    // Stamped 300 s late: past the 120 s watermark of the sales topic, dropped by the sink.
    t.acked(&sale(2, "LAPTOP-001", 1_000, -100), marks(true, false, Copy::Original));
    t.acked(&sale(2, "LAPTOP-001", 1_000, -100), marks(true, false, Copy::Duplicate));
    // A refund stamped at the sales' newest minus 150 s: the refunds topic has its own
    // watermark, and this is its first event.
    t.acked(&refund(1, "LAPTOP-001", 50, 50), marks(true, false, Copy::Original));
    // Held back a little: within the watermark, kept.
    t.acked(&sale(4, "LAPTOP-001", 10, 201), plain);
    t.acked(&sale(3, "LAPTOP-001", 20, 82), marks(false, true, Copy::Original));
    // Exactly at the watermark (201 − 120): dropped, as Spark drops it.
    t.acked(&sale(5, "MOUSE-001", 30, 81), plain);
    t.acked(&sale(4, "LAPTOP-001", 10, 201), marks(false, false, Copy::Duplicate));
    t.acked(&sale(5, "MOUSE-001", 30, 81), marks(false, false, Copy::Malformed(Malformation::NotJson)));
    t.acked(
        &refund(1, "LAPTOP-001", 50, 50),
        marks(false, false, Copy::Malformed(Malformation::WrongType { pick: 0 })),
    );
    let doc = parse(&t, true);
    let hits =
        |tx: &[u64], rf: &[u64]| serde_json::json!({"count": tx.len() + rf.len(), "transactions": tx, "refunds": rf});
    assert_eq!(doc["faults"]["late"], hits(&[2], &[1]));
    assert_eq!(doc["faults"]["duplicate"], hits(&[2, 4], &[]));
    assert_eq!(doc["faults"]["reordered"], hits(&[3], &[]));
    assert_eq!(doc["faults"]["malformed"]["count"], 2);
    assert_eq!(doc["faults"]["malformed"]["not-json"], hits(&[5], &[]));
    assert_eq!(doc["faults"]["malformed"]["wrong-type"], hits(&[], &[1]));
    assert_eq!(doc["faults"]["malformed"]["missing-field"], hits(&[], &[]));
    assert_eq!(doc["dropped_by_watermark"], hits(&[2, 5], &[]));
    // Totals: each event once, malformed copies not at all.
    assert_eq!(doc["totals"]["transactions"], 5);
    assert_eq!(doc["totals"]["amount_cents"], 1_160);
    // As sent: duplicates twice. Kept: each once, none dropped.
    let window = |w: &str, start: &str, product: &str, field: &str| {
        let all = doc[w].as_array().unwrap();
        let found = all.iter().find(|x| x["start"] == start);
        found.map_or(serde_json::Value::Null, |x| x["products"][product][field].clone())
    };
    assert_eq!(window("windows", "2024-12-31 23:58:00", "LAPTOP-001", "transactions"), 2);
    assert_eq!(window("windows_kept", "2024-12-31 23:58:00", "LAPTOP-001", "transactions"), serde_json::Value::Null);
    assert_eq!(window("windows", "2025-01-01 00:03:00", "LAPTOP-001", "amount_cents"), 120);
    assert_eq!(window("windows_kept", "2025-01-01 00:03:00", "LAPTOP-001", "amount_cents"), 110);
    assert_eq!(window("windows", "2025-01-01 00:01:00", "MOUSE-001", "transactions"), 1);
    assert_eq!(window("windows_kept", "2025-01-01 00:01:00", "MOUSE-001", "transactions"), serde_json::Value::Null);
    assert_eq!(window("windows_kept", "2025-01-01 00:01:00", "LAPTOP-001", "transactions"), 1);
    assert_eq!(window("windows_kept", "2025-01-01 00:00:00", "LAPTOP-001", "refunds"), 1);
    assert_eq!(doc["watermark_seconds"], 120);
}

#[test]
fn events_fall_in_the_window_of_their_event_time_start_inclusive_end_exclusive() {
    let mut t = Truth::new("unused".into(), run(60), EVERY);
    t.acked(&sale(1, "LAPTOP-001", 100, 59), Marks::default());
    t.acked(&sale(2, "LAPTOP-001", 200, 60), Marks::default());
    t.acked(&refund(1, "LAPTOP-001", 100, 61), Marks::default());
    t.acked(&sale(3, "LAPTOP-001", 400, -1), Marks::default());
    let doc = parse(&t, false);
    let windows = doc["windows"].as_array().unwrap();
    let starts: Vec<&str> = windows.iter().map(|w| w["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2024-12-31 23:59:00", "2025-01-01 00:00:00", "2025-01-01 00:01:00"]);
    assert_eq!(windows[1]["end"], "2025-01-01 00:01:00");
    assert_eq!(windows[1]["products"]["LAPTOP-001"]["amount_cents"], 100);
    let minute = &windows[2]["products"]["LAPTOP-001"];
    assert_eq!((minute["transactions"].as_u64(), minute["refunds"].as_u64()), (Some(1), Some(1)));
    assert_eq!(minute["amount"], "2.00");
}

#[test]
fn the_file_is_replaced_whole_and_no_temporary_file_is_left() {
    let dir = std::env::temp_dir().join(format!("pos-truth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("truth.json");
    let mut t = Truth::new(path.clone(), run(60), EVERY);
    t.write(false).unwrap();
    t.acked(&sale(1, "LAPTOP-001", 100, 0), Marks::default());
    t.write(true).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!((doc["final"].as_bool(), doc["totals"]["transactions"].as_u64()), (Some(true), Some(1)));
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["truth.json"]);
    let missing = Truth::new(dir.join("no-such-dir/truth.json"), run(60), EVERY);
    let e = missing.write(false).unwrap_err();
    assert!(e.starts_with("cannot write PRODUCER_TRUTH_FILE ") && e.contains("no-such-dir/truth.json: "), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_aborted_record_counts_in_the_windows_and_its_fault_never_in_the_kept_windows_or_totals() {
    let mut t = Truth::new("unused".into(), run(60), EVERY);
    let (s, r) = (sale(4, "MOUSE-001", 2_000, 1), refund(2, "MOUSE-001", 500, 2));
    t.aborted(&s, Marks::default());
    t.aborted(&r, Marks::default());
    // Sent again and committed: counted once as events.
    t.acked(&s, Marks::default());
    t.acked(&r, Marks::default());
    let doc = parse(&t, true);
    assert_eq!(doc["faults"]["aborted"], serde_json::json!({"count": 2, "transactions": [4], "refunds": [2]}));
    assert_eq!(doc["totals"]["transactions"], 1);
    let window = |key: &str| doc[key][0]["products"]["MOUSE-001"].clone();
    assert_eq!((window("windows")["transactions"].clone(), window("windows")["refunds"].clone()), (2.into(), 2.into()));
    assert_eq!(
        (window("windows_kept")["transactions"].clone(), window("windows_kept")["refunds"].clone()),
        (1.into(), 1.into())
    );
}
