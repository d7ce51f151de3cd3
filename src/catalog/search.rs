//! Full-text search over session titles, agenda-item titles and resolution
//! numbers: [`Catalog::search`].
//!
//! A child module of `catalog::db` (declared there with `#[path]`), so it
//! reads the catalog's connection directly; re-exported as
//! `catalog::search`.
//!
//! The index is the FTS5 table `search_index` of migration 3
//! (`migration_3.sql` explains its layout): one row per session (its
//! title) and one per agenda item (its title, its resolution number, and its
//! session's title as context). Triggers keep it in step with `sessions` and
//! `agenda_items` inside every transaction that changes them, so nothing
//! here writes.
//!
//! # Queries
//!
//! Plain words; every word must match (AND), in the row's own title or
//! resolution number or, for an item, in its session's title (so "XLV
//! podatek" finds the tax items of session XLV); at least one word must be
//! in the row's own title or number, so a query about a session's title
//! finds the session, not each of its items. In detail:
//!
//! - Polish diacritics do not matter: the index holds text folded by the SQL
//!   twin of [`fold`] (SQLite's `remove_diacritics` does not fold ł), and
//!   queries are folded the same way, so "uchwala" finds "uchwała".
//! - Polish inflects, and titles are mostly in the genitive ("Podjęcie
//!   uchwały w sprawie zmian budżetu") while people type the base form
//!   ("uchwała budżet"). So a word of three or more letters matches every
//!   word that begins with its stem, the word minus a common case ending:
//!   "uchwała" → "uchwał…" finds "uchwały", "uchwałę", "uchwałami".
//! - Words with digits or punctuation ("DRM.0002.45.4.2025", "XLV/612/25")
//!   match as a phrase of their parts (the tokenizer splits on
//!   punctuation); Roman numerals ("XLV") and one- or two-letter words match
//!   exactly; the last word of a query is a prefix ("DRM.0002.45.4" finds
//!   "DRM.0002.45.41.2025"; "zwolnie" finds "zwolnień") unless it ends in a
//!   single character. Prefixes and stems longer than 8 characters are cut
//!   to 8 ("nieruchomości" → "nierucho…"), the longest the prefix index
//!   keeps.
//! - Very common short words ("w", "na", "od", "dla", ...) are left out of
//!   a query that has other words: they are in nearly every title, so they
//!   would only cost time.
//! - User text never reaches FTS5 as syntax: every word becomes a quoted
//!   string of its letters and digits, so no query can be an FTS5 syntax
//!   error, and `OR`, `NEAR(`, `*` or `:` are just text.
//!
//! # Ranking and speed
//!
//! Hits are ranked by FTS5's bm25 with column weights: an item's title 10,
//! its resolution number 10, its session's title (as context) 2; a
//! session's title in the session's own row 3. So item titles and
//! resolution numbers weigh more than session titles. (bm25 saturates a
//! weighted term count and favours short rows, so weights act much less
//! than their ratios suggest: with 5 for session titles, a session's short
//! row outranked an item with the same words in its longer title.)
//!
//! bm25 costs a few microseconds per matching row, and a word in most
//! titles ("uchwały" is in two of three agenda items) matches 100,000 rows
//! of a catalog of 10,000 sessions, so only the [`CANDIDATES`] newest
//! matching rows are ranked: for a word that common, recent sessions are the
//! useful answer anyway. Queries with at most that many matches are ranked
//! exactly. The prefix index of migration 3 makes stems and prefixes as fast
//! as whole words. `examples/search_bench.rs` measures all this.
//!
//! Snippets and the own-title rule are computed here in Rust, on the rows
//! found, by matching the query's words against the original titles with
//! the same folding and tokenization rules as the index.

use std::collections::hash_map::{Entry, HashMap};

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{Catalog, CatalogError};

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// Rows per session in the index's rowid space: the session's own row is
/// `session_id * ROWS_PER_SESSION`, its item at position `p` that plus
/// `p + 1` (see `migration_3.sql`).
const ROWS_PER_SESSION: i64 = 1 << 20;

/// How many matching rows, newest sessions first, are ranked (see the
/// module doc).
pub const CANDIDATES: usize = 500;

/// The newest [`CANDIDATES`] matching rows, ranked best first; ties go to
/// the newer session. The subquery's `ORDER BY rowid DESC` is FTS5's own
/// scan order, so its LIMIT stops the scan (a test checks the plan).
const RANK_SQL: &str = "\
    SELECT rid, score FROM ( \
        SELECT rowid AS rid, bm25(search_index, 10.0, 10.0, 2.0, 3.0) AS score \
        FROM search_index WHERE search_index MATCH ?1 \
        ORDER BY rowid DESC LIMIT ?2 \
    ) \
    ORDER BY score, rid DESC";

/// Characters of a snippet before it is cut (around the first match).
const SNIPPET_CHARS: usize = 160;

/// Words left out of a query that has others (folded): prepositions and
/// conjunctions found in nearly every title.
const STOPWORDS: &[&str] = &[
    "a", "i", "o", "u", "w", "z", "we", "ze", "na", "do", "od", "po", "za", "ku", "nr", "dla",
    "nad", "pod", "przy", "oraz", "lub", "albo", "jako", "ich", "jej", "jego", "sie", "to", "tej",
    "tego",
];

