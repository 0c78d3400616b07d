//! A small package index served from real wheel files, for integration tests.
//!
//! It speaks just enough HTTP/1.1 (GET and HEAD, `Range`, one request per connection) to stand in for PyPI
//! and files.pythonhosted.org, and can be told to behave like the indexes fave-lock must cope with:
//!
//! ```ignore
//! use support::index_server::{IndexServer, PageFormat, Wheel};
//! let server = IndexServer::builder()
//!     .wheel(Wheel::fixture("six-1.16.0-py2.py3-none-any.whl").upload_time("2021-05-05T14:18:17Z"))
//!     .wheel(Wheel::fixture("idna-3.10-py3-none-any.whl").yanked("broken"))
//!     .format(PageFormat::Html) // PEP 503 only; default: JSON or HTML by `Accept`
//!     .metadata_files(false)    // no PEP 658 `.metadata` files
//!     .ranges(false)            // ignore `Range`, always answer 200
//!     .lie_to_ranges(RangeLie::ShortBody, 4096) // lie to ranges starting before byte 4096
//!     .start();
//! let index_url = server.url(); // http://127.0.0.1:<port>/simple
//! server.yank("six-1.16.0-py2.py3-none-any.whl", Some("changed my mind")); // while running
//! ```
//!
//! Layout: project pages at `/simple/<normalized name>/`, files at `/files/<filename>` and PEP 658
//! metadata at `/files/<filename>.metadata`. Page links are relative (`../../files/...`), as PEP 691 and
//! PEP 503 allow, so clients must resolve them. Every request is logged for assertions.

#![allow(dead_code)] // Each test binary uses a different part of this.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Which page formats the server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    /// PEP 691 JSON when `Accept` asks for `application/vnd.pypi.simple.v1+json`, else PEP 503 HTML (as PyPI).
    Negotiate,
    /// Always PEP 691 JSON.
    Json,
    /// Always PEP 503 HTML, whatever `Accept` says.
    Html,
}

/// One wheel the index lists, with what its page entry says about it.
#[derive(Debug, Clone)]
pub struct Wheel {
    /// The file name, e.g. `six-1.16.0-py2.py3-none-any.whl`.
    pub filename: String,
    /// The normalized project name (from the file name).
    pub project: String,
    /// The file's bytes.
    pub bytes: Arc<Vec<u8>>,
    /// The PEP 658 metadata file (the wheel's METADATA).
    pub metadata: Arc<Vec<u8>>,
    /// The sha256 the page lists: the real one unless overridden to simulate a changed file.
    pub sha256: String,
    /// PEP 592: `Some(reason)` (maybe empty) when yanked.
    pub yanked: Option<String>,
    /// PEP 700 `upload-time` (RFC 3339), omitted from the page when `None`.
    pub upload_time: Option<String>,
    /// `requires-python`, omitted when `None`.
    pub requires_python: Option<String>,
    /// Whether the page advertises the `.metadata` file (PEP 658/714). PyPI serves it without saying so.
    pub advertise_metadata: bool,
}

impl Wheel {
    /// A wheel from `tests/fixtures/wheels/`, with its `.metadata` file from beside it.
    pub fn fixture(filename: &str) -> Wheel {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wheels");
        let read = |name: &str| {
            std::fs::read(dir.join(name)).unwrap_or_else(|error| panic!("fixture {name}: {error}"))
        };
        Wheel::from_bytes(
            filename,
            read(filename),
            read(&format!("{filename}.metadata")),
        )
    }

    /// A wheel from bytes (which need not be a valid zip, to test damaged files).
    pub fn from_bytes(filename: &str, bytes: Vec<u8>, metadata: Vec<u8>) -> Wheel {
        let project = filename.split('-').next().unwrap_or_default();
        Wheel {
            filename: filename.to_string(),
            project: normalize(project),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: Arc::new(bytes),
            metadata: Arc::new(metadata),
            yanked: None,
            upload_time: None,
            requires_python: None,
            advertise_metadata: false,
        }
    }

    /// A wheel `filename` whose METADATA is `metadata`, the same in its `.metadata` file (PEP 658) and
    /// inside the zip (read with ranges): a dependency graph shaped by the test, as a wheel that pip or
    /// fave-lock's installer would take (WHEEL and RECORD included, stored entries with their CRC-32).
    pub fn posing_as(filename: &str, metadata: &str) -> Wheel {
        Wheel::posing_as_with(filename, metadata, &[])
    }

