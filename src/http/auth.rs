//! Signing in, and who is asking: `/api/v1/login`, `logout`, `me`, users
//! and API tokens, and the [`Actor`] extractor that every protected handler
//! takes.
//!
//! Two kinds of credentials:
//! - Browsers log in with a password and get the cookie `obrady_session`
//!   (`HttpOnly; SameSite=Strict; Path=/`, plus `Secure` over HTTPS) and a
//!   CSRF token, which the page sends back in `X-CSRF-Token` with every
//!   request that changes something (any method but GET, HEAD, OPTIONS,
//!   TRACE). `GET /api/v1/me` returns the token again after a reload.
//! - Scripts send `Authorization: Bearer <token>` with a token an admin
//!   created. No CSRF token: a browser never adds that header by itself.
//!   When the header is present it alone decides; the cookie is ignored.
//!
//! Logins are rate-limited in memory ([`LoginLimiter`]) per username and
//! per client address (the TCP peer when the server runs with
//! `ConnectInfo<SocketAddr>`, else "unknown"). Refused attempts are logged
//! with `tracing`, not in the audit log, whose rows can never be deleted.
//!
//! Paths are absolute (`crate::http::...`) so this file does not depend on
//! where it is declared.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::uri::Scheme;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, LoginLimiter};
use crate::catalog::db::{CatalogError, ErrorKind};
use crate::catalog::users::{FirstAdmin, Role, TokenInfo, User};
use crate::http::{ApiError, AppState, ErrorBody};

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "obrady_session";
/// The request header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a browser session lasts: a long council day. It does not slide:
/// after this, log in again.
pub const WEB_SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
/// The environment variable with the first admin's password.
pub const ADMIN_PASSWORD_ENV: &str = "OBRADY_ADMIN_PASSWORD";

/// The limiter shared by the login handlers of one [`routes`] router.
type Limiter = Arc<Mutex<LoginLimiter>>;

/// The routes of this module, each documented in the OpenAPI document;
/// merge them into the application's router. Each call has its own login
/// limiter, so build the router once.
pub fn routes() -> OpenApiRouter<AppState> {
    let limiter: Limiter = Arc::new(Mutex::new(LoginLimiter::default()));
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(create_user))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
        .layer(Extension(limiter))
}

/// Creates the first admin when the catalog has no users, with the
/// password from `OBRADY_ADMIN_PASSWORD`, or a generated one written once to
/// the log (a warning). Call once at start, before serving requests.
pub async fn bootstrap_admin(state: &AppState) -> anyhow::Result<()> {
    let password = match std::env::var(ADMIN_PASSWORD_ENV) {
        Ok(p) if p.is_empty() => {
            anyhow::bail!("{ADMIN_PASSWORD_ENV} is set but empty; unset it or give a password")
        }
        Ok(p) => Some(p),
        Err(std::env::VarError::NotPresent) => None,
        Err(e @ std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{ADMIN_PASSWORD_ENV}: {e}")
        }
    };
    bootstrap_admin_with(state, password).await
}

/// [`bootstrap_admin`] with the password given rather than read from the
/// environment.
pub async fn bootstrap_admin_with(
    state: &AppState,
    password: Option<String>,
) -> anyhow::Result<()> {
    let catalog = state.catalog.clone();
    let given = password.is_some();
    let outcome = tokio::task::spawn_blocking(move || {
        // Computes the dummy hash now, so the first login with an unknown
        // username does not take longer than the others.
        auth::verify_password_or_dummy("", None);
        let mut c = catalog.lock().unwrap_or_else(|e| e.into_inner());
        c.ensure_admin(password.as_deref())
    })
    .await
    .context("catalog task for the first admin failed")?
    .map_err(|e| match e.kind() {
        ErrorKind::Invalid => anyhow::anyhow!("{ADMIN_PASSWORD_ENV}: {e}"),
        _ => anyhow::Error::new(e).context("cannot create the first admin"),
    })?;
    match outcome {
        FirstAdmin::UsersExist if given => {
            tracing::info!("{ADMIN_PASSWORD_ENV} is ignored: the catalog has users already")
        }
        FirstAdmin::UsersExist => {}
        FirstAdmin::Created => {
            tracing::info!("created user \"admin\" with the password from {ADMIN_PASSWORD_ENV}")
        }
        FirstAdmin::Generated(password) => tracing::warn!(
            username = "admin",
            %password,
            "created user \"admin\" with a generated password, shown only this once: log in and \
             change it now (PUT /api/v1/me/password), or set {ADMIN_PASSWORD_ENV} before the \
             first start"
        ),
    }
    Ok(())
}

/// Who is making a request: the user behind the bearer token or the
/// browser session cookie. Taking it as an argument makes a handler require
/// a login (401 otherwise); with the cookie, state-changing methods also
/// require the CSRF token (403 otherwise). Check the role with
/// [`Actor::require`].
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    /// Authenticated by the session cookie (a browser), not a bearer token.
    pub via_cookie: bool,
    /// The browser session, when `via_cookie`.
    session: Option<CookieSession>,
}

