//! A non-public part of a session (*wyłączenie jawności*) never reaches a
//! public output.
//!
//! The test source is switched to a picture and a sound that cannot be
//! mistaken for anything else (a plain magenta card, a continuous 440 Hz
//! tone) twice: once in public, a few seconds after item 1 began (the
//! control, so the detectors are shown to work on every output), and once
//! inside a non-public part. Then every public output is decoded by ffmpeg
//! and searched for the card and the tone:
//!
//! - the live playlists' segments and parts, fetched while they were served,
//!   in every rendition: inside the span every frame is the slate and every
//!   sample silent; the card and the tone appear exactly as often as in the
//!   control;
//! - the archive of the broadcast, in every rendition;
//! - the session's VOD playlists (ffmpeg's HLS demuxer) and item 2's;
//! - the downloads: the session and item 2 as MP4 and M4A.
//!
//! Each output must hold the control's card frames and tone, and nothing
//! more.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{client, get_bytes, get_text, heavy, login_admin, parse_playlist, start};

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

const RENDITIONS: [&str; 3] = ["720p", "360p", "audio"];

/// Frames are decoded scaled down to this size, in RGB.
const W: usize = 32;
const H: usize = 18;

struct Api {
    base: String,
    cookie: String,
    csrf: String,
}

impl Api {
    async fn login(base: &str) -> Api {
        let (cookie, csrf) = login_admin(base).await;
        Api {
            base: base.to_owned(),
            cookie,
            csrf,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: String) -> Value {
        let r = client()
            .request(method.clone(), format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            status == 200 || status == 201,
            "{method} {path}: {status} {body}"
        );
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, body.to_string())
            .await
    }

    async fn scene(&self, scene: &str) {
        let r = self
            .send(
                reqwest::Method::PUT,
                "/api/v1/channels/main/test-scene",
                json!({ "scene": scene }).to_string(),
            )
            .await;
        assert_eq!(r["test_scene"], scene, "{r}");
    }
}

/// What the live playlists served, fetched while they were in the window.
#[derive(Default)]
struct Served {
    /// (rendition, run) → init segment.
    inits: BTreeMap<(String, String), Vec<u8>>,
    /// (rendition, msn) → (run, whole segment).
    segments: BTreeMap<(String, u64), (String, Vec<u8>)>,
    /// (rendition, msn, part index) → part.
    parts: BTreeMap<(String, u64, usize), Vec<u8>>,
    /// Playlists that list a segment out of its place.
    misnumbered: Vec<String>,
}

/// The body of a 200, or `None` for a resource no longer served (404).
async fn fetch(url: &str) -> Option<Vec<u8>> {
    let r = client().get(url).send().await.expect("request");
    if r.status() == 404 {
        return None;
    }
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    Some(r.bytes().await.expect("body").to_vec())
}

