//! `/live/{channel}/...`: the multivariant playlist, media playlists with
//! blocking reload, and init segments, segments and parts (held while the
//! next part is being written, as a preload hint asks).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, ErrorBody};
use crate::archive::vod;
use crate::live::{BlockError, LiveChannel, Lookup, RenditionKind};

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// Media bytes never change once announced: any cache may keep them.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn rendition<'a>(
    state: &'a AppState,
    channel: &str,
    rendition: &str,
) -> Result<(&'a LiveChannel, usize), ApiError> {
    let ch = state.channel(channel)?;
    let track = ch.rendition_index(rendition).ok_or_else(|| {
        ApiError::NotFound(format!(
            "channel {channel:?} has no rendition named {rendition:?}"
        ))
    })?;
    Ok((ch, track))
}

/// The live routes, each documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(multivariant))
        .routes(routes!(media_playlist))
        .routes(routes!(media_file))
}

#[utoipa::path(
    get,
    path = "/live/{channel}/index.m3u8",
    tag = "live",
    operation_id = "live_multivariant",
    summary = "Multivariant playlist of a live channel",
    description = "Lists every rendition (the video ladder and the audio) of the channel; \
        held up to three target durations while the channel starts. Public.",
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    responses(
        (status = 200, description = "HLS multivariant playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 503, description = "The channel is starting; retry (Retry-After)",
            body = ErrorBody)
    )
)]
pub async fn multivariant(
    State(state): State<AppState>,
    Path(channel): Path<String>,
) -> Result<Response, ApiError> {
    let ch = state.channel(&channel)?;
    let n = ch.renditions.len();
    let ready = |c: &LiveChannel| (0..n).all(|t| c.codec(t).is_some());
    if !ch.wait_for(ch.timing.hold_timeout(), ready).await {
        return Err(ApiError::Unavailable(format!(
            "channel {channel:?} is starting; try again in a moment"
        )));
    }
    let renditions: Vec<_> = ch
        .renditions
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some(r.meta(&ch.codec(i)?)))
        .collect();
    let text = vod::multivariant(&renditions);
    Ok(playlist_response(text, "public, max-age=2"))
}

/// `_HLS_msn` and `_HLS_part` of a blocking playlist reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directives {
    pub msn: u64,
    pub part: Option<u32>,
}

/// Parses the delivery directives; unknown parameters are ignored.
pub fn parse_directives(query: Option<&str>) -> Result<Option<Directives>, ApiError> {
    let mut msn = None;
    let mut part = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "_HLS_msn" => msn = Some(parse_number::<u64>("_HLS_msn", value)?),
            "_HLS_part" => part = Some(parse_number::<u32>("_HLS_part", value)?),
            _ => {}
        }
    }
    match (msn, part) {
        (None, Some(_)) => Err(ApiError::BadRequest(
            "_HLS_part needs _HLS_msn: give the media sequence number of the segment the part belongs to".into(),
        )),
        (None, None) => Ok(None),
        (Some(msn), part) => Ok(Some(Directives { msn, part })),
    }
}

fn parse_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ApiError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest(format!(
            "{name} must be a non-negative whole number, got {:?}",
            value.chars().take(40).collect::<String>()
        )));
    }
    value.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "{name} is too large: {}",
            value.chars().take(40).collect::<String>()
        ))
    })
}

/// Who is playing, for the viewer count: the address and user agent (a
/// hash; nothing is stored).
fn viewer_key(ip: Option<std::net::IpAddr>, headers: &axum::http::HeaderMap) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ip.hash(&mut h);
    headers
        .get(axum::http::header::USER_AGENT)
        .map(|v| v.as_bytes())
        .hash(&mut h);
    h.finish()
}

