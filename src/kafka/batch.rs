//! Record batches (RecordBatch v2), written straight into the encoding buffer: no per-record
//! allocation, and the headers every record of a topic shares written from one precomputed
//! block. Uncompressed, the bytes are kafka-protocol's for the same batch (a test compares
//! them); compressed, the records are assembled in a [`Scratch`] and packed by
//! [`compression`], framed as the Java client frames them.
//!
//! Reference: Kafka protocol guide, "Record Batch" and "Record"; varints are zigzag-encoded
//! (protobuf style), the checksum is CRC-32C of everything from the attributes on.

use bytes::BufMut;

use super::compression::{self, Codec};
use super::window::Record;

/// The headers every record of a topic carries, as written: their count, and each key and
/// value with their lengths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    count: usize,
    pairs: Vec<u8>,
}

impl HeaderBlock {
    pub fn new(headers: &[(String, String)]) -> HeaderBlock {
        let mut pairs = Vec::new();
        for (key, value) in headers {
            put_pair(&mut pairs, key, value);
        }
        HeaderBlock { count: headers.len(), pairs }
    }

    /// The bytes it adds to a record (its count included).
    pub fn len(&self) -> usize {
        varint_len(self.count as i64) + self.pairs.len()
    }
}

fn put_pair(out: &mut impl BufMut, key: &str, value: &str) {
    put_varint(out, key.len() as i64);
    out.put_slice(key.as_bytes());
    put_varint(out, value.len() as i64);
    out.put_slice(value.as_bytes());
}

/// Producer id, epoch and first sequence of an idempotent batch; `None`: not idempotent.
pub type Identity = Option<(i64, i16, i32)>;

/// The batch attribute of a transaction's batches.
pub const TRANSACTIONAL: i16 = 1 << 4;

/// What a compressed batch is assembled in, kept from batch to batch for its capacity.
#[derive(Debug, Default)]
pub struct Scratch {
    records: Vec<u8>,
    packed: Vec<u8>,
}

/// Appends one batch of `records` (at least one) to `buf`, compressed with `codec`.
/// `headers`: what every record carries; a record's own `header` follows them.
/// `transactional`: the batch belongs to a transaction (KIP-98; attribute bit 4).
pub fn write(
    buf: &mut Vec<u8>,
    records: &[Record],
    identity: Identity,
    transactional: bool,
    headers: &HeaderBlock,
    codec: Codec,
    scratch: &mut Scratch,
) {
    let base_ts = records.iter().map(|r| r.timestamp_ms).min().unwrap_or(0);
    let max_ts = records.iter().map(|r| r.timestamp_ms).max().unwrap_or(0);
    let (producer_id, epoch, sequence) = identity.unwrap_or((-1, -1, -1));
    buf.put_i64(0); // base offset
    let length_at = buf.len();
    buf.put_i32(0); // batch length, below
    buf.put_i32(-1); // partition leader epoch
    buf.put_i8(2); // magic
    let crc_at = buf.len();
    buf.put_u32(0); // checksum, below
    let checked_from = buf.len();
    // Attributes: the codec, create time, transactional or not.
    buf.put_i16(codec.attributes() | if transactional { TRANSACTIONAL } else { 0 });
    buf.put_i32(records.len() as i32 - 1); // last offset delta
    buf.put_i64(base_ts);
    buf.put_i64(max_ts);
    buf.put_i64(producer_id);
    buf.put_i16(epoch);
    buf.put_i32(sequence);
    buf.put_i32(records.len() as i32);
    if codec == Codec::None {
        put_records(buf, records, base_ts, headers);
    } else {
        scratch.records.clear();
        scratch.packed.clear();
        put_records(&mut scratch.records, records, base_ts, headers);
        compression::compress(codec, &scratch.records, &mut scratch.packed);
        buf.put_slice(&scratch.packed);
    }
    let length = (buf.len() - length_at - 4) as i32;
    buf[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&buf[checked_from..]);
    buf[crc_at..crc_at + 4].copy_from_slice(&crc.to_be_bytes());
}

