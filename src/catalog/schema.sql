-- The obrady catalog, schema version 1 (applied by `catalog::db` as
-- migration 1, in one transaction, then `PRAGMA user_version = 1`).
--
-- The catalog says what exists: bodies, sessions, their agendas and
-- timelines, recordings and their segments, users, and the audit log.
-- Media bytes live in files; a row here names them.
--
-- Conventions:
-- * Every table is STRICT, so a value of the wrong type is an error rather
--   than silently stored.
-- * Instants are INTEGER Unix nanoseconds (UTC) in columns named `*_ns` or
--   `*_at`, except `sessions.scheduled_start`, which keeps the RFC 3339 text
--   (with its offset) exactly as the council office supplied it.
-- * Enumerations are TEXT with a CHECK listing the allowed values; the Rust
--   enums in `catalog::db` spell them the same way.
-- * Rows are never deleted by the application (recordings are public
--   records), so foreign keys have no ON DELETE CASCADE: an accidental
--   delete of a parent fails instead of silently taking its children along.
--   (Two exceptions, both explained where they are created: expired browser
--   sessions, migration 2, and rows of the archive's index whose files are
--   gone, deleted only by reconciliation at start, migration 4.)
-- * `PRAGMA foreign_keys = ON` is set by `Catalog::open` on every connection
--   (SQLite does not store it in the file).

-- The bodies that meet: the council itself and its committees. A session
-- belongs to exactly one body; `create_session` adds a body the first time
-- its name appears.
CREATE TABLE bodies (
    id INTEGER PRIMARY KEY,
    -- Full official name, e.g. "Rada Miasta Piotrkowa Trybunalskiego".
    name TEXT NOT NULL UNIQUE CHECK (name <> '')
) STRICT;

-- Capture locations (a council chamber, a committee room): where a camera
-- and microphones are. Channels are data, not config, so adding a room is a
-- catalog change.
CREATE TABLE channels (
    -- Short stable id used in URLs and on disk, e.g. "main".
    id TEXT PRIMARY KEY CHECK (id <> ''),
    -- Human name, e.g. "Sala sesyjna".
    name TEXT NOT NULL
) STRICT;

-- One meeting of a body: its metadata and where it is in its life cycle.
-- `state` is a cache of the timeline: it is changed only by `add_mark`, in
-- the same transaction that appends the mark that implies it:
--   planned --start--> live --recess--> paused --resume--> live
--   live|paused --stop--> ended
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    body_id INTEGER NOT NULL REFERENCES bodies (id),
    title TEXT NOT NULL CHECK (title <> ''),
    -- "zwyczajna" (ordinary), "nadzwyczajna" (extraordinary), ...
    kind TEXT,
    -- Term of office, e.g. "IX kadencja 2024-2029".
    term TEXT,
    -- RFC 3339 with offset as supplied, e.g. "2025-11-26T09:00:00+01:00".
    scheduled_start TEXT,
    place TEXT,
    chair TEXT,
    state TEXT NOT NULL DEFAULT 'planned'
        CHECK (state IN ('planned', 'live', 'paused', 'ended')),
    -- When the session row was created (Unix ns); orders `list_sessions`.
    created_at INTEGER NOT NULL
) STRICT;

-- The agenda (porządek obrad) of a session, one row per item.
CREATE TABLE agenda_items (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    -- 0-based order on the agenda; numbers are text and do not sort.
    position INTEGER NOT NULL CHECK (position >= 0),
    -- The item's number as printed: "1", "7a". Timeline marks refer to it.
    number TEXT NOT NULL CHECK (number <> ''),
    title TEXT NOT NULL CHECK (title <> ''),
    -- Reference of the draft resolution debated under this item, e.g.
    -- "DRM.0002.45.1.2025"; NULL for items without a resolution.
    resolution_draft TEXT,
    UNIQUE (session_id, number),
    UNIQUE (session_id, position)
) STRICT;

