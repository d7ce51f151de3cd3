//! The in-memory live window of a channel: for every rendition, the init
//! segment and the last `window` seconds of segments, each made of parts.
//!
//! The recorder is the only writer; HTTP handlers read. Every change bumps a
//! `watch` version so that held requests (blocking playlist reload, preload
//! hints) wake as soon as what they wait for exists. Locks are held only to
//! copy or append, never across an `.await`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

use crate::archive::store::RenditionMeta;
use crate::cmaf::{segmenter, Codec};
use crate::hls;
use crate::media::TestScene;

/// What a rendition carries, as configured.
#[derive(Debug, Clone, PartialEq)]
pub enum RenditionKind {
    Video {
        width: u32,
        height: u32,
        bitrate_kbps: u32,
        framerate: u32,
    },
    Audio {
        bitrate_kbps: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenditionInfo {
    /// Used in URLs: `/live/{channel}/{name}/index.m3u8`.
    pub name: String,
    pub kind: RenditionKind,
}

impl RenditionInfo {
    /// The rendition described for playlists and the archive, once its
    /// codec is known.
    pub fn meta(&self, codec: &Codec) -> RenditionMeta {
        let (video, width, height, bitrate_kbps, framerate) = match self.kind {
            RenditionKind::Video {
                width,
                height,
                bitrate_kbps,
                framerate,
            } => (true, width, height, bitrate_kbps, framerate),
            RenditionKind::Audio { bitrate_kbps } => (false, 0, 0, bitrate_kbps, 0),
        };
        RenditionMeta {
            name: self.name.clone(),
            codecs: codec.rfc6381(),
            video,
            width,
            height,
            bitrate_kbps,
            framerate,
        }
    }
}

/// Timing shared by every rendition of a channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub part_target: f64,
    pub segment_target: f64,
    /// Seconds of media kept per rendition.
    pub window: f64,
}

impl Timing {
    pub fn target_duration(&self) -> u64 {
        self.segment_target.ceil().max(1.0) as u64
    }

    /// PART-HOLD-BACK: three part targets (the spec asks for at least two).
    pub fn part_hold_back(&self) -> f64 {
        3.0 * self.part_target
    }

    /// How far ahead a blocking request may reach, in parts (RFC 8216bis
    /// "Advance Part Limit").
    pub fn advance_part_limit(&self) -> u64 {
        if self.part_target < 1.0 {
            (3.0 / self.part_target).floor() as u64
        } else {
            3
        }
    }

    pub fn parts_per_segment(&self) -> u64 {
        (self.segment_target / self.part_target).round().max(1.0) as u64
    }

    /// How long a held request waits before giving up (three target durations).
    pub fn hold_timeout(&self) -> Duration {
        Duration::from_secs(3 * self.target_duration())
    }
}

#[derive(Debug, Clone)]
pub struct LivePart {
    pub bytes: Bytes,
    pub duration: f64,
    pub independent: bool,
}

#[derive(Debug, Clone)]
pub struct LiveSegment {
    pub msn: u64,
    pub program_date_time_ns: u64,
    pub parts: Vec<LivePart>,
    /// Set when every part is in; then `bytes` holds the whole segment.
    pub complete: bool,
    pub bytes: Bytes,
}

impl LiveSegment {
    pub fn duration(&self) -> f64 {
        self.parts.iter().map(|p| p.duration).sum()
    }
}

#[derive(Debug, Default)]
struct Window {
    codec: Option<Codec>,
    init: Option<Bytes>,
    segments: VecDeque<LiveSegment>,
}

impl Window {
    fn last_part(&self) -> Option<(u64, u32)> {
        let s = self.segments.back()?;
        let n = u32::try_from(s.parts.len()).ok()?.checked_sub(1)?;
        Some((s.msn, n))
    }

    fn find(&self, msn: u64) -> Option<&LiveSegment> {
        // By number, not position: a rendition that skipped a number (no
        // keyframe for a whole segment) still serves the segments after it.
        let i = self.segments.binary_search_by_key(&msn, |s| s.msn).ok()?;
        self.segments.get(i)
    }
}

#[derive(Debug)]
struct State {
    /// Identifies one run of the pipeline; part of every media URL so a
    /// restarted broadcast never reuses a cached URL.
    run: String,
    windows: Vec<Window>,
    ended: bool,
    dateranges: Vec<hls::DateRange>,
}

/// Where a requested part stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Ready(Bytes),
    /// Not yet written, but close enough ahead to wait for.
    Soon,
    NotFound,
}

