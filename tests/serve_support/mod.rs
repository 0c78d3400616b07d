//! Shared by the `serve*` integration tests: Debian's `docker-registry` on a free loopback port, small
//! real OCI images pushed through the distribution API (reproducible, so their digests are stable),
//! and the real `fave-lock serve` binary on a free port.
//!
//! Every process started here is ended by its own handle (its PID) when the handle drops.

#![allow(dead_code)] // each test binary uses a different part

pub mod contract;
pub mod oci;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once, mpsc};
use std::time::{Duration, Instant};

/// Install docker-registry, skopeo, htpasswd, chromium and wrk when missing (once per test
/// binary). Failing to is a test failure, never a skip.
pub fn setup_deps() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/setup/serve-deps.sh");
        let status = Command::new("bash")
            .arg(&script)
            .status()
            .expect("run scripts/setup/serve-deps.sh");
        assert!(status.success(), "{} failed", script.display());
    });
}

/// A port nobody listened on a moment ago (the caller checks the server it starts is really up).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP client for the tests' own requests (no proxy: everything is on loopback).
pub fn http() -> reqwest::Client {
    // reqwest is built with `rustls-no-provider`; a second install finds one and is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .unwrap()
}

/// A process this test started, killed (by its own PID) when dropped, even when a test panics first.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `docker-registry`, removed with its storage on drop.
pub struct Registry {
    _child: Process,
    pub port: u16,
    /// `user:password` when the registry wants basic auth.
    pub credentials: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Start a registry without auth.
    pub async fn start() -> Registry {
        Registry::start_with(None).await
    }

    /// Start a registry that wants `user`/`password` (bcrypt htpasswd, the only kind it accepts).
    pub async fn start_with_auth(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user.to_string(), password.to_string()))).await
    }

    async fn start_with(credentials: Option<(String, String)>) -> Registry {
        setup_deps();
        let dir = tempfile::tempdir().unwrap();
        let auth = match &credentials {
            Some((user, password)) => {
                let output = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd");
                assert!(output.status.success());
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, output.stdout).unwrap();
                format!(
                    "auth: {{htpasswd: {{realm: fave-lock-test, path: {}}}}}\n",
                    path.display()
                )
            }
            None => String::new(),
        };
        // Another process may take the port between our probe and the registry's bind: try again then.
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("registry.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog: {{level: warn}}\n\
                     storage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\n\
                     http: {{addr: 127.0.0.1:{port}, secret: test-only}}\n{auth}",
                    dir.path().join("data").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Process(
                Command::new("docker-registry")
                    .arg("serve")
                    .arg(&config)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("start docker-registry"),
            );
            if wait_for_registry(&mut child.0, port).await {
                return Registry {
                    _child: child,
                    port,
                    credentials,
                    dir,
                };
            }
        }
        let log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start: {log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A request builder with the registry's credentials.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = http().request(method, format!("{}{path}", self.url()));
        match &self.credentials {
            Some((user, password)) => builder.basic_auth(user, Some(password)),
            None => builder,
        }
    }

    /// The registry's own answer for a manifest: `Docker-Content-Digest`, content type, body. This is
    /// the ground truth the tests compare fave-lock's output with.
    pub async fn manifest(&self, repository: &str, reference: &str) -> (String, String, Vec<u8>) {
        let response = self
            .request(
                reqwest::Method::GET,
                &format!("/v2/{repository}/manifests/{reference}"),
            )
            .header("Accept", oci::ACCEPT)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        let digest = header("docker-content-digest");
        let content_type = header("content-type");
        (
            digest,
            content_type,
            response.bytes().await.unwrap().to_vec(),
        )
    }
}

