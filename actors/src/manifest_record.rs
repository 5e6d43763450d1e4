//! Making a C record, on the hasher's threads: from a finished preprocessor run's line
//! markers and `-v` report (`RecordRead`), or from a dependency file's names and the search
//! remembered for the command line (`RecordListed`). Every file read, digested and stamped;
//! every include-search candidate that was no file (`direct::probes`); each looked at once
//! (`PathKinds`).
//!
//! Invariant: a record is made only from files and directories that last changed before the
//! compile began (`Started::settled_before`, git's "racily clean" rule), and every file's way
//! is walked after it was read (`SettledPaths`), so a later change always moves a stamp the
//! record holds. How a record is checked is `manifest_files`'s.

use crate::c_memos::SearchList;
use crate::file_stamp::FileStamp;
use crate::flow::settled_path::{Anchors, SettledPaths};
use crate::flow::started::Started;
use crate::hasher::Hasher;
use crate::library_scan::LibraryScan;
use crate::manifest_files::{LISTED_ABOVE, LISTED_BYTES_PER_NAME};
use actix::prelude::*;
use sccache_core::compiler::gcc::refusal_in_source;
use sccache_core::direct::probes;
use sccache_core::direct::scan::{alias_uses, scan_header, HeaderScan};
use sccache_core::direct::{ByteBuf, DirProbes, Present, ReadFile, Recorded};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Makes a record from a finished preprocessor run: the files its line markers (in `text`)
/// name and the include searches its `-v` report (`stderr`) describes. The result key is
/// filled in by the caller. An error is the reason no record can be made.
#[derive(Message)]
#[rtype(result = "Result<Recorded, &'static str>")]
pub struct RecordRead {
    pub text: PathBuf,
    pub stderr: Vec<u8>,
    pub cwd: PathBuf,
    pub started: Started,
    /// Directories whose identity was taken before the compile (`settled_path`).
    pub anchors: Anchors,
}

impl Handler<RecordRead> for Hasher {
    type Result = Result<Recorded, &'static str>;

    fn handle(&mut self, message: RecordRead, _: &mut SyncContext<Self>) -> Self::Result {
        record(&message)
    }
}

fn record(message: &RecordRead) -> Result<Recorded, &'static str> {
    let text = std::fs::read(&message.text).map_err(|_| "preprocessed text gone")?;
    let names: Vec<Vec<u8>> = sccache_core::line_markers::files_named(&text)
        .into_iter()
        .collect();
    let search = probes::search_dirs(&message.stderr).ok_or("no include search list")?;
    record_files(
        &names,
        &search,
        &message.cwd,
        message.started,
        &message.anchors,
        ReadFrom::Text,
    )
}

/// Where a record's names came from. From a dependency file (no preprocessed text), more is
/// checked: the files read are scanned raw for assembler directives that read files (on the
/// preprocessor's path `DigestSource` scans the text; the assembler's reads reach no
/// dependency file), and a precompiled header beside any candidate refuses the record (a
/// compile that used one lists neither it nor the headers it was made from).
#[derive(Clone, Copy)]
enum ReadFrom<'a> {
    Text,
    /// With the directory listings to look for precompiled headers in, and whether clang
    /// wrote it.
    DependencyFile {
        listings: &'a LibraryScan,
        clang: bool,
    },
}

/// Makes a record from a compile that ran without the preprocessor (direct mode's depend path):
/// the files its dependency file names and the include search list of its command line. The
/// result key is filled in by the caller. An error is the reason no record can be made.
#[derive(Message)]
#[rtype(result = "Result<Recorded, &'static str>")]
pub struct RecordListed {
    pub names: Vec<Vec<u8>>,
    pub search: SearchList,
    pub cwd: PathBuf,
    pub started: Started,
    /// Directories whose identity was taken before the compile (`settled_path`).
    pub anchors: Anchors,
    pub listings: LibraryScan,
    /// Whether clang wrote the dependency file: it writes a backslash in a name as `/`.
    pub clang: bool,
}

impl Handler<RecordListed> for Hasher {
    type Result = Result<Recorded, &'static str>;

    fn handle(&mut self, message: RecordListed, _: &mut SyncContext<Self>) -> Self::Result {
        record_files(
            &message.names,
            &message.search,
            &message.cwd,
            message.started,
            &message.anchors,
            ReadFrom::DependencyFile {
                listings: &message.listings,
                clang: message.clang,
            },
        )
    }
}