/// Why a blocking playlist request is refused at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// Asked for more than the spec allows ahead of the live edge.
    TooFarAhead { last_msn: u64, last_part: u32 },
}

/// Where a cut landed: the first segment of what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    pub msn: u64,
    /// Wall-clock time of the cut (the forced keyframe), ns since the epoch.
    pub wall_ns: u64,
}

/// Requests from HTTP to the channel's recorder.
#[derive(Debug)]
pub enum ChannelCommand {
    /// Start a new segment on every rendition now (an agenda item began).
    CutNow(tokio::sync::oneshot::Sender<Cut>),
    /// Put the slate and silence on the air (`true`: a non-public part
    /// begins) or the chamber back (`false`), starting a new segment on every
    /// rendition at that instant, so the non-public span is whole segments.
    SetPrivate(bool, tokio::sync::oneshot::Sender<Cut>),
    /// Switch the test source's scene; the answer is whether this channel's
    /// source is the test source.
    SetTestScene(TestScene, tokio::sync::oneshot::Sender<bool>),
    /// Puts a camera on the air (another laid over it) and a sound.
    SelectProgram(crate::media::Program, tokio::sync::oneshot::Sender<bool>),
}

/// One channel's live window, shared between the recorder and HTTP.
#[derive(Debug)]
pub struct LiveChannel {
    pub id: String,
    pub name: String,
    pub renditions: Vec<RenditionInfo>,
    pub timing: Timing,
    state: Mutex<State>,
    version: watch::Sender<u64>,
    /// The running recorder's command queue, if one runs.
    commands: Mutex<Option<tokio::sync::mpsc::UnboundedSender<ChannelCommand>>>,
    /// The chamber is off the air (a non-public part): a broadcast that
    /// starts or restarts starts with the slate.
    private: std::sync::atomic::AtomicBool,
    /// The test source's scene ([`TestScene::index`]); a restarted
    /// broadcast starts with it.
    test_scene: std::sync::atomic::AtomicU8,
    /// Levels, bitrates, frames and viewers, for the operator.
    pub health: crate::health::Monitor,
    /// The state of the channel's source (lost: the failover slate is on).
    pub source: Arc<crate::media::SourceStatus>,
    /// The lower third (see `media::graphics`).
    pub graphics: Arc<crate::media::Graphics>,
    /// RTMP destinations fed while a session is live (none by default).
    pub restream: Arc<crate::media::Restream>,
    /// More cameras (input 1, 2): name and source state.
    pub inputs: Vec<(String, Arc<crate::media::SourceStatus>)>,
    /// The backup source's state (input `ChannelConfig::backup_input`), if the channel
    /// has one.
    pub backup: Option<Arc<crate::media::SourceStatus>>,
    /// The camera on the air, the one laid over it (picture in picture)
    /// and whose sound is heard.
    program: Mutex<crate::media::Program>,
}

