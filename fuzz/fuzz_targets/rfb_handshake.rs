//! The server's RFB handshake (`rfb::handshake`) against whatever a network client sends, in
//! pieces of any size, under every policy: it may refuse or fail but never panic, never let a
//! client in without the right answer when a password is set, and never say more than its
//! handshake's few hundred bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vfio_display::rfb::auth;
use vfio_display::rfb::handshake::{Handshake, Policy, Step};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let password = (flags & 1 != 0).then(|| b"secret".to_vec());
    let policy = Policy {
        password: password.clone(),
        vencrypt: flags & 2 != 0,
        refuse: (flags & 4 != 0).then(|| "full".to_string()),
        confirm: flags & 8 != 0,
    };
    let challenge = [0x5a; 16];
    let mut hs = Handshake::new(policy, challenge);
    let mut input = Vec::new();
    let mut output = hs.take_output();
    // The input comes in pieces whose sizes the data's high flag bits choose.
    let piece = usize::from(flags >> 4) + 1;
    let mut saw_response = false;
    let mut fed = 0;
    for chunk in rest.chunks(piece) {
        input.extend_from_slice(chunk);
        fed += chunk.len();
        let before = input.len();
        let step = match hs.advance(&mut input) {
            Ok(step) => step,
            Err(_) => return,
        };
        assert!(input.len() <= before);
        // Whether the right answer to the challenge went by in what was consumed so far.
        if let Some(pw) = &password {
            let right = auth::response(pw, &challenge);
            saw_response |= rest[..fed - input.len()].windows(16).any(|w| w == right);
        }
        output.extend(hs.take_output());
        assert!(output.len() <= 512, "the handshake said {} bytes", output.len());
        match step {
            Step::NeedMore => {}
            Step::StartTls => hs.tls_started(),
            // The data's length chooses whether a held login stands.
            Step::Authenticated => {
                assert!(
                    password.is_none() || saw_response,
                    "held a login without the password"
                );
                if rest.len() % 2 == 0 {
                    hs.confirm(Ok(()));
                } else {
                    hs.confirm(Err("used".into()));
                }
            }
            Step::Done { .. } => {
                assert!(password.is_none() || saw_response, "let in without the password");
                assert!(flags & 4 == 0, "let in although refused");
                return;
            }
            Step::Refused(_) => return,
        }
    }
});
