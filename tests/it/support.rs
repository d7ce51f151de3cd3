//! Test support: one shared live server per test binary, an HTTP client, a
//! small reader of our LL-HLS media playlists, and a lock for the tests that
//! decode media (the machine has two cores; decoders must not starve the
//! encoder they measure).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use obrady::config::Config;

pub struct TestServer {
    pub addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// The shipped default configuration, as a newcomer runs it.
pub fn default_config(data_dir: PathBuf) -> Config {
    let mut c = Config::embedded_default();
    c.storage.data_dir = data_dir;
    c
}

/// The live server shared by every test: started once, in this process, on
/// 127.0.0.1:0, with the default configuration and a temporary data dir.
pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let data = tempfile::tempdir().expect("temporary data dir");
        let config = default_config(data.path().to_owned());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local addr");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                if let Err(e) = obrady::app::run(config, listener, std::future::pending()).await {
                    panic!("test server failed: {e:#}");
                }
            });
        });
        let server = TestServer { addr, _data: data };
        wait_until_live(&server.url("/live/main/720p/index.m3u8"));
        server
    })
}

fn wait_until_live(url: &str) {
    // Polled from a thread of its own: callers may be inside a runtime.
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Ok(r) = client().get(&url).send().await {
                    if r.status().is_success() {
                        return;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "the server did not go live within 30 s"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    })
    .join()
    .expect("the server went live");
}

/// Serialises the tests that run a decoder next to the shared encoder.
pub fn heavy() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

pub async fn get_text(url: &str) -> String {
    let r = client().get(url).send().await.expect("request");
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.text().await.expect("body")
}

pub async fn get_bytes(url: &str) -> Vec<u8> {
    let r = client().get(url).send().await.expect("request");
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.bytes().await.expect("body").to_vec()
}

/// A media playlist as served, read line by line.
#[derive(Debug, Clone, Default)]
pub struct Playlist {
    pub target_duration: f64,
    pub part_target: f64,
    pub media_sequence: u64,
    pub map: String,
    pub segments: Vec<Seg>,
    pub preload_hint: Option<String>,
    pub rendition_reports: Vec<String>,
    pub server_control: String,
    pub independent_segments: bool,
    pub ended: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Seg {
    pub msn: u64,
    pub pdt: String,
    /// The init segment in force (the latest EXT-X-MAP before it).
    pub map: String,
    /// Whether EXT-X-DISCONTINUITY comes before it.
    pub discontinuity: bool,
    pub duration: Option<f64>,
    pub uri: Option<String>,
    pub parts: Vec<PartLine>,
}

#[derive(Debug, Clone)]
pub struct PartLine {
    pub duration: f64,
    pub uri: String,
    pub independent: bool,
}

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=");
    let start = line.find(&key)? + key.len();
    let rest = &line[start..];
    if let Some(q) = rest.strip_prefix('"') {
        q.split('"').next()
    } else {
        rest.split(',').next()
    }
}

impl Playlist {
    /// The run a live playlist belongs to, from its init segment's name
    /// (`init-RUN.mp4`).
    pub fn run(&self) -> String {
        self.map
            .trim_start_matches("init-")
            .trim_end_matches(".mp4")
            .to_owned()
    }
}

