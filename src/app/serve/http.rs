//! The HTTP side of the port: WebSocket upgrades for noVNC and, with `--web DIR`, static files
//! (noVNC's own pages). Requests are untrusted: bounded, no path may leave DIR, only regular
//! files are served, and every connection closes after one answer.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use vfio_display::rfb::websocket::{self, Request};

/// The largest file served (noVNC's are well under a megabyte).
const MAX_FILE: u64 = 64 << 20;

/// What came of an HTTP connection.
pub enum Outcome {
    /// It became a WebSocket: RFB follows, starting with these bytes already read.
    WebSocket(Vec<u8>),
    /// It was answered and is over.
    Answered(String),
}

/// Reads one request and answers it (a static file, an error) or accepts its upgrade; with
/// `to_https`, every request is sent to the same address over https instead.
pub fn handle(
    stream: &mut (impl Read + Write),
    web: Option<&Path>,
    to_https: bool,
) -> io::Result<Outcome> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (request, used) = loop {
        match websocket::parse_request(&buf) {
            Ok(Some(done)) => break done,
            Ok(None) => {}
            Err(err) => {
                respond(
                    stream,
                    400,
                    "Bad Request",
                    "text/plain",
                    err.to_string().as_bytes(),
                    true,
                )?;
                return Ok(Outcome::Answered(format!("bad HTTP request: {err}")));
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(Outcome::Answered("closed before its request ended".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if to_https {
        let host = request.header("host").unwrap_or("localhost");
        let response = format!(
            "HTTP/1.1 301 Moved Permanently\r\nLocation: https://{host}{}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            request.target
        );
        stream.write_all(response.as_bytes())?;
        return Ok(Outcome::Answered(format!(
            "{}: sent to https",
            request.path()
        )));
    }
    if request.is_websocket() {
        return match websocket::accept(&request) {
            Ok(response) => {
                stream.write_all(response.as_bytes())?;
                Ok(Outcome::WebSocket(buf.split_off(used)))
            }
            Err(err) => {
                respond(
                    stream,
                    400,
                    "Bad Request",
                    "text/plain",
                    err.to_string().as_bytes(),
                    true,
                )?;
                Ok(Outcome::Answered(format!("WebSocket refused: {err}")))
            }
        };
    }
    let head_only = request.method == "HEAD";
    if request.method != "GET" && !head_only {
        respond(
            stream,
            405,
            "Method Not Allowed",
            "text/plain",
            b"GET or HEAD only\n",
            head_only,
        )?;
        return Ok(Outcome::Answered(format!("{} refused", request.method)));
    }
    let Some(dir) = web else {
        let body = b"This port serves VNC (RFB) and WebSocket. Start `vfio-display serve` with \
            --web DIR to serve a web client's files (for noVNC: --web /usr/share/novnc).\n";
        respond(stream, 404, "Not Found", "text/plain", body, head_only)?;
        return Ok(Outcome::Answered(format!(
            "GET {}: no --web directory",
            request.path()
        )));
    };
    serve_file(stream, dir, &request, head_only)
}

/// Decodes %XX escapes; `None` for a bad escape or a NUL.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    (!out.contains(&0)).then_some(out)
}

/// The file under `dir` that `path` names, or `None` when the path would leave `dir`.
pub fn resolve(dir: &Path, path: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let decoded = percent_decode(path)?;
    let mut out = dir.to_path_buf();
    for segment in decoded.split(|&c| c == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return None,
            s => out.push(std::ffi::OsStr::from_bytes(s)),
        }
    }
    Some(out)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "oga" | "ogg" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve_file(
    stream: &mut (impl Read + Write),
    dir: &Path,
    request: &Request,
    head_only: bool,
) -> io::Result<Outcome> {
    let path = request.path();
    let not_found = |stream: &mut dyn Write, why: &str| -> io::Result<Outcome> {
        respond(
            stream,
            404,
            "Not Found",
            "text/plain",
            b"not found\n",
            head_only,
        )?;
        Ok(Outcome::Answered(format!("GET {path}: {why}")))
    };
    if path == "/" && dir.join("vnc.html").is_file() && !dir.join("index.html").is_file() {
        let response = "HTTP/1.1 302 Found\r\nLocation: /vnc.html\r\nContent-Length: 0\r\n\
                        Connection: close\r\n\r\n";
        stream.write_all(response.as_bytes())?;
        return Ok(Outcome::Answered("GET /: sent to /vnc.html".into()));
    }
    let Some(mut file_path) = resolve(dir, path) else {
        return not_found(stream, "outside the web directory");
    };
    if file_path.is_dir() {
        file_path.push("index.html");
    }
    let Ok(mut file) = File::open(&file_path) else {
        return not_found(stream, "no such file");
    };
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return not_found(stream, "not a regular file of a servable size");
    }
    let mut body = Vec::with_capacity(meta.len() as usize);
    Read::by_ref(&mut file)
        .take(MAX_FILE)
        .read_to_end(&mut body)?;
    respond(
        stream,
        200,
        "OK",
        content_type(&file_path),
        &body,
        head_only,
    )?;
    Ok(Outcome::Answered(format!(
        "GET {path}: 200, {} bytes",
        body.len()
    )))
}

fn respond(
    stream: &mut (impl Write + ?Sized),
    code: u16,
    reason: &str,
    kind: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = Path::new("/srv/web");
        assert_eq!(resolve(dir, "/vnc.html"), Some(dir.join("vnc.html")));
        assert_eq!(resolve(dir, "/app/ui.js"), Some(dir.join("app/ui.js")));
        assert_eq!(resolve(dir, "/a%20b"), Some(dir.join("a b")));
        assert_eq!(resolve(dir, "//etc/passwd"), Some(dir.join("etc/passwd")));
        assert_eq!(resolve(dir, "/../etc/passwd"), None);
        assert_eq!(resolve(dir, "/app/%2e%2e/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(dir, "/a%00b"), None);
        assert_eq!(resolve(dir, "/a%zz"), None);
        assert_eq!(resolve(dir, "/a%2"), None);
    }
}
