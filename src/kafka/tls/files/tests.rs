use std::path::PathBuf;

use super::*;
use crate::kafka::settings::Secret;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/kafka/tls/fixtures").join(name)
}

/// A file with `bytes` in a directory of its own (removed when the test ends).
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str, bytes: &[u8]) -> Scratch {
        let dir = std::env::temp_dir().join(format!("pos-files-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("file");
        std::fs::write(&path, bytes).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
    }
}

fn password(name: &str, p: &str) -> Option<(String, Secret)> {
    Some((name.to_string(), Secret::from(p.to_string())))
}

fn files() -> TlsFiles {
    TlsFiles {
        ca: None,
        truststore: None,
        certificate: None,
        key: None,
        keystore: None,
        key_password: None,
        verify_hostname: true,
        crypto: crate::kafka::settings::Crypto::Auto,
    }
}

fn pem(key: &str, key_password: Option<(String, Secret)>) -> TlsFiles {
    TlsFiles {
        certificate: Some(("KAFKA_SSL_CERTIFICATE_LOCATION".into(), fixture("leaf.pem"))),
        key: Some(("KAFKA_SSL_KEY_LOCATION".into(), fixture(key))),
        key_password,
        ..files()
    }
}

fn keystore(file: &str, store_password: Option<(String, Secret)>) -> TlsFiles {
    let store = StoreFile { name: "KAFKA_SSL_KEYSTORE_LOCATION".into(), path: fixture(file), password: store_password };
    TlsFiles { keystore: Some(store), ..files() }
}

fn provider() -> CryptoProvider {
    rustls_graviola::default_provider()
}

fn err(f: &TlsFiles) -> String {
    match identity(f, &provider()) {
        Ok(_) => panic!("accepted"),
        Err(e) => e,
    }
}

const KEY: &[u8] = include_bytes!("../fixtures/leaf.pk8.der");

#[test]
fn encrypted_pkcs8_keys_open_with_their_password() {
    for key in ["key-aes.pem", "key-des3.pem", "key-pkcs12-3des.pem"] {
        let got = private_key("K", &fixture(key), Some(("KAFKA_SSL_KEY_PASSWORD", "key-pw")))
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(got.secret_der(), KEY, "{key}");
        let f = pem(key, password("KAFKA_SSL_KEY_PASSWORD", "key-pw"));
        let certified = identity(&f, &provider()).unwrap().unwrap();
        assert_eq!(certified.cert.len(), 1, "{key}");
    }
}

#[test]
fn an_encrypted_key_without_or_with_a_wrong_password_is_one_line() {
    let e = err(&pem("key-aes.pem", None));
    assert!(e.ends_with("the key is encrypted: set KAFKA_SSL_KEY_PASSWORD or KAFKA_SSL_KEY_PASSWORD_FILE"), "{e}");
    let e = err(&pem("key-aes.pem", password("KAFKA_SSL_KEY_PASSWORD_FILE", "hunter2")));
    assert!(e.starts_with("KAFKA_SSL_KEY_PASSWORD_FILE does not open the key in KAFKA_SSL_KEY_LOCATION "), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn a_plain_key_with_a_password_set_is_a_mistake_worth_a_line() {
    // The unencrypted PKCS#8 key of the fixtures, as PEM.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(KEY);
    let plain =
        Scratch::new("plain", format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n").as_bytes());
    let f = TlsFiles { key: Some(("KAFKA_SSL_KEY_LOCATION".into(), plain.0.clone())), ..pem("x", None) };
    assert!(identity(&f, &provider()).unwrap().is_some());
    let f = TlsFiles { key_password: password("KAFKA_SSL_KEY_PASSWORD", "pw"), ..f };
    let e = err(&f);
    assert!(e.contains("KAFKA_SSL_KEY_PASSWORD is set, but the key in KAFKA_SSL_KEY_LOCATION"), "{e}");
}

#[test]
fn a_traditional_encrypted_key_is_refused_with_the_conversion() {
    let text = "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END EC PRIVATE KEY-----\n";
    let file = Scratch::new("traditional", text.as_bytes());
    let f = TlsFiles { key: Some(("KAFKA_SSL_KEY_LOCATION".into(), file.0.clone())), ..pem("x", None) };
    let e = err(&f);
    assert!(e.contains("Proc-Type: 4,ENCRYPTED") && e.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc -in "), "{e}");
}

#[test]
fn a_store_where_pem_is_expected_names_the_setting_to_use() {
    let f = pem("openssl.p12", None);
    let e = err(&f);
    assert!(e.contains("binary DER (a PKCS#12 store? then set KAFKA_SSL_KEYSTORE_LOCATION), not PEM"), "{e}");
    let f = TlsFiles { ca: Some(("KAFKA_SSL_CA_LOCATION".into(), fixture("store.jks"))), ..files() };
    let e = trust(&f).unwrap_err();
    assert!(e.contains("a Java keystore, not PEM") && e.contains("KAFKA_SSL_TRUSTSTORE_LOCATION"), "{e}");
}

#[test]
fn a_keystore_gives_the_key_and_its_chain_leaf_first() {
    for (file, pw) in [("java.p12", "java-pw"), ("openssl.p12", "store-pw"), ("legacy.p12", "store-pw")] {
        let certified = identity(&keystore(file, password("KAFKA_SSL_KEYSTORE_PASSWORD", pw)), &provider())
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .unwrap();
        let subjects: Vec<String> = certified
            .cert
            .iter()
            .map(|c| super::super::x509::name_cn(Cert::parse(c).unwrap().subject).unwrap().to_string())
            .collect();
        assert_eq!(subjects, ["fixture-client", "fixture-ca"], "{file}");
    }
}

#[test]
fn keystore_errors_name_the_setting_and_the_remedy() {
    let e = err(&keystore("java.p12", None));
    assert!(e.ends_with("set KAFKA_SSL_KEYSTORE_PASSWORD or KAFKA_SSL_KEYSTORE_PASSWORD_FILE"), "{e}");
    let e = err(&keystore("java.p12", password("KAFKA_SSL_KEYSTORE_PASSWORD", "hunter2")));
    assert!(e.contains(": KAFKA_SSL_KEYSTORE_PASSWORD does not open it (wrong password"), "{e}");
    assert!(!e.contains("hunter2"));
    let e = err(&keystore("store.jks", password("KAFKA_SSL_KEYSTORE_PASSWORD", "jks-pw")));
    assert!(
        e.contains(
            "a JKS store (Java's own format), not PKCS#12: convert it once with `keytool -importkeystore -srckeystore "
        ),
        "{e}"
    );
    assert!(e.contains("-deststoretype PKCS12` and set KAFKA_SSL_KEYSTORE_LOCATION to the .p12 file"), "{e}");
    let e = err(&keystore("trust.p12", password("KAFKA_SSL_KEYSTORE_PASSWORD", "trust-pw")));
    assert!(e.contains("holds no private key (a truststore?"), "{e}");
    let f = TlsFiles {
        key_password: password("KAFKA_SSL_KEY_PASSWORD", "other"),
        ..keystore("java.p12", password("KAFKA_SSL_KEYSTORE_PASSWORD", "java-pw"))
    };
    assert!(err(&f).contains("KAFKA_SSL_KEY_PASSWORD does not open the private key in it"));
}

#[test]
fn a_truststore_gives_the_cas_and_a_keystore_there_is_named() {
    let store = |file: &str, pw: &str| TlsFiles {
        truststore: Some(StoreFile {
            name: "KAFKA_SSL_TRUSTSTORE_LOCATION".into(),
            path: fixture(file),
            password: password("KAFKA_SSL_TRUSTSTORE_PASSWORD", pw),
        }),
        ..files()
    };
    assert_eq!(trust(&store("trust.p12", "trust-pw")).unwrap().unwrap().len(), 1);
    // A keystore's chain certificate (the CA) is trusted, as Java's PKCS12 trusts it: only the
    // key's own certificate is not. A store with only a key and its own certificate has none.
    assert_eq!(trust(&store("openssl.p12", "store-pw")).unwrap().unwrap().len(), 1);
    let keyonly = TlsFiles {
        truststore: Some(StoreFile {
            name: "KAFKA_SSL_TRUSTSTORE_LOCATION".into(),
            path: fixture("plain.p12"),
            password: None,
        }),
        ..files()
    };
    let e = trust(&keyonly).unwrap_err();
    assert!(e.ends_with("holds no certificate to trust (only a key and its chain: is it a keystore?)"), "{e}");
    assert!(trust(&files()).unwrap().is_none());
}

#[test]
fn pem_sections_are_found_and_checked() {
    let text = "junk\n-----BEGIN X-----\nAAEC\nAw==\n-----END X-----\n";
    assert_eq!(pem_section(text, "X").unwrap().unwrap(), [0, 1, 2, 3]);
    assert!(pem_section(text, "Y").is_none());
    assert!(pem_section("-----BEGIN X-----\nAAEC\n", "X").unwrap().unwrap_err().contains("no END line"));
    assert!(pem_section("-----BEGIN X-----\n!!\n-----END X-----", "X").unwrap().unwrap_err().contains("not base64"));
}
