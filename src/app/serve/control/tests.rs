use super::*;
use crate::app::serve::tickets::{Credential, DefaultCredential, Expiry};
use crate::app::serve::unix_socket::{SocketAccess, bind};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// How long a test waits for something that takes milliseconds.
const DEADLINE: Duration = Duration::from_secs(10);

/// Devices and clients held in memory, recording what it was asked to disconnect.
struct FakeFleet {
    devices: Vec<String>,
    clients: Mutex<Vec<ClientInfo>>,
    /// (device or "#id", why) of every disconnect, in order.
    disconnected: Mutex<Vec<(String, String)>>,
    changed: Condvar,
}

impl FakeFleet {
    fn new(devices: &[&str]) -> Self {
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let clients = devices
            .iter()
            .enumerate()
            .map(|(i, d)| ClientInfo {
                id: i as u64 + 1,
                device: (*d).to_owned(),
                peer: format!("192.0.2.{}:5000", i + 1),
                transport: "vnc".to_owned(),
                since,
            })
            .collect();
        FakeFleet {
            devices: devices.iter().map(|d| (*d).to_owned()).collect(),
            clients: Mutex::new(clients),
            disconnected: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        }
    }

    fn record(&self, what: String, why: &str) {
        self.disconnected
            .lock()
            .unwrap()
            .push((what, why.to_owned()));
        self.changed.notify_all();
    }

    /// Waits until a disconnect was recorded, or the deadline.
    fn wait_for_disconnect(&self) -> Vec<(String, String)> {
        let end = Instant::now() + DEADLINE;
        let mut seen = self.disconnected.lock().unwrap();
        while seen.is_empty() && Instant::now() < end {
            seen = self.changed.wait_timeout(seen, POLL).unwrap().0;
        }
        seen.clone()
    }
}

impl Fleet for FakeFleet {
    fn device_names(&self) -> Vec<String> {
        self.devices.clone()
    }
    fn client_count(&self, device: &str) -> usize {
        self.clients
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.device == device)
            .count()
    }
    fn clients(&self) -> Vec<ClientInfo> {
        self.clients.lock().unwrap().clone()
    }
    fn disconnect_client(&self, id: u64, why: &str) -> bool {
        let mut clients = self.clients.lock().unwrap();
        let before = clients.len();
        clients.retain(|c| c.id != id);
        let found = clients.len() < before;
        drop(clients);
        if found {
            self.record(format!("#{id}"), why);
        }
        found
    }
    fn disconnect_device(&self, device: &str, why: &str) -> usize {
        let mut clients = self.clients.lock().unwrap();
        let before = clients.len();
        clients.retain(|c| c.device != device);
        let count = before - clients.len();
        drop(clients);
        self.record(device.to_owned(), why);
        count
    }
}

/// A control connection as a manager holds one.
struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    /// Connects and checks the greeting.
    fn greeted(path: &Path) -> Client {
        let mut client = Client::connect(path);
        assert_eq!(
            client.read(),
            json!({ "vfio-display": { "version": env!("CARGO_PKG_VERSION") } })
        );
        client
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(
            line.ends_with('\n'),
            "an answer is one whole line: {line:?}"
        );
        serde_json::from_str(&line).unwrap()
    }

    fn ask(&mut self, request: &str) -> Value {
        self.writer.write_all(request.as_bytes()).unwrap();
        self.writer.write_all(b"\n").unwrap();
        self.read()
    }

    /// The connection was closed by the server: end of file, or a reset.
    fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        }
    }
}