/// Why a record is refused when a file it names, or the way to it (`settled_path`: a directory
/// renamed into place, a link pointed elsewhere), may have changed since the compile began:
/// the file stat'ed now may not be the one read. Passing (`c_depend` records it next time).
pub const CHANGED_RECENTLY: &str = "file read changed recently";

/// A record of the files `names` (relative to `cwd`), read by a compile that began at
/// `started`, whose include searches went through `search`.
fn record_files(
    names: &[Vec<u8>],
    search: &[Vec<u8>],
    cwd: &Path,
    started: Started,
    anchors: &Anchors,
    from: ReadFrom<'_>,
) -> Result<Recorded, &'static str> {
    let mut files = Vec::with_capacity(names.len());
    let mut asked = Vec::new();
    // Each file read, by inode, with the directories it was read from (by inode).
    let mut read_inodes: HashMap<(u64, u64), HashSet<(u64, u64)>> = HashMap::new();
    let mut groups = Groups::default();
    let (mut computed_include, mut pragma_once) = (false, false);
    let mut aliases = Vec::new();
    // Each file's bytes, kept (up to `KEPT_FOR_ALIASES` in all) while a macro defined as
    // `__has_include` may need them.
    let mut contents = Vec::with_capacity(names.len());
    let mut kept = 0;
    // The way to each file and directory the record names, which must not have changed.
    let mut ways = SettledPaths::new(started, cwd, anchors);
    for name in names {
        let path = cwd.join(OsStr::from_bytes(name));
        let (file, scan, bytes) = read_settled(&path, name, started, from)?;
        if !ways.settled(Path::new(OsStr::from_bytes(name))) {
            return Err(CHANGED_RECENTLY);
        }
        kept += bytes.len();
        contents.push((kept <= KEPT_FOR_ALIASES).then_some(bytes));
        let dir = std::fs::metadata(cwd.join(OsStr::from_bytes(parent(name))))
            .map_err(|_| "file read is gone")?;
        read_inodes
            .entry((file.stamp.device, file.stamp.inode))
            .or_default()
            .insert((dir.dev(), dir.ino()));
        asked.extend(scan.asked);
        aliases.extend(scan.aliases);
        computed_include |= scan.computed_include;
        pragma_once |= scan.pragma_once;
        files.push(file);
        // A precompiled header beside a header read would be used in its place.
        for suffix in [&b".gch"[..], b".pch"] {
            let mut candidate = name.clone();
            candidate.extend_from_slice(suffix);
            if std::fs::symlink_metadata(cwd.join(OsStr::from_bytes(&candidate))).is_ok() {
                return Err("precompiled header");
            }
            groups.gone(parent(name), basename(&candidate));
        }
    }
    if !aliases.is_empty() {
        // A macro defined as `__has_include` may be used in any file read: each is scanned for
        // its uses (one not kept read again, as recorded: by its digest).
        for (file, bytes) in files.iter().zip(contents) {
            let bytes = match bytes {
                Some(bytes) => bytes,
                None => {
                    let bytes =
                        crate::file_system::read_regular(&cwd.join(OsStr::from_bytes(&file.name)))
                            .map_err(|_| "file read is unreadable")?;
                    if sccache_core::hash_key::digest(&bytes) != file.digest {
                        return Err(CHANGED_RECENTLY);
                    }
                    bytes
                }
            };
            asked.extend(alias_uses(&bytes, &aliases)?);
        }
    }
    if computed_include && matches!(from, ReadFrom::DependencyFile { clang: true, .. }) {
        // A name a macro spells is in no scan, and clang writes a backslash in one as `/` in
        // its dependency file (`a\b.h` as `a/b.h`, another file): the preprocessor's line
        // markers keep it, so that path records it. (gcc writes it as it is.)
        return Err("computed #include on clang's dependency path");
    }
    if computed_include && pragma_once {
        // A file gcc skips under `#pragma once` is named nowhere, and a macro-named include
        // hides its spelling too: nothing would say where to look.
        return Err("computed #include with #pragma once");
    }
    // The directories the command line and the environment name join the search: a
    // compiler's report leaves out a duplicate (clang names the one it kept), and which
    // directories are duplicates depends on where links lead.
    let mut search = search.to_vec();
    for dir in anchors.include_dirs() {
        let dir = dir.as_os_str().as_bytes().to_vec();
        if !search.contains(&dir) {
            search.push(dir);
        }
    }
    if one_directory_by_two_names(cwd, &search) {
        return Err("an include directory by two names through a link");
    }
    let search = &search[..];
    let read_names: HashSet<Vec<u8>> = names.iter().map(|name| spelled_plainly(name)).collect();
    // gcc includes `<stdc-predef.h>` before the source, silently when none is found: a
    // spelling no file read shows where none was (a sysroot without one).
    asked.push(b"stdc-predef.h".to_vec());
    let candidates = probes::candidates(search, names, &asked).ok_or("too many probes")?;
    let mut no_dir = Vec::new();
    let mut present = Vec::new();
    let mut kinds = PathKinds::default();
    for (dir, paths) in candidates {
        let dir_path = cwd.join(OsStr::from_bytes(&dir));
        let dir_metadata = kinds.dir(dir_path.clone());
        let dir_inode = dir_metadata
            .as_ref()
            .map(|metadata| (metadata.dev(), metadata.ino()));
        if dir_inode.is_some() && !ways.settled(Path::new(OsStr::from_bytes(&dir))) {
            return Err(CHANGED_RECENTLY);
        }
        let Some(dir_inode) = dir_inode else {
            if search.contains(&dir) && kinds.of(dir_path.clone()) != PathKind::Missing {
                // A search directory that is a file: clang reads it as a header map, whose
                // contents say where names are found.
                return Err("a search directory that is no directory");
            }
            match topmost_missing(&mut kinds, cwd, &dir) {
                Some((parent, name)) => groups.gone(parent, name),
                None => no_dir.push(ByteBuf::from(dir)),
            }
            continue;
        };
        if let ReadFrom::DependencyFile { listings, .. } = from {
            if precompiled_beside(listings, &dir_path, &paths) {
                return Err("precompiled header");
            }
        }
        // Most candidates name nothing. Many in a small directory are told by one listing,
        // as a hit checks them (`probes_hold`): where a lookup matches names byte for byte, a
        // name the listing lacks names nothing.
        let list = paths.len() > LISTED_ABOVE
            && dir_metadata.as_ref().is_some_and(|metadata| {
                metadata.len() <= paths.len() as u64 * LISTED_BYTES_PER_NAME
            });
        let listed = list
            .then(|| {
                let wanted: HashSet<&[u8]> = paths.iter().map(|path| basename(path)).collect();
                crate::file_system::names_listed(&dir_path, &wanted)
            })
            .flatten();
        for path in paths {
            if listed
                .as_ref()
                .is_some_and(|listed| !listed.contains(basename(&path)))
            {
                groups.gone(&dir, basename(&path));
                continue;
            }
            let full = cwd.join(OsStr::from_bytes(&path));
            // Else one `lstat` tells, and a link is followed after.
            let entry = match std::fs::symlink_metadata(&full) {
                Ok(entry) if entry.file_type().is_symlink() => std::fs::metadata(&full),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    groups.gone(&dir, basename(&path));
                    continue;
                }
                found => found,
            };
            match entry {
                Ok(metadata) if metadata.is_file() => {
                    // Not read, yet a candidate: fine only if it was there before the
                    // preprocessor looked (it then lost the search, and nothing it holds
                    // matters); one that appeared since may be found next time.
                    let read_from = read_inodes.get(&(metadata.dev(), metadata.ino()));
                    if read_from.is_some_and(|dirs| !dirs.contains(&dir_inode)) {
                        // The file read, found in another directory too: clang takes the
                        // directory it first found a file in for that file's `"..."`
                        // includes, wherever it is included from later, and that directory
                        // would not be searched here.
                        return Err("a file read found in two directories");
                    }
                    if read_from.is_none() && !started.settled_before(&metadata) {
                        return Err("new file on the include path");
                    }
                    // Its times are the file's at the end of its way, which may have led to
                    // nothing during the compile (a link into a directory renamed in since).
                    if !ways.settled(Path::new(OsStr::from_bytes(&path))) {
                        return Err(CHANGED_RECENTLY);
                    }
                    // A file read is checked by its own name. The same file by another name
                    // (a path through a link to a directory, which can be pointed elsewhere;
                    // a hard link, which can be replaced; gcc names a system header by its
                    // shortest real path) is a candidate like any other: it must stay that
                    // very file, else the search may now find something else there, or a
                    // file gcc skipped under `#pragma once` as the same one is now another.
                    if !read_names.contains(&spelled_plainly(&path)) {
                        present.push(Present {
                            name: path,
                            stamp: FileStamp::of(&metadata).recorded(),
                        });
                    }
                }
                // A dangling link, a directory, a path through a file.
                _ => groups.not_file(&dir, basename(&path)),
            }
        }
    }
    Ok(Recorded {
        files,
        probes: groups.finish(cwd, started),
        no_dir,
        present,
        once_only: pragma_once,
        result: [0; 32],
    })
}

