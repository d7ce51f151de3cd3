//! A running channel pipeline: appsink callbacks → [`MediaEvent`]s, bus →
//! [`MediaEvent`]s, and the force-key-unit path of the segment clock.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::StreamExt;
use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use tokio::sync::mpsc;

use super::graph::{self, GraphSpec, SinkKind, SourceSpec, TestScene};
use super::graphics::Graphics;
use super::ingest::SourceStatus;
use super::privacy::{self, Lane};
use super::program::{OnAir, Program, ProgramAudio};
use super::MediaError;
use crate::cmaf::{Codec, Sample};

/// What a pipeline tells the application. Track `i < video.len()` is video
/// rendition `i`; track `video.len()` is the audio rendition.
#[derive(Debug)]
pub enum MediaEvent {
    /// The codec of a track became known (or changed).
    Codec { track: usize, codec: Codec },
    /// One encoded access unit. `wall_ns` is its capture time as Unix time.
    Sample {
        track: usize,
        sample: Sample,
        wall_ns: u64,
    },
    /// The programme audio's level over the last interval, dBFS per
    /// channel (`level` element; see `graph::AUDIO_LEVEL_NAME`).
    AudioLevel { rms_db: Vec<f64>, peak_db: Vec<f64> },
    /// All sinks have seen end of stream.
    Eos,
    /// The pipeline failed; the text names the element.
    Error(String),
}

/// Running times at which an encoder must produce a keyframe.
type KeyframeSchedule = Arc<Mutex<BTreeSet<u64>>>;

/// A started pipeline. Dropping it stops the pipeline at once.
#[derive(Debug)]
pub struct Pipeline {
    pipeline: gst::Pipeline,
    /// One schedule per video encoder, read by a probe on its sink pad.
    schedules: Vec<KeyframeSchedule>,
    /// The program/replacement switches: video, then audio.
    lanes: Vec<Arc<Lane>>,
    /// The cameras of a multi-camera channel (or of one with a backup
    /// source).
    switcher: Option<Arc<Switcher>>,
}

/// The cameras' compositor and their sounds' mixer, with what the operator
/// asked for; puts on the air what [`Program::on_air`] says, given which
/// inputs deliver.
#[derive(Debug)]
struct Switcher {
    cameras: gst::Element,
    mics: gst::Element,
    /// The picture's size.
    size: (u32, u32),
    /// Input i's state (0: the channel's source; the backup last).
    statuses: Vec<Arc<SourceStatus>>,
    /// The last input is the channel's backup source.
    backup: bool,
    requested: Mutex<Program>,
    applied: Mutex<Option<OnAir>>,
    /// The input shown full size now (read per frame by the lower third).
    shown: Arc<std::sync::atomic::AtomicUsize>,
}

/// How often a channel with a backup source looks whether it must stand
/// in (or step back): within a frame or three of the watchdog's decision.
const BACKUP_TICK: std::time::Duration = std::time::Duration::from_millis(100);

impl Switcher {
    /// Cameras the operator can choose (the backup is not one).
    fn choosable(&self) -> usize {
        self.statuses.len() - usize::from(self.backup)
    }

    /// Sets the pads for what should be on the air now, if it changed.
    fn apply(&self) {
        let lost: Vec<bool> = self.statuses.iter().map(|s| s.is_lost()).collect();
        let want = lock(&self.requested).on_air(&lost, self.backup);
        let mut applied = lock(&self.applied);
        if applied.as_ref() == Some(&want) {
            return;
        }
        if self.backup {
            let (was, now) = (
                applied
                    .as_ref()
                    .is_some_and(|a| a.backup_on_air(lost.len(), true)),
                want.backup_on_air(lost.len(), true),
            );
            if now && !was {
                tracing::warn!("the camera on the air is lost: the backup source stands in");
            } else if was && !now {
                tracing::info!("the backup source steps back");
            }
        }
        let (w, h) = (self.size.0 as i32, self.size.1 as i32);
        for pad in self.cameras.sink_pads() {
            let Some(i) = pad_index(&pad) else {
                continue;
            };
            let (alpha, zorder, x, y, pw, ph) = if i == want.input {
                (1.0f64, 1u32, 0, 0, w, h)
            } else if Some(i) == want.pip {
                let (pw, ph) = (w / 4 / 2 * 2, h / 4 / 2 * 2);
                (1.0, 2, w - pw - w / 32, h / 18, pw, ph)
            } else {
                (0.0, 0, 0, 0, w, h)
            };
            pad.set_property("alpha", alpha);
            pad.set_property("zorder", zorder);
            pad.set_property("xpos", x);
            pad.set_property("ypos", y);
            pad.set_property("width", pw);
            pad.set_property("height", ph);
        }
        for pad in self.mics.sink_pads() {
            if let Some(gain) = pad_index(&pad).and_then(|i| want.gains.get(i)) {
                pad.set_property("volume", *gain);
            }
        }
        self.shown
            .store(want.input, std::sync::atomic::Ordering::SeqCst);
        *applied = Some(want);
    }
}

