//! Running a council session over the HTTP API only: log in, create the
//! fixture session, start it, begin items, recess, a non-public part, stop;
//! and what must be refused on the way.

use std::time::{Duration, Instant};

use obrady::cmaf::reader;
use serde_json::{json, Value};

use crate::support::{client, get_bytes, get_text, heavy, parse_playlist, start};

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
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = client()
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let r = client()
            .post(format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn parse_pdt_ns(s: &str) -> i128 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .unix_timestamp_nanos()
}

#[test]
fn an_operator_runs_the_fixture_session_over_http() {
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut item_durations: Vec<(String, f64)> = Vec::new();
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        crate::support::wait_live(&base, "720p").await;

        // Anonymous writes are refused.
        let anon = client().post(format!("{base}/api/v1/sessions")).body(FIXTURE).send().await.expect("request");
        assert_eq!(anon.status(), 401);

        // Log in.
        let (cookie, csrf) = crate::support::login_admin(&base).await;
        let api = Api {
            base: base.clone(),
            cookie,
            csrf,
        };

        // A cookie without the CSRF token is refused.
        let r = client()
            .post(format!("{base}/api/v1/sessions"))
            .header("Cookie", &api.cookie)
            .body(FIXTURE)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 403);

        // Bad agendas name the problem and leave nothing behind.
        let (status, body) = api.post_raw("/api/v1/sessions", "{\"body\": \"Rada\",").await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"].as_str().unwrap_or("").contains("line"), "{body}");
        let dup = FIXTURE.replacen("\"number\": \"2\"", "\"number\": \"1\"", 1);
        let (status, body) = api.post_raw("/api/v1/sessions", &dup).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"].as_str().unwrap_or("").contains("used twice"), "{body}");
        let list: Value = serde_json::from_str(&get_text(&format!("{base}/api/v1/sessions")).await).expect("JSON");
        assert_eq!(list["sessions"].as_array().map(Vec::len), Some(0), "{list}");

        // Create the fixture session.
        let (status, created) = api.post_raw("/api/v1/sessions", FIXTURE).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        let s = |action: &str| format!("/api/v1/sessions/{id}/{action}");

        let (status, body) = api.post(&s("stop"), json!({})).await;
        assert_eq!(status, 409, "stopping a session that is not live: {body}");
        let (status, body) = api.post(&s("start"), json!({})).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = api.post(&s("start"), json!({})).await;
        assert_eq!(status, 409, "starting twice: {body}");

        // Items 1, 2, 5 and 7a a few seconds apart; each starts a segment.
        let mut items = Vec::new();
        for number in ["1", "2", "5", "7a"] {
            let (status, body) = api.post(&s(&format!("items/{number}/begin")), json!({})).await;
            assert_eq!(status, 200, "{body}");
            let msn = body["segment"].as_u64().expect("the item's first segment");
            let wall = body["mark"]["wall_ns"].as_i64().expect("mark time");
            items.push((number, msn, wall));
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
        let (status, body) = api.post(&s("items/99z/begin"), json!({})).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"].as_str().unwrap_or("").contains("99z"), "{body}");

        // The live playlists show the items as date ranges.
        let live = get_text(&format!("{base}/live/main/360p/index.m3u8")).await;
        for (number, _, _) in &items[2..] {
            assert!(live.contains(&format!("X-NUMBER=\"{number}\"")), "item {number} missing:\n{live}");
        }

        for (action, body) in [
            ("recess", json!({ "reason": "przerwa techniczna" })),
            ("resume", json!({})),
            ("private/begin", json!({ "reason": "dane osobowe", "legal_basis": "art. 5 ust. 2 ustawy o dostępie do informacji publicznej" })),
            ("private/end", json!({})),
            ("stop", json!({})),
        ] {
            let (status, resp) = api.post(&s(action), body).await;
            assert_eq!(status, 200, "{action}: {resp}");
            if action != "stop" {
                tokio::time::sleep(Duration::from_millis(2500)).await;
            }
        }
        let (status, body) = api.post(&s("private/begin"), json!({ "reason": "x" })).await;
        assert!(status == 409 || status == 422, "{body}");

        let session: Value = serde_json::from_str(&get_text(&format!("{base}/api/v1/sessions/{id}")).await).expect("JSON");
        assert_eq!(session["state"], "ended");
        let kinds: Vec<&str> = session["timeline"].as_array().expect("timeline").iter().map(|m| m["kind"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["start", "item", "item", "item", "item", "recess", "resume", "private_start", "private_end", "stop"]);

        // Each item starts exactly at a segment boundary: in the archive, its
        // first segment begins with a keyframe at the instant of the mark.
        let live = parse_playlist(&get_text(&format!("{base}/live/main/720p/index.m3u8")).await);
        let run = live.run();
        let archived = parse_playlist(&get_text(&format!("{base}/archive/main/{run}/720p/index.m3u8")).await);
        for (number, msn, wall) in &items {
            let seg = archived.segments.iter().find(|x| x.msn == *msn).unwrap_or_else(|| panic!("segment {msn} of item {number} is not archived"));
            let diff = (parse_pdt_ns(&seg.pdt) - i128::from(*wall)).abs();
            assert!(diff <= 40_000_000, "item {number}: segment starts {diff} ns from the mark");
            let bytes = get_bytes(&format!("{base}/archive/main/{run}/720p/{msn}.m4s")).await;
            let frags = reader::fragments(&bytes).expect("fragments");
            assert!(frags[0].sync[0], "item {number}: segment {msn} does not start with a keyframe");
        }

        // The session's recording: one VOD presentation, breaks marked, as
        // long as the public parts of the broadcast (within one segment).
        let marks = session["timeline"].as_array().expect("timeline").clone();
        let at = |kind: &str| marks.iter().find(|m| m["kind"] == kind).and_then(|m| m["wall_ns"].as_i64()).expect("mark") as f64 / 1e9;
        let public = (at("recess") - at("start")) + (at("private_start") - at("resume")) + (at("stop") - at("private_end"));
        crate::support::wait_until_recorded(&base, id).await;
        let vod_text = get_text(&format!("{base}/vod/sessions/{id}/720p/index.m3u8")).await;
        assert!(vod_text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && vod_text.contains("#EXT-X-ENDLIST"), "{vod_text}");
        assert_eq!(vod_text.matches("#EXT-X-DISCONTINUITY").count(), 2, "a break at the recess and at the non-public part:\n{vod_text}");
        let vod = parse_playlist(&vod_text);
        let listed: f64 = vod.segments.iter().filter_map(|x| x.duration).sum();
        assert!((listed - public).abs() <= 2.0, "the recording lasts {listed:.2} s, the public broadcast {public:.2} s");

        // Each item's playlist starts with a keyframe at the item's instant.
        for (number, _, wall) in &items {
            let text = get_text(&format!("{base}/vod/sessions/{id}/items/{number}/720p/index.m3u8")).await;
            let p = parse_playlist(&text);
            let first = p.segments.first().unwrap_or_else(|| panic!("item {number} has no segment:\n{text}"));
            let diff = (parse_pdt_ns(&first.pdt) - i128::from(*wall)).abs();
            assert!(diff <= 40_000_000, "item {number} starts {diff} ns from its mark");
            let bytes = get_bytes(&format!("{base}{}", first.uri.as_ref().expect("uri"))).await;
            assert!(reader::fragments(&bytes).expect("fragments")[0].sync[0], "item {number}: no keyframe first");
            item_durations.push((number.to_string(), p.segments.iter().filter_map(|x| x.duration).sum::<f64>()));
        }

        // WebVTT chapters list the items in order.
        let vtt = get_text(&format!("{base}/vod/sessions/{id}/chapters.vtt")).await;
        assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
        let positions: Vec<usize> = ["\n1. Otwarcie", "\n2. Przyjęcie", "\n5. Podjęcie", "\n7a. Podjęcie"]
            .iter()
            .map(|c| vtt.find(c).unwrap_or_else(|| panic!("chapter {c:?} missing:\n{vtt}")))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "chapters out of order:\n{vtt}");
    });

    // Each item downloads as an MP4 that ffprobe reads with the item's
    // duration (within one segment); the name says what it is.
    for (number, expected) in &item_durations {
        let url = format!(
            "http://{}/vod/sessions/1/download/items/{number}.mp4",
            o.addr
        );
        let (disposition, bytes) = rt.block_on(async {
            let r = client().get(&url).send().await.expect("download");
            assert_eq!(r.status(), 200, "{url}");
            let d = r.headers()["content-disposition"]
                .to_str()
                .expect("header")
                .to_owned();
            (d, r.bytes().await.expect("body"))
        });
        assert!(
            disposition.contains(&format!("XLV-sesja-2025-11-26-punkt-{number}.mp4")),
            "{disposition}"
        );
        let file = crate::support::media_file(&bytes, ".mp4");
        let (code, output) = crate::support::run_for(
            std::process::Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-show_entries",
                    "format=duration:stream=codec_type",
                    "-of",
                    "compact",
                ])
                .arg(file.path()),
            Duration::from_secs(30),
        );
        assert_eq!(code, Some(0), "ffprobe: {output}");
        assert!(
            output.contains("codec_type=video") && output.contains("codec_type=audio"),
            "{output}"
        );
        let duration: f64 = output
            .split("format|duration=")
            .nth(1)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no duration: {output}"));
        assert!(
            (duration - expected).abs() <= 2.0,
            "item {number}: {duration} s, expected {expected} s"
        );
        // The moov comes first, so players can start before the end arrives.
        let top: Vec<String> = reader::boxes(&bytes)
            .expect("boxes")
            .iter()
            .map(|b| b.kind_str())
            .collect();
        assert_eq!(top, ["ftyp", "moov", "mdat"]);
    }
    let (code, output) = crate::support::ffmpeg_decode(
        &format!("http://{}/vod/sessions/1/download/items/7a.m4a", o.addr),
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "audio download: {output}");
    assert_eq!(output.trim(), "", "{output}");

    // The whole session plays in ffmpeg without a word.
    let url = format!("http://{}/vod/sessions/1/index.m3u8", o.addr);
    let decode = || crate::support::ffmpeg_decode(&url, &["-map", "0"], Duration::from_secs(60));
    let (code, output) = decode();
    if code != Some(0) || !output.trim().is_empty() {
        let base = format!("http://{}", o.addr);
        let located = rt.block_on(crate::support::undecodable_segments(
            &base,
            "/vod/sessions/1/index.m3u8",
            usize::MAX,
        ));
        let (again, output_again) = decode();
        panic!(
            "ffmpeg ({code:?}) printed: {output}\nsegment by segment:\n{located}\n\
             a second decoding ({again:?}) printed: {output_again}"
        );
    }
}

