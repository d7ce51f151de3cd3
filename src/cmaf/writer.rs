//! Writes CMAF-style fMP4: one init segment per track (`ftyp` + `moov` with
//! `mvex`) and one `moof` + `mdat` fragment per LL-HLS part.
//!
//! Each rendition is its own single-track file, as CMAF and HLS with separate
//! audio renditions expect. Fragments carry `tfdt` (continuous decode time)
//! and a `trun` with per-sample duration, size and sync flags.

use bytes::{BufMut, Bytes, BytesMut};

use super::Codec;

/// `trun` sample flags: a sync sample that depends on no other.
const FLAGS_SYNC: u32 = 0x0200_0000;
/// `trun` sample flags: depends on others, not a sync sample.
const FLAGS_NON_SYNC: u32 = 0x0101_0000;

/// A sample already converted to the track's timescale.
#[derive(Debug, Clone)]
pub struct TimedSample<'a> {
    pub duration: u32,
    pub keyframe: bool,
    pub data: &'a [u8],
}

/// Appends a box: size, type, then whatever `body` writes.
fn boxed(out: &mut BytesMut, kind: &[u8; 4], body: impl FnOnce(&mut BytesMut)) {
    let start = out.len();
    out.put_u32(0);
    out.put_slice(kind);
    body(out);
    let size = u32::try_from(out.len() - start).expect("box under 4 GiB");
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Appends a full box (version and flags after the header).
fn full_box(
    out: &mut BytesMut,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut BytesMut),
) {
    boxed(out, kind, |o| {
        o.put_u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        body(o);
    });
}

const TRACK_ID: u32 = 1;

/// The init segment (`ftyp` + `moov`) of a single-track fMP4 file.
pub fn init_segment(codec: &Codec) -> Bytes {
    let mut o = BytesMut::with_capacity(1024);
    boxed(&mut o, b"ftyp", |o| {
        o.put_slice(b"iso6");
        o.put_u32(0);
        for brand in [b"iso6", b"cmfc", b"isom", b"mp41"] {
            o.put_slice(brand);
        }
    });
    let timescale = codec.timescale();
    boxed(&mut o, b"moov", |o| {
        full_box(o, b"mvhd", 0, 0, |o| {
            o.put_u32(0); // creation time
            o.put_u32(0); // modification time
            o.put_u32(1000); // timescale
            o.put_u32(0); // duration: fragmented
            o.put_u32(0x0001_0000); // rate 1.0
            o.put_u16(0x0100); // volume 1.0
            o.put_bytes(0, 10);
            put_matrix(o);
            o.put_bytes(0, 24); // pre_defined
            o.put_u32(TRACK_ID + 1); // next track id
        });
        boxed(o, b"trak", |o| {
            full_box(o, b"tkhd", 0, 0x3, |o| {
                o.put_u32(0);
                o.put_u32(0);
                o.put_u32(TRACK_ID);
                o.put_u32(0);
                o.put_u32(0); // duration
                o.put_bytes(0, 8);
                o.put_u16(0); // layer
                o.put_u16(0); // alternate group
                o.put_u16(if codec.is_video() { 0 } else { 0x0100 });
                o.put_u16(0);
                put_matrix(o);
                let (w, h) = match codec {
                    Codec::H264 { width, height, .. } => (*width, *height),
                    Codec::Aac { .. } => (0, 0),
                };
                o.put_u32(w << 16);
                o.put_u32(h << 16);
            });
            boxed(o, b"mdia", |o| {
                full_box(o, b"mdhd", 0, 0, |o| {
                    o.put_u32(0);
                    o.put_u32(0);
                    o.put_u32(timescale);
                    o.put_u32(0);
                    o.put_u16(0x55c4); // language "und"
                    o.put_u16(0);
                });
                full_box(o, b"hdlr", 0, 0, |o| {
                    o.put_u32(0);
                    o.put_slice(if codec.is_video() { b"vide" } else { b"soun" });
                    o.put_bytes(0, 12);
                    o.put_slice(if codec.is_video() {
                        b"obrady video\0".as_slice()
                    } else {
                        b"obrady audio\0".as_slice()
                    });
                });
                boxed(o, b"minf", |o| {
                    if codec.is_video() {
                        full_box(o, b"vmhd", 0, 1, |o| o.put_bytes(0, 8));
                    } else {
                        full_box(o, b"smhd", 0, 0, |o| o.put_u32(0));
                    }
                    boxed(o, b"dinf", |o| {
                        full_box(o, b"dref", 0, 0, |o| {
                            o.put_u32(1);
                            full_box(o, b"url ", 0, 1, |_| {});
                        });
                    });
                    boxed(o, b"stbl", |o| {
                        full_box(o, b"stsd", 0, 0, |o| {
                            o.put_u32(1);
                            sample_entry(o, codec);
                        });
                        full_box(o, b"stts", 0, 0, |o| o.put_u32(0));
                        full_box(o, b"stsc", 0, 0, |o| o.put_u32(0));
                        full_box(o, b"stsz", 0, 0, |o| {
                            o.put_u32(0);
                            o.put_u32(0);
                        });
                        full_box(o, b"stco", 0, 0, |o| o.put_u32(0));
                    });
                });
            });
        });
        boxed(o, b"mvex", |o| {
            full_box(o, b"trex", 0, 0, |o| {
                o.put_u32(TRACK_ID);
                o.put_u32(1); // default sample description index
                o.put_u32(0);
                o.put_u32(0);
                o.put_u32(0);
            });
        });
    });
    o.freeze()
}

