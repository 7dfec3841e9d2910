//! Bounded decoders for the few responses this client reads: every count off the wire is
//! checked against the bytes that remain before anything is allocated for it.
//!
//! Why not the codec's decoders: kafka-protocol 0.18 sizes each array with the count it reads
//! (`Vec::with_capacity(n)`), so a five-byte compact array length (`ff ff ff ff 0f`) asks for
//! gigabytes and the allocator aborts the process. These decoders read only the fields this
//! client uses, skip the rest by the schema, and never reserve more than the remaining bytes
//! can hold: a response of N bytes allocates O(N), and a malformed one is a [`WireError`].
//! Requests are still encoded with kafka-protocol (what we send is ours), except the request
//! header (`header.rs`) and Produce (`producer/request.rs`), written by hand on the path of
//! every sale.
//!
//! References: Kafka protocol guide, "Protocol Primitive Types" and the message schemas
//! (ApiVersions, Metadata, CreateTopics, InitProducerId, Produce, ListOffsets, Fetch responses);
//! KIP-482 (flexible versions: compact types, tagged fields).

use std::fmt;

use kafka_protocol::messages::ApiKey;

mod fetch;
mod sasl;
mod txn;
#[cfg(test)]
pub use fetch::{FetchPartition, FetchTopic, OffsetsPartition, OffsetsTopic};
pub use fetch::{FetchResponse, ListOffsetsResponse};
#[cfg_attr(not(feature = "tls"), allow(unused_imports))]
pub use sasl::{SaslAuthenticateResponse, SaslHandshakeResponse};
pub use txn::{AddPartitionsToTxnResponse, EndTxnResponse, FindCoordinatorResponse};

/// A response that does not follow its schema: where it broke off and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub at: usize,
    pub what: String,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

impl std::error::Error for WireError {}

type Result<T> = std::result::Result<T, WireError>;