/// Keeps a channel with a backup source switched while its pipeline lives.
async fn watch_backup(switcher: std::sync::Weak<Switcher>) {
    let mut tick = tokio::time::interval(BACKUP_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = switcher.upgrade() else {
            return;
        };
        s.apply();
    }
}

impl Pipeline {
    /// Builds and starts the graph; events arrive on `tx`. With `private`,
    /// the slate and silence are on the air from the first frame (a broadcast
    /// restarted during a non-public part).
    pub fn start(
        spec: &GraphSpec,
        tx: mpsc::UnboundedSender<MediaEvent>,
        private: bool,
        source: Arc<SourceStatus>,
        graphics: Arc<Graphics>,
        inputs: &[Arc<SourceStatus>],
    ) -> Result<Self, MediaError> {
        let description = spec.launch_description(SinkKind::AppSink);
        tracing::debug!(%description, "building pipeline");
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| MediaError::Build(e.to_string()))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| MediaError::Build("the description is not a pipeline".into()))?;

        // Running time maps to Unix time through the base time: the wall
        // clock of every sample is exact, whatever the processing delay.
        let clock = gst::glib::Object::builder::<gst::SystemClock>()
            .property("clock-type", gst::ClockType::Realtime)
            .build();
        pipeline.use_clock(Some(&clock));

        let mut schedules = Vec::new();
        for i in 0..spec.video.len() {
            let enc = by_name(&pipeline, &graph::video_encoder_name(i))?;
            schedules.push(schedule_keyframes(&enc)?);
            let sink = by_name(&pipeline, &graph::video_sink_name(i))?;
            attach_sink(sink, i, tx.clone())?;
        }
        let asink = by_name(&pipeline, graph::AUDIO_SINK_NAME)?;
        attach_sink(asink, spec.video.len(), tx.clone())?;
        let mut lanes = Vec::new();
        for (kind, name) in [
            (privacy::Kind::Video, graph::VIDEO_SELECTOR_NAME),
            (privacy::Kind::Audio, graph::AUDIO_SELECTOR_NAME),
        ] {
            let selector = by_name(&pipeline, name)?;
            lanes.push(Lane::attach(kind, selector, private).map_err(MediaError::Build)?);
        }

        if matches!(spec.source, SourceSpec::Inter { .. }) {
            attach_failover(&pipeline, source.clone(), 0)?;
        }
        for (k, status) in inputs.iter().enumerate().take(spec.extra_inputs.len()) {
            attach_failover(&pipeline, status.clone(), k + 1)?;
        }
        let (w, h) = spec
            .video
            .first()
            .map(|v| (v.width, v.height))
            .unwrap_or((1280, 720));
        let switcher = match (
            pipeline.by_name(graph::CAMERAS_NAME),
            pipeline.by_name(graph::MICS_NAME),
        ) {
            (Some(cameras), Some(mics)) => Some(Arc::new(Switcher {
                cameras,
                mics,
                size: (w, h),
                statuses: std::iter::once(source.clone())
                    .chain(inputs.iter().take(spec.extra_inputs.len()).cloned())
                    .collect(),
                backup: spec.backup,
                requested: Mutex::new(Program::default()),
                applied: Mutex::new(None),
                shown: Arc::default(),
            })),
            _ => None,
        };
        // The lower third hides while the picture on the air is a failover
        // slate: the source's, or the camera's shown full size.
        match &switcher {
            Some(sw) => {
                let (statuses, shown) = (sw.statuses.clone(), sw.shown.clone());
                attach_lower_third(&pipeline, graphics, move || {
                    statuses
                        .get(shown.load(std::sync::atomic::Ordering::SeqCst))
                        .is_some_and(|s| s.is_lost())
                })?;
            }
            None => {
                let source = source.clone();
                attach_lower_third(&pipeline, graphics, move || source.is_lost())?;
            }
        }
        if let Some(s) = switcher.as_ref().filter(|s| s.backup) {
            tokio::spawn(watch_backup(Arc::downgrade(s)));
        }

        let bus = pipeline
            .bus()
            .ok_or_else(|| MediaError::Build("pipeline has no bus".into()))?;
        let weak = pipeline.downgrade();
        tokio::spawn(watch_bus(bus, weak, tx));

        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| MediaError::Start(e.to_string()))?;
        let p = Pipeline {
            pipeline,
            schedules,
            lanes,
            switcher,
        };
        p.select_program(&Program::default());
        Ok(p)
    }

    /// Puts the slate and silence on the air (`true`) or the camera and
    /// microphone back (`false`), on every rendition at the same instant.
    /// Returns that instant (running time, ns) for the segment clock to cut
    /// at, or `None` when nothing changed (already in that state) or the
    /// pipeline has no running time yet (the switch is applied anyway, from
    /// the first buffer).
    ///
    /// Never blocks: it records the instant, and the streaming threads switch
    /// the selectors at the first buffer at or after it (see
    /// `media::privacy`). The beginning of a private part is scheduled
    /// [`privacy::BEGIN_LEAD_NS`] ahead, because a live audio source hands out
    /// samples up to one buffer before they are due; the silence then covers
    /// [`privacy::AUDIO_GUARD_NS`] before that instant too, so the first private
    /// segment holds no program frame or sample. The end is "now". Either is
    /// then moved to the next camera frame, so the slate begins (or ends)
    /// exactly on a segment's first frame.
    pub fn set_private(&self, private: bool) -> Option<u64> {
        let now = self.running_time_now();
        let at = match (private, now) {
            (true, Some(now)) => now + privacy::BEGIN_LEAD_NS,
            (false, Some(now)) => now,
            (_, None) => 0,
        };
        // On a camera frame, so the video cut is exactly there.
        let at = self.lanes.first().map_or(at, |video| video.next_slot(at));
        // Every lane, even when the first reports no change.
        let mut changed = false;
        for lane in &self.lanes {
            changed |= lane.schedule(private, at);
        }
        now.filter(|_| changed).map(|_| at)
    }

    /// Switches the test source to `scene`; `false` when this channel's
    /// source is not the test source. Never blocks: the generators read
    /// their properties for the next buffer they make.
    pub fn set_test_scene(&self, scene: TestScene) -> bool {
        let (Some(video), Some(audio)) = (
            self.pipeline.by_name(graph::TEST_VIDEO_NAME),
            self.pipeline.by_name(graph::TEST_AUDIO_NAME),
        ) else {
            return false;
        };
        apply_scene(&video, &audio, scene);
        true
    }

    /// Puts camera `program.input` on the air (full picture) and lays
    /// `program.pip` over it in the top right corner (a quarter of the
    /// size); every other camera is transparent (the compositor skips it).
    /// The microphones' volumes follow `program.audio`. `false` when the
    /// channel has no such camera (nothing changes then). Never blocks: pad
    /// properties, read by the compositor and the mixer for their next
    /// frame.
    pub fn select_program(&self, program: &Program) -> bool {
        let (input, pip) = (program.input, program.pip);
        let Some(switcher) = &self.switcher else {
            return input == 0 && pip.is_none() && program.audio_gains(1) == [1.0];
        };
        let cameras = switcher.choosable();
        let exists = |i: usize| i < cameras;
        let audio_ok = match program.audio {
            ProgramAudio::Input(n) => exists(n),
            ProgramAudio::Follow | ProgramAudio::Mix => true,
        };
        if !exists(input) || pip.is_some_and(|p| p == input || !exists(p)) || !audio_ok {
            return false;
        }
        *lock(&switcher.requested) = *program;
        switcher.apply();
        true
    }

    /// Asks every video encoder for a keyframe on the first frame at or
    /// after `running_time_ns`, so all renditions cut at the same instant.
    pub fn force_keyframe_at(&self, running_time_ns: u64) {
        for schedule in &self.schedules {
            lock(schedule).insert(running_time_ns);
        }
    }

    /// Forgets the pending keyframe requests after `running_time_ns` (the
    /// segment clock re-phased there).
    pub fn clear_keyframe_schedule_after(&self, running_time_ns: u64) {
        for schedule in &self.schedules {
            lock(schedule).retain(|&t| t <= running_time_ns);
        }
    }

    /// The pipeline's running time now, ns.
    pub fn running_time_now(&self) -> Option<u64> {
        self.pipeline.current_running_time().map(|t| t.nseconds())
    }

    /// Sends end of stream through the graph; [`MediaEvent::Eos`] follows
    /// when every sink has it.
    pub fn send_eos(&self) {
        // The slate's imagefreeze never ends: end of stream must go through
        // the program pads (still gated while private).
        for lane in &self.lanes {
            lane.stop();
        }
        self.pipeline.send_event(gst::event::Eos::new());
    }

    /// Stops the pipeline and frees its resources.
    pub fn stop(&self) {
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(error = %e, "cannot set the pipeline to NULL");
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Sets a scene's properties on the two generators. Each property is looked
/// up first: setting one an element lacks would panic, and the graph's test
/// source is fixed, so a mismatch can only be a bug, which is logged.
fn apply_scene(video: &gst::Element, audio: &gst::Element, scene: TestScene) {
    let sets = scene
        .video_properties()
        .into_iter()
        .map(|p| (video, p))
        .chain(scene.audio_properties().into_iter().map(|p| (audio, p)));
    for (element, (name, value)) in sets {
        if element.find_property(name).is_some() {
            element.set_property_from_str(name, value);
        } else {
            tracing::error!(element = %element.name(), property = name, "the test source lacks a property");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Watches the frames entering `encoder`: the first frame at or after a
/// scheduled time gets a force-key-unit request just before the encoder
/// sees it. Deciding per frame in the streaming thread makes the cut exact
/// and the same in every rendition (they all see the same frames), however
/// late or early the application asks.
fn schedule_keyframes(encoder: &gst::Element) -> Result<KeyframeSchedule, MediaError> {
    let schedule: KeyframeSchedule = Arc::default();
    let sink = encoder
        .static_pad("sink")
        .ok_or_else(|| MediaError::Build(format!("{} has no sink pad", encoder.name())))?;
    let weak_encoder = encoder.downgrade();
    let probe_schedule = schedule.clone();
    sink.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(pts) = buffer.pts() else {
            return gst::PadProbeReturn::Ok;
        };
        let running = pad
            .sticky_event::<gst::event::Segment>(0)
            .and_then(|e| {
                e.segment()
                    .downcast_ref::<gst::ClockTime>()
                    .and_then(|s| s.to_running_time(pts))
            })
            .unwrap_or(pts)
            .nseconds();
        // A frame within half a frame of the scheduled time takes the cut.
        let half = buffer.duration().map(|d| d.nseconds() / 2).unwrap_or(0);
        let due = {
            let mut s = lock(&probe_schedule);
            let due = s.first().is_some_and(|&t| t <= running + half);
            while s.first().is_some_and(|&t| t <= running + half) {
                s.pop_first();
            }
            due
        };
        if due {
            if let Some(src) = weak_encoder.upgrade().and_then(|e| e.static_pad("src")) {
                let event = gst_video::UpstreamForceKeyUnitEvent::builder()
                    .all_headers(true)
                    .build();
                if !src.send_event(event) {
                    tracing::warn!("encoder refused a force-key-unit event");
                }
            }
        }
        gst::PadProbeReturn::Ok
    });
    Ok(schedule)
}

fn by_name(pipeline: &gst::Pipeline, name: &str) -> Result<gst::Element, MediaError> {
    pipeline
        .by_name(name)
        .ok_or_else(|| MediaError::Build(format!("element {name} is missing from the graph")))
}

fn attach_sink(
    sink: gst::Element,
    track: usize,
    tx: mpsc::UnboundedSender<MediaEvent>,
) -> Result<(), MediaError> {
    let appsink = sink
        .downcast::<gst_app::AppSink>()
        .map_err(|_| MediaError::Build(format!("track {track}: sink is not an appsink")))?;
    let mut last_caps: Option<gst::Caps> = None;
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                if let Some(caps) = sample.caps() {
                    if last_caps.as_ref().map(|c| c.as_ref()) != Some(caps) {
                        match codec_from_caps(caps) {
                            Ok(codec) => {
                                if tx.send(MediaEvent::Codec { track, codec }).is_err() {
                                    return Err(gst::FlowError::Flushing);
                                }
                            }
                            Err(msg) => {
                                gst::element_error!(
                                    sink,
                                    gst::StreamError::Format,
                                    ("track {}: {}", track, msg)
                                );
                                return Err(gst::FlowError::Error);
                            }
                        }
                        last_caps = Some(caps.to_owned());
                    }
                }
                let Some(buffer) = sample.buffer() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let Some(pts) = buffer.pts() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let running = sample
                    .segment()
                    .and_then(|s| s.downcast_ref::<gst::ClockTime>())
                    .and_then(|s| s.to_running_time(pts))
                    .unwrap_or(pts);
                let wall = sink
                    .base_time()
                    .map(|b| b.nseconds() + running.nseconds())
                    .unwrap_or(0);
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let event = MediaEvent::Sample {
                    track,
                    sample: Sample {
                        pts_ns: running.nseconds(),
                        duration_ns: buffer.duration().map(|d| d.nseconds()).unwrap_or(0),
                        keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                        data: Bytes::copy_from_slice(map.as_slice()),
                    },
                    wall_ns: wall,
                };
                if tx.send(event).is_err() {
                    return Err(gst::FlowError::Flushing);
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    Ok(())
}

fn codec_from_caps(caps: &gst::CapsRef) -> Result<Codec, String> {
    let s = caps.structure(0).ok_or("caps are empty")?;
    let codec_data = || -> Result<Bytes, String> {
        let buf = s
            .get::<gst::Buffer>("codec_data")
            .map_err(|_| format!("caps {s} have no codec_data"))?;
        let map = buf.map_readable().map_err(|e| e.to_string())?;
        Ok(Bytes::copy_from_slice(map.as_slice()))
    };
    let int = |field: &str| -> Result<u32, String> {
        s.get::<i32>(field)
            .ok()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| format!("caps {s} have no {field}"))
    };
    match s.name().as_str() {
        "video/x-h264" => Ok(Codec::H264 {
            avcc: codec_data()?,
            width: int("width")?,
            height: int("height")?,
        }),
        "audio/mpeg" => Ok(Codec::Aac {
            asc: codec_data()?,
            rate: int("rate")?,
            channels: int("channels")?,
        }),
        other => Err(format!("unsupported caps {other}")),
    }
}

/// Owns the bus: turns errors and end of stream into events.
async fn watch_bus(
    bus: gst::Bus,
    pipeline: gst::glib::WeakRef<gst::Pipeline>,
    tx: mpsc::UnboundedSender<MediaEvent>,
) {
    let mut messages = bus.stream();
    while let Some(msg) = messages.next().await {
        use gst::MessageView;
        match msg.view() {
            MessageView::Eos(_) => {
                let _ = tx.send(MediaEvent::Eos);
                break;
            }
            MessageView::Error(e) => {
                let source = e
                    .src()
                    .map(|s| s.path_string().to_string())
                    .unwrap_or_else(|| "pipeline".into());
                let text = format!("{source}: {} ({:?})", e.error(), e.debug());
                let _ = tx.send(MediaEvent::Error(text));
                break;
            }
            MessageView::Warning(w) => {
                tracing::warn!(source = ?w.src().map(|s| s.path_string()), warning = %w.error(), "pipeline warning");
            }
            MessageView::Element(e) => {
                if let Some(level) = e.structure().and_then(audio_level) {
                    let _ = tx.send(level);
                }
            }
            MessageView::Latency(_) => {
                if let Some(p) = pipeline.upgrade() {
                    let _ = p.recalculate_latency();
                }
            }
            _ => {}
        }
    }
}

/// A `level` element message as [`MediaEvent::AudioLevel`].
fn audio_level(s: &gst::StructureRef) -> Option<MediaEvent> {
    if s.name() != "level" {
        return None;
    }
    let read = |field: &str| -> Option<Vec<f64>> {
        let values = s.get::<gst::glib::ValueArray>(field).ok()?;
        Some(values.iter().filter_map(|v| v.get::<f64>().ok()).collect())
    };
    Some(MediaEvent::AudioLevel {
        rms_db: read("rms")?,
        peak_db: read("peak")?,
    })
}

/// Shows the failover slate while `source` is lost: the picture is blacked
/// out (whatever `intervideosrc` still hands over: a frame on its way when a
/// sender froze, the first frames of a return not yet steady) and the
/// slate's text drawn over it. A source that merely stalls keeps its last
/// picture until it is declared lost. Decided per frame in the streaming
/// thread: never blocks, never waits on the ingest.
fn attach_failover(
    pipeline: &gst::Pipeline,
    source: Arc<SourceStatus>,
    input: usize,
) -> Result<(), MediaError> {
    let name = |n: &str| graph::input_element(n, input);
    let title = by_name(pipeline, &name(graph::FAILOVER_TITLE_NAME))?;
    let info = by_name(pipeline, &name(graph::FAILOVER_INFO_NAME))?;
    let clock = by_name(pipeline, &name(graph::FAILOVER_CLOCK_NAME))?;
    let pad = title
        .static_pad("video_sink")
        .ok_or_else(|| MediaError::Build("the failover overlay has no sink pad".into()))?;
    let shown = std::sync::atomic::AtomicBool::new(false);
    // The branch's caps are fixed (the raw caps before the overlays): read
    // once, on the first frame painted.
    let video_info = std::sync::OnceLock::<gst_video::VideoInfo>::new();
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
        let lost = source.is_lost();
        if shown.swap(lost, std::sync::atomic::Ordering::SeqCst) != lost {
            if lost {
                info.set_property("text", source.slate_info());
            }
            for el in [&title, &info, &clock] {
                el.set_property("silent", !lost);
            }
        }
        if lost {
            if video_info.get().is_none() {
                if let Some(vi) = pad
                    .current_caps()
                    .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok())
                {
                    let _ = video_info.set(vi);
                }
            }
            if let (Some(vi), Some(gst::PadProbeData::Buffer(buffer))) =
                (video_info.get(), &mut probe.data)
            {
                black_out(buffer, vi);
            }
        }
        gst::PadProbeReturn::Ok
    });
    Ok(())
}