pub fn parse_playlist(text: &str) -> Playlist {
    let mut p = Playlist::default();
    let mut cur = Seg::default();
    // Without EXT-X-MEDIA-SEQUENCE the first segment is number 0.
    let mut msn = Some(0);
    let mut started = false;
    let mut discontinuity = false;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            p.target_duration = v.parse().expect("target duration");
        } else if let Some(v) = line.strip_prefix("#EXT-X-PART-INF:") {
            p.part_target = attr(v, "PART-TARGET")
                .expect("PART-TARGET")
                .parse()
                .expect("number");
        } else if let Some(v) = line.strip_prefix("#EXT-X-SERVER-CONTROL:") {
            p.server_control = v.to_owned();
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            p.media_sequence = v.parse().expect("media sequence");
            msn = Some(p.media_sequence);
        } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
            p.independent_segments = true;
        } else if let Some(v) = line.strip_prefix("#EXT-X-MAP:") {
            p.map = attr(v, "URI").expect("map uri").to_owned();
        } else if let Some(v) = line.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:") {
            if started {
                p.segments.push(std::mem::take(&mut cur));
            }
            started = true;
            cur.msn = msn.expect("media sequence before segments");
            msn = Some(cur.msn + 1);
            cur.pdt = v.to_owned();
            cur.map.clone_from(&p.map);
            cur.discontinuity = std::mem::take(&mut discontinuity);
        } else if line == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if let Some(v) = line.strip_prefix("#EXT-X-PART:") {
            cur.parts.push(PartLine {
                duration: attr(v, "DURATION")
                    .expect("part duration")
                    .parse()
                    .expect("number"),
                uri: attr(v, "URI").expect("part uri").to_owned(),
                independent: attr(v, "INDEPENDENT") == Some("YES"),
            });
        } else if let Some(v) = line.strip_prefix("#EXTINF:") {
            cur.duration = Some(v.trim_end_matches(',').parse().expect("EXTINF"));
        } else if let Some(v) = line.strip_prefix("#EXT-X-PRELOAD-HINT:") {
            p.preload_hint = attr(v, "URI").map(str::to_owned);
        } else if let Some(v) = line.strip_prefix("#EXT-X-RENDITION-REPORT:") {
            p.rendition_reports.push(v.to_owned());
        } else if line == "#EXT-X-ENDLIST" {
            p.ended = true;
        } else if !line.starts_with('#') && !line.is_empty() {
            cur.uri = Some(line.to_owned());
        }
    }
    if started {
        p.segments.push(cur);
    }
    p
}

/// Runs a command for at most `limit`, then interrupts it (SIGINT, as a
/// person pressing Ctrl-C would); returns its combined output.
pub fn run_for(cmd: &mut std::process::Command, limit: Duration) -> (Option<i32>, String) {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let child = cmd
        .stdout(out.reopen().expect("reopen"))
        .stderr(out.reopen().expect("reopen"))
        .stdin(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot start {:?}: {e} (run `make test-deps`)",
            cmd.get_program()
        ),
    };
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            signal(child.id(), "INT");
            let grace = Instant::now() + Duration::from_secs(5);
            loop {
                if child.try_wait().expect("wait").is_some() {
                    break;
                }
                if Instant::now() > grace {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(out.path()).unwrap_or_default();
    (status.and_then(|s| s.code()), text)
}

/// Sends a signal by name with the system's `kill` (no unsafe code here).
pub fn signal(pid: u32, name: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{name} {pid} failed");
}

/// The first admin's password in servers started by the tests.
pub const ADMIN_PASSWORD: &str = "test-admin-password-1";

/// A running `obrady serve` subprocess; killed when dropped.
pub struct Obrady {
    pub child: std::process::Child,
    pub addr: String,
    pub lines: std::sync::mpsc::Receiver<String>,
    /// What it logged before it listened (recovery reports, for one).
    pub startup_log: Vec<String>,
    _data: Option<tempfile::TempDir>,
}

impl Obrady {
    /// The last `n` lines it logged since the last call (for a failure's
    /// message).
    pub fn log_tail(&self, n: usize) -> String {
        let lines: Vec<String> = self.lines.try_iter().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Obrady {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test keeps its data dir (archive, catalog) to be read.
        if std::thread::panicking() {
            if let Some(data) = self._data.take() {
                let kept = data.keep();
                eprintln!("the failed test's data dir is kept at {}", kept.display());
            }
        }
    }
}

/// Starts the binary with a fresh temporary data dir.
pub fn start(extra: &[&str]) -> Obrady {
    let data = tempfile::tempdir().expect("temp dir");
    let mut o = start_in(data.path(), extra);
    o._data = Some(data);
    o
}

/// Starts the binary on `data_dir` and waits until it says where it listens.
pub fn start_in(data_dir: &std::path::Path, extra: &[&str]) -> Obrady {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_obrady"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        // As `make run` and the README's deployment advice: GStreamer's
        // streaming threads come and go with every ingest rebuild, and
        // glibc would otherwise give them new malloc arenas (measured: RSS
        // +0.24-0.42 MB per camera drop, at most 75 kB with this).
        .env("MALLOC_ARENA_MAX", "2")
        .env("OBRADY_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start obrady");
    let (tx, lines) = std::sync::mpsc::channel();
    for stream in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut startup_log = Vec::new();
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "obrady did not listen within 15 s:\n{}",
                startup_log.join("\n")
            )
        });
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim_end_matches('/').to_owned();
        }
        startup_log.push(line);
    };
    Obrady {
        child,
        addr,
        lines,
        startup_log,
        _data: None,
    }
}

