//! The portable provider against graviola, in memory: every suite with every key exchange and
//! every kind of server key, TLS 1.2 and 1.3, mutual TLS with RSA and ECDSA client keys, data
//! both ways across many records; an altered record is refused.

use std::io::{Read, Write};

use rustls::crypto::SupportedKxGroup;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConnection, RootCertStore, ServerConfig, ServerConnection};

use super::*;

const CA: &[u8] = include_bytes!("fixtures/ca.pem");
const SERVERS: [(&str, &[u8], &[u8]); 3] = [
    ("RSA", include_bytes!("fixtures/server-rsa.pem"), include_bytes!("fixtures/server-rsa.key")),
    ("P-256", include_bytes!("fixtures/server-p256.pem"), include_bytes!("fixtures/server-p256.key")),
    ("P-384", include_bytes!("fixtures/server-p384.pem"), include_bytes!("fixtures/server-p384.key")),
];
const CLIENTS: [(&str, &[u8], &[u8]); 2] = [
    ("RSA", include_bytes!("fixtures/client-rsa.pem"), include_bytes!("fixtures/client-rsa.key")),
    ("P-384", include_bytes!("fixtures/client-p384.pem"), include_bytes!("fixtures/client-p384.key")),
];

fn certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem).map(|c| c.unwrap()).collect()
}

fn key(pem: &[u8]) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(pem).unwrap()
}

fn roots() -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs(CA));
    Arc::new(roots)
}

fn graviola() -> Arc<CryptoProvider> {
    Arc::new(rustls_graviola::default_provider())
}

fn server(cert: &[u8], key_pem: &[u8], client_auth: bool) -> ServerConnection {
    server_with(graviola(), cert, key_pem, client_auth)
}

fn server_with(provider: Arc<CryptoProvider>, cert: &[u8], key_pem: &[u8], client_auth: bool) -> ServerConnection {
    let builder = ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions().unwrap();
    let builder = if client_auth {
        builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots(), graviola()).build().unwrap(),
        )
    } else {
        builder.with_no_client_auth()
    };
    ServerConnection::new(Arc::new(builder.with_single_cert(certs(cert), key(key_pem)).unwrap())).unwrap()
}

fn client(provider: CryptoProvider, identity: Option<(&[u8], &[u8])>) -> ClientConnection {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots());
    let config = match identity {
        Some((cert, key_pem)) => builder.with_client_auth_cert(certs(cert), key(key_pem)).unwrap(),
        None => builder.with_no_client_auth(),
    };
    ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap()
}

