//! `/archiwum`: every session that has begun, grouped by body and term of
//! office, newest first; filtered by body, term and dates with a plain GET
//! form (no script needed); and full-text search (`?q=`) over session and
//! agenda-item titles and resolution numbers, each hit linking straight to
//! its item in the recording (`/sesje/{id}#punkt-7a`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use jiff::civil::Date;
use serde::Serialize;

use super::feeds::slug;
use super::i18n::Lang;
use super::views::{request, scheduled, Q, TIME_ZONE};
use super::{error_page, html, percent_encode, plural, value, Pages};
use crate::catalog::db::{ErrorKind, SessionState, SessionSummary};
use crate::catalog::search::{fold, SearchHit};
use crate::http::AppState;

/// The most hits a search page shows.
pub const MAX_HITS: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/archiwum", get(archive))
}

/// What the form asked for; empty fields are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub body: Option<String>,
    pub term: Option<String>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub q: Option<String>,
}

impl Filter {
    /// Reads the query; a date that is not `YYYY-MM-DD` is ignored and named
    /// in the second value (the field's name).
    pub fn parse(params: &HashMap<String, String>) -> (Filter, Vec<&'static str>) {
        let text = |name: &str| {
            params
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let mut bad = Vec::new();
        let mut date = |name: &'static str| {
            let v = text(name)?;
            match v.parse::<Date>() {
                Ok(d) => Some(d),
                Err(_) => {
                    bad.push(name);
                    None
                }
            }
        };
        let (from, to) = (date("from"), date("to"));
        (
            Filter {
                body: text("body"),
                term: text("term"),
                from,
                to,
                q: text("q"),
            },
            bad,
        )
    }

    /// Whether a session passes the body, term and date fields.
    pub fn admits(&self, s: &SessionSummary) -> bool {
        if self
            .body
            .as_ref()
            .is_some_and(|b| *b != s.body && *b != slug(&s.body))
        {
            return false;
        }
        if self
            .term
            .as_ref()
            .is_some_and(|t| s.term.as_ref() != Some(t))
        {
            return false;
        }
        if self.from.is_some() || self.to.is_some() {
            let Some(day) = session_day(s) else {
                return false;
            };
            if self.from.is_some_and(|f| day < f) || self.to.is_some_and(|t| day > t) {
                return false;
            }
        }
        true
    }

    /// The query string of this filter without `q` (for the feed of the
    /// chosen body and for "back to the list").
    pub fn list_query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = &self.body {
            parts.push(format!("body={}", percent_encode(b)));
        }
        if let Some(t) = &self.term {
            parts.push(format!("term={}", percent_encode(t)));
        }
        if let Some(d) = self.from {
            parts.push(format!("from={d}"));
        }
        if let Some(d) = self.to {
            parts.push(format!("to={d}"));
        }
        parts.join("&")
    }
}

/// When a session took place (Unix ns): its start, else its scheduled
/// start, else when it was entered.
pub fn session_instant(s: &SessionSummary) -> i64 {
    s.started_at
        .or_else(|| {
            let ts: jiff::Timestamp = s.scheduled_start.as_deref()?.parse().ok()?;
            i64::try_from(ts.as_nanosecond()).ok()
        })
        .unwrap_or(s.created_at)
}

/// The council's calendar day of [`session_instant`].
pub fn session_day(s: &SessionSummary) -> Option<Date> {
    let ts = jiff::Timestamp::from_nanosecond(i128::from(session_instant(s))).ok()?;
    let tz = jiff::tz::TimeZone::get(TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    Some(ts.to_zoned_datetime(tz).date())
}

/// A session in the list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub title: String,
    pub url: String,
    pub state: &'static str,
    pub kind: Option<String>,
    /// `2025-11-26 09:00` in the council's time zone.
    pub when: String,
    #[serde(skip)]
    pub instant: i64,
}

