//! Cuts one track's samples into LL-HLS parts and segments.
//!
//! All tracks of a channel share a [`Grid`]: segment `k` nominally starts at
//! `origin + k * segment`. A video segment starts at the first keyframe at or
//! after its nominal start (the keyframes are forced there upstream, so every
//! rendition cuts on the same frame); an audio segment starts with the first
//! frame that ends after the nominal start, so audio agrees with video within
//! one audio frame. Parts are cut every `part` from the segment's start and
//! are emitted as soon as the next sample could not fit, never later, so a
//! part is never longer than the part target.

use std::collections::VecDeque;

use bytes::Bytes;

use super::writer::{self, TimedSample};
use super::{Codec, Sample};

/// Slack for comparing nanosecond times that went through rounding.
const TOLERANCE_NS: u64 = 1_000_000;
/// Samples held while the grid is not yet known (the first video frame sets it).
const MAX_PENDING: usize = 1_000;

/// The shared segment clock of a channel.
///
/// Segment `first_msn + k` nominally starts at `origin + k * segment`; a cut
/// (an agenda item began, the chamber went off the air) re-phases the clock
/// from one segment number on. Earlier phases are kept while a track may
/// still need them: a rendition whose encoder lags behind the others cuts
/// its segments where every other rendition cut them, not where the newest
/// phase would put them, so every rendition numbers the same span the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub segment_ns: u64,
    pub part_ns: u64,
    /// Running time of the stream's first segment.
    start_ns: u64,
    /// (first msn, running time it starts at), increasing in both.
    phases: Vec<(u64, u64)>,
}

impl Grid {
    pub fn new(origin_ns: u64, first_msn: u64, segment_ns: u64, part_ns: u64) -> Grid {
        Grid {
            segment_ns: segment_ns.max(1),
            part_ns: part_ns.max(1),
            start_ns: origin_ns,
            phases: vec![(first_msn, origin_ns)],
        }
    }

    /// Running time before which samples belong to no segment.
    pub fn start_ns(&self) -> u64 {
        self.start_ns
    }

    /// The newest phase: (first msn, running time it starts at).
    pub fn latest(&self) -> (u64, u64) {
        *self.phases.last().expect("a grid has a phase")
    }

    /// Re-phases the clock: segment `msn` starts at `at`, the next ones
    /// every segment after it. Refused (`false`) unless both come after the
    /// newest phase's.
    pub fn cut(&mut self, at: u64, msn: u64) -> bool {
        let (last_msn, last_at) = self.latest();
        if msn <= last_msn || at <= last_at {
            return false;
        }
        self.phases.push((msn, at));
        true
    }

    /// Forgets the phases no segment from `msn` on needs.
    pub fn forget_before(&mut self, msn: u64) {
        let needed = self.phases.iter().rposition(|&(first, _)| first <= msn);
        if let Some(i) = needed {
            self.phases.drain(..i);
        }
    }

    /// Nominal start of segment `msn`.
    pub fn boundary(&self, msn: u64) -> u64 {
        let i = self
            .phases
            .iter()
            .rposition(|&(first, _)| first <= msn)
            .unwrap_or(0);
        let (first, origin) = self.phases[i];
        let n = msn.saturating_sub(first);
        origin.saturating_add(n.saturating_mul(self.segment_ns))
    }

    /// The segment whose nominal span holds time `t`.
    pub fn index_at(&self, t: u64) -> u64 {
        let i = self
            .phases
            .iter()
            .rposition(|&(_, origin)| origin <= t)
            .unwrap_or(0);
        let (first, origin) = self.phases[i];
        let msn = first + t.saturating_sub(origin) / self.segment_ns;
        match self.phases.get(i + 1) {
            // A phase ends where the next one begins.
            Some(&(next, _)) => msn.min(next.saturating_sub(1)).max(first),
            None => msn,
        }
    }
}

/// What a push produced, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// A finished part: one `moof` + `mdat`.
    Part(Part),
    /// Segment `msn` has all its parts.
    SegmentEnd { msn: u64 },
}

