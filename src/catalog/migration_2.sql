-- Migration 2 of the obrady catalog (see schema.sql for the conventions:
-- STRICT tables, instants as INTEGER Unix nanoseconds): browser sessions.
-- `users` and `api_tokens` came with migration 1.

-- Signed-in browsers: one row per login through the web pages, found by the
-- session cookie. As with API tokens, only a hash of the cookie's value is
-- stored, so a copy of the catalog cannot be used to sign in. Unlike the
-- public records, these rows are deleted once they have expired or ended
-- (at the next login); the audit log keeps every login and logout.
CREATE TABLE web_sessions (
    id INTEGER PRIMARY KEY,
    -- Hex SHA-256 of the session id sent in the `obrady_session` cookie.
    id_hash TEXT NOT NULL UNIQUE CHECK (length(id_hash) = 64),
    -- Who signed in; the session acts with this user's role (and stops
    -- working when the user is disabled).
    user_id INTEGER NOT NULL REFERENCES users (id),
    -- The CSRF token the page must send back in `X-CSRF-Token` with every
    -- state-changing request made with this session's cookie. Stored as is:
    -- it is useless without the cookie, and the page needs it again after a
    -- reload (GET /api/v1/me returns it).
    csrf_token TEXT NOT NULL CHECK (csrf_token <> ''),
    created_at INTEGER NOT NULL,
    -- The session stops working at this instant, whatever happens.
    expires_at INTEGER NOT NULL CHECK (expires_at > created_at),
    -- When the session was ended (logout, password change); NULL while
    -- valid.
    revoked_at INTEGER CHECK (revoked_at IS NULL OR revoked_at >= created_at)
) STRICT;

-- A password change ends all of a user's other sessions.
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);
