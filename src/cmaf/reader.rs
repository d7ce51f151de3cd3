//! A small, panic-free ISO-BMFF reader for the boxes obrady writes: used by
//! tests and the benchmark to check fragments (tfdt, sample durations, sync
//! flags) without trusting the writer's own bookkeeping.

use std::fmt;

/// Why a byte string is not the fMP4 we expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ReadError> {
    Err(ReadError(msg.into()))
}

/// A box inside a buffer.
#[derive(Debug, Clone, Copy)]
pub struct BoxRef<'a> {
    pub kind: [u8; 4],
    /// The payload after the 8-byte header.
    pub body: &'a [u8],
}

impl BoxRef<'_> {
    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

/// The sibling boxes that fill `buf` exactly.
pub fn boxes(buf: &[u8]) -> Result<Vec<BoxRef<'_>>, ReadError> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 8 {
            return err(format!("{} trailing bytes are not a box", rest.len()));
        }
        let size = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = [rest[4], rest[5], rest[6], rest[7]];
        if size < 8 || size > rest.len() {
            return err(format!(
                "box {:?} claims {size} bytes, {} remain",
                String::from_utf8_lossy(&kind),
                rest.len()
            ));
        }
        out.push(BoxRef {
            kind,
            body: &rest[8..size],
        });
        rest = &rest[size..];
    }
    Ok(out)
}

const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"dinf",
];

/// Every box path in the buffer, e.g. `moov/trak/tkhd`, depth first.
pub fn box_paths(buf: &[u8]) -> Result<Vec<String>, ReadError> {
    fn walk(buf: &[u8], prefix: &str, out: &mut Vec<String>) -> Result<(), ReadError> {
        for b in boxes(buf)? {
            let path = if prefix.is_empty() {
                b.kind_str()
            } else {
                format!("{prefix}/{}", b.kind_str())
            };
            out.push(path.clone());
            if CONTAINERS.contains(&&b.kind) {
                walk(b.body, &path, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(buf, "", &mut out)?;
    Ok(out)
}

fn find<'a>(buf: &'a [u8], path: &[&[u8; 4]]) -> Result<Option<&'a [u8]>, ReadError> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(Some(buf));
    };
    for b in boxes(buf)? {
        if &b.kind == *first {
            return find(b.body, rest);
        }
    }
    Ok(None)
}

fn be32(b: &[u8], at: usize) -> Result<u32, ReadError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| ReadError(format!("truncated box: no u32 at {at}")))
}

fn be64(b: &[u8], at: usize) -> Result<u64, ReadError> {
    Ok((u64::from(be32(b, at)?) << 32) | u64::from(be32(b, at + 4)?))
}

/// The media timescale from an init segment's `mdhd`.
pub fn timescale(init: &[u8]) -> Result<u32, ReadError> {
    let mdhd = find(init, &[b"moov", b"trak", b"mdia", b"mdhd"])?
        .ok_or_else(|| ReadError("init segment has no moov/trak/mdia/mdhd".into()))?;
    let version = mdhd.first().copied().unwrap_or(0);
    be32(mdhd, if version == 1 { 20 } else { 12 })
}

/// One `moof` + `mdat` as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Fragment {
    pub sequence: u32,
    pub decode_time: u64,
    pub durations: Vec<u32>,
    pub sizes: Vec<u32>,
    pub sync: Vec<bool>,
    pub data: Vec<u8>,
}

impl Fragment {
    pub fn duration(&self) -> u64 {
        self.durations.iter().map(|&d| u64::from(d)).sum()
    }
}

/// Every fragment of a media segment or part, in order.
pub fn fragments(buf: &[u8]) -> Result<Vec<Fragment>, ReadError> {
    let mut out: Vec<Fragment> = Vec::new();
    let mut pending: Option<Fragment> = None;
    for b in boxes(buf)? {
        match &b.kind {
            b"moof" => {
                if pending.is_some() {
                    return err("moof without mdat");
                }
                pending = Some(parse_moof(b.body)?);
            }
            b"mdat" => {
                let Some(mut f) = pending.take() else {
                    return err("mdat without moof");
                };
                let want: u64 = f.sizes.iter().map(|&s| u64::from(s)).sum();
                if want != b.body.len() as u64 {
                    return err(format!(
                        "trun sizes add up to {want} bytes, mdat holds {}",
                        b.body.len()
                    ));
                }
                f.data = b.body.to_vec();
                out.push(f);
            }
            b"styp" | b"sidx" | b"prft" => {}
            other => {
                return err(format!(
                    "unexpected box {:?}",
                    String::from_utf8_lossy(other)
                ))
            }
        }
    }
    if pending.is_some() {
        return err("moof without mdat at the end");
    }
    Ok(out)
}

/// The samples a `moof` body describes (without its media data).
pub fn moof(body: &[u8]) -> Result<Fragment, ReadError> {
    parse_moof(body)
}

fn parse_moof(moof: &[u8]) -> Result<Fragment, ReadError> {
    let mfhd = find(moof, &[b"mfhd"])?.ok_or_else(|| ReadError("moof has no mfhd".into()))?;
    let traf = find(moof, &[b"traf"])?.ok_or_else(|| ReadError("moof has no traf".into()))?;
    let tfdt = find(traf, &[b"tfdt"])?.ok_or_else(|| ReadError("traf has no tfdt".into()))?;
    let trun = find(traf, &[b"trun"])?.ok_or_else(|| ReadError("traf has no trun".into()))?;
    let decode_time = if tfdt.first() == Some(&1) {
        be64(tfdt, 4)?
    } else {
        u64::from(be32(tfdt, 4)?)
    };
    let flags = be32(trun, 0)? & 0x00ff_ffff;
    let count = be32(trun, 4)? as usize;
    let mut at = 8;
    if flags & 0x1 != 0 {
        at += 4;
    }
    let first_flags = if flags & 0x4 != 0 {
        at += 4;
        Some(be32(trun, at - 4)?)
    } else {
        None
    };
    let per = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&f| flags & f != 0)
        .count();
    if count > trun.len() / 4 + 1 {
        return err(format!(
            "trun claims {count} samples in {} bytes",
            trun.len()
        ));
    }
    let mut f = Fragment {
        sequence: be32(mfhd, 4)?,
        decode_time,
        durations: Vec::with_capacity(count),
        sizes: Vec::with_capacity(count),
        sync: Vec::with_capacity(count),
        data: Vec::new(),
    };
    for i in 0..count {
        let mut field = at + i * per * 4;
        let mut next = || {
            let v = be32(trun, field);
            field += 4;
            v
        };
        let duration = if flags & 0x100 != 0 { next()? } else { 0 };
        let size = if flags & 0x200 != 0 { next()? } else { 0 };
        let sample_flags = if flags & 0x400 != 0 {
            next()?
        } else if i == 0 {
            first_flags.unwrap_or(0)
        } else {
            0
        };
        f.durations.push(duration);
        f.sizes.push(size);
        f.sync.push(sample_flags & 0x0001_0000 == 0);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b"\x00\x00\x00\x04abcd"[..],
            &b"\x00\x00\xff\xffmoof"[..],
            &b"xyz"[..],
            &b"\x00\x00\x00\x10moof\x00\x00\x00\x08mfhd"[..],
        ] {
            assert!(fragments(input).is_err());
        }
    }
}
