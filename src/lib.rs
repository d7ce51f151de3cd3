//! obrady: live broadcast, recording and agenda-indexed archive of
//! city-council sessions.
//!
//! Code map (see ARCHITECTURE.md):
//! - [`config`]: deployment configuration, `config/default.toml` + overrides.
//! - [`media`]: the only module that touches GStreamer: capture, encode, appsinks.
//! - [`cmaf`]: sans-io fMP4 writer, box reader, and the part/segment cutter.
//! - [`hls`]: sans-io playlist rendering (multivariant with `hls_m3u8`, LL-HLS media).
//! - [`live`]: the in-memory live window per channel and rendition.
//! - [`recorder`]: one task per channel: pipeline events → segmenter → live window.
//! - [`auth`]: sans-io credentials: argon2id passwords, random tokens, login rate limit.
//! - [`http`]: the axum router: playlists, parts, segments, static pages.
//! - [`app`]: wiring and ordered shutdown.

pub mod app;
pub mod archive;
pub mod auth;
pub mod catalog;
pub mod cmaf;
pub mod config;
pub mod health;
pub mod hls;
pub mod http;
pub mod live;
pub mod media;
pub mod pages;
pub mod recorder;
