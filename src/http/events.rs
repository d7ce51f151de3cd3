//! `GET /api/v1/sessions/{id}/events`: a session's state as Server-Sent
//! Events, so the session page shows the item under discussion, the state
//! and the timeline as they change, without reloading.
//!
//! The stream sends an event `session` (a [`SessionEvent`] as JSON) at once
//! and again whenever the session changes, and a comment every 15 s so
//! proxies keep the connection open. Browsers' `EventSource` reconnects by
//! itself (`retry: 3000`) and gets the whole state again, so nothing is lost
//! across a reconnection.
//!
//! Changes are announced on an [`EventHub`] (a `broadcast` of session ids):
//! [`publish_changes`], a middleware around the whole router, publishes the
//! id of every `/api/v1/sessions/{id}[/...]` request that changes something
//! (any method but GET, HEAD, OPTIONS) and succeeded (2xx), so every
//! operator route (start, items, recess, non-public parts, stop, PATCH,
//! agenda), today's and tomorrow's, is covered in one place, after its
//! catalog transaction committed. A creation (`POST /api/v1/sessions`) is
//! published with the id from its `Location`. Code elsewhere that changes a
//! session (a console page) takes `Extension<EventHub>` and calls
//! [`EventHub::publish`].
//!
//! The hub lives in an axum `Extension` (see [`super::router`]); a router
//! built without it still answers, with streams that send the state once.
//! Streams end when every channel has ended (the server is stopping), so a
//! graceful shutdown never waits on a viewer's open stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, ErrorBody};
use crate::catalog::db::{MarkKind, SessionState, SessionView};

/// How often an idle stream sends a comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a browser waits before it reconnects a closed stream.
pub const RETRY: Duration = Duration::from_secs(3);
/// How often a stream looks whether the server is stopping.
const SHUTDOWN_POLL: Duration = Duration::from_millis(500);
/// Changes a slow stream may fall behind before it skips to the latest
/// state (which it then reloads: nothing is lost).
const CAPACITY: usize = 256;

/// Announces which session changed, to every open stream.
#[derive(Debug, Clone)]
pub struct EventHub {
    tx: broadcast::Sender<i64>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new()
    }
}

impl EventHub {
    pub fn new() -> EventHub {
        EventHub {
            tx: broadcast::channel(CAPACITY).0,
        }
    }

    /// Session `id` changed (its catalog transaction committed).
    pub fn publish(&self, id: i64) {
        // No stream open is not an error.
        let _ = self.tx.send(id);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.tx.subscribe()
    }
}

/// The SSE route, documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(session_events))
}

/// A timeline mark as the session page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EventMark {
    pub kind: MarkKind,
    /// The agenda item, for `item` marks.
    pub number: Option<String>,
    /// Wall-clock time in the council's time zone, `2025-11-26 09:05:03`.
    pub at: String,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
}

/// What the session page needs to follow a session: the texts for it are
/// the page's own (its message catalogue).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionEvent {
    pub id: i64,
    pub state: SessionState,
    /// A non-public part is open now.
    pub private: bool,
    /// The agenda item under discussion (the last one begun) while the
    /// session is live or paused; null before the first and after the end.
    pub current: Option<String>,
    /// Every mark, in order.
    pub timeline: Vec<EventMark>,
}

impl SessionEvent {
    pub fn of(s: &SessionView) -> SessionEvent {
        let current = if s.state == SessionState::Ended {
            None
        } else {
            s.timeline
                .iter()
                .rev()
                .find(|m| m.kind == MarkKind::Item)
                .and_then(|m| m.agenda_number.clone())
        };
        SessionEvent {
            id: s.id,
            state: s.state,
            private: s.private,
            current,
            timeline: s
                .timeline
                .iter()
                .map(|m| EventMark {
                    kind: m.kind,
                    number: m.agenda_number.clone(),
                    at: crate::pages::local_time(m.wall_ns, true),
                    reason: m.reason.clone(),
                    legal_basis: m.legal_basis.clone(),
                })
                .collect(),
        }
    }
}

fn session_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| ApiError::NotFound(format!("no session with id {raw:?}")))
}

fn event(data: &SessionEvent, first: bool) -> Event {
    let e = Event::default().event("session");
    let e = if first { e.retry(RETRY) } else { e };
    match serde_json::to_string(data) {
        Ok(json) => e.data(json),
        // Not reachable with these types; the page keeps what it shows.
        Err(_) => Event::default().comment("cannot serialize the session"),
    }
}

/// What one stream holds between events.
struct Feed {
    state: AppState,
    id: i64,
    rx: Option<broadcast::Receiver<i64>>,
    first: Option<SessionEvent>,
    last: Option<SessionEvent>,
    tick: tokio::time::Interval,
}

impl Feed {
    /// Every channel has ended: the server is stopping (or, briefly, every
    /// pipeline is restarting; the browser then reconnects in 3 s).
    fn stopping(&self) -> bool {
        !self.state.channels.is_empty() && self.state.channels.values().all(|c| c.is_ended())
    }

