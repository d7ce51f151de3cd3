//! The staff pages (urzędnicy who publish recordings in BIP), for any
//! logged-in user (staff, operator, admin); without a login they redirect
//! to `/logowanie?next=...`, like the console.
//!
//! - `/pracownicy`: the archive's search and filters (the same code as
//!   `/archiwum`, see [`super::archive::find`]) plus the session's state,
//!   every session (planned ones too), each linking to its staff page.
//! - `/pracownicy/sesje/{id}`: the recording, the agenda with per-item
//!   downloads, a clip of any range (`?from=&to=`, as `1h02m03s`, `62:03`
//!   or seconds; checked here, so the GET form works without JavaScript:
//!   `&pobierz=mp4|m4a` redirects to the download), and a BIP-ready HTML
//!   snippet to copy. `web/staff.js` adds "from the current position",
//!   the preview of the range in the player and the copy button.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Serialize;

use super::archive::{find, hit_count_text, session_instant, Filter};
use super::embed::{iframe, DEFAULT_HEIGHT, DEFAULT_WIDTH};
use super::i18n::Lang;
use super::views::{load_session, request, Q};
use super::{error_page, escape_html, html, local_time, percent_encode, public_base, value};
use super::{PageRequest, Pages};
use crate::archive::session::item_ranges;
use crate::catalog::db::{MarkKind, SessionState, SessionView};
use crate::catalog::users::{Role, User};
use crate::http::auth::Actor;
use crate::http::{recording_length, ApiError, AppState};

/// The staff's home page.
pub const STAFF_HOME: &str = "/pracownicy";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(STAFF_HOME, get(staff_home))
        .route("/pracownicy/sesje/{id}", get(staff_session))
}

// ---------------------------------------------------------------------------
// Who may see the pages

/// The user, if they may use the staff pages (every role may).
fn staff_user(actor: Result<Actor, ApiError>) -> Result<User, Option<ApiError>> {
    match actor {
        Ok(a) if a.user.role.allows(Role::Staff) || a.user.role.allows(Role::Operator) => {
            Ok(a.user)
        }
        Ok(_) | Err(ApiError::Unauthorized(_) | ApiError::Forbidden(_)) => Err(None),
        Err(e) => Err(Some(e)),
    }
}

/// Staff pages depend on who asks: never stored by a cache.
fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn denied(pages: &Pages, req: &PageRequest, why: Option<ApiError>, uri: &Uri) -> Response {
    match why {
        None => {
            let path = uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or(STAFF_HOME);
            no_store(Redirect::to(&super::console::login_url(path)).into_response())
        }
        Some(e) => {
            tracing::error!(error = %e, "cannot check who is asking for a staff page");
            internal(pages, req)
        }
    }
}

