//! Playlists as plain data, rendered to text. No I/O, no clocks: the live
//! window builds a [`MediaPlaylist`] and this module writes it.
//!
//! The multivariant playlist is built with `hls_m3u8`. The media playlist
//! uses `hls_m3u8`'s tag types where it has them (EXTINF, EXT-X-MAP,
//! EXT-X-PROGRAM-DATE-TIME, EXT-X-VERSION); `hls_m3u8` has no Low-Latency
//! HLS tags, so EXT-X-PART-INF, EXT-X-SERVER-CONTROL, EXT-X-PART,
//! EXT-X-PRELOAD-HINT and EXT-X-RENDITION-REPORT are written here.

use std::fmt::Write;
use std::time::Duration;

use hls_m3u8::tags::{ExtInf, ExtXMap, ExtXMedia, ExtXProgramDateTime, ExtXVersion, VariantStream};
use hls_m3u8::types::{MediaType, ProtocolVersion, StreamData, UFloat};
use hls_m3u8::MasterPlaylist;

/// A live media playlist of one rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaPlaylist {
    pub target_duration: u64,
    /// EXT-X-PART-INF PART-TARGET, seconds.
    pub part_target: f64,
    /// EXT-X-SERVER-CONTROL PART-HOLD-BACK, seconds.
    pub part_hold_back: f64,
    pub map_uri: String,
    pub segments: Vec<Segment>,
    /// URI of the next part, not yet available.
    pub preload_hint: Option<String>,
    pub rendition_reports: Vec<RenditionReport>,
    /// The stream has ended (EXT-X-ENDLIST).
    pub ended: bool,
    /// Agenda items begun within the window (EXT-X-DATERANGE).
    pub dateranges: Vec<DateRange>,
}

/// An agenda item as EXT-X-DATERANGE (chapters while live).
#[derive(Debug, Clone, PartialEq)]
pub struct DateRange {
    pub id: String,
    pub start_ns: u64,
    pub number: String,
    pub title: String,
}

/// The CLASS of the EXT-X-DATERANGE of an agenda item, live and archived.
pub const AGENDA_ITEM_CLASS: &str = "pl.obrady.agenda-item";

/// Quoted-string attribute values may not hold `"`, CR or LF (RFC 8216 4.2).
pub fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub msn: u64,
    /// None while the segment is still being written (only its parts show).
    pub uri: Option<String>,
    pub duration: f64,
    /// Wall-clock time of the first sample, ns since the Unix epoch.
    pub program_date_time_ns: u64,
    /// Listed parts (only for the last few segments).
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub uri: String,
    pub duration: f64,
    pub independent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenditionReport {
    pub uri: String,
    pub last_msn: u64,
    pub last_part: u32,
}

/// `2026-11-30T09:00:00.000Z`
pub fn format_date_time(unix_ns: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ns))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

fn secs(v: f64) -> String {
    let s = format!("{v:.5}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

impl MediaPlaylist {
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(256 + self.segments.len() * 120);
        let first = self.segments.first().map(|s| s.msn).unwrap_or(0);
        let _ = writeln!(o, "#EXTM3U");
        let _ = writeln!(o, "{}", ExtXVersion::new(ProtocolVersion::V6));
        let _ = writeln!(o, "#EXT-X-TARGETDURATION:{}", self.target_duration);
        let _ = writeln!(o, "#EXT-X-PART-INF:PART-TARGET={}", secs(self.part_target));
        let _ = writeln!(
            o,
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={}",
            secs(self.part_hold_back)
        );
        let _ = writeln!(o, "#EXT-X-MEDIA-SEQUENCE:{first}");
        let _ = writeln!(o, "#EXT-X-INDEPENDENT-SEGMENTS");
        let _ = writeln!(o, "{}", ExtXMap::new(self.map_uri.as_str()));
        for d in &self.dateranges {
            let _ = writeln!(
                o,
                "#EXT-X-DATERANGE:ID=\"{}\",CLASS=\"{AGENDA_ITEM_CLASS}\",START-DATE=\"{}\",X-NUMBER=\"{}\",X-TITLE=\"{}\"",
                quoted(&d.id),
                format_date_time(d.start_ns),
                quoted(&d.number),
                quoted(&d.title)
            );
        }
        for s in &self.segments {
            let _ = writeln!(
                o,
                "{}",
                ExtXProgramDateTime::new(format_date_time(s.program_date_time_ns))
            );
            for p in &s.parts {
                let _ = writeln!(
                    o,
                    "#EXT-X-PART:DURATION={},URI=\"{}\"{}",
                    secs(p.duration),
                    p.uri,
                    if p.independent {
                        ",INDEPENDENT=YES"
                    } else {
                        ""
                    }
                );
            }
            if let Some(uri) = &s.uri {
                let d = Duration::from_secs_f64((s.duration * 1e5).round() / 1e5);
                let _ = writeln!(o, "{}", ExtInf::new(d));
                let _ = writeln!(o, "{uri}");
            }
        }
        if self.ended {
            let _ = writeln!(o, "#EXT-X-ENDLIST");
        } else if let Some(hint) = &self.preload_hint {
            let _ = writeln!(o, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{hint}\"");
        }
        for r in &self.rendition_reports {
            let _ = writeln!(
                o,
                "#EXT-X-RENDITION-REPORT:URI=\"{}\",LAST-MSN={},LAST-PART={}",
                r.uri, r.last_msn, r.last_part
            );
        }
        o
    }
}

/// One video variant of the multivariant playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub uri: String,
    /// Peak bits per second, audio included.
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub codecs: Vec<String>,
    pub resolution: (usize, usize),
    pub frame_rate: f32,
}

