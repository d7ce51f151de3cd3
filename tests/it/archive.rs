//! The durable archive: a recording survives `kill -9` up to the last part
//! written, and plays from disk as VOD in ffmpeg.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{client, get_text, heavy, parse_playlist, run_for, start_in};

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

/// An admin API token, via a cookie login.
async fn admin_token(base: &str) -> String {
    let (cookie, csrf) = crate::support::login_admin(base).await;
    let r = client()
        .post(format!("{base}/api/v1/tokens"))
        .header("Cookie", cookie)
        .header("X-CSRF-Token", csrf)
        .json(&serde_json::json!({ "label": "crash test" }))
        .send()
        .await
        .expect("token");
    assert!(r.status().is_success(), "token: {}", r.status());
    let v: serde_json::Value = r.json().await.expect("JSON");
    v["token"].as_str().expect("token").to_owned()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// `2026-11-30T01:28:01.311Z` as Unix seconds.
fn parse_pdt(s: &str) -> f64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("PROGRAM-DATE-TIME {s}: {e}"));
    t.unix_timestamp_nanos() as f64 / 1e9
}

#[test]
fn a_kill_9_loses_nothing_that_was_announced_and_the_archive_plays() {
    let _guard = heavy();
    let data = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut first = start_in(data.path(), &[]);
    let live = format!("http://{}/live/main/720p/index.m3u8", first.addr);
    // A live session with a mark on its timeline.
    let first_base = format!("http://{}", first.addr);
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while client()
            .get(&live)
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "not live");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let token = admin_token(&first_base).await;
        for (path, body) in [
            ("/api/v1/sessions", FIXTURE.to_owned()),
            ("/api/v1/sessions/1/start", String::new()),
            ("/api/v1/sessions/1/items/1/begin", String::new()),
        ] {
            let r = client()
                .post(format!("{first_base}{path}"))
                .bearer_auth(&token)
                .body(body)
                .send()
                .await
                .expect("request");
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
    });
    // Broadcast for a while: at least four whole segments.
    let announced = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client().get(&live).send().await {
                if r.status() == 200 {
                    let p = parse_playlist(&r.text().await.expect("body"));
                    if p.segments.iter().filter(|s| s.uri.is_some()).count() >= 4 {
                        return p;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no four segments within 30 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    first.child.kill().expect("kill -9");
    let killed_at = unix_now();
    first.child.wait().expect("reaped");
    let run = announced
        .map
        .trim_start_matches("init-")
        .trim_end_matches(".mp4")
        .to_owned();
    let last = announced.segments.last().expect("segments");
    let announced_end = parse_pdt(&last.pdt) + last.parts.iter().map(|p| p.duration).sum::<f64>();

    // Restart on the same data dir: recovery runs, the old run is there.
    let second = start_in(data.path(), &[]);
    let base = format!("http://{}", second.addr);
    rt.block_on(async {
        let list: serde_json::Value =
            serde_json::from_str(&get_text(&format!("{base}/api/v1/archive/main")).await)
                .expect("JSON");
        let rec = list["recordings"]
            .as_array()
            .expect("recordings")
            .iter()
            .find(|r| r["run"] == run.as_str())
            .unwrap_or_else(|| panic!("run {run} is not in the archive: {list}"))
            .clone();
        assert_eq!(rec["live"], false);

        let vod_text = get_text(&format!("{base}/archive/main/{run}/720p/index.m3u8")).await;
        assert!(
            vod_text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && vod_text.ends_with("#EXT-X-ENDLIST\n"),
            "{vod_text}"
        );
        let vod = parse_playlist(&vod_text);
        let end_seg = vod.segments.last().expect("archived segments");
        let archive_end = parse_pdt(&end_seg.pdt) + end_seg.duration.expect("EXTINF");
        // Fsync before announce: everything a viewer was shown is on disk.
        assert!(
            archive_end + 0.001 >= announced_end,
            "the archive ends at {archive_end:.3}, before what was announced ({announced_end:.3})"
        );
        // And it reaches to within one part (0.4 s) of the kill, give or take
        // the encoder's few milliseconds.
        let gap = killed_at - archive_end;
        eprintln!("archive ends {gap:.3} s before the kill");
        assert!(
            gap < 0.4 + 0.15,
            "the archive ends {gap:.3} s before the kill"
        );
        // Every archived segment starts where the previous one ended.
        let mut prev: Option<(f64, f64)> = None;
        for s in &vod.segments {
            let start = parse_pdt(&s.pdt);
            if let Some((ps, pd)) = prev {
                assert!(
                    (start - (ps + pd)).abs() < 0.05,
                    "gap in the archive at segment {}",
                    s.msn
                );
            }
            prev = Some((start, s.duration.expect("EXTINF")));
        }
        // The catalog is intact and the timeline's marks survived.
        let db = rusqlite::Connection::open_with_flags(
            data.path().join("obrady.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the catalog");
        let check: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check");
        assert_eq!(check, "ok");
        let session: serde_json::Value =
            serde_json::from_str(&get_text(&format!("{base}/api/v1/sessions/1")).await)
                .expect("JSON");
        assert_eq!(session["state"], "live", "{session}");
        let kinds: Vec<&str> = session["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .filter_map(|m| m["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["start", "item"]);
        // The broadcast resumes into the same session (same URL), after a
        // discontinuity where the old run ended.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = get_text(&format!("{base}/vod/sessions/1/720p/index.m3u8")).await;
            let runs: std::collections::BTreeSet<&str> = text
                .lines()
                .filter(|l| l.starts_with("/archive/main/"))
                .filter_map(|l| l.split('/').nth(3))
                .collect();
            if runs.len() == 2 {
                assert!(text.contains("#EXT-X-DISCONTINUITY"), "{text}");
                assert!(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT"), "{text}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the session did not resume:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let recovered = second
            .startup_log
            .iter()
            .any(|l| l.contains("archive checked"));
        assert!(
            recovered,
            "no recovery report in the log: {:?}",
            second.startup_log
        );
    });

    // The archive plays from disk in ffmpeg, every rendition, without a word.
    let url = format!("{base}/archive/main/{run}/index.m3u8");
    let (code, output) = run_for(
        Command::new("ffmpeg").args([
            "-nostdin", "-v", "error", "-i", &url, "-map", "0", "-f", "null", "-",
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "ffmpeg failed: {output}");
    assert_eq!(output.trim(), "", "ffmpeg printed something");
    let (code, output) = run_for(
        Command::new("ffprobe").args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            &url,
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "ffprobe failed: {output}");
    let duration: f64 = output
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe said {output}"));
    let listed: f64 = rt.block_on(async {
        let p =
            parse_playlist(&get_text(&format!("{base}/archive/main/{run}/720p/index.m3u8")).await);
        p.segments.iter().filter_map(|s| s.duration).sum()
    });
    assert!(
        (duration - listed).abs() < 0.5,
        "ffprobe says {duration} s, the playlist {listed} s"
    );
}