fn internal(pages: &Pages, req: &PageRequest) -> Response {
    error_page(
        pages,
        req,
        StatusCode::INTERNAL_SERVER_ERROR,
        &pages.text(req.lang, "error.internal"),
    )
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
// /pracownicy

/// The staff page of session `id`.
pub fn staff_url(id: i64) -> String {
    format!("/pracownicy/sesje/{id}")
}

/// A session in the staff's list.
#[derive(Debug, Serialize)]
struct Row {
    id: i64,
    title: String,
    body: String,
    term: Option<String>,
    state: &'static str,
    when: String,
    url: String,
    public_url: String,
}

const STATES: [SessionState; 4] = [
    SessionState::Planned,
    SessionState::Live,
    SessionState::Paused,
    SessionState::Ended,
];

async fn staff_home(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    actor: Result<Actor, ApiError>,
    q: Q,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let req = request(&q, &headers);
    let user = match staff_user(actor) {
        Ok(u) => u,
        Err(why) => return denied(&pages, &req, why, &uri),
    };
    let (filter, bad_dates) = Filter::parse(&q);
    let wanted_state = q
        .get("state")
        .and_then(|s| STATES.into_iter().find(|st| st.as_str() == s.trim()));
    let keep = |s: &crate::catalog::db::SessionSummary| wanted_state.is_none_or(|w| s.state == w);
    let mut found = match find(&state, &pages, req.lang, &filter, &bad_dates, keep).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "cannot search for the staff page");
            return internal(&pages, &req);
        }
    };
    // Hits lead to the staff's page of the session, at the item.
    for h in &mut found.hits {
        h.session_url = staff_url(h.session_id);
        h.url = match &h.number {
            Some(n) => format!("{}#punkt-{}", staff_url(h.session_id), percent_encode(n)),
            None => staff_url(h.session_id),
        };
    }
    let mut listed: Vec<&crate::catalog::db::SessionSummary> = found
        .sessions
        .iter()
        .filter(|s| filter.admits(s) && keep(s))
        .collect();
    listed.sort_by_key(|s| {
        (
            std::cmp::Reverse(session_instant(s)),
            std::cmp::Reverse(s.id),
        )
    });
    let rows: Vec<Row> = listed
        .iter()
        .map(|s| Row {
            id: s.id,
            title: s.title.clone(),
            body: s.body.clone(),
            term: s.term.clone(),
            state: s.state.as_str(),
            when: local_time(session_instant(s), false),
            url: staff_url(s.id),
            public_url: format!("/sesje/{}", s.id),
        })
        .collect();
    let state_choices: Vec<_> = STATES
        .iter()
        .map(|st| {
            minijinja::context! {
                value => st.as_str(),
                label => pages.text(req.lang, &format!("state.{}", st.as_str())),
                selected => wanted_state == Some(*st),
            }
        })
        .collect();
    let hit_count = found.hits.len();
    no_store(html(
        &pages,
        &req,
        StatusCode::OK,
        "staff.html",
        minijinja::context! {
            user => value(&user_view(&user)),
            q => filter.q.clone().unwrap_or_default(),
            searching => filter.q.is_some(),
            from => filter.from.map(|d| d.to_string()).unwrap_or_default(),
            to => filter.to.map(|d| d.to_string()).unwrap_or_default(),
            filtered => filter.body.is_some() || filter.term.is_some() || filter.from.is_some() || filter.to.is_some() || wanted_state.is_some(),
            body_choices => value(&found.body_choices),
            term_choices => value(&found.term_choices),
            state_choices,
            rows => value(&rows),
            row_count => rows.len(),
            hits => value(&found.hits),
            hit_count,
            hit_count_text => hit_count_text(&pages, req.lang, hit_count),
            hit_limited => found.hit_limited,
            notes => found.notes,
            path => STAFF_HOME,
        },
    ))
}

// ---------------------------------------------------------------------------
// Times and clips

/// Seconds from `1h02m03s` (any of the parts), `62:03` (minutes:seconds),
/// `1:02:03` (hours:minutes:seconds) or `3723` / `3723.5` (seconds);
/// `None` for anything else (minutes and seconds after a colon are < 60).
pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() {
        return None;
    }
    let number = |t: &str, fraction: bool| -> Option<f64> {
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) if fraction => (i, Some(f)),
            Some(_) => return None,
            None => (t, None),
        };
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) || int.len() > 9 {
            return None;
        }
        t.parse().ok()
    };
    if let Some(n) = number(&s, true) {
        return Some(n);
    }
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        let (h, m, sec) = match parts.as_slice() {
            [m, sec] => (0.0, number(m, false)?, *sec),
            [h, m, sec] if m.len() <= 2 => (number(h, false)?, number(m, false)?, *sec),
            _ => return None,
        };
        let sec_int = sec.split('.').next().unwrap_or_default();
        if sec_int.len() > 2 || (parts.len() == 3 && m >= 60.0) {
            return None;
        }
        let sec = number(sec, true).filter(|&x| x < 60.0)?;
        return Some(h * 3600.0 + m * 60.0 + sec);
    }
    // 1h02m03s: each unit at most once, in this order.
    let mut rest = s.as_str();
    let mut total = 0.0;
    let mut any = false;
    for (unit, scale, fraction) in [('h', 3600.0, false), ('m', 60.0, false), ('s', 1.0, true)] {
        if let Some(i) = rest.find(unit) {
            total += number(&rest[..i], fraction)? * scale;
            rest = &rest[i + 1..];
            any = true;
        }
    }
    (any && rest.is_empty()).then_some(total)
}

/// `1:02:03`, or `2:03` under an hour (whole seconds, rounded down).
pub fn format_time(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds.floor() as u64
    } else {
        0
    };
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Seconds as the download's query wants them: `62`, `62.5`.
fn query_seconds(x: f64) -> String {
    let r = (x * 1000.0).round() / 1000.0;
    format!("{r}")
}