/// A cursor over one response body.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn fail<T>(&self, what: impl Into<String>) -> Result<T> {
        Err(WireError { at: self.pos, what: what.into() })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return self.fail(format!("{n} bytes expected, {} remain", self.remaining()));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }

    pub fn i8(&mut self) -> Result<i8> {
        Ok(i8::from_be_bytes(self.fixed()?))
    }

    pub fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.fixed()?))
    }

    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.fixed()?))
    }

    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.fixed()?))
    }

    /// An unsigned varint of at most 5 bytes (32 bits).
    pub fn uvarint(&mut self) -> Result<u32> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = self.fixed::<1>()?[0];
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return u32::try_from(value).or_else(|_| self.fail("unsigned varint larger than 32 bits"));
            }
        }
        self.fail("unsigned varint longer than 5 bytes")
    }

    fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(drop)
    }

    /// A string's length: compact (varint length + 1, 0 = null) in flexible versions, else an
    /// int16 (-1 = null). `None` for null.
    fn string_len(&mut self, flexible: bool) -> Result<Option<usize>> {
        if flexible {
            Ok(self.uvarint()?.checked_sub(1).map(|n| n as usize))
        } else {
            match self.i16()? {
                -1 => Ok(None),
                n if n < 0 => self.fail(format!("string length {n} is negative")),
                n => Ok(Some(n as usize)),
            }
        }
    }

    /// A nullable UTF-8 string, borrowed from the buffer.
    fn nullable_str(&mut self, flexible: bool) -> Result<Option<&'a str>> {
        let Some(len) = self.string_len(flexible)? else {
            return Ok(None);
        };
        let at = self.pos;
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s)),
            Err(_) => Err(WireError { at, what: "string is not UTF-8".into() }),
        }
    }

    /// A nullable UTF-8 string.
    pub fn nullable_string(&mut self, flexible: bool) -> Result<Option<String>> {
        Ok(self.nullable_str(flexible)?.map(str::to_string))
    }

    /// A string (not null) into `out`, whose memory is reused.
    pub fn string_into(&mut self, flexible: bool, out: &mut String) -> Result<()> {
        match self.nullable_str(flexible)? {
            Some(s) => {
                out.clear();
                out.push_str(s);
                Ok(())
            }
            None => self.fail("null where a string is required"),
        }
    }

    pub fn string(&mut self, flexible: bool) -> Result<String> {
        match self.nullable_string(flexible)? {
            Some(s) => Ok(s),
            None => self.fail("null where a string is required"),
        }
    }

    /// Nullable bytes: compact (varint length + 1, 0 = null) in flexible versions, else an
    /// int32 length (-1 = null).
    pub fn nullable_bytes(&mut self, flexible: bool) -> Result<Option<Vec<u8>>> {
        let at = self.pos;
        let len = if flexible {
            match self.uvarint()?.checked_sub(1) {
                None => return Ok(None),
                Some(n) => n as usize,
            }
        } else {
            match self.i32()? {
                -1 => return Ok(None),
                n if n < 0 => return Err(WireError { at, what: format!("bytes length {n} is negative") }),
                n => n as usize,
            }
        };
        Ok(Some(self.take(len)?.to_vec()))
    }

    /// Bytes; null is an error.
    pub fn bytes(&mut self, flexible: bool) -> Result<Vec<u8>> {
        let at = self.pos;
        self.nullable_bytes(flexible)?.ok_or_else(|| WireError { at, what: "null where bytes are required".into() })
    }

    pub fn skip_string(&mut self, flexible: bool) -> Result<()> {
        match self.string_len(flexible)? {
            Some(len) => self.skip(len),
            None => Ok(()),
        }
    }

    /// An array's item count, checked against the bytes left: each item takes at least
    /// `min_item` bytes, so a count that cannot fit is refused before anything is reserved.
    /// `None` for a null array.
    fn array_len(&mut self, flexible: bool, min_item: usize) -> Result<Option<usize>> {
        let at = self.pos;
        let len = if flexible {
            match self.uvarint()?.checked_sub(1) {
                None => return Ok(None),
                Some(n) => n as usize,
            }
        } else {
            match self.i32()? {
                -1 => return Ok(None),
                n if n < 0 => return Err(WireError { at, what: format!("array length {n} is negative") }),
                n => n as usize,
            }
        };
        let needed = len.saturating_mul(min_item.max(1));
        if needed > self.remaining() {
            return Err(WireError {
                at,
                what: format!("array of {len} items needs at least {needed} bytes, but {} remain", self.remaining()),
            });
        }
        Ok(Some(len))
    }

    /// The item count of an array that must not be null (see `array_len`).
    fn array_count(&mut self, flexible: bool, min_item: usize) -> Result<usize> {
        match self.array_len(flexible, min_item)? {
            Some(len) => Ok(len),
            None => self.fail("null where an array is required"),
        }
    }

    /// `len` items that `item` reads.
    fn items<T>(&mut self, len: usize, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// A nullable array whose items `item` reads.
    pub fn nullable_array<T>(
        &mut self,
        flexible: bool,
        min_item: usize,
        item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Option<Vec<T>>> {
        match self.array_len(flexible, min_item)? {
            Some(len) => self.items(len, item).map(Some),
            None => Ok(None),
        }
    }

    pub fn array<T>(
        &mut self,
        flexible: bool,
        min_item: usize,
        item: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        let len = self.array_count(flexible, min_item)?;
        self.items(len, item)
    }

    /// Skips a nullable array of int32 (replica lists and the like); returns its length.
    pub fn skip_i32_array(&mut self, flexible: bool) -> Result<usize> {
        let len = self.array_len(flexible, 4)?.unwrap_or(0);
        self.skip(len * 4)?;
        Ok(len)
    }

    /// The tagged fields that end every structure of a flexible version. This client needs
    /// none of them, so all are skipped by their declared size.
    pub fn tagged_fields(&mut self, flexible: bool) -> Result<()> {
        if !flexible {
            return Ok(());
        }
        self.tagged_fields_with(|_, _| Ok(()))
    }

    /// The tagged fields that end a structure of a flexible version, each handed to `field`
    /// (its tag and a reader over its bytes, which it need not use up).
    pub fn tagged_fields_with(&mut self, mut field: impl FnMut(u32, &mut Reader<'a>) -> Result<()>) -> Result<()> {
        let at = self.pos;
        let count = self.uvarint()? as usize;
        // Each field is at least a one-byte tag and a one-byte size.
        if count.saturating_mul(2) > self.remaining() {
            return Err(WireError {
                at,
                what: format!("{count} tagged fields cannot fit in {} bytes", self.remaining()),
            });
        }
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()? as usize;
            let start = self.pos;
            let bytes = self.take(size)?;
            let mut inner = Reader { buf: bytes, pos: 0 };
            field(tag, &mut inner).map_err(|e| WireError { at: start + e.at, what: e.what })?;
        }
        Ok(())
    }

    /// Every byte must have been read.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => self.fail(format!("{n} bytes left over")),
        }
    }
}

/// A response this client decodes, at a given version.
pub trait Response: Sized {
    const API: ApiKey;
    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self>;

    /// Reads into `self`, reusing its memory where the response has some to reuse (an answer
    /// read per request); else as `read`.
    fn read_into(&mut self, r: &mut Reader<'_>, version: i16) -> Result<()> {
        *self = Self::read(r, version)?;
        Ok(())
    }
}

/// Decodes a whole response body: the schema must use up every byte.
pub fn decode<R: Response>(body: &[u8], version: i16) -> Result<R> {
    let mut r = Reader::new(body);
    let response = R::read(&mut r, version)?;
    r.finish()?;
    Ok(response)
}

