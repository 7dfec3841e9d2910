//! The TLS files, read and checked before anything connects: the CAs to trust (a PEM file or a
//! PKCS#12 truststore) and the client's certificate and key (PEM files, the key plain or
//! encrypted, or a PKCS#12 keystore). Every problem is one line naming the setting and the
//! file, with what to do; a password never appears in one.

use std::path::Path;

use base64::Engine;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

use super::pbe::{self, PbeError};
use super::pkcs12::{self, StoreError};
use super::rsa_primes::larger_prime_first;
use super::x509::Cert;
use crate::kafka::settings::{StoreFile, TlsFiles};

/// Larger than any certificate bundle or key store; a mistaken path (a disk image, a log)
/// is refused before it is read whole.
const MAX_FILE: u64 = 4 << 20;

/// Certificate chains longer than this are not chains.
const MAX_CHAIN: usize = 10;

/// The CA certificates to trust; `None`: none given (the Mozilla roots apply).
pub fn trust(files: &TlsFiles) -> Result<Option<Vec<CertificateDer<'static>>>, String> {
    if let Some((name, path)) = &files.ca {
        return certificates(name, path).map(Some);
    }
    let Some(store) = &files.truststore else { return Ok(None) };
    let opened = open_store(store, "KAFKA_SSL_TRUSTSTORE", None)?;
    let certs: Vec<CertificateDer<'static>> = opened.trusted().map(|c| CertificateDer::from(c.der.clone())).collect();
    if certs.is_empty() {
        return Err(format!(
            "{} {}: holds no certificate to trust{}",
            store.name,
            store.path.display(),
            if opened.keys.is_empty() { "" } else { " (only a key and its chain: is it a keystore?)" }
        ));
    }
    Ok(Some(certs))
}

/// The client's certificate chain and key, checked to belong together; `None`: no mutual TLS.
pub fn identity(files: &TlsFiles, provider: &CryptoProvider) -> Result<Option<CertifiedKey>, String> {
    let key_password = files.key_password.as_ref().map(|(n, p)| (n.as_str(), p.expose()));
    if let Some(store) = &files.keystore {
        let opened = open_store(store, "KAFKA_SSL_KEYSTORE", key_password)?;
        let place = format!("{} {}", store.name, store.path.display());
        let Some(entry) = opened.keys.first() else {
            return Err(format!(
                "{place}: holds no private key (a truststore? that goes in KAFKA_SSL_TRUSTSTORE_LOCATION)"
            ));
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(entry.der.clone()));
        let key = provider
            .key_provider
            .load_private_key(larger_prime_first(key))
            .map_err(|e| format!("{place}: its key cannot be used ({e})"))?;
        let public = key.public_key().map(|k| k.as_ref().to_vec()).unwrap_or_default();
        let certs: Vec<&[u8]> = opened.certs.iter().map(|c| &c.der[..]).collect();
        let Some(leaf) = certs.iter().find(|c| Cert::parse(c).is_ok_and(|c| c.spki == public)) else {
            return Err(format!("{place}: holds a private key but not its certificate"));
        };
        let chain = chain(leaf, &certs).into_iter().map(|c| CertificateDer::from(c.to_vec())).collect();
        return Ok(Some(CertifiedKey::new(chain, key)));
    }
    let (Some((cert_name, cert_path)), Some((key_name, key_path))) = (&files.certificate, &files.key) else {
        return Ok(None);
    };
    let chain = certificates(cert_name, cert_path)?;
    let key = private_key(key_name, key_path, key_password)?;
    let key = provider
        .key_provider
        .load_private_key(larger_prime_first(key))
        .map_err(|e| format!("{key_name} {}: the key cannot be used ({e})", key_path.display()))?;
    // rustls's own check parses the certificate with webpki, which refuses an X.509 v1 one;
    // the broker judges the certificate, this checks only the pair.
    let fits = Cert::parse(&chain[0])
        .map_err(|e| format!("{cert_name} {}: not an X.509 certificate ({e})", cert_path.display()))?
        .spki
        == key.public_key().as_ref().map_or(&[][..], |k| k.as_ref());
    if !fits {
        return Err(format!(
            "{key_name} {} does not fit {cert_name} {}: the key is not the one the certificate names (the first \
             certificate in the file must be the client's own)",
            key_path.display(),
            cert_path.display()
        ));
    }
    Ok(Some(CertifiedKey::new(chain, key)))
}

/// `leaf` and then, from `certs`, the issuer of each in turn (a store keeps the chain as loose
/// certificates), up to a self-signed one.
fn chain<'a>(leaf: &'a [u8], certs: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut chain = vec![leaf];
    while chain.len() < MAX_CHAIN {
        let Ok(last) = Cert::parse(chain[chain.len() - 1]) else { break };
        if last.issuer == last.subject {
            break;
        }
        let issuer =
            certs.iter().find(|c| !chain.contains(c) && Cert::parse(c).is_ok_and(|c| c.subject == last.issuer));
        match issuer {
            Some(c) => chain.push(c),
            None => break,
        }
    }
    chain
}

