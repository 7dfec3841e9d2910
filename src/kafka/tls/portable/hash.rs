//! SHA-256 and SHA-384 with their HMACs: the transcript hash, HKDF (TLS 1.3) and the PRF
//! (TLS 1.2) of the cipher suites, from RustCrypto's `sha2` and `hmac`.

use std::marker::PhantomData;

use hmac::{Mac, SimpleHmac};
use rustls::crypto::hash::{self, HashAlgorithm};
use rustls::crypto::hmac::{self as rhmac, Tag};
use sha2::{Digest, Sha256, Sha384};

/// A hash as rustls sees it.
pub struct Hash<D> {
    algorithm: HashAlgorithm,
    _digest: PhantomData<fn() -> D>,
}

pub static SHA256: Hash<Sha256> = Hash { algorithm: HashAlgorithm::SHA256, _digest: PhantomData };
pub static SHA384: Hash<Sha384> = Hash { algorithm: HashAlgorithm::SHA384, _digest: PhantomData };

impl<D: Digest + Clone + Send + Sync + 'static> hash::Hash for Hash<D> {
    fn start(&self) -> Box<dyn hash::Context> {
        Box::new(Context(D::new()))
    }

    fn hash(&self, data: &[u8]) -> hash::Output {
        hash::Output::new(&D::digest(data))
    }

    fn output_len(&self) -> usize {
        <D as Digest>::output_size()
    }

    fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }
}

struct Context<D>(D);

impl<D: Digest + Clone + Send + Sync + 'static> hash::Context for Context<D> {
    fn fork_finish(&self) -> hash::Output {
        hash::Output::new(&self.0.clone().finalize())
    }

    fn fork(&self) -> Box<dyn hash::Context> {
        Box::new(Context(self.0.clone()))
    }

    fn finish(self: Box<Self>) -> hash::Output {
        hash::Output::new(&self.0.finalize())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

/// HMAC with a hash, as rustls sees it.
pub struct Hmac<D>(PhantomData<fn() -> D>);

pub static HMAC_SHA256: Hmac<Sha256> = Hmac(PhantomData);
pub static HMAC_SHA384: Hmac<Sha384> = Hmac(PhantomData);

impl<D> rhmac::Hmac for Hmac<D>
where
    D: Digest + sha2::digest::core_api::BlockSizeUser + Clone + Send + Sync + 'static,
{
    fn with_key(&self, key: &[u8]) -> Box<dyn rhmac::Key> {
        Box::new(Key(<SimpleHmac<D> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")))
    }

    fn hash_output_len(&self) -> usize {
        <D as Digest>::output_size()
    }
}

struct Key<D: Digest + sha2::digest::core_api::BlockSizeUser>(SimpleHmac<D>);

impl<D> rhmac::Key for Key<D>
where
    D: Digest + sha2::digest::core_api::BlockSizeUser + Clone + Send + Sync + 'static,
{
    fn sign_concat(&self, first: &[u8], middle: &[&[u8]], last: &[u8]) -> Tag {
        let mut mac = self.0.clone();
        mac.update(first);
        for m in middle {
            mac.update(m);
        }
        mac.update(last);
        Tag::new(&mac.finalize().into_bytes())
    }

    fn tag_len(&self) -> usize {
        <D as Digest>::output_size()
    }
}
