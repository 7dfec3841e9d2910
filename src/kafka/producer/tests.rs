use super::*;

#[test]
fn concurrent_transactions_is_retried_by_a_transactional_producer_only() {
    assert!(retriable_for_produce(crate::kafka::txn::CONCURRENT_TRANSACTIONS, true));
    assert!(!retriable_for_produce(crate::kafka::txn::CONCURRENT_TRANSACTIONS, false));
    assert!(retriable_for_produce(6, false) && retriable_for_produce(6, true), "NOT_LEADER_OR_FOLLOWER");
    assert!(!retriable_for_produce(87, true), "INVALID_RECORD");
}

#[test]
fn zstd_is_refused_by_a_broker_before_produce_v7_in_one_line() {
    let e = codec_supported(Codec::Zstd, "old:9092", 6).unwrap_err();
    assert_eq!(
        e.to_string(),
        "broker old:9092 speaks Produce up to v6, and zstd compression needs v7 (Kafka 2.1 or newer): set \
         KAFKA_COMPRESSION to lz4, snappy, gzip or none"
    );
    assert!(!e.is_retriable());
    assert!(codec_supported(Codec::Zstd, "new:9092", 7).is_ok());
    for codec in [Codec::None, Codec::Gzip, Codec::Snappy, Codec::Lz4] {
        assert!(codec_supported(codec, "old:9092", 3).is_ok(), "{codec}");
    }
}
