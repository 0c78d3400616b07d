//! A fault-injecting HTTP proxy for tests: it stands on a free loopback port in front of an upstream
//! index (the test index of `index_server.rs`, or live PyPI), forwards every request, and spoils the
//! answers its rules select, the way broken mirrors, proxies and attackers do.
//!
//! ```ignore
//! use support::fault_proxy::{Fault, FaultProxy, Rule};
//! let proxy = FaultProxy::start(&server.url());          // upstream simple API root, or
//! let proxy = FaultProxy::pypi();                        // pypi.org and files.pythonhosted.org
//! proxy.add(Rule::page("six", Fault::status(503).retry_after("1")).times(2));
//! proxy.add(Rule::wheels(Fault::Tamper));                // every wheel, every time
//! let index_url = proxy.url();                           // http://127.0.0.1:<port>/simple
//! assert!(proxy.fired("503") > 0);                       // the fault really happened
//! ```
//!
//! Rules apply in the order added; the first one that matches a request's path (and has uses left)
//! spoils its answer. It speaks HTTP/1.1 with one request per connection, as the test index does, and
//! keeps a log of every request with the fault applied to it.

#![allow(dead_code)] // Each test binary uses a different part of this.

use std::fmt::Write as _;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::index_server::{Request, read_request};

/// What to do to an answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status (5xx or 429, say) with an optional `Retry-After`, without asking upstream.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Read the request, then reset the connection (TCP RST) without answering.
    Reset,
    /// Send the head with the full `Content-Length`, then half the body, then close.
    Truncate,
    /// Send the answer at this many bytes per second.
    Trickle { bytes_per_sec: u64 },
    /// Flip one byte in the middle of the body (a wheel whose bytes no longer match its hash).
    Tamper,
    /// Rewrite every SHA-256 in the body (a page that lies about its files' hashes).
    LieHashes,
    /// Remove every SHA-256 of a file from the body (a page that lists files without hashes).
    DropHashes,
    /// Answer status 200 with a web server's HTML error page.
    ErrorPage,
    /// Answer status 200 with the upstream body followed by an endless stream of blanks, at this rate
    /// (unthrottled when `None`).
    Endless { bytes_per_sec: Option<u64> },
}

impl Fault {
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
        }
    }

    /// Add a `Retry-After` header (seconds or an HTTP date) to a [`Fault::Status`].
    pub fn retry_after(self, value: &str) -> Fault {
        match self {
            Fault::Status { status, .. } => Fault::Status {
                status,
                retry_after: Some(value.to_string()),
            },
            other => panic!("Retry-After only goes with a status, not {other:?}"),
        }
    }

    /// A short name for the log: the status code, or the fault's kind.
    pub fn name(&self) -> String {
        match self {
            Fault::Status { status, .. } => status.to_string(),
            Fault::Reset => "reset".into(),
            Fault::Truncate => "truncate".into(),
            Fault::Trickle { .. } => "trickle".into(),
            Fault::Tamper => "tamper".into(),
            Fault::LieHashes => "lie-hashes".into(),
            Fault::DropHashes => "drop-hashes".into(),
            Fault::ErrorPage => "error-page".into(),
            Fault::Endless { .. } => "endless".into(),
        }
    }
}

/// Which request paths a rule applies to.
#[derive(Debug, Clone)]
enum Target {
    /// Every path.
    Any,
    /// Paths starting with this.
    Prefix(String),
    /// Paths ending with this.
    Suffix(String),
}

impl Target {
    fn matches(&self, path: &str) -> bool {
        match self {
            Target::Any => true,
            Target::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Target::Suffix(suffix) => path.ends_with(suffix.as_str()),
        }
    }
}

/// A fault, the requests it applies to, and how many times (every time when `None`).
#[derive(Debug, Clone)]
pub struct Rule {
    target: Target,
    fault: Fault,
    remaining: Option<usize>,
}

impl Rule {
    /// Every request.
    pub fn any(fault: Fault) -> Rule {
        Rule::new(Target::Any, fault)
    }

    /// Every project page.
    pub fn pages(fault: Fault) -> Rule {
        Rule::new(Target::Prefix("/simple/".into()), fault)
    }

    /// The project page of `project` (normalized name).
    pub fn page(project: &str, fault: Fault) -> Rule {
        Rule::new(Target::Prefix(format!("/simple/{project}/")), fault)
    }

    /// Every wheel (not its `.metadata` file).
    pub fn wheels(fault: Fault) -> Rule {
        Rule::new(Target::Suffix(".whl".into()), fault)
    }

