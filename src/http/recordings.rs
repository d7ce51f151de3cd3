//! `/vod/sessions/{id}/...`: a session's recording as one HLS presentation
//! with a stable URL (EVENT while the session runs, VOD after), a playlist
//! per agenda item, and WebVTT chapters. Public: sessions are public
//! records, and non-public parts are never listed.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, ErrorBody};
use crate::archive::clip;
use crate::archive::session::{self, Entry, Span};
use crate::archive::store::{ArchivedSegment, RenditionMeta};
use crate::archive::vod;
use crate::catalog::db::{SessionState, SessionView};
use crate::catalog::recordings::{RecordedMedia, RecordedTrack};

/// The session recording routes, each documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session_multivariant))
        .routes(routes!(chapters))
        .routes(routes!(item_download))
        .routes(routes!(session_download))
        .routes(routes!(session_media))
        .routes(routes!(item_multivariant))
        .routes(routes!(item_media))
}

/// What a session's recording is made of.
struct Material {
    session: SessionView,
    /// The channel the session is on (its recording comes from this
    /// channel's runs).
    channel: String,
    /// In ladder order (video largest first, then audio).
    renditions: Vec<RenditionMeta>,
    /// Per run, oldest first, for the first rendition picked.
    runs: Vec<(String, Vec<ArchivedSegment>)>,
    /// Every rendition picked, in the order picked.
    tracks: Vec<RecordedTrack>,
    live: bool,
}

/// Which renditions' segments a request needs.
enum Pick {
    /// The first in ladder order (the largest video).
    First,
    /// This one (404 if the recording has none of that name).
    Named(String),
    /// The largest video (unless `audio_only`), then the audio.
    Download { audio_only: bool },
}

impl Pick {
    fn names(&self, renditions: &[RenditionMeta]) -> Vec<String> {
        match self {
            Pick::First => renditions.iter().take(1).map(|r| r.name.clone()).collect(),
            Pick::Named(name) => vec![name.clone()],
            Pick::Download { audio_only } => {
                let video = renditions.iter().find(|r| r.video).filter(|_| !audio_only);
                let audio = renditions.iter().find(|r| !r.video);
                video
                    .into_iter()
                    .chain(audio)
                    .map(|r| r.name.clone())
                    .collect()
            }
        }
    }
}

async fn material(
    state: &AppState,
    id: &str,
    rendition: Option<&str>,
) -> Result<Material, ApiError> {
    let pick = match rendition {
        Some(r) => Pick::Named(r.to_owned()),
        None => Pick::First,
    };
    load(state, id, pick).await
}

/// Whether an ended session's recording is indexed up to its stop. The
/// catalog indexes a segment a moment after the segment is complete (more
/// on a busy machine); until the segment holding the stop is indexed, the
/// playlists stay EVENT (no EXT-X-ENDLIST, short cache), so no player or
/// cache keeps a recording that lacks its end. A minute after the stop the
/// recording is what it is (a broadcast that failed before the stop).
fn indexed_to_the_end(session: &SessionView, runs: &[(String, Vec<ArchivedSegment>)]) -> bool {
    // Where the last public part ends (the stop, or the recess before it).
    let Some(stop) = session::public_spans(&session.timeline)
        .last()
        .and_then(|span| span.end_ns)
    else {
        return true;
    };
    let now = u64::try_from(crate::catalog::now_ns()).unwrap_or(0);
    if now.saturating_sub(stop) > 60_000_000_000 {
        return true;
    }
    // That instant cut a segment: the last public one ends there.
    runs.iter()
        .flat_map(|(_, segments)| segments.iter())
        .any(|s| {
            s.wall_ns
                .saturating_add((s.duration_secs() * 1e9) as u64)
                .saturating_add(30_000_000)
                >= stop
        })
}

