//! `/archive/{channel}/{run}/...`: recordings as HLS (EVENT while the run is
//! live, VOD after), their media files from disk, and a JSON listing under
//! `/api/v1/archive/{channel}`. Runs, renditions and segments are listed
//! from the catalog's index of the archive; files are read only to serve
//! their bytes.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, ErrorBody};
use crate::archive::store::ArchivedSegment;
use crate::archive::vod;
use crate::catalog::db::{Catalog, CatalogError};
use crate::hls::format_date_time;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The archive routes, each documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(multivariant))
        .routes(routes!(media_playlist))
        .routes(routes!(media_file))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "archive read failed");
    ApiError::Unavailable("the archive cannot be read right now; try again in a moment".into())
}

/// Whether `run` is the channel's current, still-growing run.
fn is_live(state: &AppState, channel: &str, run: &str) -> bool {
    state
        .channels
        .get(channel)
        .is_some_and(|c| c.run() == run && !c.is_ended())
}

/// A lookup in the catalog's index of the archive (never the files). A
/// database failure (logged where it happened) is a 503: the archive may be
/// readable again in a moment.
async fn index<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Catalog) -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, ApiError> {
    state.catalog(move |c| f(c)).await.map_err(|e| match e {
        ApiError::Internal => ApiError::Unavailable(
            "the archive cannot be read right now; try again in a moment".into(),
        ),
        other => other,
    })
}

/// The segments a client may fetch: the catalog lists a segment only once
/// it is whole and durable, so the one still being written is not there.
async fn listed_segments(
    state: &AppState,
    channel: &str,
    run: &str,
    rendition: &str,
) -> Result<Vec<ArchivedSegment>, ApiError> {
    let (c, r, n) = (channel.to_owned(), run.to_owned(), rendition.to_owned());
    index(state, move |cat| cat.run_segments(&c, &r, &n)).await
}

/// One continuous recording run of a channel.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Recording {
    /// The run id (hex), also its directory and URL segment.
    run: String,
    /// Still being recorded.
    live: bool,
    /// Wall-clock time of the first segment, RFC 3339.
    started_at: String,
    duration_secs: f64,
    segments: usize,
    renditions: Vec<String>,
    /// URL of the run's multivariant playlist.
    playlist: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Recordings {
    channel: String,
    /// Oldest first.
    recordings: Vec<Recording>,
}

#[utoipa::path(
    get,
    path = "/api/v1/archive/{channel}",
    tag = "archive",
    operation_id = "list_recordings",
    summary = "List the recording runs of a channel",
    description = "Every continuous run on disk with its duration, renditions and playlist \
        URL. Public.",
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    responses(
        (status = 200, description = "The runs", body = Recordings),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 503, description = "The archive cannot be read right now; retry",
            body = ErrorBody)
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Path(channel): Path<String>,
) -> Result<Json<Recordings>, ApiError> {
    state.channel(&channel)?;
    let c = channel.clone();
    let runs = index(&state, move |cat| cat.channel_runs(&c)).await?;
    let recordings = runs
        .into_iter()
        .filter(|r| !r.renditions.is_empty())
        .map(|r| Recording {
            live: is_live(&state, &channel, &r.run),
            started_at: format_date_time(r.first_wall_ns.unwrap_or(0)),
            duration_secs: r.duration_secs,
            segments: r.segments,
            renditions: r.renditions.into_iter().map(|m| m.name).collect(),
            playlist: format!("/archive/{channel}/{}/index.m3u8", r.run),
            run: r.run,
        })
        .collect();
    Ok(Json(Recordings {
        channel,
        recordings,
    }))
}

#[utoipa::path(
    get,
    path = "/archive/{channel}/{run}/index.m3u8",
    tag = "archive",
    operation_id = "archive_multivariant",
    summary = "Multivariant playlist of a recording run",
    description = "The renditions of one run on disk. Public.",
    params(
        ("channel" = String, Path, description = "Channel id, e.g. \"main\""),
        ("run" = String, Path, description = "Run id, as listed by /api/v1/archive/{channel}")
    ),
    responses(
        (status = 200, description = "HLS multivariant playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 404, description = "No such channel or run", body = ErrorBody),
        (status = 503, description = "The archive cannot be read right now; retry",
            body = ErrorBody)
    )
)]
pub async fn multivariant(
    State(state): State<AppState>,
    Path((channel, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (c, r) = (channel.clone(), run.clone());
    let renditions = index(&state, move |cat| cat.run_renditions(&c, &r)).await?;
    if renditions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "channel {channel:?} has no recording {run:?}"
        )));
    }
    Ok(playlist(
        vod::multivariant(&renditions),
        "public, max-age=10",
    ))
}