/// Case endings of Polish nouns and adjectives (folded), longest first, cut
/// off a word to find its stem ("ek" for the mobile e: "podatek" →
/// "podat…" finds "podatku"). Light and lossy on purpose: a stem is only
/// ever used as a prefix, so it never needs to be a real stem.
const ENDINGS: &[&str] = &[
    "iego", "iemu", "ami", "ach", "ego", "emu", "ych", "ich", "ymi", "imi", "iem", "owi", "iej",
    "om", "ow", "ej", "em", "ek", "ie", "ia", "ii", "ym", "im", "a", "e", "i", "o", "u", "y",
];

/// Letters a stem keeps at least; shorter words match exactly.
const MIN_STEM: usize = 3;

/// The longest prefix the index has a prefix index for
/// (`prefix = '2 3 4 5 6 7 8'` in `migration_3.sql`).
const MAX_PREFIX: usize = 8;

/// One search result: an agenda item, or a session when its title matched.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub session_id: i64,
    pub session_title: String,
    /// RFC 3339, as supplied.
    pub scheduled_start: Option<String>,
    /// The item's number ("7a"); `None` when the hit is the session itself.
    pub agenda_number: Option<String>,
    pub item_title: Option<String>,
    /// The item's resolution (draft) number, e.g. "DRM.0002.45.4.2025".
    pub resolution: Option<String>,
    /// The matched title (the item's, or the session's for a session hit),
    /// followed by " · " and the resolution number when that matched too:
    /// HTML, with the text escaped and every match in `<mark>…</mark>`, cut
    /// with "…" around the first match when long.
    pub snippet: String,
    /// bm25 relevance as SQLite reports it (weighted, see the module doc):
    /// negative, and the more negative the better. Hits come best first.
    pub rank: f64,
}

impl Catalog {
    /// Up to `limit` hits for `query`, best first (see the module doc for
    /// the query syntax). An empty query, or one over
    /// [`MAX_QUERY_CHARS`], is `Invalid`; a query with no word in it (only
    /// punctuation) finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, CatalogError> {
        self.search_with(query, limit, false)
    }

    /// [`Self::search`], with the sessions whose recording is withdrawn
    /// from publication when `withdrawn` (for logged-in callers only).
    pub fn search_with(
        &self,
        query: &str,
        limit: usize,
        withdrawn: bool,
    ) -> Result<Vec<SearchHit>, CatalogError> {
        let words = parse_query(query)?;
        if words.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let expr = match_expression(&words);
        // One read transaction: every statement sees the same catalog.
        let tx = self.conn.unchecked_transaction()?;
        let ranked: Vec<(i64, f64)> = tx
            .prepare_cached(RANK_SQL)?
            .query_map(params![expr, CANDIDATES as i64], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut session_stmt = tx.prepare_cached(
            "SELECT title, scheduled_start, published FROM sessions WHERE id = ?1",
        )?;
        let mut item_stmt = tx.prepare_cached(
            "SELECT number, title, resolution_draft FROM agenda_items \
             WHERE session_id = ?1 AND position = ?2",
        )?;
        let mut sessions: HashMap<i64, Option<(String, Option<String>, bool)>> = HashMap::new();
        let mut hits = Vec::with_capacity(limit.min(ranked.len()));
        for (rid, rank) in ranked {
            if hits.len() == limit {
                break;
            }
            let session_id = rid.div_euclid(ROWS_PER_SESSION);
            let offset = rid.rem_euclid(ROWS_PER_SESSION);
            let session = match sessions.entry(session_id) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(
                    session_stmt
                        .query_row([session_id], |row| {
                            Ok((row.get(0)?, row.get(1)?, row.get::<_, bool>(2)?))
                        })
                        .optional()?,
                ),
            };
            if let Some((_, _, false)) = session {
                if !withdrawn {
                    continue;
                }
            }
            let Some((session_title, scheduled_start, _)) = session else {
                // Cannot happen while the triggers keep the index in step.
                tracing::warn!(rowid = rid, "search index row without its session");
                continue;
            };
            let session_marks = Marked::new(session_title, &words);
            if offset == 0 {
                hits.push(SearchHit {
                    session_id,
                    session_title: session_title.clone(),
                    scheduled_start: scheduled_start.clone(),
                    agenda_number: None,
                    item_title: None,
                    resolution: None,
                    snippet: session_marks.render(SNIPPET_CHARS),
                    rank,
                });
                continue;
            }
            let Some((number, title, resolution)) = item_stmt
                .query_row(params![session_id, offset - 1], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                })
                .optional()?
            else {
                tracing::warn!(rowid = rid, "search index row without its agenda item");
                continue;
            };
            let title_marks = Marked::new(&title, &words);
            let resolution_marks = resolution.as_deref().map(|r| Marked::new(r, &words));
            let own = |w: usize| {
                title_marks.found[w] || resolution_marks.as_ref().is_some_and(|m| m.found[w])
            };
            // The own-title rule. Skipped only when the session's title
            // explains the whole match, so a word this module matches
            // differently from FTS5 (a rare letter) never loses a hit.
            let only_context = (0..words.len()).all(|w| !own(w) && session_marks.found[w]);
            if only_context {
                continue;
            }
            let mut snippet = title_marks.render(SNIPPET_CHARS);
            if let Some(m) = resolution_marks.filter(|m| m.found.iter().any(|&f| f)) {
                snippet.push_str(" · ");
                snippet.push_str(&m.render(SNIPPET_CHARS));
            }
            hits.push(SearchHit {
                session_id,
                session_title: session_title.clone(),
                scheduled_start: scheduled_start.clone(),
                agenda_number: Some(number),
                item_title: Some(title),
                resolution,
                snippet,
                rank,
            });
        }
        Ok(hits)
    }
}

