//! The durable archive: every part of every rendition is written and fsynced
//! to disk before it is announced anywhere, with an append-only index beside
//! the bytes, so a crash loses at most the part being written.
//!
//! Layout under `{data_dir}/archive/{channel}/{run}/{rendition}/`:
//! - `rendition.json`: what the rendition is (codec string, size, bitrate);
//! - `init.mp4`: the init segment (written to a temporary name, fsynced, renamed);
//! - `{msn}.m4s`: one file per segment, grown part by part;
//! - `index.tsv`: one line per part, appended after the part's bytes are
//!   durable: `msn part bytes duration timescale wall_ns independent`.
//!
//! Recovery trusts the index: bytes beyond what the index lists are cut off,
//! a torn last index line is dropped.
//!
//! The catalog indexes the archive (`recordings`, `recording_renditions`,
//! `recording_segments`): a row is written only after the files it names
//! are durable (`indexer.rs`, on behalf of the recorder), and at start
//! `reconcile.rs` makes rows and files agree after a crash. HTTP lists
//! runs, renditions and segments from the catalog alone; it reads files
//! only to serve their bytes.

pub mod clip;
pub mod indexer;
pub mod reconcile;
pub mod session;
pub mod store;
pub mod vod;
