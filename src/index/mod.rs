//! The package index client: PEP 691 JSON simple API with PEP 503 HTML fallback, core metadata from
//! PEP 658/714 `.metadata` files, HTTP range reads of a wheel's zip directory, or a full download, and a
//! disk cache that keeps repeat runs fast although the index sends no validators.
//!
//! It returns what the index says and knows nothing of resolving.
//!
//! ```text
//! project(name) ─▶ cache.rs (fresh page?) ─▶ client.rs GET /simple/<name>/ ─▶ simple_json.rs | simple_html.rs
//! metadata(file) ─▶ cache.rs ─▶ <url>.metadata (PEP 658) ─▶ range.rs + zip.rs (206) ─▶ full download + sha256
//! fetch_entries(file) ─▶ range.rs (directory) ─▶ partial.rs: chosen entries' spans into a sparse copy
//!                                                        └──────────────▶ metadata.rs (RFC 822 headers)
//! ```
//!
//! Every request goes through `http.rs`, which bounds requests in flight, keeps their deadlines and
//! retries (`retry.rs`); speculative requests hold at most half of the slots (`priority.rs`).

pub(crate) mod cache;
mod client;
mod download;
mod error;
mod http;
pub(crate) mod metadata;
mod model;
pub(crate) mod page_codec;
mod page_files;
mod partial;
mod priority;
pub(crate) mod range;
mod retry;
pub(crate) mod simple_html;
pub(crate) mod simple_json;
pub(crate) mod zip;
pub(crate) mod zip_file;

pub use cache::default_cache_dir;
pub(crate) use cache::{DerivedKey, PageStamp};
pub use client::IndexClient;
pub(crate) use download::wheel_metadata_bytes;
pub use download::{DownloadedFile, wheel_metadata};
pub use error::IndexError;
pub use http::{InFlight, requests_in_flight};
pub(crate) use metadata::{fields as metadata_fields, parse as parse_metadata};
pub use model::{CoreMetadata, DistFile, IndexSettings, IndexStats, ProjectPage, ProjectResponse};
pub use page_files::{FileFields, FileRef, PageFiles, PageFilesBuilder};
pub use partial::{PartialError, PartialWheel};
pub use priority::Speculation;
