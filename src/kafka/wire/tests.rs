//! The bounded decoders against an independent encoder (kafka-protocol's, with its `broker`
//! feature, in tests only), then a seeded mutation fuzzer over every response type and version
//! this client reads, with an allocation probe: no input may panic, and none may make the
//! decoder allocate more than a small multiple of its size.
//!
//! `POS_FUZZ_INPUTS` sets the number of mutated inputs (default 100,000, a bounded slice for
//! `make test`; `make fuzz` runs millions in release mode) and `POS_FUZZ_SEED` the seed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use kafka_protocol::messages as kp;

use super::*;

// ---- allocation probe -------------------------------------------------------------------------

/// Counts the bytes live on the current thread and their peak, so that one decode's
/// allocations can be measured while other tests run on other threads.
struct Probe;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(grow: usize, shrink: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(grow).saturating_sub(shrink);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; only counters move.
unsafe impl GlobalAlloc for Probe {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 0);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size, layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static PROBE: Probe = Probe;

/// Runs `f` and returns its result with the most bytes it had allocated at once.
pub(crate) fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get) - base)
}

// ---- samples from kafka-protocol's encoder: tests/samples.rs -----------------------------------

mod samples;

use samples::all_samples;

#[test]
fn every_response_kafka_protocol_encodes_is_read_back_at_every_version() {
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..50 {
        for sample in all_samples(&mut rng) {
            (sample.check)(&sample.bytes);
        }
    }
}

// ---- hostile inputs ---------------------------------------------------------------------------

fn decode_any(api: ApiKey, version: i16, body: &[u8]) -> std::result::Result<(), WireError> {
    match api {
        ApiKey::ApiVersions => decode::<ApiVersionsResponse>(body, version).map(drop),
        ApiKey::Metadata => decode::<MetadataResponse>(body, version).map(drop),
        ApiKey::CreateTopics => decode::<CreateTopicsResponse>(body, version).map(drop),
        ApiKey::InitProducerId => decode::<InitProducerIdResponse>(body, version).map(drop),
        ApiKey::Produce => decode::<ProduceResponse>(body, version).map(drop),
        ApiKey::SaslHandshake => decode::<SaslHandshakeResponse>(body, version).map(drop),
        ApiKey::SaslAuthenticate => decode::<SaslAuthenticateResponse>(body, version).map(drop),
        ApiKey::ListOffsets => decode::<ListOffsetsResponse>(body, version).map(drop),
        ApiKey::Fetch => decode::<FetchResponse>(body, version).map(drop),
        ApiKey::FindCoordinator => decode::<FindCoordinatorResponse>(body, version).map(drop),
        ApiKey::AddPartitionsToTxn => decode::<AddPartitionsToTxnResponse>(body, version).map(drop),
        ApiKey::EndTxn => decode::<EndTxnResponse>(body, version).map(drop),
        other => panic!("no decoder for {other:?}"),
    }
}

#[test]
fn a_huge_compact_array_count_is_an_error_not_an_allocation() {
    // Regression (issue 11): error 0, then compact array length `ff ff ff ff 0f` (2^32 - 2
    // items) made kafka-protocol 0.18 reserve 137 GB, and the allocator abort the process.
    let body = [0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
    let (result, peak) = peak_of(|| decode::<ApiVersionsResponse>(&body, 3));
    let err = result.unwrap_err();
    assert!(err.what.contains("array of 4294967294 items needs at least"), "{err}");
    assert!(peak < 1024, "{peak} bytes allocated");
    // The same count in a Produce response (v9+, mid-run) and a plain int32 one (v3).
    assert!(decode::<ProduceResponse>(&[0xff, 0xff, 0xff, 0xff, 0x0f], 9).is_err());
    assert!(decode::<ProduceResponse>(&[0x7f, 0xff, 0xff, 0xff], 3).is_err());
    // Tagged fields claiming more entries than bytes.
    assert!(
        decode::<InitProducerIdResponse>(&[0; 16].iter().copied().chain([0xff, 0x0f]).collect::<Vec<_>>(), 2).is_err()
    );
}

#[test]
fn the_codec_alone_reserves_by_the_wire_count() {
    // Why these decoders exist: kafka-protocol 0.18 reserves `count` items before reading
    // one. A count of 2^20 in 7 bytes makes it reserve tens of MB (2^32 aborts the process).
    // If this starts failing, the codec bounds its arrays now and wire.rs could be retired.
    use kafka_protocol::protocol::Decodable;
    let body = Bytes::from_static(&[0, 0, 0x81, 0x80, 0x40, 0, 0]);
    let (result, peak) = peak_of(|| kp::ApiVersionsResponse::decode(&mut body.clone(), 3).map(drop));
    assert!(result.is_err());
    assert!(peak > 1 << 20, "kafka-protocol reserved only {peak} bytes");
    let (result, peak) = peak_of(|| decode::<ApiVersionsResponse>(&body, 3));
    assert!(result.is_err());
    assert!(peak < 1024, "{peak}");
}

#[test]
fn varints_longer_than_five_bytes_or_32_bits_are_refused() {
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(r.uvarint().unwrap_err().what.contains("longer than 5 bytes"));
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
    assert!(r.uvarint().unwrap_err().what.contains("larger than 32 bits"));
    let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(r.uvarint(), Ok(u32::MAX));
}

#[test]
fn leftover_bytes_and_bad_utf8_are_errors() {
    let err = decode::<InitProducerIdResponse>(&[0; 17], 0).unwrap_err();
    assert_eq!(err.to_string(), "1 bytes left over at byte 16");
    let body = [0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0xc3, 0x28, 0, 0, 0, 0];
    let err = decode::<MetadataResponse>(&body, 1).unwrap_err();
    assert!(err.what.contains("not UTF-8"), "{err}");
}

/// One mutation of a valid response: the kinds of damage a corrupting proxy or a hostile
/// peer produces, aimed at length and count fields as much as at random bytes.
fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
    let at = |rng: &mut fastrand::Rng, len: usize| rng.usize(0..len.max(1));
    match rng.u8(0..8) {
        0 if !input.is_empty() => {
            let i = at(rng, input.len());
            input[i] ^= 1 << rng.u8(0..8);
        }
        1 if !input.is_empty() => {
            let i = at(rng, input.len());
            input[i] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff][rng.usize(0..6)];
        }
        2 => {
            let i = rng.usize(0..=input.len());
            input.splice(i..i, [0xff, 0xff, 0xff, 0xff, 0x0f]);
        }
        3 if input.len() >= 4 => {
            let i = rng.usize(0..=input.len() - 4);
            let v = [i32::MAX, -1, -2, i32::MIN, 0x00ff_ffff][rng.usize(0..5)];
            input[i..i + 4].copy_from_slice(&v.to_be_bytes());
        }
        4 => input.truncate(at(rng, input.len())),
        5 if !input.is_empty() => {
            let i = at(rng, input.len());
            let j = (i + rng.usize(1..16)).min(input.len());
            let copy: Vec<u8> = input[i..j].to_vec();
            input.splice(i..i, copy);
        }
        6 if input.len() >= 2 => {
            let i = rng.usize(0..input.len() - 1);
            input[i..i + 2].copy_from_slice(&[0x7f, 0xff]);
        }
        _ => {
            let i = rng.usize(0..=input.len());
            let junk: Vec<u8> = (0..rng.usize(1..8)).map(|_| rng.u8(..)).collect();
            input.splice(i..i, junk);
        }
    }
}

