//! The mutual proof over TCP that both ends hold the user's token, without either sending it.
//!
//! A loopback port carries no identity: whoever listens on it first (another account, before
//! our server starts) receives what clients send. So a TCP client first sends a fresh nonce
//! (`Request::Hello`); the server answers with its own nonce and an HMAC-SHA256 over both
//! nonces keyed by the token (`Response::Challenge`), which only a holder of the token can
//! compute; and only then does the client send its request, carrying in place of the token
//! its own HMAC over the nonces, with another label so that neither proof can be replayed as
//! the other. A listener without the token learns neither the token nor the request.
//!
//! This module computes and checks proofs; it does no I/O besides asking the kernel for
//! random bytes.

use sha2::{Digest, Sha256};

/// Bytes of each side's nonce.
pub const NONCE_LEN: usize = 32;

const BLOCK: usize = 64;

/// Why a nonce could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot read random bytes: {0}")]
pub struct NonceError(#[from] std::io::Error);

/// A fresh random nonce.
pub fn nonce() -> Result<Vec<u8>, NonceError> {
    let mut bytes = vec![0u8; NONCE_LEN];
    let mut filled = 0;
    while filled < NONCE_LEN {
        match rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(count) => filled += count,
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(NonceError(error.into())),
        }
    }
    Ok(bytes)
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts` under `key`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|byte| byte ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|byte| byte ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The server's proof, sent in `Response::Challenge`.
pub fn server_proof(token: &str, client_nonce: &[u8], server_nonce: &[u8]) -> String {
    let labelled: [&[u8]; 3] = [b"sccache server\0", client_nonce, server_nonce];
    hex(&hmac(token.as_bytes(), &labelled))
}

/// The client's proof, sent in the envelope's token field of the requests that follow.
pub fn client_proof(token: &str, client_nonce: &[u8], server_nonce: &[u8]) -> String {
    let labelled: [&[u8]; 3] = [b"sccache client\0", client_nonce, server_nonce];
    hex(&hmac(token.as_bytes(), &labelled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_of_a_long_key_matches_rfc_4231_case_6() {
        let key = [0xaau8; 131];
        let mac = hmac(
            &key,
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex(&mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_two_proofs_differ_and_depend_on_the_token_and_both_nonces() {
        let (client, server) = (nonce().unwrap(), nonce().unwrap());
        assert_ne!(client, server);
        let proof = server_proof("t", &client, &server);
        assert_ne!(proof, client_proof("t", &client, &server));
        assert_ne!(proof, server_proof("u", &client, &server));
        assert_ne!(proof, server_proof("t", &server, &client));
        assert!(!proof.contains('t'));
    }
}
