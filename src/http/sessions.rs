//! `/api/v1/sessions`: council sessions, their agendas and timelines.
//!
//! Reading is public (sessions are public records); creating and editing
//! need an operator (or admin); running a session (start, items, recess,
//! non-public parts, stop) needs an operator (or admin). Every change is
//! one catalog transaction with its audit entry. Every route is documented
//! in the OpenAPI document by its `#[utoipa::path]`.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Actor;
use super::{ApiError, AppState, ErrorBody};
use crate::catalog::agenda::{self, AgendaItem, SessionDraft, SessionPatch, MAX_AGENDA_BYTES};
use crate::catalog::db::{Mark, MarkInput, MarkKind, SessionState, SessionSummary, SessionView};
use crate::catalog::users::Role;
use crate::hls::DateRange;

/// The routes of this module, each documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(preview))
        .routes(routes!(show, update))
        .routes(routes!(replace_agenda))
        .routes(routes!(start))
        .routes(routes!(begin_item))
        .routes(routes!(recess))
        .routes(routes!(resume))
        .routes(routes!(private_begin))
        .routes(routes!(private_end))
        .routes(routes!(stop))
}

#[derive(Serialize, ToSchema)]
struct SessionList {
    /// The most recently created first.
    sessions: Vec<SessionSummary>,
}

#[derive(Serialize, ToSchema)]
struct CreatedSession {
    id: i64,
    /// The new session's URL (also in `Location`).
    url: String,
}

/// What a timeline change returns: the mark, the session as it is now, and
/// the segment the mark cut.
#[derive(Serialize, ToSchema)]
struct MarkReply {
    mark: Mark,
    session: SessionView,
    /// The media sequence number of the first segment after the mark in
    /// every rendition; null when no channel was live.
    segment: Option<u64>,
}

fn session_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no session with id {raw:?}")))
}

/// A request body as axum read it: the bytes, or why it could not (its own
/// limit, 2 MiB, lies above ours; the rejection is plain text, so
/// [`read_body`] turns it into an [`ApiError`] naming our limit).
pub(super) type BodyBytes = Result<axum::body::Bytes, BytesRejection>;

/// The body's bytes, at most `limit` of them.
pub(super) fn read_body(body: &BodyBytes, limit: usize) -> Result<&[u8], ApiError> {
    match body {
        Ok(bytes) if bytes.len() <= limit => Ok(bytes),
        Ok(bytes) => Err(ApiError::PayloadTooLarge(format!(
            "the body has {} bytes; the limit is {limit}",
            bytes.len()
        ))),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge(
            format!("the body is larger than the limit of {limit} bytes"),
        )),
        Err(e) => Err(ApiError::BadRequest(e.body_text())),
    }
}

fn body_text(body: &BodyBytes) -> Result<&str, ApiError> {
    std::str::from_utf8(read_body(body, MAX_AGENDA_BYTES)?)
        .map_err(|e| ApiError::BadRequest(format!("the body is not UTF-8 text: {e}")))
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    tag = "sessions",
    operation_id = "list_sessions",
    summary = "List all sessions",
    description = "Every session, the most recently created first, without agendas and \
        timelines. Public.",
    responses((status = 200, description = "The sessions", body = SessionList))
)]
async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let sessions = state.catalog(|c| c.list_sessions()).await?;
    Ok(Json(SessionList { sessions }).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    tag = "sessions",
    operation_id = "get_session",
    summary = "One session with its agenda and timeline",
    description = "The session's metadata, state, agenda (in order) and timeline marks (in \
        order). Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "The session", body = SessionView),
        (status = 404, description = "No such session", body = ErrorBody)
    )
)]
async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = session_id(&id)?;
    let session = state.catalog(move |c| c.get_session(id)).await?;
    Ok(Json(session).into_response())
}

