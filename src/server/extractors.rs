//! Our own extractors, so that a malformed path parameter renders the site's error page (HTML for pages,
//! JSON under `/api`) instead of axum's plain-text rejection.

use axum::extract::FromRequestParts;

use super::error::{ApiError, WebError};

/// `axum::extract::Path` whose rejection is a [`WebError`] (HTML).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(WebError))]
pub struct Path<T>(pub T);

/// `axum::extract::Path` whose rejection is an [`ApiError`] (JSON).
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
