//! Ingest of a real source (RTSP camera, SRT sender, local devices, a looped
//! file) in a pipeline of its own, separate from the encode graph.
//!
//! The ingest pipeline decodes the source, brings it to the channel's raw
//! format (size, frame rate, sample rate) and hands it to the encode graph
//! through `intervideosink`/`interaudiosink`. The encode graph's
//! `intervideosrc`/`interaudiosrc` run on the graph's own clock whatever the
//! source does, so a source that fails, stalls or is restarted never stops
//! encoding or segmenting: the broadcast keeps its one URL.
//!
//! [`run`] watches the ingest pipeline: an error, an end of stream, or no
//! buffer for the channel's timeout marks the source lost
//! ([`SourceStatus::lost`]: the encode graph puts the failover slate over the
//! picture); the pipeline is then torn down and built again, with a backoff
//! of 0.25 s, then every 0.5 s, until buffers flow again and the slate comes
//! off by itself.
//!
//! Secrets (an RTSP password, an SRT passphrase) are set on elements, never
//! put into a description that could be logged.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gstreamer as gst;
use tokio_util::sync::CancellationToken;

use super::graph::{inter_audio_channel, inter_video_channel, raw_audio_caps, raw_video_caps};

/// Where an ingest pipeline takes its media from.
#[derive(Clone, PartialEq)]
pub enum IngestSource {
    Rtsp {
        url: String,
        tcp: bool,
    },
    Srt {
        listener: bool,
        /// host:port
        address: String,
        passphrase: Option<String>,
        latency_ms: u32,
    },
    Device {
        video: PathBuf,
        /// `alsa:DEVICE` or `pulse:SOURCE`.
        audio: Option<String>,
    },
    File {
        path: PathBuf,
    },
}

impl IngestSource {
    /// The GStreamer elements this source's ingest needs (each checked at
    /// start with [`crate::media::require`], which names its package).
    pub fn required_elements(&self) -> Vec<&'static str> {
        let own: &[&'static str] = match self {
            IngestSource::Rtsp { .. } => &["uridecodebin", "rtspsrc"],
            IngestSource::Srt { .. } => &["uridecodebin", "srtsrc"],
            IngestSource::Device { audio, .. } => match audio.as_deref() {
                Some(a) if a.starts_with("pulse:") => &["v4l2src", "decodebin", "pulsesrc"],
                Some(_) => &["v4l2src", "decodebin", "alsasrc"],
                None => &["v4l2src", "decodebin"],
            },
            IngestSource::File { .. } => &["uridecodebin"],
        };
        // The handover: raw caps into the inter sinks, read by the encode
        // graph's inter sources.
        let handover = [
            "intervideosink",
            "interaudiosink",
            "intervideosrc",
            "interaudiosrc",
            "audiobuffersplit",
            "videorate",
        ];
        handover.iter().chain(own).copied().collect()
    }
}

impl std::fmt::Debug for IngestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IngestSource::Rtsp { url, tcp } => write!(
                f,
                "RTSP {} ({})",
                crate::config::redact_url(url),
                if *tcp { "TCP" } else { "UDP" }
            ),
            IngestSource::Srt {
                listener, address, ..
            } => write!(
                f,
                "SRT {} {address}",
                if *listener { "listener" } else { "caller" }
            ),
            IngestSource::Device { video, audio } => {
                write!(f, "device {} {audio:?}", video.display())
            }
            IngestSource::File { path } => write!(f, "file {}", path.display()),
        }
    }
}

/// One channel's ingest: the source and the raw format it is brought to.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestSpec {
    /// Names the inter channels (the channel's id).
    pub name: String,
    pub source: IngestSource,
    pub width: u32,
    pub height: u32,
    pub framerate: u32,
    pub audio_rate: u32,
    /// No buffer for this long: the source is lost.
    pub timeout: Duration,
}

