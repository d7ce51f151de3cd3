//! The catalog: what exists (sessions, agendas, timelines, recordings) in an
//! embedded SQLite file. Files hold bytes; the catalog says what they are.

pub mod agenda;
pub mod db;

pub use db::recordings;
pub use db::search;
pub use db::users;