-- The timeline of a session: what the operator marked and when. It drives
-- the session state, the chapters of the recording, and, through the
-- private_start/private_end pairs, which parts must never be published.
-- Append-only in practice: marks are never edited, a correction is a new
-- mark.
CREATE TABLE timeline_marks (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    -- 1-based order within the session, without gaps.
    seq INTEGER NOT NULL CHECK (seq >= 1),
    kind TEXT NOT NULL CHECK (kind IN ('start', 'item', 'recess', 'resume',
        'private_start', 'private_end', 'stop')),
    -- The agenda item now under discussion; set for 'item' marks only.
    -- The foreign key is deferred so `replace_agenda` can delete and
    -- re-insert the agenda in one transaction, as long as every marked item
    -- is still on the agenda when it commits.
    agenda_number TEXT,
    -- Why: for 'private_start' the statutory reason for closing the session
    -- to the public (required); for 'recess' optionally e.g. "technical
    -- break".
    reason TEXT,
    -- The provision that allows limiting publicity (art. 61 ust. 3 of the
    -- Constitution, art. 11b u.s.g.); required for 'private_start' because
    -- the law requires logging on what basis a part was closed.
    legal_basis TEXT,
    -- Wall-clock time of the mark (Unix ns); never earlier than the
    -- previous mark's.
    wall_ns INTEGER NOT NULL,
    -- Position in the recording (ns from its start) when the recorder knew
    -- it; NULL for marks made while nothing was being recorded.
    media_ns INTEGER CHECK (media_ns IS NULL OR media_ns >= 0),
    -- Who made the mark (username, or "system").
    actor TEXT NOT NULL CHECK (actor <> ''),
    UNIQUE (session_id, seq),
    CHECK ((kind = 'item') = (agenda_number IS NOT NULL)),
    CHECK (kind <> 'private_start'
        OR (reason IS NOT NULL AND reason <> ''
            AND legal_basis IS NOT NULL AND legal_basis <> '')),
    CHECK (kind = 'private_start' OR legal_basis IS NULL),
    CHECK (kind IN ('private_start', 'recess') OR reason IS NULL),
    FOREIGN KEY (session_id, agenda_number)
        REFERENCES agenda_items (session_id, number)
        DEFERRABLE INITIALLY DEFERRED
) STRICT;

-- (Replaced by migration 4, migration_4.sql: a run belongs to a channel,
-- not a session, and segments carry what the playlists need. This table
-- and `recording_segments` below were never written before that.)
-- One continuous recording run of a channel for a session. A session has
-- several when the capture restarts (a crash, a changed room); the archive
-- stitches them together by wall time.
CREATE TABLE recordings (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    channel_id TEXT NOT NULL REFERENCES channels (id),
    -- The recorder's id for this run; also the directory name of its
    -- segments on disk.
    run_id TEXT NOT NULL UNIQUE CHECK (run_id <> ''),
    -- Wall-clock start of the run (Unix ns).
    started_at INTEGER NOT NULL,
    -- Wall-clock end (Unix ns); NULL while recording, or after a crash until
    -- recovery at start closes it.
    ended_at INTEGER CHECK (ended_at IS NULL OR ended_at >= started_at)
) STRICT;

-- The archive looks up a session's recordings.
CREATE INDEX recordings_by_session ON recordings (session_id);

-- The media segments of a recording, one row per segment file per
-- rendition. A row is inserted only after its file is durably written, and
-- neither ever changes afterwards.
CREATE TABLE recording_segments (
    id INTEGER PRIMARY KEY,
    recording_id INTEGER NOT NULL REFERENCES recordings (id),
    -- Rendition name, e.g. "720p", "audio".
    rendition TEXT NOT NULL CHECK (rendition <> ''),
    -- HLS media sequence number within the run and rendition.
    msn INTEGER NOT NULL CHECK (msn >= 0),
    -- File path relative to the archive root.
    path TEXT NOT NULL,
    duration_ms INTEGER NOT NULL CHECK (duration_ms > 0),
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    -- Wall-clock time of the segment's first frame (Unix ns): maps a
    -- timeline mark to a position in the recording.
    wall_ns INTEGER NOT NULL,
    UNIQUE (recording_id, rendition, msn)
) STRICT;

-- People who sign in to the operator console and staff pages. Residents
-- never have accounts.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE CHECK (username <> ''),
    -- admin: manages users and settings; operator: runs sessions;
    -- staff: finds, publishes and exports recordings.
    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'staff')),
    -- A PHC-format password hash (e.g. argon2id); never the password.
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- 1 = may not sign in; users are disabled, not deleted, so the audit
    -- log's actors keep meaning something.
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;

-- Bearer tokens for the JSON API (scripts, BIP publishing). Only a hash of
-- the token is stored, so a copy of the catalog does not leak usable tokens.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    -- The token acts with this user's role.
    user_id INTEGER NOT NULL REFERENCES users (id),
    -- Hex SHA-256 of the token.
    token_hash TEXT NOT NULL UNIQUE,
    -- What the token is for, e.g. "BIP export".
    label TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- When the token stopped working (Unix ns); NULL while valid.
    revoked_at INTEGER CHECK (revoked_at IS NULL OR revoked_at >= created_at)
) STRICT;

-- Who changed what, and when: one row per catalog change, written in the
-- same transaction as the change, so a change without its audit row (or the
-- reverse) cannot exist. Required among others to log who closed a session
-- to the public, when, and on what legal basis. Append-only: the triggers
-- below refuse UPDATE and DELETE.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    -- When the change was made (Unix ns).
    at_ns INTEGER NOT NULL,
    -- Username, or "system" for changes the server makes by itself.
    actor TEXT NOT NULL CHECK (actor <> ''),
    -- What was done, e.g. "session.create", "mark.private_start".
    action TEXT NOT NULL,
    -- What it was done to, e.g. "session/42".
    object TEXT NOT NULL,
    -- Action-specific details as a JSON object.
    detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail))
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be updated');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted');
END;
