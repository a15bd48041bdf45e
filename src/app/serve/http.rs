//! The HTTP side of the port: WebSocket upgrades for noVNC (from the server's own pages or
//! an allowed origin only: `origin`) and, with `--web DIR`, static files (noVNC's own pages).
//! Requests are untrusted: bounded; files are opened beneath DIR only (`openat2` with
//! `RESOLVE_BENEATH`: no `..`, no absolute link, no link out of DIR), no dotfiles, only regular
//! files (opened without blocking, so a FIFO cannot hold a thread), streamed in bounded chunks;
//! and every connection closes after one answer.

use super::origin::OriginPolicy;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::Mode;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use vfio_display::rfb::websocket::{self, Request};

/// The largest file served (noVNC's are well under a megabyte).
const MAX_FILE: u64 = 64 << 20;

/// Files are sent in chunks of this size: a connection holds no more of a file at once.
const CHUNK: usize = 64 << 10;

/// What came of an HTTP connection.
pub enum Outcome {
    /// It became a WebSocket at `path`: RFB follows, starting with `leftover`, bytes already
    /// read.
    WebSocket { leftover: Vec<u8>, path: String },
    /// It was answered and is over.
    Answered(String),
}

/// The directory `--web` serves, opened once at start: every file is opened beneath it.
#[derive(Debug)]
pub struct WebRoot {
    dir: OwnedFd,
    path: PathBuf,
}

