//! The two events of the data contract and their exact JSON form (field order, numbers, time).

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

/// An amount of money in integer cents; serialized as a JSON number with at most two decimals
/// (`1299.99`, `20.1`, `35`), never as a float artefact such as `20.099999999999998`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cents(pub u64);

impl Serialize for Cents {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(100) {
            s.serialize_u64(self.0 / 100)
        } else {
            // The quotient of two exactly representable integers is correctly rounded, so the
            // shortest round-trip form the serializer prints is the two-decimal one.
            s.serialize_f64(self.0 as f64 / 100.0)
        }
    }
}

/// An instant in milliseconds since the Unix epoch, serialized as UTC `YYYY-MM-DD HH:MM:SS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventTime(pub i64);

impl EventTime {
    /// The contract's text form; seconds are truncated, never rounded up into the future.
    pub fn to_text(self) -> String {
        let dt = OffsetDateTime::from_unix_timestamp(self.0.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )
    }
}

impl Serialize for EventTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.to_text())
    }
}

/// A customer id, `CUST-0001` ..= `CUST-1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerId(pub u32);

impl Serialize for CustomerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("CUST-{:04}", self.0))
    }
}

/// A sale. Field order is part of the contract: serde keeps declaration order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Transaction {
    pub transaction_id: u64,
    pub product_id: &'static str,
    pub store_id: &'static str,
    pub customer_id: CustomerId,
    pub amount: Cents,
    pub timestamp: EventTime,
}

/// A refund of an earlier sale. Field order is part of the contract.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Refund {
    pub refund_id: u64,
    pub original_transaction_id: u64,
    pub product_id: &'static str,
    pub store_id: &'static str,
    pub customer_id: CustomerId,
    pub refund_amount: Cents,
    pub reason: &'static str,
    pub timestamp: EventTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }

    #[test]
    fn cents_print_with_at_most_two_decimals_and_parse_back_exactly() {
        // Every amount the catalog can produce, and then some.
        for c in 0..=200_000u64 {
            let text = json(&Cents(c));
            if let Some((_, frac)) = text.split_once('.') {
                assert!(frac.len() <= 2 && !frac.ends_with('0'), "{c} -> {text}");
            }
            let back: f64 = text.parse().unwrap();
            assert_eq!((back * 100.0).round() as u64, c, "{c} -> {text}");
        }
        assert_eq!(json(&Cents(129_999)), "1299.99");
        assert_eq!(json(&Cents(20_10)), "20.1");
        assert_eq!(json(&Cents(35_00)), "35");
        assert_eq!(json(&Cents(20_01)), "20.01");
    }

    #[test]
    fn timestamps_are_utc_and_truncated_to_the_second() {
        assert_eq!(EventTime(0).to_text(), "1970-01-01 00:00:00");
        assert_eq!(EventTime(1_735_734_896_999).to_text(), "2025-01-01 12:34:56");
    }

    #[test]
    fn transaction_fields_in_contract_order() {
        let t = Transaction {
            transaction_id: 12345,
            product_id: "LAPTOP-001",
            store_id: "STORE-002",
            customer_id: CustomerId(42),
            amount: Cents(129_999),
            timestamp: EventTime(1_735_734_896_000),
        };
        assert_eq!(
            json(&t),
            r#"{"transaction_id":12345,"product_id":"LAPTOP-001","store_id":"STORE-002","customer_id":"CUST-0042","amount":1299.99,"timestamp":"2025-01-01 12:34:56"}"#
        );
    }

    #[test]
    fn refund_fields_in_contract_order() {
        let r = Refund {
            refund_id: 1001,
            original_transaction_id: 12345,
            product_id: "LAPTOP-001",
            store_id: "STORE-002",
            customer_id: CustomerId(42),
            refund_amount: Cents(64_999),
            reason: "defective",
            timestamp: EventTime(1_735_740_000_000),
        };
        assert_eq!(
            json(&r),
            r#"{"refund_id":1001,"original_transaction_id":12345,"product_id":"LAPTOP-001","store_id":"STORE-002","customer_id":"CUST-0042","refund_amount":649.99,"reason":"defective","timestamp":"2025-01-01 14:00:00"}"#
        );
    }
}
