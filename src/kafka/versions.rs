//! Version negotiation: the highest version of each API that both this client and the broker know.
//!
//! References: Kafka protocol guide "Versioning and Compatibility"; KIP-896 (Kafka 4.0 removed
//! Produce v0–2 and Metadata v0–3); KAFKA-18659 (Kafka 4.x advertises Produce min 0 but accepts
//! only v3+, so the advertised minimum is never trusted: v3 is the floor).

use kafka_protocol::messages::ApiKey;

use super::wire::ApiRange;

use super::settings::ProtocolCap;

/// The versions this client can speak, per API: (api, lowest, highest).
/// Metadata ≥ 1 (v0 means "all topics" for an empty list), ≤ 12 (v13 changes nothing we use);
/// Produce 3–12 (v3 = record batch v2; v13 addresses topics by id); Fetch 4–12 (v13 addresses
/// topics by id); ListOffsets 1–7 (later versions add timestamp kinds this client never asks);
/// the transaction APIs as the classic protocol (KIP-98) speaks them: FindCoordinator 1–3 (v0
/// knows only groups, v4 batches keys), AddPartitionsToTxn 0–3 (v4+ is for brokers), EndTxn 0–4
/// (v5 is transactions protocol v2, KIP-890).
pub const KNOWN: [(ApiKey, i16, i16); 11] = [
    (ApiKey::Metadata, 1, 12),
    (ApiKey::Produce, 3, 12),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::FindCoordinator, 1, 3),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 4),
];

/// The negotiated versions of one broker; `None` where the broker knows no version we know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Versions {
    pub metadata: i16,
    pub produce: i16,
    pub create_topics: Option<i16>,
    pub init_producer_id: Option<i16>,
    /// SaslHandshake v1 and SaslAuthenticate (KIP-152), needed with SASL only.
    pub sasl_handshake: Option<i16>,
    pub sasl_authenticate: Option<i16>,
    /// ListOffsets and Fetch: reading the topics' tails to resume ids.
    pub list_offsets: Option<i16>,
    pub fetch: Option<i16>,
    /// The transaction APIs (KIP-98): all three, or no transactions.
    pub find_coordinator: Option<i16>,
    pub add_partitions_to_txn: Option<i16>,
    pub end_txn: Option<i16>,
    /// Transactions protocol v2 (KIP-890): the cluster finalized `transaction.version` 2 and
    /// this broker speaks EndTxn v5 and Produce v12 (no cap asked for).
    pub txn_v2: bool,
}

/// The highest versions Kafka 2.1 knows of each API we use (its ApiVersions answer).
const KAFKA_2_1: [(ApiKey, i16); 11] = [
    (ApiKey::Metadata, 7),
    (ApiKey::Produce, 7),
    (ApiKey::CreateTopics, 3),
    (ApiKey::InitProducerId, 1),
    (ApiKey::SaslHandshake, 1),
    (ApiKey::SaslAuthenticate, 0),
    (ApiKey::ListOffsets, 4),
    (ApiKey::Fetch, 10),
    (ApiKey::FindCoordinator, 2),
    (ApiKey::AddPartitionsToTxn, 1),
    (ApiKey::EndTxn, 1),
];

fn cap_of(cap: Option<ProtocolCap>, api: ApiKey) -> i16 {
    match cap {
        None => i16::MAX,
        Some(ProtocolCap::Kafka2_1) => KAFKA_2_1.iter().find(|(k, _)| *k == api).map_or(i16::MAX, |(_, v)| *v),
    }
}

