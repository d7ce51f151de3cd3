//! `/api/v1/channels`: the capture channels (rooms) and what an operator
//! can switch on them outside a session.
//!
//! Today that is the test source's scene: the moving bars with beeps, or a
//! plain magenta card with a continuous tone, which operators use to check
//! the chain from source to speakers, and the suite uses as a picture that
//! can never be mistaken for anything else.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Actor;
use super::sessions::json_body;
use super::{ApiError, AppState, ErrorBody};
use crate::catalog::users::Role;
use crate::media::{Program, ProgramAudio, TestScene};

/// The routes of this module, each documented in the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(set_test_scene))
        .routes(routes!(get_graphics, set_graphics))
        .routes(routes!(speakers))
        .routes(routes!(get_program, set_program))
        .routes(routes!(health))
        .routes(routes!(health_events))
}

/// A channel's health and the disk the archive is on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct HealthView {
    channel: String,
    live: bool,
    private: bool,
    #[serde(flatten)]
    health: crate::health::Health,
    source: SourceView,
    /// The RTMP destinations (keys never shown).
    restreams: Vec<RestreamView>,
    /// Free space left for the archive, bytes; absent if it cannot be read.
    disk_free_bytes: Option<u64>,
    /// The archive's disk, total bytes.
    disk_total_bytes: Option<u64>,
}

/// The state of a channel's source.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SourceView {
    /// `test` (the embedded test source), `live` (the source delivers) or
    /// `lost` (nothing for the channel's `source_timeout`: the failover
    /// slate is on the air and the source is being reconnected).
    state: &'static str,
    /// Why the source was last lost (absent while it never was).
    reason: Option<String>,
    /// When the current state began (RFC 3339).
    since: Option<String>,
    /// Times it was lost, and came back, since the server started.
    losses: u64,
    recoveries: u64,
}

/// An RTMP destination's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct RestreamView {
    /// The destination's URL, without its stream key.
    url: String,
    /// `off` (no live session), `connecting`, `live` or `retrying`.
    state: &'static str,
    /// Why it last failed.
    error: Option<String>,
    /// Times it failed and was started again.
    restarts: u64,
}

fn source_of(c: &crate::live::LiveChannel) -> SourceView {
    let r = c.source.report();
    SourceView {
        state: r.state(),
        reason: r.reason,
        since: r.since.and_then(|t| {
            time::OffsetDateTime::from(t)
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        }),
        losses: r.losses,
        recoveries: r.recoveries,
    }
}

fn health_of(state: &AppState, c: &crate::live::LiveChannel) -> HealthView {
    use crate::live::RenditionKind;
    let renditions: Vec<(String, bool)> = c
        .renditions
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                matches!(r.kind, RenditionKind::Video { .. }),
            )
        })
        .collect();
    let fps = c
        .renditions
        .iter()
        .find_map(|r| match r.kind {
            RenditionKind::Video { framerate, .. } => Some(u64::from(framerate)),
            RenditionKind::Audio { .. } => None,
        })
        .unwrap_or(0);
    let frame_ns = 1_000_000_000u64.checked_div(fps).unwrap_or(0);
    let root = state.archive.root();
    let disk = rustix::fs::statvfs(root)
        .or_else(|_| rustix::fs::statvfs(root.parent().unwrap_or(root)))
        .ok();
    HealthView {
        channel: c.id.clone(),
        live: c.is_ready() && !c.is_ended(),
        private: c.is_private(),
        health: c.health.snapshot(
            &renditions,
            frame_ns,
            c.is_private(),
            std::time::Instant::now(),
        ),
        source: source_of(c),
        restreams: c
            .restream
            .reports()
            .into_iter()
            .map(|r| RestreamView {
                url: crate::config::redact_url(&r.url),
                state: r.state,
                error: r.error,
                restarts: r.restarts,
            })
            .collect(),
        disk_free_bytes: disk.as_ref().map(|d| d.f_bavail.saturating_mul(d.f_frsize)),
        disk_total_bytes: disk.as_ref().map(|d| d.f_blocks.saturating_mul(d.f_frsize)),
    }
}