/// The state of a channel's source, shared by the ingest task (writer), the
/// encode graph (shows the slate while lost) and the HTTP side (reports).
#[derive(Debug, Default)]
pub struct SourceStatus {
    /// The source delivers nothing: the failover slate is on the air.
    lost: AtomicBool,
    /// A separate source runs (not the embedded test source).
    ingested: AtomicBool,
    /// Times the source was lost and came back.
    losses: AtomicU64,
    recoveries: AtomicU64,
    /// Why it was last lost, and when the current state began.
    detail: Mutex<(Option<String>, Option<std::time::SystemTime>)>,
    /// The slate's second line (the session's title, or the channel's name).
    slate_info: Mutex<String>,
}

/// A snapshot of [`SourceStatus`] for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    pub ingested: bool,
    pub lost: bool,
    pub losses: u64,
    pub recoveries: u64,
    pub reason: Option<String>,
    pub since: Option<std::time::SystemTime>,
}

impl SourceReport {
    /// `test` (the embedded test source), `live` or `lost`.
    pub fn state(&self) -> &'static str {
        match (self.ingested, self.lost) {
            (false, _) => "test",
            (true, false) => "live",
            (true, true) => "lost",
        }
    }
}

impl SourceStatus {
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub fn report(&self) -> SourceReport {
        let d = self.detail.lock().unwrap_or_else(|e| e.into_inner());
        SourceReport {
            ingested: self.ingested.load(Ordering::SeqCst),
            lost: self.is_lost(),
            losses: self.losses.load(Ordering::SeqCst),
            recoveries: self.recoveries.load(Ordering::SeqCst),
            reason: d.0.clone(),
            since: d.1,
        }
    }

    /// The failover slate's second line.
    pub fn set_slate_info(&self, text: &str) {
        *self.slate_info.lock().unwrap_or_else(|e| e.into_inner()) = text.to_owned();
    }

    pub fn slate_info(&self) -> String {
        self.slate_info
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Returns whether the state changed.
    fn set_lost(&self, lost: bool, reason: Option<String>) -> bool {
        let was = self.lost.swap(lost, Ordering::SeqCst);
        if was == lost {
            return false;
        }
        if lost {
            self.losses.fetch_add(1, Ordering::SeqCst);
        } else if self.losses.load(Ordering::SeqCst) > 0 {
            self.recoveries.fetch_add(1, Ordering::SeqCst);
        }
        *self.detail.lock().unwrap_or_else(|e| e.into_inner()) =
            (reason, Some(std::time::SystemTime::now()));
        true
    }
}

/// What the ingest task tells the rest of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEvent {
    Lost { reason: String },
    Back,
}

const BACKOFF_FIRST: Duration = Duration::from_millis(250);
/// Retries stay frequent: the picture must return within about a second of
/// the source's return (so the recording's gap is the outage), and a refused
/// connection costs nothing.
const BACKOFF_MAX: Duration = Duration::from_millis(500);
/// How often the watchdog looks.
const TICK: Duration = Duration::from_millis(100);
/// Buffers closer than this are a flow.
const FLOWING_GAP_MS: u64 = 250;
/// How long a frame may wait for its time before it is handed over.
const HANDOVER_LATENCY: gst::ClockTime = gst::ClockTime::from_mseconds(150);
/// A lost source is back after flowing this long.
const STEADY_MS: u64 = 200;

