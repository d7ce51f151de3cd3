//! The catalog's storage: one SQLite file, opened by [`Catalog::open`], with
//! the schema in `schema.sql` (commented table by table).
//!
//! Every operation is one transaction, and every change appends its
//! `audit_log` row inside that same transaction: a change is either
//! entirely there, with its audit row, or not at all.
//!
//! The API is synchronous. Async callers keep the [`Catalog`] behind a
//! mutex and call it from `tokio::task::spawn_blocking`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::catalog::agenda::{self, AgendaItem, SessionDraft, SessionPatch};
use crate::catalog::now_ns;

/// Schema migrations; migration `n` (1-based) brings `PRAGMA user_version`
/// from `n - 1` to `n`. Append only: a shipped migration never changes.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("migration_2.sql"),
    include_str!("migration_3.sql"),
    include_str!("migration_4.sql"),
    include_str!("migration_5.sql"),
    include_str!("migration_6.sql"),
];

// Users, browser sessions and API tokens; a child module so it shares this
// module's transaction and audit helpers. Re-exported as `catalog::users`.
#[path = "users.rs"]
pub mod users;

// Full-text search (migration 3); re-exported as `catalog::search`.
#[path = "search.rs"]
pub mod search;

// Channels and the archive's index: runs, renditions, segments (migration
// 4); re-exported as `catalog::recordings`.
#[path = "recordings.rs"]
pub mod recordings;

/// How long a statement waits for another connection (a backup, the
/// `sqlite3` shell, a second process) to release its lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong in a catalog operation. The API layer maps
/// [`CatalogError::kind`] to a status code: the messages of `NotFound`,
/// `Conflict` and `Invalid` are meant for the person who made the request.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot open catalog {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot open catalog {}: journal_mode is {mode:?}, WAL could not be enabled", .path.display())]
    NoWal { path: PathBuf, mode: String },
    #[error("cannot open catalog {}: its schema version is {found}, this build knows versions 0 to {known}", .path.display())]
    UnknownVersion {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("cannot apply migration {version} to catalog {}: {source}", .path.display())]
    Migration {
        path: PathBuf,
        version: i64,
        #[source]
        source: rusqlite::Error,
    },
    /// The object named does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but clashes with the current state, e.g.
    /// starting a session twice (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong, e.g. a mark for an item that is not on
    /// the agenda (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// Anything else SQLite reports: a bug or a broken disk (HTTP 500).
    #[error("catalog database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The class of a [`CatalogError`], for mapping to a response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
    Internal,
}

impl CatalogError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CatalogError::NotFound(_) => ErrorKind::NotFound,
            CatalogError::Conflict(_) => ErrorKind::Conflict,
            CatalogError::Invalid(_) => ErrorKind::Invalid,
            _ => ErrorKind::Internal,
        }
    }
}

/// Where a session is in its life cycle (`sessions.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    Planned,
    Live,
    Paused,
    Ended,
}

