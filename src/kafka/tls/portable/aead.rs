//! Record protection: AES-128/256-GCM and ChaCha20-Poly1305 (RFC 5288, RFC 7905, RFC 8446 §5),
//! for TLS 1.2 and 1.3, on RustCrypto's AEADs with detached tags.

use std::marker::PhantomData;

use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter, MessageEncrypter,
    NONCE_LEN, Nonce, OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload, Tls12AeadAlgorithm,
    Tls13AeadAlgorithm, UnsupportedOperationError, make_tls12_aad, make_tls13_aad,
};
use rustls::{ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion};

const TAG: usize = 16;
/// TLS 1.2 GCM: 4 bytes of the key block, 8 sent with each record (RFC 5288 §3).
const FIXED_IV: usize = 4;
const EXPLICIT_NONCE: usize = 8;

/// One AEAD algorithm: its key length, and whether TLS 1.2 sends an explicit nonce (GCM) or
/// derives it like TLS 1.3 (ChaCha20-Poly1305).
pub struct Aead<A> {
    key_len: usize,
    explicit_nonce: bool,
    _algorithm: PhantomData<fn() -> A>,
}

pub static AES_128_GCM: Aead<aes_gcm::Aes128Gcm> = Aead::new(16, true);
pub static AES_256_GCM: Aead<aes_gcm::Aes256Gcm> = Aead::new(32, true);
pub static CHACHA20_POLY1305: Aead<chacha20poly1305::ChaCha20Poly1305> = Aead::new(32, false);

impl<A> Aead<A> {
    const fn new(key_len: usize, explicit_nonce: bool) -> Aead<A> {
        Aead { key_len, explicit_nonce, _algorithm: PhantomData }
    }
}

/// The cipher for `key`; its length is the one the key schedule was asked for.
fn keyed<A: KeyInit>(key: &AeadKey) -> A {
    A::new_from_slice(key.as_ref()).expect("the key schedule makes keys of the length asked for")
}

impl<A: AeadInPlace + KeyInit + Send + Sync + 'static> Tls13AeadAlgorithm for Aead<A> {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        Box::new(Tls13 { aead: keyed::<A>(&key), iv })
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        Box::new(Tls13 { aead: keyed::<A>(&key), iv })
    }

    fn key_len(&self) -> usize {
        self.key_len
    }

    fn extract_keys(&self, _: AeadKey, _: Iv) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Err(UnsupportedOperationError)
    }
}

impl<A: AeadInPlace + KeyInit + Send + Sync + 'static> Tls12AeadAlgorithm for Aead<A> {
    fn encrypter(&self, key: AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
        let aead = keyed::<A>(&key);
        if self.explicit_nonce {
            // The first explicit nonce is random (`extra`), then counts up with the sequence.
            let mut full = [0u8; NONCE_LEN];
            full[..FIXED_IV].copy_from_slice(iv);
            full[FIXED_IV..].copy_from_slice(extra);
            Box::new(Tls12Gcm { aead, iv: Iv::new(full) })
        } else {
            Box::new(Tls12Chacha { aead, iv: Iv::copy(iv) })
        }
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        let aead = keyed::<A>(&key);
        if self.explicit_nonce {
            let mut full = [0u8; NONCE_LEN];
            full[..FIXED_IV].copy_from_slice(iv);
            Box::new(Tls12Gcm { aead, iv: Iv::new(full) })
        } else {
            Box::new(Tls12Chacha { aead, iv: Iv::copy(iv) })
        }
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        if self.explicit_nonce {
            KeyBlockShape { enc_key_len: self.key_len, fixed_iv_len: FIXED_IV, explicit_nonce_len: EXPLICIT_NONCE }
        } else {
            KeyBlockShape { enc_key_len: self.key_len, fixed_iv_len: NONCE_LEN, explicit_nonce_len: 0 }
        }
    }

    fn extract_keys(
        &self,
        _: AeadKey,
        _: &[u8],
        _: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Err(UnsupportedOperationError)
    }
}

/// Seals `data` in place and appends the tag.
fn seal<A: AeadInPlace>(
    aead: &A,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    payload: &mut PrefixedPayload,
    from: usize,
) -> Result<(), Error> {
    let tag = aead
        .encrypt_in_place_detached(GenericArray::from_slice(nonce), aad, &mut payload.as_mut()[from..])
        .map_err(|_| Error::EncryptError)?;
    payload.extend_from_slice(&tag);
    Ok(())
}

/// Opens `data` (ciphertext followed by its tag) in place: the plaintext's length.
fn open<A: AeadInPlace>(aead: &A, nonce: &[u8; NONCE_LEN], aad: &[u8], data: &mut [u8]) -> Result<usize, Error> {
    let len = data.len().checked_sub(TAG).ok_or(Error::DecryptError)?;
    let (text, tag) = data.split_at_mut(len);
    aead.decrypt_in_place_detached(GenericArray::from_slice(nonce), aad, text, GenericArray::from_slice(tag))
        .map_err(|_| Error::DecryptError)?;
    Ok(len)
}

