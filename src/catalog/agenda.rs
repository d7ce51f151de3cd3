//! A session and its agenda as the council office supplies them: JSON (the
//! shape of `../shared/fixtures/agenda-sesja-xlv.json`) or CSV with a header
//! row. Parsing is sans-io; every error names the field or the line.
//!
//! - [`parse_session_json`] reads a whole [`SessionDraft`] and validates it.
//! - [`parse_agenda_csv`] reads only the agenda items (`number,title,resolution_draft`
//!   or the Polish headers) and validates them; combine them with JSON metadata
//!   and call [`validate`] on the result.
//! - [`parse_agenda_json`] reads only the agenda items from a JSON array, as
//!   strictly as [`parse_session_json`], and validates them.
//! - [`item_order_key`] is the order of agenda items: "7" < "7a" < "7b" < "8" < "10".

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The largest JSON or CSV input the parsers accept, in bytes.
pub const MAX_AGENDA_BYTES: usize = 256 * 1024;

/// The most items an agenda may have.
const MAX_ITEMS: usize = 300;
/// The longest session title, in characters (after trimming).
const MAX_SESSION_TITLE_CHARS: usize = 300;
/// The longest agenda item title, in characters (after trimming).
const MAX_ITEM_TITLE_CHARS: usize = 1000;
/// The longest resolution draft reference, in characters (after trimming).
const MAX_RESOLUTION_DRAFT_CHARS: usize = 100;
/// How much of a value an error message quotes.
const SHOWN_CHARS: usize = 60;

/// A session to be created, with its agenda.
///
/// [`parse_session_json`] is the strict way to read one (unknown fields are
/// rejected there); deriving `Deserialize` directly skips those checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "A session to be created, with its agenda. Unknown fields are refused, \
    except an agenda item's `note`, which is accepted and dropped."
)]
pub struct SessionDraft {
    /// The body that meets, e.g. "Rada Miasta Piotrkowa Trybunalskiego".
    pub body: String,
    pub title: String,
    /// "zwyczajna", "nadzwyczajna", ...
    pub kind: Option<String>,
    /// Term of office, e.g. "IX kadencja 2024-2029".
    pub term: Option<String>,
    /// RFC 3339 with offset, e.g. "2025-11-26T09:00:00+01:00".
    pub scheduled_start: Option<String>,
    pub place: Option<String>,
    pub chair: Option<String>,
    pub agenda: Vec<AgendaItem>,
}

/// One item of the agenda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgendaItem {
    /// Item number as text: "1", "7a".
    pub number: String,
    pub title: String,
    /// Draft resolution reference, e.g. "DRM.0002.45.1.2025".
    pub resolution_draft: Option<String>,
}

/// Corrections to a session's metadata (`PATCH /api/v1/sessions/{id}`):
/// only the fields present change, `null` clears an optional one, unknown
/// fields are rejected. [`validate_patch`] applies the rules of [`validate`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    description = "Corrections to a session's metadata: only the fields present change, \
    `null` clears an optional one, unknown fields are refused; at least one field."
)]
pub struct SessionPatch {
    /// Not blank, at most 300 characters; cannot be cleared.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = false)]
    pub title: Option<Option<String>>,
    /// "zwyczajna", "nadzwyczajna", ...
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub kind: Option<Option<String>>,
    /// Term of office, e.g. "IX kadencja 2024-2029".
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub term: Option<Option<String>>,
    /// RFC 3339 with offset, e.g. "2025-11-26T09:00:00+01:00".
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub scheduled_start: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub place: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    pub chair: Option<Option<String>>,
}

impl SessionPatch {
    /// Every field by name, in the order of the session's columns: `None`
    /// when absent, `Some(None)` when `null`.
    pub fn fields(&self) -> [(&'static str, &Option<Option<String>>); 6] {
        [
            ("title", &self.title),
            ("kind", &self.kind),
            ("term", &self.term),
            ("scheduled_start", &self.scheduled_start),
            ("place", &self.place),
            ("chair", &self.chair),
        ]
    }
}

/// A field that is present: `Some(value)`, with `null` as `Some(None)`
/// (an absent field stays `None` through `#[serde(default)]`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Why an agenda was rejected: where (`agenda[3].number`,
/// `line 5, column "title"`, `line 2, column 7`, `input`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct AgendaError {
    /// A JSON path (`agenda[3].number`), a CSV line and column
    /// (`line 5, column "title"`), a JSON position (`line 2, column 7`),
    /// or `input` for the input as a whole.
    pub location: String,
    /// Lower-case English, no trailing period, quoting the offending value.
    pub message: String,
}

fn error(location: impl Into<String>, message: impl Into<String>) -> AgendaError {
    AgendaError {
        location: location.into(),
        message: message.into(),
    }
}

/// The wire form of [`SessionDraft`]: the same fields, unknown ones rejected.
#[derive(Deserialize)]
#[serde(rename = "SessionDraft", deny_unknown_fields)]
struct SessionWire {
    body: String,
    title: String,
    kind: Option<String>,
    term: Option<String>,
    scheduled_start: Option<String>,
    place: Option<String>,
    chair: Option<String>,
    agenda: Vec<ItemWire>,
}

/// The wire form of [`AgendaItem`]. `note` is accepted because the office's
/// agendas carry it (see the fixture), but [`AgendaItem`] has no place for
/// it, so it is dropped.
#[derive(Deserialize)]
#[serde(rename = "AgendaItem", deny_unknown_fields)]
struct ItemWire {
    number: String,
    title: String,
    resolution_draft: Option<String>,
    #[allow(dead_code)]
    note: Option<String>,
}

impl From<SessionWire> for SessionDraft {
    fn from(w: SessionWire) -> Self {
        SessionDraft {
            body: w.body,
            title: w.title,
            kind: w.kind,
            term: w.term,
            scheduled_start: w.scheduled_start,
            place: w.place,
            chair: w.chair,
            agenda: w.agenda.into_iter().map(AgendaItem::from).collect(),
        }
    }
}

impl From<ItemWire> for AgendaItem {
    /// The number is trimmed, as a CSV cell is: it names the item in URLs
    /// (`items/7a/begin`), and [`validate`] reads it trimmed anyway.
    fn from(i: ItemWire) -> Self {
        AgendaItem {
            number: i.number.trim().to_owned(),
            title: i.title,
            resolution_draft: i.resolution_draft,
        }
    }
}

fn check_size(text: &str) -> Result<(), AgendaError> {
    if text.len() > MAX_AGENDA_BYTES {
        return Err(error(
            "input",
            format!(
                "the input is {} bytes, more than the limit of {MAX_AGENDA_BYTES} bytes ({} KiB)",
                text.len(),
                MAX_AGENDA_BYTES / 1024
            ),
        ));
    }
    Ok(())
}

