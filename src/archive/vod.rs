//! Archive playlists, built with `hls_m3u8`: a multivariant playlist per run
//! and a media playlist per rendition, EVENT while the run is live (viewers
//! can rewind the whole broadcast) and VOD once it has ended.

use std::time::Duration;

use hls_m3u8::tags::{ExtInf, ExtXDateRange, ExtXMap, ExtXProgramDateTime};
use hls_m3u8::types::{PlaylistType, Value};
use hls_m3u8::{MediaPlaylist, MediaSegment};

use super::session::{self, Entry, ItemRange};
use super::store::{ArchivedSegment, RenditionMeta};
use crate::hls::{self, format_date_time};

/// One line of an archive playlist: a segment, where it is, and what comes
/// before it.
struct Listed<'a> {
    segment: &'a ArchivedSegment,
    uri: String,
    /// EXT-X-MAP to announce before this segment (first, or a new run).
    map: Option<String>,
    discontinuity: bool,
    /// An agenda item that begins with this segment.
    date_range: Option<ExtXDateRange<'static>>,
}

/// Renders archive segments as an EVENT (live) or VOD playlist.
fn render(listed: Vec<Listed<'_>>, media_sequence: usize, live: bool) -> String {
    let longest = listed
        .iter()
        .map(|l| l.segment.duration_secs())
        .fold(1.0_f64, f64::max);
    let mut built = Vec::with_capacity(listed.len());
    for l in listed {
        let s = l.segment;
        let mut b = MediaSegment::builder();
        b.duration(ExtInf::new(Duration::from_secs_f64(
            (s.duration_secs() * 1e5).round() / 1e5,
        )))
        .uri(l.uri)
        .program_date_time(ExtXProgramDateTime::new(format_date_time(s.wall_ns)))
        .has_discontinuity(l.discontinuity);
        if let Some(map) = l.map {
            b.map(ExtXMap::new(map));
        }
        if let Some(range) = l.date_range {
            b.date_range(range);
        }
        match b.build() {
            Ok(seg) => built.push(seg),
            Err(e) => tracing::warn!(msn = s.msn, error = %e, "cannot list an archived segment"),
        }
    }
    let mut p = MediaPlaylist::builder();
    p.target_duration(Duration::from_secs(longest.ceil() as u64))
        .media_sequence(media_sequence)
        .playlist_type(if live {
            PlaylistType::Event
        } else {
            PlaylistType::Vod
        })
        .has_independent_segments(true)
        .has_end_list(!live)
        .segments(built);
    match p.build() {
        Ok(pl) => pl.to_string(),
        Err(e) => format!("#EXTM3U\n# cannot build the playlist: {e}\n"),
    }
}

/// The media playlist of one archived rendition. Segment URIs are
/// `{msn}.m4s` next to the playlist; the init segment is `init.mp4`.
pub fn media_playlist(segments: &[ArchivedSegment], live: bool) -> String {
    let listed = segments
        .iter()
        .enumerate()
        .map(|(i, s)| Listed {
            segment: s,
            uri: format!("{}.m4s", s.msn),
            map: (i == 0).then(|| "init.mp4".to_owned()),
            discontinuity: false,
            date_range: None,
        })
        .collect();
    let first = segments.first().map(|s| s.msn as usize).unwrap_or(0);
    render(listed, first, live)
}

/// The multivariant playlist of a ladder, live or archived: one variant per
/// video rendition, all sharing the audio rendition.
pub fn multivariant(renditions: &[RenditionMeta]) -> String {
    let audio = renditions.iter().find(|r| !r.video);
    let audio_codec = audio.map(|a| a.codecs.clone());
    let audio_bps = audio.map(|a| u64::from(a.bitrate_kbps) * 1000).unwrap_or(0);
    let variants: Vec<hls::Variant> = renditions
        .iter()
        .filter(|r| r.video)
        .map(|r| {
            let average = u64::from(r.bitrate_kbps) * 1000 + audio_bps;
            let mut codecs = vec![r.codecs.clone()];
            codecs.extend(audio_codec.clone());
            hls::Variant {
                uri: format!("{}/index.m3u8", r.name),
                bandwidth: average * 5 / 4,
                average_bandwidth: average * 103 / 100,
                codecs,
                resolution: (r.width as usize, r.height as usize),
                frame_rate: r.framerate as f32,
            }
        })
        .collect();
    hls::render_multivariant(
        &variants,
        &hls::AudioRendition {
            group_id: "audio".into(),
            name: "Sala".into(),
            language: "pl".into(),
            uri: format!(
                "{}/index.m3u8",
                audio.map(|a| a.name.as_str()).unwrap_or("audio")
            ),
        },
    )
}

/// The media playlist of a session (or one agenda item) for one rendition:
/// segments from the channel archive, with EXT-X-DISCONTINUITY at every
/// break, a new EXT-X-MAP whenever the run changes, and an EXT-X-DATERANGE
/// (class `pl.obrady.agenda-item`, with the item's number and title) on the
/// first segment of every agenda item in `items` that has public recording.
pub fn session_media_playlist(
    channel: &str,
    rendition: &str,
    entries: &[Entry],
    items: &[ItemRange],
    live: bool,
) -> String {
    let mut ranges: Vec<Option<ExtXDateRange<'static>>> = vec![None; entries.len()];
    for item in items {
        if let Some(i) = session::first_entry_of(item, entries) {
            if ranges[i].is_none() {
                ranges[i] = date_range(item);
            }
        }
    }
    let listed = entries
        .iter()
        .zip(ranges)
        .enumerate()
        .map(|(i, (e, date_range))| Listed {
            segment: &e.segment,
            uri: format!(
                "/archive/{channel}/{}/{rendition}/{}.m4s",
                e.run, e.segment.msn
            ),
            map: (i == 0 || entries[i - 1].run != e.run)
                .then(|| format!("/archive/{channel}/{}/{rendition}/init.mp4", e.run)),
            discontinuity: e.discontinuity,
            date_range,
        })
        .collect();
    render(listed, 0, live)
}

