//! A session's recording, assembled from the channel's archive by its
//! timeline: which segments are public (between start and stop, outside
//! recesses and non-public parts), where each agenda item lies, and the
//! chapters. Sans-io: marks and segment lists in, selections out.
//!
//! Marks cut segments (every mark forces a keyframe at its instant), so a
//! span boundary is always a segment boundary; a segment belongs to a span
//! when it starts inside it.

use std::fmt::Write;

use super::store::ArchivedSegment;
use crate::catalog::agenda::AgendaItem;
use crate::catalog::db::{Mark, MarkKind};

/// Slack when comparing a mark's instant with a segment's first sample.
const TOLERANCE_NS: u64 = 30_000_000;

/// A stretch of wall-clock time; `end_ns` is open while the session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start_ns: u64,
    pub end_ns: Option<u64>,
}

impl Span {
    fn holds(&self, t: u64) -> bool {
        t + TOLERANCE_NS >= self.start_ns && self.end_ns.is_none_or(|e| t + TOLERANCE_NS < e)
    }
}

fn ns(mark: &Mark) -> u64 {
    u64::try_from(mark.wall_ns).unwrap_or(0)
}

/// The public parts of a session: start→stop minus recesses and
/// non-public parts.
pub fn public_spans(marks: &[Mark]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut open: Option<u64> = None;
    let (mut live, mut paused, mut private) = (false, false, false);
    for m in marks {
        match m.kind {
            MarkKind::Start => live = true,
            MarkKind::Recess => paused = true,
            MarkKind::Resume => paused = false,
            MarkKind::PrivateStart => private = true,
            MarkKind::PrivateEnd => private = false,
            MarkKind::Stop => live = false,
            MarkKind::Item => {}
        }
        let public = live && !paused && !private;
        match (open, public) {
            (None, true) => open = Some(ns(m)),
            (Some(start), false) => {
                spans.push(Span {
                    start_ns: start,
                    end_ns: Some(ns(m)),
                });
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        spans.push(Span {
            start_ns: start,
            end_ns: None,
        });
    }
    spans
}

/// The stretch of wall-clock time a session's recording comes from: its
/// start (less the tolerance) to its stop (open while it runs); `None`
/// before it starts. Every segment [`select`] keeps starts inside it, so the
/// channel's runs and segments may be looked up by wall time within it (the
/// catalog's index does that).
pub fn recording_window(marks: &[Mark]) -> Option<Span> {
    let start = marks.iter().position(|m| m.kind == MarkKind::Start)?;
    let end = marks[start..]
        .iter()
        .find(|m| m.kind == MarkKind::Stop)
        .map(ns);
    Some(Span {
        start_ns: ns(&marks[start]).saturating_sub(TOLERANCE_NS),
        end_ns: end,
    })
}

/// Where agenda item `number` lies: from its (last) mark to the next item
/// mark or the stop.
pub fn item_span(marks: &[Mark], number: &str) -> Option<Span> {
    let i = marks
        .iter()
        .rposition(|m| m.kind == MarkKind::Item && m.agenda_number.as_deref() == Some(number))?;
    let end = marks[i + 1..]
        .iter()
        .find(|m| matches!(m.kind, MarkKind::Item | MarkKind::Stop))
        .map(ns);
    Some(Span {
        start_ns: ns(&marks[i]),
        end_ns: end,
    })
}

/// One taking-up of an agenda item: from its mark to the next item mark or
/// the stop (`end_ns` open while it lasts).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRange {
    /// Unique within the session: `item-7a`, then `item-7a-2` if the item
    /// was taken up again.
    pub id: String,
    pub number: String,
    pub title: String,
    pub span: Span,
}

/// Every agenda item begun, in timeline order (the chapters).
pub fn item_ranges(marks: &[Mark], agenda: &[AgendaItem]) -> Vec<ItemRange> {
    let mut out: Vec<ItemRange> = Vec::new();
    for (i, m) in marks.iter().enumerate() {
        let (MarkKind::Item, Some(number)) = (m.kind, m.agenda_number.as_deref()) else {
            continue;
        };
        let end_ns = marks[i + 1..]
            .iter()
            .find(|m| matches!(m.kind, MarkKind::Item | MarkKind::Stop))
            .map(ns);
        let again = out.iter().filter(|r| r.number == number).count();
        out.push(ItemRange {
            id: match again {
                0 => format!("item-{number}"),
                n => format!("item-{number}-{}", n + 1),
            },
            number: number.to_owned(),
            title: agenda
                .iter()
                .find(|a| a.number == number)
                .map(|a| a.title.clone())
                .unwrap_or_default(),
            span: Span {
                start_ns: ns(m),
                end_ns,
            },
        });
    }
    out
}

/// The first of `entries` that starts inside `range` (where its
/// EXT-X-DATERANGE goes), if any of its recording is public.
pub fn first_entry_of(range: &ItemRange, entries: &[Entry]) -> Option<usize> {
    entries
        .iter()
        .position(|e| range.span.holds(e.segment.wall_ns))
}

/// One segment of a session's recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub run: String,
    pub segment: ArchivedSegment,
    /// A break (recess, non-public part, new run) comes before it.
    pub discontinuity: bool,
}