#[derive(Debug, Clone)]
struct CookieSession {
    id: String,
    csrf_token: String,
}

impl Actor {
    /// Refuses (403) unless the user's role allows `role`'s job (see
    /// [`Role::allows`]: admin may do everything).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        self.require_any(&[role])
    }

    /// Refuses (403) unless the user's role allows one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|&r| self.user.role.allows(r)) {
            return Ok(());
        }
        let needed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "this needs the {} role; {:?} is {}",
            needed.join(" or "),
            self.user.username,
            self.user.role
        )))
    }

    /// The name written to the audit log for changes this actor makes.
    pub fn name(&self) -> &str {
        &self.user.username
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = bearer_token(value)?;
            let user = state
                .catalog(move |c| c.user_by_token(&token))
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "the API token is not valid: it is unknown or has been revoked".into(),
                    )
                })?;
            return Ok(Actor {
                user,
                via_cookie: false,
                session: None,
            });
        }
        let Some(id) = session_cookie(&parts.headers) else {
            return Err(ApiError::Unauthorized(
                "log in first (POST /api/v1/login), or send an API token as \
                 \"Authorization: Bearer <token>\""
                    .into(),
            ));
        };
        let lookup = id.clone();
        let (user, csrf_token) = state
            .catalog(move |c| c.web_session(&lookup))
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "your session has expired or ended; log in again (POST /api/v1/login)".into(),
                )
            })?;
        if changes_state(&parts.method) {
            check_csrf(&parts.headers, &csrf_token)?;
        }
        Ok(Actor {
            user,
            via_cookie: true,
            session: Some(CookieSession { id, csrf_token }),
        })
    }
}

/// Whether a request with this method may change something and so needs
/// the CSRF token when it comes with the cookie. Unknown methods do.
fn changes_state(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

fn check_csrf(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let Some(sent) = headers.get(CSRF_HEADER) else {
        return Err(ApiError::Forbidden(
            "missing X-CSRF-Token header: a request that changes something must send the \
             csrf_token returned at login (GET /api/v1/me returns it again)"
                .into(),
        ));
    };
    if !auth::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Forbidden(
            "wrong X-CSRF-Token header: send the csrf_token returned at login for this session \
             (GET /api/v1/me returns it again)"
                .into(),
        ));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(value: &HeaderValue) -> Result<String, ApiError> {
    let malformed = || {
        ApiError::Unauthorized(
            "the Authorization header must be \"Bearer <token>\" with a token an admin created"
                .into(),
        )
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token.to_owned())
}

/// The value of the session cookie, if the request has one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// Whether the client reached us over HTTPS: directly (an absolute URI
/// with scheme https) or through a proxy that says so. Trusting the
/// header only decides whether the cookie gets `Secure`; a client that
/// lies about it only breaks its own cookie.
fn is_https(headers: &HeaderMap, uri: &Uri) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    forwarded || uri.scheme() == Some(&Scheme::HTTPS)
}

fn session_cookie_header(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}"
    ))
    // The value is base64url, never anything a header cannot hold.
    .unwrap_or_else(|_| HeaderValue::from_static("obrady_session=; Max-Age=0"))
}

/// The client's address for rate limiting and the audit log: the TCP peer
/// when the server was started with connect info, else "unknown".
struct Client(String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |ci| ci.0.ip().to_string()),
        ))
    }
}

/// A JSON body whose rejections are [`ApiError`]s naming the problem.
/// The `Content-Type: application/json` requirement stays: a cross-site
/// form cannot send it, which also keeps other sites from logging a
/// browser in.
struct Body<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                "send the body as JSON, with the header Content-Type: application/json".into(),
            )),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::Unprocessable(lower_first(&e.body_text())))
            }
            Err(e) => Err(ApiError::BadRequest(lower_first(&e.body_text()))),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}

