//! Progressive MP4 downloads cut from the archive: an agenda item or any
//! range of a session, with the index (`moov`) at the front so it plays and
//! seeks in any player, cut at segment boundaries (keyframes) without
//! re-encoding.
//!
//! A clip is described up front as a list of pieces (the `ftyp`+`moov`
//! bytes in memory, then ranges of archived segment files holding the
//! samples), so its length is known before the first byte is sent, byte
//! ranges can be served, and the body is streamed from the files.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};

use crate::cmaf::reader::{self, BoxRef};

/// One track's material: its init segment and its segment files in order.
#[derive(Debug, Clone)]
pub struct TrackInput {
    pub init: Vec<u8>,
    pub segments: Vec<PathBuf>,
}

/// A part of the clip's bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Mem(Bytes),
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

impl Piece {
    pub fn len(&self) -> u64 {
        match self {
            Piece::Mem(b) => b.len() as u64,
            Piece::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A clip ready to be served.
#[derive(Debug, Clone)]
pub struct Clip {
    pub pieces: Vec<Piece>,
    pub len: u64,
    pub duration_secs: f64,
}

/// Samples of one fragment as found in a segment file.
struct Chunk {
    path: PathBuf,
    data_offset: u64,
    data_len: u64,
    durations: Vec<u32>,
    sizes: Vec<u32>,
    sync: Vec<bool>,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads the `moof` boxes of a segment file, skipping over the media data.
fn chunks_of(path: &PathBuf) -> io::Result<Vec<Chunk>> {
    let mut f = File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let len = f.metadata()?.len();
    let mut at = 0u64;
    let mut out = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    while at + 8 <= len {
        let mut header = [0u8; 8];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut header)?;
        let size = u64::from(u32::from_be_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        if size < 8 || at + size > len {
            return Err(bad(format!(
                "{}: box at {at} runs past the end",
                path.display()
            )));
        }
        match &header[4..8] {
            b"moof" => {
                let mut moof = vec![0u8; size as usize];
                f.seek(SeekFrom::Start(at))?;
                f.read_exact(&mut moof)?;
                pending = Some(moof);
            }
            b"mdat" => {
                let moof = pending.take().ok_or_else(|| bad("mdat without moof"))?;
                let frag = reader::moof(&moof[8..])
                    .map_err(|e| bad(format!("{}: {e}", path.display())))?;
                let want: u64 = frag.sizes.iter().map(|&s| u64::from(s)).sum();
                if want != size - 8 {
                    return Err(bad(format!(
                        "{}: trun sizes {want} != mdat {}",
                        path.display(),
                        size - 8
                    )));
                }
                out.push(Chunk {
                    path: path.clone(),
                    data_offset: at + 8,
                    data_len: size - 8,
                    durations: frag.durations,
                    sizes: frag.sizes,
                    sync: frag.sync,
                });
            }
            _ => {}
        }
        at += size;
    }
    Ok(out)
}

fn find<'a>(buf: &'a [u8], kind: &[u8; 4]) -> io::Result<Option<BoxRef<'a>>> {
    Ok(reader::boxes(buf)
        .map_err(|e| bad(e.to_string()))?
        .into_iter()
        .find(|b| &b.kind == kind))
}

fn need<'a>(buf: &'a [u8], kind: &[u8; 4]) -> io::Result<BoxRef<'a>> {
    find(buf, kind)?.ok_or_else(|| {
        bad(format!(
            "init segment has no {}",
            String::from_utf8_lossy(kind)
        ))
    })
}

fn put_box(o: &mut BytesMut, kind: &[u8; 4], body: &[u8]) {
    o.put_u32(u32::try_from(body.len() + 8).unwrap_or(u32::MAX));
    o.put_slice(kind);
    o.put_slice(body);
}

fn full(version_flags: u32, body: impl FnOnce(&mut BytesMut)) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32(version_flags);
    body(&mut b);
    b
}

/// What the moov needs of one track.
struct TrackPlan {
    init: Vec<u8>,
    timescale: u32,
    chunks: Vec<Chunk>,
    video: bool,
}

impl TrackPlan {
    fn duration(&self) -> u64 {
        self.chunks
            .iter()
            .flat_map(|c| &c.durations)
            .map(|&d| u64::from(d))
            .sum()
    }
}

