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
    #[error("cannot read config file {path}: {source}")]
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
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// The embedded test source: moving picture, burnt-in wall clock, beeps.
    Test,
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
        if !(16..=512).contains(&self.encoding.audio_bitrate) {
            return Err((
                "encoding.audio_bitrate".into(),
                format!(
                    "expected 16 to 512 kbit/s, got {}",
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
    fn unknown_source_kind_is_rejected() {
        let e = Config::from_layers(Some((
            "s.toml",
            "[[channel]]\nid = \"a\"\nname = \"A\"\nsource = { kind = \"rtsp\" }\n",
        )))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("channel[0].source") || e.contains("channel"),
            "{e}"
        );
        assert!(e.contains("rtsp"), "{e}");
    }
}
