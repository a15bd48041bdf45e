//! Who may log in to which device, changed at run time by the control socket: a device has
//! the server's default credential until an operator gives it a password of its own, which may
//! be one-time (the first login uses it up) and may expire, as QEMU's QMP `set_password` and
//! `expire_password` do for its VNC server.
//!
//! Each password a device gets is numbered (its generation): a connection checks its password
//! against the credential it was given when it started, and `redeem` then tells whether that
//! same password is still the current one, so two connections that race for one one-time
//! password cannot both get in, and a password replaced during a login lets nobody in with it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

/// The longest password, in bytes. VNC authentication (DES) uses only the first 8 bytes, as
/// every VNC server does: a longer password is accepted, but its tail is not checked there.
pub const MAX_PASSWORD: usize = 256;

/// The longest device name, in bytes.
pub const MAX_DEVICE_NAME: usize = 64;

/// The most devices with a ticket of their own, so that the table stays bounded whatever the
/// control socket is asked.
pub const MAX_TICKETS: usize = 1024;

/// Why a connection is refused when the device has no password yet.
pub const NO_PASSWORD_YET: &str = "no password is set for this device yet";
/// Why a connection is refused when the device's password expired.
pub const EXPIRED: &str = "the password for this device expired";
/// Why a connection is refused when its one-time password was used by another login.
pub const USED: &str = "the one-time password was already used";
/// Why a login is refused when its password was replaced while it was checked.
pub const REPLACED: &str = "the password for this device was changed during the login";

/// What a device without a ticket of its own accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultCredential {
    /// Anyone, without a password (`--no-auth`).
    NoAuth,
    /// This password (the run's or `--password-file`'s).
    Password(Vec<u8>),
    /// Nobody, until the control socket sets a password.
    Locked,
}

/// When a password stops letting clients in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// It never expires.
    Never,
    /// It is expired from this instant on (a login at the instant itself is refused).
    At(SystemTime),
}

impl Expiry {
    fn passed(self, now: SystemTime) -> bool {
        match self {
            Expiry::Never => false,
            Expiry::At(at) => now >= at,
        }
    }
}

/// What a connection to a device must present now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Nothing: the device is served without authentication.
    NoAuth,
    /// This password; `generation` goes back to [`Tickets::redeem`] after the login.
    Password {
        /// The password (VNC authentication checks its first 8 bytes).
        password: Vec<u8>,
        /// Which of the device's passwords this is.
        generation: u64,
    },
    /// Refused before security, with the RFB reason string clients show.
    Refused(String),
}

/// How a device is reached now, as `query-devices` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Without a password.
    None,
    /// With a password that lets clients in now.
    Password,
    /// Not at all: no password yet, or it expired, or it was one-time and used.
    Locked,
}

impl Auth {
    /// The name `query-devices` shows.
    pub fn name(self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Password => "password",
            Auth::Locked => "locked",
        }
    }
}

/// What `query-devices` shows of a device's ticket (never the password itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketInfo {
    /// How a client gets in now.
    pub auth: Auth,
    /// When the current password expires (or expired), if it does.
    pub expires: Option<SystemTime>,
    /// The password is one-time.
    pub one_time: bool,
    /// The one-time password was used.
    pub used: bool,
}

/// A request the tickets cannot take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The device name is empty, too long or has other characters.
    #[error("a device name has 1 to {MAX_DEVICE_NAME} bytes of letters, digits, '.', '_' and '-'")]
    BadDeviceName,
    /// The password is empty.
    #[error("the password is empty (to serve without one, start serve with --no-auth)")]
    EmptyPassword,
    /// The password is longer than [`MAX_PASSWORD`].
    #[error(
        "the password has {0} bytes; at most {MAX_PASSWORD} are taken (VNC authentication \
         checks the first 8)"
    )]
    LongPassword(usize),
    /// `expire_password` on a device that has no password.
    #[error("device {0} has no password to expire ({1})")]
    NoPassword(String, &'static str),
    /// The table of tickets is full.
    #[error("{MAX_TICKETS} devices have tickets already")]
    Full,
}