    /// [`Wheel::posing_as`] with `extra` files after METADATA (so METADATA sits at the start of the
    /// zip, as pdm-backend writes it).
    pub fn posing_as_with(filename: &str, metadata: &str, extra: &[(&str, &[u8])]) -> Wheel {
        let mut parts = filename.split('-');
        let dist_info = format!(
            "{}-{}.dist-info",
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default()
        );
        let wheel = "Wheel-Version: 1.0\nGenerator: fave-lock-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
        let mut files: Vec<(String, Vec<u8>)> = vec![
            (
                format!("{dist_info}/METADATA"),
                metadata.as_bytes().to_vec(),
            ),
            (format!("{dist_info}/WHEEL"), wheel.as_bytes().to_vec()),
        ];
        files.extend(
            extra
                .iter()
                .map(|(name, bytes)| ((*name).to_string(), bytes.to_vec())),
        );
        let mut record = String::new();
        for (name, bytes) in &files {
            let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
            let _ = writeln!(record, "{name},sha256={digest},{}", bytes.len());
        }
        let _ = writeln!(record, "{dist_info}/RECORD,,");
        files.push((format!("{dist_info}/RECORD"), record.into_bytes()));
        Wheel::from_bytes(filename, stored_zip(&files), metadata.as_bytes().to_vec())
    }

    /// An sdist `NAME-VERSION.tar.gz` holding `members` under its top folder `NAME-VERSION/`.
    pub fn sdist(filename: &str, members: &[(&str, &str)]) -> Wheel {
        let top = filename.trim_end_matches(".tar.gz");
        Wheel::from_bytes(filename, sdist_archive(top, members), Vec::new())
    }

    /// Mark the wheel yanked with `reason` (`""` for none).
    pub fn yanked(mut self, reason: &str) -> Wheel {
        self.yanked = Some(reason.to_string());
        self
    }

    /// Set the PEP 700 `upload-time` (RFC 3339, e.g. `2024-01-01T00:00:00Z`).
    pub fn upload_time(mut self, time: &str) -> Wheel {
        self.upload_time = Some(time.to_string());
        self
    }

    /// Set `requires-python` (written raw; HTML escaping is the server's job).
    pub fn requires_python(mut self, specifier: &str) -> Wheel {
        self.requires_python = Some(specifier.to_string());
        self
    }

    /// List `sha256` instead of the real hash, as if the file had been replaced after locking; `""`
    /// lists the file without a hash.
    pub fn sha256(mut self, sha256: &str) -> Wheel {
        self.sha256 = sha256.to_string();
        self
    }

    /// Advertise the `.metadata` file on the page (`core-metadata` / `data-core-metadata`).
    pub fn advertise_metadata(mut self) -> Wheel {
        self.advertise_metadata = true;
        self
    }
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `Accept` header, if any.
    pub accept: Option<String>,
    /// The status the server answered.
    pub status: u16,
    /// The body bytes sent (0 for HEAD and for a dropped connection).
    pub body_len: u64,
}

/// A forced failure: an HTTP status with an empty body, or a connection closed without an answer.
#[derive(Debug, Clone, Copy)]
enum Failure {
    Status(u16),
    Drop,
}

/// How the server lies to the `Range` requests it is told to lie to (see
/// [`IndexServerBuilder::lie_to_ranges`]), as broken servers, proxies and caches do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeLie {
    /// 200 with the whole file, as a proxy that drops `Range` does.
    WholeFile,
    /// 206 with the bytes asked for, but a `Content-Range` one byte further on.
    ShiftedContentRange,
    /// 206 with the right `Content-Range` and only the first half of the bytes (a `Content-Length`
    /// that agrees with the short body).
    ShortBody,
    /// 206 with the right headers and the bytes that start one further on (a zero byte at the end of
    /// the file): wrong data no header check can notice.
    ShiftedBody,
}

impl RangeLie {
    /// Every lie, to try them all.
    pub const ALL: [RangeLie; 4] = [
        RangeLie::WholeFile,
        RangeLie::ShiftedContentRange,
        RangeLie::ShortBody,
        RangeLie::ShiftedBody,
    ];
}

