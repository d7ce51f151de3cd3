//! `GET /api/v1/search?q=...&limit=N`: full-text search over session
//! titles, agenda-item titles and resolution numbers (see
//! [`crate::catalog::search`]). Public: sessions are public records.
//!
//! Every hit links to what to play: the item's playlist, or the session's
//! when the hit is the session's title.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, AppState, ErrorBody};
use crate::catalog::search::SearchHit;

/// Hits when the request does not say.
pub const DEFAULT_LIMIT: usize = 20;
/// The most hits one request may ask for.
pub const MAX_LIMIT: usize = 100;

/// The search route, documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SearchReply)]
struct Reply {
    /// The query as given.
    query: String,
    /// Best first.
    hits: Vec<Hit>,
}

/// A hit with the playlist to play.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SearchResult)]
struct Hit {
    #[serde(flatten)]
    hit: SearchHit,
    /// The HLS playlist of the item (or of the whole session).
    url: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    summary = "Full-text search over session titles, agenda items and resolution numbers",
    description = "Polish letters folded, light stemming, prefix match on the last word, bm25 \
        ranking; every hit links to the HLS playlist of its item (or session). Public.",
    params(
        ("q" = String, Query, description = "The query, 1 to 200 characters"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 100,
            description = "Most hits to return; 20 when absent")
    ),
    responses(
        (status = 200, description = "The hits, best first", body = Reply),
        (status = 400, description = "`q` is missing, empty or too long, or `limit` is out of \
            range; the message names the parameter", body = ErrorBody)
    )
)]
async fn search(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let query = params
        .get("q")
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("q: the search query is missing".into()))?;
    let limit = parse_limit(params.get("limit").map(String::as_str))?;
    let q = query.clone();
    // Withdrawn recordings are found only by someone logged in.
    let withdrawn = super::after::signed_in(&state, &headers).await;
    let hits = state
        .catalog(move |c| c.search_with(&q, limit, withdrawn))
        .await
        .map_err(|e| match e {
            // The catalog's Invalid is about the query text: the parameter.
            ApiError::Unprocessable(message) => ApiError::BadRequest(format!("q: {message}")),
            e => e,
        })?;
    let hits = hits
        .into_iter()
        .map(|hit| Hit {
            url: playlist_url(hit.session_id, hit.agenda_number.as_deref()),
            hit,
        })
        .collect();
    Ok(Json(Reply { query, hits }).into_response())
}

/// `limit`: absent means [`DEFAULT_LIMIT`]; otherwise 1 to [`MAX_LIMIT`].
fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "limit: expected a whole number from 1 to {MAX_LIMIT}, got {raw:?}"
            ))
        })
}

/// The VOD playlist of an agenda item, or of the whole session.
fn playlist_url(session_id: i64, agenda_number: Option<&str>) -> String {
    match agenda_number {
        Some(number) => format!(
            "/vod/sessions/{session_id}/items/{}/index.m3u8",
            percent_encode(number)
        ),
        None => format!("/vod/sessions/{session_id}/index.m3u8"),
    }
}

/// Percent-encodes all but RFC 3986's unreserved characters (agenda numbers
/// are validated as `[0-9]{1,3}[a-z]{0,2}`, but the catalog does not insist).
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use axum::Router;

    use super::*;
    use crate::archive::store::ArchiveStore;
    use crate::catalog::agenda::SessionDraft;
    use crate::catalog::db::Catalog;

    fn app() -> (tempfile::TempDir, Router, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = Catalog::open(&dir.path().join("x.db")).unwrap();
        let draft: SessionDraft = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/agenda-sesja-xlv.json"
        )))
        .unwrap();
        let id = catalog.create_session(&draft, "operator1").unwrap();
        let state = AppState {
            channels: Arc::new(HashMap::new()),
            archive: ArchiveStore::new(dir.path()),
            catalog: Arc::new(Mutex::new(catalog)),
        };
        (dir, Router::from(routes()).with_state(state), id)
    }

    async fn get(app: &Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let response = app
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn search_returns_hits_with_playlist_urls() {
        let (_dir, app, id) = app();
        let (status, body) = get(&app, "/api/v1/search?q=uchwala%20zwolnie").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["query"], "uchwala zwolnie");
        let hits = body["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0]["session_id"], id);
        assert_eq!(hits[0]["agenda_number"], "7a");
        assert_eq!(hits[0]["resolution"], "DRM.0002.45.4.2025");
        assert_eq!(
            hits[0]["url"],
            format!("/vod/sessions/{id}/items/7a/index.m3u8")
        );
        assert!(hits[0]["rank"].as_f64().unwrap() < 0.0);
        assert!(hits[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>uchwały</mark>"));

        // Only the session's own title has "XLV" (its items have it as
        // context only).
        let (_, body) = get(&app, "/api/v1/search?q=XLV").await;
        assert_eq!(body["hits"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(body["hits"][0]["agenda_number"], serde_json::Value::Null);
        assert_eq!(
            body["hits"][0]["snippet"],
            "<mark>XLV</mark> Sesja Rady Miasta Piotrkowa Trybunalskiego"
        );
        assert_eq!(
            body["hits"][0]["url"],
            format!("/vod/sessions/{id}/index.m3u8")
        );

        let (status, body) = get(&app, "/api/v1/search?q=uchwa%C5%82y&limit=2").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["hits"].as_array().unwrap().len(), 2);
        let (_, body) = get(&app, "/api/v1/search?q=uchwa%C5%82y").await;
        assert_eq!(body["hits"].as_array().unwrap().len(), 6, "{body}");

        let (status, body) = get(&app, "/api/v1/search?q=xyzzy").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["hits"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn bad_parameters_are_400_naming_the_parameter() {
        let (_dir, app, _id) = app();
        for (uri, error) in [
            ("/api/v1/search", "q: the search query is missing"),
            ("/api/v1/search?q=", "q: the query is empty"),
            ("/api/v1/search?q=%20%20", "q: the query is empty"),
            (
                "/api/v1/search?q=uchwala&limit=0",
                r#"limit: expected a whole number from 1 to 100, got "0""#,
            ),
            (
                "/api/v1/search?q=uchwala&limit=101",
                r#"limit: expected a whole number from 1 to 100, got "101""#,
            ),
            (
                "/api/v1/search?q=uchwala&limit=ten",
                r#"limit: expected a whole number from 1 to 100, got "ten""#,
            ),
        ] {
            let (status, body) = get(&app, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["error"], error, "{uri}");
        }
        let long = "a".repeat(201);
        let (status, body) = get(&app, &format!("/api/v1/search?q={long}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body["error"],
            "q: the query is 201 characters long; the limit is 200"
        );
        let (status, _) = get(&app, "/api/v1/search?q=%22%20OR%20*%20NEAR(").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn urls_encode_odd_agenda_numbers() {
        assert_eq!(
            playlist_url(3, Some("7a")),
            "/vod/sessions/3/items/7a/index.m3u8"
        );
        assert_eq!(
            playlist_url(3, Some("7 b/ą")),
            "/vod/sessions/3/items/7%20b%2F%C4%85/index.m3u8"
        );
        assert_eq!(playlist_url(3, None), "/vod/sessions/3/index.m3u8");
    }
}
