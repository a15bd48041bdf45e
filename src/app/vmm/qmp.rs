//! A small QMP client: the greeting, capability negotiation and commands, over QEMU's unix
//! socket. Every message QEMU sends is bounded; events that arrive between a command and its
//! answer are skipped.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// The longest QMP message accepted: QEMU's answers to the commands used here are a few KiB.
const MAX_MESSAGE: u64 = 1 << 20;
/// How long one answer may take: QEMU answers at once unless it is wedged.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a refused connection is tried again: a QMP monitor serves one client at a time,
/// and refuses the next until QEMU has noticed that the last one left.
const REFUSED_RETRY: Duration = Duration::from_secs(2);

/// Connects to the socket at `path`, trying again while QEMU refuses for at most
/// `REFUSED_RETRY`.
fn connect_patiently(path: &Path) -> std::io::Result<UnixStream> {
    let start = std::time::Instant::now();
    loop {
        match UnixStream::connect(path) {
            Err(e)
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && start.elapsed() < REFUSED_RETRY =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// A QMP connection after capability negotiation.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects to the socket at `path`, reads QEMU's greeting and leaves negotiation mode.
    pub fn connect(path: &Path) -> Result<Self> {
        let stream = connect_patiently(path)
            .with_context(|| format!("cannot connect to QMP at {}", path.display()))?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let writer = stream.try_clone()?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message().context("reading QEMU's QMP greeting")?;
        if greeting.get("QMP").is_none() {
            bail!("the socket at {} does not speak QMP", path.display());
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> Result<Value> {
        let mut line = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_MESSAGE)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            bail!("QEMU closed the QMP connection");
        }
        if !line.ends_with(b"\n") {
            bail!("a QMP message longer than {MAX_MESSAGE} bytes");
        }
        serde_json::from_slice(&line).context("QEMU sent a QMP message that is not JSON")
    }

    /// Runs `command` (with `arguments`) and returns its `return` value; a QMP error is an
    /// error with QEMU's description.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let mut request = json!({ "execute": command });
        if let Some(arguments) = arguments {
            request["arguments"] = arguments;
        }
        let mut text = request.to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .with_context(|| format!("sending QMP {command}"))?;
        loop {
            let message = self
                .read_message()
                .with_context(|| format!("waiting for QEMU's answer to {command}"))?;
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                let desc = error
                    .get("desc")
                    .and_then(Value::as_str)
                    .unwrap_or("no description");
                bail!("QMP {command} failed: {desc}");
            }
            // An event ({"event": ...}) arrived first: not the answer.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A fake QEMU that greets, answers each command in turn with the given lines, and records
    /// what it was sent.
    fn fake_qemu(
        answers: Vec<&'static str>,
    ) -> (tempfile::TempDir, std::thread::JoinHandle<Vec<String>>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::Builder::new().spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            writer
                .write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
                .unwrap();
            let mut seen = Vec::new();
            for answer in answers {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                seen.push(line.trim().to_string());
                writer.write_all(answer.as_bytes()).unwrap();
            }
            seen
        });
        (dir, handle.unwrap())
    }

    #[test]
    fn negotiates_skips_events_and_reports_errors() {
        let (dir, handle) = fake_qemu(vec![
            "{\"return\": {}}\n",
            "{\"event\": \"RESUME\"}\n{\"return\": {}}\n",
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}\n",
        ]);
        let mut qmp = Qmp::connect(&dir.path().join("qmp.sock")).unwrap();
        assert_eq!(qmp.execute("cont", None).unwrap(), json!({}));
        let err = qmp.execute("quit", None).unwrap_err().to_string();
        assert_eq!(err, "QMP quit failed: nope");
        drop(qmp);
        let seen = handle.join().unwrap();
        assert_eq!(
            seen,
            [
                "{\"execute\":\"qmp_capabilities\"}",
                "{\"execute\":\"cont\"}",
                "{\"execute\":\"quit\"}"
            ]
        );
    }

    #[test]
    fn a_socket_that_is_not_qmp_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::Builder::new().spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.write_all(b"{\"hello\": 1}\n").unwrap();
        });
        let err = Qmp::connect(&path).err().unwrap().to_string();
        assert!(err.contains("does not speak QMP"), "{err}");
        handle.unwrap().join().unwrap();
    }
}