#[test]
fn fuzz_mutated_responses_never_panic_or_allocate_beyond_a_small_multiple_of_their_size() {
    let inputs: u64 = std::env::var("POS_FUZZ_INPUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let seed: u64 = std::env::var("POS_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(11);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut corpus = all_samples(&mut rng);
    let (mut decoded, mut refused, mut worst) = (0u64, 0u64, 0f64);
    for n in 0..inputs {
        if n % 1000 == 0 {
            corpus = all_samples(&mut rng);
        }
        let sample = &corpus[rng.usize(0..corpus.len())];
        let mut input = sample.bytes.clone();
        for _ in 0..rng.usize(1..4) {
            mutate(&mut rng, &mut input);
        }
        let (result, peak) = peak_of(|| decode_any(sample.api, sample.version, &input));
        // Our structs are at most ~4x the wire bytes they come from (a String or a Vec for a
        // few bytes of name or count); 16x plus a constant leaves room and still catches any
        // allocation sized by a count rather than by the bytes.
        let bound = 16 * input.len() + 4096;
        assert!(
            peak <= bound,
            "{:?} v{} input {n} (seed {seed}) allocated {peak} bytes for {} input bytes: {input:02x?}",
            sample.api,
            sample.version,
            input.len()
        );
        if input.len() >= 1024 {
            worst = worst.max(peak as f64 / input.len() as f64);
        }
        match result {
            Ok(()) => decoded += 1,
            Err(_) => refused += 1,
        }
    }
    eprintln!(
        "fuzz: {inputs} mutated responses (seed {seed}): {decoded} decoded, {refused} refused, \
         no panic; peak allocation at most {worst:.1}x the size of inputs of 1 KiB or more"
    );
    assert_eq!(decoded + refused, inputs);
}

/// A Produce v3 answer: one topic, each partition written (error 0).
fn produce_v3(topic: &str, partitions: &[i32]) -> Vec<u8> {
    let mut b = 1i32.to_be_bytes().to_vec();
    b.extend_from_slice(&(topic.len() as i16).to_be_bytes());
    b.extend_from_slice(topic.as_bytes());
    b.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
    for p in partitions {
        b.extend_from_slice(&p.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&[0; 16]); // base offset, log append time
    }
    b.extend_from_slice(&0i32.to_be_bytes()); // throttle time
    b
}

#[test]
fn produce_answers_decoded_into_one_value_equal_fresh_ones() {
    let mut rng = fastrand::Rng::with_seed(19);
    let mut into = ProduceResponse::default();
    for v in 3..=12 {
        for _ in 0..40 {
            let sample = samples::produce(&mut rng, v, 1);
            decode_into(&sample.bytes, v, &mut into).unwrap();
            assert_eq!(into, decode::<ProduceResponse>(&sample.bytes, v).unwrap(), "v{v}");
            (sample.check)(&sample.bytes);
        }
    }
}

#[test]
fn a_produce_answer_decoded_into_the_last_one_keeps_its_memory() {
    let mut into = ProduceResponse::default();
    decode_into(&produce_v3("transactions-of-store-42", &(0..10).collect::<Vec<_>>()), 3, &mut into).unwrap();
    // The same memory, and as much of it as the larger answer needed (a fresh decode of the
    // smaller one would have less).
    let memory = |r: &ProduceResponse| {
        let t = &r.responses[0];
        (r.responses.as_ptr() as usize, t.name.as_ptr() as usize, t.name.capacity(), t.partitions.capacity())
    };
    let before = memory(&into);
    let next = produce_v3("transactions", &[5]);
    decode_into(&next, 3, &mut into).unwrap();
    assert_eq!(memory(&into), before, "the topic list, its name and its partition list are reused");
    assert_eq!(into, decode::<ProduceResponse>(&next, 3).unwrap());
    assert_eq!((into.responses[0].name.as_str(), into.responses[0].partitions[0].index), ("transactions", 5));
}