#[utoipa::path(
    get,
    path = "/archive/{channel}/{run}/{rendition}/index.m3u8",
    tag = "archive",
    operation_id = "archive_media_playlist",
    summary = "Media playlist of one rendition of a recording run",
    description = "EVENT while the run is still being recorded (without its growing last \
        segment), VOD with EXT-X-ENDLIST after. Public.",
    params(
        ("channel" = String, Path, description = "Channel id, e.g. \"main\""),
        ("run" = String, Path, description = "Run id"),
        ("rendition" = String, Path, description = "Rendition name, e.g. \"720p\" or \"audio\"")
    ),
    responses(
        (status = 200, description = "HLS media playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 404, description = "No such channel, run or rendition", body = ErrorBody),
        (status = 503, description = "The archive cannot be read right now; retry",
            body = ErrorBody)
    )
)]
pub async fn media_playlist(
    State(state): State<AppState>,
    Path((channel, run, rendition)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let live = is_live(&state, &channel, &run);
    let segments = listed_segments(&state, &channel, &run, &rendition).await?;
    if segments.is_empty() && !live {
        return Err(ApiError::NotFound(format!(
            "recording {channel}/{run} has no rendition {rendition:?}"
        )));
    }
    let cache = if live {
        "public, max-age=1"
    } else {
        "public, max-age=60"
    };
    Ok(playlist(vod::media_playlist(&segments, live), cache))
}

fn playlist(text: String, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
            (header::CACHE_CONTROL, cache),
        ],
        text,
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/archive/{channel}/{run}/{rendition}/{file}",
    tag = "archive",
    operation_id = "archive_media_file",
    summary = "Init segment or segment of a recording run",
    description = "`init.mp4` or `MSN.m4s` from disk; only whole, listed segments. Immutable \
        (long cache), byte ranges and conditional GET. Public.",
    params(
        ("channel" = String, Path, description = "Channel id, e.g. \"main\""),
        ("run" = String, Path, description = "Run id"),
        ("rendition" = String, Path, description = "Rendition name, e.g. \"720p\" or \"audio\""),
        ("file" = String, Path, description = "\"init.mp4\" or \"MSN.m4s\" as listed"),
        ("Range" = Option<String>, Header, description = "A byte range, e.g. \"bytes=0-99\"")
    ),
    responses(
        (status = 200, description = "The file", content(
            ("video/mp4"),
            ("audio/mp4")
        )),
        (status = 206, description = "The requested byte range", content(
            ("video/mp4"),
            ("audio/mp4")
        )),
        (status = 304, description = "Not modified"),
        (status = 404, description = "Not in the archive", body = ErrorBody),
        (status = 416, description = "The range is outside the file (empty body)"),
        (status = 503, description = "The archive cannot be read right now; retry",
            body = ErrorBody)
    )
)]
pub async fn media_file(
    State(state): State<AppState>,
    Path((channel, run, rendition, file)): Path<(String, String, String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "{channel}/{run}/{rendition}/{file} is not in the archive"
        ))
    };
    let dir = state
        .archive
        .rendition_dir(&channel, &run, &rendition)
        .map_err(|_| not_found())?;
    let path = if file == "init.mp4" {
        dir.join("init.mp4")
    } else {
        let msn: u64 = file
            .strip_suffix(".m4s")
            .filter(|n| !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse().ok())
            .ok_or_else(not_found)?;
        // Only whole, listed segments: a growing file is never served.
        let (c, r, n) = (channel.clone(), run.clone(), rendition.clone());
        if !index(&state, move |cat| cat.segment_listed(&c, &r, &n, msn)).await? {
            return Err(not_found());
        }
        dir.join(format!("{msn}.m4s"))
    };
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(not_found());
    }
    let content_type = if rendition == "audio" {
        "audio/mp4"
    } else {
        "video/mp4"
    };
    let mut response = ServeFile::new_with_mime(&path, &content_type.parse().map_err(internal)?)
        .oneshot(request)
        .await
        .map_err(internal)?
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    Ok(response)
}
