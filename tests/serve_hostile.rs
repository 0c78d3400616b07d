//! `fave-lock serve` under hostile clients, over real loopback sockets to the real binary: 500 clients
//! trickling their headers (slowloris) while `/healthz` must keep answering, a connection cap that
//! refuses fast and frees its slots, oversized and malformed requests, and a client that never reads
//! its answers. Every test is bounded in time, and the only process it ends is the server it started
//! (by its PID, when the handle drops).

mod serve_support;

use std::time::{Duration, Instant};

use serve_support::{Project, Serve};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Slow connections held open at once.
const SLOW: usize = 500;
/// The server's header timeout in these tests (shorter than the default 10 s, to keep them short).
const HEADER_TIMEOUT: Duration = Duration::from_secs(4);
/// Longest a `/healthz` answer may take, even under attack.
const PROMPT: Duration = Duration::from_secs(2);

/// Start `fave-lock serve` in a fresh project with `args`.
async fn serve(args: &[&str]) -> (Project, Serve) {
    let project = Project::new();
    let serve = Serve::start(project.path(), args, &[]).await;
    (project, serve)
}

/// One request over a fresh connection; the whole answer (head and body) as text, read until the
/// server closes, and how long that took. `None` when the connection was still open after `PROMPT`.
async fn exchange(authority: &str, request: &[u8]) -> Option<(String, Duration)> {
    exchange_within(authority, request, PROMPT).await
}

/// [`exchange`], waiting up to `within` for the close.
async fn exchange_within(
    authority: &str,
    request: &[u8],
    within: Duration,
) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(authority).await.unwrap();
    // A server that refuses early may close before all is written: what it answered still counts.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    tokio::time::timeout(within, read_until_closed(&mut stream, &mut answer))
        .await
        .ok()?;
    Some((
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    ))
}

/// Read into `answer` until the server closes (or resets) the connection.
async fn read_until_closed(stream: &mut TcpStream, answer: &mut Vec<u8>) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// `GET /healthz` with `Connection: close`: the status line's code and the time to the full answer.
async fn healthz(authority: &str) -> (u16, Duration) {
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    let Some((answer, elapsed)) = exchange(authority, request.as_bytes()).await else {
        panic!("/healthz did not answer within {PROMPT:?}");
    };
    (status(&answer), elapsed)
}

/// The status code of an HTTP/1.1 answer, 0 for none.
fn status(answer: &str) -> u16 {
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// File descriptors the process `pid` has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The soft `Max open files` limit of process `pid`.
fn open_file_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let soft = line.split_whitespace().nth(3).unwrap();
    soft.parse().unwrap_or(u64::MAX)
}

/// Make sure this test process may open `wanted` files: raise the soft limit up to the hard one.
fn raise_own_fd_limit(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read or write one `rlimit` through a valid pointer.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(
        limit.rlim_cur >= wanted,
        "this test needs {wanted} open files; the hard limit is {}",
        limit.rlim_max
    );
}

/// The server's open files once the start-up check's own connection has closed.
async fn quiet_fds(pid: u32) -> usize {
    tokio::time::sleep(Duration::from_millis(500)).await;
    open_fds(pid)
}

