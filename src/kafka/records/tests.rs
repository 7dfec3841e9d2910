//! The batch decoder against kafka-protocol's encoder (uncompressed, gzip, snappy; lz4 and
//! zstd packed by our codecs), then the batches a decoder must refuse without aborting: old
//! formats, unknown codecs, huge counts, bombs, and a seeded mutation fuzzer (every codec)
//! with the allocation probe of the wire tests.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{self as kr, Compression, RecordBatchEncoder, RecordEncodeOptions, TimestampType};

use super::*;
use crate::kafka::compression::{self, Codec};
use crate::kafka::wire::tests::peak_of;

fn wire_record(offset: i64, timestamp: i64, key: Option<&[u8]>, value: Option<&[u8]>, headers: usize) -> kr::Record {
    let mut h = IndexMap::new();
    for i in 0..headers {
        h.insert(StrBytes::from_string(format!("h{i}")), Some(Bytes::from_static(b"v")));
    }
    kr::Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: 7,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: offset as i32,
        timestamp,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: h,
    }
}

fn batch(records: &[kr::Record], compression: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(&mut buf, records, &RecordEncodeOptions { version: 2, compression }).unwrap();
    buf.to_vec()
}

fn sample(base: i64, n: usize) -> Vec<kr::Record> {
    (0..n)
        .map(|i| {
            let key = format!("{}", base as usize + i + 1);
            let value = format!("{{\"transaction_id\":{key},\"amount\":{}}}", i * 7);
            let null_key = i % 5 == 4;
            wire_record(
                base + i as i64,
                1_700_000_000_000 + i as i64 * 1000,
                (!null_key).then_some(key.as_bytes()),
                Some(value.as_bytes()),
                i % 3,
            )
        })
        .collect()
}

fn expected(records: &[kr::Record]) -> Vec<Record> {
    records
        .iter()
        .map(|r| Record {
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key.as_ref().map(|k| k.to_vec()),
            value: r.value.as_ref().map(|v| v.to_vec()),
        })
        .collect()
}

/// Rewrites a batch's attributes and fixes its checksum, as a broker would have stored it.
fn with_attributes(mut b: Vec<u8>, attributes: i16) -> Vec<u8> {
    b[21..23].copy_from_slice(&attributes.to_be_bytes());
    reseal(b)
}

fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[test]
fn batches_of_every_compression_we_read_decode_to_their_records() {
    for compression in [Compression::None, Compression::Gzip, Compression::Snappy] {
        let first = sample(100, 50);
        let second = sample(150, 3);
        let mut data = batch(&first, compression);
        data.extend(batch(&second, compression));
        let decoded = decode(&data).unwrap_or_else(|e| panic!("{compression:?}: {e}"));
        let mut want = expected(&first);
        want.extend(expected(&second));
        assert_eq!(decoded.records, want, "{compression:?}");
        assert_eq!(decoded.next_offset, Some(153));
    }
}

#[test]
fn raw_snappy_as_other_clients_write_it_decodes_too() {
    let plain = batch(&sample(0, 20), Compression::None);
    let body = snap::raw::Encoder::new().compress_vec(&plain[HEADER..]).unwrap();
    let mut b = plain[..HEADER].to_vec();
    b.extend(&body);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let b = with_attributes(b, 2);
    assert_eq!(decode(&b).unwrap().records, expected(&sample(0, 20)));
}

#[test]
fn a_batch_cut_short_by_the_size_limit_is_left_for_the_next_fetch() {
    let mut data = batch(&sample(0, 10), Compression::None);
    let whole = data.len();
    data.extend(batch(&sample(10, 10), Compression::None));
    let decoded = decode(&data[..whole + 30]).unwrap();
    assert_eq!((decoded.records.len(), decoded.next_offset), (10, Some(10)));
    let nothing = decode(&data[..whole - 1]).unwrap();
    assert_eq!(nothing, Decoded::default());
}

#[test]
fn control_batches_give_no_records_but_move_the_offset() {
    let b = with_attributes(batch(&sample(40, 1), Compression::None), 1 << 5 | 1 << 4);
    assert_eq!(decode(&b).unwrap(), Decoded { records: vec![], next_offset: Some(41) });
}

/// An uncompressed batch of kafka-protocol's with its records packed by `codec`, as a broker
/// stores what another client sent (kafka-protocol's own lz4 and zstd need C).
fn packed(plain: &[u8], codec: Codec) -> Vec<u8> {
    let mut b = plain[..HEADER].to_vec();
    compression::compress(codec, &plain[HEADER..], &mut b);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    with_attributes(b, codec.attributes())
}