/// A channel's health now: audio level, bitrates, frames, segments,
/// viewers, disk space.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/health",
    tag = "channels",
    operation_id = "channel_health",
    summary = "A channel's health for the operator",
    description = "The programme audio's level (dBFS per channel, ten times a second at the \
        source), each rendition's bitrate over five seconds, frames received and dropped, \
        segments written, viewers playing from this server, and the archive disk's free \
        space. Role: operator (or admin).",
    security(("session_cookie" = []), ("bearer_token" = [])),
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    responses(
        (status = 200, description = "The channel's health", body = HealthView),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an operator or admin", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody)
    )
)]
async fn health(
    State(state): State<AppState>,
    actor: Actor,
    Path(channel): Path<String>,
) -> Result<Json<HealthView>, ApiError> {
    actor.require(Role::Operator)?;
    let c = state.channel(&channel)?.clone();
    Ok(Json(health_of(&state, &c)))
}

/// The same, as Server-Sent Events four times a second (the console's
/// meters).
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/health/events",
    tag = "channels",
    operation_id = "channel_health_events",
    summary = "A channel's health as a stream of Server-Sent Events",
    description = "An event `health` with the same JSON as \
        `GET /api/v1/channels/{channel}/health`, four times a second, for the console's \
        meters. Role: operator (or admin).",
    security(("session_cookie" = []), ("bearer_token" = [])),
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    responses(
        (status = 200, description = "An endless event stream", content_type = "text/event-stream"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an operator or admin", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody)
    )
)]
async fn health_events(
    State(state): State<AppState>,
    actor: Actor,
    Path(channel): Path<String>,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    actor.require(Role::Operator)?;
    let c = state.channel(&channel)?.clone();
    let ticks = tokio_stream_interval(std::time::Duration::from_millis(250));
    // The stream ends with the broadcast (a clean stop does not wait on an
    // open console).
    let on_air = c.clone();
    let ticks =
        futures_util::StreamExt::take_while(ticks, move |_| std::future::ready(!on_air.is_ended()));
    let stream = futures_util::StreamExt::map(ticks, move |_| {
        let view = health_of(&state, &c);
        Event::default()
            .event("health")
            .json_data(&view)
            .or_else(|_| {
                Ok::<_, std::convert::Infallible>(Event::default().comment("unserializable"))
            })
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    // Not cached, and not buffered by a proxy (the meters must move).
    let h = response.headers_mut();
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    h.insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// A stream that yields every `period`, from now.
fn tokio_stream_interval(period: std::time::Duration) -> impl futures_util::Stream<Item = ()> {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    futures_util::stream::unfold(interval, |mut interval| async move {
        interval.tick().await;
        Some(((), interval))
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ChannelView {
    id: String,
    name: String,
    live: bool,
    /// A non-public part is on: the slate is on the air.
    private: bool,
    /// The test source's scene: "bars", "card" or "mute".
    test_scene: &'static str,
}

fn view(c: &crate::live::LiveChannel) -> ChannelView {
    ChannelView {
        id: c.id.clone(),
        name: c.name.clone(),
        live: c.is_ready() && !c.is_ended(),
        private: c.is_private(),
        test_scene: c.test_scene().as_str(),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ChannelList {
    /// By id.
    channels: Vec<ChannelView>,
}

/// Every channel, by id. Public: what is on the air is public.
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "channels",
    operation_id = "list_channels",
    summary = "List the capture channels",
    description = "Every channel (room) by id: whether it is on the air, in a non-public part, \
        and the test source's scene. Public.",
    responses((status = 200, description = "The channels", body = ChannelList))
)]
async fn list(State(state): State<AppState>) -> Json<ChannelList> {
    let mut channels: Vec<ChannelView> = state.channels.values().map(|c| view(c)).collect();
    channels.sort_by(|a, b| a.id.cmp(&b.id));
    Json(ChannelList { channels })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SceneBody {
    /// "bars", "card" or "mute" (the bars without sound).
    scene: String,
}

/// Switches the test source's scene (`{"scene": "card"}`); operator or
/// admin. 409 when the channel's source is not the test source.
#[utoipa::path(
    put,
    path = "/api/v1/channels/{channel}/test-scene",
    tag = "channels",
    summary = "Switch the test source's scene of a channel",
    description = "`bars` (moving bars with beeps) or `card` (a magenta card with a tone), to \
        check the chain from source to speakers; audited. Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    request_body(content = SceneBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The channel as it is now", body = ChannelView),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 409, description = "The channel's source is not the test source",
            body = ErrorBody),
        (status = 413, description = "The body is over 4 KiB", body = ErrorBody),
        (status = 422, description = "Not JSON, an unknown field, or an unknown scene; the \
            message names it", body = ErrorBody),
        (status = 503, description = "The channel is not broadcasting now; retry",
            body = ErrorBody)
    )
)]
async fn set_test_scene(
    State(state): State<AppState>,
    actor: Actor,
    Path(channel): Path<String>,
    body: super::sessions::BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let live = state.channel(&channel)?.clone();
    let body: SceneBody = json_body(
        &body,
        4096,
        r#"{"scene": "bars"}, {"scene": "card"} or {"scene": "mute"}"#,
    )?;
    let scene = TestScene::parse(&body.scene).ok_or_else(|| {
        ApiError::Unprocessable(format!(
            "scene: {:?} is not a scene of the test source; expected \"bars\", \"card\" or \"mute\"",
            body.scene
        ))
    })?;
    let before = live.test_scene();
    match live.set_test_scene(scene).await {
        Some(true) => {}
        Some(false) => {
            live.set_test_scene(before).await;
            return Err(ApiError::Conflict(format!(
                "channel {channel:?} does not broadcast the test source, so it has no scenes"
            )));
        }
        None => {
            live.set_test_scene(before).await;
            return Err(ApiError::Unavailable(format!(
                "channel {channel:?} is not broadcasting now; try again when it is live"
            )));
        }
    }
    audit(
        &state,
        &actor,
        "channel.test_scene",
        &channel,
        json!({ "scene": scene.as_str() }),
    )
    .await?;
    Ok(Json(view(&live)).into_response())
}

/// A speaker shown in the lower third.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Speaker {
    /// e.g. "Anna Kowalska" (1 to 80 characters).
    name: String,
    /// e.g. "radna, przewodnicząca komisji" (up to 120 characters; may be
    /// empty).
    #[serde(default)]
    role: String,
}

/// The lower third of a channel's picture.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct GraphicsView {
    /// The current agenda item's line ("Punkt 7a: …"), set when an item
    /// begins; absent outside a session.
    item: Option<String>,
    /// Whether the item's line is shown.
    show_item: bool,
    /// The speaker shown instead of the item, if any.
    speaker: Option<Speaker>,
    /// The "Głosowanie" (vote) banner, shown over everything else.
    vote: bool,
    /// What the picture shows now (plain text), or absent.
    caption: Option<String>,
}