/// Parses and [`validate`]s a session with its agenda from JSON.
///
/// Unknown fields are rejected (except an item's `note`, which is accepted
/// and dropped); wrong types name their path (`agenda[3].number`); syntax
/// errors name the line and column. A leading UTF-8 BOM is accepted. Item
/// numbers are trimmed (" 7a " is "7a").
pub fn parse_session_json(text: &str) -> Result<SessionDraft, AgendaError> {
    check_size(text)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A first pass for syntax and shape: derived `Deserialize` would also
    // take a session or an item as a positional array, which only hides
    // mistakes. The typed pass below then names paths, lines and columns.
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| json_error(&e, None))?;
    check_objects(&value)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let wire: SessionWire = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_error(e.inner(), Some(path))
    })?;
    de.end().map_err(|e| json_error(&e, None))?;
    let draft = SessionDraft::from(wire);
    validate(&draft)?;
    Ok(draft)
}

/// The session and each agenda item must be JSON objects, not arrays.
fn check_objects(value: &serde_json::Value) -> Result<(), AgendaError> {
    use serde_json::Value;
    let Value::Object(session) = value else {
        return Err(error(
            "input",
            format!(
                "expected a JSON object with \"body\", \"title\" and \"agenda\", got {}",
                json_kind(value)
            ),
        ));
    };
    if let Some(Value::Array(agenda)) = session.get("agenda") {
        check_item_objects(agenda)?;
    }
    Ok(())
}

/// Each agenda item must be a JSON object, not an array.
fn check_item_objects(agenda: &[serde_json::Value]) -> Result<(), AgendaError> {
    for (i, item) in agenda.iter().enumerate() {
        if item.is_array() {
            return Err(error(
                format!("agenda[{i}]"),
                "expected an object with \"number\" and \"title\", got an array",
            ));
        }
    }
    Ok(())
}

/// Parses an agenda alone from JSON, an array of items (`PUT
/// /api/v1/sessions/{id}/agenda`), as strictly as [`parse_session_json`]
/// reads a session's: unknown fields are rejected (except `note`), wrong
/// types name their path (`agenda[3].number`), syntax errors name the line
/// and column; then the items are checked as [`validate`] checks a
/// session's agenda. A leading UTF-8 BOM is accepted.
pub fn parse_agenda_json(text: &str) -> Result<Vec<AgendaItem>, AgendaError> {
    check_size(text)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| json_error(&e, None))?;
    let serde_json::Value::Array(agenda) = &value else {
        return Err(error(
            "input",
            format!(
                "expected a JSON array of agenda items (objects with \"number\" and \"title\"), \
                 got {}",
                json_kind(&value)
            ),
        ));
    };
    check_item_objects(agenda)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let wire: Vec<ItemWire> = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            path
        } else {
            format!("agenda{path}")
        };
        json_error(e.inner(), Some(path))
    })?;
    de.end().map_err(|e| json_error(&e, None))?;
    let items: Vec<AgendaItem> = wire.into_iter().map(AgendaItem::from).collect();
    check_items(&items, &Locator::Json)?;
    Ok(items)
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn json_error(e: &serde_json::Error, path: Option<String>) -> AgendaError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let message = full
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&full)
        .to_string();
    match path {
        Some(path) if e.classify() == serde_json::error::Category::Data && path != "." => {
            error(path, format!("{message} (line {line}, column {column})"))
        }
        _ => error(format!("line {line}, column {column}"), message),
    }
}

/// Checks a session draft. [`parse_session_json`] calls it; call it yourself
/// for a draft whose agenda came from [`parse_agenda_csv`].
///
/// - `body` and `title` not blank; `title` at most 300 characters.
/// - `scheduled_start`, if present, RFC 3339 with an offset (`Z` or `±HH:MM`).
/// - The agenda has 1 to 300 items. Each `number` matches
///   `^[0-9]{1,3}[a-z]{0,2}$` after trimming; numbers are unique (by
///   [`item_order_key`], so "07" repeats "7") and ascend by it. Each item
///   title is not blank and at most 1000 characters; `resolution_draft` at
///   most 100.
/// - No text holds a control character other than tab and newline.
///
/// Lengths count characters of the trimmed text.
pub fn validate(draft: &SessionDraft) -> Result<(), AgendaError> {
    check_text(&draft.body, "body", usize::MAX, true).map_err(|m| error("body", m))?;
    check_text(&draft.title, "title", MAX_SESSION_TITLE_CHARS, true)
        .map_err(|m| error("title", m))?;
    for (name, value) in [
        ("kind", &draft.kind),
        ("term", &draft.term),
        ("place", &draft.place),
        ("chair", &draft.chair),
    ] {
        if let Some(value) = value {
            check_text(value, name, usize::MAX, false).map_err(|m| error(name, m))?;
        }
    }
    if let Some(start) = &draft.scheduled_start {
        check_scheduled_start(start)?;
    }
    check_items(&draft.agenda, &Locator::Json)
}

/// Checks a [`SessionPatch`] by the rules of [`validate`]: at least one
/// field; `title` present only as a non-blank text of at most 300
/// characters; `scheduled_start` RFC 3339 with an offset; no control
/// characters.
pub fn validate_patch(patch: &SessionPatch) -> Result<(), AgendaError> {
    let fields = patch.fields();
    if fields.iter().all(|(_, value)| value.is_none()) {
        let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        return Err(error(
            "input",
            format!(
                "nothing to change: give at least one of {}",
                names.join(", ")
            ),
        ));
    }
    match &patch.title {
        Some(None) => {
            return Err(error(
                "title",
                "the title cannot be null: a session always has a title",
            ))
        }
        Some(Some(title)) => check_text(title, "title", MAX_SESSION_TITLE_CHARS, true)
            .map_err(|m| error("title", m))?,
        None => {}
    }
    for (name, value) in [
        ("kind", &patch.kind),
        ("term", &patch.term),
        ("place", &patch.place),
        ("chair", &patch.chair),
    ] {
        if let Some(Some(value)) = value {
            check_text(value, name, usize::MAX, false).map_err(|m| error(name, m))?;
        }
    }
    if let Some(Some(start)) = &patch.scheduled_start {
        check_scheduled_start(start)?;
    }
    Ok(())
}

fn check_scheduled_start(start: &str) -> Result<(), AgendaError> {
    check_rfc3339(start).map_err(|why| {
        error(
            "scheduled_start",
            format!(
                "expected an RFC 3339 date and time with an offset, like \
                 \"2025-11-26T09:00:00+01:00\", got {} ({why})",
                show(start)
            ),
        )
    })
}

/// Which field of an item an error is about.
#[derive(Clone, Copy)]
enum Field {
    Number,
    Title,
    ResolutionDraft,
}

/// Says where an item is: `agenda[3]` in JSON, `line 5` in CSV.
enum Locator<'a> {
    Json,
    Csv(&'a CsvColumns),
}

impl Locator<'_> {
    fn item(&self, i: usize) -> String {
        match self {
            Locator::Json => format!("agenda[{i}]"),
            Locator::Csv(c) => format!("line {}", c.lines[i]),
        }
    }

    fn field(&self, i: usize, field: Field) -> String {
        match self {
            Locator::Json => {
                let name = match field {
                    Field::Number => "number",
                    Field::Title => "title",
                    Field::ResolutionDraft => "resolution_draft",
                };
                format!("agenda[{i}].{name}")
            }
            Locator::Csv(c) => {
                let name = match field {
                    Field::Number => &c.names[c.number],
                    Field::Title => &c.names[c.title],
                    Field::ResolutionDraft => c
                        .resolution_draft
                        .map_or("resolution_draft", |k| c.names[k].as_str()),
                };
                format!("line {}, column {name:?}", c.lines[i])
            }
        }
    }

    fn whole(&self) -> String {
        match self {
            Locator::Json => "agenda".to_string(),
            Locator::Csv(c) => format!("line {}", c.header_line),
        }
    }

    fn too_many(&self) -> String {
        match self {
            Locator::Json => "agenda".to_string(),
            Locator::Csv(_) => self.item(MAX_ITEMS),
        }
    }
}

