//! The transaction settings (KIP-98): whether to use them, the transactional id that fences a
//! second copy of an instance, and how often a transaction commits.

use std::time::Duration;

use super::{ConfigError, Instance, Raw, Sources, bounded};

/// `KAFKA_TRANSACTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnMode {
    /// Transactions where the cluster and the principal's ACLs allow them, else the idempotent
    /// producer with one warning.
    Auto,
    /// Transactions or exit 1.
    On,
}

/// Transactions asked for (`auto` or `on`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transactions {
    pub mode: TxnMode,
    pub id: String,
    /// Who this producer is, for the line that says it was fenced: `instance 1/3`.
    pub owner: String,
    pub commit_interval: Duration,
}

/// The transaction settings; `None` when off (or under `auto` without idempotence, which
/// transactions need).
pub(super) fn parse(
    s: &Sources,
    idempotence: bool,
    topic: &str,
    instance: Instance,
) -> Result<Option<Transactions>, ConfigError> {
    let raw = s.get("transactions");
    let mode = match raw.value.as_str() {
        "auto" => TxnMode::Auto,
        "on" => TxnMode::On,
        "off" => return Ok(None),
        _ => return Err(raw.invalid("`auto`, `on` or `off`")),
    };
    let commit_interval =
        bounded(s.get("commit-interval-ms"), 1, 60_000, "a whole number of milliseconds from 1 to 60000")?;
    let id_raw = s.get("transactional-id");
    let id = if id_raw.is_unset() { format!("pos-producer:{topic}:{instance}") } else { transactional_id(id_raw)? };
    if !idempotence {
        return match mode {
            TxnMode::Auto => Ok(None),
            TxnMode::On => Err(ConfigError::Conflict(format!(
                "{}=on needs the idempotent producer, which acks other than `all` or KAFKA_IDEMPOTENCE=false turn \
                 off: use acks=all, or KAFKA_TRANSACTIONS=off",
                raw.name
            ))),
        };
    }
    Ok(Some(Transactions {
        mode,
        id,
        owner: format!("instance {instance}"),
        commit_interval: Duration::from_millis(commit_interval as u64),
    }))
}

fn transactional_id(raw: &Raw) -> Result<String, ConfigError> {
    let value = &raw.value;
    if value.is_empty() || value.len() > 249 || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(raw.invalid("1 to 249 printable ASCII characters without spaces"));
    }
    Ok(value.clone())
}