/// What the server serves; shared with the connection threads and changeable while it runs.
#[derive(Debug)]
struct State {
    wheels: Vec<Wheel>,
    format: PageFormat,
    metadata_files: bool,
    ranges: bool,
    /// Lie to satisfiable ranges whose first byte is before the offset.
    range_lie: Option<(RangeLie, u64)>,
    /// How to fail the next requests, whatever they ask for.
    failures: VecDeque<Failure>,
    /// Whole-file downloads still to be served with one byte flipped (a flaky proxy).
    corrupt_downloads: usize,
    /// Paths whose requests wait, unanswered, until released.
    held: Vec<String>,
    /// Paths in the order their requests arrived (held ones included).
    arrived: Vec<String>,
    log: Vec<LoggedRequest>,
}

/// Configures an [`IndexServer`].
#[derive(Debug)]
pub struct IndexServerBuilder {
    state: State,
}

impl IndexServerBuilder {
    /// List `wheel` on its project's page.
    pub fn wheel(mut self, wheel: Wheel) -> IndexServerBuilder {
        self.state.wheels.push(wheel);
        self
    }

    /// Which page formats to serve (default [`PageFormat::Negotiate`]).
    pub fn format(mut self, format: PageFormat) -> IndexServerBuilder {
        self.state.format = format;
        self
    }

    /// Serve PEP 658 `.metadata` files (default true); when false they answer 404.
    pub fn metadata_files(mut self, serve: bool) -> IndexServerBuilder {
        self.state.metadata_files = serve;
        self
    }

    /// Answer `Range` requests with 206 (default true); when false every file answer is a 200.
    pub fn ranges(mut self, honour: bool) -> IndexServerBuilder {
        self.state.ranges = honour;
        self
    }

    /// Lie to every satisfiable `Range` request whose first byte is before `before` (a file's length:
    /// all of them; a zip's central directory offset: the reads of its entries but not of its
    /// directory); whole-file downloads stay honest.
    pub fn lie_to_ranges(mut self, lie: RangeLie, before: u64) -> IndexServerBuilder {
        self.state.range_lie = Some((lie, before));
        self
    }

    /// Bind 127.0.0.1 on a free port and serve until the server is dropped.
    pub fn start(self) -> IndexServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(self.state));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || accept_loop(&listener, &state, &stop))
        };
        IndexServer {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }
}

/// A running test index. Dropping it stops the server.
#[derive(Debug)]
pub struct IndexServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl IndexServer {
    /// A builder with no wheels, negotiated pages, `.metadata` files and ranges on.
    pub fn builder() -> IndexServerBuilder {
        IndexServerBuilder {
            state: State {
                wheels: Vec::new(),
                format: PageFormat::Negotiate,
                metadata_files: true,
                ranges: true,
                range_lie: None,
                failures: VecDeque::new(),
                corrupt_downloads: 0,
                held: Vec::new(),
                arrived: Vec::new(),
                log: Vec::new(),
            },
        }
    }

    /// The simple API root, e.g. `http://127.0.0.1:4711/simple`.
    pub fn url(&self) -> String {
        format!("http://{}/simple", self.addr)
    }

    /// The absolute URL of a file, as a client resolves it from the page.
    pub fn file_url(&self, filename: &str) -> String {
        format!("http://{}/files/{filename}", self.addr)
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state().log.clone()
    }

    /// The body bytes served for `filename` (whole downloads and ranges) so far.
    pub fn bytes_served(&self, filename: &str) -> u64 {
        let path = format!("/files/{filename}");
        self.state()
            .log
            .iter()
            .filter(|request| request.path == path)
            .map(|request| request.body_len)
            .sum()
    }

    /// Forget the requests logged so far.
    pub fn clear_requests(&self) {
        self.state().log.clear();
    }

    /// Answer the next `count` requests (any path) with `status` and an empty body.
    pub fn fail_next(&self, count: usize, status: u16) {
        let failure = Failure::Status(status);
        self.state()
            .failures
            .extend(std::iter::repeat_n(failure, count));
    }

    /// Close the connection of the next `count` requests without answering (a reset, to the client).
    /// They are logged with status 0.
    pub fn drop_next(&self, count: usize) {
        self.state()
            .failures
            .extend(std::iter::repeat_n(Failure::Drop, count));
    }

