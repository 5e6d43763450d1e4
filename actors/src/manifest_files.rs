//! The file side of a C direct lookup, on the hasher's threads: digesting a source through the
//! `DigestMemo` and checking the manifest remembered for it (`FindManifest`), and checking a
//! manifest's records against the file system (`CheckManifest`). Records are made in
//! `manifest_record`.
//!
//! A check accepts a record only if every file read is the one recorded (same stamp, or same
//! digest), every candidate is still no file, and every candidate that was a file unread
//! keeps its stamp. What goes into keys is decided in `hash_key`, not here.

use crate::file_stamp::FileStamp;
use crate::hasher::Hasher;
use crate::manifest_memo::ManifestMemo;
use actix::prelude::*;
use sccache_core::direct::{ByteBuf, DirProbes, Manifest, ReadFile, Recorded};
use sccache_core::hash_key::{CacheKey, ManifestKeyPart};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A direct lookup's file work in one trip to the hasher: digests the compile's source through
/// the memo, finishes the manifest key with it, and checks the manifest remembered under that
/// key, if any (one fetched from storage is checked by `CheckManifest`).
#[derive(Message)]
#[rtype(result = "std::io::Result<Found>")]
pub struct FindManifest {
    pub source: PathBuf,
    pub key: ManifestKeyPart,
    pub manifests: ManifestMemo,
    pub cwd: PathBuf,
}

/// What `FindManifest` found: the manifest key, and the manifest remembered under it with the
/// record of it that holds.
pub struct Found {
    pub key: CacheKey,
    pub remembered: Option<(Arc<Manifest>, Option<Holding>)>,
}

impl Handler<FindManifest> for Hasher {
    type Result = std::io::Result<Found>;

    fn handle(&mut self, message: FindManifest, _: &mut SyncContext<Self>) -> Self::Result {
        let FindManifest {
            source,
            key,
            manifests,
            cwd,
        } = message;
        let key = key.with_input(&self.memo.digest(&source)?);
        let remembered = manifests.get(&key).map(|manifest| {
            let holding = self.newest_holding(&manifest, &cwd);
            (manifest, holding)
        });
        Ok(Found { key, remembered })
    }
}

/// Finds the newest record of `manifest` that still holds.
#[derive(Message)]
#[rtype(result = "Option<Holding>")]
pub struct CheckManifest {
    pub manifest: Arc<Manifest>,
    pub cwd: PathBuf,
}

/// A record that holds: its result key and the files it was made from.
pub struct Holding {
    pub result: [u8; 32],
    pub files: Vec<PathBuf>,
}

impl Handler<CheckManifest> for Hasher {
    type Result = Option<Holding>;

    fn handle(&mut self, message: CheckManifest, _: &mut SyncContext<Self>) -> Self::Result {
        self.newest_holding(&message.manifest, &message.cwd)
    }
}

impl Hasher {
    /// The newest record of `manifest` that still holds.
    fn newest_holding(&self, manifest: &Manifest, cwd: &Path) -> Option<Holding> {
        manifest
            .results
            .iter()
            .find(|recorded| self.holds(recorded, cwd))
            .map(|recorded| Holding {
                result: recorded.result,
                files: recorded
                    .files
                    .iter()
                    .map(|file| PathBuf::from(std::ffi::OsString::from_vec(file.name.clone())))
                    .collect(),
            })
    }

    fn holds(&self, recorded: &Recorded, cwd: &Path) -> bool {
        let mut joined = Joined::new(cwd);
        let files_same = recorded.files.iter().all(|file| {
            let path = joined.join(&file.name);
            let Ok(metadata) = std::fs::metadata(path) else {
                return false;
            };
            FileStamp::of(&metadata).recorded() == file.stamp
                || (metadata.is_file()
                    && self.memo.digest(path).ok() == Some(file.digest)
                    && !may_be_taken_for_another(recorded, file)
                    && !renamed_shorter(path, &file.name))
        });
        files_same
            && recorded.probes.iter().all(|group| probes_hold(cwd, group))
            && recorded.no_dir.iter().all(|dir| {
                std::fs::metadata(joined.join(dir))
                    .map_or_else(|error| names_nothing(&error), |m| !m.is_dir())
            })
            && recorded.present.iter().all(|file| {
                FileStamp::at(joined.join(&file.name)).map(|stamp| stamp.recorded())
                    == Some(file.stamp)
            })
    }
}

/// Whether gcc would now name a file read otherwise: it writes a system header's name as its
/// real path when that is shorter (`-fcanonical-system-headers`), into the object's debug
/// information and `__FILE__`. A file whose stamp moved (another inode now, say through a
/// link on its way pointed elsewhere) holds by its digest only while its real path is no
/// shorter than the name recorded, which gcc then writes as it did.
fn renamed_shorter(path: &Path, name: &[u8]) -> bool {
    std::fs::canonicalize(path).map_or(true, |real| {
        real.as_os_str().len() < name.len() && real.as_os_str().as_bytes() != name
    })
}

/// Whether a compiler could take `file` for another file of the record, so that its stamp
/// matters beyond its bytes: where a file read says `#pragma once` (or is `#import`ed), gcc
/// skips a file when one already read has the same size, modification second and bytes, and
/// clang when it is the same inode. So a file whose stamp moved holds by its digest alone
/// only when no other file read has its digest and no candidate it skipped has its size.
fn may_be_taken_for_another(recorded: &Recorded, file: &ReadFile) -> bool {
    if !recorded.once_only {
        return false;
    }
    let twin_read = recorded
        .files
        .iter()
        .any(|other| !std::ptr::eq(other, file) && other.digest == file.digest);
    twin_read
        || recorded
            .present
            .iter()
            .any(|present| present.stamp.size == file.stamp.size)
}

