//! PKCS#12 stores (RFC 7292): the keystores and truststores of Java clients (keytool's default
//! type since Java 9) and of `openssl pkcs12 -export`. Read here: the integrity MAC, encrypted
//! and plain contents, key bags (plain and shrouded), X.509 certificate bags, nested bags, the
//! localKeyId and friendlyName attributes. JKS and JCEKS (Java's own formats) are recognised by
//! their magic numbers so that the caller can say how to convert them.
//!
//! Bytes are checked by the DER reader before anything is allocated; nesting is bounded.

use std::fmt;

use super::der::{self, Der, DerError, OCTET_STRING, OID, SEQUENCE, SET, explicit};
use super::pbe::{self, PbeError};

/// 1.2.840.113549.1.7.1
const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
/// 1.2.840.113549.1.7.6
const ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
/// 1.2.840.113549.1.12.10.1.n: keyBag (1), pkcs8ShroudedKeyBag (2), certBag (3),
/// safeContentsBag (6).
const BAGS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01];
/// 1.2.840.113549.1.9.21
const LOCAL_KEY_ID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x15];
/// 1.2.840.113549.1.9.20
const FRIENDLY_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x14];
/// 1.2.840.113549.1.9.22.1
const X509_CERTIFICATE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];
const BMP_STRING: u8 = 0x1e;
/// `[0] IMPLICIT OCTET STRING`, primitive and (BER) constructed.
const IMPLICIT_0: u8 = 0x80;

/// The first bytes of Java's own store formats.
const JKS_MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];
const JCEKS_MAGIC: [u8; 4] = [0xce, 0xce, 0xce, 0xce];

/// Bags within bags: more than any tool writes.
const MAX_DEPTH: usize = 3;

/// A key or certificate from a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// A PKCS#8 PrivateKeyInfo, or an X.509 certificate.
    pub der: Vec<u8>,
    /// What ties a key to its certificate.
    pub local_key_id: Option<Vec<u8>>,
    /// The alias, as keytool shows it.
    pub name: Option<String>,
}

/// What a store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Store {
    pub keys: Vec<Entry>,
    pub certs: Vec<Entry>,
}

impl Store {
    /// The certificates that are no key's own: a truststore's entries.
    pub fn trusted(&self) -> impl Iterator<Item = &Entry> {
        self.certs.iter().filter(|c| {
            c.local_key_id.as_ref().is_none_or(|id| !self.keys.iter().any(|k| k.local_key_id.as_ref() == Some(id)))
        })
    }
}

/// Why a store cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Java's JKS or JCEKS format (named).
    Java(&'static str),
    /// No password given where the store needs one.
    NeedsPassword,
    /// The store's password does not open it.
    WrongPassword,
    /// The key's own password does not open the key.
    WrongKeyPassword,
    /// Not a PKCS#12 store, or damaged, or using what is not implemented: in words.
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Java(kind) => write!(f, "a {kind} store (Java's own format), not PKCS#12"),
            StoreError::NeedsPassword => f.write_str("it is protected by a password, and none is set"),
            StoreError::WrongPassword => {
                f.write_str("the password does not open it (wrong password, or a damaged file)")
            }
            StoreError::WrongKeyPassword => f.write_str("the key password does not open the private key in it"),
            StoreError::Other(what) => f.write_str(what),
        }
    }
}

impl From<DerError> for StoreError {
    fn from(e: DerError) -> StoreError {
        StoreError::Other(format!("not a PKCS#12 store, or a damaged one: {e}"))
    }
}

type Result<T> = std::result::Result<T, StoreError>;

fn store_error(e: PbeError) -> StoreError {
    match e {
        PbeError::WrongPassword => StoreError::WrongPassword,
        other => StoreError::Other(other.to_string()),
    }
}

