//! The HTML pages, rendered on the server so they work without JavaScript,
//! load fast on a phone and can be indexed. Scripts (`web/*.js`) only play
//! video and apply live updates.
//!
//! Templates are `web/templates/*.html` (minijinja), texts are the message
//! catalogues `web/locales/{pl,en}.toml` (see [`i18n`]); both are read once
//! at start, and an error names the file and line. Pages use only the
//! catalog and the channels' state, the same data as the JSON API: nothing
//! here waits on a pipeline.
//!
//! Every page is served with a Content-Security-Policy that allows our own
//! origin only: no page can make a request to another host.

mod archive;
mod console;
mod embed;
pub mod feeds;
pub mod i18n;
mod staff;
pub(crate) mod views;

pub use views::{local_time, TIME_ZONE};

use std::path::Path;
use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::http::AppState;
use i18n::{Catalogues, Lang};

/// Allows our own origin only. `blob:` is for hls.js (a MediaSource object
/// URL for `<video>`, an inline worker).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The same, for pages meant to be framed by other sites (`/embed/...`).
pub const EMBED_CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; media-src 'self' blob:; worker-src 'self' blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// Templates and texts, loaded once.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
    pub texts: Arc<Catalogues>,
}

#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    #[error("cannot read the templates in {dir}")]
    Read { dir: String, source: std::io::Error },
    #[error("template {0}")]
    Template(String),
    #[error(transparent)]
    Texts(#[from] i18n::CatalogueError),
}

impl Pages {
    /// Reads `{web_dir}/templates` and `{web_dir}/locales`.
    pub fn load(web_dir: &Path) -> Result<Pages, PagesError> {
        let texts = Arc::new(Catalogues::load(&web_dir.join("locales"))?);
        let dir = web_dir.join("templates");
        let mut env = Environment::new();
        let read_err = |source| PagesError::Read {
            dir: dir.display().to_string(),
            source,
        };
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(read_err)? {
            let path = entry.map_err(read_err)?.path();
            if path.extension().is_some_and(|e| e == "html") {
                names.push(path);
            }
        }
        names.sort();
        for path in names {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let source = std::fs::read_to_string(&path).map_err(read_err)?;
            env.add_template_owned(name, source)
                .map_err(|e| PagesError::Template(describe(&e)))?;
        }
        let t = texts.clone();
        // t("key"): the text in the page's language (`lang` in the context).
        env.add_function(
            "t",
            move |state: &minijinja::State, key: &str| -> Result<String, minijinja::Error> {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().and_then(Lang::parse))
                    .unwrap_or_default();
                t.get(lang, key).map(str::to_owned).ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::UndefinedError,
                        format!("no text {key:?} in the {} message catalogue", lang.code()),
                    )
                })
            },
        );
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        // HTML-escape strings as the HTML spec needs (& < > " '), without
        // minijinja's extra escaping of "/", which makes URLs unreadable in
        // the page source.
        env.set_formatter(
            |out, state, value| match (state.auto_escape(), value.as_str()) {
                (minijinja::AutoEscape::Html, Some(s)) if !value.is_safe() => {
                    out.write_str(&escape_html(s)).map_err(|_| {
                        minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write")
                    })
                }
                _ => minijinja::escape_formatter(out, state, value),
            },
        );
        // Every template must compile now, not at the first visit.
        for name in env
            .templates()
            .map(|(n, _)| n.to_owned())
            .collect::<Vec<_>>()
        {
            env.get_template(&name)
                .map_err(|e| PagesError::Template(describe(&e)))?;
        }
        Ok(Pages { env, texts })
    }

    /// Renders `template` with `ctx` plus `lang` and the texts scripts need.
    pub fn render(&self, template: &str, lang: Lang, ctx: Value) -> Result<String, String> {
        let base = minijinja::context! {
            lang => lang.code(),
            other_lang => lang.other().code(),
            script_texts => self.texts.with_prefix(lang, "js."),
        };
        let ctx = minijinja::context! { ..ctx, ..base };
        self.env
            .get_template(template)
            .and_then(|t| t.render(ctx))
            .map_err(|e| describe(&e))
    }

    pub fn text(&self, lang: Lang, key: &str) -> String {
        self.texts.get(lang, key).unwrap_or(key).to_owned()
    }
}