fn put_matrix(o: &mut BytesMut) {
    for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
        o.put_u32(v);
    }
}

fn sample_entry(o: &mut BytesMut, codec: &Codec) {
    match codec {
        Codec::H264 {
            avcc,
            width,
            height,
        } => boxed(o, b"avc1", |o| {
            o.put_bytes(0, 6);
            o.put_u16(1); // data reference index
            o.put_bytes(0, 16);
            o.put_u16(u16::try_from(*width).unwrap_or(u16::MAX));
            o.put_u16(u16::try_from(*height).unwrap_or(u16::MAX));
            o.put_u32(0x0048_0000);
            o.put_u32(0x0048_0000);
            o.put_u32(0);
            o.put_u16(1); // frame count
            o.put_bytes(0, 32); // compressor name
            o.put_u16(0x0018); // depth
            o.put_i16(-1);
            boxed(o, b"avcC", |o| o.put_slice(avcc));
        }),
        Codec::Aac {
            asc,
            rate,
            channels,
        } => boxed(o, b"mp4a", |o| {
            o.put_bytes(0, 6);
            o.put_u16(1);
            o.put_bytes(0, 8);
            o.put_u16(u16::try_from(*channels).unwrap_or(2));
            o.put_u16(16);
            o.put_u32(0);
            o.put_u32(rate.checked_shl(16).filter(|_| *rate < 65536).unwrap_or(0));
            full_box(o, b"esds", 0, 0, |o| {
                let dsi_len = asc.len();
                let dcd_len = 13 + 5 + dsi_len;
                let es_len = 3 + 5 + dcd_len + 5 + 1;
                descriptor(o, 0x03, es_len);
                o.put_u16(1); // ES_ID
                o.put_u8(0);
                descriptor(o, 0x04, dcd_len);
                o.put_u8(0x40); // MPEG-4 audio
                o.put_u8(0x15); // audio stream
                o.put_uint(0, 3); // buffer size
                o.put_u32(0); // max bitrate
                o.put_u32(0); // avg bitrate
                descriptor(o, 0x05, dsi_len);
                o.put_slice(asc);
                descriptor(o, 0x06, 1);
                o.put_u8(0x02);
            });
        }),
    }
}

/// An MPEG-4 descriptor header with a 4-byte length.
fn descriptor(o: &mut BytesMut, tag: u8, len: usize) {
    o.put_u8(tag);
    let len = u32::try_from(len).unwrap_or(0);
    o.put_u8(0x80 | ((len >> 21) & 0x7f) as u8);
    o.put_u8(0x80 | ((len >> 14) & 0x7f) as u8);
    o.put_u8(0x80 | ((len >> 7) & 0x7f) as u8);
    o.put_u8((len & 0x7f) as u8);
}

