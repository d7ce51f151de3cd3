//! The catalog: what exists (sessions, agendas, timelines, recordings) in an
//! embedded SQLite file. Files hold bytes; the catalog says what they are.

pub mod agenda;
pub mod db;

pub use db::recordings;
pub use db::search;
pub use db::users;

/// The wall clock as Unix nanoseconds: how the catalog stores instants.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
