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
    /// Picture and sound handed over by a separate ingest pipeline (see
    /// `media::ingest`) through `intervideo`/`interaudio` channels named
    /// after `name`: this graph keeps running at its own pace whatever the
    /// source does, and shows the last picture for `timeout_ns` when it
    /// stops, then black (with the failover slate's text over it).
    Inter { name: String, timeout_ns: u64 },
}

/// The failover slate's text elements on the program branch of an ingested
/// source: silent while the source delivers.
pub const FAILOVER_TITLE_NAME: &str = "failover_title";
/// The lower third's `textoverlay`, last on the program branch (silent while
/// nothing is shown; see `media::graphics`).
pub const LOWER_THIRD_NAME: &str = "lower_third";

/// The `compositor` the cameras of a multi-camera channel meet in: pad
/// `sink_N` is input N.
pub const CAMERAS_NAME: &str = "cams";

/// The `audiomixer` the sounds of a multi-camera channel meet in: pad
/// `sink_N` is input N, its `volume` set by `media::Program::audio_gains`.
pub const MICS_NAME: &str = "mics";

/// The name of a failover element of input `i` (0: the constant itself).
pub fn input_element(name: &str, i: usize) -> String {
    if i == 0 {
        name.to_owned()
    } else {
        format!("{name}_{i}")
    }
}

/// The `intervideosrc` an ingested source's picture comes out of.
pub const INTER_VIDEO_NAME: &str = "program_in";
pub const FAILOVER_INFO_NAME: &str = "failover_info";
pub const FAILOVER_CLOCK_NAME: &str = "failover_clock";
/// What the failover slate says (Polish: technical break).
pub const FAILOVER_TITLE: &str = "Przerwa techniczna";

/// The `intervideo` channel of an ingested source.
pub fn inter_video_channel(name: &str) -> String {
    format!("obrady-{name}-video")
}

/// The `interaudio` channel of an ingested source.
pub fn inter_audio_channel(name: &str) -> String {
    format!("obrady-{name}-audio")
}

/// The raw video every source is turned into before the encoders.
pub fn raw_video_caps(width: u32, height: u32, fps: u32) -> String {
    format!(
        "video/x-raw,format=I420,width={width},height={height},framerate={fps}/1,pixel-aspect-ratio=1/1"
    )
}

/// The raw audio every source is turned into before the encoder.
pub fn raw_audio_caps(rate: u32) -> String {
    format!(
        "audio/x-raw,format=F32LE,layout=interleaved,rate={rate},channels=2,channel-mask=(bitmask)0x3"
    )
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
    /// More cameras (ingested, see [`SourceSpec::Inter`]): (inter name,
    /// timeout). With any, the inputs meet in a `compositor` ([`CAMERAS_NAME`])
    /// whose pads the operator switches (a cut) or lays over each other
    /// (picture in picture), and their sounds in an `audiomixer`
    /// ([`MICS_NAME`]) whose pads' volumes choose one input's sound, the
    /// camera on the air's, or all of them.
    pub extra_inputs: Vec<(String, u64)>,
    /// The last of `extra_inputs` is the channel's backup source, which
    /// stands in for a lost camera (see `media::Program::on_air`).
    pub backup: bool,
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

/// The `level` element that measures the programme audio as broadcast (after
/// the privacy switch) for the operator's meters.
pub const AUDIO_LEVEL_NAME: &str = "alevel";
/// How often it reports: ten times a second.
pub const LEVEL_INTERVAL_NS: u64 = 100_000_000;

/// The test source's picture generator (`videotestsrc`), whose scene can be
/// switched while it runs (see [`TestScene`]).
pub const TEST_VIDEO_NAME: &str = "testvideo";
/// The test source's sound generator (`audiotestsrc`).
pub const TEST_AUDIO_NAME: &str = "testaudio";

/// What the test source shows. Operators switch it to check the chain end to
/// end ("is the tone reaching the hall's speakers?"), and the suite uses the
/// card as a picture and sound that can never be mistaken for anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestScene {
    /// Moving SMPTE bars with the clock, a 1 kHz beep every second.
    #[default]
    Bars,
    /// A plain magenta card with the clock, a continuous 440 Hz tone.
    Card,
    /// The bars without a sound (checks the silence alert).
    Mute,
}

