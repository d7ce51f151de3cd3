//! Deployment configuration: `config/default.toml`, overlaid by `--config FILE`,
//! then by environment variables and command-line flags.
//!
//! The shipped default file is embedded in the binary and is the single source
//! of default values: a user file only needs the keys it changes. Unknown keys
//! and wrong types are errors that name the file and the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The shipped defaults, embedded so the binary runs from anywhere.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// A configuration problem, always naming where it was found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {file}: {message}")]
    Syntax { file: String, message: String },
    #[error("config file {file}: key `{key}`: {message}")]
    Key {
        file: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub storage: StorageConfig,
    pub hls: HlsConfig,
    pub encoding: EncodingConfig,
    #[serde(rename = "channel")]
    pub channels: Vec<ChannelConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub web_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HlsConfig {
    /// Seconds per partial segment.
    pub part_duration: f64,
    /// Seconds per media segment.
    pub segment_duration: f64,
    /// Seconds of live stream kept in memory per rendition.
    pub window: f64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EncodingConfig {
    pub x264_preset: String,
    pub framerate: u32,
    /// kbit/s
    pub audio_bitrate: u32,
    pub audio_rate: u32,
    pub video: Vec<VideoRenditionConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VideoRenditionConfig {
    pub name: String,
    pub width: u32,
    pub height: u32,
    /// kbit/s
    pub bitrate: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub id: String,
    pub name: String,
    pub source: SourceConfig,
    /// Seconds without picture or sound from the source after which the
    /// slate goes on the air (and the source is reconnected).
    #[serde(default = "default_source_timeout")]
    pub source_timeout: f64,
    /// Seconds of silence on the programme audio before the operator is
    /// alerted.
    #[serde(default = "default_silence_alert")]
    pub silence_alert: f64,
    /// Seconds of clipping (peaks at full scale) before the operator is
    /// alerted.
    #[serde(default = "default_clipping_alert")]
    pub clipping_alert: f64,
    /// RTMP(S) destinations the programme is pushed to while a session is
    /// live (YouTube, Facebook).
    #[serde(default)]
    pub restream: Vec<RestreamConfig>,
    /// More cameras (up to two), cut to from the API; `source` is input 0.
    #[serde(default)]
    pub inputs: Vec<InputConfig>,
    /// A source that stands in for whichever camera is on the air while it
    /// delivers nothing (before the "Przerwa techniczna" slate), e.g. a
    /// second camera on its own cable or the mixer's SRT feed.
    #[serde(default)]
    pub backup: Option<SourceConfig>,
}

impl ChannelConfig {
    /// The backup source's input number: after camera 0 (`source`) and the
    /// other cameras (`inputs`).
    pub fn backup_input(&self) -> usize {
        self.inputs.len() + 1
    }
}

/// Another camera of a channel.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Shown to the operator, e.g. "mownica" (letters, digits, '-', '_').
    pub name: String,
    /// Any source but the test source.
    pub source: SourceConfig,
}

/// An RTMP(S) destination; the stream key is a secret.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RestreamConfig {
    /// e.g. "rtmp://a.rtmp.youtube.com/live2" or "rtmps://…".
    pub url: String,
    pub key: String,
}

impl std::fmt::Debug for RestreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/***", redact_url(&self.url))
    }
}

fn default_source_timeout() -> f64 {
    2.0
}

fn default_silence_alert() -> f64 {
    10.0
}

fn default_clipping_alert() -> f64 {
    2.0
}

/// Where a channel's picture and sound come from.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// The embedded test source: moving picture, burnt-in wall clock, beeps.
    Test,
    /// An IP camera or encoder over RTSP; credentials may be in the URL
    /// (`rtsp://user:password@host/path`) and are never logged or shown.
    Rtsp {
        url: String,
        #[serde(default)]
        transport: RtspTransport,
    },
    /// SRT: `listener` waits for a sender (OBS, vMix) on `address`;
    /// `caller` connects to one there.
    Srt {
        mode: SrtMode,
        address: String,
        #[serde(default)]
        passphrase: Option<String>,
        /// Receive latency, ms.
        #[serde(default = "default_srt_latency")]
        latency_ms: u32,
    },
    /// A camera and microphone of this machine.
    Device {
        /// V4L2 device, e.g. `/dev/video0`.
        video: PathBuf,
        /// `alsa:hw:1,0`, `pulse:default` (or `pulse:` for the default
        /// PulseAudio source); none for a camera without sound.
        #[serde(default)]
        audio: Option<String>,
    },
    /// A media file played in a loop (rehearsals).
    File { path: PathBuf },
}

fn default_srt_latency() -> u32 {
    200
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    #[default]
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SrtMode {
    Listener,
    Caller,
}

/// Secrets (RTSP password, SRT passphrase) never reach a log or a response.
impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SourceConfig {
    /// What the source is, for logs and pages, without its secrets.
    pub fn describe(&self) -> String {
        match self {
            SourceConfig::Test => "test source".into(),
            SourceConfig::Rtsp { url, transport } => {
                format!("RTSP {} over {transport:?}", redact_url(url))
            }
            SourceConfig::Srt {
                mode,
                address,
                passphrase,
                ..
            } => format!(
                "SRT {mode:?} {address}{}",
                if passphrase.is_some() {
                    " (encrypted)"
                } else {
                    ""
                }
            ),
            SourceConfig::Device { video, audio } => format!(
                "device {} + {}",
                video.display(),
                audio.as_deref().unwrap_or("no sound")
            ),
            SourceConfig::File { path } => format!("file {} (looped)", path.display()),
        }
    }

    /// Checks what types cannot express; returns (key under the source,
    /// what was expected).
    fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            SourceConfig::Test => Ok(()),
            SourceConfig::Rtsp { url, .. } => {
                let rest = url
                    .strip_prefix("rtsp://")
                    .or_else(|| url.strip_prefix("rtsps://"));
                let host = rest.map(|r| r.rsplit_once('@').map_or(r, |(_, h)| h));
                match host {
                    Some(h)
                        if !h.is_empty()
                            && !h.starts_with('/')
                            && !url.contains(char::is_whitespace) =>
                    {
                        Ok(())
                    }
                    _ => Err((
                        "url",
                        format!(
                            "expected rtsp://[user:password@]host[:port]/path, got {:?}",
                            redact_url(url)
                        ),
                    )),
                }
            }
            SourceConfig::Srt {
                address,
                passphrase,
                latency_ms,
                ..
            } => {
                let port = address
                    .rsplit_once(':')
                    .filter(|(host, _)| !host.is_empty())
                    .and_then(|(_, p)| p.parse::<u16>().ok())
                    .filter(|&p| p > 0);
                if port.is_none() {
                    return Err((
                        "address",
                        format!("expected host:port (e.g. 0.0.0.0:9000), got {address:?}"),
                    ));
                }
                if let Some(p) = passphrase {
                    if !(10..=79).contains(&p.chars().count()) {
                        return Err((
                            "passphrase",
                            format!(
                                "expected 10 to 79 characters (SRT's limits), got {}",
                                p.chars().count()
                            ),
                        ));
                    }
                }
                if !(20..=8000).contains(latency_ms) {
                    return Err((
                        "latency_ms",
                        format!("expected 20 to 8000 ms, got {latency_ms}"),
                    ));
                }
                Ok(())
            }
            SourceConfig::Device { video, audio } => {
                if !video.is_absolute() {
                    return Err((
                        "video",
                        format!("expected a device path such as /dev/video0, got {video:?}"),
                    ));
                }
                match audio.as_deref() {
                    None => Ok(()),
                    Some(a) if a.starts_with("alsa:") || a.starts_with("pulse:") => Ok(()),
                    Some(a) => Err((
                        "audio",
                        format!(
                            "expected alsa:DEVICE (e.g. alsa:hw:1,0) or pulse:SOURCE, got {a:?}"
                        ),
                    )),
                }
            }
            SourceConfig::File { path } => {
                if path.is_file() {
                    Ok(())
                } else {
                    Err(("path", format!("no such file: {}", path.display())))
                }
            }
        }
    }
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

const X264_PRESETS: &[&str] = &[
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];

impl Config {
    /// The embedded defaults.
    pub fn embedded_default() -> Config {
        Self::from_layers(None).expect("the embedded config/default.toml is valid")
    }

    /// Defaults overlaid by `file`, if given.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        match file {
            None => Self::from_layers(None),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::from_layers(Some((&path.display().to_string(), &text)))
            }
        }
    }

    /// Defaults overlaid by a named TOML text (the name is used in errors).
    pub fn from_layers(user: Option<(&str, &str)>) -> Result<Config, ConfigError> {
        let mut merged = parse_table("config/default.toml (embedded)", DEFAULT_TOML)?;
        let file = match user {
            Some((name, text)) => {
                let overlay = parse_table(name, text)?;
                merge(&mut merged, overlay);
                name.to_owned()
            }
            None => "config/default.toml (embedded)".to_owned(),
        };
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(merged)).map_err(|e| {
                ConfigError::Key {
                    file: file.clone(),
                    key: e.path().to_string(),
                    message: e.into_inner().to_string().trim().to_owned(),
                }
            })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::Key { file, key, message })?;
        Ok(config)
    }

    /// Checks what types cannot express; returns (key, what was expected).
    fn validate(&self) -> Result<(), (String, String)> {
        let fps = f64::from(self.encoding.framerate);
        let h = &self.hls;
        if !(1..=120).contains(&self.encoding.framerate) {
            return Err((
                "encoding.framerate".into(),
                format!(
                    "expected 1 to 120 frames per second, got {}",
                    self.encoding.framerate
                ),
            ));
        }
        if !in_range(h.part_duration, 0.1, 2.0) {
            return Err((
                "hls.part_duration".into(),
                format!("expected 0.1 to 2.0 seconds, got {}", h.part_duration),
            ));
        }
        let frames_per_part = h.part_duration * fps;
        if (frames_per_part - frames_per_part.round()).abs() > 1e-6 {
            return Err((
                "hls.part_duration".into(),
                format!(
                    "expected a whole number of frames at {} fps (e.g. {:.2}), got {}",
                    self.encoding.framerate,
                    frames_per_part.round().max(1.0) / fps,
                    h.part_duration
                ),
            ));
        }
        let parts_per_segment = h.segment_duration / h.part_duration;
        if !in_range(h.segment_duration, 0.1, 10.0)
            || parts_per_segment < 1.0 - 1e-9
            || (parts_per_segment - parts_per_segment.round()).abs() > 1e-6
        {
            return Err((
                "hls.segment_duration".into(),
                format!(
                    "expected a whole multiple of hls.part_duration ({}) up to 10 seconds, got {}",
                    h.part_duration, h.segment_duration
                ),
            ));
        }
        if !in_range(h.window, 3.0 * h.segment_duration, 3600.0) {
            return Err((
                "hls.window".into(),
                format!(
                    "expected at least three segments ({} s) and at most 3600 s, got {}",
                    3.0 * h.segment_duration,
                    h.window
                ),
            ));
        }
        if !X264_PRESETS.contains(&self.encoding.x264_preset.as_str()) {
            return Err((
                "encoding.x264_preset".into(),
                format!(
                    "expected one of {}, got {:?}",
                    X264_PRESETS.join(", "),
                    self.encoding.x264_preset
                ),
            ));
        }
        // 320 kbit/s is the most the AAC encoder (voaacenc) takes.
        if !(16..=320).contains(&self.encoding.audio_bitrate) {
            return Err((
                "encoding.audio_bitrate".into(),
                format!(
                    "expected 16 to 320 kbit/s, got {}",
                    self.encoding.audio_bitrate
                ),
            ));
        }
        if ![32000, 44100, 48000].contains(&self.encoding.audio_rate) {
            return Err((
                "encoding.audio_rate".into(),
                format!(
                    "expected 32000, 44100 or 48000, got {}",
                    self.encoding.audio_rate
                ),
            ));
        }
        if self.encoding.video.is_empty() {
            return Err((
                "encoding.video".into(),
                "expected at least one video rendition".into(),
            ));
        }
        for (i, v) in self.encoding.video.iter().enumerate() {
            let key = |k: &str| format!("encoding.video[{i}].{k}");
            if !is_url_safe(&v.name) || v.name == "audio" {
                return Err((
                    key("name"),
                    format!(
                        "expected letters, digits, '-' or '_' (and not \"audio\"), got {:?}",
                        v.name
                    ),
                ));
            }
            if self.encoding.video[..i].iter().any(|o| o.name == v.name) {
                return Err((key("name"), format!("{:?} is used twice", v.name)));
            }
            if v.width < 16 || v.height < 16 || v.width > 7680 || v.height > 4320 {
                return Err((
                    key("width"),
                    format!(
                        "expected a size from 16x16 to 7680x4320, got {}x{}",
                        v.width, v.height
                    ),
                ));
            }
            if v.width % 2 != 0 || v.height % 2 != 0 {
                return Err((
                    key("width"),
                    format!(
                        "expected even width and height, got {}x{}",
                        v.width, v.height
                    ),
                ));
            }
            if !(50..=50_000).contains(&v.bitrate) {
                return Err((
                    key("bitrate"),
                    format!("expected 50 to 50000 kbit/s, got {}", v.bitrate),
                ));
            }
        }
        if self.channels.is_empty() {
            return Err(("channel".into(), "expected at least one [[channel]]".into()));
        }
        for (i, c) in self.channels.iter().enumerate() {
            if !is_url_safe(&c.id) {
                return Err((
                    format!("channel[{i}].id"),
                    format!("expected letters, digits, '-' or '_', got {:?}", c.id),
                ));
            }
            if self.channels[..i].iter().any(|o| o.id == c.id) {
                return Err((
                    format!("channel[{i}].id"),
                    format!("{:?} is used twice", c.id),
                ));
            }
            c.source
                .validate()
                .map_err(|(key, message)| (format!("channel[{i}].source.{key}"), message))?;
            for (key, v) in [
                ("silence_alert", c.silence_alert),
                ("clipping_alert", c.clipping_alert),
            ] {
                if !in_range(v, 0.5, 3600.0) {
                    return Err((
                        format!("channel[{i}].{key}"),
                        format!("expected 0.5 to 3600 seconds, got {v}"),
                    ));
                }
            }
            if c.inputs.len() > 2 {
                return Err((
                    format!("channel[{i}].inputs"),
                    format!(
                        "expected at most two more cameras (three in all), got {}",
                        c.inputs.len()
                    ),
                ));
            }
            for (j, input) in c.inputs.iter().enumerate() {
                let key = |k: &str| format!("channel[{i}].inputs[{j}].{k}");
                if !is_url_safe(&input.name) {
                    return Err((
                        key("name"),
                        format!("expected letters, digits, '-' or '_', got {:?}", input.name),
                    ));
                }
                if c.inputs[..j].iter().any(|o| o.name == input.name) {
                    return Err((key("name"), format!("{:?} is used twice", input.name)));
                }
                if input.source == SourceConfig::Test {
                    return Err((
                        key("source"),
                        "the test source can only be a channel's first input (`source`)".into(),
                    ));
                }
                input
                    .source
                    .validate()
                    .map_err(|(k, message)| (key(&format!("source.{k}")), message))?;
            }
            if let Some(backup) = &c.backup {
                if *backup == SourceConfig::Test {
                    return Err((
                        format!("channel[{i}].backup"),
                        "the test source cannot be a backup; give a camera, a sender, a \
                         device or a file"
                            .into(),
                    ));
                }
                backup
                    .validate()
                    .map_err(|(k, message)| (format!("channel[{i}].backup.{k}"), message))?;
            }
            for (j, r) in c.restream.iter().enumerate() {
                let key = |k: &str| format!("channel[{i}].restream[{j}].{k}");
                let host = r
                    .url
                    .strip_prefix("rtmp://")
                    .or_else(|| r.url.strip_prefix("rtmps://"))
                    .and_then(|rest| rest.split('/').next())
                    .filter(|h| !h.is_empty());
                if host.is_none() || r.url.contains(char::is_whitespace) {
                    return Err((
                        key("url"),
                        format!(
                            "expected rtmp://host/app or rtmps://host/app, got {:?}",
                            redact_url(&r.url)
                        ),
                    ));
                }
                if r.key.trim().is_empty() || r.key.contains(char::is_whitespace) {
                    return Err((
                        key("key"),
                        "expected the stream key from the platform (no spaces)".into(),
                    ));
                }
            }
            if !in_range(c.source_timeout, 0.5, 60.0) {
                return Err((
                    format!("channel[{i}].source_timeout"),
                    format!("expected 0.5 to 60 seconds, got {}", c.source_timeout),
                ));
            }
        }
        Ok(())
    }
}

/// Inclusive range check that is false for NaN.
fn in_range(v: f64, lo: f64, hi: f64) -> bool {
    v >= lo && v <= hi
}

fn is_url_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn parse_table(file: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim().replace('\n', " "),
        })
}

/// Overlays `top` on `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => merge(b, t),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_loads_and_has_the_main_test_channel() {
        let c = Config::embedded_default();
        assert_eq!(c.channels.len(), 1);
        assert_eq!(c.channels[0].id, "main");
        assert_eq!(c.channels[0].source, SourceConfig::Test);
        assert_eq!(c.hls.part_duration, 0.4);
        assert_eq!(c.hls.segment_duration, 2.0);
        let names: Vec<_> = c.encoding.video.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["720p", "360p"]);
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn shipped_files_on_disk_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Config::load(Some(&path)).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn a_partial_file_overrides_only_its_keys() {
        let c = Config::from_layers(Some(("x.toml", "[hls]\nsegment_duration = 4.0\n"))).unwrap();
        assert_eq!(c.hls.segment_duration, 4.0);
        assert_eq!(c.hls.part_duration, 0.4);
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let e = Config::from_layers(Some(("site.toml", "[hls]\npart_durtion = 0.5\n")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("site.toml"), "{e}");
        assert!(e.contains("part_durtion"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key_and_expectation() {
        let e = Config::from_layers(Some(("site.toml", "[encoding]\nframerate = \"fast\"\n")))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("site.toml") && e.contains("encoding.framerate"),
            "{e}"
        );
        assert!(e.contains("expected u32"), "{e}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = Config::from_layers(Some(("site.toml", "[hls]\nwindow = = 3\n")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("site.toml") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn part_duration_must_be_whole_frames() {
        let e = Config::from_layers(Some((
            "s.toml",
            "[hls]\npart_duration = 0.5\nsegment_duration = 2.0\n",
        )))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("hls.part_duration") && e.contains("whole number of frames"),
            "{e}"
        );
    }

    #[test]
    fn the_audio_bit_rate_stays_within_what_the_encoder_takes() {
        let load = |kbps: u32| {
            Config::from_layers(Some((
                "s.toml",
                &format!("[encoding]\naudio_bitrate = {kbps}\n"),
            )))
        };
        assert_eq!(load(320).expect("320 kbit/s").encoding.audio_bitrate, 320);
        let e = load(400).unwrap_err().to_string();
        assert!(
            e.contains("encoding.audio_bitrate") && e.contains("16 to 320 kbit/s, got 400"),
            "{e}"
        );
    }

    #[test]
    fn sources_are_checked_key_by_key_and_secrets_never_shown() {
        let load = |source: &str| {
            Config::from_layers(Some((
                "s.toml",
                &format!("[[channel]]\nid = \"a\"\nname = \"A\"\nsource = {source}\n"),
            )))
        };
        let ok = load(r#"{ kind = "rtsp", url = "rtsp://cam:tajne-haslo@10.0.0.5:554/stream1" }"#)
            .expect("valid RTSP source");
        let shown = format!("{:?} {}", ok.channels[0], ok.channels[0].source.describe());
        assert!(!shown.contains("tajne-haslo"), "{shown}");
        assert!(
            shown.contains("rtsp://cam:***@10.0.0.5:554/stream1"),
            "{shown}"
        );
        assert_eq!(ok.channels[0].source_timeout, 2.0);
        let srt = load(r#"{ kind = "srt", mode = "listener", address = "0.0.0.0:9000", passphrase = "dluga-fraza-123" }"#)
            .expect("valid SRT source");
        assert!(!format!("{:?}", srt.channels[0]).contains("dluga-fraza"));
        for (source, key, words) in [
            (
                r#"{ kind = "rtsp", url = "http://x/y" }"#,
                "channel[0].source.url",
                "rtsp://",
            ),
            (
                r#"{ kind = "rtsp", url = "rtsp://u:sekret@" }"#,
                "channel[0].source.url",
                "rtsp://u:***@",
            ),
            (
                r#"{ kind = "srt", mode = "listener", address = "9000" }"#,
                "channel[0].source.address",
                "host:port",
            ),
            (
                r#"{ kind = "srt", mode = "caller", address = "h:1", passphrase = "short" }"#,
                "channel[0].source.passphrase",
                "10 to 79",
            ),
            (
                r#"{ kind = "srt", mode = "sender", address = "h:1" }"#,
                "channel[0].source",
                "listener",
            ),
            (
                r#"{ kind = "device", video = "video0" }"#,
                "channel[0].source.video",
                "/dev/video0",
            ),
            (
                r#"{ kind = "device", video = "/dev/video0", audio = "mic" }"#,
                "channel[0].source.audio",
                "alsa:",
            ),
            (
                r#"{ kind = "file", path = "/nonexistent/próba.mp4" }"#,
                "channel[0].source.path",
                "no such file",
            ),
        ] {
            let e = load(source).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(words), "{source}: {e}");
            assert!(!e.contains("sekret"), "{e}");
        }
    }

    #[test]
    fn a_backup_source_is_checked_like_a_source() {
        let load = |backup: &str| {
            Config::from_layers(Some((
                "s.toml",
                &format!(
                    "[[channel]]\nid = \"a\"\nname = \"A\"\nsource = {{ kind = \"test\" }}\n\
                     backup = {backup}\n"
                ),
            )))
        };
        let ok = load(r#"{ kind = "srt", mode = "listener", address = "0.0.0.0:9001", passphrase = "zapasowa-fraza" }"#)
            .expect("valid backup");
        assert!(ok.channels[0].backup.is_some());
        assert!(!format!("{:?}", ok.channels[0]).contains("zapasowa-fraza"));
        for (backup, key) in [
            (
                r#"{ kind = "rtsp", url = "http://x/y" }"#,
                "channel[0].backup.url",
            ),
            (r#"{ kind = "test" }"#, "channel[0].backup"),
        ] {
            let e = load(backup).unwrap_err().to_string();
            assert!(e.contains(key), "{backup}: {e}");
        }
        let none = Config::from_layers(Some((
            "s.toml",
            "[[channel]]\nid = \"a\"\nname = \"A\"\nsource = { kind = \"test\" }\n",
        )))
        .expect("no backup");
        assert_eq!(none.channels[0].backup, None);
    }

    #[test]
    fn unknown_source_kind_is_rejected() {
        let e = Config::from_layers(Some((
            "s.toml",
            "[[channel]]\nid = \"a\"\nname = \"A\"\nsource = { kind = \"ndi\" }\n",
        )))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("channel[0].source") || e.contains("channel"),
            "{e}"
        );
        assert!(e.contains("ndi"), "{e}");
    }
}