/// A response that must not be cached: it carries a secret or depends on
/// who asks.
fn no_store(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A user as the API shows them.
#[derive(Serialize, ToSchema)]
struct UserInfo {
    username: String,
    role: Role,
}

impl From<&User> for UserInfo {
    fn from(user: &User) -> Self {
        UserInfo {
            username: user.username.clone(),
            role: user.role,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct LoginReply {
    user: UserInfo,
    /// Send it back as `X-CSRF-Token` with every request that changes something.
    csrf_token: String,
}

/// How the request was authenticated.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Via {
    Cookie,
    Token,
}

#[derive(Serialize, ToSchema)]
struct MeReply {
    user: UserInfo,
    via: Via,
    /// The browser session's CSRF token; only with the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct CreatedUser {
    id: i64,
    username: String,
    role: Role,
}

#[derive(Serialize, ToSchema)]
struct CreatedToken {
    id: i64,
    /// The token itself, shown only in this response.
    token: String,
    label: String,
    /// The user the token acts for.
    username: String,
    role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

const WRONG_LOGIN: &str = "wrong username or password";

/// `POST /api/v1/login`: `{username, password}` → `{user, csrf_token}` and
/// the session cookie.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "auth",
    summary = "Log in with a username and password",
    description = "Starts a browser session: sets the `obrady_session` cookie and returns the \
        CSRF token for `X-CSRF-Token`. Rate-limited per username and per client address. \
        Public (no credentials needed).",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in", body = LoginReply,
            headers(("Set-Cookie" = String, description = "obrady_session=...; HttpOnly; \
                SameSite=Strict; Path=/; Max-Age=43200"))),
        (status = 400, description = "Not JSON, or without Content-Type: application/json",
            body = ErrorBody),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or of the wrong type; the \
            message names it", body = ErrorBody),
        (status = 429, description = "Too many failed logins; retry after Retry-After seconds",
            body = ErrorBody)
    )
)]
async fn login(
    State(state): State<AppState>,
    Extension(limiter): Extension<Limiter>,
    Client(client): Client,
    headers: HeaderMap,
    uri: Uri,
    Body(req): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    // Malformed names share one key: they can never log in anyway, and
    // arbitrary strings must not become keys.
    let key = crate::catalog::users::normalize_username(&req.username)
        .unwrap_or_else(|_| "<malformed>".to_owned());
    let allowed = lock(&limiter).attempt(&key, &client, Instant::now());
    if let Err(wait) = allowed {
        let secs = whole_seconds(wait);
        tracing::warn!(username = %key, %client, retry_after = secs, "login refused: too many failures");
        return Err(ApiError::TooManyRequests(
            format!(
                "too many failed logins for this username or from this address; try again in \
                 {secs} s"
            ),
            secs,
        ));
    }
    let name = req.username.clone();
    let found = state.catalog(move |c| c.credentials(&name)).await?;
    let password = req.password;
    let verified = tokio::task::spawn_blocking(move || {
        let ok = password.len() <= auth::MAX_PASSWORD_BYTES
            && auth::verify_password_or_dummy(&password, found.as_ref().map(|(_, h)| h.as_str()));
        found.filter(|_| ok).map(|(user, _)| user)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "password check task failed");
        ApiError::Internal
    })?;
    let Some(user) = verified else {
        let name = req.username;
        let who = client.clone();
        state
            .catalog(move |c| c.record_login_failure(&name, &who))
            .await?;
        return Err(ApiError::Unauthorized(WRONG_LOGIN.into()));
    };
    lock(&limiter).succeeded(&key, &client);
    let for_session = user.clone();
    let session = state
        .catalog(move |c| c.create_web_session(&for_session, WEB_SESSION_TTL, &client))
        .await?;
    let mut response = no_store(
        StatusCode::OK,
        LoginReply {
            user: UserInfo::from(&user),
            csrf_token: session.csrf_token,
        },
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie_header(
            &session.session_id,
            WEB_SESSION_TTL.as_secs(),
            is_https(&headers, &uri),
        ),
    );
    Ok(response)
}

/// A wait in seconds for Retry-After, rounded up.
fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

fn lock(limiter: &Limiter) -> std::sync::MutexGuard<'_, LoginLimiter> {
    limiter.lock().unwrap_or_else(|e| e.into_inner())
}

/// `POST /api/v1/logout`: ends the browser session and clears the cookie.
/// Without a live session it only clears the cookie.
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "auth",
    summary = "Log out: end the browser session",
    description = "Ends the session of the cookie and clears the cookie; without a live \
        session it only clears the cookie. Role: any logged-in browser user (or none); API \
        tokens are revoked with DELETE /api/v1/tokens/{id} instead.",
    security(("session_cookie" = [], "csrf_token" = []), ()),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared",
            headers(("Set-Cookie" = String, description = "obrady_session=; Max-Age=0"))),
        (status = 400, description = "Sent with a bearer token, which logout does not end",
            body = ErrorBody),
        (status = 401, description = "The bearer token is not valid", body = ErrorBody),
        (status = 403, description = "The cookie came without its X-CSRF-Token",
            body = ErrorBody)
    )
)]
async fn logout(
    State(state): State<AppState>,
    actor: Result<Actor, ApiError>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    match actor {
        Ok(Actor {
            session: Some(session),
            ..
        }) => {
            state
                .catalog(move |c| c.end_web_session(&session.id))
                .await?;
        }
        Ok(_) => {
            return Err(ApiError::BadRequest(
                "logout ends a browser session; an API token is revoked with \
                 DELETE /api/v1/tokens/{id}"
                    .into(),
            ))
        }
        Err(ApiError::Unauthorized(_)) if !headers.contains_key(header::AUTHORIZATION) => {}
        Err(e) => return Err(e),
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie_header("", 0, is_https(&headers, &uri)),
    );
    Ok(response)
}

