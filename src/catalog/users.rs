//! Users, browser sessions and API tokens: who may sign in and what a
//! request's credentials stand for.
//!
//! A child module of `catalog::db` (declared there with `#[path]`), so it
//! uses the same transaction and audit helpers as the rest of the catalog;
//! re-exported as `catalog::users`.
//!
//! Secrets never reach the database in a usable form: passwords are stored
//! as argon2id hashes, session ids and API tokens as SHA-256 hashes (see
//! [`crate::auth`]). Every change appends an `audit_log` row in its own
//! transaction, including failed logins (actor "anonymous").

use std::fmt;
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{audit, check_actor, is_unique_violation, now_ns, Catalog, CatalogError};
use crate::auth;

/// The longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 64;
/// The longest API token label, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// The actor of changes the server makes by itself.
const SYSTEM: &str = "system";
/// The actor of a failed login: nobody has proven who they are.
const ANONYMOUS: &str = "anonymous";

/// What a user is for (`users.role`).
///
/// Roles are jobs, not ranks: an admin may do everything, while an operator
/// (runs sessions: start, agenda marks, private parts) and staff (find,
/// publish and export recordings) each do only their own job. So there is
/// no ordering; ask [`Role::allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(
    description = "admin: manages users and tokens, and may do everything; operator: \
    creates and runs sessions and withdraws or re-publishes recordings; staff: finds, clips and \
    exports recordings for BIP."
)]
pub enum Role {
    Admin,
    Operator,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Staff => "staff",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "operator" => Role::Operator,
            "staff" => Role::Staff,
            _ => return None,
        })
    }

    /// Whether a user with this role may do what `required` is for: admin
    /// may do everything, the others only their own job.
    pub fn allows(self, required: Role) -> bool {
        self == Role::Admin || self == required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromSql for Role {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        Role::parse(s).ok_or_else(|| FromSqlError::Other(format!("unknown role {s:?}").into()))
    }
}

impl ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

/// A signed-in person, or the user an API token acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
}

/// A browser session just created; `session_id` goes into the cookie and
/// `csrf_token` to the page, and neither can be read back later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebSession {
    pub session_id: String,
    pub csrf_token: String,
    /// Unix ns.
    pub expires_at: i64,
}

/// What [`Catalog::ensure_admin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstAdmin {
    /// There were users already; nothing changed.
    UsersExist,
    /// `admin` was created with the password given.
    Created,
    /// `admin` was created with this generated password, which exists
    /// nowhere else: show it once.
    Generated(String),
}

/// An API token as listed to admins: never the token, never its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub label: String,
    /// The user the token acts for.
    pub username: String,
    pub role: Role,
    /// Unix ns.
    pub created_at: i64,
    /// Unix ns; `None` while the token works.
    pub revoked_at: Option<i64>,
}

/// Checks a username as given by an admin or typed at login: trimmed and
/// lower-cased, 1 to 64 of `a-z 0-9 . _ -`. One spelling per person (no
/// case or Unicode look-alikes) keeps the audit log unambiguous.
pub fn normalize_username(username: &str) -> Result<String, CatalogError> {
    let name = username.trim().to_lowercase();
    if name.is_empty() {
        return Err(CatalogError::Invalid("the username is empty".into()));
    }
    if name.chars().count() > MAX_USERNAME_CHARS {
        return Err(CatalogError::Invalid(format!(
            "the username is longer than {MAX_USERNAME_CHARS} characters"
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(*c)))
    {
        return Err(CatalogError::Invalid(format!(
            "the username {name:?} contains {bad:?}; use only letters a-z, digits, '.', '_' \
             and '-'"
        )));
    }
    Ok(name)
}

fn user_object(id: i64) -> String {
    format!("user/{id}")
}

fn token_object(id: i64) -> String {
    format!("token/{id}")
}

/// `Duration` as i64 ns, saturating.
fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        role: row.get(2)?,
    })
}

