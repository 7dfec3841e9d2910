//! Reading a topic back from its end: each partition's newest records first, in chunks that
//! grow backwards, until the caller has seen enough, the partition's first record, or
//! [`MAX_TAIL_BYTES`] of record batches.
//!
//! Read committed (a transactional producer), the end is the last stable offset, once no open
//! transaction holds it below the high watermark seen first: records of a transaction still
//! open then (another instance's) could hide this instance's committed ones after them. The
//! records of aborted transactions are left out (`records::decode_committed`), and the reader
//! jumps over this producer's own aborted transaction (a `kill -9` flat out leaves one of many
//! megabytes at the end): its committed records all lie before its first offset, which the
//! Fetch names.
//!
//! References: Kafka protocol guide (ListOffsets: timestamps -1 latest, -2 earliest, isolation
//! level 1 for the last stable offset; Fetch: sessionless with session id 0 and epoch -1, the
//! aborted transactions it names under read_committed); KIP-74 (a Fetch always returns at
//! least one whole batch); KIP-98.

use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, ListOffsetsRequest};

use super::backoff::{Backoff, NoRetry};
use super::client::{Client, topic_name};
use super::connection::{Connection, ConnectionError};
use super::records::{self, Record};
use super::wire::{FetchResponse, ListOffsetsResponse};
use super::{KafkaError, is_retriable};

/// The most record-batch bytes read back from one partition.
pub const MAX_TAIL_BYTES: usize = 4 * 1024 * 1024;

/// Records asked for in the first chunk (each next chunk asks four times as many).
const FIRST_CHUNK: i64 = 500;

/// What a Fetch asks for at most, and at least.
const MAX_FETCH_BYTES: usize = 1024 * 1024;
const MIN_FETCH_BYTES: usize = 64 * 1024;

/// The broker's answer that the offset asked for is no longer in the log (retention).
const OFFSET_OUT_OF_RANGE: i16 = 1;

/// How reading a partition ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The caller saw what it needed.
    Done,
    /// Every record the partition still holds was read.
    Start,
    /// `MAX_TAIL_BYTES` were read first.
    Bound,
}

/// One partition's offsets and how far back it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionTail {
    pub partition: i32,
    /// The log start offset: records before it were deleted (retention, DeleteRecords).
    pub earliest: i64,
    /// The high watermark: the offset the next record gets.
    pub latest: i64,
    /// The lowest offset read.
    pub from: i64,
    pub bytes: usize,
    pub end: End,
}

/// How long a wait for another producer's open transaction goes on before it is told.
const TELL_WAIT_AFTER: Duration = Duration::from_secs(2);

/// Reads every partition of `topic` back from its end. `visit(partition, record)` sees the
/// records of each partition newest first and returns `true` once it has seen enough of it.
/// `committed`: read committed (records of aborted transactions left out), as the
/// transactional producer with this producer id.
pub fn read(
    client: &mut Client,
    topic: &str,
    committed: Option<i64>,
    deadline: Instant,
    visit: &mut dyn FnMut(i32, &Record) -> bool,
) -> Result<Vec<PartitionTail>, KafkaError> {
    client.set_deadline(Some(deadline));
    let partitions = client.leaders(topic).len() as i32;
    let isolation = Isolation(i8::from(committed.is_some()));
    let mut out = Vec::new();
    for p in 0..partitions {
        let earliest = list_offset(client, topic, p, -2, Isolation::UNCOMMITTED, deadline)?;
        let latest = if committed.is_some() {
            stable_offset(client, topic, p, deadline)?
        } else {
            list_offset(client, topic, p, -1, Isolation::UNCOMMITTED, deadline)?
        };
        let mut tail = PartitionTail { partition: p, earliest, latest, from: latest, bytes: 0, end: End::Start };
        let mut step = FIRST_CHUNK;
        let mut hi = latest;
        let mut records = 0usize;
        'chunks: while hi > earliest {
            let lo = earliest.max(hi - step);
            let mut own_aborted = None;
            let (chunk, reached) = fetch_range(
                client,
                topic,
                p,
                (lo, hi),
                (isolation, committed),
                &mut own_aborted,
                deadline,
                &mut tail.bytes,
            )?;
            if reached == Reached::OutOfBudget {
                // Records newer than the gap left would go unseen: this chunk is not visited.
                tail.end = End::Bound;
                break;
            }
            tail.from = lo;
            records += chunk.len();
            for record in chunk.iter().rev() {
                if visit(p, record) {
                    tail.end = End::Done;
                    break 'chunks;
                }
            }
            if let Reached::Deleted(start) = reached {
                tail.earliest = start;
                break;
            }
            // Four times as many records next, as far as the bytes left allow.
            let per_record = (tail.bytes / records.max(1)).max(1);
            let affordable = i64::try_from(MAX_TAIL_BYTES.saturating_sub(tail.bytes) / per_record).unwrap_or(i64::MAX);
            step = step.saturating_mul(4).min(affordable);
            if step == 0 && lo > earliest {
                tail.end = End::Bound;
                break;
            }
            // Over this producer's own aborted transaction at once: nothing of it counts.
            hi = own_aborted.map_or(lo, |first: i64| first.clamp(earliest, lo));
        }
        out.push(tail);
    }
    Ok(out)
}