/// The names of one directory that named nothing, and those that named no regular file.
type Names = (BTreeSet<Vec<u8>>, BTreeSet<Vec<u8>>);

/// The probes of a record being made, by directory.
#[derive(Default)]
struct Groups(BTreeMap<Vec<u8>, Names>);

impl Groups {
    fn gone(&mut self, dir: &[u8], name: &[u8]) {
        self.0
            .entry(dir.to_vec())
            .or_default()
            .0
            .insert(name.to_vec());
    }

    fn not_file(&mut self, dir: &[u8], name: &[u8]) {
        self.0
            .entry(dir.to_vec())
            .or_default()
            .1
            .insert(name.to_vec());
    }

    /// The groups, each with its directory's stamp when that last changed before `started`
    /// (then no entry of it changed since the preprocessor began, nor can change without
    /// moving the stamp).
    fn finish(self, cwd: &Path, started: Started) -> Vec<DirProbes> {
        let bytes = |names: BTreeSet<Vec<u8>>| names.into_iter().map(ByteBuf::from).collect();
        self.0
            .into_iter()
            .map(|(dir, (gone, not_files))| {
                let stamp = std::fs::metadata(cwd.join(OsStr::from_bytes(&dir)))
                    .ok()
                    .filter(|metadata| metadata.is_dir() && started.settled_before(metadata))
                    .map(|metadata| FileStamp::of(&metadata).recorded());
                DirProbes {
                    dir,
                    stamp,
                    gone: bytes(gone),
                    not_files: bytes(not_files),
                }
            })
            .collect()
    }
}

