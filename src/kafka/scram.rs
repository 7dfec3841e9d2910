//! SCRAM-SHA-256 and SCRAM-SHA-512 client messages and proofs, including the check that the
//! server knows the password (its signature), on RustCrypto's hashes (`sha2`, `hmac`), which
//! run on any CPU.
//!
//! References: RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256; its example is the unit test),
//! KIP-84 (SCRAM in Kafka: at least 4096 iterations).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::digest::core_api::BlockSizeUser;
use hmac::{Mac, SimpleHmac};
use sha2::{Digest, Sha256, Sha512};

/// Kafka stores no fewer (KIP-84) and no more (`ScramControlManager.MAX_ITERATIONS`): a
/// count above that is a peer making the client burn CPU.
const MIN_ITERATIONS: u32 = 4096;
const MAX_ITERATIONS: u32 = 16_384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn hmac(self, key: &[u8], data: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest + BlockSizeUser>(key: &[u8], data: &[&[u8]]) -> Vec<u8> {
            let mut mac = <SimpleHmac<D> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
            for d in data {
                mac.update(d);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Algorithm::Sha256 => run::<Sha256>(key, data),
            Algorithm::Sha512 => run::<Sha512>(key, data),
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Sha256 => Sha256::digest(data).to_vec(),
            Algorithm::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Hi() of RFC 5802: PBKDF2 with this HMAC, one block.
    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut u = self.hmac(password, &[salt, &1u32.to_be_bytes()]);
        let mut out = u.clone();
        for _ in 1..iterations {
            u = self.hmac(password, &[&u]);
            out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
        }
        out
    }
}

/// A SCRAM exchange in progress, after the client's first message.
pub struct Scram {
    algorithm: Algorithm,
    client_nonce: String,
    client_first_bare: String,
}

/// What the client sends second, and the server signature its final message must carry.
#[derive(Debug)]
pub struct ClientFinal {
    pub message: String,
    server_signature: Vec<u8>,
}

impl Scram {
    /// The client-first message for `user` with a fresh random `nonce` (printable, no comma).
    pub fn start(algorithm: Algorithm, user: &str, nonce: &str) -> (Scram, String) {
        let name = user.replace('=', "=3D").replace(',', "=2C");
        let client_first_bare = format!("n={name},r={nonce}");
        let message = format!("n,,{client_first_bare}");
        (Scram { algorithm, client_nonce: nonce.to_string(), client_first_bare }, message)
    }

    /// The client-final message for the server-first one, proving the password.
    pub fn finish(&self, server_first: &str, password: &str) -> Result<ClientFinal, String> {
        let field = |key: &str| {
            server_first.split(',').find_map(|f| f.strip_prefix(key)).ok_or(format!("no {key} in {server_first:?}"))
        };
        if let Ok(error) = field("e=") {
            return Err(format!("the broker refused: {error}"));
        }
        let nonce = field("r=")?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len() {
            return Err("the broker's nonce does not extend ours".into());
        }
        let salt = B64.decode(field("s=")?).map_err(|e| format!("bad salt: {e}"))?;
        let iterations: u32 = field("i=")?.parse().map_err(|e| format!("bad iteration count: {e}"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(format!("iteration count {iterations} outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"));
        }
        let a = self.algorithm;
        let salted = a.salted_password(password.as_bytes(), &salt, iterations);
        let client_key = a.hmac(&salted, &[b"Client Key"]);
        let stored_key = a.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = a.hmac(&stored_key, &[auth_message.as_bytes()]);
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        let server_key = a.hmac(&salted, &[b"Server Key"]);
        let server_signature = a.hmac(&server_key, &[auth_message.as_bytes()]);
        Ok(ClientFinal { message: format!("{without_proof},p={}", B64.encode(proof)), server_signature })
    }
}

impl ClientFinal {
    /// Checks the server-final message: a broker that cannot prove it knows the password (its
    /// signature) is not the broker the password was given to.
    pub fn verify(&self, server_final: &str) -> Result<(), String> {
        if let Some(error) = server_final.strip_prefix("e=") {
            return Err(format!("the broker refused: {error}"));
        }
        let v = server_final
            .split(',')
            .find_map(|f| f.strip_prefix("v="))
            .ok_or(format!("no server signature in {server_final:?}"))?;
        match B64.decode(v) {
            Ok(sig) if sig == self.server_signature => Ok(()),
            _ => Err("the broker's signature is wrong: it does not know this user's password".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7677_example() {
        let (scram, first) = Scram::start(Algorithm::Sha256, "user", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let last = scram.finish(server_first, "pencil").unwrap();
        assert_eq!(
            last.message,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(last.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), Ok(()));
        assert!(
            last.verify("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=").unwrap_err().contains("signature is wrong")
        );
        assert!(last.verify("e=invalid-proof").unwrap_err().contains("invalid-proof"));
    }

    #[test]
    fn names_are_escaped_and_bad_server_messages_refused() {
        let (scram, first) = Scram::start(Algorithm::Sha512, "a=b,c", "abc");
        assert_eq!(first, "n,,n=a=3Db=2Cc,r=abc");
        assert!(scram.finish("r=xyz,s=AAAA,i=4096", "p").unwrap_err().contains("nonce"));
        assert!(scram.finish("r=abcd,s=AAAA,i=1", "p").unwrap_err().contains("iteration count 1"));
        assert!(scram.finish("r=abcd,s=AAAA,i=99999999", "p").unwrap_err().contains("iteration count"));
        // Kafka's own bound: one past it is refused before any hashing.
        let e = scram.finish("r=abcd,s=AAAA,i=16385", "p").unwrap_err();
        assert_eq!(e, "iteration count 16385 outside 4096..=16384");
        assert!(scram.finish("e=unknown-user", "p").unwrap_err().contains("unknown-user"));
    }
}