/// Keeps the lower third's text as [`Graphics`] says, per frame in the
/// streaming thread (two numbers compared; the overlay is touched only when
/// the caption changed). Hidden while `slate_on_air()` (a failover slate is
/// the picture).
fn attach_lower_third(
    pipeline: &gst::Pipeline,
    graphics: Arc<Graphics>,
    slate_on_air: impl Fn() -> bool + Send + Sync + 'static,
) -> Result<(), MediaError> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let overlay = by_name(pipeline, graph::LOWER_THIRD_NAME)?;
    let pad = overlay
        .static_pad("video_sink")
        .ok_or_else(|| MediaError::Build("the lower third has no sink pad".into()))?;
    // The graphics version and the slate state last applied (version 0:
    // nothing yet; the first frame applies).
    let (applied_version, applied_slate) = (AtomicU64::new(0), AtomicBool::new(false));
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        let (version, slate) = (graphics.version(), slate_on_air());
        let changed = applied_version.swap(version, Ordering::SeqCst) != version;
        if applied_slate.swap(slate, Ordering::SeqCst) != slate || changed {
            match graphics.markup().filter(|_| !slate) {
                Some(text) => {
                    overlay.set_property("text", text);
                    overlay.set_property("silent", false);
                }
                None => overlay.set_property("silent", true),
            }
        }
        gst::PadProbeReturn::Ok
    });
    Ok(())
}

