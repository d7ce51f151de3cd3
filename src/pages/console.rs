//! The operator's console: `/logowanie` (log in), `/konsola` (the sessions,
//! a new session from an agenda file, checked before it is saved) and
//! `/konsola/sesje/{id}` (running one session: start, items, recess,
//! non-public parts, stop; a live preview and the channel's health).
//!
//! The pages are rendered here; every change goes through the JSON API
//! (`web/console.js` sends it with the CSRF token from `GET /api/v1/me`),
//! so the console can do nothing a script with the same role could not.
//!
//! Who may see the console is decided on the server, with the same
//! [`Actor`] extractor the API uses (a GET needs no CSRF token): without a
//! login, or with a role that cannot run sessions, the console pages
//! redirect to `/logowanie?next=...`, which says why.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;

use super::views::{local_time, outages, TIME_ZONE};
use super::{error_page, html, value, PageRequest, Pages};
use crate::catalog::db::{MarkKind, SessionState, SessionSummary, SessionView};
use crate::catalog::users::{Role, User};
use crate::http::auth::Actor;
use crate::http::{ApiError, AppState};
use crate::live::{RenditionInfo, RenditionKind};

/// Where the console sends an operator after logging in, unless `?next=`
/// says otherwise.
pub const CONSOLE_HOME: &str = "/konsola";
/// The login page.
pub const LOGIN_PAGE: &str = "/logowanie";
/// What the non-public part dialog suggests as the legal basis.
pub const DEFAULT_LEGAL_BASIS: &str = "art. 61 ust. 3 Konstytucji RP";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(LOGIN_PAGE, get(login_page).post(login_without_script))
        .route(CONSOLE_HOME, get(console_home))
        .route("/konsola/sesje/{id}", get(console_session))
}

type Q = Query<HashMap<String, String>>;

fn request(q: &Q, headers: &HeaderMap) -> PageRequest {
    PageRequest::from_parts(q.get("lang").map(String::as_str), headers)
}

