//! VNC authentication (RFC 6143 section 7.2.2): DES of a 16-byte challenge with the password.

use des::Des;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockEncrypt, KeyInit};

/// Only the first eight bytes of a VNC password count (the protocol's limit).
pub const PASSWORD_LEN: usize = 8;

/// The response a client gives to `challenge` with `password`: the challenge encrypted by DES
/// with the password (at most 8 bytes, zero-padded) as key, each key byte's bits reversed.
pub fn response(password: &[u8], challenge: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password.iter().take(PASSWORD_LEN)) {
        *k = p.reverse_bits();
    }
    let cipher = Des::new(GenericArray::from_slice(&key));
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

/// Whether `answer` is the right response, compared in constant time.
pub fn verify(password: &[u8], challenge: &[u8; 16], answer: &[u8; 16]) -> bool {
    let want = response(password, challenge);
    want.iter()
        .zip(answer)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // DES with the bit-reversed key of "password" (as libvncserver and TigerVNC compute it):
        // the all-zero challenge gives the same block twice.
        let r = response(b"password", &[0; 16]);
        assert_eq!(r[..8], r[8..]);
        assert!(verify(b"password", &[0; 16], &r));
        assert!(!verify(b"passwore", &[0; 16], &r));
        // Bytes past the eighth do not count.
        assert!(verify(b"password-and-more", &[0; 16], &r));
        assert_ne!(response(b"", &[7; 16]), [7; 16]);
    }
}
