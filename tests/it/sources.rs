//! Real sources on loopback: an RTSP camera (gst-rtsp-server, in
//! `tests/tools/rtsp_camera.py`) and an SRT sender (`gst-launch-1.0 …
//! srtsink`) each feed a channel; ffmpeg decodes the live output. Then the
//! camera disappears for 3 s: the live playlist never stalls, the failover
//! slate comes on, and the camera's picture returns by itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::support::{
    client, decode_sound, get_bytes, get_text, heavy, login_admin, parse_playlist, run_for, start,
    tone_share, Api,
};

/// A port free on loopback a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills the child when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The RTSP camera: moving colour bars (a picture that changes every
/// frame) and a tone, at rtsp://127.0.0.1:PORT/cam.
fn rtsp_camera(port: u16) -> Peer {
    rtsp_camera_showing(port, "smpte", 440)
}

/// [`rtsp_camera`] showing videotestsrc `pattern` and sounding `freq` Hz.
fn rtsp_camera_showing(port: u16, pattern: &str, freq: u32) -> Peer {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/rtsp_camera.py");
    let mut child = Command::new("/usr/bin/python3")
        .args([script, &port.to_string(), pattern, &freq.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e} (run `make test-deps`)"));
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("camera output");
    assert_eq!(
        line.trim(),
        "ready",
        "the RTSP camera did not start (needs gir1.2-gst-rtsp-server-1.0, python3-gi)"
    );
    Peer(child)
}

/// An SRT sender (OBS's role): moving colour bars and a tone in MPEG-TS,
/// calling srt://127.0.0.1:PORT with `passphrase`; like OBS, it repeats the
/// H.264 parameter sets with every keyframe, so a receiver can join at any
/// time, and sends seven TS packets (1316 bytes) per SRT message.
fn srt_sender(port: u16, passphrase: &str) -> Peer {
    let child = Command::new("gst-launch-1.0")
        .args(["-q"])
        .args(
            format!(
                "videotestsrc is-live=true pattern=smpte horizontal-speed=20 ! video/x-raw,width=640,height=360,framerate=25/1 \
                 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=500 \
                 ! h264parse config-interval=-1 ! mpegtsmux name=m alignment=7 ! srtsink uri=srt://127.0.0.1:{port} mode=caller passphrase={passphrase} \
                 wait-for-connection=false \
                 audiotestsrc is-live=true wave=sine freq=440 volume=0.3 ! audioconvert ! voaacenc ! aacparse ! m."
            )
            .split_whitespace(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gst-launch-1.0");
    Peer(child)
}

/// A config with the given channels and a light ladder (one 360p rendition),
/// so two channels fit on a 2-core machine beside their peers, and a live
/// window of 60 s (full within the first minute, so the memory measured
/// after that is not the window filling up).
fn config(channels: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    let text = format!(
        "[hls]\nwindow = 60.0\n\n[encoding]\nx264_preset = \"ultrafast\"\n\
         video = [{{ name = \"360p\", width = 640, height = 360, bitrate = 600 }}]\n\n{channels}"
    );
    std::fs::write(f.path(), text).expect("write config");
    f
}

/// The channel's source state from the health endpoint.
async fn source_state(base: &str, cookie: &str, channel: &str) -> serde_json::Value {
    let r = client()
        .get(format!("{base}/api/v1/channels/{channel}/health"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("JSON");
    v["source"].clone()
}

/// Waits until the channel's source is in `state`; the last state seen if
/// it is not within `limit`.
async fn source_reaches(
    base: &str,
    cookie: &str,
    channel: &str,
    state: &str,
    limit: Duration,
) -> Result<(), serde_json::Value> {
    let deadline = Instant::now() + limit;
    loop {
        let s = source_state(base, cookie, channel).await;
        if s["state"] == state {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_source(base: &str, cookie: &str, channel: &str, state: &str, limit: Duration) {
    if let Err(s) = source_reaches(base, cookie, channel, state, limit).await {
        panic!("{channel}: source not {state} within {limit:?}: {s}");
    }
}

/// Frames are decoded at W×H RGB.
const W: usize = 32;
const H: usize = 18;

fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    crate::support::decode_frames(bytes, W, H)
}

/// What a frame shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shows {
    /// Mostly dark: the slate (or black).
    Slate,
    /// Anything else: the source's bars.
    Picture,
}

/// Whether the picture moved between two frames (the sources' bars move
/// 20 pixels a frame; a repeated picture differs only by coding noise).
fn moved(a: &[u8], b: &[u8]) -> bool {
    let diff: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    diff as f64 / a.len() as f64 > 3.0
}

fn classify(frame: &[u8]) -> Shows {
    let n = (W * H) as f64;
    let px = frame.chunks_exact(3);
    let dark = px.filter(|p| p.iter().all(|&c| c < 70)).count() as f64;
    if dark / n > 0.8 {
        Shows::Slate
    } else {
        Shows::Picture
    }
}

/// The latest `last` whole segments of a live rendition, each with its
/// init segment in front and its PROGRAM-DATE-TIME.
async fn live_segments(
    base: &str,
    channel: &str,
    rendition: &str,
    last: usize,
) -> Vec<(SystemTime, Vec<u8>)> {
    let dir = format!("{base}/live/{channel}/{rendition}");
    let p = parse_playlist(&get_text(&format!("{dir}/index.m3u8")).await);
    let init = get_bytes(&format!("{dir}/{}", p.map)).await;
    let whole: Vec<_> = p.segments.iter().filter(|s| s.uri.is_some()).collect();
    let mut out = Vec::new();
    for s in &whole[whole.len().saturating_sub(last)..] {
        let mut bytes = init.clone();
        bytes.extend(get_bytes(&format!("{dir}/{}", s.uri.as_deref().expect("uri"))).await);
        let pdt: jiff::Timestamp = s.pdt.parse().expect("PROGRAM-DATE-TIME");
        let start = SystemTime::UNIX_EPOCH + Duration::from_nanos(pdt.as_nanosecond() as u64);
        out.push((start, bytes));
    }
    out
}

/// The frames of the latest whole segments of a live rendition, each with
/// its wall-clock time (the segment's PROGRAM-DATE-TIME plus 40 ms a frame).
async fn live_frames(base: &str, channel: &str, last: usize) -> Vec<(SystemTime, Shows, Vec<u8>)> {
    let mut out = Vec::new();
    for (start, bytes) in live_segments(base, channel, "360p", last).await {
        for (i, f) in frames(&bytes).into_iter().enumerate() {
            let at = start + Duration::from_millis(40 * i as u64);
            out.push((at, classify(&f), f));
        }
    }
    out
}

#[test]
fn an_rtsp_camera_and_an_srt_sender_each_feed_a_channel_that_ffmpeg_decodes() {
    let _guard = heavy();
    let (rtsp_port, srt_port) = (free_port(), free_port());
    let _camera = rtsp_camera(rtsp_port);
    let passphrase = "tajna-fraza-sesji";
    let cfg = config(&format!(
        "[[channel]]\nid = \"kamera\"\nname = \"Kamera IP\"\n\
         source = {{ kind = \"rtsp\", url = \"rtsp://operator:haslo-kamery@127.0.0.1:{rtsp_port}/cam\" }}\n\n\
         [[channel]]\nid = \"obs\"\nname = \"OBS\"\n\
         source = {{ kind = \"srt\", mode = \"listener\", address = \"127.0.0.1:{srt_port}\", passphrase = \"{passphrase}\" }}\n"
    ));
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let _sender = srt_sender(srt_port, passphrase);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, _) = login_admin(&base).await;
        for channel in ["kamera", "obs"] {
            wait_for_source(&base, &cookie, channel, "live", Duration::from_secs(20)).await;
        }
        // Secrets never reach a response.
        let list = get_text(&format!("{base}/api/v1/channels")).await;
        let health = client()
            .get(format!("{base}/api/v1/channels/kamera/health"))
            .header("Cookie", &cookie)
            .send()
            .await
            .expect("health")
            .text()
            .await
            .expect("body");
        for text in [&list, &health] {
            assert!(
                !text.contains("haslo-kamery") && !text.contains(passphrase),
                "{text}"
            );
        }
        // Let a few segments of the sources' own picture go by.
        tokio::time::sleep(Duration::from_secs(5)).await;
        for channel in ["kamera", "obs"] {
            let url = format!("{base}/live/{channel}/index.m3u8");
            let (code, output) = tokio::task::spawn_blocking(move || {
                crate::support::ffmpeg_decode(&url, &["-t", "6"], Duration::from_secs(60))
            })
            .await
            .expect("ffmpeg task");
            assert_eq!(code, Some(0), "{channel}: ffmpeg failed: {output}");
            assert_eq!(output.trim(), "", "{channel}: ffmpeg printed something");
            let shown = live_frames(&base, channel, 2).await;
            let matching = shown
                .iter()
                .filter(|(_, s, _)| *s == Shows::Picture)
                .count();
            assert!(
                matching == shown.len() && !shown.is_empty(),
                "{channel}: {matching} of {} frames show the source's picture",
                shown.len()
            );
            // Every frame of the source, none repeated (measured: 99 of
            // 100 new; a repeat or two where the 2-core machine was busiest).
            let moving = shown.windows(2).filter(|w| moved(&w[0].2, &w[1].2)).count();
            eprintln!("{channel}: {moving} of {} frames new", shown.len());
            assert!(
                moving * 10 >= shown.len() * 9,
                "{channel}: the picture moves in only {moving} of {} frames",
                shown.len()
            );
        }
    });
}

/// Polls a live playlist and notes when each new part appears, until
/// stopped; the longest wait for a new part is the stall a player would see.
struct PartWatch {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl PartWatch {
    fn start(playlist: String) -> PartWatch {
        let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (arrivals, stop) = (arrivals.clone(), stop.clone());
            tokio::spawn(async move {
                let mut last = String::new();
                while !stop.load(Ordering::SeqCst) {
                    let p = parse_playlist(&get_text(&playlist).await);
                    if let Some(part) = p.segments.iter().rev().find_map(|s| s.parts.last()) {
                        if part.uri != last {
                            last = part.uri.clone();
                            arrivals.lock().unwrap().push(Instant::now());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        PartWatch {
            arrivals,
            stop,
            task,
        }
    }

    /// (parts seen, longest wait for a new one).
    async fn finish(self) -> (usize, Duration) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("part watch");
        let a = self.arrivals.lock().unwrap().clone();
        let longest = a
            .windows(2)
            .map(|w| w[1].duration_since(w[0]))
            .max()
            .unwrap_or_default();
        (a.len(), longest)
    }
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// What the output showed around an outage from `gone` to `back`.
#[derive(Debug)]
struct Outage {
    /// Seconds from the source's end to the slate.
    appeared: f64,
    /// Seconds from the source's return to its picture.
    returned: f64,
    /// Seconds of slate.
    gap: f64,
    outage: f64,
}

/// Reads the live output's frames around an outage and checks what it
/// showed: the slate within `timeout` + 0.5 s (a stalled source is noticed
/// `timeout` after its last buffer, which may arrive a receive latency
/// (SRT: 0.2 s) after it stopped, on a 0.1 s watchdog), nothing else until the picture
/// came back for good (moving) within 5 s of `back`.
async fn check_outage(
    base: &str,
    channel: &str,
    gone: SystemTime,
    back: SystemTime,
    timeout: f64,
) -> Outage {
    let segments = (secs_between(SystemTime::now(), gone) / 2.0).ceil() as usize + 2;
    let shown = live_frames(base, channel, segments).await;
    let slate: Vec<SystemTime> = shown
        .iter()
        .filter(|(at, s, _)| *s == Shows::Slate && *at >= gone)
        .map(|(at, _, _)| *at)
        .collect();
    let (first_slate, last_slate) = (
        *slate.first().expect("the slate was never shown"),
        *slate.last().expect("slate"),
    );
    let o = Outage {
        appeared: secs_between(first_slate, gone),
        returned: secs_between(last_slate, back) + 0.04,
        gap: secs_between(last_slate, first_slate) + 0.04,
        outage: secs_between(back, gone),
    };
    eprintln!(
        "{channel}: slate {:.2} s after the source went, picture {:.2} s after it came back; \
         {:.2} s of slate for an outage of {:.2} s",
        o.appeared, o.returned, o.gap, o.outage
    );
    assert!(
        o.appeared <= timeout + 0.5,
        "the slate came {:.2} s after the source went",
        o.appeared
    );
    assert!(
        o.returned <= 5.0,
        "the picture came back {:.2} s after the source",
        o.returned
    );
    let between = shown
        .iter()
        .filter(|(at, s, _)| *at > first_slate && *at < last_slate && *s != Shows::Slate)
        .count();
    // What was shown when, as runs: (seconds after the source went, kind, frames).
    let mut runs: Vec<(f64, Shows, usize)> = Vec::new();
    for (at, kind, _) in shown.iter().filter(|(at, _, _)| *at >= gone) {
        match runs.last_mut() {
            Some((_, k, n)) if k == kind => *n += 1,
            _ => runs.push(((secs_between(*at, gone) * 100.0).round() / 100.0, *kind, 1)),
        }
    }
    assert_eq!(
        between, 0,
        "picture frames inside the slate's span: {runs:?}"
    );
    let after: Vec<_> = shown.iter().filter(|(at, _, _)| *at > last_slate).collect();
    assert!(
        after.len() >= 25 && after.iter().all(|(_, s, _)| *s != Shows::Slate),
        "the picture did not come back for good: {:?}",
        after.iter().map(|(_, s, _)| *s).collect::<Vec<_>>()
    );
    let moving = after.windows(2).filter(|w| moved(&w[0].2, &w[1].2)).count();
    assert!(
        moving * 2 >= after.len(),
        "the picture after the return is frozen ({moving} changes in {} frames)",
        after.len()
    );
    o
}

/// The server process's resident memory (kB), open files and threads.
fn resources(pid: u32) -> (u64, usize, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .count();
    (field("VmRSS:"), fds, field("Threads:"))
}

#[test]
fn a_camera_that_disappears_is_replaced_by_the_slate_and_returns_by_itself() {
    let _guard = heavy();
    let port = free_port();
    let mut camera = Some(rtsp_camera(port));
    let cfg = config(&format!(
        "[[channel]]\nid = \"main\"\nname = \"Sala sesyjna\"\nsource_timeout = 2.0\n\
         source = {{ kind = \"rtsp\", url = \"rtsp://127.0.0.1:{port}/cam\" }}\n"
    ));
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, _) = login_admin(&base).await;
        wait_for_source(&base, &cookie, "main", "live", Duration::from_secs(20)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let watch = PartWatch::start(format!("{base}/live/main/360p/index.m3u8"));

        // Gone for 3 s, then for 30 s.
        for outage in [3, 30] {
            let gone = SystemTime::now();
            camera.take();
            tokio::time::sleep(Duration::from_secs(outage)).await;
            let lost = source_state(&base, &cookie, "main").await;
            assert_eq!(lost["state"], "lost", "{lost}");
            camera = Some(rtsp_camera(port));
            let back = SystemTime::now();
            wait_for_source(&base, &cookie, "main", "live", Duration::from_secs(5)).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            let o = check_outage(&base, "main", gone, back, 2.0).await;
            assert!(
                (o.gap - o.outage).abs() <= 1.0,
                "{:.2} s of slate for an outage of {:.2} s",
                o.gap,
                o.outage
            );
        }
        let (parts, longest) = watch.finish().await;
        eprintln!("{parts} parts; longest wait for a new part {longest:?}");
        assert!(
            longest <= Duration::from_millis(900),
            "no new part for {longest:?} (part target 0.4 s + 0.5 s)"
        );

        // 50 drops and returns: memory, open files and threads stay flat.
        let pid = o.child.id();
        let mut at_10 = None;
        for cycle in 1..=50 {
            camera.take();
            wait_for_source(&base, &cookie, "main", "lost", Duration::from_secs(5)).await;
            camera = Some(rtsp_camera(port));
            wait_for_source(&base, &cookie, "main", "live", Duration::from_secs(5)).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            if cycle == 10 {
                at_10 = Some(resources(pid));
            }
            if cycle % 10 == 0 {
                eprintln!(
                    "after {cycle} drops: (RSS kB, open files, threads) {:?}",
                    resources(pid)
                );
            }
        }
        let (rss_10, fds_10, threads_10) = at_10.expect("measured at cycle 10");
        let (rss_50, fds_50, threads_50) = resources(pid);
        eprintln!(
            "after 10 and 50 drops: RSS {rss_10} → {rss_50} kB, open files {fds_10} → {fds_50}, \
             threads {threads_10} → {threads_50}"
        );
        assert_eq!(fds_50, fds_10, "open files grew");
        assert_eq!(threads_50, threads_10, "threads grew");
        // Measured: +0.02 to +3 MB over these 40 drops (about 75 kB a drop
        // at most, not explained). Leaking one raw frame of the ingest
        // (640×360 here: 346 kB) a drop would be 14 MB.
        assert!(
            rss_50 <= rss_10 + 8_000,
            "memory grew from {rss_10} to {rss_50} kB in 40 drops"
        );
        let report = source_state(&base, &cookie, "main").await;
        assert!(
            report["losses"].as_u64() >= Some(52) && report["recoveries"].as_u64() >= Some(52),
            "{report}"
        );
        drop(camera);
    });
}

#[test]
fn a_frozen_srt_sender_is_replaced_by_the_slate_and_returns_when_it_resumes() {
    let _guard = heavy();
    let port = free_port();
    let passphrase = "tajna-fraza-sesji";
    let cfg = config(&format!(
        "[[channel]]\nid = \"main\"\nname = \"Sala sesyjna\"\nsource_timeout = 2.0\n\
         source = {{ kind = \"srt\", mode = \"listener\", address = \"127.0.0.1:{port}\", passphrase = \"{passphrase}\" }}\n"
    ));
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let sender = srt_sender(port, passphrase);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let api = Api::admin(&base).await;
        let cookie = api.cookie.clone();
        wait_for_source(&base, &cookie, "main", "live", Duration::from_secs(20)).await;
        // A session is live: the outage goes into its record.
        let session = api.start_fixture_session("main").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let watch = PartWatch::start(format!("{base}/live/main/360p/index.m3u8"));
        // Frozen without closing its socket, for 4 s: less than SRT's peer
        // idle timeout (5 s), so the connection survives and the sender
        // goes on on it. (Frozen longer, SRT itself drops the connection at
        // both ends and the picture's return waits on the sender's own
        // reconnection: gst srtsink took over 5 s in 1 of 12 runs on a
        // loaded machine, while obrady's listener was rebuilt and waiting.)
        let gone = SystemTime::now();
        crate::support::signal(sender.0.id(), "STOP");
        tokio::time::sleep(Duration::from_secs(4)).await;
        let lost = source_state(&base, &cookie, "main").await;
        assert_eq!(lost["state"], "lost", "{lost}");
        crate::support::signal(sender.0.id(), "CONT");
        let back = SystemTime::now();
        if let Err(s) = source_reaches(&base, &cookie, "main", "live", Duration::from_secs(5)).await
        {
            panic!(
                "the sender resumed but the source is not live within 5 s: {s}\nserver log:\n{}",
                o.log_tail(80)
            );
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (parts, longest) = watch.finish().await;
        eprintln!("{parts} parts; longest wait for a new part {longest:?}");
        assert!(
            longest <= Duration::from_millis(900),
            "no new part for {longest:?} (part target 0.4 s + 0.5 s)"
        );
        let o = check_outage(&base, "main", gone, back, 2.0).await;
        // A frozen sender is only noticed after the timeout; the rest of
        // the outage is slate.
        assert!(
            (o.gap - (o.outage - 2.0)).abs() <= 1.0,
            "{:.2} s of slate for an outage of {:.2} s noticed after 2 s",
            o.gap,
            o.outage
        );

        // The session's record says when the slate replaced the camera and
        // when it returned, and its page lists the technical break.
        let (st, s) = api
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/sessions/{session}"),
                serde_json::Value::Null,
            )
            .await;
        assert_eq!(st, 200, "{s}");
        let events = s["source_events"].as_array().expect("source_events");
        let kinds: Vec<_> = events
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["lost", "back"], "{s}");
        let at = |e: &serde_json::Value| {
            SystemTime::UNIX_EPOCH + Duration::from_nanos(e["wall_ns"].as_u64().expect("wall_ns"))
        };
        let (lost_at, back_at) = (
            secs_between(at(&events[0]), gone),
            secs_between(at(&events[1]), back),
        );
        eprintln!(
            "recorded: lost {lost_at:.2} s after the freeze, back {back_at:.2} s after the resume"
        );
        assert!(
            (1.5..=3.5).contains(&lost_at),
            "lost recorded {lost_at:.2} s after the freeze"
        );
        assert!(
            (0.0..=5.0).contains(&back_at),
            "back recorded {back_at:.2} s after the resume"
        );
        assert_eq!(events[0]["channel"], "main");
        assert!(
            events[0]["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{s}"
        );
        let page = get_text(&format!("{base}/sesje/{session}")).await;
        assert!(
            page.contains("Przerwy techniczne") && page.contains("id=\"outages\""),
            "the session page does not list the technical break"
        );
    });
}

/// nginx with the RTMP module (Debian's libnginx-mod-rtmp) on loopback:
/// `rtmp://127.0.0.1:PORT/live/KEY`. Runs in the foreground; killed when
/// dropped.
fn nginx_rtmp(dir: &std::path::Path, port: u16) -> Peer {
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n\
             daemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {pid};\nerror_log stderr warn;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{ server {{ listen 127.0.0.1:{port}; \
             application live {{ live on; record off; }} }} }}\n",
            pid = dir.join("nginx.pid").display()
        ),
    )
    .expect("nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run nginx: {e} (run `make test-deps`)"));
    // Until it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Peer(child)
}

async fn restream_state(base: &str, cookie: &str) -> serde_json::Value {
    let r = client()
        .get(format!("{base}/api/v1/channels/main/health"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("health");
    let v: serde_json::Value = r.json().await.expect("JSON");
    v["restreams"][0].clone()
}

async fn wait_for_restream(base: &str, cookie: &str, state: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let r = restream_state(base, cookie).await;
        if r["state"] == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "restream not {state} within {limit:?}: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// ffprobe reads the restream from nginx: (codecs, output).
fn probe_rtmp(url: &str) -> String {
    let (code, out) = run_for(
        Command::new("ffprobe").args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            url,
        ]),
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "ffprobe {url}: {out}");
    out
}

#[test]
fn the_programme_is_restreamed_to_rtmp_and_a_dead_destination_never_disturbs_hls() {
    let _guard = heavy();
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut nginx = Some(nginx_rtmp(dir.path(), port));
    let key = "klucz-transmisji-123";
    let cfg = config(&format!(
        "[[channel]]\nid = \"main\"\nname = \"Sala sesyjna\"\nsource = {{ kind = \"test\" }}\n\
         restream = [{{ url = \"rtmp://127.0.0.1:{port}/live\", key = \"{key}\" }}]\n"
    ));
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, csrf) = login_admin(&base).await;
        crate::support::wait_live(&base, "360p").await;
        // Off until a session is live.
        assert_eq!(restream_state(&base, &cookie).await["state"], "off");
        let post = |path: String, body: serde_json::Value| {
            let (base, cookie, csrf) = (base.clone(), cookie.clone(), csrf.clone());
            async move {
                let r = client()
                    .post(format!("{base}{path}"))
                    .header("Cookie", &cookie)
                    .header("X-CSRF-Token", &csrf)
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                let status = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                assert!(status == 200 || status == 201, "{path}: {status} {v}");
                v
            }
        };
        let created = post(
            "/api/v1/sessions".into(),
            serde_json::from_str(include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/agenda-sesja-xlv.json"
            )))
            .expect("fixture"),
        )
        .await;
        let id = created["id"].as_i64().expect("id");
        post(
            format!("/api/v1/sessions/{id}/start"),
            serde_json::json!({}),
        )
        .await;
        wait_for_restream(&base, &cookie, "live", Duration::from_secs(15)).await;
        let url = format!("rtmp://127.0.0.1:{port}/live/{key}");
        let u = url.clone();
        let probed = tokio::task::spawn_blocking(move || probe_rtmp(&u))
            .await
            .expect("ffprobe");
        assert!(
            probed.contains("h264") && probed.contains("aac"),
            "ffprobe read from nginx: {probed}"
        );
        // The key is never shown.
        let health = restream_state(&base, &cookie).await.to_string();
        let list = get_text(&format!("{base}/api/v1/channels")).await;
        assert!(
            !health.contains(key) && !list.contains(key),
            "{health} {list}"
        );

        // nginx dies: HLS goes on untouched; the restream retries.
        let watch = PartWatch::start(format!("{base}/live/main/360p/index.m3u8"));
        nginx.take();
        wait_for_restream(&base, &cookie, "retrying", Duration::from_secs(15)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        nginx = Some(nginx_rtmp(dir.path(), port));
        let back = Instant::now();
        wait_for_restream(&base, &cookie, "live", Duration::from_secs(15)).await;
        let u = url.clone();
        let probed = tokio::task::spawn_blocking(move || probe_rtmp(&u))
            .await
            .expect("ffprobe");
        assert!(probed.contains("h264"), "after nginx came back: {probed}");
        eprintln!(
            "restream live again {:?} after nginx came back",
            back.elapsed()
        );
        let (parts, longest) = watch.finish().await;
        eprintln!("{parts} parts while nginx was away; longest wait for a new part {longest:?}");
        assert!(
            longest <= Duration::from_millis(900),
            "the live stream stalled {longest:?} while the restream failed"
        );
        let r = restream_state(&base, &cookie).await;
        assert!(r["restarts"].as_u64() >= Some(1), "{r}");

        post(format!("/api/v1/sessions/{id}/stop"), serde_json::json!({})).await;
        wait_for_restream(&base, &cookie, "off", Duration::from_secs(5)).await;
        drop(nginx);
    });
}