/// The audio rendition shared by every variant.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRendition {
    pub group_id: String,
    pub name: String,
    pub language: String,
    pub uri: String,
}

/// The multivariant playlist, built with `hls_m3u8`.
pub fn render_multivariant(variants: &[Variant], audio: &AudioRendition) -> String {
    let media = ExtXMedia::builder()
        .media_type(MediaType::Audio)
        .group_id(audio.group_id.clone())
        .name(audio.name.clone())
        .language(audio.language.clone())
        .is_default(true)
        .is_autoselect(true)
        .uri(audio.uri.clone())
        .build()
        .expect("audio rendition has every required field");
    let streams: Vec<VariantStream<'_>> = variants
        .iter()
        .map(|v| VariantStream::ExtXStreamInf {
            uri: v.uri.clone().into(),
            frame_rate: Some(UFloat::new(v.frame_rate)),
            audio: Some(audio.group_id.clone().into()),
            subtitles: None,
            closed_captions: None,
            stream_data: StreamData::builder()
                .bandwidth(v.bandwidth)
                .average_bandwidth(v.average_bandwidth)
                .codecs(v.codecs.iter().map(String::as_str).collect::<Vec<_>>())
                .resolution(v.resolution)
                .build()
                .expect("variant has a bandwidth"),
        })
        .collect();
    MasterPlaylist::builder()
        .has_independent_segments(true)
        .media(vec![media])
        .variant_streams(streams)
        .build()
        .map(|m| m.to_string())
        .unwrap_or_else(|e| format!("#EXTM3U\n# cannot build playlist: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_764_145_200_000_000_000; // 2025-11-26T08:20:00Z

    fn part(uri: &str, independent: bool) -> Part {
        Part {
            uri: uri.into(),
            duration: 0.4,
            independent,
        }
    }

    #[test]
    fn live_media_playlist_golden() {
        let p = MediaPlaylist {
            target_duration: 2,
            part_target: 0.4,
            part_hold_back: 1.2,
            map_uri: "init-r1.mp4".into(),
            segments: vec![
                Segment {
                    msn: 10,
                    uri: Some("seg-r1-10.m4s".into()),
                    duration: 2.0,
                    program_date_time_ns: T0,
                    parts: vec![],
                },
                Segment {
                    msn: 11,
                    uri: Some("seg-r1-11.m4s".into()),
                    duration: 2.0,
                    program_date_time_ns: T0 + 2_000_000_000,
                    parts: vec![
                        part("part-r1-11.0.m4s", true),
                        part("part-r1-11.1.m4s", false),
                        part("part-r1-11.2.m4s", false),
                        part("part-r1-11.3.m4s", false),
                        part("part-r1-11.4.m4s", false),
                    ],
                },
                Segment {
                    msn: 12,
                    uri: None,
                    duration: 0.8,
                    program_date_time_ns: T0 + 4_000_000_000,
                    parts: vec![
                        part("part-r1-12.0.m4s", true),
                        part("part-r1-12.1.m4s", false),
                    ],
                },
            ],
            preload_hint: Some("part-r1-12.2.m4s".into()),
            rendition_reports: vec![RenditionReport {
                uri: "../360p/index.m3u8".into(),
                last_msn: 12,
                last_part: 1,
            }],
            ended: false,
            dateranges: vec![DateRange {
                id: "item-7a".into(),
                start_ns: T0 + 2_000_000_000,
                number: "7a".into(),
                title: "Podjęcie uchwały w sprawie \"zwolnień\"".into(),
            }],
        };
        let golden = "\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PART-INF:PART-TARGET=0.4
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"init-r1.mp4\"
#EXT-X-DATERANGE:ID=\"item-7a\",CLASS=\"pl.obrady.agenda-item\",START-DATE=\"2025-11-26T08:20:02.000Z\",X-NUMBER=\"7a\",X-TITLE=\"Podjęcie uchwały w sprawie 'zwolnień'\"
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:00.000Z
#EXTINF:2,
seg-r1-10.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:02.000Z
#EXT-X-PART:DURATION=0.4,URI=\"part-r1-11.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.4,URI=\"part-r1-11.1.m4s\"
#EXT-X-PART:DURATION=0.4,URI=\"part-r1-11.2.m4s\"
#EXT-X-PART:DURATION=0.4,URI=\"part-r1-11.3.m4s\"
#EXT-X-PART:DURATION=0.4,URI=\"part-r1-11.4.m4s\"
#EXTINF:2,
seg-r1-11.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:04.000Z
#EXT-X-PART:DURATION=0.4,URI=\"part-r1-12.0.m4s\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.4,URI=\"part-r1-12.1.m4s\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-r1-12.2.m4s\"
#EXT-X-RENDITION-REPORT:URI=\"../360p/index.m3u8\",LAST-MSN=12,LAST-PART=1
";
        assert_eq!(p.render(), golden);
    }

    #[test]
    fn ended_playlist_has_endlist_and_no_hint() {
        let p = MediaPlaylist {
            target_duration: 2,
            part_target: 0.4,
            part_hold_back: 1.2,
            map_uri: "init-r1.mp4".into(),
            segments: vec![Segment {
                msn: 0,
                uri: Some("seg-r1-0.m4s".into()),
                duration: 1.96,
                program_date_time_ns: T0,
                parts: vec![],
            }],
            preload_hint: Some("part-r1-1.0.m4s".into()),
            rendition_reports: vec![],
            ended: true,
            dateranges: vec![],
        };
        let text = p.render();
        assert!(
            text.ends_with("#EXTINF:1.96,\nseg-r1-0.m4s\n#EXT-X-ENDLIST\n"),
            "{text}"
        );
        assert!(!text.contains("PRELOAD-HINT"));
        // hls_m3u8 reads what we write once every segment is complete (it
        // knows no LL-HLS tags and wants a URI after the last one).
        let parsed = hls_m3u8::MediaPlaylist::try_from(text.as_str()).unwrap();
        assert_eq!(parsed.segments.num_elements(), 1);
    }

    #[test]
    fn multivariant_golden() {
        let text = render_multivariant(
            &[
                Variant {
                    uri: "720p/index.m3u8".into(),
                    bandwidth: 2_963_000,
                    average_bandwidth: 2_628_000,
                    codecs: vec!["avc1.64001f".into(), "mp4a.40.2".into()],
                    resolution: (1280, 720),
                    frame_rate: 25.0,
                },
                Variant {
                    uri: "360p/index.m3u8".into(),
                    bandwidth: 1_043_000,
                    average_bandwidth: 928_000,
                    codecs: vec!["avc1.64001e".into(), "mp4a.40.2".into()],
                    resolution: (640, 360),
                    frame_rate: 25.0,
                },
            ],
            &AudioRendition {
                group_id: "audio".into(),
                name: "Sala".into(),
                language: "pl".into(),
                uri: "audio/index.m3u8".into(),
            },
        );
        let golden = "\
#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,URI=\"audio/index.m3u8\",GROUP-ID=\"audio\",LANGUAGE=\"pl\",NAME=\"Sala\",DEFAULT=YES,AUTOSELECT=YES
#EXT-X-STREAM-INF:BANDWIDTH=2963000,AVERAGE-BANDWIDTH=2628000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=25.000,AUDIO=\"audio\"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1043000,AVERAGE-BANDWIDTH=928000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000,AUDIO=\"audio\"
360p/index.m3u8
#EXT-X-INDEPENDENT-SEGMENTS
";
        assert_eq!(text, golden);
        MasterPlaylist::try_from(text.as_str()).unwrap();
    }
}
