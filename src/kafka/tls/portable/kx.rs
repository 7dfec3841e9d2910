//! Key exchange: X25519 (RFC 7748), secp256r1 and secp384r1 (uncompressed points only, as TLS
//! 1.3 requires), ephemeral for each handshake.

use rand_core::OsRng;
use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};

pub static ALL: &[&dyn SupportedKxGroup] = &[&X25519, &Secp256r1, &Secp384r1];

fn random_failed() -> Error {
    Error::FailedToGetRandomBytes
}

#[derive(Debug)]
pub struct X25519;

impl SupportedKxGroup for X25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut bytes = [0u8; 32];
        rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut bytes).map_err(|_| random_failed())?;
        let secret = x25519_dalek::StaticSecret::from(bytes);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Ok(Box::new(X25519Exchange { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

struct X25519Exchange {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer.try_into().map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
        let shared = self.secret.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        // An all-zero result: the peer sent a point of small order (RFC 7748 §6.1).
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// A NIST curve group: the same code for P-256 and P-384.
macro_rules! nist_group {
    ($group:ident, $exchange:ident, $curve:ident, $name:expr) => {
        #[derive(Debug)]
        pub struct $group;

        impl SupportedKxGroup for $group {
            fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
                use $curve::elliptic_curve::sec1::ToEncodedPoint;
                let secret = $curve::ecdh::EphemeralSecret::random(&mut OsRng);
                let public = secret.public_key().to_encoded_point(false).as_bytes().to_vec();
                Ok(Box::new($exchange { secret, public }))
            }

            fn name(&self) -> NamedGroup {
                $name
            }
        }

        struct $exchange {
            secret: $curve::ecdh::EphemeralSecret,
            public: Vec<u8>,
        }

        impl ActiveKeyExchange for $exchange {
            fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, Error> {
                // TLS sends uncompressed points only (RFC 8446 §4.2.8.2).
                if peer.first() != Some(&4) || peer.len() != self.public.len() {
                    return Err(PeerMisbehaved::InvalidKeyShare.into());
                }
                let peer = $curve::PublicKey::from_sec1_bytes(peer)
                    .map_err(|_| Error::from(PeerMisbehaved::InvalidKeyShare))?;
                let shared = self.secret.diffie_hellman(&peer);
                Ok(SharedSecret::from(&shared.raw_secret_bytes()[..]))
            }

            fn pub_key(&self) -> &[u8] {
                &self.public
            }

            fn group(&self) -> NamedGroup {
                $name
            }
        }
    };
}

nist_group!(Secp256r1, Secp256r1Exchange, p256, NamedGroup::secp256r1);
nist_group!(Secp384r1, Secp384r1Exchange, p384, NamedGroup::secp384r1);
