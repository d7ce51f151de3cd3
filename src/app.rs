//! Wiring and ordered shutdown: the only module that knows all the others.
//!
//! Start: GStreamer and its elements are checked, the catalog is opened
//! (and told the configured channels), the archive is recovered and the
//! catalog reconciled with it, each channel gets a live window and a
//! recorder task, then the HTTP server accepts requests.
//! Stop (the `shutdown` future resolves): recorders push end of stream
//! through their pipelines and end their live windows, which wakes every
//! held request; the HTTP server then finishes in-flight requests.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::archive::reconcile;
use crate::archive::store::ArchiveStore;
use crate::catalog::db::Catalog;
use crate::config::{ChannelConfig, Config, RtspTransport, SourceConfig, SrtMode};
use crate::http::{self, AppState};
use crate::live::{LiveChannel, RenditionInfo, RenditionKind, Timing};
use crate::media::{self, GraphSpec, IngestSource, IngestSpec, SourceSpec, VideoSpec};
use crate::recorder;

/// The encode graph of a channel, from the deployment config.
pub fn graph_spec(config: &Config, channel: &ChannelConfig) -> GraphSpec {
    let e = &config.encoding;
    let frames_per_segment = (config.hls.segment_duration * f64::from(e.framerate)).round() as u32;
    GraphSpec {
        source: match &channel.source {
            SourceConfig::Test => SourceSpec::Test,
            _ => SourceSpec::Inter {
                name: channel.id.clone(),
                timeout_ns: (channel.source_timeout * 1e9).round() as u64,
            },
        },
        // The cameras, then the backup source (`backup_input()`).
        extra_inputs: (1..=channel.inputs.len() + usize::from(channel.backup.is_some()))
            .map(|i| {
                (
                    input_inter_name(&channel.id, i),
                    (channel.source_timeout * 1e9).round() as u64,
                )
            })
            .collect(),
        backup: channel.backup.is_some(),
        framerate: e.framerate,
        x264_preset: e.x264_preset.clone(),
        video: e
            .video
            .iter()
            .map(|v| VideoSpec {
                name: v.name.clone(),
                width: v.width,
                height: v.height,
                bitrate_kbps: v.bitrate,
            })
            .collect(),
        audio_bitrate_kbps: e.audio_bitrate,
        audio_rate: e.audio_rate,
        // Forced keyframes come every segment; a natural one only if forcing
        // ever failed.
        key_int_max: frames_per_segment * 2,
    }
}

/// The lower third's line of a session's current item: its latest item
/// mark ("Punkt 7a: …").
fn current_item_line(session: &crate::catalog::db::SessionView) -> Option<String> {
    let number = session
        .timeline
        .iter()
        .rev()
        .find(|m| m.kind == crate::catalog::db::MarkKind::Item)?
        .agenda_number
        .clone()?;
    let title = session
        .agenda
        .iter()
        .find(|a| a.number == number)
        .map(|a| a.title.clone())
        .unwrap_or_default();
    Some(media::graphics::item_line(&number, &title))
}

/// Checks that every GStreamer element `channel` needs exists: its sources'
/// (camera 0, the other cameras, the backup), the cameras' compositor and
/// mixer, restreaming. The error names the channel, the input and the
/// Debian package to install.
fn check_elements(config: &Config, channel: &ChannelConfig) -> anyhow::Result<()> {
    let backup = channel.backup_input();
    let sources = std::iter::once((0, "source".to_owned(), &channel.source))
        .chain(
            channel
                .inputs
                .iter()
                .enumerate()
                .map(|(k, i)| (k + 1, format!("input {:?}", i.name), &i.source)),
        )
        .chain(
            channel
                .backup
                .iter()
                .map(|b| (backup, "backup".to_owned(), b)),
        );
    for (i, what, source) in sources {
        let Some(spec) = input_ingest_spec(config, channel, i, source) else {
            continue;
        };
        for element in spec.source.required_elements() {
            media::require(element).with_context(|| {
                format!("channel {:?}, {what} ({})", channel.id, source.describe())
            })?;
        }
    }
    let mut graph: Vec<&'static str> = Vec::new();
    if !channel.restream.is_empty() {
        graph.extend(media::RESTREAM_ELEMENTS);
    }
    if !channel.inputs.is_empty() || channel.backup.is_some() {
        graph.extend(media::CAMERAS_ELEMENTS);
    }
    for element in graph {
        media::require(element).with_context(|| format!("channel {:?}", channel.id))?;
    }
    Ok(())
}

