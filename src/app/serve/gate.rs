//! Who may start a handshake, and for how long: connections still in their handshake (HTTP,
//! TLS, RFB security, password) are counted per address (per user on a unix socket) and in all, each has one deadline for
//! the whole handshake, and addresses that guessed wrong too often wait, as TigerVNC's
//! blacklist makes them. The accept loop calls [`Gate::reap`] on every turn; a stopping
//! server calls [`Gate::close_all`], so no handshake outlives it.

use super::stream::{Peer, PeerKey, Stream};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Handshakes at once from one address (a /64 for IPv6; a local user on a unix socket): room for a browser's parallel
/// requests and a few viewers. A real client's handshake takes milliseconds, so when the cap
/// is reached the oldest of that address's handshakes is closed if it is older than `GRACE`:
/// a slow-sending attacker cannot hold the door shut for the fast.
pub const PER_ADDRESS: usize = 16;
/// Handshakes at once in all; past it the oldest is closed, as above.
pub const IN_ALL: usize = 64;
/// A handshake this young is not closed to make room: the newcomer is turned away instead
/// (a burst of fast connections must not close each other; a real handshake on a network
/// takes a few round trips).
pub const GRACE: Duration = Duration::from_millis(250);
/// Wrong passwords from an address before it must wait.
pub const FAILURES_ALLOWED: u32 = 5;
/// The first wait; each further failure doubles it (TigerVNC: 10 s, doubling).
pub const FIRST_BLOCK: Duration = Duration::from_secs(10);
/// The longest wait.
pub const MAX_BLOCK: Duration = Duration::from_secs(3600);
/// Addresses remembered for their failures or their web requests (oldest forgotten first past
/// it).
const REMEMBERED: usize = 4096;
/// How long a client may take to speak first before it is taken for a native VNC client
/// (which waits for the server's version).
pub const SNIFF: Duration = Duration::from_millis(150);
/// The same for an address that made a web request lately: a browser opens connections
/// ahead of its requests, and on a loaded machine sends a request well after connecting.
pub const BROWSER_SNIFF: Duration = Duration::from_secs(2);
/// How long an address counts as a browser after its last web request.
const BROWSER_MEMORY: Duration = Duration::from_secs(30);

struct Pending {
    id: u64,
    peer: Peer,
    socket: Stream,
    started: Instant,
    deadline: Instant,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
    block: Duration,
    last: Instant,
}

#[derive(Default)]
struct State {
    pending: Vec<Pending>,
    next_id: u64,
    failures: HashMap<PeerKey, Failures>,
    /// When each address last made a web request.
    web: HashMap<PeerKey, Instant>,
    closing: bool,
}

/// The gate of one server.
pub struct Gate {
    state: Mutex<State>,
    deadline: Duration,
    /// Handshakes at once from one address (`--max-handshakes-per-address`).
    per_address: usize,
    /// Handshakes at once in all (`--max-handshakes`).
    in_all: usize,
}

/// What became of a new connection.
pub enum Admission<'a> {
    /// It may start its handshake; these peers' handshakes were closed to make room.
    In(Ticket<'a>, Vec<Peer>),
    /// Every place is held by a handshake younger than `GRACE`: the connection is closed.
    Full,
    /// The server is closing.
    Closing,
}

/// A connection in its handshake; dropping it (the handshake ended) takes it off the count.
pub struct Ticket<'a> {
    gate: &'a Gate,
    id: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.gate.lock().pending.retain(|p| p.id != self.id);
    }
}

impl Gate {
    /// A gate whose handshakes must end within `deadline` of their connection.
    pub fn new(deadline: Duration) -> Self {
        Gate {
            state: Mutex::new(State::default()),
            deadline,
            per_address: PER_ADDRESS,
            in_all: IN_ALL,
        }
    }

