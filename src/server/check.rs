//! The server's lock-freshness check: [`crate::check::run`] over the config the server was started with,
//! exactly what `fave-lock check` runs, cached for `check_ttl`. A run costs seconds (every locked
//! project's index page, the registry), so one run serves every request until it expires, and
//! concurrent requests wait for the same run instead of each starting one. Online and offline
//! (`?offline=true`, local checks only) are cached separately.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::error::WebError;
use super::state::AppState;
use crate::check::{CheckClients, CheckOptions, CheckReport, ImageCheck};
use crate::config::Config;
use crate::index::{IndexClient, IndexError, IndexSettings};

/// A failed run is kept at most this long, so a broken index is asked again soon, but not by every
/// request.
const FAILURE_TTL: Duration = Duration::from_secs(10);

/// How the server runs the check.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// The index URL overriding the config's (`--index-url`), as for `fave-lock check`.
    pub index_url: Option<String>,
    /// Where index pages and metadata are cached.
    pub cache_dir: PathBuf,
    /// How long a result is served before the next request runs the check again.
    pub ttl: Duration,
    /// Ask the registry (base drift, published image not rebuilt), as `fave-lock check` does; off for
    /// a registry the server cannot reach, whose failure would otherwise fail every check.
    pub registry: bool,
}

/// What the check needs besides the server's registry client.
pub struct CheckService {
    config: Config,
    registry: bool,
    /// Asks the index for every page (a cached page is never trusted: the cache TTL is the run's).
    online: Arc<IndexClient>,
    /// Answers from the disk cache only, for `?offline=true` and its diff.
    offline: Arc<IndexClient>,
    ttl: Duration,
    /// Online, offline.
    slots: [Slot; 2],
    generation: AtomicU64,
    /// Runs by mode (online, offline) and outcome ([`OUTCOMES`]), and their time, for `/metrics`.
    runs: [[AtomicU64; OUTCOMES.len()]; 2],
    run_millis_total: AtomicU64,
}

/// The outcomes a check run is counted under: its verdict, or `error` when it could not finish.
pub(crate) const OUTCOMES: [&str; 4] = ["fresh", "stale", "integrity", "error"];

#[derive(Default)]
struct Slot {
    current: RwLock<Option<Arc<CheckOutcome>>>,
    /// Held while a run is in progress, so one runs at a time.
    running: tokio::sync::Mutex<()>,
}

impl Slot {
    fn current(&self) -> Option<Arc<CheckOutcome>> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Why a run produced no report.
#[derive(Debug, Clone)]
pub struct CheckFailure {
    /// The error and its causes, `: `-joined.
    pub message: String,
    /// The index or a registry failed (502), rather than something local (500).
    pub remote: bool,
}

/// One run's result, and its `/api/check` answer rendered once.
pub struct CheckOutcome {
    /// Increases with every run; keys the pages that show it.
    pub generation: u64,
    pub checked_at: Timestamp,
    built: Instant,
    pub result: Result<CheckReport, CheckFailure>,
    status: StatusCode,
    body: Bytes,
}

impl CheckOutcome {
    fn is_fresh(&self, ttl: Duration) -> bool {
        let ttl = if self.result.is_ok() {
            ttl
        } else {
            ttl.min(FAILURE_TTL)
        };
        self.built.elapsed() < ttl
    }

    /// The `/api/check` answer: 200 with the report (whatever its verdict), or a JSON error body.
    pub fn response(&self) -> Response {
        (
            self.status,
            [
                (CONTENT_TYPE, super::handlers::JSON),
                (CACHE_CONTROL, "no-cache"),
            ],
            self.body.clone(),
        )
            .into_response()
    }
}

impl CheckService {
    /// `(mode, outcome, runs)` for every mode and outcome, zeros included, for `/metrics`.
    pub(crate) fn run_counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut counts = Vec::new();
        for (mode, runs) in ["online", "offline"].into_iter().zip(&self.runs) {
            for (outcome, count) in OUTCOMES.into_iter().zip(runs) {
                counts.push((mode, outcome, count.load(Ordering::Relaxed)));
            }
        }
        counts
    }

    /// Milliseconds spent in check runs.
    pub(crate) fn run_millis_total(&self) -> u64 {
        self.run_millis_total.load(Ordering::Relaxed)
    }

