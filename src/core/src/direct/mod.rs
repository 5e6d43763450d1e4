//! Direct mode's manifests: what a C compile's preprocessor read (or, in `rust`, what a rustc
//! compile's dep-info listed), so that a later compile with the same command line, environment
//! and source can find its result without running any compiler process.
//!
//! A manifest is stored under `hash_key::manifest_key` as an ordinary `CacheEntry` (one file,
//! `manifest`), so it travels through every backend and keeps the entry format's own checks
//! (checksum, the key it was stored under). Its body is a versioned MessagePack `Manifest`:
//! up to `MAX_RESULTS` recorded results, newest first, each with every file the preprocessor
//! read (its stamp and digest) and every path that must still name no file (or no directory)
//! for the preprocessor to find the same files again (`probes`), grouped by directory with the
//! directory's stamp, which spares a hit looking at each name while the directory is unchanged.
//!
//! It decides nothing on its own about the file system: the server stats and digests, this
//! module holds the data, the search for what to probe (`probes.rs`) and the scan of the raw
//! files read for what makes a result unfit for direct mode (`scan.rs`).

pub mod depfile;
pub mod probes;
pub mod rust;
pub mod scan;

use crate::entry::{CacheEntry, EntryFile};
use crate::hash_key::CacheKey;
use serde::{Deserialize, Serialize};
/// Byte strings in a manifest (names as the file system spells them).
pub use serde_bytes::ByteBuf;

/// Changed whenever the manifest's meaning changes; a manifest of another version is a miss.
pub use crate::manifest_version::C as MANIFEST_VERSION;

/// How many results a manifest keeps (headers that flip between versions on branch
/// switches), newest first.
pub const MAX_RESULTS: usize = 8;

/// The name of the manifest's file in its entry.
const ENTRY_FILE: &str = "manifest";

/// What identifies a file's contents, as the server's `FileStamp` takes it (device, inode,
/// size, modification and status change times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub device: u64,
    pub inode: u64,
    pub size: u64,
    pub modified: (i64, i64),
    pub changed: (i64, i64),
}

/// A file the preprocessor read, as its line marker names it (relative names are relative to
/// the working directory, which is in the manifest key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadFile {
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    pub stamp: Stamp,
    pub digest: [u8; 32],
}

/// A candidate of an include search that was a file the preprocessor did not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Present {
    #[serde(with = "serde_bytes")]
    pub name: Vec<u8>,
    pub stamp: Stamp,
}

/// The candidates in one directory that must stay no file (or, for a missing subdirectory, no
/// directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirProbes {
    #[serde(with = "serde_bytes")]
    pub dir: Vec<u8>,
    /// The directory's stamp, when it last changed before the preprocessor began. While the
    /// directory has this stamp, none of its entries was created, removed or renamed since,
    /// so every name of `gone` still names nothing: they are not looked at.
    pub stamp: Option<Stamp>,
    /// Names that named nothing at all (candidate files, and the topmost missing directory of
    /// candidates further down). When the stamp differs, each must be neither a regular file
    /// nor a directory.
    pub gone: Vec<ByteBuf>,
    /// Names that named something other than a regular file (a directory, a symbolic link):
    /// checked on every hit, since a link's target can change without its directory.
    pub not_files: Vec<ByteBuf>,
}

/// One result stored under a manifest, with what must hold for it to be this compile's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub files: Vec<ReadFile>,
    /// Candidates that were no regular file when the result was recorded, by directory: a
    /// file there would have been found by an include search (shadowing, `__has_include`, a
    /// `.gch`). One group per directory.
    pub probes: Vec<DirProbes>,
    /// Candidate directories that were no directory and not simply missing (a file, a
    /// dangling link in their place): each must still be no directory.
    pub no_dir: Vec<ByteBuf>,
    /// Candidates that were files and were not read, by stamp: gcc skips a file identical to
    /// one read under `#pragma once` without naming it, so such a file must not change.
    pub present: Vec<Present>,
    /// Whether a file read says `#pragma once` or is `#import`ed: gcc then takes a file of the
    /// same size, modification second and bytes as one read for that file (and skips it), and
    /// clang a file of the same inode, so a file's stamp may matter beyond its bytes.
    pub once_only: bool,
    /// The key of the result.
    pub result: [u8; 32],
}

/// What a manifest's records have in common: the format version they are read with and the
/// key of their result.
pub trait Record {
    /// Changed whenever the record's meaning changes; a manifest of another version is a miss.
    const VERSION: u32;
    /// The key of the result this record stands for.
    fn result(&self) -> [u8; 32];
}

impl Recorded {
    /// The result key of a compile that ran without the preprocessor (direct mode's depend path,
    /// `flow::c`): its manifest key (compiler, driver, key arguments, environment, directory,
    /// source) and its record, stamps aside: every file read, by name and digest, in order, and
    /// what every include search and `__has_include` found besides (no file, no regular file, no
    /// directory, a file not read). Two compiles that agree on all of these read the same text
    /// through the same searches, so their preprocessed text, and so their outputs, are the same:
    /// the argument that makes a direct hit sound (docs/ARCHITECTURE.md, "Direct mode").
    pub fn depend_key(&self, manifest_key: &CacheKey) -> CacheKey {
        let mut key = crate::hash_key::KeyWriter::new("c depend result");
        key.field("format", &crate::manifest_version::C.to_le_bytes());
        key.field("manifest", &manifest_key.0);
        for file in &self.files {
            key.field("read", &file.name);
            key.field("digest", &file.digest);
        }
        for group in &self.probes {
            key.field("searched", &group.dir);
            for name in &group.gone {
                key.field("gone", name);
            }
            for name in &group.not_files {
                key.field("not a file", name);
            }
        }
        for dir in &self.no_dir {
            key.field("no directory", dir);
        }
        for present in &self.present {
            key.field("present", &present.name);
        }
        key.finish()
    }
}

