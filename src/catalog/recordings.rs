//! Channels and the archive's index (migration 4, `migration_4.sql`): the
//! runs each channel recorded, their renditions, and their whole, durable
//! segments, so that HTTP lists media with indexed lookups instead of
//! reading `index.tsv` files.
//!
//! A child module of `catalog::db` (declared there with `#[path]`), so it
//! uses the catalog's connection, transactions and audit helper;
//! re-exported as `catalog::recordings`.
//!
//! The files are the source of truth for media; these rows are their index.
//! Two writers describe their changes as [`IndexOp`]s, applied in one
//! transaction by [`Catalog::apply_index_ops`]: the recorder (through
//! `archive::indexer`), only ever after the files are fsynced, and, at
//! start, `archive::reconcile`, the only one that deletes rows.

use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::json;

use super::{audit, Catalog, CatalogError};
use crate::archive::store::{sort_renditions, ArchivedSegment, RenditionMeta};

/// The actor of the changes the server makes by itself.
const SYSTEM: &str = "system";

/// One change to the archive's index.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexOp {
    /// A run's first init segment is on disk: its `recordings` row (nothing
    /// if it exists). A channel missing from `channels` is added (named by
    /// its id): the archive may hold channels no longer configured.
    Begin {
        channel: String,
        run: String,
        started_at: u64,
    },
    /// A rendition's init segment and description are on disk.
    Rendition { run: String, meta: RenditionMeta },
    /// Every part of a segment and its index lines are fsynced. An existing
    /// row is overwritten (reconciliation corrects rows this way).
    Segment {
        run: String,
        rendition: String,
        /// Relative to the archive root (`ArchiveStore::segment_path`).
        path: String,
        segment: ArchivedSegment,
    },
    /// The run has ended (or, after a crash, was found ended); its last
    /// segment ends at `ended_at` (never before the run's start).
    End { run: String, ended_at: u64 },
    /// Reconciliation only: the segment's file is gone or shorter than its
    /// row says.
    ForgetSegment {
        run: String,
        rendition: String,
        msn: u64,
    },
    /// Reconciliation only: the rendition is no longer on disk; its segment
    /// rows go with it.
    ForgetRendition { run: String, rendition: String },
    /// Reconciliation only: the run's directory is gone; its rows go.
    ForgetRun { run: String },
}

/// What [`Catalog::sync_channels`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelSync {
    /// Channels new to the catalog.
    pub added: Vec<String>,
    /// Channels whose name changed.
    pub renamed: Vec<String>,
    /// Sessions started before sessions were bound to channels, now bound
    /// to the default channel (which they used).
    pub bound_sessions: Vec<i64>,
}

/// A `recording_segments` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRow {
    pub rendition: String,
    pub path: String,
    pub segment: ArchivedSegment,
}

/// A run as the catalog indexes it: what reconciliation compares with the
/// disk.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedRun {
    pub channel: String,
    pub run: String,
    pub started_at: u64,
    pub ended_at: Option<u64>,
    /// In ladder order.
    pub renditions: Vec<RenditionMeta>,
    /// By rendition name, then media sequence number.
    pub segments: Vec<SegmentRow>,
}

/// One run of a channel, for the archive listing.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub run: String,
    pub started_at: u64,
    pub ended_at: Option<u64>,
    /// In ladder order.
    pub renditions: Vec<RenditionMeta>,
    /// Segments of the first rendition.
    pub segments: usize,
    /// Their total duration.
    pub duration_secs: f64,
    /// Wall-clock time of the first of them.
    pub first_wall_ns: Option<u64>,
}

/// A channel's media within a stretch of wall-clock time, as
/// [`Catalog::recorded_media`] finds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedMedia {
    /// The renditions of the oldest run in the stretch, in ladder order.
    pub renditions: Vec<RenditionMeta>,
    /// One per rendition picked, in the order picked.
    pub tracks: Vec<RecordedTrack>,
}

/// The segments of one rendition, run by run.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedTrack {
    pub rendition: String,
    /// Oldest run first; each run's segments in order. Runs without this
    /// rendition are left out.
    pub runs: Vec<(String, Vec<ArchivedSegment>)>,
}