/// What is wrong with a clip; each the key of its message (`js.staff.*`, shared with `web/staff.js`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClipErrors {
    pub from: Option<&'static str>,
    pub to: Option<&'static str>,
}

/// A range of the recording, in seconds on its clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clip {
    pub from: f64,
    pub to: f64,
}

/// Reads the clip form: an empty `from` is the start, an empty `to` the
/// end of the recording (`length` seconds long). `Ok(None)`: neither given.
pub fn check_clip(
    from: Option<&str>,
    to: Option<&str>,
    length: f64,
) -> Result<Option<Clip>, ClipErrors> {
    let from = from.map(str::trim).filter(|s| !s.is_empty());
    let to = to.map(str::trim).filter(|s| !s.is_empty());
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    let mut e = ClipErrors::default();
    let f = match from.map(parse_time) {
        None => Some(0.0),
        Some(Some(f)) => Some(f),
        Some(None) => {
            e.from = Some("js.staff.bad_time");
            None
        }
    };
    let t = match to.map(parse_time) {
        None => Some(length),
        Some(Some(t)) => Some(t),
        Some(None) => {
            e.to = Some("js.staff.bad_time");
            None
        }
    };
    // Half a second of slack: the length is whole segments, a position
    // taken from the player may be a little past it.
    let end = length + 0.5;
    if let Some(f) = f {
        if f >= length {
            e.from = Some("js.staff.beyond_end");
        }
    }
    if let Some(t) = t {
        if t > end {
            e.to = Some("js.staff.beyond_end");
        } else if f.is_some_and(|f| t <= f) && e.from.is_none() {
            e.to = Some("js.staff.not_after");
        }
    }
    match (f, t) {
        (Some(from), Some(to)) if e == ClipErrors::default() => Ok(Some(Clip { from, to })),
        _ => Err(e),
    }
}

/// The download of `clip` of session `id` (`ext` "mp4" or "m4a").
pub fn clip_url(id: i64, clip: Clip, ext: &str) -> String {
    format!(
        "/vod/sessions/{id}/download/session.{ext}?from={}&to={}",
        query_seconds(clip.from),
        query_seconds(clip.to)
    )
}

// ---------------------------------------------------------------------------
// The BIP snippet

/// When the session took place (its start mark, else its scheduled start):
/// `2025-11-26 09:05` in the council's time zone, and for `datetime`.
fn session_when(s: &SessionView) -> Option<(String, String)> {
    let ns = s
        .timeline
        .iter()
        .find(|m| m.kind == MarkKind::Start)
        .map(|m| m.wall_ns)
        .or_else(|| {
            let ts: jiff::Timestamp = s.scheduled_start.as_deref()?.parse().ok()?;
            i64::try_from(ts.as_nanosecond()).ok()
        })?;
    let shown = local_time(ns, false);
    Some((shown.replace(' ', "T"), shown))
}

