//! The one integration test binary. Every test talks to a real obrady
//! (a real GStreamer pipeline, real HTTP) and checks its output with clients
//! that no one here wrote: ffmpeg, GStreamer's hlsdemux2, hls.js in Chromium.

mod support;

mod after_session;
mod archive;
mod bad_input;

mod browser;
mod conformance;
mod console;
mod errors;
mod graphics;
mod health;
mod openapi;
mod pages;
mod playback;
mod private;
mod process;
mod roles;
mod session_channels;
mod sessions;
mod sources;
mod staff;
