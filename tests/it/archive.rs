//! The durable archive: a recording survives `kill -9` up to the last part
//! written, and plays from disk as VOD in ffmpeg.

use std::collections::BTreeMap;
use std::path::Path;
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

/// Segments of a rendition as its `index.tsv` lists them: msn → (parts,
/// bytes, duration in timescale units).
fn index_segments(index: &Path) -> BTreeMap<u64, (u64, u64, u64)> {
    let text =
        std::fs::read_to_string(index).unwrap_or_else(|e| panic!("{}: {e}", index.display()));
    let mut out: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<u64> = line
            .split(' ')
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{}: {line:?}", index.display()))
            })
            .collect();
        let e = out.entry(f[0]).or_default();
        *e = (e.0 + 1, e.1 + f[2], e.2 + f[3]);
    }
    out
}

/// The catalog (opened read-only beside the running server) lists exactly
/// the segments the index files of `run` list, each with its file's size,
/// and the run is closed.
fn catalog_agrees_with_files(data: &Path, run: &str) {
    let db = rusqlite::Connection::open_with_flags(
        data.join("obrady.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the catalog");
    let ended: Option<i64> = db
        .query_row(
            "SELECT ended_at FROM recordings WHERE run_id = ?1 AND channel_id = 'main'",
            [run],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("run {run} is not in the catalog: {e}"));
    assert!(ended.is_some(), "run {run} was not closed");
    let mut stmt = db
        .prepare(
            "SELECT s.rendition, s.msn, s.parts, s.bytes, s.duration, s.path \
             FROM recording_segments s JOIN recordings r ON r.id = s.recording_id \
             WHERE r.run_id = ?1 ORDER BY s.rendition, s.msn",
        )
        .expect("query");
    let mut rows: BTreeMap<String, BTreeMap<u64, (u64, u64, u64)>> = BTreeMap::new();
    let found = stmt
        .query_map([run], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u64>(1)?,
                (
                    r.get::<_, u64>(2)?,
                    r.get::<_, u64>(3)?,
                    r.get::<_, u64>(4)?,
                ),
                r.get::<_, String>(5)?,
            ))
        })
        .expect("rows");
    for row in found {
        let (rendition, msn, sums, path) = row.expect("row");
        let len = std::fs::metadata(data.join("archive").join(&path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .len();
        assert_eq!(len, sums.1, "{path}: the file and its row disagree");
        rows.entry(rendition).or_default().insert(msn, sums);
    }
    let run_dir = data.join("archive/main").join(run);
    let mut renditions = 0;
    for entry in std::fs::read_dir(&run_dir).expect("run dir") {
        let dir = entry.expect("entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        let listed = index_segments(&dir.join("index.tsv"));
        assert!(listed.len() >= 4, "{name}: {} segments", listed.len());
        assert_eq!(
            rows.get(&name),
            Some(&listed),
            "{name}: the catalog's rows (left) and index.tsv (right) disagree"
        );
        renditions += 1;
    }
    assert_eq!(renditions, 3, "720p, 360p and audio");
    assert_eq!(rows.len(), renditions, "rows of renditions not on disk");
}

#[test]
fn a_kill_9_loses_nothing_that_was_announced_and_the_archive_plays() {
    let _guard = heavy();
    let data = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut first = start_in(data.path(), &[]);
    // A live session with a mark on its timeline.
    let first_base = format!("http://{}", first.addr);
    rt.block_on(async {
        crate::support::wait_live(&first_base, "720p").await;
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
            // Every rendition: the encoders finish a segment's last frame
            // a few milliseconds apart.
            let mut complete = Vec::new();
            for r in ["720p", "360p", "audio"] {
                let url = format!("{first_base}/live/main/{r}/index.m3u8");
                if let Ok(resp) = client().get(&url).send().await {
                    if resp.status() == 200 {
                        complete.push(parse_playlist(&resp.text().await.expect("body")));
                    }
                }
            }
            if complete.len() == 3
                && complete
                    .iter()
                    .all(|p| p.segments.iter().filter(|s| s.uri.is_some()).count() >= 4)
            {
                return complete.swap_remove(0);
            }
            assert!(Instant::now() < deadline, "no four segments within 30 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    first.child.kill().expect("kill -9");
    let killed_at = unix_now();
    first.child.wait().expect("reaped");
    let run = announced.run();
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
        // Reconciliation ran before anything was recorded or served: the
        // run the kill left open was closed, and the catalog's rows agree
        // with the files.
        let reconciled = second
            .startup_log
            .iter()
            .find(|l| l.contains("catalog reconciled with the archive"))
            .unwrap_or_else(|| {
                panic!(
                    "no reconciliation report in the log: {:?}",
                    second.startup_log
                )
            });
        assert!(reconciled.contains("closed_runs=1"), "{reconciled}");
        assert!(reconciled.contains("failed_runs=0"), "{reconciled}");
        catalog_agrees_with_files(data.path(), &run);
    });

    // The archive plays from disk in ffmpeg, every rendition, without a word.
    let url = format!("{base}/archive/main/{run}/index.m3u8");
    let (code, output) =
        crate::support::ffmpeg_decode(&url, &["-map", "0"], Duration::from_secs(60));
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
