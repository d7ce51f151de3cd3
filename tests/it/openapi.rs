//! The OpenAPI document as served, checked by a validator no one here
//! wrote (Python's `openapi-spec-validator`, installed by `make test-deps`
//! into `target/pyvenv`), and `PATCH /api/v1/sessions/{id}` over real HTTP.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::support::{client, heavy, login_admin, server, start};

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

/// The validator's command: `$OPENAPI_SPEC_VALIDATOR`, else the one
/// `.ci/install-deps` puts in `target/pyvenv`.
fn validator() -> PathBuf {
    if let Some(path) = std::env::var_os("OPENAPI_SPEC_VALIDATOR") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyvenv/bin");
    venv.join("openapi-spec-validator")
}

#[tokio::test]
async fn the_served_document_passes_openapi_spec_validator() {
    let validator = validator();
    assert!(
        validator.is_file(),
        "{} is missing: run `make test-deps` (it installs openapi-spec-validator into \
         target/pyvenv), or set OPENAPI_SPEC_VALIDATOR to the validator's path",
        validator.display()
    );
    let r = client()
        .get(server().url("/api/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().await.expect("body");
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "obrady");
    for path in [
        "/api/v1/sessions/{id}",
        "/api/v1/search",
        "/live/{channel}/{rendition}/index.m3u8",
        "/vod/sessions/{id}/download/{file}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(doc["paths"]["/api/v1/sessions/{id}"]["patch"].is_object());

    let file = tempfile::Builder::new()
        .suffix(".json")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), &text).expect("write the document");
    let out = std::process::Command::new(&validator)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", validator.display()));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openapi-spec-validator: {report}");
    assert!(report.contains("OK"), "{report}");
}

#[test]
fn an_operator_corrects_a_session_with_patch() {
    // A server of its own: the shared one has no known admin password.
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, csrf) = login_admin(&base).await;
        let created = client()
            .post(format!("{base}/api/v1/sessions"))
            .header("Cookie", &cookie)
            .header("X-CSRF-Token", &csrf)
            .body(FIXTURE)
            .send()
            .await
            .expect("request");
        assert_eq!(created.status(), 201);
        let id = created.json::<Value>().await.expect("JSON")["id"]
            .as_i64()
            .expect("id");
        let url = format!("{base}/api/v1/sessions/{id}");
        let patch = |body: Value| {
            client()
                .patch(&url)
                .header("Cookie", &cookie)
                .header("X-CSRF-Token", &csrf)
                .header("Content-Type", "application/json")
                .body(body.to_string())
        };

        // The title changes; what is absent stays, null clears.
        let r = patch(json!({"title": "XLV Sesja Rady Miasta (poprawiona)", "place": null}))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        let session: Value = r.json().await.expect("JSON");
        assert_eq!(session["title"], "XLV Sesja Rady Miasta (poprawiona)");
        assert_eq!(session["place"], Value::Null);
        assert_eq!(session["kind"], "zwyczajna");
        let shown: Value = client()
            .get(&url)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert_eq!(shown["title"], "XLV Sesja Rady Miasta (poprawiona)");

        // An unknown field is refused, naming it; so is a bad value.
        for (body, named) in [
            (json!({"title": "x", "colour": "red"}), "colour"),
            (
                json!({"scheduled_start": "26.11.2025 9:00"}),
                "scheduled_start",
            ),
            (json!({"title": ""}), "title"),
            (json!({}), "nothing to change"),
        ] {
            let r = patch(body.clone()).send().await.expect("request");
            assert_eq!(r.status(), 422, "{body}");
            let error: Value = r.json().await.expect("JSON");
            let message = error["error"].as_str().unwrap_or_default();
            assert!(message.contains(named), "{body}: {message}");
        }

        // Anonymous: 401; the cookie without its CSRF token: 403.
        let r = client()
            .patch(&url)
            .header("Content-Type", "application/json")
            .body(json!({"title": "x"}).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401);
        let r = client()
            .patch(&url)
            .header("Cookie", &cookie)
            .header("Content-Type", "application/json")
            .body(json!({"title": "x"}).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 403);
        let r = patch(json!({"title": "x"})).send().await.expect("request");
        assert_eq!(r.status(), 200);
        let r = client()
            .patch(format!("{base}/api/v1/sessions/9999"))
            .header("Cookie", &cookie)
            .header("X-CSRF-Token", &csrf)
            .body(json!({"title": "x"}).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 404);
    });
}