impl TestScene {
    pub fn as_str(self) -> &'static str {
        match self {
            TestScene::Bars => "bars",
            TestScene::Card => "card",
            TestScene::Mute => "mute",
        }
    }

    /// Every scene, in the order of [`Self::index`].
    pub const ALL: [TestScene; 3] = [TestScene::Bars, TestScene::Card, TestScene::Mute];

    pub fn index(self) -> u8 {
        match self {
            TestScene::Bars => 0,
            TestScene::Card => 1,
            TestScene::Mute => 2,
        }
    }

    pub fn parse(s: &str) -> Option<TestScene> {
        match s {
            "bars" => Some(TestScene::Bars),
            "card" => Some(TestScene::Card),
            "mute" => Some(TestScene::Mute),
            _ => None,
        }
    }

    /// `videotestsrc` properties (name, value as gst-launch spells it).
    pub fn video_properties(self) -> [(&'static str, &'static str); 2] {
        match self {
            TestScene::Bars | TestScene::Mute => {
                [("pattern", "smpte"), ("foreground-color", "0xffffffff")]
            }
            TestScene::Card => [
                ("pattern", "solid-color"),
                ("foreground-color", "0xffff00ff"),
            ],
        }
    }

    /// `audiotestsrc` properties (name, value as gst-launch spells it).
    pub fn audio_properties(self) -> [(&'static str, &'static str); 3] {
        match self {
            TestScene::Bars => [("wave", "ticks"), ("freq", "1000"), ("volume", "0.6")],
            TestScene::Card => [("wave", "sine"), ("freq", "440"), ("volume", "0.5")],
            TestScene::Mute => [("wave", "ticks"), ("freq", "1000"), ("volume", "0")],
        }
    }
}

/// The `input-selector` in front of the video encoders: the camera on
/// [`PROGRAM_PAD`], the slate on [`REPLACEMENT_PAD`].
pub const VIDEO_SELECTOR_NAME: &str = "vprivacy";
/// The `input-selector` in front of the audio encoder: the microphone on
/// [`PROGRAM_PAD`], silence on [`REPLACEMENT_PAD`].
pub const AUDIO_SELECTOR_NAME: &str = "aprivacy";
/// Selector pad of what the chamber sends (camera, microphone).
pub const PROGRAM_PAD: &str = "sink_0";
/// Selector pad of what replaces it while the session is not public.
pub const REPLACEMENT_PAD: &str = "sink_1";
/// Samples per buffer of the test tone and of the silence: the two must be
/// equal so that silence can be laid on the tone's buffer grid.
pub const AUDIO_BLOCK_SAMPLES: u32 = 1024;

/// What the slate says (Polish: the broadcast shows it while the session is
/// not public, art. 61 ust. 3 Konstytucji).
pub const SLATE_TITLE: &str = "Wyłączenie jawności obrad";
pub const SLATE_SUBTITLE: &str =
    "Transmisja zostanie wznowiona po zakończeniu tej części posiedzenia";

