//! Reconciliation: at start, after [`ArchiveStore::recover`] and before any
//! recorder runs, make the catalog's index of the archive
//! (`recordings`, `recording_renditions`, `recording_segments`) agree with
//! the files, which are the source of truth for media.
//!
//! After a crash (kill -9, power loss) the catalog may lack rows for media
//! that is on disk (the recorder writes a row only after the files, and a
//! few rows may still have been queued), and a run may have been left open.
//! After a disk problem or a hand-edited archive, rows may name files that
//! are gone. The rules, per run directory on disk:
//!
//! - A rendition is on disk when its `rendition.json` parses and its
//!   `init.mp4` exists; a segment is on disk when `index.tsv` lists it
//!   (whole lines only, as recovery left it) and its file holds at least the
//!   bytes the index lists.
//! - A run without a `recordings` row is adopted: the row is inserted, with
//!   `started_at` the wall time of its first segment.
//! - Renditions and segments on disk without rows are adopted; rows that
//!   differ from the index on disk are corrected to it.
//! - Rows of segments that are not on disk (file missing or shorter than
//!   listed) are removed, and so are rows of renditions not on disk. This
//!   is the only place rows of the archive's index are ever deleted.
//! - A run whose `ended_at` is NULL is closed at the end of its last
//!   segment: no recorder runs yet, so every open run is a dead one.
//! - A run in the catalog whose directory is gone is removed, but only when
//!   its channel's directory exists: an archive that is missing as a whole
//!   (an unmounted disk) must not empty the catalog.
//!
//! Deciding ([`plan`]) is sans-io: a run as read from disk and as indexed
//! in, the index changes out. [`reconcile`] reads, plans, applies each run's
//! changes in one transaction (with an audit row) and logs what it did.
//! A run that cannot be read or written is logged and left for the next
//! start; the broadcast never waits on it.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use tracing::{error, warn};

use super::store::{ArchiveStore, ArchivedSegment, RenditionMeta};
use crate::catalog::db::{Catalog, CatalogError};
use crate::catalog::recordings::{IndexOp, IndexedRun, SegmentRow};

/// A run as it is on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskRun {
    pub channel: String,
    pub run: String,
    /// Renditions whose description parses, in ladder order.
    pub renditions: Vec<DiskRendition>,
}

/// A rendition as it is on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskRendition {
    pub meta: RenditionMeta,
    /// `init.mp4` exists.
    pub has_init: bool,
    /// As the index lists them, in order.
    pub segments: Vec<DiskSegment>,
}

/// A segment as the index lists it, and its file.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskSegment {
    pub segment: ArchivedSegment,
    /// Relative to the archive root.
    pub path: String,
    /// The file's length; `None` when there is no file.
    pub file_len: Option<u64>,
}

impl DiskRendition {
    /// The segments on disk whole.
    fn whole(&self) -> impl Iterator<Item = &DiskSegment> {
        self.segments.iter().filter(|s| s.whole())
    }
}

impl DiskSegment {
    /// Listed, and the file holds every byte the index lists.
    fn whole(&self) -> bool {
        self.file_len.is_some_and(|len| len >= self.segment.bytes)
    }
}

/// What reconciliation found and did, for the log.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReconcileReport {
    /// Run directories examined.
    pub runs: usize,
    /// Whole segments on disk (all renditions).
    pub segments: usize,
    /// Runs given a `recordings` row ("channel/run").
    pub adopted_runs: Vec<String>,
    pub adopted_renditions: usize,
    pub adopted_segments: usize,
    /// Rendition or segment rows rewritten to what the disk says.
    pub corrected_rows: usize,
    /// Segment rows removed: their files (relative paths) are gone or short.
    pub removed_segments: Vec<String>,
    /// Rendition rows removed ("channel/run/rendition").
    pub removed_renditions: Vec<String>,
    /// Runs removed from the catalog: their directories are gone.
    pub removed_runs: Vec<String>,
    /// Runs left open by a crash, now closed.
    pub closed_runs: Vec<String>,
    /// Segments the index lists but whose files are short or missing: not
    /// adopted (relative paths).
    pub broken_segments: Vec<String>,
    /// Run directories with nothing playable (no rendition with an init
    /// segment), left alone.
    pub empty_runs: Vec<String>,
    /// Runs that could not be reconciled (read or write failed); the next
    /// start tries again.
    pub failed_runs: Vec<String>,
}

