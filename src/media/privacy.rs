//! The switch between the program (camera, microphone) and its replacement
//! (slate, silence) while a session is not public (*wyłączenie jawności*).
//!
//! Each of the two `input-selector`s of the graph (video, audio) is driven by
//! a [`Lane`]: the decision is made per buffer, by timestamp, in the
//! streaming threads, so it is exact however late the application asks:
//!
//! - the switch has an instant `at` (running time), put on a camera frame's
//!   timestamp. While private, a program buffer holding anything at or after
//!   `at` (audio: `at - AUDIO_GUARD_NS`) is dropped before it reaches its
//!   selector; after the end, a program buffer holding anything before `at`
//!   is dropped. The replacement passes exactly the complementary buffers.
//!   This gate does not depend on the selector: even if the selector were on
//!   the wrong pad, no private buffer gets through.
//! - the replacement's buffers are laid on the program's timestamp grid
//!   (nearest slot): two live sources started a few ms apart have different
//!   phases, and without this a switch makes timestamps step by a fraction of
//!   a frame (or go backwards), which breaks the encoders' and the
//!   segmenter's continuity.
//! - the selector's `active-pad` is flipped by the first buffer that the
//!   newly wanted side lets through, just before it enters the selector; so
//!   slot `k - 1` comes from one side and slot `k` from the other, with no gap.
//! - on the selectors' output, a buffer not after the previous one is dropped
//!   (a safety net for the encoders) and DISCONT is cleared (the stream is
//!   continuous by construction).

use std::sync::{Mutex, MutexGuard};

use gst::prelude::*;
use gstreamer as gst;

/// How far ahead of "now" the beginning of a private part is scheduled.
///
/// A live audio source may hand out a buffer as soon as its *first* sample
/// is due (`audiotestsrc` does: its 1024-sample buffers reach the selector
/// 0.3 ms after their start), so when the request comes, samples up to one
/// buffer (21.3 ms) into the future have already gone by. The replacement
/// must therefore start after that, and [`AUDIO_GUARD_NS`] before the cut.
pub const BEGIN_LEAD_NS: u64 = 80_000_000;

/// How long before the cut of a private part the silence starts, so that the
/// first private segment holds nothing of the microphone: its first AAC frame
/// starts up to one AAC frame before the cut and overlaps the one before it
/// (MDCT), so 2 × 21.3 ms plus margin. Video needs no guard: the cut is put
/// on a camera frame's timestamp, so the first private frame is the slate
/// and the last public one the camera.
pub const AUDIO_GUARD_NS: u64 = 50_000_000;

/// Video frames are instants; audio buffers are spans of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Video,
    Audio,
}

/// The switch state of one lane, read by every buffer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct State {
    private: bool,
    /// Running time of the latest switch (0: never switched).
    at: u64,
    /// The latest program buffer (running time, duration): the grid the
    /// replacement is laid on.
    program: Option<(u64, u64)>,
    /// Whether the selector was last set to the replacement pad.
    replacement_active: bool,
    /// End of stream is under way: the program pad stays active so that its
    /// EOS goes through the selector (the slate's imagefreeze never ends).
    stopping: bool,
}

impl State {
    /// Whether a buffer holding `[start, end)` must come from the replacement.
    /// Video frames are instants (`end == start`).
    fn replaced(&self, start: u64, end: u64, guard: u64) -> bool {
        if self.private {
            let from = self.at.saturating_sub(guard);
            start >= from || end > from
        } else {
            start < self.at
        }
    }

    /// The first slot of the program's grid at or after `t`.
    fn next_slot(&self, t: u64) -> u64 {
        match self.program {
            Some((reference, period)) if period > 0 => {
                let s = snap(t, reference, period);
                if s < t {
                    s + period
                } else {
                    s
                }
            }
            _ => t,
        }
    }
}

/// The slot of the program's grid nearest to `t`: `reference + k × period`.
fn snap(t: u64, reference: u64, period: u64) -> u64 {
    if period == 0 {
        return t;
    }
    let diff = i128::from(t) - i128::from(reference);
    let p = i128::from(period);
    let k = if diff >= 0 {
        (diff + p / 2) / p
    } else {
        (diff - p / 2) / p
    };
    u64::try_from(i128::from(reference) + k * p).unwrap_or(0)
}

/// One selector and its switch state.
#[derive(Debug)]
pub struct Lane {
    kind: Kind,
    selector: gst::Element,
    program: gst::Pad,
    replacement: gst::Pad,
    state: Mutex<State>,
    /// Running time of the last buffer out of the selector.
    last_out: Mutex<Option<u64>>,
}

