//! Podcast feeds (RSS 2.0) of the recordings of ended sessions: one per body
//! (`/kanaly/{body-slug}.xml`, the slug of the body's name) and one of all
//! bodies (`/kanaly/wszystkie.xml`). Each item is a session, with its
//! whole recording's audio (`/vod/sessions/{id}/download/session.m4a`,
//! `audio/mp4`) as the enclosure; its length is not known without
//! assembling the file, so it is `0`, as podcast clients accept.
//!
//! Feeds need absolute URLs: they use the request's host
//! ([`super::public_base`]).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::archive::session_instant;
use super::views::{request, Q, TIME_ZONE};
use super::{error_page, public_base, Pages};
use crate::catalog::db::{SessionState, SessionSummary, SessionView};
use crate::catalog::search::fold;
use crate::http::AppState;

/// The feed of every body.
pub const ALL: &str = "wszystkie";
/// Items in a feed: the newest recordings.
pub const MAX_ITEMS: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route("/kanaly/{file}", get(feed))
}

/// A name as a URL path segment: lower case, Polish letters folded, every
/// run of other characters one `-`. "Komisja Budżetu i Finansów" →
/// "komisja-budzetu-i-finansow".
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in fold(&name.to_lowercase()).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `&`, `<`, `>`, `"`, `'` as entities; characters XML 1.0 does not allow
/// (most C0 controls, U+FFFE, U+FFFF) are dropped.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}

/// RFC 2822 in the council's time zone, as RSS wants:
/// `Wed, 26 Nov 2025 09:05:00 +0100`.
pub fn rfc2822(ns: i64) -> Option<String> {
    let ts = jiff::Timestamp::from_nanosecond(i128::from(ns)).ok()?;
    let tz = jiff::tz::TimeZone::get(TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    jiff::fmt::rfc2822::to_string(&ts.to_zoned_datetime(tz)).ok()
}

/// A feed, its texts already in the reader's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub title: String,
    /// The archive page (absolute).
    pub link: String,
    /// This feed (absolute).
    pub self_url: String,
    pub description: String,
    pub language: String,
    pub items: Vec<FeedItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedItem {
    pub title: String,
    /// The session page (absolute); also the item's guid.
    pub link: String,
    pub description: String,
    /// RFC 2822.
    pub pub_date: Option<String>,
    /// The audio (absolute).
    pub enclosure: String,
}

/// The RSS 2.0 document.
pub fn render_rss(feed: &Feed) -> String {
    let mut o = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n",
    );
    let e = xml_escape;
    let _ = writeln!(o, "<title>{}</title>", e(&feed.title));
    let _ = writeln!(o, "<link>{}</link>", e(&feed.link));
    let _ = writeln!(o, "<description>{}</description>", e(&feed.description));
    let _ = writeln!(o, "<language>{}</language>", e(&feed.language));
    let _ = writeln!(
        o,
        "<atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>",
        e(&feed.self_url)
    );
    if let Some(date) = feed.items.iter().find_map(|i| i.pub_date.as_ref()) {
        let _ = writeln!(o, "<lastBuildDate>{}</lastBuildDate>", e(date));
    }
    for item in &feed.items {
        o.push_str("<item>\n");
        let _ = writeln!(o, "<title>{}</title>", e(&item.title));
        let _ = writeln!(o, "<link>{}</link>", e(&item.link));
        let _ = writeln!(o, "<guid isPermaLink=\"true\">{}</guid>", e(&item.link));
        if let Some(date) = &item.pub_date {
            let _ = writeln!(o, "<pubDate>{}</pubDate>", e(date));
        }
        let _ = writeln!(o, "<description>{}</description>", e(&item.description));
        let _ = writeln!(
            o,
            "<enclosure url=\"{}\" length=\"0\" type=\"audio/mp4\"/>",
            e(&item.enclosure)
        );
        o.push_str("</item>\n");
    }
    o.push_str("</channel>\n</rss>\n");
    o
}

/// A feed item's text: body, term, then the agenda, one item a line.
fn describe(s: &SessionView) -> String {
    let mut d = s.body.clone();
    if let Some(term) = &s.term {
        d.push_str(", ");
        d.push_str(term);
    }
    for a in &s.agenda {
        let _ = write!(d, "\n{}. {}", a.number, a.title);
    }
    d
}

/// The newest ended sessions (of `body` when given), newest recording first.
fn chosen(sessions: &[SessionSummary], body: Option<&str>) -> Vec<i64> {
    let mut ended: Vec<&SessionSummary> = sessions
        .iter()
        .filter(|s| s.state == SessionState::Ended && body.is_none_or(|b| s.body == b))
        .collect();
    ended.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.ended_at.unwrap_or_else(|| session_instant(s))),
            std::cmp::Reverse(s.id),
        )
    });
    ended.into_iter().take(MAX_ITEMS).map(|s| s.id).collect()
}

