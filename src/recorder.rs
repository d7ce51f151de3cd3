//! One task per channel: owns the pipeline, turns its samples into parts and
//! segments, and publishes them to the live window. It is also the segment
//! clock: it asks the encoders for keyframes at the next boundaries.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, info_span, warn, Instrument};

use crate::archive::indexer::Indexer;
use crate::archive::store::{ArchiveStore, ArchivedSegment, IndexedPart};
use crate::catalog::db::Catalog;
use crate::catalog::recordings::IndexOp;
use crate::cmaf::segmenter::{Grid, Output, Segmenter};
use crate::cmaf::{writer, Codec};
use crate::live::{ChannelCommand, Cut, LiveChannel, Timing};
use crate::media::{GraphSpec, MediaEvent, Pipeline, TestScene};

/// How long to wait before rebuilding a pipeline that failed.
const RESTART_DELAY: Duration = Duration::from_secs(2);
/// How long end of stream may take at shutdown before the pipeline is cut.
const EOS_GRACE: Duration = Duration::from_millis(2500);

/// Runs the channel until `shutdown`, rebuilding the pipeline if it fails.
/// What reaches the archive is indexed in `catalog` (see `archive::indexer`).
pub async fn run(
    channel: Arc<LiveChannel>,
    spec: GraphSpec,
    timing: Timing,
    archive: ArchiveStore,
    catalog: Arc<Mutex<Catalog>>,
    shutdown: CancellationToken,
) {
    let span = info_span!("channel", channel = %channel.id);
    async move {
        let indexer = Indexer::start(catalog);
        loop {
            match run_once(&channel, &spec, timing, &archive, &indexer, &shutdown).await {
                Ok(()) => break,
                Err(e) => {
                    error!(error = %e, "broadcast failed; restarting in {:?}", RESTART_DELAY);
                    channel.end();
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(RESTART_DELAY) => {}
                    }
                }
            }
        }
        channel.end();
        indexer.close().await;
        info!("channel stopped");
    }
    .instrument(span)
    .await
}

/// Per-track state of a run.
struct Track {
    segmenter: Segmenter,
    /// Unix time minus running time, ns, from the latest sample.
    wall_offset: i128,
}