/// `&`, `<`, `>`, `"` and `'` as character references.
pub fn escape_html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A template error with its file and line, and the cause chain.
fn describe(e: &minijinja::Error) -> String {
    let mut s = match (e.name(), e.line()) {
        (Some(name), Some(line)) => format!("{name}, line {line}: {e}"),
        (Some(name), None) => format!("{name}: {e}"),
        _ => e.to_string(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    s
}

/// What a page handler knows about the request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub lang: Lang,
    /// `?lang=` was given: remember it in a cookie.
    pub remember: bool,
}

impl PageRequest {
    pub fn from_parts(query_lang: Option<&str>, headers: &HeaderMap) -> PageRequest {
        let (lang, remember) = i18n::negotiate(query_lang, headers);
        PageRequest { lang, remember }
    }
}

/// An HTML response with our headers; an error page if rendering failed.
pub fn html(
    pages: &Pages,
    req: &PageRequest,
    status: StatusCode,
    template: &str,
    ctx: Value,
) -> Response {
    let (status, body) = match pages.render(template, req.lang, ctx) {
        Ok(body) => (status, body),
        Err(e) => {
            tracing::error!(template, error = %e, "cannot render a page");
            let fallback = pages
                .render(
                    "error.html",
                    req.lang,
                    minijinja::context! { status => 500, message => pages.text(req.lang, "error.internal"), path => "" },
                )
                .unwrap_or_else(|_| "internal error; the details are in the server log".into());
            (StatusCode::INTERNAL_SERVER_ERROR, fallback)
        }
    };
    let csp = if template.starts_with("embed") {
        EMBED_CONTENT_SECURITY_POLICY
    } else {
        CONTENT_SECURITY_POLICY
    };
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if req.remember {
        let cookie = format!(
            "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            i18n::LANG_COOKIE,
            req.lang.code()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

/// An error page (404, 409, ...) in the visitor's language that says what
/// to do.
pub fn error_page(pages: &Pages, req: &PageRequest, status: StatusCode, message: &str) -> Response {
    // A server-side failure: the details go to the log, the visitor gets
    // what to do, in their language.
    let internal;
    let message = if status.is_server_error() {
        tracing::error!(%status, detail = message, "page failed");
        internal = pages.text(req.lang, "error.internal");
        internal.as_str()
    } else {
        message
    };
    html(
        pages,
        req,
        status,
        "error.html",
        minijinja::context! { status => status.as_u16(), message => message, path => "" },
    )
}

/// The pages' routes; `pages` is shared with the handlers as an extension.
pub fn routes(pages: Arc<Pages>) -> Router<AppState> {
    views::routes()
        .merge(archive::routes())
        .merge(embed::routes())
        .merge(feeds::routes())
        .merge(console::routes())
        .merge(staff::routes())
        .layer(Extension(pages))
}

/// The public base URL (`http://host:port`, no trailing slash) the client
/// used to reach us, for the few places that need absolute URLs (oEmbed,
/// feeds). There is no config key for it: the host is the request's own
/// (the URI's authority under HTTP/2, else `Host`), the scheme is https
/// when the request came over TLS or a proxy says so
/// (`X-Forwarded-Proto`), else http. A proxy in front must pass the
/// original `Host` on. `None` when the request names no usable host.
pub fn public_base(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let host = uri.authority().map(|a| a.as_str().to_owned()).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })?;
    // host, host:port, [v6]:port; nothing that could end the authority.
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !valid {
        return None;
    }
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let https = forwarded_https || uri.scheme_str() == Some("https");
    Some(format!(
        "{}://{}",
        if https { "https" } else { "http" },
        host.to_ascii_lowercase()
    ))
}

/// Percent-encodes all but RFC 3986's unreserved characters: a query value
/// or a path segment.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The catalogue key suffix for `n` things: `one`, `few` or `many` (the
/// Polish plural rules; English uses `one` and `many`, its `few` text is
/// the same as `many`).
pub fn plural(lang: Lang, n: usize) -> &'static str {
    if n == 1 {
        return "one";
    }
    match lang {
        Lang::En => "many",
        Lang::Pl => {
            let (units, tens) = (n % 10, n % 100);
            if (2..=4).contains(&units) && !(12..=14).contains(&tens) {
                "few"
            } else {
                "many"
            }
        }
    }
}

/// A serializable view of anything, for templates.
pub fn value<T: Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Pages {
        Pages::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("web")).expect("shipped pages")
    }

    #[test]
    fn every_shipped_page_renders_in_both_languages() {
        let p = pages();
        let card = minijinja::context! {
            id => 1, title => "XLV Sesja", body => "Rada Miasta", state => "ended",
            scheduled => "2025-11-26 09:00", url => "/sesje/1",
        };
        for lang in Lang::ALL {
            let home = p
                .render(
                    "home.html",
                    lang,
                    minijinja::context! {
                        live => Vec::<Value>::new(), upcoming => Vec::<Value>::new(),
                        recent => vec![card.clone()], stream => "/live/main/index.m3u8", path => "/",
                    },
                )
                .unwrap();
            assert!(home.contains(&format!("<html lang=\"{}\">", lang.code())));
            assert!(
                home.contains("/sesje/1") && home.contains("id=\"texts\""),
                "{home}"
            );
            for page in ["privacy.html", "accessibility.html"] {
                p.render(page, lang, minijinja::context! { path => "/x" })
                    .unwrap();
            }
            let e = p
                .render(
                    "error.html",
                    lang,
                    minijinja::context! { status => 404, message => "nope", path => "/x" },
                )
                .unwrap();
            assert!(e.contains("nope") && e.contains("404"));
        }
    }

    #[test]
    fn values_are_escaped_but_urls_stay_readable() {
        let mut p = pages();
        p.env
            .add_template("x.html", "<a href=\"{{ u }}\">{{ s }}</a>")
            .unwrap();
        let out = p
            .render(
                "x.html",
                Lang::Pl,
                minijinja::context! { u => "/sesje/1?a=1&b=2", s => "<b>\"O'R\"</b>" },
            )
            .unwrap();
        assert_eq!(
            out,
            "<a href=\"/sesje/1?a=1&amp;b=2\">&lt;b&gt;&quot;O&#39;R&quot;&lt;/b&gt;</a>"
        );
    }

    #[test]
    fn a_missing_text_is_an_error_naming_the_key() {
        let mut p = pages();
        p.env
            .add_template("bad.html", "{{ t(\"no.such.key\") }}")
            .unwrap();
        let e = p
            .render("bad.html", Lang::En, minijinja::context! {})
            .unwrap_err();
        assert!(e.contains("no.such.key") && e.contains("bad.html"), "{e}");
    }
}
