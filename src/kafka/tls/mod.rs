//! TLS for broker connections: rustls with a pure-Rust crypto provider (no C compiler for
//! either musl target), the Mozilla roots built in (a `FROM scratch` image has no system
//! store), or the CA file or truststore given; optional client certificate (mutual TLS).
//!
//! Two providers, picked at start (`KAFKA_SSL_PROVIDER`): graviola, fast, with its own
//! assembly, where the CPU has the instructions it needs; else the portable one (`portable/`,
//! RustCrypto), which runs on any x86_64 or aarch64 CPU. graviola asserts the CPU features it
//! needs and, with `panic = "abort"`, a failed assert would kill the process mid-run: it is
//! never used on a CPU that [`check_cpu`] refuses.
//!
//! References: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2); rustls `ClientConfig`, `StreamOwned`.

use std::fmt;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use rustls::sign::SingleCertAndKey;
use rustls::{CertificateError, ClientConfig, ClientConnection, StreamOwned};

mod der;
mod files;
mod pbe;
mod pkcs12;
mod portable;
mod rsa_primes;
mod verify;
mod x509;

use verify::Verifier;

use super::settings::{Crypto, TlsFiles};

/// A TLS stream to one broker.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// The CPU features graviola needs, per architecture (its README and its asserts).
#[cfg(target_arch = "x86_64")]
const NEEDED: &[&str] = &["aes", "pclmulqdq", "avx", "avx2", "bmi1", "adx"];
#[cfg(target_arch = "aarch64")]
const NEEDED: &[&str] = &["aes", "sha2", "pmull"];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const NEEDED: &[&str] = &[];

/// Whether this CPU has every feature graviola needs; else the line that says what is missing
/// and what to do.
fn check_cpu() -> Result<(), String> {
    decide(std::env::consts::ARCH, NEEDED, has_feature)
}

#[cfg(target_arch = "x86_64")]
fn has_feature(name: &str) -> bool {
    match name {
        "aes" => std::arch::is_x86_feature_detected!("aes"),
        "pclmulqdq" => std::arch::is_x86_feature_detected!("pclmulqdq"),
        "avx" => std::arch::is_x86_feature_detected!("avx"),
        "avx2" => std::arch::is_x86_feature_detected!("avx2"),
        "bmi1" => std::arch::is_x86_feature_detected!("bmi1"),
        "adx" => std::arch::is_x86_feature_detected!("adx"),
        _ => false,
    }
}

#[cfg(target_arch = "aarch64")]
fn has_feature(name: &str) -> bool {
    match name {
        "aes" => std::arch::is_aarch64_feature_detected!("aes"),
        "sha2" => std::arch::is_aarch64_feature_detected!("sha2"),
        "pmull" => std::arch::is_aarch64_feature_detected!("pmull"),
        _ => false,
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn has_feature(_: &str) -> bool {
    false
}

/// The decision, apart from the CPU: which of `needed` are missing, as one line.
fn decide(arch: &str, needed: &[&str], has: impl Fn(&str) -> bool) -> Result<(), String> {
    if needed.is_empty() {
        return Err(format!(
            "KAFKA_SSL_PROVIDER=graviola is not available on {arch}: graviola supports x86_64 and aarch64 only; \
             set KAFKA_SSL_PROVIDER=auto (or portable)"
        ));
    }
    let missing: Vec<&str> = needed.iter().copied().filter(|f| !has(f)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "KAFKA_SSL_PROVIDER=graviola needs CPU features this {arch} machine lacks: {} (graviola needs {}); set \
         KAFKA_SSL_PROVIDER=auto (or portable) to use the portable provider, which runs on any CPU",
        missing.join(", "),
        needed.join(", ")
    ))
}

/// Whether this CPU has AES instructions (and the carry-less multiply GCM wants): then AES-GCM
/// comes first, else ChaCha20-Poly1305.
fn has_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes") && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The provider `choice` asks for on this CPU, with its name for the banner.
fn provider(choice: Crypto) -> Result<(Arc<rustls::crypto::CryptoProvider>, &'static str), String> {
    let graviola = || (Arc::new(rustls_graviola::default_provider()), "graviola");
    let portable = || {
        let aes = has_aes();
        (Arc::new(portable::provider(aes)), if aes { "portable" } else { "portable-chacha20" })
    };
    match choice {
        Crypto::Graviola => check_cpu().map(|()| graviola()),
        Crypto::Portable => Ok(portable()),
        Crypto::Auto => Ok(if check_cpu().is_ok() { graviola() } else { portable() }),
    }
}

/// A checked TLS client configuration, shared by every connection.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    crypto: &'static str,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tls { .. }")
    }
}