fn trak(
    plan: &TrackPlan,
    track_id: u32,
    movie_duration_ms: u64,
    offsets: &[u64],
) -> io::Result<BytesMut> {
    let moov = need(&plan.init, b"moov")?.body;
    let trak_in = need(moov, b"trak")?.body;
    let tkhd_in = need(trak_in, b"tkhd")?.body;
    let mdia_in = need(trak_in, b"mdia")?.body;
    let hdlr = need(mdia_in, b"hdlr")?.body;
    let minf_in = need(mdia_in, b"minf")?.body;
    let stbl_in = need(minf_in, b"stbl")?.body;
    let stsd = need(stbl_in, b"stsd")?.body;
    let dinf = need(minf_in, b"dinf")?.body;
    let media_header = find(minf_in, b"vmhd")?
        .or(find(minf_in, b"smhd")?)
        .ok_or_else(|| bad("no vmhd/smhd"))?;

    // tkhd: our writer's layout (version 0); rewrite id and duration.
    let mut tkhd = BytesMut::from(tkhd_in);
    if tkhd.len() < 84 {
        return Err(bad("tkhd too short"));
    }
    tkhd[12..16].copy_from_slice(&track_id.to_be_bytes());
    tkhd[20..24].copy_from_slice(
        &u32::try_from(movie_duration_ms)
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );

    let duration = plan.duration();
    let mdhd = full(0x0100_0000, |b| {
        b.put_u64(0);
        b.put_u64(0);
        b.put_u32(plan.timescale);
        b.put_u64(duration);
        b.put_u16(0x55c4);
        b.put_u16(0);
    });

    // stts: run-length durations.
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &d in plan.chunks.iter().flat_map(|c| &c.durations) {
        match runs.last_mut() {
            Some((n, last)) if *last == d => *n += 1,
            _ => runs.push((1, d)),
        }
    }
    let stts = full(0, |b| {
        b.put_u32(runs.len() as u32);
        for (n, d) in &runs {
            b.put_u32(*n);
            b.put_u32(*d);
        }
    });
    let sizes: Vec<u32> = plan
        .chunks
        .iter()
        .flat_map(|c| c.sizes.iter().copied())
        .collect();
    let stsz = full(0, |b| {
        b.put_u32(0);
        b.put_u32(sizes.len() as u32);
        for s in &sizes {
            b.put_u32(*s);
        }
    });
    // stsc: one entry per change of samples-per-chunk.
    let mut stsc_entries: Vec<(u32, u32)> = Vec::new();
    for (i, c) in plan.chunks.iter().enumerate() {
        let n = c.sizes.len() as u32;
        if stsc_entries.last().map(|e| e.1) != Some(n) {
            stsc_entries.push((i as u32 + 1, n));
        }
    }
    let stsc = full(0, |b| {
        b.put_u32(stsc_entries.len() as u32);
        for (first, n) in &stsc_entries {
            b.put_u32(*first);
            b.put_u32(*n);
            b.put_u32(1);
        }
    });
    let co64 = full(0, |b| {
        b.put_u32(offsets.len() as u32);
        for o in offsets {
            b.put_u64(*o);
        }
    });
    let mut stbl = BytesMut::new();
    put_box(&mut stbl, b"stsd", stsd);
    put_box(&mut stbl, b"stts", &stts);
    if plan.video {
        let syncs: Vec<u32> = plan
            .chunks
            .iter()
            .flat_map(|c| c.sync.iter().copied())
            .enumerate()
            .filter(|(_, s)| *s)
            .map(|(i, _)| i as u32 + 1)
            .collect();
        let stss = full(0, |b| {
            b.put_u32(syncs.len() as u32);
            for s in &syncs {
                b.put_u32(*s);
            }
        });
        put_box(&mut stbl, b"stss", &stss);
    }
    put_box(&mut stbl, b"stsc", &stsc);
    put_box(&mut stbl, b"stsz", &stsz);
    put_box(&mut stbl, b"co64", &co64);

    let mut minf = BytesMut::new();
    put_box(&mut minf, &media_header.kind, media_header.body);
    put_box(&mut minf, b"dinf", dinf);
    put_box(&mut minf, b"stbl", &stbl);
    let mut mdia = BytesMut::new();
    put_box(&mut mdia, b"mdhd", &mdhd);
    put_box(&mut mdia, b"hdlr", hdlr);
    put_box(&mut mdia, b"minf", &minf);
    let mut t = BytesMut::new();
    put_box(&mut t, b"tkhd", &tkhd);
    put_box(&mut t, b"mdia", &mdia);
    Ok(t)
}

fn header(plans: &[TrackPlan], offsets: &[Vec<u64>], audio_only: bool) -> io::Result<BytesMut> {
    let duration_ms = plans
        .iter()
        .map(|p| p.duration() * 1000 / u64::from(p.timescale.max(1)))
        .max()
        .unwrap_or(0);
    let mut o = BytesMut::new();
    let mut ftyp = BytesMut::new();
    ftyp.put_slice(if audio_only { b"M4A " } else { b"isom" });
    ftyp.put_u32(0x200);
    for brand in [b"isom", b"iso2", b"mp41"] {
        ftyp.put_slice(brand);
    }
    if audio_only {
        ftyp.put_slice(b"M4A ");
    } else {
        ftyp.put_slice(b"avc1");
    }
    put_box(&mut o, b"ftyp", &ftyp);
    let mvhd = full(0x0100_0000, |b| {
        b.put_u64(0);
        b.put_u64(0);
        b.put_u32(1000);
        b.put_u64(duration_ms);
        b.put_u32(0x0001_0000);
        b.put_u16(0x0100);
        b.put_bytes(0, 10);
        for v in [0x0001_0000u32, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] {
            b.put_u32(v);
        }
        b.put_bytes(0, 24);
        b.put_u32(plans.len() as u32 + 1);
    });
    let mut moov = BytesMut::new();
    put_box(&mut moov, b"mvhd", &mvhd);
    for (i, p) in plans.iter().enumerate() {
        let t = trak(p, i as u32 + 1, duration_ms, &offsets[i])?;
        put_box(&mut moov, b"trak", &t);
    }
    put_box(&mut o, b"moov", &moov);
    Ok(o)
}