/// Names below one directory joined as `Path::join` joins them (an absolute name stands
/// alone), in one buffer used again: a check joins a hundred names or more per hit, and
/// `Path::join` was 5.6 % of the server's samples over warm C rebuilds.
struct Joined {
    bytes: Vec<u8>,
    base: usize,
}

impl Joined {
    fn new(dir: &Path) -> Joined {
        let mut bytes = dir.as_os_str().as_bytes().to_vec();
        if !bytes.is_empty() && !bytes.ends_with(b"/") {
            bytes.push(b'/');
        }
        let base = bytes.len();
        Joined { bytes, base }
    }

    fn join<'a>(&'a mut self, name: &'a [u8]) -> &'a Path {
        if name.starts_with(b"/") {
            return Path::new(OsStr::from_bytes(name));
        }
        self.bytes.truncate(self.base);
        self.bytes.extend_from_slice(name);
        Path::new(OsStr::from_bytes(&self.bytes))
    }
}

/// Above this many `gone` names, a directory whose stamp moved is listed once instead of
/// looking each name up (a working directory that every compile writes its object into)...
pub(crate) const LISTED_ABOVE: usize = 16;

/// ...when its size (ext4 ~32 bytes an entry, tmpfs 20, Btrfs twice the names) is at most
/// this many bytes per name: a listing then reads at most a few entries per name looked for,
/// and a large directory is never read whole on every hit.
pub(crate) const LISTED_BYTES_PER_NAME: u64 = 128;

/// Whether a directory's candidates are still no file: its `not_files` always looked at, its
/// `gone` names only when the directory's stamp moved (or none was recorded). A directory that
/// is gone, no directory, or another directory (device and inode) now refuses. Many `gone` names of a small directory are
/// checked against its listing where a lookup matches names byte for byte (`names_listed`): a
/// name not listed names nothing; one listed is looked up as any other.
fn probes_hold(cwd: &Path, group: &DirProbes) -> bool {
    let mut path = cwd.join(OsStr::from_bytes(&group.dir));
    // A directory of candidates was one when the record was made: gone or no directory now,
    // it holds no file, but a search says so (`-Wmissing-include-dirs`, gcc's "not a
    // directory", clang's header map read from a file), so the compile may not be the same.
    let Ok(metadata) = std::fs::metadata(&path) else {
        return false;
    };
    if !metadata.is_dir() {
        return false;
    }
    if group
        .stamp
        .is_some_and(|stamp| (stamp.device, stamp.inode) != (metadata.dev(), metadata.ino()))
    {
        // Another directory by this name now (a link on the way pointed elsewhere, another
        // directory renamed in): the same files may be found there by other names, which gcc
        // writes (a system header's real path), and the compilers' duplicate search
        // directories may be others.
        return false;
    }
    let unchanged = group.stamp == Some(FileStamp::of(&metadata).recorded());
    let names = group.gone.len() + group.not_files.len();
    let list = !unchanged
        && group.gone.len() > LISTED_ABOVE
        && metadata.len() <= names as u64 * LISTED_BYTES_PER_NAME;
    let listed = list
        .then(|| {
            let wanted: HashSet<&[u8]> = group
                .gone
                .iter()
                .chain(&group.not_files)
                .map(|name| name.as_slice())
                .collect();
            crate::file_system::names_listed(&path, &wanted)
        })
        .flatten();
    let mut each = |names: &[ByteBuf], allowed: fn(&std::fs::Metadata) -> bool| {
        names.iter().all(|name| {
            if listed
                .as_ref()
                .is_some_and(|listed| !listed.contains(name.as_slice()))
            {
                return true;
            }
            path.push(OsStr::from_bytes(name));
            let holds = std::fs::metadata(&path)
                .map_or_else(|error| names_nothing(&error), |m| allowed(&m));
            path.pop();
            holds
        })
    };
    // A lookup skips a directory and goes on searching; anything else it opens and reads (a
    // FIFO, a device, `/dev/null` by a link), so a name that was no regular file holds only
    // while it is a directory or nothing, and a name that was nothing only while it is nothing.
    each(&group.not_files, std::fs::Metadata::is_dir) && (unchanged || each(&group.gone, |_| false))
}

/// Whether a lookup that failed this way found nothing, so that a search goes on past it: no
/// entry, or a path through something that is no directory. Any other failure (no permission,
/// a loop of links) makes the compiler fail, so nothing that held before holds.
fn names_nothing(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_names_are_path_join_s() {
        for dir in ["/work/src", "/work/src/", "/", "", "rel/dir"] {
            let mut joined = Joined::new(Path::new(dir));
            for name in [
                "a.h",
                "sys/types.h",
                "/usr/include/stdio.h",
                "",
                "../up.h",
                ".",
            ] {
                assert_eq!(
                    joined.join(name.as_bytes()),
                    Path::new(dir).join(name),
                    "{dir:?} joined with {name:?}"
                );
            }
        }
    }

    #[test]
    fn only_no_entry_or_no_directory_names_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let failure = |path: &Path| std::fs::metadata(path).unwrap_err();
        assert!(names_nothing(&failure(&dir.path().join("missing"))));
        assert!(names_nothing(&failure(&file.join("below"))));
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        assert!(!names_nothing(&failure(&dir.path().join("loop"))));
    }
}