    /// The check of `config`'s images.
    ///
    /// # Errors
    ///
    /// The index client cannot be set up.
    pub fn new(config: Config, settings: CheckSettings) -> Result<CheckService, IndexError> {
        let client = |offline: bool| {
            IndexClient::new(IndexSettings {
                index_url: config.effective_index_url(settings.index_url.as_deref()),
                cache_dir: settings.cache_dir.clone(),
                offline,
                refresh: false,
                page_ttl: Duration::ZERO,
                concurrency: 32,
            })
            .map(Arc::new)
        };
        Ok(CheckService {
            online: client(false)?,
            offline: client(true)?,
            config,
            registry: settings.registry,
            ttl: settings.ttl,
            slots: Default::default(),
            generation: AtomicU64::new(0),
            runs: Default::default(),
            run_millis_total: AtomicU64::new(0),
        })
    }
}

/// The current check result: cached while fresh, else run now (once for all waiting requests).
///
/// # Errors
///
/// [`WebError::CheckNotConfigured`] when the server has no config, [`WebError::CheckPending`] when the
/// run outlasts the request and there is no earlier result to serve; a run that failed is an `Ok`
/// outcome carrying the failure.
pub async fn outcome(state: &AppState, offline: bool) -> Result<Arc<CheckOutcome>, WebError> {
    let service = state.check.as_ref().ok_or(WebError::CheckNotConfigured)?;
    let slot = &service.slots[usize::from(offline)];
    let previous = slot.current();
    if let Some(current) = previous.as_ref().filter(|c| c.is_fresh(service.ttl)) {
        return Ok(Arc::clone(current));
    }
    // Answer before the request timeout would cut the answer to a bodiless 408; the run goes on (it is
    // spawned, so a request that gives up does not cancel it) and serves the requests after it.
    let wait = state.settings.request_timeout.mul_f64(0.9);
    let state = state.clone();
    let task = tokio::spawn(async move {
        let service = state.check.as_ref().expect("checked above");
        let slot = &service.slots[usize::from(offline)];
        let _running = slot.running.lock().await;
        if let Some(current) = slot.current().filter(|c| c.is_fresh(service.ttl)) {
            return current;
        }
        let outcome = Arc::new(run(&state, service, offline).await);
        *slot
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&outcome));
        outcome
    });
    match tokio::time::timeout(wait, task).await {
        Ok(joined) => {
            joined.map_err(|error| WebError::Internal(format!("the check stopped: {error}")))
        }
        // The previous result (its `checked-at` says how old) beats none.
        Err(_) => previous.ok_or(WebError::CheckPending),
    }
}

async fn run(state: &AppState, service: &CheckService, offline: bool) -> CheckOutcome {
    let started = Instant::now();
    let options = CheckOptions {
        offline,
        registry: service.registry,
        ..CheckOptions::default()
    };
    let clients = CheckClients {
        index: if offline {
            &service.offline
        } else {
            &service.online
        },
        registry: &state.registry,
    };
    let result = crate::check::run(&service.config, clients, &options)
        .await
        .map_err(|error| {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            CheckFailure {
                message,
                remote: error.is_remote(),
            }
        });
    let checked_at = Timestamp::now();
    let (status, body) = render(&result, checked_at, offline);
    let generation = service.generation.fetch_add(1, Ordering::Relaxed) + 1;
    let outcome = match &result {
        Ok(report) => report.status.as_str(),
        Err(_) => "error",
    };
    if let Some(index) = OUTCOMES.iter().position(|name| *name == outcome) {
        service.runs[usize::from(offline)][index].fetch_add(1, Ordering::Relaxed);
    }
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    service
        .run_millis_total
        .fetch_add(millis, Ordering::Relaxed);
    match &result {
        Ok(report) => tracing::info!(
            offline,
            generation,
            millis = started.elapsed().as_millis(),
            verdict = report.status.as_str(),
            "check run"
        ),
        Err(failure) => tracing::warn!(
            offline,
            generation,
            millis = started.elapsed().as_millis(),
            error = %failure.message,
            "check failed"
        ),
    }
    CheckOutcome {
        generation,
        checked_at,
        built: Instant::now(),
        result,
        status,
        body,
    }
}