fn read(name: &str, path: &Path) -> Result<Vec<u8>, String> {
    let place = || format!("{name} {}", path.display());
    let size = std::fs::metadata(path).map_err(|e| format!("{}: {e}", place()))?.len();
    if size > MAX_FILE {
        return Err(format!("{}: {size} bytes, more than any certificate or key file (at most {MAX_FILE})", place()));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", place()))
}

/// What a binary file given where PEM is expected probably is, and where it goes instead.
fn not_pem(bytes: &[u8], instead: &str) -> Option<String> {
    match bytes {
        [0xfe, 0xed, 0xfe, 0xed, ..] | [0xce, 0xce, 0xce, 0xce, ..] => Some(format!(
            "a Java keystore, not PEM (convert it to PKCS#12 with `keytool -importkeystore` and set {instead})"
        )),
        [0x30, ..] => Some(format!("binary DER (a PKCS#12 store? then set {instead}), not PEM")),
        _ => None,
    }
}

fn certificates(name: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(name, path)?;
    let instead = if name.contains("CA") || name.contains("ca-") {
        "KAFKA_SSL_TRUSTSTORE_LOCATION"
    } else {
        "KAFKA_SSL_KEYSTORE_LOCATION"
    };
    if let Some(what) = not_pem(&bytes, instead) {
        return Err(format!("{name} {}: {what}", path.display()));
    }
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
    let certs = certs.map_err(|e| format!("{name} {}: not PEM certificates ({e})", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{name} {}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// A PEM key: PKCS#8, PKCS#1 or SEC1, or an encrypted PKCS#8 one opened with `password`.
fn private_key(name: &str, path: &Path, password: Option<(&str, &str)>) -> Result<PrivateKeyDer<'static>, String> {
    let place = format!("{name} {}", path.display());
    let bytes = read(name, path)?;
    if let Some(what) = not_pem(&bytes, "KAFKA_SSL_KEYSTORE_LOCATION") {
        return Err(format!("{place}: {what}"));
    }
    let text = String::from_utf8_lossy(&bytes);
    if let Some(encrypted) = pem_section(&text, "ENCRYPTED PRIVATE KEY") {
        let encrypted = encrypted.map_err(|e| format!("{place}: {e}"))?;
        let Some((password_name, password)) = password else {
            return Err(format!(
                "{place}: the key is encrypted: set KAFKA_SSL_KEY_PASSWORD or KAFKA_SSL_KEY_PASSWORD_FILE"
            ));
        };
        return match pbe::decrypt_key(&encrypted, password) {
            Ok(der) => Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))),
            Err(PbeError::WrongPassword) => Err(format!("{password_name} does not open the key in {place}")),
            Err(e) => Err(format!("{place}: the encrypted key cannot be read: {e}")),
        };
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{place}: an OpenSSL \"traditional\" encrypted key (Proc-Type: 4,ENCRYPTED), which Java does not read \
             either: convert it once with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in {0} -out {0}.p8` and use that",
            path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| format!("{place}: no private key read ({e})"))?;
    if let Some((password_name, _)) = password {
        return Err(format!(
            "{password_name} is set, but the key in {place} is not encrypted: remove the password setting"
        ));
    }
    Ok(key)
}

/// The bytes of the first PEM section labelled `label`, if there is one.
fn pem_section(text: &str, label: &str) -> Option<Result<Vec<u8>, String>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let Some(len) = text[start..].find(&end) else {
        return Some(Err(format!("its {label} has no END line")));
    };
    let body: String = text[start..start + len].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Some(base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| format!("its {label} is not base64 ({e})")))
}

/// Opens a store (`env`: the prefix of its settings), every error in words with the remedy.
fn open_store(store: &StoreFile, env: &str, key_password: Option<(&str, &str)>) -> Result<pkcs12::Store, String> {
    let bytes = read(&store.name, &store.path)?;
    let password = store.password.as_ref().map(|(_, p)| p.expose());
    let place = format!("{} {}", store.name, store.path.display());
    pkcs12::open(&bytes, password, key_password.map(|(_, p)| p)).map_err(|e| match e {
        StoreError::Java(_) => format!(
            "{place}: {e}: convert it once with `keytool -importkeystore -srckeystore {0} -destkeystore {0}.p12 \
             -deststoretype PKCS12` and set {env}_LOCATION to the .p12 file",
            store.path.display(),
        ),
        StoreError::NeedsPassword => format!("{place}: {e}: set {env}_PASSWORD or {env}_PASSWORD_FILE"),
        StoreError::WrongPassword => match &store.password {
            Some((name, _)) => format!("{place}: {name} does not open it (wrong password, or a damaged file)"),
            None => format!("{place}: {e}"),
        },
        StoreError::WrongKeyPassword => {
            format!("{place}: {} does not open the private key in it", key_password.map_or("", |(n, _)| n))
        }
        StoreError::Other(_) => format!("{place}: {e}"),
    })
}

#[cfg(test)]
mod tests;
