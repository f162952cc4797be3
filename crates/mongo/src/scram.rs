//! SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, RFC 7677) on the server side,
//! as MongoDB runs them in `saslStart`/`saslContinue`. The password is an
//! account key, as with Azure Cosmos DB for MongoDB; the server knows the
//! keys, so it derives the salted password itself and tries each key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;

use crate::error::{MongoError, Result};

pub const ITERATIONS: u32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mechanism {
    Sha1,
    Sha256,
}

impl Mechanism {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "SCRAM-SHA-256" => Ok(Self::Sha256),
            "SCRAM-SHA-1" => Ok(Self::Sha1),
            other => Err(MongoError::bad_value(format!(
                "Received authentication for mechanism {other} which is not enabled"
            ))),
        }
    }
}

/// A password the client may prove it knows, and what it may do.
#[derive(Clone)]
pub struct Credential {
    pub password: String,
    pub read_only: bool,
}

/// A conversation after the client's first message.
pub struct Conversation {
    mechanism: Mechanism,
    user: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    salt: Vec<u8>,
}

fn attribute(message: &str, name: char) -> Option<&str> {
    message
        .split(',')
        .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
}

fn failed() -> MongoError {
    MongoError::authentication_failed("Authentication failed.")
}

fn hmac(mechanism: Mechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    match mechanism {
        Mechanism::Sha256 => {
            let mut mac =
                <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Mechanism::Sha1 => {
            let mut mac =
                <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
    }
}

fn hash(mechanism: Mechanism, data: &[u8]) -> Vec<u8> {
    match mechanism {
        Mechanism::Sha256 => Sha256::digest(data).to_vec(),
        Mechanism::Sha1 => Sha1::digest(data).to_vec(),
    }
}

/// The salted password for `password`: SCRAM-SHA-1 hashes MongoDB's
/// password digest (`md5("user:mongo:password")` in hex), SCRAM-SHA-256 the
/// password itself (account keys are ASCII, which SASLprep leaves as is).
pub fn salted_password(mechanism: Mechanism, user: &str, password: &str, salt: &[u8]) -> Vec<u8> {
    match mechanism {
        Mechanism::Sha256 => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, ITERATIONS, &mut out);
            out.to_vec()
        }
        Mechanism::Sha1 => {
            let digest = Md5::digest(format!("{user}:mongo:{password}").as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let mut out = [0u8; 20];
            pbkdf2::pbkdf2_hmac::<Sha1>(hex.as_bytes(), salt, ITERATIONS, &mut out);
            out.to_vec()
        }
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out.truncate(n);
    out
}

impl Conversation {
    /// Starts from the client's first message; returns the server's first.
    pub fn start(mechanism: Mechanism, client_first: &[u8]) -> Result<(Self, Vec<u8>)> {
        let text = std::str::from_utf8(client_first).map_err(|_| failed())?;
        // gs2 header: "n,," (no channel binding), then the bare message.
        let bare = text
            .strip_prefix("n,,")
            .or_else(|| text.strip_prefix("y,,"))
            .ok_or_else(|| MongoError::bad_value("SCRAM: unsupported channel binding"))?;
        let user = attribute(bare, 'n').ok_or_else(failed)?;
        let user = user.replace("=2C", ",").replace("=3D", "=");
        let client_nonce = attribute(bare, 'r').ok_or_else(failed)?;
        let nonce = format!("{client_nonce}{}", STANDARD.encode(random_bytes(24)));
        let salt = random_bytes(16);
        let server_first = format!("r={nonce},s={},i={ITERATIONS}", STANDARD.encode(&salt));
        let reply = server_first.clone().into_bytes();
        Ok((
            Self {
                mechanism,
                user,
                client_first_bare: bare.to_string(),
                server_first,
                nonce,
                salt,
            },
            reply,
        ))
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// Checks the client's proof against each credential; returns the one
    /// it proves and the server's final message.
    pub fn finish<'a>(
        &self,
        client_final: &[u8],
        credentials: &'a [Credential],
    ) -> Result<(&'a Credential, Vec<u8>)> {
        let text = std::str::from_utf8(client_final).map_err(|_| failed())?;
        if attribute(text, 'r') != Some(self.nonce.as_str()) {
            return Err(failed());
        }
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or_else(failed)?;
        let proof = STANDARD.decode(proof).map_err(|_| failed())?;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        for credential in credentials {
            let salted =
                salted_password(self.mechanism, &self.user, &credential.password, &self.salt);
            let client_key = hmac(self.mechanism, &salted, b"Client Key");
            let stored_key = hash(self.mechanism, &client_key);
            let signature = hmac(self.mechanism, &stored_key, auth_message.as_bytes());
            if proof.len() != signature.len() {
                continue;
            }
            let recovered: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
            if hash(self.mechanism, &recovered) == stored_key {
                let server_key = hmac(self.mechanism, &salted, b"Server Key");
                let server_signature = hmac(self.mechanism, &server_key, auth_message.as_bytes());
                return Ok((
                    credential,
                    format!("v={}", STANDARD.encode(server_signature)).into_bytes(),
                ));
            }
        }
        Err(failed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's side of the exchange, as drivers compute it.
    fn client_final(
        m: Mechanism,
        user: &str,
        password: &str,
        server_first: &str,
        client_first_bare: &str,
    ) -> String {
        let nonce = attribute(server_first, 'r').unwrap();
        let salt = STANDARD
            .decode(attribute(server_first, 's').unwrap())
            .unwrap();
        let salted = salted_password(m, user, password, &salt);
        let client_key = hmac(m, &salted, b"Client Key");
        let stored_key = hash(m, &client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let sig = hmac(m, &stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        format!("{without_proof},p={}", STANDARD.encode(proof))
    }

    #[test]
    fn the_right_key_is_accepted_and_a_wrong_one_refused() {
        for m in [Mechanism::Sha256, Mechanism::Sha1] {
            let keys = vec![
                Credential {
                    password: "wrong".into(),
                    read_only: false,
                },
                Credential {
                    password: "key==".into(),
                    read_only: true,
                },
            ];
            let bare = "n=acct,r=abc";
            let (conv, first) = Conversation::start(m, format!("n,,{bare}").as_bytes()).unwrap();
            let first = String::from_utf8(first).unwrap();
            let fin = client_final(m, "acct", "key==", &first, bare);
            let (which, _) = conv.finish(fin.as_bytes(), &keys).unwrap();
            assert!(which.read_only);
            let bad = client_final(m, "acct", "nope", &first, bare);
            assert_eq!(conv.finish(bad.as_bytes(), &keys).err().unwrap().code, 18);
        }
    }
}
