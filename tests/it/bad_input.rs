//! Bad input over HTTP, against a real `obrady serve`: malformed and
//! oversized agenda JSON and CSV, unknown, empty, duplicate and out-of-order
//! agenda numbers, a malformed scheduled start, starting a session twice,
//! stopping one that is not live, and the other moves the session's state
//! does not allow. Each gets a 4xx whose JSON `error` names the problem (the
//! field, the line, the agenda number or the state), and nothing is
//! half-written: every row of every table of the catalog file (but the
//! archive's index, which the recorder writes by itself), and every session
//! as the API shows it, is the same after the refused request as before it.
//!
//! Times: the only time a client supplies is `scheduled_start` (checked as
//! RFC 3339 with an offset); mark times are the server's own (the instant
//! of the cut), so the catalog's "times out of order" refusal is not a
//! client's mistake to provoke. The order a client can get wrong is the
//! agenda's, which is refused here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use obrady::catalog::agenda::MAX_AGENDA_BYTES;
use reqwest::Method;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

use crate::support::{client, login_admin, start_in};

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/agenda-sesja-xlv.json"
));

/// The fixture's agenda as CSV with the Polish headers the office uses.
const CSV: &str = "punkt;tytuł;projekt uchwały\n\
1;Otwarcie sesji;\n\
2;Przyjęcie porządku obrad;\n\
7;Stawki podatku od nieruchomości;DRM.0002.45.3.2025\n\
7a;Zwolnienia od podatku od nieruchomości;DRM.0002.45.4.2025\n\
8;Zamknięcie sesji;\n";

/// Every row of every table, as text, sorted; by table name.
type Snapshot = BTreeMap<String, Vec<String>>;

/// What a request carries besides its method and path.
enum Body {
    None,
    Json(Vec<u8>),
    Csv(Vec<u8>),
}

impl Body {
    fn json(text: impl Into<Vec<u8>>) -> Self {
        Body::Json(text.into())
    }

    fn csv(text: impl Into<Vec<u8>>) -> Self {
        Body::Csv(text.into())
    }
}

struct Api {
    base: String,
    cookie: String,
    csrf: String,
    db: PathBuf,
    /// (case, status, message) of every refused request, for the report.
    refused: Vec<(String, u16, String)>,
}

impl Api {
    async fn send(&self, method: Method, path: &str, body: Body) -> (u16, Vec<u8>) {
        let mut req = client()
            .request(method, format!("{}{path}", self.base))
            .header("Cookie", &self.cookie)
            .header("X-CSRF-Token", &self.csrf);
        req = match body {
            Body::None => req,
            Body::Json(b) => req.header("Content-Type", "application/json").body(b),
            Body::Csv(b) => req
                .header("Content-Type", "text/csv; charset=utf-8")
                .body(b),
        };
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.bytes().await.expect("body").to_vec())
    }

    /// A request that must succeed; returns its JSON.
    async fn ok(&self, method: Method, path: &str, body: Body) -> Value {
        let (status, bytes) = self.send(method.clone(), path, body).await;
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    /// Every session as the API shows it: the list and each one in full.
    async fn api_view(&self) -> Vec<Value> {
        let list = self.ok(Method::GET, "/api/v1/sessions", Body::None).await;
        let mut view = vec![list.clone()];
        for s in list["sessions"].as_array().expect("sessions") {
            let id = s["id"].as_i64().expect("id");
            let path = format!("/api/v1/sessions/{id}");
            view.push(self.ok(Method::GET, &path, Body::None).await);
        }
        view
    }

    /// Sends a request that must be refused with `status` and an error
    /// message containing every one of `needles`, and checks that the
    /// catalog and the API show exactly what they showed before it.
    async fn refused(
        &mut self,
        case: &str,
        method: Method,
        path: &str,
        body: Body,
        status: u16,
        needles: &[&str],
    ) {
        let db_before = snapshot(&self.db);
        let api_before = self.api_view().await;
        let (got, bytes) = self.send(method.clone(), path, body).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert_eq!(got, status, "{case}: {method} {path}: {text}");
        let json: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{case}: the body is not JSON ({e}): {text}"));
        let message = json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{case}: no \"error\" message: {json}"))
            .to_owned();
        for needle in needles {
            assert!(
                message.contains(needle),
                "{case}: the message does not name {needle:?}: {message}"
            );
        }
        let db_after = snapshot(&self.db);
        assert_eq!(
            diff(&db_before, &db_after),
            Vec::<String>::new(),
            "{case}: the catalog changed"
        );
        assert_eq!(api_before, self.api_view().await, "{case}: the API changed");
        self.refused.push((case.to_owned(), got, message));
    }
}