/// `GET /api/v1/me`: who the credentials belong to; for a browser session
/// also its CSRF token (the page needs it again after a reload).
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    summary = "Who the credentials belong to",
    description = "The user and role behind the cookie or token; for a browser session also \
        its CSRF token (needed again after a page reload). Role: any logged-in user.",
    security(("session_cookie" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The user", body = MeReply),
        (status = 401, description = "Not logged in, or the session or token is not valid",
            body = ErrorBody)
    )
)]
async fn me(actor: Actor) -> Response {
    let body = MeReply {
        user: UserInfo::from(&actor.user),
        via: if actor.via_cookie {
            Via::Cookie
        } else {
            Via::Token
        },
        csrf_token: actor.session.as_ref().map(|s| s.csrf_token.clone()),
    };
    no_store(StatusCode::OK, body)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `PUT /api/v1/me/password`: `{current_password, new_password}`. Ends the
/// user's other browser sessions. Wrong current passwords count as failed
/// logins for the rate limit.
#[utoipa::path(
    put,
    path = "/api/v1/me/password",
    tag = "auth",
    summary = "Change one's own password",
    description = "Needs the current password; ends the user's other browser sessions. Wrong \
        current passwords count as failed logins. Role: any logged-in user.",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    request_body(content = PasswordChange, content_type = "application/json"),
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "Not JSON, or without Content-Type: application/json",
            body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "The current password is wrong, or the CSRF token is \
            missing", body = ErrorBody),
        (status = 422, description = "A field is missing or unknown, or the new password is \
            too short or too long", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords; retry after Retry-After \
            seconds", body = ErrorBody)
    )
)]
async fn change_password(
    State(state): State<AppState>,
    Extension(limiter): Extension<Limiter>,
    Client(client): Client,
    actor: Actor,
    Body(req): Body<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let username = actor.user.username.clone();
    if let Err(wait) = lock(&limiter).attempt(&username, &client, Instant::now()) {
        let secs = whole_seconds(wait);
        return Err(ApiError::TooManyRequests(
            format!("too many wrong passwords; try again in {secs} s"),
            secs,
        ));
    }
    let name = username.clone();
    let current = req.current_password;
    let right = state
        .catalog(move |c| c.credentials(&name))
        .await?
        .map(|(_, hash)| hash);
    let right = tokio::task::spawn_blocking(move || {
        auth::verify_password_or_dummy(&current, right.as_deref())
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "password check task failed");
        ApiError::Internal
    })?;
    if !right {
        return Err(ApiError::Forbidden("the current password is wrong".into()));
    }
    lock(&limiter).succeeded(&username, &client);
    let keep = actor.session.map(|s| s.id);
    let user_id = actor.user.id;
    state
        .catalog(move |c| c.set_password(user_id, &req.new_password, keep.as_deref(), &username))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    role: Role,
    password: String,
}

/// `POST /api/v1/users` (admin): `{username, role, password}` → 201
/// `{id, username, role}`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "auth",
    summary = "Create a user",
    description = "A person who signs in: admin, operator (runs sessions) or staff. Role: admin.",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    request_body(content = NewUser, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "Not JSON, or without Content-Type: application/json",
            body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin, or the CSRF token is missing",
            body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid (username, role, \
            password length); the message names it", body = ErrorBody)
    )
)]
async fn create_user(
    State(state): State<AppState>,
    actor: Actor,
    Body(req): Body<NewUser>,
) -> Result<Response, ApiError> {
    actor.require(Role::Admin)?;
    let by = actor.name().to_owned();
    let user = state
        .catalog(move |c| c.create_user(&req.username, req.role, &req.password, &by))
        .await?;
    Ok(no_store(
        StatusCode::CREATED,
        CreatedUser {
            id: user.id,
            username: user.username,
            role: user.role,
        },
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    label: String,
    /// The user the token acts for; the admin making it when absent.
    #[serde(default)]
    username: Option<String>,
}

/// `POST /api/v1/tokens` (admin): `{label, username?}` → 201
/// `{id, token, label, username, role}`. The token is shown only here.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "auth",
    summary = "Create an API token",
    description = "A bearer token acting for the given user (the admin when absent); the token \
        is shown only in this response. Role: admin.",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    request_body(content = NewToken, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = CreatedToken),
        (status = 400, description = "Not JSON, or without Content-Type: application/json",
            body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin, or the CSRF token is missing",
            body = ErrorBody),
        (status = 404, description = "No enabled user has that username", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; the message names \
            it", body = ErrorBody)
    )
)]
async fn create_token(
    State(state): State<AppState>,
    actor: Actor,
    Body(req): Body<NewToken>,
) -> Result<Response, ApiError> {
    actor.require(Role::Admin)?;
    let by = actor.name().to_owned();
    let me = actor.user.clone();
    let label = req.label.trim().to_owned();
    let (user, id, token) = state
        .catalog(move |c| {
            let user = match &req.username {
                None => me,
                Some(name) => c.user_by_name(name)?.ok_or_else(|| {
                    CatalogError::NotFound(format!("no enabled user is named {name:?}"))
                })?,
            };
            let (id, token) = c.create_token(user.id, &req.label, &by)?;
            Ok((user, id, token))
        })
        .await?;
    Ok(no_store(
        StatusCode::CREATED,
        CreatedToken {
            id,
            token,
            label,
            username: user.username,
            role: user.role,
        },
    ))
}