    /// One file (its name, e.g. `six-1.16.0-py2.py3-none-any.whl`, or `….whl.metadata`).
    pub fn file(filename: &str, fault: Fault) -> Rule {
        Rule::new(Target::Suffix(format!("/{filename}")), fault)
    }

    /// Every PEP 658 `.metadata` file.
    pub fn metadata_files(fault: Fault) -> Rule {
        Rule::new(Target::Suffix(".metadata".into()), fault)
    }

    /// Apply only to the first `count` matching requests.
    pub fn times(mut self, count: usize) -> Rule {
        self.remaining = Some(count);
        self
    }

    fn new(target: Target, fault: Fault) -> Rule {
        Rule {
            target,
            fault,
            remaining: None,
        }
    }
}

/// A request the proxy received.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub path: String,
    /// [`Fault::name`] of the fault applied, if any.
    pub fault: Option<String>,
    /// When it arrived, from the proxy's start.
    pub at: Duration,
}

#[derive(Debug)]
struct State {
    rules: Vec<Rule>,
    log: Vec<ProxyRequest>,
}

/// A running proxy. Dropping it stops it (connections being trickled end within a few milliseconds).
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Where the proxy gets its answers.
enum Upstream {
    /// A plain-HTTP loopback index, asked with one connection per request.
    Loopback(SocketAddr),
    /// Live PyPI: `/simple/…` from pypi.org, `/files.pythonhosted.org/…` from the files host. Pages
    /// are rewritten so that their file URLs lead through the proxy (at `origin`) too.
    Pypi {
        client: reqwest::Client,
        runtime: tokio::runtime::Runtime,
        origin: String,
    },
}

impl FaultProxy {
    /// A proxy in front of `upstream_index_url` (`http://127.0.0.1:<port>/simple`: a loopback index
    /// whose file links are relative, so that files come through the proxy too).
    pub fn start(upstream_index_url: &str) -> FaultProxy {
        let authority = upstream_index_url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("not a plain-HTTP index URL: {upstream_index_url}"));
        let upstream: SocketAddr = authority.parse().expect("a loopback address and port");
        FaultProxy::spawn(|_| Upstream::Loopback(upstream), "/simple/")
    }

    /// A proxy in front of live PyPI.
    pub fn pypi() -> FaultProxy {
        FaultProxy::spawn(
            |origin| {
                let _ = rustls::crypto::ring::default_provider().install_default();
                Upstream::Pypi {
                    client: reqwest::Client::builder()
                        .timeout(Duration::from_secs(60))
                        .build()
                        .expect("an HTTP client"),
                    runtime: tokio::runtime::Runtime::new().expect("a runtime for the client"),
                    origin,
                }
            },
            "/simple/six/",
        )
    }

    /// Bind a loopback port, then serve from the upstream `upstream(origin)` makes; `probe` is a path
    /// to check that both answer.
    fn spawn(upstream: impl FnOnce(String) -> Upstream, probe: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let upstream = Arc::new(upstream(format!("http://{addr}")));
        let state = Arc::new(Mutex::new(State {
            rules: Vec::new(),
            log: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            let started = Instant::now();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (upstream, state, stop) = (upstream.clone(), state.clone(), stop.clone());
                    std::thread::spawn(move || {
                        let _ = serve(stream, &upstream, &state, &stop, started);
                    });
                }
            })
        };
        let proxy = FaultProxy {
            addr,
            state,
            stop,
            thread: Some(thread),
        };
        proxy.check_alive(probe);
        proxy
    }

    /// The simple API root through the proxy.
    pub fn url(&self) -> String {
        format!("http://{}/simple", self.addr)
    }

    /// Add a rule (after those already there).
    pub fn add(&self, rule: Rule) {
        self.state().rules.push(rule);
    }

    /// Remove every rule: from now on the proxy only forwards.
    pub fn clear_rules(&self) {
        self.state().rules.clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.state().log.clone()
    }

    /// How many requests got the fault named `name` ([`Fault::name`]).
    pub fn fired(&self, name: &str) -> usize {
        self.state()
            .log
            .iter()
            .filter(|request| request.fault.as_deref() == Some(name))
            .count()
    }

    /// Fail the test now, with a clear message, if the proxy (and its upstream) does not answer.
    fn check_alive(&self, probe: &str) {
        let mut stream = TcpStream::connect(self.addr).expect("connect to the fault proxy");
        stream
            .write_all(format!("GET {probe} HTTP/1.1\r\nHost: proxy\r\n\r\n").as_bytes())
            .expect("ask the fault proxy");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 "),
            "the fault proxy on {} did not answer: {answer:?}",
            self.addr
        );
        self.state().log.clear();
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An upstream answer, taken apart.
struct Answer {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The head to send with `body_len` (or no `Content-Length` when `None`: the body ends when the
    /// connection closes).
    fn head(&self, body_len: Option<usize>) -> String {
        let mut head = format!("{}\r\n", self.status_line);
        for (name, value) in &self.headers {
            if !name.eq_ignore_ascii_case("content-length")
                && !name.eq_ignore_ascii_case("connection")
            {
                let _ = write!(head, "{name}: {value}\r\n");
            }
        }
        if let Some(len) = body_len {
            let _ = write!(head, "Content-Length: {len}\r\n");
        }
        head.push_str("Connection: close\r\n\r\n");
        head
    }
}

fn serve(
    stream: TcpStream,
    upstream: &Upstream,
    state: &Mutex<State>,
    stop: &AtomicBool,
    started: Instant,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(request) = read_request(&mut reader)? else {
        return Ok(());
    };
    let path = request.path.clone();
    let fault = {
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let rule = state.rules.iter_mut().find(|rule| {
            rule.target.matches(&path) && rule.remaining.is_none_or(|count| count > 0)
        });
        let fault = rule.map(|rule| {
            if let Some(count) = &mut rule.remaining {
                *count -= 1;
            }
            rule.fault.clone()
        });
        state.log.push(ProxyRequest {
            path: path.clone(),
            fault: fault.as_ref().map(Fault::name),
            at: started.elapsed(),
        });
        fault
    };
    let mut stream = stream;
    match fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let mut head = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n"
            );
            if let Some(value) = retry_after {
                let _ = write!(head, "Retry-After: {value}\r\n");
            }
            head.push_str("Connection: close\r\n\r\ninjected");
            stream.write_all(head.as_bytes())
        }
        Some(Fault::Reset) => {
            reset(&stream);
            Ok(())
        }
        Some(Fault::ErrorPage) => {
            let body = "<!DOCTYPE html>\n<html><head><title>503 Service Temporarily Unavailable</title>\
                </head>\n<body><center><h1>503 Service Temporarily Unavailable</h1></center>\n<hr>\
                <center>nginx</center>\n</body></html>\n";
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes())?;
            stream.write_all(body.as_bytes())
        }
        fault => {
            let answer = upstream.ask(&request)?;
            respond(stream, answer, fault, stop)
        }
    }
}