fn graphics_view(live: &crate::live::LiveChannel) -> GraphicsView {
    let g = live.graphics.state();
    let caption = crate::media::graphics::caption(&g).map(|m| {
        m.replace("<b>", "")
            .replace("</b>", "")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    });
    GraphicsView {
        item: g.item,
        show_item: g.show_item,
        speaker: g.speaker.map(|(name, role)| Speaker { name, role }),
        vote: g.vote,
        caption,
    }
}

/// Fields to change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct GraphicsBody {
    /// Show or hide the current item's line.
    show_item: Option<bool>,
    /// A speaker to show, or `null` to take the speaker off.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Speaker>)]
    speaker: Option<Option<Speaker>>,
    /// The vote banner on or off.
    vote: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The lower third of a channel.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/graphics",
    tag = "channels",
    summary = "The lower third of a channel's picture",
    description = "The current item's line, the speaker, the vote banner, and the caption the         picture shows now. Public.",
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    responses(
        (status = 200, description = "The lower third", body = GraphicsView),
        (status = 404, description = "No such channel", body = ErrorBody)
    )
)]
async fn get_graphics(
    State(state): State<AppState>,
    Path(channel): Path<String>,
) -> Result<Json<GraphicsView>, ApiError> {
    let live = state.channel(&channel)?.clone();
    Ok(Json(graphics_view(&live)))
}

