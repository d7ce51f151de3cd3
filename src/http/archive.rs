//! `/archive/{channel}/{run}/...`: recordings as HLS (EVENT while the run is
//! live, VOD after), their media files from disk, and a JSON listing under
//! `/api/v1/archive/{channel}`.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::{ApiError, AppState};
use crate::archive::store::ArchivedSegment;
use crate::archive::vod;
use crate::hls::format_date_time;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(internal)?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidInput {
                ApiError::NotFound(e.to_string())
            } else {
                internal(e)
            }
        })
}

/// The segments a client may fetch: while live, the one still being
/// written is left out.
async fn listed_segments(
    state: &AppState,
    channel: &str,
    run: &str,
    rendition: &str,
) -> Result<Vec<ArchivedSegment>, ApiError> {
    let store = state.archive.clone();
    let (c, r, n) = (channel.to_owned(), run.to_owned(), rendition.to_owned());
    let mut segments = blocking(move || store.segments(&c, &r, &n)).await?;
    if is_live(state, channel, run) {
        segments.pop();
    }
    Ok(segments)
}

#[derive(Serialize)]
pub struct Recording {
    run: String,
    live: bool,
    started_at: String,
    duration_secs: f64,
    segments: usize,
    renditions: Vec<String>,
    playlist: String,
}

#[derive(Serialize)]
pub struct Recordings {
    channel: String,
    recordings: Vec<Recording>,
}

pub async fn list(
    State(state): State<AppState>,
    Path(channel): Path<String>,
) -> Result<Json<Recordings>, ApiError> {
    state.channel(&channel)?;
    let store = state.archive.clone();
    let c = channel.clone();
    let found = blocking(move || {
        let mut out = Vec::new();
        for run in store.runs(&c)? {
            let renditions = store.renditions(&c, &run)?;
            let Some(first) = renditions.first() else {
                continue;
            };
            let segments = store.segments(&c, &run, &first.name)?;
            out.push((run, renditions, segments));
        }
        Ok(out)
    })
    .await?;
    let recordings = found
        .into_iter()
        .map(|(run, renditions, segments)| Recording {
            live: is_live(&state, &channel, &run),
            started_at: format_date_time(segments.first().map(|s| s.wall_ns()).unwrap_or(0)),
            duration_secs: segments.iter().map(ArchivedSegment::duration_secs).sum(),
            segments: segments.len(),
            renditions: renditions.into_iter().map(|r| r.name).collect(),
            playlist: format!("/archive/{channel}/{run}/index.m3u8"),
            run,
        })
        .collect();
    Ok(Json(Recordings {
        channel,
        recordings,
    }))
}

pub async fn multivariant(
    State(state): State<AppState>,
    Path((channel, run)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let store = state.archive.clone();
    let (c, r) = (channel.clone(), run.clone());
    let renditions = blocking(move || store.renditions(&c, &r)).await?;
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
        let listed = listed_segments(&state, &channel, &run, &rendition).await?;
        if !listed.iter().any(|s| s.msn == msn) {
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
