//! The portable crypto provider: rustls's `CryptoProvider` on RustCrypto's pure-Rust
//! primitives, for CPUs graviola cannot run on (a Raspberry Pi 4, Atom/Celeron POS boxes, x86_64
//! before AVX2/ADX). Each primitive picks CPU instructions at run time where there are any
//! (AES-NI, PCLMULQDQ, SHA, AVX2) and has a constant-time software path otherwise.
//!
//! Client side only: TLS 1.3 and 1.2 suites with AES-GCM and ChaCha20-Poly1305 (ChaCha20 first
//! on CPUs without AES instructions, where it is the faster and the constant-time choice), X25519
//! and P-256/P-384 key exchange, RSA and ECDSA signatures (`verify.rs`), the client's RSA or
//! ECDSA key for mutual TLS (`sign.rs`).
//!
//! References: RFC 8446, RFC 5246, RFC 5288, RFC 7905, RFC 8422; rustls's provider traits.

use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use rustls::crypto::{CipherSuiteCommon, CryptoProvider, GetRandomFailed, KeyExchangeAlgorithm, tls12, tls13};
use rustls::pki_types::PrivateKeyDer;
use rustls::{CipherSuite, SignatureScheme, SupportedCipherSuite, Tls12CipherSuite, Tls13CipherSuite};

mod aead;
mod hash;
mod kx;
mod sign;
mod verify;

/// The provider; `aes_first`: whether this CPU has AES instructions (the order of the suites).
pub fn provider(aes_first: bool) -> CryptoProvider {
    let (aes, chacha) = (AES_SUITES.iter().copied(), CHACHA_SUITES.iter().copied());
    let cipher_suites = if aes_first { aes.chain(chacha).collect() } else { chacha.chain(aes).collect() };
    CryptoProvider {
        cipher_suites,
        kx_groups: kx::ALL.to_vec(),
        signature_verification_algorithms: verify::ALGORITHMS,
        secure_random: &Random,
        key_provider: &Keys,
    }
}

#[derive(Debug)]
struct Random;

impl rustls::crypto::SecureRandom for Random {
    fn fill(&self, bytes: &mut [u8]) -> Result<(), GetRandomFailed> {
        OsRng.try_fill_bytes(bytes).map_err(|_| GetRandomFailed)
    }
}

#[derive(Debug)]
struct Keys;

impl rustls::crypto::KeyProvider for Keys {
    fn load_private_key(
        &self,
        der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn rustls::sign::SigningKey>, rustls::Error> {
        sign::load(der)
    }
}

/// AES-GCM's limit on records per key (RFC 8446 §5.5; what rustls's own providers use).
const GCM_LIMIT: u64 = 1 << 23;

const ECDSA: &[SignatureScheme] = &[SignatureScheme::ECDSA_NISTP384_SHA384, SignatureScheme::ECDSA_NISTP256_SHA256];
const RSA: &[SignatureScheme] = &sign::RSA_SCHEMES;

const fn common(suite: CipherSuite, sha384: bool, limit: u64) -> CipherSuiteCommon {
    CipherSuiteCommon {
        suite,
        hash_provider: if sha384 { &hash::SHA384 } else { &hash::SHA256 },
        confidentiality_limit: limit,
    }
}

static TLS13_AES_128_GCM_SHA256: Tls13CipherSuite = Tls13CipherSuite {
    common: common(CipherSuite::TLS13_AES_128_GCM_SHA256, false, GCM_LIMIT),
    hkdf_provider: &tls13::HkdfUsingHmac(&hash::HMAC_SHA256),
    aead_alg: &aead::AES_128_GCM,
    quic: None,
};
static TLS13_AES_256_GCM_SHA384: Tls13CipherSuite = Tls13CipherSuite {
    common: common(CipherSuite::TLS13_AES_256_GCM_SHA384, true, GCM_LIMIT),
    hkdf_provider: &tls13::HkdfUsingHmac(&hash::HMAC_SHA384),
    aead_alg: &aead::AES_256_GCM,
    quic: None,
};
static TLS13_CHACHA20_POLY1305_SHA256: Tls13CipherSuite = Tls13CipherSuite {
    common: common(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256, false, u64::MAX),
    hkdf_provider: &tls13::HkdfUsingHmac(&hash::HMAC_SHA256),
    aead_alg: &aead::CHACHA20_POLY1305,
    quic: None,
};

macro_rules! tls12_suite {
    ($name:ident, $suite:ident, $sha384:expr, $limit:expr, $sign:expr, $aead:expr) => {
        static $name: Tls12CipherSuite = Tls12CipherSuite {
            common: common(CipherSuite::$suite, $sha384, $limit),
            kx: KeyExchangeAlgorithm::ECDHE,
            sign: $sign,
            prf_provider: if $sha384 {
                &tls12::PrfUsingHmac(&hash::HMAC_SHA384)
            } else {
                &tls12::PrfUsingHmac(&hash::HMAC_SHA256)
            },
            aead_alg: $aead,
        };
    };
}

tls12_suite!(ECDSA_AES_128, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false, GCM_LIMIT, ECDSA, &aead::AES_128_GCM);
tls12_suite!(ECDSA_AES_256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, true, GCM_LIMIT, ECDSA, &aead::AES_256_GCM);
tls12_suite!(
    ECDSA_CHACHA,
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    false,
    u64::MAX,
    ECDSA,
    &aead::CHACHA20_POLY1305
);
tls12_suite!(RSA_AES_128, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, false, GCM_LIMIT, RSA, &aead::AES_128_GCM);
tls12_suite!(RSA_AES_256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, true, GCM_LIMIT, RSA, &aead::AES_256_GCM);
tls12_suite!(RSA_CHACHA, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, false, u64::MAX, RSA, &aead::CHACHA20_POLY1305);

static AES_SUITES: &[SupportedCipherSuite] = &[
    SupportedCipherSuite::Tls13(&TLS13_AES_256_GCM_SHA384),
    SupportedCipherSuite::Tls13(&TLS13_AES_128_GCM_SHA256),
    SupportedCipherSuite::Tls12(&ECDSA_AES_256),
    SupportedCipherSuite::Tls12(&ECDSA_AES_128),
    SupportedCipherSuite::Tls12(&RSA_AES_256),
    SupportedCipherSuite::Tls12(&RSA_AES_128),
];
static CHACHA_SUITES: &[SupportedCipherSuite] = &[
    SupportedCipherSuite::Tls13(&TLS13_CHACHA20_POLY1305_SHA256),
    SupportedCipherSuite::Tls12(&ECDSA_CHACHA),
    SupportedCipherSuite::Tls12(&RSA_CHACHA),
];

#[cfg(test)]
mod tests;