#[utoipa::path(
    get,
    path = "/live/{channel}/{rendition}/index.m3u8",
    tag = "live",
    operation_id = "live_media_playlist",
    summary = "Low-Latency HLS media playlist of one rendition",
    description = "The live window with parts, preload hint and rendition reports. With \
        `_HLS_msn` (and `_HLS_part`) it is a blocking reload: held until that segment (part) \
        exists, at most three target durations. Public.",
    params(
        ("channel" = String, Path, description = "Channel id, e.g. \"main\""),
        ("rendition" = String, Path, description = "Rendition name, e.g. \"720p\" or \"audio\""),
        ("_HLS_msn" = Option<u64>, Query,
            description = "Blocking reload: wait for this media sequence number"),
        ("_HLS_part" = Option<u32>, Query,
            description = "Blocking reload: wait for this part of `_HLS_msn` (needs `_HLS_msn`)")
    ),
    responses(
        (status = 200, description = "HLS media playlist", body = String,
            content_type = "application/vnd.apple.mpegurl"),
        (status = 400, description = "A malformed delivery directive, or one too far ahead of \
            the live edge; the message names it", body = ErrorBody),
        (status = 404, description = "No such channel or rendition", body = ErrorBody),
        (status = 503, description = "The channel is starting, or the awaited part did not \
            appear in time; retry (Retry-After)", body = ErrorBody)
    )
)]
pub async fn media_playlist(
    State(state): State<AppState>,
    Path((channel, rend)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (ch, track) = rendition(&state, &channel, &rend)?;
    ch.health.viewer(
        viewer_key(peer.map(|p| p.0 .0.ip()), &headers),
        std::time::Instant::now(),
    );
    let directives = parse_directives(query.as_deref())?;
    let timeout = ch.timing.hold_timeout();
    let cache = match directives {
        Some(d) => {
            ch.check_block(track, d.msn, d.part).map_err(|e| match e {
                BlockError::TooFarAhead {
                    last_msn,
                    last_part,
                } => ApiError::BadRequest(format!(
                    "_HLS_msn={} _HLS_part={} is too far ahead of the live edge \
                     (last segment {last_msn}, part {last_part})",
                    d.msn,
                    d.part.map(|p| p.to_string()).unwrap_or_else(|| "-".into())
                )),
            })?;
            if !ch
                .wait_for(timeout, |c| c.satisfies(track, d.msn, d.part))
                .await
            {
                return Err(ApiError::Unavailable(format!(
                    "segment {} part {:?} did not appear within {} s",
                    d.msn,
                    d.part,
                    timeout.as_secs()
                )));
            }
            // The answer to a given directive only ever grows: cacheable.
            "public, max-age=60"
        }
        None => {
            // A first playlist holds at least two whole segments: GStreamer
            // 1.22's hlsdemux2 cannot follow a live playlist whose first
            // load had only one (it never matches the reference playlist's
            // first segment when syncing the next load).
            let started = ch
                .wait_for(timeout, |c| c.complete_segments(track) >= 2 || c.is_ended())
                .await;
            if !started && ch.last_part(track).is_none() {
                return Err(ApiError::Unavailable(format!(
                    "channel {channel:?} is starting; try again in a moment"
                )));
            }
            "public, max-age=1"
        }
    };
    let playlist = ch.media_playlist(track).ok_or_else(|| {
        ApiError::Unavailable(format!(
            "channel {channel:?} is starting; try again in a moment"
        ))
    })?;
    Ok(playlist_response(playlist.render(), cache))
}

fn playlist_response(text: String, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, PLAYLIST_TYPE),
            (header::CACHE_CONTROL, cache),
        ],
        text,
    )
        .into_response()
}

/// A media file name as it appears in playlists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaFile {
    Init { run: String },
    Segment { run: String, msn: u64 },
    Part { run: String, msn: u64, index: u32 },
}

