//! `make bench`: CPU, memory and LL-HLS latency of `obrady serve`, printed
//! next to `gst-launch-1.0` running the very same encode graph into fakesinks.
//!
//! Nothing is built here: the bench runs `target/release/obrady` (or
//! `$OBRADY_BIN`). Each phase has a warm-up of ~8 s that is not measured,
//! then a window of `BENCH_SECONDS` (default 60).
//!
//! - Phase A starts `obrady serve` on 127.0.0.1 (port 0: it logs the port it
//!   got) with a temporary data directory and waits until the 720p playlist
//!   answers. One LL-HLS client then follows the 720p rendition like a
//!   player: it GETs the EXT-X-PRELOAD-HINT part (the server holds the
//!   request until the part exists) together with the blocking reload
//!   `?_HLS_msn=M&_HLS_part=P` for that part, and notes the wall-clock time at
//!   which the part's body has been fully received. The part's media end time
//!   is its segment's EXT-X-PROGRAM-DATE-TIME (capture time of the segment's
//!   first sample) plus the durations of the segment's parts up to and
//!   including it. Latency = receive time - media end time: capture of the
//!   part's last frame → encode → package → deliver, on the same clock.
//! - Phase B runs `gst-launch-1.0 -q` with the line printed by `obrady graph`
//!   (same sources, encoders and settings; fakesinks instead of appsinks).
//!
//! CPU is utime+stime from /proc/PID/stat, read at the start and the end of
//! the window (threads included, the client in this process excluded); peak
//! RSS is VmHWM from /proc/PID/status. The exit status is non-zero only when
//! something could not be measured; slow numbers are reported, never judged.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use obrady::config::Config;
use reqwest::Url;
use tokio::time::sleep_until;

const WARM_UP: Duration = Duration::from_secs(8);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Consecutive client errors after which the latency measurement gives up.
const MAX_CLIENT_ERRORS: u32 = 10;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
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
    let bin = obrady_bin()?;
    let tick = clock_ticks_per_second();
    eprintln!(
        "bench: phase A: {} serve, {secs} s measured after warm-up",
        bin.display()
    );
    let a = bench_obrady(&bin, window, tick)
        .await
        .context("phase A (obrady serve)")?;
    eprintln!(
        "bench: phase B: gst-launch-1.0 with `obrady graph`, {secs} s measured after warm-up"
    );
    let b = bench_baseline(&bin, window, tick)
        .await
        .context("phase B (gst-launch-1.0)")?;
    print_report(&Config::embedded_default(), secs, &a, &b);
    Ok(())
}

/// `$OBRADY_BIN`, else `target/release/obrady` (honouring CARGO_TARGET_DIR).
fn obrady_bin() -> Result<PathBuf> {
    let bin = match std::env::var_os("OBRADY_BIN") {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join("target"))
            .join("release/obrady"),
    };
    if !bin.is_file() {
        bail!(
            "{} not found: run `cargo build --release` first (or set OBRADY_BIN)",
            bin.display()
        );
    }
    let built = fs::metadata(&bin).and_then(|m| m.modified()).ok();
    if let (Some(built), Some(src)) = (built, newest_mtime(&repo_root().join("src"))) {
        if src > built {
            eprintln!(
                "bench: warning: src/ is newer than {}; run `cargo build --release`",
                bin.display()
            );
        }
    }
    Ok(bin)
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}

// ---------------------------------------------------------------- processes