/// Creates a session from JSON shaped like the council office's agenda
/// export (`../shared/fixtures/agenda-sesja-xlv.json`).
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "sessions",
    operation_id = "create_session",
    summary = "Create a session with its agenda",
    description = "JSON shaped like the council office's agenda export; unknown fields are \
        refused (an item's `note` is accepted and dropped). The session starts as planned. \
        Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    request_body(content = SessionDraft, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = CreatedSession,
            headers(("Location" = String, description = "/api/v1/sessions/{id}"))),
        (status = 400, description = "The body is not UTF-8", body = ErrorBody),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 413, description = "The body is over 256 KiB", body = ErrorBody),
        (status = 422, description = "Invalid JSON or agenda; the message names the field \
            (e.g. `agenda[3].number`) or the line and column", body = ErrorBody)
    )
)]
async fn create(
    State(state): State<AppState>,
    actor: Actor,
    body: BodyBytes,
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
        Json(CreatedSession {
            id,
            url: format!("/api/v1/sessions/{id}"),
        }),
    )
        .into_response();
    if let Ok(v) = format!("/api/v1/sessions/{id}").parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// The metadata of an agenda given alone (CSV or a JSON array) to
/// [`preview`]: the fields of [`SessionDraft`] but the agenda.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    /// The body that meets; required with an agenda given alone.
    body: Option<String>,
    /// The session's title; required with an agenda given alone.
    title: Option<String>,
    kind: Option<String>,
    term: Option<String>,
    /// RFC 3339 with offset, e.g. "2025-11-26T09:00:00+01:00".
    scheduled_start: Option<String>,
    place: Option<String>,
    chair: Option<String>,
}

impl PreviewQuery {
    fn is_empty(&self) -> bool {
        self.names().is_empty()
    }

    /// The parameters given, by name.
    fn names(&self) -> Vec<&'static str> {
        [
            ("body", &self.body),
            ("title", &self.title),
            ("kind", &self.kind),
            ("term", &self.term),
            ("scheduled_start", &self.scheduled_start),
            ("place", &self.place),
            ("chair", &self.chair),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(n, _)| n)
        .collect()
    }
}

/// What [`preview`] reads: a whole session as JSON (as [`create`] takes
/// it), or an agenda alone (CSV with a header row, or a JSON array of
/// items) with the session's metadata from `meta`. Parsed and validated
/// exactly as [`create`] and [`replace_agenda`] do; nothing is stored.
fn preview_draft(is_csv: bool, text: &str, meta: PreviewQuery) -> Result<SessionDraft, ApiError> {
    let unprocessable = |e: agenda::AgendaError| ApiError::Unprocessable(e.to_string());
    let json_array = !is_csv
        && text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('[');
    if !is_csv && !json_array {
        if !meta.is_empty() {
            return Err(ApiError::Unprocessable(format!(
                "{}: a session given as a JSON object carries its own metadata; the query \
                 parameters are only for an agenda given alone (CSV or a JSON array)",
                meta.names().join(", ")
            )));
        }
        return agenda::parse_session_json(text).map_err(unprocessable);
    }
    let items = if is_csv {
        agenda::parse_agenda_csv(text)
    } else {
        agenda::parse_agenda_json(text)
    }
    .map_err(unprocessable)?;
    // Blank optional fields are absent, as an empty form field means.
    let optional = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let draft = SessionDraft {
        body: meta.body.unwrap_or_default(),
        title: meta.title.unwrap_or_default(),
        kind: optional(meta.kind),
        term: optional(meta.term),
        scheduled_start: optional(meta.scheduled_start),
        place: optional(meta.place),
        chair: optional(meta.chair),
        agenda: items,
    };
    agenda::validate(&draft).map_err(unprocessable)?;
    Ok(draft)
}

/// Whether the request says its body is CSV.
fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/csv"))
}