/// The inter channels' name of input `i` of a channel (0: the channel's id).
pub fn input_inter_name(channel: &str, i: usize) -> String {
    if i == 0 {
        channel.to_owned()
    } else {
        format!("{channel}-{i}")
    }
}

/// The ingest of a channel's first input, unless it is the embedded test
/// source.
pub fn ingest_spec(config: &Config, channel: &ChannelConfig) -> Option<IngestSpec> {
    input_ingest_spec(config, channel, 0, &channel.source)
}

/// The ingest of input `i` of a channel (`source`: its source).
pub fn input_ingest_spec(
    config: &Config,
    channel: &ChannelConfig,
    i: usize,
    source: &SourceConfig,
) -> Option<IngestSpec> {
    let source = match source {
        SourceConfig::Test => return None,
        SourceConfig::Rtsp { url, transport } => IngestSource::Rtsp {
            url: url.clone(),
            tcp: *transport == RtspTransport::Tcp,
        },
        SourceConfig::Srt {
            mode,
            address,
            passphrase,
            latency_ms,
        } => IngestSource::Srt {
            listener: *mode == SrtMode::Listener,
            address: address.clone(),
            passphrase: passphrase.clone(),
            latency_ms: *latency_ms,
        },
        SourceConfig::Device { video, audio } => IngestSource::Device {
            video: video.clone(),
            audio: audio.clone(),
        },
        SourceConfig::File { path } => IngestSource::File { path: path.clone() },
    };
    let (width, height) = config
        .encoding
        .video
        .first()
        .map(|v| (v.width, v.height))
        .unwrap_or((1280, 720));
    Some(IngestSpec {
        name: input_inter_name(&channel.id, i),
        source,
        width,
        height,
        framerate: config.encoding.framerate,
        audio_rate: config.encoding.audio_rate,
        timeout: std::time::Duration::from_secs_f64(channel.source_timeout),
    })
}

/// The renditions of a channel in track order: video ladder, then audio.
pub fn renditions(config: &Config) -> Vec<RenditionInfo> {
    let e = &config.encoding;
    let mut r: Vec<RenditionInfo> = e
        .video
        .iter()
        .map(|v| RenditionInfo {
            name: v.name.clone(),
            kind: RenditionKind::Video {
                width: v.width,
                height: v.height,
                bitrate_kbps: v.bitrate,
                framerate: e.framerate,
            },
        })
        .collect();
    r.push(RenditionInfo {
        name: "audio".into(),
        kind: RenditionKind::Audio {
            bitrate_kbps: e.audio_bitrate,
        },
    });
    r
}

