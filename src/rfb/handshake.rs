//! The server's side of the RFB handshake (RFC 6143 sections 7.1 and 7.2, VeNCrypt's version
//! and subtype exchange, ClientInit) as pure data: bytes in, bytes out and a verdict. The
//! program's `serve` moves the bytes, runs TLS when told and sends ServerInit; everything a
//! client can say before it is let in is parsed here, so the fuzz targets `rfb_handshake`
//! (every policy, input in pieces) and `rfb_client` (with the messages that follow) cover it.

use super::{RfbError, SERVER_VERSION, Version, auth, client_version};

/// Security types (RFC 6143 section 7.2 and the community registry).
pub mod security {
    /// No authentication.
    pub const NONE: u8 = 1;
    /// VNC authentication (DES challenge and response).
    pub const VNC: u8 = 2;
    /// VeNCrypt: TLS, then a subtype.
    pub const VENCRYPT: u8 = 19;
    /// VeNCrypt subtype: TLS with an X.509 certificate, then no authentication.
    pub const X509_NONE: u32 = 260;
    /// VeNCrypt subtype: TLS with an X.509 certificate, then VNC authentication.
    pub const X509_VNC: u32 = 261;
}

/// How the server lets this client in.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// VNC authentication with this password (`None`: no authentication).
    pub password: Option<Vec<u8>>,
    /// TLS must be negotiated through VeNCrypt (a native client of a server with a
    /// certificate; a browser's connection already runs in TLS).
    pub vencrypt: bool,
    /// Refuse the client before security, with this reason (too many clients, an address
    /// blocked after failed passwords).
    pub refuse: Option<String>,
    /// A client that passed security (the right password, or none where none is asked) is not
    /// let in at once: the handshake stops at [`Step::Authenticated`] until
    /// [`Handshake::confirm`] says whether the login stands (a one-time password that another
    /// connection used a moment before does not; nor does a login without a password to a
    /// device that asks one since the handshake began).
    pub confirm: bool,
}

/// Why a client was not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// It answered the challenge wrongly.
    #[error("wrong password")]
    WrongPassword,
    /// The server's policy refused it (the reason it was sent).
    #[error("refused: {0}")]
    Policy(String),
    /// It asked for something the server does not offer.
    #[error("{0}")]
    Unsupported(String),
}

/// What the handshake needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// More bytes from the client.
    NeedMore,
    /// Send the pending output, then run the TLS handshake on the connection and call
    /// [`Handshake::tls_started`]: everything after goes inside TLS.
    StartTls,
    /// The client passed security (answered the challenge with the password, or chose the
    /// type that asks none), and `Policy::confirm` asked to be asked: call
    /// [`Handshake::confirm`].
    Authenticated,
    /// The client is in: send ServerInit.
    Done {
        /// The version spoken.
        version: Version,
        /// ClientInit's shared flag.
        shared: bool,
    },
    /// The client was refused; the pending output tells it why (where the version allows).
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Version,
    SecurityType,
    VencryptVersion,
    VencryptSubtype,
    AwaitTls,
    AwaitConfirm,
    Response,
    ClientInit,
    Over,
}

/// One client's handshake.
#[derive(Debug)]
pub struct Handshake {
    policy: Policy,
    challenge: [u8; 16],
    state: State,
    version: Version,
    out: Vec<u8>,
    verdict: Option<Step>,
    /// The login held for confirmation took no password (security type None, or VeNCrypt's
    /// X509None): its SecurityResult is due only where the version sends one.
    held_without_password: bool,
}

impl Handshake {
    /// A handshake under `policy`; `challenge` is the VNC authentication challenge (random,
    /// from the caller). The server's ProtocolVersion is the first output.
    pub fn new(policy: Policy, challenge: [u8; 16]) -> Self {
        Handshake {
            policy,
            challenge,
            state: State::Version,
            version: Version::V3_8,
            out: SERVER_VERSION.to_vec(),
            verdict: None,
            held_without_password: false,
        }
    }

    /// The security type offered: VeNCrypt when TLS must be negotiated, else VNC
    /// authentication with a password, else none.
    fn offered(&self) -> u8 {
        if self.policy.vencrypt {
            security::VENCRYPT
        } else if self.policy.password.is_some() {
            security::VNC
        } else {
            security::NONE
        }
    }

