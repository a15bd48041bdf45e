//! The expiry watcher: logs each device whose password expires, and with
//! [`OnExpire::Disconnect`] closes its clients then. New connections are refused by the tickets
//! themselves at the instant; this thread is only for what is already connected.

use super::{Fleet, POLL};
use crate::app::serve::tickets::Tickets;
use std::time::SystemTime;

/// What happens to a device's connected clients when its password expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExpire {
    /// They stay, as in QEMU: the expiry only refuses new logins.
    Keep,
    /// They are disconnected with the reason "the password expired".
    Disconnect,
}

/// What expired clients are told.
pub const EXPIRED: &str = "the password expired";

/// Sleeps until the next expiry (never longer than 200 ms, so that a stopping server is seen
/// promptly) and handles `tickets.due()`: logs "vfio-display: device NAME: its password
/// expired" and, with `Disconnect`, disconnects the device's clients with the reason "the
/// password expired". Returns when `stopping()`.
pub fn watch_expiry(
    tickets: &Tickets,
    fleet: &dyn Fleet,
    on_expire: OnExpire,
    stopping: &(dyn Fn() -> bool + Sync),
) {
    while !stopping() {
        for device in tickets.due(SystemTime::now()) {
            match on_expire {
                OnExpire::Keep => errln!("vfio-display: device {device}: its password expired"),
                OnExpire::Disconnect => {
                    let count = fleet.disconnect_device(&device, EXPIRED);
                    let clients = if count == 1 { "client" } else { "clients" };
                    errln!(
                        "vfio-display: device {device}: its password expired ({count} \
                         {clients} disconnected)"
                    );
                }
            }
        }
        // An expiry already past (set since `due` ran) is handled on the next turn at once.
        let wait = match tickets.next_expiry() {
            Some(at) => at
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .min(POLL),
            None => POLL,
        };
        std::thread::sleep(wait);
    }
}