/// Wait (at most `within`) until the server has at most `most` files open; the count at the end.
async fn fds_settle(pid: u32, most: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let count = open_fds(pid);
        if count <= most || Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A slowloris client: a request line and one header byte a second, forever. Returns how long after
/// connecting the server closed the connection, or `None` if it still had not after `give_up`.
async fn slowloris(authority: String, give_up: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(&authority).await.unwrap();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\nX-Slow: ");
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            // The server sends nothing on a header timeout: any read result is its close.
            _ = stream.read(&mut buf) => return Some(started.elapsed()),
            _ = tick.tick() => {
                if stream.write_all(b"a").await.is_err() {
                    return Some(started.elapsed());
                }
            }
            () = tokio::time::sleep_until((started + give_up).into()) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_while_500_slow_clients_trickle_headers() {
    raise_own_fd_limit(SLOW as u64 + 256);
    let timeout = HEADER_TIMEOUT.as_secs().to_string();
    let (_project, serve) = serve(&["--header-timeout", &timeout]).await;
    let pid = serve.pid();
    let limit = open_file_limit(pid);
    assert!(
        limit >= SLOW as u64 + 256,
        "the server may open only {limit} files"
    );
    let baseline = quiet_fds(pid).await;

    let give_up = HEADER_TIMEOUT + Duration::from_secs(10);
    let started = Instant::now();
    let slow: Vec<_> = (0..SLOW)
        .map(|_| tokio::spawn(slowloris(serve.authority().to_string(), give_up)))
        .collect();
    // All connected and trickling (well inside the header timeout).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = open_fds(pid);
    assert!(
        during >= baseline + SLOW * 9 / 10,
        "the server holds {during} files (baseline {baseline}): the slow connections were not accepted"
    );
    assert!(
        during <= baseline + SLOW + 16,
        "the server holds {during} files for {SLOW} connections (baseline {baseline})"
    );

    // While they are open, /healthz answers promptly on fresh connections, again and again.
    let mut latencies = Vec::new();
    while started.elapsed() < HEADER_TIMEOUT - Duration::from_millis(500) {
        let (code, elapsed) = healthz(serve.authority()).await;
        assert_eq!(code, 200);
        assert!(elapsed < PROMPT, "/healthz took {elapsed:?}");
        latencies.push(elapsed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(latencies.len() >= 5, "{latencies:?}");

    // The server closes every slow connection at its header timeout, not before, not much after.
    for task in slow {
        let closed = task
            .await
            .unwrap()
            .expect("a slow connection was never closed");
        assert!(
            closed >= HEADER_TIMEOUT - Duration::from_millis(200),
            "closed after {closed:?}"
        );
        assert!(
            closed <= HEADER_TIMEOUT + Duration::from_secs(4),
            "closed after {closed:?}, header timeout {HEADER_TIMEOUT:?}"
        );
    }
    let after = fds_settle(pid, baseline + 2, Duration::from_secs(3)).await;
    assert!(
        after <= baseline + 2,
        "the server still holds {after} files (baseline {baseline})"
    );
    assert_eq!(healthz(serve.authority()).await.0, 200);
    let max = latencies.iter().max().unwrap();
    eprintln!(
        "/healthz under {SLOW} slow connections: {} requests, max {max:?}; server fds {baseline} → {during} → {after}",
        latencies.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_fast_and_their_slots_come_back() {
    let (_project, serve) = serve(&["--max-connections", "20", "--header-timeout", "3"]).await;
    let pid = serve.pid();
    let baseline = quiet_fds(pid).await;
    let give_up = Duration::from_secs(15);
    let slow: Vec<_> = (0..20)
        .map(|_| tokio::spawn(slowloris(serve.authority().to_string(), give_up)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let (answer, elapsed) = exchange(serve.authority(), request)
        .await
        .expect("a connection past the cap got no answer");
    assert_eq!(status(&answer), 503, "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(elapsed < PROMPT, "{elapsed:?}");
    assert!(open_fds(pid) <= baseline + 20 + 4);

    for task in slow {
        assert!(
            task.await.unwrap().is_some(),
            "a slow connection stayed open"
        );
    }
    assert_eq!(healthz(serve.authority()).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_requests_get_an_answer_or_a_clean_close() {
    let (_project, serve) = serve(&[]).await;
    let authority = serve.authority();
    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let big_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(64 * 1024));
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..500)
            .map(|n| format!("X-{n}: y\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("a 64 KiB header", big_header.into_bytes(), &[431]),
        ("a 64 KiB URI", big_uri.into_bytes(), &[414, 431]),
        ("500 headers", many_headers.into_bytes(), &[431]),
        (
            "a TLS client hello",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01\x02\xff\xfe\r\n\r\n".to_vec(),
            &[0, 400],
        ),
        (
            "binary garbage",
            (0..4096u32)
                .map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            &[0, 400],
        ),
        (
            "an HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            &[0, 400, 505],
        ),
        (
            "a NUL in a header",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n".to_vec(),
            &[400],
        ),
        (
            "a huge Content-Length",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n".to_vec(),
            &[413],
        ),
        (
            "two Content-Lengths",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
                .to_vec(),
            &[400],
        ),
        (
            "a body announced and never sent",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab".to_vec(),
            &[200],
        ),
        (
            "invalid UTF-8 in the path",
            b"GET /api/images/%FF%FE/tags HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                .to_vec(),
            &[400],
        ),
        (
            "raw high bytes in the path",
            b"GET /images/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
            &[400, 404],
        ),
    ];
    for (what, request, expected) in cases {
        let Some((answer, elapsed)) = exchange(authority, &request).await else {
            panic!("{what}: neither an answer nor a close within {PROMPT:?}");
        };
        let code = status(&answer);
        assert!(
            expected.contains(&code),
            "{what}: answered {code} after {elapsed:?}: {answer:.200}"
        );
    }
    // Still up, and no panic logged.
    assert_eq!(healthz(authority).await.0, 200);
    let log = serve.log().join("\n");
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_a_client_does_not_read_are_abandoned_after_the_send_timeout() {
    let (_project, serve) = serve(&["--send-timeout", "2"]).await;
    let pid = serve.pid();
    let baseline = quiet_fds(pid).await;
    // 4,000 pipelined requests for the 15 KB OpenAPI document (60 MB of answers, far more than the
    // socket buffers hold), and never a byte read.
    let request = "GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4000);
    let mut stream = TcpStream::connect(serve.authority()).await.unwrap();
    let sent =
        tokio::time::timeout(Duration::from_secs(5), stream.write_all(request.as_bytes())).await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        open_fds(pid) > baseline,
        "the stalled connection should be open still"
    );
    // The server gives up within the send timeout (counted from when its writes block) plus slack,
    // although the client still holds its end.
    let after = fds_settle(pid, baseline, Duration::from_secs(5)).await;
    assert_eq!(
        after,
        baseline,
        "the server still holds the stalled connection after {:?} (request written: {})",
        started.elapsed(),
        sent.is_ok()
    );
    // What the client then reads ends (a close), and holds fewer answers than it asked for.
    let mut answers = Vec::new();
    let _ = tokio::time::timeout(PROMPT, stream.read_to_end(&mut answers))
        .await
        .expect("the connection did not end");
    let count = answers
        .windows(17)
        .filter(|window| window == b"HTTP/1.1 200 OK\r\n")
        .count();
    assert!(count < 4000, "all {count} answers were delivered");
    assert_eq!(healthz(serve.authority()).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (_project, serve) = serve(&["--idle-timeout", "1", "--header-timeout", "10"]).await;
    let idle = Duration::from_secs(1);
    // A connection that never sends anything.
    let within = Duration::from_secs(5);
    let (answer, closed) = exchange_within(serve.authority(), b"", within)
        .await
        .expect("an idle connection stayed open");
    assert_eq!(answer, "");
    assert!(
        closed >= idle && closed < idle * 3,
        "closed after {closed:?}"
    );
    // A kept-alive connection after its answer: closed an idle timeout after the answer.
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let (answer, closed) = exchange_within(serve.authority(), request, within)
        .await
        .expect("a kept-alive connection stayed open");
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(
        closed >= idle && closed < idle * 3,
        "closed after {closed:?}"
    );
}

/// SIGTERM: the listener closes at once, an idle kept-alive connection is closed at once, a
/// connection still sending its head gets until its header timeout, then the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_within_the_header_timeout() {
    let (_project, serve) = serve(&["--header-timeout", "3", "--idle-timeout", "30"]).await;
    let authority = serve.authority().to_string();
    let slow = tokio::spawn(slowloris(authority.clone(), Duration::from_secs(15)));
    let mut kept = TcpStream::connect(&authority).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stopping = Instant::now();
    // SAFETY: kill sends a signal to the one process this test started.
    assert_eq!(
        unsafe { libc::kill(serve.pid() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let mut rest = Vec::new();
    tokio::time::timeout(PROMPT, read_until_closed(&mut kept, &mut rest))
        .await
        .expect("the idle kept-alive connection stayed open after SIGTERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        TcpStream::connect(&authority).await.is_err(),
        "still accepting after SIGTERM"
    );
    let closed = slow
        .await
        .unwrap()
        .expect("the slow connection stayed open");
    assert!(closed <= Duration::from_secs(3) + PROMPT, "{closed:?}");
    while !serve.log().iter().any(|line| line.contains("\"stopped\"")) {
        assert!(
            stopping.elapsed() < Duration::from_secs(3) + PROMPT,
            "not stopped: {:#?}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