    /// Takes the bytes to send to the client.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Whether bytes are waiting to be sent.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    /// Consumes what it can of `input` (bytes from the client, taken from the front) and says
    /// what is needed next. Bytes past the handshake's end stay in `input`.
    pub fn advance(&mut self, input: &mut Vec<u8>) -> Result<Step, RfbError> {
        loop {
            if let Some(verdict) = &self.verdict {
                return Ok(verdict.clone());
            }
            let want = match self.state {
                State::Version => 12,
                State::SecurityType | State::ClientInit => 1,
                State::VencryptVersion => 2,
                State::VencryptSubtype => 4,
                State::Response => 16,
                State::AwaitTls => return Ok(Step::StartTls),
                State::AwaitConfirm => return Ok(Step::Authenticated),
                State::Over => return Err(RfbError::protocol("the handshake is over")),
            };
            if input.len() < want {
                return Ok(Step::NeedMore);
            }
            let bytes: Vec<u8> = input.drain(..want).collect();
            if let Some(step) = self.take(&bytes)? {
                return Ok(step);
            }
        }
    }

    /// Settles a login that [`Step::Authenticated`] held: `Ok` lets the client in, `Err(why)`
    /// refuses it with that reason (sent to RFB 3.8 clients).
    pub fn confirm(&mut self, outcome: Result<(), String>) {
        if self.state != State::AwaitConfirm {
            return;
        }
        let result_due = !self.held_without_password || self.result_due_without_password();
        match outcome {
            Ok(()) => {
                if result_due {
                    self.out.extend_from_slice(&0u32.to_be_bytes());
                }
                self.state = State::ClientInit;
            }
            Err(why) if result_due => {
                self.fail(Refusal::Policy(why.clone()), &why);
            }
            // No SecurityResult in this version: the connection just ends.
            Err(why) => {
                self.finish(Step::Refused(Refusal::Policy(why)));
            }
        }
    }

    /// Says the TLS handshake that [`Step::StartTls`] asked for is done.
    pub fn tls_started(&mut self) {
        if self.state == State::AwaitTls {
            self.after_security();
        }
    }

    fn finish(&mut self, step: Step) -> Option<Step> {
        self.state = State::Over;
        self.verdict = Some(step.clone());
        Some(step)
    }

    /// A failed SecurityResult (with its reason from 3.8 on) and the refusal.
    fn fail(&mut self, why: Refusal, reason: &str) -> Option<Step> {
        self.out.extend_from_slice(&1u32.to_be_bytes());
        if self.version == Version::V3_8 {
            put_reason(&mut self.out, reason);
        }
        self.finish(Step::Refused(why))
    }

    /// After security is settled: the challenge, or the SecurityResult where one is due.
    fn after_security(&mut self) {
        if self.policy.password.is_some() {
            self.out.extend_from_slice(&self.challenge);
            self.state = State::Response;
            return;
        }
        if self.policy.confirm {
            self.held_without_password = true;
            self.state = State::AwaitConfirm;
            return;
        }
        if self.result_due_without_password() {
            self.out.extend_from_slice(&0u32.to_be_bytes());
        }
        self.state = State::ClientInit;
    }

    /// RFB 3.3 and 3.7 send no SecurityResult for type None; 3.8 and VeNCrypt always do.
    fn result_due_without_password(&self) -> bool {
        self.version == Version::V3_8 || self.policy.vencrypt
    }