/// How a probe drops a buffer. `Handled` rather than `Drop`: with `Drop`,
/// gstreamer-rs has already taken (and unrefs) the buffer, and GStreamer 1.22
/// then unrefs the NULL it left behind (a CRITICAL per dropped buffer).
const DROP: gst::PadProbeReturn = gst::PadProbeReturn::Handled;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer's running time and duration, by the segment of the pad it is on.
fn running(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<(u64, u64)> {
    let pts = buffer.pts()?;
    let rt = pad
        .sticky_event::<gst::event::Segment>(0)
        .and_then(|e| {
            e.segment()
                .downcast_ref::<gst::ClockTime>()
                .and_then(|s| s.to_running_time(pts))
        })
        .unwrap_or(pts);
    Some((rt.nseconds(), buffer.duration().map_or(0, |d| d.nseconds())))
}

impl Lane {
    /// Takes over `selector` (pads [`super::graph::PROGRAM_PAD`] and
    /// [`super::graph::REPLACEMENT_PAD`]) and makes the program active, or
    /// the replacement when the run starts `private`.
    pub fn attach(
        kind: Kind,
        selector: gst::Element,
        private: bool,
    ) -> Result<std::sync::Arc<Lane>, String> {
        let pad = |name: &str| {
            selector
                .static_pad(name)
                .ok_or_else(|| format!("{} has no pad {name}", selector.name()))
        };
        let program = pad(super::graph::PROGRAM_PAD)?;
        let replacement = pad(super::graph::REPLACEMENT_PAD)?;
        let src = pad("src")?;
        let initial = if private { &replacement } else { &program };
        selector.set_property("active-pad", initial);
        let lane = std::sync::Arc::new(Lane {
            kind,
            selector,
            program: program.clone(),
            replacement: replacement.clone(),
            // Private from the very first buffer: `at` = 0 and no guard.
            state: Mutex::new(State {
                private,
                replacement_active: private,
                ..State::default()
            }),
            last_out: Mutex::new(None),
        });
        let weak = std::sync::Arc::downgrade(&lane);
        // Buffer lists too: the selector's default list handling would take
        // them past a buffer-only probe.
        let data = gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST;
        program.add_probe(data, move |pad, info| match weak.upgrade() {
            Some(lane) => lane.on_program(pad, info),
            None => gst::PadProbeReturn::Ok,
        });
        let weak = std::sync::Arc::downgrade(&lane);
        replacement.add_probe(data, move |pad, info| match weak.upgrade() {
            Some(lane) => lane.on_replacement(pad, info),
            None => DROP,
        });
        let weak = std::sync::Arc::downgrade(&lane);
        src.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            match weak.upgrade() {
                Some(lane) => lane.on_output(pad, info),
                None => gst::PadProbeReturn::Ok,
            }
        });
        Ok(lane)
    }

    /// Schedules a switch at running time `at`; returns whether the state
    /// changed. Setting the state it already has changes nothing (the instant
    /// of the first request stays).
    pub fn schedule(&self, private: bool, at: u64) -> bool {
        let mut s = lock(&self.state);
        if s.private == private {
            return false;
        }
        s.private = private;
        s.at = at;
        true
    }

    /// End of stream: keep the program pad active from now on (its buffers
    /// are still gated while private).
    pub fn stop(&self) {
        let mut s = lock(&self.state);
        s.stopping = true;
        if s.replacement_active {
            self.selector.set_property("active-pad", &self.program);
            s.replacement_active = false;
        }
    }

    /// What a buffer holds, and how far before a private part's instant the
    /// replacement starts for this kind.
    fn span(&self, start: u64, duration: u64) -> (u64, u64, u64) {
        match self.kind {
            Kind::Video => (start, start, 0),
            Kind::Audio => (start, start + duration, AUDIO_GUARD_NS),
        }
    }

    /// The first timestamp of the program at or after `t` (a frame, for
    /// video): a cut there opens its segment with that buffer.
    pub fn next_slot(&self, t: u64) -> u64 {
        lock(&self.state).next_slot(t)
    }

    fn on_program(&self, pad: &gst::Pad, info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
        let times: Vec<Option<(u64, u64)>> = match (info.buffer(), info.buffer_list()) {
            (Some(b), _) => vec![running(pad, b)],
            (None, Some(list)) => list.iter().map(|b| running(pad, b)).collect(),
            (None, None) => return gst::PadProbeReturn::Ok,
        };
        let mut s = lock(&self.state);
        for t in &times {
            // Without a timestamp nothing can be decided: only while public.
            let Some((rt, duration)) = *t else {
                if s.private {
                    return DROP;
                }
                continue;
            };
            s.program = Some((rt, duration));
            let (start, end, guard) = self.span(rt, duration);
            if s.replaced(start, end, guard) {
                return DROP;
            }
        }
        if s.replacement_active {
            // Held under the lane's lock so that flips are never reordered;
            // the selector never calls back into this lane while switching.
            self.selector.set_property("active-pad", &self.program);
            s.replacement_active = false;
        }
        gst::PadProbeReturn::Ok
    }

    fn on_replacement(&self, pad: &gst::Pad, info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
        // (The slate and silence sources push single, timestamped buffers.)
        let Some((rt, _)) = info.buffer().and_then(|b| running(pad, b)) else {
            return DROP;
        };
        let mut s = lock(&self.state);
        if s.stopping {
            return DROP;
        }
        // Before the first program buffer there is no grid: the program is
        // the first thing out unless the run starts private.
        let (slot, period) = match s.program {
            Some((reference, period)) => (snap(rt, reference, period), period),
            None if s.private => (rt, 0),
            None => return DROP,
        };
        let (start, end, guard) = self.span(slot, period);
        if !s.replaced(start, end, guard) {
            return DROP;
        }
        if slot != rt || period != 0 {
            let segment = pad.sticky_event::<gst::event::Segment>(0);
            let pts = segment
                .as_ref()
                .and_then(|e| e.segment().downcast_ref::<gst::ClockTime>().cloned())
                .and_then(|seg| seg.position_from_running_time(gst::ClockTime::from_nseconds(slot)))
                .unwrap_or(gst::ClockTime::from_nseconds(slot));
            if let Some(buffer) = info.buffer_mut() {
                let b = buffer.make_mut();
                b.set_pts(pts);
                if period != 0 {
                    b.set_duration(gst::ClockTime::from_nseconds(period));
                }
            }
        }
        if !s.replacement_active {
            self.selector.set_property("active-pad", &self.replacement);
            s.replacement_active = true;
        }
        gst::PadProbeReturn::Ok
    }

    fn on_output(&self, pad: &gst::Pad, info: &mut gst::PadProbeInfo) -> gst::PadProbeReturn {
        let Some((rt, _)) = info.buffer().and_then(|b| running(pad, b)) else {
            return gst::PadProbeReturn::Ok;
        };
        {
            let mut last = lock(&self.last_out);
            if last.is_some_and(|l| rt <= l) {
                return DROP;
            }
            *last = Some(rt);
        }
        if let Some(buffer) = info.buffer_mut() {
            if buffer.flags().contains(gst::BufferFlags::DISCONT) {
                buffer.make_mut().unset_flags(gst::BufferFlags::DISCONT);
            }
        }
        gst::PadProbeReturn::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: u64 = 40_000_000;

    #[test]
    fn the_replacement_lands_on_the_program_grid() {
        // Program frames at 25.6 ms + k × 40 ms, slate at 10.2 ms + k × 40 ms.
        let reference = 25_600_000 + 100 * FRAME;
        assert_eq!(
            snap(10_200_000 + 101 * FRAME, reference, FRAME),
            25_600_000 + 101 * FRAME
        );
        assert_eq!(
            snap(10_200_000 + 90 * FRAME, reference, FRAME),
            25_600_000 + 90 * FRAME
        );
        // More than half a period late: the next slot.
        assert_eq!(
            snap(reference + 21_000_000, reference, FRAME),
            reference + FRAME
        );
        assert_eq!(
            snap(reference - 21_000_000, reference, FRAME),
            reference - FRAME
        );
        assert_eq!(snap(5, 7, 0), 5);
    }

    #[test]
    fn program_and_replacement_split_the_timeline_without_overlap() {
        let at = 10 * FRAME;
        let g = AUDIO_GUARD_NS;
        let mut s = State::default();
        assert!(!s.replaced(0, 0, 0));
        s.private = true;
        s.at = at;
        // Video (instants, no guard): the slate from the cut's frame on.
        assert!(!s.replaced(at - 1, at - 1, 0));
        assert!(s.replaced(at, at, 0));
        // Audio (spans): silence from the guard on, and a buffer reaching
        // into the guard is silence too.
        let from = at - g;
        assert!(!s.replaced(from - 100, from, g));
        assert!(s.replaced(from - 100, from + 1, g));
        assert!(s.replaced(from + 5, from + 10, g));
        // After the end at `at2`, the program comes back from `at2` on; a
        // buffer holding anything before it stays replaced.
        let at2 = 100 * FRAME;
        s.private = false;
        s.at = at2;
        assert!(s.replaced(at2 - 1, at2 - 1, 0));
        assert!(!s.replaced(at2, at2, 0));
        assert!(s.replaced(at2 - 100, at2 + 500, g));
        assert!(!s.replaced(at2, at2 + 500, g));
    }

    #[test]
    fn a_cut_lands_on_the_next_program_frame() {
        let mut s = State {
            program: Some((5 + 100 * FRAME, FRAME)),
            ..State::default()
        };
        assert_eq!(s.next_slot(5 + 102 * FRAME), 5 + 102 * FRAME);
        assert_eq!(s.next_slot(6 + 102 * FRAME), 5 + 103 * FRAME);
        assert_eq!(s.next_slot(4 + 102 * FRAME), 5 + 102 * FRAME);
        s.program = None;
        assert_eq!(s.next_slot(77), 77);
    }
}