/// Reads a store: `password` is the store's, `key_password` the keys' when it differs.
pub fn open(bytes: &[u8], password: Option<&str>, key_password: Option<&str>) -> Result<Store> {
    match bytes.get(..4) {
        Some(m) if m == JKS_MAGIC => return Err(StoreError::Java("JKS")),
        Some(m) if m == JCEKS_MAGIC => return Err(StoreError::Java("JCEKS")),
        _ => {}
    }
    let mut top = Der::new(bytes);
    let mut pfx = top.nested(SEQUENCE)?;
    let version = pfx.small_uint()?;
    if version != 3 {
        return Err(StoreError::Other(format!("a PKCS#12 store of version {version}: only version 3 exists")));
    }
    let mut auth_safe = pfx.nested(SEQUENCE)?;
    let kind = auth_safe.value(OID)?;
    if kind != DATA {
        return Err(StoreError::Other(format!(
            "a PKCS#12 store in public-key integrity mode ({}): only password integrity is read",
            der::oid_text(kind)
        )));
    }
    let content = auth_safe.nested(explicit(0))?.value(OCTET_STRING)?;
    if !pfx.is_empty() {
        let mac = pfx.value(SEQUENCE)?;
        let password = password.ok_or(StoreError::NeedsPassword)?;
        pbe::check_mac(mac, password, content).map_err(store_error)?;
    }
    let mut store = Store::default();
    let mut safes = Der::new(content).nested(SEQUENCE)?;
    while !safes.is_empty() {
        let mut info = safes.nested(SEQUENCE)?;
        let kind = info.value(OID)?;
        let mut inner = info.nested(explicit(0))?;
        if kind == DATA {
            bags(inner.value(OCTET_STRING)?, password, key_password, 0, &mut store)?;
        } else if kind == ENCRYPTED_DATA {
            let mut data = inner.nested(SEQUENCE)?;
            data.small_uint()?;
            let mut info = data.nested(SEQUENCE)?;
            info.value(OID)?;
            let algorithm = info.value(SEQUENCE)?;
            let encrypted = implicit_octets(&mut info)?;
            let password = password.ok_or(StoreError::NeedsPassword)?;
            let plain = pbe::decrypt(algorithm, password, &encrypted).map_err(store_error)?;
            bags(&plain, Some(password), key_password, 0, &mut store)?;
        } else {
            return Err(StoreError::Other(format!(
                "part of the store is {} (public-key encrypted?): only password-protected stores are read",
                der::oid_text(kind)
            )));
        }
    }
    Ok(store)
}

/// `[0] IMPLICIT OCTET STRING`: primitive, or constructed from OCTET STRINGs (BER).
fn implicit_octets(d: &mut Der<'_>) -> Result<Vec<u8>> {
    let tlv = d.any()?;
    match tlv.tag {
        IMPLICIT_0 => Ok(tlv.value.to_vec()),
        t if t == explicit(0) => {
            let mut parts = Der::new(tlv.value);
            let mut out = Vec::with_capacity(tlv.value.len());
            while !parts.is_empty() {
                out.extend_from_slice(parts.value(OCTET_STRING)?);
            }
            Ok(out)
        }
        t => Err(StoreError::Other(format!("encrypted contents with tag {t:#04x}: the store is damaged"))),
    }
}

/// The bags of one SafeContents (whole DER).
fn bags(
    safe_contents: &[u8],
    password: Option<&str>,
    key_password: Option<&str>,
    depth: usize,
    store: &mut Store,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(StoreError::Other(format!("bags nested more than {MAX_DEPTH} deep: the store is damaged")));
    }
    let mut seq = Der::new(safe_contents).nested(SEQUENCE)?;
    while !seq.is_empty() {
        let mut bag = seq.nested(SEQUENCE)?;
        let id = bag.value(OID)?;
        let mut value = bag.nested(explicit(0))?;
        let (local_key_id, name) = if bag.is_empty() { (None, None) } else { attributes(bag.nested(SET)?)? };
        match id.strip_prefix(BAGS) {
            Some([1]) => {
                let der = value.read(SEQUENCE)?.whole.to_vec();
                store.keys.push(Entry { der, local_key_id, name });
            }
            Some([2]) => {
                let encrypted = value.read(SEQUENCE)?.whole;
                let Some(password) = key_password.or(password) else { return Err(StoreError::NeedsPassword) };
                let der = pbe::decrypt_key(encrypted, password).map_err(|e| match e {
                    PbeError::WrongPassword if key_password.is_some() => StoreError::WrongKeyPassword,
                    other => store_error(other),
                })?;
                store.keys.push(Entry { der, local_key_id, name });
            }
            Some([3]) => {
                let mut cert_bag = value.nested(SEQUENCE)?;
                if cert_bag.value(OID)? == X509_CERTIFICATE {
                    let der = cert_bag.nested(explicit(0))?.value(OCTET_STRING)?.to_vec();
                    store.certs.push(Entry { der, local_key_id, name });
                }
            }
            Some([6]) => bags(value.read(SEQUENCE)?.whole, password, key_password, depth + 1, store)?,
            // CRLs, secrets and other certificate kinds play no part in TLS here.
            _ => {}
        }
    }
    Ok(())
}

/// localKeyId and friendlyName from a bag's attributes.
fn attributes(mut set: Der<'_>) -> Result<(Option<Vec<u8>>, Option<String>)> {
    let (mut id, mut name) = (None, None);
    while !set.is_empty() {
        let mut attribute = set.nested(SEQUENCE)?;
        let oid = attribute.value(OID)?;
        let mut values = attribute.nested(SET)?;
        if oid == LOCAL_KEY_ID {
            id = Some(values.value(OCTET_STRING)?.to_vec());
        } else if oid == FRIENDLY_NAME {
            let utf16: Vec<u16> = values
                .value(BMP_STRING)?
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            name = Some(String::from_utf16_lossy(&utf16));
        }
    }
    Ok((id, name))
}

#[cfg(test)]
mod tests;
