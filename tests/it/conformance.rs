//! Playlist and media conformance, checked over HTTP against the live server:
//! keyframes at every segment start, boundaries aligned across renditions,
//! EXTINF within the target, continuous tfdt, increasing MSN and
//! PROGRAM-DATE-TIME, parts within PART-TARGET, blocking reload and held
//! preload hints, and the HTTP headers a cache in front relies on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use obrady::cmaf::reader;

use crate::support::{client, get_bytes, get_text, parse_playlist, server, Playlist};

const RENDITIONS: [&str; 3] = ["720p", "360p", "audio"];

async fn playlist(rendition: &str) -> Playlist {
    parse_playlist(&get_text(&server().url(&format!("/live/main/{rendition}/index.m3u8"))).await)
}

#[tokio::test]
async fn multivariant_playlist_describes_the_ladder_and_audio_group() {
    let text = get_text(&server().url("/live/main/index.m3u8")).await;
    let m = hls_m3u8::MasterPlaylist::try_from(text.as_str()).expect("hls_m3u8 parses it");
    assert_eq!(m.variant_streams.len(), 2, "{text}");
    assert_eq!(m.media.len(), 1, "{text}");
    for line in text.lines().filter(|l| l.starts_with("#EXT-X-STREAM-INF:")) {
        for attr in [
            "BANDWIDTH=",
            "AVERAGE-BANDWIDTH=",
            "CODECS=\"avc1.",
            "mp4a.40.2\"",
            "RESOLUTION=",
            "FRAME-RATE=25",
            "AUDIO=\"audio\"",
        ] {
            assert!(line.contains(attr), "{attr} missing in {line}");
        }
    }
    assert!(
        text.contains("#EXT-X-MEDIA:TYPE=AUDIO") && text.contains("GROUP-ID=\"audio\""),
        "{text}"
    );
    assert!(
        text.contains("RESOLUTION=1280x720") && text.contains("RESOLUTION=640x360"),
        "{text}"
    );
}

#[tokio::test]
async fn media_playlists_carry_the_low_latency_tags() {
    for r in RENDITIONS {
        let text = get_text(&server().url(&format!("/live/main/{r}/index.m3u8"))).await;
        for tag in [
            "#EXT-X-VERSION:",
            "#EXT-X-TARGETDURATION:2",
            "#EXT-X-PART-INF:PART-TARGET=0.4",
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            "#EXT-X-MAP:URI=",
            "#EXT-X-PROGRAM-DATE-TIME:",
            "#EXT-X-PART:DURATION=",
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=",
            "#EXT-X-RENDITION-REPORT:URI=",
        ] {
            assert!(text.contains(tag), "{r}: {tag} missing:\n{text}");
        }
        let p = parse_playlist(&text);
        let hold_back: f64 = p
            .server_control
            .split("PART-HOLD-BACK=")
            .nth(1)
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.parse().ok())
            .expect("PART-HOLD-BACK");
        assert!(
            hold_back >= 2.0 * p.part_target,
            "PART-HOLD-BACK {hold_back} < 2 x PART-TARGET"
        );
        assert_eq!(
            p.rendition_reports.len(),
            2,
            "{r}: one report per other rendition"
        );
    }
}

/// What one complete segment of one rendition looked like.
#[derive(Debug)]
struct SegmentFacts {
    start: f64,
    end: f64,
    first_is_sync: bool,
}

