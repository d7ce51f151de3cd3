//! The lower third is drawn in the picture: after an agenda item begins,
//! its line ("Punkt 1: …") is in the decoded frames of the live output and
//! of the recording; the operator's speaker and vote banner change it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{
    client, decode_frames, decode_url_frames, get_bytes, get_text, heavy, login_admin,
    parse_playlist, start, wait_until_recorded, Api, FIXTURE,
};

const W: usize = 128;
const H: usize = 72;

/// The share of the bottom-left quarter's band (the lower third's place:
/// bottom 20 %, left half) that is not the magenta card.
fn covered(frame: &[u8]) -> f64 {
    let (mut total, mut other) = (0, 0);
    for y in H * 4 / 5..H {
        for x in 0..W / 2 {
            let p = &frame[(y * W + x) * 3..(y * W + x) * 3 + 3];
            total += 1;
            if !(p[0] > 200 && p[1] < 60 && p[2] > 200) {
                other += 1;
            }
        }
    }
    f64::from(other) / f64::from(total)
}

/// The frames of the last `n` whole segments of the live 720p rendition.
async fn live_frames(base: &str, n: usize) -> Vec<Vec<u8>> {
    let dir = format!("{base}/live/main/720p");
    let p = parse_playlist(&get_text(&format!("{dir}/index.m3u8")).await);
    let mut bytes = get_bytes(&format!("{dir}/{}", p.map)).await;
    let whole: Vec<_> = p.segments.iter().filter(|s| s.uri.is_some()).collect();
    for s in &whole[whole.len().saturating_sub(n)..] {
        bytes.extend(get_bytes(&format!("{dir}/{}", s.uri.as_deref().expect("uri"))).await);
    }
    decode_frames(&bytes, W, H)
}

#[test]
fn the_current_items_lower_third_is_in_the_live_picture_and_the_recording() {
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        crate::support::wait_live(&base, "720p").await;
        let (cookie, csrf) = login_admin(&base).await;
        let api = Api {
            base: base.clone(),
            cookie,
            csrf,
        };
        use reqwest::Method;
        let (st, _) = api
            .send(Method::PUT, "/api/v1/channels/main/test-scene", json!({ "scene": "card" }))
            .await;
        assert_eq!(st, 200);
        let id = api.start_fixture_session("main").await;
        let s = |a: &str| format!("/api/v1/sessions/{id}/{a}");

        // Before any item: the card, nothing at the bottom.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let before = live_frames(&base, 1).await;
        let worst_before = before.iter().map(|f| covered(f)).fold(0.0, f64::max);
        assert!(
            !before.is_empty() && worst_before < 0.02,
            "something at the bottom before any item: {worst_before:.3}"
        );

        let (st, _) = api.send(Method::POST, &s("items/1/begin"), json!({})).await;
        assert_eq!(st, 200);
        let (_, g) = api.send(Method::GET, "/api/v1/channels/main/graphics", Value::Null).await;
        let caption = g["caption"].as_str().unwrap_or_default().to_owned();
        assert!(caption.starts_with("Punkt 1: "), "{g}");
        tokio::time::sleep(Duration::from_secs(5)).await;
        let after = live_frames(&base, 1).await;
        let shown = after.iter().filter(|f| covered(f) > 0.05).count();
        eprintln!(
            "live: the lower third covers {:.1} % of its band in {shown} of {} frames (before: {:.1} %)",
            100.0 * after.iter().map(|f| covered(f)).fold(0.0, f64::max),
            after.len(),
            100.0 * worst_before
        );
        assert!(
            shown == after.len() && !after.is_empty(),
            "the lower third is in {shown} of {} live frames",
            after.len()
        );

        // The operator's speaker and vote banner, then off.
        let (st, g) = api
            .send(
                Method::PUT,
                "/api/v1/channels/main/graphics",
                json!({ "speaker": { "name": "Anna Kowalska", "role": "radna" } }),
            )
            .await;
        assert_eq!((st, g["caption"].as_str()), (200, Some("Anna Kowalska  radna")), "{g}");
        let (st, g) = api
            .send(Method::PUT, "/api/v1/channels/main/graphics", json!({ "vote": true }))
            .await;
        assert_eq!(st, 200);
        assert!(g["caption"].as_str().is_some_and(|c| c.starts_with("Głosowanie")), "{g}");
        let (st, g) = api
            .send(
                Method::PUT,
                "/api/v1/channels/main/graphics",
                json!({ "speaker": { "name": "" } }),
            )
            .await;
        assert_eq!(st, 422, "{g}");
        assert!(g["error"].as_str().unwrap_or_default().contains("speaker.name") || g.to_string().contains("speaker.name"), "{g}");
        let (st, _) = api
            .send(
                Method::PUT,
                "/api/v1/channels/main/graphics",
                json!({ "vote": false, "speaker": null }),
            )
            .await;
        assert_eq!(st, 200);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(api.send(Method::POST, &s("stop"), json!({})).await.0, 200);

        // The recording of item 1 carries it too.
        wait_until_recorded(&base, id).await;
        let url = format!("{base}/vod/sessions/{id}/items/1/720p/index.m3u8");
        let recorded = tokio::task::spawn_blocking(move || decode_url_frames(&url, W, H))
            .await
            .expect("decode");
        let shown = recorded.iter().filter(|f| covered(f) > 0.05).count();
        eprintln!("recording of item 1: the lower third in {shown} of {} frames", recorded.len());
        assert!(
            recorded.len() >= 100 && shown * 10 >= recorded.len() * 9,
            "the lower third is in {shown} of {} recorded frames of item 1",
            recorded.len()
        );
    });
}

#[test]
fn after_a_restart_the_live_sessions_current_item_is_in_the_lower_third_again() {
    let _guard = heavy();
    let data = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let first = crate::support::start_in(data.path(), &[]);
    let id = rt.block_on(async {
        let base = format!("http://{}", first.addr);
        let (cookie, csrf) = login_admin(&base).await;
        let api = Api {
            base: base.clone(),
            cookie,
            csrf,
        };
        use reqwest::Method;
        let (st, created) = api
            .send(
                Method::POST,
                "/api/v1/sessions",
                serde_json::from_str(FIXTURE).expect("fixture"),
            )
            .await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (st, v) = api
                .send(
                    Method::POST,
                    &format!("/api/v1/sessions/{id}/start"),
                    json!({}),
                )
                .await;
            if st == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "cannot start: {st} {v}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let (st, _) = api
            .send(
                Method::POST,
                &format!("/api/v1/sessions/{id}/items/2/begin"),
                json!({}),
            )
            .await;
        assert_eq!(st, 200);
        id
    });
    drop(first);
    let second = crate::support::start_in(data.path(), &[]);
    rt.block_on(async {
        let base = format!("http://{}", second.addr);
        let g: Value = client()
            .get(format!("{base}/api/v1/channels/main/graphics"))
            .send()
            .await
            .expect("graphics")
            .json()
            .await
            .expect("JSON");
        assert!(
            g["caption"]
                .as_str()
                .is_some_and(|c| c.starts_with("Punkt 2: ")),
            "session {id} is still live on main: {g}"
        );
    });
}
