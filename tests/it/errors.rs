//! Bad requests get a 4xx that says what is wrong, never a 5xx or a panic;
//! unknown names get 404.

use crate::support::{client, get_text, parse_playlist, server};

async fn status_and_body(path: &str) -> (u16, String) {
    let r = client()
        .get(server().url(path))
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn malformed_delivery_directives_get_400_with_a_reason() {
    for query in [
        "_HLS_msn=-1",
        "_HLS_msn=abc",
        "_HLS_msn=",
        "_HLS_msn=1e3",
        "_HLS_msn=99999999999999999999999999",
        "_HLS_part=1",
        "_HLS_msn=5&_HLS_part=-2",
        "_HLS_msn=5&_HLS_part=x",
        "_HLS_msn=5&_HLS_part=99999999999",
    ] {
        let (status, body) = status_and_body(&format!("/live/main/720p/index.m3u8?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body.contains("_HLS_"),
            "{query}: the message names the parameter: {body}"
        );
    }
}

#[tokio::test]
async fn a_request_too_far_ahead_gets_400_at_once() {
    let p = parse_playlist(&get_text(&server().url("/live/main/720p/index.m3u8")).await);
    let last = p.segments.last().expect("segments").msn;
    for query in [
        format!("_HLS_msn={}", last + 3),
        format!("_HLS_msn={}&_HLS_part=0", last + 3),
        format!("_HLS_msn={last}&_HLS_part=40"),
        format!("_HLS_msn={}", u64::MAX),
    ] {
        let started = std::time::Instant::now();
        let (status, body) = status_and_body(&format!("/live/main/720p/index.m3u8?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains("too far ahead"), "{query}: {body}");
        assert!(started.elapsed().as_secs() < 1, "{query} was held");
    }
}

#[tokio::test]
async fn unknown_names_get_404() {
    let p = parse_playlist(&get_text(&server().url("/live/main/720p/index.m3u8")).await);
    let first = p.segments.first().expect("segments").msn;
    let run = p.run();
    for path in [
        "/live/nosuch/index.m3u8".to_owned(),
        "/live/nosuch/720p/index.m3u8".to_owned(),
        "/live/main/1080p/index.m3u8".to_owned(),
        "/live/main/1080p/init.mp4".to_owned(),
        "/live/main/720p/whatever.m4s".to_owned(),
        "/live/main/720p/init-0.mp4".to_owned(),
        format!("/live/main/720p/seg-{run}-{}.m4s", first.saturating_sub(1)),
        format!("/live/main/720p/seg-{run}-{}.m4s", first + 1000),
        format!("/live/main/720p/part-{run}-{}.99.m4s", first),
        format!("/live/main/720p/part-{run}-{}.0.m4s", first + 1000),
        format!("/live/main/720p/seg-0-{first}.m4s"),
        "/live/main/720p/seg-zz-1.m4s".to_owned(),
        "/no/such/page".to_owned(),
    ] {
        let (status, body) = status_and_body(&path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // A person who mistyped a page address gets a page that says what to do.
    let (_, body) = status_and_body("/no/such/page").await;
    assert!(
        body.contains("Nie znaleziono strony") && body.contains("href=\"/\""),
        "{body}"
    );
    // The server is still well after all that.
    let (status, _) = status_and_body("/live/main/index.m3u8").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn health_lists_the_live_channel() {
    let text = get_text(&server().url("/api/v1/health")).await;
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["channels"][0]["id"], "main");
    assert_eq!(v["channels"][0]["live"], true);
}
