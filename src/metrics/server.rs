//! The HTTP side of `PRODUCER_METRICS_ADDR`: `GET /metrics`, `/healthz` and `/readyz` (and
//! `HEAD` of each), std only.
//!
//! Made to be reachable by anything on the network without it mattering to the producer: a
//! thread of its own that only reads atomics; at most [`MAX_CONNECTIONS`] requests served at
//! once (one more is answered 503 and closed at once, without reading it); each request read
//! within [`DEADLINE`] in all (a client sending a byte a second is cut off) and at most
//! [`MAX_HEAD`] bytes; one request per connection, then the connection is closed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Metrics;
use super::exposition::Format;

/// Requests served at once, at most.
pub const MAX_CONNECTIONS: usize = 4;
/// The whole request must arrive within this, and the answer be taken within it again.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// The request line and headers, at most (a scraper sends a few hundred bytes).
pub const MAX_HEAD: usize = 8 * 1024;

/// Listens on `addr` and serves from a thread of its own for as long as the process runs.
/// Returns the address listened on (the port when 0 was asked).
pub fn start(addr: SocketAddr, metrics: Metrics) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || accept(listener, metrics))?;
    Ok(local)
}

fn accept(listener: TcpListener, metrics: Metrics) {
    let busy = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: the next accept may work; no busy loop.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if busy.load(Ordering::Acquire) >= MAX_CONNECTIONS {
            turn_away(stream);
            continue;
        }
        busy.fetch_add(1, Ordering::AcqRel);
        let (metrics, done) = (metrics.clone(), Arc::clone(&busy));
        let spawned =
            std::thread::Builder::new().name("metrics-request".into()).stack_size(128 * 1024).spawn(move || {
                serve(stream, &metrics);
                done.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            busy.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Too many requests at once: 503 in one write that cannot block, then closed.
fn turn_away(stream: TcpStream) {
    let _ = stream.set_nonblocking(true);
    let _ = (&stream).write_all(&response(503, "Service Unavailable", "text/plain", b"busy\n", &[], false));
}

fn serve(mut stream: TcpStream, metrics: &Metrics) {
    let deadline = Instant::now() + DEADLINE;
    let answer = match read_head(&mut stream, deadline) {
        Ok(head) => route(&head, metrics),
        Err(Refused::TooLarge) => {
            response(431, "Request Header Fields Too Large", "text/plain", b"request too large\n", &[], false)
        }
        Err(Refused::Malformed) => response(400, "Bad Request", "text/plain", b"not an HTTP request\n", &[], false),
        // Gone or too slow: nothing to answer.
        Err(Refused::Silent) => return,
    };
    let _ = stream.set_write_timeout(Some(DEADLINE));
    let _ = stream.write_all(&answer);
    let _ = stream.shutdown(Shutdown::Both);
}

enum Refused {
    TooLarge,
    Malformed,
    Silent,
}

/// Reads up to the blank line that ends the headers, within `deadline` and `MAX_HEAD`.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<String, Refused> {
    let mut buf = vec![0u8; MAX_HEAD];
    let mut len = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Refused::Silent);
        }
        stream.set_read_timeout(Some(left)).map_err(|_| Refused::Silent)?;
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) | Err(_) => return Err(Refused::Silent),
            Ok(n) => n,
        };
        len += n;
        if let Some(end) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") {
            return String::from_utf8(buf[..end].to_vec()).map_err(|_| Refused::Malformed);
        }
        // Bytes that cannot become a request are answered now, not at the deadline.
        if !could_be_http(&buf[..len]) {
            return Err(Refused::Malformed);
        }
        if len == MAX_HEAD {
            return Err(Refused::TooLarge);
        }
    }
}

/// Whether `start` can be the beginning of an HTTP/1 request head: printable ASCII lines, the
/// first one `METHOD target HTTP/1.x` as far as it goes.
fn could_be_http(start: &[u8]) -> bool {
    if !start.iter().all(|b| matches!(b, b' '..=b'~' | b'\r' | b'\n' | b'\t')) {
        return false;
    }
    let line_end = start.windows(2).position(|w| w == b"\r\n");
    let line = &start[..line_end.unwrap_or(start.len())];
    let method_len = line.iter().position(|b| *b == b' ').unwrap_or(line.len());
    if !line[..method_len].iter().all(u8::is_ascii_uppercase) || method_len > 16 {
        return false;
    }
    match line_end {
        Some(_) => line.len() > method_len && (line.ends_with(b"HTTP/1.0") || line.ends_with(b"HTTP/1.1")),
        None => true,
    }
}

