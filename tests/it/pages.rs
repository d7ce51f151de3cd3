//! The residents' pages over HTTP against a running obrady: home, a session
//! page, the archive with its search, the embeddable player and oEmbed, the
//! podcast feeds, and the session's Server-Sent Events following items as
//! the operator begins them.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::support::{client, heavy, start};

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

struct Api {
    base: String,
    cookie: String,
    csrf: String,
}

impl Api {
    async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let r = client()
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// GET `path`: status, headers and body.
async fn get(base: &str, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.expect("body"))
}

/// A page that must be there: 200, HTML, our CSP.
async fn page(base: &str, path: &str) -> (reqwest::header::HeaderMap, String) {
    let (status, headers, body) = get(base, path).await;
    assert_eq!(status, 200, "GET {path}:\n{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/html"),
        "GET {path}: {:?}",
        headers["content-type"]
    );
    assert!(
        headers.contains_key("content-security-policy"),
        "GET {path}"
    );
    (headers, body)
}

/// Every `src=`, `href=` and `action=` value of `html`.
fn urls(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\"", "action=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].to_owned());
            }
        }
    }
    out
}

/// No URL on the page points to another host than `host` (the pages make
/// no request elsewhere and link nowhere else).
fn only_our_host(path: &str, html: &str, host: &str) {
    for u in urls(html) {
        let lower = u.to_ascii_lowercase();
        let rest = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"))
            .or_else(|| lower.strip_prefix("//"));
        if let Some(rest) = rest {
            let h = rest.split(['/', '?', '#']).next().unwrap_or("");
            assert_eq!(h, host, "{path}: a URL to another host: {u}");
        }
    }
}

/// One Server-Sent Event.
#[derive(Debug, Default)]
struct Sse {
    event: String,
    data: String,
    retry: Option<u64>,
}