    fn take(&mut self, b: &[u8]) -> Result<Option<Step>, RfbError> {
        Ok(match self.state {
            State::Version => {
                let mut theirs = [0u8; 12];
                theirs.copy_from_slice(b);
                self.version = client_version(&theirs)?;
                self.offer()
            }
            State::SecurityType => {
                let kind = self.offered();
                if b[0] != kind {
                    let why = format!(
                        "the client chose security type {}, not the offered {kind}",
                        b[0]
                    );
                    return Ok(self.fail(Refusal::Unsupported(why.clone()), &why));
                }
                if kind == security::VENCRYPT {
                    self.out.extend_from_slice(&[0, 2]);
                    self.state = State::VencryptVersion;
                } else {
                    self.after_security();
                }
                None
            }
            State::VencryptVersion => {
                if b != [0, 2] {
                    self.out.push(1);
                    let why = format!("VeNCrypt version {}.{} (0.2 is spoken)", b[0], b[1]);
                    return Ok(self.finish(Step::Refused(Refusal::Unsupported(why))));
                }
                let subtype = if self.policy.password.is_some() {
                    security::X509_VNC
                } else {
                    security::X509_NONE
                };
                self.out.extend_from_slice(&[0, 1]);
                self.out.extend_from_slice(&subtype.to_be_bytes());
                self.state = State::VencryptSubtype;
                None
            }
            State::VencryptSubtype => {
                let chosen = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let subtype = if self.policy.password.is_some() {
                    security::X509_VNC
                } else {
                    security::X509_NONE
                };
                if chosen != subtype {
                    self.out.push(0);
                    let why = format!(
                        "the client chose VeNCrypt subtype {chosen}, not the offered {subtype}"
                    );
                    return Ok(self.finish(Step::Refused(Refusal::Unsupported(why))));
                }
                self.out.push(1);
                self.state = State::AwaitTls;
                Some(Step::StartTls)
            }
            State::Response => {
                let mut answer = [0u8; 16];
                answer.copy_from_slice(b);
                let password = self.policy.password.as_deref().unwrap_or_default();
                if !auth::verify(password, &self.challenge, &answer) {
                    return Ok(self.fail(Refusal::WrongPassword, "authentication failed"));
                }
                if self.policy.confirm {
                    self.state = State::AwaitConfirm;
                    return Ok(Some(Step::Authenticated));
                }
                self.out.extend_from_slice(&0u32.to_be_bytes());
                self.state = State::ClientInit;
                None
            }
            State::ClientInit => {
                let version = self.version;
                self.finish(Step::Done {
                    version,
                    shared: b[0] != 0,
                })
            }
            State::AwaitTls | State::AwaitConfirm | State::Over => None,
        })
    }

    /// The server's security offer once the version is known.
    fn offer(&mut self) -> Option<Step> {
        if let Some(why) = self.policy.refuse.clone() {
            // No security types, then the reason: the same bytes in every version (3.3's
            // "type 0" is a 32-bit zero, 3.7 and 3.8's empty list an 8-bit one).
            if self.version == Version::V3_3 {
                self.out.extend_from_slice(&0u32.to_be_bytes());
            } else {
                self.out.push(0);
            }
            put_reason(&mut self.out, &why);
            return self.finish(Step::Refused(Refusal::Policy(why)));
        }
        let kind = self.offered();
        if self.version == Version::V3_3 {
            if kind == security::VENCRYPT {
                // RFB 3.3 lets the server name one type, and VeNCrypt needs 3.7 or later.
                let why = "TLS is required and this RFB 3.3 client cannot negotiate it";
                self.out.extend_from_slice(&0u32.to_be_bytes());
                put_reason(&mut self.out, why);
                return self.finish(Step::Refused(Refusal::Unsupported(why.into())));
            }
            self.out.extend_from_slice(&u32::from(kind).to_be_bytes());
            self.after_security();
        } else {
            self.out.extend_from_slice(&[1, kind]);
            self.state = State::SecurityType;
        }
        None
    }
}