/// Speakers shown before, for the console to pick from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct SpeakerList {
    /// Each once, the most recently shown first (at most 50).
    speakers: Vec<Speaker>,
}

/// The speakers shown in a channel's lower third before; operator or admin.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/speakers",
    tag = "channels",
    summary = "Speakers shown in the lower third before",
    description = "Every name and role shown with `PUT …/graphics` on this channel (from the \
        audit log), each once, the most recently shown first: the console offers them to \
        pick. Role: operator (or admin).",
    security(("session_cookie" = []), ("bearer_token" = [])),
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    responses(
        (status = 200, description = "The speakers", body = SpeakerList),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody)
    )
)]
async fn speakers(
    State(state): State<AppState>,
    actor: Actor,
    Path(channel): Path<String>,
) -> Result<Json<SpeakerList>, ApiError> {
    actor.require(Role::Operator)?;
    state.channel(&channel)?;
    let list = state
        .catalog(move |c| c.recent_speakers(&channel, 50))
        .await?;
    Ok(Json(SpeakerList {
        speakers: list
            .into_iter()
            .map(|(name, role)| Speaker { name, role })
            .collect(),
    }))
}

/// Changes the lower third; operator or admin.
#[utoipa::path(
    put,
    path = "/api/v1/channels/{channel}/graphics",
    tag = "channels",
    summary = "Change the lower third of a channel's picture",
    description = "Show or hide the current item's line (`show_item`), show a speaker         (`speaker`: name and role; `null` takes it off), turn the vote banner on or off         (`vote`). Drawn in the picture, so it is in the live stream and the recording. A new         agenda item takes the speaker and the vote banner off. Audited. Role: operator (or         admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    request_body(content = GraphicsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The lower third as it is now", body = GraphicsView),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 413, description = "The body is over 4 KiB", body = ErrorBody),
        (status = 422, description = "Not JSON, an unknown field, a wrong type, or a name or \
            role too long; the message names it", body = ErrorBody)
    )
)]
async fn set_graphics(
    State(state): State<AppState>,
    actor: Actor,
    Path(channel): Path<String>,
    body: super::sessions::BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let live = state.channel(&channel)?.clone();
    let b: GraphicsBody = json_body(
        &body,
        4096,
        r#"e.g. {"speaker": {"name": "Anna Kowalska", "role": "radna"}}, {"vote": true} or {"show_item": false}"#,
    )?;
    if let Some(Some(sp)) = &b.speaker {
        let name = sp.name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(ApiError::Unprocessable(format!(
                "speaker.name: expected 1 to 80 characters, got {}",
                name.chars().count()
            )));
        }
        if sp.role.chars().count() > 120 {
            return Err(ApiError::Unprocessable(format!(
                "speaker.role: expected up to 120 characters, got {}",
                sp.role.chars().count()
            )));
        }
        if sp.name.chars().chain(sp.role.chars()).any(char::is_control) {
            return Err(ApiError::Unprocessable(
                "speaker: a name or role cannot contain control characters (line breaks, tabs)"
                    .into(),
            ));
        }
    }
    live.graphics.update(|g| {
        if let Some(show) = b.show_item {
            g.show_item = show;
        }
        if let Some(sp) = b.speaker.clone() {
            g.speaker = sp.map(|s| (s.name.trim().to_owned(), s.role.trim().to_owned()));
        }
        if let Some(vote) = b.vote {
            g.vote = vote;
        }
    });
    let view = graphics_view(&live);
    let event = json!({ "show_item": view.show_item, "speaker": view.speaker, "vote": view.vote });
    audit(&state, &actor, "channel.graphics", &channel, event).await?;
    Ok(Json(view).into_response())
}

