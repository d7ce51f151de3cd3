//! After a session: an item's start corrected (re-cut on keyframes) and the
//! recording withdrawn from publication and published again, over HTTP
//! against a real server and pipeline.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{client, heavy, parse_playlist, start};

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
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = client()
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get_as_admin(&self, path: &str) -> (u16, String) {
        let r = client()
            .get(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.text().await.expect("body"))
    }
}

async fn anonymous(base: &str, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

#[test]
fn an_item_start_is_corrected_and_a_recording_withdrawn_and_published_again() {
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        crate::support::wait_live(&base, "720p").await;
        let (cookie, csrf) = crate::support::login_admin(&base).await;
        let api = Api {
            base: base.clone(),
            cookie,
            csrf,
        };
        use reqwest::Method;
        let (status, created) = api
            .send(
                Method::POST,
                "/api/v1/sessions",
                Some(serde_json::from_str(FIXTURE).expect("fixture")),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        let s = |action: &str| format!("/api/v1/sessions/{id}/{action}");
        let (status, body) = api.send(Method::POST, &s("start"), None).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = api.send(Method::POST, &s("items/1/begin"), None).await;
        assert_eq!(status, 200, "{body}");
        tokio::time::sleep(Duration::from_millis(5500)).await;
        let (status, body) = api.send(Method::POST, &s("items/2/begin"), None).await;
        assert_eq!(status, 200, "{body}");
        let item2_seq = body["mark"]["seq"].as_i64().expect("seq");
        let item2_wall = body["mark"]["wall_ns"].as_i64().expect("wall");

        // Not while the item is live.
        let (status, body) = api
            .send(Method::PUT, &s(&format!("marks/{item2_seq}")), Some(json!({ "wall_ns": item2_wall - 2_000_000_000 })))
            .await;
        assert_eq!(status, 409, "{body}");

        tokio::time::sleep(Duration::from_millis(4500)).await;
        let (status, body) = api.send(Method::POST, &s("stop"), None).await;
        assert_eq!(status, 200, "{body}");
        // The last segments reach the catalog.
        crate::support::wait_until_recorded(&base, id).await;

        let vod = |p: &str| format!("/vod/sessions/{id}/{p}");
        let (_, chapters_before) = anonymous(&base, &vod("chapters.vtt")).await;
        let (status, item2_before) = anonymous(&base, &vod("items/2/720p/index.m3u8")).await;
        assert_eq!(status, 200, "{item2_before}");
        let (_, item1_before) = anonymous(&base, &vod("items/1/720p/index.m3u8")).await;
        let item2_before = parse_playlist(&item2_before);
        let item1_before = parse_playlist(&item1_before);
        let (_, session_before) = api.send(Method::GET, &format!("/api/v1/sessions/{id}"), None).await;

        // Bad inputs name the field and change nothing.
        let timeline_before = session_before["timeline"].clone();
        for (seq, body, want, field) in [
            (1, json!({ "wall_ns": item2_wall }), 422, "seq"),
            (99, json!({ "wall_ns": item2_wall }), 404, "seq"),
            (item2_seq, json!({ "at": "25:99" }), 422, "at"),
            (item2_seq, json!({ "at": "9 rano" }), 422, "at"),
            (item2_seq, json!({ "wall_ns": item2_wall - 3_600_000_000_000 }), 422, "wall_ns"),
            (item2_seq, json!({ "wall_ns": item2_wall + 3_600_000_000_000 }), 422, "wall_ns"),
            (item2_seq, json!({}), 422, "wall_ns"),
            (item2_seq, json!({ "wall_ns": 1, "when": 2 }), 422, "when"),
        ] {
            let (status, reply) = api.send(Method::PUT, &s(&format!("marks/{seq}")), Some(body.clone())).await;
            assert_eq!(status, want, "{seq} {body}: {reply}");
            assert!(error_of(&reply).contains(field), "{seq} {body}: {reply}");
        }
        let (_, session_now) = api.send(Method::GET, &format!("/api/v1/sessions/{id}"), None).await;
        assert_eq!(session_now["timeline"], timeline_before, "a refused correction changed the timeline");

        // Item 2 two seconds earlier: it lands on a segment boundary.
        let (status, reply) = api
            .send(Method::PUT, &s(&format!("marks/{item2_seq}")), Some(json!({ "wall_ns": item2_wall - 2_000_000_000 })))
            .await;
        assert_eq!(status, 200, "{reply}");
        println!("correction: {}", json!({ "requested": reply["requested_ns"], "wall_ns": reply["wall_ns"], "at": reply["at"], "msn": reply["msn"] }));
        let snapped = reply["wall_ns"].as_i64().expect("wall_ns");
        let msn = reply["msn"].as_u64().expect("msn");
        assert!(snapped < item2_wall && snapped > item2_wall - 4_000_000_000, "{reply}");
        assert_eq!(reply["mark"]["wall_ns"], snapped, "{reply}");
        assert_eq!(reply["mark"]["recorded_wall_ns"], item2_wall, "{reply}");
        let session_after: Value = reply["session"].clone();
        assert_eq!(session_after["timeline"][item2_seq as usize - 1]["wall_ns"], snapped);

        let (_, item2_after) = anonymous(&base, &vod("items/2/720p/index.m3u8")).await;
        let (_, item1_after) = anonymous(&base, &vod("items/1/720p/index.m3u8")).await;
        let item2_after = parse_playlist(&item2_after);
        let item1_after = parse_playlist(&item1_after);
        let gained = item2_after.segments.len() as i64 - item2_before.segments.len() as i64;
        println!("item 2: {} → {} segments; item 1: {} → {}", item2_before.segments.len(), item2_after.segments.len(), item1_before.segments.len(), item1_after.segments.len());
        assert!(gained >= 1, "item 2 gained no segment");
        assert_eq!(item1_before.segments.len() as i64 - item1_after.segments.len() as i64, gained, "item 1 gives them up");
        let first_uri = item2_after.segments.first().and_then(|x| x.uri.clone()).unwrap_or_default();
        assert!(first_uri.ends_with(&format!("/{msn}.m4s")), "item 2 starts at the snapped segment {msn}: {first_uri}");
        let (_, chapters_after) = anonymous(&base, &vod("chapters.vtt")).await;
        assert_ne!(chapters_before, chapters_after, "the chapters follow the correction");
        println!("chapters after:\n{chapters_after}");

        // Withdraw: a reason is required.
        let (status, body) = api.send(Method::POST, &s("unpublish"), Some(json!({}))).await;
        assert_eq!(status, 422, "{body}");
        assert!(error_of(&body).contains("reason"), "{body}");
        let reason = "wniosek o ochronę wizerunku z 2025-12-01";
        let (status, body) = api.send(Method::POST, &s("unpublish"), Some(json!({ "reason": reason }))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["published"], false);
        assert_eq!(body["withdrawal"]["reason"], reason);
        let (status, body) = api.send(Method::POST, &s("unpublish"), Some(json!({ "reason": reason }))).await;
        assert_eq!(status, 409, "twice: {body}");

        for path in [vod("index.m3u8"), vod("720p/index.m3u8"), vod("chapters.vtt"), vod("items/2/720p/index.m3u8"), vod("download/session.m4a")] {
            let (status, text) = anonymous(&base, &path).await;
            assert!(status == 410 || status == 404, "{path}: {status} {text}");
            assert!(text.contains("withdrawn"), "{path}: {text}");
        }
        let (status, page) = anonymous(&base, &format!("/sesje/{id}")).await;
        assert_eq!(status, 410, "{page}");
        assert!(page.contains("wycofane z publikacji") && page.contains(reason), "{page}");
        let (status, _) = anonymous(&base, &format!("/embed/sesje/{id}")).await;
        assert_eq!(status, 410);
        let (_, hits) = anonymous(&base, "/api/v1/search?q=XLV").await;
        let hits: Value = serde_json::from_str(&hits).expect("JSON");
        assert!(!hits["hits"].as_array().expect("hits").iter().any(|h| h["session_id"] == id), "{hits}");
        let (_, feed) = anonymous(&base, "/kanaly/wszystkie.xml").await;
        assert!(!feed.contains(&format!("/sesje/{id}")), "{feed}");

        // Logged in, it is all still there.
        let (status, text) = api.get_as_admin(&vod("index.m3u8")).await;
        assert_eq!(status, 200, "{text}");
        let (status, page) = api.get_as_admin(&format!("/sesje/{id}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("withdrawn-notice"), "{page}");
        let (status, hits) = api.get_as_admin("/api/v1/search?q=XLV").await;
        assert_eq!(status, 200);
        assert!(hits.contains(&format!("\"session_id\":{id}")), "{hits}");

        // Published again.
        let (status, body) = api.send(Method::POST, &s("publish"), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["published"], true);
        let (status, text) = anonymous(&base, &vod("index.m3u8")).await;
        assert_eq!(status, 200, "{text}");
        let (status, _) = anonymous(&base, &format!("/sesje/{id}")).await;
        assert_eq!(status, 200);
        let (_, hits) = anonymous(&base, "/api/v1/search?q=XLV").await;
        assert!(hits.contains(&format!("\"session_id\":{id}")), "{hits}");
    });
}
