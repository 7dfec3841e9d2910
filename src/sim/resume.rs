//! Reading back what an earlier run wrote: a sale's JSON into a [`Transaction`] the generator
//! may refund, and a refund's id. A value that is not this contract's (another producer's, or
//! edited by hand) is `None`, never a guess.

use serde::Deserialize;

use super::catalog::{CUSTOMERS, PRODUCTS, STORES};
use super::event::{Cents, CustomerId, EventTime, Transaction};

#[derive(Deserialize)]
struct SaleJson<'a> {
    transaction_id: u64,
    #[serde(borrow)]
    product_id: &'a str,
    #[serde(borrow)]
    store_id: &'a str,
    #[serde(borrow)]
    customer_id: &'a str,
    amount: f64,
}

#[derive(Deserialize)]
struct RefundJson {
    refund_id: u64,
}

#[derive(Deserialize)]
struct SaleIdJson {
    transaction_id: u64,
}

/// The sale a transaction's JSON describes, at `timestamp_ms` (its record's timestamp), if it
/// follows the contract: a catalog product at a price in its range, a known store and customer.
pub fn sale(value: &[u8], timestamp_ms: i64) -> Option<Transaction> {
    let json: SaleJson = serde_json::from_slice(value).ok()?;
    let product = PRODUCTS.iter().find(|p| p.id == json.product_id)?;
    let store = STORES.iter().find(|s| s.id == json.store_id)?;
    let customer: u32 = json.customer_id.strip_prefix("CUST-").filter(|d| d.len() == 4)?.parse().ok()?;
    let cents = (json.amount * 100.0).round();
    let in_range = cents >= product.min_cents as f64 && cents <= product.max_cents as f64;
    if !(1..=CUSTOMERS).contains(&customer) || !in_range || (cents / 100.0 - json.amount).abs() > 1e-9 {
        return None;
    }
    Some(Transaction {
        transaction_id: json.transaction_id,
        product_id: product.id,
        store_id: store.id,
        customer_id: CustomerId(customer),
        amount: Cents(cents as u64),
        timestamp: EventTime(timestamp_ms),
    })
}

/// The `transaction_id` of a sale's JSON (for records written without the id as key).
pub fn transaction_id(value: &[u8]) -> Option<u64> {
    serde_json::from_slice::<SaleIdJson>(value).ok().map(|s| s.transaction_id)
}

/// The `refund_id` of a refund's JSON.
pub fn refund_id(value: &[u8]) -> Option<u64> {
    serde_json::from_slice::<RefundJson>(value).ok().map(|r| r.refund_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Generator;
    use crate::sim::clock::Clock;

    #[test]
    fn every_generated_sale_reads_back_as_itself() {
        let mut g = Generator::new(11, Clock::simulated(1_735_689_600_000, 1.0), 0.5);
        for _ in 0..5000 {
            let (t, r) = g.next();
            let json = serde_json::to_vec(&t).unwrap();
            assert_eq!(sale(&json, t.timestamp.0), Some(t.clone()));
            if let Some(r) = r {
                assert_eq!(refund_id(&serde_json::to_vec(&r).unwrap()), Some(r.refund_id));
            }
        }
    }

    #[test]
    fn values_outside_the_contract_are_not_sales() {
        let ok = r#"{"transaction_id":7,"product_id":"MOUSE-001","store_id":"STORE-002","customer_id":"CUST-0042","amount":20.1,"timestamp":"2025-01-01 00:00:00"}"#;
        assert!(sale(ok.as_bytes(), 0).is_some());
        for bad in [
            ok.replace("MOUSE-001", "TOASTER-001"),
            ok.replace("STORE-002", "STORE-009"),
            ok.replace("CUST-0042", "CUST-1001"),
            ok.replace("CUST-0042", "CUST-42"),
            ok.replace("20.1", "19.99"),
            ok.replace("20.1", "20.105"),
            ok.replace("\"transaction_id\":7", "\"transaction_id\":-7"),
            "not json".to_string(),
            "{}".to_string(),
        ] {
            assert_eq!(sale(bad.as_bytes(), 0), None, "{bad}");
        }
        assert_eq!(refund_id(br#"{"refund_id":12,"original_transaction_id":7}"#), Some(12));
        assert_eq!(refund_id(br#"{"refund":12}"#), None);
        assert_eq!(transaction_id(ok.as_bytes()), Some(7));
        assert_eq!(transaction_id(br#"{"transaction_id":"7"}"#), None);
    }
}
