//! Every route against every kind of caller: anonymous, staff, operator,
//! admin, a revoked token, and a cookie without its CSRF token. Nobody
//! reaches what their role does not allow. Router-level (no pipeline).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use obrady::archive::store::ArchiveStore;
use obrady::catalog::db::Catalog;
use obrady::catalog::users::Role;
use obrady::http::{app_router, AppState};
use tower::ServiceExt;

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));
const PASSWORD: &str = "a-long-enough-password";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    Staff,
    Operator,
    Admin,
    Revoked,
    CookieWithoutCsrf,
}

struct Setup {
    state: AppState,
    tokens: HashMap<&'static str, String>,
    revoked: String,
    admin_token_id: i64,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut catalog = Catalog::open(&dir.path().join("obrady.db")).expect("catalog");
    let mut tokens = HashMap::new();
    let mut admin_token_id = 0;
    for (name, role) in [
        ("staff", Role::Staff),
        ("operator", Role::Operator),
        ("admin", Role::Admin),
    ] {
        let user = catalog
            .create_user(name, role, PASSWORD, "test")
            .expect("user");
        let (id, token) = catalog
            .create_token(user.id, "tests", "test")
            .expect("token");
        if name == "admin" {
            admin_token_id = id;
        }
        tokens.insert(name, token);
    }
    let op = catalog
        .user_by_name("operator")
        .expect("lookup")
        .expect("operator");
    let (revoked_id, revoked) = catalog.create_token(op.id, "old", "test").expect("token");
    catalog.revoke_token(revoked_id, "test").expect("revoke");
    let state = AppState {
        channels: Arc::new(HashMap::new()),
        archive: ArchiveStore::new(dir.path()),
        catalog: Arc::new(Mutex::new(catalog)),
    };
    Setup {
        state,
        tokens,
        revoked,
        admin_token_id,
        _dir: dir,
    }
}

async fn login_cookie(app: &axum::Router, user: &str) -> String {
    let r = app
        .clone()
        .oneshot(
            Request::post("/api/v1/login")
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    "{{\"username\":\"{user}\",\"password\":\"{PASSWORD}\"}}"
                )))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(r.status(), StatusCode::OK);
    r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