impl SessionState {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Planned => "planned",
            SessionState::Live => "live",
            SessionState::Paused => "paused",
            SessionState::Ended => "ended",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "planned" => SessionState::Planned,
            "live" => SessionState::Live,
            "paused" => SessionState::Paused,
            "ended" => SessionState::Ended,
            _ => return None,
        })
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a timeline mark says happened (`timeline_marks.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// The broadcast starts: planned → live.
    Start,
    /// The agenda item now under discussion.
    Item,
    /// A recess: live → paused.
    Recess,
    /// The end of a recess: paused → live.
    Resume,
    /// A part closed to the public begins; nothing from here to
    /// `PrivateEnd` may be published.
    PrivateStart,
    /// The non-public part ends.
    PrivateEnd,
    /// The session ends: live or paused → ended.
    Stop,
}

impl MarkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkKind::Start => "start",
            MarkKind::Item => "item",
            MarkKind::Recess => "recess",
            MarkKind::Resume => "resume",
            MarkKind::PrivateStart => "private_start",
            MarkKind::PrivateEnd => "private_end",
            MarkKind::Stop => "stop",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "start" => MarkKind::Start,
            "item" => MarkKind::Item,
            "recess" => MarkKind::Recess,
            "resume" => MarkKind::Resume,
            "private_start" => MarkKind::PrivateStart,
            "private_end" => MarkKind::PrivateEnd,
            "stop" => MarkKind::Stop,
            _ => return None,
        })
    }
}

impl fmt::Display for MarkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromSql for SessionState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        SessionState::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown session state {s:?}").into()))
    }
}

impl ToSql for SessionState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for MarkKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        MarkKind::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown mark kind {s:?}").into()))
    }
}

impl ToSql for MarkKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

/// A mark the operator (or the recorder) asks to add to a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkInput {
    pub kind: MarkKind,
    /// The agenda item number; required for `item`, refused otherwise.
    pub agenda_number: Option<String>,
    /// Required for `private_start`; optional for `recess`; refused
    /// otherwise.
    pub reason: Option<String>,
    /// The legal provision; required for `private_start`, refused otherwise.
    pub legal_basis: Option<String>,
    /// Wall-clock time (Unix ns); not earlier than the previous mark's.
    pub wall_ns: i64,
    /// Position in the recording (ns), when known.
    pub media_ns: Option<i64>,
}

/// A mark on a session's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Mark {
    /// 1-based position in the session's timeline.
    pub seq: i64,
    pub kind: MarkKind,
    pub agenda_number: Option<String>,
    pub reason: Option<String>,
    pub legal_basis: Option<String>,
    /// The effective wall-clock time (Unix ns): the newest correction's
    /// (`mark_corrections`, migration 5) when the start was corrected,
    /// otherwise the time recorded. Everything that places items uses it.
    pub wall_ns: i64,
    /// The time recorded when the mark was made, when it has since been
    /// corrected (`wall_ns` then differs); `None` for a mark never corrected.
    pub recorded_wall_ns: Option<i64>,
    pub media_ns: Option<i64>,
    pub actor: String,
}

/// Why and by whom a session's recording was withdrawn from publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Withdrawal {
    pub reason: String,
    /// Username of who withdrew it.
    pub by: String,
    /// When (Unix ns).
    pub at_ns: i64,
}

/// What a channel's camera did (`source_events`, migration 6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SourceEvent {
    /// The channel.
    pub channel: String,
    /// 0: the channel's `source`; 1..: its `inputs`.
    pub input: i64,
    /// The input's configured name (none for input 0).
    pub input_name: Option<String>,
    /// `lost` (the failover slate replaced it) or `back`.
    pub kind: String,
    /// Why it was lost.
    pub reason: Option<String>,
    /// When (Unix ns).
    pub wall_ns: i64,
}

/// Where a corrected item start may go: strictly between the effective
/// times of the marks before and after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionBounds {
    /// The agenda item the mark begins.
    pub agenda_number: String,
    /// The effective time of the mark before (Unix ns).
    pub prev_ns: i64,
    /// The effective time of the mark after (Unix ns); `None` only when
    /// the mark is the last (never while paused or ended, in practice).
    pub next_ns: Option<i64>,
    /// The mark's effective time now.
    pub wall_ns: i64,
}

/// A session with its agenda and timeline.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: i64,
    /// The name of the body that meets.
    pub body: String,
    pub title: String,
    pub kind: Option<String>,
    pub term: Option<String>,
    pub scheduled_start: Option<String>,
    pub place: Option<String>,
    pub chair: Option<String>,
    pub state: SessionState,
    /// The channel the session is broadcast and recorded on, set when it
    /// starts; `None` while planned (and for sessions started before
    /// channels were recorded, which used the default channel).
    pub channel: Option<String>,
    /// Whether a non-public part is open now (the live stream shows a slate).
    pub private: bool,
    /// Whether the recording is published (the default); the live
    /// broadcast never depends on it.
    pub published: bool,
    /// Why, by whom and when the recording was withdrawn; `None` while it
    /// is published.
    pub withdrawal: Option<Withdrawal>,
    /// When the session was created in the catalog (Unix ns).
    pub created_at: i64,
    /// In agenda order.
    pub agenda: Vec<AgendaItem>,
    /// In timeline order.
    pub timeline: Vec<Mark>,
    /// What the channel's cameras did while the session was live or paused
    /// (losses and returns, in time order): why the recording shows the
    /// "Przerwa techniczna" slate where it does.
    pub source_events: Vec<SourceEvent>,
}

/// One line of the session list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SessionSummary {
    pub id: i64,
    pub body: String,
    pub title: String,
    pub kind: Option<String>,
    /// Term of office, e.g. "IX kadencja 2024-2029".
    pub term: Option<String>,
    pub scheduled_start: Option<String>,
    pub state: SessionState,
    pub created_at: i64,
    /// The instant of its start mark (Unix ns); `None` while planned.
    pub started_at: Option<i64>,
    /// The instant of its stop mark (Unix ns); `None` until it ended.
    pub ended_at: Option<i64>,
    /// Whether the recording is published (see [`SessionView::published`]).
    pub published: bool,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_ns: i64,
    pub actor: String,
    /// E.g. "session.create", "agenda.replace", "mark.private_start".
    pub action: String,
    /// E.g. "session/42".
    pub object: String,
    pub detail: serde_json::Value,
}

/// The catalog database.
///
/// One connection, used by one thread at a time (the caller's mutex, via
/// `spawn_blocking`), is enough for now: SQLite runs one writer at a time
/// anyway, the write rate is tiny (a mark every few minutes, a segment row
/// every second or so per rendition), and each operation takes well under a
/// millisecond. WAL mode still lets other processes (a backup, the
/// `sqlite3` shell) read while we write. If page reads ever queue behind
/// writes, the next step is a second, read-only connection, not a pool.
#[derive(Debug)]
pub struct Catalog {
    conn: Connection,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Catalog, CatalogError> {
        let open_err = |source| CatalogError::Open {
            path: path.to_owned(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // WAL: readers do not block the writer and a commit is one append.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CatalogError::NoWal {
                path: path.to_owned(),
                mode,
            });
        }
        // FULL: in WAL mode, NORMAL may lose the last commits on power
        // loss; FULL syncs the WAL at every commit, so a change reported as
        // done survives a crash.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        // Per connection, not stored in the file.
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        migrate(&mut conn, path)?;
        Ok(Catalog { conn })
    }

    /// Creates a session in state `planned` with its agenda, adding its body
    /// if the name is new. Returns the session id.
    pub fn create_session(
        &mut self,
        draft: &SessionDraft,
        actor: &str,
    ) -> Result<i64, CatalogError> {
        check_actor(actor)?;
        if draft.body.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "the session draft has an empty body name".into(),
            ));
        }
        if draft.title.trim().is_empty() {
            return Err(CatalogError::Invalid(
                "the session draft has an empty title".into(),
            ));
        }
        let tx = self.write()?;
        let body_created = tx.execute(
            "INSERT INTO bodies (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
            [&draft.body],
        )? == 1;
        let body_id: i64 = tx.query_row(
            "SELECT id FROM bodies WHERE name = ?1",
            [&draft.body],
            |row| row.get(0),
        )?;
        tx.execute(
            "INSERT INTO sessions (body_id, title, kind, term, scheduled_start, place, chair, \
             state, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                body_id,
                draft.title,
                draft.kind,
                draft.term,
                draft.scheduled_start,
                draft.place,
                draft.chair,
                SessionState::Planned,
                now_ns(),
            ],
        )?;
        let id = tx.last_insert_rowid();
        insert_agenda(&tx, id, &draft.agenda)?;
        audit(
            &tx,
            actor,
            "session.create",
            &session_object(id),
            json!({
                "body": draft.body,
                "body_created": body_created,
                "title": draft.title,
                "agenda_items": draft.agenda.len(),
            }),
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Corrects a session's metadata: the fields present in `patch` change
    /// (checked by [`agenda::validate_patch`]), in any state, an ended
    /// session's included. One transaction with an audit row
    /// ("session.update") naming each changed field with its old and new
    /// value; a patch that changes nothing writes nothing. Returns the
    /// session as it is now.
    pub fn update_session(
        &mut self,
        id: i64,
        patch: &SessionPatch,
        actor: &str,
    ) -> Result<SessionView, CatalogError> {
        check_actor(actor)?;
        agenda::validate_patch(patch).map_err(|e| CatalogError::Invalid(e.to_string()))?;
        let tx = self.write()?;
        let current: [Option<String>; 6] = tx
            .query_row(
                "SELECT title, kind, term, scheduled_start, place, chair FROM sessions \
                 WHERE id = ?1",
                [id],
                |row| {
                    Ok([
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ])
                },
            )
            .optional()?
            .ok_or_else(|| session_not_found(id))?;
        let mut next = current.clone();
        let mut changed = serde_json::Map::new();
        for ((name, wanted), (before, after)) in patch
            .fields()
            .into_iter()
            .zip(current.iter().zip(next.iter_mut()))
        {
            if let Some(value) = wanted {
                if value != before {
                    changed.insert(name.into(), json!({ "from": before, "to": value }));
                    after.clone_from(value);
                }
            }
        }
        if !changed.is_empty() {
            let [title, kind, term, scheduled_start, place, chair] = &next;
            tx.execute(
                "UPDATE sessions SET title = ?2, kind = ?3, term = ?4, scheduled_start = ?5, \
                 place = ?6, chair = ?7 WHERE id = ?1",
                params![id, title, kind, term, scheduled_start, place, chair],
            )?;
            audit(
                &tx,
                actor,
                "session.update",
                &session_object(id),
                serde_json::Value::Object(changed),
            )?;
            tx.commit()?;
        } else {
            // Nothing differs: no change, so no audit row either.
            drop(tx);
        }
        self.get_session(id)
    }

    /// Replaces the whole agenda of a session that is planned or paused.
    /// Items already marked on the timeline must stay on the agenda.
    pub fn replace_agenda(
        &mut self,
        session_id: i64,
        items: &[AgendaItem],
        actor: &str,
    ) -> Result<(), CatalogError> {
        check_actor(actor)?;
        let tx = self.write()?;
        let state = session_state(&tx, session_id)?;
        if !matches!(state, SessionState::Planned | SessionState::Paused) {
            return Err(CatalogError::Conflict(format!(
                "session {session_id} is {state}; its agenda can be changed only while it is \
                 planned or paused"
            )));
        }
        let items_before = tx.execute(
            "DELETE FROM agenda_items WHERE session_id = ?1",
            [session_id],
        )?;
        insert_agenda(&tx, session_id, items)?;
        // The deferred foreign key would refuse this at commit; say why.
        let dropped: Option<String> = tx
            .query_row(
                "SELECT m.agenda_number FROM timeline_marks m \
                 WHERE m.session_id = ?1 AND m.kind = 'item' AND NOT EXISTS ( \
                   SELECT 1 FROM agenda_items a \
                   WHERE a.session_id = m.session_id AND a.number = m.agenda_number) \
                 ORDER BY m.seq LIMIT 1",
                [session_id],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(number) = dropped {
            return Err(CatalogError::Conflict(format!(
                "agenda item {number:?} of session {session_id} is already marked on the \
                 timeline; it cannot be removed from the agenda"
            )));
        }
        audit(
            &tx,
            actor,
            "agenda.replace",
            &session_object(session_id),
            json!({
                "items_before": items_before,
                "items_after": items.len(),
                "numbers": items.iter().map(|i| i.number.as_str()).collect::<Vec<_>>(),
            }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A session with its agenda (in order) and timeline (in order).
    pub fn get_session(&self, id: i64) -> Result<SessionView, CatalogError> {
        // One read transaction, so the three reads see one state.
        let tx = self.conn.unchecked_transaction()?;
        let mut view = tx
            .query_row(
                "SELECT s.id, b.name, s.title, s.kind, s.term, s.scheduled_start, s.place, \
                 s.chair, s.state, s.created_at, s.channel_id, s.published, \
                 s.withdrawn_reason, s.withdrawn_by, s.withdrawn_at \
                 FROM sessions s JOIN bodies b ON b.id = s.body_id WHERE s.id = ?1",
                [id],
                |row| {
                    let published: bool = row.get(11)?;
                    let withdrawal = if published {
                        None
                    } else {
                        Some(Withdrawal {
                            reason: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                            by: row.get::<_, Option<String>>(13)?.unwrap_or_default(),
                            at_ns: row.get::<_, Option<i64>>(14)?.unwrap_or_default(),
                        })
                    };
                    Ok(SessionView {
                        id: row.get(0)?,
                        body: row.get(1)?,
                        title: row.get(2)?,
                        kind: row.get(3)?,
                        term: row.get(4)?,
                        scheduled_start: row.get(5)?,
                        place: row.get(6)?,
                        chair: row.get(7)?,
                        state: row.get(8)?,
                        channel: row.get(10)?,
                        private: false,
                        published,
                        withdrawal,
                        created_at: row.get(9)?,
                        agenda: Vec::new(),
                        timeline: Vec::new(),
                        source_events: Vec::new(),
                    })
                },
            )
            .optional()?
            .ok_or_else(|| session_not_found(id))?;
        let mut stmt = tx.prepare(
            "SELECT number, title, resolution_draft FROM agenda_items \
             WHERE session_id = ?1 ORDER BY position",
        )?;
        view.agenda = stmt
            .query_map([id], |row| {
                Ok(AgendaItem {
                    number: row.get(0)?,
                    title: row.get(1)?,
                    resolution_draft: row.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        view.timeline = timeline(&tx, id)?;
        view.source_events = source_events(&tx, id)?;
        view.private = view
            .timeline
            .iter()
            .rev()
            .find(|m| matches!(m.kind, MarkKind::PrivateStart | MarkKind::PrivateEnd))
            .is_some_and(|m| m.kind == MarkKind::PrivateStart);
        Ok(view)
    }

    /// All sessions, the most recently created first.
    /// The channels a session is live or paused on, with that session
    /// (after a restart: the broadcasts that go on).
    pub fn channels_in_use(&self) -> Result<Vec<(String, i64)>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT channel_id, MIN(id) FROM sessions \
             WHERE state IN ('live', 'paused') AND channel_id IS NOT NULL \
             GROUP BY channel_id ORDER BY channel_id",
        )?;
        let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Records that input `input` (named `input_name`) of `channel` was lost
    /// (`reason`) or came back (`reason` is `None`) at `wall_ns`, bound to the
    /// session live or paused on the channel then; returns that session.
    pub fn record_source_event(
        &mut self,
        channel: &str,
        input: usize,
        input_name: Option<&str>,
        reason: Option<&str>,
        wall_ns: i64,
    ) -> Result<Option<i64>, CatalogError> {
        let kind = if reason.is_some() { "lost" } else { "back" };
        let tx = self.write()?;
        let session: Option<i64> = tx
            .query_row(
                "SELECT MIN(id) FROM sessions \
                 WHERE state IN ('live', 'paused') AND channel_id = ?1",
                [channel],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        tx.execute(
            "INSERT INTO source_events \
             (channel_id, input, input_name, kind, reason, wall_ns, session_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                channel,
                i64::try_from(input).unwrap_or(i64::MAX),
                input_name,
                kind,
                reason,
                wall_ns.max(0),
                session
            ],
        )?;
        tx.commit()?;
        Ok(session)
    }

    pub fn list_sessions(&self) -> Result<Vec<SessionSummary>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, b.name, s.title, s.kind, s.scheduled_start, s.state, s.created_at, \
             s.term, \
             (SELECT MIN(m.wall_ns) FROM timeline_marks m \
              WHERE m.session_id = s.id AND m.kind = 'start'), \
             (SELECT MAX(m.wall_ns) FROM timeline_marks m \
              WHERE m.session_id = s.id AND m.kind = 'stop'), \
             s.published \
             FROM sessions s JOIN bodies b ON b.id = s.body_id \
             ORDER BY s.created_at DESC, s.id DESC",
        )?;
        let sessions = stmt
            .query_map([], |row| {
                Ok(SessionSummary {
                    id: row.get(0)?,
                    body: row.get(1)?,
                    title: row.get(2)?,
                    kind: row.get(3)?,
                    term: row.get(7)?,
                    scheduled_start: row.get(4)?,
                    state: row.get(5)?,
                    created_at: row.get(6)?,
                    started_at: row.get(8)?,
                    ended_at: row.get(9)?,
                    published: row.get(10)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(sessions)
    }

    /// Appends a mark to a session's timeline, enforcing the session's state
    /// machine, and moves the session to the state the mark implies.
    pub fn add_mark(
        &mut self,
        session_id: i64,
        input: MarkInput,
        actor: &str,
    ) -> Result<Mark, CatalogError> {
        self.append_mark(session_id, input, None, actor, false)
    }

    /// Whether [`Self::add_mark`] (or, with `channel`, [`Self::start_session`])
    /// would accept a mark of `kind` now, without writing anything: the
    /// handlers ask before cutting the stream, so a refused request leaves
    /// the broadcast untouched. The time order is not checked (the instant
    /// is not known yet).
    pub fn check_mark(
        &mut self,
        session_id: i64,
        kind: MarkKind,
        agenda_number: Option<String>,
        channel: Option<&str>,
    ) -> Result<(), CatalogError> {
        let input = MarkInput {
            kind,
            agenda_number,
            reason: None,
            legal_basis: None,
            wall_ns: i64::MAX,
            media_ns: None,
        };
        self.append_mark(session_id, input, channel, "check", true)
            .map(|_| ())
    }

    /// Starts a session (a 'start' mark) on `channel`, which becomes the
    /// session's channel in the same transaction. Refused when the channel
    /// is not in the catalog (`Invalid`), or when another session is live
    /// or paused on it (`Conflict`, naming that session).
    pub fn start_session(
        &mut self,
        session_id: i64,
        channel: &str,
        input: MarkInput,
        actor: &str,
    ) -> Result<Mark, CatalogError> {
        if input.kind != MarkKind::Start {
            return Err(CatalogError::Invalid(format!(
                "a session starts with a 'start' mark, not '{}'",
                input.kind
            )));
        }
        self.append_mark(session_id, input, Some(channel), actor, false)
    }

    /// [`Self::add_mark`], and for a start, binding the session to `channel`.
    fn append_mark(
        &mut self,
        session_id: i64,
        input: MarkInput,
        channel: Option<&str>,
        actor: &str,
        dry_run: bool,
    ) -> Result<Mark, CatalogError> {
        check_actor(actor)?;
        let input = if dry_run {
            input
        } else {
            normalize_mark(input)?
        };
        let tx = self.write()?;
        let state = session_state(&tx, session_id)?;
        let last: Option<(i64, MarkKind, i64)> = tx
            .query_row(
                "SELECT seq, kind, wall_ns FROM timeline_marks WHERE session_id = ?1 \
                 ORDER BY seq DESC LIMIT 1",
                [session_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()?;
        let private = tx
            .query_row(
                "SELECT kind FROM timeline_marks WHERE session_id = ?1 \
                 AND kind IN ('private_start', 'private_end') ORDER BY seq DESC LIMIT 1",
                [session_id],
                |row| row.get::<_, MarkKind>(0),
            )
            .optional()?
            == Some(MarkKind::PrivateStart);
        // An unknown item first: the message names what to correct.
        if let Some(number) = &input.agenda_number {
            let on_agenda = tx
                .query_row(
                    "SELECT 1 FROM agenda_items WHERE session_id = ?1 AND number = ?2",
                    params![session_id, number],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !on_agenda {
                return Err(CatalogError::Invalid(format!(
                    "agenda item {number:?} is not on the agenda of session {session_id}"
                )));
            }
        }
        let next = transition(session_id, state, private, input.kind)?;
        if let Some(channel) = channel {
            check_channel_free(&tx, session_id, channel)?;
        }
        if let Some((prev_seq, prev_kind, prev_wall_ns)) = last {
            if input.wall_ns < prev_wall_ns {
                return Err(CatalogError::Invalid(format!(
                    "times out of order: the {} mark at {} ns is earlier than the previous mark \
                     of session {session_id} ({prev_kind}, seq {prev_seq}) at {prev_wall_ns} ns",
                    input.kind, input.wall_ns
                )));
            }
        }
        let mark = Mark {
            seq: last.map_or(1, |(seq, _, _)| seq + 1),
            kind: input.kind,
            agenda_number: input.agenda_number,
            reason: input.reason,
            legal_basis: input.legal_basis,
            wall_ns: input.wall_ns,
            recorded_wall_ns: None,
            media_ns: input.media_ns,
            actor: actor.to_owned(),
        };
        if dry_run {
            // Dropping the transaction rolls it back; nothing was written.
            return Ok(mark);
        }
        tx.execute(
            "INSERT INTO timeline_marks (session_id, seq, kind, agenda_number, reason, \
             legal_basis, wall_ns, media_ns, actor) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                session_id,
                mark.seq,
                mark.kind,
                mark.agenda_number,
                mark.reason,
                mark.legal_basis,
                mark.wall_ns,
                mark.media_ns,
                mark.actor,
            ],
        )?;
        if next != state {
            tx.execute(
                "UPDATE sessions SET state = ?1 WHERE id = ?2",
                params![next, session_id],
            )?;
        }
        if let Some(channel) = channel {
            tx.execute(
                "UPDATE sessions SET channel_id = ?1 WHERE id = ?2",
                params![channel, session_id],
            )?;
        }
        let mut detail = json!({
            "seq": mark.seq,
            "agenda_number": mark.agenda_number,
            "reason": mark.reason,
            "legal_basis": mark.legal_basis,
            "wall_ns": mark.wall_ns,
            "media_ns": mark.media_ns,
            "state_before": state,
            "state_after": next,
        });
        if let (Some(channel), Some(d)) = (channel, detail.as_object_mut()) {
            d.insert("channel".into(), json!(channel));
        }
        audit(
            &tx,
            actor,
            &format!("mark.{}", mark.kind),
            &session_object(session_id),
            detail,
        )?;
        tx.commit()?;
        Ok(mark)
    }

    /// Where the start of mark `seq` of session `session_id` may be moved
    /// to, or why it may not: the mark must exist (`NotFound`, naming
    /// `seq`), be an `item` mark (`Invalid`), and the session must be
    /// paused or ended (`Conflict`): a live item is still being marked.
    pub fn correction_bounds(
        &self,
        session_id: i64,
        seq: i64,
    ) -> Result<CorrectionBounds, CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        let state: SessionState = tx
            .query_row(
                "SELECT state FROM sessions WHERE id = ?1",
                [session_id],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| session_not_found(session_id))?;
        let marks = timeline(&tx, session_id)?;
        bounds_of(session_id, state, &marks, seq)
    }

    /// Corrects the start of agenda item mark `seq` to `wall_ns` (a segment
    /// boundary the caller snapped `requested_ns` to; `msn` is that
    /// segment's): a `mark_corrections` row and its audit row
    /// ("mark.correct") in one transaction. The timeline row itself never
    /// changes. Refused as [`Self::correction_bounds`] refuses, and
    /// (`Invalid`) unless `wall_ns` lies strictly between the effective
    /// times of the marks before and after. Returns the mark as it is now.
    pub fn correct_mark(
        &mut self,
        session_id: i64,
        seq: i64,
        requested_ns: i64,
        wall_ns: i64,
        msn: Option<u64>,
        actor: &str,
    ) -> Result<Mark, CatalogError> {
        check_actor(actor)?;
        let tx = self.write()?;
        let state = session_state(&tx, session_id)?;
        let marks = timeline(&tx, session_id)?;
        let b = bounds_of(session_id, state, &marks, seq)?;
        if wall_ns <= b.prev_ns || b.next_ns.is_some_and(|n| wall_ns >= n) {
            return Err(CatalogError::Invalid(format!(
                "wall_ns: {wall_ns} is not strictly between the previous mark ({} ns) and the \
                 next ({}) of session {session_id}",
                b.prev_ns,
                b.next_ns
                    .map_or_else(|| "none".to_owned(), |n| format!("{n} ns"))
            )));
        }
        if requested_ns < 0 {
            return Err(CatalogError::Invalid(format!(
                "wall_ns must not be negative, got {requested_ns}"
            )));
        }
        let msn = msn.map(|m| i64::try_from(m).unwrap_or(i64::MAX));
        tx.execute(
            "INSERT INTO mark_corrections (session_id, seq, wall_ns, requested_ns, msn, actor, \
             at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![session_id, seq, wall_ns, requested_ns, msn, actor, now_ns()],
        )?;
        audit(
            &tx,
            actor,
            "mark.correct",
            &session_object(session_id),
            json!({
                "seq": seq,
                "agenda_number": b.agenda_number,
                "wall_ns_before": b.wall_ns,
                "wall_ns_after": wall_ns,
                "requested_ns": requested_ns,
                "msn": msn,
            }),
        )?;
        let mark = timeline(&tx, session_id)?
            .into_iter()
            .find(|m| m.seq == seq)
            .ok_or_else(|| CatalogError::NotFound(format!("seq: no mark {seq}")))?;
        tx.commit()?;
        Ok(mark)
    }

    /// Publishes (`published`) or withdraws the recording of a session,
    /// with its audit row ("session.publish" / "session.unpublish"). A
    /// withdrawal needs a `reason` (`Invalid`) and an ended session
    /// (`Conflict`: while a session runs the law requires its
    /// transmission, and the recording is not finished); asking for the
    /// state the recording is already in is a `Conflict`.
    pub fn set_published(
        &mut self,
        session_id: i64,
        published: bool,
        reason: Option<&str>,
        actor: &str,
    ) -> Result<(), CatalogError> {
        check_actor(actor)?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !published {
            match reason {
                None => {
                    return Err(CatalogError::Invalid(
                        "reason: say why the recording is withdrawn from publication".into(),
                    ))
                }
                Some(r) if r.chars().count() > MAX_REASON_CHARS => {
                    return Err(CatalogError::Invalid(format!(
                        "reason: at most {MAX_REASON_CHARS} characters, got {}",
                        r.chars().count()
                    )))
                }
                Some(_) => {}
            }
        }
        let tx = self.write()?;
        let (state, was): (SessionState, bool) = tx
            .query_row(
                "SELECT state, published FROM sessions WHERE id = ?1",
                [session_id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| session_not_found(session_id))?;
        if was == published {
            return Err(CatalogError::Conflict(format!(
                "the recording of session {session_id} is already {}",
                if published { "published" } else { "withdrawn" }
            )));
        }
        if !published && state != SessionState::Ended {
            return Err(CatalogError::Conflict(format!(
                "session {session_id} is {state}; a recording can be withdrawn only after the \
                 session ended (the live broadcast is required by law)"
            )));
        }
        if published {
            tx.execute(
                "UPDATE sessions SET published = 1 WHERE id = ?1",
                [session_id],
            )?;
        } else {
            tx.execute(
                "UPDATE sessions SET published = 0, withdrawn_reason = ?2, withdrawn_by = ?3, \
                 withdrawn_at = ?4 WHERE id = ?1",
                params![session_id, reason, actor, now_ns()],
            )?;
        }
        audit(
            &tx,
            actor,
            if published {
                "session.publish"
            } else {
                "session.unpublish"
            },
            &session_object(session_id),
            json!({ "reason": reason, "state": state }),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Logs a change made outside the catalog (e.g. the test source's
    /// scene on a channel): one audit row, in a transaction of its own.
    pub fn record_event(
        &mut self,
        actor: &str,
        action: &str,
        object: &str,
        detail: serde_json::Value,
    ) -> Result<(), CatalogError> {
        let tx = self.conn.transaction()?;
        audit(&tx, actor, action, object, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// The speakers shown in the lower third of `channel` (from the audit
    /// log's "channel.graphics" entries): (name, role), each once, the most
    /// recently shown first, at most `limit`.
    pub fn recent_speakers(
        &self,
        channel: &str,
        limit: usize,
    ) -> Result<Vec<(String, String)>, CatalogError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare(
            "SELECT json_extract(detail, '$.speaker.name') AS name, \
             COALESCE(json_extract(detail, '$.speaker.role'), '') AS role, MAX(id) AS last \
             FROM audit_log WHERE action = 'channel.graphics' AND object = ?1 \
             AND json_type(detail, '$.speaker.name') = 'text' \
             GROUP BY name, role ORDER BY last DESC LIMIT ?2",
        )?;
        let speakers = stmt
            .query_map(params![format!("channel/{channel}"), limit], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(speakers)
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_entries(&self, limit: usize) -> Result<Vec<AuditEntry>, CatalogError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare(
            "SELECT id, at_ns, actor, action, object, detail FROM audit_log \
             ORDER BY id DESC LIMIT ?1",
        )?;
        let entries = stmt
            .query_map([limit], |row| {
                let detail: String = row.get(5)?;
                Ok(AuditEntry {
                    id: row.get(0)?,
                    at_ns: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    object: row.get(4)?,
                    detail: serde_json::from_str(&detail).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            5,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(entries)
    }

    /// Runs `PRAGMA integrity_check`: "ok" when the file is sound, otherwise
    /// the problems SQLite found, one per line.
    pub fn integrity_check(&self) -> Result<String, CatalogError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(lines.join("\n"))
    }

    /// Begins a write transaction. IMMEDIATE takes the write lock at once,
    /// so what the operation reads cannot change before it writes, even if
    /// another process writes to the file.
    fn write(&mut self) -> rusqlite::Result<Transaction<'_>> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
    }
}

/// Applies the migrations the file has not seen yet, each in its own
/// transaction together with the `user_version` it brings.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), CatalogError> {
    let known = MIGRATIONS.len() as i64;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        let migration_err = |source| CatalogError::Migration {
            path: path.to_owned(),
            version,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(migration_err)?;
        // Read inside the write lock: another process may have just
        // migrated the same file.
        let found: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(migration_err)?;
        if !(0..=known).contains(&found) {
            return Err(CatalogError::UnknownVersion {
                path: path.to_owned(),
                found,
                known,
            });
        }
        if found >= version {
            continue;
        }
        tx.execute_batch(sql).map_err(migration_err)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(migration_err)?;
        tx.commit().map_err(migration_err)?;
    }
    Ok(())
}

/// The longest reason for withdrawing a recording, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// A session's timeline in order, each mark at its effective time (the
/// newest `mark_corrections` row, else the time recorded).
fn timeline(conn: &Connection, session_id: i64) -> Result<Vec<Mark>, CatalogError> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.seq, m.kind, m.agenda_number, m.reason, m.legal_basis, m.wall_ns, \
         m.media_ns, m.actor, \
         (SELECT c.wall_ns FROM mark_corrections c \
          WHERE c.session_id = m.session_id AND c.seq = m.seq ORDER BY c.id DESC LIMIT 1) \
         FROM timeline_marks m WHERE m.session_id = ?1 ORDER BY m.seq",
    )?;
    let marks = stmt
        .query_map([session_id], |row| {
            let recorded: i64 = row.get(5)?;
            let corrected: Option<i64> = row.get(8)?;
            Ok(Mark {
                seq: row.get(0)?,
                kind: row.get(1)?,
                agenda_number: row.get(2)?,
                reason: row.get(3)?,
                legal_basis: row.get(4)?,
                wall_ns: corrected.unwrap_or(recorded),
                recorded_wall_ns: corrected.map(|_| recorded),
                media_ns: row.get(6)?,
                actor: row.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(marks)
}

/// A session's [`SourceEvent`]s, in time order.
fn source_events(conn: &Connection, session_id: i64) -> Result<Vec<SourceEvent>, CatalogError> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel_id, input, input_name, kind, reason, wall_ns FROM source_events \
         WHERE session_id = ?1 ORDER BY wall_ns, id",
    )?;
    let events = stmt
        .query_map([session_id], |row| {
            Ok(SourceEvent {
                channel: row.get(0)?,
                input: row.get(1)?,
                input_name: row.get(2)?,
                kind: row.get(3)?,
                reason: row.get(4)?,
                wall_ns: row.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(events)
}

/// See [`Catalog::correction_bounds`].
fn bounds_of(
    session_id: i64,
    state: SessionState,
    marks: &[Mark],
    seq: i64,
) -> Result<CorrectionBounds, CatalogError> {
    let i = marks.iter().position(|m| m.seq == seq).ok_or_else(|| {
        CatalogError::NotFound(format!(
            "seq: session {session_id} has no mark {seq} (its timeline has {} marks)",
            marks.len()
        ))
    })?;
    let mark = &marks[i];
    let (MarkKind::Item, Some(number)) = (mark.kind, mark.agenda_number.clone()) else {
        return Err(CatalogError::Invalid(format!(
            "seq: mark {seq} of session {session_id} is a '{}' mark; only the start of an \
             agenda item ('item') can be corrected",
            mark.kind
        )));
    };
    if !matches!(state, SessionState::Paused | SessionState::Ended) {
        return Err(CatalogError::Conflict(format!(
            "session {session_id} is {state}; an item's start can be corrected only while the \
             session is paused or ended"
        )));
    }
    // An item mark always follows the start mark.
    let prev_ns = i
        .checked_sub(1)
        .and_then(|p| marks.get(p))
        .map_or(0, |m| m.wall_ns);
    Ok(CorrectionBounds {
        agenda_number: number,
        prev_ns,
        next_ns: marks.get(i + 1).map(|m| m.wall_ns),
        wall_ns: mark.wall_ns,
    })
}

/// Inserts `items` as the agenda of `session_id`, in order.
fn insert_agenda(
    tx: &Transaction<'_>,
    session_id: i64,
    items: &[AgendaItem],
) -> Result<(), CatalogError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO agenda_items (session_id, position, number, title, resolution_draft) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (position, item) in items.iter().enumerate() {
        if item.number.trim().is_empty() {
            return Err(CatalogError::Invalid(format!(
                "agenda item {} (counting from 1) has an empty number",
                position + 1
            )));
        }
        if item.title.trim().is_empty() {
            return Err(CatalogError::Invalid(format!(
                "agenda item {:?} has an empty title",
                item.number
            )));
        }
        stmt.execute(params![
            session_id,
            position as i64,
            item.number,
            item.title,
            item.resolution_draft,
        ])
        .map_err(|e| {
            if is_unique_violation(&e) {
                CatalogError::Invalid(format!(
                    "agenda item {:?} appears more than once on the agenda",
                    item.number
                ))
            } else {
                e.into()
            }
        })?;
    }
    Ok(())
}

/// The state of a session, or `NotFound`.
fn session_state(tx: &Transaction<'_>, session_id: i64) -> Result<SessionState, CatalogError> {
    tx.query_row(
        "SELECT state FROM sessions WHERE id = ?1",
        [session_id],
        |row| row.get(0),
    )
    .optional()?
    .ok_or_else(|| session_not_found(session_id))
}

/// Whether `session_id` may start on `channel`: the channel must be in the
/// catalog, and no other session may be live or paused on it.
fn check_channel_free(
    tx: &Transaction<'_>,
    session_id: i64,
    channel: &str,
) -> Result<(), CatalogError> {
    let known = tx
        .query_row(
            "SELECT 1 FROM channels WHERE id = ?1",
            [channel],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !known {
        return Err(CatalogError::Invalid(format!(
            "there is no channel {channel:?}"
        )));
    }
    let other: Option<(i64, String, SessionState)> = tx
        .query_row(
            "SELECT id, title, state FROM sessions \
             WHERE channel_id = ?1 AND state IN ('live', 'paused') AND id <> ?2 \
             ORDER BY id LIMIT 1",
            params![channel, session_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    if let Some((other, title, state)) = other {
        return Err(CatalogError::Conflict(format!(
            "channel {channel:?} is in use by session {other} ({title:?}), which is {state}; \
             stop it before starting session {session_id} there"
        )));
    }
    Ok(())
}

/// The state a session moves to when `kind` is marked, or why it may not be.
fn transition(
    id: i64,
    state: SessionState,
    private: bool,
    kind: MarkKind,
) -> Result<SessionState, CatalogError> {
    use SessionState::{Ended, Live, Paused, Planned};
    let refuse = |why: String| Err(CatalogError::Conflict(why));
    match kind {
        MarkKind::Start => match state {
            Planned => Ok(Live),
            _ => refuse(format!(
                "session {id} cannot start: it is {state}, and a session starts only once, \
                 from planned"
            )),
        },
        MarkKind::Item => match state {
            Live => Ok(Live),
            _ => refuse(format!(
                "session {id} is {state}; agenda items can be marked only while it is live"
            )),
        },
        MarkKind::Recess => match state {
            Live => Ok(Paused),
            _ => refuse(format!(
                "session {id} is {state}; a recess can start only while it is live"
            )),
        },
        MarkKind::Resume => match state {
            Paused => Ok(Live),
            _ => refuse(format!(
                "session {id} is {state}; only a paused session can resume"
            )),
        },
        MarkKind::PrivateStart if private => refuse(format!(
            "session {id} is already in a non-public part; end it before starting another"
        )),
        MarkKind::PrivateStart => match state {
            Live => Ok(Live),
            _ => refuse(format!(
                "session {id} is {state}; a non-public part can start only while it is live"
            )),
        },
        MarkKind::PrivateEnd if private => Ok(state),
        MarkKind::PrivateEnd => refuse(format!(
            "session {id} has no non-public part open, so there is none to end"
        )),
        MarkKind::Stop if private => refuse(format!(
            "session {id} is in a non-public part; end it (private_end) before stopping"
        )),
        MarkKind::Stop => match state {
            Live | Paused => Ok(Ended),
            _ => refuse(format!(
                "session {id} is {state}; only a live or paused session can stop"
            )),
        },
    }
}

/// Trims the optional texts of a mark (blank counts as absent) and checks
/// that it carries exactly the fields its kind needs.
fn normalize_mark(input: MarkInput) -> Result<MarkInput, CatalogError> {
    fn clean(s: Option<String>) -> Option<String> {
        s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
    }
    let input = MarkInput {
        agenda_number: clean(input.agenda_number),
        reason: clean(input.reason),
        legal_basis: clean(input.legal_basis),
        ..input
    };
    let kind = input.kind;
    let invalid = |why: String| Err(CatalogError::Invalid(why));
    match (kind, &input.agenda_number) {
        (MarkKind::Item, None) => return invalid("an 'item' mark needs an agenda_number".into()),
        (MarkKind::Item, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return invalid(format!(
                "agenda_number is only for 'item' marks, not '{kind}'"
            ))
        }
    }
    if kind == MarkKind::PrivateStart {
        if input.reason.is_none() {
            return invalid(
                "a 'private_start' mark needs a reason: why the session is closed to the public"
                    .into(),
            );
        }
        if input.legal_basis.is_none() {
            return invalid(
                "a 'private_start' mark needs a legal_basis: the provision that allows closing \
                 the session to the public"
                    .into(),
            );
        }
    } else {
        if input.legal_basis.is_some() {
            return invalid(format!(
                "legal_basis is only for 'private_start' marks, not '{kind}'"
            ));
        }
        if input.reason.is_some() && kind != MarkKind::Recess {
            return invalid(format!(
                "reason is only for 'private_start' and 'recess' marks, not '{kind}'"
            ));
        }
    }
    if let Some(media_ns) = input.media_ns {
        if media_ns < 0 {
            return invalid(format!("media_ns must not be negative, got {media_ns}"));
        }
    }
    Ok(input)
}

fn check_actor(actor: &str) -> Result<(), CatalogError> {
    if actor.trim().is_empty() {
        return Err(CatalogError::Invalid(
            "the actor of a catalog change must be named".into(),
        ));
    }
    Ok(())
}

/// Appends one audit row; called inside the transaction of the change.
fn audit(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    object: &str,
    detail: serde_json::Value,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit_log (at_ns, actor, action, object, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now_ns(), actor, action, object, detail.to_string()],
    )?;
    Ok(())
}

fn session_object(id: i64) -> String {
    format!("session/{id}")
}

fn session_not_found(id: i64) -> CatalogError {
    CatalogError::NotFound(format!("session {id} does not exist"))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTOR: &str = "operator1";

    fn fixture() -> SessionDraft {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/agenda-sesja-xlv.json"
        )))
        .expect("fixture agenda parses")
    }

    fn open_temp() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        (dir, catalog)
    }

    fn count(catalog: &Catalog, table: &str) -> i64 {
        catalog
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn mark(kind: MarkKind, wall_ns: i64) -> MarkInput {
        MarkInput {
            kind,
            agenda_number: None,
            reason: None,
            legal_basis: None,
            wall_ns,
            media_ns: None,
        }
    }

    fn item(number: &str, wall_ns: i64) -> MarkInput {
        MarkInput {
            agenda_number: Some(number.into()),
            ..mark(MarkKind::Item, wall_ns)
        }
    }

    fn private_start(wall_ns: i64) -> MarkInput {
        MarkInput {
            reason: Some("ochrona danych osobowych osoby prywatnej".into()),
            legal_basis: Some("art. 61 ust. 3 Konstytucji RP, art. 11b ust. 1 u.s.g.".into()),
            ..mark(MarkKind::PrivateStart, wall_ns)
        }
    }

    /// A created fixture session, started and with item "1" marked.
    fn live_session(catalog: &mut Catalog) -> i64 {
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Start, 100), ACTOR)
            .unwrap();
        catalog.add_mark(id, item("1", 200), ACTOR).unwrap();
        id
    }

    #[track_caller]
    fn assert_refused(err: CatalogError, kind: ErrorKind, message_part: &str) {
        assert_eq!(err.kind(), kind, "unexpected error kind: {err}");
        let message = err.to_string();
        assert!(
            message.contains(message_part),
            "{message:?} does not contain {message_part:?}"
        );
    }

    /// A catalog in a temporary directory with channel "main" ("Sala").
    fn catalog_with_main_channel() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        catalog
            .conn
            .execute(
                "INSERT INTO channels (id, name) VALUES ('main', 'Sala')",
                [],
            )
            .unwrap();
        (dir, catalog)
    }

    #[test]
    fn channels_in_use_are_those_with_a_live_or_paused_session() {
        let (_dir, mut catalog) = catalog_with_main_channel();
        assert!(catalog.channels_in_use().unwrap().is_empty());
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        assert!(catalog.channels_in_use().unwrap().is_empty(), "planned");
        catalog
            .start_session(id, "main", mark(MarkKind::Start, 100), ACTOR)
            .unwrap();
        assert_eq!(
            catalog.channels_in_use().unwrap(),
            [("main".to_owned(), id)]
        );
        catalog
            .add_mark(id, mark(MarkKind::Stop, 300), ACTOR)
            .unwrap();
        assert!(catalog.channels_in_use().unwrap().is_empty(), "ended");
    }

    #[test]
    fn source_events_belong_to_the_session_live_on_the_channel_then() {
        let (_dir, mut catalog) = catalog_with_main_channel();
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        // Before the session: recorded, bound to no session.
        let none = catalog
            .record_source_event("main", 0, None, Some("no data for 2.0 s"), 50)
            .unwrap();
        assert_eq!(none, None);
        catalog
            .start_session(id, "main", mark(MarkKind::Start, 100), ACTOR)
            .unwrap();
        let lost = catalog
            .record_source_event("main", 1, Some("mownica"), Some("end of stream"), 150)
            .unwrap();
        let other = catalog
            .record_source_event("other", 0, None, Some("error"), 160)
            .unwrap();
        let back = catalog
            .record_source_event("main", 1, Some("mownica"), None, 200)
            .unwrap();
        assert_eq!((lost, other, back), (Some(id), None, Some(id)));
        catalog
            .add_mark(id, mark(MarkKind::Stop, 300), ACTOR)
            .unwrap();
        assert_eq!(
            catalog
                .record_source_event("main", 0, None, None, 400)
                .unwrap(),
            None,
            "after the stop"
        );
        let s = catalog.get_session(id).unwrap();
        let seen: Vec<_> = s
            .source_events
            .iter()
            .map(|e| {
                (
                    e.input,
                    e.input_name.as_deref(),
                    e.kind.as_str(),
                    e.reason.as_deref(),
                    e.wall_ns,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (1, Some("mownica"), "lost", Some("end of stream"), 150),
                (1, Some("mownica"), "back", None, 200)
            ]
        );
        // The timeline and the state are untouched.
        assert_eq!(s.timeline.len(), 2);
        assert_eq!(s.state, SessionState::Ended);
    }

    #[test]
    fn recent_speakers_are_each_once_newest_first_per_channel() {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        let shown = |c: &mut Catalog, channel: &str, speaker: serde_json::Value| {
            c.record_event(
                "anna",
                "channel.graphics",
                &format!("channel/{channel}"),
                json!({ "show_item": true, "speaker": speaker, "vote": false }),
            )
            .unwrap();
        };
        shown(
            &mut catalog,
            "main",
            json!({"name": "Jan Nowak", "role": "radny"}),
        );
        shown(&mut catalog, "main", json!(null));
        shown(
            &mut catalog,
            "main",
            json!({"name": "Anna Kowalska", "role": "radna"}),
        );
        shown(
            &mut catalog,
            "other",
            json!({"name": "Ewa Zielińska", "role": ""}),
        );
        shown(
            &mut catalog,
            "main",
            json!({"name": "Jan Nowak", "role": "radny"}),
        );
        assert_eq!(
            catalog.recent_speakers("main", 10).unwrap(),
            [
                ("Jan Nowak".to_owned(), "radny".to_owned()),
                ("Anna Kowalska".to_owned(), "radna".to_owned())
            ]
        );
        assert_eq!(catalog.recent_speakers("main", 1).unwrap().len(), 1);
        assert!(catalog.recent_speakers("none", 10).unwrap().is_empty());
    }

    #[test]
    fn open_twice_migrates_once_and_configures_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        for _ in 0..2 {
            let catalog = Catalog::open(&path).unwrap();
            let pragma = |name: &str| -> String {
                catalog
                    .conn
                    .pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
                    .map(|v| match v {
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Text(s) => s,
                        other => format!("{other:?}"),
                    })
                    .unwrap()
            };
            assert_eq!(pragma("user_version"), "6");
            assert_eq!(pragma("journal_mode"), "wal");
            assert_eq!(pragma("synchronous"), "2", "2 is FULL");
            assert_eq!(pragma("foreign_keys"), "1");
            let tables: Vec<String> = catalog
                .conn
                .prepare(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(
                tables,
                [
                    "agenda_items",
                    "api_tokens",
                    "audit_log",
                    "bodies",
                    "channels",
                    "mark_corrections",
                    "recording_renditions",
                    "recording_segments",
                    "recordings",
                    "search_index",
                    "search_index_config",
                    "search_index_content",
                    "search_index_data",
                    "search_index_docsize",
                    "search_index_idx",
                    "sessions",
                    "source_events",
                    "timeline_marks",
                    "users",
                    "web_sessions",
                ]
            );
            assert_eq!(catalog.integrity_check().unwrap(), "ok");
        }
    }

    #[test]
    fn open_refuses_a_newer_schema_and_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        Catalog::open(&path)
            .unwrap()
            .conn
            .pragma_update(None, "user_version", 8)
            .unwrap();
        let message = Catalog::open(&path).err().unwrap().to_string();
        assert_eq!(
            message,
            format!(
                "cannot open catalog {}: its schema version is 8, this build knows versions 0 to 6",
                path.display()
            )
        );

        let missing = dir.path().join("no-such-dir").join("catalog.db");
        let err = Catalog::open(&missing).err().unwrap();
        assert!(matches!(err, CatalogError::Open { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("cannot open catalog {}: ", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn fixture_session_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let draft = fixture();
        let id = Catalog::open(&path)
            .unwrap()
            .create_session(&draft, ACTOR)
            .unwrap();

        let catalog = Catalog::open(&path).unwrap();
        let view = catalog.get_session(id).unwrap();
        assert_eq!(view.body, draft.body);
        assert_eq!(view.title, draft.title);
        assert_eq!(view.kind.as_deref(), Some("zwyczajna"));
        assert_eq!(view.scheduled_start, draft.scheduled_start);
        assert_eq!(view.state, SessionState::Planned);
        assert!(!view.private);
        assert!(view.timeline.is_empty());
        assert_eq!(view.agenda.len(), 15);
        assert_eq!(view.agenda, draft.agenda, "same items in the same order");
        let numbers: Vec<&str> = view.agenda.iter().map(|i| i.number.as_str()).collect();
        assert_eq!(&numbers[6..9], ["7", "7a", "8"]);
        assert_eq!(
            view.agenda[7].resolution_draft.as_deref(),
            Some("DRM.0002.45.4.2025")
        );

        let list = catalog.list_sessions().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, id);
        assert_eq!(list[0].state, SessionState::Planned);

        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["state"], "planned");
        assert_eq!(json["agenda"][7]["number"], "7a");
    }

    #[test]
    fn a_failed_create_leaves_nothing_behind() {
        let (_dir, mut catalog) = open_temp();
        let mut draft = fixture();
        let duplicate = draft.agenda[7].clone();
        draft.agenda.push(duplicate);

        let err = catalog.create_session(&draft, ACTOR).unwrap_err();
        assert_refused(
            err,
            ErrorKind::Invalid,
            r#"agenda item "7a" appears more than once on the agenda"#,
        );
        for table in ["bodies", "sessions", "agenda_items", "audit_log"] {
            assert_eq!(count(&catalog, table), 0, "rows left in {table}");
        }

        // The same draft without the duplicate goes in whole.
        draft.agenda.pop();
        let id = catalog.create_session(&draft, ACTOR).unwrap();
        assert_eq!(catalog.get_session(id).unwrap().agenda.len(), 15);
        assert_eq!(count(&catalog, "bodies"), 1);
    }

    #[test]
    fn sessions_of_one_body_share_it_and_list_newest_first() {
        let (_dir, mut catalog) = open_temp();
        let first = catalog.create_session(&fixture(), ACTOR).unwrap();
        let mut draft = fixture();
        draft.title = "XLVI Sesja Rady Miasta Piotrkowa Trybunalskiego".into();
        let second = catalog.create_session(&draft, ACTOR).unwrap();

        assert_eq!(count(&catalog, "bodies"), 1);
        let ids: Vec<i64> = catalog
            .list_sessions()
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, [second, first]);
        let details: Vec<bool> = catalog
            .audit_entries(10)
            .unwrap()
            .iter()
            .map(|e| e.detail["body_created"].as_bool().unwrap())
            .collect();
        assert_eq!(details, [false, true], "newest first");
    }

    #[test]
    fn missing_sessions_are_not_found() {
        let (_dir, mut catalog) = open_temp();
        assert_refused(
            catalog.get_session(42).unwrap_err(),
            ErrorKind::NotFound,
            "session 42 does not exist",
        );
        assert_refused(
            catalog
                .add_mark(42, mark(MarkKind::Start, 1), ACTOR)
                .unwrap_err(),
            ErrorKind::NotFound,
            "session 42 does not exist",
        );
        assert_refused(
            catalog.replace_agenda(42, &[], ACTOR).unwrap_err(),
            ErrorKind::NotFound,
            "session 42 does not exist",
        );
    }

    #[test]
    fn update_session_changes_the_fields_given_with_one_audit_row() {
        let (_dir, mut catalog) = open_temp();
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        let before = catalog.get_session(id).unwrap();
        let patch = |v: serde_json::Value| -> SessionPatch { serde_json::from_value(v).unwrap() };

        // Present fields change, `null` clears, absent ones stay; a field
        // given its current value is not a change.
        let after = catalog
            .update_session(
                id,
                &patch(json!({
                    "title": "XLV Sesja (nadzwyczajna) Rady Miasta",
                    "place": null,
                    "chair": before.chair,
                })),
                "sekretarz",
            )
            .unwrap();
        assert_eq!(after.title, "XLV Sesja (nadzwyczajna) Rady Miasta");
        assert_eq!(after.place, None);
        assert_eq!(after.chair, before.chair);
        assert_eq!(after.kind, before.kind);
        assert_eq!(after.scheduled_start, before.scheduled_start);
        assert_eq!(after.agenda, before.agenda);
        assert_eq!(catalog.get_session(id).unwrap(), after);
        let entry = &catalog.audit_entries(1).unwrap()[0];
        assert_eq!(entry.action, "session.update");
        assert_eq!(entry.actor, "sekretarz");
        assert_eq!(entry.object, format!("session/{id}"));
        assert_eq!(
            entry.detail,
            json!({
                "title": {"from": before.title, "to": "XLV Sesja (nadzwyczajna) Rady Miasta"},
                "place": {"from": before.place, "to": null},
            })
        );
        // The search index follows the title.
        let hits = catalog.search("nadzwyczajna", 10).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].session_id, id);

        // Nothing differs: nothing written, not even an audit row.
        let rows = count(&catalog, "audit_log");
        let same = catalog
            .update_session(id, &patch(json!({"kind": before.kind})), ACTOR)
            .unwrap();
        assert_eq!(same, after);
        assert_eq!(count(&catalog, "audit_log"), rows);

        // Invalid values are refused, naming the field, and change nothing.
        for (body, message) in [
            (
                json!({}),
                "input: nothing to change: give at least one of title",
            ),
            (json!({"title": "  "}), "title: the title is empty"),
            (json!({"title": null}), "title: the title cannot be null"),
            (
                json!({"title": "x".repeat(301)}),
                "title: the title is 301 characters long",
            ),
            (
                json!({"scheduled_start": "2025-11-26 09:00"}),
                "scheduled_start: expected an RFC 3339",
            ),
            (
                json!({"chair": "a\u{0}b"}),
                "chair: the chair contains the control character U+0000",
            ),
        ] {
            let err = catalog
                .update_session(id, &patch(body.clone()), ACTOR)
                .unwrap_err();
            assert_refused(err, ErrorKind::Invalid, message);
        }
        assert_refused(
            catalog
                .update_session(42, &patch(json!({"title": "x"})), ACTOR)
                .unwrap_err(),
            ErrorKind::NotFound,
            "session 42 does not exist",
        );
        assert_eq!(count(&catalog, "audit_log"), rows);
        assert_eq!(catalog.get_session(id).unwrap(), after);

        // Corrections after the fact are normal: an ended session too.
        catalog
            .add_mark(id, mark(MarkKind::Start, 100), ACTOR)
            .unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Stop, 200), ACTOR)
            .unwrap();
        let ended = catalog
            .update_session(id, &patch(json!({"term": "IX kadencja"})), ACTOR)
            .unwrap();
        assert_eq!(ended.state, SessionState::Ended);
        assert_eq!(ended.term.as_deref(), Some("IX kadencja"));
        assert_eq!(catalog.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn the_whole_session_happy_path() {
        let (_dir, mut catalog) = open_temp();
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        let steps: Vec<(MarkInput, SessionState, bool)> = vec![
            (mark(MarkKind::Start, 1_000), SessionState::Live, false),
            (item("1", 2_000), SessionState::Live, false),
            (item("2", 3_000), SessionState::Live, false),
            (item("5", 4_000), SessionState::Live, false),
            (item("7a", 5_000), SessionState::Live, false),
            (
                MarkInput {
                    reason: Some("przerwa techniczna".into()),
                    ..mark(MarkKind::Recess, 6_000)
                },
                SessionState::Paused,
                false,
            ),
            (mark(MarkKind::Resume, 7_000), SessionState::Live, false),
            (private_start(8_000), SessionState::Live, true),
            (mark(MarkKind::PrivateEnd, 9_000), SessionState::Live, false),
            (mark(MarkKind::Stop, 9_000), SessionState::Ended, false),
        ];
        for (seq, (input, state, private)) in steps.iter().enumerate() {
            let made = catalog
                .add_mark(
                    id,
                    MarkInput {
                        media_ns: Some(input.wall_ns - 1_000),
                        ..input.clone()
                    },
                    ACTOR,
                )
                .unwrap();
            assert_eq!(made.seq, seq as i64 + 1);
            assert_eq!(made.kind, input.kind);
            assert_eq!(made.actor, ACTOR);
            let view = catalog.get_session(id).unwrap();
            assert_eq!(
                (view.state, view.private),
                (*state, *private),
                "after {}",
                input.kind
            );
            assert_eq!(view.timeline.last(), Some(&made));
        }

        let view = catalog.get_session(id).unwrap();
        let kinds: Vec<String> = view
            .timeline
            .iter()
            .map(|m| match &m.agenda_number {
                Some(n) => format!("{}:{n}", m.kind),
                None => m.kind.to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "start",
                "item:1",
                "item:2",
                "item:5",
                "item:7a",
                "recess",
                "resume",
                "private_start",
                "private_end",
                "stop"
            ]
        );
        let private = &view.timeline[7];
        assert_eq!(
            private.legal_basis.as_deref(),
            Some("art. 61 ust. 3 Konstytucji RP, art. 11b ust. 1 u.s.g.")
        );
        assert_eq!(private.media_ns, Some(7_000));
        assert_eq!(
            view.timeline[5].reason.as_deref(),
            Some("przerwa techniczna")
        );
        let json = serde_json::to_value(&view.timeline[7]).unwrap();
        assert_eq!(json["kind"], "private_start");
        assert_eq!(
            catalog.list_sessions().unwrap()[0].state,
            SessionState::Ended
        );
    }

    #[test]
    fn refused_marks_change_nothing() {
        let (_dir, mut catalog) = open_temp();
        let planned = catalog.create_session(&fixture(), ACTOR).unwrap();
        assert_refused(
            catalog
                .add_mark(planned, mark(MarkKind::Stop, 1), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            &format!("session {planned} is planned; only a live or paused session can stop"),
        );
        assert_refused(
            catalog.add_mark(planned, item("1", 1), ACTOR).unwrap_err(),
            ErrorKind::Conflict,
            "agenda items can be marked only while it is live",
        );

        let id = live_session(&mut catalog);
        let cases: Vec<(MarkInput, ErrorKind, String)> = vec![
            (
                mark(MarkKind::Start, 300),
                ErrorKind::Conflict,
                format!("session {id} cannot start: it is live"),
            ),
            (
                item("9z", 300),
                ErrorKind::Invalid,
                format!(r#"agenda item "9z" is not on the agenda of session {id}"#),
            ),
            (
                mark(MarkKind::Item, 300),
                ErrorKind::Invalid,
                "an 'item' mark needs an agenda_number".into(),
            ),
            (
                mark(MarkKind::Resume, 300),
                ErrorKind::Conflict,
                format!("session {id} is live; only a paused session can resume"),
            ),
            (
                MarkInput {
                    legal_basis: Some("  ".into()),
                    ..private_start(300)
                },
                ErrorKind::Invalid,
                "a 'private_start' mark needs a legal_basis".into(),
            ),
            (
                MarkInput {
                    reason: None,
                    ..private_start(300)
                },
                ErrorKind::Invalid,
                "a 'private_start' mark needs a reason".into(),
            ),
            (
                mark(MarkKind::PrivateEnd, 300),
                ErrorKind::Conflict,
                format!("session {id} has no non-public part open"),
            ),
            (
                MarkInput {
                    legal_basis: Some("art. 11b u.s.g.".into()),
                    ..mark(MarkKind::Recess, 300)
                },
                ErrorKind::Invalid,
                "legal_basis is only for 'private_start' marks, not 'recess'".into(),
            ),
            (
                item("2", 199),
                ErrorKind::Invalid,
                format!(
                    "times out of order: the item mark at 199 ns is earlier than the previous \
                     mark of session {id} (item, seq 2) at 200 ns"
                ),
            ),
        ];
        let audit_before = count(&catalog, "audit_log");
        for (input, kind, message) in cases {
            let what = format!("{input:?}");
            let err = catalog.add_mark(id, input, ACTOR).unwrap_err();
            assert_eq!(err.kind(), kind, "{what}: {err}");
            assert!(err.to_string().contains(&message), "{what}: {err}");
        }
        let view = catalog.get_session(id).unwrap();
        assert_eq!(view.timeline.len(), 2);
        assert_eq!(view.state, SessionState::Live);
        assert_eq!(count(&catalog, "audit_log"), audit_before);

        // A private part blocks a second one and stopping, not a recess.
        catalog.add_mark(id, private_start(300), ACTOR).unwrap();
        assert_refused(
            catalog.add_mark(id, private_start(400), ACTOR).unwrap_err(),
            ErrorKind::Conflict,
            "already in a non-public part",
        );
        catalog
            .add_mark(id, mark(MarkKind::Recess, 400), ACTOR)
            .unwrap();
        assert_refused(
            catalog
                .add_mark(id, mark(MarkKind::Stop, 500), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            "end it (private_end) before stopping",
        );
        catalog
            .add_mark(id, mark(MarkKind::PrivateEnd, 500), ACTOR)
            .unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Stop, 600), ACTOR)
            .unwrap();
        assert_refused(
            catalog
                .add_mark(id, mark(MarkKind::Stop, 700), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            &format!("session {id} is ended; only a live or paused session can stop"),
        );
        assert_refused(
            catalog
                .add_mark(id, mark(MarkKind::Start, 700), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            "cannot start: it is ended",
        );
    }

    #[test]
    fn replace_agenda_only_while_planned_or_paused() {
        let (_dir, mut catalog) = open_temp();
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        let mut agenda = fixture().agenda;
        agenda.insert(
            9,
            AgendaItem {
                number: "9a".into(),
                title: "Podjęcie uchwały w sprawie nadania nazwy ulicy".into(),
                resolution_draft: Some("DRM.0002.45.9.2025".into()),
            },
        );
        catalog.replace_agenda(id, &agenda, ACTOR).unwrap();
        assert_eq!(catalog.get_session(id).unwrap().agenda, agenda);

        catalog
            .add_mark(id, mark(MarkKind::Start, 100), ACTOR)
            .unwrap();
        assert_refused(
            catalog.replace_agenda(id, &agenda, ACTOR).unwrap_err(),
            ErrorKind::Conflict,
            &format!("session {id} is live; its agenda can be changed only while"),
        );
        catalog.add_mark(id, item("9a", 200), ACTOR).unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Recess, 300), ACTOR)
            .unwrap();

        let without_9a: Vec<AgendaItem> = agenda
            .iter()
            .filter(|i| i.number != "9a")
            .cloned()
            .collect();
        assert_refused(
            catalog.replace_agenda(id, &without_9a, ACTOR).unwrap_err(),
            ErrorKind::Conflict,
            &format!(r#"agenda item "9a" of session {id} is already marked on the timeline"#),
        );
        assert_eq!(catalog.get_session(id).unwrap().agenda, agenda, "unchanged");
        // The schema's deferred foreign key is the backstop for the check.
        let orphaning = catalog
            .conn
            .execute("DELETE FROM agenda_items WHERE number = '9a'", [])
            .unwrap_err();
        assert!(
            orphaning
                .to_string()
                .contains("FOREIGN KEY constraint failed"),
            "{orphaning}"
        );

        let mut reordered = agenda.clone();
        reordered.swap(0, 1);
        catalog.replace_agenda(id, &reordered, ACTOR).unwrap();
        assert_eq!(catalog.get_session(id).unwrap().agenda, reordered);

        catalog
            .add_mark(id, mark(MarkKind::Resume, 400), ACTOR)
            .unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Stop, 500), ACTOR)
            .unwrap();
        assert_refused(
            catalog.replace_agenda(id, &agenda, ACTOR).unwrap_err(),
            ErrorKind::Conflict,
            &format!("session {id} is ended"),
        );
        assert_eq!(catalog.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn audit_log_has_one_row_per_change_and_cannot_be_rewritten() {
        let (_dir, mut catalog) = open_temp();
        let id = live_session(&mut catalog);
        catalog
            .add_mark(id, private_start(300), "sekretarz")
            .unwrap();
        // Refused changes are not logged.
        catalog
            .add_mark(id, mark(MarkKind::Start, 400), ACTOR)
            .unwrap_err();

        let entries = catalog.audit_entries(100).unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "mark.private_start",
                "mark.item",
                "mark.start",
                "session.create"
            ]
        );
        assert!(entries.iter().all(|e| e.object == format!("session/{id}")));
        let private = &entries[0];
        assert_eq!(private.actor, "sekretarz");
        assert_eq!(
            private.detail["legal_basis"],
            "art. 61 ust. 3 Konstytucji RP, art. 11b ust. 1 u.s.g."
        );
        assert_eq!(private.detail["state_before"], "live");
        assert!(entries.windows(2).all(|w| w[0].at_ns >= w[1].at_ns));
        assert_eq!(catalog.audit_entries(1).unwrap(), entries[..1]);

        let update = catalog
            .conn
            .execute("UPDATE audit_log SET actor = 'nobody'", [])
            .unwrap_err();
        assert!(
            update.to_string().contains("audit_log is append-only"),
            "{update}"
        );
        let delete = catalog
            .conn
            .execute("DELETE FROM audit_log", [])
            .unwrap_err();
        assert!(
            delete.to_string().contains("audit_log is append-only"),
            "{delete}"
        );
        assert_eq!(catalog.audit_entries(100).unwrap(), entries);
        assert_eq!(catalog.integrity_check().unwrap(), "ok");
    }

    fn channels(ids: &[&str]) -> Vec<(String, String)> {
        ids.iter()
            .map(|id| ((*id).to_owned(), format!("Sala {id}")))
            .collect()
    }

    #[test]
    fn a_version_3_catalog_migrates_to_4_and_keeps_its_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        // A catalog as the previous build left it: migrations 1 to 3, a
        // session started on the (then implicit) default channel, one
        // planned.
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            for (i, sql) in MIGRATIONS[..3].iter().enumerate() {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", i as i64 + 1)
                    .unwrap();
                tx.commit().unwrap();
            }
            let mut old = Catalog { conn };
            let started = old.create_session(&fixture(), ACTOR).unwrap();
            old.add_mark(started, mark(MarkKind::Start, 100), ACTOR)
                .unwrap();
            old.create_session(&fixture(), ACTOR).unwrap();
        }
        let mut catalog = Catalog::open(&path).unwrap();
        let version: i64 = catalog
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 6);
        let columns = |table: &str| -> Vec<String> {
            catalog
                .conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                ))
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(
            columns("recordings"),
            ["id", "channel_id", "run_id", "started_at", "ended_at"]
        );
        assert_eq!(
            columns("recording_segments"),
            [
                "id",
                "recording_id",
                "rendition",
                "msn",
                "path",
                "duration",
                "timescale",
                "bytes",
                "parts",
                "wall_ns"
            ]
        );
        assert_eq!(
            columns("recording_renditions"),
            [
                "recording_id",
                "name",
                "codecs",
                "video",
                "width",
                "height",
                "bitrate_kbps",
                "framerate"
            ]
        );
        // Migration 4 added channel_id; migration 5 the publication columns.
        assert!(columns("sessions").contains(&"channel_id".to_owned()));
        assert_eq!(
            columns("sessions").last().map(String::as_str),
            Some("withdrawn_at")
        );
        let indexes: Vec<String> = catalog
            .conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL \
                 AND name IN ('recordings_by_channel', 'recording_segments_by_time', \
                 'sessions_by_channel') ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            indexes,
            [
                "recording_segments_by_time",
                "recordings_by_channel",
                "sessions_by_channel"
            ]
        );
        // The sessions survived; the started one used the default channel.
        assert_eq!(catalog.get_session(1).unwrap().state, SessionState::Live);
        assert_eq!(catalog.get_session(1).unwrap().channel, None);
        let sync = catalog
            .sync_channels(&channels(&["main", "komisja"]), Some("main"))
            .unwrap();
        assert_eq!(sync.added, ["main", "komisja"]);
        assert_eq!(sync.bound_sessions, [1], "only the started session");
        assert_eq!(
            catalog.get_session(1).unwrap().channel.as_deref(),
            Some("main")
        );
        assert_eq!(catalog.get_session(2).unwrap().channel, None);
        // A second start of the server changes nothing, a renamed room is
        // renamed.
        let mut renamed = channels(&["main", "komisja"]);
        renamed[1].1 = "Sala komisji".into();
        let sync = catalog.sync_channels(&renamed, Some("main")).unwrap();
        assert_eq!(
            sync,
            recordings::ChannelSync {
                renamed: vec!["komisja".into()],
                ..Default::default()
            }
        );
        let actions: Vec<String> = catalog
            .audit_entries(3)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            ["channel.rename", "session.bind_channel", "channel.add"]
        );
        assert_eq!(catalog.integrity_check().unwrap(), "ok");
    }

    #[test]
    fn a_session_starts_on_a_channel_no_other_session_holds() {
        let (_dir, mut catalog) = open_temp();
        catalog
            .sync_channels(&channels(&["main", "komisja"]), Some("main"))
            .unwrap();
        let first = catalog.create_session(&fixture(), ACTOR).unwrap();
        let second = catalog.create_session(&fixture(), ACTOR).unwrap();
        assert_eq!(catalog.get_session(first).unwrap().channel, None);

        let made = catalog
            .start_session(first, "main", mark(MarkKind::Start, 100), ACTOR)
            .unwrap();
        assert_eq!(made.kind, MarkKind::Start);
        let view = catalog.get_session(first).unwrap();
        assert_eq!(
            (view.state, view.channel.as_deref()),
            (SessionState::Live, Some("main"))
        );
        assert_eq!(serde_json::to_value(&view).unwrap()["channel"], "main");
        assert_eq!(
            catalog.audit_entries(1).unwrap()[0].detail["channel"],
            "main"
        );

        let audit_before = count(&catalog, "audit_log");
        assert_refused(
            catalog
                .start_session(second, "main", mark(MarkKind::Start, 200), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            &format!("channel \"main\" is in use by session {first} (\"XLV Sesja Rady Miasta"),
        );
        assert_refused(
            catalog
                .start_session(second, "piwnica", mark(MarkKind::Start, 200), ACTOR)
                .unwrap_err(),
            ErrorKind::Invalid,
            "there is no channel \"piwnica\"",
        );
        assert_refused(
            catalog
                .start_session(second, "main", mark(MarkKind::Stop, 200), ACTOR)
                .unwrap_err(),
            ErrorKind::Invalid,
            "starts with a 'start' mark",
        );
        // Starting twice is refused for the state, whatever the channel.
        assert_refused(
            catalog
                .start_session(first, "komisja", mark(MarkKind::Start, 200), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            "cannot start: it is live",
        );
        assert_eq!(
            count(&catalog, "audit_log"),
            audit_before,
            "refusals change nothing"
        );
        let view = catalog.get_session(second).unwrap();
        assert_eq!((view.state, view.channel), (SessionState::Planned, None));

        // Another room is free; a paused session still holds its room; a
        // stopped one frees it.
        catalog
            .start_session(second, "komisja", mark(MarkKind::Start, 300), ACTOR)
            .unwrap();
        let third = catalog.create_session(&fixture(), ACTOR).unwrap();
        catalog
            .add_mark(first, mark(MarkKind::Recess, 400), ACTOR)
            .unwrap();
        assert_refused(
            catalog
                .start_session(third, "main", mark(MarkKind::Start, 500), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            "which is paused",
        );
        catalog
            .add_mark(first, mark(MarkKind::Stop, 600), ACTOR)
            .unwrap();
        catalog
            .start_session(third, "main", mark(MarkKind::Start, 700), ACTOR)
            .unwrap();
        assert_eq!(
            catalog.get_session(first).unwrap().channel.as_deref(),
            Some("main"),
            "an ended session keeps its channel"
        );
        // The schema's foreign key is the backstop.
        let err = catalog
            .conn
            .execute(
                "UPDATE sessions SET channel_id = 'piwnica' WHERE id = ?1",
                [first],
            )
            .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }

    #[test]
    fn a_version_4_catalog_migrates_to_5_with_every_recording_published() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let id = {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            for (i, sql) in MIGRATIONS[..4].iter().enumerate() {
                let tx = conn.transaction().unwrap();
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", i as i64 + 1)
                    .unwrap();
                tx.commit().unwrap();
            }
            conn.execute(
                "INSERT INTO channels (id, name) VALUES ('main', 'Sala')",
                [],
            )
            .unwrap();
            let mut old = Catalog { conn };
            let id = old.create_session(&fixture(), ACTOR).unwrap();
            old.start_session(id, "main", mark(MarkKind::Start, 100), ACTOR)
                .unwrap();
            old.add_mark(id, item("1", 200), ACTOR).unwrap();
            id
        };
        let catalog = Catalog::open(&path).unwrap();
        let version: i64 = catalog
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 6);
        let s = catalog.get_session(id).unwrap();
        assert!(s.published);
        assert_eq!(s.withdrawal, None);
        assert_eq!(s.timeline[1].wall_ns, 200);
        assert_eq!(s.timeline[1].recorded_wall_ns, None);
        assert!(catalog.list_sessions().unwrap()[0].published);
        assert_eq!(count(&catalog, "mark_corrections"), 0);
    }

    /// start 100, items 1 at 200 and 2 at 600, recess 900, stop 1000.
    fn ended_session(catalog: &mut Catalog) -> i64 {
        let id = live_session(catalog);
        catalog.add_mark(id, item("2", 600), ACTOR).unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Recess, 900), ACTOR)
            .unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Stop, 1000), ACTOR)
            .unwrap();
        id
    }

    #[test]
    fn an_item_start_is_corrected_beside_the_timeline_within_its_neighbours() {
        let (_dir, mut catalog) = open_temp();
        let id = live_session(&mut catalog);
        catalog.add_mark(id, item("2", 600), ACTOR).unwrap();
        // While live: refused.
        assert_refused(
            catalog
                .correct_mark(id, 3, 500, 500, Some(7), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            "paused or ended",
        );
        catalog
            .add_mark(id, mark(MarkKind::Recess, 900), ACTOR)
            .unwrap();
        catalog
            .add_mark(id, mark(MarkKind::Stop, 1000), ACTOR)
            .unwrap();
        let b = catalog.correction_bounds(id, 3).unwrap();
        assert_eq!(
            b,
            CorrectionBounds {
                agenda_number: "2".into(),
                prev_ns: 200,
                next_ns: Some(900),
                wall_ns: 600,
            }
        );
        let audit_before = count(&catalog, "audit_log");
        for (seq, wall, kind, part) in [
            (1, 150, ErrorKind::Invalid, "seq: mark 1"),
            (9, 150, ErrorKind::NotFound, "seq: session"),
            (3, 200, ErrorKind::Invalid, "not strictly between"),
            (3, 900, ErrorKind::Invalid, "not strictly between"),
            (3, 50, ErrorKind::Invalid, "not strictly between"),
        ] {
            assert_refused(
                catalog
                    .correct_mark(id, seq, wall, wall, None, ACTOR)
                    .unwrap_err(),
                kind,
                part,
            );
        }
        assert_eq!(count(&catalog, "mark_corrections"), 0);
        assert_eq!(count(&catalog, "audit_log"), audit_before);

        let m = catalog
            .correct_mark(id, 3, 420, 400, Some(12), ACTOR)
            .unwrap();
        assert_eq!((m.wall_ns, m.recorded_wall_ns), (400, Some(600)));
        // Corrected again: the newest wins, the row never changes.
        catalog
            .correct_mark(id, 3, 450, 450, Some(13), ACTOR)
            .unwrap();
        let s = catalog.get_session(id).unwrap();
        assert_eq!(s.timeline[2].wall_ns, 450);
        assert_eq!(s.timeline[2].recorded_wall_ns, Some(600));
        let recorded: i64 = catalog
            .conn
            .query_row(
                "SELECT wall_ns FROM timeline_marks WHERE session_id = ?1 AND seq = 3",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(recorded, 600, "the timeline stays append-only");
        // Item 1 now ends at 450: its neighbour's bounds follow.
        assert_eq!(catalog.correction_bounds(id, 2).unwrap().next_ns, Some(450));
        let entry = &catalog.audit_entries(1).unwrap()[0];
        assert_eq!(entry.action, "mark.correct");
        assert_eq!(entry.detail["wall_ns_before"], 400);
        assert_eq!(entry.detail["wall_ns_after"], 450);
        assert_eq!(entry.detail["msn"], 13);
        assert!(catalog
            .conn
            .execute("DELETE FROM mark_corrections", [])
            .is_err());
    }

    #[test]
    fn a_recording_is_withdrawn_with_a_reason_and_published_again() {
        let (_dir, mut catalog) = open_temp();
        let live = live_session(&mut catalog);
        assert_refused(
            catalog
                .set_published(live, false, Some("powód"), ACTOR)
                .unwrap_err(),
            ErrorKind::Conflict,
            "only after the session ended",
        );
        let id = ended_session(&mut catalog);
        assert_refused(
            catalog
                .set_published(id, false, Some("  "), ACTOR)
                .unwrap_err(),
            ErrorKind::Invalid,
            "reason",
        );
        assert_refused(
            catalog.set_published(id, true, None, ACTOR).unwrap_err(),
            ErrorKind::Conflict,
            "already published",
        );
        catalog
            .set_published(id, false, Some(" ochrona wizerunku "), ACTOR)
            .unwrap();
        let s = catalog.get_session(id).unwrap();
        assert!(!s.published);
        let w = s.withdrawal.unwrap();
        assert_eq!(
            (w.reason.as_str(), w.by.as_str()),
            ("ochrona wizerunku", ACTOR)
        );
        let entry = &catalog.audit_entries(1).unwrap()[0];
        assert_eq!(entry.action, "session.unpublish");
        assert_eq!(entry.detail["reason"], "ochrona wizerunku");
        catalog.set_published(id, true, None, "admin").unwrap();
        let s = catalog.get_session(id).unwrap();
        assert!(s.published && s.withdrawal.is_none());
        assert_eq!(
            catalog.audit_entries(1).unwrap()[0].action,
            "session.publish"
        );
        assert_refused(
            catalog.set_published(99, true, None, ACTOR).unwrap_err(),
            ErrorKind::NotFound,
            "99",
        );
    }
}