async fn run_once(
    channel: &LiveChannel,
    spec: &GraphSpec,
    timing: Timing,
    archive: &ArchiveStore,
    indexer: &Indexer,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (cmd_tx, mut commands) = mpsc::unbounded_channel();
    channel.set_commands(Some(cmd_tx));
    // A broadcast (re)started during a non-public part starts with the slate
    // (read after the command queue is in place, so no request falls between).
    let pipeline = Pipeline::start(
        spec,
        tx,
        channel.is_private(),
        channel.source.clone(),
        channel.graphics.clone(),
        &channel
            .inputs
            .iter()
            .map(|(_, s)| s.clone())
            .chain(channel.backup.clone())
            .collect::<Vec<_>>(),
    )
    .map_err(|e| e.to_string())?;
    let program = channel.program();
    if program != crate::media::Program::default() {
        pipeline.select_program(&program);
    }
    if channel.test_scene() != TestScene::default() {
        pipeline.set_test_scene(channel.test_scene());
    }
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let run = format!("{:x}", started.as_millis());
    channel.begin_run(run.clone());
    info!(%run, "broadcast started");
    let mut sink = Sink {
        channel,
        pipeline: &pipeline,
        archive,
        run: &run,
        indexer,
        started_ns: u64::try_from(started.as_millis())
            .unwrap_or(0)
            .saturating_mul(1_000_000),
        indexed: false,
        open: (0..channel.renditions.len()).map(|_| None).collect(),
        ended_ns: None,
    };

    let mut tracks: Vec<Option<Track>> = (0..channel.renditions.len()).map(|_| None).collect();
    let mut grid: Option<Grid> = None;
    // The latest cut (running time, and what it answered): a private part
    // begins slightly ahead of "now", and a mark asked for before that
    // instant must not cut earlier (it would split the span and come out
    // earlier than the mark before it); it shares that cut instead.
    let mut latest_cut: Option<(u64, Cut)> = None;
    // Marks asked for while the latest cut has not reached the media yet
    // (its keyframe is still being encoded): a cut now would take the same
    // segment number and move that boundary. They are cut as soon as it is
    // through, a few frames later.
    let mut deferred: Vec<tokio::sync::oneshot::Sender<Cut>> = Vec::new();
    let mut eos_deadline: Option<tokio::time::Instant> = None;
    // Unix time minus running time, ns (the pipeline's base time).
    let mut base_offset: i128 = 0;
    let segment_ns = (timing.segment_target * 1e9).round() as u64;
    let part_ns = (timing.part_target * 1e9).round() as u64;

    loop {
        let event = tokio::select! {
            ev = rx.recv() => ev,
            Some(cmd) = commands.recv() => {
                match cmd {
                    ChannelCommand::CutNow(reply) => {
                        if let Some(now) = pipeline.running_time_now() {
                            match latest_cut {
                                // The latest cut is still ahead (a private
                                // part begins slightly ahead of "now").
                                Some((at, cut)) if now <= at => {
                                    let _ = reply.send(cut);
                                }
                                Some((_, cut)) if !reached(&tracks, cut.msn) => {
                                    deferred.push(reply);
                                }
                                _ => {
                                    if let Some(cut) = cut_at(now, &pipeline, &mut grid, &mut tracks, base_offset) {
                                        latest_cut = Some((now, cut));
                                        let _ = reply.send(cut);
                                    }
                                }
                            }
                        }
                    }
                    ChannelCommand::SelectProgram(program, reply) => {
                        info!(input = program.input, pip = ?program.pip, audio = ?program.audio, "cutting to a camera");
                        let _ = reply.send(pipeline.select_program(&program));
                    }
                    ChannelCommand::SetTestScene(scene, reply) => {
                        info!(scene = scene.as_str(), "switching the test source");
                        let _ = reply.send(pipeline.set_test_scene(scene));
                    }
                    ChannelCommand::SetPrivate(p, reply) => {
                        // The pipeline picks the instant (a private part
                        // begins slightly ahead, see Pipeline::set_private);
                        // the segment clock cuts there, so the span is whole
                        // segments.
                        info!(private = p, "switching the chamber {}", if p { "off the air" } else { "back on the air" });
                        if let Some(at) = pipeline.set_private(p) {
                            match latest_cut {
                                // The latest cut is a frame or two earlier:
                                // the part shares its boundary (a few frames
                                // of slate in public, or of the chamber in
                                // the withheld part, never the reverse of
                                // what was asked for long).
                                Some((prev, cut)) if at < prev.saturating_add(MIN_CUT_GAP_NS) => {
                                    let _ = reply.send(cut);
                                }
                                _ => {
                                    if let Some(cut) = cut_at(at, &pipeline, &mut grid, &mut tracks, base_offset) {
                                        latest_cut = Some((at, cut));
                                        let _ = reply.send(cut);
                                    }
                                }
                            }
                        }
                    }
                }
                continue;
            }
            _ = shutdown.cancelled(), if eos_deadline.is_none() => {
                info!("stopping: sending end of stream through the pipeline");
                pipeline.send_eos();
                eos_deadline = Some(tokio::time::Instant::now() + EOS_GRACE);
                continue;
            }
            _ = sleep_until(eos_deadline) => {
                warn!("end of stream did not arrive in time; cutting the pipeline");
                None
            }
        };
        let Some(event) = event else {
            break;
        };
        match event {
            MediaEvent::Codec { track, codec } => {
                if track >= tracks.len() {
                    continue;
                }
                info!(rendition = %channel.renditions[track].name, codecs = %codec.rfc6381(), "track ready");
                channel.restream.codec(track, &codec);
                let mut segmenter = Segmenter::new(&codec);
                let mut outputs = Vec::new();
                if let Some(g) = &grid {
                    outputs = segmenter.set_grid(g.clone());
                }
                sink.init(track, codec).await;
                let t = tracks[track].insert(Track {
                    segmenter,
                    wall_offset: 0,
                });
                let offset = t.wall_offset;
                sink.publish(grid.as_ref(), track, offset, outputs).await;
            }
            MediaEvent::Sample {
                track,
                sample,
                wall_ns,
            } => {
                let Some(Some(t)) = tracks.get_mut(track) else {
                    continue;
                };
                t.wall_offset = i128::from(wall_ns) - i128::from(sample.pts_ns);
                channel.health.sample(
                    track,
                    sample.data.len(),
                    sample.pts_ns,
                    std::time::Instant::now(),
                );
                base_offset = t.wall_offset;
                channel.restream.push(track, &sample);
                let mut outputs = Vec::new();
                if grid.is_none() && track == 0 {
                    // The reference video track's first frame starts the clock.
                    let first_msn = wall_ns / segment_ns.max(1) + 1;
                    let g = Grid::new(sample.pts_ns, first_msn, segment_ns, part_ns);
                    pipeline.force_keyframe_at(g.boundary(first_msn + 1));
                    pipeline.force_keyframe_at(g.boundary(first_msn + 2));
                    grid = Some(g.clone());
                    for (i, other) in tracks.iter_mut().enumerate() {
                        if let Some(other) = other {
                            let out = other.segmenter.set_grid(g.clone());
                            let offset = other.wall_offset;
                            sink.publish(grid.as_ref(), i, offset, out).await;
                        }
                    }
                }
                let Some(Some(t)) = tracks.get_mut(track) else {
                    continue;
                };
                outputs.extend(t.segmenter.push(sample));
                let offset = t.wall_offset;
                sink.publish(grid.as_ref(), track, offset, outputs).await;
                // The latest cut is through: the marks that waited for it.
                let through = matches!(latest_cut, Some((_, c)) if reached(&tracks, c.msn));
                if through && !deferred.is_empty() {
                    if let Some(now) = pipeline.running_time_now() {
                        if let Some(cut) =
                            cut_at(now, &pipeline, &mut grid, &mut tracks, base_offset)
                        {
                            latest_cut = Some((now, cut));
                            for reply in deferred.drain(..) {
                                let _ = reply.send(cut);
                            }
                        }
                    }
                }
            }
            MediaEvent::AudioLevel { rms_db, peak_db } => {
                channel
                    .health
                    .level(rms_db, peak_db, std::time::Instant::now());
            }
            MediaEvent::Eos => {
                info!("end of stream");
                break;
            }
            MediaEvent::Error(text) => {
                // The parts written so far are durable: index them, and
                // the run's end.
                sink.end_run();
                pipeline.stop();
                return Err(text);
            }
        }
    }
    for (i, t) in tracks.iter_mut().enumerate() {
        if let Some(t) = t {
            let out = t.segmenter.finish();
            let offset = t.wall_offset;
            sink.publish(None, i, offset, out).await;
        }
    }
    sink.end_run();
    channel.set_commands(None);
    pipeline.stop();
    channel.end();
    Ok(())
}

