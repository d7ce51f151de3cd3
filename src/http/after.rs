//! After a session: correcting an agenda item's start (re-cut on the
//! recording's keyframes) and publishing or withdrawing the recording.
//!
//! A corrected start is a `mark_corrections` row (the timeline stays
//! append-only); it snaps to the nearest segment boundary, whose first
//! frame is a keyframe, so items stay whole segments. A withdrawn
//! recording (`sessions.published = 0`) is refused to anonymous callers by
//! [`gate`] (`/vod/sessions/{id}/...`: 410) and by the public pages, feeds
//! and search; anyone logged in (staff, operator, admin) still gets it.
//! The live broadcast never depends on it.

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Actor;
use super::sessions::{optional_json, BodyBytes};
use super::{ApiError, AppState, ErrorBody};
use crate::archive::session::{self, SnapError};
use crate::catalog::db::{Mark, SessionView};
use crate::catalog::users::Role;
use crate::pages::views::{local_time, TIME_ZONE};

/// The routes of this module, each documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(correct_mark))
        .routes(routes!(publish))
        .routes(routes!(unpublish))
}

/// Whether the request comes from someone logged in (any role: staff,
/// operator or admin), by cookie or token. Only asked when a recording is
/// withdrawn, so public requests cost no lookup otherwise.
pub(crate) async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers.clone();
    Actor::from_request_parts(&mut parts, state).await.is_ok()
}

/// The message for a withdrawn recording, naming the reason.
pub(crate) fn withdrawn_message(s: &SessionView) -> String {
    let reason = s
        .withdrawal
        .as_ref()
        .map(|w| w.reason.as_str())
        .unwrap_or("");
    format!(
        "the recording of session {} was withdrawn from publication: {reason}",
        s.id
    )
}

/// Refuses `/vod/sessions/{id}/...` with 410 Gone while the session's
/// recording is withdrawn, unless the caller is logged in.
pub async fn gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The id as the route will see it: percent-decoded (`%31` is `1`).
    let Some(id) = req
        .uri()
        .path()
        .strip_prefix("/vod/sessions/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|id| percent_encoding::percent_decode_str(id).decode_utf8().ok())
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return next.run(req).await;
    };
    let withdrawn = match state.catalog(move |c| c.get_session(id)).await {
        Ok(s) if !s.published => Some(withdrawn_message(&s)),
        Ok(_) | Err(ApiError::NotFound(_)) => None,
        // Fail closed: when the catalog cannot say, serve nothing.
        Err(_) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "5")],
                Json(ErrorBody {
                    error: "the catalog is busy; try again in a few seconds".into(),
                }),
            )
                .into_response()
        }
    };
    let Some(message) = withdrawn else {
        return next.run(req).await;
    };
    if signed_in(&state, req.headers()).await {
        // Never into a shared cache: anonymous visitors must not get it.
        let mut response = next.run(req).await;
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("private, no-store"),
        );
        return response;
    }
    (
        StatusCode::GONE,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(ErrorBody { error: message }),
    )
        .into_response()
}

fn session_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no session with id {raw:?}")))
}

/// The new start of an item: exactly one of `wall_ns` and `at`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CorrectBody {
    /// Wall-clock time (Unix ns).
    wall_ns: Option<i64>,
    /// Council time (Europe/Warsaw) on the item's day, "HH:MM:SS" or
    /// "HH:MM" (a session past midnight: the time nearest the item's).
    at: Option<String>,
}

/// Where a corrected start landed.
#[derive(Serialize, ToSchema)]
struct CorrectionReply {
    /// The mark as it is now (`wall_ns` effective, `recorded_wall_ns` the
    /// time first recorded).
    mark: Mark,
    /// The time asked for (Unix ns).
    requested_ns: i64,
    /// Where the start landed (Unix ns): the first frame (a keyframe) of
    /// the recorded segment that starts nearest the time asked for.
    wall_ns: i64,
    /// The same in council time, "YYYY-MM-DD HH:MM:SS".
    at: String,
    /// The media sequence number of that segment.
    msn: u64,
    /// The session as it is now.
    session: SessionView,
}

