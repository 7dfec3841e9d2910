//! Parsing of one value each: numbers, durations, probabilities, names and lists, each error
//! one line naming the variable or flag, the value and what is allowed.

use std::time::Duration;

use super::{ConfigError, IdStart, Instance, Raw, Speedup};

/// Longest allowed wait, so that every duration fits comfortably (one year).
const MAX_SECONDS: f64 = 31_536_000.0;

/// Parses `raw` with `f` unless it is unset (defaults to nothing and not given).
pub(super) fn optional<T>(raw: &Raw, f: impl Fn(&Raw) -> Result<T, ConfigError>) -> Result<Option<T>, ConfigError> {
    if raw.is_unset() { Ok(None) } else { f(raw).map(Some) }
}

pub(super) fn number(raw: &Raw, expected: &str) -> Result<f64, ConfigError> {
    match raw.value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(raw.invalid(expected)),
    }
}

pub(super) fn seconds(raw: &Raw) -> Result<f64, ConfigError> {
    let expected = "a number of seconds from 0 to 31536000";
    let v = number(raw, expected)?;
    if (0.0..=MAX_SECONDS).contains(&v) { Ok(v) } else { Err(raw.invalid(expected)) }
}

pub(super) fn probability(raw: &Raw) -> Result<f64, ConfigError> {
    let expected = "a probability from 0 to 1";
    let v = number(raw, expected)?;
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(raw.invalid(expected)) }
}

pub(super) fn speedup(raw: &Raw) -> Result<Speedup, ConfigError> {
    let expected = "a number > 0 (times real time) or `max`";
    if raw.value == "max" {
        return Ok(Speedup::Max);
    }
    let v = number(raw, expected)?;
    if v > 0.0 && v <= 1e9 { Ok(Speedup::Factor(v)) } else { Err(raw.invalid(expected)) }
}

pub(super) fn unsigned(raw: &Raw, expected: &str) -> Result<u64, ConfigError> {
    raw.value.trim().parse::<u64>().map_err(|_| raw.invalid(expected))
}

pub(super) fn millis(raw: &Raw) -> Result<Duration, ConfigError> {
    let expected = "a whole number of milliseconds from 1 to 2147483647";
    match raw.value.trim().parse::<u64>() {
        Ok(ms) if (1..=i32::MAX as u64).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(raw.invalid(expected)),
    }
}

pub(super) fn bounded(raw: &Raw, low: usize, high: usize, expected: &str) -> Result<usize, ConfigError> {
    match raw.value.trim().parse::<usize>() {
        Ok(n) if (low..=high).contains(&n) => Ok(n),
        _ => Err(raw.invalid(expected)),
    }
}

pub(super) fn partitions(raw: &Raw) -> Result<i32, ConfigError> {
    match raw.value.trim().parse::<i32>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(raw.invalid("a whole number of partitions from 1 to 100000")),
    }
}

pub(super) fn id_start(raw: &Raw) -> Result<IdStart, ConfigError> {
    if raw.value.trim().eq_ignore_ascii_case("resume") {
        return Ok(IdStart::Resume);
    }
    match raw.value.trim().parse::<u64>() {
        Ok(n) if (1..=MAX_ID).contains(&n) => Ok(IdStart::From(n)),
        _ => Err(raw.invalid(format!("`resume` or a whole number from 1 to {MAX_ID}"))),
    }
}

/// Ids stay below 2^53 so that every JSON reader (JavaScript, Spark's doubles) reads them exactly.
pub(super) const MAX_ID: u64 = (1 << 53) - 1;

/// Most instances sharing the topics.
pub(super) const MAX_INSTANCES: u64 = 65_535;