/// Folds the Polish letters with diacritics (and their capitals) to their
/// base letters, one character for one: ą→a ć→c ę→e ł→l ń→n ó→o ś→s ź→z
/// ż→z. Other characters are left to the tokenizer (`remove_diacritics 2`
/// folds é, ü, ... itself). The SQL twin is in `migration_3.sql`.
pub fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    match c {
        'ą' => 'a',
        'ć' => 'c',
        'ę' => 'e',
        'ł' => 'l',
        'ń' => 'n',
        'ó' => 'o',
        'ś' => 's',
        'ź' | 'ż' => 'z',
        'Ą' => 'A',
        'Ć' => 'C',
        'Ę' => 'E',
        'Ł' => 'L',
        'Ń' => 'N',
        'Ó' => 'O',
        'Ś' => 'S',
        'Ź' | 'Ż' => 'Z',
        c => c,
    }
}

/// What the tokenizer (`unicode61 remove_diacritics 2`) makes of a
/// character, as far as matching here needs: lower case, Polish letters
/// folded, and the diacritics of the Latin letters that decompose in
/// Unicode (é, ü, č, ...) removed. Letters without a decomposition (ø, đ,
/// ß) stay, as in SQLite.
fn normalize(c: char, out: &mut String) {
    for c in fold_char(c).to_lowercase() {
        let base = match c {
            'à'..='å' | 'ā' | 'ă' => 'a',
            'ç' | 'ĉ' | 'ċ' | 'č' => 'c',
            'ď' => 'd',
            'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ě' => 'e',
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
            'ĥ' => 'h',
            'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' => 'i',
            'ĵ' => 'j',
            'ķ' => 'k',
            'ĺ' | 'ļ' | 'ľ' => 'l',
            'ñ' | 'ņ' | 'ň' => 'n',
            'ò'..='ö' | 'ō' | 'ŏ' | 'ő' => 'o',
            'ŕ' | 'ŗ' | 'ř' => 'r',
            'ŝ' | 'ş' | 'š' => 's',
            'ţ' | 'ť' => 't',
            'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
            'ŵ' => 'w',
            'ý' | 'ÿ' | 'ŷ' => 'y',
            'ž' => 'z',
            c => c,
        };
        out.push(base);
    }
}

/// A token of a text: its characters `start..end` (character indices) and
/// its normalized form. Tokens are runs of letters and digits, as for
/// unicode61; everything else separates them.
struct Token {
    start: usize,
    end: usize,
    norm: String,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut current: Option<Token> = None;
    for (i, c) in text.chars().enumerate() {
        if c.is_alphanumeric() {
            let token = current.get_or_insert_with(|| Token {
                start: i,
                end: i,
                norm: String::new(),
            });
            token.end = i + 1;
            normalize(c, &mut token.norm);
        } else if let Some(token) = current.take() {
            tokens.push(token);
        }
    }
    tokens.extend(current);
    tokens
}

/// One word of a query: the tokens it must match in a row, in order, the
/// last one as a prefix when `prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    tokens: Vec<String>,
    prefix: bool,
}

/// The words of a user's query (see the module doc); none when the query
/// has only punctuation.
fn parse_query(query: &str) -> Result<Vec<Word>, CatalogError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(CatalogError::Invalid("the query is empty".into()));
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(CatalogError::Invalid(format!(
            "the query is {chars} characters long; the limit is {MAX_QUERY_CHARS}"
        )));
    }
    let raw: Vec<&str> = query
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let is_stopword = |w: &str| {
        let tokens = tokenize(w);
        tokens.len() == 1 && STOPWORDS.contains(&tokens[0].norm.as_str())
    };
    let keep_all = raw.iter().all(|w| is_stopword(w));
    let raw: Vec<&str> = raw
        .into_iter()
        .filter(|w| keep_all || !is_stopword(w))
        .collect();
    Ok(raw
        .iter()
        .enumerate()
        .map(|(i, w)| word(w, i + 1 == raw.len()))
        .collect())
}

/// One word of the query (see the module doc). Punctuation around a word
/// ("(uchwały)", "„Czyste") does not make it a phrase; inside it does.
fn word(raw: &str, last: bool) -> Word {
    let tokens: Vec<String> = tokenize(raw).into_iter().map(|t| t.norm).collect();
    let exact = match tokens.as_slice() {
        [token] => {
            !token.chars().all(char::is_alphabetic)
                || token.chars().count() < MIN_STEM
                || token.chars().all(|c| "ivxlcdm".contains(c))
        }
        _ => true,
    };
    if exact {
        let mut tokens = tokens;
        // A one-character prefix ("DRM.0002.45.1") would merge the lists
        // of every token starting with that digit or letter: exact instead.
        let prefix = last && tokens.last().is_some_and(|t| t.chars().count() > 1);
        if prefix {
            if let Some(t) = tokens.last_mut() {
                *t = cut_prefix(t);
            }
        }
        return Word { tokens, prefix };
    }
    let whole = &tokens[0];
    let stem = ENDINGS
        .iter()
        .find_map(|ending| {
            whole
                .strip_suffix(ending)
                .filter(|stem| stem.chars().count() >= MIN_STEM)
        })
        .unwrap_or(whole);
    Word {
        tokens: vec![cut_prefix(stem)],
        prefix: true,
    }
}