/// `decode`, into `into` (see `Response::read_into`).
pub fn decode_into<R: Response>(body: &[u8], version: i16, into: &mut R) -> Result<()> {
    let mut r = Reader::new(body);
    into.read_into(&mut r, version)?;
    r.finish()
}

/// The response header (v0: correlation id; v1 adds tagged fields); returns the correlation id.
pub fn read_header(r: &mut Reader<'_>, header_version: i16) -> Result<i32> {
    let correlation_id = r.i32()?;
    r.tagged_fields(header_version >= 1)?;
    Ok(correlation_id)
}

/// ApiVersions response (v0–v4; flexible from v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsResponse {
    pub error_code: i16,
    pub api_keys: Vec<ApiRange>,
    /// The finalized level of the `transaction.version` feature (KIP-890: 2 is transactions
    /// protocol v2); 0 when the broker names none.
    pub transaction_version: i16,
}

/// The versions of one API that a broker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    pub api_key: i16,
    pub min_version: i16,
    pub max_version: i16,
}

impl Response for ApiVersionsResponse {
    const API: ApiKey = ApiKey::ApiVersions;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        let flex = version >= 3;
        let error_code = r.i16()?;
        let api_keys = r.array(flex, 6, |r| {
            let range = ApiRange { api_key: r.i16()?, min_version: r.i16()?, max_version: r.i16()? };
            r.tagged_fields(flex)?;
            Ok(range)
        })?;
        if version >= 1 {
            r.i32()?; // throttle_time_ms
        }
        let mut transaction_version = 0;
        if flex {
            r.tagged_fields_with(|tag, r| {
                // Tag 2: FinalizedFeatures, (name, max level, min level) each.
                if tag == 2 {
                    for (name, level) in r.array(true, 5, |r| {
                        let name = r.string(true)?;
                        let max = r.i16()?;
                        r.i16()?; // min_version_level
                        r.tagged_fields(true)?;
                        Ok((name, max))
                    })? {
                        if name == "transaction.version" {
                            transaction_version = level;
                        }
                    }
                }
                Ok(())
            })?;
        }
        Ok(ApiVersionsResponse { error_code, api_keys, transaction_version })
    }
}

/// Metadata response (v1–v13; flexible from v9): brokers, controller, and per topic the leader
/// of each partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataResponse {
    pub brokers: Vec<MetadataBroker>,
    pub controller_id: i32,
    pub topics: Vec<MetadataTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBroker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataTopic {
    pub error_code: i16,
    pub name: Option<String>,
    pub partitions: Vec<MetadataPartition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataPartition {
    pub error_code: i16,
    pub partition_index: i32,
    pub leader_id: i32,
    /// How many replicas the partition has (its replication factor).
    pub replicas: usize,
}

impl Response for MetadataResponse {
    const API: ApiKey = ApiKey::Metadata;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        if version < 1 {
            return r.fail(format!("Metadata v{version} is not read by this client"));
        }
        let flex = version >= 9;
        if version >= 3 {
            r.i32()?; // throttle_time_ms
        }
        // node id, host, port, rack: at least 4 + 1 + 4 + 1 bytes.
        let brokers = r.array(flex, 10, |r| {
            let broker = MetadataBroker { node_id: r.i32()?, host: r.string(flex)?, port: r.i32()? };
            r.skip_string(flex)?; // rack
            r.tagged_fields(flex)?;
            Ok(broker)
        })?;
        if version >= 2 {
            r.skip_string(flex)?; // cluster_id
        }
        let controller_id = r.i32()?;
        // error, name, is_internal, partitions: at least 2 + 1 + 1 + 1 bytes.
        let topics = r.array(flex, 5, |r| {
            let error_code = r.i16()?;
            let name = r.nullable_string(flex)?;
            if version >= 10 {
                r.skip(16)?; // topic_id
            }
            r.i8()?; // is_internal
            // error, index, leader, replicas, isr: at least 2 + 4 + 4 + 1 + 1 bytes.
            let partitions = r.array(flex, 12, |r| {
                let (error_code, partition_index, leader_id) = (r.i16()?, r.i32()?, r.i32()?);
                if version >= 7 {
                    r.i32()?; // leader_epoch
                }
                let replicas = r.skip_i32_array(flex)?; // replica_nodes
                let partition = MetadataPartition { error_code, partition_index, leader_id, replicas };
                r.skip_i32_array(flex)?; // isr_nodes
                if version >= 5 {
                    r.skip_i32_array(flex)?; // offline_replicas
                }
                r.tagged_fields(flex)?;
                Ok(partition)
            })?;
            if version >= 8 {
                r.i32()?; // topic_authorized_operations
            }
            r.tagged_fields(flex)?;
            Ok(MetadataTopic { error_code, name, partitions })
        })?;
        if (8..=10).contains(&version) {
            r.i32()?; // cluster_authorized_operations
        }
        if version >= 13 {
            r.i16()?; // error_code (KIP-1102); per-topic codes are what this client acts on
        }
        r.tagged_fields(flex)?;
        Ok(MetadataResponse { brokers, controller_id, topics })
    }
}

