//! The operator's view of a channel on the air: the programme audio's level
//! (from GStreamer's `level` element), bitrates, frames, segments written,
//! viewers and disk space, as JSON and as Server-Sent Events.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::support::{client, get_text, login_admin, start};

#[test]
fn the_console_sees_levels_bitrates_viewers_and_disk() {
    // One encoding server at a time on two cores.
    let _guard = crate::support::heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        crate::support::wait_live(&base, "720p").await;
        let url = format!("{base}/api/v1/channels/main/health");
        assert_eq!(
            client().get(&url).send().await.expect("request").status(),
            401
        );
        let (cookie, csrf) = login_admin(&base).await;
        // A second "player".
        let _ = get_text(&format!("{base}/live/main/audio/index.m3u8")).await;
        // Past the first beeps (one per second) so the peak saw one.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let h: Value = client()
            .get(&url)
            .header("Cookie", &cookie)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert_eq!(h["live"], true, "{h}");
        let tracks = h["tracks"].as_array().expect("tracks");
        let names: Vec<&str> = tracks
            .iter()
            .filter_map(|t| t["rendition"].as_str())
            .collect();
        assert_eq!(names, ["720p", "360p", "audio"], "{h}");
        for t in tracks {
            let kbps = t["bitrate_kbps"].as_f64().expect("bitrate");
            // AAC of beeps and silence is thin; video is hundreds of kbit/s.
            assert!(kbps > 5.0, "{}: {kbps} kbit/s: {h}", t["rendition"]);
            assert!(t["samples"].as_u64().unwrap_or(0) > 50, "{h}");
        }
        // The test source is live and the machine keeps up: at most a few
        // frames missing from the 25 fps cadence.
        assert!(
            tracks[0]["dropped"].as_u64().unwrap_or(u64::MAX) < 10,
            "{h}"
        );
        assert!(h["segments_written"].as_u64().unwrap_or(0) >= 2, "{h}");
        // This test's client counts once, whatever it asked for.
        assert_eq!(h["viewers"], 1, "{h}");
        assert!(h["disk_free_bytes"].as_u64().unwrap_or(0) > 0, "{h}");
        // Stereo, in dBFS.
        let peaks = h["audio"]["peak_db"].as_array().expect("audio level");
        assert_eq!(peaks.len(), 2, "{h}");
        assert!(
            peaks
                .iter()
                .all(|p| p.as_f64().is_some_and(|p| (-100.0..=0.0).contains(&p))),
            "{h}"
        );
        // A continuous tone (the test card's 440 Hz at half scale: -9 dBFS
        // RMS) moves the meter.
        let scene = |scene: &'static str| {
            client()
                .put(format!("{base}/api/v1/channels/main/test-scene"))
                .header("Cookie", &cookie)
                .header("X-CSRF-Token", &csrf)
                .header("Content-Type", "application/json")
                .body(format!("{{\"scene\": \"{scene}\"}}"))
                .send()
        };
        assert_eq!(scene("card").await.expect("request").status(), 200);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let h: Value = client()
            .get(&url)
            .header("Cookie", &cookie)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        let rms = h["audio"]["rms_db"][0].as_f64().expect("rms");
        assert!(
            (-12.0..-6.0).contains(&rms),
            "the tone's RMS is {rms} dBFS: {h}"
        );
        assert_eq!(scene("bars").await.expect("request").status(), 200);

        // The same as events, several a second.
        let r = client()
            .get(format!("{url}/events"))
            .header("Cookie", &cookie)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/event-stream"));
        let mut body = r.bytes_stream();
        let mut text = String::new();
        let t0 = Instant::now();
        while text.matches("event: health").count() < 3 {
            let chunk = tokio::time::timeout(Duration::from_secs(3), body.next())
                .await
                .expect("an event within 3 s")
                .expect("stream open")
                .expect("chunk");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "three events took {:?}",
            t0.elapsed()
        );
        let data = text
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("data line");
        let event: Value = serde_json::from_str(data).expect("event JSON");
        assert_eq!(event["channel"], "main");
    });
}

#[test]
fn muting_the_test_tone_raises_the_silence_alert_within_its_time() {
    let _guard = crate::support::heavy();
    let cfg = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    std::fs::write(
        cfg.path(),
        "[[channel]]\nid = \"main\"\nname = \"Sala sesyjna\"\nsource = { kind = \"test\" }\n\
         silence_alert = 2.0\n",
    )
    .expect("config");
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, csrf) = login_admin(&base).await;
        let health = || async {
            let r = client()
                .get(format!("{base}/api/v1/channels/main/health"))
                .header("Cookie", &cookie)
                .send()
                .await
                .expect("health");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("JSON")
        };
        let silence = |h: &Value| {
            h["alerts"]
                .as_array()
                .expect("alerts")
                .iter()
                .any(|a| a["kind"] == "silence")
        };
        let scene = |name: &'static str| {
            let (base, cookie, csrf) = (base.clone(), cookie.clone(), csrf.clone());
            async move {
                let r = client()
                    .put(format!("{base}/api/v1/channels/main/test-scene"))
                    .header("Cookie", &cookie)
                    .header("X-CSRF-Token", &csrf)
                    .json(&serde_json::json!({ "scene": name }))
                    .send()
                    .await
                    .expect("scene");
                assert_eq!(r.status(), 200, "{name}");
            }
        };
        // On the air with the beeps (one a second): no alert for 4 s.
        let deadline = Instant::now() + Duration::from_secs(20);
        while health().await["audio"].is_null() {
            assert!(Instant::now() < deadline, "no audio level");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for _ in 0..8 {
            let h = health().await;
            assert!(!silence(&h), "a silence alert with the beeps on: {h}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        scene("mute").await;
        let muted = Instant::now();
        let raised = loop {
            let h = health().await;
            if silence(&h) {
                break muted.elapsed();
            }
            assert!(
                muted.elapsed() < Duration::from_secs(6),
                "no silence alert 6 s after muting: {h}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        eprintln!("silence alert {raised:?} after muting (silence_alert = 2 s)");
        // The silence began at the end of the last beep (0.1 s long, one a
        // second), up to 0.9 s before the mute.
        assert!(
            raised >= Duration::from_millis(1000) && raised <= Duration::from_millis(3500),
            "the silence alert came {raised:?} after muting; expected about 2 s"
        );
        scene("bars").await;
        let deadline = Instant::now() + Duration::from_secs(3);
        while silence(&health().await) {
            assert!(
                Instant::now() < deadline,
                "the alert stays after the sound came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
