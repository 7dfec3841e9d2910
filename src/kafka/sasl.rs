//! SASL authentication of a new connection: SaslHandshake v1, then SaslAuthenticate frames
//! (KIP-152; Kafka 4 removed the older unframed exchange) with PLAIN or SCRAM.
//!
//! References: RFC 4616 (PLAIN), RFC 5802/7677 (SCRAM, see `scram`), KIP-152, KIP-368 (the
//! session lifetime the broker returns, after which it expects re-authentication).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;

use super::connection::{Connection, ConnectionError};
use super::scram::{Algorithm, Scram};
use super::settings::{Mechanism, Sasl};
use super::wire::{SaslAuthenticateResponse, SaslHandshakeResponse};

const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

/// Authenticates `conn` as `sasl.username`. Returns the session lifetime the broker gave, if
/// any (KIP-368). Wrong credentials are an `Auth` error: no retry makes them right.
pub fn authenticate(conn: &mut Connection, sasl: &Sasl) -> Result<Option<Duration>, ConnectionError> {
    let failed = |conn: &Connection, message: String| ConnectionError::Auth {
        addr: conn.addr().to_string(),
        user: sasl.username.clone(),
        mechanism: sasl.mechanism.name(),
        message,
    };
    let unsupported = |conn: &Connection, what: &str| ConnectionError::Unsupported {
        addr: conn.addr().to_string(),
        reason: format!("does not support {what} (KIP-152, Kafka 1.0 or newer), which SASL needs"),
    };
    let version = conn.versions().sasl_handshake.ok_or_else(|| unsupported(conn, "SaslHandshake v1"))?;
    let request = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(sasl.mechanism.name()));
    let answer: SaslHandshakeResponse = conn.call(ApiKey::SaslHandshake, version, &request)?;
    match answer.error_code {
        0 => {}
        UNSUPPORTED_SASL_MECHANISM => {
            return Err(failed(
                conn,
                format!(
                    "the listener does not enable {}; it enables {}",
                    sasl.mechanism.name(),
                    answer.mechanisms.join(", ")
                ),
            ));
        }
        code => return Err(failed(conn, super::error_name(code))),
    }
    let version = conn.versions().sasl_authenticate.ok_or_else(|| unsupported(conn, "SaslAuthenticate"))?;
    let exchange = |conn: &mut Connection, bytes: Vec<u8>| -> Result<SaslAuthenticateResponse, ConnectionError> {
        let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes));
        let answer: SaslAuthenticateResponse = conn.call(ApiKey::SaslAuthenticate, version, &request)?;
        if answer.error_code != 0 {
            let message = answer.error_message.clone().filter(|m| !m.is_empty());
            return Err(failed(conn, message.unwrap_or_else(|| super::error_name(answer.error_code))));
        }
        Ok(answer)
    };
    let password = sasl.password.expose();
    let last = match sasl.mechanism {
        Mechanism::Plain => exchange(conn, format!("\0{}\0{password}", sasl.username).into_bytes())?,
        Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
            let algorithm =
                if sasl.mechanism == Mechanism::ScramSha256 { Algorithm::Sha256 } else { Algorithm::Sha512 };
            let nonce = nonce().map_err(|e| failed(conn, e))?;
            let (scram, first) = Scram::start(algorithm, &sasl.username, &nonce);
            let server_first = exchange(conn, first.into_bytes())?;
            let server_first = String::from_utf8_lossy(&server_first.auth_bytes).into_owned();
            let client_final = scram.finish(&server_first, password).map_err(|e| failed(conn, e))?;
            let server_final = exchange(conn, client_final.message.clone().into_bytes())?;
            client_final.verify(&String::from_utf8_lossy(&server_final.auth_bytes)).map_err(|e| failed(conn, e))?;
            server_final
        }
    };
    Ok((last.session_lifetime_ms > 0).then(|| Duration::from_millis(last.session_lifetime_ms as u64)))
}

/// A SCRAM client nonce: 24 random bytes from the system's secure random source, as printable
/// text without commas.
fn nonce() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut bytes)
        .map_err(|_| "the system's secure random source failed".to_string())?;
    Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes).replace(['+', '/'], "x"))
}
