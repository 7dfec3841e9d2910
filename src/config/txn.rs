//! The transaction settings (KIP-98): whether to use them, the transactional id that fences a
//! second copy of an instance, and how often a transaction commits.

use std::time::Duration;

use super::values::{bounded, probability};
use super::{ConfigError, Instance, Raw, Sources};
use crate::kafka::settings::{Transactions, TxnMode};

/// The transaction settings; `None` when off (or under `auto` without idempotence, which
/// transactions need).
pub(super) fn parse(
    s: &Sources,
    idempotence: bool,
    topic: &str,
    instance: Instance,
) -> Result<Option<Transactions>, ConfigError> {
    let raw = s.get("transactions");
    let abort_raw = s.get("abort-probability");
    let abort_probability = probability(abort_raw)?;
    let without = |why: &str| {
        ConfigError::Conflict(format!(
            "{}={} needs transactions, and {why}: unset it, or use KAFKA_TRANSACTIONS=auto or on",
            abort_raw.name, abort_raw.value
        ))
    };
    let mode = match raw.value.as_str() {
        "auto" => TxnMode::Auto,
        "on" => TxnMode::On,
        "off" if abort_probability > 0.0 => return Err(without(&format!("{} is off", raw.name))),
        "off" => return Ok(None),
        _ => return Err(raw.invalid("`auto`, `on` or `off`")),
    };
    let commit_interval =
        bounded(s.get("commit-interval-ms"), 1, 60_000, "a whole number of milliseconds from 1 to 60000")?;
    let id_raw = s.get("transactional-id");
    let id = if id_raw.is_unset() { format!("pos-producer:{topic}:{instance}") } else { transactional_id(id_raw)? };
    if !idempotence {
        return match mode {
            TxnMode::Auto if abort_probability > 0.0 => {
                Err(without("they need the idempotent producer (acks=all, KAFKA_IDEMPOTENCE=true)"))
            }
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
        abort_probability,
    }))
}

fn transactional_id(raw: &Raw) -> Result<String, ConfigError> {
    let value = &raw.value;
    if value.is_empty() || value.len() > 249 || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(raw.invalid("1 to 249 printable ASCII characters without spaces"));
    }
    Ok(value.clone())
}

#[cfg(test)]
mod tests {
    use crate::config::{Command, ConfigError, parse};
    use crate::kafka::settings::TxnMode;

    fn txn(args: &[&str]) -> Result<Option<super::Transactions>, ConfigError> {
        match parse(args.iter().map(|a| a.to_string()), |_| None)? {
            Command::Run(c) => Ok(c.kafka.transactions),
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn the_default_id_is_the_same_for_every_copy_of_an_instance_and_differs_between_instances() {
        let t = txn(&["--instance=2/3", "--topic=sales"]).unwrap().unwrap();
        assert_eq!(
            (t.mode, t.id.as_str(), t.owner.as_str()),
            (TxnMode::Auto, "pos-producer:sales:2/3", "instance 2/3")
        );
        assert_eq!(t.commit_interval.as_millis(), 100);
        assert_eq!(txn(&["--instance=3/3", "--topic=sales"]).unwrap().unwrap().id, "pos-producer:sales:3/3");
        assert_eq!(txn(&["--transactional-id=mine"]).unwrap().unwrap().id, "mine");
        assert!(txn(&["--transactions=off"]).unwrap().is_none());
    }

    #[test]
    fn conflicts_and_bad_values_are_one_line_naming_the_setting() {
        let e = |args: &[&str]| txn(args).unwrap_err().to_string();
        assert!(e(&["--transactions=maybe"]).contains("`auto`, `on` or `off`"));
        assert!(e(&["--transactions=on", "--acks=1"]).starts_with("--transactions=on needs the idempotent producer"));
        // Without idempotence `auto` is quietly off, unless the abort fault asks for them.
        assert!(txn(&["--acks=1"]).unwrap().is_none());
        assert!(e(&["--acks=1", "--abort-probability=0.1"]).starts_with("--abort-probability=0.1 needs transactions"));
        assert!(e(&["--transactions=off", "--abort-probability=0.1"]).contains("and --transactions is off"));
        assert!(e(&["--commit-interval-ms=0"]).contains("from 1 to 60000"));
        assert!(e(&["--transactional-id=a b"]).contains("without spaces"));
        assert!(e(&["--abort-probability=2"]).contains("a probability from 0 to 1"));
    }
}