/// Send `answer` on, spoiled by `fault`.
fn respond(
    mut stream: TcpStream,
    mut answer: Answer,
    fault: Option<Fault>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    match fault {
        None => {}
        Some(Fault::Truncate) => {
            stream.write_all(answer.head(Some(answer.body.len())).as_bytes())?;
            stream.write_all(&answer.body[..answer.body.len() / 2])?;
            stream.flush()?;
            // Close without the rest; a plain close, so the client sees a body cut short.
            return stream.shutdown(std::net::Shutdown::Both);
        }
        Some(Fault::Trickle { bytes_per_sec }) => {
            let mut bytes = answer.head(Some(answer.body.len())).into_bytes();
            bytes.extend_from_slice(&answer.body);
            return trickle(&mut stream, &bytes, bytes_per_sec, stop);
        }
        Some(Fault::Endless { bytes_per_sec }) => {
            stream.write_all(answer.head(None).as_bytes())?;
            stream.write_all(&answer.body)?;
            let blanks = [b' '; 16 << 10];
            while !stop.load(Ordering::SeqCst) {
                match bytes_per_sec {
                    Some(rate) => trickle(&mut stream, &blanks, rate, stop)?,
                    None => stream.write_all(&blanks)?,
                }
            }
            return Ok(());
        }
        Some(Fault::Tamper) => {
            let middle = answer.body.len() / 2;
            if let Some(byte) = answer.body.get_mut(middle) {
                *byte ^= 0xff;
            }
        }
        Some(Fault::LieHashes) => {
            answer.body = rewrite_sha256s(&answer.body, |hex| {
                Some(hex::encode(Sha256::digest(hex.as_bytes())))
            })
        }
        Some(Fault::DropHashes) => answer.body = drop_hashes(&answer),
        Some(Fault::Status { .. } | Fault::Reset | Fault::ErrorPage) => {
            unreachable!("answered without asking upstream")
        }
    }
    stream.write_all(answer.head(Some(answer.body.len())).as_bytes())?;
    stream.write_all(&answer.body)?;
    stream.flush()
}