impl Catalog {
    /// On first start, when there are no users at all, creates `admin` with
    /// `password`, or with a generated one that is returned (the caller
    /// shows it once).
    pub fn ensure_admin(&mut self, password: Option<&str>) -> Result<FirstAdmin, CatalogError> {
        if self.user_count()? > 0 {
            return Ok(FirstAdmin::UsersExist);
        }
        let (password, generated) = match password {
            Some(p) => (p.to_owned(), false),
            None => (auth::random_token(), true),
        };
        if let Some(problem) = auth::password_problem(&password) {
            return Err(CatalogError::Invalid(problem));
        }
        let hash = hash(&password)?;
        let tx = self.write()?;
        // Checked again under the write lock: another process may have
        // created the first user meanwhile.
        let users: i64 = tx.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
        if users > 0 {
            return Ok(FirstAdmin::UsersExist);
        }
        tx.execute(
            "INSERT INTO users (username, role, password_hash, created_at) \
             VALUES ('admin', 'admin', ?1, ?2)",
            params![hash, now_ns()],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            SYSTEM,
            "user.create",
            &user_object(id),
            json!({ "username": "admin", "role": Role::Admin, "first_start": true,
                    "generated_password": generated }),
        )?;
        tx.commit()?;
        Ok(if generated {
            FirstAdmin::Generated(password)
        } else {
            FirstAdmin::Created
        })
    }

