//! The file side of rust direct mode, on the hasher's threads: checking a rust manifest's
//! records against the file system and the request's environment (`CheckRustManifest`), and,
//! after a compile, digesting the files its dep-info lists into the result's key inputs and
//! the record that will stand for it (`DigestDepInfo`).
//!
//! Invariant: a record is made only from files that last changed before the compile began
//! (`Started::settled_before`, git's "racily clean" rule) and that did not change while they
//! were read, so a later change always moves a stamp the record holds, and the digests are
//! those of the bytes rustc read. A check accepts a record only if every variable has its
//! recorded value, every file is the one recorded (same stamp, or same digest through the
//! `DigestMemo`), every module file that was absent still is, and every directory holding a
//! file read has the same names in it. What goes into keys is
//! decided in `hash_key`, not here.

use crate::file_stamp::FileStamp;
use crate::flow::read_since::Started;
use crate::hasher::Hasher;
use crate::manifest_files::Holding;
use actix::prelude::*;
use sccache_core::direct::rust::{
    env_holds, listing_digest, module_alternatives, parent_dirs, Listing, RustManifest,
    RustRecorded,
};
use sccache_core::direct::{ByteBuf, ReadFile};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Finds the newest record of `manifest` that holds for a compile in `cwd` with `env`. The
/// manifest comes back with the answer (a miss updates it).
#[derive(Message)]
#[rtype(result = "RustChecked")]
pub struct CheckRustManifest {
    pub manifest: RustManifest,
    pub cwd: PathBuf,
    pub env: Vec<(OsString, OsString)>,
}

/// What a check found, and the manifest it checked.
pub struct RustChecked {
    pub holding: Option<Holding>,
    pub manifest: RustManifest,
}

impl Handler<CheckRustManifest> for Hasher {
    type Result = MessageResult<CheckRustManifest>;

    fn handle(&mut self, message: CheckRustManifest, _: &mut SyncContext<Self>) -> Self::Result {
        let CheckRustManifest { manifest, cwd, env } = message;
        let holding = manifest
            .results
            .iter()
            .find(|recorded| env_holds(recorded, &env) && self.files_hold(recorded, &cwd))
            .map(|recorded| Holding {
                result: recorded.result,
                files: recorded
                    .files
                    .iter()
                    .map(|file| PathBuf::from(OsStr::from_bytes(&file.name)))
                    .collect(),
            });
        MessageResult(RustChecked { holding, manifest })
    }
}

impl Hasher {
    fn files_hold(&self, recorded: &RustRecorded, cwd: &Path) -> bool {
        let absent = recorded
            .absent
            .iter()
            .all(|name| std::fs::symlink_metadata(cwd.join(OsStr::from_bytes(name))).is_err());
        let listed = recorded.dirs.iter().all(|listing| {
            names_digest(&cwd.join(OsStr::from_bytes(&listing.dir))).ok() == Some(listing.names)
        });
        absent
            && listed
            && recorded.files.iter().all(|file| {
                let path = cwd.join(OsStr::from_bytes(&file.name));
                let Ok(metadata) = std::fs::metadata(&path) else {
                    return false;
                };
                FileStamp::of(&metadata).recorded() == file.stamp
                    || (metadata.is_file() && self.memo.digest(&path).ok() == Some(file.digest))
            })
    }
}

/// Why `DigestDepInfo` fails when a file changed after the compile began: the result is not
/// stored, as `read_since` would decide.
pub const CHANGED_DURING_COMPILE: &str = "file read changed during the compile";

/// Digests the files a finished compile's dep-info lists (`files`, as it names them, relative
/// ones from `cwd`), refusing any that changed since the compile began (`started`) or while
/// read. Answers each file's digest in order, with the record's files and absent module files
/// (its variables and result are the caller's to fill in); an error is the reason nothing is
/// stored.
#[derive(Message)]
#[rtype(result = "Result<DepInfoRead, &'static str>")]
pub struct DigestDepInfo {
    pub files: Vec<String>,
    pub cwd: PathBuf,
    pub started: Started,
}

/// The dep-info's files, digested and stamped: their digests for the result's key, and the
/// record, or why none can be made.
pub struct DepInfoRead {
    pub digests: Vec<[u8; 32]>,
    pub recorded: Result<RustRecorded, &'static str>,
}

impl Handler<DigestDepInfo> for Hasher {
    type Result = Result<DepInfoRead, &'static str>;

    fn handle(&mut self, message: DigestDepInfo, _: &mut SyncContext<Self>) -> Self::Result {
        let mut digests = Vec::with_capacity(message.files.len());
        let mut files = Vec::with_capacity(message.files.len());
        for name in &message.files {
            let path = message.cwd.join(name);
            let before = std::fs::metadata(&path).map_err(|_| "file read is gone")?;
            if !before.is_file() {
                return Err("read a file that is not regular");
            }
            if !message.started.settled_before(&before) {
                return Err(CHANGED_DURING_COMPILE);
            }
            let stamp = FileStamp::of(&before);
            let digest = self
                .memo
                .digest(&path)
                .map_err(|_| "file read is unreadable")?;
            if FileStamp::at(&path) != Some(stamp) {
                return Err(CHANGED_DURING_COMPILE);
            }
            digests.push(digest);
            files.push(ReadFile {
                name: name.as_bytes().to_vec(),
                stamp: stamp.recorded(),
                digest,
            });
        }
        let mut absent = Vec::new();
        let mut recorded = Ok(());
        for name in module_alternatives(&message.files) {
            if std::fs::symlink_metadata(message.cwd.join(&name)).is_ok() {
                // Both spellings of a module exist, yet rustc compiled (a `#[path]` module,
                // an `include!`d file): whether a new file would change anything is not
                // known. No record; the result is stored all the same.
                recorded = Err("module file beside its other spelling");
            }
            absent.push(ByteBuf::from(name.into_bytes()));
        }
        let mut dirs = Vec::new();
        for dir in parent_dirs(&message.files) {
            let path = message.cwd.join(&dir);
            let settled = std::fs::metadata(&path)
                .is_ok_and(|metadata| message.started.settled_before(&metadata));
            match names_digest(&path) {
                // A directory changed since the compile began may have been listed by a proc
                // macro before the change: its names now would not be the ones it saw.
                Ok(names) if settled => dirs.push(Listing {
                    dir: ByteBuf::from(dir.into_bytes()),
                    names,
                }),
                _ => recorded = Err("directory changed during the compile"),
            }
        }
        Ok(DepInfoRead {
            digests,
            recorded: recorded.map(|()| RustRecorded {
                files,
                env: Vec::new(),
                absent,
                dirs,
                result: [0; 32],
            }),
        })
    }
}

/// The digest of the names in the directory at `path` (`direct::rust::listing_digest`).
fn names_digest(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path)? {
        names.push(entry?.file_name().as_bytes().to_vec());
    }
    Ok(listing_digest(names))
}