/// ListOffsets' and Fetch's isolation level: 0 read uncommitted, 1 read committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Isolation(i8);

impl Isolation {
    const UNCOMMITTED: Isolation = Isolation(0);
    const COMMITTED: Isolation = Isolation(1);
}

/// The last stable offset of `topic[partition]` once it reached the high watermark as it was
/// at first: every transaction open then has ended (another producer commits within its
/// interval; one that died is aborted by its coordinator after its transaction timeout).
fn stable_offset(client: &mut Client, topic: &str, partition: i32, deadline: Instant) -> Result<i64, KafkaError> {
    let high = list_offset(client, topic, partition, -1, Isolation::UNCOMMITTED, deadline)?;
    let started = Instant::now();
    let mut told = false;
    loop {
        let stable = list_offset(client, topic, partition, -1, Isolation::COMMITTED, deadline)?;
        if stable >= high {
            return Ok(stable);
        }
        if !told && started.elapsed() >= TELL_WAIT_AFTER {
            crate::diag::diag!(
                "waiting for an open transaction of another producer in {topic}[{partition}] (from offset {stable}) \
                 to end before reading it back"
            );
            told = true;
        }
        let next = Instant::now() + Duration::from_millis(50);
        if next >= deadline {
            return Err(KafkaError::NotReady {
                what: "reading the topics back",
                last: format!("{topic}[{partition}] has a transaction open from offset {stable}"),
            });
        }
        if !client.stop().sleep_until(next) {
            return Err(KafkaError::Stopped { unacked: 0 });
        }
    }
}

/// How far a range was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reached {
    /// Every record of the range still in the log.
    All,
    /// The log start moved past the range's start meanwhile (retention ran) to this offset:
    /// what was left.
    Deleted(i64),
    /// The budget ran out before the end of the range.
    OutOfBudget,
}

/// The records of `[lo, hi)`, oldest first, fetched while `read` (the bytes read from the
/// partition so far, added to) stays under `MAX_TAIL_BYTES`.
/// `own_aborted`: set to the first offset of an aborted transaction of producer `own` that
/// began before `lo`, if the broker named one.
#[allow(clippy::too_many_arguments)]
fn fetch_range(
    client: &mut Client,
    topic: &str,
    partition: i32,
    (lo, hi): (i64, i64),
    (isolation, own): (Isolation, Option<i64>),
    own_aborted: &mut Option<i64>,
    deadline: Instant,
    read: &mut usize,
) -> Result<(Vec<Record>, Reached), KafkaError> {
    let unreadable = |reason: String| KafkaError::Unreadable { topic: topic.to_string(), partition, reason };
    let mut out = Vec::new();
    let mut at = lo;
    let mut deleted = None;
    while at < hi {
        let left = MAX_TAIL_BYTES.saturating_sub(*read);
        if left == 0 {
            return Ok((out, Reached::OutOfBudget));
        }
        // About 200 bytes a record, whole batches at least (KIP-74).
        let want = usize::try_from(hi - at).unwrap_or(usize::MAX).saturating_mul(200);
        let max_bytes = want.clamp(MIN_FETCH_BYTES, MAX_FETCH_BYTES).min(left.max(MIN_FETCH_BYTES));
        let (data, aborted) = match fetch(client, topic, partition, at, max_bytes, isolation, deadline)? {
            Fetched::Records(data, aborted) => (data, aborted),
            Fetched::Deleted => {
                let start = list_offset(client, topic, partition, -2, Isolation::UNCOMMITTED, deadline)?;
                if start <= at {
                    return Err(unreadable(format!("offset {at} is out of range, yet the log starts at {start}")));
                }
                deleted = Some(start);
                at = start;
                continue;
            }
        };
        *read += data.len();
        let decoded = records::decode_committed(&data, &aborted).map_err(|e| unreadable(e.to_string()))?;
        for &(producer, first) in &aborted {
            if Some(producer) == own && first < lo {
                *own_aborted = Some(own_aborted.map_or(first, |f: i64| f.min(first)));
            }
        }
        let Some(next) = decoded.next_offset else {
            if data.is_empty() {
                break; // nothing more up to the high watermark
            }
            let what =
                format!("the broker answered a fetch at offset {at} with {} bytes and no whole batch", data.len());
            return Err(unreadable(what));
        };
        out.extend(decoded.records.into_iter().filter(|r| (lo..hi).contains(&r.offset)));
        if next <= at {
            return Err(unreadable(format!("a fetch at offset {at} returned batches ending before it")));
        }
        at = next;
    }
    Ok((out, deleted.map_or(Reached::All, Reached::Deleted)))
}

enum Fetched {
    /// Record batches, and under read_committed the aborted transactions among them.
    Records(Vec<u8>, Vec<(i64, i64)>),
    /// OFFSET_OUT_OF_RANGE: the records asked for were deleted.
    Deleted,
}

