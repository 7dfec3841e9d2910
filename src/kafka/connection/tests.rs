//! Broken peers: a fake TCP server that answers the ApiVersions request with bad bytes.
//! (Real Kafka behaviour is tested against real brokers in `tests/kafka.rs`.)
use std::net::TcpListener;

use super::*;

/// A reply to one request, given its correlation id and API version.
type Reply = Box<dyn FnOnce(i32, i16) -> Vec<u8> + Send>;

/// Serves one connection: for each reply in turn, reads a request frame and writes the reply.
fn fake_broker_replying(replies: Vec<Reply>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        for reply in replies {
            let mut len = [0u8; 4];
            if s.read_exact(&mut len).is_err() {
                return;
            }
            let mut req = vec![0u8; i32::from_be_bytes(len) as usize];
            s.read_exact(&mut req).unwrap();
            let version = i16::from_be_bytes(req[2..4].try_into().unwrap());
            let correlation_id = i32::from_be_bytes(req[4..8].try_into().unwrap());
            let _ = s.write_all(&reply(correlation_id, version));
        }
        std::thread::sleep(Duration::from_millis(300));
    });
    addr
}

/// Serves one connection: reads one request frame, then writes `reply(correlation_id)`.
fn fake_broker(reply: impl FnOnce(i32) -> Vec<u8> + Send + 'static) -> String {
    fake_broker_replying(vec![Box::new(move |id, _| reply(id))])
}

fn settings(timeout: Duration) -> Settings {
    Settings {
        client_id: "test".into(),
        timeout,
        protocol_cap: None,
        #[cfg(feature = "tls")]
        tls: None,
    }
}

fn open(addr: &str) -> Result<Connection, ConnectionError> {
    Connection::open(addr, &settings(Duration::from_millis(1500)), &Stop::default(), None)
}

