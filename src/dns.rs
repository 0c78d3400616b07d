//! One DNS lookup per host name, shared by every connection an HTTP client opens (the index, the Debian
//! archive and the registry clients each have one).
//!
//! Until its first connection to a host is up, the HTTP client cannot know that the host speaks
//! HTTP/2, so a cold run's first burst opens one connection per request in flight, and each looked the
//! name up on its own: 35 lookups within a few milliseconds for prefect-2.x's 34 lines (uv makes 50).
//! The resolver of the machines this runs on drops answers under such a burst: 8 concurrent
//! `getaddrinfo` calls stall for glibc's 5 s retry in about one round of three, 40 in every round. A
//! request waiting for a stalled connection waits with it: 4 of 16 and then 14 of 24 cold prefect-2.x
//! runs took 5.2-10.3 s instead of 0.3-0.5 s. Shared, the lookups are one per name.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long an answer is reused. A run is over long before this; a long-lived process looks again, so
/// a host that moves is followed.
const KEEP: Duration = Duration::from_secs(60);

type Answer = Result<Arc<[SocketAddr]>, Arc<io::Error>>;
type Lookup = Shared<BoxFuture<'static, Answer>>;
/// How a name is looked up: the system's resolver, or a test's stand-in.
type LookupFn = dyn Fn(String) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> + Send + Sync;

/// A resolver for `reqwest::ClientBuilder::dns_resolver` that shares lookups of the same name.
pub(crate) struct SharedResolver {
    lookup: Arc<LookupFn>,
    lookups: Mutex<HashMap<String, (Instant, Lookup)>>,
}

impl SharedResolver {
    /// Shared lookups through the system's resolver (`getaddrinfo`, as reqwest's default does).
    pub(crate) fn system() -> SharedResolver {
        SharedResolver::with_lookup(Arc::new(|host: String| {
            async move {
                // Port 0: the client puts the URL's port (or the scheme's) in its place.
                let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
                Ok(addrs.collect())
            }
            .boxed()
        }))
    }

    fn with_lookup(lookup: Arc<LookupFn>) -> SharedResolver {
        SharedResolver {
            lookup,
            lookups: Mutex::new(HashMap::new()),
        }
    }

    /// The lookup of `host`: the one in flight or answered less than [`KEEP`] ago, else a new one. A
    /// failed lookup is not reused, so the next connection (a retry) asks again.
    fn lookup_of(&self, host: &str) -> Lookup {
        let mut lookups = self
            .lookups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if let Some((started, lookup)) = lookups.get(host) {
            let failed = matches!(lookup.peek(), Some(Err(_)));
            if !failed && now.saturating_duration_since(*started) < KEEP {
                return lookup.clone();
            }
        }
        let lookup = (self.lookup)(host.to_string())
            .map(|answer| answer.map(Arc::from).map_err(Arc::new))
            .boxed()
            .shared();
        lookups.insert(host.to_string(), (now, lookup.clone()));
        lookup
    }
}

impl Resolve for SharedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = self.lookup_of(name.as_str());
        Box::pin(async move {
            match lookup.await {
                Ok(addrs) => Ok(Box::new((0..addrs.len()).map(move |at| addrs[at])) as Addrs),
                // Each waiter gets its own error value, with the lookup's kind and message.
                Err(error) => Err(io::Error::new(error.kind(), error.to_string()).into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A resolver whose lookups are counted, answer after a short wait, and fail for names
    /// starting with "bad".
    fn counting() -> (Arc<AtomicUsize>, SharedResolver) {
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        let resolver = SharedResolver::with_lookup(Arc::new(move |host: String| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if host.starts_with("bad") {
                    Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no {host}"),
                    ))
                } else {
                    Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))])
                }
            }
            .boxed()
        }));
        (count, resolver)
    }

    fn name(host: &str) -> Name {
        Name::from_str(host).unwrap()
    }

    #[tokio::test]
    async fn concurrent_lookups_of_one_name_are_one_lookup_and_all_get_its_answer() {
        let (count, resolver) = counting();
        let answers =
            futures::future::join_all((0..40).map(|index| {
                resolver.resolve(name(if index % 2 == 0 { "a.test" } else { "b.test" }))
            }))
            .await;
        for answer in answers {
            let addrs: Vec<SocketAddr> = answer.unwrap().collect();
            assert_eq!(addrs, [SocketAddr::from(([127, 0, 0, 1], 0))]);
        }
        assert_eq!(count.load(Ordering::SeqCst), 2, "one lookup per name");
        // Answered lookups are reused by later connections too.
        assert_eq!(resolver.resolve(name("a.test")).await.unwrap().count(), 1);
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_lookup_reaches_every_waiter_and_the_next_connection_asks_again() {
        let (count, resolver) = counting();
        let (first, second) = futures::join!(
            resolver.resolve(name("bad.test")),
            resolver.resolve(name("bad.test"))
        );
        for answer in [first, second] {
            let Err(error) = answer else {
                panic!("a failed lookup resolved");
            };
            assert_eq!(error.to_string(), "no bad.test");
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert!(resolver.resolve(name("bad.test")).await.is_err());
        assert_eq!(count.load(Ordering::SeqCst), 2, "a failure is not reused");
    }

    #[tokio::test]
    async fn the_system_resolver_answers_localhost() {
        let resolver = SharedResolver::system();
        let addrs: Vec<SocketAddr> = resolver.resolve(name("localhost")).await.unwrap().collect();
        assert!(
            addrs.iter().all(|addr| addr.ip().is_loopback()),
            "{addrs:?}"
        );
        assert!(!addrs.is_empty());
    }
}
