//! The one place where failures become HTTP statuses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; the message says which parameter and why.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// Satisfiable later: the client should retry after a moment.
    #[error("{0}")]
    Unavailable(String),
    #[error("range not satisfiable: {0}")]
    RangeNotSatisfiable(String, u64),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RangeNotSatisfiable(..) => StatusCode::RANGE_NOT_SATISFIABLE,
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            "no-store".parse().expect("static header"),
        );
        match self {
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, "1".parse().expect("static header"));
            }
            ApiError::RangeNotSatisfiable(_, len) => {
                if let Ok(v) = format!("bytes */{len}").parse() {
                    headers.insert(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        response
    }
}
