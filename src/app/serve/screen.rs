//! One served device as its clients see it: the newest picture (the hub), the name it is
//! reached by, who may log in, how many may, and where their input and resize requests go.
//! A server of one device has one screen; `serve --all` has one per device, made and ended
//! as devices come and go, while the listeners, the handshake gate and TLS stay the server's.

use super::hub::Hub;
use super::input::ServerInput;
use super::resize::Follow;
use std::time::SystemTime;

/// What a connection to a screen must present, decided when its handshake starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// No authentication (`--no-auth`).
    NoAuth,
    /// VNC authentication with this password; `generation` names the ticket it belongs to.
    Password { password: Vec<u8>, generation: u64 },
    /// Refused before security, with the reason clients show.
    #[allow(dead_code)] // Made by the tickets of the control socket, which lands next.
    Refused(String),
}

/// Who may log in to a screen, asked at every handshake: a fixed password, or the tickets an
/// operator sets at run time.
pub trait Access: Send + Sync {
    /// What a connection to `screen` must present now.
    fn credential(&self, screen: &str, now: SystemTime) -> Credential;
    /// A password login with `generation` succeeded; `Err(why)` refuses it after all (a
    /// one-time password that another connection used first).
    fn redeem(&self, screen: &str, generation: u64, now: SystemTime) -> Result<(), String>;
}

/// One password for the whole run (or none), as `serve` has without a control socket.
pub struct FixedPassword(pub Option<Vec<u8>>);

impl Access for FixedPassword {
    fn credential(&self, _screen: &str, _now: SystemTime) -> Credential {
        match &self.0 {
            Some(password) => Credential::Password {
                password: password.clone(),
                generation: 0,
            },
            None => Credential::NoAuth,
        }
    }

    fn redeem(&self, _screen: &str, _generation: u64, _now: SystemTime) -> Result<(), String> {
        Ok(())
    }
}

/// A served device.
pub struct Screen {
    /// The name clients and operators reach it by: `/vm/NAME`, its socket, its tickets.
    pub name: String,
    /// What ServerInit tells clients (viewers show it as the window's title).
    pub title: String,
    /// The newest picture and the connected clients.
    pub hub: Hub,
    /// The most clients at once.
    pub max_clients: usize,
    /// Where resize requests go, with `--follow-client-size`.
    pub follow: Option<Follow>,
    /// Where clients' keys and pointer go.
    pub input: ServerInput,
}
