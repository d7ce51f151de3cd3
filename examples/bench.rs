//! `make bench`: CPU, memory and LL-HLS latency of `obrady serve`, printed
//! next to `gst-launch-1.0` running the very same encode graph into fakesinks.
//!
//! Nothing is built here: the bench runs `target/release/obrady` (or
//! `$OBRADY_BIN`). Each phase has ~8 s of warm-up that is not measured, then
//! a window of `BENCH_SECONDS` (default 60).
//!
//! - Phase A starts `obrady serve` on a free 127.0.0.1 port with a temporary
//!   data directory and waits until the 720p playlist answers. One LL-HLS
//!   client then follows the 720p rendition like a player: it GETs the
//!   EXT-X-PRELOAD-HINT part (the server holds the request until the part
//!   exists) together with the blocking reload `?_HLS_msn=M&_HLS_part=P` that
//!   lists it, and notes the wall-clock time at which the part's body was
//!   fully received. The part's media end time is its segment's
//!   EXT-X-PROGRAM-DATE-TIME (capture time of the segment's first sample)
//!   plus the durations of the segment's parts up to and including it;
//!   latency = receive time - media end time, on the same machine's clock.
//!   The test source emits each frame at the *start* of its 1/fps interval,
//!   so a part can be complete slightly before its media end: with nothing
//!   but encoding and packaging in between, values just below zero are right.
//! - Phase B runs `gst-launch-1.0 -q` with the line `obrady graph` prints
//!   (same sources, encoders and settings; fakesinks instead of appsinks).
//!
//! CPU is utime+stime of the process (all threads) from /proc/PID/stat, read
//! at the start and the end of the window; the client, in this process, is
//! not counted. Peak RSS is VmHWM from /proc/PID/status. The exit status is
//! non-zero only when something could not be measured: slow numbers are
//! reported, never judged.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use obrady::config::Config;
use reqwest::{StatusCode, Url};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::{sleep, sleep_until};