/// `k/n`, or `ordinal/n` in a Kubernetes StatefulSet: k is one more than the ordinal of the pod
/// (`pos-producer-2` is 3/n), read from `pod`: the variable that named it (`POD_NAME`, else
/// `HOSTNAME`) and its value.
pub(super) fn instance(raw: &Raw, pod: Option<(&str, &str)>) -> Result<Instance, ConfigError> {
    let expected = || {
        raw.invalid(format!(
            "k/n: this instance's number k from 1 to n, of n from 1 to {MAX_INSTANCES} instances (e.g. 2/3), or \
             ordinal/n to take k from a StatefulSet pod's name"
        ))
    };
    let (k, n) = raw.value.trim().split_once('/').ok_or_else(expected)?;
    let n = n.parse::<u64>().ok().filter(|n| (1..=MAX_INSTANCES).contains(n)).ok_or_else(expected)?;
    let k = if k == "ordinal" {
        let refuse = |why: String| ConfigError::Conflict(format!("invalid {} {:?}: {why}", raw.name, raw.value));
        let Some((var, name)) = pod else {
            return Err(refuse("ordinal/n needs the pod's name in POD_NAME or HOSTNAME, and neither is set".into()));
        };
        let digits =
            name.rsplit_once('-').map(|(_, o)| o).filter(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_digit()));
        let ordinal = digits.and_then(|o| o.parse::<u64>().ok());
        match ordinal {
            None => {
                return Err(refuse(format!(
                    "the ordinal comes from the pod's name, and {var} {name:?} does not end in -N (a StatefulSet \
                     names its pods NAME-0, NAME-1, …)"
                )));
            }
            Some(o) if o >= n => {
                return Err(refuse(format!(
                    "{var} {name:?} is ordinal {o}, and {n} instances take ordinals 0 to {}: scale the \
                     StatefulSet to at most {n} replicas, or raise n",
                    n - 1
                )));
            }
            Some(o) => o + 1,
        }
    } else {
        k.parse::<u64>().ok().filter(|k| (1..=n).contains(k)).ok_or_else(expected)?
    };
    Ok(Instance { k, n })
}

pub(super) fn stores(raw: &Raw) -> Result<Vec<String>, ConfigError> {
    if raw.value.trim().eq_ignore_ascii_case("all") {
        return Ok(Vec::new());
    }
    let asked: Vec<String> = raw.value.split(',').map(|s| s.trim().to_ascii_uppercase()).collect();
    let mut unique = asked.clone();
    unique.sort_unstable();
    unique.dedup();
    if asked.iter().any(String::is_empty) || unique.len() != asked.len() {
        return Err(raw.invalid("`all`, or a comma list of different store ids such as STORE-001,STORE-003"));
    }
    Ok(asked)
}

pub(super) fn boolean(raw: &Raw) -> Result<bool, ConfigError> {
    match raw.value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(raw.invalid("true, false, 1 or 0")),
    }
}

pub(super) fn rfc3339(raw: &Raw) -> Result<i64, ConfigError> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(raw.value.trim(), &Rfc3339)
        .map_err(|_| raw.invalid("an RFC 3339 time such as 2025-01-01T00:00:00Z"))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| raw.invalid("an RFC 3339 time from 1970 on"))
}

/// Kafka's own rule for topic names (`org.apache.kafka.common.internals.Topic.validate`).
pub(super) fn topic_name(raw: &Raw) -> Result<String, ConfigError> {
    let v = &raw.value;
    let legal = v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if v.is_empty() || v.len() > 249 || v == "." || v == ".." || !legal {
        return Err(raw.invalid("a topic name of 1 to 249 characters from [a-zA-Z0-9._-], not `.` or `..`"));
    }
    Ok(v.clone())
}

/// A comma list of `host:port`; IPv6 hosts in brackets (`[::1]:9092`).
pub(super) fn bootstrap(raw: &Raw) -> Result<Vec<String>, ConfigError> {
    let expected = "a comma list of host:port with ports from 1 to 65535, e.g. kafka:9092";
    let mut servers = Vec::new();
    for entry in raw.value.split(',').map(str::trim) {
        let (host, port) = entry.rsplit_once(':').ok_or_else(|| raw.invalid(expected))?;
        let host_ok =
            !host.is_empty() && !host.contains(char::is_whitespace) && (host.starts_with('[') == host.ends_with(']'));
        match port.parse::<u16>() {
            Ok(p) if p > 0 && host_ok => servers.push(entry.to_string()),
            _ => return Err(raw.invalid(expected)),
        }
    }
    Ok(servers)
}

/// `ip:port`, or `:port` for every address (`0.0.0.0`), as exporters take it.
pub(super) fn listen_addr(raw: &Raw) -> Result<std::net::SocketAddr, ConfigError> {
    let value = raw.value.trim();
    let full = if value.starts_with(':') { format!("0.0.0.0{value}") } else { value.to_string() };
    full.parse().map_err(|_| raw.invalid("an ip:port to listen on, such as 0.0.0.0:9464, 127.0.0.1:9464 or :9464"))
}
