//! Signature verification, for certificate chains and the handshake: RSA PKCS#1 v1.5 and PSS
//! with SHA-256/384/512 (keys of 2,048 to 8,192 bits, as webpki allows), ECDSA on P-256 and
//! P-384 with SHA-256 or SHA-384. The same set graviola offers, minus Ed25519 (no Kafka
//! deployment signs with it that we know of).

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::signature::Verifier;
use rustls::SignatureScheme;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id};
use sha2::{Digest, Sha256, Sha384, Sha512};

#[derive(Debug, Clone, Copy)]
enum Padding {
    Pkcs1,
    Pss,
}

#[derive(Debug, Clone, Copy)]
enum Sha {
    S256,
    S384,
    S512,
}

#[derive(Debug)]
struct Rsa {
    padding: Padding,
    hash: Sha,
    id: AlgorithmIdentifier,
}

const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;

impl SignatureVerificationAlgorithm for Rsa {
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        let key = rsa::RsaPublicKey::from_pkcs1_der(public_key).map_err(|_| InvalidSignature)?;
        let bits = rsa::traits::PublicKeyParts::n(&key).bits();
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(InvalidSignature);
        }
        let ok = match self.padding {
            Padding::Pkcs1 => {
                let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| InvalidSignature)?;
                match self.hash {
                    Sha::S256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(message, &sig),
                    Sha::S384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify(message, &sig),
                    Sha::S512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(message, &sig),
                }
            }
            Padding::Pss => {
                let sig = rsa::pss::Signature::try_from(signature).map_err(|_| InvalidSignature)?;
                match self.hash {
                    Sha::S256 => rsa::pss::VerifyingKey::<Sha256>::new(key).verify(message, &sig),
                    Sha::S384 => rsa::pss::VerifyingKey::<Sha384>::new(key).verify(message, &sig),
                    Sha::S512 => rsa::pss::VerifyingKey::<Sha512>::new(key).verify(message, &sig),
                }
            }
        };
        ok.map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.id
    }
}

#[derive(Debug, Clone, Copy)]
enum Curve {
    P256,
    P384,
}

#[derive(Debug)]
struct Ecdsa {
    curve: Curve,
    hash: Sha,
}

impl SignatureVerificationAlgorithm for Ecdsa {
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let digest = match self.hash {
            Sha::S256 => Sha256::digest(message).to_vec(),
            Sha::S384 => Sha384::digest(message).to_vec(),
            Sha::S512 => Sha512::digest(message).to_vec(),
        };
        let ok = match self.curve {
            Curve::P256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
                key.verify_prehash(&digest, &sig)
            }
            Curve::P384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
                key.verify_prehash(&digest, &sig)
            }
        };
        ok.map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        match self.curve {
            Curve::P256 => alg_id::ECDSA_P256,
            Curve::P384 => alg_id::ECDSA_P384,
        }
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        match self.hash {
            Sha::S256 => alg_id::ECDSA_SHA256,
            Sha::S384 => alg_id::ECDSA_SHA384,
            Sha::S512 => alg_id::ECDSA_SHA512,
        }
    }
}

static RSA_PKCS1_SHA256: Rsa = Rsa { padding: Padding::Pkcs1, hash: Sha::S256, id: alg_id::RSA_PKCS1_SHA256 };
static RSA_PKCS1_SHA384: Rsa = Rsa { padding: Padding::Pkcs1, hash: Sha::S384, id: alg_id::RSA_PKCS1_SHA384 };
static RSA_PKCS1_SHA512: Rsa = Rsa { padding: Padding::Pkcs1, hash: Sha::S512, id: alg_id::RSA_PKCS1_SHA512 };
static RSA_PSS_SHA256: Rsa = Rsa { padding: Padding::Pss, hash: Sha::S256, id: alg_id::RSA_PSS_SHA256 };
static RSA_PSS_SHA384: Rsa = Rsa { padding: Padding::Pss, hash: Sha::S384, id: alg_id::RSA_PSS_SHA384 };
static RSA_PSS_SHA512: Rsa = Rsa { padding: Padding::Pss, hash: Sha::S512, id: alg_id::RSA_PSS_SHA512 };
static ECDSA_P256_SHA256: Ecdsa = Ecdsa { curve: Curve::P256, hash: Sha::S256 };
static ECDSA_P256_SHA384: Ecdsa = Ecdsa { curve: Curve::P256, hash: Sha::S384 };
static ECDSA_P384_SHA256: Ecdsa = Ecdsa { curve: Curve::P384, hash: Sha::S256 };
static ECDSA_P384_SHA384: Ecdsa = Ecdsa { curve: Curve::P384, hash: Sha::S384 };

pub static ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        &ECDSA_P256_SHA256,
        &ECDSA_P256_SHA384,
        &ECDSA_P384_SHA256,
        &ECDSA_P384_SHA384,
        &RSA_PKCS1_SHA256,
        &RSA_PKCS1_SHA384,
        &RSA_PKCS1_SHA512,
        &RSA_PSS_SHA256,
        &RSA_PSS_SHA384,
        &RSA_PSS_SHA512,
    ],
    mapping: &[
        (SignatureScheme::ECDSA_NISTP384_SHA384, &[&ECDSA_P384_SHA384, &ECDSA_P256_SHA384]),
        (SignatureScheme::ECDSA_NISTP256_SHA256, &[&ECDSA_P256_SHA256, &ECDSA_P384_SHA256]),
        (SignatureScheme::RSA_PSS_SHA512, &[&RSA_PSS_SHA512]),
        (SignatureScheme::RSA_PSS_SHA384, &[&RSA_PSS_SHA384]),
        (SignatureScheme::RSA_PSS_SHA256, &[&RSA_PSS_SHA256]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[&RSA_PKCS1_SHA512]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[&RSA_PKCS1_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[&RSA_PKCS1_SHA256]),
    ],
};
