//! The only module that touches GStreamer: builds a channel's capture and
//! encode graph, hands encoded samples to the application through a channel,
//! forces keyframes on request, and reports the bus.
//!
//! Callbacks here never block and never await: they copy the sample out and
//! send it on an unbounded channel, then return.

mod graph;
mod pipeline;
mod privacy;

pub use graph::{GraphSpec, SinkKind, SourceSpec, TestScene, VideoSpec};
pub use pipeline::{MediaEvent, Pipeline};

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
    ("avenc_aac", "gstreamer1.0-libav"),
    ("aacparse", "gstreamer1.0-plugins-good"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
];

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