impl ReconcileReport {
    /// Whether anything in the catalog changed.
    pub fn changed(&self) -> bool {
        !(self.adopted_runs.is_empty()
            && self.adopted_renditions == 0
            && self.adopted_segments == 0
            && self.corrected_rows == 0
            && self.removed_segments.is_empty()
            && self.removed_renditions.is_empty()
            && self.removed_runs.is_empty()
            && self.closed_runs.is_empty())
    }
}

/// Why reconciliation could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot list the archive: {0}")]
    Disk(#[from] io::Error),
    #[error("cannot read the catalog's index of the archive: {0}")]
    Catalog(#[from] CatalogError),
}

/// A run id is the run's start in hex milliseconds; its start in ns.
fn run_start_ns(run: &str) -> Option<u64> {
    u64::from_str_radix(run, 16).ok()?.checked_mul(1_000_000)
}

/// The index changes that make `indexed` (the catalog's rows of the run,
/// `None` when it has none) agree with `disk`. Adds what it decides to
/// `report`.
pub fn plan(
    disk: &DiskRun,
    indexed: Option<&IndexedRun>,
    report: &mut ReconcileReport,
) -> Vec<IndexOp> {
    let name = format!("{}/{}", disk.channel, disk.run);
    let usable: Vec<&DiskRendition> = disk.renditions.iter().filter(|r| r.has_init).collect();
    for r in &usable {
        for s in &r.segments {
            if s.whole() {
                report.segments += 1;
            } else {
                report.broken_segments.push(s.path.clone());
            }
        }
    }
    let mut ops = Vec::new();
    let (started_at, ended_at) = match indexed {
        Some(run) => (run.started_at, run.ended_at),
        None => {
            if usable.is_empty() {
                report.empty_runs.push(name);
                return ops;
            }
            let first_wall = usable
                .iter()
                .filter_map(|r| r.whole().next().map(|s| s.segment.wall_ns))
                .min();
            let started_at = first_wall.or_else(|| run_start_ns(&disk.run)).unwrap_or(0);
            ops.push(IndexOp::Begin {
                channel: disk.channel.clone(),
                run: disk.run.clone(),
                started_at,
            });
            report.adopted_runs.push(name.clone());
            (started_at, None)
        }
    };
    let no_rows: Vec<SegmentRow> = Vec::new();
    let indexed_renditions = indexed.map_or(&[][..], |run| &run.renditions[..]);
    let indexed_segments = indexed.map_or(&no_rows[..], |run| &run.segments[..]);

    // Renditions no longer on disk go, with their segment rows.
    for meta in indexed_renditions {
        if !usable.iter().any(|r| r.meta.name == meta.name) {
            ops.push(IndexOp::ForgetRendition {
                run: disk.run.clone(),
                rendition: meta.name.clone(),
            });
            report
                .removed_renditions
                .push(format!("{name}/{}", meta.name));
            report.removed_segments.extend(
                indexed_segments
                    .iter()
                    .filter(|row| row.rendition == meta.name)
                    .map(|row| row.path.clone()),
            );
        }
    }
    let mut end = None::<u64>;
    for r in &usable {
        match indexed_renditions.iter().find(|m| m.name == r.meta.name) {
            None => {
                ops.push(IndexOp::Rendition {
                    run: disk.run.clone(),
                    meta: r.meta.clone(),
                });
                report.adopted_renditions += 1;
            }
            Some(meta) if *meta != r.meta => {
                ops.push(IndexOp::Rendition {
                    run: disk.run.clone(),
                    meta: r.meta.clone(),
                });
                report.corrected_rows += 1;
            }
            Some(_) => {}
        }
        let rows: BTreeMap<u64, &SegmentRow> = indexed_segments
            .iter()
            .filter(|row| row.rendition == r.meta.name)
            .map(|row| (row.segment.msn, row))
            .collect();
        let on_disk: BTreeMap<u64, &DiskSegment> = r.whole().map(|s| (s.segment.msn, s)).collect();
        for (msn, row) in &rows {
            if !on_disk.contains_key(msn) {
                ops.push(IndexOp::ForgetSegment {
                    run: disk.run.clone(),
                    rendition: r.meta.name.clone(),
                    msn: *msn,
                });
                report.removed_segments.push(row.path.clone());
            }
        }
        for (msn, s) in &on_disk {
            end = end.max(Some(s.segment.end_ns()));
            let want = IndexOp::Segment {
                run: disk.run.clone(),
                rendition: r.meta.name.clone(),
                path: s.path.clone(),
                segment: s.segment.clone(),
            };
            match rows.get(msn) {
                None => {
                    ops.push(want);
                    report.adopted_segments += 1;
                }
                Some(row) if row.segment != s.segment || row.path != s.path => {
                    ops.push(want);
                    report.corrected_rows += 1;
                }
                Some(_) => {}
            }
        }
    }
    if ended_at.is_none() {
        ops.push(IndexOp::End {
            run: disk.run.clone(),
            ended_at: end.unwrap_or(started_at).max(started_at),
        });
        report.closed_runs.push(name);
    }
    ops
}

/// Reads a run as it is on disk.
pub fn read_run(store: &ArchiveStore, channel: &str, run: &str) -> io::Result<DiskRun> {
    let mut renditions = Vec::new();
    for meta in store.renditions(channel, run)? {
        let has_init = store.has_init(channel, run, &meta.name)?;
        let mut segments = Vec::new();
        for segment in store.segments(channel, run, &meta.name)? {
            segments.push(DiskSegment {
                path: store.segment_path(channel, run, &meta.name, segment.msn)?,
                file_len: store.segment_len(channel, run, &meta.name, segment.msn)?,
                segment,
            });
        }
        renditions.push(DiskRendition {
            meta,
            has_init,
            segments,
        });
    }
    Ok(DiskRun {
        channel: channel.to_owned(),
        run: run.to_owned(),
        renditions,
    })
}

/// Makes the catalog's index agree with the archive on disk (the rules are
/// in the module documentation); logs every adoption and removal. Blocking:
/// call it from a blocking thread, before any recorder starts.
pub fn reconcile(
    store: &ArchiveStore,
    catalog: &mut Catalog,
) -> Result<ReconcileReport, ReconcileError> {
    let mut report = ReconcileReport::default();
    let channels = store.channels()?;
    let mut on_disk = BTreeSet::new();
    for channel in &channels {
        for run in store.runs(channel)? {
            report.runs += 1;
            if let Err(e) = reconcile_run(store, catalog, channel, &run, &mut report) {
                error!(%channel, %run, error = %e, "cannot reconcile the run; the next start tries again");
                report.failed_runs.push(format!("{channel}/{run}"));
            }
            on_disk.insert((channel.clone(), run));
        }
    }
    // Runs in the catalog whose directory is gone.
    for (channel, run) in catalog.indexed_runs()? {
        if on_disk.contains(&(channel.clone(), run.clone())) {
            continue;
        }
        if !channels.contains(&channel) {
            warn!(%channel, %run, "the run is in the catalog but its channel has no directory in the archive; left alone (is the archive's disk mounted?)");
            continue;
        }
        let name = format!("{channel}/{run}");
        match catalog.apply_index_ops(&[IndexOp::ForgetRun { run: run.clone() }], None) {
            Ok(()) => {
                warn!(%channel, %run, "removed a run from the catalog: its directory is gone from the archive");
                report.removed_runs.push(name);
            }
            Err(e) => {
                error!(%channel, %run, error = %e, "cannot remove the run from the catalog");
                report.failed_runs.push(name);
            }
        }
    }
    Ok(report)
}

fn reconcile_run(
    store: &ArchiveStore,
    catalog: &mut Catalog,
    channel: &str,
    run: &str,
    report: &mut ReconcileReport,
) -> Result<(), ReconcileError> {
    let disk = read_run(store, channel, run)?;
    let indexed = catalog.indexed_run(run)?;
    if let Some(i) = &indexed {
        if i.channel != channel {
            warn!(%run, on_disk = %channel, in_catalog = %i.channel, "the run is filed under another channel in the catalog; left alone");
            return Ok(());
        }
    }
    let mut found = ReconcileReport::default();
    let ops = plan(&disk, indexed.as_ref(), &mut found);
    if !ops.is_empty() {
        let detail = serde_json::json!({
            "channel": channel,
            "adopted_run": !found.adopted_runs.is_empty(),
            "adopted_renditions": found.adopted_renditions,
            "adopted_segments": found.adopted_segments,
            "corrected_rows": found.corrected_rows,
            "removed_renditions": found.removed_renditions,
            "removed_segments": found.removed_segments,
            "closed": !found.closed_runs.is_empty(),
        });
        catalog.apply_index_ops(
            &ops,
            Some(("recording.reconcile", &format!("recording/{run}"), detail)),
        )?;
        warn!(
            %channel,
            %run,
            adopted_run = !found.adopted_runs.is_empty(),
            adopted_renditions = found.adopted_renditions,
            adopted_segments = found.adopted_segments,
            corrected_rows = found.corrected_rows,
            removed_segments = found.removed_segments.len(),
            closed = !found.closed_runs.is_empty(),
            "reconciled a run's rows with the archive"
        );
        for path in &found.removed_segments {
            warn!(file = %path, "removed the catalog row of a segment whose file is missing or short");
        }
        for r in &found.removed_renditions {
            warn!(rendition = %r, "removed a rendition from the catalog: it is no longer on disk");
        }
    }
    for path in &found.broken_segments {
        warn!(file = %path, "the index lists a segment whose file is missing or short; not listed");
    }
    merge(report, found);
    Ok(())
}

fn merge(into: &mut ReconcileReport, from: ReconcileReport) {
    into.segments += from.segments;
    into.adopted_runs.extend(from.adopted_runs);
    into.adopted_renditions += from.adopted_renditions;
    into.adopted_segments += from.adopted_segments;
    into.corrected_rows += from.corrected_rows;
    into.removed_segments.extend(from.removed_segments);
    into.removed_renditions.extend(from.removed_renditions);
    into.removed_runs.extend(from.removed_runs);
    into.closed_runs.extend(from.closed_runs);
    into.broken_segments.extend(from.broken_segments);
    into.empty_runs.extend(from.empty_runs);
    into.failed_runs.extend(from.failed_runs);
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::archive::store::IndexedPart;

    const S: u64 = 1_000_000_000;

    fn meta(name: &str) -> RenditionMeta {
        RenditionMeta {
            name: name.into(),
            codecs: "avc1.64001e".into(),
            video: true,
            width: 640,
            height: 360,
            bitrate_kbps: 800,
            framerate: 25,
        }
    }

    /// Part `part` of segment `msn`: 0.4 s, 10 bytes; segment `msn` starts
    /// at `msn * 2` s.
    fn part(msn: u64, part: u32) -> IndexedPart {
        IndexedPart {
            msn,
            part,
            bytes: 10,
            duration: 36_000,
            timescale: 90_000,
            wall_ns: msn * 2 * S + u64::from(part) * 400_000_000,
            independent: part == 0,
        }
    }

    /// Segment `msn` of five parts, as the index sums it.
    fn whole(msn: u64) -> ArchivedSegment {
        let mut s = ArchivedSegment::from_part(&part(msn, 0));
        for i in 1..5 {
            s.add(&part(msn, i));
        }
        s
    }

    fn disk_segment(msn: u64, file_len: Option<u64>) -> DiskSegment {
        DiskSegment {
            segment: whole(msn),
            path: format!("main/r1/360p/{msn}.m4s"),
            file_len,
        }
    }

    fn disk(segments: Vec<DiskSegment>) -> DiskRun {
        DiskRun {
            channel: "main".into(),
            run: "r1".into(),
            renditions: vec![DiskRendition {
                meta: meta("360p"),
                has_init: true,
                segments,
            }],
        }
    }

    fn row(msn: u64) -> SegmentRow {
        SegmentRow {
            rendition: "360p".into(),
            path: format!("main/r1/360p/{msn}.m4s"),
            segment: whole(msn),
        }
    }

    fn indexed(msns: &[u64], ended_at: Option<u64>) -> IndexedRun {
        IndexedRun {
            channel: "main".into(),
            run: "r1".into(),
            started_at: 10 * S,
            ended_at,
            renditions: vec![meta("360p")],
            segments: msns.iter().map(|&m| row(m)).collect(),
        }
    }

    #[test]
    fn a_run_without_a_row_is_adopted_whole_and_closed() {
        let mut report = ReconcileReport::default();
        let ops = plan(
            &disk(vec![disk_segment(5, Some(50)), disk_segment(6, Some(50))]),
            None,
            &mut report,
        );
        assert_eq!(
            ops,
            [
                IndexOp::Begin {
                    channel: "main".into(),
                    run: "r1".into(),
                    started_at: 10 * S,
                },
                IndexOp::Rendition {
                    run: "r1".into(),
                    meta: meta("360p"),
                },
                IndexOp::Segment {
                    run: "r1".into(),
                    rendition: "360p".into(),
                    path: "main/r1/360p/5.m4s".into(),
                    segment: whole(5),
                },
                IndexOp::Segment {
                    run: "r1".into(),
                    rendition: "360p".into(),
                    path: "main/r1/360p/6.m4s".into(),
                    segment: whole(6),
                },
                IndexOp::End {
                    run: "r1".into(),
                    ended_at: 14 * S,
                },
            ]
        );
        assert_eq!(report.adopted_runs, ["main/r1"]);
        assert_eq!((report.adopted_renditions, report.adopted_segments), (1, 2));
        assert_eq!(report.closed_runs, ["main/r1"]);
        assert_eq!(report.segments, 2);
        assert!(report.changed());
    }

    #[test]
    fn missing_rows_are_adopted_and_rows_of_missing_or_short_files_removed() {
        let mut report = ReconcileReport::default();
        // On disk: 5 whole, 6 short (a broken disk), 7 whole. Indexed: 5, 6
        // and 8 (whose file is gone).
        let on_disk = disk(vec![
            disk_segment(5, Some(50)),
            disk_segment(6, Some(49)),
            disk_segment(7, Some(60)),
        ]);
        let ops = plan(
            &on_disk,
            Some(&indexed(&[5, 6, 8], Some(20 * S))),
            &mut report,
        );
        let forget = |msn| IndexOp::ForgetSegment {
            run: "r1".into(),
            rendition: "360p".into(),
            msn,
        };
        assert_eq!(
            ops,
            [
                forget(6),
                forget(8),
                IndexOp::Segment {
                    run: "r1".into(),
                    rendition: "360p".into(),
                    path: "main/r1/360p/7.m4s".into(),
                    segment: whole(7),
                },
            ],
            "an ended run stays as it ended"
        );
        assert_eq!(report.adopted_segments, 1);
        assert_eq!(
            report.removed_segments,
            ["main/r1/360p/6.m4s", "main/r1/360p/8.m4s"]
        );
        assert_eq!(report.broken_segments, ["main/r1/360p/6.m4s"]);
        assert!(report.closed_runs.is_empty());
    }

    #[test]
    fn an_unended_run_is_closed_at_its_last_segment_and_an_agreeing_one_left_alone() {
        let on_disk = disk(vec![disk_segment(5, Some(50)), disk_segment(6, Some(50))]);
        let mut report = ReconcileReport::default();
        let ops = plan(&on_disk, Some(&indexed(&[5, 6], None)), &mut report);
        assert_eq!(
            ops,
            [IndexOp::End {
                run: "r1".into(),
                ended_at: 14 * S,
            }]
        );
        assert_eq!(report.closed_runs, ["main/r1"]);

        let mut report = ReconcileReport::default();
        let ops = plan(&on_disk, Some(&indexed(&[5, 6], Some(14 * S))), &mut report);
        assert!(ops.is_empty(), "{ops:?}");
        assert!(!report.changed());
        assert_eq!(report.segments, 2);
    }

    #[test]
    fn a_rendition_gone_from_disk_loses_its_rows_and_a_changed_one_is_corrected() {
        let mut on_disk = disk(vec![disk_segment(5, Some(50))]);
        on_disk.renditions[0].meta.bitrate_kbps = 900;
        let mut catalog = indexed(&[5], Some(12 * S));
        catalog.renditions.push(meta("720p"));
        catalog.segments.push(SegmentRow {
            rendition: "720p".into(),
            path: "main/r1/720p/5.m4s".into(),
            segment: whole(5),
        });
        let mut report = ReconcileReport::default();
        let ops = plan(&on_disk, Some(&catalog), &mut report);
        assert_eq!(
            ops,
            [
                IndexOp::ForgetRendition {
                    run: "r1".into(),
                    rendition: "720p".into(),
                },
                IndexOp::Rendition {
                    run: "r1".into(),
                    meta: on_disk.renditions[0].meta.clone(),
                },
            ]
        );
        assert_eq!(report.removed_renditions, ["main/r1/720p"]);
        assert_eq!(report.removed_segments, ["main/r1/720p/5.m4s"]);
        assert_eq!(report.corrected_rows, 1);
    }

    #[test]
    fn a_run_with_nothing_playable_is_left_alone() {
        let mut on_disk = disk(vec![disk_segment(5, Some(50))]);
        on_disk.renditions[0].has_init = false;
        let mut report = ReconcileReport::default();
        assert!(plan(&on_disk, None, &mut report).is_empty());
        assert_eq!(report.empty_runs, ["main/r1"]);
    }

    /// Writes segments `msns` (five parts each) of rendition `name` of run
    /// `run` to the archive.
    fn write(store: &ArchiveStore, run: &str, name: &str, msns: std::ops::Range<u64>) {
        store.write_init("main", run, &meta(name), b"init").unwrap();
        for msn in msns {
            for i in 0..5 {
                store
                    .append_part("main", run, name, &part(msn, i), b"0123456789")
                    .unwrap();
            }
        }
    }

    #[test]
    fn after_a_crash_the_catalog_and_the_files_agree() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArchiveStore::new(dir.path());
        let mut catalog = Catalog::open(&dir.path().join("obrady.db")).unwrap();
        catalog
            .sync_channels(&[("main".into(), "Sala sesyjna".into())], Some("main"))
            .unwrap();
        // Run 1: recorded and indexed up to segment 6, then a crash after
        // segment 8 was written (7 and 8 never indexed, the run never
        // closed). Segment 6's file is lost afterwards.
        write(&store, "a1", "360p", 5..9);
        let mut ops = vec![
            IndexOp::Begin {
                channel: "main".into(),
                run: "a1".into(),
                started_at: 9 * S,
            },
            IndexOp::Rendition {
                run: "a1".into(),
                meta: meta("360p"),
            },
        ];
        for msn in 5..7 {
            ops.push(IndexOp::Segment {
                run: "a1".into(),
                rendition: "360p".into(),
                path: store.segment_path("main", "a1", "360p", msn).unwrap(),
                segment: whole(msn),
            });
        }
        catalog.apply_index_ops(&ops, None).unwrap();
        fs::remove_file(dir.path().join("archive/main/a1/360p/6.m4s")).unwrap();
        // Run 2: on disk, never in the catalog (the crash came before its
        // first row was written).
        write(&store, "b2", "360p", 20..22);
        // Run 3: in the catalog, its directory deleted by hand.
        write(&store, "c3", "360p", 30..31);
        catalog
            .apply_index_ops(
                &[IndexOp::Begin {
                    channel: "main".into(),
                    run: "c3".into(),
                    started_at: 60 * S,
                }],
                None,
            )
            .unwrap();
        fs::remove_dir_all(dir.path().join("archive/main/c3")).unwrap();

        store.recover().unwrap();
        let report = reconcile(&store, &mut catalog).unwrap();
        assert_eq!(report.runs, 2);
        assert_eq!(report.adopted_runs, ["main/b2"]);
        assert_eq!(report.adopted_segments, 2 + 2, "a1: 7 and 8; b2: 20 and 21");
        assert_eq!(report.removed_segments, ["main/a1/360p/6.m4s"]);
        assert_eq!(report.removed_runs, ["main/c3"]);
        assert_eq!(report.closed_runs, ["main/a1", "main/b2"]);
        assert!(report.failed_runs.is_empty());

        // Every row names a whole file; every whole file has its row.
        for (run, msns, started, ended) in [
            ("a1", vec![5, 7, 8], 9 * S, 18 * S),
            ("b2", vec![20, 21], 40 * S, 44 * S),
        ] {
            let indexed = catalog.indexed_run(run).unwrap().expect("indexed");
            let rows: Vec<u64> = indexed.segments.iter().map(|s| s.segment.msn).collect();
            assert_eq!(rows, msns, "{run}");
            for s in &indexed.segments {
                let len = fs::metadata(dir.path().join("archive").join(&s.path))
                    .unwrap()
                    .len();
                assert_eq!(len, s.segment.bytes, "{}", s.path);
                assert_eq!(s.segment, whole(s.segment.msn));
            }
            assert_eq!(
                (indexed.started_at, indexed.ended_at),
                (started, Some(ended)),
                "{run}"
            );
        }
        assert!(catalog.indexed_run("c3").unwrap().is_none());
        let actions: Vec<String> = catalog
            .audit_entries(3)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            ["recording.forget", "recording.reconcile", "recording.end"],
            "b2's reconciliation, then c3's removal"
        );

        // A second pass finds nothing to do.
        let again = reconcile(&store, &mut catalog).unwrap();
        assert!(!again.changed(), "{again:?}");
        assert_eq!(again.segments, 5);

        // An archive missing as a whole (an unmounted disk) empties nothing.
        fs::rename(dir.path().join("archive"), dir.path().join("elsewhere")).unwrap();
        let missing = reconcile(&store, &mut catalog).unwrap();
        assert!(!missing.changed(), "{missing:?}");
        assert_eq!(catalog.indexed_runs().unwrap().len(), 2);
    }
}
