use super::*;

fn run(window_seconds: u64) -> Run {
    Run { seed: 7, start_time: Some("2025-01-01 00:00:00".into()), instance: "1/1".into(), window_seconds }
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
        t.acked(&fact);
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
    assert_eq!(doc["faults"], serde_json::json!({}));
}

#[test]
fn events_fall_in_the_window_of_their_event_time_start_inclusive_end_exclusive() {
    let mut t = Truth::new("unused".into(), run(60), EVERY);
    t.acked(&sale(1, "LAPTOP-001", 100, 59));
    t.acked(&sale(2, "LAPTOP-001", 200, 60));
    t.acked(&refund(1, "LAPTOP-001", 100, 61));
    t.acked(&sale(3, "LAPTOP-001", 400, -1));
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
    t.acked(&sale(1, "LAPTOP-001", 100, 0));
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
