//! `/api/v1/sessions`: council sessions, their agendas and timelines.
//!
//! Reading is public (sessions are public records); creating and editing
//! need an operator (or admin); running a session (start, items, recess,
//! non-public parts, stop) needs an operator (or admin). Every change is
//! one catalog transaction with its audit entry.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::Actor;
use super::{ApiError, AppState};
use crate::catalog::agenda::{self, AgendaItem, MAX_AGENDA_BYTES};
use crate::catalog::db::{MarkInput, MarkKind, SessionState};
use crate::catalog::users::Role;
use crate::hls::DateRange;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", get(list).post(create))
        .route("/api/v1/sessions/{id}", get(show))
        .route("/api/v1/sessions/{id}/agenda", put(replace_agenda))
        .route("/api/v1/sessions/{id}/start", post(start))
        .route(
            "/api/v1/sessions/{id}/items/{number}/begin",
            post(begin_item),
        )
        .route("/api/v1/sessions/{id}/recess", post(recess))
        .route("/api/v1/sessions/{id}/resume", post(resume))
        .route("/api/v1/sessions/{id}/private/begin", post(private_begin))
        .route("/api/v1/sessions/{id}/private/end", post(private_end))
        .route("/api/v1/sessions/{id}/stop", post(stop))
}

fn session_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no session with id {raw:?}")))
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn body_text(body: &[u8]) -> Result<&str, ApiError> {
    if body.len() > MAX_AGENDA_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "the body has {} bytes; the limit is {MAX_AGENDA_BYTES}",
            body.len()
        )));
    }
    std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not UTF-8 text: {e}")))
}

async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let sessions = state.catalog(|c| c.list_sessions()).await?;
    Ok(Json(json!({ "sessions": sessions })).into_response())
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = session_id(&id)?;
    let session = state.catalog(move |c| c.get_session(id)).await?;
    Ok(Json(session).into_response())
}

/// Creates a session from JSON shaped like the council office's agenda
/// export (`../shared/fixtures/agenda-sesja-xlv.json`).
async fn create(
    State(state): State<AppState>,
    actor: Actor,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let draft = agenda::parse_session_json(body_text(&body)?)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let who = actor.user.username.clone();
    let id = state
        .catalog(move |c| c.create_session(&draft, &who))
        .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(json!({ "id": id, "url": format!("/api/v1/sessions/{id}") })),
    )
        .into_response();
    if let Ok(v) = format!("/api/v1/sessions/{id}").parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Replaces the agenda: a JSON array of items, or CSV with a header row
/// (`Content-Type: text/csv`).
async fn replace_agenda(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let id = session_id(&id)?;
    let text = body_text(&body)?;
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let items: Vec<AgendaItem> = if is_csv {
        agenda::parse_agenda_csv(text).map_err(|e| ApiError::Unprocessable(e.to_string()))?
    } else {
        serde_json::from_str(text).map_err(|e| {
            ApiError::Unprocessable(format!("agenda: expected a JSON array of items: {e}"))
        })?
    };
    // The same rules as a whole session: numbers, order, lengths.
    let session = state.catalog(move |c| c.get_session(id)).await?;
    let check = agenda::SessionDraft {
        body: session.body.clone(),
        title: session.title.clone(),
        kind: None,
        term: None,
        scheduled_start: None,
        place: None,
        chair: None,
        agenda: items.clone(),
    };
    agenda::validate(&check).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let who = actor.user.username.clone();
    state
        .catalog(move |c| c.replace_agenda(id, &items, &who))
        .await?;
    let session = state.catalog(move |c| c.get_session(id)).await?;
    Ok(Json(session).into_response())
}

