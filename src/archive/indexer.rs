//! The recorder's catalog writer: keeps the archive's index in the catalog
//! (`recordings`, `recording_renditions`, `recording_segments`) in step with
//! the files, off the recorder's path.
//!
//! The recorder sends an [`IndexOp`] only once the files it describes are
//! fsynced (an init segment written, every part of a segment and its index
//! lines appended). A task of its own writes the ops in order, batching
//! whatever queued while the previous transaction ran, in a blocking thread:
//! the recorder never waits on the catalog, and a slow or failing catalog
//! never delays the live window. A batch that fails with a database error
//! is retried a few times; after that, or at once when the catalog refuses
//! an op, the ops are written one by one and what still fails is logged and
//! left to reconciliation at the next start (the files are the source of
//! truth; a missing row is adopted then).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::task::JoinHandle;
use tracing::{error, warn};

use crate::catalog::db::{Catalog, ErrorKind};
use crate::catalog::recordings::IndexOp;

/// Attempts of a batch before it is written op by op.
const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled for each further one.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// A running catalog writer. [`Indexer::close`] writes what is queued and
/// stops it.
#[derive(Debug)]
pub struct Indexer {
    tx: mpsc::UnboundedSender<IndexOp>,
    task: JoinHandle<()>,
}

impl Indexer {
    /// Starts the writer task on the current runtime.
    pub fn start(catalog: Arc<Mutex<Catalog>>) -> Indexer {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_loop(catalog, rx));
        Indexer { tx, task }
    }

    /// Queues `op`; never waits.
    pub fn send(&self, op: IndexOp) {
        if self.tx.send(op).is_err() {
            error!("the catalog writer has stopped; the next start adopts this from the archive");
        }
    }

    /// Writes everything queued, then stops.
    pub async fn close(self) {
        drop(self.tx);
        if let Err(e) = self.task.await {
            error!(error = %e, "the catalog writer failed");
        }
    }
}

async fn write_loop(catalog: Arc<Mutex<Catalog>>, mut rx: mpsc::UnboundedReceiver<IndexOp>) {
    let mut pending: Vec<IndexOp> = Vec::new();
    let mut open = true;
    let mut attempt = 0u32;
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(op) => pending.push(op),
                None => break,
            }
        }
        loop {
            match rx.try_recv() {
                Ok(op) => pending.push(op),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        let batch = std::mem::take(&mut pending);
        let count = batch.len();
        let (batch, result) = write(&catalog, batch).await;
        let Err((kind, message)) = result else {
            attempt = 0;
            continue;
        };
        attempt += 1;
        if kind == ErrorKind::Internal && attempt < ATTEMPTS && open {
            let delay = RETRY_DELAY * 2u32.pow(attempt - 1);
            warn!(error = %message, ops = count, "cannot write the archive's rows to the catalog; retrying in {delay:?}");
            pending = batch;
            tokio::time::sleep(delay).await;
            continue;
        }
        attempt = 0;
        one_by_one(&catalog, batch).await;
        if !open && pending.is_empty() {
            break;
        }
    }
}

type Outcome = Result<(), (ErrorKind, String)>;

/// Writes `batch` in one transaction; gives it back with the outcome.
async fn write(catalog: &Arc<Mutex<Catalog>>, batch: Vec<IndexOp>) -> (Vec<IndexOp>, Outcome) {
    let catalog = catalog.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut c = catalog.lock().unwrap_or_else(|e| e.into_inner());
        let result = c
            .apply_index_ops(&batch, None)
            .map_err(|e| (e.kind(), e.to_string()));
        drop(c);
        (batch, result)
    })
    .await;
    match joined {
        Ok(done) => done,
        Err(e) => (
            Vec::new(),
            Err((ErrorKind::Internal, format!("the catalog task failed: {e}"))),
        ),
    }
}

/// Writes each op in a transaction of its own; logs what fails.
async fn one_by_one(catalog: &Arc<Mutex<Catalog>>, batch: Vec<IndexOp>) {
    let catalog = catalog.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut c = catalog.lock().unwrap_or_else(|e| e.into_inner());
        let mut failed = Vec::new();
        for op in &batch {
            if let Err(e) = c.apply_index_ops(std::slice::from_ref(op), None) {
                failed.push((describe(op), e.to_string()));
            }
        }
        failed
    })
    .await;
    match joined {
        Ok(failed) => {
            if let Some((op, first)) = failed.first() {
                error!(
                    failed = failed.len(),
                    first = %op,
                    error = %first,
                    "cannot index archived media in the catalog; the next start adopts it from the archive"
                );
            }
        }
        Err(e) => error!(error = %e, "the catalog task failed"),
    }
}

/// A short description of an op, for the log.
fn describe(op: &IndexOp) -> String {
    match op {
        IndexOp::Begin { channel, run, .. } => format!("run {channel}/{run}"),
        IndexOp::Rendition { run, meta } => format!("rendition {run}/{}", meta.name),
        IndexOp::Segment { path, .. } => format!("segment {path}"),
        IndexOp::End { run, .. } => format!("the end of run {run}"),
        IndexOp::ForgetSegment {
            run,
            rendition,
            msn,
        } => format!("removal of segment {run}/{rendition}/{msn}"),
        IndexOp::ForgetRendition { run, rendition } => {
            format!("removal of rendition {run}/{rendition}")
        }
        IndexOp::ForgetRun { run } => format!("removal of run {run}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::store::{ArchivedSegment, IndexedPart, RenditionMeta};

    fn meta() -> RenditionMeta {
        RenditionMeta {
            name: "audio".into(),
            codecs: "mp4a.40.2".into(),
            video: false,
            width: 0,
            height: 0,
            bitrate_kbps: 128,
            framerate: 0,
        }
    }

    fn segment(msn: u64) -> IndexOp {
        IndexOp::Segment {
            run: "r1".into(),
            rendition: "audio".into(),
            path: format!("main/r1/audio/{msn}.m4s"),
            segment: ArchivedSegment::from_part(&IndexedPart {
                msn,
                part: 0,
                bytes: 100,
                duration: 96_000,
                timescale: 48_000,
                wall_ns: msn * 2_000_000_000,
                independent: true,
            }),
        }
    }

    #[tokio::test]
    async fn ops_are_written_in_order_and_a_refused_one_does_not_stop_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(Mutex::new(
            Catalog::open(&dir.path().join("catalog.db")).unwrap(),
        ));
        let indexer = Indexer::start(catalog.clone());
        indexer.send(IndexOp::Begin {
            channel: "main".into(),
            run: "r1".into(),
            started_at: 1_000,
        });
        indexer.send(IndexOp::Rendition {
            run: "r1".into(),
            meta: meta(),
        });
        indexer.send(segment(5));
        // Refused: no such run. Written alone, logged, and skipped.
        indexer.send(IndexOp::End {
            run: "r2".into(),
            ended_at: 1,
        });
        indexer.send(segment(6));
        indexer.send(IndexOp::End {
            run: "r1".into(),
            ended_at: 14_000_000_000,
        });
        indexer.close().await;

        let c = catalog.lock().unwrap();
        let run = c.indexed_run("r1").unwrap().expect("the run is indexed");
        let msns: Vec<u64> = run.segments.iter().map(|s| s.segment.msn).collect();
        assert_eq!(msns, [5, 6]);
        assert_eq!(run.ended_at, Some(14_000_000_000));
        assert_eq!(run.renditions, [meta()]);
    }
}