/// Runs the ingest of `spec` until `shutdown`: builds the pipeline, watches
/// it, rebuilds it when the source is lost. Starts lost (slate on) until the
/// first buffer arrives. Events go to `on_event` (never blocks).
pub async fn run(
    spec: IngestSpec,
    status: Arc<SourceStatus>,
    shutdown: CancellationToken,
    on_event: impl Fn(SourceEvent) + Send + 'static,
) {
    status.ingested.store(true, Ordering::SeqCst);
    // Off the air until the first picture (not counted as a loss).
    status.lost.store(true, Ordering::SeqCst);
    *status.detail.lock().unwrap_or_else(|e| e.into_inner()) = (
        Some("connecting".into()),
        Some(std::time::SystemTime::now()),
    );
    let mut backoff = BACKOFF_FIRST;
    let mut attempt: u64 = 0;
    loop {
        attempt += 1;
        let outcome = match Attempt::start(&spec) {
            Ok(a) => a.watch(&spec, &status, &shutdown, &on_event).await,
            Err(e) => Outcome::Failed(e),
        };
        match outcome {
            Outcome::Shutdown => return,
            Outcome::Looped => {
                // A rehearsal file ended: play it again at once.
                backoff = BACKOFF_FIRST;
                continue;
            }
            Outcome::Failed(reason) => {
                tracing::warn!(channel = %spec.name, source = ?spec.source, attempt, %reason, "source lost; reconnecting in {} ms", backoff.as_millis());
                if status.set_lost(true, Some(reason.clone())) {
                    on_event(SourceEvent::Lost { reason });
                }
            }
            Outcome::Delivered(reason) => {
                // It worked for a while: reconnect at once, then back off.
                backoff = BACKOFF_FIRST;
                tracing::warn!(channel = %spec.name, source = ?spec.source, %reason, "source lost; reconnecting");
                if status.set_lost(true, Some(reason.clone())) {
                    on_event(SourceEvent::Lost { reason });
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

enum Outcome {
    Shutdown,
    /// A looped file reached its end.
    Looped,
    /// It never delivered.
    Failed(String),
    /// It delivered, then stopped.
    Delivered(String),
}

/// One ingest pipeline, from start to teardown (on drop).
struct Attempt {
    pipeline: gst::Pipeline,
    /// Milliseconds since `started` of the latest buffer handed over.
    last_buffer_ms: Arc<AtomicU64>,
    delivered: Arc<AtomicBool>,
    started: Instant,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl Attempt {
    fn start(spec: &IngestSpec) -> Result<Attempt, String> {
        let started = Instant::now();
        let last_buffer_ms = Arc::new(AtomicU64::new(0));
        let delivered = Arc::new(AtomicBool::new(false));
        let pipeline = build(spec)?;
        // Frames wait at most this long for their time (smoothing the
        // source's jitter) instead of the latency the elements report
        // (SRT + demuxer + decoder: over a second, which would delay both
        // the picture and the noticing of a stall); a later one goes at once.
        pipeline.set_latency(Some(HANDOVER_LATENCY));
        for sink in ["ingest_vsink", "ingest_asink"] {
            let Some(el) = pipeline.by_name(sink) else {
                continue;
            };
            let Some(pad) = el.static_pad("sink") else {
                continue;
            };
            let last = last_buffer_ms.clone();
            let delivered = delivered.clone();
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                last.store(started.elapsed().as_millis() as u64, Ordering::SeqCst);
                delivered.store(true, Ordering::SeqCst);
                gst::PadProbeReturn::Ok
            });
        }
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| format!("cannot start the source: {e}"))?;
        Ok(Attempt {
            pipeline,
            last_buffer_ms,
            delivered,
            started,
        })
    }

    async fn watch(
        self,
        spec: &IngestSpec,
        status: &SourceStatus,
        shutdown: &CancellationToken,
        on_event: &impl Fn(SourceEvent),
    ) -> Outcome {
        let Some(bus) = self.pipeline.bus() else {
            return Outcome::Failed("the source pipeline has no bus".into());
        };
        let timeout_ms = spec.timeout.as_millis() as u64;
        let mut flowing_since: Option<u64> = None;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Outcome::Shutdown,
                _ = tokio::time::sleep(TICK) => {}
            }
            while let Some(msg) = bus.pop() {
                let reason = match msg.view() {
                    gst::MessageView::Error(e) => Some(format!(
                        "{}: {}",
                        e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                        e.error()
                    )),
                    gst::MessageView::Eos(_)
                        if matches!(spec.source, IngestSource::File { .. }) =>
                    {
                        // Back to the start in the same pipeline: the
                        // handover keeps the last frame meanwhile (a new
                        // pipeline would clear it and show black).
                        let rewound = self.pipeline.seek_simple(
                            gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT,
                            gst::ClockTime::ZERO,
                        );
                        if rewound.is_err() {
                            return Outcome::Looped;
                        }
                        tracing::debug!(channel = %spec.name, "the file ended: playing it again");
                        None
                    }
                    gst::MessageView::Eos(_) => Some("the source ended".to_owned()),
                    _ => None,
                };
                if let Some(reason) = reason {
                    return self.outcome(reason);
                }
            }
            let now = self.started.elapsed().as_millis() as u64;
            let last = self.last_buffer_ms.load(Ordering::SeqCst);
            let delivered = self.delivered.load(Ordering::SeqCst);
            let silent_for = now.saturating_sub(last);
            if delivered && silent_for <= FLOWING_GAP_MS {
                flowing_since.get_or_insert(now);
            } else {
                flowing_since = None;
            }
            // Back only once it flows steadily: a few buffers that were on
            // their way when a sender froze are not a return.
            let steady = flowing_since.is_some_and(|t| now - t >= STEADY_MS);
            if delivered && silent_for < timeout_ms && (steady || !status.is_lost()) {
                if status.set_lost(false, None) {
                    tracing::info!(channel = %spec.name, source = ?spec.source, "source back");
                    on_event(SourceEvent::Back);
                }
            } else if delivered && silent_for >= timeout_ms {
                let reason = format!("no picture or sound for {} s", timeout_ms / 1000);
                if status.set_lost(true, Some(reason.clone())) {
                    on_event(SourceEvent::Lost { reason });
                }
                // A stalled connection is rebuilt after a few more seconds.
                if silent_for >= timeout_ms + 3_000 {
                    return self
                        .outcome(format!("no picture or sound for {} s", silent_for / 1000));
                }
            } else if !delivered && now >= timeout_ms + 3_000 && !is_listener(spec) {
                return Outcome::Failed(format!(
                    "nothing received within {} s of connecting",
                    now / 1000
                ));
            }
        }
    }

    fn outcome(&self, reason: String) -> Outcome {
        if self.delivered.load(Ordering::SeqCst) {
            Outcome::Delivered(reason)
        } else {
            Outcome::Failed(reason)
        }
    }
}

/// An SRT listener waits for its sender as long as it takes.
fn is_listener(spec: &IngestSpec) -> bool {
    matches!(spec.source, IngestSource::Srt { listener: true, .. })
}

/// The raw chains after the decoder, ending in the inter sinks:
/// (video description, audio description).
fn raw_chains(spec: &IngestSpec) -> (String, String) {
    // Each frame is handed over at its time on the ingest's clock (plus
    // HANDOVER_LATENCY), never dropped for lateness: the encode graph takes
    // the latest frame 25 times a second, so frames handed over as they
    // arrive, in bursts, were repeated or skipped (72-97 % of frames new);
    // paced like this, 99 %. (Pacing with the default lateness drops was
    // worse: 29 %.) A file is played at its own pace the same way.
    let sync = true;
    let video = format!(
        "queue ! videoconvert ! videoscale ! videorate ! {} \
         ! intervideosink name=ingest_vsink channel={} sync={sync} async=false \
         max-lateness=-1 qos=false",
        raw_video_caps(spec.width, spec.height, spec.framerate),
        inter_video_channel(&spec.name)
    );
    let audio = format!(
        "queue ! audioconvert ! audioresample ! {} \
         ! interaudiosink name=ingest_asink channel={} sync={sync} async=false",
        raw_audio_caps(spec.audio_rate),
        inter_audio_channel(&spec.name)
    );
    (video, audio)
}

fn launch(description: &str) -> Result<gst::Pipeline, String> {
    gst::parse::launch(description)
        .map_err(|e| format!("cannot build the source pipeline: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "the source description is not a pipeline".to_owned())
}

/// Builds the ingest pipeline (not started).
fn build(spec: &IngestSpec) -> Result<gst::Pipeline, String> {
    let (video, audio) = raw_chains(spec);
    match &spec.source {
        IngestSource::Device {
            video: dev,
            audio: mic,
        } => {
            let mut d = format!(
                "v4l2src device=\"{}\" ! decodebin ! {video} ",
                dev.display().to_string().replace('"', "")
            );
            match mic.as_deref() {
                Some(a) if a.starts_with("alsa:") => d.push_str(&format!(
                    "alsasrc device=\"{}\" ! {audio}",
                    a.trim_start_matches("alsa:").replace('"', "")
                )),
                Some(a) if a.starts_with("pulse:") => {
                    let dev = a.trim_start_matches("pulse:").replace('"', "");
                    if dev.is_empty() {
                        d.push_str(&format!("pulsesrc ! {audio}"));
                    } else {
                        d.push_str(&format!("pulsesrc device=\"{dev}\" ! {audio}"));
                    }
                }
                _ => {}
            }
            launch(&d)
        }
        source => {
            // A URI source decoded by uridecodebin; its outputs are linked by
            // kind as they appear.
            let pipeline = launch(&format!("uridecodebin name=ingest_decode {video} {audio}"))?;
            let decode = pipeline
                .by_name("ingest_decode")
                .ok_or("uridecodebin is missing")?;
            let uri = match source {
                IngestSource::Rtsp { url, .. } => url.clone(),
                // The mode must be in the URI: srtsrc takes a listener's
                // local address and port from it when the URI is set.
                IngestSource::Srt {
                    address, listener, ..
                } => format!(
                    "srt://{address}?mode={}",
                    if *listener { "listener" } else { "caller" }
                ),
                IngestSource::File { path } => {
                    let abs = std::fs::canonicalize(path)
                        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
                    gst::glib::filename_to_uri(&abs, None)
                        .map_err(|e| format!("cannot open {}: {e}", path.display()))?
                        .to_string()
                }
                IngestSource::Device { .. } => unreachable!("handled above"),
            };
            decode.set_property("uri", &uri);
            let setup = source.clone();
            decode.connect("source-setup", false, move |args| {
                if let Some(src) = args.get(1).and_then(|v| v.get::<gst::Element>().ok()) {
                    configure_source(&src, &setup);
                }
                None
            });
            let vsink = first_sink_pad(&pipeline, "ingest_vsink")?;
            let asink = first_sink_pad(&pipeline, "ingest_asink")?;
            decode.connect_pad_added(move |_, pad| {
                let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
                let kind = caps
                    .as_ref()
                    .and_then(|c| c.structure(0))
                    .map(|s| s.name().to_string())
                    .unwrap_or_default();
                let target = if kind.starts_with("video/") {
                    &vsink
                } else if kind.starts_with("audio/") {
                    &asink
                } else {
                    return;
                };
                if !target.is_linked() {
                    match pad.link(target) {
                        Ok(_) => tracing::info!("source stream: {kind}"),
                        Err(e) => {
                            tracing::warn!(error = ?e, "cannot link the source's {kind} stream")
                        }
                    }
                }
            });
            Ok(pipeline)
        }
    }
}

/// The first element's sink pad of the chain ending in `sink_name`: the
/// queue the decoder's output links to.
fn first_sink_pad(pipeline: &gst::Pipeline, sink_name: &str) -> Result<gst::Pad, String> {
    let mut el = pipeline
        .by_name(sink_name)
        .ok_or_else(|| format!("{sink_name} is missing"))?;
    // Walk upstream to the chain's head (a queue with an unlinked sink pad).
    loop {
        let pad = el
            .static_pad("sink")
            .ok_or("a chain element has no sink pad")?;
        match pad.peer().and_then(|p| p.parent_element()) {
            Some(up) => el = up,
            None => return Ok(pad),
        }
    }
}

/// Properties of the element uridecodebin made for the URI.
fn configure_source(src: &gst::Element, source: &IngestSource) {
    let has = |name: &str| src.find_property(name).is_some();
    match source {
        IngestSource::Rtsp { tcp, .. } => {
            if has("protocols") {
                src.set_property_from_str("protocols", if *tcp { "tcp" } else { "udp" });
            }
            if has("latency") {
                src.set_property("latency", 200u32);
            }
            // A camera that does not answer is given up on and retried.
            if has("tcp-timeout") {
                src.set_property("tcp-timeout", 5_000_000u64);
            }
        }
        IngestSource::Srt {
            listener,
            passphrase,
            latency_ms,
            ..
        } => {
            if has("mode") {
                src.set_property_from_str("mode", if *listener { "listener" } else { "caller" });
            }
            if has("latency") {
                src.set_property("latency", *latency_ms as i32);
            }
            if let (Some(p), true) = (passphrase, has("passphrase")) {
                src.set_property("passphrase", p);
            }
        }
        _ => {}
    }
}