/// The records themselves, each with its length, deltas, key, value and headers.
fn put_records(buf: &mut impl BufMut, records: &[Record], base_ts: i64, headers: &HeaderBlock) {
    for (delta, r) in records.iter().enumerate() {
        let ts_delta = r.timestamp_ms - base_ts;
        let count = (headers.count + usize::from(r.header.is_some())) as i64;
        let own =
            r.header.map_or(0, |(k, v)| varint_len(k.len() as i64) + k.len() + varint_len(v.len() as i64) + v.len());
        let body = 1
            + varint_len(ts_delta)
            + varint_len(delta as i64)
            + varint_len(r.key.len() as i64)
            + r.key.len()
            + varint_len(r.value.len() as i64)
            + r.value.len()
            + varint_len(count)
            + headers.pairs.len()
            + own;
        put_varint(buf, body as i64);
        buf.put_i8(0); // record attributes
        put_varint(buf, ts_delta);
        put_varint(buf, delta as i64);
        put_varint(buf, r.key.len() as i64);
        buf.put_slice(&r.key);
        put_varint(buf, r.value.len() as i64);
        buf.put_slice(&r.value);
        put_varint(buf, count);
        buf.put_slice(&headers.pairs);
        if let Some((key, value)) = r.header {
            put_pair(buf, key, value);
        }
    }
}

/// A zigzag varint (protobuf `sint64`), as Kafka's records use for every variable length.
fn put_varint(buf: &mut impl BufMut, value: i64) {
    put_uvarint(buf, ((value << 1) ^ (value >> 63)) as u64);
}