    /// The next event, or `None` to end the stream.
    async fn next(&mut self) -> Option<Event> {
        if let Some(first) = self.first.take() {
            let e = event(&first, true);
            self.last = Some(first);
            return Some(e);
        }
        loop {
            let reload = match self.rx.as_mut() {
                Some(rx) => tokio::select! {
                    r = rx.recv() => match r {
                        Ok(id) => id == self.id,
                        // Fell behind: whatever changed, the reload shows it.
                        Err(broadcast::error::RecvError::Lagged(_)) => true,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = self.tick.tick() => false,
                },
                // No hub: nothing will be announced; keep the stream open.
                None => {
                    self.tick.tick().await;
                    false
                }
            };
            if self.stopping() {
                return None;
            }
            if !reload {
                continue;
            }
            let id = self.id;
            match self.state.catalog(move |c| c.get_session(id)).await {
                Ok(s) => {
                    let now = SessionEvent::of(&s);
                    if self.last.as_ref() == Some(&now) {
                        continue;
                    }
                    let e = event(&now, false);
                    self.last = Some(now);
                    return Some(e);
                }
                Err(ApiError::NotFound(_)) => return None,
                Err(_) => {
                    // Logged by the catalog; the next change tries again.
                    continue;
                }
            }
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/events",
    tag = "sessions",
    operation_id = "session_events",
    summary = "Follow a session's state as Server-Sent Events",
    description = "A `text/event-stream`: an event `session` with the state, whether a \
        non-public part is open, the item under discussion and the timeline, sent at once and \
        again after every change of the session; a comment line every 15 s keeps the \
        connection open. Reconnect (EventSource does, after 3 s) to get the whole state \
        again. Public.",
    params(("id" = i64, Path, minimum = 1, description = "Session id")),
    responses(
        (status = 200, description = "The event stream; each event's data is a SessionEvent",
            body = SessionEvent, content_type = "text/event-stream"),
        (status = 404, description = "No such session", body = ErrorBody)
    )
)]
async fn session_events(
    State(state): State<AppState>,
    hub: Option<Extension<EventHub>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = session_id(&id)?;
    // Subscribe before reading, so a change in between is not missed.
    let rx = hub.map(|Extension(h)| h.subscribe());
    let session = state.catalog(move |c| c.get_session(id)).await?;
    let mut tick = tokio::time::interval(SHUTDOWN_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let feed = Feed {
        state,
        id,
        rx,
        first: Some(SessionEvent::of(&session)),
        last: None,
        tick,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let e = feed.next().await?;
        Some((Ok::<Event, Infallible>(e), feed))
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx would otherwise buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// The session a request to `path` is about: `/api/v1/sessions/{id}` and
/// anything under it.
pub fn session_of_path(path: &str) -> Option<i64> {
    let rest = path.strip_prefix("/api/v1/sessions/")?;
    let id = rest.split('/').next()?;
    // As the route sees it: percent-decoded.
    let id = percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .ok()?;
    id.parse::<i64>().ok().filter(|&id| id > 0)
}

/// Publishes the session a successful change was about (see the module
/// doc). Layered around the whole router with the hub as its state.
pub async fn publish_changes(
    State(hub): State<EventHub>,
    request: Request,
    next: Next,
) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let session = if changes {
        session_of_path(request.uri().path())
    } else {
        None
    };
    let creates = changes && request.uri().path() == "/api/v1/sessions";
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let created = || {
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(session_of_path)
    };
    match session {
        Some(id) => hub.publish(id),
        None if creates => {
            if let Some(id) = created() {
                hub.publish(id);
            }
        }
        None => {}
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_of_a_path() {
        assert_eq!(session_of_path("/api/v1/sessions/12"), Some(12));
        assert_eq!(
            session_of_path("/api/v1/sessions/12/items/7a/begin"),
            Some(12)
        );
        assert_eq!(session_of_path("/api/v1/sessions/0/start"), None);
        assert_eq!(session_of_path("/api/v1/sessions/x/start"), None);
        assert_eq!(session_of_path("/api/v1/sessions"), None);
        assert_eq!(session_of_path("/api/v1/sessionsX/1"), None);
    }

    #[test]
    fn the_stream_is_documented() {
        let doc = serde_json::to_value(crate::http::openapi()).expect("document");
        let op = &doc["paths"]["/api/v1/sessions/{id}/events"]["get"];
        assert_eq!(op["operationId"], "session_events");
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            op["responses"]["200"]["content"]["text/event-stream"].is_object(),
            "{op}"
        );
        assert_eq!(
            op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert_eq!(op["parameters"][0]["name"], "id");
        assert!(op.get("security").is_none(), "public");
        for schema in ["SessionEvent", "EventMark", "MarkKind", "SessionState"] {
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
        let ids = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
            .filter(|op| op["operationId"] == "session_events")
            .count();
        assert_eq!(ids, 1);
    }

    #[tokio::test]
    async fn a_hub_reaches_every_subscriber() {
        let hub = EventHub::new();
        hub.publish(1); // nobody listens: fine
        let (mut a, mut b) = (hub.subscribe(), hub.subscribe());
        hub.publish(7);
        assert_eq!(a.recv().await.ok(), Some(7));
        assert_eq!(b.recv().await.ok(), Some(7));
    }
}