/// Parses and checks a session without saving it: what the operator
/// console shows before "Save".
#[utoipa::path(
    post,
    path = "/api/v1/sessions/preview",
    tag = "sessions",
    operation_id = "preview_session",
    summary = "Check a session and its agenda without saving it",
    description = "Parses and validates exactly as creating a session does, and returns the \
        session as it would be created; nothing is stored and nothing is audited. The body is \
        a whole session as JSON (as `POST /api/v1/sessions` takes it), or an agenda alone: a \
        JSON array of items, or CSV with a header row (`Content-Type: text/csv`), with the \
        session's metadata in the query (`title` and `body` required). Role: operator (or \
        admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(PreviewQuery),
    request_body(content(
        (SessionDraft = "application/json"),
        (String = "text/csv")
    )),
    responses(
        (status = 200, description = "The session as it would be created", body = SessionDraft),
        (status = 400, description = "The body is not UTF-8, or an unknown query parameter",
            body = ErrorBody),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 413, description = "The body is over 256 KiB", body = ErrorBody),
        (status = 422, description = "Invalid JSON, CSV or agenda; the message names the field \
            (e.g. `agenda[3].number`, `title`) or the line and column", body = ErrorBody)
    )
)]
async fn preview(
    actor: Actor,
    query: Result<axum::extract::Query<PreviewQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let axum::extract::Query(meta) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let draft = preview_draft(is_csv(&headers), body_text(&body)?, meta)?;
    let mut response = Json(draft).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

#[utoipa::path(
    patch,
    path = "/api/v1/sessions/{id}",
    tag = "sessions",
    operation_id = "update_session",
    summary = "Correct a session's metadata",
    description = "Changes only the fields given (title, kind, term, scheduled_start, place, \
        chair); `null` clears an optional one. The rules of creation apply; unknown fields are \
        refused. Allowed in every state, an ended session's included; the audit log records \
        each change. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    request_body(content = SessionPatch, content_type = "application/json"),
    responses(
        (status = 200, description = "The session as it is now", body = SessionView),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 413, description = "The body is over 16 KiB", body = ErrorBody),
        (status = 422, description = "Not JSON, an unknown field, or an invalid value; the \
            message names the field", body = ErrorBody)
    )
)]
async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let id = session_id(&id)?;
    let patch: SessionPatch = optional_json(&body)?;
    let who = actor.user.username.clone();
    let session = state
        .catalog(move |c| c.update_session(id, &patch, &who))
        .await?;
    Ok(Json(session).into_response())
}

/// Replaces the agenda: a JSON array of items, or CSV with a header row
/// (`Content-Type: text/csv`).
#[utoipa::path(
    put,
    path = "/api/v1/sessions/{id}/agenda",
    tag = "sessions",
    summary = "Replace a session's agenda",
    description = "A JSON array of items, or CSV with a header row (`Content-Type: text/csv`; \
        `number,title,resolution_draft` or the Polish headers). Only while the session is \
        planned or paused; items already marked must stay. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    request_body(content(
        (Vec<AgendaItem> = "application/json"),
        (String = "text/csv")
    )),
    responses(
        (status = 200, description = "The session with its new agenda", body = SessionView),
        (status = 400, description = "The body is not UTF-8", body = ErrorBody),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is live or ended, or a marked item would be \
            dropped", body = ErrorBody),
        (status = 413, description = "The body is over 256 KiB", body = ErrorBody),
        (status = 422, description = "An invalid agenda; the message names the item and field \
            or the CSV line and column", body = ErrorBody)
    )
)]
async fn replace_agenda(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: BodyBytes,
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
        agenda::parse_agenda_json(text).map_err(|e| ApiError::Unprocessable(e.to_string()))?
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
    let fields = MarkFields {
        agenda_number,
        reason,
        legal_basis,
    };
    mark_on(state, actor, id, kind, fields, None).await
}

/// The optional texts of a mark.
#[derive(Debug, Default)]
struct MarkFields {
    agenda_number: Option<String>,
    reason: Option<String>,
    legal_basis: Option<String>,
}

