//! The file side of direct mode, on the hasher's threads: digesting a source through the
//! `DigestMemo` (`DigestFile`), checking a manifest's records against the file system
//! (`CheckManifest`), and making a record from a finished preprocessor run (`RecordRead`).
//!
//! Invariant: a record is made only from files and directories that last changed before the
//! preprocessor began (`Started::settled_before`, git's "racily clean" rule), so a later
//! change always moves a stamp the record holds; and a record holds every file read and every
//! include-search candidate that was no file (`direct::probes`). A check accepts a record only
//! if every file read is the one recorded (same stamp, or same digest), every candidate is
//! still no file, and every candidate that was a file unread keeps its stamp. What goes into keys is decided in `hash_key`, not here.

use crate::file_stamp::FileStamp;
use crate::flow::read_since::Started;
use crate::hasher::Hasher;
use actix::prelude::*;
use sccache_core::direct::probes;
use sccache_core::direct::scan::{scan_header, HeaderScan};
use sccache_core::direct::{ByteBuf, Manifest, NoFiles, Present, ReadFile, Recorded};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Digests one file through the memo (a compile's source, for its manifest key).
#[derive(Message)]
#[rtype(result = "std::io::Result<[u8; 32]>")]
pub struct DigestFile {
    pub path: PathBuf,
}

impl Handler<DigestFile> for Hasher {
    type Result = std::io::Result<[u8; 32]>;

    fn handle(&mut self, message: DigestFile, _: &mut SyncContext<Self>) -> Self::Result {
        self.memo.digest(&message.path)
    }
}

/// Finds the newest record of `manifest` that still holds. The manifest comes back with the
/// answer (a miss updates it), so it is moved, never copied, on a hit's path.
#[derive(Message)]
#[rtype(result = "Checked")]
pub struct CheckManifest {
    pub manifest: Manifest,
    pub cwd: PathBuf,
}

/// What a check found, and the manifest it checked.
pub struct Checked {
    pub holding: Option<Holding>,
    pub manifest: Manifest,
}

/// A record that holds: its result key and the files it was made from.
pub struct Holding {
    pub result: [u8; 32],
    pub files: Vec<PathBuf>,
}

impl Handler<CheckManifest> for Hasher {
    type Result = MessageResult<CheckManifest>;

    fn handle(&mut self, message: CheckManifest, _: &mut SyncContext<Self>) -> Self::Result {
        let CheckManifest { manifest, cwd } = message;
        let holding = manifest
            .results
            .iter()
            .find(|recorded| self.holds(recorded, &cwd))
            .map(|recorded| Holding {
                result: recorded.result,
                files: recorded
                    .files
                    .iter()
                    .map(|file| PathBuf::from(std::ffi::OsString::from_vec(file.name.clone())))
                    .collect(),
            });
        MessageResult(Checked { holding, manifest })
    }
}

impl Hasher {
    fn holds(&self, recorded: &Recorded, cwd: &Path) -> bool {
        let files_same = recorded.files.iter().all(|file| {
            let path = cwd.join(OsStr::from_bytes(&file.name));
            let Ok(metadata) = std::fs::metadata(&path) else {
                return false;
            };
            FileStamp::of(&metadata).recorded() == file.stamp
                || (metadata.is_file() && self.memo.digest(&path).ok() == Some(file.digest))
        });
        let no_new_dirs = recorded.no_dir.iter().all(|dir| {
            !std::fs::metadata(cwd.join(OsStr::from_bytes(dir))).is_ok_and(|m| m.is_dir())
        });
        let present_same = recorded.present.iter().all(|file| {
            FileStamp::at(&cwd.join(OsStr::from_bytes(&file.name))).map(|stamp| stamp.recorded())
                == Some(file.stamp)
        });
        files_same
            && no_new_dirs
            && present_same
            && recorded.no_file.iter().all(|group| no_files(cwd, group))
    }
}

/// Whether none of a group's names is a regular file now.
fn no_files(cwd: &Path, group: &NoFiles) -> bool {
    let dir = cwd.join(OsStr::from_bytes(&group.dir));
    if !std::fs::metadata(&dir).is_ok_and(|metadata| metadata.is_dir()) {
        return true;
    }
    group.names.iter().all(|name| {
        !std::fs::metadata(dir.join(OsStr::from_bytes(name))).is_ok_and(|m| m.is_file())
    })
}

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
    let mut files = Vec::with_capacity(names.len());
    let mut asked = Vec::new();
    let mut read_inodes = HashSet::new();
    let mut no_file = Vec::new();
    let (mut computed_include, mut pragma_once) = (false, false);
    for name in &names {
        let path = message.cwd.join(OsStr::from_bytes(name));
        let (file, scan) = read_settled(&path, name, message.started)?;
        read_inodes.insert((file.stamp.device, file.stamp.inode));
        asked.extend(scan.asked);
        computed_include |= scan.computed_include;
        pragma_once |= scan.pragma_once;
        files.push(file);
        // A precompiled header beside a header read would be used in its place.
        let mut pch = Vec::new();
        for suffix in [&b".gch"[..], b".pch"] {
            let mut candidate = name.clone();
            candidate.extend_from_slice(suffix);
            if std::fs::symlink_metadata(message.cwd.join(OsStr::from_bytes(&candidate))).is_ok() {
                return Err("precompiled header");
            }
            pch.push(ByteBuf::from(basename(&candidate).to_vec()));
        }
        no_file.push(NoFiles {
            dir: parent(name).to_vec(),
            names: pch,
        });
    }
    if computed_include && pragma_once {
        // A file gcc skips under `#pragma once` is named nowhere, and a macro-named include
        // hides its spelling too: nothing would say where to look.
        return Err("computed #include with #pragma once");
    }
    let candidates = probes::candidates(&search, &names, &asked).ok_or("too many probes")?;
    let mut no_dir = Vec::new();
    let mut present = Vec::new();
    for (dir, paths) in candidates {
        let dir_path = message.cwd.join(OsStr::from_bytes(&dir));
        if !std::fs::metadata(&dir_path).is_ok_and(|metadata| metadata.is_dir()) {
            no_dir.push(ByteBuf::from(dir));
            continue;
        }
        let mut absent = Vec::new();
        for path in paths {
            match std::fs::metadata(message.cwd.join(OsStr::from_bytes(&path))) {
                Ok(metadata) if metadata.is_file() => {
                    // Not read, yet a candidate: fine only if it was there before the
                    // preprocessor looked (it then lost the search, and nothing it holds
                    // matters); one that appeared since may be found next time.
                    let read = read_inodes.contains(&(metadata.dev(), metadata.ino()));
                    if !read && !message.started.settled_before(&metadata) {
                        return Err("new file on the include path");
                    }
                    if !read {
                        present.push(Present {
                            name: path,
                            stamp: FileStamp::of(&metadata).recorded(),
                        });
                    }
                }
                _ => absent.push(ByteBuf::from(basename(&path).to_vec())),
            }
        }
        if !absent.is_empty() {
            no_file.push(NoFiles { dir, names: absent });
        }
    }
    Ok(Recorded {
        files,
        no_file,
        no_dir,
        present,
        result: [0; 32],
    })
}

/// Reads a file the preprocessor read, refusing one that changed since it began, changes
/// while read, or holds what direct mode cannot replay. Returns its record and what the scan
/// of its bytes found.
fn read_settled(
    path: &Path,
    name: &[u8],
    started: Started,
) -> Result<(ReadFile, HeaderScan), &'static str> {
    let before = std::fs::metadata(path).map_err(|_| "file read is gone")?;
    if !before.is_file() {
        return Err("read a file that is not regular");
    }
    if !started.settled_before(&before) {
        return Err("file read changed recently");
    }
    let bytes = std::fs::read(path).map_err(|_| "file read is unreadable")?;
    let stamp = FileStamp::of(&before);
    if FileStamp::at(path) != Some(stamp) {
        return Err("file read changed recently");
    }
    let scan = scan_header(&bytes);
    if let Some(reason) = scan.refusal {
        return Err(reason);
    }
    let file = ReadFile {
        name: name.to_vec(),
        stamp: stamp.recorded(),
        digest: sccache_core::hash_key::digest(&bytes),
    };
    Ok((file, scan))
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