async fn mark(
    state: &AppState,
    actor: &Actor,
    id: &str,
    kind: MarkKind,
    agenda_number: Option<String>,
    reason: Option<String>,
    legal_basis: Option<String>,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let id = session_id(id)?;
    // Every change of what is public starts a new segment at that instant,
    // so the session's recording is made of whole segments.
    let channel = state.default_channel();
    let switch = match kind {
        MarkKind::PrivateStart => Some(true),
        MarkKind::PrivateEnd => Some(false),
        _ => None,
    };
    if let Some(private) = switch {
        // Check before touching the picture: a refused request must not
        // leave the slate on (or take it off).
        let session = state.catalog(move |c| c.get_session(id)).await?;
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|t| t.trim().is_empty());
        if private && (blank(&reason) || blank(&legal_basis)) {
            return Err(ApiError::Unprocessable(
                "a non-public part needs both \"reason\" and \"legal_basis\" (the statute that allows it)".into(),
            ));
        }
        if private && (session.private || session.state != SessionState::Live) {
            return Err(ApiError::Conflict(format!(
                "session {id} is {}{}: a non-public part can begin only while it is live and public",
                session.state,
                if session.private { " and already non-public" } else { "" }
            )));
        }
        if !private && !session.private {
            return Err(ApiError::Conflict(format!(
                "session {id} has no non-public part open"
            )));
        }
    }
    let cut = match (&channel, switch) {
        (Some(c), Some(private)) => c.set_private(private).await,
        (Some(c), None) => c.cut_now().await,
        (None, _) => None,
    };
    let input = MarkInput {
        kind,
        agenda_number,
        reason,
        legal_basis,
        wall_ns: cut
            .map(|c| i64::try_from(c.wall_ns).unwrap_or(i64::MAX))
            .unwrap_or_else(now_ns),
        media_ns: None,
    };
    let who = actor.user.username.clone();
    let mark = match state.catalog(move |c| c.add_mark(id, input, &who)).await {
        Ok(m) => m,
        Err(e) => {
            // The catalog refused: put the picture back as it was.
            if let (Some(c), Some(private)) = (&channel, switch) {
                c.set_private(!private).await;
            }
            return Err(e);
        }
    };
    let session = state.catalog(move |c| c.get_session(id)).await?;
    Ok(
        Json(json!({ "mark": mark, "session": session, "segment": cut.map(|c| c.msn) }))
            .into_response(),
    )
}

async fn start(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&s, &actor, &id, MarkKind::Start, None, None, None).await
}

/// Begins an agenda item: every rendition starts a new segment at this
/// instant (a forced keyframe), the mark records that instant, and the live
/// playlists show the item as an EXT-X-DATERANGE.
async fn begin_item(
    State(s): State<AppState>,
    actor: Actor,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let sid = session_id(&id)?;
    // Check first, so a refused request does not cut the stream.
    let session = s.catalog(move |c| c.get_session(sid)).await?;
    let Some(item) = session.agenda.iter().find(|i| i.number == number).cloned() else {
        return Err(ApiError::Unprocessable(format!(
            "agenda item {number:?} is not on the agenda of session {sid}"
        )));
    };
    let channel = s.default_channel();
    let cut = match &channel {
        Some(c) => c.cut_now().await,
        None => None,
    };
    let input = MarkInput {
        kind: MarkKind::Item,
        agenda_number: Some(number.clone()),
        reason: None,
        legal_basis: None,
        wall_ns: cut
            .map(|c| i64::try_from(c.wall_ns).unwrap_or(i64::MAX))
            .unwrap_or_else(now_ns),
        media_ns: None,
    };
    let who = actor.user.username.clone();
    let mark = s.catalog(move |c| c.add_mark(sid, input, &who)).await?;
    if let (Some(channel), Some(cut)) = (&channel, cut) {
        channel.add_daterange(DateRange {
            id: format!("session-{sid}-item-{number}"),
            start_ns: cut.wall_ns,
            number: number.clone(),
            title: item.title.clone(),
        });
    }
    let session = s.catalog(move |c| c.get_session(sid)).await?;
    Ok(Json(json!({
        "mark": mark,
        "session": session,
        // The first segment of the item in every rendition, when live.
        "segment": cut.map(|c| c.msn),
    }))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecessBody {
    reason: Option<String>,
}

async fn recess(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: RecessBody = optional_json(&body)?;
    mark(&s, &actor, &id, MarkKind::Recess, None, b.reason, None).await
}

async fn resume(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&s, &actor, &id, MarkKind::Resume, None, None, None).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateBody {
    reason: Option<String>,
    legal_basis: Option<String>,
}

async fn private_begin(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: PrivateBody = optional_json(&body)?;
    mark(
        &s,
        &actor,
        &id,
        MarkKind::PrivateStart,
        None,
        b.reason,
        b.legal_basis,
    )
    .await
}

async fn private_end(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&s, &actor, &id, MarkKind::PrivateEnd, None, None, None).await
}

async fn stop(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&s, &actor, &id, MarkKind::Stop, None, None, None).await
}

/// An optional small JSON body: empty means all fields absent.
fn optional_json<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    if body.len() > 16 * 1024 {
        return Err(ApiError::PayloadTooLarge("the body is over 16 KiB".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| ApiError::Unprocessable(format!("{}: {}", e.path(), e.inner())))
}
