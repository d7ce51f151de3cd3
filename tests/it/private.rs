//! A non-public part of a session (*wyłączenie jawności*): while it lasts the
//! live stream shows the slate and carries silence, in exactly the segments
//! of the span, and the chamber (the test picture with its beeps) is back
//! right after it. Decoded by ffmpeg from the segments a player would get.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{client, get_bytes, get_text, heavy, login_admin, parse_playlist, start};

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

/// Frames are decoded scaled down to this size, in gray: enough to tell the
/// slate from the test pattern, cheap next to the encoder.
const W: usize = 64;
const H: usize = 36;

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

    async fn post(&self, path: &str, body: String) -> Value {
        let r = client()
            .post(format!("{}{path}", self.base))
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
            "POST {path}: {status} {body}"
        );
        body
    }
}

/// `init + segment` of a rendition in a temporary file ffmpeg can read.
async fn segment_file(base: &str, rendition: &str, run: &str, msn: u64) -> tempfile::NamedTempFile {
    let mut bytes = get_bytes(&format!("{base}/live/main/{rendition}/init-{run}.mp4")).await;
    bytes.extend(get_bytes(&format!("{base}/live/main/{rendition}/seg-{run}-{msn}.m4s")).await);
    let file = tempfile::Builder::new()
        .suffix(".mp4")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), bytes).expect("write segment");
    file
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

/// Mean and standard deviation of the luma of every frame.
fn frames(file: &tempfile::NamedTempFile) -> Vec<(f64, f64)> {
    let path = file.path().to_str().expect("path");
    let scale = format!("scale={W}:{H}");
    let out = ffmpeg(&[
        "-v", "error", "-i", path, "-vf", &scale, "-pix_fmt", "gray", "-f", "rawvideo", "-",
    ]);
    out.stdout
        .chunks_exact(W * H)
        .map(|f| {
            let n = f.len() as f64;
            let mean = f.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
            let var = f
                .iter()
                .map(|&p| (f64::from(p) - mean).powi(2))
                .sum::<f64>()
                / n;
            (mean, var.sqrt())
        })
        .collect()
}

/// The loudest sample, dB below full scale (digital silence: -91 dB).
fn max_volume(file: &tempfile::NamedTempFile) -> f64 {
    let path = file.path().to_str().expect("path");
    let out = ffmpeg(&[
        "-nostats",
        "-i",
        path,
        "-af",
        "volumedetect",
        "-f",
        "null",
        "-",
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    log.split("max_volume:")
        .nth(1)
        .and_then(|s| s.trim_start().split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no max_volume in ffmpeg's output:\n{log}"))
}

/// The slate is a dark, almost plain picture; the SMPTE bars are bright and
/// varied.
fn is_slate((mean, sd): (f64, f64)) -> bool {
    mean < 70.0 && sd < 45.0
}

fn is_test_pattern((mean, sd): (f64, f64)) -> bool {
    mean > 90.0 && sd > 45.0
}

#[test]
fn a_private_part_shows_the_slate_and_carries_no_sound() {
    let _guard = heavy();
    let o = start(&[]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let deadline = Instant::now() + Duration::from_secs(20);
        while client()
            .get(format!("{base}/live/main/720p/index.m3u8"))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "not live");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let api = Api::login(&base).await;
        let created = api.post("/api/v1/sessions", FIXTURE.to_owned()).await;
        let id = created["id"].as_i64().expect("id");
        let s = |action: &str| format!("/api/v1/sessions/{id}/{action}");
        api.post(&s("start"), "{}".into()).await;
        api.post(&s("items/1/begin"), "{}".into()).await;
        // Over two seconds of the chamber (two beeps) before the private part.
        tokio::time::sleep(Duration::from_millis(2500)).await;

        let body = json!({ "reason": "dane osobowe", "legal_basis": "art. 5 ust. 2 u.d.i.p." });
        let begun = api.post(&s("private/begin"), body.to_string()).await;
        let first = begun["segment"].as_u64().unwrap_or_else(|| panic!("no segment in {begun}"));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let ended = api.post(&s("private/end"), "{}".into()).await;
        let after = ended["segment"].as_u64().unwrap_or_else(|| panic!("no segment in {ended}"));
        assert!(after > first + 1, "a 5 s private part spans segments {first}..{after}");

        // Wait until the first public segment after the span is complete.
        let deadline = Instant::now() + Duration::from_secs(10);
        let (run, playlist) = loop {
            let p = parse_playlist(&get_text(&format!("{base}/live/main/audio/index.m3u8")).await);
            let v = parse_playlist(&get_text(&format!("{base}/live/main/720p/index.m3u8")).await);
            let complete = |p: &crate::support::Playlist| {
                p.segments.iter().any(|x| x.msn == after && x.uri.is_some())
            };
            if complete(&p) && complete(&v) {
                let run = v.map.trim_start_matches("init-").trim_end_matches(".mp4").to_owned();
                break (run, v);
            }
            assert!(Instant::now() < deadline, "segment {after} never completed");
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        api.post(&s("stop"), "{}".into()).await;
        assert!(
            playlist.segments.iter().any(|x| x.msn == first - 2),
            "the live window lost the segments before the private part"
        );

        // Inside the span: every frame is the slate, every sample silent.
        for msn in first..after {
            let video = segment_file(&base, "720p", &run, msn).await;
            let f = frames(&video);
            assert!(!f.is_empty(), "segment {msn} has no frames");
            for (i, frame) in f.iter().enumerate() {
                assert!(is_slate(*frame), "segment {msn} frame {i} is not the slate: mean/sd {frame:?}");
            }
            let audio = segment_file(&base, "audio", &run, msn).await;
            let max = max_volume(&audio);
            assert!(max < -60.0, "segment {msn} of the private part has sound: max {max} dB");
        }

        // Around it: the chamber, picture and sound (so the checks above
        // are not vacuous). Before the span, the two segments since the item
        // began (the last one may be short); after it, the first segment.
        for (msns, when) in [(vec![first - 2, first - 1], "before"), (vec![after], "after")] {
            let mut loudest = f64::MIN;
            for &msn in &msns {
                let video = segment_file(&base, "720p", &run, msn).await;
                let f = frames(&video);
                assert!(!f.is_empty(), "segment {msn} has no frames");
                for (i, frame) in f.iter().enumerate() {
                    assert!(
                        is_test_pattern(*frame),
                        "segment {msn} frame {i} ({when} the private part) is not the chamber: mean/sd {frame:?}"
                    );
                }
                let audio = segment_file(&base, "audio", &run, msn).await;
                loudest = loudest.max(max_volume(&audio));
            }
            assert!(
                loudest > -20.0,
                "no beep in segments {msns:?} {when} the private part: max {loudest} dB"
            );
        }
    });
}