impl WebRoot {
    /// Opens `path` as the web root.
    pub fn open(path: &Path) -> io::Result<WebRoot> {
        let dir = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(WebRoot {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// The directory as the user named it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file `rel` names beneath the root: never outside it, never a dotfile, never
    /// blocking (a FIFO opens at once and is then refused as not regular).
    fn open_beneath(&self, rel: &[u8]) -> io::Result<File> {
        open_beneath(self.dir.as_fd(), rel)
    }

    /// Whether a regular file `name` is directly in the root.
    pub fn has_file(&self, name: &str) -> bool {
        self.open_beneath(name.as_bytes())
            .and_then(|f| f.metadata())
            .is_ok_and(|m| m.is_file())
    }
}

fn open_beneath(dir: std::os::fd::BorrowedFd<'_>, rel: &[u8]) -> io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let rel = if rel.is_empty() { b"." as &[u8] } else { rel };
    let fd = openat2(dir, std::ffi::OsStr::from_bytes(rel), how).map_err(io::Error::from)?;
    Ok(File::from(fd))
}

/// A page the server makes itself.
pub struct Page {
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: Vec<u8>,
}

/// Pages answered before static files, and the paths a WebSocket may open: `serve --all`'s
/// index, thumbnails and `/vm/NAME`.
pub trait Pages: Sync {
    /// The page at `path` (without its query), if this server makes one there.
    fn page(&self, path: &str) -> Option<Page>;
    /// Whether `path` is one of this server's own pages (answered only to a literal host).
    fn owns(&self, path: &str) -> bool;
    /// Whether a WebSocket may be opened at `path`: `Err(why)` answers 404 with the reason.
    fn websocket(&self, path: &str) -> Result<(), String>;
}

/// How HTTP requests are answered.
#[derive(Debug, Default)]
pub struct HttpPolicy {
    /// Static files, with `--web DIR`.
    pub web: Option<WebRoot>,
    /// Which pages may open a WebSocket.
    pub origins: OriginPolicy,
}

/// Reads one request and answers it (a static file, an error) or accepts its upgrade; `scheme`
/// is how it came (http or https); with `to_https`, every request is sent to the same address
/// over https instead.
pub fn handle(
    stream: &mut (impl Read + Write),
    policy: &HttpPolicy,
    pages: Option<&dyn Pages>,
    scheme: &str,
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
        if let Err(why) =
            policy
                .origins
                .check(scheme, request.header("origin"), request.header("host"))
        {
            return refuse_websocket(stream, 403, "Forbidden", &why);
        }
        if let Some(Err(why)) = pages.map(|p| p.websocket(request.path())) {
            return refuse_websocket(stream, 404, "Not Found", &why);
        }
        return match websocket::accept(&request) {
            Ok(response) => {
                stream.write_all(response.as_bytes())?;
                Ok(Outcome::WebSocket {
                    leftover: buf.split_off(used),
                    path: request.path().to_string(),
                })
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
    if let Some(pages) = pages
        && pages.owns(request.path())
        && let Err(why) = policy.origins.check_host(scheme, request.header("host"))
    {
        respond(
            stream,
            403,
            "Forbidden",
            "text/plain",
            format!("{why}\n").as_bytes(),
            head_only,
        )?;
        return Ok(Outcome::Answered(format!(
            "{} refused: {why}",
            request.path()
        )));
    }
    if let Some(page) = pages.and_then(|p| p.page(request.path())) {
        send_page(stream, &page, head_only)?;
        return Ok(Outcome::Answered(format!(
            "GET {}: 200, {} bytes",
            request.path(),
            page.body.len()
        )));
    }
    let Some(root) = &policy.web else {
        let body = b"This port serves VNC (RFB) and WebSocket. Start `vfio-display serve` with \
            --web DIR to serve a web client's files (for noVNC: --web /usr/share/novnc).\n";
        respond(stream, 404, "Not Found", "text/plain", body, head_only)?;
        return Ok(Outcome::Answered(format!(
            "GET {}: no --web directory",
            request.path()
        )));
    };
    serve_file(stream, root, &request, head_only)
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

/// The path beneath the web root that a request's `path` names, or `None` when it would leave
/// the root or name a dotfile (a segment starting with `.`: `..`, `.git`, `.htpasswd`).
pub fn relative_path(path: &str) -> Option<Vec<u8>> {
    let decoded = percent_decode(path)?;
    let mut out = Vec::new();
    for segment in decoded.split(|&c| c == b'/') {
        match segment {
            b"" => {}
            s if s.starts_with(b".") => return None,
            s => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(s);
            }
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
    root: &WebRoot,
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
    if path == "/" && root.has_file("vnc.html") && !root.has_file("index.html") {
        let response = "HTTP/1.1 302 Found\r\nLocation: /vnc.html\r\nContent-Length: 0\r\n\
                        Connection: close\r\n\r\n";
        stream.write_all(response.as_bytes())?;
        return Ok(Outcome::Answered("GET /: sent to /vnc.html".into()));
    }
    let Some(mut rel) = relative_path(path) else {
        return not_found(stream, "outside the web directory, or a dotfile");
    };
    let Ok(mut file) = root.open_beneath(&rel) else {
        return not_found(stream, "no such file beneath the web directory");
    };
    let mut meta = file.metadata()?;
    if meta.is_dir() {
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(b"index.html");
        let Ok(index) = root.open_beneath(&rel) else {
            return not_found(stream, "a directory without index.html");
        };
        file = index;
        meta = file.metadata()?;
    }
    if !meta.is_file() || meta.len() > MAX_FILE {
        return not_found(stream, "not a regular file of a servable size");
    }
    // The file was opened without blocking (for FIFOs); regular files read the same either way.
    let kind = content_type(Path::new(std::ffi::OsStr::new(
        std::str::from_utf8(&rel).unwrap_or(""),
    )));
    send_head(stream, 200, "OK", kind, meta.len())?;
    if head_only {
        stream.flush()?;
        return Ok(Outcome::Answered(format!("HEAD {path}: 200")));
    }
    // Streamed in chunks: a connection holds at most one chunk of a file. A file that shrinks
    // while it is sent ends the connection short (the client sees a short body and Connection:
    // close); one that grows is cut at the length announced.
    let mut left = meta.len();
    let mut chunk = vec![0u8; CHUNK];
    while left > 0 {
        let want = CHUNK.min(usize::try_from(left).unwrap_or(CHUNK));
        let n = file.read(&mut chunk[..want])?;
        if n == 0 {
            break;
        }
        stream.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    stream.flush()?;
    Ok(Outcome::Answered(format!(
        "GET {path}: 200, {} bytes",
        meta.len() - left
    )))
}

fn send_head(
    stream: &mut (impl Write + ?Sized),
    code: u16,
    reason: &str,
    kind: &str,
    len: u64,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {len}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes())
}

/// Answers a WebSocket upgrade with `code` and the reason, and says so for the log.
fn refuse_websocket(
    stream: &mut (impl Write + ?Sized),
    code: u16,
    reason: &str,
    why: &str,
) -> io::Result<Outcome> {
    respond(
        stream,
        code,
        reason,
        "text/plain",
        format!("{why}\n").as_bytes(),
        false,
    )?;
    Ok(Outcome::Answered(format!("WebSocket refused: {why}")))
}

/// Sends a page the server made. Its pages run no script and load nothing from elsewhere: the
/// policy header says so, so that a name in them can never become markup that does.
fn send_page(stream: &mut (impl Write + ?Sized), page: &Page, head_only: bool) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; \
         frame-ancestors 'none'\r\nCross-Origin-Resource-Policy: same-origin\r\n\
         Connection: close\r\n\r\n",
        page.content_type,
        page.body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(&page.body)?;
    }
    stream.flush()
}

fn respond(
    stream: &mut (impl Write + ?Sized),
    code: u16,
    reason: &str,
    kind: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    send_head(stream, code, reason, kind, body.len() as u64)?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_directory_and_skip_dotfiles() {
        let rel = |p: &str| relative_path(p).map(|v| String::from_utf8(v).unwrap());
        assert_eq!(rel("/vnc.html").as_deref(), Some("vnc.html"));
        assert_eq!(rel("/app/ui.js").as_deref(), Some("app/ui.js"));
        assert_eq!(rel("/a%20b").as_deref(), Some("a b"));
        assert_eq!(rel("//etc/passwd").as_deref(), Some("etc/passwd"));
        assert_eq!(rel("/").as_deref(), Some(""));
        for refused in [
            "/../etc/passwd",
            "/app/%2e%2e/%2e%2e/etc/passwd",
            "/a%00b",
            "/a%zz",
            "/a%2",
            "/.git/config",
            "/app/.htpasswd",
            "/./vnc.html",
        ] {
            assert_eq!(rel(refused), None, "{refused}");
        }
    }

    fn web_dir() -> (tempdir::Dir, WebRoot) {
        let dir = tempdir::Dir::new();
        std::fs::write(dir.0.join("vnc.html"), b"<html>").unwrap();
        std::fs::create_dir(dir.0.join("app")).unwrap();
        std::fs::write(dir.0.join("app/index.html"), b"app").unwrap();
        let root = WebRoot::open(&dir.0).unwrap();
        (dir, root)
    }

    mod tempdir {
        /// A directory removed on drop.
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let p = std::env::temp_dir()
                    .join(format!("vfio-display-web-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&p);
                std::fs::create_dir(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn links_out_of_the_root_are_not_followed() {
        let (dir, root) = web_dir();
        let secret = dir.0.with_extension("secret");
        std::fs::write(&secret, b"secret").unwrap();
        std::os::unix::fs::symlink(&secret, dir.0.join("abs")).unwrap();
        std::os::unix::fs::symlink(
            "../vfio-display-nowhere/../../etc/passwd",
            dir.0.join("rel"),
        )
        .unwrap();
        std::os::unix::fs::symlink("/etc", dir.0.join("etc")).unwrap();
        // A link that stays inside (Debian's noVNC has vnc_auto.html -> vnc.html) is fine.
        std::os::unix::fs::symlink("vnc.html", dir.0.join("auto.html")).unwrap();
        for refused in [&b"abs"[..], b"rel", b"etc/passwd"] {
            let err = root.open_beneath(refused).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc_exdev()), "{refused:?}: {err}");
        }
        let mut text = String::new();
        root.open_beneath(b"auto.html")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "<html>");
        let _ = std::fs::remove_file(secret);
    }

    fn libc_exdev() -> i32 {
        nix::errno::Errno::EXDEV as i32
    }

    /// A request for `path` answered by `serve_file`: the response's bytes.
    fn get(root: &WebRoot, path: &str) -> String {
        let request = Request {
            method: "GET".into(),
            target: path.into(),
            headers: Vec::new(),
        };
        let mut out = std::io::Cursor::new(Vec::new());
        serve_file(&mut out, root, &request, false).unwrap();
        String::from_utf8_lossy(out.get_ref()).into_owned()
    }

    #[test]
    fn fifos_and_devices_are_refused_without_blocking() {
        let (dir, root) = web_dir();
        nix::unistd::mkfifo(&dir.0.join("fifo"), Mode::from_bits_truncate(0o666)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.0.join("zero")).unwrap();
        assert!(get(&root, "/fifo").starts_with("HTTP/1.1 404"));
        assert!(get(&root, "/zero").starts_with("HTTP/1.1 404"));
        let page = get(&root, "/vnc.html");
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.ends_with("\r\n\r\n<html>"));
        assert!(get(&root, "/app/").ends_with("\r\n\r\napp"));
        assert!(get(&root, "/").starts_with("HTTP/1.1 302"));
    }
}