/// Both selectors' settings, chosen for two *live* branches on one clock:
///
/// - `sync-streams=false`: a buffer arriving on the inactive pad is dropped
///   at once. With `true` the inactive branch's streaming thread would wait
///   (on the active branch's position, or on the clock with `sync-mode=clock`)
///   before being dropped: that only serves non-live playback, where an
///   inactive stream could run ahead; live branches cannot run ahead, and a
///   wait would couple the slate's thread to a camera that may stall.
/// - `cache-buffers=false`: nothing is kept to be replayed when a pad becomes
///   active again, so no buffer from before a switch can come out after it.
///
/// `drop-backwards` needs `sync-streams`; monotonic output is instead ensured
/// by laying the replacement on the program's timestamp grid (see
/// `media::privacy`), which also keeps the encoders' input evenly spaced.
///
/// On every switch a selector sends the new pad's SEGMENT event downstream;
/// the AAC encoder (a GstAudioEncoder) drains and resets on any SEGMENT, which
/// would break the AAC timeline. `identity single-segment=true` after each
/// selector passes the first SEGMENT and eats the rest (both branches run in
/// the same running time, so no timestamp changes).
const SELECTOR_SETTINGS: &str = "sync-streams=false cache-buffers=false";

/// The AAC encoder, with the sample format it takes. It is `voaacenc`, not
/// libav's `avenc_aac`: on Debian 12 (FFmpeg 5.1) `avenc_aac` now and then
/// writes a frame that no decoder accepts (FFmpeg: "error in spectral data,
/// ESC overflow"; Chromium: `PIPELINE_ERROR_DECODE`, which stops hls.js
/// playback). See ARCHITECTURE.md, "Decisions", for what was measured.
const AAC_ENCODER: &str = "audioconvert ! audio/x-raw,format=S16LE ! voaacenc";

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
        let rate = self.audio_rate;
        // Both branches of a selector end in exactly these caps, so a switch
        // never renegotiates an encoder.
        let video_caps = raw_video_caps(w, h, fps);
        let audio_caps = raw_audio_caps(rate);
        // The lower third: bottom left, on a shaded band, over the program
        // only (never on the slate of a non-public part).
        let lower_third = format!(
            "textoverlay name={LOWER_THIRD_NAME} silent=true text=\"\" \
             font-desc=\"Sans {size}px\" halignment=left valignment=bottom \
             xpad={pad} ypad={pad} shaded-background=true wrap-mode=word",
            size = (h / 40).max(8),
            pad = (h / 24).max(4),
        );
        // Where the first input's picture goes: straight on (one input), or
        // into the cameras' compositor.
        let program_end = if self.extra_inputs.is_empty() {
            format!("{lower_third} ! {VIDEO_SELECTOR_NAME}.{PROGRAM_PAD}")
        } else {
            format!("{CAMERAS_NAME}.sink_0")
        };
        // And its sound: straight on, or into the microphones' mixer.
        let program_sound_end = if self.extra_inputs.is_empty() {
            format!("{AUDIO_SELECTOR_NAME}.{PROGRAM_PAD}")
        } else {
            format!("{MICS_NAME}.sink_0")
        };
        // An ingested picture: intervideosrc, the raw caps, and the failover
        // slate's text, drawn only while it is on (`silent` otherwise).
        let inter_video = |name: &str, timeout_ns: u64, i: usize, end: &str| {
            format!(
                "intervideosrc name={input} channel={vchan} timeout={timeout_ns} \
                 ! videoconvert ! videoscale ! {video_caps} \
                 ! textoverlay name={ftitle} silent=true text=\"{FAILOVER_TITLE}\" \
                 font-desc=\"Sans Bold {title}px\" halignment=center valignment=position ypos=0.40 \
                 ! textoverlay name={finfo} silent=true text=\"\" font-desc=\"Sans {line}px\" \
                 halignment=center valignment=position ypos=0.52 wrap-mode=word \
                 ! clockoverlay name={fclock} silent=true time-format=\"%H:%M:%S\" \
                 font-desc=\"Sans Bold {clock}px\" halignment=center valignment=position ypos=0.64 \
                 ! {end} ",
                input = input_element(INTER_VIDEO_NAME, i),
                vchan = inter_video_channel(name),
                ftitle = input_element(FAILOVER_TITLE_NAME, i),
                finfo = input_element(FAILOVER_INFO_NAME, i),
                fclock = input_element(FAILOVER_CLOCK_NAME, i),
                title = (h * 3 / 80).max(8),
                line = (h / 48).max(6),
                clock = (h / 40).max(6),
            )
        };
        let mut d = String::new();
        if !self.extra_inputs.is_empty() {
            // The cameras meet here; the first one is on the air at start
            // (the others are transparent until cut to).
            let _ = write!(
                d,
                "compositor name={CAMERAS_NAME} background=black \
                 ! {video_caps} ! {lower_third} ! {VIDEO_SELECTOR_NAME}.{PROGRAM_PAD} "
            );
            // Their sounds meet here, on the selector's buffer grid; only
            // input 0's is heard at start (see `media::Program`).
            let _ = write!(
                d,
                "audiomixer name={MICS_NAME} ! {audio_caps} \
                 ! audiobuffersplit output-buffer-duration={AUDIO_BLOCK_SAMPLES}/{rate} \
                 ! {AUDIO_SELECTOR_NAME}.{PROGRAM_PAD} "
            );
            for (k, (name, timeout_ns)) in self.extra_inputs.iter().enumerate() {
                let i = k + 1;
                d.push_str(&inter_video(
                    name,
                    *timeout_ns,
                    i,
                    &format!("{CAMERAS_NAME}.sink_{i}"),
                ));
                let _ = write!(
                    d,
                    "interaudiosrc channel={achan} ! audioconvert ! audioresample ! {audio_caps} \
                     ! {MICS_NAME}.sink_{i} ",
                    achan = inter_audio_channel(name),
                );
            }
        }
        let _ = write!(
            d,
            "input-selector name={VIDEO_SELECTOR_NAME} {SELECTOR_SETTINGS} \
             ! identity single-segment=true ! tee name=vsrc \
             input-selector name={AUDIO_SELECTOR_NAME} {SELECTOR_SETTINGS} \
             ! identity single-segment=true ! queue \
             ! level name={AUDIO_LEVEL_NAME} interval={LEVEL_INTERVAL_NS} post-messages=true \
             ! {AAC_ENCODER} bitrate={} ! aacparse \
             ! audio/mpeg,mpegversion=4,stream-format=raw ! {} ",
            self.audio_bitrate_kbps * 1000,
            sink(AUDIO_SINK_NAME)
        );
        // The program: what the chamber sends.
        match &self.source {
            SourceSpec::Test => {
                let font = (h / 16).max(10);
                let _ = write!(
                    d,
                    "videotestsrc name={TEST_VIDEO_NAME} is-live=true pattern=smpte horizontal-speed=2 \
                     ! {video_caps} \
                     ! clockoverlay time-format=\"%H:%M:%S\" halignment=center valignment=center \
                     shaded-background=true font-desc=\"Sans Bold {font}px\" \
                     ! {program_end} "
                );
                let _ = write!(
                    d,
                    "audiotestsrc name={TEST_AUDIO_NAME} is-live=true wave=ticks freq=1000 volume=0.6 \
                     sine-periods-per-tick=100 tick-interval=1000000000 \
                     samplesperbuffer={AUDIO_BLOCK_SAMPLES} \
                     ! audio/x-raw,channels=2 ! audioconvert ! audioresample \
                     ! {audio_caps} ! {program_sound_end} "
                );
            }
            SourceSpec::Inter { name, timeout_ns } => {
                d.push_str(&inter_video(name, *timeout_ns, 0, &program_end));
                // Silence while nothing arrives; buffers of the slate's
                // silence size, so a private part's silence lies on their grid.
                let split = if self.extra_inputs.is_empty() {
                    format!(
                        "audiobuffersplit output-buffer-duration={AUDIO_BLOCK_SAMPLES}/{rate} ! "
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    d,
                    "interaudiosrc channel={achan} ! audioconvert ! audioresample ! {audio_caps} \
                     ! {split}{program_sound_end} ",
                    achan = inter_audio_channel(name),
                );
            }
        }
        // The replacement: a slate and silence, live on the same clock. The
        // slate's text is drawn once (blending it into every frame costs
        // ~14 % of a core at 720p) and repeated by imagefreeze; only the
        // clock is drawn per frame.
        let _ = write!(
            d,
            "videotestsrc num-buffers=1 pattern=solid-color foreground-color=0xff1a1d24 \
             ! {video_caps} \
             ! textoverlay text=\"{SLATE_TITLE}\" font-desc=\"Sans Bold {title}px\" \
             halignment=center valignment=position ypos=0.40 wrap-mode=word \
             ! textoverlay text=\"{SLATE_SUBTITLE}\" font-desc=\"Sans {line}px\" \
             halignment=center valignment=position ypos=0.52 wrap-mode=word \
             ! imagefreeze is-live=true ! {video_caps} \
             ! clockoverlay time-format=\"%H:%M:%S\" font-desc=\"Sans Bold {clock}px\" \
             halignment=center valignment=position ypos=0.64 \
             ! {VIDEO_SELECTOR_NAME}.{REPLACEMENT_PAD} ",
            // Pango draws these about 1.8× the nominal size: 27/15/18 at 720p.
            title = (h * 3 / 80).max(8),
            line = (h / 48).max(6),
            clock = (h / 40).max(6),
        );
        let _ = write!(
            d,
            "audiotestsrc is-live=true wave=silence samplesperbuffer={AUDIO_BLOCK_SAMPLES} \
             ! {audio_caps} ! {AUDIO_SELECTOR_NAME}.{REPLACEMENT_PAD} "
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
            extra_inputs: Vec::new(),
            backup: false,
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

    #[test]
    fn program_and_replacement_meet_in_named_selectors_with_equal_caps() {
        let spec = GraphSpec {
            source: SourceSpec::Test,
            extra_inputs: Vec::new(),
            backup: false,
            framerate: 25,
            x264_preset: "veryfast".into(),
            video: vec![VideoSpec {
                name: "720p".into(),
                width: 1280,
                height: 720,
                bitrate_kbps: 2500,
            }],
            audio_bitrate_kbps: 128,
            audio_rate: 48_000,
            key_int_max: 100,
        };
        let d = spec.launch_description(SinkKind::AppSink);
        for sel in [VIDEO_SELECTOR_NAME, AUDIO_SELECTOR_NAME] {
            assert!(d.contains(&format!(
                "input-selector name={sel} sync-streams=false cache-buffers=false"
            )));
            for pad in [PROGRAM_PAD, REPLACEMENT_PAD] {
                assert_eq!(
                    d.matches(&format!("{sel}.{pad} ")).count(),
                    1,
                    "{sel}.{pad}"
                );
            }
        }
        // Whatever feeds a selector ends in the same caps on both pads.
        let caps_before = |pad: &str| {
            let end = d.find(pad).expect("pad linked");
            let chain = &d[..end];
            let caps = chain
                .rsplit(" ! ")
                .find(|e| e.starts_with("video/x-raw") || e.starts_with("audio/x-raw"));
            caps.expect("caps before the pad").trim().to_owned()
        };
        assert_eq!(
            caps_before(&format!("{VIDEO_SELECTOR_NAME}.{PROGRAM_PAD} ")),
            caps_before(&format!("{VIDEO_SELECTOR_NAME}.{REPLACEMENT_PAD} "))
        );
        assert_eq!(
            caps_before(&format!("{AUDIO_SELECTOR_NAME}.{PROGRAM_PAD} ")),
            caps_before(&format!("{AUDIO_SELECTOR_NAME}.{REPLACEMENT_PAD} "))
        );
        assert!(d.contains(SLATE_TITLE) && d.contains(SLATE_SUBTITLE));
        assert!(d.contains("wave=silence"));
    }
}