/// `next` if it is a path on this site, else the console: never another
/// host (`//evil.example`, `/\evil.example`, `https://...`), never a
/// control character.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next.map(str::trim) else {
        return CONSOLE_HOME.to_owned();
    };
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2000
        // Logging in to land on the login page again helps no one.
        && next != LOGIN_PAGE
        && !next.starts_with("/logowanie?");
    if local {
        next.to_owned()
    } else {
        CONSOLE_HOME.to_owned()
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `/`.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The login page's URL that comes back to `path` (with its query).
pub fn login_url(path: &str) -> String {
    format!(
        "{LOGIN_PAGE}?next={}",
        encode_component(&safe_next(Some(path)))
    )
}

/// Why a console page is not shown.
#[derive(Debug)]
enum Denied {
    /// Not logged in, the login has expired, or the role cannot run
    /// sessions: log in (again, or as someone else).
    Login,
    /// The check itself failed (the catalog).
    Failed(ApiError),
}

/// The user, if they may use the console (operator or admin).
fn operator(actor: Result<Actor, ApiError>) -> Result<User, Denied> {
    match actor {
        Ok(a) if a.user.role.allows(Role::Operator) => Ok(a.user),
        Ok(_) | Err(ApiError::Unauthorized(_) | ApiError::Forbidden(_)) => Err(Denied::Login),
        Err(e) => Err(Denied::Failed(e)),
    }
}

fn denied(pages: &Pages, req: &PageRequest, why: Denied, path: &str) -> Response {
    match why {
        Denied::Login => no_store(Redirect::to(&login_url(path)).into_response()),
        Denied::Failed(e) => {
            tracing::error!(error = %e, "cannot check who is asking for a console page");
            error_page(
                pages,
                req,
                StatusCode::INTERNAL_SERVER_ERROR,
                &pages.text(req.lang, "error.internal"),
            )
        }
    }
}

/// The texts of the console's script: the keys `console.js.*`, without
/// the prefix (only the console's pages carry them).
fn console_texts(pages: &Pages, req: &PageRequest) -> std::collections::BTreeMap<String, String> {
    pages.texts.with_prefix(req.lang, "console.js.")
}

/// Console pages depend on who asks: never stored by a cache.
fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[derive(Debug, Serialize)]
struct UserView {
    username: String,
    role: &'static str,
}

fn user_view(u: &User) -> UserView {
    UserView {
        username: u.username.clone(),
        role: u.role.as_str(),
    }
}

// ---------------------------------------------------------------------------
// /logowanie

async fn login_page(
    Extension(pages): Extension<Arc<Pages>>,
    actor: Result<Actor, ApiError>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    login_response(&pages, &req, actor, &q, false)
}

/// The form posted without JavaScript (the page's script sends JSON to
/// `/api/v1/login` instead): the same page, saying that the console needs
/// JavaScript. The password is not read.
async fn login_without_script(
    Extension(pages): Extension<Arc<Pages>>,
    actor: Result<Actor, ApiError>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    login_response(&pages, &req, actor, &q, true)
}

fn login_response(
    pages: &Pages,
    req: &PageRequest,
    actor: Result<Actor, ApiError>,
    q: &Q,
    posted: bool,
) -> Response {
    let user = actor.ok().map(|a| a.user);
    let can_operate = user.as_ref().is_some_and(|u| u.role.allows(Role::Operator));
    let next = safe_next(q.get("next").map(String::as_str));
    // Staff may go on to the staff pages, not to the console.
    let can_operate = can_operate || (user.is_some() && next.starts_with("/pracownicy"));
    let status = if posted {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    no_store(html(
        pages,
        req,
        status,
        "login.html",
        minijinja::context! {
            next,
            user => user.as_ref().map(|u| value(&user_view(u))),
            can_operate,
            posted,
            console_texts => console_texts(pages, req),
            path => LOGIN_PAGE,
        },
    ))
}

// ---------------------------------------------------------------------------
// /konsola

/// A session in the console's list.
#[derive(Debug, Serialize)]
struct SessionRow {
    id: i64,
    title: String,
    body: String,
    state: &'static str,
    scheduled: Option<String>,
    console_url: String,
    public_url: String,
    /// For [`console_order`].
    #[serde(skip)]
    order: (u8, i128),
}

impl SessionRow {
    fn new(s: &SessionSummary) -> SessionRow {
        SessionRow {
            id: s.id,
            title: s.title.clone(),
            body: s.body.clone(),
            state: s.state.as_str(),
            scheduled: scheduled_display(s.scheduled_start.as_deref()),
            console_url: format!("/konsola/sesje/{}", s.id),
            public_url: format!("/sesje/{}", s.id),
            order: order_key(s.state, s.scheduled_start.as_deref(), s.created_at),
        }
    }
}

/// The order the console lists sessions in: running ones first, then the
/// planned ones (soonest first, unscheduled last, newest first), then the
/// ended ones (most recently created first).
fn order_key(state: SessionState, scheduled_start: Option<&str>, created_at: i64) -> (u8, i128) {
    let newest_first = -i128::from(created_at);
    match state {
        SessionState::Live | SessionState::Paused => (0, newest_first),
        SessionState::Planned => {
            match scheduled_start.and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
                Some(ts) => (1, ts.as_nanosecond()),
                None => (2, newest_first),
            }
        }
        SessionState::Ended => (3, newest_first),
    }
}

fn console_order(rows: &mut [SessionRow]) {
    rows.sort_by_key(|r| r.order);
}

/// `2025-11-26 09:00` from the RFC 3339 text the council office supplied.
fn scheduled_display(s: Option<&str>) -> Option<String> {
    let ts: jiff::Timestamp = s?.parse().ok()?;
    Some(local_time(
        i64::try_from(ts.as_nanosecond()).unwrap_or(0),
        false,
    ))
}

/// The value of an `<input type="datetime-local">` for an RFC 3339 time:
/// `2025-11-26T09:00`, in the council's time zone.
fn datetime_local(s: Option<&str>) -> String {
    let Some(ts) = s.and_then(|s| s.parse::<jiff::Timestamp>().ok()) else {
        return String::new();
    };
    let tz = jiff::tz::TimeZone::get(TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned_datetime(tz)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

async fn console_home(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    actor: Result<Actor, ApiError>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    let user = match operator(actor) {
        Ok(u) => u,
        Err(why) => {
            let path = match q.get("utworzono") {
                Some(id) => format!("{CONSOLE_HOME}?utworzono={}", encode_component(id)),
                None => CONSOLE_HOME.to_owned(),
            };
            return denied(&pages, &req, why, &path);
        }
    };
    let sessions = match state.catalog(|c| c.list_sessions()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot list the sessions for the console");
            return error_page(
                &pages,
                &req,
                StatusCode::INTERNAL_SERVER_ERROR,
                &pages.text(req.lang, "error.internal"),
            );
        }
    };
    // The body of the newest session: what a new one most likely has.
    let last_body = sessions
        .iter()
        .max_by_key(|s| s.created_at)
        .map(|s| s.body.clone())
        .unwrap_or_default();
    let created = q
        .get("utworzono")
        .and_then(|id| id.parse::<i64>().ok())
        .and_then(|id| sessions.iter().find(|s| s.id == id))
        .map(|s| minijinja::context! { id => s.id, title => s.title.clone() });
    let mut rows: Vec<SessionRow> = sessions.iter().map(SessionRow::new).collect();
    console_order(&mut rows);
    no_store(html(
        &pages,
        &req,
        StatusCode::OK,
        "console.html",
        minijinja::context! {
            user => value(&user_view(&user)),
            sessions => value(&rows),
            created,
            last_body,
            console_data => value(&ConsoleData::home()),
            console_texts => console_texts(&pages, &req),
            path => CONSOLE_HOME,
        },
    ))
}

// ---------------------------------------------------------------------------
// /konsola/sesje/{id}

/// What the banner says: the state, with a non-public part above all.
pub fn display_state(state: SessionState, private: bool) -> &'static str {
    match state {
        SessionState::Planned => "planned",
        SessionState::Ended => "ended",
        _ if private => "private",
        SessionState::Live => "live",
        SessionState::Paused => "paused",
    }
}

/// The key of [`allowed_actions`] for the JavaScript's table.
fn action_key(state: SessionState, private: bool) -> String {
    if private && matches!(state, SessionState::Live | SessionState::Paused) {
        format!("{}+private", state.as_str())
    } else {
        state.as_str().to_owned()
    }
}

/// The console's actions the catalog's state machine allows now (the
/// buttons that are enabled): `start`, `begin-item` (and `next-item`),
/// `recess`, `resume`, `private-begin`, `private-end`, `stop`, and
/// `replace-agenda` (a new agenda file).
pub fn allowed_actions(state: SessionState, private: bool) -> &'static [&'static str] {
    match (state, private) {
        (SessionState::Planned, _) => &["start", "replace-agenda"],
        (SessionState::Live, false) => {
            &["begin-item", "next-item", "recess", "private-begin", "stop"]
        }
        (SessionState::Live, true) => &["begin-item", "next-item", "recess", "private-end"],
        (SessionState::Paused, false) => &["resume", "stop", "replace-agenda"],
        (SessionState::Paused, true) => &["resume", "private-end", "replace-agenda"],
        (SessionState::Ended, _) => &[],
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

/// The item `n` begins: the one after the current item in agenda order,
/// or the first when none has begun; `None` after the last.
pub fn next_item(agenda: &[String], current: Option<&str>) -> Option<String> {
    match current {
        None => agenda.first().cloned(),
        Some(c) => {
            let at = agenda.iter().position(|n| n == c)?;
            agenda.get(at + 1).cloned()
        }
    }
}

/// The video rendition with the lowest bitrate (then the smallest
/// picture): the preview costs the operator's laptop least.
pub fn lowest_video(renditions: &[RenditionInfo]) -> Option<&str> {
    renditions
        .iter()
        .filter_map(|r| match r.kind {
            RenditionKind::Video {
                bitrate_kbps,
                height,
                ..
            } => Some(((bitrate_kbps, height), r.name.as_str())),
            RenditionKind::Audio { .. } => None,
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, name)| name)
}

#[derive(Debug, Serialize)]
struct ConsoleItem {
    number: String,
    title: String,
    resolution_draft: Option<String>,
    begun: bool,
    current: bool,
    begun_at: Option<String>,
}

#[derive(Debug, Serialize)]
struct ConsoleMark {
    kind: &'static str,
    at: String,
    number: Option<String>,
    reason: Option<String>,
    legal_basis: Option<String>,
    actor: String,
}

/// An item begun, as the "after a session" form shows it.
#[derive(Debug, Serialize)]
struct ConsoleCorrection {
    seq: i64,
    number: String,
    title: String,
    /// Its start, "HH:MM:SS" in the council's zone.
    time: String,
    corrected: bool,
}

/// What the console's script needs, as JSON in the page.
#[derive(Debug, Serialize)]
struct ConsoleData {
    page: &'static str,
    /// The allowed actions by `state` or `state+private`.
    actions: HashMap<String, &'static [&'static str]>,
    time_zone: &'static str,
    default_legal_basis: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<SessionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<String>,
}

impl ConsoleData {
    fn actions() -> HashMap<String, &'static [&'static str]> {
        let mut m = HashMap::new();
        for state in [
            SessionState::Planned,
            SessionState::Live,
            SessionState::Paused,
            SessionState::Ended,
        ] {
            for private in [false, true] {
                m.insert(action_key(state, private), allowed_actions(state, private));
            }
        }
        m
    }

    fn home() -> ConsoleData {
        ConsoleData {
            page: "home",
            actions: Self::actions(),
            time_zone: TIME_ZONE,
            default_legal_basis: DEFAULT_LEGAL_BASIS,
            session: None,
            channel: None,
            stream: None,
            events: None,
        }
    }
}