#[test]
fn lz4_and_zstd_batches_decode_to_their_records() {
    for codec in [Codec::Lz4, Codec::Zstd] {
        let (first, second) = (sample(0, 30), sample(30, 12));
        let mut data = packed(&batch(&first, Compression::None), codec);
        data.extend(packed(&batch(&second, Compression::None), codec));
        let decoded = decode(&data).unwrap_or_else(|e| panic!("{codec}: {e}"));
        assert_eq!(decoded.records, [expected(&first), expected(&second)].concat(), "{codec}");
        assert_eq!(decoded.next_offset, Some(42));
    }
}

#[test]
fn unknown_codecs_and_old_formats_are_named_not_guessed() {
    let plain = batch(&sample(5, 3), Compression::None);
    for bits in [5, 6, 7] {
        let e = decode(&with_attributes(plain.clone(), bits)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("the batch at offset 5 names compression {bits}, which no Kafka version defines")
        );
        assert!(matches!(e, RecordsError::Unsupported { .. }));
    }
    let mut old = plain.clone();
    old[16] = 1;
    assert!(decode(&old).unwrap_err().to_string().contains("message format v1 (Kafka before 0.11)"));
}

#[test]
fn a_flipped_bit_fails_the_checksum() {
    let mut b = batch(&sample(0, 4), Compression::None);
    let last = b.len() - 3;
    b[last] ^= 1;
    assert!(decode(&b).unwrap_err().to_string().contains("checksum"));
}

#[test]
fn a_huge_record_count_is_refused_before_anything_is_reserved() {
    // The count the codec's decoder would reserve room for: i32::MAX records.
    let mut b = batch(&sample(0, 2), Compression::None);
    b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    let (result, peak) = peak_of(|| decode(&reseal(b)));
    assert!(result.unwrap_err().to_string().contains("2147483647 records cannot fit"));
    assert!(peak < 4096, "peak {peak} bytes");
}

#[test]
fn a_decompression_bomb_stops_at_the_bound() {
    // 64 MiB of zeros gzip to about 64 KiB; the decoder stops after 16 MiB.
    let zeros = vec![0u8; 64 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &zeros).unwrap();
    let body = gz.finish().unwrap();
    drop(zeros);
    let plain = batch(&sample(0, 1), Compression::None);
    let mut b = plain[..HEADER].to_vec();
    b.extend(&body);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let (result, peak) = peak_of(|| decode(&with_attributes(b, 1)));
    assert!(result.unwrap_err().to_string().contains("inflates beyond 16 MiB"));
    assert!(peak <= 2 * MAX_INFLATED + (1 << 20), "peak {peak} bytes");
    // Snappy declares its length up front: refused before inflating at all.
    let mut block = snap::raw::Encoder::new().compress_vec(&vec![0u8; 17 << 20]).unwrap();
    block.resize(1 << 20, 0); // room enough for the declared length, so the bound is what stops it
    let mut b = plain[..HEADER].to_vec();
    b.extend(&block);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let (result, peak) = peak_of(|| decode(&with_attributes(b, 2)));
    assert!(result.unwrap_err().to_string().contains("inflates beyond 16 MiB"));
    assert!(peak < 4096, "peak {peak} bytes");
    // lz4 and zstd inflate as they go: stopped at the bound (zstd also keeps one window).
    for codec in [Codec::Lz4, Codec::Zstd] {
        let mut b = plain[..HEADER].to_vec();
        compression::compress(codec, &vec![0u8; 40 << 20], &mut b);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let b = with_attributes(b, codec.attributes());
        assert!(b.len() < 200 << 10, "{codec}: {} bytes", b.len());
        let (result, peak) = peak_of(|| decode(&b));
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("the batch at offset 0 is corrupt: {codec} data inflates beyond 16 MiB")
        );
        assert!(peak <= 2 * MAX_INFLATED + (8 << 20), "{codec}: peak {peak} bytes");
    }
}