fn frame(correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&correlation_id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// An ApiVersions v0 body: error code, then (api key, min, max) per API.
fn api_versions_v0(error: i16, apis: &[(i16, i16, i16)]) -> Vec<u8> {
    let mut body = error.to_be_bytes().to_vec();
    body.extend_from_slice(&(apis.len() as i32).to_be_bytes());
    for (key, min, max) in apis {
        for v in [key, min, max] {
            body.extend_from_slice(&v.to_be_bytes());
        }
    }
    body
}

/// An ApiVersions response body at v0–v2 (v1 added a throttle time at the end).
fn api_versions(version: i16, error: i16, apis: &[(i16, i16, i16)]) -> Vec<u8> {
    let mut body = api_versions_v0(error, apis);
    if version >= 1 {
        body.extend_from_slice(&0i32.to_be_bytes());
    }
    body
}

const KAFKA_2_1_APIS: [(i16, i16, i16); 5] = [(0, 0, 7), (3, 0, 7), (18, 0, 2), (19, 0, 3), (22, 0, 1)];

#[test]
fn kafka_2_1_refuses_apiversions_v3_without_a_list_and_v0_is_asked_next() {
    // Kafka 2.1–2.3 answer an unknown ApiVersions version with UNSUPPORTED_VERSION and no APIs.
    let addr = fake_broker_replying(vec![
        Box::new(|id, v| {
            assert_eq!(v, 3);
            frame(id, &api_versions_v0(35, &[]))
        }),
        Box::new(|id, v| {
            assert_eq!(v, 0, "retried at v0");
            frame(id, &api_versions(0, 0, &KAFKA_2_1_APIS))
        }),
    ]);
    let conn = open(&addr).expect("negotiated on the second try");
    let v = conn.versions();
    assert_eq!((v.produce, v.metadata, v.create_topics, v.init_producer_id), (7, 7, Some(3), Some(1)));
}

#[test]
fn kafka_2_4_names_its_apiversions_range_and_that_version_is_asked_next() {
    // Since KIP-511 (Kafka 2.4) the refusal lists the ApiVersions versions the broker knows.
    let addr = fake_broker_replying(vec![
        Box::new(|id, _| frame(id, &api_versions_v0(35, &[(18, 0, 2)]))),
        Box::new(|id, v| {
            assert_eq!(v, 2, "retried at the broker's highest");
            frame(id, &api_versions(2, 0, &KAFKA_2_1_APIS))
        }),
    ]);
    let conn = open(&addr).expect("negotiated on the second try");
    assert_eq!(conn.versions().produce, 7);
}

#[test]
fn a_broker_without_produce_v3_is_refused_clearly() {
    let addr = fake_broker_replying(vec![
        Box::new(|id, _| frame(id, &api_versions_v0(35, &[]))),
        Box::new(|id, _| frame(id, &api_versions_v0(0, &[(0, 0, 2), (3, 0, 5)]))),
    ]);
    let err = open(&addr).err().unwrap();
    assert!(!err.is_retriable());
    assert_eq!(
        err.to_string(),
        format!("broker {addr} supports Produce v0–v2, but pos-producer needs v3 or newer (Kafka 1.0 or newer)")
    );
}

#[test]
fn a_close_before_any_answer_suggests_a_tls_listener() {
    let addr = fake_broker(|_| vec![]);
    let err = open(&addr).err().unwrap();
    assert!(matches!(err, ConnectionError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("is this a TLS listener?"), "{err}");
    assert!(err.is_retriable());
}

#[test]
fn a_tls_record_where_a_frame_length_belongs_is_named() {
    // A TLS alert record header, as a TLS listener answers bytes that are not TLS.
    let addr = fake_broker(|_| vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x50]);
    let err = open(&addr).err().unwrap();
    assert!(err.to_string().contains("answered with TLS: this is a TLS listener"), "{err}");
}

#[test]
fn truncated_frame_is_an_io_error_not_a_panic() {
    let addr = fake_broker(|_| vec![0, 0, 0, 50, 0, 0]);
    let err = open(&addr).err().unwrap();
    assert!(matches!(err, ConnectionError::Io { .. }), "{err}");
    assert!(err.to_string().contains("closed the connection"), "{err}");
    assert!(err.is_retriable());
}

#[test]
fn oversized_and_negative_lengths_are_rejected_before_allocating() {
    for len in [i32::MAX, -1, 2] {
        let addr = fake_broker(move |_| len.to_be_bytes().to_vec());
        let err = open(&addr).err().unwrap();
        assert!(err.to_string().contains(&format!("frame length {len} outside")), "{err}");
    }
}

#[test]
fn wrong_correlation_id_is_rejected() {
    let addr = fake_broker(|id| frame(id + 7, &[0, 0]));
    let err = open(&addr).err().unwrap();
    assert!(err.to_string().contains("does not match request"), "{err}");
}

#[test]
fn garbage_body_is_a_frame_error() {
    let addr = fake_broker(|id| frame(id, &[0, 0, 0xff, 0xff]));
    let err = open(&addr).err().unwrap();
    assert!(matches!(err, ConnectionError::Frame { .. }), "{err}");
}

#[test]
fn leftover_bytes_are_rejected() {
    // A valid v0 ApiVersions body (UNSUPPORTED_VERSION, no APIs) followed by junk.
    let addr = fake_broker(|id| frame(id, &[0, 35, 0, 0, 0, 0, 1, 2, 3]));
    let err = open(&addr).err().unwrap();
    assert!(err.to_string().contains("bytes left over"), "{err}");
}

#[test]
fn silence_is_a_timeout() {
    let addr = fake_broker(|_| {
        std::thread::sleep(Duration::from_secs(3));
        vec![]
    });
    // Had it waited for the fake to give up, the error would be a closed connection.
    let err = open(&addr).err().unwrap();
    assert!(matches!(err, ConnectionError::Timeout { .. }), "{err}");
}

#[test]
fn a_stop_ends_a_wait_for_a_silent_broker() {
    let addr = fake_broker(|_| {
        std::thread::sleep(Duration::from_secs(3));
        vec![]
    });
    let stop = Stop::default();
    let setter = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        setter.set();
    });
    let err = Connection::open(&addr, &settings(Duration::from_secs(30)), &stop, None).err().unwrap();
    assert!(matches!(err, ConnectionError::Stopped), "{err}");
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let err = open(&format!("127.0.0.1:{port}")).err().unwrap();
    assert!(matches!(err, ConnectionError::Connect { .. }), "{err}");
    assert!(err.to_string().starts_with(&format!("cannot connect to 127.0.0.1:{port}")));
}