/// Picks the highest common version of each API, at most `cap`'s; Metadata and Produce are
/// required. `transaction_version`: the cluster's finalized `transaction.version` feature.
pub fn negotiate(
    advertised: &[ApiRange],
    cap: Option<ProtocolCap>,
    transaction_version: i16,
) -> Result<Versions, String> {
    let pick = |api: ApiKey| -> Option<i16> {
        let (_, ours_min, ours_max) = KNOWN.iter().find(|(k, _, _)| *k == api).copied()?;
        let theirs = advertised.iter().find(|v| v.api_key == api as i16)?;
        let v = ours_max.min(theirs.max_version).min(cap_of(cap, api));
        (v >= ours_min && v >= theirs.min_version).then_some(v)
    };
    let required = |api: ApiKey, what: &str| {
        pick(api).ok_or_else(|| {
            let theirs = advertised.iter().find(|v| v.api_key == api as i16);
            let range = theirs.map_or("none".to_string(), |v| format!("v{}–v{}", v.min_version, v.max_version));
            format!("supports {api:?} {range}, but pos-producer needs {what} (Kafka 1.0 or newer)")
        })
    };
    let speaks = |api: ApiKey, v: i16| advertised.iter().any(|r| r.api_key == api as i16 && r.max_version >= v);
    let txn_v2 = cap.is_none()
        && transaction_version >= 2
        && speaks(ApiKey::EndTxn, 5)
        && speaks(ApiKey::Produce, 12)
        && pick(ApiKey::Produce) == Some(12);
    Ok(Versions {
        txn_v2,
        metadata: required(ApiKey::Metadata, "v4 or newer")?,
        produce: required(ApiKey::Produce, "v3 or newer")?,
        create_topics: pick(ApiKey::CreateTopics),
        init_producer_id: pick(ApiKey::InitProducerId),
        sasl_handshake: pick(ApiKey::SaslHandshake),
        sasl_authenticate: pick(ApiKey::SaslAuthenticate),
        list_offsets: pick(ApiKey::ListOffsets),
        fetch: pick(ApiKey::Fetch),
        find_coordinator: pick(ApiKey::FindCoordinator),
        add_partitions_to_txn: pick(ApiKey::AddPartitionsToTxn),
        end_txn: pick(ApiKey::EndTxn),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(key: ApiKey, min: i16, max: i16) -> ApiRange {
        ApiRange { api_key: key as i16, min_version: min, max_version: max }
    }

    /// Kafka 4.x as it advertises itself: Produce min 0 (KAFKA-18659), Metadata from 0.
    fn kafka_4() -> [ApiRange; 11] {
        [
            api(ApiKey::FindCoordinator, 0, 6),
            api(ApiKey::AddPartitionsToTxn, 0, 5),
            api(ApiKey::EndTxn, 0, 5),
            api(ApiKey::ListOffsets, 1, 10),
            api(ApiKey::Fetch, 4, 17),
            api(ApiKey::Produce, 0, 13),
            api(ApiKey::Metadata, 0, 13),
            api(ApiKey::CreateTopics, 2, 7),
            api(ApiKey::InitProducerId, 0, 6),
            api(ApiKey::SaslHandshake, 0, 1),
            api(ApiKey::SaslAuthenticate, 0, 2),
        ]
    }

    fn versions(metadata: i16, produce: i16, create: i16, init: i16, sasl: Option<(i16, i16)>) -> Versions {
        Versions {
            list_offsets: None,
            fetch: None,
            metadata,
            produce,
            create_topics: Some(create),
            init_producer_id: Some(init),
            sasl_handshake: sasl.map(|s| s.0),
            sasl_authenticate: sasl.map(|s| s.1),
            find_coordinator: None,
            add_partitions_to_txn: None,
            end_txn: None,
            txn_v2: false,
        }
    }

    fn txn(find: i16, add: i16, end: i16) -> Versions {
        Versions {
            find_coordinator: Some(find),
            add_partitions_to_txn: Some(add),
            end_txn: Some(end),
            ..Versions::default()
        }
    }

    #[test]
    fn kafka_4_picks_our_highest() {
        let broker = kafka_4();
        let v = negotiate(&broker, None, 0).unwrap();
        let tail = Versions { list_offsets: Some(7), fetch: Some(12), ..versions(12, 12, 7, 5, Some((1, 2))) };
        // EndTxn v5 would be transactions protocol v2 (KIP-890): the classic protocol stops at v4.
        let t = txn(3, 3, 4);
        let want = Versions {
            find_coordinator: t.find_coordinator,
            add_partitions_to_txn: t.add_partitions_to_txn,
            end_txn: t.end_txn,
            ..tail
        };
        assert_eq!(v, want);
    }

    #[test]
    fn kafka_2_1_picks_its_highest() {
        let broker = [
            api(ApiKey::Produce, 0, 7),
            api(ApiKey::Metadata, 0, 7),
            api(ApiKey::CreateTopics, 0, 3),
            api(ApiKey::InitProducerId, 0, 1),
            api(ApiKey::ListOffsets, 0, 4),
            api(ApiKey::Fetch, 0, 10),
            api(ApiKey::FindCoordinator, 0, 2),
            api(ApiKey::AddPartitionsToTxn, 0, 1),
            api(ApiKey::EndTxn, 0, 1),
        ];
        let v = negotiate(&broker, None, 0).unwrap();
        let t = txn(2, 1, 1);
        let want = Versions { list_offsets: Some(4), fetch: Some(10), ..versions(7, 7, 3, 1, None) };
        assert_eq!(
            v,
            Versions {
                find_coordinator: t.find_coordinator,
                add_partitions_to_txn: t.add_partitions_to_txn,
                end_txn: t.end_txn,
                ..want
            }
        );
    }

    #[test]
    fn produce_never_goes_below_v3_whatever_is_advertised() {
        let broker = [api(ApiKey::Produce, 0, 2), api(ApiKey::Metadata, 0, 5)];
        let err = negotiate(&broker, None, 0).unwrap_err();
        assert!(err.contains("Produce v0–v2") && err.contains("needs v3 or newer"), "{err}");
    }

    #[test]
    fn a_broker_whose_minimum_is_above_our_maximum_is_refused() {
        let broker = [api(ApiKey::Produce, 13, 14), api(ApiKey::Metadata, 0, 13)];
        assert!(negotiate(&broker, None, 0).unwrap_err().contains("Produce v13–v14"));
    }

    #[test]
    fn the_2_1_cap_speaks_as_to_a_kafka_2_1_broker() {
        let broker = kafka_4();
        let v = negotiate(&broker, Some(ProtocolCap::Kafka2_1), 2).unwrap();
        let t = txn(2, 1, 1);
        let want = Versions { list_offsets: Some(4), fetch: Some(10), ..versions(7, 7, 3, 1, Some((1, 0))) };
        assert_eq!(
            v,
            Versions {
                find_coordinator: t.find_coordinator,
                add_partitions_to_txn: t.add_partitions_to_txn,
                end_txn: t.end_txn,
                ..want
            }
        );
        // A cap below what the broker accepts leaves nothing to speak: a clear error.
        let kafka_4_without_old_produce = [api(ApiKey::Produce, 8, 13), api(ApiKey::Metadata, 0, 13)];
        assert!(negotiate(&kafka_4_without_old_produce, Some(ProtocolCap::Kafka2_1), 0).is_err());
    }

    #[test]
    fn optional_apis_may_be_missing() {
        let broker = [api(ApiKey::Produce, 3, 9), api(ApiKey::Metadata, 4, 9)];
        let v = negotiate(&broker, None, 0).unwrap();
        assert_eq!((v.produce, v.metadata, v.create_topics, v.init_producer_id), (9, 9, None, None));
        assert!(negotiate(&[api(ApiKey::Produce, 3, 9)], None, 0).unwrap_err().contains("Metadata none"));
    }

    #[test]
    fn transactions_protocol_v2_needs_the_feature_end_txn_v5_produce_v12_and_no_cap() {
        let broker = kafka_4();
        assert!(negotiate(&broker, None, 2).unwrap().txn_v2);
        assert!(!negotiate(&broker, None, 1).unwrap().txn_v2, "the feature not finalized at 2");
        assert!(!negotiate(&broker, Some(ProtocolCap::Kafka2_1), 2).unwrap().txn_v2, "the 2.1 cap");
        let old_end_txn: Vec<ApiRange> = broker
            .iter()
            .map(|r| if r.api_key == ApiKey::EndTxn as i16 { api(ApiKey::EndTxn, 0, 4) } else { *r })
            .collect();
        assert!(!negotiate(&old_end_txn, None, 2).unwrap().txn_v2);
    }
}
