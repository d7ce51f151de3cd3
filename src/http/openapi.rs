//! The OpenAPI 3.1 document of the HTTP API, served at
//! `GET /api/openapi.json`.
//!
//! Nothing here lists routes. Each module registers its handlers with
//! `utoipa_axum`'s [`OpenApiRouter`] and `routes!(handler)`, and the
//! handler's `#[utoipa::path(...)]` gives the method, the path, parameters,
//! bodies, responses and credentials: axum's route table and the document
//! come from the same registration, so they cannot drift apart. This module
//! adds what is common: the info block, the security schemes, the tags,
//! and the handler that serves the finished document.

use std::sync::{Arc, OnceLock};

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::error::ErrorBody;
use super::AppState;

/// Where the document is served.
pub const PATH: &str = "/api/openapi.json";

/// Security scheme: the browser session cookie `obrady_session`.
pub const COOKIE: &str = "session_cookie";
/// Security scheme: the `X-CSRF-Token` header a cookie-authenticated
/// request that changes something must carry.
pub const CSRF: &str = "csrf_token";
/// Security scheme: `Authorization: Bearer <token>`.
pub const BEARER: &str = "bearer_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "obrady",
        version = env!("CARGO_PKG_VERSION"),
        description = "Live broadcast (LL-HLS), recording and agenda-indexed archive of \
            city-council sessions. The JSON API lives under `/api/v1`; playlists and media \
            under `/live`, `/archive` and `/vod`. Error responses are JSON \
            `{\"error\": \"...\"}` naming the parameter or field. Reading is public; changes \
            need a login: a browser session cookie plus the `X-CSRF-Token` header, or an \
            API token as `Authorization: Bearer <token>`.",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Logging in, users and API tokens"),
        (name = "sessions", description = "Council sessions, their agendas and timelines"),
        (name = "search", description = "Full-text search over sessions and agenda items"),
        (name = "archive", description = "Continuous recordings per channel"),
        (name = "live", description = "Low-Latency HLS of the channels on the air"),
        (name = "vod", description = "A session's recording: playlists, chapters, downloads"),
        (name = "channels", description = "The capture channels (rooms) and their test source"),
        (name = "meta", description = "Health and this document")
    )
)]
struct ApiDoc;

/// Defines the three security schemes operations refer to.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::auth::SESSION_COOKIE,
                "Browser session, set by POST /api/v1/login (HttpOnly, SameSite=Strict, \
                 12 hours). A request that changes something (any method but GET, HEAD, \
                 OPTIONS, TRACE) must also send the X-CSRF-Token header.",
            ))),
        );
        components.add_security_scheme(
            CSRF,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The csrf_token returned by POST /api/v1/login (and again by \
                 GET /api/v1/me); required with the session cookie on state-changing requests.",
            ))),
        );
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token an admin created (POST /api/v1/tokens); acts with its \
                         user's role. No CSRF token needed; when present, the cookie is ignored.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document's root (info, security schemes, tags), before any route.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The finished document as served: set once, after every route is
/// registered (see [`super::router`]).
#[derive(Debug, Clone, Default)]
pub struct Document(Arc<OnceLock<Bytes>>);

impl Document {
    /// Serializes `doc`; the first call wins.
    pub fn set(&self, doc: &utoipa::openapi::OpenApi) -> Result<(), serde_json::Error> {
        let bytes = Bytes::from(serde_json::to_vec(doc)?);
        let _ = self.0.set(bytes);
        Ok(())
    }
}

