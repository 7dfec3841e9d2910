//! Java's default partitioner for keyed records: murmur2 of the key, positive, modulo partitions.
//!
//! References: `org.apache.kafka.common.utils.Utils.murmur2` and `toPositive`, and
//! `BuiltInPartitioner.partitionForKey` in the Apache Kafka client. Matching it means a Java and
//! a Rust producer put the same key in the same partition.

/// Kafka's 32-bit murmur2 (seed 0x9747b28c), wrapping arithmetic, logical shifts.
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        let mut k = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// The partition Java's producer picks for `key` among `partitions` (> 0).
pub fn partition_for_key(key: &[u8], partitions: usize) -> usize {
    (murmur2(key) & 0x7fff_ffff) as usize % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2 (values as Java ints).
        let cases: [(&str, i32); 4] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
        ];
        for (key, want) in cases {
            assert_eq!(murmur2(key.as_bytes()) as i32, want, "{key}");
        }
        assert_eq!(murmur2(b"abc") as i32, 479_470_107);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32, -58_897_971);
    }

    #[test]
    fn every_tail_length_takes_its_branch() {
        // One key per remainder 0..=3 must all differ: a skipped tail byte would collide.
        let hashes: Vec<u32> = ["abcd", "abcde", "abcdef", "abcdefg"].iter().map(|k| murmur2(k.as_bytes())).collect();
        let mut unique = hashes.clone();
        unique.dedup();
        assert_eq!(unique.len(), 4);
    }

    #[test]
    fn partitions_are_in_range_and_positive() {
        for i in 0..10_000u32 {
            let key = i.to_string();
            assert!(partition_for_key(key.as_bytes(), 6) < 6);
        }
        // "21" hashes to a negative Java int; toPositive masks the sign bit, not abs().
        assert_eq!(partition_for_key(b"21", 6), ((-973_932_308i32 & 0x7fff_ffff) % 6) as usize);
    }
}