fn fetch(
    client: &mut Client,
    topic: &str,
    partition: i32,
    offset: i64,
    max_bytes: usize,
    isolation: Isolation,
    deadline: Instant,
) -> Result<Fetched, KafkaError> {
    let max_bytes = i32::try_from(max_bytes).unwrap_or(i32::MAX);
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(max_bytes)
        .with_isolation_level(isolation.0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default().with_topic(topic_name(topic)).with_partitions(vec![
            FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(max_bytes),
        ])]);
    let answer = on_leader(client, topic, partition, deadline, "Fetch", |c| {
        let version = needed(c, c.versions().fetch, "Fetch v4+")?;
        let response: FetchResponse = c.call(ApiKey::Fetch, version, &request)?;
        let part = response
            .responses
            .into_iter()
            .filter(|t| t.name == topic)
            .flat_map(|t| t.partitions)
            .find(|p| p.index == partition);
        Ok(match part {
            _ if response.error_code != 0 => Err(response.error_code),
            Some(p) if p.error_code == OFFSET_OUT_OF_RANGE => Ok(Fetched::Deleted),
            Some(p) if p.error_code != 0 => Err(p.error_code),
            Some(p) => Ok(Fetched::Records(p.records, p.aborted)),
            None => Err(UNKNOWN_TOPIC_OR_PARTITION),
        })
    })?;
    Ok(answer)
}

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;

/// The offset ListOffsets gives for `timestamp` (-1: the high watermark, or read committed the
/// last stable offset; -2: the log start).
fn list_offset(
    client: &mut Client,
    topic: &str,
    partition: i32,
    timestamp: i64,
    isolation: Isolation,
    deadline: Instant,
) -> Result<i64, KafkaError> {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation.0)
        .with_topics(vec![ListOffsetsTopic::default().with_name(topic_name(topic)).with_partitions(vec![
                ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(timestamp),
            ])]);
    on_leader(client, topic, partition, deadline, "ListOffsets", |c| {
        let version = needed(c, c.versions().list_offsets, "ListOffsets v1+")?;
        let response: ListOffsetsResponse = c.call(ApiKey::ListOffsets, version, &request)?;
        let part = response
            .topics
            .iter()
            .filter(|t| t.name == topic)
            .flat_map(|t| &t.partitions)
            .find(|p| p.index == partition);
        Ok(match part {
            Some(p) if p.error_code != 0 => Err(p.error_code),
            Some(p) => Ok(p.offset),
            None => Err(UNKNOWN_TOPIC_OR_PARTITION),
        })
    })
}

fn needed(c: &Connection, version: Option<i16>, what: &str) -> Result<i16, ConnectionError> {
    version.ok_or_else(|| ConnectionError::Unsupported {
        addr: c.addr().to_string(),
        reason: format!("does not support {what}, which resuming ids needs; set PRODUCER_ID_START to start without it"),
    })
}

/// Runs `f` on the leader of `topic[partition]`; a retriable failure (a connection lost, a
/// leader moved) refreshes metadata and tries again until `deadline`.
fn on_leader<T>(
    client: &mut Client,
    topic: &str,
    partition: i32,
    deadline: Instant,
    what: &str,
    mut f: impl FnMut(&mut Connection) -> Result<Result<T, i16>, ConnectionError>,
) -> Result<T, KafkaError> {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    let topics = [topic.to_string()];
    loop {
        let leader = client.leaders(topic).get(partition as usize).copied().unwrap_or(-1);
        let last = if leader < 0 {
            format!("{topic}[{partition}] has no leader")
        } else {
            match client.with_broker(leader, &mut f) {
                Ok(Ok(t)) => return Ok(t),
                Ok(Err(code)) if is_retriable(code) => {
                    format!("{what} {topic}[{partition}]: {}", super::error_name(code))
                }
                Ok(Err(code)) => {
                    // Producer-only principals (usual on managed clusters) may write, not read.
                    let message = (code == TOPIC_AUTHORIZATION_FAILED).then(|| {
                        format!(
                            "resuming ids reads both topics back, which needs Describe and Read on them: grant them \
                             (kafka-acls --add --allow-principal User:NAME --operation Read --operation Describe \
                             --topic {topic}), or set PRODUCER_ID_START=N"
                        )
                    });
                    return Err(KafkaError::Broker { what: format!("{what} of {topic}[{partition}]"), code, message });
                }
                Err(e) if e.is_retriable() => e.to_string(),
                Err(e) => return Err(e.into()),
            }
        };
        match backoff.pause(client.stop(), deadline, |_| {}) {
            Ok(()) => {}
            Err(NoRetry::Expired) => return Err(KafkaError::NotReady { what: "reading the topics back", last }),
            Err(NoRetry::Stopped) => return Err(KafkaError::Stopped { unacked: 0 }),
        }
        if let Err(e) = client.refresh(&topics)
            && !e.is_retriable()
        {
            return Err(e.into());
        }
    }
}