#[test]
fn answers_are_read_into_one_buffer_and_a_large_one_is_let_go() {
    // Negotiated at v0 (as with Kafka 2.1), then answers to ApiVersions v0: one as large as a
    // Fetch while resuming (11,000 APIs, 66 KB), then small ones.
    let big: Vec<(i16, i16, i16)> = (0..11_000).map(|i| (1000 + (i % 30_000) as i16, 0, 1)).collect();
    let addr = fake_broker_replying(vec![
        Box::new(|id, _| frame(id, &api_versions_v0(35, &[]))),
        Box::new(|id, _| frame(id, &api_versions_v0(0, &KAFKA_2_1_APIS))),
        Box::new(move |id, _| frame(id, &api_versions_v0(0, &big))),
        Box::new(|id, _| frame(id, &api_versions_v0(0, &KAFKA_2_1_APIS))),
        Box::new(|id, _| frame(id, &api_versions_v0(0, &KAFKA_2_1_APIS))),
    ]);
    let mut conn = open(&addr).expect("negotiated at v0");
    let kept = conn.frame.capacity();
    assert!(kept > 0 && kept <= KEEP_FRAME, "the negotiation's answer: {kept} bytes kept");
    let ask = |conn: &mut Connection| {
        let request = ApiVersionsRequest::default();
        conn.call::<_, ApiVersionsResponse>(ApiKey::ApiVersions, 0, &request).expect("an answer").api_keys.len()
    };
    assert_eq!(ask(&mut conn), 11_000);
    assert_eq!(conn.frame.capacity(), 0, "66 KB are not kept");
    assert_eq!(ask(&mut conn), KAFKA_2_1_APIS.len());
    let small = conn.frame.capacity();
    assert!(small > 0 && small <= KEEP_FRAME);
    let at = conn.frame.as_ptr();
    assert_eq!(ask(&mut conn), KAFKA_2_1_APIS.len());
    assert_eq!(conn.frame.as_ptr(), at, "the next answer is read into the same memory");
}

/// Negotiated at v0 (as with Kafka 2.1), then an ApiVersions request whose answer the broker
/// sends `delay` after it came.
fn asked_with_answer_after(delay: Duration) -> (Connection, Pending) {
    let replies: Vec<Reply> = vec![
        Box::new(|id, _| frame(id, &api_versions_v0(35, &[]))),
        Box::new(|id, _| frame(id, &api_versions_v0(0, &KAFKA_2_1_APIS))),
        Box::new(move |id, _| {
            std::thread::sleep(delay);
            frame(id, &api_versions_v0(0, &KAFKA_2_1_APIS))
        }),
    ];
    let mut conn = open(&fake_broker_replying(replies)).expect("negotiated at v0");
    let pending = conn.start(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default()).unwrap();
    (conn, pending)
}

#[test]
fn an_answer_is_awaited_inside_the_read_that_brings_it() {
    let (mut conn, mut pending) = asked_with_answer_after(Duration::from_millis(20));
    assert!(conn.wait_readable(&mut pending, Instant::now() + Duration::from_secs(2)).unwrap());
    // With the kernel's tick known, the wait was a read: the answer is in the read buffer
    // already, and reading it takes no other system call.
    let tick = crate::shutdown::kernel_tick();
    assert_eq!(conn.rpos < conn.rlen, tick.is_some(), "answer bytes read during the wait (tick {tick:?})");
    let answer: ApiVersionsResponse = conn.finish(&pending).unwrap();
    assert_eq!(answer.api_keys.len(), KAFKA_2_1_APIS.len());
}

#[test]
fn a_wait_for_a_silent_broker_ends_at_its_deadline() {
    // The kernel counts a read's timeout in ticks: the read gets the whole ticks within the
    // wait, and a poll the rest, so the wait ends neither before its deadline nor a read's
    // slice (up to 48 ms) after it.
    let (mut conn, mut pending) = asked_with_answer_after(Duration::from_secs(3));
    for wait in [30, 45] {
        let t0 = Instant::now();
        let until = t0 + Duration::from_millis(wait);
        assert!(!conn.wait_readable(&mut pending, until).unwrap(), "nothing came");
        let late = Instant::now().saturating_duration_since(until);
        assert!(Instant::now() >= until && late < Duration::from_millis(15), "{wait} ms wait ended {late:?} late");
    }
}
