//! What the operator watches while a channel is on the air: the programme
//! audio's level, each rendition's bitrate, frames received and dropped,
//! segments written, and how many viewers are playing. Sans-io: every call
//! takes "now", so it is tested without clocks or sockets; the recorder and
//! the HTTP handlers feed it, `GET /api/v1/channels/{channel}/health` reads it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The bitrate is measured over this window.
pub const BITRATE_WINDOW: Duration = Duration::from_secs(5);
/// A viewer counts while their player reloaded a playlist this recently
/// (a live player reloads every part, i.e. several times a second).
pub const VIEWER_WINDOW: Duration = Duration::from_secs(15);
/// A level older than this is not shown: the audio stopped.
pub const LEVEL_MAX_AGE: Duration = Duration::from_secs(2);
/// The most players counted at once.
pub const MAX_VIEWERS: usize = 10_000;
/// A meter reading is silent when every channel's RMS is below this (dBFS).
pub const SILENCE_DB: f64 = -60.0;
/// A meter reading clips when a channel's peak reaches this (dBFS).
pub const CLIP_DB: f64 = -0.5;
/// Clipping has stopped after this long without a clipping reading.
pub const CLIP_GAP: Duration = Duration::from_secs(1);

/// When the programme audio's watch alerts the operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioWatch {
    /// Silence for this long.
    pub silence_after: Duration,
    /// Clipping (a reading at full scale at least every second) for this long.
    pub clipping_after: Duration,
}

impl Default for AudioWatch {
    fn default() -> Self {
        AudioWatch {
            silence_after: Duration::from_secs(10),
            clipping_after: Duration::from_secs(2),
        }
    }
}

/// Something the operator should act on.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// `silence` (the programme audio is silent) or `clipping` (it reaches
    /// full scale: the microphones are too loud).
    pub kind: &'static str,
    /// For how long, seconds.
    pub seconds: f64,
}

#[derive(Debug, Default)]
struct Track {
    /// (arrival, bytes) of the samples in the last [`BITRATE_WINDOW`].
    recent: VecDeque<(Instant, usize)>,
    samples: u64,
    /// First and last presentation time seen (ns), for the frames expected.
    first_pts: Option<u64>,
    last_pts: u64,
}

#[derive(Debug, Default)]
struct Inner {
    tracks: Vec<Track>,
    level: Option<(Instant, Vec<f64>, Vec<f64>)>,
    segments_written: u64,
    viewers: HashMap<u64, Instant>,
    /// When the viewer map was last pruned because it was full.
    pruned: Option<Instant>,
    watch: AudioWatch,
    /// Since when every reading has been silent.
    quiet_since: Option<Instant>,
    /// Since when readings have clipped (at least every [`CLIP_GAP`]), and
    /// the latest clipping reading.
    clipping: Option<(Instant, Instant)>,
}

/// One channel's health, shared by the recorder and HTTP.
#[derive(Debug, Default)]
pub struct Monitor {
    inner: Mutex<Inner>,
}

/// The audio meter: dBFS per channel (−∞ is shown as −100).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AudioLevel {
    pub rms_db: Vec<f64>,
    pub peak_db: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TrackHealth {
    /// Rendition name, e.g. "720p".
    pub rendition: String,
    /// Encoded bitrate over the last five seconds, kbit/s.
    pub bitrate_kbps: f64,
    /// Access units (frames, AAC frames) received since the broadcast began.
    pub samples: u64,
    /// Video frames missing from the expected cadence (0 for audio).
    pub dropped: u64,
}

/// A snapshot for the console.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Latest audio level; absent when none came in the last two seconds.
    pub audio: Option<AudioLevel>,
    pub tracks: Vec<TrackHealth>,
    /// Segments completed in the reference rendition since the start.
    pub segments_written: u64,
    /// Players that loaded a live playlist from this server in the last
    /// 15 s (a cache or CDN in front counts as one).
    pub viewers: usize,
    /// The audio watch's alerts: silence longer than the channel's
    /// `silence_alert` (not while the session is not public: its silence is
    /// meant), clipping longer than `clipping_alert`.
    pub alerts: Vec<Alert>,
}

fn finite_db(v: f64) -> f64 {
    if v.is_finite() {
        v.max(-100.0)
    } else {
        -100.0
    }
}

impl Monitor {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new broadcast run: counters start again.
    pub fn reset(&self) {
        let mut s = self.lock();
        s.tracks.clear();
        s.segments_written = 0;
        s.level = None;
        s.quiet_since = None;
        s.clipping = None;
    }

    /// Sets when the audio watch alerts.
    pub fn set_audio_watch(&self, watch: AudioWatch) {
        self.lock().watch = watch;
    }

