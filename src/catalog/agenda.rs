//! A session and its agenda as the council office supplies them: JSON (the
//! shape of `../shared/fixtures/agenda-sesja-xlv.json`) or CSV with a header
//! row. Parsing is sans-io; every error names the field or the line.

use serde::{Deserialize, Serialize};

/// A session to be created, with its agenda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaItem {
    /// Item number as text: "1", "7a".
    pub number: String,
    pub title: String,
    /// Draft resolution reference, e.g. "DRM.0002.45.1.2025".
    pub resolution_draft: Option<String>,
}
