//! Where a run's ids start. With `PRODUCER_ID_START=resume` Kafka is the memory (a `FROM
//! scratch` container has no disk worth trusting): the tails of both topics are read back, and
//! the run continues after the highest transaction and refund ids of this instance found there,
//! with the earlier sales it may still refund. Anything that cannot be known for sure stops the
//! run with what to set instead; it is never guessed.
//!
//! What is read: keys of `transactions` are the sale's id (a record without one, from another
//! producer, names it in its value), so each partition is read back until
//! this instance's last `REFUND_WINDOW` sales are seen. Refunds are keyed by their sale, so
//! their id comes from the value; each partition is read back until a refund of this instance
//! stamped before the oldest of those sales is seen. Every refund of them lies after it: a
//! refund is stamped no earlier than the sale made just before it, so one stamped before the
//! oldest of the last sales was made before all of them, and their refunds came later still
//! (a partition keeps one producer's records in the order they were made).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Instant;

use crate::config::{Config, IdStart, Instance};
use crate::diag::diag;
use crate::kafka::KafkaError;
use crate::kafka::client::Client;
use crate::kafka::partitioner::partition_for_key;
use crate::kafka::tail::{self, End, PartitionTail};
use crate::sim::{REFUND_WINDOW, Start};

/// Where ids start, and the banner's words for why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    pub start: Start,
    pub why: String,
}

impl fmt::Display for Resumed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ids from {} ({})", self.start.transaction_id, self.why)
    }
}

/// Why ids cannot be resumed.
#[derive(Debug)]
pub enum ResumeError {
    Kafka(KafkaError),
    /// The tails do not say where this instance's ids end.
    Unknown(String),
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::Kafka(e) => e.fmt(f),
            ResumeError::Unknown(why) => f.write_str(why),
        }
    }
}

impl From<KafkaError> for ResumeError {
    fn from(e: KafkaError) -> ResumeError {
        ResumeError::Kafka(e)
    }
}

/// The start when the topics are not read: an explicit `PRODUCER_ID_START`, or a dry run.
pub fn without_kafka(config: &Config) -> Resumed {
    let Instance { n, .. } = config.instance;
    let (first, why) = match config.id_start {
        IdStart::From(id) => (id, "PRODUCER_ID_START".to_string()),
        IdStart::Resume => (1, "dry run: nothing to resume from".to_string()),
    };
    let id = config.instance.first_from(first).unwrap_or(first);
    let start = Start { transaction_id: id, refund_id: id, step: n, refundable: Vec::new() };
    Resumed { start, why: with_instance(why, config.instance) }
}

fn with_instance(why: String, instance: Instance) -> String {
    let Instance { k, n } = instance;
    if n > 1 { format!("{why}; instance {instance}: ids {k}, {}, {}, …", k + n, k + 2 * n) } else { why }
}

/// A sale of this instance found in the tail.
struct Found {
    id: u64,
    partition: i32,
    offset: i64,
    timestamp: i64,
    value: Option<Vec<u8>>,
}