#[tokio::test]
async fn no_caller_reaches_what_their_role_does_not_allow() {
    let s = setup();
    let app = app_router(s.state.clone(), std::path::PathBuf::from("web")).expect("pages");
    let cookie = login_cookie(&app, "admin").await;
    // A session to act on.
    let created = app
        .clone()
        .oneshot(
            Request::post("/api/v1/sessions")
                .header("authorization", format!("Bearer {}", s.tokens["admin"]))
                .body(Body::from(FIXTURE))
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(created.status(), StatusCode::CREATED);

    use Caller::*;
    let operators: &[Caller] = &[Operator, Admin];
    let admins: &[Caller] = &[Admin];
    let logged_in: &[Caller] = &[Staff, Operator, Admin];
    let everyone: &[Caller] = &[
        Anonymous,
        Staff,
        Operator,
        Admin,
        Revoked,
        CookieWithoutCsrf,
    ];
    let token_path = format!("/api/v1/tokens/{}", s.admin_token_id + 1000);
    let routes: Vec<(&str, String, &str, &[Caller])> = vec![
        ("POST", "/api/v1/sessions".into(), FIXTURE, operators),
        (
            "PATCH",
            "/api/v1/sessions/1".into(),
            "{\"place\":\"Sala obrad\"}",
            operators,
        ),
        ("PUT", "/api/v1/sessions/1/agenda".into(), "[]", operators),
        ("POST", "/api/v1/sessions/1/start".into(), "", operators),
        (
            "POST",
            "/api/v1/sessions/1/items/1/begin".into(),
            "",
            operators,
        ),
        ("POST", "/api/v1/sessions/1/recess".into(), "", operators),
        ("POST", "/api/v1/sessions/1/resume".into(), "", operators),
        (
            "POST",
            "/api/v1/sessions/1/private/begin".into(),
            "{\"reason\":\"r\",\"legal_basis\":\"b\"}",
            operators,
        ),
        (
            "POST",
            "/api/v1/sessions/1/private/end".into(),
            "",
            operators,
        ),
        ("POST", "/api/v1/sessions/1/stop".into(), "", operators),
        (
            "PUT",
            "/api/v1/sessions/1/marks/2".into(),
            "{\"at\":\"09:00:00\"}",
            operators,
        ),
        ("POST", "/api/v1/sessions/1/publish".into(), "", operators),
        (
            "POST",
            "/api/v1/sessions/1/unpublish".into(),
            "{\"reason\":\"r\"}",
            operators,
        ),
        (
            "POST",
            "/api/v1/users".into(),
            "{\"username\":\"x\",\"role\":\"staff\",\"password\":\"a-long-enough-password\"}",
            admins,
        ),
        ("POST", "/api/v1/tokens".into(), "{\"label\":\"x\"}", admins),
        ("GET", "/api/v1/tokens".into(), "", admins),
        ("DELETE", token_path, "", admins),
        ("GET", "/api/v1/sessions".into(), "", everyone),
        ("GET", "/api/v1/sessions/1".into(), "", everyone),
        // Channels: the role is checked before the channel is looked up
        // (there is none here, so the allowed get 404).
        (
            "PUT",
            "/api/v1/channels/main/test-scene".into(),
            "{\"scene\":\"card\"}",
            operators,
        ),
        (
            "PUT",
            "/api/v1/channels/main/graphics".into(),
            "{\"vote\":true}",
            operators,
        ),
        (
            "PUT",
            "/api/v1/channels/main/program".into(),
            "{\"input\":0}",
            operators,
        ),
        ("GET", "/api/v1/channels/main/health".into(), "", operators),
        (
            "GET",
            "/api/v1/channels/main/health/events".into(),
            "",
            operators,
        ),
        (
            "GET",
            "/api/v1/channels/main/speakers".into(),
            "",
            operators,
        ),
        ("GET", "/api/v1/channels/main/graphics".into(), "", everyone),
        ("GET", "/api/v1/channels/main/program".into(), "", everyone),
        ("GET", "/api/v1/channels".into(), "", everyone),
        // One's own account: any logged-in user (an empty body is refused
        // with 422, so no password changes here).
        ("GET", "/api/v1/me".into(), "", logged_in),
        ("PUT", "/api/v1/me/password".into(), "{}", logged_in),
    ];
    let mut checked = 0;
    for (method, path, body, allowed) in &routes {
        for caller in [
            Anonymous,
            Staff,
            Operator,
            Admin,
            Revoked,
            CookieWithoutCsrf,
        ] {
            let mut req = Request::builder().method(*method).uri(path.as_str());
            req = match caller {
                Anonymous => req,
                Staff => req.header("authorization", format!("Bearer {}", s.tokens["staff"])),
                Operator => req.header("authorization", format!("Bearer {}", s.tokens["operator"])),
                Admin => req.header("authorization", format!("Bearer {}", s.tokens["admin"])),
                Revoked => req.header("authorization", format!("Bearer {}", s.revoked)),
                // A cross-site form post: the browser sends the cookie, but
                // the attacker cannot know the CSRF token.
                CookieWithoutCsrf => req
                    .header("cookie", &cookie)
                    .header("origin", "https://evil.example"),
            };
            if !body.is_empty() {
                req = req.header("content-type", "application/json");
            }
            let response = app
                .clone()
                .oneshot(req.body(Body::from(*body)).expect("request"))
                .await
                .expect("response");
            let status = response.status();
            let denied = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
            // A GET changes nothing, so it needs no CSRF token: the admin's
            // cookie alone may read (other sites cannot read the answer).
            let effective = if caller == CookieWithoutCsrf && *method == "GET" {
                Admin
            } else {
                caller
            };
            if allowed.contains(&effective) {
                assert!(!denied, "{caller:?} {method} {path}: refused with {status}");
            } else {
                let want = match caller {
                    Anonymous | Revoked => StatusCode::UNAUTHORIZED,
                    _ => StatusCode::FORBIDDEN,
                };
                assert_eq!(status, want, "{caller:?} {method} {path} got through");
            }
            assert!(
                !status.is_server_error(),
                "{caller:?} {method} {path}: {status}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * 6);
}