impl Tls {
    /// Reads and checks the files: every problem is one line naming the setting (exit 2).
    pub fn new(files: &TlsFiles) -> Result<Tls, String> {
        let (provider, crypto) = provider(files.crypto)?;
        let mut roots = rustls::RootCertStore::empty();
        match files::trust(files)? {
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some(certs) => {
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    let (name, path) = match (&files.ca, &files.truststore) {
                        (Some((name, path)), _) => (name.as_str(), path.as_path()),
                        (_, Some(store)) => (store.name.as_str(), store.path.as_path()),
                        _ => ("", Path::new("")),
                    };
                    return Err(format!("{name} {}: no usable CA certificate in it", path.display()));
                }
            }
        }
        let anchors = roots.roots.clone();
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| format!("cannot use the CA certificates: {e}"))?;
        let verifier =
            Verifier::new(webpki, anchors, provider.signature_verification_algorithms, files.verify_hostname);
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup failed: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let config = match files::identity(files, &provider)? {
            Some(certified) => builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified))),
            None => builder.with_no_client_auth(),
        };
        Ok(Tls { config: Arc::new(config), crypto })
    }

    /// The crypto provider in use: `graviola`, `portable` or `portable-chacha20`.
    pub fn crypto(&self) -> &'static str {
        self.crypto
    }

    /// Starts TLS on a connected socket to `host` (the name the certificate must carry). The
    /// handshake itself runs with the first write.
    pub fn wrap(&self, host: &str, tcp: TcpStream) -> Result<TlsStream, String> {
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
            .map_err(|e| format!("{host:?} is not a host name for TLS: {e}"))?;
        let conn = ClientConnection::new(Arc::clone(&self.config), name).map_err(|e| e.to_string())?;
        Ok(StreamOwned::new(conn, tcp))
    }
}

/// Why a TLS connection failed, for a user: the rustls error in words, with what to do.
pub fn explain(e: &rustls::Error) -> String {
    use rustls::{AlertDescription, Error};
    match e {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "its certificate is not signed by a trusted CA: not by a CA in KAFKA_SSL_CA_LOCATION, or among the \
             built-in Mozilla roots when that is not set (set KAFKA_SSL_CA_LOCATION to the CA that signed it)"
                .into()
        }
        Error::InvalidCertificate(
            c @ (CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }),
        ) => format!("its certificate does not name this host: it {}", verify::explain(c)),
        Error::InvalidCertificate(c) => format!("its certificate {}", verify::explain(c)),
        Error::AlertReceived(AlertDescription::CertificateRequired | AlertDescription::BadCertificate) => {
            format!(
                "it refused the handshake ({e}): it requires a client certificate it trusts (set \
                 KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION)"
            )
        }
        Error::InvalidMessage(_) => format!(
            "it does not speak TLS ({e}): is this a plaintext listener? (then KAFKA_SECURITY_PROTOCOL=PLAINTEXT \
             or SASL_PLAINTEXT)"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: &[&str] = &["aes", "pclmulqdq", "avx", "avx2", "bmi1", "adx"];

    #[test]
    fn the_cpu_check_names_every_missing_feature() {
        assert_eq!(decide("x86_64", X86, |_| true), Ok(()));
        let err = decide("x86_64", X86, |f| f != "avx2" && f != "adx").unwrap_err();
        assert!(
            err.starts_with("KAFKA_SSL_PROVIDER=graviola needs CPU features this x86_64 machine lacks: avx2, adx ("),
            "{err}"
        );
        assert!(err.contains("set KAFKA_SSL_PROVIDER=auto (or portable)"), "{err}");
        let err = decide("aarch64", &["aes", "sha2", "pmull"], |f| f != "pmull").unwrap_err();
        assert!(err.contains("lacks: pmull ("), "{err}");
        assert!(decide("riscv64", &[], |_| true).unwrap_err().contains("x86_64 and aarch64 only"));
    }

    #[test]
    fn the_provider_asked_for_is_the_one_used() {
        let name = |c| provider(c).map(|(_, name)| name);
        assert_eq!(name(Crypto::Portable), Ok(if has_aes() { "portable" } else { "portable-chacha20" }));
        // This machine has graviola's features (see below): auto and graviola both pick it.
        assert_eq!(name(Crypto::Auto), Ok("graviola"));
        assert_eq!(name(Crypto::Graviola), Ok("graviola"));
    }

    #[test]
    fn this_machine_passes_the_check() {
        // The tests run TLS for real here, so this machine must have the features.
        assert_eq!(check_cpu(), Ok(()));
    }
}