/// The route of the document itself (documented like every other).
pub fn routes(document: Document) -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json).layer(Extension(document)))
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    summary = "This OpenAPI 3.1 document",
    description = "Every route of the service, generated from the same registration as the \
        router. Public.",
    responses(
        (status = 200, description = "The OpenAPI document", body = serde_json::Value,
            content_type = "application/json"),
        (status = 500, description = "The document was not built", body = ErrorBody)
    )
)]
async fn openapi_json(Extension(document): Extension<Document>) -> Response {
    match document.0.get() {
        Some(bytes) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            bytes.clone(),
        )
            .into_response(),
        None => {
            tracing::error!("the OpenAPI document was never set");
            super::ApiError::Internal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::Mutex;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::archive::store::ArchiveStore;
    use crate::catalog::db::Catalog;

    fn document() -> serde_json::Value {
        serde_json::to_value(super::super::openapi()).expect("the document serializes")
    }

    /// The paths axum's router holds, read from its `Debug` output (axum
    /// has no public route listing). Fails loudly if that format changes.
    fn served_paths(router: &axum::Router) -> BTreeSet<String> {
        let text = format!("{router:?}");
        let mut paths = BTreeSet::new();
        // Node { paths: {RouteId(3): "/api/v1/health", ...} }
        for piece in text.split("RouteId(").skip(1) {
            let digits = piece.bytes().take_while(u8::is_ascii_digit).count();
            if let Some(quoted) = piece[digits..].strip_prefix("): \"") {
                if let Some(end) = quoted.find('"') {
                    paths.insert(quoted[..end].to_owned());
                }
            }
        }
        assert!(
            paths.contains("/api/v1/health") && paths.contains("/live/{channel}/index.m3u8"),
            "cannot read the routes from axum's Debug output (has its format changed?): {paths:?}"
        );
        paths
    }

    fn app() -> (tempfile::TempDir, axum::Router) {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Catalog::open(&dir.path().join("x.db")).expect("catalog");
        let state = AppState {
            channels: Arc::new(HashMap::new()),
            archive: ArchiveStore::new(dir.path()),
            catalog: Arc::new(Mutex::new(catalog)),
        };
        let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let pages = Arc::new(crate::pages::Pages::load(&web).expect("shipped pages"));
        let router = super::super::router(state, dir.path().join("web"), pages);
        (dir, router)
    }

    #[tokio::test]
    async fn every_route_the_router_serves_under_api_v1_is_documented() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        let (_dir, app) = app();
        let served: Vec<String> = served_paths(&app)
            .into_iter()
            .filter(|p| p.starts_with("/api/v1/") || p == "/api/v1")
            .collect();
        assert!(served.len() >= 20, "{served:?}");
        let mut checked = 0;
        for path in &served {
            let documented = paths.get(path.as_str());
            // A concrete URL for the template: every parameter "1".
            let url: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "1" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            for method in [
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ] {
                // Anonymous and without a body: every handler answers at
                // once (401, 400, 404, ...); only an unrouted method is 405.
                let response = app
                    .clone()
                    .oneshot(
                        Request::builder()
                            .method(method.clone())
                            .uri(&url)
                            .body(Body::empty())
                            .expect("request"),
                    )
                    .await
                    .expect("response");
                let routed = response.status() != StatusCode::METHOD_NOT_ALLOWED;
                let in_doc = documented
                    .and_then(|item| item.get(method.as_str().to_lowercase()))
                    .is_some();
                assert_eq!(
                    routed, in_doc,
                    "{method} {path}: served by the router: {routed}, in the OpenAPI document: {in_doc}"
                );
                checked += usize::from(routed);
            }
        }
        assert!(checked >= served.len(), "{checked} operations checked");
    }

    #[test]
    fn every_operation_has_a_summary_responses_and_a_unique_id() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "obrady");
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(doc["info"]["license"]["name"], "MIT OR Apache-2.0");
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes[COOKIE]["in"], "cookie");
        assert_eq!(schemes[COOKIE]["name"], "obrady_session");
        assert_eq!(schemes[CSRF]["name"], "X-CSRF-Token");
        assert_eq!(schemes[BEARER]["scheme"], "bearer");
        let known: BTreeSet<&str> = doc["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        let mut ids = BTreeSet::new();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let what = format!("{method} {path}");
                let summary = op["summary"].as_str().unwrap_or_default();
                assert!(!summary.is_empty(), "{what}: no summary");
                assert!(!summary.contains('\n'), "{what}: the summary is one line");
                assert!(
                    op["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{what}: no description"
                );
                let responses = op["responses"].as_object().expect("responses");
                assert!(!responses.is_empty(), "{what}: no responses");
                let id = op["operationId"].as_str().expect("operationId");
                assert!(
                    ids.insert(id.to_owned()),
                    "{what}: operationId {id} is taken"
                );
                for tag in op["tags"].as_array().expect("tags") {
                    let tag = tag.as_str().unwrap_or_default();
                    assert!(known.contains(tag), "{what}: tag {tag:?} is not declared");
                }
                // Every error response is the JSON error body (but a 416
                // from a file server, which has no body).
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        if status == "416" && response.get("content").is_none() {
                            continue;
                        }
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{what} {status}"
                        );
                    }
                }
                // Whoever needs a login says which role in the description.
                if op.get("security").is_some() {
                    let description = op["description"].as_str().unwrap_or_default();
                    assert!(
                        description.contains("Role:"),
                        "{what}: needs credentials but names no role"
                    );
                }
                operations += 1;
            }
        }
        assert!(operations >= 30, "{operations} operations");
        // Every path parameter of every path is declared.
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let names: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            for (method, op) in item.as_object().expect("path item") {
                for name in &names {
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["in"] == "path" && p["name"] == *name)
                    });
                    assert!(
                        declared,
                        "{method} {path}: parameter {name} is not declared"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn the_document_is_served_as_json() {
        let (_dir, app) = app();
        let response = app
            .oneshot(
                Request::get(PATH)
                    .header("origin", "https://example.org")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let body = axum::body::to_bytes(response.into_body(), 4 << 20)
            .await
            .expect("body");
        let served: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(served, document());
        assert!(served["paths"][PATH]["get"].is_object());
    }
}
