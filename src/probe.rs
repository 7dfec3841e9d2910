//! `pos-producer --probe URL`: a health check for images without a shell or curl (a `FROM
//! scratch` container's compose healthcheck, a Kubernetes exec probe). One HTTP GET over plain
//! TCP: exit 0 when the answer's status is 200, 1 for any other status, no answer within the
//! timeout, or no connection; a URL that is not `http://host:port/path` is a setting error.

use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The whole probe (connect, ask, read the status line) ends within this.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes read while looking for the status line.
const MAX_STATUS_LINE: usize = 1024;

/// A URL the probe can ask: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port`, as given (also the request's `Host`).
    pub authority: String,
    pub path: String,
}

/// Reads `http://host:port/path` (the path defaults to `/`); `None` for anything else.
pub fn parse(url: &str) -> Option<Target> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = authority.rsplit_once(':')?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let clean = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
    if host.is_empty() || !port_ok || !clean(authority) || !clean(path) {
        return None;
    }
    Some(Target { authority: authority.to_string(), path: path.to_string() })
}

/// Why a probe failed (exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The status line and its code.
    Status(String),
    Connect(std::io::Error),
    Timeout,
    /// Bytes that are not an HTTP status line.
    Garbled,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(line) => write!(f, "answered {line:?}"),
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::Timeout => write!(f, "no answer within {} s", TIMEOUT.as_secs()),
            Failure::Garbled => f.write_str("the answer is not HTTP"),
        }
    }
}

/// Asks `target` once; `Ok` when it answered 200.
pub fn probe(target: &Target) -> Result<(), Failure> {
    let deadline = Instant::now() + TIMEOUT;
    let left = || deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero());
    let addrs = target.authority.to_socket_addrs().map_err(Failure::Connect)?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        let Some(wait) = left() else { return Err(Failure::Timeout) };
        match TcpStream::connect_timeout(&addr, wait) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(Failure::Timeout),
            Err(e) => last = Some(e),
        }
    }
    let Some(mut stream) = stream else {
        return Err(Failure::Connect(last.unwrap_or_else(|| std::io::Error::other("no address"))));
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pos-producer-probe\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Failure::Timeout,
        _ => Failure::Connect(e),
    };
    let Some(wait) = left() else { return Err(Failure::Timeout) };
    stream.set_write_timeout(Some(wait)).map_err(io)?;
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut answer = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    loop {
        if let Some(end) = answer.iter().position(|&b| b == b'\n') {
            return status(&answer[..end]);
        }
        if answer.len() >= MAX_STATUS_LINE {
            return Err(Failure::Garbled);
        }
        let Some(wait) = left() else { return Err(Failure::Timeout) };
        stream.set_read_timeout(Some(wait)).map_err(io)?;
        match stream.read(&mut buf).map_err(io)? {
            0 if answer.is_empty() => return Err(Failure::Garbled),
            0 => return status(&answer),
            n => answer.extend_from_slice(&buf[..n]),
        }
    }
}

/// `HTTP/1.x 200 …` is success; another code is its failure.
fn status(line: &[u8]) -> Result<(), Failure> {
    let line = String::from_utf8_lossy(line).trim_end().to_string();
    let mut words = line.split(' ');
    let (version, code) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") || code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::Garbled);
    }
    if code == "200" { Ok(()) } else { Err(Failure::Status(line)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_port_are_probed() {
        let t = parse("http://127.0.0.1:9464/readyz").unwrap();
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("127.0.0.1:9464", "/readyz"));
        assert_eq!(parse("http://localhost:80").unwrap().path, "/");
        assert_eq!(parse("http://[::1]:9464/healthz").unwrap().authority, "[::1]:9464");
        for bad in
            ["https://x:1/", "http://x/", "http://:1/", "http://x:0/", "http://x:70000/", "x:1", "", "http://x:1/a b"]
        {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_status_line_is_200_or_the_failure_names_it() {
        assert!(status(b"HTTP/1.1 200 OK\r").is_ok());
        assert!(status(b"HTTP/1.0 200").is_ok());
        let e = status(b"HTTP/1.1 503 Service Unavailable\r").unwrap_err();
        assert_eq!(e.to_string(), "answered \"HTTP/1.1 503 Service Unavailable\"");
        for garbled in [&b"SSH-2.0-OpenSSH"[..], b"HTTP/1.1 2000 OK", b"HTTP/2 200", b""] {
            assert!(matches!(status(garbled), Err(Failure::Garbled)), "{garbled:?}");
        }
    }
}