/// Reads events off an `text/event-stream` body.
struct SseReader {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseReader {
    /// The next event (comments skipped), or None when `within` passes.
    async fn next(&mut self, within: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut e = Sse::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        e.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        e.data.push_str(v.trim_start());
                    } else if let Some(v) = line.strip_prefix("retry:") {
                        e.retry = v.trim().parse().ok();
                    }
                }
                if !e.event.is_empty() || !e.data.is_empty() {
                    return Some(e);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??
                .expect("event stream");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// Walks an XML document (quick-xml checks it is well formed and that end
/// tags match); returns the names of the elements in order and the
/// attributes of every `enclosure`.
fn read_xml(text: &str) -> (Vec<String>, Vec<Vec<(String, String)>>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let (mut names, mut enclosures) = (Vec::new(), Vec::new());
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Empty(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if name == "enclosure" {
                    enclosures.push(
                        e.attributes()
                            .map(|a| {
                                let a = a.expect("attribute");
                                (
                                    String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                                    a.unescape_value().expect("value").into_owned(),
                                )
                            })
                            .collect(),
                    );
                }
                names.push(name);
            }
            Ok(Event::Text(t)) => {
                t.unescape().expect("text unescapes");
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed XML at {}: {e}\n{text}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "unclosed elements:\n{text}");
    (names, enclosures)
}

#[test]
fn residents_follow_a_session_live_and_find_it_in_the_archive() {
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let host = o.addr.to_ascii_lowercase();
        crate::support::wait_live(&base, "720p").await;
        let (cookie, csrf) = crate::support::login_admin(&base).await;
        let api = Api { base: base.clone(), cookie, csrf };

        // An empty archive and feed first.
        let (_, archive) = page(&base, "/archiwum").await;
        assert!(archive.contains("id=\"archive-form\""), "{archive}");
        let (status, _, feed) = get(&base, "/kanaly/wszystkie.xml").await;
        assert_eq!(status, 200);
        let (names, _) = read_xml(&feed);
        assert!(names.starts_with(&["rss".to_owned(), "channel".to_owned()]), "{names:?}");

        let (status, created) = api.post("/api/v1/sessions", FIXTURE).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        let s = |action: &str| format!("/api/v1/sessions/{id}/{action}");

        // A planned session's page: the agenda, no player yet.
        let (_, planned) = page(&base, &format!("/sesje/{id}")).await;
        assert!(planned.contains("id=\"punkt-7a\"") && planned.contains("id=\"not-started\""));
        assert!(planned.contains(&format!("data-events=\"/api/v1/sessions/{id}/events\"")));

        // The event stream: the state at once.
        let sse_client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let r = sse_client
            .get(format!("{base}/api/v1/sessions/{id}/events"))
            .send()
            .await
            .expect("events");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let mut events = SseReader { stream: r.bytes_stream().boxed(), buf: String::new() };
        let first = events.next(Duration::from_secs(5)).await.expect("a first event at once");
        assert_eq!(first.event, "session");
        assert_eq!(first.retry, Some(3000));
        let first: Value = serde_json::from_str(&first.data).expect("JSON");
        assert_eq!(first["state"], "planned", "{first}");
        assert_eq!(first["current"], Value::Null);

        // Start and begin items: each change reaches the stream.
        let (status, body) = api.post(&s("start"), "{}").await;
        assert_eq!(status, 200, "{body}");
        let e = events.next(Duration::from_secs(2)).await.expect("an event after the start");
        let e: Value = serde_json::from_str(&e.data).expect("JSON");
        assert_eq!(e["state"], "live", "{e}");
        for number in ["1", "5"] {
            let (status, body) = api.post(&s(&format!("items/{number}/begin")), "{}").await;
            assert_eq!(status, 200, "{body}");
            let e = events.next(Duration::from_secs(2)).await.expect("an event after the item");
            let e: Value = serde_json::from_str(&e.data).expect("JSON");
            assert_eq!(e["current"], number, "{e}");
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
        let asked = Instant::now();
        let (status, body) = api.post(&s("items/7a/begin"), "{}").await;
        assert_eq!(status, 200, "{body}");
        let e = events.next(Duration::from_secs(2)).await.expect("a second event within 2 s");
        assert!(asked.elapsed() < Duration::from_secs(3));
        let e: Value = serde_json::from_str(&e.data).expect("JSON");
        assert_eq!(e["current"], "7a", "{e}");
        assert_eq!(e["private"], false);
        let marks = e["timeline"].as_array().expect("timeline");
        assert_eq!(marks.len(), 4, "{e}");
        assert_eq!(marks[3]["kind"], "item");
        assert_eq!(marks[3]["number"], "7a");
        assert_eq!(marks[3]["at"].as_str().map(str::len), Some(19), "{e}");
        // A refused change sends nothing.
        let (status, _) = api.post(&s("items/99z/begin"), "{}").await;
        assert_eq!(status, 422);
        assert!(events.next(Duration::from_millis(700)).await.is_none());
        tokio::time::sleep(Duration::from_millis(2500)).await;

        // The home page shows the live session.
        let (_, home) = page(&base, "/").await;
        assert!(home.contains(&format!("href=\"/sesje/{id}\"")), "{home}");
        only_our_host("/", &home, &host);

        // The session page: live player, item 7a current, chapters, oEmbed.
        let (headers, session) = page(&base, &format!("/sesje/{id}")).await;
        assert!(headers["content-security-policy"].to_str().unwrap_or("").contains("frame-ancestors 'none'"));
        assert!(session.contains("data-stream=\"/live/main/index.m3u8\""), "{session}");
        assert!(session.contains(&format!("data-vod=\"/vod/sessions/{id}/index.m3u8\"")));
        assert!(session.contains(&format!("data-chapters=\"/vod/sessions/{id}/chapters.vtt\"")));
        assert!(session.contains("<li id=\"punkt-7a\" data-number=\"7a\" class=\"item current\" aria-current=\"true\">"), "{session}");
        assert!(session.contains("<a class=\"watch\" href=\"#punkt-5\" data-number=\"5\">"));
        assert!(!session.contains("href=\"#punkt-8\""), "item 8 was not taken up");
        let oembed_link = format!(
            "<link rel=\"alternate\" type=\"application/json+oembed\" href=\"http://{host}/oembed?url=http%3A%2F%2F{}%2Fsesje%2F{id}&amp;format=json\"",
            host.replace(':', "%3A")
        );
        assert!(session.contains(&oembed_link), "{oembed_link}\n{session}");
        only_our_host("/sesje", &session, &host);
        let (_, en) = page(&base, &format!("/sesje/{id}?lang=en")).await;
        assert!(en.contains("<html lang=\"en\">") && en.contains("Play from this item"));
        // The chapter cue ids the page's links look for.
        let (_, _, vtt) = get(&base, &format!("/vod/sessions/{id}/chapters.vtt")).await;
        assert!(vtt.contains("\npunkt-1\n") && vtt.contains("\npunkt-5\n"), "{vtt}");
        // The script and the player it extends are served.
        for script in ["/session.js", "/player.js"] {
            let (status, _, js) = get(&base, script).await;
            assert_eq!(status, 200, "{script}");
            assert!(js.contains("window.obrady"), "{script}");
        }

        // The embeddable player: frameable, minimal, our host only.
        let (headers, embed) = page(&base, &format!("/embed/sesje/{id}")).await;
        let csp = headers["content-security-policy"].to_str().unwrap_or("");
        assert!(!csp.contains("frame-ancestors") && csp.contains("default-src 'self'"), "{csp}");
        assert!(embed.contains("class=\"agenda chapter-menu\"") && embed.contains("id=\"player\""));
        assert!(!embed.contains("class=\"site-header\""));
        only_our_host("/embed", &embed, &host);
        let (status, _, _) = get(&base, "/embed/sesje/999999").await;
        assert_eq!(status, 404);

        // oEmbed.
        let page_url = format!("http://{host}/sesje/{id}");
        let q = |extra: &str| format!("/oembed?url={}{extra}", urlencode(&page_url));
        let (status, headers, body) = get(&base, &q("&format=json")).await;
        assert_eq!(status, 200, "{body}");
        assert!(headers["content-type"].to_str().unwrap_or("").starts_with("application/json"));
        let o: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(o["version"], "1.0");
        assert_eq!(o["type"], "video");
        assert_eq!(o["title"], "XLV Sesja Rady Miasta Piotrkowa Trybunalskiego");
        assert!(o["provider_name"].as_str().is_some_and(|n| !n.is_empty()));
        assert_eq!((o["width"].as_u64(), o["height"].as_u64()), (Some(640), Some(480)));
        let html = o["html"].as_str().expect("html");
        assert!(html.starts_with(&format!("<iframe src=\"http://{host}/embed/sesje/{id}\"")), "{html}");
        let (_, _, body) = get(&base, &q("&maxwidth=320&maxheight=200")).await;
        let o: Value = serde_json::from_str(&body).expect("JSON");
        assert!(o["width"].as_u64() <= Some(320) && o["height"].as_u64() <= Some(200), "{o}");
        let (status, _, _) = get(&base, &q("&format=xml")).await;
        assert_eq!(status, 501);
        for other in [
            format!("http://elsewhere.example/sesje/{id}"),
            format!("http://{host}/archiwum"),
            format!("http://{host}/sesje/999999"),
        ] {
            let (status, _, body) = get(&base, &format!("/oembed?url={}", urlencode(&other))).await;
            assert_eq!(status, 404, "{other}: {body}");
        }

        // The archive lists the session under its body and term; search
        // without Polish letters finds the items, each linked into the
        // recording.
        let (_, archive) = page(&base, "/archiwum").await;
        assert!(archive.contains("<h2 id=\"body-rada-miasta-piotrkowa-trybunalskiego\">Rada Miasta Piotrkowa Trybunalskiego</h2>"), "{archive}");
        assert!(archive.contains("<h3>IX kadencja 2024-2029</h3>"));
        assert!(archive.contains(&format!("href=\"/sesje/{id}\"")));
        assert!(archive.contains("type=\"application/rss+xml\" title="));
        only_our_host("/archiwum", &archive, &host);
        let (_, found) = page(&base, "/archiwum?q=uchwala").await;
        assert!(found.contains("id=\"hit-count\""), "{found}");
        assert!(found.contains(&format!("href=\"/sesje/{id}#punkt-5\"")), "{found}");
        assert!(found.contains("<mark>uchwały</mark>"), "{found}");
        let count = found
            .split("id=\"hit-count\"")
            .nth(1)
            .and_then(|s| s.split('>').nth(1))
            .unwrap_or("");
        assert!(count.contains("Znaleziono"), "{count}");
        only_our_host("/archiwum?q=", &found, &host);
        let (_, none) = page(&base, "/archiwum?q=uchwala&from=2000-01-01&to=2000-01-02").await;
        assert!(none.contains("Znaleziono 0 wyników."), "{none}");
        let (_, filtered) = page(&base, "/archiwum?body=inna-rada").await;
        assert!(!filtered.contains(&format!("href=\"/sesje/{id}\"")));

        // Stop: the stream says so; the feeds list the recording.
        let (status, body) = api.post(&s("stop"), "{}").await;
        assert_eq!(status, 200, "{body}");
        let e = events.next(Duration::from_secs(2)).await.expect("an event after the stop");
        let e: Value = serde_json::from_str(&e.data).expect("JSON");
        assert_eq!(e["state"], "ended");
        assert_eq!(e["current"], Value::Null);
        drop(events);

        for feed_path in ["/kanaly/wszystkie.xml", "/kanaly/rada-miasta-piotrkowa-trybunalskiego.xml"] {
            let (status, headers, feed) = get(&base, feed_path).await;
            assert_eq!(status, 200, "{feed_path}: {feed}");
            assert!(headers["content-type"].to_str().unwrap_or("").starts_with("application/rss+xml"));
            let (names, enclosures) = read_xml(&feed);
            assert_eq!(names.iter().filter(|n| *n == "item").count(), 1, "{feed}");
            let enclosure = &enclosures[0];
            let attr = |k: &str| enclosure.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            let url = format!("http://{host}/vod/sessions/{id}/download/session.m4a");
            assert_eq!(attr("url"), Some(url.as_str()));
            assert_eq!(attr("type"), Some("audio/mp4"));
            assert_eq!(attr("length"), Some("0"));
            assert!(feed.contains(&format!("<link>http://{host}/sesje/{id}</link>")));
            assert!(feed.contains("<pubDate>"));
            // The enclosure plays.
            let r = client().get(&url).header("Range", "bytes=0-1023").send().await.expect("audio");
            assert!(r.status().is_success(), "{url}: {}", r.status());
        }
        let (status, _, _) = get(&base, "/kanaly/nie-ma-takiej-rady.xml").await;
        assert_eq!(status, 404);
        let (status, _, _) = get(&base, "/kanaly/wszystkie").await;
        assert_eq!(status, 404);

        // An ended session's page plays the recording.
        let (_, ended) = page(&base, &format!("/sesje/{id}")).await;
        assert!(ended.contains(&format!("data-stream=\"/vod/sessions/{id}/index.m3u8\" data-mode=\"vod\"")), "{ended}");
        let (status, _, _) = get(&base, "/api/v1/sessions/999999/events").await;
        assert_eq!(status, 404);
    });
}

/// Percent-encodes a query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