impl Record for Recorded {
    const VERSION: u32 = MANIFEST_VERSION;
    fn result(&self) -> [u8; 32] {
        self.result
    }
}

/// A manifest's body: a C compile's (`Manifest`) or a rust compile's (`rust::RustManifest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records<R> {
    pub version: u32,
    pub results: Vec<R>,
}

impl<R> Default for Records<R> {
    fn default() -> Self {
        Records {
            version: 0,
            results: Vec::new(),
        }
    }
}

/// A C compile's manifest.
pub type Manifest = Records<Recorded>;

/// Why bytes are not a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the entry holds no manifest")]
    NoManifest,
    #[error("manifest of version {0}, this sccache reads version {1}")]
    OtherVersion(u32, u32),
    #[error("undecodable manifest: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
    #[error("unencodable manifest: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

impl<R: Record + Serialize + for<'de> Deserialize<'de>> Records<R> {
    /// Reads the manifest held by an entry fetched under a manifest key.
    pub fn from_entry(entry: &CacheEntry) -> Result<Records<R>, ManifestError> {
        let file = entry.file(ENTRY_FILE).ok_or(ManifestError::NoManifest)?;
        let manifest: Records<R> = rmp_serde::from_slice(&file.bytes())?;
        if manifest.version != R::VERSION {
            return Err(ManifestError::OtherVersion(manifest.version, R::VERSION));
        }
        Ok(manifest)
    }

    /// The entry that stores this manifest.
    pub fn to_entry(&self) -> Result<CacheEntry, ManifestError> {
        Ok(CacheEntry {
            files: vec![EntryFile {
                name: ENTRY_FILE.to_owned(),
                mode: None,
                data: rmp_serde::to_vec(self)?,
                external: None,
            }],
            ..CacheEntry::default()
        })
    }

    /// This manifest with `recorded` first; an older record of the same result is dropped, and
    /// only the newest `MAX_RESULTS` are kept.
    pub fn with(mut self, recorded: R) -> Records<R> {
        self.version = R::VERSION;
        self.results.retain(|old| old.result() != recorded.result());
        self.results.insert(0, recorded);
        self.results.truncate(MAX_RESULTS);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(result: u8) -> Recorded {
        Recorded {
            once_only: false,
            files: Vec::new(),
            probes: vec![DirProbes {
                dir: b"inc1".to_vec(),
                stamp: None,
                gone: vec![ByteBuf::from(b"conf.h".to_vec())],
                not_files: Vec::new(),
            }],
            no_dir: Vec::new(),
            present: Vec::new(),
            result: [result; 32],
        }
    }

    #[test]
    fn a_manifest_keeps_its_newest_results_first_and_round_trips() {
        let mut manifest = Manifest::default();
        for result in 0..(MAX_RESULTS as u8 + 3) {
            manifest = manifest.with(recorded(result));
        }
        manifest = manifest.with(recorded(5));
        assert_eq!(manifest.results.len(), MAX_RESULTS);
        assert_eq!(manifest.results[0].result, [5; 32]);
        assert_eq!(manifest.results[1].result, [MAX_RESULTS as u8 + 2; 32]);
        let entry = manifest.to_entry().unwrap();
        assert_eq!(Manifest::from_entry(&entry).unwrap(), manifest);
    }

    #[test]
    fn a_depend_key_takes_what_was_read_and_found_and_no_stamp() {
        let stamp = |inode| Stamp {
            device: 1,
            inode,
            size: 10,
            modified: (1, 0),
            changed: (1, 0),
        };
        let mut base = recorded(0);
        base.files.push(ReadFile {
            name: b"inc2/conf.h".to_vec(),
            stamp: stamp(7),
            digest: [1; 32],
        });
        let manifest_key = CacheKey([9; 32]);
        let key = base.depend_key(&manifest_key);
        let mut restamped = base.clone();
        restamped.files[0].stamp = stamp(8);
        restamped.probes[0].stamp = Some(stamp(3));
        restamped.result = [4; 32];
        assert_eq!(
            restamped.depend_key(&manifest_key),
            key,
            "stamps and result"
        );
        assert_ne!(base.depend_key(&CacheKey([8; 32])), key, "manifest key");
        let mut edited = base.clone();
        edited.files[0].digest = [2; 32];
        assert_ne!(edited.depend_key(&manifest_key), key, "contents");
        let mut renamed = base.clone();
        renamed.files[0].name = b"inc1/conf.h".to_vec();
        assert_ne!(renamed.depend_key(&manifest_key), key, "name");
        let mut found = base.clone();
        found.probes[0].gone.clear();
        assert_ne!(found.depend_key(&manifest_key), key, "a probe's outcome");
        let mut present = base.clone();
        present.present.push(Present {
            name: b"inc1/other.h".to_vec(),
            stamp: stamp(5),
        });
        assert_ne!(present.depend_key(&manifest_key), key, "a file present");
    }

    #[test]
    fn garbage_or_another_version_is_no_manifest() {
        let mut entry = Manifest::default().with(recorded(1)).to_entry().unwrap();
        entry.files[0].data.truncate(5);
        assert!(Manifest::from_entry(&entry).is_err());
        let other: Manifest = Records {
            version: MANIFEST_VERSION + 1,
            results: Vec::new(),
        };
        let entry = CacheEntry {
            files: vec![EntryFile {
                name: ENTRY_FILE.into(),
                mode: None,
                data: rmp_serde::to_vec(&other).unwrap(),
                external: None,
            }],
            ..CacheEntry::default()
        };
        assert!(matches!(
            Manifest::from_entry(&entry),
            Err(ManifestError::OtherVersion(..))
        ));
    }
}
