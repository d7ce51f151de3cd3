//! The residents' pages: home, a session, and the legal pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;

use super::{error_page, html, value, PageRequest, Pages};
use crate::archive::session::item_ranges;
use crate::catalog::db::{MarkKind, SessionState, SessionView};
use crate::http::AppState;

/// The time zone the pages show times in: the council's.
pub const TIME_ZONE: &str = "Europe/Warsaw";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sesje/{id}", get(session))
        .route("/prywatnosc", get(privacy))
        .route("/dostepnosc", get(accessibility))
}

type Q = Query<HashMap<String, String>>;

fn request(q: &Q, headers: &HeaderMap) -> PageRequest {
    PageRequest::from_parts(q.get("lang").map(String::as_str), headers)
}

/// `2025-11-26 09:05` in the council's time zone.
pub fn local_time(ns: i64, with_seconds: bool) -> String {
    let Ok(ts) = jiff::Timestamp::from_nanosecond(i128::from(ns)) else {
        return String::new();
    };
    let zoned = match jiff::tz::TimeZone::get(TIME_ZONE) {
        Ok(tz) => ts.to_zoned_datetime(tz),
        Err(_) => ts.to_zoned_datetime(jiff::tz::TimeZone::UTC),
    };
    let format = if with_seconds {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    };
    zoned.strftime(format).to_string()
}

/// `2025-11-26 09:00` from the RFC 3339 text the council office supplied.
fn scheduled(s: &Option<String>) -> Option<String> {
    let s = s.as_deref()?;
    let ts: jiff::Timestamp = s.parse().ok()?;
    Some(local_time(
        i64::try_from(ts.as_nanosecond()).unwrap_or(0),
        false,
    ))
}

/// A session as the pages show it.
#[derive(Debug, Serialize)]
struct SessionCard {
    id: i64,
    title: String,
    body: String,
    state: &'static str,
    scheduled: Option<String>,
    url: String,
}

fn card(
    id: i64,
    title: &str,
    body: &str,
    state: SessionState,
    start: &Option<String>,
) -> SessionCard {
    SessionCard {
        id,
        title: title.to_owned(),
        body: body.to_owned(),
        state: state.as_str(),
        scheduled: scheduled(start),
        url: format!("/sesje/{id}"),
    }
}

async fn home(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    let sessions = match state.catalog(|c| c.list_sessions()).await {
        Ok(s) => s,
        Err(e) => {
            return error_page(
                &pages,
                &req,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            )
        }
    };
    let cards = |want: &[SessionState]| -> Vec<SessionCard> {
        sessions
            .iter()
            .filter(|s| want.contains(&s.state))
            .map(|s| card(s.id, &s.title, &s.body, s.state, &s.scheduled_start))
            .collect()
    };
    let live = cards(&[SessionState::Live, SessionState::Paused]);
    let mut upcoming = cards(&[SessionState::Planned]);
    upcoming.sort_by(|a, b| a.scheduled.cmp(&b.scheduled));
    let recent: Vec<SessionCard> = cards(&[SessionState::Ended]).into_iter().take(10).collect();
    let stream = state
        .default_channel()
        .map(|c| format!("/live/{}/index.m3u8", c.id))
        .unwrap_or_default();
    html(
        &pages,
        &req,
        StatusCode::OK,
        "home.html",
        minijinja::context! {
            live => value(&live),
            upcoming => value(&upcoming),
            recent => value(&recent),
            stream,
            path => "/",
        },
    )
}

#[derive(Debug, Serialize)]
struct ItemView {
    number: String,
    title: String,
    resolution_draft: Option<String>,
    /// Taken up (has a recording).
    begun: bool,
    /// Under discussion now.
    current: bool,
    anchor: String,
    begun_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct MarkView {
    kind: &'static str,
    at: String,
    number: Option<String>,
    title: Option<String>,
    reason: Option<String>,
    legal_basis: Option<String>,
}

fn mark_kind(k: MarkKind) -> &'static str {
    match k {
        MarkKind::Start => "start",
        MarkKind::Item => "item",
        MarkKind::Recess => "recess",
        MarkKind::Resume => "resume",
        MarkKind::PrivateStart => "private_start",
        MarkKind::PrivateEnd => "private_end",
        MarkKind::Stop => "stop",
    }
}

