//! The two text formats a Prometheus server scrapes: the classic one (`text/plain;
//! version=0.0.4`) and OpenMetrics 1.0 (asked for with `Accept`). One list of families is
//! written either way; the formats differ in how counters and info metrics are named, in the
//! `UNIT` lines and in the closing `# EOF`.
//!
//! References: <https://prometheus.io/docs/instrumenting/exposition_formats/>,
//! <https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>.

use std::fmt::Write;

pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPEN_METRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics 1.0 when it is listed with a weight
    /// above 0 and at least that of `text/plain`, else the classic text.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else { return Format::Text };
        let (mut open, mut text) = (None::<f64>, None::<f64>);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let (mut q, mut version) = (1.0, None);
            for param in parts {
                match param.split_once('=').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim())) {
                    Some((k, v)) if k == "q" => q = v.parse().unwrap_or(0.0),
                    Some((k, v)) if k == "version" => version = Some(v.to_string()),
                    _ => {}
                }
            }
            let best = |slot: &mut Option<f64>| *slot = Some(slot.map_or(q, |b: f64| b.max(q)));
            match media.as_str() {
                "application/openmetrics-text" if version.as_deref().is_none_or(|v| v.starts_with("1.")) => {
                    best(&mut open)
                }
                "text/plain" => best(&mut text),
                _ => {}
            }
        }
        match open {
            Some(q) if q > 0.0 && q >= text.unwrap_or(0.0) => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT,
            Format::OpenMetrics => OPEN_METRICS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    /// A gauge of 1 whose labels carry the information.
    Info,
    Histogram,
}

/// One sample: its labels and value. For a histogram: the cumulative bucket counts at `bounds`
/// then `+Inf`, and the sum.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram { bounds: &'static [f64], cumulative: Vec<u64>, sum: f64 },
}

