//! The embeddable player and its oEmbed endpoint.
//!
//! `/embed/sesje/{id}`: the player and the chapter menu of one session, and
//! nothing else, served with [`super::EMBED_CONTENT_SECURITY_POLICY`] so
//! other sites (BIP, the city's website) may frame it. It loads only our
//! own scripts and media, like every page.
//!
//! `GET /oembed?url=...&format=json` (oEmbed 1.0): for a session page's URL
//! on this host, a `video` response whose `html` is an iframe of the
//! embedded player; `maxwidth`/`maxheight` are honoured. A URL that is not
//! one of our session pages is 404, `format=xml` (or anything but json)
//! 501. Absolute URLs use the request's host (see [`super::public_base`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;

use super::views::{public_session, request, Q};
use super::{escape_html, html, public_base, value, Pages};
use crate::http::{ApiError, AppState, ErrorBody};

/// The embedded player's size when the consumer does not limit it: a 16:9
/// video plus the chapter menu below it.
pub const DEFAULT_WIDTH: u32 = 640;
pub const DEFAULT_HEIGHT: u32 = 480;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/embed/sesje/{id}", get(embed))
        .route("/oembed", get(oembed))
}

async fn embed(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    Path(id): Path<String>,
    q: Q,
    headers: HeaderMap,
) -> Response {
    let req = request(&q, &headers);
    let page = match public_session(&state, &id, &headers).await {
        Ok(p) => p,
        // An error inside a frame: the embed template, so it may be framed.
        Err(m) => {
            let mut r = m.page(&pages, &req);
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(super::EMBED_CONTENT_SECURITY_POLICY),
            );
            return r;
        }
    };
    html(
        &pages,
        &req,
        StatusCode::OK,
        "embed_session.html",
        value(&page),
    )
}

/// The session id of `url` if it is one of our session pages
/// (`{scheme}://{host}/sesje/{id}`, any query or fragment, either scheme):
/// `base` is ours, `http://host[:port]`.
pub fn session_of_url(url: &str, base: &str) -> Option<i64> {
    let host = base.split_once("://").map(|(_, h)| h)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (authority, path) = rest.split_at(rest.find('/')?);
    if !authority.eq_ignore_ascii_case(host) {
        return None;
    }
    let path = path.split(['?', '#']).next()?;
    let id = path.strip_prefix("/sesje/")?.trim_end_matches('/');
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse::<i64>().ok().filter(|&n| n > 0)
}

/// The size to offer within `maxwidth` × `maxheight`, keeping 4:3 (the
/// video and its chapter menu).
pub fn embed_size(maxwidth: Option<u32>, maxheight: Option<u32>) -> (u32, u32) {
    let mut w = DEFAULT_WIDTH;
    if let Some(mw) = maxwidth {
        w = w.min(mw);
    }
    if let Some(mh) = maxheight {
        w = w.min(mh.saturating_mul(4) / 3);
    }
    // Never more than asked (oEmbed forbids it), however small.
    let w = w.max(1);
    (w, (w * DEFAULT_HEIGHT / DEFAULT_WIDTH).max(1))
}

/// An oEmbed 1.0 `video` response.
#[derive(Debug, Serialize, PartialEq)]
pub struct OEmbed {
    pub version: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub provider_name: String,
    pub provider_url: String,
    pub html: String,
    pub width: u32,
    pub height: u32,
}

/// The iframe that embeds `src`.
pub fn iframe(src: &str, title: &str, width: u32, height: u32) -> String {
    format!(
        "<iframe src=\"{}\" width=\"{width}\" height=\"{height}\" title=\"{}\" \
         style=\"border:0\" allow=\"autoplay; fullscreen; picture-in-picture\" \
         allowfullscreen loading=\"lazy\"></iframe>",
        escape_html(src),
        escape_html(title)
    )
}

fn dimension(q: &Q, name: &str) -> Option<u32> {
    q.get(name)?.trim().parse::<u32>().ok().filter(|&n| n > 0)
}

