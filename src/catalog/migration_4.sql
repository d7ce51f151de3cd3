-- Migration 4 of the obrady catalog (see schema.sql for the conventions:
-- STRICT tables, instants as INTEGER Unix nanoseconds): the archive's index.
--
-- The archive's files are the source of truth for media; these rows are
-- their index, so that the HTTP side lists runs, renditions and segments
-- with one indexed lookup instead of reading every `index.tsv` on disk.
-- Who writes what, and when (ARCHITECTURE.md, "The archive and the
-- catalog"):
-- * the recorder inserts a `recordings` row when the first init segment of
--   a run is on disk, a `recording_renditions` row per init segment, and a
--   `recording_segments` row once every part of a segment and its index
--   line are fsynced; it sets `ended_at` when the run ends;
-- * at start, before any recorder runs, `archive::reconcile` makes rows and
--   files agree: it adopts runs, renditions and segments the index lists
--   but the catalog lacks (a crash, a failed write), closes runs left open
--   by a crash, and deletes the rows of files that are gone or shorter than
--   the row says. That is the only place these rows are ever deleted.
-- These rows have no audit entries (one per segment would drown the log);
-- a run's start and end and every reconciliation that changed something
-- do.
--
-- Migration 1 created `recordings` (one row per run *of a session*) and
-- `recording_segments`, but nothing ever wrote them; they are empty in
-- every catalog, so they are dropped and created again in their new shape.
-- A run is the channel's, not a session's: a run spans any number of
-- sessions, and a session's media is selected by wall time from its
-- channel's runs (archive/session.rs).

DROP TABLE recording_segments;
DROP TABLE recordings;

-- One continuous recording run of a channel: from a pipeline's start to its
-- end (a clean stop, a pipeline failure, or a crash). A restarted pipeline
-- is a new run.
CREATE TABLE recordings (
    id INTEGER PRIMARY KEY,
    -- The channel (capture location) recorded.
    channel_id TEXT NOT NULL REFERENCES channels (id),
    -- The recorder's id for this run (hex milliseconds of its start); also
    -- the directory name of its media on disk and part of every media URL.
    run_id TEXT NOT NULL UNIQUE CHECK (run_id <> ''),
    -- Wall-clock start of the run (Unix ns): when the recorder began it, or
    -- for a run adopted at start, the wall time of its first segment.
    started_at INTEGER NOT NULL CHECK (started_at >= 0),
    -- Wall-clock end of the run's last segment (Unix ns); NULL while
    -- recording, or after a crash until reconciliation at the next start
    -- closes it.
    ended_at INTEGER CHECK (ended_at IS NULL OR ended_at >= started_at)
) STRICT;

-- A channel's runs by time: the first step of every archive lookup
-- ("segments of channel C between a and b").
CREATE INDEX recordings_by_channel ON recordings (channel_id, started_at);

-- What each rendition of a run is (the `rendition.json` beside its media),
-- so multivariant playlists are built without reading files.
CREATE TABLE recording_renditions (
    recording_id INTEGER NOT NULL REFERENCES recordings (id),
    -- Rendition name as in URLs and on disk, e.g. "720p", "audio".
    name TEXT NOT NULL CHECK (name <> ''),
    -- RFC 6381 codec string, e.g. "avc1.64001f", "mp4a.40.2".
    codecs TEXT NOT NULL CHECK (codecs <> ''),
    -- 1 = video, 0 = audio.
    video INTEGER NOT NULL CHECK (video IN (0, 1)),
    -- Picture size in pixels; 0 for audio.
    width INTEGER NOT NULL CHECK (width >= 0),
    height INTEGER NOT NULL CHECK (height >= 0),
    -- Encoder target bit rate, kbit/s.
    bitrate_kbps INTEGER NOT NULL CHECK (bitrate_kbps >= 0),
    -- Frames per second; 0 for audio.
    framerate INTEGER NOT NULL CHECK (framerate >= 0),
    PRIMARY KEY (recording_id, name)
) STRICT;

-- The media segments of a run, one row per segment file per rendition. A
-- row is inserted only after every part of its file and every index line
-- of those parts are fsynced, so a listed segment is always whole and
-- durable; neither the row nor the file changes afterwards (except that
-- reconciliation corrects a row to what the index on disk says).
CREATE TABLE recording_segments (
    id INTEGER PRIMARY KEY,
    recording_id INTEGER NOT NULL REFERENCES recordings (id),
    -- Rendition name; its `recording_renditions` row must exist.
    rendition TEXT NOT NULL CHECK (rendition <> ''),
    -- HLS media sequence number; numbers keep increasing across runs (they
    -- come from the wall clock), and within a run and rendition they are
    -- unique.
    msn INTEGER NOT NULL CHECK (msn >= 0),
    -- The segment file, relative to the archive root:
    -- "{channel}/{run}/{rendition}/{msn}.m4s".
    path TEXT NOT NULL CHECK (path <> ''),
    -- Duration in `timescale` units (the sum of its parts'): exact, so
    -- EXTINF and the session clock add up to the samples.
    duration INTEGER NOT NULL CHECK (duration >= 0),
    -- Units per second of `duration` (the track's timescale, e.g. 90000
    -- for video, 48000 for audio).
    timescale INTEGER NOT NULL CHECK (timescale > 0),
    -- Size of the segment file; a file shorter than this is broken.
    bytes INTEGER NOT NULL CHECK (bytes >= 0),
    -- How many CMAF parts the segment was written in (lines in index.tsv).
    parts INTEGER NOT NULL CHECK (parts >= 1),
    -- Wall-clock time of the segment's first sample (Unix ns)
    -- (EXT-X-PROGRAM-DATE-TIME): maps timeline marks to segments.
    wall_ns INTEGER NOT NULL CHECK (wall_ns >= 0),
    UNIQUE (recording_id, rendition, msn),
    FOREIGN KEY (recording_id, rendition)
        REFERENCES recording_renditions (recording_id, name)
) STRICT;

-- "Segments of channel C, rendition R, with wall_ns in [a, b]": the
-- channel's runs overlapping [a, b] come from `recordings_by_channel`, then
-- each run's segments are one range scan here.
CREATE INDEX recording_segments_by_time
    ON recording_segments (recording_id, rendition, wall_ns);

-- The channel a session is broadcast and recorded on, set in the same
-- transaction as its 'start' mark; its recording is selected from this
-- channel's runs. NULL while planned, and for sessions started before
-- migration 4 (those used the default channel, which the application
-- falls back to).
ALTER TABLE sessions ADD COLUMN channel_id TEXT REFERENCES channels (id);

-- At most one session is live (or paused) per channel: the start checks
-- this index.
CREATE INDEX sessions_by_channel ON sessions (channel_id, state);