/// "HH:MM[:SS]" on the council's calendar day of `near` (Unix ns), moved
/// by a day when that is nearer `near` (a session past midnight).
fn parse_at(at: &str, near: i64) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::Unprocessable(format!(
            "at: expected a time of day \"HH:MM:SS\" ({TIME_ZONE}), got {at:?}"
        ))
    };
    let fields: Vec<&str> = at.trim().split(':').collect();
    if !(2..=3).contains(&fields.len())
        || fields
            .iter()
            .any(|f| f.len() != 2 || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let num = |i: usize| fields.get(i).map_or(Ok(0), |f| f.parse::<i8>());
    let (h, m, s) = (
        num(0).map_err(|_| bad())?,
        num(1).map_err(|_| bad())?,
        num(2).map_err(|_| bad())?,
    );
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    let tz = jiff::tz::TimeZone::get(TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    let day = jiff::Timestamp::from_nanosecond(i128::from(near))
        .map_err(|_| bad())?
        .to_zoned_datetime(tz.clone())
        .date();
    const DAY: i64 = 86_400_000_000_000;
    let ns = day
        .at(h, m, s, 0)
        .to_zoned_datetime(tz)
        .map_err(|_| bad())?
        .timestamp()
        .as_nanosecond();
    let ns = i64::try_from(ns).map_err(|_| bad())?;
    Ok(match ns - near {
        d if d > DAY / 2 => ns - DAY,
        d if d < -DAY / 2 => ns + DAY,
        _ => ns,
    })
}

#[utoipa::path(
    put,
    path = "/api/v1/sessions/{id}/marks/{seq}",
    tag = "sessions",
    operation_id = "correct_mark",
    summary = "Correct the start of an agenda item (re-cut on keyframes)",
    description = "Moves the start of an `item` mark to the recorded segment boundary (a \
        keyframe) nearest the time given, as `wall_ns` or as `at` (\"HH:MM:SS\", \
        Europe/Warsaw, on the item's day). It must lie strictly between the marks before and \
        after, and inside the session's recording. The timeline row is kept; the correction is \
        stored beside it and audited, and every chapter, item playlist, download and page \
        uses it. Only while the session is paused or ended. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id"),
        ("seq" = i64, Path, minimum = 1, description = "The mark's position in the timeline")),
    request_body(content = CorrectBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Where the start landed", body = CorrectionReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session or mark (`seq`)", body = ErrorBody),
        (status = 409, description = "The session is not paused or ended", body = ErrorBody),
        (status = 422, description = "Not an item mark, a malformed body or time, or a time \
            outside the neighbouring marks or the recording; the message names the field",
            body = ErrorBody)
    )
)]
async fn correct_mark(
    State(state): State<AppState>,
    actor: Actor,
    Path((id, seq)): Path<(String, String)>,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let id = session_id(&id)?;
    let seq = seq
        .parse::<i64>()
        .ok()
        .filter(|&s| s > 0)
        .ok_or_else(|| ApiError::NotFound(format!("seq: no mark {seq:?}")))?;
    let b: CorrectBody = optional_json(&body)?;
    let bounds = state.catalog(move |c| c.correction_bounds(id, seq)).await?;
    let (field, requested) = match (b.wall_ns, b.at.as_deref()) {
        (Some(w), None) if w >= 0 => ("wall_ns", w),
        (Some(w), None) => {
            return Err(ApiError::Unprocessable(format!(
                "wall_ns: must not be negative, got {w}"
            )))
        }
        (None, Some(at)) => ("at", parse_at(at, bounds.wall_ns)?),
        _ => {
            return Err(ApiError::Unprocessable(
                "wall_ns, at: give exactly one of them (Unix ns, or \"HH:MM:SS\")".into(),
            ))
        }
    };
    let shown = |ns: i64| local_time(ns, true);
    if requested <= bounds.prev_ns || bounds.next_ns.is_some_and(|n| requested >= n) {
        return Err(ApiError::Unprocessable(format!(
            "{field}: {} is not between the previous mark ({}) and the next ({})",
            shown(requested),
            shown(bounds.prev_ns),
            bounds.next_ns.map_or_else(|| "none".into(), shown)
        )));
    }
    // The session's recording (its first rendition), to snap on.
    let default = state.default_channel().map(|c| c.id.clone());
    let (view, media) = state
        .catalog(move |c| {
            let view = c.get_session(id)?;
            let media = match (
                view.channel.clone().or(default),
                session::recording_window(&view.timeline),
            ) {
                (Some(channel), Some(w)) => {
                    Some(c.recorded_media(&channel, w.start_ns, w.end_ns, |r| {
                        r.iter().take(1).map(|r| r.name.clone()).collect()
                    })?)
                }
                _ => None,
            };
            Ok((view, media))
        })
        .await?;
    let runs = media
        .and_then(|m| m.tracks.into_iter().next())
        .map(|t| t.runs)
        .unwrap_or_default();
    let entries = session::select(&session::public_spans(&view.timeline), None, &runs);
    let as_u64 = |ns: i64| u64::try_from(ns).unwrap_or(0);
    let snap = session::snap_to_keyframe(
        as_u64(requested),
        as_u64(bounds.prev_ns),
        bounds.next_ns.map(as_u64),
        &entries,
    )
    .map_err(|e| {
        ApiError::Unprocessable(match e {
            SnapError::Outside { start_ns: 0, .. } => {
                format!("{field}: session {id} has no recording to re-cut")
            }
            SnapError::Outside { start_ns, end_ns } => format!(
                "{field}: {} is outside the session's recording ({} to {})",
                shown(requested),
                shown(i64::try_from(start_ns).unwrap_or(0)),
                shown(i64::try_from(end_ns).unwrap_or(0))
            ),
            SnapError::NoBoundary => format!(
                "{field}: no recorded segment (keyframe) starts between the previous mark ({}) \
                 and the next ({})",
                shown(bounds.prev_ns),
                bounds.next_ns.map_or_else(|| "none".into(), shown)
            ),
        })
    })?;
    let wall_ns = i64::try_from(snap.wall_ns).unwrap_or(i64::MAX);
    let who = actor.user.username.clone();
    let (mark, session) = state
        .catalog(move |c| {
            let mark = c.correct_mark(id, seq, requested, wall_ns, Some(snap.msn), &who)?;
            Ok((mark, c.get_session(id)?))
        })
        .await?;
    Ok(Json(CorrectionReply {
        mark,
        requested_ns: requested,
        wall_ns,
        at: shown(wall_ns),
        msn: snap.msn,
        session,
    })
    .into_response())
}