async fn console_session(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    actor: Result<Actor, ApiError>,
    Path(id): Path<String>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    let user = match operator(actor) {
        Ok(u) => u,
        Err(why) => {
            let path = format!("/konsola/sesje/{}", encode_component(&id));
            return denied(&pages, &req, why, &path);
        }
    };
    let not_found = || {
        error_page(
            &pages,
            &req,
            StatusCode::NOT_FOUND,
            &pages.text(req.lang, "console.no_session"),
        )
    };
    let Some(sid) = id.parse::<i64>().ok().filter(|&n| n > 0) else {
        return not_found();
    };
    let s = match state.catalog(move |c| c.get_session(sid)).await {
        Ok(s) => s,
        Err(ApiError::NotFound(_)) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a session for the console");
            return error_page(
                &pages,
                &req,
                StatusCode::INTERNAL_SERVER_ERROR,
                &pages.text(req.lang, "error.internal"),
            );
        }
    };
    let channel_id = state.session_channel_id(&s);
    let channel = channel_id.as_ref().and_then(|c| state.channels.get(c));
    let on = ChannelInfo {
        id: channel_id.clone(),
        name: channel.map(|c| c.name.clone()),
        stream: channel.and_then(|c| {
            lowest_video(&c.renditions).map(|r| format!("/live/{}/{r}/index.m3u8", c.id))
        }),
    };
    no_store(html(
        &pages,
        &req,
        StatusCode::OK,
        "console_session.html",
        minijinja::context! {
            console_texts => console_texts(&pages, &req),
            ..session_context(&s, &user, on)
        },
    ))
}

