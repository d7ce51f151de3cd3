//! `/vod/sessions/{id}/...`: a session's recording as one HLS presentation
//! with a stable URL (EVENT while the session runs, VOD after), a playlist
//! per agenda item, and WebVTT chapters. Public: sessions are public
//! records, and non-public parts are never listed.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{ApiError, AppState};
use crate::archive::session::{self, Entry, Span};
use crate::archive::store::{ArchivedSegment, RenditionMeta};
use crate::archive::vod;
use crate::catalog::db::{SessionState, SessionView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/vod/sessions/{id}/index.m3u8", get(session_multivariant))
        .route("/vod/sessions/{id}/chapters.vtt", get(chapters))
        .route(
            "/vod/sessions/{id}/{rendition}/index.m3u8",
            get(session_media),
        )
        .route(
            "/vod/sessions/{id}/items/{number}/index.m3u8",
            get(item_multivariant),
        )
        .route(
            "/vod/sessions/{id}/items/{number}/{rendition}/index.m3u8",
            get(item_media),
        )
}

/// What a session's recording is made of.
struct Material {
    session: SessionView,
    channel: String,
    renditions: Vec<RenditionMeta>,
    /// Per run, oldest first, for the requested rendition.
    runs: Vec<(String, Vec<ArchivedSegment>)>,
    live: bool,
}

async fn material(
    state: &AppState,
    id: &str,
    rendition: Option<&str>,
) -> Result<Material, ApiError> {
    let sid: i64 = id
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no session with id {id:?}")))?;
    let session = state.catalog(move |c| c.get_session(sid)).await?;
    let channel = state
        .default_channel()
        .ok_or_else(|| ApiError::NotFound("no channel is configured".into()))?;
    let live = matches!(session.state, SessionState::Live | SessionState::Paused);
    let current_run = (!channel.is_ended()).then(|| channel.run());
    let store = state.archive.clone();
    let channel_id = channel.id.clone();
    let wanted = rendition.map(str::to_owned);
    let (renditions, runs) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut renditions = Vec::new();
        let mut runs = Vec::new();
        for run in store.runs(&channel_id)? {
            let metas = store.renditions(&channel_id, &run)?;
            if renditions.is_empty() {
                renditions = metas.clone();
            }
            let name = match &wanted {
                Some(w) if metas.iter().any(|m| &m.name == w) => w.clone(),
                Some(_) => continue,
                None => match metas.first() {
                    Some(m) => m.name.clone(),
                    None => continue,
                },
            };
            let mut segments = store.segments(&channel_id, &run, &name)?;
            if current_run.as_deref() == Some(run.as_str()) {
                segments.pop(); // still being written
            }
            runs.push((run, segments));
        }
        Ok((renditions, runs))
    })
    .await
    .map_err(|_| ApiError::Internal)?
    .map_err(|e| {
        tracing::error!(error = %e, "cannot read the archive");
        ApiError::Internal
    })?;
    if let Some(r) = rendition {
        if !renditions.iter().any(|m| m.name == r) {
            return Err(ApiError::NotFound(format!("no rendition named {r:?}")));
        }
    }
    Ok(Material {
        session,
        channel: channel.id.clone(),
        renditions,
        runs,
        live,
    })
}

fn item_span(m: &Material, number: &str) -> Result<Span, ApiError> {
    session::item_span(&m.session.timeline, number).ok_or_else(|| {
        ApiError::NotFound(format!(
            "agenda item {number:?} of session {} has not been taken up (no recording)",
            m.session.id
        ))
    })
}

fn entries(m: &Material, within: Option<Span>) -> Vec<Entry> {
    session::select(&session::public_spans(&m.session.timeline), within, &m.runs)
}

fn playlist(text: String, live: bool) -> Response {
    let cache = if live {
        "public, max-age=1"
    } else {
        "public, max-age=60"
    };
    (
        [
            (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
            (header::CACHE_CONTROL, cache),
        ],
        text,
    )
        .into_response()
}

async fn session_multivariant(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, None).await?;
    if m.renditions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "session {id} has no recording yet"
        )));
    }
    Ok(playlist(vod::multivariant(&m.renditions), m.live))
}

async fn session_media(
    State(state): State<AppState>,
    Path((id, rendition)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, Some(&rendition)).await?;
    let e = entries(&m, None);
    Ok(playlist(
        vod::session_media_playlist(&m.channel, &rendition, &e, m.live),
        m.live,
    ))
}

async fn item_multivariant(
    State(state): State<AppState>,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, None).await?;
    item_span(&m, &number)?;
    Ok(playlist(vod::multivariant(&m.renditions), m.live))
}

async fn item_media(
    State(state): State<AppState>,
    Path((id, number, rendition)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, Some(&rendition)).await?;
    let span = item_span(&m, &number)?;
    let live = m.live && span.end_ns.is_none();
    let e = entries(&m, Some(span));
    Ok(playlist(
        vod::session_media_playlist(&m.channel, &rendition, &e, live),
        live,
    ))
}

async fn chapters(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, None).await?;
    let e = entries(&m, None);
    let vtt = session::chapters_vtt(&m.session.timeline, &m.session.agenda, &e);
    let cache = if m.live {
        "public, max-age=1"
    } else {
        "public, max-age=60"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/vtt; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        vtt,
    )
        .into_response())
}