const WARM_UP: Duration = Duration::from_secs(8);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const GST_COLUMN: &str = "gst-launch-1.0 (same graph → fakesink)";
/// Client errors in a row after which the latency measurement gives up.
const MAX_ERRORS_IN_A_ROW: u32 = 10;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // On Ctrl-C or SIGTERM, dropping `run` drops the guards: children die too.
    let interrupted = async {
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! { r = tokio::signal::ctrl_c() => r, _ = term.recv() => Ok(()) }
    };
    let result = tokio::select! {
        r = run() => r,
        r = interrupted => r.context("cannot watch signals").and_then(|()| bail!("interrupted")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let secs: u64 = match std::env::var("BENCH_SECONDS") {
        Ok(v) => v.trim().parse().ok().filter(|&s| s > 0).with_context(|| {
            format!("BENCH_SECONDS must be a whole number of seconds > 0, got {v:?}")
        })?,
        Err(_) => 60,
    };
    let window = Duration::from_secs(secs);
    let bin = match std::env::var_os("OBRADY_BIN") {
        Some(p) => PathBuf::from(p),
        None => repo_root().join("target/release/obrady"),
    };
    if !bin.is_file() {
        bail!(
            "{} not found: run `cargo build --release` first (or set OBRADY_BIN)",
            bin.display()
        );
    }
    let tick = clock_ticks_per_second();
    eprintln!(
        "bench: phase A: obrady serve ({}), {secs} s after warm-up",
        bin.display()
    );
    let a = bench_obrady(&bin, window, tick)
        .await
        .context("phase A (obrady serve)")?;
    eprintln!("bench: phase B: gst-launch-1.0 with `obrady graph`, {secs} s after warm-up");
    let b = bench_baseline(&bin, window, tick)
        .await
        .context("phase B (gst-launch-1.0)")?;
    print_report(&Config::embedded_default(), secs, &a, &b);
    Ok(())
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------- processes

/// A child process whose output goes to a log file; killed and reaped when
/// dropped, whichever way the bench ends.
struct ChildGuard {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl ChildGuard {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Result<ChildGuard> {
        let out = fs::File::create(&log).with_context(|| format!("cannot create {log:?}"))?;
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        cmd.env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("GST_DEBUG");
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(ChildGuard { child, name, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "{} exited ({status}); its last output:\n{}",
                self.name,
                tail.join("\n")
            );
        }
        Ok(())
    }

    /// Sends SIG`signal` and waits for the exit; describes the outcome.
    async fn stop(&mut self, signal: &str) -> Result<String> {
        self.ensure_running()?;
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()?;
        if !kill.success() {
            bail!("`kill -s {signal} {}` failed ({kill})", self.pid());
        }
        while sent.elapsed() < STOP_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                let took = sent.elapsed().as_secs_f64();
                return Ok(format!("SIG{signal} → {status} after {took:.2} s"));
            }
            sleep(Duration::from_millis(20)).await;
        }
        Ok(format!(
            "SIG{signal} → STILL RUNNING after {STOP_TIMEOUT:?} (killed)"
        ))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn clock_ticks_per_second() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().ok();
    let text = out
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    text.trim()
        .parse()
        .ok()
        .filter(|&t: &f64| t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of `pid` in clock ticks: fields 14 and 15 of
/// /proc/PID/stat, counted after the `)` that ends the command name.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    field(11)
        .zip(field(12))
        .map(|(u, s)| u + s)
        .context("unexpected /proc/PID/stat")
}

/// VmHWM (peak resident set) of `pid`, MiB.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"));
    let kib: f64 = line
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM")?;
    Ok(kib / 1024.0)
}

struct Usage {
    cpu_seconds: f64,
    wall_seconds: f64,
    peak_rss_mib: f64,
}

impl Usage {
    fn percent(&self) -> f64 {
        self.cpu_seconds / self.wall_seconds * 100.0
    }
    fn per_minute(&self) -> f64 {
        self.percent() * 0.6
    }
}

/// CPU of `pid` between `from` and `to` (sleeping until each), and its peak RSS.
async fn measure(pid: u32, from: Instant, to: Instant, tick: f64) -> Result<Usage> {
    sleep_until(from.into()).await;
    let (t0, w0) = (cpu_ticks(pid).context("process gone")?, Instant::now());
    sleep_until(to.into()).await;
    let (t1, w1) = (cpu_ticks(pid).context("process gone")?, Instant::now());
    let cpu_seconds = t1.saturating_sub(t0) as f64 / tick;
    let peak_rss_mib = peak_rss_mib(pid)?;
    Ok(Usage {
        cpu_seconds,
        wall_seconds: (w1 - w0).as_secs_f64(),
        peak_rss_mib,
    })
}

// ------------------------------------------------------------------ phases

struct ObradyRun {
    usage: Usage,
    stopped: String,
    client: ClientStats,
}

async fn bench_obrady(bin: &Path, window: Duration, tick: f64) -> Result<ObradyRun> {
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(bin);
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ]);
    cmd.arg(tmp.path().join("data")).current_dir(repo_root());
    let mut server = ChildGuard::spawn("obrady serve", cmd, tmp.path().join("obrady.log"))?;
    let started = Instant::now();
    let client = LlHlsClient {
        http: reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .no_proxy()
            .build()?,
        playlist: Url::parse(&format!(
            "http://127.0.0.1:{port}/live/main/720p/index.m3u8"
        ))?,
    };
    client.wait_ready(&mut server).await?;
    // The client follows the stream from now on (warm-up included); only the
    // parts received inside the measured window count.
    let from = (started + WARM_UP).max(Instant::now());
    let to = from + window;
    let (usage, client) =
        tokio::try_join!(measure(server.pid(), from, to, tick), client.run(from, to))?;
    let stopped = server.stop("TERM").await?;
    Ok(ObradyRun {
        usage,
        stopped,
        client,
    })
}