/// The channel a session is (or will be) on, as the console shows it.
#[derive(Debug, Default)]
struct ChannelInfo {
    id: Option<String>,
    name: Option<String>,
    /// The preview: the lowest video rendition's live playlist.
    stream: Option<String>,
}

/// The console page of session `s`.
fn session_context(s: &SessionView, user: &User, on: ChannelInfo) -> minijinja::Value {
    let current = current_item(s);
    let numbers: Vec<String> = s.agenda.iter().map(|a| a.number.clone()).collect();
    let next = next_item(&numbers, current.as_deref());
    let items: Vec<ConsoleItem> = s
        .agenda
        .iter()
        .map(|a| {
            let first = s.timeline.iter().find(|m| {
                m.kind == MarkKind::Item && m.agenda_number.as_deref() == Some(&a.number)
            });
            ConsoleItem {
                number: a.number.clone(),
                title: a.title.clone(),
                resolution_draft: a.resolution_draft.clone(),
                begun: first.is_some(),
                current: current.as_deref() == Some(a.number.as_str()),
                begun_at: first.map(|m| local_time(m.wall_ns, true)),
            }
        })
        .collect();
    let timeline: Vec<ConsoleMark> = s
        .timeline
        .iter()
        .map(|m| ConsoleMark {
            kind: m.kind.as_str(),
            at: local_time(m.wall_ns, true),
            number: m.agenda_number.clone(),
            reason: m.reason.clone(),
            legal_basis: m.legal_basis.clone(),
            actor: m.actor.clone(),
        })
        .collect();
    // After a session: every item begun, with its start as a time of day.
    let corrections: Vec<ConsoleCorrection> = s
        .timeline
        .iter()
        .filter(|m| m.kind == MarkKind::Item)
        .map(|m| ConsoleCorrection {
            seq: m.seq,
            number: m.agenda_number.clone().unwrap_or_default(),
            title: m
                .agenda_number
                .as_ref()
                .and_then(|n| s.agenda.iter().find(|a| &a.number == n))
                .map(|a| a.title.clone())
                .unwrap_or_default(),
            time: local_time(m.wall_ns, true)
                .get(11..)
                .unwrap_or_default()
                .to_owned(),
            corrected: m.recorded_wall_ns.is_some(),
        })
        .collect();
    let can_correct = matches!(s.state, SessionState::Paused | SessionState::Ended);
    let title_of = |n: &Option<String>| {
        n.as_ref()
            .and_then(|n| s.agenda.iter().find(|a| &a.number == n))
            .map(|a| a.title.clone())
    };
    let data = ConsoleData {
        page: "session",
        session: Some(s.clone()),
        channel: on.id.clone(),
        stream: on.stream.clone(),
        events: Some(format!("/api/v1/sessions/{}/events", s.id)),
        ..ConsoleData::home()
    };
    minijinja::context! {
        user => value(&user_view(user)),
        session => minijinja::context! {
            id => s.id,
            title => s.title.clone(),
            body => s.body.clone(),
            kind => s.kind.clone(),
            term => s.term.clone(),
            place => s.place.clone(),
            chair => s.chair.clone(),
            scheduled => scheduled_display(s.scheduled_start.as_deref()),
            scheduled_local => datetime_local(s.scheduled_start.as_deref()),
            state => s.state.as_str(),
            private => s.private,
        },
        display_state => display_state(s.state, s.private),
        allowed => allowed_actions(s.state, s.private).to_vec(),
        items => value(&items),
        timeline => value(&timeline),
        outages => value(&outages(&s.source_events)),
        current_title => title_of(&current),
        current,
        next_title => title_of(&next),
        next,
        channel => on.id,
        channel_name => on.name,
        stream => on.stream,
        default_legal_basis => DEFAULT_LEGAL_BASIS,
        console_data => value(&data),
        path => format!("/konsola/sesje/{}", s.id),
        published => s.published,
        withdrawn_reason => s.withdrawal.as_ref().map(|w| w.reason.clone()),
        can_unpublish => s.state == SessionState::Ended,
        can_correct,
        corrections => value(&corrections),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path as FsPath;

    use crate::pages::i18n::Lang;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(None), "/konsola");
        assert_eq!(safe_next(Some("/konsola/sesje/3")), "/konsola/sesje/3");
        assert_eq!(
            safe_next(Some("/konsola?utworzono=4")),
            "/konsola?utworzono=4"
        );
        for bad in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "konsola",
            "/a\nb",
            "",
            "/logowanie",
            "/logowanie?next=/x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/konsola", "{bad:?}");
        }
        assert_eq!(
            login_url("/konsola/sesje/3?x=1&y=ż"),
            "/logowanie?next=/konsola/sesje/3%3Fx%3D1%26y%3D%C5%BC"
        );
    }

    #[test]
    fn only_operators_and_admins_get_the_console() {
        let user = |role| User {
            id: 1,
            username: "anna".into(),
            role,
        };
        let actor = |role| {
            // An Actor can only be made by its extractor; check the rule it feeds.
            user(role).role.allows(Role::Operator)
        };
        assert!(actor(Role::Admin) && actor(Role::Operator) && !actor(Role::Staff));
        assert!(matches!(
            operator(Err(ApiError::Unauthorized("log in".into()))),
            Err(Denied::Login)
        ));
        assert!(matches!(
            operator(Err(ApiError::Internal)),
            Err(Denied::Failed(ApiError::Internal))
        ));
    }

    #[test]
    fn the_buttons_follow_the_state_machine() {
        use SessionState::*;
        assert_eq!(allowed_actions(Planned, false), ["start", "replace-agenda"]);
        assert!(allowed_actions(Live, false).contains(&"private-begin"));
        assert!(allowed_actions(Live, false).contains(&"stop"));
        // A non-public part must end before the session can stop.
        assert!(!allowed_actions(Live, true).contains(&"stop"));
        assert!(!allowed_actions(Paused, true).contains(&"stop"));
        assert!(allowed_actions(Paused, true).contains(&"private-end"));
        assert!(!allowed_actions(Paused, false).contains(&"begin-item"));
        assert!(allowed_actions(Ended, false).is_empty());
        assert_eq!(display_state(Live, true), "private");
        assert_eq!(display_state(Paused, true), "private");
        assert_eq!(display_state(Paused, false), "paused");
        assert_eq!(display_state(Ended, false), "ended");
        assert_eq!(action_key(Live, true), "live+private");
        assert_eq!(action_key(Ended, true), "ended");
        assert_eq!(ConsoleData::actions().len(), 6);
    }

    #[test]
    fn next_item_follows_the_agenda() {
        let agenda: Vec<String> = ["1", "7", "7a", "8"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(next_item(&agenda, None).as_deref(), Some("1"));
        assert_eq!(next_item(&agenda, Some("7")).as_deref(), Some("7a"));
        assert_eq!(next_item(&agenda, Some("8")), None);
        assert_eq!(next_item(&agenda, Some("99")), None);
        assert_eq!(next_item(&[], None), None);
    }

    #[test]
    fn the_preview_plays_the_lowest_video_rendition() {
        let video = |name: &str, kbps, height| RenditionInfo {
            name: name.into(),
            kind: RenditionKind::Video {
                width: height * 16 / 9,
                height,
                bitrate_kbps: kbps,
                framerate: 25,
            },
        };
        let audio = RenditionInfo {
            name: "audio".into(),
            kind: RenditionKind::Audio { bitrate_kbps: 64 },
        };
        let ladder = [
            video("720p", 2500, 720),
            audio.clone(),
            video("360p", 800, 360),
        ];
        assert_eq!(lowest_video(&ladder), Some("360p"));
        assert_eq!(lowest_video(&[audio]), None);
    }

    #[test]
    fn sessions_are_listed_running_first_then_planned_by_date() {
        let row = |id: i64, state: SessionState, start: Option<&str>| SessionRow {
            id,
            title: String::new(),
            body: String::new(),
            state: state.as_str(),
            scheduled: None,
            console_url: String::new(),
            public_url: String::new(),
            order: order_key(state, start, id),
        };
        let mut list = vec![
            row(1, SessionState::Ended, None),
            row(2, SessionState::Planned, Some("2025-12-10T09:00:00+01:00")),
            row(3, SessionState::Planned, None),
            row(4, SessionState::Planned, Some("2025-12-01T09:00:00+01:00")),
            row(5, SessionState::Ended, None),
            row(6, SessionState::Paused, None),
            row(7, SessionState::Planned, Some("nonsense")),
        ];
        console_order(&mut list);
        let ids: Vec<i64> = list.iter().map(|s| s.id).collect();
        assert_eq!(ids, [6, 4, 2, 7, 3, 5, 1]);
    }

    #[test]
    fn times_for_the_form_are_in_the_councils_zone() {
        assert_eq!(
            datetime_local(Some("2025-11-26T08:00:00Z")),
            "2025-11-26T09:00"
        );
        assert_eq!(datetime_local(Some("nonsense")), "");
        assert_eq!(datetime_local(None), "");
    }

    fn pages() -> Pages {
        Pages::load(&FsPath::new(env!("CARGO_MANIFEST_DIR")).join("web")).expect("shipped pages")
    }

    #[test]
    fn the_console_pages_render_in_both_languages() {
        let p = pages();
        for lang in Lang::ALL {
            let login = p
                .render(
                    "login.html",
                    lang,
                    minijinja::context! {
                        next => "/konsola/sesje/1", user => None::<Value>, can_operate => false,
                        posted => true, path => LOGIN_PAGE,
                        console_texts => p.texts.with_prefix(lang, "console.js."),
                    },
                )
                .unwrap();
            assert!(login.contains("id=\"login-form\""), "{login}");
            assert!(login.contains("value=\"/konsola/sesje/1\""), "{login}");
            assert!(login.contains("/console.js"), "{login}");
            // The script's texts, from the "console.js.*" keys, unprefixed.
            assert!(login.contains("id=\"console-texts\""), "{login}");
            assert!(login.contains("\"login_missing\":"), "{login}");

            let rows = vec![SessionRow {
                id: 3,
                title: "XLV <Sesja>".into(),
                body: "Rada".into(),
                state: "paused",
                scheduled: Some("2025-11-26 09:00".into()),
                console_url: "/konsola/sesje/3".into(),
                public_url: "/sesje/3".into(),
                order: (0, 0),
            }];
            let home = p
                .render(
                    "console.html",
                    lang,
                    minijinja::context! {
                        user => value(&UserView { username: "anna".into(), role: "operator" }),
                        sessions => value(&rows), created => None::<Value>, last_body => "Rada",
                        console_data => value(&ConsoleData::home()), path => CONSOLE_HOME,
                        console_texts => p.texts.with_prefix(lang, "console.js."),
                    },
                )
                .unwrap();
            assert!(home.contains("XLV &lt;Sesja&gt;"), "{home}");
            assert!(home.contains("href=\"/konsola/sesje/3\""), "{home}");
            assert!(home.contains("data-action=\"logout\""), "{home}");
            assert!(home.contains("id=\"console-data\""), "{home}");
        }
    }

    #[test]
    fn a_running_session_renders_with_its_buttons_and_items() {
        use crate::catalog::db::{Catalog, MarkInput};
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(&dir.path().join("c.db")).unwrap();
        let fixture = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/agenda-sesja-xlv.json"
        ));
        let draft = crate::catalog::agenda::parse_session_json(fixture).unwrap();
        let id = c.create_session(&draft, "anna").unwrap();
        c.sync_channels(&[("main".into(), "Sala".into())], Some("main"))
            .unwrap();
        let mark = |kind, number: Option<&str>, wall_ns| MarkInput {
            kind,
            agenda_number: number.map(str::to_owned),
            reason: None,
            legal_basis: None,
            wall_ns,
            media_ns: None,
        };
        c.start_session(
            id,
            "main",
            mark(MarkKind::Start, None, 1_764_144_000_000_000_000),
            "anna",
        )
        .unwrap();
        c.add_mark(
            id,
            mark(MarkKind::Item, Some("7"), 1_764_144_300_000_000_000),
            "anna",
        )
        .unwrap();
        let s = c.get_session(id).unwrap();
        let user = User {
            id: 1,
            username: "anna".into(),
            role: Role::Operator,
        };
        let on = ChannelInfo {
            id: Some("main".into()),
            name: Some("Sala".into()),
            stream: Some("/live/main/360p/index.m3u8".into()),
        };
        let p = pages();
        for lang in Lang::ALL {
            let html = p
                .render(
                    "console_session.html",
                    lang,
                    session_context(&s, &user, on_clone(&on)),
                )
                .unwrap();
            assert!(html.contains("data-state=\"live\""), "{html}");
            // Live and public: recess enabled, start and resume not.
            assert!(
                html.contains("data-action=\"recess\" id=\"btn-recess\" aria-keyshortcuts=\"p\">"),
                "{html}"
            );
            assert!(
                html.contains("data-action=\"start\" id=\"btn-start\" disabled>"),
                "{html}"
            );
            assert!(
                html.contains("data-action=\"begin-item\" data-item=\"7a\">"),
                "{html}"
            );
            assert!(
                html.contains(
                    "<li class=\"item current begun\" data-item=\"7\" aria-current=\"step\">"
                ),
                "{html}"
            );
            assert!(
                html.contains("id=\"next-item-text\" data-item=\"7a\""),
                "{html}"
            );
            assert!(
                html.contains("data-stream=\"/live/main/360p/index.m3u8\""),
                "{html}"
            );
            assert!(
                html.contains("value=\"art. 61 ust. 3 Konstytucji RP\""),
                "{html}"
            );
            assert!(html.contains("<time>2025-11-26 09:05:00</time>"), "{html}");
            assert!(
                html.contains("\"live+private\""),
                "the actions table: {html}"
            );
        }
    }

    fn on_clone(c: &ChannelInfo) -> ChannelInfo {
        ChannelInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            stream: c.stream.clone(),
        }
    }

    use minijinja::Value;
}