/// Plans a clip from whole segments of each track (video first, then
/// audio). Blocking: reads the segment files' `moof` boxes.
pub fn build(tracks: &[TrackInput], audio_only: bool) -> io::Result<Clip> {
    let mut plans = Vec::new();
    for t in tracks {
        let timescale = reader::timescale(&t.init).map_err(|e| bad(e.to_string()))?;
        let video = reader::box_paths(&t.init)
            .map_err(|e| bad(e.to_string()))?
            .iter()
            .any(|p| p.ends_with("minf/vmhd"));
        let mut chunks = Vec::new();
        let mut per_segment = Vec::new();
        for s in &t.segments {
            let c = chunks_of(s)?;
            per_segment.push(c.len());
            chunks.extend(c);
        }
        plans.push((
            TrackPlan {
                init: t.init.clone(),
                timescale,
                chunks,
                video,
            },
            per_segment,
        ));
    }
    // Interleave segment by segment: video chunks of segment k, then audio's.
    let segments = plans.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    let mut order: Vec<(usize, usize)> = Vec::new(); // (track, chunk index)
    let mut next = vec![0usize; plans.len()];
    for k in 0..segments {
        for (ti, (_, per)) in plans.iter().enumerate() {
            let n = per.get(k).copied().unwrap_or(0);
            for _ in 0..n {
                order.push((ti, next[ti]));
                next[ti] += 1;
            }
        }
    }
    let plans: Vec<TrackPlan> = plans.into_iter().map(|(p, _)| p).collect();
    let payload: u64 = order
        .iter()
        .map(|&(t, c)| plans[t].chunks[c].data_len)
        .sum();
    let mdat_header_len = if payload + 8 > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    // Pass 1 sizes the header with placeholder offsets; pass 2 fills them.
    let mut offsets: Vec<Vec<u64>> = plans.iter().map(|p| vec![0; p.chunks.len()]).collect();
    let head_len = header(&plans, &offsets, audio_only)?.len() as u64;
    let mut at = head_len + mdat_header_len;
    for &(t, c) in &order {
        offsets[t][c] = at;
        at += plans[t].chunks[c].data_len;
    }
    let head = header(&plans, &offsets, audio_only)?;
    debug_assert_eq!(head.len() as u64, head_len);
    let mut mdat = BytesMut::new();
    if mdat_header_len == 16 {
        mdat.put_u32(1);
        mdat.put_slice(b"mdat");
        mdat.put_u64(payload + 16);
    } else {
        mdat.put_u32((payload + 8) as u32);
        mdat.put_slice(b"mdat");
    }
    let mut pieces = vec![Piece::Mem(head.freeze()), Piece::Mem(mdat.freeze())];
    for &(t, c) in &order {
        let ch = &plans[t].chunks[c];
        pieces.push(Piece::File {
            path: ch.path.clone(),
            offset: ch.data_offset,
            len: ch.data_len,
        });
    }
    let duration_secs = plans
        .iter()
        .map(|p| p.duration() as f64 / f64::from(p.timescale.max(1)))
        .fold(0.0, f64::max);
    let len = pieces.iter().map(Piece::len).sum();
    Ok(Clip {
        pieces,
        len,
        duration_secs,
    })
}

/// Sends bytes `start..end` of the clip to `sink` in pieces of at most
/// 256 KiB. Blocking. Stops early (Ok) when `sink` returns false.
pub fn read_range(
    clip: &Clip,
    start: u64,
    end: u64,
    mut sink: impl FnMut(Bytes) -> bool,
) -> io::Result<()> {
    const STEP: u64 = 256 * 1024;
    let mut at = 0u64;
    for piece in &clip.pieces {
        let (p_start, p_end) = (at, at + piece.len());
        at = p_end;
        if p_end <= start || p_start >= end {
            continue;
        }
        let from = start.max(p_start) - p_start;
        let to = end.min(p_end) - p_start;
        match piece {
            Piece::Mem(b) => {
                if !sink(b.slice(from as usize..to as usize)) {
                    return Ok(());
                }
            }
            Piece::File { path, offset, .. } => {
                let mut f = File::open(path)?;
                let mut pos = from;
                while pos < to {
                    let n = STEP.min(to - pos);
                    let mut buf = vec![0u8; n as usize];
                    f.seek(SeekFrom::Start(offset + pos))?;
                    f.read_exact(&mut buf)?;
                    if !sink(Bytes::from(buf)) {
                        return Ok(());
                    }
                    pos += n;
                }
            }
        }
    }
    Ok(())
}
