//! A session is broadcast and recorded on one channel (room), chosen when it
//! starts: `POST /api/v1/sessions/{id}/start` with `{"channel": "..."}`, the
//! default channel without a body. Router-level, two channels, no pipeline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use obrady::archive::store::ArchiveStore;
use obrady::catalog::db::Catalog;
use obrady::catalog::users::Role;
use obrady::config::Config;
use obrady::http::{app_router, AppState};
use obrady::live::{LiveChannel, Timing};
use serde_json::Value;
use tower::ServiceExt;

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

struct App {
    router: axum::Router,
    token: String,
    _dir: tempfile::TempDir,
}

impl App {
    async fn post(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let r = self
            .router
            .clone()
            .oneshot(
                Request::post(path)
                    .header("authorization", format!("Bearer {}", self.token))
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_owned()))
                    .expect("request"),
            )
            .await
            .expect("response");
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn channel_of(&self, id: i64) -> Value {
        let r = self
            .router
            .clone()
            .oneshot(
                Request::get(format!("/api/v1/sessions/{id}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        let session: Value = serde_json::from_slice(&bytes).expect("JSON");
        session["channel"].clone()
    }
}

fn app() -> App {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut catalog = Catalog::open(&dir.path().join("obrady.db")).expect("catalog");
    let rooms = [("main", "Sala sesyjna"), ("komisja", "Sala komisji")];
    let configured: Vec<(String, String)> = rooms
        .iter()
        .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
        .collect();
    catalog
        .sync_channels(&configured, Some("main"))
        .expect("channels");
    let user = catalog
        .create_user("operator", Role::Operator, "a-long-enough-password", "test")
        .expect("user");
    let (_, token) = catalog
        .create_token(user.id, "tests", "test")
        .expect("token");
    let config = Config::embedded_default();
    let timing = Timing {
        part_target: config.hls.part_duration,
        segment_target: config.hls.segment_duration,
        window: config.hls.window,
    };
    let channels: HashMap<String, Arc<LiveChannel>> = rooms
        .iter()
        .map(|(id, name)| {
            let channel = LiveChannel::new(
                (*id).to_owned(),
                (*name).to_owned(),
                obrady::app::renditions(&config),
                timing,
            );
            ((*id).to_owned(), Arc::new(channel))
        })
        .collect();
    let state = AppState {
        channels: Arc::new(channels),
        archive: ArchiveStore::new(dir.path()),
        catalog: Arc::new(Mutex::new(catalog)),
    };
    App {
        router: app_router(state, std::path::PathBuf::from("web")).expect("pages"),
        token,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_session_starts_on_the_channel_it_names_and_only_if_that_channel_is_free() {
    let app = app();
    for _ in 0..3 {
        let (status, body) = app.post("/api/v1/sessions", FIXTURE).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let start = |id: i64| format!("/api/v1/sessions/{id}/start");

    // A channel that does not exist, or a misspelt field, is named.
    let (status, body) = app.post(&start(1), r#"{"channel": "piwnica"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("\"piwnica\"") && error.contains("komisja, main"),
        "{body}"
    );
    let (status, body) = app.post(&start(1), r#"{"kanal": "main"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap_or_default().contains("kanal"),
        "{body}"
    );
    assert_eq!(app.channel_of(1).await, Value::Null, "still planned");

    // Session 1 on the committee room; session 2, without a body, on the
    // default channel.
    let (status, body) = app.post(&start(1), r#"{"channel": "komisja"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["session"]["channel"], "komisja", "{body}");
    assert_eq!(body["session"]["state"], "live", "{body}");
    let (status, body) = app.post(&start(2), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.channel_of(2).await, "main");

    // The committee room is taken by session 1.
    let (status, body) = app.post(&start(3), r#"{"channel": "komisja"}"#).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("channel \"komisja\" is in use by session 1"),
        "{body}"
    );
    assert_eq!(app.channel_of(3).await, Value::Null, "refused: unchanged");

    // Marks go to the session's own channel; once it stops, the room is
    // free again.
    let (status, body) = app.post("/api/v1/sessions/1/items/1/begin", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.post("/api/v1/sessions/1/stop", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["session"]["channel"], "komisja",
        "an ended session keeps it"
    );
    let (status, body) = app.post(&start(3), r#"{"channel": "komisja"}"#).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