#[derive(Serialize, ToSchema)]
struct TokenList {
    /// Newest first.
    tokens: Vec<TokenInfo>,
}

/// `GET /api/v1/tokens` (admin): every token, newest first, without the
/// tokens themselves.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "auth",
    summary = "List the API tokens",
    description = "Every token, newest first, with its user and whether it is revoked; never \
        the tokens themselves. Role: admin.",
    security(("session_cookie" = []), ("bearer_token" = [])),
    responses(
        (status = 200, description = "The tokens", body = TokenList),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody)
    )
)]
async fn list_tokens(State(state): State<AppState>, actor: Actor) -> Result<Response, ApiError> {
    actor.require(Role::Admin)?;
    let tokens = state.catalog(|c| c.list_tokens()).await?;
    Ok(no_store(StatusCode::OK, TokenList { tokens }))
}

/// `DELETE /api/v1/tokens/{id}` (admin): revokes a token; 204 also when it
/// was revoked already.
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "auth",
    summary = "Revoke an API token",
    description = "The token stops working at once; 204 also when it was revoked already. \
        Role: admin.",
    security(("session_cookie" = [], "csrf_token" = []), ("bearer_token" = [])),
    params(("id" = i64, Path, description = "Token id, as listed by GET /api/v1/tokens")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an admin, or the CSRF token is missing",
            body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody)
    )
)]
async fn revoke_token(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    actor.require(Role::Admin)?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("the token id must be a number, got {id:?}")))?;
    let by = actor.name().to_owned();
    state.catalog(move |c| c.revoke_token(id, &by)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use axum::body::Body as HttpBody;
    use axum::http::Request as HttpRequest;
    use axum::Router;
    use serde_json::json;
    use tower::ServiceExt;

    use super::*;
    use crate::archive::store::ArchiveStore;
    use crate::catalog::db::Catalog;

    const ADMIN_PW: &str = "admin password 1";
    const OPERATOR_PW: &str = "operator password";
    const STAFF_PW: &str = "staff password 1";

    struct Test {
        _dir: tempfile::TempDir,
        state: AppState,
        app: Router,
    }

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: serde_json::Value,
    }

    impl Reply {
        fn error(&self) -> &str {
            self.body["error"].as_str().unwrap_or_default()
        }
    }

    fn test_state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("x.db")).unwrap();
        let state = AppState {
            channels: Arc::new(HashMap::new()),
            archive: ArchiveStore::new(dir.path()),
            catalog: Arc::new(Mutex::new(catalog)),
        };
        (dir, state)
    }

    async fn setup() -> Test {
        let (dir, state) = test_state();
        bootstrap_admin_with(&state, Some(ADMIN_PW.into()))
            .await
            .unwrap();
        state
            .catalog(|c| {
                c.create_user("anna", Role::Operator, OPERATOR_PW, "admin")?;
                c.create_user("staff1", Role::Staff, STAFF_PW, "admin")
            })
            .await
            .unwrap();
        let app = Router::from(routes()).with_state(state.clone());
        Test {
            _dir: dir,
            state,
            app,
        }
    }

    fn request(
        method: Method,
        uri: &str,
        body: Option<serde_json::Value>,
    ) -> HttpRequest<HttpBody> {
        let builder = HttpRequest::builder().method(method).uri(uri);
        match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(HttpBody::from(body.to_string()))
                .unwrap(),
            None => builder.body(HttpBody::empty()).unwrap(),
        }
    }

    fn with(mut req: HttpRequest<HttpBody>, name: &str, value: &str) -> HttpRequest<HttpBody> {
        req.headers_mut().append(
            header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        req
    }

    impl Test {
        async fn send(&self, req: HttpRequest<HttpBody>) -> Reply {
            let response = self.app.clone().oneshot(req).await.unwrap();
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let body = if bytes.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&bytes)
                    .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
            };
            Reply {
                status,
                headers,
                body,
            }
        }

        async fn login_reply(&self, username: &str, password: &str) -> Reply {
            self.send(request(
                Method::POST,
                "/api/v1/login",
                Some(json!({ "username": username, "password": password })),
            ))
            .await
        }

        /// Logs in; returns the `Cookie` header value and the CSRF token.
        async fn login(&self, username: &str, password: &str) -> (String, String) {
            let reply = self.login_reply(username, password).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
            let cookie = set_cookie.split(';').next().unwrap().to_owned();
            let csrf = reply.body["csrf_token"].as_str().unwrap().to_owned();
            (cookie, csrf)
        }

        async fn audit_actions(&self) -> Vec<(String, String)> {
            let mut entries = self.state.catalog(|c| c.audit_entries(100)).await.unwrap();
            entries.reverse();
            entries.into_iter().map(|e| (e.actor, e.action)).collect()
        }

        /// An admin API token.
        async fn admin_token(&self) -> String {
            self.state
                .catalog(|c| {
                    let admin = c.user_by_name("admin")?.unwrap();
                    c.create_token(admin.id, "tests", "admin")
                })
                .await
                .unwrap()
                .1
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn login_sets_a_strict_http_only_cookie_and_returns_the_csrf_token() {
        let t = setup().await;
        let reply = t.login_reply(" Anna ", OPERATOR_PW).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.body["user"],
            json!({"username": "anna", "role": "operator"})
        );
        let csrf = reply.body["csrf_token"].as_str().unwrap();
        assert_eq!(csrf.len(), 43);
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        let set_cookie = reply.headers[header::SET_COOKIE].to_str().unwrap();
        let (value, attributes) = set_cookie.split_once(';').unwrap();
        let session_id = value.strip_prefix("obrady_session=").unwrap();
        assert_eq!(session_id.len(), 43);
        assert_ne!(session_id, csrf);
        assert_eq!(
            attributes, " HttpOnly; SameSite=Strict; Path=/; Max-Age=43200",
            "no Secure over plain HTTP"
        );

        let https = with(
            request(
                Method::POST,
                "/api/v1/login",
                Some(json!({"username": "anna", "password": OPERATOR_PW})),
            ),
            "x-forwarded-proto",
            "https",
        );
        let reply = t.send(https).await;
        assert!(reply.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .ends_with("; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200; Secure"));

        let me = t
            .send(with(
                request(Method::GET, "/api/v1/me", None),
                "cookie",
                &format!("theme=dark; obrady_session={session_id}"),
            ))
            .await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        assert_eq!(
            me.body,
            json!({"user": {"username": "anna", "role": "operator"}, "via": "cookie",
                   "csrf_token": csrf})
        );
        assert_eq!(
            t.audit_actions().await[3..],
            pairs(&[("anna", "user.login"), ("anna", "user.login")])
        );
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_user_get_the_same_401_and_are_audited() {
        let t = setup().await;
        for (username, password) in [("anna", "not her password"), ("nobody", OPERATOR_PW)] {
            let reply = t.login_reply(username, password).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.body, json!({"error": "wrong username or password"}));
            assert!(!reply.headers.contains_key(header::SET_COOKIE));
        }
        assert_eq!(
            t.audit_actions().await[3..],
            pairs(&[
                ("anonymous", "user.login_failed"),
                ("anonymous", "user.login_failed")
            ])
        );
        let last = &t.state.catalog(|c| c.audit_entries(1)).await.unwrap()[0];
        assert_eq!(last.detail, json!({"username": null, "client": "unknown"}));
    }

    #[tokio::test]
    async fn bad_login_bodies_are_4xx_naming_the_problem() {
        let t = setup().await;
        let reply = t
            .send(request(
                Method::POST,
                "/api/v1/login",
                Some(json!({"username": "anna"})),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.error().contains("missing field `password`"),
            "{}",
            reply.error()
        );

        let no_type = HttpRequest::post("/api/v1/login")
            .body(HttpBody::from(r#"{"username":"anna","password":"x"}"#))
            .unwrap();
        let reply = t.send(no_type).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.error(),
            "send the body as JSON, with the header Content-Type: application/json"
        );

        let broken = with(
            HttpRequest::post("/api/v1/login")
                .body(HttpBody::from("{\"username\":"))
                .unwrap(),
            "content-type",
            "application/json",
        );
        let reply = t.send(broken).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(
            reply
                .error()
                .starts_with("failed to parse the request body as JSON"),
            "{}",
            reply.error()
        );
    }

    #[tokio::test]
    async fn login_is_rate_limited_per_username_with_retry_after() {
        let t = setup().await;
        for _ in 0..5 {
            let reply = t.login_reply("anna", "guessing wrong").await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        }
        // Even the right password is refused now, before it is checked.
        let reply = t.login_reply("anna", OPERATOR_PW).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = reply.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((899..=900).contains(&retry), "{retry}");
        assert_eq!(
            reply.error(),
            format!(
                "too many failed logins for this username or from this address; try again in \
                 {retry} s"
            )
        );
        // Refused attempts are not audited; the five failures are.
        let failures = t
            .audit_actions()
            .await
            .iter()
            .filter(|(_, action)| action == "user.login_failed")
            .count();
        assert_eq!(failures, 5);
        // Another user from the same address may still log in.
        t.login("staff1", STAFF_PW).await;
    }

    #[tokio::test]
    async fn login_is_rate_limited_per_client_address() {
        let t = setup().await;
        let from = |username: &str, ip: [u8; 4]| {
            let mut req = request(
                Method::POST,
                "/api/v1/login",
                Some(json!({"username": username, "password": "guessing wrong"})),
            );
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
            req
        };
        for i in 0..20 {
            let reply = t.send(from(&format!("user{i}"), [192, 0, 2, 1])).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        }
        let reply = t.send(from("anna", [192, 0, 2, 1])).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        let reply = t.send(from("anna", [192, 0, 2, 2])).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "another address");
        let last = &t.state.catalog(|c| c.audit_entries(1)).await.unwrap()[0];
        assert_eq!(last.detail["client"], "192.0.2.2");
    }

    #[tokio::test]
    async fn anonymous_requests_get_401_telling_to_log_in() {
        let t = setup().await;
        for (method, uri) in [
            (Method::GET, "/api/v1/me"),
            (Method::GET, "/api/v1/tokens"),
            (Method::POST, "/api/v1/tokens"),
            (Method::POST, "/api/v1/users"),
            (Method::DELETE, "/api/v1/tokens/1"),
        ] {
            let reply = t.send(request(method.clone(), uri, None)).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
            assert!(
                reply
                    .error()
                    .starts_with("log in first (POST /api/v1/login)"),
                "{}",
                reply.error()
            );
        }
        let stale = with(
            request(Method::GET, "/api/v1/me", None),
            "cookie",
            "obrady_session=made-up",
        );
        let reply = t.send(stale).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.error(),
            "your session has expired or ended; log in again (POST /api/v1/login)"
        );
        let basic = with(
            request(Method::GET, "/api/v1/me", None),
            "authorization",
            "Basic YTpi",
        );
        let reply = t.send(basic).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(
            reply.error().contains("\"Bearer <token>\""),
            "{}",
            reply.error()
        );
    }

    #[tokio::test]
    async fn cookie_requests_that_change_state_need_the_csrf_token() {
        let t = setup().await;
        let (cookie, csrf) = t.login("admin", ADMIN_PW).await;
        let new_token = || {
            with(
                request(
                    Method::POST,
                    "/api/v1/tokens",
                    Some(json!({"label": "BIP export"})),
                ),
                "cookie",
                &cookie,
            )
        };
        let reply = t.send(new_token()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(
            reply.error().starts_with("missing X-CSRF-Token header"),
            "{}",
            reply.error()
        );

        let reply = t.send(with(new_token(), "x-csrf-token", "guessed")).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(
            reply.error().starts_with("wrong X-CSRF-Token header"),
            "{}",
            reply.error()
        );

        // Another session's token does not do either.
        let (_, other_csrf) = t.login("admin", ADMIN_PW).await;
        let reply = t.send(with(new_token(), "x-csrf-token", &other_csrf)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);

        let reply = t.send(with(new_token(), "x-csrf-token", &csrf)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let tokens = t.audit_actions().await;
        assert_eq!(
            tokens.last().unwrap(),
            &("admin".into(), "token.create".into())
        );
    }

    #[tokio::test]
    async fn bearer_tokens_authenticate_until_revoked() {
        let t = setup().await;
        let admin = t.admin_token().await;
        let bearer = |req| with(req, "authorization", &format!("Bearer {admin}"));

        // An admin makes a token for the staff user; no CSRF with bearer.
        let reply = t
            .send(bearer(request(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"label": "BIP export", "username": "staff1"})),
            )))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["username"], "staff1");
        assert_eq!(reply.body["role"], "staff");
        assert_eq!(reply.body["label"], "BIP export");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        let id = reply.body["id"].as_i64().unwrap();
        let token = reply.body["token"].as_str().unwrap().to_owned();

        let me = |token: &str| {
            with(
                request(Method::GET, "/api/v1/me", None),
                "authorization",
                &format!("bearer {token}"),
            )
        };
        let reply = t.send(me(&token)).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.body,
            json!({"user": {"username": "staff1", "role": "staff"}, "via": "token"})
        );

        let list = t
            .send(bearer(request(Method::GET, "/api/v1/tokens", None)))
            .await;
        assert_eq!(list.status, StatusCode::OK);
        let tokens = list.body["tokens"].as_array().unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0]["label"], "BIP export");
        assert!(!list.body.to_string().contains(&token), "never listed");

        let revoke = |id: &str| {
            bearer(request(
                Method::DELETE,
                &format!("/api/v1/tokens/{id}"),
                None,
            ))
        };
        assert_eq!(
            t.send(revoke(&id.to_string())).await.status,
            StatusCode::NO_CONTENT
        );
        let reply = t.send(me(&token)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.error(),
            "the API token is not valid: it is unknown or has been revoked"
        );
        let reply = t.send(revoke("abc")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.error(), "the token id must be a number, got \"abc\"");
        let reply = t.send(revoke("999")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.error(), "API token 999 does not exist");
        let reply = t
            .send(bearer(request(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({"label": "x", "username": "ghost"})),
            )))
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.error(), "no enabled user is named \"ghost\"");

        let actions = t.audit_actions().await;
        assert_eq!(
            actions[actions.len() - 3..],
            pairs(&[
                ("admin", "token.create"),
                ("admin", "token.create"),
                ("admin", "token.revoke")
            ])
        );
    }

    #[tokio::test]
    async fn only_admins_manage_users_and_tokens() {
        let t = setup().await;
        let (cookie, csrf) = t.login("staff1", STAFF_PW).await;
        let as_staff = |req| with(with(req, "cookie", &cookie), "x-csrf-token", &csrf);
        let new_user = json!({"username": "jan", "role": "operator", "password": "jan's password"});

        let reply = t
            .send(as_staff(request(
                Method::POST,
                "/api/v1/users",
                Some(new_user.clone()),
            )))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.error(),
            "this needs the admin role; \"staff1\" is staff"
        );
        let reply = t
            .send(as_staff(request(Method::GET, "/api/v1/tokens", None)))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);

        let (cookie, csrf) = t.login("admin", ADMIN_PW).await;
        let as_admin = |req| with(with(req, "cookie", &cookie), "x-csrf-token", &csrf);
        let reply = t
            .send(as_admin(request(
                Method::POST,
                "/api/v1/users",
                Some(new_user.clone()),
            )))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["username"], "jan");
        assert_eq!(reply.body["role"], "operator");
        let reply = t
            .send(as_admin(request(
                Method::POST,
                "/api/v1/users",
                Some(new_user),
            )))
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(reply.error(), "a user named \"jan\" already exists");
        let reply = t
            .send(as_admin(request(
                Method::POST,
                "/api/v1/users",
                Some(json!({"username": "root", "role": "root", "password": "long enough pw"})),
            )))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply.error().contains("unknown variant `root`"),
            "{}",
            reply.error()
        );
        let reply = t
            .send(as_admin(request(
                Method::POST,
                "/api/v1/users",
                Some(json!({"username": "ewa", "role": "staff", "password": "short"})),
            )))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            reply.error(),
            "the password is too short: 5 characters, at least 12 needed"
        );
        t.login("jan", "jan's password").await;
        assert!(t
            .audit_actions()
            .await
            .contains(&("admin".into(), "user.create".into())));
    }

    #[tokio::test]
    async fn logout_ends_the_session_and_clears_the_cookie() {
        let t = setup().await;
        let (cookie, csrf) = t.login("anna", OPERATOR_PW).await;
        let logout = || {
            with(
                request(Method::POST, "/api/v1/logout", None),
                "cookie",
                &cookie,
            )
        };

        let reply = t.send(logout()).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "CSRF applies to logout too"
        );
        let reply = t.send(with(logout(), "x-csrf-token", &csrf)).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert_eq!(
            reply.headers[header::SET_COOKIE],
            "obrady_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
        );
        let me = t
            .send(with(
                request(Method::GET, "/api/v1/me", None),
                "cookie",
                &cookie,
            ))
            .await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED);
        // Logging out again, or without a session, only clears the cookie.
        assert_eq!(t.send(logout()).await.status, StatusCode::NO_CONTENT);
        assert_eq!(
            t.send(request(Method::POST, "/api/v1/logout", None))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let token = t.admin_token().await;
        let reply = t
            .send(with(
                request(Method::POST, "/api/v1/logout", None),
                "authorization",
                &format!("Bearer {token}"),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let logouts = t
            .audit_actions()
            .await
            .into_iter()
            .filter(|(_, action)| action == "user.logout")
            .collect::<Vec<_>>();
        assert_eq!(logouts, pairs(&[("anna", "user.logout")]));
    }

    #[tokio::test]
    async fn password_change_needs_the_current_password_and_ends_other_sessions() {
        let t = setup().await;
        let (cookie, csrf) = t.login("anna", OPERATOR_PW).await;
        let (other, _) = t.login("anna", OPERATOR_PW).await;
        let change = |current: &str| {
            with(
                with(
                    request(
                        Method::PUT,
                        "/api/v1/me/password",
                        Some(json!({"current_password": current,
                                    "new_password": "a brand new password"})),
                    ),
                    "cookie",
                    &cookie,
                ),
                "x-csrf-token",
                &csrf,
            )
        };
        let reply = t.send(change("wrong password")).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.error(), "the current password is wrong");
        assert_eq!(
            t.send(change(OPERATOR_PW)).await.status,
            StatusCode::NO_CONTENT
        );
        let me = |cookie: &str| with(request(Method::GET, "/api/v1/me", None), "cookie", cookie);
        assert_eq!(t.send(me(&cookie)).await.status, StatusCode::OK);
        assert_eq!(t.send(me(&other)).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            t.login_reply("anna", OPERATOR_PW).await.status,
            StatusCode::UNAUTHORIZED
        );
        t.login("anna", "a brand new password").await;
    }

    /// Collects what `tracing` writes, for checking log lines.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn first_start_logs_a_generated_admin_password_once() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let (_dir, state) = test_state();
        bootstrap_admin_with(&state, None).await.unwrap();
        bootstrap_admin_with(&state, None).await.unwrap();
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.matches("generated password").count(), 1, "{log}");
        assert!(log.contains("WARN"), "{log}");
        assert!(log.contains("change it now"), "{log}");
        let password = log
            .split("password=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        let app = Router::from(routes()).with_state(state.clone());
        let t = Test { _dir, state, app };
        t.login("admin", password).await;

        let (_dir, state) = test_state();
        let err = bootstrap_admin_with(&state, Some("short".into()))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "OBRADY_ADMIN_PASSWORD: the password is too short: 5 characters, at least 12 needed"
        );
    }
}