async fn bench_baseline(bin: &Path, window: Duration, tick: f64) -> Result<(Usage, String)> {
    let out = Command::new(bin)
        .arg("graph")
        .current_dir(repo_root())
        .output()?;
    if !out.status.success() {
        bail!(
            "`obrady graph` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout).context("`obrady graph` printed non-UTF-8")?;
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .context("`obrady graph` printed nothing")?;
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.arg("-q").args(split_launch_line(line));
    let mut gst = ChildGuard::spawn("gst-launch-1.0", cmd, tmp.path().join("gst.log"))
        .context("is gstreamer1.0-tools installed? (`make deps`)")?;
    let from = Instant::now() + WARM_UP;
    sleep_until(from.into()).await;
    gst.ensure_running()?;
    let usage = measure(gst.pid(), from, from + window, tick).await?;
    Ok((usage, gst.stop("INT").await?))
}

/// Splits a launch line at spaces outside double quotes, keeping the quotes:
/// gst-launch-1.0 escapes the spaces outside quotes in each argument, so
/// `font-desc="Sans Bold 45px"` must reach it as one quoted argument.
fn split_launch_line(line: &str) -> Vec<String> {
    let (mut args, mut cur, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        if c.is_whitespace() && !quoted && !escaped {
            args.extend((!cur.is_empty()).then(|| std::mem::take(&mut cur)));
            continue;
        }
        quoted ^= c == '"' && !escaped;
        escaped = c == '\\' && !escaped;
        cur.push(c);
    }
    args.extend((!cur.is_empty()).then_some(cur));
    args
}

// ----------------------------------------------------------- LL-HLS client

struct LlHlsClient {
    http: reqwest::Client,
    playlist: Url,
}

#[derive(Default)]
struct ClientStats {
    latencies_ms: Vec<f64>,
    /// Preload hints answered 404: the hinted part never came to exist.
    hints_404: u32,
    errors: u32,
}

impl LlHlsClient {
    async fn wait_ready(&self, server: &mut ChildGuard) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            server.ensure_running()?;
            match self.fetch_playlist(None).await {
                Ok(p) if p.preload_hint.is_some() => return Ok(()),
                Ok(_) => last = "no EXT-X-PRELOAD-HINT yet".into(),
                Err(e) => last = format!("{e:#}"),
            }
            sleep(Duration::from_millis(250)).await;
        }
        bail!(
            "{} did not answer within {READY_TIMEOUT:?}: {last}",
            self.playlist
        )
    }

    /// Follows the live edge until `to`, keeping the latencies of the parts
    /// received in `from..to`.
    async fn run(&self, from: Instant, to: Instant) -> Result<ClientStats> {
        let (mut stats, mut in_a_row) = (ClientStats::default(), 0);
        let mut playlist = self.fetch_playlist(None).await?;
        while Instant::now() < to {
            match self.next_part(&playlist).await {
                Ok((next, part)) => {
                    match part {
                        Some((ms, at)) if (from..to).contains(&at) => stats.latencies_ms.push(ms),
                        Some(_) => {}
                        None => stats.hints_404 += u32::from(Instant::now() >= from),
                    }
                    (playlist, in_a_row) = (next, 0);
                }
                Err(e) if in_a_row + 1 >= MAX_ERRORS_IN_A_ROW => {
                    return Err(e.context(format!(
                        "{MAX_ERRORS_IN_A_ROW} LL-HLS client errors in a row"
                    )));
                }
                Err(e) => {
                    (stats.errors, in_a_row) = (stats.errors + 1, in_a_row + 1);
                    eprintln!("bench: client error (starting again from the live playlist): {e:#}");
                    sleep(Duration::from_millis(200)).await;
                    playlist = self.fetch_playlist(None).await.unwrap_or(playlist);
                }
            }
        }
        Ok(stats)
    }

    /// GETs the preload-hint part of `playlist` and, at the same time, the
    /// blocking reload that lists it. Returns that reload and, unless the
    /// hint was answered 404, the part's latency (ms) and receive instant.
    async fn next_part(
        &self,
        playlist: &MediaPlaylist,
    ) -> Result<(MediaPlaylist, Option<(f64, Instant)>)> {
        let hint = playlist
            .preload_hint
            .as_deref()
            .context("the playlist has no EXT-X-PRELOAD-HINT")?;
        let url = self
            .playlist
            .join(hint)
            .with_context(|| format!("bad part URI {hint:?}"))?;
        let (part, reload) = tokio::join!(
            self.fetch_part(url),
            self.fetch_playlist(Some(playlist.hint_position()))
        );
        let (part, reload) = (part?, reload?);
        let Some((received_ns, received)) = part else {
            return Ok((reload, None));
        };
        let latency_ms = (received_ns - reload.part_end_ns(hint)?) as f64 / 1e6;
        Ok((reload, Some((latency_ms, received))))
    }

    /// GETs a part: the wall-clock time (ns since the epoch) and the instant
    /// its body was complete, or None on 404.
    async fn fetch_part(&self, url: Url) -> Result<Option<(i128, Instant)>> {
        let resp = self.get(&url).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = ok(resp, &url)?
            .bytes()
            .await
            .with_context(|| format!("GET {url}: body"))?;
        let now = (
            SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as i128,
            Instant::now(),
        );
        if body.is_empty() {
            bail!("GET {url}: empty part");
        }
        Ok(Some(now))
    }

    async fn fetch_playlist(&self, block: Option<(u64, u64)>) -> Result<MediaPlaylist> {
        let mut url = self.playlist.clone();
        if let Some((msn, part)) = block {
            url.set_query(Some(&format!("_HLS_msn={msn}&_HLS_part={part}")));
        }
        let resp = self.get(&url).await?;
        let text = ok(resp, &url)?
            .text()
            .await
            .with_context(|| format!("GET {url}: body"))?;
        MediaPlaylist::parse(&text).with_context(|| format!("GET {url}: not a media playlist"))
    }

    async fn get(&self, url: &Url) -> Result<reqwest::Response> {
        let request = self.http.get(url.clone()).send();
        request.await.with_context(|| format!("GET {url}"))
    }
}

