//! The password `serve` makes for a run when the user gave none and did not say `--no-auth`:
//! eight random characters (VNC authentication counts no more), shown on the terminal with a
//! noVNC address that carries it, as Jupyter shows its token.

use anyhow::{Context, Result};
use std::io::Read;

/// Letters and digits that cannot be misread (no 0/O, 1/l/I), all safe in a URL fragment.
const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";

/// A new random password of eight characters (about 46 bits).
pub fn one_time() -> Result<Vec<u8>> {
    let mut random = [0u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .context("reading /dev/urandom for a password")?;
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let password: Vec<u8> = random
        .iter()
        .filter(|&&b| usize::from(b) < limit)
        .map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()])
        .take(8)
        .collect();
    if password.len() < 8 {
        anyhow::bail!("/dev/urandom gave too few usable bytes for a password");
    }
    Ok(password)
}

/// Shows the run's password on the terminal (stderr, not the address line on stdout that
/// scripts read), with the noVNC address that logs in with it: the password rides in the
/// address's fragment, which the browser never sends to a server.
pub fn announce(password: &str, novnc: Option<&str>) {
    errln!(
        "vfio-display: clients log in with the password {password} (made for this run; \
         --password-file FILE sets one, --no-auth serves without)"
    );
    if let Some(page) = novnc {
        errln!("vfio-display: noVNC: {page}#autoconnect=1&password={password}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_eight_characters_of_the_alphabet_and_differ() {
        let a = one_time().unwrap();
        let b = one_time().unwrap();
        assert_eq!(a.len(), 8);
        assert!(a.iter().all(|c| ALPHABET.contains(c)));
        assert_ne!(a, b);
    }
}