/// A session and its recording, from the catalog alone, in one read: the
/// session, then its channel's runs, renditions and whole segments within
/// the session's start and stop (an indexed lookup by wall time). The
/// segment still being written is not listed: the catalog has a row only
/// for a segment whose every part is durable.
async fn load(state: &AppState, id: &str, pick: Pick) -> Result<Material, ApiError> {
    let sid: i64 = id
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no session with id {id:?}")))?;
    let default = state.default_channel().map(|c| c.id.clone());
    let wanted = match &pick {
        Pick::Named(name) => Some(name.clone()),
        _ => None,
    };
    let (session, channel, media) = state
        .catalog(move |c| {
            let session = c.get_session(sid)?;
            // Sessions not started yet, or started before sessions were
            // bound to channels, are on the default channel.
            let Some(channel) = session.channel.clone().or(default) else {
                return Ok((session, None, RecordedMedia::default()));
            };
            let media = match session::recording_window(&session.timeline) {
                Some(w) => c.recorded_media(&channel, w.start_ns, w.end_ns, |r| pick.names(r))?,
                None => RecordedMedia::default(),
            };
            Ok((session, Some(channel), media))
        })
        .await?;
    let channel = channel.ok_or_else(|| ApiError::NotFound("no channel is configured".into()))?;
    if let Some(r) = wanted {
        if !media.renditions.iter().any(|m| m.name == r) {
            return Err(ApiError::NotFound(format!("no rendition named {r:?}")));
        }
    }
    let runs = media
        .tracks
        .first()
        .map(|t| t.runs.clone())
        .unwrap_or_default();
    let live = matches!(session.state, SessionState::Live | SessionState::Paused)
        || !indexed_to_the_end(&session, &runs);
    Ok(Material {
        session,
        channel,
        renditions: media.renditions,
        runs,
        tracks: media.tracks,
        live,
    })
}

/// Session `id` and how long its recording is, in seconds on the
/// recording's clock (the clock of `?from=&to=` of the session download):
/// the public parts recorded so far. 0 when nothing is recorded yet.
pub(crate) async fn recording_length(
    state: &AppState,
    id: &str,
) -> Result<(SessionView, f64), ApiError> {
    let m = load(state, id, Pick::First).await?;
    let seconds = entries(&m, None)
        .iter()
        .map(|e| e.segment.duration_secs())
        .sum();
    Ok((m.session, seconds))
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

/// The agenda items begun, for EXT-X-DATERANGE.
fn items(m: &Material) -> Vec<session::ItemRange> {
    session::item_ranges(&m.session.timeline, &m.session.agenda)
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

#[utoipa::path(
    get,
    path = "/vod/sessions/{id}/index.m3u8",
    tag = "vod",
    operation_id = "session_multivariant",
    summary = "Multivariant playlist of a session's recording",
    description = "One stable URL per session: EVENT while it runs, VOD after. Non-public parts \
        are never listed. Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "HLS playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 404, description = "No such session, no channel, or nothing recorded yet",
            body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody)
    )
)]
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

#[utoipa::path(
    get,
    path = "/vod/sessions/{id}/{rendition}/index.m3u8",
    tag = "vod",
    operation_id = "session_media_playlist",
    summary = "Media playlist of one rendition of a session's recording",
    description = "The session's public spans across recording runs, with its agenda items as \
        EXT-X-DATERANGE. Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id"), ("rendition" = String, Path, description = "Rendition name, e.g. \"720p\" or \"audio\"")),
    responses(
        (status = 200, description = "HLS playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 404, description = "No such session, channel or rendition", body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody)
    )
)]
async fn session_media(
    State(state): State<AppState>,
    Path((id, rendition)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, Some(&rendition)).await?;
    let e = entries(&m, None);
    Ok(playlist(
        vod::session_media_playlist(&m.channel, &rendition, &e, &items(&m), m.live),
        m.live,
    ))
}

#[utoipa::path(
    get,
    path = "/vod/sessions/{id}/items/{number}/index.m3u8",
    tag = "vod",
    operation_id = "item_multivariant",
    summary = "Multivariant playlist of one agenda item's recording",
    description = "The part of the session from the item's mark to the next item (or the \
        end). Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id"), ("number" = String, Path, description = "Agenda item number, e.g. \"7a\"")),
    responses(
        (status = 200, description = "HLS playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 404, description = "No such session, or the item has not been taken up",
            body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody)
    )
)]
async fn item_multivariant(
    State(state): State<AppState>,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, None).await?;
    item_span(&m, &number)?;
    Ok(playlist(vod::multivariant(&m.renditions), m.live))
}