    pub fn sample(&self, track: usize, bytes: usize, pts_ns: u64, now: Instant) {
        let mut s = self.lock();
        if s.tracks.len() <= track {
            s.tracks.resize_with(track + 1, Track::default);
        }
        let t = &mut s.tracks[track];
        t.samples += 1;
        t.first_pts.get_or_insert(pts_ns);
        t.last_pts = t.last_pts.max(pts_ns);
        t.recent.push_back((now, bytes));
        while t
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > BITRATE_WINDOW)
        {
            t.recent.pop_front();
        }
    }

    pub fn level(&self, rms_db: Vec<f64>, peak_db: Vec<f64>, now: Instant) {
        let mut s = self.lock();
        // NaN and −∞ (digital silence) are silent too.
        let quiet = !rms_db.iter().any(|&d| d > SILENCE_DB);
        if quiet {
            s.quiet_since.get_or_insert(now);
        } else {
            s.quiet_since = None;
        }
        let clips = peak_db.iter().any(|&d| d >= CLIP_DB);
        s.clipping = match (s.clipping, clips) {
            (Some((since, last)), true) if now.duration_since(last) <= CLIP_GAP => {
                Some((since, now))
            }
            (_, true) => Some((now, now)),
            (Some((since, last)), false) if now.duration_since(last) <= CLIP_GAP => {
                Some((since, last))
            }
            (_, false) => None,
        };
        s.level = Some((now, rms_db, peak_db));
    }

    pub fn segment_written(&self) {
        self.lock().segments_written += 1;
    }

    /// A player (`key`: a hash of its address and user agent) loaded a
    /// live playlist.
    pub fn viewer(&self, key: u64, now: Instant) {
        let mut s = self.lock();
        if s.viewers.len() >= MAX_VIEWERS && !s.viewers.contains_key(&key) {
            // Prune at most once per window; past the cap, new players are
            // not counted (a flood of made-up clients cannot grow the map
            // or make every request scan it).
            let due = s
                .pruned
                .is_none_or(|at| now.duration_since(at) > VIEWER_WINDOW);
            if !due {
                return;
            }
            s.pruned = Some(now);
            s.viewers
                .retain(|_, at| now.duration_since(*at) <= VIEWER_WINDOW);
            if s.viewers.len() >= MAX_VIEWERS {
                return;
            }
        }
        s.viewers.insert(key, now);
    }

    /// `renditions` names the tracks in order; `frame_ns` is one video
    /// frame's duration (to count dropped frames of video tracks).
    /// `private`: the session is not public (its silence is meant).
    pub fn snapshot(
        &self,
        renditions: &[(String, bool)],
        frame_ns: u64,
        private: bool,
        now: Instant,
    ) -> Health {
        let mut s = self.lock();
        s.viewers
            .retain(|_, at| now.duration_since(*at) <= VIEWER_WINDOW);
        let tracks = renditions
            .iter()
            .enumerate()
            .map(|(i, (name, video))| {
                let t = s.tracks.get(i);
                let bytes: usize = t
                    .map(|t| {
                        t.recent
                            .iter()
                            .filter(|(at, _)| now.duration_since(*at) <= BITRATE_WINDOW)
                            .map(|(_, b)| b)
                            .sum()
                    })
                    .unwrap_or(0);
                let samples = t.map_or(0, |t| t.samples);
                let expected = match (t.and_then(|t| t.first_pts), *video && frame_ns > 0) {
                    (Some(first), true) => t.map_or(0, |t| {
                        (t.last_pts.saturating_sub(first) + frame_ns / 2) / frame_ns + 1
                    }),
                    _ => samples,
                };
                TrackHealth {
                    rendition: name.clone(),
                    bitrate_kbps: (bytes as f64 * 8.0 / BITRATE_WINDOW.as_secs_f64() / 1000.0
                        * 10.0)
                        .round()
                        / 10.0,
                    samples,
                    dropped: expected.saturating_sub(samples),
                }
            })
            .collect();
        let audio = s
            .level
            .as_ref()
            .filter(|(at, _, _)| now.duration_since(*at) <= LEVEL_MAX_AGE)
            .map(|(_, rms, peak)| AudioLevel {
                rms_db: rms.iter().copied().map(finite_db).collect(),
                peak_db: peak.iter().copied().map(finite_db).collect(),
            });
        let mut alerts = Vec::new();
        let watch = s.watch;
        // A meter that stopped reporting counts as silence from its last
        // reading.
        let quiet_since = s.quiet_since.or_else(|| {
            s.level
                .as_ref()
                .filter(|(at, _, _)| now.duration_since(*at) > LEVEL_MAX_AGE)
                .map(|(at, _, _)| *at)
        });
        if let Some(since) = quiet_since.filter(|_| !private) {
            let d = now.duration_since(since);
            if d >= watch.silence_after {
                alerts.push(Alert {
                    kind: "silence",
                    seconds: (d.as_secs_f64() * 10.0).round() / 10.0,
                });
            }
        }
        if let Some((since, last)) = s.clipping {
            let d = last.duration_since(since);
            if d >= watch.clipping_after && now.duration_since(last) <= CLIP_GAP {
                alerts.push(Alert {
                    kind: "clipping",
                    seconds: (d.as_secs_f64() * 10.0).round() / 10.0,
                });
            }
        }
        Health {
            audio,
            tracks,
            segments_written: s.segments_written,
            viewers: s.viewers.len(),
            alerts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: u64 = 40_000_000;

    #[test]
    fn bitrate_frames_dropped_and_viewers() {
        let m = Monitor::default();
        let t0 = Instant::now();
        // 25 frames a second of 10 kB for 4 s, with frame 50 missing.
        for k in 0..100u64 {
            if k == 50 {
                continue;
            }
            let at = t0 + Duration::from_millis(k * 40);
            m.sample(0, 10_000, 1_000_000_000 + k * FRAME, at);
        }
        m.level(
            vec![-20.0, f64::NEG_INFINITY],
            vec![-6.0, -7.5],
            t0 + Duration::from_secs(4),
        );
        m.segment_written();
        m.viewer(1, t0);
        m.viewer(2, t0 + Duration::from_secs(3));
        m.viewer(2, t0 + Duration::from_secs(4));
        let now = t0 + Duration::from_secs(4);
        let h = m.snapshot(
            &[("720p".into(), true), ("audio".into(), false)],
            FRAME,
            false,
            now,
        );
        // 99 frames × 10 kB × 8 bit / 5 s window.
        assert_eq!(h.tracks[0].bitrate_kbps, 1584.0);
        assert_eq!((h.tracks[0].samples, h.tracks[0].dropped), (99, 1));
        assert_eq!((h.tracks[1].samples, h.tracks[1].dropped), (0, 0));
        assert_eq!(
            h.audio,
            Some(AudioLevel {
                rms_db: vec![-20.0, -100.0],
                peak_db: vec![-6.0, -7.5]
            })
        );
        assert_eq!((h.segments_written, h.viewers), (1, 2));
        // Later: the old samples, the level and viewer 1 have gone.
        let later = t0 + Duration::from_secs(17);
        let h = m.snapshot(&[("720p".into(), true)], FRAME, false, later);
        assert_eq!(h.tracks[0].bitrate_kbps, 0.0);
        assert_eq!((h.audio, h.viewers), (None, 1));
    }

    #[test]
    fn silence_and_clipping_alert_after_their_time_and_not_while_private() {
        let m = Monitor::default();
        m.set_audio_watch(AudioWatch {
            silence_after: Duration::from_secs(3),
            clipping_after: Duration::from_secs(2),
        });
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let alerts = |private: bool, now: Instant| {
            m.snapshot(&[], FRAME, private, now)
                .alerts
                .iter()
                .map(|a| (a.kind, a.seconds))
                .collect::<Vec<_>>()
        };
        // Loud for a second, then silent, ten readings a second.
        for k in 0..10 {
            m.level(vec![-20.0, -22.0], vec![-6.0, -6.0], at(k * 100));
        }
        for k in 10..45 {
            m.level(
                vec![f64::NEG_INFINITY, -80.0],
                vec![-90.0, -90.0],
                at(k * 100),
            );
        }
        assert_eq!(alerts(false, at(3_900)), vec![]);
        assert_eq!(alerts(false, at(4_400)), vec![("silence", 3.4)]);
        assert_eq!(
            alerts(true, at(4_400)),
            vec![],
            "silence meant while private"
        );
        // Sound again: the alert goes at once. Then peaks at full scale
        // every 0.5 s for 2.5 s.
        m.level(vec![-20.0, -20.0], vec![-6.0, -6.0], at(4_500));
        assert_eq!(alerts(false, at(4_500)), vec![]);
        for k in 0..6 {
            m.level(vec![-3.0, -3.0], vec![0.0, -0.2], at(5_000 + k * 500));
        }
        assert_eq!(alerts(false, at(7_500)), vec![("clipping", 2.5)]);
        // No clipping for more than a second: over.
        m.level(vec![-20.0, -20.0], vec![-6.0, -6.0], at(8_000));
        assert_eq!(alerts(false, at(8_600)), vec![]);
    }
}
