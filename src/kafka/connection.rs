//! One blocking connection to one broker: framing, correlation ids, timeouts, version negotiation.
//!
//! References:
//! - Kafka protocol guide, "Network" and "Common Request and Response Structure":
//!   <https://kafka.apache.org/protocol#protocol_common>
//! - KIP-511 (ApiVersions v3 client name), KIP-482 (flexible versions, header v1/v2).

use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::dial::connect;
use super::header;
use super::settings::ProtocolCap;
use super::transport::Transport;
use super::versions::{self, Versions};
use super::wait::{ReadWait, WaitLimit, Waiter, is_wait};
use super::wire::{self, ApiVersionsResponse, Reader, Response};
use crate::shutdown::{Stop, Woke};

/// Largest response frame accepted; anything larger is a broken or hostile peer, not Kafka
/// answering this client's small requests.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// How long a request already on the wire may still finish after a stop was asked for.
pub const STOP_GRACE: Duration = Duration::from_millis(500);

/// How long one TCP connect (name lookup included) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// While a broker keeps a request waiting, a line says so this often.
pub const WAIT_NOTE_EVERY: Duration = Duration::from_secs(3);

/// ApiVersions v3+ require a client software name and version of this shape (KIP-511).
const SOFTWARE_NAME: &str = env!("CARGO_PKG_NAME");
const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// UNSUPPORTED_VERSION: the broker answers an ApiVersions it does not know in v0 form.
const UNSUPPORTED_VERSION: i16 = 35;

/// What can go wrong on one connection. Each variant names the broker address.
#[derive(Debug)]
pub enum ConnectionError {
    /// The host name did not resolve.
    Resolve { addr: String, source: io::Error },
    /// TCP connect failed (refused, unreachable, timed out).
    Connect { addr: String, source: io::Error },
    /// Reading or writing failed, or the broker closed the connection.
    Io { addr: String, source: io::Error },
    /// No complete response within the request timeout, or before the deadline of the work
    /// it was for (`cut`: the delivery timeout ran out first).
    /// `handshake`: what did not end in time was the TLS handshake, before any request.
    Timeout { addr: String, after: Duration, cut: bool, handshake: bool },
    /// A stop was asked for while waiting.
    Stopped,
    /// The bytes received are not a valid response frame.
    Frame { addr: String, reason: String },
    /// A message could not be encoded or decoded at the negotiated version.
    Codec { addr: String, api: ApiKey, version: i16, reason: String },
    /// The broker lacks an API version this client needs.
    Unsupported { addr: String, reason: String },
    /// TLS failed in a way a retry cannot fix: an untrusted or expired certificate, a wrong
    /// name, a client certificate refused.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls { addr: String, reason: String },
    /// The broker and this client likely speak different protocols on this port (TLS against
    /// a plaintext listener or the reverse). Retried, but only for the delivery timeout.
    Mismatch { addr: String, reason: String },
    /// SASL authentication was refused (wrong credentials, mechanism not enabled).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Auth { addr: String, user: String, mechanism: &'static str, message: String },
}

impl ConnectionError {
    /// Whether a new connection may succeed where this one failed.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            ConnectionError::Connect { .. }
                | ConnectionError::Io { .. }
                | ConnectionError::Timeout { .. }
                | ConnectionError::Frame { .. }
                | ConnectionError::Resolve { .. }
                | ConnectionError::Mismatch { .. }
        )
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Resolve { addr, source } => {
                write!(f, "cannot resolve {addr}: {source}")
            }
            ConnectionError::Connect { addr, source } => {
                write!(f, "cannot connect to {addr}: {source}")
            }
            ConnectionError::Io { addr, source } if source.kind() == io::ErrorKind::UnexpectedEof => {
                write!(f, "broker {addr} closed the connection")
            }
            ConnectionError::Io { addr, source } => {
                write!(f, "connection to {addr} failed: {source}")
            }
            ConnectionError::Timeout { addr, after, handshake: true, .. } => write!(
                f,
                "broker {addr} accepted the connection but did not finish the TLS handshake within {} ms (is this a \
                 TLS listener, and is anything between here and the broker holding TLS up?)",
                after.as_millis()
            ),
            ConnectionError::Timeout { addr, after, cut: false, .. } => {
                write!(f, "broker {addr} did not answer within {} ms", after.as_millis())
            }
            ConnectionError::Timeout { addr, after, cut: true, .. } => {
                write!(
                    f,
                    "broker {addr} did not answer within the {} ms left of the delivery timeout",
                    after.as_millis()
                )
            }
            ConnectionError::Stopped => f.write_str("stopped while waiting for a broker"),
            ConnectionError::Frame { addr, reason } => {
                write!(f, "bad response from {addr}: {reason}")
            }
            ConnectionError::Codec { addr, api, version, reason } => {
                write!(f, "cannot handle {api:?} v{version} with {addr}: {reason}")
            }
            ConnectionError::Unsupported { addr, reason } => write!(f, "broker {addr} {reason}"),
            ConnectionError::Tls { addr, reason } => write!(f, "TLS with broker {addr} failed: {reason}"),
            ConnectionError::Mismatch { addr, reason } => write!(f, "broker {addr} {reason}"),
            ConnectionError::Auth { addr, user, mechanism, message } => {
                write!(f, "authentication failed for user {user:?} ({mechanism}): {message} (broker {addr})")
            }
        }
    }
}

