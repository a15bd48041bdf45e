//! One control request, answered: the JSON line parsed into a command and its arguments, the
//! command run against the tickets and the fleet, and the answer in QMP's shape (`return` or
//! `error`, with the request's `id` echoed).

use super::Context;
use super::time;
use crate::app::serve::tickets::valid_device_name;
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// What the client is told when it disconnects a client or a device's clients.
const OPERATOR: &str = "disconnected by the operator";

/// The commands, as an unknown one's error lists them.
const COMMANDS: &str = "set_password, expire_password, query-devices, query-clients, disconnect";

/// How much of a name the client sent is echoed in an error.
const ECHO: usize = 64;

/// A request's answer, and the audit log's line for a request that changes something.
#[derive(Debug)]
pub(super) struct Outcome {
    pub answer: Value,
    pub audit: Option<String>,
}

/// Why a request failed: QMP's error class and a description.
struct Failure {
    class: &'static str,
    desc: String,
}

impl From<String> for Failure {
    fn from(desc: String) -> Self {
        Failure {
            class: "GenericError",
            desc,
        }
    }
}

impl From<&str> for Failure {
    fn from(desc: &str) -> Self {
        desc.to_owned().into()
    }
}

/// An error answer, with `id` when the request had one.
pub(super) fn error_answer(desc: &str, id: Option<Value>) -> Value {
    with_id(
        json!({ "error": { "class": "GenericError", "desc": desc } }),
        id,
    )
}

fn with_id(mut answer: Value, id: Option<Value>) -> Value {
    if let (Some(id), Some(obj)) = (id, answer.as_object_mut()) {
        obj.insert("id".to_owned(), id);
    }
    answer
}

/// Answers one request line at `now`.
pub(super) fn answer(line: &[u8], ctx: Context<'_>, now: SystemTime) -> Outcome {
    let request: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(err) => {
            return Outcome {
                answer: error_answer(&format!("the request is not JSON: {err}"), None),
                audit: None,
            };
        }
    };
    let Value::Object(mut request) = request else {
        return Outcome {
            answer: error_answer(
                "a request is a JSON object such as {\"execute\": \"query-devices\"}",
                None,
            ),
            audit: None,
        };
    };
    let id = request.remove("id");
    let (result, audit) = match parse(request) {
        Ok((name, args)) => run(&name, &Args(args), ctx, now),
        Err(failure) => (Err(failure), None),
    };
    let answer = match result {
        Ok(value) => json!({ "return": value }),
        Err(Failure { class, desc }) => json!({ "error": { "class": class, "desc": desc } }),
    };
    Outcome {
        answer: with_id(answer, id),
        audit,
    }
}

/// The command's name and its arguments.
fn parse(mut request: Map<String, Value>) -> Result<(String, Map<String, Value>), Failure> {
    let name = match request.remove("execute") {
        Some(Value::String(name)) => name,
        Some(_) => return Err("\"execute\" must be a string: the command's name".into()),
        None => return Err("the request has no \"execute\": the command's name".into()),
    };
    let args = match request.remove("arguments") {
        Some(Value::Object(args)) => args,
        None => Map::new(),
        Some(_) => return Err("\"arguments\" must be a JSON object".into()),
    };
    if let Some(key) = request.keys().next() {
        return Err(format!("the request member {} is not known", echo(key)).into());
    }
    Ok((name, args))
}

/// A name the client sent, quoted and cut short for an error message.
fn echo(s: &str) -> String {
    let cut: String = s.chars().take(ECHO).collect();
    if cut.len() < s.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

type Ran = (Result<Value, Failure>, Option<String>);

/// Runs a command; a command that changes something (or tried to) has an audit line.
fn run(name: &str, args: &Args, ctx: Context<'_>, now: SystemTime) -> Ran {
    match name {
        "set_password" => audited(name, set_password(args, ctx, now)),
        "expire_password" => audited(name, expire_password(args, ctx, now)),
        "disconnect" => audited(name, disconnect(args, ctx)),
        "query-devices" => (query_devices(args, ctx, now), None),
        "query-clients" => (query_clients(args, ctx), None),
        _ => (
            Err(Failure {
                class: "CommandNotFound",
                desc: format!(
                    "the command {} is not known; the commands are {COMMANDS}",
                    echo(name)
                ),
            }),
            None,
        ),
    }
}

/// The audit line of a changing command: what it did, or why it was refused.
fn audited(name: &str, result: Result<(Value, String), Failure>) -> Ran {
    match result {
        Ok((value, done)) => (Ok(value), Some(format!("{name} {done}"))),
        Err(failure) => {
            let line = format!("{name} refused: {}", failure.desc);
            (Err(failure), Some(line))
        }
    }
}

/// A command's arguments, each checked for its type; unknown ones are refused, as QMP does,
/// so that a misspelt "one_time" does not silently make a password that lasts.
struct Args(Map<String, Value>);

impl Args {
    fn only(&self, known: &[&str]) -> Result<(), Failure> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) if known.is_empty() => Err(format!(
                "the argument {} is not known: this command takes none",
                echo(key)
            )
            .into()),
            Some(key) => Err(format!(
                "the argument {} is not known; this command takes {}",
                echo(key),
                known.join(", ")
            )
            .into()),
            None => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<&str>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("\"{key}\" must be a string").into()),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, Failure> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("\"{key}\" must be true or false").into()),
        }
    }
}

