//! The Produce request (v3–v12), written straight into the connection's buffer. It goes out
//! for every sale: kafka-protocol's `ProduceRequest` cost a tree of allocations per request
//! (the topics, their partitions, a copy of each topic's name) and a generic encoder, all
//! dropped again at once. The bytes are the same; the tests encode both ways and compare.
//!
//! Layout (Kafka protocol guide, Produce request; flexible from v9, KIP-482): transactional_id
//! nullable string, acks int16, timeout_ms int32, then the topics: name string, and its
//! partitions: index int32, records nullable bytes. Flexible versions write strings, bytes and
//! array lengths as unsigned varints of length + 1, and end each structure with its tagged
//! fields (none here: a zero).

use std::ops::Range;

use crate::kafka::batch::put_uvarint as uvarint;
use crate::kafka::window::Tp;

/// Produce v9 is the first flexible version.
const FIRST_FLEXIBLE: i16 = 9;

/// What one Produce request carries: each partition's encoded record batch, by topic index.
pub struct ProduceBody<'a> {
    pub transactional_id: Option<&'a str>,
    pub acks: i16,
    pub timeout_ms: i32,
    /// The producer's topics; `data` names them by index.
    pub topics: &'a [String],
    /// Partitions in the order they go (grouped by topic in the order topics first appear),
    /// each with where its batch is in `encoded`.
    pub data: &'a [(Tp, Range<usize>)],
    /// The encoded record batches.
    pub encoded: &'a [u8],
}

impl ProduceBody<'_> {
    /// Appends the request body (not the header) at `version` to `buf`.
    pub fn write(&self, buf: &mut Vec<u8>, version: i16) {
        let flexible = version >= FIRST_FLEXIBLE;
        let first_of_topic = |i: usize| !self.data[..i].iter().any(|((t, _), _)| *t == self.data[i].0.0);
        string(buf, self.transactional_id, flexible);
        buf.extend_from_slice(&self.acks.to_be_bytes());
        buf.extend_from_slice(&self.timeout_ms.to_be_bytes());
        length(buf, (0..self.data.len()).filter(|&i| first_of_topic(i)).count(), flexible);
        for (i, &((topic, _), _)) in self.data.iter().enumerate() {
            if !first_of_topic(i) {
                continue;
            }
            string(buf, Some(&self.topics[topic]), flexible);
            let partitions = || self.data.iter().filter(|((t, _), _)| *t == topic);
            length(buf, partitions().count(), flexible);
            for ((_, partition), at) in partitions() {
                let records = &self.encoded[at.clone()];
                buf.extend_from_slice(&partition.to_be_bytes());
                if flexible {
                    uvarint(buf, records.len() as u64 + 1);
                } else {
                    buf.extend_from_slice(&(records.len() as i32).to_be_bytes());
                }
                buf.extend_from_slice(records);
                no_tagged_fields(buf, flexible);
            }
            no_tagged_fields(buf, flexible);
        }
        no_tagged_fields(buf, flexible);
    }
}

/// A nullable string: an int16 length (−1: null), or flexible, a varint of length + 1 (0: null).
/// Topic names (at most 249 bytes) and transactional ids (checked by the configuration) fit.
fn string(buf: &mut Vec<u8>, s: Option<&str>, flexible: bool) {
    match (s, flexible) {
        (None, false) => buf.extend_from_slice(&(-1i16).to_be_bytes()),
        (None, true) => buf.push(0),
        (Some(s), false) => {
            debug_assert!(s.len() <= i16::MAX as usize, "a string of {} bytes", s.len());
            buf.extend_from_slice(&(s.len() as i16).to_be_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
        (Some(s), true) => {
            uvarint(buf, s.len() as u64 + 1);
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// An array's length: int32, or flexible, a varint of length + 1.
fn length(buf: &mut Vec<u8>, n: usize, flexible: bool) {
    if flexible {
        uvarint(buf, n as u64 + 1);
    } else {
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    }
}

fn no_tagged_fields(buf: &mut Vec<u8>, flexible: bool) {
    if flexible {
        buf.push(0);
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::ProduceRequest;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{TopicName, TransactionalId};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    use super::*;

    /// The request as kafka-protocol builds it, topics grouped as they first appear.
    fn theirs(body: &ProduceBody, version: i16) -> Vec<u8> {
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for ((t, partition), at) in body.data {
            let name = &body.topics[*t];
            let records = bytes::Bytes::copy_from_slice(&body.encoded[at.clone()]);
            let data = PartitionProduceData::default().with_index(*partition).with_records(Some(records));
            match topics.iter_mut().find(|t| t.name.0.as_str() == name) {
                Some(t) => t.partition_data.push(data),
                None => topics.push(
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(name.clone())))
                        .with_partition_data(vec![data]),
                ),
            }
        }
        let request = ProduceRequest::default()
            .with_transactional_id(body.transactional_id.map(|id| TransactionalId(StrBytes::from_string(id.into()))))
            .with_acks(body.acks)
            .with_timeout_ms(body.timeout_ms)
            .with_topic_data(topics);
        let mut buf = bytes::BytesMut::new();
        request.encode(&mut buf, version).expect("kafka-protocol encodes it");
        buf.to_vec()
    }

    #[test]
    fn writes_what_kafka_protocol_writes_at_every_version() {
        let topics = ["transactions".to_string(), "refunds-with-a-longer-name".to_string()];
        // Interleaved topics; batches of lengths around the varint's one-, two- and three-byte
        // boundaries; an empty one.
        let mut encoded = Vec::new();
        let mut data = Vec::new();
        for (tp, len) in [((0, 2), 126), ((1, 0), 127), ((0, 5), 16_384), ((1, 3), 0), ((0, 0), 300)] {
            let start = encoded.len();
            encoded.extend((0..len).map(|i| (i * 7 + len) as u8));
            data.push((tp, start..encoded.len()));
        }
        for transactional_id in [None, Some("pos-producer-0-of-2")] {
            for acks in [-1, 0, 1] {
                for version in 3..=12 {
                    let body = ProduceBody {
                        transactional_id,
                        acks,
                        timeout_ms: 30_000,
                        topics: &topics,
                        data: &data,
                        encoded: &encoded,
                    };
                    let mut ours = Vec::new();
                    body.write(&mut ours, version);
                    assert_eq!(ours, theirs(&body, version), "v{version}, {transactional_id:?}, acks {acks}");
                }
            }
        }
    }

    #[test]
    fn one_partition_and_none() {
        let topics = ["t".to_string()];
        for version in [3, 8, 9, 12] {
            for data in [vec![((0, 7), 1..6)], vec![]] {
                let encoded = b"xbatchx";
                let body = ProduceBody {
                    transactional_id: None,
                    acks: -1,
                    timeout_ms: 1,
                    topics: &topics,
                    data: &data,
                    encoded,
                };
                let mut ours = vec![0xaa]; // appended after what is there
                body.write(&mut ours, version);
                assert_eq!(ours[0], 0xaa);
                assert_eq!(ours[1..], theirs(&body, version)[..], "v{version}, {} partitions", data.len());
            }
        }
    }
}