fn route(head: &str, metrics: &Metrics) -> Vec<u8> {
    let mut lines = head.split("\r\n");
    let mut words = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return response(400, "Bad Request", "text/plain", b"not an HTTP request\n", &[], false);
    };
    if !version.starts_with("HTTP/1.") {
        return response(400, "Bad Request", "text/plain", b"not an HTTP/1 request\n", &[], false);
    }
    let head_only = method == "HEAD";
    let path = target.split('?').next().unwrap_or_default();
    if !["/metrics", "/healthz", "/readyz"].contains(&path) {
        return response(
            404,
            "Not Found",
            "text/plain",
            b"not found: try /metrics, /healthz or /readyz\n",
            &[],
            head_only,
        );
    }
    if method != "GET" && !head_only {
        return response(
            405,
            "Method Not Allowed",
            "text/plain",
            b"only GET and HEAD\n",
            &[("Allow", "GET, HEAD")],
            false,
        );
    }
    let now = Instant::now();
    match path {
        "/metrics" => {
            let accept = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("accept"))
                .map(|(_, v)| v);
            let format = Format::negotiate(accept);
            response(200, "OK", format.content_type(), metrics.render(format).as_bytes(), &[], head_only)
        }
        _ => {
            let (ok, why) = if path == "/healthz" { metrics.liveness(now) } else { metrics.readiness(now) };
            let body = format!("{why}\n");
            let (code, reason) = if ok { (200, "OK") } else { (503, "Service Unavailable") };
            response(code, reason, "text/plain", body.as_bytes(), &[], head_only)
        }
    }
}

fn response(
    code: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
    head_only: bool,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        if content_type == "text/plain" { "text/plain; charset=utf-8" } else { content_type },
        body.len()
    );
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Stats;

    fn server() -> (SocketAddr, Metrics) {
        let metrics = Metrics::new(Stats::new(Instant::now()), Duration::from_secs(60));
        let addr = start("127.0.0.1:0".parse().unwrap(), metrics.clone()).unwrap();
        (addr, metrics)
    }

    fn ask(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn the_three_paths_answer_and_others_are_refused_by_status() {
        let (addr, metrics) = server();
        let metrics_text = ask(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            metrics_text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4"),
            "{metrics_text}"
        );
        assert!(metrics_text.contains("\r\n\r\n# HELP pos_producer_events_made_total "));
        let open = ask(addr, b"GET /metrics HTTP/1.1\r\nACCEPT: application/openmetrics-text; version=1.0.0\r\n\r\n");
        assert!(
            open.contains("Content-Type: application/openmetrics-text; version=1.0.0") && open.ends_with("# EOF\n")
        );
        assert!(ask(addr, b"GET /healthz HTTP/1.0\r\n\r\n").ends_with("\r\n\r\nalive: connecting to the brokers\n"));
        let ready = ask(addr, b"GET /readyz?verbose HTTP/1.1\r\n\r\n");
        assert!(
            ready.starts_with("HTTP/1.1 503 Service Unavailable\r\n")
                && ready.ends_with("not ready: connecting to the brokers\n")
        );
        metrics.phase(super::super::Phase::Producing);
        assert!(ask(addr, b"GET /readyz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
        let head = ask(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"), "{head}");
        assert!(ask(addr, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
        let post = ask(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
        assert!(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n") && post.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(ask(addr, b"SSH-2.0-OpenSSH_9.6\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(ask(addr, b"GET /metrics HTTP/2.0 extra\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(ask(addr, b"GET /\xff HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
    }

    #[test]
    fn bytes_that_cannot_become_a_request_are_answered_at_once() {
        for (start, could) in [
            (&b"GE"[..], true),
            (b"GET /metrics HTTP/1.1\r\nAccept: text/plain\r\n", true),
            (b"GET /metrics HTTP/1.1\r\nX", true),
            (b"\x16\x03\x01\x02\x00", false),
            (b"get /metrics", false),
            (b"GET /metrics HTTP/2\r\n", false),
            (b"SSH-2.0-OpenSSH_9.6\r\n", false),
            (b"GETTINGLONGERTHANAMETHOD", false),
        ] {
            assert_eq!(could_be_http(start), could, "{:?}", String::from_utf8_lossy(start));
        }
        let (addr, _) = server();
        let t0 = Instant::now();
        assert!(ask(addr, b"\x16\x03\x01\x02\x00\x01").starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(t0.elapsed() < DEADLINE, "answered at the deadline, not at once");
    }

    #[test]
    fn a_head_larger_than_the_cap_is_refused_and_closed() {
        let (addr, _) = server();
        let mut request = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
        request.resize(MAX_HEAD + 100, b'a');
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(&request);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{out}");
    }

    #[test]
    fn a_slow_client_is_cut_off_at_the_deadline_and_extra_ones_are_turned_away() {
        let (addr, _) = server();
        let t0 = Instant::now();
        let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS).map(|_| TcpStream::connect(addr).unwrap()).collect();
        // The accept thread has counted them once the fifth is turned away.
        let mut turned_away = String::new();
        for _ in 0..50 {
            turned_away = ask(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
            if turned_away.starts_with("HTTP/1.1 503") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(turned_away.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{turned_away}");
        for mut s in idle {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut out = Vec::new();
            // Closed by the server without an answer: end of stream.
            assert_eq!(s.read_to_end(&mut out).map(|_| out.len()).ok(), Some(0));
        }
        let waited = t0.elapsed();
        assert!(waited >= DEADLINE && waited < DEADLINE * 3, "{waited:?}");
        // Served again once they are gone.
        std::thread::sleep(Duration::from_millis(100));
        assert!(ask(addr, b"GET /healthz HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 200 OK\r\n"));
    }
}
