-- Migration 6 of the obrady catalog (see schema.sql for the conventions:
-- STRICT tables, instants as INTEGER Unix nanoseconds): what a channel's
-- sources did, so a session's record says why its recording shows the
-- "Przerwa techniczna" slate.
--
-- The ingest watchdog (media::ingest) reports every loss and return of a
-- camera; `Catalog::record_source_event` writes one row each, bound in the
-- same statement to the session live or paused on the channel then (NULL
-- when none was). Append-only, like the timeline; it never changes a
-- session's state.

CREATE TABLE source_events (
    id INTEGER PRIMARY KEY,
    -- The channel (config `[[channel]] id`).
    channel_id TEXT NOT NULL CHECK (channel_id <> ''),
    -- Which of the channel's cameras: 0 is its `source`, 1.. its `inputs`.
    input INTEGER NOT NULL CHECK (input >= 0),
    -- The input's name as configured then (`inputs[].name`); NULL for 0.
    input_name TEXT,
    -- 'lost': the slate replaced it; 'back': its picture returned.
    kind TEXT NOT NULL CHECK (kind IN ('lost', 'back')),
    -- Why it was lost (the watchdog's words); NULL for 'back'.
    reason TEXT CHECK (kind = 'lost' OR reason IS NULL),
    -- When the watchdog decided (Unix ns).
    wall_ns INTEGER NOT NULL CHECK (wall_ns >= 0),
    -- The session live or paused on the channel at that instant.
    session_id INTEGER REFERENCES sessions (id)
) STRICT;

CREATE INDEX source_events_by_session ON source_events (session_id, wall_ns)
    WHERE session_id IS NOT NULL;
