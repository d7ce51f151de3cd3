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
use crate::archive::clip;
use crate::archive::session::{self, Entry, Span};
use crate::archive::store::{ArchivedSegment, RenditionMeta};
use crate::archive::vod;
use crate::catalog::db::{SessionState, SessionView};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/vod/sessions/{id}/index.m3u8", get(session_multivariant))
        .route("/vod/sessions/{id}/chapters.vtt", get(chapters))
        .route(
            "/vod/sessions/{id}/download/items/{file}",
            get(item_download),
        )
        .route("/vod/sessions/{id}/download/{file}", get(session_download))
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

/// `?from=SECONDS&to=SECONDS` on the session's recording clock.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    from: Option<f64>,
    to: Option<f64>,
}

async fn item_download(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    // `{number}.mp4` or `{number}.m4a`
    let (number, audio_only) = match (file.strip_suffix(".mp4"), file.strip_suffix(".m4a")) {
        (Some(n), _) => (n.to_owned(), false),
        (_, Some(n)) => (n.to_owned(), true),
        _ => {
            return Err(ApiError::NotFound(format!(
                "{file:?}: ask for NUMBER.mp4 or NUMBER.m4a"
            )))
        }
    };
    download(state, id, Selection::Item(number), audio_only, headers).await
}

async fn session_download(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    axum::extract::Query(range): axum::extract::Query<RangeQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let audio_only = match file.as_str() {
        "session.mp4" => false,
        "session.m4a" => true,
        _ => {
            return Err(ApiError::NotFound(format!(
                "{file:?}: ask for session.mp4 or session.m4a"
            )))
        }
    };
    for (name, v) in [("from", range.from), ("to", range.to)] {
        if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(ApiError::BadRequest(format!(
                "{name} must be a number of seconds from the start, ≥ 0"
            )));
        }
    }
    if let (Some(f), Some(t)) = (range.from, range.to) {
        if t <= f {
            return Err(ApiError::BadRequest(format!(
                "to ({t}) must be after from ({f})"
            )));
        }
    }
    download(
        state,
        id,
        Selection::Range(range.from, range.to),
        audio_only,
        headers,
    )
    .await
}

enum Selection {
    Item(String),
    /// Seconds on the recording clock.
    Range(Option<f64>, Option<f64>),
}

/// `XLV-sesja-2025-11-26-punkt-7a.mp4`
fn file_name(session: &SessionView, what: &str, ext: &str) -> String {
    let roman = session
        .title
        .split_whitespace()
        .next()
        .filter(|w| w.chars().all(|c| "IVXLCDM".contains(c)))
        .map(|w| format!("{w}-"))
        .unwrap_or_default();
    let date = session
        .scheduled_start
        .as_deref()
        .and_then(|s| s.get(..10))
        .map(|d| format!("-{d}"))
        .unwrap_or_default();
    let name = format!("{roman}sesja{date}-{what}.{ext}");
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

async fn download(
    state: AppState,
    id: String,
    selection: Selection,
    audio_only: bool,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let probe = material(&state, &id, None).await?;
    let video_name = probe
        .renditions
        .iter()
        .find(|r| r.video)
        .map(|r| r.name.clone());
    let audio_name = probe
        .renditions
        .iter()
        .find(|r| !r.video)
        .map(|r| r.name.clone());
    let mut wanted: Vec<String> = Vec::new();
    if !audio_only {
        wanted.extend(video_name);
    }
    wanted.extend(audio_name);
    if wanted.is_empty() {
        return Err(ApiError::NotFound(format!(
            "session {id} has no recording yet"
        )));
    }
    let mut tracks = Vec::new();
    let mut what = String::from("calosc");
    for rendition in &wanted {
        let m = material(&state, &id, Some(rendition)).await?;
        let mut e = match &selection {
            Selection::Item(number) => {
                what = format!("punkt-{number}");
                entries(&m, Some(item_span(&m, number)?))
            }
            Selection::Range(..) => entries(&m, None),
        };
        if let Selection::Range(from, to) = selection {
            // Whole segments overlapping [from, to) on the recording clock.
            let mut t = 0.0;
            e.retain(|x| {
                let (s, d) = (t, x.segment.duration_secs());
                t += d;
                from.is_none_or(|f| s + d > f) && to.is_none_or(|to| s < to)
            });
            if from.is_some() || to.is_some() {
                what = format!(
                    "{}s-{}s",
                    from.unwrap_or(0.0).round(),
                    to.map(|t| t.round().to_string())
                        .unwrap_or_else(|| "koniec".into())
                );
            }
        }
        let Some(first) = e.first() else {
            return Err(ApiError::NotFound(
                "nothing of that has been recorded".into(),
            ));
        };
        let dir = |run: &str| {
            state
                .archive
                .rendition_dir(&m.channel, run, rendition)
                .map_err(|_| ApiError::Internal)
        };
        let init_path = dir(&first.run)?.join("init.mp4");
        let segments = e
            .iter()
            .map(|x| dir(&x.run).map(|d| d.join(format!("{}.m4s", x.segment.msn))))
            .collect::<Result<Vec<_>, _>>()?;
        tracks.push((init_path, segments));
    }
    let clip = tokio::task::spawn_blocking(move || -> std::io::Result<clip::Clip> {
        let inputs = tracks
            .into_iter()
            .map(|(init, segments)| {
                Ok(clip::TrackInput {
                    init: std::fs::read(init)?,
                    segments,
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        clip::build(&inputs, audio_only)
    })
    .await
    .map_err(|_| ApiError::Internal)?
    .map_err(|e| {
        tracing::error!(error = %e, "cannot build a clip");
        ApiError::Internal
    })?;
    let len = clip.len;
    let name = file_name(
        &probe.session,
        &what,
        if audio_only { "m4a" } else { "mp4" },
    );
    let (status, start, end) = match headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| super::live::parse_range(v, clip.len))
    {
        Some(Ok((s, e))) => (axum::http::StatusCode::PARTIAL_CONTENT, s, e + 1),
        Some(Err(())) => {
            return Err(ApiError::RangeNotSatisfiable(
                format!("the file has {} bytes", clip.len),
                clip.len,
            ))
        }
        None => (axum::http::StatusCode::OK, 0, clip.len),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let result = clip::read_range(&clip, start, end, |b| tx.blocking_send(Ok(b)).is_ok());
        if let Err(e) = result {
            tracing::error!(error = %e, "clip read failed mid-stream");
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::new(axum::body::Body::from_stream(stream));
    *response.status_mut() = status;
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: String| {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    };
    set(
        h,
        header::CONTENT_TYPE,
        if audio_only { "audio/mp4" } else { "video/mp4" }.into(),
    );
    set(h, header::CONTENT_LENGTH, (end - start).to_string());
    set(h, header::ACCEPT_RANGES, "bytes".into());
    set(
        h,
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{name}\""),
    );
    set(
        h,
        header::CACHE_CONTROL,
        if probe.live {
            "no-store"
        } else {
            "public, max-age=3600"
        }
        .into(),
    );
    if status == axum::http::StatusCode::PARTIAL_CONTENT {
        set(
            h,
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{}", end - 1, len),
        );
    }
    Ok(response)
}