/// The segments of `runs` (oldest first) that start inside `spans`, and
/// inside `within` when given (an agenda item).
pub fn select(
    spans: &[Span],
    within: Option<Span>,
    runs: &[(String, Vec<ArchivedSegment>)],
) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for (run, segments) in runs {
        for seg in segments {
            let t = seg.wall_ns;
            if !spans.iter().any(|s| s.holds(t)) || within.is_some_and(|w| !w.holds(t)) {
                continue;
            }
            let discontinuity = match out.last() {
                None => false,
                Some(prev) => prev.run != *run || prev.segment.msn + 1 != seg.msn,
            };
            out.push(Entry {
                run: run.clone(),
                segment: seg.clone(),
                discontinuity,
            });
        }
    }
    out
}

/// Where a corrected item start lands: the start of a recorded segment,
/// whose first frame is a keyframe (every segment opens with one), so the
/// item's recording stays whole segments and nothing is re-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snap {
    /// The segment's first sample (Unix ns): the item's new start.
    pub wall_ns: u64,
    /// The segment's media sequence number.
    pub msn: u64,
}

/// Why a corrected start cannot land anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapError {
    /// The time asked for lies outside the recording, which runs from
    /// `start_ns` to `end_ns` (no recording at all: both 0).
    Outside { start_ns: u64, end_ns: u64 },
    /// No recorded segment starts strictly between the marks before and
    /// after the item (the item would swallow or lose a neighbour).
    NoBoundary,
}

/// The segment boundary of `entries` (the session's recording, in order)
/// nearest `requested`, among those strictly after `after` and strictly
/// before `before` (the neighbouring marks' times, with [`TOLERANCE_NS`]
/// of slack, since a mark's own segment starts a few ms after it); on a
/// tie, the earlier. `requested` must lie within the recording.
pub fn snap_to_keyframe(
    requested: u64,
    after: u64,
    before: Option<u64>,
    entries: &[Entry],
) -> Result<Snap, SnapError> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(SnapError::Outside {
            start_ns: 0,
            end_ns: 0,
        });
    };
    let (start_ns, end_ns) = (first.segment.wall_ns, last.segment.end_ns());
    if requested + TOLERANCE_NS < start_ns || requested > end_ns {
        return Err(SnapError::Outside { start_ns, end_ns });
    }
    entries
        .iter()
        .map(|e| Snap {
            wall_ns: e.segment.wall_ns,
            msn: e.segment.msn,
        })
        .filter(|s| {
            s.wall_ns > after + TOLERANCE_NS && before.is_none_or(|b| s.wall_ns + TOLERANCE_NS < b)
        })
        .min_by_key(|s| (s.wall_ns.abs_diff(requested), s.wall_ns))
        .ok_or(SnapError::NoBoundary)
}