/// Finds the web directory: as configured, or next to the source tree
/// (a directory counts when it has the page templates).
pub fn resolve_web_dir(configured: &Path) -> PathBuf {
    find_web_dir(configured, Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn find_web_dir(configured: &Path, source: &Path) -> PathBuf {
    const MARK: &str = "templates";
    if configured.is_absolute() || configured.join(MARK).is_dir() {
        return configured.to_owned();
    }
    let beside_source = source.join(configured);
    if beside_source.join(MARK).is_dir() {
        beside_source
    } else {
        configured.to_owned()
    }
}

/// Runs obrady on `listener` until `shutdown` resolves.
/// A camera's loss or return, on its way to the catalog.
#[derive(Debug)]
struct SourceNote {
    channel: String,
    input: usize,
    name: Option<String>,
    /// `Some(why)` when lost, `None` when back.
    reason: Option<String>,
    wall_ns: i64,
}

impl SourceNote {
    fn new(channel: &str, input: usize, name: Option<&str>, event: media::SourceEvent) -> Self {
        let wall_ns = crate::catalog::now_ns();
        SourceNote {
            channel: channel.to_owned(),
            input,
            name: name.map(str::to_owned),
            reason: match event {
                media::SourceEvent::Lost { reason } => Some(reason),
                media::SourceEvent::Back => None,
            },
            wall_ns,
        }
    }
}

/// Writes every [`SourceNote`] to the catalog (`source_events`), in order,
/// until every ingest has stopped. One blocking thread for the server's
/// life (not one per note from the blocking pool, whose threads come and
/// go: the camera test counts threads).
fn record_source_events(
    mut notes: tokio::sync::mpsc::UnboundedReceiver<SourceNote>,
    catalog: Arc<std::sync::Mutex<Catalog>>,
) {
    while let Some(note) = notes.blocking_recv() {
        let mut c = catalog.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = c.record_source_event(
            &note.channel,
            note.input,
            note.name.as_deref(),
            note.reason.as_deref(),
            note.wall_ns,
        ) {
            tracing::error!(error = %e, ?note, "cannot record a source event in the catalog");
        }
    }
}

pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    media::init()?;
    for c in &config.channels {
        check_elements(&config, c)?;
    }
    std::fs::create_dir_all(&config.storage.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.storage.data_dir.display()
        )
    })?;
    // The catalog first: reconciliation needs it before any recorder runs,
    // and recorders index what they write in it.
    let db_path = config.storage.data_dir.join("obrady.db");
    let catalog = tokio::task::spawn_blocking(move || Catalog::open(&db_path))
        .await
        .context("catalog task")??;
    let catalog = Arc::new(std::sync::Mutex::new(catalog));
    let configured: Vec<(String, String)> = config
        .channels
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    let default_channel = http::default_channel_id(configured.iter().map(|(id, _)| id.as_str()));
    let synced = {
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = catalog.lock().unwrap_or_else(|e| e.into_inner());
            c.sync_channels(&configured, default_channel.as_deref())
        })
        .await
        .context("catalog task")?
        .context("cannot record the configured channels in the catalog")?
    };
    if !synced.added.is_empty() || !synced.renamed.is_empty() {
        info!(added = ?synced.added, renamed = ?synced.renamed, "channels recorded in the catalog");
    }
    if !synced.bound_sessions.is_empty() {
        tracing::warn!(sessions = ?synced.bound_sessions, "sessions started before channels were recorded are bound to the default channel");
    }
    let archive = ArchiveStore::new(&config.storage.data_dir);
    let report = {
        let store = archive.clone();
        tokio::task::spawn_blocking(move || store.recover())
            .await
            .context("archive recovery task")?
            .context("cannot recover the archive")?
    };
    info!(
        parts = report.parts,
        renditions = report.renditions,
        truncated_bytes = report.truncated_bytes,
        dropped_index_lines = report.dropped_index_lines,
        removed_files = report.removed_files.len(),
        "archive checked"
    );
    for f in &report.removed_files {
        tracing::warn!(file = %f.display(), "removed a segment file the index never listed");
    }
    // Files and catalog agree before anything is recorded or served. A
    // failure is logged, not fatal: the broadcast must go on, and the next
    // start tries again.
    let reconciled = {
        let (store, catalog) = (archive.clone(), catalog.clone());
        tokio::task::spawn_blocking(move || {
            let mut c = catalog.lock().unwrap_or_else(|e| e.into_inner());
            reconcile::reconcile(&store, &mut c)
        })
        .await
        .context("reconciliation task")?
    };
    match reconciled {
        Ok(r) => info!(
            runs = r.runs,
            segments = r.segments,
            adopted_runs = r.adopted_runs.len(),
            adopted_renditions = r.adopted_renditions,
            adopted_segments = r.adopted_segments,
            corrected_rows = r.corrected_rows,
            removed_segments = r.removed_segments.len(),
            removed_renditions = r.removed_renditions.len(),
            removed_runs = r.removed_runs.len(),
            closed_runs = r.closed_runs.len(),
            broken_segments = r.broken_segments.len(),
            failed_runs = r.failed_runs.len(),
            "catalog reconciled with the archive"
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot reconcile the catalog with the archive; the archive listings may be incomplete until the next start")
        }
    }
    let timing = Timing {
        part_target: config.hls.part_duration,
        segment_target: config.hls.segment_duration,
        window: config.hls.window,
    };
    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut channels = HashMap::new();
    // Every loss and return of a camera goes to the catalog, bound to the
    // session live on its channel (the ingest callbacks never wait on it).
    let (source_log, notes) = tokio::sync::mpsc::unbounded_channel();
    let writer_catalog = catalog.clone();
    tracker.spawn_blocking(move || record_source_events(notes, writer_catalog));
    for c in &config.channels {
        let mut live = LiveChannel::new(c.id.clone(), c.name.clone(), renditions(&config), timing);
        if !c.restream.is_empty() {
            let destinations = c
                .restream
                .iter()
                .map(|r| media::restream::Destination {
                    url: r.url.clone(),
                    key: r.key.clone(),
                })
                .collect();
            // The top video rendition and the audio (the last track).
            live.restream = Arc::new(media::Restream::new(
                destinations,
                0,
                config.encoding.video.len(),
            ));
        }
        live.inputs = c
            .inputs
            .iter()
            .map(|input| (input.name.clone(), Arc::default()))
            .collect();
        if c.backup.is_some() {
            live.backup = Some(Arc::default());
        }
        let channel = Arc::new(live);
        for (k, input) in c.inputs.iter().enumerate() {
            if let Some(spec) = input_ingest_spec(&config, c, k + 1, &input.source) {
                info!(channel = %c.id, input = %input.name, source = %input.source.describe(), "ingesting");
                let status = channel.inputs[k].1.clone();
                let (id, name, log) = (c.id.clone(), input.name.clone(), source_log.clone());
                tracker.spawn(media::ingest::run(spec, status, stop.clone(), move |event| {
                    match &event {
                        media::SourceEvent::Lost { reason } => {
                            tracing::warn!(channel = %id, input = %name, %reason, "camera lost: its failover slate is on")
                        }
                        media::SourceEvent::Back => {
                            info!(channel = %id, input = %name, "camera back")
                        }
                    }
                    let _ = log.send(SourceNote::new(&id, k + 1, Some(&name), event));
                }));
            }
        }
        if let (Some(backup), Some(status)) = (&c.backup, &channel.backup) {
            let i = c.backup_input();
            if let Some(spec) = input_ingest_spec(&config, c, i, backup) {
                info!(channel = %c.id, source = %backup.describe(), "ingesting the backup source");
                let (id, log) = (c.id.clone(), source_log.clone());
                tracker.spawn(media::ingest::run(
                    spec,
                    status.clone(),
                    stop.clone(),
                    move |event| {
                        match &event {
                            media::SourceEvent::Lost { reason } => {
                                tracing::warn!(channel = %id, %reason, "backup source lost")
                            }
                            media::SourceEvent::Back => info!(channel = %id, "backup source back"),
                        }
                        let _ = log.send(SourceNote::new(&id, i, Some("backup"), event));
                    },
                ));
            }
        }
        if !channel.restream.is_empty() {
            info!(channel = %c.id, destinations = ?c.restream, "restreaming while a session is live");
            tracker.spawn(media::restream::run(channel.restream.clone(), stop.clone()));
        }
        channel.health.set_audio_watch(crate::health::AudioWatch {
            silence_after: std::time::Duration::from_secs_f64(c.silence_alert),
            clipping_after: std::time::Duration::from_secs_f64(c.clipping_alert),
        });
        channel.set_slate_session(None);
        channels.insert(c.id.clone(), channel.clone());
        if let Some(spec) = ingest_spec(&config, c) {
            info!(channel = %c.id, source = %c.source.describe(), "ingesting");
            let (id, log) = (c.id.clone(), source_log.clone());
            tracker.spawn(media::ingest::run(
                spec,
                channel.source.clone(),
                stop.clone(),
                move |event| {
                    match &event {
                        media::SourceEvent::Lost { reason } => {
                            tracing::warn!(channel = %id, %reason, "source lost: the failover slate is on the air")
                        }
                        media::SourceEvent::Back => {
                            info!(channel = %id, "source back on the air")
                        }
                    }
                    let _ = log.send(SourceNote::new(&id, 0, None, event));
                },
            ));
        }
        tracker.spawn(recorder::run(
            channel,
            graph_spec(&config, c),
            timing,
            archive.clone(),
            catalog.clone(),
            stop.clone(),
        ));
    }
    // The ingests hold the only senders now: the log ends after them.
    drop(source_log);
    tracker.close();
    // A session still live after a restart: its restreams go on, and its
    // current item is in the lower third again.
    let in_use = {
        let catalog = catalog.clone();
        tokio::task::spawn_blocking(move || {
            let c = catalog.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = Vec::new();
            for (channel, session) in c.channels_in_use()? {
                out.push((channel, c.get_session(session)?));
            }
            Ok::<_, crate::catalog::db::CatalogError>(out)
        })
        .await
        .context("catalog task")?
    };
    match in_use {
        Ok(live) => {
            for (id, session) in live {
                let Some(c) = channels.get(&id) else {
                    continue;
                };
                c.restream.set_on(true);
                c.set_slate_session(Some(&session.title));
                if let Some(line) = current_item_line(&session) {
                    c.graphics.update(|g| g.item = Some(line));
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot tell which channels have a live session"),
    }

    let web_dir = resolve_web_dir(&config.http.web_dir);
    let state = AppState {
        channels: Arc::new(channels),
        archive,
        catalog,
    };
    http::auth::bootstrap_admin(&state).await?;
    let pages = crate::pages::Pages::load(&web_dir).with_context(|| {
        format!(
            "cannot load the pages from {} (set `web_dir` under [http] in the config \
             to the `web` directory of obrady's source or installation)",
            web_dir.display()
        )
    })?;
    let router = http::router(state, web_dir, Arc::new(pages));
    let addr = listener.local_addr()?;
    info!("listening on http://{addr}/");

    let http_stop = CancellationToken::new();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(http_stop.clone().cancelled_owned());
    let server = tokio::spawn(async move { server.await });

    shutdown.await;
    info!("shutting down");
    stop.cancel();
    // Recorders end their live windows, which releases held requests.
    tracker.wait().await;
    http_stop.cancel();
    server
        .await
        .context("HTTP server task")?
        .context("HTTP server")?;
    info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_dir_is_found_in_the_working_directory_or_beside_the_source() {
        // The unit tests run in the crate's directory, which has `web`.
        let here = resolve_web_dir(Path::new("web"));
        assert_eq!(here, Path::new("web"));
        assert!(here.join("locales/pl.toml").is_file());
        // Not in the working directory: beside the source tree.
        let source = tempfile::tempdir().expect("temp dir");
        let elsewhere = Path::new("no-such-web-dir-here");
        std::fs::create_dir_all(source.path().join(elsewhere).join("templates")).expect("mkdir");
        assert_eq!(
            find_web_dir(elsewhere, source.path()),
            source.path().join(elsewhere)
        );
        // Nowhere: as configured, so the error names what was configured.
        assert_eq!(
            find_web_dir(Path::new("nowhere"), source.path()),
            Path::new("nowhere")
        );
        let absolute = Path::new("/nonexistent/web");
        assert_eq!(find_web_dir(absolute, source.path()), absolute);
    }
}