/// A prefix cut to the longest length the index keeps prefixes of (8, see
/// `migration_3.sql`): a longer one would merge the lists of all its words
/// at query time, and 8 characters are specific enough.
fn cut_prefix(prefix: &str) -> String {
    prefix.chars().take(MAX_PREFIX).collect()
}

/// The FTS5 expression for the words: each a quoted phrase of its tokens
/// (letters and digits only, quotes doubled all the same), `*` for a prefix,
/// all of them required.
fn match_expression(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| {
            let phrase = w.tokens.join(" ").replace('"', "\"\"");
            format!("\"{phrase}\"{}", if w.prefix { "*" } else { "" })
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A text with the characters that match the query's words marked, and
/// which words it contains.
struct Marked {
    chars: Vec<(char, bool)>,
    /// Per word of the query: found in this text.
    found: Vec<bool>,
}

impl Marked {
    fn new(text: &str, words: &[Word]) -> Marked {
        let mut chars: Vec<(char, bool)> = text.chars().map(|c| (c, false)).collect();
        let tokens = tokenize(text);
        let mut found = vec![false; words.len()];
        for (w, word) in words.iter().enumerate() {
            let n = word.tokens.len();
            if n == 0 || n > tokens.len() {
                continue;
            }
            for at in 0..=tokens.len() - n {
                let matches = word.tokens.iter().enumerate().all(|(j, want)| {
                    let have = &tokens[at + j].norm;
                    if word.prefix && j + 1 == n {
                        have.starts_with(want.as_str())
                    } else {
                        have == want
                    }
                });
                if matches {
                    found[w] = true;
                    let (start, end) = (tokens[at].start, tokens[at + n - 1].end);
                    for c in &mut chars[start..end] {
                        c.1 = true;
                    }
                }
            }
        }
        Marked { chars, found }
    }

    /// Escaped HTML with `<mark>` runs, cut to about `max` characters
    /// around the first match (at a space when one is near), with "…" where
    /// text was cut.
    fn render(&self, max: usize) -> String {
        let marked = &self.chars;
        let len = marked.len();
        let (mut start, mut end) = (0, len);
        if len > max {
            let first = marked.iter().position(|&(_, m)| m).unwrap_or(0);
            // Some words of context before the first match.
            start = first.saturating_sub(max / 4).min(len - max);
            if start > 0 {
                if let Some(space) = marked[start..first].iter().position(|&(c, _)| c == ' ') {
                    if space < 20 {
                        start += space + 1;
                    }
                }
            }
            end = (start + max).min(len);
            if end < len {
                if let Some(space) = marked[start..end].iter().rposition(|&(c, _)| c == ' ') {
                    if end - (start + space) < 20 {
                        end = start + space;
                    }
                }
            }
        }
        let mut out = String::with_capacity((end - start) * 2);
        if start > 0 {
            out.push('…');
        }
        let mut inside = false;
        for &(c, m) in &marked[start..end] {
            if m != inside {
                out.push_str(if m { "<mark>" } else { "</mark>" });
                inside = m;
            }
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        if inside {
            out.push_str("</mark>");
        }
        if end < len {
            out.push('…');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::catalog::agenda::{AgendaItem, SessionDraft};
    use crate::catalog::db::ErrorKind;

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

    fn with_fixture() -> (tempfile::TempDir, Catalog, i64) {
        let (dir, mut catalog) = open_temp();
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        (dir, catalog, id)
    }

    /// The agenda numbers of the hits, "-" for a session hit.
    fn numbers(hits: &[SearchHit]) -> Vec<String> {
        hits.iter()
            .map(|h| h.agenda_number.clone().unwrap_or_else(|| "-".into()))
            .collect()
    }

    fn sorted_numbers(hits: &[SearchHit]) -> Vec<String> {
        let mut numbers = numbers(hits);
        numbers.sort();
        numbers
    }

    fn search(catalog: &Catalog, query: &str) -> Vec<SearchHit> {
        catalog.search(query, 50).unwrap()
    }

    #[test]
    fn bundled_sqlite_has_fts5_and_its_diacritic_removal_keeps_l_stroke() {
        // Why `fold` exists: remove_diacritics 2 folds ą, ó, ż… but not ł.
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 2');
             INSERT INTO t VALUES ('uchwała'), ('żółć');",
        )
        .unwrap();
        let count = |q: &str| -> i64 {
            conn.query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [q], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count("uchwała"), 1);
        assert_eq!(count("uchwala"), 0, "ł is not folded by SQLite");
        assert_eq!(count("zołc"), 1, "ż, ó, ć are");
        assert_eq!(count("zolc"), 0);
    }

    #[test]
    fn sql_and_rust_folding_agree() {
        let (_dir, mut catalog) = open_temp();
        let title = "Sesja ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ Łódź é ü ß – „cudzysłów” <b>&";
        let mut draft = fixture();
        draft.title = title.into();
        draft.agenda[4].resolution_draft = Some("Nr ŁĄ/1/25".into());
        let id = catalog.create_session(&draft, ACTOR).unwrap();
        let stored = |rowid: i64, column: &str| -> String {
            catalog
                .conn
                .query_row(
                    &format!("SELECT {column} FROM search_index WHERE rowid = ?1"),
                    [rowid],
                    |r| r.get::<_, Option<String>>(0),
                )
                .unwrap()
                .unwrap_or_default()
        };
        let session_row = id * ROWS_PER_SESSION;
        assert_eq!(stored(session_row, "session"), fold(title));
        assert_eq!(stored(session_row, "title"), "");
        assert_eq!(stored(session_row + 5, "session"), "");
        assert_eq!(
            fold(title),
            "Sesja acelnoszz ACELNOSZZ Lodz é ü ß – „cudzyslow” <b>&"
        );
        // Item 5 is at position 4.
        assert_eq!(stored(session_row + 5, "resolution"), "Nr LA/1/25");
        assert_eq!(stored(session_row + 5, "context"), fold(title));
        assert_eq!(
            stored(session_row + 5, "title"),
            fold(&draft.agenda[4].title)
        );
        assert_eq!(
            stored(session_row + 1, "resolution"),
            "",
            "no resolution draft"
        );
        // Every folded character is a single ASCII letter.
        for c in "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ".chars() {
            assert!(fold_char(c).is_ascii_alphabetic(), "{c}");
        }
    }

    #[test]
    fn finds_the_fixture_without_diacritics() {
        let (_dir, catalog, id) = with_fixture();
        let hits = search(&catalog, "uchwala");
        // Items 5–10 all read "Podjęcie uchwały …" (10 has "skargi" and no
        // "uchwały"); "uchwala*" is a prefix, so all of them match.
        assert_eq!(sorted_numbers(&hits), ["5", "6", "7", "7a", "8", "9"]);
        let hit = &hits[0];
        assert_eq!(hit.session_id, id);
        assert_eq!(
            hit.session_title,
            "XLV Sesja Rady Miasta Piotrkowa Trybunalskiego"
        );
        assert_eq!(
            hit.scheduled_start.as_deref(),
            Some("2025-11-26T09:00:00+01:00")
        );
        assert!(
            hit.snippet.contains("<mark>uchwały</mark>"),
            "the original word is marked: {}",
            hit.snippet
        );
        assert!(hits.windows(2).all(|w| w[0].rank <= w[1].rank));
        assert!(hits.iter().all(|h| h.rank < 0.0));

        let hits = search(&catalog, "podatku nieruchomosci");
        assert_eq!(numbers(&hits), ["7", "7a"]);
        assert!(
            hits[0].snippet.contains("<mark>podatku</mark>")
                && hits[0].snippet.contains("<mark>nieruchomości</mark>"),
            "{}",
            hits[0].snippet
        );

        let hits = search(&catalog, "Wieloletniej");
        assert_eq!(numbers(&hits), ["5"]);
        assert_eq!(hits[0].resolution.as_deref(), Some("DRM.0002.45.1.2025"));

        // Capitals, diacritics in the query, other case.
        assert_eq!(numbers(&search(&catalog, "WIELOLETNIEJ PROGNOZY")), ["5"]);
        assert_eq!(numbers(&search(&catalog, "współpracy")), ["8"]);
        assert_eq!(numbers(&search(&catalog, "wspolpracy")), ["8"]);
        assert_eq!(numbers(&search(&catalog, "SŁOWACKIEGO")), ["9"]);
    }

    #[test]
    fn finds_resolution_numbers_as_phrases() {
        let (_dir, catalog, _id) = with_fixture();
        let hits = search(&catalog, "DRM.0002.45.4.2025");
        assert_eq!(numbers(&hits), ["7a"]);
        assert_eq!(hits[0].resolution.as_deref(), Some("DRM.0002.45.4.2025"));
        assert!(
            hits[0]
                .snippet
                .ends_with(" · <mark>DRM.0002.45.4.2025</mark>"),
            "{}",
            hits[0].snippet
        );
        // Lower case, and with other words.
        assert_eq!(numbers(&search(&catalog, "drm.0002.45.4.2025")), ["7a"]);
        assert_eq!(
            numbers(&search(&catalog, "zwolnień DRM.0002.45.4.2025")),
            ["7a"]
        );
        // Not a bag of its parts: 2025 and 45 and 4 appear in every draft.
        assert!(search(&catalog, "DRM.0002.45.4.2024").is_empty());
        assert!(search(&catalog, "DRM.0002.4.45.2025").is_empty());
        // A prefix of a number (the last word is a prefix).
        assert_eq!(numbers(&search(&catalog, "DRM.0002.45.7")), ["10"]);
    }

    #[test]
    fn finds_adopted_resolution_numbers_in_roman_style() {
        let (_dir, mut catalog) = open_temp();
        let mut draft = fixture();
        draft.agenda[5].resolution_draft = Some("XLV/612/25".into());
        draft.agenda[6].resolution_draft = Some("XLV/613/25".into());
        catalog.create_session(&draft, ACTOR).unwrap();
        assert_eq!(numbers(&search(&catalog, "XLV/612/25")), ["6"]);
        assert_eq!(numbers(&search(&catalog, "xlv/613/25")), ["7"]);
        assert_eq!(numbers(&search(&catalog, "uchwała XLV/613/25")), ["7"]);
        assert!(search(&catalog, "XLV/614/25").is_empty());
        assert!(
            search(&catalog, "XLV/61 uchwała").is_empty(),
            "not last: exact"
        );
        assert_eq!(
            sorted_numbers(&search(&catalog, "uchwała XLV/61")),
            ["6", "7"]
        );
    }

    #[test]
    fn prefixes_and_inflected_forms() {
        let (_dir, catalog, _id) = with_fixture();
        assert_eq!(numbers(&search(&catalog, "zwolnie")), ["7a"]);
        assert_eq!(numbers(&search(&catalog, "uchwały zwoln")), ["7a"]);
        // Inflected forms: "zwolnienia" → "zwolnie…" finds "zwolnień" too.
        assert_eq!(numbers(&search(&catalog, "zwolnienia podatek")), ["7a"]);
        // Item 11 ("Budżet Obywatelski") has "miasta" in its session's
        // title only (ranking: see session_title_hits_and_weights).
        assert_eq!(
            sorted_numbers(&search(&catalog, "budżet miasta")),
            ["11", "6"]
        );
        assert_eq!(numbers(&search(&catalog, "sprawa nazwa rondo")), ["9"]);
        // A number that is not the last word is exact: "DRM.0002.45.4"
        // is not "DRM.0002.45.41…"; as the last word it is a prefix.
        assert_eq!(numbers(&search(&catalog, "DRM.0002.45.4 uchwały")), ["7a"]);
        assert_eq!(numbers(&search(&catalog, "DRM.0002.45.1 uchwały")), ["5"]);
        assert_eq!(sorted_numbers(&search(&catalog, "nieruch")), ["7", "7a"]);
    }

    /// The fixture and, around it, 30 sessions of another council, so that
    /// words have realistic document frequencies for bm25.
    fn corpus() -> (tempfile::TempDir, Catalog, i64) {
        let (dir, mut catalog) = open_temp();
        let item = |number: &str, title: &str, resolution: Option<String>| AgendaItem {
            number: number.into(),
            title: title.into(),
            resolution_draft: resolution,
        };
        let romans = [
            "XX", "XXI", "XXII", "XXIII", "XXIV", "XXV", "XXVI", "XXVII", "XXVIII", "XXIX",
        ];
        for round in 0..3 {
            for (n, roman) in romans.iter().enumerate() {
                let mut draft = fixture();
                draft.body = format!("Rada Gminy Wola {round}");
                draft.title = format!("{roman} Sesja Rady Gminy Wola Krzysztoporska");
                draft.agenda = vec![
                    item("1", "Otwarcie sesji", None),
                    item("2", "Przyjęcie porządku obrad", None),
                    item(
                        "3",
                        "Podjęcie uchwały w sprawie zmian w budżecie gminy",
                        Some(format!("RG.0002.{n}.1.2025")),
                    ),
                    item("4", "Wolne wnioski", None),
                    item("5", "Zamknięcie sesji", None),
                ];
                catalog.create_session(&draft, ACTOR).unwrap();
            }
        }
        let id = catalog.create_session(&fixture(), ACTOR).unwrap();
        (dir, catalog, id)
    }

    #[test]
    fn session_title_hits_and_weights() {
        let (_dir, catalog, id) = corpus();
        // "XLV" and "Sesja" are in the session's title: the session is the
        // best hit (its items with "sesji" and "sesjami" come after it).
        let hits = search(&catalog, "XLV sesja");
        assert_eq!(numbers(&hits)[0], "-");
        assert!(hits.iter().all(|h| h.session_id == id));
        let hit = &hits[0];
        assert_eq!((&hit.item_title, &hit.resolution), (&None, &None));
        assert_eq!(
            hit.snippet,
            "<mark>XLV</mark> <mark>Sesja</mark> Rady Miasta Piotrkowa Trybunalskiego"
        );
        assert_eq!(sorted_numbers(&hits), ["-", "1", "14", "3", "4"]);
        // Words of the session title combine with an item's.
        assert_eq!(
            sorted_numbers(&search(&catalog, "XLV nieruchomości")),
            ["7", "7a"]
        );
        // The session's title and item 5 read "… Miasta Piotrkowa
        // Trybunalskiego", item 11 "… w Piotrkowie Trybunalskim": the items
        // weigh more.
        let hits = search(&catalog, "Piotrkowa Trybunalskiego");
        assert_eq!(numbers(&hits).len(), 3);
        assert_eq!(numbers(&hits)[2], "-", "{:?}", numbers(&hits));
        assert!(hits[1].rank < hits[2].rank);
        // A resolution number ranks its item first among everything that
        // shares its parts.
        let hits = search(&catalog, "DRM.0002.45.4.2025");
        assert_eq!(numbers(&hits), ["7a"]);
        // 30 times "zmian w budżecie gminy", and items 5 and 6 of the
        // fixture ("zmiany", "zmian").
        // Item 11 ("Budżet Obywatelski") has "miasta" in its session's
        // title only, so item 6 ("budżetu miasta") ranks first.
        assert_eq!(numbers(&search(&catalog, "budżet miasta")), ["6", "11"]);
        let hits = search(&catalog, "uchwała zmiana");
        assert_eq!(hits.len(), 32);
        assert!(hits.windows(2).all(|w| w[0].rank <= w[1].rank));
    }

    #[test]
    fn finds_nothing_for_unknown_words_and_survives_fts_syntax() {
        let (_dir, catalog, _id) = with_fixture();
        assert!(search(&catalog, "xyzzy").is_empty());
        assert!(search(&catalog, "uchwały xyzzy").is_empty());
        for query in [
            r#"" OR * NEAR("#,
            r#"uchwały" OR "x"#,
            "NEAR(uchwały podatku, 2)",
            "title: uchwały",
            "{title} : uchwały",
            "uchwały AND NOT podatku",
            "^uchwały",
            "*",
            "\"",
            "\"\"\"\"",
            "( ) - + : ^ *",
            "uchwały\u{0}podatku",
            "-podatku",
        ] {
            catalog
                .search(query, 20)
                .unwrap_or_else(|e| panic!("{query:?}: {e}"));
        }
        // Operators are words: "OR" must be in the text like any word.
        assert!(search(&catalog, "uchwały OR podatku").is_empty());
        assert_eq!(
            sorted_numbers(&search(&catalog, "(uchwały) \"podatku\"")),
            ["7", "7a"]
        );
        assert!(search(&catalog, "( ) * \"").is_empty(), "no words, no hits");
    }

    #[test]
    fn refuses_empty_and_overlong_queries() {
        let (_dir, catalog, _id) = with_fixture();
        for query in ["", "   ", "\n\t"] {
            let e = catalog.search(query, 20).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid);
            assert_eq!(e.to_string(), "the query is empty");
        }
        let long = "ą".repeat(MAX_QUERY_CHARS + 1);
        let e = catalog.search(&long, 20).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert_eq!(
            e.to_string(),
            "the query is 201 characters long; the limit is 200"
        );
        let at_limit = "ą".repeat(MAX_QUERY_CHARS);
        assert!(catalog.search(&at_limit, 20).unwrap().is_empty());
    }

    #[test]
    fn limit_caps_the_hits() {
        let (_dir, catalog, _id) = with_fixture();
        assert_eq!(catalog.search("uchwały", 2).unwrap().len(), 2);
        assert_eq!(
            catalog.search("uchwały", 2).unwrap(),
            catalog.search("uchwały", 50).unwrap()[..2]
        );
        assert!(catalog.search("uchwały", 0).unwrap().is_empty());
    }

    #[test]
    fn replace_agenda_and_renames_update_the_index() {
        let (_dir, mut catalog, id) = with_fixture();
        assert_eq!(numbers(&search(&catalog, "Wieloletniej")), ["5"]);
        let agenda = vec![
            AgendaItem {
                number: "1".into(),
                title: "Otwarcie sesji".into(),
                resolution_draft: None,
            },
            AgendaItem {
                number: "2".into(),
                title: "Podjęcie uchwały w sprawie nadania nazwy skwerowi im. Łukasza".into(),
                resolution_draft: Some("DRM.0002.45.9.2025".into()),
            },
        ];
        catalog.replace_agenda(id, &agenda, ACTOR).unwrap();
        assert!(
            search(&catalog, "Wieloletniej").is_empty(),
            "old titles gone"
        );
        assert!(search(&catalog, "DRM.0002.45.4.2025").is_empty());
        assert_eq!(numbers(&search(&catalog, "lukasza")), ["2"]);
        assert_eq!(numbers(&search(&catalog, "DRM.0002.45.9.2025")), ["2"]);
        assert_eq!(numbers(&search(&catalog, "uchwala")), ["2"]);
        let rows: i64 = catalog
            .conn
            .query_row("SELECT count(*) FROM search_index", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3, "one session row and two item rows");

        // A renamed session (no API does it yet; the triggers do not care).
        catalog
            .conn
            .execute(
                "UPDATE sessions SET title = 'XLVI Sesja Nadzwyczajna' WHERE id = ?1",
                [id],
            )
            .unwrap();
        assert!(search(&catalog, "XLV sesja").is_empty());
        assert_eq!(numbers(&search(&catalog, "nadzwyczajna")), ["-"]);
        assert_eq!(numbers(&search(&catalog, "XLVI skwerowi")), ["2"]);
        assert_eq!(catalog.integrity_check().unwrap(), "ok");
        catalog
            .conn
            .execute(
                "INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 1)",
                [],
            )
            .unwrap();
    }

    #[test]
    fn migration_indexes_sessions_created_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        {
            // A catalog at schema version 2, with a session in it.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(include_str!("schema.sql")).unwrap();
            conn.execute_batch(include_str!("migration_2.sql")).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO bodies (id, name) VALUES (1, 'Rada Miejska w Łodzi');
                 INSERT INTO sessions (id, body_id, title, created_at)
                     VALUES (7, 1, 'LXX Sesja Rady Miejskiej w Łodzi', 0);
                 INSERT INTO agenda_items (session_id, position, number, title, resolution_draft)
                     VALUES (7, 0, '1', 'Otwarcie sesji', NULL),
                            (7, 1, '2', 'Podjęcie uchwały w sprawie ulicy Żółtej', 'XLV/612/25');",
            )
            .unwrap();
        }
        let catalog = Catalog::open(&path).unwrap();
        let hits = search(&catalog, "uchwala zolte");
        assert_eq!(numbers(&hits), ["2"]);
        assert_eq!(hits[0].session_id, 7);
        assert_eq!(numbers(&search(&catalog, "lodzi")), ["-"]);
        assert_eq!(numbers(&search(&catalog, "XLV/612/25")), ["2"]);
    }

    #[test]
    fn snippets_escape_html_and_cut_long_titles() {
        let (_dir, mut catalog) = open_temp();
        let mut draft = fixture();
        let long_tail = "bardzo długi tytuł ".repeat(20);
        draft.agenda = vec![
            AgendaItem {
                number: "1".into(),
                title: "Uchwała <script>alert(\"x\")</script> & 'cudzysłów'".into(),
                resolution_draft: None,
            },
            AgendaItem {
                number: "2".into(),
                title: format!("{long_tail}w sprawie Żółtego Mostu, {long_tail}"),
                resolution_draft: None,
            },
        ];
        catalog.create_session(&draft, ACTOR).unwrap();
        let hits = search(&catalog, "script");
        assert_eq!(
            hits[0].snippet,
            "Uchwała &lt;<mark>script</mark>&gt;alert(&quot;x&quot;)&lt;/<mark>script</mark>&gt; \
             &amp; &#39;cudzysłów&#39;"
        );
        let hits = search(&catalog, "zoltego mostu");
        let snippet = &hits[0].snippet;
        assert!(
            snippet.starts_with('…') && snippet.ends_with('…'),
            "{snippet}"
        );
        assert!(
            snippet.contains("<mark>Żółtego</mark> <mark>Mostu</mark>,"),
            "{snippet}"
        );
        let visible = snippet.replace("<mark>", "").replace("</mark>", "");
        assert!(visible.chars().count() <= SNIPPET_CHARS + 2, "{visible}");
    }

    #[test]
    fn queries_become_quoted_phrases() {
        let expr = |q: &str| match_expression(&parse_query(q).unwrap());
        assert_eq!(
            expr(r#"  Uchwała "XLV/612/25"  zwol "#),
            r#""uchwal"* AND "xlv 612 25" AND "zwol"*"#
        );
        // Operators are words; quotes and punctuation never reach FTS5.
        assert_eq!(
            expr(r#"" OR * NEAR( {title}:xy"#),
            r#""or" AND "near"* AND "title xy"*"#
        );
        // Stopwords go, unless there is nothing else.
        assert_eq!(
            expr("podatek od nieruchomości"),
            r#""podat"* AND "nierucho"*"#
        );
        assert_eq!(expr("w na"), r#""w" AND "na"*"#);
        assert_eq!(parse_query("- * ( )").unwrap(), []);
        for (raw, last, tokens, prefix) in [
            ("sprawie", false, vec!["spraw"], true),
            ("Trybunalskiego", false, vec!["trybunal"], true),
            ("nieruchomości", true, vec!["nierucho"], true),
            ("DRM.0002.45.1", true, vec!["drm", "0002", "45", "1"], false),
            (
                "DRM.0002.45.12",
                true,
                vec!["drm", "0002", "45", "12"],
                true,
            ),
            ("1234567890", true, vec!["12345678"], true),
            ("uchwał", true, vec!["uchwal"], true),
            ("(uchwały)", false, vec!["uchwal"], true),
            ("rada", true, vec!["rad"], true),
            ("podatek", false, vec!["podat"], true),
            ("ulic", false, vec!["ulic"], true),
            ("XLV", false, vec!["xlv"], false),
            ("xlv", true, vec!["xlv"], true),
            ("od", false, vec!["od"], false),
            ("2025", false, vec!["2025"], false),
            ("7a", true, vec!["7a"], true),
            (
                "DRM.0002.45.4.2025",
                false,
                vec!["drm", "0002", "45", "4", "2025"],
                false,
            ),
            ("Müller", false, vec!["muller"], true),
        ] {
            let tokens: Vec<String> = tokens.into_iter().map(String::from).collect();
            assert_eq!(word(raw, last), Word { tokens, prefix }, "{raw}");
        }
    }

    #[test]
    fn rank_query_ranks_candidates_in_rowid_order() {
        // The candidate scan must be FTS5's own rowid-ordered scan, so that
        // its LIMIT stops early; a sort would rank every match.
        let (_dir, catalog, _id) = with_fixture();
        let plan: Vec<String> = catalog
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {RANK_SQL}"))
            .unwrap()
            .query_map(params!["uchwaly", CANDIDATES as i64], |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("VIRTUAL TABLE INDEX"), "{plan}");
        assert_eq!(
            plan.matches("USE TEMP B-TREE FOR ORDER BY").count(),
            1,
            "only the outer ranking sorts:\n{plan}"
        );
    }
}
