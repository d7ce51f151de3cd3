//! The residents' pages: home, a session, and the legal pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;

use super::{error_page, html, percent_encode, public_base, value, PageRequest, Pages};
use crate::archive::session::item_ranges;
use crate::catalog::db::{MarkKind, SessionState, SessionView, SourceEvent};
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

pub(super) type Q = Query<HashMap<String, String>>;

pub(super) fn request(q: &Q, headers: &HeaderMap) -> PageRequest {
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
pub(super) fn scheduled(s: &Option<String>) -> Option<String> {
    let s = s.as_deref()?;
    let ts: jiff::Timestamp = s.parse().ok()?;
    Some(local_time(
        i64::try_from(ts.as_nanosecond()).unwrap_or(0),
        false,
    ))
}

/// A session as the pages show it.
#[derive(Debug, Serialize)]
pub(super) struct SessionCard {
    id: i64,
    title: String,
    body: String,
    state: &'static str,
    scheduled: Option<String>,
    url: String,
}

pub(super) fn card(
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
            // Only ended sessions can be withdrawn; those are not shown.
            .filter(|s| want.contains(&s.state) && s.published)
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

/// A span during which one camera was replaced by the failover slate
/// ("Przerwa techniczna"), from the session's source events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct OutageView {
    /// The camera's configured name; `None` for the channel's main source.
    pub input: Option<String>,
    pub from: String,
    /// `None` while it lasts (or if the session ended first).
    pub to: Option<String>,
    /// Whole seconds, when it ended.
    pub seconds: Option<i64>,
    /// Why it was lost, in the watchdog's words.
    pub reason: Option<String>,
}

/// Pairs each camera's losses with its returns, in time order.
pub(super) fn outages(events: &[SourceEvent]) -> Vec<OutageView> {
    let mut out: Vec<(i64, i64, OutageView)> = Vec::new();
    for e in events {
        let open = out
            .iter_mut()
            .rev()
            .find(|(input, _, o)| *input == e.input && o.to.is_none());
        match (e.kind.as_str(), open) {
            ("lost", None) => out.push((
                e.input,
                e.wall_ns,
                OutageView {
                    input: e.input_name.clone(),
                    from: local_time(e.wall_ns, true),
                    to: None,
                    seconds: None,
                    reason: e.reason.clone(),
                },
            )),
            ("back", Some((_, from_ns, o))) => {
                o.to = Some(local_time(e.wall_ns, true));
                o.seconds = Some(((e.wall_ns - *from_ns) as f64 / 1e9).round() as i64);
            }
            // A second loss without a return, or a return without a loss
            // (the session began during the outage): nothing to pair.
            _ => {}
        }
    }
    out.into_iter().map(|(_, _, o)| o).collect()
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

/// Why a session page cannot be shown.
pub(super) enum Missing {
    NotFound,
    Failed(String),
    /// The recording was withdrawn from publication, for this reason.
    Withdrawn(String),
}

impl Missing {
    pub(super) fn page(&self, pages: &Pages, req: &PageRequest) -> Response {
        match self {
            Missing::NotFound => error_page(
                pages,
                req,
                StatusCode::NOT_FOUND,
                &pages.text(req.lang, "error.no_session"),
            ),
            Missing::Failed(e) => error_page(pages, req, StatusCode::INTERNAL_SERVER_ERROR, e),
            Missing::Withdrawn(reason) => error_page(
                pages,
                req,
                StatusCode::GONE,
                &format!("{} {reason}", pages.text(req.lang, "session.withdrawn")),
            ),
        }
    }
}

/// What the session page and the embedded player show of a session.
#[derive(Debug, Serialize)]
pub(super) struct SessionPage {
    session: SessionCard,
    place: Option<String>,
    chair: Option<String>,
    kind: Option<String>,
    term: Option<String>,
    private: bool,
    live: bool,
    started: bool,
    items: Vec<ItemView>,
    timeline: Vec<MarkView>,
    /// When a camera was replaced by the failover slate.
    outages: Vec<OutageView>,
    current: Option<String>,
    live_stream: Option<String>,
    vod: Option<String>,
    chapters: Option<String>,
    downloads: String,
    /// The session's Server-Sent Events (`/api/v1/sessions/{id}/events`).
    events: String,
    /// The page's own path, `/sesje/{id}`.
    path: String,
    embed: String,
    /// Why the recording was withdrawn from publication, while it is (only
    /// logged-in visitors see such a page, see [`public_session`]).
    withdrawn: Option<String>,
}

/// [`load_session`] for the public pages: a session whose recording is
/// withdrawn is `Missing::Withdrawn` (410) unless the visitor is logged in.
pub(super) async fn public_session(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
) -> Result<SessionPage, Missing> {
    let page = load_session(state, id).await?;
    match &page.withdrawn {
        Some(reason) if !crate::http::after::signed_in(state, headers).await => {
            Err(Missing::Withdrawn(reason.clone()))
        }
        _ => Ok(page),
    }
}

/// Reads session `id` (the raw path segment) for [`SessionPage`].
pub(super) async fn load_session(state: &AppState, id: &str) -> Result<SessionPage, Missing> {
    let Some(sid) = id.parse::<i64>().ok().filter(|&n| n > 0) else {
        return Err(Missing::NotFound);
    };
    let s = match state.catalog(move |c| c.get_session(sid)).await {
        Ok(s) => s,
        Err(crate::http::ApiError::NotFound(_)) => return Err(Missing::NotFound),
        Err(e) => return Err(Missing::Failed(e.to_string())),
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
    Ok(SessionPage {
        session: card(s.id, &s.title, &s.body, s.state, &s.scheduled_start),
        place: s.place,
        chair: s.chair,
        kind: s.kind,
        term: s.term,
        private: s.private,
        live,
        started,
        items,
        timeline,
        outages: outages(&s.source_events),
        current,
        live_stream,
        vod: started.then(|| format!("/vod/sessions/{}/index.m3u8", s.id)),
        chapters: started.then(|| format!("/vod/sessions/{}/chapters.vtt", s.id)),
        downloads: format!("/vod/sessions/{}/download", s.id),
        events: format!("/api/v1/sessions/{}/events", s.id),
        path: format!("/sesje/{}", s.id),
        embed: format!("/embed/sesje/{}", s.id),
        withdrawn: s.withdrawal.map(|w| w.reason),
    })
}

async fn session(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    Path(id): Path<String>,
    q: Q,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let req = request(&q, &headers);
    let page = match public_session(&state, &id, &headers).await {
        Ok(p) => p,
        Err(m) => return m.page(&pages, &req),
    };
    // oEmbed discovery needs absolute URLs (see `public_base`).
    let oembed = public_base(&headers, &uri).map(|base| {
        format!(
            "{base}/oembed?url={}&format=json",
            percent_encode(&format!("{base}{}", page.path))
        )
    });
    html(
        &pages,
        &req,
        StatusCode::OK,
        "session.html",
        minijinja::context! { oembed, ..value(&page) },
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
    #[test]
    fn outages_pair_each_cameras_loss_with_its_return() {
        let e = |input: i64, kind: &str, s: i64| SourceEvent {
            channel: "main".into(),
            input,
            input_name: (input > 0).then(|| format!("kamera {input}")),
            kind: kind.into(),
            reason: (kind == "lost").then(|| "end of stream".to_owned()),
            wall_ns: 1_764_145_200_000_000_000 + s * 1_000_000_000,
        };
        let got = outages(&[
            e(0, "back", 0), // the session began during an outage
            e(0, "lost", 10),
            e(1, "lost", 12),
            e(0, "back", 43),
            e(0, "lost", 100),
            e(1, "back", 200),
        ]);
        let seen: Vec<_> = got
            .iter()
            .map(|o| {
                (
                    o.input.as_deref(),
                    o.from.as_str(),
                    o.to.as_deref(),
                    o.seconds,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    None,
                    "2025-11-26 09:20:10",
                    Some("2025-11-26 09:20:43"),
                    Some(33)
                ),
                (
                    Some("kamera 1"),
                    "2025-11-26 09:20:12",
                    Some("2025-11-26 09:23:20"),
                    Some(188)
                ),
                (None, "2025-11-26 09:21:40", None, None),
            ]
        );
        assert_eq!(got[0].reason.as_deref(), Some("end of stream"));
    }

    use super::*;
    use crate::pages::i18n::Lang;

    fn sample_page(live: bool) -> SessionPage {
        let item = |n: &str, begun: bool, current: bool| ItemView {
            number: n.into(),
            title: format!("Punkt <{n}> & \"uchwała\""),
            resolution_draft: None,
            begun,
            current,
            anchor: format!("punkt-{n}"),
            begun_at: begun.then(|| "2025-11-26 09:05:00".to_owned()),
        };
        SessionPage {
            session: card(
                7,
                "XLV Sesja",
                "Rada Miasta",
                if live {
                    SessionState::Live
                } else {
                    SessionState::Ended
                },
                &None,
            ),
            place: None,
            chair: None,
            kind: None,
            term: Some("IX kadencja".into()),
            private: false,
            live,
            started: true,
            items: vec![
                item("1", true, false),
                item("7a", true, live),
                item("8", false, false),
            ],
            timeline: vec![MarkView {
                kind: "start",
                at: "2025-11-26 09:00:00".into(),
                number: None,
                title: None,
                reason: None,
                legal_basis: None,
            }],
            outages: vec![OutageView {
                input: Some("mównica".into()),
                from: "2025-11-26 09:10:00".into(),
                to: Some("2025-11-26 09:10:33".into()),
                seconds: Some(33),
                reason: Some("no data for 2.0 s".into()),
            }],
            current: live.then(|| "7a".to_owned()),
            live_stream: live.then(|| "/live/main/index.m3u8".to_owned()),
            vod: Some("/vod/sessions/7/index.m3u8".into()),
            chapters: Some("/vod/sessions/7/chapters.vtt".into()),
            downloads: "/vod/sessions/7/download".into(),
            events: "/api/v1/sessions/7/events".into(),
            path: "/sesje/7".into(),
            embed: "/embed/sesje/7".into(),
            withdrawn: None,
        }
    }

    #[test]
    fn the_session_page_and_its_embed_render_in_both_languages() {
        let pages =
            Pages::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")).unwrap();
        for lang in Lang::ALL {
            for live in [true, false] {
                let page = sample_page(live);
                let oembed = Some("http://h/oembed?url=http%3A%2F%2Fh%2Fsesje%2F7&format=json");
                let html = pages
                    .render(
                        "session.html",
                        lang,
                        minijinja::context! { oembed, ..value(&page) },
                    )
                    .unwrap();
                assert!(html.contains("type=\"application/json+oembed\" href=\"http://h/oembed?url=http%3A%2F%2Fh%2Fsesje%2F7&amp;format=json\""), "{html}");
                assert!(html.contains("data-chapters=\"/vod/sessions/7/chapters.vtt\""));
                assert!(html.contains("data-events=\"/api/v1/sessions/7/events\""));
                assert!(html.contains("<script src=\"/session.js\" defer></script>"));
                assert!(html.contains("href=\"#punkt-7a\" data-number=\"7a\""));
                assert!(html.contains("Punkt &lt;7a&gt; &amp; &quot;uchwała&quot;"));
                assert_eq!(html.contains("data-mode=\"vod\""), !live, "{html}");
                assert_eq!(html.contains("aria-current=\"true\""), live);
                // No download links for an item not taken up.
                assert!(!html.contains("/items/8.mp4"));
                let embed = pages
                    .render("embed_session.html", lang, value(&page))
                    .unwrap();
                assert!(embed.contains(&format!("<html lang=\"{}\" class=\"embed\">", lang.code())));
                assert!(
                    embed.contains("class=\"agenda chapter-menu\"")
                        && embed.contains("id=\"texts\"")
                );
                assert!(embed.contains("href=\"#punkt-1\""));
            }
        }
    }

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
