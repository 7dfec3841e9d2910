//! The broker's certificate: webpki first; where webpki refuses only what OpenSSL and Java
//! accept — an X.509 v1 certificate (the Kafka docs' `openssl x509 -req` recipe), or no
//! subjectAltName — the same checks again here, none weaker: the chain to a configured CA
//! (signatures with the crypto provider's algorithms, validity dates, every intermediate a
//! version 3 CA), the purpose, no unknown critical extension, and the host name against the
//! subjectAltName or, only when there is none, the commonName (RFC 6125 6.4.4, as Java's
//! `HostnameChecker` and OpenSSL do). `KAFKA_SSL_ENDPOINT_IDENTIFICATION=none` skips only the
//! name.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, TrustAnchor, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};

use super::der::{self, Der};
use super::x509::{Cert, utc_text};

/// Most intermediates between a certificate and its CA.
const MAX_DEPTH: usize = 6;

#[derive(Debug)]
pub struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    anchors: Vec<TrustAnchor<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
    verify_hostname: bool,
}

/// A certificate problem webpki has no variant for, in words.
#[derive(Debug)]
pub struct Words(pub String);

impl std::fmt::Display for Words {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Words {}

pub fn words(text: String) -> CertificateError {
    CertificateError::Other(OtherError(Arc::new(Words(text))))
}

impl Verifier {
    pub fn new(
        webpki: Arc<WebPkiServerVerifier>,
        anchors: Vec<TrustAnchor<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
        verify_hostname: bool,
    ) -> Verifier {
        Verifier { webpki, anchors, algorithms, verify_hostname }
    }