/// A private part's switch closer than this after the latest cut shares its
/// boundary: a segment between them could hold no video frame (25 fps:
/// 40 ms) in a rendition that has not reached the latest cut yet. (A mark
/// waits until every rendition has.)
const MIN_CUT_GAP_NS: u64 = 100_000_000;

/// Whether every rendition has begun segment `msn` (a cut is through).
/// A rendition more than a segment behind the reference does not hold the
/// others up.
fn reached(tracks: &[Option<Track>], msn: u64) -> bool {
    let opens: Vec<Option<u64>> = tracks
        .iter()
        .flatten()
        .map(|t| t.segmenter.open_msn())
        .collect();
    let reference = tracks
        .first()
        .and_then(|t| t.as_ref())
        .and_then(|t| t.segmenter.open_msn());
    opens.iter().all(|o| o.is_some_and(|o| o >= msn)) || reference.is_some_and(|r| r > msn)
}

/// Re-phases the segment clock at running time `at`: a new segment starts on
/// the first frame at or after it in every rendition, numbered after every
/// segment any rendition has begun. `None` until the clock runs and the
/// reference track has an open segment, or when `at` is not after the
/// latest cut.
fn cut_at(
    at: u64,
    pipeline: &Pipeline,
    grid: &mut Option<Grid>,
    tracks: &mut [Option<Track>],
    base_offset: i128,
) -> Option<Cut> {
    let g = grid.as_mut()?;
    tracks
        .first()
        .and_then(|t| t.as_ref())
        .and_then(|t| t.segmenter.open_msn())?;
    let opens: Vec<u64> = tracks
        .iter()
        .flatten()
        .filter_map(|t| t.segmenter.open_msn())
        .collect();
    let newest = *opens.iter().max()?;
    let msn = (newest + 1).max(g.latest().0 + 1);
    if !g.cut(at, msn) {
        return None;
    }
    // Keyframes the old phase asked for after the cut are not boundaries
    // any more; those before it (a cut scheduled slightly ahead, not yet
    // encoded) still are.
    pipeline.clear_keyframe_schedule_after(at);
    for k in 0..3 {
        pipeline.force_keyframe_at(g.boundary(msn + k));
    }
    for t in tracks.iter_mut().flatten() {
        t.segmenter.cut(at, msn);
    }
    if let Some(&oldest) = opens.iter().min() {
        g.forget_before(oldest);
    }
    let wall = u64::try_from(i128::from(at) + base_offset).unwrap_or(0);
    Some(Cut { msn, wall_ns: wall })
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Where a run's output goes: the archive first (durable), then the live
/// window (announced) and the catalog (indexed, through the [`Indexer`]).
struct Sink<'a> {
    channel: &'a LiveChannel,
    pipeline: &'a Pipeline,
    archive: &'a ArchiveStore,
    run: &'a str,
    indexer: &'a Indexer,
    /// When the run began (Unix ns): its `recordings.started_at`.
    started_ns: u64,
    /// The run's `recordings` row has been asked for (its first init
    /// segment is on disk).
    indexed: bool,
    /// Per track, the segment being written.
    open: Vec<Option<OpenSegment>>,
    /// Wall-clock end of the latest segment indexed.
    ended_ns: Option<u64>,
}