    /// Serve the next `count` whole-file downloads (200 answers for a wheel, not ranges or `.metadata`)
    /// with their middle byte flipped, as a flaky proxy would.
    pub fn corrupt_next_downloads(&self, count: usize) {
        self.state().corrupt_downloads += count;
    }

    /// Keep requests for `path` waiting, unanswered (and unlogged), until [`IndexServer::release`]: a
    /// slow file, without a clock.
    pub fn hold(&self, path: &str) {
        self.state().held.push(path.to_string());
    }

    /// The paths asked for so far in the order the requests arrived, answered or still held.
    pub fn arrived(&self) -> Vec<String> {
        self.state().arrived.clone()
    }

    /// Answer the requests held for `path`, and the ones to come.
    pub fn release(&self, path: &str) {
        self.state().held.retain(|held| held != path);
    }

    /// Yank (`Some(reason)`) or un-yank (`None`) a listed file.
    pub fn yank(&self, filename: &str, reason: Option<&str>) {
        self.with_wheel(filename, |wheel| wheel.yanked = reason.map(str::to_string));
    }

    /// List a different sha256 for a file, as if it had been replaced (`""`: no hash at all).
    pub fn set_sha256(&self, filename: &str, sha256: &str) {
        self.with_wheel(filename, |wheel| wheel.sha256 = sha256.to_string());
    }

    /// Change a file's `upload-time`.
    pub fn set_upload_time(&self, filename: &str, time: Option<&str>) {
        self.with_wheel(filename, |wheel| {
            wheel.upload_time = time.map(str::to_string)
        });
    }

    /// Stop listing and serving a file (its URLs then answer 404).
    pub fn remove(&self, filename: &str) {
        self.state()
            .wheels
            .retain(|wheel| wheel.filename != filename);
    }

    /// Add a file while running.
    pub fn add(&self, wheel: Wheel) {
        self.state().wheels.push(wheel);
    }

    fn with_wheel(&self, filename: &str, change: impl FnOnce(&mut Wheel)) {
        let mut state = self.state();
        let wheel = state
            .wheels
            .iter_mut()
            .find(|wheel| wheel.filename == filename);
        change(wheel.unwrap_or_else(|| panic!("the test index lists no `{filename}`")));
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for IndexServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<Mutex<State>>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let state = state.clone();
        std::thread::spawn(move || {
            let _ = serve_connection(stream, &state);
        });
    }
}

/// A parsed request head.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// An answer to write.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body,
        }
    }

    fn empty(status: u16) -> Response {
        Response::new(status, "text/plain", Vec::new())
    }
}

fn serve_connection(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(request) = read_request(&mut reader)? else {
        return Ok(());
    };
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .arrived
        .push(request.path.clone());
    let is_held = || {
        let state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.held.contains(&request.path)
    };
    while is_held() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let response = {
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let response = match state.failures.pop_front() {
            Some(Failure::Status(status)) => Some(Response::empty(status)),
            Some(Failure::Drop) => None,
            None => Some(route(&state, &request)),
        };
        let response = response.map(|mut response| {
            let whole_file = response.status == 200
                && request.path.starts_with("/files/")
                && !request.path.ends_with(".metadata");
            if whole_file && state.corrupt_downloads > 0 && !response.body.is_empty() {
                state.corrupt_downloads -= 1;
                let middle = response.body.len() / 2;
                response.body[middle] ^= 0xff;
            }
            response
        });
        state.log.push(LoggedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            range: request.header("range").map(str::to_string),
            accept: request.header("accept").map(str::to_string),
            status: response.as_ref().map_or(0, |response| response.status),
            body_len: match &response {
                Some(response) if request.method != "HEAD" => response.body.len() as u64,
                _ => 0,
            },
        });
        response
    };
    match response {
        Some(response) => write_response(stream, &request, &response),
        None => stream.shutdown(std::net::Shutdown::Both),
    }
}

/// Read a request head (`None` when the client sent none); the fault proxy reads with it too.
pub fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (method, path) = (method.to_string(), path.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok(Some(Request {
        method,
        path,
        headers,
    }))
}

