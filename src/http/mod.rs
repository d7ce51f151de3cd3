//! The HTTP face of obrady: live playlists and media under `/live`, a health
//! document under `/api/v1`, and the static pages of `web/` at `/`.
//!
//! Handlers never wait on a pipeline: they read the live window, and a held
//! request waits only for the window to change, never longer than the
//! HLS spec's three target durations.

mod archive;
pub mod auth;
mod error;
mod live;
mod recordings;
mod search;
mod sessions;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{header, Method};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

pub use error::ApiError;

use crate::archive::store::ArchiveStore;
use crate::catalog::db::{Catalog, CatalogError};
use crate::live::LiveChannel;

/// What every handler can see.
#[derive(Debug, Clone)]
pub struct AppState {
    pub channels: Arc<HashMap<String, Arc<LiveChannel>>>,
    pub archive: ArchiveStore,
    /// The catalog; use it only inside `spawn_blocking` (see [`AppState::catalog`]).
    pub catalog: Arc<Mutex<Catalog>>,
}

impl AppState {
    /// The channel sessions are broadcast on: `main`, or the first by name.
    /// (Binding a session to a chosen channel comes with multi-room setups.)
    pub fn default_channel(&self) -> Option<Arc<LiveChannel>> {
        self.channels.get("main").cloned().or_else(|| {
            let mut ids: Vec<&String> = self.channels.keys().collect();
            ids.sort();
            ids.first().and_then(|id| self.channels.get(*id)).cloned()
        })
    }

    /// Runs `f` on the catalog in a blocking thread; errors map to statuses.
    pub async fn catalog<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Catalog) -> Result<T, CatalogError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let catalog = self.catalog.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = catalog.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "catalog task failed");
            ApiError::Internal
        })?
        .map_err(ApiError::from)
    }

    fn channel(&self, id: &str) -> Result<&Arc<LiveChannel>, ApiError> {
        self.channels
            .get(id)
            .ok_or_else(|| ApiError::NotFound(format!("no channel named {id:?}")))
    }
}

/// The whole application's routes.
pub fn router(state: AppState, web_dir: PathBuf) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        .allow_headers([header::RANGE, header::IF_NONE_MATCH])
        .expose_headers([
            header::CONTENT_LENGTH,
            header::CONTENT_RANGE,
            header::ETAG,
            header::ACCEPT_RANGES,
            header::AGE,
        ]);
    let live = Router::new()
        .route("/live/{channel}/index.m3u8", get(live::multivariant))
        .route(
            "/live/{channel}/{rendition}/index.m3u8",
            get(live::media_playlist),
        )
        .route("/live/{channel}/{rendition}/{file}", get(live::media_file))
        .route("/api/v1/health", get(health))
        .route("/api/v1/archive/{channel}", get(archive::list))
        .route(
            "/archive/{channel}/{run}/index.m3u8",
            get(archive::multivariant),
        )
        .route(
            "/archive/{channel}/{run}/{rendition}/index.m3u8",
            get(archive::media_playlist),
        )
        .route(
            "/archive/{channel}/{run}/{rendition}/{file}",
            get(archive::media_file),
        )
        .layer(cors);
    let not_found = ServeFile::new(web_dir.join("404.html"));
    let pages = ServeDir::new(web_dir)
        .append_index_html_on_directories(true)
        .not_found_service(not_found);
    live.merge(auth::routes())
        .merge(sessions::routes())
        .merge(recordings::routes())
        .merge(search::routes())
        .fallback_service(pages)
        .with_state(state)
}

#[derive(Serialize)]
struct ChannelHealth {
    id: String,
    name: String,
    live: bool,
    ended: bool,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    channels: Vec<ChannelHealth>,
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Health> {
    let mut channels: Vec<ChannelHealth> = state
        .channels
        .values()
        .map(|c| ChannelHealth {
            id: c.id.clone(),
            name: c.name.clone(),
            live: c.is_ready() && !c.is_ended(),
            ended: c.is_ended(),
        })
        .collect();
    channels.sort_by(|a, b| a.id.cmp(&b.id));
    Json(Health {
        status: "ok",
        channels,
    })
}
