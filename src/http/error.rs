//! The one place where failures become HTTP statuses.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The body of every error response: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in English, naming the parameter, field or file.
    pub error: String,
}

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
    /// The request conflicts with the current state (e.g. starting twice).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but invalid content; the message names the field.
    #[error("{0}")]
    Unprocessable(String),
    /// No (valid) credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooManyRequests(String, u64),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Detail logged where it happened; the client gets a generic message.
    #[error("internal error; the details are in the server log")]
    Internal,
}

impl From<crate::catalog::db::CatalogError> for ApiError {
    fn from(e: crate::catalog::db::CatalogError) -> Self {
        use crate::catalog::db::ErrorKind;
        match e.kind() {
            ErrorKind::NotFound => ApiError::NotFound(e.to_string()),
            ErrorKind::Conflict => ApiError::Conflict(e.to_string()),
            ErrorKind::Invalid => ApiError::Unprocessable(e.to_string()),
            ErrorKind::Internal => {
                tracing::error!(error = %e, "catalog error");
                ApiError::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RangeNotSatisfiable(..) => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ErrorBody {
            error: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            "no-store".parse().expect("static header"),
        );
        match self {
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, "1".parse().expect("static header"));
            }
            ApiError::TooManyRequests(_, secs) => {
                if let Ok(v) = secs.to_string().parse() {
                    headers.insert(header::RETRY_AFTER, v);
                }
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
