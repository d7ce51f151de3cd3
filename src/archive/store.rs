//! Writing and recovering the archive on disk. Blocking I/O: call it from a
//! blocking thread (`spawn_blocking`), never from an async task directly.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a rendition is, stored beside its media so the archive describes
/// itself without the configuration that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionMeta {
    pub name: String,
    /// RFC 6381 codec string.
    pub codecs: String,
    pub video: bool,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub framerate: u32,
}

/// One part as the index records it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedPart {
    pub msn: u64,
    pub part: u32,
    pub bytes: u64,
    /// Duration in `timescale` units.
    pub duration: u64,
    pub timescale: u32,
    /// Wall-clock time of the part's first sample, ns since the Unix epoch.
    pub wall_ns: u64,
    pub independent: bool,
}

impl IndexedPart {
    fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {} {}\n",
            self.msn,
            self.part,
            self.bytes,
            self.duration,
            self.timescale,
            self.wall_ns,
            u8::from(self.independent)
        )
    }

    fn parse(line: &str) -> Option<IndexedPart> {
        let mut f = line.split(' ');
        let p = IndexedPart {
            msn: f.next()?.parse().ok()?,
            part: f.next()?.parse().ok()?,
            bytes: f.next()?.parse().ok()?,
            duration: f.next()?.parse().ok()?,
            timescale: f.next()?.parse().ok()?,
            wall_ns: f.next()?.parse().ok()?,
            independent: f.next()? == "1",
        };
        (f.next().is_none() && p.timescale > 0).then_some(p)
    }
}

/// A whole segment: what the playlists, the session selection and the clip
/// builder need, summed from its index lines. The catalog stores exactly
/// these fields (`recording_segments`), so HTTP serves from the catalog
/// alone; the per-part lines stay in `index.tsv` for recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedSegment {
    pub msn: u64,
    /// How many parts (index lines) the segment was written in.
    pub parts: u32,
    /// The size of the segment file.
    pub bytes: u64,
    /// Duration in `timescale` units (the sum of its parts').
    pub duration: u64,
    /// Units per second of `duration` (the track's timescale).
    pub timescale: u32,
    /// Wall-clock time of the segment's first sample, ns since the Unix epoch.
    pub wall_ns: u64,
}

impl ArchivedSegment {
    pub fn duration_secs(&self) -> f64 {
        self.duration as f64 / f64::from(self.timescale.max(1))
    }

    /// The duration in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        let ns = u128::from(self.duration) * 1_000_000_000 / u128::from(self.timescale.max(1));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Wall-clock end of the segment, ns since the Unix epoch.
    pub fn end_ns(&self) -> u64 {
        self.wall_ns.saturating_add(self.duration_ns())
    }

    /// Starts a segment from its first part.
    pub fn from_part(p: &IndexedPart) -> ArchivedSegment {
        ArchivedSegment {
            msn: p.msn,
            parts: 1,
            bytes: p.bytes,
            duration: p.duration,
            timescale: p.timescale,
            wall_ns: p.wall_ns,
        }
    }

    /// Adds a further part of the same segment. A part in another timescale
    /// (never written by our segmenter) is converted, rounding down.
    pub fn add(&mut self, p: &IndexedPart) {
        let duration = if p.timescale == self.timescale {
            p.duration
        } else {
            let d = u128::from(p.duration) * u128::from(self.timescale)
                / u128::from(p.timescale.max(1));
            u64::try_from(d).unwrap_or(u64::MAX)
        };
        self.parts = self.parts.saturating_add(1);
        self.bytes = self.bytes.saturating_add(p.bytes);
        self.duration = self.duration.saturating_add(duration);
    }
}

/// What recovery found and did, for the log.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RecoveryReport {
    pub renditions: usize,
    pub parts: usize,
    /// Bytes cut from segment files beyond what the index lists.
    pub truncated_bytes: u64,
    /// Torn index lines dropped.
    pub dropped_index_lines: usize,
    /// Segment files with no index entry at all, removed.
    pub removed_files: Vec<PathBuf>,
}

/// Puts a run's renditions in ladder order: video, largest first, then
/// audio (the order multivariant playlists list them in).
pub fn sort_renditions(renditions: &mut [RenditionMeta]) {
    renditions.sort_by_key(|m| {
        (
            !m.video,
            std::cmp::Reverse(u64::from(m.width) * u64::from(m.height)),
            m.name.clone(),
        )
    });
}