    /// How many users exist (disabled ones included).
    pub fn user_count(&self) -> Result<i64, CatalogError> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
    }

    /// Creates a user. The username is normalized (see
    /// [`normalize_username`]); the password must pass
    /// [`auth::password_problem`]. Hashing takes a fraction of a second.
    pub fn create_user(
        &mut self,
        username: &str,
        role: Role,
        password: &str,
        actor: &str,
    ) -> Result<User, CatalogError> {
        check_actor(actor)?;
        let username = normalize_username(username)?;
        if let Some(problem) = auth::password_problem(password) {
            return Err(CatalogError::Invalid(problem));
        }
        let hash = hash(password)?;
        let tx = self.write()?;
        tx.execute(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![username, role, hash, now_ns()],
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                CatalogError::Conflict(format!("a user named {username:?} already exists"))
            } else {
                e.into()
            }
        })?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            actor,
            "user.create",
            &user_object(id),
            json!({ "username": username, "role": role }),
        )?;
        tx.commit()?;
        Ok(User { id, username, role })
    }

    /// The enabled user named `username` (normalized as at creation).
    pub fn user_by_name(&self, username: &str) -> Result<Option<User>, CatalogError> {
        let Ok(username) = normalize_username(username) else {
            return Ok(None);
        };
        Ok(self
            .conn
            .query_row(
                "SELECT id, username, role FROM users WHERE username = ?1 AND disabled = 0",
                [username],
                user_from_row,
            )
            .optional()?)
    }

    /// An enabled user with their password hash, for checking a login
    /// outside the catalog lock (argon2 takes a good fraction of a second).
    /// `None` for unknown, malformed or disabled usernames.
    pub fn credentials(&self, username: &str) -> Result<Option<(User, String)>, CatalogError> {
        let Ok(username) = normalize_username(username) else {
            return Ok(None);
        };
        Ok(self
            .conn
            .query_row(
                "SELECT id, username, role, password_hash FROM users \
                 WHERE username = ?1 AND disabled = 0",
                [username],
                |row| Ok((user_from_row(row)?, row.get(3)?)),
            )
            .optional()?)
    }

    /// The user if `password` is theirs; `None` otherwise, taking as long
    /// for an unknown username as for a wrong password. Holds the catalog
    /// for the whole argon2 check: the HTTP layer uses [`Catalog::credentials`]
    /// and checks outside the lock instead.
    pub fn verify_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, CatalogError> {
        let found = self.credentials(username)?;
        let hash = found.as_ref().map(|(_, hash)| hash.as_str());
        let ok = auth::verify_password_or_dummy(password, hash);
        Ok(found.filter(|_| ok).map(|(user, _)| user))
    }

    /// Logs a failed login. The name typed is kept only if it is a user's
    /// (people type passwords into the username field; an append-only log
    /// must not keep them).
    pub fn record_login_failure(
        &mut self,
        username: &str,
        client: &str,
    ) -> Result<(), CatalogError> {
        let known = self.user_by_name(username)?;
        let tx = self.write()?;
        audit(
            &tx,
            ANONYMOUS,
            "user.login_failed",
            &known
                .as_ref()
                .map_or_else(|| "user/unknown".to_owned(), |u| user_object(u.id)),
            json!({ "username": known.as_ref().map(|u| &u.username), "client": client }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Starts a browser session for `user` (who just proved their
    /// password) lasting `ttl`, and logs the login. Rows of sessions that
    /// expired or ended go at the same time; the audit log keeps the
    /// logins and logouts.
    pub fn create_web_session(
        &mut self,
        user: &User,
        ttl: Duration,
        client: &str,
    ) -> Result<NewWebSession, CatalogError> {
        let now = now_ns();
        let session = NewWebSession {
            session_id: auth::random_token(),
            csrf_token: auth::random_token(),
            expires_at: now.saturating_add(duration_ns(ttl).max(1)),
        };
        let tx = self.write()?;
        tx.execute(
            "DELETE FROM web_sessions WHERE expires_at <= ?1 OR revoked_at IS NOT NULL",
            [now],
        )?;
        tx.execute(
            "INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                auth::sha256_hex(&session.session_id),
                user.id,
                session.csrf_token,
                now,
                session.expires_at
            ],
        )?;
        audit(
            &tx,
            &user.username,
            "user.login",
            &user_object(user.id),
            json!({ "client": client, "expires_at": session.expires_at }),
        )?;
        tx.commit()?;
        Ok(session)
    }

    /// The user of a browser session and its CSRF token, while the session
    /// is neither expired nor ended and the user not disabled.
    pub fn web_session(&self, session_id: &str) -> Result<Option<(User, String)>, CatalogError> {
        Ok(self
            .conn
            .query_row(
                "SELECT u.id, u.username, u.role, s.csrf_token \
                 FROM web_sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 \
                 AND u.disabled = 0",
                params![auth::sha256_hex(session_id), now_ns()],
                |row| Ok((user_from_row(row)?, row.get(3)?)),
            )
            .optional()?)
    }

    /// Ends a browser session (logout) and logs it. Returns whether there
    /// was a live session to end.
    pub fn end_web_session(&mut self, session_id: &str) -> Result<bool, CatalogError> {
        let now = now_ns();
        let tx = self.write()?;
        let ended: Option<(i64, String)> = tx
            .query_row(
                "UPDATE web_sessions SET revoked_at = ?2 \
                 WHERE id_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2 \
                 RETURNING user_id, (SELECT username FROM users WHERE id = user_id)",
                params![auth::sha256_hex(session_id), now],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((user_id, username)) = ended else {
            return Ok(false);
        };
        audit(
            &tx,
            &username,
            "user.logout",
            &user_object(user_id),
            json!({}),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Sets a user's password and ends their browser sessions except
    /// `keep_session` (the one making the change, if any).
    pub fn set_password(
        &mut self,
        user_id: i64,
        password: &str,
        keep_session: Option<&str>,
        actor: &str,
    ) -> Result<(), CatalogError> {
        check_actor(actor)?;
        if let Some(problem) = auth::password_problem(password) {
            return Err(CatalogError::Invalid(problem));
        }
        let hash = hash(password)?;
        let now = now_ns();
        let tx = self.write()?;
        if tx.execute(
            "UPDATE users SET password_hash = ?1 WHERE id = ?2",
            params![hash, user_id],
        )? == 0
        {
            return Err(CatalogError::NotFound(format!(
                "user {user_id} does not exist"
            )));
        }
        let keep = keep_session.map(auth::sha256_hex);
        let ended = tx.execute(
            "UPDATE web_sessions SET revoked_at = ?1 WHERE user_id = ?2 \
             AND revoked_at IS NULL AND expires_at > ?1 AND id_hash IS NOT ?3",
            params![now, user_id, keep],
        )?;
        audit(
            &tx,
            actor,
            "user.password_change",
            &user_object(user_id),
            json!({ "sessions_ended": ended }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Creates an API token acting for `user_id`; returns its id and the
    /// token itself, which is not stored and cannot be shown again.
    pub fn create_token(
        &mut self,
        user_id: i64,
        label: &str,
        actor: &str,
    ) -> Result<(i64, String), CatalogError> {
        check_actor(actor)?;
        let label = label.trim();
        if label.is_empty() {
            return Err(CatalogError::Invalid(
                "the token label is empty; say what the token is for, e.g. \"BIP export\"".into(),
            ));
        }
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(CatalogError::Invalid(format!(
                "the token label is longer than {MAX_LABEL_CHARS} characters"
            )));
        }
        let token = auth::random_token();
        let tx = self.write()?;
        let username: String = tx
            .query_row(
                "SELECT username FROM users WHERE id = ?1 AND disabled = 0",
                [user_id],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                CatalogError::NotFound(format!("user {user_id} does not exist or is disabled"))
            })?;
        tx.execute(
            "INSERT INTO api_tokens (user_id, token_hash, label, created_at) \
             VALUES (?1, ?2, ?3, ?4)",
            params![user_id, auth::sha256_hex(&token), label, now_ns()],
        )?;
        let id = tx.last_insert_rowid();
        audit(
            &tx,
            actor,
            "token.create",
            &token_object(id),
            json!({ "label": label, "user": username }),
        )?;
        tx.commit()?;
        Ok((id, token))
    }

    /// Revokes an API token. Revoking a revoked token changes nothing and
    /// is not logged again; an unknown id is `NotFound`.
    pub fn revoke_token(&mut self, id: i64, actor: &str) -> Result<(), CatalogError> {
        check_actor(actor)?;
        let tx = self.write()?;
        let revoked_at: Option<Option<i64>> = tx
            .query_row(
                "SELECT revoked_at FROM api_tokens WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?;
        match revoked_at {
            None => {
                return Err(CatalogError::NotFound(format!(
                    "API token {id} does not exist"
                )))
            }
            Some(Some(_)) => return Ok(()),
            Some(None) => {}
        }
        tx.execute(
            "UPDATE api_tokens SET revoked_at = max(?1, created_at) WHERE id = ?2",
            params![now_ns(), id],
        )?;
        audit(&tx, actor, "token.revoke", &token_object(id), json!({}))?;
        tx.commit()?;
        Ok(())
    }

    /// The user an API token acts for, unless it is revoked or the user
    /// disabled.
    pub fn user_by_token(&self, token: &str) -> Result<Option<User>, CatalogError> {
        Ok(self
            .conn
            .query_row(
                "SELECT u.id, u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND u.disabled = 0",
                [auth::sha256_hex(token)],
                user_from_row,
            )
            .optional()?)
    }

    /// All API tokens, revoked ones included, newest first.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT t.id, t.label, u.username, u.role, t.created_at, t.revoked_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id DESC",
        )?;
        let tokens = stmt
            .query_map([], |row| {
                Ok(TokenInfo {
                    id: row.get(0)?,
                    label: row.get(1)?,
                    username: row.get(2)?,
                    role: row.get(3)?,
                    created_at: row.get(4)?,
                    revoked_at: row.get(5)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(tokens)
    }
}

/// Hashes a password that passed [`auth::password_problem`]; argon2 fails
/// only on inputs that check refuses.
fn hash(password: &str) -> Result<String, CatalogError> {
    auth::hash_password(password)
        .map_err(|e| CatalogError::Invalid(format!("the password cannot be hashed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::db::AuditEntry;

    const PASSWORD: &str = "correct horse battery";

    fn open_temp() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        (dir, catalog)
    }

    fn actions(catalog: &Catalog) -> Vec<(String, String, String)> {
        let mut entries: Vec<AuditEntry> = catalog.audit_entries(100).unwrap();
        entries.reverse();
        entries
            .into_iter()
            .map(|e| (e.actor, e.action, e.object))
            .collect()
    }

    fn triple(actor: &str, action: &str, object: &str) -> (String, String, String) {
        (actor.into(), action.into(), object.into())
    }

    #[test]
    fn roles_are_jobs_and_admin_may_do_everything() {
        use Role::*;
        for role in [Admin, Operator, Staff] {
            assert!(Admin.allows(role));
            assert!(role.allows(role));
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(!Operator.allows(Admin));
        assert!(!Operator.allows(Staff));
        assert!(!Staff.allows(Operator));
        assert!(!Staff.allows(Admin));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(serde_json::to_string(&Operator).unwrap(), r#""operator""#);
    }

    #[test]
    fn usernames_are_normalized_or_refused_with_the_reason() {
        assert_eq!(normalize_username("  J.Kowalski ").unwrap(), "j.kowalski");
        let refuse = |name: &str| normalize_username(name).unwrap_err().to_string();
        assert_eq!(refuse("  "), "the username is empty");
        assert_eq!(
            refuse("łukasz"),
            r#"the username "łukasz" contains 'ł'; use only letters a-z, digits, '.', '_' and '-'"#
        );
        assert_eq!(
            refuse(&"a".repeat(65)),
            "the username is longer than 64 characters"
        );
    }

    #[test]
    fn migration_2_upgrades_a_version_1_catalog_keeping_its_users() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(include_str!("schema.sql")).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO users (username, role, password_hash, created_at) \
                 VALUES ('stara', 'staff', 'x', 1)",
                [],
            )
            .unwrap();
        }
        let catalog = Catalog::open(&path).unwrap();
        let version: i64 = catalog
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        // Migrated through 2 (and whatever came after).
        assert!(version >= 2, "user_version {version}");
        let stara = catalog.user_by_name("stara").unwrap().unwrap();
        assert_eq!(stara.role, Role::Staff);
        let sessions: i64 = catalog
            .conn
            .query_row("SELECT count(*) FROM web_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sessions, 0);
        assert_eq!(catalog.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn first_start_creates_admin_once_with_the_given_or_a_generated_password() {
        let (_dir, mut catalog) = open_temp();
        assert_eq!(
            catalog.ensure_admin(Some("short")).unwrap_err().to_string(),
            "the password is too short: 5 characters, at least 12 needed"
        );
        assert_eq!(catalog.user_count().unwrap(), 0);
        assert_eq!(
            catalog.ensure_admin(Some(PASSWORD)).unwrap(),
            FirstAdmin::Created
        );
        let admin = catalog.verify_login("admin", PASSWORD).unwrap().unwrap();
        assert_eq!(admin.role, Role::Admin);
        // Users exist now: nothing happens, whatever the password.
        assert_eq!(catalog.ensure_admin(None).unwrap(), FirstAdmin::UsersExist);
        assert_eq!(
            catalog.ensure_admin(Some("another password")).unwrap(),
            FirstAdmin::UsersExist
        );
        assert_eq!(catalog.user_count().unwrap(), 1);
        assert_eq!(
            actions(&catalog),
            [triple("system", "user.create", "user/1")]
        );

        let (_dir, mut fresh) = open_temp();
        let FirstAdmin::Generated(generated) = fresh.ensure_admin(None).unwrap() else {
            panic!("a password is generated when none is given");
        };
        assert_eq!(generated.len(), 43);
        assert!(fresh.verify_login("admin", &generated).unwrap().is_some());
        let stored: String = fresh
            .conn
            .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains(&generated));
    }

    #[test]
    fn create_user_and_verify_login() {
        let (_dir, mut catalog) = open_temp();
        let anna = catalog
            .create_user(" Anna.Nowak", Role::Operator, PASSWORD, "admin")
            .unwrap();
        assert_eq!(anna.username, "anna.nowak");
        assert_eq!(
            catalog.verify_login("ANNA.NOWAK", PASSWORD).unwrap(),
            Some(anna.clone())
        );
        assert_eq!(
            catalog
                .verify_login("anna.nowak", "wrong password!")
                .unwrap(),
            None
        );
        assert_eq!(catalog.verify_login("nobody", PASSWORD).unwrap(), None);
        assert_eq!(catalog.verify_login("no body", PASSWORD).unwrap(), None);

        let dup = catalog
            .create_user("anna.nowak", Role::Staff, PASSWORD, "admin")
            .unwrap_err();
        assert_eq!(dup.kind(), crate::catalog::db::ErrorKind::Conflict);
        assert_eq!(
            dup.to_string(),
            r#"a user named "anna.nowak" already exists"#
        );
        let weak = catalog
            .create_user("jan", Role::Staff, "123", "admin")
            .unwrap_err();
        assert_eq!(weak.kind(), crate::catalog::db::ErrorKind::Invalid);
        assert_eq!(
            catalog
                .create_user("jan", Role::Staff, PASSWORD, " ")
                .unwrap_err()
                .to_string(),
            "the actor of a catalog change must be named"
        );

        // Disabled users cannot log in.
        catalog
            .conn
            .execute("UPDATE users SET disabled = 1 WHERE id = ?1", [anna.id])
            .unwrap();
        assert_eq!(catalog.verify_login("anna.nowak", PASSWORD).unwrap(), None);
        assert_eq!(
            actions(&catalog),
            [triple("admin", "user.create", "user/1")]
        );
    }

    #[test]
    fn web_sessions_live_until_logout_or_expiry_and_store_only_hashes() {
        let (_dir, mut catalog) = open_temp();
        let user = catalog
            .create_user("operator1", Role::Operator, PASSWORD, "admin")
            .unwrap();
        let s = catalog
            .create_web_session(&user, Duration::from_secs(3600), "192.0.2.1")
            .unwrap();
        assert_ne!(s.session_id, s.csrf_token);
        assert_eq!(
            catalog.web_session(&s.session_id).unwrap(),
            Some((user.clone(), s.csrf_token.clone()))
        );
        assert_eq!(catalog.web_session(&s.csrf_token).unwrap(), None);
        assert_eq!(catalog.web_session("").unwrap(), None);
        let stored: String = catalog
            .conn
            .query_row("SELECT id_hash FROM web_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, auth::sha256_hex(&s.session_id));

        assert!(catalog.end_web_session(&s.session_id).unwrap());
        assert_eq!(catalog.web_session(&s.session_id).unwrap(), None);
        assert!(
            !catalog.end_web_session(&s.session_id).unwrap(),
            "already ended"
        );

        let short = catalog
            .create_web_session(&user, Duration::from_nanos(1), "192.0.2.1")
            .unwrap();
        assert_eq!(
            catalog.web_session(&short.session_id).unwrap(),
            None,
            "expired"
        );
        assert!(!catalog.end_web_session(&short.session_id).unwrap());

        // Ended and expired rows are cleared by the next login.
        let third = catalog
            .create_web_session(&user, Duration::from_secs(3600), "192.0.2.1")
            .unwrap();
        let rows: i64 = catalog
            .conn
            .query_row("SELECT count(*) FROM web_sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);

        catalog
            .conn
            .execute("UPDATE users SET disabled = 1 WHERE id = ?1", [user.id])
            .unwrap();
        assert_eq!(
            catalog.web_session(&third.session_id).unwrap(),
            None,
            "disabled"
        );

        assert_eq!(
            actions(&catalog),
            [
                triple("admin", "user.create", "user/1"),
                triple("operator1", "user.login", "user/1"),
                triple("operator1", "user.logout", "user/1"),
                triple("operator1", "user.login", "user/1"),
                triple("operator1", "user.login", "user/1"),
            ]
        );
        let login = &catalog.audit_entries(1).unwrap()[0];
        assert_eq!(login.detail["client"], "192.0.2.1");
    }

    #[test]
    fn failed_logins_are_logged_without_what_was_typed() {
        let (_dir, mut catalog) = open_temp();
        catalog
            .create_user("anna", Role::Staff, PASSWORD, "admin")
            .unwrap();
        catalog.record_login_failure("Anna", "192.0.2.1").unwrap();
        catalog
            .record_login_failure("my secret password", "192.0.2.2")
            .unwrap();
        let entries = catalog.audit_entries(2).unwrap();
        assert_eq!(entries[1].actor, "anonymous");
        assert_eq!(entries[1].action, "user.login_failed");
        assert_eq!(entries[1].object, "user/1");
        assert_eq!(
            entries[1].detail,
            json!({"username": "anna", "client": "192.0.2.1"})
        );
        assert_eq!(entries[0].object, "user/unknown");
        assert_eq!(
            entries[0].detail,
            json!({"username": null, "client": "192.0.2.2"})
        );
    }

    #[test]
    fn password_change_ends_other_sessions() {
        let (_dir, mut catalog) = open_temp();
        let user = catalog
            .create_user("anna", Role::Staff, PASSWORD, "admin")
            .unwrap();
        let ttl = Duration::from_secs(60);
        let here = catalog.create_web_session(&user, ttl, "a").unwrap();
        let there = catalog.create_web_session(&user, ttl, "b").unwrap();
        catalog
            .set_password(
                user.id,
                "a new long password",
                Some(&here.session_id),
                "anna",
            )
            .unwrap();
        assert!(catalog.web_session(&here.session_id).unwrap().is_some());
        assert_eq!(catalog.web_session(&there.session_id).unwrap(), None);
        assert_eq!(catalog.verify_login("anna", PASSWORD).unwrap(), None);
        assert!(catalog
            .verify_login("anna", "a new long password")
            .unwrap()
            .is_some());
        assert_eq!(
            catalog
                .set_password(99, "a new long password", None, "admin")
                .unwrap_err()
                .kind(),
            crate::catalog::db::ErrorKind::NotFound
        );
        let last = &catalog.audit_entries(1).unwrap()[0];
        assert_eq!(last.action, "user.password_change");
        assert_eq!(last.detail["sessions_ended"], 1);
    }

    #[test]
    fn api_tokens_work_until_revoked_and_are_stored_hashed() {
        let (_dir, mut catalog) = open_temp();
        let bip = catalog
            .create_user("bip", Role::Staff, PASSWORD, "admin")
            .unwrap();
        let (id, token) = catalog
            .create_token(bip.id, " BIP export ", "admin")
            .unwrap();
        assert_eq!(catalog.user_by_token(&token).unwrap(), Some(bip.clone()));
        assert_eq!(catalog.user_by_token("not a token").unwrap(), None);
        let stored: String = catalog
            .conn
            .query_row("SELECT token_hash FROM api_tokens", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, auth::sha256_hex(&token));

        let listed = catalog.list_tokens().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            (
                listed[0].id,
                listed[0].label.as_str(),
                listed[0].username.as_str()
            ),
            (id, "BIP export", "bip")
        );
        assert_eq!(listed[0].revoked_at, None);

        catalog.revoke_token(id, "admin").unwrap();
        catalog.revoke_token(id, "admin").unwrap();
        assert_eq!(catalog.user_by_token(&token).unwrap(), None);
        assert!(catalog.list_tokens().unwrap()[0].revoked_at.is_some());
        assert_eq!(
            catalog.revoke_token(42, "admin").unwrap_err().to_string(),
            "API token 42 does not exist"
        );
        assert_eq!(
            catalog
                .create_token(bip.id, "  ", "admin")
                .unwrap_err()
                .kind(),
            crate::catalog::db::ErrorKind::Invalid
        );
        assert_eq!(
            catalog
                .create_token(77, "x", "admin")
                .unwrap_err()
                .to_string(),
            "user 77 does not exist or is disabled"
        );
        assert_eq!(
            actions(&catalog),
            [
                triple("admin", "user.create", "user/1"),
                triple("admin", "token.create", "token/1"),
                triple("admin", "token.revoke", "token/1"),
            ]
        );
    }
}