/// Waits (up to 20 s) until the main channel's `rendition` live playlist
/// answers: the broadcast is on.
pub async fn wait_live(base: &str, rendition: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = format!("{base}/live/main/{rendition}/index.m3u8");
    while client()
        .get(&url)
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "{url}: not live within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Logs in as the first admin (servers started by `start`/`start_in`);
/// returns the session cookie (`name=value`) and the CSRF token.
pub async fn login_admin(base: &str) -> (String, String) {
    let r = client()
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "login");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let login: serde_json::Value = r.json().await.expect("JSON");
    let csrf = login["csrf_token"].as_str().expect("csrf").to_owned();
    (cookie, csrf)
}

/// The council's fixture agenda (`tests/fixtures/agenda-sesja-xlv.json`).
pub const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

/// A logged-in browser session's calls (cookie and CSRF token).
pub struct Api {
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

impl Api {
    /// Logs in as the first admin (see [`login_admin`]).
    pub async fn admin(base: &str) -> Api {
        let (cookie, csrf) = login_admin(base).await;
        Api {
            base: base.to_owned(),
            cookie,
            csrf,
        }
    }

    /// Sends `body` as JSON; returns the status and the JSON answer (null
    /// when the answer is not JSON).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = client()
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Creates the [`FIXTURE`] session and starts it on `channel`; returns
    /// its id.
    pub async fn start_fixture_session(&self, channel: &str) -> i64 {
        let fixture: serde_json::Value = serde_json::from_str(FIXTURE).expect("fixture");
        let (st, created) = self
            .send(reqwest::Method::POST, "/api/v1/sessions", fixture)
            .await;
        assert_eq!(st, 201, "{created}");
        let id = created["id"].as_i64().expect("id");
        let (st, v) = self
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/sessions/{id}/start"),
                serde_json::json!({ "channel": channel }),
            )
            .await;
        assert_eq!(st, 200, "start: {v}");
        id
    }
}