impl Catalog {
    /// Makes `channels` hold the configured channels (id, name): new ones
    /// are added, renamed ones renamed; channels no longer configured stay
    /// (their recordings refer to them). Sessions started before sessions
    /// were bound to a channel are bound to `default`, the channel they
    /// used. One transaction, an audit row per change.
    pub fn sync_channels(
        &mut self,
        channels: &[(String, String)],
        default: Option<&str>,
    ) -> Result<ChannelSync, CatalogError> {
        let tx = self.write()?;
        let mut sync = ChannelSync::default();
        for (id, name) in channels {
            let existing: Option<String> = tx
                .query_row("SELECT name FROM channels WHERE id = ?1", [id], |row| {
                    row.get(0)
                })
                .optional()?;
            match existing {
                None => {
                    tx.execute(
                        "INSERT INTO channels (id, name) VALUES (?1, ?2)",
                        params![id, name],
                    )?;
                    audit(
                        &tx,
                        SYSTEM,
                        "channel.add",
                        &format!("channel/{id}"),
                        json!({ "name": name }),
                    )?;
                    sync.added.push(id.clone());
                }
                Some(old) if old != *name => {
                    tx.execute(
                        "UPDATE channels SET name = ?2 WHERE id = ?1",
                        params![id, name],
                    )?;
                    audit(
                        &tx,
                        SYSTEM,
                        "channel.rename",
                        &format!("channel/{id}"),
                        json!({ "from": old, "to": name }),
                    )?;
                    sync.renamed.push(id.clone());
                }
                Some(_) => {}
            }
        }
        if let Some(default) = default {
            let mut stmt = tx.prepare(
                "SELECT id FROM sessions WHERE channel_id IS NULL AND state <> 'planned' \
                 ORDER BY id",
            )?;
            let unbound = stmt
                .query_map([], |row| row.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            for id in unbound {
                tx.execute(
                    "UPDATE sessions SET channel_id = ?2 WHERE id = ?1",
                    params![id, default],
                )?;
                audit(
                    &tx,
                    SYSTEM,
                    "session.bind_channel",
                    &format!("session/{id}"),
                    json!({
                        "channel": default,
                        "why": "started before sessions were bound to channels, on the default channel",
                    }),
                )?;
                sync.bound_sessions.push(id);
            }
        }
        tx.commit()?;
        Ok(sync)
    }

    /// Applies `ops` in order, in one transaction: all or nothing. A run's
    /// start and end get audit rows ("recording.start", "recording.end",
    /// "recording.forget"); segment and rendition rows do not (one per
    /// segment would drown the log). `summary`, when given, is one more
    /// audit row (action, object, detail), e.g. what a reconciliation did.
    pub fn apply_index_ops(
        &mut self,
        ops: &[IndexOp],
        summary: Option<(&str, &str, serde_json::Value)>,
    ) -> Result<(), CatalogError> {
        let tx = self.write()?;
        for op in ops {
            apply_op(&tx, op)?;
        }
        if let Some((action, object, detail)) = summary {
            audit(&tx, SYSTEM, action, object, detail)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The media of `channel` from `from_ns` to `to_ns` (wall clock, open
    /// when `None`): the runs overlapping it, the renditions of the oldest,
    /// and, for each rendition `pick` chooses from those, the segments that
    /// start within it. One read transaction, so everything comes from one
    /// state of the catalog; every lookup is indexed
    /// (`recordings_by_channel`, `recording_segments_by_time`).
    pub fn recorded_media(
        &self,
        channel: &str,
        from_ns: u64,
        to_ns: Option<u64>,
        pick: impl FnOnce(&[RenditionMeta]) -> Vec<String>,
    ) -> Result<RecordedMedia, CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        let to_ns = to_ns.map_or(i64::MAX, |t| i64::try_from(t).unwrap_or(i64::MAX));
        let from_ns = i64::try_from(from_ns).unwrap_or(i64::MAX);
        let mut stmt = tx.prepare_cached(
            "SELECT id, run_id FROM recordings \
             WHERE channel_id = ?1 AND started_at <= ?3 \
               AND (ended_at IS NULL OR ended_at >= ?2) \
             ORDER BY started_at, id",
        )?;
        let runs = stmt
            .query_map(params![channel, from_ns, to_ns], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        let mut per_run = Vec::with_capacity(runs.len());
        for (id, run) in runs {
            per_run.push((id, run, read_renditions(&tx, id)?));
        }
        let renditions = per_run
            .iter()
            .map(|(_, _, r)| r)
            .find(|r| !r.is_empty())
            .cloned()
            .unwrap_or_default();
        let mut tracks = Vec::new();
        for name in pick(&renditions) {
            let mut track = RecordedTrack {
                rendition: name.clone(),
                runs: Vec::new(),
            };
            for (id, run, metas) in &per_run {
                if !metas.iter().any(|m| m.name == name) {
                    continue;
                }
                let segments = read_segments(&tx, *id, &name, from_ns, to_ns)?;
                track.runs.push((run.clone(), segments));
            }
            tracks.push(track);
        }
        Ok(RecordedMedia { renditions, tracks })
    }

    /// The runs of `channel`, oldest first, with their renditions and the
    /// count, duration and first wall time of their first rendition's
    /// segments.
    pub fn channel_runs(&self, channel: &str) -> Result<Vec<RunSummary>, CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut stmt = tx.prepare_cached(
            "SELECT id, run_id, started_at, ended_at FROM recordings \
             WHERE channel_id = ?1 ORDER BY started_at, id",
        )?;
        let runs = stmt
            .query_map([channel], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u64>(2)?,
                    row.get::<_, Option<u64>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        let mut out = Vec::with_capacity(runs.len());
        for (id, run, started_at, ended_at) in runs {
            let renditions = read_renditions(&tx, id)?;
            let (segments, duration_secs, first_wall_ns) = match renditions.first() {
                None => (0, 0.0, None),
                Some(first) => tx
                    .prepare_cached(
                        "SELECT count(*), total(CAST(duration AS REAL) / timescale), \
                         min(wall_ns) FROM recording_segments \
                         WHERE recording_id = ?1 AND rendition = ?2",
                    )?
                    .query_row(params![id, first.name], |row| {
                        Ok((
                            row.get::<_, usize>(0)?,
                            row.get::<_, f64>(1)?,
                            row.get::<_, Option<u64>>(2)?,
                        ))
                    })?,
            };
            out.push(RunSummary {
                run,
                started_at,
                ended_at,
                renditions,
                segments,
                duration_secs,
                first_wall_ns,
            });
        }
        Ok(out)
    }

    /// The renditions of run `run` of `channel`, in ladder order; empty when
    /// there is no such run.
    pub fn run_renditions(
        &self,
        channel: &str,
        run: &str,
    ) -> Result<Vec<RenditionMeta>, CatalogError> {
        let Some(id) = run_of_channel(&self.conn, channel, run)? else {
            return Ok(Vec::new());
        };
        Ok(read_renditions(&self.conn, id)?)
    }

    /// The segments of one rendition of a run, in order; empty when there
    /// is no such run or rendition.
    pub fn run_segments(
        &self,
        channel: &str,
        run: &str,
        rendition: &str,
    ) -> Result<Vec<ArchivedSegment>, CatalogError> {
        let Some(id) = run_of_channel(&self.conn, channel, run)? else {
            return Ok(Vec::new());
        };
        Ok(read_segments(&self.conn, id, rendition, 0, i64::MAX)?)
    }

    /// Whether segment `msn` of a rendition of a run is listed (whole and
    /// durable).
    pub fn segment_listed(
        &self,
        channel: &str,
        run: &str,
        rendition: &str,
        msn: u64,
    ) -> Result<bool, CatalogError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM recording_segments s JOIN recordings r ON r.id = s.recording_id \
                 WHERE r.run_id = ?1 AND r.channel_id = ?2 AND s.rendition = ?3 AND s.msn = ?4",
            )?
            .query_row(params![run, channel, rendition, msn], |_| Ok(()))
            .optional()?;
        Ok(found.is_some())
    }

    /// Every run in the catalog, as (channel, run), oldest first.
    pub fn indexed_runs(&self) -> Result<Vec<(String, String)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT channel_id, run_id FROM recordings ORDER BY started_at, id")?;
        let runs = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(runs)
    }

    /// A run with all its rows, or `None` when the catalog has no such run.
    pub fn indexed_run(&self, run: &str) -> Result<Option<IndexedRun>, CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        let Some((id, channel, started_at, ended_at)) = tx
            .query_row(
                "SELECT id, channel_id, started_at, ended_at FROM recordings WHERE run_id = ?1",
                [run],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, u64>(2)?,
                        row.get::<_, Option<u64>>(3)?,
                    ))
                },
            )
            .optional()?
        else {
            return Ok(None);
        };
        let renditions = read_renditions(&tx, id)?;
        let mut stmt = tx.prepare(
            "SELECT rendition, path, msn, parts, bytes, duration, timescale, wall_ns \
             FROM recording_segments WHERE recording_id = ?1 ORDER BY rendition, msn",
        )?;
        let segments = stmt
            .query_map([id], |row| {
                Ok(SegmentRow {
                    rendition: row.get(0)?,
                    path: row.get(1)?,
                    segment: segment_at(row, 2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(IndexedRun {
            channel,
            run: run.to_owned(),
            started_at,
            ended_at,
            renditions,
            segments,
        }))
    }
}

/// The row id of run `run`, or why there is none.
fn recording_id(tx: &Transaction<'_>, run: &str) -> Result<i64, CatalogError> {
    tx.prepare_cached("SELECT id FROM recordings WHERE run_id = ?1")?
        .query_row([run], |row| row.get(0))
        .optional()?
        .ok_or_else(|| {
            CatalogError::Invalid(format!(
                "run {run:?} has no recordings row (its first init segment was never indexed)"
            ))
        })
}

fn run_of_channel(
    conn: &rusqlite::Connection,
    channel: &str,
    run: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM recordings WHERE run_id = ?1 AND channel_id = ?2")?
        .query_row([run, channel], |row| row.get(0))
        .optional()
}

fn read_renditions(
    conn: &rusqlite::Connection,
    recording_id: i64,
) -> rusqlite::Result<Vec<RenditionMeta>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, codecs, video, width, height, bitrate_kbps, framerate \
         FROM recording_renditions WHERE recording_id = ?1",
    )?;
    let mut metas = stmt
        .query_map([recording_id], |row| {
            Ok(RenditionMeta {
                name: row.get(0)?,
                codecs: row.get(1)?,
                video: row.get(2)?,
                width: row.get(3)?,
                height: row.get(4)?,
                bitrate_kbps: row.get(5)?,
                framerate: row.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    sort_renditions(&mut metas);
    Ok(metas)
}

/// Segments of one rendition of a run starting within [from_ns, to_ns], in
/// order: one range scan of `recording_segments_by_time`.
fn read_segments(
    conn: &rusqlite::Connection,
    recording_id: i64,
    rendition: &str,
    from_ns: i64,
    to_ns: i64,
) -> rusqlite::Result<Vec<ArchivedSegment>> {
    let mut stmt = conn.prepare_cached(
        "SELECT msn, parts, bytes, duration, timescale, wall_ns FROM recording_segments \
         WHERE recording_id = ?1 AND rendition = ?2 AND wall_ns BETWEEN ?3 AND ?4 \
         ORDER BY wall_ns, msn",
    )?;
    let segments = stmt
        .query_map(params![recording_id, rendition, from_ns, to_ns], |row| {
            segment_at(row, 0)
        })?
        .collect();
    segments
}

/// An [`ArchivedSegment`] from six columns starting at `at`: msn, parts,
/// bytes, duration, timescale, wall_ns.
fn segment_at(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<ArchivedSegment> {
    Ok(ArchivedSegment {
        msn: row.get(at)?,
        parts: row.get(at + 1)?,
        bytes: row.get(at + 2)?,
        duration: row.get(at + 3)?,
        timescale: row.get(at + 4)?,
        wall_ns: row.get(at + 5)?,
    })
}

fn apply_op(tx: &Transaction<'_>, op: &IndexOp) -> Result<(), CatalogError> {
    match op {
        IndexOp::Begin {
            channel,
            run,
            started_at,
        } => {
            let channel_added = tx.execute(
                "INSERT INTO channels (id, name) VALUES (?1, ?1) ON CONFLICT (id) DO NOTHING",
                [channel],
            )? == 1;
            if channel_added {
                audit(
                    tx,
                    SYSTEM,
                    "channel.add",
                    &format!("channel/{channel}"),
                    json!({ "name": channel, "why": "found in the archive" }),
                )?;
            }
            let inserted = tx.execute(
                "INSERT INTO recordings (channel_id, run_id, started_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (run_id) DO NOTHING",
                params![channel, run, started_at],
            )? == 1;
            if inserted {
                audit(
                    tx,
                    SYSTEM,
                    "recording.start",
                    &format!("recording/{run}"),
                    json!({ "channel": channel, "started_at": started_at }),
                )?;
            }
        }
        IndexOp::Rendition { run, meta } => {
            let id = recording_id(tx, run)?;
            tx.prepare_cached(
                "INSERT INTO recording_renditions \
                 (recording_id, name, codecs, video, width, height, bitrate_kbps, framerate) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (recording_id, name) DO UPDATE SET codecs = excluded.codecs, \
                 video = excluded.video, width = excluded.width, height = excluded.height, \
                 bitrate_kbps = excluded.bitrate_kbps, framerate = excluded.framerate",
            )?
            .execute(params![
                id,
                meta.name,
                meta.codecs,
                meta.video,
                meta.width,
                meta.height,
                meta.bitrate_kbps,
                meta.framerate
            ])?;
        }
        IndexOp::Segment {
            run,
            rendition,
            path,
            segment: s,
        } => {
            let id = recording_id(tx, run)?;
            let has_rendition = tx
                .prepare_cached(
                    "SELECT 1 FROM recording_renditions WHERE recording_id = ?1 AND name = ?2",
                )?
                .query_row(params![id, rendition], |_| Ok(()))
                .optional()?
                .is_some();
            if !has_rendition {
                return Err(CatalogError::Invalid(format!(
                    "rendition {rendition:?} of run {run:?} has no recording_renditions row"
                )));
            }
            tx.prepare_cached(
                "INSERT INTO recording_segments \
                 (recording_id, rendition, msn, path, duration, timescale, bytes, parts, wall_ns) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                 ON CONFLICT (recording_id, rendition, msn) DO UPDATE SET path = excluded.path, \
                 duration = excluded.duration, timescale = excluded.timescale, \
                 bytes = excluded.bytes, parts = excluded.parts, wall_ns = excluded.wall_ns",
            )?
            .execute(params![
                id,
                rendition,
                s.msn,
                path,
                s.duration,
                s.timescale,
                s.bytes,
                s.parts,
                s.wall_ns
            ])?;
        }
        IndexOp::End { run, ended_at } => {
            recording_id(tx, run)?;
            let changed = tx.execute(
                "UPDATE recordings SET ended_at = max(started_at, ?2) \
                 WHERE run_id = ?1 AND ended_at IS NOT max(started_at, ?2)",
                params![run, ended_at],
            )? == 1;
            if changed {
                audit(
                    tx,
                    SYSTEM,
                    "recording.end",
                    &format!("recording/{run}"),
                    json!({ "ended_at": ended_at }),
                )?;
            }
        }
        IndexOp::ForgetSegment {
            run,
            rendition,
            msn,
        } => {
            let id = recording_id(tx, run)?;
            tx.execute(
                "DELETE FROM recording_segments \
                 WHERE recording_id = ?1 AND rendition = ?2 AND msn = ?3",
                params![id, rendition, msn],
            )?;
        }
        IndexOp::ForgetRendition { run, rendition } => {
            let id = recording_id(tx, run)?;
            tx.execute(
                "DELETE FROM recording_segments WHERE recording_id = ?1 AND rendition = ?2",
                params![id, rendition],
            )?;
            tx.execute(
                "DELETE FROM recording_renditions WHERE recording_id = ?1 AND name = ?2",
                params![id, rendition],
            )?;
        }
        IndexOp::ForgetRun { run } => {
            let id = recording_id(tx, run)?;
            tx.execute(
                "DELETE FROM recording_segments WHERE recording_id = ?1",
                [id],
            )?;
            tx.execute(
                "DELETE FROM recording_renditions WHERE recording_id = ?1",
                [id],
            )?;
            tx.execute("DELETE FROM recordings WHERE id = ?1", [id])?;
            audit(
                tx,
                SYSTEM,
                "recording.forget",
                &format!("recording/{run}"),
                json!({ "why": "its directory is no longer in the archive" }),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::store::IndexedPart;

    const S: u64 = 1_000_000_000;

    fn open_temp() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        (dir, catalog)
    }

    fn meta(name: &str, video: bool) -> RenditionMeta {
        RenditionMeta {
            name: name.into(),
            codecs: if video { "avc1.64001f" } else { "mp4a.40.2" }.into(),
            video,
            width: if video { 1280 } else { 0 },
            height: if video { 720 } else { 0 },
            bitrate_kbps: if video { 2500 } else { 128 },
            framerate: if video { 25 } else { 0 },
        }
    }

    /// A two-second segment starting at `at` seconds.
    fn segment(run: &str, rendition: &str, msn: u64, at: u64) -> IndexOp {
        IndexOp::Segment {
            run: run.into(),
            rendition: rendition.into(),
            path: format!("main/{run}/{rendition}/{msn}.m4s"),
            segment: ArchivedSegment::from_part(&IndexedPart {
                msn,
                part: 0,
                bytes: 1000 + msn,
                duration: 180_000,
                timescale: 90_000,
                wall_ns: at * S,
                independent: true,
            }),
        }
    }

    /// Run `run` of "main" from `from` s: 720p and audio, `count` segments.
    fn recorded(run: &str, from: u64, first_msn: u64, count: u64) -> Vec<IndexOp> {
        let mut ops = vec![
            IndexOp::Begin {
                channel: "main".into(),
                run: run.into(),
                started_at: from * S,
            },
            IndexOp::Rendition {
                run: run.into(),
                meta: meta("audio", false),
            },
            IndexOp::Rendition {
                run: run.into(),
                meta: meta("720p", true),
            },
        ];
        for i in 0..count {
            for r in ["720p", "audio"] {
                ops.push(segment(run, r, first_msn + i, from + 2 * i));
            }
        }
        ops
    }

    #[test]
    fn a_sessions_media_comes_from_the_runs_overlapping_it() {
        let (_dir, mut c) = open_temp();
        c.apply_index_ops(&recorded("r1", 100, 50, 10), None)
            .unwrap();
        c.apply_index_ops(
            &[IndexOp::End {
                run: "r1".into(),
                ended_at: 120 * S,
            }],
            None,
        )
        .unwrap();
        c.apply_index_ops(&recorded("r2", 130, 65, 10), None)
            .unwrap();

        // 110 s to 140 s: the end of r1 and the start of r2.
        let media = c
            .recorded_media("main", 110 * S, Some(140 * S), |r| {
                r.iter().map(|m| m.name.clone()).collect()
            })
            .unwrap();
        assert_eq!(media.renditions, [meta("720p", true), meta("audio", false)]);
        let names: Vec<&str> = media.tracks.iter().map(|t| t.rendition.as_str()).collect();
        assert_eq!(names, ["720p", "audio"], "in the order picked");
        let listed: Vec<(&str, Vec<u64>)> = media.tracks[0]
            .runs
            .iter()
            .map(|(run, segs)| (run.as_str(), segs.iter().map(|s| s.msn).collect()))
            .collect();
        assert_eq!(
            listed,
            [
                ("r1", vec![55, 56, 57, 58, 59]),
                ("r2", vec![65, 66, 67, 68, 69, 70])
            ]
        );
        assert_eq!(media.tracks[0].runs[0].1[0].duration_secs(), 2.0);

        // An open window reaches the run still recording (no end yet).
        let open = c
            .recorded_media("main", 145 * S, None, |r| vec![r[0].name.clone()])
            .unwrap();
        assert_eq!(open.tracks[0].runs.len(), 1);
        assert_eq!(open.tracks[0].runs[0].1.len(), 2, "145 s .. 148 s");
        // Another channel, or a rendition nobody recorded: nothing.
        let none = c
            .recorded_media("komisja", 0, None, |_| vec!["720p".into()])
            .unwrap();
        assert_eq!(
            none,
            RecordedMedia {
                renditions: vec![],
                tracks: vec![RecordedTrack {
                    rendition: "720p".into(),
                    runs: vec![]
                }]
            }
        );

        // The listing by run, and single lookups.
        let runs = c.channel_runs("main").unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (
                runs[0].run.as_str(),
                runs[0].segments,
                runs[0].duration_secs,
                runs[0].first_wall_ns,
                runs[0].ended_at
            ),
            ("r1", 10, 20.0, Some(100 * S), Some(120 * S))
        );
        assert_eq!(runs[1].ended_at, None);
        assert_eq!(c.run_renditions("main", "r2").unwrap().len(), 2);
        assert!(c.run_renditions("komisja", "r2").unwrap().is_empty());
        assert_eq!(c.run_segments("main", "r2", "audio").unwrap().len(), 10);
        assert!(c.segment_listed("main", "r2", "audio", 74).unwrap());
        assert!(!c.segment_listed("main", "r2", "audio", 75).unwrap());
        assert!(!c.segment_listed("main", "r1", "audio", 74).unwrap());
    }

    #[test]
    fn the_time_lookup_uses_the_indexes() {
        let (_dir, c) = open_temp();
        let plan = |sql: &str| -> String {
            c.conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(params![1, 2, 3, 4], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
                .join("\n")
        };
        let runs = plan(
            "SELECT id, run_id FROM recordings WHERE channel_id = ?1 AND started_at <= ?3 \
             AND (ended_at IS NULL OR ended_at >= ?2) AND ?4 ORDER BY started_at, id",
        );
        assert!(runs.contains("USING INDEX recordings_by_channel"), "{runs}");
        let segments = plan(
            "SELECT msn FROM recording_segments WHERE recording_id = ?1 AND rendition = ?2 \
             AND wall_ns BETWEEN ?3 AND ?4 ORDER BY wall_ns, msn",
        );
        assert!(
            segments.contains("USING INDEX recording_segments_by_time (recording_id=? AND rendition=? AND wall_ns>? AND wall_ns<?)"),
            "{segments}"
        );
    }

    #[test]
    fn refused_ops_change_nothing_and_are_named() {
        let (_dir, mut c) = open_temp();
        let err = c
            .apply_index_ops(&[segment("r9", "720p", 1, 1)], None)
            .unwrap_err();
        assert!(
            err.to_string().contains("run \"r9\" has no recordings row"),
            "{err}"
        );
        let mut ops = recorded("r1", 100, 50, 1);
        ops.push(segment("r1", "360p", 50, 100));
        let err = c.apply_index_ops(&ops, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("rendition \"360p\" of run \"r1\" has no recording_renditions row"),
            "{err}"
        );
        assert!(c.indexed_run("r1").unwrap().is_none(), "all or nothing");
        assert!(c.indexed_runs().unwrap().is_empty());
    }

    #[test]
    fn forgetting_removes_rows_and_writing_twice_is_harmless() {
        let (_dir, mut c) = open_temp();
        let ops = recorded("r1", 100, 50, 3);
        c.apply_index_ops(&ops, None).unwrap();
        c.apply_index_ops(&ops, None).unwrap();
        let run = c.indexed_run("r1").unwrap().unwrap();
        assert_eq!(run.segments.len(), 6);
        assert_eq!(run.channel, "main");
        c.apply_index_ops(
            &[
                IndexOp::ForgetSegment {
                    run: "r1".into(),
                    rendition: "audio".into(),
                    msn: 51,
                },
                IndexOp::ForgetRendition {
                    run: "r1".into(),
                    rendition: "720p".into(),
                },
            ],
            Some(("recording.reconcile", "recording/r1", json!({}))),
        )
        .unwrap();
        let run = c.indexed_run("r1").unwrap().unwrap();
        let left: Vec<(&str, u64)> = run
            .segments
            .iter()
            .map(|s| (s.rendition.as_str(), s.segment.msn))
            .collect();
        assert_eq!(left, [("audio", 50), ("audio", 52)]);
        assert_eq!(run.renditions, [meta("audio", false)]);
        c.apply_index_ops(&[IndexOp::ForgetRun { run: "r1".into() }], None)
            .unwrap();
        assert!(c.indexed_run("r1").unwrap().is_none());
        let actions: Vec<String> = c
            .audit_entries(10)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [
                "recording.forget",
                "recording.reconcile",
                "recording.start",
                "channel.add"
            ],
            "one start, however often it is written"
        );
    }
}
