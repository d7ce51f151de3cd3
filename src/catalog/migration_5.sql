-- Migration 5 of the obrady catalog (see schema.sql for the conventions:
-- STRICT tables, instants as INTEGER Unix nanoseconds): after a session,
-- corrected item starts and the publication of the recording.
--
-- The timeline stays append-only: a corrected start is not an UPDATE of
-- `timeline_marks` but a row here, and the newest row of a mark gives its
-- effective time (`Catalog::get_session` returns it as the mark's
-- `wall_ns`, and the recorded one as `recorded_wall_ns`). Every row is
-- written by `Catalog::correct_mark` in one transaction with its audit
-- row ("mark.correct"); ARCHITECTURE.md, "After a session", says why.

-- Corrections of the start of an agenda item, newest last.
CREATE TABLE mark_corrections (
    id INTEGER PRIMARY KEY,
    -- The mark corrected: its session and its position in that timeline.
    session_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    -- The corrected wall-clock time (Unix ns): the segment boundary (a
    -- keyframe) nearest the time asked for, strictly between the effective
    -- times of the marks before and after it.
    wall_ns INTEGER NOT NULL CHECK (wall_ns >= 0),
    -- The time the operator asked for (Unix ns), before snapping.
    requested_ns INTEGER NOT NULL CHECK (requested_ns >= 0),
    -- The media sequence number of the segment the item now begins with;
    -- NULL when no segment was known (it is never NULL from the API).
    msn INTEGER CHECK (msn IS NULL OR msn >= 0),
    -- Who corrected it (username).
    actor TEXT NOT NULL CHECK (actor <> ''),
    -- When the correction was made (Unix ns).
    at_ns INTEGER NOT NULL,
    FOREIGN KEY (session_id, seq) REFERENCES timeline_marks (session_id, seq)
) STRICT;

-- A mark's corrections, newest last: the lookup of every timeline read.
CREATE INDEX mark_corrections_by_mark ON mark_corrections (session_id, seq, id);

-- Corrections are history, like the audit log: never rewritten.
CREATE TRIGGER mark_corrections_no_update BEFORE UPDATE ON mark_corrections
BEGIN
    SELECT RAISE(ABORT, 'mark_corrections is append-only: rows cannot be updated');
END;
CREATE TRIGGER mark_corrections_no_delete BEFORE DELETE ON mark_corrections
BEGIN
    SELECT RAISE(ABORT, 'mark_corrections is append-only: rows cannot be deleted');
END;

-- Whether the session's recording is published: 1 (the default, because
-- the law requires publication) or 0 while it is withdrawn. Only the
-- recording: the live broadcast is never affected. Changed by
-- `Catalog::set_published`, audited as "session.publish" /
-- "session.unpublish".
ALTER TABLE sessions ADD COLUMN published INTEGER NOT NULL DEFAULT 1
    CHECK (published IN (0, 1));
-- Why the recording was last withdrawn (required to withdraw it); kept
-- after it is published again, the audit log has the whole history.
ALTER TABLE sessions ADD COLUMN withdrawn_reason TEXT;
-- Who last withdrew it (username).
ALTER TABLE sessions ADD COLUMN withdrawn_by TEXT;
-- When it was last withdrawn (Unix ns).
ALTER TABLE sessions ADD COLUMN withdrawn_at INTEGER;
