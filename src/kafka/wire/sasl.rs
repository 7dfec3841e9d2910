//! The responses of the SASL exchange: SaslHandshake and SaslAuthenticate. Bounded like every
//! decoder of `wire`.

use kafka_protocol::messages::ApiKey;

use super::{Reader, Response, Result};

/// SaslHandshake response (v0–v1; never flexible): the mechanisms the listener enables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslHandshakeResponse {
    pub error_code: i16,
    pub mechanisms: Vec<String>,
}

impl Response for SaslHandshakeResponse {
    const API: ApiKey = ApiKey::SaslHandshake;

    fn read(r: &mut Reader<'_>, _version: i16) -> Result<Self> {
        let error_code = r.i16()?;
        let mechanisms = r.array(false, 2, |r| r.string(false))?;
        Ok(SaslHandshakeResponse { error_code, mechanisms })
    }
}

/// SaslAuthenticate response (v0–v2; flexible from v2; KIP-152, KIP-368 session lifetime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslAuthenticateResponse {
    pub error_code: i16,
    pub error_message: Option<String>,
    pub auth_bytes: Vec<u8>,
    /// Milliseconds until the broker expects re-authentication (0: never), v1+.
    pub session_lifetime_ms: i64,
}

impl Response for SaslAuthenticateResponse {
    const API: ApiKey = ApiKey::SaslAuthenticate;

    fn read(r: &mut Reader<'_>, version: i16) -> Result<Self> {
        let flex = version >= 2;
        let error_code = r.i16()?;
        let error_message = r.nullable_string(flex)?;
        let auth_bytes = r.bytes(flex)?;
        let session_lifetime_ms = if version >= 1 { r.i64()? } else { 0 };
        r.tagged_fields(flex)?;
        Ok(SaslAuthenticateResponse { error_code, error_message, auth_bytes, session_lifetime_ms })
    }
}