async fn feed(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    Path(file): Path<String>,
    q: Q,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let req = request(&q, &headers);
    let not_found = || {
        error_page(
            &pages,
            &req,
            StatusCode::NOT_FOUND,
            &pages.text(req.lang, "feed.not_found"),
        )
    };
    let Some(wanted) = file.strip_suffix(".xml").map(str::to_owned) else {
        return not_found();
    };
    let Some(base) = public_base(&headers, &uri) else {
        return error_page(
            &pages,
            &req,
            StatusCode::BAD_REQUEST,
            &pages.text(req.lang, "error.no_host"),
        );
    };
    let w = wanted.clone();
    let loaded = state
        .catalog(move |c| {
            let sessions = c.list_sessions()?;
            let body = if w == ALL {
                None
            } else {
                match sessions.iter().find(|s| slug(&s.body) == w) {
                    Some(s) => Some(s.body.clone()),
                    None => return Ok(None),
                }
            };
            let mut views = Vec::new();
            for id in chosen(&sessions, body.as_deref()) {
                let view = c.get_session(id)?;
                // A withdrawn recording is not offered.
                if view.published {
                    views.push(view);
                }
            }
            let ended_at: HashMap<i64, i64> = sessions
                .iter()
                .map(|s| (s.id, s.ended_at.unwrap_or_else(|| session_instant(s))))
                .collect();
            Ok(Some((body, views, ended_at)))
        })
        .await;
    let (body, views, ended_at) = match loaded {
        Ok(Some(x)) => x,
        Ok(None) => return not_found(),
        Err(e) => {
            return error_page(
                &pages,
                &req,
                StatusCode::INTERNAL_SERVER_ERROR,
                &e.to_string(),
            )
        }
    };
    let site = pages.text(req.lang, "site.name");
    let (title, link) = match &body {
        Some(b) => (
            format!("{site}: {b}"),
            format!("{base}/archiwum?body={}", slug(b)),
        ),
        None => (
            format!("{site}: {}", pages.text(req.lang, "feed.all")),
            format!("{base}/archiwum"),
        ),
    };
    let items = views
        .iter()
        .map(|s| FeedItem {
            title: s.title.clone(),
            link: format!("{base}/sesje/{}", s.id),
            description: describe(s),
            pub_date: ended_at.get(&s.id).and_then(|&ns| rfc2822(ns)),
            enclosure: format!("{base}/vod/sessions/{}/download/session.m4a", s.id),
        })
        .collect();
    let rss = render_rss(&Feed {
        title,
        link,
        self_url: format!("{base}/kanaly/{wanted}.xml"),
        description: pages.text(req.lang, "feed.description"),
        language: req.lang.code().to_owned(),
        items,
    });
    let mut r = rss.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/rss+xml; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Host, Cookie"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_polish_letters_and_punctuation() {
        assert_eq!(
            slug("Rada Miasta Piotrkowa Trybunalskiego"),
            "rada-miasta-piotrkowa-trybunalskiego"
        );
        assert_eq!(
            slug("  Komisja Budżetu i Finansów – ŁÓDŹ!  "),
            "komisja-budzetu-i-finansow-lodz"
        );
        assert_eq!(slug("---"), "");
    }

    #[test]
    fn xml_text_is_escaped_and_cleaned() {
        assert_eq!(
            xml_escape("a<b>&\"c\" 'd'\u{1}\u{FFFF}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;\n"
        );
    }

    #[test]
    fn dates_are_rfc_2822_in_the_councils_zone() {
        assert_eq!(
            rfc2822(1_764_144_300_000_000_000).as_deref(),
            Some("Wed, 26 Nov 2025 09:05:00 +0100")
        );
    }

    #[test]
    fn a_feed_escapes_every_text_and_has_podcast_enclosures() {
        let feed = Feed {
            title: "Obrady: Rada <Miasta> & \"Gminy\"".into(),
            link: "http://h/archiwum?body=a&x=1".into(),
            self_url: "http://h/kanaly/wszystkie.xml".into(),
            description: "d".into(),
            language: "pl".into(),
            items: vec![FeedItem {
                title: "XLV Sesja </title><script>".into(),
                link: "http://h/sesje/1".into(),
                description: "1. Otwarcie\n2. Uchwała <b>".into(),
                pub_date: Some("Wed, 26 Nov 2025 09:05:00 +0100".into()),
                enclosure: "http://h/vod/sessions/1/download/session.m4a".into(),
            }],
        };
        let x = render_rss(&feed);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(x.contains("<title>Obrady: Rada &lt;Miasta&gt; &amp; &quot;Gminy&quot;</title>"));
        assert!(x.contains("<link>http://h/archiwum?body=a&amp;x=1</link>"));
        assert!(x.contains("<title>XLV Sesja &lt;/title&gt;&lt;script&gt;</title>"));
        assert!(x.contains(
            "<enclosure url=\"http://h/vod/sessions/1/download/session.m4a\" length=\"0\" type=\"audio/mp4\"/>"
        ));
        assert!(x.contains("<guid isPermaLink=\"true\">http://h/sesje/1</guid>"));
        assert!(x.contains("<lastBuildDate>Wed, 26 Nov 2025 09:05:00 +0100</lastBuildDate>"));
        assert!(!x.contains("<script>") && !x.contains("<b>"));
        assert_eq!(x.matches("<item>").count(), 1);
        assert!(x.trim_end().ends_with("</channel>\n</rss>"));
    }
}
