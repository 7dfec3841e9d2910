//! The security settings: protocol, SASL credentials, TLS files. Named like the Kafka client
//! properties of a provider's librdkafka/kcat snippet (`security.protocol` →
//! `KAFKA_SECURITY_PROTOCOL`). Files are read and checked for presence here; their PEM content
//! is checked where TLS is set up (`kafka::tls`), still before anything connects.

use std::path::PathBuf;

use super::{ConfigError, Raw, Sources};
use crate::kafka::settings::{Crypto, Mechanism, Protocol, Sasl, Secret, Security, StoreFile, TlsFiles};

pub(super) fn parse(s: &Sources) -> Result<Security, ConfigError> {
    let protocol_raw = s.get("security-protocol");
    let protocol = match protocol_raw.value.to_ascii_uppercase().as_str() {
        "PLAINTEXT" => Protocol::Plaintext,
        "SSL" => Protocol::Ssl,
        "SASL_PLAINTEXT" => Protocol::SaslPlaintext,
        "SASL_SSL" => Protocol::SaslSsl,
        _ => return Err(protocol_raw.invalid("PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")),
    };
    let sasl = if protocol.sasl() { Some(sasl(s, protocol)?) } else { None };
    let tls = if protocol.tls() {
        let endpoint = s.get("ssl-endpoint-identification");
        let verify_hostname = match endpoint.value.to_ascii_lowercase().as_str() {
            "https" => true,
            "none" => false,
            _ => return Err(endpoint.invalid("`https` (check the broker's name) or `none`")),
        };
        let (certificate, key) = (file(s.get("ssl-certificate-location"), PEM)?, file(s.get("ssl-key-location"), PEM)?);
        if certificate.is_some() != key.is_some() {
            return Err(ConfigError::Conflict(
                "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together (mutual TLS needs the \
                 client certificate and its key): set both or neither"
                    .into(),
            ));
        }
        let keystore = store(s, "ssl-keystore")?;
        let truststore = store(s, "ssl-truststore")?;
        let ca = file(s.get("ssl-ca-location"), PEM)?;
        let key_password = secret(s, "ssl-key-password")?;
        one_way(s, "ssl-ca-location", "ssl-truststore-location", "the CAs to trust")?;
        one_way(s, "ssl-certificate-location", "ssl-keystore-location", "the client's certificate and key")?;
        if key_password.is_some() && key.is_none() && keystore.is_none() {
            return Err(ConfigError::Conflict(format!(
                "{} is set, but there is no key to open: it goes with KAFKA_SSL_KEY_LOCATION or \
                 KAFKA_SSL_KEYSTORE_LOCATION",
                key_password.as_ref().map_or("", |(name, _)| name.as_str())
            )));
        }
        let crypto_raw = s.get("ssl-provider");
        let crypto = match crypto_raw.value.to_ascii_lowercase().as_str() {
            "auto" => Crypto::Auto,
            "graviola" => Crypto::Graviola,
            "portable" => Crypto::Portable,
            _ => return Err(crypto_raw.invalid("auto, graviola or portable")),
        };
        Some(TlsFiles { ca, truststore, certificate, key, keystore, key_password, verify_hostname, crypto })
    } else {
        None
    };
    // Settings that this protocol would silently ignore are a mistake worth a line.
    let unused: Vec<&str> = [
        ("sasl-mechanism", !protocol.sasl()),
        ("sasl-username", !protocol.sasl()),
        ("sasl-password", !protocol.sasl()),
        ("sasl-password-file", !protocol.sasl()),
        ("ssl-ca-location", !protocol.tls()),
        ("ssl-certificate-location", !protocol.tls()),
        ("ssl-key-location", !protocol.tls()),
        ("ssl-key-password", !protocol.tls()),
        ("ssl-key-password-file", !protocol.tls()),
        ("ssl-keystore-location", !protocol.tls()),
        ("ssl-keystore-password", !protocol.tls()),
        ("ssl-keystore-password-file", !protocol.tls()),
        ("ssl-truststore-location", !protocol.tls()),
        ("ssl-truststore-password", !protocol.tls()),
        ("ssl-truststore-password-file", !protocol.tls()),
        ("ssl-provider", !protocol.tls()),
    ]
    .iter()
    .filter(|(flag, unused)| *unused && s.get(flag).explicit)
    .map(|(flag, _)| s.get(flag).name.as_str())
    .collect();
    if !unused.is_empty() {
        return Err(ConfigError::Conflict(format!(
            "{} set, but {} is {}: set it to {} or remove the setting",
            unused.join(", "),
            protocol_raw.name,
            protocol.name(),
            if unused.iter().any(|n| n.contains("SASL") || n.contains("sasl")) {
                "SASL_SSL or SASL_PLAINTEXT"
            } else {
                "SSL or SASL_SSL"
            }
        )));
    }
    Ok(Security { protocol, sasl, tls })
}

