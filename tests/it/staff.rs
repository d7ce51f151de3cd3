//! The staff pages over HTTP: `/pracownicy` (search, filters) and
//! `/pracownicy/sesje/{id}` (clip form, BIP snippet) for a staff account
//! an admin created; anonymous visitors are sent to the login page; the
//! clip's download link gives a playable MP4 of a recorded session.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{heavy, login_admin, start};

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get(
    base: &str,
    path: &str,
    cookie: Option<&str>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut req = client().get(format!("{base}{path}"));
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.expect("body"), headers)
}

async fn post(base: &str, path: &str, cookie: &str, csrf: &str, body: &str) -> (u16, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .header("Cookie", cookie)
        .header("X-CSRF-Token", csrf)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The value of `attr="..."` in the first tag that contains `marker`.
fn attr_of(html: &str, marker: &str, attr: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker}: {html}"));
    let tag_start = html[..at].rfind('<').expect("tag");
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').expect("tag end")];
    let key = format!("{attr}=\"");
    let v = &tag[tag.find(&key).unwrap_or_else(|| panic!("{attr} in {tag}")) + key.len()..];
    v[..v.find('"').expect("quote")].replace("&amp;", "&")
}

/// The top-level MP4 boxes of `bytes`, in order.
fn boxes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&bytes[i + 4..i + 8]).into_owned());
        if size < 8 {
            break;
        }
        i += size;
    }
    out
}