#[derive(Debug, Clone)]
pub struct Part {
    /// Media sequence number of the segment the part belongs to.
    pub msn: u64,
    /// Index of the part within its segment, from 0.
    pub index: u32,
    /// Running time of the first sample, ns.
    pub start_ns: u64,
    /// Duration in the track's timescale.
    pub duration: u64,
    pub timescale: u32,
    /// Starts with a sync sample.
    pub independent: bool,
    pub fragment: Bytes,
}

impl Part {
    pub fn duration_secs(&self) -> f64 {
        self.duration as f64 / f64::from(self.timescale.max(1))
    }
}

#[derive(Debug)]
struct Open {
    msn: u64,
    segment_start_ns: u64,
    part_index: u32,
    samples: Vec<Sample>,
}

/// The segmenter of one track.
#[derive(Debug)]
pub struct Segmenter {
    video: bool,
    timescale: u32,
    grid: Option<Grid>,
    pending: VecDeque<Sample>,
    open: Option<Open>,
    /// Decode time the next fragment must start at to be continuous.
    next_decode: Option<u64>,
    /// `mfhd` sequence number of the next fragment.
    sequence: u32,
}

impl Segmenter {
    pub fn new(codec: &Codec) -> Self {
        Segmenter {
            video: codec.is_video(),
            timescale: codec.timescale(),
            grid: None,
            pending: VecDeque::new(),
            open: None,
            next_decode: None,
            sequence: 1,
        }
    }

    pub fn grid(&self) -> Option<&Grid> {
        self.grid.as_ref()
    }

    /// The segment being written, if any.
    pub fn open_msn(&self) -> Option<u64> {
        self.open.as_ref().map(|o| o.msn)
    }

