//! CMAF/fMP4 without GStreamer: track descriptions, the init-segment and
//! fragment writer, a box reader for checks, and the segmenter that cuts
//! elementary-stream samples into LL-HLS parts and segments.
//!
//! Everything here is plain data in, bytes out: no I/O, no clocks, no threads.

pub mod reader;
pub mod segmenter;
pub mod writer;

use bytes::Bytes;

/// What the fMP4 writer needs to describe one track in an init segment.
#[derive(Debug, Clone, PartialEq)]
pub enum Codec {
    /// H.264 in AVC format (length-prefixed NAL units).
    H264 {
        /// The avcC record (`codec_data` of the caps).
        avcc: Bytes,
        width: u32,
        height: u32,
    },
    /// AAC with raw access units.
    Aac {
        /// The AudioSpecificConfig (`codec_data` of the caps).
        asc: Bytes,
        rate: u32,
        channels: u32,
    },
}

impl Codec {
    pub fn is_video(&self) -> bool {
        matches!(self, Codec::H264 { .. })
    }

    /// Media timescale written in `mdhd` and used for every time in fragments.
    pub fn timescale(&self) -> u32 {
        match self {
            Codec::H264 { .. } => 90_000,
            Codec::Aac { rate, .. } => *rate,
        }
    }

    /// RFC 6381 codec string, e.g. `avc1.64001f` or `mp4a.40.2`.
    pub fn rfc6381(&self) -> String {
        match self {
            Codec::H264 { avcc, .. } if avcc.len() >= 4 => {
                format!("avc1.{:02x}{:02x}{:02x}", avcc[1], avcc[2], avcc[3])
            }
            Codec::H264 { .. } => "avc1.640028".to_owned(),
            Codec::Aac { asc, .. } => {
                let object_type = asc.first().map(|b| b >> 3).unwrap_or(2);
                format!("mp4a.40.{}", if object_type == 0 { 2 } else { object_type })
            }
        }
    }
}

/// One encoded access unit with its timing, in nanoseconds of pipeline
/// running time (the same clock for every track of a channel).
#[derive(Debug, Clone)]
pub struct Sample {
    pub pts_ns: u64,
    pub duration_ns: u64,
    pub keyframe: bool,
    pub data: Bytes,
}