/// An agenda item as EXT-X-DATERANGE; END-DATE once the item has ended.
fn date_range(item: &ItemRange) -> Option<ExtXDateRange<'static>> {
    let mut b = ExtXDateRange::builder();
    b.id(item.id.clone())
        .class(hls::AGENDA_ITEM_CLASS)
        .start_date(format_date_time(item.span.start_ns))
        .insert_client_attribute("X-NUMBER", Value::String(hls::quoted(&item.number).into()))
        .insert_client_attribute("X-TITLE", Value::String(hls::quoted(&item.title).into()));
    if let Some(end) = item.span.end_ns {
        b.end_date(format_date_time(end));
    }
    match b.build() {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(item = %item.number, error = %e, "cannot describe an agenda item");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::store::IndexedPart;

    fn seg(msn: u64, parts: u32) -> ArchivedSegment {
        let wall_ns = 1_764_145_200_000_000_000 + msn * 2_000_000_000;
        let mut s = ArchivedSegment::from_part(&part(msn, 0, wall_ns));
        for i in 1..parts {
            s.add(&part(msn, i, wall_ns + u64::from(i) * 400_000_000));
        }
        s
    }

    fn part(msn: u64, part: u32, wall_ns: u64) -> IndexedPart {
        IndexedPart {
            msn,
            part,
            bytes: 10,
            duration: 36_000,
            timescale: 90_000,
            wall_ns,
            independent: part == 0,
        }
    }

    #[test]
    fn ended_run_is_a_vod_playlist_golden() {
        let text = media_playlist(&[seg(5, 5), seg(6, 3)], false);
        let golden = "\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:5
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"init.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:10.000Z
#EXTINF:2,
5.m4s
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:12.000Z
#EXTINF:1.2,
6.m4s
#EXT-X-ENDLIST
";
        assert_eq!(text, golden);
        hls_m3u8::MediaPlaylist::try_from(text.as_str()).unwrap();
    }

    #[test]
    fn live_run_is_an_event_playlist_without_endlist() {
        let text = media_playlist(&[seg(5, 5)], true);
        assert!(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT"));
        assert!(!text.contains("ENDLIST"));
    }

    #[test]
    fn session_playlist_has_breaks_new_maps_and_a_date_range_per_item_golden() {
        use crate::archive::session::Span;
        let entry = |run: &str, msn: u64, discontinuity: bool| Entry {
            run: run.into(),
            segment: seg(msn, 5),
            discontinuity,
        };
        let entries = [
            entry("r1", 5, false),
            entry("r1", 6, false),
            entry("r2", 2, true),
        ];
        let at = |msn: u64| 1_764_145_200_000_000_000 + msn * 2_000_000_000;
        let items = [
            ItemRange {
                id: "item-1".into(),
                number: "1".into(),
                title: "Otwarcie sesji".into(),
                span: Span {
                    start_ns: at(5),
                    end_ns: Some(at(6)),
                },
            },
            ItemRange {
                id: "item-7a".into(),
                number: "7a".into(),
                title: "Uchwała w sprawie \"zwolnień\"".into(),
                span: Span {
                    start_ns: at(6),
                    end_ns: None,
                },
            },
            // Begun and ended inside a recess: no public recording, no range.
            ItemRange {
                id: "item-2".into(),
                number: "2".into(),
                title: "Nieobecny".into(),
                span: Span {
                    start_ns: at(100),
                    end_ns: Some(at(101)),
                },
            },
        ];
        let text = session_media_playlist("main", "720p", &entries, &items, false);
        let golden = "\
#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"/archive/main/r1/720p/init.mp4\"
#EXT-X-DATERANGE:ID=\"item-1\",CLASS=\"pl.obrady.agenda-item\",START-DATE=\"2025-11-26T08:20:10.000Z\",END-DATE=\"2025-11-26T08:20:12.000Z\",X-NUMBER=\"1\",X-TITLE=\"Otwarcie sesji\"
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:10.000Z
#EXTINF:2,
/archive/main/r1/720p/5.m4s
#EXT-X-DATERANGE:ID=\"item-7a\",CLASS=\"pl.obrady.agenda-item\",START-DATE=\"2025-11-26T08:20:12.000Z\",X-NUMBER=\"7a\",X-TITLE=\"Uchwała w sprawie 'zwolnień'\"
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:12.000Z
#EXTINF:2,
/archive/main/r1/720p/6.m4s
#EXT-X-MAP:URI=\"/archive/main/r2/720p/init.mp4\"
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2025-11-26T08:20:04.000Z
#EXTINF:2,
/archive/main/r2/720p/2.m4s
#EXT-X-ENDLIST
";
        assert_eq!(text, golden);
        hls_m3u8::MediaPlaylist::try_from(text.as_str()).unwrap();
    }
}