async fn wait_for_registry(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(response) = http()
            .get(format!("http://127.0.0.1:{port}/v2/"))
            .send()
            .await
        {
            // 401 is a registry with auth that is up.
            if matches!(response.status().as_u16(), 200 | 401) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A temporary project: `fave-lock.toml` and `locks/fave-base/` with the repository's committed lock.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A config naming `fave-base` (registry ghcr.io, which the tests override with `--image`), and
    /// its lock folder holding copies of the repository's `requirements.txt` and `pylock.toml`.
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fave-lock.toml"),
            "[[image]]\nname = \"fave-base\"\npython-version = \"3.11\"\n\
             requirements = \"requirements.in\"\noutput = \"locks/fave-base\"\n\
             registry = \"ghcr.io/fave-project/fave-base\"\n\
             platforms = [{ platform = \"linux/amd64\", manylinux = \"2_36\" }]\n",
        )
        .unwrap();
        let locks = dir.path().join("locks/fave-base");
        std::fs::create_dir_all(&locks).unwrap();
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("locks/fave-base");
        for name in ["requirements.txt", "pylock.toml"] {
            std::fs::copy(committed.join(name), locks.join(name)).unwrap();
        }
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn lock_dir(&self) -> PathBuf {
        self.dir.path().join("locks/fave-base")
    }

    /// sha256 of the lock's requirements.txt: what a fresh image's `io.fave.lock.sha256` says.
    pub fn lock_sha256(&self) -> String {
        oci::sha256_hex(&std::fs::read(self.lock_dir().join("requirements.txt")).unwrap())
    }

    /// Write `locks/fave-base/build-plan.json`.
    pub fn write_plan(&self, plan: &serde_json::Value) {
        std::fs::write(
            self.lock_dir().join("build-plan.json"),
            serde_json::to_string_pretty(plan).unwrap(),
        )
        .unwrap();
    }
}

/// A running `fave-lock serve`, stopped on drop.
pub struct Serve {
    _child: Process,
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
    /// The server's `HOME`, so no Docker config of this machine leaks in.
    _home: tempfile::TempDir,
}

impl Serve {
    /// Start the real binary in `cwd` with `args` after `serve --addr 127.0.0.1:0`, with a clean
    /// credential environment plus `env`; wait for its `listening` log line and a healthy `/healthz`.
    pub async fn start(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let home_dir = tempfile::tempdir().unwrap();
        let home = home_dir.path().to_path_buf();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fave-lock"));
        command
            .current_dir(cwd)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("FAVE_LOCK_REGISTRY_USER")
            .env_remove("FAVE_LOCK_REGISTRY_PASSWORD")
            .env("HOME", &home)
            .env("DOCKER_CONFIG", home.join(".docker"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = Process(command.spawn().expect("start fave-lock serve"));
        let stderr = child.0.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = mpsc::channel();
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && event["message"] == "listening"
                    && let Some(addr) = event["addr"].as_str()
                {
                    let _ = sender.send(addr.to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let Ok(addr) = receiver.recv_timeout(Duration::from_secs(30)) else {
            panic!("fave-lock serve did not start: {:#?}", log.lock().unwrap());
        };
        let serve = Serve {
            _child: child,
            url: format!("http://{addr}"),
            log,
            _home: home_dir,
        };
        let health = serve.get("/healthz").await;
        assert_eq!(health.0, 200, "{}", health.1);
        serve
    }

    /// [`Serve::start`] in a project resolved from a test index at `index_url`: the lock check reads
    /// that index and the project's `cache` (as `fave-lock check` in the project would).
    pub async fn start_indexed(cwd: &Path, cache: &Path, index_url: &str, args: &[&str]) -> Serve {
        let cache = cache.display().to_string();
        let env = [
            ("FAVE_LOCK_CACHE_DIR", cache.as_str()),
            ("FAVE_LOCK_INDEX_URL", index_url),
        ];
        Serve::start(cwd, args, &env).await
    }

    /// GET `path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = http()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// GET `path` as JSON, asserting 200.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// The server's process id (to read its `/proc` entry).
    pub fn pid(&self) -> u32 {
        self._child.0.id()
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The server's log lines so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// The `<tr data-tag="TAG"…>…</tr>` row of the tags table.
pub fn tag_row<'a>(page: &'a str, tag: &str) -> &'a str {
    let start = page
        .find(&format!("<tr data-tag=\"{tag}\""))
        .unwrap_or_else(|| panic!("no row for tag {tag}"));
    let end = page[start..].find("</tr>").unwrap() + start;
    &page[start..end]
}