fn ok(resp: reqwest::Response, url: &Url) -> Result<reqwest::Response> {
    match resp.status() {
        s if s.is_success() => Ok(resp),
        s => bail!("GET {url}: {s}"),
    }
}

/// What the client needs of a media playlist.
#[derive(Debug, Default)]
struct MediaPlaylist {
    media_sequence: u64,
    segments: Vec<Segment>,
    preload_hint: Option<String>,
}

#[derive(Debug, Default)]
struct Segment {
    /// EXT-X-PROGRAM-DATE-TIME, ns since the Unix epoch.
    pdt_ns: Option<i128>,
    /// URI and duration (s) of each listed part.
    parts: Vec<(String, f64)>,
    complete: bool,
}

impl MediaPlaylist {
    fn parse(text: &str) -> Result<MediaPlaylist> {
        if !text.starts_with("#EXTM3U") {
            bail!("no #EXTM3U");
        }
        let (mut p, mut seg) = (MediaPlaylist::default(), Segment::default());
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let bad = || format!("bad line {line:?}");
            if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                p.media_sequence = v.parse().with_context(bad)?;
            } else if let Some(v) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
                seg.pdt_ns = Some(parse_date_time(v).with_context(bad)?);
            } else if let Some(v) = line.strip_prefix("#EXT-X-PART:") {
                let duration = attribute(v, "DURATION").and_then(|d| d.parse().ok());
                seg.parts.push((
                    attribute(v, "URI").with_context(bad)?,
                    duration.with_context(bad)?,
                ));
            } else if let Some(v) = line.strip_prefix("#EXT-X-PRELOAD-HINT:") {
                p.preload_hint =
                    attribute(v, "URI").filter(|_| attribute(v, "TYPE").as_deref() == Some("PART"));
            } else if !line.starts_with('#') {
                seg.complete = true;
                p.segments.push(std::mem::take(&mut seg));
            }
        }
        if !seg.parts.is_empty() {
            p.segments.push(seg);
        }
        Ok(p)
    }

    /// `(_HLS_msn, _HLS_part)` of the part the preload hint names
    /// (`part-RUN-MSN.IDX.m4s`), else of the part after the last one listed.
    fn hint_position(&self) -> (u64, u64) {
        let from_hint = self.preload_hint.as_deref().and_then(|uri| {
            let stem = uri.strip_suffix(".m4s")?;
            let (_, pos) = stem.rsplit_once('-')?;
            let (msn, part) = pos.split_once('.')?;
            Some((msn.parse().ok()?, part.parse().ok()?))
        });
        if let Some(position) = from_hint {
            return position;
        }
        let msn = (self.media_sequence + self.segments.len() as u64).saturating_sub(1);
        match self.segments.last() {
            Some(s) if !s.complete => (msn, s.parts.len() as u64),
            Some(_) => (msn + 1, 0),
            None => (self.media_sequence, 0),
        }
    }

    /// Media end of part `uri`: its segment's PDT + the durations of the
    /// segment's parts up to and including it.
    fn part_end_ns(&self, uri: &str) -> Result<i128> {
        for s in &self.segments {
            if let Some(i) = s.parts.iter().position(|(u, _)| u == uri) {
                let pdt = s
                    .pdt_ns
                    .with_context(|| format!("the segment of {uri} has no PDT"))?;
                let secs: f64 = s.parts[..=i].iter().map(|(_, d)| d).sum();
                return Ok(pdt + (secs * 1e9).round() as i128);
            }
        }
        bail!("the blocking reload does not list the part {uri}")
    }
}

/// The value of `key` in an attribute list like `A=1,B="x,y"`, unquoted.
fn attribute(list: &str, key: &str) -> Option<String> {
    let mut rest = list;
    while let Some((name, after)) = rest.split_once('=') {
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted
                .split_once('"')
                .map(|(v, n)| (v, n.trim_start_matches(',')))?,
            None => after.split_once(',').unwrap_or((after, "")),
        };
        if name.trim() == key {
            return Some(value.to_owned());
        }
        rest = next;
    }
    None
}