    /// The checks webpki would make, for a chain it refused by version or for want of a
    /// subjectAltName.
    fn fallback(
        &self,
        leaf: &Cert<'_>,
        inters: &[Cert<'_>],
        name: &ServerName<'_>,
        now: i64,
    ) -> Result<(), CertificateError> {
        valid_at(leaf, now)?;
        if let Some(oid) = leaf.unknown_critical {
            return Err(words(format!("has a critical extension pos-producer does not know ({})", der::oid_text(oid))));
        }
        if !leaf.server_auth {
            return Err(CertificateError::InvalidPurpose);
        }
        self.chain(leaf, inters, now, 0)?;
        if self.verify_hostname {
            name_matches(leaf, name)?;
        }
        Ok(())
    }

    /// Whether `cert` leads to a trust anchor, through `inters`.
    fn chain(&self, cert: &Cert<'_>, inters: &[Cert<'_>], now: i64, depth: usize) -> Result<(), CertificateError> {
        let mut last = CertificateError::UnknownIssuer;
        for anchor in self.anchors.iter().filter(|a| a.subject.as_ref() == cert.issuer) {
            match signed_by(&self.algorithms, cert, anchor.subject_public_key_info.as_ref()) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        if depth >= MAX_DEPTH {
            return Err(last);
        }
        for issuer in inters.iter().filter(|i| i.subject == cert.issuer && i.tbs != cert.tbs) {
            if !issuer.may_sign_certificates() {
                let who = issuer.common_name().unwrap_or("without a name");
                last = words(if issuer.version < 3 {
                    format!(
                        "names as its issuer an X.509 v{} certificate ({who}), which cannot be a CA (a CA needs \
                         version 3 with basicConstraints CA:TRUE)",
                        issuer.version
                    )
                } else {
                    format!("names as its issuer a certificate ({who}) that is not a CA")
                });
                continue;
            }
            if let Err(e) = signed_by(&self.algorithms, cert, issuer.spki_contents) {
                last = e;
                continue;
            }
            valid_at(issuer, now)?;
            match self.chain(issuer, inters, now, depth + 1) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Whether `cert` carries a signature of the key in `spki` (SubjectPublicKeyInfo contents),
/// by an algorithm of the crypto provider that fits both.
fn signed_by(algorithms: &WebPkiSupportedAlgorithms, cert: &Cert<'_>, spki: &[u8]) -> Result<(), CertificateError> {
    let mut d = Der::new(spki);
    let (Ok(key_alg), Ok(key)) = (d.value(der::SEQUENCE), d.bits()) else {
        return Err(CertificateError::BadEncoding);
    };
    let alg = algorithms
        .all
        .iter()
        .find(|a| a.signature_alg_id().as_ref() == cert.signature_alg && a.public_key_alg_id().as_ref() == key_alg)
        .ok_or_else(unsupported_algorithm)?;
    alg.verify_signature(key, cert.tbs, cert.signature).map_err(|_| CertificateError::BadSignature)
}

fn unsupported_algorithm() -> CertificateError {
    words(
        "is signed with an algorithm pos-producer does not support (RSA PKCS#1 or PSS, or ECDSA P-256/P-384, with \
         SHA-2), or one that does not fit its issuer's key"
            .into(),
    )
}

fn valid_at(cert: &Cert<'_>, now: i64) -> Result<(), CertificateError> {
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.max(0) as u64));
    let at = |secs: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs.max(0) as u64));
    if now < cert.not_before {
        return Err(CertificateError::NotValidYetContext { time, not_before: at(cert.not_before) });
    }
    if now > cert.not_after {
        return Err(CertificateError::ExpiredContext { time, not_after: at(cert.not_after) });
    }
    Ok(())
}

/// The host name against the subjectAltName, or the commonName when there is none; an IP
/// address only against the subjectAltName's addresses.
fn name_matches(leaf: &Cert<'_>, name: &ServerName<'_>) -> Result<(), CertificateError> {
    let presented: Vec<String> = match &leaf.san {
        Some(san) => san
            .dns
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .chain(san.ip.iter().map(|ip| ip_text(ip)))
            .collect(),
        None => leaf.common_name().map(|cn| format!("CN={cn}")).into_iter().collect(),
    };
    let ok = match name {
        ServerName::DnsName(host) => {
            let host = host.as_ref().trim_end_matches('.');
            match &leaf.san {
                Some(san) => san.dns.iter().any(|d| dns_matches(&String::from_utf8_lossy(d), host)),
                None => leaf.common_name().is_some_and(|cn| dns_matches(cn, host)),
            }
        }
        ServerName::IpAddress(ip) => {
            let bytes: Vec<u8> = match ip {
                rustls::pki_types::IpAddr::V4(v4) => v4.as_ref().to_vec(),
                rustls::pki_types::IpAddr::V6(v6) => v6.as_ref().to_vec(),
            };
            leaf.san.as_ref().is_some_and(|san| san.ip.iter().any(|a| *a == bytes))
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(CertificateError::NotValidForNameContext { expected: name.to_owned(), presented }) }
}

/// A presented DNS name (`*.` wildcard in the leftmost label only) against a host name.
fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(first, rest)| {
            !first.is_empty() && rest.eq_ignore_ascii_case(suffix) && suffix.contains('.')
        }),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

fn ip_text(ip: &[u8]) -> String {
    match ip.len() {
        4 => format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(ip).expect("16 bytes")).to_string(),
        _ => "an IP address of bad length".into(),
    }
}

fn is_name_error(e: &Error) -> bool {
    matches!(
        e,
        Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })
    )
}