/// Whether the directory at `dir` holds a precompiled header (`<name>.gch`, `<name>.pch`, a
/// file or a directory) for any of `paths` (candidates in it), by its listing (`LibraryScan`,
/// remembered by the directory's stamp); also when it cannot be listed.
fn precompiled_beside(listings: &LibraryScan, dir: &Path, paths: &BTreeSet<Vec<u8>>) -> bool {
    let Some(entries) = listings.entries(dir) else {
        return true;
    };
    let precompiled: HashSet<&[u8]> = entries
        .iter()
        .filter_map(|entry| entry.file_name())
        .map(OsStr::as_bytes)
        .filter(|name| name.ends_with(b".gch") || name.ends_with(b".pch"))
        .collect();
    !precompiled.is_empty()
        && paths.iter().any(|path| {
            [&b".gch"[..], b".pch"].iter().any(|suffix| {
                let mut name = basename(path).to_vec();
                name.extend_from_slice(suffix);
                precompiled.contains(name.as_slice())
            })
        })
}

/// `name` without the `.` components and repeated slashes that name nothing else (`./a//b.h`
/// is `a/b.h`); `..` stays, since the kernel resolves it through links.
fn spelled_plainly(name: &[u8]) -> Vec<u8> {
    let mut plain = Vec::with_capacity(name.len());
    if name.starts_with(b"/") {
        plain.push(b'/');
    }
    for part in name.split(|byte| *byte == b'/') {
        if part.is_empty() || part == b"." {
            continue;
        }
        if !plain.is_empty() && !plain.ends_with(b"/") {
            plain.push(b'/');
        }
        plain.extend_from_slice(part);
    }
    plain
}

/// For a candidate directory `dir` that is missing, the directory and name of its first
/// missing component, found by walking its path from the start as the kernel resolves it
/// (`..` included): every path that begins with that directory and name resolves through
/// them, so while the name is still missing there, nothing at or beneath `dir` exists. `None`
/// when something other than a directory stands in the way (a file, a dangling link): then
/// `dir` itself is checked on every hit.
fn topmost_missing<'a>(
    kinds: &mut PathKinds,
    cwd: &Path,
    dir: &'a [u8],
) -> Option<(&'a [u8], &'a [u8])> {
    if kinds.of(cwd.join(OsStr::from_bytes(dir))) != PathKind::Missing {
        return None;
    }
    let mut start = 0;
    while start < dir.len() {
        let end = dir[start..]
            .iter()
            .position(|byte| *byte == b'/')
            .map_or(dir.len(), |at| start + at);
        let name = &dir[start..end];
        // `.` and `..` of a directory always exist.
        if !name.is_empty() && name != b"." && name != b".." {
            match kinds.of(cwd.join(OsStr::from_bytes(&dir[..end]))) {
                PathKind::Missing => {
                    let up = up_to(dir, start);
                    let up_is_dir = kinds.of(cwd.join(OsStr::from_bytes(up))) == PathKind::Dir;
                    return up_is_dir.then_some((up, name));
                }
                PathKind::Dir => {}
                PathKind::Other => return None,
            }
        }
        start = end + 1;
    }
    None
}