async fn segment_facts(rendition: &str, p: &Playlist) -> BTreeMap<u64, SegmentFacts> {
    let base = format!("/live/main/{rendition}/");
    let init = get_bytes(&server().url(&format!("{base}{}", p.map))).await;
    let timescale = f64::from(reader::timescale(&init).expect("init segment timescale"));
    let mut facts = BTreeMap::new();
    let mut expected_next: Option<u64> = None;
    for seg in p.segments.iter().filter(|s| s.uri.is_some()) {
        let uri = seg.uri.as_ref().expect("uri");
        let bytes = get_bytes(&server().url(&format!("{base}{uri}"))).await;
        let frags = reader::fragments(&bytes).unwrap_or_else(|e| panic!("{rendition} {uri}: {e}"));
        assert!(!frags.is_empty(), "{rendition} {uri} has no fragment");
        for f in &frags {
            if let Some(want) = expected_next {
                assert_eq!(
                    f.decode_time, want,
                    "{rendition} {uri}: tfdt is not continuous"
                );
            }
            expected_next = Some(f.decode_time + f.duration());
        }
        let start = frags[0].decode_time as f64 / timescale;
        let end = expected_next.expect("set") as f64 / timescale;
        let extinf = seg.duration.expect("EXTINF");
        assert!(
            (end - start - extinf).abs() < 0.001,
            "{rendition} {uri}: EXTINF {extinf} but the media lasts {}",
            end - start
        );
        // Parts listed for this segment add up to the segment.
        if !seg.parts.is_empty() {
            let parts: f64 = seg.parts.iter().map(|p| p.duration).sum();
            assert!(
                (parts - extinf).abs() < 0.001,
                "{rendition} {uri}: parts {parts} vs EXTINF {extinf}"
            );
            assert_eq!(
                seg.parts.len(),
                frags.len(),
                "{rendition} {uri}: one fragment per part"
            );
        }
        facts.insert(
            seg.msn,
            SegmentFacts {
                start,
                end,
                first_is_sync: frags[0].sync.first().copied().unwrap_or(false),
            },
        );
    }
    facts
}

