//! The only module that touches GStreamer: builds a channel's capture and
//! encode graph, hands encoded samples to the application through a channel,
//! forces keyframes on request, and reports the bus.
//!
//! Callbacks here never block and never await: they copy the sample out and
//! send it on an unbounded channel, then return.

mod graph;
pub mod graphics;
pub mod ingest;
mod pipeline;
mod privacy;
pub mod program;
pub mod restream;

pub use graph::{GraphSpec, SinkKind, SourceSpec, TestScene, VideoSpec};
pub use graphics::{Graphics, GraphicsState};
pub use ingest::{IngestSource, IngestSpec, SourceEvent, SourceReport, SourceStatus};
pub use pipeline::{MediaEvent, Pipeline};
pub use program::{Program, ProgramAudio};
pub use restream::Restream;

use gstreamer as gst;

/// A media failure, naming the element or the step.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("cannot initialise GStreamer: {0}")]
    Init(String),
    #[error("GStreamer element `{element}` is missing: install the Debian package {package} (apt-get install {package})")]
    MissingElement {
        element: &'static str,
        package: &'static str,
    },
    #[error("cannot build the media graph: {0}")]
    Build(String),
    #[error("cannot start the pipeline: {0}")]
    Start(String),
}

/// Elements the default graph needs, with the Debian package that ships each.
pub const REQUIRED_ELEMENTS: &[(&str, &str)] = &[
    ("videotestsrc", "gstreamer1.0-plugins-base"),
    ("audiotestsrc", "gstreamer1.0-plugins-base"),
    ("clockoverlay", "gstreamer1.0-x"),
    ("textoverlay", "gstreamer1.0-x"),
    ("imagefreeze", "gstreamer1.0-plugins-good"),
    ("input-selector", "libgstreamer1.0-0"),
    ("identity", "libgstreamer1.0-0"),
    ("videoscale", "gstreamer1.0-plugins-base"),
    ("videoconvert", "gstreamer1.0-plugins-base"),
    ("audioconvert", "gstreamer1.0-plugins-base"),
    ("audioresample", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("x264enc", "gstreamer1.0-plugins-ugly"),
    ("voaacenc", "gstreamer1.0-plugins-bad"),
    ("aacparse", "gstreamer1.0-plugins-good"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
];

/// Elements a channel with a real source needs besides the default ones.
pub const INGEST_ELEMENTS: &[(&str, &str)] = &[
    ("intervideosrc", "gstreamer1.0-plugins-bad"),
    ("interaudiosrc", "gstreamer1.0-plugins-bad"),
    ("intervideosink", "gstreamer1.0-plugins-bad"),
    ("interaudiosink", "gstreamer1.0-plugins-bad"),
    ("audiobuffersplit", "gstreamer1.0-plugins-bad"),
    ("uridecodebin", "gstreamer1.0-plugins-base"),
    ("decodebin", "gstreamer1.0-plugins-base"),
    ("videorate", "gstreamer1.0-plugins-base"),
    ("rtspsrc", "gstreamer1.0-plugins-good"),
    ("srtsrc", "gstreamer1.0-plugins-bad"),
    ("v4l2src", "gstreamer1.0-plugins-good"),
    ("alsasrc", "gstreamer1.0-alsa"),
    ("pulsesrc", "gstreamer1.0-pulseaudio"),
    ("avdec_h264", "gstreamer1.0-libav"),
    ("rtmp2sink", "gstreamer1.0-plugins-bad"),
    ("flvmux", "gstreamer1.0-plugins-good"),
    ("compositor", "gstreamer1.0-plugins-base"),
    ("audiomixer", "gstreamer1.0-plugins-base"),
];

/// What restreaming needs (see [`restream`]).
pub const RESTREAM_ELEMENTS: &[&str] = &["rtmp2sink", "flvmux"];
/// What a channel with more cameras or a backup source needs (see
/// [`Program`]).
pub const CAMERAS_ELEMENTS: &[&str] = &["compositor", "audiomixer"];

/// Checks that `element` exists, naming the package that ships it.
pub fn require(element: &'static str) -> Result<(), MediaError> {
    if gst::ElementFactory::find(element).is_some() {
        return Ok(());
    }
    let package = REQUIRED_ELEMENTS
        .iter()
        .chain(INGEST_ELEMENTS)
        .find(|(e, _)| *e == element)
        .map_or("gstreamer1.0-plugins-bad", |(_, p)| p);
    Err(MediaError::MissingElement { element, package })
}

/// Initialises GStreamer once and checks that every element we use exists.
pub fn init() -> Result<(), MediaError> {
    gst::init().map_err(|e| MediaError::Init(e.to_string()))?;
    for &(element, package) in REQUIRED_ELEMENTS {
        if gst::ElementFactory::find(element).is_none() {
            return Err(MediaError::MissingElement { element, package });
        }
    }
    Ok(())
}