/// Makes a mark on the session's channel: the one it was started on (the
/// default channel for a session started before sessions were bound to
/// channels). A start names its channel in `start_on` (`None` only when
/// no channel is configured) and binds the session to it.
/// Serialises marks (see [`mark_on`]).
static MARKS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn mark_on(
    state: &AppState,
    actor: &Actor,
    id: &str,
    kind: MarkKind,
    fields: MarkFields,
    start_on: Option<String>,
) -> Result<Response, ApiError> {
    let MarkFields {
        agenda_number,
        reason,
        legal_basis,
    } = fields;
    actor.require(Role::Operator)?;
    let id = session_id(id)?;
    // One mark at a time: the checks, the cut or switch, and the catalog
    // write (or the switch's undo) must not interleave with another mark's,
    // or two operators beginning a non-public part at once could put the
    // chamber back on the air while one is open. Marks are rare; waiting
    // for another one costs at most a second.
    let _one_at_a_time = MARKS.lock().await;
    let session = state.catalog(move |c| c.get_session(id)).await?;
    let channel_id = match kind {
        MarkKind::Start => start_on,
        _ => state.session_channel_id(&session),
    };
    // Every change of what is public starts a new segment at that instant,
    // so the session's recording is made of whole segments.
    let channel = channel_id
        .as_deref()
        .and_then(|c| state.channels.get(c).cloned());
    let switch = match kind {
        MarkKind::PrivateStart => Some(true),
        MarkKind::PrivateEnd => Some(false),
        _ => None,
    };
    if let Some(private) = switch {
        // Check before touching the picture: a refused request must not
        // leave the slate on (or take it off).
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
    // Ask the catalog first: a mark it would refuse (starting twice, an
    // item not on the agenda, stopping a planned session) must not cut the
    // stream or switch the picture.
    {
        let (number, on) = (agenda_number.clone(), channel_id.clone());
        let on = on.filter(|_| kind == MarkKind::Start);
        state
            .catalog(move |c| c.check_mark(id, kind, number, on.as_deref()))
            .await?;
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
            .unwrap_or_else(crate::catalog::now_ns),
        media_ns: None,
    };
    let who = actor.user.username.clone();
    let made = match (kind, channel_id) {
        // The start and the session's channel, in one transaction.
        (MarkKind::Start, Some(on)) => {
            state
                .catalog(move |c| c.start_session(id, &on, input, &who))
                .await
        }
        _ => state.catalog(move |c| c.add_mark(id, input, &who)).await,
    };
    let mark = match made {
        Ok(m) => m,
        Err(e) => {
            // The catalog refused: put the picture back as it was.
            if let (Some(c), Some(private)) = (&channel, switch) {
                c.set_private(!private).await;
            }
            return Err(e);
        }
    };
    // An agenda item shows in the live playlists as an EXT-X-DATERANGE.
    if let (Some(channel), Some(cut), Some(number)) = (&channel, cut, &mark.agenda_number) {
        let title = session
            .agenda
            .iter()
            .find(|a| &a.number == number)
            .map(|a| a.title.clone())
            .unwrap_or_default();
        // The lower third shows it from now on; a new item ends the
        // previous one's speaker and vote.
        let line = crate::media::graphics::item_line(number, &title);
        channel.graphics.update(|g| {
            g.item = Some(line);
            g.speaker = None;
            g.vote = false;
        });
        channel.add_daterange(DateRange {
            id: format!("session-{id}-item-{number}"),
            start_ns: cut.wall_ns,
            number: number.clone(),
            title,
        });
    }
    // Restreaming runs while a session is live on the channel, and the
    // failover slate names it.
    if let Some(channel) = &channel {
        match kind {
            MarkKind::Start => {
                channel.restream.set_on(true);
                channel.set_slate_session(Some(&session.title));
            }
            MarkKind::Stop => {
                channel.restream.set_on(false);
                channel.set_slate_session(None);
            }
            _ => {}
        }
    }
    // A session's start and end clear the lower third.
    if let (Some(channel), MarkKind::Start | MarkKind::Stop) = (&channel, kind) {
        channel.graphics.update(|g| {
            g.item = None;
            g.speaker = None;
            g.vote = false;
        });
    }
    let session = state.catalog(move |c| c.get_session(id)).await?;
    Ok(Json(MarkReply {
        mark,
        session,
        segment: cut.map(|c| c.msn),
    })
    .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/start",
    tag = "sessions",
    operation_id = "start_session",
    summary = "Start a session: planned to live",
    description = "Marks the start on the timeline and cuts a new segment at that instant. An optional JSON body names the channel (room) the session is broadcast and recorded on; without it, the default channel. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    request_body(content = StartBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The mark and the session", body = MarkReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session's state does not allow this now, or \
            another session is live or paused on the channel (the message names it)",
            body = ErrorBody),
        (status = 422, description = "No such channel, a bad body, or the catalog refused \
            the mark; the message says why", body = ErrorBody)
    )
)]
async fn start(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let b: StartBody = optional_json(&body)?;
    if let Some(name) = &b.channel {
        if !s.channels.contains_key(name) {
            let mut known: Vec<&str> = s.channels.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(ApiError::Unprocessable(format!(
                "channel: there is no channel {name:?} (the channels are: {})",
                known.join(", ")
            )));
        }
    }
    // Without a body, the default channel, as before sessions chose one.
    let on = b
        .channel
        .or_else(|| s.default_channel().map(|c| c.id.clone()));
    mark_on(&s, &actor, &id, MarkKind::Start, MarkFields::default(), on).await
}

