//! The HTTP face of obrady: live playlists and media under `/live`, a health
//! document under `/api/v1`, and the static pages of `web/` at `/`.
//!
//! Handlers never wait on a pipeline: they read the live window, and a held
//! request waits only for the window to change, never longer than the
//! HLS spec's three target durations.
//!
//! Routes are registered through `utoipa_axum`'s `OpenApiRouter` with
//! `routes!(handler)`, each handler carrying its `#[utoipa::path]`: the
//! route table and the OpenAPI document (`GET /api/openapi.json`, see
//! [`openapi`]) come from the same registration.

pub(crate) mod after;
mod archive;
pub mod auth;
mod channels;
mod error;
pub mod events;
mod live;
pub mod openapi;
mod recordings;
pub(crate) use recordings::recording_length;
mod search;
mod sessions;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{header, Method};
use axum::{Json, Router};
use serde::Serialize;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};

use crate::archive::store::ArchiveStore;
use crate::catalog::db::{Catalog, CatalogError, SessionView};
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
    /// The channel a session starts on when the request names none:
    /// `main`, or the first by name (see [`default_channel_id`]).
    pub fn default_channel(&self) -> Option<Arc<LiveChannel>> {
        default_channel_id(self.channels.keys().map(String::as_str))
            .and_then(|id| self.channels.get(&id).cloned())
    }

    /// The id of the channel `session` is (or will be) on: the one it was
    /// started on, or for a session not started yet, or started before
    /// sessions were bound to channels, the default channel. `None` only
    /// when no channel is configured at all.
    pub fn session_channel_id(&self, session: &SessionView) -> Option<String> {
        session
            .channel
            .clone()
            .or_else(|| default_channel_id(self.channels.keys().map(String::as_str)))
    }

    /// The live window of the channel `session` is on, if that channel is
    /// configured (a session recorded on a room since removed has none).
    pub fn session_channel(&self, session: &SessionView) -> Option<Arc<LiveChannel>> {
        self.session_channel_id(session)
            .and_then(|id| self.channels.get(&id).cloned())
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

/// Of the channel ids `ids`, the default one: `main`, or the first by name.
pub fn default_channel_id<'a>(ids: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut first: Option<&str> = None;
    for id in ids {
        if id == "main" {
            return Some(id.to_owned());
        }
        if first.is_none_or(|f| id < f) {
            first = Some(id);
        }
    }
    first.map(str::to_owned)
}

/// The whole application's routes: [`routes`] and the static pages of
/// `web_dir` for everything else.
pub fn router(state: AppState, web_dir: PathBuf, pages: Arc<crate::pages::Pages>) -> Router {
    let document = openapi::Document::default();
    let (routes, doc) = routes(document.clone()).split_for_parts();
    if let Err(e) = document.set(&doc) {
        // Not reachable with the types in the document; the route then says 500.
        tracing::error!(error = %e, "cannot serialize the OpenAPI document");
    }
    let not_found = ServeFile::new(web_dir.join("404.html"));
    let files = ServeDir::new(web_dir)
        .append_index_html_on_directories(true)
        .not_found_service(not_found);
    // Session changes reach the session pages' event streams (see
    // [`events`]): the hub is shared with handlers as an extension, and
    // every successful change under /api/v1/sessions/{id} is published.
    let hub = events::EventHub::new();
    routes
        .merge(crate::pages::routes(pages))
        .fallback_service(files)
        // A withdrawn recording is refused to anonymous callers.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            after::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            hub.clone(),
            events::publish_changes,
        ))
        .layer(axum::Extension(hub))
        .with_state(state)
}

/// [`router`] with the pages loaded from `web_dir`.
pub fn app_router(state: AppState, web_dir: PathBuf) -> Result<Router, crate::pages::PagesError> {
    let pages = Arc::new(crate::pages::Pages::load(&web_dir)?);
    Ok(router(state, web_dir, pages))
}

/// The OpenAPI document of every route [`router`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(openapi::Document::default()).into_openapi()
}

/// Every route, each registered once for axum and for the OpenAPI document;
/// `document` is what `GET /api/openapi.json` serves.
fn routes(document: openapi::Document) -> OpenApiRouter<AppState> {
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
    // Public GET routes any web page may use: playlists, media, health,
    // the archive listing and the document itself.
    let public = OpenApiRouter::with_openapi(openapi::base())
        .merge(live::routes())
        .routes(routes!(health))
        .merge(archive::routes())
        .merge(openapi::routes(document))
        .layer(cors);
    public
        .merge(auth::routes())
        .merge(sessions::routes())
        .merge(after::routes())
        .merge(events::routes())
        .merge(recordings::routes())
        .merge(search::routes())
        .merge(channels::routes())
}

#[derive(Serialize, utoipa::ToSchema)]
struct ChannelHealth {
    id: String,
    name: String,
    /// On the air: started and not ended.
    live: bool,
    ended: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    /// Always "ok" when the server answers.
    status: &'static str,
    /// By id.
    channels: Vec<ChannelHealth>,
}

#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "meta",
    summary = "Service health and the state of every channel",
    description = "Whether the server answers and which channels are on the air. Public.",
    responses((status = 200, description = "The server is up", body = Health))
)]
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