fn desc(answer: &Value) -> &str {
    answer["error"]["desc"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

/// A server on a real control socket in a temporary directory, for the length of `body`.
fn with_server(tickets: &Tickets, fleet: &FakeFleet, body: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("control.sock");
    let (listener, _file) = bind(&path, SocketAccess::default()).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stop = AtomicBool::new(false);
    let stopping = || stop.load(Ordering::Acquire);
    std::thread::scope(|s| {
        let server = s.spawn(|| run(&listener, tickets, fleet, &stopping));
        body(&path);
        stop.store(true, Ordering::Release);
        let stopped = Instant::now();
        server.join().unwrap();
        // Every connection thread saw the stop within a poll or two.
        assert!(stopped.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn every_command_is_answered_with_the_request_id() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    let fleet = FakeFleet::new(&["sim0"]);
    with_server(&tickets, &fleet, |path| {
        let mut c = Client::greeted(path);
        // One device: "device" may be left out.
        let answer = c.ask(
            r#"{"execute": "set_password", "arguments": {"password": "s3cret", "one_time": true, "expires": "+60"}, "id": 7}"#,
        );
        assert_eq!(answer, json!({ "return": {}, "id": 7 }));
        let Credential::Password { password, .. } = tickets.credential("sim0", SystemTime::now())
        else {
            panic!("sim0 has no password");
        };
        assert_eq!(password, b"s3cret");

        let answer = c.ask(r#"{"execute": "query-devices", "id": {"any": ["json"]}}"#);
        assert_eq!(answer["id"], json!({"any": ["json"]}));
        let device = &answer["return"][0];
        assert_eq!(device["name"], "sim0");
        assert_eq!(device["clients"], 1);
        assert_eq!(device["auth"], "password");
        assert_eq!(
            (device["one_time"].clone(), device["used"].clone()),
            (json!(true), json!(false))
        );
        let expires = device["expires"].as_u64().unwrap();
        let in_a_minute = time::unix_secs(SystemTime::now()) + 60;
        assert!(
            expires <= in_a_minute && expires + 5 >= in_a_minute,
            "{expires}"
        );
        assert!(!answer.to_string().contains("s3cret"), "{answer}");

        let answer = c.ask(
            r#"{"execute": "expire_password", "arguments": {"device": "sim0", "time": "never"}, "id": "x"}"#,
        );
        assert_eq!(answer, json!({ "return": {}, "id": "x" }));
        let answer = c.ask(r#"{"execute": "query-devices"}"#);
        assert_eq!(answer["return"][0]["expires"], Value::Null);
        assert_eq!(answer.get("id"), None);
        c.ask(r#"{"execute": "expire_password", "arguments": {"time": "now"}}"#);
        assert_eq!(
            c.ask(r#"{"execute": "query-devices"}"#)["return"][0]["auth"],
            "locked"
        );

        let answer = c.ask(r#"{"execute": "query-clients"}"#);
        assert_eq!(
            answer,
            json!({ "return": [{
                "id": 1, "device": "sim0", "peer": "192.0.2.1:5000", "transport": "vnc",
                "since": 1_800_000_000u64,
            }] })
        );
        let answer = c.ask(r#"{"execute": "disconnect", "arguments": {"client": 1}}"#);
        assert_eq!(answer, json!({ "return": { "disconnected": 1 } }));
        let answer = c.ask(r#"{"execute": "disconnect", "arguments": {"client": 1}}"#);
        assert_eq!(answer, json!({ "return": { "disconnected": 0 } }));
        let answer = c.ask(r#"{"execute": "disconnect", "arguments": {"device": "sim0"}}"#);
        assert_eq!(answer, json!({ "return": { "disconnected": 0 } }));
        assert_eq!(
            *fleet.disconnected.lock().unwrap(),
            vec![
                ("#1".to_owned(), OPERATOR_REASON.to_owned()),
                ("sim0".to_owned(), OPERATOR_REASON.to_owned()),
            ]
        );
        // Blank lines are skipped, not answered.
        let answer = c.ask("\n  \n{\"execute\": \"query-clients\", \"id\": 9}");
        assert_eq!(answer, json!({ "return": [], "id": 9 }));
    });
}

const OPERATOR_REASON: &str = "disconnected by the operator";

#[test]
fn bad_requests_are_answered_with_errors() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    let fleet = FakeFleet::new(&["sim0", "sim1"]);
    with_server(&tickets, &fleet, |path| {
        let mut c = Client::greeted(path);
        let cases = [
            ("{\"execute\": ", "not JSON"),
            ("\u{0}\u{ff}", "not JSON"),
            ("[1, 2]", "is a JSON object"),
            (r#"{"arguments": {}}"#, "has no \"execute\""),
            (r#"{"execute": 5}"#, "must be a string"),
            (
                r#"{"execute": "query-devices", "arguments": []}"#,
                "must be a JSON object",
            ),
            (
                r#"{"execute": "query-devices", "extra": 1}"#,
                "member \"extra\" is not known",
            ),
            (
                r#"{"execute": "query-devices", "arguments": {"x": 1}}"#,
                "takes none",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"password": "pw"}}"#,
                "several devices are served: say which with \"device\" (one of sim0, sim1)",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "sim9", "password": "pw"}}"#,
                "no device is named sim9; the devices are sim0, sim1",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "../x", "password": "pw"}}"#,
                "is not a device name",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "sim0", "password": 5}}"#,
                "\"password\" must be a string",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "sim0", "password": ""}}"#,
                "the password is empty",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "sim0"}}"#,
                "needs \"password\"",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "sim0", "password": "pw", "one_time": "yes"}}"#,
                "\"one_time\" must be true or false",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "sim0", "password": "pw", "onetime": true}}"#,
                "the argument \"onetime\" is not known",
            ),
            (
                r#"{"execute": "set_password", "arguments": {"device": "sim0", "password": "pw", "expires": "soon"}}"#,
                "a time is \"now\", \"never\"",
            ),
            (
                r#"{"execute": "expire_password", "arguments": {"device": "sim0"}}"#,
                "needs \"time\"",
            ),
            (
                r#"{"execute": "expire_password", "arguments": {"device": "sim0", "time": "+10"}}"#,
                "device sim0 has no password to expire (no password is set for this device yet)",
            ),
            (
                r#"{"execute": "disconnect", "arguments": {"client": 1, "device": "sim0"}}"#,
                "either \"client\" or \"device\"",
            ),
            (
                r#"{"execute": "disconnect", "arguments": {"client": "one"}}"#,
                "a whole number",
            ),
        ];
        for (request, expected) in cases {
            let answer = c.ask(request);
            assert_eq!(
                answer["error"]["class"], "GenericError",
                "{request}: {answer}"
            );
            assert!(desc(&answer).contains(expected), "{request}: {answer}");
        }
        let answer = c.ask(r#"{"execute": "reboot", "id": 3}"#);
        assert_eq!(answer["error"]["class"], "CommandNotFound");
        assert_eq!(answer["id"], 3);
        assert!(
            desc(&answer).contains("the command \"reboot\" is not known"),
            "{answer}"
        );
        // Nothing was changed by the refused requests, and the connection still works.
        assert_eq!(
            tickets.credential("sim0", SystemTime::now()),
            Credential::Refused(crate::app::serve::tickets::NO_PASSWORD_YET.to_owned())
        );
        assert_eq!(
            c.ask(r#"{"execute": "query-devices"}"#)["return"][1]["name"],
            "sim1"
        );
    });
}

