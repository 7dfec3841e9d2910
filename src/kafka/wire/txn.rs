//! The responses of the transaction APIs (KIP-98): FindCoordinator (for a transactional id),
//! AddPartitionsToTxn and EndTxn. Bounded like every decoder of `wire`.

use kafka_protocol::messages::ApiKey;

use super::{Reader, Response, Result};

/// FindCoordinator response (v1–v3; flexible from v3). v0 knows only group coordinators, and
/// v4 batches keys, which one transactional id does not need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindCoordinatorResponse {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

impl Response for FindCoordinatorResponse {
    const API: ApiKey = ApiKey::FindCoordinator;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        if !(1..=3).contains(&version) {
            return r.fail(format!("FindCoordinator v{version} is not read by this client"));
        }
        let flex = version >= 3;
        r.i32()?; // throttle_time_ms
        let error_code = r.i16()?;
        let error_message = r.nullable_string(flex)?;
        let node_id = r.i32()?;
        let host = r.string(flex)?;
        let port = r.i32()?;
        r.tagged_fields(flex)?;
        Ok(FindCoordinatorResponse { error_code, error_message, node_id, host, port })
    }
}

/// AddPartitionsToTxn response (v0–v3, the client's versions; flexible from v3): per topic and
/// partition, its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitionsToTxnResponse {
    /// (topic, partition, error code).
    pub results: Vec<(String, i32, i16)>,
}

impl Response for AddPartitionsToTxnResponse {
    const API: ApiKey = ApiKey::AddPartitionsToTxn;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        if !(0..=3).contains(&version) {
            return r.fail(format!("AddPartitionsToTxn v{version} is not read by this client"));
        }
        let flex = version >= 3;
        r.i32()?; // throttle_time_ms
        let mut results = Vec::new();
        // name, results: at least 1 + 1 bytes; partition, error: 4 + 2.
        let topics = r.array(flex, 2, |r| {
            let name = r.string(flex)?;
            let partitions = r.array(flex, 6, |r| {
                let partition = r.i32()?;
                let code = r.i16()?;
                r.tagged_fields(flex)?;
                Ok((partition, code))
            })?;
            r.tagged_fields(flex)?;
            Ok((name, partitions))
        })?;
        r.tagged_fields(flex)?;
        for (name, partitions) in topics {
            results.extend(partitions.into_iter().map(|(p, code)| (name.clone(), p, code)));
        }
        Ok(AddPartitionsToTxnResponse { results })
    }
}

/// EndTxn response (v0–v5; flexible from v3). From v5 (transactions protocol v2, KIP-890) it
/// gives the producer id and epoch the next transaction uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnResponse {
    pub error_code: i16,
    /// v5+: (producer id, epoch) for the next transaction.
    pub next: Option<(i64, i16)>,
}

impl Response for EndTxnResponse {
    const API: ApiKey = ApiKey::EndTxn;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        if !(0..=5).contains(&version) {
            return r.fail(format!("EndTxn v{version} is not read by this client"));
        }
        r.i32()?; // throttle_time_ms
        let error_code = r.i16()?;
        let next = if version >= 5 { Some((r.i64()?, r.i16()?)) } else { None };
        r.tagged_fields(version >= 3)?;
        Ok(EndTxnResponse { error_code, next })
    }
}
