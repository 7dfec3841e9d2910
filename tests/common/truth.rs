//! An independent recount of what a truth file must say, from the events themselves (the
//! dry run's lines or the records read back with kcat): the same shape, computed here from
//! the JSON values with no code of the producer's.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// "1252.82" → 125282, exactly (no float arithmetic on money).
fn cents(amount: &Value) -> u64 {
    let text = amount.to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = format!("{frac:0<2}");
    assert!(frac.len() == 2, "{text}: more than two decimals");
    whole.parse::<u64>().unwrap() * 100 + frac.parse::<u64>().unwrap()
}

/// "2025-01-01 00:01:30" → seconds since the epoch.
fn seconds(text: &str) -> i64 {
    super::event_time(text).assume_utc().unix_timestamp()
}

fn text(secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[derive(Default, Clone, Copy)]
struct Sums {
    sales: u64,
    revenue: u64,
    refunds: u64,
    refunded: u64,
}

impl Sums {
    fn json(&self) -> Value {
        let dec = |c: u64| format!("{}.{:02}", c / 100, c % 100);
        json!({
            "transactions": self.sales, "amount_cents": self.revenue, "amount": dec(self.revenue),
            "refunds": self.refunds, "refund_amount_cents": self.refunded, "refund_amount": dec(self.refunded),
        })
    }
}

fn object(map: &BTreeMap<String, Sums>) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), v.json())).collect())
}

/// The figures a truth file must hold for these event values (transactions and refunds, as
/// JSON text), with windows of `window_seconds`.
pub fn recount<'a>(values: impl IntoIterator<Item = &'a str>, window_seconds: i64) -> Value {
    let (mut totals, mut products, mut stores, mut reasons) =
        (Sums::default(), BTreeMap::new(), BTreeMap::new(), BTreeMap::<String, Sums>::new());
    let mut windows: BTreeMap<i64, BTreeMap<String, Sums>> = BTreeMap::new();
    let (mut sale_ids, mut refund_ids) = (Vec::new(), Vec::new());
    for value in values {
        let v: Value = serde_json::from_str(value).unwrap();
        let product = v["product_id"].as_str().unwrap().to_string();
        let store = v["store_id"].as_str().unwrap().to_string();
        let at = seconds(v["timestamp"].as_str().unwrap());
        let window = at.div_euclid(window_seconds) * window_seconds;
        let mut groups: Vec<&mut Sums> = vec![&mut totals];
        groups.push(products.entry(product.clone()).or_default());
        groups.push(stores.entry(store).or_default());
        if v.get("refund_id").is_some() {
            refund_ids.push(v["refund_id"].as_u64().unwrap());
            let c = cents(&v["refund_amount"]);
            groups.push(reasons.entry(v["reason"].as_str().unwrap().to_string()).or_default());
            groups.push(windows.entry(window).or_default().entry(product).or_default());
            for g in groups {
                g.refunds += 1;
                g.refunded += c;
            }
        } else {
            sale_ids.push(v["transaction_id"].as_u64().unwrap());
            let c = cents(&v["amount"]);
            groups.push(windows.entry(window).or_default().entry(product).or_default());
            for g in groups {
                g.sales += 1;
                g.revenue += c;
            }
        }
    }
    let range = |ids: &[u64]| match (ids.iter().min(), ids.iter().max()) {
        (Some(first), Some(last)) => json!({"first": first, "last": last}),
        _ => Value::Null,
    };
    let windows: Vec<Value> = windows
        .iter()
        .map(|(start, products)| {
            json!({"start": text(*start), "end": text(start + window_seconds), "products": object(products)})
        })
        .collect();
    json!({
        "ids": {"transactions": range(&sale_ids), "refunds": range(&refund_ids)},
        "totals": totals.json(),
        "products": object(&products),
        "stores": object(&stores),
        "refund_reasons": object(&reasons),
        "windows": windows,
    })
}

/// Asserts that the truth document `doc` holds the recount `want` (its every field).
pub fn assert_matches(doc: &Value, want: &Value) {
    for (field, value) in want.as_object().unwrap() {
        assert_eq!(&doc[field], value, "truth file field {field:?}");
    }
}