fn write_response(
    mut stream: TcpStream,
    request: &Request,
    response: &Response,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(
        head,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    );
    stream.write_all(head.as_bytes())?;
    if request.method != "HEAD" {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

fn route(state: &State, request: &Request) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        return Response::empty(405);
    }
    let path = request.path.split('?').next().unwrap_or_default();
    if let Some(project) = path.strip_prefix("/simple/") {
        return project_page(state, request, &normalize(project.trim_end_matches('/')));
    }
    let Some(name) = path.strip_prefix("/files/") else {
        return Response::empty(404);
    };
    if let Some(wheel) = name
        .strip_suffix(".metadata")
        .and_then(|filename| find(state, filename))
    {
        if !state.metadata_files {
            return Response::empty(404);
        }
        return Response::new(200, "application/octet-stream", wheel.metadata.to_vec());
    }
    match find(state, name) {
        Some(wheel) => file(state, request, wheel),
        None => Response::empty(404),
    }
}

fn find<'a>(state: &'a State, filename: &str) -> Option<&'a Wheel> {
    state.wheels.iter().find(|wheel| wheel.filename == filename)
}

fn project_page(state: &State, request: &Request, project: &str) -> Response {
    let wheels: Vec<&Wheel> = state
        .wheels
        .iter()
        .filter(|wheel| wheel.project == project)
        .collect();
    if wheels.is_empty() {
        return Response::empty(404);
    }
    let wants_json = request
        .header("accept")
        .is_some_and(|accept| accept.contains("application/vnd.pypi.simple.v1+json"));
    match (state.format, wants_json) {
        (PageFormat::Json, _) | (PageFormat::Negotiate, true) => Response::new(
            200,
            "application/vnd.pypi.simple.v1+json",
            json_page(project, &wheels).into_bytes(),
        ),
        _ => Response::new(
            200,
            "text/html; charset=utf-8",
            html_page(project, &wheels).into_bytes(),
        ),
    }
}

/// A PEP 691 page (api-version 1.1 with PEP 700 fields, as PyPI serves).
fn json_page(project: &str, wheels: &[&Wheel]) -> String {
    let files: Vec<serde_json::Value> = wheels
        .iter()
        .map(|wheel| {
            let mut file = serde_json::json!({
                "filename": wheel.filename,
                "url": format!("../../files/{}", wheel.filename),
                // An empty sha256 stands for an index that lists the file without any hash.
                "hashes": if wheel.sha256.is_empty() { serde_json::json!({}) } else { serde_json::json!({"sha256": wheel.sha256}) },
                "requires-python": wheel.requires_python,
                "size": wheel.bytes.len(),
                "yanked": wheel.yanked.as_ref().map_or(serde_json::Value::Bool(false), |reason| match reason.as_str() {
                    "" => serde_json::Value::Bool(true),
                    reason => serde_json::Value::String(reason.to_string()),
                }),
            });
            if let Some(time) = &wheel.upload_time {
                file["upload-time"] = time.clone().into();
            }
            if wheel.advertise_metadata {
                file["core-metadata"] = serde_json::json!({"sha256": hex::encode(Sha256::digest(&*wheel.metadata))});
            }
            file
        })
        .collect();
    serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": files, "versions": []}).to_string()
}