/// An unsigned varint, seven bits a byte, low first: the zigzag varint's body, and the
/// lengths of flexible protocol versions (KIP-482).
pub fn put_uvarint(buf: &mut impl BufMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn varint_len(value: i64) -> usize {
    let v = ((value << 1) ^ (value >> 63)) as u64;
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        self as kr, Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn records(n: usize) -> Vec<Record> {
        (0..n)
            .map(|i| Record {
                topic: 0,
                key: Bytes::from(format!("{}", 1000 + i * 977)),
                value: Bytes::from(format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i * 37 % 300))),
                timestamp_ms: 1_735_689_600_000 + (i as i64 * 1500) % 7_000,
                header: (i % 5 == 2).then_some(&("pos-fault", "late,reordered")),
            })
            .collect()
    }

    fn headers() -> Vec<(String, String)> {
        vec![("event_type".into(), "transaction".into()), ("schema_version".into(), "1".into())]
    }

    /// The same batch through kafka-protocol's encoder.
    fn theirs(records: &[Record], identity: Identity, transactional: bool, headers: &[(String, String)]) -> Vec<u8> {
        let (pid, epoch, seq) = identity.unwrap_or((-1, -1, -1));
        let map: IndexMap<StrBytes, Option<Bytes>> = headers
            .iter()
            .map(|(k, v)| (StrBytes::from_string(k.clone()), Some(Bytes::from(v.clone().into_bytes()))))
            .collect();
        let with_own = |r: &Record| {
            let mut map = map.clone();
            if let Some((k, v)) = r.header {
                map.insert(StrBytes::from_static_str(k), Some(Bytes::from_static(v.as_bytes())));
            }
            map
        };
        let wire: Vec<kr::Record> = records
            .iter()
            .enumerate()
            .map(|(i, r)| kr::Record {
                transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: kr::NO_PARTITION_LEADER_EPOCH,
                producer_id: pid,
                producer_epoch: epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // The codec starts a new batch whenever offset − sequence changes; −1, 0, 1, …
                // keeps a non-idempotent batch whole with base sequence −1.
                sequence: seq.wrapping_add(i as i32),
                timestamp: r.timestamp_ms,
                key: Some(r.key.clone()),
                value: Some(r.value.clone()),
                headers: with_own(r),
            })
            .collect();
        let mut buf = bytes::BytesMut::new();
        let options = RecordEncodeOptions { version: 2, compression: Compression::None };
        RecordBatchEncoder::encode(&mut buf, &wire, &options).unwrap();
        buf.to_vec()
    }

    #[test]
    fn the_bytes_are_kafka_protocols_for_the_same_batch() {
        for (n, identity, transactional, h) in [
            (1, Some((4711, 3, 0)), false, headers()),
            (57, Some((4711, 3, 1_000_000)), false, headers()),
            (300, None, false, vec![]),
            (3, Some((1, 0, i32::MAX - 2)), false, headers()),
            (20, Some((4711, 3, 7)), true, headers()),
        ] {
            let recs = records(n);
            let mut ours = Vec::new();
            let block = HeaderBlock::new(&h);
            write(&mut ours, &recs, identity, transactional, &block, Codec::None, &mut Scratch::default());
            let theirs = theirs(&recs, identity, transactional, &h);
            let first_difference = ours.iter().zip(&theirs).position(|(a, b)| a != b);
            assert!(
                ours.len() == theirs.len() && first_difference.is_none(),
                "{n} records, {identity:?}: {} bytes against {}, first difference at {first_difference:?}",
                ours.len(),
                theirs.len()
            );
        }
    }

    #[test]
    fn what_it_writes_decodes_with_its_headers_and_sequences() {
        // kafka-protocol's decoder (built with gzip and snappy for the tests) reads ours.
        let mut scratch = Scratch::default();
        for codec in [Codec::None, Codec::Gzip, Codec::Snappy] {
            let recs = records(20);
            let mut buf = Vec::new();
            write(&mut buf, &recs, Some((9, 1, 40)), false, &HeaderBlock::new(&headers()), codec, &mut scratch);
            let decoded = RecordBatchDecoder::decode(&mut bytes::Bytes::from(buf)).unwrap();
            assert_eq!(
                decoded.compression,
                [Compression::None, Compression::Gzip, Compression::Snappy][codec.attributes() as usize]
            );
            check(&decoded.records, &recs);
        }
    }

    #[test]
    fn every_codec_reads_back_through_the_tail_reader() {
        let mut scratch = Scratch::default();
        for codec in [Codec::None, Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd] {
            let recs = records(300);
            let mut buf = Vec::new();
            write(&mut buf, &recs[..200], Some((9, 1, 40)), false, &HeaderBlock::new(&headers()), codec, &mut scratch);
            let first = buf.len();
            write(&mut buf, &recs[200..], None, false, &HeaderBlock::default(), codec, &mut scratch);
            assert_eq!(i16::from_be_bytes([buf[21], buf[22]]), codec.attributes(), "{codec}");
            if codec != Codec::None {
                assert!(first < 200 * 60, "{codec}: the batch is compressed ({first} bytes)");
            }
            let decoded = crate::kafka::records::decode(&buf).unwrap_or_else(|e| panic!("{codec}: {e}"));
            assert_eq!(decoded.records.len(), 300, "{codec}");
            for (i, (got, want)) in decoded.records.iter().zip(&recs).enumerate() {
                assert_eq!(got.offset, if i < 200 { i } else { i - 200 } as i64);
                assert_eq!((got.key.as_deref(), got.value.as_deref()), (Some(&want.key[..]), Some(&want.value[..])));
                assert_eq!(got.timestamp, want.timestamp_ms, "{codec}");
            }
        }
    }

    fn check(decoded: &[kr::Record], recs: &[Record]) {
        assert_eq!(decoded.len(), recs.len());
        for (i, (r, want)) in decoded.iter().zip(recs).enumerate() {
            assert_eq!(r.key.as_deref(), Some(&want.key[..]));
            assert_eq!(r.value.as_deref(), Some(&want.value[..]));
            assert_eq!(r.timestamp, want.timestamp_ms);
            assert_eq!((r.producer_id, r.sequence), (9, 40 + i as i32));
            let names: Vec<&str> = r.headers.keys().map(|k| k.as_str()).collect();
            let own = if i % 5 == 2 { &["pos-fault"][..] } else { &[] };
            assert_eq!(names, [&["event_type", "schema_version"][..], own].concat());
            if i % 5 == 2 {
                assert_eq!(
                    r.headers.get(&StrBytes::from_static_str("pos-fault")).cloned().flatten().as_deref(),
                    Some(&b"late,reordered"[..])
                );
            }
        }
    }

    #[test]
    fn varints_are_zigzag_with_their_lengths() {
        for (v, bytes) in [(0i64, vec![0u8]), (-1, vec![1]), (1, vec![2]), (63, vec![126]), (64, vec![128, 1])] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
        }
        for v in [0, 1, -1, 63, 64, -65, 8191, 8192, 1 << 40, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
        }
    }
}
