//! The client's key for mutual TLS: ECDSA on P-256 or P-384 (PKCS#8 or SEC1; deterministic
//! nonces, RFC 6979) and RSA (PKCS#8 or PKCS#1; PSS preferred, PKCS#1 v1.5 where the broker
//! offers only that; blinded). Each key knows its SubjectPublicKeyInfo, so that the files can
//! be checked to belong together.

use std::sync::Arc;

use p256::ecdsa::signature::hazmat::PrehashSigner;
use rand_core::OsRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding};
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use rustls::sign::{Signer, SigningKey};
use rustls::{Error, SignatureAlgorithm, SignatureScheme};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The key in `der`, or why it cannot be used.
pub fn load(der: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, Error> {
    let unsupported = || Error::General("not an RSA, P-256 or P-384 key (the keys this provider can sign with)".into());
    let key: Arc<dyn SigningKey> = match &der {
        PrivateKeyDer::Pkcs8(k) => {
            let bytes = k.secret_pkcs8_der();
            if let Ok(k) = p256::SecretKey::from_pkcs8_der(bytes) {
                Arc::new(Ecdsa::p256(k)?)
            } else if let Ok(k) = p384::SecretKey::from_pkcs8_der(bytes) {
                Arc::new(Ecdsa::p384(k)?)
            } else if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(bytes) {
                Arc::new(Rsa::new(k)?)
            } else {
                return Err(unsupported());
            }
        }
        PrivateKeyDer::Sec1(k) => {
            let bytes = k.secret_sec1_der();
            if let Ok(k) = p256::SecretKey::from_sec1_der(bytes) {
                Arc::new(Ecdsa::p256(k)?)
            } else if let Ok(k) = p384::SecretKey::from_sec1_der(bytes) {
                Arc::new(Ecdsa::p384(k)?)
            } else {
                return Err(unsupported());
            }
        }
        PrivateKeyDer::Pkcs1(k) => {
            let k = rsa::RsaPrivateKey::from_pkcs1_der(k.secret_pkcs1_der()).map_err(|_| unsupported())?;
            Arc::new(Rsa::new(k)?)
        }
        _ => return Err(unsupported()),
    };
    Ok(key)
}

fn spki_error<E>(_: E) -> Error {
    Error::General("its public key cannot be encoded".into())
}

#[derive(Clone)]
enum EcKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

struct Ecdsa {
    key: EcKey,
    spki: Vec<u8>,
}

impl Ecdsa {
    fn p256(k: p256::SecretKey) -> Result<Ecdsa, Error> {
        let spki = k.public_key().to_public_key_der().map_err(spki_error)?.into_vec();
        Ok(Ecdsa { key: EcKey::P256(k.into()), spki })
    }

    fn p384(k: p384::SecretKey) -> Result<Ecdsa, Error> {
        let spki = k.public_key().to_public_key_der().map_err(spki_error)?.into_vec();
        Ok(Ecdsa { key: EcKey::P384(k.into()), spki })
    }

    fn scheme(&self) -> SignatureScheme {
        match self.key {
            EcKey::P256(_) => SignatureScheme::ECDSA_NISTP256_SHA256,
            EcKey::P384(_) => SignatureScheme::ECDSA_NISTP384_SHA384,
        }
    }
}

impl std::fmt::Debug for Ecdsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ecdsa { .. }")
    }
}

impl SigningKey for Ecdsa {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        let scheme = self.scheme();
        offered.contains(&scheme).then(|| Box::new(EcdsaSigner { key: self.key.clone(), scheme }) as Box<dyn Signer>)
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(&self.spki[..]))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

struct EcdsaSigner {
    key: EcKey,
    scheme: SignatureScheme,
}

impl std::fmt::Debug for EcdsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcdsaSigner {{ {:?} }}", self.scheme)
    }
}

impl Signer for EcdsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |_| Error::General("ECDSA signing failed".into());
        match &self.key {
            EcKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign_prehash(&Sha256::digest(message)).map_err(failed)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            EcKey::P384(k) => {
                let sig: p384::ecdsa::Signature = k.sign_prehash(&Sha384::digest(message)).map_err(failed)?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}

/// The schemes an RSA key signs with, most preferred first (as rustls' own providers order
/// them); also the schemes of the TLS 1.2 ECDHE_RSA suites.
pub const RSA_SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PKCS1_SHA512,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA256,
];

struct Rsa {
    key: Arc<rsa::RsaPrivateKey>,
    spki: Vec<u8>,
}

impl Rsa {
    fn new(key: rsa::RsaPrivateKey) -> Result<Rsa, Error> {
        let spki = key.to_public_key().to_public_key_der().map_err(spki_error)?.into_vec();
        Ok(Rsa { key: Arc::new(key), spki })
    }
}

impl std::fmt::Debug for Rsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rsa { .. }")
    }
}

impl SigningKey for Rsa {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        RSA_SCHEMES
            .iter()
            .find(|s| offered.contains(s))
            .map(|&scheme| Box::new(RsaSigner { key: Arc::clone(&self.key), scheme }) as Box<dyn Signer>)
    }

    fn public_key(&self) -> Option<SubjectPublicKeyInfoDer<'_>> {
        Some(SubjectPublicKeyInfoDer::from(&self.spki[..]))
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::RSA
    }
}

struct RsaSigner {
    key: Arc<rsa::RsaPrivateKey>,
    scheme: SignatureScheme,
}

impl std::fmt::Debug for RsaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaSigner {{ {:?} }}", self.scheme)
    }
}

impl Signer for RsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let key = (*self.key).clone();
        let mut rng = OsRng;
        let failed = |_| Error::General("RSA signing failed".into());
        let sig = match self.scheme {
            SignatureScheme::RSA_PSS_SHA512 => rsa::pss::BlindedSigningKey::<Sha512>::new(key)
                .try_sign_with_rng(&mut rng, message)
                .map_err(failed)?
                .to_vec(),
            SignatureScheme::RSA_PSS_SHA384 => rsa::pss::BlindedSigningKey::<Sha384>::new(key)
                .try_sign_with_rng(&mut rng, message)
                .map_err(failed)?
                .to_vec(),
            SignatureScheme::RSA_PSS_SHA256 => rsa::pss::BlindedSigningKey::<Sha256>::new(key)
                .try_sign_with_rng(&mut rng, message)
                .map_err(failed)?
                .to_vec(),
            SignatureScheme::RSA_PKCS1_SHA512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(key)
                .try_sign_with_rng(&mut rng, message)
                .map_err(failed)?
                .to_vec(),
            SignatureScheme::RSA_PKCS1_SHA384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(key)
                .try_sign_with_rng(&mut rng, message)
                .map_err(failed)?
                .to_vec(),
            _ => rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
                .try_sign_with_rng(&mut rng, message)
                .map_err(failed)?
                .to_vec(),
        };
        Ok(sig)
    }

    fn scheme(&self) -> SignatureScheme {
        self.scheme
    }
}