impl std::error::Error for ConnectionError {}

/// What every connection of a client shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub client_id: String,
    /// How long to wait for one response.
    pub timeout: Duration,
    pub protocol_cap: Option<ProtocolCap>,
    /// TLS for every connection (`None`: plaintext).
    #[cfg(feature = "tls")]
    pub tls: Option<super::tls::Tls>,
}

/// An open connection that has negotiated API versions with its broker.
pub struct Connection {
    stream: Transport,
    addr: String,
    client_id: String,
    correlation_id: i32,
    timeout: Duration,
    stop: Stop,
    /// No wait of this connection lasts past this instant (the delivery timeout of the work
    /// under way), even if the request timeout would allow it.
    deadline: Option<Instant>,
    versions: Versions,
    write_buf: Vec<u8>,
    /// The last response frame read; its body is decoded from here. Kept for its capacity (no
    /// allocation per answer) while that is at most `KEEP_FRAME`.
    frame: Vec<u8>,
    /// When the broker expects this connection to authenticate again (KIP-368).
    reauth_at: Option<Instant>,
    /// Whether any response byte came in (a close before that hints at a protocol mismatch).
    answered: bool,
    /// Which connection this is, process-wide: an answer is only read from the connection
    /// its request went out on.
    serial: u64,
    /// Requests sent and not yet answered.
    in_flight: usize,
    /// Bytes read from the socket and not yet taken (`rbuf[rpos..rlen]`): one read usually
    /// brings a whole answer.
    rbuf: Box<[u8]>,
    rpos: usize,
    rlen: usize,
    /// The socket's read timeout as last set (`POLL`, or a slice of `wait_in_read`).
    read_timeout: Duration,
    /// Whether an answer is awaited inside a blocking read, and for how long.
    read_wait: ReadWait,
}

/// The read buffer's size; a read of at least this much goes straight to its destination.
const READ_CHUNK: usize = 16 * 1024;
/// A response frame buffer larger than this (a Fetch while resuming) is not kept.
const KEEP_FRAME: usize = 64 * 1024;

/// A request on the wire whose answer is still to be read (`Connection::finish`).
#[derive(Debug)]
pub struct Pending {
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    limit: WaitLimit,
    connection: u64,
}

impl Pending {
    /// The connection the request went out on (`Connection::serial`).
    pub fn connection(&self) -> u64 {
        self.connection
    }

    /// When the answer must have come (the request timeout, or the deadline of the work).
    pub fn due(&self) -> Instant {
        self.limit.at
    }
}

static SERIALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Connection {
    /// Connects to `addr` (`host:port`) and negotiates versions with ApiVersions, all before
    /// `deadline` if there is one.
    pub fn open(
        addr: &str,
        settings: &Settings,
        stop: &Stop,
        deadline: Option<Instant>,
    ) -> Result<Connection, ConnectionError> {
        let tcp = connect(addr, stop, deadline)?;
        // Socket calls block for at most one slice, so that a stop, a deadline or a note is
        // seen between them (`wait_readable` sets shorter slices, in whole kernel ticks).
        let slices = tcp
            .set_nodelay(true)
            .and_then(|()| tcp.set_read_timeout(Some(crate::shutdown::POLL)))
            .and_then(|()| tcp.set_write_timeout(Some(crate::shutdown::POLL)));
        slices.map_err(|source| ConnectionError::Io { addr: addr.to_string(), source })?;
        #[cfg(feature = "tls")]
        let stream = match &settings.tls {
            None => Transport::Plain(tcp),
            Some(tls) => {
                let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
                let stream =
                    tls.wrap(host, tcp).map_err(|reason| ConnectionError::Tls { addr: addr.to_string(), reason })?;
                Transport::Tls(Box::new(stream))
            }
        };
        #[cfg(not(feature = "tls"))]
        let stream = Transport::Plain(tcp);
        let mut conn = Connection {
            stream,
            addr: addr.to_string(),
            client_id: settings.client_id.clone(),
            correlation_id: 0,
            timeout: settings.timeout,
            stop: stop.clone(),
            deadline,
            versions: Versions::default(),
            write_buf: Vec::with_capacity(64 * 1024),
            frame: Vec::new(),
            reauth_at: None,
            answered: false,
            serial: SERIALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            in_flight: 0,
            rbuf: vec![0; READ_CHUNK].into_boxed_slice(),
            rpos: 0,
            rlen: 0,
            read_timeout: crate::shutdown::POLL,
            read_wait: ReadWait::new(crate::shutdown::kernel_tick()),
        };
        conn.versions = conn.negotiate(settings.protocol_cap).map_err(|e| conn.explain_open_failure(e))?;
        Ok(conn)
    }

    /// A connection closed before the first answer (or during the TLS handshake) most often
    /// means the two ends speak different protocols on this port: say which is likely.
    fn explain_open_failure(&self, e: ConnectionError) -> ConnectionError {
        let closed = |source: &io::Error| {
            matches!(
                source.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::WriteZero
            )
        };
        match e {
            ConnectionError::Io { addr, source } if closed(&source) && !self.answered => {
                let reason = if self.stream.is_tls() {
                    "closed the connection during the TLS handshake: is this a plaintext listener? (then KAFKA_SECURITY_PROTOCOL=PLAINTEXT or SASL_PLAINTEXT)"
                } else {
                    "closed the connection before answering: is this a TLS listener? (then KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL)"
                };
                ConnectionError::Mismatch { addr, reason: reason.into() }
            }
            other => other,
        }
    }

    /// Whether the broker's session for this connection is due to be renewed (KIP-368).
    pub fn reauth_due(&self) -> bool {
        self.reauth_at.is_some_and(|at| Instant::now() >= at)
    }

    /// Which connection this is, process-wide.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Requests sent on this connection whose answers were not read yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Notes the session lifetime of a (re-)authentication: renew at 85 % of it, as the Java
    /// client does at 85–95 %, so the broker never closes the connection for it.
    pub fn set_session_lifetime(&mut self, lifetime: Option<Duration>) {
        self.reauth_at = lifetime.map(|l| Instant::now() + l.mul_f64(0.85));
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn versions(&self) -> &Versions {
        &self.versions
    }

    /// Caps every later wait at `deadline` (`None`: the request timeout alone).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// When a request sent now must have its answer: after the request timeout, or sooner
    /// when the deadline of the work comes first.
    fn wait_limit(&self) -> WaitLimit {
        WaitLimit::new(self.timeout, self.deadline)
    }

    /// Sends a request and waits for its response.
    pub fn call<Req: Encodable, Resp: Response>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Resp, ConnectionError> {
        debug_assert_eq!(api, Resp::API);
        let pending = self.start(api, version, request)?;
        self.finish(&pending)
    }

    /// Sends a request whose answer is read later with `finish`; answers come in the order
    /// the requests went out. The answer is due within the request timeout from now (or by
    /// the deadline of the work, if sooner).
    pub fn start<Req: Encodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &Req,
    ) -> Result<Pending, ConnectionError> {
        self.start_with(api, version, |buf| request.encode(buf, version).map_err(|e| e.to_string()))
    }

    /// `start`, with a request whose body `write` appends to the frame (Produce, written
    /// without the codec's intermediate structures).
    pub fn start_with(
        &mut self,
        api: ApiKey,
        version: i16,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
    ) -> Result<Pending, ConnectionError> {
        let limit = self.wait_limit();
        let correlation_id = self.send_with(api, version, write, limit)?;
        self.in_flight += 1;
        Ok(Pending { api, version, correlation_id, limit, connection: self.serial })
    }

    /// Waits until the answer to `pending` starts to arrive, or `until`: whether it did (or
    /// the connection closed, or a stop was asked for: `finish` then says which). The wait is
    /// a read when it is long enough (see `ReadWait`), which leaves what came in the read
    /// buffer, else a poll; a long wait is reported as `finish` reports it.
    pub fn wait_readable(&mut self, pending: &mut Pending, until: Instant) -> Result<bool, ConnectionError> {
        loop {
            if self.rpos < self.rlen || self.stream.buffered() || self.stop.is_set() {
                return Ok(true);
            }
            let now = Instant::now();
            pending.limit.note(now, &self.addr, pending.api, false);
            // One wait until the deadline or the next note: the answer or a stop end it.
            let wait = until.min(pending.limit.next_note).saturating_duration_since(now);
            if let Some(slice) = self.read_wait.slice(wait) {
                match self.wait_in_read(slice) {
                    Ok(true) => return Ok(true),
                    Ok(false) => continue,
                    Err(source) => return Err(self.io_error(source)),
                }
            }
            match self.stop.wait(Some(self.stream.tcp()), wait) {
                Ok(Woke::Readable | Woke::Stopped) => return Ok(true),
                Ok(Woke::TimedOut) if Instant::now() < until => {}
                Ok(Woke::TimedOut) => return Ok(false),
                Err(source) => return Err(ConnectionError::Io { addr: self.addr.clone(), source }),
            }
        }
    }

    /// Waits for an answer inside a blocking read of at most `slice`, which brings its bytes
    /// into the read buffer: one system call and one wake-up, where a poll and then a read are
    /// two calls. True when bytes (or the end of the stream) came, false when the slice ran
    /// out (or a signal interrupted it: the caller looks at the stop flag).
    fn wait_in_read(&mut self, slice: Duration) -> io::Result<bool> {
        if self.read_timeout != slice {
            self.stream.tcp().set_read_timeout(Some(slice))?;
            self.read_timeout = slice;
        }
        match self.stream.read(&mut self.rbuf) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")),
            Ok(n) => {
                (self.rpos, self.rlen) = (0, n);
                self.answered = true;
                Ok(true)
            }
            Err(e) if is_wait(&e) => {
                self.read_wait.ran_out();
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Reads the answer to `pending`, which must be the oldest request unanswered on this
    /// connection.
    pub fn finish<Resp: Response>(&mut self, pending: &Pending) -> Result<Resp, ConnectionError> {
        debug_assert_eq!(pending.api, Resp::API);
        let at = self.answer(pending)?;
        self.decode(pending.api, pending.version, at)
    }

    /// `finish`, decoding into `into`, whose memory is reused (see `Response::read_into`).
    pub fn finish_into<Resp: Response>(&mut self, pending: &Pending, into: &mut Resp) -> Result<(), ConnectionError> {
        debug_assert_eq!(pending.api, Resp::API);
        let at = self.answer(pending)?;
        self.decode_with(pending.api, pending.version, at, |body, version| wire::decode_into(body, version, into))
    }

    /// Reads the answer to `pending` into `frame`; returns where its body starts.
    fn answer(&mut self, pending: &Pending) -> Result<usize, ConnectionError> {
        if pending.connection != self.serial {
            let source =
                io::Error::new(io::ErrorKind::NotConnected, "the connection the request went out on was closed");
            return Err(ConnectionError::Io { addr: self.addr.clone(), source });
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.receive(pending.api, pending.version, pending.correlation_id, pending.limit)
    }

    /// Sends a request that gets no response (Produce with acks=0).
    pub fn send_only_with(
        &mut self,
        api: ApiKey,
        version: i16,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
    ) -> Result<(), ConnectionError> {
        let limit = self.wait_limit();
        self.send_with(api, version, write, limit).map(drop)
    }

    /// Asks for the broker's API versions: v3 (KIP-511) first. A broker that does not know that
    /// version answers UNSUPPORTED_VERSION in v0 form; since Kafka 2.4 the answer names the
    /// ApiVersions versions it knows, before that (Kafka 2.1–2.3) it names none. Either way the
    /// request is repeated at the highest version the broker knows, else at v0, as the Java
    /// client does.
    fn negotiate(&mut self, cap: Option<ProtocolCap>) -> Result<Versions, ConnectionError> {
        let api = ApiKey::ApiVersions;
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str(SOFTWARE_NAME))
            .with_client_software_version(StrBytes::from_static_str(SOFTWARE_VERSION));
        let mut version = 3;
        let response: ApiVersionsResponse = loop {
            let limit = self.wait_limit();
            let correlation_id = self.send(api, version, &request, limit)?;
            let at = self.receive(api, version, correlation_id, limit)?;
            let error_code = self.frame[at..].first_chunk::<2>().map(|b| i16::from_be_bytes(*b));
            if error_code != Some(UNSUPPORTED_VERSION) || version == 0 {
                break self.decode(api, version, at)?;
            }
            let refusal: ApiVersionsResponse = self.decode(api, 0, at)?;
            let theirs = refusal.api_keys.iter().find(|k| k.api_key == api as i16).map(|k| k.max_version);
            version = theirs.filter(|v| (0..version).contains(v)).unwrap_or(0);
        };
        if response.error_code != 0 {
            return Err(ConnectionError::Unsupported {
                addr: self.addr.clone(),
                reason: format!("refused ApiVersions v{version}: {}", super::error_name(response.error_code)),
            });
        }
        versions::negotiate(&response.api_keys, cap, response.transaction_version)
            .map_err(|reason| ConnectionError::Unsupported { addr: self.addr.clone(), reason })
    }

    /// Frames and writes one request; returns its correlation id.
    fn send<Req: Encodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &Req,
        limit: WaitLimit,
    ) -> Result<i32, ConnectionError> {
        self.send_with(api, version, |buf| request.encode(buf, version).map_err(|e| e.to_string()), limit)
    }

    /// Frames and writes one request whose body `write` appends; returns its correlation id.
    fn send_with(
        &mut self,
        api: ApiKey,
        version: i16,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
        limit: WaitLimit,
    ) -> Result<i32, ConnectionError> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let codec = |reason: String| ConnectionError::Codec { addr: self.addr.clone(), api, version, reason };
        let buf = &mut self.write_buf;
        buf.clear();
        buf.extend_from_slice(&[0; 4]);
        let header_version = api.request_header_version(version);
        header::write(buf, (api as i16, version), self.correlation_id, &self.client_id, header_version)
            .map_err(codec)?;
        write(buf).map_err(codec)?;
        let len = i32::try_from(buf.len() - 4).map_err(|_| ConnectionError::Frame {
            addr: self.addr.clone(),
            reason: "request larger than 2 GiB".into(),
        })?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.write_all(api, limit)?;
        Ok(self.correlation_id)
    }

    /// Writes the framed request, waiting at most until `deadline`, and less once a stop is
    /// asked for (a broker that stopped reading must not hold up a shutdown).
    fn write_all(&mut self, api: ApiKey, limit: WaitLimit) -> Result<(), ConnectionError> {
        let mut written = 0;
        let mut waiter = Waiter::new(limit, api);
        loop {
            waiter.check(&self.stop, &self.addr, self.stream.handshaking())?;
            // Once every byte is written, a flush: TLS holds records until then.
            let step = match self.write_buf.get(written..).filter(|rest| !rest.is_empty()) {
                Some(rest) => self.stream.write(rest),
                None => self.stream.flush().map(|()| 0),
            };
            match step {
                Ok(0) if written == self.write_buf.len() => return Ok(()),
                Ok(0) => {
                    let source = io::Error::new(io::ErrorKind::WriteZero, "connection closed");
                    return Err(ConnectionError::Io { addr: self.addr.clone(), source });
                }
                Ok(n) => written += n,
                Err(e) if is_wait(&e) => {}
                Err(source) => return Err(self.io_error(source)),
            }
        }
    }

    /// An I/O error as a connection error: a TLS failure inside it is named as one.
    fn io_error(&self, source: io::Error) -> ConnectionError {
        #[cfg(feature = "tls")]
        if let Some(e) = super::transport::tls_error(&source) {
            let reason = super::tls::explain(e);
            return match e {
                rustls::Error::InvalidMessage(_) => ConnectionError::Mismatch { addr: self.addr.clone(), reason },
                _ => ConnectionError::Tls { addr: self.addr.clone(), reason },
            };
        }
        ConnectionError::Io { addr: self.addr.clone(), source }
    }

    /// Reads one response frame into `frame`, checks its length and header, and returns where
    /// the body starts. The length is checked before the frame is allocated.
    fn receive(
        &mut self,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        limit: WaitLimit,
    ) -> Result<usize, ConnectionError> {
        let mut waiter = Waiter::new(limit, api);
        let mut len = [0u8; 4];
        self.read_exact(&mut len, &mut waiter)?;
        // A TLS record header (content type 20–23, version 3.x) where a frame length should be:
        // the broker speaks TLS on this port and this client does not.
        if !self.stream.is_tls() && (20..=23).contains(&len[0]) && len[1] == 3 {
            return Err(ConnectionError::Mismatch {
                addr: self.addr.clone(),
                reason: "answered with TLS: this is a TLS listener (set KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL)"
                    .into(),
            });
        }
        let len = i32::from_be_bytes(len);
        if len < 4 || len as usize > MAX_FRAME {
            return Err(self.frame_error(format!("frame length {len} outside 4..={MAX_FRAME}")));
        }
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        frame.resize(len as usize, 0);
        let read = self.read_exact(&mut frame, &mut waiter);
        self.frame = frame;
        read?;
        let frame = &self.frame;
        let mut header = Reader::new(frame);
        let id = wire::read_header(&mut header, api.response_header_version(version))
            .map_err(|e| self.frame_error(format!("unreadable {api:?} response header: {e}")))?;
        if id != correlation_id {
            return Err(self.frame_error(format!("correlation id {id} does not match request {correlation_id}")));
        }
        Ok(frame.len() - header.remaining())
    }

    /// Decodes the body of the frame just received, from `at` on. A frame larger than
    /// `KEEP_FRAME` is let go once decoded.
    fn decode<Resp: Response>(&mut self, api: ApiKey, version: i16, at: usize) -> Result<Resp, ConnectionError> {
        self.decode_with(api, version, at, wire::decode)
    }

    /// `decode`, with the decoder `read`.
    fn decode_with<T>(
        &mut self,
        api: ApiKey,
        version: i16,
        at: usize,
        read: impl FnOnce(&[u8], i16) -> Result<T, wire::WireError>,
    ) -> Result<T, ConnectionError> {
        let decoded = read(&self.frame[at..], version)
            .map_err(|e| self.frame_error(format!("cannot decode {api:?} v{version} response: {e}")));
        if self.frame.capacity() > KEEP_FRAME {
            self.frame = Vec::new();
        }
        decoded
    }

    /// Fills `buf`, waiting at most as `waiter` allows, and less once a stop is asked for.
    /// Small reads go through the read buffer, so that one socket read brings the length and
    /// the body of an answer (and often the next answers) at once.
    fn read_exact(&mut self, mut buf: &mut [u8], waiter: &mut Waiter) -> Result<(), ConnectionError> {
        while !buf.is_empty() {
            if self.rpos < self.rlen {
                let n = (self.rlen - self.rpos).min(buf.len());
                buf[..n].copy_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
                self.rpos += n;
                buf = &mut buf[n..];
                continue;
            }
            waiter.check(&self.stop, &self.addr, self.stream.handshaking())?;
            let direct = buf.len() >= READ_CHUNK;
            let read = if direct { self.stream.read(buf) } else { self.stream.read(&mut self.rbuf) };
            match read {
                Ok(0) => {
                    let source = io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed");
                    return Err(ConnectionError::Io { addr: self.addr.clone(), source });
                }
                Ok(n) => {
                    self.answered = true;
                    if direct {
                        buf = &mut buf[n..];
                    } else {
                        (self.rpos, self.rlen) = (0, n);
                    }
                }
                Err(e) if is_wait(&e) => {}
                Err(source) => return Err(self.io_error(source)),
            }
        }
        Ok(())
    }

    fn frame_error(&self, reason: String) -> ConnectionError {
        ConnectionError::Frame { addr: self.addr.clone(), reason }
    }
}

#[cfg(test)]
mod tests;
