use super::*;

const JAVA: &[u8] = include_bytes!("../fixtures/java.p12");
const OPENSSL: &[u8] = include_bytes!("../fixtures/openssl.p12");
const LEGACY: &[u8] = include_bytes!("../fixtures/legacy.p12");
const PLAIN: &[u8] = include_bytes!("../fixtures/plain.p12");
const TRUST: &[u8] = include_bytes!("../fixtures/trust.p12");
const JKS: &[u8] = include_bytes!("../fixtures/store.jks");
const KEY: &[u8] = include_bytes!("../fixtures/leaf.pk8.der");

/// The DER of the first certificate of a PEM file.
fn pem_cert(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

fn leaf() -> Vec<u8> {
    pem_cert(include_str!("../fixtures/leaf.pem"))
}

fn ca() -> Vec<u8> {
    pem_cert(include_str!("../fixtures/ca.pem"))
}

#[test]
fn keystores_of_keytool_and_openssl_today_and_of_old_give_the_key_and_chain() {
    for (what, bytes, password) in
        [("keytool", JAVA, "java-pw"), ("openssl", OPENSSL, "store-pw"), ("openssl -legacy", LEGACY, "store-pw")]
    {
        let store = open(bytes, Some(password), None).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(store.keys.len(), 1, "{what}");
        assert_eq!(store.keys[0].der, KEY, "{what}: the key is the one stored");
        assert_eq!(store.keys[0].name.as_deref(), Some("client"), "{what}");
        let certs: Vec<&[u8]> = store.certs.iter().map(|c| &c.der[..]).collect();
        assert!(certs.contains(&&leaf()[..]) && certs.contains(&&ca()[..]), "{what}: both certificates");
        let own: Vec<_> = store.certs.iter().filter(|c| c.local_key_id == store.keys[0].local_key_id).collect();
        assert_eq!(own.len(), 1, "{what}: one certificate carries the key's id");
        assert_eq!(own[0].der, leaf(), "{what}");
        let trusted: Vec<_> = store.trusted().map(|c| c.der.clone()).collect();
        assert_eq!(trusted, [ca()], "{what}: the key's own certificate is not a trust anchor");
    }
}

#[test]
fn a_truststore_gives_its_certificates() {
    let store = open(TRUST, Some("trust-pw"), None).unwrap();
    assert!(store.keys.is_empty());
    assert_eq!(store.trusted().map(|c| c.der.clone()).collect::<Vec<_>>(), [ca()]);
    assert_eq!(store.certs[0].name.as_deref(), Some("fixture-ca"));
}

#[test]
fn a_store_without_mac_or_encryption_needs_no_password() {
    let store = open(PLAIN, None, None).unwrap();
    assert_eq!((store.keys.len(), store.certs.len()), (1, 1));
    assert_eq!(store.keys[0].der, KEY);
}

#[test]
fn passwords_wrong_or_missing_are_told_apart() {
    for bytes in [JAVA, OPENSSL, LEGACY, TRUST] {
        assert_eq!(open(bytes, Some("nope"), None), Err(StoreError::WrongPassword));
        assert_eq!(open(bytes, None, None), Err(StoreError::NeedsPassword));
    }
    // The key's own password, when set, is the one the key must open with.
    assert_eq!(open(JAVA, Some("java-pw"), Some("nope")), Err(StoreError::WrongKeyPassword));
    assert!(open(JAVA, Some("java-pw"), Some("java-pw")).is_ok());
}

#[test]
fn java_stores_are_recognised() {
    assert_eq!(open(JKS, Some("jks-pw"), None), Err(StoreError::Java("JKS")));
    assert_eq!(open(&[0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2], None, None), Err(StoreError::Java("JCEKS")));
    let err = open(b"-----BEGIN CERTIFICATE-----\n", None, None).unwrap_err().to_string();
    assert!(err.starts_with("not a PKCS#12 store, or a damaged one"), "{err}");
}

#[test]
fn every_cut_and_every_flipped_byte_is_an_error_not_a_panic() {
    for bytes in [JAVA, LEGACY, PLAIN] {
        for n in 0..bytes.len() {
            assert!(open(&bytes[..n], Some("java-pw"), None).is_err());
        }
    }
    // A flipped byte: an error, or (in bytes nothing reads, such as unused attributes) the
    // same result; never a panic. The MAC catches every flip in the authenticated part. (Every
    // 5th byte of the MAC-protected store: each attempt runs the 2,048-round KDF.)
    for i in (0..LEGACY.len()).step_by(5) {
        let mut bytes = LEGACY.to_vec();
        bytes[i] ^= 0x41;
        if let Ok(store) = open(&bytes, Some("store-pw"), None) {
            assert_eq!(store.keys[0].der, KEY, "byte {i}");
        }
    }
    for i in 0..PLAIN.len() {
        let mut bytes = PLAIN.to_vec();
        bytes[i] ^= 0x41;
        let _ = open(&bytes, None, None);
    }
}
