//! A fast hash for the client's small maps, looked up on the path of every request: node ids,
//! connections, topic names, topic indexes. Their keys come from the configuration and the
//! cluster, never from a stranger, so the standard SipHash's defence against chosen keys buys
//! nothing here, and it costs a hundred instructions and more per lookup. This is the Fx hash
//! of rustc (an add and a multiply per word), finished by a fold, a multiply and a fold that
//! spread every input bit over the whole hash: hashbrown picks a bucket by the low bits and
//! tells keys in it apart by the top seven, and a multiply alone carries a difference upwards
//! only (topic names that differ in their last byte would share a bucket).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

const MULTIPLIER: u64 = 0xf1_35_7a_ea_2e_62_a9_c5;

#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = self.0.wrapping_add(word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("chunks of 8")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            // The length too, so that "ab" and "ab\0" differ.
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.add(u64::from(v));
    }

    fn write_u32(&mut self, v: u32) {
        self.add(u64::from(v));
    }

    fn write_i32(&mut self, v: i32) {
        self.add(v as u32 as u64);
    }

    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }

    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }

    fn finish(&self) -> u64 {
        let x = self.0 ^ (self.0 >> 32);
        let x = x.wrapping_mul(MULTIPLIER);
        x ^ (x >> 32)
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, Hash};

    use super::*;

    fn hash(value: impl Hash) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(value)
    }

    #[test]
    fn equal_keys_hash_alike_and_near_keys_apart() {
        assert_eq!(hash("transactions"), hash(String::from("transactions")));
        assert_eq!(hash((1usize, 3i32)), hash((1usize, 3i32)));
        assert_ne!(hash("transactions"), hash("refunds"));
        assert_ne!(hash("ab"), hash("ab\0"));
        assert_ne!(hash("transactions-1"), hash("transactions-2"));
        assert_ne!(hash(1i32), hash(2i32));
    }

    #[test]
    fn the_bits_that_pick_a_bucket_are_spread() {
        // hashbrown picks a bucket by the low bits and tells keys apart by the top 7: node ids
        // and partition numbers are small consecutive integers, and must not pile up in either.
        for bits in [4u32, 8, 10] {
            let buckets = 1u64 << bits;
            let low: FastSet<u64> = (0..buckets as i32).map(|k| hash(k) & (buckets - 1)).collect();
            assert!(low.len() as u64 > buckets / 2, "{} of {buckets} buckets for {buckets} keys", low.len());
        }
        let top: FastSet<u64> = (0..128i32).map(|k| hash(k) >> 57).collect();
        assert!(top.len() > 64, "{} of 128 tags", top.len());
        let topics: FastSet<u64> = (0..256).map(|i| hash(format!("topic-{i}")) & 255).collect();
        assert!(topics.len() > 128, "{} of 256 buckets", topics.len());
    }

    #[test]
    fn a_fast_map_is_a_map() {
        let mut map: FastMap<String, usize> = FastMap::default();
        for i in 0..1000 {
            map.insert(format!("topic-{i}"), i);
        }
        assert_eq!(map.len(), 1000);
        assert!((0..1000).all(|i| map.get(&format!("topic-{i}")) == Some(&i)));
        assert_eq!(map.get("topic-1000"), None);
    }
}