impl LiveChannel {
    pub fn new(id: String, name: String, renditions: Vec<RenditionInfo>, timing: Timing) -> Self {
        let windows = renditions.iter().map(|_| Window::default()).collect();
        LiveChannel {
            id,
            name,
            renditions,
            timing,
            state: Mutex::new(State {
                run: String::new(),
                windows,
                ended: false,
                dateranges: Vec::new(),
            }),
            version: watch::channel(0).0,
            commands: Mutex::new(None),
            private: std::sync::atomic::AtomicBool::new(false),
            test_scene: std::sync::atomic::AtomicU8::new(0),
            health: crate::health::Monitor::default(),
            source: Arc::default(),
            graphics: Arc::default(),
            restream: Arc::new(crate::media::Restream::new(Vec::new(), 0, 0)),
            inputs: Vec::new(),
            backup: None,
            program: Mutex::new(crate::media::Program::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    pub fn rendition_index(&self, name: &str) -> Option<usize> {
        self.renditions.iter().position(|r| r.name == name)
    }

    // ---- writer side (the recorder) ----

    /// Starts a new run: forgets the previous one.
    pub fn begin_run(&self, run: String) {
        let mut s = self.lock();
        s.run = run;
        s.ended = false;
        for w in &mut s.windows {
            *w = Window::default();
        }
        drop(s);
        self.health.reset();
        self.changed();
    }

    /// Sets a track's codec and its init segment (`writer::init_segment`).
    pub fn set_codec(&self, track: usize, codec: Codec, init: Bytes) {
        let mut s = self.lock();
        if let Some(w) = s.windows.get_mut(track) {
            w.init = Some(init);
            w.codec = Some(codec);
        }
        drop(s);
        self.changed();
    }

    /// Appends a part; `wall_ns` is the wall-clock time of its first sample.
    pub fn push_part(&self, track: usize, part: &segmenter::Part, wall_ns: u64) {
        let window_len = self.timing.window;
        let mut s = self.lock();
        let Some(w) = s.windows.get_mut(track) else {
            return;
        };
        let open = w
            .segments
            .back()
            .is_some_and(|seg| seg.msn == part.msn && !seg.complete);
        if !open {
            if let Some(prev) = w.segments.back_mut() {
                if !prev.complete {
                    complete(prev);
                }
            }
            w.segments.push_back(LiveSegment {
                msn: part.msn,
                program_date_time_ns: wall_ns,
                parts: Vec::new(),
                complete: false,
                bytes: Bytes::new(),
            });
        }
        if let Some(seg) = w.segments.back_mut() {
            seg.parts.push(LivePart {
                bytes: part.fragment.clone(),
                duration: part.duration_secs(),
                independent: part.independent,
            });
        }
        // Bound the window: drop whole segments from the front.
        let mut total: f64 = w.segments.iter().map(LiveSegment::duration).sum();
        while w.segments.len() > 2 && total > window_len {
            if let Some(old) = w.segments.pop_front() {
                total -= old.duration();
            }
        }
        drop(s);
        self.changed();
    }

    pub fn end_segment(&self, track: usize, msn: u64) {
        let mut written = false;
        let mut s = self.lock();
        if let Some(seg) = s
            .windows
            .get_mut(track)
            .and_then(|w| w.segments.iter_mut().rev().find(|seg| seg.msn == msn))
        {
            if !seg.complete {
                complete(seg);
                written = track == 0;
            }
        }
        drop(s);
        if written {
            self.health.segment_written();
        }
        self.changed();
    }

    /// The stream has ended: playlists get EXT-X-ENDLIST, waiters wake.
    pub fn end(&self) {
        self.lock().ended = true;
        self.changed();
    }

    /// The recorder registers where it takes commands.
    pub fn set_commands(&self, tx: Option<tokio::sync::mpsc::UnboundedSender<ChannelCommand>>) {
        *self.commands.lock().unwrap_or_else(|e| e.into_inner()) = tx;
    }

    /// Asks the recorder to start a new segment on every rendition now;
    /// `None` when no broadcast runs or it did not answer within a second.
    pub async fn cut_now(&self) -> Option<Cut> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        sender.send(ChannelCommand::CutNow(tx)).ok()?;
        tokio::time::timeout(Duration::from_secs(1), rx)
            .await
            .ok()?
            .ok()
    }

    /// Asks the recorder to show the slate and silence instead of the
    /// chamber (`private`) or to bring the chamber back; the answer is the
    /// first segment of the part that follows (the non-public one, or the
    /// public one after it). `None` when no broadcast runs, it did not answer
    /// within a second, or it was already in that state. The state is kept
    /// even then: a broadcast that starts (or restarts) later starts in it.
    pub async fn set_private(&self, private: bool) -> Option<Cut> {
        self.private
            .store(private, std::sync::atomic::Ordering::SeqCst);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        sender.send(ChannelCommand::SetPrivate(private, tx)).ok()?;
        tokio::time::timeout(Duration::from_secs(1), rx)
            .await
            .ok()?
            .ok()
    }

    /// Whether the chamber is off the air (the last [`Self::set_private`]).
    pub fn is_private(&self) -> bool {
        self.private.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Switches the test source's scene. `None` when no broadcast runs or it
    /// did not answer within a second (the scene is kept for when it starts);
    /// `Some(false)` when this channel's source is not the test source.
    pub async fn set_test_scene(&self, scene: TestScene) -> Option<bool> {
        self.test_scene
            .store(scene.index(), std::sync::atomic::Ordering::SeqCst);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        sender.send(ChannelCommand::SetTestScene(scene, tx)).ok()?;
        tokio::time::timeout(Duration::from_secs(1), rx)
            .await
            .ok()?
            .ok()
    }

    /// Puts `program` on the air: camera `input` (0: the channel's
    /// `source`), with `pip` laid over it in a corner, and its `audio`.
    /// `None` when no broadcast runs or it did not answer within a second
    /// (the choice is kept for when it starts); `Some(false)` when the
    /// channel cannot show it (the choice is then not kept).
    pub async fn select_program(&self, program: crate::media::Program) -> Option<bool> {
        let before = std::mem::replace(
            &mut *self.program.lock().unwrap_or_else(|e| e.into_inner()),
            program,
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        sender
            .send(ChannelCommand::SelectProgram(program, tx))
            .ok()?;
        let shown = tokio::time::timeout(Duration::from_secs(1), rx)
            .await
            .ok()?
            .ok()?;
        if !shown {
            *self.program.lock().unwrap_or_else(|e| e.into_inner()) = before;
        }
        Some(shown)
    }

    /// What the failover slates say under "Przerwa techniczna": the title
    /// of the session live on the channel, or (`None`) the channel's name;
    /// another camera's slate adds its name.
    pub fn set_slate_session(&self, title: Option<&str>) {
        let base = title.unwrap_or(&self.name);
        self.source.set_slate_info(base);
        for (name, status) in &self.inputs {
            status.set_slate_info(&format!("{base} ({name})"));
        }
        if let Some(backup) = &self.backup {
            backup.set_slate_info(&format!("{base} (backup)"));
        }
    }

    /// What is on the air (see [`Self::select_program`]).
    pub fn program(&self) -> crate::media::Program {
        *self.program.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The test source's scene (the last [`Self::set_test_scene`]).
    pub fn test_scene(&self) -> TestScene {
        let i = self.test_scene.load(std::sync::atomic::Ordering::SeqCst);
        TestScene::ALL
            .into_iter()
            .find(|s| s.index() == i)
            .unwrap_or_default()
    }

    /// Shows an agenda item in the live playlists from now on.
    pub fn add_daterange(&self, range: hls::DateRange) {
        let mut s = self.lock();
        s.dateranges.retain(|d| d.id != range.id);
        s.dateranges.push(range);
        drop(s);
        self.changed();
    }

    // ---- reader side (HTTP) ----

    pub fn run(&self) -> String {
        self.lock().run.clone()
    }

    pub fn is_ended(&self) -> bool {
        self.lock().ended
    }

    pub fn codec(&self, track: usize) -> Option<Codec> {
        self.lock().windows.get(track)?.codec.clone()
    }

    /// The (msn, part index) of the newest part of a rendition.
    pub fn last_part(&self, track: usize) -> Option<(u64, u32)> {
        self.lock().windows.get(track)?.last_part()
    }

    /// Whether every rendition has its init segment and a first part.
    /// How many whole segments of `track` the window holds.
    pub fn complete_segments(&self, track: usize) -> usize {
        self.lock()
            .windows
            .get(track)
            .map(|w| w.segments.iter().filter(|s| s.complete).count())
            .unwrap_or(0)
    }

    pub fn is_ready(&self) -> bool {
        let s = self.lock();
        s.windows
            .iter()
            .all(|w| w.init.is_some() && !w.segments.is_empty())
    }

    pub fn init(&self, track: usize, run: &str) -> Option<Bytes> {
        let s = self.lock();
        if s.run != run {
            return None;
        }
        s.windows.get(track)?.init.clone()
    }

    pub fn segment(&self, track: usize, run: &str, msn: u64) -> Option<Bytes> {
        let s = self.lock();
        if s.run != run {
            return None;
        }
        let seg = s.windows.get(track)?.find(msn)?;
        seg.complete.then(|| seg.bytes.clone())
    }

    pub fn part(&self, track: usize, run: &str, msn: u64, index: u32) -> Lookup {
        let s = self.lock();
        let Some(w) = s.windows.get(track).filter(|_| s.run == run) else {
            return Lookup::NotFound;
        };
        if let Some(p) = w.find(msn).and_then(|seg| seg.parts.get(index as usize)) {
            return Lookup::Ready(p.bytes.clone());
        }
        if s.ended {
            return Lookup::NotFound;
        }
        // A part is worth waiting for when it is the next one or just after
        // it (the preload hint), never a guess far ahead.
        match w.last_part() {
            Some((last_msn, last_idx)) => {
                let seg_complete = w.find(last_msn).is_some_and(|seg| seg.complete);
                let next_in_same = msn == last_msn && !seg_complete && index == last_idx + 1;
                let next_segment = msn == last_msn + 1 && index == 0;
                if next_in_same || next_segment {
                    Lookup::Soon
                } else {
                    Lookup::NotFound
                }
            }
            None => {
                if msn == 0 && index == 0 {
                    Lookup::Soon
                } else {
                    Lookup::NotFound
                }
            }
        }
    }

    /// Checks a blocking request against RFC 8216bis limits.
    pub fn check_block(&self, track: usize, msn: u64, part: Option<u32>) -> Result<(), BlockError> {
        let s = self.lock();
        let (last_msn, last_part) = s
            .windows
            .get(track)
            .and_then(Window::last_part)
            .unwrap_or((0, 0));
        let too_far = match part {
            None => msn > last_msn + 2,
            Some(p) => {
                let pps = self.timing.parts_per_segment();
                let want = msn.saturating_mul(pps).saturating_add(u64::from(p));
                let have = last_msn
                    .saturating_mul(pps)
                    .saturating_add(u64::from(last_part));
                msn > last_msn + 2 || want > have + self.timing.advance_part_limit()
            }
        };
        if too_far && !s.windows.get(track).is_some_and(|w| w.segments.is_empty()) {
            return Err(BlockError::TooFarAhead {
                last_msn,
                last_part,
            });
        }
        Ok(())
    }

    /// Whether the playlist of `track` already satisfies `_HLS_msn`/`_HLS_part`.
    pub fn satisfies(&self, track: usize, msn: u64, part: Option<u32>) -> bool {
        let s = self.lock();
        if s.ended {
            return true;
        }
        let Some(w) = s.windows.get(track) else {
            return true;
        };
        let Some(last) = w.segments.back() else {
            return false;
        };
        if last.msn > msn {
            return true;
        }
        match w.find(msn) {
            None => false,
            Some(seg) if seg.complete => true,
            Some(seg) => part.is_some_and(|p| (p as usize) < seg.parts.len()),
        }
    }

    /// Waits until `ready()` holds or `timeout` passes; returns whether it held.
    pub async fn wait_for(&self, timeout: Duration, ready: impl Fn(&Self) -> bool) -> bool {
        let mut rx = self.version.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if ready(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => return ready(self),
            }
        }
    }

    /// The media playlist of `track` as it stands now.
    pub fn media_playlist(&self, track: usize) -> Option<hls::MediaPlaylist> {
        let s = self.lock();
        let w = s.windows.get(track)?;
        w.init.as_ref()?;
        let run = &s.run;
        let t = self.timing;
        // Parts are listed for the segments within three target durations
        // of the live edge (RFC 8216bis 4.4.4.9).
        let with_parts = (3.0 * t.target_duration() as f64 / t.segment_target).ceil() as usize + 1;
        let keep_parts_from = w.segments.len().saturating_sub(with_parts);
        let segments = w
            .segments
            .iter()
            .enumerate()
            .map(|(i, seg)| hls::Segment {
                msn: seg.msn,
                uri: seg.complete.then(|| format!("seg-{run}-{}.m4s", seg.msn)),
                duration: seg.duration(),
                program_date_time_ns: seg.program_date_time_ns,
                parts: if i >= keep_parts_from {
                    seg.parts
                        .iter()
                        .enumerate()
                        .map(|(j, p)| hls::Part {
                            uri: format!("part-{run}-{}.{j}.m4s", seg.msn),
                            duration: p.duration,
                            independent: p.independent,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect();
        // A segment whose parts already fill it will be closed by the next
        // keyframe (one frame later): hint the next segment's first part,
        // not a part that will never exist.
        let full = |seg: &LiveSegment| seg.duration() >= t.segment_target - t.part_target / 2.0;
        let preload_hint = w.segments.back().map(|seg| {
            if seg.complete || full(seg) {
                format!("part-{run}-{}.0.m4s", seg.msn + 1)
            } else {
                format!("part-{run}-{}.{}.m4s", seg.msn, seg.parts.len())
            }
        });
        let rendition_reports = self
            .renditions
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != track)
            .filter_map(|(i, r)| {
                let (last_msn, last_part) = s.windows.get(i)?.last_part()?;
                Some(hls::RenditionReport {
                    uri: format!("../{}/index.m3u8", r.name),
                    last_msn,
                    last_part,
                })
            })
            .collect();
        let window_start = w
            .segments
            .front()
            .map(|s| s.program_date_time_ns)
            .unwrap_or(0);
        let dateranges = s
            .dateranges
            .iter()
            .filter(|d| d.start_ns >= window_start)
            .cloned()
            .collect();
        Some(hls::MediaPlaylist {
            dateranges,
            target_duration: t.target_duration(),
            part_target: t.part_target,
            part_hold_back: t.part_hold_back(),
            map_uri: format!("init-{run}.mp4"),
            segments,
            preload_hint,
            rendition_reports,
            ended: s.ended,
        })
    }
}

/// Joins a segment's parts into one buffer and makes every part a view into
/// it, so a complete segment is held in memory once.
fn complete(seg: &mut LiveSegment) {
    let len = seg.parts.iter().map(|p| p.bytes.len()).sum();
    let mut b = BytesMut::with_capacity(len);
    for p in &seg.parts {
        b.extend_from_slice(&p.bytes);
    }
    seg.bytes = b.freeze();
    let mut at = 0;
    for p in &mut seg.parts {
        let n = p.bytes.len();
        p.bytes = seg.bytes.slice(at..at + n);
        at += n;
    }
    seg.complete = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::segmenter::Part;

    #[test]
    fn the_failover_slates_name_the_live_session_or_the_channel() {
        let mut c = channel(60.0);
        c.inputs = vec![("mownica".into(), Arc::default())];
        c.backup = Some(Arc::default());
        let texts = |c: &LiveChannel| {
            (
                c.source.slate_info(),
                c.inputs[0].1.slate_info(),
                c.backup.as_ref().map(|b| b.slate_info()),
            )
        };
        c.set_slate_session(Some("XLV sesja Rady Miasta"));
        assert_eq!(
            texts(&c),
            (
                "XLV sesja Rady Miasta".to_owned(),
                "XLV sesja Rady Miasta (mownica)".to_owned(),
                Some("XLV sesja Rady Miasta (backup)".to_owned())
            )
        );
        c.set_slate_session(None);
        assert_eq!(texts(&c).0, "Sala");
        assert_eq!(texts(&c).1, "Sala (mownica)");
    }

    fn channel(window: f64) -> LiveChannel {
        let c = LiveChannel::new(
            "main".into(),
            "Sala".into(),
            vec![
                RenditionInfo {
                    name: "360p".into(),
                    kind: RenditionKind::Video {
                        width: 640,
                        height: 360,
                        bitrate_kbps: 800,
                        framerate: 25,
                    },
                },
                RenditionInfo {
                    name: "audio".into(),
                    kind: RenditionKind::Audio { bitrate_kbps: 128 },
                },
            ],
            Timing {
                part_target: 0.4,
                segment_target: 2.0,
                window,
            },
        );
        c.begin_run("ab".into());
        for t in 0..2 {
            let codec = Codec::Aac {
                asc: Bytes::from_static(&[0x11, 0x90]),
                rate: 48_000,
                channels: 2,
            };
            let init = crate::cmaf::writer::init_segment(&codec);
            c.set_codec(t, codec, init);
        }
        c
    }

    fn part(msn: u64, index: u32) -> Part {
        Part {
            msn,
            index,
            start_ns: 0,
            duration: 36_000,
            timescale: 90_000,
            independent: index == 0,
            fragment: Bytes::from(vec![index as u8; 4]),
        }
    }

    /// Writes `segments` whole segments of five parts to track 0.
    fn fill(c: &LiveChannel, from: u64, segments: u64) {
        for msn in from..from + segments {
            for i in 0..5 {
                c.push_part(
                    0,
                    &part(msn, i),
                    msn * 2_000_000_000 + u64::from(i) * 400_000_000,
                );
            }
            c.end_segment(0, msn);
        }
    }

    #[test]
    fn the_window_keeps_only_its_length_of_whole_segments() {
        let c = channel(10.0);
        fill(&c, 100, 20);
        let p = c.media_playlist(0).unwrap();
        let msns: Vec<u64> = p.segments.iter().map(|s| s.msn).collect();
        assert_eq!(msns, (115..120).collect::<Vec<_>>());
        assert_eq!(c.segment(0, "ab", 114), None);
        assert_eq!(c.segment(0, "ab", 119).unwrap().len(), 20);
        // Parts are listed only near the live edge (three target durations).
        assert!(p.segments[0].parts.is_empty());
        assert_eq!(p.segments[4].parts.len(), 5);
    }

    #[test]
    fn blocking_requests_follow_the_spec_limits() {
        let c = channel(60.0);
        fill(&c, 10, 3); // segments 10..=12, complete
        c.push_part(0, &part(13, 0), 0);
        c.push_part(0, &part(13, 1), 0);
        assert!(c.satisfies(0, 12, None));
        assert!(c.satisfies(0, 13, Some(1)));
        assert!(!c.satisfies(0, 13, Some(2)));
        assert!(!c.satisfies(0, 13, None));
        assert!(c.check_block(0, 15, None).is_ok());
        assert!(c.check_block(0, 16, None).is_err());
        // Advance Part Limit at 0.4 s parts: 3 / 0.4 = 7 parts ahead.
        assert!(c.check_block(0, 14, Some(3)).is_ok()); // 13.1 + 7 = 14.3
        assert!(c.check_block(0, 14, Some(4)).is_err());
        c.end();
        assert!(
            c.satisfies(0, 15, None),
            "an ended stream releases every waiter"
        );
    }

    #[test]
    fn only_the_next_part_is_worth_waiting_for() {
        let c = channel(60.0);
        fill(&c, 10, 1);
        c.push_part(0, &part(11, 0), 0);
        assert!(matches!(c.part(0, "ab", 11, 0), Lookup::Ready(_)));
        assert_eq!(c.part(0, "ab", 11, 1), Lookup::Soon);
        assert_eq!(c.part(0, "ab", 11, 2), Lookup::NotFound);
        // The next segment's first part may come next too (a segment can end early).
        assert_eq!(c.part(0, "ab", 12, 0), Lookup::Soon);
        assert_eq!(c.part(0, "ab", 12, 1), Lookup::NotFound);
        assert_eq!(c.part(0, "other-run", 11, 0), Lookup::NotFound);
        c.end_segment(0, 11);
        assert_eq!(c.part(0, "ab", 12, 0), Lookup::Soon);
        assert_eq!(c.part(0, "ab", 11, 1), Lookup::NotFound);
    }

    #[test]
    fn the_preload_hint_and_rendition_reports_point_at_the_live_edge() {
        let c = channel(60.0);
        fill(&c, 10, 2);
        c.push_part(0, &part(12, 0), 0);
        c.push_part(1, &part(12, 0), 0);
        c.push_part(1, &part(12, 1), 0);
        let p = c.media_playlist(0).unwrap();
        assert_eq!(p.preload_hint.as_deref(), Some("part-ab-12.1.m4s"));
        // Once the parts fill the segment, the hint moves to the next one
        // even before the closing keyframe arrives.
        for i in 1..5 {
            c.push_part(0, &part(12, i), 0);
        }
        let p = c.media_playlist(0).unwrap();
        assert_eq!(p.preload_hint.as_deref(), Some("part-ab-13.0.m4s"));
        assert_eq!(p.rendition_reports.len(), 1);
        assert_eq!(p.rendition_reports[0].uri, "../audio/index.m3u8");
        assert_eq!(
            (
                p.rendition_reports[0].last_msn,
                p.rendition_reports[0].last_part
            ),
            (12, 1)
        );
    }

    #[tokio::test]
    async fn a_waiter_wakes_when_its_part_arrives() {
        let c = std::sync::Arc::new(channel(60.0));
        fill(&c, 10, 1);
        let writer = c.clone();
        let task = tokio::spawn(async move {
            tokio::task::yield_now().await;
            writer.push_part(0, &part(11, 0), 0);
        });
        let ok = c
            .wait_for(Duration::from_secs(5), |c| c.satisfies(0, 11, Some(0)))
            .await;
        task.await.unwrap();
        assert!(ok);
        let timed_out = c
            .wait_for(Duration::from_millis(20), |c| c.satisfies(0, 11, Some(3)))
            .await;
        assert!(!timed_out);
    }
}