#[test]
fn staff_find_a_session_clip_it_and_copy_its_bip_snippet() {
    // The server runs its own encoder next to the shared one.
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (admin, csrf) = login_admin(&base).await;

        // A session, recorded for a few seconds with two items.
        let (status, created) = post(&base, "/api/v1/sessions", &admin, &csrf, FIXTURE).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        for path in ["start", "items/1/begin"] {
            let (status, v) = post(
                &base,
                &format!("/api/v1/sessions/{id}/{path}"),
                &admin,
                &csrf,
                "",
            )
            .await;
            assert_eq!(status, 200, "{path}: {v}");
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (status, _) = post(
            &base,
            &format!("/api/v1/sessions/{id}/items/2/begin"),
            &admin,
            &csrf,
            "",
        )
        .await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (status, _) = post(
            &base,
            &format!("/api/v1/sessions/{id}/stop"),
            &admin,
            &csrf,
            "",
        )
        .await;
        assert_eq!(status, 200);
        crate::support::wait_until_recorded(&base, id).await;

        // A staff account, made by the admin.
        let (status, v) = post(
            &base,
            "/api/v1/users",
            &admin,
            &csrf,
            &json!({"username": "ewa", "role": "staff", "password": "ewa's long password"})
                .to_string(),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        let r = client()
            .post(format!("{base}/api/v1/login"))
            .json(&json!({"username": "ewa", "password": "ewa's long password"}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 200);
        let staff = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();

        // Anonymous: to the login page, which comes back here.
        for (path, next) in [
            ("/pracownicy".to_owned(), "/pracownicy".to_owned()),
            (
                format!("/pracownicy/sesje/{id}"),
                format!("/pracownicy/sesje/{id}"),
            ),
        ] {
            let (status, _, headers) = get(&base, &path, None).await;
            assert_eq!(status, 303, "{path}");
            assert_eq!(
                headers["location"],
                format!("/logowanie?next={next}").as_str()
            );
            assert_eq!(headers["cache-control"], "no-store");
        }

        // The list and the search, with filters.
        let (status, html, headers) = get(&base, "/pracownicy", Some(&staff)).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(headers["cache-control"], "no-store");
        for needle in [
            format!("<tr data-session=\"{id}\" data-state=\"ended\">"),
            format!("href=\"/pracownicy/sesje/{id}\""),
            "<label for=\"state\">".to_owned(),
            "data-role=\"staff\"".to_owned(),
            "href=\"/pracownicy\" aria-current=\"page\"".to_owned(),
        ] {
            assert!(html.contains(&needle), "{needle}: {html}");
        }
        let (_, html, _) = get(&base, "/pracownicy?state=planned", Some(&staff)).await;
        assert!(html.contains("id=\"no-sessions\""), "{html}");
        let (_, html, _) = get(
            &base,
            "/pracownicy?q=nieruchomosci&state=ended",
            Some(&staff),
        )
        .await;
        assert!(
            html.contains(&format!("href=\"/pracownicy/sesje/{id}#punkt-7\"")),
            "{html}"
        );
        let (_, html, _) = get(
            &base,
            "/pracownicy?q=nieruchomosci&state=live",
            Some(&staff),
        )
        .await;
        assert!(!html.contains("class=\"hit\""), "{html}");

        // The session's page: player, agenda downloads, clip form, snippet.
        let page = format!("/pracownicy/sesje/{id}");
        let (status, html, _) = get(&base, &page, Some(&staff)).await;
        assert_eq!(status, 200, "{html}");
        let host = o.addr.clone();
        for needle in [
            "<label for=\"clip-from\">".to_owned(),
            "id=\"clip-set-from\"".to_owned(),
            format!("data-vod=\"/vod/sessions/{id}/index.m3u8\""),
            format!("href=\"/vod/sessions/{id}/download/items/1.mp4\""),
            "<label for=\"bip-snippet\">".to_owned(),
            "src=\"/staff.js\"".to_owned(),
            format!("&lt;iframe src=&quot;http://{host}/embed/sesje/{id}&quot;"),
            format!("&lt;a href=&quot;http://{host}/sesje/{id}#punkt-1&quot;&gt;1. Otwarcie sesji"),
            format!("http://{host}/vod/sessions/{id}/download/items/2.m4a"),
            format!("http://{host}/vod/sessions/{id}/download/session.mp4"),
        ] {
            assert!(html.contains(&needle), "{needle}: {html}");
        }
        // Nothing of the snippet is markup of this page.
        let area = &html[html.find("id=\"bip-snippet\"").unwrap()..];
        let area = &area[..area.find("</textarea>").unwrap()];
        assert!(!area[area.find('>').unwrap() + 1..].contains('<'), "{area}");

        // Clip errors, said in the page.
        let (status, html, _) = get(&base, &format!("{page}?from=0:05&to=2"), Some(&staff)).await;
        assert_eq!(status, 400);
        assert!(html.contains("id=\"clip-errors\" role=\"alert\""), "{html}");
        assert!(html.contains("aria-invalid=\"true\""), "{html}");
        let (status, html, _) =
            get(&base, &format!("{page}?from=1&to=2h&lang=en"), Some(&staff)).await;
        assert_eq!(status, 400);
        assert!(html.contains("Beyond the end of the recording"), "{html}");
        let (status, html, _) = get(
            &base,
            &format!("{page}?from=jutro&pobierz=mp4"),
            Some(&staff),
        )
        .await;
        assert_eq!(status, 400, "no download with a bad time");
        assert!(html.contains("Nieprawidłowy czas"), "{html}");

        // A good clip: the links, and the no-script form's redirect.
        let (status, html, _) =
            get(&base, &format!("{page}?from=0m1s&to=0:04"), Some(&staff)).await;
        assert_eq!(status, 200, "{html}");
        let mp4 = attr_of(&html, "id=\"clip-mp4\"", "href");
        assert_eq!(
            mp4,
            format!("/vod/sessions/{id}/download/session.mp4?from=1&to=4")
        );
        assert_eq!(
            attr_of(&html, "id=\"clip-m4a\"", "href"),
            format!("/vod/sessions/{id}/download/session.m4a?from=1&to=4")
        );
        let (status, _, headers) = get(
            &base,
            &format!("{page}?from=1&to=4&pobierz=mp4"),
            Some(&staff),
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(headers["location"], mp4.as_str());

        // The clip plays: an MP4 with its header first.
        let r = client()
            .get(format!("{base}{mp4}"))
            .send()
            .await
            .expect("download");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "video/mp4");
        let bytes = r.bytes().await.expect("body");
        let b = boxes(&bytes);
        assert_eq!(b.first().map(String::as_str), Some("ftyp"), "{b:?}");
        assert!(
            b.iter().position(|x| x == "moov") < b.iter().position(|x| x == "mdat"),
            "{b:?}"
        );
        assert!(
            b.iter().any(|x| x == "moov") && b.iter().any(|x| x == "mdat"),
            "{b:?}"
        );
    });
}