/// A device's own state: its password, or the default's with an expiry of its own.
#[derive(Debug)]
struct Entry {
    /// The device's own password and whether it is one-time; None: the default password.
    own: Option<(Vec<u8>, bool)>,
    expiry: Expiry,
    used: bool,
    generation: u64,
    /// `due` reported this entry's expiry already.
    reported: bool,
}

/// The generation of the default password (own passwords count from 1).
const DEFAULT_GENERATION: u64 = 0;

#[derive(Debug)]
struct Table {
    entries: HashMap<String, Entry>,
    next_generation: u64,
}

/// Every device's ticket; shared by the client threads, the control socket and the expiry
/// watcher.
#[derive(Debug)]
pub struct Tickets {
    default: DefaultCredential,
    table: Mutex<Table>,
}

/// Whether `name` is a device name the tickets take.
pub fn valid_device_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_DEVICE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl Tickets {
    /// Tickets where every device accepts `default` until it is given a password of its own.
    pub fn new(default: DefaultCredential) -> Self {
        Tickets {
            default,
            table: Mutex::new(Table {
                entries: HashMap::new(),
                next_generation: DEFAULT_GENERATION + 1,
            }),
        }
    }

    /// The table; a thread that panicked while holding it left it consistent (every change is
    /// one assignment), so a poisoned lock is taken over rather than failing every login.
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A password for `device` (replacing its ticket): one-time (the first successful login
    /// uses it up) and/or expiring. The password has 1 to [`MAX_PASSWORD`] bytes; VNC
    /// authentication checks only its first 8.
    pub fn set_password(
        &self,
        device: &str,
        password: Vec<u8>,
        one_time: bool,
        expiry: Expiry,
    ) -> Result<(), TicketError> {
        if !valid_device_name(device) {
            return Err(TicketError::BadDeviceName);
        }
        if password.is_empty() {
            return Err(TicketError::EmptyPassword);
        }
        if password.len() > MAX_PASSWORD {
            return Err(TicketError::LongPassword(password.len()));
        }
        let mut table = self.lock();
        if !table.entries.contains_key(device) && table.entries.len() >= MAX_TICKETS {
            return Err(TicketError::Full);
        }
        let generation = table.next_generation;
        table.next_generation += 1;
        table.entries.insert(
            device.to_owned(),
            Entry {
                own: Some((password, one_time)),
                expiry,
                used: false,
                generation,
                reported: false,
            },
        );
        Ok(())
    }

    /// Sets when the device's current password (its own, or the default) expires.
    pub fn expire_password(&self, device: &str, expiry: Expiry) -> Result<(), TicketError> {
        if !valid_device_name(device) {
            return Err(TicketError::BadDeviceName);
        }
        let mut table = self.lock();
        if let Some(entry) = table.entries.get_mut(device) {
            entry.expiry = expiry;
            entry.reported = false;
            return Ok(());
        }
        match self.default {
            DefaultCredential::Password(_) => {}
            DefaultCredential::NoAuth => {
                return Err(TicketError::NoPassword(
                    device.to_owned(),
                    "it is served without authentication",
                ));
            }
            DefaultCredential::Locked => {
                return Err(TicketError::NoPassword(device.to_owned(), NO_PASSWORD_YET));
            }
        }
        if table.entries.len() >= MAX_TICKETS {
            return Err(TicketError::Full);
        }
        table.entries.insert(
            device.to_owned(),
            Entry {
                own: None,
                expiry,
                used: false,
                generation: DEFAULT_GENERATION,
                reported: false,
            },
        );
        Ok(())
    }

    /// What a connection to `device` must present now.
    pub fn credential(&self, device: &str, now: SystemTime) -> Credential {
        let table = self.lock();
        let Some(entry) = table.entries.get(device) else {
            return match &self.default {
                DefaultCredential::NoAuth => Credential::NoAuth,
                DefaultCredential::Password(p) => Credential::Password {
                    password: p.clone(),
                    generation: DEFAULT_GENERATION,
                },
                DefaultCredential::Locked => Credential::Refused(NO_PASSWORD_YET.to_owned()),
            };
        };
        if let Err(why) = usable(entry, now) {
            return Credential::Refused(why.to_owned());
        }
        match (&entry.own, &self.default) {
            (Some((password, _)), _) | (None, DefaultCredential::Password(password)) => {
                Credential::Password {
                    password: password.clone(),
                    generation: entry.generation,
                }
            }
            // An entry without a password of its own exists only for a default password.
            (None, _) => Credential::Refused(NO_PASSWORD_YET.to_owned()),
        }
    }

    /// Called after a successful password login with the generation `credential` gave:
    /// Err(reason) when that one-time ticket was already used by another connection (two
    /// racing connections: exactly one wins), or was replaced meanwhile, or expired while the
    /// client answered (QEMU checks the expiry on the client's answer too).
    pub fn redeem(&self, device: &str, generation: u64, now: SystemTime) -> Result<(), String> {
        let mut table = self.lock();
        let Some(entry) = table.entries.get_mut(device) else {
            return match self.default {
                DefaultCredential::Password(_) if generation == DEFAULT_GENERATION => Ok(()),
                DefaultCredential::Locked => Err(NO_PASSWORD_YET.to_owned()),
                _ => Err(REPLACED.to_owned()),
            };
        };
        if entry.generation != generation {
            return Err(REPLACED.to_owned());
        }
        usable(entry, now).map_err(str::to_owned)?;
        if matches!(entry.own, Some((_, true))) {
            entry.used = true;
        }
        Ok(())
    }

    /// Devices whose password expired since the last call (each reported once, until its
    /// expiry is set again).
    pub fn due(&self, now: SystemTime) -> Vec<String> {
        let mut table = self.lock();
        let mut due = Vec::new();
        for (name, entry) in &mut table.entries {
            if !entry.reported && entry.expiry.passed(now) {
                entry.reported = true;
                due.push(name.clone());
            }
        }
        due.sort();
        due
    }

    /// The next expiry time of any ticket not yet reported by `due`, for a watcher to sleep
    /// until.
    pub fn next_expiry(&self) -> Option<SystemTime> {
        self.lock()
            .entries
            .values()
            .filter(|e| !e.reported)
            .filter_map(|e| match e.expiry {
                Expiry::At(at) => Some(at),
                Expiry::Never => None,
            })
            .min()
    }

    /// What `query-devices` shows of a device: how clients get in now, its expiry, one-time or
    /// not, used or not (never the password itself).
    pub fn describe(&self, device: &str, now: SystemTime) -> TicketInfo {
        let table = self.lock();
        let Some(entry) = table.entries.get(device) else {
            let auth = match self.default {
                DefaultCredential::NoAuth => Auth::None,
                DefaultCredential::Password(_) => Auth::Password,
                DefaultCredential::Locked => Auth::Locked,
            };
            return TicketInfo {
                auth,
                expires: None,
                one_time: false,
                used: false,
            };
        };
        let auth = if usable(entry, now).is_ok() {
            Auth::Password
        } else {
            Auth::Locked
        };
        TicketInfo {
            auth,
            expires: match entry.expiry {
                Expiry::Never => None,
                Expiry::At(at) => Some(at),
            },
            one_time: matches!(entry.own, Some((_, true))),
            used: entry.used,
        }
    }
}

/// Whether the entry's password lets a client in at `now`, or why not.
fn usable(entry: &Entry, now: SystemTime) -> Result<(), &'static str> {
    if entry.expiry.passed(now) {
        Err(EXPIRED)
    } else if entry.used {
        Err(USED)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