/// Tables the recorder writes by itself while the channel records (the
/// archive's index: a row per durable segment every couple of seconds),
/// whatever the API is asked; left out of the snapshots.
const MEDIA_INDEX: &[&str] = &["recordings", "recording_renditions", "recording_segments"];

/// The tables a refused request could touch; a snapshot must hold them.
const SESSION_TABLES: &[&str] = &[
    "audit_log",
    "agenda_items",
    "bodies",
    "sessions",
    "timeline_marks",
];

/// Reads every table of the catalog file (but [`MEDIA_INDEX`]) through a
/// read-only connection of its own (the catalog is in WAL mode, so this sees
/// every committed change).
fn snapshot(db: &Path) -> Snapshot {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the catalog read-only");
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("tables");
    let tables: Vec<String> = stmt
        .query_map([], |row| row.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    let mut snapshot = Snapshot::new();
    for table in tables {
        if MEDIA_INDEX.contains(&table.as_str()) {
            continue;
        }
        let sql = format!("SELECT * FROM \"{}\"", table.replace('"', "\"\""));
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let columns = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |row| {
                let mut cells = Vec::with_capacity(columns);
                for i in 0..columns {
                    cells.push(match row.get_ref(i)? {
                        ValueRef::Null => "NULL".to_owned(),
                        ValueRef::Integer(v) => v.to_string(),
                        ValueRef::Real(v) => format!("{v:?}"),
                        ValueRef::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                        ValueRef::Blob(b) => format!("x'{}'", hex(b)),
                    });
                }
                Ok(cells.join("|"))
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.sort();
        snapshot.insert(table, rows);
    }
    for table in SESSION_TABLES {
        assert!(
            snapshot.contains_key(*table),
            "no table {table} in {}",
            db.display()
        );
    }
    snapshot
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What differs between two snapshots, table by table (empty when none).
fn diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for name in names {
        let (b, a) = (before.get(name), after.get(name));
        if b != a {
            let count = |rows: Option<&Vec<String>>| rows.map_or(0, Vec::len);
            let added: Vec<&String> = a
                .into_iter()
                .flatten()
                .filter(|r| !b.is_some_and(|b| b.contains(r)))
                .collect();
            out.push(format!(
                "{name}: {} rows before, {} after; new or changed: {added:?}",
                count(b),
                count(a)
            ));
        }
    }
    out
}

/// The fixture with its first `from` replaced by `to`.
fn fixture_with(from: &str, to: &str) -> String {
    assert!(FIXTURE.contains(from), "{from:?} is not in the fixture");
    FIXTURE.replacen(from, to, 1)
}

/// `text` padded with spaces (valid JSON and CSV whitespace) to `len` bytes.
fn padded(text: &str, len: usize) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    assert!(bytes.len() <= len);
    bytes.resize(len, b' ');
    bytes
}

#[tokio::test]
// The guard only keeps other test processes' encoders off the two cores
// while this test's server runs; nothing in this runtime takes it again.
#[allow(clippy::await_holding_lock)]
async fn bad_input_is_refused_with_a_reason_and_leaves_nothing_behind() {
    let _guard = crate::support::heavy();
    let started = Instant::now();
    let data = tempfile::tempdir().expect("temp dir");
    let o = start_in(data.path(), &[]);
    let base = format!("http://{}", o.addr);
    // Marks cut the live stream: wait until there is one.
    crate::support::wait_live(&base, "720p").await;
    let (cookie, csrf) = login_admin(&base).await;
    let db = data.path().join("obrady.db");
    assert!(db.is_file(), "no catalog at {}", db.display());
    let mut api = Api {
        base,
        cookie,
        csrf,
        db,
        refused: Vec::new(),
    };
    use Method as M;
    let sessions = "/api/v1/sessions";

    // ---- Creating a session: malformed, mistyped and invalid JSON. ----
    // A missing comma after the first item: the second item is on line 11.
    api.refused(
        "create: JSON syntax error",
        M::POST,
        sessions,
        Body::json(fixture_with("obrad\"},\n", "obrad\"}\n")),
        422,
        &["line 11, column 5", "expected"],
    )
    .await;
    api.refused(
        "create: JSON cut short",
        M::POST,
        sessions,
        Body::json("{\"body\": \"Rada\",\n  \"title\": \"Sesja"),
        422,
        &["line 2, column", "EOF"],
    )
    .await;
    api.refused(
        "create: empty body",
        M::POST,
        sessions,
        Body::None,
        422,
        &["line 1, column 0", "EOF"],
    )
    .await;
    api.refused(
        "create: trailing characters",
        M::POST,
        sessions,
        Body::json(format!("{FIXTURE}\n}}")),
        422,
        &["line 28, column 1", "trailing characters"],
    )
    .await;
    api.refused(
        "create: an array, not an object",
        M::POST,
        sessions,
        Body::json("[\"Rada\", \"Sesja\", []]"),
        422,
        &["input", "expected a JSON object", "got an array"],
    )
    .await;
    api.refused(
        "create: number of wrong type",
        M::POST,
        sessions,
        Body::json(fixture_with("\"number\": \"3\"", "\"number\": 3")),
        422,
        &[
            "agenda[2].number",
            "invalid type: integer `3`, expected a string",
        ],
    )
    .await;
    api.refused(
        "create: title of wrong type",
        M::POST,
        sessions,
        Body::json(fixture_with(
            "\"title\": \"XLV Sesja Rady Miasta Piotrkowa Trybunalskiego\"",
            "\"title\": 45",
        )),
        422,
        &["title", "invalid type: integer `45`"],
    )
    .await;
    api.refused(
        "create: agenda not a list",
        M::POST,
        sessions,
        Body::json(
            r#"{"body": "Rada", "title": "Sesja", "agenda": {"number": "1", "title": "A"}}"#,
        ),
        422,
        &["agenda", "invalid type: map, expected a sequence"],
    )
    .await;
    api.refused(
        "create: unknown field",
        M::POST,
        sessions,
        Body::json(fixture_with(
            "\"chair\":",
            "\"chairman\": \"x\", \"chair\":",
        )),
        422,
        &["unknown field `chairman`"],
    )
    .await;
    api.refused(
        "create: unknown item field",
        M::POST,
        sessions,
        Body::json(fixture_with(
            "\"number\": \"4\",",
            "\"number\": \"4\", \"votes\": 21,",
        )),
        422,
        &["agenda[3]", "unknown field `votes`"],
    )
    .await;
    api.refused(
        "create: missing title",
        M::POST,
        sessions,
        Body::json(fixture_with(
            "\"title\": \"XLV Sesja Rady Miasta Piotrkowa Trybunalskiego\",",
            "",
        )),
        422,
        &["missing field `title`"],
    )
    .await;
    api.refused(
        "create: blank title",
        M::POST,
        sessions,
        Body::json(fixture_with(
            "\"title\": \"XLV Sesja Rady Miasta Piotrkowa Trybunalskiego\"",
            "\"title\": \"  \"",
        )),
        422,
        &["title: the title is empty"],
    )
    .await;
    api.refused(
        "create: missing item number",
        M::POST,
        sessions,
        Body::json(fixture_with("\"number\": \"2\", ", "")),
        422,
        &["agenda[1]", "missing field `number`"],
    )
    .await;
    api.refused(
        "create: empty agenda number",
        M::POST,
        sessions,
        Body::json(fixture_with("\"number\": \"5\"", "\"number\": \"\"")),
        422,
        &["agenda[4].number", "got \"\""],
    )
    .await;
    api.refused(
        "create: malformed agenda number",
        M::POST,
        sessions,
        Body::json(fixture_with("\"number\": \"7a\"", "\"number\": \"7 a\"")),
        422,
        &["agenda[7].number", "\"7 a\""],
    )
    .await;
    api.refused(
        "create: duplicate agenda number",
        M::POST,
        sessions,
        Body::json(fixture_with("\"number\": \"8\"", "\"number\": \"7a\"")),
        422,
        &["agenda[8].number", "\"7a\" is used twice (also agenda[7])"],
    )
    .await;
    api.refused(
        "create: the same number written twice",
        M::POST,
        sessions,
        Body::json(fixture_with("\"number\": \"3\"", "\"number\": \"02\"")),
        422,
        &["agenda[2].number", "\"02\" is the same number as \"2\""],
    )
    .await;
    api.refused(
        "create: agenda numbers out of order",
        M::POST,
        sessions,
        Body::json(
            fixture_with("\"number\": \"9\"", "\"number\": \"X\"")
                .replacen("\"number\": \"8\"", "\"number\": \"9\"", 1)
                .replacen("\"number\": \"X\"", "\"number\": \"8\"", 1),
        ),
        422,
        &[
            "agenda[9].number",
            "\"8\" is out of order: it comes after \"9\"",
        ],
    )
    .await;
    api.refused(
        "create: empty agenda",
        M::POST,
        sessions,
        Body::json(r#"{"body": "Rada", "title": "Sesja", "agenda": []}"#),
        422,
        &["agenda: the agenda has no items"],
    )
    .await;
    api.refused(
        "create: scheduled_start without offset",
        M::POST,
        sessions,
        Body::json(fixture_with("09:00:00+01:00", "09:00:00")),
        422,
        &["scheduled_start", "the offset is missing"],
    )
    .await;
    api.refused(
        "create: scheduled_start hour 25",
        M::POST,
        sessions,
        Body::json(fixture_with("T09:00:00+01:00", "T25:00:00+01:00")),
        422,
        &["scheduled_start", "the time is out of range"],
    )
    .await;
    api.refused(
        "create: scheduled_start 30 February",
        M::POST,
        sessions,
        Body::json(fixture_with("2025-11-26T", "2025-02-30T")),
        422,
        &["scheduled_start", "the day is out of range"],
    )
    .await;
    api.refused(
        "create: control character in a title",
        M::POST,
        sessions,
        Body::json(fixture_with("Otwarcie sesji", "Otwarcie\\u0007sesji")),
        422,
        &["agenda[0].title", "U+0007"],
    )
    .await;
    // "Posiedzeń" with the "ń" in Windows-1250.
    let mut not_utf8 = fixture_with("Posiedzeń", "Posiedze@").into_bytes();
    let at = not_utf8.iter().position(|&c| c == b'@').expect("@");
    not_utf8[at] = 0xF1;
    api.refused(
        "create: not UTF-8",
        M::POST,
        sessions,
        Body::Json(not_utf8.clone()),
        400,
        &["not UTF-8", &format!("index {at}")],
    )
    .await;
    let limit = MAX_AGENDA_BYTES.to_string();
    api.refused(
        "create: one byte over the limit",
        M::POST,
        sessions,
        Body::Json(padded(FIXTURE, MAX_AGENDA_BYTES + 1)),
        413,
        &[&format!("{}", MAX_AGENDA_BYTES + 1), &limit],
    )
    .await;
    api.refused(
        "create: 3 MiB",
        M::POST,
        sessions,
        Body::Json(padded(FIXTURE, 3 << 20)),
        413,
        &[&limit],
    )
    .await;
    // Nothing was created so far.
    assert_eq!(
        api.ok(M::GET, sessions, Body::None).await["sessions"],
        json!([])
    );

    // Exactly at the limit is accepted: session 1, the fixture.
    let created = api
        .ok(
            M::POST,
            sessions,
            Body::Json(padded(FIXTURE, MAX_AGENDA_BYTES)),
        )
        .await;
    let a = created["id"].as_i64().expect("id");
    // Session 2, to stay planned.
    let created = api.ok(M::POST, sessions, Body::json(FIXTURE)).await;
    let b = created["id"].as_i64().expect("id");
    let agenda_b = format!("/api/v1/sessions/{b}/agenda");

    // ---- Replacing an agenda: CSV and JSON. ----
    api.refused(
        "agenda CSV: unknown column",
        M::PUT,
        &agenda_b,
        Body::csv(CSV.replacen("punkt;", "nr;", 1)),
        422,
        &["line 1, column \"nr\"", "unknown column \"nr\""],
    )
    .await;
    api.refused(
        "agenda CSV: no header row",
        M::PUT,
        &agenda_b,
        Body::csv(CSV.split_once('\n').expect("header").1),
        422,
        &["line 1, column \"1\"", "unknown column \"1\""],
    )
    .await;
    api.refused(
        "agenda CSV: no title column",
        M::PUT,
        &agenda_b,
        Body::csv("punkt;projekt uchwały\n1;DRM.1\n"),
        422,
        &[
            "line 1",
            "no title column",
            "\"punkt\", \"projekt uchwały\"",
        ],
    )
    .await;
    api.refused(
        "agenda CSV: a field missing on line 3",
        M::PUT,
        &agenda_b,
        Body::csv(CSV.replacen(
            "2;Przyjęcie porządku obrad;",
            "2;Przyjęcie porządku obrad",
            1,
        )),
        422,
        &[
            "line 3, column \"projekt uchwały\"",
            "the row has 2 of the header's 3 fields",
        ],
    )
    .await;
    api.refused(
        "agenda CSV: an extra field on line 4",
        M::PUT,
        &agenda_b,
        Body::csv(CSV.replacen("Stawki podatku", "Stawki; podatku", 1)),
        422,
        &["line 4", "the row has 4 fields but the header has 3"],
    )
    .await;
    api.refused(
        "agenda CSV: duplicate number",
        M::PUT,
        &agenda_b,
        Body::csv(CSV.replacen("8;Zamknięcie", "7a;Zamknięcie", 1)),
        422,
        &[
            "line 6, column \"punkt\"",
            "\"7a\" is used twice (also line 5)",
        ],
    )
    .await;
    api.refused(
        "agenda CSV: numbers out of order",
        M::PUT,
        &agenda_b,
        Body::csv(CSV.replacen("8;Zamknięcie", "6;Zamknięcie", 1)),
        422,
        &[
            "line 6",
            "\"6\" is out of order: it comes after \"7a\" (line 5)",
        ],
    )
    .await;
    api.refused(
        "agenda CSV: empty number",
        M::PUT,
        &agenda_b,
        Body::csv(CSV.replacen("2;Przyjęcie", ";Przyjęcie", 1)),
        422,
        &["line 3, column \"punkt\"", "got \"\""],
    )
    .await;
    api.refused(
        "agenda CSV: empty file",
        M::PUT,
        &agenda_b,
        Body::csv(""),
        422,
        &["line 1", "the file is empty"],
    )
    .await;
    api.refused(
        "agenda CSV: header only",
        M::PUT,
        &agenda_b,
        Body::csv("punkt;tytuł\n"),
        422,
        &["line 1", "the agenda has no items"],
    )
    .await;
    // "Zamknięcie" in Windows-1250, as an office export might be.
    let mut cp1250 = b"number,title\n1,Otwarcie\n2,Zamkni".to_vec();
    cp1250.extend_from_slice(&[0xEA, b'c', b'i', b'e', b'\n']);
    api.refused(
        "agenda CSV: not UTF-8",
        M::PUT,
        &agenda_b,
        Body::Csv(cp1250),
        400,
        &["not UTF-8", "index 32"],
    )
    .await;
    api.refused(
        "agenda CSV: one byte over the limit",
        M::PUT,
        &agenda_b,
        Body::Csv(padded(CSV, MAX_AGENDA_BYTES + 1)),
        413,
        &[&limit],
    )
    .await;
    api.refused(
        "agenda CSV: 3 MiB",
        M::PUT,
        &agenda_b,
        Body::Csv(padded(CSV, 3 << 20)),
        413,
        &[&limit],
    )
    .await;
    api.refused(
        "agenda JSON: syntax error",
        M::PUT,
        &agenda_b,
        Body::json(
            "[{\"number\": \"1\", \"title\": \"A\"},\n {\"number\": \"2\" \"title\": \"B\"}]",
        ),
        422,
        &["line 2, column 17", "expected `,` or `}`"],
    )
    .await;
    api.refused(
        "agenda JSON: number of wrong type",
        M::PUT,
        &agenda_b,
        Body::json("[{\"number\": \"1\", \"title\": \"A\"}, {\"number\": 2, \"title\": \"B\"}]"),
        422,
        &[
            "agenda[1].number",
            "invalid type: integer `2`, expected a string",
        ],
    )
    .await;
    api.refused(
        "agenda JSON: unknown field",
        M::PUT,
        &agenda_b,
        Body::json("[{\"number\": \"1\", \"title\": \"A\", \"votes\": 21}]"),
        422,
        &["agenda[0].votes", "unknown field `votes`"],
    )
    .await;
    api.refused(
        "agenda JSON: an object, not a list",
        M::PUT,
        &agenda_b,
        Body::json("{\"number\": \"1\", \"title\": \"A\"}"),
        422,
        &["expected a JSON array of agenda items", "got an object"],
    )
    .await;
    api.refused(
        "agenda JSON: duplicate number",
        M::PUT,
        &agenda_b,
        Body::json(
            "[{\"number\": \"7\", \"title\": \"A\"}, {\"number\": \"7a\", \"title\": \"B\"}, \
             {\"number\": \"7a\", \"title\": \"C\"}]",
        ),
        422,
        &["agenda[2].number", "\"7a\" is used twice (also agenda[1])"],
    )
    .await;
    api.refused(
        "agenda JSON: empty list",
        M::PUT,
        &agenda_b,
        Body::json("[]"),
        422,
        &["the agenda has no items"],
    )
    .await;
    api.refused(
        "agenda JSON: one byte over the limit",
        M::PUT,
        &agenda_b,
        Body::Json(padded(
            "[{\"number\": \"1\", \"title\": \"A\"}]",
            MAX_AGENDA_BYTES + 1,
        )),
        413,
        &[&limit],
    )
    .await;

    // ---- Moves the state of a planned session does not allow. ----
    let s = |id: i64, action: &str| format!("/api/v1/sessions/{id}/{action}");
    let private = || {
        Body::json(
            json!({ "reason": "dane osobowe", "legal_basis": "art. 5 ust. 2 u.d.i.p." })
                .to_string(),
        )
    };
    for (action, body, needles) in [
        (
            "stop",
            Body::None,
            vec!["planned", "only a live or paused session can stop"],
        ),
        (
            "resume",
            Body::None,
            vec!["planned", "only a paused session can resume"],
        ),
        (
            "recess",
            Body::None,
            vec!["planned", "a recess can start only while it is live"],
        ),
        (
            "private/begin",
            private(),
            vec!["planned", "only while it is live"],
        ),
        ("private/end", Body::None, vec!["no non-public part open"]),
        (
            "items/1/begin",
            Body::None,
            vec!["planned", "only while it is live"],
        ),
    ] {
        api.refused(
            &format!("planned: {action}"),
            M::POST,
            &s(b, action),
            body,
            409,
            &needles,
        )
        .await;
    }
    api.refused(
        "planned: unknown agenda number",
        M::POST,
        &s(b, "items/99z/begin"),
        Body::None,
        422,
        &["\"99z\"", "not on the agenda"],
    )
    .await;

    // ---- A live session. ----
    // The snapshots see what a request commits: starting changes the
    // session's state, adds its first mark and an audit row.
    let before = snapshot(&api.db);
    api.ok(M::POST, &s(a, "start"), Body::None).await;
    let changed: Vec<String> = diff(&before, &snapshot(&api.db))
        .iter()
        .map(|d| d.split(':').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(changed, ["audit_log", "sessions", "timeline_marks"]);
    api.refused(
        "live: start twice",
        M::POST,
        &s(a, "start"),
        Body::None,
        409,
        &["cannot start: it is live"],
    )
    .await;
    for number in ["99z", "7A", "15", "07a"] {
        api.refused(
            &format!("live: unknown agenda number {number}"),
            M::POST,
            &s(a, &format!("items/{number}/begin")),
            Body::None,
            422,
            &[&format!(
                "agenda item {number:?} is not on the agenda of session {a}"
            )],
        )
        .await;
    }
    api.refused(
        "live: resume",
        M::POST,
        &s(a, "resume"),
        Body::None,
        409,
        &["is live", "only a paused session can resume"],
    )
    .await;
    api.refused(
        "live: private/end without a private part",
        M::POST,
        &s(a, "private/end"),
        Body::None,
        409,
        &["no non-public part open"],
    )
    .await;
    api.refused(
        "live: private/begin without a body",
        M::POST,
        &s(a, "private/begin"),
        Body::None,
        422,
        &["\"reason\"", "\"legal_basis\""],
    )
    .await;
    api.refused(
        "live: private/begin without legal_basis",
        M::POST,
        &s(a, "private/begin"),
        Body::json(json!({ "reason": "dane osobowe" }).to_string()),
        422,
        &["\"legal_basis\""],
    )
    .await;
    api.refused(
        "live: private/begin with a blank legal_basis",
        M::POST,
        &s(a, "private/begin"),
        Body::json(json!({ "reason": "dane osobowe", "legal_basis": " " }).to_string()),
        422,
        &["\"legal_basis\""],
    )
    .await;
    api.refused(
        "live: private/begin with an unknown field",
        M::POST,
        &s(a, "private/begin"),
        Body::json(json!({ "reason": "r", "legal_basis": "b", "basis": "x" }).to_string()),
        422,
        &["unknown field `basis`"],
    )
    .await;
    api.refused(
        "live: private/begin with a reason of wrong type",
        M::POST,
        &s(a, "private/begin"),
        Body::json(json!({ "reason": 5, "legal_basis": "b" }).to_string()),
        422,
        &["reason", "invalid type: integer `5`"],
    )
    .await;
    api.refused(
        "live: private/begin with malformed JSON",
        M::POST,
        &s(a, "private/begin"),
        Body::json("{\"reason\": "),
        422,
        &["EOF", "line 1 column 11"],
    )
    .await;
    let reason = json!({ "reason": "dane osobowe", "legal_basis": "art. 5" }).to_string();
    api.refused(
        "live: private/begin body over 16 KiB",
        M::POST,
        &s(a, "private/begin"),
        Body::Json(padded(&reason, 16 * 1024 + 1)),
        413,
        &["16385", "16384"],
    )
    .await;
    api.refused(
        "live: private/begin body of 3 MiB",
        M::POST,
        &s(a, "private/begin"),
        Body::Json(padded(&reason, 3 << 20)),
        413,
        &["16384"],
    )
    .await;
    api.refused(
        "live: recess with an unknown field",
        M::POST,
        &s(a, "recess"),
        Body::json(json!({ "why": "przerwa" }).to_string()),
        422,
        &["unknown field `why`"],
    )
    .await;
    api.refused(
        "live: replace the agenda",
        M::PUT,
        &format!("/api/v1/sessions/{a}/agenda"),
        Body::csv(CSV),
        409,
        &["is live", "only while it is planned or paused"],
    )
    .await;

    // A non-public part: a second one, and stopping inside it, are refused.
    // A switch is scheduled on a camera frame ahead of "now" (the beginning
    // 80 ms ahead), while a cut for any other mark is "now": a mark asked
    // for sooner than that after a switch gets an earlier time and is
    // refused with 422 "times out of order" (see the report of this test's
    // author); so wait past the switch before the next mark.
    let past_the_switch = Duration::from_millis(250);
    api.ok(M::POST, &s(a, "private/begin"), private()).await;
    tokio::time::sleep(past_the_switch).await;
    api.refused(
        "private: private/begin again",
        M::POST,
        &s(a, "private/begin"),
        private(),
        409,
        &["already non-public"],
    )
    .await;
    api.refused(
        "private: stop",
        M::POST,
        &s(a, "stop"),
        Body::None,
        409,
        &["non-public part", "private_end"],
    )
    .await;
    api.ok(M::POST, &s(a, "private/end"), Body::None).await;
    tokio::time::sleep(past_the_switch).await;

    // Paused after item 7a: the agenda may change, but not lose 7a.
    api.ok(M::POST, &s(a, "items/7a/begin"), Body::None).await;
    api.ok(M::POST, &s(a, "recess"), Body::None).await;
    api.refused(
        "paused: the new agenda drops an item already marked",
        M::PUT,
        &format!("/api/v1/sessions/{a}/agenda"),
        Body::csv(CSV.replacen("7a;", "7b;", 1)),
        409,
        &["agenda item \"7a\"", "already marked on the timeline"],
    )
    .await;
    for (action, body, needles) in [
        (
            "recess",
            Body::None,
            vec!["is paused", "only while it is live"],
        ),
        (
            "items/1/begin",
            Body::None,
            vec!["is paused", "only while it is live"],
        ),
        (
            "private/begin",
            private(),
            vec!["is paused", "only while it is live"],
        ),
        ("start", Body::None, vec!["cannot start: it is paused"]),
    ] {
        api.refused(
            &format!("paused: {action}"),
            M::POST,
            &s(a, action),
            body,
            409,
            &needles,
        )
        .await;
    }
    api.ok(M::POST, &s(a, "resume"), Body::None).await;
    api.ok(M::POST, &s(a, "stop"), Body::None).await;

    // ---- An ended session. ----
    for (action, needles) in [
        (
            "stop",
            vec!["is ended", "only a live or paused session can stop"],
        ),
        ("start", vec!["cannot start: it is ended"]),
        (
            "resume",
            vec!["is ended", "only a paused session can resume"],
        ),
        ("items/2/begin", vec!["is ended", "only while it is live"]),
    ] {
        api.refused(
            &format!("ended: {action}"),
            M::POST,
            &s(a, action),
            Body::None,
            409,
            &needles,
        )
        .await;
    }
    api.refused(
        "ended: replace the agenda",
        M::PUT,
        &format!("/api/v1/sessions/{a}/agenda"),
        Body::csv(CSV),
        409,
        &["is ended", "only while it is planned or paused"],
    )
    .await;

    // ---- Unknown and malformed session ids. ----
    for id in ["999", "0", "-1", "abc", "1.5", "99999999999999999999"] {
        let none = if id == "999" {
            "session 999 does not exist".to_owned()
        } else {
            format!("no session with id {id:?}")
        };
        for (method, action, body) in [
            (M::GET, "", Body::None),
            (M::PUT, "/agenda", Body::csv(CSV)),
            (M::POST, "/start", Body::None),
            (M::POST, "/items/1/begin", Body::None),
            (M::POST, "/private/begin", private()),
            (M::POST, "/stop", Body::None),
        ] {
            api.refused(
                &format!("unknown id {id}: {method} {action}"),
                method,
                &format!("/api/v1/sessions/{id}{action}"),
                body,
                404,
                &[&none],
            )
            .await;
        }
    }

    // Item numbers are stored trimmed (as CSV cells are), so the item that
    // was sent as "7a " is found as 7a.
    let replaced = api
        .ok(
            M::PUT,
            &agenda_b,
            Body::json(r#"[{"number": " 1 ", "title": "Otwarcie"}, {"number": "7a ", "title": "Podatki"}]"#),
        )
        .await;
    assert_eq!(replaced["agenda"][1]["number"], "7a", "{replaced}");
    api.ok(M::POST, &s(b, "start"), Body::None).await;
    api.ok(M::POST, &s(b, "items/7a/begin"), Body::None).await;
    api.refused(
        "live: an item that left the agenda",
        M::POST,
        &s(b, "items/2/begin"),
        Body::None,
        422,
        &[&format!(
            "agenda item \"2\" is not on the agenda of session {b}"
        )],
    )
    .await;
    api.ok(M::POST, &s(b, "stop"), Body::None).await;

    // Both sessions are as the accepted requests left them.
    let a_view = api
        .ok(M::GET, &format!("/api/v1/sessions/{a}"), Body::None)
        .await;
    let kinds: Vec<&str> = a_view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|m| m["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "private_start",
            "private_end",
            "item",
            "recess",
            "resume",
            "stop"
        ]
    );
    assert_eq!(a_view["state"], "ended");
    assert_eq!(a_view["agenda"].as_array().map(Vec::len), Some(15));
    let b_view = api
        .ok(M::GET, &format!("/api/v1/sessions/{b}"), Body::None)
        .await;
    assert_eq!(b_view["state"], "ended");
    let kinds: Vec<&str> = b_view["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|m| m["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["start", "item", "stop"]);
    assert_eq!(b_view["timeline"][1]["agenda_number"], "7a");
    assert_eq!(
        b_view["agenda"],
        json!([
            { "number": "1", "title": "Otwarcie", "resolution_draft": null },
            { "number": "7a", "title": "Podatki", "resolution_draft": null },
        ])
    );

    println!("\n{:<60} | status | message", "case");
    for (case, status, message) in &api.refused {
        println!("{case:<60} | {status}    | {message}");
    }
    println!(
        "{} refused requests checked in {:.1} s",
        api.refused.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(api.refused.len() > 100, "{}", api.refused.len());
    drop(o);
}