/// `HH:MM:SS.mmm`
fn vtt_time(secs: f64) -> String {
    let ms = (secs.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// WebVTT chapters: one cue per agenda item begun, in timeline order, timed
/// on the session's recording (whose clock skips recesses and non-public
/// parts).
pub fn chapters_vtt(marks: &[Mark], agenda: &[AgendaItem], entries: &[Entry]) -> String {
    // Recording time at which each entry starts.
    let mut offsets = Vec::with_capacity(entries.len());
    let mut t = 0.0;
    for e in entries {
        offsets.push((e.segment.wall_ns, t));
        t += e.segment.duration_secs();
    }
    let total = t;
    let position = |wall: u64| -> Option<f64> {
        offsets
            .iter()
            .find(|(w, _)| *w + TOLERANCE_NS >= wall)
            .map(|(_, at)| *at)
    };
    let mut cues: Vec<(f64, String)> = Vec::new();
    for m in marks.iter().filter(|m| m.kind == MarkKind::Item) {
        let Some(number) = m.agenda_number.as_deref() else {
            continue;
        };
        let Some(at) = position(ns(m)) else { continue };
        let title = agenda
            .iter()
            .find(|a| a.number == number)
            .map(|a| a.title.as_str())
            .unwrap_or("");
        cues.push((at, format!("{number}. {title}")));
    }
    let mut o = String::from("WEBVTT\n");
    for (i, (start, text)) in cues.iter().enumerate() {
        let end = cues.get(i + 1).map(|c| c.0).unwrap_or(total);
        if end <= *start {
            continue;
        }
        // A cue's text may not contain "-->" nor blank lines.
        let text = text.replace("-->", "→").replace('\n', " ");
        let _ = write!(
            o,
            "\npunkt-{}\n{} --> {}\n{}\n",
            text.split('.').next().unwrap_or(""),
            vtt_time(*start),
            vtt_time(end),
            text
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::store::IndexedPart;

    const S: u64 = 1_000_000_000;

    fn mark(kind: MarkKind, at: u64, number: Option<&str>) -> Mark {
        Mark {
            seq: 0,
            kind,
            agenda_number: number.map(str::to_owned),
            reason: None,
            legal_basis: None,
            wall_ns: i64::try_from(at).unwrap(),
            recorded_wall_ns: None,
            media_ns: None,
            actor: "op".into(),
        }
    }

    /// Two-second segments from `from` s, numbered from `msn`.
    fn segments(msn: u64, from: u64, count: u64) -> Vec<ArchivedSegment> {
        (0..count)
            .map(|i| {
                ArchivedSegment::from_part(&IndexedPart {
                    msn: msn + i,
                    part: 0,
                    bytes: 1,
                    duration: 2 * 90_000,
                    timescale: 90_000,
                    wall_ns: (from + 2 * i) * S,
                    independent: true,
                })
            })
            .collect()
    }

    fn timeline() -> Vec<Mark> {
        vec![
            mark(MarkKind::Start, 10 * S, None),
            mark(MarkKind::Item, 10 * S, Some("1")),
            mark(MarkKind::Item, 14 * S, Some("2")),
            mark(MarkKind::Recess, 18 * S, None),
            mark(MarkKind::Resume, 22 * S, None),
            mark(MarkKind::Item, 22 * S, Some("7a")),
            mark(MarkKind::PrivateStart, 26 * S, None),
            mark(MarkKind::PrivateEnd, 30 * S, None),
            mark(MarkKind::Stop, 34 * S, None),
        ]
    }

    #[test]
    fn public_spans_skip_recesses_and_private_parts() {
        let spans = public_spans(&timeline());
        let secs: Vec<(u64, Option<u64>)> = spans
            .iter()
            .map(|s| (s.start_ns / S, s.end_ns.map(|e| e / S)))
            .collect();
        assert_eq!(secs, [(10, Some(18)), (22, Some(26)), (30, Some(34))]);
    }

    #[test]
    fn the_recording_window_holds_every_selected_segment() {
        let w = recording_window(&timeline()).unwrap();
        assert_eq!(
            (w.start_ns, w.end_ns),
            (10 * S - TOLERANCE_NS, Some(34 * S))
        );
        let runs = vec![("r1".to_owned(), segments(100, 0, 20))];
        for e in select(&public_spans(&timeline()), None, &runs) {
            let t = e.segment.wall_ns;
            assert!(
                t >= w.start_ns && w.end_ns.is_none_or(|end| t <= end),
                "{t}"
            );
        }
        assert_eq!(recording_window(&[]), None, "not started");
        let open = recording_window(&timeline()[..3]).unwrap();
        assert_eq!(open.end_ns, None, "open while the session runs");
    }

    #[test]
    fn the_session_recording_has_a_discontinuity_at_every_break() {
        let runs = vec![("r1".to_owned(), segments(100, 0, 20))];
        let entries = select(&public_spans(&timeline()), None, &runs);
        let listed: Vec<(u64, bool)> = entries
            .iter()
            .map(|e| (e.segment.msn, e.discontinuity))
            .collect();
        assert_eq!(
            listed,
            [
                (105, false),
                (106, false),
                (107, false),
                (108, false),
                (111, true),
                (112, false),
                (115, true),
                (116, false)
            ]
        );
        let item = select(
            &public_spans(&timeline()),
            item_span(&timeline(), "7a"),
            &runs,
        );
        let msns: Vec<u64> = item.iter().map(|e| e.segment.msn).collect();
        assert_eq!(
            msns,
            [111, 112, 115, 116],
            "item 7a without its private part"
        );
    }

    #[test]
    fn chapters_are_timed_on_the_recording() {
        let agenda = vec![
            AgendaItem {
                number: "1".into(),
                title: "Otwarcie sesji".into(),
                resolution_draft: None,
            },
            AgendaItem {
                number: "2".into(),
                title: "Przyjęcie porządku obrad".into(),
                resolution_draft: None,
            },
            AgendaItem {
                number: "7a".into(),
                title: "Zwolnienia --> podatkowe".into(),
                resolution_draft: None,
            },
        ];
        let runs = vec![("r1".to_owned(), segments(100, 0, 20))];
        let entries = select(&public_spans(&timeline()), None, &runs);
        let vtt = chapters_vtt(&timeline(), &agenda, &entries);
        assert_eq!(
            vtt,
            "WEBVTT\n\
             \npunkt-1\n00:00:00.000 --> 00:00:04.000\n1. Otwarcie sesji\n\
             \npunkt-2\n00:00:04.000 --> 00:00:08.000\n2. Przyjęcie porządku obrad\n\
             \npunkt-7a\n00:00:08.000 --> 00:00:16.000\n7a. Zwolnienia → podatkowe\n"
        );
    }

    #[test]
    fn a_corrected_start_snaps_to_the_nearest_segment_boundary() {
        // Segments start at 10, 12, ..., 32 s (msn 105..116) in public.
        let runs = vec![("r1".to_owned(), segments(100, 0, 20))];
        let entries = select(&public_spans(&timeline()), None, &runs);
        // Item 2 (14 s) between item 1 (10 s) and the recess (18 s).
        let snap =
            |want: f64| snap_to_keyframe((want * S as f64) as u64, 10 * S, Some(18 * S), &entries);
        assert_eq!(
            snap(12.4),
            Ok(Snap {
                wall_ns: 12 * S,
                msn: 106
            })
        );
        assert_eq!(
            snap(15.2),
            Ok(Snap {
                wall_ns: 16 * S,
                msn: 108
            })
        );
        // A tie goes to the earlier boundary.
        assert_eq!(
            snap(13.0),
            Ok(Snap {
                wall_ns: 12 * S,
                msn: 106
            })
        );
        // Never onto a neighbouring mark: 10 s is item 1's, 18 s the recess's.
        assert_eq!(
            snap(10.2),
            Ok(Snap {
                wall_ns: 12 * S,
                msn: 106
            })
        );
        assert_eq!(
            snap(17.9),
            Ok(Snap {
                wall_ns: 16 * S,
                msn: 108
            })
        );
        // Outside the recording (10 s to 34 s).
        assert_eq!(
            snap(5.0),
            Err(SnapError::Outside {
                start_ns: 10 * S,
                end_ns: 34 * S
            })
        );
        assert_eq!(
            snap_to_keyframe(12 * S, 10 * S, Some(12 * S), &entries),
            Err(SnapError::NoBoundary)
        );
        assert_eq!(
            snap_to_keyframe(12 * S, 10 * S, None, &[]),
            Err(SnapError::Outside {
                start_ns: 0,
                end_ns: 0
            })
        );
    }
}