/// A camera of a channel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct InputView {
    /// 0: the channel's `source`; 1, 2: its `inputs`.
    index: usize,
    name: String,
    /// `test`, `live` or `lost` (as the channel's source in its health).
    state: &'static str,
}

/// Whose sound is on the air: an input's number (always that camera's
/// sound), `"follow"` (the sound of the camera on the air) or `"mix"` (every
/// camera's sound).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
enum AudioChoice {
    Input(usize),
    Mode(String),
}

impl From<ProgramAudio> for AudioChoice {
    fn from(a: ProgramAudio) -> Self {
        match a {
            ProgramAudio::Input(n) => AudioChoice::Input(n),
            ProgramAudio::Follow => AudioChoice::Mode("follow".into()),
            ProgramAudio::Mix => AudioChoice::Mode("mix".into()),
        }
    }
}

/// Which camera is on the air.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct ProgramView {
    /// The camera on the air.
    input: usize,
    /// The camera laid over it in a corner (picture in picture), if any.
    pip: Option<usize>,
    /// Whose sound is heard (0 at start: the channel's `source`).
    audio: AudioChoice,
    inputs: Vec<InputView>,
    /// The channel's backup source, if it has one.
    backup: Option<BackupView>,
}

/// A channel's backup source: it stands in for the camera on the air (and
/// the sound chosen) while that delivers nothing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct BackupView {
    /// `live` or `lost`.
    state: &'static str,
    /// It stands in now.
    on_air: bool,
}

fn program_view(live: &crate::live::LiveChannel) -> ProgramView {
    let mut inputs = vec![InputView {
        index: 0,
        name: "source".into(),
        state: live.source.report().state(),
    }];
    for (k, (name, status)) in live.inputs.iter().enumerate() {
        inputs.push(InputView {
            index: k + 1,
            name: name.clone(),
            state: status.report().state(),
        });
    }
    let p = live.program();
    let backup = live.backup.as_ref().map(|b| {
        let lost: Vec<bool> = std::iter::once(&live.source)
            .chain(live.inputs.iter().map(|(_, s)| s))
            .chain(std::iter::once(b))
            .map(|s| s.is_lost())
            .collect();
        BackupView {
            state: b.report().state(),
            on_air: p.on_air(&lost, true).backup_on_air(lost.len(), true),
        }
    });
    ProgramView {
        input: p.input,
        pip: p.pip,
        audio: p.audio.into(),
        inputs,
        backup,
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ProgramBody {
    /// The camera to put on the air (0: the channel's `source`).
    input: usize,
    /// A camera to lay over it in the top right corner, or absent/null.
    #[serde(default)]
    pip: Option<usize>,
    /// Whose sound: an input's number, `"follow"` or `"mix"`; absent keeps
    /// the current choice.
    #[serde(default)]
    audio: Option<AudioChoice>,
}

/// The cameras of a channel and which is on the air.
#[utoipa::path(
    get,
    path = "/api/v1/channels/{channel}/program",
    tag = "channels",
    summary = "The cameras of a channel and which is on the air",
    description = "Input 0 is the channel's `source`, inputs 1 and 2 its `inputs`; `pip` is \
        the camera laid over the picture in a corner. Public.",
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    responses(
        (status = 200, description = "The cameras", body = ProgramView),
        (status = 404, description = "No such channel", body = ErrorBody)
    )
)]
async fn get_program(
    State(state): State<AppState>,
    Path(channel): Path<String>,
) -> Result<Json<ProgramView>, ApiError> {
    let live = state.channel(&channel)?.clone();
    Ok(Json(program_view(&live)))
}

