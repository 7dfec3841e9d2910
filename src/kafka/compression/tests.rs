//! Each codec round-trips; frames made by the reference tools (`zstd`, `lz4`: other levels,
//! checksums, linked blocks, several frames) are read; bombs stop at the bound; what we write
//! is the framing Kafka's Java client writes.
//!
//! Fixtures (`fixtures/`): `sample.txt`, 40 JSON lines; `sample.zst` = `zstd -19
//! --content-size` then `zstd -3` of it, concatenated; `skip-then.zst` = a skippable frame
//! before them; `sample.lz4` = `lz4 -BD -BX --content-size` (linked blocks, block checksums).

use super::*;
use crate::kafka::wire::tests::peak_of;

const SAMPLE: &[u8] = include_bytes!("fixtures/sample.txt");
const ALL: [Codec; 5] = [Codec::None, Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd];
const LIMIT: usize = 16 << 20;

fn packed(codec: Codec, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compress(codec, input, &mut out);
    out
}

#[test]
fn every_codec_round_trips_empty_small_and_many_blocks() {
    let big: Vec<u8> = SAMPLE.iter().copied().cycle().take(300_000).collect();
    let noise: Vec<u8> = {
        let mut rng = fastrand::Rng::with_seed(3);
        (0..100_000).map(|_| rng.u8(..)).collect()
    };
    for codec in ALL {
        for input in [&[][..], b"x", SAMPLE, &big, &noise] {
            let c = packed(codec, input);
            assert_eq!(decompress(codec, &c, LIMIT).unwrap(), input, "{codec}, {} bytes", input.len());
        }
        if codec != Codec::None {
            assert!(packed(codec, &big).len() < big.len() / 4, "{codec} compresses repeated JSON");
        }
    }
}

#[test]
fn attribute_bits_name_the_codec() {
    for codec in ALL {
        assert_eq!(Codec::from_attributes(codec.attributes() | 0x30), Ok(codec));
    }
    assert_eq!(Codec::from_attributes(6), Err(6));
}

#[test]
fn frames_from_the_reference_tools_are_read() {
    let two = [SAMPLE, SAMPLE].concat();
    assert_eq!(decompress(Codec::Zstd, include_bytes!("fixtures/sample.zst"), LIMIT).unwrap(), two);
    assert_eq!(decompress(Codec::Zstd, include_bytes!("fixtures/skip-then.zst"), LIMIT).unwrap(), two);
    assert_eq!(decompress(Codec::Lz4, include_bytes!("fixtures/sample.lz4"), LIMIT).unwrap(), SAMPLE);
}

#[test]
fn the_framing_is_the_java_clients() {
    // lz4: magic, FLG version 01 with independent blocks and no checksums, BD 64 KiB.
    let lz4 = packed(Codec::Lz4, SAMPLE);
    assert_eq!(&lz4[..6], &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
    // snappy: snappy-java's header, then length-prefixed blocks of at most 32 KiB.
    let snappy = packed(Codec::Snappy, &vec![7u8; 40_000]);
    assert_eq!(&snappy[..16], b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01");
    let first = u32::from_be_bytes(snappy[16..20].try_into().unwrap()) as usize;
    assert_eq!(snap::raw::decompress_len(&snappy[20..20 + first]).unwrap(), 32 * 1024);
    // gzip and zstd: their magic numbers.
    assert_eq!(&packed(Codec::Gzip, SAMPLE)[..2], &[0x1f, 0x8b]);
    assert_eq!(&packed(Codec::Zstd, SAMPLE)[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
}

#[test]
fn bombs_stop_at_the_bound_for_every_codec() {
    let zeros = vec![0u8; 40 << 20];
    for codec in [Codec::Gzip, Codec::Lz4, Codec::Zstd, Codec::Snappy] {
        let bomb = packed(codec, &zeros);
        let (result, peak) = peak_of(|| decompress(codec, &bomb, LIMIT));
        assert_eq!(result.unwrap_err(), format!("{codec} data inflates beyond 16 MiB"), "{codec}");
        assert!(peak <= 2 * LIMIT + (9 << 20), "{codec}: peak {peak} bytes");
    }
}

#[test]
fn a_zstd_frame_asking_for_a_huge_window_is_refused_before_reserving_it() {
    // Frame header: magic, descriptor 0 (window descriptor follows, no checksum, no size),
    // window descriptor exponent 30 (1 GiB), then a last raw block of one byte.
    let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x09, 0x00, 0x00, b'x'];
    let (result, peak) = peak_of(|| decompress(Codec::Zstd, &frame, LIMIT));
    assert!(result.unwrap_err().starts_with("zstd: "), "refused");
    assert!(peak < 1 << 20, "peak {peak} bytes");
}

#[test]
fn broken_frames_are_errors_in_words() {
    for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd] {
        let mut c = packed(codec, SAMPLE);
        let cut = c.len() / 2;
        c.truncate(cut);
        let e = decompress(codec, &c, LIMIT).expect_err(codec.name());
        assert!(e.starts_with(&format!("{codec}: ")) && !e.contains('{'), "{codec}: {e}");
    }
    assert_eq!(decompress(Codec::Zstd, b"not zstd", LIMIT).unwrap_err(), "zstd: frame magic 0x20746f6e is not zstd's");
}