#[test]
fn mutated_batches_never_panic_and_allocate_in_proportion() {
    let inputs: usize = std::env::var("POS_FUZZ_INPUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000) / 10;
    let seed: u64 = std::env::var("POS_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut seeds: Vec<Vec<u8>> = [Compression::None, Compression::Gzip, Compression::Snappy]
        .into_iter()
        .flat_map(|c| [batch(&sample(0, 3), c), batch(&sample(9, 40), c)])
        .collect();
    for codec in [Codec::Lz4, Codec::Zstd] {
        seeds.push(packed(&batch(&sample(0, 3), Compression::None), codec));
        seeds.push(packed(&batch(&sample(9, 40), Compression::None), codec));
    }
    for i in 0..inputs {
        let mut b = seeds[i % seeds.len()].clone();
        for _ in 0..rng.usize(1..4) {
            if b.is_empty() {
                break;
            }
            match rng.u8(0..4) {
                0 => {
                    let at = rng.usize(..b.len());
                    b[at] = rng.u8(..);
                }
                1 => {
                    let at = rng.usize(..b.len());
                    b[at] = [0x00, 0x7f, 0x80, 0xff][rng.usize(..4)];
                }
                2 => b.truncate(rng.usize(..b.len())),
                _ => {
                    let at = rng.usize(..b.len());
                    b.insert(at, rng.u8(..));
                }
            }
        }
        // Most mutations would only fail the checksum: reseal half of them to reach the rest.
        if b.len() >= HEADER && rng.bool() {
            b = reseal(b);
        }
        let (_, peak) = peak_of(|| decode(&b));
        // Records own copies of keys and values; gzip may inflate up to DEFLATE's 1032:1 and
        // lz4 up to 255:1 (one 4 MiB block reserved); zstd's blocks of repeated bytes have no
        // ratio, so it is held by the bound (and one window of at most 8 MiB reserved).
        let bound = match Codec::from_attributes(if b.len() > 22 { b[22].into() } else { 0 }) {
            Ok(Codec::Gzip) => 2 * 1032 * b.len(),
            Ok(Codec::Lz4) => 2 * 255 * b.len() + (4 << 20),
            Ok(Codec::Zstd) => 2 * MAX_INFLATED + (8 << 20),
            _ => 64 * b.len(),
        } + 64 * 1024;
        assert!(peak <= bound, "input {i} (seed {seed}): {peak} bytes for {} bytes", b.len());
    }
}

/// Records of producer `pid`, transactional, at `offsets`.
fn txn_batch(pid: i64, offsets: std::ops::Range<i64>) -> Vec<u8> {
    let records: Vec<kr::Record> = offsets
        .map(|o| kr::Record {
            transactional: true,
            producer_id: pid,
            ..wire_record(o, 1_700_000_000_000 + o, Some(o.to_string().as_bytes()), Some(b"{}"), 0)
        })
        .collect();
    batch(&records, Compression::None)
}

/// A transaction marker of producer `pid` at `offset`: commit, or abort.
fn marker(pid: i64, offset: i64, commit: bool) -> Vec<u8> {
    let record = kr::Record {
        transactional: true,
        control: true,
        producer_id: pid,
        ..wire_record(
            offset,
            1_700_000_000_000 + offset,
            Some(&[0, 0, 0, u8::from(commit)]),
            Some(&[0, 0, 0, 0, 0, 0]),
            0,
        )
    };
    batch(&[record], Compression::None)
}

#[test]
fn read_committed_leaves_out_exactly_the_aborted_transactions_records() {
    // Producer 7 commits 0–2 (marker 3); producer 8's transaction 4–5 is aborted (marker 7)
    // while producer 9, not transactional, writes 6; producer 8 then commits 8–9 (marker 10).
    let mut log = Vec::new();
    log.extend(txn_batch(7, 0..3));
    log.extend(marker(7, 3, true));
    log.extend(txn_batch(8, 4..6));
    log.extend(batch(&sample(6, 1), Compression::None));
    log.extend(marker(8, 7, false));
    log.extend(txn_batch(8, 8..10));
    log.extend(marker(8, 10, true));
    let offsets = |aborted: &[(i64, i64)]| -> Vec<i64> {
        let decoded = decode_committed(&log, aborted).unwrap();
        assert_eq!(decoded.next_offset, Some(11));
        decoded.records.iter().map(|r| r.offset).collect()
    };
    assert_eq!(offsets(&[]), vec![0, 1, 2, 4, 5, 6, 8, 9], "read uncommitted: every data record");
    assert_eq!(offsets(&[(8, 4)]), vec![0, 1, 2, 6, 8, 9], "producer 8's next transaction is kept");
    // A fetch that starts inside the aborted transaction: the broker names it all the same.
    let from_5: Vec<u8> = [txn_batch(8, 5..6), batch(&sample(6, 1), Compression::None), marker(8, 7, false)].concat();
    assert_eq!(
        decode_committed(&from_5, &[(8, 4)]).unwrap().records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![6]
    );
    // An aborted transaction of another producer leaves these alone.
    assert_eq!(offsets(&[(99, 0)]), vec![0, 1, 2, 4, 5, 6, 8, 9]);
}
