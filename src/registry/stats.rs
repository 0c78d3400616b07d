//! Counters of registry requests and cache use, read by `/metrics`. Plain atomics: counting must cost
//! nothing next to a request.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a request fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `GET /v2/<name>/tags/list` (each page).
    Tags,
    /// `GET /v2/<name>/manifests/<reference>`.
    Manifest,
    /// `GET /v2/<name>/blobs/<digest>` (configs), or a `HEAD` asking whether a blob is there.
    Blob,
    /// A bearer token from the challenge's realm.
    Token,
    /// `GET /v2/<name>/referrers/<digest>` (OCI 1.1).
    Referrers,
    /// A blob upload or manifest `PUT` (`fave-lock attach`).
    Push,
}

impl RequestKind {
    /// Every kind, in metrics order.
    pub const ALL: [RequestKind; 6] = [
        RequestKind::Tags,
        RequestKind::Manifest,
        RequestKind::Blob,
        RequestKind::Token,
        RequestKind::Referrers,
        RequestKind::Push,
    ];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Tags => "tags",
            RequestKind::Manifest => "manifest",
            RequestKind::Blob => "blob",
            RequestKind::Token => "token",
            RequestKind::Referrers => "referrers",
            RequestKind::Push => "push",
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Success,
    /// 401: answered by authenticating and asking again.
    Unauthorized,
    /// Any other 4xx.
    ClientError,
    /// 5xx or anything else.
    ServerError,
    /// No answer: connection refused, timeout, TLS.
    Transport,
}

impl Outcome {
    const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::Unauthorized,
        Outcome::ClientError,
        Outcome::ServerError,
        Outcome::Transport,
    ];

    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "ok",
            Outcome::Unauthorized => "unauthorized",
            Outcome::ClientError => "client-error",
            Outcome::ServerError => "server-error",
            Outcome::Transport => "transport-error",
        }
    }

    pub(crate) fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Success,
            401 => Outcome::Unauthorized,
            400..=499 => Outcome::ClientError,
            _ => Outcome::ServerError,
        }
    }
}

/// Which cache was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    /// Manifests by digest (immutable).
    Manifest,
    /// Config blobs by digest (immutable).
    Config,
    /// Tag lists, for a short time.
    TagList,
    /// Tag → digest, for the same short time.
    TagDigest,
    /// A manifest's referrers, for the same short time.
    Referrers,
}

impl CacheKind {
    /// Every cache, in metrics order.
    pub const ALL: [CacheKind; 5] = [
        CacheKind::Manifest,
        CacheKind::Config,
        CacheKind::TagList,
        CacheKind::TagDigest,
        CacheKind::Referrers,
    ];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            CacheKind::Manifest => "registry-manifest",
            CacheKind::Config => "registry-config",
            CacheKind::TagList => "registry-tag-list",
            CacheKind::TagDigest => "registry-tag-digest",
            CacheKind::Referrers => "registry-referrers",
        }
    }
}

/// The counters.
#[derive(Debug, Default)]
pub struct RegistryStats {
    requests: [[AtomicU64; 5]; RequestKind::ALL.len()],
    cache: [[AtomicU64; 2]; CacheKind::ALL.len()],
}

/// One counter's value, for rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// `(kind, outcome, count)` for every combination.
    pub requests: Vec<(&'static str, &'static str, u64)>,
    /// `(cache, hits, misses)`.
    pub caches: Vec<(&'static str, u64, u64)>,
}

impl RegistryStats {
    pub(crate) fn request(&self, kind: RequestKind, outcome: Outcome) {
        self.requests[kind as usize][outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cache(&self, kind: CacheKind, hit: bool) {
        self.cache[kind as usize][usize::from(!hit)].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests of `kind` so far, whatever their outcome.
    pub fn requests_of(&self, kind: RequestKind) -> u64 {
        self.requests[kind as usize]
            .iter()
            .map(|counter| counter.load(Ordering::Relaxed))
            .sum()
    }

    /// Every counter's current value.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut requests = Vec::new();
        for kind in RequestKind::ALL {
            for outcome in Outcome::ALL {
                let count = self.requests[kind as usize][outcome as usize].load(Ordering::Relaxed);
                requests.push((kind.label(), outcome.label(), count));
            }
        }
        let caches = CacheKind::ALL
            .iter()
            .map(|&kind| {
                let [hits, misses] = &self.cache[kind as usize];
                (
                    kind.label(),
                    hits.load(Ordering::Relaxed),
                    misses.load(Ordering::Relaxed),
                )
            })
            .collect();
        StatsSnapshot { requests, caches }
    }
}
