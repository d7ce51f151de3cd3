//! One task per channel: owns the pipeline, turns its samples into parts and
//! segments, and publishes them to the live window. It is also the segment
//! clock: it asks the encoders for keyframes at the next boundaries.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, info_span, warn, Instrument};

use crate::archive::store::{ArchiveStore, IndexedPart};
use crate::cmaf::segmenter::{Grid, Output, Segmenter};
use crate::cmaf::{writer, Codec};
use crate::live::{ChannelCommand, Cut, LiveChannel, Timing};
use crate::media::{GraphSpec, MediaEvent, Pipeline};

/// How long to wait before rebuilding a pipeline that failed.
const RESTART_DELAY: Duration = Duration::from_secs(2);
/// How long end of stream may take at shutdown before the pipeline is cut.
const EOS_GRACE: Duration = Duration::from_millis(2500);

/// Runs the channel until `shutdown`, rebuilding the pipeline if it fails.
pub async fn run(
    channel: Arc<LiveChannel>,
    spec: GraphSpec,
    timing: Timing,
    archive: ArchiveStore,
    shutdown: CancellationToken,
) {
    let span = info_span!("channel", channel = %channel.id);
    async move {
        loop {
            match run_once(&channel, &spec, timing, &archive, &shutdown).await {
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
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (cmd_tx, mut commands) = mpsc::unbounded_channel();
    channel.set_commands(Some(cmd_tx));
    // A broadcast (re)started during a non-public part starts with the slate
    // (read after the command queue is in place, so no request falls between).
    let pipeline = Pipeline::start(spec, tx, channel.is_private()).map_err(|e| e.to_string())?;
    let run = format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    );
    channel.begin_run(run.clone());
    info!(%run, "broadcast started");
    let sink = Sink {
        channel,
        pipeline: &pipeline,
        archive,
        run: &run,
    };

    let mut tracks: Vec<Option<Track>> = (0..channel.renditions.len()).map(|_| None).collect();
    let mut grid: Option<Grid> = None;
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
                            if let Some(cut) = cut_at(now, &pipeline, &mut grid, &mut tracks, base_offset) {
                                let _ = reply.send(cut);
                            }
                        }
                    }
                    ChannelCommand::SetPrivate(p, reply) => {
                        // The pipeline picks the instant (a private part
                        // begins slightly ahead, see Pipeline::set_private);
                        // the segment clock cuts there, so the span is whole
                        // segments.
                        info!(private = p, "switching the chamber {}", if p { "off the air" } else { "back on the air" });
                        if let Some(at) = pipeline.set_private(p) {
                            if let Some(cut) = cut_at(at, &pipeline, &mut grid, &mut tracks, base_offset) {
                                let _ = reply.send(cut);
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
                let mut segmenter = Segmenter::new(&codec);
                let mut outputs = Vec::new();
                if let Some(g) = grid {
                    outputs = segmenter.set_grid(g);
                }
                sink.init(track, codec).await;
                let t = tracks[track].insert(Track {
                    segmenter,
                    wall_offset: 0,
                });
                let offset = t.wall_offset;
                sink.publish(grid, track, offset, outputs).await;
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
                base_offset = t.wall_offset;
                let mut outputs = Vec::new();
                if grid.is_none() && track == 0 {
                    // The reference video track's first frame starts the clock.
                    let g = Grid {
                        origin_ns: sample.pts_ns,
                        segment_ns,
                        part_ns,
                        first_msn: wall_ns / segment_ns.max(1) + 1,
                    };
                    grid = Some(g);
                    pipeline.force_keyframe_at(g.boundary(g.first_msn + 1));
                    pipeline.force_keyframe_at(g.boundary(g.first_msn + 2));
                    for (i, other) in tracks.iter_mut().enumerate() {
                        if let Some(other) = other {
                            let out = other.segmenter.set_grid(g);
                            let offset = other.wall_offset;
                            sink.publish(grid, i, offset, out).await;
                        }
                    }
                }
                let Some(Some(t)) = tracks.get_mut(track) else {
                    continue;
                };
                outputs.extend(t.segmenter.push(sample));
                let offset = t.wall_offset;
                sink.publish(grid, track, offset, outputs).await;
            }
            MediaEvent::Eos => {
                info!("end of stream");
                break;
            }
            MediaEvent::Error(text) => {
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
    channel.set_commands(None);
    pipeline.stop();
    channel.end();
    Ok(())
}

/// Re-phases the segment clock at running time `at`: a new segment starts on
/// the first frame at or after it in every rendition. `None` until the clock
/// runs and the reference track has an open segment.
fn cut_at(
    at: u64,
    pipeline: &Pipeline,
    grid: &mut Option<Grid>,
    tracks: &mut [Option<Track>],
    base_offset: i128,
) -> Option<Cut> {
    let g = (*grid)?;
    let last = tracks
        .first()
        .and_then(|t| t.as_ref())
        .and_then(|t| t.segmenter.open_msn())?;
    let cut = Grid {
        origin_ns: at,
        first_msn: last + 1,
        ..g
    };
    pipeline.clear_keyframe_schedule();
    for k in 0..3 {
        pipeline.force_keyframe_at(cut.boundary(cut.first_msn + k));
    }
    // The same boundaries, counted from one segment earlier: a segmenter
    // ignores samples before its grid's origin (meant for the stream's very
    // first frame), and the samples still on their way, or due before a cut
    // scheduled slightly ahead, belong to the open segment.
    let regrid = match at.checked_sub(g.segment_ns) {
        Some(origin_ns) => Grid {
            origin_ns,
            first_msn: last,
            ..cut
        },
        None => cut,
    };
    for t in tracks.iter_mut().flatten() {
        t.segmenter.regrid(regrid);
    }
    *grid = Some(regrid);
    let wall = u64::try_from(i128::from(at) + base_offset).unwrap_or(0);
    Some(Cut {
        msn: cut.first_msn,
        wall_ns: wall,
    })
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Where a run's output goes: the archive first (durable), then the live
/// window (announced).
struct Sink<'a> {
    channel: &'a LiveChannel,
    pipeline: &'a Pipeline,
    archive: &'a ArchiveStore,
    run: &'a str,
}

impl Sink<'_> {
    /// Writes a track's init segment and description to the archive.
    /// Writes a track's init segment and description to the archive, then
    /// gives them to the live window.
    async fn init(&self, track: usize, codec: Codec) {
        let Some(info) = self.channel.renditions.get(track) else {
            return;
        };
        let meta = info.meta(&codec);
        let init = writer::init_segment(&codec);
        let (store, channel, run, bytes) = (
            self.archive.clone(),
            self.channel.id.clone(),
            self.run.to_owned(),
            init.clone(),
        );
        let result =
            tokio::task::spawn_blocking(move || store.write_init(&channel, &run, &meta, &bytes))
                .await;
        report("init segment", result);
        self.channel.set_codec(track, codec, init);
    }

    /// Archives segmenter output, then announces it in the live window; on
    /// the reference track, keeps the keyframe requests two segments ahead.
    async fn publish(
        &self,
        grid: Option<Grid>,
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
                    let rendition = self.channel.renditions[track].name.clone();
                    let (store, channel, run, bytes) = (
                        self.archive.clone(),
                        self.channel.id.clone(),
                        self.run.to_owned(),
                        p.fragment.clone(),
                    );
                    let result = tokio::task::spawn_blocking(move || {
                        store.append_part(&channel, &run, &rendition, &indexed, &bytes)
                    })
                    .await;
                    // The live transmission is required by law even when the
                    // recording fails: announce it anyway, and say so loudly.
                    report("part", result);
                    self.channel.push_part(track, &p, wall);
                }
                Output::SegmentEnd { msn } => self.channel.end_segment(track, msn),
            }
        }
    }
}

fn report(what: &str, result: Result<std::io::Result<()>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => error!(error = %e, "cannot archive the {what}: the recording has a gap"),
        Err(e) => error!(error = %e, "archive writer failed on the {what}"),
    }
}
