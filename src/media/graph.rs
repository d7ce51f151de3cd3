//! The encode graph of a channel as a `gst-launch-1.0` description.
//!
//! The same text drives the service (with appsinks) and the benchmark's
//! baseline (with fakesinks), so the two encode exactly the same graph.

use std::fmt::Write;

/// What a channel captures.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// Moving test picture with the wall clock burnt in, and a beep every second.
    Test,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoSpec {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
}

/// Everything needed to build one channel's graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphSpec {
    pub source: SourceSpec,
    pub framerate: u32,
    pub x264_preset: String,
    /// Largest first; the first one is the reference for the segment clock.
    pub video: Vec<VideoSpec>,
    pub audio_bitrate_kbps: u32,
    pub audio_rate: u32,
    /// Frames between natural keyframes; forced keyframes come sooner.
    pub key_int_max: u32,
}

/// Where the encoded streams end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// `appsink name=vsinkN` / `asink`, read by the service.
    AppSink,
    /// `fakesink`, for the benchmark baseline.
    FakeSink,
}

/// Name of the encoder element of video rendition `i`.
pub fn video_encoder_name(i: usize) -> String {
    format!("venc{i}")
}

/// Name of the sink element of video rendition `i`.
pub fn video_sink_name(i: usize) -> String {
    format!("vsink{i}")
}

pub const AUDIO_SINK_NAME: &str = "asink";

impl GraphSpec {
    /// The graph as a `gst-launch-1.0` pipeline description.
    pub fn launch_description(&self, sinks: SinkKind) -> String {
        let sink = |name: &str| {
            match sinks {
            SinkKind::AppSink => format!(
                "appsink name={name} sync=false async=false max-buffers=0 drop=false enable-last-sample=false"
            ),
            SinkKind::FakeSink => format!("fakesink name={name} sync=false async=false"),
        }
        };
        let (w, h) = self
            .video
            .first()
            .map(|v| (v.width, v.height))
            .unwrap_or((1280, 720));
        let fps = self.framerate;
        let mut d = String::new();
        match self.source {
            SourceSpec::Test => {
                let font = (h / 16).max(10);
                let _ = write!(
                    d,
                    "videotestsrc is-live=true pattern=smpte horizontal-speed=2 \
                     ! video/x-raw,format=I420,width={w},height={h},framerate={fps}/1,pixel-aspect-ratio=1/1 \
                     ! clockoverlay time-format=\"%H:%M:%S\" halignment=center valignment=center \
                     shaded-background=true font-desc=\"Sans Bold {font}px\" \
                     ! tee name=vsrc "
                );
                let _ = write!(
                    d,
                    "audiotestsrc is-live=true wave=ticks freq=1000 volume=0.6 \
                     sine-periods-per-tick=100 tick-interval=1000000000 samplesperbuffer=1024 \
                     ! audio/x-raw,channels=2 ! audioconvert ! audioresample \
                     ! audio/x-raw,rate={rate},channels=2 ! queue ",
                    rate = self.audio_rate
                );
            }
        }
        let _ = write!(
            d,
            "! avenc_aac bitrate={} ! aacparse ! audio/mpeg,mpegversion=4,stream-format=raw ! {} ",
            self.audio_bitrate_kbps * 1000,
            sink(AUDIO_SINK_NAME)
        );
        for (i, v) in self.video.iter().enumerate() {
            let _ = write!(
                d,
                "vsrc. ! queue ! videoscale ! video/x-raw,width={w},height={h},pixel-aspect-ratio=1/1 \
                 ! x264enc name={enc} tune=zerolatency speed-preset={preset} bitrate={br} \
                 key-int-max={kim} bframes=0 \
                 ! video/x-h264,profile=high,stream-format=avc,alignment=au ! h264parse ! {sink} ",
                w = v.width,
                h = v.height,
                enc = video_encoder_name(i),
                preset = self.x264_preset,
                br = v.bitrate_kbps,
                kim = self.key_int_max,
                sink = sink(&video_sink_name(i)),
            );
        }
        d.trim_end().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_differs_from_the_service_graph_only_in_its_sinks() {
        let spec = GraphSpec {
            source: SourceSpec::Test,
            framerate: 25,
            x264_preset: "veryfast".into(),
            video: vec![VideoSpec {
                name: "360p".into(),
                width: 640,
                height: 360,
                bitrate_kbps: 800,
            }],
            audio_bitrate_kbps: 128,
            audio_rate: 48_000,
            key_int_max: 100,
        };
        let app = spec.launch_description(SinkKind::AppSink);
        let fake = spec.launch_description(SinkKind::FakeSink);
        assert!(
            app.contains("x264enc name=venc0 tune=zerolatency speed-preset=veryfast bitrate=800")
        );
        assert!(app.contains("appsink name=vsink0") && app.contains("appsink name=asink"));
        let strip = |s: &str| {
            s.split(" ! ")
                .filter(|e| !e.contains("sink name="))
                .collect::<Vec<_>>()
                .join(" ! ")
        };
        assert_eq!(strip(&app), strip(&fake));
    }
}