/// The archive root, `{data_dir}/archive`.
#[derive(Debug, Clone)]
pub struct ArchiveStore {
    root: PathBuf,
}

/// Names used in paths must be plain: no separators, no dots at the start.
fn safe(name: &str) -> io::Result<&str> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a valid archive name"),
        ))
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

impl ArchiveStore {
    pub fn new(data_dir: &Path) -> ArchiveStore {
        ArchiveStore {
            root: data_dir.join("archive"),
        }
    }

    /// Where the archive lives (`{data_dir}/archive`; may not exist yet).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn rendition_dir(&self, channel: &str, run: &str, rendition: &str) -> io::Result<PathBuf> {
        Ok(self
            .root
            .join(safe(channel)?)
            .join(safe(run)?)
            .join(safe(rendition)?))
    }

    /// Creates the rendition's directory (durably) and writes its init
    /// segment and description.
    pub fn write_init(
        &self,
        channel: &str,
        run: &str,
        meta: &RenditionMeta,
        init: &[u8],
    ) -> io::Result<()> {
        let dir = self.rendition_dir(channel, run, &meta.name)?;
        fs::create_dir_all(&dir).map_err(|e| with_path(e, "create", &dir))?;
        // Make the new directory entries durable: rendition, run, channel
        // and archive directories each live in their parent.
        let mut entry = dir.as_path();
        for _ in 0..4 {
            let Some(parent) = entry.parent() else { break };
            sync_dir(parent).map_err(|e| with_path(e, "sync", parent))?;
            entry = parent;
        }
        let json = serde_json::to_vec_pretty(meta).map_err(io::Error::other)?;
        write_atomically(&dir.join("rendition.json"), &json)?;
        write_atomically(&dir.join("init.mp4"), init)?;
        Ok(())
    }

    /// Appends a part: its bytes to the segment file, then its index line,
    /// each fsynced, in that order. When this returns the part is durable.
    pub fn append_part(
        &self,
        channel: &str,
        run: &str,
        rendition: &str,
        part: &IndexedPart,
        bytes: &[u8],
    ) -> io::Result<()> {
        let dir = self.rendition_dir(channel, run, rendition)?;
        let seg_path = dir.join(format!("{}.m4s", part.msn));
        let mut seg = if part.part == 0 {
            let f = File::create(&seg_path).map_err(|e| with_path(e, "create", &seg_path))?;
            sync_dir(&dir).map_err(|e| with_path(e, "sync", &dir))?;
            f
        } else {
            OpenOptions::new()
                .append(true)
                .open(&seg_path)
                .map_err(|e| with_path(e, "open", &seg_path))?
        };
        seg.write_all(bytes)
            .and_then(|()| seg.sync_data())
            .map_err(|e| with_path(e, "write", &seg_path))?;
        let index_path = dir.join("index.tsv");
        let mut index = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&index_path)
            .map_err(|e| with_path(e, "open", &index_path))?;
        index
            .write_all(part.line().as_bytes())
            .and_then(|()| index.sync_data())
            .map_err(|e| with_path(e, "write", &index_path))?;
        Ok(())
    }

    /// The channels that have a directory in the archive.
    pub fn channels(&self) -> io::Result<Vec<String>> {
        list_dirs(&self.root)
    }

    /// Where segment `msn` of a rendition lives, relative to the archive
    /// root, as the catalog records it: `{channel}/{run}/{rendition}/{msn}.m4s`.
    pub fn segment_path(
        &self,
        channel: &str,
        run: &str,
        rendition: &str,
        msn: u64,
    ) -> io::Result<String> {
        Ok(format!(
            "{}/{}/{}/{msn}.m4s",
            safe(channel)?,
            safe(run)?,
            safe(rendition)?
        ))
    }

    /// The length of segment file `msn` of a rendition; `None` when there is
    /// no such file.
    pub fn segment_len(
        &self,
        channel: &str,
        run: &str,
        rendition: &str,
        msn: u64,
    ) -> io::Result<Option<u64>> {
        let path = self
            .rendition_dir(channel, run, rendition)?
            .join(format!("{msn}.m4s"));
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(with_path(e, "read", &path)),
        }
    }

    /// Whether a rendition's init segment is on disk.
    pub fn has_init(&self, channel: &str, run: &str, rendition: &str) -> io::Result<bool> {
        let path = self
            .rendition_dir(channel, run, rendition)?
            .join("init.mp4");
        match fs::metadata(&path) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(with_path(e, "read", &path)),
        }
    }

    /// Runs of a channel, oldest first (run ids are hex milliseconds).
    pub fn runs(&self, channel: &str) -> io::Result<Vec<String>> {
        let dir = self.root.join(safe(channel)?);
        let mut runs = list_dirs(&dir)?;
        runs.sort_by_key(|r| (r.len(), r.clone()));
        Ok(runs)
    }

    /// Renditions of a run, with their descriptions.
    pub fn renditions(&self, channel: &str, run: &str) -> io::Result<Vec<RenditionMeta>> {
        let dir = self.root.join(safe(channel)?).join(safe(run)?);
        let mut out = Vec::new();
        for name in list_dirs(&dir)? {
            let path = dir.join(&name).join("rendition.json");
            let Ok(text) = fs::read(&path) else { continue };
            if let Ok(meta) = serde_json::from_slice::<RenditionMeta>(&text) {
                out.push(meta);
            }
        }
        sort_renditions(&mut out);
        Ok(out)
    }

    /// The segments of a rendition as the index lists them.
    pub fn segments(
        &self,
        channel: &str,
        run: &str,
        rendition: &str,
    ) -> io::Result<Vec<ArchivedSegment>> {
        let dir = self.rendition_dir(channel, run, rendition)?;
        let (parts, _) = read_index(&dir.join("index.tsv"))?;
        Ok(group(parts))
    }

    /// Makes files and index agree after a crash: cuts segment bytes the
    /// index does not list, drops a torn index line, removes segment files
    /// the index never mentions.
    pub fn recover(&self) -> io::Result<RecoveryReport> {
        let mut report = RecoveryReport::default();
        for channel in list_dirs(&self.root)? {
            let cdir = self.root.join(&channel);
            for run in list_dirs(&cdir)? {
                let rdir = cdir.join(&run);
                for rendition in list_dirs(&rdir)? {
                    recover_rendition(&rdir.join(rendition), &mut report)?;
                }
            }
        }
        Ok(report)
    }
}