/// A PEP 503 page with PEP 592/658 attributes, values HTML-escaped.
fn html_page(project: &str, wheels: &[&Wheel]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head><title>Links for {project}</title></head>\n<body>\n"
    );
    for wheel in wheels {
        let _ = write!(html, "<a href=\"../../files/{}", wheel.filename);
        if !wheel.sha256.is_empty() {
            let _ = write!(html, "#sha256={}", wheel.sha256);
        }
        html.push('"');
        if let Some(specifier) = &wheel.requires_python {
            let _ = write!(html, " data-requires-python=\"{}\"", escape(specifier));
        }
        match wheel.yanked.as_deref() {
            Some("") => html.push_str(" data-yanked"),
            Some(reason) => {
                let _ = write!(html, " data-yanked=\"{}\"", escape(reason));
            }
            None => {}
        }
        if wheel.advertise_metadata {
            let _ = write!(
                html,
                " data-core-metadata=\"sha256={}\"",
                hex::encode(Sha256::digest(&*wheel.metadata))
            );
        }
        let _ = writeln!(html, ">{}</a><br/>", wheel.filename);
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// Index client settings for `index_url` with its cache in `cache_dir`: online, pages fresh for ten
/// minutes, 4 requests in flight.
pub fn client_settings(index_url: &str, cache_dir: &Path) -> fave_lock::index::IndexSettings {
    fave_lock::index::IndexSettings {
        index_url: index_url.to_string(),
        cache_dir: cache_dir.to_path_buf(),
        offline: false,
        refresh: false,
        page_ttl: std::time::Duration::from_secs(600),
        concurrency: 4,
    }
}

/// A file answer: 206 for a satisfiable single `Range` when ranges are on, 416 for an unsatisfiable one,
/// else the whole file.
fn file(state: &State, request: &Request, wheel: &Wheel) -> Response {
    let bytes = &wheel.bytes;
    let mut response = Response::new(200, "application/octet-stream", bytes.to_vec());
    if !state.ranges {
        return response;
    }
    response
        .headers
        .push(("Accept-Ranges", "bytes".to_string()));
    let Some(range) = request.header("range") else {
        return response;
    };
    let len = bytes.len() as u64;
    match parse_range(range, len) {
        Some(Some((first, last))) => {
            let lie = state
                .range_lie
                .filter(|&(_, before)| first < before)
                .map(|(lie, _)| lie);
            if lie == Some(RangeLie::WholeFile) {
                return response;
            }
            let (first, last) = (first as usize, last as usize);
            response.status = 206;
            response.body = match lie {
                Some(RangeLie::ShortBody) => bytes[first..=first + (last - first) / 2].to_vec(),
                Some(RangeLie::ShiftedBody) => {
                    let mut body = bytes[first + 1..(last + 2).min(bytes.len())].to_vec();
                    body.resize(last - first + 1, 0);
                    body
                }
                _ => bytes[first..=last].to_vec(),
            };
            let shift = usize::from(lie == Some(RangeLie::ShiftedContentRange));
            let (first, last) = (first + shift, last + shift);
            response
                .headers
                .push(("Content-Range", format!("bytes {first}-{last}/{len}")));
        }
        Some(None) => {
            response = Response::empty(416);
            response
                .headers
                .push(("Content-Range", format!("bytes */{len}")));
        }
        None => {}
    }
    response
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `len` bytes: `Some(Some((first, last)))` when
/// satisfiable, `Some(None)` when not, `None` for a header this server ignores (several ranges, junk).
fn parse_range(header: &str, len: u64) -> Option<Option<(u64, u64)>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let suffix: u64 = suffix.parse().ok()?;
            (len.saturating_sub(suffix), len.checked_sub(1)?)
        }
        (first, "") => (first.parse().ok()?, len.checked_sub(1)?),
        (first, last) => (
            first.parse().ok()?,
            last.parse::<u64>().ok()?.min(len.saturating_sub(1)),
        ),
    };
    Some((first <= last && last < len).then_some((first, last)))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// PEP 503 name normalization.
/// A `.tar.gz` sdist with `members` under its top folder `top` (`name-version`).
pub fn sdist_archive(top: &str, members: &[(&str, &str)]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (path, contents) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, format!("{top}/{path}"), contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

pub fn normalize(name: &str) -> String {
    let mut normalized = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normalized.ends_with('-') {
                normalized.push('-');
            }
        } else {
            normalized.push(c.to_ascii_lowercase());
        }
    }
    normalized
}

/// A zip archive of `files`, stored (not compressed), as a wheel holds them.
fn stored_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut directory = Vec::new();
    for (name, bytes) in files {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        let offset = out.len() as u32;
        let (crc, len, name_len) = (crc.sum(), bytes.len() as u32, name.len() as u16);
        // Local header: signature, version, flags, method 0, time, date, CRC, sizes, name, extra.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        for field in [crc, len, len] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(bytes);
        // Central directory entry: as the local header, plus comment, disk, attributes and offset.
        directory.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        directory.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        for field in [crc, len, len] {
            directory.extend_from_slice(&field.to_le_bytes());
        }
        directory.extend_from_slice(&name_len.to_le_bytes());
        directory.extend_from_slice(&[0; 8]);
        directory.extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
        directory.extend_from_slice(&offset.to_le_bytes());
        directory.extend_from_slice(name.as_bytes());
    }
    let (directory_offset, directory_len) = (out.len() as u32, directory.len() as u32);
    out.extend_from_slice(&directory);
    let count = files.len() as u16;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&directory_len.to_le_bytes());
    out.extend_from_slice(&directory_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