/// Why a recording is withdrawn.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UnpublishBody {
    /// Required, e.g. "naruszenie dóbr osobistych – wniosek z 2025-12-01";
    /// at most 1000 characters. Shown to residents.
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/publish",
    tag = "sessions",
    operation_id = "publish_recording",
    summary = "Publish a session's recording again",
    description = "Recordings are published by default (the law requires it); this undoes a \
        withdrawal. Audited. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "The session as it is now", body = SessionView),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The recording is already published", body = ErrorBody)
    )
)]
async fn publish(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let id = session_id(&id)?;
    let who = actor.user.username.clone();
    let session = state
        .catalog(move |c| {
            c.set_published(id, true, None, &who)?;
            c.get_session(id)
        })
        .await?;
    Ok(Json(session).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/unpublish",
    tag = "sessions",
    operation_id = "unpublish_recording",
    summary = "Withdraw a session's recording from publication",
    description = "Needs a reason, shown to residents. From then on the recording (VOD \
        playlists, chapters, downloads), the session page, embed, oEmbed, feeds and search \
        refuse anonymous visitors (410 or 404); anyone logged in still gets them. Only after \
        the session ended: the live broadcast is never affected. Audited. Role: operator (or \
        admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    request_body(content = UnpublishBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The session as it is now", body = SessionView),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session has not ended, or the recording is already \
            withdrawn", body = ErrorBody),
        (status = 422, description = "No reason, or a bad body; the message names the field",
            body = ErrorBody)
    )
)]
async fn unpublish(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let id = session_id(&id)?;
    let b: UnpublishBody = optional_json(&body)?;
    let who = actor.user.username.clone();
    let session = state
        .catalog(move |c| {
            c.set_published(id, false, b.reason.as_deref(), &who)?;
            c.get_session(id)
        })
        .await?;
    Ok(Json(session).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_read_in_the_councils_zone_on_the_items_day() {
        // 2025-11-26 09:05:30 CET = 08:05:30 UTC.
        let near = 1_764_144_330_000_000_000;
        assert_eq!(parse_at("09:05:28", near).unwrap(), near - 2_000_000_000);
        assert_eq!(parse_at("09:05", near).unwrap(), near - 30_000_000_000);
        // Just after midnight, for an item begun just before it.
        let late = near + 14 * 3_600_000_000_000 + 54 * 60_000_000_000; // 23:59:30
        assert_eq!(parse_at("00:00:10", late).unwrap(), late + 40_000_000_000);
        for bad in [
            "9:05:28",
            "25:00:00",
            "09:60",
            "x",
            "",
            "09:05:28:1",
            "09:05:2a",
        ] {
            let e = parse_at(bad, near).unwrap_err();
            assert!(
                matches!(&e, ApiError::Unprocessable(m) if m.starts_with("at: ")),
                "{bad:?}: {e:?}"
            );
        }
    }
}