/// Marks in quick succession: an item begun right after a non-public part
/// begins or ends is accepted and placed at (or after) the switch, never
/// before it; and a mark the catalog refuses does not cut the stream.
#[test]
fn marks_right_after_a_switch_are_kept_in_order_and_refused_ones_do_not_cut() {
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let playlist = format!("{base}/live/main/720p/index.m3u8");
        crate::support::wait_live(&base, "720p").await;
        let (cookie, csrf) = crate::support::login_admin(&base).await;
        let api = Api {
            base: base.clone(),
            cookie,
            csrf,
        };
        let (status, created) = api.post_raw("/api/v1/sessions", FIXTURE).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        let s = |a: &str| format!("/api/v1/sessions/{id}/{a}");

        // A refused mark (stopping a planned session) leaves the open
        // segment whole: it is as long as the segments around it.
        let open = parse_playlist(&get_text(&playlist).await)
            .segments
            .last()
            .expect("segments")
            .msn;
        let (status, body) = api.post(&s("stop"), json!({})).await;
        assert_eq!(status, 409, "{body}");
        let deadline = Instant::now() + Duration::from_secs(8);
        let duration = loop {
            let p = parse_playlist(&get_text(&playlist).await);
            if let Some(d) = p
                .segments
                .iter()
                .find(|x| x.msn == open && x.uri.is_some())
                .and_then(|x| x.duration)
            {
                break d;
            }
            assert!(Instant::now() < deadline, "segment {open} never completed");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(
            (duration - 2.0).abs() < 0.05,
            "a refused mark cut segment {open}: {duration} s"
        );

        assert_eq!(api.post(&s("start"), json!({})).await.0, 200);
        assert_eq!(api.post(&s("items/1/begin"), json!({})).await.0, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let private = json!({ "reason": "dane osobowe", "legal_basis": "art. 5 ust. 2 u.d.i.p." });
        for (first, then) in [
            ("private/begin", "items/2/begin"),
            ("private/end", "items/3/begin"),
        ] {
            let body = if first == "private/begin" {
                private.clone()
            } else {
                json!({})
            };
            let (status, a) = api.post(&s(first), body).await;
            assert_eq!(status, 200, "{first}: {a}");
            // At once: the switch is still ahead of "now" (a private part
            // begins 80 ms ahead).
            let (status, b) = api.post(&s(then), json!({})).await;
            assert_eq!(status, 200, "{then} right after {first}: {b}");
            let (wa, wb) = (
                a["mark"]["wall_ns"].as_i64().expect("wall"),
                b["mark"]["wall_ns"].as_i64().expect("wall"),
            );
            assert!(wb >= wa, "{then} ({wb}) placed before {first} ({wa})");
            assert!(
                b["segment"].as_u64() >= a["segment"].as_u64(),
                "{then} cut before {first}: {a} {b}"
            );
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        // Items begun back to back (a double click, a fast operator): each
        // starts a segment of its own, in order.
        let mut last_segment = 0;
        for item in ["4", "5", "6"] {
            let (status, b) = api
                .post(&s(&format!("items/{item}/begin")), json!({}))
                .await;
            assert_eq!(status, 200, "{item}: {b}");
            let segment = b["segment"].as_u64().expect("segment");
            assert!(
                segment > last_segment,
                "item {item} shares segment {segment} with the item before it"
            );
            last_segment = segment;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(api.post(&s("stop"), json!({})).await.0, 200);
    });
}
