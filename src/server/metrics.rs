//! `/metrics` in the Prometheus text format: requests and latency by route, registry requests by kind
//! and outcome, and every cache's hits and misses. Counting is a few atomic adds per request; the
//! middleware looks its route's counters up under a read lock.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::state::AppState;

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    5.0,
];

/// The counters of one route.
#[derive(Default)]
struct RouteStats {
    /// By status class: 1xx … 5xx.
    statuses: [AtomicU64; 5],
    /// Cumulative-at-render buckets: each request counts in the first bucket it fits.
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Every route's counters.
pub struct Metrics {
    routes: RwLock<HashMap<String, Arc<RouteStats>>>,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            routes: RwLock::default(),
            started: Instant::now(),
        }
    }
}

impl Metrics {
    fn route(&self, route: &str) -> Arc<RouteStats> {
        if let Some(stats) = self
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(route)
        {
            return Arc::clone(stats);
        }
        let mut routes = self
            .routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(routes.entry(route.to_string()).or_default())
    }

    /// Seconds since the server state was made.
    fn uptime(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// Middleware: count the request under its route pattern (`/images/{name}`, never the raw path, so
/// the number of series stays bounded), its status class and its latency.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let stats = state.metrics.route(route);
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let class = (response.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    stats.statuses[class].fetch_add(1, Ordering::Relaxed);
    stats.count.fetch_add(1, Ordering::Relaxed);
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    stats.sum_micros.fetch_add(micros, Ordering::Relaxed);
    let seconds = elapsed.as_secs_f64();
    if let Some(bucket) = BUCKETS.iter().position(|bound| seconds <= *bound) {
        stats.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }
    tracing::debug!(status = response.status().as_u16(), micros, "request");
    response
}

/// The Prometheus text exposition of every counter.
pub fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    build_info(&mut out);
    let routes = state.metrics.sorted_routes();
    http_requests(&mut out, &routes);
    http_latency(&mut out, &routes);
    registry_requests(&mut out, state);
    cache_lookups(&mut out, state);
    snapshots(&mut out, state);
    check_runs(&mut out, state);
    header(
        &mut out,
        "fave_lock_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let _ = writeln!(
        out,
        "fave_lock_uptime_seconds {:.3}",
        state.metrics.uptime()
    );
    super::process::render(&mut out);
    out
}

/// `fave_lock_build_info{version, git} 1`: which build answers, by the usual `_build_info` convention
/// (a gauge that is always 1, its labels carrying the facts).
fn build_info(out: &mut String) {
    header(
        out,
        "fave_lock_build_info",
        "gauge",
        "The running build: crate version and git commit (always 1).",
    );
    let _ = writeln!(
        out,
        "fave_lock_build_info{{version=\"{}\",git=\"{}\"}} 1",
        escape(super::VERSION),
        escape(super::GIT_COMMIT)
    );
}

impl Metrics {
    fn sorted_routes(&self) -> Vec<(String, Arc<RouteStats>)> {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut routes: Vec<_> = routes
            .iter()
            .map(|(route, stats)| (route.clone(), Arc::clone(stats)))
            .collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        routes
    }
}

fn http_requests(out: &mut String, routes: &[(String, Arc<RouteStats>)]) {
    header(
        out,
        "fave_lock_http_requests_total",
        "counter",
        "HTTP requests answered, by route pattern and status class.",
    );
    for (route, stats) in routes {
        for (class, counter) in stats.statuses.iter().enumerate() {
            let count = counter.load(Ordering::Relaxed);
            if count > 0 {
                let _ = writeln!(
                    out,
                    "fave_lock_http_requests_total{{route=\"{}\",status=\"{}xx\"}} {count}",
                    escape(route),
                    class + 1
                );
            }
        }
    }
}

fn http_latency(out: &mut String, routes: &[(String, Arc<RouteStats>)]) {
    header(
        out,
        "fave_lock_http_request_duration_seconds",
        "histogram",
        "Time to answer, by route pattern.",
    );
    for (route, stats) in routes {
        let route = escape(route);
        let mut cumulative = 0;
        for (bound, counter) in BUCKETS.iter().zip(&stats.buckets) {
            cumulative += counter.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "fave_lock_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = stats.count.load(Ordering::Relaxed);
        let sum = seconds(stats.sum_micros.load(Ordering::Relaxed), 1e6);
        let _ = writeln!(
            out,
            "fave_lock_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}\n\
             fave_lock_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}\n\
             fave_lock_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
        );
    }
}

fn registry_requests(out: &mut String, state: &AppState) {
    header(
        out,
        "fave_lock_registry_requests_total",
        "counter",
        "Requests sent to registries, by kind and outcome.",
    );
    for (kind, outcome, count) in &state.registry.stats().snapshot().requests {
        let _ = writeln!(
            out,
            "fave_lock_registry_requests_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {count}"
        );
    }
}

fn cache_lookups(out: &mut String, state: &AppState) {
    header(
        out,
        "fave_lock_cache_lookups_total",
        "counter",
        "Cache lookups, by cache and result.",
    );
    let mut line = |cache: &str, result: &str, count: u64| {
        let _ = writeln!(
            out,
            "fave_lock_cache_lookups_total{{cache=\"{cache}\",result=\"{result}\"}} {count}"
        );
    };
    for (cache, hits, misses) in &state.registry.stats().snapshot().caches {
        line(cache, "hit", *hits);
        line(cache, "miss", *misses);
    }
    let pages = &state.pages.lookups;
    line("page", "hit", pages[0].load(Ordering::Relaxed));
    line("page", "miss", pages[1].load(Ordering::Relaxed));
    for (result, counter) in ["hit", "stale", "miss"]
        .iter()
        .zip(&state.snapshots.lookups)
    {
        line("snapshot", result, counter.load(Ordering::Relaxed));
    }
}

fn check_runs(out: &mut String, state: &AppState) {
    let Some(check) = &state.check else {
        return;
    };
    header(
        out,
        "fave_lock_check_runs_total",
        "counter",
        "Lock check runs (fave-lock check, for /api/check and the dashboard), by mode and outcome.",
    );
    for (mode, outcome, count) in check.run_counts() {
        let _ = writeln!(
            out,
            "fave_lock_check_runs_total{{mode=\"{mode}\",outcome=\"{outcome}\"}} {count}"
        );
    }
    header(
        out,
        "fave_lock_check_run_seconds_total",
        "counter",
        "Time spent in lock check runs.",
    );
    let _ = writeln!(
        out,
        "fave_lock_check_run_seconds_total {}",
        seconds(check.run_millis_total(), 1e3)
    );
}

fn snapshots(out: &mut String, state: &AppState) {
    let snapshots = &state.snapshots;
    header(
        out,
        "fave_lock_snapshot_build_seconds_total",
        "counter",
        "Time spent gathering image snapshots (lock files, registry, base image).",
    );
    let total = snapshots.build_millis_total.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "fave_lock_snapshot_build_seconds_total {}",
        seconds(total, 1e3)
    );
    header(
        out,
        "fave_lock_snapshot_last_build_seconds",
        "gauge",
        "Duration of the most recent snapshot build.",
    );
    let last = snapshots.last_build_millis.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "fave_lock_snapshot_last_build_seconds {}",
        seconds(last, 1e3)
    );
}

/// `count / per_second` as seconds (counters stay far below f64's exact integer range).
#[allow(clippy::cast_precision_loss)]
fn seconds(count: u64, per_second: f64) -> f64 {
    count as f64 / per_second
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Escape a label value (`\`, `"`, newline), per the exposition format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