/// Write `bytes` at about `bytes_per_sec`, in pieces small enough to keep the pace even; stops early
/// when the proxy stops.
fn trickle(
    stream: &mut TcpStream,
    bytes: &[u8],
    bytes_per_sec: u64,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    // Ten writes a second.
    let piece = usize::try_from(bytes_per_sec / 10).unwrap_or(1).max(1);
    for chunk in bytes.chunks(piece) {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        stream.write_all(chunk)?;
        stream.flush()?;
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Close with a TCP RST: SO_LINGER on with a zero timeout makes `close` abort the connection.
fn reset(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized `linger` value.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        result,
        0,
        "set SO_LINGER: {}",
        std::io::Error::last_os_error()
    );
}

impl Upstream {
    /// Forward `request` and read the whole answer.
    fn ask(&self, request: &Request) -> std::io::Result<Answer> {
        match self {
            Upstream::Loopback(addr) => ask_loopback(*addr, request),
            Upstream::Pypi {
                client,
                runtime,
                origin,
            } => runtime.block_on(ask_pypi(client, origin, request)),
        }
    }
}

/// Ask the loopback index, which closes the connection after each answer.
fn ask_loopback(addr: SocketAddr, request: &Request) -> std::io::Result<Answer> {
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("connection") {
            let _ = write!(head, "{name}: {value}\r\n");
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut connection = TcpStream::connect(addr)?;
    connection.write_all(head.as_bytes())?;
    let mut bytes = Vec::new();
    connection.read_to_end(&mut bytes)?;
    let split = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("upstream sent no complete head"))?;
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect();
    Ok(Answer {
        status_line,
        headers,
        body: bytes[split + 4..].to_vec(),
    })
}

/// The files host's URL prefix, and the proxy path that stands for it.
const FILES_HOST: &str = "https://files.pythonhosted.org/";
const FILES_PATH: &str = "/files.pythonhosted.org/";

/// Ask live PyPI, passing on what matters to an index client (`Accept`, `Range`) both ways.
async fn ask_pypi(
    client: &reqwest::Client,
    origin: &str,
    request: &Request,
) -> std::io::Result<Answer> {
    let url = match request.path.strip_prefix(FILES_PATH) {
        Some(rest) => format!("{FILES_HOST}{rest}"),
        None => format!("https://pypi.org{}", request.path),
    };
    let mut ask = client.get(&url);
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("accept") || name.eq_ignore_ascii_case("range") {
            ask = ask.header(name.as_str(), value.as_str());
        }
    }
    let response = ask.send().await.map_err(std::io::Error::other)?;
    let status = response.status();
    let kept = [
        "content-type",
        "content-range",
        "accept-ranges",
        "retry-after",
    ];
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| kept.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    let mut body = response
        .bytes()
        .await
        .map_err(std::io::Error::other)?
        .to_vec();
    if request.path.starts_with("/simple/") {
        let page = String::from_utf8_lossy(&body);
        body = page
            .replace(FILES_HOST, &format!("{origin}{FILES_PATH}"))
            .into_bytes();
    }
    Ok(Answer {
        status_line: format!(
            "HTTP/1.1 {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Whatever")
        ),
        headers,
        body,
    })
}

/// `body` with every run of exactly 64 hex digits (a SHA-256) replaced by `replace(run)`, or removed
/// with the `#sha256=` before it when `replace` gives `None`.
fn rewrite_sha256s(body: &[u8], replace: impl Fn(&str) -> Option<String>) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        let run = rest[start..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - start);
        let before = &rest[..start];
        let hex = &rest[start..start + run];
        if run == 64 {
            match replace(hex) {
                Some(new) => {
                    out.push_str(before);
                    out.push_str(&new);
                }
                None => out.push_str(before.strip_suffix("#sha256=").unwrap_or(before)),
            }
        } else {
            out.push_str(before);
            out.push_str(hex);
        }
        rest = &rest[start + run..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// A page without its files' hashes: PEP 691 `hashes` emptied, PEP 503 `#sha256=` fragments removed.
fn drop_hashes(answer: &Answer) -> Vec<u8> {
    let is_json = answer
        .header("content-type")
        .is_some_and(|value| value.contains("json"));
    if !is_json {
        return rewrite_sha256s(&answer.body, |_| None);
    }
    let Ok(mut page) = serde_json::from_slice::<serde_json::Value>(&answer.body) else {
        return answer.body.clone();
    };
    if let Some(files) = page["files"].as_array_mut() {
        for file in files {
            file["hashes"] = serde_json::json!({});
        }
    }
    page.to_string().into_bytes()
}