    /// The same gate with other caps (at least one handshake each; one address never more
    /// than all): behind a proxy every viewer comes from the proxy's address.
    pub fn with_limits(mut self, per_address: usize, in_all: usize) -> Self {
        self.in_all = in_all.max(1);
        self.per_address = per_address.clamp(1, self.in_all);
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The deadline every handshake has.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Counts a new connection from `peer` in, closing the oldest handshake (of its address,
    /// or of all) where a cap is reached.
    pub fn admit(
        &self,
        stream: &Stream,
        peer: &Peer,
        now: Instant,
    ) -> std::io::Result<Admission<'_>> {
        let socket = stream.try_clone()?;
        let mut state = self.lock();
        if state.closing {
            return Ok(Admission::Closing);
        }
        let mut evicted = Vec::new();
        let ours = |p: &Pending| p.peer.key() == peer.key();
        if state.pending.iter().filter(|p| ours(p)).count() >= self.per_address {
            match state
                .pending
                .iter()
                .position(|p| ours(p) && now - p.started >= GRACE)
            {
                Some(i) => evicted.push(close(state.pending.remove(i))),
                None => return Ok(Admission::Full),
            }
        }
        if state.pending.len() >= self.in_all {
            match state.pending.iter().position(|p| now - p.started >= GRACE) {
                Some(i) => evicted.push(close(state.pending.remove(i))),
                None => return Ok(Admission::Full),
            }
        }
        state.next_id += 1;
        let id = state.next_id;
        state.pending.push(Pending {
            id,
            peer: peer.clone(),
            socket,
            started: now,
            deadline: now + self.deadline,
        });
        Ok(Admission::In(Ticket { gate: self, id }, evicted))
    }

    /// Closes the handshakes past their deadline; returns their peers.
    pub fn reap(&self, now: Instant) -> Vec<Peer> {
        let mut state = self.lock();
        let (late, keep): (Vec<_>, Vec<_>) =
            state.pending.drain(..).partition(|p| p.deadline <= now);
        state.pending = keep;
        late.into_iter().map(close).collect()
    }

    /// Closes every handshake and admits no more: the server stops.
    pub fn close_all(&self) {
        let mut state = self.lock();
        state.closing = true;
        for p in state.pending.drain(..) {
            close(p);
        }
    }

    /// Notes a web request from `peer`: its next connections may be a browser's.
    pub fn saw_web_request(&self, peer: &Peer, now: Instant) {
        let mut state = self.lock();
        if state.web.len() >= REMEMBERED && !state.web.contains_key(&peer.key()) {
            state
                .web
                .retain(|_, &mut last| now.saturating_duration_since(last) < BROWSER_MEMORY);
            if state.web.len() >= REMEMBERED {
                state.web.clear();
            }
        }
        state.web.insert(peer.key(), now);
    }

    /// How long to wait for a new connection from `peer` to speak first.
    pub fn sniff(&self, peer: &Peer, now: Instant) -> Duration {
        match self.lock().web.get(&peer.key()) {
            Some(&last) if now.saturating_duration_since(last) < BROWSER_MEMORY => BROWSER_SNIFF,
            _ => SNIFF,
        }
    }

    /// Whether the server is closing (`close_all` was called).
    pub fn closing(&self) -> bool {
        self.lock().closing
    }

    /// Handshakes now in progress.
    #[cfg(test)]
    pub fn in_progress(&self) -> usize {
        self.lock().pending.len()
    }

    /// How much longer `peer` must wait after its failed passwords, if it must.
    pub fn blocked(&self, peer: &Peer, now: Instant) -> Option<Duration> {
        let state = self.lock();
        let until = state.failures.get(&peer.key())?.blocked_until?;
        until.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    /// Records a wrong password from `peer`; returns how long it is now blocked, if it is.
    pub fn failed(&self, peer: &Peer, now: Instant) -> Option<Duration> {
        let mut state = self.lock();
        if state.failures.len() >= REMEMBERED && !state.failures.contains_key(&peer.key()) {
            forget_oldest(&mut state.failures, now);
        }
        let f = state.failures.entry(peer.key()).or_insert(Failures {
            count: 0,
            blocked_until: None,
            block: FIRST_BLOCK,
            last: now,
        });
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count < FAILURES_ALLOWED {
            return None;
        }
        let block = f.block;
        f.blocked_until = Some(now + block);
        f.block = (block * 2).min(MAX_BLOCK);
        Some(block)
    }

    /// Forgets `peer`'s failures: it gave the right password.
    pub fn succeeded(&self, peer: &Peer) {
        self.lock().failures.remove(&peer.key());
    }
}

/// Shuts a handshake's socket down (its thread's read or write returns at once).
fn close(p: Pending) -> Peer {
    let _ = p.socket.shutdown(std::net::Shutdown::Both);
    p.peer
}

/// Makes room in the failure table: entries no longer blocked go first, then the oldest.
fn forget_oldest(failures: &mut HashMap<PeerKey, Failures>, now: Instant) {
    failures.retain(|_, f| f.blocked_until.is_some_and(|until| until > now));
    if failures.len() >= REMEMBERED
        && let Some(oldest) = failures.iter().min_by_key(|(_, f)| f.last).map(|(k, _)| *k)
    {
        failures.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};

    fn pair() -> (Stream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (Stream::Tcp(server), client)
    }

    /// Whether the server side of a pair was shut down: the client reads end of stream.
    fn was_closed(client: &mut TcpStream) -> bool {
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        matches!(client.read(&mut [0u8; 1]), Ok(0))
    }

    const A: Peer = Peer::Ip(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1));
    const B: Peer = Peer::Ip(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 1));