/// The device a command names, or the only one served when it names none.
fn device(args: &Args, ctx: Context<'_>) -> Result<String, Failure> {
    let names = ctx.fleet.device_names();
    match args.string("device")? {
        Some(name) if !valid_device_name(name) => Err(format!(
            "{} is not a device name: names have 1 to 64 letters, digits, '.', '_' and '-'",
            echo(name)
        )
        .into()),
        Some(name) if names.iter().any(|n| n == name) => Ok(name.to_owned()),
        Some(name) => Err(format!(
            "no device is named {name}; the devices are {}",
            listed(&names)
        )
        .into()),
        None => match names.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err("no device is served".into()),
            _ => Err(format!(
                "several devices are served: say which with \"device\" (one of {})",
                listed(&names)
            )
            .into()),
        },
    }
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn set_password(
    args: &Args,
    ctx: Context<'_>,
    now: SystemTime,
) -> Result<(Value, String), Failure> {
    args.only(&["device", "password", "one_time", "expires"])?;
    let device = device(args, ctx)?;
    let password = args
        .string("password")?
        .ok_or("set_password needs \"password\"")?;
    let one_time = args.bool("one_time")?.unwrap_or(false);
    let expiry = match args.get("expires") {
        Some(v) => time::parse(v, now)?,
        None => crate::app::serve::tickets::Expiry::Never,
    };
    ctx.tickets
        .set_password(&device, password.as_bytes().to_vec(), one_time, expiry)
        .map_err(|e| e.to_string())?;
    let kind = if one_time { " one-time" } else { "" };
    Ok((
        json!({}),
        format!("device={device}{kind} {}", time::describe(expiry, now)),
    ))
}

fn expire_password(
    args: &Args,
    ctx: Context<'_>,
    now: SystemTime,
) -> Result<(Value, String), Failure> {
    args.only(&["device", "time"])?;
    let device = device(args, ctx)?;
    let expiry = match args.get("time") {
        Some(v) => time::parse(v, now)?,
        None => return Err("expire_password needs \"time\"".into()),
    };
    ctx.tickets
        .expire_password(&device, expiry)
        .map_err(|e| e.to_string())?;
    Ok((
        json!({}),
        format!("device={device} {}", time::describe(expiry, now)),
    ))
}

fn disconnect(args: &Args, ctx: Context<'_>) -> Result<(Value, String), Failure> {
    args.only(&["client", "device"])?;
    let (count, what) = match (args.get("client"), args.get("device")) {
        (Some(client), None) => {
            let id = client
                .as_u64()
                .ok_or("\"client\" must be a client's id, a whole number")?;
            (
                usize::from(ctx.fleet.disconnect_client(id, OPERATOR)),
                format!("client={id}"),
            )
        }
        (None, Some(_)) => {
            let device = device(args, ctx)?;
            let count = ctx.fleet.disconnect_device(&device, OPERATOR);
            (count, format!("device={device}"))
        }
        _ => return Err("disconnect takes either \"client\" or \"device\"".into()),
    };
    Ok((
        json!({ "disconnected": count }),
        format!("{what}: {count} disconnected"),
    ))
}

fn query_devices(args: &Args, ctx: Context<'_>, now: SystemTime) -> Result<Value, Failure> {
    args.only(&[])?;
    let devices: Vec<Value> = ctx
        .fleet
        .device_names()
        .into_iter()
        .map(|name| {
            let info = ctx.tickets.describe(&name, now);
            json!({
                "name": name,
                "clients": ctx.fleet.client_count(&name),
                "auth": info.auth.name(),
                "expires": info.expires.map(time::unix_secs),
                "one_time": info.one_time,
                "used": info.used,
            })
        })
        .collect();
    Ok(Value::Array(devices))
}

fn query_clients(args: &Args, ctx: Context<'_>) -> Result<Value, Failure> {
    args.only(&[])?;
    let clients: Vec<Value> = ctx
        .fleet
        .clients()
        .into_iter()
        .map(|c| {
            json!({
                "id": c.id,
                "device": c.device,
                "peer": c.peer,
                "transport": c.transport,
                "since": time::unix_secs(c.since),
            })
        })
        .collect();
    Ok(Value::Array(clients))
}