struct Tls13<A> {
    aead: A,
    iv: Iv,
}

impl<A: AeadInPlace + Send + Sync> MessageEncrypter for Tls13<A> {
    fn encrypt(&mut self, m: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let total = self.encrypted_payload_len(m.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total);
        payload.extend_from_chunks(&m.payload);
        payload.extend_from_slice(&m.typ.to_array());
        seal(&self.aead, &Nonce::new(&self.iv, seq).0, &make_tls13_aad(total), &mut payload, 0)?;
        Ok(OutboundOpaqueMessage::new(ContentType::ApplicationData, ProtocolVersion::TLSv1_2, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG
    }
}

impl<A: AeadInPlace + Send + Sync> MessageDecrypter for Tls13<A> {
    fn decrypt<'a>(&mut self, mut m: InboundOpaqueMessage<'a>, seq: u64) -> Result<InboundPlainMessage<'a>, Error> {
        let aad = make_tls13_aad(m.payload.len());
        let len = open(&self.aead, &Nonce::new(&self.iv, seq).0, &aad, &mut m.payload)?;
        m.payload.truncate(len);
        m.into_tls13_unpadded_message()
    }
}

struct Tls12Gcm<A> {
    aead: A,
    /// The fixed part, then (for sealing) the first explicit nonce.
    iv: Iv,
}

impl<A: AeadInPlace + Send + Sync> MessageEncrypter for Tls12Gcm<A> {
    fn encrypt(&mut self, m: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let nonce = Nonce::new(&self.iv, seq).0;
        let mut payload = PrefixedPayload::with_capacity(self.encrypted_payload_len(m.payload.len()));
        payload.extend_from_slice(&nonce[FIXED_IV..]);
        payload.extend_from_chunks(&m.payload);
        let aad = make_tls12_aad(seq, m.typ, m.version, m.payload.len());
        seal(&self.aead, &nonce, &aad, &mut payload, EXPLICIT_NONCE)?;
        Ok(OutboundOpaqueMessage::new(m.typ, m.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        EXPLICIT_NONCE + payload_len + TAG
    }
}

impl<A: AeadInPlace + Send + Sync> MessageDecrypter for Tls12Gcm<A> {
    fn decrypt<'a>(&mut self, mut m: InboundOpaqueMessage<'a>, seq: u64) -> Result<InboundPlainMessage<'a>, Error> {
        let total = m.payload.len();
        if total < EXPLICIT_NONCE + TAG {
            return Err(Error::DecryptError);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..FIXED_IV].copy_from_slice(&self.iv.as_ref()[..FIXED_IV]);
        nonce[FIXED_IV..].copy_from_slice(&m.payload[..EXPLICIT_NONCE]);
        let aad = make_tls12_aad(seq, m.typ, m.version, total - EXPLICIT_NONCE - TAG);
        let len = open(&self.aead, &nonce, &aad, &mut m.payload[EXPLICIT_NONCE..])?;
        m.payload.copy_within(EXPLICIT_NONCE..EXPLICIT_NONCE + len, 0);
        m.payload.truncate(len);
        Ok(m.into_plain_message())
    }
}

struct Tls12Chacha<A> {
    aead: A,
    iv: Iv,
}

impl<A: AeadInPlace + Send + Sync> MessageEncrypter for Tls12Chacha<A> {
    fn encrypt(&mut self, m: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let mut payload = PrefixedPayload::with_capacity(self.encrypted_payload_len(m.payload.len()));
        payload.extend_from_chunks(&m.payload);
        let aad = make_tls12_aad(seq, m.typ, m.version, m.payload.len());
        seal(&self.aead, &Nonce::new(&self.iv, seq).0, &aad, &mut payload, 0)?;
        Ok(OutboundOpaqueMessage::new(m.typ, m.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + TAG
    }
}

impl<A: AeadInPlace + Send + Sync> MessageDecrypter for Tls12Chacha<A> {
    fn decrypt<'a>(&mut self, mut m: InboundOpaqueMessage<'a>, seq: u64) -> Result<InboundPlainMessage<'a>, Error> {
        let plain_len = m.payload.len().checked_sub(TAG).ok_or(Error::DecryptError)?;
        let aad = make_tls12_aad(seq, m.typ, m.version, plain_len);
        let len = open(&self.aead, &Nonce::new(&self.iv, seq).0, &aad, &mut m.payload)?;
        m.payload.truncate(len);
        Ok(m.into_plain_message())
    }
}