#[test]
fn an_over_long_line_is_refused_and_closes_the_connection() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    let fleet = FakeFleet::new(&["sim0"]);
    with_server(&tickets, &fleet, |path| {
        // A line of exactly the limit is still read (and is not JSON).
        let mut c = Client::greeted(path);
        let answer = c.ask(&"x".repeat(MAX_LINE));
        assert!(desc(&answer).contains("not JSON"), "{answer}");
        let mut c = Client::greeted(path);
        let long = format!("{{\"execute\": \"{}\"}}\n", "x".repeat(MAX_LINE));
        // The server may close before it has read everything: a failed write is expected.
        let _ = c.writer.write_all(long.as_bytes());
        let answer = c.read();
        assert_eq!(
            desc(&answer),
            "a request line is longer than 64 KiB: closing the connection"
        );
        assert!(c.closed());
    });
}

#[test]
fn the_ninth_connection_is_told_why_and_closed() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    let fleet = FakeFleet::new(&["sim0"]);
    with_server(&tickets, &fleet, |path| {
        let mut open: Vec<Client> = (0..MAX_CONNECTIONS)
            .map(|_| Client::greeted(path))
            .collect();
        let mut ninth = Client::connect(path);
        let answer = ninth.read();
        assert!(
            desc(&answer).contains("too many control connections (at most 8"),
            "{answer}"
        );
        assert!(ninth.closed());
        // The eight still work; when one closes, a new one gets in.
        assert!(
            open[7]
                .ask(r#"{"execute": "query-clients"}"#)
                .get("return")
                .is_some()
        );
        drop(open.pop());
        let end = Instant::now() + DEADLINE;
        loop {
            let mut c = Client::connect(path);
            let first = c.read();
            if first.get("vfio-display").is_some() {
                break;
            }
            assert!(
                Instant::now() < end,
                "no room after a connection closed: {first}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    });
}

#[test]
fn changes_are_audited_without_the_password() {
    let tickets = Tickets::new(DefaultCredential::Locked);
    let fleet = FakeFleet::new(&["sim0"]);
    let ctx = Context {
        tickets: &tickets,
        fleet: &fleet,
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let outcome = commands::answer(
        br#"{"execute": "set_password", "arguments": {"device": "sim0", "password": "s3cret", "one_time": true, "expires": "+60"}}"#,
        ctx,
        now,
    );
    assert_eq!(
        outcome.audit.as_deref(),
        Some("set_password device=sim0 one-time expires in 60 s")
    );
    let long = format!(
        r#"{{"execute": "set_password", "arguments": {{"password": "s3cret{}"}}}}"#,
        "x".repeat(294)
    );
    let outcome = commands::answer(long.as_bytes(), ctx, now);
    let audit = outcome.audit.unwrap();
    assert!(
        audit.starts_with("set_password refused: the password has 300 bytes"),
        "{audit}"
    );
    assert!(!audit.contains("s3cret"), "{audit}");
    let outcome = commands::answer(
        br#"{"execute": "expire_password", "arguments": {"time": "never"}}"#,
        ctx,
        now,
    );
    assert_eq!(
        outcome.audit.as_deref(),
        Some("expire_password device=sim0 expires never")
    );
    let outcome = commands::answer(
        br#"{"execute": "disconnect", "arguments": {"device": "sim0"}}"#,
        ctx,
        now,
    );
    assert_eq!(
        outcome.audit.as_deref(),
        Some("disconnect device=sim0: 1 disconnected")
    );
    // Queries change nothing and are not logged.
    let outcome = commands::answer(br#"{"execute": "query-devices"}"#, ctx, now);
    assert_eq!(outcome.audit, None);
}

/// Runs the expiry watcher over a password that expires in a second, until `done` says so.
fn watch_one_expiry(
    on_expire: OnExpire,
    done: impl Fn(&Tickets, &FakeFleet) -> bool + Sync,
) -> FakeFleet {
    let tickets = Tickets::new(DefaultCredential::Locked);
    let fleet = FakeFleet::new(&["sim0", "sim1"]);
    let expires = SystemTime::now() + Duration::from_secs(1);
    tickets
        .set_password("sim0", b"pw".to_vec(), false, Expiry::At(expires))
        .unwrap();
    tickets
        .set_password("sim1", b"pw".to_vec(), false, Expiry::Never)
        .unwrap();
    let stop = AtomicBool::new(false);
    let stopping = || stop.load(Ordering::Acquire);
    std::thread::scope(|s| {
        let watcher = s.spawn(|| watch_expiry(&tickets, &fleet, on_expire, &stopping));
        let end = Instant::now() + DEADLINE;
        while !done(&tickets, &fleet) {
            assert!(
                Instant::now() < end,
                "the watcher did not handle the expiry"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(SystemTime::now() >= expires, "handled before the expiry");
        stop.store(true, Ordering::Release);
        watcher.join().unwrap();
    });
    fleet
}

#[test]
fn the_watcher_disconnects_an_expired_device_with_disconnect() {
    let fleet = watch_one_expiry(OnExpire::Disconnect, |_, fleet| {
        !fleet.disconnected.lock().unwrap().is_empty()
    });
    assert_eq!(
        fleet.wait_for_disconnect(),
        vec![("sim0".to_owned(), "the password expired".to_owned())]
    );
    assert_eq!(fleet.client_count("sim0"), 0);
    assert_eq!(fleet.client_count("sim1"), 1);
}

#[test]
fn the_watcher_keeps_clients_with_keep() {
    // The expiry was handled once `due` reported it: nothing is left to expire.
    let fleet = watch_one_expiry(OnExpire::Keep, |tickets, _| tickets.next_expiry().is_none());
    assert!(fleet.disconnected.lock().unwrap().is_empty());
    assert_eq!(fleet.client_count("sim0"), 1);
}
