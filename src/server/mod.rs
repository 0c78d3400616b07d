//! `fave-lock serve`: the tag and digest dashboard and its JSON API (axum).
//!
//! Layout mirrors the URL space: [`routes`] lists every URL, `handlers/` holds one module per page or
//! API area, `web/templates/` one template per page. Data flows one way: the lock folder and the
//! registry ([`crate::registry`]) become an [`snapshot::ImageSnapshot`] per image, cached
//! ([`cache`]); pages and JSON are renderings of snapshots, cached until a snapshot changes. The lock
//! check ([`check`]) is the library's `fave-lock check`, run over the config and cached for a TTL.
//!
//! Read-only: no route writes anything, and no request can make the server contact a host that is not
//! configured (requests name images by configured name and tags from the registry's own list).

mod cache;
mod check;
mod conditional;
mod connections;
mod error;
mod extractors;
pub mod handlers;
pub mod lockfiles;
mod metrics;
mod process;
pub mod routes;
pub mod snapshot;
mod state;
#[cfg(test)]
mod testing;
mod view;

use std::future::Future;

pub use check::{CheckService, CheckSettings};
pub use connections::MIN_HEADER_BYTES;
pub use error::{ApiError, WebError};
pub use routes::router;
pub use state::{AppState, ConnectionLimits, ServeSettings, ServedImage};

/// The version shown in the footer and `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit the binary was built from (`unknown` outside a checkout); see `build.rs`.
pub const GIT_COMMIT: &str = env!("FAVE_LOCK_GIT_COMMIT");

/// Serve `state` on `listener` until `shutdown` completes, then finish the requests in flight. Each
/// connection is held to the settings' [`ConnectionLimits`].
///
/// # Errors
///
/// The I/O error that stopped the server.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings.limits;
    connections::serve(listener, router(state), limits, shutdown).await
}