/// A metric family. `name` is the family's name: without `_total` (a counter) or `_info` (an
/// info metric), which the formats add; with its unit as its last word when it has one.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub unit: Option<&'static str>,
    pub samples: Vec<(Vec<(&'static str, String)>, Value)>,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        let unit = ["seconds", "bytes"].into_iter().find(|u| name.ends_with(&format!("_{u}")));
        Family { name, help, kind, unit, samples: Vec::new() }
    }

    pub fn sample(mut self, labels: &[(&'static str, &str)], value: f64) -> Family {
        let labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.samples.push((labels, Value::Number(value)));
        self
    }

    pub fn histogram(mut self, bounds: &'static [f64], cumulative: Vec<u64>, sum: f64) -> Family {
        self.samples.push((Vec::new(), Value::Histogram { bounds, cumulative, sum }));
        self
    }
}

/// The families in `format`.
pub fn render(families: &[Family], format: Format) -> String {
    let mut out = String::with_capacity(8 * 1024);
    for family in families {
        write_family(&mut out, family, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn write_family(out: &mut String, f: &Family, format: Format) {
    let open = format == Format::OpenMetrics;
    // Classic text has neither `info` nor a family name apart from its samples'.
    let (meta_name, type_name, suffix) = match (f.kind, open) {
        (Kind::Counter, true) => (f.name.to_string(), "counter", "_total"),
        (Kind::Counter, false) => (format!("{}_total", f.name), "counter", "_total"),
        (Kind::Info, true) => (f.name.to_string(), "info", "_info"),
        (Kind::Info, false) => (format!("{}_info", f.name), "gauge", "_info"),
        (Kind::Gauge, _) => (f.name.to_string(), "gauge", ""),
        (Kind::Histogram, _) => (f.name.to_string(), "histogram", ""),
    };
    let _ = writeln!(out, "# HELP {meta_name} {}", escape_help(f.help));
    let _ = writeln!(out, "# TYPE {meta_name} {type_name}");
    if let (true, Some(unit)) = (open, f.unit) {
        let _ = writeln!(out, "# UNIT {meta_name} {unit}");
    }
    for (labels, value) in &f.samples {
        match value {
            Value::Number(v) => {
                let _ = writeln!(out, "{}{suffix}{} {}", f.name, label_set(labels, None), number(*v));
            }
            Value::Histogram { bounds, cumulative, sum } => {
                for (i, count) in cumulative.iter().enumerate() {
                    let le = bounds.get(i).map_or_else(|| "+Inf".to_string(), |b| bound(*b));
                    let _ = writeln!(out, "{}_bucket{} {count}", f.name, label_set(labels, Some(&le)));
                }
                let count = cumulative.last().copied().unwrap_or(0);
                let _ = writeln!(out, "{}_count{} {count}", f.name, label_set(labels, None));
                let _ = writeln!(out, "{}_sum{} {}", f.name, label_set(labels, None), number(*sum));
            }
        }
    }
}

fn label_set(labels: &[(&str, String)], le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"{}\"", escape_value(v));
    }
    if let Some(le) = le {
        if !labels.is_empty() {
            s.push(',');
        }
        let _ = write!(s, "le=\"{le}\"");
    }
    s.push('}');
    s
}

/// A sample value: whole numbers without a fraction, others as Rust prints them (shortest
/// round trip); both formats read either.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A bucket bound, always with a fraction ("1.0", not "1"): the canonical form OpenMetrics asks
/// for `le`, which the classic format reads as well.
fn bound(b: f64) -> String {
    if b.fract() == 0.0 { format!("{b:.1}") } else { format!("{b}") }
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(h: &str) -> String {
    h.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn families() -> Vec<Family> {
        vec![
            Family::new("pos_producer_events_made", Kind::Counter, "Events made.")
                .sample(&[("type", "transaction")], 3.0)
                .sample(&[("type", "refund")], 1.0),
            Family::new("pos_producer_schedule_lag_seconds", Kind::Gauge, "Lag.").sample(&[], 0.25),
            Family::new("pos_producer_build", Kind::Info, "Build.").sample(&[("version", "1 \"a\"\\\n")], 1.0),
            Family::new("pos_producer_event_latency_seconds", Kind::Histogram, "Latency.").histogram(
                &[0.5, 1.0],
                vec![1, 2, 3],
                7.5,
            ),
        ]
    }

    #[test]
    fn the_classic_text_names_counters_and_info_by_their_samples() {
        let text = render(&families(), Format::Text);
        assert_eq!(
            text,
            "# HELP pos_producer_events_made_total Events made.\n\
             # TYPE pos_producer_events_made_total counter\n\
             pos_producer_events_made_total{type=\"transaction\"} 3\n\
             pos_producer_events_made_total{type=\"refund\"} 1\n\
             # HELP pos_producer_schedule_lag_seconds Lag.\n\
             # TYPE pos_producer_schedule_lag_seconds gauge\n\
             pos_producer_schedule_lag_seconds 0.25\n\
             # HELP pos_producer_build_info Build.\n\
             # TYPE pos_producer_build_info gauge\n\
             pos_producer_build_info{version=\"1 \\\"a\\\"\\\\\\n\"} 1\n\
             # HELP pos_producer_event_latency_seconds Latency.\n\
             # TYPE pos_producer_event_latency_seconds histogram\n\
             pos_producer_event_latency_seconds_bucket{le=\"0.5\"} 1\n\
             pos_producer_event_latency_seconds_bucket{le=\"1.0\"} 2\n\
             pos_producer_event_latency_seconds_bucket{le=\"+Inf\"} 3\n\
             pos_producer_event_latency_seconds_count 3\n\
             pos_producer_event_latency_seconds_sum 7.5\n"
        );
    }

    #[test]
    fn open_metrics_names_families_gives_units_and_ends_with_eof() {
        let text = render(&families(), Format::OpenMetrics);
        assert!(
            text.starts_with("# HELP pos_producer_events_made Events made.\n# TYPE pos_producer_events_made counter\n")
        );
        assert!(text.contains("\npos_producer_events_made_total{type=\"refund\"} 1\n"));
        assert!(text.contains(
            "# TYPE pos_producer_schedule_lag_seconds gauge\n# UNIT pos_producer_schedule_lag_seconds seconds\n"
        ));
        assert!(text.contains("# TYPE pos_producer_build info\npos_producer_build_info{"));
        assert!(text.ends_with("pos_producer_event_latency_seconds_sum 7.5\n# EOF\n"), "{text}");
    }

    #[test]
    fn accept_picks_open_metrics_only_when_preferred() {
        use Format::*;
        let prometheus_3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
                            application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;\
                            escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus_3)), OpenMetrics);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text")), OpenMetrics);
        assert_eq!(Format::negotiate(None), Text);
        assert_eq!(Format::negotiate(Some("*/*")), Text);
        assert_eq!(Format::negotiate(Some("text/plain;q=0.9, application/openmetrics-text;q=0.5")), Text);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text;q=0")), Text);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text;version=2.0.0")), Text);
        assert_eq!(Format::negotiate(Some(";;;,,=q=;")), Text);
    }

    #[test]
    fn numbers_are_whole_or_shortest() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(1e20), "100000000000000000000");
        assert_eq!(bound(120.0), "120.0");
        assert_eq!(bound(0.0005), "0.0005");
    }
}