/// Begins an agenda item: every rendition starts a new segment at this
/// instant (a forced keyframe), the mark records that instant, and the live
/// playlists show the item as an EXT-X-DATERANGE.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/items/{number}/begin",
    tag = "sessions",
    summary = "Begin an agenda item",
    description = "Every rendition starts a new segment at this instant, the mark records it, and the live playlists show the item as an EXT-X-DATERANGE. Only while the session is live. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id"),
        ("number" = String, Path, description = "Agenda item number, e.g. \"7a\"")),
    responses(
        (status = 200, description = "The mark and the session", body = MarkReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session's state does not allow this now",
            body = ErrorBody),
        (status = 422, description = "The item is not on the agenda",
            body = ErrorBody)
    )
)]
async fn begin_item(
    State(s): State<AppState>,
    actor: Actor,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let fields = MarkFields {
        agenda_number: Some(number),
        ..MarkFields::default()
    };
    mark_on(&s, &actor, &id, MarkKind::Item, fields, None).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StartBody {
    /// The channel (room) to broadcast and record the session on, e.g.
    /// "main"; the default channel when absent. Another session must not be
    /// live or paused on it.
    channel: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RecessBody {
    /// Why, e.g. "przerwa techniczna"; optional.
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/recess",
    tag = "sessions",
    summary = "Begin a recess: live to paused",
    description = "An optional JSON body gives the reason; an empty body is fine. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    request_body(content = RecessBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The mark and the session", body = MarkReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session's state does not allow this now",
            body = ErrorBody),
        (status = 422, description = "An unknown field or wrong type in the body; the message names it",
            body = ErrorBody)
    )
)]
async fn recess(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: BodyBytes,
) -> Result<Response, ApiError> {
    let b: RecessBody = optional_json(&body)?;
    mark(&s, &actor, &id, MarkKind::Recess, None, b.reason, None).await
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/resume",
    tag = "sessions",
    summary = "End a recess: paused to live",
    description = "Marks the resumption and cuts a new segment. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "The mark and the session", body = MarkReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session's state does not allow this now",
            body = ErrorBody),
        (status = 422, description = "The catalog refused the mark; the message says why",
            body = ErrorBody)
    )
)]
async fn resume(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&s, &actor, &id, MarkKind::Resume, None, None, None).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PrivateBody {
    /// Why the session is closed to the public; required.
    reason: Option<String>,
    /// The provision that allows it (e.g. art. 61 ust. 3 Konstytucji RP); required.
    legal_basis: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/private/begin",
    tag = "sessions",
    summary = "Begin a non-public part",
    description = "From this instant the encoders see only the slate and silence; nothing of the part is broadcast, recorded or listed. Needs a reason and a legal basis; only while live and public. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    request_body(content = PrivateBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The mark and the session", body = MarkReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session's state does not allow this now",
            body = ErrorBody),
        (status = 422, description = "The reason or the legal basis is missing, or the body has an unknown field",
            body = ErrorBody)
    )
)]
async fn private_begin(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    body: BodyBytes,
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

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/private/end",
    tag = "sessions",
    summary = "End the non-public part",
    description = "The camera and microphones are on the air again from this instant. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "The mark and the session", body = MarkReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session's state does not allow this now",
            body = ErrorBody),
        (status = 422, description = "The catalog refused the mark; the message says why",
            body = ErrorBody)
    )
)]
async fn private_end(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&s, &actor, &id, MarkKind::PrivateEnd, None, None, None).await
}