fn check_items(items: &[AgendaItem], loc: &Locator) -> Result<(), AgendaError> {
    if items.is_empty() {
        return Err(error(loc.whole(), "the agenda has no items"));
    }
    if items.len() > MAX_ITEMS {
        return Err(error(
            loc.too_many(),
            format!(
                "the agenda has {} items, more than the limit of {MAX_ITEMS}",
                items.len()
            ),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if !is_valid_number(item.number.trim()) {
            return Err(error(
                loc.field(i, Field::Number),
                format!(
                    "expected a number like \"7\" or \"7a\", got {}",
                    show(&item.number)
                ),
            ));
        }
        check_text(&item.title, "title", MAX_ITEM_TITLE_CHARS, true)
            .map_err(|m| error(loc.field(i, Field::Title), m))?;
        if let Some(draft) = &item.resolution_draft {
            check_text(draft, "resolution draft", MAX_RESOLUTION_DRAFT_CHARS, false)
                .map_err(|m| error(loc.field(i, Field::ResolutionDraft), m))?;
        }
    }
    let mut seen: HashMap<(u32, String), usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let key = item_order_key(&item.number);
        if let Some(&first) = seen.get(&key) {
            let (this, other) = (item.number.trim(), items[first].number.trim());
            let message = if this == other {
                format!("{} is used twice (also {})", show(this), loc.item(first))
            } else {
                format!(
                    "{} is the same number as {} ({})",
                    show(this),
                    show(other),
                    loc.item(first)
                )
            };
            return Err(error(loc.field(i, Field::Number), message));
        }
        seen.insert(key, i);
    }
    for (i, pair) in items.windows(2).enumerate() {
        let (before, this) = (&pair[0], &pair[1]);
        if item_order_key(&this.number) < item_order_key(&before.number) {
            return Err(error(
                loc.field(i + 1, Field::Number),
                format!(
                    "{} is out of order: it comes after {} ({}); numbers must ascend \
                     like \"7\" < \"7a\" < \"8\" < \"10\"",
                    show(this.number.trim()),
                    show(before.number.trim()),
                    loc.item(i)
                ),
            ));
        }
    }
    Ok(())
}

/// `^[0-9]{1,3}[a-z]{0,2}$`.
fn is_valid_number(number: &str) -> bool {
    let digits = number.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &number.as_bytes()[digits..];
    (1..=3).contains(&digits) && suffix.len() <= 2 && suffix.iter().all(u8::is_ascii_lowercase)
}

/// The sort key of an agenda item number: (integer part, letter suffix), so
/// "7" < "7a" < "7aa" < "7b" < "8" < "10". Surrounding whitespace is ignored.
/// A number that fails validation (not `^[0-9]{1,3}[a-z]{0,2}$`) gets
/// `(u32::MAX, trimmed text)`, sorting after every valid one.
pub fn item_order_key(number: &str) -> (u32, String) {
    let number = number.trim();
    if !is_valid_number(number) {
        return (u32::MAX, number.to_string());
    }
    let digits = number.bytes().take_while(u8::is_ascii_digit).count();
    let value = number.as_bytes()[..digits]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    (value, number[digits..].to_string())
}

/// Checks one text field; the error is the message (the caller adds the location).
fn check_text(value: &str, what: &str, max_chars: usize, required: bool) -> Result<(), String> {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    let chars = trimmed.chars().count();
    if chars > max_chars {
        return Err(format!(
            "the {what} is {chars} characters long, more than the limit of {max_chars}: {}",
            show(trimmed)
        ));
    }
    if let Some((at, c)) = value
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && c != '\t' && c != '\n')
    {
        return Err(format!(
            "the {what} contains the control character U+{:04X} at character {}: {}",
            u32::from(c),
            at + 1,
            show(value)
        ));
    }
    Ok(())
}

/// Quotes a value for a message, escaping control characters and cutting it
/// after [`SHOWN_CHARS`] characters.
fn show(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

/// RFC 3339 `date-time` with a mandatory offset (`Z` or `±HH:MM`), e.g.
/// "2025-11-26T09:00:00+01:00" or "2025-11-26T08:00:00.5Z". Leap seconds
/// (`:60`) are rejected. The error says what is wrong.
fn check_rfc3339(s: &str) -> Result<(), &'static str> {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));

    let (Some(year), Some(month), Some(day)) = (digits(0, 4), digits(5, 2), digits(8, 2)) else {
        return Err("the date must be YYYY-MM-DD");
    };
    if !at(4, b"-") || !at(7, b"-") {
        return Err("the date must be YYYY-MM-DD");
    }
    if !(1..=12).contains(&month) {
        return Err("the month is out of range");
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=days).contains(&day) {
        return Err("the day is out of range");
    }
    if b.len() == 10 {
        return Err("the time is missing");
    }
    if !at(10, b"Tt") {
        return Err("expected \"T\" between the date and the time");
    }
    let (Some(hour), Some(minute), Some(second)) = (digits(11, 2), digits(14, 2), digits(17, 2))
    else {
        return Err("the time must be HH:MM:SS");
    };
    if !at(13, b":") || !at(16, b":") {
        return Err("the time must be HH:MM:SS");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("the time is out of range");
    }
    let mut i = 19;
    if at(i, b".") {
        let fraction = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if fraction == 0 {
            return Err("expected digits after the decimal point");
        }
        i += 1 + fraction;
    }
    match &b[i..] {
        [] => Err("the offset is missing; add \"Z\" or e.g. \"+01:00\""),
        [b'Z' | b'z'] => Ok(()),
        [b'+' | b'-', ..] => {
            let (Some(oh), Some(om)) = (digits(i + 1, 2), digits(i + 4, 2)) else {
                return Err("the offset must be \"Z\" or ±HH:MM");
            };
            if !at(i + 3, b":") || b.len() != i + 6 {
                return Err("the offset must be \"Z\" or ±HH:MM");
            }
            if oh > 23 || om > 59 {
                return Err("the offset is out of range");
            }
            Ok(())
        }
        _ => Err("the offset must be \"Z\" or ±HH:MM"),
    }
}

/// The columns of an agenda CSV, found from its header row.
struct CsvColumns {
    /// The header row's line.
    header_line: u64,
    /// Header names as written (trimmed).
    names: Vec<String>,
    number: usize,
    title: usize,
    resolution_draft: Option<usize>,
    /// The line each item starts on, parallel to the items.
    lines: Vec<u64>,
}

const NUMBER_HEADERS: &str = "\"number\", \"punkt\" or \"numer\"";
const TITLE_HEADERS: &str = "\"title\", \"tytuł\", \"tytul\" or \"przedmiot\"";
const DRAFT_HEADERS: &str = "\"resolution_draft\", \"projekt uchwały\" or \"projekt_uchwaly\"";

