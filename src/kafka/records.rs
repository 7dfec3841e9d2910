//! Record batches (magic 2, Kafka 0.11+) as Fetch returns them, decoded within bounds: the
//! checksum is verified, counts and lengths are checked against the bytes that remain before
//! anything is kept, and a compressed batch (gzip, snappy, lz4 or zstd: [`compression`])
//! inflates into at most [`MAX_INFLATED`] bytes.
//!
//! Why not the codec's `RecordBatchDecoder`: kafka-protocol 0.18 reserves room for the record
//! count it reads (`Vec::reserve(count)`, an abort for a count near 2^31), inflates without a
//! limit (a small batch can expand to gigabytes), and its lz4 and zstd need C. This reads only
//! what the tail reader needs: offset, timestamp, key and value of each record.
//!
//! References: Kafka documentation, "Message Format" (RecordBatch, Record, varints).

use std::fmt;

use super::compression::{self, Codec};

/// The most bytes one compressed batch may inflate to.
pub const MAX_INFLATED: usize = 16 * 1024 * 1024;

/// Bytes of a batch header: base offset and length (12), then 49 more up to the records.
const HEADER: usize = 61;

/// One record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

/// Why a batch cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordsError {
    /// A batch in a form this client does not read (an old message format, an unknown codec).
    Unsupported { offset: i64, what: String },
    /// Bytes that are not a valid batch.
    Corrupt { offset: i64, what: String },
}

impl fmt::Display for RecordsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordsError::Unsupported { offset, what } => write!(f, "the batch at offset {offset} {what}"),
            RecordsError::Corrupt { offset, what } => write!(f, "the batch at offset {offset} is corrupt: {what}"),
        }
    }
}

/// What one Fetch answer's record bytes held.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    pub records: Vec<Record>,
    /// The offset after the last whole batch (`None`: not one whole batch).
    pub next_offset: Option<i64>,
}

/// Decodes every whole batch in `data`; a batch cut short at the end (the broker stops at its
/// size limit) is left out. Control batches (transaction markers) give no records.
#[cfg(test)]
pub fn decode(data: &[u8]) -> Result<Decoded, RecordsError> {
    decode_committed(data, &[])
}

/// As `decode` (tests only), leaving out the records of the transactions a read-committed Fetch named
/// aborted: `aborted` (producer id, first offset). A producer's transactional batches from its
/// aborted transaction's first offset on are left out, up to its abort marker (the Java
/// consumer's rule, KIP-98).
pub fn decode_committed(data: &[u8], aborted: &[(i64, i64)]) -> Result<Decoded, RecordsError> {
    let mut out = Decoded::default();
    let mut rest = data;
    let mut upcoming: Vec<(i64, i64)> = aborted.to_vec();
    // Producers whose aborted transaction is under way at this point of the log.
    let mut aborting: Vec<i64> = Vec::new();
    while rest.len() >= 12 {
        let base_offset = i64::from_be_bytes(rest[0..8].try_into().expect("8 bytes"));
        let length = i32::from_be_bytes(rest[8..12].try_into().expect("4 bytes"));
        let corrupt = |what: String| RecordsError::Corrupt { offset: base_offset, what };
        let Ok(length) = usize::try_from(length) else {
            return Err(corrupt(format!("batch length {length} is negative")));
        };
        if rest.len() - 12 < length {
            break; // cut short by the broker's size limit
        }
        let (batch, tail) = rest.split_at(12 + length);
        rest = tail;
        if batch.len() > 16 && batch[16] != 2 {
            return Err(RecordsError::Unsupported {
                offset: base_offset,
                what: format!(
                    "uses message format v{} (Kafka before 0.11), which pos-producer does not read",
                    batch[16]
                ),
            });
        }
        if batch.len() < HEADER {
            return Err(corrupt(format!("batch of {} bytes is shorter than its {HEADER}-byte header", batch.len())));
        }
        let crc = u32::from_be_bytes(batch[17..21].try_into().expect("4 bytes"));
        let actual = crc32c::crc32c(&batch[21..]);
        if crc != actual {
            return Err(corrupt(format!("checksum {crc:#010x} does not match its bytes ({actual:#010x})")));
        }
        let attributes = i16::from_be_bytes(batch[21..23].try_into().expect("2 bytes"));
        let last_offset_delta = i32::from_be_bytes(batch[23..27].try_into().expect("4 bytes"));
        let base_timestamp = i64::from_be_bytes(batch[27..35].try_into().expect("8 bytes"));
        let count = i32::from_be_bytes(batch[57..61].try_into().expect("4 bytes"));
        let last_offset = base_offset.saturating_add(i64::from(last_offset_delta));
        out.next_offset = Some(last_offset.saturating_add(1));
        let producer_id = i64::from_be_bytes(batch[43..51].try_into().expect("8 bytes"));
        // (A handful of transactions: no sorting needed.)
        upcoming.retain(|&(producer, first)| {
            let begun = first <= last_offset;
            if begun {
                aborting.push(producer);
            }
            !begun
        });
        if attributes & CONTROL != 0 {
            // Commit or abort markers, no data: an abort marker ends its producer's transaction.
            if aborting.contains(&producer_id) && is_abort_marker(&batch[HEADER..]) {
                aborting.retain(|&id| id != producer_id);
            }
            continue;
        }
        if attributes & TRANSACTIONAL != 0 && aborting.contains(&producer_id) {
            continue; // a batch of an aborted transaction
        }
        let body = &batch[HEADER..];
        let inflated;
        let records = match Codec::from_attributes(attributes) {
            Ok(Codec::None) => body,
            Ok(codec) => {
                inflated = compression::decompress(codec, body, MAX_INFLATED).map_err(corrupt)?;
                &inflated[..]
            }
            Err(bits) => {
                return Err(RecordsError::Unsupported {
                    offset: base_offset,
                    what: format!("names compression {bits}, which no Kafka version defines"),
                });
            }
        };
        // The smallest record takes 7 bytes (length, attributes, three deltas, null key and
        // value, no headers): a count that cannot fit is refused before any record is read.
        let Ok(count) = usize::try_from(count) else {
            return Err(corrupt(format!("record count {count} is negative")));
        };
        if count > records.len() / 7 {
            return Err(corrupt(format!("{count} records cannot fit in {} bytes", records.len())));
        }
        let mut r = Cursor { buf: records, pos: 0 };
        for _ in 0..count {
            out.records.push(record(&mut r, base_offset, base_timestamp).map_err(corrupt)?);
        }
    }
    Ok(out)
}