fn put_reason(out: &mut Vec<u8>, why: &str) {
    out.extend_from_slice(&(why.len() as u32).to_be_bytes());
    out.extend_from_slice(why.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: [u8; 16] = [7; 16];

    fn run(policy: Policy, client: &[u8]) -> (Vec<u8>, Result<Step, RfbError>) {
        let mut hs = Handshake::new(policy, CHALLENGE);
        let mut input = client.to_vec();
        let step = hs.advance(&mut input);
        (hs.take_output(), step)
    }

    fn done(version: Version, shared: bool) -> Step {
        Step::Done { version, shared }
    }

    #[test]
    fn no_authentication_in_each_version() {
        let (out, step) = run(Policy::default(), b"RFB 003.008\n\x01\x01");
        assert_eq!(out, b"RFB 003.008\n\x01\x01\0\0\0\0");
        assert_eq!(step.unwrap(), done(Version::V3_8, true));
        // 3.7 sends no SecurityResult for None.
        let (out, step) = run(Policy::default(), b"RFB 003.007\n\x01\x00");
        assert_eq!(out, b"RFB 003.008\n\x01\x01");
        assert_eq!(step.unwrap(), done(Version::V3_7, false));
        // 3.3: the server names the type.
        let (out, step) = run(Policy::default(), b"RFB 003.003\n\x01");
        assert_eq!(out, b"RFB 003.008\n\0\0\0\x01");
        assert_eq!(step.unwrap(), done(Version::V3_3, true));
    }

    #[test]
    fn a_login_without_a_password_is_held_too_and_refused_in_each_version() {
        let policy = Policy {
            confirm: true,
            ..Policy::default()
        };
        // 3.8: a SecurityResult either way, with the reason when refused.
        let mut client = b"RFB 003.008\n\x01".to_vec();
        let mut hs = Handshake::new(policy.clone(), CHALLENGE);
        assert_eq!(hs.advance(&mut client).unwrap(), Step::Authenticated);
        assert_eq!(hs.take_output(), b"RFB 003.008\n\x01\x01");
        hs.confirm(Err("locked".into()));
        assert!(matches!(hs.advance(&mut client).unwrap(), Step::Refused(_)));
        assert_eq!(hs.take_output(), b"\0\0\0\x01\0\0\0\x06locked");
        // 3.7 sends no SecurityResult for None: let in, nothing; refused, the end.
        let mut client = b"RFB 003.007\n\x01\x00".to_vec();
        let mut hs = Handshake::new(policy.clone(), CHALLENGE);
        assert_eq!(hs.advance(&mut client).unwrap(), Step::Authenticated);
        hs.take_output();
        hs.confirm(Ok(()));
        assert_eq!(hs.advance(&mut client).unwrap(), done(Version::V3_7, false));
        assert_eq!(hs.take_output(), b"");
        let mut client = b"RFB 003.007\n\x01".to_vec();
        let mut hs = Handshake::new(policy, CHALLENGE);
        assert_eq!(hs.advance(&mut client).unwrap(), Step::Authenticated);
        hs.take_output();
        hs.confirm(Err("locked".into()));
        assert!(matches!(hs.advance(&mut client).unwrap(), Step::Refused(_)));
        assert_eq!(hs.take_output(), b"");
    }

    #[test]
    fn a_confirmed_login_waits_for_its_confirmation() {
        let policy = Policy {
            password: Some(b"secret".to_vec()),
            confirm: true,
            ..Policy::default()
        };
        let mut client = b"RFB 003.008\n\x02".to_vec();
        client.extend_from_slice(&auth::response(b"secret", &CHALLENGE));
        client.push(1);
        // Held: no SecurityResult yet, and ClientInit waits unread, however often it is asked.
        let mut hs = Handshake::new(policy.clone(), CHALLENGE);
        assert_eq!(hs.advance(&mut client).unwrap(), Step::Authenticated);
        assert_eq!(hs.advance(&mut client).unwrap(), Step::Authenticated);
        let mut want = b"RFB 003.008\n\x01\x02".to_vec();
        want.extend_from_slice(&CHALLENGE);
        assert_eq!(hs.take_output(), want);
        assert_eq!(client, [1]);
        hs.confirm(Ok(()));
        assert_eq!(hs.advance(&mut client).unwrap(), done(Version::V3_8, true));
        assert_eq!(hs.take_output(), [0; 4]);

        // Refused after all: a failed SecurityResult with the reason, and no ClientInit read.
        let mut client = b"RFB 003.008\n\x02".to_vec();
        client.extend_from_slice(&auth::response(b"secret", &CHALLENGE));
        let mut hs = Handshake::new(policy, CHALLENGE);
        assert_eq!(hs.advance(&mut client).unwrap(), Step::Authenticated);
        hs.take_output();
        hs.confirm(Err("used".into()));
        let step = hs.advance(&mut client).unwrap();
        assert_eq!(step, Step::Refused(Refusal::Policy("used".into())));
        assert_eq!(hs.take_output(), b"\0\0\0\x01\0\0\0\x04used");
    }

    #[test]
    fn vnc_authentication_right_and_wrong() {
        let policy = Policy {
            password: Some(b"secret".to_vec()),
            ..Policy::default()
        };
        let answer = auth::response(b"secret", &CHALLENGE);
        let mut client = b"RFB 003.008\n\x02".to_vec();
        client.extend_from_slice(&answer);
        client.push(0);
        let (out, step) = run(policy.clone(), &client);
        let mut want = b"RFB 003.008\n\x01\x02".to_vec();
        want.extend_from_slice(&CHALLENGE);
        want.extend_from_slice(&[0; 4]);
        assert_eq!(out, want);
        assert_eq!(step.unwrap(), done(Version::V3_8, false));

        let mut client = b"RFB 003.008\n\x02".to_vec();
        client.extend_from_slice(&auth::response(b"guess", &CHALLENGE));
        let (out, step) = run(policy, &client);
        assert_eq!(step.unwrap(), Step::Refused(Refusal::WrongPassword));
        assert!(out.ends_with(b"\0\0\0\x01\0\0\0\x15authentication failed"));
    }

    #[test]
    fn the_client_cannot_pick_another_type() {
        let policy = Policy {
            password: Some(b"secret".to_vec()),
            ..Policy::default()
        };
        // Type None while VNC authentication is offered: refused, never let in.
        let (_, step) = run(policy, b"RFB 003.008\n\x01\x01");
        assert!(matches!(
            step.unwrap(),
            Step::Refused(Refusal::Unsupported(_))
        ));
    }

    #[test]
    fn a_refusal_carries_its_reason_in_every_version() {
        let policy = Policy {
            refuse: Some("too many clients".into()),
            ..Policy::default()
        };
        let (out, step) = run(policy.clone(), b"RFB 003.008\n");
        assert_eq!(out, b"RFB 003.008\n\0\0\0\0\x10too many clients");
        assert_eq!(
            step.unwrap(),
            Step::Refused(Refusal::Policy("too many clients".into()))
        );
        let (out, _) = run(policy, b"RFB 003.003\n");
        assert_eq!(out, b"RFB 003.008\n\0\0\0\0\0\0\0\x10too many clients");
    }

    #[test]
    fn vencrypt_runs_tls_then_authenticates() {
        let policy = Policy {
            password: Some(b"pw".to_vec()),
            vencrypt: true,
            ..Policy::default()
        };
        let mut hs = Handshake::new(policy, CHALLENGE);
        let mut input = b"RFB 003.008\n\x13\0\x02\0\0\x01\x05".to_vec();
        assert_eq!(hs.advance(&mut input).unwrap(), Step::StartTls);
        assert!(input.is_empty());
        assert_eq!(
            hs.take_output(),
            b"RFB 003.008\n\x01\x13\0\x02\0\x01\0\0\x01\x05\x01"
        );
        // Until TLS is up the handshake waits for it.
        assert_eq!(hs.advance(&mut input).unwrap(), Step::StartTls);
        hs.tls_started();
        assert_eq!(hs.take_output(), CHALLENGE);
        let mut input = auth::response(b"pw", &CHALLENGE).to_vec();
        input.extend_from_slice(&[1, 0xfa]);
        assert_eq!(hs.advance(&mut input).unwrap(), done(Version::V3_8, true));
        // Bytes after ClientInit are the client's first messages, left for the caller.
        assert_eq!(input, [0xfa]);
        // RFB 3.3 cannot speak VeNCrypt.
        let mut hs = Handshake::new(
            Policy {
                vencrypt: true,
                ..Policy::default()
            },
            CHALLENGE,
        );
        let step = hs.advance(&mut b"RFB 003.003\n".to_vec()).unwrap();
        assert!(matches!(step, Step::Refused(Refusal::Unsupported(_))));
    }

    #[test]
    fn bytes_may_come_one_at_a_time() {
        let mut hs = Handshake::new(Policy::default(), CHALLENGE);
        let mut input = Vec::new();
        for &b in b"RFB 003.008\n\x01" {
            assert_eq!(hs.advance(&mut input).unwrap(), Step::NeedMore);
            input.push(b);
        }
        assert_eq!(hs.advance(&mut input).unwrap(), Step::NeedMore);
        input.push(0);
        assert_eq!(hs.advance(&mut input).unwrap(), done(Version::V3_8, false));
    }

    /// Feeds `client` one byte at a time; every step before the last byte must ask for more.
    /// Returns the output and the step after the last byte.
    fn byte_by_byte(hs: &mut Handshake, client: &[u8]) -> (Vec<u8>, Step) {
        let mut input = Vec::new();
        for (i, &b) in client.iter().enumerate() {
            input.push(b);
            let step = hs.advance(&mut input).unwrap();
            if i + 1 < client.len() {
                assert_eq!(step, Step::NeedMore, "after byte {i}");
            } else {
                assert!(input.is_empty());
                return (hs.take_output(), step);
            }
        }
        (hs.take_output(), Step::NeedMore)
    }

    #[test]
    fn a_full_vnc_authentication_handshake_byte_by_byte() {
        let policy = Policy {
            password: Some(b"secret".to_vec()),
            ..Policy::default()
        };
        let mut hs = Handshake::new(policy, CHALLENGE);
        assert_eq!(hs.take_output(), b"RFB 003.008\n");
        // Each stage's answer comes only once the stage's last byte is in.
        let (out, step) = byte_by_byte(&mut hs, b"RFB 003.008\n");
        assert_eq!((out, step), (vec![1, security::VNC], Step::NeedMore));
        let (out, step) = byte_by_byte(&mut hs, &[security::VNC]);
        assert_eq!((out, step), (CHALLENGE.to_vec(), Step::NeedMore));
        let (out, step) = byte_by_byte(&mut hs, &auth::response(b"secret", &CHALLENGE));
        assert_eq!((out, step), (vec![0, 0, 0, 0], Step::NeedMore));
        let (out, step) = byte_by_byte(&mut hs, &[1]);
        assert_eq!((out, step), (Vec::new(), done(Version::V3_8, true)));
        // The verdict stands; the handshake reads nothing more.
        let mut more = vec![3];
        assert_eq!(hs.advance(&mut more).unwrap(), done(Version::V3_8, true));
        assert_eq!(more, [3]);
    }

    #[test]
    fn a_wrong_password_fails_with_the_same_reason_in_each_version() {
        let policy = Policy {
            password: Some(b"secret".to_vec()),
            ..Policy::default()
        };
        let wrong = auth::response(b"guess", &CHALLENGE);
        // What the server logs; the client reads "authentication failed", where its version
        // carries a reason (3.8 only).
        assert_eq!(Refusal::WrongPassword.to_string(), "wrong password");
        for (version, choice, reason) in [
            (&b"RFB 003.008\n"[..], &[security::VNC][..], true),
            (b"RFB 003.007\n", &[security::VNC], false),
            (b"RFB 003.003\n", &[], false),
        ] {
            let mut client = [version, choice, &wrong].concat();
            let mut hs = Handshake::new(policy.clone(), CHALLENGE);
            let step = hs.advance(&mut client).unwrap();
            assert_eq!(step, Step::Refused(Refusal::WrongPassword));
            let out = hs.take_output();
            let mut tail = vec![0, 0, 0, 1];
            if reason {
                tail.extend_from_slice(b"\0\0\0\x15authentication failed");
            }
            assert!(out.ends_with(&[&CHALLENGE[..], &tail].concat()), "{out:?}");
        }
    }

    #[test]
    fn type_none_is_chosen_only_where_it_is_offered() {
        // Without a password the server offers None alone, and a client that picks VNC
        // authentication instead is refused with the reason.
        let (out, step) = run(Policy::default(), b"RFB 003.008\n\x02");
        let why = "the client chose security type 2, not the offered 1";
        assert_eq!(
            step.unwrap(),
            Step::Refused(Refusal::Unsupported(why.into()))
        );
        let mut want = b"RFB 003.008\n\x01\x01\0\0\0\x01".to_vec();
        want.extend_from_slice(&(why.len() as u32).to_be_bytes());
        want.extend_from_slice(why.as_bytes());
        assert_eq!(out, want);
    }

    #[test]
    fn wrong_versions_are_errors_that_name_them() {
        for bad in [
            &b"RFB 002.000\n"[..],
            b"RFB 3.8\n\0\0\0\0\0",
            b"GET / HTTP/1.1\r\n",
        ] {
            let (out, step) = run(Policy::default(), bad);
            let err = step.unwrap_err().to_string();
            let shown = format!("{:?}", String::from_utf8_lossy(&bad[..12]));
            assert_eq!(err, format!("protocol error: bad ProtocolVersion {shown}"));
            // Only the server's own version went out.
            assert_eq!(out, SERVER_VERSION);
        }
    }
}
