//! The two responses that read a topic back: ListOffsets (where each partition starts and ends)
//! and Fetch (its record batches, left undecoded here: see `kafka::records`).

use kafka_protocol::messages::ApiKey;

use super::{Reader, Response, Result};

/// ListOffsets response (v1–v7; flexible from v6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOffsetsResponse {
    pub topics: Vec<OffsetsTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetsTopic {
    pub name: String,
    pub partitions: Vec<OffsetsPartition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetsPartition {
    pub index: i32,
    pub error_code: i16,
    pub offset: i64,
}

impl Response for ListOffsetsResponse {
    const API: ApiKey = ApiKey::ListOffsets;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        if !(1..=7).contains(&version) {
            return r.fail(format!("ListOffsets v{version} is not read by this client"));
        }
        let flex = version >= 6;
        if version >= 2 {
            r.i32()?; // throttle_time_ms
        }
        // name, partitions: at least 1 + 1 bytes.
        let topics = r.array(flex, 2, |r| {
            let name = r.string(flex)?;
            // index, error, timestamp, offset: at least 4 + 2 + 8 + 8 bytes.
            let partitions = r.array(flex, 22, |r| {
                let index = r.i32()?;
                let error_code = r.i16()?;
                r.i64()?; // timestamp
                let offset = r.i64()?;
                if version >= 4 {
                    r.i32()?; // leader_epoch
                }
                r.tagged_fields(flex)?;
                Ok(OffsetsPartition { index, error_code, offset })
            })?;
            r.tagged_fields(flex)?;
            Ok(OffsetsTopic { name, partitions })
        })?;
        r.tagged_fields(flex)?;
        Ok(ListOffsetsResponse { topics })
    }
}

/// Fetch response (v4–v12; flexible from v12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    pub error_code: i16,
    pub responses: Vec<FetchTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTopic {
    pub name: String,
    pub partitions: Vec<FetchPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPartition {
    pub index: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    /// Read committed: the transactions aborted in the range, (producer id, first offset).
    pub aborted: Vec<(i64, i64)>,
    /// Record batches as the broker sent them (the last one may be cut short); empty for null.
    pub records: Vec<u8>,
}

impl Response for FetchResponse {
    const API: ApiKey = ApiKey::Fetch;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        if !(4..=12).contains(&version) {
            return r.fail(format!("Fetch v{version} is not read by this client"));
        }
        let flex = version >= 12;
        r.i32()?; // throttle_time_ms
        let mut error_code = 0;
        if version >= 7 {
            error_code = r.i16()?;
            r.i32()?; // session_id
        }
        // name, partitions: at least 1 + 1 bytes.
        let responses = r.array(flex, 2, |r| {
            let name = r.string(flex)?;
            // index, error, high watermark, last stable offset, aborted, records: 4+2+8+8+1+1.
            let partitions = r.array(flex, 24, |r| {
                let index = r.i32()?;
                let error_code = r.i16()?;
                let high_watermark = r.i64()?;
                r.i64()?; // last_stable_offset
                if version >= 5 {
                    r.i64()?; // log_start_offset
                }
                // producer id, first offset: 8 + 8 bytes.
                let aborted = r
                    .nullable_array(flex, 16, |r| {
                        let pair = (r.i64()?, r.i64()?);
                        r.tagged_fields(flex)?;
                        Ok(pair)
                    })?
                    .unwrap_or_default();
                if version >= 11 {
                    r.i32()?; // preferred_read_replica
                }
                let records = r.nullable_bytes(flex)?.unwrap_or_default();
                r.tagged_fields(flex)?; // diverging_epoch, current_leader, snapshot_id among them
                Ok(FetchPartition { index, error_code, high_watermark, aborted, records })
            })?;
            r.tagged_fields(flex)?;
            Ok(FetchTopic { name, partitions })
        })?;
        r.tagged_fields(flex)?;
        Ok(FetchResponse { error_code, responses })
    }
}