/// The report as `fave-lock check --format json` prints it, plus `verdict` (its `status`, or `error`),
/// `checked-at` and `offline`; a failure as `{"verdict": "error", "error": {code, message}}`.
fn render(
    result: &Result<CheckReport, CheckFailure>,
    checked_at: Timestamp,
    offline: bool,
) -> (StatusCode, Bytes) {
    let (status, mut document) = match result {
        Ok(report) => {
            let mut document = serde_json::to_value(report).unwrap_or_else(
                |error| json!({"error": {"code": "internal-error", "message": error.to_string()}}),
            );
            document["verdict"] = json!(report.status.as_str());
            (StatusCode::OK, document)
        }
        Err(failure) => {
            let (status, code) = if failure.remote {
                (StatusCode::BAD_GATEWAY, "check-unavailable")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "check-failed")
            };
            let error = json!({"code": code, "message": failure.message});
            (status, json!({"verdict": "error", "error": error}))
        }
    };
    document["checked-at"] = Value::String(checked_at.to_string());
    document["offline"] = Value::Bool(offline);
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    (status, Bytes::from(text))
}

/// What a page shows of the check: nothing when the server has no config.
pub(crate) struct CheckPanel<'a> {
    outcome: Option<&'a CheckOutcome>,
    failure: Option<String>,
}

impl<'a> CheckPanel<'a> {
    /// The panel for the outcome of [`outcome`].
    pub(crate) fn new(outcome: &'a Result<Arc<CheckOutcome>, WebError>) -> CheckPanel<'a> {
        match outcome {
            Ok(outcome) => CheckPanel {
                outcome: Some(outcome),
                failure: outcome.result.as_ref().err().map(|f| f.message.clone()),
            },
            Err(WebError::CheckNotConfigured) => CheckPanel {
                outcome: None,
                failure: None,
            },
            Err(error) => CheckPanel {
                outcome: None,
                failure: Some(error.to_string()),
            },
        }
    }

    /// Part of the page cache key: a page shows one run.
    pub(crate) fn generation(&self) -> u64 {
        self.outcome.map_or(0, |outcome| outcome.generation)
    }

    pub(crate) fn is_shown(&self) -> bool {
        self.outcome.is_some() || self.failure.is_some()
    }

    /// Why the check has no result.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The result for `image`.
    pub(crate) fn image(&self, image: &str) -> Option<&'a ImageCheck> {
        let report = self.outcome?.result.as_ref().ok()?;
        report.images.iter().find(|check| check.image == image)
    }

    /// When the shown run finished, to the second.
    pub(crate) fn checked_at(&self) -> String {
        self.outcome
            .map(|outcome| super::snapshot::display_time(&outcome.checked_at.to_string()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use axum::http::StatusCode;

    use super::{CheckService, CheckSettings};
    use crate::registry::{RegistryClient, RegistryOptions};
    use crate::server::state::{AppState, ServeSettings};
    use crate::server::testing::get;

    /// An index that accepts connections and never answers: the check outlasts the request, which gets
    /// a JSON 503 instead of the timeout layer's bodiless 408.
    #[tokio::test]
    async fn a_run_that_outlasts_the_request_is_pending_in_json() {
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fave-lock.toml"),
            "[[image]]\nname = \"fave-stt\"\npython-version = \"3.9\"\nrequirements = \"fave-stt.in\"\n\
             output = \"locks/fave-stt\"\nplatforms = [{ platform = \"linux/amd64\", manylinux = \"2_36\" }]\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("fave-stt.in"), "deepspeech==0.9.3\n").unwrap();
        std::fs::create_dir_all(dir.path().join("locks/fave-stt")).unwrap();
        std::fs::write(
            dir.path().join("locks/fave-stt/pylock.toml"),
            include_str!("../../tests/fixtures/locks/deepspeech-numpy2.pylock.toml"),
        )
        .unwrap();
        let config = crate::config::load(&dir.path().join("fave-lock.toml")).unwrap();
        let service = CheckService::new(
            config,
            CheckSettings {
                index_url: Some(format!("http://{}/simple", silent.local_addr().unwrap())),
                cache_dir: dir.path().join("cache"),
                ttl: Duration::from_secs(300),
                registry: false,
            },
        )
        .unwrap();
        let settings = ServeSettings {
            request_timeout: Duration::from_millis(500),
            ..ServeSettings::default()
        };
        let registry = RegistryClient::new(RegistryOptions::default()).unwrap();
        let state = AppState::new(Vec::new(), registry, Some(service), settings);

        let answer = get(&state, "/api/check").await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.json()["error"]["code"], "check-pending");
        // Offline, the same lock is checked at once: its inputs differ from the fixture's.
        let offline = get(&state, "/api/check?offline=true").await;
        assert_eq!(offline.status, StatusCode::OK, "{}", offline.body);
        assert_eq!(offline.json()["verdict"], "stale");
    }
}