/// Reads both topics back and says where this instance's ids continue.
/// `committed`: read committed, as the transactional producer with this producer id (aborted
/// records are not there).
pub fn from_kafka(client: &mut Client, config: &Config, committed: Option<i64>) -> Result<Resumed, ResumeError> {
    let instance = config.instance;
    let deadline = Instant::now() + config.kafka.delivery_timeout;
    let (sales_topic, refunds_topic) = (&config.topic, &config.topic_refunds);

    // This instance's newest sales, per partition, and the highest id of any instance.
    let mut sales: Vec<Found> = Vec::new();
    let mut per_partition: HashMap<i32, usize> = HashMap::new();
    let mut highest_any = 0u64;
    let sale_tails = tail::read(client, sales_topic, committed, deadline, &mut |p, r| {
        // The key is the id; a record written without one (by another producer) names it in
        // its value.
        let key = r.key.as_deref().and_then(decimal_id);
        let Some(id) = key.or_else(|| r.value.as_deref().and_then(crate::sim::resume::transaction_id)) else {
            return false;
        };
        highest_any = highest_any.max(id);
        if !instance.owns(id) {
            return false;
        }
        sales.push(Found { id, partition: p, offset: r.offset, timestamp: r.timestamp, value: r.value.clone() });
        let n = per_partition.entry(p).or_default();
        *n += 1;
        *n >= REFUND_WINDOW
    })?;
    // Newest first; of records with the same id (a duplicate or a broken copy, faults asked
    // for) the one that is a sale is kept.
    let broken = |s: &Found| s.value.as_deref().and_then(|v| crate::sim::resume::sale(v, s.timestamp)).is_none();
    sales.sort_by_cached_key(|s| (std::cmp::Reverse(s.id), broken(s)));
    sales.dedup_by_key(|s| s.id);
    sales.truncate(REFUND_WINDOW);
    let last_sale = sales.first().map(|s| (s.id, s.partition, s.offset));
    check_unseen(sales_topic, &sale_tails, &per_partition, instance, "transaction", last_sale.is_some(), highest_any)?;

    // The sales that may still be refunded, and the refunds of this instance after them. The
    // refunds' stop rule needs these to be exactly this instance's last sales: every partition
    // read until it gave `REFUND_WINDOW` of them, or to its first record ever.
    let all_seen = sale_tails.iter().all(|t| t.end == End::Done || complete(t));
    if !all_seen && !sales.is_empty() {
        diag!(
            "warning: no earlier sale is offered for refund: {sales_topic:?} was not read back far enough to know \
             this instance's last {REFUND_WINDOW} sales"
        );
    }
    let candidates: Vec<crate::sim::event::Transaction> = if all_seen {
        let parsed = sales.iter().rev().filter_map(|s| crate::sim::resume::sale(s.value.as_deref()?, s.timestamp));
        parsed.filter(|t| instance.owns(t.transaction_id)).collect()
    } else {
        Vec::new()
    };
    let oldest = candidates.iter().map(|t| t.timestamp.0).min();
    let mut refunded: HashSet<u64> = HashSet::new();
    let mut found_refunds: HashMap<i32, usize> = HashMap::new();
    let mut last_refund: Option<(u64, i32, i64)> = None;
    let mut highest_refund_any = 0u64;
    let refund_tails = tail::read(client, refunds_topic, committed, deadline, &mut |p, r| {
        let Some(id) = r.value.as_deref().and_then(crate::sim::resume::refund_id) else { return false };
        highest_refund_any = highest_refund_any.max(id);
        if !instance.owns(id) {
            return false;
        }
        if let Some(sale) = r.key.as_deref().and_then(decimal_id) {
            refunded.insert(sale);
        }
        if last_refund.is_none_or(|(last, _, _)| id > last) {
            last_refund = Some((id, p, r.offset));
        }
        *found_refunds.entry(p).or_default() += 1;
        oldest.is_none_or(|ts| r.timestamp < ts)
    })?;
    check_unseen(
        refunds_topic,
        &refund_tails,
        &found_refunds,
        instance,
        "refund",
        last_refund.is_some(),
        highest_refund_any,
    )?;

    // A sale whose refunds partition was not read back far enough may have been refunded.
    let unsure: HashSet<usize> =
        refund_tails.iter().filter(|t| t.end != End::Done && !complete(t)).map(|t| t.partition as usize).collect();
    let refund_partitions = refund_tails.len().max(1);
    let not_refunded: Vec<_> = candidates.into_iter().filter(|t| !refunded.contains(&t.transaction_id)).collect();
    let before = not_refunded.len();
    let refundable: Vec<_> = not_refunded
        .into_iter()
        .filter(|t| !unsure.contains(&partition_for_key(t.transaction_id.to_string().as_bytes(), refund_partitions)))
        .collect();
    if refundable.len() < before {
        diag!(
            "warning: {} earlier sales are not offered for refund: their partitions of {refunds_topic:?} were not \
             read back far enough to know they were not refunded",
            before - refundable.len()
        );
    }

    let after = |id: u64| instance.after(id).unwrap_or(u64::MAX);
    let transaction_id = last_sale.map_or(instance.k, |(id, _, _)| after(id));
    let refund_id = last_refund.map_or(instance.k, |(id, _, _)| after(id));
    let mut why = match last_sale {
        Some((id, p, offset)) => format!("resumed: last transaction {id} in {sales_topic}[{p}] at offset {offset}"),
        None if sale_tails.iter().all(|t| t.latest == 0) && refund_tails.iter().all(|t| t.latest == 0) => {
            "topics empty".to_string()
        }
        None => format!("no transaction of instance {instance} in {sales_topic:?}"),
    };
    match last_refund {
        Some((id, p, offset)) => why.push_str(&format!(
            "; refund ids from {refund_id} (last refund {id} in {refunds_topic}[{p}] at offset {offset})"
        )),
        None if last_sale.is_some() => why.push_str(&format!("; refund ids from {refund_id} (no refund yet)")),
        None => {}
    }
    if last_sale.is_some() {
        why.push_str(&format!("; {} earlier sales refundable", refundable.len()));
    }
    let start = Start { transaction_id, refund_id, step: instance.n, refundable };
    Ok(Resumed { start, why: with_instance(why, instance) })
}