fn sasl(s: &Sources, protocol: Protocol) -> Result<Sasl, ConfigError> {
    let mechanism_raw = s.get("sasl-mechanism");
    let mechanism = match mechanism_raw.value.to_ascii_uppercase().as_str() {
        "" | "PLAIN" => Mechanism::Plain,
        "SCRAM-SHA-256" => Mechanism::ScramSha256,
        "SCRAM-SHA-512" => Mechanism::ScramSha512,
        _ => return Err(mechanism_raw.invalid("PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")),
    };
    let user = s.get("sasl-username");
    if user.value.is_empty() {
        return Err(ConfigError::Conflict(format!(
            "KAFKA_SECURITY_PROTOCOL={} needs a user name: set KAFKA_SASL_USERNAME",
            protocol.name()
        )));
    }
    let Some((_, password)) = secret(s, "sasl-password")? else {
        return Err(ConfigError::Conflict(format!(
            "KAFKA_SECURITY_PROTOCOL={} needs a password: set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE",
            protocol.name()
        )));
    };
    if password.expose().is_empty() {
        return Err(ConfigError::Conflict("the SASL password is empty".into()));
    }
    Ok(Sasl { mechanism, username: user.value.clone(), password })
}

/// A password given as `<flag>` or in the file `<flag>-file` (Docker and Kubernetes secrets; a
/// trailing newline is not part of it): with the setting that gave it, or `None` when neither
/// is set.
fn secret(s: &Sources, flag: &str) -> Result<Option<(String, Secret)>, ConfigError> {
    let (value, file_raw) = (s.get(flag), s.get(&format!("{flag}-file")));
    match (value.explicit, file_raw.is_unset()) {
        (true, false) => Err(ConfigError::Conflict(format!(
            "{} and {} are both set: give the password one way",
            value.name, file_raw.name
        ))),
        (true, true) => Ok(Some((value.name.clone(), Secret::from(value.value.clone())))),
        (false, false) => {
            let text = std::fs::read_to_string(&file_raw.value).map_err(|e| ConfigError::Invalid {
                name: file_raw.name.clone(),
                value: file_raw.value.clone(),
                expected: format!("a readable file holding the password ({e})"),
            })?;
            let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
            Ok(Some((file_raw.name.clone(), Secret::from(text.to_string()))))
        }
        (false, true) => Ok(None),
    }
}

/// A PKCS#12 store `<prefix>-location` with its password `<prefix>-password(-file)`.
fn store(s: &Sources, prefix: &str) -> Result<Option<StoreFile>, ConfigError> {
    let password = secret(s, &format!("{prefix}-password"))?;
    match file(s.get(&format!("{prefix}-location")), "PKCS#12")? {
        Some((name, path)) => Ok(Some(StoreFile { name, path, password })),
        None => match password {
            Some((name, _)) => Err(ConfigError::Conflict(format!(
                "{name} is set, but {} is not: set the store's location too, or remove the password",
                s.get(&format!("{prefix}-location")).name
            ))),
            None => Ok(None),
        },
    }
}

/// Two settings that give the same thing two ways: at most one may be set.
fn one_way(s: &Sources, a: &str, b: &str, what: &str) -> Result<(), ConfigError> {
    let (a, b) = (s.get(a), s.get(b));
    if !a.is_unset() && !b.is_unset() {
        return Err(ConfigError::Conflict(format!(
            "{} and {} are both set: give {what} one way (PEM files or a PKCS#12 store)",
            a.name, b.name
        )));
    }
    Ok(())
}

const PEM: &str = "PEM";

/// A file setting: unset, or a path that exists and is readable.
fn file(raw: &Raw, kind: &str) -> Result<Option<(String, PathBuf)>, ConfigError> {
    if raw.is_unset() {
        return Ok(None);
    }
    match std::fs::File::open(&raw.value) {
        Ok(_) => Ok(Some((raw.name.clone(), PathBuf::from(&raw.value)))),
        Err(e) => Err(raw.invalid(format!("a readable {kind} file ({e})"))),
    }
}