pub fn parse_media_file(name: &str) -> Option<MediaFile> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    let run_ok =
        |s: &str| !s.is_empty() && s.len() <= 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(run) = name
        .strip_prefix("init-")
        .and_then(|r| r.strip_suffix(".mp4"))
    {
        return run_ok(run).then(|| MediaFile::Init { run: run.into() });
    }
    if let Some(rest) = name
        .strip_prefix("seg-")
        .and_then(|r| r.strip_suffix(".m4s"))
    {
        let (run, msn) = rest.split_once('-')?;
        if run_ok(run) && digits(msn) {
            return Some(MediaFile::Segment {
                run: run.into(),
                msn: msn.parse().ok()?,
            });
        }
        return None;
    }
    if let Some(rest) = name
        .strip_prefix("part-")
        .and_then(|r| r.strip_suffix(".m4s"))
    {
        let (run, rest) = rest.split_once('-')?;
        let (msn, index) = rest.split_once('.')?;
        if run_ok(run) && digits(msn) && digits(index) {
            return Some(MediaFile::Part {
                run: run.into(),
                msn: msn.parse().ok()?,
                index: index.parse().ok()?,
            });
        }
    }
    None
}

#[utoipa::path(
    get,
    path = "/live/{channel}/{rendition}/{file}",
    tag = "live",
    operation_id = "live_media_file",
    summary = "Init segment, segment or part of a live rendition",
    description = "fMP4 (CMAF) bytes: `init-RUN.mp4`, `seg-RUN-MSN.m4s` or \
        `part-RUN-MSN.IDX.m4s`. Immutable once listed (ETag, conditional GET, one byte range). \
        A part announced by the preload hint is held until it is written. Public.",
    params(
        ("channel" = String, Path, description = "Channel id, e.g. \"main\""),
        ("rendition" = String, Path, description = "Rendition name, e.g. \"720p\" or \"audio\""),
        ("file" = String, Path, description = "File name as listed in the media playlist"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. \"bytes=0-99\""),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier response")
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
        (status = 304, description = "Not modified (the ETag matches)"),
        (status = 404, description = "No such channel, rendition or file (or it has left the \
            live window)", body = ErrorBody),
        (status = 416, description = "The range is outside the file", body = ErrorBody),
        (status = 503, description = "A hinted part was not written in time; retry",
            body = ErrorBody)
    )
)]
pub async fn media_file(
    State(state): State<AppState>,
    Path((channel, rend, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (ch, track) = rendition(&state, &channel, &rend)?;
    let not_found = || {
        ApiError::NotFound(format!(
            "{channel}/{rend}/{file} does not exist (or has left the live window)"
        ))
    };
    let parsed = parse_media_file(&file).ok_or_else(not_found)?;
    let (bytes, etag) = match &parsed {
        MediaFile::Init { run } => (
            ch.init(track, run).ok_or_else(not_found)?,
            format!("\"{run}-i\""),
        ),
        MediaFile::Segment { run, msn } => (
            ch.segment(track, run, *msn).ok_or_else(not_found)?,
            format!("\"{run}-{msn}\""),
        ),
        MediaFile::Part { run, msn, index } => {
            let etag = format!("\"{run}-{msn}.{index}\"");
            match ch.part(track, run, *msn, *index) {
                Lookup::Ready(b) => (b, etag),
                Lookup::NotFound => return Err(not_found()),
                Lookup::Soon => {
                    let timeout = ch.timing.hold_timeout();
                    let arrived = ch
                        .wait_for(timeout, |c| {
                            !matches!(c.part(track, run, *msn, *index), Lookup::Soon)
                        })
                        .await;
                    match ch.part(track, run, *msn, *index) {
                        Lookup::Ready(b) => (b, etag),
                        _ if arrived => return Err(not_found()),
                        _ => {
                            return Err(ApiError::Unavailable(format!(
                                "{file} was not written within {} s",
                                timeout.as_secs()
                            )))
                        }
                    }
                }
            }
        }
    };
    let content_type = match ch.renditions[track].kind {
        RenditionKind::Video { .. } => "video/mp4",
        RenditionKind::Audio { .. } => "audio/mp4",
    };
    bytes_response(bytes, content_type, &etag, &headers)
}

/// Serves immutable bytes with ETag, conditional GET and single byte ranges.
fn bytes_response(
    bytes: Bytes,
    content_type: &'static str,
    etag: &str,
    request: &HeaderMap,
) -> Result<Response, ApiError> {
    let etag_value =
        HeaderValue::from_str(etag).map_err(|_| ApiError::NotFound("bad name".into()))?;
    let base = |status: StatusCode, body: Body| {
        let mut r = Response::new(body);
        *r.status_mut() = status;
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(header::ETAG, etag_value.clone());
        r
    };
    if let Some(inm) = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if inm.split(',').any(|t| t.trim() == etag || t.trim() == "*") {
            return Ok(base(StatusCode::NOT_MODIFIED, Body::empty()));
        }
    }
    let len = bytes.len() as u64;
    let range = request
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    match range {
        Some(Some(Ok((start, end)))) => {
            let mut r = base(
                StatusCode::PARTIAL_CONTENT,
                Body::from(bytes.slice(start as usize..=end as usize)),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            Ok(r)
        }
        Some(Some(Err(()))) => Err(ApiError::RangeNotSatisfiable(
            format!("the file has {len} bytes"),
            len,
        )),
        // No Range, or one we do not serve (several ranges, other units,
        // bad syntax): the whole body, as RFC 9110 allows.
        Some(None) | None => Ok(base(StatusCode::OK, Body::from(bytes))),
    }
}

/// `None`: ignore the header; `Some(Err)`: unsatisfiable; else inclusive bounds.
pub fn parse_range(value: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.trim().split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n = num(suffix)?;
            if n == 0 || len == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len - 1)
        }
        (s, "") => (num(s)?, len.saturating_sub(1)),
        (s, e) => {
            let (s, e) = (num(s)?, num(e)?);
            if e < s {
                return None;
            }
            (s, e.min(len.saturating_sub(1)))
        }
    };
    if len == 0 || start >= len {
        return Some(Err(()));
    }
    Some(Ok((start, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse_and_reject_what_the_spec_rejects() {
        assert_eq!(parse_directives(None).unwrap(), None);
        assert_eq!(
            parse_directives(Some("_HLS_msn=12&_HLS_part=3")).unwrap(),
            Some(Directives {
                msn: 12,
                part: Some(3)
            })
        );
        assert_eq!(
            parse_directives(Some("_HLS_msn=5&_HLS_skip=YES&x=1")).unwrap(),
            Some(Directives { msn: 5, part: None })
        );
        for bad in [
            "_HLS_msn=-1",
            "_HLS_msn=abc",
            "_HLS_msn=",
            "_HLS_msn=1.5",
            "_HLS_msn=99999999999999999999999",
            "_HLS_part=2",
            "_HLS_msn=3&_HLS_part=-1",
            "_HLS_msn=3&_HLS_part=4294967296",
        ] {
            let e = parse_directives(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("_HLS_"), "{bad}: {e}");
        }
    }

    #[test]
    fn media_file_names() {
        assert_eq!(
            parse_media_file("part-19abc-12.3.m4s"),
            Some(MediaFile::Part {
                run: "19abc".into(),
                msn: 12,
                index: 3
            })
        );
        assert_eq!(
            parse_media_file("seg-ff-7.m4s"),
            Some(MediaFile::Segment {
                run: "ff".into(),
                msn: 7
            })
        );
        assert_eq!(
            parse_media_file("init-ff.mp4"),
            Some(MediaFile::Init { run: "ff".into() })
        );
        for bad in [
            "seg-ff--7.m4s",
            "part-ff-1.m4s",
            "part-zz-1.0.m4s",
            "seg-ff-99999999999999999999999.m4s",
            "../../etc/passwd",
            "init-.mp4",
        ] {
            assert_eq!(parse_media_file(bad), None, "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=9-1", 100), None);
    }
}
