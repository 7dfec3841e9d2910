//! RSA private keys with their larger prime first, as OpenSSL writes them.
//!
//! graviola 0.4's RSA signing fails now and then, with `BadSignature`, for a key whose second
//! prime is the larger: keytool (Java) makes such keys, and with one about 1 signature in 200
//! failed its own check, and with it that TLS handshake (measured: 15 of 3,000 PSS signatures).
//! The same key with its primes in the other order, and the CRT values to match, signs every
//! time; every provider takes either order. So a client key is put in that order before a
//! provider loads it. Anything else (an EC key, an RSA key already in order, a key the `rsa`
//! crate cannot read) is passed on unchanged.

use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

pub fn larger_prime_first(key: PrivateKeyDer<'static>) -> PrivateKeyDer<'static> {
    let parsed = match &key {
        PrivateKeyDer::Pkcs8(k) => rsa::RsaPrivateKey::from_pkcs8_der(k.secret_pkcs8_der()).ok(),
        PrivateKeyDer::Pkcs1(k) => rsa::RsaPrivateKey::from_pkcs1_der(k.secret_pkcs1_der()).ok(),
        _ => None,
    };
    let Some(rsa) = parsed else { return key };
    let primes = rsa.primes();
    if primes.len() != 2 || primes[0] >= primes[1] {
        return key;
    }
    let swapped = rsa::RsaPrivateKey::from_components(
        rsa.n().clone(),
        rsa.e().clone(),
        rsa.d().clone(),
        vec![primes[1].clone(), primes[0].clone()],
    );
    match swapped.and_then(|mut k| k.precompute().map(|()| k)).ok().and_then(|k| k.to_pkcs1_der().ok()) {
        Some(der) => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.as_bytes().to_vec())),
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::PrivatePkcs8KeyDer;

    /// A throwaway key made by keytool (Java 17) whose second prime is the larger.
    const KEYTOOL: &[u8] = include_bytes!("fixtures/keytool-rsa.pk8.der");

    fn failures(sign: impl Fn(&mut [u8], &[u8]) -> bool) -> usize {
        (0..3000).filter(|i| !sign(&mut [0u8; 256], format!("handshake {i}").as_bytes())).count()
    }

    #[test]
    fn a_keytool_key_is_reordered_and_then_graviola_signs_it_every_time() {
        use graviola::signing::rsa::SigningKey;
        let original = rsa::RsaPrivateKey::from_pkcs8_der(KEYTOOL).unwrap();
        assert!(original.primes()[0] < original.primes()[1], "the fixture has the larger prime second");
        let as_is = SigningKey::from_pkcs8_der(KEYTOOL).unwrap();
        let bad = failures(|sig, msg| as_is.sign_pss_sha256(sig, msg).is_ok());
        assert!(bad > 0, "graviola signed 3,000 times with the larger prime second: the workaround is moot");

        let PrivateKeyDer::Pkcs1(reordered) =
            larger_prime_first(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEYTOOL.to_vec())))
        else {
            panic!("not reordered");
        };
        let again = rsa::RsaPrivateKey::from_pkcs1_der(reordered.secret_pkcs1_der()).unwrap();
        assert_eq!((again.n(), again.e(), again.d()), (original.n(), original.e(), original.d()), "the same key");
        assert!(again.primes()[0] > again.primes()[1]);
        again.validate().unwrap();
        let fixed = SigningKey::from_pkcs1_der(reordered.secret_pkcs1_der()).unwrap();
        assert_eq!(failures(|sig, msg| fixed.sign_pss_sha256(sig, msg).is_ok()), 0);
        // Its signatures verify with the certificate's public key, which did not change.
        let mut sig = [0u8; 256];
        fixed.sign_pkcs1_sha256(&mut sig, b"hello").unwrap();
        as_is.public_key().verify_pkcs1_sha256(&sig, b"hello").unwrap();
    }

    #[test]
    fn other_keys_pass_unchanged() {
        let pkcs1 = |key: &PrivateKeyDer<'_>| match key {
            PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der().to_vec(),
            _ => panic!("not PKCS#1"),
        };
        // A key already in order (the reordered keytool key) comes back as it went in.
        let in_order = larger_prime_first(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEYTOOL.to_vec())));
        assert_eq!(pkcs1(&larger_prime_first(in_order.clone_key())), pkcs1(&in_order));
        // An EC key is not the rsa crate's: unchanged.
        let ec = include_bytes!("fixtures/leaf.pk8.der").to_vec();
        match larger_prime_first(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ec.clone()))) {
            PrivateKeyDer::Pkcs8(k) => assert_eq!(k.secret_pkcs8_der(), &ec[..]),
            _ => panic!("an EC key was changed"),
        }
    }
}