fn list_dirs(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(with_path(e, "read", dir)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            if let Some(name) = entry.file_name().to_str() {
                if safe(name).is_ok() {
                    out.push(name.to_owned());
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| with_path(e, "create", &tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| with_path(e, "write", &tmp))?;
    fs::rename(&tmp, path).map_err(|e| with_path(e, "rename", path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir).map_err(|e| with_path(e, "sync", dir))?;
    }
    Ok(())
}

/// Whole lines of the index, and the byte length they occupy.
fn read_index(path: &Path) -> io::Result<(Vec<IndexedPart>, u64)> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(with_path(e, "read", path)),
    };
    let mut parts = Vec::new();
    let mut good_len = 0u64;
    for chunk in text.split_inclusive(|&b| b == b'\n') {
        if !chunk.ends_with(b"\n") {
            break; // torn last line
        }
        let Some(p) = std::str::from_utf8(chunk)
            .ok()
            .and_then(|l| IndexedPart::parse(l.trim_end()))
        else {
            break;
        };
        parts.push(p);
        good_len += chunk.len() as u64;
    }
    Ok((parts, good_len))
}

fn group(parts: Vec<IndexedPart>) -> Vec<ArchivedSegment> {
    let mut out: Vec<ArchivedSegment> = Vec::new();
    for p in parts {
        match out.last_mut() {
            Some(s) if s.msn == p.msn => s.add(&p),
            _ => out.push(ArchivedSegment::from_part(&p)),
        }
    }
    out
}

fn recover_rendition(dir: &Path, report: &mut RecoveryReport) -> io::Result<()> {
    report.renditions += 1;
    let index_path = dir.join("index.tsv");
    let (parts, good_len) = read_index(&index_path)?;
    let on_disk = fs::metadata(&index_path).map(|m| m.len()).unwrap_or(0);
    if on_disk > good_len {
        let f = OpenOptions::new().write(true).open(&index_path)?;
        f.set_len(good_len)?;
        f.sync_all()?;
        report.dropped_index_lines += 1;
    }
    report.parts += parts.len();
    let segments = group(parts);
    for seg in &segments {
        let path = dir.join(format!("{}.m4s", seg.msn));
        let want = seg.bytes;
        let have = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if have > want {
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(want)?;
            f.sync_all()?;
            report.truncated_bytes += have - want;
        }
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let msn = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".m4s"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(msn) = msn {
            if !segments.iter().any(|s| s.msn == msn) {
                fs::remove_file(&path)?;
                report.removed_files.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> RenditionMeta {
        RenditionMeta {
            name: "360p".into(),
            codecs: "avc1.64001e".into(),
            video: true,
            width: 640,
            height: 360,
            bitrate_kbps: 800,
            framerate: 25,
        }
    }

    fn part(msn: u64, part: u32, bytes: u64) -> IndexedPart {
        IndexedPart {
            msn,
            part,
            bytes,
            duration: 36_000,
            timescale: 90_000,
            wall_ns: 1_000 + msn * 10 + u64::from(part),
            independent: part == 0,
        }
    }

    #[test]
    fn parts_are_read_back_by_segment() {
        let d = tempfile::tempdir().unwrap();
        let s = ArchiveStore::new(d.path());
        s.write_init("main", "ab", &meta(), b"init").unwrap();
        for msn in 7..9 {
            for i in 0..5 {
                s.append_part("main", "ab", "360p", &part(msn, i, 3), b"xyz")
                    .unwrap();
            }
        }
        let segs = s.segments("main", "ab", "360p").unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].msn, 7);
        assert_eq!(segs[1].parts, 5);
        assert_eq!(segs[1].bytes, 15);
        assert_eq!(segs[1].wall_ns, 1_080);
        assert!((segs[0].duration_secs() - 2.0).abs() < 1e-9);
        let file = d.path().join("archive/main/ab/360p/8.m4s");
        assert_eq!(fs::read(file).unwrap().len(), 15);
        assert_eq!(s.renditions("main", "ab").unwrap(), vec![meta()]);
        assert_eq!(s.runs("main").unwrap(), vec!["ab".to_owned()]);
    }

    #[test]
    fn recovery_cuts_what_the_index_does_not_list() {
        let d = tempfile::tempdir().unwrap();
        let s = ArchiveStore::new(d.path());
        s.write_init("main", "ab", &meta(), b"init").unwrap();
        s.append_part("main", "ab", "360p", &part(1, 0, 3), b"abc")
            .unwrap();
        s.append_part("main", "ab", "360p", &part(1, 1, 3), b"def")
            .unwrap();
        let dir = d.path().join("archive/main/ab/360p");
        // A crash after the bytes of part 2 but before its index line, plus a
        // torn index line, plus a segment file the index never saw.
        OpenOptions::new()
            .append(true)
            .open(dir.join("1.m4s"))
            .unwrap()
            .write_all(b"gh")
            .unwrap();
        OpenOptions::new()
            .append(true)
            .open(dir.join("index.tsv"))
            .unwrap()
            .write_all(b"1 2 3 36")
            .unwrap();
        fs::write(dir.join("2.m4s"), b"orphan").unwrap();
        let report = s.recover().unwrap();
        assert_eq!(report.parts, 2);
        assert_eq!(report.truncated_bytes, 2);
        assert_eq!(report.dropped_index_lines, 1);
        assert_eq!(report.removed_files, vec![dir.join("2.m4s")]);
        assert_eq!(fs::read(dir.join("1.m4s")).unwrap(), b"abcdef");
        // Writing goes on cleanly after recovery.
        s.append_part("main", "ab", "360p", &part(1, 2, 3), b"ghi")
            .unwrap();
        assert_eq!(s.segments("main", "ab", "360p").unwrap()[0].parts, 3);
        assert_eq!(s.recover().unwrap().truncated_bytes, 0);
    }

    #[test]
    fn names_with_separators_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let s = ArchiveStore::new(d.path());
        for bad in ["../x", "a/b", ".hidden", ""] {
            assert!(s.rendition_dir("main", bad, "360p").is_err(), "{bad}");
        }
    }
}