impl Entry {
    pub fn of(s: &SessionSummary) -> Entry {
        let instant = session_instant(s);
        Entry {
            id: s.id,
            title: s.title.clone(),
            url: format!("/sesje/{}", s.id),
            state: s.state.as_str(),
            kind: s.kind.clone(),
            when: super::local_time(instant, false),
            instant,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TermGroup {
    /// `None`: sessions entered without a term.
    pub term: Option<String>,
    /// Newest first.
    pub sessions: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BodyGroup {
    pub body: String,
    pub slug: String,
    /// The body's podcast feed.
    pub feed: String,
    /// The term with the newest session first; sessions without a term last.
    pub terms: Vec<TermGroup>,
}

/// Groups sessions by body (by name, ignoring case and Polish letters) and
/// term; inside a group the newest session comes first.
pub fn group(sessions: &[SessionSummary]) -> Vec<BodyGroup> {
    let mut bodies: Vec<BodyGroup> = Vec::new();
    let mut sorted: Vec<&SessionSummary> = sessions.iter().collect();
    sorted.sort_by_key(|s| {
        (
            std::cmp::Reverse(session_instant(s)),
            std::cmp::Reverse(s.id),
        )
    });
    for s in sorted {
        let i = match bodies.iter().position(|b| b.body == s.body) {
            Some(i) => i,
            None => {
                let slug = slug(&s.body);
                bodies.push(BodyGroup {
                    body: s.body.clone(),
                    feed: format!("/kanaly/{slug}.xml"),
                    slug,
                    terms: Vec::new(),
                });
                bodies.len() - 1
            }
        };
        let terms = &mut bodies[i].terms;
        // Sessions come newest first, so terms come in order of their
        // newest session.
        let j = match terms.iter().position(|t| t.term == s.term) {
            Some(j) => j,
            None => {
                terms.push(TermGroup {
                    term: s.term.clone(),
                    sessions: Vec::new(),
                });
                terms.len() - 1
            }
        };
        terms[j].sessions.push(Entry::of(s));
    }
    for b in &mut bodies {
        // Stable: keeps newest-first among the terms that have one.
        b.terms.sort_by_key(|t| t.term.is_none());
    }
    bodies.sort_by_cached_key(|b| fold(&b.body.to_lowercase()));
    bodies
}

/// A search hit as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct HitView {
    pub session_id: i64,
    pub session_title: String,
    pub session_url: String,
    pub body: Option<String>,
    pub when: Option<String>,
    pub number: Option<String>,
    pub item_title: Option<String>,
    /// Escaped HTML with `<mark>`s, from the catalog.
    pub snippet: String,
    /// The item inside the recording, or the session.
    pub url: String,
}

/// Where a hit leads: the agenda item's anchor on the session page (the
/// page opens the recording there), or the session page.
pub fn hit_url(session_id: i64, number: Option<&str>) -> String {
    match number {
        Some(n) => format!("/sesje/{session_id}#punkt-{}", percent_encode(n)),
        None => format!("/sesje/{session_id}"),
    }
}

/// One option of a `<select>`.
#[derive(Debug, Serialize)]
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// What the search form found, for `/archiwum` and the staff pages.
pub(super) struct Found {
    /// Every session in the catalog (not filtered).
    pub sessions: Vec<SessionSummary>,
    /// Every body in the catalog, by name.
    pub bodies: Vec<String>,
    pub body_choices: Vec<Choice>,
    /// The newest term first.
    pub term_choices: Vec<Choice>,
    /// The hits of `q` whose session passes `keep` (empty without `q`).
    pub hits: Vec<HitView>,
    /// The catalog stopped at [`MAX_HITS`].
    pub hit_limited: bool,
    /// What to tell the visitor: bad dates, a bad query, a failed search.
    pub notes: Vec<String>,
}

/// Reads the catalog and runs the search of `filter` (its `q`); `bad_dates`
/// are the fields [`Filter::parse`] could not read; a hit is kept when its
/// session passes `keep`. `Err`: the catalog cannot be read.
pub(super) async fn find(
    state: &AppState,
    pages: &Pages,
    lang: Lang,
    filter: &Filter,
    bad_dates: &[&str],
    keep: impl Fn(&SessionSummary) -> bool,
) -> Result<Found, String> {
    let query = filter.q.clone();
    let (sessions, hits) = state
        .catalog(move |c| {
            let sessions = c.list_sessions()?;
            // Withdrawn recordings too: `keep` decides who sees them.
            let hits = query.as_ref().map(|q| c.search_with(q, MAX_HITS, true));
            Ok((sessions, hits))
        })
        .await
        .map_err(|e| e.to_string())?;
    let mut notes: Vec<String> = bad_dates
        .iter()
        .map(|name| {
            pages
                .text(lang, "archive.bad_date")
                .replace("{field}", &pages.text(lang, &format!("archive.{name}")))
        })
        .collect();
    let by_id: HashMap<i64, &SessionSummary> = sessions.iter().map(|s| (s.id, s)).collect();
    // The form's choices: every body and term in the catalog.
    let bodies: BTreeSet<&str> = sessions.iter().map(|s| s.body.as_str()).collect();
    let terms: BTreeSet<&str> = sessions.iter().filter_map(|s| s.term.as_deref()).collect();
    let choices = |all: &BTreeSet<&str>, chosen: &Option<String>| -> Vec<Choice> {
        all.iter()
            .map(|v| Choice {
                value: (*v).to_owned(),
                label: (*v).to_owned(),
                selected: chosen.as_deref() == Some(*v)
                    || chosen.as_deref() == Some(slug(v).as_str()),
            })
            .collect()
    };
    let body_choices = choices(&bodies, &filter.body);
    let mut term_choices = choices(&terms, &filter.term);
    term_choices.reverse(); // the newest term ("X kadencja") first
    let (hits, hit_limited) = match hits {
        None => (Vec::new(), false),
        Some(Err(e)) if e.kind() == ErrorKind::Invalid => {
            // The query is too long (the catalog names the limit).
            notes.push(format!("{}: {e}", pages.text(lang, "archive.bad_query")));
            (Vec::new(), false)
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "search failed");
            notes.push(pages.text(lang, "error.internal"));
            (Vec::new(), false)
        }
        Some(Ok(hits)) => {
            let limited = hits.len() >= MAX_HITS;
            let views: Vec<HitView> = hits
                .iter()
                .filter(|h| {
                    by_id
                        .get(&h.session_id)
                        .is_none_or(|s| filter.admits(s) && keep(s))
                })
                .map(|h| hit_view(h, by_id.get(&h.session_id).copied()))
                .collect();
            (views, limited)
        }
    };
    let bodies = bodies.into_iter().map(str::to_owned).collect();
    Ok(Found {
        bodies,
        body_choices,
        term_choices,
        hits,
        hit_limited,
        notes,
        sessions,
    })
}

/// "3 hits" in the page's language.
pub(super) fn hit_count_text(pages: &Pages, lang: Lang, n: usize) -> String {
    pages
        .text(lang, &format!("archive.hits_{}", plural(lang, n)))
        .replace("{n}", &n.to_string())
}

async fn archive(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    let (filter, bad_dates) = Filter::parse(&q);
    // The public archive lists and finds published recordings only.
    let found = match find(&state, &pages, req.lang, &filter, &bad_dates, |s| {
        s.published
    })
    .await
    {
        Ok(f) => f,
        Err(e) => return error_page(&pages, &req, StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let hit_count = found.hits.len();
    let listed: Vec<SessionSummary> = found
        .sessions
        .iter()
        .filter(|s| s.state != SessionState::Planned && s.published && filter.admits(s))
        .cloned()
        .collect();
    let groups = group(&listed);
    let hit_count_text = hit_count_text(&pages, req.lang, hit_count);
    let list_query = filter.list_query();
    let feeds: Vec<(String, String)> = found
        .bodies
        .iter()
        .map(|n| (format!("/kanaly/{}.xml", slug(n)), n.clone()))
        .collect();
    html(
        &pages,
        &req,
        StatusCode::OK,
        "archive.html",
        minijinja::context! {
            q => filter.q.clone().unwrap_or_default(),
            searching => filter.q.is_some(),
            body => filter.body.clone().unwrap_or_default(),
            term => filter.term.clone().unwrap_or_default(),
            from => filter.from.map(|d| d.to_string()).unwrap_or_default(),
            to => filter.to.map(|d| d.to_string()).unwrap_or_default(),
            filtered => filter.body.is_some() || filter.term.is_some() || filter.from.is_some() || filter.to.is_some(),
            body_choices => value(&found.body_choices),
            term_choices => value(&found.term_choices),
            groups => value(&groups),
            hits => value(&found.hits),
            hit_count,
            hit_count_text,
            hit_limited => found.hit_limited,
            notes => found.notes,
            list_url => if list_query.is_empty() { "/archiwum".to_owned() } else { format!("/archiwum?{list_query}") },
            feeds => feeds.into_iter().map(|(url, name)| minijinja::context! { url, name }).collect::<Vec<_>>(),
            path => "/archiwum",
        },
    )
}

fn hit_view(h: &SearchHit, s: Option<&SessionSummary>) -> HitView {
    HitView {
        session_id: h.session_id,
        session_title: h.session_title.clone(),
        session_url: format!("/sesje/{}", h.session_id),
        body: s.map(|s| s.body.clone()),
        when: s
            .map(|s| super::local_time(session_instant(s), false))
            .or_else(|| scheduled(&h.scheduled_start)),
        number: h.agenda_number.clone(),
        item_title: h.item_title.clone(),
        snippet: h.snippet.clone(),
        url: hit_url(h.session_id, h.agenda_number.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Value;

    fn summary(id: i64, body: &str, term: Option<&str>, started_s: i64) -> SessionSummary {
        SessionSummary {
            id,
            body: body.into(),
            title: format!("Sesja {id}"),
            kind: None,
            term: term.map(str::to_owned),
            scheduled_start: None,
            state: SessionState::Ended,
            created_at: 0,
            started_at: Some(started_s * 1_000_000_000),
            ended_at: None,
            published: true,
        }
    }

    #[test]
    fn sessions_are_grouped_by_body_and_term_newest_first() {
        let day = 86_400;
        let s = vec![
            summary(1, "Rada Miasta", Some("VIII kadencja"), 100 * day),
            summary(2, "Rada Miasta", Some("IX kadencja"), 2000 * day),
            summary(3, "Komisja Budżetu", Some("IX kadencja"), 1900 * day),
            summary(4, "Rada Miasta", Some("IX kadencja"), 2100 * day),
            summary(5, "Rada Miasta", None, 50 * day),
            summary(6, "Rada Miasta", Some("VIII kadencja"), 200 * day),
        ];
        let g = group(&s);
        assert_eq!(
            g.iter().map(|b| b.body.as_str()).collect::<Vec<_>>(),
            ["Komisja Budżetu", "Rada Miasta"]
        );
        assert_eq!(g[0].feed, "/kanaly/komisja-budzetu.xml");
        let rada = &g[1];
        assert_eq!(
            rada.terms
                .iter()
                .map(|t| t.term.as_deref())
                .collect::<Vec<_>>(),
            [Some("IX kadencja"), Some("VIII kadencja"), None]
        );
        assert_eq!(
            rada.terms[0]
                .sessions
                .iter()
                .map(|e| e.id)
                .collect::<Vec<_>>(),
            [4, 2]
        );
        assert_eq!(
            rada.terms[1]
                .sessions
                .iter()
                .map(|e| e.id)
                .collect::<Vec<_>>(),
            [6, 1]
        );
    }

    #[test]
    fn the_filter_reads_the_form_and_admits_sessions() {
        let params: HashMap<String, String> = [
            ("body", "rada-miasta"),
            ("term", ""),
            ("from", "2025-11-01"),
            ("to", "30.11.2025"),
            ("q", "  uchwala "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (f, bad) = Filter::parse(&params);
        assert_eq!(bad, ["to"]);
        assert_eq!(f.q.as_deref(), Some("uchwala"));
        assert_eq!(f.term, None);
        assert_eq!(f.from, Some(jiff::civil::date(2025, 11, 1)));
        // 2025-11-26T08:05:00Z
        let mut s = summary(1, "Rada Miasta", None, 1_764_144_300);
        assert!(f.admits(&s));
        s.started_at = Some(1_761_000_000 * 1_000_000_000); // October 2025
        assert!(!f.admits(&s));
        s.started_at = Some(1_764_144_300 * 1_000_000_000);
        s.body = "Komisja".into();
        assert!(!f.admits(&s));
        assert_eq!(f.list_query(), "body=rada-miasta&from=2025-11-01");
    }

    #[test]
    fn the_archive_page_renders_the_list_and_the_hits_in_both_languages() {
        let pages =
            Pages::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")).unwrap();
        let groups = group(&[summary(
            1,
            "Rada Miasta",
            Some("IX kadencja"),
            1_764_144_300,
        )]);
        let hits = vec![HitView {
            session_id: 1,
            session_title: "XLV Sesja".into(),
            session_url: "/sesje/1".into(),
            body: Some("Rada Miasta".into()),
            when: Some("2025-11-26 09:05".into()),
            number: Some("7a".into()),
            item_title: Some("Podjęcie uchwały".into()),
            snippet: "Podjęcie <mark>uchwały</mark>".into(),
            url: hit_url(1, Some("7a")),
        }];
        for lang in crate::pages::i18n::Lang::ALL {
            for searching in [false, true] {
                let html = pages
                    .render(
                        "archive.html",
                        lang,
                        minijinja::context! {
                            q => if searching { "uchwala" } else { "" },
                            searching,
                            body => "", term => "", from => "", to => "",
                            filtered => false,
                            body_choices => value(&vec![Choice { value: "Rada Miasta".into(), label: "Rada Miasta".into(), selected: true }]),
                            term_choices => Vec::<Value>::new(),
                            groups => value(&groups),
                            hits => value(&hits),
                            hit_count => 1,
                            hit_count_text => "1 hit",
                            hit_limited => false,
                            notes => Vec::<String>::new(),
                            list_url => "/archiwum",
                            feeds => vec![minijinja::context! { url => "/kanaly/rada-miasta.xml", name => "Rada Miasta" }],
                            path => "/archiwum",
                        },
                    )
                    .unwrap();
                assert!(html.contains("type=\"application/rss+xml\""));
                assert!(
                    html.contains("<label for=\"q\">") && html.contains("<label for=\"from\">")
                );
                assert!(html.contains("<option value=\"Rada Miasta\" selected>"));
                if searching {
                    assert!(html.contains("id=\"hit-count\""));
                    assert!(html.contains("href=\"/sesje/1#punkt-7a\""));
                    assert!(html.contains("Podjęcie <mark>uchwały</mark>"));
                } else {
                    assert!(html.contains("<h2 id=\"body-rada-miasta\">Rada Miasta</h2>"));
                    assert!(html.contains("<h3>IX kadencja</h3>"));
                    assert!(html.contains("href=\"/sesje/1\""));
                }
            }
        }
    }

    #[test]
    fn a_hit_links_to_its_item_in_the_recording() {
        assert_eq!(hit_url(3, Some("7a")), "/sesje/3#punkt-7a");
        assert_eq!(hit_url(3, None), "/sesje/3");
    }
}