/// Lower-case, `_` for spaces and hyphens, Polish letters without diacritics.
fn fold_header(name: &str) -> String {
    name.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ą' => 'a',
            'ć' => 'c',
            'ę' => 'e',
            'ł' => 'l',
            'ń' => 'n',
            'ó' => 'o',
            'ś' => 's',
            'ź' | 'ż' => 'z',
            ' ' | '-' => '_',
            c => c,
        })
        .collect()
}

impl CsvColumns {
    fn from_header(header: &csv::StringRecord, header_line: u64) -> Result<Self, AgendaError> {
        let names: Vec<String> = header.iter().map(|n| n.trim().to_string()).collect();
        let (mut number, mut title, mut draft) = (None, None, None);
        for (i, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(error(
                    format!("line {header_line}, column {}", i + 1),
                    format!(
                        "the header of column {} is empty; expected {NUMBER_HEADERS}, \
                         {TITLE_HEADERS} or {DRAFT_HEADERS}",
                        i + 1
                    ),
                ));
            }
            let (slot, what) = match fold_header(name).as_str() {
                "number" | "punkt" | "numer" => (&mut number, "number"),
                "title" | "tytul" | "przedmiot" => (&mut title, "title"),
                "resolution_draft" | "projekt_uchwaly" => (&mut draft, "resolution draft"),
                _ => {
                    return Err(error(
                        format!("line {header_line}, column {name:?}"),
                        format!(
                            "unknown column {name:?}; expected {NUMBER_HEADERS}, \
                             {TITLE_HEADERS} and optionally {DRAFT_HEADERS}"
                        ),
                    ))
                }
            };
            if let Some(first) = *slot {
                let first: &String = &names[first];
                return Err(error(
                    format!("line {header_line}, column {name:?}"),
                    format!("there are two {what} columns, {first:?} and {name:?}"),
                ));
            }
            *slot = Some(i);
        }
        let found = names
            .iter()
            .map(|n| format!("{n:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let Some(number) = number else {
            return Err(error(
                format!("line {header_line}"),
                format!(
                    "the header has no number column (expected {NUMBER_HEADERS}); found {found}"
                ),
            ));
        };
        let Some(title) = title else {
            return Err(error(
                format!("line {header_line}"),
                format!("the header has no title column (expected {TITLE_HEADERS}); found {found}"),
            ));
        };
        Ok(CsvColumns {
            header_line,
            names,
            number,
            title,
            resolution_draft: draft,
            lines: Vec::new(),
        })
    }
}

/// `,` or `;`, whichever occurs more often outside quotes in the first
/// non-blank line; `,` on a tie.
fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// Line numbers of a CSV text, as an editor counts them (`\n`, `\r\n` or a
/// lone `\r` ends a line).
struct Lines<'a> {
    text: &'a str,
    /// The byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let b = text.as_bytes();
        let mut starts = vec![0];
        for (i, &c) in b.iter().enumerate() {
            if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        Lines { text, starts }
    }

    /// The line of the record at `position`. The `csv` crate's position is
    /// where the previous record's terminator began or ended, so skip line
    /// breaks (and the blank lines the reader skipped) first.
    fn of(&self, position: &csv::Position) -> u64 {
        let rest = self.text.get(position.byte() as usize..).unwrap_or("");
        let skipped = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
        let at = position.byte() as usize + skipped;
        self.starts.partition_point(|&start| start <= at) as u64
    }
}

fn csv_error(e: &csv::Error, lines: &Lines) -> AgendaError {
    let location = e
        .position()
        .map_or_else(|| "input".to_string(), |p| format!("line {}", lines.of(p)));
    error(location, e.to_string())
}

/// A CSV cell: trimmed, line breaks inside quotes as `\n`.
fn cell(value: &str) -> String {
    value.trim().replace("\r\n", "\n").replace('\r', "\n")
}