/// `2026-11-30T00:45:42.668Z` → ns since the Unix epoch (UTC only).
fn parse_date_time(s: &str) -> Result<i128> {
    let body = s
        .strip_suffix('Z')
        .context("expected a UTC time ending in Z")?;
    let f: Vec<&str> = body.split(['-', 'T', ':', '.']).collect();
    let n = |i: usize| {
        f.get(i)
            .filter(|v| !v.is_empty() && v.len() <= 9)
            .and_then(|v| v.parse::<i64>().ok())
    };
    let [y, m, d, hh, mm, ss] = [0, 1, 2, 3, 4, 5].map(n);
    let (Some(y), Some(m @ 1..=12), Some(d), Some(hh), Some(mm), Some(ss)) = (y, m, d, hh, mm, ss)
    else {
        bail!("expected YYYY-MM-DDTHH:MM:SS.fffZ, got {s:?}");
    };
    let frac = f.get(6).copied().unwrap_or("");
    let frac_ns = if frac.is_empty() {
        0
    } else {
        n(6).context("bad fraction")? * 10i64.pow(9 - frac.len() as u32)
    };
    // Days since the epoch of a proleptic Gregorian date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let (era, yoe) = (y.div_euclid(400), y.rem_euclid(400));
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Ok(i128::from(days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000_000 + i128::from(frac_ns))
}

// ------------------------------------------------------------------ report

fn print_report(config: &Config, secs: u64, a: &ObradyRun, (b, b_stopped): &(Usage, String)) {
    let e = &config.encoding;
    let mut ladder: Vec<String> = e
        .video
        .iter()
        .map(|v| format!("{} {}k", v.name, v.bitrate))
        .collect();
    ladder.push(format!("AAC {}k", e.audio_bitrate));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "obrady bench: default ladder ({}, x264 {}, {} fps; parts {} s, segments {} s), {secs} s measured, {cpus} CPUs",
        ladder.join(" + "),
        e.x264_preset,
        e.framerate,
        config.hls.part_duration,
        config.hls.segment_duration
    );
    let mut lat = a.client.latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| match lat.len() {
        0 => "n/a".to_owned(),
        n => format!(
            "{:.0}",
            lat[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1]
        ),
    };
    let (u, f1) = (&a.usage, |v: f64| format!("{v:.1}"));
    let rows: [(&str, String, String); 8] = [
        ("what", "obrady serve".into(), GST_COLUMN.into()),
        (
            "CPU s per broadcast minute",
            f1(u.per_minute()),
            f1(b.per_minute()),
        ),
        ("CPU, % of one core", f1(u.percent()), f1(b.percent())),
        ("peak RSS, MiB", f1(u.peak_rss_mib), f1(b.peak_rss_mib)),
        ("LL-HLS part latency p50, ms", pct(50.0), "n/a".into()),
        ("LL-HLS part latency p95, ms", pct(95.0), "n/a".into()),
        ("LL-HLS part latency max, ms", pct(100.0), "n/a".into()),
        (
            "parts measured (720p)",
            lat.len().to_string(),
            String::new(),
        ),
    ];
    let width = |f: fn(&(&str, String, String)) -> usize| rows.iter().map(f).max();
    let w0 = width(|r| r.0.chars().count()).unwrap_or(0);
    let w1 = width(|r| r.1.chars().count()).unwrap_or(0);
    let w2 = width(|r| r.2.chars().count()).unwrap_or(0);
    for (what, obrady, gst) in &rows {
        println!("| {what:<w0$} | {obrady:<w1$} | {gst:<w2$} |");
    }
    if b.cpu_seconds > 0.0 {
        let overhead =
            (u.cpu_seconds / u.wall_seconds) / (b.cpu_seconds / b.wall_seconds) * 100.0 - 100.0;
        println!("CPU overhead of obrady over the baseline: {overhead:+.1} %");
    }
    println!("latency = part fully received - (segment PDT + parts up to it); may be < 0, see examples/bench.rs");
    if a.client.hints_404 > 0 || a.client.errors > 0 {
        println!(
            "LL-HLS client: {} preload hints answered 404 (hinted part never existed), {} other errors",
            a.client.hints_404, a.client.errors
        );
    }
    println!("stop: obrady {}; gst-launch-1.0 {b_stopped}", a.stopped);
}