/// What the paths one record's making asks about are, each looked at once: a record's
/// missing candidate directories share their leading directories (`/usr`, `/usr/include`...
/// for every spelling with a directory, under every search directory). What it says goes
/// into probes (gone names, missing directories), whose directories' stamps are taken afresh
/// when the record is finished (`Groups::finish`): a name that appears in one after it was
/// looked at moves the stamp it is recorded with, so the hit looks again; and a candidate
/// directory's identity, whose way is walked right after. The ways to the files read and to
/// present candidates are walked afresh after each is looked at (`SettledPaths`), never from
/// this memo.
#[derive(Default)]
struct PathKinds(HashMap<Vec<u8>, Seen>);

/// What a path is, as `topmost_missing` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathKind {
    /// Nothing there (`lstat` finds no entry).
    Missing,
    /// A directory, or a link to one.
    Dir,
    /// Anything else: a file, a dangling link, a path through a file, an unreadable one.
    Other,
}

/// What was found at a path: a directory with its metadata (a link's target's).
enum Seen {
    Missing,
    Dir(std::fs::Metadata),
    Other,
}

impl PathKinds {
    fn of(&mut self, path: PathBuf) -> PathKind {
        match self.seen(path) {
            Seen::Missing => PathKind::Missing,
            Seen::Dir(_) => PathKind::Dir,
            Seen::Other => PathKind::Other,
        }
    }

    /// The directory at `path` (a link followed), if one is there.
    fn dir(&mut self, path: PathBuf) -> Option<std::fs::Metadata> {
        match self.seen(path) {
            Seen::Dir(metadata) => Some(metadata.clone()),
            _ => None,
        }
    }

    fn seen(&mut self, path: PathBuf) -> &Seen {
        // Beneath a path that names nothing, nothing is found either (`ENOENT`), whatever
        // follows (`..` included).
        // By bytes: `a/` and `a` differ where `a` is a link that leads nowhere.
        let bytes = path.into_os_string().into_vec();
        let beneath_missing = (1..bytes.len())
            .filter(|&end| bytes[end] == b'/')
            .any(|end| matches!(self.0.get(&bytes[..end]), Some(Seen::Missing)));
        if beneath_missing {
            return self.0.entry(bytes).or_insert(Seen::Missing);
        }
        self.0.entry(bytes).or_insert_with_key(|bytes| {
            let path = Path::new(OsStr::from_bytes(bytes));
            match std::fs::symlink_metadata(path) {
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Seen::Missing,
                Ok(entry) if entry.is_dir() => Seen::Dir(entry),
                Ok(entry) if entry.file_type().is_symlink() => match std::fs::metadata(path) {
                    Ok(target) if target.is_dir() => Seen::Dir(target),
                    _ => Seen::Other,
                },
                _ => Seen::Other,
            }
        })
    }
}

/// The part of `path` before the component that starts at `start`, without trailing slashes:
/// `/` or `.` when nothing is left.
fn up_to(path: &[u8], start: usize) -> &[u8] {
    let mut end = start;
    while end > 0 && path[end - 1] == b'/' {
        end -= 1;
    }
    match (end, path.first()) {
        (0, Some(b'/')) => b"/",
        (0, _) => b".",
        _ => &path[..end],
    }
}

/// Reads a file the preprocessor read, refusing one that changed since it began, changes
/// while read, or holds what direct mode cannot replay. Returns its record and what the scan
/// of its bytes found.
fn read_settled(
    path: &Path,
    name: &[u8],
    started: Started,
    from: ReadFrom<'_>,
) -> Result<(ReadFile, HeaderScan, Vec<u8>), &'static str> {
    let before = std::fs::metadata(path).map_err(|_| "file read is gone")?;
    if !before.is_file() {
        return Err("read a file that is not regular");
    }
    if !started.settled_before(&before) {
        return Err(CHANGED_RECENTLY);
    }
    let bytes = crate::file_system::read_regular(path).map_err(|_| "file read is unreadable")?;
    let stamp = FileStamp::of(&before);
    if FileStamp::at(path) != Some(stamp) {
        return Err(CHANGED_RECENTLY);
    }
    let scan = scan_header(&bytes);
    if let Some(reason) = scan.refusal {
        return Err(reason);
    }
    if let ReadFrom::DependencyFile { .. } = from {
        if let Some(reason) = refusal_in_source(&bytes) {
            return Err(reason);
        }
    }
    let file = ReadFile {
        name: name.to_vec(),
        stamp: stamp.recorded(),
        digest: sccache_core::hash_key::digest(&bytes),
    };
    Ok((file, scan, bytes))
}

fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|byte| *byte == b'/') {
        Some(at) => &path[at + 1..],
        None => path,
    }
}

fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|byte| *byte == b'/') {
        Some(0) => b"/",
        Some(at) => &path[..at],
        None => b".",
    }
}

/// The most bytes of the files read that a record keeps in memory for `alias_uses`; beyond
/// it, a file is read again should a macro defined as `__has_include` turn up.
const KEPT_FOR_ALIASES: usize = 16 << 20;

/// Whether two of the search directories are one directory by two names, one of them through
/// a link: the compilers search it once (gcc keeps a system directory over an `-I` one), and
/// which they keep, and whether they still are one, depends on where the link leads, which no
/// probe watches. The same directory named twice alike is no such case.
fn one_directory_by_two_names(cwd: &Path, search: &[Vec<u8>]) -> bool {
    let mut seen: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for dir in search {
        let lexical = lexically_normal(&cwd.join(OsStr::from_bytes(dir)));
        let Ok(metadata) = std::fs::metadata(&lexical) else {
            continue;
        };
        if !metadata.is_dir() {
            continue;
        }
        match seen.entry((metadata.dev(), metadata.ino())) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(lexical);
            }
            std::collections::hash_map::Entry::Occupied(entry) => {
                let through_link =
                    |path: &Path| std::fs::canonicalize(path).map_or(true, |real| real != path);
                if *entry.get() != lexical && (through_link(entry.get()) || through_link(&lexical))
                {
                    return true;
                }
            }
        }
    }
    false
}

/// `path` with `.` components and repeated or trailing slashes gone (`..` kept: it is the
/// kernel's to resolve).
fn lexically_normal(path: &Path) -> PathBuf {
    path.components().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_probed_at_its_first_missing_component() {
        let root = tempfile::tempdir().unwrap();
        let cwd = root.path();
        std::fs::create_dir_all(cwd.join("inc/sub")).unwrap();
        std::fs::write(cwd.join("file"), b"").unwrap();
        let cases: [(&str, Option<(&str, &str)>); 8] = [
            ("inc/sub/nope", Some(("inc/sub", "nope"))),
            ("inc/gone/deeper", Some(("inc", "gone"))),
            // `..` resolves through what came before it: `gone/..` needs `gone`.
            ("inc/gone/../sub/x", Some(("inc", "gone"))),
            ("inc/sub/../gone/x", Some(("inc/sub/..", "gone"))),
            ("gone/x", Some((".", "gone"))),
            ("inc//gone", Some(("inc", "gone"))),
            // Something other than a directory in the way.
            ("file/x", None),
            // Not missing at all.
            ("inc/sub", None),
        ];
        for (dir, expected) in cases {
            let found = topmost_missing(&mut PathKinds::default(), cwd, dir.as_bytes());
            let expected = expected.map(|(up, name)| (up.as_bytes(), name.as_bytes()));
            assert_eq!(found, expected, "{dir}");
        }
        let absolute = cwd.join("inc/gone/../x");
        let absolute = absolute.as_os_str().as_bytes();
        let (up, name) =
            topmost_missing(&mut PathKinds::default(), Path::new("/"), absolute).unwrap();
        assert_eq!(Path::new(OsStr::from_bytes(up)), cwd.join("inc"));
        assert_eq!(name, b"gone");
        assert_eq!(up_to(b"/gone", 1), b"/");
    }

    #[test]
    fn a_name_spelled_plainly_keeps_what_the_kernel_resolves() {
        for (name, plain) in [
            ("./a//b.h", "a/b.h"),
            ("/usr/./include//x.h", "/usr/include/x.h"),
            ("inc/../x.h", "inc/../x.h"),
            ("x.h", "x.h"),
        ] {
            assert_eq!(spelled_plainly(name.as_bytes()), plain.as_bytes(), "{name}");
        }
    }
}