/// What of a segment has reached the archive so far.
struct OpenSegment {
    msn: u64,
    /// Its parts written, summed; `None` before the first.
    written: Option<ArchivedSegment>,
    /// A part could not be written: the rest of the segment is not
    /// archived (appending after a failed write could leave bytes the index
    /// does not describe) and the segment is not indexed; the next start
    /// adopts what reached the disk.
    failed: bool,
}

impl Sink<'_> {
    /// Writes a track's init segment and description to the archive, then
    /// gives them to the live window and, once durable, to the catalog.
    async fn init(&mut self, track: usize, codec: Codec) {
        let Some(info) = self.channel.renditions.get(track) else {
            return;
        };
        let meta = info.meta(&codec);
        let init = writer::init_segment(&codec);
        let (store, channel, run, bytes, described) = (
            self.archive.clone(),
            self.channel.id.clone(),
            self.run.to_owned(),
            init.clone(),
            meta.clone(),
        );
        let result = tokio::task::spawn_blocking(move || {
            store.write_init(&channel, &run, &described, &bytes)
        })
        .await;
        if report("init segment", result) {
            if !self.indexed {
                self.indexed = true;
                self.indexer.send(IndexOp::Begin {
                    channel: self.channel.id.clone(),
                    run: self.run.to_owned(),
                    started_at: self.started_ns,
                });
            }
            self.indexer.send(IndexOp::Rendition {
                run: self.run.to_owned(),
                meta,
            });
        }
        self.channel.set_codec(track, codec, init);
    }

    /// Archives segmenter output, then announces it in the live window; on
    /// the reference track, keeps the keyframe requests two segments ahead.
    /// A segment whose parts are all durable is indexed when it ends.
    async fn publish(
        &mut self,
        grid: Option<&Grid>,
        track: usize,
        wall_offset: i128,
        outputs: Vec<Output>,
    ) {
        for o in outputs {
            match o {
                Output::Part(p) => {
                    if track == 0 && p.index == 0 {
                        if let Some(g) = grid {
                            self.pipeline.force_keyframe_at(g.boundary(p.msn + 2));
                        }
                    }
                    let wall =
                        u64::try_from((i128::from(p.start_ns) + wall_offset).max(0)).unwrap_or(0);
                    let indexed = IndexedPart {
                        msn: p.msn,
                        part: p.index,
                        bytes: p.fragment.len() as u64,
                        duration: p.duration,
                        timescale: p.timescale,
                        wall_ns: wall,
                        independent: p.independent,
                    };
                    if self
                        .open
                        .get(track)
                        .and_then(Option::as_ref)
                        .is_some_and(|o| o.msn != p.msn)
                    {
                        // A new segment without an end of the previous one.
                        self.index_segment(track);
                    }
                    if let Some(slot @ None) = self.open.get_mut(track) {
                        *slot = Some(OpenSegment {
                            msn: p.msn,
                            written: None,
                            failed: false,
                        });
                    }
                    let failed_before = self
                        .open
                        .get(track)
                        .and_then(Option::as_ref)
                        .is_some_and(|o| o.failed);
                    let written = if failed_before {
                        false
                    } else {
                        let rendition = self.channel.renditions[track].name.clone();
                        let (store, channel, run, bytes, line) = (
                            self.archive.clone(),
                            self.channel.id.clone(),
                            self.run.to_owned(),
                            p.fragment.clone(),
                            indexed.clone(),
                        );
                        let result = tokio::task::spawn_blocking(move || {
                            store.append_part(&channel, &run, &rendition, &line, &bytes)
                        })
                        .await;
                        // The live transmission is required by law even when
                        // the recording fails: announce it anyway, and say so
                        // loudly.
                        report("part", result)
                    };
                    if let Some(Some(open)) = self.open.get_mut(track) {
                        if written {
                            match &mut open.written {
                                Some(s) => s.add(&indexed),
                                None => open.written = Some(ArchivedSegment::from_part(&indexed)),
                            }
                        } else {
                            open.failed = true;
                        }
                    }
                    self.channel.push_part(track, &p, wall);
                }
                Output::SegmentEnd { msn } => {
                    if self
                        .open
                        .get(track)
                        .and_then(Option::as_ref)
                        .is_some_and(|o| o.msn == msn)
                    {
                        self.index_segment(track);
                    }
                    self.channel.end_segment(track, msn);
                }
            }
        }
    }

    /// Indexes a track's open segment (its parts are durable), unless a part
    /// of it failed.
    fn index_segment(&mut self, track: usize) {
        let Some(open) = self.open.get_mut(track).and_then(Option::take) else {
            return;
        };
        let Some(rendition) = self.channel.renditions.get(track).map(|r| r.name.clone()) else {
            return;
        };
        if open.failed {
            warn!(
                %rendition,
                msn = open.msn,
                "a part of the segment could not be archived; the segment is not listed until the next start adopts what reached the disk"
            );
            return;
        }
        let Some(segment) = open.written else {
            return;
        };
        let path =
            match self
                .archive
                .segment_path(&self.channel.id, self.run, &rendition, segment.msn)
            {
                Ok(p) => p,
                Err(e) => {
                    error!(error = %e, "cannot name the segment file");
                    return;
                }
            };
        self.ended_ns = self.ended_ns.max(Some(segment.end_ns()));
        self.indexer.send(IndexOp::Segment {
            run: self.run.to_owned(),
            rendition,
            path,
            segment,
        });
    }

    /// The run is over (a clean end, or the pipeline failed): indexes the
    /// segments left open, whose parts are durable, and the run's end.
    fn end_run(&mut self) {
        for track in 0..self.open.len() {
            self.index_segment(track);
        }
        if self.indexed {
            self.indexer.send(IndexOp::End {
                run: self.run.to_owned(),
                ended_at: self.ended_ns.unwrap_or(self.started_ns),
            });
        }
    }
}

/// Logs a failed archive write; whether it succeeded.
fn report(what: &str, result: Result<std::io::Result<()>, tokio::task::JoinError>) -> bool {
    match result {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            error!(error = %e, "cannot archive the {what}: the recording has a gap");
            false
        }
        Err(e) => {
            error!(error = %e, "archive writer failed on the {what}");
            false
        }
    }
}