/// Whether most of a frame (or of a region of it: x0..x1, y0..y1 in
/// fractions) is white.
fn white_in(frame: &[u8], x0: f64, x1: f64, y0: f64, y1: f64) -> bool {
    let (mut n, mut white) = (0, 0);
    for y in (y0 * H as f64) as usize..(y1 * H as f64) as usize {
        for x in (x0 * W as f64) as usize..(x1 * W as f64) as usize {
            let p = &frame[(y * W + x) * 3..(y * W + x) * 3 + 3];
            n += 1;
            white += usize::from(p.iter().all(|&c| c > 200));
        }
    }
    n > 0 && white * 10 >= n * 8
}

#[test]
fn a_cut_between_two_cameras_through_the_api_shows_within_half_a_second() {
    let _guard = heavy();
    let (p1, p2) = (free_port(), free_port());
    // Bars and a 440 Hz tone; white and a 1 kHz tone.
    let _bars = rtsp_camera(p1);
    let _white = rtsp_camera_showing(p2, "white", 1000);
    let cfg = config(&format!(
        "[[channel]]\nid = \"main\"\nname = \"Sala sesyjna\"\n\
         source = {{ kind = \"rtsp\", url = \"rtsp://127.0.0.1:{p1}/cam\" }}\n\
         inputs = [{{ name = \"mownica\", source = {{ kind = \"rtsp\", url = \"rtsp://127.0.0.1:{p2}/cam\" }} }}]\n"
    ));
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, csrf) = login_admin(&base).await;
        let deadline = Instant::now() + Duration::from_secs(25);
        loop {
            let p: serde_json::Value = client()
                .get(format!("{base}/api/v1/channels/main/program"))
                .send()
                .await
                .expect("program")
                .json()
                .await
                .expect("JSON");
            let live = p["inputs"]
                .as_array()
                .is_some_and(|i| i.len() == 2 && i.iter().all(|x| x["state"] == "live"));
            if live {
                break;
            }
            assert!(Instant::now() < deadline, "cameras not live: {p}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let cut = |body: serde_json::Value| {
            let (base, cookie, csrf) = (base.clone(), cookie.clone(), csrf.clone());
            async move {
                let at = SystemTime::now();
                let r = client()
                    .put(format!("{base}/api/v1/channels/main/program"))
                    .header("Cookie", &cookie)
                    .header("X-CSRF-Token", &csrf)
                    .json(&body)
                    .send()
                    .await
                    .expect("cut");
                let status = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap_or_default();
                (status, v, at)
            }
        };
        let (st, v, _) = cut(serde_json::json!({ "input": 5 })).await;
        assert_eq!(st, 422, "{v}");
        assert!(v.to_string().contains("input"), "{v}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (st, v, to_white) = cut(serde_json::json!({ "input": 1 })).await;
        assert_eq!((st, v["input"].as_u64()), (200, Some(1)), "{v}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (st, _, to_bars) = cut(serde_json::json!({ "input": 0 })).await;
        assert_eq!(st, 200);
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (st, _, to_pip) = cut(serde_json::json!({ "input": 0, "pip": 1 })).await;
        assert_eq!(st, 200);
        tokio::time::sleep(Duration::from_secs(5)).await;

        let shown = live_frames(&base, "main", 8).await;
        let first = |from: SystemTime, want: &dyn Fn(&[u8]) -> bool| {
            shown
                .iter()
                .filter(|(at, _, _)| *at >= from)
                .find(|(_, _, f)| want(f))
                .map(|(at, _, _)| secs_between(*at, from))
        };
        let full_white = |f: &[u8]| white_in(f, 0.0, 1.0, 0.0, 1.0);
        // A frame is stamped with the time it was captured; the compositor
        // combines it a few frames later (the pipeline's latency), so a cut
        // asked for at W shows from frames stamped a little before W. More
        // than 0.2 s early would mean camera 1 was on the air before the cut.
        let early = shown
            .iter()
            .filter(|(at, _, _)| *at < to_white)
            .filter(|(_, _, f)| full_white(f))
            .map(|(at, _, _)| secs_between(to_white, *at))
            .fold(0.0, f64::max);
        eprintln!("first frame of camera 1 stamped {early:.2} s before the request");
        assert!(early <= 0.2, "camera 1 on the air {early:.2} s before the cut");
        let d1 = first(to_white, &|f| full_white(f)).expect("camera 1 never on the air");
        let d2 = first(to_bars, &|f| !full_white(f)).expect("camera 0 never back");
        let corner = |f: &[u8]| white_in(f, 0.74, 0.94, 0.08, 0.22) && !full_white(f);
        let d3 = first(to_pip, &corner).expect("camera 1 never in the corner");
        eprintln!("cut to camera 1 shown after {d1:.2} s, back to 0 after {d2:.2} s, picture in picture after {d3:.2} s");
        for (what, d) in [("cut to camera 1", d1), ("cut back to 0", d2), ("picture in picture", d3)] {
            assert!(d <= 0.5, "{what} shown {d:.2} s after the request");
        }
        // After the cut, the cut holds until the cut back. A frame's time is
        // its segment's PROGRAM-DATE-TIME plus 40 ms a frame, so frames near
        // the end of a segment may be placed up to a few frames early: the
        // last 0.2 s before the cut back are left out.
        let after_white: Vec<bool> = shown
            .iter()
            .filter(|(at, _, _)| {
                *at >= to_white + Duration::from_secs_f64(d1)
                    && *at + Duration::from_millis(200) < to_bars
            })
            .map(|(_, _, f)| full_white(f))
            .collect();
        let held = after_white.iter().filter(|w| **w).count();
        assert!(
            after_white.len() >= 50 && held == after_white.len(),
            "camera 1 did not stay on the air: {held} of {} frames between the cuts",
            after_white.len()
        );

        // The sound: camera 0's through all the cuts above (the default);
        // then the camera on the air's, both, camera 0's again.
        let (st, v, to_follow) = cut(serde_json::json!({ "input": 1, "audio": "follow" })).await;
        assert_eq!((st, &v["audio"]), (200, &serde_json::json!("follow")), "{v}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (st, v, to_mix) = cut(serde_json::json!({ "input": 1, "audio": "mix" })).await;
        assert_eq!((st, &v["audio"]), (200, &serde_json::json!("mix")), "{v}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (st, v, to_zero) = cut(serde_json::json!({ "input": 1, "audio": 0 })).await;
        assert_eq!((st, &v["audio"]), (200, &serde_json::json!(0)), "{v}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (st, v, _) = cut(serde_json::json!({ "input": 1, "audio": "left" })).await;
        assert_eq!(st, 422, "{v}");
        assert!(v.to_string().contains("audio"), "{v}");
        let (st, v, _) = cut(serde_json::json!({ "input": 1, "audio": 7 })).await;
        assert_eq!(st, 422, "{v}");
        let end = SystemTime::now();
        // Only whole segments are decoded: wait until the one holding `end`
        // is complete (2 s segments; the last one lagged under load).
        tokio::time::sleep(Duration::from_secs(3)).await;

        let sound = live_sound(&base, "main", 16).await;
        // What each 100 ms window holds: (440 Hz, 1 kHz).
        let heard = |from: SystemTime, to: SystemTime| {
            let span: Vec<(bool, bool)> = sound
                .iter()
                .filter(|(at, _)| *at >= from + Duration::from_millis(500) && *at + Duration::from_millis(300) < to)
                .map(|(_, w)| (tone_share(w, 440.0) > 0.25, tone_share(w, 1000.0) > 0.25))
                .collect();
            let n = span.len();
            let count = |want: (bool, bool)| span.iter().filter(|h| **h == want).count();
            (n, count((true, false)), count((false, true)), count((true, true)))
        };
        let (n, only_0, only_1, both) = heard(to_white, to_bars);
        eprintln!("sound while camera 1 was cut to (audio 0): {only_0} of {n} windows camera 0's only");
        assert!(n >= 15 && only_0 * 10 >= n * 9, "camera 0's sound only, by default: {n} {only_0} {only_1} {both}");
        let (n, only_0, only_1, both) = heard(to_follow, to_mix);
        eprintln!("audio follow: {only_1} of {n} windows camera 1's only");
        assert!(n >= 15 && only_1 * 10 >= n * 9, "follow: {n} {only_0} {only_1} {both}");
        let (n, only_0, only_1, both) = heard(to_mix, to_zero);
        eprintln!("audio mix: {both} of {n} windows both tones");
        assert!(n >= 15 && both * 10 >= n * 9, "mix: {n} {only_0} {only_1} {both}");
        let (n, only_0, only_1, both) = heard(to_zero, end);
        eprintln!("audio 0 with camera 1 on the air: {only_0} of {n} windows camera 0's only");
        assert!(n >= 15 && only_0 * 10 >= n * 9, "audio 0: {n} {only_0} {only_1} {both}");
    });
}

/// The live sound of the last `last` whole segments of `channel`, in 100 ms
/// windows of mono 8 kHz samples, each with its time (segment
/// PROGRAM-DATE-TIME plus its offset).
async fn live_sound(base: &str, channel: &str, last: usize) -> Vec<(SystemTime, Vec<f64>)> {
    let mut out = Vec::new();
    for (start, bytes) in live_segments(base, channel, "audio", last).await {
        let samples = decode_sound(&bytes);
        for (i, w) in samples.chunks_exact(800).enumerate() {
            out.push((start + Duration::from_millis(100 * i as u64), w.to_vec()));
        }
    }
    out
}

/// The channel's program view (`GET /api/v1/channels/{channel}/program`).
async fn program_of(base: &str, channel: &str) -> serde_json::Value {
    client()
        .get(format!("{base}/api/v1/channels/{channel}/program"))
        .send()
        .await
        .expect("program")
        .json()
        .await
        .expect("JSON")
}

/// Waits until `check` holds for the program view; returns when it did.
async fn wait_for_program(
    base: &str,
    check: impl Fn(&serde_json::Value) -> bool,
    limit: Duration,
) -> SystemTime {
    let deadline = Instant::now() + limit;
    loop {
        let p = program_of(base, "main").await;
        if check(&p) {
            return SystemTime::now();
        }
        assert!(Instant::now() < deadline, "program never as expected: {p}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_backup_source_stands_in_for_a_lost_camera_before_the_slate() {
    let _guard = heavy();
    let (p1, p2) = (free_port(), free_port());
    // The camera: bars and 440 Hz; the backup: white and 1 kHz.
    let mut camera = Some(rtsp_camera(p1));
    let _backup = rtsp_camera_showing(p2, "white", 1000);
    let cfg = config(&format!(
        "[[channel]]\nid = \"main\"\nname = \"Sala sesyjna\"\nsource_timeout = 2.0\n\
         source = {{ kind = \"rtsp\", url = \"rtsp://127.0.0.1:{p1}/cam\" }}\n\
         backup = {{ kind = \"rtsp\", url = \"rtsp://127.0.0.1:{p2}/cam\" }}\n"
    ));
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let api = Api::admin(&base).await;
        wait_for_source(&base, &api.cookie, "main", "live", Duration::from_secs(20)).await;
        wait_for_program(
            &base,
            |p| p["backup"]["state"] == "live" && p["backup"]["on_air"] == false,
            Duration::from_secs(20),
        )
        .await;
        let session = api.start_fixture_session("main").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let watch = PartWatch::start(format!("{base}/live/main/360p/index.m3u8"));

        let gone = SystemTime::now();
        camera.take();
        let stood_in = wait_for_program(
            &base,
            |p| p["backup"]["on_air"] == true,
            Duration::from_secs(5),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        camera = Some(rtsp_camera(p1));
        let back = SystemTime::now();
        let stepped_back = wait_for_program(
            &base,
            |p| p["backup"]["on_air"] == false,
            Duration::from_secs(10),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (parts, longest) = watch.finish().await;
        let end = SystemTime::now();
        eprintln!(
            "backup on the air {:.2} s after the camera went, off {:.2} s after it came back; \
             {parts} parts, longest wait for a new part {longest:?}",
            secs_between(stood_in, gone),
            secs_between(stepped_back, back)
        );
        assert!(
            secs_between(stood_in, gone) <= 3.0,
            "the backup stood in late"
        );
        assert!(
            secs_between(stepped_back, back) <= 5.0,
            "the camera returned late"
        );
        assert!(
            longest <= Duration::from_millis(900),
            "no new part for {longest:?}"
        );

        let shown = live_frames(&base, "main", 10).await;
        let full_white = |f: &[u8]| white_in(f, 0.0, 1.0, 0.0, 1.0);
        let span = |from: SystemTime, to: SystemTime| {
            shown
                .iter()
                .filter(move |(at, _, _)| *at >= from && *at < to)
                .map(|(_, s, f)| (*s, full_white(f)))
        };
        // From the camera's loss to its return: its last picture (until the
        // watchdog's 2 s), then the backup; the slate only for the instant
        // between the two decisions.
        let slate = span(gone, back).filter(|(s, _)| *s == Shows::Slate).count();
        let backup_frames = span(gone, back).filter(|(_, w)| *w).count();
        eprintln!(
            "while the camera was away: {backup_frames} frames of the backup, {slate} of the slate"
        );
        assert!(
            slate <= 3,
            "{slate} frames of the slate although the backup delivered"
        );
        let standing = span(stood_in + Duration::from_millis(300), back).count();
        let standing_white = span(stood_in + Duration::from_millis(300), back)
            .filter(|(_, w)| *w)
            .count();
        assert!(
            standing >= 50 && standing_white == standing,
            "the backup showed in {standing_white} of {standing} frames while it stood in"
        );
        // After the camera's return: its bars, not the backup.
        let after: Vec<_> = span(stepped_back + Duration::from_millis(300), end).collect();
        assert!(
            after.len() >= 50 && after.iter().all(|(s, w)| *s == Shows::Picture && !*w),
            "the camera's picture did not return: {} frames",
            after.len()
        );
        // The sound: the backup's while it stood in, the camera's after.
        let sound = live_sound(&base, "main", 10).await;
        let tones = |from: SystemTime, to: SystemTime| {
            let w: Vec<_> = sound
                .iter()
                .filter(|(at, _)| {
                    *at >= from + Duration::from_millis(300)
                        && *at + Duration::from_millis(300) < to
                })
                .map(|(_, w)| (tone_share(w, 440.0) > 0.25, tone_share(w, 1000.0) > 0.25))
                .collect();
            let n = w.len();
            (
                n,
                w.iter().filter(|t| **t == (true, false)).count(),
                w.iter().filter(|t| **t == (false, true)).count(),
            )
        };
        let (n, _, backup_only) = tones(stood_in, back);
        assert!(
            n >= 15 && backup_only * 10 >= n * 9,
            "backup's sound in {backup_only} of {n} windows"
        );
        let (n, camera_only, _) = tones(stepped_back, end);
        assert!(
            n >= 15 && camera_only * 10 >= n * 9,
            "camera's sound in {camera_only} of {n} windows"
        );

        // The session's record has the camera's loss and return.
        let (_, s) = api
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/sessions/{session}"),
                serde_json::Value::Null,
            )
            .await;
        let kinds: Vec<_> = s["source_events"]
            .as_array()
            .expect("source_events")
            .iter()
            .map(|e| (e["input"].as_u64(), e["kind"].as_str().map(str::to_owned)))
            .collect();
        assert_eq!(
            kinds,
            [
                (Some(0), Some("lost".to_owned())),
                (Some(0), Some("back".to_owned()))
            ],
            "{s}"
        );
        drop(camera);
    });
}

#[test]
fn a_looped_file_feeds_a_channel_and_starts_again_without_the_slate() {
    let _guard = heavy();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("próba.mp4");
    // A 3 s rehearsal file: a test picture scrolling 3 % of its width a
    // frame, a 440 Hz tone.
    let (code, out) = run_for(
        Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=640x360:rate=25",
            ])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
            .args([
                "-t",
                "3",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "25",
            ])
            .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"])
            .arg(&file),
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "ffmpeg: {out}");
    let cfg = config(&format!(
        "[[channel]]\nid = \"main\"\nname = \"Próba\"\n\
         source = {{ kind = \"file\", path = \"{}\" }}\n",
        file.display()
    ));
    let o = start(&["--config", cfg.path().to_str().expect("path")]);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let base = format!("http://{}", o.addr);
        let (cookie, _) = login_admin(&base).await;
        wait_for_source(&base, &cookie, "main", "live", Duration::from_secs(20)).await;
        let watch = PartWatch::start(format!("{base}/live/main/360p/index.m3u8"));
        // Three times through the file.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (parts, longest) = watch.finish().await;
        let shown = live_frames(&base, "main", 4).await;
        let slate = shown.iter().filter(|(_, s, _)| *s == Shows::Slate).count();
        let moving = shown.windows(2).filter(|w| moved(&w[0].2, &w[1].2)).count();
        eprintln!(
            "looped file: {} frames, {moving} moved, {slate} of the slate; {parts} parts, longest wait {longest:?}",
            shown.len()
        );
        assert!(shown.len() >= 150, "{} frames", shown.len());
        assert_eq!(slate, 0, "the slate showed at the file's end");
        // The file plays: its picture moves. Not every frame is new
        // (measured: 127-140 of 199, while the file itself has a new picture
        // in every frame; RTSP and SRT sources give 99 of 100): some frames
        // are taken twice by the encode graph and the next one skipped.
        // Handing them over 20-40 ms later gave 148-162, so the phase of the
        // two frame grids is only part of it. A known gap, not a stall.
        assert!(moving * 2 >= shown.len() - 1, "the picture stood still: {moving} of {} moved", shown.len() - 1);
        assert!(longest <= Duration::from_millis(900), "no new part for {longest:?}");
        let report = source_state(&base, &cookie, "main").await;
        assert_eq!(report["state"], "live", "{report}");
        assert_eq!(report["losses"], 0, "the end of the file counted as a loss: {report}");
        let sound = live_sound(&base, "main", 4).await;
        let tone = sound.iter().filter(|(_, w)| tone_share(w, 440.0) > 0.5).count();
        assert!(tone * 10 >= sound.len() * 9, "the file's tone in {tone} of {} windows", sound.len());
    });
}
