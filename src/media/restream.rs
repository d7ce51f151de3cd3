//! Restreaming: the programme, as already encoded (the top video rendition
//! and the audio), pushed to RTMP(S) destinations (YouTube, Facebook) with
//! `rtmp2sink`, each in a pipeline of its own.
//!
//! The recorder hands every encoded sample to [`Restream::push`], which never
//! blocks: it pushes into the destination's `appsrc` (a bounded queue that
//! drops its oldest data when the destination is slow) or, while the
//! destination is down, drops the sample. A destination that fails is
//! rebuilt by [`run`] after 1 s, then every 2 s, and starts again at the
//! next keyframe; the main pipeline, the live stream and the archive never
//! notice. Restreaming runs while a session is live on the channel
//! ([`Restream::set_on`]). Stream keys are secrets: set on the element,
//! never logged or returned.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use tokio_util::sync::CancellationToken;

use crate::cmaf::{Codec, Sample};

/// One destination: where to push, and a name for logs and reports.
#[derive(Clone, PartialEq)]
pub struct Destination {
    /// e.g. "rtmp://a.rtmp.youtube.com/live2" (no key).
    pub url: String,
    /// The stream key (secret).
    pub key: String,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/***", self.url.trim_end_matches('/'))
    }
}

impl Destination {
    fn location(&self) -> String {
        format!("{}/{}", self.url.trim_end_matches('/'), self.key)
    }
}

/// What a destination is doing, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationReport {
    /// The URL without its key.
    pub url: String,
    /// `off` (no live session), `connecting`, `live` or `retrying`.
    pub state: &'static str,
    /// Why it last failed.
    pub error: Option<String>,
    /// Times it failed and was started again.
    pub restarts: u64,
}

/// The pushing end of a running destination pipeline.
struct Active {
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    /// Running time of the first keyframe pushed (the stream's zero).
    base: Option<u64>,
}

struct Slot {
    dest: Destination,
    active: Mutex<Option<Active>>,
    report: Mutex<DestinationReport>,
}

/// A channel's restreaming: its destinations and the codecs of the
/// programme, fed by the recorder.
pub struct Restream {
    slots: Vec<Arc<Slot>>,
    on: AtomicBool,
    /// Track index of the video rendition pushed (the first) and of the
    /// audio (the last).
    video_track: usize,
    audio_track: usize,
    codecs: Mutex<(Option<Codec>, Option<Codec>)>,
    changed: tokio::sync::Notify,
}

impl std::fmt::Debug for Restream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restream")
            .field("destinations", &self.slots.len())
            .field("on", &self.on.load(Ordering::SeqCst))
            .finish()
    }
}

impl Restream {
    pub fn new(destinations: Vec<Destination>, video_track: usize, audio_track: usize) -> Self {
        Restream {
            slots: destinations
                .into_iter()
                .map(|dest| {
                    Arc::new(Slot {
                        report: Mutex::new(DestinationReport {
                            url: dest.url.clone(),
                            state: "off",
                            error: None,
                            restarts: 0,
                        }),
                        dest,
                        active: Mutex::new(None),
                    })
                })
                .collect(),
            on: AtomicBool::new(false),
            video_track,
            audio_track,
            codecs: Mutex::new((None, None)),
            changed: tokio::sync::Notify::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Restream (a session went live) or stop (it ended).
    pub fn set_on(&self, on: bool) {
        if self.on.swap(on, Ordering::SeqCst) != on {
            self.changed.notify_waiters();
        }
    }

    pub fn reports(&self) -> Vec<DestinationReport> {
        self.slots
            .iter()
            .map(|s| s.report.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }

    /// A track's codec became known.
    pub fn codec(&self, track: usize, codec: &Codec) {
        let mut c = self.codecs.lock().unwrap_or_else(|e| e.into_inner());
        if track == self.video_track {
            c.0 = Some(codec.clone());
        } else if track == self.audio_track {
            c.1 = Some(codec.clone());
        } else {
            return;
        }
        drop(c);
        self.changed.notify_waiters();
    }

    /// An encoded sample of `track`; never blocks.
    pub fn push(&self, track: usize, sample: &Sample) {
        let video = track == self.video_track;
        if !video && track != self.audio_track {
            return;
        }
        for slot in &self.slots {
            let mut active = slot.active.lock().unwrap_or_else(|e| e.into_inner());
            let Some(a) = active.as_mut() else {
                continue;
            };
            // Each (re)start begins on a video keyframe.
            let base = match a.base {
                Some(b) => b,
                None if video && sample.keyframe => *a.base.insert(sample.pts_ns),
                None => continue,
            };
            let Some(pts) = sample.pts_ns.checked_sub(base) else {
                continue;
            };
            let mut buffer = gst::Buffer::from_slice(sample.data.clone());
            if let Some(b) = buffer.get_mut() {
                b.set_pts(gst::ClockTime::from_nseconds(pts));
                b.set_duration(gst::ClockTime::from_nseconds(sample.duration_ns));
                if !sample.keyframe && video {
                    b.set_flags(gst::BufferFlags::DELTA_UNIT);
                }
            }
            let src = if video { &a.video } else { &a.audio };
            // Full or flushing: this destination is behind or going down;
            // the sample is dropped.
            let _ = src.push_buffer(buffer);
        }
    }
}

fn caps_of(codec: &Codec) -> gst::Caps {
    match codec {
        Codec::H264 {
            avcc,
            width,
            height,
        } => gst::Caps::builder("video/x-h264")
            .field("stream-format", "avc")
            .field("alignment", "au")
            .field("width", *width as i32)
            .field("height", *height as i32)
            .field("codec_data", gst::Buffer::from_slice(avcc.clone()))
            .build(),
        Codec::Aac {
            asc,
            rate,
            channels,
        } => gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4i32)
            .field("stream-format", "raw")
            .field("rate", *rate as i32)
            .field("channels", *channels as i32)
            .field("codec_data", gst::Buffer::from_slice(asc.clone()))
            .build(),
    }
}

/// Builds and starts one destination's pipeline.
fn start_pipeline(
    dest: &Destination,
    video: &Codec,
    audio: &Codec,
) -> Result<(gst::Pipeline, Active), String> {
    let pipeline = gst::parse::launch(
        "appsrc name=v is-live=true format=time do-timestamp=false max-bytes=8000000 \
         leaky-type=downstream ! h264parse ! queue ! flvmux name=m streamable=true \
         ! rtmp2sink name=out async-connect=true sync=false \
         appsrc name=a is-live=true format=time do-timestamp=false max-bytes=1000000 \
         leaky-type=downstream ! aacparse ! queue ! m.",
    )
    .map_err(|e| format!("cannot build the restream pipeline: {e}"))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| "the restream description is not a pipeline".to_owned())?;
    let app = |name: &str| -> Result<gst_app::AppSrc, String> {
        pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| format!("appsrc {name} is missing"))
    };
    let (v, a) = (app("v")?, app("a")?);
    v.set_caps(Some(&caps_of(video)));
    a.set_caps(Some(&caps_of(audio)));
    let out = pipeline.by_name("out").ok_or("rtmp2sink is missing")?;
    out.set_property("location", dest.location());
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| format!("cannot start the restream: {e}"))?;
    Ok((
        pipeline,
        Active {
            video: v,
            audio: a,
            base: None,
        },
    ))
}

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Runs every destination of `restream` until `shutdown`.
pub async fn run(restream: Arc<Restream>, shutdown: CancellationToken) {
    let tasks: Vec<_> = (0..restream.slots.len())
        .map(|i| tokio::spawn(run_one(restream.clone(), i, shutdown.clone())))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

async fn run_one(restream: Arc<Restream>, index: usize, shutdown: CancellationToken) {
    let slot = restream.slots[index].clone();
    let set = |state: &'static str, error: Option<String>, restart: bool| {
        let mut r = slot.report.lock().unwrap_or_else(|e| e.into_inner());
        r.state = state;
        if error.is_some() {
            r.error = error;
        }
        if restart {
            r.restarts += 1;
        }
    };
    let mut retry = RETRY_FIRST;
    loop {
        // Wait until on and both codecs are known.
        let codecs = loop {
            let notified = restream.changed.notified();
            let codecs = restream
                .codecs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let (true, (Some(v), Some(a))) = (restream.on.load(Ordering::SeqCst), codecs) {
                break (v, a);
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        };
        set("connecting", None, false);
        let started = start_pipeline(&slot.dest, &codecs.0, &codecs.1);
        let failure = match started {
            Err(e) => Some(e),
            Ok((pipeline, active)) => {
                *slot.active.lock().unwrap_or_else(|e| e.into_inner()) = Some(active);
                let outcome = watch(&pipeline, &restream, &shutdown, &set).await;
                *slot.active.lock().unwrap_or_else(|e| e.into_inner()) = None;
                let _ = pipeline.set_state(gst::State::Null);
                match outcome {
                    Watch::Shutdown => return,
                    Watch::Off => {
                        set("off", None, false);
                        retry = RETRY_FIRST;
                        None
                    }
                    Watch::Failed(e) => Some(e),
                }
            }
        };
        if let Some(e) = failure {
            tracing::warn!(destination = ?slot.dest, error = %e, "restream failed; retrying in {} s", retry.as_secs());
            set("retrying", Some(e), true);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(RETRY_MAX);
        }
    }
}

enum Watch {
    Shutdown,
    Off,
    Failed(String),
}

async fn watch(
    pipeline: &gst::Pipeline,
    restream: &Restream,
    shutdown: &CancellationToken,
    set: &impl Fn(&'static str, Option<String>, bool),
) -> Watch {
    let Some(bus) = pipeline.bus() else {
        return Watch::Failed("the restream pipeline has no bus".into());
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Watch::Shutdown,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        if !restream.on.load(Ordering::SeqCst) {
            return Watch::Off;
        }
        while let Some(msg) = bus.pop() {
            match msg.view() {
                gst::MessageView::Error(e) => {
                    return Watch::Failed(format!(
                        "{}: {}",
                        e.src().map(|s| s.name().to_string()).unwrap_or_default(),
                        e.error()
                    ))
                }
                gst::MessageView::Eos(_) => return Watch::Failed("the destination closed".into()),
                _ => {}
            }
        }
        // Live once the sink has sent data.
        let sent = pipeline
            .by_name("out")
            .and_then(|o| o.static_pad("sink"))
            .and_then(|p| p.current_caps())
            .is_some();
        if sent {
            set("live", None, false);
        }
    }
}