/// A child process with its output in a log file; killed and reaped on drop,
/// whatever path the bench takes.
struct ChildGuard {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl ChildGuard {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Result<ChildGuard> {
        let out =
            fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("GST_DEBUG")
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        Ok(ChildGuard { child, name, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited unexpectedly ({status}); end of its output:\n{}",
                self.name,
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Sends `signal` (e.g. "TERM") and waits for the process to exit. None:
    /// it is still running after STOP_TIMEOUT (drop kills it).
    async fn stop(&mut self, signal: &str) -> Result<Option<(ExitStatus, Duration)>> {
        let sent = Instant::now();
        let ok = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()?;
        if !ok.success() {
            bail!("`kill -s {signal} {}` failed ({ok})", self.pid());
        }
        while sent.elapsed() < STOP_TIMEOUT {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some((status, sent.elapsed())));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(None)
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
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<f64>().ok())
        .filter(|&t| t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat =
        fs::read_to_string(format!("/proc/{pid}/stat")).context("cannot read /proc/PID/stat")?;
    // The command name (field 2) may contain spaces: count after its ')'.
    let rest = stat
        .rsplit_once(')')
        .context("unexpected /proc/PID/stat")?
        .1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> Result<u64> {
        f.get(i)
            .and_then(|v| v.parse().ok())
            .context("unexpected /proc/PID/stat")
    };
    Ok(field(11)? + field(12)?)
}

/// VmHWM (peak resident set size) of `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .context("cannot read /proc/PID/status")?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/PID/status")?;
    Ok(kib as f64 / 1024.0)
}

struct Usage {
    cpu_seconds: f64,
    wall_seconds: f64,
    peak_rss_mib: f64,
    /// How the process ended after the stop signal: "SIGTERM → exit status 0 in 0.3 s".
    stopped: String,
}

impl Usage {
    fn per_minute(&self) -> f64 {
        self.cpu_seconds / self.wall_seconds * 60.0
    }
    fn percent(&self) -> f64 {
        self.cpu_seconds / self.wall_seconds * 100.0
    }
}

/// Measures `pid` from `start` to `end` (sleeping until both).
async fn measure(pid: u32, start: Instant, end: Instant, tick: f64) -> Result<Usage> {
    sleep_until(start.into()).await;
    let (t0, w0) = (cpu_ticks(pid)?, Instant::now());
    sleep_until(end.into()).await;
    let (t1, w1) = (cpu_ticks(pid)?, Instant::now());
    Ok(Usage {
        cpu_seconds: t1.saturating_sub(t0) as f64 / tick,
        wall_seconds: (w1 - w0).as_secs_f64(),
        peak_rss_mib: peak_rss_mib(pid)?,
        stopped: String::new(),
    })
}

async fn stop(child: &mut ChildGuard, signal: &str) -> Result<String> {
    child.ensure_running()?;
    Ok(match child.stop(signal).await? {
        Some((status, took)) => format!("SIG{signal} → {status} after {:.2} s", took.as_secs_f64()),
        None => format!("SIG{signal} → STILL RUNNING after {STOP_TIMEOUT:?}, killed"),
    })
}

// ------------------------------------------------------------------ phases

struct ObradyResult {
    usage: Usage,
    latencies_ms: Vec<f64>,
    client_errors: u32,
}

async fn bench_obrady(bin: &Path, window: Duration, tick: f64) -> Result<ObradyResult> {
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut cmd = Command::new(bin);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path().join("data"))
        .current_dir(repo_root());
    let mut server = ChildGuard::spawn("obrady serve", cmd, tmp.path().join("obrady.log"))?;
    let started = Instant::now();

    let addr = wait_for_listen_line(&mut server).await?;
    let http = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .no_proxy()
        .build()?;
    let client = LlHlsClient {
        http,
        playlist: Url::parse(&format!("http://{addr}/live/main/720p/index.m3u8"))?,
    };
    client.wait_ready(&mut server).await?;

    let from = (started + WARM_UP).max(Instant::now());
    let to = from + window;
    // The client follows the stream from now on; only parts received inside
    // the window count.
    let (usage, (latencies_ms, client_errors)) =
        tokio::try_join!(measure(server.pid(), from, to, tick), client.run(from, to))?;
    let stopped = stop(&mut server, "TERM").await?;
    Ok(ObradyResult {
        usage: Usage { stopped, ..usage },
        latencies_ms,
        client_errors,
    })
}

async fn wait_for_listen_line(server: &mut ChildGuard) -> Result<String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        server.ensure_running()?;
        let text = fs::read_to_string(&server.log).unwrap_or_default();
        if let Some(rest) = text.split("listening on http://").nth(1) {
            let addr: String = rest
                .chars()
                .take_while(|c| *c != '/' && !c.is_whitespace())
                .collect();
            if !addr.starts_with("127.0.0.1:") {
                bail!("obrady listens on {addr:?}, expected 127.0.0.1:PORT");
            }
            return Ok(addr);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("obrady did not log `listening on http://…` within {READY_TIMEOUT:?}; end of its output:\n{}", server.log_tail())
}

async fn bench_baseline(bin: &Path, window: Duration, tick: f64) -> Result<Usage> {
    let out = Command::new(bin)
        .arg("graph")
        .current_dir(repo_root())
        .output()
        .context("cannot run `obrady graph`")?;
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
    let stopped = stop(&mut gst, "INT").await?;
    Ok(Usage { stopped, ..usage })
}

/// Splits a launch line into arguments at spaces outside double quotes,
/// keeping the quotes: gst-launch-1.0 escapes spaces outside quotes in each
/// argument, so `font-desc="Sans Bold 45px"` must stay one quoted argument.
fn split_launch_line(line: &str) -> Vec<String> {
    let (mut args, mut cur, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    args.push(std::mem::take(&mut cur));
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        args.push(cur);
    }
    args
}

// ----------------------------------------------------------- LL-HLS client

struct LlHlsClient {
    http: reqwest::Client,
    playlist: Url,
}

impl LlHlsClient {
    async fn wait_ready(&self, server: &mut ChildGuard) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            server.ensure_running()?;
            match self.playlist(None).await {
                Ok(p) if p.preload_hint.is_some() => return Ok(()),
                Ok(_) => last = "the playlist has no EXT-X-PRELOAD-HINT yet".into(),
                Err(e) => last = format!("{e:#}"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!(
            "{} did not answer within {READY_TIMEOUT:?}: {last}",
            self.playlist
        )
    }

    /// Follows the live edge until `to`; returns the latencies (ms) of the
    /// parts received in `from..to` and the number of failed attempts.
    async fn run(&self, from: Instant, to: Instant) -> Result<(Vec<f64>, u32)> {
        let (mut latencies, mut errors, mut in_a_row) = (Vec::new(), 0, 0);
        let mut playlist = self.playlist(None).await?;
        while Instant::now() < to {
            match self.next_part(&playlist).await {
                Ok((next, latency_ms, received)) => {
                    if (from..to).contains(&received) {
                        latencies.push(latency_ms);
                    }
                    playlist = next;
                    in_a_row = 0;
                }
                Err(e) => {
                    errors += 1;
                    in_a_row += 1;
                    if in_a_row >= MAX_CLIENT_ERRORS {
                        return Err(e.context(format!("{in_a_row} LL-HLS client errors in a row")));
                    }
                    eprintln!("bench: client error (starting again from the live playlist): {e:#}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    playlist = self.playlist(None).await.unwrap_or(playlist);
                }
            }
        }
        Ok((latencies, errors))
    }

    /// Fetches the preload-hint part of `playlist` and, at the same time, the
    /// blocking reload that lists it. Returns that reload, the part's latency
    /// in ms and when its body was received.
    async fn next_part(&self, playlist: &MediaPlaylist) -> Result<(MediaPlaylist, f64, Instant)> {
        let hint = playlist
            .preload_hint
            .as_deref()
            .context("the playlist has no EXT-X-PRELOAD-HINT")?;
        let url = self
            .playlist
            .join(hint)
            .with_context(|| format!("bad part URI {hint:?}"))?;
        let (part, reload) = tokio::join!(
            self.part(url),
            self.playlist(Some(playlist.hint_position()))
        );
        let (received_unix_ns, received) = part?;
        let reload = reload?;
        let end_ns = reload.part_end_ns(hint)?;
        Ok((reload, (received_unix_ns - end_ns) as f64 / 1e6, received))
    }

    /// GETs a part; returns the wall-clock time (ns since the Unix epoch)
    /// when its body was complete.
    async fn part(&self, url: Url) -> Result<(i128, Instant)> {
        let body = self
            .get(url.clone())
            .await?
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
        Ok(now)
    }

    async fn playlist(&self, block: Option<(u64, u64)>) -> Result<MediaPlaylist> {
        let mut url = self.playlist.clone();
        if let Some((msn, part)) = block {
            url.set_query(Some(&format!("_HLS_msn={msn}&_HLS_part={part}")));
        }
        let text = self
            .get(url.clone())
            .await?
            .text()
            .await
            .with_context(|| format!("GET {url}: body"))?;
        MediaPlaylist::parse(&text).with_context(|| format!("GET {url}: cannot read the playlist"))
    }

    async fn get(&self, url: Url) -> Result<reqwest::Response> {
        let resp = self
            .http
            .get(url.clone())
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("GET {url}: {status}: {}", body.trim());
        }
        Ok(resp)
    }
}

/// What the client needs from a media playlist.
#[derive(Debug, Default)]
struct MediaPlaylist {
    media_sequence: u64,
    segments: Vec<Segment>,
    preload_hint: Option<String>,
}

#[derive(Debug, Default)]
struct Segment {
    /// EXT-X-PROGRAM-DATE-TIME, ns since the Unix epoch.
    pdt_unix_ns: Option<i128>,
    /// (URI, duration in seconds) of each listed part.
    parts: Vec<(String, f64)>,
    complete: bool,
}

impl MediaPlaylist {
    fn parse(text: &str) -> Result<MediaPlaylist> {
        if !text.starts_with("#EXTM3U") {
            bail!(
                "not a playlist: {:?}",
                text.chars().take(80).collect::<String>()
            );
        }
        let mut p = MediaPlaylist::default();
        let mut seg = Segment::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                p.media_sequence = v.parse().with_context(|| format!("bad {line:?}"))?;
            } else if let Some(v) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
                seg.pdt_unix_ns =
                    Some(parse_date_time(v).with_context(|| format!("bad {line:?}"))?);
            } else if let Some(v) = line.strip_prefix("#EXT-X-PART:") {
                let uri = attribute(v, "URI").with_context(|| format!("no URI in {line:?}"))?;
                let duration = attribute(v, "DURATION").and_then(|d| d.parse().ok());
                seg.parts.push((
                    uri,
                    duration.with_context(|| format!("bad DURATION in {line:?}"))?,
                ));
            } else if let Some(v) = line.strip_prefix("#EXT-X-PRELOAD-HINT:") {
                if attribute(v, "TYPE").as_deref() == Some("PART") {
                    p.preload_hint = attribute(v, "URI");
                }
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

    /// `(_HLS_msn, _HLS_part)` of the part after the last listed one, which
    /// is the one the preload hint names.
    fn hint_position(&self) -> (u64, u64) {
        match self.segments.last() {
            None => (self.media_sequence, 0),
            Some(s) => {
                let msn = self.media_sequence + self.segments.len() as u64 - 1;
                if s.complete {
                    (msn + 1, 0)
                } else {
                    (msn, s.parts.len() as u64)
                }
            }
        }
    }

    /// Media end time of part `uri`: its segment's PDT plus the durations of
    /// the segment's parts up to and including it.
    fn part_end_ns(&self, uri: &str) -> Result<i128> {
        for s in &self.segments {
            if let Some(i) = s.parts.iter().position(|(u, _)| u == uri) {
                let pdt = s.pdt_unix_ns.with_context(|| {
                    format!("the segment of {uri} has no EXT-X-PROGRAM-DATE-TIME")
                })?;
                let secs: f64 = s.parts[..=i].iter().map(|(_, d)| d).sum();
                return Ok(pdt + (secs * 1e9).round() as i128);
            }
        }
        bail!("the blocking reload does not list the part {uri}")
    }
}

/// The value of `key` in an attribute list `A=1,B="x,y"`, quotes removed.
fn attribute(list: &str, key: &str) -> Option<String> {
    let mut rest = list;
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => {
                let (v, n) = q.split_once('"')?;
                (v, n.strip_prefix(',').unwrap_or(n))
            }
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
    let s = s
        .strip_suffix('Z')
        .context("expected a UTC time ending in Z")?;
    let (date, time) = s.split_once('T').context("expected DATE T TIME")?;
    let num = |v: &str| {
        v.parse::<i64>()
            .with_context(|| format!("bad number {v:?}"))
    };
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() != 3 {
        bail!("expected YYYY-MM-DDTHH:MM:SS(.fff)Z");
    }
    let (y, m, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    let (whole, frac) = t[2].split_once('.').unwrap_or((t[2], ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        bail!("bad fraction of a second {frac:?}");
    }
    let frac_ns = if frac.is_empty() {
        0
    } else {
        num(&format!("{frac:0<9}"))?
    };
    // Days from civil (H. Hinnant), proleptic Gregorian.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + num(t[0])? * 3600 + num(t[1])? * 60 + num(whole)?;
    Ok(i128::from(secs) * 1_000_000_000 + i128::from(frac_ns))
}

// ------------------------------------------------------------------ report

fn print_report(config: &Config, secs: u64, a: &ObradyResult, b: &Usage) {
    let e = &config.encoding;
    let mut ladder: Vec<String> = e
        .video
        .iter()
        .map(|v| format!("{} {}k", v.name, v.bitrate))
        .collect();
    ladder.push(format!("AAC {}k", e.audio_bitrate));
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "obrady bench: default ladder ({}, x264 {}, {} fps; parts {} s, segments {} s), {secs} s measured, {cpus} CPUs",
        ladder.join(" + "),
        e.x264_preset,
        e.framerate,
        config.hls.part_duration,
        config.hls.segment_duration
    );
    let mut lat = a.latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| match lat.len() {
        0 => "n/a".to_owned(),
        n => format!(
            "{:.0}",
            lat[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1]
        ),
    };
    let rows: Vec<[String; 3]> = vec![
        [
            "what".into(),
            "obrady serve".into(),
            "gst-launch-1.0 (same graph → fakesink)".into(),
        ],
        [
            "CPU s per broadcast minute".into(),
            format!("{:.1}", a.usage.per_minute()),
            format!("{:.1}", b.per_minute()),
        ],
        [
            "CPU, % of one core".into(),
            format!("{:.1}", a.usage.percent()),
            format!("{:.1}", b.percent()),
        ],
        [
            "peak RSS, MiB".into(),
            format!("{:.1}", a.usage.peak_rss_mib),
            format!("{:.1}", b.peak_rss_mib),
        ],
        [
            "LL-HLS part latency p50, ms".into(),
            pct(50.0),
            "n/a".into(),
        ],
        [
            "LL-HLS part latency p95, ms".into(),
            pct(95.0),
            "n/a".into(),
        ],
        [
            "LL-HLS part latency max, ms".into(),
            pct(100.0),
            "n/a".into(),
        ],
        [
            "parts measured (720p)".into(),
            lat.len().to_string(),
            String::new(),
        ],
    ];
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let w = [width(0), width(1), width(2)];
    for r in &rows {
        println!(
            "| {:<w0$} | {:<w1$} | {:<w2$} |",
            r[0],
            r[1],
            r[2],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        );
    }
    if b.cpu_seconds > 0.0 {
        let overhead = (a.usage.per_minute() - b.per_minute()) / b.per_minute() * 100.0;
        println!("CPU overhead of obrady over the baseline: {overhead:+.1} %");
    }
    println!(
        "stop: obrady {}; gst-launch-1.0 {}",
        a.usage.stopped, b.stopped
    );
    if a.client_errors > 0 {
        println!("LL-HLS client errors (retried): {}", a.client_errors);
    }
}