#[utoipa::path(
    get,
    path = "/vod/sessions/{id}/items/{number}/{rendition}/index.m3u8",
    tag = "vod",
    operation_id = "item_media_playlist",
    summary = "Media playlist of one rendition of an agenda item's recording",
    description = "Whole segments from the item's mark to the next item; EVENT while the item \
        is still under discussion. Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id"), ("number" = String, Path, description = "Agenda item number, e.g. \"7a\""), ("rendition" = String, Path, description = "Rendition name, e.g. \"720p\" or \"audio\"")),
    responses(
        (status = 200, description = "HLS playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 404, description = "No such session, item or rendition", body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody)
    )
)]
async fn item_media(
    State(state): State<AppState>,
    Path((id, number, rendition)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let m = material(&state, &id, Some(&rendition)).await?;
    let span = item_span(&m, &number)?;
    let live = m.live && span.end_ns.is_none();
    let e = entries(&m, Some(span));
    Ok(playlist(
        vod::session_media_playlist(&m.channel, &rendition, &e, &items(&m), live),
        live,
    ))
}

#[utoipa::path(
    get,
    path = "/vod/sessions/{id}/chapters.vtt",
    tag = "vod",
    operation_id = "session_chapters",
    summary = "WebVTT chapters of a session's recording",
    description = "One cue per agenda item taken up, on the recording's clock. Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "WebVTT chapters", body = String,
            content_type = "text/vtt"),
        (status = 404, description = "No such session, or no channel", body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody)
    )
)]
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
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start, in seconds from the beginning of the recording (≥ 0).
    #[param(minimum = 0)]
    from: Option<f64>,
    /// End, in seconds from the beginning of the recording; after `from`.
    #[param(minimum = 0)]
    to: Option<f64>,
}

#[utoipa::path(
    get,
    path = "/vod/sessions/{id}/download/items/{file}",
    tag = "vod",
    operation_id = "item_download",
    summary = "Download one agenda item as a progressive MP4 or M4A",
    description = "`NUMBER.mp4` (video and audio) or `NUMBER.m4a` (audio only), assembled from \
        archived segments without re-encoding; one byte range supported. Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id"), ("file" = String, Path, description = "\"NUMBER.mp4\" or \"NUMBER.m4a\", \
        e.g. \"7a.mp4\""),
        ("Range" = Option<String>, Header, description = "One byte range")),
    responses(
        (status = 200, description = "The file (attachment)", content(
            ("video/mp4"),
            ("audio/mp4")
        )),
        (status = 206, description = "The requested byte range", content(
            ("video/mp4"),
            ("audio/mp4")
        )),
        (status = 404, description = "No such session or item, a wrong file name, or nothing \
            recorded", body = ErrorBody),
        (status = 416, description = "The range is outside the file", body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody)
    )
)]
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

#[utoipa::path(
    get,
    path = "/vod/sessions/{id}/download/{file}",
    tag = "vod",
    operation_id = "session_download",
    summary = "Download a session (or a time range of it) as a progressive MP4 or M4A",
    description = "`session.mp4` or `session.m4a`, optionally cut to whole segments overlapping \
        `from`..`to` seconds on the recording's clock; one byte range supported. Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id"), ("file" = String, Path, description = "\"session.mp4\" or \"session.m4a\""),
        RangeQuery,
        ("Range" = Option<String>, Header, description = "One byte range")),
    responses(
        (status = 200, description = "The file (attachment)", content(
            ("video/mp4"),
            ("audio/mp4")
        )),
        (status = 206, description = "The requested byte range", content(
            ("video/mp4"),
            ("audio/mp4")
        )),
        (status = 400, description = "`from` or `to` is not a number of seconds ≥ 0, `to` is \
            not after `from`, or an unknown query parameter", body = ErrorBody),
        (status = 404, description = "No such session, a wrong file name, or nothing recorded \
            in that range", body = ErrorBody),
        (status = 416, description = "The range is outside the file", body = ErrorBody),
        (status = 500, description = "The archive cannot be read", body = ErrorBody)
    )
)]
async fn session_download(
    State(state): State<AppState>,
    Path((id, file)): Path<(String, String)>,
    range: Result<axum::extract::Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    // axum's rejection is plain text; say it as JSON, naming the parameter.
    let axum::extract::Query(range) = range.map_err(|e| {
        let text = e.body_text();
        let why = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        ApiError::BadRequest(format!("the query (from, to): {why}"))
    })?;
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
    // One catalog read for the session and every track's segments.
    let probe = load(&state, &id, Pick::Download { audio_only }).await?;
    if probe.tracks.is_empty() {
        return Err(ApiError::NotFound(format!(
            "session {id} has no recording yet"
        )));
    }
    let spans = session::public_spans(&probe.session.timeline);
    let within = match &selection {
        Selection::Item(number) => Some(item_span(&probe, number)?),
        Selection::Range(..) => None,
    };
    let mut tracks = Vec::new();
    let mut what = match &selection {
        Selection::Item(number) => format!("punkt-{number}"),
        Selection::Range(..) => String::from("calosc"),
    };
    for track in &probe.tracks {
        let rendition = &track.rendition;
        let mut e = session::select(&spans, within, &track.runs);
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
                .rendition_dir(&probe.channel, run, rendition)
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
