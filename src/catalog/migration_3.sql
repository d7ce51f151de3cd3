-- Migration 3 of the obrady catalog: full-text search over session titles,
-- agenda-item titles and resolution numbers, used by `Catalog::search`
-- (catalog/search.rs). Everything here is derived from `sessions` and
-- `agenda_items` and is kept in step with them by triggers, inside the
-- transaction of the change, so the index can never disagree with the
-- catalog. The migration fills it from the rows that already exist.
--
-- Polish diacritics. The unicode61 tokenizer with `remove_diacritics 2`
-- folds letters that decompose in Unicode (ą ć ę ń ó ś ź ż, also é, ü, ...)
-- but not ł/Ł, which has no decomposition: "uchwala" would not find
-- "uchwała". So the index stores folded text: the nine Polish letters and
-- their capitals replaced, one character for one, by their base letter
-- (ą→a ć→c ę→e ł→l ń→n ó→o ś→s ź→z ż→z). The same folding is written
-- twice: as the nested replace() calls in the two views below (SQL, so the
-- triggers and the backfill need nothing from Rust and the index stays right
-- whatever program writes the catalog, the sqlite3 shell included), and as
-- `search::fold` in Rust for queries; a test checks that they agree.
--
-- Row ids. The index row of session S is S * 1048576 (2^20); the row of its
-- agenda item at position p is S * 1048576 + p + 1. So all rows of a
-- session form one rowid range (replaced with one range delete), the
-- session and item behind a row follow from its rowid alone, and rowid order
-- is session order, newest last.

-- Every session as an index row: its rowid and its folded title.
CREATE VIEW search_session_rows AS
SELECT
    id AS session_id,
    id * 1048576 AS rid,
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
        title,
        'ą', 'a'), 'ć', 'c'), 'ę', 'e'), 'ł', 'l'), 'ń', 'n'), 'ó', 'o'),
        'ś', 's'), 'ź', 'z'), 'ż', 'z'),
        'Ą', 'A'), 'Ć', 'C'), 'Ę', 'E'), 'Ł', 'L'), 'Ń', 'N'), 'Ó', 'O'),
        'Ś', 'S'), 'Ź', 'Z'), 'Ż', 'Z') AS title
FROM sessions;

-- Every agenda item as an index row: its rowid, its folded title and
-- resolution draft, and the folded title of its session as context (so a
-- query may combine words of both, e.g. "XLV podatek").
CREATE VIEW search_item_rows AS
SELECT
    a.id AS item_id,
    a.session_id AS session_id,
    a.session_id * 1048576 + a.position + 1 AS rid,
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
        a.title,
        'ą', 'a'), 'ć', 'c'), 'ę', 'e'), 'ł', 'l'), 'ń', 'n'), 'ó', 'o'),
        'ś', 's'), 'ź', 'z'), 'ż', 'z'),
        'Ą', 'A'), 'Ć', 'C'), 'Ę', 'E'), 'Ł', 'L'), 'Ń', 'N'), 'Ó', 'O'),
        'Ś', 'S'), 'Ź', 'Z'), 'Ż', 'Z') AS title,
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
        coalesce(a.resolution_draft, ''),
        'ą', 'a'), 'ć', 'c'), 'ę', 'e'), 'ł', 'l'), 'ń', 'n'), 'ó', 'o'),
        'ś', 's'), 'ź', 'z'), 'ż', 'z'),
        'Ą', 'A'), 'Ć', 'C'), 'Ę', 'E'), 'Ł', 'L'), 'Ń', 'N'), 'Ó', 'O'),
        'Ś', 'S'), 'Ź', 'Z'), 'Ż', 'Z') AS resolution,
    s.title AS context
FROM agenda_items a JOIN search_session_rows s ON s.session_id = a.session_id;