    fn admitted<'a>(
        gate: &'a Gate,
        server: &Stream,
        peer: &Peer,
        now: Instant,
    ) -> (Ticket<'a>, Vec<Peer>) {
        match gate.admit(server, peer, now).unwrap() {
            Admission::In(ticket, evicted) => (ticket, evicted),
            Admission::Full => panic!("full"),
            Admission::Closing => panic!("closing"),
        }
    }

    #[test]
    fn a_proxys_address_may_be_given_every_place() {
        // Behind a proxy every viewer comes from one address: its cap raised to all of them.
        let gate = Gate::new(Duration::from_secs(30)).with_limits(100, 40);
        let t0 = Instant::now();
        let mut held = Vec::new();
        for _ in 0..40 {
            let (server, client) = pair();
            let (ticket, evicted) = admitted(&gate, &server, &A, t0);
            assert!(evicted.is_empty());
            held.push((ticket, server, client));
        }
        // One address never more than all (the per-address cap was clamped to 40).
        let (server, _client) = pair();
        assert!(matches!(
            gate.admit(&server, &A, t0).unwrap(),
            Admission::Full
        ));
        let gate = Gate::new(Duration::from_secs(30)).with_limits(1, 1);
        let (server, _client) = pair();
        let _only = admitted(&gate, &server, &A, t0);
        let (other, _c) = pair();
        assert!(matches!(
            gate.admit(&other, &B, t0).unwrap(),
            Admission::Full
        ));
    }

    #[test]
    fn one_address_cannot_hold_more_than_its_share() {
        let gate = Gate::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let mut held = Vec::new();
        let mut first_client = None;
        for i in 0..PER_ADDRESS {
            let (server, client) = pair();
            let (ticket, evicted) = admitted(&gate, &server, &A, t0);
            assert!(evicted.is_empty());
            if i == 0 {
                first_client = Some(client);
            }
            held.push((ticket, server));
        }
        // Another address is not affected.
        let (server_b, _client_b) = pair();
        let (_tb, evicted) = admitted(&gate, &server_b, &B, t0);
        assert!(evicted.is_empty());
        // One more from A while A's are young is turned away; later it closes A's oldest.
        let (server, _client) = pair();
        assert!(matches!(
            gate.admit(&server, &A, t0).unwrap(),
            Admission::Full
        ));
        let (_t, evicted) = admitted(&gate, &server, &A, t0 + GRACE);
        assert_eq!(evicted, vec![A]);
        assert!(was_closed(first_client.as_mut().unwrap()));
        assert_eq!(gate.in_progress(), PER_ADDRESS + 1);
    }

    #[test]
    fn the_whole_gate_is_bounded_and_tickets_leave_it() {
        let gate = Gate::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let mut held = Vec::new();
        for i in 0..IN_ALL + 3 {
            let ip = IpAddr::V4(Ipv4Addr::new(10, 0, (i / 200) as u8, (i % 200) as u8));
            let peer = Peer::Ip(SocketAddr::new(ip, 1));
            let (server, client) = pair();
            let (ticket, _) = admitted(
                &gate,
                &server,
                &peer,
                t0 + GRACE * (i as u32 / IN_ALL as u32),
            );
            held.push((ticket, server, client));
        }
        assert_eq!(gate.in_progress(), IN_ALL);
        assert!(was_closed(&mut held[0].2));
        held.truncate(IN_ALL - 5);
        // The three evicted ones were already gone: dropping tickets frees places.
        assert_eq!(gate.in_progress(), IN_ALL - 8);
    }

    #[test]
    fn late_handshakes_are_reaped_and_closing_closes_all() {
        let gate = Gate::new(Duration::from_millis(100));
        let (server, mut client) = pair();
        let now = Instant::now();
        let (_ticket, _) = admitted(&gate, &server, &A, now);
        assert!(gate.reap(now).is_empty());
        assert_eq!(gate.reap(now + Duration::from_millis(150)), vec![A]);
        assert!(was_closed(&mut client));
        let (server, mut client) = pair();
        let (_ticket, _) = admitted(&gate, &server, &B, now);
        gate.close_all();
        assert!(was_closed(&mut client));
        let (server, _client) = pair();
        assert!(matches!(
            gate.admit(&server, &B, now).unwrap(),
            Admission::Closing
        ));
    }

    #[test]
    fn failed_passwords_block_the_address_with_growing_waits() {
        let gate = Gate::new(Duration::from_secs(30));
        let now = Instant::now();
        for _ in 1..FAILURES_ALLOWED {
            assert_eq!(gate.failed(&A, now), None);
        }
        assert_eq!(gate.blocked(&A, now), None);
        assert_eq!(gate.failed(&A, now), Some(FIRST_BLOCK));
        assert_eq!(gate.blocked(&A, now), Some(FIRST_BLOCK));
        assert_eq!(gate.blocked(&B, now), None);
        let later = now + FIRST_BLOCK;
        assert_eq!(gate.blocked(&A, later), None);
        assert_eq!(gate.failed(&A, later), Some(FIRST_BLOCK * 2));
        gate.succeeded(&A);
        assert_eq!(gate.blocked(&A, later), None);
    }

    #[test]
    fn addresses_that_browsed_lately_get_time_to_speak() {
        let gate = Gate::new(Duration::from_secs(30));
        let now = Instant::now();
        assert_eq!(gate.sniff(&A, now), SNIFF);
        gate.saw_web_request(&A, now);
        assert_eq!(gate.sniff(&A, now + Duration::from_secs(5)), BROWSER_SNIFF);
        assert_eq!(gate.sniff(&B, now), SNIFF);
        assert_eq!(gate.sniff(&A, now + BROWSER_MEMORY), SNIFF);
    }
}