/// Ready-to-paste HTML for BIP: the title, body and date, the embedded
/// player, the agenda linking to the items on the session page with their
/// downloads, and the whole session's downloads. `base` is our public URL
/// (`https://host`); everything is escaped.
pub fn bip_snippet(pages: &Pages, lang: Lang, base: &str, s: &SessionView) -> String {
    let t = |key: &str| escape_html(&pages.text(lang, key));
    let e = |v: &str| escape_html(v);
    let id = s.id;
    let downloads = format!("{base}/vod/sessions/{id}/download");
    let begun = item_ranges(&s.timeline, &s.agenda);
    let started = s.state != SessionState::Planned;
    let mut o = String::new();
    o.push_str("<section class=\"obrady-sesja\">\n");
    o.push_str(&format!("<h2>{}</h2>\n", e(&s.title)));
    o.push_str(&format!("<p>{}", e(&s.body)));
    if let Some(term) = &s.term {
        o.push_str(&format!(", {}", e(term)));
    }
    if let Some((datetime, shown)) = session_when(s) {
        o.push_str(&format!(
            ", <time datetime=\"{}\">{}</time>",
            e(&datetime),
            e(&shown)
        ));
    }
    o.push_str("</p>\n");
    o.push_str(&iframe(
        &format!("{base}/embed/sesje/{id}"),
        &s.title,
        DEFAULT_WIDTH,
        DEFAULT_HEIGHT,
    ));
    o.push('\n');
    o.push_str(&format!("<h3>{}</h3>\n", t("session.agenda")));
    o.push_str("<ol style=\"list-style:none;padding-left:0\">\n");
    for item in &s.agenda {
        let n = percent_encode(&item.number);
        o.push_str(&format!(
            "<li><a href=\"{}\">{}. {}</a>",
            e(&format!("{base}/sesje/{id}#punkt-{n}")),
            e(&item.number),
            e(&item.title)
        ));
        if begun.iter().any(|r| r.number == item.number) {
            o.push_str(&format!(
                " (<a href=\"{}\" download>{}</a>, <a href=\"{}\" download>{}</a>)",
                e(&format!("{downloads}/items/{n}.mp4")),
                t("session.download_video"),
                e(&format!("{downloads}/items/{n}.m4a")),
                t("session.download_audio"),
            ));
        } else if started {
            o.push_str(&format!(" ({})", t("session.not_taken_up")));
        }
        o.push_str("</li>\n");
    }
    o.push_str("</ol>\n");
    if started {
        o.push_str(&format!(
            "<p>{}: <a href=\"{}\" download>{}</a>, <a href=\"{}\" download>{}</a></p>\n",
            t("session.download_whole"),
            e(&format!("{downloads}/session.mp4")),
            t("session.download_video"),
            e(&format!("{downloads}/session.m4a")),
            t("session.download_audio"),
        ));
    }
    o.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>\n",
        e(&format!("{base}/sesje/{id}")),
        t("staff.snippet.page_link")
    ));
    o.push_str("</section>\n");
    o
}

// ---------------------------------------------------------------------------
// /pracownicy/sesje/{id}