/// One `moof` + `mdat` fragment. `sequence` is the fragment's number (1-based,
/// increasing), `decode_time` the `tfdt` of the first sample in the timescale.
pub fn fragment(sequence: u32, decode_time: u64, samples: &[TimedSample<'_>]) -> Bytes {
    let payload: usize = samples.iter().map(|s| s.data.len()).sum();
    let mut o = BytesMut::with_capacity(payload + 64 + samples.len() * 12);
    let mut data_offset_at = 0;
    boxed(&mut o, b"moof", |o| {
        full_box(o, b"mfhd", 0, 0, |o| o.put_u32(sequence));
        boxed(o, b"traf", |o| {
            // default-base-is-moof
            full_box(o, b"tfhd", 0, 0x02_0000, |o| o.put_u32(TRACK_ID));
            full_box(o, b"tfdt", 1, 0, |o| o.put_u64(decode_time));
            // data-offset, sample-duration, sample-size, sample-flags present
            full_box(o, b"trun", 0, 0x000_701, |o| {
                o.put_u32(u32::try_from(samples.len()).unwrap_or(u32::MAX));
                data_offset_at = o.len();
                o.put_u32(0);
                for s in samples {
                    o.put_u32(s.duration);
                    o.put_u32(u32::try_from(s.data.len()).unwrap_or(u32::MAX));
                    o.put_u32(if s.keyframe {
                        FLAGS_SYNC
                    } else {
                        FLAGS_NON_SYNC
                    });
                }
            });
        });
    });
    // The data offset is from the start of the moof to the first mdat byte.
    let data_offset = u32::try_from(o.len() + 8).unwrap_or(u32::MAX);
    o[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    let mdat_size = u32::try_from(payload + 8).expect("fragment under 4 GiB");
    o.put_u32(mdat_size);
    o.put_slice(b"mdat");
    for s in samples {
        o.put_slice(s.data);
    }
    o.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmaf::reader;

    fn h264() -> Codec {
        Codec::H264 {
            avcc: Bytes::from_static(&[1, 0x64, 0, 0x1f, 0xff, 0xe0, 0]),
            width: 1280,
            height: 720,
        }
    }

    #[test]
    fn init_segment_has_the_expected_box_tree() {
        let init = init_segment(&h264());
        let top: Vec<_> = reader::boxes(&init)
            .unwrap()
            .iter()
            .map(|b| b.kind_str())
            .collect();
        assert_eq!(top, ["ftyp", "moov"]);
        let paths = reader::box_paths(&init).unwrap();
        for p in [
            "moov/mvhd",
            "moov/trak/tkhd",
            "moov/trak/mdia/mdhd",
            "moov/trak/mdia/minf/stbl/stsd",
            "moov/mvex/trex",
        ] {
            assert!(paths.iter().any(|x| x == p), "{p} missing from {paths:?}");
        }
        assert_eq!(reader::timescale(&init).unwrap(), 90_000);
    }

    #[test]
    fn aac_init_segment_carries_the_asc_in_esds() {
        let init = init_segment(&Codec::Aac {
            asc: Bytes::from_static(&[0x11, 0x90]),
            rate: 48_000,
            channels: 2,
        });
        assert_eq!(reader::timescale(&init).unwrap(), 48_000);
        let needle = [0x05, 0x80, 0x80, 0x80, 0x02, 0x11, 0x90];
        assert!(init.windows(needle.len()).any(|w| w == needle));
    }

    #[test]
    fn fragment_round_trips_through_the_reader() {
        let a = [1u8, 2, 3];
        let b = [4u8; 10];
        let frag = fragment(
            7,
            123_456,
            &[
                TimedSample {
                    duration: 3600,
                    keyframe: true,
                    data: &a,
                },
                TimedSample {
                    duration: 3600,
                    keyframe: false,
                    data: &b,
                },
            ],
        );
        let f = reader::fragments(&frag).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].sequence, 7);
        assert_eq!(f[0].decode_time, 123_456);
        assert_eq!(f[0].durations, [3600, 3600]);
        assert_eq!(f[0].sync, [true, false]);
        assert_eq!(f[0].sizes, [3, 10]);
        assert_eq!(&f[0].data[..], &[1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
    }
}