/// Waits until session `id`'s recording is indexed to its end: its media
/// playlist has EXT-X-ENDLIST (the catalog indexes each segment a moment
/// after it is complete; until then the playlist stays EVENT).
pub async fn wait_until_recorded(base: &str, id: i64) {
    let url = format!("{base}/vod/sessions/{id}/720p/index.m3u8");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client().get(&url).send().await {
            if r.status().is_success()
                && r.text()
                    .await
                    .unwrap_or_default()
                    .contains("#EXT-X-ENDLIST")
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "session {id}'s recording was not indexed to its end within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Media in a temporary file that ffmpeg or ffprobe can read (`suffix`
/// tells them the container); gone when dropped.
pub fn media_file(bytes: &[u8], suffix: &str) -> tempfile::NamedTempFile {
    let f = tempfile::Builder::new()
        .suffix(suffix)
        .tempfile()
        .expect("temp file");
    std::fs::write(f.path(), bytes).expect("write media");
    f
}

/// `ffmpeg -v error -i INPUT OPTIONS -f null -` for at most `limit`: a
/// clean decode exits 0 and prints nothing.
pub fn ffmpeg_decode(input: &str, options: &[&str], limit: Duration) -> (Option<i32>, String) {
    run_for(
        std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i", input])
            .args(options)
            .args(["-f", "null", "-"]),
        limit,
    )
}

/// Decodes fMP4 `bytes` (init segment + media) to RGB frames of `w`×`h`
/// with ffmpeg.
pub fn decode_frames(bytes: &[u8], w: usize, h: usize) -> Vec<Vec<u8>> {
    let f = media_file(bytes, ".mp4");
    decode_url_frames(f.path().to_str().expect("path"), w, h)
}

/// Decodes whatever ffmpeg reads at `input` (a file or a URL) to RGB
/// frames of `w`×`h`.
pub fn decode_url_frames(input: &str, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i", input])
        .args([
            "-map",
            "0:v:0",
            "-vf",
            &format!("scale={w}:{h}"),
            "-pix_fmt",
            "rgb24",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .expect("ffmpeg (run `make test-deps`)");
    assert!(
        out.status.success(),
        "ffmpeg {input}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(w * h * 3)
        .map(<[u8]>::to_vec)
        .collect()
}

/// Decodes the sound of an MP4 (`bytes`) to mono samples at 8 kHz, in
/// -1..1.
pub fn decode_sound(bytes: &[u8]) -> Vec<f64> {
    let f = media_file(bytes, ".mp4");
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(f.path())
        .args([
            "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "-",
        ])
        .output()
        .expect("ffmpeg (run `make test-deps`)");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

/// The share of a window's energy (8 kHz samples) at `freq` Hz, by
/// Goertzel: about 1 for a pure tone at `freq`, 0.5 for an equal mix with
/// another tone, about 0 without it. The window should hold whole periods.
pub fn tone_share(window: &[f64], freq: f64) -> f64 {
    let energy: f64 = window.iter().map(|x| x * x).sum();
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in window {
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power / (window.len() as f64 * energy.max(1e-12))
}

/// For a failure's message: decodes every segment of every rendition of
/// the multivariant playlist at `path` on its own (init + segment, with
/// `ffmpeg`) and names those that do not decode cleanly, with their
/// program date-time and what comes before them in the playlist
/// (discontinuity, new init). Only the `last` segments of each playlist are
/// decoded.
pub async fn undecodable_segments(base: &str, path: &str, last: usize) -> String {
    // A URI as the server's absolute path or relative to `url`.
    let resolve = |url: &str, uri: &str| match (uri.starts_with('/'), url.rsplit_once('/')) {
        (false, Some((dir, _))) => format!("{dir}/{uri}"),
        _ => format!("{base}{uri}"),
    };
    let multivariant_url = format!("{base}{path}");
    let multivariant = get_text(&multivariant_url).await;
    let media = multivariant
        .lines()
        .filter_map(|line| match line.split_once("URI=\"") {
            Some((_, rest)) => rest.split('"').next(),
            None => (!line.starts_with('#') && !line.trim().is_empty()).then(|| line.trim()),
        });
    let mut report = Vec::new();
    for playlist in media {
        let url = resolve(&multivariant_url, playlist);
        let segments = parse_playlist(&get_text(&url).await).segments;
        let first = segments.len().saturating_sub(last);
        // The init segment fetched last: (its URI, its bytes).
        let mut init: (Option<&str>, Vec<u8>) = (None, Vec::new());
        for (k, seg) in segments.iter().enumerate().skip(first) {
            let Some(uri) = &seg.uri else { continue };
            if init.0 != Some(seg.map.as_str()) {
                init = (Some(&seg.map), get_bytes(&resolve(&url, &seg.map)).await);
            }
            let mut bytes = init.1.clone();
            bytes.extend(get_bytes(&resolve(&url, uri)).await);
            let file = media_file(&bytes, ".mp4");
            let (code, output) = ffmpeg_decode(
                file.path().to_str().expect("path"),
                &[],
                Duration::from_secs(30),
            );
            if code != Some(0) || !output.trim().is_empty() {
                let new_init = k == 0 || segments[k - 1].map != seg.map;
                let before: Vec<&str> =
                    [(new_init, "new init"), (seg.discontinuity, "discontinuity")]
                        .into_iter()
                        .filter_map(|(yes, what)| yes.then_some(what))
                        .collect();
                report.push(format!(
                    "{uri} (PDT {}, after: {}): {}",
                    seg.pdt,
                    before.join(", "),
                    output.trim()
                ));
            }
        }
    }
    if report.is_empty() {
        "every segment decodes on its own".to_owned()
    } else {
        report.join("\n")
    }
}