/// Paints an I420 frame black (Y 16, U and V 128).
fn black_out(buffer: &mut gst::Buffer, vi: &gst_video::VideoInfo) {
    let owned = std::mem::replace(buffer, gst::Buffer::new());
    match gst_video::VideoFrame::from_buffer_writable(owned, vi) {
        Ok(mut frame) => {
            for plane in 0..gst_video::prelude::VideoFrameExt::n_planes(&frame) {
                let value = if plane == 0 { 16 } else { 128 };
                if let Ok(data) = frame.plane_data_mut(plane) {
                    data.fill(value);
                }
            }
            *buffer = frame.into_buffer();
        }
        Err(b) => *buffer = b,
    }
}

/// N of a request pad named `sink_N`.
fn pad_index(pad: &gst::Pad) -> Option<usize> {
    pad.name().strip_prefix("sink_")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_test_scenes_apply_to_the_generators() {
        crate::media::init().expect("GStreamer");
        let video = gst::ElementFactory::make("videotestsrc")
            .build()
            .expect("videotestsrc");
        let audio = gst::ElementFactory::make("audiotestsrc")
            .build()
            .expect("audiotestsrc");
        apply_scene(&video, &audio, TestScene::Card);
        assert_eq!(video.property::<u32>("foreground-color"), 0xffff00ff);
        assert_eq!(audio.property::<f64>("freq"), 440.0);
        apply_scene(&video, &audio, TestScene::Bars);
        assert_eq!(audio.property::<f64>("freq"), 1000.0);
        assert_eq!(audio.property::<f64>("volume"), 0.6);
        let pattern = video.property_value("pattern");
        let name = gst::glib::EnumValue::from_value(&pattern)
            .map(|(_, v)| v.nick().to_owned())
            .expect("enum");
        assert_eq!(name, "smpte");
    }
}