/// The item under discussion: the last item mark, unless the session ended.
fn current_item(s: &SessionView) -> Option<String> {
    if s.state == SessionState::Ended {
        return None;
    }
    s.timeline
        .iter()
        .rev()
        .find(|m| m.kind == MarkKind::Item)
        .and_then(|m| m.agenda_number.clone())
}

async fn session(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    Path(id): Path<String>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    let not_found = || {
        error_page(
            &pages,
            &req,
            StatusCode::NOT_FOUND,
            &pages.text(req.lang, "error.no_session"),
        )
    };
    let Some(sid) = id.parse::<i64>().ok().filter(|&n| n > 0) else {
        return not_found();
    };
    let s = match state.catalog(move |c| c.get_session(sid)).await {
        Ok(s) => s,
        Err(crate::http::ApiError::NotFound(_)) => return not_found(),
        Err(e) => {
            return error_page(
                &pages,
                &req,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            )
        }
    };
    let ranges = item_ranges(&s.timeline, &s.agenda);
    let current = current_item(&s);
    let items: Vec<ItemView> = s
        .agenda
        .iter()
        .map(|a| {
            let first = ranges.iter().find(|r| r.number == a.number);
            ItemView {
                number: a.number.clone(),
                title: a.title.clone(),
                resolution_draft: a.resolution_draft.clone(),
                begun: first.is_some(),
                current: current.as_deref() == Some(a.number.as_str()),
                anchor: format!("punkt-{}", a.number),
                begun_at: first
                    .map(|r| local_time(i64::try_from(r.span.start_ns).unwrap_or(0), true)),
            }
        })
        .collect();
    let timeline: Vec<MarkView> = s
        .timeline
        .iter()
        .map(|m| MarkView {
            kind: mark_kind(m.kind),
            at: local_time(m.wall_ns, true),
            number: m.agenda_number.clone(),
            title: m
                .agenda_number
                .as_ref()
                .and_then(|n| s.agenda.iter().find(|a| &a.number == n))
                .map(|a| a.title.clone()),
            reason: m.reason.clone(),
            legal_basis: m.legal_basis.clone(),
        })
        .collect();
    let live = matches!(s.state, SessionState::Live | SessionState::Paused);
    let channel = s
        .channel
        .clone()
        .or_else(|| state.default_channel().map(|c| c.id.clone()));
    let live_stream = channel
        .as_ref()
        .filter(|_| live)
        .map(|c| format!("/live/{c}/index.m3u8"));
    let started = s.state != SessionState::Planned;
    html(
        &pages,
        &req,
        StatusCode::OK,
        "session.html",
        minijinja::context! {
            session => value(&card(s.id, &s.title, &s.body, s.state, &s.scheduled_start)),
            place => s.place,
            chair => s.chair,
            kind => s.kind,
            term => s.term,
            private => s.private,
            live,
            started,
            items => value(&items),
            timeline => value(&timeline),
            current,
            live_stream,
            vod => started.then(|| format!("/vod/sessions/{}/index.m3u8", s.id)),
            chapters => started.then(|| format!("/vod/sessions/{}/chapters.vtt", s.id)),
            downloads => format!("/vod/sessions/{}/download", s.id),
            path => format!("/sesje/{}", s.id),
        },
    )
}

async fn privacy(Extension(pages): Extension<Arc<Pages>>, q: Q, headers: HeaderMap) -> Response {
    let req = request(&q, &headers);
    html(
        &pages,
        &req,
        StatusCode::OK,
        "privacy.html",
        minijinja::context! { path => "/prywatnosc" },
    )
}

async fn accessibility(
    Extension(pages): Extension<Arc<Pages>>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    html(
        &pages,
        &req,
        StatusCode::OK,
        "accessibility.html",
        minijinja::context! { path => "/dostepnosc" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_the_councils_zone() {
        // 2025-11-26T08:05:00Z is 09:05 in Warsaw (CET, UTC+1).
        assert_eq!(
            local_time(1_764_144_300_000_000_000, false),
            "2025-11-26 09:05"
        );
        assert_eq!(
            scheduled(&Some("2025-11-26T09:00:00+01:00".into())).as_deref(),
            Some("2025-11-26 09:00")
        );
        assert_eq!(scheduled(&Some("nonsense".into())), None);
    }
}