-- The full-text index (FTS5, storing its own copy of the folded text). An
-- item row has the item's `title`, its `resolution` draft number ('' if
-- none) and, as `context`, its session's title; a session row has only
-- `session`, the session's title. Separate columns let the ranking weigh
-- each (see catalog/search.rs). unicode61 splits on
-- punctuation, so "DRM.0002.45.4.2025" is five tokens; queries look such
-- numbers up as phrases. Queries look words up by prefix (stems: "uchwał…"
-- for "uchwała"; the last word typed); `prefix` keeps an index of every
-- token's first 2 to 8 characters, so such a lookup reads one list instead
-- of merging the lists of every word with that prefix (for a common stem,
-- 3 to 5 times faster on 10,000 sessions; it doubles the index's size).
CREATE VIRTUAL TABLE search_index USING fts5(
    title,
    resolution,
    context,
    session,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3 4 5 6 7 8'
);

-- A session row is added with its session.
CREATE TRIGGER search_session_insert AFTER INSERT ON sessions
BEGIN
    INSERT INTO search_index (rowid, title, resolution, context, session)
    SELECT rid, '', '', '', title FROM search_session_rows WHERE session_id = NEW.id;
END;

-- A renamed session: its own row and the context of all its item rows are
-- rewritten (the whole rowid range of the old id, then the new id's rows).
CREATE TRIGGER search_session_update AFTER UPDATE OF id, title ON sessions
BEGIN
    DELETE FROM search_index
    WHERE rowid >= OLD.id * 1048576 AND rowid < (OLD.id + 1) * 1048576;
    INSERT INTO search_index (rowid, title, resolution, context, session)
    SELECT rid, '', '', '', title FROM search_session_rows WHERE session_id = NEW.id;
    INSERT INTO search_index (rowid, title, resolution, context)
    SELECT rid, title, resolution, context FROM search_item_rows
    WHERE session_id = NEW.id ORDER BY rid;
END;

-- The application never deletes sessions; if someone does by hand, their
-- rows leave the index with them.
CREATE TRIGGER search_session_delete AFTER DELETE ON sessions
BEGIN
    DELETE FROM search_index
    WHERE rowid >= OLD.id * 1048576 AND rowid < (OLD.id + 1) * 1048576;
END;

-- An item at position 1048575 or beyond would take the rowid of the next
-- session's row: refuse it with a reason instead (agendas have at most a
-- few hundred items).
CREATE TRIGGER search_item_position_fits BEFORE INSERT ON agenda_items
WHEN NEW.position >= 1048575
BEGIN
    SELECT RAISE(ABORT, 'agenda item position too large for the search index (the limit is 1048574)');
END;

-- The same check for an item moved by an UPDATE.
CREATE TRIGGER search_item_position_fits_update BEFORE UPDATE OF position ON agenda_items
WHEN NEW.position >= 1048575
BEGIN
    SELECT RAISE(ABORT, 'agenda item position too large for the search index (the limit is 1048574)');
END;

-- An item row is added with its item (`replace_agenda` deletes and
-- re-inserts the whole agenda, so this and the delete trigger below keep
-- the index in step with it).
CREATE TRIGGER search_item_insert AFTER INSERT ON agenda_items
BEGIN
    INSERT INTO search_index (rowid, title, resolution, context)
    SELECT rid, title, resolution, context FROM search_item_rows WHERE item_id = NEW.id;
END;

-- An item row leaves with its item.
CREATE TRIGGER search_item_delete AFTER DELETE ON agenda_items
BEGIN
    DELETE FROM search_index WHERE rowid = OLD.session_id * 1048576 + OLD.position + 1;
END;

-- An edited item: its old row goes, its new one comes.
CREATE TRIGGER search_item_update AFTER UPDATE ON agenda_items
BEGIN
    DELETE FROM search_index WHERE rowid = OLD.session_id * 1048576 + OLD.position + 1;
    INSERT INTO search_index (rowid, title, resolution, context)
    SELECT rid, title, resolution, context FROM search_item_rows WHERE item_id = NEW.id;
END;

-- Backfill: index the sessions and items that exist already, in rowid
-- order (the fastest order for FTS5 to build in).
INSERT INTO search_index (rowid, title, resolution, context, session)
SELECT rid, title, resolution, context, session FROM (
    SELECT rid, '' AS title, '' AS resolution, '' AS context, title AS session
    FROM search_session_rows
    UNION ALL
    SELECT rid, title, resolution, context, '' AS session FROM search_item_rows
)
ORDER BY rid;