async fn oembed(
    State(state): State<AppState>,
    Extension(pages): Extension<Arc<Pages>>,
    q: Q,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let req = request(&q, &headers);
    let mut r = match oembed_reply(&state, &pages, &q, &headers, &uri, req.lang).await {
        Ok(reply) => Json(reply).into_response(),
        Err(e) => e,
    };
    // Consumers may ask from a browser.
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

async fn oembed_reply(
    state: &AppState,
    pages: &Pages,
    q: &Q,
    headers: &HeaderMap,
    uri: &Uri,
    lang: super::i18n::Lang,
) -> Result<OEmbed, Response> {
    match q.get("format").map(String::as_str) {
        None | Some("json") => {}
        Some(other) => {
            let body = ErrorBody {
                error: format!("format: only json is implemented, not {other:?}"),
            };
            return Err((StatusCode::NOT_IMPLEMENTED, Json(body)).into_response());
        }
    }
    let Some(url) = q.get("url") else {
        return Err(
            ApiError::BadRequest("url: the URL to embed is missing".into()).into_response(),
        );
    };
    let Some(base) = public_base(headers, uri) else {
        return Err(
            ApiError::BadRequest("the request names no host (Host header)".into()).into_response(),
        );
    };
    let not_ours = || {
        ApiError::NotFound(format!("url: {url:?} is not a session page of {base}")).into_response()
    };
    let Some(id) = session_of_url(url, &base) else {
        return Err(not_ours());
    };
    let session = state
        .catalog(move |c| c.get_session(id))
        .await
        .map_err(IntoResponse::into_response)?;
    if !session.published && !crate::http::after::signed_in(state, headers).await {
        return Err(ApiError::NotFound(format!(
            "url: {}",
            crate::http::after::withdrawn_message(&session)
        ))
        .into_response());
    }
    let (width, height) = embed_size(dimension(q, "maxwidth"), dimension(q, "maxheight"));
    let src = match q.get("lang").map(String::as_str) {
        Some(l @ ("pl" | "en")) => format!("{base}/embed/sesje/{id}?lang={l}"),
        _ => format!("{base}/embed/sesje/{id}"),
    };
    Ok(OEmbed {
        version: "1.0",
        kind: "video",
        html: iframe(&src, &session.title, width, height),
        title: session.title,
        provider_name: pages.text(lang, "site.name"),
        provider_url: format!("{base}/"),
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_session_pages_are_embedded() {
        let base = "http://rada.example:8080";
        assert_eq!(
            session_of_url("http://rada.example:8080/sesje/12", base),
            Some(12)
        );
        assert_eq!(
            session_of_url("https://RADA.example:8080/sesje/12/", base),
            Some(12)
        );
        assert_eq!(
            session_of_url("http://rada.example:8080/sesje/12?t=1h#punkt-7a", base),
            Some(12)
        );
        for url in [
            "http://other.example/sesje/12",
            "http://rada.example/sesje/12",
            "http://rada.example:8080/archiwum",
            "http://rada.example:8080/sesje/",
            "http://rada.example:8080/sesje/0",
            "http://rada.example:8080/sesje/12/x",
            "http://rada.example:8080/sesje/-1",
            "http://rada.example:8080.evil/sesje/1",
            "http://user@rada.example:8080/sesje/1",
            "ftp://rada.example:8080/sesje/1",
            "/sesje/1",
            "http://rada.example:8080",
        ] {
            assert_eq!(session_of_url(url, base), None, "{url}");
        }
    }

    #[test]
    fn the_size_honours_maxwidth_and_maxheight() {
        assert_eq!(embed_size(None, None), (640, 480));
        assert_eq!(embed_size(Some(320), None), (320, 240));
        assert_eq!(embed_size(Some(2000), Some(300)), (400, 300));
        assert_eq!(embed_size(Some(10), None), (10, 7));
    }

    #[test]
    fn the_public_base_is_the_requests_host() {
        let uri: Uri = "/oembed".parse().unwrap();
        let mut h = HeaderMap::new();
        assert_eq!(public_base(&h, &uri), None);
        h.insert(header::HOST, "Rada.example:8080".parse().unwrap());
        assert_eq!(
            public_base(&h, &uri).as_deref(),
            Some("http://rada.example:8080")
        );
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(
            public_base(&h, &uri).as_deref(),
            Some("https://rada.example:8080")
        );
        for bad in ["evil.example/x", "a@b", "a b", ""] {
            h.insert(header::HOST, bad.parse().unwrap());
            assert_eq!(public_base(&h, &uri), None, "{bad}");
        }
        let absolute: Uri = "https://[::1]:8443/sesje/1".parse().unwrap();
        assert_eq!(
            public_base(&HeaderMap::new(), &absolute).as_deref(),
            Some("https://[::1]:8443")
        );
    }

    #[test]
    fn polish_plurals() {
        use crate::pages::{i18n::Lang, plural};
        let pl = |n| plural(Lang::Pl, n);
        assert_eq!(
            [pl(1), pl(2), pl(4), pl(5), pl(12), pl(22), pl(25), pl(0)],
            ["one", "few", "few", "many", "many", "few", "many", "many"]
        );
        assert_eq!([plural(Lang::En, 1), plural(Lang::En, 2)], ["one", "many"]);
    }

    #[test]
    fn the_embed_page_may_be_framed_and_the_others_not() {
        let pages =
            Pages::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web")).unwrap();
        let req = super::super::PageRequest::from_parts(None, &HeaderMap::new());
        let r = html(
            &pages,
            &req,
            StatusCode::OK,
            "privacy.html",
            minijinja::context! { path => "/" },
        );
        assert!(r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        // Even the error shown when the embed page cannot render may be
        // framed: it shows inside the consumer's frame.
        let r = html(
            &pages,
            &req,
            StatusCode::OK,
            "embed_session.html",
            minijinja::context! {},
        );
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors"));
    }

    #[test]
    fn the_iframe_escapes_the_title() {
        let f = iframe("http://h/embed/sesje/1", "A \"B\" <C>", 640, 480);
        assert!(
            f.starts_with("<iframe src=\"http://h/embed/sesje/1\" width=\"640\" height=\"480\"")
        );
        assert!(f.contains("title=\"A &quot;B&quot; &lt;C&gt;\""));
    }
}