/// Whether every record the partition ever held was read (none was deleted before it).
fn complete(t: &PartitionTail) -> bool {
    t.end == End::Start && t.earliest == 0
}

/// Partitions where this instance's ids were not found but might lie unread. Beyond the byte
/// bound, the newest of them may be there (its last ones may all have gone to that partition):
/// the run stops. Deleted by retention, they are older than everything left there; with ids
/// found in other partitions, a warning (retention must outlive the downtime); with none found
/// at all, the run cannot know where its ids end, and stops.
fn check_unseen(
    topic: &str,
    tails: &[PartitionTail],
    found: &HashMap<i32, usize>,
    instance: Instance,
    kind: &str,
    any_found: bool,
    highest_any: u64,
) -> Result<(), ResumeError> {
    let unseen: Vec<(bool, String)> = tails
        .iter()
        .filter(|t| !found.contains_key(&t.partition) && !complete(t))
        .map(|t| match t.end {
            End::Bound => (
                true,
                format!(
                    "{topic}[{}]: its last {} KiB (offsets {}–{}) hold none",
                    t.partition,
                    t.bytes / 1024,
                    t.from,
                    t.latest - 1
                ),
            ),
            _ => (
                !any_found,
                format!(
                    "{topic}[{}]: offsets 0–{} were written but records before {} were deleted (retention?)",
                    t.partition,
                    t.latest - 1,
                    t.earliest
                ),
            ),
        })
        .collect();
    if !unseen.iter().any(|(fatal, _)| *fatal) {
        for (_, line) in &unseen {
            diag!(
                "warning: no {kind} id of instance {instance} left in {line}; {kind} ids continue after the highest \
                 found in the other partitions"
            );
        }
        return Ok(());
    }
    let hint = match instance.after(highest_any) {
        Some(next) if highest_any > 0 => format!(
            " (the highest {kind} id read is {highest_any}; if instance {instance} never ran before, {next} is safe)"
        ),
        _ => String::new(),
    };
    let lines: Vec<&str> = unseen.iter().map(|(_, line)| line.as_str()).collect();
    Err(ResumeError::Unknown(format!(
        "cannot tell where the {kind} ids of instance {instance} end: {}; set PRODUCER_ID_START=N above the highest \
         id ever used{hint}",
        lines.join("; ")
    )))
}

/// A key that is an id: decimal digits only.
fn decimal_id(key: &[u8]) -> Option<u64> {
    if key.is_empty() || key.len() > 20 || !key.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(key).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(partition: i32, earliest: i64, latest: i64, end: End) -> PartitionTail {
        PartitionTail { partition, earliest, latest, from: earliest, bytes: 4 << 20, end }
    }

    #[test]
    fn keys_are_ids_only_when_all_digits() {
        assert_eq!(decimal_id(b"5000"), Some(5000));
        for bad in [&b""[..], b"+5", b"-5", b"5 ", b"abc", b"99999999999999999999999"] {
            assert_eq!(decimal_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn unread_partitions_stop_the_run_only_when_no_id_was_found() {
        let i = Instance { k: 2, n: 3 };
        let tails = [tail(0, 0, 10, End::Done), tail(1, 0, 90_000, End::Bound), tail(2, 500, 500, End::Start)];
        // Ids found in t[0]: a partition emptied by retention is a warning, one beyond the bound
        // may hide the newest ids and stops the run.
        let found = HashMap::from([(0, 3)]);
        assert!(check_unseen("t", &[tails[0], tails[2]], &found, i, "transaction", true, 99).is_ok());
        let e = check_unseen("t", &tails, &found, i, "transaction", true, 99).unwrap_err().to_string();
        assert!(e.contains("t[1]: its last 4096 KiB") && !e.contains("t[0]"), "{e}");
        let e = check_unseen("t", &tails, &HashMap::new(), i, "transaction", false, 99).unwrap_err().to_string();
        assert!(e.starts_with("cannot tell where the transaction ids of instance 2/3 end: t[0]"), "{e}");
        assert!(e.contains("t[1]: its last 4096 KiB (offsets 0–89999) hold none"), "{e}");
        assert!(e.contains("t[2]: offsets 0–499 were written but records before 500 were deleted (retention?)"), "{e}");
        assert!(
            e.contains("set PRODUCER_ID_START=N") && e.contains("99; if instance 2/3 never ran before, 101 is safe"),
            "{e}"
        );
        // Read to the start, nothing of ours: nothing to resume, ids start at k.
        let read_all = [tail(0, 0, 10, End::Start)];
        assert!(check_unseen("t", &read_all, &HashMap::new(), i, "transaction", false, 9).is_ok());
    }
}