/// Cuts to a camera; operator or admin.
#[utoipa::path(
    put,
    path = "/api/v1/channels/{channel}/program",
    tag = "channels",
    summary = "Cut to a camera (and lay another over it)",
    description = "`{\"input\": 1}` puts camera 1 on the air from the next frame, in the \
        live stream and the recording; `{\"input\": 0, \"pip\": 2}` lays camera 2 over \
        camera 0 in the top right corner. `\"audio\"` chooses the sound: an input's number \
        (that camera's sound whatever is on the air; 0 at start), `\"follow\"` (the sound of \
        the camera on the air) or `\"mix\"` (every camera's sound); absent keeps it. Audited. \
        Role: operator (or admin).",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("channel" = String, Path, description = "Channel id, e.g. \"main\"")),
    request_body(content = ProgramBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The cameras as they are now", body = ProgramView),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody),
        (status = 403, description = "Not an operator or admin, or the cookie came without \
            its X-CSRF-Token", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 413, description = "The body is over 4 KiB", body = ErrorBody),
        (status = 422, description = "Not JSON, an unknown field, or no such camera; the \
            message names it", body = ErrorBody),
        (status = 503, description = "The channel is not broadcasting now; retry",
            body = ErrorBody)
    )
)]
async fn set_program(
    State(state): State<AppState>,
    actor: Actor,
    Path(channel): Path<String>,
    body: super::sessions::BodyBytes,
) -> Result<Response, ApiError> {
    actor.require(Role::Operator)?;
    let live = state.channel(&channel)?.clone();
    let b: ProgramBody = json_body(
        &body,
        4096,
        r#"e.g. {"input": 1}, {"input": 0, "pip": 1} or {"input": 1, "audio": "follow"}"#,
    )?;
    let cameras = live.inputs.len() + 1;
    if b.input >= cameras {
        return Err(ApiError::Unprocessable(format!(
            "input: channel {channel:?} has cameras 0 to {}, got {}",
            cameras - 1,
            b.input
        )));
    }
    if let Some(p) = b.pip {
        if p >= cameras || p == b.input {
            return Err(ApiError::Unprocessable(format!(
                "pip: expected another camera than input ({} of 0 to {}), got {p}",
                b.input,
                cameras - 1
            )));
        }
    }
    let audio = match b.audio {
        None => live.program().audio,
        Some(AudioChoice::Input(n)) if n < cameras => ProgramAudio::Input(n),
        Some(AudioChoice::Input(n)) => {
            return Err(ApiError::Unprocessable(format!(
                "audio: channel {channel:?} has cameras 0 to {}, got {n}",
                cameras - 1
            )))
        }
        Some(AudioChoice::Mode(m)) => match m.as_str() {
            "follow" => ProgramAudio::Follow,
            "mix" => ProgramAudio::Mix,
            _ => {
                return Err(ApiError::Unprocessable(format!(
                    "audio: expected a camera's number (0 to {}), \"follow\" or \"mix\", got {m:?}",
                    cameras - 1
                )))
            }
        },
    };
    let program = Program {
        input: b.input,
        pip: b.pip,
        audio,
    };
    match live.select_program(program).await {
        Some(true) => {}
        Some(false) => {
            return Err(ApiError::Unprocessable(format!(
                "input: channel {channel:?} cannot show camera {} now",
                b.input
            )))
        }
        None => {
            return Err(ApiError::Unavailable(format!(
                "channel {channel:?} is not broadcasting now; the choice is kept for when it is"
            )))
        }
    }
    let event = json!({ "input": b.input, "pip": b.pip, "audio": audio.to_json() });
    audit(&state, &actor, "channel.program", &channel, event).await?;
    Ok(Json(program_view(&live)).into_response())
}

/// Writes `action` on `channel` by `actor`, with `event`, to the audit log.
async fn audit(
    state: &AppState,
    actor: &Actor,
    action: &'static str,
    channel: &str,
    event: serde_json::Value,
) -> Result<(), ApiError> {
    let who = actor.user.username.clone();
    let object = format!("channel/{channel}");
    state
        .catalog(move |c| c.record_event(&who, action, &object, event))
        .await?;
    Ok(())
}
