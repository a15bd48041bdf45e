//! One served device as its clients see it: the newest picture (the hub), the name it is
//! reached by, who may log in, how many may, and where their input and resize requests go.
//! A server of one device has one screen; `serve --all` has one per device, made and ended
//! as devices come and go, while the listeners, the handshake gate and TLS stay the server's.

use super::hub::Hub;
use super::input::ServerInput;
use super::resize::Follow;
use std::time::SystemTime;

pub use super::tickets::Credential;
use super::tickets::Tickets;

/// Who may log in to a screen, asked at every handshake: the run's password, or the tickets
/// an operator sets at run time through the control socket.
pub trait Access: Send + Sync {
    /// What a connection to `screen` must present now.
    fn credential(&self, screen: &str, now: SystemTime) -> Credential;
    /// A password login with `generation` succeeded; `Err(why)` refuses it after all (a
    /// one-time password that another connection used first).
    fn redeem(&self, screen: &str, generation: u64, now: SystemTime) -> Result<(), String>;
}

impl Access for Tickets {
    fn credential(&self, screen: &str, now: SystemTime) -> Credential {
        Tickets::credential(self, screen, now)
    }

    fn redeem(&self, screen: &str, generation: u64, now: SystemTime) -> Result<(), String> {
        Tickets::redeem(self, screen, generation, now)
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