/// CreateTopics response (v2–v7; flexible from v5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTopicsResponse {
    pub topics: Vec<CreatedTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub name: String,
    pub error_code: i16,
    pub error_message: Option<String>,
}

impl Response for CreateTopicsResponse {
    const API: ApiKey = ApiKey::CreateTopics;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        if version < 2 {
            return r.fail(format!("CreateTopics v{version} is not read by this client"));
        }
        let flex = version >= 5;
        r.i32()?; // throttle_time_ms
        // name, error, message: at least 1 + 2 + 1 bytes.
        let topics = r.array(flex, 4, |r| {
            let name = r.string(flex)?;
            if version >= 7 {
                r.skip(16)?; // topic_id
            }
            let error_code = r.i16()?;
            let error_message = r.nullable_string(flex)?;
            if version >= 5 {
                r.i32()?; // num_partitions
                r.i16()?; // replication_factor
                // name, value, read_only, source, sensitive, tags: at least 1 + 1 + 1 + 1 + 1 + 1.
                r.nullable_array(flex, 6, |r| {
                    r.skip_string(flex)?;
                    r.skip_string(flex)?;
                    r.i8()?;
                    r.i8()?;
                    r.i8()?;
                    r.tagged_fields(flex)
                })?;
            }
            r.tagged_fields(flex)?;
            Ok(CreatedTopic { name, error_code, error_message })
        })?;
        r.tagged_fields(flex)?;
        Ok(CreateTopicsResponse { topics })
    }
}

/// InitProducerId response (v0–v6; flexible from v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitProducerIdResponse {
    pub error_code: i16,
    pub producer_id: i64,
    pub producer_epoch: i16,
}

impl Response for InitProducerIdResponse {
    const API: ApiKey = ApiKey::InitProducerId;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        r.i32()?; // throttle_time_ms
        let response = InitProducerIdResponse { error_code: r.i16()?, producer_id: r.i64()?, producer_epoch: r.i16()? };
        if version >= 6 {
            r.i64()?; // ongoing_txn_producer_id
            r.i16()?; // ongoing_txn_producer_epoch
        }
        r.tagged_fields(version >= 2)?;
        Ok(response)
    }
}

/// Produce response (v3–v12; flexible from v9): per partition, its error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProduceResponse {
    pub responses: Vec<ProduceTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceTopic {
    pub name: String,
    pub partitions: Vec<ProducePartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducePartition {
    pub index: i32,
    pub error_code: i16,
    pub error_message: Option<String>,
}

impl Response for ProduceResponse {
    const API: ApiKey = ApiKey::Produce;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        let mut response = ProduceResponse::default();
        response.read_into(r, version)?;
        Ok(response)
    }

    /// One answer per request: its topics' names and partition lists keep their memory from
    /// one answer to the next.
    fn read_into(&mut self, r: &mut Reader<'_>, version: i16) -> Result<()> {
        if !(3..=12).contains(&version) {
            return r.fail(format!("Produce v{version} is not read by this client"));
        }
        let flex = version >= 9;
        // name, partitions: at least 1 + 1 bytes.
        let topics = r.array_count(flex, 2)?;
        self.responses.truncate(topics);
        for i in 0..topics {
            if i == self.responses.len() {
                self.responses.push(ProduceTopic { name: String::new(), partitions: Vec::new() });
            }
            let topic = &mut self.responses[i];
            r.string_into(flex, &mut topic.name)?;
            // index, error, base offset, log append time: at least 4 + 2 + 8 + 8 bytes.
            let partitions = r.array_count(flex, 22)?;
            topic.partitions.clear();
            for _ in 0..partitions {
                let index = r.i32()?;
                let error_code = r.i16()?;
                r.i64()?; // base_offset
                r.i64()?; // log_append_time_ms
                if version >= 5 {
                    r.i64()?; // log_start_offset
                }
                let mut error_message = None;
                if version >= 8 {
                    // batch index, message: at least 4 + 1 bytes.
                    r.array(flex, 5, |r| {
                        r.i32()?;
                        r.skip_string(flex)?;
                        r.tagged_fields(flex)
                    })?;
                    error_message = r.nullable_string(flex)?;
                }
                r.tagged_fields(flex)?; // current_leader (v10+) among them
                topic.partitions.push(ProducePartition { index, error_code, error_message });
            }
            r.tagged_fields(flex)?;
        }
        r.i32()?; // throttle_time_ms
        r.tagged_fields(flex) // node_endpoints (v10+) among them
    }
}

#[cfg(test)]
pub(crate) mod tests;