#[tokio::test]
async fn segments_start_on_keyframes_and_agree_across_renditions() {
    let mut all = BTreeMap::new();
    for r in RENDITIONS {
        let p = playlist(r).await;
        // Playlist-level rules.
        assert!(p.segments.len() >= 2, "{r}: too few segments");
        let mut prev: Option<&crate::support::Seg> = None;
        for s in &p.segments {
            if let Some(d) = s.duration {
                assert!(
                    d.round() <= p.target_duration,
                    "{r} {}: EXTINF {d} > target {}",
                    s.msn,
                    p.target_duration
                );
            }
            for part in &s.parts {
                assert!(
                    part.duration <= p.part_target + 1e-9,
                    "{r}: part {} lasts {} > PART-TARGET {}",
                    part.uri,
                    part.duration,
                    p.part_target
                );
            }
            if let Some(prev) = prev {
                assert_eq!(s.msn, prev.msn + 1);
                assert!(
                    s.pdt > prev.pdt,
                    "{r}: PROGRAM-DATE-TIME not increasing: {} then {}",
                    prev.pdt,
                    s.pdt
                );
            }
            if r != "audio" {
                if let Some(first) = s.parts.first() {
                    assert!(
                        first.independent,
                        "{r} {}: first part is not INDEPENDENT",
                        s.msn
                    );
                }
            }
            prev = Some(s);
        }
        let facts = segment_facts(r, &p).await;
        if r != "audio" {
            for (msn, f) in &facts {
                assert!(
                    f.first_is_sync,
                    "{r} segment {msn} does not start with a keyframe"
                );
            }
        }
        all.insert(r, facts);
    }
    // Boundaries agree: the same MSN starts at the same media time in every
    // rendition, within one video frame (40 ms at 25 fps).
    let frame = 1.0 / 25.0;
    let reference = &all["720p"];
    let mut compared = 0;
    for (msn, f) in reference {
        for r in ["360p", "audio"] {
            if let Some(o) = all[r].get(msn) {
                assert!(
                    (o.start - f.start).abs() <= frame + 1e-6,
                    "segment {msn}: {r} starts at {:.4}, 720p at {:.4}",
                    o.start,
                    f.start
                );
                assert!(
                    (o.end - f.end).abs() <= frame + 1e-6,
                    "segment {msn}: {r} ends at {:.4}, 720p at {:.4}",
                    o.end,
                    f.end
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 2, "no segments in common to compare");
}

#[tokio::test]
async fn media_sequence_and_date_time_keep_increasing_across_reloads() {
    let first = playlist("720p").await;
    let last_first = first.segments.last().expect("segments").clone();
    let next = format!("/live/main/720p/index.m3u8?_HLS_msn={}", last_first.msn + 1);
    let second = parse_playlist(&get_text(&server().url(&next)).await);
    let same = second
        .segments
        .iter()
        .find(|s| s.msn == last_first.msn)
        .expect("the segment is still listed");
    assert_eq!(
        same.pdt, last_first.pdt,
        "a segment's PROGRAM-DATE-TIME changed"
    );
    assert!(second.segments.last().expect("segments").msn > last_first.msn);
    assert!(second.media_sequence >= first.media_sequence);
}

#[tokio::test]
async fn a_blocking_request_for_the_next_part_returns_as_soon_as_it_exists() {
    let p = playlist("720p").await;
    let last = p.segments.last().expect("segments");
    let (msn, part) = if last.uri.is_some() {
        (last.msn + 1, 0)
    } else {
        (last.msn, last.parts.len())
    };
    let url = server().url(&format!(
        "/live/main/720p/index.m3u8?_HLS_msn={msn}&_HLS_part={part}"
    ));
    let started = Instant::now();
    let response = client().get(&url).send().await.expect("request");
    let waited = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    let q = parse_playlist(&response.text().await.expect("body"));
    let seg = q
        .segments
        .iter()
        .find(|s| s.msn == msn)
        .expect("the requested segment is listed");
    assert!(
        seg.parts.len() > part,
        "part {msn}.{part} is not in the answer"
    );
    // It answered as soon as the part existed: the part after it (0.4 s
    // later) is not there yet, so the request was not held a part too long.
    let after_next = q.segments.iter().any(|s| s.msn > msn) || seg.parts.len() > part + 1;
    assert!(
        !after_next || waited < Duration::from_millis(100),
        "held past the next part ({waited:?})"
    );
    assert!(waited < Duration::from_secs(2), "held for {waited:?}");
}

#[tokio::test]
async fn a_preload_hint_is_held_until_the_part_exists() {
    let p = playlist("360p").await;
    let hint = p.preload_hint.expect("preload hint");
    let response = client()
        .get(server().url(&format!("/live/main/360p/{hint}")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "hinted part {hint}");
    let body = response.bytes().await.expect("body");
    let frags = reader::fragments(&body).expect("a moof+mdat fragment");
    assert_eq!(frags.len(), 1);
    // And the playlist now lists it.
    let q = playlist("360p").await;
    assert!(
        q.segments
            .iter()
            .flat_map(|s| &s.parts)
            .any(|x| x.uri == hint),
        "{hint} not listed after it was served"
    );
}

#[tokio::test]
async fn media_is_cacheable_by_any_http_cache_and_open_to_other_origins() {
    let p = playlist("720p").await;
    let seg = p
        .segments
        .iter()
        .find(|s| s.uri.is_some())
        .expect("a complete segment");
    let url = server().url(&format!(
        "/live/main/720p/{}",
        seg.uri.as_ref().expect("uri")
    ));
    let c = client();
    let full = c
        .get(&url)
        .header("Origin", "https://bip.example")
        .send()
        .await
        .expect("request");
    assert_eq!(full.status(), 200);
    let h = full.headers().clone();
    assert_eq!(h["content-type"], "video/mp4");
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["accept-ranges"], "bytes");
    let etag = h["etag"].to_str().expect("etag").to_owned();
    let body = full.bytes().await.expect("body");

    let ranged = c
        .get(&url)
        .header("Range", "bytes=8-23")
        .send()
        .await
        .expect("request");
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"].to_str().unwrap(),
        format!("bytes 8-23/{}", body.len())
    );
    assert_eq!(&ranged.bytes().await.expect("body")[..], &body[8..24]);

    let beyond = c
        .get(&url)
        .header("Range", format!("bytes={}-", body.len()))
        .send()
        .await
        .expect("request");
    assert_eq!(beyond.status(), 416);

    let cached = c
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(cached.status(), 304);

    let head = c.head(&url).send().await.expect("request");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        body.len().to_string()
    );

    let pl = c
        .get(server().url("/live/main/720p/index.m3u8"))
        .send()
        .await
        .expect("request");
    let cc = pl.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(
        cc.contains("max-age=1"),
        "a live playlist must be short-lived: {cc}"
    );
    let preflight = c
        .request(reqwest::Method::OPTIONS, &url)
        .header("Origin", "https://bip.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .expect("request");
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}