/// The certificate, parsed, if webpki refuses it for its version (X.509 v1 or v2).
fn old_version<'a>(cert: &'a CertificateDer<'_>) -> Option<Cert<'a>> {
    Cert::parse(cert).ok().filter(|c| c.version < 3)
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let first = self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        let e = match first {
            Ok(v) => return Ok(v),
            // webpki checks the chain first and the name last: a name error means the chain is good.
            Err(e) if is_name_error(&e) && !self.verify_hostname => return Ok(ServerCertVerified::assertion()),
            Err(e) => e,
        };
        let Ok(leaf) = Cert::parse(end_entity) else { return Err(e) };
        let inters: Vec<Cert<'_>> = intermediates.iter().filter_map(|c| Cert::parse(c).ok()).collect();
        let refused_version = leaf.version < 3 || inters.iter().any(|c| c.version < 3);
        let no_san = is_name_error(&e) && leaf.san.is_none();
        if !refused_version && !no_san {
            return Err(e);
        }
        self.fallback(&leaf, &inters, server_name, now.as_secs() as i64)
            .map(|()| ServerCertVerified::assertion())
            .map_err(Error::InvalidCertificate)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let Some(leaf) = old_version(cert) else {
            return self.webpki.verify_tls12_signature(message, cert, dss);
        };
        // As rustls does for TLS 1.2: every algorithm of the scheme whose key type fits.
        let candidates = self.algorithms.mapping.iter().find(|(s, _)| *s == dss.scheme).map(|(_, algs)| *algs);
        let alg = candidates
            .unwrap_or_default()
            .iter()
            .find(|a| a.public_key_alg_id().as_ref() == leaf.key_alg)
            .ok_or_else(|| Error::InvalidCertificate(unsupported_algorithm()))?;
        alg.verify_signature(leaf.key, message, dss.signature())
            .map(|()| HandshakeSignatureValid::assertion())
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let Some(leaf) = old_version(cert) else {
            return self.webpki.verify_tls13_signature(message, cert, dss);
        };
        let spki = SubjectPublicKeyInfoDer::from(leaf.spki);
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What a certificate error means, in words (after "its certificate "), with the remedy.
#[allow(deprecated)] // the unit variants still come from older paths of rustls
pub fn explain(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => "is not signed by a trusted CA".into(),
        CertificateError::BadSignature => {
            "carries a signature that does not verify (altered, or not made by the CA it names)".into()
        }
        CertificateError::ExpiredContext { time, not_after } => format!(
            "expired on {} (it is now {}): renew it, or check this host's clock",
            utc_text(not_after.as_secs() as i64),
            utc_text(time.as_secs() as i64)
        ),
        CertificateError::Expired => "has expired".into(),
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "is not valid before {} (it is now {}): check this host's clock",
            utc_text(not_before.as_secs() as i64),
            utc_text(time.as_secs() as i64)
        ),
        CertificateError::NotValidYet => "is not valid yet".into(),
        CertificateError::NotValidForNameContext { expected, presented } => format!(
            "is for {}, not {} (connect by a name it carries, or KAFKA_SSL_ENDPOINT_IDENTIFICATION=none)",
            if presented.is_empty() { "no name at all".to_string() } else { presented.join(", ") },
            expected.to_str()
        ),
        CertificateError::NotValidForName => {
            "does not name this host (connect by a name it carries, or KAFKA_SSL_ENDPOINT_IDENTIFICATION=none)".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "is not for a TLS server (its extendedKeyUsage lacks serverAuth)".into()
        }
        CertificateError::UnsupportedSignatureAlgorithm
        | CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
            "is signed with an algorithm pos-producer does not support (RSA PKCS#1 or PSS, or ECDSA P-256/P-384, with \
             SHA-2)"
                .into()
        }
        CertificateError::BadEncoding => "is not a well-formed X.509 certificate".into(),
        CertificateError::Revoked => "has been revoked".into(),
        CertificateError::Other(OtherError(inner)) => match inner.downcast_ref::<Words>() {
            Some(Words(text)) => text.clone(),
            None => format!("is not valid: {inner}"),
        },
        other => format!("is not valid ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_leftmost_label() {
        assert!(dns_matches("*.example.com", "kafka.example.com"));
        assert!(dns_matches("Kafka.Example.com.", "kafka.example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(!dns_matches("*.com", "example.com"));
        assert!(!dns_matches("localhost", "otherhost"));
    }
}