/// Parses agenda items from CSV with a header row, and checks them as
/// [`validate`] checks an agenda (errors name the line and column).
///
/// - Delimiter `,` or `;`, sniffed from the header line.
/// - Headers, case-insensitive and trimmed: `number`/`punkt`/`numer`,
///   `title`/`tytuł`/`tytul`/`przedmiot`, and optionally
///   `resolution_draft`/`projekt uchwały`/`projekt_uchwaly`. Other columns
///   are rejected.
/// - A UTF-8 BOM, CRLF line endings and quoted fields (with delimiters,
///   line breaks and doubled quotes inside) are accepted.
/// - Cells are trimmed; an empty resolution draft is `None`; line breaks
///   inside a cell become `\n`; rows whose cells are all blank are skipped.
/// - Line numbers count from 1 at the file's first line (the header, usually);
///   an item spanning lines is reported at its first.
pub fn parse_agenda_csv(text: &str) -> Result<Vec<AgendaItem>, AgendaError> {
    check_size(text)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(error(
            "line 1",
            "the file is empty; expected a header row like \"number,title,resolution_draft\"",
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let lines = Lines::new(text);
    let mut records = reader.records();
    let header = match records.next() {
        Some(record) => record.map_err(|e| csv_error(&e, &lines))?,
        None => return Err(error("line 1", "the file has no header row")),
    };
    let header_line = header.position().map_or(1, |p| lines.of(p));
    let mut columns = CsvColumns::from_header(&header, header_line)?;
    let width = header.len();
    let mut items = Vec::new();
    for record in records {
        let record = record.map_err(|e| csv_error(&e, &lines))?;
        let line = record.position().map_or(0, |p| lines.of(p));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() < width {
            let missing = &columns.names[record.len()];
            return Err(error(
                format!("line {line}, column {missing:?}"),
                format!(
                    "the row has {} of the header's {width} fields, so {missing:?} is missing; \
                     is a delimiter missing?",
                    record.len()
                ),
            ));
        }
        if record.len() > width {
            let delimiter = char::from(sniff_delimiter(text));
            return Err(error(
                format!("line {line}"),
                format!(
                    "the row has {} fields but the header has {width}; \
                     put a title that contains {delimiter:?} in double quotes",
                    record.len()
                ),
            ));
        }
        let resolution_draft = columns
            .resolution_draft
            .map(|k| cell(&record[k]))
            .filter(|d| !d.is_empty());
        items.push(AgendaItem {
            number: cell(&record[columns.number]),
            title: cell(&record[columns.title]),
            resolution_draft,
        });
        columns.lines.push(line);
    }
    check_items(&items, &Locator::Csv(&columns))?;
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/agenda-sesja-xlv.json"
    ));

    /// The fixture's agenda as CSV, English headers, comma-delimited; the
    /// titles with quotes or commas are quoted.
    const CSV_EN: &str = r#"number,title,resolution_draft
1,Otwarcie sesji i stwierdzenie prawomocności obrad,
2,Przyjęcie porządku obrad,
3,Przyjęcie protokołu z XLIV sesji Rady Miasta,
4,Informacja Prezydenta Miasta o działalności w okresie między sesjami,
5,Podjęcie uchwały w sprawie zmiany Wieloletniej Prognozy Finansowej Miasta Piotrkowa Trybunalskiego,DRM.0002.45.1.2025
6,Podjęcie uchwały w sprawie zmian budżetu miasta na 2025 rok,DRM.0002.45.2.2025
7,Podjęcie uchwały w sprawie określenia wysokości stawek podatku od nieruchomości na 2026 rok,DRM.0002.45.3.2025
7a,Podjęcie uchwały w sprawie zwolnień od podatku od nieruchomości dla przedsiębiorców tworzących nowe miejsca pracy,DRM.0002.45.4.2025
8,Podjęcie uchwały w sprawie przyjęcia Programu Współpracy Miasta z organizacjami pozarządowymi na 2026 rok,DRM.0002.45.5.2025
9,Podjęcie uchwały w sprawie nadania nazwy rondu u zbiegu ulic Słowackiego i Wojska Polskiego,DRM.0002.45.6.2025
10,Rozpatrzenie skargi na działalność Dyrektora Miejskiego Ośrodka Pomocy Rodzinie,DRM.0002.45.7.2025
11,"Sprawozdanie z realizacji projektu „Budżet Obywatelski w Piotrkowie Trybunalskim” za 2025 rok",
12,Interpelacje i zapytania radnych,
13,Wolne wnioski i informacje,
14,Zamknięcie sesji,
"#;

    /// The same agenda, Polish headers (mixed case, padded), semicolons,
    /// padded cells, some quoted.
    const CSV_PL: &str = r#" Punkt ; Tytuł ;Projekt uchwały
1;Otwarcie sesji i stwierdzenie prawomocności obrad;
2;"Przyjęcie porządku obrad";
3;Przyjęcie protokołu z XLIV sesji Rady Miasta;
4;Informacja Prezydenta Miasta o działalności w okresie między sesjami;
5;Podjęcie uchwały w sprawie zmiany Wieloletniej Prognozy Finansowej Miasta Piotrkowa Trybunalskiego;DRM.0002.45.1.2025
6;Podjęcie uchwały w sprawie zmian budżetu miasta na 2025 rok;DRM.0002.45.2.2025
7;Podjęcie uchwały w sprawie określenia wysokości stawek podatku od nieruchomości na 2026 rok;DRM.0002.45.3.2025
 7a ; Podjęcie uchwały w sprawie zwolnień od podatku od nieruchomości dla przedsiębiorców tworzących nowe miejsca pracy ; DRM.0002.45.4.2025
8;Podjęcie uchwały w sprawie przyjęcia Programu Współpracy Miasta z organizacjami pozarządowymi na 2026 rok;DRM.0002.45.5.2025
9;Podjęcie uchwały w sprawie nadania nazwy rondu u zbiegu ulic Słowackiego i Wojska Polskiego;DRM.0002.45.6.2025
10;Rozpatrzenie skargi na działalność Dyrektora Miejskiego Ośrodka Pomocy Rodzinie;"DRM.0002.45.7.2025"
11;Sprawozdanie z realizacji projektu „Budżet Obywatelski w Piotrkowie Trybunalskim” za 2025 rok;
12;Interpelacje i zapytania radnych;
13;Wolne wnioski i informacje;
14;Zamknięcie sesji;
"#;

    /// As a spreadsheet on Windows saves it: BOM and CRLF.
    fn windows(csv: &str) -> String {
        let out = format!("\u{feff}{}", csv.replace('\n', "\r\n"));
        assert!(out.starts_with('\u{feff}') && out.contains("\r\n"));
        out
    }

    fn fixture() -> SessionDraft {
        parse_session_json(FIXTURE).expect("the fixture parses")
    }

    /// The fixture with `from` replaced by `to` (which must occur).
    fn fixture_with(from: &str, to: &str) -> String {
        assert!(FIXTURE.contains(from), "the fixture has no {from:?}");
        FIXTURE.replacen(from, to, 1)
    }

    fn json_err(text: &str) -> AgendaError {
        parse_session_json(text).expect_err("the JSON is rejected")
    }

    fn csv_err(text: &str) -> AgendaError {
        parse_agenda_csv(text).expect_err("the CSV is rejected")
    }

    fn items(numbers: &[&str]) -> Vec<AgendaItem> {
        numbers
            .iter()
            .map(|n| AgendaItem {
                number: n.to_string(),
                title: format!("Punkt {n}"),
                resolution_draft: None,
            })
            .collect()
    }

    fn draft_with(agenda: Vec<AgendaItem>) -> SessionDraft {
        SessionDraft {
            agenda,
            ..fixture()
        }
    }

    #[test]
    fn fixture_parses() {
        let draft = fixture();
        assert_eq!(draft.body, "Rada Miasta Piotrkowa Trybunalskiego");
        assert_eq!(draft.kind.as_deref(), Some("zwyczajna"));
        assert_eq!(
            draft.scheduled_start.as_deref(),
            Some("2025-11-26T09:00:00+01:00")
        );
        assert_eq!(draft.agenda.len(), 15);
        let item = draft.agenda.iter().find(|i| i.number == "7a").expect("7a");
        assert_eq!(item.resolution_draft.as_deref(), Some("DRM.0002.45.4.2025"));
        assert_eq!(draft.agenda[0].resolution_draft, None);
        // Item 10 carries a `note`, accepted and dropped.
        assert_eq!(draft.agenda[10].number, "10");
        assert_eq!(
            draft.agenda[10].resolution_draft.as_deref(),
            Some("DRM.0002.45.7.2025")
        );
        assert_eq!(validate(&draft), Ok(()));
    }

    #[test]
    fn json_with_bom_parses() {
        let draft = parse_session_json(&format!("\u{feff}{FIXTURE}")).expect("parses");
        assert_eq!(draft, fixture());
    }

    #[test]
    fn csv_english_comma_bom_crlf_matches_fixture() {
        let parsed = parse_agenda_csv(&windows(CSV_EN)).expect("parses");
        assert_eq!(parsed, fixture().agenda);
        // Also without BOM and CRLF.
        assert_eq!(parse_agenda_csv(CSV_EN).expect("parses"), fixture().agenda);
    }

    #[test]
    fn csv_polish_semicolon_bom_crlf_matches_fixture() {
        let parsed = parse_agenda_csv(&windows(CSV_PL)).expect("parses");
        assert_eq!(parsed, fixture().agenda);
    }

    #[test]
    fn csv_agenda_with_json_metadata_validates() {
        let mut draft = fixture();
        draft.agenda = parse_agenda_csv(CSV_PL).expect("parses");
        assert_eq!(validate(&draft), Ok(()));
    }

    #[test]
    fn csv_quoted_fields_header_variants_and_no_draft_column() {
        let text = "NUMER;\"PRZEDMIOT\"\r\n\
                    1;\"Otwarcie; powitanie\"\r\n\
                    2;\"Sprawy różne:\r\nwnioski \"\"pilne\"\"\"\r\n\
                    ;\r\n\
                    3;Zamknięcie\r\n";
        let parsed = parse_agenda_csv(text).expect("parses");
        assert_eq!(parsed.len(), 3, "the blank row is skipped: {parsed:?}");
        assert_eq!(parsed[0].title, "Otwarcie; powitanie");
        assert_eq!(parsed[1].title, "Sprawy różne:\nwnioski \"pilne\"");
        assert!(parsed.iter().all(|i| i.resolution_draft.is_none()));

        let text = "tytul,numer,projekt_uchwaly\n\"Budżet, zmiany\",1,DRM.1\n";
        let parsed = parse_agenda_csv(text).expect("parses");
        assert_eq!(parsed[0].number, "1");
        assert_eq!(parsed[0].title, "Budżet, zmiany");
        assert_eq!(parsed[0].resolution_draft.as_deref(), Some("DRM.1"));
    }

    #[test]
    fn error_display_is_location_colon_message() {
        let e = error(
            "agenda[3].number",
            "expected a number like \"7\" or \"7a\", got \"7 a\"",
        );
        assert_eq!(
            e.to_string(),
            "agenda[3].number: expected a number like \"7\" or \"7a\", got \"7 a\""
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().starts_with("agenda[3].number: "));
    }

    #[test]
    fn json_unknown_field_is_named() {
        let e = json_err(&fixture_with(
            "\"resolution_draft\": \"DRM.0002.45.4.2025\"",
            "\"resolution\": \"DRM.0002.45.4.2025\"",
        ));
        assert!(e.location.starts_with("agenda[7]"), "{e}");
        assert!(e.message.contains("unknown field `resolution`"), "{e}");

        let e = json_err(&fixture_with("\"kind\"", "\"rodzaj\""));
        assert!(e.message.contains("unknown field `rodzaj`"), "{e}");
        assert!(e.message.contains("line 4"), "{e}");
    }

    #[test]
    fn json_wrong_type_names_the_path() {
        let e = json_err(&fixture_with("{\"number\": \"3\"", "{\"number\": 3"));
        assert_eq!(e.location, "agenda[2].number", "{e}");
        assert!(
            e.message
                .starts_with("invalid type: integer `3`, expected a string"),
            "{e}"
        );
        assert!(e.message.contains("line 12"), "{e}");

        let e = json_err(r#"{"body": "Rada", "title": "Sesja", "agenda": {"1": "Otwarcie"}}"#);
        assert_eq!(e.location, "agenda", "{e}");
        assert!(e.message.contains("invalid type: map"), "{e}");

        let e = json_err(&fixture_with(
            "\"title\": \"Zamknięcie sesji\"",
            "\"title\": null",
        ));
        assert_eq!(e.location, "agenda[14].title", "{e}");
        assert!(e.message.contains("invalid type: null"), "{e}");

        let e = json_err(r#"["Rada", "Sesja", null, null, null, null, null, []]"#);
        assert_eq!(
            e.to_string(),
            "input: expected a JSON object with \"body\", \"title\" and \"agenda\", got an array"
        );
        let e = json_err(&fixture_with(
            r#"{"number": "2", "title": "Przyjęcie porządku obrad"}"#,
            r#"["2", "Przyjęcie porządku obrad", null]"#,
        ));
        assert_eq!(e.location, "agenda[1]", "{e}");
        assert!(e.message.contains("got an array"), "{e}");

        let e = json_err(r#"{"body": "Rada", "agenda": []}"#);
        assert_eq!(e.location, "line 1, column 30", "{e}");
        assert_eq!(e.message, "missing field `title`");
    }

    #[test]
    fn json_syntax_error_names_line_and_column() {
        // A missing comma after the first item: line 11 is the second item.
        let e = json_err(&fixture_with("obrad\"},\n", "obrad\"}\n"));
        assert_eq!(e.location, "line 11, column 5", "{e}");
        assert!(e.message.contains("expected"), "{e}");

        let e = json_err("{\"body\": \"Rada\",\n  \"title\": \"Sesja");
        assert!(e.location.starts_with("line 2, column "), "{e}");
        assert!(e.message.contains("EOF"), "{e}");

        // The fixture ends with a newline: 26 lines, then a blank one.
        let e = json_err(&format!("{FIXTURE}\n}}"));
        assert_eq!(e.to_string(), "line 28, column 1: trailing characters");
    }

    #[test]
    fn agenda_json_alone_is_read_as_strictly_as_a_session() {
        let items = parse_agenda_json(
            "\u{feff}[{\"number\": \"1\", \"title\": \"Otwarcie\", \"note\": \"x\"},\n \
             {\"number\": \"7a\", \"title\": \"Podatki\", \"resolution_draft\": \"DRM.1\"}]",
        )
        .expect("a valid agenda");
        assert_eq!(
            items,
            fixture_items(&[("1", "Otwarcie", None), ("7a", "Podatki", Some("DRM.1"))])
        );

        let agenda_err = |text: &str| parse_agenda_json(text).expect_err("the JSON is rejected");
        let e = agenda_err(
            "[{\"number\": \"1\", \"title\": \"A\"},\n {\"number\": \"2\" \"title\": \"B\"}]",
        );
        assert_eq!(e.to_string(), "line 2, column 17: expected `,` or `}`");
        let e = agenda_err(r#"[{"number": "1", "title": "A"}, {"number": 2, "title": "B"}]"#);
        assert_eq!(e.location, "agenda[1].number", "{e}");
        assert!(
            e.message
                .starts_with("invalid type: integer `2`, expected a string"),
            "{e}"
        );
        let e = agenda_err(r#"[{"number": "1", "title": "A", "votes": 21}]"#);
        assert_eq!(e.location, "agenda[0].votes", "{e}");
        assert!(e.message.starts_with("unknown field `votes`"), "{e}");
        let e = agenda_err(r#"[{"number": "1"}]"#);
        assert_eq!(e.location, "agenda[0]", "{e}");
        assert!(e.message.starts_with("missing field `title`"), "{e}");
        let e = agenda_err(r#"{"number": "1", "title": "A"}"#);
        assert_eq!(e.location, "input");
        assert!(e.message.ends_with("got an object"), "{e}");
        let e = agenda_err(r#"[["1", "A", null]]"#);
        assert_eq!(e.location, "agenda[0]");
        let e = agenda_err(r#"[{"number": "7", "title": "A"}, {"number": "7", "title": "B"}]"#);
        assert_eq!(
            e.to_string(),
            "agenda[1].number: \"7\" is used twice (also agenda[0])"
        );
        let e = agenda_err("[]");
        assert_eq!(e.to_string(), "agenda: the agenda has no items");
        let e = agenda_err("[] []");
        assert_eq!(e.to_string(), "line 1, column 4: trailing characters");
        let e = agenda_err(&format!("[{}]", " ".repeat(MAX_AGENDA_BYTES)));
        assert_eq!(e.location, "input");
        assert!(
            e.message.contains("more than the limit of 262144 bytes"),
            "{e}"
        );
    }

    #[test]
    fn json_item_numbers_are_trimmed_as_csv_cells_are() {
        let draft = parse_session_json(&fixture_with("\"7a\"", "\" 7a\\t\"")).expect("valid");
        assert_eq!(draft.agenda[7].number, "7a");
        let items = parse_agenda_json(r#"[{"number": " 1 ", "title": "A"}]"#).expect("valid");
        assert_eq!(items[0].number, "1");
        assert_eq!(
            parse_agenda_csv("number,title\n 1 ,A\n").expect("valid")[0].number,
            "1"
        );
        // Trimmed, " 7a " repeats "7a".
        let e = json_err(&fixture_with("\"number\": \"8\"", "\"number\": \" 7a \""));
        assert_eq!(
            e.to_string(),
            "agenda[8].number: \"7a\" is used twice (also agenda[7])"
        );
    }

    fn fixture_items(items: &[(&str, &str, Option<&str>)]) -> Vec<AgendaItem> {
        items
            .iter()
            .map(|&(number, title, draft)| AgendaItem {
                number: number.into(),
                title: title.into(),
                resolution_draft: draft.map(Into::into),
            })
            .collect()
    }

    #[test]
    fn empty_agenda_is_rejected() {
        let e = json_err(r#"{"body": "Rada", "title": "Sesja", "agenda": []}"#);
        assert_eq!(e.to_string(), "agenda: the agenda has no items");

        let e = csv_err("\u{feff}punkt;tytuł\r\n");
        assert_eq!(e.to_string(), "line 1: the agenda has no items");
        let e = csv_err("  \r\n");
        assert_eq!(e.location, "line 1");
        assert!(e.message.contains("the file is empty"), "{e}");
    }

    #[test]
    fn too_many_items_are_rejected() {
        let numbers: Vec<String> = (1..=301).map(|n| n.to_string()).collect();
        let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let e = validate(&draft_with(items(&refs[..301]))).expect_err("301 items");
        assert_eq!(
            e.to_string(),
            "agenda: the agenda has 301 items, more than the limit of 300"
        );
        assert_eq!(validate(&draft_with(items(&refs[..300]))), Ok(()));

        let csv: String = std::iter::once("number,title\n".to_string())
            .chain(numbers.iter().map(|n| format!("{n},Punkt {n}\n")))
            .collect();
        let e = csv_err(&csv);
        assert_eq!(e.location, "line 302", "{e}");
    }

    #[test]
    fn duplicate_number_names_both_positions() {
        let e = json_err(&fixture_with("\"number\": \"8\"", "\"number\": \"7a\""));
        assert_eq!(
            e.to_string(),
            "agenda[8].number: \"7a\" is used twice (also agenda[7])"
        );

        let e = validate(&draft_with(items(&["1", "2", "02"]))).expect_err("same number");
        assert_eq!(e.location, "agenda[2].number");
        assert_eq!(e.message, "\"02\" is the same number as \"2\" (agenda[1])");

        let e = csv_err("number,title\n1,A\n2,B\n 2 ,C\n");
        assert_eq!(
            e.to_string(),
            "line 4, column \"number\": \"2\" is used twice (also line 3)"
        );
    }

    #[test]
    fn out_of_order_number_is_named() {
        let e = validate(&draft_with(items(&["1", "2", "4", "3", "5"]))).expect_err("order");
        assert_eq!(e.location, "agenda[3].number");
        assert!(
            e.message
                .starts_with("\"3\" is out of order: it comes after \"4\" (agenda[2])"),
            "{e}"
        );

        let e = validate(&draft_with(items(&["1", "7a", "7"]))).expect_err("order");
        assert_eq!(e.location, "agenda[2].number");
        assert!(e.message.contains("after \"7a\""), "{e}");

        let e = csv_err("punkt;tytul\n1;A\n10;B\n9;C\n");
        assert_eq!(e.location, "line 4, column \"punkt\"");
        assert!(
            e.message
                .contains("\"9\" is out of order: it comes after \"10\" (line 3)"),
            "{e}"
        );
    }

    #[test]
    fn number_format_is_checked() {
        for bad in ["7 a", "-1", "", "A7", "7A", "1234", "7abc", "7.", "Ⅶ", "٣"] {
            let e = validate(&draft_with(items(&[bad]))).expect_err(bad);
            assert_eq!(e.location, "agenda[0].number", "{bad:?}");
            assert_eq!(
                e.message,
                format!("expected a number like \"7\" or \"7a\", got {bad:?}")
            );
        }
        let e = json_err(&fixture_with("\"7a\"", "\"7 a\""));
        assert_eq!(
            e.to_string(),
            "agenda[7].number: expected a number like \"7\" or \"7a\", got \"7 a\""
        );
        assert_eq!(
            validate(&draft_with(items(&["0", "1", " 7a ", "12bb", "999zz"]))),
            Ok(())
        );
    }

    #[test]
    fn item_order_key_orders_numbers() {
        let mut numbers = vec!["10", "7b", "8", "7", "7a", "1", "7aa", "100", "bad"];
        numbers.sort_by_key(|n| item_order_key(n));
        assert_eq!(
            numbers,
            ["1", "7", "7a", "7aa", "7b", "8", "10", "100", "bad"]
        );
        assert_eq!(item_order_key(" 12bb "), (12, "bb".to_string()));
        assert_eq!(item_order_key("7 a"), (u32::MAX, "7 a".to_string()));
    }

    #[test]
    fn empty_titles_and_body_are_rejected() {
        let e = json_err(&fixture_with(
            "\"title\": \"Przyjęcie porządku obrad\"",
            "\"title\": \"  \"",
        ));
        assert_eq!(e.to_string(), "agenda[1].title: the title is empty");

        let e = json_err(&fixture_with(
            "\"body\": \"Rada Miasta Piotrkowa Trybunalskiego\"",
            "\"body\": \"\"",
        ));
        assert_eq!(e.to_string(), "body: the body is empty");

        let e = json_err(&fixture_with(
            "\"title\": \"XLV Sesja Rady Miasta Piotrkowa Trybunalskiego\"",
            "\"title\": \"\\n\"",
        ));
        assert_eq!(e.to_string(), "title: the title is empty");

        let e = csv_err("number,title\n1,Otwarcie\n2, \n");
        assert_eq!(
            e.to_string(),
            "line 3, column \"title\": the title is empty"
        );
    }

    #[test]
    fn text_lengths_are_limited() {
        let mut draft = fixture();
        draft.title = "x".repeat(300);
        assert_eq!(validate(&draft), Ok(()));
        draft.title = "ł".repeat(301);
        let e = validate(&draft).expect_err("long title");
        assert_eq!(e.location, "title");
        assert!(
            e.message
                .starts_with("the title is 301 characters long, more than the limit of 300: \"łłł"),
            "{e}"
        );
        assert!(e.message.ends_with("\"…"), "the value is cut: {e}");

        let mut draft = fixture();
        draft.agenda[4].title = "ó".repeat(1000);
        assert_eq!(validate(&draft), Ok(()));
        draft.agenda[4].title.push('ó');
        let e = validate(&draft).expect_err("long item title");
        assert_eq!(e.location, "agenda[4].title");
        assert!(
            e.message
                .contains("1001 characters long, more than the limit of 1000"),
            "{e}"
        );

        let mut draft = fixture();
        draft.agenda[4].resolution_draft = Some("D".repeat(101));
        let e = validate(&draft).expect_err("long resolution draft");
        assert_eq!(e.location, "agenda[4].resolution_draft");
        assert!(
            e.message
                .contains("101 characters long, more than the limit of 100"),
            "{e}"
        );
    }

    #[test]
    fn control_characters_are_rejected_except_tab_and_newline() {
        let mut draft = fixture();
        draft.agenda[0].title = "Otwarcie\tsesji\nobrad".to_string();
        assert_eq!(validate(&draft), Ok(()));

        let e = json_err(&fixture_with("Otwarcie sesji", "Otwarcie\\u0007sesji"));
        assert_eq!(e.location, "agenda[0].title");
        assert!(e.message.starts_with("the title contains the control character U+0007 at character 9: \"Otwarcie\\u{7}sesji"), "{e}");

        let mut draft = fixture();
        draft.place = Some("Sala\r\nPosiedzeń".to_string());
        let e = validate(&draft).expect_err("CR");
        assert_eq!(e.location, "place");
        assert!(e.message.contains("U+000D"), "{e}");

        let mut draft = fixture();
        draft.agenda[5].resolution_draft = Some("DRM\u{85}1".to_string());
        let e = validate(&draft).expect_err("C1 control");
        assert_eq!(e.location, "agenda[5].resolution_draft");
        assert!(e.message.contains("U+0085"), "{e}");
    }

    #[test]
    fn oversized_input_is_rejected_up_front() {
        let big = format!("{FIXTURE}{}", " ".repeat(MAX_AGENDA_BYTES));
        let e = json_err(&big);
        assert_eq!(e.location, "input");
        assert!(
            e.message
                .contains("more than the limit of 262144 bytes (256 KiB)"),
            "{e}"
        );

        // Up front: even an invalid CSV gets the size error, not a CSV one.
        let e = csv_err(&"x;".repeat(MAX_AGENDA_BYTES));
        assert_eq!(
            e.to_string(),
            format!(
                "input: the input is {} bytes, more than the limit of 262144 bytes (256 KiB)",
                2 * MAX_AGENDA_BYTES
            )
        );

        // Exactly at the limit is fine (padding after the JSON).
        let padded = format!("{FIXTURE}{}", " ".repeat(MAX_AGENDA_BYTES - FIXTURE.len()));
        assert_eq!(parse_session_json(&padded).map(|d| d.agenda.len()), Ok(15));
    }

    #[test]
    fn scheduled_start_must_be_rfc3339_with_offset() {
        let cases = [
            ("2025-11-26T09:00:00", "the offset is missing"),
            ("2025-11-26 09:00:00+01:00", "expected \"T\""),
            ("2025-11-26", "the time is missing"),
            ("26.11.2025 09:00", "YYYY-MM-DD"),
            ("2025-13-26T09:00:00Z", "month is out of range"),
            ("2025-02-29T09:00:00Z", "day is out of range"),
            ("2025-11-26T24:00:00Z", "time is out of range"),
            ("2025-11-26T09:00Z", "HH:MM:SS"),
            ("2025-11-26T09:00:00+0100", "±HH:MM"),
            ("2025-11-26T09:00:00+01:00 ", "±HH:MM"),
            ("2025-11-26T09:00:00.Z", "digits after the decimal point"),
            ("2025-11-26T09:00:00+24:00", "offset is out of range"),
        ];
        for (bad, why) in cases {
            let mut draft = fixture();
            draft.scheduled_start = Some(bad.to_string());
            let e = validate(&draft).expect_err(bad);
            assert_eq!(e.location, "scheduled_start", "{bad}");
            assert!(e.message.contains(&format!("got {bad:?}")), "{e}");
            assert!(e.message.contains(why), "{bad}: {e}");
        }
        let e = json_err(&fixture_with("09:00:00+01:00", "09:00:00"));
        assert_eq!(
            e.to_string(),
            "scheduled_start: expected an RFC 3339 date and time with an offset, like \
             \"2025-11-26T09:00:00+01:00\", got \"2025-11-26T09:00:00\" \
             (the offset is missing; add \"Z\" or e.g. \"+01:00\")"
        );
        for good in [
            "2025-11-26T08:00:00Z",
            "2025-11-26t08:00:00z",
            "2024-02-29T09:00:00.250+01:00",
            "2025-11-26T09:00:00-05:30",
        ] {
            let mut draft = fixture();
            draft.scheduled_start = Some(good.to_string());
            assert_eq!(validate(&draft), Ok(()), "{good}");
        }
    }

    #[test]
    fn csv_missing_title_column() {
        let e = csv_err("\u{feff}punkt;projekt uchwały\r\n1;DRM.1\r\n");
        assert_eq!(e.location, "line 1");
        assert!(
            e.message
                .starts_with("the header has no title column (expected \"title\""),
            "{e}"
        );
        assert!(
            e.message.contains("found \"punkt\", \"projekt uchwały\""),
            "{e}"
        );

        let e = csv_err("title\nOtwarcie\n");
        assert_eq!(e.location, "line 1");
        assert!(
            e.message.starts_with("the header has no number column"),
            "{e}"
        );
    }

    #[test]
    fn csv_bad_header_columns() {
        let e = csv_err("number,title,uwagi\n1,A,x\n");
        assert_eq!(e.location, "line 1, column \"uwagi\"");
        assert!(
            e.message.starts_with("unknown column \"uwagi\"; expected"),
            "{e}"
        );

        let e = csv_err("punkt;numer;tytuł\n1;1;A\n");
        assert_eq!(
            e.to_string(),
            "line 1, column \"numer\": there are two number columns, \"punkt\" and \"numer\""
        );

        let e = csv_err("number;title;\n1;A;\n");
        assert_eq!(e.location, "line 1, column 3");
        assert!(
            e.message.starts_with("the header of column 3 is empty"),
            "{e}"
        );
    }

    #[test]
    fn csv_row_with_too_few_or_too_many_fields() {
        let e = csv_err("number;title;resolution_draft\r\n1;Otwarcie;\r\n2;Przyjęcie porządku\r\n");
        assert_eq!(e.location, "line 3, column \"resolution_draft\"");
        assert!(
            e.message
                .starts_with("the row has 2 of the header's 3 fields"),
            "{e}"
        );

        let e = csv_err("number,title\n1\n");
        assert_eq!(e.location, "line 2, column \"title\"");
        assert!(e.message.contains("\"title\" is missing"), "{e}");

        let e = csv_err("number,title\n1,Budżet, zmiany\n");
        assert_eq!(e.location, "line 2");
        assert!(e.message.contains("the row has 3 fields but the header has 2; put a title that contains ',' in double quotes"), "{e}");
    }

    #[test]
    fn csv_lines_count_blank_lines_and_lone_cr() {
        let e = csv_err("\n\nnumber,title\n\n1,A\n\n\n1a,B\n\n1,C\n");
        assert_eq!(
            e.to_string(),
            "line 10, column \"number\": \"1\" is used twice (also line 5)"
        );
        let e = csv_err("number,title\r1,A\r\"x\ry\",B\r");
        assert_eq!(e.location, "line 3, column \"number\"", "{e}");
        let e = csv_err("\r\n\r\nnumber\r\n1\r\n");
        assert_eq!(e.location, "line 3", "{e}");
        assert!(e.message.contains("no title column"), "{e}");
    }

    #[test]
    fn csv_bad_number_names_its_line() {
        // Item 2's quoted title spans lines 3 and 4; the bad number is on line 5.
        let text = windows("punkt;tytuł\n1;Otwarcie\n2;\"Sprawy\nróżne\"\n7 a;Zamknięcie\n");
        let e = csv_err(&text);
        assert_eq!(
            e.to_string(),
            "line 5, column \"punkt\": expected a number like \"7\" or \"7a\", got \"7 a\""
        );
    }
}