    /// Sets the shared clock and processes what was held until now.
    pub fn set_grid(&mut self, grid: Grid) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(s) = self.pending.pop_front() {
            self.push_with_grid(s, &grid, &mut out);
        }
        self.keep_grid(grid);
        out
    }

    fn keep_grid(&mut self, mut grid: Grid) {
        if let Some(open) = &self.open {
            grid.forget_before(open.msn);
        }
        self.grid = Some(grid);
    }

    /// Re-phases the clock of a running track (see [`Grid::cut`]): segment
    /// `msn` starts on the first frame at or after `at`.
    pub fn cut(&mut self, at: u64, msn: u64) {
        if let Some(grid) = &mut self.grid {
            grid.cut(at, msn);
        }
    }

    pub fn push(&mut self, sample: Sample) -> Vec<Output> {
        let mut out = Vec::new();
        match self.grid.take() {
            Some(grid) => {
                self.push_with_grid(sample, &grid, &mut out);
                self.keep_grid(grid);
            }
            None => {
                if self.pending.len() == MAX_PENDING {
                    self.pending.pop_front();
                }
                self.pending.push_back(sample);
            }
        }
        out
    }

    /// Ends the open part and segment (end of stream).
    pub fn finish(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(open) = self.open.take() {
            let msn = open.msn;
            self.open = Some(open);
            self.flush_part(&mut out);
            out.push(Output::SegmentEnd { msn });
            self.open = None;
        }
        out
    }

    fn to_ts(&self, ns: u64) -> u64 {
        ((u128::from(ns) * u128::from(self.timescale) + 500_000_000) / 1_000_000_000) as u64
    }

    fn push_with_grid(&mut self, s: Sample, grid: &Grid, out: &mut Vec<Output>) {
        let end = s.pts_ns.saturating_add(s.duration_ns);
        let half = s.duration_ns / 2;
        // Where the sample "sits" for cutting: video by its start (a keyframe
        // must open its segment), audio by its end (never overrun a boundary).
        let anchor = if self.video {
            s.pts_ns.saturating_add(half)
        } else {
            end.saturating_sub(TOLERANCE_NS)
        };
        if anchor < grid.start_ns() {
            return; // before the stream's first video frame
        }
        match &self.open {
            None => {
                if self.video && !s.keyframe {
                    return; // a video segment must start with a keyframe
                }
                self.start_segment(grid.index_at(anchor), &s, grid);
            }
            Some(open) => {
                let next_boundary = grid.boundary(open.msn + 1);
                let new_segment = if self.video {
                    s.keyframe && anchor >= next_boundary
                } else {
                    anchor >= next_boundary
                };
                if new_segment {
                    let msn = open.msn;
                    self.flush_part(out);
                    out.push(Output::SegmentEnd { msn });
                    let next = grid.index_at(anchor).max(msn + 1);
                    if next > msn + 1 {
                        tracing::warn!(
                            from = msn,
                            to = next,
                            video = self.video,
                            "a segment number is skipped: no keyframe for a whole segment"
                        );
                    }
                    self.start_segment(next, &s, grid);
                } else if !open.samples.is_empty() && end > self.part_limit(grid) + TOLERANCE_NS {
                    self.flush_part(out);
                    let open = self.open.as_mut().expect("segment is open");
                    let offset = anchor.saturating_sub(open.segment_start_ns);
                    let index = u32::try_from(offset / grid.part_ns.max(1)).unwrap_or(u32::MAX);
                    open.part_index = index.max(open.part_index + 1);
                }
            }
        }
        let dur = s.duration_ns;
        self.open.as_mut().expect("segment is open").samples.push(s);
        // Emit the part now if another sample of this length would not fit.
        if end + dur > self.part_limit(grid) + TOLERANCE_NS {
            self.flush_part(out);
            let open = self.open.as_mut().expect("segment is open");
            open.part_index += 1;
        }
    }

    fn start_segment(&mut self, msn: u64, s: &Sample, grid: &Grid) {
        let segment_start_ns = if self.video {
            s.pts_ns
        } else {
            grid.boundary(msn).min(s.pts_ns)
        };
        self.open = Some(Open {
            msn,
            segment_start_ns,
            part_index: 0,
            samples: Vec::new(),
        });
    }

    /// The time the open part must end by: its slot on the part grid, and
    /// never more than one part target after its first sample.
    fn part_limit(&self, grid: &Grid) -> u64 {
        let open = self.open.as_ref().expect("segment is open");
        let slot_end = open.segment_start_ns + u64::from(open.part_index + 1) * grid.part_ns;
        match open.samples.first() {
            Some(first) => slot_end.min(first.pts_ns + grid.part_ns),
            None => slot_end,
        }
    }

    fn flush_part(&mut self, out: &mut Vec<Output>) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        if open.samples.is_empty() {
            return;
        }
        let samples = std::mem::take(&mut open.samples);
        let (msn, index) = (open.msn, open.part_index);
        let first = &samples[0];
        let mut decode = self.to_ts(first.pts_ns);
        if let Some(expected) = self.next_decode {
            if decode.abs_diff(expected) <= 2 {
                decode = expected;
            }
        }
        let mut timed = Vec::with_capacity(samples.len());
        let mut t = decode;
        for (i, s) in samples.iter().enumerate() {
            let end = match samples.get(i + 1) {
                Some(n) => self.to_ts(n.pts_ns),
                None => self.to_ts(s.pts_ns + s.duration_ns),
            };
            let duration = end.saturating_sub(t).max(1);
            timed.push(TimedSample {
                duration: u32::try_from(duration).unwrap_or(u32::MAX),
                keyframe: s.keyframe || !self.video,
                data: &s.data,
            });
            t += duration;
        }
        let fragment = writer::fragment(self.sequence, decode, &timed);
        self.sequence = self.sequence.wrapping_add(1);
        self.next_decode = Some(t);
        out.push(Output::Part(Part {
            msn,
            index,
            start_ns: first.pts_ns,
            duration: t - decode,
            timescale: self.timescale,
            independent: first.keyframe || !self.video,
            fragment,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::reader;

    const FRAME: u64 = 40_000_000;
    const AAC: u64 = 21_333_333;

    fn grid(origin: u64) -> Grid {
        Grid::new(origin, 0, 2_000_000_000, 400_000_000)
    }

    fn video() -> Segmenter {
        Segmenter::new(&Codec::H264 {
            avcc: Bytes::from_static(&[1, 0x64, 0, 0x1f]),
            width: 640,
            height: 360,
        })
    }

    fn audio() -> Segmenter {
        Segmenter::new(&Codec::Aac {
            asc: Bytes::from_static(&[0x11, 0x90]),
            rate: 48_000,
            channels: 2,
        })
    }

    fn frame(i: u64, origin: u64, key: bool) -> Sample {
        Sample {
            pts_ns: origin + i * FRAME,
            duration_ns: FRAME,
            keyframe: key,
            data: Bytes::from(vec![i as u8; 5]),
        }
    }

    /// (msn, part index, frames, independent) for each part, plus segment ends.
    fn summary(outs: &[Output]) -> Vec<String> {
        outs.iter()
            .map(|o| match o {
                Output::Part(p) => {
                    let n = reader::fragments(&p.fragment).unwrap()[0].durations.len();
                    format!(
                        "{}.{}:{}{}",
                        p.msn,
                        p.index,
                        n,
                        if p.independent { "K" } else { "" }
                    )
                }
                Output::SegmentEnd { msn } => format!("end{msn}"),
            })
            .collect()
    }

    #[test]
    fn video_parts_are_ten_frames_and_segments_start_on_forced_keyframes() {
        let origin = 1_000_000_000;
        let mut s = video();
        let mut outs = s.set_grid(grid(origin));
        for i in 0..110 {
            outs.extend(s.push(frame(i, origin, i % 50 == 0)));
        }
        outs.extend(s.finish());
        assert_eq!(
            summary(&outs),
            [
                "0.0:10K", "0.1:10", "0.2:10", "0.3:10", "0.4:10", "end0", "1.0:10K", "1.1:10",
                "1.2:10", "1.3:10", "1.4:10", "end1", "2.0:10K", "end2"
            ]
        );
    }

    #[test]
    fn decode_times_are_continuous_and_parts_never_exceed_the_target() {
        let origin = 7;
        let mut s = video();
        let mut outs = s.set_grid(grid(origin));
        for i in 0..100 {
            outs.extend(s.push(frame(i, origin, i % 50 == 0)));
        }
        let mut expected = None;
        for o in &outs {
            if let Output::Part(p) = o {
                let f = &reader::fragments(&p.fragment).unwrap()[0];
                if let Some(e) = expected {
                    assert_eq!(f.decode_time, e);
                }
                expected = Some(f.decode_time + f.duration());
                assert!(p.duration_secs() <= 0.4 + 1e-9, "{}", p.duration_secs());
            }
        }
    }

    #[test]
    fn a_late_keyframe_delays_the_segment_but_keeps_parts_short() {
        let origin = 0;
        let mut s = video();
        let mut outs = s.set_grid(grid(origin));
        for i in 0..61 {
            outs.extend(s.push(frame(i, origin, i == 0 || i == 51)));
        }
        let text = summary(&outs);
        assert_eq!(
            &text[..7],
            ["0.0:10K", "0.1:10", "0.2:10", "0.3:10", "0.4:10", "0.5:1", "end0"]
        );
        assert_eq!(text[7], "1.0:10K");
    }

    #[test]
    fn a_regrid_cuts_a_new_segment_at_the_forced_keyframe() {
        let mut s = video();
        let mut outs = s.set_grid(grid(0));
        for i in 0..23 {
            outs.extend(s.push(frame(i, 0, i == 0)));
        }
        // An agenda item begins at frame 23: the clock restarts there as
        // segment 1, and the encoder makes frame 23 a keyframe.
        s.cut(23 * FRAME, 1);
        for i in 23..35 {
            outs.extend(s.push(frame(i, 0, i == 23)));
        }
        assert_eq!(
            summary(&outs),
            ["0.0:10K", "0.1:10", "0.2:3", "end0", "1.0:10K"]
        );
    }

    #[test]
    fn a_grid_keeps_earlier_phases_for_tracks_that_lag() {
        let s = 2_000_000_000;
        let mut g = Grid::new(0, 10, s, 400_000_000);
        assert_eq!((g.boundary(10), g.boundary(12)), (0, 2 * s));
        assert_eq!((g.index_at(0), g.index_at(2 * s + 1)), (10, 12));
        // Segment 13 starts at 4.5 s, segment 14 at 4.6 s.
        assert!(g.cut(4_500_000_000, 13));
        assert!(g.cut(4_600_000_000, 14));
        assert!(!g.cut(4_600_000_000, 15), "not after the latest cut");
        assert!(!g.cut(9_000_000_000, 14), "not after the latest number");
        assert_eq!(g.boundary(12), 2 * s);
        assert_eq!(g.boundary(13), 4_500_000_000);
        assert_eq!(g.boundary(14), 4_600_000_000);
        assert_eq!(g.boundary(15), 6_600_000_000);
        // Time in the old phase past its nominal end belongs to the last
        // segment before the cut, never to a number the cut took.
        assert_eq!(g.index_at(4_400_000_000), 12);
        assert_eq!(g.index_at(4_550_000_000), 13);
        assert_eq!(g.index_at(4_600_000_000), 14);
        g.forget_before(14);
        assert_eq!(
            (g.boundary(14), g.index_at(7_000_000_000)),
            (4_600_000_000, 15)
        );
        assert_eq!(g.start_ns(), 0);
    }

    #[test]
    fn a_rendition_that_lags_behind_two_quick_cuts_numbers_its_segments_like_the_others() {
        // Cuts at 4.106 s (segment 3) and 4.2 s (segment 4); the encoder
        // makes keyframes on the first frame at or after each boundary:
        // frames 100 (4.0 s, the regular boundary), 103 and 105.
        let key = |i: u64| i.is_multiple_of(50) || i == 103 || i == 105;
        let (mut a, mut b) = (video(), video());
        let (mut outs_a, mut outs_b) = (a.set_grid(grid(0)), b.set_grid(grid(0)));
        // A is ahead: it has begun segment 2 when the first cut comes; B
        // has not.
        for i in 0..103 {
            outs_a.extend(a.push(frame(i, 0, key(i))));
        }
        for i in 0..100 {
            outs_b.extend(b.push(frame(i, 0, key(i))));
        }
        a.cut(4_106_000_000, 3);
        b.cut(4_106_000_000, 3);
        outs_a.extend(a.push(frame(103, 0, true)));
        // A is through the first cut; the second comes before B gets there.
        a.cut(4_200_000_000, 4);
        b.cut(4_200_000_000, 4);
        for i in 104..130 {
            outs_a.extend(a.push(frame(i, 0, key(i))));
        }
        for i in 100..130 {
            outs_b.extend(b.push(frame(i, 0, key(i))));
        }
        let starts = |outs: &[Output]| -> Vec<(u64, u64)> {
            outs.iter()
                .filter_map(|o| match o {
                    Output::Part(p) if p.index == 0 => Some((p.msn, p.start_ns / FRAME)),
                    _ => None,
                })
                .collect()
        };
        let expected = vec![(0, 0), (1, 50), (2, 100), (3, 103), (4, 105)];
        assert_eq!(starts(&outs_a), expected);
        assert_eq!(starts(&outs_b), expected);
    }

    #[test]
    fn video_waits_for_a_keyframe() {
        let mut s = video();
        let mut outs = s.set_grid(grid(0));
        for i in 0..15 {
            outs.extend(s.push(frame(i, 0, i == 5)));
        }
        // frames 0-4 are dropped; segment 0 starts at frame 5 and its parts
        // are cut every 10 frames from there.
        assert_eq!(summary(&outs), ["0.0:10K"]);
    }

    #[test]
    fn audio_follows_the_grid_within_one_frame() {
        let origin = 500_000_000;
        let mut s = audio();
        let mut outs = Vec::new();
        // Audio starts before the grid is known; early frames are held.
        for i in 0..30 {
            outs.extend(s.push(Sample {
                pts_ns: 400_000_000 + i * AAC,
                duration_ns: AAC,
                keyframe: true,
                data: Bytes::from_static(&[1, 2]),
            }));
        }
        assert!(outs.is_empty());
        outs.extend(s.set_grid(grid(origin)));
        for i in 30..250 {
            outs.extend(s.push(Sample {
                pts_ns: 400_000_000 + i * AAC,
                duration_ns: AAC,
                keyframe: true,
                data: Bytes::from_static(&[1, 2]),
            }));
        }
        let mut segment_starts = Vec::new();
        for o in &outs {
            if let Output::Part(p) = o {
                assert!(p.duration_secs() <= 0.4 + 1e-9);
                if p.index == 0 {
                    segment_starts.push((p.msn, p.start_ns));
                }
            }
        }
        assert!(segment_starts.len() >= 2, "{segment_starts:?}");
        for (msn, start) in segment_starts {
            let nominal = grid(origin).boundary(msn);
            assert!(
                start.abs_diff(nominal) < AAC,
                "segment {msn} starts {start}, grid {nominal}"
            );
        }
    }
}
