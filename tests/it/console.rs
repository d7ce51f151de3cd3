//! The operator's console over HTTP: the login page, the console pages
//! (redirected to the login without one, rendered with it), and the
//! side-effect-free agenda check (`POST /api/v1/sessions/preview`) the
//! console shows before anything is saved.

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
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Console {
    base: String,
    cookie: String,
    csrf: String,
}

impl Console {
    async fn page(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let mut req = client().get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.text().await.expect("body"), headers)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (u16, Value) {
        let r = client()
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .header("Content-Type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn sessions(&self) -> Value {
        let r = client()
            .get(format!("{}/api/v1/sessions", self.base))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.expect("JSON")["sessions"].clone()
    }
}

#[test]
fn the_console_needs_a_login_and_checks_an_agenda_before_saving_it() {
    // The server runs its own encoder next to the shared one.
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, csrf) = login_admin(&base).await;
        let c = Console {
            base: base.clone(),
            cookie: cookie.clone(),
            csrf,
        };

        // The login page: a form with labels, the next page kept, no-JS help.
        let (status, html, headers) = c.page("/logowanie?next=/konsola/sesje/1", None).await;
        assert_eq!(status, 200);
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        for needle in [
            "id=\"login-form\"",
            "<label for=\"login-username\">",
            "<label for=\"login-password\">",
            "autocomplete=\"current-password\"",
            "id=\"login-next\" value=\"/konsola/sesje/1\"",
            "role=\"alert\"",
            "<noscript>",
            "src=\"/console.js\"",
        ] {
            assert!(html.contains(needle), "{needle}: {html}");
        }
        // Another host is never a next page.
        let (_, html, _) = c.page("/logowanie?next=//evil.example/", None).await;
        assert!(
            html.contains("id=\"login-next\" value=\"/konsola\""),
            "{html}"
        );
        let (_, html, _) = c.page("/logowanie?lang=en", None).await;
        assert!(
            html.contains("<html lang=\"en\">") && html.contains("Log in"),
            "{html}"
        );
        // Posted without JavaScript: the page says the console needs it.
        let r = client()
            .post(format!("{base}/logowanie"))
            .form(&[("username", "admin"), ("password", "x")])
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("id=\"login-posted\""));

        // Without a login the console redirects to the login page, which comes back.
        for (path, next) in [
            ("/konsola", "/konsola"),
            ("/konsola/sesje/1", "/konsola/sesje/1"),
        ] {
            let (status, _, headers) = c.page(path, None).await;
            assert_eq!(status, 303, "{path}");
            assert_eq!(
                headers["location"],
                format!("/logowanie?next={next}").as_str(),
                "{path}"
            );
            assert_eq!(headers["cache-control"], "no-store");
            let (status, _, _) = c.page(path, Some("obrady_session=made-up")).await;
            assert_eq!(status, 303, "{path} with an unknown session cookie");
        }

        // Logged in: the console with no sessions yet, the logout button, the form.
        let (status, html, headers) = c.page("/konsola", Some(&cookie)).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(headers["cache-control"], "no-store");
        for needle in [
            "id=\"no-sessions\"",
            "data-action=\"logout\"",
            "id=\"agenda-file\"",
            "data-action=\"preview\"",
            "id=\"save-button\" data-action=\"save\" disabled",
            "id=\"console-data\"",
            "aria-live=\"polite\"",
        ] {
            assert!(html.contains(needle), "{needle}: {html}");
        }

        // The check: the fixture as it would be created, and nothing stored.
        let before = c.sessions().await;
        let (status, draft) = c
            .send(
                reqwest::Method::POST,
                "/api/v1/sessions/preview",
                "application/json",
                FIXTURE,
            )
            .await;
        assert_eq!(status, 200, "{draft}");
        assert_eq!(
            draft["title"],
            "XLV Sesja Rady Miasta Piotrkowa Trybunalskiego"
        );
        assert_eq!(draft["agenda"].as_array().map(Vec::len), Some(15));
        assert_eq!(draft["agenda"][7]["number"], "7a");
        // A CSV agenda with the session's details in the query.
        let csv = "numer;tytuł;projekt uchwały\n1;Otwarcie sesji;\n2;Zamknięcie sesji;\n";
        let (status, draft) = c
            .send(
                reqwest::Method::POST,
                "/api/v1/sessions/preview?title=XLVI%20Sesja&body=Rada%20Miasta",
                "text/csv",
                csv,
            )
            .await;
        assert_eq!(status, 200, "{draft}");
        assert_eq!(draft["title"], "XLVI Sesja");
        assert_eq!(draft["agenda"][1]["title"], "Zamknięcie sesji");
        // Invalid: 422 naming the field or line.
        let twice = FIXTURE.replacen("\"number\": \"7a\"", "\"number\": \"7\"", 1);
        for (query, content_type, body, field) in [
            ("", "application/json", twice.as_str(), "agenda[7].number"),
            ("", "application/json", "{\"title\": \"x\"}", "line 1"),
            ("?body=Rada", "text/csv", csv, "title"),
            ("?title=T&body=B", "text/csv", "numer,tytuł\n1,\n", "line 2"),
            (
                "?title=T&body=B&scheduled_start=jutro",
                "text/csv",
                csv,
                "scheduled_start",
            ),
        ] {
            let (status, e) = c
                .send(
                    reqwest::Method::POST,
                    &format!("/api/v1/sessions/preview{query}"),
                    content_type,
                    body,
                )
                .await;
            assert_eq!(status, 422, "{query} {body}: {e}");
            let message = e["error"].as_str().unwrap_or_default();
            assert!(message.starts_with(field), "{field}: {message}");
        }
        let (status, _) = c
            .send(
                reqwest::Method::POST,
                "/api/v1/sessions/preview?nonsense=1",
                "text/csv",
                csv,
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(c.sessions().await, before, "a check stores nothing");
        // Anonymous, or without the CSRF token: refused.
        let r = client()
            .post(format!("{base}/api/v1/sessions/preview"))
            .header("Content-Type", "application/json")
            .body(FIXTURE)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401);
        let r = client()
            .post(format!("{base}/api/v1/sessions/preview"))
            .header("Cookie", &cookie)
            .header("Content-Type", "application/json")
            .body(FIXTURE)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 403);

        // Saved: listed in the console with its state, and its page has the agenda.
        let (status, created) = c
            .send(
                reqwest::Method::POST,
                "/api/v1/sessions",
                "application/json",
                FIXTURE,
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        let (status, html, _) = c
            .page(&format!("/konsola?utworzono={id}"), Some(&cookie))
            .await;
        assert_eq!(status, 200);
        for needle in [
            format!("<tr data-session=\"{id}\" data-state=\"planned\">"),
            format!("href=\"/konsola/sesje/{id}\""),
            format!("id=\"created-notice\" role=\"status\" tabindex=\"-1\" data-session=\"{id}\""),
            "XLV Sesja Rady Miasta Piotrkowa Trybunalskiego".to_owned(),
        ] {
            assert!(html.contains(&needle), "{needle}: {html}");
        }

        let (status, html, _) = c.page(&format!("/konsola/sesje/{id}"), Some(&cookie)).await;
        assert_eq!(status, 200, "{html}");
        for needle in [
            "id=\"state-banner\" data-state=\"planned\"",
            "ZAPLANOWANA",
            "data-action=\"start\" id=\"btn-start\">",
            "data-action=\"recess\" id=\"btn-recess\" aria-keyshortcuts=\"p\" disabled>",
            "data-action=\"next-item\" id=\"btn-next\" aria-keyshortcuts=\"n j\"",
            "<li class=\"item\" data-item=\"7a\">",
            "data-action=\"begin-item\" data-item=\"7a\" disabled>",
            "<dialog id=\"private-dialog\"",
            "value=\"art. 61 ust. 3 Konstytucji RP\"",
            "<dialog id=\"stop-dialog\"",
            "data-stream=\"/live/main/360p/index.m3u8\"",
            "/vendor/hls.js/hls.min.js",
            "id=\"signal\" data-channel=\"main\" hidden",
            "id=\"console-texts\"",
        ] {
            assert!(html.contains(needle), "{needle}: {html}");
        }
        assert_eq!(html.matches("data-action=\"begin-item\"").count(), 15);

        // Once started, the buttons follow: begin items, recess; not start.
        let (status, _) = c
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/sessions/{id}/start"),
                "application/json",
                "",
            )
            .await;
        assert_eq!(status, 200);
        let (status, _) = c
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/sessions/{id}/items/7/begin"),
                "application/json",
                "",
            )
            .await;
        assert_eq!(status, 200);
        let (_, html, _) = c
            .page(&format!("/konsola/sesje/{id}?lang=en"), Some(&cookie))
            .await;
        for needle in [
            "<html lang=\"en\">",
            "id=\"state-banner\" data-state=\"live\"",
            "LIVE",
            "data-action=\"start\" id=\"btn-start\" disabled>",
            "data-action=\"recess\" id=\"btn-recess\" aria-keyshortcuts=\"p\">",
            "data-action=\"begin-item\" data-item=\"7a\">",
            "<li class=\"item current begun\" data-item=\"7\" aria-current=\"step\">",
            "id=\"next-item-text\" data-item=\"7a\"",
        ] {
            assert!(html.contains(needle), "{needle}: {html}");
        }
        let (status, _) = c
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/sessions/{id}/stop"),
                "application/json",
                "",
            )
            .await;
        assert_eq!(status, 200);

        // Unknown sessions: a 404 page in the console's words.
        let (status, html, _) = c.page("/konsola/sesje/999", Some(&cookie)).await;
        assert_eq!(status, 404);
        assert!(html.contains("Nie ma takiej sesji"), "{html}");
        let (status, _, _) = c.page("/konsola/sesje/abc", Some(&cookie)).await;
        assert_eq!(status, 404);

        // A staff member is sent to the login page, which says why.
        let (status, _) = c
            .send(
                reqwest::Method::POST,
                "/api/v1/users",
                "application/json",
                &json!({"username": "ewa", "role": "staff", "password": "ewa's long password"})
                    .to_string(),
            )
            .await;
        assert_eq!(status, 201);
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
        let (status, _, headers) = c.page("/konsola", Some(&staff)).await;
        assert_eq!(status, 303);
        assert_eq!(headers["location"], "/logowanie?next=/konsola");
        let (_, html, _) = c.page("/logowanie?next=/konsola", Some(&staff)).await;
        assert!(
            html.contains("data-role=\"staff\"") && html.contains("rol"),
            "{html}"
        );
        assert!(!html.contains("id=\"login-continue\""), "{html}");
        let (_, html, _) = c.page("/logowanie", Some(&cookie)).await;
        assert!(html.contains("id=\"login-continue\""), "{html}");
    });
}