/// Batch attributes: part of a transaction; a control batch (a transaction marker).
const TRANSACTIONAL: i16 = 1 << 4;
const CONTROL: i16 = 1 << 5;

/// Whether a control batch's first record is an abort marker: its key is a version (int16)
/// and a type (int16), 0 for abort, 1 for commit. Anything unreadable is not.
fn is_abort_marker(records: &[u8]) -> bool {
    let mut r = Cursor { buf: records, pos: 0 };
    record(&mut r, 0, 0).ok().and_then(|m| m.key).is_some_and(|key| key.len() >= 4 && key[2..4] == [0, 0])
}

/// One record (the length-prefixed form inside a batch).
fn record(r: &mut Cursor<'_>, base_offset: i64, base_timestamp: i64) -> Result<Record, String> {
    let length = r.len()?;
    let mut r = Cursor { buf: r.take(length)?, pos: 0 };
    r.take(1)?; // attributes
    let timestamp = base_timestamp.wrapping_add(r.varlong()?);
    let offset = base_offset.wrapping_add(i64::from(r.varint()?));
    let key = r.nullable()?.map(<[u8]>::to_vec);
    let value = r.nullable()?.map(<[u8]>::to_vec);
    for _ in 0..r.len()? {
        let key_len = r.len()?;
        r.take(key_len)?;
        r.nullable()?;
    }
    Ok(Record { offset, timestamp, key, value })
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return Err(format!("{n} bytes expected where {left} remain"));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A zigzag varint of at most `max_bytes` bytes.
    fn zigzag(&mut self, max_bytes: u32) -> Result<i64, String> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let b = self.take(1)?[0];
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        Err(format!("varint longer than {max_bytes} bytes"))
    }

    fn varint(&mut self) -> Result<i32, String> {
        let v = self.zigzag(5)?;
        i32::try_from(v).map_err(|_| format!("varint {v} out of the 32-bit range"))
    }

    fn varlong(&mut self) -> Result<i64, String> {
        self.zigzag(10)
    }

    /// A length that must fit in what remains.
    fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n).map_err(|_| format!("length {n} is negative"))
    }

    /// Bytes with a varint length, -1 for null.
    fn nullable(&mut self) -> Result<Option<&'a [u8]>, String> {
        match self.varint()? {
            -1 => Ok(None),
            n if n < 0 => Err(format!("length {n} is negative")),
            n => self.take(n as usize).map(Some),
        }
    }
}

#[cfg(test)]
mod tests;