#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/stop",
    tag = "sessions",
    operation_id = "stop_session",
    summary = "Stop a session: live or paused to ended",
    description = "Marks the end; a non-public part must be ended first. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "The mark and the session", body = MarkReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session's state does not allow this now",
            body = ErrorBody),
        (status = 422, description = "The catalog refused the mark; the message says why",
            body = ErrorBody)
    )
)]
async fn stop(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    mark(&s, &actor, &id, MarkKind::Stop, None, None, None).await
}

/// An optional small JSON body (16 KiB at most): empty means all fields
/// absent.
pub(super) fn optional_json<T: for<'de> Deserialize<'de> + Default>(
    body: &BodyBytes,
) -> Result<T, ApiError> {
    if read_body(body, 16 * 1024)?
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        return Ok(T::default());
    }
    json_body(body, 16 * 1024, "")
}

/// A JSON body of at most `limit` bytes; a 422 names the field that is
/// wrong and, when `example` is not empty, shows what is expected
/// ("expected e.g. {example}").
pub(super) fn json_body<T: for<'de> Deserialize<'de>>(
    body: &BodyBytes,
    limit: usize,
    example: &str,
) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(read_body(body, limit)?);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let hint = if example.is_empty() {
            String::new()
        } else {
            format!(" (expected {example})")
        };
        ApiError::Unprocessable(format!("{}: {}{hint}", e.path(), e.inner()))
    })
}

#[cfg(test)]
mod preview_tests {
    use super::*;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/agenda-sesja-xlv.json"
    ));

    fn meta(title: &str, body: &str) -> PreviewQuery {
        PreviewQuery {
            title: Some(title.into()),
            body: Some(body.into()),
            place: Some("  ".into()),
            ..PreviewQuery::default()
        }
    }

    fn message(e: ApiError) -> String {
        match e {
            ApiError::Unprocessable(m) => m,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn a_whole_session_is_read_as_create_reads_it() {
        let draft = preview_draft(false, FIXTURE, PreviewQuery::default()).unwrap();
        assert_eq!(draft, agenda::parse_session_json(FIXTURE).unwrap());
        assert_eq!(draft.agenda[7].number, "7a");
        let e = message(preview_draft(false, FIXTURE, meta("X", "Y")).unwrap_err());
        assert!(e.starts_with("body, title, place: "), "{e}");
        let bad = FIXTURE.replacen("\"number\": \"7a\"", "\"number\": \"7\"", 1);
        let e = message(preview_draft(false, &bad, PreviewQuery::default()).unwrap_err());
        assert!(e.starts_with("agenda[7].number"), "{e}");
    }

    #[test]
    fn an_agenda_alone_takes_its_metadata_from_the_query() {
        let csv = "number,title\n1,Otwarcie sesji\n2,Zamknięcie sesji\n";
        let draft = preview_draft(true, csv, meta("XLVI Sesja", "Rada Miasta")).unwrap();
        assert_eq!(draft.title, "XLVI Sesja");
        assert_eq!(draft.place, None, "a blank field is absent");
        assert_eq!(draft.agenda.len(), 2);
        let e = message(preview_draft(true, csv, PreviewQuery::default()).unwrap_err());
        assert!(e.starts_with("body: "), "{e}");
        let e = message(preview_draft(true, "numer,tytuł\n1,\n", meta("T", "B")).unwrap_err());
        assert!(e.starts_with("line 2"), "{e}");
        let json = "\u{feff} [{\"number\": \"1\", \"title\": \"Otwarcie\"}]";
        let draft = preview_draft(false, json, meta("T", "B")).unwrap();
        assert_eq!(draft.agenda[0].title, "Otwarcie");
        let e = message(preview_draft(false, "[{\"number\": 1}]", meta("T", "B")).unwrap_err());
        assert!(e.starts_with("agenda[0].number"), "{e}");
    }

    #[test]
    fn csv_is_recognised_by_its_content_type() {
        let mut h = HeaderMap::new();
        assert!(!is_csv(&h));
        h.insert(
            header::CONTENT_TYPE,
            "Text/CSV; charset=utf-8".parse().unwrap(),
        );
        assert!(is_csv(&h));
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!is_csv(&h));
    }
}