/// Polls every rendition's live playlist and fetches every segment and part
/// it lists, once, until `stop`.
async fn collect(base: String, served: Arc<Mutex<Served>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        for r in RENDITIONS {
            let text = get_text(&format!("{base}/live/main/{r}/index.m3u8")).await;
            let p = parse_playlist(&text);
            // Every segment is where its number says (RFC 8216bis 6.2.2:
            // the media sequence number of each is the playlist's plus its
            // position), in every rendition.
            let misplaced = p.segments.iter().find(|s| {
                s.uri
                    .as_ref()
                    .is_some_and(|u| !u.ends_with(&format!("-{}.m4s", s.msn)))
            });
            if let Some(s) = misplaced {
                served.lock().unwrap().misnumbered.push(format!(
                    "{r}: {} at the place of segment {}:\n{text}",
                    s.uri.as_deref().unwrap_or_default(),
                    s.msn
                ));
            }
            let run = p.run();
            let key = (r.to_owned(), run.clone());
            let have_init = served.lock().unwrap().inits.contains_key(&key);
            if !have_init {
                let init = get_bytes(&format!("{base}/live/main/{r}/{}", p.map)).await;
                served.lock().unwrap().inits.insert(key, init);
            }
            for s in &p.segments {
                for (i, part) in s.parts.iter().enumerate() {
                    let k = (r.to_owned(), s.msn, i);
                    let missing = !served.lock().unwrap().parts.contains_key(&k);
                    if missing {
                        // A part listed a moment ago may have left the
                        // window since (its segment is fetched whole).
                        if let Some(bytes) =
                            fetch(&format!("{base}/live/main/{r}/{}", part.uri)).await
                        {
                            served.lock().unwrap().parts.insert(k, bytes);
                        }
                    }
                }
                if let Some(uri) = &s.uri {
                    let k = (r.to_owned(), s.msn);
                    let missing = !served.lock().unwrap().segments.contains_key(&k);
                    if missing {
                        let bytes = get_bytes(&format!("{base}/live/main/{r}/{uri}")).await;
                        served
                            .lock()
                            .unwrap()
                            .segments
                            .insert(k, (run.clone(), bytes));
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn ffmpeg(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("ffmpeg")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ffmpeg: {e} (run `make test-deps`)"));
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What a decoded output holds.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Found {
    frames: usize,
    /// Frames that are the magenta card.
    card: usize,
    /// Frames that are the slate (dark, plain).
    slate: usize,
    /// 100 ms windows of audio.
    windows: usize,
    /// Windows carrying the 440 Hz tone.
    tone: usize,
    /// Windows with any sound at all (above -40 dBFS).
    loud: usize,
}

/// Decodes `input` (a file or a URL ffmpeg can read) and counts.
fn decode(input: &str, video: bool, audio: bool) -> Found {
    let mut found = Found::default();
    if video {
        let scale = format!("scale={W}:{H}");
        let out = ffmpeg(&[
            "-v",
            "error",
            "-i",
            input,
            "-map",
            "0:v:0",
            "-vf",
            &scale,
            "-pix_fmt",
            "rgb24",
            // Every decoded frame once: no duplicates across the gap a
            // removed span leaves in the timestamps.
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-",
        ]);
        for frame in out.stdout.chunks_exact(W * H * 3) {
            found.frames += 1;
            let px = frame.chunks_exact(3);
            let n = (W * H) as f64;
            let magenta = px
                .clone()
                .filter(|p| p[0] > 170 && p[1] < 90 && p[2] > 170)
                .count() as f64;
            let dark = px.filter(|p| p.iter().all(|&c| c < 70)).count() as f64;
            if magenta / n > 0.6 {
                found.card += 1;
            }
            if dark / n > 0.8 {
                found.slate += 1;
            }
        }
    }
    if audio {
        let out = ffmpeg(&[
            "-v", "error", "-i", input, "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le",
            "-",
        ]);
        let samples: Vec<f64> = out
            .stdout
            .chunks_exact(2)
            .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        for w in samples.chunks_exact(800) {
            found.windows += 1;
            let energy: f64 = w.iter().map(|x| x * x).sum();
            let rms = (energy / w.len() as f64).sqrt();
            if rms > 0.01 {
                found.loud += 1;
            }
            // Goertzel at 440 Hz (44 whole periods in 800 samples at 8 kHz):
            // a pure tone gives a ratio of 1, a 1 kHz beep or silence ~0.
            let ratio = crate::support::tone_share(w, 440.0);
            if rms > 0.05 && ratio > 0.5 {
                found.tone += 1;
            }
        }
    }
    found
}

fn decode_bytes(bytes: &[u8], video: bool, audio: bool) -> Found {
    let f = crate::support::media_file(bytes, ".mp4");
    decode(f.path().to_str().expect("path"), video, audio)
}

fn is_video(rendition: &str) -> bool {
    rendition != "audio"
}

/// Card frames and tone windows of an output, against the control's.
fn assert_only_the_control(what: &str, found: Found, control: Found, video: bool, audio: bool) {
    eprintln!("{what}: {found:?}");
    if video {
        assert!(found.frames > 0, "{what}: no frames decoded");
        assert_eq!(
            found.card, control.card,
            "{what}: the card is shown in {} frames; the public control had {}: {found:?}",
            found.card, control.card
        );
    }
    if audio {
        assert!(found.windows > 0, "{what}: no sound decoded");
        // Windows fall differently on each output: one at each end of the
        // control may or may not hold enough of the tone.
        assert!(
            found.tone.abs_diff(control.tone) <= 2,
            "{what}: the tone is in {} windows; the public control had {}: {found:?}",
            found.tone,
            control.tone
        );
    }
}

#[test]
fn a_private_part_never_reaches_a_public_output() {
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        crate::support::wait_live(&base, "720p").await;
        let served = Arc::new(Mutex::new(Served::default()));
        let stop_collecting = Arc::new(AtomicBool::new(false));
        let collector = tokio::spawn(collect(
            base.clone(),
            served.clone(),
            stop_collecting.clone(),
        ));

        let api = Api::login(&base).await;
        let created = api
            .post(
                "/api/v1/sessions",
                serde_json::from_str(FIXTURE).expect("fixture"),
            )
            .await;
        let id = created["id"].as_i64().expect("id");
        let s = |action: &str| format!("/api/v1/sessions/{id}/{action}");
        api.post(&s("start"), json!({})).await;
        api.post(&s("items/1/begin"), json!({})).await;

        // The control: the card and the tone in public for three seconds.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        api.scene("card").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        api.scene("bars").await;
        tokio::time::sleep(Duration::from_secs(1)).await;

        let item2 = api.post(&s("items/2/begin"), json!({})).await;
        let item2_first = item2["segment"].as_u64().expect("segment of item 2");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let body = json!({ "reason": "dane osobowe", "legal_basis": "art. 5 ust. 2 u.d.i.p." });
        let begun = api.post(&s("private/begin"), body).await;
        let first = begun["segment"]
            .as_u64()
            .unwrap_or_else(|| panic!("no segment in {begun}"));
        // Inside the span: the card and the tone, well clear of its edges.
        tokio::time::sleep(Duration::from_millis(600)).await;
        api.scene("card").await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        api.scene("bars").await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let ended = api.post(&s("private/end"), json!({})).await;
        let after = ended["segment"]
            .as_u64()
            .unwrap_or_else(|| panic!("no segment in {ended}"));
        assert!(
            after > first + 1,
            "a 5 s private part spans segments {first}..{after}"
        );
        tokio::time::sleep(Duration::from_millis(2500)).await;
        api.post(&s("stop"), json!({})).await;

        // Until the segment after the session's end is served everywhere.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let done = {
                let v = served.lock().unwrap();
                RENDITIONS
                    .iter()
                    .all(|r| v.segments.contains_key(&(r.to_string(), after + 2)))
            };
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "segment {} never completed",
                after + 2
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stop_collecting.store(true, Ordering::SeqCst);
        collector.await.expect("collector");
        let served = std::mem::take(&mut *served.lock().unwrap());
        assert!(
            served.misnumbered.is_empty(),
            "a live playlist numbers its segments wrong: {}",
            served.misnumbered.join("\n")
        );

        // 1. Live, as served: the control, then the span.
        let mut control = BTreeMap::new();
        for r in RENDITIONS {
            let (video, audio) = (is_video(r), !is_video(r));
            let group = |range: std::ops::Range<u64>| -> Vec<u8> {
                let mut bytes = Vec::new();
                let mut run_of_group = None;
                for ((rr, msn), (run, seg)) in &served.segments {
                    if rr == r && range.contains(msn) {
                        if run_of_group.is_none() {
                            bytes.extend(&served.inits[&(r.to_owned(), run.clone())]);
                            run_of_group = Some(run.clone());
                        }
                        assert_eq!(run_of_group.as_ref(), Some(run), "one broadcast run");
                        bytes.extend(seg);
                    }
                }
                bytes
            };
            let c = decode_bytes(&group(0..item2_first), video, audio);
            if video {
                assert!(
                    c.card >= 50,
                    "{r}: the control shows the card in only {} frames (3 s at 25 fps: 75): {c:?}",
                    c.card
                );
            } else {
                assert!(
                    c.tone >= 20,
                    "{r}: the control has the tone in only {} windows of 100 ms: {c:?}",
                    c.tone
                );
            }
            control.insert(r, c);

            let span = decode_bytes(&group(first..after), video, audio);
            if video {
                assert!(
                    span.frames >= 100,
                    "{r}: the span decodes to {} frames",
                    span.frames
                );
                assert_eq!(
                    span.card, 0,
                    "{r}: the card leaked into the live span: {span:?}"
                );
                assert_eq!(
                    span.slate, span.frames,
                    "{r}: not every frame of the span is the slate: {span:?}"
                );
            } else {
                assert_eq!(
                    span.tone, 0,
                    "{r}: the tone leaked into the live span: {span:?}"
                );
                assert_eq!(span.loud, 0, "{r}: the live span is not silent: {span:?}");
            }

            // Every part of the span, as served one by one.
            let init = served
                .inits
                .iter()
                .find(|((rr, _), _)| rr == r)
                .map(|(_, b)| b.clone())
                .expect("init");
            let mut parts = init;
            let mut n = 0;
            for ((rr, msn, _), bytes) in &served.parts {
                if rr == r && (first..after).contains(msn) {
                    parts.extend(bytes);
                    n += 1;
                }
            }
            assert!(n >= 10, "{r}: only {n} parts of the span were served");
            let p = decode_bytes(&parts, video, audio);
            assert_eq!(
                (p.card, p.tone),
                (0, 0),
                "{r}: the parts of the span leak: {p:?}"
            );

            // Everything served, start to end.
            let all = decode_bytes(&group(0..u64::MAX), video, audio);
            assert_only_the_control(&format!("live {r}"), all, c, video, audio);
        }

        // 2. The archive of the broadcast, every rendition.
        let list: Value = client()
            .get(format!("{base}/api/v1/archive/main"))
            .send()
            .await
            .expect("archive list")
            .json()
            .await
            .expect("JSON");
        let runs = list["recordings"].as_array().expect("recordings");
        assert_eq!(runs.len(), 1, "one broadcast run: {list}");
        let run = runs[0]["run"].as_str().expect("run").to_owned();
        for r in RENDITIONS {
            let (video, audio) = (is_video(r), !is_video(r));
            let dir = format!("{base}/archive/main/{run}/{r}");
            let p = parse_playlist(&get_text(&format!("{dir}/index.m3u8")).await);
            let mut bytes = get_bytes(&format!("{dir}/{}", p.map)).await;
            let mut in_span = 0;
            for seg in &p.segments {
                bytes.extend(
                    get_bytes(&format!("{dir}/{}", seg.uri.as_deref().expect("uri"))).await,
                );
                in_span += usize::from((first..after).contains(&seg.msn));
            }
            assert_eq!(
                in_span as u64,
                after - first,
                "archive {r} lacks segments of the span"
            );
            let found = decode_bytes(&bytes, video, audio);
            assert_only_the_control(&format!("archive {r}"), found, control[r], video, audio);
        }

        // 3. The session's VOD playlists, read by ffmpeg's HLS demuxer.
        crate::support::wait_until_recorded(&base, id).await;
        let vod = get_text(&format!("{base}/vod/sessions/{id}/720p/index.m3u8")).await;
        for item in ["1", "2"] {
            assert!(
                vod.lines().any(|l| l.starts_with("#EXT-X-DATERANGE:")
                    && l.contains(&format!("ID=\"item-{item}\""))
                    && l.contains(&format!("X-NUMBER=\"{item}\""))
                    && l.contains("X-TITLE=")),
                "no EXT-X-DATERANGE for item {item} in the session playlist:\n{vod}"
            );
        }
        for r in RENDITIONS {
            let (video, audio) = (is_video(r), !is_video(r));
            let url = format!("{base}/vod/sessions/{id}/{r}/index.m3u8");
            let found = decode(&url, video, audio);
            assert_only_the_control(&format!("VOD {r}"), found, control[r], video, audio);
            let url = format!("{base}/vod/sessions/{id}/items/2/{r}/index.m3u8");
            let found = decode(&url, video, audio);
            assert_only_the_control(
                &format!("VOD of item 2 {r}"),
                found,
                Found::default(),
                video,
                audio,
            );
        }

        // 4. The downloads.
        let vc = control["720p"];
        let ac = control["audio"];
        let both = Found {
            tone: ac.tone,
            ..vc
        };
        for (path, video, expected) in [
            ("download/session.mp4", true, both),
            ("download/session.m4a", false, ac),
            ("download/items/2.mp4", true, Found::default()),
            ("download/items/2.m4a", false, Found::default()),
        ] {
            let bytes = get_bytes(&format!("{base}/vod/sessions/{id}/{path}")).await;
            let found = decode_bytes(&bytes, video, true);
            assert_only_the_control(path, found, expected, video, true);
        }
    });
}