async fn staff_session(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    actor: Result<Actor, ApiError>,
    Path(id): Path<String>,
    q: Q,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let req = request(&q, &headers);
    let user = match staff_user(actor) {
        Ok(u) => u,
        Err(why) => return denied(&pages, &req, why, &uri),
    };
    let page = match load_session(&state, &id).await {
        Ok(p) => p,
        Err(m) => return no_store(m.page(&pages, &req)),
    };
    let (session, length) = match recording_length(&state, &id).await {
        Ok(x) => x,
        Err(ApiError::NotFound(_)) => {
            return no_store(error_page(
                &pages,
                &req,
                StatusCode::NOT_FOUND,
                &pages.text(req.lang, "error.no_session"),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read a session's recording for the staff page");
            return no_store(internal(&pages, &req));
        }
    };
    let sid = session.id;
    let from_text = q
        .get("from")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let to_text = q.get("to").map(|s| s.trim().to_owned()).unwrap_or_default();
    let checked = check_clip(Some(&from_text), Some(&to_text), length);
    let download = q.get("pobierz").map(String::as_str);
    if let (Ok(Some(clip)), Some(ext @ ("mp4" | "m4a"))) = (&checked, download) {
        return no_store(Redirect::to(&clip_url(sid, *clip, ext)).into_response());
    }
    let message = |key: Option<&'static str>| {
        key.map(|k| {
            pages
                .text(req.lang, k)
                .replace("{length}", &format_time(length))
        })
    };
    let (clip, from_error, to_error) = match &checked {
        Ok(Some(c)) => (
            Some(minijinja::context! {
                from => query_seconds(c.from),
                to => query_seconds(c.to),
                from_text => format_time(c.from),
                to_text => format_time(c.to),
                length_text => format_time(c.to - c.from),
                mp4 => clip_url(sid, *c, "mp4"),
                m4a => clip_url(sid, *c, "m4a"),
            }),
            None,
            None,
        ),
        Ok(None) => (None, None, None),
        Err(e) => (None, message(e.from), message(e.to)),
    };
    let status = if checked.is_err() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let base = public_base(&headers, &uri).unwrap_or_default();
    let snippet = bip_snippet(&pages, req.lang, &base, &session);
    let ctx = minijinja::context! {
        user => value(&user_view(&user)),
        staff_path => staff_url(sid),
        length => query_seconds(length),
        length_text => format_time(length),
        recorded => length > 0.0,
        from_text,
        to_text,
        from_error,
        to_error,
        clip,
        snippet,
        unpublished => !session.published,
        path => staff_url(sid),
        ..value(&page)
    };
    no_store(html(&pages, &req, status, "staff_session.html", ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_every_form_the_form_accepts() {
        for (text, secs) in [
            ("3723", 3723.0),
            ("3723.5", 3723.5),
            (" 0 ", 0.0),
            ("1h02m03s", 3723.0),
            ("1H2M3S", 3723.0),
            ("62m", 3720.0),
            ("2h", 7200.0),
            ("45s", 45.0),
            ("1m30.5s", 90.5),
            ("62:03", 3723.0),
            ("1:02:03", 3723.0),
            ("0:05", 5.0),
            ("1:02:03.25", 3723.25),
        ] {
            assert_eq!(parse_time(text), Some(secs), "{text}");
        }
        for bad in [
            "", "abc", "-5", "1:60", "1:2:3:4", "1:75:00", "m", "1h1h", "3s2m", "1.5h", "1:",
            ":30", "1e3", "inf", "NaN", "1,5", "12:345",
        ] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
        assert_eq!(format_time(3723.9), "1:02:03");
        assert_eq!(format_time(65.0), "1:05");
        assert_eq!(format_time(-1.0), "0:00");
        assert_eq!(query_seconds(62.0), "62");
        assert_eq!(query_seconds(0.1 + 0.2), "0.3");
    }

    #[test]
    fn a_clip_must_lie_inside_the_recording() {
        let len = 600.0;
        assert_eq!(check_clip(None, Some(""), len), Ok(None));
        assert_eq!(
            check_clip(Some("1:00"), Some("2m"), len),
            Ok(Some(Clip {
                from: 60.0,
                to: 120.0
            }))
        );
        // Empty ends are the start and the end.
        assert_eq!(
            check_clip(Some(""), Some("30"), len),
            Ok(Some(Clip {
                from: 0.0,
                to: 30.0
            }))
        );
        assert_eq!(
            check_clip(Some("9m"), None, len),
            Ok(Some(Clip {
                from: 540.0,
                to: 600.0
            }))
        );
        let err = |from: &str, to: &str| check_clip(Some(from), Some(to), len).unwrap_err();
        assert_eq!(err("2m", "1m").to, Some("js.staff.not_after"));
        assert_eq!(err("60", "60").to, Some("js.staff.not_after"));
        assert_eq!(err("1m", "11m").to, Some("js.staff.beyond_end"));
        assert_eq!(err("10m", "").from, Some("js.staff.beyond_end"));
        let e = err("x", "y");
        assert_eq!(
            (e.from, e.to),
            (Some("js.staff.bad_time"), Some("js.staff.bad_time"))
        );
        // Nothing recorded: every range is beyond the end.
        assert!(check_clip(Some("0"), Some("1"), 0.0).is_err());
        assert_eq!(
            clip_url(
                7,
                Clip {
                    from: 60.0,
                    to: 90.5
                },
                "m4a"
            ),
            "/vod/sessions/7/download/session.m4a?from=60&to=90.5"
        );
    }

    /// An ended session with items 1 and 7a, of which 7a was taken up.
    fn view(title: &str) -> SessionView {
        use crate::catalog::db::{Catalog, MarkInput};
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(&dir.path().join("c.db")).unwrap();
        let json = serde_json::json!({
            "body": "Rada <Miasta> & \"Gmina\"",
            "title": title,
            "term": "IX kadencja",
            "scheduled_start": "2025-11-26T09:00:00+01:00",
            "agenda": [
                {"number": "1", "title": "Otwarcie <b>sesji</b>"},
                {"number": "7a", "title": "Podatek & opłaty"}
            ]
        });
        let draft = crate::catalog::agenda::parse_session_json(&json.to_string()).unwrap();
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
            mark(MarkKind::Start, None, 1_764_145_200_000_000_000),
            "anna",
        )
        .unwrap();
        c.add_mark(
            id,
            mark(MarkKind::Item, Some("7a"), 1_764_145_500_000_000_000),
            "anna",
        )
        .unwrap();
        c.add_mark(
            id,
            mark(MarkKind::Stop, None, 1_764_145_800_000_000_000),
            "anna",
        )
        .unwrap();
        c.get_session(id).unwrap()
    }

    #[test]
    fn the_bip_snippet_is_valid_escaped_html() {
        let pages =
            Pages::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")).unwrap();
        let title = "XLV <Sesja> & \"nadzwyczajna\"";
        let s = view(title);
        for lang in Lang::ALL {
            let html = bip_snippet(&pages, lang, "https://rada.example", &s);
            assert!(
                html.contains("<h2>XLV &lt;Sesja&gt; &amp; &quot;nadzwyczajna&quot;</h2>"),
                "{html}"
            );
            assert!(html.contains(
                "<iframe src=\"https://rada.example/embed/sesje/1\" width=\"640\" height=\"480\" \
                 title=\"XLV &lt;Sesja&gt; &amp; &quot;nadzwyczajna&quot;\""
            ));
            assert!(html.contains("Rada &lt;Miasta&gt; &amp; &quot;Gmina&quot;, IX kadencja"));
            assert!(html.contains("<time datetime=\"2025-11-26T09:20\">2025-11-26 09:20</time>"));
            assert!(html.contains(
                "<li><a href=\"https://rada.example/sesje/1#punkt-1\">1. Otwarcie &lt;b&gt;sesji&lt;/b&gt;</a>"
            ), "{html}");
            assert!(html.contains(
                "<a href=\"https://rada.example/sesje/1#punkt-7a\">7a. Podatek &amp; opłaty</a> \
                 (<a href=\"https://rada.example/vod/sessions/1/download/items/7a.mp4\" download>"
            ), "{html}");
            assert!(html.contains("/vod/sessions/1/download/items/7a.m4a\" download>"));
            assert!(!html.contains("items/1.mp4"), "item 1 was not taken up");
            assert!(html.contains("/vod/sessions/1/download/session.mp4\" download>"));
            // Nothing unescaped from the data: every < starts one of our tags.
            for (i, _) in html.match_indices('<') {
                let tag = &html[i + 1..];
                assert!(
                    [
                        "section", "/section", "h2", "/h2", "h3", "/h3", "p>", "/p>", "time",
                        "/time", "iframe", "/iframe", "ol", "/ol", "li>", "/li>", "a ", "/a>"
                    ]
                    .iter()
                    .any(|t| tag.starts_with(t)),
                    "{}",
                    &html[i..]
                );
            }
            // Balanced: as many closing tags as opening ones.
            for t in [
                "section", "h2", "h3", "p", "ol", "li", "a", "time", "iframe",
            ] {
                let open = html.matches(&format!("<{t} ")).count()
                    + html.matches(&format!("<{t}>")).count();
                assert_eq!(
                    open,
                    html.matches(&format!("</{t}>")).count(),
                    "{t}: {html}"
                );
            }
        }
    }

    #[test]
    fn the_staff_session_page_renders_with_the_snippet_escaped() {
        let pages =
            Pages::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")).unwrap();
        let s = view("A <b> & \"c\"");
        let snippet = bip_snippet(&pages, Lang::Pl, "http://h", &s);
        for lang in Lang::ALL {
            let ctx = minijinja::context! {
                user => minijinja::context! { username => "ewa", role => "staff" },
                staff_path => "/pracownicy/sesje/3",
                length => "600", length_text => "10:00", recorded => true,
                from_text => "x", to_text => "", from_error => "zły czas", to_error => Option::<String>::None,
                clip => Option::<String>::None,
                snippet => snippet.clone(),
                session => minijinja::context! { id => 3, title => "A <b> & \"c\"", body => "Rada", state => "ended", scheduled => "2025-11-26 09:00", url => "/sesje/3" },
                term => "IX", items => Vec::<minijinja::Value>::new(),
                vod => "/vod/sessions/3/index.m3u8", chapters => "/vod/sessions/3/chapters.vtt",
                downloads => "/vod/sessions/1/download", started => true,
                path => "/sesje/3", embed => "/embed/sesje/3",
            };
            let html = pages.render("staff_session.html", lang, ctx).unwrap();
            // The snippet is text in the textarea: escaped once more.
            assert!(
                html.contains(
                    "&lt;h2&gt;A &amp;lt;b&amp;gt; &amp;amp; &amp;quot;c&amp;quot;&lt;/h2&gt;"
                ),
                "{html}"
            );
            assert!(html.contains("<label for=\"bip-snippet\">"), "{html}");
            assert!(html.contains("aria-invalid=\"true\""), "{html}");
            assert!(html.contains("zły czas"), "{html}");
            assert!(html.contains("src=\"/staff.js\""), "{html}");
        }
    }
}