/// What one side has to send, as TLS bytes.
fn outgoing(conn: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

fn deliver(
    bytes: &[u8],
    conn: &mut impl std::ops::DerefMut<Target = rustls::ConnectionCommon<impl Sized>>,
) -> Result<(), rustls::Error> {
    let mut rest = bytes;
    while !rest.is_empty() {
        conn.read_tls(&mut rest).unwrap();
        conn.process_new_packets()?;
    }
    Ok(())
}

/// Moves bytes both ways until neither side has more to say.
fn pump(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), rustls::Error> {
    for _ in 0..32 {
        let to_server = outgoing(c);
        deliver(&to_server, s)?;
        let to_client = outgoing(s);
        deliver(&to_client, c)?;
        if to_server.is_empty() && to_client.is_empty() && !c.is_handshaking() && !s.is_handshaking() {
            return Ok(());
        }
    }
    panic!("the handshake makes no progress");
}

/// 10 KB each way, four times (many records, sequence numbers counting up), read back whole.
fn exchange(c: &mut ClientConnection, s: &mut ServerConnection) {
    for round in 0..4u32 {
        let up: Vec<u8> = (0..10_000u32).map(|i| ((i + round) % 251) as u8).collect();
        let down: Vec<u8> = up.iter().rev().copied().collect();
        c.writer().write_all(&up).unwrap();
        pump(c, s).unwrap();
        let mut got = vec![0u8; up.len()];
        s.reader().read_exact(&mut got).unwrap();
        assert_eq!(got, up);
        s.writer().write_all(&down).unwrap();
        pump(c, s).unwrap();
        c.reader().read_exact(&mut got).unwrap();
        assert_eq!(got, down);
    }
}

fn only(suite: SupportedCipherSuite, group: &'static dyn SupportedKxGroup, aes_first: bool) -> CryptoProvider {
    CryptoProvider { cipher_suites: vec![suite], kx_groups: vec![group], ..provider(aes_first) }
}

/// Whether a TLS 1.2 suite can be used with a server key of `kind`.
fn fits(suite: SupportedCipherSuite, kind: &str) -> bool {
    match suite {
        SupportedCipherSuite::Tls12(s) => s.sign.contains(&SignatureScheme::RSA_PKCS1_SHA256) == (kind == "RSA"),
        SupportedCipherSuite::Tls13(_) => true,
    }
}

#[test]
fn every_suite_group_and_server_key_interoperates_with_graviola() {
    let all = provider(true);
    assert_eq!(all.cipher_suites.len(), 9);
    for &suite in &all.cipher_suites {
        for &group in kx::ALL {
            for (kind, cert, key_pem) in SERVERS {
                if !fits(suite, kind) {
                    continue;
                }
                let what = format!("{:?} {:?} {kind}", suite.suite(), group.name());
                let (mut c, mut s) = (client(only(suite, group, true), None), server(cert, key_pem, false));
                pump(&mut c, &mut s).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(c.negotiated_cipher_suite().map(|s| s.suite()), Some(suite.suite()), "{what}");
                assert_eq!(c.negotiated_key_exchange_group().map(|g| g.name()), Some(group.name()), "{what}");
                exchange(&mut c, &mut s);
            }
        }
    }
}

#[test]
fn chacha20_comes_first_without_aes_instructions() {
    let first = |aes| provider(aes).cipher_suites[0].suite();
    assert_eq!(first(true), CipherSuite::TLS13_AES_256_GCM_SHA384);
    assert_eq!(first(false), CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    // And a server that follows the client's order picks it (graviola's server does, in TLS 1.3).
    let (mut c, mut s) = (client(provider(false), None), server(SERVERS[1].1, SERVERS[1].2, false));
    pump(&mut c, &mut s).unwrap();
    let suite = c.negotiated_cipher_suite().map(|s| s.suite());
    assert_eq!(suite, Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256));
}

#[test]
fn client_keys_sign_for_mutual_tls_in_both_versions() {
    let all = provider(true);
    let tls12 = all.cipher_suites.iter().copied().find(|s| s.version() == &rustls::version::TLS12 && fits(*s, "RSA"));
    let tls13 = all.cipher_suites.iter().copied().find(|s| s.version() == &rustls::version::TLS13);
    for suite in [tls12.unwrap(), tls13.unwrap()] {
        for (kind, cert, key_pem) in CLIENTS {
            let what = format!("{:?} client key {kind}", suite.suite());
            let p = CryptoProvider { cipher_suites: vec![suite], ..provider(true) };
            let (mut c, mut s) = (client(p, Some((cert, key_pem))), server(SERVERS[0].1, SERVERS[0].2, true));
            pump(&mut c, &mut s).unwrap_or_else(|e| panic!("{what}: {e}"));
            let presented = s.peer_certificates().map(|c| c.len());
            assert_eq!(presented, Some(1), "{what}: the server got the client's certificate");
            exchange(&mut c, &mut s);
        }
    }
}

#[test]
fn an_altered_record_is_refused_in_every_suite() {
    for &suite in &provider(true).cipher_suites {
        let (kind, cert, key_pem) = if fits(suite, "RSA") { SERVERS[0] } else { SERVERS[1] };
        let what = format!("{:?} {kind}", suite.suite());
        let (mut c, mut s) = (client(only(suite, kx::ALL[0], true), None), server(cert, key_pem, false));
        pump(&mut c, &mut s).unwrap();
        c.writer().write_all(b"a record to alter").unwrap();
        let mut bytes = outgoing(&mut c);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let err = deliver(&bytes, &mut s).unwrap_err();
        assert_eq!(err, rustls::Error::DecryptError, "{what}");
    }
}

#[test]
fn keys_know_their_public_half_and_unknown_ones_are_refused() {
    for (kind, cert, key_pem) in CLIENTS.iter().chain(SERVERS.iter()) {
        let loaded = sign::load(key(key_pem)).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let spki = crate::kafka::tls::x509::Cert::parse(&certs(cert)[0]).unwrap().spki.to_vec();
        assert_eq!(loaded.public_key().unwrap().as_ref(), &spki[..], "{kind}");
    }
    // An Ed25519 key (PKCS#8): not one this provider signs with.
    let ed25519 = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n";
    let err = sign::load(key(ed25519)).unwrap_err().to_string();
    assert!(err.contains("not an RSA, P-256 or P-384 key"), "{err}");
}

/// `make bench`: handshakes and record protection of each provider, in memory, the provider on
/// both ends (so each figure is a client's and a server's work). Measured, not asserted.
#[test]
#[ignore = "a benchmark: make bench runs it"]
fn bench_tls_providers() {
    use std::time::Instant;
    type Make = fn() -> CryptoProvider;
    let providers: [(&str, Make); 3] = [
        ("graviola", rustls_graviola::default_provider),
        ("portable", || provider(true)),
        ("portable-chacha20", || provider(false)),
    ];
    println!(
        "| provider | suite | handshakes/s (RSA-2048 server key, X25519; both ends) | MB/s client→server (16 KB records; sealed and opened) |"
    );
    println!("|---|---|---|---|");
    for (name, make) in providers {
        let rounds = 200;
        let started = Instant::now();
        let mut suite = None;
        for _ in 0..rounds {
            let mut s = server_with(Arc::new(make()), SERVERS[0].1, SERVERS[0].2, false);
            let mut c = client(make(), None);
            pump(&mut c, &mut s).unwrap();
            suite = c.negotiated_cipher_suite().map(|s| s.suite());
        }
        let per_second = f64::from(rounds) / started.elapsed().as_secs_f64();
        let mut s = server_with(Arc::new(make()), SERVERS[0].1, SERVERS[0].2, false);
        let mut c = client(make(), None);
        pump(&mut c, &mut s).unwrap();
        let chunk = vec![7u8; 16_000];
        let mut sink = vec![0u8; 16_000];
        let total = 64 << 20;
        let started = Instant::now();
        for _ in 0..total / chunk.len() {
            c.writer().write_all(&chunk).unwrap();
            let bytes = outgoing(&mut c);
            deliver(&bytes, &mut s).unwrap();
            s.reader().read_exact(&mut sink).unwrap();
        }
        // Both ends' work: the client seals, the server opens.
        let mb_per_second = total as f64 / 1e6 / started.elapsed().as_secs_f64();
        println!("| {name} | {:?} | {per_second:.0} | {mb_per_second:.0} |", suite.unwrap());
    }
}
